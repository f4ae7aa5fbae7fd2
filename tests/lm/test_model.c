/* tests/lm/test_model.c - the CPU forward: stories260K in both formats against
 * golden_reference.json (a float64 forward made outside this project), every
 * architecture variant against a plain double-precision forward written here,
 * and the loaders' errors on bad files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_ref.h"
#include "tests/lm/lm_test.h"

static struct ik_lm_model *load(const char *rel)
{
    char *p = lmt_path(rel);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_lm_model_load(&m, p, &d);
    cr_assert_eq(rc, 0, "%s: %s", p, ik_diag_message(&d));
    free(p);
    return m;
}

static int *int_array(json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    int *v = ik_xmalloc((size_t)*n * sizeof *v);
    for (int i = 0; i < *n; i++)
        v[i] = (int)json_integer_value(json_array_get(a, (size_t)i));
    return v;
}

static void check_golden(const char *model_rel)
{
    struct ik_lm_model *m = load(model_rel);
    char *gp = lmt_path("tests/data/lm/stories260K_golden_reference.json");
    json_t *g = lmt_json(gp);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_state *s;
    cr_assert_eq(ik_lm_state_new(&s, m, 512, 64, &d), 0);

    /* Logits after BOS: |got - ref| <= 1e-5 + 1e-4 |ref| (the 1e-4 relative). */
    json_t *ref = json_object_get(json_object_get(g, "logits_pos0_after_bos"), "logits");
    cr_assert_eq(json_array_size(ref), 512);
    int bos = 1;
    cr_assert_eq(ik_lm_forward(s, &bos, 1, NULL, &d), 0);
    const float *lg = ik_lm_state_logits(s);
    double worst = 0;
    for (int v = 0; v < 512; v++) {
        double r = json_number_value(json_array_get(ref, (size_t)v));
        double err = fabs(lg[v] - r) / (1e-5 / 1e-4 + fabs(r));
        if (err > worst)
            worst = err;
        cr_expect(fabs(lg[v] - r) <= 1e-5 + 1e-4 * fabs(r), "%s: logit %d = %.7f, expected %.7f",
                  model_rel, v, (double)lg[v], r);
    }

    /* The 64 greedy tokens from BOS. */
    int n_ref;
    int *toks = int_array(json_object_get(json_object_get(g, "greedy_from_bos"), "tokens"), &n_ref);
    cr_assert_eq(n_ref, 64);
    int out[64];
    int n = ik_lm_generate_greedy(s, &bos, 1, 64, 0, out, &d);
    cr_assert_eq(n, 64, "%s", ik_diag_message(&d));
    for (int i = 0; i < 64; i++)
        cr_expect_eq(out[i], toks[i], "%s: greedy token %d is %d, expected %d", model_rel, i, out[i],
                     toks[i]);
    free(toks);

    /* Teacher-forced per-token NLL and their mean 0.28031. */
    json_t *tf = json_object_get(g, "teacher_forced");
    int nt;
    int *tt = int_array(json_object_get(tf, "tokens_with_bos"), &nt);
    json_t *nll = json_object_get(tf, "per_token_nll");
    cr_assert_eq((int)json_array_size(nll), nt - 1);
    float *lp = ik_xmalloc((size_t)nt * sizeof *lp);
    cr_assert_eq(ik_lm_score(s, tt, nt, lp, &d), 0, "%s", ik_diag_message(&d));
    double sum = 0;
    for (int i = 0; i < nt - 1; i++) {
        double r = json_number_value(json_array_get(nll, (size_t)i));
        cr_expect(fabs(-lp[i] - r) <= 2e-5 + 1e-4 * r, "%s: nll[%d] = %.6f, expected %.6f", model_rel,
                  i, -(double)lp[i], r);
        sum += -lp[i];
    }
    cr_expect(fabs(sum / (nt - 1) - 0.28031) < 5e-5, "%s: mean NLL %.6f, expected 0.28031",
              model_rel, sum / (nt - 1));
    free(lp);
    free(tt);
    ik_lm_state_free(s);
    json_decref(g);
    free(gp);
    ik_lm_model_free(m);
}

Test(lm_model, stories260K_llama2c_matches_golden) { check_golden("examples/models/stories260K/stories260K.bin"); }

Test(lm_model, stories260K_hf_matches_golden) { check_golden("examples/models/stories260K-hf"); }

/* The two files hold the same weights: after the RoPE row permutation, every
 * parameter must be bit-identical. */
Test(lm_model, llama2c_and_hf_weights_identical)
{
    struct ik_lm_model *a = load("examples/models/stories260K/stories260K.bin");
    struct ik_lm_model *b = load("examples/models/stories260K-hf");
    cr_assert_eq(a->n_params, b->n_params);
    cr_assert_eq(memcmp(a->embed, b->embed, a->n_params * sizeof(float)), 0);
    ik_lm_model_free(a);
    ik_lm_model_free(b);
}

static struct ik_lm_config small_config(int arch) { return lmt_cfg(arch, 32, 48, 2, 8, 50); }

/* Loads the random model written to a temp folder and checks the forward
 * (in chunks of 5 and token by token) against lmt_ref_logits (tests/lm/lm_ref.c). */
static void check_variant(struct ik_lm_config c, const char *extra, int dtype)
{
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, extra, dtype, 1234, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(m->cfg.qkv_bias, c.qkv_bias);
    cr_assert_eq(m->cfg.o_bias, c.o_bias);
    cr_assert_eq(m->cfg.qk_norm, c.qk_norm);
    cr_assert_eq(m->cfg.sliding_window, c.sliding_window);
    enum { N = 13 };
    int tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (i * 7 + 3) % c.V;
    double *ref = malloc(sizeof(double) * N * c.V);
    struct lmt_ref R = {m, NULL, NULL, 0.0};
    lmt_ref_logits(&R, tok, N, ref);
    float *got = malloc(sizeof(float) * N * c.V);
    for (int chunk = 1; chunk <= 5; chunk += 4) {
        struct ik_lm_state *s;
        cr_assert_eq(ik_lm_state_new(&s, m, 32, chunk, &d), 0);
        cr_assert_eq(ik_lm_forward(s, tok, N, got, &d), 0, "%s", ik_diag_message(&d));
        for (int i = 0; i < N * c.V; i++)
            cr_assert(fabs(got[i] - ref[i]) <= 1e-4 + 1e-4 * fabs(ref[i]),
                      "%s chunk %d: logit [%d][%d] = %.6f, reference %.6f", lmt_arch_class(c.arch), chunk,
                      i / c.V, i % c.V, (double)got[i], ref[i]);
        ik_lm_state_free(s);
    }
    free(ref);
    free(got);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_model, llama_matches_reference) { check_variant(small_config(IK_LM_LLAMA), NULL, IK_ST_F32); }

Test(lm_model, llama_attention_bias_and_untied)
{
    struct ik_lm_config c = small_config(IK_LM_LLAMA);
    c.qkv_bias = c.o_bias = 1;
    check_variant(c, NULL, IK_ST_F32);
}

Test(lm_model, llama3_rope_scaling_tied_bf16)
{
    struct ik_lm_config c = small_config(IK_LM_LLAMA);
    c.tie_embeddings = 1;
    check_variant(c, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                     " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}", IK_ST_BF16);
}

Test(lm_model, mistral_sliding_window_f16)
{
    struct ik_lm_config c = small_config(IK_LM_MISTRAL);
    c.sliding_window = 4;
    check_variant(c, "\"sliding_window\": 4", IK_ST_F16);
}

Test(lm_model, qwen2_qkv_bias) { check_variant(small_config(IK_LM_QWEN2), NULL, IK_ST_F32); }

Test(lm_model, qwen3_qk_norm_gqa)
{
    struct ik_lm_config c = small_config(IK_LM_QWEN3);
    c.K = 1; /* 4 query heads share one KV head */
    c.head_dim = 16; /* head_dim * H != D, as in Qwen3 */
    check_variant(c, NULL, IK_ST_F32);
}

/* ---- bad files: each loader error names the tensor and the file ---- */

static char *load_fails(const char *path, int code)
{
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, path, &d), code, "%s", ik_diag_message(&d));
    cr_assert_null(m);
    char *msg = ik_xstrdup(ik_diag_message(&d));
    ik_diag_free(&d);
    return msg;
}

Test(lm_model, error_llama2c_truncated)
{
    char *src = lmt_path("examples/models/stories260K/stories260K.bin");
    size_t len;
    char *bytes = lmt_read(src, &len);
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/cut.bin", dir);
    lmt_write(p, bytes, 200000); /* inside wq of the last layer */
    char *msg = load_fails(p, IK_ECORRUPT);
    char *want = ik_xasprintf("%s: error: offset 197916: truncated file: tensor 'wq' of layer 4 needs "
                              "16384 bytes, 2084 remain", p);
    cr_assert_str_eq(msg, want);
    free(msg), free(want);
    lmt_write(p, bytes, 20);
    msg = load_fails(p, IK_ECORRUPT);
    want = ik_xasprintf("%s: error: offset 0: file is 20 bytes, too short for the 28-byte llama2.c header", p);
    cr_assert_str_eq(msg, want);
    free(msg), free(want);
    /* A header that cannot describe a model (here: a safetensors file). */
    char *st = lmt_path("examples/models/stories260K-hf/model.safetensors");
    msg = load_fails(st, IK_ECORRUPT);
    cr_assert(strstr(msg, "offset 0: implausible llama2.c header") != NULL, "%s", msg);
    cr_assert(strstr(msg, "\nhint: only the llama2.c v0 format") != NULL, "%s", msg);
    free(msg);
    free(st);
    /* vocab_size INT32_MIN: negating it (a separate classifier) would overflow. */
    int32_t h[7] = {64, 172, 1, 8, 4, INT32_MIN, 512};
    lmt_write(p, h, sizeof h);
    msg = load_fails(p, IK_ECORRUPT);
    cr_assert(strstr(msg, "offset 0: implausible llama2.c header (dim 64, hidden_dim 172, n_layers 1, "
                          "n_heads 8, n_kv_heads 4, vocab_size -2147483648, seq_len 512)") != NULL,
              "%s", msg);
    free(msg);
    free(p), free(bytes), free(src);
    tc_rmtree(dir);
}

Test(lm_model, error_hf_missing_tensor_wrong_shape_arch)
{
    struct ik_lm_config c = small_config(IK_LM_QWEN2);
    char *dir = tc_tmpdir();
    /* Written as Qwen2 (with biases); read back as Qwen3, which wants q_norm. */
    lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 1, 0.1f);
    char *cfg = ik_xasprintf("%s/config.json", dir);
    size_t len;
    char *text = lmt_read(cfg, &len);
    char *q = strstr(text, "Qwen2");
    q[4] = '3';
    lmt_write(cfg, text, len);
    char *msg = load_fails(dir, IK_ENOTFOUND);
    char *want = ik_xasprintf("error: tensor 'model.layers.0.self_attn.q_norm.weight' not found in '%s'\n"
                              "hint: did you mean 'model.layers.0.self_attn.q_proj.weight'?", dir);
    cr_assert_str_eq(msg, want);
    free(msg), free(want);
    /* The config claims a wider MLP than the tensors have. */
    q[4] = '2';
    char *f = strstr(text, "\"intermediate_size\": 48");
    memcpy(f, "\"intermediate_size\": 40", 23);
    lmt_write(cfg, text, len);
    msg = load_fails(dir, IK_EVALIDATE);
    want = ik_xasprintf("%s/model.safetensors: error: offset ", dir);
    cr_assert(strncmp(msg, want, strlen(want)) == 0, "%s", msg);
    cr_assert(strstr(msg, ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape [48, 32], "
                          "expected [40, 32]") != NULL, "%s", msg);
    free(msg), free(want);
    /* An architecture the code does not know. */
    memcpy(strstr(text, "Qwen2ForCausalLM"), "Gemma2ForCausal!", 16);
    lmt_write(cfg, text, len);
    msg = load_fails(dir, IK_EVALIDATE);
    cr_assert(strstr(msg, "config.json: error: unsupported architecture 'Gemma2ForCausal!'") != NULL, "%s", msg);
    free(msg);
    free(text), free(cfg);
    tc_rmtree(dir);
}

Test(lm_model, error_sequence_too_long_and_bad_token)
{
    struct ik_lm_model *m = load("examples/models/stories260K/stories260K.bin");
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 4, 4, &d), 0);
    int t[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(ik_lm_forward(s, t, 5, NULL, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: sequence of 5 tokens does not fit: 0 of 4 positions are in use");
    t[1] = 512;
    cr_assert_eq(ik_lm_forward(s, t, 2, NULL, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: token 512 at position 1 is outside the vocabulary [0, 512)");
    cr_assert_eq(ik_lm_state_pos(s), 0);
    ik_diag_free(&d);
    ik_lm_state_free(s);
    ik_lm_model_free(m);
}

/* A model folder must not be able to overflow the weight arena (issue 9):
 * tests/data/repro/model-arena-overflow is a 244-byte config.json whose size
 * products wrapped to a 128-byte arena, and a safetensors that then wrote
 * 12 KB into it. Now every product is counted without wrapping and bounded
 * by IK_LM_MAX_WEIGHT_BYTES, with the file named. */
Test(lm_model, error_implausible_shape_refused_before_allocation)
{
    char *dir = lmt_path("tests/data/repro/model-arena-overflow");
    char *msg = load_fails(dir, IK_EVALIDATE);
    char *want = ik_xasprintf("%s/config.json: error: \"num_hidden_layers\": 21612 exceeds the "
                              "plausibility limit 4096", dir);
    cr_assert_str_eq(msg, want);
    free(msg), free(want), free(dir);

    /* Each size within its limit, the whole beyond 1 TiB of weights. */
    dir = tc_tmpdir();
    char *cfg = ik_xasprintf("%s/config.json", dir);
    const char *big = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 1048576, "
                      "\"intermediate_size\": 4194304, \"num_hidden_layers\": 4096, "
                      "\"num_attention_heads\": 4096, \"vocab_size\": 16777216}";
    lmt_write(cfg, big, strlen(big));
    msg = load_fails(dir, IK_EVALIDATE);
    want = ik_xasprintf("%s: error: the model has 7.21e+16 parameters (hidden_size 1048576, "
                        "intermediate_size 4194304, num_hidden_layers 4096, num_attention_heads "
                        "4096, num_key_value_heads 4096, head_dim 256, vocab_size 16777216): more "
                        "than the 2.75e+11 (1024 GiB of fp32 weights) this reader accepts", cfg);
    cr_assert_str_eq(msg, want);
    free(msg), free(want), free(cfg);
    tc_rmtree(dir);

    /* ik_lm_model_new itself counts without wrapping, whatever its caller checked. */
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 1 << 30, 1 << 30, 2, 1 << 30, 1 << 30);
    c.H = c.K = 1 << 30;
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "error: the model has over 1.84e+19 parameters") ==
                  ik_diag_message(&d),
              "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    c = lmt_cfg(IK_LM_LLAMA, 8, 8, 1 << 30, 2, 8);
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "layers 1073741824 (at most 4096)") != NULL, "%s",
              ik_diag_message(&d));
    cr_assert_null(m);
    ik_diag_free(&d);
}

/* kB of the line `key` (VmRSS, VmHWM) of /proc/self/status, or -1. */
static long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* Loads a random model of 6 layers (256 wide, 8192 words; dtype) as `how`
 * asks: how much the peak RSS grew, and the model's weights, in kB. */
static double load_peak_kb(int dtype, int how, double *weights_kb)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 256, 1024, 6, 64, 8192);
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, dtype, 99, 0.1f);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL || fputs("5", f) < 0 || fclose(f) != 0 || proc_status_kb("VmHWM") < 0)
        cr_skip_test("this kernel cannot reset the peak RSS (/proc/self/clear_refs)");
    long before = proc_status_kb("VmRSS");
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load_opts(&m, dir, how, &d), 0, "%s", ik_diag_message(&d));
    double peak = (double)proc_status_kb("VmHWM");
    *weights_kb = (double)m->n_params * sizeof(float) / 1024;
    ik_lm_model_free(m);
    tc_rmtree(dir);
    return peak - (double)before;
}

/* Loading copies each tensor out of the mapped file and drops the file's
 * pages, so the peak is the weights, not the weights and the file (which
 * made generation on Qwen2.5-0.5B's shape peak at 2x its weights). */
Test(lm_model, load_peak_memory_near_the_weights)
{
    double weights_kb, grew = load_peak_kb(IK_ST_F32, IK_LM_LOAD_ALL, &weights_kb);
    cr_assert_leq(grew, 1.2 * weights_kb, "loading %.0f kB of weights raised the peak RSS by %.0f kB",
                  weights_kb, grew);
}

/* A streamed load (IK_LM_LOAD_STREAM, for the CUDA trainer) leaves the
 * projections and tables in the mapped file: the peak grows by the norms,
 * not by the weights. */
Test(lm_model, streamed_load_keeps_the_weights_out_of_memory)
{
    double weights_kb, grew = load_peak_kb(IK_ST_BF16, IK_LM_LOAD_STREAM, &weights_kb);
    cr_assert_leq(grew, 0.05 * weights_kb, "a streamed load of %.0f kB of weights raised the peak "
                  "RSS by %.0f kB", weights_kb, grew);
}
