/* cli/gguf.c - `ikada gguf dump FILE [--json]`: any GGUF file's header,
 * key/values and tensor table, like gguf-py's gguf_dump, so an adapter or a
 * model from anywhere can be inspected without Python.
 *
 * The file is mapped, not read, so an 18 GB model costs only the pages of its
 * header. lm/gguf.c checks the container (magic, version, truncation, value
 * types, tensor data inside the file); tensors of the types it does not size
 * are sized here from ggml's block table and checked the same way. Arrays are
 * abridged to their first DUMP_ELEMS elements and their count (in --json too),
 * long strings in the plain listing to DUMP_CHARS characters. A malformed file
 * is one error message and exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "cli/opt.h"
#include "lm/gguf.h"

#define DUMP_ELEMS 8   /* array elements shown */
#define DUMP_CHARS 80  /* bytes of a string value shown in the plain listing */
#define MAX_DEPTH 16   /* arrays of arrays (lm/gguf.c refuses deeper ones) */

static const char gguf_usage[] = "gguf dump [--json] FILE";
static const char gguf_help[] =
    "Prints a GGUF file's header (version, counts, alignment, data offset), every\n"
    "key/value with its type (arrays: the first 8 elements and the count) and the\n"
    "tensor table (name, ggml type, dims innermost first, offset in the data section,\n"
    "bytes). --json prints one JSON object instead. A malformed file is an error\n"
    "(exit status 1).\n";

/* ---- ggml tensor types (ggml.c type_traits: name, elements and bytes per block) ---- */

struct ggml_type_info {
    const char *name;
    uint32_t blck, size;
};

static const struct ggml_type_info ggml_types[] = {
    [0] = {"F32", 1, 4},         [1] = {"F16", 1, 2},         [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},      [6] = {"Q5_0", 32, 22},      [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},      [9] = {"Q8_1", 32, 36},      [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},   [12] = {"Q4_K", 256, 144},   [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},   [15] = {"Q8_K", 256, 292},   [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},  [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},   [21] = {"IQ3_S", 256, 110},  [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},         [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},        [27] = {"I64", 1, 8},        [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},   [30] = {"BF16", 1, 2},       [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},   [39] = {"MXFP4", 32, 17},
};

static const struct ggml_type_info *ggml_type(uint32_t t)
{
    size_t n = sizeof ggml_types / sizeof ggml_types[0];
    return t < n && ggml_types[t].name ? &ggml_types[t] : NULL;
}

/* Bytes of tensor t: the reader's count, else from the block table; checks
 * that the latter lies inside the file. *known is false for a type neither
 * knows (its start is still inside the file: lm/gguf.c checked it). */
static int tensor_bytes(const struct ik_gguf *g, const struct ik_gguf_tensor *t, uint64_t *bytes,
                        bool *known, struct ik_diag *d)
{
    const struct ggml_type_info *ti = ggml_type(t->type);
    *known = t->nbytes > 0 || ti != NULL;
    *bytes = t->nbytes;
    if (t->nbytes > 0 || ti == NULL)
        return 0;
    /* Zero elements are zero bytes; otherwise whole blocks per row, no wrap. */
    uint64_t blocks = t->dims[0] / ti->blck;
    bool ok = t->dims[0] % ti->blck == 0;
    for (uint32_t k = 1; k < t->n_dims && ok; k++) {
        if (t->dims[k] != 0 && blocks > UINT64_MAX / t->dims[k])
            ok = false;
        blocks *= t->dims[k];
    }
    ok = ok && blocks <= UINT64_MAX / ti->size;
    struct ik_srcloc loc = {g->name, 0, 0};
    if (!ok)
        return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "tensor '%.*s': its dimensions do not "
                          "suit ggml type %s (too many elements, or rows not in whole blocks of %"
                          PRIu32 ")", (int)t->name_len, t->name, ti->name, ti->blck);
    *bytes = blocks * ti->size;
    size_t room = g->size - g->data_off - (size_t)t->offset;
    if (*bytes > room)
        return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "tensor '%.*s': %" PRIu64 " bytes at "
                          "offset %" PRIu64 " of the data section (which starts at %zu) run past "
                          "the file's %zu bytes", (int)t->name_len, t->name, *bytes, t->offset,
                          g->data_off, g->size);
    return 0;
}

/* ---- plain text ---- */

/* Appends s[0..n) escaped as in a C string literal (valid UTF-8 kept). */
static void put_escaped(struct ik_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t w = c >= 0x80 ? ik_utf8_valid_seq(s + i, n - i) : 1;
        if (c >= 0x80 && w > 0) {
            ik_buf_append(b, s + i, w);
            i += w;
            continue;
        }
        if (c == '"' || c == '\\')
            ik_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            ik_buf_puts(b, "\\n");
        else if (c == '\t')
            ik_buf_puts(b, "\\t");
        else if (c == '\r')
            ik_buf_puts(b, "\\r");
        else if (c < 0x20 || c >= 0x7f)
            ik_buf_printf(b, "\\x%02x", c);
        else
            ik_buf_putc(b, (char)c);
        i++;
    }
}

/* A scalar value of type at r, as text (floats with all their digits). */
static void put_scalar(struct ik_buf *b, struct ik_gguf_rd *r, uint32_t type)
{
    size_t n = ik_gguf_scalar_size(type);
    uint64_t v = ik_gguf_rd_uint(r, n);
    switch (type) {
    case IK_GGUF_I8: ik_buf_printf(b, "%d", (int8_t)v); break;
    case IK_GGUF_I16: ik_buf_printf(b, "%d", (int16_t)v); break;
    case IK_GGUF_I32: ik_buf_printf(b, "%" PRId32, (int32_t)v); break;
    case IK_GGUF_I64: ik_buf_printf(b, "%" PRId64, (int64_t)v); break;
    case IK_GGUF_BOOL: ik_buf_puts(b, v ? "true" : "false"); break;
    case IK_GGUF_F32: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        ik_buf_printf(b, "%.9g", (double)f);
        break;
    }
    case IK_GGUF_F64: {
        double f;
        memcpy(&f, &v, 8);
        ik_buf_printf(b, "%.17g", f);
        break;
    }
    default: ik_buf_printf(b, "%" PRIu64, v); break;
    }
}

static void put_value(struct ik_buf *b, struct ik_gguf_rd *r, uint32_t type, size_t max_chars,
                      int depth)
{
    if (type == IK_GGUF_STR) {
        size_t n;
        const char *s = ik_gguf_rd_str(r, &n);
        size_t cut = n > max_chars ? ik_utf8_cut(s, n, max_chars) : n;
        ik_buf_putc(b, '"');
        put_escaped(b, s ? s : "", s ? cut : 0);
        ik_buf_putc(b, '"');
        if (cut < n)
            ik_buf_printf(b, "... (%zu bytes)", n);
    } else if (type == IK_GGUF_ARR && depth < MAX_DEPTH) {
        uint32_t et = (uint32_t)ik_gguf_rd_uint(r, 4);
        uint64_t n = ik_gguf_rd_uint(r, 8);
        ik_buf_putc(b, '[');
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            if (i < DUMP_ELEMS) {
                ik_buf_puts(b, i ? ", " : "");
                put_value(b, r, et, 32, depth + 1);
            } else {
                ik_gguf_rd_skip(r, et);
            }
        }
        ik_buf_puts(b, n > DUMP_ELEMS ? ", ...]" : "]");
    } else {
        put_scalar(b, r, type);
    }
}

static void dims_text(struct ik_buf *b, const struct ik_gguf_tensor *t)
{
    for (uint32_t k = 0; k < t->n_dims; k++)
        ik_buf_printf(b, "%s%" PRIu64, k ? ", " : "", t->dims[k]);
}

/* sizes[i]: tensor i's bytes, or UINT64_MAX when its type is unknown. */
static void dump_text(const struct ik_gguf *g, const char *path, const uint64_t *sizes)
{
    printf("%s: GGUF v%" PRIu32 ", %zu key/value(s), %zu tensor(s), alignment %" PRIu32
           ", data section at byte %zu of %zu\n", path, g->version, g->n_kv, g->n_tensors,
           g->alignment, g->data_off, g->size);
    printf("\n* %zu key/value(s)\n", g->n_kv);
    struct ik_buf b = IK_BUF_INIT;
    for (size_t i = 0; i < g->n_kv; i++) {
        const struct ik_gguf_kv *kv = &g->kv[i];
        struct ik_gguf_rd r = {g->data, kv->off, g->size, 0};
        ik_buf_reset(&b);
        if (kv->type == IK_GGUF_ARR)
            ik_buf_printf(&b, "[%s]", ik_gguf_type_name(kv->elem_type));
        else
            ik_buf_puts(&b, ik_gguf_type_name(kv->type));
        printf("%6zu: %-10s | %8" PRIu64 " | ", i + 1, b.data, kv->type == IK_GGUF_ARR ? kv->n : 1);
        ik_buf_reset(&b);
        put_escaped(&b, kv->key, kv->key_len);
        ik_buf_puts(&b, " = ");
        put_value(&b, &r, kv->type, DUMP_CHARS, 0);
        printf("%s\n", b.data);
    }
    printf("\n* %zu tensor(s)\n", g->n_tensors);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct ik_gguf_tensor *t = &g->tensors[i];
        const struct ggml_type_info *ti = ggml_type(t->type);
        char tname[24];
        snprintf(tname, sizeof tname, "%s", ti ? ti->name : "?");
        if (ti == NULL)
            snprintf(tname, sizeof tname, "type %" PRIu32, t->type);
        ik_buf_reset(&b);
        dims_text(&b, t);
        char nb[24] = "?";
        if (sizes[i] != UINT64_MAX)
            snprintf(nb, sizeof nb, "%" PRIu64, sizes[i]);
        printf("%6zu: %-8s | %-24s | offset %12" PRIu64 " | %12s bytes | ", i + 1, tname, b.data,
               t->offset, nb);
        ik_buf_reset(&b);
        put_escaped(&b, t->name, t->name_len);
        printf("%s\n", b.data);
    }
    ik_buf_free(&b);
}

/* ---- JSON ---- */

/* A JSON string of s[0..n); bytes that are not UTF-8 become U+FFFD. */
static json_t *jstr(const char *s, size_t n)
{
    if (s == NULL)
        return json_string("");
    if (ik_utf8_valid(s, n))
        return json_stringn(s, n);
    struct ik_buf b = IK_BUF_INIT;
    for (size_t i = 0; i < n;) {
        size_t w = ik_utf8_valid_seq(s + i, n - i);
        ik_buf_append(&b, w ? s + i : "\xef\xbf\xbd", w ? w : 3);
        i += w ? w : 1;
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    ik_buf_free(&b);
    return j;
}

/* A float as a JSON number, or "nan"/"inf"/"-inf", which JSON has no numbers for. */
static json_t *jreal(double f)
{
    if (isfinite(f))
        return json_real(f);
    return json_string(isnan(f) ? "nan" : f > 0 ? "inf" : "-inf");
}

static json_t *value_json(struct ik_gguf_rd *r, uint32_t type, int depth)
{
    if (type == IK_GGUF_STR) {
        size_t n;
        const char *s = ik_gguf_rd_str(r, &n);
        return jstr(s, n);
    }
    if (type == IK_GGUF_ARR) {
        uint32_t et = (uint32_t)ik_gguf_rd_uint(r, 4);
        uint64_t n = ik_gguf_rd_uint(r, 8);
        json_t *a = json_array();
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            if (i < DUMP_ELEMS && depth < MAX_DEPTH)
                json_array_append_new(a, value_json(r, et, depth + 1));
            else
                ik_gguf_rd_skip(r, et);
        }
        return a;
    }
    size_t n = ik_gguf_scalar_size(type);
    uint64_t v = ik_gguf_rd_uint(r, n);
    switch (type) {
    case IK_GGUF_I8: return json_integer((int8_t)v);
    case IK_GGUF_I16: return json_integer((int16_t)v);
    case IK_GGUF_I32: return json_integer((int32_t)v);
    case IK_GGUF_I64: return json_integer((int64_t)v);
    case IK_GGUF_BOOL: return json_boolean(v != 0);
    case IK_GGUF_F32: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        return jreal(f);
    }
    case IK_GGUF_F64: {
        double f;
        memcpy(&f, &v, 8);
        return jreal(f);
    }
    default: {
        /* A u64 beyond JSON's safe integers would lose digits as a number. */
        if (v <= INT64_MAX)
            return json_integer((json_int_t)v);
        char s[24];
        snprintf(s, sizeof s, "%" PRIu64, v);
        return json_string(s);
    }
    }
}

static json_t *kv_json(const struct ik_gguf *g, const struct ik_gguf_kv *kv)
{
    struct ik_gguf_rd r = {g->data, kv->off, g->size, 0};
    json_t *o = json_object();
    json_object_set_new(o, "key", jstr(kv->key, kv->key_len));
    json_object_set_new(o, "type", json_string(ik_gguf_type_name(kv->type)));
    if (kv->type == IK_GGUF_ARR) {
        json_object_set_new(o, "elem_type", json_string(ik_gguf_type_name(kv->elem_type)));
        json_object_set_new(o, "count", json_integer((json_int_t)kv->n));
        json_object_set_new(o, "abridged", json_boolean(kv->n > DUMP_ELEMS));
    }
    json_object_set_new(o, "value", value_json(&r, kv->type, 0));
    return o;
}

static void dump_json(const struct ik_gguf *g, const char *path, const uint64_t *sizes)
{
    json_t *kvs = json_array(), *ts = json_array();
    for (size_t i = 0; i < g->n_kv; i++)
        json_array_append_new(kvs, kv_json(g, &g->kv[i]));
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct ik_gguf_tensor *t = &g->tensors[i];
        const struct ggml_type_info *ti = ggml_type(t->type);
        json_t *dims = json_array();
        for (uint32_t k = 0; k < t->n_dims; k++)
            json_array_append_new(dims, json_integer((json_int_t)t->dims[k]));
        json_array_append_new(ts, json_pack("{s:o, s:o, s:i, s:o, s:I, s:o}", "name",
                                            jstr(t->name, t->name_len), "type",
                                            ti ? json_string(ti->name) : json_null(), "type_id",
                                            (int)t->type, "dims", dims, "offset",
                                            (json_int_t)t->offset, "bytes",
                                            sizes[i] != UINT64_MAX ? json_integer((json_int_t)sizes[i])
                                                                   : json_null()));
    }
    json_t *j = json_pack("{s:o, s:i, s:I, s:I, s:i, s:I, s:I, s:o, s:o}", "file",
                          jstr(path, strlen(path)), "version", (int)g->version, "n_kv",
                          (json_int_t)g->n_kv, "n_tensors", (json_int_t)g->n_tensors, "alignment",
                          (int)g->alignment, "data_offset", (json_int_t)g->data_off, "size",
                          (json_int_t)g->size, "kv", kvs, "tensors", ts);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", s);
    free(s);
    json_decref(j);
}

/* ---- the command ---- */

/* Maps path read-only (*map NULL for an empty file). */
static int map_file(const char *path, void **map, size_t *size, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return ik_diag_set(d, -e, "cannot open '%s': %s", path, strerror(e));
    }
    *map = NULL;
    *size = (size_t)sb.st_size;
    if (*size > 0 && (*map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        int e = errno;
        close(fd);
        return ik_diag_set(d, -e, "cannot map '%s': %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

static int cmd_dump(const char *path, bool json)
{
    struct ik_diag d = IK_DIAG_INIT;
    void *map = NULL;
    size_t size = 0;
    struct ik_gguf g;
    int rc = map_file(path, &map, &size, &d);
    if (rc == 0) {
        rc = ik_gguf_open(&g, map, size, path, &d);
        if (rc == 0) {
            /* Every tensor is sized and checked before anything is printed. */
            uint64_t *sizes = ik_xcalloc(g.n_tensors + 1, sizeof *sizes);
            for (size_t i = 0; rc == 0 && i < g.n_tensors; i++) {
                bool known;
                rc = tensor_bytes(&g, &g.tensors[i], &sizes[i], &known, &d);
                sizes[i] = known ? sizes[i] : UINT64_MAX;
            }
            if (rc == 0 && json)
                dump_json(&g, path, sizes);
            else if (rc == 0)
                dump_text(&g, path, sizes);
            free(sizes);
            ik_gguf_close(&g);
        }
        if (map)
            munmap(map, size);
    }
    if (rc != 0) {
        fflush(stdout);
        ik_diag_print(&d);
    }
    ik_diag_free(&d);
    return rc == 0 ? IK_EXIT_OK : IK_EXIT_FAILED;
}

int ik_cli_gguf(int argc, char **argv)
{
    if (argc < 2 || ik_opt_is_help(argv[1])) {
        ik_opt_usage(argc < 2 ? stderr : stdout, gguf_usage, argc < 2 ? NULL : gguf_help);
        return argc < 2 ? IK_EXIT_USAGE : IK_EXIT_OK;
    }
    if (strcmp(argv[1], "dump") != 0)
        return ik_opt_error(gguf_usage, "unknown gguf command '%s'", argv[1]);
    bool json = false;
    const char *path = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL}, {0}};
    const struct ik_optspec spec = {
        .usage = gguf_usage, .help = gguf_help, .opts = opts, .pos = &path, .min_pos = 1,
        .max_pos = 1, .missing = "expected a FILE",
    };
    int rc = ik_opt_parse(&spec, argc - 1, argv + 1, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    return cmd_dump(path, json);
}
