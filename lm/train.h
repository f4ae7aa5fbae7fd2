/* lm/train.h - the training pass of a LoRA adapter on the CPU: a full
 * forward over one sequence that keeps the activations, the masked mean
 * cross-entropy, and the backward pass to the adapter's parameters only (the
 * base model stays frozen and read-only).
 *
 * Memory: the activations of one sequence of up to max_seq tokens (about
 * (6D + 3F + 4(H+K)hd) floats per token and layer; with IK_LM_TRAIN_CHECKPOINT
 * D per token and layer plus one layer's), plus logits for 512 rows at a time
 * (lm/train.c's HEAD_ROWS). The same kernels as forward.c are used in the same order, so the
 * per-token losses agree with ik_lm_score's to rounding, and an adapter with
 * B = 0 gives the same loss as no adapter, bit for bit.
 * Errors: IK_EVALIDATE for a sequence that does not fit, a token outside the
 * vocabulary, or a mask that selects no token; -ENOMEM. */
#ifndef IK_LM_TRAIN_H
#define IK_LM_TRAIN_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_model;
struct ik_lora;

struct ik_lm_train;

/* A trainer for sequences of up to max_seq tokens of model m with adapter a
 * (NULL: loss only). Both are borrowed and must outlive the trainer. */
int ik_lm_train_new(struct ik_lm_train **out, const struct ik_lm_model *m, struct ik_lora *a,
                    int max_seq, struct ik_diag *d);

enum {
    /* Activation checkpointing, for long sequences: only each layer's input is
     * kept (max_seq * D floats per layer) and one layer's activations, which
     * the backward pass recomputes layer by layer from that input (about one
     * more forward of the layers' GEMMs). Gradients and loss are bit-identical
     * to those without it. */
    IK_LM_TRAIN_CHECKPOINT = 1,
};

struct ik_cuda_ops;

/* A trainer whose steps run on a CUDA device through the module's table ops
 * (lm/train_cuda.h: Llama family), opts as ik_lm_train_new_opts's; every
 * call below then means the same for it. Fails as ik_lm_train_cuda_new. */
int ik_lm_train_new_cuda(struct ik_lm_train **out, const struct ik_cuda_ops *ops,
                         const struct ik_lm_model *m, struct ik_lora *a, int max_seq, int opts,
                         struct ik_diag *d);

/* ik_lm_train_new with options: a mask of IK_LM_TRAIN_* (0: none). */
int ik_lm_train_new_opts(struct ik_lm_train **out, const struct ik_lm_model *m, struct ik_lora *a,
                         int max_seq, int opts, struct ik_diag *d);
void ik_lm_train_free(struct ik_lm_train *tr);

/* The bytes of activations and scratch the trainer allocated (its one arena). */
size_t ik_lm_train_bytes(const struct ik_lm_train *tr);

enum {
    IK_LM_BACKWARD = 1, /* accumulate gradients into a->grads (needs an adapter) */
    IK_LM_DROPOUT = 2,  /* apply the adapter's dropout (training mode), drawn from seed */
};

/* Runs tokens[0..n) (n >= 2): the loss is the mean over the positions
 * t in [1, n) with mask[t] != 0 (mask NULL: all) of -log p(tokens[t] | tokens[<t]),
 * stored in *loss. With IK_LM_BACKWARD, grad_scale * d(loss)/d(param) is
 * ADDED to a->grads (zero them with ik_lora_zero_grad; several calls
 * accumulate, e.g. grad_scale = 1/batch), or, after ik_lm_train_zero_grad
 * on a CUDA trainer, to the device's gradients. *n_target (optional) receives the
 * number of selected positions. */
int ik_lm_train_step(struct ik_lm_train *tr, const int *tokens, const unsigned char *mask, int n,
                     int flags, uint64_t seed, float grad_scale, double *loss, int *n_target,
                     struct ik_diag *d);

/* ---- the optimizer step, where the trainer keeps the gradients ----
 *
 * The node's loop zeroes the gradients, accumulates several steps, then
 * clips and steps AdamW through these calls, so that a trainer on a device
 * keeps gradients, moments and the adapter's copy there (no per-step copy
 * of the adapter): on the CPU they are ik_lora_zero_grad, ik_clip_grad_norm
 * and ik_adamw on the host arrays. */

/* AdamW's settings for one optimizer step (torch.optim.AdamW's meaning). */
struct ik_lm_adamw {
    double lr;
    float b1, b2, eps, weight_decay;
    double max_grad_norm; /* clip the gradients' L2 norm to this; 0: no clipping */
    int t;                /* 1-based step number (bias correction) */
};

/* Zeroes the gradients that the following ik_lm_train_step calls with
 * IK_LM_BACKWARD accumulate into: a->grads on the CPU; on a CUDA device its
 * own copy, which a->grads then does not see (IK_ECUDA on a device error). */
int ik_lm_train_zero_grad(struct ik_lm_train *tr, struct ik_diag *d);

/* Clips the gradients accumulated since ik_lm_train_zero_grad and takes one
 * AdamW step with moments m and v (a->n_params each); *grad_norm gets the
 * norm before clipping. On return a->params holds the new values on either
 * device. A CUDA trainer reads m and v at its first call and keeps them on
 * the device from then on: ik_lm_train_sync_moments writes them back. */
int ik_lm_train_optimizer_step(struct ik_lm_train *tr, const struct ik_lm_adamw *opt, float *m,
                               float *v, double *grad_norm, struct ik_diag *d);

/* Brings the moments a device keeps back into m and v (a no-op on the CPU),
 * e.g. before a checkpoint is written. */
int ik_lm_train_sync_moments(struct ik_lm_train *tr, float *m, float *v, struct ik_diag *d);

/* The target positions of the last ik_lm_train_step whose highest logit
 * (the first on ties, as torch.argmax) is the label: TRL's
 * mean_token_accuracy is this over n_target. */
int ik_lm_train_n_correct(const struct ik_lm_train *tr);

/* The bytes ik_lm_train_new_opts would allocate for these arguments, without
 * allocating them (for a memory estimate before training starts). */
size_t ik_lm_train_estimate_bytes(const struct ik_lm_model *m, struct ik_lora *a, int max_seq,
                                  int opts);

/* Floating-point operations of the GEMMs (2*M*N*K each, base and adapter) of
 * the last ik_lm_train_step, for throughput figures. */
double ik_lm_train_gemm_flops(const struct ik_lm_train *tr);

#endif
