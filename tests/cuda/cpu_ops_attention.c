/* tests/cuda/cpu_ops_attention.c - the CPU stand-in's attention entries
 * (tests/cuda/cpu_ops.c holds the table): the module's own attention, cuDNN's
 * fused one and the flash kernels, each the CPU reference behind the
 * module's argument checks and refusals, with the module's scratch figures;
 * cuDNN's and flash's on BF16-rounded operands, as the device rounds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attention_chunks.h"
#include "kernels/cuda/scratch.h"
#include "kernels/kernels.h"
#include "tests/cuda/cpu_ops.h"
#include "tests/cuda/cpu_ops_int.h"

/* ---- attention: the references, with scratch of their own ---- */

/* The module's figure, so callers size their buffers as they would for it. */
size_t ik_test_cpu_attention_scratch(int T, int H, int K)
{
    (void)H;
    return ik_att_scratch_floats(T, K) * sizeof(float);
}

/* The module's check, then the CPU's scratch (the caller's is ignored). */
static float *attention_begin(const char *what, int T, int H, int K, int hd)
{
    if (T < 0 || H <= 0 || K <= 0 || hd <= 0 || H % K != 0) {
        ik_test_cpu_fail(what, "T %d, H %d, K %d, hd %d (H a multiple of K expected)", T, H, K, hd);
        return NULL;
    }
    float *s = malloc(ik_cpu_attention_bwd_scratch(T, H, K, hd) * sizeof(float) + 1);
    if (s == NULL)
        ik_test_cpu_fail(what, "out of memory (scratch for T %d)", T);
    return s;
}

int ik_test_cpu_attention_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                         int K, int hd, int window, void *scratch)
{
    (void)scratch;
    float *s = attention_begin("attention_fwd", T, H, K, hd);
    if (s == NULL)
        return -1;
    if (T > 0)
        ik_cpu_attention_seq_fwd(out, q, k, v, T, H, K, hd, window, s);
    free(s);
    return 0;
}

int ik_test_cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                         const float *k, const float *v, int T, int H, int K, int hd, int window,
                         void *scratch)
{
    (void)scratch;
    float *s = attention_begin("attention_bwd", T, H, K, hd);
    if (s == NULL)
        return -1;
    if (T > 0)
        ik_cpu_attention_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, s);
    free(s);
    return 0;
}

/* ---- cuDNN's attention: the references on BF16-rounded operands ---- */

/* The module's refusals (attention_cudnn.cu's check_args), same text. With
 * IKADA_TEST_NO_SDPA=1 in the environment the stand-in plays a machine
 * without cuDNN, for tests of a caller's refusal. */
static int sdpa_args(const char *what, int T, int H, int K, int hd, int window)
{
    if (T < 0 || H <= 0 || K <= 0 || hd <= 0 || H % K != 0 || window < 0)
        return ik_test_cpu_fail(what, "T %d, H %d, K %d, hd %d, window %d (H a multiple of K, window >= 0 "
                    "expected)", T, H, K, hd, window);
    if (hd % 8 != 0)
        return ik_test_cpu_fail(what, "cuDNN attention needs hd a multiple of 8, got %d", hd);
    const char *off = getenv("IKADA_TEST_NO_SDPA");
    if (off != NULL && strcmp(off, "1") == 0)
        return ik_test_cpu_fail(what, "cuDNN: none on the CPU stand-in (IKADA_TEST_NO_SDPA=1)");
    return 0;
}

int ik_test_cpu_sdpa_available(int T, int H, int K, int hd, int window)
{
    return sdpa_args("sdpa_available", T, H, K, hd, window) == 0;
}

/* The module's figure (scratch.h: BF16 copies, stats, row sums and dq
 * accumulator, for T padded to its bucket); the stand-in pads nothing, as
 * padding changes no result. */
size_t ik_test_cpu_sdpa_scratch(int T, int H, int K, int hd)
{
    return ik_sdpa_scratch_bytes(T, H, K, hd);
}

/* A BF16-rounded copy of n floats (what the module hands cuDNN). */
static float *bf16_copy(const float *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    if (y != NULL)
        for (size_t i = 0; i < n; i++)
            y[i] = ik_test_bf16_to_float(ik_test_bf16_from_float(x[i]));
    return y;
}

static void bf16_round(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = ik_test_bf16_to_float(ik_test_bf16_from_float(x[i]));
}

/* stats (H, T): per head and row, the logsumexp of the scaled scores the
 * row sees (causal, the window), in fp32 as cuDNN's softmax statistics. */
static void lse_rows(float *stats, const float *q, const float *k, int T, int H, int K, int hd,
                     int window)
{
    float scale = 1.0f / sqrtf((float)hd);
    int G = H / K;
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            int lo = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
            const float *qr = q + ((size_t)t * H + h) * hd;
            float m = -INFINITY, sum = 0.0f;
            for (int pass = 0; pass < 2; pass++)
                for (int j = lo; j <= t; j++) {
                    const float *kr = k + ((size_t)j * K + h / G) * hd;
                    float dot = 0.0f;
                    for (int i = 0; i < hd; i++)
                        dot += qr[i] * kr[i];
                    if (pass == 0)
                        m = fmaxf(m, scale * dot);
                    else
                        sum += expf(scale * dot - m);
                }
            stats[(size_t)h * T + t] = m + logf(sum);
        }
}

/* The fused attentions' forward: the reference on BF16-rounded q, k, v, and
 * the rows' logsumexps; out rounded to BF16 too when round_out (cuDNN's O). */
static int fused_fwd(const char *what, int round_out, float *out, float *stats, const float *q,
                     const float *k, const float *v, int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *bq = bf16_copy(q, nq), *bk = bf16_copy(k, nk), *bv = bf16_copy(v, nk);
    float *s = attention_begin(what, T, H, K, hd);
    int rc = 0;
    if (bq == NULL || bk == NULL || bv == NULL || s == NULL)
        rc = s == NULL ? -1 : ik_test_cpu_fail(what, "out of memory (T %d)", T);
    else if (T > 0) {
        ik_cpu_attention_seq_fwd(out, bq, bk, bv, T, H, K, hd, window, s);
        if (round_out)
            bf16_round(out, nq);
        lse_rows(stats, bq, bk, T, H, K, hd, window);
    }
    free(bq), free(bk), free(bv), free(s);
    return rc;
}

/* The fused attentions' backward: each gradient formed from zero on
 * BF16-rounded operands (rounded to BF16 itself when round_grads: cuDNN's
 * dQ, dK, dV) and added. The reference recomputes the probabilities, so out
 * is not read; stats are, and must be the bits the forward wrote for these
 * q and k (else the call fails): a caller that hands stats of another layer
 * or step is caught here. */
static int fused_bwd(const char *what, int round_grads, float *dq, float *dk, float *dv,
                     const float *dout, const float *stats, const float *q, const float *k,
                     const float *v, int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd, nh = (size_t)H * T;
    float *bq = bf16_copy(q, nq), *bk = bf16_copy(k, nk), *bv = bf16_copy(v, nk);
    float *bd = bf16_copy(dout, nq), *g = calloc(nq + 2 * nk + nh + 1, sizeof *g);
    float *s = attention_begin(what, T, H, K, hd);
    int rc = 0;
    if (bq == NULL || bk == NULL || bv == NULL || bd == NULL || g == NULL || s == NULL)
        rc = s == NULL ? -1 : ik_test_cpu_fail(what, "out of memory (T %d)", T);
    else if (T > 0 && (lse_rows(g + nq + 2 * nk, bq, bk, T, H, K, hd, window),
                       memcmp(g + nq + 2 * nk, stats, nh * sizeof *g) != 0))
        rc = ik_test_cpu_fail(what, "stats are not its forward's of these q, k (T %d)", T);
    else if (T > 0) {
        float *gq = g, *gk = g + nq, *gv = g + nq + nk;
        ik_cpu_attention_bwd(gq, gk, gv, bd, bq, bk, bv, T, H, K, hd, window, s);
        if (round_grads)
            bf16_round(g, nq + 2 * nk);
        for (size_t i = 0; i < nq; i++)
            dq[i] += gq[i];
        for (size_t i = 0; i < nk; i++)
            dk[i] += gk[i], dv[i] += gv[i];
    }
    free(bq), free(bk), free(bv), free(bd), free(g), free(s);
    return rc;
}

int ik_test_cpu_sdpa_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                    int T, int H, int K, int hd, int window, void *scratch)
{
    (void)scratch;
    if (sdpa_args("sdpa_fwd", T, H, K, hd, window))
        return -1;
    return fused_fwd("sdpa_fwd", 1, out, stats, q, k, v, T, H, K, hd, window);
}

int ik_test_cpu_sdpa_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                    const float *stats, const float *q, const float *k, const float *v, int T,
                    int H, int K, int hd, int window, void *scratch)
{
    (void)scratch, (void)out;
    if (sdpa_args("sdpa_bwd", T, H, K, hd, window))
        return -1;
    return fused_bwd("sdpa_bwd", 1, dq, dk, dv, dout, stats, q, k, v, T, H, K, hd, window);
}

/* ---- the module's flash attention: the references on BF16-rounded
 * operands, fp32 results (the kernels' own rounding of P and dS is theirs) ---- */

int ik_test_cpu_flash_supports(int H, int K, int hd)
{
    return H > 0 && K > 0 && H % K == 0 && hd > 0 && hd % 8 == 0 && hd <= 128;
}

size_t ik_test_cpu_flash_scratch(int T, int H) { return ik_flash_scratch_bytes(T, H); }

/* The module's refusals (attention_flash.cu's flash_shape), same text. */
static int flash_args(const char *what, int T, int H, int K, int hd, const float *const *ptrs, int n)
{
    if (T < 0 || !ik_test_cpu_flash_supports(H, K, hd))
        return ik_test_cpu_fail(what, "T %d, H %d, K %d, hd %d (expected H a multiple of K, hd a multiple of 8 "
                    "up to 128)", T, H, K, hd);
    for (int i = 0; i < n; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0)
            return ik_test_cpu_fail(what, "tensor %p is not 16-byte aligned (q, k, v, dout must be)",
                        (const void *)ptrs[i]);
    return 0;
}

int ik_test_cpu_flash_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                     int T, int H, int K, int hd, int window, void *scratch)
{
    (void)scratch;
    const float *loaded[] = {q, k, v};
    if (flash_args("flash_fwd", T, H, K, hd, loaded, 3))
        return -1;
    return fused_fwd("flash_fwd", 0, out, stats, q, k, v, T, H, K, hd, window);
}

int ik_test_cpu_flash_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                     const float *stats, const float *q, const float *k, const float *v, int T,
                     int H, int K, int hd, int window, void *scratch)
{
    (void)scratch, (void)out;
    const float *loaded[] = {q, k, v, dout};
    if (flash_args("flash_bwd", T, H, K, hd, loaded, 4))
        return -1;
    return fused_bwd("flash_bwd", 0, dq, dk, dv, dout, stats, q, k, v, T, H, K, hd, window);
}
