/* tests/lm/test_train.c - activation checkpointing of ik_lm_train_step: the
 * loss and every LoRA gradient are bit-identical with and without it (with
 * dropout, a loss mask, Qwen3's q/k norms, a sliding window and NemotronH's
 * hybrid layers), and the trainer's arena shrinks; NemotronH's loss equals
 * ik_lm_score and descends. Models are random safetensors folders. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "base/prng.h"
#include "tests/lm/lm_test.h"

enum { NTOK = 40 };

/* Four layers: first, middle and last all differ in the checkpointed
 * backward. */
static struct ik_lm_config small_cfg(int arch, int window)
{
    if (arch == IK_LM_NEMOTRON_H) /* the first and last layers Mamba-2, every mixer between */
        return lmt_nemotron_cfg("M-M*-M", 24, 40, 50);
    struct ik_lm_config c = lmt_cfg(arch, 24, 40, 4, 8, 50);
    c.sliding_window = window;
    return c;
}

/* Loss and a copy of the gradients of one step, with or without checkpointing. */
static double step(const struct ik_lm_model *m, struct ik_lora *a, int opts, const int *tok,
                   const unsigned char *sel, float *grads, size_t *bytes)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train *tr;
    cr_assert_eq(ik_lm_train_new_opts(&tr, m, a, NTOK, opts, &d), 0, "%s", ik_diag_message(&d));
    ik_lora_zero_grad(a);
    double loss;
    /* Two steps accumulate, so a stale recomputed buffer would show. */
    for (int s = 0; s < 2; s++)
        cr_assert_eq(ik_lm_train_step(tr, tok, sel, NTOK, IK_LM_BACKWARD | IK_LM_DROPOUT, 77 + s, 0.5f,
                                      &loss, NULL, &d), 0, "%s", ik_diag_message(&d));
    memcpy(grads, a->grads, a->n_params * sizeof *grads);
    *bytes = ik_lm_train_bytes(tr);
    ik_lm_train_free(tr);
    return loss;
}

static void write_model(const char *dir, const struct ik_lm_config *c, const char *extra,
                        unsigned seed, float scale)
{
    if (c->arch == IK_LM_NEMOTRON_H)
        lmt_write_random_nemotron(dir, c, IK_ST_F32, seed, scale);
    else
        lmt_write_random_model(dir, c, extra, IK_ST_F32, seed, scale);
}

/* A model of cfg c written to dir and loaded, and an adapter on every target
 * (rank 4, alpha 8) with A and B moved by noise from seed: B nonzero too, so
 * every path carries gradient. */
static struct ik_lm_model *load_with_adapter(const struct ik_lm_config *c, const char *extra,
                                             const char *dir, unsigned seed, float dropout,
                                             struct ik_lora **a)
{
    write_model(dir, c, extra, seed, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora_config lc = {4, 8.0f, dropout, (1u << IK_LORA_NT) - 1};
    cr_assert_eq(ik_lora_new(a, &m->cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    for (size_t i = 0; i < (*a)->n_params; i++)
        (*a)->params[i] += (float)(ik_prng_double(&r) - 0.5) * 0.2f;
    return m;
}

static void check_identical(int arch, int window, const char *extra)
{
    struct ik_lm_config c = small_cfg(arch, window);
    char *dir = tc_tmpdir();
    struct ik_lora *a;
    struct ik_lm_model *m = load_with_adapter(&c, extra, dir, 99, 0.1f, &a);
    int tok[NTOK];
    unsigned char sel[NTOK];
    for (int i = 0; i < NTOK; i++) {
        tok[i] = (i * 13 + 5) % c.V;
        sel[i] = i % 5 != 2;
    }
    float *g0 = malloc(a->n_params * sizeof *g0), *g1 = malloc(a->n_params * sizeof *g1);
    size_t b0, b1;
    double l0 = step(m, a, 0, tok, sel, g0, &b0);
    double l1 = step(m, a, IK_LM_TRAIN_CHECKPOINT, tok, sel, g1, &b1);
    cr_assert_eq(memcmp(&l0, &l1, sizeof l0), 0, "loss %.17g without, %.17g with checkpointing", l0, l1);
    size_t nonzero = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        cr_assert_eq(memcmp(&g0[i], &g1[i], sizeof *g0), 0, "gradient %zu: %.9g without, %.9g with",
                     i, (double)g0[i], (double)g1[i]);
        nonzero += g0[i] != 0.0f;
    }
    cr_assert_gt(nonzero, a->n_params / 2, "only %zu of %zu gradients are nonzero", nonzero, a->n_params);
    /* 3 of the 4 layers' activations go, but for their inputs; the scratch stays.
     * NemotronH's shared set holds every mixer's buffers, and its scratch is a
     * larger share at this size: less than 4/5 stays. */
    cr_assert_lt(b1 * 5, b0 * (arch == IK_LM_NEMOTRON_H ? 4 : 3),
                 "checkpointing keeps %zu bytes, %zu without", b1, b0);
    free(g0), free(g1);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_train, checkpointing_llama_identical) { check_identical(IK_LM_LLAMA, 0, NULL); }

Test(lm_train, checkpointing_qwen3_identical) { check_identical(IK_LM_QWEN3, 0, NULL); }

/* NemotronH (lm/train_mamba.c): 40 tokens take the chunked forward scan. */
Test(lm_train, checkpointing_nemotron_h_identical) { check_identical(IK_LM_NEMOTRON_H, 0, NULL); }

Test(lm_train, checkpointing_mistral_window_identical)
{
    check_identical(IK_LM_MISTRAL, 16, "\"sliding_window\": 16");
}

/* A run where the recomputation is skipped would not be caught by equality
 * alone if both paths were wrong the same way: the checkpointed gradient also
 * moves the loss down when applied. */
static void gradient_descends(int arch)
{
    struct ik_lm_config c = small_cfg(arch, 0);
    char *dir = tc_tmpdir();
    write_model(dir, &c, NULL, 5, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora_config lc = {4, 8.0f, 0.0f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &m->cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lm_train *tr;
    cr_assert_eq(ik_lm_train_new_opts(&tr, m, a, NTOK, IK_LM_TRAIN_CHECKPOINT, &d), 0);
    int tok[NTOK];
    for (int i = 0; i < NTOK; i++)
        tok[i] = (i * 7 + 1) % c.V;
    double first = 0, loss = 0;
    for (int s = 0; s < 10; s++) {
        ik_lora_zero_grad(a);
        cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, IK_LM_BACKWARD, 0, 1.0f, &loss, NULL, &d), 0);
        if (s == 0)
            first = loss;
        for (size_t i = 0; i < a->n_params; i++)
            a->params[i] -= 0.05f * a->grads[i];
    }
    cr_assert_lt(loss, first - 0.05, "loss %.5f after 10 steps from %.5f", loss, first);
    ik_lm_train_free(tr);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_train, checkpointing_gradient_descends) { gradient_descends(IK_LM_LLAMA); }

Test(lm_train, nemotron_h_gradient_descends) { gradient_descends(IK_LM_NEMOTRON_H); }

/* The training forward of NemotronH (zero states, the chunked scan over 40
 * rows) gives ik_lm_score's per-token losses, with an adapter on every
 * target; and the estimate, which counts the Mamba activations and the
 * scan's checkpoints, is the arena's size. */
Test(lm_train, nemotron_h_loss_is_the_score_and_estimate)
{
    struct ik_lm_config c = small_cfg(IK_LM_NEMOTRON_H, 0);
    char *dir = tc_tmpdir();
    struct ik_lora *a;
    struct ik_lm_model *m = load_with_adapter(&c, NULL, dir, 21, 0.0f, &a);
    struct ik_diag d = IK_DIAG_INIT;
    int tok[NTOK];
    for (int i = 0; i < NTOK; i++)
        tok[i] = (i * 11 + 2) % c.V;
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, m, NTOK, NTOK, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_state_set_adapter(s, a, &d), 0, "%s", ik_diag_message(&d));
    float lp[NTOK - 1];
    cr_assert_eq(ik_lm_score(s, tok, NTOK, lp, &d), 0, "%s", ik_diag_message(&d));
    double want = 0;
    for (int i = 0; i < NTOK - 1; i++)
        want -= lp[i] / (NTOK - 1.0);
    for (int opts = 0; opts <= IK_LM_TRAIN_CHECKPOINT; opts += IK_LM_TRAIN_CHECKPOINT) {
        struct ik_lm_train *tr;
        cr_assert_eq(ik_lm_train_new_opts(&tr, m, a, NTOK, opts, &d), 0, "%s", ik_diag_message(&d));
        double loss;
        cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, 0, 0, 1.0f, &loss, NULL, &d), 0);
        cr_assert(fabs(loss - want) < 1e-5 * (1 + want), "loss %.8f, score %.8f", loss, want);
        cr_assert_eq(ik_lm_train_estimate_bytes(m, a, NTOK, opts), ik_lm_train_bytes(tr));
        ik_lm_train_free(tr);
    }
    ik_lm_state_free(s);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* Token accuracy counts the masked positions whose argmax logit (from an
 * independent forward) is the label; the estimate is the arena's size. */
Test(lm_train, token_accuracy_and_estimate)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA, 0);
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 5, 0.5f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    int tok[NTOK];
    unsigned char sel[NTOK];
    struct ik_prng r;
    ik_prng_seed(&r, 8);
    for (int i = 0; i < NTOK; i++) {
        tok[i] = (int)(ik_prng_next(&r) % (uint64_t)c.V);
        sel[i] = i % 3 != 0;
    }
    /* Make some labels the argmax, so the count is neither 0 nor trivial. */
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, m, NTOK, NTOK, &d), 0);
    float *logits = malloc((size_t)NTOK * c.V * sizeof *logits);
    for (int i = 1; i < NTOK; i += 2) {
        ik_lm_state_reset(s);
        cr_assert_eq(ik_lm_forward(s, tok, i, logits, &d), 0);
        const float *row = logits + (size_t)(i - 1) * c.V;
        int best = 0;
        for (int j = 1; j < c.V; j++)
            best = row[j] > row[best] ? j : best;
        tok[i] = best;
    }
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, logits, &d), 0);
    int expect = 0, targets = 0;
    for (int t = 1; t < NTOK; t++) {
        if (!sel[t])
            continue;
        const float *row = logits + (size_t)(t - 1) * c.V;
        int best = 0;
        for (int j = 1; j < c.V; j++)
            best = row[j] > row[best] ? j : best;
        expect += best == tok[t];
        targets++;
    }
    cr_assert_gt(expect, 0);
    struct ik_lm_train *tr;
    cr_assert_eq(ik_lm_train_new(&tr, m, NULL, NTOK, &d), 0);
    double loss;
    int n_target;
    cr_assert_eq(ik_lm_train_step(tr, tok, sel, NTOK, 0, 0, 1.0f, &loss, &n_target, &d), 0);
    cr_assert_eq(n_target, targets);
    cr_assert_eq(ik_lm_train_n_correct(tr), expect);
    cr_assert_eq(ik_lm_train_estimate_bytes(m, NULL, NTOK, 0),
                 ik_lm_train_bytes(tr) + NTOK * sizeof(int));
    ik_lm_train_free(tr);
    free(logits);
    ik_lm_state_free(s);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}
