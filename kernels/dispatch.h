/* kernels/dispatch.h - the one door to the compute ops: what lm/ calls.
 *
 * Each ik_<op> below has exactly the contract of ik_cpu_<op> in
 * kernels/kernels.h (shapes, the accumulate/overwrite rules, cannot fail) and
 * runs the implementation of the selected backend. lm/ calls only these and
 * never names a backend, so choosing one is a run-time matter of this file
 * and dispatch.c alone: no #ifdef in lm/.
 *
 * Backends: today only the CPU one (kernels/cpu/) exists, and it is selected
 * from the start. A CUDA backend would add (i) kernels/cuda/<op>.cu
 * implementing the same contracts, (ii) their table of entry points (the
 * struct of dispatch.c, moved to an internal header) in a file that
 * kernels/Makefile.inc compiles only when configure found nvcc, beside a
 * CPU-only twin without a table (as device_cuda.c / device_none.c), so that
 * dispatch.c needs no #ifdef either, (iii) the case of ik_kernels_select
 * that installs the table when kernels/device.h reports a GPU, and (iv),
 * since its ops read and write device memory, allocation and copy entry
 * points here through which lm/ would place its weights and activations. Until then selecting CUDA fails
 * with IK_ENOTBUILT and the CPU stays selected: nothing pretends to run on a
 * GPU.
 *
 * Cost: a call reads one pointer to the selected table and makes one
 * indirect call; no per-call test of the device. */
#ifndef IK_KERNELS_DISPATCH_H
#define IK_KERNELS_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

enum ik_kernels_backend {
    IK_KERNELS_CPU,  /* kernels/cpu/: fp32, OpenBLAS, a small thread pool */
    IK_KERNELS_CUDA, /* not built yet (see above) */
};

/* Makes every later ik_<op> call run on backend b: 0, or IK_ENOTBUILT with d
 * filled (and the selection unchanged) for a backend this build lacks. Call
 * it before any kernel runs, from one thread: a call racing kernel calls on
 * other threads is undefined. */
int ik_kernels_select(enum ik_kernels_backend b, struct ik_diag *d);
/* The selected backend (IK_KERNELS_CPU until a select succeeds otherwise). */
enum ik_kernels_backend ik_kernels_selected(void);
/* "cpu", "cuda". */
const char *ik_kernels_backend_name(enum ik_kernels_backend b);

/* Query rows per attention block, which sizes the attention scratch of every
 * backend (ik_cpu_attention_fwd/_bwd); equal to IK_CPU_ATT_ROWS. */
enum { IK_ATT_ROWS = 128 };

/* Rows up to which matmul and the LoRA branch take the few-row projections
 * (ik_cpu_gemv), where a row's result does not depend on the other rows;
 * equal to IK_CPU_GEMV_ROWS. */
enum { IK_GEMV_ROWS = 16 };

/* ---- forward (contracts: ik_cpu_<op>_fwd in kernels/kernels.h) ---- */
void ik_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N, int In,
                   int Out);
void ik_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                    float eps);
void ik_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd);
void ik_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F);
void ik_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                      int H, int K, int hd, int window, float *scratch);
void ik_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V);
void ik_argmax_rows(int *out, const float *x, int N, int V);
void ik_dropout(float *out, const float *x, size_t n, float p, uint64_t key);
void ik_lora_fwd(float *out, float *h, const float *x, const float *A, const float *B, float scale,
                 int N, int In, int Out, int R);
void ik_silu_fwd(float *out, const float *x, size_t n);
void ik_relu2_fwd(float *out, const float *x, size_t n);
void ik_conv1d_fwd(float *out, float *state, const float *x, int ldx, const float *w,
                   const float *bias, int T, int C, int Kc);
void ik_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C, int ld,
                     const float *dt, const float *A, const float *Dskip, int T, int nh, int P, int G,
                     int N);
void ik_ssm_chunked_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                        int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                        int P, int G, int N, int Q, float *scratch);
/* The scratch of the selected backend's ik_ssm_chunked_fwd, in floats. */
size_t ik_ssm_chunked_scratch(int nh, int P, int Q);
void ik_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w, int N,
                          int C, int G, float eps);

/* ---- backward (contracts: ik_cpu_<op>_bwd; gradients accumulate) ---- */
void ik_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                   const float *w, int N, int In, int Out);
void ik_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                    const float *w, int N, int C);
void ik_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd);
void ik_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                   int N, int F);
size_t ik_attention_bwd_scratch(int T, int H, int K, int hd);
void ik_attention_seq_fwd(float *out, const float *q, const float *k, const float *v, int T, int H, int K,
                          int hd, int window, float *scratch);
void ik_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, int T, int H, int K, int hd, int window,
                      float *scratch);
void ik_softmax_xent_bwd(float *dlogits, const float *logits, const int *targets, const float *dnll,
                         int N, int V);
void ik_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits, const int *targets,
                             const float *dnll, int N, int V);
void ik_lora_bwd(float *dx, float *dA, float *dB, float *dh, const float *dout, const float *x,
                 const float *h, const float *A, const float *B, float scale, int N, int In,
                 int Out, int R);
/* NemotronH's backward (contracts in kernels.h's Mamba-2 backward section). */
void ik_silu_bwd(float *dx, const float *dout, const float *x, size_t n);
void ik_relu2_bwd(float *dx, const float *dout, const float *x, size_t n);
void ik_conv1d_bwd(float *dx, int lddx, const float *dout, const float *w, int T, int C, int Kc);
void ik_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                     const float *x, const float *B, const float *C, int ld, const float *dt,
                     const float *A, const float *Dskip, int T, int nh, int P, int G, int N, int Q,
                     float *scratch);
/* The scratch of the selected backend's ik_ssm_scan_bwd, in floats. */
size_t ik_ssm_scan_bwd_scratch(int T, int G, int P, int N, int Q);
void ik_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                          const float *z, int ldz, const float *w, int N, int C, int G, float eps);

/* ---- optimizer (contracts: ik_cpu_adamw, ik_cpu_clip_grad_norm) ---- */
void ik_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, int t);
double ik_clip_grad_norm(float *g, size_t n, double max_norm);

#endif
