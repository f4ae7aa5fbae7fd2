/* nodes/train/checkpoint.c - checkpoint bytes (checkpoint.h). */
#include <stdint.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "lm/lora.h"
#include "nodes/train/checkpoint.h"
#include "nodes/train/loop.h"

enum { ROW_FIELDS = 8 };

static void pack_key(struct ik_mp_writer *w, const char *k) { ik_mp_pack_str(&w->pk, k); }

static void pack_rows(struct ik_mp_writer *w, const struct ik_train_state *st)
{
    ik_mp_array_begin(w, st->n_rows);
    for (size_t i = 0; i < st->n_rows; i++) {
        const struct ik_train_row *r = &st->rows[i];
        ik_mp_array_begin(w, ROW_FIELDS);
        if (r->valid)
            msgpack_pack_true(&w->pk);
        else
            msgpack_pack_false(&w->pk);
        msgpack_pack_int64(&w->pk, r->step);
        const double f[] = {r->epoch, r->loss, r->accuracy, r->lr, r->grad_norm, r->tokens_per_s};
        for (int k = 0; k < 6; k++)
            msgpack_pack_double(&w->pk, f[k]);
        ik_mp_array_end(w);
    }
    ik_mp_array_end(w);
}

void ik_train_checkpoint_pack(struct ik_mp_writer *w, const struct ik_train_state *st,
                              const struct ik_lora *a, long long epoch, long long batch)
{
    size_t bytes = a->n_params * sizeof(float);
    ik_mp_map_begin(w, 13);
    pack_key(w, "format");
    msgpack_pack_int(&w->pk, 1);
    pack_key(w, "step");
    msgpack_pack_int64(&w->pk, st->step);
    pack_key(w, "samples");
    msgpack_pack_uint64(&w->pk, st->samples);
    pack_key(w, "tokens");
    msgpack_pack_uint64(&w->pk, st->tokens);
    pack_key(w, "targets");
    msgpack_pack_uint64(&w->pk, st->targets);
    pack_key(w, "seconds");
    msgpack_pack_double(&w->pk, st->seconds);
    pack_key(w, "win");
    ik_mp_array_begin(w, 5);
    msgpack_pack_double(&w->pk, st->win_nll);
    msgpack_pack_uint64(&w->pk, st->win_targets);
    msgpack_pack_uint64(&w->pk, st->win_correct);
    msgpack_pack_uint64(&w->pk, st->win_tokens);
    msgpack_pack_double(&w->pk, st->win_seconds);
    ik_mp_array_end(w);
    pack_key(w, "cursor");
    ik_mp_map_begin(w, 2);
    pack_key(w, "epoch");
    msgpack_pack_long_long(&w->pk, epoch);
    pack_key(w, "batch");
    msgpack_pack_long_long(&w->pk, batch);
    ik_mp_map_end(w);
    pack_key(w, "rows");
    pack_rows(w, st);
    pack_key(w, "n_params");
    msgpack_pack_uint64(&w->pk, a->n_params);
    pack_key(w, "params");
    ik_mp_pack_bin(&w->pk, a->params, bytes);
    pack_key(w, "m");
    ik_mp_pack_bin(&w->pk, st->m, bytes);
    pack_key(w, "v");
    ik_mp_pack_bin(&w->pk, st->v, bytes);
    ik_mp_map_end(w);
}

/* ---- reading ---- */

static int bad(struct ik_diag *d, const char *field)
{
    return ik_diag_set(d, IK_ECORRUPT, "checkpoint: field '%s' is missing or malformed", field);
}

static int get_u64(const msgpack_object *o, uint64_t *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *out = o->via.u64;
    return 0;
}

static int get_f64(const msgpack_object *o, double *out)
{
    if (o == NULL || (o->type != MSGPACK_OBJECT_FLOAT64 && o->type != MSGPACK_OBJECT_FLOAT32))
        return -1;
    *out = o->via.f64;
    return 0;
}

static int get_floats(const msgpack_object *root, const char *key, float *dst, size_t n,
                      struct ik_diag *d)
{
    const msgpack_object *o = ik_mp_get(root, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n * sizeof(float))
        return bad(d, key);
    memcpy(dst, o->via.bin.ptr, n * sizeof(float));
    return 0;
}

static int load_rows(const msgpack_object *rows, struct ik_train_state *st, struct ik_diag *d)
{
    if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY)
        return bad(d, "rows");
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        const msgpack_object *r = &rows->via.array.ptr[i];
        if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != ROW_FIELDS ||
            r->via.array.ptr[0].type != MSGPACK_OBJECT_BOOLEAN)
            return bad(d, "rows");
        const msgpack_object *f = r->via.array.ptr;
        struct ik_train_row row = {.valid = f[0].via.boolean};
        uint64_t step;
        if (get_u64(&f[1], &step) || get_f64(&f[2], &row.epoch) || get_f64(&f[3], &row.loss) ||
            get_f64(&f[4], &row.accuracy) || get_f64(&f[5], &row.lr) ||
            get_f64(&f[6], &row.grad_norm) || get_f64(&f[7], &row.tokens_per_s))
            return bad(d, "rows");
        row.step = (int64_t)step;
        st->rows = ik_xgrow(st->rows, &st->rows_cap, st->n_rows + 1, sizeof *st->rows);
        st->rows[st->n_rows++] = row;
    }
    return 0;
}

static int load_root(const msgpack_object *root, struct ik_train_state *st, struct ik_lora *a,
                     struct ik_diag *d)
{
    uint64_t v = 0, step = 0, n_params = 0, u[3] = {0};
    const msgpack_object *win = ik_mp_get(root, "win");
    if (root->type != MSGPACK_OBJECT_MAP || get_u64(ik_mp_get(root, "format"), &v) || v != 1)
        return bad(d, "format");
    if (get_u64(ik_mp_get(root, "step"), &step) || step > INT64_MAX)
        return bad(d, "step");
    if (get_u64(ik_mp_get(root, "n_params"), &n_params) || n_params != a->n_params)
        return ik_diag_set(d, IK_ECORRUPT, "checkpoint: it holds %llu adapter values, the "
                           "adapter has %zu", (unsigned long long)n_params, a->n_params);
    if (get_u64(ik_mp_get(root, "samples"), &u[0]) || get_u64(ik_mp_get(root, "tokens"), &u[1]) ||
        get_u64(ik_mp_get(root, "targets"), &u[2]) ||
        get_f64(ik_mp_get(root, "seconds"), &st->seconds))
        return bad(d, "samples/tokens/targets/seconds");
    if (win == NULL || win->type != MSGPACK_OBJECT_ARRAY || win->via.array.size != 5 ||
        get_f64(&win->via.array.ptr[0], &st->win_nll) ||
        get_u64(&win->via.array.ptr[1], &st->win_targets) ||
        get_u64(&win->via.array.ptr[2], &st->win_correct) ||
        get_u64(&win->via.array.ptr[3], &st->win_tokens) ||
        get_f64(&win->via.array.ptr[4], &st->win_seconds))
        return bad(d, "win");
    st->step = (int64_t)step;
    st->samples = u[0], st->tokens = u[1], st->targets = u[2];
    int rc = load_rows(ik_mp_get(root, "rows"), st, d);
    if (rc == 0)
        rc = get_floats(root, "params", a->params, a->n_params, d);
    if (rc == 0)
        rc = get_floats(root, "m", st->m, a->n_params, d);
    if (rc == 0)
        rc = get_floats(root, "v", st->v, a->n_params, d);
    return rc;
}

int ik_train_checkpoint_load(const void *data, size_t len, struct ik_train_state *st,
                             struct ik_lora *a, struct ik_diag *d)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = ik_diag_set(d, IK_ECORRUPT, "checkpoint: not one msgpack value");
    else
        rc = load_root(&u.data, st, a, d);
    msgpack_unpacked_destroy(&u);
    return rc;
}
