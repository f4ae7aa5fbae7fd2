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
};

/* logits: (T, V) for tokens tok[0..T). Cannot fail. */
void lmt_ref_logits(const struct lmt_ref *R, const int *tok, int T, double *logits);

#endif
