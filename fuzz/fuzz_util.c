/* fuzz/fuzz_util.c - the temporary folder, input parts and the msgpack size
 * check shared by the targets (see fuzz_util.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cache/cache.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/xmalloc.h"
#include "fuzz/fuzz_util.h"
#include "lm/tokenizer.h"

static char *tmp_root;

static void remove_root(void)
{
    if (tmp_root)
        ik_remove_tree(tmp_root);
    free(tmp_root);
    tmp_root = NULL;
}

const char *fz_dir(void)
{
    if (tmp_root)
        return tmp_root;
    const char *base = getenv("TMPDIR");
    char *tmpl = ik_xasprintf("%s/ikada-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "fuzz: cannot create a folder from %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    tmp_root = tmpl;
    atexit(remove_root);
    return tmp_root;
}

char *fz_path(const char *rel)
{
    return ik_xasprintf("%s/%s", fz_dir(), rel);
}

void fz_write(const char *path, const void *data, size_t n)
{
    /* unlink first: cache records are written read-only (0444). */
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "fuzz: cannot remove %s: %s\n", path, strerror(errno));
        abort();
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ik__write_all(fd, data, n) != 0 || close(fd) != 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

char *fz_write_rel(const char *rel, const void *data, size_t n)
{
    char *p = fz_path(rel);
    fz_write(p, data, n);
    return p;
}

const char *fz_folder(const char *rel, const char *const *names, size_t n, const uint8_t *data,
                      size_t size)
{
    static struct {
        const char *rel;
        char *dir;
    } made[4];
    size_t k = 0;
    while (k < 4 && made[k].rel && made[k].rel != rel)
        k++;
    if (k == 4)
        abort(); /* more folders than any target uses */
    if (made[k].rel == NULL) {
        struct ik_diag d = IK_DIAG_INIT;
        made[k].rel = rel;
        made[k].dir = fz_path(rel);
        if (ik_mkdirs(made[k].dir, &d) != 0)
            abort();
    }
    struct fz_part part[FZ_MAX_PARTS];
    size_t np = fz_split(data, size, part, n < FZ_MAX_PARTS ? n : FZ_MAX_PARTS);
    for (size_t i = 0; i < n; i++) {
        char *p = ik_xasprintf("%s/%s", made[k].dir, names[i]);
        fz_write(p, i < np ? part[i].p : NULL, i < np ? part[i].n : 0);
        free(p);
    }
    return made[k].dir;
}

size_t fz_split(const uint8_t *data, size_t n, struct fz_part *parts, size_t max)
{
    const size_t sl = sizeof FZ_SEP - 1;
    size_t k = 0, start = 0;
    for (size_t i = 0; k + 1 < max && i + sl <= n; i++)
        if (memcmp(data + i, FZ_SEP, sl) == 0) {
            parts[k].p = data + start;
            parts[k++].n = i - start;
            start = i + sl;
            i = start - 1;
        }
    parts[k].p = data + start;
    parts[k++].n = n - start;
    return k;
}

char *fz_strndup(const void *data, size_t n)
{
    char *s = ik_xmalloc(n + 1);
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Big-endian unsigned of w bytes at p. */
static uint64_t be(const uint8_t *p, size_t w)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | p[i];
    return v;
}

bool fz_mp_plausible(const void *data, size_t n)
{
    /* A linear scan over the tokens: every value of a valid stream starts
     * with its own token, so the claimed elements of all containers together
     * cannot exceed the number of bytes. */
    const uint8_t *p = data;
    uint64_t claimed = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i++];
        size_t len_w = 0, fixed = 0; /* width of a length field; bytes of a fixed payload */
        uint64_t count = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            continue;
        if (b == 0xc1)
            return true; /* never used: msgpack-c stops here */
        if (b >= 0x80 && b <= 0x8f) {
            count = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            fixed = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: len_w = 1; break;          /* bin8, str8 */
            case 0xc5: case 0xda: len_w = 2; break;          /* bin16, str16 */
            case 0xc6: case 0xdb: len_w = 4; break;          /* bin32, str32 */
            case 0xc7: len_w = 1, fixed = 1; break;          /* ext8: length, then the type */
            case 0xc8: len_w = 2, fixed = 1; break;
            case 0xc9: len_w = 4, fixed = 1; break;
            case 0xca: fixed = 4; break;
            case 0xcb: fixed = 8; break;
            case 0xcc: case 0xd0: fixed = 1; break;
            case 0xcd: case 0xd1: fixed = 2; break;
            case 0xce: case 0xd2: fixed = 4; break;
            case 0xcf: case 0xd3: fixed = 8; break;
            case 0xd4: fixed = 2; break;                     /* fixext: type and 1..16 bytes */
            case 0xd5: fixed = 3; break;
            case 0xd6: fixed = 5; break;
            case 0xd7: fixed = 9; break;
            case 0xd8: fixed = 17; break;
            case 0xdc: case 0xdd: case 0xde: case 0xdf: {
                size_t w = b == 0xdc || b == 0xde ? 2 : 4;
                if (n - i < w)
                    return true; /* torn header */
                count = be(p + i, w) * (b >= 0xde ? 2 : 1);
                i += w;
                break;
            }
            }
        }
        if (len_w) {
            if (n - i < len_w)
                return true;
            fixed += be(p + i, len_w);
            i += len_w;
        }
        if (fixed) {
            if (n - i < fixed)
                return true; /* torn payload: msgpack-c waits for more, allocating nothing */
            i += fixed;
        }
        claimed += count;
        if (claimed > n)
            return false;
    }
    return true;
}

uint8_t *fz_reseal(const uint8_t *data, size_t n)
{
    static const char tail[] = "\xa3sum\xc4\x20"; /* the key "sum", a bin 8 of 32 bytes */
    const size_t tl = sizeof tail - 1;
    uint8_t *copy = ik_xmalloc(n + 1);
    if (n)
        memcpy(copy, data, n);
    if (n >= tl + IK_HASH_BYTES && memcmp(copy + n - IK_HASH_BYTES - tl, tail, tl) == 0) {
        struct ik_hash h;
        ik_hash_bytes(copy, n - IK_HASH_BYTES, &h);
        memcpy(copy + n - IK_HASH_BYTES, h.b, IK_HASH_BYTES);
    }
    return copy;
}

struct ik_cache *fz_cache(void)
{
    static struct ik_cache *c;
    if (c)
        return c;
    char *root = fz_path("cache");
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cache_open_at(root, true, &c, &d) != 0) {
        fprintf(stderr, "fuzz: cannot create a cache: %s\n", ik_diag_message(&d));
        abort();
    }
    free(root);
    return c;
}

char *fz_find_file(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while (found == NULL && (e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = ik_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        bool ok = stat(p, &st) == 0;
        if (ok && S_ISREG(st.st_mode)) {
            found = p;
            p = NULL;
        } else if (ok && S_ISDIR(st.st_mode)) {
            found = fz_find_file(p);
        }
        free(p);
    }
    closedir(dp);
    return found;
}

char *fz_cache_file(const char *area)
{
    char *dir = ik_cache_path(fz_cache(), area);
    char *p = fz_find_file(dir);
    free(dir);
    if (p == NULL) {
        fprintf(stderr, "fuzz: the writer made no file in the cache's %s/\n", area);
        abort();
    }
    return p;
}

void fz_tokenizer(const char *path, const char *text, size_t n)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_tok *t = NULL;
    if (ik_tok_load(&t, path, &d) != 0) {
        fz_diag_done(&d);
        return;
    }
    ik_tok_kind(t);
    int v = ik_tok_vocab_size(t);
    int bos = ik_tok_bos(t), eos = ik_tok_eos(t);
    ik_tok_piece(t, bos);
    ik_tok_piece(t, eos);
    ik_tok_piece(t, -1);
    ik_tok_piece(t, v);
    struct ik_buf out = IK_BUF_INIT;
    for (int special = 0; special < 2; special++) {
        int *ids = NULL;
        size_t k = 0;
        if (ik_tok_encode(t, text, n, special, &ids, &k, &d) == 0) {
            ik_tok_decode(t, ids, k, special, &out, &d);
            free(ids);
        }
        fz_diag_done(&d);
        ik_buf_reset(&out);
    }
    /* Every id of a small vocabulary (the first 512 of a big one), one by
     * one as streaming generation decodes them, and the lookups back. */
    for (int id = 0; id < v && id < 512; id++) {
        ik_tok_decode(t, &id, 1, id & 1, &out, &d);
        fz_diag_done(&d);
        const char *p = ik_tok_piece(t, id);
        if (p)
            ik_tok_find(t, p);
        ik_tok_is_special(t, id);
    }
    int bad[2] = {-1, v};
    ik_tok_decode(t, bad, 2, 0, &out, &d);
    fz_diag_done(&d);
    ik_buf_free(&out);
    ik_tok_free(t);
}

void fz_tokenizer_input(const char *name, const uint8_t *data, size_t size)
{
    static const char text[] = "Hello, world! It's 2024:\tcaf\xc3\xa9  \xc3\xa7" "a va?\n"
                               "<s></s><unk><|im_start|>user "
                               "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e e\xcc\x81 "
                               "\xf0\x9f\x98\x80  \x01";
    struct fz_part part[2];
    size_t np = fz_split(data, size, part, 2);
    char *path = fz_write_rel(name, part[0].p, part[0].n);
    if (np == 2)
        fz_tokenizer(path, (const char *)part[1].p, part[1].n);
    else
        fz_tokenizer(path, text, sizeof text - 1);
    free(path);
}

void fz_diag_done(struct ik_diag *d)
{
    const char *m = ik_diag_message(d);
    if (d->code != 0 && getenv("FZ_VERBOSE"))
        fprintf(stderr, "%s\n", m);
    ik_diag_free(d);
}
