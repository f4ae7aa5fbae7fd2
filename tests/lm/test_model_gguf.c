/* tests/lm/test_model_gguf.c - base models as GGUF (lm/model_gguf.h) both
 * ways: stories260K and random Llama/Mistral/Qwen2/Qwen3 models written and
 * loaded back hold the same weights (bit for bit at F32, the F16/BF16
 * rounding of them otherwise) and give the same logits; the written
 * vocabulary encodes like the tokenizer it came from (tok512's byte fallback
 * on Japanese, Qwen3's tokenizer.json from ../shared); a hand-built file
 * with Q8_0 tensors dequantises and un-permutes as llama.cpp's layout says;
 * and foreign or damaged files are refused naming the file and the key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/safetensors.h"
#include "lm/tokenizer.h"
#include "tests/lm/lm_test.h"

static struct ik_lm_model *load_model(const char *path)
{
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, path, &d), 0, "%s: %s", path, ik_diag_message(&d));
    return m;
}

static struct ik_tok *load_tok(const char *path)
{
    struct ik_tok *t = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, path, &d), 0, "%s: %s", path, ik_diag_message(&d));
    return t;
}

static void write_gguf(const struct ik_lm_model *m, const struct ik_tok *t, uint32_t type,
                       int tmpl, const char *path)
{
    struct ik_lm_gguf_opts o = {type, tmpl, "test model"};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_write_gguf(m, t, &o, path, &d), 0, "%s", ik_diag_message(&d));
}

/* The logits of tokens[0..n) (n*V floats; the caller frees). */
static float *logits(const struct ik_lm_model *m, const int *tok, int n)
{
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 8, &d), 0, "%s", ik_diag_message(&d));
    float *lg = ik_xmalloc((size_t)n * (size_t)m->cfg.V * sizeof *lg);
    cr_assert_eq(ik_lm_forward(s, tok, n, lg, &d), 0, "%s", ik_diag_message(&d));
    ik_lm_state_free(s);
    return lg;
}

/* max |a - b| / (1 + |b|) over the logits of 13 tokens. */
static double logit_err(const struct ik_lm_model *a, const struct ik_lm_model *b)
{
    enum { N = 13 };
    int tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (i * 37 + 5) % a->cfg.V;
    float *la = logits(a, tok, N), *lb = logits(b, tok, N);
    double worst = 0;
    for (size_t i = 0; i < (size_t)N * (size_t)a->cfg.V; i++) {
        double e = fabs((double)la[i] - lb[i]) / (1 + fabs((double)lb[i]));
        if (e > worst)
            worst = e;
    }
    free(la);
    free(lb);
    return worst;
}

/* The fields the GGUF carries, equal (a Mistral reads back as Llama, without
 * its sliding window). */
static void expect_same_config(const struct ik_lm_config *a, const struct ik_lm_config *b)
{
    int arch = a->arch == IK_LM_MISTRAL ? IK_LM_LLAMA : a->arch;
    cr_expect_eq(b->arch, arch);
    cr_expect(b->D == a->D && b->F == a->F && b->L == a->L && b->H == a->H && b->K == a->K);
    cr_expect(b->head_dim == a->head_dim && b->V == a->V && b->max_seq == a->max_seq);
    cr_expect(b->norm_eps == a->norm_eps && b->rope_theta == a->rope_theta);
    cr_expect(b->rope_factor == a->rope_factor &&
              b->rope_low_freq_factor == a->rope_low_freq_factor &&
              b->rope_high_freq_factor == a->rope_high_freq_factor &&
              b->rope_original_max_seq == a->rope_original_max_seq);
    cr_expect(b->tie_embeddings == a->tie_embeddings && b->qkv_bias == a->qkv_bias &&
              b->o_bias == a->o_bias && b->qk_norm == a->qk_norm);
    cr_expect_eq(b->bos_id, a->bos_id);
    cr_expect(b->n_eos >= 1 && b->eos_id[0] == a->eos_id[0]);
    cr_expect_eq(b->sliding_window, 0);
}

/* Every weight of b is a's rounded through type (matrices) or a's exactly
 * (vectors, always F32); same inv_freq. Walks the tensors as the arena
 * holds them. */
static float round_to(float v, uint32_t type)
{
    return type == IK_GGML_F16 ? ik_f16_to_f32(ik_f32_to_f16(v))
         : type == IK_GGML_BF16 ? ik_bf16_to_f32(ik_f32_to_bf16(v)) : v;
}

static void expect_same_tensor(const char *what, const float *a, const float *b, size_t n,
                               uint32_t type)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&(float){round_to(a[i], type)}, &b[i], 4) != 0 && bad++ == 0)
            first = i;
    cr_expect_eq(bad, 0, "%s: %zu of %zu values differ, first at %zu: %g vs %g", what, bad, n,
                 first, (double)a[first], (double)b[first]);
}

static void expect_same_weights(const struct ik_lm_model *a, const struct ik_lm_model *b,
                                uint32_t type)
{
    const struct ik_lm_config *c = &a->cfg;
    cr_assert_eq(a->n_params, b->n_params);
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim, V = (size_t)c->V;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    expect_same_tensor("embed", a->embed, b->embed, V * D, type);
    expect_same_tensor("final_norm", a->final_norm, b->final_norm, D, IK_GGML_F32);
    if (!c->tie_embeddings)
        expect_same_tensor("lm_head", a->lm_head, b->lm_head, V * D, type);
    for (int l = 0; l < c->L; l++) {
        const struct ik_lm_layer *x = &a->layers[l], *y = &b->layers[l];
        expect_same_tensor("attn_norm", x->attn_norm, y->attn_norm, D, IK_GGML_F32);
        expect_same_tensor("wq", x->wq, y->wq, qw * D, type);
        expect_same_tensor("wk", x->wk, y->wk, kw * D, type);
        expect_same_tensor("wv", x->wv, y->wv, kw * D, type);
        expect_same_tensor("wo", x->wo, y->wo, D * qw, type);
        if (x->bq) {
            expect_same_tensor("bq", x->bq, y->bq, qw, IK_GGML_F32);
            expect_same_tensor("bk", x->bk, y->bk, kw, IK_GGML_F32);
            expect_same_tensor("bv", x->bv, y->bv, kw, IK_GGML_F32);
        }
        if (x->bo)
            expect_same_tensor("bo", x->bo, y->bo, D, IK_GGML_F32);
        if (x->q_norm) {
            expect_same_tensor("q_norm", x->q_norm, y->q_norm, hd, IK_GGML_F32);
            expect_same_tensor("k_norm", x->k_norm, y->k_norm, hd, IK_GGML_F32);
        }
        expect_same_tensor("ffn_norm", x->ffn_norm, y->ffn_norm, D, IK_GGML_F32);
        expect_same_tensor("w_gate", x->w_gate, y->w_gate, F * D, type);
        expect_same_tensor("w_up", x->w_up, y->w_up, F * D, type);
        expect_same_tensor("w_down", x->w_down, y->w_down, D * F, type);
    }
    expect_same_tensor("inv_freq", a->inv_freq, b->inv_freq, hd / 2, IK_GGML_F32);
}

/* Encodes text with both tokenizers (special tokens parsed or not) and
 * expects the same ids, and the same text decoded. */
static void expect_same_encoding(const struct ik_tok *a, const struct ik_tok *b, const char *text)
{
    struct ik_diag d = IK_DIAG_INIT;
    for (int special = 0; special < 2; special++) {
        int *ia, *ib;
        size_t na, nb;
        cr_assert_eq(ik_tok_encode(a, text, strlen(text), special, &ia, &na, &d), 0, "%s",
                     ik_diag_message(&d));
        cr_assert_eq(ik_tok_encode(b, text, strlen(text), special, &ib, &nb, &d), 0, "%s",
                     ik_diag_message(&d));
        cr_expect_eq(na, nb, "'%s': %zu ids, from the GGUF %zu", text, na, nb);
        for (size_t i = 0; i < na && i < nb; i++)
            cr_expect_eq(ia[i], ib[i], "'%s': id %zu is %d, from the GGUF %d", text, i, ia[i],
                         ib[i]);
        struct ik_buf da = IK_BUF_INIT, db = IK_BUF_INIT;
        cr_assert_eq(ik_tok_decode(a, ia, na, 0, &da, &d), 0);
        cr_assert_eq(ik_tok_decode(b, ia, na, 0, &db, &d), 0, "%s", ik_diag_message(&d));
        cr_expect_str_eq(db.data ? db.data : "", da.data ? da.data : "");
        ik_buf_free(&da);
        ik_buf_free(&db);
        free(ia);
        free(ib);
    }
    cr_expect_eq(ik_tok_bos(a), ik_tok_bos(b));
}

static const char *const texts[] = {
    "Once upon a time, there was a little girl named Lily.",
    "  two  spaces, a tab\tand a newline\n",
    "こんにちは、世界。日本語の文は byte fallback で読む。",
    "emoji \xf0\x9f\x98\x80 and an accent e\xcc\x81 (NFD) caf\xc3\xa9",
    "<s>special</s> spellings <|im_start|>user<|im_end|>",
    "",
};

/* ---- stories260K ---- */

static void stories(uint32_t type, double max_err)
{
    char *hf = lmt_path("examples/models/stories260K-hf");
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/stories260K.gguf", dir);
    struct ik_lm_model *a = load_model(hf);
    struct ik_tok *ta = load_tok(tp);
    write_gguf(a, ta, type, IK_CHAT_LLAMA2, gg);
    struct ik_lm_model *b = load_model(gg);
    expect_same_config(&a->cfg, &b->cfg);
    expect_same_weights(a, b, type);
    double err = logit_err(b, a);
    cr_expect(err <= max_err, "logits differ by %g (relative), more than %g", err, max_err);
    /* The GGUF is its own tokenizer. */
    char *found = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_find_for_model(gg, &found, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_str_eq(found, gg);
    struct ik_tok *tb = load_tok(found);
    cr_expect_eq(ik_tok_kind(tb), IK_TOK_SPM_BPE);
    cr_expect_eq(ik_tok_vocab_size(tb), 512);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        expect_same_encoding(ta, tb, texts[i]);
    free(found);
    ik_tok_free(ta);
    ik_tok_free(tb);
    ik_lm_model_free(a);
    ik_lm_model_free(b);
    tc_rmtree(dir);
    free(gg);
    free(hf);
    free(tp);
}

/* At F32 the weights are the same bits, so the forward is too (the logits
 * came out identical; 1e-5 relative is the bound).
 * F16 keeps 11 significant bits (rounding <= 2^-11 = 4.9e-4 relative per
 * weight), BF16 8 (2^-8 = 3.9e-3). What the file must get right, that every
 * weight is exactly the rounded one, expect_same_weights checks bit for
 * bit; the logits bound only says the rounding did what rounding does. The
 * errors compound through the layers: measured max |a-b|/(1+|b|) over 13
 * positions was 3.3e-3 (F16) and 5.3e-2 (BF16) for stories260K, 3.8e-3 and
 * 6.2e-2 for the random models, about 8x and 16x the per-weight bound; the
 * bounds below, 1e-2 and 1.5e-1, leave 2.5x room. */
#define F16_LOGITS 1e-2
#define BF16_LOGITS 1.5e-1
Test(lm_model_gguf, stories260K_f32) { stories(IK_GGML_F32, 1e-5); }
Test(lm_model_gguf, stories260K_f16) { stories(IK_GGML_F16, F16_LOGITS); }
Test(lm_model_gguf, stories260K_bf16) { stories(IK_GGML_BF16, BF16_LOGITS); }

/* The stories model's GGUF carries its chat template's Jinja text and the
 * keys llama.cpp reads. */
Test(lm_model_gguf, metadata)
{
    char *hf = lmt_path("examples/models/stories260K-hf");
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/s.gguf", dir);
    struct ik_lm_model *a = load_model(hf);
    struct ik_tok *ta = load_tok(tp);
    write_gguf(a, ta, IK_GGML_F16, IK_CHAT_LLAMA2, gg);
    size_t len;
    char *data = lmt_read(gg, &len);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, len, gg, &d), 0, "%s", ik_diag_message(&d));
    const char *s;
    size_t sl;
    uint64_t u;
    float f;
    bool b;
    cr_assert_eq(ik_gguf_get_str(&g, "general.architecture", &s, &sl, &d), 0);
    cr_expect(sl == 5 && memcmp(s, "llama", 5) == 0);
    const struct {
        const char *key;
        uint64_t v;
    } u32s[] = {{"llama.context_length", 512}, {"llama.embedding_length", 64},
                {"llama.block_count", 5}, {"llama.feed_forward_length", 172},
                {"llama.attention.head_count", 8}, {"llama.attention.head_count_kv", 4},
                {"llama.rope.dimension_count", 8}, {"llama.vocab_size", 512},
                {"general.file_type", 1}, {"tokenizer.ggml.bos_token_id", 1},
                {"tokenizer.ggml.eos_token_id", 2}, {"tokenizer.ggml.unknown_token_id", 0}};
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        cr_expect_eq(ik_gguf_find(&g, u32s[i].key)->type, IK_GGUF_U32, "%s", u32s[i].key);
        cr_expect_eq(ik_gguf_get_uint(&g, u32s[i].key, &u, &d), 0, "%s", u32s[i].key);
        cr_expect_eq(u, u32s[i].v, "%s = %llu", u32s[i].key, (unsigned long long)u);
    }
    cr_expect_null(ik_gguf_find(&g, "llama.attention.key_length"), "head_dim is D/H");
    cr_expect_eq(ik_gguf_get_f32(&g, "llama.attention.layer_norm_rms_epsilon", &f, &d), 0);
    cr_expect_eq(f, 1e-5f);
    cr_expect_eq(ik_gguf_get_f32(&g, "llama.rope.freq_base", &f, &d), 0);
    cr_expect_eq(f, 10000.0f);
    cr_expect_eq(ik_gguf_get_bool(&g, "tokenizer.ggml.add_bos_token", &b, &d), 0);
    cr_expect(b);
    cr_expect_eq(ik_gguf_get_str(&g, "tokenizer.ggml.model", &s, &sl, &d), 0);
    cr_expect(sl == 5 && memcmp(s, "llama", 5) == 0);
    cr_expect_eq(ik_gguf_get_str(&g, "tokenizer.chat_template", &s, &sl, &d), 0);
    cr_expect(sl == strlen(ik_lm_gguf_chat_jinja(IK_CHAT_LLAMA2)) &&
              memcmp(s, ik_lm_gguf_chat_jinja(IK_CHAT_LLAMA2), sl) == 0);
    int tmpl;
    cr_expect_eq(ik_lm_gguf_chat_detect(s, sl, &tmpl), 0);
    cr_expect_eq(tmpl, IK_CHAT_LLAMA2);
    tmpl = -1;
    cr_expect_eq(ik_lm_gguf_chat_template(gg, &tmpl, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(tmpl, IK_CHAT_LLAMA2);
    /* Tied: no output.weight; matrices F16, vectors F32, dims innermost first. */
    cr_expect_null(ik_gguf_find_tensor(&g, "output.weight"));
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(&g, "token_embd.weight");
    cr_assert_not_null(t);
    cr_expect(t->type == IK_GGML_F16 && t->n_dims == 2 && t->dims[0] == 64 && t->dims[1] == 512);
    t = ik_gguf_find_tensor(&g, "blk.4.ffn_down.weight");
    cr_assert_not_null(t);
    cr_expect(t->type == IK_GGML_F16 && t->dims[0] == 172 && t->dims[1] == 64);
    t = ik_gguf_find_tensor(&g, "blk.0.attn_norm.weight");
    cr_assert_not_null(t);
    cr_expect(t->type == IK_GGML_F32 && t->n_dims == 1 && t->dims[0] == 64);
    /* q is permuted for llama: GGUF row 1 is HF row hd/2 = 4 of head 0. */
    t = ik_gguf_find_tensor(&g, "blk.0.attn_q.weight");
    cr_assert_not_null(t);
    const unsigned char *q = t->data;
    for (int col = 0; col < 64; col++)
        cr_expect_eq(ik_f16_to_f32((uint16_t)(q[2 * (64 + col)] | q[2 * (64 + col) + 1] << 8)),
                     round_to(a->layers[0].wq[4 * 64 + col], IK_GGML_F16));
    cr_expect_eq(g.n_tensors, 2 + 5 * 9);
    /* The names llama.cpp's templates detect: every built-in's Jinja text
     * is recognised as itself; plain has none. */
    for (int i = 0; i < 3; i++) {
        const char *j = ik_lm_gguf_chat_jinja(i);
        cr_expect_eq(ik_lm_gguf_chat_detect(j, strlen(j), &tmpl), 0);
        cr_expect_eq(tmpl, i);
    }
    cr_expect_null(ik_lm_gguf_chat_jinja(IK_CHAT_PLAIN));
    ik_gguf_close(&g);
    free(data);
    ik_tok_free(ta);
    ik_lm_model_free(a);
    tc_rmtree(dir);
    free(gg);
    free(hf);
    free(tp);
}

/* ---- random models of every architecture ---- */

static void variant(struct ik_lm_config c, const char *extra, uint32_t type, double max_err)
{
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/m.gguf", dir);
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    lmt_write_random_model(dir, &c, extra, IK_ST_F32, 99, 0.3f);
    struct ik_lm_model *a = load_model(dir);
    struct ik_tok *t = load_tok(tp);
    write_gguf(a, t, type, IK_CHAT_CHATML, gg);
    struct ik_lm_model *b = load_model(gg);
    expect_same_config(&a->cfg, &b->cfg);
    expect_same_weights(a, b, type);
    double err = logit_err(b, a);
    cr_expect(err <= max_err, "%s: logits differ by %g (relative), more than %g",
              lmt_arch_class(c.arch), err, max_err);
    ik_tok_free(t);
    ik_lm_model_free(a);
    ik_lm_model_free(b);
    tc_rmtree(dir);
    free(gg);
    free(tp);
}

static struct ik_lm_config cfg(int arch) { return lmt_cfg(arch, 32, 48, 2, 8, 512); }

Test(lm_model_gguf, llama_bias_untied_f32)
{
    struct ik_lm_config c = cfg(IK_LM_LLAMA);
    c.qkv_bias = c.o_bias = 1;
    variant(c, NULL, IK_GGML_F32, 1e-5);
}

Test(lm_model_gguf, llama3_rope_scaling_tied_f32)
{
    struct ik_lm_config c = cfg(IK_LM_LLAMA);
    c.tie_embeddings = 1;
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_seq = 16;
    variant(c, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
               " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}",
            IK_GGML_F32, 1e-5);
}

/* Mistral is written as llama; its window (here longer than the 13 tokens
 * compared) is not. */
Test(lm_model_gguf, mistral_as_llama_bf16)
{
    struct ik_lm_config c = cfg(IK_LM_MISTRAL);
    variant(c, "\"sliding_window\": 32", IK_GGML_BF16, BF16_LOGITS);
}

Test(lm_model_gguf, qwen2_bias_f32) { variant(cfg(IK_LM_QWEN2), NULL, IK_GGML_F32, 1e-5); }

Test(lm_model_gguf, qwen3_gqa_head_dim_f16)
{
    struct ik_lm_config c = cfg(IK_LM_QWEN3);
    c.K = 1;
    c.head_dim = 16; /* H * head_dim != D: key_length and value_length are written */
    variant(c, NULL, IK_GGML_F16, F16_LOGITS);
    variant(c, NULL, IK_GGML_F32, 1e-5);
}

/* A llama.cpp file has rope_freqs.weight but not our ikada.rope keys: the
 * divisors alone give the same frequencies (the config then says nothing of
 * the scaling). */
Test(lm_model_gguf, rope_freqs_without_our_keys)
{
    struct ik_lm_config c = cfg(IK_LM_LLAMA);
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/m.gguf", dir);
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    lmt_write_random_model(dir, &c, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                           "\"original_max_position_embeddings\": 16}", IK_ST_F32, 7, 0.3f);
    struct ik_lm_model *a = load_model(dir);
    struct ik_tok *t = load_tok(tp);
    write_gguf(a, t, IK_GGML_F32, -1, gg);
    size_t len;
    char *data = lmt_read(gg, &len);
    for (char *p = data; (p = memmem(p, len - (size_t)(p - data), "ikada.rope", 10)) != NULL;)
        p[4] = 'X'; /* ikadX.rope...: keys llama.cpp's converter never writes */
    lmt_write(gg, data, len);
    free(data);
    struct ik_lm_model *b = load_model(gg);
    cr_expect_eq(b->cfg.rope_factor, 0);
    int tmpl = -1;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_lm_gguf_chat_template(gg, &tmpl, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(tmpl, IK_CHAT_PLAIN, "no tokenizer.chat_template: a base model");
    for (int j = 0; j < c.head_dim / 2; j++)
        cr_expect(fabsf(b->inv_freq[j] - a->inv_freq[j]) <= 1e-6f * a->inv_freq[j], "inv_freq[%d] "
                  "%g, expected %g", j, (double)b->inv_freq[j], (double)a->inv_freq[j]);
    cr_expect(a->inv_freq[c.head_dim / 2 - 1] < b->inv_freq[0] / 100, "the scaling is there");
    double err = logit_err(b, a);
    cr_expect(err <= 1e-5, "logits differ by %g", err);
    ik_tok_free(t);
    ik_lm_model_free(a);
    ik_lm_model_free(b);
    tc_rmtree(dir);
    free(gg);
    free(tp);
}

/* ---- Qwen3's tokenizer.json through GGUF ---- */

Test(lm_model_gguf, qwen3_tokenizer_as_gpt2)
{
    char *tj = lmt_shared("tokenizers/qwen3/tokenizer.json");
    if (tj == NULL)
        cr_skip_test("../shared/data/tokenizers/qwen3 is absent");
    struct ik_tok *ta = load_tok(tj);
    cr_assert_str_eq(ik_tok_gguf_pre(ta), "qwen2");
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 8, 8, 1, 2, 151936);
    c.tie_embeddings = 1;
    c.bos_id = 151643;
    c.eos_id[0] = 151645, c.n_eos = 1;
    struct ik_lm_model *m;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/q.gguf", dir);
    write_gguf(m, ta, IK_GGML_F32, IK_CHAT_CHATML, gg);
    struct ik_tok *tb = load_tok(gg);
    cr_expect_eq(ik_tok_kind(tb), IK_TOK_BYTE_BPE);
    cr_expect_eq(ik_tok_vocab_size(tb), 151936, "padded to the model's vocabulary");
    cr_expect_str_eq(ik_tok_piece(tb, 151669), "[PAD151669]");
    cr_expect_eq(ik_tok_piece_type(tb, 151669), IK_TOK_UNUSED);
    cr_expect_eq(ik_tok_n_merges(tb), ik_tok_n_merges(ta));
    cr_expect_str_eq(ik_tok_gguf_pre(tb), "qwen2");
    cr_expect_eq(ik_tok_eos(tb), 151645, "the config's EOS");
    cr_expect_eq(ik_tok_find(tb, "<|im_start|>"), 151644);
    char *gp = lmt_path("tests/data/lm/qwen3_golden_tokenization.json");
    json_t *golden = lmt_json(gp);
    const char *text;
    json_t *ids;
    json_object_foreach(json_object_get(golden, "examples"), text, ids)
        expect_same_encoding(ta, tb, text);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        expect_same_encoding(ta, tb, texts[i]);
    struct ik_lm_model *b = load_model(gg);
    cr_expect_eq(b->cfg.bos_id, 151643);
    cr_expect_eq(b->cfg.eos_id[0], 151645);
    json_decref(golden);
    free(gp);
    ik_lm_model_free(b);
    ik_lm_model_free(m);
    ik_tok_free(ta);
    ik_tok_free(tb);
    tc_rmtree(dir);
    free(gg);
    free(tj);
}

/* ---- refusals of the writer ---- */

Test(lm_model_gguf, writer_refusals)
{
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/m.gguf", dir);
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    struct ik_tok *t = load_tok(tp);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 8, 8, 1, 2, 512);
    c.qkv_bias = c.o_bias = 1;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
    struct ik_lm_gguf_opts o = {IK_GGML_F32, -1, NULL};
    cr_expect_eq(ik_lm_model_write_gguf(m, t, &o, gg, &d), IK_EVALIDATE);
    cr_expect(strstr(ik_diag_message(&d), "qwen3 architecture has no attention biases") != NULL,
              "%s", ik_diag_message(&d));
    ik_lm_model_free(m);
    c = lmt_cfg(IK_LM_LLAMA, 8, 8, 1, 2, 100);
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
    cr_expect_eq(ik_lm_model_write_gguf(m, t, &o, gg, &d), IK_EVALIDATE);
    cr_expect(strstr(ik_diag_message(&d), "the tokenizer has 512 pieces, more than the model's "
                     "vocab_size 100") != NULL, "%s", ik_diag_message(&d));
    ik_lm_model_free(m);
    c.V = 512;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
    o.type = IK_GGML_Q8_0;
    cr_expect_eq(ik_lm_model_write_gguf(m, t, &o, gg, &d), IK_EVALIDATE);
    cr_expect(strstr(ik_diag_message(&d), "ggml type 8 is not F32") != NULL, "%s",
              ik_diag_message(&d));
    ik_lm_model_free(m);
    ik_diag_free(&d);
    char *uni = lmt_shared("tokenizers/llm-jp-tokenizer-v3/llm-jp-tokenizer-100k.ver3.0b1.model");
    if (uni) {
        struct ik_tok *tu = load_tok(uni);
        c.V = ik_tok_vocab_size(tu);
        cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
        o.type = IK_GGML_F32;
        cr_expect_eq(ik_lm_model_write_gguf(m, tu, &o, gg, &d), IK_EVALIDATE);
        cr_expect(strstr(ik_diag_message(&d), "unigram") != NULL, "%s", ik_diag_message(&d));
        ik_lm_model_free(m);
        ik_tok_free(tu);
        free(uni);
    }
    cr_expect_eq(access(gg, F_OK), -1, "nothing was written");
    ik_diag_free(&d);
    ik_tok_free(t);
    tc_rmtree(dir);
    free(gg);
    free(tp);
}

/* ---- hand-built files: Q8_0, and what the reader refuses ---- */

/* What to spoil in a hand-built GGUF of a fixed small llama. */
struct spoil {
    const char *arch;          /* general.architecture */
    const char *general_type;  /* or NULL */
    bool no_block_count;
    const char *skip_tensor;   /* a tensor left out */
    const char *swap_dims;     /* a matrix with its dims swapped */
    uint32_t matrix_type;      /* IK_GGML_Q8_0, or another type written as raw bytes */
};

enum { HD = 32, HH = 2, HK = 1, HF = 64, HV = 40, HL = 1 };

/* Q8_0 of rows x 32k values: each block a scale s_b = (b % 7 + 1) / 64 and
 * the int8 values (i * 13 + b) % 255 - 127. The value at (row, col). */
static float q8_value(size_t row, size_t col, size_t in)
{
    size_t i = row * in + col, b = i / 32;
    float s = ik_f16_to_f32(ik_f32_to_f16((float)(b % 7 + 1) / 64.0f));
    return s * (float)((int)((i * 13 + b) % 255) - 127);
}

static unsigned char *q8_bytes(size_t rows, size_t in, size_t *nbytes)
{
    size_t n = rows * in;
    *nbytes = n / 32 * 34;
    unsigned char *p = ik_xmalloc(*nbytes);
    for (size_t b = 0; b < n / 32; b++) {
        uint16_t s = ik_f32_to_f16((float)(b % 7 + 1) / 64.0f);
        p[34 * b] = (unsigned char)(s & 0xff);
        p[34 * b + 1] = (unsigned char)(s >> 8);
        for (size_t k = 0; k < 32; k++) {
            size_t i = 32 * b + k;
            p[34 * b + 2 + k] = (unsigned char)(int8_t)((int)((i * 13 + b) % 255) - 127);
        }
    }
    return p;
}

static void hand_gguf(const char *path, const struct spoil *s)
{
    struct ik_gguf_writer *w = ik_gguf_writer_new(32);
    ik_gguf_w_str(w, "general.architecture", s->arch);
    if (s->general_type)
        ik_gguf_w_str(w, "general.type", s->general_type);
    char k[64];
#define U32(name, v) (snprintf(k, sizeof k, "%s.%s", s->arch, name), ik_gguf_w_u32(w, k, v))
    U32("context_length", 128);
    U32("embedding_length", HD);
    if (!s->no_block_count)
        U32("block_count", HL);
    U32("feed_forward_length", HF);
    U32("attention.head_count", HH);
    U32("attention.head_count_kv", HK);
#undef U32
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", s->arch);
    ik_gguf_w_f32(w, k, 1e-5f);
    static float ones[HF];
    for (int i = 0; i < HF; i++)
        ones[i] = 1.0f;
    const struct {
        const char *name;
        size_t out, in;
    } t[] = {
        {"token_embd.weight", HV, HD}, {"output_norm.weight", HD, 0},
        {"blk.0.attn_norm.weight", HD, 0}, {"blk.0.attn_q.weight", HD, HD},
        {"blk.0.attn_k.weight", HD / HH * HK, HD}, {"blk.0.attn_v.weight", HD / HH * HK, HD},
        {"blk.0.attn_output.weight", HD, HD}, {"blk.0.ffn_norm.weight", HD, 0},
        {"blk.0.ffn_gate.weight", HF, HD}, {"blk.0.ffn_up.weight", HF, HD},
        {"blk.0.ffn_down.weight", HD, HF},
    };
    unsigned char *bytes[sizeof t / sizeof t[0]] = {0};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (s->skip_tensor && strcmp(s->skip_tensor, t[i].name) == 0)
            continue;
        bool swap = s->swap_dims && strcmp(s->swap_dims, t[i].name) == 0;
        uint64_t dims[2] = {t[i].in ? (swap ? t[i].out : t[i].in) : t[i].out,
                            swap ? t[i].in : t[i].out};
        if (t[i].in == 0) {
            ik_gguf_w_tensor(w, t[i].name, IK_GGML_F32, 1, dims, ones);
            continue;
        }
        size_t nb;
        bytes[i] = q8_bytes(t[i].out, t[i].in, &nb);
        ik_gguf_w_tensor_bytes(w, t[i].name, s->matrix_type, 2, dims, bytes[i],
                               s->matrix_type == IK_GGML_Q8_0 ? nb : nb / 34 * 18);
    }
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_writer_write(w, path, &d), 0, "%s", ik_diag_message(&d));
    ik_gguf_writer_free(w);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        free(bytes[i]);
}

Test(lm_model_gguf, q8_0_dequantised_and_unpermuted)
{
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/q8.gguf", dir);
    struct spoil s = {"llama", NULL, false, NULL, NULL, IK_GGML_Q8_0};
    hand_gguf(gg, &s);
    struct ik_lm_model *m = load_model(gg);
    const struct ik_lm_config *c = &m->cfg;
    cr_expect(c->D == HD && c->F == HF && c->L == HL && c->H == HH && c->K == HK && c->V == HV);
    cr_expect(c->head_dim == HD / HH && c->tie_embeddings && !c->qkv_bias && !c->qk_norm);
    cr_expect_eq(c->max_seq, 128);
    cr_expect_eq(c->rope_theta, 10000.0f, "the default freq_base");
    size_t bad = 0;
    for (size_t r = 0; r < HD; r++)
        for (size_t col = 0; col < HD; col++) {
            /* HF row r of q is GGUF row g where src_row(g) == r. */
            size_t g = 0;
            while (ik_lm_gguf_qk_src_row(g, HD / HH) != r)
                g++;
            bad += m->layers[0].wq[r * HD + col] != q8_value(g, col, HD);
            bad += m->layers[0].wo[r * HD + col] != q8_value(r, col, HD);
        }
    for (size_t i = 0; i < (size_t)HV * HD; i++)
        bad += m->embed[i] != q8_value(i / HD, i % HD, HD);
    cr_expect_eq(bad, 0);
    float *lg = logits(m, (int[]){1, 2, 3}, 3);
    for (int i = 0; i < 3 * HV; i++)
        cr_expect(isfinite(lg[i]));
    free(lg);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    free(gg);
}

static void refused(const struct spoil *s, int code, const char *msg)
{
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/bad.gguf", dir);
    hand_gguf(gg, s);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_lm_model_load(&m, gg, &d), code, "%s", ik_diag_message(&d));
    cr_expect_null(m);
    char *want = ik_xasprintf("%s: error: %s", gg, msg);
    cr_expect_str_eq(ik_diag_message(&d), want);
    free(want);
    ik_diag_free(&d);
    tc_rmtree(dir);
    free(gg);
}

Test(lm_model_gguf, reader_refusals)
{
    struct spoil s = {"gemma2", NULL, false, NULL, NULL, IK_GGML_Q8_0};
    refused(&s, IK_EVALIDATE, "general.architecture 'gemma2' is not supported (llama, qwen2, qwen3, "
             "nemotron_h)");
    s.arch = "llama";
    s.general_type = "adapter";
    refused(&s, IK_EVALIDATE, "general.type is 'adapter': a LoRA adapter, not a model (give it as "
                              "the adapter, with its base model)");
    s.general_type = NULL;
    s.no_block_count = true;
    refused(&s, IK_ENOTFOUND, "key 'llama.block_count' is missing");
    s.no_block_count = false;
    s.skip_tensor = "blk.0.ffn_up.weight";
    refused(&s, IK_EVALIDATE, "tensor 'blk.0.ffn_up.weight' is missing");
    s.skip_tensor = "token_embd.weight";
    refused(&s, IK_EVALIDATE, "tensor 'token_embd.weight' is missing");
    s.skip_tensor = NULL;
    s.swap_dims = "blk.0.ffn_down.weight";
    refused(&s, IK_EVALIDATE, "tensor 'blk.0.ffn_down.weight' has dims [32, 64, 1, 1], expected "
                              "[64, 32] (innermost first)");
    s.swap_dims = NULL;
    s.matrix_type = 2; /* Q4_0: blocks of 32 in 18 bytes */
    refused(&s, IK_EVALIDATE, "tensor 'token_embd.weight' has ggml type 2, expected F32 (0), "
                              "F16 (1), BF16 (30) or Q8_0 (8)");
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_lm_model_load(&m, "/nonexistent/m.gguf", &d), -ENOENT);
    ik_diag_free(&d);

    /* A chat template that is none of the built-ins. */
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/c.gguf", dir);
    struct ik_gguf_writer *w = ik_gguf_writer_new(32);
    ik_gguf_w_str(w, "tokenizer.chat_template", "{{ messages[0]['content'] }}");
    cr_assert_eq(ik_gguf_writer_write(w, gg, &d), 0);
    ik_gguf_writer_free(w);
    int tmpl;
    cr_expect_eq(ik_lm_gguf_chat_template(gg, &tmpl, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("%s: error: its tokenizer.chat_template is none of the built-ins "
                              "(chatml, llama3, llama2)\nhint: set the param chat_template to "
                              "chatml, llama3, llama2 or plain", gg);
    cr_expect_str_eq(ik_diag_message(&d), want);
    free(want);
    ik_diag_free(&d);
    tc_rmtree(dir);
    free(gg);
}

/* A truncated file is the container reader's to refuse. */
Test(lm_model_gguf, truncated_file)
{
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/t.gguf", dir);
    struct spoil s = {"llama", NULL, false, NULL, NULL, IK_GGML_Q8_0};
    hand_gguf(gg, &s);
    size_t len;
    char *data = lmt_read(gg, &len);
    for (size_t cut = 0; cut < len; cut += len / 37 + 1) {
        lmt_write(gg, data, cut);
        struct ik_lm_model *m = NULL;
        struct ik_diag d = IK_DIAG_INIT;
        int rc = ik_lm_model_load(&m, gg, &d);
        cr_expect(rc == IK_EPARSE || rc == IK_ECORRUPT, "cut at %zu of %zu: %d %s", cut, len, rc,
                  ik_diag_message(&d));
        cr_expect_null(m);
        ik_diag_free(&d);
    }
    free(data);
    tc_rmtree(dir);
    free(gg);
}

/* The Llama-2 vocabulary of llama.cpp's test files, written into a model's
 * GGUF and read back, still encodes each of its 46 test inputs as it did. */
Test(lm_model_gguf, llama_spm_vocab_rewritten)
{
    char *gp = lmt_shared("tokenizers/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    if (gp == NULL)
        cr_skip_test("../shared/data/tokenizers/ggml-vocab-llama-spm is absent");
    struct ik_tok *ta = load_tok(gp);
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 8, 8, 1, 2, 32000);
    c.tie_embeddings = 1;
    c.bos_id = 1;
    c.eos_id[0] = 2, c.n_eos = 1;
    struct ik_lm_model *m;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0);
    char *dir = tc_tmpdir(), *gg = ik_xasprintf("%s/v.gguf", dir);
    write_gguf(m, ta, IK_GGML_F16, IK_CHAT_LLAMA2, gg);
    struct ik_tok *tb = load_tok(gg);
    char *ip = ik_xasprintf("%s.inp", gp);
    char *inp = lmt_read(ip, NULL);
    const char *sep = "\n__ggml_vocab_test__\n";
    int cases = 0;
    for (char *in = inp, *end; (end = strstr(in, sep)) != NULL; in = end + strlen(sep)) {
        *end = '\0';
        expect_same_encoding(ta, tb, in);
        cases++;
    }
    cr_expect_eq(cases, 46);
    for (int i = 0; i < 32000; i++)
        cr_assert(ik_tok_piece_type(ta, i) == ik_tok_piece_type(tb, i) &&
                  ik_tok_score(ta, i) == ik_tok_score(tb, i) &&
                  strcmp(ik_tok_piece(ta, i), ik_tok_piece(tb, i)) == 0, "piece %d", i);
    free(inp);
    free(ip);
    ik_tok_free(ta);
    ik_tok_free(tb);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    free(gg);
    free(gp);
}
