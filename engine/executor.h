/* engine/executor.h - how the scheduler has a node run: the executor contract.
 *
 * The scheduler (engine/sched.c) decides what runs, when, and on which of its
 * resources; an executor runs it and reports back (ninja's CommandRunner).
 * The local executor (engine/executor_local.c, ik_executor_local_new) spawns
 * the job's command as a child process; tests use a fake that starts nothing
 * (tests/engine/fake_executor.h); the Slurm executor (engine/executor_slurm.c,
 * ik_executor_slurm_new) submits the same command as a batch job that runs on
 * a shared cache.
 *
 * A job is described by a command line, `ikada exec KEY --node NAME
 * [--file PORT=PATH]...` (cli/exec.c), plus the environment the scheduler
 * decides for it (IKADA_CACHE, CUDA_VISIBLE_DEVICES for the device it holds,
 * OPENBLAS_NUM_THREADS for its CPU slots) and those resources themselves, for
 * an executor that must ask a cluster for them. The command writes its
 * outputs to the cache and reports them as progress frames (engine/progress.h):
 * the local executor reads the frames from the child's fd 3; the Slurm one
 * has the job point fd 3 at a file (IKADA_PROGRESS_FILE) and feeds its bytes
 * to the same ik_progress_reader.
 * Either way the executor hands the scheduler decoded frames, never bytes.
 *
 * Rules of the contract, numbered as libuv numbers its handle rules:
 *  1. Everything happens on one thread, on the scheduler's uv loop given to
 *     open. An executor may add its own handles to that loop; it closes them
 *     all by the time its last on_exit has returned (tasks) or close returns.
 *  2. start never fails synchronously and never calls back from inside itself:
 *     a job that cannot be started still gets its on_exit, later, from the
 *     loop, with `error` saying why. cancel never calls back from inside
 *     itself either.
 *  3. For each started task: zero or more on_frame, then exactly one on_exit.
 *     The task handle is valid from start until on_exit returns; the executor
 *     frees it afterwards, so the scheduler must forget it in on_exit.
 *  4. The scheduler may call start again from inside a callback (a finished
 *     job frees resources for the next one).
 *  5. The scheduler owns an executor it was given (ik_sched_opts.executor)
 *     only for the duration of ik_sched_run: open, start/cancel, close. */
#ifndef IK_ENGINE_EXECUTOR_H
#define IK_ENGINE_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "base/diag.h"
#include "engine/progress.h"

/* What to run; borrowed for the call to start (an executor copies what it keeps). */
struct ik_executor_job {
    const char *node;    /* the node's name in its graph, for messages and job names */
    const char *key_hex; /* the spec object the command runs */
    char *const *argv;   /* NULL-terminated; argv[0] is the ikada binary */
    char *const *env;    /* NULL-terminated NAME=value, each replacing any inherited NAME */
    int cpu;             /* CPU slots the scheduler gave it (>= 1) */
    int gpu;             /* the device index it holds, or -1 */
};

/* One started job. Implementations embed it at the start of their own task. */
struct ik_executor_task {
    void *owner; /* read-only: the scheduler's pointer given to start, passed to the callbacks */
};

/* How the job ended, given to on_exit and valid during that call. */
struct ik_executor_exit {
    int64_t exit_status;  /* the exit code (127 when it could not be started) */
    int term_signal;      /* the signal that ended it, or 0 */
    const char *error;    /* why it could not be started, or NULL */
    struct ik_buf log;    /* its stdout+stderr, capped; the callee may append to it or take it */
    bool log_truncated;   /* output beyond the cap was dropped */
    int64_t end_ms;       /* when it ended, on ik_clock_monotonic_ms */
};

enum ik_executor_stop {
    IK_EXECUTOR_STOP, /* ask it to stop, and kill it if it has not after a grace period */
    IK_EXECUTOR_KILL, /* now */
};

/* The scheduler's side, given to open and valid until close. */
struct ik_executor_host {
    uv_loop_t *loop;
    /* A frame from the running job; the callee may take the frame's pointers
     * (setting them to NULL), the rest is freed when it returns. */
    void (*on_frame)(void *owner, struct ik_progress_frame *f);
    void (*on_exit)(void *owner, struct ik_executor_exit *e);
    /* Bytes the running job wrote to its stderr, as they arrive (chunks, not
     * lines), besides going to the log; NULL when nobody watches (`run -v`
     * sets it). An executor that only sees the log at the end may never call it. */
    void (*on_stderr)(void *owner, const char *data, size_t n);
    /* Where the job is, when that changes, for an executor that queues jobs
     * ("slurm job 812 PENDING", then "... RUNNING"); shown in the node's
     * progress lines. NULL: nobody listens. The local executor never calls it. */
    void (*on_state)(void *owner, const char *state);
};

struct ik_executor {
    /* Binds the executor to one run. 0, or a negative IK_E* code with d filled
     * when it cannot run anything (then nothing is started and close is not
     * called). */
    int (*open)(struct ik_executor *ex, const struct ik_executor_host *host, struct ik_diag *d);
    /* Starts a job on behalf of owner. Cannot fail (rule 2). */
    struct ik_executor_task *(*start)(struct ik_executor *ex, const struct ik_executor_job *job,
                                      void *owner);
    /* Stops a started task that has not had its on_exit; its on_exit follows. */
    void (*cancel)(struct ik_executor *ex, struct ik_executor_task *t, enum ik_executor_stop how);
    /* Ends the run once every task has had its on_exit; closes the executor's
     * loop handles. The executor may be opened again afterwards. */
    void (*close)(struct ik_executor *ex);
};

/* The executor that runs each job as a child process of this one, in its own
 * process group (see executor_local.c). Free with ik_executor_local_free
 * (accepts NULL). Cannot fail. */
struct ik_executor *ik_executor_local_new(void);
void ik_executor_local_free(struct ik_executor *ex);

/* The executor that submits each job to Slurm with sbatch and polls squeue
 * (see executor_slurm.c and docs/slurm.md): its job files go under
 * <cache_root>/slurm/, which the compute nodes must reach at the same path;
 * partition, account, time, extra flags and which nodes stay local come from
 * g's `executor:` block and nodes (engine/graph.h). g and cache_root must
 * outlive the executor. open fails when squeue cannot be run. Free with
 * ik_executor_slurm_free (accepts NULL). */
struct ik_graph;
struct ik_executor *ik_executor_slurm_new(const struct ik_graph *g, const char *cache_root);
void ik_executor_slurm_free(struct ik_executor *ex);

#endif
