/* lm/train_int.h - the NemotronH training pass (lm/train_mamba.c) behind
 * lm/train.h's functions: lm/train.c checks the arguments and hands a
 * NemotronH model's trainer to these. Not for use outside lm/train*.c. */
#ifndef IK_LM_TRAIN_INT_H
#define IK_LM_TRAIN_INT_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_model;
struct ik_lora;

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
