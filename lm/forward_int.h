/* lm/forward_int.h - what forward.c and forward_mamba.c share: the
 * inference state and the projection with its LoRA branch. Not for use
 * outside lm/forward*.c. */
#ifndef IK_LM_FORWARD_INT_H
#define IK_LM_FORWARD_INT_H

#include "lm/lora.h"
#include "lm/model.h"

struct ik_lm_state {
    const struct ik_lm_model *m;
    int S, C;    /* cache positions, chunk rows */
    int pos;     /* positions cached so far */
    float *kc, *vc; /* (n_kv, S, K*hd) each: the attention layers' caches, by layer slot */
    /* The recurrent state of the Mamba layers (by layer slot), next to the
     * KV cache: what the conv and the scan have seen of this sequence. */
    float *conv_st; /* (n_ssm, Kc-1, conv_dim) the last Kc-1 conv inputs */
    float *ssm_st;  /* (n_ssm, nh, N, P) (kernels.h's ik_cpu_ssm_scan_fwd) */
    float *rec;     /* conv_st and ssm_st, adjacent: n_rec floats (NULL, 0 without Mamba layers) */
    size_t n_rec;
    float *mark;    /* rec as it was at mark_pos, or NULL */
    int mark_pos;   /* -1: no mark */
    float *x, *xn;  /* (C, D) residual stream, normed input */
    float *q, *k, *v, *att; /* (C, H*hd), (C, K*hd) x2, (C, H*hd) */
    float *proj;    /* (C, D) */
    float *gate, *up; /* (C, F) */
    float *zxbcdt;  /* (C, in_dim) in_proj's output: z | xBC | dt */
    float *xbc;     /* (C, conv_dim) the conv's activated output: x | B | C */
    float *dt;      /* (C, nh) softplus(dt + dt_bias) */
    float *yssm;    /* (C, d_inner) the scan's output, then gated and normed */
    float *A;       /* (nh) -exp(A_log) of the layer at hand */
    float *ssd;     /* the chunked scan's scratch, or NULL (one-row scratch) */
    float *scores;  /* (min(C, IK_ATT_ROWS) * S) attention scratch */
    float *logits;  /* (V) last position */
    int *posv;      /* (C) */
    const struct ik_lora *ad; /* borrowed adapter, or NULL */
    float *lh;      /* (C, lh_r) the adapter's bottleneck */
    int lh_r;       /* the rank lh was sized for */
    float *mem;     /* private: the one allocation */
};

/* out = x @ w^T + b, plus the adapter's branch of module (l, t) when s has
 * an adapter that adapts it (no dropout: inference). x: (T,In); out: (T,Out). */
void ik_lm_proj(struct ik_lm_state *s, int l, int t, float *out, const float *x, const float *w,
                const float *b, int T, int In, int Out);

/* Layer l's Mamba-2 mixer on w's scratch: reads w->xn (T rows, D), writes
 * w->proj (T, D). The rows belong to seq[0..nseq) as in forward.c's
 * forward_rows (len[i] rows each, in order), each sequence through its own
 * conv and SSM state, which advance. */
void ik_lm_mamba_mixer(struct ik_lm_state *w, struct ik_lm_state *const *seq, const int *len,
                       int nseq, int l, int T);

#endif
