/* lm/train_cuda_mamba.c - a NemotronH model's layers in the CUDA trainer:
 * lm/train_mamba.c's forward_layer and backward_layer on the device through
 * the module's table, call for call, so the two can be read side by side.
 * Each layer is x + mixer(RMSNorm(x)), the mixer one of the Mamba-2 one
 * (in_proj, softplus(dt + bias), the causal conv1d and SiLU, the selective
 * scan, the gated RMSNorm, out_proj), attention without RoPE, or the relu^2
 * MLP (up, relu^2, down). The projections are train_cuda_proj.c's: BF16
 * frozen weights with the LoRA branch joined in, on every target the
 * adapter has, in_proj and out_proj included. As in the decoder layers of
 * lm/train_cuda.c, the residual add is fused with the next layer's norm,
 * and a layer recomputed under checkpointing stops at its last
 * projection's bottleneck. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/xmalloc.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/scratch.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train_cuda_int.h"

/* The widths of the mixer, as train_mamba.c names them. */
struct mamba_dims {
    int nh, P, G, N, Kc, inner, conv, in_dim;
};

static struct mamba_dims dims_of(const struct ik_lm_config *c)
{
    return (struct mamba_dims){c->ssm.heads,         c->ssm.head_dim,       c->ssm.groups,
                               c->ssm.state,         c->ssm.conv_kernel,    ik_lm_ssm_inner(c),
                               ik_lm_ssm_conv_dim(c), ik_lm_ssm_in_dim(c)};
}

/* ---- layout and upload ---- */

/* Target t is adapted in some layer (checkpointing's shared activations
 * then need its bottleneck). */
static int adapted_anywhere(const struct ik_lm_train_cuda *tr, int t)
{
    for (int l = 0; l < tr->m->cfg.L; l++)
        if (ik_lm_cuda_adapted(tr->a, l, t))
            return 1;
    return 0;
}

/* Bytes of ->ssm_scan_bwd's scratch; without a table (estimating)
 * scratch.h's formula, ssm_scan.cu's carve. */
static size_t scan_scratch_bytes(const struct ik_lm_train_cuda *tr, const struct mamba_dims *m)
{
    if (tr->ops)
        return tr->ops->ssm_scan_bwd_scratch(tr->S, m->nh, m->P, m->N);
    return ik_ssm_bwd_scratch_bytes(tr->S, m->nh, m->P, m->N);
}

/* Layer l's activations: its block's, or every block's for the set that
 * checkpointing shares (all). */
static void layout_acts(struct ik_lm_train_cuda *tr, struct carve *c, int l, int all)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    struct mamba_dims m = dims_of(g);
    size_t S = (size_t)tr->S, D = (size_t)g->D, F = (size_t)g->F;
    size_t qw = (size_t)g->H * g->head_dim, kw = (size_t)g->K * g->head_dim;
    size_t r = tr->a ? (size_t)tr->a->cfg.r : 0;
    int block = ik_lm_config_block(g, l);
    struct dev_acts *A = &tr->L[l];
    A->xn1 = TAKE_F(c, S * D);
    A->rstd1 = TAKE_F(c, S);
    if (all || block == IK_LM_BLOCK_MAMBA) {
        A->zx = TAKE_F(c, S * m.in_dim);
        A->xconv = TAKE_F(c, S * m.conv);
        A->xbc = TAKE_F(c, S * m.conv);
        A->dt = TAKE_F(c, S * m.nh);
        A->yssm = TAKE_F(c, S * m.inner);
        A->yn = TAKE_F(c, S * m.inner);
    }
    if (all || block == IK_LM_BLOCK_ATTN) {
        A->q = A->qpre = TAKE_F(c, S * qw); /* no q/k norm, no RoPE */
        A->k = A->kpre = TAKE_F(c, S * kw);
        A->v = TAKE_F(c, S * kw);
        A->att = TAKE_F(c, S * qw);
        A->stats = tr->att != ATT_OWN ? TAKE_F(c, S * g->H) : NULL;
    }
    if (all || block == IK_LM_BLOCK_MLP) {
        A->upf = TAKE_F(c, S * F);
        A->act = TAKE_F(c, S * F);
    }
    for (int t = 0; t < IK_LORA_NT; t++) {
        int want = all ? adapted_anywhere(tr, t) : ik_lm_cuda_adapted(tr->a, l, t);
        A->h[t] = want ? TAKE_F(c, S * r) : NULL;
    }
}

void ik_lm_cuda_mamba_layout(struct ik_lm_train_cuda *tr, struct carve *c)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    struct mamba_dims m = dims_of(g);
    size_t S = (size_t)tr->S, D = (size_t)g->D;
    for (int l = 0; l < g->L; l++) {
        const struct ik_lm_layer *y = &tr->m->layers[l];
        struct dev_layer *w = &tr->W[l];
        w->attn_norm = TAKE_F(c, D);
        if (ik_lm_config_block(g, l) == IK_LM_BLOCK_MAMBA) {
            w->conv_w = TAKE_F(c, (size_t)m.conv * m.Kc);
            w->conv_b = y->conv_b ? TAKE_F(c, m.conv) : NULL;
            w->dt_bias = TAKE_F(c, m.nh);
            w->A = TAKE_F(c, m.nh);
            w->Dskip = TAKE_F(c, m.nh);
            w->ssm_norm = TAKE_F(c, m.inner);
        }
        struct dev_acts *A = &tr->L[l];
        if (tr->ckpt && l > 0) { /* as train_mamba.c: all but the input shared */
            *A = tr->L[0];
        } else {
            layout_acts(tr, c, l, tr->ckpt);
        }
        A->x_in = TAKE_F(c, S * D);
    }
    struct dev_mamba_bufs *b = &tr->mb;
    b->dyn = TAKE_F(c, S * m.inner);
    b->dy = TAKE_F(c, S * m.inner);
    b->dzx = TAKE_F(c, S * m.in_dim);
    b->dxbc = TAKE_F(c, S * m.conv);
    b->ddt = TAKE_F(c, S * m.nh);
    b->dup = TAKE_F(c, S * (size_t)g->F);
    b->state = TAKE_F(c, (size_t)m.nh * m.N * m.P);
    b->scan_scratch = take(c, scan_scratch_bytes(tr, &m));
}

void ik_lm_cuda_mamba_upload(struct ik_lm_train_cuda *tr, int l)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    const struct dev_layer *w = &tr->W[l];
    struct mamba_dims m = dims_of(g);
    ik_lm_cuda_upload_f32(tr, w->attn_norm, y->attn_norm, (size_t)g->D);
    if (w->conv_w == NULL)
        return;
    ik_lm_cuda_upload_f32(tr, w->conv_w, y->conv_w, (size_t)m.conv * m.Kc);
    ik_lm_cuda_upload_f32(tr, w->conv_b, y->conv_b, (size_t)m.conv);
    ik_lm_cuda_upload_f32(tr, w->dt_bias, y->dt_bias, (size_t)m.nh);
    float *A = ik_xmalloc((size_t)m.nh * sizeof *A);
    for (int h = 0; h < m.nh; h++) /* frozen: formed once, as train_mamba.c's neg_exp */
        A[h] = -expf(y->A_log[h]);
    ik_lm_cuda_upload_f32(tr, w->A, A, (size_t)m.nh);
    free(A);
    ik_lm_cuda_upload_f32(tr, w->Dskip, y->ssm_D, (size_t)m.nh);
    ik_lm_cuda_upload_f32(tr, w->ssm_norm, y->ssm_norm, (size_t)m.inner);
}

/* ---- the mixers, forward ---- */

/* A mixer's last projection (out_proj, o, down) into tr->proj; when the
 * layer is being recomputed only its bottleneck, all its backward reads. */
static void last_proj(struct ik_lm_train_cuda *tr, int l, int t, struct operand *op, int recompute)
{
    if (recompute)
        ik_lm_cuda_proj_bottleneck(tr, l, t, op->x, op->T);
    else
        ik_lm_cuda_proj(tr, l, t, tr->proj, IK_CUDA_F32, op, NULL);
}

static void mamba_fwd(struct ik_lm_train_cuda *tr, int l, int T, int recompute)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct dev_layer *y = &tr->W[l];
    struct dev_acts *A = &tr->L[l];
    struct mamba_dims m = dims_of(c);
    struct operand x = operand_of(A->xn1, T, c->D);
    ik_lm_cuda_proj(tr, l, IK_LORA_IN, A->zx, IK_CUDA_F32, &x, NULL);
    /* zx's columns: z | xBC | dt */
    CK(tr, o->softplus_bias_fwd(A->dt, A->zx + m.inner + m.conv, m.in_dim, y->dt_bias, T, m.nh));
    CK(tr, o->conv1d_silu_fwd(A->xconv, A->xbc, A->zx + m.inner, m.in_dim, y->conv_w, y->conv_b, T,
                              m.conv, m.Kc));
    CK(tr, o->memset(tr->mb.state, 0, (size_t)m.nh * m.N * m.P * sizeof(float)));
    const float *xs = A->xbc, *B = xs + m.inner, *C = B + (size_t)m.G * m.N;
    CK(tr, o->ssm_scan_fwd(A->yssm, tr->mb.state, xs, B, C, m.conv, A->dt, y->A, y->Dskip, T, m.nh,
                           m.P, m.G, m.N));
    CK(tr, o->rmsnorm_gated_fwd(A->yn, A->yssm, A->zx, m.in_dim, y->ssm_norm, T, m.inner, m.G,
                                c->norm_eps));
    x = operand_of(A->yn, T, m.inner);
    last_proj(tr, l, IK_LORA_OUT, &x, recompute);
}

static void attn_fwd(struct ik_lm_train_cuda *tr, int l, int T, int recompute)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    struct dev_acts *A = &tr->L[l];
    struct operand x = operand_of(A->xn1, T, c->D);
    ik_lm_cuda_proj(tr, l, IK_LORA_Q, A->q, IK_CUDA_F32, &x, NULL);
    ik_lm_cuda_proj(tr, l, IK_LORA_K, A->k, IK_CUDA_F32, &x, NULL);
    ik_lm_cuda_proj(tr, l, IK_LORA_V, A->v, IK_CUDA_F32, &x, NULL);
    ik_lm_cuda_attention_fwd(tr, A, T);
    x = operand_of(A->att, T, c->H * c->head_dim);
    last_proj(tr, l, IK_LORA_O, &x, recompute);
}

static void mlp_fwd(struct ik_lm_train_cuda *tr, int l, int T, int recompute)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    struct dev_acts *A = &tr->L[l];
    struct operand x = operand_of(A->xn1, T, c->D);
    ik_lm_cuda_proj(tr, l, IK_LORA_UP, A->upf, IK_CUDA_F32, &x, NULL);
    CK(tr, tr->ops->relu2_fwd(A->act, A->upf, (size_t)T * c->F));
    x = operand_of(A->act, T, c->F);
    last_proj(tr, l, IK_LORA_DOWN, &x, recompute);
}

void ik_lm_cuda_mamba_forward(struct ik_lm_train_cuda *tr, int l, int T, float *x_out)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    struct dev_acts *A = &tr->L[l];
    int recompute = x_out == NULL;
    /* A layer past the first finds its norm done by the layer before, unless recomputed. */
    if (l == 0 || recompute)
        CK(tr, tr->ops->rmsnorm_fwd(A->xn1, A->rstd1, A->x_in, tr->W[l].attn_norm, T, c->D,
                                    c->norm_eps));
    switch (ik_lm_config_block(c, l)) {
    case IK_LM_BLOCK_MAMBA:
        mamba_fwd(tr, l, T, recompute);
        break;
    case IK_LM_BLOCK_ATTN:
        attn_fwd(tr, l, T, recompute);
        break;
    default:
        mlp_fwd(tr, l, T, recompute);
        break;
    }
    if (recompute)
        return;
    float *xn = tr->xnf, *rstd = tr->rstdf, *w = tr->final_norm;
    if (l + 1 < c->L) {
        xn = tr->L[l + 1].xn1;
        rstd = tr->L[l + 1].rstd1;
        w = tr->W[l + 1].attn_norm;
    }
    CK(tr, tr->ops->add_rmsnorm_fwd(x_out, xn, rstd, A->x_in, tr->proj, w, T, c->D, c->norm_eps));
}

/* ---- the mixers, backward: tr->dx holds d loss / d(mixer output); each
 * leaves d loss / d(normed input) in dxn (when not NULL) ---- */

static void zero(struct ik_lm_train_cuda *tr, float *p, size_t n)
{
    CK(tr, tr->ops->memset(p, 0, n * sizeof *p));
}

static void mamba_bwd(struct ik_lm_train_cuda *tr, int l, int T, float *dxn)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct dev_layer *y = &tr->W[l];
    const struct dev_acts *A = &tr->L[l];
    const struct dev_mamba_bufs *b = &tr->mb;
    struct mamba_dims m = dims_of(c);
    size_t GN = (size_t)m.G * m.N;
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_OUT, b->dyn, 1, 1, tr->dx, NULL, A->yn, T);
    zero(tr, b->dy, (size_t)T * m.inner);
    zero(tr, b->dzx, (size_t)T * m.in_dim);
    CK(tr, o->rmsnorm_gated_bwd(b->dy, b->dzx, m.in_dim, b->dyn, A->yssm, A->zx, m.in_dim,
                                y->ssm_norm, T, m.inner, m.G, c->norm_eps));
    zero(tr, b->dxbc, (size_t)T * m.conv);
    zero(tr, b->ddt, (size_t)T * m.nh);
    const float *xs = A->xbc, *B = xs + m.inner, *C = B + GN;
    float *dxs = b->dxbc, *dB = dxs + m.inner, *dC = dB + GN;
    CK(tr, o->ssm_scan_bwd(dxs, dB, dC, m.conv, b->ddt, b->dy, xs, B, C, m.conv, A->dt, y->A, y->Dskip,
                           T, m.nh, m.P, m.G, m.N, b->scan_scratch));
    CK(tr, o->conv1d_silu_bwd(b->dzx + m.inner, m.in_dim, b->dxbc, A->xconv, y->conv_w, T, m.conv,
                              m.Kc));
    size_t at_dt = (size_t)m.inner + m.conv;
    CK(tr, o->softplus_bias_bwd(b->dzx + at_dt, m.in_dim, b->ddt, A->zx + at_dt, m.in_dim, y->dt_bias,
                                T, m.nh));
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_IN, dxn, 1, 1, b->dzx, NULL, A->xn1, T);
}

static void attn_bwd(struct ik_lm_train_cuda *tr, int l, int T, float *dxn)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct dev_acts *A = &tr->L[l];
    size_t qw = (size_t)c->H * c->head_dim, kw = (size_t)c->K * c->head_dim;
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_O, tr->datt, 1, 1, tr->dx, NULL, A->att, T);
    zero(tr, tr->dq, (size_t)T * qw);
    zero(tr, tr->dk, (size_t)T * kw);
    zero(tr, tr->dv, (size_t)T * kw);
    ik_lm_cuda_attention_bwd(tr, A, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_Q, dxn, 1, 1, tr->dq, NULL, A->xn1, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_K, dxn, 0, 1, tr->dk, NULL, A->xn1, T);
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_V, dxn, 0, 1, tr->dv, NULL, A->xn1, T);
}

static void mlp_bwd(struct ik_lm_train_cuda *tr, int l, int T, float *dxn)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct dev_acts *A = &tr->L[l];
    size_t TF = (size_t)T * c->F;
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_DOWN, tr->dact, 1, 1, tr->dx, NULL, A->act, T);
    zero(tr, tr->mb.dup, TF);
    CK(tr, tr->ops->relu2_bwd(tr->mb.dup, tr->dact, A->upf, TF));
    ik_lm_cuda_proj_bwd(tr, l, IK_LORA_UP, dxn, 1, 1, tr->mb.dup, NULL, A->xn1, T);
}

void ik_lm_cuda_mamba_backward(struct ik_lm_train_cuda *tr, int l, int T)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    /* Below layer 0 lie only the frozen embeddings: no input gradient needed. */
    float *dxn = l > 0 ? tr->dxn : NULL;
    switch (ik_lm_config_block(c, l)) {
    case IK_LM_BLOCK_MAMBA:
        mamba_bwd(tr, l, T, dxn);
        break;
    case IK_LM_BLOCK_ATTN:
        attn_bwd(tr, l, T, dxn);
        break;
    default:
        mlp_bwd(tr, l, T, dxn);
        break;
    }
    if (dxn) /* the residual's identity stays in dx; the norm's backward adds the mixer's */
        CK(tr, tr->ops->rmsnorm_bwd(tr->dx, NULL, dxn, tr->L[l].x_in, tr->L[l].rstd1,
                                    tr->W[l].attn_norm, T, c->D));
}
