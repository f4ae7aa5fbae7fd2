/* engine/graph_fanout.c - `foreach:` and `matrix:`: one node written, many
 * made, as DVC users write them.
 *
 *     train:                        # train@r8, train@r16; ${item} is 8, 16
 *       foreach: {r8: 8, r16: 16}   # (a list [8, 16] makes train@8, train@16)
 *     sweep:                        # sweep@8-0.0001, sweep@8-0.0002, ...
 *       matrix: {rank: [8, 16], lr: [1e-4, 2e-4]}   # ${item.rank}, ${item.lr}
 *
 * An instance is named NODE@SUFFIX: the mapping key, the scalar item, or for
 * a matrix the axes' values joined by '-' (an item that is a list or mapping
 * stands by its index). '@' cannot start or appear in a written name, so an
 * instance never collides with one. Each instance gets its own bindings
 * (item, item.<field>, key); everything else about the node is shared. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "engine/graph_int.h"

/* A product of more instances than this is a mistake, not a graph. */
enum { MAX_INSTANCES = 100000 };

/* Suffix characters: what a REF (graph:node.port) and --target can carry. */
static bool valid_suffix(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.' || *s == '+'))
            return false;
    return true;
}

/* The items of a foreach list or matrix axis: v itself, or the list or
 * mapping a whole-scalar ${name} names. */
static int collection(struct ik__graph_build *b, yaml_node_t *v, yaml_document_t **doc,
                      yaml_node_t **out, const char *what, struct ik_diag *d)
{
    *doc = b->doc;
    *out = v;
    const char *s = ik__graph_scalar(v);
    size_t len = s ? strlen(s) : 0;
    if (s && len > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}' &&
        memchr(s + 2, '}', len - 3) == NULL) {
        char *name = ik_xstrndup(s + 2, len - 3);
        const struct ik__graph_var *var = ik__graph_lookup(b, NULL, name);
        free(name);
        if (var != NULL) {
            *doc = var->doc;
            *out = var->node;
        }
    }
    if ((*out)->type == YAML_SEQUENCE_NODE || (*out)->type == YAML_MAPPING_NODE) {
        size_t n = (*out)->type == YAML_SEQUENCE_NODE
                       ? (size_t)((*out)->data.sequence.items.top - (*out)->data.sequence.items.start)
                       : (size_t)((*out)->data.mapping.pairs.top - (*out)->data.mapping.pairs.start);
        if (n > 0)
            return 0;
        return ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark), "%s is empty", what);
    }
    char *got = ik__graph_describe(v);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark),
                    "%s must be a list, a mapping or ${name} of one, got %s", what, got);
    free(got);
    return IK_EVALIDATE;
}

static size_t coll_len(const yaml_node_t *c)
{
    return c->type == YAML_SEQUENCE_NODE
               ? (size_t)(c->data.sequence.items.top - c->data.sequence.items.start)
               : (size_t)(c->data.mapping.pairs.top - c->data.mapping.pairs.start);
}

/* Item j of collection c: its value, and its key for a mapping (else NULL). */
static yaml_node_t *coll_item(yaml_document_t *doc, const yaml_node_t *c, size_t j,
                              yaml_node_t **key)
{
    if (c->type == YAML_SEQUENCE_NODE) {
        *key = NULL;
        return yaml_document_get_node(doc, c->data.sequence.items.start[j]);
    }
    *key = yaml_document_get_node(doc, c->data.mapping.pairs.start[j].key);
    return yaml_document_get_node(doc, c->data.mapping.pairs.start[j].value);
}

/* How item j names its instance: its key, its scalar text, or its index. */
static int item_suffix(struct ik__graph_build *b, yaml_node_t *item, yaml_node_t *key, size_t j,
                       yaml_node_t *at, struct ik_buf *out, struct ik_diag *d)
{
    const char *s = ik__graph_scalar(key ? key : item);
    if (s == NULL) {
        ik_buf_printf(out, "%zu", j);
        return 0;
    }
    if (valid_suffix(s)) {
        ik_buf_printf(out, "%s", s);
        return 0;
    }
    ik__graph_error(b->g, d, ik__graph_loc(b->g, at->start_mark),
                    "'%s' cannot name a node: an instance name takes letters, digits and '_', "
                    "'-', '.', '+'", s);
    ik_diag_hint(d, "name the items with a mapping: foreach: {name: value, ...}");
    return IK_EVALIDATE;
}

static struct ik__graph_vars *new_env(struct ik__graph_build *b)
{
    struct ik__graph_vars *env = ik_xcalloc(1, sizeof *env);
    b->envs = ik_xgrow(b->envs, &b->cap_envs, b->n_envs + 1, sizeof *b->envs);
    b->envs[b->n_envs++] = env;
    return env;
}

static void push(struct ik__graph_instance **out, size_t *n, size_t *cap, size_t pair, char *name,
                 const struct ik__graph_vars *env, yaml_mark_t mark)
{
    *out = ik_xgrow(*out, cap, *n + 1, sizeof **out);
    (*out)[(*n)++] = (struct ik__graph_instance){pair, name, env, mark};
}

static int expand_foreach(struct ik__graph_build *b, size_t pair, const char *name,
                          yaml_node_t *v, struct ik__graph_instance **out, size_t *n, size_t *cap,
                          struct ik_diag *d)
{
    yaml_document_t *doc;
    yaml_node_t *c;
    char *what = ik_xasprintf("'foreach:' of node '%s'", name);
    int rc = collection(b, v, &doc, &c, what, d);
    free(what);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < coll_len(c); j++) {
        yaml_node_t *key, *item = coll_item(doc, c, j, &key);
        struct ik_buf suffix = IK_BUF_INIT;
        yaml_node_t *at = doc == b->doc ? (key ? key : item) : v;
        if ((rc = item_suffix(b, item, key, j, at, &suffix, d)) < 0) {
            ik_buf_free(&suffix);
            return rc;
        }
        struct ik__graph_vars *env = new_env(b);
        ik__graph_vars_add(env, "item", doc, item);
        if (key != NULL)
            ik__graph_vars_add(env, "key", doc, key);
        push(out, n, cap, pair, ik_xasprintf("%s@%s", name, suffix.data), env, at->start_mark);
        ik_buf_free(&suffix);
    }
    return 0;
}

static int expand_matrix(struct ik__graph_build *b, size_t pair, const char *name,
                         yaml_node_t *v, struct ik__graph_instance **out, size_t *n, size_t *cap,
                         struct ik_diag *d)
{
    if (v->type != YAML_MAPPING_NODE || coll_len(v) == 0) {
        char *got = ik__graph_describe(v);
        ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark),
                        "'matrix:' of node '%s' must be a mapping of name to list, got %s", name,
                        got);
        free(got);
        return IK_EVALIDATE;
    }
    int rc = ik__graph_check_dup_keys(b->g, b->doc, v, "axis", d);
    if (rc < 0)
        return rc;
    size_t axes = coll_len(v), total = 1;
    yaml_document_t **docs = ik_xcalloc(axes, sizeof *docs);
    yaml_node_t **lists = ik_xcalloc(axes, sizeof *lists);
    const char **names = ik_xcalloc(axes, sizeof *names);
    size_t *at = ik_xcalloc(axes, sizeof *at);
    for (size_t a = 0; a < axes && rc == 0; a++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, v->data.mapping.pairs.start[a].key);
        names[a] = ik__graph_scalar(k);
        if (names[a] == NULL || !ik__graph_valid_port(names[a])) {
            rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                                 "invalid matrix axis name: use letters, digits and '_'");
            break;
        }
        char *what = ik_xasprintf("axis '%s' of node '%s''s matrix", names[a], name);
        rc = collection(b, yaml_document_get_node(b->doc, v->data.mapping.pairs.start[a].value),
                        &docs[a], &lists[a], what, d);
        free(what);
        if (rc == 0 && lists[a]->type != YAML_SEQUENCE_NODE)
            rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                                 "axis '%s' of node '%s''s matrix must be a list", names[a], name);
        if (rc == 0 && (total *= coll_len(lists[a])) > MAX_INSTANCES)
            rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark),
                                 "'matrix:' of node '%s' makes more than %d nodes", name,
                                 MAX_INSTANCES);
    }
    /* The first axis varies slowest, as the file reads. */
    for (size_t m = 0; rc == 0 && m < total; m++) {
        struct ik_buf suffix = IK_BUF_INIT;
        struct ik__graph_vars *env = new_env(b);
        for (size_t a = 0; a < axes && rc == 0; a++) {
            yaml_node_t *key, *item = coll_item(docs[a], lists[a], at[a], &key);
            if (a > 0)
                ik_buf_append(&suffix, "-", 1);
            yaml_node_t *where = docs[a] == b->doc ? item : v;
            rc = item_suffix(b, item, NULL, at[a], where, &suffix, d);
            char *var = ik_xasprintf("item.%s", names[a]);
            ik__graph_vars_add(env, var, docs[a], item);
            free(var);
        }
        if (rc == 0)
            push(out, n, cap, pair, ik_xasprintf("%s@%s", name, suffix.data), env, v->start_mark);
        ik_buf_free(&suffix);
        for (size_t a = axes; a-- > 0;) {
            if (++at[a] < coll_len(lists[a]))
                break;
            at[a] = 0;
        }
    }
    free(docs);
    free(lists);
    free(names);
    free(at);
    return rc;
}

int ik__graph_expand(struct ik__graph_build *b, size_t pair, yaml_node_t *key, yaml_node_t *val,
                     struct ik__graph_instance **out, size_t *n, size_t *cap, struct ik_diag *d)
{
    const char *name = ik__graph_scalar(key);
    yaml_node_t *foreach = NULL, *matrix = NULL;
    if (name != NULL && val->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
             p++) {
            const char *ks = ik__graph_scalar(yaml_document_get_node(b->doc, p->key));
            if (ks && !strcmp(ks, "foreach"))
                foreach = yaml_document_get_node(b->doc, p->value);
            else if (ks && !strcmp(ks, "matrix"))
                matrix = yaml_document_get_node(b->doc, p->value);
        }
    if (foreach && matrix)
        return ik__graph_error(b->g, d, ik__graph_loc(b->g, matrix->start_mark),
                               "node '%s' has both 'foreach:' and 'matrix:': use one", name);
    if (foreach)
        return expand_foreach(b, pair, name, foreach, out, n, cap, d);
    if (matrix)
        return expand_matrix(b, pair, name, matrix, out, n, cap, d);
    push(out, n, cap, pair, NULL, NULL, key->start_mark);
    return 0;
}
