/* cli/cache.c - `ikada cache VERB`: the verb table, what the verbs share, REF
 * resolution.
 *
 * The verbs live in cli/cache_show.c (ls, show), cli/cache_query.c (query,
 * export, diff), cli/cache_admin.c (verify, gc, du) and cli/cache_remote.c
 * (push, pull). This file holds what
 * they share: their start (ik__cc_begin), REF lookup and the producer index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/lock.h"
#include "cache/refs.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "cli/cache_int.h"
#include "cli/common.h"
#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"

static const struct ik_cli_command verbs[] = {
    {"ls", "ls [--kind K] [--all] [--json]", "list artifacts, newest first", ik__cc_ls},
    {"show", "show REF [--limit N] [--json]", "describe an artifact, action or log", ik__cc_show},
    {"query", "query REF [--where EXPR] [--select FIELDS] [--limit N] [--count] [--json]",
     "filter and select the records of an artifact", ik__cc_query},
    {"export", "export REF -o FILE [--format msgpack|jsonl|json|raw]",
     "write an artifact to a file", ik__cc_export},
    {"diff", "diff REF REF [--json]", "compare two artifacts", ik__cc_diff},
    {"verify", "verify [--json]", "re-hash every object, check every record; quarantine corrupt ones", ik__cc_verify},
    {"gc", "gc [--keep-runs N] [--dry-run] [--json]",
     "remove what refs and the last N runs do not reach", ik__cc_gc},
    {"du", "du [--json]", "sizes and counts per part of the cache", ik__cc_du},
    {"push", "push [--graph G] [--target NODE]...",
     "upload results to the remote cache ($IKADA_REMOTE)", ik__cc_push},
    {"pull", "pull --graph G [--target NODE]...",
     "download a graph's results from the remote cache", ik__cc_pull},
    {NULL, NULL, NULL, NULL},
};

const struct ik_cli_command *const ik_cli_cache_verbs = verbs;

static void usage(FILE *out)
{
    fprintf(out, "usage: ikada cache VERB [ARGS]\n\nverbs:\n");
    for (const struct ik_cli_command *v = verbs; v->name; v++)
        fprintf(out, "  %s\n      %s\n", v->usage, v->summary);
    fprintf(out, "\nREF is graph:node.port, node.port, node (its action), node.log, a hash or a\n"
                 "unique hex prefix of at least 4 digits. graph is the graph file's path (as\n"
                 "`ikada status` names it, or from the working directory), or a unique shorter\n"
                 "form: its last parts or its file name, with or without .yaml. Every verb\n"
                 "accepts --json.\n"
                 "`ikada cache VERB --help` describes a verb.\n\n"
                 "Exit status: 0 done, 1 failed (verify: corrupt objects or records found; diff:\n"
                 "the artifacts differ), 2 bad REF or usage, 75 the cache is busy (verify and gc\n"
                 "need it to themselves: another ikada process is using it; nothing was done).\n");
}

int ik_cli_cache(int argc, char **argv)
{
    static const struct ik_cli_table table = {"cache verb", verbs, usage};
    return ik_cli_dispatch(&table, argc, argv);
}

/* ---- what the verbs share ---- */

int ik__cc_count(const char *name, const char *text, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "ikada: error: %s: expected a non-negative integer, got '%s'\n", name, text);
        return IK_EXIT_USAGE;
    }
    *out = (size_t)v;
    return 0;
}

int ik__cc_begin(const char *verb, unsigned need, struct ik__cc_session *x)
{
    memset(x, 0, sizeof *x);
    x->lock = -1;
    int rc = ik_cli_open_cache(false, &x->c);
    if (rc != 0)
        return rc;
    struct ik_diag d = IK_DIAG_INIT;
    if (need & IK__CC_EXCLUSIVE) {
        int lock = ik_lock_cache(x->c, true, false, &d);
        if (lock == -EWOULDBLOCK || lock == -EAGAIN) {
            ik_diag_set(&d, lock, "cache %s: another ikada process is using the cache at %s", verb,
                        x->c->root);
            ik_diag_hint(&d, "try again when the running `ikada run` has finished");
        }
        if (lock == -EWOULDBLOCK || lock == -EAGAIN) {
            /* Not a finding about the cache: a status of its own, so that a
             * script can tell "try again" from "corruption found" (1). */
            ik__cc_end(x);
            ik_diag_print(&d);
            ik_diag_free(&d);
            return IK_EXIT_BUSY;
        }
        if (lock < 0)
            goto fail;
        x->lock = lock;
    }
    if ((need & IK__CC_INDEX) && ik__cc_index_load(x->c, &x->ix, &d) < 0)
        goto fail;
    return 0;
fail:
    ik__cc_end(x);
    return ik__cc_fail(&d);
}

void ik__cc_end(struct ik__cc_session *x)
{
    ik__cc_index_free(&x->ix);
    ik_unlock(x->lock);
    ik_cache_close(x->c);
    memset(x, 0, sizeof *x);
    x->lock = -1;
}

int ik__cc_fail(struct ik_diag *d)
{
    ik_diag_print(d);
    int code = d->code;
    ik_diag_free(d);
    return code == IK_ENOTFOUND || code == IK_EAMBIGUOUS || code == IK_EUSAGE || code == IK_EPARSE
               ? IK_EXIT_USAGE
               : IK_EXIT_FAILED;
}

void ik__cc_hex12(const struct ik_hash *h, char out[13])
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    memcpy(out, hex, 12);
    out[12] = '\0';
}

void ik__cc_out(const struct ik_buf *b)
{
    if (b->len)
        fwrite(b->data, 1, b->len, stdout);
    fflush(stdout);
}

void ik__cc_age(int64_t ms, char out[16])
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s < 60)
        snprintf(out, 16, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, 16, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(out, 16, "%lldh", (long long)(s / 3600));
    else
        snprintf(out, 16, "%lldd", (long long)(s / 86400));
}

/* ---- the producer index ---- */

static int index_add(const struct ik_action *a, void *arg)
{
    struct ik__cc_index *ix = arg;
    ix->items = ik_xgrow(ix->items, &ix->cap_, ix->n + a->n_outputs + 1, sizeof *ix->items);
    for (size_t i = 0; i <= a->n_outputs; i++) {
        bool log = i == a->n_outputs;
        if (log && !a->has_log)
            break;
        struct ik__cc_prod *p = &ix->items[ix->n++];
        p->object = log ? a->log : a->outputs[i].hash;
        p->key = a->key;
        p->node = ik_xstrdup(a->node ? a->node : "?");
        p->port = ik_xstrdup(log ? "log" : a->outputs[i].port);
        p->kind = ik_xstrdup(log ? "log" : a->outputs[i].kind ? a->outputs[i].kind : "?");
        p->size = log ? 0 : a->outputs[i].size;
        p->time_ms = a->started_ms + a->duration_ms;
        p->is_log = log;
    }
    ix->keys = ik_xgrow(ix->keys, &ix->keys_cap_, ix->n_keys + 1, sizeof *ix->keys);
    ix->keys[ix->n_keys++] = a->key;
    return 0;
}

static int newest_first(const void *x, const void *y)
{
    const struct ik__cc_prod *a = x, *b = y;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? 1 : -1;
    int c = strcmp(a->node, b->node);
    return c ? c : strcmp(a->port, b->port);
}

int ik__cc_index_load(const struct ik_cache *c, struct ik__cc_index *ix, struct ik_diag *d)
{
    memset(ix, 0, sizeof *ix);
    int rc = ik_action_foreach(c, index_add, ix);
    if (rc < 0) {
        ik__cc_index_free(ix);
        return ik_diag_set(d, rc, "cannot read the action records in %s: %s", c->root,
                           ik_strerror(rc));
    }
    if (ix->n)
        qsort(ix->items, ix->n, sizeof *ix->items, newest_first);
    /* Logs have no recorded size; read it from the store. */
    for (size_t i = 0; i < ix->n; i++)
        if (ix->items[i].is_log)
            ik_cas_stat(c, &ix->items[i].object, &ix->items[i].size);
    return 0;
}

void ik__cc_index_free(struct ik__cc_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->items[i].node);
        free(ix->items[i].port);
        free(ix->items[i].kind);
    }
    free(ix->items);
    free(ix->keys);
    memset(ix, 0, sizeof *ix);
}

const struct ik__cc_prod *ik__cc_index_find(const struct ik__cc_index *ix, const struct ik_hash *h)
{
    for (size_t i = 0; i < ix->n; i++)
        if (ik_hash_equal(&ix->items[i].object, h))
            return &ix->items[i];
    return NULL;
}

/* ---- REF resolution ---- */

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

void ik__cc_ref_free(struct ik__cc_ref *r)
{
    ik_action_free(r->action);
    free(r->port);
    memset(r, 0, sizeof *r);
}

/* How ref r's graph is named by the REF's graph part: 2 exactly (its identity,
 * or a path to the graph file from here: sel_id), 1 by trailing parts of the
 * path or the file name alone, 0 not at all. Any graph when graph is NULL. */
static int graph_named(const struct ik_ref *r, const char *graph, const char *sel_id)
{
    if (graph == NULL)
        return 1;
    if (sel_id != NULL && strcmp(r->graph, sel_id) == 0)
        return 2;
    return ik_ref_graph_match(r->graph, graph);
}

/* The stem of a format-1 refs file (cache/refs.h) naming node, or NULL (the
 * caller frees): such names are not used, but say why a node is not found. */
static char *legacy_graph(const struct ik_cache *c, const char *node)
{
    struct ik_ref *refs = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    char *found = NULL;
    if (ik_ref_list(c, IK_REF_LIST_LEGACY | IK_REF_LIST_SKIP_BAD, &refs, &n, &d) == 0)
        for (size_t i = 0; i < n && found == NULL; i++)
            if (refs[i].legacy && strcmp(refs[i].node, node) == 0)
                found = ik_xstrdup(refs[i].graph);
    ik_diag_free(&d);
    ik_refs_free(refs, n);
    return found;
}

/* The hash of output `port` of the action of key, or false. */
static bool output_hash(const struct ik_cache *c, const struct ik_hash *key, const char *port,
                        struct ik_hash *out)
{
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    const struct ik_action_output *o = NULL;
    if (ik_action_get(c, key, &a, &d) == 0 && (o = ik_action_output(a, port)) != NULL)
        *out = o->hash;
    ik_diag_free(&d);
    ik_action_free(a);
    return o != NULL;
}

/* Whether refs[hit[0..n)] all name one result: one key (graphs sharing a
 * node's spec), or with a port one artifact (equal bytes made under two
 * keys). Then a REF naming them is not ambiguous. */
static bool one_result(const struct ik_cache *c, const struct ik_ref *refs, const size_t *hit,
                       size_t n, const char *port)
{
    bool same_key = true;
    for (size_t i = 1; i < n; i++)
        same_key = same_key && ik_hash_equal(&refs[hit[i]].key, &refs[hit[0]].key);
    if (same_key || port == NULL)
        return same_key;
    struct ik_hash first, h;
    if (!output_hash(c, &refs[hit[0]].key, port, &first))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!output_hash(c, &refs[hit[i]].key, port, &h) || !ik_hash_equal(&h, &first))
            return false;
    return true;
}

/* Finds the graph holding `node` (or checks `graph` names one that has it): 0
 * and *key, or IK_ENOTFOUND / IK_EAMBIGUOUS with d set. A graph named exactly
 * wins over graphs named by a shorter form; graphs whose nodes of that name
 * hold one result (see one_result; port: the REF's, or NULL) are not a choice
 * to make. */
static int find_node(const struct ik_cache *c, const char *graph, const char *node,
                     const char *port, const char *ref, struct ik_hash *key, struct ik_diag *d)
{
    struct ik_ref *refs = NULL;
    size_t n = 0;
    int rc = ik_ref_list(c, IK_REF_LIST_SKIP_BAD, &refs, &n, d);
    if (rc < 0)
        return rc;
    /* A graph part that is a path to a graph file from here names it exactly. */
    char *sel_id = graph != NULL && access(graph, F_OK) == 0 ? ik_ref_graph_id(c, graph) : NULL;
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        int m = strcmp(refs[i].node, node) == 0 ? graph_named(&refs[i], graph, sel_id) : 0;
        best = m > best ? m : best;
    }
    size_t hits = 0, first = 0;
    size_t *hit = ik_xcalloc(n + 1, sizeof *hit);
    struct ik_buf graphs = IK_BUF_INIT;
    const char **names = ik_xcalloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        names[i] = refs[i].node;
        if (best == 0 || strcmp(refs[i].node, node) != 0 ||
            graph_named(&refs[i], graph, sel_id) != best)
            continue;
        hit[hits++] = i;
        ik_buf_printf(&graphs, "%s'%s'", graphs.len ? ", " : "", refs[i].graph);
    }
    first = hit[0];
    if (hits > 1 && one_result(c, refs, hit, hits, port))
        hits = 1;
    free(hit);
    if (hits == 1) {
        *key = refs[first].key;
    } else if (hits > 1) {
        rc = ik_diag_set(d, IK_EAMBIGUOUS, "'%s' is ambiguous: node '%s' exists in graphs %s", ref,
                         node, graphs.data);
        ik_diag_hint(d, "write graph:%s to pick one, e.g. '%s:%s'", ref, refs[first].graph, ref);
    } else {
        const char *near = ik_spellcheck(node, names);
        rc = ik_diag_set(d, IK_ENOTFOUND, "unknown REF '%s': no %s named '%s'%s%s%s", ref,
                         graph ? "node of that graph" : "node", node,
                         near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        char *old = legacy_graph(c, node);
        if (old != NULL)
            ik_diag_hint(d, "only an older ikada's refs name node '%s' (its graph '%s'); run the "
                            "graph once and its results are named again", node, old);
        else
            ik_diag_hint(d, "REF is graph:node.port, node.port, node, a hash or a hex prefix; "
                            "`ikada cache ls` lists artifacts");
        free(old);
    }
    free(sel_id);
    free(names);
    ik_buf_free(&graphs);
    ik_refs_free(refs, n);
    return rc;
}

static int resolve_name(const struct ik_cache *c, const char *ref, struct ik__cc_ref *out,
                        struct ik_diag *d)
{
    /* The last ':', as node and port names have none and a graph path may. */
    const char *colon = strrchr(ref, ':');
    char *graph = colon ? ik_xstrndup(ref, (size_t)(colon - ref)) : NULL;
    const char *rest = colon ? colon + 1 : ref;
    char *node = ik_xstrdup(rest), *port = NULL;
    struct ik_hash key;
    struct ik_diag quiet = IK_DIAG_INIT;
    /* A whole name that is a node names its action; else split node.port. */
    int rc = find_node(c, graph, node, NULL, ref, &key, &quiet);
    char *dot = strrchr(node, '.');
    if (rc == IK_ENOTFOUND && dot != NULL) {
        *dot = '\0';
        port = ik_xstrdup(dot + 1);
        rc = find_node(c, graph, node, port, ref, &key, d);
    } else if (rc < 0) {
        ik_diag_set(d, quiet.code, "%s", ik_diag_message(&quiet) + strlen("error: "));
    }
    ik_diag_free(&quiet);
    if (rc < 0)
        goto out;
    rc = ik_action_get(c, &key, &out->action, d);
    if (rc == -ENOENT) {
        char hex[13];
        ik__cc_hex12(&key, hex);
        rc = ik_diag_set(d, IK_ENOTFOUND, "'%s': the last key of node '%s' (%s) has no action record",
                         ref, node, hex);
        ik_diag_hint(d, "it was removed by `ikada cache gc` or never finished; re-run the graph");
        goto out;
    }
    if (rc < 0)
        goto out;
    if (port == NULL) {
        out->is_action = true;
        out->hash = key;
        goto out;
    }
    const struct ik_action_output *o = ik_action_output(out->action, port);
    if (o != NULL) {
        out->hash = o->hash;
    } else if (strcmp(port, "log") == 0 && out->action->has_log) {
        out->hash = out->action->log;
        out->is_log = true;
    } else {
        struct ik_buf ports = IK_BUF_INIT;
        const char **names = ik_xcalloc(out->action->n_outputs + 2, sizeof *names);
        for (size_t i = 0; i < out->action->n_outputs; i++) {
            names[i] = out->action->outputs[i].port;
            ik_buf_printf(&ports, "%s%s", i ? ", " : "", names[i]);
        }
        if (out->action->has_log) {
            names[out->action->n_outputs] = "log";
            ik_buf_printf(&ports, "%slog", ports.len ? ", " : "");
        }
        const char *near = ik_spellcheck(port, names);
        rc = ik_diag_set(d, IK_ENOTFOUND, "unknown REF '%s': node '%s' has no port '%s'%s%s%s", ref,
                         node, port, near ? "; did you mean '" : "", near ? near : "",
                         near ? "'?" : "");
        ik_diag_hint(d, "its ports are: %s", ports.len ? ports.data : "(none)");
        ik_buf_free(&ports);
        free(names);
        ik_action_free(out->action);
        out->action = NULL;
        goto out;
    }
    out->port = port;
    port = NULL;
out:
    free(graph);
    free(node);
    free(port);
    return rc;
}

int ik__cc_resolve(const struct ik_cache *c, const char *ref, struct ik__cc_ref *out,
                   struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    if (strchr(ref, ':') == NULL && strlen(ref) >= 4 && all_hex(ref)) {
        struct ik_diag pd = IK_DIAG_INIT;
        int rc = ik_cas_resolve_prefix(c, ref, &out->hash, &pd);
        if (rc == IK_EAMBIGUOUS || (rc < 0 && rc != IK_ENOTFOUND)) {
            ik_diag_set(d, rc, "%s", ik_diag_message(&pd) + strlen("error: "));
            ik_diag_free(&pd);
            return rc;
        }
        ik_diag_free(&pd);
        if (rc == 0) {
            /* A node key names both its action and its spec object: the action wins. */
            struct ik_diag ad = IK_DIAG_INIT;
            if (ik_action_get(c, &out->hash, &out->action, &ad) == 0)
                out->is_action = true;
            ik_diag_free(&ad);
            return 0;
        }
        /* Not a hash in this cache: maybe a node named like hex ("beef"). */
        struct ik_diag nd = IK_DIAG_INIT;
        rc = resolve_name(c, ref, out, &nd);
        ik_diag_free(&nd);
        if (rc == 0)
            return 0;
        ik_diag_set(d, IK_ENOTFOUND, "unknown REF '%s': no object, action key or node matches it",
                    ref);
        ik_diag_hint(d, "`ikada cache ls --all` lists every object");
        return IK_ENOTFOUND;
    }
    return resolve_name(c, ref, out, d);
}

int ik__cc_load(const struct ik_cache *c, const char *ref, struct ik__cc_ref *r, struct ik_blob *b)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (ik__cc_resolve(c, ref, r, &d) < 0)
        return ik__cc_fail(&d);
    if (r->is_action) {
        ik_diag_set(&d, IK_EUSAGE, "'%s' names an action (node key), not an artifact", ref);
        ik_diag_hint(&d, "add the port: node.port; `ikada cache show %s` lists the outputs", ref);
        ik__cc_ref_free(r);
        return ik__cc_fail(&d);
    }
    int rc = ik_cas_map_verified(c, &r->hash, UINT64_MAX, b, &d);
    if (rc < 0) {
        if (rc == IK_ECORRUPT) {
            ik_diag_prefix(&d, "'%s': ", ref);
            ik_diag_hint(&d, "the next `ikada run` of its graph re-creates it");
        } else if (rc == -ENOENT) {
            char hex[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&r->hash, hex);
            ik_diag_set(&d, IK_ENOTFOUND, "'%s': object %s is not in the cache", ref, hex);
            ik_diag_hint(&d, "it was removed by gc or quarantined by verify; re-run the graph");
        }
        ik__cc_ref_free(r);
        return ik__cc_fail(&d);
    }
    return 0;
}
