/* lm/model_gguf_read.c - a GGUF base model (llama, qwen2, qwen3; model_gguf.h)
 * as an fp32 ik_lm_model: the config from the <arch>.* keys and the tensor
 * shapes, every tensor checked (present, shaped, of a type we convert) before
 * the arena is allocated, then F32/F16/BF16/Q8_0 data widened to fp32 and the
 * llama architecture's q/k rows put back into rotate_half order. The file is
 * mapped; each message names it and the key or tensor at fault. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/file.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/model_gguf_int.h"
#include "lm/safetensors.h" /* ik_f16_to_f32, ik_bf16_to_f32 */

/* ---- the config ---- */

int ik_lm_gguf_get_int(const struct ik_gguf *g, const char *arch, const char *name, int dflt,
                       int lo, int hi, int *out, struct ik_diag *d)
{
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, name);
    if (ik_gguf_find(g, k) == NULL && dflt >= 0) {
        *out = dflt;
        return 0;
    }
    uint64_t v;
    int rc = ik_gguf_get_uint(g, k, &v, d);
    if (rc != 0)
        return rc;
    if (v < (uint64_t)lo || v > (uint64_t)hi)
        return ik_gguf_invalid(g, d, "key '%s' is %" PRIu64 ", outside [%d, %d]", k, v, lo, hi);
    *out = (int)v;
    return 0;
}

static int get_f32(const struct ik_gguf *g, const char *k, float dflt, float *out,
                   struct ik_diag *d)
{
    if (ik_gguf_find(g, k) == NULL) {
        *out = dflt;
        return 0;
    }
    int rc = ik_gguf_get_f32(g, k, out, d);
    if (rc == 0 && !(isfinite(*out) && *out > 0))
        rc = ik_gguf_invalid(g, d, "key '%s' is %g, expected a positive number", k, (double)*out);
    return rc;
}

static int read_arch(const struct ik_gguf *g, struct ik_lm_config *c, const char **arch,
                     struct ik_diag *d)
{
    const char *s;
    size_t n;
    int rc = 0;
    if (ik_gguf_find(g, "general.type") && (rc = ik_gguf_get_str(g, "general.type", &s, &n, d)) == 0 &&
        ik_gguf_key_is(s, n, "adapter"))
        return ik_gguf_invalid(g, d, "general.type is 'adapter': a LoRA adapter, not a model (give it as the "
                   "adapter, with its base model)");
    if (rc != 0 || (rc = ik_gguf_get_str(g, "general.architecture", &s, &n, d)) != 0)
        return rc;
    static const struct {
        const char *name;
        int arch;
    } known[] = {{"llama", IK_LM_LLAMA},
                 {"qwen2", IK_LM_QWEN2},
                 {"qwen3", IK_LM_QWEN3},
                 {"nemotron_h", IK_LM_NEMOTRON_H}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (ik_gguf_key_is(s, n, known[i].name)) {
            c->arch = known[i].arch;
            *arch = known[i].name;
            return 0;
        }
    return ik_gguf_invalid(g, d, "general.architecture '%.*s' is not supported (llama, qwen2, qwen3, "
                           "nemotron_h)",
               (int)(n > 64 ? 64 : n), s);
}

/* RoPE scaling: only Llama 3's (rope_freqs.weight) is computed here; our own
 * ikada.rope.llama3.* keys, when present, give its config exactly. */
static int read_rope_scaling(const struct ik_gguf *g, const char *arch, struct ik_lm_config *c,
                             struct ik_diag *d)
{
    char k[96];
    const char *s;
    size_t n;
    int rc = 0;
    snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
    if (ik_gguf_find(g, k) && (rc = ik_gguf_get_str(g, k, &s, &n, d)) == 0 &&
        !ik_gguf_key_is(s, n, "none"))
        return ik_gguf_invalid(g, d, "key '%s' is '%.*s': only Llama 3's scaling (rope_freqs.weight) is "
                   "supported", k, (int)(n > 32 ? 32 : n), s);
    const char *const linear[] = {"rope.scaling.factor", "rope.scale_linear"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        float f;
        snprintf(k, sizeof k, "%s.%s", arch, linear[i]);
        if (ik_gguf_find(g, k) && (rc = ik_gguf_get_f32(g, k, &f, d)) == 0 && f != 0 && f != 1)
            return ik_gguf_invalid(g, d, "key '%s' is %g: linear RoPE scaling is not supported", k, (double)f);
    }
    if (rc != 0 || ik_gguf_find(g, "ikada.rope.llama3.factor") == NULL)
        return rc;
    uint64_t old;
    if ((rc = ik_gguf_get_f32(g, "ikada.rope.llama3.factor", &c->rope_factor, d)) ||
        (rc = ik_gguf_get_f32(g, "ikada.rope.llama3.low_freq_factor", &c->rope_low_freq_factor, d)) ||
        (rc = ik_gguf_get_f32(g, "ikada.rope.llama3.high_freq_factor", &c->rope_high_freq_factor, d)) ||
        (rc = ik_gguf_get_uint(g, "ikada.rope.llama3.original_context_length", &old, d)))
        return rc;
    if (!(c->rope_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
        !(c->rope_low_freq_factor > 0) || !isfinite(c->rope_factor) ||
        !isfinite(c->rope_high_freq_factor) || old == 0 || old > 1 << 30)
        return ik_gguf_invalid(g, d, "ikada.rope.llama3.*: need factor > 0, high_freq_factor > low_freq_factor "
                   "> 0 and 0 < original_context_length <= 2^30");
    c->rope_original_max_seq = (int)old;
    return 0;
}

/* The special ids the config keeps: BOS, and EOS plus the end-of-turn ids
 * llama.cpp also stops at. */
static void read_special(const struct ik_gguf *g, struct ik_lm_config *c)
{
    struct ik_diag d = IK_DIAG_INIT;
    uint64_t v;
    c->bos_id = -1;
    if (ik_gguf_get_uint(g, "tokenizer.ggml.bos_token_id", &v, &d) == 0 && v < (uint64_t)c->V)
        c->bos_id = (int)v;
    ik_diag_free(&d);
    static const char *const eos[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                      "tokenizer.ggml.eom_token_id"};
    c->n_eos = 0;
    for (int i = 0; i < 3; i++) {
        if (ik_gguf_get_uint(g, eos[i], &v, &d) == 0 && v < (uint64_t)c->V &&
            (c->n_eos == 0 || c->eos_id[0] != (int)v))
            c->eos_id[c->n_eos++] = (int)v;
        ik_diag_free(&d);
    }
}

static int read_config(const struct ik_gguf *g, struct ik_lm_config *c, struct ik_diag *d)
{
    memset(c, 0, sizeof *c);
    const char *a = NULL;
    int rc = read_arch(g, c, &a, d), rope_dim = 0, value_len = 0;
    if (rc == 0 && c->arch == IK_LM_NEMOTRON_H)
        return ik_lm_gguf_nemotron_h_config(g, c, d);
#define INT(name, dflt, lo, hi, out) ik_lm_gguf_get_int(g, a, name, dflt, lo, hi, out, d)
    if (rc == 0 &&
        ((rc = INT("embedding_length", -1, 1, IK_LM_MAX_HIDDEN, &c->D)) ||
         (rc = INT("feed_forward_length", -1, 1, IK_LM_MAX_FFN, &c->F)) ||
         (rc = INT("block_count", -1, 1, IK_LM_MAX_LAYERS, &c->L)) ||
         (rc = INT("attention.head_count", -1, 1, IK_LM_MAX_HEADS, &c->H)) ||
         (rc = INT("attention.head_count_kv", c->H, 1, IK_LM_MAX_HEADS, &c->K)) ||
         (rc = INT("attention.key_length", c->D / c->H, 1, IK_LM_MAX_HEAD_DIM, &c->head_dim)) ||
         (rc = INT("attention.value_length", c->head_dim, 1, IK_LM_MAX_HEAD_DIM, &value_len)) ||
         (rc = INT("rope.dimension_count", c->head_dim, 1, IK_LM_MAX_HEAD_DIM, &rope_dim)) ||
         (rc = INT("context_length", -1, 1, 1 << 30, &c->max_seq))))
        return rc;
#undef INT
    if (rc != 0)
        return rc;
    char k[96];
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", a);
    if ((rc = ik_gguf_get_f32(g, k, &c->norm_eps, d)) != 0)
        return rc;
    snprintf(k, sizeof k, "%s.rope.freq_base", a);
    if ((rc = get_f32(g, k, 10000.0f, &c->rope_theta, d)) != 0 ||
        (rc = read_rope_scaling(g, a, c, d)) != 0)
        return rc;
    if (c->head_dim % 2 != 0 || value_len != c->head_dim || rope_dim != c->head_dim)
        return ik_gguf_invalid(g, d, "head size %d (key_length), value_length %d and rope.dimension_count %d "
                   "must be equal and even", c->head_dim, value_len, rope_dim);
    if (c->H % c->K != 0)
        return ik_gguf_invalid(g, d, "%s.attention.head_count %d is not a multiple of head_count_kv %d", a,
                   c->H, c->K);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps))
        return ik_gguf_invalid(g, d, "key '%s' is %g, expected a positive number",
                   "attention.layer_norm_rms_epsilon", (double)c->norm_eps);
    return 0;
}

/* ---- the tensors ---- */

/* The tensor called name, checked to hold (out, in) values ((out) when
 * in == 0) of a type converted here; NULL with an error otherwise. */
static const struct ik_gguf_tensor *find(const struct ik_gguf *g, const char *name, uint64_t out,
                                         uint64_t in, struct ik_diag *d)
{
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(g, name);
    if (t == NULL) {
        ik_gguf_invalid(g, d, "tensor '%s' is missing", name);
        return NULL;
    }
    uint64_t want[4] = {in ? in : out, in ? out : 1, 1, 1};
    if (memcmp(t->dims, want, sizeof want) != 0) {
        ik_gguf_invalid(g, d, "tensor '%s' has dims [%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "], "
            "expected [%" PRIu64 ", %" PRIu64 "] (innermost first)", name, t->dims[0], t->dims[1],
            t->dims[2], t->dims[3], want[0], want[1]);
        return NULL;
    }
    if (t->type != IK_GGML_F32 && t->type != IK_GGML_F16 && t->type != IK_GGML_BF16 &&
        t->type != IK_GGML_Q8_0) {
        ik_gguf_invalid(g, d, "tensor '%s' has ggml type %" PRIu32 ", expected F32 (0), F16 (1), BF16 (30) "
            "or Q8_0 (8)", name, t->type);
        return NULL;
    }
    return t;
}

/* Widens t's values to fp32 (the reader has checked they lie in the file). */
static void widen(const struct ik_gguf_tensor *t, float *dst, size_t n)
{
    const unsigned char *p = t->data;
    if (t->type == IK_GGML_F32) {
        memcpy(dst, p, n * sizeof *dst);
    } else if (t->type == IK_GGML_Q8_0) { /* blocks: f16 scale, then 32 int8 */
        for (size_t b = 0; b < n / 32; b++, p += 34) {
            float s = ik_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
            for (int i = 0; i < 32; i++)
                dst[32 * b + (size_t)i] = s * (float)(int8_t)p[2 + i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = t->type == IK_GGML_F16 ? ik_f16_to_f32(h) : ik_bf16_to_f32(h);
        }
    }
}

/* What a tensor's values need once widened. */
enum need_conv {
    AS_IS,
    QK_ROWS, /* rows to put back into rotate_half order (llama, nemotron_h) */
    A_LOG,   /* nemotron_h's ssm_a holds A = -exp(A_log) */
};

/* One tensor the model needs: its name, shape and place in the arena. */
struct need {
    char name[64];
    uint64_t out, in;
    float *dst;    /* NULL while only checking */
    int conv;      /* enum need_conv */
};

/* Appends one need to nd (when not NULL) at *n; dst is read only with m. */
#define NEED(dst_, out_, in_, conv_, ...)                                                          \
    do {                                                                                           \
        if (nd) {                                                                                  \
            snprintf(nd[n].name, sizeof nd[n].name, __VA_ARGS__);                                  \
            nd[n].out = (out_), nd[n].in = (in_), nd[n].dst = m ? (dst_) : NULL;                 \
            nd[n].conv = (conv_);                                                                  \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)

/* The tensors of Llama-family layer l, from n on; returns the new count. */
static size_t decoder_needs(const struct ik_lm_config *c, const struct ik_lm_model *m, int l,
                            struct need *nd, size_t n)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    int perm = ik_lm_gguf_permutes_qk(c->arch) ? QK_ROWS : AS_IS;
    const struct ik_lm_layer *y = m ? &m->layers[l] : NULL;
    NEED(y->attn_norm, D, 0, AS_IS, "blk.%d.attn_norm.weight", l);
    NEED(y->wq, qw, D, perm, "blk.%d.attn_q.weight", l);
    NEED(y->wk, kw, D, perm, "blk.%d.attn_k.weight", l);
    NEED(y->wv, kw, D, AS_IS, "blk.%d.attn_v.weight", l);
    NEED(y->wo, D, qw, AS_IS, "blk.%d.attn_output.weight", l);
    if (c->qkv_bias) {
        NEED(y->bq, qw, 0, perm, "blk.%d.attn_q.bias", l);
        NEED(y->bk, kw, 0, perm, "blk.%d.attn_k.bias", l);
        NEED(y->bv, kw, 0, AS_IS, "blk.%d.attn_v.bias", l);
    }
    if (c->o_bias)
        NEED(y->bo, D, 0, AS_IS, "blk.%d.attn_output.bias", l);
    if (c->qk_norm) {
        NEED(y->q_norm, hd, 0, AS_IS, "blk.%d.attn_q_norm.weight", l);
        NEED(y->k_norm, hd, 0, AS_IS, "blk.%d.attn_k_norm.weight", l);
    }
    NEED(y->ffn_norm, D, 0, AS_IS, "blk.%d.ffn_norm.weight", l);
    NEED(y->w_gate, F, D, AS_IS, "blk.%d.ffn_gate.weight", l);
    NEED(y->w_up, F, D, AS_IS, "blk.%d.ffn_up.weight", l);
    NEED(y->w_down, D, F, AS_IS, "blk.%d.ffn_down.weight", l);
    return n;
}

/* The tensors of NemotronH layer l (its norm and its mixer's), shaped as
 * llama.cpp creates them (model_gguf_nemotron_h.c). */
static size_t nemotron_h_needs(const struct ik_lm_config *c, const struct ik_lm_model *m, int l,
                               struct need *nd, size_t n)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd, nh = (size_t)c->ssm.heads;
    size_t inner = (size_t)ik_lm_ssm_inner(c), conv = (size_t)ik_lm_ssm_conv_dim(c);
    size_t G = (size_t)c->ssm.groups;
    const struct ik_lm_layer *y = m ? &m->layers[l] : NULL;
    NEED(y->attn_norm, D, 0, AS_IS, "blk.%d.attn_norm.weight", l);
    switch (ik_lm_config_block(c, l)) {
    case IK_LM_BLOCK_ATTN:
        NEED(y->wq, qw, D, QK_ROWS, "blk.%d.attn_q.weight", l);
        NEED(y->wk, kw, D, QK_ROWS, "blk.%d.attn_k.weight", l);
        NEED(y->wv, kw, D, AS_IS, "blk.%d.attn_v.weight", l);
        NEED(y->wo, D, qw, AS_IS, "blk.%d.attn_output.weight", l);
        break;
    case IK_LM_BLOCK_MLP:
        NEED(y->w_up, F, D, AS_IS, "blk.%d.ffn_up.weight", l);
        NEED(y->w_down, D, F, AS_IS, "blk.%d.ffn_down.weight", l);
        break;
    default:
        NEED(y->ssm_in, (size_t)ik_lm_ssm_in_dim(c), D, AS_IS, "blk.%d.ssm_in.weight", l);
        NEED(y->conv_w, conv, (size_t)c->ssm.conv_kernel, AS_IS, "blk.%d.ssm_conv1d.weight", l);
        if (c->ssm.conv_bias)
            NEED(y->conv_b, conv, 0, AS_IS, "blk.%d.ssm_conv1d.bias", l);
        NEED(y->dt_bias, nh, 0, AS_IS, "blk.%d.ssm_dt.bias", l);
        NEED(y->A_log, nh, 1, A_LOG, "blk.%d.ssm_a", l);
        NEED(y->ssm_D, nh, 1, AS_IS, "blk.%d.ssm_d", l);
        NEED(y->ssm_norm, G, inner / G, AS_IS, "blk.%d.ssm_norm.weight", l);
        NEED(y->ssm_out, D, inner, AS_IS, "blk.%d.ssm_out.weight", l);
        break;
    }
    return n;
}

/* Every tensor of a model of config c, in m's arena when m is not NULL. */
static size_t needs(const struct ik_lm_config *c, const struct ik_lm_model *m, struct need *nd)
{
    size_t n = 0, D = (size_t)c->D, V = (size_t)c->V;
    NEED(m->embed, V, D, AS_IS, "token_embd.weight");
    NEED(m->final_norm, D, 0, AS_IS, "output_norm.weight");
    if (!c->tie_embeddings)
        NEED(m->lm_head, V, D, AS_IS, "output.weight");
    for (int l = 0; l < c->L; l++)
        n = c->arch == IK_LM_NEMOTRON_H ? nemotron_h_needs(c, m, l, nd, n)
                                        : decoder_needs(c, m, l, nd, n);
    return n;
}
#undef NEED

/* Puts rows (in floats each) of heads of hd rows back from GGUF row 2j+s to
 * HF row s*hd/2+j. */
static void unpermute(float *w, size_t rows, int hd, size_t in)
{
    size_t h = (size_t)hd, rb = in * sizeof *w;
    float *tmp = ik_xmalloc(h * rb);
    for (size_t head = 0; head < rows / h; head++) {
        float *p = w + head * h * in;
        for (size_t r = 0; r < h; r++)
            memcpy(tmp + (ik_lm_gguf_qk_src_row(r, hd)) * in, p + r * in, rb);
        memcpy(p, tmp, h * rb);
    }
    free(tmp);
}

/* The shape flags the tensors decide, then V from token_embd. */
static int read_shape(const struct ik_gguf *g, struct ik_lm_config *c, struct ik_diag *d)
{
    const struct ik_gguf_tensor *e = ik_gguf_find_tensor(g, "token_embd.weight");
    if (e == NULL)
        return ik_gguf_invalid(g, d, "tensor '%s' is missing", "token_embd.weight");
    if (e->n_dims != 2 || e->dims[1] == 0 || e->dims[1] > IK_LM_MAX_VOCAB)
        return ik_gguf_invalid(g, d, "tensor 'token_embd.weight' has %" PRIu32 " dims, %" PRIu64 " rows: "
                   "expected 2 dims and 1 to %d rows (the vocabulary)", e->n_dims, e->dims[1],
                   IK_LM_MAX_VOCAB);
    c->V = (int)e->dims[1];
    const struct ik_gguf_kv *tok = ik_gguf_find(g, "tokenizer.ggml.tokens");
    if (tok && tok->type == IK_GGUF_ARR && tok->n != (uint64_t)c->V)
        return ik_gguf_invalid(g, d, "tokenizer.ggml.tokens has %" PRIu64 " tokens, token_embd.weight %d rows",
                   tok->n, c->V);
    c->tie_embeddings = ik_gguf_find_tensor(g, "output.weight") == NULL;
    if (c->arch == IK_LM_NEMOTRON_H) {
        c->ssm.conv_bias = 0; /* as the first Mamba layer has it */
        for (int l = 0; l < c->L && !c->ssm.conv_bias; l++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.ssm_conv1d.bias", l);
            c->ssm.conv_bias = c->block[l] == IK_LM_BLOCK_MAMBA && ik_gguf_find_tensor(g, name);
        }
        return 0;
    }
    c->qkv_bias = ik_gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
    c->o_bias = ik_gguf_find_tensor(g, "blk.0.attn_output.bias") != NULL;
    c->qk_norm = c->arch == IK_LM_QWEN3;
    return 0;
}

/* llama.cpp's file without our ikada.rope keys: the divisors themselves. */
static int apply_rope_freqs(const struct ik_gguf *g, struct ik_lm_model *m, struct ik_diag *d)
{
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(g, "rope_freqs.weight");
    if (t == NULL || m->cfg.rope_factor > 0)
        return 0;
    size_t half = (size_t)m->cfg.head_dim / 2;
    if ((t = find(g, "rope_freqs.weight", half, 0, d)) == NULL)
        return d->code;
    float *f = ik_xmalloc(half * sizeof *f);
    widen(t, f, half);
    int rc = 0;
    for (size_t j = 0; j < half && rc == 0; j++)
        if (!(isfinite(f[j]) && f[j] > 0))
            rc = ik_gguf_invalid(g, d, "tensor 'rope_freqs.weight' holds %g at %zu, expected positive "
                     "divisors", (double)f[j], j);
    for (size_t j = 0; j < half && rc == 0; j++)
        m->inv_freq[j] /= f[j];
    free(f);
    return rc;
}

static int load(const struct ik_gguf *g, struct ik_lm_model **out, struct ik_diag *d)
{
    struct ik_lm_config c;
    int rc = read_config(g, &c, d);
    if (rc == 0)
        rc = read_shape(g, &c, d);
    if (rc != 0)
        return rc;
    read_special(g, &c);
    if ((rc = ik_lm_model_check_size(&c, g->name, d)) != 0)
        return rc;
    /* Every tensor is checked before the arena is allocated. */
    size_t n = needs(&c, NULL, NULL);
    struct need *nd = ik_xmalloc(n * sizeof *nd);
    needs(&c, NULL, nd);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (find(g, nd[i].name, nd[i].out, nd[i].in, d) == NULL)
            rc = d->code;
    struct ik_lm_model *m = NULL;
    if (rc == 0)
        rc = ik_lm_model_new(&m, &c, d);
    if (rc == 0) {
        needs(&c, m, nd);
        for (size_t i = 0; i < n; i++) {
            size_t rows = (size_t)nd[i].out, in = nd[i].in ? (size_t)nd[i].in : 1;
            const struct ik_gguf_tensor *t = ik_gguf_find_tensor(g, nd[i].name);
            widen(t, nd[i].dst, rows * in);
            ik_map_drop(t->data, t->nbytes); /* the file's copy need not stay resident */
            if (nd[i].conv == QK_ROWS)
                unpermute(nd[i].dst, rows, c.head_dim, in);
            else if (nd[i].conv == A_LOG && rc == 0)
                rc = ik_lm_gguf_a_log(g, nd[i].name, nd[i].dst, rows * in, d);
        }
        if (rc == 0)
            rc = apply_rope_freqs(g, m, d);
    }
    free(nd);
    if (rc != 0) {
        ik_lm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Maps path read-only; *size 0 leaves *map NULL. */
static int map_file(const char *path, void **map, size_t *size, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    int rc = 0;
    *map = NULL;
    *size = 0;
    if (fstat(fd, &sb) != 0) {
        rc = ik_diag_set(d, -errno, "cannot stat '%s': %s", path, strerror(errno));
    } else if (sb.st_size > 0) {
        *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (*map == MAP_FAILED) {
            *map = NULL;
            rc = ik_diag_set(d, -errno, "cannot map '%s': %s", path, strerror(errno));
        } else {
            *size = (size_t)sb.st_size;
        }
    }
    close(fd);
    return rc;
}

int ik_lm_model_load_gguf(struct ik_lm_model **out, const char *path, struct ik_diag *d)
{
    void *map;
    size_t size;
    int rc = map_file(path, &map, &size, d);
    if (rc != 0)
        return rc;
    struct ik_gguf g;
    rc = ik_gguf_open(&g, map, size, path, d);
    if (rc == 0) {
        rc = load(&g, out, d);
        ik_gguf_close(&g);
    }
    if (map)
        munmap(map, size);
    return rc;
}

int ik_lm_gguf_chat_template(const char *path, int *tmpl, struct ik_diag *d)
{
    void *map;
    size_t size;
    int rc = map_file(path, &map, &size, d);
    if (rc != 0)
        return rc;
    struct ik_gguf g;
    rc = ik_gguf_open(&g, map, size, path, d);
    if (rc == 0) {
        const char *s;
        size_t n;
        *tmpl = IK_CHAT_PLAIN;
        if (ik_gguf_find(&g, "tokenizer.chat_template") &&
            (rc = ik_gguf_get_str(&g, "tokenizer.chat_template", &s, &n, d)) == 0 &&
            ik_lm_gguf_chat_detect(s, n, tmpl) != 0) {
            rc = ik_gguf_invalid(&g, d, "its tokenizer.chat_template is none of the built-ins (chatml, llama3, "
                     "llama2)");
            ik_diag_hint(d, "set the param chat_template to chatml, llama3, llama2 or plain");
        }
        ik_gguf_close(&g);
    }
    if (map)
        munmap(map, size);
    return rc;
}
