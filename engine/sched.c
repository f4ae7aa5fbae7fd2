/* engine/sched.c - deciding what runs when (see sched.h for the contract). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cache/cas.h"
#include "cache/lock.h"
#include "cache/refs.h"
#include "engine/executor.h"
#include "engine/sched_int.h"
#include "engine/sched_report.h"
#include "base/sysmem.h"
#include "base/xmalloc.h"

static void pump(struct ik_sched *s);

static const char *node_name(const struct ik_sched *s, size_t i) { return s->graph->nodes[i].name; }

/* Points the node's ref at its key, in memory; saved by save_refs. */
static void update_ref(struct ik_sched *s, size_t i)
{
    struct ik_refset *refs = ik_plan_refs(&s->plan);
    if (refs == NULL)
        return;
    ik_refset_set(refs, node_name(s, i), &s->plan.entries[i].key);
    if (s->plan.entries[i].action)
        ik_refset_set_outputs(refs, node_name(s, i), s->plan.entries[i].action);
}

/* Writes the refs if they changed: every few seconds while running (so a
 * crash loses little) and at the end. */
static void save_refs(struct ik_sched *s)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (s->plan.refs && ik_refset_save(s->cache, s->plan.refs, &d) < 0)
        ik_display_event(&s->display, "ikada: warning: %s", ik_diag_message(&d));
    ik_diag_free(&d);
}

static void fail_job(struct ik_sched *s, size_t i, const char *why)
{
    struct ik_job *j = &s->jobs[i];
    j->state = JOB_FAILED;
    if (why && j->error == NULL)
        j->error = ik_xstrdup(why);
    s->failed = true;
    const char *msg = j->error ? j->error : "";
    if (strncmp(msg, "error: ", 7) == 0)
        msg += 7;
    ik_display_event(&s->display, "%s: FAILED: %s", node_name(s, i), msg);
}

/* WAITING -> DONE (cached), READY, SKIPPED or FAILED, once producers are settled. */
static bool advance_waiting(struct ik_sched *s, size_t i)
{
    const struct ik_graph_node *n = &s->graph->nodes[i];
    for (size_t k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k].source != IK_INPUT_NODE)
            continue;
        enum job_state ps = s->jobs[n->inputs[k].node].state;
        if (ps == JOB_FAILED || ps == JOB_SKIPPED || ps == JOB_CANCELED) {
            s->jobs[i].state = ps == JOB_CANCELED ? JOB_CANCELED : JOB_SKIPPED;
            return true;
        }
        if (ps != JOB_DONE)
            return false;
    }
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_plan_resolve(&s->plan, i, s->forced[i], &d) < 0) {
        fail_job(s, i, ik_diag_message(&d));
        ik_diag_free(&d);
        return true;
    }
    if (s->plan.entries[i].state == IK_PLAN_CACHED) {
        s->jobs[i].state = JOB_DONE;
        s->jobs[i].cached = true;
        update_ref(s, i);
        if (!s->opts->json && !s->quiet_cached)
            ik_display_event(&s->display, "%s: cached%s", n->name,
                             s->plan.entries[i].from_remote ? " (downloaded from the remote cache)"
                                                            : "");
    } else {
        s->jobs[i].state = JOB_READY;
    }
    return true;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* `ikada exec KEY --node NAME [--file|--glob PORT=PATH]...` (cli/exec.c). */
static char **job_argv(const struct ik_sched *s, size_t i, const char *key_hex)
{
    const struct ik_graph_node *n = &s->graph->nodes[i];
    char **args = ik_xcalloc(6 + 2 * n->n_inputs, sizeof *args);
    size_t k = 0;
    args[k++] = ik_xstrdup(s->opts->self_exe);
    args[k++] = ik_xstrdup("exec");
    args[k++] = ik_xstrdup(key_hex);
    args[k++] = ik_xstrdup("--node");
    args[k++] = ik_xstrdup(n->name);
    for (size_t f = 0; f < n->n_inputs; f++)
        if (n->inputs[f].source == IK_INPUT_FILE) {
            args[k++] = ik_xstrdup(n->inputs[f].glob ? "--glob" : "--file");
            args[k++] = ik_xasprintf("%s=%s", n->inputs[f].port, n->inputs[f].abs_path);
        }
    return args;
}

/* What the job's environment must say, over the inherited one: the cache, the
 * graph file's folder (paths in params are relative to it, as file: inputs), the
 * GPU it holds (none: ""), and as many compute threads as the CPU slots it
 * holds, so a node given 1 slot does not spread over every core. A user's own
 * OPENBLAS_NUM_THREADS is kept. */
static char **job_env(const struct ik_sched *s, const struct ik_job *j)
{
    char **env = ik_xcalloc(6, sizeof *env);
    size_t k = 0;
    env[k++] = ik_xasprintf("IKADA_CACHE=%s", s->cache->root);
    env[k++] = ik_xasprintf("IKADA_GRAPH_DIR=%s", s->graph->dir ? s->graph->dir : ".");
    env[k++] = j->gpu >= 0 ? ik_xasprintf("CUDA_VISIBLE_DEVICES=%d", j->gpu)
                           : ik_xstrdup("CUDA_VISIBLE_DEVICES=");
    if (getenv("OPENBLAS_NUM_THREADS") == NULL)
        env[k++] = ik_xasprintf("OPENBLAS_NUM_THREADS=%d", j->cpu);
    if (getenv("IKADA_THREADS") == NULL) /* kernels/cpu/parallel.c's pool */
        env[k++] = ik_xasprintf("IKADA_THREADS=%d", j->cpu);
    return env;
}

/* Hands the job, resources taken, to the executor. */
static void start_job(struct ik_sched *s, struct ik_job *j)
{
    if (!s->started_a_job && s->opts->before_first_job)
        s->opts->before_first_job();
    s->started_a_job = true;
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&s->plan.entries[j->index].key, hex);
    char **argv = job_argv(s, j->index, hex), **env = job_env(s, j);
    struct ik_executor_job job = {node_name(s, j->index), hex, argv, env, j->cpu, j->gpu};
    j->start_ms = ik_clock_monotonic_ms();
    j->task = s->ex->start(s->ex, &job, j);
    free_strv(argv);
    free_strv(env);
}

/* A `resources: cpu` the run can never give: more than the machine's cores
 * and the run's slots (-j may exceed the cores on purpose). */
static int check_cpu(struct ik_sched *s, struct ik_diag *d)
{
    const struct ik_graph *g = s->graph;
    int most = ik_cores() > s->opts->jobs ? ik_cores() : s->opts->jobs;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct ik_graph_node *n = &g->nodes[i];
        if (!s->selected[i] || n->cpu_loc.line == 0 || n->cpu <= most)
            continue;
        ik_diag_at(d, IK_EVALIDATE, &n->cpu_loc, g->text, g->text_len,
                   "resource 'cpu' of node '%s' is %d, but this machine has %d cores (and the run "
                   "%d slots)", n->name, n->cpu, ik_cores(), s->opts->jobs);
        ik_diag_hint(d, "ask for at most %d", most);
        return IK_EVALIDATE;
    }
    return 0;
}

/* The run's devices, asked of opts->count_gpus the first time a GPU node
 * needs them (sched.h). */
static int device_count(struct ik_sched *s)
{
    if (s->gpus < 0) {
        int n = s->opts->count_gpus();
        s->gpus = n > 0 ? n : 0;
        s->gpu_busy = ik_xcalloc((size_t)s->gpus + 1, sizeof *s->gpu_busy);
    }
    return s->gpus;
}

/* Takes resources and the key lock, then starts. Returns false when the job
 * must wait (no slot, no device, key locked by another run). */
static bool try_start(struct ik_sched *s, size_t i)
{
    struct ik_job *j = &s->jobs[i];
    const struct ik_graph_node *n = &s->graph->nodes[i];
    int cpu = n->cpu < 1 ? 1 : (n->cpu > s->opts->jobs ? s->opts->jobs : n->cpu);
    if (cpu > s->cpu_free)
        return false;
    /* This machine's memory bounds only the nodes it runs itself: with another
     * executor (Slurm) the cluster enforces `mem` (sbatch --mem). */
    bool here = s->ex == s->own_ex || n->run_local;
    if (here && s->mem_total > 0 && n->mem > s->mem_total) {
        char *why = ik_xasprintf("resources: mem asks for %.2f GiB, but the machine had %.2f GiB "
                                 "available when the run began", (double)n->mem / (1 << 30),
                                 (double)s->mem_total / (1 << 30));
        fail_job(s, i, why);
        free(why);
        return true;
    }
    /* Declared memory is reserved like CPU slots: a node that would overcommit
     * the machine waits for running ones to finish. */
    if (here && s->mem_total > 0 && n->mem > s->mem_free)
        return false;
    int gpu = -1;
    if (n->gpu > 0 && device_count(s) == 0 && !n->type->gpu_falls_back_to_cpu) {
        fail_job(s, i, "this node needs a GPU and none was found (see `ikada version`); "
                       "run it on a machine with a CUDA GPU");
        return true;
    }
    if (n->gpu > 0 && s->gpus > 0 && !(n->gpu_optional && s->opts->remote_gpus)) {
        for (int g = 0; g < s->gpus && gpu < 0; g++)
            if (!s->gpu_busy[g])
                gpu = g;
        if (gpu < 0)
            return false;
    }
    struct ik_diag d = IK_DIAG_INIT;
    int fd = ik_lock_key(s->cache, &s->plan.entries[i].key, false, &d);
    ik_diag_free(&d);
    if (fd < 0) {
        s->lock_waiting = true; /* another run holds it: look again on the next tick */
        return false;
    }
    /* The other run may have finished this key while we waited. */
    if (ik_plan_resolve(&s->plan, i, s->forced[i], &d) == 0 &&
        s->plan.entries[i].state == IK_PLAN_CACHED) {
        ik_unlock(fd);
        j->state = JOB_DONE;
        j->cached = true;
        update_ref(s, i);
        if (!s->opts->json)
            ik_display_event(&s->display, "%s: cached (computed by a concurrent run)", n->name);
        return true;
    }
    ik_diag_free(&d);
    /* `ikada exec KEY` reads what to run from the spec object named KEY. */
    struct ik_hash spec_hash;
    struct ik_plan_entry *e = &s->plan.entries[i];
    if (ik_cas_put(s->cache, e->spec, e->spec_len, &spec_hash, &d) < 0) {
        ik_unlock(fd);
        fail_job(s, i, ik_diag_message(&d));
        ik_diag_free(&d);
        return true;
    }
    j->lock_fd = fd;
    j->cpu = cpu;
    j->gpu = gpu;
    s->cpu_free -= cpu;
    j->mem = here && s->mem_total > 0 ? n->mem : 0;
    s->mem_free -= j->mem;
    if (gpu >= 0)
        s->gpu_busy[gpu] = true;
    j->state = JOB_RUNNING;
    s->n_running++;
    if (!s->opts->json)
        ik_display_event(&s->display, "%s: running (%s)", n->name, s->plan.entries[i].reason);
    start_job(s, j);
    return true;
}

static bool anything_left(const struct ik_sched *s)
{
    for (size_t i = 0; i < s->graph->n_nodes; i++)
        if (s->jobs[i].state == JOB_WAITING || s->jobs[i].state == JOB_READY ||
            s->jobs[i].state == JOB_RUNNING)
            return true;
    return false;
}

static void stop_loop(struct ik_sched *s)
{
    uv_signal_stop(&s->sigint);
    uv_signal_stop(&s->sigterm);
    uv_timer_stop(&s->tick);
    ik_display_clear(&s->display);
    /* With its timer and signal watchers stopped and every job ended (the
     * executor's handles closed, rule 1 of executor.h), the loop has nothing
     * left and uv_run returns by itself. */
}

/* Marks every not-yet-started job as `state` (after a failure or Ctrl-C). */
static void drop_pending(struct ik_sched *s, enum job_state state)
{
    for (size_t i = 0; i < s->graph->n_nodes; i++)
        if (s->jobs[i].state == JOB_WAITING || s->jobs[i].state == JOB_READY)
            s->jobs[i].state = state;
}

static void pump(struct ik_sched *s)
{
    const struct ik_graph *g = s->graph;
    bool stop_new = s->canceled || (s->failed && !s->opts->keep_going);
    if (stop_new)
        drop_pending(s, s->canceled ? JOB_CANCELED : JOB_SKIPPED);
    for (bool changed = true; changed && !stop_new;) {
        changed = false;
        for (size_t k = 0; k < g->n_nodes; k++) {
            size_t i = g->topo[k];
            if (s->jobs[i].state == JOB_WAITING && advance_waiting(s, i))
                changed = true;
        }
        s->lock_waiting = false;
        for (size_t k = 0; k < g->n_nodes; k++) {
            size_t i = g->topo[k];
            if (s->jobs[i].state == JOB_READY && try_start(s, i) && s->jobs[i].state != JOB_RUNNING)
                changed = true;
        }
        stop_new = s->failed && !s->opts->keep_going;
        if (stop_new)
            drop_pending(s, JOB_SKIPPED);
    }
    if (!anything_left(s))
        stop_loop(s);
}

static void describe_exit(struct ik_job *j, struct ik_buf *b)
{
    if (j->error)
        ik_buf_puts(b, j->error);
    else if (j->term_signal)
        ik_buf_printf(b, "killed by signal %d (%s)", j->term_signal, strsignal(j->term_signal));
    else if (j->exit_status != 0)
        ik_buf_printf(b, "exited with status %lld", (long long)j->exit_status);
    else
        ik_buf_puts(b, "exited without reporting its outputs");
}

/* Uploads a result that just ran to the remote cache, if there is one. The
 * local record is already written, so a failed upload only costs other
 * machines a re-run: a warning, never a failed node. */
static void push_remote(struct ik_sched *s, const struct ik_action *a)
{
    struct ik_plan *p = &s->plan;
    if (p->remote == NULL)
        return;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_remote_push(p->remote, s->cache, a, &d);
    if (rc == IK_EHTTP && !p->remote_warned) {
        ik_display_event(&s->display, "ikada: warning: remote cache unavailable for this run "
                         "(%s); going on with the local cache only",
                         ik_remote_down_reason(p->remote));
        p->remote_warned = true;
    } else if (rc != 0 && rc != IK_EHTTP) {
        const char *msg = ik_diag_message(&d);
        msg += strncmp(msg, "error: ", 7) == 0 ? 7 : 0;
        ik_display_event(&s->display, "ikada: warning: %s: not uploaded to the remote cache: %s",
                         a->node, msg);
    }
    ik_diag_free(&d);
}

/* Stores the log, writes the action record, moves the ref. */
static int record_success(struct ik_sched *s, struct ik_job *j, struct ik_executor_exit *end,
                          struct ik_diag *d)
{
    struct ik_plan_entry *e = &s->plan.entries[j->index];
    struct ik_action *a = j->result;
    j->result = NULL;
    a->key = e->key;
    a->type = ik_xstrdup(s->graph->nodes[j->index].type->name);
    a->version = s->graph->nodes[j->index].type->version;
    a->node = ik_xstrdup(node_name(s, j->index));
    a->started_ms = ik_clock_wall_ms() - (ik_clock_monotonic_ms() - j->start_ms);
    a->duration_ms = j->end_ms - j->start_ms;
    a->counters = j->counter_values;
    a->n_counters = j->n_counters;
    j->counter_values = NULL;
    j->n_counters = 0;
    if (end->log_truncated)
        ik_buf_puts(&end->log, "\n[ikada: log truncated]\n");
    int rc = ik_cas_put(s->cache, end->log.data ? end->log.data : "", end->log.len, &a->log, d);
    a->has_log = rc == 0;
    if (rc == 0)
        rc = ik_action_put(s->cache, a, d);
    if (rc < 0) {
        ik_action_free(a);
        return rc;
    }
    ik_plan_set_action(&s->plan, j->index, a);
    update_ref(s, j->index);
    push_remote(s, a);
    return 0;
}

/* A job ended: record it, free its resources, go on. */
static void job_finished(struct ik_sched *s, struct ik_job *j, struct ik_executor_exit *end)
{
    s->n_running--;
    s->cpu_free += j->cpu;
    s->mem_free += j->mem;
    if (j->gpu >= 0)
        s->gpu_busy[j->gpu] = false;
    const char *name = node_name(s, j->index);
    double secs = (double)(j->end_ms - j->start_ms) / 1000.0;
    if (j->exit_status == 0 && j->term_signal == 0 && j->result != NULL) {
        struct ik_diag d = IK_DIAG_INIT;
        if (record_success(s, j, end, &d) == 0) {
            j->state = JOB_DONE;
            if (!s->opts->json)
                ik_display_event(&s->display, "%s: done in %.2f s", name, secs);
        } else {
            fail_job(s, j->index, ik_diag_message(&d));
        }
        ik_diag_free(&d);
    } else if (s->canceled) {
        j->state = JOB_CANCELED;
        ik_display_event(&s->display, "%s: stopped", name);
    } else {
        struct ik_buf why = IK_BUF_INIT;
        describe_exit(j, &why);
        free(j->error);
        j->error = ik_buf_steal(&why);
        fail_job(s, j->index, NULL);
        ik__sched_show_log_tail(s, j, &end->log);
    }
    ik_unlock(j->lock_fd);
    j->lock_fd = -1;
    pump(s);
}

/* A streamed line longer than this is shown in pieces: a node writing
 * without newlines (a progress bar of its own) still shows up. */
#define STREAM_LINE_MAX 4096

/* `run -v`: prints the complete lines of the job's stderr (with flush, the
 * rest too), each prefixed by its node so concurrent nodes stay apart. */
static void stream_lines(struct ik_sched *s, struct ik_job *j, bool flush)
{
    struct ik_buf *b = &j->err_line;
    size_t start = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] == '\n' || i - start >= STREAM_LINE_MAX || (flush && i + 1 == b->len)) {
            size_t end = b->data[i] == '\n' ? i : i + 1;
            ik_display_event(&s->display, "%s| %.*s", node_name(s, j->index), (int)(end - start),
                             b->data + start);
            start = i + 1;
        }
    if (start == 0)
        return;
    j->last_plain_ms = ik_clock_monotonic_ms();
    memmove(b->data, b->data + start, b->len - start);
    b->len -= start;
}

/* The executor's on_stderr (set only with opts->verbose). */
static void on_job_stderr(void *owner, const char *data, size_t n)
{
    struct ik_job *j = owner;
    ik_buf_append(&j->err_line, data, n);
    stream_lines(j->s, j, false);
}

/* The executor's on_state: a queued job's state, as an event line and in
 * the node's live line. */
static void on_job_state(void *owner, const char *state)
{
    struct ik_job *j = owner;
    snprintf(j->where, sizeof j->where, "%s", state);
    ik_display_event(&j->s->display, "%s: %s", node_name(j->s, j->index), state);
}

static void set_counter(struct ik_job *j, const char *name, double value)
{
    for (size_t i = 0; i < j->n_counters; i++)
        if (strcmp(j->counter_values[i].name, name) == 0) {
            j->counter_values[i].value = value;
            return;
        }
    j->counter_values = ik_xrealloc(j->counter_values, (j->n_counters + 1) * sizeof *j->counter_values);
    j->counter_values[j->n_counters].name = ik_xstrdup(name);
    j->counter_values[j->n_counters++].value = value;
}

/* The executor's on_frame: what a running node reports. */
static void on_job_frame(void *owner, struct ik_progress_frame *f)
{
    struct ik_job *j = owner;
    switch (f->type) {
    case IK_PROGRESS_PROGRESS:
        if (f->has_done)
            j->done = f->done;
        if (f->has_total)
            j->total = f->total;
        snprintf(j->unit, sizeof j->unit, "%s", f->unit);
        break;
    case IK_PROGRESS_COUNTER:
        set_counter(j, f->name, f->value);
        break;
    case IK_PROGRESS_RESULT:
        ik_action_free(j->result);
        j->result = f->result;
        f->result = NULL;
        break;
    case IK_PROGRESS_ERROR:
        free(j->error);
        j->error = f->message;
        f->message = NULL;
        break;
    }
}

/* The executor's on_exit. The log is stored or shown, then dropped with the
 * task: a big graph must not keep every log. */
static void on_job_exit(void *owner, struct ik_executor_exit *e)
{
    struct ik_job *j = owner;
    j->task = NULL;
    stream_lines(j->s, j, true);
    j->exit_status = e->exit_status;
    j->term_signal = e->term_signal;
    j->end_ms = e->end_ms;
    if (e->error) {
        free(j->error);
        j->error = ik_xstrdup(e->error);
    }
    job_finished(j->s, j, e);
}

static void stop_running(struct ik_sched *s, enum ik_executor_stop how)
{
    for (size_t i = 0; i < s->graph->n_nodes; i++)
        if (s->jobs[i].state == JOB_RUNNING && s->jobs[i].task != NULL)
            s->ex->cancel(s->ex, s->jobs[i].task, how);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct ik_sched *s = h->data;
    if (s->canceled) {
        stop_running(s, IK_EXECUTOR_KILL); /* a second Ctrl-C: do not wait */
        return;
    }
    s->canceled = true;
    ik_display_event(&s->display, "ikada: %s: stopping running nodes (finished ones stay cached)",
                     signum == SIGINT ? "interrupted" : "terminated");
    stop_running(s, IK_EXECUTOR_STOP);
    pump(s);
}

/* Not on a TTY (CI logs): a line for each running node that said nothing
 * for a heartbeat, so a long quiet step does not look hung (and a CI runner
 * that kills a silent job keeps it). */
static void heartbeat(struct ik_sched *s)
{
    int64_t now = ik_clock_monotonic_ms();
    int64_t every_ms = 1000LL * (s->opts->heartbeat_s > 0 ? s->opts->heartbeat_s : 30);
    for (size_t i = 0; i < s->graph->n_nodes; i++) {
        struct ik_job *j = &s->jobs[i];
        int64_t last = j->last_plain_ms > j->start_ms ? j->last_plain_ms : j->start_ms;
        if (j->state != JOB_RUNNING || now - last < every_ms)
            continue;
        j->last_plain_ms = now;
        int secs = (int)((now - j->start_ms) / 1000);
        if (j->total > 0)
            ik_display_event(&s->display, "%s: still running, %dm%02ds, %llu/%llu %s",
                             node_name(s, i), secs / 60, secs % 60, (unsigned long long)j->done,
                             (unsigned long long)j->total, j->unit);
        else
            ik_display_event(&s->display, "%s: still running, %dm%02ds", node_name(s, i),
                             secs / 60, secs % 60);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct ik_sched *s = t->data;
    if (s->lock_waiting)
        pump(s);
    if (++s->ticks % 20 == 0)
        save_refs(s);
    ik__sched_show_progress(s);
    if (!s->display.live && !s->opts->json)
        heartbeat(s);
}

static int setup(struct ik_sched *s, struct ik_graph *g, struct ik_cache *c,
                 const struct ik_sched_opts *opts, struct ik_diag *d)
{
    memset(s, 0, sizeof *s);
    s->graph = g;
    s->cache = c;
    s->opts = opts;
    s->started_ms = ik_clock_wall_ms();
    s->ex = opts->executor;
    if (s->ex == NULL)
        s->ex = s->own_ex = ik_executor_local_new();
    int rc = ik_srcmemo_open(c, &s->memo, d);
    if (rc < 0)
        return rc;
    ik_plan_init(&s->plan, g, c, s->memo);
    s->plan.remote = opts->remote;
    s->jobs = ik_xcalloc(g->n_nodes + 1, sizeof *s->jobs);
    s->selected = ik_xcalloc(g->n_nodes + 1, sizeof *s->selected);
    s->forced = ik_xcalloc(g->n_nodes + 1, sizeof *s->forced);
    s->gpus = opts->count_gpus ? -1 : opts->gpus;
    if (s->gpus >= 0)
        s->gpu_busy = ik_xcalloc((size_t)s->gpus + 1, sizeof *s->gpu_busy);
    s->cpu_free = opts->jobs;
    s->mem_total = s->mem_free = ik_mem_available();
    rc = ik_plan_select(g, opts->targets, opts->n_targets, s->selected, d);
    for (size_t f = 0; rc == 0 && f < opts->n_force; f++) {
        long idx = ik_graph_find(g, opts->force[f]);
        if (idx < 0)
            rc = ik_diag_set(d, IK_EUSAGE, "--force: no node '%s' in %s", opts->force[f], g->path);
        else
            s->forced[idx] = true;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        s->forced[i] = s->forced[i] || opts->force_all;
        s->jobs[i].s = s;
        s->jobs[i].index = i;
        s->jobs[i].lock_fd = -1;
        s->jobs[i].gpu = -1;
        s->jobs[i].state = s->selected[i] ? JOB_WAITING : JOB_UNSELECTED;
    }
    size_t n_selected = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n_selected += s->selected[i];
    /* Thousands of "cached" lines would bury what ran; the summary counts them. */
    s->quiet_cached = n_selected > 100;
    if (rc == 0)
        rc = check_cpu(s, d);
    if (rc == 0) {
        rc = ik_plan_check_sources(&s->plan, s->selected, d);
        /* Every missing key too, in the same report as the missing files. */
        int env_rc = ik_plan_check_env(&s->plan, s->selected, rc == 0, d);
        rc = rc != 0 ? rc : env_rc;
    }
    return rc;
}

static void teardown(struct ik_sched *s)
{
    for (size_t i = 0; s->jobs && i < s->graph->n_nodes; i++) {
        ik_buf_free(&s->jobs[i].counters);
        ik_buf_free(&s->jobs[i].err_line);
        ik_action_free(s->jobs[i].result);
        free(s->jobs[i].error);
        for (size_t k = 0; k < s->jobs[i].n_counters; k++)
            free(s->jobs[i].counter_values[k].name);
        free(s->jobs[i].counter_values);
    }
    free(s->jobs);
    free(s->selected);
    free(s->forced);
    free(s->gpu_busy);
    ik_plan_close(&s->plan);
    ik_srcmemo_close(s->memo);
    ik_executor_local_free(s->own_ex);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs the jobs on the loop until none is left; fails only when the executor
 * cannot run anything (nothing started, d filled). */
static int run_loop(struct ik_sched *s, struct ik_diag *d)
{
    uv_loop_init(&s->loop);
    const struct ik_executor_host host = {&s->loop, on_job_frame, on_job_exit,
                                          s->opts->verbose ? on_job_stderr : NULL,
                                          on_job_state};
    int rc = s->ex->open(s->ex, &host, d);
    if (rc == 0) {
        uv_signal_init(&s->loop, &s->sigint);
        uv_signal_init(&s->loop, &s->sigterm);
        uv_timer_init(&s->loop, &s->tick);
        s->sigint.data = s->sigterm.data = s->tick.data = s;
        uv_signal_start(&s->sigint, on_signal, SIGINT);
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        uv_timer_start(&s->tick, on_tick, 100, 100);
        pump(s);
        if (anything_left(s))
            uv_run(&s->loop, UV_RUN_DEFAULT);
        s->ex->close(s->ex);
    }
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    return rc;
}

int ik_sched_run(struct ik_graph *g, struct ik_cache *c, const struct ik_sched_opts *opts,
                 struct ik_diag *d)
{
    struct ik_sched s;
    int rc = setup(&s, g, c, opts, d);
    if (rc < 0) {
        teardown(&s);
        return rc;
    }
    ik_display_init(&s.display, opts->live && !opts->json);
    if (opts->dry_run) {
        s.plan.remote_peek = true; /* -n downloads nothing */
        rc = ik_plan_resolve_all(&s.plan, s.selected, s.forced, d);
        if (rc == 0)
            rc = ik__sched_print_plan(&s);
    } else if ((rc = run_loop(&s, d)) == 0) {
        save_refs(&s);
        rc = s.canceled ? IK_ECANCELED : (s.failed ? IK_ENODE : 0);
        ik__sched_report(&s, rc);
    }
    teardown(&s);
    return rc;
}
