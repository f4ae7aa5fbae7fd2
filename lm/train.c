/* lm/train.c - forward over one sequence keeping the activations, the
 * masked mean cross-entropy, and the backward pass to the LoRA parameters
 * (see train.h). Only the adapter's gradients are formed: the base weights
 * get no gradient, but every projection's input gradient flows through them
 * (dx = dout @ W), which is most of the cost. The order of operations in the
 * forward is forward.c's, so the loss matches ik_lm_score to rounding. With
 * checkpointing, every layer but for its input uses layer 0's activation
 * buffers, and each is recomputed from its input just before its backward. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/dispatch.h"
#include "lm/lora.h"
#include "lm/arena.h"
#include "lm/model.h"
#include "lm/train.h"
#include "lm/train_cuda.h"
#include "lm/train_int.h"

/* Rows of logits held at once: the lm_head GEMMs (forward and input
 * gradient) stream the whole (V,D) matrix once per block each, so small
 * blocks leave them memory-bound (measured on the Qwen2.5 head: 64 rows at
 * ~2/3 of sgemm's rate, 256 rows at ~90 %, 511 rows at ~98 %); 512 rows of a
 * 151,936-word vocabulary are 297 MiB. */
enum { HEAD_ROWS = 512 };

/* One layer's saved activations; rows are positions. */
struct acts {
    float *x_in, *xn1, *rstd1;      /* (S,D) x2, (S) */
    float *qpre, *rstdq, *kpre, *rstdk; /* Qwen3 pre-norm q/k (== q/k otherwise), (S*H), (S*K) */
    float *q, *k, *v, *att;         /* after RoPE; (S,qw), (S,kw) x2, (S,qw) */
    float *x_mid, *xn2, *rstd2;     /* residual after attention, its norm */
    float *gate, *up, *act;         /* (S,F) each; act = silu(gate)*up */
    float *h[IK_LORA_NT];           /* (S,r) LoRA bottleneck, NULL when not adapted */
};

struct ik_lm_train {
    struct ik_lm_train_hybrid *hy; /* a NemotronH model's trainer (train_mamba.c), or NULL */
    struct ik_lm_train_cuda *cu;   /* a trainer on a CUDA device (train_cuda.c), or NULL */
    const struct ik_lm_model *m;
    struct ik_lm_train_lora lo; /* the adapter, this step's dropout, scratch, flops */
    int S;
    int ckpt;       /* IK_LM_TRAIN_CHECKPOINT: L[l] shares all but x_in with L[0] */
    struct acts *L;
    float *x_fin, *xnf, *rstdf;
    float *proj, *dx, *dxn, *dq, *dk, *dv, *dq2, *dk2, *datt, *dgate, *dup, *dact;
    float *logits, *dnll, *nll, *ascr;
    int *posv;
    int *amax; /* (HEAD_ROWS) each logits row's argmax */
    float *mem;
    size_t n_floats; /* of mem */
    int n_correct; /* of the last step */
};

/* All buffers, in one place; with base == NULL only counts floats. */
static size_t layout(struct ik_lm_train *tr, float *base)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd, off = 0;
    size_t r = tr->lo.a ? (size_t)tr->lo.a->cfg.r : 0;
    size_t in_max = D > qw ? D : qw;
    in_max = in_max > F ? in_max : F;
    for (int l = 0; l < c->L; l++) {
        struct acts *A = &tr->L[l];
        if (tr->ckpt && l > 0) {
            /* Checkpointing: only the layer's input is its own; the rest is
             * layer 0's, overwritten by each layer's (re)computation. */
            *A = tr->L[0];
            A->x_in = ik_lm_arena_take(base, &off, S * D);
            continue;
        }
        A->x_in = ik_lm_arena_take(base, &off, S * D);
        A->xn1 = ik_lm_arena_take(base, &off, S * D);
        A->rstd1 = ik_lm_arena_take(base, &off, S);
        A->q = ik_lm_arena_take(base, &off, S * qw);
        A->k = ik_lm_arena_take(base, &off, S * kw);
        A->qpre = c->qk_norm ? ik_lm_arena_take(base, &off, S * qw) : A->q;
        A->kpre = c->qk_norm ? ik_lm_arena_take(base, &off, S * kw) : A->k;
        A->rstdq = c->qk_norm ? ik_lm_arena_take(base, &off, S * c->H) : NULL;
        A->rstdk = c->qk_norm ? ik_lm_arena_take(base, &off, S * c->K) : NULL;
        A->v = ik_lm_arena_take(base, &off, S * kw);
        A->att = ik_lm_arena_take(base, &off, S * qw);
        A->x_mid = ik_lm_arena_take(base, &off, S * D);
        A->xn2 = ik_lm_arena_take(base, &off, S * D);
        A->rstd2 = ik_lm_arena_take(base, &off, S);
        A->gate = ik_lm_arena_take(base, &off, S * F);
        A->up = ik_lm_arena_take(base, &off, S * F);
        A->act = ik_lm_arena_take(base, &off, S * F);
        for (int t = 0; t < IK_LORA_NT; t++)
            A->h[t] =
                ik_lm_train_module(&tr->lo, l, t) ? ik_lm_arena_take(base, &off, S * r) : NULL;
    }
    tr->x_fin = ik_lm_arena_take(base, &off, S * D);
    tr->xnf = ik_lm_arena_take(base, &off, S * D);
    tr->rstdf = ik_lm_arena_take(base, &off, S);
    tr->proj = ik_lm_arena_take(base, &off, S * D);
    tr->dx = ik_lm_arena_take(base, &off, S * D);
    tr->dxn = ik_lm_arena_take(base, &off, S * D);
    tr->dq = ik_lm_arena_take(base, &off, S * qw);
    tr->dq2 = ik_lm_arena_take(base, &off, S * qw);
    tr->datt = ik_lm_arena_take(base, &off, S * qw);
    tr->dk = ik_lm_arena_take(base, &off, S * kw);
    tr->dk2 = ik_lm_arena_take(base, &off, S * kw);
    tr->dv = ik_lm_arena_take(base, &off, S * kw);
    tr->dgate = ik_lm_arena_take(base, &off, S * F);
    tr->dup = ik_lm_arena_take(base, &off, S * F);
    tr->dact = ik_lm_arena_take(base, &off, S * F);
    tr->lo.dh = ik_lm_arena_take(base, &off, S * (r ? r : 1));
    tr->lo.xdrop = ik_lm_arena_take(base, &off, S * in_max);
    tr->lo.tmp = ik_lm_arena_take(base, &off, S * in_max);
    tr->logits = ik_lm_arena_take(base, &off, (S < HEAD_ROWS ? S : HEAD_ROWS) * (size_t)c->V);
    tr->dnll = ik_lm_arena_take(base, &off, S);
    tr->nll = ik_lm_arena_take(base, &off, S);
    tr->ascr =
        ik_lm_arena_take(base, &off, ik_attention_bwd_scratch(tr->S, c->H, c->K, c->head_dim));
    return off;
}

int ik_lm_train_new(struct ik_lm_train **out, const struct ik_lm_model *m, struct ik_lora *a,
                    int max_seq, struct ik_diag *d)
{
    return ik_lm_train_new_opts(out, m, a, max_seq, 0, d);
}

int ik_lm_train_new_opts(struct ik_lm_train **out, const struct ik_lm_model *m, struct ik_lora *a,
                         int max_seq, int opts, struct ik_diag *d)
{
    if (max_seq < 2)
        return ik_diag_set(d, IK_EVALIDATE, "a trainer needs max_seq >= 2, got %d", max_seq);
    if (a && a->L != m->cfg.L)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter has %d layers but the model %d", a->L, m->cfg.L);
    int rc = ik_lm_model_check_in_memory(m, "the CPU trainer", d);
    if (rc != 0)
        return rc;
    struct ik_lm_train *tr = ik_xcalloc(1, sizeof *tr);
    if (m->cfg.arch == IK_LM_NEMOTRON_H) {
        tr->m = m;
        tr->lo.a = a;
        tr->S = max_seq;
        rc = ik_lm_train_hybrid_new(&tr->hy, m, a, max_seq, opts, d);
        if (rc)
            free(tr);
        else
            *out = tr;
        return rc;
    }
    tr->m = m;
    tr->lo.a = a;
    tr->S = max_seq;
    tr->ckpt = (opts & IK_LM_TRAIN_CHECKPOINT) != 0;
    tr->L = ik_xcalloc((size_t)m->cfg.L, sizeof *tr->L);
    size_t n = layout(tr, NULL);
    tr->mem = malloc(n * sizeof(float));
    if (tr->mem == NULL) {
        free(tr->L);
        free(tr);
        return ik_diag_set(d, -ENOMEM, "training activations for %d positions need %.2f GiB, which "
                           "could not be allocated", max_seq, (double)n * sizeof(float) / (1 << 30));
    }
    tr->n_floats = n;
    layout(tr, tr->mem);
    tr->posv = ik_xmalloc((size_t)max_seq * sizeof *tr->posv);
    for (int i = 0; i < max_seq; i++)
        tr->posv[i] = i;
    tr->amax = ik_xmalloc((size_t)HEAD_ROWS * sizeof *tr->amax);
    *out = tr;
    return 0;
}

int ik_lm_train_new_cuda(struct ik_lm_train **out, const struct ik_cuda_ops *ops,
                         const struct ik_lm_model *m, struct ik_lora *a, int max_seq, int opts,
                         struct ik_diag *d)
{
    struct ik_lm_train *tr = ik_xcalloc(1, sizeof *tr);
    int rc = ik_lm_train_cuda_new(&tr->cu, ops, m, a, max_seq, opts, d);
    if (rc) {
        free(tr);
        return rc;
    }
    tr->m = m;
    tr->lo.a = a;
    tr->S = max_seq;
    *out = tr;
    return 0;
}

size_t ik_lm_train_estimate_bytes(const struct ik_lm_model *m, struct ik_lora *a, int max_seq,
                                  int opts)
{
    if (m->cfg.arch == IK_LM_NEMOTRON_H)
        return ik_lm_train_hybrid_estimate_bytes(m, a, max_seq, opts);
    struct ik_lm_train tr = {.m = m, .lo.a = a, .S = max_seq < 2 ? 2 : max_seq};
    tr.ckpt = (opts & IK_LM_TRAIN_CHECKPOINT) != 0;
    tr.L = ik_xcalloc((size_t)m->cfg.L, sizeof *tr.L);
    size_t n = layout(&tr, NULL);
    free(tr.L);
    return n * sizeof(float) + (size_t)tr.S * sizeof(int);
}

int ik_lm_train_n_correct(const struct ik_lm_train *tr)
{
    if (tr->cu)
        return ik_lm_train_cuda_n_correct(tr->cu);
    return tr->hy ? ik_lm_train_hybrid_n_correct(tr->hy) : tr->n_correct;
}

int ik_lm_train_zero_grad(struct ik_lm_train *tr, struct ik_diag *d)
{
    if (tr->cu)
        return ik_lm_train_cuda_zero_grad(tr->cu, d);
    if (tr->lo.a)
        ik_lora_zero_grad(tr->lo.a);
    return 0;
}

int ik_lm_train_optimizer_step(struct ik_lm_train *tr, const struct ik_lm_adamw *opt, float *m,
                               float *v, double *grad_norm, struct ik_diag *d)
{
    if (tr->cu)
        return ik_lm_train_cuda_optimizer_step(tr->cu, opt, m, v, grad_norm, d);
    struct ik_lora *a = tr->lo.a;
    if (a == NULL)
        return ik_diag_set(d, IK_EVALIDATE, "an optimizer step needs an adapter");
    *grad_norm = ik_clip_grad_norm(a->grads, a->n_params, opt->max_grad_norm);
    ik_adamw(a->params, a->grads, m, v, a->n_params, (float)opt->lr, opt->b1, opt->b2, opt->eps,
             opt->weight_decay, opt->t);
    return 0;
}

int ik_lm_train_sync_moments(struct ik_lm_train *tr, float *m, float *v, struct ik_diag *d)
{
    return tr->cu ? ik_lm_train_cuda_sync_moments(tr->cu, m, v, d) : 0;
}

/* Target rows of logits whose largest entry (the first, on ties, as
 * torch.argmax) is the label: TRL's mean_token_accuracy counts these. The
 * scan runs on the kernels' pool (R x V is 512 x 151,936 on Qwen2.5). */
static int count_correct(struct ik_lm_train *tr, const float *logits, const int *labels,
                         const unsigned char *mask, int R, int V)
{
    ik_argmax_rows(tr->amax, logits, R, V);
    int n = 0;
    for (int i = 0; i < R; i++)
        n += (mask == NULL || mask[i]) && tr->amax[i] == labels[i];
    return n;
}

void ik_lm_train_free(struct ik_lm_train *tr)
{
    if (tr == NULL)
        return;
    ik_lm_train_hybrid_free(tr->hy);
    ik_lm_train_cuda_free(tr->cu);
    free(tr->mem);
    free(tr->L);
    free(tr->posv);
    free(tr->amax);
    free(tr);
}

double ik_lm_train_gemm_flops(const struct ik_lm_train *tr)
{
    if (tr->cu)
        return ik_lm_train_cuda_gemm_flops(tr->cu);
    return tr->hy ? ik_lm_train_hybrid_gemm_flops(tr->hy) : tr->lo.flops;
}

size_t ik_lm_train_bytes(const struct ik_lm_train *tr)
{
    if (tr->cu)
        return ik_lm_train_cuda_bytes(tr->cu);
    return tr->hy ? ik_lm_train_hybrid_bytes(tr->hy) : tr->n_floats * sizeof(float);
}

/* out = x @ w^T + b, plus the adapter's branch on dropout(x). */
static void proj(struct ik_lm_train *tr, int l, int t, float *out, const float *x, const float *w,
                 const float *b, int T, int In, int Out)
{
    ik_lm_train_proj(&tr->lo, l, t, tr->L[l].h[t], out, x, w, b, T, In, Out);
}

/* dx += dout @ w (when dx), and the adapter's gradients. */
static void proj_bwd(struct ik_lm_train *tr, int l, int t, float *dx, const float *dout,
                     const float *x, const float *w, int T, int In, int Out)
{
    ik_lm_train_proj_bwd(&tr->lo, l, t, tr->L[l].h[t], dx, dout, x, w, T, In, Out);
}

/* Layer l's forward from L[l].x_in, keeping the activations the backward
 * reads, and its output in x_out. With x_out NULL (the recomputation of a
 * checkpointed layer in the backward pass) it stops once those activations
 * exist: the down projection's output is not one of them, its LoRA
 * bottleneck is. The same calls on the same inputs give the same bits. */
static void forward_layer(struct ik_lm_train *tr, int l, int T, float *x_out)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    const struct ik_lm_layer *y = &m->layers[l];
    struct acts *A = &tr->L[l];
    ik_rmsnorm_fwd(A->xn1, A->rstd1, A->x_in, y->attn_norm, T, D, c->norm_eps);
    proj(tr, l, IK_LORA_Q, A->qpre, A->xn1, y->wq, y->bq, T, D, qw);
    proj(tr, l, IK_LORA_K, A->kpre, A->xn1, y->wk, y->bk, T, D, kw);
    proj(tr, l, IK_LORA_V, A->v, A->xn1, y->wv, y->bv, T, D, kw);
    if (y->q_norm) {
        ik_rmsnorm_fwd(A->q, A->rstdq, A->qpre, y->q_norm, T * c->H, hd, c->norm_eps);
        ik_rmsnorm_fwd(A->k, A->rstdk, A->kpre, y->k_norm, T * c->K, hd, c->norm_eps);
    }
    ik_rope_fwd(A->q, tr->posv, m->inv_freq, T, c->H, hd);
    ik_rope_fwd(A->k, tr->posv, m->inv_freq, T, c->K, hd);
    ik_attention_seq_fwd(A->att, A->q, A->k, A->v, T, c->H, c->K, hd, c->sliding_window, tr->ascr);
    proj(tr, l, IK_LORA_O, tr->proj, A->att, y->wo, y->bo, T, qw, D);
    for (size_t i = 0; i < (size_t)T * D; i++)
        A->x_mid[i] = A->x_in[i] + tr->proj[i];
    ik_rmsnorm_fwd(A->xn2, A->rstd2, A->x_mid, y->ffn_norm, T, D, c->norm_eps);
    proj(tr, l, IK_LORA_GATE, A->gate, A->xn2, y->w_gate, NULL, T, D, F);
    proj(tr, l, IK_LORA_UP, A->up, A->xn2, y->w_up, NULL, T, D, F);
    ik_swiglu_fwd(A->act, A->gate, A->up, T, F);
    if (x_out == NULL) {
        const struct ik_lora_module *md = ik_lm_train_module(&tr->lo, l, IK_LORA_DOWN);
        if (md == NULL)
            return;
        const float *x = A->act;
        if (tr->lo.dropout) {
            ik_lora_dropout(tr->lo.xdrop, x, T, F, tr->lo.a->cfg.dropout, tr->lo.seed, l,
                            IK_LORA_DOWN);
            x = tr->lo.xdrop;
        }
        /* The bottleneck h = x @ A^T as the forward made it: ik_lora_fwd itself,
         * its cheap second product landing in tr->proj, which nothing reads. */
        ik_lora_fwd(tr->proj, A->h[IK_LORA_DOWN], x, md->A, md->B, tr->lo.a->scale, T, F, D,
                    tr->lo.a->cfg.r);
        tr->lo.flops += 2.0 * T * tr->lo.a->cfg.r * (F + D);
        return;
    }
    proj(tr, l, IK_LORA_DOWN, tr->proj, A->act, y->w_down, NULL, T, F, D);
    for (size_t i = 0; i < (size_t)T * D; i++)
        x_out[i] = A->x_mid[i] + tr->proj[i];
}

static void forward_layers(struct ik_lm_train *tr, const int *tokens, int T)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D;
    for (int t = 0; t < T; t++)
        memcpy(tr->L[0].x_in + (size_t)t * D, m->embed + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
    for (int l = 0; l < c->L; l++)
        forward_layer(tr, l, T, l + 1 < c->L ? tr->L[l + 1].x_in : tr->x_fin);
}

/* tr->dx holds d loss / d(output of layer l); leaves d loss / d(its input). */
static void backward_layer(struct ik_lm_train *tr, int l, int T)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *c = &m->cfg;
    const struct ik_lm_layer *y = &m->layers[l];
    const struct acts *A = &tr->L[l];
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    size_t nD = (size_t)T * D * sizeof(float), nF = (size_t)T * F * sizeof(float);
    memset(tr->dact, 0, nF);
    proj_bwd(tr, l, IK_LORA_DOWN, tr->dact, tr->dx, A->act, y->w_down, T, F, D);
    memset(tr->dgate, 0, nF);
    memset(tr->dup, 0, nF);
    ik_swiglu_bwd(tr->dgate, tr->dup, tr->dact, A->gate, A->up, T, F);
    memset(tr->dxn, 0, nD);
    proj_bwd(tr, l, IK_LORA_GATE, tr->dxn, tr->dgate, A->xn2, y->w_gate, T, D, F);
    proj_bwd(tr, l, IK_LORA_UP, tr->dxn, tr->dup, A->xn2, y->w_up, T, D, F);
    ik_rmsnorm_bwd(tr->dx, NULL, tr->dxn, A->x_mid, A->rstd2, y->ffn_norm, T, D);

    memset(tr->datt, 0, (size_t)T * qw * sizeof(float));
    proj_bwd(tr, l, IK_LORA_O, tr->datt, tr->dx, A->att, y->wo, T, qw, D);
    memset(tr->dq, 0, (size_t)T * qw * sizeof(float));
    memset(tr->dk, 0, (size_t)T * kw * sizeof(float));
    memset(tr->dv, 0, (size_t)T * kw * sizeof(float));
    ik_attention_bwd(tr->dq, tr->dk, tr->dv, tr->datt, A->q, A->k, A->v, T, c->H, c->K, hd,
                     c->sliding_window, tr->ascr);
    ik_rope_bwd(tr->dq, tr->posv, m->inv_freq, T, c->H, hd);
    ik_rope_bwd(tr->dk, tr->posv, m->inv_freq, T, c->K, hd);
    float *dq = tr->dq, *dk = tr->dk;
    if (y->q_norm) {
        memset(tr->dq2, 0, (size_t)T * qw * sizeof(float));
        memset(tr->dk2, 0, (size_t)T * kw * sizeof(float));
        ik_rmsnorm_bwd(tr->dq2, NULL, dq, A->qpre, A->rstdq, y->q_norm, T * c->H, hd);
        ik_rmsnorm_bwd(tr->dk2, NULL, dk, A->kpre, A->rstdk, y->k_norm, T * c->K, hd);
        dq = tr->dq2;
        dk = tr->dk2;
    }
    /* Below layer 0 lie only the frozen embeddings: no input gradient needed. */
    float *dxn = l > 0 ? tr->dxn : NULL;
    if (dxn)
        memset(dxn, 0, nD);
    proj_bwd(tr, l, IK_LORA_Q, dxn, dq, A->xn1, y->wq, T, D, qw);
    proj_bwd(tr, l, IK_LORA_K, dxn, dk, A->xn1, y->wk, T, D, kw);
    proj_bwd(tr, l, IK_LORA_V, dxn, tr->dv, A->xn1, y->wv, T, D, kw);
    if (dxn)
        ik_rmsnorm_bwd(tr->dx, NULL, dxn, A->x_in, A->rstd1, y->attn_norm, T, D);
}

int ik_lm_train_step(struct ik_lm_train *tr, const int *tokens, const unsigned char *mask, int n,
                     int flags, uint64_t seed, float grad_scale, double *loss, int *n_target,
                     struct ik_diag *d)
{
    if (tr->cu)
        return ik_lm_train_cuda_step(tr->cu, tokens, mask, n, flags, seed, grad_scale, loss, n_target, d);
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *c = &m->cfg;
    int count, rc = ik_lm_train_check_step(c, tr->S, tr->lo.a != NULL, tokens, mask, n, flags, &count, d);
    if (rc)
        return rc;
    if (tr->hy) {
        ik_lm_train_hybrid_step(tr->hy, tokens, mask, n, count, flags, seed, grad_scale, loss);
        if (n_target)
            *n_target = count;
        return 0;
    }
    int T = n - 1, D = c->D, V = c->V;
    tr->lo.flops = 0;
    tr->n_correct = 0;
    tr->lo.dropout = (flags & IK_LM_DROPOUT) && tr->lo.a && tr->lo.a->cfg.dropout > 0;
    tr->lo.seed = seed;
    forward_layers(tr, tokens, T);
    ik_rmsnorm_fwd(tr->xnf, tr->rstdf, tr->x_fin, m->final_norm, T, D, c->norm_eps);

    int bwd = flags & IK_LM_BACKWARD;
    if (bwd)
        memset(tr->dxn, 0, (size_t)T * D * sizeof(float));
    double sum = 0;
    for (int r0 = 0; r0 < T; r0 += HEAD_ROWS) {
        int R = T - r0 < HEAD_ROWS ? T - r0 : HEAD_ROWS;
        const float *xr = tr->xnf + (size_t)r0 * D;
        ik_matmul_fwd(tr->logits, xr, m->lm_head, NULL, R, D, V);
        tr->lo.flops += 2.0 * R * D * V;
        tr->n_correct +=
            count_correct(tr, tr->logits, tokens + r0 + 1, mask ? mask + r0 + 1 : NULL, R, V);
        for (int i = 0; i < R; i++)
            tr->dnll[i] = mask == NULL || mask[r0 + i + 1] ? grad_scale / (float)count : 0.0f;
        if (bwd)
            ik_softmax_xent_fwd_bwd(tr->nll, tr->logits, tr->logits, tokens + r0 + 1, tr->dnll, R, V);
        else
            ik_softmax_xent_fwd(tr->nll, tr->logits, tokens + r0 + 1, R, V);
        for (int i = 0; i < R; i++)
            sum += mask == NULL || mask[r0 + i + 1] ? tr->nll[i] : 0.0;
        if (bwd) {
            ik_matmul_bwd(tr->dxn + (size_t)r0 * D, NULL, NULL, tr->logits, xr, m->lm_head, R, D, V);
            tr->lo.flops += 2.0 * R * D * V;
        }
    }
    *loss = sum / count;
    if (n_target)
        *n_target = count;
    if (!bwd)
        return 0;
    memset(tr->dx, 0, (size_t)T * D * sizeof(float));
    ik_rmsnorm_bwd(tr->dx, NULL, tr->dxn, tr->x_fin, tr->rstdf, m->final_norm, T, D);
    for (int l = c->L - 1; l >= 0; l--) {
        if (tr->ckpt && l + 1 < c->L)
            forward_layer(tr, l, T, NULL); /* the last layer's are still there */
        backward_layer(tr, l, T);
    }
    return 0;
}
