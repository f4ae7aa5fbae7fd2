/* tests/cuda/cpu_ops_int.h - what the CPU stand-in's files share
 * (tests/cuda/cpu_ops.c holds the table and most entries): the error text,
 * the attention entries (tests/cuda/cpu_ops_attention.c) and those of
 * NemotronH's kernels (tests/cuda/cpu_ops_mamba.c), each as the cuda_ops.h
 * member of the same name. */
#ifndef IK_TESTS_CUDA_CPU_OPS_INT_H
#define IK_TESTS_CUDA_CPU_OPS_INT_H

#include <stddef.h>

/* Records "WHAT: <printf text>" as the thread's last error; returns -1. */
int ik_test_cpu_fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

size_t ik_test_cpu_attention_scratch(int T, int H, int K);
int ik_test_cpu_attention_fwd(float *out, const float *q, const float *k, const float *v, int T,
                              int H, int K, int hd, int window, void *scratch);
int ik_test_cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, int T, int H, int K, int hd,
                              int window, void *scratch);
int ik_test_cpu_sdpa_available(int T, int H, int K, int hd, int window);
size_t ik_test_cpu_sdpa_scratch(int T, int H, int K, int hd);
int ik_test_cpu_sdpa_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                         int T, int H, int K, int hd, int window, void *scratch);
int ik_test_cpu_sdpa_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                         const float *stats, const float *q, const float *k, const float *v, int T,
                         int H, int K, int hd, int window, void *scratch);
int ik_test_cpu_flash_supports(int H, int K, int hd);
size_t ik_test_cpu_flash_scratch(int T, int H);
int ik_test_cpu_flash_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                          int T, int H, int K, int hd, int window, void *scratch);
int ik_test_cpu_flash_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                          const float *stats, const float *q, const float *k, const float *v, int T,
                          int H, int K, int hd, int window, void *scratch);

int ik_test_cpu_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                             int ld, const float *dt, const float *A, const float *Dskip, int T,
                             int nh, int P, int G, int N);
size_t ik_test_cpu_ssm_scan_bwd_scratch(int T, int nh, int P, int N);
int ik_test_cpu_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                             const float *x, const float *B, const float *C, int ld,
                             const float *dt, const float *A, const float *Dskip, int T, int nh,
                             int P, int G, int N, void *scratch);
int ik_test_cpu_relu2_fwd(float *out, const float *x, size_t n);
int ik_test_cpu_relu2_bwd(float *dx, const float *dout, const float *x, size_t n);
int ik_test_cpu_softplus_bias_fwd(float *out, const float *x, int ldx, const float *bias, int T,
                                  int n);
int ik_test_cpu_softplus_bias_bwd(float *dx, int lddx, const float *dout, const float *x, int ldx,
                                  const float *bias, int T, int n);
int ik_test_cpu_conv1d_silu_fwd(float *conv, float *act, const float *x, int ldx, const float *w,
                                const float *bias, int T, int C, int Kc);
int ik_test_cpu_conv1d_silu_bwd(float *dx, int lddx, const float *dact, const float *conv,
                                const float *w, int T, int C, int Kc);
int ik_test_cpu_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz,
                                  const float *w, int N, int C, int G, float eps);
int ik_test_cpu_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                                  const float *z, int ldz, const float *w, int N, int C, int G,
                                  float eps);

#endif
