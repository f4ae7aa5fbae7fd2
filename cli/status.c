/* cli/status.c - `ikada status GRAPH`: what is up to date and why not, after
 * one line naming the graph's identity and the cache it was looked up in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/utf8.h"
#include "base/error.h"
#include "cache/lock.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "engine/plan.h"

static const char *status_word(const struct ik_plan_entry *e)
{
    if (e->state == IK_PLAN_CACHED)
        return "up-to-date";
    if (e->never_run)
        return "never-run";
    return "stale";
}

static void print_status(const struct ik_graph *g, struct ik_plan *p, bool json)
{
    /* Which results these are: the graph's identity names its refs (cache/refs.h). */
    if (!json)
        printf("graph %s in cache %s\n", ik_plan_graph_id(p), p->cache->root);
    json_t *nodes = json_array();
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        const struct ik_plan_entry *e = &p->entries[i];
        char hex[IK_HASH_HEX_LEN + 1] = "";
        if (e->key_known)
            ik_hash_to_hex(&e->key, hex);
        if (json)
            json_array_append_new(nodes, json_pack("{s:s, s:s, s:s?, s:s?}", "name", g->nodes[i].name,
                                                   "status", status_word(e), "key", hex[0] ? hex : NULL,
                                                   "reason", e->reason));
        else
            printf("%s%*s %-11s %s\n", g->nodes[i].name, ik_utf8_pad(g->nodes[i].name, 20), "",
                   status_word(e), e->reason ? e->reason : "");
    }
    if (json) {
        json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "graph", g->path, "graph_id",
                                ik_plan_graph_id(p), "cache", p->cache->root, "nodes", nodes);
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        json_decref(nodes);
    }
}

int ik_cli_status(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    struct ik_opt_list sets = {NULL, 0};
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--set", "-S", IK_OPT_LIST, &sets, NULL},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "status [-S NODE.PARAM=VALUE]... [--json] GRAPH", .opts = opts, .pos = &path, .min_pos = 1, .max_pos = 1,
        .help = "Says for every node whether it is up to date, stale (and why: which param or "
                "input changed) or never run.\n"
                "  -S, --set NODE.PARAM=VALUE   as `ikada run -S`: the status of that run\n",
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
    struct ik_diag d = IK_DIAG_INIT;
    if (status == 0 && ik_srcmemo_open(c, &m, &d) < 0)
        status = IK_EXIT_FAILED;
    if (status == 0) {
        struct ik_plan p;
        ik_plan_init(&p, g, c, m);
        if (ik_plan_check_sources(&p, NULL, &d) < 0 || ik_plan_resolve_all(&p, NULL, NULL, &d) < 0)
            status = IK_EXIT_USAGE;
        else
            print_status(g, &p, json);
        ik_plan_close(&p);
    }
    if (d.code)
        ik_diag_print(&d);
    ik_diag_free(&d);
    ik_srcmemo_close(m);
    ik_cache_close(c);
    ik_graph_free(g);
    return status;
}
