// The worker pool of CWorkers.h. One job at a time: the caller publishes it
// by bumping `generation`; every pool thread notices (spinning, or woken
// from a futex wait on `generation`), and those the job needs run their part
// and count themselves off in `pending`. Threads are started on first use, up
// to the largest worker count asked for, and live as long as the process.
// With more threads than CPUs nobody spins: they would only take time from
// the threads doing the work.

#define _GNU_SOURCE
#include "CWorkers.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MAX_WORKERS = 64 };
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
    // The job of generation g is in jobs[g % 2], written before g is published. A thread that a
    // job does not need may read it late, while the next job is being written into the other slot.
    struct {
        _Atomic(bsn_workers_body) body;
        _Atomic(void *) context;
        _Atomic int workers;
    } jobs[2];
} pool;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

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

// Starts pool threads until there are `count`; returns 0 if one could not start.
static int start_threads(int count) {
    if (atomic_load_explicit(&pool.started, memory_order_acquire) >= count) return 1;
    pthread_mutex_lock(&start_lock);
    int ok = 1;
    while (ok && atomic_load(&pool.started) < count) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        // A new thread must not take the current generation for a job: it is told it.
        const unsigned long argument = (unsigned long)atomic_load(&pool.generation) << 8 | (unsigned long)(atomic_load(&pool.started) + 1);
        ok = pthread_create(&thread, &attributes, worker_main, (void *)argument) == 0;
        pthread_attr_destroy(&attributes);
        if (ok) atomic_fetch_add(&pool.started, 1);
    }
    atomic_store(&pool.spins, atomic_load(&pool.started) < usable_cpus());
    pthread_mutex_unlock(&start_lock);
    return ok;
}

int bsn_workers_run(int workers, bsn_workers_body body, void *context) {
    if (workers < 1 || workers > MAX_WORKERS) return 0;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &idle, 1)) return 0;
    if (!start_threads(workers - 1)) { atomic_store(&pool.busy, 0); return 0; }
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
