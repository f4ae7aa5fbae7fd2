/* tests/lm/lm_ref_hybrid.c - the double-precision reference forward of a
 * NemotronH model (lm_ref.h), written from the math of
 * ../shared/notes/nemotron-h.md A3 one token at a time: no kernels, no
 * chunks, the recurrence as defined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm/config.h"
#include "tests/lm/lm_ref.h"

static double silu(double v) { return v / (1 + exp(-v)); }

/* The Mamba-2 mixer of layer l over T rows of xn (T, D) into out (T, D). */
static void mamba(const struct lmt_ref *R, int l, const double *xn, int T, double *out)
{
    const struct ik_lm_config *c = &R->m->cfg;
    const struct ik_lm_layer *y = &R->m->layers[l];
    int D = c->D, nh = c->ssm.heads, P = c->ssm.head_dim, G = c->ssm.groups, N = c->ssm.state;
    int Kc = c->ssm.conv_kernel, inner = nh * P, conv = inner + 2 * G * N, in = inner + conv + nh;
    double *zx = malloc(sizeof(double) * (size_t)T * in), *act = malloc(sizeof(double) * conv);
    double *S = calloc((size_t)nh * P * N, sizeof *S), *yv = malloc(sizeof(double) * inner);
    for (int t = 0; t < T; t++)
        lmt_ref_proj(R, l, IK_LORA_IN, t, zx + (size_t)t * in, xn + (size_t)t * D, y->ssm_in, NULL, D, in);
    for (int t = 0; t < T; t++) {
        const double *row = zx + (size_t)t * in;
        /* Causal conv over the xBC columns, zeros before the first token. */
        for (int ch = 0; ch < conv; ch++) {
            double a = y->conv_b ? y->conv_b[ch] : 0;
            for (int k = 0; k < Kc; k++) {
                int j = t - (Kc - 1) + k;
                if (j >= 0)
                    a += (double)y->conv_w[(size_t)ch * Kc + k] * zx[(size_t)j * in + inner + ch];
            }
            act[ch] = silu(a);
        }
        const double *x = act, *B = act + inner, *Cm = B + G * N;
        for (int h = 0; h < nh; h++) {
            int g = h / (nh / G);
            double v = row[inner + conv + h] + y->dt_bias[h];
            double dt = fmax(v > 20 ? v : log1p(exp(v)), R->dt_min), A = -exp((double)y->A_log[h]);
            double dA = exp(dt * A);
            for (int p = 0; p < P; p++) {
                double s = 0, xp = x[h * P + p];
                for (int n = 0; n < N; n++) {
                    double *st = &S[((size_t)h * P + p) * N + n];
                    *st = *st * dA + dt * xp * B[g * N + n];
                    s += *st * Cm[g * N + n];
                }
                yv[h * P + p] = s + y->ssm_D[h] * xp;
            }
        }
        /* Gated RMSNorm per group of inner/G channels. */
        int cg = inner / G;
        for (int g = 0; g < G; g++) {
            double ss = 0;
            for (int i = g * cg; i < (g + 1) * cg; i++) {
                yv[i] *= silu(row[i]);
                ss += yv[i] * yv[i];
            }
            double r = 1 / sqrt(ss / cg + c->norm_eps);
            for (int i = g * cg; i < (g + 1) * cg; i++)
                yv[i] *= r * y->ssm_norm[i];
        }
        lmt_ref_proj(R, l, IK_LORA_OUT, t, out + (size_t)t * D, yv, y->ssm_out, NULL, inner, D);
    }
    free(zx), free(act), free(S), free(yv);
}

/* Attention without RoPE of layer l. */
static void attention(const struct lmt_ref *R, int l, const double *xn, int T, double *out)
{
    const struct ik_lm_config *c = &R->m->cfg;
    const struct ik_lm_layer *y = &R->m->layers[l];
    int D = c->D, qw = c->H * c->head_dim, kw = c->K * c->head_dim;
    double *q = calloc((size_t)T * qw, sizeof(double)), *k = calloc((size_t)T * kw, sizeof(double));
    double *v = calloc((size_t)T * kw, sizeof(double)), *att = malloc(sizeof(double) * (size_t)T * qw);
    for (int t = 0; t < T; t++) {
        lmt_ref_proj(R, l, IK_LORA_Q, t, q + (size_t)t * qw, xn + (size_t)t * D, y->wq, NULL, D, qw);
        lmt_ref_proj(R, l, IK_LORA_K, t, k + (size_t)t * kw, xn + (size_t)t * D, y->wk, NULL, D, kw);
        lmt_ref_proj(R, l, IK_LORA_V, t, v + (size_t)t * kw, xn + (size_t)t * D, y->wv, NULL, D, kw);
    }
    lmt_ref_attend(c, q, k, v, T, att);
    for (int t = 0; t < T; t++)
        lmt_ref_proj(R, l, IK_LORA_O, t, out + (size_t)t * D, att + (size_t)t * qw, y->wo, NULL, qw, D);
    free(q), free(k), free(v), free(att);
}

/* up -> relu^2 -> down of layer l. */
static void mlp(const struct lmt_ref *R, int l, const double *xn, int T, double *out)
{
    const struct ik_lm_config *c = &R->m->cfg;
    const struct ik_lm_layer *y = &R->m->layers[l];
    double *u = malloc(sizeof(double) * c->F);
    for (int t = 0; t < T; t++) {
        lmt_ref_proj(R, l, IK_LORA_UP, t, u, xn + (size_t)t * c->D, y->w_up, NULL, c->D, c->F);
        for (int i = 0; i < c->F; i++)
            u[i] = u[i] > 0 ? u[i] * u[i] : 0;
        lmt_ref_proj(R, l, IK_LORA_DOWN, t, out + (size_t)t * c->D, u, y->w_down, NULL, c->F, c->D);
    }
    free(u);
}

void lmt_ref_hybrid_logits(const struct lmt_ref *R, const int *tok, int T, double *logits)
{
    const struct ik_lm_model *m = R->m;
    const struct ik_lm_config *c = &m->cfg;
    size_t TD = (size_t)T * c->D;
    double *x = malloc(sizeof(double) * TD), *xn = malloc(sizeof(double) * TD);
    double *o = malloc(sizeof(double) * TD);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < c->D; i++)
            x[(size_t)t * c->D + i] = m->embed[(size_t)tok[t] * c->D + i];
    for (int l = 0; l < c->L; l++) {
        for (int t = 0; t < T; t++)
            lmt_ref_norm(xn + (size_t)t * c->D, x + (size_t)t * c->D, m->layers[l].attn_norm, c->D,
                         c->norm_eps);
        int b = m->layers[l].block;
        (b == IK_LM_BLOCK_MAMBA ? mamba : b == IK_LM_BLOCK_ATTN ? attention : mlp)(R, l, xn, T, o);
        for (size_t i = 0; i < TD; i++)
            x[i] += o[i];
    }
    lmt_ref_head(m, x, T, logits);
    free(x), free(xn), free(o);
}
