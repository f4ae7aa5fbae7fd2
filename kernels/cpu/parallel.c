/* kernels/cpu/parallel.c - the thread pool behind ik_cpu_parallel_for (see
 * parallel.h): workers wait on a condition variable for a new generation of
 * work, run their range, and the last one to finish signals the caller. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels/cpu/parallel.h"

enum { MAX_THREADS = 64 };

static struct {
    pthread_once_t once;
    pthread_mutex_t busy; /* held by the caller running a loop on the pool */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int nthreads;         /* including the caller; 1: no pool */
    unsigned long gen;    /* bumped for each loop */
    int pending;          /* workers still running the current loop */
    ik_cpu_range_fn *fn;
    void *ctx;
    size_t n;
} pool = {PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
          PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0, 0, NULL, NULL, 0};

/* Range i of nthreads over [0, n). */
static void range(size_t n, int i, int nthreads, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)i / (size_t)nthreads;
    *hi = n * (size_t)(i + 1) / (size_t)nthreads;
}

static void *worker(void *arg)
{
    int id = (int)(size_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen)
            pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.gen;
        ik_cpu_range_fn *fn = pool.fn;
        void *ctx = pool.ctx;
        size_t lo, hi;
        range(pool.n, id, pool.nthreads, &lo, &hi);
        pthread_mutex_unlock(&pool.mu);
        if (lo < hi)
            fn(ctx, lo, hi);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* A forked child has no workers: its loops run on its one thread. */
static void after_fork_in_child(void) { pool.nthreads = 1; }

static void start(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("IKADA_THREADS");
    long from_env = env ? strtol(env, NULL, 10) : 0;
    if (from_env > 0)
        n = from_env;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    int started = 1;
    for (int i = 1; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(size_t)i) != 0)
            break; /* fewer threads: the ranges are cut for those that exist */
        pthread_detach(t);
        started++;
    }
    pool.nthreads = started;
}

void ik_cpu_parallel_for(size_t n, size_t work, ik_cpu_range_fn *fn, void *ctx)
{
    if (n == 0)
        return;
    if (work < IK_PAR_MIN_WORK || n == 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_once(&pool.once, start);
    if (pool.nthreads == 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.pending = pool.nthreads - 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    size_t lo, hi;
    range(n, 0, pool.nthreads, &lo, &hi);
    if (lo < hi)
        fn(ctx, lo, hi);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.busy);
}
