/* engine/graph_vars.c - `vars:` and `${name}` in a graph file.
 *
 * A graph's `vars:` is a mapping, the path of a YAML file holding one
 * (relative to the graph's folder), or a list of both, later ones winning.
 * Names are dotted paths into the mappings: `${train.lr}`. Values stay YAML
 * nodes of the document they were read from (kept for the load), so a
 * substituted scalar keeps its form: `rank: ${r}` with `r: 8` is the integer 8,
 * and errors about a value point at the line that uses it. A value that is
 * exactly "${r}" takes r's form even quoted, as YAML's flow mappings need the
 * quotes ({rank: "${r}"}). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "engine/graph_int.h"

void ik__graph_vars_add(struct ik__graph_vars *t, const char *name, yaml_document_t *doc,
                        yaml_node_t *node)
{
    int at = ik_strmap_get(&t->by_name, name, strlen(name));
    if (at >= 0) {
        t->v[at].doc = doc;
        t->v[at].node = node;
    } else {
        t->v = ik_xgrow(t->v, &t->cap, t->n + 1, sizeof *t->v);
        t->v[t->n] = (struct ik__graph_var){ik_xstrdup(name), doc, node};
        ik_strmap_put(&t->by_name, name, strlen(name), (int)t->n);
        t->n++;
    }
    if (node->type != YAML_MAPPING_NODE)
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        const char *k = ik__graph_scalar(yaml_document_get_node(doc, p->key));
        if (k == NULL)
            continue;
        char *sub = ik_xasprintf("%s.%s", name, k);
        ik__graph_vars_add(t, sub, doc, yaml_document_get_node(doc, p->value));
        free(sub);
    }
}

const struct ik__graph_var *ik__graph_lookup(const struct ik__graph_build *b,
                                             const struct ik__graph_vars *env, const char *name)
{
    int at = env ? ik_strmap_get(&env->by_name, name, strlen(name)) : -1;
    if (at >= 0)
        return &env->v[at];
    at = ik_strmap_get(&b->vars.by_name, name, strlen(name));
    return at >= 0 ? &b->vars.v[at] : NULL;
}

/* --- Reading vars ------------------------------------------------------------ */

static int add_mapping(struct ik__graph_build *b, const struct ik_graph *file,
                       yaml_document_t *doc, yaml_node_t *map, struct ik_diag *d)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        char *got = ik__graph_describe(map);
        yaml_mark_t mark = map ? map->start_mark : (yaml_mark_t){0, 0, 0};
        ik__graph_error(file, d, ik__graph_loc(file, mark),
                        "vars must be a mapping of name to value, got %s", got);
        free(got);
        return IK_EVALIDATE;
    }
    int rc = ik__graph_check_dup_keys(file, doc, map, "var", d);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        const char *ks = ik__graph_scalar(k);
        if (ks == NULL || !ik__graph_valid_port(ks))
            return ik__graph_error(file, d, ik__graph_loc(file, k->start_mark),
                                   "invalid var name: use letters, digits and '_', starting with "
                                   "a letter or '_'");
        ik__graph_vars_add(&b->vars, ks, doc, yaml_document_get_node(doc, p->value));
    }
    return rc;
}

/* A vars file, named at `at` in the graph. */
static int read_file(struct ik__graph_build *b, yaml_node_t *at, const char *rel,
                     struct ik_diag *d)
{
    struct ik_graph *g = b->g;
    char *path = rel[0] == '/' ? ik_xstrdup(rel) : ik_xasprintf("%s/%s", g->dir, rel);
    char *text = NULL;
    size_t len = 0;
    struct ik_diag rd = IK_DIAG_INIT;
    int rc = ik_read_file(path, &text, &len, &rd);
    ik_diag_free(&rd);
    if (rc < 0) {
        int err = rc;
        free(path);
        return ik__graph_error(g, d, ik__graph_loc(g, at->start_mark),
                               "cannot read vars file '%s': %s", rel, strerror(-err));
    }
    struct ik__graph_vars_file *f = ik_xcalloc(1, sizeof *f);
    f->file = ik_xcalloc(1, sizeof *f->file);
    f->file->path = ik_xstrdup(rel);
    f->file->text = text;
    f->file->text_len = len;
    free(path);
    yaml_parser_t parser;
    IK_ASSERT(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &f->doc)) {
        struct ik_srcloc loc = ik__graph_loc(f->file, parser.problem_mark);
        rc = ik_diag_at(d, IK_EPARSE, &loc, text, len, "invalid YAML: %s",
                        parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        free(f->file->path);
        free(f->file->text);
        free(f->file);
        free(f);
        return rc;
    }
    yaml_parser_delete(&parser);
    b->files = ik_xrealloc(b->files, (b->n_files + 1) * sizeof *b->files);
    b->files[b->n_files++] = f;
    return add_mapping(b, f->file, &f->doc, yaml_document_get_root_node(&f->doc), d);
}

static int read_one(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d)
{
    if (v->type == YAML_MAPPING_NODE)
        return add_mapping(b, b->g, b->doc, v, d);
    const char *s = ik__graph_scalar(v);
    if (s != NULL && s[0] != '\0')
        return read_file(b, v, s, d);
    char *got = ik__graph_describe(v);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, v->start_mark),
                    "'vars:' takes a mapping, a file's path or a list of them, got %s", got);
    free(got);
    return IK_EVALIDATE;
}

int ik__graph_read_vars(struct ik__graph_build *b, yaml_node_t *vars, struct ik_diag *d)
{
    if (vars->type != YAML_SEQUENCE_NODE)
        return read_one(b, vars, d);
    for (yaml_node_item_t *it = vars->data.sequence.items.start; it < vars->data.sequence.items.top;
         it++) {
        int rc = read_one(b, yaml_document_get_node(b->doc, *it), d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* --- Substitution ------------------------------------------------------------- */

static bool env_style(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return n > 0;
}

static int unknown_var(struct ik__graph_build *b, const struct ik__graph_vars *env,
                       const yaml_node_t *n, const char *name, struct ik_diag *d)
{
    size_t total = b->vars.n + (env ? env->n : 0);
    const char **names = ik_xmalloc((total + 1) * sizeof *names);
    size_t k = 0;
    for (size_t i = 0; env && i < env->n; i++)
        names[k++] = env->v[i].name;
    for (size_t i = 0; i < b->vars.n; i++)
        names[k++] = b->vars.v[i].name;
    names[k] = NULL;
    const char *near = ik_spellcheck(name, names);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, n->start_mark),
                    "unknown variable '${%s}'" IK__DYM_FMT, name, IK__DYM_ARGS(near));
    if (near == NULL)
        ik__graph_hint_list(d, "variables", names);
    ik_diag_hint(d, "write $${ for a literal ${; an undefined ${NAME} in capitals is left for "
                    "the shell");
    free(names);
    return IK_EVALIDATE;
}

static void keep_text(struct ik__graph_build *b, char *s)
{
    b->texts = ik_xgrow(b->texts, &b->cap_texts, b->n_texts + 1, sizeof *b->texts);
    b->texts[b->n_texts++] = s;
}

int ik__graph_text(struct ik__graph_build *b, const struct ik__graph_vars *env,
                   const yaml_node_t *n, struct ik__graph_text *out, struct ik_diag *d)
{
    out->s = ik__graph_scalar(n);
    out->len = out->s ? n->data.scalar.length : 0;
    out->plain = out->s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    /* The common case, kept cheap: a 10,000-node graph has no ${ at all. */
    if (out->s == NULL || memchr(out->s, '$', out->len) == NULL || strstr(out->s, "${") == NULL)
        return 0;
    const char *s = out->s;
    struct ik_buf buf = IK_BUF_INIT;
    bool whole = false;
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            ik_buf_append(&buf, "${", 2);
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            ik_buf_append(&buf, p, 1);
            p++;
            continue;
        }
        const char *end = strchr(p + 2, '}');
        if (end == NULL) {
            ik_buf_free(&buf);
            return ik__graph_error(b->g, d, ik__graph_loc(b->g, n->start_mark),
                                   "unclosed '${' in %s: expected ${name}", s);
        }
        char *name = ik_xstrndup(p + 2, (size_t)(end - p - 2));
        const struct ik__graph_var *v = ik__graph_lookup(b, env, name);
        if (v == NULL && env_style(name, strlen(name))) {
            ik_buf_append(&buf, p, (size_t)(end + 1 - p));
        } else if (v == NULL) {
            unknown_var(b, env, n, name, d);
            free(name);
            ik_buf_free(&buf);
            return IK_EVALIDATE;
        } else if (v->node->type != YAML_SCALAR_NODE) {
            ik__graph_error(b->g, d, ik__graph_loc(b->g, n->start_mark),
                            "'${%s}' is %s: only a scalar can be put in a value", name,
                            v->node->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
            free(name);
            ik_buf_free(&buf);
            return IK_EVALIDATE;
        } else {
            whole = p == s && end[1] == '\0';
            if (whole)
                out->plain = v->node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            ik_buf_append(&buf, (const char *)v->node->data.scalar.value,
                          v->node->data.scalar.length);
        }
        free(name);
        p = end + 1;
    }
    ik_buf_append(&buf, "", 1);
    out->len = buf.len - 1;
    out->s = buf.data;
    keep_text(b, buf.data);
    return 0;
}

static void free_table(struct ik__graph_vars *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
    ik_strmap_free(&t->by_name);
}

void ik__graph_free_vars(struct ik__graph_build *b)
{
    free_table(&b->vars);
    for (size_t i = 0; i < b->n_files; i++) {
        yaml_document_delete(&b->files[i]->doc);
        free(b->files[i]->file->path);
        free(b->files[i]->file->text);
        free(b->files[i]->file);
        free(b->files[i]);
    }
    free(b->files);
    for (size_t i = 0; i < b->n_envs; i++) {
        free_table(b->envs[i]);
        free(b->envs[i]);
    }
    free(b->envs);
    for (size_t i = 0; i < b->n_texts; i++)
        free(b->texts[i]);
    free(b->texts);
}
