/* lm/safetensors.c - safetensors reader (mmap, single file or sharded
 * folder) and writer; see safetensors.h for the format and the checks. The
 * header is parsed with jansson; tensor data is never copied until a caller
 * asks for it as fp32. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/file.h"
#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "lm/safetensors.h"

#define MAX_HEADER_BYTES 100000000u /* the reference reader's MAX_HEADER_SIZE */

struct st_file {
    char *path;
    void *map;
    size_t size;
};

struct ik_st {
    struct st_file *files;
    size_t n_files;
    struct ik_st_tensor *t;
    size_t n, cap;
    char *where; /* the path given to ik_st_open, for messages */
};

static int at(struct ik_diag *d, int code, const char *file, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "<file>: error: offset N: <message>" (the binary-format form of the style guide). */
static int at(struct ik_diag *d, int code, const char *file, size_t offset, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    struct ik_srcloc loc = {file, 0, 0};
    ik_diag_at(d, code, &loc, NULL, 0, "offset %zu: %s", offset, b.data ? b.data : "");
    ik_buf_free(&b);
    return code;
}

/* Element size of dtype s (0 if unknown); sets *dtype and *name (static). */
static size_t dtype_size(const char *s, int *dtype, const char **name)
{
    static const struct { const char *name; size_t bits; int dt; } tab[] = {
        {"F32", 32, IK_ST_F32},    {"F16", 16, IK_ST_F16},    {"BF16", 16, IK_ST_BF16},
        {"F64", 64, IK_ST_OTHER},  {"I64", 64, IK_ST_OTHER},  {"U64", 64, IK_ST_OTHER},
        {"I32", 32, IK_ST_OTHER},  {"U32", 32, IK_ST_OTHER},  {"I16", 16, IK_ST_OTHER},
        {"U16", 16, IK_ST_OTHER},  {"I8", 8, IK_ST_OTHER},    {"U8", 8, IK_ST_OTHER},
        {"BOOL", 8, IK_ST_OTHER},  {"F8_E5M2", 8, IK_ST_OTHER}, {"F8_E4M3", 8, IK_ST_OTHER},
        {"C64", 64, IK_ST_OTHER},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) {
            *dtype = tab[i].dt;
            *name = tab[i].name;
            return tab[i].bits / 8;
        }
    return 0;
}

/* Appends "d0, d1, ..." of a shape. */
static void put_shape(struct ik_buf *b, const int64_t *shape, int ndim)
{
    for (int i = 0; i < ndim; i++)
        ik_buf_printf(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
}

static int cmp_offset(const void *a, const void *b)
{
    const struct ik_st_tensor *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b)
{
    const struct ik_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Maps one file and appends its tensors. */
static int add_file(struct ik_st *st, const char *path, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = -errno;
        close(fd);
        return ik_diag_set(d, e, "cannot stat '%s': %s", path, strerror(-e));
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = -errno;
            close(fd);
            return ik_diag_set(d, e, "cannot map '%s': %s", path, strerror(-e));
        }
    }
    close(fd);
    st->files = ik_xrealloc(st->files, (st->n_files + 1) * sizeof *st->files);
    struct st_file *f = &st->files[st->n_files++];
    f->path = ik_xstrdup(path);
    f->map = map;
    f->size = size;
    path = f->path;

    if (size < 8)
        return at(d, IK_ECORRUPT, path, 0, "file is %zu bytes, too short for the 8-byte header length", size);
    const unsigned char *p = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | p[i];
    if (hlen > MAX_HEADER_BYTES || hlen > size - 8)
        return at(d, IK_ECORRUPT, path, 0, "header length %llu exceeds the file size (%zu bytes)",
                  (unsigned long long)hlen, size);
    if (hlen == 0 || p[8] != '{')
        return at(d, IK_EPARSE, path, 8, "header does not start with '{'");
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return at(d, IK_EPARSE, path, 8 + (size_t)(root ? 0 : jerr.position),
                  "bad JSON header: %s", root ? "not an object" : jerr.text);
    }
    size_t data_start = 8 + (size_t)hlen, buf_size = size - data_start;
    size_t first = st->n;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        json_t *jdt = json_object_get(val, "dtype"), *jsh = json_object_get(val, "shape");
        json_t *jof = json_object_get(val, "data_offsets");
        if (!json_is_string(jdt) || !json_is_array(jsh) || !json_is_array(jof) ||
            json_array_size(jof) != 2 || !json_is_integer(json_array_get(jof, 0)) ||
            !json_is_integer(json_array_get(jof, 1)) || json_array_size(jsh) > IK_ST_MAX_DIMS) {
            rc = at(d, IK_EPARSE, path, 8, "tensor '%s': expected {\"dtype\", \"shape\" (at most %d dims), "
                    "\"data_offsets\": [begin, end]}", key, IK_ST_MAX_DIMS);
            goto out;
        }
        st->t = ik_xgrow(st->t, &st->cap, st->n + 1, sizeof *st->t);
        struct ik_st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        t->name = key; /* replaced by a copy below, once the tensor is kept */
        t->file = path;
        size_t esz = dtype_size(json_string_value(jdt), &t->dtype, &t->dtype_name);
        if (esz == 0) {
            rc = at(d, IK_EPARSE, path, 8, "tensor '%s': unknown dtype '%s'", key, json_string_value(jdt));
            goto out;
        }
        uint64_t count = 1;
        int wraps = 0;
        t->ndim = (int)json_array_size(jsh);
        for (int i = 0; i < t->ndim; i++) {
            json_t *dim = json_array_get(jsh, (size_t)i);
            if (!json_is_integer(dim) || json_integer_value(dim) < 0 ||
                json_integer_value(dim) > (json_int_t)1 << 40) {
                rc = at(d, IK_EPARSE, path, 8, "tensor '%s': shape[%d] is not a size", key, i);
                goto out;
            }
            t->shape[i] = json_integer_value(dim);
            /* Dims of up to 2^40 each: their product, and the bytes, can wrap
             * (a [2^32, 2^32] F32 tensor would "need" 0 bytes). */
            if (t->shape[i] != 0 && count > UINT64_MAX / (uint64_t)t->shape[i])
                wraps = 1;
            count *= (uint64_t)t->shape[i];
        }
        if (wraps || count > SIZE_MAX / esz) {
            struct ik_buf sh = IK_BUF_INIT;
            put_shape(&sh, t->shape, t->ndim);
            rc = at(d, IK_ECORRUPT, path, 8, "tensor '%s': shape [%s] of %s has more elements or "
                    "bytes than fit in 64 bits", key, sh.data ? sh.data : "", t->dtype_name);
            ik_buf_free(&sh);
            goto out;
        }
        json_int_t b = json_integer_value(json_array_get(jof, 0));
        json_int_t e = json_integer_value(json_array_get(jof, 1));
        if (b < 0 || e < b) {
            rc = at(d, IK_ECORRUPT, path, 8, "tensor '%s': bad data_offsets [%lld, %lld]", key,
                    (long long)b, (long long)e);
            goto out;
        }
        if ((uint64_t)(e - b) != count * esz) {
            rc = at(d, IK_ECORRUPT, path, data_start + (size_t)b,
                    "tensor '%s': data_offsets span %lld bytes but shape and dtype need %llu", key,
                    (long long)(e - b), (unsigned long long)(count * esz));
            goto out;
        }
        if ((uint64_t)e > buf_size) {
            rc = at(d, IK_ECORRUPT, path, data_start + (size_t)b,
                    "tensor '%s': truncated file: data ends at byte %llu but the file has %zu bytes",
                    key, (unsigned long long)(data_start + (uint64_t)e), size);
            goto out;
        }
        t->offset = data_start + (size_t)b;
        t->nbytes = (size_t)(e - b);
        t->data = p + t->offset;
        t->name = ik_xstrdup(key);
        st->n++;
    }
    /* Offsets must tile the buffer exactly, as the reference reader demands.
     * (qsort only with tensors: st->t is NULL until the first, and qsort's
     * base must not be.) */
    if (st->n > first)
        qsort(st->t + first, st->n - first, sizeof *st->t, cmp_offset);
    size_t expect = data_start;
    for (size_t i = first; i < st->n; i++) {
        if (st->t[i].offset != expect) {
            rc = at(d, IK_ECORRUPT, path, st->t[i].offset, "tensor '%s' starts at byte %zu, expected %zu "
                    "(overlapping or non-contiguous data_offsets)", st->t[i].name, st->t[i].offset, expect);
            goto out;
        }
        expect += st->t[i].nbytes;
    }
    if (expect != size) {
        rc = at(d, IK_ECORRUPT, path, expect, "%zu bytes follow the last tensor's data (the reference "
                "reader refuses an incompletely described buffer)", size - expect);
        goto out;
    }
out:
    json_decref(root);
    return rc;
}

static char *join(const char *dir, const char *name)
{
    return ik_xasprintf("%s/%s", dir, name);
}

/* Reads the shard list of model.safetensors.index.json (file names, deduplicated). */
static int open_index(struct ik_st *st, const char *dir, const char *index, struct ik_diag *d)
{
    json_error_t jerr;
    json_t *root = json_load_file(index, 0, &jerr);
    if (root == NULL) {
        struct ik_srcloc loc = {index, jerr.line, jerr.column};
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "%s", jerr.text);
    }
    json_t *map = json_object_get(root, "weight_map");
    int rc = 0;
    if (!json_is_object(map)) {
        struct ik_srcloc loc = {index, 0, 0};
        rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "expected an object \"weight_map\": {tensor: file}");
        goto out;
    }
    const char **seen = NULL;
    size_t n_seen = 0;
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        const char *fname = json_string_value(val);
        if (fname == NULL || strchr(fname, '/') != NULL) {
            struct ik_srcloc loc = {index, 0, 0};
            rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "weight_map[\"%s\"]: expected a file name", key);
            break;
        }
        size_t i = 0;
        while (i < n_seen && strcmp(seen[i], fname) != 0)
            i++;
        if (i < n_seen)
            continue;
        seen = ik_xrealloc(seen, (n_seen + 1) * sizeof *seen);
        seen[n_seen++] = fname;
        char *path = join(dir, fname);
        rc = add_file(st, path, d);
        free(path);
        if (rc != 0)
            break;
    }
    /* Every tensor the index names must be in the shard it names. */
    if (rc == 0) {
        if (st->n > 0) /* an empty weight_map names no shard */
            qsort(st->t, st->n, sizeof *st->t, cmp_name);
        json_object_foreach(map, key, val) {
            const struct ik_st_tensor *t = ik_st_find(st, key);
            if (t == NULL) {
                struct ik_srcloc loc = {index, 0, 0};
                rc = ik_diag_at(d, IK_ENOTFOUND, &loc, NULL, 0, "tensor '%s' is listed for '%s' but "
                                "is not in it", key, json_string_value(val));
                break;
            }
        }
    }
    free(seen);
out:
    json_decref(root);
    return rc;
}

int ik_st_open(struct ik_st **out, const char *path, struct ik_diag *d)
{
    struct ik_st *st = ik_xcalloc(1, sizeof *st);
    st->where = ik_xstrdup(path);
    struct stat sb;
    int rc;
    if (stat(path, &sb) != 0) {
        rc = ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        char *single = join(path, "model.safetensors");
        char *index = join(path, "model.safetensors.index.json");
        if (access(index, F_OK) == 0)
            rc = open_index(st, path, index, d);
        else if (access(single, F_OK) == 0)
            rc = add_file(st, single, d);
        else {
            rc = ik_diag_set(d, IK_ENOTFOUND, "'%s' holds neither model.safetensors nor "
                             "model.safetensors.index.json", path);
        }
        free(single);
        free(index);
    } else {
        rc = add_file(st, path, d);
    }
    if (rc == 0) {
        if (st->n > 0)
            qsort(st->t, st->n, sizeof *st->t, cmp_name);
        for (size_t i = 1; i < st->n; i++)
            if (strcmp(st->t[i - 1].name, st->t[i].name) == 0) {
                rc = ik_diag_set(d, IK_ECORRUPT, "tensor '%s' is in both '%s' and '%s'", st->t[i].name,
                                 st->t[i - 1].file, st->t[i].file);
                break;
            }
    }
    if (rc != 0) {
        ik_st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void ik_st_close(struct ik_st *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        free((char *)st->t[i].name);
    for (size_t i = 0; i < st->n_files; i++) {
        if (st->files[i].map)
            munmap(st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->t);
    free(st->where);
    free(st);
}

size_t ik_st_count(const struct ik_st *st) { return st->n; }

const struct ik_st_tensor *ik_st_at(const struct ik_st *st, size_t i) { return &st->t[i]; }

const struct ik_st_tensor *ik_st_find(const struct ik_st *st, const char *name)
{
    struct ik_st_tensor key = {.name = name};
    return st->n ? bsearch(&key, st->t, st->n, sizeof *st->t, cmp_name) : NULL; /* t may be NULL */
}

float ik_f16_to_f32(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 1024), exp - 25);
    return sign ? -v : v;
}

float ik_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ik_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if (isnan(f))
        return (uint16_t)(u >> 16 | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

uint16_t ik_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
    float a = fabsf(f);
    if (isnan(f))
        return sign | 0x7e00;
    if (a >= 65520.0f)
        return sign | 0x7c00;
    if (a < ldexpf(1, -14)) { /* subnormal: units of 2^-24, rounded to even by rintf */
        return sign | (uint16_t)rintf(a * ldexpf(1, 24));
    }
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    uint32_t mant = (uint32_t)rintf(m * 2048.0f); /* 11 significant bits */
    if (mant == 2048) {
        mant = 1024;
        e++;
    }
    return sign | (uint16_t)((e + 14) << 10) | (uint16_t)(mant & 1023);
}

int ik_st_expect(const struct ik_st *st, const char *name, int ndim, const int64_t *shape,
                 const struct ik_st_tensor **out, struct ik_diag *d)
{
    const struct ik_st_tensor *t = ik_st_find(st, name);
    if (t == NULL) {
        const char **names = ik_xmalloc((st->n + 1) * sizeof *names);
        for (size_t i = 0; i < st->n; i++)
            names[i] = st->t[i].name;
        names[st->n] = NULL;
        const char *near = ik_spellcheck(name, names);
        ik_diag_set(d, IK_ENOTFOUND, "tensor '%s' not found in '%s'", name, st->where);
        if (near)
            ik_diag_hint(d, "did you mean '%s'?", near);
        free(names);
        return IK_ENOTFOUND;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        struct ik_buf got = IK_BUF_INIT, want = IK_BUF_INIT;
        put_shape(&got, t->shape, t->ndim);
        put_shape(&want, shape, ndim);
        at(d, IK_EVALIDATE, t->file, t->offset, "tensor '%s' has shape [%s], expected [%s]", name,
           got.data ? got.data : "", want.data ? want.data : "");
        ik_buf_free(&got);
        ik_buf_free(&want);
        return IK_EVALIDATE;
    }
    if (t->dtype != IK_ST_F32 && t->dtype != IK_ST_F16 && t->dtype != IK_ST_BF16)
        return at(d, IK_EVALIDATE, t->file, t->offset, "tensor '%s' has dtype %s; expected F32, F16 or BF16",
                  name, t->dtype_name);
    *out = t;
    return 0;
}

/* Bytes per element of dtype (F32, F16 or BF16). */
static size_t wsize(int dtype) { return dtype == IK_ST_F32 ? 4 : 2; }

/* Element i of t, a 16-bit one assembled from its little-endian bytes. */
static uint16_t half_at(const unsigned char *p, size_t i)
{
    return (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
}

int ik_st_read_f32(const struct ik_st *st, const char *name, float *dst, int ndim,
                   const int64_t *shape, struct ik_diag *d)
{
    const struct ik_st_tensor *t;
    int rc = ik_st_expect(st, name, ndim, shape, &t, d);
    if (rc != 0)
        return rc;
    size_t count = t->nbytes / wsize(t->dtype);
    const unsigned char *p = t->data;
    if (t->dtype == IK_ST_F32)
        memcpy(dst, p, t->nbytes);
    for (size_t i = 0; t->dtype != IK_ST_F32 && i < count; i++)
        dst[i] = t->dtype == IK_ST_F16 ? ik_f16_to_f32(half_at(p, i)) : ik_bf16_to_f32(half_at(p, i));
    ik_map_drop(t->data, t->nbytes); /* copied out: the mapped file need not stay resident */
    return 0;
}

/* Row r of t (cols values) as BF16 at dst. */
static void row_to_bf16(const struct ik_st_tensor *t, size_t r, size_t cols, uint16_t *dst)
{
    const unsigned char *p = t->data;
    size_t at = r * cols;
    if (t->dtype == IK_ST_BF16) { /* the file's bits are the device's (on a little-endian
                                   * host, as ik_st_read_f32's F32 memcpy assumes) */
        memcpy(dst, p + 2 * at, 2 * cols);
        return;
    }
    for (size_t j = 0; j < cols; j++) {
        float f;
        if (t->dtype == IK_ST_F32)
            memcpy(&f, p + 4 * (at + j), 4);
        else
            f = ik_f16_to_f32(half_at(p, at + j)); /* exact */
        dst[j] = ik_f32_to_bf16(f);
    }
}

void ik_st_tensor_to_bf16_rows(const struct ik_st_tensor *t, uint16_t *dst, size_t cols, size_t ld)
{
    size_t count = t->nbytes / wsize(t->dtype), rows = cols ? count / cols : 0;
    for (size_t r = 0; r < rows; r++) {
        row_to_bf16(t, r, cols, dst + r * ld);
        memset(dst + r * ld + cols, 0, (ld - cols) * sizeof *dst);
    }
    ik_map_drop(t->data, t->nbytes);
}

int ik_st_write(const char *path, const struct ik_st_wtensor *t, size_t n, struct ik_diag *d)
{
    static const char *const names[] = {"F32", "F16", "BF16"};
    struct ik_buf h = IK_BUF_INIT;
    size_t off = 0;
    ik_buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        size_t count = 1;
        for (int k = 0; k < t[i].ndim; k++)
            count *= (size_t)t[i].shape[k];
        size_t nb = count * wsize(t[i].dtype);
        ik_buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, names[t[i].dtype]);
        for (int k = 0; k < t[i].ndim; k++)
            ik_buf_printf(&h, "%s%lld", k ? "," : "", (long long)t[i].shape[k]);
        ik_buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    ik_buf_putc(&h, '}');
    while (h.len % 8)
        ik_buf_putc(&h, ' ');
    char *tmp = ik_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        rc = ik_diag_set(d, -errno, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(h.data, 1, h.len, f) == h.len;
    for (size_t i = 0; ok && i < n; i++) {
        size_t count = 1;
        for (int k = 0; k < t[i].ndim; k++)
            count *= (size_t)t[i].shape[k];
        ok = fwrite(t[i].data, wsize(t[i].dtype), count, f) == count;
    }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        rc = ik_diag_set(d, -e, "cannot write '%s': %s", path, strerror(e));
        unlink(tmp);
    }
out:
    free(tmp);
    ik_buf_free(&h);
    return rc;
}
