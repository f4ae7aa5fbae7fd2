/* engine/graph.c - reading a graph file: YAML (libyaml's document API) to a
 * struct ik_graph with source locations.
 *
 * Nesting is bounded before the document is built (check_depth). This file
 * checks the shape of the file (top level, node names and keys,
 * `in:` and `resources:` syntax); graph_validate.c checks it against the node
 * types. libyaml accepts repeated mapping keys, so they are rejected here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/error.h"
#include "engine/graph.h"
#include "engine/graph_int.h"
#include "base/spellcheck.h"
#include "base/sysmem.h"
#include "base/xmalloc.h"

static const char *const node_keys[] = {"type",    "in",     "params",   "resources",
                                        "foreach", "matrix", "executor", NULL};
static const char *const top_keys[] = {"nodes", "vars", "executor", "remote", NULL};
static const char *const file_keys[] = {"file", "glob", NULL};
static const char *const resource_keys[] = {"cpu", "gpu", "mem", "time", NULL};

/* Node names may also hold '-' (but not first), unlike ports. */
static bool valid_node_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* --- Paths ------------------------------------------------------------------ */

/* Removes ".", "" and "name/.." components of an absolute path, in place. This
 * is lexical (as Go's filepath.Clean): a symlink followed by ".." is not
 * resolved, which matches how users read the paths they wrote. */
static void clean_abs_path(char *p)
{
    /* p[0, out) is the cleaned prefix; it never overtakes `in`, since every
     * '/' it writes stands for one already read. */
    char *out = p + 1;
    const char *in = p + 1;
    while (*in) {
        const char *end = strchr(in, '/');
        size_t n = end ? (size_t)(end - in) : strlen(in);
        if (n == 0 || (n == 1 && in[0] == '.')) {
            /* skip */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > p + 1 && out[-1] != '/')
                out--;
            if (out > p + 1)
                out--; /* the separator before the dropped component */
        } else {
            if (out > p + 1)
                *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in += n + (end != NULL);
    }
    *out = '\0';
}

/* Absolute form of `rel` against folder `base` (absolute), cleaned. */
static char *join_abs(const char *base, const char *rel)
{
    char *p = rel[0] == '/' ? ik_xstrdup(rel) : ik_xasprintf("%s/%s", base, rel);
    clean_abs_path(p);
    return p;
}

/* The graph file's folder, absolute: realpath when it exists (resolving
 * symlinks once, here), else lexically against the working directory. */
static char *graph_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? ik_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : ik_xstrdup(".");
    char *real = realpath(dir, NULL);
    if (real != NULL) {
        free(dir);
        return real;
    }
    char *cwd = dir[0] == '/' ? NULL : getcwd(NULL, 0);
    char *abs = join_abs(cwd ? cwd : "/", dir);
    free(cwd);
    free(dir);
    return abs;
}

static char *graph_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
        n -= 4;
    return ik_xstrndup(base, n);
}

/* --- Parsing nodes ----------------------------------------------------------- */

static bool is_null(const yaml_node_t *n)
{
    const char *s = ik__graph_scalar(n);
    if (s == NULL || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static int unknown_key(struct ik__graph_build *b, yaml_node_t *k, const char *where,
                       const char *const *known, struct ik_diag *d)
{
    const char *ks = ik__graph_scalar(k);
    const char *near = ik_spellcheck(ks, known);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                    "unknown key '%s' in %s" IK__DYM_FMT, ks, where, IK__DYM_ARGS(near));
    if (near == NULL)
        ik__graph_hint_list(d, "known keys", known);
    return IK_EVALIDATE;
}

/* Checks that n is a mapping whose keys are scalars, none repeated. */
static int expect_map(struct ik__graph_build *b, yaml_node_t *n, const char *what,
                      const char *dup_what, struct ik_diag *d)
{
    if (n->type != YAML_MAPPING_NODE) {
        char *got = ik__graph_describe(n);
        ik__graph_error(b->g, d, ik__graph_loc(b->g, n->start_mark), "%s must be a mapping, got %s",
                        what, got);
        free(got);
        return IK_EVALIDATE;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                                   "keys of %s must be plain names, got %s", what,
                                   k->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
    }
    return ik__graph_check_dup_keys(b->g, b->doc, n, dup_what, d);
}

static int parse_input(struct ik__graph_build *b, size_t i, yaml_node_t *k, yaml_node_t *v,
                       struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    struct ik_graph_input *in = &node->inputs[node->n_inputs];
    struct ik__graph_input_src *src = &b->src[i].inputs[node->n_inputs];
    const char *port = ik__graph_scalar(k);
    struct ik__graph_text ref_text;
    if (ik__graph_text(b, b->src[i].env, v, &ref_text, d) < 0)
        return IK_EVALIDATE;
    const char *ref = ref_text.s;
    if (ref != NULL && !is_null(v)) {
        /* The last '.': ports have none, instance names may (train@0.0001). */
        const char *dot = strrchr(ref, '.');
        if (dot != NULL && dot != ref && dot[1] != '\0') {
            in->port = ik_xstrdup(port);
            in->source = IK_INPUT_NODE;
            in->node_port = ik_xstrdup(dot + 1);
            in->loc = ik__graph_loc(b->g, v->start_mark);
            src->ref_node = ik_xstrndup(ref, (size_t)(dot - ref));
            src->key_loc = ik__graph_loc(b->g, k->start_mark);
            node->n_inputs++;
            return 0;
        }
    } else if (v->type == YAML_MAPPING_NODE &&
               v->data.mapping.pairs.top > v->data.mapping.pairs.start) {
        char *what = ik_xasprintf("input '%s' of node '%s'", port, node->name);
        int rc = expect_map(b, v, what, "key", d);
        free(what);
        if (rc < 0)
            return rc;
        yaml_node_t *file = NULL;
        const char *key = NULL; /* "file" or "glob" */
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            yaml_node_t *fk = yaml_document_get_node(b->doc, p->key);
            const char *ks = ik__graph_scalar(fk);
            if (strcmp(ks, "file") != 0 && strcmp(ks, "glob") != 0) {
                char *where = ik_xasprintf("input '%s' of node '%s'", port, node->name);
                unknown_key(b, fk, where, file_keys, d);
                free(where);
                return IK_EVALIDATE;
            }
            if (key != NULL)
                return ik__graph_error(b->g, d, ik__graph_loc(b->g, fk->start_mark),
                                       "input '%s' of node '%s' takes one of 'file:' and "
                                       "'glob:', not both", port, node->name);
            key = ks;
            file = yaml_document_get_node(b->doc, p->value);
        }
        struct ik__graph_text path_text;
        if (ik__graph_text(b, b->src[i].env, file, &path_text, d) < 0)
            return IK_EVALIDATE;
        const char *path = path_text.s;
        if (path == NULL || path[0] == '\0') {
            char *got = ik__graph_describe(file);
            ik__graph_error(b->g, d, ik__graph_loc(b->g, file->start_mark),
                            "'%s:' of input '%s' of node '%s' must be a %s, got %s", key, port,
                            node->name, key[0] == 'g' ? "pattern" : "path", got);
            free(got);
            return IK_EVALIDATE;
        }
        in->port = ik_xstrdup(port);
        in->source = IK_INPUT_FILE;
        in->glob = key[0] == 'g';
        in->path = ik_xstrdup(path);
        in->abs_path = join_abs(b->g->dir, path);
        in->loc = ik__graph_loc(b->g, file->start_mark);
        src->key_loc = ik__graph_loc(b->g, k->start_mark);
        node->n_inputs++;
        return 0;
    }
    char *got = ik__graph_describe(v);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark),
                    "input '%s' of node '%s' must be 'node.port', {file: path} or {glob: pattern}, "
                    "got %s", port,
                    node->name, got);
    free(got);
    return IK_EVALIDATE;
}

static int parse_inputs(struct ik__graph_build *b, size_t i, yaml_node_t *v, struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    if (is_null(v))
        return 0;
    char *what = ik_xasprintf("'in:' of node '%s'", node->name);
    int rc = expect_map(b, v, what, "input", d);
    free(what);
    if (rc < 0)
        return rc;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    node->inputs = ik_xcalloc(n ? n : 1, sizeof *node->inputs);
    b->src[i].inputs = ik_xcalloc(n ? n : 1, sizeof *b->src[i].inputs);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        rc = parse_input(b, i, yaml_document_get_node(b->doc, p->key),
                         yaml_document_get_node(b->doc, p->value), d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* `mem: 4G`: bytes, or a number with K, M, G or T (powers of 1024, an
 * optional trailing "i" or "B" as in Kubernetes and Slurm: 512Mi, 4GB). */
static int parse_mem(struct ik__graph_build *b, size_t i, yaml_node_t *val, struct ik_diag *d)
{
    struct ik__graph_text text;
    if (ik__graph_text(b, b->src[i].env, val, &text, d) < 0)
        return IK_EVALIDATE;
    const char *s = text.s;
    char *end = NULL;
    errno = 0;
    unsigned long long n = s && s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    int shift = 0;
    if (end && *end) {
        const char *units = "KMGT", *u = strchr(units, *end);
        shift = u ? 10 * (int)(u - units + 1) : -1;
        end += u ? 1 : 0;
        end += *end == 'i' || *end == 'B' ? 1 : 0;
    }
    bool ok = end != NULL && end != s && *end == '\0' && errno == 0 && shift >= 0 && n > 0 &&
              n <= (UINT64_MAX >> shift);
    if (!ok) {
        char *got = ik__graph_describe(val);
        ik__graph_error(b->g, d, ik__graph_loc(b->g, val->start_mark),
                        "resource 'mem' of node '%s' expects a size such as 512M or 4G, got %s",
                        b->g->nodes[i].name, got);
        free(got);
        return IK_EVALIDATE;
    }
    b->g->nodes[i].mem = (uint64_t)n << shift;
    return 0;
}

static int parse_resources(struct ik__graph_build *b, size_t i, yaml_node_t *v, struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    if (is_null(v))
        return 0;
    char *what = ik_xasprintf("'resources:' of node '%s'", node->name);
    int rc = expect_map(b, v, what, "resource", d);
    free(what);
    if (rc < 0)
        return rc;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(b->doc, p->value);
        const char *ks = ik__graph_scalar(k);
        if (!strcmp(ks, "mem")) {
            if ((rc = parse_mem(b, i, val, d)) < 0)
                return rc;
            continue;
        }
        if (!strcmp(ks, "time")) {
            char *what = ik_xasprintf("resource 'time' of node '%s'", node->name);
            rc = ik__graph_read_slurm_time(b, b->src[i].env, val, what, &node->time, d);
            free(what);
            if (rc < 0)
                return rc;
            continue;
        }
        int *slot = !strcmp(ks, "cpu")   ? &b->src[i].cpu
                    : !strcmp(ks, "gpu") ? &b->src[i].gpu
                                         : NULL;
        if (slot == NULL) {
            char *where = ik_xasprintf("'resources:' of node '%s'", node->name);
            unknown_key(b, k, where, resource_keys, d);
            free(where);
            return IK_EVALIDATE;
        }
        struct ik__graph_text text;
        if (ik__graph_text(b, b->src[i].env, val, &text, d) < 0)
            return IK_EVALIDATE;
        const char *s = text.s;
        char *end = NULL;
        errno = 0;
        long n = s && s[0] >= '0' && s[0] <= '9' ? strtol(s, &end, 10) : -1;
        if (n < 0 || *end != '\0' || errno != 0 || n > INT_MAX) {
            char *got = ik__graph_describe(val);
            ik__graph_error(b->g, d, ik__graph_loc(b->g, val->start_mark),
                            "resource '%s' of node '%s' expects a non-negative integer, got %s", ks,
                            node->name, got);
            free(got);
            return IK_EVALIDATE;
        }
        if (slot == &b->src[i].cpu) /* checked against the machine when a run starts */
            node->cpu_loc = ik__graph_loc(b->g, val->start_mark);
        *slot = (int)n;
    }
    return 0;
}

static int check_node_name(struct ik__graph_build *b, yaml_node_t *k, struct ik_diag *d)
{
    const char *name = ik__graph_scalar(k);
    if (name != NULL && valid_node_name(name))
        return 0;
    char *got = ik__graph_describe(k);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                    "invalid node name %s: use letters, digits, '_' and '-', starting with a "
                    "letter or '_'",
                    got);
    free(got);
    return IK_EVALIDATE;
}

/* Node i, instance `inst` of the node written as k: v. */
static int parse_node(struct ik__graph_build *b, size_t i, yaml_node_t *k, yaml_node_t *v,
                      const struct ik__graph_instance *inst, struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    struct ik__graph_src *src = &b->src[i];
    const char *name = inst->name ? inst->name : ik__graph_scalar(k);
    node->name = ik_xstrdup(name);
    node->loc = ik__graph_loc(b->g, k->start_mark);
    src->env = inst->env;
    src->fanout_mark = inst->mark;
    src->cpu = src->gpu = -1;
    char *what = ik_xasprintf("node '%s'", name);
    int rc = expect_map(b, v, what, "key", d);
    if (rc < 0)
        goto out;
    yaml_node_t *type = NULL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(b->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(b->doc, p->value);
        const char *ks = ik__graph_scalar(key);
        if (!strcmp(ks, "type")) {
            type = val;
        } else if (!strcmp(ks, "in")) {
            rc = parse_inputs(b, i, val, d);
        } else if (!strcmp(ks, "params")) {
            if (!is_null(val)) {
                char *pw = ik_xasprintf("'params:' of node '%s'", name);
                rc = expect_map(b, val, pw, "param", d);
                free(pw);
                src->params = val;
            }
        } else if (!strcmp(ks, "resources")) {
            rc = parse_resources(b, i, val, d);
        } else if (!strcmp(ks, "executor")) {
            rc = ik__graph_node_executor(b, i, val, d);
        } else if (!strcmp(ks, "foreach") || !strcmp(ks, "matrix")) {
            /* expanded by ik__graph_expand before this */
        } else {
            rc = unknown_key(b, key, what, node_keys, d);
        }
        if (rc < 0)
            goto out;
    }
    if (type == NULL) {
        rc = ik__graph_error(b->g, d, node->loc, "node '%s' has no 'type:'", name);
        ik_diag_hint(d, "`ikada nodes` lists the node types");
        goto out;
    }
    struct ik__graph_text type_text;
    if ((rc = ik__graph_text(b, src->env, type, &type_text, d)) < 0)
        goto out;
    const char *ts = type_text.s;
    if (ts == NULL || ts[0] == '\0') {
        char *got = ik__graph_describe(type);
        rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, type->start_mark),
                             "'type:' of node '%s' must be a type name, got %s", name, got);
        free(got);
        goto out;
    }
    src->type_name = ik_xstrdup(ts);
    src->type_loc = ik__graph_loc(b->g, type->start_mark);
out:
    free(what);
    return rc;
}

static int parse_top(struct ik__graph_build *b, yaml_node_t *root, struct ik_diag *d)
{
    struct ik_graph *g = b->g;
    if (root == NULL) {
        struct ik_srcloc loc = {g->path, 0, 0};
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0,
                          "empty graph file: expected a mapping with a 'nodes:' key");
    }
    if (root->type != YAML_MAPPING_NODE) {
        char *got = ik__graph_describe(root);
        ik__graph_error(g, d, ik__graph_loc(g, root->start_mark),
                        "a graph file must be a mapping with a 'nodes:' key, got %s", got);
        free(got);
        return IK_EVALIDATE;
    }
    int rc = expect_map(b, root, "the graph file", "key", d);
    if (rc < 0)
        return rc;
    yaml_node_t *nodes = NULL, *nodes_key = NULL, *vars = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        if (!strcmp(ik__graph_scalar(k), "vars")) {
            vars = yaml_document_get_node(b->doc, p->value);
            continue;
        }
        if (!strcmp(ik__graph_scalar(k), "executor")) {
            if ((rc = ik__graph_read_executor(b, yaml_document_get_node(b->doc, p->value), d)) < 0)
                return rc;
            continue;
        }
        if (!strcmp(ik__graph_scalar(k), "remote")) {
            if ((rc = ik__graph_read_remote(b, yaml_document_get_node(b->doc, p->value), d)) < 0)
                return rc;
            continue;
        }
        if (strcmp(ik__graph_scalar(k), "nodes") != 0)
            return unknown_key(b, k, "the graph file", top_keys, d);
        nodes_key = k;
        nodes = yaml_document_get_node(b->doc, p->value);
    }
    if (vars != NULL && !is_null(vars) && (rc = ik__graph_read_vars(b, vars, d)) < 0)
        return rc;
    if (nodes == NULL)
        return ik__graph_error(g, d, ik__graph_loc(g, root->start_mark),
                               "the graph file has no 'nodes:' key");
    if (is_null(nodes) || (nodes->type == YAML_MAPPING_NODE &&
                           nodes->data.mapping.pairs.top == nodes->data.mapping.pairs.start))
        return ik__graph_error(g, d, ik__graph_loc(g, nodes_key->start_mark),
                               "'nodes:' is empty: a graph needs at least one node");
    if (nodes->type != YAML_MAPPING_NODE) {
        char *got = ik__graph_describe(nodes);
        ik__graph_error(g, d, ik__graph_loc(g, nodes->start_mark),
                        "'nodes:' must be a mapping of node name to node, got %s", got);
        free(got);
        return IK_EVALIDATE;
    }
    rc = ik__graph_check_dup_keys(g, b->doc, nodes, "node", d);
    if (rc < 0)
        return rc;
    size_t n_pairs = (size_t)(nodes->data.mapping.pairs.top - nodes->data.mapping.pairs.start);
    struct ik__graph_instance *inst = NULL;
    size_t n = 0, cap = 0;
    for (size_t j = 0; j < n_pairs && rc == 0; j++) {
        yaml_node_pair_t *p = &nodes->data.mapping.pairs.start[j];
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        rc = check_node_name(b, k, d);
        if (rc == 0)
            rc = ik__graph_expand(b, j, k, yaml_document_get_node(b->doc, p->value), &inst, &n,
                                  &cap, d);
    }
    if (rc == 0) {
        g->nodes = ik_xcalloc(n, sizeof *g->nodes);
        b->src = ik_xcalloc(n, sizeof *b->src);
        g->n_nodes = n;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        yaml_node_pair_t *p = &nodes->data.mapping.pairs.start[inst[i].pair];
        rc = parse_node(b, i, yaml_document_get_node(b->doc, p->key),
                        yaml_document_get_node(b->doc, p->value), &inst[i], d);
        if (rc == 0 && ik_graph_find(g, g->nodes[i].name) >= 0)
            rc = ik__graph_error(g, d, ik__graph_loc(g, inst[i].mark),
                                 "this item makes node '%s' a second time", g->nodes[i].name);
        if (rc == 0)
            ik_strmap_put(&g->by_name, g->nodes[i].name, strlen(g->nodes[i].name), (int)i);
    }
    for (size_t i = 0; i < n; i++)
        free(inst[i].name);
    free(inst);
    return rc;
}

/* --- Loading ----------------------------------------------------------------- */

/* An IK_EPARSE diag from libyaml's error state. */
static int yaml_error(const struct ik_graph *g, const yaml_parser_t *p, struct ik_diag *d)
{
    if (p->error == YAML_MEMORY_ERROR)
        return ik_diag_set(d, -ENOMEM, "out of memory parsing %s", g->path);
    yaml_mark_t mark = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors (bad encoding) give a byte offset, not a mark. */
        mark.line = mark.column = 0;
        mark.index = p->problem_offset;
        for (size_t i = 0; i < p->problem_offset && i < g->text_len; i++) {
            if (g->text[i] == '\n') {
                mark.line++;
                mark.column = 0;
            } else {
                mark.column++;
            }
        }
    }
    /* At the end of the file the excerpt would be an empty line: point at
     * the construct left open instead (an unclosed quote or bracket). */
    bool ctx = p->context != NULL && p->error != YAML_READER_ERROR;
    if (ctx && mark.index >= g->text_len)
        mark = p->context_mark;
    struct ik_srcloc loc = ik__graph_loc(g, mark);
    const char *problem = p->problem ? p->problem : "syntax error";
    int ctx_line = (int)p->context_mark.line + 1;
    if (ctx && ctx_line != loc.line)
        ik_diag_at(d, IK_EPARSE, &loc, g->text, g->text_len, "invalid YAML: %s (%s at line %d)",
                   problem, p->context, ctx_line);
    else if (ctx)
        ik_diag_at(d, IK_EPARSE, &loc, g->text, g->text_len, "invalid YAML: %s (%s)", problem,
                   p->context);
    else
        ik_diag_at(d, IK_EPARSE, &loc, g->text, g->text_len, "invalid YAML: %s", problem);
    if (mark.index < g->text_len && g->text[mark.index] == '\t' && p->error != YAML_READER_ERROR)
        ik_diag_hint(d, "YAML indentation must use spaces, not tabs");
    return IK_EPARSE;
}

/* Collections nest at most this deep in a graph file (a real one nests < 10;
 * params allow 64 below `params:`). libyaml builds the whole document before
 * we see it, and its scanner is quadratic in the nesting (40,000 levels took
 * 4.4 s), so the depth is checked on the event stream first, which stops at
 * the first collection too deep. */
#define MAX_YAML_DEPTH 100

/* IK_EPARSE at the first collection nested deeper than MAX_YAML_DEPTH, else
 * 0. A syntax error ends the scan quietly: the document load reports it. */
static int check_depth(const struct ik_graph *g, struct ik_diag *d)
{
    yaml_parser_t parser;
    IK_ASSERT(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)g->text, g->text_len);
    int depth = 0, rc = 0;
    bool end = false;
    while (!end && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > MAX_YAML_DEPTH) {
                struct ik_srcloc loc = ik__graph_loc(g, ev.start_mark);
                rc = ik_diag_at(d, IK_EPARSE, &loc, g->text, g->text_len, "invalid YAML: "
                                "collections nested more than %d levels deep", MAX_YAML_DEPTH);
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: end = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static void free_build(struct ik__graph_build *b)
{
    ik__graph_free_sets(b);
    ik__graph_free_vars(b);
    free(b->defaults);
    if (b->defaults_zone)
        msgpack_zone_free(b->defaults_zone);
    if (b->src == NULL)
        return;
    for (size_t i = 0; i < b->g->n_nodes; i++) {
        free(b->src[i].type_name);
        if (b->src[i].inputs)
            for (size_t j = 0; j < b->g->nodes[i].n_inputs; j++)
                free(b->src[i].inputs[j].ref_node);
        free(b->src[i].inputs);
    }
    free(b->src);
}

int ik_graph_load_string(const struct ik_node_type *const *types, const char *path,
                         const char *text, size_t len, struct ik_graph **out,
                         struct ik_diag *d)
{
    return ik_graph_load_string_opts(types, path, text, len, NULL, out, d);
}

/* A graph file's top level, checked against the node types. */
static int read_graph(struct ik__graph_build *b, yaml_node_t *root, struct ik_diag *d)
{
    int rc = parse_top(b, root, d);
    if (rc == 0)
        rc = ik__graph_check_sets(b, d);
    if (rc == 0)
        rc = ik__graph_validate(b, d);
    return rc;
}

int ik_graph_load_string_opts(const struct ik_node_type *const *types, const char *path,
                              const char *text, size_t len, const struct ik_graph_opts *opts,
                              struct ik_graph **out, struct ik_diag *d)
{
    return ik__graph_load_with(types, path, text, len, opts, read_graph, out, d);
}

int ik__graph_load_with(const struct ik_node_type *const *types, const char *path,
                        const char *text, size_t len, const struct ik_graph_opts *opts,
                        ik__graph_top_fn read_top, struct ik_graph **out, struct ik_diag *d)
{
    struct ik_graph *g = ik_xcalloc(1, sizeof *g);
    g->path = ik_xstrdup(path);
    g->dir = graph_dir(path);
    g->name = graph_name(path);
    g->text = ik_xmalloc(len + 1);
    memcpy(g->text, text, len);
    g->text[len] = '\0';
    g->text_len = len;

    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false;
    struct ik__graph_build b = {.g = g, .doc = &doc, .types = types};
    int rc = ik__graph_parse_sets(&b, opts, d);
    if (rc == 0)
        rc = check_depth(g, d);
    if (rc < 0) {
        free_build(&b);
        ik_graph_free(g);
        return rc;
    }
    IK_ASSERT(yaml_parser_initialize(&parser)); /* fails only on allocation, like ik_xmalloc */
    yaml_parser_set_input_string(&parser, (const unsigned char *)g->text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(g, &parser, d);
        goto out;
    }
    have_doc = true;
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        rc = yaml_error(g, &parser, d);
        goto out;
    }
    yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
    if (extra_root != NULL) {
        rc = ik__graph_error(g, d, ik__graph_loc(g, extra.start_mark),
                             "a graph file holds one YAML document; found a second one here");
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    rc = read_top(&b, yaml_document_get_root_node(&doc), d);
out:
    free_build(&b);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        ik_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int ik_graph_load(const struct ik_node_type *const *types, const char *path,
                  struct ik_graph **out, struct ik_diag *d)
{
    return ik_graph_load_opts(types, path, NULL, out, d);
}

int ik_graph_load_opts(const struct ik_node_type *const *types, const char *path,
                       const struct ik_graph_opts *opts, struct ik_graph **out, struct ik_diag *d)
{
    return ik__graph_load_file_with(types, path, opts, read_graph, out, d);
}

int ik__graph_load_file_with(const struct ik_node_type *const *types, const char *path,
                             const struct ik_graph_opts *opts, ik__graph_top_fn read_top,
                             struct ik_graph **out, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ik_diag_set(d, -errno, "cannot read %s: %s", path, strerror(errno));
    struct ik_buf text = IK_BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            ik_buf_free(&text);
            return ik_diag_set(d, -err, "cannot read %s: %s", path, strerror(err));
        }
        if (n == 0)
            break;
        ik_buf_append(&text, chunk, (size_t)n);
    }
    close(fd);
    int rc = ik__graph_load_with(types, path, text.data ? text.data : "", text.len, opts,
                                 read_top, out, d);
    ik_buf_free(&text);
    return rc;
}

/* --- Queries and freeing -------------------------------------------------------- */

long ik_graph_find(const struct ik_graph *g, const char *name)
{
    return ik_strmap_get(&g->by_name, name, strlen(name));
}

long ik_graph_node_output(const struct ik_graph_node *n, const char *port)
{
    for (size_t i = 0; i < n->n_outputs; i++)
        if (strcmp(n->outputs[i], port) == 0)
            return (long)i;
    return -1;
}

void ik_graph_free(struct ik_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        struct ik_graph_node *n = &g->nodes[i];
        free(n->name);
        for (size_t j = 0; j < n->n_inputs; j++) {
            free(n->inputs[j].port);
            free(n->inputs[j].node_port);
            free(n->inputs[j].path);
            free(n->inputs[j].abs_path);
        }
        free(n->inputs);
        for (size_t j = 0; j < n->n_outputs; j++)
            free(n->outputs[j]);
        free(n->outputs);
        free(n->params_mp);
        free(n->time);
        for (size_t j = 0; j < n->n_param_locs; j++)
            free(n->param_locs[j].name);
        free(n->param_locs);
    }
    free(g->nodes);
    free(g->topo);
    ik_strmap_free(&g->by_name);
    ik__graph_free_executor(&g->executor);
    free(g->remote);
    free(g->remote_file);
    free(g->path);
    free(g->dir);
    free(g->name);
    free(g->text);
    free(g);
}
