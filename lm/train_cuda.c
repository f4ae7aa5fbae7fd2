/* lm/train_cuda.c - lm/train.c's forward and backward over one sequence, on
 * a CUDA device through the module's table (see train_cuda.h). The order of
 * operations is train.c's, call for call, so the two can be read side by
 * side; what differs is where the data lives and that the frozen
 * projections multiply BF16 copies. Every table call is checked: the first
 * failure ends the step with IK_ECUDA and the module's text. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/cuda/cuda_ops.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "lm/train_cuda.h"
#include "lm/train_int.h"

/* Rows of logits at once, as train.c's HEAD_ROWS. */
enum { HEAD_ROWS = 512 };
/* Device buffers start on 256-byte boundaries (cuBLASLt wants 16). */
enum { ALIGN = 256 };

/* An adapted projection's weight W (Out, In) is stored widened to
 * [W | s B | 0] (Out, In + rp): its LoRA branch s h B^T joins the frozen
 * GEMM as rp more columns of K, the operand being [x | h | 0] (see proj).
 * So the forward reads and writes its output once, where a separate fp32
 * GEMM with beta 1 would read and write it again (at Qwen2.5-1.5B, 4096
 * tokens, about 0.8 GB of the forward's traffic per layer). The B columns
 * are BF16 copies of the fp32 master, refreshed whenever it changes
 * (refresh_lora_columns); the backward keeps the fp32 B. */
struct dev_layer {
    uint16_t *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down; /* BF16 (Out, ld[t]) */
    int ld[IK_LORA_NT];                                   /* In, or In + rp when adapted */
    float *bq, *bk, *bv, *bo;                             /* or NULL */
    float *attn_norm, *ffn_norm, *q_norm, *k_norm;        /* q/k norms NULL without */
};

/* One layer's saved activations, as train.c's struct acts. */
struct dev_acts {
    float *x_in, *xn1, *rstd1, *qpre, *rstdq, *kpre, *rstdk, *q, *k, *v, *att;
    float *x_mid, *xn2, *rstd2, *act;
    uint16_t *gate, *up; /* BF16: the gate and up GEMMs write them so, SwiGLU reads them */
    float *h[IK_LORA_NT];
    float *stats; /* (H, T): the fused attention's softmax statistics for its backward; NULL without */
};

/* Which attention the step runs: the module's cuBLAS pair (->attention_fwd,
 * the default), cuDNN's fused SDPA (->sdpa_fwd) or the module's flash
 * kernels (->flash_fwd); the last two keep softmax statistics per layer. */
enum { ATT_OWN, ATT_CUDNN, ATT_FLASH };

struct ik_lm_train_cuda {
    const struct ik_cuda_ops *ops;
    const struct ik_lm_model *m;
    struct ik_lora *a;
    int S;
    int rp;   /* the adapter's rank rounded up to 8 (16-byte rows of BF16); 0 without */
    int ckpt; /* IK_LM_TRAIN_CHECKPOINT: L[l] shares all but x_in with L[0] */
    int random_base; /* IK_LM_TRAIN_CUDA_RANDOM_BASE */
    int att;  /* IKADA_CUDA_ATTENTION: ATT_OWN, ATT_CUDNN or ATT_FLASH (attention_choice) */
    uint64_t n_drawn;  /* base tensors drawn so far (each its own seed) */
    void *mem; /* the one device allocation */
    size_t bytes;
    struct dev_layer *W;
    struct dev_acts *L;
    /* BF16: tables; scratch for GEMM operands (xb2: the up projection's
     * gradient beside the gate's; xbe: the widened [x | h | 0]); the final
     * norm's output */
    uint16_t *embed, *head, *xb, *xb2, *xbe, *xnb, *hb; /* hb: a bottleneck h in BF16 */
    float *final_norm, *inv_freq, *params, *grads, *moment1, *moment2;
    float *x_fin, *xnf, *rstdf, *proj, *dx, *dxn, *dq, *dk, *dv, *datt;
    float *dact, *dh, *lscr, *logits, *dnll, *nll; /* lscr: ->lora_dA_dropout's scratch */
    int *posv, *tokens, *amax;
    unsigned char *rowmask; /* (S): the rows the loss counts, when a mask is given */
    double *sums;           /* (2): ->loss_sums of the step */
    void *ascr;
    float *h_grads, *h_dnll; /* host copies */
    int dropout, n_correct, failed;
    int grads_on_device;   /* since ik_lm_train_cuda_zero_grad: steps accumulate here */
    int params_uploaded;   /* a->params copied since the last zero_grad */
    int moments_on_device; /* the moments were uploaded by the first optimizer step */
    uint64_t seed;
    double flops;
    struct ik_diag *d; /* of the call in progress */
};

/* ---- the device arena ---- */

struct carve {
    char *base; /* NULL: only count */
    size_t off;
};

static void *take(struct carve *c, size_t bytes)
{
    size_t at = (c->off + ALIGN - 1) / ALIGN * ALIGN;
    c->off = at + bytes;
    return c->base ? c->base + at : NULL;
}

#define TAKE_F(c, n) ((float *)take((c), (size_t)(n) * sizeof(float)))
#define TAKE_H(c, n) ((uint16_t *)take((c), (size_t)(n) * sizeof(uint16_t)))

/* Bytes of the attention entries' scratch: ->sdpa_scratch's with cuDNN's,
 * ->flash_scratch's with the flash kernels, else ->attention_scratch's;
 * without a table (estimating) the module's formulas (kernels/cuda/
 * attention.cu; attention_flash.cu; attention_cudnn.cu's carve, T padded to
 * its bucket). cuDNN's own workspace, which the module allocates and keeps,
 * is not counted. */
static size_t attention_bytes(const struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    size_t S = (size_t)tr->S;
    if (tr->ops)
        return tr->att == ATT_CUDNN ? tr->ops->sdpa_scratch(tr->S, g->H, g->K, g->head_dim)
               : tr->att == ATT_FLASH ? tr->ops->flash_scratch(tr->S, g->H)
                                      : tr->ops->attention_scratch(tr->S, g->H, g->K);
    if (tr->att == ATT_OWN)
        return 2 * (size_t)g->K * S * S * sizeof(float);
    if (tr->att == ATT_FLASH)
        return S * (size_t)g->H * sizeof(float);
    size_t step = 128; /* attention_cudnn.cu's bucket() */
    while (step * 8 < S)
        step *= 2;
    size_t Tb = (S + step - 1) / step * step, hd = (size_t)g->head_dim;
    size_t nq = Tb * (size_t)g->H * hd, nk = Tb * (size_t)g->K * hd, hb = Tb * (size_t)g->H * 4;
    size_t a = 255;
    return 4 * ((nq * 2 + a) & ~a) + 4 * ((nk * 2 + a) & ~a) + 2 * ((hb + a) & ~a) +
           ((nq * 4 + a) & ~a);
}

static int adapted(const struct ik_lora *a, int l, int t)
{
    return a && a->mod[l * IK_LORA_NT + t].A != NULL;
}

/* The adapter's rank rounded up to 8, the widened weights' extra columns
 * (BF16 rows stay 16-byte multiples); 0 without an adapter. */
static int padded_rank(const struct ik_lora *a) { return a ? (a->cfg.r + 7) / 8 * 8 : 0; }

/* Projection t's input and output widths. */
static int proj_in(const struct ik_lm_config *g, int t)
{
    return t == IK_LORA_O ? g->H * g->head_dim : t == IK_LORA_DOWN ? g->F : g->D;
}

static int proj_out(const struct ik_lm_config *g, int t)
{
    if (t == IK_LORA_Q)
        return g->H * g->head_dim;
    if (t == IK_LORA_K || t == IK_LORA_V)
        return g->K * g->head_dim;
    return t == IK_LORA_GATE || t == IK_LORA_UP ? g->F : g->D;
}

/* Bytes of ->lora_dA_dropout's scratch for the widest input; without a
 * table (estimating) lora_dropout.cu's formula (a partial sum per 128 tokens). */
static size_t lora_scratch_bytes(const struct ik_lm_train_cuda *tr, size_t in_max)
{
    int r = tr->a->cfg.r;
    if (tr->ops)
        return tr->ops->lora_dA_dropout_scratch(tr->S, (int)in_max, r);
    return ((size_t)tr->S + 127) / 128 * (size_t)r * in_max * sizeof(float);
}

/* Every device buffer; with c->base NULL only counts bytes. */
static void layout(struct ik_lm_train_cuda *tr, struct carve *c)
{
    const struct ik_lm_config *g = &tr->m->cfg;
    size_t S = (size_t)tr->S, D = (size_t)g->D, F = (size_t)g->F, hd = (size_t)g->head_dim;
    size_t qw = (size_t)g->H * hd, kw = (size_t)g->K * hd, V = (size_t)g->V;
    size_t r = tr->a ? (size_t)tr->a->cfg.r : 0, R = S < HEAD_ROWS ? S : HEAD_ROWS;
    size_t rp = (size_t)tr->rp;
    size_t in_max = D > qw ? D : qw;
    in_max = in_max > F ? in_max : F;
    const struct ik_lm_model *m = tr->m;
    for (int l = 0; l < g->L; l++) {
        const struct ik_lm_layer *y = &m->layers[l];
        struct dev_layer *w = &tr->W[l];
        for (int t = 0; t < IK_LORA_NT; t++)
            w->ld[t] = proj_in(g, t) + (adapted(tr->a, l, t) ? (int)rp : 0);
        w->wq = TAKE_H(c, qw * w->ld[IK_LORA_Q]);
        w->wk = TAKE_H(c, kw * w->ld[IK_LORA_K]);
        w->wv = TAKE_H(c, kw * w->ld[IK_LORA_V]);
        w->wo = TAKE_H(c, D * w->ld[IK_LORA_O]);
        w->w_gate = TAKE_H(c, F * w->ld[IK_LORA_GATE]);
        w->w_up = TAKE_H(c, F * w->ld[IK_LORA_UP]);
        w->w_down = TAKE_H(c, D * w->ld[IK_LORA_DOWN]);
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
            continue;
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
            A->h[t] = adapted(tr->a, l, t) ? TAKE_F(c, S * r) : NULL;
    }
    tr->embed = TAKE_H(c, V * D);
    tr->head = m->lm_head == m->embed ? tr->embed : TAKE_H(c, V * D);
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
    size_t xb = S * in_max > R * V ? S * in_max : R * V;
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

/* Records the first failure of the call in progress; CK skips the later ones. */
static void ck(struct ik_lm_train_cuda *tr, int rc, const char *what)
{
    if (rc != 0 && !tr->failed) {
        tr->failed = 1;
        /* what is the call's text, "o->gemm(0, 1, T, ...)": its name is enough */
        ik_diag_set(tr->d, IK_ECUDA, "CUDA training, %.*s: %s", (int)strcspn(what, "("), what,
                    tr->ops->last_error());
    }
}

#define CK(tr, call)                                                                               \
    do {                                                                                           \
        if (!(tr)->failed)                                                                         \
            ck((tr), (call), #call);                                                               \
    } while (0)

/* rows x cols fp32 weights to the device as BF16 rows ld apart (the
 * columns past cols zero until refresh_lora_columns fills them), through a
 * host buffer of rows x ld; or, with random_base, values drawn there (src
 * unread). */
static void upload_bf16_rows(struct ik_lm_train_cuda *tr, uint16_t *dst, const float *src,
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

static void upload_bf16(struct ik_lm_train_cuda *tr, uint16_t *dst, const float *src, size_t n,
                        uint16_t *host)
{
    upload_bf16_rows(tr, dst, src, 1, n, n, host);
}

static void upload_f32(struct ik_lm_train_cuda *tr, float *dst, const float *src, size_t n)
{
    if (dst != NULL)
        CK(tr, tr->ops->memcpy_htod(dst, src, n * sizeof *src));
}

static void upload_model(struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_model *m = tr->m;
    const struct ik_lm_config *g = &m->cfg;
    size_t D = (size_t)g->D, F = (size_t)g->F, hd = (size_t)g->head_dim, V = (size_t)g->V;
    size_t qw = (size_t)g->H * hd, kw = (size_t)g->K * hd;
    /* The host buffer holds the largest tensor: the tables, or a
     * projection's (widened) weight, Out x ld. */
    size_t most = V * D;
    for (int l = 0; l < g->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            size_t n = (size_t)proj_out(g, t) * (size_t)tr->W[l].ld[t];
            most = n > most ? n : most;
        }
    uint16_t *host = tr->random_base ? NULL : ik_xmalloc(most * sizeof *host);
    for (int l = 0; l < g->L; l++) {
        const struct ik_lm_layer *y = &m->layers[l];
        struct dev_layer *w = &tr->W[l];
        upload_bf16_rows(tr, w->wq, y->wq, qw, D, (size_t)w->ld[IK_LORA_Q], host);
        upload_bf16_rows(tr, w->wk, y->wk, kw, D, (size_t)w->ld[IK_LORA_K], host);
        upload_bf16_rows(tr, w->wv, y->wv, kw, D, (size_t)w->ld[IK_LORA_V], host);
        upload_bf16_rows(tr, w->wo, y->wo, D, qw, (size_t)w->ld[IK_LORA_O], host);
        upload_bf16_rows(tr, w->w_gate, y->w_gate, F, D, (size_t)w->ld[IK_LORA_GATE], host);
        upload_bf16_rows(tr, w->w_up, y->w_up, F, D, (size_t)w->ld[IK_LORA_UP], host);
        upload_bf16_rows(tr, w->w_down, y->w_down, D, F, (size_t)w->ld[IK_LORA_DOWN], host);
        upload_f32(tr, w->bq, y->bq, qw);
        upload_f32(tr, w->bk, y->bk, kw);
        upload_f32(tr, w->bv, y->bv, kw);
        upload_f32(tr, w->bo, y->bo, D);
        upload_f32(tr, w->attn_norm, y->attn_norm, D);
        upload_f32(tr, w->ffn_norm, y->ffn_norm, D);
        upload_f32(tr, w->q_norm, y->q_norm, hd);
        upload_f32(tr, w->k_norm, y->k_norm, hd);
    }
    upload_bf16(tr, tr->embed, m->embed, V * D, host);
    if (tr->head != tr->embed)
        upload_bf16(tr, tr->head, m->lm_head, V * D, host);
    upload_f32(tr, tr->final_norm, m->final_norm, D);
    if (hd / 2)
        upload_f32(tr, tr->inv_freq, m->inv_freq, hd / 2);
    free(host);
    int *pos = ik_xmalloc((size_t)tr->S * sizeof *pos);
    for (int i = 0; i < tr->S; i++)
        pos[i] = i;
    CK(tr, tr->ops->memcpy_htod(tr->posv, pos, (size_t)tr->S * sizeof *pos));
    free(pos);
}

/* ---- construction ---- */

static int refuse(const struct ik_lm_model *m, struct ik_diag *d)
{
    if (m->cfg.arch == IK_LM_NEMOTRON_H)
        return ik_diag_set(d, IK_ENOTBUILT, "CUDA training of a NemotronH model is not built yet "
                           "(device: cpu trains it)");
    return 0;
}

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
    struct carve c = {NULL, 0};
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
    int rc = refuse(m, d), att = ATT_OWN;
    if (rc)
        return rc;
    /* The table's last entry: every entry the step and check_attention call. */
    if (!HAS_ENTRY(ops, lora_down_swiglu_bwd))
        return ik_diag_set(d, IK_ECUDA, "the CUDA module predates this trainer (no "
                           "lora_down_swiglu_bwd): rebuild it");
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
    struct carve c = {NULL, 0};
    layout(tr, &c);
    tr->bytes = c.off;
    if (ops->alloc(&tr->mem, tr->bytes) != 0) {
        ik_diag_set(d, IK_ECUDA, "CUDA training of %d positions needs %.2f GiB of device memory: %s",
                    max_seq, (double)tr->bytes / (1 << 30), ops->last_error());
        ik_lm_train_cuda_free(tr);
        return IK_ECUDA;
    }
    c = (struct carve){tr->mem, 0};
    layout(tr, &c);
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
    free(tr->W);
    free(tr->L);
    free(tr->h_grads);
    free(tr->h_dnll);
    free(tr);
}

/* ---- one projection with its LoRA branch (train_proj.c's) ---- */

static const struct ik_lora_module *module(const struct ik_lm_train_cuda *tr, int l, int t)
{
    return adapted(tr->a, l, t) ? &tr->a->mod[l * IK_LORA_NT + t] : NULL;
}

/* The device copy of a host adapter tensor (A, B, dA or dB). */
static float *dev_param(const struct ik_lm_train_cuda *tr, const float *host)
{
    const struct ik_lora *a = tr->a;
    if (host >= a->params && host < a->params + a->n_params)
        return tr->params + (host - a->params);
    return tr->grads + (host - a->grads);
}

/* tr->xb = x (n values) in BF16, the frozen GEMMs' operand. */
static const uint16_t *bf16_operand(struct ik_lm_train_cuda *tr, const float *x, size_t n)
{
    CK(tr, tr->ops->to_bf16(tr->xb, x, n));
    return tr->xb;
}

/* A projection input x (T, In) as the frozen GEMMs' BF16 operand, made on
 * first use and shared by the projections that read x (q, k and v; gate
 * and up): plain, (T, In) in tr->xb, for a frozen projection; widened,
 * (T, In + rp) in tr->xbe, for an adapted one, which writes its bottleneck
 * into the last rp columns before its GEMM. */
struct operand {
    const float *x;
    int T, In;
    const uint16_t *plain;
    uint16_t *wide;
};

static struct operand operand_of(const float *x, int T, int In)
{
    return (struct operand){x, T, In, NULL, NULL};
}

static const uint16_t *plain_operand(struct ik_lm_train_cuda *tr, struct operand *op)
{
    if (op->plain == NULL)
        op->plain = bf16_operand(tr, op->x, (size_t)op->T * op->In);
    return op->plain;
}

static uint16_t *wide_operand(struct ik_lm_train_cuda *tr, struct operand *op)
{
    if (op->wide == NULL) {
        CK(tr, tr->ops->to_bf16_2d(tr->xbe, op->In + tr->rp, op->x, op->In, op->T, op->In, op->In,
                                   1.0f));
        op->wide = tr->xbe;
    }
    return op->wide;
}

/* h (T, r) = dropout(x) A^T for projection t of layer l, the adapter's
 * bottleneck: through its dropout in one kernel that never stores the
 * masked x (->lora_down_dropout), or without dropout a TF32 GEMM.
 *
 * The LoRA GEMMs that stay fp32 (this one, and dA and dx through A in
 * lora_bwd) take TF32 products: their FLOPs are about 1% of the frozen
 * GEMMs', but in fp32 on the CUDA cores (about 67 TFLOP/s on an H100,
 * against 989 for BF16 on the tensor cores) they would cost some 14% of the
 * GEMMs' time; TF32 (494) costs 2%, with 10 mantissa bits where the base
 * weights have 8. */
static void lora_bottleneck(struct ik_lm_train_cuda *tr, int l, int t, float *h, const float *x,
                            int T, int In)
{
    const struct ik_lora_module *md = module(tr, l, t);
    int r = tr->a->cfg.r;
    if (tr->dropout)
        CK(tr, tr->ops->lora_down_dropout(h, x, dev_param(tr, md->A), T, In, r, tr->a->cfg.dropout,
                                          ik_lora_dropout_key(tr->seed, l, t)));
    else
        CK(tr, tr->ops->gemm(0, 1, T, r, In, 1.0f, x, In, dev_param(tr, md->A), In, 0.0f, h, r,
                             IK_CUDA_TF32, IK_CUDA_F32));
}

/* out (fp32 or BF16: out_type) = x @ w^T + b, plus the adapter's branch on
 * dropout(x), ik_cpu_lora_fwd's out += s h B^T with h = dropout(x) A^T
 * (lora_bottleneck; kept in h (T, r) for the backward): for an adapted
 * projection one BF16 GEMM, [x | h | 0] times w = [W | s B | 0] (struct
 * dev_layer). */
static void proj(struct ik_lm_train_cuda *tr, int l, int t, float *h, void *out, int out_type,
                 struct operand *op, const uint16_t *w, const float *b, int Out)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lora_module *md = module(tr, l, t);
    int T = op->T, In = op->In;
    tr->flops += 2.0 * T * In * Out;
    if (md == NULL) {
        CK(tr, o->gemm(0, 1, T, Out, In, 1.0f, plain_operand(tr, op), In, w, In, 0.0f, out, Out,
                       IK_CUDA_BF16, out_type));
    } else {
        int r = tr->a->cfg.r, ld = In + tr->rp;
        uint16_t *xw = wide_operand(tr, op);
        lora_bottleneck(tr, l, t, h, op->x, T, In);
        CK(tr, o->to_bf16_2d(xw + In, ld, h, r, T, r, tr->rp, 1.0f));
        CK(tr, o->gemm(0, 1, T, Out, ld, 1.0f, xw, ld, w, ld, 0.0f, out, Out, IK_CUDA_BF16,
                       out_type));
        tr->flops += 2.0 * T * r * (In + Out);
    }
    if (b) /* fp32 outputs only: the BF16 ones are the MLP's, which has no bias */
        CK(tr, o->bias_add((float *)out, b, T, Out));
}

/* Each adapted projection's s B columns of its widened weight, from the
 * device's fp32 adapter: after the adapter's parameters change there. */
static void refresh_lora_columns(struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    for (int l = 0; l < c->L; l++) {
        const struct dev_layer *y = &tr->W[l];
        uint16_t *w[IK_LORA_NT] = {y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down};
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *md = module(tr, l, t);
            if (md == NULL)
                continue;
            CK(tr, tr->ops->to_bf16_2d(w[t] + proj_in(c, t), y->ld[t], dev_param(tr, md->B),
                                       tr->a->cfg.r, proj_out(c, t), tr->a->cfg.r, tr->rp,
                                       tr->a->scale));
        }
    }
}

/* ik_cpu_lora_bwd on the device: dB += s dout^T h; dh = s dout B; dA += dh^T dropout(x);
 * dx += the gradient through dropout of dh A (with no dropout, key unused: dx += dh A). The
 * two products over dout take it in BF16 (dout_b, the frozen backward's operand), h rounded to
 * BF16 and the widened weight's s B columns (sb, rows ld apart): dout is read once, at half the
 * bytes, by the tensor cores, and its fp32 copy is not needed. dh and the products with x and
 * A stay fp32: through the dropout in kernels that apply its mask on the fly
 * (->lora_dA_dropout, ->lora_dx_dropout: the masked x is never stored, nor a gradient
 * through it), without one as TF32 GEMMs (proj says why). */
static void lora_bwd(struct ik_lm_train_cuda *tr, const struct ik_lora_module *md,
                     const uint16_t *sb, int ld, float *dx, const uint16_t *dout_b,
                     const float *x, const float *h, uint64_t key, int T, int In, int Out)
{
    const struct ik_cuda_ops *o = tr->ops;
    int r = tr->a->cfg.r;
    float p = tr->a->cfg.dropout;
    /* hb's rows rp apart: 16-byte multiples whatever the rank (cuBLASLt's
     * tensor-core kernels want them). */
    CK(tr, o->to_bf16_2d(tr->hb, tr->rp, h, r, T, r, tr->rp, 1.0f));
    CK(tr, o->gemm(1, 0, Out, r, T, tr->a->scale, dout_b, Out, tr->hb, tr->rp, 1.0f,
                   dev_param(tr, md->dB), r, IK_CUDA_BF16, IK_CUDA_F32));
    CK(tr, o->gemm(0, 0, T, r, Out, 1.0f, dout_b, Out, sb, ld, 0.0f, tr->dh, r, IK_CUDA_BF16,
                   IK_CUDA_F32));
    if (tr->dropout) {
        CK(tr, o->lora_dA_dropout(dev_param(tr, md->dA), tr->dh, x, T, In, r, p, key, tr->lscr));
        if (dx)
            CK(tr, o->lora_dx_dropout(dx, tr->dh, dev_param(tr, md->A), T, In, r, p, key));
        return;
    }
    CK(tr, o->gemm(1, 0, r, In, T, 1.0f, tr->dh, r, x, In, 1.0f, dev_param(tr, md->dA), In,
                   IK_CUDA_TF32, IK_CUDA_F32));
    if (dx)
        CK(tr, o->gemm(0, 0, T, In, r, 1.0f, tr->dh, r, dev_param(tr, md->A), In, 1.0f, dx, In,
                       IK_CUDA_TF32, IK_CUDA_F32));
}

/* dx += dout @ W (when dx; with fresh, dx = : it need not be zeroed first),
 * and the adapter's gradients; the branch's input gradient is added to dx
 * too unless the caller takes it (branch_dx 0: the down projection's, which
 * SwiGLU's backward adds, ->lora_down_swiglu_bwd). dout_b is dout (T, Out) in
 * BF16 when the caller has it; else dout (fp32) is converted here. */
static void proj_bwd(struct ik_lm_train_cuda *tr, int l, int t, const float *h, float *dx,
                     int fresh, int branch_dx, const float *dout, const uint16_t *dout_b,
                     const float *x, const uint16_t *w, int T, int In, int Out)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lora_module *md = module(tr, l, t);
    if (dx == NULL && md == NULL)
        return;
    const uint16_t *db = dout_b ? dout_b : bf16_operand(tr, dout, (size_t)T * Out);
    int ld = tr->W[l].ld[t];
    if (dx) { /* w's first In columns: the frozen W */
        CK(tr, o->gemm(0, 0, T, In, Out, 1.0f, db, Out, w, ld, fresh ? 0.0f : 1.0f, dx, In,
                       IK_CUDA_BF16, IK_CUDA_F32));
        tr->flops += 2.0 * T * In * Out;
    }
    if (md == NULL)
        return;
    int r = tr->a->cfg.r;
    tr->flops += 2.0 * T * r * (In + 2.0 * Out) + (dx ? 2.0 * T * r * In : 0);
    lora_bwd(tr, md, w + In, ld, branch_dx ? dx : NULL, db, x, h, ik_lora_dropout_key(tr->seed, l, t),
             T, In, Out);
}

/* ---- the layers (train.c's forward_layer and backward_layer) ---- */

/* The down projection's LoRA bottleneck h = dropout(act) A^T as the forward
 * made it (same key, same GEMM): all the backward reads of that projection,
 * whose output it does not need. */
static void recompute_down_bottleneck(struct ik_lm_train_cuda *tr, int l, int T)
{
    if (module(tr, l, IK_LORA_DOWN) == NULL)
        return;
    int F = tr->m->cfg.F;
    lora_bottleneck(tr, l, IK_LORA_DOWN, tr->L[l].h[IK_LORA_DOWN], tr->L[l].act, T, F);
    tr->flops += 2.0 * T * tr->a->cfg.r * F;
}

/* A->att = attention of A->q over A->k, A->v (and, with a fused attention,
 * A->stats). */
static void attention_fwd(struct ik_lm_train_cuda *tr, struct dev_acts *A, int T)
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

/* tr->dq, dk, dv += the attention's gradients, given tr->datt. */
static void attention_bwd(struct ik_lm_train_cuda *tr, const struct dev_acts *A, int T)
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
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    const struct dev_layer *y = &tr->W[l];
    struct dev_acts *A = &tr->L[l];
    if (l == 0 || x_out == NULL)
        CK(tr, o->rmsnorm_fwd(A->xn1, A->rstd1, A->x_in, y->attn_norm, T, D, c->norm_eps));
    struct operand x = operand_of(A->xn1, T, D);
    proj(tr, l, IK_LORA_Q, A->h[IK_LORA_Q], A->qpre, IK_CUDA_F32, &x, y->wq, y->bq, qw);
    proj(tr, l, IK_LORA_K, A->h[IK_LORA_K], A->kpre, IK_CUDA_F32, &x, y->wk, y->bk, kw);
    proj(tr, l, IK_LORA_V, A->h[IK_LORA_V], A->v, IK_CUDA_F32, &x, y->wv, y->bv, kw);
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
    attention_fwd(tr, A, T);
    x = operand_of(A->att, T, qw);
    proj(tr, l, IK_LORA_O, A->h[IK_LORA_O], tr->proj, IK_CUDA_F32, &x, y->wo, y->bo, D);
    CK(tr, o->add_rmsnorm_fwd(A->x_mid, A->xn2, A->rstd2, A->x_in, tr->proj, y->ffn_norm, T, D,
                              c->norm_eps));
    x = operand_of(A->xn2, T, D);
    proj(tr, l, IK_LORA_GATE, A->h[IK_LORA_GATE], A->gate, IK_CUDA_BF16, &x, y->w_gate, NULL, F);
    proj(tr, l, IK_LORA_UP, A->h[IK_LORA_UP], A->up, IK_CUDA_BF16, &x, y->w_up, NULL, F);
    if (x_out == NULL) {
        CK(tr, o->swiglu_fwd_bf16(A->act, NULL, 0, A->gate, A->up, T, F));
        recompute_down_bottleneck(tr, l, T);
        return;
    }
    /* SwiGLU writes the down projection's BF16 operand (plain, or widened
     * for its adapter) beside its fp32 product, sparing a conversion pass. */
    x = operand_of(A->act, T, F);
    if (module(tr, l, IK_LORA_DOWN)) {
        x.wide = tr->xbe;
        CK(tr, o->swiglu_fwd_bf16(A->act, x.wide, F + tr->rp, A->gate, A->up, T, F));
    } else {
        x.plain = tr->xb;
        CK(tr, o->swiglu_fwd_bf16(A->act, tr->xb, F, A->gate, A->up, T, F));
    }
    proj(tr, l, IK_LORA_DOWN, A->h[IK_LORA_DOWN], tr->proj, IK_CUDA_F32, &x, y->w_down, NULL, D);
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
    proj_bwd(tr, l, IK_LORA_DOWN, A->h[IK_LORA_DOWN], tr->dact, 1, 0, tr->dx, NULL, A->act,
             y->w_down, T, F, D);
    const struct ik_lora_module *down = module(tr, l, IK_LORA_DOWN);
    if (down) /* dact + the down branch's input gradient (tr->dh), in the same pass */
        CK(tr, o->lora_down_swiglu_bwd(tr->xb, tr->xb2, tr->dact, A->gate, A->up, T, F, tr->dh,
                                       dev_param(tr, down->A), tr->a->cfg.r,
                                       tr->dropout ? tr->a->cfg.dropout : 0.0f,
                                       ik_lora_dropout_key(tr->seed, l, IK_LORA_DOWN)));
    else
        CK(tr, o->swiglu_bwd_bf16_in(tr->xb, tr->xb2, tr->dact, A->gate, A->up, T, F));
    proj_bwd(tr, l, IK_LORA_GATE, A->h[IK_LORA_GATE], tr->dxn, 1, 1, NULL, tr->xb, A->xn2, y->w_gate,
             T, D, F);
    proj_bwd(tr, l, IK_LORA_UP, A->h[IK_LORA_UP], tr->dxn, 0, 1, NULL, tr->xb2, A->xn2, y->w_up, T, D,
             F);
    CK(tr, o->rmsnorm_bwd(tr->dx, NULL, tr->dxn, A->x_mid, A->rstd2, y->ffn_norm, T, D));

    proj_bwd(tr, l, IK_LORA_O, A->h[IK_LORA_O], tr->datt, 1, 1, tr->dx, NULL, A->att, y->wo, T, qw, D);
    CK(tr, o->memset(tr->dq, 0, (size_t)T * qw * sizeof(float)));
    CK(tr, o->memset(tr->dk, 0, (size_t)T * kw * sizeof(float)));
    CK(tr, o->memset(tr->dv, 0, (size_t)T * kw * sizeof(float)));
    attention_bwd(tr, A, T);
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
    proj_bwd(tr, l, IK_LORA_Q, A->h[IK_LORA_Q], dxn, 1, 1, dq, NULL, A->xn1, y->wq, T, D, qw);
    proj_bwd(tr, l, IK_LORA_K, A->h[IK_LORA_K], dxn, 0, 1, dk, NULL, A->xn1, y->wk, T, D, kw);
    proj_bwd(tr, l, IK_LORA_V, A->h[IK_LORA_V], dxn, 0, 1, tr->dv, NULL, A->xn1, y->wv, T, D, kw);
    if (dxn)
        CK(tr, o->rmsnorm_bwd(tr->dx, NULL, dxn, A->x_in, A->rstd1, y->attn_norm, T, D));
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
        refresh_lora_columns(tr);
        tr->params_uploaded = tr->grads_on_device;
    }
    if (tr->a && bwd && !tr->grads_on_device)
        CK(tr, o->memset(tr->grads, 0, tr->a->n_params * sizeof(float)));
    CK(tr, o->embed_rows_bf16(tr->L[0].x_in, tr->embed, tr->tokens, T, D));
    for (int l = 0; l < c->L; l++)
        forward_layer(tr, l, T, l + 1 < c->L ? tr->L[l + 1].x_in : tr->x_fin); /* and xnf */
    head(tr, T, bwd);
    CK(tr, o->loss_sums(tr->sums, tr->nll, tr->amax, tr->tokens + 1, mask ? tr->rowmask : NULL, T));
    if (bwd) {
        CK(tr, o->memset(tr->dx, 0, (size_t)T * D * sizeof(float)));
        CK(tr, o->rmsnorm_bwd(tr->dx, NULL, tr->dxn, tr->x_fin, tr->rstdf, tr->final_norm, T, D));
        for (int l = c->L - 1; l >= 0; l--) {
            if (tr->ckpt && l + 1 < c->L)
                forward_layer(tr, l, T, NULL); /* the last layer's are still there */
            backward_layer(tr, l, T);
        }
    }
    /* The step's one wait: the loss and accuracy sums (and, when the host
     * owns them, the gradients). */
    double sums[2] = {0, 0};
    CK(tr, o->memcpy_dtoh(sums, tr->sums, sizeof sums));
    if (bwd && !tr->grads_on_device)
        add_grads(tr);
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
    refresh_lora_columns(tr); /* a step before the next upload reads them */
    CK(tr, o->memcpy_dtoh(a->params, tr->params, bytes));
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
