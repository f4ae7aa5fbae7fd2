/* cache/cache_int.h - internals shared by the cache module's files.
 *
 * Not a public contract: only the cache module's .c files include it. It
 * holds the path helpers for the ab/cdef… fan-out; the temporary-file
 * primitives and the clock it once held are in base/file.h and base/clock.h. */
#ifndef IK_CACHE_CACHE_INT_H
#define IK_CACHE_CACHE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/cache.h"
#include "base/hash.h"
#include "base/diag.h"
#include "base/file.h"

/* root/<area>/ab/cdef… for area "objects" or "actions"; the caller frees. */
char *ik__fanout_path(const struct ik_cache *c, const char *area, const struct ik_hash *h);

/* Makes root/<area>/ab for h. Returns 0 or -errno with d filled. */
int ik__fanout_mkdir(const struct ik_cache *c, const char *area, const struct ik_hash *h,
                     struct ik_diag *d);

/* Calls fn for each regular file under root/<area> whose name is a valid hash
 * (ab/ + 62 hex digits), in no particular order; stops at fn's first non-zero
 * value and returns it. A missing area counts as empty. */
struct stat;
int ik__foreach_fanout(const struct ik_cache *c, const char *area,
                       int (*fn)(const struct ik_hash *h, const struct stat *st, void *arg),
                       void *arg);

#endif
