/* kernels/cpu/parallel.c - the thread pool behind ik_cpu_parallel_for (see
 * parallel.h): the caller publishes a loop and wakes the workers; it and they
 * claim chunks under the pool's mutex until none is left, and the caller
 * returns once every claimed chunk is done. A worker that wakes after the
 * last chunk was claimed finds nothing to do, and can never run a loop that
 * has returned: chunks are only claimed while the loop's count is short. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels/cpu/parallel.h"

enum { MAX_THREADS = 64, CHUNKS_PER_THREAD = 4 };

static struct {
    pthread_once_t once;
    pthread_mutex_t busy; /* held by the caller running a loop on the pool */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int nthreads;         /* including the caller; 1: no pool */
    ik_cpu_range_fn *fn;  /* the current loop, valid while next < n */
    void *ctx;
    size_t n, chunk;
    size_t next;          /* first unclaimed iteration */
    size_t finished;      /* iterations of chunks run to the end */
} pool = {PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
          PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, NULL, NULL, 0, 1, 0, 0};

/* With pool.mu held: claims the next chunk of the current loop, or returns 0. */
static int claim(ik_cpu_range_fn **fn, void **ctx, size_t *lo, size_t *hi)
{
    if (pool.next >= pool.n)
        return 0;
    *fn = pool.fn;
    *ctx = pool.ctx;
    *lo = pool.next;
    *hi = pool.n - pool.next < pool.chunk ? pool.n : pool.next + pool.chunk;
    pool.next = *hi;
    return 1;
}

/* With pool.mu held: runs chunks (unlocked) until none is left. */
static void run_chunks(void)
{
    ik_cpu_range_fn *fn;
    void *ctx;
    size_t lo, hi;
    while (claim(&fn, &ctx, &lo, &hi)) {
        pthread_mutex_unlock(&pool.mu);
        fn(ctx, lo, hi);
        pthread_mutex_lock(&pool.mu);
        pool.finished += hi - lo;
        if (pool.finished == pool.n)
            pthread_cond_signal(&pool.done);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.next >= pool.n)
            pthread_cond_wait(&pool.go, &pool.mu);
        run_chunks();
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
        if (pthread_create(&t, NULL, worker, NULL) != 0)
            break; /* fewer threads: the loops are shared by those that exist */
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
    size_t chunks = (size_t)pool.nthreads * CHUNKS_PER_THREAD;
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = (n + chunks - 1) / chunks;
    pool.next = 0;
    pool.finished = 0;
    pthread_cond_broadcast(&pool.go);
    run_chunks();
    while (pool.finished < pool.n)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.busy);
}
