/* tests/lm/test_nemotron_h.c - NemotronH (Mamba-2 hybrid) models on random
 * backbone.* folders: the loader; the forward against the double-precision
 * reference (tests/lm/lm_ref_hybrid.c), with and without an adapter, and
 * apart from the reference with transformers' dt clamp; the chunked scan
 * against the one-step scan; chunked prefill then decoding, batched
 * decoding, continuations and the truncation rule against one full
 * forward. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "base/prng.h"
#include "kernels/kernels.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_ref.h"
#include "tests/lm/lm_test.h"

/* A random NemotronH folder of pattern, loaded back. *dir receives the folder. */
static struct ik_lm_model *write_and_load(const struct ik_lm_config *c, char **dir)
{
    *dir = tc_tmpdir();
    lmt_write_random_nemotron(*dir, c, IK_ST_F32, 7, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, *dir, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

/* The shape most tests use: pattern M-M*-M, D 32, F 40, V 50. */
static struct ik_lm_model *std_model(struct ik_lm_config *c, char **dir)
{
    *c = lmt_nemotron_cfg("M-M*-M", 32, 40, 50);
    return write_and_load(c, dir);
}

static void done(struct ik_lm_model *m, char *dir)
{
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_nemotron_h, loads_backbone_folder)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    cr_assert_eq(m->cfg.arch, IK_LM_NEMOTRON_H);
    cr_assert_eq(m->cfg.L, 6);
    const struct ik_lm_layer *y = &m->layers[2];
    cr_expect_eq(y->block, IK_LM_BLOCK_MAMBA);
    cr_expect_eq(y->slot, 1);
    cr_expect_eq(m->layers[3].slot, 0); /* the first attention layer */
    /* A_log = log(1 + h) as the helper wrote it, read back in place. */
    for (int h = 0; h < c.ssm.heads; h++)
        cr_expect_float_eq(y->A_log[h], (float)log(1.0 + h), 1e-7, "head %d", h);
    cr_expect(y->conv_w[0] != 0 && y->conv_b[0] != 0 && y->ssm_out[0] != 0);
    ik_lm_model_free(m);

    /* A folder with another tensor naming is refused by the tensor's name. */
    char *p = ik_xasprintf("%s/config.json", dir);
    size_t n;
    char *cfg = lmt_read(p, &n);
    tc_rmtree(dir);
    dir = tc_tmpdir();
    struct ik_lm_config ll = lmt_cfg(IK_LM_LLAMA, 32, 40, 6, 8, 50);
    lmt_write_random_model(dir, &ll, NULL, IK_ST_F32, 7, 0.3f);
    free(p);
    p = ik_xasprintf("%s/config.json", dir);
    lmt_write(p, cfg, n);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), IK_ENOTFOUND, "%s", ik_diag_message(&d));
    cr_expect(strstr(ik_diag_message(&d), "backbone.embeddings.weight") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    free(cfg);
    free(p);
    tc_rmtree(dir);
}

/* ---- the forward against the reference ---- */

enum { NT = 40 }; /* tokens: more than a chunk of the scan (8) and than SSD_MIN_ROWS */

static void tokens_of(int V, int *tok, int n, int salt)
{
    for (int i = 0; i < n; i++)
        tok[i] = (i * 7 + 3 + salt * 11) % V;
}

/* log-softmax of each row of (n, V) logits, in double. */
static void log_softmax(double *lp, const double *lg, int n, int V)
{
    for (int t = 0; t < n; t++) {
        const double *r = lg + (size_t)t * V;
        double mx = r[0], s = 0;
        for (int v = 1; v < V; v++)
            mx = fmax(mx, r[v]);
        for (int v = 0; v < V; v++)
            s += exp(r[v] - mx);
        for (int v = 0; v < V; v++)
            lp[(size_t)t * V + v] = r[v] - mx - log(s);
    }
}

/* The largest |got - ref| / (1 + |ref|) over the log-probs of n rows. */
static double worst_logprob(const float *got, const double *ref, int n, int V)
{
    double *g = calloc((size_t)n * V, sizeof(double)), *lg = malloc(sizeof(double) * (size_t)n * V);
    double *lr = malloc(sizeof(double) * (size_t)n * V);
    for (size_t i = 0; i < (size_t)n * V; i++)
        g[i] = got[i];
    log_softmax(lg, g, n, V);
    log_softmax(lr, ref, n, V);
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * V; i++)
        worst = fmax(worst, fabs(lg[i] - lr[i]) / (1 + fabs(lr[i])));
    free(g), free(lg), free(lr);
    return worst;
}

/* An adapter on targets with PEFT's A and a random B, so that it matters. */
static struct ik_lora *random_adapter(const struct ik_lm_config *c, unsigned targets)
{
    struct ik_lora_config lc = {2, 4.0f, 0.0f, targets};
    return lmt_random_adapter(c, &lc, 0.3f);
}

/* How far (relative, in log-probs) the forward of the test tokens in
 * chunks of `chunk`, with R's adapter, lies from the reference R. */
static double off_reference(const struct lmt_ref *R, int chunk)
{
    const struct ik_lm_config *c = &R->m->cfg;
    int tok[NT];
    tokens_of(c->V, tok, NT, 0);
    double *ref = malloc(sizeof(double) * NT * c->V);
    lmt_ref_logits(R, tok, NT, ref);
    float *got = malloc(sizeof(float) * NT * c->V);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, R->m, 64, chunk, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_state_set_adapter(s, R->a, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_forward(s, tok, NT, got, &d), 0, "%s", ik_diag_message(&d));
    double w = worst_logprob(got, ref, NT, c->V);
    ik_lm_state_free(s);
    free(ref);
    free(got);
    return w;
}

/* The forward in chunks of 64 (the chunked scan), 5 and 1 (the one-step
 * scan) against the reference, with adapter a (or NULL). */
static void check_reference(const struct ik_lm_model *m, const struct ik_lora *a)
{
    struct lmt_ref R = {m, a, NULL, 0.0};
    static const int chunks[] = {64, 5, 1};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        double w = off_reference(&R, chunks[k]);
        cr_expect(w <= 1e-5, "chunk %d%s: log-probs off the reference by %.3g (relative)", chunks[k],
                  a ? " with the adapter" : "", w);
    }
}

Test(lm_nemotron_h, matches_reference)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    check_reference(m, NULL);
    ik_lm_model_free(m);
    tc_rmtree(dir);

    /* Without the conv bias, one group, MHA, tied embeddings. */
    c = lmt_nemotron_cfg("*M-M", 24, 32, 40);
    c.ssm.conv_bias = 0;
    c.ssm.groups = 1;
    c.K = 4;
    c.tie_embeddings = 1;
    m = write_and_load(&c, &dir);
    cr_assert_null(m->layers[1].conv_b);
    check_reference(m, NULL);
    done(m, dir);

    /* A conv of one tap (no past to keep), a state of 8, heads of 16 in 4 groups. */
    c = lmt_nemotron_cfg("M*M-", 32, 40, 50);
    c.ssm = (struct ik_lm_ssm_config){.heads = 4, .head_dim = 16, .groups = 4, .state = 8,
                                      .conv_kernel = 1, .chunk = 16, .conv_bias = 1};
    m = write_and_load(&c, &dir);
    check_reference(m, NULL);
    done(m, dir);
}

/* dt is not clamped, as in llama.cpp and the CUDA kernels: the forward
 * follows the reference without the clamp, and the clamp dt >= 0.001 that
 * transformers' CPU path applies when it scores a prompt would move the
 * log-probs well past the 1e-5 tolerance (measured 1.3e-4 relative; 5e-5
 * asked), so matches_reference tells the two apart. */
Test(lm_nemotron_h, dt_is_not_clamped)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    struct lmt_ref R = {m, NULL, NULL, 0.0}, clamped = {m, NULL, NULL, 1e-3};
    double w = off_reference(&R, 64), wc = off_reference(&clamped, 64);
    cr_expect(w <= 1e-5, "off the unclamped reference by %.3g", w);
    cr_expect(wc > 5e-5, "the clamp moves the log-probs by %.3g only", wc);
    done(m, dir);
}

/* LoRA on in_proj and out_proj alone, then on every target: the forward
 * applies it as the reference does, and it moves the numbers. */
Test(lm_nemotron_h, adapter_matches_reference)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    struct ik_lora *a = random_adapter(&c, 1u << IK_LORA_IN | 1u << IK_LORA_OUT);
    check_reference(m, a);
    int tok[NT];
    tokens_of(c.V, tok, NT, 0);
    float with[NT - 1], without[NT - 1];
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 64, &d), 0);
    cr_assert_eq(ik_lm_score(s, tok, NT, without, &d), 0);
    cr_assert_eq(ik_lm_state_set_adapter(s, a, &d), 0);
    cr_assert_eq(ik_lm_score(s, tok, NT, with, &d), 0);
    double moved = 0;
    for (int i = 0; i < NT - 1; i++)
        moved += fabs(with[i] - without[i]);
    cr_expect(moved > 0.1, "an adapter on in_proj/out_proj moved the log-probs by %g only", moved);
    ik_lm_state_free(s);
    /* Merged into a copy of the weights, the adapter scores the same. */
    struct ik_lm_model *mm = NULL;
    cr_assert_eq(ik_lm_model_load(&mm, dir, &d), 0);
    ik_lora_merge(a, mm);
    float merged[NT - 1];
    cr_assert_eq(ik_lm_state_new(&s, mm, 64, 64, &d), 0);
    cr_assert_eq(ik_lm_score(s, tok, NT, merged, &d), 0);
    for (int i = 0; i < NT - 1; i++)
        cr_expect(fabsf(merged[i] - with[i]) <= 1e-4f * (1 + fabsf(with[i])), "token %d: merged %g, "
                  "adapter %g", i, (double)merged[i], (double)with[i]);
    ik_lm_state_free(s);
    ik_lm_model_free(mm);
    ik_lora_free(a);
    a = random_adapter(&c, IK_LORA_ALL);
    check_reference(m, a);
    ik_lora_free(a);

    /* An adapter for another layer pattern does not fit. */
    struct ik_lm_config other = lmt_nemotron_cfg("-MM*-M", 32, 40, 50);
    a = random_adapter(&other, IK_LORA_ALL);
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 64, &d), 0);
    cr_expect_eq(ik_lm_state_set_adapter(s, a, &d), IK_EVALIDATE);
    ik_diag_free(&d);
    ik_lm_state_free(s);
    ik_lora_free(a);
    done(m, dir);
}

/* A PEFT folder of a NemotronH adapter: Hugging Face's module names, read
 * back bit for bit; a Llama-only target in its config is refused. */
Test(lm_nemotron_h, adapter_peft_folder)
{
    struct ik_lm_config c = lmt_nemotron_cfg("M-M*-M", 32, 40, 50);
    struct ik_lora *a = random_adapter(&c, IK_LORA_ALL), *b = NULL;
    char *dir = tc_tmpdir();
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_save(a, dir, NULL, &d), 0, "%s", ik_diag_message(&d));
    char *p = ik_xasprintf("%s/adapter_model.safetensors", dir);
    struct ik_st *st;
    cr_assert_eq(ik_st_open(&st, p, &d), 0);
    /* 3 Mamba layers x 2, 2 MLP x 2, 1 attention x 4 modules, A and B each. */
    cr_expect_eq(ik_st_count(st), 2 * (3 * 2 + 2 * 2 + 4));
    cr_expect_not_null(ik_st_find(st, "base_model.model.model.layers.2.mixer.in_proj.lora_A.weight"));
    cr_expect_not_null(ik_st_find(st, "base_model.model.model.layers.3.mixer.o_proj.lora_B.weight"));
    cr_expect_null(ik_st_find(st, "base_model.model.model.layers.0.mixer.q_proj.lora_A.weight"));
    ik_st_close(st);
    cr_assert_eq(ik_lora_load(&b, &c, dir, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(b->cfg.targets, a->cfg.targets);
    cr_assert_eq(b->n_params, a->n_params);
    cr_expect_eq(memcmp(b->params, a->params, a->n_params * sizeof(float)), 0);
    ik_lora_free(b);

    char *cp = ik_xasprintf("%s/adapter_config.json", dir);
    json_t *j = lmt_json(cp);
    json_array_append_new(json_object_get(j, "target_modules"), json_string("gate_proj"));
    cr_assert_eq(json_dump_file(j, cp, 0), 0);
    json_decref(j);
    cr_expect_eq(ik_lora_load(&b, &c, dir, &d), IK_EVALIDATE);
    cr_expect_str_eq(ik_diag_message(&d), "error: LoRA target gate_proj does not exist in a "
                     "nemotron_h model");
    ik_diag_free(&d);
    free(cp);
    free(p);
    ik_lora_free(a);
    tc_rmtree(dir);
}

/* ---- the two scans ---- */

Test(lm_nemotron_h, chunked_scan_matches_steps)
{
    enum { T = 37, nh = 6, P = 5, G = 3, N = 20, Q = 8, ld = nh * P + 2 * G * N + 3 };
    struct ik_prng r;
    ik_prng_seed(&r, 3);
    static float xbc[T * ld], dt[T * nh], A[nh], Dk[nh], y1[T * nh * P], y2[T * nh * P];
    static float s1[nh * P * N], s2[nh * P * N];
    for (int i = 0; i < T * ld; i++)
        xbc[i] = (float)(2 * ik_prng_double(&r) - 1);
    for (int i = 0; i < T * nh; i++)
        dt[i] = (float)(0.01 + 0.5 * ik_prng_double(&r));
    for (int h = 0; h < nh; h++) {
        A[h] = -(float)(0.5 + h);
        Dk[h] = (float)ik_prng_double(&r);
    }
    for (int i = 0; i < nh * P * N; i++)
        s1[i] = s2[i] = (float)(0.1 * (2 * ik_prng_double(&r) - 1)); /* a state from before */
    const float *x = xbc, *B = xbc + nh * P, *C = B + G * N;
    float *scr = malloc(sizeof(float) * ik_cpu_ssm_chunked_scratch(nh, P, Q));
    /* In two calls (23 + 14 rows: chunks cut mid-way), from the same past. */
    ik_cpu_ssm_scan_fwd(y1, s1, x, B, C, ld, dt, A, Dk, T, nh, P, G, N);
    ik_cpu_ssm_chunked_fwd(y2, s2, x, B, C, ld, dt, A, Dk, 23, nh, P, G, N, Q, scr);
    ik_cpu_ssm_chunked_fwd(y2 + 23 * nh * P, s2, x + 23 * ld, B + 23 * ld, C + 23 * ld, ld,
                           dt + 23 * nh, A, Dk, T - 23, nh, P, G, N, Q, scr);
    for (int i = 0; i < T * nh * P; i++)
        cr_assert(fabsf(y1[i] - y2[i]) <= 1e-5f * (1 + fabsf(y1[i])), "y[%d][%d]: %g vs %g", i / (nh * P),
                  i % (nh * P), (double)y1[i], (double)y2[i]);
    for (int i = 0; i < nh * P * N; i++)
        cr_assert(fabsf(s1[i] - s2[i]) <= 1e-5f * (1 + fabsf(s1[i])), "state[%d]: %g vs %g", i,
                  (double)s1[i], (double)s2[i]);
    free(scr);
}

/* ---- decoding, batches, continuations ---- */

/* Chunked prefill (the chunked scan) then one token at a time gives each
 * position the logits of one forward over everything. */
Test(lm_nemotron_h, prefill_then_decode)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    int tok[NT];
    tokens_of(c.V, tok, NT, 1);
    float *full = malloc(sizeof(float) * NT * c.V);
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 64, &d), 0);
    cr_assert_eq(ik_lm_forward(s, tok, NT, full, &d), 0);
    ik_lm_state_reset(s);
    enum { PRE = 29 };
    cr_assert_eq(ik_lm_forward(s, tok, PRE, NULL, &d), 0);
    for (int t = PRE; t < NT; t++) {
        const float *want = full + (size_t)(t - 1) * c.V, *got = ik_lm_state_logits(s);
        for (int v = 0; v < c.V; v++)
            cr_assert(fabsf(got[v] - want[v]) <= 1e-5f * (1 + fabsf(want[v])),
                      "position %d logit %d: %g after decoding, %g in one forward", t - 1, v,
                      (double)got[v], (double)want[v]);
        cr_assert_eq(ik_lm_forward(s, &tok[t], 1, NULL, &d), 0);
    }
    ik_lm_state_free(s);
    free(full);
    done(m, dir);
}

/* Three sequences, each its own recurrent state and cache, stepping
 * together equal each stepping alone. */
Test(lm_nemotron_h, batched_decoding)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    struct ik_lora *a = random_adapter(&c, IK_LORA_ALL);
    enum { B = 3, STEPS = 6 };
    static const int plen[B] = {20, 3, 11};
    struct ik_lm_state *bs[B], *one[B];
    struct ik_diag d = IK_DIAG_INIT;
    int tok[B][NT];
    for (int i = 0; i < B; i++) {
        tokens_of(c.V, tok[i], NT, i + 2);
        cr_assert_eq(ik_lm_state_new(&bs[i], m, 64, 32, &d), 0);
        cr_assert_eq(ik_lm_state_new(&one[i], m, 64, 32, &d), 0);
        cr_assert_eq(ik_lm_state_set_adapter(bs[i], a, &d), 0);
        cr_assert_eq(ik_lm_state_set_adapter(one[i], a, &d), 0);
        cr_assert_eq(ik_lm_forward(bs[i], tok[i], plen[i], NULL, &d), 0);
        cr_assert_eq(ik_lm_forward(one[i], tok[i], plen[i], NULL, &d), 0);
    }
    struct ik_lm_batch *b;
    cr_assert_eq(ik_lm_batch_new(&b, m, B, &d), 0);
    for (int k = 0; k < STEPS; k++) {
        int next[B];
        for (int i = 0; i < B; i++) {
            next[i] = tok[i][plen[i] + k];
            cr_assert_eq(ik_lm_forward(one[i], &next[i], 1, NULL, &d), 0);
        }
        cr_assert_eq(ik_lm_forward_batch(b, bs, next, B, &d), 0, "%s", ik_diag_message(&d));
        for (int i = 0; i < B; i++) {
            const float *x = ik_lm_state_logits(bs[i]), *y = ik_lm_state_logits(one[i]);
            for (int v = 0; v < c.V; v++)
                cr_assert(ik_cpu_gemv_available() ? x[v] == y[v]
                                                  : fabsf(x[v] - y[v]) <= 1e-5f * (1 + fabsf(y[v])),
                          "step %d sequence %d logit %d: %.9g batched, %.9g alone", k, i, v,
                          (double)x[v], (double)y[v]);
        }
    }
    ik_lm_batch_free(b);
    for (int i = 0; i < B; i++) {
        ik_lm_state_free(bs[i]);
        ik_lm_state_free(one[i]);
    }
    ik_lora_free(a);
    done(m, dir);
}

/* Continuations restore the marked recurrent state: ik_lm_score's numbers;
 * a truncation elsewhere is refused, and decoding goes on from the mark. */
Test(lm_nemotron_h, continuations_and_truncate)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    enum { PRE = 22, NC = 3 };
    static const int lens[NC] = {1, 4, 15};
    int all[NT];
    tokens_of(c.V, all, NT, 4);
    const int *conts[NC];
    float *lp[NC];
    for (int i = 0; i < NC; i++) {
        conts[i] = all + PRE + i; /* overlapping, different continuations */
        lp[i] = malloc(sizeof(float) * lens[i]);
    }
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 16, &d), 0);
    cr_assert_eq(ik_lm_score_continuations(s, all, PRE, conts, lens, NC, lp, &d), 0, "%s",
                 ik_diag_message(&d));
    float whole[NT];
    int seq[NT];
    for (int i = 0; i < NC; i++) {
        memcpy(seq, all, PRE * sizeof(int));
        memcpy(seq + PRE, conts[i], (size_t)lens[i] * sizeof(int));
        cr_assert_eq(ik_lm_score(s, seq, PRE + lens[i], whole, &d), 0);
        for (int j = 0; j < lens[i]; j++)
            cr_assert(fabsf(lp[i][j] - whole[PRE - 1 + j]) <= 1e-5f * (1 + fabsf(whole[PRE - 1 + j])),
                      "continuation %d token %d: %g, scored whole %g", i, j, (double)lp[i][j],
                      (double)whole[PRE - 1 + j]);
    }

    /* The truncation rule: back to the mark or nowhere. */
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_forward(s, all, 10, NULL, &d), 0);
    cr_assert_eq(ik_lm_state_mark(s, &d), 0);
    cr_assert_eq(ik_lm_forward(s, all + 10, 5, NULL, &d), 0);
    cr_expect_eq(ik_lm_state_truncate(s, 12, &d), IK_EVALIDATE);
    cr_expect_str_eq(ik_diag_message(&d), "error: cannot truncate to position 12: the Mamba layers' "
                     "recurrent state cannot be rewound, only restored to the mark (position 10)");
    ik_diag_free(&d);
    cr_expect_eq(ik_lm_state_pos(s), 15);
    cr_assert_eq(ik_lm_state_truncate(s, 10, &d), 0);
    cr_assert_eq(ik_lm_forward(s, all + 10, 5, NULL, &d), 0);
    float after[64];
    memcpy(after, ik_lm_state_logits(s), sizeof(float) * c.V);
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_forward(s, all, 15, NULL, &d), 0);
    for (int v = 0; v < c.V; v++)
        cr_assert(fabsf(after[v] - ik_lm_state_logits(s)[v]) <= 1e-5f * (1 + fabsf(after[v])));
    cr_expect_eq(ik_lm_state_truncate(s, 3, &d), IK_EVALIDATE); /* reset dropped the mark */
    ik_diag_free(&d);
    for (int i = 0; i < NC; i++)
        free(lp[i]);
    ik_lm_state_free(s);
    done(m, dir);
}

/* Greedy generation picks, at each step, the argmax of one full forward
 * over the prompt and what came before. */
Test(lm_nemotron_h, greedy_generation)
{
    struct ik_lm_config c;
    char *dir;
    struct ik_lm_model *m = std_model(&c, &dir);
    enum { PR = 18, NEW = 8 };
    int seq[PR + NEW], out[NEW];
    tokens_of(c.V, seq, PR, 5);
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 64, &d), 0);
    cr_assert_eq(ik_lm_generate_greedy(s, seq, PR, NEW, 0, out, &d), NEW, "%s", ik_diag_message(&d));
    float *lg = malloc(sizeof(float) * (PR + NEW) * c.V);
    for (int k = 0; k < NEW; k++) {
        ik_lm_state_reset(s);
        cr_assert_eq(ik_lm_forward(s, seq, PR + k, lg, &d), 0);
        const float *r = lg + (size_t)(PR + k - 1) * c.V;
        int best = 0;
        for (int v = 1; v < c.V; v++)
            best = r[v] > r[best] ? v : best;
        cr_assert_eq(out[k], best, "new token %d: generated %d, argmax %d", k, out[k], best);
        seq[PR + k] = out[k];
    }
    free(lg);

    /* Sampled, three prompts as one continuous batch of 2: each as it comes alone. */
    struct ik_lm_gen_opts o = {NEW, 0.8f, 0.9f, 42, 0, NULL, 0};
    int p[3][PR], alone[3][NEW], batched[3][NEW], counts[3];
    const int *prompts[3] = {p[0], p[1], p[2]};
    int lens[3] = {PR, 5, 11}, *outs[3] = {batched[0], batched[1], batched[2]};
    for (int i = 0; i < 3; i++) {
        tokens_of(c.V, p[i], PR, 7 + i);
        struct ik_lm_gen_opts oi = o;
        oi.seed = o.seed + (uint64_t)i;
        cr_assert_eq(ik_lm_generate(s, NULL, p[i], lens[i], &oi, alone[i], NULL, &d), NEW, "%s",
                     ik_diag_message(&d));
    }
    cr_assert_eq(ik_lm_generate_batched(s, NULL, prompts, lens, 3, &o, 2, outs, counts, NULL, &d), 0,
                 "%s", ik_diag_message(&d));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(counts[i], NEW);
        cr_expect_eq(memcmp(alone[i], batched[i], sizeof alone[i]), 0, "prompt %d", i);
    }
    ik_lm_state_free(s);
    done(m, dir);
}
