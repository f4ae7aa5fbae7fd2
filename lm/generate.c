/* lm/generate.c - sampling, stop strings and batched prompts on top of
 * the forward with a KV cache (see generate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/generate.h"
#include "lm/model.h"
#include "lm/tokenizer.h"
#include "base/prng.h"

static int by_prob_desc(const void *a, const void *b, void *ctx)
{
    const float *p = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (p[i] != p[j])
        return p[i] > p[j] ? -1 : 1;
    return i - j;
}

int ik_lm_sample(const float *logits, int V, float temperature, float top_p, struct ik_prng *r,
                 float *prob, int *idx)
{
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best])
            best = i;
    if (temperature <= 0)
        return best;
    double sum = 0;
    for (int i = 0; i < V; i++) {
        prob[i] = expf((logits[i] - logits[best]) / temperature);
        sum += prob[i];
    }
    for (int i = 0; i < V; i++) {
        prob[i] = (float)(prob[i] / sum);
        idx[i] = i;
    }
    int keep = V;
    if (top_p < 1.0f) {
        qsort_r(idx, (size_t)V, sizeof *idx, by_prob_desc, prob); /* only the nucleus needs order */
        double cum = 0;
        for (keep = 0; keep < V;) {
            cum += prob[idx[keep++]];
            if (cum >= top_p)
                break;
        }
    }
    double mass = 0;
    for (int k = 0; k < keep; k++)
        mass += prob[idx[k]];
    double u = ik_prng_double(r) * mass, acc = 0;
    for (int k = 0; k < keep; k++) {
        acc += prob[idx[k]];
        if (u < acc)
            return idx[k];
    }
    return idx[keep - 1]; /* u landed on the rounding slack at the top */
}

static int is_eos(const struct ik_lm_config *c, int tok)
{
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_id[i] == tok)
            return 1;
    return 0;
}

size_t ik_lm_stop_trim(const char *text, size_t len, const char *const *stop, int n_stop)
{
    size_t best = len;
    for (int i = 0; i < n_stop; i++) {
        const char *p = stop[i][0] ? memmem(text, len, stop[i], strlen(stop[i])) : NULL;
        if (p && (size_t)(p - text) < best)
            best = (size_t)(p - text);
    }
    return best;
}

int ik_lm_generate(struct ik_lm_state *s, const struct ik_tok *tok, const int *prompt, int n_prompt,
                   const struct ik_lm_gen_opts *o, int *out, int *stopped, struct ik_diag *d)
{
    const struct ik_lm_config *c = ik_lm_state_config(s);
    if (n_prompt < 1)
        return ik_diag_set(d, IK_EVALIDATE, "generation needs a prompt of at least one token");
    if (o->max_new < 1 || o->temperature < 0 || !(o->top_p > 0 && o->top_p <= 1))
        return ik_diag_set(d, IK_EVALIDATE, "generation needs max_new >= 1, temperature >= 0 and top_p "
                           "in (0, 1] (got %d, %g, %g)", o->max_new, (double)o->temperature,
                           (double)o->top_p);
    if (o->n_stop > 0 && tok == NULL)
        return ik_diag_set(d, IK_EVALIDATE, "stop strings need a tokenizer to decode the tokens");
    if (stopped)
        *stopped = -1;
    struct ik_prng r;
    ik_prng_seed(&r, o->seed);
    float *prob = o->temperature > 0 ? ik_xmalloc((size_t)c->V * sizeof *prob) : NULL;
    int *idx = o->temperature > 0 ? ik_xmalloc((size_t)c->V * sizeof *idx) : NULL;
    struct ik_buf text = IK_BUF_INIT;
    ik_lm_state_reset(s);
    int rc = ik_lm_forward(s, prompt, n_prompt, NULL, d), n = 0;
    while (rc == 0 && n < o->max_new) {
        int t = ik_lm_sample(ik_lm_state_logits(s), c->V, o->temperature, o->top_p, &r, prob, idx);
        out[n++] = t;
        if (o->stop_at_eos && is_eos(c, t))
            break;
        if (o->n_stop > 0) {
            ik_buf_reset(&text);
            if ((rc = ik_tok_decode(tok, out, (size_t)n, 1, &text, d)) != 0)
                break;
            size_t at = ik_lm_stop_trim(text.data ? text.data : "", text.len, o->stop, o->n_stop);
            if (at < text.len) {
                for (int i = 0; stopped && i < o->n_stop; i++)
                    if (ik_lm_stop_trim(text.data, text.len, o->stop + i, 1) == at) {
                        *stopped = i;
                        break;
                    }
                break;
            }
        }
        if (n == o->max_new || ik_lm_state_pos(s) == ik_lm_state_capacity(s))
            break; /* the cache is full: what was generated stands */
        rc = ik_lm_forward(s, &t, 1, NULL, d);
    }
    ik_buf_free(&text);
    free(prob);
    free(idx);
    return rc != 0 ? rc : n;
}

int ik_lm_generate_batch(struct ik_lm_state *s, const struct ik_tok *tok, const int *const *prompts,
                         const int *lens, int n, const struct ik_lm_gen_opts *o, int **outs,
                         int *counts, int *stopped, struct ik_diag *d)
{
    for (int i = 0; i < n; i++) {
        struct ik_lm_gen_opts oi = *o;
        oi.seed = o->seed + (uint64_t)i;
        int k = ik_lm_generate(s, tok, prompts[i], lens[i], &oi, outs[i], stopped ? &stopped[i] : NULL, d);
        if (k < 0) {
            ik_diag_prefix(d, "prompt %d: ", i);
            return k;
        }
        counts[i] = k;
    }
    return 0;
}
