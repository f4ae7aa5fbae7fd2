/* cache/refs.h - names for results: the last key of each node of each graph.
 *
 * Written by the scheduler each time a node of graph <graph> (the graph file's
 * base name) completes or is found cached, so `ikada cache show cot.sft`
 * resolves to an object and `ikada status` can compare a node's current spec
 * with the one it last ran with.
 *
 * Format: one file per graph, refs/<graph>.mp, a msgpack map
 *   {v: 1, refs: {<node>: {key: hex, updated_ms: int,
 *                          outputs: [[port, hash (bin 32), size, kind]],
 *                          rec: [ino, size, mtime_ns]}}}
 * The outputs repeat those of the key's action record, so that a no-op run
 * plans from this one file instead of reading one action record per node;
 * rec is the stamp of the record file they were copied from, and they are
 * used only while one stat finds that file unchanged (a `--force` run of
 * another graph sharing the key replaces the record). outputs without rec
 * (written by an older ikada) are never used. A `--force` run that changes
 * a node's outputs under the same key replaces the outputs recorded here.
 * replaced atomically. One file and not one per node, because a no-op run of
 * a 10,000-node graph must not open 10,000 files: the scheduler loads a graph's
 * refs once (ik_refset_load), updates them in memory and saves them when they
 * changed. A crash between two saves loses only names, never results: the next
 * run finds every finished node in the action cache by its key. */
#ifndef IK_CACHE_REFS_H
#define IK_CACHE_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/action.h"
#include "cache/cache.h"
#include "base/hash.h"

struct ik_ref {
    char *graph;
    char *node;
    struct ik_hash key;
    int64_t updated_ms;
    struct ik_action_output *outputs; /* refsets only: the key's outputs, if known */
    size_t n_outputs;
    struct ik_action_stamp rec; /* refsets only: the record file they were copied from */
};

/* All refs of one graph, in memory. */
struct ik_refset;

/* Loads refs/<graph>.mp (missing = empty). Fails on a bad graph name (-EINVAL)
 * or a corrupt file (IK_ECORRUPT), with d filled. */
int ik_refset_load(const struct ik_cache *c, const char *graph, struct ik_refset **out,
                   struct ik_diag *d);
/* The node's key, or NULL. Valid until the next ik_refset_set or free. */
const struct ik_hash *ik_refset_get(const struct ik_refset *rs, const char *node);
/* Sets a node's key in memory (a no-op when it is already that key). */
void ik_refset_set(struct ik_refset *rs, const char *node, const struct ik_hash *key);
/* Records the outputs of the node's action (its key must be the ref's) and
 * a->stamp, replacing outputs recorded before for the same key when they
 * differ (a --force run). */
void ik_refset_set_outputs(struct ik_refset *rs, const char *node, const struct ik_action *a);
/* A new action (ik_action_free) holding the node's recorded outputs, when its
 * ref is `key`, outputs were recorded, and the key's action record in c is
 * still the file they were copied from (one stat); else NULL, and the caller
 * reads the record. Only the key, node, outputs and stamp are filled in. */
struct ik_action *ik_refset_action(const struct ik_refset *rs, const struct ik_cache *c,
                                   const char *node, const struct ik_hash *key);
/* Writes the set atomically if it changed since it was loaded or saved. */
int ik_refset_save(struct ik_cache *c, struct ik_refset *rs, struct ik_diag *d);
/* Accepts NULL. */
void ik_refset_free(struct ik_refset *rs);

/* One-ref conveniences (load, change, save). */
int ik_ref_set(struct ik_cache *c, const char *graph, const char *node, const struct ik_hash *key,
               struct ik_diag *d);
/* 0 and *key; -ENOENT if no such ref. */
int ik_ref_get(const struct ik_cache *c, const char *graph, const char *node,
               struct ik_hash *key, struct ik_diag *d);

/* Every ref, sorted by graph then node; *refs is a new array (ik_refs_free). */
int ik_ref_list(const struct ik_cache *c, struct ik_ref **refs, size_t *n, struct ik_diag *d);
void ik_refs_free(struct ik_ref *refs, size_t n);

#endif
