/* lm/gguf.c - the GGUF container reader: the bounds-checked cursor, the
 * header, and the index of key/value pairs and tensor infos (gguf.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"

/* ---- the cursor ---- */

size_t ik_gguf_scalar_size(uint32_t type)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type <= IK_GGUF_F64 ? sz[type] : 0;
}

uint64_t ik_gguf_rd_uint(struct ik_gguf_rd *r, size_t n)
{
    if (r->bad || r->size - r->off < n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += n;
    return v;
}

const char *ik_gguf_rd_str(struct ik_gguf_rd *r, size_t *len)
{
    *len = (size_t)ik_gguf_rd_uint(r, 8);
    if (r->bad || r->size - r->off < *len) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += *len;
    return s;
}

/* Arrays of arrays nest at most this deep: each level is 12 bytes, so a
 * small file could otherwise recurse deep enough to overflow the stack
 * (ggml's own reader refuses any nesting). */
#define MAX_ARRAY_DEPTH 16

static void skip(struct ik_gguf_rd *r, uint32_t type, int depth)
{
    size_t l;
    if (type == IK_GGUF_STR) {
        ik_gguf_rd_str(r, &l);
    } else if (type == IK_GGUF_ARR) {
        uint32_t et = (uint32_t)ik_gguf_rd_uint(r, 4);
        uint64_t n = ik_gguf_rd_uint(r, 8);
        if (depth >= MAX_ARRAY_DEPTH)
            r->bad = 1;
        for (uint64_t i = 0; i < n && !r->bad; i++)
            skip(r, et, depth + 1);
    } else if (ik_gguf_scalar_size(type)) {
        ik_gguf_rd_uint(r, ik_gguf_scalar_size(type));
    } else {
        r->bad = 1;
    }
}

void ik_gguf_rd_skip(struct ik_gguf_rd *r, uint32_t type) { skip(r, type, 0); }

bool ik_gguf_key_is(const char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

int ik_gguf_read_header(struct ik_gguf_rd *r, const char *name, struct ik_gguf_header *h,
                        struct ik_diag *d)
{
    uint64_t magic = ik_gguf_rd_uint(r, 4);
    h->version = (uint32_t)ik_gguf_rd_uint(r, 4);
    h->n_tensors = ik_gguf_rd_uint(r, 8);
    h->n_kv = ik_gguf_rd_uint(r, 8);
    if (r->bad || magic != IK_GGUF_MAGIC || h->version < 2 || h->version > 3) {
        struct ik_srcloc loc = {name, 0, 0};
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset 0: not a GGUF v2/v3 file");
    }
    return 0;
}

const char *ik_gguf_type_name(uint32_t type)
{
    static const char *const names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return type <= IK_GGUF_F64 ? names[type] : "unknown";
}

/* ---- the index ---- */

static int corrupt(const struct ik_gguf *g, size_t off, struct ik_diag *d, const char *what)
{
    struct ik_srcloc loc = {g->name, 0, 0};
    return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset %zu: %s", off, what);
}

/* Bytes of n elements of a ggml type, or 0 when the type's size is not known
 * here or the count does not fit (*ok false then). */
static size_t type_bytes(uint32_t type, uint64_t n, uint64_t row, bool *ok)
{
    *ok = true;
    switch (type) {
    case IK_GGML_F32:
        if (n > SIZE_MAX / 4)
            break;
        return (size_t)n * 4;
    case IK_GGML_F16:
    case IK_GGML_BF16:
        if (n > SIZE_MAX / 2)
            break;
        return (size_t)n * 2;
    case IK_GGML_Q8_0: /* blocks of 32 weights: an f16 scale and 32 int8 */
        if (row % 32 != 0 || n / 32 > SIZE_MAX / 34)
            break;
        return (size_t)(n / 32) * 34;
    default:
        return 0;
    }
    *ok = false;
    return 0;
}

static int read_kvs(struct ik_gguf *g, struct ik_gguf_rd *r, uint64_t n_kv, struct ik_diag *d)
{
    size_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        struct ik_gguf_kv kv = {0};
        kv.key = ik_gguf_rd_str(r, &kv.key_len);
        kv.type = (uint32_t)ik_gguf_rd_uint(r, 4);
        kv.off = r->off;
        if (kv.type == IK_GGUF_ARR) {
            kv.elem_type = (uint32_t)ik_gguf_rd_uint(r, 4);
            kv.n = ik_gguf_rd_uint(r, 8);
            kv.elems_off = r->off;
            for (uint64_t j = 0; j < kv.n && !r->bad; j++)
                ik_gguf_rd_skip(r, kv.elem_type);
        } else {
            ik_gguf_rd_skip(r, kv.type);
        }
        if (r->bad)
            return corrupt(g, r->off, d, "truncated or malformed metadata");
        g->kv = ik_xgrow(g->kv, &cap, g->n_kv + 1, sizeof *g->kv);
        g->kv[g->n_kv++] = kv;
    }
    return 0;
}

static int read_alignment(struct ik_gguf *g, struct ik_diag *d)
{
    g->alignment = IK_GGUF_ALIGNMENT;
    const struct ik_gguf_kv *kv = ik_gguf_find(g, "general.alignment");
    if (kv == NULL)
        return 0;
    struct ik_gguf_rd r = {g->data, kv->off, g->size, 0};
    uint64_t a = kv->type == IK_GGUF_U32 ? ik_gguf_rd_uint(&r, 4) : 0;
    if (a == 0 || (a & (a - 1)) != 0)
        return corrupt(g, kv->off, d, "general.alignment must be a u32 power of two");
    g->alignment = (uint32_t)a;
    return 0;
}

static int read_tensors(struct ik_gguf *g, struct ik_gguf_rd *r, uint64_t n_tensors,
                        struct ik_diag *d)
{
    size_t cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct ik_gguf_tensor t = {0};
        size_t at = r->off;
        t.name = ik_gguf_rd_str(r, &t.name_len);
        t.n_dims = (uint32_t)ik_gguf_rd_uint(r, 4);
        if (!r->bad && t.n_dims > IK_GGUF_MAX_DIMS)
            return corrupt(g, at, d, "a tensor info with more than 4 dimensions");
        for (uint32_t k = 0; k < IK_GGUF_MAX_DIMS; k++)
            t.dims[k] = k < t.n_dims ? ik_gguf_rd_uint(r, 8) : 1;
        t.type = (uint32_t)ik_gguf_rd_uint(r, 4);
        t.offset = ik_gguf_rd_uint(r, 8);
        if (r->bad)
            return corrupt(g, r->off, d, "truncated tensor info");
        g->tensors = ik_xgrow(g->tensors, &cap, g->n_tensors + 1, sizeof *g->tensors);
        g->tensors[g->n_tensors++] = t;
    }
    return 0;
}

/* Places each tensor's data in the data section and checks it lies inside. */
static int place_tensors(struct ik_gguf *g, size_t infos_end, struct ik_diag *d)
{
    size_t a = g->alignment;
    g->data_off = infos_end + (a - infos_end % a) % a;
    for (size_t i = 0; i < g->n_tensors; i++) {
        struct ik_gguf_tensor *t = &g->tensors[i];
        uint64_t n = 1;
        bool fits = true;
        for (uint32_t k = 0; k < t->n_dims; k++) {
            if (t->dims[k] != 0 && n > UINT64_MAX / t->dims[k])
                fits = false;
            n *= t->dims[k];
        }
        bool ok;
        t->nbytes = type_bytes(t->type, n, t->dims[0], &ok);
        struct ik_srcloc loc = {g->name, 0, 0};
        if (!fits || !ok)
            return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "tensor '%.*s': its dimensions do not "
                              "suit ggml type %" PRIu32 " (too many elements, or rows not in whole "
                              "blocks)", (int)t->name_len, t->name, t->type);
        if (t->offset % a != 0)
            return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "tensor '%.*s': data offset %" PRIu64
                              " is not a multiple of the alignment %zu", (int)t->name_len, t->name,
                              t->offset, a);
        if (g->data_off > g->size || t->offset > g->size - g->data_off ||
            t->nbytes > g->size - g->data_off - t->offset)
            return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "tensor '%.*s': %zu bytes at offset %"
                              PRIu64 " of the data section (which starts at %zu) run past the "
                              "file's %zu bytes", (int)t->name_len, t->name, t->nbytes, t->offset,
                              g->data_off, g->size);
        t->data = g->data + g->data_off + t->offset;
    }
    return 0;
}

int ik_gguf_open(struct ik_gguf *g, const void *data, size_t size, const char *name,
                 struct ik_diag *d)
{
    memset(g, 0, sizeof *g);
    g->data = data;
    g->size = size;
    g->name = name;
    struct ik_gguf_rd r = {g->data, 0, size, 0};
    struct ik_gguf_header h;
    int rc = ik_gguf_read_header(&r, name, &h, d);
    if (rc == 0) {
        g->version = h.version;
        rc = read_kvs(g, &r, h.n_kv, d);
    }
    if (rc == 0)
        rc = read_alignment(g, d);
    if (rc == 0)
        rc = read_tensors(g, &r, h.n_tensors, d);
    if (rc == 0)
        rc = place_tensors(g, r.off, d);
    if (rc != 0)
        ik_gguf_close(g);
    return rc;
}

void ik_gguf_close(struct ik_gguf *g)
{
    free(g->kv);
    free(g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
    g->n_kv = g->n_tensors = 0;
}

const struct ik_gguf_kv *ik_gguf_find(const struct ik_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (ik_gguf_key_is(g->kv[i].key, g->kv[i].key_len, key))
            return &g->kv[i];
    return NULL;
}

const struct ik_gguf_tensor *ik_gguf_find_tensor(const struct ik_gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_tensors; i++)
        if (ik_gguf_key_is(g->tensors[i].name, g->tensors[i].name_len, name))
            return &g->tensors[i];
    return NULL;
}

/* ---- typed getters ---- */

int ik_gguf_invalid(const struct ik_gguf *g, struct ik_diag *d, const char *fmt, ...)
{
    struct ik_buf msg = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    struct ik_srcloc loc = {g->name, 0, 0};
    int rc = ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "%s", msg.data);
    ik_buf_free(&msg);
    return rc;
}

/* The pair called key, of one of the types in the bit set `types` (1 << type),
 * with r at its value: IK_ENOTFOUND if absent, IK_EVALIDATE naming `want` if
 * of another type. */
static int lookup(const struct ik_gguf *g, const char *key, unsigned types, const char *want,
                  const struct ik_gguf_kv **kv, struct ik_gguf_rd *r, struct ik_diag *d)
{
    *kv = ik_gguf_find(g, key);
    *r = (struct ik_gguf_rd){g->data, *kv ? (*kv)->off : 0, g->size, 0};
    if (*kv == NULL) {
        struct ik_srcloc loc = {g->name, 0, 0};
        return ik_diag_at(d, IK_ENOTFOUND, &loc, NULL, 0, "key '%s' is missing", key);
    }
    if ((*kv)->type >= 32 || !(types >> (*kv)->type & 1))
        return ik_gguf_invalid(g, d, "key '%s' has type %s, expected %s", key,
                       ik_gguf_type_name((*kv)->type), want);
    return 0;
}

#define BIT(t) (1u << (t))
#define SIGNED (BIT(IK_GGUF_I8) | BIT(IK_GGUF_I16) | BIT(IK_GGUF_I32) | BIT(IK_GGUF_I64))
#define INTEGER (SIGNED | BIT(IK_GGUF_U8) | BIT(IK_GGUF_U16) | BIT(IK_GGUF_U32) | BIT(IK_GGUF_U64))

/* An integer value of any integer type, the signed ones sign-extended. */
static int get_integer(const struct ik_gguf *g, const char *key, const struct ik_gguf_kv **kv,
                       uint64_t *v, struct ik_diag *d)
{
    struct ik_gguf_rd r;
    int rc = lookup(g, key, INTEGER, "an integer", kv, &r, d);
    if (rc != 0)
        return rc;
    size_t n = ik_gguf_scalar_size((*kv)->type);
    *v = ik_gguf_rd_uint(&r, n);
    if ((SIGNED & BIT((*kv)->type)) && n < 8 && (*v >> (8 * n - 1) & 1))
        *v |= ~UINT64_C(0) << (8 * n);
    return 0;
}

int ik_gguf_get_uint(const struct ik_gguf *g, const char *key, uint64_t *v, struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    uint64_t x;
    int rc = get_integer(g, key, &kv, &x, d);
    if (rc != 0)
        return rc;
    if ((SIGNED & BIT(kv->type)) && (int64_t)x < 0)
        return ik_gguf_invalid(g, d, "key '%s' is %" PRId64 ", expected a non-negative integer", key,
                       (int64_t)x);
    *v = x;
    return 0;
}

int ik_gguf_get_int(const struct ik_gguf *g, const char *key, int64_t *v, struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    uint64_t x;
    int rc = get_integer(g, key, &kv, &x, d);
    if (rc != 0)
        return rc;
    if (kv->type == IK_GGUF_U64 && x > (uint64_t)INT64_MAX)
        return ik_gguf_invalid(g, d, "key '%s' is %" PRIu64 ", beyond a signed 64-bit integer", key, x);
    *v = (int64_t)x;
    return 0;
}

int ik_gguf_get_f32(const struct ik_gguf *g, const char *key, float *v, struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    struct ik_gguf_rd r;
    int rc = lookup(g, key, BIT(IK_GGUF_F32), "f32", &kv, &r, d);
    if (rc != 0)
        return rc;
    uint32_t bits = (uint32_t)ik_gguf_rd_uint(&r, 4);
    memcpy(v, &bits, 4);
    return 0;
}

int ik_gguf_get_bool(const struct ik_gguf *g, const char *key, bool *v, struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    struct ik_gguf_rd r;
    int rc = lookup(g, key, BIT(IK_GGUF_BOOL), "bool", &kv, &r, d);
    if (rc != 0)
        return rc;
    *v = ik_gguf_rd_uint(&r, 1) != 0;
    return 0;
}

int ik_gguf_get_str(const struct ik_gguf *g, const char *key, const char **s, size_t *len,
                    struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    struct ik_gguf_rd r;
    int rc = lookup(g, key, BIT(IK_GGUF_STR), "string", &kv, &r, d);
    if (rc != 0)
        return rc;
    *s = ik_gguf_rd_str(&r, len);
    return 0;
}

int ik_gguf_get_arr(const struct ik_gguf *g, const char *key, uint32_t elem_type,
                    struct ik_gguf_rd *elems, uint64_t *n, struct ik_diag *d)
{
    const struct ik_gguf_kv *kv;
    int rc = lookup(g, key, BIT(IK_GGUF_ARR), "array", &kv, elems, d);
    if (rc != 0)
        return rc;
    if (kv->elem_type != elem_type)
        return ik_gguf_invalid(g, d, "key '%s' is an array of %s, expected an array of %s", key,
                       ik_gguf_type_name(kv->elem_type), ik_gguf_type_name(elem_type));
    elems->off = kv->elems_off;
    *n = kv->n;
    return 0;
}
