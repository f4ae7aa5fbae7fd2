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

/* Checks o (and tok against its stop strings) as every generation does. */
static int check_opts(const struct ik_tok *tok, const struct ik_lm_gen_opts *o, struct ik_diag *d)
{
    if (o->max_new < 1 || o->temperature < 0 || !(o->top_p > 0 && o->top_p <= 1))
        return ik_diag_set(d, IK_EVALIDATE, "generation needs max_new >= 1, temperature >= 0 and top_p "
                           "in (0, 1] (got %d, %g, %g)", o->max_new, (double)o->temperature,
                           (double)o->top_p);
    if (o->n_stop > 0 && tok == NULL)
        return ik_diag_set(d, IK_EVALIDATE, "stop strings need a tokenizer to decode the tokens");
    return 0;
}

/* One sequence being generated: its state, random stream and tokens so far. */
struct gen_seq {
    struct ik_lm_state *s;
    struct ik_prng r;
    int *out, n, stopped;
    int done; /* 1 when finished, < 0 a failure code */
};

/* Shared scratch of the sampling and stop-string tests. */
struct gen_scratch {
    float *prob;
    int *idx;
    struct ik_buf text;
};

/* Picks g's next token from its state's logits and decides whether g ends
 * there: after an EOS (when asked), the token completing a stop string, the
 * max_new-th token, or when the cache is full (what was generated stands). */
static void gen_emit(struct gen_seq *g, const struct ik_tok *tok, const struct ik_lm_gen_opts *o,
                     struct gen_scratch *w, struct ik_diag *d)
{
    const struct ik_lm_config *c = ik_lm_state_config(g->s);
    int t = ik_lm_sample(ik_lm_state_logits(g->s), c->V, o->temperature, o->top_p, &g->r, w->prob,
                         w->idx);
    g->out[g->n++] = t;
    if (o->stop_at_eos && is_eos(c, t)) {
        g->done = 1;
        return;
    }
    if (o->n_stop > 0) {
        ik_buf_reset(&w->text);
        int rc = ik_tok_decode(tok, g->out, (size_t)g->n, 1, &w->text, d);
        if (rc != 0) {
            g->done = rc;
            return;
        }
        size_t at = ik_lm_stop_trim(w->text.data ? w->text.data : "", w->text.len, o->stop, o->n_stop);
        if (at < w->text.len) {
            for (int i = 0; i < o->n_stop; i++)
                if (ik_lm_stop_trim(w->text.data, w->text.len, o->stop + i, 1) == at) {
                    g->stopped = i;
                    break;
                }
            g->done = 1;
            return;
        }
    }
    if (g->n == o->max_new || ik_lm_state_pos(g->s) == ik_lm_state_capacity(g->s))
        g->done = 1;
}

/* Starts g on a prompt: resets its state, prefills the prompt (in the
 * state's chunks) and picks the first token. */
static void gen_start(struct gen_seq *g, const struct ik_tok *tok, const int *prompt, int n_prompt,
                      const struct ik_lm_gen_opts *o, uint64_t seed, int *out,
                      struct gen_scratch *w, struct ik_diag *d)
{
    ik_prng_seed(&g->r, seed);
    g->out = out;
    g->n = 0;
    g->stopped = -1;
    g->done = 0;
    if (n_prompt < 1) {
        g->done = ik_diag_set(d, IK_EVALIDATE, "generation needs a prompt of at least one token");
        return;
    }
    ik_lm_state_reset(g->s);
    int rc = ik_lm_forward(g->s, prompt, n_prompt, NULL, d);
    if (rc != 0)
        g->done = rc;
    else
        gen_emit(g, tok, o, w, d);
}

static void scratch_init(struct gen_scratch *w, const struct ik_lm_state *s,
                         const struct ik_lm_gen_opts *o)
{
    int V = ik_lm_state_config(s)->V;
    w->prob = o->temperature > 0 ? ik_xmalloc((size_t)V * sizeof *w->prob) : NULL;
    w->idx = o->temperature > 0 ? ik_xmalloc((size_t)V * sizeof *w->idx) : NULL;
    w->text = (struct ik_buf)IK_BUF_INIT;
}

static void scratch_free(struct gen_scratch *w)
{
    ik_buf_free(&w->text);
    free(w->prob);
    free(w->idx);
}

int ik_lm_generate(struct ik_lm_state *s, const struct ik_tok *tok, const int *prompt, int n_prompt,
                   const struct ik_lm_gen_opts *o, int *out, int *stopped, struct ik_diag *d)
{
    int rc = check_opts(tok, o, d);
    if (rc != 0)
        return rc;
    if (stopped)
        *stopped = -1;
    struct gen_scratch w;
    scratch_init(&w, s, o);
    struct gen_seq g = {.s = s};
    gen_start(&g, tok, prompt, n_prompt, o, o->seed, out, &w, d);
    while (g.done == 0) {
        int t = g.out[g.n - 1];
        if ((rc = ik_lm_forward(s, &t, 1, NULL, d)) != 0)
            g.done = rc;
        else
            gen_emit(&g, tok, o, &w, d);
    }
    scratch_free(&w);
    if (stopped && g.done == 1)
        *stopped = g.stopped;
    return g.done < 0 ? g.done : g.n;
}

int ik_lm_generate_batch(struct ik_lm_state *s, const struct ik_tok *tok, const int *const *prompts,
                         const int *lens, int n, const struct ik_lm_gen_opts *o, int **outs,
                         int *counts, int *stopped, struct ik_diag *d)
{
    return ik_lm_generate_batched(s, tok, prompts, lens, n, o, IK_LM_GEN_BATCH, outs, counts,
                                  stopped, d);
}

/* The continuous batch: up to B sequences decode together, one token each per
 * step; a sequence that ends hands its slot to the next prompt. */
struct gen_batch {
    struct gen_seq seq[IK_LM_MAX_BATCH];
    int prompt[IK_LM_MAX_BATCH]; /* the prompt a slot runs, or -1 */
    struct ik_lm_state *owned[IK_LM_MAX_BATCH]; /* the states made here (slot 0 is the caller's) */
    int B, next;
};

/* Fills slot k with the next prompts until one is still running after its
 * first token or none is left; records each finished one. Returns 0 or the
 * failure (prefixed with its prompt). */
static int slot_refill(struct gen_batch *gb, int k, const struct ik_tok *tok, const int *const *prompts,
                       const int *lens, int n, const struct ik_lm_gen_opts *o, int **outs, int *counts,
                       int *stopped, struct gen_scratch *w, struct ik_diag *d);

/* Records slot k's finished sequence (or its failure). */
static int slot_finish(struct gen_batch *gb, int k, int *counts, int *stopped, struct ik_diag *d)
{
    struct gen_seq *g = &gb->seq[k];
    int i = gb->prompt[k];
    gb->prompt[k] = -1;
    if (g->done < 0) {
        ik_diag_prefix(d, "prompt %d: ", i);
        return g->done;
    }
    counts[i] = g->n;
    if (stopped)
        stopped[i] = g->stopped;
    return 0;
}

static int slot_refill(struct gen_batch *gb, int k, const struct ik_tok *tok, const int *const *prompts,
                       const int *lens, int n, const struct ik_lm_gen_opts *o, int **outs, int *counts,
                       int *stopped, struct gen_scratch *w, struct ik_diag *d)
{
    while (gb->next < n) {
        int i = gb->next++;
        gb->prompt[k] = i;
        gen_start(&gb->seq[k], tok, prompts[i], lens[i], o, o->seed + (uint64_t)i, outs[i], w, d);
        if (gb->seq[k].done == 0)
            return 0;
        int rc = slot_finish(gb, k, counts, stopped, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Runs the batch until every prompt is done: each step one ik_lm_forward_batch
 * over the running slots' last tokens. */
static int batch_run(struct gen_batch *gb, struct ik_lm_batch *fb, const struct ik_tok *tok,
                     const int *const *prompts, const int *lens, int n, const struct ik_lm_gen_opts *o,
                     int **outs, int *counts, int *stopped, struct gen_scratch *w, struct ik_diag *d)
{
    int rc = 0;
    for (int k = 0; k < gb->B && rc == 0; k++)
        rc = slot_refill(gb, k, tok, prompts, lens, n, o, outs, counts, stopped, w, d);
    while (rc == 0) {
        struct ik_lm_state *states[IK_LM_MAX_BATCH];
        int toks[IK_LM_MAX_BATCH], slot[IK_LM_MAX_BATCH], m = 0;
        for (int k = 0; k < gb->B; k++)
            if (gb->prompt[k] >= 0) {
                states[m] = gb->seq[k].s;
                toks[m] = gb->seq[k].out[gb->seq[k].n - 1];
                slot[m++] = k;
            }
        if (m == 0)
            break;
        if ((rc = ik_lm_forward_batch(fb, states, toks, m, d)) != 0)
            break;
        for (int j = 0; j < m && rc == 0; j++) {
            int k = slot[j];
            gen_emit(&gb->seq[k], tok, o, w, d);
            if (gb->seq[k].done != 0 && (rc = slot_finish(gb, k, counts, stopped, d)) == 0)
                rc = slot_refill(gb, k, tok, prompts, lens, n, o, outs, counts, stopped, w, d);
        }
    }
    return rc;
}

int ik_lm_generate_batched(struct ik_lm_state *s, const struct ik_tok *tok, const int *const *prompts,
                           const int *lens, int n, const struct ik_lm_gen_opts *o, int batch,
                           int **outs, int *counts, int *stopped, struct ik_diag *d)
{
    int rc = check_opts(tok, o, d);
    if (rc != 0 && n > 0)
        ik_diag_prefix(d, "prompt 0: "); /* as when the prompts ran one by one */
    if (rc != 0 || n <= 0)
        return rc;
    if (batch < 1 || batch > IK_LM_MAX_BATCH)
        return ik_diag_set(d, IK_EVALIDATE, "batched generation runs 1 to %d sequences at once (got %d)",
                           IK_LM_MAX_BATCH, batch);
    struct gen_batch gb = {.B = batch < n ? batch : n};
    struct ik_lm_batch *fb = NULL;
    const struct ik_lm_model *m = ik_lm_state_model(s);
    gb.seq[0].s = s;
    gb.prompt[0] = -1;
    for (int k = 1; k < gb.B && rc == 0; k++) {
        gb.prompt[k] = -1;
        rc = ik_lm_state_new(&gb.owned[k], m, ik_lm_state_capacity(s), ik_lm_state_chunk(s), d);
        if (rc == 0)
            rc = ik_lm_state_set_adapter(gb.owned[k], ik_lm_state_adapter(s), d);
        gb.seq[k].s = gb.owned[k];
    }
    if (rc == 0)
        rc = ik_lm_batch_new(&fb, m, gb.B, d);
    struct gen_scratch w;
    scratch_init(&w, s, o);
    if (rc == 0)
        rc = batch_run(&gb, fb, tok, prompts, lens, n, o, outs, counts, stopped, &w, d);
    scratch_free(&w);
    ik_lm_batch_free(fb);
    for (int k = 1; k < gb.B; k++)
        ik_lm_state_free(gb.owned[k]);
    return rc;
}
