/* cache/cas.h - the content-addressed object store (objects/ab/cdef…).
 *
 * An object is named by the SHA-256 of its bytes. Writing is idempotent and
 * atomic (base/file.h: temp file, fsync, rename, folder fsync); objects are
 * made read-only (0444) and never modified. Readers that use the bytes (the
 * node host, `cache export` / `show`) map them with ik_cas_map_verified, which
 * hashes what it maps (SHA-256 runs at ~1.5 GB/s, so checking what is read
 * anyway is cheap); `ik_cas_verify` re-hashes one object on disk. Both move a
 * corrupt object to quarantine/, after which the record that names it counts
 * as a miss (ik_action_outputs_present) and the action that made it re-runs.
 * Planning checks sizes only (ik_cas_stat), never hashes. */
#ifndef IK_CACHE_CAS_H
#define IK_CACHE_CAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "base/hash.h"

/* A read-only view of an object's bytes (mmap'd; an empty object has data
 * pointing at a static empty byte). Release with ik_blob_release. */
struct ik_blob {
    const unsigned char *data;
    size_t len;
    void *map_; /* private */
};

/* Stores data; sets *out to its hash. Returns 0 or -errno (e.g. -ENOSPC) with d
 * filled; nothing partial is ever visible. */
int ik_cas_put(struct ik_cache *c, const void *data, size_t len, struct ik_hash *out,
               struct ik_diag *d);

/* Stores a file's contents (streamed, not loaded whole). */
int ik_cas_put_file(struct ik_cache *c, const char *path, struct ik_hash *out, uint64_t *size,
                    struct ik_diag *d);
/* Stores prefix[0..plen) followed by the file's contents as one object,
 * streamed; *size counts both. */
int ik_cas_put_file_prefixed(struct ik_cache *c, const void *prefix, size_t plen, const char *path,
                             struct ik_hash *out, uint64_t *size, struct ik_diag *d);

/* Absolute path of an object (whether or not it exists); the caller frees. */
char *ik_cas_object_path(const struct ik_cache *c, const struct ik_hash *h);

/* 0 and *size if the object exists; -ENOENT if not. */
int ik_cas_stat(const struct ik_cache *c, const struct ik_hash *h, uint64_t *size);

/* Maps an object. expected_size: UINT64_MAX to skip the size check, else a
 * mismatch fails with IK_ECORRUPT. -ENOENT if missing. */
int ik_cas_map(const struct ik_cache *c, const struct ik_hash *h, uint64_t expected_size,
               struct ik_blob *out, struct ik_diag *d);
void ik_blob_release(struct ik_blob *b);

/* ik_cas_map, and the mapped bytes are hashed: when they do not match h the
 * object is moved to quarantine/ (see ik_cas_verify) and IK_ECORRUPT is
 * returned with d naming the object ("object <hex> is corrupt: ..."), so the
 * caller adds which node or REF read it. A size other than expected_size with
 * the right bytes fails with IK_ECORRUPT too, but leaves the object in place. */
int ik_cas_map_verified(const struct ik_cache *c, const struct ik_hash *h,
                        uint64_t expected_size, struct ik_blob *out, struct ik_diag *d);

/* Re-hashes one object: 0 if intact, IK_ECORRUPT if its bytes do not match its
 * name (then, if quarantine is true, it is moved to quarantine/), -ENOENT. */
int ik_cas_verify(struct ik_cache *c, const struct ik_hash *h, bool quarantine, struct ik_diag *d);

/* Calls fn for every object, in no particular order; stops and returns fn's
 * value when it is non-zero. */
int ik_cas_foreach(const struct ik_cache *c,
                   int (*fn)(const struct ik_hash *h, uint64_t size, int64_t mtime_s, void *arg),
                   void *arg);

/* Deletes an object (gc). Returns 0 or -errno. */
int ik_cas_remove(struct ik_cache *c, const struct ik_hash *h);

/* Resolves a unique hex prefix (at least 4 digits) of an object or action key
 * name to a full hash: IK_ENOTFOUND, IK_EAMBIGUOUS (d lists a few matches). */
int ik_cas_resolve_prefix(const struct ik_cache *c, const char *prefix, struct ik_hash *out,
                          struct ik_diag *d);

#endif
