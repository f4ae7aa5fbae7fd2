/* tests/engine/fake_executor.c - the executor that runs nothing (see fake_executor.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xmalloc.h"
#include "cache/cas.h"
#include "tests/engine/fake_executor.h"

/* Steps in a row that may end no job before the script counts as stuck: a
 * raised signal reaches the scheduler within a step or two. */
#define MAX_IDLE_STEPS 100000

static void contract_broken(const char *what)
{
    fprintf(stderr, "fake executor: %s\n", what);
    abort();
}

static char **copy_strv(char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    char **out = ik_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = ik_xstrdup(v[i]);
    return out;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* The value of NAME in a NAME=value list, copied, or NULL. */
static char *env_value(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return ik_xstrdup(env[i] + n + 1);
    return NULL;
}

bool fake_overlap(const struct fake_job *a, const struct fake_job *b)
{
    unsigned a_end = a->ended ? a->ended : ~0u, b_end = b->ended ? b->ended : ~0u;
    return a->started < b_end && b->started < a_end;
}

struct fake_job *fake_job(const struct fake_executor *f, const char *name)
{
    for (size_t i = f->n_jobs; i-- > 0;)
        if (strcmp(f->jobs[i]->node, name) == 0)
            return f->jobs[i];
    return NULL;
}

struct fake_job *fake_oldest_running(const struct fake_executor *f)
{
    for (size_t i = 0; i < f->n_jobs; i++)
        if (f->jobs[i]->ended == 0)
            return f->jobs[i];
    return NULL;
}

static void send_frame(struct fake_executor *f, struct fake_job *j, struct ik_progress_frame *fr)
{
    if (j == NULL || j->ended)
        contract_broken("a frame for a job that is not running");
    f->host.on_frame(j->task.owner, fr);
    ik_progress_frame_free(fr);
}

void fake_progress(struct fake_executor *f, struct fake_job *j, uint64_t done, uint64_t total,
                   const char *unit)
{
    struct ik_progress_frame fr = {.type = IK_PROGRESS_PROGRESS, .has_done = true,
                                   .has_total = true, .done = done, .total = total,
                                   .unit = ik_xstrdup(unit)};
    send_frame(f, j, &fr);
}

void fake_counter(struct fake_executor *f, struct fake_job *j, const char *name, double value)
{
    struct ik_progress_frame fr = {.type = IK_PROGRESS_COUNTER, .name = ik_xstrdup(name),
                                   .value = value};
    send_frame(f, j, &fr);
}

/* Ends j: the clock ticks first, so whatever the scheduler starts from inside
 * on_exit starts after this end. */
static void end_job(struct fake_executor *f, struct fake_job *j, int64_t status, int sig,
                    const char *log)
{
    if (j == NULL || j->ended)
        contract_broken("ending a job that is not running");
    j->ended = ++f->clock;
    f->running--;
    struct ik_executor_exit e = {.exit_status = status, .term_signal = sig, .log = IK_BUF_INIT,
                                 .end_ms = ik_clock_monotonic_ms()};
    if (log)
        ik_buf_puts(&e.log, log);
    f->host.on_exit(j->task.owner, &e);
    ik_buf_free(&e.log);
}

void fake_succeed(struct fake_executor *f, struct fake_job *j, const char *const *ports,
                  const char *log)
{
    static const char *const default_ports[] = {"o", NULL};
    if (ports == NULL)
        ports = default_ports;
    size_t n = 0;
    while (ports[n])
        n++;
    struct ik_action *a = ik_xcalloc(1, sizeof *a);
    a->outputs = ik_xcalloc(n + 1, sizeof *a->outputs);
    a->n_outputs = n;
    for (size_t i = 0; i < n; i++) {
        char *bytes = ik_xasprintf("%s.%s\n", j->node, ports[i]);
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_cas_put(f->cache, bytes, strlen(bytes), &a->outputs[i].hash, &d) < 0)
            contract_broken(ik_diag_message(&d));
        a->outputs[i].port = ik_xstrdup(ports[i]);
        a->outputs[i].kind = ik_xstrdup("file");
        a->outputs[i].size = strlen(bytes);
        free(bytes);
    }
    struct ik_progress_frame fr = {.type = IK_PROGRESS_RESULT, .result = a};
    send_frame(f, j, &fr);
    end_job(f, j, 0, 0, log);
}

void fake_fail(struct fake_executor *f, struct fake_job *j, int exit_status, const char *message,
               const char *log)
{
    if (message) {
        struct ik_progress_frame fr = {.type = IK_PROGRESS_ERROR, .message = ik_xstrdup(message)};
        send_frame(f, j, &fr);
    }
    end_job(f, j, exit_status, 0, log);
}

void fake_kill(struct fake_executor *f, struct fake_job *j, int sig)
{
    end_job(f, j, 0, sig, NULL);
}

/* One step: end what was canceled, else let the script end something. */
static void on_idle(uv_idle_t *h)
{
    struct fake_executor *f = h->data;
    unsigned before = f->clock;
    for (size_t i = 0; i < f->n_jobs; i++) {
        struct fake_job *j = f->jobs[i];
        if (j->ended == 0 && (j->stop_requested || j->kill_requested))
            fake_kill(f, j, j->kill_requested ? SIGKILL : SIGTERM);
    }
    if (f->clock == before && f->running > 0) {
        if (f->script)
            f->script(f, f->script_arg);
        else
            fake_succeed(f, fake_oldest_running(f), NULL, NULL);
    }
    f->idle_steps = f->clock == before ? f->idle_steps + 1 : 0;
    if (f->idle_steps > MAX_IDLE_STEPS)
        contract_broken("the test's script left every job running");
    if (f->running == 0)
        uv_idle_stop(h);
}

static int fake_open(struct ik_executor *base, const struct ik_executor_host *host,
                     struct ik_diag *d)
{
    struct fake_executor *f = (struct fake_executor *)base;
    if (f->open_rc)
        return ik_diag_set(d, f->open_rc, "fake executor: cannot open");
    f->host = *host;
    uv_idle_init(host->loop, &f->idle);
    f->idle.data = f;
    f->idle_steps = 0;
    return 0;
}

static struct ik_executor_task *fake_start(struct ik_executor *base,
                                           const struct ik_executor_job *job, void *owner)
{
    struct fake_executor *f = (struct fake_executor *)base;
    struct fake_job *j = ik_xcalloc(1, sizeof *j);
    j->task.owner = owner;
    j->node = ik_xstrdup(job->node);
    j->key_hex = ik_xstrdup(job->key_hex);
    j->argv = copy_strv(job->argv);
    j->env = copy_strv(job->env);
    j->cuda = env_value(job->env, "CUDA_VISIBLE_DEVICES");
    j->threads = env_value(job->env, "OPENBLAS_NUM_THREADS");
    j->cpu = job->cpu;
    j->gpu = job->gpu;
    j->started = ++f->clock;
    j->running_at_start = ++f->running;
    if (f->running > f->max_running)
        f->max_running = f->running;
    f->jobs = ik_xrealloc(f->jobs, (f->n_jobs + 1) * sizeof *f->jobs);
    f->jobs[f->n_jobs++] = j;
    uv_idle_start(&f->idle, on_idle);
    return &j->task;
}

static void fake_cancel(struct ik_executor *base, struct ik_executor_task *t,
                        enum ik_executor_stop how)
{
    (void)base;
    struct fake_job *j = (struct fake_job *)t;
    if (j->ended)
        contract_broken("cancel after on_exit");
    if (how == IK_EXECUTOR_KILL)
        j->kill_requested = true;
    else
        j->stop_requested = true;
}

static void fake_close(struct ik_executor *base)
{
    struct fake_executor *f = (struct fake_executor *)base;
    if (f->running > 0)
        contract_broken("close with jobs running");
    uv_close((uv_handle_t *)&f->idle, NULL);
}

void fake_init(struct fake_executor *f, struct ik_cache *c)
{
    memset(f, 0, sizeof *f);
    f->base.open = fake_open;
    f->base.start = fake_start;
    f->base.cancel = fake_cancel;
    f->base.close = fake_close;
    f->cache = c;
}

void fake_free(struct fake_executor *f)
{
    for (size_t i = 0; i < f->n_jobs; i++) {
        struct fake_job *j = f->jobs[i];
        free(j->node);
        free(j->key_hex);
        free_strv(j->argv);
        free_strv(j->env);
        free(j->cuda);
        free(j->threads);
        free(j);
    }
    free(f->jobs);
}
