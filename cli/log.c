/* cli/log.c - `ikada log [GRAPH]`: past runs, newest first; a no-op run in one
 * line, and a series of them of one graph in two. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cache/refs.h"
#include "cache/runlog.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/opt.h"

static int set_limit(const struct ik_optspec *s, const struct ik_opt *o, const char *value)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (*end || v < 0)
        return ik_opt_error(s->usage, "-n expects a count, got '%s'", value);
    *(long *)o->dest = v;
    return 0;
}

static void format_time(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* "ID  WHEN  exit 0  0.01 s  g.yaml: no-op, 3 cached" */
static void print_noop_text(const struct ik_run *r)
{
    char when[32];
    format_time(r->started_ms, when, sizeof when);
    printf("%s  %s  exit %d  %.2f s  %s: no-op, %zu cached\n", r->id, when, r->exit_code,
           (double)r->duration_ms / 1000.0, r->graph, r->noop_nodes);
}

/* How many of runs[i+1..n) continue runs[i]'s series of no-op runs of one graph. */
static size_t noop_series(const struct ik_run *runs, size_t n, size_t i)
{
    size_t k = i + 1;
    while (k < n && runs[k].noop && strcmp(runs[k].graph, runs[i].graph) == 0)
        k++;
    return k - i - 1;
}

static void print_run_text(const struct ik_run *r)
{
    char when[32];
    format_time(r->started_ms, when, sizeof when);
    size_t ran = 0, cached = 0, failed = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        ran += !strcmp(r->nodes[i].status, "ran");
        cached += !strcmp(r->nodes[i].status, "cached");
        failed += !strcmp(r->nodes[i].status, "failed");
    }
    printf("%s  %s  exit %d  %.2f s  %s: %zu ran, %zu cached, %zu failed\n", r->id, when,
           r->exit_code, (double)r->duration_ms / 1000.0, r->graph, ran, cached, failed);
    for (size_t i = 0; i < r->n_nodes; i++) {
        const struct ik_run_node *n = &r->nodes[i];
        printf("    %-20s %-8s %8.2f s%s%s\n", n->name, n->status, (double)n->duration_ms / 1000.0,
               n->error ? "  " : "", n->error ? n->error : "");
    }
}

static json_t *run_json(const struct ik_run *r)
{
    json_t *nodes = json_array();
    for (size_t i = 0; i < r->n_nodes; i++) {
        const struct ik_run_node *n = &r->nodes[i];
        char hex[IK_HASH_HEX_LEN + 1] = "";
        if (n->has_key)
            ik_hash_to_hex(&n->key, hex);
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s?, s:I, s:s?}", "name", n->name, "status",
                                               n->status, "key", hex[0] ? hex : NULL, "duration_ms",
                                               (json_int_t)n->duration_ms, "error", n->error));
    }
    json_t *argv = json_array();
    for (size_t i = 0; i < r->argc; i++)
        json_array_append_new(argv, json_string(r->argv[i]));
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:i, s:o, s:o, s:b}", "id", r->id, "graph", r->graph,
                          "started_ms", (json_int_t)r->started_ms, "duration_ms",
                          (json_int_t)r->duration_ms, "exit", r->exit_code, "argv", argv, "nodes",
                          nodes, "noop", r->noop);
    if (r->noop)
        json_object_set_new(o, "cached", json_integer((json_int_t)r->noop_nodes));
    return o;
}

static void print_runs_text(const struct ik_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].noop) {
            print_run_text(&runs[i]);
            continue;
        }
        print_noop_text(&runs[i]);
        size_t more = noop_series(runs, n, i);
        if (more > 0) {
            char when[32];
            format_time(runs[i + more].started_ms, when, sizeof when);
            printf("    and %zu earlier no-op run%s of %s, since %s\n", more, more == 1 ? "" : "s",
                   runs[i].graph, when);
        }
        i += more;
    }
}

/* The runs of one graph: by its identity (cache/refs.h), whatever path and
 * folder it was run from; a record older than identities in runs by the path
 * as typed. */
struct graph_match {
    const char *path;
    char *id;
};

static bool same_graph(const struct ik_run *r, void *arg)
{
    const struct graph_match *m = arg;
    if (r->graph_id && m->id)
        return strcmp(r->graph_id, m->id) == 0;
    return strcmp(r->graph, m->path) == 0;
}

int ik_cli_log(int argc, char **argv)
{
    bool json = false;
    long limit = 20;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"-n", NULL, IK_OPT_VALUE, &limit, set_limit},
                                  {0}};
    const char *graph = NULL;
    const struct ik_optspec spec = {
        .usage = "log [-n N] [--json] [GRAPH]", .opts = opts, .bad_option = "unexpected argument",
        .pos = &graph, .max_pos = 1,
        .help = "Lists past runs, newest first (default 20): when, which nodes ran or were cached, "
                "durations, exit status; with GRAPH, only that graph's runs. A no-op run (every "
                "node cached) takes one line, a series of them of one graph two.\n",
    };
    int status = ik_opt_parse(&spec, argc, argv, NULL);
    if (status != 0)
        return ik_opt_status(status);
    struct ik_cache *c = NULL;
    status = ik_cli_open_cache(false, &c);
    if (status != 0)
        return status;
    struct ik_run *runs = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_runlog_skipped skipped;
    /* One damaged record costs its own line of history, not the whole log. */
    struct graph_match m = {graph, graph ? ik_ref_graph_id(c, graph) : NULL};
    const struct ik_runlog_filter f = {.keep = same_graph, .arg = &m};
    int rc = ik_runlog_list_where(c, (size_t)limit, graph ? &f : NULL, &runs, &n, &skipped, &d);
    free(m.id);
    for (size_t i = 0; i < skipped.n; i++)
        fprintf(stderr, "ikada: warning: %s (skipped)\n", skipped.why[i]);
    ik_runlog_skipped_free(&skipped);
    if (rc < 0) {
        ik_diag_print(&d);
        status = IK_EXIT_FAILED;
    } else if (json) {
        json_t *all = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(all, run_json(&runs[i]));
        json_dumpf(all, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(all);
    } else {
        print_runs_text(runs, n);
        if (n == 0)
            printf("no runs%s%s recorded in %s\n", graph ? " of " : "", graph ? graph : "", c->root);
    }
    ik_diag_free(&d);
    ik_runs_free(runs, n);
    ik_cache_close(c);
    return status;
}
