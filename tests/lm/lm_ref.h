/* tests/lm/lm_ref.h - an independent double-precision forward of the model,
 * written straight from the math (no kernels/, no KV cache, no chunks), with
 * an optional LoRA adapter and dropout masks: the reference that the forward
 * tests (test_model.c) and the gradient checks (test_lora.c) compare against. */
#ifndef IK_TESTS_LM_REF_H
#define IK_TESTS_LM_REF_H

#include "lm/lora.h"
#include "lm/model.h"

struct lmt_ref {
    const struct ik_lm_model *m;
    const struct ik_lora *a; /* or NULL: the base model */
    float **mask;            /* [l*IK_LORA_NT+t]: (T, In) dropout multipliers on the LoRA input, or NULL */
    double dt_min;           /* NemotronH: dt = max(dt, dt_min), transformers' clamp when it
                              * scores a prompt; 0: none, as llama.cpp and ikada */
};

/* logits: (T, V) for tokens tok[0..T). Cannot fail. A NemotronH model goes
 * through lmt_ref_hybrid_logits. */
void lmt_ref_logits(const struct lmt_ref *R, const int *tok, int T, double *logits);

/* NemotronH (lm_ref_hybrid.c): each layer x += mixer(RMSNorm(x)), the
 * Mamba-2 mixer as the plain recurrence from zero states (conv, softplus
 * without a clamp unless dt_min, a step per token), attention without RoPE,
 * relu^2 MLP. */
void lmt_ref_hybrid_logits(const struct lmt_ref *R, const int *tok, int T, double *logits);

/* The pieces both share. RMSNorm of n values; out may equal x. */
void lmt_ref_norm(double *out, const double *x, const float *w, int n, double eps);
/* Row t of a projection of module (l, tg): W x + b + scale * B A (mask * x). */
void lmt_ref_proj(const struct lmt_ref *R, int l, int tg, int t, double *out, const double *x,
                  const float *w, const float *b, int in, int o);
/* Causal GQA attention of T queries over T keys (q: (T, H*hd), k, v: (T, K*hd),
 * after any RoPE), the sliding window applied; att: (T, H*hd). */
void lmt_ref_attend(const struct ik_lm_config *c, const double *q, const double *k, const double *v,
                    int T, double *att);
/* The final norm and lm_head of the residual stream x (T, D): logits (T, V). */
void lmt_ref_head(const struct ik_lm_model *m, const double *x, int T, double *logits);

#endif
