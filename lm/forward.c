/* lm/forward.c - the CPU forward pass with a KV cache, greedy decoding
 * and teacher-forced scoring (see model.h). Each chunk of tokens goes through
 * the layers as whole matrices, so the projections are sgemm calls; the
 * attention reads the cache, which holds K and V after RoPE. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/dispatch.h"
#include "lm/lora.h"
#include "lm/model.h"

struct ik_lm_state {
    const struct ik_lm_model *m;
    int S, C;    /* cache positions, chunk rows */
    int pos;     /* positions cached so far */
    float *kc, *vc; /* (L, S, K*hd) each */
    float *x, *xn;  /* (C, D) residual stream, normed input */
    float *q, *k, *v, *att; /* (C, H*hd), (C, K*hd) x2, (C, H*hd) */
    float *proj;    /* (C, D) */
    float *gate, *up; /* (C, F) */
    float *scores;  /* (min(C, IK_ATT_ROWS) * S) attention scratch */
    float *logits;  /* (V) last position */
    int *posv;      /* (C) */
    const struct ik_lora *ad; /* borrowed adapter, or NULL */
    float *lh;      /* (C, r) the adapter's bottleneck */
    float *mem;     /* private: the one allocation */
};

int ik_lm_state_new(struct ik_lm_state **out, const struct ik_lm_model *m, int max_seq,
                    int max_chunk, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    if (max_seq <= 0 || max_chunk <= 0)
        return ik_diag_set(d, IK_EVALIDATE, "state needs max_seq > 0 and max_chunk > 0");
    struct ik_lm_state *s = ik_xcalloc(1, sizeof *s);
    s->m = m;
    s->S = max_seq;
    s->C = max_chunk < max_seq ? max_chunk : max_seq;
    size_t S = (size_t)s->S, C = (size_t)s->C, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    size_t sizes[] = {(size_t)c->L * S * kw, (size_t)c->L * S * kw, C * c->D, C * c->D, C * qw, C * kw,
                      C * kw, C * qw, C * c->D, C * c->F, C * c->F,
                      (C < IK_ATT_ROWS ? C : IK_ATT_ROWS) * S, (size_t)c->V};
    float **ptrs[] = {&s->kc, &s->vc, &s->x, &s->xn, &s->q, &s->k, &s->v, &s->att, &s->proj,
                      &s->gate, &s->up, &s->scores, &s->logits};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    s->mem = malloc(total * sizeof(float));
    if (s->mem == NULL) {
        free(s);
        return ik_diag_set(d, -ENOMEM, "inference state for %d positions needs %.2f GiB, which could "
                           "not be allocated", max_seq, (double)total * sizeof(float) / (1 << 30));
    }
    total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = s->mem + total;
        total += sizes[i];
    }
    s->posv = ik_xmalloc(C * sizeof *s->posv);
    *out = s;
    return 0;
}

void ik_lm_state_free(struct ik_lm_state *s)
{
    if (s == NULL)
        return;
    free(s->mem);
    free(s->posv);
    free(s->lh);
    free(s);
}

void ik_lm_state_reset(struct ik_lm_state *s) { s->pos = 0; }

int ik_lm_state_pos(const struct ik_lm_state *s) { return s->pos; }

int ik_lm_state_capacity(const struct ik_lm_state *s) { return s->S; }

const struct ik_lm_config *ik_lm_state_config(const struct ik_lm_state *s) { return &s->m->cfg; }

const float *ik_lm_state_logits(const struct ik_lm_state *s) { return s->logits; }

int ik_lm_state_set_adapter(struct ik_lm_state *s, const struct ik_lora *a, struct ik_diag *d)
{
    if (a && a->L != s->m->cfg.L)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter has %d layers but the model %d", a->L,
                           s->m->cfg.L);
    const struct ik_lm_config *c = &s->m->cfg;
    if (a && (a->mod[IK_LORA_Q].in != c->D || a->mod[IK_LORA_Q].out != c->H * c->head_dim ||
              a->mod[IK_LORA_K].out != c->K * c->head_dim || a->mod[IK_LORA_GATE].out != c->F))
        return ik_diag_set(d, IK_EVALIDATE, "the adapter was made for another model shape "
                           "(q_proj %d -> %d, gate_proj -> %d; the model has %d -> %d, -> %d)",
                           a->mod[IK_LORA_Q].in, a->mod[IK_LORA_Q].out, a->mod[IK_LORA_GATE].out, c->D,
                           c->H * c->head_dim, c->F);
    free(s->lh);
    s->lh = a ? ik_xmalloc((size_t)s->C * a->cfg.r * sizeof *s->lh) : NULL;
    s->ad = a;
    return 0;
}

/* out = x @ w^T + b, plus the adapter's branch (no dropout: inference). */
static void proj(struct ik_lm_state *s, int l, int t, float *out, const float *x, const float *w,
                 const float *b, int T, int In, int Out)
{
    ik_matmul_fwd(out, x, w, b, T, In, Out);
    const struct ik_lora_module *md = s->ad ? &s->ad->mod[l * IK_LORA_NT + t] : NULL;
    if (md && md->A)
        ik_lora_fwd(out, s->lh, x, md->A, md->B, s->ad->scale, T, In, Out, s->ad->cfg.r);
}

/* One chunk of T <= C tokens at positions s->pos.. ; logits: (T,V) or NULL. */
static void forward_chunk(struct ik_lm_state *s, const int *tokens, int T, float *logits)
{
    const struct ik_lm_model *m = s->m;
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D, F = c->F, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    for (int t = 0; t < T; t++) {
        memcpy(s->x + (size_t)t * D, m->embed + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
        s->posv[t] = s->pos + t;
    }
    for (int l = 0; l < c->L; l++) {
        const struct ik_lm_layer *y = &m->layers[l];
        float *kc = s->kc + (size_t)l * s->S * kw, *vc = s->vc + (size_t)l * s->S * kw;
        ik_rmsnorm_fwd(s->xn, NULL, s->x, y->attn_norm, T, D, c->norm_eps);
        proj(s, l, IK_LORA_Q, s->q, s->xn, y->wq, y->bq, T, D, qw);
        proj(s, l, IK_LORA_K, s->k, s->xn, y->wk, y->bk, T, D, kw);
        proj(s, l, IK_LORA_V, vc + (size_t)s->pos * kw, s->xn, y->wv, y->bv, T, D, kw);
        if (y->q_norm) {
            ik_rmsnorm_fwd(s->q, NULL, s->q, y->q_norm, T * c->H, hd, c->norm_eps);
            ik_rmsnorm_fwd(s->k, NULL, s->k, y->k_norm, T * c->K, hd, c->norm_eps);
        }
        ik_rope_fwd(s->q, s->posv, m->inv_freq, T, c->H, hd);
        ik_rope_fwd(s->k, s->posv, m->inv_freq, T, c->K, hd);
        memcpy(kc + (size_t)s->pos * kw, s->k, (size_t)T * kw * sizeof(float));
        ik_attention_fwd(s->att, s->q, kc, vc, T, s->pos, c->H, c->K, hd, c->sliding_window,
                         s->scores);
        proj(s, l, IK_LORA_O, s->proj, s->att, y->wo, y->bo, T, qw, D);
        for (size_t i = 0; i < (size_t)T * D; i++)
            s->x[i] += s->proj[i];
        ik_rmsnorm_fwd(s->xn, NULL, s->x, y->ffn_norm, T, D, c->norm_eps);
        proj(s, l, IK_LORA_GATE, s->gate, s->xn, y->w_gate, NULL, T, D, F);
        proj(s, l, IK_LORA_UP, s->up, s->xn, y->w_up, NULL, T, D, F);
        ik_swiglu_fwd(s->gate, s->gate, s->up, T, F);
        proj(s, l, IK_LORA_DOWN, s->proj, s->gate, y->w_down, NULL, T, F, D);
        for (size_t i = 0; i < (size_t)T * D; i++)
            s->x[i] += s->proj[i];
    }
    if (logits) {
        ik_rmsnorm_fwd(s->xn, NULL, s->x, m->final_norm, T, D, c->norm_eps);
        ik_matmul_fwd(logits, s->xn, m->lm_head, NULL, T, D, c->V);
        memcpy(s->logits, logits + (size_t)(T - 1) * c->V, (size_t)c->V * sizeof(float));
    } else {
        /* Only the last row's logits are wanted: skip the (T,V) product. */
        ik_rmsnorm_fwd(s->xn, NULL, s->x + (size_t)(T - 1) * D, m->final_norm, 1, D, c->norm_eps);
        ik_matmul_fwd(s->logits, s->xn, m->lm_head, NULL, 1, D, c->V);
    }
    s->pos += T;
}

int ik_lm_forward(struct ik_lm_state *s, const int *tokens, int n, float *logits, struct ik_diag *d)
{
    const struct ik_lm_config *c = &s->m->cfg;
    if (n <= 0)
        return 0;
    if (n > s->S - s->pos)
        return ik_diag_set(d, IK_EVALIDATE, "sequence of %d tokens does not fit: %d of %d positions are "
                           "in use", n, s->pos, s->S);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->V)
            return ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                               "[0, %d)", tokens[i], i, c->V);
    for (int i = 0; i < n; i += s->C) {
        int T = n - i < s->C ? n - i : s->C;
        forward_chunk(s, tokens + i, T, logits ? logits + (size_t)i * c->V : NULL);
    }
    return 0;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static int is_eos(const struct ik_lm_config *c, int tok)
{
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_id[i] == tok)
            return 1;
    return 0;
}

int ik_lm_generate_greedy(struct ik_lm_state *s, const int *prompt, int n_prompt, int max_new,
                          int stop_at_eos, int *out, struct ik_diag *d)
{
    if (n_prompt < 1)
        return ik_diag_set(d, IK_EVALIDATE, "generation needs a prompt of at least one token");
    ik_lm_state_reset(s);
    int rc = ik_lm_forward(s, prompt, n_prompt, NULL, d);
    if (rc != 0)
        return rc;
    int n = 0;
    while (n < max_new) {
        int tok = argmax(s->logits, s->m->cfg.V);
        out[n++] = tok;
        if (stop_at_eos && is_eos(&s->m->cfg, tok))
            break;
        if (n == max_new || s->pos == s->S)
            break; /* the cache is full: what was generated stands */
        if ((rc = ik_lm_forward(s, &tok, 1, NULL, d)) != 0)
            return rc;
    }
    return n;
}

int ik_lm_score(struct ik_lm_state *s, const int *tokens, int n, float *logprob, struct ik_diag *d)
{
    const struct ik_lm_config *c = &s->m->cfg;
    if (n < 2)
        return ik_diag_set(d, IK_EVALIDATE, "scoring needs at least two tokens");
    ik_lm_state_reset(s);
    /* One chunk's logits at a time keeps memory at (C, V), not (n, V). */
    float *lg = malloc((size_t)s->C * c->V * sizeof *lg);
    if (lg == NULL)
        return ik_diag_set(d, -ENOMEM, "out of memory for (%d, %d) logits", s->C, c->V);
    int rc = 0;
    for (int i = 0; i < n - 1 && rc == 0; i += s->C) {
        int T = n - 1 - i < s->C ? n - 1 - i : s->C;
        if ((rc = ik_lm_forward(s, tokens + i, T, lg, d)) != 0)
            break;
        for (int t = 0; t < T; t++)
            if (tokens[i + t + 1] < 0 || tokens[i + t + 1] >= c->V)
                rc = ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                                 "[0, %d)", tokens[i + t + 1], i + t + 1, c->V);
        if (rc == 0) {
            ik_softmax_xent_fwd(logprob + i, lg, tokens + i + 1, T, c->V);
            for (int t = 0; t < T; t++)
                logprob[i + t] = -logprob[i + t];
        }
    }
    free(lg);
    return rc;
}
