/* base/mp.c - msgpack-c object helpers and canonical packing. */
#include <stdlib.h>
#include <string.h>

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
