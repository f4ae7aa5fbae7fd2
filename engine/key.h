/* engine/key.h - a node's spec object and key.
 *
 * The spec is everything that determines a node's outputs, packed canonically
 * (map keys sorted, floats as float64) so equal inputs give equal bytes:
 *   {inputs: {port: {hash: hex, size: int}}, params: {…resolved…},
 *    type: str, v: 1, version: int}
 * The key is the SHA-256 of those bytes. The spec is stored in the CAS under
 * that hash, so `ikada exec KEY` needs nothing else to know what to run, and
 * `ikada status` can say which param or input changed since the last run.
 * Paths, node names and secrets are not part of it: renaming a node or moving
 * the project keeps its results. */
#ifndef IK_ENGINE_KEY_H
#define IK_ENGINE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "engine/graph.h"

struct ik_key_input {
    const char *port;
    struct ik_hash hash;
    uint64_t size;
};

/* Packs the spec of node n with the given input hashes (one per n->inputs, in
 * the same order). *spec is malloc'd; *key is its SHA-256. Cannot fail. */
void ik_key_spec(const struct ik_graph_node *n, const struct ik_key_input *inputs, char **spec,
                 size_t *spec_len, struct ik_hash *key);

#endif
