/* tests/lm/lm_test.c - helpers for the lm/ tests (see lm_test.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
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
                                    "Qwen3ForCausalLM"};
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

/* Adds a random tensor; norm tensors get values near 1. */
static void add(struct wlist *w, const char *name, int64_t a, int64_t b, int is_norm)
{
    w->t = ik_xgrow(w->t, &w->cap, w->n + 1, sizeof *w->t);
    struct ik_st_wtensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    t->name = ik_xstrdup(name);
    t->dtype = w->dtype;
    t->ndim = b ? 2 : 1;
    t->shape[0] = a;
    t->shape[1] = b;
    size_t n = (size_t)a * (size_t)(b ? b : 1);
    void *data = ik_xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        float v = is_norm ? 1.0f + 0.2f * frand(&w->rng) : w->scale * frand(&w->rng);
        if (w->dtype == IK_ST_F32)
            ((float *)data)[i] = v;
        else
            ((uint16_t *)data)[i] = w->dtype == IK_ST_F16 ? ik_f32_to_f16(v) : ik_f32_to_bf16(v);
    }
    t->data = data;
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
    add(&w, "model.embed_tokens.weight", c->V, D, 0);
    add(&w, "model.norm.weight", D, 0, 1);
    if (!c->tie_embeddings)
        add(&w, "lm_head.weight", c->V, D, 0);
    for (int l = 0; l < c->L; l++) {
        char n[128];
#define ADD(suffix, a, b, norm)                                                                    \
    do {                                                                                           \
        snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix);                                   \
        add(&w, n, a, b, norm);                                                                    \
    } while (0)
        ADD("input_layernorm.weight", D, 0, 1);
        ADD("post_attention_layernorm.weight", D, 0, 1);
        ADD("self_attn.q_proj.weight", qw, D, 0);
        ADD("self_attn.k_proj.weight", kw, D, 0);
        ADD("self_attn.v_proj.weight", kw, D, 0);
        ADD("self_attn.o_proj.weight", D, qw, 0);
        if (c->qkv_bias) {
            ADD("self_attn.q_proj.bias", qw, 0, 0);
            ADD("self_attn.k_proj.bias", kw, 0, 0);
            ADD("self_attn.v_proj.bias", kw, 0, 0);
        }
        if (c->o_bias)
            ADD("self_attn.o_proj.bias", D, 0, 0);
        if (c->qk_norm) {
            ADD("self_attn.q_norm.weight", c->head_dim, 0, 1);
            ADD("self_attn.k_norm.weight", c->head_dim, 0, 1);
        }
        ADD("mlp.gate_proj.weight", F, D, 0);
        ADD("mlp.up_proj.weight", F, D, 0);
        ADD("mlp.down_proj.weight", D, F, 0);
#undef ADD
    }
    p = ik_xasprintf("%s/model.safetensors", dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert(ik_st_write(p, w.t, w.n, &d) == 0, "%s", ik_diag_message(&d));
    free(p);
    for (size_t i = 0; i < w.n; i++) {
        free((char *)w.t[i].name);
        free((void *)w.t[i].data);
    }
    free(w.t);
}
