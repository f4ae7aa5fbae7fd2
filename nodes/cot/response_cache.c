/* nodes/cot/response_cache.c - paid-for responses, kept for good: the body
 * of every successful response is stored under its request key in the
 * node's durable store (ik_node_kv_put of engine/node.h, namespace "cot";
 * gc keeps it). The request key covers what determines the answer
 * (provider, model, messages, sampling params) and nothing else: not
 * base_url (the same model behind another proxy gives the same answer) and
 * never the API key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "engine/node.h"
#include "nodes/cot/cot.h"

void ik_cot_request_key(const char *provider, const struct ik_cot_sampling *s,
                        const struct ik_cot_msg *m, size_t n, struct ik_hash *out)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    /* Keys in bytewise order, as ik_mp_pack_canonical would write them. */
    ik_mp_map_begin(&w, s->temperature >= 0 ? 6 : 5);
    ik_mp_pack_str(pk, "max_tokens");
    msgpack_pack_int64(pk, s->max_tokens);
    ik_mp_pack_str(pk, "messages");
    ik_mp_array_begin(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        ik_mp_map_begin(&w, 2);
        ik_mp_pack_str(pk, "content");
        ik_mp_pack_strn(pk, m[i].content, m[i].len);
        ik_mp_pack_str(pk, "role");
        ik_mp_pack_str(pk, m[i].role);
        ik_mp_map_end(&w);
    }
    ik_mp_array_end(&w);
    ik_mp_pack_str(pk, "model");
    ik_mp_pack_str(pk, s->model);
    ik_mp_pack_str(pk, "provider");
    ik_mp_pack_str(pk, provider);
    if (s->temperature >= 0) {
        ik_mp_pack_str(pk, "temperature");
        msgpack_pack_double(pk, s->temperature);
    }
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    ik_mp_map_end(&w);
    ik_hash_bytes(w.sb.data, w.sb.size, out);
    ik_mp_writer_free(&w);
}

int ik_cot_cache_get(struct ik_node_ctx *node, const struct ik_hash *key, char **body, size_t *len,
                     struct ik_diag *d)
{
    return ik_node_kv_get(node, IK_COT_KV_NS, key, body, len, d);
}

int ik_cot_cache_put(struct ik_node_ctx *node, const struct ik_hash *key, const char *body,
                     size_t len, struct ik_diag *d)
{
    return ik_node_kv_put(node, IK_COT_KV_NS, key, body, len, d);
}
