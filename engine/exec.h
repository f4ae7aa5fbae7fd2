/* engine/exec.h - the node host: runs one node in the calling process.
 *
 * This is what `ikada exec KEY` does (cli/exec.c turns its argv into a
 * request): load the spec object KEY from the cache, find its node type in
 * the table, call the type's run with the accessors of engine/node.h, store
 * the outputs in the CAS and report them on the progress pipe (fd 3). The
 * action record is the parent's to write, after this process exits 0. */
#ifndef IK_ENGINE_EXEC_H
#define IK_ENGINE_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "base/hash.h"
#include "engine/node.h"

/* A port fed by a source file, passed by path instead of through the CAS;
 * with glob, path is a pattern whose matches the node sees as one folder. */
struct ik_exec_file {
    const char *port;
    const char *path;
    bool glob;
};

struct ik_exec_request {
    struct ik_hash key;                        /* the spec object to run */
    const char *name;                          /* the node's name in its graph; NULL: "node" */
    const struct ik_exec_file *files;          /* borrowed for the call */
    size_t n_files;
    const struct ik_node_type *const *types;   /* NULL-terminated table to find the type in */
};

/* Runs the node. On failure the message has already been printed to stderr
 * and sent to the scheduler as an error frame. Returns 0 or an IK_E* code
 * (IK_ENODE when the node type's run failed, IK_EVERSION for a spec from
 * another version of the type, ...). */
int ik_exec_node(const struct ik_exec_request *req);

/* Prints d and sends it to the scheduler as the node's error frame: for a
 * failure before ik_exec_node could start (a bad command line). */
void ik_exec_report_failure(const struct ik_diag *d);

/* A node must not outlive the run that owns it: makes SIGTERM (sent by the
 * scheduler, or by the kernel through PR_SET_PDEATHSIG when the scheduler
 * dies) kill this process's whole group. Call first thing in the child. */
void ik_exec_die_with_scheduler(void);

/* A node context that holds only `cache` (borrowed; it must outlive the
 * context): for tests of a node type's helpers that reach the store through
 * ik_node_kv_get/put, outside `ikada exec`. No other accessor of
 * engine/node.h may be called on it. Free with ik_exec_store_ctx_free. */
struct ik_cache;
struct ik_node_ctx *ik_exec_store_ctx_new(struct ik_cache *cache);
/* Accepts NULL; leaves the cache open. */
void ik_exec_store_ctx_free(struct ik_node_ctx *ctx);

#endif
