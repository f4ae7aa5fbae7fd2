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
 * [path, dev, ino, size, mtime_ns, hash(bin32), sum(bin8)]; sum (cache/seal.h)
 * is the first 8 bytes of the SHA-256 of the entry's bytes before it. The last
 * entry for a path wins. Appends take an exclusive flock so concurrent runs
 * interleave whole records. Damage is never believed: an entry whose sum does
 * not match is dropped (the file is hashed again) and overwritten in place
 * with nil bytes, a torn tail (crash while appending) is cut off, each with
 * one warning. Entries of 6 items (written before sums existed) cannot vouch
 * for their hash and are not used: after an upgrade each source file is
 * hashed once more. Nil bytes and 7-item entries are skipped by older
 * readers, so an older ikada keeps working on the same memo. */
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

/* Hash of the set of files (or folders) that glob `pattern` matches
 * (base/glob.h), each hashed and memoised as above: the SHA-256 of the same
 * manifest as a folder's, with each match named relative to the pattern's
 * fixed folder, so a glob of every file of a flat folder hashes as that folder does.
 * *size is the matches' total. -ENOENT when nothing matches ("no file
 * matches PATTERN"), else as ik_srcmemo_hash. */
int ik_srcmemo_hash_glob(struct ik_srcmemo *m, const char *pattern, struct ik_hash *out,
                         uint64_t *size, struct ik_diag *d);

/* Bytes actually read and hashed by this memo so far (memo hits add nothing),
 * so tests and `-v` output can tell whether a file was re-read. Cannot fail.
 * A file modified in the last 2 s is hashed but not memoised: its timestamp
 * could not yet show a further change (git's "racily clean" rule). */
uint64_t ik_srcmemo_hashed_bytes(const struct ik_srcmemo *m);

/* Accepts NULL. */
void ik_srcmemo_close(struct ik_srcmemo *m);

/* `ikada cache verify`: checks every entry of c's memo, repairing as a load
 * does, and calls bad with one message (naming the file and offset) per
 * corrupt entry or torn tail. *checked: the sealed entries seen. Returns 0 or
 * -errno with d filled. */
int ik_srcmemo_check(struct ik_cache *c, size_t *checked,
                     void (*bad)(const char *problem, void *arg), void *arg, struct ik_diag *d);

#endif
