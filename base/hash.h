/* base/hash.h - SHA-256 content addresses (OpenSSL EVP).
 *
 * Every object, action key and source file is named by the SHA-256 of its
 * bytes, printed as 64 lowercase hex digits. SHA-256 keeps the cache compatible
 * with Bazel's remote-cache layout (/cas/<sha256>, /ac/<sha256>). */
#ifndef IK_BASE_HASH_H
#define IK_BASE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

#define IK_HASH_BYTES 32
#define IK_HASH_HEX_LEN 64

struct ik_hash {
    unsigned char b[IK_HASH_BYTES];
};

/* Streaming hasher; init cannot fail (aborts on an OpenSSL allocation failure). */
struct ik_hasher;
struct ik_hasher *ik_hasher_new(void);
void ik_hasher_update(struct ik_hasher *h, const void *data, size_t len);
/* Finishes and frees the hasher. */
void ik_hasher_final(struct ik_hasher *h, struct ik_hash *out);

void ik_hash_bytes(const void *data, size_t len, struct ik_hash *out);
/* Hashes a file's contents, streaming; sets *size. -errno with d filled on
 * failure. */
int ik_hash_file(const char *path, struct ik_hash *out, uint64_t *size, struct ik_diag *d);

/* The same, also handing every block read to sink (a copy into the cache, say),
 * so a large file is read exactly once. A sink failure (non-zero, with d
 * filled) stops the read and is returned. */
typedef int (*ik_hash_sink)(const void *block, size_t len, void *arg, struct ik_diag *d);
int ik_hash_file_with(const char *path, ik_hash_sink sink, void *arg, struct ik_hash *out,
                      uint64_t *size, struct ik_diag *d);
/* The same over prefix[0..plen) followed by the file (the prefix goes to sink
 * first and counts in *size): an object that wraps a file in a header (a
 * `file` artifact) is hashed and copied without holding the file. */
int ik_hash_file_prefixed(const char *path, const void *prefix, size_t plen, ik_hash_sink sink,
                          void *arg, struct ik_hash *out, uint64_t *size, struct ik_diag *d);

/* Writes 64 hex digits and a NUL into out. */
void ik_hash_to_hex(const struct ik_hash *h, char out[IK_HASH_HEX_LEN + 1]);
/* Parses exactly 64 hex digits (either case). Returns 0 or IK_EPARSE. */
int ik_hash_from_hex(const char *hex, struct ik_hash *out);
bool ik_hash_equal(const struct ik_hash *a, const struct ik_hash *b);

/* True if the NUL-terminated string s is exactly n hex digits (either case):
 * s[n] is read, so s must be a C string, not a bounded slice. */
bool ik_hash_is_hex(const char *s, size_t n);

#endif
