/* cache/cache.h - opening the cache folder (.ikada/).
 *
 * Layout (all under the root, e.g. /project/.ikada):
 *   VERSION            "ikada-cache 1\n"; a newer version is refused, never wiped:
 *                      the cache may hold API answers that were paid for
 *   objects/ab/cdef…   immutable objects named by the SHA-256 of their bytes, mode 0444
 *   actions/ab/cdef…   node key -> action record (cache/action.h)
 *   refs/<stem>-<h>.mp the last key of each node of one graph, named by its path
 *                      (cache/refs.h); refs/legacy/ older ikadas' refs
 *   runs/<id>.mp       one record per `ikada run` (cache/runlog.h)
 *   locks/             lock files (cache/lock.h)
 *   tmp/               temporary files; emptied by a run that finds no other process
 *                      holding the cache (cache/lock.h), and by gc
 *   quarantine/        objects that failed verification
 *   srcmemo            memo of source-file hashes (cache/srcmemo.h)
 *
 * Finding the root: $IKADA_CACHE if set; else the nearest `.ikada` folder in
 * the working directory or a parent (like git); else `.ikada` is created in the
 * working directory (only when `create` is true). */
#ifndef IK_CACHE_CACHE_H
#define IK_CACHE_CACHE_H

#include <stdbool.h>

#include "base/diag.h"

struct ik_cache {
    char *root; /* read-only: absolute path of the .ikada folder */
};

/* Opens (and with create, creates) the cache. On failure: -errno, IK_ENOTFOUND
 * (no cache and !create) or IK_EVERSION, with d filled. Free with
 * ik_cache_close. */
int ik_cache_open(bool create, struct ik_cache **out, struct ik_diag *d);
/* Opens the cache at exactly `root` (tests, --cache). */
int ik_cache_open_at(const char *root, bool create, struct ik_cache **out, struct ik_diag *d);
/* Accepts NULL. */
void ik_cache_close(struct ik_cache *c);

/* Joins root and a relative path; the caller frees. */
char *ik_cache_path(const struct ik_cache *c, const char *rel);

#endif
