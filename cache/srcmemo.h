/* cache/srcmemo.h - content hashes of source files, memoised by stat data.
 *
 * A `file:` input (a JSONL file, an 18 GB model folder) is hashed once; the
 * result is remembered under (absolute path, device, inode, size, mtime_ns),
 * so a no-op run never re-reads it. A changed stat tuple means re-hash.
 *
 * A folder's hash is the SHA-256 of a canonical msgpack manifest: an array of
 * [relative path, size, file hash] for every regular file below it, sorted by
 * path bytewise (symlinks are followed, dot-files included).
 *
 * On-disk format: root/srcmemo, an append-only stream of msgpack arrays
 * [path, dev, ino, size, mtime_ns, hash(bin32)]; the last entry for a path
 * wins; a torn tail (crash while appending) is ignored. Appends take an
 * exclusive flock so concurrent runs interleave whole records. */
#ifndef IK_CACHE_SRCMEMO_H
#define IK_CACHE_SRCMEMO_H

#include <stdint.h>

#include "cache/cache.h"
#include "base/hash.h"

struct ik_srcmemo; /* opaque: the loaded memo of one cache */

/* Loads root/srcmemo (missing = empty). Returns 0 or -errno with d filled. */
int ik_srcmemo_open(struct ik_cache *c, struct ik_srcmemo **out, struct ik_diag *d);

/* Hash of the file or folder at `path` (memoised). *size is the file size or
 * the folder's total. -ENOENT etc. with d naming the path. */
int ik_srcmemo_hash(struct ik_srcmemo *m, const char *path, struct ik_hash *out, uint64_t *size,
                    struct ik_diag *d);

/* Bytes actually read and hashed by this memo so far (memo hits add nothing),
 * so tests and `-v` output can tell whether a file was re-read. Cannot fail.
 * A file modified in the last 2 s is hashed but not memoised: its timestamp
 * could not yet show a further change (git's "racily clean" rule). */
uint64_t ik_srcmemo_hashed_bytes(const struct ik_srcmemo *m);

/* Accepts NULL. */
void ik_srcmemo_close(struct ik_srcmemo *m);

#endif
