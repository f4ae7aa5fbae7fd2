/* cache/cache_int.h - internals shared by the cache module's files.
 *
 * Not a public contract: only the cache module's .c files include it. It
 * holds the streaming
 * temporary-file primitives behind ik_write_atomic (ik_cas_put_file and the
 * srcmemo need them too), path helpers for the ab/cdef… fan-out, and a clock. */
#ifndef IK_CACHE_CACHE_INT_H
#define IK_CACHE_CACHE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/cache.h"
#include "cache/hash.h"
#include "engine/diag.h"

/* Creates a new, unique temporary file in tmp_dir (name from the pid, a
 * process-wide counter and random bits, so no two processes or threads ever
 * collide). Returns the fd (O_WRONLY, mode 0600) and sets *tmp_path (the caller
 * frees), or -errno with d naming `for_path` (the final name the bytes are for). */
int ik__tmp_create(const char *tmp_dir, const char *for_path, char **tmp_path,
                   struct ik_diag *d);

/* Finishes a temporary file: chmod to mode, fsync, close, rename onto path,
 * fsync path's folder. Always consumes fd and (on failure) unlinks tmp_path.
 * Returns 0 or -errno with d naming `path`. */
int ik__tmp_commit(int fd, const char *tmp_path, const char *path, mode_t mode,
                   struct ik_diag *d);

/* Closes fd and unlinks tmp_path; keeps errno. */
void ik__tmp_abort(int fd, const char *tmp_path);

/* path relative to the working directory when it lies below it, so messages
 * read ".ikada/objects/ab/…" rather than a long absolute path. Points into path. */
const char *ik__display_path(const char *path);

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

/* True if s has exactly n lowercase-or-uppercase hex digits and nothing else. */
bool ik__is_hex(const char *s, size_t n);

/* Wall-clock time in unix milliseconds. */
int64_t ik__now_ms(void);

#endif
