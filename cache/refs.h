/* cache/refs.h - names for results: refs/<graph>/<node> -> the node's last key.
 *
 * Written by the scheduler each time a node of graph <graph> (the graph file's
 * base name) completes or is found cached, so `ikada cache show cot.sft`
 * resolves to an object and `ikada status` can compare a node's current spec
 * with the one it last ran with. Format: a msgpack map
 * {v: 1, key: hex, updated_ms: int}. */
#ifndef IK_CACHE_REFS_H
#define IK_CACHE_REFS_H

#include <stdint.h>

#include "cache/cache.h"
#include "cache/hash.h"

struct ik_ref {
    char *graph;
    char *node;
    struct ik_hash key;
    int64_t updated_ms;
};

/* Sets refs/<graph>/<node> atomically. */
int ik_ref_set(struct ik_cache *c, const char *graph, const char *node, const struct ik_hash *key,
               struct ik_diag *d);

/* 0 and *key; -ENOENT if no such ref. */
int ik_ref_get(const struct ik_cache *c, const char *graph, const char *node,
               struct ik_hash *key, struct ik_diag *d);

/* Every ref, sorted by graph then node; *refs is a new array (ik_refs_free). */
int ik_ref_list(const struct ik_cache *c, struct ik_ref **refs, size_t *n, struct ik_diag *d);
void ik_refs_free(struct ik_ref *refs, size_t n);

#endif
