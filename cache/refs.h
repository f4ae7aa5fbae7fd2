/* cache/refs.h - names for results: the last key of each node of each graph.
 *
 * Written by the scheduler each time a node of a graph completes or is found
 * cached, so `ikada cache show cot.sft` resolves to an object and `ikada
 * status` can compare a node's current spec with the one it last ran with.
 *
 * A graph is identified by its file's path relative to the folder holding the
 * cache (the project folder, for ./.ikada): "graphs/quickstart.yaml",
 * "exp1/pipeline.yaml"; a graph outside that folder by its absolute path.
 * Symlinked folders are resolved. So exp1/pipeline.yaml and exp2/pipeline.yaml
 * are two graphs, and moving the project with its cache keeps the names.
 *
 * Format: one file per graph, refs/<stem>-<h>.mp, where stem is the file name
 * without .yaml/.yml (made safe, at most 40 bytes) and h the first 16 hex
 * digits of the SHA-256 of the identity; a msgpack map
 *   {v: 2, graph: identity,
 *    refs: {<node>: {key: hex, updated_ms: int,
 *                    outputs: [[port, hash (bin 32), size, kind]],
 *                    rec: [ino, size, mtime_ns]}},
 *    sum: bin 32}
 * The file names its identity, so a file is used only for its own graph.
 * sum (cache/seal.h) is the SHA-256 of the bytes before it: a file that does
 * not match is IK_ECORRUPT, which a run answers by rebuilding the graph's refs
 * from the action records (one warning, then the file is rewritten) and
 * `ikada cache verify` by moving the file to quarantine/.
 * The outputs repeat those of the key's action record, so that a no-op run
 * plans from this one file instead of reading one action record per node;
 * rec is the stamp of the record file they were copied from, and they are
 * used only while one stat finds that file unchanged (a `--force` run of
 * another graph sharing the key replaces the record). A `--force` run that
 * changes a node's outputs under the same key replaces the outputs here.
 *
 * Written whole and replaced atomically. One file and not one per node,
 * because a no-op run of a 10,000-node graph must not open 10,000 files: the
 * scheduler loads a graph's refs once (ik_refset_load), updates them in memory
 * and saves them when they changed. A crash between two saves loses only
 * names, never results: the next run finds every finished node in the action
 * cache by its key.
 *
 * Migration from format 1 (refs/<stem>.mp, {v: 1, refs}, written by ikada
 * before graphs were named by path): such a file may hold the names of any
 * graph of that file name, in any folder, so it is never read as a graph's
 * refs (that could serve one graph's result for another's). ik_refs_migrate,
 * called by every run and status, moves each one to refs/legacy/ with a
 * one-time note on stderr. Nothing paid for is lost: action records do not
 * depend on names, so the graph's next run finds all its results by key and
 * writes its refs/<stem>-<h>.mp; only `status` explanations of what changed
 * start afresh. gc keeps what legacy files name (IK_REF_LIST_LEGACY) until
 * refs/legacy/ is deleted by hand. An older ikada ignores format-2 files'
 * extra fields and reads them as the refs of a graph called "<stem>-<h>". */
#ifndef IK_CACHE_REFS_H
#define IK_CACHE_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/action.h"
#include "cache/cache.h"
#include "base/hash.h"

struct ik_ref {
    char *graph; /* the identity; for legacy refs, the old file's stem */
    char *node;
    struct ik_hash key;
    int64_t updated_ms;
    struct ik_action_output *outputs; /* refsets only: the key's outputs, if known */
    size_t n_outputs;
    struct ik_action_stamp rec; /* refsets only: the record file they were copied from */
    bool legacy;                /* lists only: from a format-1 file */
};

/* All refs of one graph, in memory. */
struct ik_refset;

/* The identity of the graph file at graph_path (see above), or NULL when its
 * folder cannot be resolved; the caller frees. */
char *ik_ref_graph_id(const struct ik_cache *c, const char *graph_path);
/* How REF text `sel` (the part before ':') names identity id: 2 exactly, 1 by
 * trailing path parts with or without .yaml/.yml ("pipeline", "exp1/pipeline",
 * "pipeline.yaml" all name "exp1/pipeline.yaml"), 0 not. */
int ik_ref_graph_match(const char *id, const char *sel);

/* Loads the refs of graph identity `graph` (missing = empty). Fails on a bad
 * identity (-EINVAL) or a corrupt file (IK_ECORRUPT), with d filled. */
int ik_refset_load(const struct ik_cache *c, const char *graph, struct ik_refset **out,
                   struct ik_diag *d);
/* An empty set for graph that the next save writes even if nothing is set:
 * what a run rebuilds an unreadable file from. */
struct ik_refset *ik_refset_empty(const char *graph);
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
/* Forgets the refs of the nodes keep() says no (nodes the graph no longer
 * has), in memory; the next save writes the set without them, so gc, `cache
 * ls` and REFs stop naming a deleted node's results. */
void ik_refset_retain(struct ik_refset *rs, bool (*keep)(const char *node, void *arg), void *arg);
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

enum {
    IK_REF_LIST_LEGACY = 1,  /* also format-1 files (gc roots): their refs have legacy set */
    IK_REF_LIST_SKIP_BAD = 2, /* skip an unreadable file with a warning instead of failing */
};
/* Every ref, sorted by graph then node; *refs is a new array (ik_refs_free).
 * Without IK_REF_LIST_SKIP_BAD, a corrupt file fails the listing. */
int ik_ref_list(const struct ik_cache *c, unsigned flags, struct ik_ref **refs, size_t *n,
                struct ik_diag *d);
void ik_refs_free(struct ik_ref *refs, size_t n);

/* Reads the refs file at path (format 1 or 2): 0, IK_ECORRUPT (also for a
 * format-2 file under another graph's name) or -errno, with d filled. */
int ik_refs_check(const struct ik_cache *c, const char *path, struct ik_diag *d);

/* Moves format-1 files out of the way (see above). Cannot fail: a file it
 * cannot move stays where it is, ignored. */
void ik_refs_migrate(struct ik_cache *c);

#endif
