/* engine/sched_child.c - one node's child process: spawn `ikada exec`, read
 * its stdout/stderr into the log and its progress frames, notice its exit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mp.h"
#include "engine/progress.h"
#include "engine/sched_int.h"
#include "base/xmalloc.h"

/* The log keeps at most this much; a node that prints more is truncated with a
 * note, so a chatty node cannot exhaust the scheduler's memory. */
#define LOG_MAX_BYTES (16u << 20)

extern char **environ;

static void on_handle_closed(uv_handle_t *h)
{
    struct ik_job *j = h->data;
    if (--j->open_handles == 0)
        ik__sched_job_finished(j);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = ik_xmalloc(suggested);
    buf->len = suggested;
}

static void on_log_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct ik_job *j = st->data;
    if (n > 0) {
        if (j->log.len + (size_t)n <= LOG_MAX_BYTES)
            ik_buf_append(&j->log, buf->base, (size_t)n);
        else
            j->log_truncated = true;
    }
    free(buf->base);
    if (n < 0)
        uv_close((uv_handle_t *)st, on_handle_closed);
}

static void parse_result(struct ik_job *j, const msgpack_object *outs)
{
    struct ik_action *a = ik_xcalloc(1, sizeof *a);
    a->n_outputs = outs->via.array.size;
    a->outputs = ik_xcalloc(a->n_outputs ? a->n_outputs : 1, sizeof *a->outputs);
    for (size_t i = 0; i < a->n_outputs; i++) {
        const msgpack_object *o = &outs->via.array.ptr[i];
        char *hex = ik_mp_strdup(ik_mp_get(o, "hash"));
        double size = 0;
        ik_mp_number(ik_mp_get(o, "size"), &size);
        a->outputs[i].port = ik_mp_strdup(ik_mp_get(o, "port"));
        a->outputs[i].kind = ik_mp_strdup(ik_mp_get(o, "kind"));
        a->outputs[i].size = (uint64_t)size;
        if (hex == NULL || a->outputs[i].port == NULL || ik_hash_from_hex(hex, &a->outputs[i].hash) != 0) {
            free(hex);
            ik_action_free(a);
            return;
        }
        free(hex);
    }
    ik_action_free(j->result);
    j->result = a;
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

static void handle_frame(struct ik_job *j, const msgpack_object *f)
{
    const msgpack_object *t = ik_mp_get(f, "t");
    double v = 0;
    if (ik_mp_str_eq(t, "p")) {
        if (ik_mp_number(ik_mp_get(f, "done"), &v))
            j->done = (uint64_t)v;
        if (ik_mp_number(ik_mp_get(f, "total"), &v))
            j->total = (uint64_t)v;
        char *unit = ik_mp_strdup(ik_mp_get(f, "unit"));
        snprintf(j->unit, sizeof j->unit, "%s", unit ? unit : "");
        free(unit);
    } else if (ik_mp_str_eq(t, "c")) {
        char *name = ik_mp_strdup(ik_mp_get(f, "name"));
        if (name && ik_mp_number(ik_mp_get(f, "value"), &v))
            set_counter(j, name, v);
        free(name);
    } else if (ik_mp_str_eq(t, "r")) {
        const msgpack_object *outs = ik_mp_get(f, "outputs");
        if (outs && outs->type == MSGPACK_OBJECT_ARRAY)
            parse_result(j, outs);
    } else if (ik_mp_str_eq(t, "e")) {
        free(j->error);
        j->error = ik_mp_strdup(ik_mp_get(f, "message"));
    }
}

static void on_progress_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct ik_job *j = st->data;
    if (n > 0 && msgpack_unpacker_reserve_buffer(&j->unpacker, (size_t)n)) {
        memcpy(msgpack_unpacker_buffer(&j->unpacker), buf->base, (size_t)n);
        msgpack_unpacker_buffer_consumed(&j->unpacker, (size_t)n);
        msgpack_unpacked frame;
        msgpack_unpacked_init(&frame);
        while (msgpack_unpacker_next(&j->unpacker, &frame) == MSGPACK_UNPACK_SUCCESS)
            handle_frame(j, &frame.data);
        msgpack_unpacked_destroy(&frame);
    }
    free(buf->base);
    if (n < 0)
        uv_close((uv_handle_t *)st, on_handle_closed);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct ik_job *j = p->data;
    j->exited = true;
    j->exit_status = status;
    j->term_signal = sig;
    j->end_ms = ik_clock_monotonic_ms();
    uv_close((uv_handle_t *)p, on_handle_closed);
}

static bool is_var(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* environ plus what the scheduler decides for this node, replacing any
 * inherited value: the cache, the GPU it holds (none: ""), and as many
 * compute threads as the CPU slots it holds, so a node given 1 slot does not
 * spread over every core. A user's own OPENBLAS_NUM_THREADS is kept. */
static char **child_env(struct ik_job *j)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = ik_xcalloc(n + 5, sizeof *env);
    size_t k = 0;
    bool user_threads = false;
    for (size_t i = 0; i < n; i++) {
        if (is_var(environ[i], "IKADA_CACHE") || is_var(environ[i], "CUDA_VISIBLE_DEVICES"))
            continue;
        user_threads = user_threads || is_var(environ[i], "OPENBLAS_NUM_THREADS");
        env[k++] = ik_xstrdup(environ[i]);
    }
    env[k++] = ik_xasprintf("IKADA_CACHE=%s", j->s->cache->root);
    env[k++] = j->gpu >= 0 ? ik_xasprintf("CUDA_VISIBLE_DEVICES=%d", j->gpu)
                           : ik_xstrdup("CUDA_VISIBLE_DEVICES=");
    if (!user_threads)
        env[k++] = ik_xasprintf("OPENBLAS_NUM_THREADS=%d", j->cpu);
    return env;
}

static char **child_args(struct ik_job *j)
{
    const struct ik_graph_node *n = &j->s->graph->nodes[j->index];
    char **args = ik_xcalloc(6 + 2 * n->n_inputs, sizeof *args);
    size_t k = 0;
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&j->s->plan.entries[j->index].key, hex);
    args[k++] = ik_xstrdup(j->s->opts->self_exe);
    args[k++] = ik_xstrdup("exec");
    args[k++] = ik_xstrdup(hex);
    args[k++] = ik_xstrdup("--node");
    args[k++] = ik_xstrdup(n->name);
    for (size_t i = 0; i < n->n_inputs; i++)
        if (n->inputs[i].source == IK_INPUT_FILE) {
            args[k++] = ik_xstrdup("--file");
            args[k++] = ik_xasprintf("%s=%s", n->inputs[i].port, n->inputs[i].abs_path);
        }
    return args;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int ik__sched_spawn(struct ik_job *j)
{
    uv_loop_t *loop = &j->s->loop;
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->err, 0);
    uv_pipe_init(loop, &j->prog, 0);
    j->out.data = j->err.data = j->prog.data = j->proc.data = j;
    msgpack_unpacker_init(&j->unpacker, 4096);
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&j->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&j->err;
    stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&j->prog;
    char **args = child_args(j), **env = child_env(j);
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = args[0];
    o.args = args;
    o.env = env;
    o.exit_cb = on_child_exit;
    o.stdio = stdio;
    o.stdio_count = 4;
    /* Its own process group, so stopping a node also stops what it started. */
    o.flags = UV_PROCESS_DETACHED;
    j->start_ms = ik_clock_monotonic_ms();
    int rc = uv_spawn(loop, &j->proc, &o);
    if (rc < 0)
        j->error = ik_xasprintf("cannot start %s: %s", args[0], uv_strerror(rc));
    free_strv(args);
    free_strv(env);
    j->open_handles = 3;
    if (rc < 0) {
        j->exited = true;
        j->exit_status = 127;
        uv_close((uv_handle_t *)&j->out, on_handle_closed);
        uv_close((uv_handle_t *)&j->err, on_handle_closed);
        uv_close((uv_handle_t *)&j->prog, on_handle_closed);
        return rc;
    }
    j->open_handles = 4;
    uv_read_start((uv_stream_t *)&j->out, alloc_cb, on_log_read);
    uv_read_start((uv_stream_t *)&j->err, alloc_cb, on_log_read);
    uv_read_start((uv_stream_t *)&j->prog, alloc_cb, on_progress_read);
    return 0;
}
