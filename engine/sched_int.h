/* engine/sched_int.h - the scheduler's state, shared by sched.c (deciding
 * what runs) and sched_child.c (one child process and its pipes). */
#ifndef IK_ENGINE_SCHED_INT_H
#define IK_ENGINE_SCHED_INT_H

#include <uv.h>
#include <msgpack.h>

#include "cache/srcmemo.h"
#include "base/clock.h"
#include "base/buf.h"
#include "engine/display.h"
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
    uv_process_t proc;
    uv_pipe_t out, err, prog;
    int open_handles;
    bool exited;
    int64_t exit_status;
    int term_signal;
    struct ik_buf log;
    bool log_truncated;
    msgpack_unpacker unpacker;
    struct ik_action *result; /* filled from the child's result frame */
    char *error;              /* the child's error frame, or why it could not start */
    uint64_t done, total;
    char unit[32];
    struct ik_buf counters;   /* "name value" pairs for display */
    struct ik_action_counter *counter_values;
    size_t n_counters;
    int64_t start_ms, end_ms, last_plain_ms;
};

struct ik_sched {
    uv_loop_t loop;
    struct ik_graph *graph;
    struct ik_cache *cache;
    struct ik_srcmemo *memo;
    struct ik_plan plan;
    const struct ik_sched_opts *opts;
    struct ik_job *jobs;
    bool *selected;
    bool *forced;
    int cpu_free;
    bool *gpu_busy;
    int n_running;
    bool failed;
    bool canceled;
    bool lock_waiting;
    unsigned ticks;
    bool quiet_cached; /* large graphs: no line per cached node */
    uv_signal_t sigint, sigterm;
    uv_timer_t tick, kill_timer;
    struct ik_display display;
    int64_t started_ms;
};

/* Starts job j's child process; on failure the job is marked failed. */
int ik__sched_spawn(struct ik_job *j);
/* Called when a child and all its pipes are closed. */
void ik__sched_job_finished(struct ik_job *j);

#endif
