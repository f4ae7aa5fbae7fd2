/* engine/exec_int.h - the node context shared by exec.c (the `ikada exec`
 * command) and exec_ctx.c (the accessors of engine/node.h). Internal to the
 * engine: node types see only the opaque struct ik_node_ctx. */
#ifndef IK_ENGINE_EXEC_INT_H
#define IK_ENGINE_EXEC_INT_H

#include <msgpack.h>

#include "cache/cas.h"
#include "engine/exec.h"
#include "engine/node.h"

struct ik_exec_input {
    char *port;
    bool loaded;
    struct ik_blob blob;      /* the object, when the input is an artifact */
    msgpack_unpacked unpacked;
    bool unpacked_ok;
    char *path;               /* materialised path, when asked for */
};

struct ik_exec_output {
    char *port;
    struct ik_hash hash;
    uint64_t size;
    char *kind;
};

struct ik_node_ctx {
    struct ik_cache *cache;
    struct ik_hash key;
    const char *name;
    const struct ik_node_type *const *types; /* the table the type is found in */
    const struct ik_node_type *type;
    struct ik_blob spec_blob;
    msgpack_unpacked spec;
    const msgpack_object *params; /* borrowed from spec */
    const msgpack_object *inputs; /* borrowed from spec: {port: {hash, size}} */
    const struct ik_exec_file *files; /* ports fed by file: sources (the caller's) */
    size_t n_files;
    struct ik_exec_input *in;     /* one per entry of inputs, lazily loaded */
    size_t n_in;
    struct ik_exec_output *outputs;
    size_t n_outputs;
    char **declared_outputs;
    size_t n_declared_outputs;
    char *scratch;
    uint64_t last_progress_ms;
};

/* Whether a SIGTERM arrived while the node's type stops gracefully (exec.c). */
bool ik__exec_stop_requested(void);

/* Fills declared_outputs from the type (or its outputs param). */
int ik__exec_declared_outputs(struct ik_node_ctx *ctx, struct ik_diag *d);
void ik__exec_inputs_free(struct ik_node_ctx *ctx);

#endif
