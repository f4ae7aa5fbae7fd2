/* tests/lm/lm_ref.c - the double-precision reference forward (lm_ref.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lm/lm_ref.h"

void lmt_ref_norm(double *out, const double *x, const float *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * r * w[i];
}

void lmt_ref_proj(const struct lmt_ref *R, int l, int tg, int t, double *out, const double *x,
                  const float *w, const float *b, int in, int o)
{
    for (int i = 0; i < o; i++) {
        double s = b ? b[i] : 0;
        for (int j = 0; j < in; j++)
            s += (double)w[(size_t)i * in + j] * x[j];
        out[i] = s;
    }
    const struct ik_lora_module *md = R->a ? &R->a->mod[l * IK_LORA_NT + tg] : NULL;
    if (md == NULL || md->A == NULL)
        return;
    int r = R->a->cfg.r;
    const float *mk = R->mask && R->mask[l * IK_LORA_NT + tg] ? R->mask[l * IK_LORA_NT + tg] + (size_t)t * in : NULL;
    for (int k = 0; k < r; k++) {
        double h = 0;
        for (int j = 0; j < in; j++)
            h += (double)md->A[(size_t)k * in + j] * x[j] * (mk ? mk[j] : 1.0);
        for (int i = 0; i < o; i++)
            out[i] += (double)R->a->scale * md->B[(size_t)i * r + k] * h;
    }
}

static void ref_rope(double *v, int pos, const float *inv_freq, int hd)
{
    for (int j = 0; j < hd / 2; j++) {
        double a = pos * (double)inv_freq[j], x0 = v[j], x1 = v[j + hd / 2];
        v[j] = x0 * cos(a) - x1 * sin(a);
        v[j + hd / 2] = x1 * cos(a) + x0 * sin(a);
    }
}

void lmt_ref_attend(const struct ik_lm_config *c, const double *q, const double *k, const double *v,
                    int T, double *att)
{
    int hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    double *sc = malloc(sizeof(double) * T);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < c->H; h++) {
            int kh = h / (c->H / c->K);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                sc[j] = -INFINITY;
                if (c->sliding_window && t - j >= c->sliding_window)
                    continue;
                double s = 0;
                for (int e = 0; e < hd; e++)
                    s += q[(size_t)t * qw + h * hd + e] * k[(size_t)j * kw + kh * hd + e];
                sc[j] = s / sqrt(hd);
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j <= t; j++)
                sum += sc[j] = exp(sc[j] - mx);
            for (int e = 0; e < hd; e++) {
                double a = 0;
                for (int j = 0; j <= t; j++)
                    a += sc[j] / sum * v[(size_t)j * kw + kh * hd + e];
                att[(size_t)t * qw + h * hd + e] = a;
            }
        }
    free(sc);
}

void lmt_ref_head(const struct ik_lm_model *m, const double *x, int T, double *logits)
{
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D;
    double *xn = malloc(sizeof(double) * D);
    for (int t = 0; t < T; t++) {
        lmt_ref_norm(xn, x + (size_t)t * D, m->final_norm, D, c->norm_eps);
        for (int i = 0; i < c->V; i++) {
            double s = 0;
            for (int j = 0; j < D; j++)
                s += (double)m->lm_head[(size_t)i * D + j] * xn[j];
            logits[(size_t)t * c->V + i] = s;
        }
    }
    free(xn);
}

void lmt_ref_logits(const struct lmt_ref *R, const int *tok, int T, double *logits)
{
    if (R->m->cfg.arch == IK_LM_NEMOTRON_H) {
        lmt_ref_hybrid_logits(R, tok, T, logits);
        return;
    }
    const struct ik_lm_model *m = R->m;
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    double *x = calloc((size_t)T * D, sizeof *x), *xn = malloc(sizeof(double) * (size_t)(D > F ? D : F));
    double *q = calloc((size_t)T * qw, sizeof(double)), *k = calloc((size_t)T * kw, sizeof(double));
    double *v = calloc((size_t)T * kw, sizeof(double)), *att = malloc(sizeof(double) * (size_t)T * qw);
    double *g = malloc(sizeof(double) * F), *u = malloc(sizeof(double) * F), *o = malloc(sizeof(double) * D);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++)
            x[(size_t)t * D + i] = m->embed[(size_t)tok[t] * D + i];
    for (int l = 0; l < c->L; l++) {
        const struct ik_lm_layer *y = &m->layers[l];
        for (int t = 0; t < T; t++) {
            lmt_ref_norm(xn, x + (size_t)t * D, y->attn_norm, D, c->norm_eps);
            lmt_ref_proj(R, l, IK_LORA_Q, t, q + (size_t)t * qw, xn, y->wq, y->bq, D, qw);
            lmt_ref_proj(R, l, IK_LORA_K, t, k + (size_t)t * kw, xn, y->wk, y->bk, D, kw);
            lmt_ref_proj(R, l, IK_LORA_V, t, v + (size_t)t * kw, xn, y->wv, y->bv, D, kw);
            for (int h = 0; h < c->H; h++) {
                double *qh = q + (size_t)t * qw + h * hd;
                if (y->q_norm)
                    lmt_ref_norm(qh, qh, y->q_norm, hd, c->norm_eps);
                ref_rope(qh, t, m->inv_freq, hd);
            }
            for (int h = 0; h < c->K; h++) {
                double *kh = k + (size_t)t * kw + h * hd;
                if (y->k_norm)
                    lmt_ref_norm(kh, kh, y->k_norm, hd, c->norm_eps);
                ref_rope(kh, t, m->inv_freq, hd);
            }
        }
        lmt_ref_attend(c, q, k, v, T, att);
        for (int t = 0; t < T; t++) {
            double *xt = x + (size_t)t * D;
            lmt_ref_proj(R, l, IK_LORA_O, t, o, att + (size_t)t * qw, y->wo, y->bo, qw, D);
            for (int i = 0; i < D; i++)
                xt[i] += o[i];
            lmt_ref_norm(xn, xt, y->ffn_norm, D, c->norm_eps);
            lmt_ref_proj(R, l, IK_LORA_GATE, t, g, xn, y->w_gate, NULL, D, F);
            lmt_ref_proj(R, l, IK_LORA_UP, t, u, xn, y->w_up, NULL, D, F);
            for (int i = 0; i < F; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            lmt_ref_proj(R, l, IK_LORA_DOWN, t, o, g, y->w_down, NULL, F, D);
            for (int i = 0; i < D; i++)
                xt[i] += o[i];
        }
    }
    lmt_ref_head(m, x, T, logits);
    free(x), free(xn), free(q), free(k), free(v), free(att), free(g), free(u), free(o);
}
