/* lm/train_proj.c - what the trainers (lm/train.c, lm/train_mamba.c,
 * lm/train_cuda.c) share: a frozen projection with its LoRA branch, forward
 * and backward, and the step's argument checks; see lm/train_int.h. */
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "kernels/dispatch.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/train.h"
#include "lm/train_int.h"

const struct ik_lora_module *ik_lm_train_module(const struct ik_lm_train_lora *lo, int l, int t)
{
    if (lo->a == NULL)
        return NULL;
    const struct ik_lora_module *md = &lo->a->mod[l * IK_LORA_NT + t];
    return md->A ? md : NULL;
}

void ik_lm_train_proj(struct ik_lm_train_lora *lo, int l, int t, float *h, float *out,
                      const float *x, const float *w, const float *b, int T, int In, int Out)
{
    ik_matmul_fwd(out, x, w, b, T, In, Out);
    lo->flops += 2.0 * T * In * Out;
    const struct ik_lora_module *md = ik_lm_train_module(lo, l, t);
    if (md == NULL)
        return;
    int r = lo->a->cfg.r;
    if (lo->dropout) {
        ik_lora_dropout(lo->xdrop, x, T, In, lo->a->cfg.dropout, lo->seed, l, t);
        x = lo->xdrop;
    }
    ik_lora_fwd(out, h, x, md->A, md->B, lo->a->scale, T, In, Out, r);
    lo->flops += 2.0 * T * r * (In + Out);
}

void ik_lm_train_proj_bwd(struct ik_lm_train_lora *lo, int l, int t, const float *h, float *dx,
                          const float *dout, const float *x, const float *w, int T, int In, int Out)
{
    if (dx) {
        ik_matmul_bwd(dx, NULL, NULL, dout, x, w, T, In, Out);
        lo->flops += 2.0 * T * In * Out;
    }
    const struct ik_lora_module *md = ik_lm_train_module(lo, l, t);
    if (md == NULL)
        return;
    int r = lo->a->cfg.r;
    float p = lo->a->cfg.dropout, s = lo->a->scale;
    lo->flops += 2.0 * T * r * (In + 2.0 * Out) + (dx ? 2.0 * T * r * In : 0);
    if (!lo->dropout) {
        ik_lora_bwd(dx, md->dA, md->dB, lo->dh, dout, x, h, md->A, md->B, s, T, In, Out, r);
        return;
    }
    ik_lora_dropout(lo->xdrop, x, T, In, p, lo->seed, l, t);
    /* dropout(x)'s input gradient goes through tmp, then through the mask. */
    float *g = dx ? lo->tmp : NULL;
    if (g)
        memset(g, 0, (size_t)T * In * sizeof *g);
    ik_lora_bwd(g, md->dA, md->dB, lo->dh, dout, lo->xdrop, h, md->A, md->B, s, T, In, Out, r);
    if (g) {
        ik_lora_dropout(g, g, T, In, p, lo->seed, l, t); /* d dropout(x)/dx: the same mask */
        for (size_t i = 0; i < (size_t)T * In; i++)
            dx[i] += g[i];
    }
}

int ik_lm_train_check_step(const struct ik_lm_config *c, int max_seq, int has_adapter,
                           const int *tokens, const unsigned char *mask, int n, int flags,
                           int *count, struct ik_diag *d)
{
    if (n < 2 || n > max_seq)
        return ik_diag_set(d, IK_EVALIDATE, "a training sequence needs 2 to %d tokens, got %d", max_seq, n);
    if ((flags & IK_LM_BACKWARD) && !has_adapter)
        return ik_diag_set(d, IK_EVALIDATE, "a backward pass needs an adapter to train");
    *count = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->V)
            return ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                               "[0, %d)", tokens[i], i, c->V);
        *count += i > 0 && (mask == NULL || mask[i]);
    }
    if (*count == 0)
        return ik_diag_set(d, IK_EVALIDATE, "the loss mask selects no token of the %d-token sequence", n);
    return 0;
}
