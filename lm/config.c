/* lm/config.c - config.json to struct ik_lm_config (see config.h).
 * Defaults follow the transformers configuration classes of each
 * architecture, so that a minimal config.json reads as transformers reads it. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/spellcheck.h"
#include "lm/config.h"
#include "lm/config_int.h"

static const char *const arch_class[] = {"LlamaForCausalLM", "MistralForCausalLM",
                                         "Qwen2ForCausalLM", "Qwen3ForCausalLM",
                                         "NemotronHForCausalLM", NULL};

const char *ik_lm_arch_name(int arch)
{
    static const char *const n[] = {"llama", "mistral", "qwen2", "qwen3", "nemotron_h"};
    return arch >= 0 && arch <= IK_LM_NEMOTRON_H ? n[arch] : "?";
}

int ik_lm_config_block(const struct ik_lm_config *c, int l)
{
    return c->arch == IK_LM_NEMOTRON_H ? c->block[l] : IK_LM_BLOCK_DECODER;
}

int ik_lm_config_count_blocks(const struct ik_lm_config *c, int b)
{
    int n = 0;
    for (int l = 0; l < c->L; l++)
        n += ik_lm_config_block(c, l) == b;
    return n;
}

int ik_lm_ssm_inner(const struct ik_lm_config *c) { return c->ssm.heads * c->ssm.head_dim; }

int ik_lm_ssm_conv_dim(const struct ik_lm_config *c)
{
    return ik_lm_ssm_inner(c) + 2 * c->ssm.groups * c->ssm.state;
}

int ik_lm_ssm_in_dim(const struct ik_lm_config *c)
{
    return ik_lm_ssm_inner(c) + ik_lm_ssm_conv_dim(c) + c->ssm.heads;
}

int ik_lm_cfg_err(struct ik_diag *d, int code, const char *file, const char *fmt, const char *a,
                  const char *b)
{
    struct ik_srcloc loc = {file, 0, 0};
    return ik_diag_at(d, code, &loc, NULL, 0, fmt, a, b);
}

int ik_lm_cfg_int(json_t *root, const char *key, int dflt, int *out, const char *file,
                  struct ik_diag *d)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v)) {
        if (dflt < -1)
            return ik_lm_cfg_err(d, IK_EPARSE, file, "missing \"%s\"%s", key, " (an integer)");
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > 1 << 30)
        return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", key, "a non-negative integer");
    *out = (int)json_integer_value(v);
    return 0;
}

int ik_lm_cfg_float(json_t *root, const char *key, double dflt, float *out, const char *file,
                    struct ik_diag *d)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v)) {
        *out = (float)dflt;
        return 0;
    }
    if (!json_is_number(v))
        return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", key, "a number");
    *out = (float)json_number_value(v);
    return 0;
}

int ik_lm_cfg_bool(json_t *root, const char *key, int dflt, int *out, const char *file,
                   struct ik_diag *d)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", key, "true or false");
    *out = json_is_true(v);
    return 0;
}

static int parse_rope_scaling(struct ik_lm_config *c, json_t *rs, const char *file, struct ik_diag *d)
{
    c->rope_factor = 0;
    if (rs == NULL || json_is_null(rs))
        return 0;
    if (!json_is_object(rs))
        return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", "rope_scaling", "an object or null");
    json_t *t = json_object_get(rs, "rope_type");
    if (t == NULL)
        t = json_object_get(rs, "type");
    const char *type = json_string_value(t);
    if (type && strcmp(type, "default") == 0)
        return 0;
    if (type == NULL || strcmp(type, "llama3") != 0)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "rope_scaling type '%s' is not supported%s",
                   type ? type : "(none)", "; supported: llama3");
    int rc;
    if ((rc = ik_lm_cfg_float(rs, "factor", 8.0, &c->rope_factor, file, d)) ||
        (rc = ik_lm_cfg_float(rs, "low_freq_factor", 1.0, &c->rope_low_freq_factor, file, d)) ||
        (rc = ik_lm_cfg_float(rs, "high_freq_factor", 4.0, &c->rope_high_freq_factor, file, d)) ||
        (rc = ik_lm_cfg_int(rs, "original_max_position_embeddings", 8192, &c->rope_original_max_seq, file, d)))
        return rc;
    if (c->rope_factor <= 0 || c->rope_high_freq_factor <= c->rope_low_freq_factor)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "rope_scaling: %s%s", "need factor > 0 and "
                   "high_freq_factor > low_freq_factor", "");
    return 0;
}

/* One id of eos_token_id: a value beyond an int would wrap into another token. */
static int add_eos(struct ik_lm_config *c, json_t *v, const char *file, struct ik_diag *d)
{
    json_int_t id = json_integer_value(v);
    if (id < -1 || id > 1 << 30) { /* -1, as get_int allows, matches no token */
        struct ik_srcloc loc = {file, 0, 0};
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "\"eos_token_id\": %lld is not a token id",
                          (long long)id);
    }
    if (c->n_eos < IK_LM_MAX_EOS)
        c->eos_id[c->n_eos++] = (int)id;
    return 0;
}

int ik_lm_cfg_eos(struct ik_lm_config *c, json_t *v, const char *file, struct ik_diag *d)
{
    c->n_eos = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v))
        return add_eos(c, v, file, d);
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", "eos_token_id", "an integer or a list");
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e))
            return ik_lm_cfg_err(d, IK_EPARSE, file, "\"%s\": expected %s", "eos_token_id", "integers");
        int rc = add_eos(c, e, file, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ik_lm_cfg_check_limits(const struct ik_lm_config *c, const char *file, struct ik_diag *d)
{
    const struct {
        const char *key;
        int v, max;
    } lim[] = {
        {"hidden_size", c->D, IK_LM_MAX_HIDDEN},
        {"intermediate_size", c->F, IK_LM_MAX_FFN},
        {"num_hidden_layers", c->L, IK_LM_MAX_LAYERS},
        {"num_attention_heads", c->H, IK_LM_MAX_HEADS},
        {"num_key_value_heads", c->K, IK_LM_MAX_HEADS},
        {"head_dim", c->head_dim, IK_LM_MAX_HEAD_DIM},
        {"vocab_size", c->V, IK_LM_MAX_VOCAB},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].v > lim[i].max) {
            struct ik_srcloc loc = {file, 0, 0};
            return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "\"%s\": %d exceeds the plausibility "
                              "limit %d", lim[i].key, lim[i].v, lim[i].max);
        }
    return 0;
}

static int parse_root(struct ik_lm_config *c, json_t *root, const char *file, struct ik_diag *d)
{
    json_t *archs = json_object_get(root, "architectures");
    const char *name = json_string_value(json_array_get(archs, 0));
    if (name == NULL)
        return ik_lm_cfg_err(d, IK_EPARSE, file, "missing \"%s\"%s", "architectures", " (a list of class names)");
    c->arch = -1;
    for (int i = 0; arch_class[i]; i++)
        if (strcmp(name, arch_class[i]) == 0)
            c->arch = i;
    if (c->arch < 0) {
        const char *near = ik_spellcheck(name, arch_class);
        ik_lm_cfg_err(d, IK_EVALIDATE, file, "unsupported architecture '%s'%s", name,
            "; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
            "NemotronHForCausalLM");
        if (near)
            ik_diag_hint(d, "did you mean '%s'?", near);
        return IK_EVALIDATE;
    }
    if (c->arch == IK_LM_NEMOTRON_H)
        return ik_lm_cfg_parse_nemotron_h(c, root, file, d);
    int rc, mlp_bias = 0, use_sw = 0, attn_bias = 0;
    if ((rc = ik_lm_cfg_int(root, "hidden_size", -2, &c->D, file, d)) ||
        (rc = ik_lm_cfg_int(root, "intermediate_size", -2, &c->F, file, d)) ||
        (rc = ik_lm_cfg_int(root, "num_hidden_layers", -2, &c->L, file, d)) ||
        (rc = ik_lm_cfg_int(root, "num_attention_heads", -2, &c->H, file, d)) ||
        (rc = ik_lm_cfg_int(root, "vocab_size", -2, &c->V, file, d)) ||
        (rc = ik_lm_cfg_int(root, "num_key_value_heads", c->H, &c->K, file, d)) ||
        (rc = ik_lm_cfg_int(root, "head_dim", c->H ? c->D / c->H : 0, &c->head_dim, file, d)) ||
        (rc = ik_lm_cfg_int(root, "max_position_embeddings", 2048, &c->max_seq, file, d)) ||
        (rc = ik_lm_cfg_int(root, "bos_token_id", -1, &c->bos_id, file, d)) ||
        (rc = ik_lm_cfg_float(root, "rms_norm_eps", 1e-6, &c->norm_eps, file, d)) ||
        (rc = ik_lm_cfg_float(root, "rope_theta", 10000.0, &c->rope_theta, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "tie_word_embeddings", 0, &c->tie_embeddings, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "attention_bias", 0, &attn_bias, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "mlp_bias", 0, &mlp_bias, file, d)) ||
        (rc = ik_lm_cfg_bool(root, "use_sliding_window", 0, &use_sw, file, d)) ||
        (rc = ik_lm_cfg_eos(c, json_object_get(root, "eos_token_id"), file, d)) ||
        (rc = parse_rope_scaling(c, json_object_get(root, "rope_scaling"), file, d)))
        return rc;
    if (c->D <= 0 || c->F <= 0 || c->L <= 0 || c->H <= 0 || c->K <= 0 || c->V <= 0 ||
        c->head_dim <= 0 || c->head_dim % 2 != 0)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "%s%s", "sizes must be positive and head_dim even", "");
    if (c->H % c->K != 0)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "%s%s", "num_attention_heads must be a multiple of "
                   "num_key_value_heads", "");
    if ((rc = ik_lm_cfg_check_limits(c, file, d)) != 0)
        return rc;
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    if (act && strcmp(act, "silu") != 0)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "hidden_act '%s' is not supported%s", act, "; expected silu");
    if (mlp_bias)
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "%s%s", "mlp_bias true is not supported", "");
    /* Qwen2 always has q/k/v biases and no o_proj bias; Llama and Qwen3 put
     * attention_bias on all four projections; Mistral has none. */
    c->qkv_bias = c->arch == IK_LM_QWEN2 || (attn_bias && c->arch != IK_LM_MISTRAL);
    c->o_bias = attn_bias && (c->arch == IK_LM_LLAMA || c->arch == IK_LM_QWEN3);
    c->qk_norm = c->arch == IK_LM_QWEN3;
    c->sliding_window = 0;
    if (c->arch == IK_LM_MISTRAL) {
        if ((rc = ik_lm_cfg_int(root, "sliding_window", 0, &c->sliding_window, file, d)))
            return rc;
    } else if (use_sw && (c->arch == IK_LM_QWEN2 || c->arch == IK_LM_QWEN3)) {
        return ik_lm_cfg_err(d, IK_EVALIDATE, file, "%s%s", "use_sliding_window true is not supported", "");
    }
    return 0;
}

int ik_lm_config_parse(struct ik_lm_config *c, const char *text, size_t len, const char *file,
                       struct ik_diag *d)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (root == NULL) {
        struct ik_srcloc loc = {file, jerr.line, jerr.column};
        return ik_diag_at(d, IK_EPARSE, &loc, text, len, "%s", jerr.text);
    }
    struct ik_lm_config tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = json_is_object(root) ? parse_root(&tmp, root, file, d)
                                  : ik_lm_cfg_err(d, IK_EPARSE, file, "%s%s", "expected a JSON object", "");
    json_decref(root);
    if (rc == 0)
        *c = tmp;
    return rc;
}

int ik_lm_config_load(struct ik_lm_config *c, const char *path, struct ik_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            text = realloc(text, cap);
            if (text == NULL) {
                fclose(f);
                return ik_diag_set(d, -ENOMEM, "out of memory reading '%s'", path);
            }
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? ik_diag_set(d, -EIO, "cannot read '%s'", path)
                 : ik_lm_config_parse(c, text ? text : "", len, path, d);
    free(text);
    return rc;
}

void ik_lm_config_inv_freq(const struct ik_lm_config *c, float *inv_freq)
{
    int half = c->head_dim / 2;
    for (int j = 0; j < half; j++) {
        double f = pow((double)c->rope_theta, -2.0 * j / c->head_dim);
        if (c->rope_factor > 0) {
            /* Llama 3.1: long wavelengths are slowed by factor, short ones kept,
             * the band between blended (transformers _compute_llama3_parameters). */
            double old = c->rope_original_max_seq;
            double low_wl = old / c->rope_low_freq_factor, high_wl = old / c->rope_high_freq_factor;
            double wl = 2 * M_PI / f;
            if (wl > low_wl) {
                f = f / c->rope_factor;
            } else if (wl >= high_wl) {
                double s = (old / wl - c->rope_low_freq_factor) /
                           (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1 - s) * f / c->rope_factor + s * f;
            }
        }
        inv_freq[j] = (float)f;
    }
}
