/* engine/executor_slurm.c - the Slurm executor: each job is one `sbatch` job.
 *
 * A job becomes a shell script in the run's folder on the shared cache,
 * <cache>/slurm/<job name>/, submitted with `sbatch --parsable`, named after
 * the run (so `squeue --name` finds all of it and nothing else) and asking
 * for the node's resources: cpu -> --cpus-per-task (a type's `all`: a whole
 * node, --exclusive), a GPU -> --gpus=1, mem ->
 * --mem, time -> --time; partition, account, time and extra flags from the
 * graph's `executor:` block (engine/graph.h). The script exports the job's
 * environment (not CUDA_VISIBLE_DEVICES: Slurm sets it for the GPU it gives),
 * runs `ikada exec` with IKADA_PROGRESS_FILE naming a frames file (cli/exec.c
 * points fd 3 there), and writes the exit status to an .exit file.
 *
 * What the job wrote is the truth, as Nextflow reads its .exitcode: Slurm's
 * state only says whether the job is still alive. One timer polls `squeue`
 * (then `scontrol show job` for a job that left it) at a growing interval;
 * at each poll the new frames are read and handed on. A job gone from the
 * queue with an .exit file ended with that status; one without ended with
 * its Slurm state, told in words with the job id and its log. A job that
 * died on NODE_FAIL or PREEMPTED is submitted once more.
 *
 * Nodes marked `executor: local` (per node, or per type in the block) run
 * through an inner local executor, as children of `ikada run`. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "base/error.h"
#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/node.h"

/* The first poll comes soon (a trivial job is done in a second); each quiet
 * poll waits longer, up to a modest ceiling, so a long run does not hammer
 * slurmctld (Snakemake grows its interval the same way). */
#define POLL_FIRST_MS 300
#define POLL_MAX_MS 10000

/* How long a job that left the queue without an .exit file is waited for:
 * on NFS the file may show up late (attribute caching). */
#define EXIT_FILE_GRACE_MS 5000

/* The log kept for the scheduler, as the local executor's. */
#define LOG_MAX_BYTES (16u << 20)

extern char **environ;

struct slurm_task;

struct slurm_executor {
    struct ik_executor base;
    struct ik_executor_host host;
    const struct ik_graph *graph;
    char *cache_root;
    char *job_name; /* ikada-<graph>-<pid>: every job of this run */
    char *dir;      /* <cache>/slurm/<job name>: scripts, frames, exit files, logs */
    struct ik_executor *local;
    uv_timer_t poll;
    bool poll_open;
    int64_t interval_ms;
    struct slurm_task *tasks; /* every task that has not had its on_exit */
    unsigned seq;
};

struct slurm_task {
    struct ik_executor_task base;
    struct slurm_executor *ex;
    struct slurm_task *next;
    struct ik_executor_task *inner; /* a local node: the local executor's task */
    char *node;
    char **sbatch_argv;             /* kept for the one retry */
    char *frames_path, *exit_path, *log_pattern, *log_path;
    char job_id[32];
    char state[32];                 /* the Slurm state of this poll, "" when not listed */
    char shown[32];                 /* the last state told to the progress lines */
    int tries;
    bool canceled;
    int64_t gone_ms;                /* when it was first seen out of the queue, or 0 */
    char *error;                    /* set: ended with this message */
    struct ik_progress_reader reader;
    uint64_t frames_offset;
};

/* --- Running Slurm's commands ------------------------------------------------------ */

/* Runs argv (PATH searched) with stdout and stderr into *out; its exit
 * status, or -1 when it could not be started. Blocking: these commands answer
 * in milliseconds, and the loop has nothing better to do meanwhile. */
static int run_capture(char *const *argv, struct ik_buf *out)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while (rc == 0 && ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            ik_buf_append(out, buf, (size_t)n);
    close(fds[0]);
    if (rc != 0) {
        ik_buf_printf(out, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- Where a node runs and with what ---------------------------------------------- */

static const struct ik_graph_exec_settings *type_override(const struct ik_graph *g,
                                                          const struct ik_graph_node *n)
{
    for (size_t i = 0; i < g->executor.n_types; i++)
        if (!strcmp(g->executor.type_names[i], n->type->name))
            return &g->executor.types[i];
    return NULL;
}

static const struct ik_graph_node *find_node(const struct ik_graph *g, const char *name)
{
    long i = ik_graph_find(g, name);
    return i < 0 ? NULL : &g->nodes[i];
}

/* A node that wants every core (a type's `cpu: all`, as train's and
 * evaluate's, with no `resources: cpu` of its own) gets a whole compute node
 * (--exclusive) and as many threads as Slurm gave it: the run's slot count
 * (256 under Slurm) as --cpus-per-task asks for more CPUs than any node has,
 * and the job would never start. */
static bool wants_all_cores(const struct ik_graph_node *n) { return n && n->cpu >= IK_NODE_CPU_ALL; }

static bool runs_local(const struct ik_graph *g, const struct ik_graph_node *n)
{
    const struct ik_graph_exec_settings *o = n ? type_override(g, n) : NULL;
    return n && (n->run_local || (o && o->local));
}

static const char *setting(const char *over, const char *all) { return over ? over : all; }

static void push(char ***v, size_t *n, char *s)
{
    *v = ik_xrealloc(*v, (*n + 2) * sizeof **v);
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* The sbatch command line for the node's script. */
static char **sbatch_argv(const struct slurm_executor *ex, const struct ik_executor_job *job,
                          const char *log_pattern, const char *script)
{
    const struct ik_graph *g = ex->graph;
    const struct ik_graph_node *n = find_node(g, job->node);
    const struct ik_graph_exec_settings *o = n ? type_override(g, n) : NULL;
    const struct ik_graph_exec_settings empty = {0};
    if (o == NULL)
        o = &empty;
    char **v = NULL;
    size_t k = 0;
    push(&v, &k, ik_xstrdup("sbatch"));
    push(&v, &k, ik_xstrdup("--parsable"));
    push(&v, &k, ik_xasprintf("--job-name=%s", ex->job_name));
    push(&v, &k, ik_xasprintf("--output=%s", log_pattern));
    if (wants_all_cores(n))
        push(&v, &k, ik_xstrdup("--exclusive"));
    else
        push(&v, &k, ik_xasprintf("--cpus-per-task=%d", job->cpu));
    /* Slurm's own requeue would rerun a job behind our back: retries are ours. */
    push(&v, &k, ik_xstrdup("--no-requeue"));
    if (job->gpu >= 0)
        push(&v, &k, ik_xstrdup("--gpus=1"));
    if (n && n->mem > 0)
        push(&v, &k, ik_xasprintf("--mem=%lluM", (unsigned long long)((n->mem + (1 << 20) - 1) >> 20)));
    const char *part = setting(o->partition, g->executor.all.partition);
    const char *acct = setting(o->account, g->executor.all.account);
    /* The node's own `resources: time`, else its type's, else the block's. */
    const char *time = n && n->time ? n->time : setting(o->time, g->executor.all.time);
    if (part)
        push(&v, &k, ik_xasprintf("--partition=%s", part));
    if (acct)
        push(&v, &k, ik_xasprintf("--account=%s", acct));
    if (time)
        push(&v, &k, ik_xasprintf("--time=%s", time));
    const char *extra[2] = {g->executor.all.sbatch, o->sbatch};
    for (int e = 0; e < 2; e++) {
        char *copy = extra[e] ? ik_xstrdup(extra[e]) : NULL, *save = NULL;
        for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w; w = strtok_r(NULL, " \t", &save))
            push(&v, &k, ik_xstrdup(w));
        free(copy);
    }
    push(&v, &k, ik_xstrdup(script));
    return v;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* --- The job script ---------------------------------------------------------------- */

static void put_quoted(struct ik_buf *b, const char *s)
{
    ik_buf_puts(b, "'");
    for (; *s; s++)
        if (*s == '\'')
            ik_buf_puts(b, "'\\''");
        else
            ik_buf_append(b, s, 1);
    ik_buf_puts(b, "'");
}

static bool is_var(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The thread counts the scheduler sets from the slots it gave (sched.c's job_env). */
static bool is_thread_count(const char *entry)
{
    return is_var(entry, "IKADA_THREADS") || is_var(entry, "OPENBLAS_NUM_THREADS");
}

static char *script_text(const struct slurm_task *t, const struct ik_executor_job *job)
{
    bool all_cores = wants_all_cores(find_node(t->ex->graph, job->node));
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, "#!/bin/sh\n# ikada: node ");
    ik_buf_puts(&b, job->node);
    ik_buf_puts(&b, "\n");
    for (size_t i = 0; job->env[i]; i++) {
        const char *eq = strchr(job->env[i], '=');
        /* Slurm sets CUDA_VISIBLE_DEVICES for the GPU it allocated. */
        if (eq == NULL || is_var(job->env[i], "CUDA_VISIBLE_DEVICES"))
            continue;
        ik_buf_printf(&b, "export %.*s=", (int)(eq - job->env[i]), job->env[i]);
        if (all_cores && is_thread_count(job->env[i]))
            ik_buf_puts(&b, "\"${SLURM_CPUS_ON_NODE:-1}\"");
        else
            put_quoted(&b, eq + 1);
        ik_buf_puts(&b, "\n");
    }
    ik_buf_puts(&b, "export IKADA_PROGRESS_FILE=");
    put_quoted(&b, t->frames_path);
    ik_buf_puts(&b, "\n");
    for (size_t i = 0; job->argv[i]; i++) {
        put_quoted(&b, job->argv[i]);
        ik_buf_puts(&b, job->argv[i + 1] ? " " : "\n");
    }
    ik_buf_puts(&b, "status=$?\necho $status > ");
    put_quoted(&b, t->exit_path);
    ik_buf_puts(&b, ".tmp && mv ");
    put_quoted(&b, t->exit_path);
    ik_buf_puts(&b, ".tmp ");
    put_quoted(&b, t->exit_path);
    ik_buf_puts(&b, "\nexit $status\n");
    return ik_buf_steal(&b);
}

/* A node name as a file name (fan-out instances hold '@', '=', ...). */
static char *file_stem(unsigned seq, const char *node)
{
    char *s = ik_xasprintf("%04u-%s", seq, node);
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    return s;
}

/* --- Submitting -------------------------------------------------------------------- */

static void poll_soon(struct slurm_executor *ex);

/* sbatch: the job id into t->job_id, or t->error set. */
static void submit(struct slurm_task *t)
{
    struct ik_buf out = IK_BUF_INIT;
    int rc = run_capture(t->sbatch_argv, &out);
    ik_buf_puts(&out, "");
    char *text = out.data;
    size_t id_len = strspn(text, "0123456789");
    if (rc != 0 || id_len == 0 || id_len >= sizeof t->job_id) {
        size_t len = strlen(text);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = '\0';
        t->error = ik_xasprintf("sbatch failed (exit %d): %s", rc, len ? text : "no output");
    } else {
        memcpy(t->job_id, text, id_len); /* "id" or "id;cluster" */
        t->job_id[id_len] = '\0';
        free(t->log_path);
        t->log_path = ik_xstrdup(t->log_pattern);
        char *pj = strstr(t->log_path, "%j");
        if (pj) {
            char *p = ik_xasprintf("%.*s%s%s", (int)(pj - t->log_path), t->log_path, t->job_id,
                                   pj + 2);
            free(t->log_path);
            t->log_path = p;
        }
    }
    t->tries++;
    t->gone_ms = 0;
    t->state[0] = '\0';
    ik_buf_free(&out);
}

static void on_frame(void *arg, struct ik_progress_frame *f)
{
    struct slurm_task *t = arg;
    t->ex->host.on_frame(t->base.owner, f);
}

static struct slurm_task *new_task(struct slurm_executor *ex, void *owner, const char *node)
{
    struct slurm_task *t = ik_xcalloc(1, sizeof *t);
    t->base.owner = owner;
    t->ex = ex;
    t->node = ik_xstrdup(node);
    t->next = ex->tasks;
    ex->tasks = t;
    ik_progress_reader_init(&t->reader, on_frame, t);
    return t;
}

static void submit_new(struct slurm_task *t, const struct ik_executor_job *job)
{
    struct slurm_executor *ex = t->ex;
    char *stem = file_stem(++ex->seq, job->node);
    char *script = ik_xasprintf("%s/%s.sh", ex->dir, stem);
    t->frames_path = ik_xasprintf("%s/%s.frames", ex->dir, stem);
    t->exit_path = ik_xasprintf("%s/%s.exit", ex->dir, stem);
    t->log_pattern = ik_xasprintf("%s/%s.%%j.log", ex->dir, stem);
    char *text = script_text(t, job);
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_write_atomic(ex->dir, script, text, strlen(text), 0755, &d) < 0)
        t->error = ik_xasprintf("cannot write the job script: %s", ik_diag_message(&d));
    else {
        t->sbatch_argv = sbatch_argv(ex, job, t->log_pattern, script);
        submit(t);
    }
    ik_diag_free(&d);
    free(text);
    free(script);
    free(stem);
}

/* --- Local nodes: the inner executor's callbacks, forwarded ------------------------ */

static void local_frame(void *owner, struct ik_progress_frame *f)
{
    struct slurm_task *t = owner;
    t->ex->host.on_frame(t->base.owner, f);
}

static void unlink_task(struct slurm_task *t)
{
    for (struct slurm_task **p = &t->ex->tasks; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

static void free_task(struct slurm_task *t)
{
    ik_progress_reader_free(&t->reader);
    free_strv(t->sbatch_argv);
    free(t->node);
    free(t->frames_path);
    free(t->exit_path);
    free(t->log_pattern);
    free(t->log_path);
    free(t->error);
    free(t);
}

static void local_exit(void *owner, struct ik_executor_exit *e)
{
    struct slurm_task *t = owner;
    unlink_task(t);
    t->ex->host.on_exit(t->base.owner, e);
    free_task(t);
}

static void local_stderr(void *owner, const char *data, size_t n)
{
    struct slurm_task *t = owner;
    t->ex->host.on_stderr(t->base.owner, data, n);
}

/* --- Polling ----------------------------------------------------------------------- */

static bool alive_state(const char *s)
{
    static const char *const alive[] = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING",
                                        "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING",
                                        "STAGE_OUT", "RESV_DEL_HOLD", "REQUEUE_HOLD",
                                        "REQUEUE_FED", NULL};
    for (size_t i = 0; alive[i]; i++)
        if (!strcmp(s, alive[i]))
            return true;
    return false;
}

/* `squeue` lines "id|STATE" of the run's jobs into the tasks' state. */
static int read_queue(struct slurm_executor *ex)
{
    char *name = ik_xasprintf("--name=%s", ex->job_name);
    char *argv[] = {"squeue", "--noheader", "--states=all", "--format=%i|%T", name, NULL};
    struct ik_buf out = IK_BUF_INIT;
    int rc = run_capture(argv, &out);
    ik_buf_puts(&out, "");
    for (struct slurm_task *t = ex->tasks; rc == 0 && t; t = t->next)
        t->state[0] = '\0';
    for (char *line = out.data, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *bar = strchr(line, '|');
        if (bar == NULL)
            continue;
        *bar = '\0';
        for (struct slurm_task *t = ex->tasks; t; t = t->next)
            if (t->inner == NULL && !strcmp(t->job_id, line))
                snprintf(t->state, sizeof t->state, "%s", bar + 1);
    }
    ik_buf_free(&out);
    free(name);
    return rc;
}

/* A job squeue no longer lists: its state from `scontrol show job`, if known. */
static void ask_scontrol(struct slurm_task *t)
{
    char *argv[] = {"scontrol", "--oneliner", "show", "job", t->job_id, NULL};
    struct ik_buf out = IK_BUF_INIT;
    if (run_capture(argv, &out) == 0) {
        ik_buf_puts(&out, "");
        const char *s = strstr(out.data, "JobState=");
        if (s)
            snprintf(t->state, sizeof t->state, "%.*s", (int)strcspn(s + 9, " \n"), s + 9);
    }
    ik_buf_free(&out);
}

/* The exit status the script wrote, or -1 when there is none (yet). The
 * folder is listed first: on NFS that refreshes its cached attributes. */
static int read_exit_file(const struct slurm_task *t)
{
    DIR *dir = opendir(t->ex->dir);
    if (dir) {
        while (readdir(dir)) {
        }
        closedir(dir);
    }
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    int status = -1;
    if (ik_read_file(t->exit_path, &data, &len, &d) == 0) {
        char *end;
        long v = strtol(data, &end, 10);
        if (end != data && v >= 0 && v < 256)
            status = (int)v;
    }
    ik_diag_free(&d);
    free(data);
    return status;
}

/* What a job that ended without an .exit file died of, in words. */
static char *describe_state(const struct slurm_task *t)
{
    const char *s = t->state[0] ? t->state : "UNKNOWN";
    const char *why = "ended without a result";
    if (!strcmp(s, "TIMEOUT"))
        why = "hit its time limit (raise the node's `resources: time`, or `time:` in the "
              "executor: block)";
    else if (!strcmp(s, "OUT_OF_MEMORY"))
        why = "ran out of memory (raise `resources: mem`)";
    else if (!strcmp(s, "CANCELLED"))
        why = "was cancelled (scancel, or an administrator)";
    else if (!strcmp(s, "NODE_FAIL"))
        why = "lost its compute node, twice";
    else if (!strcmp(s, "PREEMPTED"))
        why = "was preempted, twice";
    else if (!strcmp(s, "FAILED"))
        why = "failed before ikada exec could report (see the log)";
    else if (!strcmp(s, "BOOT_FAIL") || !strcmp(s, "DEADLINE"))
        why = "could not run";
    else if (!strcmp(s, "UNKNOWN"))
        why = "left the queue without a result (is MinJobAge in slurm.conf too short?)";
    return ik_xasprintf("slurm job %s %s: %s; log: %s", t->job_id, s, why,
                        t->log_path ? t->log_path : "(none)");
}

static void read_log(const struct slurm_task *t, struct ik_executor_exit *e)
{
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    if (t->log_path && ik_read_file(t->log_path, &data, &len, &d) == 0) {
        if (len > LOG_MAX_BYTES) {
            len = LOG_MAX_BYTES;
            e->log_truncated = true;
        }
        ik_buf_append(&e->log, data, len);
    }
    ik_diag_free(&d);
    free(data);
}

/* Reports the end (rule 3) and frees the task. */
static void finish(struct slurm_task *t, int status, char *error)
{
    struct ik_executor_exit e;
    memset(&e, 0, sizeof e);
    ik_progress_reader_feed_file(&t->reader, t->frames_path, &t->frames_offset);
    read_log(t, &e);
    e.exit_status = status;
    e.term_signal = t->canceled && status < 0 ? SIGTERM : 0;
    if (status < 0)
        e.exit_status = 1;
    e.error = error;
    e.end_ms = ik_clock_monotonic_ms();
    unlink_task(t);
    t->ex->host.on_exit(t->base.owner, &e);
    ik_buf_free(&e.log);
    free(error);
    free_task(t);
}

/* A queued job's state changes (PENDING, RUNNING) go to the progress lines:
 * its own output arrives only at its end ("train: slurm job 812 PENDING").
 * End states are left to the node's done or FAILED line. */
static void show_state(struct slurm_task *t)
{
    if (t->ex->host.on_state == NULL || !alive_state(t->state) || !strcmp(t->state, t->shown))
        return;
    snprintf(t->shown, sizeof t->shown, "%s", t->state);
    char *line = ik_xasprintf("slurm job %s %s", t->job_id, t->state);
    t->ex->host.on_state(t->base.owner, line);
    free(line);
}

/* One poll's verdict on a submitted task: still alive, retried, or ended. */
static void check_task(struct slurm_task *t, int64_t now)
{
    if (t->error) {
        char *why = t->error;
        t->error = NULL;
        finish(t, 127, why);
        return;
    }
    ik_progress_reader_feed_file(&t->reader, t->frames_path, &t->frames_offset);
    show_state(t);
    if (t->state[0] && alive_state(t->state))
        return;
    int status = read_exit_file(t);
    if (status >= 0) {
        finish(t, status, NULL);
        return;
    }
    if (t->state[0] == '\0')
        ask_scontrol(t);
    if (t->state[0] && alive_state(t->state))
        return;
    bool retry = !strcmp(t->state, "NODE_FAIL") || !strcmp(t->state, "PREEMPTED");
    if (retry && t->tries < 2 && !t->canceled) {
        /* The new job truncates the frames file: read it from the start, with
         * no half frame of the dead job left in the reader. */
        unlink(t->frames_path);
        t->frames_offset = 0;
        ik_progress_reader_free(&t->reader);
        ik_progress_reader_init(&t->reader, on_frame, t);
        if (t->ex->host.on_state != NULL) {
            char *line = ik_xasprintf("slurm job %s %s: submitting it once more", t->job_id,
                                      t->state);
            t->ex->host.on_state(t->base.owner, line);
            free(line);
        }
        t->shown[0] = '\0';
        submit(t);
        return;
    }
    /* Left the queue without a status file: NFS may show it late. */
    if (t->gone_ms == 0 && !t->canceled && strcmp(t->state, "CANCELLED") != 0) {
        t->gone_ms = now;
        return;
    }
    if (t->gone_ms != 0 && now - t->gone_ms < EXIT_FILE_GRACE_MS)
        return;
    finish(t, -1, describe_state(t));
}

static void on_poll(uv_timer_t *timer)
{
    struct slurm_executor *ex = timer->data;
    bool any_submitted = false;
    for (struct slurm_task *t = ex->tasks; t; t = t->next)
        any_submitted |= t->inner == NULL && t->job_id[0] != '\0';
    if (any_submitted && read_queue(ex) != 0) {
        /* squeue failed (slurmctld restarting?): try again later, end nothing. */
        ex->interval_ms = POLL_MAX_MS;
        uv_timer_start(&ex->poll, on_poll, (uint64_t)ex->interval_ms, 0);
        return;
    }
    int64_t now = ik_clock_monotonic_ms();
    /* Callbacks may start tasks (pushed at the head, seen next time); only
     * finish frees, and only the task it is given. */
    struct slurm_task *next;
    for (struct slurm_task *t = ex->tasks; t; t = next) {
        next = t->next;
        if (t->inner == NULL)
            check_task(t, now);
    }
    ex->interval_ms = ex->interval_ms * 3 / 2;
    if (ex->interval_ms > POLL_MAX_MS)
        ex->interval_ms = POLL_MAX_MS;
    bool waiting = false;
    for (struct slurm_task *t = ex->tasks; t; t = t->next)
        waiting |= t->inner == NULL;
    if (waiting && !uv_is_active((uv_handle_t *)&ex->poll))
        uv_timer_start(&ex->poll, on_poll, (uint64_t)ex->interval_ms, 0);
}

/* A new job or a cancel: look again soon, and let the interval grow anew. */
static void poll_soon(struct slurm_executor *ex)
{
    ex->interval_ms = POLL_FIRST_MS;
    uv_timer_start(&ex->poll, on_poll, POLL_FIRST_MS, 0);
}

/* --- The contract ------------------------------------------------------------------ */

static struct ik_executor_task *slurm_start(struct ik_executor *base,
                                            const struct ik_executor_job *job, void *owner)
{
    struct slurm_executor *ex = (struct slurm_executor *)base;
    struct slurm_task *t = new_task(ex, owner, job->node);
    if (runs_local(ex->graph, find_node(ex->graph, job->node))) {
        t->inner = ex->local->start(ex->local, job, t);
        return &t->base;
    }
    submit_new(t, job);
    poll_soon(ex); /* a failed submission is reported from there (rule 2) */
    return &t->base;
}

static void slurm_cancel(struct ik_executor *base, struct ik_executor_task *task,
                         enum ik_executor_stop how)
{
    struct slurm_executor *ex = (struct slurm_executor *)base;
    struct slurm_task *t = (struct slurm_task *)task;
    if (t->inner) {
        ex->local->cancel(ex->local, t->inner, how);
        return;
    }
    if (t->job_id[0] == '\0' || (t->canceled && how == IK_EXECUTOR_STOP))
        return;
    t->canceled = true;
    char *argv[] = {"scancel", how == IK_EXECUTOR_KILL ? "--signal=KILL" : "--full", t->job_id,
                    NULL};
    struct ik_buf out = IK_BUF_INIT;
    run_capture(argv, &out);
    ik_buf_free(&out);
    poll_soon(ex);
}

static int slurm_open(struct ik_executor *base, const struct ik_executor_host *host,
                      struct ik_diag *d)
{
    struct slurm_executor *ex = (struct slurm_executor *)base;
    ex->host = *host;
    char *argv[] = {"squeue", "--version", NULL};
    struct ik_buf out = IK_BUF_INIT;
    int rc = run_capture(argv, &out);
    ik_buf_free(&out);
    if (rc != 0)
        return ik_diag_set(d, IK_EUSAGE, "--executor slurm: cannot run squeue (is Slurm's "
                           "client installed and on PATH?)");
    free(ex->dir);
    ex->dir = ik_xasprintf("%s/slurm/%s-%lld", ex->cache_root, ex->job_name,
                           (long long)ik_clock_wall_ms());
    if ((rc = ik_mkdirs(ex->dir, d)) < 0)
        return rc;
    const struct ik_executor_host inner = {host->loop, local_frame, local_exit,
                                           host->on_stderr ? local_stderr : NULL, NULL};
    if ((rc = ex->local->open(ex->local, &inner, d)) < 0)
        return rc;
    uv_timer_init(host->loop, &ex->poll);
    ex->poll.data = ex;
    ex->poll_open = true;
    ex->interval_ms = POLL_FIRST_MS;
    return 0;
}

static void slurm_close(struct ik_executor *base)
{
    struct slurm_executor *ex = (struct slurm_executor *)base;
    ex->local->close(ex->local);
    if (ex->poll_open)
        uv_close((uv_handle_t *)&ex->poll, NULL);
    ex->poll_open = false;
}

struct ik_executor *ik_executor_slurm_new(const struct ik_graph *g, const char *cache_root)
{
    struct slurm_executor *ex = ik_xcalloc(1, sizeof *ex);
    ex->base.open = slurm_open;
    ex->base.start = slurm_start;
    ex->base.cancel = slurm_cancel;
    ex->base.close = slurm_close;
    ex->graph = g;
    ex->cache_root = ik_xstrdup(cache_root);
    ex->job_name = ik_xasprintf("ikada-%s-%ld", g->name, (long)getpid());
    ex->local = ik_executor_local_new();
    return &ex->base;
}

void ik_executor_slurm_free(struct ik_executor *base)
{
    struct slurm_executor *ex = (struct slurm_executor *)base;
    if (ex == NULL)
        return;
    ik_executor_local_free(ex->local);
    free(ex->cache_root);
    free(ex->job_name);
    free(ex->dir);
    free(ex);
}
