/* engine/sched_report.c - plan, progress and summary output of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/utf8.h"
#include "base/error.h"
#include "cache/cas.h"
#include "cache/runlog.h"
#include "engine/sched_int.h"
#include "engine/sched_report.h"
#include "base/xmalloc.h"

static const char *job_status(const struct ik_job *j)
{
    switch (j->state) {
    case JOB_DONE:
        return j->cached ? "cached" : "ran";
    case JOB_FAILED:
        return "failed";
    case JOB_SKIPPED:
        return "skipped";
    case JOB_CANCELED:
        return "canceled";
    default:
        return "not-run";
    }
}

static void hex_of(const struct ik_plan_entry *e, char *hex)
{
    if (e->key_known)
        ik_hash_to_hex(&e->key, hex);
    else
        hex[0] = '\0';
}

static const char *plan_word(const struct ik_plan_entry *e)
{
    switch (e->state) {
    case IK_PLAN_CACHED:
        return e->from_remote ? "download" : "cached";
    case IK_PLAN_STALE:
        return "would run";
    case IK_PLAN_BLOCKED:
        return "would run";
    default:
        return "unknown";
    }
}

int ik__sched_print_plan(struct ik_sched *s)
{
    const struct ik_graph *g = s->graph;
    json_t *nodes = json_array();
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        if (!s->selected[i])
            continue;
        const struct ik_plan_entry *e = &s->plan.entries[i];
        char hex[IK_HASH_HEX_LEN + 1];
        hex_of(e, hex);
        if (s->opts->json) {
            json_array_append_new(nodes, json_pack("{s:s, s:s, s:s?, s:s?}", "name", g->nodes[i].name,
                                                   "action", e->state != IK_PLAN_CACHED ? "run"
                                                             : e->from_remote ? "download"
                                                                              : "cached",
                                                   "key", hex[0] ? hex : NULL, "reason", e->reason));
        } else {
            printf("%s%*s %-10s %s\n", g->nodes[i].name, ik_utf8_pad(g->nodes[i].name, 20), "",
                   plan_word(e), e->reason ? e->reason
                                 : e->from_remote ? "from the remote cache" : "");
        }
    }
    if (s->opts->json) {
        json_t *out = json_pack("{s:s, s:b, s:o}", "graph", g->path, "dry_run", 1, "nodes", nodes);
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        json_decref(nodes);
    }
    return 0;
}

static void format_counters(struct ik_job *j)
{
    ik_buf_reset(&j->counters);
    for (size_t i = 0; i < j->n_counters; i++)
        ik_buf_printf(&j->counters, "%s%s %.4g", i ? "  " : "", j->counter_values[i].name,
                      j->counter_values[i].value);
}

void ik__sched_show_progress(struct ik_sched *s)
{
    struct ik_display_line lines[64];
    int n = 0;
    int64_t now = ik_clock_monotonic_ms();
    for (size_t i = 0; i < s->graph->n_nodes && n < 64; i++) {
        struct ik_job *j = &s->jobs[i];
        if (j->state != JOB_RUNNING)
            continue;
        format_counters(j);
        struct ik_display_line *l = &lines[n++];
        l->name = s->graph->nodes[i].name;
        l->done = j->done;
        l->total = j->total;
        l->unit = j->unit;
        l->elapsed_s = (double)(now - j->start_ms) / 1000.0;
        l->counters = j->counters.len ? j->counters.data : j->where[0] ? j->where : NULL;
        if (!s->display.live && j->total > 0 && now - j->last_plain_ms >= 10000 &&
            now - j->start_ms >= 10000) {
            j->last_plain_ms = now;
            ik_display_event(&s->display, "%s: %llu/%llu %s %s", l->name,
                             (unsigned long long)j->done, (unsigned long long)j->total, j->unit,
                             l->counters ? l->counters : "");
        }
    }
    ik_display_live(&s->display, lines, n);
}

/* The node printed its error to the log as well (engine/exec.c, through
 * ik_diag_print); it was just shown as the failure, so leave it out of the
 * log tail rather than print it twice. */
static void drop_printed_error(struct ik_buf *log, const char *error)
{
    if (error == NULL || log->len == 0)
        return;
    char *printed = strncmp(error, "error: ", 7) == 0 ? ik_xasprintf("ikada: %s\n", error)
                                                      : ik_xasprintf("%s\n", error);
    size_t n = strlen(printed);
    if (log->len >= n && memcmp(log->data + log->len - n, printed, n) == 0) {
        log->len -= n;
        log->data[log->len] = '\0';
    }
    free(printed);
}

/* The last `lines` lines of a log, indented, for a failure report. */
static void print_log_tail(struct ik_sched *s, const struct ik_buf *log, int lines)
{
    if (log->len == 0)
        return;
    const char *p = log->data + log->len;
    if (p > log->data && p[-1] == '\n')
        p--;
    int seen = 0;
    while (p > log->data && seen < lines)
        if (*--p == '\n')
            seen++;
    if (*p == '\n')
        p++;
    struct ik_buf b = IK_BUF_INIT;
    for (const char *q = p; q < log->data + log->len;) {
        const char *nl = memchr(q, '\n', (size_t)(log->data + log->len - q));
        size_t n = nl ? (size_t)(nl - q) : (size_t)(log->data + log->len - q);
        ik_buf_puts(&b, "  | ");
        ik_buf_append(&b, q, n);
        ik_buf_putc(&b, '\n');
        q += n + 1;
    }
    if (b.len)
        b.data[--b.len] = '\0';
    ik_display_event(&s->display, "%s", b.data);
    ik_buf_free(&b);
}

void ik__sched_show_log_tail(struct ik_sched *s, struct ik_job *j, struct ik_buf *log)
{
    /* Kept whole, error line included, as `cache show` of a success's log is. */
    struct ik_diag d = IK_DIAG_INIT;
    j->has_log = log->len > 0 && ik_cas_put(s->cache, log->data, log->len, &j->log, &d) == 0;
    if (d.code)
        ik_display_event(&s->display, "ikada: warning: the log of the failure is not kept: %s",
                         ik_diag_message(&d));
    ik_diag_free(&d);
    drop_printed_error(log, j->error);
    print_log_tail(s, log, 20);
}

static void write_run_record(struct ik_sched *s, int status, int64_t duration_ms)
{
    const struct ik_graph *g = s->graph;
    struct ik_run run;
    memset(&run, 0, sizeof run);
    run.graph = g->path;
    run.graph_id = (char *)ik_plan_graph_id(&s->plan);
    run.started_ms = s->started_ms;
    run.duration_ms = duration_ms;
    run.exit_code = status;
    run.argv = s->opts->argv;
    run.argc = (size_t)s->opts->argc;
    run.nodes = ik_xcalloc(g->n_nodes + 1, sizeof *run.nodes);
    bool all_cached = true;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (!s->selected[i])
            continue;
        struct ik_run_node *rn = &run.nodes[run.n_nodes++];
        const struct ik_job *j = &s->jobs[i];
        rn->name = g->nodes[i].name;
        rn->has_key = s->plan.entries[i].key_known;
        rn->key = s->plan.entries[i].key;
        rn->status = (char *)job_status(j);
        rn->duration_ms = j->cached || j->start_ms == 0 ? 0 : j->end_ms - j->start_ms;
        rn->error = j->error;
        rn->has_log = j->has_log;
        rn->log = j->log;
        all_cached = all_cached && j->state == JOB_DONE && j->cached;
    }
    /* Nothing ran: a compact record (cache/runlog.h) that gc does not count. */
    run.noop = status == 0 && all_cached;
    run.noop_nodes = run.n_nodes;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_runlog_write(s->cache, &run, &d) < 0)
        fprintf(stderr, "ikada: warning: run not recorded: %s\n", ik_diag_message(&d));
    ik_diag_free(&d);
    free(run.nodes);
}

static void print_json_summary(struct ik_sched *s, int status, int64_t duration_ms)
{
    const struct ik_graph *g = s->graph;
    json_t *nodes = json_array();
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        if (!s->selected[i])
            continue;
        const struct ik_job *j = &s->jobs[i];
        const struct ik_plan_entry *e = &s->plan.entries[i];
        char hex[IK_HASH_HEX_LEN + 1];
        hex_of(e, hex);
        json_t *outs = json_object();
        for (size_t o = 0; e->action && o < e->action->n_outputs; o++) {
            char oh[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&e->action->outputs[o].hash, oh);
            json_object_set_new(outs, e->action->outputs[o].port, json_string(oh));
        }
        json_array_append_new(
            nodes, json_pack("{s:s, s:s, s:s?, s:I, s:s?, s:o}", "name", g->nodes[i].name,
                             "status", job_status(j), "key", hex[0] ? hex : NULL, "duration_ms",
                             (json_int_t)(j->cached || j->start_ms == 0 ? 0 : j->end_ms - j->start_ms),
                             "error", j->error, "outputs", outs));
    }
    json_t *out = json_pack("{s:s, s:i, s:I, s:o}", "graph", g->path, "exit", status,
                            "duration_ms", (json_int_t)duration_ms, "nodes", nodes);
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
}

void ik__sched_report(struct ik_sched *s, int outcome)
{
    int status = s->opts->exit_status ? s->opts->exit_status(outcome) : outcome;
    int64_t duration_ms = ik_clock_wall_ms() - s->started_ms;
    write_run_record(s, status, duration_ms);
    if (s->opts->json) {
        print_json_summary(s, status, duration_ms);
        return;
    }
    size_t ran = 0, cached = 0, failed = 0, skipped = 0, total = 0;
    for (size_t i = 0; i < s->graph->n_nodes; i++) {
        const struct ik_job *j = &s->jobs[i];
        if (!s->selected[i])
            continue;
        total++;
        if (j->state == JOB_DONE)
            j->cached ? cached++ : ran++;
        else if (j->state == JOB_FAILED)
            failed++;
        else
            skipped++;
    }
    char remote[48] = "";
    if (s->plan.remote_hits > 0)
        snprintf(remote, sizeof remote, " (%zu from the remote)", s->plan.remote_hits);
    ik_display_event(&s->display, "%zu node%s: %zu ran, %zu cached%s, %zu failed, %zu not run (%.2f s)%s",
                     total, total == 1 ? "" : "s", ran, cached, remote, failed, skipped,
                     (double)duration_ms / 1000.0,
                     outcome == IK_ECANCELED ? " - interrupted" : "");
}
