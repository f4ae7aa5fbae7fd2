/* engine/executor_local.c - the local executor: each job is a child process.
 *
 * It spawns the job's argv with the job's env over this process's, as the
 * leader of a new process group, and reads three pipes: stdout and stderr into
 * the log (capped), fd 3 into the progress reader. The job counts as ended
 * once the process has exited and every pipe is closed, so no output is lost.
 * Stopping sends SIGTERM to the whole group, then SIGKILL 3 s later; the child
 * itself (ik_exec_die_with_scheduler, engine/exec.h) turns SIGTERM into a kill
 * of its group and asks the kernel for SIGTERM if this process dies first
 * (PR_SET_PDEATHSIG), so a node never outlives its run. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xmalloc.h"
#include "engine/executor.h"

/* The log keeps at most this much; a node that prints more is truncated with a
 * note, so a chatty node cannot exhaust the scheduler's memory. */
#define LOG_MAX_BYTES (16u << 20)

/* How long a stopped node has to exit before it is killed. */
#define STOP_GRACE_MS 3000

extern char **environ;

struct local_executor {
    struct ik_executor base;
    struct ik_executor_host host;
};

struct local_task {
    struct ik_executor_task base;
    struct local_executor *ex;
    uv_process_t proc;
    uv_pipe_t out, err, prog;
    uv_timer_t kill_timer; /* initialised on the first graceful stop */
    bool kill_timer_open;
    int open_handles;
    bool exited;
    struct ik_executor_exit end;
    char *error;
    struct ik_progress_reader reader;
};

/* Every handle is closed: report the end, then forget the task (rule 3). */
static void on_handle_closed(uv_handle_t *h)
{
    struct local_task *t = h->data;
    if (--t->open_handles > 0)
        return;
    t->end.error = t->error;
    t->ex->host.on_exit(t->base.owner, &t->end);
    ik_progress_reader_free(&t->reader);
    ik_buf_free(&t->end.log);
    free(t->error);
    free(t);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = ik_xmalloc(suggested);
    buf->len = suggested;
}

static void on_log_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct local_task *t = st->data;
    if (n > 0 && st == (uv_stream_t *)&t->err && t->ex->host.on_stderr)
        t->ex->host.on_stderr(t->base.owner, buf->base, (size_t)n);
    if (n > 0) {
        if (t->end.log.len + (size_t)n <= LOG_MAX_BYTES)
            ik_buf_append(&t->end.log, buf->base, (size_t)n);
        else
            t->end.log_truncated = true;
    }
    free(buf->base);
    if (n < 0)
        uv_close((uv_handle_t *)st, on_handle_closed);
}

static void on_frame(void *arg, struct ik_progress_frame *f)
{
    struct local_task *t = arg;
    t->ex->host.on_frame(t->base.owner, f);
}

static void on_progress_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct local_task *t = st->data;
    if (n > 0)
        ik_progress_reader_feed(&t->reader, buf->base, (size_t)n);
    free(buf->base);
    if (n < 0)
        uv_close((uv_handle_t *)st, on_handle_closed);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct local_task *t = p->data;
    t->exited = true;
    t->end.exit_status = status;
    t->end.term_signal = sig;
    t->end.end_ms = ik_clock_monotonic_ms();
    if (t->kill_timer_open)
        uv_close((uv_handle_t *)&t->kill_timer, on_handle_closed);
    uv_close((uv_handle_t *)p, on_handle_closed);
}

static bool is_var(const char *entry, const char *name_eq)
{
    return strncmp(entry, name_eq, (size_t)(strchr(name_eq, '=') - name_eq + 1)) == 0;
}

/* environ without the variables the job sets, then the job's own. The
 * strings are borrowed: uv_spawn has exec'd the child before it returns. */
static char **child_env(char *const *job_env)
{
    size_t n = 0, n_job = 0;
    while (environ[n])
        n++;
    while (job_env[n_job])
        n_job++;
    char **env = ik_xcalloc(n + n_job + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_job && !replaced; j++)
            replaced = is_var(environ[i], job_env[j]);
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_job; j++)
        env[k++] = job_env[j];
    return env;
}

/* Spawns the child with its three pipes; a negative uv error when it cannot. */
static int spawn(struct local_task *t, const struct ik_executor_job *job)
{
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&t->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&t->err;
    stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&t->prog;
    char **env = child_env(job->env);
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = job->argv[0];
    o.args = (char **)job->argv;
    o.env = env;
    o.exit_cb = on_child_exit;
    o.stdio = stdio;
    o.stdio_count = 4;
    /* Its own process group, so stopping a node also stops what it started. */
    o.flags = UV_PROCESS_DETACHED;
    int rc = uv_spawn(t->ex->host.loop, &t->proc, &o);
    free(env);
    return rc;
}

static struct ik_executor_task *local_start(struct ik_executor *base,
                                            const struct ik_executor_job *job, void *owner)
{
    struct local_executor *ex = (struct local_executor *)base;
    struct local_task *t = ik_xcalloc(1, sizeof *t);
    t->base.owner = owner;
    t->ex = ex;
    uv_loop_t *loop = ex->host.loop;
    uv_pipe_init(loop, &t->out, 0);
    uv_pipe_init(loop, &t->err, 0);
    uv_pipe_init(loop, &t->prog, 0);
    t->out.data = t->err.data = t->prog.data = t->proc.data = t->kill_timer.data = t;
    ik_progress_reader_init(&t->reader, on_frame, t);
    int rc = spawn(t, job);
    t->open_handles = 3;
    if (rc < 0) {
        /* Reported like any other end, from the loop (rule 2). */
        t->error = ik_xasprintf("cannot start %s: %s", job->argv[0], uv_strerror(rc));
        t->exited = true;
        t->end.exit_status = 127;
        t->end.end_ms = ik_clock_monotonic_ms();
        uv_close((uv_handle_t *)&t->out, on_handle_closed);
        uv_close((uv_handle_t *)&t->err, on_handle_closed);
        uv_close((uv_handle_t *)&t->prog, on_handle_closed);
        return &t->base;
    }
    t->open_handles = 4;
    uv_read_start((uv_stream_t *)&t->out, alloc_cb, on_log_read);
    uv_read_start((uv_stream_t *)&t->err, alloc_cb, on_log_read);
    uv_read_start((uv_stream_t *)&t->prog, alloc_cb, on_progress_read);
    return &t->base;
}

static void on_kill_timer(uv_timer_t *timer)
{
    struct local_task *t = timer->data;
    if (!t->exited)
        kill(-t->proc.pid, SIGKILL);
}

static void local_cancel(struct ik_executor *base, struct ik_executor_task *task,
                         enum ik_executor_stop how)
{
    (void)base;
    struct local_task *t = (struct local_task *)task;
    if (t->exited || t->proc.pid <= 0)
        return; /* its pipes are draining: on_exit is on its way */
    if (how == IK_EXECUTOR_KILL) {
        kill(-t->proc.pid, SIGKILL);
        return;
    }
    kill(-t->proc.pid, SIGTERM);
    if (!t->kill_timer_open) {
        uv_timer_init(t->ex->host.loop, &t->kill_timer);
        t->kill_timer_open = true;
        t->open_handles++;
        uv_timer_start(&t->kill_timer, on_kill_timer, STOP_GRACE_MS, 0);
    }
}

static int local_open(struct ik_executor *base, const struct ik_executor_host *host,
                      struct ik_diag *d)
{
    (void)d;
    ((struct local_executor *)base)->host = *host;
    return 0;
}

static void local_close(struct ik_executor *base)
{
    (void)base; /* every handle belongs to a task, and each task closed its own */
}

struct ik_executor *ik_executor_local_new(void)
{
    struct local_executor *ex = ik_xcalloc(1, sizeof *ex);
    ex->base.open = local_open;
    ex->base.start = local_start;
    ex->base.cancel = local_cancel;
    ex->base.close = local_close;
    return &ex->base;
}

void ik_executor_local_free(struct ik_executor *ex)
{
    free(ex);
}
