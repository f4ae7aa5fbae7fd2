/* lm/train_cuda_proj.c - the CUDA trainer's projections with their LoRA
 * branch (lm/train_proj.c's, on the device through the module's table): the
 * frozen BF16 GEMM with the branch joined to it as more columns of K (struct
 * dev_layer says why), the branch's bottleneck through its dropout, and the
 * backward's adapter gradients and input gradient. */
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/cuda_ops.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train_cuda_int.h"

const struct ik_lora_module *ik_lm_cuda_module(const struct ik_lm_train_cuda *tr, int l, int t)
{
    return ik_lm_cuda_adapted(tr->a, l, t) ? &tr->a->mod[l * IK_LORA_NT + t] : NULL;
}

float *ik_lm_cuda_dev_param(const struct ik_lm_train_cuda *tr, const float *host)
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
 * bottleneck (kept in the layer's h[t]): through its dropout in one kernel that never stores the
 * masked x (->lora_down_dropout), or without dropout a TF32 GEMM.
 *
 * The LoRA GEMMs that stay fp32 (this one, and dA and dx through A in
 * lora_bwd) take TF32 products: their FLOPs are about 1% of the frozen
 * GEMMs', but in fp32 on the CUDA cores (about 67 TFLOP/s on an H100,
 * against 989 for BF16 on the tensor cores) they would cost some 14% of the
 * GEMMs' time; TF32 (494) costs 2%, with 10 mantissa bits where the base
 * weights have 8. */
static void lora_bottleneck(struct ik_lm_train_cuda *tr, int l, int t, const float *x, int T, int In)
{
    const struct ik_lora_module *md = ik_lm_cuda_module(tr, l, t);
    float *h = tr->L[l].h[t];
    int r = tr->a->cfg.r;
    if (tr->dropout)
        CK(tr, tr->ops->lora_down_dropout(h, x, ik_lm_cuda_dev_param(tr, md->A), T, In, r, tr->a->cfg.dropout,
                                          ik_lora_dropout_key(tr->seed, l, t)));
    else
        CK(tr, tr->ops->gemm(0, 1, T, r, In, 1.0f, x, In, ik_lm_cuda_dev_param(tr, md->A), In, 0.0f, h, r,
                             IK_CUDA_TF32, IK_CUDA_F32));
}

void ik_lm_cuda_proj_bottleneck(struct ik_lm_train_cuda *tr, int l, int t, const float *x, int T)
{
    if (ik_lm_cuda_module(tr, l, t) == NULL)
        return;
    int In, Out;
    ik_lora_target_dims(&tr->m->cfg, t, &In, &Out);
    lora_bottleneck(tr, l, t, x, T, In);
    tr->flops += 2.0 * T * tr->a->cfg.r * In;
}

/* out (fp32 or BF16: out_type) = x @ w^T + b, plus the adapter's branch on
 * dropout(x), ik_cpu_lora_fwd's out += s h B^T with h = dropout(x) A^T
 * (lora_bottleneck; kept in the layer's h[t] for the backward):
 * for an adapted projection one BF16 GEMM, [x | h | 0] times w = [W | s B |
 * 0] (struct dev_layer). */
void ik_lm_cuda_proj(struct ik_lm_train_cuda *tr, int l, int t, void *out, int out_type,
                     struct operand *op, const float *b)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lora_module *md = ik_lm_cuda_module(tr, l, t);
    const uint16_t *w = tr->W[l].w[t];
    float *h = tr->L[l].h[t];
    int T = op->T, In, Out;
    ik_lora_target_dims(&tr->m->cfg, t, &In, &Out);
    tr->flops += 2.0 * T * In * Out;
    if (md == NULL) {
        CK(tr, o->gemm(0, 1, T, Out, In, 1.0f, plain_operand(tr, op), In, w, In, 0.0f, out, Out,
                       IK_CUDA_BF16, out_type));
    } else {
        int r = tr->a->cfg.r, ld = In + tr->rp;
        uint16_t *xw = wide_operand(tr, op);
        lora_bottleneck(tr, l, t, op->x, T, In);
        CK(tr, o->to_bf16_2d(xw + In, ld, h, r, T, r, tr->rp, 1.0f));
        CK(tr, o->gemm(0, 1, T, Out, ld, 1.0f, xw, ld, w, ld, 0.0f, out, Out, IK_CUDA_BF16,
                       out_type));
        tr->flops += 2.0 * T * r * (In + Out);
    }
    if (b) /* fp32 outputs only: the BF16 ones are the MLP's, which has no bias */
        CK(tr, o->bias_add((float *)out, b, T, Out));
}

void ik_lm_cuda_refresh_lora_columns(struct ik_lm_train_cuda *tr)
{
    const struct ik_lm_config *c = &tr->m->cfg;
    for (int l = 0; l < c->L; l++) {
        const struct dev_layer *y = &tr->W[l];
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *md = ik_lm_cuda_module(tr, l, t);
            if (md == NULL)
                continue;
            int in, out;
            ik_lora_target_dims(c, t, &in, &out);
            CK(tr, tr->ops->to_bf16_2d(y->w[t] + in, y->ld[t], ik_lm_cuda_dev_param(tr, md->B),
                                       tr->a->cfg.r, out, tr->a->cfg.r, tr->rp, tr->a->scale));
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
                   ik_lm_cuda_dev_param(tr, md->dB), r, IK_CUDA_BF16, IK_CUDA_F32));
    CK(tr, o->gemm(0, 0, T, r, Out, 1.0f, dout_b, Out, sb, ld, 0.0f, tr->dh, r, IK_CUDA_BF16,
                   IK_CUDA_F32));
    if (tr->dropout) {
        CK(tr, o->lora_dA_dropout(ik_lm_cuda_dev_param(tr, md->dA), tr->dh, x, T, In, r, p, key, tr->lscr));
        if (dx)
            CK(tr, o->lora_dx_dropout(dx, tr->dh, ik_lm_cuda_dev_param(tr, md->A), T, In, r, p, key));
        return;
    }
    CK(tr, o->gemm(1, 0, r, In, T, 1.0f, tr->dh, r, x, In, 1.0f, ik_lm_cuda_dev_param(tr, md->dA), In,
                   IK_CUDA_TF32, IK_CUDA_F32));
    if (dx)
        CK(tr, o->gemm(0, 0, T, In, r, 1.0f, tr->dh, r, ik_lm_cuda_dev_param(tr, md->A), In, 1.0f, dx, In,
                       IK_CUDA_TF32, IK_CUDA_F32));
}

/* dx += dout @ W (when dx; with fresh, dx = : it need not be zeroed first),
 * and the adapter's gradients; the branch's input gradient is added to dx
 * too unless the caller takes it (branch_dx 0: the down projection's, which
 * SwiGLU's backward adds, ->lora_down_swiglu_bwd). dout_b is dout (T, Out) in
 * BF16 when the caller has it; else dout (fp32) is converted here. */
void ik_lm_cuda_proj_bwd(struct ik_lm_train_cuda *tr, int l, int t, float *dx, int fresh,
                         int branch_dx, const float *dout, const uint16_t *dout_b, const float *x,
                         int T)
{
    const struct ik_cuda_ops *o = tr->ops;
    const struct ik_lora_module *md = ik_lm_cuda_module(tr, l, t);
    const uint16_t *w = tr->W[l].w[t];
    const float *h = tr->L[l].h[t];
    int In, Out;
    ik_lora_target_dims(&tr->m->cfg, t, &In, &Out);
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
