/* base/pyjson.c - Python-compatible JSON text of msgpack objects (see
 * pyjson.h for the exact layout). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/pyjson.h"

void ik_pyjson_append_str(struct ik_buf *b, const char *s, size_t n)
{
    ik_buf_putc(b, '"');
    size_t run = 0; /* bytes copied in one append rather than one by one */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        ik_buf_append(b, s + i - run, run);
        run = 0;
        ik_buf_puts(b, esc);
    }
    if (run > 0) /* msgpack-c gives an empty string a NULL ptr: no NULL + 0 */
        ik_buf_append(b, s + n - run, run);
    ik_buf_putc(b, '"');
}

void ik_pyjson_append_double(struct ik_buf *b, double v)
{
    if (isnan(v)) {
        ik_buf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        ik_buf_puts(b, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    /* Shortest round-trip digits, as Python's repr finds them. */
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    const char *q = e;
    bool neg = *q == '-';
    if (neg)
        q++;
    char digits[24];
    size_t nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    int exp = (int)strtol(q + 1, NULL, 10); /* "%.17e" always writes e[+-]dd */
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        ik_buf_putc(b, '-');
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                ik_buf_putc(b, (size_t)i < nd ? digits[i] : '0');
            ik_buf_putc(b, '.');
            if ((size_t)exp + 1 < nd)
                ik_buf_append(b, digits + exp + 1, nd - (size_t)exp - 1);
            else
                ik_buf_putc(b, '0');
        } else {
            ik_buf_puts(b, "0.");
            for (int i = 0; i < -exp - 1; i++)
                ik_buf_putc(b, '0');
            ik_buf_append(b, digits, nd);
        }
    } else {
        ik_buf_putc(b, digits[0]);
        if (nd > 1) {
            ik_buf_putc(b, '.');
            ik_buf_append(b, digits + 1, nd - 1);
        }
        ik_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

static void append_value(struct ik_buf *b, const msgpack_object *o, bool in_key);

/* A non-string key is written as its JSON text in a string; a non-string key
 * inside that text as "…", since each level of key-in-key escaping doubles the
 * text (2^depth bytes for nested map keys: fuzz/findings/object). */
static void append_key(struct ik_buf *b, const msgpack_object *k, bool in_key)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        ik_pyjson_append_str(b, k->via.str.ptr, k->via.str.size);
        return;
    }
    if (in_key) {
        ik_pyjson_append_str(b, "\xe2\x80\xa6", 3);
        return;
    }
    struct ik_buf t = IK_BUF_INIT;
    append_value(&t, k, true);
    ik_pyjson_append_str(b, t.data, t.len);
    ik_buf_free(&t);
}

void ik_pyjson_append(struct ik_buf *b, const msgpack_object *o) { append_value(b, o, false); }

static void append_value(struct ik_buf *b, const msgpack_object *o, bool in_key)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: ik_buf_puts(b, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: ik_buf_puts(b, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        ik_buf_printf(b, "%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: ik_buf_printf(b, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: ik_pyjson_append_double(b, o->via.f64); break;
    case MSGPACK_OBJECT_STR: ik_pyjson_append_str(b, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: ik_pyjson_append_str(b, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        ik_buf_putc(b, '[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                ik_buf_puts(b, ", ");
            append_value(b, &o->via.array.ptr[i], in_key);
        }
        ik_buf_putc(b, ']');
        break;
    case MSGPACK_OBJECT_MAP:
        ik_buf_putc(b, '{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                ik_buf_puts(b, ", ");
            append_key(b, &kv->key, in_key);
            ik_buf_puts(b, ": ");
            append_value(b, &kv->val, in_key);
        }
        ik_buf_putc(b, '}');
        break;
    default: ik_buf_puts(b, "null"); break;
    }
}
