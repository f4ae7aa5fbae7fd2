/* cli/status.c - `ikada status GRAPH`: what is up to date and why not, after
 * one line naming the graph's identity and the cache it was looked up in, and
 * a summary line; --stale and --exit-code serve CI and large graphs. A node
 * whose current key failed in the newest run that tried it is "failed", with
 * that run's error and the end of its log, rather than stale or never run.
 * With a remote cache configured, a node whose result is there but not here
 * is "remote": a run downloads it instead of running it. Status reads only
 * the remote's records, never the objects, and writes nothing locally. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/utf8.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "cache/lock.h"
#include "cache/remote.h"
#include "cache/runlog.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/failures.h"
#include "cli/opt.h"
#include "engine/plan.h"

/* What status says of a node; the order is that of the summary line. */
enum node_status { ST_UP_TO_DATE, ST_REMOTE, ST_STALE, ST_NEVER_RUN, ST_FAILED, ST_N };

static const char *const status_words[ST_N] = {"up-to-date", "remote", "stale", "never-run",
                                               "failed"};
/* The summary's words: "up to date" with spaces, so that counting the
 * "up-to-date" lines of the output is not thrown off by the summary. */
static const char *const summary_words[ST_N] = {"up to date", "on the remote", "stale",
                                                "never run", "failed"};
static const char *const summary_keys[ST_N] = {"up_to_date", "remote", "stale", "never_run",
                                               "failed"};

/* Nodes in these states would not run: their results exist somewhere. */
#define WOULD_NOT_RUN(counts) ((counts)[ST_UP_TO_DATE] + (counts)[ST_REMOTE])

/* Lines of a failed run's log that status shows; `cache show` shows more. */
#define STATUS_LOG_LINES 5

static enum node_status status_of(const struct ik_plan_entry *e, const struct ik_run_failure *f)
{
    if (e->state == IK_PLAN_CACHED)
        return e->from_remote ? ST_REMOTE : ST_UP_TO_DATE;
    if (f && f->failed)
        return ST_FAILED;
    if (e->never_run)
        return ST_NEVER_RUN;
    return ST_STALE;
}

struct status_opts {
    bool json;
    bool stale_only; /* --stale: list only the nodes that would run */
    bool exit_code;  /* --exit-code: 1 when any node would run */
};

/* "4 nodes: 2 up to date, 1 stale, 1 never run; 2 would run". A state no
 * node is in is left out, so the line names only what is there. */
static void print_summary(const size_t *counts, size_t total)
{
    printf("%zu node%s:", total, total == 1 ? "" : "s");
    bool first = true;
    for (int s = 0; s < ST_N; s++)
        if (counts[s]) {
            printf("%s %zu %s", first ? "" : ",", counts[s], summary_words[s]);
            first = false;
        }
    size_t would_run = total - WOULD_NOT_RUN(counts);
    if (would_run)
        printf("; %zu would run\n", would_run);
    else
        printf("; nothing would run\n");
}

static json_t *summary_json(const size_t *counts, size_t total)
{
    json_t *o = json_pack("{s:I, s:I}", "nodes", (json_int_t)total, "would_run",
                          (json_int_t)(total - WOULD_NOT_RUN(counts)));
    for (int s = 0; s < ST_N; s++)
        json_object_set_new(o, summary_keys[s], json_integer((json_int_t)counts[s]));
    return o;
}

/* Prints the nodes and the summary; returns how many would run. */
static size_t print_status(const struct ik_graph *g, struct ik_plan *p, const struct status_opts *o)
{
    struct ik_run_failure *failures = ik_cli_find_failures(p, g->n_nodes);
    /* Which results these are: the graph's identity names its refs (cache/refs.h). */
    if (!o->json)
        printf("graph %s in cache %s\n", ik_plan_graph_id(p), p->cache->root);
    json_t *nodes = json_array();
    size_t counts[ST_N] = {0};
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        const struct ik_plan_entry *e = &p->entries[i];
        const struct ik_run_failure *f = failures ? &failures[i] : NULL;
        enum node_status st = status_of(e, f);
        counts[st]++;
        if (o->stale_only && (st == ST_UP_TO_DATE || st == ST_REMOTE))
            continue;
        char hex[IK_HASH_HEX_LEN + 1] = "", log[IK_HASH_HEX_LEN + 1] = "";
        if (e->key_known)
            ik_hash_to_hex(&e->key, hex);
        if (st == ST_FAILED && f->has_log)
            ik_hash_to_hex(&f->log, log);
        char *reason = st == ST_FAILED ? ik_cli_failure_reason(f) : NULL;
        const char *why = reason ? reason
                          : st == ST_REMOTE ? "on the remote cache (a run downloads it)"
                                            : e->reason;
        if (o->json) {
            json_array_append_new(nodes, json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "name",
                                                   g->nodes[i].name, "status", status_words[st],
                                                   "key", hex[0] ? hex : NULL, "reason", why,
                                                   "log", log[0] ? log : NULL));
        } else {
            printf("%s%*s %-11s %s\n", g->nodes[i].name, ik_utf8_pad(g->nodes[i].name, 20), "",
                   status_words[st], why ? why : "");
            if (st == ST_FAILED && f->has_log)
                ik_cli_print_log_tail(p->cache, &f->log, f->error, STATUS_LOG_LINES, stdout);
        }
        free(reason);
    }
    ik_cli_failures_free(failures, g->n_nodes);
    if (o->json) {
        json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "graph", g->path, "graph_id",
                                ik_plan_graph_id(p), "cache", p->cache->root, "nodes", nodes,
                                "summary", summary_json(counts, g->n_nodes));
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        json_decref(nodes);
        print_summary(counts, g->n_nodes);
    }
    return g->n_nodes - WOULD_NOT_RUN(counts);
}

int ik_cli_status(int argc, char **argv)
{
    struct status_opts so = {0};
    const char *path = NULL, *remote_flag = NULL;
    struct ik_opt_list sets = {NULL, 0};
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &so.json, NULL},
                                  {"--set", "-S", IK_OPT_LIST, &sets, NULL},
                                  {"--stale", NULL, IK_OPT_FLAG, &so.stale_only, NULL},
                                  {"--exit-code", NULL, IK_OPT_FLAG, &so.exit_code, NULL},
                                  {"--remote", NULL, IK_OPT_VALUE, &remote_flag, NULL},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "status [-S NODE.PARAM=VALUE]... [--json] [--stale] [--exit-code]\n"
                 "              [--remote SETTING] GRAPH",
        .opts = opts, .pos = &path, .min_pos = 1, .max_pos = 1,
        .help = "Says for every node whether it is up to date, stale (and why: which param or "
                "input changed), never run, or failed (its current key failed in the newest run "
                "that tried it: that run's error and the end of its log), or remote (not here,\n"
                "but on the remote cache: a run downloads it), then a summary line.\n\n"
                "  -S, --set NODE.PARAM=VALUE   as `ikada run -S`: the status of that run\n"
                "  --stale                      list only the nodes that would run\n"
                "  --exit-code                  exit 1 when any node would run (0 when all are\n"
                "                               up to date or remote), for CI; bad input still\n"
                "                               exits 2\n"
                "  --remote SETTING             the remote cache to look in, as `ikada run\n"
                "                               --remote` ('' for none); only its records are\n"
                "                               read\n",
        .bad_option = "unexpected argument", .missing = "no graph file given",
    };
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0) {
        free(sets.items);
        return ik_opt_status(rc);
    }
    struct ik_graph *g = NULL;
    struct ik_cache *c = NULL;
    struct ik_srcmemo *m = NULL;
    int status = ik_cli_load_graph_sets(path, sets.items, sets.n, &g);
    free(sets.items);
    if (status == 0)
        status = ik_cli_open_cache(true, &c);
    struct ik_remote *remote = NULL;
    if (status == 0)
        status = ik_cli_open_remote(remote_flag, g, &remote);
    struct ik_diag d = IK_DIAG_INIT;
    if (status == 0 && ik_srcmemo_open(c, &m, &d) < 0)
        status = IK_EXIT_FAILED;
    if (status == 0) {
        struct ik_plan p;
        ik_plan_init(&p, g, c, m);
        p.remote = remote;
        p.remote_peek = true;
        if (ik_plan_check_sources(&p, NULL, &d) < 0 || ik_plan_resolve_all(&p, NULL, NULL, &d) < 0)
            status = IK_EXIT_USAGE;
        else if (print_status(g, &p, &so) > 0 && so.exit_code)
            status = IK_EXIT_FAILED;
        ik_plan_close(&p);
    }
    if (d.code)
        ik_diag_print(&d);
    ik_diag_free(&d);
    ik_srcmemo_close(m);
    ik_remote_close(remote);
    ik_cache_close(c);
    ik_graph_free(g);
    return status;
}
