/* tests/engine/fake_executor.h - an executor that runs nothing (ninja's
 * FakeCommandRunner), for testing the scheduler without processes or clocks.
 *
 * It records every job the scheduler starts, in order, with the command,
 * environment and resources it was given, on a logical clock that ticks at
 * every start and every end: two jobs ran at once when their [started, ended]
 * intervals overlap. Jobs end only when the test says so, in steps taken from
 * a uv_idle handle on the scheduler's loop, so each step sees everything the
 * scheduler could start, and nothing calls back from inside start or cancel
 * (rule 2 of engine/executor.h). A step first ends the jobs the scheduler
 * canceled (as killed by SIGTERM, or SIGKILL when it asked for a kill), then,
 * if none was, calls the test's script, which ends one or more jobs with
 * fake_succeed / fake_fail / fake_kill (no script: the oldest running job
 * succeeds). A script may instead make something else happen (raise SIGINT);
 * one that leaves every job running for many steps aborts the test.
 *
 * Success does what `ikada exec` would: it stores one small object per output
 * port in the cache and reports them in a result frame, so the scheduler's
 * success path (log object, action record, ref) and the consumers' keys work
 * unchanged, and a second run finds everything cached. The fake also checks
 * the contract from its side: cancel on an ended job, or close with jobs
 * running, aborts. */
#ifndef IK_TESTS_ENGINE_FAKE_EXECUTOR_H
#define IK_TESTS_ENGINE_FAKE_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cache.h"
#include "engine/executor.h"

struct fake_job {
    struct ik_executor_task task; /* private: the handle the scheduler holds */
    char *node;
    char *key_hex;
    char **argv;      /* copies of what start was given */
    char **env;
    char *cuda;       /* CUDA_VISIBLE_DEVICES in env, or NULL */
    char *threads;    /* OPENBLAS_NUM_THREADS in env, or NULL */
    int cpu, gpu;
    unsigned started, ended; /* logical times; ended 0 while running */
    int running_at_start;    /* jobs running when it started, itself included */
    bool stop_requested, kill_requested;
};

struct fake_executor;
typedef void (*fake_script)(struct fake_executor *f, void *arg);

struct fake_executor {
    struct ik_executor base;        /* pass &f->base as ik_sched_opts.executor */
    struct ik_cache *cache;         /* where successes store their outputs */
    fake_script script;             /* public: NULL = the oldest running job succeeds */
    void *script_arg;
    int open_rc;                    /* public: nonzero makes open fail with it */
    struct fake_job **jobs;         /* read-only: every job started, in order, over all runs */
    size_t n_jobs;
    int running, max_running;       /* read-only */
    unsigned clock;                 /* read-only */
    struct ik_executor_host host;   /* private */
    uv_idle_t idle;
    unsigned idle_steps;
};

void fake_init(struct fake_executor *f, struct ik_cache *c);
void fake_free(struct fake_executor *f);

/* The job started for node `name` (the last one, over several runs), or NULL. */
struct fake_job *fake_job(const struct fake_executor *f, const char *name);
/* The running job that started first, or NULL. */
struct fake_job *fake_oldest_running(const struct fake_executor *f);
bool fake_overlap(const struct fake_job *a, const struct fake_job *b);

/* Frames from a running job, as the node would send them. */
void fake_progress(struct fake_executor *f, struct fake_job *j, uint64_t done, uint64_t total,
                   const char *unit);
void fake_counter(struct fake_executor *f, struct fake_job *j, const char *name, double value);

/* Ending a running job. ports: the output ports to store and report, NULL-
 * terminated (NULL: just "o"). message: an error frame, or NULL. log: what
 * the job printed, or NULL. */
void fake_succeed(struct fake_executor *f, struct fake_job *j, const char *const *ports,
                  const char *log);
void fake_fail(struct fake_executor *f, struct fake_job *j, int exit_status, const char *message,
               const char *log);
void fake_kill(struct fake_executor *f, struct fake_job *j, int sig);

#endif
