/* engine/graph_executor.c - the graph's `executor:` block, a node's `executor:` key, and
 * the graph's `remote:` (where results are shared); the config file (engine/config.c)
 * takes the same two top-level keys, read by the same code.
 *
 *     executor:
 *       kind: slurm                 # or local; `ikada run --executor` overrides it
 *       partition: gpu              # sbatch -p
 *       account: lab                # sbatch -A
 *       time: "1:00:00"             # sbatch --time
 *       sbatch: "--qos=short"       # further sbatch flags
 *       types:                      # per node-type overrides of the above
 *         sample: local             # nodes of type sample stay local
 *         train: {partition: a100, time: "12:00:00"}
 *
 * None of this enters a node's key: where a node runs does not change what it
 * computes. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "engine/graph_int.h"

static const char *const block_keys[] = {"kind", "partition", "account", "time", "sbatch",
                                         "types", NULL};
static const char *const setting_keys[] = {"partition", "account", "time", "sbatch", NULL};

static int error_at(struct ik__graph_build *b, const yaml_node_t *n, struct ik_diag *d,
                    const char *what, const char *expected)
{
    char *got = ik__graph_describe(n);
    ik__graph_error(b->g, d, ik__graph_loc(b->g, n->start_mark), "%s must be %s, got %s", what,
                    expected, got);
    free(got);
    return IK_EVALIDATE;
}

static int unknown(struct ik__graph_build *b, const yaml_node_t *k, const char *where,
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

/* A non-empty scalar, copied to *out. */
static int read_text(struct ik__graph_build *b, const yaml_node_t *v, const char *what,
                     char **out, struct ik_diag *d)
{
    const char *s = ik__graph_scalar(v);
    if (s == NULL || s[0] == '\0')
        return error_at(b, v, d, what, "a non-empty string");
    free(*out);
    *out = ik_xstrdup(s);
    return 0;
}

static int expect_mapping(struct ik__graph_build *b, yaml_node_t *v, const char *what,
                          struct ik_diag *d)
{
    if (v->type != YAML_MAPPING_NODE)
        return error_at(b, v, d, what, "a mapping");
    return ik__graph_check_dup_keys(b->g, b->doc, v, "key", d);
}

/* Slurm's forms: [D-]G[:G[:G]], each G one or more digits. */
static bool slurm_time_ok(const char *s)
{
    const char *dash = strchr(s, '-');
    if (dash != NULL) {
        if (dash == s || strspn(s, "0123456789") != (size_t)(dash - s))
            return false;
        s = dash + 1;
    }
    for (int groups = 1; groups <= 3; groups++) {
        size_t n = strspn(s, "0123456789");
        if (n == 0)
            return false;
        s += n;
        if (*s == '\0')
            return true;
        if (*s++ != ':')
            return false;
    }
    return false;
}

int ik__graph_read_slurm_time(struct ik__graph_build *b, const struct ik__graph_vars *env,
                              const yaml_node_t *v, const char *what, char **out,
                              struct ik_diag *d)
{
    struct ik__graph_text text;
    if (ik__graph_text(b, env, v, &text, d) < 0)
        return IK_EVALIDATE;
    if (text.s == NULL || !slurm_time_ok(text.s))
        return error_at(b, v, d, what, "a Slurm time limit: minutes, \"H:MM:SS\" or "
                                       "\"D-HH:MM:SS\"");
    free(*out);
    *out = ik_xstrdup(text.s);
    return 0;
}

/* One setting of a block or of a type override; 1 when `key` is not one. */
static int read_setting(struct ik__graph_build *b, const char *key, const yaml_node_t *v,
                        struct ik_graph_exec_settings *s, struct ik_diag *d)
{
    char *what = ik_xasprintf("'executor: %s:'", key);
    int rc = 1;
    if (!strcmp(key, "partition"))
        rc = read_text(b, v, what, &s->partition, d);
    else if (!strcmp(key, "account"))
        rc = read_text(b, v, what, &s->account, d);
    else if (!strcmp(key, "time"))
        rc = ik__graph_read_slurm_time(b, NULL, v, what, &s->time, d);
    else if (!strcmp(key, "sbatch"))
        rc = read_text(b, v, what, &s->sbatch, d);
    free(what);
    return rc;
}

/* A type's override: `local`, `slurm` or a mapping of settings. */
static int read_override(struct ik__graph_build *b, const char *type, yaml_node_t *v,
                         struct ik_graph_exec_settings *s, struct ik_diag *d)
{
    const char *kind = ik__graph_scalar(v);
    char *what = ik_xasprintf("'executor: types: %s:'", type);
    int rc = 0;
    if (kind != NULL) {
        if (!strcmp(kind, "local"))
            s->local = true;
        else if (strcmp(kind, "slurm") != 0)
            rc = error_at(b, v, d, what, "local, slurm or a mapping of sbatch settings");
    } else if ((rc = expect_mapping(b, v, what, d)) == 0) {
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; rc == 0 && p < v->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
            rc = read_setting(b, ik__graph_scalar(k), yaml_document_get_node(b->doc, p->value), s, d);
            if (rc == 1)
                rc = unknown(b, k, what, setting_keys, d);
        }
    }
    free(what);
    return rc;
}

static bool known_type(const struct ik__graph_build *b, const char *name)
{
    for (size_t i = 0; b->types[i]; i++)
        if (!strcmp(b->types[i]->name, name))
            return true;
    return false;
}

static int read_types(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d)
{
    struct ik_graph_executor *e = &b->g->executor;
    int rc = expect_mapping(b, v, "'executor: types:'", d);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; rc == 0 && p < v->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        const char *type = ik__graph_scalar(k);
        if (!known_type(b, type)) {
            rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                                 "'executor: types:' names '%s', which is not a node type", type);
            ik_diag_hint(d, "`ikada nodes` lists the node types");
            break;
        }
        e->type_names = ik_xrealloc(e->type_names, (e->n_types + 1) * sizeof *e->type_names);
        e->types = ik_xrealloc(e->types, (e->n_types + 1) * sizeof *e->types);
        e->type_names[e->n_types] = ik_xstrdup(type);
        memset(&e->types[e->n_types], 0, sizeof *e->types);
        rc = read_override(b, type, yaml_document_get_node(b->doc, p->value), &e->types[e->n_types++], d);
    }
    return rc;
}

int ik__graph_read_executor(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d)
{
    struct ik_graph_executor *e = &b->g->executor;
    int rc = expect_mapping(b, v, "'executor:'", d);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; rc == 0 && p < v->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(b->doc, p->value);
        const char *ks = ik__graph_scalar(k);
        if (!strcmp(ks, "kind")) {
            const char *kind = ik__graph_scalar(val);
            if (kind == NULL || (strcmp(kind, "slurm") != 0 && strcmp(kind, "local") != 0))
                return error_at(b, val, d, "'executor: kind:'", "slurm or local");
            rc = read_text(b, val, "'executor: kind:'", &e->kind, d);
        } else if (!strcmp(ks, "types")) {
            rc = read_types(b, val, d);
        } else if ((rc = read_setting(b, ks, val, &e->all, d)) == 1) {
            rc = unknown(b, k, "'executor:'", block_keys, d);
        }
    }
    return rc;
}

int ik__graph_node_executor(struct ik__graph_build *b, size_t i, yaml_node_t *v,
                            struct ik_diag *d)
{
    const char *kind = ik__graph_scalar(v);
    if (kind == NULL || (strcmp(kind, "slurm") != 0 && strcmp(kind, "local") != 0)) {
        char *what = ik_xasprintf("'executor:' of node '%s'", b->g->nodes[i].name);
        int rc = error_at(b, v, d, what, "local or slurm");
        free(what);
        return rc;
    }
    b->g->nodes[i].run_local = !strcmp(kind, "local");
    return 0;
}

int ik__graph_read_remote(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d)
{
    const char *s = ik__graph_scalar(v);
    if (s == NULL || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0 &&
                      strncmp(s, "s3://", 5) != 0))
        return error_at(b, v, d, "'remote:'", "an http(s):// URL or s3://BUCKET/PREFIX, "
                                              "optionally followed by auth=VAR");
    struct ik_graph *g = b->g;
    free(g->remote);
    free(g->remote_file);
    g->remote = ik_xstrdup(s);
    g->remote_file = ik_xstrdup(g->path);
    g->remote_loc = ik__graph_loc(g, v->start_mark);
    g->remote_loc.file = g->remote_file;
    return 0;
}

/* *dst, else a copy of src: the nearer level wins, setting by setting. */
static void inherit_text(char **dst, const char *src)
{
    if (*dst == NULL && src != NULL)
        *dst = ik_xstrdup(src);
}

static void inherit_settings(struct ik_graph_exec_settings *s,
                             const struct ik_graph_exec_settings *base)
{
    s->local = s->local || base->local;
    inherit_text(&s->partition, base->partition);
    inherit_text(&s->account, base->account);
    inherit_text(&s->time, base->time);
    inherit_text(&s->sbatch, base->sbatch);
}

void ik_graph_executor_inherit(struct ik_graph_executor *e, const struct ik_graph_executor *base)
{
    inherit_text(&e->kind, base->kind);
    inherit_settings(&e->all, &base->all);
    for (size_t i = 0; i < base->n_types; i++) {
        size_t j = 0;
        while (j < e->n_types && strcmp(e->type_names[j], base->type_names[i]) != 0)
            j++;
        if (j == e->n_types) {
            e->type_names = ik_xrealloc(e->type_names, (j + 1) * sizeof *e->type_names);
            e->types = ik_xrealloc(e->types, (j + 1) * sizeof *e->types);
            e->type_names[j] = ik_xstrdup(base->type_names[i]);
            memset(&e->types[j], 0, sizeof *e->types);
            e->n_types++;
        }
        inherit_settings(&e->types[j], &base->types[i]);
    }
}

static void free_settings(struct ik_graph_exec_settings *s)
{
    free(s->partition);
    free(s->account);
    free(s->time);
    free(s->sbatch);
}

void ik__graph_free_executor(struct ik_graph_executor *e)
{
    free(e->kind);
    free_settings(&e->all);
    for (size_t i = 0; i < e->n_types; i++) {
        free(e->type_names[i]);
        free_settings(&e->types[i]);
    }
    free(e->type_names);
    free(e->types);
}
