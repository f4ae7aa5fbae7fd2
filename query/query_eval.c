/* query/query_eval.c - evaluating parsed paths and --where expressions
 * (query.h) against borrowed msgpack records, without allocating. */
#include <stdint.h>
#include <string.h>

#include "query/query.h"
#include "query/query_int.h"

const msgpack_object *ik_qpath_get(const struct ik_qpath *p, const msgpack_object *root)
{
    const msgpack_object *cur = root;
    for (size_t i = 0; i < p->n && cur != NULL; i++) {
        const struct seg *s = &p->segs[i];
        if (s->is_index) {
            if (cur->type != MSGPACK_OBJECT_ARRAY)
                return NULL;
            long long n = cur->via.array.size, k = s->index < 0 ? n + s->index : s->index;
            cur = k >= 0 && k < n ? &cur->via.array.ptr[k] : NULL;
        } else {
            if (cur->type != MSGPACK_OBJECT_MAP)
                return NULL;
            const msgpack_object *next = NULL;
            for (uint32_t j = 0; j < cur->via.map.size; j++) {
                const msgpack_object *k = &cur->via.map.ptr[j].key;
                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == s->key_len &&
                    memcmp(k->via.str.ptr, s->key, s->key_len) == 0) {
                    next = &cur->via.map.ptr[j].val;
                    break;
                }
            }
            cur = next;
        }
    }
    return cur;
}

/* ---- evaluation ---- */

static const msgpack_object nil_obj = {.type = MSGPACK_OBJECT_NIL};

static bool is_int(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static bool is_num(const msgpack_object *o)
{
    return is_int(o) || o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
}

static double num_of(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (double)o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return (double)o->via.i64;
    return o->via.f64;
}

/* Orders two numbers or two strings: -1/0/1 in *res; false if incomparable. */
static bool order(const msgpack_object *a, const msgpack_object *b, int *res)
{
    if (is_int(a) && is_int(b)) {
        /* A positive integer is >= 0 and a negative one < 0 (msgpack-c invariant). */
        if (a->type != b->type)
            *res = a->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? 1 : -1;
        else if (a->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            *res = (a->via.u64 > b->via.u64) - (a->via.u64 < b->via.u64);
        else
            *res = (a->via.i64 > b->via.i64) - (a->via.i64 < b->via.i64);
        return true;
    }
    if (is_num(a) && is_num(b)) {
        double x = num_of(a), y = num_of(b);
        if (x != x || y != y)
            return false; /* NaN is unordered */
        *res = (x > y) - (x < y);
        return true;
    }
    if (a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR) {
        uint32_t n = a->via.str.size < b->via.str.size ? a->via.str.size : b->via.str.size;
        int c = n ? memcmp(a->via.str.ptr, b->via.str.ptr, n) : 0;
        *res = c ? (c > 0) - (c < 0)
                 : (a->via.str.size > b->via.str.size) - (a->via.str.size < b->via.str.size);
        return true;
    }
    return false;
}

bool ik_query_equal(const msgpack_object *a, const msgpack_object *b)
{
    if (a == NULL)
        a = &nil_obj;
    if (b == NULL)
        b = &nil_obj;
    int r;
    if (is_num(a) && is_num(b))
        return order(a, b, &r) && r == 0;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL: return true;
    case MSGPACK_OBJECT_BOOLEAN: return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        return a->via.str.size == b->via.str.size &&
               (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
    case MSGPACK_OBJECT_EXT:
        return a->via.ext.type == b->via.ext.type && a->via.ext.size == b->via.ext.size &&
               (a->via.ext.size == 0 || memcmp(a->via.ext.ptr, b->via.ext.ptr, a->via.ext.size) == 0);
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size)
            return false;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!ik_query_equal(&a->via.array.ptr[i], &b->via.array.ptr[i]))
                return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        if (a->via.map.size != b->via.map.size)
            return false;
        for (uint32_t i = 0; i < a->via.map.size; i++) {
            const msgpack_object *bv = NULL;
            for (uint32_t j = 0; j < b->via.map.size && bv == NULL; j++)
                if (ik_query_equal(&a->via.map.ptr[i].key, &b->via.map.ptr[j].key))
                    bv = &b->via.map.ptr[j].val;
            if (bv == NULL || !ik_query_equal(&a->via.map.ptr[i].val, bv))
                return false;
        }
        return true;
    default: return false;
    }
}

static bool contains(const msgpack_object *a, const msgpack_object *b)
{
    if (a == NULL || b == NULL)
        return false;
    if (a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR)
        return b->via.str.size == 0 ||
               memmem(a->via.str.ptr, a->via.str.size, b->via.str.ptr, b->via.str.size) != NULL;
    if (a->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (ik_query_equal(&a->via.array.ptr[i], b))
                return true;
        return false;
    }
    if (a->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < a->via.map.size; i++)
            if (ik_query_equal(&a->via.map.ptr[i].key, b))
                return true;
    }
    return false;
}

static bool truthy(const msgpack_object *o)
{
    if (o == NULL)
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return false;
    case MSGPACK_OBJECT_BOOLEAN: return o->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return o->via.u64 != 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return o->via.f64 != 0;
    case MSGPACK_OBJECT_STR: return o->via.str.size > 0;
    case MSGPACK_OBJECT_BIN: return o->via.bin.size > 0;
    case MSGPACK_OBJECT_ARRAY: return o->via.array.size > 0;
    case MSGPACK_OBJECT_MAP: return o->via.map.size > 0;
    default: return true;
    }
}

static bool eval_bool(const struct node *n, const msgpack_object *rec);

/* The value of n: a borrowed object, NULL for a missing field, or a boolean
 * written into *tmp. */
static const msgpack_object *eval_value(const struct node *n, const msgpack_object *rec,
                                        msgpack_object *tmp)
{
    switch (n->type) {
    case N_PATH: return ik_qpath_get(n->path, rec);
    case N_LIT: return &n->lit;
    default:
        tmp->type = MSGPACK_OBJECT_BOOLEAN;
        tmp->via.boolean = eval_bool(n, rec);
        return tmp;
    }
}

static bool eval_bool(const struct node *n, const msgpack_object *rec)
{
    msgpack_object ta, tb;
    switch (n->type) {
    case N_OR: return eval_bool(n->a, rec) || eval_bool(n->b, rec);
    case N_AND: return eval_bool(n->a, rec) && eval_bool(n->b, rec);
    case N_NOT: return !eval_bool(n->a, rec);
    case N_CMP: {
        const msgpack_object *a = eval_value(n->a, rec, &ta), *b = eval_value(n->b, rec, &tb);
        int r;
        switch (n->op) {
        case OP_EQ: return ik_query_equal(a, b);
        case OP_NE: return !ik_query_equal(a, b);
        case OP_CONTAINS: return contains(a, b);
        default: break;
        }
        if (a == NULL || b == NULL || !order(a, b, &r))
            return false;
        switch (n->op) {
        case OP_LT: return r < 0;
        case OP_GT: return r > 0;
        case OP_LE: return r <= 0;
        default: return r >= 0;
        }
    }
    default: return truthy(eval_value(n, rec, &ta));
    }
}

bool ik_query_match(const struct ik_query *q, const msgpack_object *record)
{
    return eval_bool(q->root, record);
}
