#ifndef BSN_CWORKERS_H
#define BSN_CWORKERS_H

// A pool of worker threads for the short parallel loops of a training step
// (a convolution's chunks, a batch norm's rows, an elementwise pass): a
// step makes hundreds of them, each a few tens of microseconds long, and
// waking a sleeping thread for each one costs about as much as the work.
// The pool's threads spin for a short while after each job before they
// sleep (as OpenMP runtimes do), so the next job starts within a microsecond.

/// A job's body: called once per worker with the caller's context.
typedef void (*bsn_workers_body)(void *context, int worker);

/// Runs body(context, w) for every w in 0..<workers, worker 0 on the calling
/// thread, the others on the pool's threads; returns 1 when all have returned.
/// Returns 0, having run nothing, when the pool is serving another caller
/// (another thread, or a call from inside a job) or `workers` is out of its
/// range (1 to 64): the caller then runs the job some other way. Returns -1,
/// having run nothing, when the threads it needs cannot start (they would not
/// fit in the address-space limit): the caller then runs the job alone.
int bsn_workers_run(int workers, bsn_workers_body body, void *context);

/// The body a new pool thread runs once (with a null context) before its
/// first job, where an address-space limit exists: a call that makes the
/// thread map what it will map anyway (the BLAS library's buffer).
void bsn_workers_set_warmup(bsn_workers_body body);

/// How many of `workers` the pool can run now: all of them, or fewer where
/// the threads still to start would not fit in the address-space limit.
int bsn_workers_fitting(int workers);

/// The address space one more thread is counted to take under a limit, in
/// bytes: its stack, a malloc arena and a BLAS buffer (200 MiB), or more where
/// a new thread was seen to take more.
long bsn_workers_thread_bytes(void);

#endif
