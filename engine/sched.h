/* engine/sched.h - running a graph: the libuv scheduler.
 *
 * The scheduler resolves each selected node when its producers are done
 * (engine/plan.h), reuses cached results, and has an executor run the rest
 * (engine/executor.h; by default as child processes, `ikada exec KEY`,
 * engine/exec.c), in parallel within the resource limits: `jobs` CPU slots
 * and `gpus` devices. A GPU node holds one device alone, given to it as
 * CUDA_VISIBLE_DEVICES. Before running a key it takes that key's lock
 * (cache/lock.h), so two concurrent runs on one cache never run the same key
 * twice: the second waits and then reuses the result.
 *
 * After a job exits 0 having reported its outputs, the scheduler stores its
 * captured stdout+stderr as a log object, writes the action record and moves
 * the node's ref. A failed, crashed or killed job leaves no action record, and
 * its consumers are skipped; with keep_going, independent branches go on.
 * SIGINT/SIGTERM stop the running jobs (the local executor: SIGTERM, then
 * SIGKILL after 3 s; a second signal kills at once) and end the run with 130;
 * finished nodes stay cached. Every run is recorded in runs/ (cache/runlog.h). */
#ifndef IK_ENGINE_SCHED_H
#define IK_ENGINE_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cache.h"
#include "engine/graph.h"

struct ik_executor;
struct ik_remote;

struct ik_sched_opts {
    int jobs;              /* CPU slots; <= 0 means the number of cores */
    int gpus;              /* devices available, when count_gpus is NULL */
    /* The devices are a remote executor's (Slurm's): a node's optional GPU
     * (graph.h, gpu_optional) is not requested there. */
    bool remote_gpus;
    /* When set, asked for the devices when the first GPU node is about to
     * run, instead of gpus: the CUDA runtime's device query starts the
     * driver, which a run of CPU nodes (or of cached ones) must not pay for.
     * cli/ passes ik_device_gpu_count. */
    int (*count_gpus)(void);
    /* When set, called once just before the first job starts, for work only
     * a run that starts jobs needs (cli/ passes ik_cpu_blas_pass_core, whose
     * setting the jobs inherit); a no-op run never calls it. */
    void (*before_first_job)(void);
    bool keep_going;
    bool dry_run;
    bool json;             /* print a JSON summary on stdout */
    bool live;             /* redraw progress lines in place (a TTY) */
    bool verbose;          /* stream running nodes' stderr lines, "NODE| line" */
    int heartbeat_s;       /* not live: a line per running node this often; 0: 30 s */
    char **targets;        /* run only these and what they need */
    size_t n_targets;
    char **force;          /* ignore the cache for these nodes */
    size_t n_force;
    bool force_all;
    const char *self_exe;  /* path of the ikada binary, for `ikada exec` */
    int argc;              /* the command line, for the run record */
    char **argv;
    /* What the command will exit with for an outcome code (0, IK_ENODE,
     * IK_ECANCELED), kept in the run record and the JSON summary; cli/ passes
     * ik_cli_exit_status. NULL: the outcome code itself is kept. */
    int (*exit_status)(int outcome);
    /* Runs the jobs (engine/executor.h), borrowed for the call; NULL: the
     * local executor, child processes of this one. Tests pass a fake. */
    struct ik_executor *executor;
    /* The remote cache (cache/remote.h), borrowed; NULL: local only. Looked
     * up on a local miss, pushed to after each node that ran. */
    struct ik_remote *remote;
};

/* Runs (or with dry_run, only plans) graph g. Returns 0 when every selected
 * node is done, IK_ENODE when a node failed (its message is in the report,
 * not in d), IK_ECANCELED when interrupted, or another negative code for bad
 * input (d filled, nothing run). */
int ik_sched_run(struct ik_graph *g, struct ik_cache *c, const struct ik_sched_opts *opts,
                 struct ik_diag *d);

#endif
