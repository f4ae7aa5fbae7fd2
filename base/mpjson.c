/* base/mpjson.c - msgpack <-> JSON and the JSON writer (see mpjson.h).
 *
 * Written by hand rather than through jansson's encoder because msgpack has
 * types JSON lacks (uint64 above INT64_MAX, bin, float32) and because previews
 * need cut strings and arrays, which a json_t tree cannot express. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mpjson.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

void ik_mpjson_write_string(struct ik_buf *out, const char *s, size_t n, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    ik_buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        if (max_chars && chars == max_chars) {
            ik_buf_puts(out, "\xe2\x80\xa6"); /* U+2026 HORIZONTAL ELLIPSIS */
            break;
        }
        chars++;
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t len = ik_utf8_valid_seq(s + i, n - i);
            if (len == 0) {
                ik_buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
                i++;
            } else {
                ik_buf_append(out, p + i, len);
                i += len;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"': ik_buf_puts(out, "\\\""); break;
        case '\\': ik_buf_puts(out, "\\\\"); break;
        case '\n': ik_buf_puts(out, "\\n"); break;
        case '\r': ik_buf_puts(out, "\\r"); break;
        case '\t': ik_buf_puts(out, "\\t"); break;
        case '\b': ik_buf_puts(out, "\\b"); break;
        case '\f': ik_buf_puts(out, "\\f"); break;
        default:
            if (c < 0x20)
                ik_buf_printf(out, "\\u%04x", c);
            else
                ik_buf_putc(out, (char)c);
        }
    }
    ik_buf_putc(out, '"');
}

void ik_mpjson_write_double(struct ik_buf *out, double v, bool is_f32)
{
    if (!isfinite(v)) {
        ik_buf_puts(out, "null");
        return;
    }
    char tmp[40];
    int max = is_f32 ? 9 : 17;
    for (int prec = 1; prec <= max; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (is_f32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    ik_buf_puts(out, tmp);
    /* Keep it a JSON real so that the value reads back as a float. */
    if (strpbrk(tmp, ".eE") == NULL)
        ik_buf_puts(out, ".0");
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ik_base64_encode(struct ik_buf *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = b64[(v >> 18) & 63];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        ik_buf_append(out, q, 4);
    }
}

int ik_base64_decode(const char *s, size_t n, unsigned char **data, size_t *len)
{
    if (n % 4 != 0)
        return IK_EPARSE;
    unsigned char *d = ik_xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            const char *at = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
            } else if (at != NULL && pad == 0) {
                v = (v << 6) | (unsigned)(at - b64);
            } else {
                free(d);
                return IK_EPARSE;
            }
        }
        d[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            d[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            d[o++] = (unsigned char)v;
    }
    *data = d;
    *len = o;
    return 0;
}

/* ---- the writer ---- */

void ik_jsonw_init(struct ik_jsonw *w, struct ik_buf *out, int indent)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->indent = indent;
    w->first[0] = true;
}

static bool pretty(const struct ik_jsonw *w) { return w->indent > 0 && w->depth <= IK_JSONW_MAX_DEPTH; }

static void newline(struct ik_jsonw *w)
{
    ik_buf_putc(w->out, '\n');
    for (int i = 0; i < w->depth * w->indent; i++)
        ik_buf_putc(w->out, ' ');
}

/* Called before every value and key: writes the separator that precedes it. */
static void before_item(struct ik_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    int lvl = w->depth <= IK_JSONW_MAX_DEPTH ? w->depth : IK_JSONW_MAX_DEPTH;
    if (w->depth > 0 && !w->first[lvl])
        ik_buf_putc(w->out, ',');
    w->first[lvl] = false;
    if (w->depth > 0 && pretty(w))
        newline(w);
}

static void jw_open(struct ik_jsonw *w, char c)
{
    before_item(w);
    ik_buf_putc(w->out, c);
    w->depth++;
    if (w->depth <= IK_JSONW_MAX_DEPTH)
        w->first[w->depth] = true;
}

static void jw_close(struct ik_jsonw *w, char c)
{
    bool empty = w->depth <= IK_JSONW_MAX_DEPTH && w->first[w->depth];
    w->depth--;
    if (!empty && pretty(w) && w->depth < IK_JSONW_MAX_DEPTH)
        newline(w);
    ik_buf_putc(w->out, c);
}

void ik_jsonw_begin_object(struct ik_jsonw *w) { jw_open(w, '{'); }
void ik_jsonw_end_object(struct ik_jsonw *w) { jw_close(w, '}'); }
void ik_jsonw_begin_array(struct ik_jsonw *w) { jw_open(w, '['); }
void ik_jsonw_end_array(struct ik_jsonw *w) { jw_close(w, ']'); }

void ik_jsonw_keyn(struct ik_jsonw *w, const char *key, size_t len)
{
    before_item(w);
    ik_mpjson_write_string(w->out, key, len, 0);
    ik_buf_puts(w->out, pretty(w) ? ": " : ":");
    w->after_key = true;
}

void ik_jsonw_key(struct ik_jsonw *w, const char *key) { ik_jsonw_keyn(w, key, strlen(key)); }

void ik_jsonw_strn(struct ik_jsonw *w, const char *s, size_t n, size_t max_chars)
{
    before_item(w);
    ik_mpjson_write_string(w->out, s, n, max_chars);
}

void ik_jsonw_str(struct ik_jsonw *w, const char *s) { ik_jsonw_strn(w, s, strlen(s), 0); }

void ik_jsonw_int(struct ik_jsonw *w, int64_t v)
{
    before_item(w);
    ik_buf_printf(w->out, "%" PRId64, v);
}

void ik_jsonw_uint(struct ik_jsonw *w, uint64_t v)
{
    before_item(w);
    ik_buf_printf(w->out, "%" PRIu64, v);
}

void ik_jsonw_double(struct ik_jsonw *w, double v)
{
    before_item(w);
    ik_mpjson_write_double(w->out, v, false);
}

void ik_jsonw_bool(struct ik_jsonw *w, bool v)
{
    before_item(w);
    ik_buf_puts(w->out, v ? "true" : "false");
}

void ik_jsonw_null(struct ik_jsonw *w)
{
    before_item(w);
    ik_buf_puts(w->out, "null");
}

static void write_bin(struct ik_jsonw *w, const char *p, size_t n, int ext_type, bool is_ext,
                      const struct ik_mpjson_opts *opts)
{
    ik_jsonw_begin_object(w);
    if (is_ext) {
        ik_jsonw_key(w, "$ext");
        ik_jsonw_int(w, ext_type);
    }
    ik_jsonw_key(w, "$bin");
    size_t shown = opts && opts->max_bin && n > opts->max_bin ? opts->max_bin : n;
    before_item(w);
    ik_buf_putc(w->out, '"');
    ik_base64_encode(w->out, p, shown);
    if (shown < n)
        ik_buf_puts(w->out, "\xe2\x80\xa6");
    ik_buf_putc(w->out, '"');
    ik_jsonw_key(w, "size");
    ik_jsonw_uint(w, n);
    ik_jsonw_end_object(w);
}

static void write_value(struct ik_jsonw *w, const msgpack_object *o,
                        const struct ik_mpjson_opts *opts, bool in_key);

/* A map key that is not a string is written as its compact JSON text. Inside
 * that text, a further non-string key is written as "…": escaping key text
 * within key text doubles it at every level, so nested keys would grow the
 * output 2^depth (a fuzzer found 40 levels). */
static void write_key(struct ik_jsonw *w, const msgpack_object *k, bool in_key)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        ik_jsonw_keyn(w, k->via.str.ptr, k->via.str.size);
        return;
    }
    if (in_key) {
        ik_jsonw_key(w, "\xe2\x80\xa6");
        return;
    }
    struct ik_buf kt = IK_BUF_INIT;
    struct ik_jsonw kw;
    ik_jsonw_init(&kw, &kt, 0);
    write_value(&kw, k, NULL, true);
    ik_jsonw_keyn(w, kt.data, kt.len);
    ik_buf_free(&kt);
}

void ik_jsonw_mp(struct ik_jsonw *w, const msgpack_object *o, const struct ik_mpjson_opts *opts)
{
    write_value(w, o, opts, false);
}

static void write_value(struct ik_jsonw *w, const msgpack_object *o,
                        const struct ik_mpjson_opts *opts, bool in_key)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: ik_jsonw_null(w); return;
    case MSGPACK_OBJECT_BOOLEAN: ik_jsonw_bool(w, o->via.boolean); return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: ik_jsonw_uint(w, o->via.u64); return;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: ik_jsonw_int(w, o->via.i64); return;
    case MSGPACK_OBJECT_FLOAT32:
        before_item(w);
        ik_mpjson_write_double(w->out, o->via.f64, true);
        return;
    case MSGPACK_OBJECT_FLOAT64: ik_jsonw_double(w, o->via.f64); return;
    case MSGPACK_OBJECT_STR:
        ik_jsonw_strn(w, o->via.str.ptr, o->via.str.size, opts ? opts->max_str : 0);
        return;
    case MSGPACK_OBJECT_BIN: write_bin(w, o->via.bin.ptr, o->via.bin.size, 0, false, opts); return;
    case MSGPACK_OBJECT_EXT:
        write_bin(w, o->via.ext.ptr, o->via.ext.size, o->via.ext.type, true, opts);
        return;
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n = o->via.array.size;
        uint32_t shown = opts && opts->max_items && n > opts->max_items ? (uint32_t)opts->max_items : n;
        ik_jsonw_begin_array(w);
        for (uint32_t i = 0; i < shown; i++)
            write_value(w, &o->via.array.ptr[i], opts, in_key);
        if (shown < n) {
            char note[48];
            snprintf(note, sizeof note, "\xe2\x80\xa6 %" PRIu32 " more", n - shown);
            ik_jsonw_str(w, note);
        }
        ik_jsonw_end_array(w);
        return;
    }
    case MSGPACK_OBJECT_MAP:
        ik_jsonw_begin_object(w);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            write_key(w, &o->via.map.ptr[i].key, in_key);
            write_value(w, &o->via.map.ptr[i].val, opts, in_key);
        }
        ik_jsonw_end_object(w);
        return;
    }
    ik_jsonw_null(w); /* unreachable: every msgpack type is handled above */
}

void ik_mpjson_write(struct ik_buf *out, const msgpack_object *o, int indent,
                     const struct ik_mpjson_opts *opts)
{
    struct ik_jsonw w;
    ik_jsonw_init(&w, out, indent);
    ik_jsonw_mp(&w, o, opts);
}

/* ---- JSON -> msgpack ---- */

/* {"$bin": base64, "size": N} with a matching size packs as bin. */
static bool pack_bin_object(json_t *j, msgpack_packer *pk)
{
    if (json_object_size(j) != 2)
        return false;
    json_t *b = json_object_get(j, "$bin"), *sz = json_object_get(j, "size");
    if (!json_is_string(b) || !json_is_integer(sz))
        return false;
    unsigned char *data;
    size_t len;
    if (ik_base64_decode(json_string_value(b), json_string_length(b), &data, &len) != 0)
        return false;
    bool ok = (json_int_t)len == json_integer_value(sz);
    if (ok)
        ik_mp_pack_bin(pk, data, len);
    free(data);
    return ok;
}

int ik_json_to_msgpack(json_t *j, msgpack_packer *pk)
{
    if (j == NULL)
        return -EINVAL;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (pack_bin_object(j, pk))
            return 0;
        /* jansson (>= 2.8) iterates objects in insertion order. */
        const char *key;
        json_t *val;
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach(j, key, val)
        {
            ik_mp_pack_str(pk, key);
            ik_json_to_msgpack(val, pk);
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, val) ik_json_to_msgpack(val, pk);
        return 0;
    }
    case JSON_STRING: ik_mp_pack_strn(pk, json_string_value(j), json_string_length(j)); return 0;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); return 0;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); return 0;
    case JSON_TRUE: msgpack_pack_true(pk); return 0;
    case JSON_FALSE: msgpack_pack_false(pk); return 0;
    case JSON_NULL: msgpack_pack_nil(pk); return 0;
    }
    return -EINVAL;
}

int ik_json_text_to_msgpack(const char *text, size_t len, msgpack_packer *pk, const char *what,
                            struct ik_diag *d)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j == NULL) {
        struct ik_srcloc loc = {what, err.line > 0 ? err.line : 1, err.column > 0 ? err.column : 1};
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "%s", err.text);
    }
    ik_json_to_msgpack(j, pk);
    json_decref(j);
    return 0;
}
