/* base/hash.c - SHA-256 through OpenSSL EVP, hex conversion, file hashing.
 *
 * File hashing is on the hot path of every run (source files, verify), so it
 * reads in 1 MiB blocks with a sequential-access hint and no extra copies. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/assert.h"
#include "base/hash.h"
#include "base/file.h"
#include "base/error.h"
#include "base/xmalloc.h"

#define HASH_FILE_BLOCK (1u << 20)

struct ik_hasher {
    EVP_MD_CTX *ctx;
};

/* Only allocation failures can make these OpenSSL calls fail; like ik_xmalloc,
 * give up loudly (IK_ASSERT names the call). */
struct ik_hasher *ik_hasher_new(void)
{
    struct ik_hasher *h = ik_xmalloc(sizeof *h);
    h->ctx = EVP_MD_CTX_new();
    IK_ASSERT(h->ctx != NULL);
    IK_ASSERT(EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1);
    return h;
}

void ik_hasher_update(struct ik_hasher *h, const void *data, size_t len)
{
    IK_ASSERT(len == 0 || EVP_DigestUpdate(h->ctx, data, len) == 1);
}

void ik_hasher_final(struct ik_hasher *h, struct ik_hash *out)
{
    unsigned int n = 0;
    IK_ASSERT(EVP_DigestFinal_ex(h->ctx, out->b, &n) == 1 && n == IK_HASH_BYTES);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void ik_hash_bytes(const void *data, size_t len, struct ik_hash *out)
{
    unsigned int n = 0;
    IK_ASSERT(EVP_Digest(data, len, out->b, &n, EVP_sha256(), NULL) == 1);
}

int ik_hash_file(const char *path, struct ik_hash *out, uint64_t *size, struct ik_diag *d)
{
    return ik_hash_file_with(path, NULL, NULL, out, size, d);
}

int ik_hash_file_with(const char *path, ik_hash_sink sink, void *arg, struct ik_hash *out,
                      uint64_t *size, struct ik_diag *d)
{
    return ik_hash_file_prefixed(path, NULL, 0, sink, arg, out, size, d);
}

int ik_hash_file_prefixed(const char *path, const void *prefix, size_t plen, ik_hash_sink sink,
                          void *arg, struct ik_hash *out, uint64_t *size, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open %s: %s", ik_display_path(path), strerror(e));
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    unsigned char *buf = malloc(HASH_FILE_BLOCK);
    if (buf == NULL) {
        close(fd);
        return ik_diag_set(d, -ENOMEM, "cannot hash %s: out of memory", ik_display_path(path));
    }
    struct ik_hasher *h = ik_hasher_new();
    uint64_t total = plen;
    int rc = 0;
    if (plen) {
        ik_hasher_update(h, prefix, plen);
        if (sink != NULL)
            rc = sink(prefix, plen, arg, d);
    }
    while (rc == 0) {
        ssize_t n = read(fd, buf, HASH_FILE_BLOCK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot read %s: offset %llu: %s", ik_display_path(path),
                             (unsigned long long)(total - plen), strerror(e));
            break;
        }
        if (n == 0)
            break;
        ik_hasher_update(h, buf, (size_t)n);
        if (sink != NULL && (rc = sink(buf, (size_t)n, arg, d)) != 0)
            break;
        total += (uint64_t)n;
    }
    struct ik_hash tmp;
    ik_hasher_final(h, &tmp);
    free(buf);
    close(fd);
    if (rc == 0) {
        *out = tmp;
        if (size)
            *size = total;
    }
    return rc;
}

void ik_hash_to_hex(const struct ik_hash *h, char out[IK_HASH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < IK_HASH_BYTES; i++) {
        out[2 * i] = digits[h->b[i] >> 4];
        out[2 * i + 1] = digits[h->b[i] & 15];
    }
    out[IK_HASH_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ik_hash_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hex_value(s[i]) < 0)
            return false;
    return s[n] == '\0';
}

int ik_hash_from_hex(const char *hex, struct ik_hash *out)
{
    if (hex == NULL || !ik_hash_is_hex(hex, IK_HASH_HEX_LEN))
        return IK_EPARSE;
    for (int i = 0; i < IK_HASH_BYTES; i++)
        out->b[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    return 0;
}

bool ik_hash_equal(const struct ik_hash *a, const struct ik_hash *b)
{
    return memcmp(a->b, b->b, IK_HASH_BYTES) == 0;
}
