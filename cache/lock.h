/* cache/lock.h - locks that keep concurrent runs on one cache correct.
 *
 * Two kinds, both flock(2) on files under root/locks (released by the kernel
 * when a process dies, so a kill -9 never leaves a stale lock):
 *  - the cache lock: every `ikada run` and `ikada exec` holds it shared;
 *    `ikada cache gc` and `verify` hold it exclusive, so gc never deletes an
 *    object a running node is about to reference, and whoever holds it
 *    exclusive may empty tmp/ (no one else is writing there).
 *  - key locks: a run holds locks/<key> exclusively while it executes that node,
 *    so two runs never execute the same key at once; the second waits, then
 *    finds the action record and reuses it. */
#ifndef IK_CACHE_LOCK_H
#define IK_CACHE_LOCK_H

#include <stdbool.h>

#include "cache/cache.h"
#include "base/hash.h"

/* Takes the cache lock (shared or exclusive). wait=false fails with
 * -EWOULDBLOCK if it cannot be had at once. Returns a lock fd (>= 0) or -errno. */
int ik_lock_cache(struct ik_cache *c, bool exclusive, bool wait, struct ik_diag *d);

/* The cache lock of an `ikada run`: shared, taken waiting. When no other
 * process holds the cache at all, it is first taken exclusive for a moment to
 * empty tmp/ (ik_gc_tmp) of what a killed run left there; a run that starts
 * beside another leaves tmp/ alone, since the other may be writing there.
 * Returns a lock fd (>= 0) or -errno. */
int ik_lock_cache_run(struct ik_cache *c, struct ik_diag *d);

/* Takes the key lock. wait=false fails with -EWOULDBLOCK when another process
 * holds it. Returns a lock fd (>= 0) or -errno. */
int ik_lock_key(struct ik_cache *c, const struct ik_hash *key, bool wait, struct ik_diag *d);

/* Releases a lock returned above. Accepts -1. */
void ik_unlock(int fd);

#endif
