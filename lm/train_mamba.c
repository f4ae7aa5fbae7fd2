/* lm/train_mamba.c - the LoRA training pass of a NemotronH model (see
 * train.h): the forward over one sequence from zero states keeping each
 * layer's activations, the masked mean cross-entropy, and the backward pass
 * to the adapter through every mixer: the Mamba-2 one (out_proj, the gated
 * RMSNorm, the selective scan as a reverse scan with its states recomputed
 * chunk by chunk, the D skip, SiLU, the causal conv1d, softplus(dt + bias),
 * in_proj), attention without RoPE, and the relu^2 MLP. Only the adapter's
 * gradients are formed; the input gradient of every projection flows through
 * the frozen weights. The forward is forward_mamba.c's and forward.c's order
 * of kernels, so the loss agrees with ik_lm_score to rounding. With
 * checkpointing, each layer keeps only its input, and all layers share one
 * set of activation buffers, refilled by recomputing the layer just before
 * its backward. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/xmalloc.h"
#include "kernels/dispatch.h"
#include "lm/lora.h"
#include "lm/arena.h"
#include "lm/model.h"
#include "lm/train.h"
#include "lm/train_int.h"

/* Rows of logits held at once, as lm/train.c's HEAD_ROWS (the lm_head GEMMs
 * stream the whole (V,D) matrix once per block). */
enum { HEAD_ROWS = 512 };

/* From this many rows the forward scan takes the chunked (SSD) form, as
 * forward_mamba.c's SSD_MIN_ROWS. */
enum { SSD_MIN_ROWS = 4 };

/* One layer's saved activations (rows are positions); only its mixer's are set. */
struct acts {
    float *x_in, *xn, *rstd;          /* (S,D) x2, (S) */
    float *zx, *xconv, *xbc, *dt;     /* Mamba: in_proj out (S,in_dim), conv out before and after
                                       * SiLU (S,conv_dim) x2, softplus'd dt (S,nh) */
    float *yssm, *yn;                 /* Mamba: the scan's output, gated and normed (S,d_inner) x2 */
    float *q, *k, *v, *att;           /* attention: (S,qw), (S,kw) x2, (S,qw) */
    float *up, *act;                  /* MLP: (S,F) before and after relu^2 */
    float *h[IK_LORA_NT];             /* (S,r) LoRA bottleneck, NULL when not adapted */
};

struct ik_lm_train_hybrid {
    const struct ik_lm_model *m;
    struct ik_lm_train_lora lo; /* the adapter, this step's dropout, scratch, flops */
    int S, ckpt, Qb; /* max rows; checkpointing; the scan backward's checkpoint interval */
    struct acts *L, work; /* work: the shared buffers under checkpointing */
    float *x_fin, *xnf, *rstdf;
    float *proj, *dx, *dxn, *dzx, *dxbc, *dxconv, *ddt, *dy, *dyn;
    float *dq, *dk, *dv, *datt, *dup, *dact;
    float *logits, *dnll, *nll, *ascr;
    float *A, *conv_st, *ssm_st, *ssd, *scan_scr;
    float *mem;
    size_t n_floats;
    int n_correct;
};

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* The activations of a layer of block b (b < 0: every block's, the shared
 * set of checkpointing), with LoRA bottlenecks for the targets in `lora`. */
static void layout_acts(struct ik_lm_train_hybrid *tr, struct acts *A, int b, unsigned lora,
                        float *base, size_t *off)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    size_t r = tr->lo.a ? (size_t)tr->lo.a->cfg.r : 0;
    size_t inner = (size_t)ik_lm_ssm_inner(c), conv = (size_t)ik_lm_ssm_conv_dim(c);
    A->xn = ik_lm_arena_take(base, off, S * D);
    A->rstd = ik_lm_arena_take(base, off, S);
    if (b < 0 || b == IK_LM_BLOCK_MAMBA) {
        A->zx = ik_lm_arena_take(base, off, S * (size_t)ik_lm_ssm_in_dim(c));
        A->xconv = ik_lm_arena_take(base, off, S * conv);
        A->xbc = ik_lm_arena_take(base, off, S * conv);
        A->dt = ik_lm_arena_take(base, off, S * (size_t)c->ssm.heads);
        A->yssm = ik_lm_arena_take(base, off, S * inner);
        A->yn = ik_lm_arena_take(base, off, S * inner);
    }
    if (b < 0 || b == IK_LM_BLOCK_ATTN) {
        A->q = ik_lm_arena_take(base, off, S * qw);
        A->k = ik_lm_arena_take(base, off, S * kw);
        A->v = ik_lm_arena_take(base, off, S * kw);
        A->att = ik_lm_arena_take(base, off, S * qw);
    }
    if (b < 0 || b == IK_LM_BLOCK_MLP) {
        A->up = ik_lm_arena_take(base, off, S * F);
        A->act = ik_lm_arena_take(base, off, S * F);
    }
    for (int t = 0; t < IK_LORA_NT; t++)
        A->h[t] = lora & (1u << t) ? ik_lm_arena_take(base, off, S * r) : NULL;
}

/* The adapted targets of layer l (or of any layer: l < 0). */
static unsigned adapted(const struct ik_lm_train_hybrid *tr, int l)
{
    unsigned set = 0;
    for (int i = l < 0 ? 0 : l; tr->lo.a && i < (l < 0 ? tr->m->cfg.L : l + 1); i++)
        for (int t = 0; t < IK_LORA_NT; t++)
            set |= tr->lo.a->mod[i * IK_LORA_NT + t].A ? 1u << t : 0;
    return set;
}

/* All buffers, in one place; with base == NULL only counts floats. */
static size_t layout(struct ik_lm_train_hybrid *tr, float *base)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd, off = 0;
    size_t r = tr->lo.a ? (size_t)tr->lo.a->cfg.r : 0, nh = (size_t)c->ssm.heads;
    size_t inner = (size_t)ik_lm_ssm_inner(c), conv = (size_t)ik_lm_ssm_conv_dim(c);
    size_t in_dim = (size_t)ik_lm_ssm_in_dim(c), P = (size_t)c->ssm.head_dim, N = (size_t)c->ssm.state;
    int Q = c->ssm.chunk < tr->S ? c->ssm.chunk : tr->S;
    if (tr->ckpt)
        layout_acts(tr, &tr->work, -1, adapted(tr, -1), base, &off);
    for (int l = 0; l < c->L; l++) {
        struct acts *A = &tr->L[l];
        if (tr->ckpt)
            *A = tr->work;
        else
            layout_acts(tr, A, ik_lm_config_block(c, l), adapted(tr, l), base, &off);
        A->x_in = ik_lm_arena_take(base, &off, S * D);
    }
    tr->x_fin = ik_lm_arena_take(base, &off, S * D);
    tr->xnf = ik_lm_arena_take(base, &off, S * D);
    tr->rstdf = ik_lm_arena_take(base, &off, S);
    tr->proj = ik_lm_arena_take(base, &off, S * D);
    tr->dx = ik_lm_arena_take(base, &off, S * D);
    tr->dxn = ik_lm_arena_take(base, &off, S * D);
    tr->dzx = ik_lm_arena_take(base, &off, S * in_dim);
    tr->dxbc = ik_lm_arena_take(base, &off, S * conv);
    tr->dxconv = ik_lm_arena_take(base, &off, S * conv);
    tr->ddt = ik_lm_arena_take(base, &off, S * nh);
    tr->dy = ik_lm_arena_take(base, &off, S * inner);
    tr->dyn = ik_lm_arena_take(base, &off, S * inner);
    tr->dq = ik_lm_arena_take(base, &off, S * qw);
    tr->datt = ik_lm_arena_take(base, &off, S * qw);
    tr->dk = ik_lm_arena_take(base, &off, S * kw);
    tr->dv = ik_lm_arena_take(base, &off, S * kw);
    tr->dup = ik_lm_arena_take(base, &off, S * F);
    tr->dact = ik_lm_arena_take(base, &off, S * F);
    tr->lo.dh = ik_lm_arena_take(base, &off, S * (r ? r : 1));
    size_t in_max = max3(D, qw, max3(F, inner, 1));
    tr->lo.xdrop = ik_lm_arena_take(base, &off, S * in_max);
    tr->lo.tmp = ik_lm_arena_take(base, &off, S * in_max);
    tr->logits = ik_lm_arena_take(base, &off, (S < HEAD_ROWS ? S : HEAD_ROWS) * (size_t)c->V);
    tr->dnll = ik_lm_arena_take(base, &off, S);
    tr->nll = ik_lm_arena_take(base, &off, S);
    tr->ascr =
        ik_lm_arena_take(base, &off, ik_attention_bwd_scratch(tr->S, c->H, c->K, c->head_dim));
    /* The scan's states: the forward's running state and chunk scratch, the
     * backward's checkpoints (Qb rows apart) and recomputed chunk. */
    tr->A = ik_lm_arena_take(base, &off, nh);
    tr->conv_st = ik_lm_arena_take(base, &off, (size_t)(c->ssm.conv_kernel - 1) * conv);
    tr->ssm_st = ik_lm_arena_take(base, &off, nh * P * N);
    tr->ssd = ik_lm_arena_take(base, &off, Q > 0 ? ik_ssm_chunked_scratch((int)nh, (int)P, Q) : 0);
    tr->scan_scr = ik_lm_arena_take(
        base, &off, ik_ssm_scan_bwd_scratch(tr->S, c->ssm.groups, (int)P, (int)N, tr->Qb));
    return off;
}

/* The backward scan keeps one state per sqrt(S) rows and recomputes the
 * rows between: about 2 sqrt(S) states per group in all, the least for S. */
static int scan_interval(int S)
{
    int q = (int)ceil(sqrt((double)S));
    return q < 1 ? 1 : q;
}

static void setup(struct ik_lm_train_hybrid *tr, const struct ik_lm_model *m, struct ik_lora *a,
                  int max_seq, int opts)
{
    tr->m = m;
    tr->lo.a = a;
    tr->S = max_seq < 2 ? 2 : max_seq;
    tr->ckpt = (opts & IK_LM_TRAIN_CHECKPOINT) != 0;
    tr->Qb = scan_interval(tr->S);
    tr->L = ik_xcalloc((size_t)m->cfg.L, sizeof *tr->L);
}

int ik_lm_train_hybrid_new(struct ik_lm_train_hybrid **out, const struct ik_lm_model *m,
                           struct ik_lora *a, int max_seq, int opts, struct ik_diag *d)
{
    struct ik_lm_train_hybrid *tr = ik_xcalloc(1, sizeof *tr);
    setup(tr, m, a, max_seq, opts);
    size_t n = layout(tr, NULL);
    tr->mem = malloc(n * sizeof(float));
    if (tr->mem == NULL) {
        ik_lm_train_hybrid_free(tr);
        return ik_diag_set(d, -ENOMEM, "training activations for %d positions need %.2f GiB, which "
                           "could not be allocated", max_seq, (double)n * sizeof(float) / (1 << 30));
    }
    tr->n_floats = n;
    layout(tr, tr->mem);
    *out = tr;
    return 0;
}

void ik_lm_train_hybrid_free(struct ik_lm_train_hybrid *tr)
{
    if (tr == NULL)
        return;
    free(tr->mem);
    free(tr->L);
    free(tr);
}

size_t ik_lm_train_hybrid_estimate_bytes(const struct ik_lm_model *m, struct ik_lora *a, int max_seq,
                                         int opts)
{
    struct ik_lm_train_hybrid tr = {0};
    setup(&tr, m, a, max_seq, opts);
    size_t n = layout(&tr, NULL);
    free(tr.L);
    return n * sizeof(float);
}

size_t ik_lm_train_hybrid_bytes(const struct ik_lm_train_hybrid *tr) { return tr->n_floats * sizeof(float); }

int ik_lm_train_hybrid_n_correct(const struct ik_lm_train_hybrid *tr) { return tr->n_correct; }

double ik_lm_train_hybrid_gemm_flops(const struct ik_lm_train_hybrid *tr) { return tr->lo.flops; }

/* ---- projections with their LoRA branch ---- */

/* out = x @ w^T, plus the adapter's branch on dropout(x). */
static void proj(struct ik_lm_train_hybrid *tr, int l, int t, float *out, const float *x,
                 const float *w, int T, int In, int Out)
{
    ik_lm_train_proj(&tr->lo, l, t, tr->L[l].h[t], out, x, w, NULL, T, In, Out);
}

/* dx += dout @ w (when dx), and the adapter's gradients. */
static void proj_bwd(struct ik_lm_train_hybrid *tr, int l, int t, float *dx, const float *dout,
                     const float *x, const float *w, int T, int In, int Out)
{
    ik_lm_train_proj_bwd(&tr->lo, l, t, tr->L[l].h[t], dx, dout, x, w, T, In, Out);
}

/* ---- the mixers, forward ---- */

/* llama.cpp's softplus, as forward_mamba.c: the identity above 20. */
static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

static void neg_exp(float *A, const float *A_log, int nh)
{
    for (int h = 0; h < nh; h++)
        A[h] = -expf(A_log[h]);
}

static void mamba_fwd(struct ik_lm_train_hybrid *tr, int l, int T)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    struct acts *A = &tr->L[l];
    int nh = c->ssm.heads, P = c->ssm.head_dim, G = c->ssm.groups, N = c->ssm.state;
    int Kc = c->ssm.conv_kernel, inner = ik_lm_ssm_inner(c), conv = ik_lm_ssm_conv_dim(c);
    int in_dim = ik_lm_ssm_in_dim(c);
    proj(tr, l, IK_LORA_IN, A->zx, A->xn, y->ssm_in, T, c->D, in_dim);
    neg_exp(tr->A, y->A_log, nh);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++)
            A->dt[(size_t)t * nh + h] = softplus(A->zx[(size_t)t * in_dim + inner + conv + h] + y->dt_bias[h]);
    memset(tr->conv_st, 0, (size_t)(Kc - 1) * conv * sizeof(float));
    ik_conv1d_fwd(A->xconv, tr->conv_st, A->zx + inner, in_dim, y->conv_w, y->conv_b, T, conv, Kc);
    ik_silu_fwd(A->xbc, A->xconv, (size_t)T * conv);
    memset(tr->ssm_st, 0, (size_t)nh * P * N * sizeof(float));
    const float *x = A->xbc, *B = x + inner, *C = B + (size_t)G * N;
    if (T >= SSD_MIN_ROWS)
        ik_ssm_chunked_fwd(A->yssm, tr->ssm_st, x, B, C, conv, A->dt, tr->A, y->ssm_D, T, nh, P, G, N,
                           c->ssm.chunk < tr->S ? c->ssm.chunk : tr->S, tr->ssd);
    else
        ik_ssm_scan_fwd(A->yssm, tr->ssm_st, x, B, C, conv, A->dt, tr->A, y->ssm_D, T, nh, P, G, N);
    ik_rmsnorm_gated_fwd(A->yn, A->yssm, A->zx, in_dim, y->ssm_norm, T, inner, G, c->norm_eps);
    proj(tr, l, IK_LORA_OUT, tr->proj, A->yn, y->ssm_out, T, inner, c->D);
}

static void attn_fwd(struct ik_lm_train_hybrid *tr, int l, int T)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    struct acts *A = &tr->L[l];
    int D = c->D, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    proj(tr, l, IK_LORA_Q, A->q, A->xn, y->wq, T, D, qw);
    proj(tr, l, IK_LORA_K, A->k, A->xn, y->wk, T, D, kw);
    proj(tr, l, IK_LORA_V, A->v, A->xn, y->wv, T, D, kw);
    ik_attention_seq_fwd(A->att, A->q, A->k, A->v, T, c->H, c->K, hd, c->sliding_window, tr->ascr);
    proj(tr, l, IK_LORA_O, tr->proj, A->att, y->wo, T, qw, D);
}

static void mlp_fwd(struct ik_lm_train_hybrid *tr, int l, int T)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    struct acts *A = &tr->L[l];
    proj(tr, l, IK_LORA_UP, A->up, A->xn, y->w_up, T, c->D, c->F);
    ik_relu2_fwd(A->act, A->up, (size_t)T * c->F);
    proj(tr, l, IK_LORA_DOWN, tr->proj, A->act, y->w_down, T, c->F, c->D);
}

/* Layer l's forward from L[l].x_in: x_out = x_in + mixer(RMSNorm(x_in)),
 * keeping the activations the backward reads; x_out NULL (the recomputation
 * of a checkpointed layer) skips the residual. The same calls on the same
 * inputs give the same bits. */
static void forward_layer(struct ik_lm_train_hybrid *tr, int l, int T, float *x_out)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    struct acts *A = &tr->L[l];
    ik_rmsnorm_fwd(A->xn, A->rstd, A->x_in, tr->m->layers[l].attn_norm, T, c->D, c->norm_eps);
    switch (ik_lm_config_block(c, l)) {
    case IK_LM_BLOCK_MAMBA:
        mamba_fwd(tr, l, T);
        break;
    case IK_LM_BLOCK_ATTN:
        attn_fwd(tr, l, T);
        break;
    default:
        mlp_fwd(tr, l, T);
        break;
    }
    if (x_out)
        for (size_t i = 0; i < (size_t)T * c->D; i++)
            x_out[i] = A->x_in[i] + tr->proj[i];
}

/* ---- the mixers, backward: tr->dx holds d loss / d(mixer output); each
 * leaves d loss / d(normed input) in dxn (when not NULL) ---- */

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof *p); }

static void mamba_bwd(struct ik_lm_train_hybrid *tr, int l, int T, float *dxn)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    const struct acts *A = &tr->L[l];
    int nh = c->ssm.heads, P = c->ssm.head_dim, G = c->ssm.groups, N = c->ssm.state;
    int Kc = c->ssm.conv_kernel, inner = ik_lm_ssm_inner(c), conv = ik_lm_ssm_conv_dim(c);
    int in_dim = ik_lm_ssm_in_dim(c);
    size_t Ti = (size_t)T * inner, Tc = (size_t)T * conv;
    zero(tr->dyn, Ti);
    proj_bwd(tr, l, IK_LORA_OUT, tr->dyn, tr->dx, A->yn, y->ssm_out, T, inner, c->D);
    zero(tr->dy, Ti);
    zero(tr->dzx, (size_t)T * in_dim);
    ik_rmsnorm_gated_bwd(tr->dy, tr->dzx, in_dim, tr->dyn, A->yssm, A->zx, in_dim, y->ssm_norm, T,
                         inner, G, c->norm_eps);
    zero(tr->dxbc, Tc);
    zero(tr->ddt, (size_t)T * nh);
    neg_exp(tr->A, y->A_log, nh);
    const float *x = A->xbc, *B = x + inner, *C = B + (size_t)G * N;
    float *dx = tr->dxbc, *dB = dx + inner, *dC = dB + (size_t)G * N;
    ik_ssm_scan_bwd(dx, dB, dC, conv, tr->ddt, tr->dy, x, B, C, conv, A->dt, tr->A, y->ssm_D, T, nh,
                    P, G, N, tr->Qb, tr->scan_scr);
    zero(tr->dxconv, Tc);
    ik_silu_bwd(tr->dxconv, tr->dxbc, A->xconv, Tc);
    ik_conv1d_bwd(tr->dzx + inner, in_dim, tr->dxconv, y->conv_w, T, conv, Kc);
    /* d softplus(u)/du = sigmoid(u), 1 where the forward took the identity. */
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            size_t i = (size_t)t * in_dim + inner + conv + h;
            float u = A->zx[i] + y->dt_bias[h];
            tr->dzx[i] += tr->ddt[(size_t)t * nh + h] * (u > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-u)));
        }
    proj_bwd(tr, l, IK_LORA_IN, dxn, tr->dzx, A->xn, y->ssm_in, T, c->D, in_dim);
}

static void attn_bwd(struct ik_lm_train_hybrid *tr, int l, int T, float *dxn)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    const struct acts *A = &tr->L[l];
    int D = c->D, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    zero(tr->datt, (size_t)T * qw);
    proj_bwd(tr, l, IK_LORA_O, tr->datt, tr->dx, A->att, y->wo, T, qw, D);
    zero(tr->dq, (size_t)T * qw);
    zero(tr->dk, (size_t)T * kw);
    zero(tr->dv, (size_t)T * kw);
    ik_attention_bwd(tr->dq, tr->dk, tr->dv, tr->datt, A->q, A->k, A->v, T, c->H, c->K, hd,
                     c->sliding_window, tr->ascr);
    proj_bwd(tr, l, IK_LORA_Q, dxn, tr->dq, A->xn, y->wq, T, D, qw);
    proj_bwd(tr, l, IK_LORA_K, dxn, tr->dk, A->xn, y->wk, T, D, kw);
    proj_bwd(tr, l, IK_LORA_V, dxn, tr->dv, A->xn, y->wv, T, D, kw);
}

static void mlp_bwd(struct ik_lm_train_hybrid *tr, int l, int T, float *dxn)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    const struct ik_lm_layer *y = &tr->m->layers[l];
    const struct acts *A = &tr->L[l];
    size_t TF = (size_t)T * c->F;
    zero(tr->dact, TF);
    proj_bwd(tr, l, IK_LORA_DOWN, tr->dact, tr->dx, A->act, y->w_down, T, c->F, c->D);
    zero(tr->dup, TF);
    ik_relu2_bwd(tr->dup, tr->dact, A->up, TF);
    proj_bwd(tr, l, IK_LORA_UP, dxn, tr->dup, A->xn, y->w_up, T, c->D, c->F);
}

/* tr->dx holds d loss / d(output of layer l); leaves d loss / d(its input):
 * the residual's identity plus the norm's backward of the mixer's. */
static void backward_layer(struct ik_lm_train_hybrid *tr, int l, int T)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    /* Below layer 0 lie only the frozen embeddings: no input gradient needed. */
    float *dxn = l > 0 ? tr->dxn : NULL;
    if (dxn)
        zero(dxn, (size_t)T * c->D);
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
    if (dxn)
        ik_rmsnorm_bwd(tr->dx, NULL, dxn, tr->L[l].x_in, tr->L[l].rstd, tr->m->layers[l].attn_norm, T,
                       c->D);
}

/* ---- the step ---- */

/* The rows whose largest logit (the first, on ties) is the label and are selected. */
static int argmax_hits(const float *logits, const int *labels, const unsigned char *mask, int R, int V)
{
    int n = 0;
    for (int i = 0; i < R; i++) {
        const float *row = logits + (size_t)i * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            best = row[j] > row[best] ? j : best;
        n += (mask == NULL || mask[i]) && best == labels[i];
    }
    return n;
}

/* The final norm, lm_head and masked cross-entropy of T rows; with bwd,
 * tr->dxn receives d loss / d(normed final rows). Returns the NLL sum. */
static double head(struct ik_lm_train_hybrid *tr, const int *tokens, const unsigned char *mask, int T,
                   int count, float grad_scale, int bwd)
{
    const struct ik_lm_model *m = tr->m;
    int D = m->cfg.D, V = m->cfg.V;
    double sum = 0;
    for (int r0 = 0; r0 < T; r0 += HEAD_ROWS) {
        int R = T - r0 < HEAD_ROWS ? T - r0 : HEAD_ROWS;
        const float *xr = tr->xnf + (size_t)r0 * D;
        const unsigned char *mr = mask ? mask + r0 + 1 : NULL;
        ik_matmul_fwd(tr->logits, xr, m->lm_head, NULL, R, D, V);
        tr->lo.flops += 2.0 * R * D * V;
        tr->n_correct += argmax_hits(tr->logits, tokens + r0 + 1, mr, R, V);
        for (int i = 0; i < R; i++)
            tr->dnll[i] = mr == NULL || mr[i] ? grad_scale / (float)count : 0.0f;
        if (bwd)
            ik_softmax_xent_fwd_bwd(tr->nll, tr->logits, tr->logits, tokens + r0 + 1, tr->dnll, R, V);
        else
            ik_softmax_xent_fwd(tr->nll, tr->logits, tokens + r0 + 1, R, V);
        for (int i = 0; i < R; i++)
            sum += mr == NULL || mr[i] ? tr->nll[i] : 0.0;
        if (bwd) {
            ik_matmul_bwd(tr->dxn + (size_t)r0 * D, NULL, NULL, tr->logits, xr, m->lm_head, R, D, V);
            tr->lo.flops += 2.0 * R * D * V;
        }
    }
    return sum;
}

void ik_lm_train_hybrid_step(struct ik_lm_train_hybrid *tr, const int *tokens,
                             const unsigned char *mask, int n, int count, int flags, uint64_t seed,
                             float grad_scale, double *loss)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *c = &m->cfg;
    int T = n - 1, D = c->D, bwd = flags & IK_LM_BACKWARD;
    tr->lo.flops = 0;
    tr->n_correct = 0;
    tr->lo.dropout = (flags & IK_LM_DROPOUT) && tr->lo.a && tr->lo.a->cfg.dropout > 0;
    tr->lo.seed = seed;
    for (int t = 0; t < T; t++)
        memcpy(tr->L[0].x_in + (size_t)t * D, m->embed + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
    for (int l = 0; l < c->L; l++)
        forward_layer(tr, l, T, l + 1 < c->L ? tr->L[l + 1].x_in : tr->x_fin);
    ik_rmsnorm_fwd(tr->xnf, tr->rstdf, tr->x_fin, m->final_norm, T, D, c->norm_eps);
    if (bwd)
        zero(tr->dxn, (size_t)T * D);
    *loss = head(tr, tokens, mask, T, count, grad_scale, bwd) / count;
    if (!bwd)
        return;
    zero(tr->dx, (size_t)T * D);
    ik_rmsnorm_bwd(tr->dx, NULL, tr->dxn, tr->x_fin, tr->rstdf, m->final_norm, T, D);
    for (int l = c->L - 1; l >= 0; l--) {
        if (tr->ckpt && l + 1 < c->L)
            forward_layer(tr, l, T, NULL); /* the last layer's are still there */
        backward_layer(tr, l, T);
    }
}
