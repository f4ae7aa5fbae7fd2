/* tests/kernels/test_kernels.c - the threaded CPU kernels at sizes large enough to
 * run on the thread pool (the model tests use tiny shapes that stay on the
 * caller): attention forward over a cache and backward (several query blocks,
 * with and without a window; as 8-lane tiles, as sgemm blocks, and for the
 * backward as blocks of kept probabilities), softmax cross-entropy over a wide
 * vocabulary, the row-wise argmax, dropout, SwiGLU, RMSNorm, RoPE and the few-row
 * projections (gemv), each against a double-precision reference; and their
 * independence of the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/cpu/attention_gemm.h"
#include "kernels/cpu/attention_tiled.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"
#include "base/prng.h"

static float *rnd(size_t n, unsigned seed, double scale)
{
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2 * ik_prng_double(&r) - 1) * scale);
    return x;
}

static void close_to(const float *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%zu] = %.8g, expected %.8g",
                  what, i, (double)got[i], want[i]);
}

static void count_range(void *ctx, size_t lo, size_t hi)
{
    int *hits = ctx;
    for (size_t i = lo; i < hi; i++)
        hits[i]++;
}

Test(lm_kernels, parallel_for_covers_each_index_once)
{
    enum { N = 100003 };
    int *hits = calloc(N, sizeof *hits);
    ik_cpu_parallel_for(N, (size_t)N * 10, count_range, hits);
    ik_cpu_parallel_for(N, 1, count_range, hits); /* below the threshold: on the caller */
    for (int i = 0; i < N; i++)
        cr_assert_eq(hits[i], 2, "index %d ran %d times", i, hits[i]);
    free(hits);
}

/* Attention probabilities of query (t, h) at position p over the cache, in double. */
static void ref_probs(double *p, const float *q, const float *k, int t, int pos, int h, int H, int K,
                      int hd, int window)
{
    int kh = h / (H / K);
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j <= pos; j++) {
        double s = -INFINITY;
        if (window == 0 || pos - j < window) {
            s = 0;
            for (int e = 0; e < hd; e++)
                s += (double)q[((size_t)t * H + h) * hd + e] * k[((size_t)j * K + kh) * hd + e];
            s /= sqrt(hd);
        }
        p[j] = s;
        mx = fmax(mx, s);
    }
    for (int j = 0; j <= pos; j++)
        sum += p[j] = exp(p[j] - mx);
    for (int j = 0; j <= pos; j++)
        p[j] /= sum;
}

/* ik_cpu_attention_fwd (P0 >= 0), or with P0 = -1 ik_cpu_attention_seq_fwd
 * (pos0 0, the backward's scratch), against the double-precision reference. */
static void attention_fwd_case(int T, int P0, int H, int K, int HD, int window)
{
    int seq = P0 < 0;
    P0 = seq ? 0 : P0;
    int S = P0 + T;
    float *q = rnd((size_t)T * H * HD, 1, 1.0), *kc = rnd((size_t)S * K * HD, 2, 1.0);
    float *vc = rnd((size_t)S * K * HD, 3, 1.0), *out = malloc(sizeof(float) * T * H * HD);
    size_t ns = seq ? ik_cpu_attention_bwd_scratch(T, H, K, HD) : (size_t)IK_CPU_ATT_ROWS * S;
    float *scr = malloc(sizeof(float) * ns);
    if (seq)
        ik_cpu_attention_seq_fwd(out, q, kc, vc, T, H, K, HD, window, scr);
    else
        ik_cpu_attention_fwd(out, q, kc, vc, T, P0, H, K, HD, window, scr);
    double *want = calloc((size_t)T * H * HD, sizeof *want), *p = malloc(sizeof(double) * S);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            ref_probs(p, q, kc, t, P0 + t, h, H, K, HD, window);
            for (int j = 0; j <= P0 + t; j++)
                for (int e = 0; e < HD; e++)
                    want[((size_t)t * H + h) * HD + e] += p[j] * vc[((size_t)j * K + h / (H / K)) * HD + e];
        }
    close_to(out, want, (size_t)T * H * HD, 1e-5, "attention out");
    free(q), free(kc), free(vc), free(out), free(scr), free(want), free(p);
}

/* 8-lane tiles (kernels/cpu/attention_tiled.c) unless noted. */
Test(lm_kernels, attention_fwd_blocks) { attention_fwd_case(200, 50, 4, 2, 16, 0); }
Test(lm_kernels, attention_fwd_blocks_window) { attention_fwd_case(200, 50, 4, 2, 16, 70); }
/* Partial tiles, a head width that is not a multiple of 16, a window inside a tile. */
Test(lm_kernels, attention_fwd_partial_tiles) { attention_fwd_case(37, 5, 6, 2, 24, 9); }
/* Fewer than 8 query slots per KV head (generation): the sgemm blocks. */
Test(lm_kernels, attention_fwd_few_queries) { attention_fwd_case(3, 50, 4, 2, 16, 0); }
/* Heads wider than the tiles hold: the sgemm blocks. */
Test(lm_kernels, attention_fwd_wide_heads) { attention_fwd_case(40, 10, 2, 1, 272, 0); }

/* A whole sequence on the sgemm blocks (attention_gemm.c): Qwen2.5-0.5B's
 * heads over several blocks, a window shorter than a block, a partial block,
 * and heads too narrow for the blocks (the tiles). */
Test(lm_kernels, attention_seq_fwd_qwen_heads)
{
    cr_assert_gt(ik__att_gemm_bwd_floats(150, 14, 2, 64), 0);
    attention_fwd_case(150, -1, 14, 2, 64, 0);
}
Test(lm_kernels, attention_seq_fwd_window) { attention_fwd_case(96, -1, 9, 3, 32, 5); }
Test(lm_kernels, attention_seq_fwd_narrow_heads) { attention_fwd_case(70, -1, 4, 2, 16, 20); }

typedef void attention_bwd_fn(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, int T, int H, int K, int hd,
                              int window, float *scratch);

/* The backward (impl, or ik_cpu_attention_bwd's choice when NULL) against the
 * double-precision derivative of sum(dout * out), within 2e-5 relative; the
 * gradients start from ones, as the contract says they accumulate. */
static void attention_bwd_impl(attention_bwd_fn *impl, int T, int H, int K, int HD, int window)
{
    size_t nq = (size_t)T * H * HD, nk = (size_t)T * K * HD;
    float *q = rnd(nq, 4, 1.0), *k = rnd(nk, 5, 1.0), *v = rnd(nk, 6, 1.0), *dout = rnd(nq, 7, 1.0);
    float *dq = malloc(nq * sizeof *dq), *dk = malloc(nk * sizeof *dk), *dv = malloc(nk * sizeof *dv);
    for (size_t i = 0; i < nq; i++)
        dq[i] = 1.0f;
    for (size_t i = 0; i < nk; i++)
        dk[i] = dv[i] = 1.0f;
    size_t ns = ik_cpu_attention_bwd_scratch(T, H, K, HD), ng = ik__att_gemm_bwd_floats(T, H, K, HD);
    float *scr = malloc(sizeof(float) * (ns > ng ? ns : ng));
    (impl ? impl : ik_cpu_attention_bwd)(dq, dk, dv, dout, q, k, v, T, H, K, HD, window, scr);
    for (size_t i = 0; i < nq; i++)
        dq[i] -= 1.0f;
    for (size_t i = 0; i < nk; i++) {
        dk[i] -= 1.0f;
        dv[i] -= 1.0f;
    }
    double *wq = calloc(nq, sizeof *wq), *wk = calloc(nk, sizeof *wk), *wv = calloc(nk, sizeof *wv);
    double *p = malloc(sizeof(double) * T), *dp = malloc(sizeof(double) * T);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            int kh = h / (H / K);
            const float *g = dout + ((size_t)t * H + h) * HD;
            ref_probs(p, q, k, t, t, h, H, K, HD, window);
            double dot = 0;
            for (int j = 0; j <= t; j++) {
                dp[j] = 0;
                for (int e = 0; e < HD; e++) {
                    dp[j] += (double)g[e] * v[((size_t)j * K + kh) * HD + e];
                    wv[((size_t)j * K + kh) * HD + e] += p[j] * g[e];
                }
                dot += p[j] * dp[j];
            }
            for (int j = 0; j <= t; j++) {
                double ds = p[j] * (dp[j] - dot) / sqrt(HD);
                for (int e = 0; e < HD; e++) {
                    wq[((size_t)t * H + h) * HD + e] += ds * k[((size_t)j * K + kh) * HD + e];
                    wk[((size_t)j * K + kh) * HD + e] += ds * q[((size_t)t * H + h) * HD + e];
                }
            }
        }
    close_to(dq, wq, nq, 2e-5, "dq");
    close_to(dk, wk, nk, 2e-5, "dk");
    close_to(dv, wv, nk, 2e-5, "dv");
    free(q), free(k), free(v), free(dout), free(dq), free(dk), free(dv), free(scr);
    free(wq), free(wk), free(wv), free(p), free(dp);
}

static void attention_bwd_case(int T, int H, int K, int HD, int window)
{
    attention_bwd_impl(NULL, T, H, K, HD, window);
    cr_assert_gt(ik__att_gemm_bwd_floats(T, H, K, HD), 0);
    attention_bwd_impl(ik__att_gemm_bwd, T, H, K, HD, window);
    attention_bwd_impl(ik__att_tiled_bwd, T, H, K, HD, window);
}

/* Each as ik_cpu_attention_bwd chooses, through the blocks of kept
 * probabilities (attention_gemm.c) and through the 8-lane tiles. */
Test(lm_kernels, attention_bwd_blocks) { attention_bwd_case(300, 4, 2, 16, 0); }
Test(lm_kernels, attention_bwd_blocks_window) { attention_bwd_case(300, 4, 2, 16, 100); }
Test(lm_kernels, attention_bwd_partial_tiles) { attention_bwd_case(37, 6, 2, 24, 9); }
/* A window shorter than a block, several KV heads, a block-sized length. */
Test(lm_kernels, attention_bwd_short_window) { attention_bwd_case(96, 9, 3, 32, 5); }
/* Qwen2.5-0.5B's heads (14 query heads on 2 KV heads of 64). */
Test(lm_kernels, attention_bwd_qwen_heads) { attention_bwd_case(75, 14, 2, 64, 0); }
/* Over 256 wide: the blocks of kept probabilities (no tiles). */
Test(lm_kernels, attention_bwd_wide_heads) { attention_bwd_impl(NULL, 40, 2, 1, 272, 0); }

/* Over 256 wide and too long for the blocks' 64 MiB: ik_cpu_attention_bwd
 * takes the per-head sgemm, which agrees with the blocks (given the scratch
 * they ask for) within 1e-5 relative. */
Test(lm_kernels, attention_bwd_wide_heads_long)
{
    enum { T = 2700, H = 1, K = 1, HD = 272 };
    cr_assert_eq(ik__att_gemm_bwd_floats(T, H, K, HD), 0);
    size_t nq = (size_t)T * H * HD, nk = (size_t)T * K * HD, n = nq + 2 * nk;
    float *q = rnd(nq, 4, 1.0), *k = rnd(nk, 5, 1.0), *v = rnd(nk, 6, 1.0), *dout = rnd(nq, 7, 1.0);
    float *g1 = calloc(n, sizeof(float)), *g2 = calloc(n, sizeof(float));
    double *want = malloc(n * sizeof *want);
    float *scr = malloc(sizeof(float) * (size_t)T * (2 * T + 3 * HD));
    ik_cpu_attention_bwd(g1, g1 + nq, g1 + nq + nk, dout, q, k, v, T, H, K, HD, 0, scr);
    ik__att_gemm_bwd(g2, g2 + nq, g2 + nq + nk, dout, q, k, v, T, H, K, HD, 0, scr);
    for (size_t i = 0; i < n; i++)
        want[i] = g2[i];
    close_to(g1, want, n, 1e-5, "per-head sgemm vs blocks");
    free(q), free(k), free(v), free(dout), free(g1), free(g2), free(want), free(scr);
}

/* A sequence whose probabilities pass the 64 MiB of the sgemm blocks:
 * ik_cpu_attention_bwd takes the tiles, bit for bit. */
Test(lm_kernels, attention_bwd_long_takes_tiles)
{
    enum { T = 1600, H = 8, K = 1, HD = 32 };
    cr_assert_eq(ik__att_gemm_bwd_floats(T, H, K, HD), 0);
    cr_assert_geq(ik_cpu_attention_bwd_scratch(T, H, K, HD), IK_ATT_GEMM_MAX_FLOATS);
    size_t nq = (size_t)T * H * HD, nk = (size_t)T * K * HD;
    float *q = rnd(nq, 4, 1.0), *k = rnd(nk, 5, 1.0), *v = rnd(nk, 6, 1.0), *dout = rnd(nq, 7, 1.0);
    float *g1 = calloc(nq + 2 * nk, sizeof(float)), *g2 = calloc(nq + 2 * nk, sizeof(float));
    float *scr = malloc(sizeof(float) * ik_cpu_attention_bwd_scratch(T, H, K, HD));
    ik_cpu_attention_bwd(g1, g1 + nq, g1 + nq + nk, dout, q, k, v, T, H, K, HD, 0, scr);
    ik__att_tiled_bwd(g2, g2 + nq, g2 + nq + nk, dout, q, k, v, T, H, K, HD, 0, scr);
    cr_assert_eq(memcmp(g1, g2, sizeof(float) * (nq + 2 * nk)), 0);
    free(q), free(k), free(v), free(dout), free(g1), free(g2), free(scr);
}

/* A 20,000-word vocabulary: fp32 with the blocked sum stays within 2e-6 of
 * the double-precision nll; the fused kernel gives the forward's nll bit for
 * bit and the backward's gradient in place. */
Test(lm_kernels, softmax_xent_wide_vocabulary)
{
    enum { N = 40, V = 20000 };
    float *l = rnd((size_t)N * V, 8, 8.0), *nll = malloc(sizeof(float) * N), *nll2 = malloc(sizeof(float) * N);
    float *g = malloc(sizeof(float) * N * V), *g2 = malloc(sizeof(float) * N * V);
    float dnll[N];
    int tgt[N];
    for (int n = 0; n < N; n++) {
        tgt[n] = (n * 4999) % V;
        dnll[n] = n % 7 == 3 ? 0.0f : 0.25f;
    }
    ik_cpu_softmax_xent_fwd(nll, l, tgt, N, V);
    ik_cpu_softmax_xent_bwd(g, l, tgt, dnll, N, V);
    memcpy(g2, l, sizeof(float) * N * V);
    ik_cpu_softmax_xent_fwd_bwd(nll2, g2, g2, tgt, dnll, N, V);
    cr_assert_eq(memcmp(nll, nll2, sizeof(float) * N), 0);
    cr_assert_eq(memcmp(g, g2, sizeof(float) * N * V), 0);
    double *wn = malloc(sizeof(double) * N), *wg = malloc(sizeof(double) * N * V);
    for (int n = 0; n < N; n++) {
        const float *r = l + (size_t)n * V;
        double mx = r[0], sum = 0;
        for (int v = 1; v < V; v++)
            mx = fmax(mx, r[v]);
        for (int v = 0; v < V; v++)
            sum += exp(r[v] - mx);
        wn[n] = log(sum) + mx - r[tgt[n]];
        for (int v = 0; v < V; v++)
            wg[(size_t)n * V + v] = dnll[n] * (exp(r[v] - mx) / sum - (v == tgt[n]));
    }
    close_to(nll, wn, N, 2e-6, "nll");
    close_to(g, wg, (size_t)N * V, 1e-6, "dlogits");
    free(l), free(nll), free(nll2), free(g), free(g2), free(wn), free(wg);
}

/* The first column of each row's maximum, as the scalar scan finds it, over
 * a vocabulary that is no multiple of 16: the maximum planted in the tail, in
 * the first and last columns, tied twice in one lane and across lanes, beside
 * NaNs (passed over), and rows of -inf (column 0). */
Test(lm_kernels, argmax_rows_first_of_ties)
{
    enum { N = 60, V = 20003 };
    float *x = rnd((size_t)N * V, 9, 4.0);
    int got[N];
    for (int n = 0; n < N; n++) {
        float *r = x + (size_t)n * V;
        if (n % 6 == 0) {
            r[V - 1] = r[V - 3] = 9.0f; /* in the tail: V - 3 first */
        } else if (n % 6 == 1) {
            r[0] = r[16] = 9.0f; /* one lane, twice */
        } else if (n % 6 == 2) {
            r[4000 + n] = r[17 + n] = 9.0f; /* two lanes */
        } else if (n % 6 == 3) {
            r[5] = __builtin_nanf("");
            r[6] = 9.0f;
        } else if (n % 6 == 4) {
            for (int v = 0; v < V; v++)
                r[v] = -__builtin_inff();
        }
    }
    ik_cpu_argmax_rows(got, x, N, V);
    for (int n = 0; n < N; n++) {
        const float *r = x + (size_t)n * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (r[v] > r[best] || (r[best] != r[best] && r[v] == r[v]))
                best = v;
        cr_assert_eq(got[n], best, "row %d: argmax %d, expected %d", n, got[n], best);
    }
    cr_assert_eq(got[0], V - 3);
    cr_assert_eq(got[1], 0);
    cr_assert_eq(got[2], 19);
    cr_assert_eq(got[3], 6);
    cr_assert_eq(got[4], 0);
    free(x);
}

/* The dropout mask is the documented function of (key, i), in place and
 * not, over a length with a tail past the vector loop; about p dropped. */
Test(lm_kernels, dropout_counter_based)
{
    enum { N = 100003 };
    float *x = rnd(N, 10, 1.0), *y = malloc(sizeof(float) * N), *z = malloc(sizeof(float) * N);
    const float p = 0.25f;
    const uint64_t key = 0x1234567890abcdefULL;
    memcpy(z, x, sizeof(float) * N);
    ik_cpu_dropout(y, x, N, p, key);
    ik_cpu_dropout(z, z, N, p, key);
    cr_assert_eq(memcmp(y, z, sizeof(float) * N), 0, "in place differs");
    int dropped = 0;
    for (size_t i = 0; i < N; i++) {
        uint32_t u = (uint32_t)i ^ (uint32_t)key;
        for (int round = 0; round < 2; round++) {
            u ^= u >> 16;
            u *= 0x85ebca6bu;
            u ^= u >> 13;
            u *= 0xc2b2ae35u;
            u ^= u >> 16;
            if (round == 0)
                u += (uint32_t)(key >> 32);
        }
        int drop = (double)u * 0x1.0p-32 < p;
        cr_assert_eq(y[i], drop ? 0.0f : x[i] * (1.0f / (1.0f - p)), "element %zu", i);
        dropped += drop;
    }
    cr_assert(dropped > N / 4 - 600 && dropped < N / 4 + 600, "%d of %d dropped", dropped, N);
    free(x), free(y), free(z);
}

Test(lm_kernels, swiglu_rmsnorm_rope_threaded)
{
    enum { N = 300, F = 300, C = 128, NH = 4, HD = 32 };
    size_t n = (size_t)N * F;
    float *gate = rnd(n, 9, 4.0), *up = rnd(n, 10, 1.0), *out = malloc(n * sizeof *out);
    float *dout = rnd(n, 11, 1.0), *dg = calloc(n, sizeof *dg), *du = calloc(n, sizeof *du);
    double *w1 = malloc(n * sizeof *w1), *w2 = malloc(n * sizeof *w2), *w3 = malloc(n * sizeof *w3);
    ik_cpu_swiglu_fwd(out, gate, up, N, F);
    ik_cpu_swiglu_bwd(dg, du, dout, gate, up, N, F);
    for (size_t i = 0; i < n; i++) {
        double g = gate[i], s = 1 / (1 + exp(-g));
        w1[i] = g * s * up[i];
        w2[i] = dout[i] * up[i] * s * (1 + g * (1 - s));
        w3[i] = dout[i] * g * s;
    }
    close_to(out, w1, n, 1e-6, "swiglu");
    close_to(dg, w2, n, 1e-6, "dgate");
    close_to(du, w3, n, 1e-6, "dup");

    /* RMSNorm: forward, and the backward as a directional derivative. */
    size_t m = (size_t)N * C;
    float *x = rnd(m, 12, 2.0), *w = rnd(C, 13, 1.0), *y = malloc(m * sizeof *y), *rstd = malloc(N * sizeof *rstd);
    float *dy = rnd(m, 14, 1.0), *dx = calloc(m, sizeof *dx);
    ik_cpu_rmsnorm_fwd(y, rstd, x, w, N, C, 1e-6f);
    ik_cpu_rmsnorm_bwd(dx, NULL, dy, x, rstd, w, N, C);
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        double ss = 0, dot = 0;
        for (int c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        double rs = 1 / sqrt(ss / C + 1e-6);
        for (int c = 0; c < C; c++) {
            w1[(size_t)r * C + c] = xr[c] * rs * w[c];
            dot += (double)w[c] * dy[(size_t)r * C + c] * xr[c];
        }
        for (int c = 0; c < C; c++)
            w2[(size_t)r * C + c] = rs * w[c] * dy[(size_t)r * C + c] - xr[c] * dot * rs * rs * rs / C;
    }
    close_to(y, w1, m, 1e-6, "rmsnorm");
    close_to(dx, w2, m, 1e-5, "rmsnorm dx");

    /* RoPE at positions up to 3000; its backward undoes it. */
    size_t k = (size_t)N * NH * HD;
    float *v = rnd(k, 15, 1.0), *v0 = malloc(k * sizeof *v0), inv[HD / 2];
    int pos[N];
    memcpy(v0, v, k * sizeof *v);
    for (int j = 0; j < HD / 2; j++)
        inv[j] = (float)pow(10000.0, -2.0 * j / HD);
    for (int i = 0; i < N; i++)
        pos[i] = i * 10;
    ik_cpu_rope_fwd(v, pos, inv, N, NH, HD);
    for (int i = 0; i < N; i++)
        for (int h = 0; h < NH; h++)
            for (int j = 0; j < HD / 2; j++) {
                size_t o = ((size_t)i * NH + h) * HD;
                double a = (double)pos[i] * inv[j];
                w1[o + j] = v0[o + j] * cos(a) - v0[o + j + HD / 2] * sin(a);
                w1[o + j + HD / 2] = v0[o + j + HD / 2] * cos(a) + v0[o + j] * sin(a);
            }
    close_to(v, w1, k, 1e-6, "rope");
    ik_cpu_rope_bwd(v, pos, inv, N, NH, HD);
    for (size_t i = 0; i < k; i++)
        w1[i] = v0[i];
    close_to(v, w1, k, 1e-6, "rope^-1");
    free(gate), free(up), free(out), free(dout), free(dg), free(du), free(w1), free(w2), free(w3);
    free(x), free(w), free(y), free(rstd), free(dy), free(dx), free(v), free(v0);
}

/* The LoRA branch and its backward (thin sgemm calls) at an odd rank and
 * widths, against double precision. */
Test(lm_kernels, lora_thin_products)
{
    enum { N = 250, IN = 70, OUT = 300, R = 5 };
    float *x = rnd((size_t)N * IN, 23, 1.0), *A = rnd((size_t)R * IN, 24, 0.5), *B = rnd((size_t)OUT * R, 25, 0.5);
    float *dout = rnd((size_t)N * OUT, 26, 1.0), *out = rnd((size_t)N * OUT, 27, 1.0);
    float *out0 = malloc(sizeof(float) * N * OUT), *h = malloc(sizeof(float) * N * R);
    float *dh = malloc(sizeof(float) * N * R), *dx = rnd((size_t)N * IN, 28, 1.0);
    float *dx0 = malloc(sizeof(float) * N * IN), *dA = rnd((size_t)R * IN, 29, 1.0), *dA0 = malloc(sizeof(float) * R * IN);
    float *dB = rnd((size_t)OUT * R, 30, 1.0), *dB0 = malloc(sizeof(float) * OUT * R);
    memcpy(out0, out, sizeof(float) * N * OUT);
    memcpy(dx0, dx, sizeof(float) * N * IN);
    memcpy(dA0, dA, sizeof(float) * R * IN);
    memcpy(dB0, dB, sizeof(float) * OUT * R);
    const float s = 1.5f;
    ik_cpu_lora_fwd(out, h, x, A, B, s, N, IN, OUT, R);
    ik_cpu_lora_bwd(dx, dA, dB, dh, dout, x, h, A, B, s, N, IN, OUT, R);
    double *wh = calloc((size_t)N * R, sizeof *wh), *wo = malloc(sizeof(double) * N * OUT);
    double *wdh = calloc((size_t)N * R, sizeof *wdh), *wdx = malloc(sizeof(double) * N * IN);
    double *wdA = malloc(sizeof(double) * R * IN), *wdB = malloc(sizeof(double) * OUT * R);
    for (int n = 0; n < N; n++)
        for (int r = 0; r < R; r++) {
            for (int i = 0; i < IN; i++)
                wh[n * R + r] += (double)x[n * IN + i] * A[r * IN + i];
            for (int o = 0; o < OUT; o++)
                wdh[n * R + r] += s * (double)dout[n * OUT + o] * B[o * R + r];
        }
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OUT; o++) {
            wo[n * OUT + o] = out0[n * OUT + o];
            for (int r = 0; r < R; r++)
                wo[n * OUT + o] += s * (double)h[n * R + r] * B[o * R + r];
        }
        for (int i = 0; i < IN; i++) {
            wdx[n * IN + i] = dx0[n * IN + i];
            for (int r = 0; r < R; r++)
                wdx[n * IN + i] += (double)dh[n * R + r] * A[r * IN + i];
        }
    }
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < IN; i++) {
            wdA[r * IN + i] = dA0[r * IN + i];
            for (int n = 0; n < N; n++)
                wdA[r * IN + i] += (double)dh[n * R + r] * x[n * IN + i];
        }
        for (int o = 0; o < OUT; o++) {
            wdB[o * R + r] = dB0[o * R + r];
            for (int n = 0; n < N; n++)
                wdB[o * R + r] += s * (double)dout[n * OUT + o] * h[n * R + r];
        }
    }
    close_to(h, wh, (size_t)N * R, 1e-5, "h");
    close_to(out, wo, (size_t)N * OUT, 1e-5, "out");
    close_to(dh, wdh, (size_t)N * R, 1e-5, "dh");
    close_to(dx, wdx, (size_t)N * IN, 1e-5, "dx");
    /* dA and dB are fp32 sums over the N = 250 rows of terms up to ~7 in size:
     * the worst-case rounding is ~250 * 7 * 2^-24 = 1e-4. */
    close_to(dA, wdA, (size_t)R * IN, 1e-4, "dA");
    close_to(dB, wdB, (size_t)OUT * R, 1e-4, "dB");
    free(x), free(A), free(B), free(dout), free(out), free(out0), free(h), free(dh), free(dx), free(dx0);
    free(dA), free(dA0), free(dB), free(dB0), free(wh), free(wo), free(wdh), free(wdx), free(wdA), free(wdB);
}

/* ik_cpu_gemv against double precision at widths with and without a tail
 * (In % 16) and outputs that leave a partial block of 4, with bias, alpha and
 * accumulation; and each row's bits the same alone as among N rows (what
 * makes batched decoding equal one-at-a-time decoding). */
static void gemv_case(int N, int In, int Out)
{
    if (!ik_cpu_gemv_available())
        cr_skip_test("this CPU has no FMA: ik_cpu_gemv is not used");
    float *x = rnd((size_t)N * In, 41, 1.0), *w = rnd((size_t)Out * In, 42, 0.5);
    float *bias = rnd((size_t)Out, 43, 1.0), *out = rnd((size_t)N * Out, 44, 1.0);
    float *acc = malloc(sizeof(float) * N * Out), *one = malloc(sizeof(float) * Out);
    double *want = malloc(sizeof(double) * N * Out), *want_acc = malloc(sizeof(double) * N * Out);
    memcpy(acc, out, sizeof(float) * N * Out);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Out; o++) {
            double dot = 0;
            for (int i = 0; i < In; i++)
                dot += (double)x[n * In + i] * w[o * In + i];
            want[n * Out + o] = dot + bias[o];
            want_acc[n * Out + o] = acc[n * Out + o] + 0.25 * dot;
        }
    ik_cpu_gemv(out, x, w, bias, 1.0f, 0, N, In, Out);
    ik_cpu_gemv(acc, x, w, NULL, 0.25f, 1, N, In, Out);
    close_to(out, want, (size_t)N * Out, 2e-5, "out");
    close_to(acc, want_acc, (size_t)N * Out, 2e-5, "acc");
    for (int n = 0; n < N; n++) {
        ik_cpu_gemv(one, x + (size_t)n * In, w, bias, 1.0f, 0, 1, In, Out);
        cr_assert_eq(memcmp(one, out + (size_t)n * Out, sizeof(float) * Out), 0,
                     "row %d alone differs from row %d of %d", n, n, N);
    }
    free(x), free(w), free(bias), free(out), free(acc), free(one), free(want), free(want_acc);
}

Test(lm_kernels, gemv_wide) { gemv_case(5, 896, 1000); }
Test(lm_kernels, gemv_tails) { gemv_case(16, 70, 39); }
Test(lm_kernels, gemv_one_row_narrow) { gemv_case(1, 8, 3); }

/* The pool's kernels in a fixed order, outputs appended to out (n floats). */
static size_t threaded_kernels(float *out)
{
    enum { T = 150, H = 4, K = 2, HD = 32, N = 40, V = 3000, F = 700 };
    size_t nq = (size_t)T * H * HD, nk = (size_t)T * K * HD, n = (size_t)T * F, at = 0;
    float *q = rnd(nq, 16, 1.0), *k = rnd(nk, 17, 1.0), *v = rnd(nk, 18, 1.0), *dout = rnd(nq, 19, 1.0);
    float *scr = malloc(sizeof(float) * ik_cpu_attention_bwd_scratch(T, H, K, HD));
    float *l = rnd((size_t)N * V, 20, 8.0), *gate = rnd(n, 21, 4.0), *up = rnd(n, 22, 1.0);
    float dnll[N];
    int tgt[N];
    for (int i = 0; i < N; i++) {
        tgt[i] = (i * 2999) % V;
        dnll[i] = 0.5f;
    }
    float *o = out + at;
    ik_cpu_attention_fwd(o, q, k, v, T, 0, H, K, HD, 0, scr);
    at += nq;
    memset(out + at, 0, sizeof(float) * (nq + 2 * nk));
    ik_cpu_attention_bwd(out + at, out + at + nq, out + at + nq + nk, dout, q, k, v, T, H, K, HD, 0, scr);
    at += nq + 2 * nk;
    memset(out + at, 0, sizeof(float) * (nq + 2 * nk)); /* the tiles too, with a window */
    ik__att_gemm_bwd(out + at, out + at + nq, out + at + nq + nk, dout, q, k, v, T, H, K, HD, 40, scr);
    at += nq + 2 * nk;
    memset(out + at, 0, sizeof(float) * (nq + 2 * nk));
    ik__att_tiled_bwd(out + at, out + at + nq, out + at + nq + nk, dout, q, k, v, T, H, K, HD, 40, scr);
    at += nq + 2 * nk;
    ik_cpu_dropout(out + at, gate, n, 0.1f, 99);
    at += n;
    int amax[N];
    ik_cpu_argmax_rows(amax, l, N, V);
    memcpy(out + at, amax, sizeof amax);
    at += N;
    ik_cpu_softmax_xent_fwd_bwd(out + at, l, l, tgt, dnll, N, V);
    memcpy(out + at + N, l, sizeof(float) * N * V);
    at += N + (size_t)N * V;
    ik_cpu_swiglu_fwd(out + at, gate, up, T, F);
    at += n;
    /* LoRA with rank 5 over the SwiGLU inputs: x = gate (T,F), In = F, Out = 64. */
    float *A = rnd((size_t)5 * F, 31, 0.5), *B = rnd((size_t)64 * 5, 32, 0.5), *d = rnd((size_t)T * 64, 33, 1.0);
    float *h = out + at;
    memset(out + at, 0, sizeof(float) * ((size_t)T * 64 + 2 * (size_t)T * 5 + (size_t)T * F + 5 * F + 64 * 5));
    ik_cpu_lora_fwd(out + at + T * 5, h, gate, A, B, 0.5f, T, F, 64, 5);
    at += (size_t)T * 5 + (size_t)T * 64;
    ik_cpu_lora_bwd(out + at + T * 5, out + at + T * 5 + (size_t)T * F, out + at + T * 5 + (size_t)T * F + 5 * F,
                    out + at, d, gate, h, A, B, 0.5f, T, F, 64, 5);
    at += (size_t)T * 5 + (size_t)T * F + 5 * F + 64 * 5;
    free(A), free(B), free(d);
    /* Three rows of a projection wide enough for the pool (F in, 700 out). */
    if (ik_cpu_gemv_available()) {
        float *w = rnd((size_t)F * F, 34, 0.5);
        ik_cpu_gemv(out + at, gate, w, NULL, 1.0f, 0, 3, F, F);
        at += 3 * (size_t)F;
        free(w);
    }
    free(q), free(k), free(v), free(dout), free(scr), free(l), free(gate), free(up);
    return at;
}

/* Results do not depend on the number of threads: the kernels on a pool of 3
 * threads, and again in a forked child, where every loop runs on its one
 * thread (parallel.h), give the same bits. */
Test(lm_kernels, thread_count_independent)
{
    setenv("IKADA_THREADS", "3", 1); /* read when this test process first uses the pool */
    size_t cap = 1 << 22;
    float *a = calloc(cap, sizeof *a), *b = calloc(cap, sizeof *b);
    size_t n = threaded_kernels(a);
    cr_assert_leq(n, cap);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(threaded_kernels(b) == n && memcmp(a, b, n * sizeof *a) == 0 ? 0 : 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the single-threaded child's results differ from the pool's");
    free(a), free(b);
}
