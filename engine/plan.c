/* engine/plan.c - keys, cache lookups and the reasons behind them (plan.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/glob.h"
#include "cache/cas.h"
#include "base/mpjson.h"
#include "base/buf.h"
#include "base/mp.h"
#include "engine/plan.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "cache/remote.h"

void ik_plan_init(struct ik_plan *p, struct ik_graph *g, struct ik_cache *c, struct ik_srcmemo *m)
{
    memset(p, 0, sizeof *p);
    p->graph = g;
    p->cache = c;
    p->memo = m;
    p->entries = ik_xcalloc(g->n_nodes ? g->n_nodes : 1, sizeof *p->entries);
}

static void entry_clear(struct ik_plan_entry *e)
{
    free(e->spec);
    free(e->inputs);
    ik_action_free(e->action);
    free(e->reason);
    memset(e, 0, sizeof *e);
}

void ik_plan_close(struct ik_plan *p)
{
    for (size_t i = 0; p->entries && i < p->graph->n_nodes; i++)
        entry_clear(&p->entries[i]);
    free(p->entries);
    p->entries = NULL;
    ik_refset_free(p->refs);
    p->refs = NULL;
    free(p->graph_id);
    p->graph_id = NULL;
}

const char *ik_plan_graph_id(struct ik_plan *p)
{
    if (p->graph_id == NULL) {
        const char *slash = strrchr(p->graph->path, '/');
        char *file = ik_xasprintf("%s/%s", p->graph->dir, slash ? slash + 1 : p->graph->path);
        p->graph_id = ik_ref_graph_id(p->cache, file);
        if (p->graph_id == NULL)
            p->graph_id = file; /* its folder vanished since loading: the absolute path */
        else
            free(file);
    }
    return p->graph_id;
}

static bool graph_has_node(const char *node, void *arg)
{
    return ik_graph_find(arg, node) >= 0;
}

struct ik_refset *ik_plan_refs(struct ik_plan *p)
{
    if (p->refs == NULL && !p->refs_failed) {
        struct ik_diag d = IK_DIAG_INIT;
        ik_refs_migrate(p->cache);
        int rc = ik_refset_load(p->cache, ik_plan_graph_id(p), &p->refs, &d);
        const char *msg = ik_diag_message(&d);
        if (strncmp(msg, "error: ", 7) == 0)
            msg += 7;
        if (rc == IK_ECORRUPT) {
            /* Refs only name results: start them afresh; the nodes are found
             * in the action cache by key and the next save rewrites the file. */
            fprintf(stderr, "ikada: warning: %.*s; rebuilding them from the action records\n",
                    (int)strcspn(msg, "\n"), msg);
            p->refs = ik_refset_empty(ik_plan_graph_id(p));
        } else if (rc < 0) {
            fprintf(stderr, "ikada: warning: %s\n", msg);
            p->refs_failed = true; /* warn once */
        }
        ik_diag_free(&d);
        /* A node deleted from the graph leaves no name behind (the run saves it). */
        if (p->refs)
            ik_refset_retain(p->refs, graph_has_node, p->graph);
    }
    return p->refs;
}

/* Whether a glob input's pattern matches anything (a folder that cannot be
 * read counts as a match: hashing it then says why). */
static bool glob_matches(const char *pattern)
{
    struct ik_glob m;
    struct ik_diag ignore = IK_DIAG_INIT;
    bool any = ik_glob_expand(pattern, &m, &ignore) != 0 || m.n > 0;
    ik_glob_free(&m);
    ik_diag_free(&ignore);
    return any;
}

int ik_plan_check_sources(const struct ik_plan *p, const bool *selected, struct ik_diag *d)
{
    const struct ik_graph *g = p->graph;
    int rc = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (selected && !selected[i])
            continue;
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++) {
            const struct ik_graph_input *in = &g->nodes[i].inputs[k];
            struct stat st;
            if (in->source != IK_INPUT_FILE || (!in->glob && stat(in->abs_path, &st) == 0) ||
                (in->glob && glob_matches(in->abs_path)))
                continue;
            struct ik_diag one = IK_DIAG_INIT;
            if (in->glob)
                rc = ik_diag_at(&one, IK_EVALIDATE, &in->loc, g->text, g->text_len,
                                "input '%s' of node '%s': no file matches '%s'", in->port,
                                g->nodes[i].name, in->path);
            else
                rc = ik_diag_at(&one, IK_EVALIDATE, &in->loc, g->text, g->text_len,
                                "input '%s' of node '%s': cannot read '%s': %s", in->port,
                                g->nodes[i].name, in->path, strerror(errno));
            ik_diag_append(d, &one);
            ik_diag_free(&one);
        }
    }
    return rc;
}

struct env_check {
    const struct ik_graph_node *node;
    struct ik_diag *d;
    int rc;
};

static void need_env(void *arg, const char *name, const char *why)
{
    struct env_check *c = arg;
    const char *v = getenv(name);
    if (v != NULL && v[0] != '\0')
        return;
    struct ik_diag one = IK_DIAG_INIT;
    c->rc = ik_diag_at(&one, IK_EVALIDATE, &c->node->loc, NULL, 0,
                       "node '%s' needs the environment variable %s (%s), which is not set",
                       c->node->name, name, why);
    ik_diag_append(c->d, &one);
    ik_diag_free(&one);
}

static bool any_needs_env(const struct ik_graph *g, const bool *selected)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if ((!selected || selected[i]) && g->nodes[i].type->needs_env)
            return true;
    return false;
}

int ik_plan_check_env(struct ik_plan *p, const bool *selected, bool sources_ok,
                      struct ik_diag *d)
{
    const struct ik_graph *g = p->graph;
    if (!any_needs_env(g, selected))
        return 0; /* most graphs: no resolving at all */
    struct ik_plan tmp;
    ik_plan_init(&tmp, p->graph, p->cache, p->memo);
    struct ik_diag rd = IK_DIAG_INIT;
    bool resolved = sources_ok && ik_plan_resolve_all(&tmp, selected, NULL, &rd) == 0;
    ik_diag_free(&rd);
    struct env_check c = {NULL, d, 0};
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct ik_graph_node *n = &g->nodes[i];
        if ((selected && !selected[i]) || n->type->needs_env == NULL ||
            (resolved && tmp.entries[i].state == IK_PLAN_CACHED))
            continue;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, n->params_mp, n->params_len, NULL) == MSGPACK_UNPACK_SUCCESS) {
            c.node = n;
            n->type->needs_env(&u.data, need_env, &c);
        }
        msgpack_unpacked_destroy(&u);
    }
    ik_plan_close(&tmp);
    if (c.rc != 0)
        ik_diag_hint(d, "export each variable before `ikada run` (keys are never stored), or "
                     "pick nodes that need none with --target");
    return c.rc;
}

int ik_plan_select(const struct ik_graph *g, char *const *targets, size_t n, bool *selected,
                   struct ik_diag *d)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        selected[i] = (n == 0);
    if (n == 0)
        return 0;
    for (size_t t = 0; t < n; t++) {
        long idx = ik_graph_find(g, targets[t]);
        if (idx < 0) {
            const char **names = ik_xcalloc(g->n_nodes + 1, sizeof *names);
            for (size_t i = 0; i < g->n_nodes; i++)
                names[i] = g->nodes[i].name;
            const char *near = ik_spellcheck(targets[t], names);
            int rc = ik_diag_set(d, IK_EUSAGE, "%s: no node '%s'%s%s%s", g->path, targets[t],
                                 near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
            free(names);
            return rc;
        }
        selected[idx] = true;
    }
    /* Reverse topological order: a selected consumer selects its producers. */
    for (size_t k = g->n_nodes; k-- > 0;) {
        size_t i = g->topo[k];
        if (!selected[i])
            continue;
        for (size_t j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j].source == IK_INPUT_NODE)
                selected[g->nodes[i].inputs[j].node] = true;
    }
    return 0;
}

/* Hashes of node i's inputs; every producer must have an action. */
static int input_hashes(struct ik_plan *p, size_t i, struct ik_key_input *out, struct ik_diag *d)
{
    const struct ik_graph_node *n = &p->graph->nodes[i];
    for (size_t k = 0; k < n->n_inputs; k++) {
        const struct ik_graph_input *in = &n->inputs[k];
        out[k].port = in->port;
        if (in->source == IK_INPUT_FILE) {
            int rc = in->glob
                         ? ik_srcmemo_hash_glob(p->memo, in->abs_path, &out[k].hash, &out[k].size, d)
                         : ik_srcmemo_hash(p->memo, in->abs_path, &out[k].hash, &out[k].size, d);
            if (rc < 0) {
                ik_diag_prefix(d, "node '%s', input '%s': ", n->name, in->port);
                return rc;
            }
            continue;
        }
        const struct ik_action *a = p->entries[in->node].action;
        const struct ik_action_output *o = a ? ik_action_output(a, in->node_port) : NULL;
        if (o == NULL)
            return ik_diag_set(d, IK_ECORRUPT, "node '%s': producer '%s' has no output '%s'",
                               n->name, p->graph->nodes[in->node].name, in->node_port);
        out[k].hash = o->hash;
        out[k].size = o->size;
    }
    return 0;
}

/* Appends a short JSON rendering of a msgpack value (for "param x changed:
 * a -> b"); long strings and lists are cut. */
static void append_value(struct ik_buf *b, const msgpack_object *o)
{
    if (o == NULL) {
        ik_buf_puts(b, "(unset)");
        return;
    }
    const struct ik_mpjson_opts cut = {.max_str = 40, .max_bin = 16, .max_items = 4};
    ik_mpjson_write(b, o, 0, &cut);
}

static bool same_value(const msgpack_object *a, const msgpack_object *b)
{
    return a && b && msgpack_object_equal(*a, *b);
}

/* Compares the params of two specs; appends one clause per difference. */
static void explain_params(struct ik_buf *b, const msgpack_object *now, const msgpack_object *then)
{
    for (uint32_t i = 0; now && now->type == MSGPACK_OBJECT_MAP && i < now->via.map.size; i++) {
        char *name = ik_mp_strdup(&now->via.map.ptr[i].key);
        const msgpack_object *old = ik_mp_get(then, name);
        if (!same_value(&now->via.map.ptr[i].val, old)) {
            ik_buf_printf(b, "%sparam '%s' changed: ", b->len ? "; " : "", name);
            append_value(b, old);
            ik_buf_puts(b, " -> ");
            append_value(b, &now->via.map.ptr[i].val);
        }
        free(name);
    }
}

static void explain_inputs(struct ik_buf *b, const struct ik_graph_node *n,
                           const struct ik_graph *g, const msgpack_object *now,
                           const msgpack_object *then)
{
    for (size_t k = 0; k < n->n_inputs; k++) {
        const struct ik_graph_input *in = &n->inputs[k];
        const msgpack_object *a = ik_mp_get(ik_mp_get(now, in->port), "hash");
        const msgpack_object *o = ik_mp_get(ik_mp_get(then, in->port), "hash");
        if (same_value(a, o))
            continue;
        if (o == NULL)
            ik_buf_printf(b, "%sinput '%s' is new", b->len ? "; " : "", in->port);
        else if (in->source == IK_INPUT_FILE)
            ik_buf_printf(b, "%sinput '%s' changed (%s %s)", b->len ? "; " : "", in->port,
                          in->glob ? "glob" : "file", in->path);
        else
            ik_buf_printf(b, "%sinput '%s' changed (%s.%s)", b->len ? "; " : "", in->port,
                          g->nodes[in->node].name, in->node_port);
    }
}

/* Why node i (key not in the cache) must run, from the spec it last ran with. */
static char *explain(struct ik_plan *p, size_t i)
{
    const struct ik_graph_node *n = &p->graph->nodes[i];
    struct ik_plan_entry *e = &p->entries[i];
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_refset *refs = ik_plan_refs(p);
    const struct ik_hash *ref = refs ? ik_refset_get(refs, n->name) : NULL;
    if (ref == NULL) {
        e->never_run = true;
        return ik_xstrdup("never run");
    }
    struct ik_hash last = *ref;
    if (ik_hash_equal(&last, &e->key))
        return ik_xstrdup("its outputs are no longer in the cache");
    struct ik_blob blob;
    if (ik_cas_map(p->cache, &last, UINT64_MAX, &blob, &d) < 0) {
        ik_diag_free(&d);
        return ik_xstrdup("changed (the previous spec is no longer in the cache)");
    }
    msgpack_unpacked then, now;
    msgpack_unpacked_init(&then);
    msgpack_unpacked_init(&now);
    struct ik_buf b = IK_BUF_INIT;
    if (msgpack_unpack_next(&then, (const char *)blob.data, blob.len, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        msgpack_unpack_next(&now, e->spec, e->spec_len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *tv = ik_mp_get(&then.data, "version");
        const msgpack_object *nv = ik_mp_get(&now.data, "version");
        if (!same_value(tv, nv) || !same_value(ik_mp_get(&then.data, "type"), ik_mp_get(&now.data, "type")))
            ik_buf_puts(&b, "node type or its implementation version changed");
        explain_params(&b, ik_mp_get(&now.data, "params"), ik_mp_get(&then.data, "params"));
        explain_inputs(&b, n, p->graph, ik_mp_get(&now.data, "inputs"),
                       ik_mp_get(&then.data, "inputs"));
    }
    msgpack_unpacked_destroy(&then);
    msgpack_unpacked_destroy(&now);
    ik_blob_release(&blob);
    if (b.len == 0)
        ik_buf_puts(&b, "changed");
    return ik_buf_steal(&b);
}

/* The first output port the graph declares for node n that a lacks, or NULL. */
static const char *missing_port(const struct ik_graph_node *n, const struct ik_action *a)
{
    for (size_t k = 0; k < n->n_outputs; k++)
        if (ik_action_output(a, n->outputs[k]) == NULL)
            return n->outputs[k];
    return NULL;
}

/* The second tier: a miss here is fetched from the remote into the local
 * cache, then read back as any local record (with remote_peek, only the
 * remote record is read: status and -n download nothing). NULL when it is
 * not there (or is damaged there, or the remote is down: said on stderr). */
static struct ik_action *remote_lookup(struct ik_plan *p, size_t i)
{
    const struct ik_plan_entry *e = &p->entries[i];
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_action *a = NULL;
    int rc;
    if (p->remote_peek) {
        rc = ik_remote_lookup(p->remote, &e->key, &a, &d);
    } else {
        rc = ik_remote_fetch(p->remote, p->cache, &e->key, &d);
        if (rc == 0 && ik_action_get(p->cache, &e->key, &a, &d) != 0)
            a = NULL;
    }
    if (rc == IK_EHTTP && !p->remote_warned) {
        fprintf(stderr, "ikada: warning: remote cache unavailable for this run (%s); going on "
                        "with the local cache only\n", ik_remote_down_reason(p->remote));
        p->remote_warned = true;
    } else if (rc != 0 && rc != IK_EHTTP && d.code != 0) {
        const char *msg = ik_diag_message(&d);
        msg += strncmp(msg, "error: ", 7) == 0 ? 7 : 0;
        fprintf(stderr, "ikada: warning: %s: %.*s; running it\n", p->graph->nodes[i].name,
                (int)strcspn(msg, "\n"), msg);
    }
    ik_diag_free(&d);
    return a;
}

int ik_plan_resolve(struct ik_plan *p, size_t i, bool force, struct ik_diag *d)
{
    const struct ik_graph_node *n = &p->graph->nodes[i];
    struct ik_plan_entry *e = &p->entries[i];
    bool looked = e->remote_looked;
    struct ik_hash looked_key = e->remote_key;
    entry_clear(e);
    e->remote_looked = looked;
    e->remote_key = looked_key;
    e->inputs = ik_xcalloc(n->n_inputs ? n->n_inputs : 1, sizeof *e->inputs);
    int rc = input_hashes(p, i, e->inputs, d);
    if (rc < 0)
        return rc;
    ik_key_spec(n, e->inputs, &e->spec, &e->spec_len, &e->key);
    e->key_known = true;
    /* The refs remember the outputs of each node's last key: a no-op run
     * plans from that one file instead of one action record per node. */
    struct ik_refset *refs = ik_plan_refs(p);
    struct ik_action *a = refs ? ik_refset_action(refs, p->cache, n->name, &e->key) : NULL;
    rc = a ? 0 : ik_action_get(p->cache, &e->key, &a, d);
    char *unusable = NULL;
    if (rc == IK_ECORRUPT) {
        /* An unreadable record is a cache miss: the rerun rewrites it. */
        const char *msg = ik_diag_message(d) + strlen("error: ");
        const char *what = strstr(msg, "corrupt action record: ");
        what = what ? what + strlen("corrupt action record: ") : msg;
        unusable = ik_xasprintf("its action record is corrupt (%.*s)", (int)strcspn(what, "\n"),
                                what);
        ik_diag_free(d);
        rc = -ENOENT;
    }
    if (rc < 0 && rc != -ENOENT)
        return rc;
    const char *missing = a ? missing_port(n, a) : NULL;
    if (missing != NULL) {
        /* Every declared output exists in a record the node wrote (exec
         * checks it), so a record without one was damaged or is not this
         * node's: never feed consumers from it. */
        unusable = ik_xasprintf("its action record lacks output '%s'", missing);
        ik_action_free(a);
        a = NULL;
    }
    if (a != NULL && !force && ik_action_outputs_present(p->cache, a)) {
        e->state = IK_PLAN_CACHED;
        e->action = a;
        return 0;
    }
    bool ask = p->remote && !force && !(e->remote_looked && ik_hash_equal(&e->remote_key, &e->key));
    struct ik_action *fetched = ask ? remote_lookup(p, i) : NULL;
    if (ask) {
        e->remote_looked = true;
        e->remote_key = e->key;
    }
    if (fetched != NULL && missing_port(n, fetched) == NULL) {
        ik_action_free(a);
        free(unusable);
        e->state = IK_PLAN_CACHED;
        e->action = fetched;
        e->from_remote = true;
        p->remote_hits++;
        return 0;
    }
    ik_action_free(fetched);
    e->state = IK_PLAN_STALE;
    e->reason = force && a ? ik_xstrdup("forced (--force)") : unusable ? unusable : explain(p, i);
    if (e->reason != unusable)
        free(unusable);
    ik_action_free(a);
    return 0;
}

int ik_plan_resolve_all(struct ik_plan *p, const bool *selected, const bool *forced,
                        struct ik_diag *d)
{
    const struct ik_graph *g = p->graph;
    for (size_t k = 0; k < g->n_nodes; k++) {
        size_t i = g->topo[k];
        if (selected && !selected[i])
            continue;
        const char *blocker = NULL;
        for (size_t j = 0; j < g->nodes[i].n_inputs && !blocker; j++) {
            const struct ik_graph_input *in = &g->nodes[i].inputs[j];
            if (in->source == IK_INPUT_NODE && p->entries[in->node].state != IK_PLAN_CACHED)
                blocker = g->nodes[in->node].name;
        }
        if (blocker) {
            struct ik_refset *refs = ik_plan_refs(p);
            entry_clear(&p->entries[i]);
            p->entries[i].state = IK_PLAN_BLOCKED;
            p->entries[i].reason = ik_xasprintf("upstream '%s' will run first", blocker);
            p->entries[i].never_run = refs == NULL || ik_refset_get(refs, g->nodes[i].name) == NULL;
            continue;
        }
        int rc = ik_plan_resolve(p, i, forced && forced[i], d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void ik_plan_set_action(struct ik_plan *p, size_t i, struct ik_action *a)
{
    ik_action_free(p->entries[i].action);
    p->entries[i].action = a;
    p->entries[i].state = IK_PLAN_CACHED;
}
