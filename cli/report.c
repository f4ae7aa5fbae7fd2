/* cli/report.c - `ikada report GRAPH`: one page from the artifacts the
 * graph's refs name (cli/report_model.h), as HTML, Markdown or JSON.
 *
 * Nodes are found by type (report_sections.h), so a graph may name them
 * anything and two evaluate nodes give two sections. A node's figures are
 * those of its current key's action when it is up to date; when the graph
 * changed since, those of the key its ref last moved to, with the section
 * saying why they are stale; a node with neither is listed as not run yet,
 * with why (never run, or the error of its failed run), and the report still
 * succeeds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "cache/action.h"
#include "cache/artifact.h"
#include "cache/cas.h"
#include "cache/refs.h"
#include "cache/runlog.h"
#include "cache/srcmemo.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/failures.h"
#include "cli/opt.h"
#include "cli/report_model.h"
#include "cli/report_sections.h"
#include "engine/plan.h"

static const char report_usage[] = "report [-o FILE] [--format html|md|json] GRAPH";
static const char report_help[] =
    "Writes one page about a graph's last results: the data splits, the CoT answers' cost and\n"
    "failures, the training curves, the evaluation against the reference's published figures,\n"
    "the JCQ regression, the GGUF export, each with the node, key and time it comes from.\n"
    "Nodes that have no result yet are listed, not an error.\n\n"
    "  -o, --output FILE  write to FILE instead of stdout\n"
    "  --format F         html (default; one self-contained file), md or json;\n"
    "                     without it, -o's extension .md or .json chooses\n";

static const struct {
    const char *name;
    void (*render)(const struct ik_report *r, struct ik_buf *out);
} formats[] = {{"html", ik_report_html}, {"md", ik_report_md}, {"json", ik_report_json}};

/* --format, else -o's extension, else html; NULL for an unknown name. */
static void (*pick_format(const char *format, const char *output))(const struct ik_report *,
                                                                   struct ik_buf *)
{
    if (format == NULL && output != NULL) {
        const char *dot = strrchr(output, '.');
        if (dot && (strcmp(dot, ".md") == 0 || strcmp(dot, ".json") == 0))
            format = dot + 1;
    }
    if (format == NULL)
        format = "html";
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (strcmp(formats[i].name, format) == 0)
            return formats[i].render;
    return NULL;
}

/* Why node i's current key failed the last time it ran, or NULL. */
static char *last_failure(const struct ik_run_failure *failures, size_t i)
{
    return failures && failures[i].failed ? ik_cli_failure_reason(&failures[i]) : NULL;
}

/* The action whose outputs the report shows for node i, or NULL; *stale gets
 * why it is not the graph's current result (NULL when it is). */
static struct ik_action *result_of(struct ik_plan *p, size_t i, char **stale)
{
    const struct ik_plan_entry *e = &p->entries[i];
    *stale = NULL;
    if (e->state == IK_PLAN_CACHED && e->action) {
        struct ik_action *a = NULL;
        struct ik_diag d = IK_DIAG_INIT;
        ik_action_get(p->cache, &e->action->key, &a, &d);
        ik_diag_free(&d);
        return a;
    }
    struct ik_refset *rs = ik_plan_refs(p);
    const struct ik_hash *key = rs ? ik_refset_get(rs, p->graph->nodes[i].name) : NULL;
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (key == NULL || ik_action_get(p->cache, key, &a, &d) < 0 ||
        !ik_action_outputs_present(p->cache, a)) {
        ik_diag_free(&d);
        ik_action_free(a);
        return NULL;
    }
    *stale = ik_xstrdup(e->reason ? e->reason : "the graph changed since it ran");
    return a;
}

/* A mapped and unpacked artifact: the unpacked objects point into the blob. */
struct loaded {
    struct ik_blob blob;
    msgpack_unpacked u;
};

/* Loads the output of kind `kind` of a; 0, or -1 with *why (nothing to release). */
static int load(const struct ik_cache *c, const struct ik_action *a, const char *kind,
                struct loaded *l, char **why)
{
    const struct ik_action_output *o = NULL;
    for (size_t i = 0; i < a->n_outputs && o == NULL; i++)
        if (strcmp(a->outputs[i].kind, kind) == 0)
            o = &a->outputs[i];
    if (o == NULL) {
        *why = ik_xasprintf("its result has no %s artifact", kind);
        return -1;
    }
    struct ik_diag d = IK_DIAG_INIT;
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&o->hash, hex);
    msgpack_unpacked_init(&l->u);
    int rc = ik_cas_map_verified(c, &o->hash, o->size, &l->blob, &d);
    if (rc == 0 && (rc = ik_artifact_unpack(l->blob.data, l->blob.len, &l->u, hex, &d)) < 0)
        ik_blob_release(&l->blob);
    if (rc < 0) {
        *why = ik_xasprintf("its %s artifact %.12s cannot be read: %s", kind, hex,
                            d.text ? d.text : "unknown error");
        msgpack_unpacked_destroy(&l->u);
    }
    ik_diag_free(&d);
    return rc < 0 ? -1 : 0;
}

static void report_node(struct ik_report *r, struct ik_plan *p, size_t i,
                        const struct ik_run_failure *failures)
{
    const struct ik_graph_node *n = &p->graph->nodes[i];
    const struct ik_report_kind *k = ik_report_kind_of(n->type->name);
    if (k == NULL)
        return;
    char *stale = NULL, *why = NULL;
    struct ik_action *a = result_of(p, i, &stale);
    struct loaded l;
    bool shown = false;
    if (a == NULL) {
        why = last_failure(failures, i);
        if (why == NULL)
            why = ik_xstrdup(p->entries[i].never_run || p->entries[i].reason == NULL
                                 ? "never run" : p->entries[i].reason);
    } else if (load(p->cache, a, k->kind, &l, &why) == 0) {
        struct ik_rsection *s = ik_report_section(r, n->type->name, n->name, k->title);
        s->kind = ik_xstrdup(k->kind);
        ik_hash_to_hex(&a->key, s->key);
        s->ran_ms = a->started_ms;
        s->took_ms = a->duration_ms;
        /* A failed run since says more than "a param changed". */
        char *failed = stale ? last_failure(failures, i) : NULL;
        s->stale = failed ? failed : stale;
        if (failed)
            free(stale);
        stale = NULL;
        k->fill(s, &l.u.data);
        msgpack_unpacked_destroy(&l.u);
        ik_blob_release(&l.blob);
        shown = true;
    }
    if (!shown)
        ik_report_missing(r, n->name, n->type->name, why);
    free(why);
    free(stale);
    ik_action_free(a);
}

/* Which nodes can be planned: those whose file inputs, and their producers',
 * exist. A missing predictions file must not hide the results of the rest. */
static bool *plannable(struct ik_plan *p)
{
    const struct ik_graph *g = p->graph;
    bool *ok = ik_xcalloc(g->n_nodes, sizeof *ok), *one = ik_xcalloc(g->n_nodes, sizeof *one);
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        struct ik_diag d = IK_DIAG_INIT;
        one[i] = true;
        ok[i] = ik_plan_check_sources(p, one, &d) == 0;
        one[i] = false;
        ik_diag_free(&d);
        for (size_t j = 0; j < g->nodes[i].n_inputs && ok[i]; j++)
            if (g->nodes[i].inputs[j].source == IK_INPUT_NODE)
                ok[i] = ok[g->nodes[i].inputs[j].node];
    }
    free(one);
    return ok;
}

/* Fills r from the graph's plan. A node that cannot be planned (an input
 * file missing) shows its last result as stale, or is listed as not run. */
static int build(struct ik_graph *g, struct ik_cache *c, struct ik_report *r)
{
    struct ik_srcmemo *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_srcmemo_open(c, &m, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        return IK_EXIT_FAILED;
    }
    struct ik_plan p;
    ik_plan_init(&p, g, c, m);
    bool *ok = plannable(&p);
    int status = 0;
    if (ik_plan_resolve_all(&p, ok, NULL, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        status = IK_EXIT_FAILED;
    }
    struct ik_refset *refs = ik_plan_refs(&p);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!ok[i] && p.entries[i].reason == NULL)
            p.entries[i].reason = ik_xstrdup(refs && ik_refset_get(refs, g->nodes[i].name)
                                                 ? "an input file is missing (ikada status names it)"
                                                 : "never run, and an input file is missing (ikada "
                                                   "status names it)");
    r->graph = ik_xstrdup(g->path);
    r->graph_id = ik_xstrdup(ik_plan_graph_id(&p));
    r->made_ms = ik_clock_wall_ms();
    struct ik_run_failure *failures = status == 0 ? ik_cli_find_failures(&p, g->n_nodes) : NULL;
    for (size_t k = 0; k < g->n_nodes && status == 0; k++)
        report_node(r, &p, g->topo[k], failures);
    ik_cli_failures_free(failures, g->n_nodes);
    free(ok);
    ik_plan_close(&p);
    ik_srcmemo_close(m);
    return status;
}

static int write_out(const char *path, const struct ik_buf *b)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (f == NULL) {
        fprintf(stderr, "ikada: error: cannot write %s: %s\n", path, strerror(errno));
        return IK_EXIT_FAILED;
    }
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    ok = (path ? fclose(f) == 0 : fflush(f) == 0) && ok;
    if (!ok) {
        fprintf(stderr, "ikada: error: cannot write %s: %s\n", path ? path : "stdout",
                strerror(errno));
        return IK_EXIT_FAILED;
    }
    return IK_EXIT_OK;
}

int ik_cli_report(int argc, char **argv)
{
    const char *graph = NULL, *output = NULL, *format = NULL;
    const struct ik_opt opts[] = {{"--output", "-o", IK_OPT_VALUE, &output, NULL},
                                  {"--format", NULL, IK_OPT_VALUE, &format, NULL},
                                  {0}};
    const struct ik_optspec spec = {.usage = report_usage, .help = report_help, .opts = opts,
                                    .pos = &graph, .min_pos = 1, .max_pos = 1,
                                    .flags = IK_OPT_EQUALS, .missing = "no graph file given"};
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    void (*render)(const struct ik_report *, struct ik_buf *) = pick_format(format, output);
    if (render == NULL)
        return ik_opt_error(report_usage, "--format is '%s', expected html, md or json", format);
    struct ik_graph *g = NULL;
    struct ik_cache *c = NULL;
    int status = ik_cli_load_graph(graph, &g);
    if (status == 0)
        status = ik_cli_open_cache(true, &c);
    struct ik_report r = {0};
    if (status == 0)
        status = build(g, c, &r);
    if (status == 0) {
        struct ik_buf out = IK_BUF_INIT;
        render(&r, &out);
        status = write_out(output, &out);
        ik_buf_free(&out);
    }
    ik_report_free(&r);
    ik_cache_close(c);
    ik_graph_free(g);
    return status;
}
