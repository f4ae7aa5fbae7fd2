/* tests/lm/test_nemotron_gguf.c - NemotronH in llama.cpp's nemotron_h GGUF
 * and in PEFT folders: a random backbone.* folder (lm_test.h) written as a
 * base GGUF reads back with the same config, the same weights (bit for bit
 * at F32; A through -exp and log) and the same log-probs; the file itself
 * holds what llama.cpp's converter writes (the per-layer arrays that name
 * each mixer, the ssm.* keys, A = -exp(A_log), the squeezed conv, the norm
 * per group, the vocabulary as long as token_embd, q/k rows permuted); an
 * adapter on every target (in_proj and out_proj included) goes to GGUF and
 * back bit for bit, with the same log-probs on the GGUF pair as on the
 * folder; the PEFT folder uses base_model.model.model.layers.N.mixer.<module>
 * and round-trips; `ikada lm score` agrees on all three forms; and damaged
 * files are refused naming the key or tensor. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/safetensors.h"
#include "lm/tokenizer.h"
#include "tests/lm/lm_test.h"

#define PATTERN "M-M*-M*"
/* tok512 has 512 pieces: the model's 520 rows make the writer pad the list. */
#define VOCAB 520

/* ---- fixtures ---- */

struct fx {
    char *dir;  /* the HF folder, and the GGUF files beside its tensors */
    char *gguf; /* dir/base.gguf */
    struct ik_lm_config cfg;
    struct ik_lm_model *hf;
    struct ik_tok *tok;
};

/* A random NemotronH folder of PATTERN (conv bias or not), loaded, with tok512
 * as its tokenizer.model; the base GGUF written at type. */
static void fx_init(struct fx *f, int conv_bias, uint32_t type)
{
    struct ik_diag d = IK_DIAG_INIT;
    f->dir = tc_tmpdir();
    f->cfg = lmt_nemotron_cfg(PATTERN, 32, 40, VOCAB);
    f->cfg.ssm.conv_bias = conv_bias;
    lmt_write_random_nemotron(f->dir, &f->cfg, IK_ST_F32, 5, 0.3f);
    char *tp = lmt_path("examples/models/stories260K-hf/tok512.model");
    char *dst = ik_xasprintf("%s/tokenizer.model", f->dir);
    cr_assert_eq(ik_copy_file_atomic(tp, dst, 0644, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_model_load(&f->hf, f->dir, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_tok_load(&f->tok, tp, &d), 0, "%s", ik_diag_message(&d));
    f->gguf = ik_xasprintf("%s/base.gguf", f->dir);
    struct ik_lm_gguf_opts o = {type, -1, "random nemotron_h"};
    cr_assert_eq(ik_lm_model_write_gguf(f->hf, f->tok, &o, f->gguf, &d), 0, "%s",
                 ik_diag_message(&d));
    free(tp);
    free(dst);
}

static void fx_free(struct fx *f)
{
    ik_lm_model_free(f->hf);
    ik_tok_free(f->tok);
    tc_rmtree(f->dir);
    free(f->gguf);
}

static struct ik_lm_model *load(const char *path)
{
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, path, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

/* The whole file, opened (free the buffer with ik_gguf_close and free). */
static char *open_file(const char *path, struct ik_gguf *g)
{
    char *data;
    size_t size;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, &size, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_gguf_open(g, data, size, path, &d), 0, "%s", ik_diag_message(&d));
    return data;
}

/* log p of 24 fixed tokens under m (with adapter a, or none): 23 values. */
enum { NT = 24 };
static void score(const struct ik_lm_model *m, const struct ik_lora *a, float *lp)
{
    int tok[NT];
    for (int i = 0; i < NT; i++)
        tok[i] = (i * 53 + 11) % m->cfg.V;
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_state_new(&s, m, 64, 8, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_state_set_adapter(s, a, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_score(s, tok, NT, lp, &d), 0, "%s", ik_diag_message(&d));
    ik_lm_state_free(s);
}

static double max_diff(const float *a, const float *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static void expect_bits(const char *what, int l, const float *a, const float *b, size_t n)
{
    cr_assert(a && b, "layer %d %s: missing", l, what);
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "layer %d %s differs", l, what);
}

/* ---- the base ---- */

Test(lm_nemotron_gguf, base_round_trip_f32)
{
    struct fx f;
    fx_init(&f, 1, IK_GGML_F32);
    struct ik_lm_model *g = load(f.gguf);
    const struct ik_lm_config *a = &f.hf->cfg, *b = &g->cfg;
    cr_expect_eq(b->arch, IK_LM_NEMOTRON_H);
    cr_expect(b->D == a->D && b->F == a->F && b->L == a->L && b->H == a->H && b->K == a->K &&
              b->head_dim == a->head_dim && b->V == a->V && b->max_seq == a->max_seq);
    cr_expect(b->norm_eps == a->norm_eps && b->no_rope && !b->tie_embeddings);
    cr_expect(memcmp(b->block, a->block, sizeof a->block) == 0, "the layers' mixers differ");
    cr_expect(memcmp(&b->ssm, &a->ssm, sizeof a->ssm) == 0, "ssm: heads %d/%d head_dim %d/%d "
              "groups %d/%d state %d/%d conv %d/%d chunk %d/%d bias %d/%d", b->ssm.heads,
              a->ssm.heads, b->ssm.head_dim, a->ssm.head_dim, b->ssm.groups, a->ssm.groups,
              b->ssm.state, a->ssm.state, b->ssm.conv_kernel, a->ssm.conv_kernel, b->ssm.chunk,
              a->ssm.chunk, b->ssm.conv_bias, a->ssm.conv_bias);
    cr_expect(b->bos_id == a->bos_id && b->n_eos >= 1 && b->eos_id[0] == a->eos_id[0]);
    cr_assert_eq(g->n_params, f.hf->n_params);

    size_t D = (size_t)a->D, nh = (size_t)a->ssm.heads, inner = (size_t)ik_lm_ssm_inner(a);
    size_t conv = (size_t)ik_lm_ssm_conv_dim(a), qw = (size_t)(a->H * a->head_dim);
    expect_bits("embed", -1, f.hf->embed, g->embed, (size_t)a->V * D);
    expect_bits("lm_head", -1, f.hf->lm_head, g->lm_head, (size_t)a->V * D);
    for (int l = 0; l < a->L; l++) {
        const struct ik_lm_layer *x = &f.hf->layers[l], *y = &g->layers[l];
        cr_expect_eq(y->block, x->block);
        expect_bits("norm", l, x->attn_norm, y->attn_norm, D);
        if (x->block == IK_LM_BLOCK_ATTN) {
            expect_bits("wq", l, x->wq, y->wq, qw * D); /* permuted and back */
            expect_bits("wk", l, x->wk, y->wk, (size_t)(a->K * a->head_dim) * D);
            expect_bits("wo", l, x->wo, y->wo, D * qw);
        } else if (x->block == IK_LM_BLOCK_MLP) {
            expect_bits("up", l, x->w_up, y->w_up, (size_t)a->F * D);
            expect_bits("down", l, x->w_down, y->w_down, D * (size_t)a->F);
        } else {
            expect_bits("in_proj", l, x->ssm_in, y->ssm_in, (size_t)ik_lm_ssm_in_dim(a) * D);
            expect_bits("conv1d", l, x->conv_w, y->conv_w, conv * (size_t)a->ssm.conv_kernel);
            expect_bits("conv1d.bias", l, x->conv_b, y->conv_b, conv);
            expect_bits("dt_bias", l, x->dt_bias, y->dt_bias, nh);
            expect_bits("D", l, x->ssm_D, y->ssm_D, nh);
            expect_bits("norm", l, x->ssm_norm, y->ssm_norm, inner);
            expect_bits("out_proj", l, x->ssm_out, y->ssm_out, D * inner);
            for (size_t h = 0; h < nh; h++) /* log(-(-exp(A_log))): one rounding each way */
                cr_expect_float_eq(y->A_log[h], x->A_log[h], 4e-7 * (1 + fabsf(x->A_log[h])),
                                   "layer %d A_log[%zu]", l, h);
        }
    }
    float la[NT - 1], lb[NT - 1];
    score(f.hf, NULL, la);
    score(g, NULL, lb);
    cr_expect_leq(max_diff(la, lb, NT - 1), 1e-5, "log-probs differ by %g", max_diff(la, lb, NT - 1));
    ik_lm_model_free(g);
    fx_free(&f);
}

/* llama.cpp always adds ssm_conv1d.bias: a model without one gets zeros,
 * which read back as a bias that changes nothing. */
Test(lm_nemotron_gguf, no_conv_bias_written_as_zeros)
{
    struct fx f;
    fx_init(&f, 0, IK_GGML_F32);
    struct ik_lm_model *g = load(f.gguf);
    cr_expect_eq(g->cfg.ssm.conv_bias, 1);
    for (int i = 0; i < ik_lm_ssm_conv_dim(&g->cfg); i++)
        cr_expect_eq(g->layers[0].conv_b[i], 0.0f);
    float la[NT - 1], lb[NT - 1];
    score(f.hf, NULL, la);
    score(g, NULL, lb);
    cr_expect_leq(max_diff(la, lb, NT - 1), 1e-5);
    ik_lm_model_free(g);
    fx_free(&f);
}

/* "nemotron_h.<name>"'s array, as ints (n of them). */
static int *int_array(const struct ik_gguf *g, const char *name, uint64_t *n)
{
    char k[96];
    snprintf(k, sizeof k, "nemotron_h.%s", name);
    struct ik_gguf_rd r;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_get_arr(g, k, IK_GGUF_I32, &r, n, &d), 0, "%s", ik_diag_message(&d));
    int *v = ik_xcalloc(*n + 1, sizeof *v);
    for (uint64_t i = 0; i < *n; i++)
        v[i] = (int)(int32_t)ik_gguf_rd_uint(&r, 4);
    return v;
}

static uint64_t key_uint(const struct ik_gguf *g, const char *k)
{
    uint64_t v = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_get_uint(g, k, &v, &d), 0, "%s", ik_diag_message(&d));
    return v;
}

static const struct ik_gguf_tensor *tensor_of(const struct ik_gguf *g, const char *name,
                                              uint32_t type, uint64_t d0, uint64_t d1)
{
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(g, name);
    cr_assert_not_null(t, "tensor %s is missing", name);
    cr_expect_eq(t->type, type, "%s has type %u", name, t->type);
    cr_expect(t->dims[0] == d0 && t->dims[1] == d1, "%s has dims [%llu, %llu], expected [%llu, %llu]",
              name, (unsigned long long)t->dims[0], (unsigned long long)t->dims[1],
              (unsigned long long)d0, (unsigned long long)d1);
    return t;
}

static float f32_at(const struct ik_gguf_tensor *t, size_t i)
{
    float v;
    memcpy(&v, (const char *)t->data + 4 * i, 4);
    return v;
}

/* What llama.cpp reads, read from the file itself (F16: the matrices in
 * F16, the conv, A, D and norms F32 as the converter writes them). */
Test(lm_nemotron_gguf, file_layout_as_llama_cpp_reads_it)
{
    struct fx f;
    fx_init(&f, 1, IK_GGML_F16);
    struct ik_gguf g;
    char *data = open_file(f.gguf, &g);
    const struct ik_lm_config *c = &f.cfg;
    const char *s;
    size_t n;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_get_str(&g, "general.architecture", &s, &n, &d), 0);
    cr_expect(ik_gguf_key_is(s, n, "nemotron_h"));
    uint64_t nk, nf;
    int *kv = int_array(&g, "attention.head_count_kv", &nk);
    int *ff = int_array(&g, "feed_forward_length", &nf);
    cr_assert(nk == (uint64_t)c->L && nf == (uint64_t)c->L);
    for (int l = 0; l < c->L; l++) { /* llama.cpp: Mamba iff both 0, attention iff ff 0 */
        char ch = PATTERN[l];
        cr_expect_eq(kv[l], ch == '*' ? c->K : 0, "layer %d head_count_kv %d", l, kv[l]);
        cr_expect_eq(ff[l], ch == '-' ? c->F : 0, "layer %d feed_forward_length %d", l, ff[l]);
    }
    free(kv);
    free(ff);
    cr_expect_eq(key_uint(&g, "nemotron_h.attention.head_count"), (uint64_t)c->H);
    cr_expect_eq(key_uint(&g, "nemotron_h.ssm.inner_size"), (uint64_t)ik_lm_ssm_inner(c));
    cr_expect_eq(key_uint(&g, "nemotron_h.ssm.time_step_rank"), (uint64_t)c->ssm.heads);
    cr_expect_eq(key_uint(&g, "nemotron_h.ssm.group_count"), (uint64_t)c->ssm.groups);
    cr_expect_eq(key_uint(&g, "nemotron_h.ssm.state_size"), (uint64_t)c->ssm.state);
    cr_expect_eq(key_uint(&g, "nemotron_h.ssm.conv_kernel"), (uint64_t)c->ssm.conv_kernel);
    float eps;
    cr_assert_eq(ik_gguf_get_f32(&g, "nemotron_h.attention.layer_norm_epsilon", &eps, &d), 0);
    cr_expect_eq(eps, c->norm_eps);
    cr_expect_null(ik_gguf_find(&g, "nemotron_h.rope.freq_base"));
    /* The token list is exactly as long as token_embd (llama.cpp refuses otherwise). */
    const struct ik_gguf_kv *toks = ik_gguf_find(&g, "tokenizer.ggml.tokens");
    cr_assert_not_null(toks);
    cr_expect_eq(toks->n, (uint64_t)VOCAB);
    tensor_of(&g, "token_embd.weight", IK_GGML_F16, (uint64_t)c->D, VOCAB);

    uint64_t nh = (uint64_t)c->ssm.heads, inner = (uint64_t)ik_lm_ssm_inner(c);
    const struct ik_lm_layer *y = &f.hf->layers[0];
    tensor_of(&g, "blk.0.ssm_in.weight", IK_GGML_F16, (uint64_t)c->D, (uint64_t)ik_lm_ssm_in_dim(c));
    tensor_of(&g, "blk.0.ssm_out.weight", IK_GGML_F16, inner, (uint64_t)c->D);
    const struct ik_gguf_tensor *cv = tensor_of(&g, "blk.0.ssm_conv1d.weight", IK_GGML_F32,
                                                (uint64_t)c->ssm.conv_kernel,
                                                (uint64_t)ik_lm_ssm_conv_dim(c));
    cr_expect(memcmp(cv->data, y->conv_w, cv->nbytes) == 0, "the conv taps are HF's (conv_dim, 1, Kc) squeezed");
    tensor_of(&g, "blk.0.ssm_conv1d.bias", IK_GGML_F32, (uint64_t)ik_lm_ssm_conv_dim(c), 1);
    tensor_of(&g, "blk.0.ssm_dt.bias", IK_GGML_F32, nh, 1);
    const struct ik_gguf_tensor *A = tensor_of(&g, "blk.0.ssm_a", IK_GGML_F32, 1, nh);
    for (size_t h = 0; h < nh; h++)
        cr_expect_eq(f32_at(A, h), (float)-exp((double)y->A_log[h]), "ssm_a[%zu]", h);
    tensor_of(&g, "blk.0.ssm_d", IK_GGML_F32, 1, nh);
    tensor_of(&g, "blk.0.ssm_norm.weight", IK_GGML_F32, inner / (uint64_t)c->ssm.groups,
              (uint64_t)c->ssm.groups);
    cr_expect_null(ik_gguf_find_tensor(&g, "blk.0.attn_q.weight"), "a Mamba layer has no attention");
    cr_expect_null(ik_gguf_find_tensor(&g, "blk.1.ffn_gate.weight"), "the MLP has no gate");
    cr_expect_null(ik_gguf_find_tensor(&g, "blk.3.ffn_norm.weight"), "one norm per layer");
    tensor_of(&g, "blk.1.ffn_up.weight", IK_GGML_F16, (uint64_t)c->D, (uint64_t)c->F);
    /* q rows permuted within each head as llama.cpp's LlamaModel.permute. */
    const struct ik_gguf_tensor *q = tensor_of(&g, "blk.3.attn_q.weight", IK_GGML_F16,
                                               (uint64_t)c->D, (uint64_t)(c->H * c->head_dim));
    const uint16_t *qh = q->data;
    for (size_t r = 0; r < (size_t)(c->H * c->head_dim); r++) {
        size_t src = ik_lm_gguf_qk_src_row(r, c->head_dim);
        cr_expect_eq(qh[r * (size_t)c->D], ik_f32_to_f16(f.hf->layers[3].wq[src * (size_t)c->D]),
                     "attn_q row %zu holds HF row %zu", r, src);
    }
    ik_gguf_close(&g);
    free(data);
    fx_free(&f);
}

/* ---- damaged files ---- */

/* Rewrites path with the 4 bytes at the value of key (for an array: its
 * element i) set to v. */
static void patch_key(const char *path, const char *key, int i, uint32_t v)
{
    struct ik_gguf g;
    char *data = open_file(path, &g);
    const struct ik_gguf_kv *kv = ik_gguf_find(&g, key);
    cr_assert_not_null(kv, "%s", key);
    size_t off = kv->type == IK_GGUF_ARR ? kv->elems_off + 4 * (size_t)i : kv->off;
    size_t size = g.size;
    ik_gguf_close(&g);
    memcpy(data + off, &v, 4);
    lmt_write(path, data, size);
    free(data);
}

/* Rewrites path with element i of F32 tensor name set to v. */
static void patch_tensor(const char *path, const char *name, size_t i, float v)
{
    struct ik_gguf g;
    char *data = open_file(path, &g);
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(&g, name);
    cr_assert_not_null(t, "%s", name);
    size_t off = (size_t)((const char *)t->data - data) + 4 * i, size = g.size;
    ik_gguf_close(&g);
    memcpy(data + off, &v, 4);
    lmt_write(path, data, size);
    free(data);
}

static void expect_refused(const char *path, const char *what)
{
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_lm_model_load(&m, path, &d), IK_EVALIDATE, "%s", ik_diag_message(&d));
    cr_expect(strstr(ik_diag_message(&d), what) != NULL, "'%s' lacks '%s'", ik_diag_message(&d), what);
    cr_expect(strstr(ik_diag_message(&d), path) != NULL, "'%s' does not name the file",
              ik_diag_message(&d));
    ik_diag_free(&d);
}

Test(lm_nemotron_gguf, damaged_files_refused)
{
    struct fx f;
    fx_init(&f, 1, IK_GGML_F32);
    char *data;
    size_t size;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(f.gguf, &data, &size, &d), 0);
    /* Two attention layers (3 and 6) with other KV head counts. */
    patch_key(f.gguf, "nemotron_h.attention.head_count_kv", 6, 4);
    expect_refused(f.gguf, "is 2 at layer 3 but 4 at layer 6");
    lmt_write(f.gguf, data, size);
    patch_key(f.gguf, "nemotron_h.ssm.time_step_rank", 0, 3);
    expect_refused(f.gguf, "inner_size 32 must be a multiple of time_step_rank 3");
    lmt_write(f.gguf, data, size);
    patch_tensor(f.gguf, "blk.2.ssm_a", 5, 0.5f);
    expect_refused(f.gguf, "tensor 'blk.2.ssm_a' holds 0.5 at 5");
    lmt_write(f.gguf, data, size);
    patch_key(f.gguf, "nemotron_h.feed_forward_length", 0, 40); /* layer 0 becomes an MLP */
    expect_refused(f.gguf, "tensor 'blk.0.ffn_up.weight' is missing");
    free(data);
    fx_free(&f);
}

/* ---- the adapter ---- */

/* An adapter on every NemotronH target, with PEFT's A and a random B. */
static struct ik_lora *new_adapter(const struct ik_lm_config *c)
{
    struct ik_lora_config lc = {4, 8.0f, 0.0f, IK_LORA_ALL};
    return lmt_random_adapter(c, &lc, 0.3f);
}

static struct ik_lora *load_adapter(const char *path, const struct ik_lm_config *c)
{
    struct ik_lora *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_load_gguf(&a, c, path, &d), 0, "%s", ik_diag_message(&d));
    return a;
}

Test(lm_nemotron_gguf, adapter_round_trip_and_log_probs)
{
    struct fx f;
    fx_init(&f, 1, IK_GGML_F32);
    struct ik_lora *a = new_adapter(&f.cfg);
    cr_expect_eq(a->cfg.targets, ik_lora_family_targets(&f.cfg), "all: every NemotronH target");
    char *path = ik_xasprintf("%s/lora.gguf", f.dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_write_gguf(a, &f.cfg, IK_GGML_F32, path, &d), 0, "%s", ik_diag_message(&d));

    struct ik_gguf g;
    char *data = open_file(path, &g);
    const char *s;
    size_t n;
    cr_assert_eq(ik_gguf_get_str(&g, "general.architecture", &s, &n, &d), 0);
    cr_expect(ik_gguf_key_is(s, n, "nemotron_h"));
    int r = a->cfg.r, D = f.cfg.D;
    tensor_of(&g, "blk.0.ssm_in.weight.lora_a", IK_GGML_F32, (uint64_t)D, (uint64_t)r);
    tensor_of(&g, "blk.0.ssm_in.weight.lora_b", IK_GGML_F32, (uint64_t)r,
              (uint64_t)ik_lm_ssm_in_dim(&f.cfg));
    tensor_of(&g, "blk.0.ssm_out.weight.lora_a", IK_GGML_F32, (uint64_t)ik_lm_ssm_inner(&f.cfg),
              (uint64_t)r);
    tensor_of(&g, "blk.0.ssm_out.weight.lora_b", IK_GGML_F32, (uint64_t)r, (uint64_t)D);
    tensor_of(&g, "blk.1.ffn_down.weight.lora_b", IK_GGML_F32, (uint64_t)r, (uint64_t)D);
    const struct ik_gguf_tensor *qb = tensor_of(&g, "blk.3.attn_q.weight.lora_b", IK_GGML_F32,
                                                (uint64_t)r, (uint64_t)(f.cfg.H * f.cfg.head_dim));
    const struct ik_lora_module *mq = &a->mod[3 * IK_LORA_NT + IK_LORA_Q];
    for (size_t row = 0; row < (size_t)mq->out; row++) /* as the base's q rows */
        cr_expect_eq(f32_at(qb, row * (size_t)r),
                     mq->B[ik_lm_gguf_qk_src_row(row, f.cfg.head_dim) * (size_t)r], "row %zu", row);
    cr_expect_null(ik_gguf_find_tensor(&g, "blk.0.attn_q.weight.lora_a"));
    cr_expect_null(ik_gguf_find_tensor(&g, "blk.1.ffn_gate.weight.lora_a"));
    ik_gguf_close(&g);
    free(data);

    struct ik_lora *b = load_adapter(path, &f.cfg);
    cr_assert_eq(b->n_params, a->n_params);
    cr_expect(memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0);
    cr_expect_eq(b->cfg.targets, a->cfg.targets);
    cr_expect_eq(b->cfg.alpha, a->cfg.alpha);

    /* The GGUF pair scores as the folder with the adapter, and the adapter
     * matters (in_proj and out_proj included: an adapter on them alone). */
    struct ik_lm_model *gm = load(f.gguf);
    float base[NT - 1], hf[NT - 1], gg[NT - 1], io[NT - 1];
    score(f.hf, NULL, base);
    score(f.hf, a, hf);
    score(gm, b, gg);
    cr_expect_leq(max_diff(hf, gg, NT - 1), 1e-5, "GGUF pair vs folder: %g", max_diff(hf, gg, NT - 1));
    cr_expect_gt(max_diff(hf, base, NT - 1), 1e-2, "the adapter changed nothing");
    struct ik_lora_config lc = {4, 8.0f, 0.0f, 1u << IK_LORA_IN | 1u << IK_LORA_OUT};
    struct ik_lora *m = NULL;
    cr_assert_eq(ik_lora_new(&m, &f.cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    for (int l = 0; l < f.cfg.L; l++)
        for (int t = IK_LORA_IN; t <= IK_LORA_OUT; t++)
            if (m->mod[l * IK_LORA_NT + t].B)
                memcpy(m->mod[l * IK_LORA_NT + t].B, a->mod[l * IK_LORA_NT + t].B,
                       (size_t)a->mod[l * IK_LORA_NT + t].out * 4 * sizeof(float));
    char *mp = ik_xasprintf("%s/mamba.gguf", f.dir);
    cr_assert_eq(ik_lora_write_gguf(m, &f.cfg, IK_GGML_F32, mp, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora *mb = load_adapter(mp, &f.cfg);
    score(gm, mb, io);
    cr_expect_gt(max_diff(io, base, NT - 1), 1e-2, "ssm_in/ssm_out changed nothing");
    ik_lora_free(mb);
    ik_lora_free(m);
    free(mp);
    ik_lm_model_free(gm);
    ik_lora_free(a);
    ik_lora_free(b);
    free(path);
    fx_free(&f);
}

/* An adapter written for another layer pattern names projections this
 * model's layers lack: refused by the tensor's name, as llama.cpp refuses a
 * LoRA tensor without its base tensor. */
Test(lm_nemotron_gguf, adapter_of_another_pattern_refused)
{
    struct ik_lm_config c = lmt_nemotron_cfg(PATTERN, 32, 40, VOCAB);
    struct ik_lm_config other = lmt_nemotron_cfg("*-M*-M*", 32, 40, VOCAB);
    struct ik_lora *a = new_adapter(&other);
    char *dir = tc_tmpdir(), *path = ik_xasprintf("%s/lora.gguf", dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_write_gguf(a, &other, IK_GGML_F32, path, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora *b = NULL;
    cr_expect_eq(ik_lora_load_gguf(&b, &c, path, &d), IK_EVALIDATE);
    cr_expect(strstr(ik_diag_message(&d), "'blk.0.attn_q.weight'") &&
              strstr(ik_diag_message(&d), "ssm_in, ssm_out in Mamba-2 layers"), "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    /* The writer checks the shape the adapter was made for. */
    cr_expect_eq(ik_lora_write_gguf(a, &c, IK_GGML_F32, path, &d), IK_EVALIDATE);
    ik_diag_free(&d);
    ik_lora_free(a);
    tc_rmtree(dir);
    free(path);
}

/* ---- the PEFT folder ---- */

Test(lm_nemotron_gguf, peft_folder_names_and_round_trip)
{
    struct fx f;
    fx_init(&f, 1, IK_GGML_F32);
    struct ik_lora *a = new_adapter(&f.cfg);
    char *peft = ik_xasprintf("%s/peft", f.dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_save(a, peft, NULL, &d), 0, "%s", ik_diag_message(&d));

    char *cp = ik_xasprintf("%s/adapter_config.json", peft);
    json_t *j = lmt_json(cp);
    json_t *tm = json_object_get(j, "target_modules");
    const char *want[] = {"q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "in_proj",
                          "out_proj"};
    cr_expect_eq(json_array_size(tm), 8);
    for (size_t i = 0; i < 8; i++) {
        bool found = false;
        for (size_t k = 0; k < json_array_size(tm); k++)
            found |= strcmp(json_string_value(json_array_get(tm, k)), want[i]) == 0;
        cr_expect(found, "target_modules lacks %s", want[i]);
    }
    json_decref(j);

    /* Hugging Face's NemotronH module paths: model.layers.N.mixer.<module>
     * (a backbone.layers... key would load into transformers and be ignored). */
    char *sp = ik_xasprintf("%s/adapter_model.safetensors", peft);
    struct ik_st *st = NULL;
    cr_assert_eq(ik_st_open(&st, sp, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(ik_st_count(st), (size_t)2 * (3 * 2 + 2 * 2 + 2 * 4));
    const char *names[] = {"base_model.model.model.layers.0.mixer.in_proj.lora_A.weight",
                           "base_model.model.model.layers.0.mixer.out_proj.lora_B.weight",
                           "base_model.model.model.layers.1.mixer.up_proj.lora_A.weight",
                           "base_model.model.model.layers.3.mixer.q_proj.lora_B.weight",
                           "base_model.model.model.layers.6.mixer.o_proj.lora_A.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_not_null(ik_st_find(st, names[i]), "%s is missing", names[i]);
    cr_expect_null(ik_st_find(st, "base_model.model.model.layers.0.mixer.q_proj.lora_A.weight"));
    const struct ik_st_tensor *t = ik_st_find(st, names[0]);
    cr_expect(t && t->shape[0] == a->cfg.r && t->shape[1] == f.cfg.D);
    ik_st_close(st);

    struct ik_lora *b = NULL;
    cr_assert_eq(ik_lora_load(&b, &f.cfg, peft, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(b->n_params, a->n_params);
    cr_expect(memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0);
    cr_expect_eq(b->cfg.targets, a->cfg.targets);

    /* `ikada lm score`: the folder + PEFT, the folder + adapter GGUF and the
     * GGUF pair give the same log-probs. */
    char *lg = ik_xasprintf("%s/lora.gguf", f.dir);
    cr_assert_eq(ik_lora_write_gguf(a, &f.cfg, IK_GGML_F32, lg, &d), 0, "%s", ik_diag_message(&d));
    const char *text = "Once upon a time, there was a little girl named Lily.";
    size_t np, nl, ng;
    double *sp1 = lmt_cli_score(f.dir, peft, text, &np);
    double *sl = lmt_cli_score(f.dir, lg, text, &nl);
    double *sg = lmt_cli_score(f.gguf, lg, text, &ng);
    cr_assert(np > 5 && nl == np && ng == np, "%zu %zu %zu log-probs", np, nl, ng);
    for (size_t i = 0; i < np; i++) {
        cr_expect_leq(fabs(sl[i] - sp1[i]), 1e-4 * fabs(sp1[i]) + 1e-6, "token %zu", i);
        cr_expect_leq(fabs(sg[i] - sp1[i]), 1e-4 * fabs(sp1[i]) + 1e-6, "token %zu (GGUF pair)", i);
    }
    free(sp1);
    free(sl);
    free(sg);
    free(lg);
    ik_lora_free(a);
    ik_lora_free(b);
    free(sp);
    free(cp);
    free(peft);
    fx_free(&f);
}
