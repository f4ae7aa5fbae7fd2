/* engine/graph_validate.c - a parsed graph checked against its node types.
 *
 * Resolves each node's type and params (graph_params.c), resources, `node.port`
 * references and input ports, then orders the nodes topologically (a cycle is
 * printed). The first error, in file order, wins: one diag per load. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "engine/graph_int.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"

/* --- Helpers shared with graph.c and graph_params.c ---------------------------- */

struct ik_srcloc ik__graph_loc(const struct ik_graph *g, yaml_mark_t mark)
{
    struct ik_srcloc loc = {g->path, (int)mark.line + 1, (int)mark.column + 1};
    return loc;
}

int ik__graph_error(const struct ik_graph *g, struct ik_diag *d, struct ik_srcloc loc,
                    const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ik_diag_at(d, IK_EVALIDATE, &loc, g->text, g->text_len, "%s", b.data ? b.data : "");
    ik_buf_free(&b);
    return IK_EVALIDATE;
}

void ik__graph_hint_list(struct ik_diag *d, const char *what, const char *const *names)
{
    struct ik_buf b = IK_BUF_INIT;
    for (size_t i = 0; names[i] != NULL; i++)
        ik_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    ik_diag_hint(d, "%s: %s", what, b.len ? b.data : "none");
    ik_buf_free(&b);
}

const char *ik__graph_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

char *ik__graph_describe(const yaml_node_t *n)
{
    if (n == NULL)
        return ik_xstrdup("nothing");
    if (n->type == YAML_MAPPING_NODE)
        return ik_xstrdup("a mapping");
    if (n->type == YAML_SEQUENCE_NODE)
        return ik_xstrdup("a list");
    const char *s = ik__graph_scalar(n);
    size_t len = n->data.scalar.length;
    if (len == 0 && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return ik_xstrdup("nothing");
    /* Keep messages one line: cut long or multi-line values. */
    size_t cut = strcspn(s, "\n");
    if (cut > 40)
        cut = 40;
    return ik_xasprintf("'%.*s%s'", (int)cut, s, cut < len ? "..." : "");
}

bool ik__graph_valid_port(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

int ik__graph_check_dup_keys(const struct ik_graph *g, yaml_document_t *doc, yaml_node_t *map,
                             const char *what, struct ik_diag *d)
{
    /* A hash of the keys seen so far: a graph's `nodes:` may have 10,000 keys. */
    struct ik_strmap seen = IK_STRMAP_INIT;
    yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
    int rc = 0;
    for (yaml_node_pair_t *p = start; p < top && rc == 0; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        const char *ks = ik__graph_scalar(k);
        if (ks == NULL)
            continue;
        int first = ik_strmap_get(&seen, ks, strlen(ks));
        if (first >= 0)
            rc = ik__graph_error(g, d, ik__graph_loc(g, k->start_mark),
                                 "duplicate %s '%s' (first at line %d)", what, ks, first + 1);
        else
            ik_strmap_put(&seen, ks, strlen(ks), (int)k->start_mark.line);
    }
    ik_strmap_free(&seen);
    return rc;
}

/* --- Name lists for "did you mean" --------------------------------------------- */

static const char **port_names(const struct ik_port_spec *ports)
{
    size_t n = 0;
    while (ports[n].name)
        n++;
    const char **v = ik_xmalloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = ports[i].name;
    v[n] = NULL;
    return v;
}

/* --- Per node: type ------------------------------------------------------------ */

static int resolve_type(struct ik__graph_build *b, size_t i, struct ik_diag *d)
{
    struct ik__graph_src *src = &b->src[i];
    for (size_t k = 0; b->types[k] != NULL; k++) {
        if (strcmp(b->types[k]->name, src->type_name) == 0) {
            b->g->nodes[i].type = b->types[k];
            return 0;
        }
    }
    size_t n = 0;
    while (b->types[n])
        n++;
    const char **names = ik_xmalloc((n + 1) * sizeof *names);
    for (size_t k = 0; k <= n; k++)
        names[k] = b->types[k] ? b->types[k]->name : NULL;
    const char *near = ik_spellcheck(src->type_name, names);
    ik__graph_error(b->g, d, src->type_loc, "unknown node type '%s'" IK__DYM_FMT, src->type_name,
                    IK__DYM_ARGS(near));
    if (near == NULL)
        ik__graph_hint_list(d, "node types", names);
    free(names);
    return IK_EVALIDATE;
}

/* Output ports from the keys of the map param `outputs_from_param`. `given` is
 * the YAML mapping when the graph set the param (for locations), else NULL. */
/* --- Inputs and references --------------------------------------------------- */

/* The kind of port `name` in ports, or NULL when unknown or any ("*"). */
static const char *port_kind(const struct ik_port_spec *ports, const char *name)
{
    for (size_t k = 0; ports && ports[k].name; k++)
        if (strcmp(ports[k].name, name) == 0)
            return ports[k].kind && strcmp(ports[k].kind, "*") != 0 ? ports[k].kind : NULL;
    return NULL;
}

/* An input fed an artifact of another kind than its port reads (faq.rows to
 * cot's samples) is refused here, not when the node runs. */
static int check_kind(struct ik__graph_build *b, const struct ik_graph_node *node,
                      const struct ik_graph_input *in, const struct ik_graph_node *prod,
                      struct ik_diag *d)
{
    const char *want = node->type->any_inputs ? NULL : port_kind(node->type->inputs, in->port);
    const char *got = prod->type->outputs_from_param ? NULL
                                                     : port_kind(prod->type->outputs, in->node_port);
    if (want == NULL || got == NULL || strcmp(want, got) == 0)
        return 0;
    ik__graph_error(b->g, d, in->loc,
                    "input '%s' of node '%s' (type '%s') reads %s, but '%s.%s' is %s", in->port,
                    node->name, node->type->name, want, prod->name, in->node_port, got);
    struct ik_buf makers = IK_BUF_INIT;
    for (size_t k = 0; b->types[k] != NULL; k++)
        for (size_t o = 0; b->types[k]->outputs && b->types[k]->outputs[o].name; o++)
            if (b->types[k]->outputs[o].kind && !strcmp(b->types[k]->outputs[o].kind, want)) {
                ik_buf_printf(&makers, "%s%s.%s", makers.len ? ", " : "", b->types[k]->name,
                              b->types[k]->outputs[o].name);
                break;
            }
    if (makers.len)
        ik_diag_hint(d, "%s is written by: %s", want, makers.data);
    ik_buf_free(&makers);
    return IK_EVALIDATE;
}

static int resolve_inputs(struct ik__graph_build *b, size_t i, struct ik_diag *d)
{
    struct ik_graph *g = b->g;
    struct ik_graph_node *node = &g->nodes[i];
    const struct ik_node_type *t = node->type;
    const char **ports = port_names(t->inputs);
    int rc = 0;
    for (size_t j = 0; j < node->n_inputs; j++) {
        struct ik_graph_input *in = &node->inputs[j];
        struct ik__graph_input_src *src = &b->src[i].inputs[j];
        if (t->any_inputs && !ik__graph_valid_port(in->port)) {
            rc = ik__graph_error(g, d, src->key_loc,
                                 "invalid input port name '%s' of node '%s': use letters, digits "
                                 "and '_', starting with a letter or '_'",
                                 in->port, node->name);
            goto out;
        }
        if (!t->any_inputs) {
            size_t k = 0;
            while (ports[k] && strcmp(ports[k], in->port) != 0)
                k++;
            if (ports[k] == NULL) {
                const char *near = ik_spellcheck(in->port, ports);
                rc = ik__graph_error(g, d, src->key_loc,
                                     "unknown input port '%s' for type '%s'" IK__DYM_FMT, in->port,
                                     t->name, IK__DYM_ARGS(near));
                if (near == NULL) {
                    char *what = ik_xasprintf("input ports of type '%s'", t->name);
                    ik__graph_hint_list(d, what, ports);
                    free(what);
                }
                goto out;
            }
        }
        if (in->source != IK_INPUT_NODE)
            continue;
        long p = ik_graph_find(g, src->ref_node);
        if (p < 0) {
            const char **names = ik_xmalloc((g->n_nodes + 1) * sizeof *names);
            for (size_t k = 0; k < g->n_nodes; k++)
                names[k] = g->nodes[k].name;
            names[g->n_nodes] = NULL;
            const char *near = ik_spellcheck(src->ref_node, names);
            rc = ik__graph_error(g, d, in->loc,
                                 "input '%s' of node '%s' reads from unknown node '%s'" IK__DYM_FMT,
                                 in->port, node->name, src->ref_node, IK__DYM_ARGS(near));
            if (near == NULL)
                ik__graph_hint_list(d, "nodes", names);
            free(names);
            goto out;
        }
        const struct ik_graph_node *prod = &g->nodes[p];
        const char *when = ik_node_type_output_param(prod->type, in->node_port);
        if (ik_graph_node_output(prod, in->node_port) < 0 && when != NULL) {
            rc = ik__graph_error(g, d, in->loc, "node '%s' writes output '%s' only with %s: true",
                                 prod->name, in->node_port, when);
            ik_diag_hint(d, "set %s: true in node '%s''s params", when, prod->name);
            goto out;
        }
        if (ik_graph_node_output(prod, in->node_port) < 0) {
            const char **outs = ik_xmalloc((prod->n_outputs + 1) * sizeof *outs);
            for (size_t k = 0; k < prod->n_outputs; k++)
                outs[k] = prod->outputs[k];
            outs[prod->n_outputs] = NULL;
            const char *near = ik_spellcheck(in->node_port, outs);
            rc = ik__graph_error(g, d, in->loc, "node '%s' has no output port '%s'" IK__DYM_FMT,
                                 prod->name, in->node_port, IK__DYM_ARGS(near));
            char *what = ik_xasprintf("output ports of node '%s'", prod->name);
            ik__graph_hint_list(d, what, outs);
            free(what);
            free(outs);
            goto out;
        }
        in->node = (size_t)p;
        if ((rc = check_kind(b, node, in, prod, d)) < 0)
            goto out;
    }
    for (size_t k = 0; t->inputs[k].name != NULL; k++) {
        if (t->inputs[k].optional)
            continue;
        size_t j = 0;
        while (j < node->n_inputs && strcmp(node->inputs[j].port, t->inputs[k].name) != 0)
            j++;
        if (j == node->n_inputs) {
            rc = ik__graph_error(g, d, node->loc,
                                 "node '%s' of type '%s' is missing required input '%s'",
                                 node->name, t->name, t->inputs[k].name);
            if (t->inputs[k].help)
                ik_diag_hint(d, "%s: %s", t->inputs[k].name, t->inputs[k].help);
            goto out;
        }
    }
out:
    free(ports);
    return rc;
}

/* --- Order and cycles ----------------------------------------------------------- */

/* A min-heap of node indices: the ready node that comes first in the file. */
struct ready_heap {
    size_t *v;
    size_t n;
};

static void heap_push(struct ready_heap *h, size_t x)
{
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0 && h->v[(i - 1) / 2] > h->v[i]) {
        size_t p = (i - 1) / 2, t = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = t;
        i = p;
    }
}

static size_t heap_pop(struct ready_heap *h)
{
    size_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l] < h->v[m])
            m = l;
        if (r < h->n && h->v[r] < h->v[m])
            m = r;
        if (m == i)
            break;
        size_t t = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = t;
        i = m;
    }
    return top;
}

/* g->topo by Kahn's algorithm, always taking the ready node that comes first
 * in the file, so the order is deterministic and reads like the file.
 * O((nodes + edges) log nodes): graphs may have 10,000 nodes. */
static int topo_sort(struct ik_graph *g, struct ik_diag *d)
{
    size_t n = g->n_nodes;
    size_t *pending = ik_xcalloc(n, sizeof *pending); /* unfinished producer edges */
    bool *done = ik_xcalloc(n, sizeof *done);
    /* Consumers of each node, as compressed rows: first[v]..first[v+1]. */
    size_t *first = ik_xcalloc(n + 1, sizeof *first), n_edges = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j].source == IK_INPUT_NODE) {
                pending[i]++;
                first[g->nodes[i].inputs[j].node + 1]++;
                n_edges++;
            }
    for (size_t v = 0; v < n; v++)
        first[v + 1] += first[v];
    size_t *consumers = ik_xmalloc((n_edges + 1) * sizeof *consumers);
    size_t *fill = ik_xmalloc((n + 1) * sizeof *fill);
    memcpy(fill, first, (n + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j].source == IK_INPUT_NODE)
                consumers[fill[g->nodes[i].inputs[j].node]++] = i;
    struct ready_heap ready = {ik_xmalloc((n + 1) * sizeof(size_t)), 0};
    for (size_t v = 0; v < n; v++)
        if (pending[v] == 0)
            heap_push(&ready, v);
    g->topo = ik_xmalloc(n * sizeof *g->topo);
    size_t n_done = 0;
    while (ready.n > 0) {
        size_t v = heap_pop(&ready);
        done[v] = true;
        g->topo[n_done++] = v;
        for (size_t e = first[v]; e < first[v + 1]; e++)
            if (--pending[consumers[e]] == 0)
                heap_push(&ready, consumers[e]);
    }
    free(ready.v);
    free(consumers);
    free(fill);
    free(first);
    int rc = 0;
    if (n_done < n) {
        /* Every node left has an unfinished producer: walk producers back from
         * the first one until a node repeats; that loop is a cycle. */
        size_t *path = ik_xmalloc((n + 1) * sizeof *path);
        long *pos = ik_xmalloc(n * sizeof *pos);
        for (size_t i = 0; i < n; i++)
            pos[i] = -1;
        size_t len = 0, v = 0;
        while (done[v])
            v++;
        while (pos[v] < 0) {
            pos[v] = (long)len;
            path[len++] = v;
            const struct ik_graph_node *node = &g->nodes[v];
            size_t j = 0;
            while (node->inputs[j].source != IK_INPUT_NODE || done[node->inputs[j].node])
                j++;
            v = node->inputs[j].node;
        }
        /* path[pos[v]..len) runs consumer to producer; print it producer to
         * consumer, starting from the cycle's first node in the file. */
        size_t first = (size_t)pos[v], start = first;
        for (size_t k = first; k < len; k++)
            if (path[k] < path[start])
                start = k;
        struct ik_buf b = IK_BUF_INIT;
        size_t k = start;
        for (size_t step = 0; step <= len - first; step++) {
            ik_buf_printf(&b, "%s%s", step ? " -> " : "", g->nodes[path[k]].name);
            k = k == first ? len - 1 : k - 1;
        }
        rc = ik__graph_error(g, d, g->nodes[path[start]].loc, "cycle: %s", b.data);
        ik_buf_free(&b);
        free(path);
        free(pos);
    }
    free(pending);
    free(done);
    return rc;
}

/* The node's GPUs: those of its `resources: gpu` (given >= 0), needed; else
 * its type's, as far as its params want them (node.h, gpu_need). */
static void set_gpu(struct ik_graph_node *n, int given)
{
    const struct ik_node_type *t = n->type;
    n->gpu = given >= 0 ? given : t->gpu;
    n->gpu_optional = false;
    if (given >= 0 || t->gpu == 0)
        return;
    enum ik_gpu_need need = t->gpu_falls_back_to_cpu ? IK_GPU_OPTIONAL : IK_GPU_NEEDED;
    if (t->gpu_need) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, n->params_mp, n->params_len, NULL) == MSGPACK_UNPACK_SUCCESS)
            need = t->gpu_need(&u.data);
        msgpack_unpacked_destroy(&u);
    }
    if (need == IK_GPU_NONE)
        n->gpu = 0;
    n->gpu_optional = need == IK_GPU_OPTIONAL;
}

int ik__graph_validate(struct ik__graph_build *b, struct ik_diag *d)
{
    struct ik_graph *g = b->g;
    int rc;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if ((rc = resolve_type(b, i, d)) < 0 || (rc = ik__graph_resolve_params(b, i, d)) < 0)
            return rc;
        const struct ik_node_type *t = g->nodes[i].type;
        g->nodes[i].cpu = b->src[i].cpu >= 0 ? b->src[i].cpu : t->cpu;
        set_gpu(&g->nodes[i], b->src[i].gpu);
    }
    /* References need every node's outputs, hence a second pass. */
    for (size_t i = 0; i < g->n_nodes; i++)
        if ((rc = resolve_inputs(b, i, d)) < 0)
            return rc;
    return topo_sort(g, d);
}
