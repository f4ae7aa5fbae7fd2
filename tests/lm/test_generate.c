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
