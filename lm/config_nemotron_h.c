/* lm/config_nemotron_h.c - a NemotronHForCausalLM config.json into struct
 * ik_lm_config (see config.h). Defaults follow transformers'
 * NemotronHConfig. The layer kinds come from hybrid_override_pattern ("M"
 * Mamba-2, "-" MLP, "*" attention) or, when it is absent, from the per-layer
 * list layers_block_type ("mamba", "mlp", "attention"); a MoE block, an
 * activation other than relu2 / silu and any linear bias are refused by name. */
#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "lm/config.h"
#include "lm/config_int.h"

/* An IK_EVALIDATE diag at file: a config that names what this code does not compute. */
#define bad(d, file, ...) ik_diag_at((d), IK_EVALIDATE, &(struct ik_srcloc){(file), 0, 0}, NULL, 0, \
                                     __VA_ARGS__)

/* The block of one pattern letter, or -1. */
static int letter_block(char ch)
{
    return ch == 'M' ? IK_LM_BLOCK_MAMBA : ch == '*' ? IK_LM_BLOCK_ATTN : ch == '-' ? IK_LM_BLOCK_MLP : -1;
}

static int word_block(const char *w)
{
    static const struct {
        const char *word;
        int block;
    } words[] = {{"mamba", IK_LM_BLOCK_MAMBA}, {"attention", IK_LM_BLOCK_ATTN}, {"mlp", IK_LM_BLOCK_MLP}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(w, words[i].word) == 0)
            return words[i].block;
    return -1;
}

/* hybrid_override_pattern: one letter per layer. *n receives its length. */
static int parse_pattern(struct ik_lm_config *c, const char *p, int *n, const char *file,
                         struct ik_diag *d)
{
    size_t len = strlen(p);
    if (len == 0 || len > IK_LM_MAX_HYBRID_LAYERS)
        return bad(d, file, "\"hybrid_override_pattern\": %zu letters; expected 1 to %d, one per layer",
                   len, IK_LM_MAX_HYBRID_LAYERS);
    for (size_t i = 0; i < len; i++) {
        int b = letter_block(p[i]);
        if (b < 0)
            return bad(d, file, "\"hybrid_override_pattern\": unknown mixer '%c' at layer %zu%s; "
                       "expected M (Mamba-2), - (MLP) or * (attention)", p[i], i,
                       p[i] == 'E' ? " (MoE blocks are not supported)" : "");
        c->block[i] = (unsigned char)b;
    }
    *n = (int)len;
    return 0;
}

/* layers_block_type: one word per layer. */
static int parse_block_list(struct ik_lm_config *c, json_t *list, int *n, const char *file,
                            struct ik_diag *d)
{
    size_t len = json_array_size(list), i;
    json_t *e;
    if (!json_is_array(list) || len == 0 || len > IK_LM_MAX_HYBRID_LAYERS)
        return bad(d, file, "\"layers_block_type\": expected a list of 1 to %d block names",
                   IK_LM_MAX_HYBRID_LAYERS);
    json_array_foreach(list, i, e) {
        const char *w = json_string_value(e);
        int b = w ? word_block(w) : -1;
        if (b < 0)
            return bad(d, file, "\"layers_block_type\"[%zu]: unknown block '%s'; expected mamba, mlp "
                       "or attention", i, w ? w : "(not a string)");
        c->block[i] = (unsigned char)b;
    }
    *n = (int)len;
    return 0;
}

static int parse_blocks(struct ik_lm_config *c, json_t *root, const char *file, struct ik_diag *d)
{
    json_t *pat = json_object_get(root, "hybrid_override_pattern");
    json_t *list = json_object_get(root, "layers_block_type");
    int n = 0, rc;
    if (pat && !json_is_null(pat)) {
        if (!json_is_string(pat))
            return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", "hybrid_override_pattern",
                                 "a string such as \"M-M*-\"");
        rc = parse_pattern(c, json_string_value(pat), &n, file, d);
    } else if (list && !json_is_null(list)) {
        rc = parse_block_list(c, list, &n, file, d);
    } else {
        return ik_lm_cfg_err(d, IK_EPARSE, file, "missing \"%s\"%s", "hybrid_override_pattern",
                             " (or layers_block_type): the kind of each layer");
    }
    if (rc != 0)
        return rc;
    if ((rc = ik_lm_cfg_int(root, "num_hidden_layers", n, &c->L, file, d)) != 0)
        return rc;
    if (c->L != n)
        return bad(d, file, "\"%s\" has %d layers but \"num_hidden_layers\" is %d",
                   pat && !json_is_null(pat) ? "hybrid_override_pattern" : "layers_block_type", n, c->L);
    return 0;
}

/* A string field that must be absent or equal to want. */
static int expect_str(json_t *root, const char *key, const char *want, const char *file,
                      struct ik_diag *d)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (s == NULL || strcmp(s, want) != 0)
        return bad(d, file, "\"%s\" '%s' is not supported; expected %s", key, s ? s : "(not a string)",
                   want);
    return 0;
}

/* Refuses each bias flag that is true: none of them is computed. */
static int refuse_biases(json_t *root, const char *file, struct ik_diag *d)
{
    static const char *const keys[] = {"attention_bias", "mlp_bias", "use_bias", "mamba_proj_bias"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int on = 0, rc = ik_lm_cfg_bool(root, keys[i], 0, &on, file, d);
        if (rc != 0)
            return rc;
        if (on)
            return bad(d, file, "\"%s\" true is not supported (NemotronH has no linear biases)", keys[i]);
    }
    json_t *sw = json_object_get(root, "sliding_window");
    if (sw && !json_is_null(sw))
        return bad(d, file, "\"sliding_window\" is not supported for NemotronH");
    return 0;
}

static int parse_ssm(struct ik_lm_config *c, json_t *root, const char *file, struct ik_diag *d)
{
    struct ik_lm_ssm_config *s = &c->ssm;
    int rc;
    if ((rc = ik_lm_cfg_int(root, "mamba_num_heads", 128, &s->heads, file, d)) ||
        (rc = ik_lm_cfg_int(root, "mamba_head_dim", 64, &s->head_dim, file, d)) ||
        (rc = ik_lm_cfg_int(root, "n_groups", 8, &s->groups, file, d)) ||
        (rc = ik_lm_cfg_int(root, "ssm_state_size", 128, &s->state, file, d)) ||
        (rc = ik_lm_cfg_int(root, "conv_kernel", 4, &s->conv_kernel, file, d)) ||
        (rc = ik_lm_cfg_int(root, "chunk_size", 128, &s->chunk, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "use_conv_bias", 1, &s->conv_bias, file, d)) ||
        (rc = expect_str(root, "mamba_hidden_act", "silu", file, d)))
        return rc;
    const struct {
        const char *key;
        int v, max;
    } lim[] = {
        {"mamba_num_heads", s->heads, IK_LM_MAX_SSM_HEADS},
        {"mamba_head_dim", s->head_dim, IK_LM_MAX_SSM_HEAD_DIM},
        {"n_groups", s->groups, IK_LM_MAX_SSM_HEADS},
        {"ssm_state_size", s->state, IK_LM_MAX_SSM_STATE},
        {"conv_kernel", s->conv_kernel, IK_LM_MAX_CONV_KERNEL},
        {"chunk_size", s->chunk, 1 << 20},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].v < 1 || lim[i].v > lim[i].max)
            return bad(d, file, "\"%s\": %d is outside [1, %d]", lim[i].key, lim[i].v, lim[i].max);
    if (s->heads % s->groups != 0)
        return bad(d, file, "\"n_groups\" (%d) must divide \"mamba_num_heads\" (%d)", s->groups,
                   s->heads);
    return 0;
}

int ik_lm_cfg_parse_nemotron_h(struct ik_lm_config *c, json_t *root, const char *file,
                               struct ik_diag *d)
{
    int rc;
    if ((rc = parse_blocks(c, root, file, d)) ||
        (rc = ik_lm_cfg_int(root, "hidden_size", -2, &c->D, file, d)) ||
        (rc = ik_lm_cfg_int(root, "intermediate_size", -2, &c->F, file, d)) ||
        (rc = ik_lm_cfg_int(root, "num_attention_heads", -2, &c->H, file, d)) ||
        (rc = ik_lm_cfg_int(root, "vocab_size", -2, &c->V, file, d)) ||
        (rc = ik_lm_cfg_int(root, "num_key_value_heads", c->H, &c->K, file, d)) ||
        (rc = ik_lm_cfg_int(root, "head_dim", c->H ? c->D / c->H : 0, &c->head_dim, file, d)) ||
        (rc = ik_lm_cfg_int(root, "max_position_embeddings", 4096, &c->max_seq, file, d)) ||
        (rc = ik_lm_cfg_int(root, "bos_token_id", 1, &c->bos_id, file, d)) ||
        (rc = ik_lm_cfg_float(root, "layer_norm_epsilon", 1e-5, &c->norm_eps, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "tie_word_embeddings", 0, &c->tie_embeddings, file, d)) ||
        (rc = refuse_biases(root, file, d)) ||
        (rc = expect_str(root, "mlp_hidden_act", "relu2", file, d)) ||
        (rc = parse_ssm(c, root, file, d)))
        return rc;
    json_t *eos = json_object_get(root, "eos_token_id");
    if (eos == NULL) {
        c->eos_id[0] = 2; /* NemotronHConfig's default */
        c->n_eos = 1;
    } else if ((rc = ik_lm_cfg_eos(c, eos, file, d)) != 0) {
        return rc;
    }
    if (c->D <= 0 || c->F <= 0 || c->H <= 0 || c->K <= 0 || c->V <= 0 || c->head_dim <= 0)
        return bad(d, file, "sizes must be positive (hidden_size %d, intermediate_size %d, "
                   "num_attention_heads %d, num_key_value_heads %d, head_dim %d, vocab_size %d)",
                   c->D, c->F, c->H, c->K, c->head_dim, c->V);
    if (c->H % c->K != 0)
        return bad(d, file, "num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)",
                   c->H, c->K);
    c->no_rope = 1;
    c->rope_theta = 10000.0f; /* unused: no RoPE */
    return ik_lm_cfg_check_limits(c, file, d);
}
