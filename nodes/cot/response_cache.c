/* nodes/cot/response_cache.c - paid-for responses, kept for good: the body
 * of every successful response is a CAS object, and kv/cot/<request key>
 * names it (cache/kv.h; gc keeps both). The request key covers what
 * determines the answer (provider, model, messages, sampling params) and
 * nothing else: not base_url (the same model behind another proxy gives the
 * same answer) and never the API key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cas.h"
#include "cache/kv.h"
#include "base/mp.h"
#include "base/xmalloc.h"
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

int ik_cot_cache_get(struct ik_cache *c, const struct ik_hash *key, char **body, size_t *len,
                     struct ik_diag *d)
{
    struct ik_hash obj;
    int rc = ik_kv_get(c, IK_COT_KV_NS, key, &obj, d);
    if (rc != 0)
        return rc;
    struct ik_blob b;
    rc = ik_cas_map(c, &obj, UINT64_MAX, &b, d);
    if (rc != 0)
        return rc;
    *body = ik_xstrndup((const char *)b.data, b.len);
    *len = b.len;
    ik_blob_release(&b);
    return 0;
}

int ik_cot_cache_put(struct ik_cache *c, const struct ik_hash *key, const char *body, size_t len,
                     struct ik_diag *d)
{
    struct ik_hash obj;
    int rc = ik_cas_put(c, body, len, &obj, d);
    if (rc == 0)
        rc = ik_kv_put(c, IK_COT_KV_NS, key, &obj, d);
    return rc;
}
