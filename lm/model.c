/* lm/model.c - the fp32 weight arena, the Hugging Face loader (Llama family
 * under model.*, NemotronH under backbone.*), and the
 * choice of loader by path (GGUF: model_gguf_read.c, llama2.c: llama2c.c).
 * Sizes are computed in one place (param_layout), the arena is allocated once,
 * and every tensor is read by name from the safetensors set with its shape
 * checked, so a missing or misshapen tensor is reported by name and file. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/arena.h"
#include "lm/model.h"
#include "lm/safetensors.h"

/* a * b, or SIZE_MAX when it does not fit (a count that then fails the limit). */
static size_t mul_sat(size_t a, size_t b)
{
    return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* The tensors of a Llama-family layer. */
static void layout_decoder(const struct ik_lm_config *c, struct ik_lm_layer *y, float *base,
                           size_t *off)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = mul_sat((size_t)c->H, hd), kw = mul_sat((size_t)c->K, hd);
    y->attn_norm = ik_lm_arena_take(base, off, D);
    y->wq = ik_lm_arena_take(base, off, mul_sat(qw, D));
    y->wk = ik_lm_arena_take(base, off, mul_sat(kw, D));
    y->wv = ik_lm_arena_take(base, off, mul_sat(kw, D));
    y->wo = ik_lm_arena_take(base, off, mul_sat(D, qw));
    if (c->qkv_bias) {
        y->bq = ik_lm_arena_take(base, off, qw);
        y->bk = ik_lm_arena_take(base, off, kw);
        y->bv = ik_lm_arena_take(base, off, kw);
    }
    if (c->o_bias)
        y->bo = ik_lm_arena_take(base, off, D);
    if (c->qk_norm) {
        y->q_norm = ik_lm_arena_take(base, off, hd);
        y->k_norm = ik_lm_arena_take(base, off, hd);
    }
    y->ffn_norm = ik_lm_arena_take(base, off, D);
    y->w_gate = ik_lm_arena_take(base, off, mul_sat(F, D));
    y->w_up = ik_lm_arena_take(base, off, mul_sat(F, D));
    y->w_down = ik_lm_arena_take(base, off, mul_sat(D, F));
}

/* The tensors of a NemotronH layer: its norm and its one mixer's. The
 * config's limits keep every Mamba width inside an int. */
static void layout_hybrid(const struct ik_lm_config *c, struct ik_lm_layer *y, float *base,
                          size_t *off)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = mul_sat((size_t)c->H, hd), kw = mul_sat((size_t)c->K, hd);
    size_t nh = (size_t)c->ssm.heads, inner = (size_t)ik_lm_ssm_inner(c);
    size_t conv = (size_t)ik_lm_ssm_conv_dim(c);
    y->attn_norm = ik_lm_arena_take(base, off, D);
    switch (y->block) {
    case IK_LM_BLOCK_ATTN:
        y->wq = ik_lm_arena_take(base, off, mul_sat(qw, D));
        y->wk = ik_lm_arena_take(base, off, mul_sat(kw, D));
        y->wv = ik_lm_arena_take(base, off, mul_sat(kw, D));
        y->wo = ik_lm_arena_take(base, off, mul_sat(D, qw));
        break;
    case IK_LM_BLOCK_MLP:
        y->w_up = ik_lm_arena_take(base, off, mul_sat(F, D));
        y->w_down = ik_lm_arena_take(base, off, mul_sat(D, F));
        break;
    default: /* IK_LM_BLOCK_MAMBA */
        y->ssm_in = ik_lm_arena_take(base, off, mul_sat((size_t)ik_lm_ssm_in_dim(c), D));
        y->conv_w = ik_lm_arena_take(base, off, mul_sat(conv, (size_t)c->ssm.conv_kernel));
        y->conv_b = c->ssm.conv_bias ? ik_lm_arena_take(base, off, conv) : NULL;
        y->dt_bias = ik_lm_arena_take(base, off, nh);
        y->A_log = ik_lm_arena_take(base, off, nh);
        y->ssm_D = ik_lm_arena_take(base, off, nh);
        y->ssm_norm = ik_lm_arena_take(base, off, inner);
        y->ssm_out = ik_lm_arena_take(base, off, mul_sat(D, inner));
        break;
    }
}

/* The arena layout, in one place; with base == NULL it only counts floats
 * (saturating) and touches neither m->layers nor m's tensor pointers. Each
 * layer's block and cache slot are set with its tensors. */
static size_t param_layout(struct ik_lm_model *m, float *base)
{
    const struct ik_lm_config *c = &m->cfg;
    size_t D = (size_t)c->D, off = 0;
    struct ik_lm_model count;
    if (base == NULL)
        m = &count;
    m->embed = ik_lm_arena_take(base, &off, mul_sat((size_t)c->V, D));
    m->final_norm = ik_lm_arena_take(base, &off, D);
    m->lm_head = c->tie_embeddings ? m->embed
                                   : ik_lm_arena_take(base, &off, mul_sat((size_t)c->V, D));
    int slots[IK_LM_BLOCK_MLP + 1] = {0};
    for (int l = 0; l < c->L; l++) {
        struct ik_lm_layer scratch, *y = base ? &m->layers[l] : &scratch;
        memset(y, 0, sizeof *y);
        y->block = ik_lm_config_block(c, l);
        y->slot = slots[y->block]++;
        if (y->block == IK_LM_BLOCK_DECODER)
            layout_decoder(c, y, base, &off);
        else
            layout_hybrid(c, y, base, &off);
    }
    return off;
}

/* A NemotronH shape within config.h's limits (a config made by hand has not
 * been through the parser): every Mamba width then fits an int. */
static int check_hybrid(const struct ik_lm_config *c, const struct ik_srcloc *loc, struct ik_diag *d)
{
    const struct ik_lm_ssm_config *s = &c->ssm;
    int bad_block = 0;
    for (int l = 0; l < c->L && l < IK_LM_MAX_HYBRID_LAYERS; l++)
        bad_block |= c->block[l] < IK_LM_BLOCK_MAMBA || c->block[l] > IK_LM_BLOCK_MLP;
    if (c->L > IK_LM_MAX_HYBRID_LAYERS || bad_block || s->heads < 1 || s->heads > IK_LM_MAX_SSM_HEADS ||
        s->head_dim < 1 || s->head_dim > IK_LM_MAX_SSM_HEAD_DIM || s->groups < 1 ||
        s->heads % s->groups != 0 || s->state < 1 || s->state > IK_LM_MAX_SSM_STATE ||
        s->conv_kernel < 1 || s->conv_kernel > IK_LM_MAX_CONV_KERNEL || s->chunk < 1)
        return ik_diag_at(d, IK_EVALIDATE, loc, NULL, 0, "NemotronH shape out of range (layers %d "
                          "(at most %d)%s, mamba heads %d of %d, groups %d, state %d, conv kernel %d, "
                          "chunk %d)", c->L, IK_LM_MAX_HYBRID_LAYERS, bad_block ? ", an unknown block" : "",
                          s->heads, s->head_dim, s->groups, s->state, s->conv_kernel, s->chunk);
    return 0;
}

int ik_lm_model_check_size(const struct ik_lm_config *cfg, const char *file, struct ik_diag *d)
{
    struct ik_srcloc loc = {file, 0, 0};
    /* The layout counts layer by layer: bound the loop before running it. */
    if (cfg->D <= 0 || cfg->F <= 0 || cfg->L <= 0 || cfg->H <= 0 || cfg->K <= 0 || cfg->V <= 0 ||
        cfg->head_dim <= 0 || cfg->L > IK_LM_MAX_LAYERS)
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "model shape out of range (hidden %d, "
                          "intermediate %d, layers %d (at most %d), heads %d, kv heads %d, head_dim "
                          "%d, vocab %d)", cfg->D, cfg->F, cfg->L, IK_LM_MAX_LAYERS, cfg->H, cfg->K,
                          cfg->head_dim, cfg->V);
    if (cfg->arch == IK_LM_NEMOTRON_H) {
        int rc = check_hybrid(cfg, &loc, d);
        if (rc != 0)
            return rc;
    }
    struct ik_lm_model m = {.cfg = *cfg};
    size_t n = param_layout(&m, NULL);
    size_t max = IK_LM_MAX_WEIGHT_BYTES / sizeof(float);
    if (n > max - (size_t)cfg->head_dim / 2) /* the arena also holds inv_freq */
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "the model has %s%.3g parameters "
                          "(hidden_size %d, intermediate_size %d, num_hidden_layers %d, "
                          "num_attention_heads %d, num_key_value_heads %d, head_dim %d, vocab_size "
                          "%d): more than the %.3g (%llu GiB of fp32 weights) this reader accepts",
                          n == SIZE_MAX ? "over " : "", (double)n, cfg->D, cfg->F, cfg->L, cfg->H,
                          cfg->K, cfg->head_dim, cfg->V, (double)max,
                          (unsigned long long)(IK_LM_MAX_WEIGHT_BYTES >> 30));
    return 0;
}

int ik_lm_model_new(struct ik_lm_model **out, const struct ik_lm_config *cfg, struct ik_diag *d)
{
    int rc = ik_lm_model_check_size(cfg, NULL, d);
    if (rc != 0)
        return rc;
    struct ik_lm_model *m = ik_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->layers = ik_xcalloc((size_t)cfg->L, sizeof *m->layers);
    m->n_params = param_layout(m, NULL);
    size_t bytes = (m->n_params + (size_t)cfg->head_dim / 2) * sizeof(float);
    m->arena = calloc(1, bytes);
    if (m->arena == NULL) {
        free(m->layers);
        free(m);
        return ik_diag_set(d, -ENOMEM, "model needs %.2f GiB of memory for its fp32 weights, "
                           "which could not be allocated", (double)bytes / (1 << 30));
    }
    param_layout(m, m->arena);
    m->inv_freq = m->arena + m->n_params;
    ik_lm_config_inv_freq(&m->cfg, m->inv_freq);
    *out = m;
    return 0;
}

void ik_lm_model_free(struct ik_lm_model *m)
{
    if (m == NULL)
        return;
    free(m->arena);
    free(m->layers);
    free(m);
}

/* Reads one tensor of rank 1 or 2 ((a) when b == 0, else (a, b)). */
static int rd(const struct ik_st *st, float *dst, const char *name, int64_t a, int64_t b,
              struct ik_diag *d)
{
    int64_t shape[2] = {a, b};
    return ik_st_read_f32(st, name, dst, b ? 2 : 1, shape, d);
}

static int load_layer(const struct ik_st *st, struct ik_lm_model *m, int l, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    struct ik_lm_layer *y = &m->layers[l];
    int64_t D = c->D, F = c->F, qw = (int64_t)c->H * c->head_dim, kw = (int64_t)c->K * c->head_dim;
    const struct {
        float *dst;
        const char *name;
        int64_t a, b;
    } t[] = {
        {y->attn_norm, "input_layernorm.weight", D, 0},
        {y->wq, "self_attn.q_proj.weight", qw, D},
        {y->wk, "self_attn.k_proj.weight", kw, D},
        {y->wv, "self_attn.v_proj.weight", kw, D},
        {y->wo, "self_attn.o_proj.weight", D, qw},
        {y->bq, "self_attn.q_proj.bias", qw, 0},
        {y->bk, "self_attn.k_proj.bias", kw, 0},
        {y->bv, "self_attn.v_proj.bias", kw, 0},
        {y->bo, "self_attn.o_proj.bias", D, 0},
        {y->q_norm, "self_attn.q_norm.weight", c->head_dim, 0},
        {y->k_norm, "self_attn.k_norm.weight", c->head_dim, 0},
        {y->ffn_norm, "post_attention_layernorm.weight", D, 0},
        {y->w_gate, "mlp.gate_proj.weight", F, D},
        {y->w_up, "mlp.up_proj.weight", F, D},
        {y->w_down, "mlp.down_proj.weight", D, F},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].dst == NULL)
            continue; /* this variant has no such tensor */
        char name[128];
        snprintf(name, sizeof name, "model.layers.%d.%s", l, t[i].name);
        int rc = rd(st, t[i].dst, name, t[i].a, t[i].b, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A NemotronH layer: backbone.layers.N.norm and its mixer's tensors under
 * backbone.layers.N.mixer. (the conv weight as HF's Conv1d holds it,
 * (conv_dim, 1, Kc)). */
static int load_hybrid_layer(const struct ik_st *st, struct ik_lm_model *m, int l, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    struct ik_lm_layer *y = &m->layers[l];
    int64_t D = c->D, F = c->F, qw = (int64_t)c->H * c->head_dim, kw = (int64_t)c->K * c->head_dim;
    int64_t nh = c->ssm.heads, inner = ik_lm_ssm_inner(c), conv = ik_lm_ssm_conv_dim(c);
    const struct {
        float *dst;
        const char *name;
        int ndim;
        int64_t shape[3];
    } t[] = {
        {y->attn_norm, "norm.weight", 1, {D}},
        {y->wq, "mixer.q_proj.weight", 2, {qw, D}},
        {y->wk, "mixer.k_proj.weight", 2, {kw, D}},
        {y->wv, "mixer.v_proj.weight", 2, {kw, D}},
        {y->wo, "mixer.o_proj.weight", 2, {D, qw}},
        {y->w_up, "mixer.up_proj.weight", 2, {F, D}},
        {y->w_down, "mixer.down_proj.weight", 2, {D, F}},
        {y->ssm_in, "mixer.in_proj.weight", 2, {ik_lm_ssm_in_dim(c), D}},
        {y->conv_w, "mixer.conv1d.weight", 3, {conv, 1, c->ssm.conv_kernel}},
        {y->conv_b, "mixer.conv1d.bias", 1, {conv}},
        {y->dt_bias, "mixer.dt_bias", 1, {nh}},
        {y->A_log, "mixer.A_log", 1, {nh}},
        {y->ssm_D, "mixer.D", 1, {nh}},
        {y->ssm_norm, "mixer.norm.weight", 1, {inner}},
        {y->ssm_out, "mixer.out_proj.weight", 2, {D, inner}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].dst == NULL)
            continue; /* another mixer's tensor */
        char name[128];
        snprintf(name, sizeof name, "backbone.layers.%d.%s", l, t[i].name);
        int rc = ik_st_read_f32(st, name, t[i].dst, t[i].ndim, t[i].shape, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Reads the embedding, the final norm and the untied lm_head, named with
 * the prefix of the family ("model." or "backbone."). */
static int load_globals(const struct ik_st *st, struct ik_lm_model *m, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    int hybrid = c->arch == IK_LM_NEMOTRON_H;
    int rc = rd(st, m->embed, hybrid ? "backbone.embeddings.weight" : "model.embed_tokens.weight", c->V,
                c->D, d);
    if (rc == 0)
        rc = rd(st, m->final_norm, hybrid ? "backbone.norm_f.weight" : "model.norm.weight", c->D, 0, d);
    if (rc == 0 && !c->tie_embeddings)
        rc = rd(st, m->lm_head, "lm_head.weight", c->V, c->D, d);
    return rc;
}

int ik_lm_model_load_hf(struct ik_lm_model **out, const char *dir, struct ik_diag *d)
{
    char *cfg_path = ik_xasprintf("%s/config.json", dir);
    struct ik_lm_config cfg;
    struct ik_lm_model *m = NULL;
    struct ik_st *st = NULL;
    int rc = ik_lm_config_load(&cfg, cfg_path, d);
    if (rc == 0)
        rc = ik_lm_model_check_size(&cfg, cfg_path, d);
    if (rc == 0)
        rc = ik_st_open(&st, dir, d);
    if (rc == 0)
        rc = ik_lm_model_new(&m, &cfg, d);
    if (rc == 0)
        rc = load_globals(st, m, d);
    for (int l = 0; rc == 0 && l < cfg.L; l++)
        rc = cfg.arch == IK_LM_NEMOTRON_H ? load_hybrid_layer(st, m, l, d) : load_layer(st, m, l, d);
    ik_st_close(st);
    free(cfg_path);
    if (rc != 0) {
        ik_lm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int ik_lm_model_load(struct ik_lm_model **out, const char *path, struct ik_diag *d)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ik_diag_set(d, -errno, "cannot open model '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return ik_lm_model_load_hf(out, path, d);
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0)
        return ik_lm_model_load_gguf(out, path, d);
    return ik_lm_model_load_llama2c(out, path, d);
}
