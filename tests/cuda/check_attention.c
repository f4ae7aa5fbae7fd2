/* tests/cuda/check_attention.c - test_cuda_kernels' checks of attention
 * forward and backward (attention.cu) against the CPU references
 * (kernels/kernels.h); each returns the number of comparisons that
 * failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* One attention case: ->attention_fwd against ik_cpu_attention_seq_fwd and
 * ->attention_bwd against ik_cpu_attention_bwd (gradients accumulated onto
 * the same random values). The device's products are TF32 (inputs rounded
 * to 10 mantissa bits, attention.cu): simulating that rounding in NumPy on
 * these shapes and inputs gave errors up to 4.7e-4 in out, 4.2e-4 in dq/dk
 * and 1.0e-3 in dv (|dv| up to 4.6) against exact products; fp32's own
 * differences (sum orders, expf against the CPU's polynomial) are ~1e-5.
 * Hence 4e-3 absolute with 2e-3 relative: room for cuBLAS rounding TF32
 * differently, and far below what a wrong head, mask or stride gives. */
static int attention_case(int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *q = rand_floats(nq, -1, 1), *k = rand_floats(nk, -1, 1), *v = rand_floats(nk, -1, 1);
    float *dout = rand_floats(nq, -1, 1), *out = host_floats(nq);
    float *dq = rand_floats(nq, -1, 1), *dk = rand_floats(nk, -1, 1), *dv = rand_floats(nk, -1, 1);
    float *d_q = to_dev(q, nq * 4), *d_k = to_dev(k, nk * 4), *d_v = to_dev(v, nk * 4);
    float *d_dout = to_dev(dout, nq * 4), *d_dq = to_dev(dq, nq * 4), *d_dk = to_dev(dk, nk * 4);
    float *d_dv = to_dev(dv, nk * 4), *d_out;
    void *d_scr;
    CK(ops->alloc((void **)&d_out, nq * 4));
    CK(ops->alloc(&d_scr, ops->attention_scratch(T, H, K)));
    CK(ops->attention_fwd(d_out, d_q, d_k, d_v, T, H, K, hd, window, d_scr));
    CK(ops->attention_bwd(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, T, H, K, hd, window, d_scr));
    float *scr = host_floats(ik_cpu_attention_bwd_scratch(T, H, K, hd));
    ik_cpu_attention_seq_fwd(out, q, k, v, T, H, K, hd, window, scr);
    ik_cpu_attention_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scr);
    float *g_out = from_dev(d_out, nq), *g_dq = from_dev(d_dq, nq), *g_dk = from_dev(d_dk, nk);
    float *g_dv = from_dev(d_dv, nk);
    char what[96];
    int fails = 0;
    const char *names[] = {"out", "dq", "dk", "dv"};
    const float *gpu[] = {g_out, g_dq, g_dk, g_dv}, *cpu[] = {out, dq, dk, dv};
    size_t ns[] = {nq, nq, nk, nk};
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "attention %s T %d H %d K %d hd %d w %d", names[i], T, H, K, hd,
                 window);
        fails += compare(what, gpu[i], cpu[i], ns[i], 4e-3, 2e-3);
    }
    float *dev[] = {d_q, d_k, d_v, d_dout, d_dq, d_dk, d_dv, d_out};
    for (int i = 0; i < 8; i++)
        CK(ops->free(dev[i]));
    CK(ops->free(d_scr));
    float *host[] = {q, k, v, dout, out, dq, dk, dv, scr, g_out, g_dq, g_dk, g_dv};
    for (int i = 0; i < 13; i++)
        free(host[i]);
    return fails;
}

/* Qwen2.5-0.5B's heads (14 on 2 KV heads of 64) over several CPU blocks, and
 * 3 KV heads of 32 with a sliding window shorter than a block. */
int check_attention(void)
{
    return attention_case(150, 14, 2, 64, 0) + attention_case(96, 9, 3, 32, 5);
}
