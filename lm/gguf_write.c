/* lm/gguf_write.c - the GGUF v3 writer (gguf_write.h): metadata serialised as
 * it is added, tensor infos and data laid out at write time, the file
 * streamed through a temporary file in the target folder.
 *
 * ggml's reader (ggml/src/gguf.cpp) is the strictest consumer: each tensor's
 * offset must equal the padded end of the one before, the data section must
 * hold every tensor padded to the alignment (the last one too), names are
 * unique and shorter than GGML_MAX_NAME (64), and a row holds whole blocks. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/safetensors.h" /* ik_f32_to_f16, ik_f32_to_bf16 */

#define GGML_MAX_NAME 64

struct wtensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t dims[IK_GGUF_MAX_DIMS];
    const float *src; /* borrowed, or NULL when fill makes the values */
    ik_gguf_fill_fn *fill;
    void *ctx;        /* borrowed */
    const void *raw;  /* borrowed: encoded bytes (ik_gguf_w_tensor_bytes), or NULL */
    size_t raw_n;
};

struct ik_gguf_writer {
    uint32_t alignment;
    struct ik_buf kvs; /* the serialised key/value pairs, in order */
    uint64_t n_kv;
    char **keys;       /* for the duplicate check */
    size_t keys_cap;
    struct wtensor *t;
    size_t n_t, t_cap;
};

/* ---- serialising ---- */

static void put_uint(struct ik_buf *b, uint64_t v, size_t n)
{
    unsigned char le[8];
    for (size_t i = 0; i < n; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    ik_buf_append(b, le, n);
}

static void put_str(struct ik_buf *b, const char *s, size_t len)
{
    put_uint(b, len, 8);
    ik_buf_append(b, s, len);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Starts the pair `key` of type `type`: records the key, writes its header. */
static struct ik_buf *begin(struct ik_gguf_writer *w, const char *key, uint32_t type)
{
    for (uint64_t i = 0; i < w->n_kv; i++)
        IK_ASSERT(strcmp(w->keys[i], key) != 0); /* a key added twice */
    w->keys = ik_xgrow(w->keys, &w->keys_cap, (size_t)w->n_kv + 1, sizeof *w->keys);
    w->keys[w->n_kv++] = ik_xstrdup(key);
    put_str(&w->kvs, key, strlen(key));
    put_uint(&w->kvs, type, 4);
    return &w->kvs;
}

struct ik_gguf_writer *ik_gguf_writer_new(uint32_t alignment)
{
    IK_ASSERT(alignment != 0 && (alignment & (alignment - 1)) == 0);
    struct ik_gguf_writer *w = ik_xcalloc(1, sizeof *w);
    w->alignment = alignment;
    if (alignment != IK_GGUF_ALIGNMENT)
        ik_gguf_w_u32(w, "general.alignment", alignment);
    return w;
}

void ik_gguf_writer_free(struct ik_gguf_writer *w)
{
    if (w == NULL)
        return;
    for (uint64_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    ik_buf_free(&w->kvs);
    free(w);
}

void ik_gguf_w_u32(struct ik_gguf_writer *w, const char *key, uint32_t v)
{
    put_uint(begin(w, key, IK_GGUF_U32), v, 4);
}

void ik_gguf_w_i32(struct ik_gguf_writer *w, const char *key, int32_t v)
{
    put_uint(begin(w, key, IK_GGUF_I32), (uint32_t)v, 4);
}

void ik_gguf_w_u64(struct ik_gguf_writer *w, const char *key, uint64_t v)
{
    put_uint(begin(w, key, IK_GGUF_U64), v, 8);
}

void ik_gguf_w_f32(struct ik_gguf_writer *w, const char *key, float v)
{
    put_uint(begin(w, key, IK_GGUF_F32), f32_bits(v), 4);
}

void ik_gguf_w_bool(struct ik_gguf_writer *w, const char *key, bool v)
{
    put_uint(begin(w, key, IK_GGUF_BOOL), v ? 1 : 0, 1);
}

void ik_gguf_w_str(struct ik_gguf_writer *w, const char *key, const char *s)
{
    ik_gguf_w_strn(w, key, s, strlen(s));
}

void ik_gguf_w_strn(struct ik_gguf_writer *w, const char *key, const char *s, size_t len)
{
    put_str(begin(w, key, IK_GGUF_STR), s, len);
}

static struct ik_buf *begin_arr(struct ik_gguf_writer *w, const char *key, uint32_t et, size_t n)
{
    struct ik_buf *b = begin(w, key, IK_GGUF_ARR);
    put_uint(b, et, 4);
    put_uint(b, n, 8);
    return b;
}

void ik_gguf_w_arr_i32(struct ik_gguf_writer *w, const char *key, const int32_t *v, size_t n)
{
    struct ik_buf *b = begin_arr(w, key, IK_GGUF_I32, n);
    for (size_t i = 0; i < n; i++)
        put_uint(b, (uint32_t)v[i], 4);
}

void ik_gguf_w_arr_f32(struct ik_gguf_writer *w, const char *key, const float *v, size_t n)
{
    struct ik_buf *b = begin_arr(w, key, IK_GGUF_F32, n);
    for (size_t i = 0; i < n; i++)
        put_uint(b, f32_bits(v[i]), 4);
}

void ik_gguf_w_arr_str(struct ik_gguf_writer *w, const char *key, const char *const *s,
                       const size_t *len, size_t n)
{
    struct ik_buf *b = begin_arr(w, key, IK_GGUF_STR, n);
    for (size_t i = 0; i < n; i++)
        put_str(b, s[i], len ? len[i] : strlen(s[i]));
}

void ik_gguf_w_tensor(struct ik_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const uint64_t *dims, const float *src)
{
    w->t = ik_xgrow(w->t, &w->t_cap, w->n_t + 1, sizeof *w->t);
    struct wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = ik_xstrdup(name);
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t k = 0; k < IK_GGUF_MAX_DIMS; k++)
        t->dims[k] = k < n_dims ? dims[k] : 1;
    t->src = src;
}

void ik_gguf_w_tensor_fn(struct ik_gguf_writer *w, const char *name, uint32_t type,
                         uint32_t n_dims, const uint64_t *dims, ik_gguf_fill_fn *fill, void *ctx)
{
    ik_gguf_w_tensor(w, name, type, n_dims, dims, NULL);
    w->t[w->n_t - 1].fill = fill;
    w->t[w->n_t - 1].ctx = ctx;
}

void ik_gguf_w_tensor_bytes(struct ik_gguf_writer *w, const char *name, uint32_t type,
                            uint32_t n_dims, const uint64_t *dims, const void *bytes,
                            size_t nbytes)
{
    ik_gguf_w_tensor(w, name, type, n_dims, dims, NULL);
    w->t[w->n_t - 1].raw = bytes;
    w->t[w->n_t - 1].raw_n = nbytes;
}

/* ---- layout ---- */

static uint64_t n_elems(const struct wtensor *t)
{
    uint64_t n = 1;
    for (uint32_t k = 0; k < t->n_dims; k++)
        n *= t->dims[k];
    return n;
}

static size_t elem_size(uint32_t type) { return type == IK_GGML_F32 ? 4 : 2; }

/* The bytes of t's data, before padding. */
static uint64_t data_bytes(const struct wtensor *t)
{
    return t->raw ? t->raw_n : n_elems(t) * elem_size(t->type);
}

static uint64_t pad_to(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

/* Checks what ggml's reader would refuse before any byte is written. */
static int check_tensors(const struct ik_gguf_writer *w, const char *path, struct ik_diag *d)
{
    for (size_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        const char *why = NULL;
        if (t->raw == NULL && t->type != IK_GGML_F32 && t->type != IK_GGML_F16 &&
            t->type != IK_GGML_BF16)
            why = "its type is not F32, F16 or BF16";
        else if (strlen(t->name) >= GGML_MAX_NAME)
            why = "its name has 64 bytes or more (ggml's GGML_MAX_NAME)";
        else if (t->n_dims < 1 || t->n_dims > IK_GGUF_MAX_DIMS)
            why = "it has not 1 to 4 dims";
        for (size_t j = 0; why == NULL && j < i; j++)
            if (strcmp(w->t[j].name, t->name) == 0)
                why = "another tensor has the same name";
        if (why != NULL)
            return ik_diag_set(d, IK_EVALIDATE, "cannot write %s: tensor '%s' (ggml type %" PRIu32
                               "): %s", ik_display_path(path), t->name, t->type, why);
    }
    return 0;
}

/* The header, metadata, tensor infos and the padding before the data. */
static void build_head(const struct ik_gguf_writer *w, struct ik_buf *b)
{
    put_uint(b, IK_GGUF_MAGIC, 4);
    put_uint(b, 3, 4);
    put_uint(b, w->n_t, 8);
    put_uint(b, w->n_kv, 8);
    ik_buf_append(b, w->kvs.data, w->kvs.len);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        put_str(b, t->name, strlen(t->name));
        put_uint(b, t->n_dims, 4);
        for (uint32_t k = 0; k < t->n_dims; k++)
            put_uint(b, t->dims[k], 8);
        put_uint(b, t->type, 4);
        put_uint(b, off, 8);
        off += pad_to(data_bytes(t), w->alignment);
    }
    while (b->len % w->alignment)
        ik_buf_putc(b, 0);
}

/* ---- streaming ---- */

#define CHUNK_ELEMS 65536 /* elements converted per write: 256 KiB of fp32 */

/* Converts and writes one tensor's data, then its padding. buf holds
 * CHUNK_ELEMS fp32 values, vals as many for a fill function. */
static int write_tensor(int fd, const struct wtensor *t, uint32_t alignment, unsigned char *buf,
                        float *vals)
{
    uint64_t n = n_elems(t), es = elem_size(t->type), nb = data_bytes(t);
    if (t->raw) {
        int rc = ik__write_all(fd, t->raw, t->raw_n);
        n = 0; /* no conversion: only the padding is left */
        if (rc != 0)
            return rc;
    }
    for (uint64_t i = 0; i < n; i += CHUNK_ELEMS) {
        size_t m = (size_t)(n - i < CHUNK_ELEMS ? n - i : CHUNK_ELEMS);
        const float *s = t->src ? t->src + i : vals;
        if (t->src == NULL)
            t->fill(t->ctx, i, m, vals);
        for (size_t j = 0; j < m; j++) {
            uint32_t v = t->type == IK_GGML_F32   ? f32_bits(s[j])
                         : t->type == IK_GGML_F16 ? ik_f32_to_f16(s[j])
                                                  : ik_f32_to_bf16(s[j]);
            for (size_t k = 0; k < es; k++)
                buf[j * es + k] = (unsigned char)(v >> (8 * k));
        }
        int rc = ik__write_all(fd, buf, m * es);
        if (rc != 0)
            return rc;
    }
    size_t pad = (size_t)(pad_to(nb, alignment) - nb);
    memset(buf, 0, pad);
    return pad ? ik__write_all(fd, buf, pad) : 0;
}

/* The folder of path ("." when it has none), for the temporary file. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return ik_xstrdup(".");
    if (slash == path)
        return ik_xstrdup("/");
    return ik_xstrndup(path, (size_t)(slash - path));
}

int ik_gguf_writer_write(struct ik_gguf_writer *w, const char *path, struct ik_diag *d)
{
    int rc = check_tensors(w, path, d);
    if (rc != 0)
        return rc;
    char *dir = folder_of(path), *tmp = NULL;
    /* ik_tmp_create would recreate a missing folder; a GGUF goes only where asked */
    struct stat st;
    int e = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (e != 0) {
        rc = ik_diag_set(d, -e, "cannot write %s: folder %s: %s", ik_display_path(path),
                         ik_display_path(dir), strerror(e));
        free(dir);
        return rc;
    }
    int fd = ik_tmp_create(dir, path, &tmp, d);
    free(dir);
    if (fd < 0)
        return fd;
    struct ik_buf head = IK_BUF_INIT;
    build_head(w, &head);
    rc = ik__write_all(fd, head.data, head.len);
    ik_buf_free(&head);
    size_t buf_size = CHUNK_ELEMS * 4 > w->alignment ? CHUNK_ELEMS * 4 : w->alignment;
    unsigned char *buf = ik_xmalloc(buf_size);
    float *vals = ik_xmalloc(CHUNK_ELEMS * sizeof *vals);
    for (size_t i = 0; rc == 0 && i < w->n_t; i++)
        rc = write_tensor(fd, &w->t[i], w->alignment, buf, vals);
    free(vals);
    free(buf);
    if (rc != 0) {
        ik_tmp_abort(fd, tmp);
        free(tmp);
        return ik_diag_set(d, rc, "cannot write %s: %s", ik_display_path(path), strerror(-rc));
    }
    rc = ik_tmp_commit(fd, tmp, path, 0644, d);
    free(tmp);
    return rc;
}
