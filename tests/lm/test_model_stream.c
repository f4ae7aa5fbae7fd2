/* tests/lm/test_model_stream.c - a model loaded streamed (IK_LM_LOAD_STREAM):
 * every small tensor as a full load reads it, every projection and table
 * handed out as the BF16 bits of the full load's fp32 (from F32, F16 and
 * BF16 files, Llama-family and NemotronH), a bad big tensor reported at load
 * as a full load reports it, and no CPU path running it. The CUDA trainer
 * on such a model is tests/lm/test_train_cuda.c's. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "tests/lm/lm_test.h"

static struct ik_lm_model *load_as(const char *dir, int how)
{
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load_opts(&m, dir, how, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

/* Layer y's projection t (enum ik_lora_target's order), as a full load holds it. */
static const float *projection(const struct ik_lm_layer *y, int t)
{
    const float *w[IK_LORA_NT] = {y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down,
                                  y->ssm_in, y->ssm_out};
    return w[t];
}

/* n floats equal, or both tensors absent. */
static void expect_same(const float *a, const float *b, size_t n, const char *what, int l)
{
    cr_assert_eq(a == NULL, b == NULL, "%s of layer %d: present in one load only", what, l);
    if (a)
        cr_assert_eq(memcmp(a, b, n * sizeof *a), 0, "%s of layer %d differs", what, l);
}

/* The streamed read of one big tensor (rows x cols of the full load's src)
 * into rows of cols + 3: the bits of src rounded, the padding zero. */
static void expect_bf16(const struct ik_lm_model *s, int l, int t, const float *src, size_t rows,
                        size_t cols)
{
    size_t ld = cols + 3;
    uint16_t *got = ik_xmalloc(rows * ld * sizeof *got);
    memset(got, 0xAB, rows * ld * sizeof *got);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_read_bf16(s, l, t, got, ld, &d), 0, "%s", ik_diag_message(&d));
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ld; j++) {
            uint16_t want = j < cols ? ik_f32_to_bf16(src[r * cols + j]) : 0;
            cr_assert_eq(got[r * ld + j], want, "layer %d tensor %d [%zu][%zu]: %#x, expected %#x", l,
                         t, r, j, got[r * ld + j], want);
        }
    free(got);
}

static void expect_not_streamed(const struct ik_lm_model *s, int l, int t)
{
    uint16_t x[4];
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_read_bf16(s, l, t, x, 4, &d), IK_EVALIDATE, "layer %d tensor %d", l, t);
    ik_diag_free(&d);
}

static void expect_small_tensors(const struct ik_lm_model *f, const struct ik_lm_model *s)
{
    const struct ik_lm_config *c = &f->cfg;
    size_t D = (size_t)c->D, hd = (size_t)c->head_dim, nh = (size_t)c->ssm.heads;
    expect_same(f->final_norm, s->final_norm, D, "final_norm", -1);
    expect_same(f->inv_freq, s->inv_freq, hd / 2, "inv_freq", -1);
    for (int l = 0; l < c->L; l++) {
        const struct ik_lm_layer *a = &f->layers[l], *b = &s->layers[l];
        cr_assert_eq(a->block, b->block);
        cr_assert_eq(a->slot, b->slot);
        expect_same(a->attn_norm, b->attn_norm, D, "attn_norm", l);
        expect_same(a->ffn_norm, b->ffn_norm, D, "ffn_norm", l);
        expect_same(a->bq, b->bq, (size_t)c->H * hd, "bq", l);
        expect_same(a->bk, b->bk, (size_t)c->K * hd, "bk", l);
        expect_same(a->q_norm, b->q_norm, hd, "q_norm", l);
        expect_same(a->conv_w, b->conv_w, (size_t)ik_lm_ssm_conv_dim(c) * (size_t)c->ssm.conv_kernel,
                    "conv_w", l);
        expect_same(a->A_log, b->A_log, nh, "A_log", l);
        expect_same(a->ssm_norm, b->ssm_norm, (size_t)ik_lm_ssm_inner(c), "ssm_norm", l);
    }
}

static void expect_big_tensors(const struct ik_lm_model *f, const struct ik_lm_model *s)
{
    const struct ik_lm_config *c = &f->cfg;
    for (int l = 0; l < c->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            cr_assert_null(projection(&s->layers[l], t), "layer %d tensor %d is in memory", l, t);
            if (!ik_lora_has_module(c, l, t)) {
                expect_not_streamed(s, l, t);
                continue;
            }
            int in, out;
            ik_lora_target_dims(c, t, &in, &out);
            expect_bf16(s, l, t, projection(&f->layers[l], t), (size_t)out, (size_t)in);
        }
    cr_assert_null(s->embed);
    expect_bf16(s, IK_LM_TABLES, IK_LM_TABLE_EMBED, f->embed, (size_t)c->V, (size_t)c->D);
    if (c->tie_embeddings)
        expect_not_streamed(s, IK_LM_TABLES, IK_LM_TABLE_HEAD);
    else
        expect_bf16(s, IK_LM_TABLES, IK_LM_TABLE_HEAD, f->lm_head, (size_t)c->V, (size_t)c->D);
    expect_not_streamed(s, c->L, 0);
    expect_not_streamed(s, IK_LM_TABLES, 2);
}

static void check_stream(const char *dir)
{
    struct ik_lm_model *f = load_as(dir, IK_LM_LOAD_ALL), *s = load_as(dir, IK_LM_LOAD_STREAM);
    cr_assert_null(f->stream);
    cr_assert_not_null(s->stream);
    cr_assert_eq(s->n_params, f->n_params, "streamed %zu parameters, full %zu", s->n_params, f->n_params);
    expect_small_tensors(f, s);
    expect_big_tensors(f, s);
    ik_lm_model_free(f);
    ik_lm_model_free(s);
}

static void check_decoder(int arch, int tied, int dtype)
{
    struct ik_lm_config c = lmt_cfg(arch, 32, 48, 2, 8, 50);
    c.tie_embeddings = tied;
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, dtype, 17, 0.3f);
    check_stream(dir);
    tc_rmtree(dir);
}

Test(lm_model_stream, qwen2_untied_f32) { check_decoder(IK_LM_QWEN2, 0, IK_ST_F32); }
Test(lm_model_stream, qwen3_tied_bf16) { check_decoder(IK_LM_QWEN3, 1, IK_ST_BF16); }
Test(lm_model_stream, llama_untied_f16) { check_decoder(IK_LM_LLAMA, 0, IK_ST_F16); }

Test(lm_model_stream, nemotron_h_every_block_bf16)
{
    struct ik_lm_config c = lmt_nemotron_cfg("M*-M", 32, 48, 50);
    char *dir = tc_tmpdir();
    lmt_write_random_nemotron(dir, &c, IK_ST_BF16, 5, 0.3f);
    check_stream(dir);
    tc_rmtree(dir);
}

/* A big tensor's fault is the load's, named as a full load names it, not
 * the device upload's. */
Test(lm_model_stream, bad_big_tensor_fails_the_load)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 2, 8, 50);
    c.tie_embeddings = 1;
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 1, 0.1f);
    char *cfg = ik_xasprintf("%s/config.json", dir);
    size_t len;
    char *text = lmt_read(cfg, &len);
    char *tie = strstr(text, "\"tie_word_embeddings\": true, ");
    cr_assert_not_null(tie, "%s", text);
    memcpy(tie, "\"tie_word_embeddings\": false,", 29); /* untied: lm_head.weight is missing */
    lmt_write(cfg, text, len);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load_opts(&m, dir, IK_LM_LOAD_STREAM, &d), IK_ENOTFOUND, "%s",
                 ik_diag_message(&d));
    cr_assert_null(m);
    char *want = ik_xasprintf("tensor 'lm_head.weight' not found in '%s'", dir);
    cr_assert(strstr(ik_diag_message(&d), want) != NULL, "%s", ik_diag_message(&d));
    free(want);
    ik_diag_free(&d);
    memcpy(tie, "\"tie_word_embeddings\": true, ", 29);
    char *f = strstr(text, "\"intermediate_size\": 48");
    memcpy(f, "\"intermediate_size\": 40", 23); /* the projections are wider */
    lmt_write(cfg, text, len);
    cr_assert_eq(ik_lm_model_load_opts(&m, dir, IK_LM_LOAD_STREAM, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape "
                                          "[48, 32], expected [40, 32]") != NULL,
              "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(text), free(cfg);
    tc_rmtree(dir);
}

Test(lm_model_stream, runs_on_no_cpu_path)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 2, 8, 50);
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 3, 0.1f);
    struct ik_lm_model *s = load_as(dir, IK_LM_LOAD_STREAM);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_state *st = NULL;
    cr_assert_eq(ik_lm_state_new(&st, s, 8, 8, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "the CPU forward needs the model's weights in memory, but "
                                          "it was loaded streamed") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    struct ik_lm_batch *b = NULL;
    cr_assert_eq(ik_lm_batch_new(&b, s, 2, &d), IK_EVALIDATE);
    ik_diag_free(&d);
    struct ik_lm_train *tr = NULL;
    cr_assert_eq(ik_lm_train_new(&tr, s, NULL, 8, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "the CPU trainer needs") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik_lm_model_free(s);
    tc_rmtree(dir);
}

/* Only a Hugging Face folder streams: a llama2.c (or GGUF) file loads in full. */
Test(lm_model_stream, other_formats_load_in_full)
{
    char *p = lmt_path("examples/models/stories260K/stories260K.bin");
    struct ik_lm_model *m = load_as(p, IK_LM_LOAD_STREAM);
    cr_assert_null(m->stream);
    cr_assert_not_null(m->layers[0].wq);
    ik_lm_model_free(m);
    free(p);
}
