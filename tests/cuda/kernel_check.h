/* tests/cuda/kernel_check.h - what the kernel checks of test_cuda_kernels
 * share (llm.c's dev/cuda: each kernel's check beside the others, one file a
 * kernel source): the module's table, the random source, host and device
 * buffers, and the comparisons (kernel_check.c). Each check_<name> runs one
 * kernel (or a pair) of kernels/cuda/ against its CPU reference on random
 * inputs, prints one line per comparison with its tolerance and why, and
 * returns how many comparisons failed; test_cuda_kernels.c lists them. */
#ifndef IK_TESTS_CUDA_KERNEL_CHECK_H
#define IK_TESTS_CUDA_KERNEL_CHECK_H

#include <stddef.h>

#include "base/prng.h"
#include "kernels/cuda/cuda_ops.h"

extern const struct ik_cuda_ops *ops; /* the module under test */
extern struct ik_prng rng;            /* seeded once by main: the same inputs every run */

/* Prints "test_cuda_kernels: ..." to stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A failed module call ends the program: it names the call and the kernel. */
#define CK(call)                                                                    \
    do {                                                                            \
        if ((call) != 0)                                                            \
            die("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, ops->last_error()); \
    } while (0)

float *host_floats(size_t n);
/* n uniform values in [lo, hi). */
float *rand_floats(size_t n, float lo, float hi);
float *copy_floats(const float *src, size_t n);
/* A new device buffer holding bytes of src. */
void *to_dev(const void *src, size_t bytes);
/* n floats copied back from the device into a new host buffer. */
float *from_dev(const void *d, size_t n);
/* Elementwise |gpu - cpu| <= atol + rtol |cpu|; prints one line; 0 when within. */
int compare(const char *what, const float *gpu, const float *cpu, size_t n, double atol,
            double rtol);
/* Bit-for-bit equality; prints one line; 0 when equal. */
int compare_bits(const char *what, const float *gpu, const float *cpu, size_t n);
/* x rounded to BF16 and back, as __float2bfloat16_rn (nearest, ties to even). */
float bf16_round(float x);
/* That a call was refused: rc -1 and ->last_error() beginning with want;
 * prints one line; 0 when so. */
int refused(const char *what, int rc, const char *want);

int check_rmsnorm_fwd(void);
int check_add_rmsnorm_fwd(void);
int check_rmsnorm_bwd(void);
int check_swiglu_fwd(void);
int check_swiglu_bwd(void);
int check_rope(void);
int check_softmax_xent(void);
int check_dropout(void);
int check_adamw(void);
int check_clip(void);
int check_gemm(void);
int check_attention(void);
int check_attention_flash(void);
int check_add(void);
int check_embed(void);
int check_argmax(void);
int check_fill(void);
int check_softmax_xent_argmax(void);
int check_loss_sums(void);
int check_qk_norm_rope(void);
int check_swiglu_bwd_bf16(void);
int check_swiglu_of_bf16(void);
int check_lora_dropout(void);
int check_profile(void);
int check_ssm_scan(void);
int check_relu2(void);
int check_softplus(void);
int check_conv1d(void);
int check_rmsnorm_gated(void);

#endif
