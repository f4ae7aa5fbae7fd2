/* cli/log.c - `ikada log`: past runs, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

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
    return json_pack("{s:s, s:s, s:I, s:I, s:i, s:o, s:o}", "id", r->id, "graph", r->graph,
                     "started_ms", (json_int_t)r->started_ms, "duration_ms",
                     (json_int_t)r->duration_ms, "exit", r->exit_code, "argv", argv, "nodes", nodes);
}

int ik_cli_log(int argc, char **argv)
{
    bool json = false;
    long limit = 20;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"-n", NULL, IK_OPT_VALUE, &limit, set_limit},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "log [-n N] [--json]", .opts = opts, .bad_option = "unexpected argument",
        .help = "Lists past runs, newest first (default 20): when, which nodes ran or were cached, "
                "durations, exit status.\n",
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
    int rc = ik_runlog_list_readable(c, (size_t)limit, &runs, &n, &skipped, &d);
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
        for (size_t i = 0; i < n; i++)
            print_run_text(&runs[i]);
        if (n == 0)
            printf("no runs recorded in %s\n", c->root);
    }
    ik_diag_free(&d);
    ik_runs_free(runs, n);
    ik_cache_close(c);
    return status;
}
