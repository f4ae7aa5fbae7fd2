/* tests/kernels/test_dispatch.c - kernels/dispatch.h reaches the CPU
 * kernels: every ik_<op> gives bit for bit what ik_cpu_<op> gives on the same
 * inputs (accumulating outputs start from the same values), the CPU is
 * selected from the start, and selecting CUDA fails with IK_ENOTBUILT and
 * leaves the CPU selected. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/prng.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

enum { N = 24, IN = 40, OUT = 36, R = 4, F = 48, H = 4, K = 2, HD = 8, T = 20, P0 = 6, V = 300 };

static float *rnd(size_t n, unsigned seed)
{
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2 * ik_prng_double(&r) - 1);
    return x;
}

/* Two buffers holding the same n random floats: one for each path. */
struct pair {
    float *a, *b;
    size_t n;
};

static struct pair pair(size_t n, unsigned seed)
{
    struct pair p = {rnd(n, seed), malloc(n * sizeof(float)), n};
    memcpy(p.b, p.a, n * sizeof(float));
    return p;
}

static void same(struct pair *p, const char *what)
{
    cr_assert_eq(memcmp(p->a, p->b, p->n * sizeof(float)), 0, "%s differs through the dispatch",
                 what);
    free(p->a);
    free(p->b);
}

Test(kernels_dispatch, cpu_is_selected_and_cuda_is_not_built)
{
    cr_assert_eq(ik_kernels_selected(), IK_KERNELS_CPU);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_kernels_select(IK_KERNELS_CUDA, &d), IK_ENOTBUILT);
    cr_assert_str_eq(ik_diag_message(&d), "error: no cuda kernels in this build (only cpu)");
    cr_assert_eq(ik_kernels_selected(), IK_KERNELS_CPU);
    ik_diag_free(&d);
    cr_assert_eq(ik_kernels_select(IK_KERNELS_CPU, &d), 0);
    cr_assert_str_eq(ik_kernels_backend_name(IK_KERNELS_CPU), "cpu");
    cr_assert_eq((int)IK_ATT_ROWS, (int)IK_CPU_ATT_ROWS);
}

Test(kernels_dispatch, forward_ops_reach_the_cpu)
{
    float *x = rnd((size_t)N * IN, 1), *w = rnd((size_t)OUT * IN, 2), *bias = rnd(OUT, 3);
    struct pair o = pair((size_t)N * OUT, 4);
    ik_cpu_matmul_fwd(o.a, x, w, bias, N, IN, OUT);
    ik_matmul_fwd(o.b, x, w, bias, N, IN, OUT);
    same(&o, "matmul_fwd");

    float *nw = rnd(IN, 5);
    struct pair y = pair((size_t)N * IN, 6), rs = pair(N, 7);
    ik_cpu_rmsnorm_fwd(y.a, rs.a, x, nw, N, IN, 1e-6f);
    ik_rmsnorm_fwd(y.b, rs.b, x, nw, N, IN, 1e-6f);
    same(&y, "rmsnorm_fwd");
    same(&rs, "rmsnorm_fwd rstd");

    int pos[N];
    float inv[HD / 2];
    for (int i = 0; i < N; i++)
        pos[i] = 3 * i;
    for (int j = 0; j < HD / 2; j++)
        inv[j] = 1.0f / (float)(1 + j);
    struct pair q = pair((size_t)N * H * HD, 8);
    ik_cpu_rope_fwd(q.a, pos, inv, N, H, HD);
    ik_rope_fwd(q.b, pos, inv, N, H, HD);
    same(&q, "rope_fwd");

    float *gate = rnd((size_t)N * F, 9), *up = rnd((size_t)N * F, 10);
    struct pair s = pair((size_t)N * F, 11);
    ik_cpu_swiglu_fwd(s.a, gate, up, N, F);
    ik_swiglu_fwd(s.b, gate, up, N, F);
    same(&s, "swiglu_fwd");

    int S = P0 + T;
    float *aq = rnd((size_t)T * H * HD, 12), *kc = rnd((size_t)S * K * HD, 13);
    float *vc = rnd((size_t)S * K * HD, 14), *scr = malloc(sizeof(float) * IK_ATT_ROWS * S);
    struct pair at = pair((size_t)T * H * HD, 15);
    ik_cpu_attention_fwd(at.a, aq, kc, vc, T, P0, H, K, HD, 5, scr);
    ik_attention_fwd(at.b, aq, kc, vc, T, P0, H, K, HD, 5, scr);
    same(&at, "attention_fwd");

    float *logits = rnd((size_t)N * V, 16);
    int tgt[N];
    for (int i = 0; i < N; i++)
        tgt[i] = (i * 37) % V;
    struct pair nll = pair(N, 17);
    ik_cpu_softmax_xent_fwd(nll.a, logits, tgt, N, V);
    ik_softmax_xent_fwd(nll.b, logits, tgt, N, V);
    same(&nll, "softmax_xent_fwd");
    int am_a[N], am_b[N];
    ik_cpu_argmax_rows(am_a, logits, N, V);
    ik_argmax_rows(am_b, logits, N, V);
    cr_assert_eq(memcmp(am_a, am_b, sizeof am_a), 0, "argmax_rows differs through the dispatch");
    struct pair dr = pair((size_t)N * V, 22);
    ik_cpu_dropout(dr.a, logits, (size_t)N * V, 0.3f, 5);
    ik_dropout(dr.b, logits, (size_t)N * V, 0.3f, 5);
    same(&dr, "dropout");

    float *A = rnd((size_t)R * IN, 18), *B = rnd((size_t)OUT * R, 19);
    struct pair lo = pair((size_t)N * OUT, 20), lh = pair((size_t)N * R, 21);
    ik_cpu_lora_fwd(lo.a, lh.a, x, A, B, 0.5f, N, IN, OUT, R);
    ik_lora_fwd(lo.b, lh.b, x, A, B, 0.5f, N, IN, OUT, R);
    same(&lo, "lora_fwd");
    same(&lh, "lora_fwd h");
    free(x), free(w), free(bias), free(nw), free(gate), free(up), free(aq), free(kc), free(vc);
    free(scr), free(logits), free(A), free(B);
}

Test(kernels_dispatch, backward_and_optimizer_ops_reach_the_cpu)
{
    float *x = rnd((size_t)N * IN, 31), *w = rnd((size_t)OUT * IN, 32), *dout = rnd((size_t)N * OUT, 33);
    struct pair dx = pair((size_t)N * IN, 34), dw = pair((size_t)OUT * IN, 35), db = pair(OUT, 36);
    ik_cpu_matmul_bwd(dx.a, dw.a, db.a, dout, x, w, N, IN, OUT);
    ik_matmul_bwd(dx.b, dw.b, db.b, dout, x, w, N, IN, OUT);
    same(&dx, "matmul_bwd dx");
    same(&dw, "matmul_bwd dw");
    same(&db, "matmul_bwd db");

    float *nw = rnd(IN, 37), *rstd = malloc(N * sizeof(float)), *y = malloc(sizeof(float) * N * IN);
    float *dy = rnd((size_t)N * IN, 38);
    ik_cpu_rmsnorm_fwd(y, rstd, x, nw, N, IN, 1e-6f);
    struct pair rdx = pair((size_t)N * IN, 39), rdw = pair(IN, 40);
    ik_cpu_rmsnorm_bwd(rdx.a, rdw.a, dy, x, rstd, nw, N, IN);
    ik_rmsnorm_bwd(rdx.b, rdw.b, dy, x, rstd, nw, N, IN);
    same(&rdx, "rmsnorm_bwd dx");
    same(&rdw, "rmsnorm_bwd dw");

    int pos[N];
    float inv[HD / 2];
    for (int i = 0; i < N; i++)
        pos[i] = 5 * i;
    for (int j = 0; j < HD / 2; j++)
        inv[j] = 1.0f / (float)(2 + j);
    struct pair rq = pair((size_t)N * K * HD, 41);
    ik_cpu_rope_bwd(rq.a, pos, inv, N, K, HD);
    ik_rope_bwd(rq.b, pos, inv, N, K, HD);
    same(&rq, "rope_bwd");

    float *gate = rnd((size_t)N * F, 42), *up = rnd((size_t)N * F, 43), *sd = rnd((size_t)N * F, 44);
    struct pair dg = pair((size_t)N * F, 45), du = pair((size_t)N * F, 46);
    ik_cpu_swiglu_bwd(dg.a, du.a, sd, gate, up, N, F);
    ik_swiglu_bwd(dg.b, du.b, sd, gate, up, N, F);
    same(&dg, "swiglu_bwd dgate");
    same(&du, "swiglu_bwd dup");

    float *q = rnd((size_t)T * H * HD, 47), *k = rnd((size_t)T * K * HD, 48);
    float *v = rnd((size_t)T * K * HD, 49), *ado = rnd((size_t)T * H * HD, 50);
    float *scr = malloc(sizeof(float) * ik_attention_bwd_scratch(T, H, K, HD));
    cr_assert_eq(ik_attention_bwd_scratch(T, H, K, HD), ik_cpu_attention_bwd_scratch(T, H, K, HD));
    struct pair dq = pair((size_t)T * H * HD, 51), dk = pair((size_t)T * K * HD, 52);
    struct pair dv = pair((size_t)T * K * HD, 53);
    ik_cpu_attention_bwd(dq.a, dk.a, dv.a, ado, q, k, v, T, H, K, HD, 0, scr);
    ik_attention_bwd(dq.b, dk.b, dv.b, ado, q, k, v, T, H, K, HD, 0, scr);
    same(&dq, "attention_bwd dq");
    same(&dk, "attention_bwd dk");
    same(&dv, "attention_bwd dv");

    float *logits = rnd((size_t)N * V, 54), dnll[N];
    int tgt[N];
    for (int i = 0; i < N; i++) {
        tgt[i] = (i * 53) % V;
        dnll[i] = i % 5 == 2 ? 0.0f : 0.5f;
    }
    struct pair dl = pair((size_t)N * V, 55);
    ik_cpu_softmax_xent_bwd(dl.a, logits, tgt, dnll, N, V);
    ik_softmax_xent_bwd(dl.b, logits, tgt, dnll, N, V);
    same(&dl, "softmax_xent_bwd");
    struct pair fl = pair((size_t)N * V, 56), fn = pair(N, 57);
    memcpy(fl.a, logits, sizeof(float) * N * V);
    memcpy(fl.b, logits, sizeof(float) * N * V);
    ik_cpu_softmax_xent_fwd_bwd(fn.a, fl.a, fl.a, tgt, dnll, N, V);
    ik_softmax_xent_fwd_bwd(fn.b, fl.b, fl.b, tgt, dnll, N, V);
    same(&fl, "softmax_xent_fwd_bwd dlogits");
    same(&fn, "softmax_xent_fwd_bwd nll");

    float *A = rnd((size_t)R * IN, 58), *B = rnd((size_t)OUT * R, 59), *h = rnd((size_t)N * R, 60);
    struct pair lx = pair((size_t)N * IN, 61), lA = pair((size_t)R * IN, 62);
    struct pair lB = pair((size_t)OUT * R, 63), ldh = pair((size_t)N * R, 64);
    ik_cpu_lora_bwd(lx.a, lA.a, lB.a, ldh.a, dout, x, h, A, B, 0.5f, N, IN, OUT, R);
    ik_lora_bwd(lx.b, lA.b, lB.b, ldh.b, dout, x, h, A, B, 0.5f, N, IN, OUT, R);
    same(&lx, "lora_bwd dx");
    same(&lA, "lora_bwd dA");
    same(&lB, "lora_bwd dB");
    same(&ldh, "lora_bwd dh");

    size_t n = 500;
    float *g = rnd(n, 65);
    struct pair p = pair(n, 66), m = pair(n, 67), ve = pair(n, 68), gc = pair(n, 69);
    for (size_t i = 0; i < n; i++)
        ve.a[i] = ve.b[i] = ve.a[i] * ve.a[i]; /* a second moment is not negative */
    ik_cpu_adamw(p.a, g, m.a, ve.a, n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);
    ik_adamw(p.b, g, m.b, ve.b, n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);
    same(&p, "adamw p");
    same(&m, "adamw m");
    same(&ve, "adamw v");
    double na = ik_cpu_clip_grad_norm(gc.a, n, 1.0), nb = ik_clip_grad_norm(gc.b, n, 1.0);
    cr_assert_eq(memcmp(&na, &nb, sizeof na), 0);
    same(&gc, "clip_grad_norm");
    free(x), free(w), free(dout), free(nw), free(rstd), free(y), free(dy), free(gate), free(up);
    free(sd), free(q), free(k), free(v), free(ado), free(scr), free(logits), free(A), free(B);
    free(h), free(g);
}
