/* lm/train_cuda_int.h - what the CUDA trainer's files share (lm/train_cuda.h
 * is their contract): the device arena, the trainer's state, the checked
 * table calls, the projections with their LoRA branch (train_cuda_proj.c)
 * and NemotronH's layers (train_cuda_mamba.c), which lm/train_cuda.c's
 * step calls for a NemotronH model in place of its decoder layers. Not for
 * use outside lm/train_cuda*.c. */
#ifndef IK_LM_TRAIN_CUDA_INT_H
#define IK_LM_TRAIN_CUDA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/cuda_ops.h"
#include "lm/lora.h"

struct ik_diag;
struct ik_lm_model;

/* Device buffers start on 256-byte boundaries (cuBLASLt wants 16). */
enum { IK_LM_CUDA_ALIGN = 256 };

/* An adapted projection's weight W (Out, In) is stored widened to
 * [W | s B | 0] (Out, In + rp): its LoRA branch s h B^T joins the frozen
 * GEMM as rp more columns of K, the operand being [x | h | 0] (see proj).
 * So the forward reads and writes its output once, where a separate fp32
 * GEMM with beta 1 would read and write it again (at Qwen2.5-1.5B, 4096
 * tokens, about 0.8 GB of the forward's traffic per layer). The B columns
 * are BF16 copies of the fp32 master, refreshed whenever it changes
 * (refresh_lora_columns); the backward keeps the fp32 B. */
struct dev_layer {
    uint16_t *w[IK_LORA_NT]; /* BF16 (Out, ld[t]) per target, NULL where the layer has none */
    int ld[IK_LORA_NT];      /* In, or In + rp when adapted; 0 where the layer has none */
    float *bq, *bk, *bv, *bo;                      /* or NULL */
    float *attn_norm, *ffn_norm, *q_norm, *k_norm; /* q/k norms NULL without; ffn_norm NULL in NemotronH */
    /* NemotronH's Mamba-2 mixer (NULL in other layers): conv taps (conv_dim,
     * Kc) and bias, dt_bias, A = -exp(A_log) and D (nh), the gated norm (d_inner) */
    float *conv_w, *conv_b, *dt_bias, *A, *Dskip, *ssm_norm;
};

/* One layer's saved activations, as train.c's struct acts (and
 * train_mamba.c's: a NemotronH layer's norm is xn1, rstd1, and only its
 * mixer's are set). */
struct dev_acts {
    float *x_in, *xn1, *rstd1, *qpre, *rstdq, *kpre, *rstdk, *q, *k, *v, *att;
    float *x_mid, *xn2, *rstd2, *act;
    uint16_t *gate, *up; /* BF16: the gate and up GEMMs write them so, SwiGLU reads them */
    float *h[IK_LORA_NT];
    float *stats; /* (H, T): the fused attention's softmax statistics for its backward; NULL without */
    /* NemotronH: the in_proj output z | xBC | dt (S, in_dim); the conv's
     * output before and after SiLU (S, conv_dim); softplus'd dt (S, nh); the
     * scan's output and its gated norm (S, d_inner); the relu^2 MLP's up
     * projection (S, F) (act is its relu^2) */
    float *zx, *xconv, *xbc, *dt, *yssm, *yn, *upf;
};

/* The Mamba mixer's backward buffers: the gradients of the gated norm's
 * output and input (S, d_inner), of the in_proj output (S, in_dim), of the
 * activated xBC (S, conv_dim) and of dt (S, nh); the MLP's up gradient
 * (S, F); the scan's state (nh, N, P) and its backward's scratch. */
struct dev_mamba_bufs {
    float *dyn, *dy, *dzx, *dxbc, *ddt, *dup, *state;
    void *scan_scratch;
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
    struct ik_lm_cuda_guard *guards; /* IK_LM_TRAIN_CUDA_GUARD: after every buffer; else NULL */
    size_t n_guards;
    struct dev_layer *W;
    struct dev_acts *L;
    /* BF16: tables; scratch for GEMM operands (xb2: the up projection's
     * gradient beside the gate's; xbe: the widened [x | h | 0]); the final
     * norm's output */
    uint16_t *embed, *head, *xb, *xb2, *xbe, *xnb, *hb; /* hb: a bottleneck h in BF16 */
    float *final_norm, *inv_freq, *params, *grads, *moment1, *moment2;
    float *x_fin, *xnf, *rstdf, *proj, *dx, *dxn, *dq, *dk, *dv, *datt;
    float *dact, *dh, *lscr, *logits, *dnll, *nll; /* lscr: ->lora_dA_dropout's scratch */
    struct dev_mamba_bufs mb; /* NemotronH's Mamba backward buffers (train_cuda_mamba.c) */
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

/* With guards (IK_LM_TRAIN_CUDA_GUARD), the bytes from every buffer's end
 * to the next 256-byte boundary and IK_LM_CUDA_GUARD more, filled with IK_LM_CUDA_GUARD_BYTE before the weights
 * are uploaded: a kernel that writes past its buffer's end changes them, and
 * the check at the end of each step names the buffer by the line of the
 * layout that took it (lm/train_cuda_guard.c). */
enum { IK_LM_CUDA_GUARD = 256, IK_LM_CUDA_GUARD_BYTE = 0xA5 };

struct ik_lm_cuda_guard {
    size_t at, len;   /* the guard's offset in the arena (the buffer's end) and length */
    const char *file; /* where the buffer before it was taken */
    int line;
};

struct carve {
    char *base; /* NULL: only count */
    size_t off;
    int guarded; /* a guard after each buffer */
    struct ik_lm_cuda_guard *guards; /* the carving pass's record of them (base != NULL) */
    size_t n_guards, cap_guards;
};

/* Records a guard from c->off, a buffer's end, and steps over it. */
void ik_lm_cuda_carve_guard(struct carve *c, const char *file, int line);

static inline void *ik_lm_cuda_take(struct carve *c, size_t bytes, const char *file, int line)
{
    size_t at = (c->off + IK_LM_CUDA_ALIGN - 1) / IK_LM_CUDA_ALIGN * IK_LM_CUDA_ALIGN;
    c->off = at + bytes;
    if (c->guarded)
        ik_lm_cuda_carve_guard(c, file, line);
    return c->base ? c->base + at : NULL;
}

#define take(c, bytes) ik_lm_cuda_take((c), (bytes), __FILE__, __LINE__)

#define TAKE_F(c, n) ((float *)take((c), (size_t)(n) * sizeof(float)))
#define TAKE_H(c, n) ((uint16_t *)take((c), (size_t)(n) * sizeof(uint16_t)))

/* ---- checked calls ---- */

/* Records the first failure of the call in progress (IK_ECUDA with the
 * call's name and the module's text); CK skips the calls after one. */
void ik_lm_cuda_ck(struct ik_lm_train_cuda *tr, int rc, const char *what);

#define CK(tr, call)                                                                               \
    do {                                                                                           \
        if (!(tr)->failed)                                                                         \
            ik_lm_cuda_ck((tr), (call), #call);                                                    \
    } while (0)

/* ---- guards (train_cuda_guard.c) ---- */

/* Whether a trainer of these opts is guarded: IK_LM_TRAIN_CUDA_GUARD in
 * them, or IKADA_CUDA_GUARD=1 in the environment. */
int ik_lm_cuda_guarded(int opts);
/* Fills every guard with IK_LM_CUDA_GUARD_BYTE. */
void ik_lm_cuda_fill_guards(struct ik_lm_train_cuda *tr);
/* Fails the call in progress (IK_ECUDA, naming the buffer) when a guard
 * has changed. */
void ik_lm_cuda_check_guards(struct ik_lm_train_cuda *tr);

/* ---- uploads (train_cuda.c) ---- */

/* rows x cols fp32 weights to the device as BF16 rows ld apart (the
 * columns past cols zero until ik_lm_cuda_refresh_lora_columns fills
 * them), through a host buffer of rows x ld; or, with random_base, values
 * drawn there (src unread). */
void ik_lm_cuda_upload_bf16_rows(struct ik_lm_train_cuda *tr, uint16_t *dst, const float *src,
                                 size_t rows, size_t cols, size_t ld, uint16_t *host);
/* n fp32 values to dst (nothing when dst is NULL). */
void ik_lm_cuda_upload_f32(struct ik_lm_train_cuda *tr, float *dst, const float *src, size_t n);

/* ---- one projection with its LoRA branch (train_cuda_proj.c) ---- */

/* Whether target t of layer l is adapted. */
static inline int ik_lm_cuda_adapted(const struct ik_lora *a, int l, int t)
{
    return a && a->mod[l * IK_LORA_NT + t].A != NULL;
}

/* The adapter's module for target t of layer l, or NULL. */
const struct ik_lora_module *ik_lm_cuda_module(const struct ik_lm_train_cuda *tr, int l, int t);
/* The device copy of a host adapter tensor (A, B, dA or dB). */
float *ik_lm_cuda_dev_param(const struct ik_lm_train_cuda *tr, const float *host);

/* A projection input x (T, In) as the frozen GEMMs' BF16 operand, made on
 * first use and shared by the projections that read x (q, k and v; gate
 * and up): plain, (T, In) in tr->xb, for a frozen projection; widened,
 * (T, In + rp) in tr->xbe, for an adapted one, which writes its bottleneck
 * into the last rp columns before its GEMM. A caller that already has
 * either (SwiGLU writes the down projection's) sets it. */
struct operand {
    const float *x;
    int T, In;
    const uint16_t *plain;
    uint16_t *wide;
};

static inline struct operand operand_of(const float *x, int T, int In)
{
    return (struct operand){x, T, In, NULL, NULL};
}

/* Target t of layer l's LoRA bottleneck h[t] = dropout(x) A^T again, as
 * ik_lm_cuda_proj made it (same key, same kernel; its FLOPs counted), and
 * nothing when not adapted: all the backward of a layer's last projection
 * reads, when the layer is recomputed under checkpointing. */
void ik_lm_cuda_proj_bottleneck(struct ik_lm_train_cuda *tr, int l, int t, const float *x, int T);
/* Target t of layer l: out (fp32 or BF16: out_type; (T, Out)) = x @ W^T +
 * b (b fp32 outputs only, or NULL), plus the adapter's branch on dropout(x),
 * its bottleneck kept in the layer's h[t] for the backward. */
void ik_lm_cuda_proj(struct ik_lm_train_cuda *tr, int l, int t, void *out, int out_type,
                     struct operand *op, const float *b);
/* Its backward: dx (T, In) += dout @ W (when dx; fresh: dx =, unzeroed),
 * the adapter's gradients, and the branch's input gradient into dx unless
 * branch_dx is 0; dout (T, Out) fp32, or dout_b, the same in BF16, when the
 * caller has it; x is the forward's input. */
void ik_lm_cuda_proj_bwd(struct ik_lm_train_cuda *tr, int l, int t, float *dx, int fresh,
                         int branch_dx, const float *dout, const uint16_t *dout_b, const float *x,
                         int T);
/* Each adapted projection's s B columns of its widened weight, from the
 * device's fp32 adapter: after the adapter's parameters change there. */
void ik_lm_cuda_refresh_lora_columns(struct ik_lm_train_cuda *tr);

/* ---- attention (train_cuda.c) ---- */

/* A->att = attention of A->q over A->k, A->v (and A->stats with a fused one). */
void ik_lm_cuda_attention_fwd(struct ik_lm_train_cuda *tr, struct dev_acts *A, int T);
/* tr->dq, dk, dv += the attention's gradients, given tr->datt. */
void ik_lm_cuda_attention_bwd(struct ik_lm_train_cuda *tr, const struct dev_acts *A, int T);

/* ---- NemotronH's layers (train_cuda_mamba.c) ---- */

/* Every layer's weights and activations and the Mamba backward's buffers;
 * with c->base NULL only counts bytes. */
void ik_lm_cuda_mamba_layout(struct ik_lm_train_cuda *tr, struct carve *c);
/* Layer l's weights but the projections' (which train_cuda.c uploads). */
void ik_lm_cuda_mamba_upload(struct ik_lm_train_cuda *tr, int l);
/* train_mamba.c's forward_layer and backward_layer, on the device. */
void ik_lm_cuda_mamba_forward(struct ik_lm_train_cuda *tr, int l, int T, float *x_out);
void ik_lm_cuda_mamba_backward(struct ik_lm_train_cuda *tr, int l, int T);

#endif
