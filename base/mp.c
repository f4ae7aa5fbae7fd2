/* base/mp.c - msgpack-c object helpers, canonical packing and the writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/mp.h"
#include "base/xmalloc.h"

const msgpack_object *ik_mp_get(const msgpack_object *obj, const char *key)
{
    if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < obj->via.map.size; i++)
        if (ik_mp_str_eq(&obj->via.map.ptr[i].key, key))
            return &obj->via.map.ptr[i].val;
    return NULL;
}

bool ik_mp_str_eq(const msgpack_object *obj, const char *s)
{
    if (obj == NULL || obj->type != MSGPACK_OBJECT_STR)
        return false;
    size_t n = strlen(s);
    return obj->via.str.size == n && memcmp(obj->via.str.ptr, s, n) == 0;
}

char *ik_mp_strdup(const msgpack_object *obj)
{
    if (obj == NULL)
        return NULL;
    if (obj->type == MSGPACK_OBJECT_STR)
        return ik_xstrndup(obj->via.str.ptr, obj->via.str.size);
    if (obj->type == MSGPACK_OBJECT_BIN)
        return ik_xstrndup(obj->via.bin.ptr, obj->via.bin.size);
    return NULL;
}

bool ik_mp_number(const msgpack_object *obj, double *out)
{
    if (obj == NULL)
        return false;
    switch (obj->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)obj->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)obj->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = obj->via.f64;
        return true;
    default:
        return false;
    }
}

void ik_mp_pack_str(msgpack_packer *pk, const char *s) { ik_mp_pack_strn(pk, s, strlen(s)); }

void ik_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void ik_mp_pack_bin(msgpack_packer *pk, const void *data, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, data, n);
}

/* Bytewise order of map keys; non-string keys sort after strings by type. */
static int key_cmp(const void *a, const void *b)
{
    const msgpack_object_kv *x = a, *y = b;
    if (x->key.type != MSGPACK_OBJECT_STR || y->key.type != MSGPACK_OBJECT_STR)
        return (int)x->key.type - (int)y->key.type;
    uint32_t n = x->key.via.str.size < y->key.via.str.size ? x->key.via.str.size
                                                           : y->key.via.str.size;
    int c = memcmp(x->key.via.str.ptr, y->key.via.str.ptr, n);
    if (c != 0)
        return c;
    return (x->key.via.str.size > y->key.via.str.size) - (x->key.via.str.size < y->key.via.str.size);
}

void ik_mp_pack_canonical(msgpack_packer *pk, const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        msgpack_pack_double(pk, obj->via.f64);
        return;
    case MSGPACK_OBJECT_ARRAY:
        msgpack_pack_array(pk, obj->via.array.size);
        for (uint32_t i = 0; i < obj->via.array.size; i++)
            ik_mp_pack_canonical(pk, &obj->via.array.ptr[i]);
        return;
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = obj->via.map.size;
        msgpack_object_kv *kv = ik_xmalloc((n ? n : 1) * sizeof *kv);
        memcpy(kv, obj->via.map.ptr, n * sizeof *kv);
        qsort(kv, n, sizeof *kv, key_cmp);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            ik_mp_pack_canonical(pk, &kv[i].key);
            ik_mp_pack_canonical(pk, &kv[i].val);
        }
        free(kv);
        return;
    }
    default:
        msgpack_pack_object(pk, *obj);
        return;
    }
}

/* --- the writer ---------------------------------------------------------------- *
 *
 * The count check reads back the packed bytes instead of hooking every pack
 * call, so values may be packed with any msgpack-c or ik_mp_* function, or
 * copied in ready-made (engine/key.c appends canonical params). Each begun
 * frame counts the whole values after its header; before a nested begin its
 * parent counts up to the new header, and the nested end then credits the
 * parent with one value and moves it past the nested bytes, so every byte is
 * read once however deep the nesting. Only when a begin sits inside a map or
 * array packed directly (whose end the parent cannot see yet) does the parent
 * stop counting ahead ("stuck") and read the rest at its own end. */

void ik_mp_writer_init(struct ik_mp_writer *w)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    w->depth = 0;
}

#ifndef NDEBUG
static void check_closed(const struct ik_mp_writer *w)
{
    if (w->depth > 0) {
        const struct ik__mp_frame *f = &w->open[w->depth - 1];
        ik__assert_fail(f->map ? "msgpack map begun here is not ended"
                               : "msgpack array begun here is not ended",
                        f->file, f->line);
    }
}

static uint64_t big_endian(const unsigned char *p, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

/* Length of the one whole msgpack value at p[0..n), or 0 if it does not end
 * within n bytes. `need` counts the values still to read, so nesting costs no
 * recursion. */
static size_t value_len(const unsigned char *p, size_t n)
{
    size_t i = 0;
    uint64_t need = 1;
    while (need > 0) {
        if (i >= n)
            return 0;
        unsigned b = p[i++];
        need--;
        uint64_t skip = 0;     /* payload bytes */
        size_t len_bytes = 0;  /* big-endian length or count that follows */
        uint64_t per = 0;      /* values per counted item (1 array, 2 map); 0: bytes */
        uint64_t extra = 0;    /* ext type byte after the length */
        if (b <= 0x7f || b >= 0xe0)
            continue; /* fixint */
        if (b <= 0x8f) {
            need += 2u * (b & 0x0f); /* fixmap */
            continue;
        }
        if (b <= 0x9f) {
            need += b & 0x0f; /* fixarray */
            continue;
        }
        if (b <= 0xbf) {
            skip = b & 0x1f; /* fixstr */
        } else {
            switch (b) {
            case 0xc0: /* nil, false, true */
            case 0xc2:
            case 0xc3:
                continue;
            case 0xc4: /* bin, str */
            case 0xd9:
                len_bytes = 1;
                break;
            case 0xc5:
            case 0xda:
                len_bytes = 2;
                break;
            case 0xc6:
            case 0xdb:
                len_bytes = 4;
                break;
            case 0xc7: /* ext */
            case 0xc8:
            case 0xc9:
                len_bytes = (size_t)1 << (b - 0xc7);
                extra = 1;
                break;
            case 0xca: /* float32, float64 */
                skip = 4;
                break;
            case 0xcb:
                skip = 8;
                break;
            case 0xcc: /* uint, int */
            case 0xcd:
            case 0xce:
            case 0xcf:
                skip = (uint64_t)1 << (b - 0xcc);
                break;
            case 0xd0:
            case 0xd1:
            case 0xd2:
            case 0xd3:
                skip = (uint64_t)1 << (b - 0xd0);
                break;
            case 0xd4: /* fixext: type byte and 1..16 bytes */
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                skip = 1 + ((uint64_t)1 << (b - 0xd4));
                break;
            case 0xdc: /* array16, array32 */
            case 0xdd:
                len_bytes = b == 0xdc ? 2 : 4;
                per = 1;
                break;
            case 0xde: /* map16, map32 */
            case 0xdf:
                len_bytes = b == 0xde ? 2 : 4;
                per = 2;
                break;
            default: /* 0xc1, never used */
                return 0;
            }
        }
        if (len_bytes > 0) {
            if (n - i < len_bytes)
                return 0;
            uint64_t v = big_endian(p + i, len_bytes);
            i += len_bytes;
            if (per > 0) {
                need += per * v;
                continue;
            }
            skip = v + extra;
        }
        if (skip > n - i)
            return 0;
        i += (size_t)skip;
    }
    return i;
}

/* Counts the whole values from f->at to the end of the buffer; false if the
 * last one is unfinished (f->at then stays at its start). */
static bool count_ahead(const struct ik_mp_writer *w, struct ik__mp_frame *f)
{
    const unsigned char *p = (const unsigned char *)w->sb.data;
    while (f->at < w->sb.size) {
        size_t len = value_len(p + f->at, w->sb.size - f->at);
        if (len == 0)
            return false;
        f->at += len;
        f->got++;
    }
    return true;
}
#endif

void ik_mp_writer_clear(struct ik_mp_writer *w)
{
#ifndef NDEBUG
    check_closed(w);
#endif
    msgpack_sbuffer_clear(&w->sb);
}

char *ik_mp_writer_steal(struct ik_mp_writer *w, size_t *len)
{
#ifndef NDEBUG
    check_closed(w);
#endif
    *len = w->sb.size;
    return ik_xrealloc(msgpack_sbuffer_release(&w->sb), *len ? *len : 1);
}

void ik_mp_writer_free(struct ik_mp_writer *w)
{
    msgpack_sbuffer_destroy(&w->sb);
    w->depth = 0;
}

void ik__mp_begin(struct ik_mp_writer *w, size_t n, bool map, const char *file, int line)
{
#ifndef NDEBUG
    if (w->depth >= IK_MP_MAX_DEPTH)
        ik__assert_fail("msgpack maps and arrays begun deeper than IK_MP_MAX_DEPTH", file, line);
    if (w->depth > 0) {
        struct ik__mp_frame *up = &w->open[w->depth - 1];
        if (!up->stuck)
            up->stuck = !count_ahead(w, up);
    }
    size_t head = w->sb.size;
#endif
    if (map)
        msgpack_pack_map(&w->pk, n);
    else
        msgpack_pack_array(&w->pk, n);
#ifndef NDEBUG
    w->open[w->depth++] = (struct ik__mp_frame){
        .file = file,
        .line = line,
        .map = map,
        .want = map ? 2 * (uint64_t)n : (uint64_t)n,
        .at = w->sb.size,
        .head = head,
    };
#else
    (void)file, (void)line;
#endif
}

void ik__mp_end(struct ik_mp_writer *w, bool map, const char *file, int line)
{
#ifndef NDEBUG
    const char *fn = map ? "ik_mp_map_end" : "ik_mp_array_end";
    char msg[200];
    if (w->depth == 0) {
        snprintf(msg, sizeof msg, "%s without a begin", fn);
        ik__assert_fail(msg, file, line);
    }
    struct ik__mp_frame *f = &w->open[--w->depth];
    if (f->map != map) {
        snprintf(msg, sizeof msg, "msgpack %s begun here ended by %s (%s:%d)",
                 f->map ? "map" : "array", fn, file, line);
        ik__assert_fail(msg, f->file, f->line);
    }
    bool whole = count_ahead(w, f);
    if (!whole || f->got != f->want) {
        const char *unfinished = whole ? "" : " and an unfinished value";
        if (map)
            snprintf(msg, sizeof msg, "msgpack map of n=%llu entries holds %llu%s%s",
                     (unsigned long long)f->want / 2, (unsigned long long)f->got / 2,
                     f->got % 2 ? " and a key" : "", unfinished);
        else
            snprintf(msg, sizeof msg, "msgpack array of n=%llu items holds %llu%s",
                     (unsigned long long)f->want, (unsigned long long)f->got, unfinished);
        ik__assert_fail(msg, f->file, f->line);
    }
    if (w->depth > 0) {
        struct ik__mp_frame *up = &w->open[w->depth - 1];
        if (!up->stuck && up->at == f->head) {
            up->got++;
            up->at = w->sb.size;
        }
    }
#else
    (void)w, (void)map, (void)file, (void)line;
#endif
}
