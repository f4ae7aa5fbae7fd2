/* lm/train_cuda.h - lm/train.h's training pass on a CUDA device, driven
 * through the CUDA module's table (kernels/cuda/cuda_ops.h), so this file
 * compiles without CUDA and every build has it; a build without the module
 * simply has no table to give it.
 *
 * What lives on the device: the base model's projections, embeddings and
 * lm_head in BF16 (converted once, here, from the fp32 model), its norms,
 * biases and RoPE frequencies in fp32; the adapter's A and B and their
 * gradients in fp32; one sequence's activations in fp32. The frozen
 * projections' GEMMs take BF16 operands (the activation converted before
 * each) with fp32 accumulation and output; the LoRA branches run in fp32.
 *
 * The step has ik_lm_train_step's signature and meaning: its gradients are
 * ADDED to a->grads on the host (uploading a->params first), and its loss
 * and token accuracy come back to the host. Or, after
 * ik_lm_train_cuda_zero_grad, as the node's loop runs it (lm/train.h's
 * optimizer calls): steps accumulate on the device, clipping and AdamW run
 * there with the moments kept there, and the adapter's new values come back
 * once per optimizer step; the moments come back when a checkpoint asks
 * (sync_moments), so checkpoints are the CPU path's and a run can resume on
 * either device.
 *
 * Activation checkpointing (IK_LM_TRAIN_CHECKPOINT in opts) as train.c's:
 * each layer keeps only its input and shares one layer's activations, which
 * the backward recomputes layer by layer.
 *
 * Attention is the module's own cuBLAS path unless IKADA_CUDA_ATTENTION says
 * otherwise: "cudnn", cuDNN's fused attention (->sdpa_fwd/->sdpa_bwd), or
 * "flash", the module's flash kernels (->flash_fwd/->flash_bwd); both BF16
 * inside, so results near but not equal to the own path's. ik_lm_train_cuda_new
 * checks that the one asked for takes the model and refuses with the reason
 * when not ("own" or unset: the default; anything else is refused). Not yet
 * run on a GPU (docs/cuda.md).
 *
 * Llama-family models (Llama, Qwen2/2.5/3, tied embeddings, GQA, q/k norm,
 * sliding window) and NemotronH (Mamba-2, attention and relu^2 MLP layers:
 * lm/train_cuda_mamba.c, LoRA on in_proj and out_proj too). */
#ifndef IK_LM_TRAIN_CUDA_H
#define IK_LM_TRAIN_CUDA_H

#include <stddef.h>
#include <stdint.h>

struct ik_cuda_ops;
struct ik_diag;
struct ik_lm_config;
struct ik_lm_model;
struct ik_lora;

struct ik_lm_train_cuda;

enum {
    /* For benchmarks (opts, beside IK_LM_TRAIN_CHECKPOINT): the base model's
     * BF16 tensors (projections, embeddings, lm_head) are drawn on the device,
     * uniform in [-0.02, 0.02) (->fill_uniform_bf16), instead of converted
     * from m's, which are then never read: a model from ik_lm_model_new that
     * nothing wrote costs only address space (an 8B one: 32 GB of it). Norms,
     * biases and RoPE frequencies still come from m. */
    IK_LM_TRAIN_CUDA_RANDOM_BASE = 1 << 8,
    /* For tests and a first run on a new GPU (opts, or IKADA_CUDA_GUARD=1 in
     * the environment): guard bytes after every buffer of the device arena,
     * checked at the end of each step and optimizer step, which fail with
     * IK_ECUDA naming the buffer a kernel wrote past (lm/train_cuda_guard.c).
     * The arena grows by some 0.5 KB a buffer; the results do not change. */
    IK_LM_TRAIN_CUDA_GUARD = 1 << 9,
};

/* Uploads m (and a's layout) and allocates the activations for sequences of
 * up to max_seq tokens; opts as ik_lm_train_new_opts's. IK_ECUDA with the module's error text (naming the
 * call and the kernel) when the device refuses, e.g. "cudaMalloc for alloc:
 * out of memory (... bytes)"; check ik_lm_train_cuda_estimate_bytes against
 * the device's free memory first for a better message. */
int ik_lm_train_cuda_new(struct ik_lm_train_cuda **out, const struct ik_cuda_ops *ops,
                         const struct ik_lm_model *m, struct ik_lora *a, int max_seq, int opts,
                         struct ik_diag *d);
void ik_lm_train_cuda_free(struct ik_lm_train_cuda *tr);

/* 0 when the CUDA trainer takes models of shape c, else 1 with why not in
 * why (cap bytes, NUL-terminated; e.g. "the CUDA selective scan takes at
 * most 256 states, this model has 320"): ik_lm_train_cuda_new refuses such
 * a model with IK_ENOTBUILT, and device: auto trains it on the CPU. */
int ik_lm_train_cuda_unsupported(const struct ik_lm_config *c, char *why, size_t cap);

/* The device bytes ik_lm_train_cuda_new would allocate (weights, adapter,
 * activations and scratch), without a device. */
size_t ik_lm_train_cuda_estimate_bytes(const struct ik_lm_model *m, const struct ik_lora *a,
                                       int max_seq, int opts);

/* As ik_lm_train_step (lm/train.h), on the device; IK_ECUDA for a device
 * failure, with the module's text. */
int ik_lm_train_cuda_step(struct ik_lm_train_cuda *tr, const int *tokens,
                          const unsigned char *mask, int n, int flags, uint64_t seed,
                          float grad_scale, double *loss, int *n_target, struct ik_diag *d);

/* As lm/train.h's ik_lm_train_zero_grad, ik_lm_train_optimizer_step and
 * ik_lm_train_sync_moments (struct ik_lm_adamw is lm/train.h's). */
struct ik_lm_adamw;
int ik_lm_train_cuda_zero_grad(struct ik_lm_train_cuda *tr, struct ik_diag *d);
int ik_lm_train_cuda_optimizer_step(struct ik_lm_train_cuda *tr, const struct ik_lm_adamw *opt,
                                    float *m, float *v, double *grad_norm, struct ik_diag *d);
int ik_lm_train_cuda_sync_moments(struct ik_lm_train_cuda *tr, float *m, float *v,
                                  struct ik_diag *d);

/* The device bytes the trainer allocated. */
size_t ik_lm_train_cuda_bytes(const struct ik_lm_train_cuda *tr);

/* As ik_lm_train_n_correct and ik_lm_train_gemm_flops, for the last step. */
int ik_lm_train_cuda_n_correct(const struct ik_lm_train_cuda *tr);
double ik_lm_train_cuda_gemm_flops(const struct ik_lm_train_cuda *tr);

#endif
