/* engine/sched_int.h - the scheduler's state, shared by sched.c (deciding
 * what runs) and sched_report.c (telling the user). How a job runs is the
 * executor's (engine/executor.h): a job holds only its task handle. */
#ifndef IK_ENGINE_SCHED_INT_H
#define IK_ENGINE_SCHED_INT_H

#include <uv.h>

#include "cache/srcmemo.h"
#include "base/clock.h"
#include "base/buf.h"
#include "engine/display.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/sched.h"

enum job_state {
    JOB_UNSELECTED,
    JOB_WAITING,  /* producers not done */
    JOB_READY,    /* key known, must run, waiting for resources or the key lock */
    JOB_RUNNING,
    JOB_DONE,     /* ran or cached */
    JOB_FAILED,
    JOB_SKIPPED,  /* a producer failed */
    JOB_CANCELED, /* interrupted */
};

struct ik_sched;

struct ik_job {
    struct ik_sched *s;
    size_t index;
    enum job_state state;
    bool cached;
    int lock_fd;
    int gpu;       /* device index held, or -1 */
    int cpu;       /* slots held while running */
    uint64_t mem;  /* `resources: mem` held while running */
    struct ik_executor_task *task; /* while running: until the executor's on_exit */
    int64_t exit_status;
    int term_signal;
    struct ik_action *result; /* filled from the node's result frame */
    char *error;              /* the node's error frame, or why it could not start */
    uint64_t done, total;
    char unit[32];
    struct ik_buf counters;   /* "name value" pairs for display */
    struct ik_action_counter *counter_values;
    size_t n_counters;
    int64_t start_ms, end_ms;
    int64_t last_plain_ms;    /* when a line last said this node lives (not live) */
    struct ik_buf err_line;   /* `run -v`: its stderr's line not yet complete */
    char where[64];           /* the executor's last on_state ("slurm job 8 PENDING") */
    bool has_log;
    struct ik_hash log; /* a failed run's log object, for the run record */
};

struct ik_sched {
    uv_loop_t loop;
    struct ik_graph *graph;
    struct ik_cache *cache;
    struct ik_srcmemo *memo;
    struct ik_plan plan;
    const struct ik_sched_opts *opts;
    struct ik_executor *ex;     /* opts->executor, or own_ex */
    struct ik_executor *own_ex; /* the local executor, when opts named none */
    struct ik_job *jobs;
    bool *selected;
    bool *forced;
    int cpu_free;
    uint64_t mem_total; /* memory the machine could give when the run began; 0: unknown */
    uint64_t mem_free;  /* mem_total less the `resources: mem` of the running nodes */
    int gpus;       /* devices; -1 until opts->count_gpus is asked (device_count) */
    bool *gpu_busy; /* gpus entries, allocated with the count */
    bool started_a_job;
    int n_running;
    bool failed;
    bool canceled;
    bool lock_waiting;
    unsigned ticks;
    bool quiet_cached; /* large graphs: no line per cached node */
    uv_signal_t sigint, sigterm;
    uv_timer_t tick;
    struct ik_display display;
    int64_t started_ms;
};

#endif
