/* tests/lm/test_lora.c - LoRA training on the CPU: the analytic gradients of
 * every target on every architecture variant against central finite
 * differences of an independent double-precision loss (tests/lm/lm_ref.c, with
 * the same dropout masks), B = 0 leaving outputs bit-identical, the merged-weight
 * forward, and the loss against ik_lm_score. Models are random safetensors
 * folders written by lmt_write_random_model, so the loader runs too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "base/prng.h"
#include "tests/lm/lm_ref.h"
#include "tests/lm/lm_test.h"

/* ---- the double-precision reference loss (over tests/lm/lm_ref.c) ---- */

struct ref {
    struct lmt_ref base;
    int T;
};

/* Mean NLL over positions t in [1, n) selected by mask (NULL: all). */
static double ref_loss(const struct ref *R, const int *tok, const unsigned char *sel)
{
    const struct ik_lm_config *c = &R->base.m->cfg;
    int T = R->T;
    double *lg = malloc(sizeof(double) * (size_t)T * c->V);
    lmt_ref_logits(&R->base, tok, T, lg);
    double loss = 0;
    int count = 0;
    for (int t = 0; t < T; t++) {
        if (sel && !sel[t + 1])
            continue;
        const double *row = lg + (size_t)t * c->V;
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < c->V; i++)
            mx = fmax(mx, row[i]);
        for (int i = 0; i < c->V; i++)
            sum += exp(row[i] - mx);
        loss += log(sum) + mx - row[tok[t + 1]];
        count++;
    }
    free(lg);
    return loss / count;
}

/* ---- fixtures ---- */

static struct ik_lm_config cfg_of(int arch) { return lmt_cfg(arch, 16, 24, 2, 4, 40); }

static struct ik_lm_model *write_and_load(const struct ik_lm_config *c, const char *extra, int dtype,
                                          char **dir)
{
    *dir = tc_tmpdir();
    if (c->arch == IK_LM_NEMOTRON_H)
        lmt_write_random_nemotron(*dir, c, dtype, 4321, 0.3f);
    else
        lmt_write_random_model(*dir, c, extra, dtype, 4321, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, *dir, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

static struct ik_lora *new_adapter(const struct ik_lm_config *c, unsigned targets, float dropout,
                                   float b_scale)
{
    struct ik_lora_config lc = {2, 6.0f, dropout, targets};
    return lmt_random_adapter(c, &lc, b_scale);
}

enum { NTOK = 9 };

static void tokens_of(const struct ik_lm_config *c, int *tok)
{
    for (int i = 0; i < NTOK; i++)
        tok[i] = (i * 7 + 3) % c->V;
}

/* ---- gradient checks ---- */

static void grad_check(struct ik_lm_config c, const char *extra, int dtype, float dropout)
{
    char *dir;
    struct ik_lm_model *m = write_and_load(&c, extra, dtype, &dir);
    struct ik_lora *a = new_adapter(&c, (1u << IK_LORA_NT) - 1, dropout, 0.2f);
    int tok[NTOK];
    tokens_of(&c, tok);
    unsigned char sel[NTOK] = {0, 0, 0, 1, 1, 0, 1, 1, 1}; /* as an assistant-token mask */
    struct ik_lm_train *tr;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_train_new(&tr, m, a, 16, &d), 0, "%s", ik_diag_message(&d));
    ik_lora_zero_grad(a);
    double loss;
    int count;
    const uint64_t seed = 99;
    cr_assert_eq(ik_lm_train_step(tr, tok, sel, NTOK, IK_LM_BACKWARD | IK_LM_DROPOUT, seed, 1.0f, &loss,
                                  &count, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(count, 5);

    /* The same dropout masks for the reference, drawn through the public function. */
    float **masks = ik_xcalloc((size_t)c.L * IK_LORA_NT, sizeof *masks);
    int T = NTOK - 1;
    for (int i = 0; dropout > 0 && i < c.L * IK_LORA_NT; i++) {
        int in = a->mod[i].in;
        masks[i] = malloc(sizeof(float) * (size_t)T * in);
        for (int j = 0; j < T * in; j++)
            masks[i][j] = 1.0f;
        ik_lora_dropout(masks[i], masks[i], T, in, dropout, seed, i / IK_LORA_NT, i % IK_LORA_NT);
    }
    struct ref R = {{m, a, masks, 0.0}, T};
    double ref = ref_loss(&R, tok, sel);
    cr_assert(fabs(loss - ref) < 1e-5 * (1 + fabs(ref)), "%s: loss %.8f, reference %.8f",
              lmt_arch_class(c.arch), loss, ref);

    struct ik_prng r;
    ik_prng_seed(&r, 5);
    double worst = 0, biggest = 0;
    for (int i = 0; i < c.L * IK_LORA_NT; i++) {
        struct ik_lora_module *md = &a->mod[i];
        for (int ab = 0; md->A && ab < 2; ab++) {
            float *p = ab ? md->B : md->A, *g = ab ? md->dB : md->dA;
            size_t n = (size_t)a->cfg.r * (ab ? md->out : md->in);
            for (int rep = 0; rep < 3; rep++) {
                size_t j = ik_prng_below(&r, n);
                float orig = p[j], hi = orig + 1e-3f, lo = orig - 1e-3f;
                p[j] = hi;
                double lp = ref_loss(&R, tok, sel);
                p[j] = lo;
                double lm = ref_loss(&R, tok, sel);
                p[j] = orig;
                double fd = (lp - lm) / ((double)hi - (double)lo);
                double err = fabs(g[j] - fd) / (1e-4 + fabs(fd));
                worst = fmax(worst, err);
                biggest = fmax(biggest, fabs(fd));
                cr_expect(fabs(g[j] - fd) <= 2e-5 + 2e-3 * fabs(fd),
                          "%s layer %d %s lora_%c[%zu]: gradient %.8g, finite difference %.8g",
                          lmt_arch_class(c.arch), i / IK_LORA_NT, ik_lora_target_name(i % IK_LORA_NT),
                          ab ? 'B' : 'A', j, (double)g[j], fd);
            }
        }
    }
    cr_assert(biggest > 1e-3, "gradients too small to test anything: %g", biggest);
    for (int i = 0; i < c.L * IK_LORA_NT; i++)
        free(masks[i]);
    free(masks);
    ik_lm_train_free(tr);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_lora, grad_llama) { grad_check(cfg_of(IK_LM_LLAMA), NULL, IK_ST_F32, 0.0f); }

Test(lm_lora, grad_llama_bias_untied_dropout)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    c.qkv_bias = c.o_bias = 1;
    grad_check(c, NULL, IK_ST_F32, 0.25f);
}

Test(lm_lora, grad_llama3_tied_bf16)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    c.tie_embeddings = 1;
    grad_check(c, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                  " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}", IK_ST_BF16, 0.0f);
}

Test(lm_lora, grad_mistral_sliding_window)
{
    struct ik_lm_config c = cfg_of(IK_LM_MISTRAL);
    c.sliding_window = 3;
    grad_check(c, "\"sliding_window\": 3", IK_ST_F32, 0.0f);
}

Test(lm_lora, grad_qwen2_bias) { grad_check(cfg_of(IK_LM_QWEN2), NULL, IK_ST_F32, 0.1f); }

Test(lm_lora, grad_qwen3_qk_norm_gqa)
{
    struct ik_lm_config c = cfg_of(IK_LM_QWEN3);
    c.K = 1;
    c.head_dim = 8; /* head_dim * H != D */
    grad_check(c, NULL, IK_ST_F32, 0.0f);
}

/* NemotronH (lm/train_mamba.c): every target, in_proj and out_proj included,
 * through the Mamba-2 mixer (the reverse scan, conv, gated norm, softplus),
 * attention without RoPE and the relu^2 MLP, with and without dropout. */
Test(lm_lora, grad_nemotron_h_every_target)
{
    grad_check(lmt_nemotron_cfg("M-M*-M", 16, 24, 40), NULL, IK_ST_F32, 0.0f);
}

Test(lm_lora, grad_nemotron_h_dropout_one_group)
{
    struct ik_lm_config c = lmt_nemotron_cfg("*M-", 16, 24, 40);
    c.ssm.groups = 1;
    grad_check(c, NULL, IK_ST_F32, 0.2f);
}

/* Attention heads 32 wide or more take the sgemm-block backward
 * (kernels/cpu/attention_gemm.c), whose scratch is larger than the tiles':
 * the trainer must size it as ik_attention_bwd_scratch says. */
Test(lm_lora, grad_nemotron_h_wide_attention_heads)
{
    struct ik_lm_config c = lmt_nemotron_cfg("*M", 16, 24, 40);
    c.head_dim = 32;
    grad_check(c, NULL, IK_ST_F32, 0.0f);
}

/* ---- the adapter in the forward ---- */

/* A new adapter (B = 0, PEFT's init) changes no logit by a single bit, in
 * the inference forward and in the training loss. */
Test(lm_lora, zero_b_is_bit_identical)
{
    struct ik_lm_config c = cfg_of(IK_LM_QWEN2);
    char *dir;
    struct ik_lm_model *m = write_and_load(&c, NULL, IK_ST_F32, &dir);
    struct ik_lora *a = new_adapter(&c, (1u << IK_LORA_NT) - 1, 0.0f, 0.0f);
    int tok[NTOK];
    tokens_of(&c, tok);
    struct ik_diag d = IK_DIAG_INIT;
    float *base = malloc(sizeof(float) * NTOK * c.V), *with = malloc(sizeof(float) * NTOK * c.V);
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, m, 16, 4, &d), 0);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, base, &d), 0);
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_state_set_adapter(s, a, &d), 0);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, with, &d), 0);
    cr_assert_eq(memcmp(base, with, sizeof(float) * NTOK * c.V), 0);
    /* ...while a nonzero B does change them (the comparison can fail). */
    a->mod[IK_LORA_V].B[0] = 0.5f;
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, with, &d), 0);
    cr_assert_neq(memcmp(base, with, sizeof(float) * NTOK * c.V), 0);
    a->mod[IK_LORA_V].B[0] = 0.0f;

    struct ik_lm_train *t0, *t1;
    cr_assert_eq(ik_lm_train_new(&t0, m, NULL, 16, &d), 0);
    cr_assert_eq(ik_lm_train_new(&t1, m, a, 16, &d), 0);
    double l0, l1;
    cr_assert_eq(ik_lm_train_step(t0, tok, NULL, NTOK, 0, 0, 1.0f, &l0, NULL, &d), 0);
    cr_assert_eq(ik_lm_train_step(t1, tok, NULL, NTOK, IK_LM_BACKWARD, 0, 1.0f, &l1, NULL, &d), 0);
    cr_assert_eq(memcmp(&l0, &l1, sizeof l0), 0, "%.17g vs %.17g", l0, l1);
    /* The training loss is the scorer's mean NLL. */
    float lp[NTOK];
    cr_assert_eq(ik_lm_score(s, tok, NTOK, lp, &d), 0);
    double mean = 0;
    for (int i = 0; i < NTOK - 1; i++)
        mean -= lp[i] / (NTOK - 1.0);
    cr_assert(fabs(mean - l0) < 1e-6 * fabs(l0), "score %.8f, train loss %.8f", mean, l0);
    ik_lm_train_free(t0);
    ik_lm_train_free(t1);
    ik_lm_state_free(s);
    free(base), free(with);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* The adapter forward equals the forward of the merged weights W + scale*B@A. */
Test(lm_lora, merged_weights_match_adapter)
{
    struct ik_lm_config c = cfg_of(IK_LM_QWEN3);
    char *dir;
    struct ik_lm_model *m = write_and_load(&c, NULL, IK_ST_F32, &dir);
    struct ik_lm_model *merged = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&merged, dir, &d), 0);
    struct ik_lora *a = new_adapter(&c, (1u << IK_LORA_NT) - 1, 0.1f, 0.3f);
    ik_lora_merge(a, merged);
    int tok[NTOK];
    tokens_of(&c, tok);
    float *la = malloc(sizeof(float) * NTOK * c.V), *lm = malloc(sizeof(float) * NTOK * c.V);
    float *lb = malloc(sizeof(float) * NTOK * c.V);
    struct ik_lm_state *s, *sm;
    cr_assert_eq(ik_lm_state_new(&s, m, 16, 3, &d), 0);
    cr_assert_eq(ik_lm_state_new(&sm, merged, 16, 16, &d), 0);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, lb, &d), 0);
    ik_lm_state_reset(s);
    cr_assert_eq(ik_lm_state_set_adapter(s, a, &d), 0);
    cr_assert_eq(ik_lm_forward(s, tok, NTOK, la, &d), 0);
    cr_assert_eq(ik_lm_forward(sm, tok, NTOK, lm, &d), 0);
    double moved = 0;
    for (int i = 0; i < NTOK * c.V; i++) {
        cr_assert(fabs(la[i] - lm[i]) <= 1e-5 + 1e-5 * fabs(lm[i]), "logit %d: adapter %.7f, merged %.7f",
                  i, (double)la[i], (double)lm[i]);
        moved = fmax(moved, fabs(la[i] - lb[i]));
    }
    cr_assert(moved > 1e-2, "the adapter barely changes the logits (%g): the check is vacuous", moved);
    ik_lm_state_free(s);
    ik_lm_state_free(sm);
    free(la), free(lm), free(lb);
    ik_lora_free(a);
    ik_lm_model_free(m);
    ik_lm_model_free(merged);
    tc_rmtree(dir);
}

/* Dropout is active only in training mode, is reproducible from its seed,
 * and changes with it. */
Test(lm_lora, dropout_seeded_and_off_in_eval)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    char *dir;
    struct ik_lm_model *m = write_and_load(&c, NULL, IK_ST_F32, &dir);
    struct ik_lora *a = new_adapter(&c, 1u << IK_LORA_Q | 1u << IK_LORA_DOWN, 0.5f, 0.5f);
    struct ik_lora *a0 = new_adapter(&c, 1u << IK_LORA_Q | 1u << IK_LORA_DOWN, 0.0f, 0.5f);
    int tok[NTOK];
    tokens_of(&c, tok);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train *tr, *t0;
    cr_assert_eq(ik_lm_train_new(&tr, m, a, 16, &d), 0);
    cr_assert_eq(ik_lm_train_new(&t0, m, a0, 16, &d), 0);
    double eval, eval0, s1, s1b, s2;
    cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, 0, 1, 1.0f, &eval, NULL, &d), 0);
    cr_assert_eq(ik_lm_train_step(t0, tok, NULL, NTOK, IK_LM_DROPOUT, 1, 1.0f, &eval0, NULL, &d), 0);
    cr_assert_eq(eval, eval0);
    cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, IK_LM_DROPOUT, 1, 1.0f, &s1, NULL, &d), 0);
    cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, IK_LM_DROPOUT, 1, 1.0f, &s1b, NULL, &d), 0);
    cr_assert_eq(ik_lm_train_step(tr, tok, NULL, NTOK, IK_LM_DROPOUT, 2, 1.0f, &s2, NULL, &d), 0);
    cr_assert_eq(s1, s1b);
    cr_assert_neq(s1, eval);
    cr_assert_neq(s1, s2);
    /* About p of the inputs are dropped, the rest scaled by 1/(1-p). */
    float x[1000], y[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = 1.0f;
    ik_lora_dropout(y, x, 10, 100, 0.5f, 3, 1, IK_LORA_Q);
    int zeros = 0;
    for (int i = 0; i < 1000; i++) {
        zeros += y[i] == 0.0f;
        cr_assert(y[i] == 0.0f || y[i] == 2.0f);
    }
    cr_assert(zeros > 430 && zeros < 570, "%d of 1000 dropped", zeros);
    ik_lm_train_free(tr);
    ik_lm_train_free(t0);
    ik_lora_free(a);
    ik_lora_free(a0);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* PEFT's initialisation: A uniform within 1/sqrt(in) (kaiming_uniform_ with
 * a = sqrt(5)), B zeros; targets parse in both spellings. */
Test(lm_lora, init_and_targets)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    struct ik_diag d = IK_DIAG_INIT;
    unsigned t;
    cr_assert_eq(ik_lora_parse_targets("q,v_proj,down", &t, &d), 0);
    cr_assert_eq(t, 1u << IK_LORA_Q | 1u << IK_LORA_V | 1u << IK_LORA_DOWN);
    cr_assert_eq(ik_lora_parse_targets("q,gat", &t, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "unknown LoRA target 'gat' in 'q,gat'") != NULL);
    ik_diag_free(&d);
    struct ik_lora_config lc = {4, 8.0f, 0.0f, 1u << IK_LORA_O | 1u << IK_LORA_DOWN};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &c, &lc, 1, &d), 0);
    cr_assert_float_eq(a->scale, 2.0f, 0);
    cr_assert_eq(a->n_params, (size_t)c.L * 4 * ((16 + 16) + (24 + 16)));
    for (int l = 0; l < c.L; l++) {
        struct ik_lora_module *md = &a->mod[l * IK_LORA_NT + IK_LORA_DOWN];
        cr_assert_null(a->mod[l * IK_LORA_NT + IK_LORA_Q].A);
        double bound = 1 / sqrt(24.0), mx = 0;
        for (int i = 0; i < 4 * 24; i++)
            mx = fmax(mx, fabs(md->A[i]));
        cr_assert(mx <= bound && mx > 0.8 * bound, "max |A| %g, bound %g", mx, bound);
        for (int i = 0; i < 16 * 4; i++)
            cr_assert_eq(md->B[i], 0.0f);
    }
    ik_lora_free(a);
}

/* ---- PEFT folders ---- */

Test(lm_lora, save_load_round_trip_and_zero_b_scores_like_base)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    char *dir, *ad = tc_tmpdir();
    struct ik_lm_model *m = write_and_load(&c, NULL, IK_ST_F32, &dir);
    struct ik_lora *a = new_adapter(&c, 1u << IK_LORA_Q | 1u << IK_LORA_V | 1u << IK_LORA_UP, 0.05f, 0.3f);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_save(a, ad, "random-llama", &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora *b = NULL;
    cr_assert_eq(ik_lora_load(&b, &c, ad, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(b->n_params, a->n_params);
    cr_assert_eq(b->cfg.targets, a->cfg.targets);
    cr_assert_eq(b->cfg.r, 2);
    cr_assert_float_eq(b->scale, 3.0f, 0);
    cr_assert_float_eq(b->cfg.dropout, 0.05f, 1e-7);
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    /* PEFT's tensor names. */
    char *wp = ik_xasprintf("%s/adapter_model.safetensors", ad);
    struct ik_st *st;
    cr_assert_eq(ik_st_open(&st, wp, &d), 0);
    cr_assert_eq(ik_st_count(st), (size_t)c.L * 3 * 2);
    const struct ik_st_tensor *t = ik_st_find(st, "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
    cr_assert_not_null(t);
    cr_assert(t->shape[0] == 2 && t->shape[1] == c.D);
    cr_assert_not_null(ik_st_find(st, "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"));
    ik_st_close(st);

    /* A fresh adapter (B = 0) saved and loaded scores exactly like the base. */
    ik_lora_free(b);
    struct ik_lora *z = new_adapter(&c, (1u << IK_LORA_NT) - 1, 0.0f, 0.0f);
    cr_assert_eq(ik_lora_save(z, ad, NULL, &d), 0);
    cr_assert_eq(ik_lora_load(&b, &c, ad, &d), 0, "%s", ik_diag_message(&d));
    int tok[NTOK];
    tokens_of(&c, tok);
    float l0[NTOK], l1[NTOK];
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, m, 16, 16, &d), 0);
    cr_assert_eq(ik_lm_score(s, tok, NTOK, l0, &d), 0);
    cr_assert_eq(ik_lm_state_set_adapter(s, b, &d), 0);
    cr_assert_eq(ik_lm_score(s, tok, NTOK, l1, &d), 0);
    cr_assert_eq(memcmp(l0, l1, sizeof(float) * (NTOK - 1)), 0);
    ik_lm_state_free(s);

    /* Refusals name the file and the field or tensor. */
    char *cp = ik_xasprintf("%s/adapter_config.json", ad);
    const char *rs = "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"use_rslora\": true, "
                     "\"target_modules\": [\"q_proj\"]}";
    lmt_write(cp, rs, strlen(rs));
    ik_lora_free(b);
    b = NULL;
    cr_assert_eq(ik_lora_load(&b, &c, ad, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("%s: error: field 'use_rslora': rank-stabilised scaling is not supported", cp);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    /* PEFT fields that change the math are refused, never ignored; empty patterns are fine. */
    const char *const refused[][2] = {
        {"\"alpha_pattern\": {\"q_proj\": 32}", "field 'alpha_pattern': per-module alphas are not supported"},
        {"\"rank_pattern\": {\"q_proj\": 4}", "field 'rank_pattern': per-module ranks are not supported"},
        {"\"use_dora\": true", "field 'use_dora': DoRA adapters are not supported"},
    };
    for (size_t k = 0; k < 3; k++) {
        char *cfg = ik_xasprintf("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, %s, "
                                 "\"target_modules\": [\"q_proj\"]}", refused[k][0]);
        lmt_write(cp, cfg, strlen(cfg));
        cr_assert_eq(ik_lora_load(&b, &c, ad, &d), IK_EVALIDATE, "%s", refused[k][0]);
        want = ik_xasprintf("%s: error: %s", cp, refused[k][1]);
        cr_assert_str_eq(ik_diag_message(&d), want);
        free(want);
        free(cfg);
    }
    /* Only q_proj listed, but the file holds all seven targets. */
    const char *oq = "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\"]}";
    lmt_write(cp, oq, strlen(oq));
    cr_assert_eq(ik_lora_load(&b, &c, ad, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "unexpected tensor 'base_model.model.model.layers.0.mlp.down_proj."
                                          "lora_A.weight': the target_modules of ") != NULL, "%s",
              ik_diag_message(&d));
    const char *r3 = "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\"]}";
    lmt_write(cp, r3, strlen(r3));
    cr_assert_eq(ik_lora_load(&b, &c, ad, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' "
                                          "has shape [2, 16], expected [3, 16]") != NULL,
              "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(cp), free(wp);
    ik_lora_free(a);
    ik_lora_free(z);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    tc_rmtree(ad);
}
