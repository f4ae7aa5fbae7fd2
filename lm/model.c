/* lm/model.c - the fp32 weight arena, the Hugging Face loader (Llama family
 * under model.*, NemotronH under backbone.*), and the
 * choice of loader by path (GGUF: model_gguf_read.c, llama2.c: llama2c.c).
 * Sizes are computed in one place (param_layout), the arena is allocated once,
 * and every tensor is read by name from the safetensors set with its shape
 * checked, so a missing or misshapen tensor is reported by name and file.
 * A streamed model (IK_LM_LOAD_STREAM) checks its big tensors so at load
 * too, and converts them to BF16 only when its consumer asks. */
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
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"

/* a * b, or SIZE_MAX when it does not fit (a count that then fails the limit). */
static size_t mul_sat(size_t a, size_t b)
{
    return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* Where a layout stands: the arena (NULL while counting), the floats handed
 * out, and with `stream` the floats of the big tensors counted but left in
 * the file (their pointers NULL). */
struct cursor {
    float *base;
    size_t off, streamed;
    int stream;
};

static float *small(struct cursor *k, size_t n)
{
    return ik_lm_arena_take(k->base, &k->off, n);
}

/* A projection or an embedding table: in the arena, or left in the file. */
static float *big(struct cursor *k, size_t n)
{
    if (!k->stream)
        return small(k, n);
    ik_lm_arena_take(NULL, &k->streamed, n);
    return NULL;
}

/* The tensors of a Llama-family layer. */
static void layout_decoder(const struct ik_lm_config *c, struct ik_lm_layer *y, struct cursor *k)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = mul_sat((size_t)c->H, hd), kw = mul_sat((size_t)c->K, hd);
    y->attn_norm = small(k, D);
    y->wq = big(k, mul_sat(qw, D));
    y->wk = big(k, mul_sat(kw, D));
    y->wv = big(k, mul_sat(kw, D));
    y->wo = big(k, mul_sat(D, qw));
    if (c->qkv_bias) {
        y->bq = small(k, qw);
        y->bk = small(k, kw);
        y->bv = small(k, kw);
    }
    if (c->o_bias)
        y->bo = small(k, D);
    if (c->qk_norm) {
        y->q_norm = small(k, hd);
        y->k_norm = small(k, hd);
    }
    y->ffn_norm = small(k, D);
    y->w_gate = big(k, mul_sat(F, D));
    y->w_up = big(k, mul_sat(F, D));
    y->w_down = big(k, mul_sat(D, F));
}

/* The tensors of a NemotronH layer: its norm and its one mixer's. The
 * config's limits keep every Mamba width inside an int. */
static void layout_hybrid(const struct ik_lm_config *c, struct ik_lm_layer *y, struct cursor *k)
{
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = mul_sat((size_t)c->H, hd), kw = mul_sat((size_t)c->K, hd);
    size_t nh = (size_t)c->ssm.heads, inner = (size_t)ik_lm_ssm_inner(c);
    size_t conv = (size_t)ik_lm_ssm_conv_dim(c);
    y->attn_norm = small(k, D);
    switch (y->block) {
    case IK_LM_BLOCK_ATTN:
        y->wq = big(k, mul_sat(qw, D));
        y->wk = big(k, mul_sat(kw, D));
        y->wv = big(k, mul_sat(kw, D));
        y->wo = big(k, mul_sat(D, qw));
        break;
    case IK_LM_BLOCK_MLP:
        y->w_up = big(k, mul_sat(F, D));
        y->w_down = big(k, mul_sat(D, F));
        break;
    default: /* IK_LM_BLOCK_MAMBA */
        y->ssm_in = big(k, mul_sat((size_t)ik_lm_ssm_in_dim(c), D));
        y->conv_w = small(k, mul_sat(conv, (size_t)c->ssm.conv_kernel));
        y->conv_b = c->ssm.conv_bias ? small(k, conv) : NULL;
        y->dt_bias = small(k, nh);
        y->A_log = small(k, nh);
        y->ssm_D = small(k, nh);
        y->ssm_norm = small(k, inner);
        y->ssm_out = big(k, mul_sat(D, inner));
        break;
    }
}

/* The arena layout, in one place; with k->base == NULL it only counts
 * floats (saturating) and touches neither m->layers nor m's tensor
 * pointers. Each layer's block and cache slot are set with its tensors. */
static void param_layout(struct ik_lm_model *m, struct cursor *k)
{
    const struct ik_lm_config *c = &m->cfg;
    size_t D = (size_t)c->D;
    struct ik_lm_model count;
    if (k->base == NULL)
        m = &count;
    m->embed = big(k, mul_sat((size_t)c->V, D));
    m->final_norm = small(k, D);
    m->lm_head = c->tie_embeddings ? m->embed : big(k, mul_sat((size_t)c->V, D));
    int slots[IK_LM_BLOCK_MLP + 1] = {0};
    for (int l = 0; l < c->L; l++) {
        struct ik_lm_layer scratch, *y = k->base ? &m->layers[l] : &scratch;
        memset(y, 0, sizeof *y);
        y->block = ik_lm_config_block(c, l);
        y->slot = slots[y->block]++;
        if (y->block == IK_LM_BLOCK_DECODER)
            layout_decoder(c, y, k);
        else
            layout_hybrid(c, y, k);
    }
}

/* Every float of the model's tensors (saturating). */
static size_t count_params(const struct ik_lm_config *cfg)
{
    struct ik_lm_model m = {.cfg = *cfg};
    struct cursor k = {0};
    param_layout(&m, &k);
    return k.off;
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
    size_t n = count_params(cfg);
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

/* The big tensors of a model loaded with IK_LM_LOAD_STREAM, found and
 * checked in its open safetensors set. */
struct ik_lm_stream {
    struct ik_st *st;
    const struct ik_st_tensor *table[2];  /* IK_LM_TABLE_EMBED, IK_LM_TABLE_HEAD (NULL when tied) */
    const struct ik_st_tensor **proj;     /* (L * IK_LORA_NT); NULL where the layer lacks it */
};

static void stream_free(struct ik_lm_stream *s)
{
    if (s == NULL)
        return;
    ik_st_close(s->st);
    free(s->proj);
    free(s);
}

/* A model of this shape, its arena holding every tensor, or with stream
 * all but the big ones. */
static int new_model(struct ik_lm_model **out, const struct ik_lm_config *cfg, int stream,
                     struct ik_diag *d)
{
    int rc = ik_lm_model_check_size(cfg, NULL, d);
    if (rc != 0)
        return rc;
    struct ik_lm_model *m = ik_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->layers = ik_xcalloc((size_t)cfg->L, sizeof *m->layers);
    struct cursor k = {.stream = stream};
    param_layout(m, &k);
    size_t in_arena = k.off;
    m->n_params = in_arena + k.streamed;
    size_t bytes = (in_arena + (size_t)cfg->head_dim / 2) * sizeof(float);
    m->arena = calloc(1, bytes);
    if (m->arena == NULL) {
        free(m->layers);
        free(m);
        return ik_diag_set(d, -ENOMEM, "model needs %.2f GiB of memory for its fp32 weights, "
                           "which could not be allocated", (double)bytes / (1 << 30));
    }
    k = (struct cursor){.base = m->arena, .stream = stream};
    param_layout(m, &k);
    m->inv_freq = m->arena + in_arena;
    ik_lm_config_inv_freq(&m->cfg, m->inv_freq);
    if (stream) {
        m->stream = ik_xcalloc(1, sizeof *m->stream);
        m->stream->proj = ik_xcalloc((size_t)cfg->L * IK_LORA_NT, sizeof *m->stream->proj);
    }
    *out = m;
    return 0;
}

int ik_lm_model_new(struct ik_lm_model **out, const struct ik_lm_config *cfg, struct ik_diag *d)
{
    return new_model(out, cfg, 0, d);
}

void ik_lm_model_free(struct ik_lm_model *m)
{
    if (m == NULL)
        return;
    stream_free(m->stream);
    free(m->arena);
    free(m->layers);
    free(m);
}

int ik_lm_model_read_bf16(const struct ik_lm_model *m, int l, int t, uint16_t *dst, size_t ld,
                          struct ik_diag *d)
{
    const struct ik_lm_stream *s = m->stream;
    const struct ik_st_tensor *x = NULL;
    if (s && l == IK_LM_TABLES && (t == IK_LM_TABLE_EMBED || t == IK_LM_TABLE_HEAD))
        x = s->table[t];
    else if (s && l >= 0 && l < m->cfg.L && t >= 0 && t < IK_LORA_NT)
        x = s->proj[(size_t)l * IK_LORA_NT + (size_t)t];
    if (x == NULL)
        return ik_diag_set(d, IK_EVALIDATE, "the model streams no tensor %d of layer %d", t, l);
    size_t cols = (size_t)x->shape[1];
    if (ld < cols)
        return ik_diag_set(d, IK_EVALIDATE, "tensor '%s' has rows of %zu, more than %zu", x->name,
                           cols, ld);
    ik_st_tensor_to_bf16_rows(x, dst, cols, ld);
    return 0;
}

int ik_lm_model_check_in_memory(const struct ik_lm_model *m, const char *who, struct ik_diag *d)
{
    if (m->stream == NULL)
        return 0;
    return ik_diag_set(d, IK_EVALIDATE, "%s needs the model's weights in memory, but it was "
                       "loaded streamed (its projections left in the files, for a device "
                       "trainer): load it with ik_lm_model_load", who);
}

/* One tensor of a layer's table: where it goes (NULL: a tensor this variant
 * lacks, or a big one the model streams), its name under the layer, its
 * shape, and for a projection its enum ik_lora_target (else -1). */
struct tensor_entry {
    float *dst;
    const char *name;
    int ndim;
    int64_t shape[3];
    int proj;
};

/* Reads or, for a projection of a model that streams it, finds and checks
 * the tensor called `name` (layer l's). */
static int read_entry(const struct ik_st *st, struct ik_lm_model *m, int l, const struct tensor_entry *e,
                      const char *name, struct ik_diag *d)
{
    if (m->stream == NULL || e->proj < 0)
        return e->dst ? ik_st_read_f32(st, name, e->dst, e->ndim, e->shape, d) : 0;
    if (!ik_lora_has_module(&m->cfg, l, e->proj))
        return 0; /* another block's projection */
    return ik_st_expect(st, name, e->ndim, e->shape, &m->stream->proj[(size_t)l * IK_LORA_NT + (size_t)e->proj],
                        d);
}

/* Reads layer l's n tensors, named prefix.l.<entry's name>. */
static int read_entries(const struct ik_st *st, struct ik_lm_model *m, int l, const char *prefix,
                        const struct tensor_entry *t, size_t n, struct ik_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%d.%s", prefix, l, t[i].name);
        int rc = read_entry(st, m, l, &t[i], name, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int load_layer(const struct ik_st *st, struct ik_lm_model *m, int l, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    struct ik_lm_layer *y = &m->layers[l];
    int64_t D = c->D, F = c->F, qw = (int64_t)c->H * c->head_dim, kw = (int64_t)c->K * c->head_dim;
    const struct tensor_entry t[] = {
        {y->attn_norm, "input_layernorm.weight", 1, {D}, -1},
        {y->wq, "self_attn.q_proj.weight", 2, {qw, D}, IK_LORA_Q},
        {y->wk, "self_attn.k_proj.weight", 2, {kw, D}, IK_LORA_K},
        {y->wv, "self_attn.v_proj.weight", 2, {kw, D}, IK_LORA_V},
        {y->wo, "self_attn.o_proj.weight", 2, {D, qw}, IK_LORA_O},
        {y->bq, "self_attn.q_proj.bias", 1, {qw}, -1},
        {y->bk, "self_attn.k_proj.bias", 1, {kw}, -1},
        {y->bv, "self_attn.v_proj.bias", 1, {kw}, -1},
        {y->bo, "self_attn.o_proj.bias", 1, {D}, -1},
        {y->q_norm, "self_attn.q_norm.weight", 1, {c->head_dim}, -1},
        {y->k_norm, "self_attn.k_norm.weight", 1, {c->head_dim}, -1},
        {y->ffn_norm, "post_attention_layernorm.weight", 1, {D}, -1},
        {y->w_gate, "mlp.gate_proj.weight", 2, {F, D}, IK_LORA_GATE},
        {y->w_up, "mlp.up_proj.weight", 2, {F, D}, IK_LORA_UP},
        {y->w_down, "mlp.down_proj.weight", 2, {D, F}, IK_LORA_DOWN},
    };
    return read_entries(st, m, l, "model.layers", t, sizeof t / sizeof t[0], d);
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
    const struct tensor_entry t[] = {
        {y->attn_norm, "norm.weight", 1, {D}, -1},
        {y->wq, "mixer.q_proj.weight", 2, {qw, D}, IK_LORA_Q},
        {y->wk, "mixer.k_proj.weight", 2, {kw, D}, IK_LORA_K},
        {y->wv, "mixer.v_proj.weight", 2, {kw, D}, IK_LORA_V},
        {y->wo, "mixer.o_proj.weight", 2, {D, qw}, IK_LORA_O},
        {y->w_up, "mixer.up_proj.weight", 2, {F, D}, IK_LORA_UP},
        {y->w_down, "mixer.down_proj.weight", 2, {D, F}, IK_LORA_DOWN},
        {y->ssm_in, "mixer.in_proj.weight", 2, {ik_lm_ssm_in_dim(c), D}, IK_LORA_IN},
        {y->conv_w, "mixer.conv1d.weight", 3, {conv, 1, c->ssm.conv_kernel}, -1},
        {y->conv_b, "mixer.conv1d.bias", 1, {conv}, -1},
        {y->dt_bias, "mixer.dt_bias", 1, {nh}, -1},
        {y->A_log, "mixer.A_log", 1, {nh}, -1},
        {y->ssm_D, "mixer.D", 1, {nh}, -1},
        {y->ssm_norm, "mixer.norm.weight", 1, {inner}, -1},
        {y->ssm_out, "mixer.out_proj.weight", 2, {D, inner}, IK_LORA_OUT},
    };
    return read_entries(st, m, l, "backbone.layers", t, sizeof t / sizeof t[0], d);
}

/* An embedding table, (V, D): read, or found and checked for the stream. */
static int read_table(const struct ik_st *st, struct ik_lm_model *m, int which, float *dst,
                      const char *name, struct ik_diag *d)
{
    int64_t shape[2] = {m->cfg.V, m->cfg.D};
    if (m->stream)
        return ik_st_expect(st, name, 2, shape, &m->stream->table[which], d);
    return ik_st_read_f32(st, name, dst, 2, shape, d);
}

/* Reads the embedding, the final norm and the untied lm_head, named with
 * the prefix of the family ("model." or "backbone."). */
static int load_globals(const struct ik_st *st, struct ik_lm_model *m, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    int hybrid = c->arch == IK_LM_NEMOTRON_H;
    int64_t D = c->D;
    int rc = read_table(st, m, IK_LM_TABLE_EMBED, m->embed,
                        hybrid ? "backbone.embeddings.weight" : "model.embed_tokens.weight", d);
    if (rc == 0)
        rc = ik_st_read_f32(st, hybrid ? "backbone.norm_f.weight" : "model.norm.weight", m->final_norm, 1,
                            &D, d);
    if (rc == 0 && !c->tie_embeddings)
        rc = read_table(st, m, IK_LM_TABLE_HEAD, m->lm_head, "lm_head.weight", d);
    return rc;
}

/* A Hugging Face folder's model; with stream the set stays open in the
 * model for ik_lm_model_read_bf16. */
static int load_hf(struct ik_lm_model **out, const char *dir, int stream, struct ik_diag *d)
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
        rc = new_model(&m, &cfg, stream, d);
    if (rc == 0)
        rc = load_globals(st, m, d);
    for (int l = 0; rc == 0 && l < cfg.L; l++)
        rc = cfg.arch == IK_LM_NEMOTRON_H ? load_hybrid_layer(st, m, l, d) : load_layer(st, m, l, d);
    if (m && m->stream)
        m->stream->st = st; /* the model's now: closed with it */
    else
        ik_st_close(st);
    free(cfg_path);
    if (rc != 0) {
        ik_lm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int ik_lm_model_load_hf(struct ik_lm_model **out, const char *dir, struct ik_diag *d)
{
    return load_hf(out, dir, 0, d);
}

int ik_lm_model_load(struct ik_lm_model **out, const char *path, struct ik_diag *d)
{
    return ik_lm_model_load_opts(out, path, IK_LM_LOAD_ALL, d);
}

int ik_lm_model_load_opts(struct ik_lm_model **out, const char *path, int how, struct ik_diag *d)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ik_diag_set(d, -errno, "cannot open model '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return load_hf(out, path, how == IK_LM_LOAD_STREAM, d);
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0)
        return ik_lm_model_load_gguf(out, path, d);
    return ik_lm_model_load_llama2c(out, path, d);
}
