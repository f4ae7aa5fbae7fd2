/* lm/train_int.h - what lm/train.h's trainers share inside lm/: the
 * projections with a LoRA branch (lm/train_proj.c), and the NemotronH
 * training pass (lm/train_mamba.c), to which lm/train.c hands a NemotronH
 * model's trainer once it has checked the arguments. Not for use outside
 * lm/train*.c. */
#ifndef IK_LM_TRAIN_INT_H
#define IK_LM_TRAIN_INT_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_model;
struct ik_lora;

struct ik_lora_module;

/* One step's LoRA state, as the projections read it. */
struct ik_lm_train_lora {
    struct ik_lora *a; /* the adapter, or NULL */
    int dropout;       /* this step applies the adapter's dropout (drawn from seed) */
    uint64_t seed;
    float *xdrop, *tmp; /* scratch, (rows, the largest In) each */
    float *dh;          /* scratch, (rows, rank) */
    double flops;       /* GEMM flops of the step so far; the projections add theirs */
};

/* The adapter's module for target t of layer l, or NULL when not adapted. */
const struct ik_lora_module *ik_lm_train_module(const struct ik_lm_train_lora *lo, int l, int t);
/* out = x @ w^T + b (b may be NULL) for T rows, plus the adapter's branch
 * on dropout(x) when target t of layer l is adapted; h (T, r) receives the
 * bottleneck that ik_lm_train_proj_bwd reads. */
void ik_lm_train_proj(struct ik_lm_train_lora *lo, int l, int t, float *h, float *out,
                      const float *x, const float *w, const float *b, int T, int In, int Out);
/* dx += dout @ w (when dx is not NULL), and the adapter's gradients into
 * the module's dA, dB; the forward's dropout mask is redrawn from the same
 * seed. x and h are what the forward read and wrote. */
void ik_lm_train_proj_bwd(struct ik_lm_train_lora *lo, int l, int t, const float *h, float *dx,
                          const float *dout, const float *x, const float *w, int T, int In,
                          int Out);

struct ik_lm_config;

/* The checks every trainer's step makes before it computes (ik_lm_train_step's
 * errors): n in [2, max_seq], an adapter for a backward pass, every token in
 * the vocabulary, a mask that selects a target. *count: the selected target
 * positions. IK_EVALIDATE naming what is wrong. */
int ik_lm_train_check_step(const struct ik_lm_config *c, int max_seq, int has_adapter,
                           const int *tokens, const unsigned char *mask, int n, int flags,
                           int *count, struct ik_diag *d);

struct ik_lm_train_hybrid;

/* As ik_lm_train_new_opts, for a NemotronH model (max_seq >= 2 and the
 * adapter's layer count already checked). -ENOMEM with the size named. */
int ik_lm_train_hybrid_new(struct ik_lm_train_hybrid **out, const struct ik_lm_model *m,
                           struct ik_lora *a, int max_seq, int opts, struct ik_diag *d);
void ik_lm_train_hybrid_free(struct ik_lm_train_hybrid *h);
size_t ik_lm_train_hybrid_estimate_bytes(const struct ik_lm_model *m, struct ik_lora *a, int max_seq,
                                         int opts);
size_t ik_lm_train_hybrid_bytes(const struct ik_lm_train_hybrid *h);
/* As ik_lm_train_step on arguments it has checked: count is the number of
 * target positions (>= 1). Cannot fail. */
void ik_lm_train_hybrid_step(struct ik_lm_train_hybrid *h, const int *tokens,
                             const unsigned char *mask, int n, int count, int flags, uint64_t seed,
                             float grad_scale, double *loss);
int ik_lm_train_hybrid_n_correct(const struct ik_lm_train_hybrid *h);
double ik_lm_train_hybrid_gemm_flops(const struct ik_lm_train_hybrid *h);

#endif
