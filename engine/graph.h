/* engine/graph.h - a graph file, parsed and validated.
 *
 * A graph file is YAML (libyaml):
 *
 *     nodes:
 *       rows:                       # node name: [A-Za-z_][A-Za-z0-9_-]*
 *         type: command             # a type from nodes/registry.c
 *         in:                       # port -> "node.port", {file: path} or {glob: pattern}
 *           faq: {file: ../examples/faq.jsonl}
 *           prev: other.out
 *         params: {cmd: "wc -l $IKADA_IN_faq > $IKADA_OUT_count", outputs: {count: count.txt}}
 *         resources: {cpu: 1, gpu: 0}   # optional override of the type's defaults
 *                                       # (mem: 4G, time: "2:00:00" too)
 *         executor: local           # optional: stays local under `--executor slurm`
 *     executor: {kind: slurm, partition: gpu, time: "1:00:00", types: {sample: local}}
 *     remote: s3://team-cache/ikada   # a shared remote cache (docs/remote-cache.md)
 *
 * ik_graph_load parses AND validates: unknown type or param (with a "did you
 * mean"), wrong value type, missing required param or input, unknown port, a
 * reference to a missing node, duplicate names, cycles (the cycle is printed).
 * Every error is one diag in the compiler form with file:line:col and code
 * IK_EPARSE (not YAML) or IK_EVALIDATE (YAML, but not a valid graph).
 *
 * Ownership: the graph owns every string and array in it; all pointers are
 * valid until ik_graph_free. Node types are borrowed from the static registry. */
#ifndef IK_ENGINE_GRAPH_H
#define IK_ENGINE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "base/strmap.h"
#include "engine/node.h"

enum ik_input_source {
    IK_INPUT_NODE, /* another node's output port */
    IK_INPUT_FILE, /* a file or directory on disk, or with glob set a glob's matches */
};

struct ik_graph_input {
    char *port;
    enum ik_input_source source;
    size_t node;     /* IK_INPUT_NODE: index of the producing node in graph->nodes */
    char *node_port; /* IK_INPUT_NODE: its output port */
    char *path;      /* IK_INPUT_FILE: as written in the graph */
    char *abs_path;  /* IK_INPUT_FILE: resolved against the graph file's folder */
    bool glob;       /* IK_INPUT_FILE: path is a pattern (base/glob.h), hashed as a set */
    struct ik_srcloc loc;
};

struct ik_graph_param_loc {
    char *name;
    struct ik_srcloc loc;
};

/* Where a node runs, from the graph's `executor:` block (docs/slurm.md). */
struct ik_graph_exec_settings {
    bool local;      /* `executor: local`: a child of `ikada run` even under Slurm */
    char *partition; /* sbatch -p; NULL: not said */
    char *account;   /* sbatch -A */
    char *time;      /* sbatch --time, as Slurm reads it ("10:00", "1-00:00:00") */
    char *sbatch;    /* further sbatch flags, split on blanks */
};

struct ik_graph_executor {
    char *kind;                          /* "slurm" or "local"; NULL: not said */
    struct ik_graph_exec_settings all;   /* for every node */
    char **type_names;                   /* per node-type overrides of `all` */
    struct ik_graph_exec_settings *types;
    size_t n_types;
};

struct ik_graph_node {
    char *name;
    const struct ik_node_type *type;
    struct ik_graph_input *inputs; /* in the order written */
    size_t n_inputs;
    char **outputs; /* output port names: the type's, or the keys of its outputs param */
    size_t n_outputs;
    /* Resolved params: a msgpack map with every declared param (defaults filled
     * in), keys sorted bytewise, floats as float64: canonical, ready for keys. */
    char *params_mp;
    size_t params_len;
    struct ik_graph_param_loc *param_locs; /* where each param given in YAML was */
    size_t n_param_locs;
    int cpu; /* resources after the node's `resources:` override */
    int gpu;
    /* The GPU is its type's and optional (node.h, gpu_need: train's `device:
     * auto`): taken where the run has one, never asked of Slurm (say
     * `resources: {gpu: 1}` there). */
    bool gpu_optional;
    uint64_t mem; /* bytes the node may use (`resources: mem`); 0 = not said */
    char *time;   /* `resources: time`, Slurm's --time ("90", "2:00:00", "1-00:00:00"):
                   * under Slurm, over the executor block's; NULL = not said */
    struct ik_srcloc cpu_loc; /* where `resources: cpu` was given; line 0 when it was not */
    bool run_local; /* the node's own `executor: local` */
    struct ik_srcloc loc; /* of the node's name */
};

struct ik_graph {
    char *path;  /* as given to ik_graph_load */
    char *dir;   /* absolute folder of the graph file; file: inputs are relative to it */
    char *name;  /* the file's base name without .yaml/.yml (refs name a graph by its path:
                  * ik_plan_graph_id) */
    char *text;  /* the whole file, for error excerpts */
    size_t text_len;
    struct ik_graph_node *nodes; /* in file order */
    size_t n_nodes;
    size_t *topo; /* node indices, every producer before its consumers */
    struct ik_strmap by_name; /* private: node name -> index, for ik_graph_find */
    struct ik_graph_executor executor; /* the `executor:` block; all zero when absent */
    char *remote; /* the `remote:` setting (cache/remote.h), or NULL */
    char *remote_file;          /* the file it came from: this one or the config file */
    struct ik_srcloc remote_loc; /* where in remote_file (.file points to it) */
};

/* What changes a graph without editing its file (`ikada run -S`). */
struct ik_graph_opts {
    /* "NODE.PARAM=VALUE", VALUE as YAML: replaces (or sets) param PARAM of
     * node NODE, or of every instance NODE@... of a fan-out node NODE, after
     * the file is read, converted and checked like the file's own values. An
     * unknown node or param is an error naming the -S argument. */
    const char *const *sets;
    size_t n_sets;
};

/* Reads, parses and validates `path`, with the node types taken from `types`
 * (terminated by NULL; the program's table is nodes/registry.h's
 * ik_node_types, the tests pass their own). On success *out is a new graph
 * (free with ik_graph_free). On failure returns IK_EPARSE, IK_EVALIDATE or
 * -errno (file unreadable) with d filled, and *out is untouched. */
int ik_graph_load(const struct ik_node_type *const *types, const char *path,
                  struct ik_graph **out, struct ik_diag *d);

/* ik_graph_load with options (NULL: none). */
int ik_graph_load_opts(const struct ik_node_type *const *types, const char *path,
                       const struct ik_graph_opts *opts, struct ik_graph **out,
                       struct ik_diag *d);

/* The same from a string; `path` is used in messages and to resolve file:
 * inputs (relative to its folder). */
int ik_graph_load_string(const struct ik_node_type *const *types, const char *path,
                         const char *text, size_t len, struct ik_graph **out, struct ik_diag *d);

/* ik_graph_load_string with options (NULL: none). */
int ik_graph_load_string_opts(const struct ik_node_type *const *types, const char *path,
                              const char *text, size_t len, const struct ik_graph_opts *opts,
                              struct ik_graph **out, struct ik_diag *d);

/* Index of the node called `name`, or -1. */
long ik_graph_find(const struct ik_graph *g, const char *name);

/* Index of output port `port` on node n, or -1. */
long ik_graph_node_output(const struct ik_graph_node *n, const char *port);

/* Fills what e leaves unsaid from base (the config file's block under the
 * graph's): kind, each sbatch setting, each type's override, setting by
 * setting; a type `local` at either level stays local. */
void ik_graph_executor_inherit(struct ik_graph_executor *e, const struct ik_graph_executor *base);

/* Accepts NULL. */
void ik_graph_free(struct ik_graph *g);

#endif
