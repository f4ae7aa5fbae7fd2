/* lm/model_gguf_nemotron_h.c - NemotronH as llama.cpp's nemotron_h GGUF
 * architecture, both ways (lm/model_gguf.h has the layout): the keys
 * llama.cpp's converter writes (conversion/nemotron.py, mamba.py) and its
 * loader reads (src/models/nemotron-h.cpp), where a layer is Mamba-2 iff its
 * head_count_kv and feed_forward_length are both 0, attention iff only its
 * feed_forward_length is; and the Mamba-2 tensors converted as the converter
 * does: A stored as -exp(A_log), the conv weight squeezed to {Kc, conv_dim},
 * the gated norm shaped {d_inner/G, G}, A and D as {1, nh}. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/config.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/model.h"
#include "lm/model_gguf_int.h"

#define ARCH "nemotron_h"

/* The SSD chunk when a file does not say (config_nemotron_h.c's default). */
#define DEFAULT_CHUNK 128

/* ---- writing ---- */

static const char *key(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, ARCH ".%s", name);
    return buf;
}

/* One value per layer: v where layer l's block is b, else 0. */
static void per_layer(struct ik_gguf_writer *w, const struct ik_lm_config *c, const char *name,
                      int b, int v)
{
    int32_t *a = ik_xmalloc((size_t)c->L * sizeof *a);
    char k[96];
    for (int l = 0; l < c->L; l++)
        a[l] = ik_lm_config_block(c, l) == b ? v : 0;
    ik_gguf_w_arr_i32(w, key(k, sizeof k, name), a, (size_t)c->L);
    free(a);
}

void ik_lm_gguf_nemotron_h_hparams(struct ik_gguf_writer *w, const struct ik_lm_config *c)
{
    const struct ik_lm_ssm_config *s = &c->ssm;
    char k[96];
    ik_gguf_w_u32(w, key(k, sizeof k, "vocab_size"), (uint32_t)c->V);
    ik_gguf_w_u32(w, key(k, sizeof k, "context_length"), (uint32_t)c->max_seq);
    ik_gguf_w_u32(w, key(k, sizeof k, "embedding_length"), (uint32_t)c->D);
    ik_gguf_w_u32(w, key(k, sizeof k, "block_count"), (uint32_t)c->L);
    /* head_count stays one number: llama.cpp takes the head size from layer 0's. */
    ik_gguf_w_u32(w, key(k, sizeof k, "attention.head_count"), (uint32_t)c->H);
    per_layer(w, c, "attention.head_count_kv", IK_LM_BLOCK_ATTN, c->K);
    per_layer(w, c, "feed_forward_length", IK_LM_BLOCK_MLP, c->F);
    ik_gguf_w_u32(w, key(k, sizeof k, "attention.key_length"), (uint32_t)c->head_dim);
    ik_gguf_w_u32(w, key(k, sizeof k, "attention.value_length"), (uint32_t)c->head_dim);
    /* llama.cpp requires the plain epsilon and uses the RMS one when present. */
    ik_gguf_w_f32(w, key(k, sizeof k, "attention.layer_norm_epsilon"), c->norm_eps);
    ik_gguf_w_f32(w, key(k, sizeof k, "attention.layer_norm_rms_epsilon"), c->norm_eps);
    ik_gguf_w_u32(w, key(k, sizeof k, "ssm.conv_kernel"), (uint32_t)s->conv_kernel);
    ik_gguf_w_u32(w, key(k, sizeof k, "ssm.inner_size"), (uint32_t)ik_lm_ssm_inner(c));
    ik_gguf_w_u32(w, key(k, sizeof k, "ssm.state_size"), (uint32_t)s->state);
    ik_gguf_w_u32(w, key(k, sizeof k, "ssm.time_step_rank"), (uint32_t)s->heads);
    ik_gguf_w_u32(w, key(k, sizeof k, "ssm.group_count"), (uint32_t)s->groups);
    /* Ours, ignored by llama.cpp: the chunk of the SSD form, so the forward
     * of the file is the folder's to the bit. */
    ik_gguf_w_u32(w, "ikada.ssm.chunk_size", (uint32_t)s->chunk);
}

/* ik_gguf_fill_fn: A = -exp(A_log). */
static void fill_neg_exp(void *ctx, uint64_t first, size_t n, float *dst)
{
    const float *a_log = ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)-exp((double)a_log[first + i]);
}

/* ik_gguf_fill_fn: zeros (the conv bias of a model without one: llama.cpp
 * always adds it). */
static void fill_zero(void *ctx, uint64_t first, size_t n, float *dst)
{
    (void)ctx;
    (void)first;
    for (size_t i = 0; i < n; i++)
        dst[i] = 0;
}

static void mamba_tensors(struct ik_gguf_writer *w, const struct ik_lm_config *c,
                          const struct ik_lm_layer *y, int l, uint32_t type)
{
    uint64_t nh = (uint64_t)c->ssm.heads, inner = (uint64_t)ik_lm_ssm_inner(c);
    uint64_t conv = (uint64_t)ik_lm_ssm_conv_dim(c), G = (uint64_t)c->ssm.groups;
    char n[64];
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%d.%s", l, suffix), n)
    ik_lm_gguf_put(w, NAME("ssm_in.weight"), type, y->ssm_in, (size_t)ik_lm_ssm_in_dim(c),
                   (size_t)c->D, NULL, 0);
    /* The converter keeps the conv, A, D and the norm in F32 whatever the type. */
    ik_gguf_w_tensor(w, NAME("ssm_conv1d.weight"), IK_GGML_F32, 2,
                     (uint64_t[]){(uint64_t)c->ssm.conv_kernel, conv}, y->conv_w);
    if (y->conv_b)
        ik_gguf_w_tensor(w, NAME("ssm_conv1d.bias"), IK_GGML_F32, 1, &conv, y->conv_b);
    else
        ik_gguf_w_tensor_fn(w, NAME("ssm_conv1d.bias"), IK_GGML_F32, 1, &conv, fill_zero, NULL);
    ik_gguf_w_tensor(w, NAME("ssm_dt.bias"), IK_GGML_F32, 1, &nh, y->dt_bias);
    ik_gguf_w_tensor_fn(w, NAME("ssm_a"), IK_GGML_F32, 2, (uint64_t[]){1, nh}, fill_neg_exp,
                        y->A_log);
    ik_gguf_w_tensor(w, NAME("ssm_d"), IK_GGML_F32, 2, (uint64_t[]){1, nh}, y->ssm_D);
    ik_gguf_w_tensor(w, NAME("ssm_norm.weight"), IK_GGML_F32, 2, (uint64_t[]){inner / G, G},
                     y->ssm_norm);
    ik_lm_gguf_put(w, NAME("ssm_out.weight"), type, y->ssm_out, (size_t)c->D, (size_t)inner, NULL,
                   0);
#undef NAME
}

void ik_lm_gguf_nemotron_h_layer(struct ik_gguf_writer *w, const struct ik_lm_model *m, int l,
                                 uint32_t type, struct ik_lm_gguf_perm *perms)
{
    const struct ik_lm_config *c = &m->cfg;
    const struct ik_lm_layer *y = &m->layers[l];
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    char n[64];
#define T(suffix, src, out, in, p) \
    (snprintf(n, sizeof n, "blk.%d.%s", l, suffix), ik_lm_gguf_put(w, n, type, src, out, in, p, c->head_dim))
    T("attn_norm.weight", y->attn_norm, D, 0, NULL);
    switch (y->block) {
    case IK_LM_BLOCK_ATTN:
        /* Without RoPE the q/k row order changes nothing, but the converter
         * permutes them as for llama (LlamaModel.permute) and a LoRA lora_b
         * must match the base's rows: so do we. */
        T("attn_q.weight", y->wq, qw, D, &perms[0]);
        T("attn_k.weight", y->wk, kw, D, &perms[1]);
        T("attn_v.weight", y->wv, kw, D, NULL);
        T("attn_output.weight", y->wo, D, qw, NULL);
        break;
    case IK_LM_BLOCK_MLP:
        T("ffn_up.weight", y->w_up, F, D, NULL);
        T("ffn_down.weight", y->w_down, D, F, NULL);
        break;
    default:
        mamba_tensors(w, c, y, l, type);
        break;
    }
#undef T
}

/* ---- reading ---- */

static int get_int(const struct ik_gguf *g, const char *name, int dflt, int lo, int hi, int *out,
                   struct ik_diag *d)
{
    return ik_lm_gguf_get_int(g, ARCH, name, dflt, lo, hi, out, d);
}

/* "nemotron_h.<name>", one value per layer in [0, hi]: an array of L i32 or
 * u32, or one integer for every layer (as llama.cpp's get_key_or_arr);
 * absent: dflt everywhere. */
static int per_layer_get(const struct ik_gguf *g, const char *name, int L, int dflt, int hi,
                         int *out, struct ik_diag *d)
{
    char k[96];
    const struct ik_gguf_kv *kv = ik_gguf_find(g, key(k, sizeof k, name));
    if (kv == NULL || kv->type != IK_GGUF_ARR) {
        int v, rc = get_int(g, name, dflt, 0, hi, &v, d);
        for (int l = 0; rc == 0 && l < L; l++)
            out[l] = v;
        return rc;
    }
    if (kv->elem_type != IK_GGUF_I32 && kv->elem_type != IK_GGUF_U32)
        return ik_gguf_invalid(g, d, "key '%s' is an array of %s, expected i32 or u32 (one per "
                               "layer)", k, ik_gguf_type_name(kv->elem_type));
    struct ik_gguf_rd r;
    uint64_t n;
    int rc = ik_gguf_get_arr(g, k, kv->elem_type, &r, &n, d);
    if (rc != 0)
        return rc;
    if (n != (uint64_t)L)
        return ik_gguf_invalid(g, d, "key '%s' has %" PRIu64 " entries, but block_count is %d", k,
                               n, L);
    for (int l = 0; l < L; l++) {
        uint64_t u = ik_gguf_rd_uint(&r, 4);
        int64_t v = kv->elem_type == IK_GGUF_I32 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
        if (v < 0 || v > hi)
            return ik_gguf_invalid(g, d, "key '%s'[%d] is %" PRId64 ", outside [0, %d]", k, l, v,
                                   hi);
        out[l] = (int)v;
    }
    return 0;
}

/* The value every layer of block b has in vals, or -1 when none has it;
 * IK_EVALIDATE naming the key when two layers differ (one width per model). */
static int common(const struct ik_gguf *g, const struct ik_lm_config *c, const int *vals, int b,
                  const char *name, int *out, struct ik_diag *d)
{
    int first = -1;
    *out = -1;
    for (int l = 0; l < c->L; l++) {
        if (c->block[l] != b)
            continue;
        if (first >= 0 && vals[l] != *out)
            return ik_gguf_invalid(g, d, "key '" ARCH ".%s' is %d at layer %d but %d at layer %d: "
                                   "one value for every such layer is supported", name, *out,
                                   first, vals[l], l);
        if (first < 0)
            first = l, *out = vals[l];
    }
    return 0;
}

/* Each layer's mixer, as llama.cpp decides it, then K and F from the
 * attention and MLP layers. A model without attention gets K = H
 * (llama.cpp's default); one without an MLP layer F = 1: neither is used. */
static int read_blocks(const struct ik_gguf *g, struct ik_lm_config *c, struct ik_diag *d)
{
    int *kv = ik_xmalloc((size_t)c->L * sizeof *kv), *ff = ik_xmalloc((size_t)c->L * sizeof *ff);
    int rc = per_layer_get(g, "attention.head_count_kv", c->L, c->H, IK_LM_MAX_HEADS, kv, d);
    if (rc == 0)
        rc = per_layer_get(g, "feed_forward_length", c->L, 0, IK_LM_MAX_FFN, ff, d);
    for (int l = 0; rc == 0 && l < c->L; l++)
        c->block[l] = (unsigned char)(ff[l] != 0   ? IK_LM_BLOCK_MLP
                                      : kv[l] != 0 ? IK_LM_BLOCK_ATTN
                                                   : IK_LM_BLOCK_MAMBA);
    if (rc == 0)
        rc = common(g, c, kv, IK_LM_BLOCK_ATTN, "attention.head_count_kv", &c->K, d);
    if (rc == 0)
        rc = common(g, c, ff, IK_LM_BLOCK_MLP, "feed_forward_length", &c->F, d);
    free(kv);
    free(ff);
    if (rc != 0)
        return rc;
    c->K = c->K < 0 ? c->H : c->K;
    c->F = c->F < 0 ? 1 : c->F;
    if (c->H % c->K != 0)
        return ik_gguf_invalid(g, d, "key '" ARCH ".attention.head_count' %d is not a multiple of "
                               "head_count_kv %d", c->H, c->K);
    return 0;
}

static int read_ssm(const struct ik_gguf *g, struct ik_lm_config *c, struct ik_diag *d)
{
    struct ik_lm_ssm_config *s = &c->ssm;
    int inner = 0, rc;
    if ((rc = get_int(g, "ssm.conv_kernel", -1, 1, IK_LM_MAX_CONV_KERNEL, &s->conv_kernel, d)) ||
        (rc = get_int(g, "ssm.inner_size", -1, 1, IK_LM_MAX_SSM_HEADS * IK_LM_MAX_SSM_HEAD_DIM,
                      &inner, d)) ||
        (rc = get_int(g, "ssm.state_size", -1, 1, IK_LM_MAX_SSM_STATE, &s->state, d)) ||
        (rc = get_int(g, "ssm.time_step_rank", -1, 1, IK_LM_MAX_SSM_HEADS, &s->heads, d)) ||
        (rc = get_int(g, "ssm.group_count", -1, 1, IK_LM_MAX_SSM_HEADS, &s->groups, d)))
        return rc;
    if (inner % s->heads != 0 || inner / s->heads > IK_LM_MAX_SSM_HEAD_DIM || s->heads % s->groups)
        return ik_gguf_invalid(g, d, "keys '" ARCH ".ssm.*': inner_size %d must be a multiple of "
                               "time_step_rank %d (the heads, of at most %d channels), and the "
                               "heads of group_count %d", inner, s->heads, IK_LM_MAX_SSM_HEAD_DIM,
                               s->groups);
    s->head_dim = inner / s->heads;
    s->chunk = DEFAULT_CHUNK;
    if (ik_gguf_find(g, "ikada.ssm.chunk_size")) {
        uint64_t v;
        if ((rc = ik_gguf_get_uint(g, "ikada.ssm.chunk_size", &v, d)) != 0)
            return rc;
        if (v < 1 || v > 1 << 20)
            return ik_gguf_invalid(g, d, "key 'ikada.ssm.chunk_size' is %" PRIu64 ", outside "
                                   "[1, %d]", v, 1 << 20);
        s->chunk = (int)v;
    }
    return 0;
}

/* The norm epsilon: the RMS key when present, else the plain one llama.cpp requires. */
static int read_eps(const struct ik_gguf *g, struct ik_lm_config *c, struct ik_diag *d)
{
    char k[96];
    key(k, sizeof k, "attention.layer_norm_rms_epsilon");
    if (ik_gguf_find(g, k) == NULL)
        key(k, sizeof k, "attention.layer_norm_epsilon");
    int rc = ik_gguf_get_f32(g, k, &c->norm_eps, d);
    if (rc == 0 && !(c->norm_eps > 0 && isfinite(c->norm_eps)))
        rc = ik_gguf_invalid(g, d, "key '%s' is %g, expected a positive number", k,
                             (double)c->norm_eps);
    return rc;
}

int ik_lm_gguf_nemotron_h_config(const struct ik_gguf *g, struct ik_lm_config *c,
                                 struct ik_diag *d)
{
    int rc, value_len = 0;
    if ((rc = get_int(g, "block_count", -1, 1, IK_LM_MAX_HYBRID_LAYERS, &c->L, d)) ||
        (rc = get_int(g, "embedding_length", -1, 1, IK_LM_MAX_HIDDEN, &c->D, d)) ||
        (rc = get_int(g, "attention.head_count", -1, 1, IK_LM_MAX_HEADS, &c->H, d)) ||
        (rc = get_int(g, "attention.key_length", c->D / c->H > 0 ? c->D / c->H : 1, 1,
                      IK_LM_MAX_HEAD_DIM, &c->head_dim, d)) ||
        (rc = get_int(g, "attention.value_length", c->head_dim, 1, IK_LM_MAX_HEAD_DIM, &value_len,
                      d)) ||
        (rc = get_int(g, "context_length", -1, 1, 1 << 30, &c->max_seq, d)) ||
        (rc = read_eps(g, c, d)) || (rc = read_blocks(g, c, d)) || (rc = read_ssm(g, c, d)))
        return rc;
    if (value_len != c->head_dim)
        return ik_gguf_invalid(g, d, "key '" ARCH ".attention.value_length' %d differs from "
                               "key_length %d", value_len, c->head_dim);
    c->no_rope = 1;
    c->rope_theta = 10000.0f; /* unused: no RoPE */
    return 0;
}

int ik_lm_gguf_a_log(const struct ik_gguf *g, const char *name, float *a, size_t n,
                     struct ik_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] < 0 && isfinite(a[i])))
            return ik_gguf_invalid(g, d, "tensor '%s' holds %g at %zu: A = -exp(A_log) must be "
                                   "negative and finite", name, (double)a[i], i);
        a[i] = (float)log(-(double)a[i]);
    }
    return 0;
}
