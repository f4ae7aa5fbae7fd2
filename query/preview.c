/* query/preview.c - readable renderings of cache objects (see preview.h).
 *
 * One walk over an artifact feeds two outputs, text and JSON, so `show` and
 * `show --json` always agree on what a preview contains. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/mpjson.h"
#include "query/preview.h"
#include "base/buf.h"
#include "base/mp.h"
#include "base/utf8.h"

static const struct ik_mpjson_opts cut = {IK_PREVIEW_MAX_STR, 48, 20};

bool ik_preview_is_text(const void *data, size_t len, bool prefix)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = ik_utf8_lead_len(c);
        if (n == 0)
            return false;
        /* A prefix may end inside a character: what is cut off is not judged. */
        if (i + n > len)
            return prefix;
        /* Strict, as decoders are: no overlong forms, no surrogates. */
        if (ik_utf8_valid_seq((const char *)p + i, n) != n)
            return false;
        i += n;
    }
    return true;
}

enum ik_object_form ik_preview_classify(const void *data, size_t len, msgpack_unpacked *res)
{
    size_t off = 0;
    if (len > 0 && msgpack_unpack_next(res, data, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == len) {
        const msgpack_object *o = &res->data;
        const msgpack_object *kind = ik_mp_get(o, "kind");
        if (kind != NULL && kind->type == MSGPACK_OBJECT_STR)
            return IK_OBJECT_ARTIFACT;
        if (o->type == MSGPACK_OBJECT_MAP || o->type == MSGPACK_OBJECT_ARRAY)
            return IK_OBJECT_MSGPACK;
    }
    return ik_preview_is_text(data, len, false) ? IK_OBJECT_TEXT : IK_OBJECT_BINARY;
}

void ik_preview_human_size(uint64_t bytes, char out[32])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) {
        snprintf(out, 32, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(out, 32, "%.1f %s", v, units[u]);
}

void ik_preview_hexdump(struct ik_buf *out, const void *data, size_t len, size_t max)
{
    const unsigned char *p = data;
    size_t n = len < max ? len : max;
    for (size_t row = 0; row < n; row += 16) {
        ik_buf_printf(out, "%08zx ", row);
        for (size_t i = row; i < row + 16; i++) {
            if (i % 8 == 0)
                ik_buf_putc(out, ' ');
            if (i < n)
                ik_buf_printf(out, "%02x ", p[i]);
            else
                ik_buf_puts(out, "   ");
        }
        ik_buf_puts(out, " |");
        for (size_t i = row; i < row + 16 && i < n; i++)
            ik_buf_putc(out, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.');
        ik_buf_puts(out, "|\n");
    }
    if (n < len)
        ik_buf_printf(out, "... %zu more bytes\n", len - n);
}

bool ik_preview_tensor(const msgpack_object *o, const char **dtype, size_t *dtype_len,
                       const msgpack_object **shape, uint64_t *data_bytes)
{
    const msgpack_object *dt = ik_mp_get(o, "dtype"), *sh = ik_mp_get(o, "shape"),
                         *da = ik_mp_get(o, "data");
    if (dt == NULL || dt->type != MSGPACK_OBJECT_STR || sh == NULL ||
        sh->type != MSGPACK_OBJECT_ARRAY || da == NULL || da->type != MSGPACK_OBJECT_BIN)
        return false;
    *dtype = dt->via.str.ptr;
    *dtype_len = dt->via.str.size;
    *shape = sh;
    *data_bytes = da->via.bin.size;
    return true;
}

/* ---- the walk ---- */

struct out {
    struct ik_buf *text;  /* text preview, or NULL */
    struct ik_jsonw *w;   /* JSON preview, or NULL */
    size_t limit;
    bool tensors_open;
};

/* Length of the first `lines` lines of text (including their newlines). */
static size_t first_lines(const char *s, size_t len, size_t lines, size_t *shown)
{
    size_t i = 0, n = 0;
    while (i < len && n < lines) {
        const char *nl = memchr(s + i, '\n', len - i);
        i = nl ? (size_t)(nl - s) + 1 : len;
        n++;
    }
    *shown = n;
    return i;
}

static void shape_text(struct ik_buf *b, const msgpack_object *shape)
{
    ik_buf_putc(b, '[');
    for (uint32_t i = 0; i < shape->via.array.size; i++) {
        if (i)
            ik_buf_puts(b, ", ");
        ik_mpjson_write(b, &shape->via.array.ptr[i], 0, NULL);
    }
    ik_buf_putc(b, ']');
}

/* Lists every tensor below o; path is the field path so far. */
static bool walk_tensors(struct out *o, const msgpack_object *v, struct ik_buf *path)
{
    const char *dtype;
    size_t dlen;
    const msgpack_object *shape;
    uint64_t bytes;
    if (ik_preview_tensor(v, &dtype, &dlen, &shape, &bytes)) {
        if (o->text) {
            char hs[32];
            ik_preview_human_size(bytes, hs);
            ik_buf_printf(o->text, "tensor   %s  %.*s ", path->data, (int)dlen, dtype);
            shape_text(o->text, shape);
            ik_buf_printf(o->text, " (%s)\n", hs);
        }
        if (o->w) {
            if (!o->tensors_open) {
                ik_jsonw_key(o->w, "tensors");
                ik_jsonw_begin_array(o->w);
                o->tensors_open = true;
            }
            ik_jsonw_begin_object(o->w);
            ik_jsonw_key(o->w, "path");
            ik_jsonw_str(o->w, path->data);
            ik_jsonw_key(o->w, "dtype");
            ik_jsonw_strn(o->w, dtype, dlen, 0);
            ik_jsonw_key(o->w, "shape");
            ik_jsonw_mp(o->w, shape, NULL);
            ik_jsonw_key(o->w, "bytes");
            ik_jsonw_uint(o->w, bytes);
            ik_jsonw_end_object(o->w);
        }
        return true;
    }
    bool any = false;
    size_t keep = path->len;
    if (v->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < v->via.map.size; i++) {
            const msgpack_object *k = &v->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            ik_buf_printf(path, "%s%.*s", keep ? "." : "", (int)k->via.str.size, k->via.str.ptr);
            any |= walk_tensors(o, &v->via.map.ptr[i].val, path);
            path->len = keep;
            path->data[keep] = '\0';
        }
    } else if (v->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            ik_buf_printf(path, "[%" PRIu32 "]", i);
            any |= walk_tensors(o, &v->via.array.ptr[i], path);
            path->len = keep;
            path->data[keep] = '\0';
        }
    }
    return any;
}

static void file_payload(struct out *o, const msgpack_object *root)
{
    const msgpack_object *data = ik_mp_get(root, "data");
    const msgpack_object *name = ik_mp_get(ik_mp_get(root, "meta"), "name");
    if (data == NULL || (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR))
        return;
    const char *p = data->via.bin.ptr;
    size_t len = data->via.bin.size, shown_lines = 0;
    bool text = ik_preview_is_text(p, len, false);
    size_t cut_len = text ? first_lines(p, len, IK_PREVIEW_TEXT_LINES, &shown_lines) : 0;
    if (o->text) {
        char hs[32];
        ik_preview_human_size(len, hs);
        ik_buf_printf(o->text, "file     %.*s, %s, %s\n",
                      name && name->type == MSGPACK_OBJECT_STR ? (int)name->via.str.size : 1,
                      name && name->type == MSGPACK_OBJECT_STR ? name->via.str.ptr : "?", hs,
                      text ? "text" : "binary");
        if (text) {
            ik_buf_printf(o->text, "--- %s %zu lines ---\n", cut_len < len ? "first" : "all",
                          shown_lines);
            ik_buf_append(o->text, p, cut_len);
            if (cut_len > 0 && p[cut_len - 1] != '\n')
                ik_buf_putc(o->text, '\n');
            if (cut_len < len)
                ik_buf_printf(o->text, "--- %zu more bytes ---\n", len - cut_len);
        } else {
            ik_preview_hexdump(o->text, p, len, IK_PREVIEW_HEX_BYTES);
        }
    }
    if (o->w) {
        ik_jsonw_key(o->w, "file");
        ik_jsonw_begin_object(o->w);
        ik_jsonw_key(o->w, "name");
        if (name)
            ik_jsonw_mp(o->w, name, NULL);
        else
            ik_jsonw_null(o->w);
        ik_jsonw_key(o->w, "size");
        ik_jsonw_uint(o->w, len);
        ik_jsonw_key(o->w, text ? "text" : "hex");
        if (text) {
            ik_jsonw_strn(o->w, p, cut_len, 0);
        } else {
            struct ik_buf hex = IK_BUF_INIT;
            ik_preview_hexdump(&hex, p, len, IK_PREVIEW_HEX_BYTES);
            ik_jsonw_strn(o->w, hex.data, hex.len, 0);
            ik_buf_free(&hex);
        }
        ik_jsonw_key(o->w, "truncated");
        ik_jsonw_bool(o->w, text ? cut_len < len : len > IK_PREVIEW_HEX_BYTES);
        ik_jsonw_end_object(o->w);
    }
}

static void records_payload(struct out *o, const msgpack_object *recs)
{
    uint32_t n = recs->via.array.size;
    size_t shown = o->limit < n ? o->limit : n;
    if (o->text) {
        ik_buf_printf(o->text, "records  %" PRIu32 " (showing %zu)\n", n, shown);
        for (size_t i = 0; i < shown; i++) {
            ik_buf_printf(o->text, "[%zu] ", i);
            ik_mpjson_write(o->text, &recs->via.array.ptr[i], 2, &cut);
            ik_buf_putc(o->text, '\n');
        }
    }
    if (o->w) {
        ik_jsonw_key(o->w, "records_total");
        ik_jsonw_uint(o->w, n);
        ik_jsonw_key(o->w, "records");
        ik_jsonw_begin_array(o->w);
        for (size_t i = 0; i < shown; i++)
            ik_jsonw_mp(o->w, &recs->via.array.ptr[i], NULL);
        ik_jsonw_end_array(o->w);
    }
}

/* Envelope fields and the payloads shown by their own sections. */
static bool skip_field(const msgpack_object *k, const msgpack_object *v,
                       const msgpack_object *recs, bool is_file)
{
    return ik_mp_str_eq(k, "kind") || ik_mp_str_eq(k, "schema") || ik_mp_str_eq(k, "meta") ||
           (v == recs && recs->type == MSGPACK_OBJECT_ARRAY) || (is_file && ik_mp_str_eq(k, "data"));
}

/* A map key as a path segment: the string itself, or its JSON text. */
static void key_text(struct ik_buf *b, const msgpack_object *k)
{
    ik_buf_reset(b);
    if (k->type == MSGPACK_OBJECT_STR)
        ik_buf_append(b, k->via.str.ptr, k->via.str.size);
    else
        ik_mpjson_write(b, k, 0, NULL);
}

static void artifact(struct out *o, const msgpack_object *root)
{
    const msgpack_object *kind = ik_mp_get(root, "kind"), *schema = ik_mp_get(root, "schema"),
                         *meta = ik_mp_get(root, "meta");
    bool is_file = ik_mp_str_eq(kind, "file");
    if (o->text) {
        ik_buf_printf(o->text, "kind     %.*s\n", (int)kind->via.str.size, kind->via.str.ptr);
        ik_buf_puts(o->text, "schema   ");
        if (schema)
            ik_mpjson_write(o->text, schema, 0, NULL);
        else
            ik_buf_puts(o->text, "-");
        ik_buf_puts(o->text, "\nmeta     ");
        if (meta)
            ik_mpjson_write(o->text, meta, 0, &cut);
        else
            ik_buf_puts(o->text, "-");
        ik_buf_putc(o->text, '\n');
    }
    if (o->w) {
        static const char *const keys[] = {"kind", "schema", "meta"};
        const msgpack_object *vals[] = {kind, schema, meta};
        for (int i = 0; i < 3; i++) {
            ik_jsonw_key(o->w, keys[i]);
            if (vals[i])
                ik_jsonw_mp(o->w, vals[i], NULL);
            else
                ik_jsonw_null(o->w);
        }
    }
    /* Payload: records, the file body, tensors, then the other fields. */
    const msgpack_object *recs = ik_mp_get(root, "records");
    if (recs && recs->type == MSGPACK_OBJECT_ARRAY)
        records_payload(o, recs);
    if (is_file)
        file_payload(o, root);
    /* Tensors first (text and JSON), then the fields that hold none. */
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
        if (skip_field(k, v, recs, is_file))
            continue;
        struct ik_buf path = IK_BUF_INIT;
        key_text(&path, k);
        if (!walk_tensors(o, v, &path) && o->text) {
            ik_buf_printf(o->text, "%-8s ", path.data);
            ik_mpjson_write(o->text, v, 0, &cut);
            ik_buf_putc(o->text, '\n');
        }
        ik_buf_free(&path);
    }
    if (o->tensors_open)
        ik_jsonw_end_array(o->w);
    if (o->w == NULL)
        return;
    bool fields_open = false;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
        struct ik_buf path = IK_BUF_INIT;
        key_text(&path, k);
        struct out probe = {NULL, NULL, 0, false};
        if (!skip_field(k, v, recs, is_file) && !walk_tensors(&probe, v, &path)) {
            if (!fields_open) {
                ik_jsonw_key(o->w, "fields");
                ik_jsonw_begin_object(o->w);
                fields_open = true;
            }
            ik_jsonw_keyn(o->w, path.data, path.len);
            ik_jsonw_mp(o->w, v, &cut);
        }
        ik_buf_free(&path);
    }
    if (fields_open)
        ik_jsonw_end_object(o->w);
}

static void preview(struct out *o, const void *data, size_t len)
{
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    switch (ik_preview_classify(data, len, &res)) {
    case IK_OBJECT_ARTIFACT:
        artifact(o, &res.data);
        break;
    case IK_OBJECT_MSGPACK:
        if (o->text) {
            ik_buf_puts(o->text, "msgpack value (not an artifact):\n");
            ik_mpjson_write(o->text, &res.data, 2, &cut);
            ik_buf_putc(o->text, '\n');
        }
        if (o->w) {
            ik_jsonw_key(o->w, "value");
            ik_jsonw_mp(o->w, &res.data, NULL);
        }
        break;
    case IK_OBJECT_TEXT:
        if (o->text) {
            ik_buf_append(o->text, data, len);
            if (len > 0 && ((const char *)data)[len - 1] != '\n')
                ik_buf_putc(o->text, '\n');
        }
        if (o->w) {
            ik_jsonw_key(o->w, "text");
            ik_jsonw_strn(o->w, data, len, 0);
        }
        break;
    case IK_OBJECT_BINARY: {
        struct ik_buf hex = IK_BUF_INIT;
        ik_preview_hexdump(&hex, data, len, IK_PREVIEW_HEX_BYTES);
        if (o->text)
            ik_buf_append(o->text, hex.data ? hex.data : "", hex.len);
        if (o->w) {
            ik_jsonw_key(o->w, "hex");
            ik_jsonw_strn(o->w, hex.data ? hex.data : "", hex.len, 0);
        }
        ik_buf_free(&hex);
        break;
    }
    }
    msgpack_unpacked_destroy(&res);
}

void ik_preview_text(struct ik_buf *out, const void *data, size_t len, size_t limit)
{
    struct out o = {out, NULL, limit, false};
    preview(&o, data, len);
}

void ik_preview_json(struct ik_jsonw *w, const void *data, size_t len, size_t limit)
{
    struct out o = {NULL, w, limit, false};
    preview(&o, data, len);
}
