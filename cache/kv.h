/* cache/kv.h - small durable key -> object mappings (kv/<namespace>/ab/cdef…).
 *
 * For results that are not node outputs but must survive any crash and never
 * be collected: the `cot` node maps the SHA-256 of an LLM request to the CAS
 * object holding the response it paid for (node types reach this store only
 * through ik_node_kv_get/put of engine/node.h, which also keep the value in
 * the CAS). Format: one file per key, named by the key's 64 hex digits under
 * a two-digit fan-out folder, holding the value hash as 64 lowercase hex
 * digits and "\n"; written with ik_write_atomic (temp, fsync, rename, folder
 * fsync), mode 0444. A put of an existing key replaces it atomically. gc
 * (cache/gc.h) keeps every object a kv entry names.
 * Namespaces are short [a-z0-9_-] names chosen by the caller ("cot"). Any
 * process holding the cache (shared lock) may call these; writers of one key
 * race harmlessly (last rename wins, both values are valid). */
#ifndef IK_CACHE_KV_H
#define IK_CACHE_KV_H

#include "cache/cache.h"
#include "base/hash.h"
#include "base/diag.h"

/* The namespace of node checkpoints (a training node's resumable state):
 * entries keyed by the node's key, removed by the node once its outputs are
 * stored, and by gc when orphaned (cache/gc.h). */
#define IK_KV_CHECKPOINTS "ckpt"

/* Stores key -> value in namespace ns. Returns 0 or -errno with d naming the
 * file (e.g. -ENOSPC); on failure the old entry, if any, is untouched. */
int ik_kv_put(struct ik_cache *c, const char *ns, const struct ik_hash *key,
              const struct ik_hash *value, struct ik_diag *d);

/* Removes key's entry (absent: nothing to do, 0), or -errno with d naming
 * the file. The object it named stays until gc finds nothing else names it. */
int ik_kv_del(struct ik_cache *c, const char *ns, const struct ik_hash *key, struct ik_diag *d);

/* Looks key up: 0 and *value, -ENOENT when absent, IK_ECORRUPT (d names the
 * file) when the entry does not hold a hash, or -errno. */
int ik_kv_get(const struct ik_cache *c, const char *ns, const struct ik_hash *key,
              struct ik_hash *value, struct ik_diag *d);

/* Calls fn for every entry of every namespace, in no particular order; an
 * unreadable or malformed entry is skipped. Stops at fn's first non-zero value
 * and returns it; 0 when done (a missing kv/ folder counts as empty) or
 * -errno when kv/ cannot be listed. */
int ik_kv_foreach(const struct ik_cache *c,
                  int (*fn)(const char *ns, const struct ik_hash *key,
                            const struct ik_hash *value, void *arg),
                  void *arg);

#endif
