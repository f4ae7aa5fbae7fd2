/* engine/key.c - canonical spec objects and node keys (see key.h). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "engine/key.h"
#include "base/mp.h"
#include "base/xmalloc.h"

static int input_cmp(const void *a, const void *b)
{
    const struct ik_key_input *x = a, *y = b;
    return strcmp(x->port, y->port);
}

static void pack_inputs(struct ik_mp_writer *w, const struct ik_key_input *inputs, size_t n)
{
    msgpack_packer *pk = &w->pk;
    struct ik_key_input *sorted = ik_xmalloc((n ? n : 1) * sizeof *sorted);
    if (n > 0)
        memcpy(sorted, inputs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, input_cmp);
    ik_mp_map_begin(w, n);
    for (size_t i = 0; i < n; i++) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&sorted[i].hash, hex);
        ik_mp_pack_str(pk, sorted[i].port);
        ik_mp_map_begin(w, 2);
        ik_mp_pack_str(pk, "hash");
        ik_mp_pack_str(pk, hex);
        ik_mp_pack_str(pk, "size");
        msgpack_pack_uint64(pk, sorted[i].size);
        ik_mp_map_end(w);
    }
    ik_mp_map_end(w);
    free(sorted);
}

void ik_key_spec(const struct ik_graph_node *n, const struct ik_key_input *inputs, char **spec,
                 size_t *spec_len, struct ik_hash *key)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    /* Keys in bytewise order, so the map itself is canonical. */
    ik_mp_map_begin(&w, 5);
    ik_mp_pack_str(pk, "inputs");
    pack_inputs(&w, inputs, n->n_inputs);
    ik_mp_pack_str(pk, "params");
    msgpack_sbuffer_write(&w.sb, n->params_mp, n->params_len); /* already canonical */
    ik_mp_pack_str(pk, "type");
    ik_mp_pack_str(pk, n->type->name);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    ik_mp_pack_str(pk, "version");
    msgpack_pack_int(pk, n->type->version);
    ik_mp_map_end(&w);
    ik_hash_bytes(w.sb.data, w.sb.size, key);
    /* Trimmed by steal: a plan keeps one spec per node. */
    *spec = ik_mp_writer_steal(&w, spec_len);
}
