/* lm/lora.c - LoRA adapter parameters (one arena, PEFT initialisation),
 * the seeded dropout mask, merging, and the PEFT folder format (see lora.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/dispatch.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "base/prng.h"

static const char *const target_names[IK_LORA_NT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                      "gate_proj", "up_proj", "down_proj",
                                                      "in_proj", "out_proj"};
static const char *const target_short[IK_LORA_NT] = {"q", "k", "v", "o", "gate", "up", "down",
                                                      "in", "out"};
/* The PEFT path of each target inside a Llama-family decoder layer. */
static const char *const target_path[IK_LORA_NT] = {"self_attn.q_proj", "self_attn.k_proj",
                                                     "self_attn.v_proj", "self_attn.o_proj",
                                                     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
                                                     NULL, NULL};

const char *ik_lora_target_name(int target) { return target_names[target]; }

#define BIT(t) (1u << (t))
#define LLAMA_TARGETS (BIT(IK_LORA_Q) | BIT(IK_LORA_K) | BIT(IK_LORA_V) | BIT(IK_LORA_O) | \
                       BIT(IK_LORA_GATE) | BIT(IK_LORA_UP) | BIT(IK_LORA_DOWN))

/* The targets of a layer of block b. */
static unsigned block_targets(int b)
{
    switch (b) {
    case IK_LM_BLOCK_MAMBA:
        return BIT(IK_LORA_IN) | BIT(IK_LORA_OUT);
    case IK_LM_BLOCK_ATTN:
        return BIT(IK_LORA_Q) | BIT(IK_LORA_K) | BIT(IK_LORA_V) | BIT(IK_LORA_O);
    case IK_LM_BLOCK_MLP:
        return BIT(IK_LORA_UP) | BIT(IK_LORA_DOWN);
    default:
        return LLAMA_TARGETS;
    }
}

unsigned ik_lora_family_targets(const struct ik_lm_config *mc)
{
    return mc->arch == IK_LM_NEMOTRON_H ? block_targets(IK_LM_BLOCK_MAMBA) |
                                          block_targets(IK_LM_BLOCK_ATTN) |
                                          block_targets(IK_LM_BLOCK_MLP)
                                        : LLAMA_TARGETS;
}

int ik_lora_has_module(const struct ik_lm_config *mc, int l, int t)
{
    return (block_targets(ik_lm_config_block(mc, l)) & BIT(t)) != 0;
}

static int target_index(const char *s, size_t n)
{
    for (int t = 0; t < IK_LORA_NT; t++)
        if ((strlen(target_names[t]) == n && strncmp(s, target_names[t], n) == 0) ||
            (strlen(target_short[t]) == n && strncmp(s, target_short[t], n) == 0))
            return t;
    return -1;
}

int ik_lora_parse_targets(const char *list, unsigned *targets, struct ik_diag *d)
{
    *targets = 0;
    if (strcmp(list, "all") == 0) {
        *targets = IK_LORA_ALL;
        return 0;
    }
    const char *p = list;
    for (;;) {
        size_t n = strcspn(p, ",");
        int t = target_index(p, n);
        if (t < 0)
            return ik_diag_set(d, IK_EVALIDATE, "unknown LoRA target '%.*s' in '%s': expected q, k, v, "
                               "o, gate, up, down, in, out (or q_proj, ...), or all", (int)n, p, list);
        *targets |= 1u << t;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

void ik_lora_target_dims(const struct ik_lm_config *c, int t, int *in, int *out)
{
    if (t == IK_LORA_IN || t == IK_LORA_OUT) {
        *in = t == IK_LORA_IN ? c->D : ik_lm_ssm_inner(c);
        *out = t == IK_LORA_IN ? ik_lm_ssm_in_dim(c) : c->D;
        return;
    }
    int qw = c->H * c->head_dim, kw = c->K * c->head_dim;
    static const int is_in_d[IK_LORA_NT] = {1, 1, 1, 0, 1, 1, 0};
    *in = is_in_d[t] ? c->D : t == IK_LORA_O ? qw : c->F;
    *out = t == IK_LORA_Q ? qw : t == IK_LORA_K || t == IK_LORA_V ? kw
         : t == IK_LORA_GATE || t == IK_LORA_UP ? c->F : c->D;
}

/* The first of targets that mc's family lacks, as a diag, or 0. */
static int refuse_foreign(const struct ik_lm_config *mc, unsigned targets, struct ik_diag *d)
{
    unsigned extra = targets & ~ik_lora_family_targets(mc);
    if (extra == 0)
        return 0;
    int t = 0;
    while (!(extra & BIT(t)))
        t++;
    return ik_diag_set(d, IK_EVALIDATE, "LoRA target %s does not exist in a %s model", target_names[t],
                       ik_lm_arch_name(mc->arch));
}

/* Allocates the arena for cfg (zeros), or fails with -ENOMEM. */
static int lora_alloc(struct ik_lora **out, const struct ik_lm_config *mc,
                      const struct ik_lora_config *lc, struct ik_diag *d)
{
    if (lc->r < 1 || !(lc->alpha > 0) || !(lc->dropout >= 0 && lc->dropout < 1) || lc->targets == 0 ||
        lc->targets > IK_LORA_ALL)
        return ik_diag_set(d, IK_EVALIDATE, "LoRA needs r >= 1, alpha > 0, dropout in [0, 1) and at "
                           "least one target (got r %d, alpha %g, dropout %g)", lc->r,
                           (double)lc->alpha, (double)lc->dropout);
    /* IK_LORA_ALL narrows to the family; any other set must be the family's. */
    int rc = lc->targets == IK_LORA_ALL ? 0 : refuse_foreign(mc, lc->targets, d);
    if (rc != 0)
        return rc;
    struct ik_lora *a = ik_xcalloc(1, sizeof *a);
    a->cfg = *lc;
    a->cfg.targets &= ik_lora_family_targets(mc);
    a->scale = lc->alpha / (float)lc->r;
    a->L = mc->L;
    a->arch = mc->arch;
    a->mod = ik_xcalloc((size_t)mc->L * IK_LORA_NT, sizeof *a->mod);
    size_t n = 0, r = (size_t)lc->r;
    for (int l = 0; l < mc->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            ik_lora_target_dims(mc, t, &m->in, &m->out);
            if ((a->cfg.targets & BIT(t)) && ik_lora_has_module(mc, l, t))
                n += r * (size_t)(m->in + m->out);
        }
    a->n_params = n;
    a->params = calloc(2 * n, sizeof(float));
    if (a->params == NULL) {
        free(a->mod);
        free(a);
        return ik_diag_set(d, -ENOMEM, "LoRA adapter of %zu parameters could not be allocated", n);
    }
    a->grads = a->params + n;
    size_t off = 0;
    for (int l = 0; l < mc->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (!(a->cfg.targets & BIT(t)) || !ik_lora_has_module(mc, l, t))
                continue;
            m->A = a->params + off;
            m->dA = a->grads + off;
            off += r * (size_t)m->in;
            m->B = a->params + off;
            m->dB = a->grads + off;
            off += r * (size_t)m->out;
        }
    *out = a;
    return 0;
}

int ik_lora_new(struct ik_lora **out, const struct ik_lm_config *mc, const struct ik_lora_config *lc,
                uint64_t seed, struct ik_diag *d)
{
    struct ik_lora *a;
    int rc = lora_alloc(&a, mc, lc, d);
    if (rc != 0)
        return rc;
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    for (int i = 0; i < mc->L * IK_LORA_NT; i++) {
        struct ik_lora_module *m = &a->mod[i];
        if (m->A == NULL)
            continue;
        /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2/6), bound gain*sqrt(3/fan_in) = 1/sqrt(In). */
        double bound = 1.0 / sqrt((double)m->in);
        for (size_t j = 0; j < (size_t)lc->r * m->in; j++)
            m->A[j] = (float)((2.0 * ik_prng_double(&r) - 1.0) * bound);
    }
    *out = a;
    return 0;
}

void ik_lora_free(struct ik_lora *a)
{
    if (a == NULL)
        return;
    free(a->params);
    free(a->mod);
    free(a);
}

void ik_lora_zero_grad(struct ik_lora *a) { memset(a->grads, 0, a->n_params * sizeof(float)); }

void ik_lora_dropout(float *out, const float *x, int N, int In, float p, uint64_t seed, int layer,
                     int target)
{
    size_t n = (size_t)N * In;
    if (p <= 0) {
        if (out != x)
            memcpy(out, x, n * sizeof *out);
        return;
    }
    ik_dropout(out, x, n, p, ik_lora_dropout_key(seed, layer, target));
}

uint64_t ik_lora_dropout_key(uint64_t seed, int layer, int target)
{
    /* A distinct key per (layer, target): the golden-ratio multiple spreads
     * them, and a first draw of base/prng.h mixes the seed in. */
    struct ik_prng r;
    ik_prng_seed(&r, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(layer * IK_LORA_NT + target + 1)));
    return ik_prng_next(&r);
}

static float *model_weight(struct ik_lm_model *m, int l, int t)
{
    struct ik_lm_layer *y = &m->layers[l];
    float *w[IK_LORA_NT] = {y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down, y->ssm_in,
                            y->ssm_out};
    return w[t];
}

void ik_lora_merge(const struct ik_lora *a, struct ik_lm_model *m)
{
    int r = a->cfg.r;
    for (int l = 0; l < a->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *md = &a->mod[l * IK_LORA_NT + t];
            if (md->A == NULL)
                continue;
            float *w = model_weight(m, l, t);
            for (int o = 0; o < md->out; o++)
                for (int i = 0; i < md->in; i++) {
                    double s = 0;
                    for (int k = 0; k < r; k++)
                        s += (double)md->B[(size_t)o * r + k] * md->A[(size_t)k * md->in + i];
                    w[(size_t)o * md->in + i] += (float)(a->scale * s);
                }
        }
}

char *ik_lora_tensor_name(int arch, int l, int t, char ab)
{
    if (arch == IK_LM_NEMOTRON_H)
        return ik_xasprintf("base_model.model.model.layers.%d.mixer.%s.lora_%c.weight", l,
                            target_names[t], ab);
    return ik_xasprintf("base_model.model.model.layers.%d.%s.lora_%c.weight", l, target_path[t], ab);
}

int ik_lora_save(const struct ik_lora *a, const char *dir, const char *base_model, struct ik_diag *d)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ik_diag_set(d, -errno, "cannot create adapter folder '%s': %s", dir, strerror(errno));
    json_t *targets = json_array();
    for (int t = 0; t < IK_LORA_NT; t++)
        if (a->cfg.targets & (1u << t))
            json_array_append_new(targets, json_string(target_names[t]));
    json_t *cfg = json_pack("{s:s, s:s, s:i, s:f, s:f, s:o, s:s, s:b, s:b, s:b, s:b, s:n, s:n}",
                            "peft_type", "LORA", "task_type", "CAUSAL_LM", "r", a->cfg.r, "lora_alpha",
                            (double)a->cfg.alpha, "lora_dropout", (double)a->cfg.dropout,
                            "target_modules", targets, "bias", "none", "fan_in_fan_out", 0,
                            "inference_mode", 1, "use_rslora", 0, "init_lora_weights", 1,
                            "layers_to_transform", "modules_to_save");
    json_object_set_new(cfg, "base_model_name_or_path",
                        base_model ? json_string(base_model) : json_null());
    char *path = ik_xasprintf("%s/adapter_config.json", dir);
    int rc = 0;
    if (json_dump_file(cfg, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        rc = ik_diag_set(d, -EIO, "cannot write '%s'", path);
    json_decref(cfg);
    free(path);
    if (rc != 0)
        return rc;

    size_t n = 0, cap = 0;
    struct ik_st_wtensor *w = NULL;
    for (int l = 0; l < a->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (m->A == NULL)
                continue;
            w = ik_xgrow(w, &cap, n + 2, sizeof *w);
            struct ik_st_wtensor ta = {ik_lora_tensor_name(a->arch, l, t, 'A'), IK_ST_F32, 2, {a->cfg.r, m->in},
                                       m->A};
            struct ik_st_wtensor tb = {ik_lora_tensor_name(a->arch, l, t, 'B'), IK_ST_F32, 2, {m->out, a->cfg.r},
                                       m->B};
            w[n++] = ta;
            w[n++] = tb;
        }
    path = ik_xasprintf("%s/adapter_model.safetensors", dir);
    rc = ik_st_write(path, w, n, d);
    for (size_t i = 0; i < n; i++)
        free((char *)w[i].name);
    free(w);
    free(path);
    return rc;
}

/* Reads and checks adapter_config.json into lc. */
static int read_config(const char *path, struct ik_lora_config *lc, struct ik_diag *d)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) {
        struct ik_srcloc at = {path, e.line > 0 ? e.line : 0, e.line > 0 ? e.column : 0};
        return ik_diag_at(d, e.line > 0 ? IK_EPARSE : -ENOENT, &at, NULL, 0, "%s", e.text);
    }
    struct ik_srcloc loc = {path, 0, 0};
    int rc = 0;
    memset(lc, 0, sizeof *lc);
    json_t *v;
    const char *s;
#define BAD(...) (rc = ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, __VA_ARGS__))
    if ((v = json_object_get(j, "peft_type")) && (!(s = json_string_value(v)) || strcmp(s, "LORA") != 0))
        BAD("field 'peft_type': only \"LORA\" adapters are supported");
    else if (!json_is_integer(v = json_object_get(j, "r")) || json_integer_value(v) < 1 ||
             json_integer_value(v) > 65536)
        BAD("field 'r': expected a positive integer");
    else if (!json_is_number(json_object_get(j, "lora_alpha")))
        BAD("field 'lora_alpha': expected a number");
    else if ((v = json_object_get(j, "use_rslora")) && json_is_true(v))
        BAD("field 'use_rslora': rank-stabilised scaling is not supported");
    else if ((v = json_object_get(j, "fan_in_fan_out")) && json_is_true(v))
        BAD("field 'fan_in_fan_out': transposed (Conv1D) weights are not supported");
    else if ((v = json_object_get(j, "bias")) && (!(s = json_string_value(v)) || strcmp(s, "none") != 0))
        BAD("field 'bias': only \"none\" is supported");
    else if ((v = json_object_get(j, "layers_to_transform")) && !json_is_null(v))
        BAD("field 'layers_to_transform': adapters on a subset of layers are not supported");
    else if ((v = json_object_get(j, "use_dora")) && json_is_true(v))
        BAD("field 'use_dora': DoRA adapters are not supported");
    /* Per-module ranks or alphas would silently change the scale of some
     * modules if ignored: refuse any non-empty pattern. */
    else if ((v = json_object_get(j, "rank_pattern")) && !json_is_null(v) &&
             !(json_is_object(v) && json_object_size(v) == 0))
        BAD("field 'rank_pattern': per-module ranks are not supported");
    else if ((v = json_object_get(j, "alpha_pattern")) && !json_is_null(v) &&
             !(json_is_object(v) && json_object_size(v) == 0))
        BAD("field 'alpha_pattern': per-module alphas are not supported");
    else if (!json_is_array(v = json_object_get(j, "target_modules")) || json_array_size(v) == 0)
        BAD("field 'target_modules': expected a list of module names");
    if (rc == 0) {
        lc->r = (int)json_integer_value(json_object_get(j, "r"));
        lc->alpha = (float)json_number_value(json_object_get(j, "lora_alpha"));
        json_t *dp = json_object_get(j, "lora_dropout");
        lc->dropout = json_is_number(dp) ? (float)json_number_value(dp) : 0.0f;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            s = json_string_value(x);
            int t = s ? target_index(s, strlen(s)) : -1;
            if (t < 0 || strlen(s) < 3) {
                BAD("field 'target_modules': unknown module '%s': expected q_proj, k_proj, v_proj, "
                    "o_proj, gate_proj, up_proj, down_proj, in_proj or out_proj", s ? s : "(not a string)");
                break;
            }
            lc->targets |= 1u << t;
        }
    }
#undef BAD
    json_decref(j);
    return rc;
}

/* Whether name is the lora_A or lora_B tensor of one of a's modules. */
static int is_expected(const struct ik_lora *a, const char *name)
{
    int hit = 0;
    for (int i = 0; !hit && i < a->L * IK_LORA_NT; i++)
        for (int ab = 0; !hit && a->mod[i].A && ab < 2; ab++) {
            char *n = ik_lora_tensor_name(a->arch, i / IK_LORA_NT, i % IK_LORA_NT, ab ? 'B' : 'A');
            hit = strcmp(n, name) == 0;
            free(n);
        }
    return hit;
}

int ik_lora_load(struct ik_lora **out, const struct ik_lm_config *mc, const char *dir,
                 struct ik_diag *d)
{
    struct ik_lora_config lc;
    char *cpath = ik_xasprintf("%s/adapter_config.json", dir);
    char *wpath = ik_xasprintf("%s/adapter_model.safetensors", dir);
    struct ik_lora *a = NULL;
    struct ik_st *st = NULL;
    int rc = read_config(cpath, &lc, d);
    if (rc == 0) /* a list naming every target must not read as "all" */
        rc = refuse_foreign(mc, lc.targets, d);
    if (rc == 0)
        rc = lora_alloc(&a, mc, &lc, d);
    if (rc == 0)
        rc = ik_st_open(&st, wpath, d);
    size_t found = 0;
    for (int l = 0; rc == 0 && l < mc->L; l++)
        for (int t = 0; rc == 0 && t < IK_LORA_NT; t++) {
            struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (m->A == NULL)
                continue;
            char *na = ik_lora_tensor_name(a->arch, l, t, 'A'), *nb = ik_lora_tensor_name(a->arch, l, t, 'B');
            int64_t sa[2] = {lc.r, m->in}, sb[2] = {m->out, lc.r};
            rc = ik_st_read_f32(st, na, m->A, 2, sa, d);
            if (rc == 0)
                rc = ik_st_read_f32(st, nb, m->B, 2, sb, d);
            free(na);
            free(nb);
            found += 2;
        }
    /* Every tensor must have been read: anything else would be silently ignored. */
    for (size_t i = 0; rc == 0 && found != ik_st_count(st) && i < ik_st_count(st); i++) {
        const struct ik_st_tensor *t = ik_st_at(st, i);
        if (is_expected(a, t->name))
            continue;
        struct ik_srcloc at = {wpath, 0, 0};
        rc = ik_diag_at(d, IK_EVALIDATE, &at, NULL, 0, "offset %zu: unexpected tensor '%s': the "
                        "target_modules of %s do not include it", t->offset, t->name, cpath);
    }
    ik_st_close(st);
    free(cpath);
    free(wpath);
    if (rc != 0) {
        ik_lora_free(a);
        return rc;
    }
    *out = a;
    return 0;
}
