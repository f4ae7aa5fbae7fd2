/* engine/graph_params.c - a node's params: YAML values to canonical msgpack.
 *
 * Each given param is converted by its declared type (engine/node.h), every
 * other one gets its default (default_yaml, parsed by the same rules), and the
 * map is packed canonically into params_mp. Output ports named by a map param
 * (outputs_from_param) are derived here too, since they come from its keys. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "base/assert.h"
#include "base/error.h"
#include "engine/graph_int.h"
#include "base/mp.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"

/* Limits on one node's param values: an alias can point back at its own
 * anchor, and aliases of aliases grow exponentially ("billion laughs"). */
enum { MAX_DEPTH = 64, MAX_VALUES = 100000 };

static const char **param_names(const struct ik_param_spec *params)
{
    size_t n = 0;
    while (params[n].name)
        n++;
    const char **v = ik_xmalloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = params[i].name;
    v[n] = NULL;
    return v;
}

/* --- YAML scalars (YAML 1.1 core forms, as ikada accepts them) --------------- */

static bool scalar_is_null(const char *s)
{
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* 1 true, 0 false, -1 neither. `loose` also takes yes/no/on/off (YAML 1.1),
 * which only a param declared BOOL does: inside lists and maps "no" stays text. */
static int scalar_bool(const char *s, bool loose)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No",
                                    "NO",    "off",   "Off",   "OFF"};
    size_t n = loose ? 9 : 3;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s, t[i]))
            return 1;
        if (!strcmp(s, f[i]))
            return 0;
    }
    return -1;
}

/* 0 and *v set for a decimal integer; 1 for not an integer; 2 out of range. */
static int scalar_int(const char *s, int64_t *v)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (*p == '\0')
        return 1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return 1;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return 2;
    *v = (int64_t)x;
    return 0;
}

/* [-+]? (digits (. digits?)? | . digits) ([eE] [-+]? digits)?, finite. strtod
 * alone would also take "inf", "nan" and hex floats. */
static bool scalar_float(const char *s, double *v)
{
    const char *p = s + (*s == '-' || *s == '+');
    size_t whole = strspn(p, "0123456789");
    p += whole;
    size_t frac = 0;
    if (*p == '.') {
        p++;
        frac = strspn(p, "0123456789");
        p += frac;
    }
    if (whole == 0 && frac == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += (*p == '-' || *p == '+');
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return false;
        p += exp;
    }
    if (*p != '\0')
        return false;
    double x = strtod(s, NULL);
    if (!isfinite(x))
        return false;
    *v = x;
    return true;
}

/* --- YAML to msgpack objects ------------------------------------------------- */

struct conv {
    const struct ik_graph *g;
    yaml_document_t *doc;
    msgpack_zone *z;
    const char *node; /* names for messages */
    const char *param;
    const struct ik_srcloc *at; /* defaults: every error points at the node */
    size_t budget;              /* values left to convert */
    const char *origin;         /* a -S argument: errors name it, not a line */
    struct ik__graph_build *b;  /* for ${name}: set only for the file's own values */
    const struct ik__graph_vars *env;
};

/* Scalar n's text: with ${name} substituted for a value of the file. */
static int conv_text(struct conv *c, const yaml_node_t *n, struct ik__graph_text *t,
                     struct ik_diag *d)
{
    if (c->b != NULL && c->at == NULL && c->origin == NULL)
        return ik__graph_text(c->b, c->env, n, t, d);
    t->s = ik__graph_scalar(n);
    t->len = t->s ? n->data.scalar.length : 0;
    t->plain = t->s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return 0;
}

/* "got ..." for a message: the value after substitution. */
static char *describe(const yaml_node_t *n, const struct ik__graph_text *t)
{
    if (t->s == NULL || t->s == (const char *)n->data.scalar.value)
        return ik__graph_describe(n);
    size_t cut = strcspn(t->s, "\n");
    if (cut > 40)
        cut = 40;
    return ik_xasprintf("'%.*s%s'", (int)cut, t->s, cut < t->len ? "..." : "");
}

static int conv_error(struct conv *c, const yaml_node_t *n, struct ik_diag *d, const char *what)
{
    if (c->origin != NULL)
        return ik_diag_set(d, IK_EVALIDATE, "-S '%s': param '%s' of node '%s' %s", c->origin,
                           c->param, c->node, what);
    struct ik_srcloc loc = c->at ? *c->at : ik__graph_loc(c->g, n->start_mark);
    return ik__graph_error(c->g, d, loc, "param '%s' of node '%s' %s", c->param, c->node, what);
}

static void set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

static void set_float(msgpack_object *o, double v)
{
    o->type = MSGPACK_OBJECT_FLOAT64;
    o->via.f64 = v;
}

static void set_str(struct conv *c, msgpack_object *o, const char *s, size_t len)
{
    char *p = msgpack_zone_malloc(c->z, len ? len : 1);
    memcpy(p, s, len);
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = p;
    o->via.str.size = (uint32_t)len;
}

static void *zone_array(struct conv *c, size_t n, size_t size)
{
    return msgpack_zone_malloc(c->z, n ? n * size : 1);
}

/* Nested values: plain scalars are typed by their form, quoted ones are text. */
static int conv_generic(struct conv *c, yaml_node_t *n, int depth, msgpack_object *o,
                        struct ik_diag *d)
{
    if (depth > MAX_DEPTH)
        return conv_error(c, n, d, "is nested too deeply (more than 64 levels)");
    if (c->budget == 0)
        return conv_error(c, n, d, "is too large (more than 100000 values)");
    c->budget--;
    if (n->type == YAML_SCALAR_NODE) {
        struct ik__graph_text t;
        int rc = conv_text(c, n, &t, d);
        if (rc < 0)
            return rc;
        const char *s = t.s;
        int64_t i;
        double f;
        int b;
        if (!t.plain)
            set_str(c, o, s, t.len);
        else if (scalar_is_null(s))
            o->type = MSGPACK_OBJECT_NIL;
        else if ((b = scalar_bool(s, false)) >= 0) {
            o->type = MSGPACK_OBJECT_BOOLEAN;
            o->via.boolean = b;
        } else if (scalar_int(s, &i) == 0)
            set_int(o, i);
        else if (scalar_float(s, &f))
            set_float(o, f);
        else
            set_str(c, o, s, t.len);
        return 0;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.size = (uint32_t)len;
        o->via.array.ptr = zone_array(c, len, sizeof(msgpack_object));
        for (size_t i = 0; i < len; i++) {
            yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
            int rc = conv_generic(c, item, depth + 1, &o->via.array.ptr[i], d);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    /* Repeated keys in a default are the type author's bug, and their marks
     * would point into the default text, so only graph values are checked. */
    if (c->at == NULL && c->origin == NULL) {
        int rc = ik__graph_check_dup_keys(c->g, c->doc, n, "key", d);
        if (rc < 0)
            return rc;
    }
    size_t len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    o->type = MSGPACK_OBJECT_MAP;
    o->via.map.size = (uint32_t)len;
    o->via.map.ptr = zone_array(c, len, sizeof(msgpack_object_kv));
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return conv_error(c, k, d, "has a mapping key that is not a plain name");
        set_str(c, &o->via.map.ptr[i].key, (const char *)k->data.scalar.value,
                k->data.scalar.length);
        int rc = conv_generic(c, yaml_document_get_node(c->doc, p->value), depth + 1,
                              &o->via.map.ptr[i].val, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const char *type_phrase(enum ik_param_type t)
{
    switch (t) {
    case IK_PARAM_STRING: return "a string";
    case IK_PARAM_INT: return "an integer";
    case IK_PARAM_FLOAT: return "a number";
    case IK_PARAM_BOOL: return "true or false";
    case IK_PARAM_LIST: return "a list";
    case IK_PARAM_MAP: return "a mapping";
    }
    return "a value";
}

/* A top-level param value, by its declared type. Scalars are accepted quoted
 * or not: `timeout_s: "30"` means 30. */
static int conv_typed(struct conv *c, yaml_node_t *n, enum ik_param_type type, msgpack_object *o,
                      struct ik_diag *d)
{
    struct ik__graph_text t;
    int rc = conv_text(c, n, &t, d);
    if (rc < 0)
        return rc;
    const char *s = t.s;
    bool ok = false;
    bool range = false;
    int64_t i;
    double f;
    int b;
    switch (type) {
    case IK_PARAM_STRING:
        if ((ok = s != NULL))
            set_str(c, o, s, t.len);
        break;
    case IK_PARAM_INT:
        if (s && (b = scalar_int(s, &i)) != 1) {
            ok = b == 0;
            range = b == 2;
            if (ok)
                set_int(o, i);
        }
        break;
    case IK_PARAM_FLOAT:
        if (s && scalar_int(s, &i) == 0) {
            ok = true;
            set_float(o, (double)i);
        } else if (s && (ok = scalar_float(s, &f))) {
            set_float(o, f);
        }
        break;
    case IK_PARAM_BOOL:
        if (s && (b = scalar_bool(s, true)) >= 0) {
            ok = true;
            o->type = MSGPACK_OBJECT_BOOLEAN;
            o->via.boolean = b;
        }
        break;
    case IK_PARAM_LIST:
        if (n->type == YAML_SEQUENCE_NODE)
            return conv_generic(c, n, 0, o, d);
        break;
    case IK_PARAM_MAP:
        if (n->type == YAML_MAPPING_NODE)
            return conv_generic(c, n, 0, o, d);
        break;
    }
    if (ok)
        return 0;
    char *got = describe(n, &t);
    char *what = ik_xasprintf("expects %s%s, got %s", type_phrase(type),
                              range ? " that fits in 64 bits" : "", got);
    rc = conv_error(c, n, d, what);
    free(what);
    free(got);
    return rc;
}

/* A param's default_yaml, parsed with the same rules as a graph value. */
static int conv_default(struct conv *c, const struct ik_node_type *t,
                        const struct ik_param_spec *ps, msgpack_object *o, struct ik_diag *d)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    IK_ASSERT(yaml_parser_initialize(&parser)); /* fails only on allocation, like ik_xmalloc */
    yaml_parser_set_input_string(&parser, (const unsigned char *)ps->default_yaml,
                                 strlen(ps->default_yaml));
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc =
            ik__graph_error(c->g, d, *c->at, "default of param '%s' of type '%s' is not valid YAML",
                            ps->name, t->name);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_document_t *saved = c->doc;
        c->doc = &doc;
        if (root == NULL && ps->type == IK_PARAM_STRING) {
            set_str(c, o, "", 0);
            rc = 0;
        } else if (root == NULL) {
            rc = ik__graph_error(c->g, d, *c->at, "default of param '%s' of type '%s' is empty",
                                 ps->name, t->name);
        } else {
            rc = conv_typed(c, root, ps->type, o, d);
        }
        c->doc = saved;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* The converted default of ps, from the load's memo or converted now (into
 * the memo's zone, which outlives every node's own zone). */
static int default_value(struct ik__graph_build *b, struct conv *c, const struct ik_graph_node *node,
                         const struct ik_param_spec *ps, msgpack_object *o, struct ik_diag *d)
{
    for (size_t i = 0; i < b->n_defaults; i++)
        if (b->defaults[i].spec == ps) {
            *o = b->defaults[i].value;
            return 0;
        }
    if (b->defaults_zone == NULL)
        b->defaults_zone = msgpack_zone_new(1024);
    msgpack_zone *node_zone = c->z;
    const struct ik_srcloc *at = c->at;
    c->z = b->defaults_zone;
    c->param = ps->name;
    c->at = &node->loc; /* a bad default is reported at the first node using it */
    int rc = conv_default(c, node->type, ps, o, d);
    c->z = node_zone;
    c->at = at;
    if (rc < 0)
        return rc;
    b->defaults = ik_xgrow(b->defaults, &b->cap_defaults, b->n_defaults + 1, sizeof *b->defaults);
    b->defaults[b->n_defaults++] = (struct ik__graph_default){ps, *o};
    return 0;
}

static int outputs_from_map(struct ik__graph_build *b, size_t i, const msgpack_object *map,
                            yaml_node_t *given, struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    size_t n = map->type == MSGPACK_OBJECT_MAP ? map->via.map.size : 0;
    node->outputs = ik_xcalloc(n ? n : 1, sizeof *node->outputs);
    for (size_t j = 0; j < n; j++) {
        char *port = ik_mp_strdup(&map->via.map.ptr[j].key);
        if (!ik__graph_valid_port(port)) {
            struct ik_srcloc loc = node->loc;
            if (given != NULL)
                loc = ik__graph_loc(
                    b->g, yaml_document_get_node(b->doc, given->data.mapping.pairs.start[j].key)
                              ->start_mark);
            ik__graph_error(b->g, d, loc,
                            "invalid output port name '%s' in param '%s' of node '%s': use "
                            "letters, digits and '_', starting with a letter or '_'",
                            port, node->type->outputs_from_param, node->name);
            free(port);
            return IK_EVALIDATE;
        }
        node->outputs[node->n_outputs++] = port;
    }
    return 0;
}

/* False for an output of outputs_when whose bool param resolved to false. */
static bool output_wanted(const struct ik_node_type *t, const char *port,
                          const msgpack_object_kv *kv, size_t n_spec)
{
    const char *param = ik_node_type_output_param(t, port);
    for (size_t s = 0; param && s < n_spec; s++)
        if (strcmp(t->params[s].name, param) == 0)
            return kv[s].val.type == MSGPACK_OBJECT_BOOLEAN && kv[s].val.via.boolean;
    return true;
}

/* IK_EVALIDATE when a number is outside ps's range. */
static int check_range(struct conv *c, const struct ik_param_spec *ps, const msgpack_object *v,
                       const yaml_node_t *n, struct ik_diag *d)
{
    if (ps->range == NULL)
        return 0;
    double x = v->type == MSGPACK_OBJECT_FLOAT64            ? v->via.f64
               : v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)v->via.u64
               : v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)v->via.i64
                                                            : NAN;
    if (isnan(x) || (x >= ps->range->min && x <= ps->range->max))
        return 0;
    char *what = isinf(ps->range->max)
                     ? ik_xasprintf("must be at least %g, got %g", ps->range->min, x)
                     : ik_xasprintf("must be between %g and %g, got %g", ps->range->min,
                                    ps->range->max, x);
    c->param = ps->name;
    int rc = conv_error(c, n, d, what);
    free(what);
    return rc;
}

/* The -S arguments naming this node, in order (a later one wins): each
 * replaces the file's value, or a default, of its param. */
static int apply_sets(struct ik__graph_build *b, struct conv *c, const struct ik_graph_node *node,
                      const char **names, msgpack_object_kv *kv, yaml_node_t **given,
                      bool *set_given, struct ik_diag *d)
{
    const struct ik_node_type *t = node->type;
    for (size_t k = 0; k < b->n_sets; k++) {
        struct ik__graph_set *set = &b->sets[k];
        if (!ik__graph_set_matches(set, node->name))
            continue;
        size_t s = 0;
        while (t->params[s].name && strcmp(t->params[s].name, set->param) != 0)
            s++;
        if (t->params[s].name == NULL) {
            const char *near = ik_spellcheck(set->param, names);
            ik_diag_set(d, IK_EVALIDATE, "-S '%s': unknown param '%s' for type '%s' (node '%s')" IK__DYM_FMT,
                        set->arg, set->param, t->name, node->name, IK__DYM_ARGS(near));
            if (near == NULL) {
                char *what = ik_xasprintf("params of type '%s'", t->name);
                ik__graph_hint_list(d, what, names);
                free(what);
            }
            return IK_EVALIDATE;
        }
        yaml_document_t *saved = c->doc;
        c->doc = &set->doc;
        c->origin = set->arg;
        c->param = t->params[s].name;
        int rc;
        if (set->value == NULL && t->params[s].type == IK_PARAM_STRING) {
            set_str(c, &kv[s].val, "", 0);
            rc = 0;
        } else if (set->value == NULL) {
            rc = conv_error(c, NULL, d, "needs a value after '='");
        } else {
            rc = conv_typed(c, set->value, t->params[s].type, &kv[s].val, d);
        }
        if (rc == 0)
            rc = check_range(c, &t->params[s], &kv[s].val, set->value, d);
        c->doc = saved;
        c->origin = NULL;
        if (rc < 0)
            return rc;
        given[s] = NULL;
        set_given[s] = true;
        set->used = true;
    }
    return 0;
}

int ik__graph_resolve_params(struct ik__graph_build *b, size_t i, struct ik_diag *d)
{
    struct ik_graph_node *node = &b->g->nodes[i];
    const struct ik_node_type *t = node->type;
    yaml_node_t *params = b->src[i].params;
    size_t n_spec = 0;
    while (t->params[n_spec].name)
        n_spec++;
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    struct conv c = {b->g, b->doc, &z, node->name, NULL, NULL, MAX_VALUES, NULL, b, b->src[i].env};
    msgpack_object_kv *kv = ik_xcalloc(n_spec ? n_spec : 1, sizeof *kv);
    yaml_node_t **given = ik_xcalloc(n_spec ? n_spec : 1, sizeof *given);
    bool *set_given = ik_xcalloc(n_spec ? n_spec : 1, sizeof *set_given);
    const char **names = param_names(t->params);
    int rc = 0;
    size_t n_given =
        params ? (size_t)(params->data.mapping.pairs.top - params->data.mapping.pairs.start) : 0;
    node->param_locs = ik_xcalloc(n_given ? n_given : 1, sizeof *node->param_locs);
    for (size_t j = 0; j < n_given; j++) {
        yaml_node_pair_t *p = &params->data.mapping.pairs.start[j];
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(b->doc, p->value);
        const char *name = ik__graph_scalar(k);
        size_t s = 0;
        while (s < n_spec && strcmp(t->params[s].name, name) != 0)
            s++;
        if (s == n_spec) {
            const char *near = ik_spellcheck(name, names);
            rc = ik__graph_error(b->g, d, ik__graph_loc(b->g, k->start_mark),
                                 "unknown param '%s' for type '%s'" IK__DYM_FMT, name, t->name,
                                 IK__DYM_ARGS(near));
            if (near == NULL) {
                char *what = ik_xasprintf("params of type '%s'", t->name);
                ik__graph_hint_list(d, what, names);
                free(what);
            }
            goto out;
        }
        c.param = t->params[s].name;
        rc = conv_typed(&c, v, t->params[s].type, &kv[s].val, d);
        if (rc < 0)
            goto out;
        given[s] = v;
        node->param_locs[node->n_param_locs].name = ik_xstrdup(name);
        node->param_locs[node->n_param_locs++].loc = ik__graph_loc(b->g, v->start_mark);
    }
    rc = apply_sets(b, &c, node, names, kv, given, set_given, d);
    /* Ranges after -S: a -S may bring a value of the file back into range. */
    for (size_t s = 0; rc == 0 && s < n_spec; s++)
        if (given[s] != NULL)
            rc = check_range(&c, &t->params[s], &kv[s].val, given[s], d);
    if (rc < 0)
        goto out;
    for (size_t s = 0; s < n_spec; s++) {
        const struct ik_param_spec *ps = &t->params[s];
        set_str(&c, &kv[s].key, ps->name, strlen(ps->name));
        if (given[s] != NULL || set_given[s])
            continue;
        if (ps->default_yaml == NULL) {
            rc = ik__graph_error(b->g, d, node->loc,
                                 "node '%s' of type '%s' is missing required param '%s'",
                                 node->name, t->name, ps->name);
            ik_diag_hint(d, "%s: %s", ps->name, ps->help ? ps->help : "");
            goto out;
        }
        rc = default_value(b, &c, node, ps, &kv[s].val, d);
        if (rc < 0)
            goto out;
    }
    msgpack_object map = {.type = MSGPACK_OBJECT_MAP};
    map.via.map.size = (uint32_t)n_spec;
    map.via.map.ptr = kv;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_pack_canonical(&w.pk, &map);
    /* Trimmed to size by steal: msgpack-c starts every buffer at 8 KiB, and a
     * graph keeps one per node (80 MB of touched pages for 10,000 nodes). */
    node->params_mp = ik_mp_writer_steal(&w, &node->params_len);

    if (t->outputs_from_param != NULL) {
        size_t s = 0;
        while (s < n_spec && strcmp(t->params[s].name, t->outputs_from_param) != 0)
            s++;
        msgpack_object none = {.type = MSGPACK_OBJECT_NIL};
        /* A -S value's keys have no place in the file to point at. */
        yaml_node_t *at = s < n_spec && !set_given[s] ? given[s] : NULL;
        rc = outputs_from_map(b, i, s < n_spec ? &kv[s].val : &none, at, d);
    } else {
        size_t n = 0;
        while (t->outputs[n].name)
            n++;
        node->outputs = ik_xcalloc(n ? n : 1, sizeof *node->outputs);
        for (size_t j = 0; j < n; j++)
            if (output_wanted(t, t->outputs[j].name, kv, n_spec))
                node->outputs[node->n_outputs++] = ik_xstrdup(t->outputs[j].name);
    }
out:
    free(names);
    free(set_given);
    free(given);
    free(kv);
    msgpack_zone_destroy(&z);
    return rc;
}
