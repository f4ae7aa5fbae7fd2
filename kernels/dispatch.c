/* kernels/dispatch.c - the entry points of kernels/dispatch.h: each forwards
 * to the selected backend's table. The table pointer is the only state; it
 * starts at the CPU table, so no call ever finds it unset. */
#include "base/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

_Static_assert((int)IK_ATT_ROWS == (int)IK_CPU_ATT_ROWS, "the attention scratch sizes of lm/ and the CPU");
_Static_assert((int)IK_GEMV_ROWS == (int)IK_CPU_GEMV_ROWS, "the few-row projections of lm/ and the CPU");

/* One backend: an entry point per op, with the signatures of kernels.h. */
struct ops {
    enum ik_kernels_backend backend;
    void (*matmul_fwd)(float *, const float *, const float *, const float *, int, int, int);
    void (*rmsnorm_fwd)(float *, float *, const float *, const float *, int, int, float);
    void (*rope_fwd)(float *, const int *, const float *, int, int, int);
    void (*swiglu_fwd)(float *, const float *, const float *, int, int);
    void (*attention_fwd)(float *, const float *, const float *, const float *, int, int, int, int,
                          int, int, float *);
    void (*softmax_xent_fwd)(float *, const float *, const int *, int, int);
    void (*argmax_rows)(int *, const float *, int, int);
    void (*dropout)(float *, const float *, size_t, float, uint64_t);
    void (*lora_fwd)(float *, float *, const float *, const float *, const float *, float, int, int,
                     int, int);
    void (*silu_fwd)(float *, const float *, size_t);
    void (*relu2_fwd)(float *, const float *, size_t);
    void (*conv1d_fwd)(float *, float *, const float *, int, const float *, const float *, int, int,
                       int);
    void (*ssm_scan_fwd)(float *, float *, const float *, const float *, const float *, int,
                         const float *, const float *, const float *, int, int, int, int, int);
    void (*ssm_chunked_fwd)(float *, float *, const float *, const float *, const float *, int,
                            const float *, const float *, const float *, int, int, int, int, int,
                            int, float *);
    size_t (*ssm_chunked_scratch)(int, int, int);
    void (*rmsnorm_gated_fwd)(float *, const float *, const float *, int, const float *, int, int,
                              int, float);
    void (*matmul_bwd)(float *, float *, float *, const float *, const float *, const float *, int,
                       int, int);
    void (*rmsnorm_bwd)(float *, float *, const float *, const float *, const float *,
                        const float *, int, int);
    void (*rope_bwd)(float *, const int *, const float *, int, int, int);
    void (*swiglu_bwd)(float *, float *, const float *, const float *, const float *, int, int);
    size_t (*attention_bwd_scratch)(int, int, int, int);
    void (*attention_seq_fwd)(float *, const float *, const float *, const float *, int, int, int, int,
                              int, float *);
    void (*attention_bwd)(float *, float *, float *, const float *, const float *, const float *,
                          const float *, int, int, int, int, int, float *);
    void (*softmax_xent_bwd)(float *, const float *, const int *, const float *, int, int);
    void (*softmax_xent_fwd_bwd)(float *, float *, const float *, const int *, const float *, int,
                                 int);
    void (*lora_bwd)(float *, float *, float *, float *, const float *, const float *,
                     const float *, const float *, const float *, float, int, int, int, int);
    void (*silu_bwd)(float *, const float *, const float *, size_t);
    void (*relu2_bwd)(float *, const float *, const float *, size_t);
    void (*conv1d_bwd)(float *, int, const float *, const float *, int, int, int);
    void (*ssm_scan_bwd)(float *, float *, float *, int, float *, const float *, const float *,
                         const float *, const float *, int, const float *, const float *,
                         const float *, int, int, int, int, int, int, float *);
    size_t (*ssm_scan_bwd_scratch)(int, int, int, int, int);
    void (*rmsnorm_gated_bwd)(float *, float *, int, const float *, const float *, const float *,
                              int, const float *, int, int, int, float);
    void (*adamw)(float *, const float *, float *, float *, size_t, float, float, float, float,
                  float, int);
    double (*clip_grad_norm)(float *, size_t, double);
};

static const struct ops cpu = {
    .backend = IK_KERNELS_CPU,
    .matmul_fwd = ik_cpu_matmul_fwd,
    .rmsnorm_fwd = ik_cpu_rmsnorm_fwd,
    .rope_fwd = ik_cpu_rope_fwd,
    .swiglu_fwd = ik_cpu_swiglu_fwd,
    .attention_fwd = ik_cpu_attention_fwd,
    .softmax_xent_fwd = ik_cpu_softmax_xent_fwd,
    .argmax_rows = ik_cpu_argmax_rows,
    .dropout = ik_cpu_dropout,
    .lora_fwd = ik_cpu_lora_fwd,
    .silu_fwd = ik_cpu_silu_fwd,
    .relu2_fwd = ik_cpu_relu2_fwd,
    .conv1d_fwd = ik_cpu_conv1d_fwd,
    .ssm_scan_fwd = ik_cpu_ssm_scan_fwd,
    .ssm_chunked_fwd = ik_cpu_ssm_chunked_fwd,
    .ssm_chunked_scratch = ik_cpu_ssm_chunked_scratch,
    .rmsnorm_gated_fwd = ik_cpu_rmsnorm_gated_fwd,
    .matmul_bwd = ik_cpu_matmul_bwd,
    .rmsnorm_bwd = ik_cpu_rmsnorm_bwd,
    .rope_bwd = ik_cpu_rope_bwd,
    .swiglu_bwd = ik_cpu_swiglu_bwd,
    .attention_bwd_scratch = ik_cpu_attention_bwd_scratch,
    .attention_seq_fwd = ik_cpu_attention_seq_fwd,
    .attention_bwd = ik_cpu_attention_bwd,
    .softmax_xent_bwd = ik_cpu_softmax_xent_bwd,
    .softmax_xent_fwd_bwd = ik_cpu_softmax_xent_fwd_bwd,
    .lora_bwd = ik_cpu_lora_bwd,
    .silu_bwd = ik_cpu_silu_bwd,
    .relu2_bwd = ik_cpu_relu2_bwd,
    .conv1d_bwd = ik_cpu_conv1d_bwd,
    .ssm_scan_bwd = ik_cpu_ssm_scan_bwd,
    .ssm_scan_bwd_scratch = ik_cpu_ssm_scan_bwd_scratch,
    .rmsnorm_gated_bwd = ik_cpu_rmsnorm_gated_bwd,
    .adamw = ik_cpu_adamw,
    .clip_grad_norm = ik_cpu_clip_grad_norm,
};

/* Written only by ik_kernels_select, which the header says must not race
 * kernel calls, so a plain pointer suffices. */
static const struct ops *sel = &cpu;

int ik_kernels_select(enum ik_kernels_backend b, struct ik_diag *d)
{
    switch (b) {
    case IK_KERNELS_CPU:
        sel = &cpu;
        return 0;
    case IK_KERNELS_CUDA:
        break;
    }
    return ik_diag_set(d, IK_ENOTBUILT, "no %s kernels in this build (only cpu)",
                       ik_kernels_backend_name(b));
}

enum ik_kernels_backend ik_kernels_selected(void) { return sel->backend; }

const char *ik_kernels_backend_name(enum ik_kernels_backend b)
{
    switch (b) {
    case IK_KERNELS_CPU:
        return "cpu";
    case IK_KERNELS_CUDA:
        return "cuda";
    }
    return "unknown";
}

void ik_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N, int In,
                   int Out)
{
    sel->matmul_fwd(out, x, w, bias, N, In, Out);
}

void ik_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                    float eps)
{
    sel->rmsnorm_fwd(out, rstd, x, w, N, C, eps);
}

void ik_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    sel->rope_fwd(x, pos, inv_freq, N, nh, hd);
}

void ik_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    sel->swiglu_fwd(out, gate, up, N, F);
}

void ik_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                      int H, int K, int hd, int window, float *scratch)
{
    sel->attention_fwd(out, q, kc, vc, T, pos0, H, K, hd, window, scratch);
}

void ik_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V)
{
    sel->softmax_xent_fwd(nll, logits, targets, N, V);
}

void ik_argmax_rows(int *out, const float *x, int N, int V) { sel->argmax_rows(out, x, N, V); }

void ik_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    sel->dropout(out, x, n, p, key);
}

void ik_lora_fwd(float *out, float *h, const float *x, const float *A, const float *B, float scale,
                 int N, int In, int Out, int R)
{
    sel->lora_fwd(out, h, x, A, B, scale, N, In, Out, R);
}

void ik_silu_fwd(float *out, const float *x, size_t n) { sel->silu_fwd(out, x, n); }

void ik_relu2_fwd(float *out, const float *x, size_t n) { sel->relu2_fwd(out, x, n); }

void ik_conv1d_fwd(float *out, float *state, const float *x, int ldx, const float *w,
                   const float *bias, int T, int C, int Kc)
{
    sel->conv1d_fwd(out, state, x, ldx, w, bias, T, C, Kc);
}

void ik_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C, int ld,
                     const float *dt, const float *A, const float *Dskip, int T, int nh, int P, int G,
                     int N)
{
    sel->ssm_scan_fwd(y, state, x, B, C, ld, dt, A, Dskip, T, nh, P, G, N);
}

void ik_ssm_chunked_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                        int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                        int P, int G, int N, int Q, float *scratch)
{
    sel->ssm_chunked_fwd(y, state, x, B, C, ld, dt, A, Dskip, T, nh, P, G, N, Q, scratch);
}

size_t ik_ssm_chunked_scratch(int nh, int P, int Q) { return sel->ssm_chunked_scratch(nh, P, Q); }

void ik_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w, int N,
                          int C, int G, float eps)
{
    sel->rmsnorm_gated_fwd(out, y, z, ldz, w, N, C, G, eps);
}

void ik_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                   const float *w, int N, int In, int Out)
{
    sel->matmul_bwd(dx, dw, db, dout, x, w, N, In, Out);
}

void ik_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                    const float *w, int N, int C)
{
    sel->rmsnorm_bwd(dx, dw, dout, x, rstd, w, N, C);
}

void ik_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    sel->rope_bwd(d, pos, inv_freq, N, nh, hd);
}

void ik_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                   int N, int F)
{
    sel->swiglu_bwd(dgate, dup, dout, gate, up, N, F);
}

size_t ik_attention_bwd_scratch(int T, int H, int K, int hd)
{
    return sel->attention_bwd_scratch(T, H, K, hd);
}

void ik_attention_seq_fwd(float *out, const float *q, const float *k, const float *v, int T, int H, int K,
                          int hd, int window, float *scratch)
{
    sel->attention_seq_fwd(out, q, k, v, T, H, K, hd, window, scratch);
}

void ik_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, int T, int H, int K, int hd, int window,
                      float *scratch)
{
    sel->attention_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scratch);
}

void ik_softmax_xent_bwd(float *dlogits, const float *logits, const int *targets, const float *dnll,
                         int N, int V)
{
    sel->softmax_xent_bwd(dlogits, logits, targets, dnll, N, V);
}

void ik_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits, const int *targets,
                             const float *dnll, int N, int V)
{
    sel->softmax_xent_fwd_bwd(nll, dlogits, logits, targets, dnll, N, V);
}

void ik_lora_bwd(float *dx, float *dA, float *dB, float *dh, const float *dout, const float *x,
                 const float *h, const float *A, const float *B, float scale, int N, int In,
                 int Out, int R)
{
    sel->lora_bwd(dx, dA, dB, dh, dout, x, h, A, B, scale, N, In, Out, R);
}

void ik_silu_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    sel->silu_bwd(dx, dout, x, n);
}

void ik_relu2_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    sel->relu2_bwd(dx, dout, x, n);
}

void ik_conv1d_bwd(float *dx, int lddx, const float *dout, const float *w, int T, int C, int Kc)
{
    sel->conv1d_bwd(dx, lddx, dout, w, T, C, Kc);
}

void ik_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                     const float *x, const float *B, const float *C, int ld, const float *dt,
                     const float *A, const float *Dskip, int T, int nh, int P, int G, int N, int Q,
                     float *scratch)
{
    sel->ssm_scan_bwd(dx, dB, dC, lddx, ddt, dy, x, B, C, ld, dt, A, Dskip, T, nh, P, G, N, Q,
                      scratch);
}

size_t ik_ssm_scan_bwd_scratch(int T, int G, int P, int N, int Q)
{
    return sel->ssm_scan_bwd_scratch(T, G, P, N, Q);
}

void ik_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                          const float *z, int ldz, const float *w, int N, int C, int G, float eps)
{
    sel->rmsnorm_gated_bwd(dy, dz, lddz, dout, y, z, ldz, w, N, C, G, eps);
}

void ik_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, int t)
{
    sel->adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t);
}

double ik_clip_grad_norm(float *g, size_t n, double max_norm)
{
    return sel->clip_grad_norm(g, n, max_norm);
}
