/* tests/lm/test_generate.c - sampling (the distribution, top-p truncation,
 * seeding), stop strings and batched prompts, on stories260K whose greedy
 * continuation is pinned by golden_reference.json. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/tokenizer.h"
#include "base/prng.h"
#include "tests/lm/lm_test.h"

Test(lm_generate, sample_distribution_and_top_p)
{
    float lg[4] = {logf(0.5f), logf(0.3f), logf(0.2f), -INFINITY}, prob[4];
    int idx[4], hist[4] = {0};
    struct ik_prng r;
    ik_prng_seed(&r, 1);
    cr_assert_eq(ik_lm_sample(lg, 4, 0.0f, 1.0f, &r, prob, idx), 0);
    for (int i = 0; i < 20000; i++)
        hist[ik_lm_sample(lg, 4, 1.0f, 1.0f, &r, prob, idx)]++;
    cr_assert(abs(hist[0] - 10000) < 300 && abs(hist[1] - 6000) < 300 && abs(hist[2] - 4000) < 300 &&
              hist[3] == 0, "%d %d %d %d", hist[0], hist[1], hist[2], hist[3]);
    /* top_p 0.7: 0.5 < 0.7 <= 0.8, so tokens 0 and 1 remain, renormalised 5:3. */
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < 16000; i++)
        hist[ik_lm_sample(lg, 4, 1.0f, 0.7f, &r, prob, idx)]++;
    cr_assert(hist[2] == 0 && abs(hist[0] - 10000) < 300, "%d %d %d", hist[0], hist[1], hist[2]);
    /* A low temperature sharpens: 0.5 makes the odds 25:9:4. */
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < 19000; i++)
        hist[ik_lm_sample(lg, 4, 0.5f, 1.0f, &r, prob, idx)]++;
    cr_assert(abs(hist[0] - 12500) < 350 && abs(hist[2] - 2000) < 200, "%d %d %d", hist[0], hist[1], hist[2]);
}

struct fixture {
    struct ik_lm_model *m;
    struct ik_lm_state *s;
    struct ik_tok *t;
};

static struct fixture open_stories(void)
{
    struct fixture f;
    struct ik_diag d = IK_DIAG_INIT;
    char *mp = lmt_path("examples/models/stories260K/stories260K.bin");
    char *tp = lmt_path("examples/models/stories260K/tok512.model");
    cr_assert_eq(ik_lm_model_load(&f.m, mp, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_tok_load(&f.t, tp, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_state_new(&f.s, f.m, 256, 64, &d), 0);
    free(mp), free(tp);
    return f;
}

static void close_stories(struct fixture *f)
{
    ik_lm_state_free(f->s);
    ik_lm_model_free(f->m);
    ik_tok_free(f->t);
}

static char *text_of(const struct ik_tok *t, const int *ids, int n)
{
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, (size_t)n, 1, &b, &d), 0);
    ik_buf_putc(&b, '\0');
    return ik_buf_steal(&b);
}

Test(lm_generate, greedy_seeded_sampling_and_stop_strings)
{
    struct fixture f = open_stories();
    struct ik_diag d = IK_DIAG_INIT;
    int bos = 1, out[64], out2[64], greedy[64];
    struct ik_lm_gen_opts o = {64, 0.0f, 1.0f, 0, 0, NULL, 0};
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, greedy, NULL, &d), 64);
    char *g = text_of(f.t, greedy, 64);
    cr_assert(strncmp(g, "Once upon a time, there was a little girl named Lily.", 53) == 0, "%s", g);

    /* Sampling: the same seed gives the same tokens; another seed other ones. */
    o.temperature = 1.0f;
    o.top_p = 0.9f;
    o.seed = 42;
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, out, NULL, &d), 64);
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, out2, NULL, &d), 64);
    cr_assert_eq(memcmp(out, out2, sizeof out), 0);
    o.seed = 43;
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, out2, NULL, &d), 64);
    cr_assert_neq(memcmp(out, out2, sizeof out), 0);
    cr_assert_neq(memcmp(out, greedy, sizeof out), 0);

    /* Stop strings: greedy text stops right after the token completing "Lily". */
    const char *stop[2] = {"park", "Lily"};
    struct ik_lm_gen_opts os = {64, 0.0f, 1.0f, 0, 1, stop, 2};
    int which;
    int n = ik_lm_generate(f.s, f.t, &bos, 1, &os, out, &which, &d);
    cr_assert(n > 0 && n < 64);
    cr_assert_eq(which, 1);
    char *t = text_of(f.t, out, n);
    size_t cut = ik_lm_stop_trim(t, strlen(t), stop, 2);
    cr_assert_eq(cut, strlen("Once upon a time, there was a little girl named "), "%s", t);
    cr_assert_eq(memcmp(out, greedy, (size_t)n * sizeof *out), 0);
    char *t1 = text_of(f.t, out, n - 1);
    cr_assert_null(strstr(t1, "Lily"), "the stop string was complete before the last token: %s", t1);
    free(g), free(t), free(t1);
    close_stories(&f);
}

/* A batch equals its prompts run one by one with seeds seed + i. */
Test(lm_generate, batch_equals_single_runs)
{
    struct fixture f = open_stories();
    struct ik_diag d = IK_DIAG_INIT;
    int p0[1] = {1}, p1[4] = {1, 403, 407, 261};
    const int *prompts[2] = {p0, p1};
    int lens[2] = {1, 4}, counts[2], b0[20], b1[20], *outs[2] = {b0, b1}, single[20];
    struct ik_lm_gen_opts o = {20, 0.8f, 0.95f, 7, 1, NULL, 0};
    cr_assert_eq(ik_lm_generate_batch(f.s, f.t, prompts, lens, 2, &o, outs, counts, NULL, &d), 0);
    for (int i = 0; i < 2; i++) {
        struct ik_lm_gen_opts oi = o;
        oi.seed = 7 + (uint64_t)i;
        int n = ik_lm_generate(f.s, f.t, prompts[i], lens[i], &oi, single, NULL, &d);
        cr_assert_eq(n, counts[i]);
        cr_assert_eq(memcmp(single, outs[i], (size_t)n * sizeof(int)), 0);
    }
    o.top_p = 0.0f;
    cr_assert_lt(ik_lm_generate_batch(f.s, f.t, prompts, lens, 2, &o, outs, counts, NULL, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "prompt 0: ") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    close_stories(&f);
}

/* n prompts of different lengths (1 to 240 tokens: one longer than the
 * state's 64-token chunk, one that fills the 256-position cache before
 * max_new), from the tokens of the greedy story. */
enum { NP = 10, MAXNEW = 40 };
static const int plen[NP] = {1, 4, 9, 2, 70, 17, 240, 5, 33, 3};

static void make_prompts(struct fixture *f, int **prompts)
{
    struct ik_diag d = IK_DIAG_INIT;
    int bos = 1, story[256];
    struct ik_lm_gen_opts o = {255, 0.0f, 1.0f, 0, 0, NULL, 0};
    cr_assert_eq(ik_lm_generate(f->s, f->t, &bos, 1, &o, story + 1, NULL, &d), 255);
    story[0] = 1;
    for (int i = 0; i < NP; i++) {
        prompts[i] = malloc(sizeof(int) * (size_t)plen[i]);
        for (int j = 0; j < plen[i]; j++) /* shifted so prompts differ; BOS first */
            prompts[i][j] = j == 0 ? 1 : story[(j + 7 * i) % 256];
    }
}

/* ik_lm_generate_batched with each batch size of Bs gives, prompt for
 * prompt, what ik_lm_generate gives with seed + i: the same count, tokens and
 * stop. counts_out receives the counts. */
static const int Bs[] = {1, 2, 3, 8};
enum { NB = sizeof Bs / sizeof *Bs };

static void batched_equals_sequential(struct fixture *f, const int *const *prompts,
                                      const struct ik_lm_gen_opts *o, int *counts_out)
{
    struct ik_diag d = IK_DIAG_INIT;
    int *single[NP], which[NP], *outs[NP], counts[NP], stopped[NP];
    for (int i = 0; i < NP; i++) {
        struct ik_lm_gen_opts oi = *o;
        oi.seed = o->seed + (uint64_t)i;
        single[i] = calloc(MAXNEW, sizeof(int));
        outs[i] = calloc(MAXNEW, sizeof(int));
        counts_out[i] = ik_lm_generate(f->s, f->t, prompts[i], plen[i], &oi, single[i], &which[i], &d);
        cr_assert_geq(counts_out[i], 1, "%s", ik_diag_message(&d));
    }
    for (int b = 0; b < NB; b++) {
        int B = Bs[b];
        cr_assert_eq(ik_lm_generate_batched(f->s, f->t, prompts, plen, NP, o, B, outs, counts, stopped,
                                            &d), 0, "B=%d: %s", B, ik_diag_message(&d));
        for (int i = 0; i < NP; i++) {
            cr_assert_eq(counts[i], counts_out[i], "B=%d prompt %d: %d tokens batched, %d alone", B, i,
                         counts[i], counts_out[i]);
            cr_assert_eq(memcmp(single[i], outs[i], (size_t)counts[i] * sizeof(int)), 0,
                         "B=%d prompt %d differs", B, i);
            cr_assert_eq(which[i], stopped[i], "B=%d prompt %d", B, i);
        }
    }
    for (int i = 0; i < NP; i++)
        free(single[i]), free(outs[i]);
}

static void batched_cases(struct fixture *f)
{
    int *prompts[NP], counts[NP];
    make_prompts(f, prompts);
    const int *cp[NP];
    for (int i = 0; i < NP; i++)
        cp[i] = prompts[i];
    /* Greedy to max_new: the 240-token prompt stops when the cache is full. */
    struct ik_lm_gen_opts o = {MAXNEW, 0.0f, 1.0f, 0, 0, NULL, 0};
    batched_equals_sequential(f, cp, &o, counts);
    cr_assert_eq(counts[6], 256 - 240 + 1);
    cr_assert_eq(counts[0], MAXNEW);
    /* An EOS that the sequences meet at different steps: the token that
     * prompt 0's greedy output has at position 5 (made the config's EOS). */
    int first[MAXNEW];
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_generate(f->s, f->t, cp[0], plen[0], &o, first, NULL, &d), MAXNEW);
    struct ik_lm_config *cfg = &f->m->cfg, saved = *cfg;
    cfg->n_eos = 1;
    cfg->eos_id[0] = first[5];
    o.stop_at_eos = 1;
    int lo = MAXNEW, hi = 0;
    batched_equals_sequential(f, cp, &o, counts);
    for (int i = 0; i < NP; i++) {
        lo = counts[i] < lo ? counts[i] : lo;
        hi = counts[i] > hi ? counts[i] : hi;
    }
    cr_assert(lo < hi && counts[0] <= 6, "EOS did not end the sequences at different steps (%d..%d)", lo, hi);
    *cfg = saved;
    /* Stop strings and sampling: each prompt keeps its own seed stream. */
    const char *stop[2] = {"park", "."};
    struct ik_lm_gen_opts os = {MAXNEW, 0.8f, 0.95f, 11, 1, stop, 2};
    batched_equals_sequential(f, cp, &os, counts);
    for (int i = 0; i < NP; i++)
        free(prompts[i]);
}

Test(lm_generate, batched_equals_one_at_a_time)
{
    struct fixture f = open_stories();
    batched_cases(&f);
    close_stories(&f);
}

/* The same with a LoRA adapter of random weights on every projection: the
 * batch's states and its scratch run the caller's adapter. */
Test(lm_generate, batched_equals_one_at_a_time_with_adapter)
{
    struct fixture f = open_stories();
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora_config lc = {4, 8.0f, 0.0f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &f.m->cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng r;
    ik_prng_seed(&r, 5);
    for (size_t i = 0; i < a->n_params; i++)
        a->params[i] = (float)((2 * ik_prng_double(&r) - 1) * 0.3);
    cr_assert_eq(ik_lm_state_set_adapter(f.s, a, &d), 0);
    int bos = 1, with[20], without[20];
    struct ik_lm_gen_opts o = {20, 0.0f, 1.0f, 0, 0, NULL, 0};
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, with, NULL, &d), 20);
    batched_cases(&f);
    cr_assert_eq(ik_lm_state_set_adapter(f.s, NULL, &d), 0);
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, without, NULL, &d), 20);
    cr_assert_neq(memcmp(with, without, sizeof with), 0, "the adapter changed nothing");
    close_stories(&f);
    ik_lora_free(a);
}

/* A batched step refuses what cannot step together, changing nothing. */
Test(lm_generate, forward_batch_refusals)
{
    struct fixture f = open_stories();
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_batch *b;
    cr_assert_lt(ik_lm_batch_new(&b, f.m, IK_LM_MAX_BATCH + 1, &d), 0);
    ik_diag_free(&d);
    cr_assert_eq(ik_lm_batch_new(&b, f.m, 2, &d), 0);
    struct ik_lm_state *s2;
    cr_assert_eq(ik_lm_state_new(&s2, f.m, 4, 4, &d), 0);
    struct ik_lm_state *twice[2] = {f.s, f.s}, *pair[2] = {f.s, s2}, *three[3] = {f.s, s2, f.s};
    int tok[3] = {1, 1, 1}, bad[2] = {1, 512};
    ik_lm_state_reset(f.s);
    cr_assert_lt(ik_lm_forward_batch(b, twice, tok, 2, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "sequences 0 and 1 of the batch are the same state"), "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    cr_assert_lt(ik_lm_forward_batch(b, three, tok, 3, &d), 0);
    ik_diag_free(&d);
    cr_assert_lt(ik_lm_forward_batch(b, pair, bad, 2, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "token 512 of sequence 1 is outside the vocabulary"), "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    cr_assert_eq(ik_lm_state_pos(f.s), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ik_lm_forward_batch(b, pair, tok, 2, &d), 0);
    cr_assert_lt(ik_lm_forward_batch(b, pair, tok, 2, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "sequence 1 of the batch is full: 4 of 4"), "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    cr_assert_eq(ik_lm_state_pos(f.s), 4);
    ik_lm_state_free(s2);
    ik_lm_batch_free(b);
    close_stories(&f);
}

/* Five continuations after one question score as ik_lm_score on the whole
 * text (within fp32 rounding of the other chunking), with the prefix run
 * once; a prefix longer than the state's 64-token chunk included. */
Test(lm_generate, score_continuations_equal_whole_texts)
{
    struct fixture f = open_stories();
    struct ik_diag d = IK_DIAG_INIT;
    int bos = 1, story[129], whole[160];
    struct ik_lm_gen_opts o = {128, 0.0f, 1.0f, 0, 0, NULL, 0};
    cr_assert_eq(ik_lm_generate(f.s, f.t, &bos, 1, &o, story + 1, NULL, &d), 128);
    story[0] = 1;
    static const int P[] = {1, 9, 100}, clen[5] = {1, 3, 7, 2, 12};
    int c[5][12];
    const int *conts[5];
    float lp[5][12], *lps[5], ref[160];
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < clen[i]; j++)
            c[i][j] = story[(11 * i + 3 * j + 5) % 129];
        conts[i] = c[i];
        lps[i] = lp[i];
    }
    for (size_t p = 0; p < sizeof P / sizeof *P; p++) {
        cr_assert_eq(ik_lm_score_continuations(f.s, story, P[p], conts, clen, 5, lps, &d), 0, "%s",
                     ik_diag_message(&d));
        for (int i = 0; i < 5; i++) {
            memcpy(whole, story, sizeof(int) * (size_t)P[p]);
            memcpy(whole + P[p], c[i], sizeof(int) * (size_t)clen[i]);
            cr_assert_eq(ik_lm_score(f.s, whole, P[p] + clen[i], ref, &d), 0);
            for (int j = 0; j < clen[i]; j++)
                cr_assert(fabsf(lp[i][j] - ref[P[p] - 1 + j]) <= 1e-5f * (1 + fabsf(ref[P[p] - 1 + j])),
                          "prefix %d, continuation %d, token %d: %.8g, whole text %.8g", P[p], i, j,
                          (double)lp[i][j], (double)ref[P[p] - 1 + j]);
        }
    }
    c[3][1] = 512;
    cr_assert_lt(ik_lm_score_continuations(f.s, story, 9, conts, clen, 5, lps, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "continuation 3: token 512 at position 10 is outside"), "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    close_stories(&f);
}
