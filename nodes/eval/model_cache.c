/* nodes/eval/model_cache.c - every answer a model gave, kept in the node's
 * kv store (namespace IK_EVAL_KV_NS) the moment it exists, so a killed
 * evaluation asks nothing twice. The key covers what determines the answer:
 * the backend, the model's identity (model_int.h), the messages and the
 * generation params; never the server's URL or API key. The value is a small
 * msgpack map of the answer's fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/eval/model_int.h"

#define VALUE_VERSION 1

void ik__eval_answer_key(const struct ik_eval_model *m, const struct ik_eval_prompt *p,
                         struct ik_hash *out)
{
    const struct ik_eval_model_spec *s = &m->spec;
    bool sampled = s->temperature > 0;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    /* Keys in bytewise order, as ik_mp_pack_canonical would write them. */
    ik_mp_map_begin(&w, sampled ? 8 : 7);
    ik_mp_pack_str(pk, "backend");
    ik_mp_pack_str(pk, m->ops->name);
    ik_mp_pack_str(pk, "identity");
    ik_mp_pack_str(pk, m->identity ? m->identity : "");
    /* Shortening depends on where the documents are: the labels count. */
    ik_mp_pack_str(pk, "labels");
    ik_mp_array_begin(&w, 2);
    ik_mp_pack_str(pk, p->doc_label ? p->doc_label : "");
    ik_mp_pack_str(pk, p->question_label ? p->question_label : "");
    ik_mp_array_end(&w);
    ik_mp_pack_str(pk, "max_new_tokens");
    msgpack_pack_int64(pk, s->max_new_tokens);
    ik_mp_pack_str(pk, "messages");
    ik_mp_array_begin(&w, (uint32_t)p->n_msgs);
    for (size_t i = 0; i < p->n_msgs; i++) {
        ik_mp_map_begin(&w, 2);
        ik_mp_pack_str(pk, "content");
        ik_mp_pack_strn(pk, p->msgs[i].content, p->msgs[i].len);
        ik_mp_pack_str(pk, "role");
        ik_mp_pack_str(pk, p->msgs[i].role);
        ik_mp_map_end(&w);
    }
    ik_mp_array_end(&w);
    if (sampled) {
        ik_mp_pack_str(pk, "seed");
        msgpack_pack_uint64(pk, s->seed + p->index);
    }
    ik_mp_pack_str(pk, "temperature");
    msgpack_pack_double(pk, s->temperature);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, VALUE_VERSION);
    ik_mp_map_end(&w);
    ik_hash_bytes(w.sb.data, w.sb.size, out);
    ik_mp_writer_free(&w);
}

int ik__eval_answer_put(struct ik_node_ctx *node, const struct ik_hash *key,
                        const struct ik_eval_answer *a, struct ik_diag *d)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    ik_mp_map_begin(&w, 6);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, VALUE_VERSION);
    ik_mp_pack_str(pk, "text");
    ik_mp_pack_str(pk, a->text ? a->text : "");
    ik_mp_pack_str(pk, "hit_max_tokens");
    msgpack_pack_int(pk, a->hit_max_tokens); /* as 0/1: fixed-size, version-proof */
    ik_mp_pack_str(pk, "prompt_shortened");
    msgpack_pack_int(pk, a->prompt_shortened);
    ik_mp_pack_str(pk, "prompt_tokens");
    msgpack_pack_int64(pk, a->prompt_tokens);
    ik_mp_pack_str(pk, "new_tokens");
    msgpack_pack_int64(pk, a->new_tokens);
    ik_mp_map_end(&w);
    int rc = ik_node_kv_put(node, IK_EVAL_KV_NS, key, w.sb.data, w.sb.size, d);
    ik_mp_writer_free(&w);
    return rc;
}

static int64_t int_field(const msgpack_object *map, const char *name, bool *ok)
{
    double x = 0;
    if (!ik_mp_number(ik_mp_get(map, name), &x))
        *ok = false;
    return (int64_t)x;
}

/* The answer stored in value, or false when it is not one of ours. */
static bool decode(const char *value, size_t len, struct ik_eval_answer *a)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    bool ok = msgpack_unpack_next(&u, value, len, &off) == MSGPACK_UNPACK_SUCCESS &&
              off == len && u.data.type == MSGPACK_OBJECT_MAP;
    const msgpack_object *text = ok ? ik_mp_get(&u.data, "text") : NULL;
    ok = ok && text && text->type == MSGPACK_OBJECT_STR &&
         memchr(text->via.str.ptr, '\0', text->via.str.size) == NULL;
    if (ok) {
        bool v_ok = true;
        ok = int_field(&u.data, "v", &v_ok) == VALUE_VERSION && v_ok;
        a->hit_max_tokens = int_field(&u.data, "hit_max_tokens", &ok) != 0;
        a->prompt_shortened = int_field(&u.data, "prompt_shortened", &ok) != 0;
        a->prompt_tokens = int_field(&u.data, "prompt_tokens", &ok);
        a->new_tokens = int_field(&u.data, "new_tokens", &ok);
    }
    if (ok) {
        a->text = ik_mp_strdup(text);
        a->from_cache = true;
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

int ik__eval_answer_get(struct ik_node_ctx *node, const struct ik_hash *key,
                        struct ik_eval_answer *a, struct ik_diag *d)
{
    char *value = NULL;
    size_t len = 0;
    int rc = ik_node_kv_get(node, IK_EVAL_KV_NS, key, &value, &len, d);
    if (rc != 0)
        return rc;
    struct ik_eval_answer got = {0};
    bool ok = decode(value, len, &got);
    free(value);
    if (!ok)
        return -ENOENT;
    *a = got;
    return 0;
}
