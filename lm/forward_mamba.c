/* lm/forward_mamba.c - NemotronH's Mamba-2 mixer (issue 17; the steps of
 * ../shared/notes/nemotron-h.md A3): in_proj into z | xBC | dt, the causal
 * depthwise conv1d with bias and SiLU on xBC, dt = softplus(dt + dt_bias)
 * without a clamp (as llama.cpp and the CUDA kernels; transformers' CPU path
 * clamps dt >= time_step_min when scoring a prompt but not when decoding),
 * A = -exp(A_log), the selective scan with the D skip, the gated RMSNorm
 * per group, out_proj. The projections are shared by every row of the
 * batch; the conv and the scan run per sequence on its own state. A run of
 * rows long enough goes through the chunked (SSD) scan, which the CPU runs
 * faster; decoding steps through the recurrence. */
#include <math.h>
#include <stddef.h>

#include "kernels/dispatch.h"
#include "lm/forward_int.h"

/* Rows from which a sequence's scan takes the chunked form. bench/ssm_bench
 * at Nemotron-Nano-9B-v2's layer shape on a 2-core Xeon (AVX-512): a single
 * row steps 1.3-1.5x faster one at a time; from 4 rows on the chunks' GEMMs
 * win, by 1.1-1.8x (a loaded machine; the figures moved by 2x between runs). */
enum { SSD_MIN_ROWS = 4 };

/* llama.cpp's softplus (ggml_softplus): the identity above 20, where
 * log1p(exp(x)) equals x in fp32. */
static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* w->A = -exp(A_log) and, for each of the T rows of in_proj's output,
 * w->dt = softplus(dt + dt_bias), unclamped. */
static void dt_and_A(struct ik_lm_state *w, const struct ik_lm_layer *y, int T)
{
    const struct ik_lm_config *c = &w->m->cfg;
    int nh = c->ssm.heads, in_dim = ik_lm_ssm_in_dim(c), at = in_dim - nh; /* dt: the last nh */
    for (int h = 0; h < nh; h++)
        w->A[h] = -expf(y->A_log[h]);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++)
            w->dt[(size_t)t * nh + h] = softplus(w->zxbcdt[(size_t)t * in_dim + at + h] + y->dt_bias[h]);
}

void ik_lm_mamba_mixer(struct ik_lm_state *w, struct ik_lm_state *const *seq, const int *len,
                       int nseq, int l, int T)
{
    const struct ik_lm_config *c = &w->m->cfg;
    const struct ik_lm_layer *y = &w->m->layers[l];
    int nh = c->ssm.heads, P = c->ssm.head_dim, G = c->ssm.groups, N = c->ssm.state;
    int Kc = c->ssm.conv_kernel, inner = ik_lm_ssm_inner(c), conv = ik_lm_ssm_conv_dim(c);
    int in_dim = ik_lm_ssm_in_dim(c);
    ik_lm_proj(w, l, IK_LORA_IN, w->zxbcdt, w->xn, y->ssm_in, NULL, T, c->D, in_dim);
    dt_and_A(w, y, T);
    size_t conv_st = (size_t)(Kc - 1) * conv, ssm_st = (size_t)nh * P * N;
    for (int i = 0, t0 = 0; i < nseq; t0 += len[i++])
        ik_conv1d_fwd(w->xbc + (size_t)t0 * conv, seq[i]->conv_st + y->slot * conv_st,
                      w->zxbcdt + (size_t)t0 * in_dim + inner, in_dim, y->conv_w, y->conv_b, len[i],
                      conv, Kc);
    ik_silu_fwd(w->xbc, w->xbc, (size_t)T * conv);
    for (int i = 0, t0 = 0; i < nseq; t0 += len[i++]) {
        const float *x = w->xbc + (size_t)t0 * conv, *B = x + inner, *C = B + (size_t)G * N;
        float *out = w->yssm + (size_t)t0 * inner, *st = seq[i]->ssm_st + y->slot * ssm_st;
        const float *dt = w->dt + (size_t)t0 * nh;
        if (w->ssd && len[i] >= SSD_MIN_ROWS)
            ik_ssm_chunked_fwd(out, st, x, B, C, conv, dt, w->A, y->ssm_D, len[i], nh, P, G, N,
                               c->ssm.chunk < w->C ? c->ssm.chunk : w->C, w->ssd);
        else
            ik_ssm_scan_fwd(out, st, x, B, C, conv, dt, w->A, y->ssm_D, len[i], nh, P, G, N);
    }
    ik_rmsnorm_gated_fwd(w->yssm, w->yssm, w->zxbcdt, in_dim, y->ssm_norm, T, inner, G, c->norm_eps);
    ik_lm_proj(w, l, IK_LORA_OUT, w->proj, w->yssm, y->ssm_out, NULL, T, inner, c->D);
}
