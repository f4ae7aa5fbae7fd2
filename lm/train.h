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
 * accumulate, e.g. grad_scale = 1/batch). *n_target (optional) receives the
 * number of selected positions. */
int ik_lm_train_step(struct ik_lm_train *tr, const int *tokens, const unsigned char *mask, int n,
                     int flags, uint64_t seed, float grad_scale, double *loss, int *n_target,
                     struct ik_diag *d);

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
