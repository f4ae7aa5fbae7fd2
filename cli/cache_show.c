/* cli/cache_show.c - `ikada cache ls` and `ikada cache show`.
 *
 * ls lists the outputs of action records (each object once, under its newest
 * producer); --all adds the other objects (logs, spec objects). show renders a
 * REF: an action record with its log, a node's log, or an object's header and
 * preview (query/preview.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "base/mpjson.h"
#include "query/preview.h"
#include "base/buf.h"
#include "base/clock.h"
#include "cli/cli.h"
#include "cli/cache_int.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "base/strmap.h"
#include "cache/cas.h"
#include "cache/refs.h"
#include "cache/runlog.h"
#include "cli/common.h"

/* ---- ls ---- */

struct ls_row {
    struct ik_hash hash;
    const char *kind;
    char *kind_owned;
    uint64_t size;
    const struct ik__cc_prod *prod; /* NULL for an object no action produced */
    int64_t time_ms;
};

struct ls_ctx {
    const struct ik_cache *c;
    const struct ik__cc_index *ix;
    struct ls_row *rows;
    size_t n, cap;
};

static bool listed(const struct ls_ctx *x, const struct ik_hash *h)
{
    for (size_t i = 0; i < x->n; i++)
        if (ik_hash_equal(&x->rows[i].hash, h))
            return true;
    return false;
}

static struct ls_row *add_row(struct ls_ctx *x)
{
    x->rows = ik_xgrow(x->rows, &x->cap, x->n + 1, sizeof *x->rows);
    struct ls_row *r = &x->rows[x->n++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The kind of an object no action lists as an output. */
static char *other_kind(const struct ik_cache *c, const struct ik__cc_index *ix,
                        const struct ik_hash *h)
{
    for (size_t i = 0; i < ix->n_keys; i++)
        if (ik_hash_equal(&ix->keys[i], h))
            return ik_xstrdup("spec");
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cas_map(c, h, UINT64_MAX, &b, &d) < 0) {
        ik_diag_free(&d);
        return ik_xstrdup("?");
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *kind;
    switch (ik_preview_classify(b.data, b.len, &u)) {
    case IK_OBJECT_ARTIFACT: kind = ik_mp_strdup(ik_mp_get(&u.data, "kind")); break;
    case IK_OBJECT_MSGPACK: kind = ik_xstrdup("msgpack"); break;
    case IK_OBJECT_TEXT: kind = ik_xstrdup("text"); break;
    default: kind = ik_xstrdup("binary"); break;
    }
    msgpack_unpacked_destroy(&u);
    ik_blob_release(&b);
    return kind;
}

static int add_other(const struct ik_hash *h, uint64_t size, int64_t mtime_s, void *arg)
{
    struct ls_ctx *x = arg;
    if (listed(x, h))
        return 0;
    struct ls_row *r = add_row(x);
    r->hash = *h;
    r->size = size;
    r->time_ms = mtime_s * 1000;
    r->prod = ik__cc_index_find(x->ix, h); /* a log has a producer */
    r->kind = r->kind_owned = r->prod ? ik_xstrdup(r->prod->kind) : other_kind(x->c, x->ix, h);
    return 0;
}

/* What the refs and runs say of the listed objects: which ones a ref names
 * (of the graph --graph selects, or of any graph), and with --graph which
 * ones that graph's nodes made, now or in a recorded run (an object does not
 * know its graph: node names and bytes are shared between graphs). */
struct ls_refs {
    struct ik_strmap named;    /* object hash bytes of a ref's outputs */
    struct ik_strmap of_graph; /* object hash bytes made under one of the graph's keys */
};

static void put_hash(struct ik_strmap *m, const struct ik_hash *h)
{
    ik_strmap_put(m, (const char *)h->b, IK_HASH_BYTES, 1);
}

static bool has_hash(const struct ik_strmap *m, const struct ik_hash *h)
{
    return ik_strmap_get(m, (const char *)h->b, IK_HASH_BYTES) >= 0;
}

/* The objects (not logs) the index says a key of `keys` produced, into out. */
static void objects_of(const struct ik__cc_index *ix, const struct ik_strmap *keys,
                       struct ik_strmap *out)
{
    for (size_t i = 0; i < ix->n; i++)
        if (!ix->items[i].is_log && has_hash(keys, &ix->items[i].key))
            put_hash(out, &ix->items[i].object);
}

/* Adds the keys the recorded runs of graph `sel` ran or found. */
static int run_keys(const struct ik_cache *c, const char *sel, struct ik_strmap *keys,
                    struct ik_diag *d)
{
    struct ik_run *runs = NULL;
    size_t n = 0;
    struct ik_runlog_skipped skipped;
    int rc = ik_runlog_list_where(c, 0, NULL, &runs, &n, &skipped, d);
    ik_runlog_skipped_free(&skipped);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *id = runs[i].graph_id ? runs[i].graph_id : runs[i].graph;
        for (size_t k = 0; ik_ref_graph_match(id, sel) && k < runs[i].n_nodes; k++)
            if (runs[i].nodes[k].has_key)
                put_hash(keys, &runs[i].nodes[k].key);
    }
    ik_runs_free(runs, n);
    return rc;
}

static int load_ls_refs(const struct ik_cache *c, const struct ik__cc_index *ix, const char *graph,
                        struct ls_refs *lr, struct ik_diag *d)
{
    memset(lr, 0, sizeof *lr);
    struct ik_ref *refs = NULL;
    size_t n = 0;
    int rc = ik_ref_list(c, IK_REF_LIST_SKIP_BAD, &refs, &n, d);
    if (rc < 0)
        return rc;
    struct ik_strmap keys = IK_STRMAP_INIT;
    for (size_t i = 0; i < n; i++)
        if (graph == NULL || ik_ref_graph_match(refs[i].graph, graph))
            put_hash(&keys, &refs[i].key);
    ik_refs_free(refs, n);
    objects_of(ix, &keys, &lr->named);
    if (graph && (rc = run_keys(c, graph, &keys, d)) == 0)
        objects_of(ix, &keys, &lr->of_graph);
    ik_strmap_free(&keys);
    return rc;
}

static bool ref_named(const struct ls_refs *lr, const struct ls_row *r)
{
    return has_hash(&lr->named, &r->hash);
}

/* --graph: made by one of the graph's keys; --node: by that node. */
static bool ls_keeps(const struct ls_refs *lr, const struct ls_row *r, const char *graph,
                     const char *node)
{
    if (node && (r->prod == NULL || strcmp(r->prod->node, node) != 0))
        return false;
    return graph == NULL || has_hash(&lr->of_graph, &r->hash);
}

static int by_time(const void *a, const void *b)
{
    const struct ls_row *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? 1 : -1;
    return memcmp(x->hash.b, y->hash.b, IK_HASH_BYTES);
}

static const char ls_help[] =
    "Lists every artifact (an output of an action record), newest first: hash,\n"
    "kind, size, producer (node.port) and age; '*' marks those a graph's refs name\n"
    "(the graph's current results; with --graph, that graph's).\n\n"
    "  --kind K    only artifacts of kind K\n"
    "  --graph G   only those of G's nodes (G as in a REF: path or file name)\n"
    "  --node N    only those node N produced\n"
    "  --all       also objects that are no action's output (logs, spec objects)\n"
    "  --json      a JSON array of {hash, kind, size, producer, created_ms, ref}\n";

int ik__cc_ls(int argc, char **argv)
{
    bool json = false, all = false;
    const char *kind = NULL, *graph = NULL, *node = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--all", NULL, IK_OPT_FLAG, &all, NULL},
                                  {"--kind", NULL, IK_OPT_VALUE, &kind, NULL},
                                  {"--graph", NULL, IK_OPT_VALUE, &graph, NULL},
                                  {"--node", NULL, IK_OPT_VALUE, &node, NULL},
                                  {0}};
    const struct ik_optspec spec = {.usage = "cache ls [--kind K] [--graph G] [--node N] [--all] [--json]",
                                    .help = ls_help,
                                    .opts = opts, .flags = IK__CC_ARGS};
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        rc = ik__cc_begin("ls", IK__CC_INDEX, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    struct ik_cache *c = s.c;
    struct ls_ctx x = {c, &s.ix, NULL, 0, 0};
    for (size_t i = 0; i < s.ix.n; i++) {
        const struct ik__cc_prod *p = &s.ix.items[i];
        uint64_t size;
        /* Newest first, so the first producer seen is the newest; skip objects gc removed. */
        if (p->is_log || listed(&x, &p->object) || ik_cas_stat(c, &p->object, &size) < 0)
            continue;
        struct ls_row *r = add_row(&x);
        r->hash = p->object;
        r->kind = p->kind;
        r->size = size;
        r->prod = p;
        r->time_ms = p->time_ms;
    }
    if (all)
        ik_cas_foreach(c, add_other, &x);
    if (x.n)
        qsort(x.rows, x.n, sizeof *x.rows, by_time);
    struct ls_refs lr;
    struct ik_diag d = IK_DIAG_INIT;
    if (load_ls_refs(c, &s.ix, graph, &lr, &d) < 0) {
        ik_strmap_free(&lr.named);
        ik_strmap_free(&lr.of_graph);
        for (size_t i = 0; i < x.n; i++)
            free(x.rows[i].kind_owned);
        free(x.rows);
        ik__cc_end(&s);
        return ik__cc_fail(&d);
    }
    struct ik_buf out = IK_BUF_INIT;
    struct ik_jsonw w;
    ik_jsonw_init(&w, &out, 2);
    if (json)
        ik_jsonw_begin_array(&w);
    else
        ik_buf_printf(&out, "  %-12s  %-16s %10s  %-24s %s\n", "HASH", "KIND", "SIZE", "PRODUCER", "AGE");
    int64_t now = ik_clock_wall_ms();
    for (size_t i = 0; i < x.n; i++) {
        const struct ls_row *r = &x.rows[i];
        if ((kind && strcmp(r->kind, kind) != 0) || !ls_keeps(&lr, r, graph, node))
            continue;
        bool named = ref_named(&lr, r);
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&r->hash, hex);
        if (json) {
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "hash");
            ik_jsonw_str(&w, hex);
            ik_jsonw_key(&w, "kind");
            ik_jsonw_str(&w, r->kind);
            ik_jsonw_key(&w, "size");
            ik_jsonw_uint(&w, r->size);
            ik_jsonw_key(&w, "producer");
            if (r->prod) {
                char key[IK_HASH_HEX_LEN + 1];
                ik_hash_to_hex(&r->prod->key, key);
                ik_jsonw_begin_object(&w);
                ik_jsonw_key(&w, "node");
                ik_jsonw_str(&w, r->prod->node);
                ik_jsonw_key(&w, "port");
                ik_jsonw_str(&w, r->prod->port);
                ik_jsonw_key(&w, "key");
                ik_jsonw_str(&w, key);
                ik_jsonw_end_object(&w);
            } else {
                ik_jsonw_null(&w);
            }
            ik_jsonw_key(&w, "created_ms");
            ik_jsonw_int(&w, r->time_ms);
            ik_jsonw_key(&w, "ref");
            ik_jsonw_bool(&w, named);
            ik_jsonw_end_object(&w);
        } else {
            char hs[32], age[16], *prod = NULL;
            ik_preview_human_size(r->size, hs);
            ik__cc_age(now - r->time_ms, age);
            if (r->prod)
                prod = ik_xasprintf("%s.%s", r->prod->node, r->prod->port);
            const char *by = prod ? prod : "-";
            ik_buf_printf(&out, "%c %.12s  %-16s %10s  %s%*s %s\n", named ? '*' : ' ', hex, r->kind, hs,
                          by, ik_utf8_pad(by, 24), "", age);
            free(prod);
        }
    }
    if (json) {
        ik_jsonw_end_array(&w);
        ik_buf_putc(&out, '\n');
    }
    ik__cc_out(&out);
    ik_buf_free(&out);
    for (size_t i = 0; i < x.n; i++)
        free(x.rows[i].kind_owned);
    free(x.rows);
    ik_strmap_free(&lr.named);
    ik_strmap_free(&lr.of_graph);
    ik__cc_end(&s);
    return IK_EXIT_OK;
}

/* ---- show ---- */

static void iso_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The action's log text into *log (mapped), if it has one that exists and is
 * intact. A corrupt log is quarantined and reported on stderr; *corrupt says so. */
static bool map_log(const struct ik_cache *c, const struct ik_action *a, struct ik_blob *log,
                    bool *corrupt)
{
    struct ik_diag d = IK_DIAG_INIT;
    int rc = a->has_log ? ik_cas_map_verified(c, &a->log, UINT64_MAX, log, &d) : -ENOENT;
    *corrupt = rc == IK_ECORRUPT;
    if (*corrupt) {
        ik_diag_prefix(&d, "the log of %s: ", a->node ? a->node : "the action");
        ik_diag_print(&d);
    }
    ik_diag_free(&d);
    return rc == 0;
}

/* Renders the action; returns false when its log was corrupt. */
static bool show_action(const struct ik_cache *c, const struct ik_action *a, bool json,
                        struct ik_buf *out)
{
    char key[IK_HASH_HEX_LEN + 1], when[32];
    ik_hash_to_hex(&a->key, key);
    iso_time(a->started_ms, when);
    struct ik_blob log;
    bool corrupt_log;
    bool has_log = map_log(c, a, &log, &corrupt_log);
    if (json) {
        struct ik_jsonw w;
        ik_jsonw_init(&w, out, 2);
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "action");
        ik_jsonw_str(&w, key);
        ik_jsonw_key(&w, "node");
        ik_jsonw_str(&w, a->node ? a->node : "");
        ik_jsonw_key(&w, "type");
        ik_jsonw_str(&w, a->type ? a->type : "");
        ik_jsonw_key(&w, "version");
        ik_jsonw_int(&w, a->version);
        ik_jsonw_key(&w, "started_ms");
        ik_jsonw_int(&w, a->started_ms);
        ik_jsonw_key(&w, "duration_ms");
        ik_jsonw_int(&w, a->duration_ms);
        ik_jsonw_key(&w, "outputs");
        ik_jsonw_begin_array(&w);
        for (size_t i = 0; i < a->n_outputs; i++) {
            char h[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&a->outputs[i].hash, h);
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "port");
            ik_jsonw_str(&w, a->outputs[i].port);
            ik_jsonw_key(&w, "hash");
            ik_jsonw_str(&w, h);
            ik_jsonw_key(&w, "size");
            ik_jsonw_uint(&w, a->outputs[i].size);
            ik_jsonw_key(&w, "kind");
            ik_jsonw_str(&w, a->outputs[i].kind ? a->outputs[i].kind : "");
            ik_jsonw_end_object(&w);
        }
        ik_jsonw_end_array(&w);
        ik_jsonw_key(&w, "counters");
        ik_jsonw_begin_object(&w);
        for (size_t i = 0; i < a->n_counters; i++) {
            ik_jsonw_key(&w, a->counters[i].name);
            ik_jsonw_double(&w, a->counters[i].value);
        }
        ik_jsonw_end_object(&w);
        ik_jsonw_key(&w, "log");
        if (has_log)
            ik_jsonw_strn(&w, (const char *)log.data, log.len, 0);
        else
            ik_jsonw_null(&w);
        ik_jsonw_end_object(&w);
        ik_buf_putc(out, '\n');
    } else {
        ik_buf_printf(out, "action   %s\nnode     %s\ntype     %s (version %d)\n", key,
                      a->node ? a->node : "?", a->type ? a->type : "?", a->version);
        ik_buf_printf(out, "started  %s\nduration %.3f s\noutputs  %zu\n", when,
                      (double)a->duration_ms / 1000, a->n_outputs);
        for (size_t i = 0; i < a->n_outputs; i++) {
            char h[13], hs[32];
            ik__cc_hex12(&a->outputs[i].hash, h);
            ik_preview_human_size(a->outputs[i].size, hs);
            ik_buf_printf(out, "  %-14s %s  %-16s %s\n", a->outputs[i].port, h,
                          a->outputs[i].kind ? a->outputs[i].kind : "?", hs);
        }
        ik_buf_printf(out, "counters %zu\n", a->n_counters);
        for (size_t i = 0; i < a->n_counters; i++) {
            ik_buf_printf(out, "  %s%*s ", a->counters[i].name, ik_utf8_pad(a->counters[i].name, 14), "");
            ik_mpjson_write_double(out, a->counters[i].value, false);
            ik_buf_putc(out, '\n');
        }
        if (has_log) {
            char h[13];
            ik__cc_hex12(&a->log, h);
            ik_buf_printf(out, "log      %s (%zu bytes)\n", h, log.len);
            ik_buf_append(out, log.data, log.len);
            if (log.len && log.data[log.len - 1] != '\n')
                ik_buf_putc(out, '\n');
        } else {
            ik_buf_puts(out, a->has_log ? "log      (missing from the cache)\n" : "log      -\n");
        }
    }
    if (has_log)
        ik_blob_release(&log);
    return !corrupt_log;
}

/* Lines of a failed run's log that show prints. */
#define SHOW_LOG_LINES 20

static void show_failure_json(const struct ik_cache *c, const char *node,
                              const struct ik_run_failure *f, const char *msg)
{
    struct ik_buf out = IK_BUF_INIT;
    struct ik_jsonw w;
    ik_jsonw_init(&w, &out, 2);
    ik_jsonw_begin_object(&w);
    ik_jsonw_key(&w, "node");
    ik_jsonw_str(&w, node);
    ik_jsonw_key(&w, "status");
    ik_jsonw_str(&w, "failed");
    ik_jsonw_key(&w, "run");
    ik_jsonw_str(&w, f->run_id);
    ik_jsonw_key(&w, "error");
    ik_jsonw_str(&w, msg);
    ik_jsonw_key(&w, "log");
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    if (f->has_log && ik_cas_map_verified(c, &f->log, UINT64_MAX, &b, &d) == 0) {
        ik_jsonw_strn(&w, (const char *)b.data, b.len, 0);
        ik_blob_release(&b);
    } else {
        ik_jsonw_null(&w);
    }
    ik_diag_free(&d);
    ik_jsonw_end_object(&w);
    ik_buf_putc(&out, '\n');
    ik__cc_out(&out);
    ik_buf_free(&out);
}

static const char show_help[] =
    "Describes REF: for an artifact its hash, size, kind, schema, meta, producer\n"
    "and a preview (records: the count and the first N; files: the first lines or\n"
    "a hex dump; tensors: dtype and shape); for a node (its action) the record and\n"
    "its log; for node.log the captured log. A node with no result whose newest\n"
    "run failed it: that run's error and the end of its log.\n\n"
    "  --limit N  records to preview (default 5)\n"
    "  --json     the same as one JSON object\n";

/* The graph and node a node REF ("node" or "graph:node") names, or false
 * when REF names a port, a log or a hash. */
static bool split_node_ref(const char *ref, char **graph, const char **node)
{
    const char *colon = strrchr(ref, ':');
    *node = colon ? colon + 1 : ref;
    *graph = colon ? ik_xstrndup(ref, (size_t)(colon - ref)) : NULL;
    return **node != '\0' && strchr(*node, '.') == NULL;
}

/* A node without a result to show: its newest run's failure (error and log)
 * when that run failed it. Returns the exit status, or -1 when no run failed
 * it (the REF stays unknown). */
static int show_failure(const struct ik_cache *c, const char *ref, bool json)
{
    char *graph = NULL;
    const char *node = NULL;
    struct ik_run_failure f = {0};
    struct ik_diag d = IK_DIAG_INIT;
    int status = -1;
    if (split_node_ref(ref, &graph, &node) && ik_runlog_node_failure(c, graph, node, &f, &d) == 0 &&
        f.failed) {
        status = IK_EXIT_OK;
        const char *msg = f.error ? f.error : "(no message)";
        if (strncmp(msg, "error: ", 7) == 0)
            msg += 7;
        if (json)
            show_failure_json(c, node, &f, msg);
        else {
            printf("node     %s\nstatus   failed in run %s: %s\n", node, f.run_id, msg);
            char h[13];
            uint64_t size = 0;
            if (f.has_log && ik_cas_stat(c, &f.log, &size) == 0) {
                ik__cc_hex12(&f.log, h);
                printf("log      %s (%" PRIu64 " bytes; the last %d lines)\n", h, size, SHOW_LOG_LINES);
                ik_cli_print_log_tail(c, &f.log, f.error, SHOW_LOG_LINES, stdout);
            } else {
                printf("log      -\n");
            }
        }
    }
    ik_diag_free(&d);
    ik_run_failures_free(&f, 1);
    free(graph);
    return status;
}

int ik__cc_show(int argc, char **argv)
{
    bool json = false;
    const char *limit_s = NULL, *ref = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--limit", NULL, IK_OPT_VALUE, &limit_s, NULL},
                                  {0}};
    const struct ik_optspec spec = {.usage = "cache show REF [--limit N] [--json]", .help = show_help,
                                    .opts = opts, .pos = &ref, .min_pos = 1, .max_pos = 1,
                                    .flags = IK__CC_ARGS};
    size_t limit = 5;
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0 && limit_s)
        rc = ik__cc_count("--limit", limit_s, &limit);
    if (rc == 0)
        rc = ik__cc_begin("show", 0, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    struct ik_cache *c = s.c;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik__cc_ref r;
    struct ik_buf out = IK_BUF_INIT;
    if (ik__cc_resolve(c, ref, &r, &d) < 0) {
        int failed = d.code == IK_ENOTFOUND ? show_failure(c, ref, json) : -1;
        if (failed >= 0) {
            ik_diag_free(&d);
            ik__cc_end(&s);
            return failed;
        }
        ik__cc_end(&s);
        return ik__cc_fail(&d);
    }
    int status = IK_EXIT_OK;
    if (r.is_action) {
        if (!show_action(c, r.action, json, &out))
            status = IK_EXIT_FAILED;
        goto done;
    }
    struct ik_blob b;
    ik__cc_ref_free(&r);
    if ((rc = ik__cc_load(c, ref, &r, &b)) != 0) {
        ik__cc_end(&s);
        return rc;
    }
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&r.hash, hex);
    if (r.is_log && !json) {
        /* node.log: the captured text as is, like `cat`. */
        ik_buf_append(&out, b.data, b.len);
        ik_blob_release(&b);
        goto done;
    }
    struct ik__cc_index ix;
    const struct ik__cc_prod *p = NULL;
    if (ik__cc_index_load(c, &ix, &d) == 0)
        p = ik__cc_index_find(&ix, &r.hash);
    ik_diag_free(&d);
    if (json) {
        struct ik_jsonw w;
        ik_jsonw_init(&w, &out, 2);
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "hash");
        ik_jsonw_str(&w, hex);
        ik_jsonw_key(&w, "size");
        ik_jsonw_uint(&w, b.len);
        ik_jsonw_key(&w, "producer");
        if (p) {
            char key[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&p->key, key);
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "node");
            ik_jsonw_str(&w, p->node);
            ik_jsonw_key(&w, "port");
            ik_jsonw_str(&w, p->port);
            ik_jsonw_key(&w, "key");
            ik_jsonw_str(&w, key);
            ik_jsonw_end_object(&w);
        } else {
            ik_jsonw_null(&w);
        }
        ik_preview_json(&w, b.data, b.len, limit);
        ik_jsonw_end_object(&w);
        ik_buf_putc(&out, '\n');
    } else {
        char hs[32];
        ik_preview_human_size(b.len, hs);
        ik_buf_printf(&out, "hash     %s\nsize     %s (%zu bytes)\n", hex, hs, b.len);
        if (p) {
            char key[13];
            ik__cc_hex12(&p->key, key);
            ik_buf_printf(&out, "producer %s.%s (action %s)\n", p->node, p->port, key);
        } else {
            ik_buf_puts(&out, "producer -\n");
        }
        ik_preview_text(&out, b.data, b.len, limit);
    }
    ik__cc_index_free(&ix);
    ik_blob_release(&b);
done:
    ik__cc_out(&out);
    ik_buf_free(&out);
    ik__cc_ref_free(&r);
    ik__cc_end(&s);
    return status;
}
