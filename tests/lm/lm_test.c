/* tests/lm/lm_test.c - helpers for the lm/ tests (see lm_test.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/prng.h"
#include "base/xmalloc.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

char *lmt_path(const char *rel) { return ik_xasprintf("%s/%s", IK_TEST_SRCDIR, rel); }

char *lmt_shared(const char *rel)
{
    char *p = ik_xasprintf("%s/../shared/data/%s", IK_TEST_SRCDIR, rel);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return NULL;
}

json_t *lmt_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert(j != NULL, "%s:%d: %s", path, e.line, e.text);
    return j;
}

struct ik_lm_config lmt_cfg(int arch, int D, int F, int L, int head_dim, int V)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.D = D;
    c.F = F;
    c.L = L;
    c.H = 4;
    c.K = 2;
    c.head_dim = head_dim;
    c.V = V;
    c.max_seq = 64;
    c.norm_eps = 1e-6f;
    c.rope_theta = 10000.0f;
    c.qkv_bias = arch == IK_LM_QWEN2;
    c.qk_norm = arch == IK_LM_QWEN3;
    return c;
}

void lmt_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot create %s", path);
    cr_assert(fwrite(data, 1, len, f) == len);
    cr_assert(fclose(f) == 0);
}

char *lmt_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    struct ik_buf b = IK_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ik_buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return ik_buf_steal(&b);
}

const char *lmt_arch_class(int arch)
{
    static const char *const n[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                                    "Qwen3ForCausalLM", "NemotronHForCausalLM"};
    return n[arch];
}

struct wlist {
    struct ik_st_wtensor *t;
    size_t n, cap;
    unsigned rng;
    int dtype;
    float scale;
};

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Adds a tensor of shape (a), (a, b) or (a, b, c) (trailing 0s drop) with
 * the values v (n of them) in w's dtype. */
static void add_values(struct wlist *w, const char *name, int64_t a, int64_t b, int64_t c,
                       const float *v)
{
    w->t = ik_xgrow(w->t, &w->cap, w->n + 1, sizeof *w->t);
    struct ik_st_wtensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    t->name = ik_xstrdup(name);
    t->dtype = w->dtype;
    t->ndim = c ? 3 : b ? 2 : 1;
    t->shape[0] = a;
    t->shape[1] = b;
    t->shape[2] = c;
    size_t n = (size_t)a * (size_t)(b ? b : 1) * (size_t)(c ? c : 1);
    void *data = ik_xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        if (w->dtype == IK_ST_F32)
            ((float *)data)[i] = v[i];
        else
            ((uint16_t *)data)[i] = w->dtype == IK_ST_F16 ? ik_f32_to_f16(v[i]) : ik_f32_to_bf16(v[i]);
    }
    t->data = data;
}

/* Adds a random tensor of shape (a, b, c) as add_values; norm tensors get values near 1. */
static void add3(struct wlist *w, const char *name, int64_t a, int64_t b, int64_t c, int is_norm)
{
    size_t n = (size_t)a * (size_t)(b ? b : 1) * (size_t)(c ? c : 1);
    float *v = ik_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = is_norm ? 1.0f + 0.2f * frand(&w->rng) : w->scale * frand(&w->rng);
    add_values(w, name, a, b, c, v);
    free(v);
}

static void add(struct wlist *w, const char *name, int64_t a, int64_t b, int is_norm)
{
    add3(w, name, a, b, 0, is_norm);
}

/* Tensor <prefix>.layers.<l>.<suffix>, random as add. */
static void add_layer(struct wlist *w, const char *prefix, int l, const char *suffix, int64_t a,
                      int64_t b, int is_norm)
{
    char n[160];
    snprintf(n, sizeof n, "%s.layers.%d.%s", prefix, l, suffix);
    add(w, n, a, b, is_norm);
}

/* The embedding, the final norm and an untied lm_head. */
static void add_globals(struct wlist *w, const struct ik_lm_config *c, const char *embed,
                        const char *norm)
{
    add(w, embed, c->V, c->D, 0);
    add(w, norm, c->D, 0, 1);
    if (!c->tie_embeddings)
        add(w, "lm_head.weight", c->V, c->D, 0);
}

/* Writes dir/model.safetensors from w and frees w's tensors. */
static void write_list(const char *dir, struct wlist *w)
{
    char *p = ik_xasprintf("%s/model.safetensors", dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert(ik_st_write(p, w->t, w->n, &d) == 0, "%s", ik_diag_message(&d));
    free(p);
    for (size_t i = 0; i < w->n; i++) {
        free((char *)w->t[i].name);
        free((void *)w->t[i].data);
    }
    free(w->t);
}

void lmt_write_random_model(const char *dir, const struct ik_lm_config *c, const char *extra,
                            int dtype, unsigned seed, float scale)
{
    struct ik_buf j = IK_BUF_INIT;
    ik_buf_printf(&j, "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d,"
                  " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,"
                  " \"head_dim\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d,"
                  " \"rms_norm_eps\": %g, \"rope_theta\": %g, \"tie_word_embeddings\": %s,"
                  " \"attention_bias\": %s, \"hidden_act\": \"silu\", \"bos_token_id\": 1,"
                  " \"eos_token_id\": 2%s%s}",
                  lmt_arch_class(c->arch), c->D, c->F, c->L, c->H, c->K, c->head_dim, c->V, c->max_seq,
                  (double)c->norm_eps, (double)c->rope_theta, c->tie_embeddings ? "true" : "false",
                  c->o_bias ? "true" : "false", extra ? ", " : "", extra ? extra : "");
    char *p = ik_xasprintf("%s/config.json", dir);
    lmt_write(p, j.data, j.len);
    free(p);
    ik_buf_free(&j);

    struct wlist w = {NULL, 0, 0, seed, dtype, scale};
    int64_t D = c->D, F = c->F, qw = (int64_t)c->H * c->head_dim, kw = (int64_t)c->K * c->head_dim;
    add_globals(&w, c, "model.embed_tokens.weight", "model.norm.weight");
    for (int l = 0; l < c->L; l++) {
        add_layer(&w, "model", l, "input_layernorm.weight", D, 0, 1);
        add_layer(&w, "model", l, "post_attention_layernorm.weight", D, 0, 1);
        add_layer(&w, "model", l, "self_attn.q_proj.weight", qw, D, 0);
        add_layer(&w, "model", l, "self_attn.k_proj.weight", kw, D, 0);
        add_layer(&w, "model", l, "self_attn.v_proj.weight", kw, D, 0);
        add_layer(&w, "model", l, "self_attn.o_proj.weight", D, qw, 0);
        if (c->qkv_bias) {
            add_layer(&w, "model", l, "self_attn.q_proj.bias", qw, 0, 0);
            add_layer(&w, "model", l, "self_attn.k_proj.bias", kw, 0, 0);
            add_layer(&w, "model", l, "self_attn.v_proj.bias", kw, 0, 0);
        }
        if (c->o_bias)
            add_layer(&w, "model", l, "self_attn.o_proj.bias", D, 0, 0);
        if (c->qk_norm) {
            add_layer(&w, "model", l, "self_attn.q_norm.weight", c->head_dim, 0, 1);
            add_layer(&w, "model", l, "self_attn.k_norm.weight", c->head_dim, 0, 1);
        }
        add_layer(&w, "model", l, "mlp.gate_proj.weight", F, D, 0);
        add_layer(&w, "model", l, "mlp.up_proj.weight", F, D, 0);
        add_layer(&w, "model", l, "mlp.down_proj.weight", D, F, 0);
    }
    write_list(dir, &w);
}

struct ik_lm_config lmt_nemotron_cfg(const char *pattern, int D, int F, int V)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_NEMOTRON_H, D, F, (int)strlen(pattern), 8, V);
    c.norm_eps = 1e-5f;
    c.no_rope = 1;
    c.bos_id = 1;
    c.ssm = (struct ik_lm_ssm_config){.heads = 8, .head_dim = 4, .groups = 2, .state = 16,
                                      .conv_kernel = 4, .chunk = 8, .conv_bias = 1};
    for (int l = 0; pattern[l]; l++)
        c.block[l] = pattern[l] == 'M' ? IK_LM_BLOCK_MAMBA : pattern[l] == '*' ? IK_LM_BLOCK_ATTN
                                                                            : IK_LM_BLOCK_MLP;
    return c;
}

/* The Mamba-2 tensors of layer l under backbone.layers.l.mixer, initialised
 * as transformers' _init_weights does where it matters to the recurrence:
 * A_log = log(1..nh), D near 1, dt_bias = inv_softplus(dt) for dt
 * log-uniform in [1e-3, 0.1]. */
static void add_mamba(struct wlist *w, const struct ik_lm_config *c, int l)
{
    char n[128];
    int64_t nh = c->ssm.heads, inner = ik_lm_ssm_inner(c), conv = ik_lm_ssm_conv_dim(c);
    float v[IK_LM_MAX_SSM_HEADS] = {0};
#define NAME(suffix) (snprintf(n, sizeof n, "backbone.layers.%d.mixer.%s", l, suffix), n)
    add(w, NAME("in_proj.weight"), ik_lm_ssm_in_dim(c), c->D, 0);
    add3(w, NAME("conv1d.weight"), conv, 1, c->ssm.conv_kernel, 0);
    if (c->ssm.conv_bias)
        add(w, NAME("conv1d.bias"), conv, 0, 0);
    for (int h = 0; h < nh; h++) {
        double dt = exp(log(1e-3) + (log(0.1) - log(1e-3)) * (0.5 + 0.5 * frand(&w->rng)));
        v[h] = (float)(dt + log(-expm1(-dt))); /* softplus^-1(dt) */
    }
    add_values(w, NAME("dt_bias"), nh, 0, 0, v);
    for (int h = 0; h < nh; h++)
        v[h] = (float)log(1.0 + h);
    add_values(w, NAME("A_log"), nh, 0, 0, v);
    add(w, NAME("D"), nh, 0, 1);
    add(w, NAME("norm.weight"), inner, 0, 1);
    add(w, NAME("out_proj.weight"), c->D, inner, 0);
#undef NAME
}

void lmt_write_random_nemotron(const char *dir, const struct ik_lm_config *c, int dtype, unsigned seed,
                               float scale)
{
    char pattern[IK_LM_MAX_HYBRID_LAYERS + 1];
    for (int l = 0; l < c->L; l++)
        pattern[l] = "?M*-"[c->block[l]];
    pattern[c->L] = '\0';
    struct ik_buf j = IK_BUF_INIT;
    ik_buf_printf(&j, "{\"architectures\": [\"NemotronHForCausalLM\"], \"hidden_size\": %d, "
                  "\"intermediate_size\": %d, \"num_hidden_layers\": %d, \"hybrid_override_pattern\": "
                  "\"%s\", \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, "
                  "\"vocab_size\": %d, \"max_position_embeddings\": %d, \"layer_norm_epsilon\": %g, "
                  "\"tie_word_embeddings\": %s, \"mamba_num_heads\": %d, \"mamba_head_dim\": %d, "
                  "\"n_groups\": %d, \"ssm_state_size\": %d, \"conv_kernel\": %d, \"chunk_size\": %d, "
                  "\"use_conv_bias\": %s, \"mamba_hidden_act\": \"silu\", \"mlp_hidden_act\": \"relu2\", "
                  "\"use_bias\": false, \"attention_bias\": false, \"mlp_bias\": false, "
                  "\"bos_token_id\": 1, \"eos_token_id\": 2}",
                  c->D, c->F, c->L, pattern, c->H, c->K, c->head_dim, c->V, c->max_seq,
                  (double)c->norm_eps, c->tie_embeddings ? "true" : "false", c->ssm.heads,
                  c->ssm.head_dim, c->ssm.groups, c->ssm.state, c->ssm.conv_kernel, c->ssm.chunk,
                  c->ssm.conv_bias ? "true" : "false");
    char *p = ik_xasprintf("%s/config.json", dir);
    lmt_write(p, j.data, j.len);
    free(p);
    ik_buf_free(&j);

    struct wlist w = {NULL, 0, 0, seed, dtype, scale};
    int64_t D = c->D, F = c->F, qw = (int64_t)c->H * c->head_dim, kw = (int64_t)c->K * c->head_dim;
    add_globals(&w, c, "backbone.embeddings.weight", "backbone.norm_f.weight");
    for (int l = 0; l < c->L; l++) {
        add_layer(&w, "backbone", l, "norm.weight", D, 0, 1);
        if (c->block[l] == IK_LM_BLOCK_ATTN) {
            add_layer(&w, "backbone", l, "mixer.q_proj.weight", qw, D, 0);
            add_layer(&w, "backbone", l, "mixer.k_proj.weight", kw, D, 0);
            add_layer(&w, "backbone", l, "mixer.v_proj.weight", kw, D, 0);
            add_layer(&w, "backbone", l, "mixer.o_proj.weight", D, qw, 0);
        } else if (c->block[l] == IK_LM_BLOCK_MLP) {
            add_layer(&w, "backbone", l, "mixer.up_proj.weight", F, D, 0);
            add_layer(&w, "backbone", l, "mixer.down_proj.weight", D, F, 0);
        } else {
            add_mamba(&w, c, l);
        }
    }
    write_list(dir, &w);
}

/* lm_test.h */
struct ik_lora *lmt_random_adapter(const struct ik_lm_config *c, const struct ik_lora_config *lc,
                                   float b_scale)
{
    struct ik_lora *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_new(&a, c, lc, 7, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng r;
    ik_prng_seed(&r, 11);
    for (int i = 0; i < a->L * IK_LORA_NT; i++)
        for (int j = 0; a->mod[i].B && j < a->mod[i].out * lc->r; j++)
            a->mod[i].B[j] = (float)((2 * ik_prng_double(&r) - 1) * b_scale);
    return a;
}

double *lmt_cli_score(const char *model, const char *adapter, const char *text, size_t *n)
{
    const char *bin = getenv("IKADA_BIN");
    cr_assert_not_null(bin, "IKADA_BIN must name the ikada binary (make check sets it)");
    char *cmd = ik_xasprintf("'%s' lm score --json --model '%s' --adapter '%s' '%s'", bin, model,
                             adapter, text);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    struct ik_buf out = IK_BUF_INIT;
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0)
        ik_buf_append(&out, buf, k);
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    json_error_t e;
    json_t *j = json_loadb(out.data, out.len, 0, &e);
    cr_assert_not_null(j, "%s printed %s", cmd, out.data);
    json_t *lp = json_object_get(j, "logprobs");
    *n = json_array_size(lp);
    double *v = ik_xcalloc(*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(lp, i));
    json_decref(j);
    ik_buf_free(&out);
    free(cmd);
    return v;
}
