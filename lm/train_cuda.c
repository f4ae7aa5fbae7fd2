/* lm/train_cuda.c - lm/train.c's forward and backward over one sequence, on
 * a CUDA device through the module's table (see train_cuda.h). The order of
 * operations is train.c's, call for call, so the two can be read side by
 * side; what differs is where the data lives and that the frozen
 * projections multiply BF16 copies. Every table call is checked: the first
 * failure ends the step with IK_ECUDA and the module's text. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/cuda/attention_chunks.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/scratch.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "lm/train_cuda.h"
#include "lm/train_cuda_int.h"
#include "lm/train_int.h"

/* Rows of logits at once, as train.c's HEAD_ROWS. */
enum { HEAD_ROWS = 512 };

/* Bytes of the attention entries' scratch: ->sdpa_scratch's with cuDNN's,
 * ->flash_scratch's with the flash kernels, else ->attention_scratch's;
 * without a table (estimating) the module's formulas (kernels/cuda/
 * attention_chunks.h's and scratch.h's; cuDNN's with T padded to its
 * bucket). cuDNN's own workspace, which the module allocates and keeps, is
 * not counted. */
static size_t attention_bytes(const struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    if (tr->ops)
        return tr->att == ATT_CUDNN ? tr->ops->sdpa_scratch(tr->S, g->H, g->K, g->head_dim)
               : tr->att == ATT_FLASH ? tr->ops->flash_scratch(tr->S, g->H)
                                      : tr->ops->attention_scratch(tr->S, g->H, g->K);
    if (tr->att == ATT_OWN)
        return ik_att_scratch_floats(tr->S, g->K) * sizeof(float);
    if (tr->att == ATT_FLASH)
        return ik_flash_scratch_bytes(tr->S, g->H);
    return ik_sdpa_scratch_bytes(tr->S, g->H, g->K, g->head_dim);
}

/* The adapter's rank rounded up to 8, the widened weights' extra columns
 * (BF16 rows stay 16-byte multiples); 0 without an adapter. */
static int padded_rank(const struct ik_lora *a) { return a ? (a->cfg.r + 7) / 8 * 8 : 0; }

/* Bytes of ->lora_dA_dropout's scratch for the widest input; without a
 * table (estimating) scratch.h's formula (a partial sum per 128 tokens). */
static size_t lora_scratch_bytes(const struct ik_lm_train_cuda *tr, size_t in_max)
{
    int r = tr->a->cfg.r;
    if (tr->ops)
        return tr->ops->lora_dA_dropout_scratch(tr->S, (int)in_max, r);
    return ik_lora_dA_scratch_bytes(tr->S, (int)in_max, r);
}

/* The host weight of target t in layer y (NULL where the layer has none). */
static const float *host_weight(const struct ik_lm_layer *y, int t)
{
    const float *w[IK_LORA_NT] = {y->wq,   y->wk,     y->wv,     y->wo,     y->w_gate,
                                  y->w_up, y->w_down, y->ssm_in, y->ssm_out};
    return w[t];
}

/* Layer l's projection weights, each (Out, ld): In columns, and rp more
 * when adapted; none for a projection the layer lacks (ld 0). */
static void layout_projections(struct ik_lm_train_cuda *tr, struct carve *c, int l)
{
    struct dev_layer *w = &tr->W[l];
    for (int t = 0; t < IK_LORA_NT; t++) {
        int in, out;
        ik_lora_target_dims(&tr->m->cfg, t, &in, &out);
        int has = ik_lora_has_module(&tr->m->cfg, l, t);
        w->ld[t] = has ? in + (ik_lm_cuda_adapted(tr->a, l, t) ? tr->rp : 0) : 0;
        w->w[t] = has ? TAKE_H(c, (size_t)out * w->ld[t]) : NULL;
    }
}

/* The widest input (outputs too: the widest operand) of the model's projections. */
static size_t widest(const struct ik_lm_config *g, int outputs)
{
    int most = 1;
    for (int t = 0; t < IK_LORA_NT; t++) {
        int in, out, w;
        ik_lora_target_dims(g, t, &in, &out);
        w = outputs && out > in ? out : in;
        most = (ik_lora_family_targets(g) >> t & 1u) && w > most ? w : most;
    }
    return (size_t)most;
}

/* A decoder layer's weights but its projections', and its activations. */
static void layout_decoder_layer(struct ik_lm_train_cuda *tr, struct carve *c, int l)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)g->D, F = (size_t)g->F, hd = (size_t)g->head_dim;
    size_t qw = (size_t)g->H * hd, kw = (size_t)g->K * hd;
    size_t r = tr->a ? (size_t)tr->a->cfg.r : 0;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    struct dev_layer *w = &tr->W[l];
    w->bq = y->bq ? TAKE_F(c, qw) : NULL;
    w->bk = y->bk ? TAKE_F(c, kw) : NULL;
    w->bv = y->bv ? TAKE_F(c, kw) : NULL;
    w->bo = y->bo ? TAKE_F(c, D) : NULL;
    w->attn_norm = TAKE_F(c, D);
    w->ffn_norm = TAKE_F(c, D);
    w->q_norm = y->q_norm ? TAKE_F(c, hd) : NULL;
    w->k_norm = y->k_norm ? TAKE_F(c, hd) : NULL;
    struct dev_acts *A = &tr->L[l];
    if (tr->ckpt && l > 0) {
        /* As train.c: only the layer's input is its own; the rest is
         * layer 0's, overwritten by each layer's (re)computation. */
        *A = tr->L[0];
        A->x_in = TAKE_F(c, S * D);
        return;
    }
    A->x_in = TAKE_F(c, S * D);
    A->xn1 = TAKE_F(c, S * D);
    A->rstd1 = TAKE_F(c, S);
    A->q = TAKE_F(c, S * qw);
    A->k = TAKE_F(c, S * kw);
    A->qpre = g->qk_norm ? TAKE_F(c, S * qw) : A->q;
    A->kpre = g->qk_norm ? TAKE_F(c, S * kw) : A->k;
    A->rstdq = g->qk_norm ? TAKE_F(c, S * g->H) : NULL;
    A->rstdk = g->qk_norm ? TAKE_F(c, S * g->K) : NULL;
    A->v = TAKE_F(c, S * kw);
    A->att = TAKE_F(c, S * qw);
    A->stats = tr->att != ATT_OWN ? TAKE_F(c, S * g->H) : NULL;
    A->x_mid = TAKE_F(c, S * D);
    A->xn2 = TAKE_F(c, S * D);
    A->rstd2 = TAKE_F(c, S);
    A->gate = TAKE_H(c, S * F);
    A->up = TAKE_H(c, S * F);
    A->act = TAKE_F(c, S * F);
    for (int t = 0; t < IK_LORA_NT; t++)
        A->h[t] = ik_lm_cuda_adapted(tr->a, l, t) ? TAKE_F(c, S * r) : NULL;
}

/* Every device buffer; with c->base NULL only counts bytes. */
static void layout(struct ik_lm_train_cuda *tr, struct carve *c)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)g->D, F = (size_t)g->F, hd = (size_t)g->head_dim;
    size_t qw = (size_t)g->H * hd, kw = (size_t)g->K * hd, V = (size_t)g->V;
    size_t r = tr->a ? (size_t)tr->a->cfg.r : 0, R = S < HEAD_ROWS ? S : HEAD_ROWS;
    size_t rp = (size_t)tr->rp, in_max = widest(g, 0), op_max = widest(g, 1);
    for (int l = 0; l < g->L; l++)
        layout_projections(tr, c, l);
    if (g->arch == IK_LM_NEMOTRON_H)
        ik_lm_cuda_mamba_layout(tr, c);
    else
        for (int l = 0; l < g->L; l++)
            layout_decoder_layer(tr, c, l);
    tr->embed = TAKE_H(c, V * D);
    tr->head = g->tie_embeddings ? tr->embed : TAKE_H(c, V * D);
    tr->final_norm = TAKE_F(c, D);
    tr->inv_freq = TAKE_F(c, hd / 2 ? hd / 2 : 1);
    tr->params = tr->a ? TAKE_F(c, tr->a->n_params) : NULL;
    tr->grads = tr->a ? TAKE_F(c, tr->a->n_params) : NULL;
    tr->moment1 = tr->a ? TAKE_F(c, tr->a->n_params) : NULL;
    tr->moment2 = tr->a ? TAKE_F(c, tr->a->n_params) : NULL;
    tr->x_fin = TAKE_F(c, S * D);
    tr->xnf = TAKE_F(c, S * D);
    tr->rstdf = TAKE_F(c, S);
    tr->proj = TAKE_F(c, S * D);
    tr->dx = TAKE_F(c, S * D);
    tr->dxn = TAKE_F(c, S * D);
    tr->dq = TAKE_F(c, S * qw);
    tr->datt = TAKE_F(c, S * qw);
    tr->dk = TAKE_F(c, S * kw);
    tr->dv = TAKE_F(c, S * kw);
    tr->dact = TAKE_F(c, S * F);
    tr->dh = TAKE_F(c, S * (r ? r : 1));
    tr->hb = TAKE_H(c, S * (rp ? rp : 1));
    tr->lscr = tr->a && tr->a->cfg.dropout > 0 ? (float *)take(c, lora_scratch_bytes(tr, in_max)) : NULL;
    tr->logits = TAKE_F(c, R * V);
    tr->dnll = TAKE_F(c, S);
    tr->nll = TAKE_F(c, S);
    size_t xb = S * op_max > R * V ? S * op_max : R * V; /* operands, and dout in BF16 */
    tr->xb = TAKE_H(c, xb);
    tr->xb2 = TAKE_H(c, S * F);
    tr->xbe = rp ? TAKE_H(c, S * (in_max + rp)) : NULL;
    tr->xnb = TAKE_H(c, S * D);
    tr->posv = (int *)take(c, S * sizeof(int));
    tr->tokens = (int *)take(c, S * sizeof(int));
    tr->amax = (int *)take(c, S * sizeof(int));
    tr->rowmask = take(c, S);
    tr->sums = take(c, 2 * sizeof(double));
    tr->ascr = take(c, attention_bytes(tr));
}

/* ---- checked calls ---- */

void ik_lm_cuda_ck(struct ik_lm_train_cuda *tr, int rc, const char *what)
{
    if (rc != 0 && !tr->failed) {
        tr->failed = 1;
        /* what is the call's text, "o->gemm(0, 1, T, ...)": its name is enough */
        ik_diag_set(tr->d, IK_ECUDA, "CUDA training, %.*s: %s", (int)strcspn(what, "("), what,
                    tr->ops->last_error());
    }
}

void ik_lm_cuda_upload_bf16_rows(struct ik_lm_train_cuda *tr, uint16_t *dst, const float *src,
                                 size_t rows, size_t cols, size_t ld, uint16_t *host)
{
    size_t n = rows * ld;
    if (tr->random_base) {
        CK(tr, tr->ops->fill_uniform_bf16(dst, n, -0.02f, 0.02f, 0x5EED0000u + tr->n_drawn++));
        return;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ld; j++) /* nearest even, as the device rounds */
            host[i * ld + j] = j < cols ? ik_f32_to_bf16(src[i * cols + j]) : 0;
    CK(tr, tr->ops->memcpy_htod(dst, host, n * sizeof *host));
}

/* A projection (l, t) or an embedding table (l IK_LM_TABLES) to dst as
 * (rows, ld) BF16: src, the fp32 model's, rounded; or, for a streamed
 * model, its file's BF16 read straight into the host buffer. */
static void upload_big(struct ik_lm_train_cuda *tr, uint16_t *dst, const float *src, int l, int t,
                       size_t rows, size_t cols, size_t ld, uint16_t *host)
{
    if (src != NULL || tr->random_base || tr->m->stream == NULL) {
        ik_lm_cuda_upload_bf16_rows(tr, dst, src, rows, cols, ld, host);
        return;
    }
    if (tr->failed)
        return;
    if (ik_lm_model_read_bf16(tr->m, l, t, host, ld, tr->d) != 0) {
        tr->failed = 1;
        return;
    }
    CK(tr, tr->ops->memcpy_htod(dst, host, rows * ld * sizeof *host));
}

void ik_lm_cuda_upload_f32(struct ik_lm_train_cuda *tr, float *dst, const float *src, size_t n)
{
    if (dst != NULL)
        CK(tr, tr->ops->memcpy_htod(dst, src, n * sizeof *src));
}

/* A decoder layer's weights but its projections'. */
static void upload_decoder_layer(struct ik_lm_train_cuda *tr, int l)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    size_t D = (size_t)g->D, hd = (size_t)g->head_dim, qw = (size_t)g->H * hd, kw = (size_t)g->K * hd;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    struct dev_layer *w = &tr->W[l];
    ik_lm_cuda_upload_f32(tr, w->bq, y->bq, qw);
    ik_lm_cuda_upload_f32(tr, w->bk, y->bk, kw);
    ik_lm_cuda_upload_f32(tr, w->bv, y->bv, kw);
    ik_lm_cuda_upload_f32(tr, w->bo, y->bo, D);
    ik_lm_cuda_upload_f32(tr, w->attn_norm, y->attn_norm, D);
    ik_lm_cuda_upload_f32(tr, w->ffn_norm, y->ffn_norm, D);
    ik_lm_cuda_upload_f32(tr, w->q_norm, y->q_norm, hd);
    ik_lm_cuda_upload_f32(tr, w->k_norm, y->k_norm, hd);
}

static void upload_model(struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *g = &m->cfg;
    size_t D = (size_t)g->D, hd = (size_t)g->head_dim, V = (size_t)g->V;
    /* The host buffer holds the largest tensor: the tables, or a
     * projection's (widened) weight, Out x ld. */
    size_t most = V * D;
    for (int l = 0; l < g->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            int in, out;
            ik_lora_target_dims(g, t, &in, &out);
            size_t n = (size_t)out * (size_t)tr->W[l].ld[t];
            most = n > most ? n : most;
        }
    uint16_t *host = tr->random_base ? NULL : ik_xmalloc(most * sizeof *host);
    for (int l = 0; l < g->L; l++) {
        const struct dev_layer *w = &tr->W[l];
        for (int t = 0; t < IK_LORA_NT; t++) {
            int in, out;
            ik_lora_target_dims(g, t, &in, &out);
            if (w->w[t])
                upload_big(tr, w->w[t], host_weight(&m->layers[l], t), l, t, (size_t)out, (size_t)in,
                           (size_t)w->ld[t], host);
        }
        if (g->arch == IK_LM_NEMOTRON_H)
            ik_lm_cuda_mamba_upload(tr, l);
        else
            upload_decoder_layer(tr, l);
    }
    upload_big(tr, tr->embed, m->embed, IK_LM_TABLES, IK_LM_TABLE_EMBED, V, D, D, host);
    if (tr->head != tr->embed)
        upload_big(tr, tr->head, m->lm_head, IK_LM_TABLES, IK_LM_TABLE_HEAD, V, D, D, host);
    ik_lm_cuda_upload_f32(tr, tr->final_norm, m->final_norm, D);
    if (hd / 2)
        ik_lm_cuda_upload_f32(tr, tr->inv_freq, m->inv_freq, hd / 2);
    free(host);
    int *pos = ik_xmalloc((size_t)tr->S * sizeof *pos);
    for (int i = 0; i < tr->S; i++)
        pos[i] = i;
    CK(tr, tr->ops->memcpy_htod(tr->posv, pos, (size_t)tr->S * sizeof *pos));
    free(pos);
}

/* ---- construction ---- */

/* IKADA_CUDA_ATTENTION: unset, "" or "own" the module's cuBLAS attention,
 * the default until the others have been measured on a GPU; "cudnn"
 * cuDNN's fused SDPA; "flash" the module's flash kernels; anything else -1. */
static int attention_choice(void)
{
    const char *e = getenv("IKADA_CUDA_ATTENTION");
    if (e == NULL || *e == '\0' || strcmp(e, "own") == 0)
        return ATT_OWN;
    return strcmp(e, "cudnn") == 0 ? ATT_CUDNN : strcmp(e, "flash") == 0 ? ATT_FLASH : -1;
}

/* The module's table has MEMBER (an older module's is shorter). */
#define HAS_ENTRY(ops, member) \
    ((ops)->size >= offsetof(struct ik_cuda_ops, member) + sizeof(ops)->member)

/* The attention asked for must be there for this model: a request the run
 * cannot honour fails here, loudly, not in the first step nor by quietly
 * running another path. */
static int check_attention(const struct ik_cuda_ops *ops, const struct ik_lm_model *m,
                           int max_seq, int *att, struct ik_diag *d)
{
    *att = attention_choice();
    if (*att < 0)
        return ik_diag_set(d, IK_EVALIDATE, "IKADA_CUDA_ATTENTION=%s: expected \"own\" (the "
                           "default), \"cudnn\" or \"flash\"", getenv("IKADA_CUDA_ATTENTION"));
    const struct ik_lm_config *g = &m->cfg;
    if (*att == ATT_FLASH) {
        if (!ops->flash_supports(g->H, g->K, g->head_dim))
            return ik_diag_set(d, IK_ECUDA, "IKADA_CUDA_ATTENTION=flash: the flash kernels take "
                               "head_dim a multiple of 8 up to 128, this model has H %d, K %d, "
                               "hd %d (unset IKADA_CUDA_ATTENTION for the module's own)", g->H,
                               g->K, g->head_dim);
        return 0;
    }
    if (*att == ATT_OWN)
        return 0;
    if (!ops->sdpa_available(max_seq, g->H, g->K, g->head_dim, g->sliding_window))
        return ik_diag_set(d, IK_ECUDA, "IKADA_CUDA_ATTENTION=cudnn: cuDNN attention is "
                           "unavailable for this model (T %d, H %d, K %d, hd %d, window %d): %s "
                           "(unset IKADA_CUDA_ATTENTION for the module's own)", max_seq, g->H,
                           g->K, g->head_dim, g->sliding_window, ops->last_error());
    return 0;
}

int ik_lm_train_cuda_unsupported(const struct ik_lm_config *c, char *why, size_t cap)
{
    /* ssm_scan.cu's lanes hold up to 8 states each (NemotronH-9B has 128). */
    if (c->arch == IK_LM_NEMOTRON_H && c->ssm.state > 256) {
        snprintf(why, cap, "the CUDA selective scan takes at most 256 states, this model has %d",
                 c->ssm.state);
        return 1;
    }
    return 0;
}

size_t ik_lm_train_cuda_estimate_bytes(const struct ik_lm_model *m, const struct ik_lora *a,
                                       int max_seq, int opts)
{
    struct ik_lm_train_cuda tr = {.m = m, .a = (struct ik_lora *)a, .S = max_seq < 2 ? 2 : max_seq};
    tr.rp = padded_rank(a);
    tr.ckpt = (opts & IK_LM_TRAIN_CHECKPOINT) != 0;
    int att = attention_choice();
    tr.att = att < 0 ? ATT_OWN : att;
    tr.W = ik_xcalloc((size_t)m->cfg.L, sizeof *tr.W);
    tr.L = ik_xcalloc((size_t)m->cfg.L, sizeof *tr.L);
    struct carve c = {.guarded = ik_lm_cuda_guarded(opts)};
    layout(&tr, &c);
    free(tr.W);
    free(tr.L);
    return c.off;
}

int ik_lm_train_cuda_new(struct ik_lm_train_cuda **out, const struct ik_cuda_ops *ops,
                         const struct ik_lm_model *m, struct ik_lora *a, int max_seq, int opts,
                         struct ik_diag *d)
{
    if (max_seq < 2)
        return ik_diag_set(d, IK_EVALIDATE, "a trainer needs max_seq >= 2, got %d", max_seq);
    if (a && a->L != m->cfg.L)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter has %d layers but the model %d", a->L, m->cfg.L);
    char why[128];
    if (ik_lm_train_cuda_unsupported(&m->cfg, why, sizeof why))
        return ik_diag_set(d, IK_ENOTBUILT, "%s (device: cpu trains it)", why);
    int rc, att = ATT_OWN;
    /* The table's last entry: every entry the step and check_attention call. */
    if (!HAS_ENTRY(ops, rmsnorm_gated_bwd))
        return ik_diag_set(d, IK_ECUDA, "the CUDA module predates this trainer (no "
                           "rmsnorm_gated_bwd): rebuild it");
    if ((rc = check_attention(ops, m, max_seq, &att, d)) != 0)
        return rc;
    struct ik_lm_train_cuda *tr = ik_xcalloc(1, sizeof *tr);
    tr->att = att;
    tr->ops = ops;
    tr->m = m;
    tr->a = a;
    tr->S = max_seq;
    tr->rp = padded_rank(a);
    tr->ckpt = (opts & IK_LM_TRAIN_CHECKPOINT) != 0;
    tr->random_base = (opts & IK_LM_TRAIN_CUDA_RANDOM_BASE) != 0;
    tr->d = d;
    tr->W = ik_xcalloc((size_t)m->cfg.L, sizeof *tr->W);
    tr->L = ik_xcalloc((size_t)m->cfg.L, sizeof *tr->L);
    int guarded = ik_lm_cuda_guarded(opts);
    struct carve c = {.guarded = guarded};
    layout(tr, &c);
    tr->bytes = c.off;
    if (ops->alloc(&tr->mem, tr->bytes) != 0) {
        ik_diag_set(d, IK_ECUDA, "CUDA training of %d positions needs %.2f GiB of device memory: %s",
                    max_seq, (double)tr->bytes / (1 << 30), ops->last_error());
        ik_lm_train_cuda_free(tr);
        return IK_ECUDA;
    }
    c = (struct carve){.base = tr->mem, .guarded = guarded};
    layout(tr, &c);
    tr->guards = c.guards;
    tr->n_guards = c.n_guards;
    ik_lm_cuda_fill_guards(tr); /* before the uploads, which they guard too */
    upload_model(tr);
    size_t S = (size_t)max_seq;
    tr->h_dnll = ik_xmalloc(S * sizeof *tr->h_dnll);
    tr->h_grads = a ? ik_xmalloc(a->n_params * sizeof *tr->h_grads) : NULL;
    if (tr->failed) {
        ik_lm_train_cuda_free(tr);
        return IK_ECUDA;
    }
    *out = tr;
    return 0;
}

void ik_lm_train_cuda_free(struct ik_lm_train_cuda *tr)
{
    if (tr == NULL)
        return;
    if (tr->mem)
        tr->ops->free(tr->mem);
    free(tr->guards);
    free(tr->W);
    free(tr->L);
    free(tr->h_grads);
    free(tr->h_dnll);
    free(tr);
}

/* ---- the layers (train.c's forward_layer and backward_layer) ---- */

void ik_lm_cuda_attention_fwd(struct ik_lm_train_cuda *tr, struct dev_acts *A, int T)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    if (tr->att == ATT_CUDNN)
        CK(tr, o->sdpa_fwd(A->att, A->stats, A->q, A->k, A->v, T, c->H, c->K, c->head_dim,
                           c->sliding_window, tr->ascr));
    else if (tr->att == ATT_FLASH)
        CK(tr, o->flash_fwd(A->att, A->stats, A->q, A->k, A->v, T, c->H, c->K, c->head_dim,
                            c->sliding_window, tr->ascr));
    else
        CK(tr, o->attention_fwd(A->att, A->q, A->k, A->v, T, c->H, c->K, c->head_dim,
                                c->sliding_window, tr->ascr));
}

void ik_lm_cuda_attention_bwd(struct ik_lm_train_cuda *tr, const struct dev_acts *A, int T)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    if (tr->att == ATT_CUDNN)
        CK(tr, o->sdpa_bwd(tr->dq, tr->dk, tr->dv, tr->datt, A->att, A->stats, A->q, A->k, A->v, T,
                           c->H, c->K, c->head_dim, c->sliding_window, tr->ascr));
    else if (tr->att == ATT_FLASH)
        CK(tr, o->flash_bwd(tr->dq, tr->dk, tr->dv, tr->datt, A->att, A->stats, A->q, A->k, A->v,
                            T, c->H, c->K, c->head_dim, c->sliding_window, tr->ascr));
    else
        CK(tr, o->attention_bwd(tr->dq, tr->dk, tr->dv, tr->datt, A->q, A->k, A->v, T, c->H, c->K,
                                c->head_dim, c->sliding_window, tr->ascr));
}

/* Layer l's forward from L[l].x_in, keeping what the backward reads, and its
 * output in x_out; with x_out NULL (recomputing a checkpointed layer before
 * its backward) it stops once those activations exist, as train.c's. Each
 * residual add is fused with the norm that reads its sum: the layer's second
 * norm, and the next layer's first (or the final norm), so a layer past the
 * first finds its first norm done, unless it is being recomputed. */
static void forward_layer(struct ik_lm_train_cuda *tr, int l, int T, float *x_out)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd;
    const struct dev_layer *y = &tr->W[l];
    struct dev_acts *A = &tr->L[l];
    if (l == 0 || x_out == NULL)
        CK(tr, o->rmsnorm_fwd(A->xn1, A->rstd1, A->x_in, y->attn_norm, T, D, c->norm_eps));
    struct operand x = operand_of(A->xn1, T, D);
    ik_lm_cuda_proj(tr, l, IK_LORA_Q, A->qpre, IK_CUDA_F32, &x, y->bq);
    ik_lm_cuda_proj(tr, l, IK_LORA_K, A->kpre, IK_CUDA_F32, &x, y->bk);
    ik_lm_cuda_proj(tr, l, IK_LORA_V, A->v, IK_CUDA_F32, &x, y->bv);
    const float *freq = c->no_rope ? NULL : tr->inv_freq;
    if (y->q_norm) { /* Qwen3: the per-head norm and RoPE in one kernel */
        CK(tr, o->qk_norm_rope_fwd(A->q, A->rstdq, A->qpre, y->q_norm, tr->posv, freq, T, c->H, hd,
                                   c->norm_eps));
        CK(tr, o->qk_norm_rope_fwd(A->k, A->rstdk, A->kpre, y->k_norm, tr->posv, freq, T, c->K, hd,
                                   c->norm_eps));
    } else if (freq) {
        CK(tr, o->rope_fwd(A->q, tr->posv, freq, T, c->H, hd));
        CK(tr, o->rope_fwd(A->k, tr->posv, freq, T, c->K, hd));
    }
    ik_lm_cuda_attention_fwd(tr, A, T);
    x = operand_of(A->att, T, qw);
    ik_lm_cuda_proj(tr, l, IK_LORA_O, tr->proj, IK_CUDA_F32, &x, y->bo);
    CK(tr, o->add_rmsnorm_fwd(A->x_mid, A->xn2, A->rstd2, A->x_in, tr->proj, y->ffn_norm, T, D,
                              c->norm_eps));
    x = operand_of(A->xn2, T, D);
    ik_lm_cuda_proj(tr, l, IK_LORA_GATE, A->gate, IK_CUDA_BF16, &x, NULL);
    ik_lm_cuda_proj(tr, l, IK_LORA_UP, A->up, IK_CUDA_BF16, &x, NULL);
    if (x_out == NULL) {
        CK(tr, o->swiglu_fwd_bf16(A->act, NULL, 0, A->gate, A->up, T, F));
        ik_lm_cuda_proj_bottleneck(tr, l, IK_LORA_DOWN, A->act, T); /* all down's backward reads */
        return;
    }
    /* SwiGLU writes the down projection's BF16 operand (plain, or widened
     * for its adapter) beside its fp32 product, sparing a conversion pass. */
    x = operand_of(A->act, T, F);
    if (ik_lm_cuda_module(tr, l, IK_LORA_DOWN)) {
        x.wide = tr->xbe;
        CK(tr, o->swiglu_fwd_bf16(A->act, x.wide, F + tr->rp, A->gate, A->up, T, F));
    } else {
        x.plain = tr->xb;
        CK(tr, o->swiglu_fwd_bf16(A->act, tr->xb, F, A->gate, A->up, T, F));
    }
    ik_lm_cuda_proj(tr, l, IK_LORA_DOWN, tr->proj, IK_CUDA_F32, &x, NULL);
    /* Under checkpointing the next layer's xn1 is this one's: no longer read. */
    float *xn = tr->xnf, *rstd = tr->rstdf, *w = tr->final_norm;
    if (l + 1 < c->L) {
        xn = tr->L[l + 1].xn1;
        rstd = tr->L[l + 1].rstd1;
        w = tr->W[l + 1].attn_norm;
    }
    CK(tr, o->add_rmsnorm_fwd(x_out, xn, rstd, A->x_mid, tr->proj, w, T, D, c->norm_eps));
}

/* tr->dx holds d loss / d(output of layer l); leaves d loss / d(its input). */
static void backward_layer(struct ik_lm_train_cuda *tr, int l, int T)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct dev_layer *y = &tr->W[l];
    const struct dev_acts *A = &tr->L[l];
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    /* Each gradient buffer's first writer overwrites it (fresh), so none is
     * zeroed; SwiGLU's backward writes the gate and up gradients in BF16
     * only: the frozen GEMMs and the adapter's products over dout take them
     * so (lora_bwd). */
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_DOWN, tr->dact, 1, 0, tr->dx, NULL, A->act, T);
    const struct ik_lora_module *down = ik_lm_cuda_module(tr, l, IK_LORA_DOWN);
    if (down) /* dact + the down branch's input gradient (tr->dh), in the same pass */
        CK(tr, o->lora_down_swiglu_bwd(tr->xb, tr->xb2, tr->dact, A->gate, A->up, T, F, tr->dh,
                                       ik_lm_cuda_dev_param(tr, down->A), tr->a->cfg.r,
                                       tr->dropout ? tr->a->cfg.dropout : 0.0f,
                                       ik_lora_dropout_key(tr->seed, l, IK_LORA_DOWN)));
    else
        CK(tr, o->swiglu_bwd_bf16_in(tr->xb, tr->xb2, tr->dact, A->gate, A->up, T, F));
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_GATE, tr->dxn, 1, 1, NULL, tr->xb, A->xn2, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_UP, tr->dxn, 0, 1, NULL, tr->xb2, A->xn2, T);
    CK(tr, o->rmsnorm_bwd(tr->dx, NULL, tr->dxn, A->x_mid, A->rstd2, y->ffn_norm, T, D));

    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_O, tr->datt, 1, 1, tr->dx, NULL, A->att, T);
    CK(tr, o->memset(tr->dq, 0, (size_t)T * qw * sizeof(float)));
    CK(tr, o->memset(tr->dk, 0, (size_t)T * kw * sizeof(float)));
    CK(tr, o->memset(tr->dv, 0, (size_t)T * kw * sizeof(float)));
    ik_lm_cuda_attention_bwd(tr, A, T);
    const float *freq = c->no_rope ? NULL : tr->inv_freq;
    float *dq = tr->dq, *dk = tr->dk;
    if (y->q_norm) { /* in place: d(qpre), d(kpre) */
        CK(tr, o->qk_norm_rope_bwd(dq, dq, A->qpre, A->rstdq, y->q_norm, tr->posv, freq, T, c->H,
                                   hd));
        CK(tr, o->qk_norm_rope_bwd(dk, dk, A->kpre, A->rstdk, y->k_norm, tr->posv, freq, T, c->K,
                                   hd));
    } else if (freq) {
        CK(tr, o->rope_bwd(dq, tr->posv, freq, T, c->H, hd));
        CK(tr, o->rope_bwd(dk, tr->posv, freq, T, c->K, hd));
    }
    /* Below layer 0 lie only the frozen embeddings: no input gradient needed. */
    float *dxn = l > 0 ? tr->dxn : NULL;
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_Q, dxn, 1, 1, dq, NULL, A->xn1, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_K, dxn, 0, 1, dk, NULL, A->xn1, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_V, dxn, 0, 1, tr->dv, NULL, A->xn1, T);
    if (dxn)
        CK(tr, o->rmsnorm_bwd(tr->dx, NULL, dxn, A->x_in, A->rstd1, y->attn_norm, T, D));
}

/* Layer l forward and backward: a decoder layer's, or a NemotronH layer's
 * (train_cuda_mamba.c). */
static void layer_forward(struct ik_lm_train_cuda *tr, int l, int T, float *x_out)
{
    if (tr->m->cfg.arch == IK_LM_NEMOTRON_H)
        ik_lm_cuda_mamba_forward(tr, l, T, x_out);
    else
        forward_layer(tr, l, T, x_out);
}

static void layer_backward(struct ik_lm_train_cuda *tr, int l, int T)
{
    if (tr->m->cfg.arch == IK_LM_NEMOTRON_H)
        ik_lm_cuda_mamba_backward(tr, l, T);
    else
        backward_layer(tr, l, T);
}

/* The lm_head over T rows, HEAD_ROWS at a time: logits, then in one kernel
 * their argmax, the cross-entropy and its gradient (in BF16, tr->xb, the
 * backward GEMM's operand), and, with bwd, the final norm's output gradient
 * in tr->dxn (each chunk writes its own rows). */
static void head(struct ik_lm_train_cuda *tr, int T, int bwd)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    int D = c->D, V = c->V;
    CK(tr, o->to_bf16(tr->xnb, tr->xnf, (size_t)T * D));
    for (int r0 = 0; r0 < T; r0 += HEAD_ROWS) {
        int R = T - r0 < HEAD_ROWS ? T - r0 : HEAD_ROWS;
        CK(tr, o->gemm(0, 1, R, V, D, 1.0f, tr->xnb + (size_t)r0 * D, D, tr->head, D, 0.0f,
                       tr->logits, V, IK_CUDA_BF16, IK_CUDA_F32));
        tr->flops += 2.0 * R * D * V;
        /* Without a backward the gradient is asked with dnll 0 (rows then
         * come back zero): the one kernel writes it anyway. */
        CK(tr, o->softmax_xent_argmax(tr->nll + r0, tr->amax + r0, tr->xb, IK_CUDA_BF16, tr->logits,
                                      tr->tokens + r0 + 1, tr->dnll + r0, R, V));
        if (bwd) {
            CK(tr, o->gemm(0, 0, R, D, V, 1.0f, tr->xb, V, tr->head, D, 0.0f,
                           tr->dxn + (size_t)r0 * D, D, IK_CUDA_BF16, IK_CUDA_F32)); /* its rows */
            tr->flops += 2.0 * R * D * V;
        }
    }
}

/* a->grads += the device's gradients of this step. */
static void add_grads(struct ik_lm_train_cuda *tr)
{
    struct ik_lora *a = tr->a;
    CK(tr, tr->ops->memcpy_dtoh(tr->h_grads, tr->grads, a->n_params * sizeof(float)));
    if (tr->failed)
        return;
    for (size_t i = 0; i < a->n_params; i++)
        a->grads[i] += tr->h_grads[i];
}

int ik_lm_train_cuda_step(struct ik_lm_train_cuda *tr, const int *tokens,
                          const unsigned char *mask, int n, int flags, uint64_t seed,
                          float grad_scale, double *loss, int *n_target, struct ik_diag *d)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    int count, rc = ik_lm_train_check_step(c, tr->S, tr->a != NULL, tokens, mask, n, flags, &count, d);
    if (rc)
        return rc;
    int bwd = (flags & IK_LM_BACKWARD) != 0;
    int T = n - 1, D = c->D;
    tr->d = d;
    tr->failed = 0;
    tr->flops = 0;
    tr->dropout = (flags & IK_LM_DROPOUT) && tr->a && tr->a->cfg.dropout > 0;
    tr->seed = seed;
    for (int i = 0; i < T; i++)
        tr->h_dnll[i] = bwd && (mask == NULL || mask[i + 1]) ? grad_scale / (float)count : 0.0f;
    CK(tr, o->memcpy_htod(tr->tokens, tokens, (size_t)n * sizeof *tokens));
    CK(tr, o->memcpy_htod(tr->dnll, tr->h_dnll, (size_t)T * sizeof(float)));
    if (mask)
        CK(tr, o->memcpy_htod(tr->rowmask, mask + 1, (size_t)T));
    if (tr->a && !(tr->grads_on_device && tr->params_uploaded)) {
        /* Once per optimizer step, or every step when the host owns the gradients. */
        CK(tr, o->memcpy_htod(tr->params, tr->a->params, tr->a->n_params * sizeof(float)));
        ik_lm_cuda_refresh_lora_columns(tr);
        tr->params_uploaded = tr->grads_on_device;
    }
    if (tr->a && bwd && !tr->grads_on_device)
        CK(tr, o->memset(tr->grads, 0, tr->a->n_params * sizeof(float)));
    CK(tr, o->embed_rows_bf16(tr->L[0].x_in, tr->embed, tr->tokens, T, D));
    for (int l = 0; l < c->L; l++)
        layer_forward(tr, l, T, l + 1 < c->L ? tr->L[l + 1].x_in : tr->x_fin); /* and xnf */
    head(tr, T, bwd);
    CK(tr, o->loss_sums(tr->sums, tr->nll, tr->amax, tr->tokens + 1, mask ? tr->rowmask : NULL, T));
    if (bwd) {
        CK(tr, o->memset(tr->dx, 0, (size_t)T * D * sizeof(float)));
        CK(tr, o->rmsnorm_bwd(tr->dx, NULL, tr->dxn, tr->x_fin, tr->rstdf, tr->final_norm, T, D));
        for (int l = c->L - 1; l >= 0; l--) {
            if (tr->ckpt && l + 1 < c->L)
                layer_forward(tr, l, T, NULL); /* the last layer's are still there */
            layer_backward(tr, l, T);
        }
    }
    /* The step's one wait: the loss and accuracy sums (and, when the host
     * owns them, the gradients). */
    double sums[2] = {0, 0};
    CK(tr, o->memcpy_dtoh(sums, tr->sums, sizeof sums));
    if (bwd && !tr->grads_on_device)
        add_grads(tr);
    ik_lm_cuda_check_guards(tr);
    if (tr->failed)
        return IK_ECUDA;
    tr->n_correct = (int)sums[1];
    *loss = sums[0] / count;
    if (n_target)
        *n_target = count;
    return 0;
}

/* ---- the optimizer on the device ---- */

int ik_lm_train_cuda_zero_grad(struct ik_lm_train_cuda *tr, struct ik_diag *d)
{
    if (tr->a == NULL)
        return 0;
    tr->d = d;
    tr->failed = 0;
    CK(tr, tr->ops->memset(tr->grads, 0, tr->a->n_params * sizeof(float)));
    tr->grads_on_device = 1;
    tr->params_uploaded = 0;
    return tr->failed ? IK_ECUDA : 0;
}

int ik_lm_train_cuda_optimizer_step(struct ik_lm_train_cuda *tr, const struct ik_lm_adamw *opt,
                                    float *m, float *v, double *grad_norm, struct ik_diag *d)
{
    struct ik_lora *a = tr->a;
    if (a == NULL || !tr->grads_on_device)
        return ik_diag_set(d, IK_EVALIDATE, "a CUDA optimizer step needs an adapter and gradients "
                           "accumulated on the device since ik_lm_train_zero_grad");
    const struct ik_cuda_ops *o = tr->ops;
    size_t bytes = a->n_params * sizeof(float);
    tr->d = d;
    tr->failed = 0;
    if (!tr->moments_on_device) {
        CK(tr, o->memcpy_htod(tr->moment1, m, bytes));
        CK(tr, o->memcpy_htod(tr->moment2, v, bytes));
        tr->moments_on_device = !tr->failed;
    }
    CK(tr, o->clip_grad_norm(tr->grads, a->n_params, opt->max_grad_norm, grad_norm));
    CK(tr, o->adamw(tr->params, tr->grads, tr->moment1, tr->moment2, a->n_params, (float)opt->lr,
                    opt->b1, opt->b2, opt->eps, opt->weight_decay, opt->t));
    ik_lm_cuda_refresh_lora_columns(tr); /* a step before the next upload reads them */
    CK(tr, o->memcpy_dtoh(a->params, tr->params, bytes));
    ik_lm_cuda_check_guards(tr);
    return tr->failed ? IK_ECUDA : 0;
}

int ik_lm_train_cuda_sync_moments(struct ik_lm_train_cuda *tr, float *m, float *v,
                                  struct ik_diag *d)
{
    if (tr->a == NULL || !tr->moments_on_device)
        return 0;
    size_t bytes = tr->a->n_params * sizeof(float);
    tr->d = d;
    tr->failed = 0;
    CK(tr, tr->ops->memcpy_dtoh(m, tr->moment1, bytes));
    CK(tr, tr->ops->memcpy_dtoh(v, tr->moment2, bytes));
    return tr->failed ? IK_ECUDA : 0;
}

size_t ik_lm_train_cuda_bytes(const struct ik_lm_train_cuda *tr) { return tr->bytes; }

int ik_lm_train_cuda_n_correct(const struct ik_lm_train_cuda *tr) { return tr->n_correct; }

double ik_lm_train_cuda_gemm_flops(const struct ik_lm_train_cuda *tr) { return tr->flops; }
