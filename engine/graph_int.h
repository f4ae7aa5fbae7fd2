/* engine/graph_int.h - internals shared by graph.c (YAML to structure) and
 * graph_validate.c (types, params, ports, references, cycles, order).
 *
 * graph.c parses the YAML document into a struct ik_graph whose nodes have
 * names, raw inputs and locations, plus a parallel array of struct
 * ik__graph_src holding what only validation needs (the type name, the params
 * YAML node, the names of referenced producers). ik__graph_validate
 * (graph_validate.c, with graph_params.c for params) then fills in types,
 * params_mp, outputs, input node indices, resources and topo. The build state
 * lives only for the duration of one load. */
#ifndef IK_ENGINE_GRAPH_INT_H
#define IK_ENGINE_GRAPH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>
#include <yaml.h>

#include "engine/graph.h"

/* Per input, beside graph->nodes[i].inputs[j]. */
struct ik__graph_input_src {
    char *ref_node;           /* IK_INPUT_NODE: the producer's name as written */
    struct ik_srcloc key_loc; /* of the port name */
};

/* A value a `${name}` can stand for (graph_vars.c): a node of a YAML
 * document that outlives the load (the graph's, or a vars file's). */
struct ik__graph_var {
    char *name; /* "lr", "train.lr", "item", "item.rank", "key" */
    yaml_document_t *doc;
    yaml_node_t *node;
};

/* A table of them: the graph's `vars:`, or one fan-out instance's bindings. */
struct ik__graph_vars {
    struct ik__graph_var *v;
    size_t n, cap;
    struct ik_strmap by_name;
};

/* A vars file: its document and enough of a graph to point into it. */
struct ik__graph_vars_file {
    struct ik_graph *file; /* path and text only, for ik__graph_error */
    yaml_document_t doc;
};

/* A scalar's text after ${...} substitution. */
struct ik__graph_text {
    const char *s; /* NUL-terminated; NULL for a non-scalar */
    size_t len;
    bool plain; /* typed by its form (8 is an integer), unlike a quoted one */
};

/* Per node, beside graph->nodes[i]. */
struct ik__graph_src {
    const struct ik__graph_vars *env; /* a fan-out instance's bindings, or NULL */
    yaml_mark_t fanout_mark; /* where the instance came from, for duplicates */
    char *type_name;
    struct ik_srcloc type_loc;
    yaml_node_t *params; /* the `params:` mapping; NULL when absent */
    struct ik__graph_input_src *inputs;
    int cpu, gpu; /* `resources:` overrides; -1 when not given */
};

/* A param default, converted once per load and reused by every node of the
 * type (parsing it again per node made 10,000-node graphs slow). */
struct ik__graph_default {
    const struct ik_param_spec *spec;
    msgpack_object value; /* lives in ik__graph_build.defaults_zone */
};

/* One -S NODE.PARAM=VALUE (graph_sets.c), its value parsed as YAML. */
struct ik__graph_set {
    const char *arg; /* as given, for messages */
    char *node, *param;
    yaml_document_t doc;
    yaml_node_t *value; /* NULL for an empty VALUE */
    bool used;
};

struct ik__graph_build {
    struct ik_graph *g;
    yaml_document_t *doc;
    const struct ik_node_type *const *types; /* terminated by NULL */
    struct ik__graph_src *src;               /* g->n_nodes entries */
    struct ik__graph_default *defaults;
    size_t n_defaults, cap_defaults;
    msgpack_zone *defaults_zone;
    struct ik__graph_set *sets;
    size_t n_sets;
    struct ik__graph_vars vars;        /* the graph's `vars:` */
    struct ik__graph_vars_file **files; /* the vars files it read (each one stays put:
                                         * vars point into its document) */
    size_t n_files;
    struct ik__graph_vars **envs; /* one per fan-out instance */
    size_t cap_envs;
    size_t n_envs;
    char **texts; /* substituted strings, freed with the build */
    size_t n_texts, cap_texts;
};


/* Resolves types, params, outputs, references and resources, checks ports, and
 * computes g->topo. Returns 0, or IK_EVALIDATE with d filled. */
int ik__graph_validate(struct ik__graph_build *b, struct ik_diag *d);

/* Node i's params (graph_params.c): converts the given ones by their declared
 * types, fills in defaults, packs params_mp canonically, records param_locs,
 * and sets the output ports. Needs nodes[i].type. Returns 0 or IK_EVALIDATE. */
int ik__graph_resolve_params(struct ik__graph_build *b, size_t i, struct ik_diag *d);

/* Parses opts' -S arguments into b->sets (graph_sets.c): IK_EVALIDATE for
 * one that is not NODE.PARAM=VALUE or whose VALUE is not YAML. */
int ik__graph_parse_sets(struct ik__graph_build *b, const struct ik_graph_opts *opts,
                         struct ik_diag *d);

/* True when -S's NODE names node `name`: the same name, or the fan-out node
 * that `name` is an instance of (NODE@...). */
bool ik__graph_set_matches(const struct ik__graph_set *s, const char *name);

/* IK_EVALIDATE for the first -S whose NODE names no node of the graph. */
int ik__graph_check_sets(struct ik__graph_build *b, struct ik_diag *d);

/* Frees b->sets. */
void ik__graph_free_sets(struct ik__graph_build *b);

/* Reads the graph's `vars:` (a mapping, a vars file's path, or a list of
 * both; later ones win) into b->vars. IK_EVALIDATE / IK_EPARSE with d. */
int ik__graph_read_vars(struct ik__graph_build *b, yaml_node_t *vars, struct ik_diag *d);

/* Adds name -> node (and name.key -> value for each key of a mapping node,
 * recursively) to t; a later name replaces an earlier one. */
void ik__graph_vars_add(struct ik__graph_vars *t, const char *name, yaml_document_t *doc,
                        yaml_node_t *node);

/* The binding of `name` in env (may be NULL), else in the graph's vars; NULL. */
const struct ik__graph_var *ik__graph_lookup(const struct ik__graph_build *b,
                                             const struct ik__graph_vars *env, const char *name);

/* Scalar n's text with each ${name} replaced by its value (env, then the
 * graph's vars); `$${` is a literal `${`, and an undefined ${NAME} in capitals
 * is left for the shell. A scalar that is exactly ${name}, quoted or not,
 * takes the value's form (8 stays an integer, "8" a string). With env NULL and no graph vars, or a non-scalar n,
 * the text is n's own. IK_EVALIDATE for an unknown name, an unclosed ${ or a
 * name bound to a list or mapping. */
int ik__graph_text(struct ik__graph_build *b, const struct ik__graph_vars *env,
                   const yaml_node_t *n, struct ik__graph_text *out, struct ik_diag *d);

/* Frees vars, files, envs and texts of b. */
void ik__graph_free_vars(struct ik__graph_build *b);

/* Expands node `key: val` of `nodes:` (graph_fanout.c): with `foreach:` or
 * `matrix:`, one instance per item, each with its bindings in b->envs; else
 * one. Appends (pair index, name, env) for each to *out. IK_EVALIDATE. */
struct ik__graph_instance {
    size_t pair;
    char *name;
    const struct ik__graph_vars *env;
    yaml_mark_t mark;
};
int ik__graph_expand(struct ik__graph_build *b, size_t pair, yaml_node_t *key, yaml_node_t *val,
                     struct ik__graph_instance **out, size_t *n, size_t *cap, struct ik_diag *d);

/* 1-based location of a libyaml mark in graph g. Cannot fail. */
struct ik_srcloc ik__graph_loc(const struct ik_graph *g, yaml_mark_t mark);

/* An IK_EVALIDATE diag at `loc` with the source excerpt of g. Returns IK_EVALIDATE. */
int ik__graph_error(const struct ik_graph *g, struct ik_diag *d, struct ik_srcloc loc,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "did you mean" as three printf arguments for the format IK__DYM_FMT:
 * "; did you mean 'x'?" when `near` is not NULL, else nothing. */
#define IK__DYM_FMT "%s%s%s"
#define IK__DYM_ARGS(near)                                                                         \
    (near) ? "; did you mean '" : "", (near) ? (near) : "", (near) ? "'?" : ""

/* Appends "hint: <what>: a, b, c" listing `names` (NULL-terminated); "hint:
 * <what>: none" when empty. For unknown names with no close candidate. */
void ik__graph_hint_list(struct ik_diag *d, const char *what, const char *const *names);

/* Checks a mapping for repeated keys (libyaml accepts them): IK_EVALIDATE at
 * the second occurrence, naming `what` ("node", "param", "key"). */
int ik__graph_check_dup_keys(const struct ik_graph *g, yaml_document_t *doc, yaml_node_t *map,
                             const char *what, struct ik_diag *d);

/* A scalar node's text, or NULL for other nodes. */
const char *ik__graph_scalar(const yaml_node_t *n);

/* "a mapping", "a list", or the scalar quoted: for "got ..." in messages. The
 * caller frees. */
char *ik__graph_describe(const yaml_node_t *n);

/* The graph's `executor:` block and a node's `executor:` key (graph_executor.c). */
int ik__graph_read_executor(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d);
int ik__graph_node_executor(struct ik__graph_build *b, size_t i, yaml_node_t *v,
                            struct ik_diag *d);
void ik__graph_free_executor(struct ik_graph_executor *e);

/* A Slurm time limit ("MIN", "MIN:SEC", "H:MIN:SEC", "D-H", "D-H:MIN",
 * "D-H:MIN:SEC"; an integer is minutes) into *out (graph_executor.c), after
 * ${...} substitution with env (may be NULL). IK_EVALIDATE naming `what`. */
int ik__graph_read_slurm_time(struct ik__graph_build *b, const struct ik__graph_vars *env,
                              const yaml_node_t *v, const char *what, char **out,
                              struct ik_diag *d);

/* The top-level `remote:` (graph_executor.c): a remote cache setting
 * (cache/remote.h) into g->remote, its scheme checked. IK_EVALIDATE. */
int ik__graph_read_remote(struct ik__graph_build *b, yaml_node_t *v, struct ik_diag *d);

/* Reads a YAML file of the graph family (a graph, the config file) into a new
 * struct ik_graph: the text, the one document (syntax errors with file:line),
 * then read_top on its root. */
typedef int (*ik__graph_top_fn)(struct ik__graph_build *b, yaml_node_t *root, struct ik_diag *d);
int ik__graph_load_with(const struct ik_node_type *const *types, const char *path,
                        const char *text, size_t len, const struct ik_graph_opts *opts,
                        ik__graph_top_fn read_top, struct ik_graph **out, struct ik_diag *d);
int ik__graph_load_file_with(const struct ik_node_type *const *types, const char *path,
                             const struct ik_graph_opts *opts, ik__graph_top_fn read_top,
                             struct ik_graph **out, struct ik_diag *d);

/* True for [A-Za-z_][A-Za-z0-9_]*: port names become environment variables. */
bool ik__graph_valid_port(const char *s);

#endif
