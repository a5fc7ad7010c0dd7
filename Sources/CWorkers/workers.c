// The worker pool of CWorkers.h. One job at a time: the caller publishes it
// by bumping `generation`; every pool thread notices (spinning, or woken
// from a futex wait on `generation`), and those the job needs run their part
// and count themselves off in `pending`. Threads are started on first use, up
// to the largest worker count asked for, and live as long as the process.
// With more threads than CPUs nobody spins: they would only take time from
// the threads doing the work.
//
// Under an address-space limit (ulimit -v) a thread costs address space: its
// stack, its malloc arena and, once it calls BLAS, the library's buffer
// (OpenBLAS maps a 128 MiB buffer for each call running at once, and retries
// for ever when it cannot). There every thread, the caller's too, is counted
// at that worst case: a thread that would not fit beside the others is not
// started, and the job is left to the caller to run alone. A new thread first
// runs the warm-up body (a BLAS call), and what the process grew by raises
// the count where a thread turns out to cost more.

#define _GNU_SOURCE
#include "CWorkers.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MAX_WORKERS = 64 };
// Address space kept free beside the threads, for everything else the process maps.
static const long MARGIN_BYTES = 64L << 20;
// How long a thread spins for the next job (or the caller for the last part) before sleeping.
static const long SPIN_NS = 100000;

static struct {
    _Atomic int busy;                  // a caller owns the pool
    _Atomic unsigned generation;       // bumped once per job
    _Atomic int pending;               // pool threads yet to finish this job
    _Atomic int caller_sleeps;         // the caller waits on `pending` in the kernel
    _Atomic int started;               // pool threads running (workers 1 ... started)
    _Atomic int sleepers;              // pool threads waiting for a job in the kernel
    _Atomic int spins;                 // threads and CPUs allow spinning
    _Atomic int warm;                  // new threads run the warm-up body first (an address-space limit exists)
    _Atomic int warmed;                // pool threads that have run it
    // The job of generation g is in jobs[g % 2], written before g is published. A thread that a
    // job does not need may read it late, while the next job is being written into the other slot.
    struct {
        _Atomic(bsn_workers_body) body;
        _Atomic(void *) context;
        _Atomic int workers;
    } jobs[2];
} pool;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(bsn_workers_body) warmup;
// The address space one more thread is counted to take (start_lock held): its stack, a malloc arena, a BLAS buffer.
static long thread_bytes = (8L + 64L + 128L) << 20;
// The process's size before the first pool thread started under a limit, or -1.
static long pool_base = -1;

static void futex_wait(_Atomic int *address, int value) {
    syscall(SYS_futex, (int *)address, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *address) {
    syscall(SYS_futex, (int *)address, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void relax(void) { __builtin_ia32_pause(); }

// Spins until *address != value, for at most SPIN_NS; returns 1 if it changed.
static int spin_while_equal(_Atomic int *address, int value) {
    if (!atomic_load_explicit(&pool.spins, memory_order_relaxed)) return atomic_load(address) != value;
    const long deadline = now_ns() + SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(address, memory_order_acquire) != value) return 1;
            relax();
        }
        if (now_ns() > deadline) return 0;
    }
}

// A pool thread: its worker number in the low byte of the argument, the
// generation current when it was started (not a job for it) above.
static void *worker_main(void *argument) {
    const int me = (int)((unsigned long)argument & 0xff);
    unsigned seen = (unsigned)((unsigned long)argument >> 8);
    _Atomic int *generation = (_Atomic int *)&pool.generation;
    if (atomic_load(&pool.warm)) {
        const bsn_workers_body body = atomic_load(&warmup);
        if (body) body(NULL, me);
        atomic_fetch_add(&pool.warmed, 1);
        futex_wake(&pool.warmed);
    }
    for (;;) {
        while ((unsigned)atomic_load_explicit(generation, memory_order_acquire) == seen) {
            if (spin_while_equal(generation, (int)seen)) break;
            atomic_fetch_add(&pool.sleepers, 1);
            futex_wait(generation, (int)seen);
            atomic_fetch_sub(&pool.sleepers, 1);
        }
        // The job of this generation, read consistently: its slot is written again only for
        // generation + 2, after generation + 1 is published, which the second load would see.
        // (A job that needs this thread cannot be replaced before the thread is done.)
        const unsigned current = atomic_load(&pool.generation);
        const int workers = atomic_load(&pool.jobs[current & 1].workers);
        const bsn_workers_body body = atomic_load(&pool.jobs[current & 1].body);
        void *const context = atomic_load(&pool.jobs[current & 1].context);
        if (atomic_load(&pool.generation) != current) continue;
        seen = current;
        if (me >= workers) continue;
        body(context, me);
        if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.caller_sleeps)) futex_wake(&pool.pending);
    }
    return NULL;
}

// CPUs this process may run on.
static int usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

// The soft address-space limit in bytes, or -1 when there is none.
static long address_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > LONG_MAX) return -1;
    return (long)limit.rlim_cur;
}

// This process's size (the address space it has mapped), in bytes.
static long process_bytes(void) {
    char text[64] = {0};
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    const ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    return n > 0 ? strtol(text, NULL, 10) * sysconf(_SC_PAGESIZE) : 0;
}

// Pool threads that fit under `limit` beside those started, the caller and Dispatch's threads (which run
// the jobs the pool cannot take), each counted at its worst (start_lock held).
static int threads_fitting(long limit) {
    const long now = process_bytes();
    if (pool_base < 0) pool_base = now;
    const long counted = pool_base + (atomic_load(&pool.started) + 1 + usable_cpus()) * thread_bytes;
    const long room = limit - MARGIN_BYTES - (now > counted ? now : counted);
    return room > 0 ? (int)(room / thread_bytes) : 0;
}

// Starts pool threads until there are `count`; returns 0 if one could not start.
static int start_threads(int count) {
    if (atomic_load_explicit(&pool.started, memory_order_acquire) >= count) return 1;
    pthread_mutex_lock(&start_lock);
    int ok = 1;
    const long limit = address_limit();
    atomic_store(&pool.warm, limit >= 0);
    while (ok && atomic_load(&pool.started) < count) {
        if (limit >= 0 && threads_fitting(limit) < 1) { ok = 0; break; }
        const long before = limit >= 0 ? process_bytes() : 0;
        const int warmed_after = atomic_load(&pool.warmed) + 1;
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        // A new thread must not take the current generation for a job: it is told it.
        const unsigned long argument = (unsigned long)atomic_load(&pool.generation) << 8 | (unsigned long)(atomic_load(&pool.started) + 1);
        ok = pthread_create(&thread, &attributes, worker_main, (void *)argument) == 0;
        pthread_attr_destroy(&attributes);
        if (ok) atomic_fetch_add(&pool.started, 1);
        if (ok && limit >= 0) {
            int warmed;
            while ((warmed = atomic_load(&pool.warmed)) < warmed_after) futex_wait(&pool.warmed, warmed);
            const long grown = process_bytes() - before;
            if (grown > thread_bytes) thread_bytes = grown;
        }
    }
    atomic_store(&pool.spins, atomic_load(&pool.started) < usable_cpus());
    pthread_mutex_unlock(&start_lock);
    return ok;
}

void bsn_workers_set_warmup(bsn_workers_body body) { atomic_store(&warmup, body); }

int bsn_workers_fitting(int workers) {
    const long limit = address_limit();
    if (limit < 0 || workers <= 1) return workers;
    pthread_mutex_lock(&start_lock);
    const int started = atomic_load(&pool.started), fit = 1 + started + threads_fitting(limit);
    pthread_mutex_unlock(&start_lock);
    return fit < workers ? fit : workers;
}

long bsn_workers_thread_bytes(void) {
    pthread_mutex_lock(&start_lock);
    const long bytes = thread_bytes;
    pthread_mutex_unlock(&start_lock);
    return bytes;
}

int bsn_workers_run(int workers, bsn_workers_body body, void *context) {
    if (workers < 1 || workers > MAX_WORKERS) return 0;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &idle, 1)) return 0;
    if (!start_threads(workers - 1)) { atomic_store(&pool.busy, 0); return -1; }
    const unsigned next = atomic_load(&pool.generation) + 1;     // only the pool's owner changes it
    atomic_store(&pool.jobs[next & 1].body, body);
    atomic_store(&pool.jobs[next & 1].context, context);
    atomic_store(&pool.jobs[next & 1].workers, workers);
    atomic_store(&pool.pending, workers - 1);
    atomic_store(&pool.caller_sleeps, 0);
    atomic_store(&pool.generation, next);
    if (atomic_load(&pool.sleepers) > 0) futex_wake((_Atomic int *)&pool.generation);
    body(context, 0);
    int left;
    while ((left = atomic_load_explicit(&pool.pending, memory_order_acquire)) != 0) {
        if (spin_while_equal(&pool.pending, left)) continue;
        atomic_store(&pool.caller_sleeps, 1);
        left = atomic_load(&pool.pending);
        if (left != 0) futex_wait(&pool.pending, left);
    }
    atomic_store(&pool.busy, 0);
    return 1;
}
