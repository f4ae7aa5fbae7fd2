/* engine/node.h - the contract between the engine and a node type.
 *
 * A node type is one `const struct ik_node_type ik_node_<name>` in one file
 * under nodes/, plus one line in nodes/registry.c. The engine reads the table
 * to validate graphs, to print `ikada nodes`, to compute keys (name, version,
 * resolved params) and to run the node.
 *
 * Lifecycle: the scheduler has its executor run `ikada exec KEY` (engine/
 * executor.h; the local one spawns it as a child process); exec.c loads the
 * spec, builds a struct ik_node_ctx, and calls `run` exactly once in that
 * process. `run` reads its inputs and params through the accessors below,
 * writes each output port exactly once, may report progress, and returns 0 or a
 * negative IK_E* code with `d` filled. Outputs written before a failure stay
 * as orphan objects (gc removes them); the node counts as failed and nothing
 * downstream runs. Anything `run` prints to stdout/stderr is captured into the
 * node's log object.
 *
 * Bump `version` whenever a change to `run` can change its outputs for the same
 * inputs and params: the version is part of every key, so old results are then
 * recomputed instead of being reused. */
#ifndef IK_ENGINE_NODE_H
#define IK_ENGINE_NODE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "base/diag.h"
#include "base/hash.h"

enum ik_param_type {
    IK_PARAM_STRING,
    IK_PARAM_INT,
    IK_PARAM_FLOAT, /* an integer in YAML is accepted and stored as float */
    IK_PARAM_BOOL,
    IK_PARAM_LIST,  /* any YAML sequence */
    IK_PARAM_MAP,   /* any YAML mapping */
};

/* The values an IK_PARAM_INT or IK_PARAM_FLOAT param accepts, both ends
 * included: the graph is refused when it is loaded, at the value's line,
 * instead of the node failing when it runs. */
struct ik_param_range {
    double min, max;
};
#define IK_RANGE(lo, hi) (&(const struct ik_param_range){(lo), (hi)})
#define IK_MIN(lo) IK_RANGE((lo), INFINITY)

struct ik_param_spec {
    const char *name;
    enum ik_param_type type;
    /* Default as YAML flow text ("42", "0.8", "true", "hello", "[]", "{}");
     * NULL means the param is required. */
    const char *default_yaml;
    const char *help; /* one line */
    const struct ik_param_range *range; /* NULL: any value of the type */
};

struct ik_port_spec {
    const char *name;
    const char *kind; /* artifact kind read or written, e.g. "faq.rows"; "*" = any */
    bool optional;    /* inputs only: may be left unconnected */
    const char *help; /* one line */
};

struct ik_node_ctx; /* opaque, owned by the engine (engine/exec.c) */

/* An output port that the node writes only when a bool param is true (a base
 * model GGUF only with `base: true`): with the param false the port does not
 * exist for that node, so a graph that reads it is refused when it is loaded,
 * naming the param. */
struct ik_output_when {
    const char *port;
    const char *param; /* an IK_PARAM_BOOL of the type */
};

enum ik_gpu_need { IK_GPU_NONE, IK_GPU_NEEDED, IK_GPU_OPTIONAL };

struct ik_node_type {
    const char *name;    /* as written in `type:` */
    int version;         /* implementation version, part of every key */
    const char *summary; /* one line for `ikada nodes` */
    const struct ik_port_spec *inputs;  /* terminated by {NULL} */
    const struct ik_port_spec *outputs; /* terminated by {NULL} */
    const struct ik_param_spec *params; /* terminated by {NULL} */
    /* Types whose ports are chosen by the graph (the `command` type): any input
     * port name is accepted, and output ports are the keys of this map param. */
    bool any_inputs;
    const char *any_inputs_help; /* what such an input is, for `ikada nodes` (one line) */
    const char *outputs_from_param;
    const struct ik_output_when *outputs_when; /* terminated by {NULL}; NULL: none */
    /* Default resources; a graph node may override them with `resources:`. */
    int cpu;
    int gpu;
    bool gpu_falls_back_to_cpu; /* a GPU node that may run on CPU when none is free */
    /* Whether a node of this type wants its `gpu`, from its resolved params
     * (a msgpack map), where the graph says no `resources: gpu`: train wants
     * none with `device: cpu`, needs one with `cuda`, takes one if the run
     * has one with `auto`. An optional GPU is given where the run counts its
     * own devices, never asked of a remote executor (Slurm). NULL: `gpu` is
     * needed, or optional when gpu_falls_back_to_cpu. */
    enum ik_gpu_need (*gpu_need)(const msgpack_object *params);
    /* The first SIGTERM (the run stopped: Ctrl-C, a failure elsewhere, the
     * scheduler's death) only sets ik_node_stop_requested, so run can save
     * its state and return IK_ECANCELED; a second one, or the executor's
     * SIGKILL after its grace period (3 s locally), still ends it. Without
     * this flag SIGTERM ends the node's whole process group at once. */
    bool stops_gracefully;
    /* The environment variables a node of this type needs (an API key named
     * by its params), so that `ikada run` and `run -n` refuse a run whose
     * nodes that must run lack one before anything starts, instead of failing
     * its last node hours later. Calls need(arg, name, why) for each, from
     * the resolved params (a msgpack map); `why` says what it is for ("param
     * api_key_env"). NULL: none. */
    void (*needs_env)(const msgpack_object *params,
                      void (*need)(void *arg, const char *name, const char *why), void *arg);
    int (*run)(struct ik_node_ctx *ctx, struct ik_diag *d);
};

/* cpu for a node that wants every CPU slot of the run (`ikada run -j N`: N). */
#define IK_NODE_CPU_ALL 4096

/* --- Accessors for `run` (implemented in engine/exec_ctx.c) ---------------- */

/* The node's key: the hash of its spec (type, version, params, inputs), so
 * state a node keeps for itself between attempts (a training checkpoint) can
 * be named by it. */
const struct ik_hash *ik_node_key(const struct ik_node_ctx *ctx);

/* True once the run asked this node to stop (see stops_gracefully). Safe to
 * poll often: it reads one flag. */
bool ik_node_stop_requested(const struct ik_node_ctx *ctx);

/* The graph's name for this node, e.g. "cot". Valid during run. */
const char *ik_node_name(const struct ik_node_ctx *ctx);

/* A resolved param (defaults filled in). NULL if the type has no such param.
 * Valid during run. */
const msgpack_object *ik_node_param(const struct ik_node_ctx *ctx, const char *name);
/* Typed shortcuts; the graph was validated, so a declared param has its type.
 * Strings are returned NUL-terminated, valid during run. */
const char *ik_node_param_str(const struct ik_node_ctx *ctx, const char *name);
int64_t ik_node_param_int(const struct ik_node_ctx *ctx, const char *name);
double ik_node_param_float(const struct ik_node_ctx *ctx, const char *name);
bool ik_node_param_bool(const struct ik_node_ctx *ctx, const char *name);

/* An integer param that must lie in [lo, hi]: *out set and 0, or IK_EVALIDATE
 * with "param NAME is V, expected LO..HI" in d ("LO or more" for a value
 * below LO when HI, INT32_MAX or more, only keeps the value in its type). */
int ik_node_param_int_in(const struct ik_node_ctx *ctx, const char *name, int64_t lo, int64_t hi,
                         int64_t *out, struct ik_diag *d);

/* Connected input ports, in graph order. */
size_t ik_node_input_count(const struct ik_node_ctx *ctx);
const char *ik_node_input_port(const struct ik_node_ctx *ctx, size_t i);
bool ik_node_has_input(const struct ik_node_ctx *ctx, const char *port);

/* The input as an unpacked msgpack artifact (see cache/artifact.h). The object
 * stays valid until run returns. Fails with IK_ENOTFOUND (unconnected port) or
 * IK_ECORRUPT / IK_EPARSE (not a msgpack artifact, e.g. a `file:` source). */
int ik_node_input_object(struct ik_node_ctx *ctx, const char *port, const msgpack_object **out,
                         struct ik_diag *d);

/* A path to the input's bytes on disk: for a `file:` source its own path (a
 * directory stays a directory); for a `glob:` source a scratch folder of
 * links to its matches, named as base/glob.h says; for a `file` artifact its payload written to a
 * scratch file; for a `tree` artifact (cache/tree.h) its files recreated in a
 * scratch folder named as the output folder was, whose path is returned; for
 * any other artifact the msgpack object itself. Valid until run returns. */
int ik_node_input_path(struct ik_node_ctx *ctx, const char *port, const char **path,
                       struct ik_diag *d);

/* The content hash of the input (an artifact's object hash; a `file:`
 * source's file or folder hash, as its key uses it): 0, or IK_ENOTFOUND for
 * an unconnected port. */
int ik_node_input_hash(const struct ik_node_ctx *ctx, const char *port, struct ik_hash *out,
                       struct ik_diag *d);

/* The folder of the graph file the node is part of, against which a path in
 * a param is resolved (as `file:` inputs are); "." when run by hand. Not part
 * of the key: moving a project does not re-run it. */
const char *ik_node_graph_dir(const struct ik_node_ctx *ctx);

/* A private scratch directory, removed after run. */
const char *ik_node_scratch_dir(const struct ik_node_ctx *ctx);

/* Stores `len` bytes of a complete msgpack artifact as output `port`. Each port
 * is written exactly once. */
int ik_node_output(struct ik_node_ctx *ctx, const char *port, const void *data, size_t len,
                   struct ik_diag *d);
/* Stores the file at `path` as a `file` artifact on output `port`, streamed
 * (the file is never held in memory whole, so a many-GB model file is fine);
 * the same bytes as ik_artifact_pack_file of its contents. Fails if the file
 * changes size meanwhile. */
int ik_node_output_file(struct ik_node_ctx *ctx, const char *port, const char *path,
                        struct ik_diag *d);

/* Stores the folder at `path` as a `tree` artifact (cache/tree.h) on output
 * `port`: its regular files, their relative paths and execute bits, streamed
 * through a scratch file (twice the folder's size on disk for a moment,
 * never in memory). Fails if a file changes size meanwhile. */
int ik_node_output_tree(struct ik_node_ctx *ctx, const char *port, const char *path,
                        struct ik_diag *d);

/* Progress: `done` of `total` items (total 0 = unknown); `unit` like "rows". */
void ik_node_progress(struct ik_node_ctx *ctx, uint64_t done, uint64_t total, const char *unit);
/* A named figure shown in the progress line and kept in the action record
 * (e.g. "loss", "usd"). */
void ik_node_counter(struct ik_node_ctx *ctx, const char *name, double value);

/* --- A durable key -> value store of the node type's own -------------------
 *
 * For results that are not outputs but must outlive the run, any crash and gc:
 * the cot node keeps every paid-for API response under the SHA-256 of its
 * request, so a killed run resumes without paying twice. `ns` is the type's
 * area, a short [a-z0-9_-] name (by convention the type's name, e.g. "cot");
 * `key` is a hash the node computes. With the inputs and outputs above, these
 * are a node's only way into the store (the one place a remote cache hooks).
 * Underneath, a value is a CAS object and the entry kv/<ns>/<key> names it
 * (cache/kv.h has the format; gc keeps both).
 *
 * Threads: unlike the other accessors, these two may be called from any
 * thread, concurrently with each other and with the run's own thread (cot
 * stores from libuv's thread pool): they read nothing of ctx but its cache
 * handle, fixed for the whole run. Both block on disk I/O. Valid during run. */

/* Stores len bytes as the value of key in ns, replacing any earlier value
 * atomically. Returns once value and entry are durable (fsynced), the value
 * first, so a kill at any moment leaves the key absent, or mapped to its old
 * or its new value, complete. 0, or -errno (e.g. -ENOSPC) with d filled; on
 * failure the old value, if any, stays. */
int ik_node_kv_put(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   const void *value, size_t len, struct ik_diag *d);

/* Looks key up in ns: 0 with *value (the caller's to free, its len bytes
 * followed by a NUL so that text can be used as a string) and *len; -ENOENT
 * when absent (d untouched), or when the entry's object is gone (d says so);
 * IK_ECORRUPT or -errno with d filled when it cannot be read. */
int ik_node_kv_get(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   char **value, size_t *len, struct ik_diag *d);

/* Removes key from ns (absent: 0), or -errno with d filled. The value's
 * object stays until gc finds nothing else names it. */
int ik_node_kv_del(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   struct ik_diag *d);

/* --- Tables of node types ---------------------------------------------------- */

/* The type called `name` in `types` (terminated by NULL), or NULL. The
 * program's table is ik_node_types (nodes/registry.h); the engine never names
 * it, its callers hand it in. */
const struct ik_node_type *ik_node_type_find_in(const struct ik_node_type *const *types,
                                                const char *name);

/* The bool param that output `port` of t depends on (outputs_when), or NULL. */
const char *ik_node_type_output_param(const struct ik_node_type *t, const char *port);

#endif
