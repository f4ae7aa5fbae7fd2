/* nodes/train/adapter_artifact.c - the lora.adapter artifact: packing, and a
 * reader that trusts nothing (see adapter_artifact.h).
 *
 * The reader checks every field for presence, type and range, then every
 * tensor's dtype, shape and byte count against the config, all before the
 * adapter is allocated: a hostile artifact can make it allocate no more than
 * the tensor data it really holds. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/mp.h"
#include "base/strmap.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "lm/chat_template.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "nodes/train/adapter_artifact.h"

#define KIND "lora.adapter"
#define SCHEMA 1
/* The largest rank read back, as lm/lora.c reads adapter_config.json: far
 * above any used (4..256), and r times a width stays far inside a size_t. */
#define MAX_R 65536
/* The bound lm/config.c puts on token ids and positions. */
#define MAX_ID (1 << 30)

/* ---- packing ---- */

static void pack_key(struct ik_mp_writer *w, const char *key) { ik_mp_pack_str(&w->pk, key); }

static void pack_int(struct ik_mp_writer *w, const char *key, int64_t v)
{
    pack_key(w, key);
    msgpack_pack_int64(&w->pk, v);
}

/* Floats go as float32, the adapter's and the config's own precision, so they
 * read back bit for bit. */
static void pack_float(struct ik_mp_writer *w, const char *key, float v)
{
    pack_key(w, key);
    msgpack_pack_float(&w->pk, v);
}

static void pack_bool(struct ik_mp_writer *w, const char *key, int v)
{
    pack_key(w, key);
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

static void pack_str(struct ik_mp_writer *w, const char *key, const char *s, size_t max)
{
    pack_key(w, key);
    ik_mp_pack_strn(&w->pk, s, strnlen(s, max));
}

static int n_targets(unsigned targets)
{
    int n = 0;
    for (int t = 0; t < IK_LORA_NT; t++)
        n += (targets >> t) & 1;
    return n;
}

/* The modules an adapter of these targets has on a model of shape mc (a
 * NemotronH layer has its mixer's only). */
static size_t n_modules(const struct ik_lm_config *mc, unsigned targets)
{
    size_t n = 0;
    for (int l = 0; l < mc->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++)
            n += (targets >> t & 1) && ik_lora_has_module(mc, l, t);
    return n;
}

static void pack_meta(struct ik_mp_writer *w, const struct ik_lora *a, const struct ik_lm_config *base,
                      const struct ik_lora_artifact_info *info)
{
    ik_mp_map_begin(w, 9);
    pack_int(w, "r", a->cfg.r);
    pack_float(w, "alpha", a->cfg.alpha);
    pack_float(w, "dropout", a->cfg.dropout);
    pack_key(w, "targets");
    ik_mp_array_begin(w, (size_t)n_targets(a->cfg.targets));
    for (int t = 0; t < IK_LORA_NT; t++)
        if (a->cfg.targets & (1u << t))
            ik_mp_pack_str(&w->pk, ik_lora_target_name(t));
    ik_mp_array_end(w);
    pack_str(w, "base_architecture", ik_lm_arch_name(base->arch), 16);
    pack_str(w, "base_hash", info->base_hash, IK_HASH_HEX_LEN);
    pack_str(w, "tokenizer_hash", info->tokenizer_hash, IK_HASH_HEX_LEN);
    pack_str(w, "chat_template", ik_chat_template_name(info->chat_template), 32);
    pack_int(w, "steps", info->steps);
    ik_mp_map_end(w);
}

/* NemotronH's layer kinds ("M*-" letters, as hybrid_override_pattern) and
 * Mamba-2 sizes. */
static void pack_hybrid(struct ik_mp_writer *w, const struct ik_lm_config *c)
{
    char pattern[IK_LM_MAX_HYBRID_LAYERS + 1];
    for (int l = 0; l < c->L; l++)
        pattern[l] = "?M*-"[c->block[l]];
    pattern[c->L] = '\0';
    pack_str(w, "blocks", pattern, sizeof pattern);
    pack_int(w, "ssm_heads", c->ssm.heads);
    pack_int(w, "ssm_head_dim", c->ssm.head_dim);
    pack_int(w, "ssm_groups", c->ssm.groups);
    pack_int(w, "ssm_state", c->ssm.state);
    pack_int(w, "ssm_conv_kernel", c->ssm.conv_kernel);
    pack_int(w, "ssm_chunk", c->ssm.chunk);
    pack_bool(w, "ssm_conv_bias", c->ssm.conv_bias);
}

static void pack_base_config(struct ik_mp_writer *w, const struct ik_lm_config *c)
{
    bool hybrid = c->arch == IK_LM_NEMOTRON_H;
    ik_mp_map_begin(w, hybrid ? 30 : 22);
    pack_str(w, "arch", ik_lm_arch_name(c->arch), 16);
    pack_int(w, "D", c->D);
    pack_int(w, "F", c->F);
    pack_int(w, "L", c->L);
    pack_int(w, "H", c->H);
    pack_int(w, "K", c->K);
    pack_int(w, "head_dim", c->head_dim);
    pack_int(w, "V", c->V);
    pack_int(w, "max_seq", c->max_seq);
    pack_float(w, "norm_eps", c->norm_eps);
    pack_float(w, "rope_theta", c->rope_theta);
    pack_float(w, "rope_factor", c->rope_factor);
    pack_float(w, "rope_low_freq_factor", c->rope_low_freq_factor);
    pack_float(w, "rope_high_freq_factor", c->rope_high_freq_factor);
    pack_int(w, "rope_original_max_seq", c->rope_original_max_seq);
    pack_bool(w, "tie_embeddings", c->tie_embeddings);
    pack_bool(w, "qkv_bias", c->qkv_bias);
    pack_bool(w, "o_bias", c->o_bias);
    pack_bool(w, "qk_norm", c->qk_norm);
    pack_int(w, "sliding_window", c->sliding_window);
    pack_int(w, "bos_id", c->bos_id);
    pack_key(w, "eos_ids");
    int n_eos = c->n_eos < 0 ? 0 : c->n_eos > IK_LM_MAX_EOS ? IK_LM_MAX_EOS : c->n_eos;
    ik_mp_array_begin(w, (size_t)n_eos);
    for (int i = 0; i < n_eos; i++)
        msgpack_pack_int(&w->pk, c->eos_id[i]);
    ik_mp_array_end(w);
    if (hybrid)
        pack_hybrid(w, c);
    ik_mp_map_end(w);
}

static void pack_tensors(struct ik_mp_writer *w, const struct ik_lora *a)
{
    size_t n = 0;
    for (int i = 0; i < a->L * IK_LORA_NT; i++)
        n += 2 * (a->mod[i].A != NULL);
    ik_mp_map_begin(w, n);
    for (int l = 0; l < a->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (m->A == NULL)
                continue;
            int64_t sa[2] = {a->cfg.r, m->in}, sb[2] = {m->out, a->cfg.r};
            for (int ab = 0; ab < 2; ab++) {
                char *name = ik_lora_tensor_name(a->arch, l, t, ab ? 'B' : 'A');
                ik_mp_pack_str(&w->pk, name);
                free(name);
                const int64_t *shape = ab ? sb : sa;
                ik_artifact_pack_tensor(w, "f32", shape, 2, ab ? m->B : m->A,
                                        (size_t)shape[0] * (size_t)shape[1] * sizeof(float));
            }
        }
    ik_mp_map_end(w);
}

void ik_lora_artifact_pack(struct ik_mp_writer *w, const struct ik_lora *a,
                           const struct ik_lm_config *base, const struct ik_lora_artifact_info *info)
{
    ik_artifact_begin(w, KIND, SCHEMA, 2);
    pack_meta(w, a, base, info);
    pack_key(w, "base_config");
    pack_base_config(w, base);
    pack_key(w, "tensors");
    pack_tensors(w, a);
    ik_artifact_end(w);
}

/* ---- reading: fields ---- */

/* What every check needs to say where it failed. */
struct rd {
    const char *what;
    struct ik_diag *d;
};

static int fail(const struct rd *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(const struct rd *r, int code, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ik_diag_set(r->d, code, "%s: %s", r->what, b.data ? b.data : "");
    ik_buf_free(&b);
    return code;
}

/* The length to print of a hostile string: enough to recognise it. */
static int cut(uint32_t n) { return n > 64 ? 64 : (int)n; }

static const char *type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary data";
    default: return "an extension value";
    }
}

/* A section of the artifact (meta, base_config) and its name in messages. */
struct sec {
    const msgpack_object *map;
    const char *name;
};

/* sec.key if it has the msgpack type `want` (a second type, or the same
 * twice), else NULL with IK_EPARSE set in *rc. */
static const msgpack_object *field(const struct rd *r, const struct sec *s, const char *key,
                                   const char *expected, int want, int want2, int *rc)
{
    const msgpack_object *v = ik_mp_get(s->map, key);
    if (v == NULL) {
        *rc = fail(r, IK_EPARSE, "field '%s.%s' is missing (expected %s)", s->name, key, expected);
        return NULL;
    }
    if ((int)v->type != want && (int)v->type != want2) {
        *rc = fail(r, IK_EPARSE, "field '%s.%s': expected %s, found %s", s->name, key, expected,
                   type_name(v));
        return NULL;
    }
    return v;
}

static bool as_int(const msgpack_object *v, int64_t *out)
{
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return true;
    }
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return true;
    }
    return false;
}

/* An integer field within [lo, hi]. */
static int get_int(const struct rd *r, const struct sec *s, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    int rc = 0;
    const msgpack_object *v = field(r, s, key, "an integer", MSGPACK_OBJECT_POSITIVE_INTEGER,
                                    MSGPACK_OBJECT_NEGATIVE_INTEGER, &rc);
    if (v == NULL)
        return rc;
    int64_t x;
    if (!as_int(v, &x) || x < lo || x > hi)
        return fail(r, IK_EVALIDATE, "field '%s.%s': %s%" PRIu64 " is out of range [%" PRId64 ", %"
                    PRId64 "]", s->name, key, v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? "-" : "",
                    v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (uint64_t)0 - (uint64_t)v->via.i64
                                                               : v->via.u64, lo, hi);
    *out = x;
    return 0;
}

static int get_int32(const struct rd *r, const struct sec *s, const char *key, int64_t lo, int64_t hi,
                     int *out)
{
    int64_t x;
    int rc = get_int(r, s, key, lo, hi, &x);
    if (rc == 0)
        *out = (int)x;
    return rc;
}

/* A float field, finite, above lo (or at it when lo_ok) and below hi. */
static int get_float(const struct rd *r, const struct sec *s, const char *key, double lo, bool lo_ok,
                     double hi, float *out)
{
    int rc = 0;
    const msgpack_object *v = field(r, s, key, "a float", MSGPACK_OBJECT_FLOAT32,
                                    MSGPACK_OBJECT_FLOAT64, &rc);
    if (v == NULL)
        return rc;
    /* The bounds hold for the float32 the value becomes (1e300 is no finite
     * float, 1e-50 becomes 0), so what is read packs and reads again. */
    double x = v->via.f64, f = fabs(x) <= FLT_MAX ? (float)x : NAN;
    if (!isfinite(f) || f < lo || (f == lo && !lo_ok) || f >= hi)
        return fail(r, IK_EVALIDATE, "field '%s.%s': %g is out of range %c%g, %g)", s->name, key, x,
                    lo_ok ? '[' : '(', lo, hi);
    *out = (float)f;
    return 0;
}

static int get_bool(const struct rd *r, const struct sec *s, const char *key, int *out)
{
    int rc = 0;
    const msgpack_object *v = field(r, s, key, "true or false", MSGPACK_OBJECT_BOOLEAN,
                                    MSGPACK_OBJECT_BOOLEAN, &rc);
    if (v != NULL)
        *out = v->via.boolean;
    return rc;
}

/* A string field without NUL bytes (names are compared as C strings). */
static const msgpack_object *get_str(const struct rd *r, const struct sec *s, const char *key, int *rc)
{
    const msgpack_object *v = field(r, s, key, "a string", MSGPACK_OBJECT_STR, MSGPACK_OBJECT_STR, rc);
    if (v != NULL && memchr(v->via.str.ptr, '\0', v->via.str.size) != NULL) {
        *rc = fail(r, IK_EVALIDATE, "field '%s.%s': the string holds a NUL byte", s->name, key);
        return NULL;
    }
    return v;
}

/* ---- reading: the base config and meta ---- */

static int read_arch(const struct rd *r, const struct sec *s, int *arch)
{
    int rc = 0;
    const msgpack_object *v = get_str(r, s, "arch", &rc);
    if (v == NULL)
        return rc;
    for (int i = IK_LM_LLAMA; i <= IK_LM_NEMOTRON_H; i++)
        if (ik_mp_str_eq(v, ik_lm_arch_name(i))) {
            *arch = i;
            return 0;
        }
    return fail(r, IK_EVALIDATE, "field '%s.arch': unknown architecture '%.*s': expected llama, "
                "mistral, qwen2, qwen3 or nemotron_h", s->name, cut(v->via.str.size), v->via.str.ptr);
}

static int read_eos(const struct rd *r, const struct sec *s, struct ik_lm_config *c)
{
    int rc = 0;
    const msgpack_object *v = field(r, s, "eos_ids", "an array of integers", MSGPACK_OBJECT_ARRAY,
                                    MSGPACK_OBJECT_ARRAY, &rc);
    if (v == NULL)
        return rc;
    if (v->via.array.size > IK_LM_MAX_EOS)
        return fail(r, IK_EVALIDATE, "field '%s.eos_ids': %" PRIu32 " ids, at most %d", s->name,
                    v->via.array.size, IK_LM_MAX_EOS);
    c->n_eos = (int)v->via.array.size;
    for (int i = 0; i < c->n_eos; i++) {
        int64_t x;
        if (!as_int(&v->via.array.ptr[i], &x) || x < -1 || x > MAX_ID)
            return fail(r, IK_EVALIDATE, "field '%s.eos_ids': item %d: expected a token id in [-1, %d]",
                        s->name, i, MAX_ID);
        c->eos_id[i] = (int)x;
    }
    return 0;
}

/* NemotronH's fields of base_config (pack_hybrid); their ranges are
 * ik_lm_model_check_size's to check. */
static int read_hybrid(const struct rd *r, const struct sec *s, struct ik_lm_config *c)
{
    struct ik_lm_ssm_config *m = &c->ssm;
    int rc = 0;
    const msgpack_object *v = get_str(r, s, "blocks", &rc);
    if (v == NULL)
        return rc;
    if (v->via.str.size != (uint32_t)c->L || c->L > IK_LM_MAX_HYBRID_LAYERS)
        return fail(r, IK_EVALIDATE, "field '%s.blocks': %" PRIu32 " letters for L = %d layers (at "
                    "most %d)", s->name, v->via.str.size, c->L, IK_LM_MAX_HYBRID_LAYERS);
    for (int l = 0; l < c->L; l++) {
        const char *p = strchr("M*-", v->via.str.ptr[l]);
        if (p == NULL || *p == '\0')
            return fail(r, IK_EVALIDATE, "field '%s.blocks': letter %d is '%c', expected M, * or -",
                        s->name, l, v->via.str.ptr[l]);
        c->block[l] = (unsigned char)(IK_LM_BLOCK_MAMBA + (p - "M*-"));
    }
    if ((rc = get_int32(r, s, "ssm_heads", 1, IK_LM_MAX_SSM_HEADS, &m->heads)) ||
        (rc = get_int32(r, s, "ssm_head_dim", 1, IK_LM_MAX_SSM_HEAD_DIM, &m->head_dim)) ||
        (rc = get_int32(r, s, "ssm_groups", 1, IK_LM_MAX_SSM_HEADS, &m->groups)) ||
        (rc = get_int32(r, s, "ssm_state", 1, IK_LM_MAX_SSM_STATE, &m->state)) ||
        (rc = get_int32(r, s, "ssm_conv_kernel", 1, IK_LM_MAX_CONV_KERNEL, &m->conv_kernel)) ||
        (rc = get_int32(r, s, "ssm_chunk", 1, 1 << 20, &m->chunk)) ||
        (rc = get_bool(r, s, "ssm_conv_bias", &m->conv_bias)))
        return rc;
    c->no_rope = 1;
    return 0;
}

/* base_config, as lm/config.c would accept it from a config.json. */
static int read_base_config(const struct rd *r, const msgpack_object *map, struct ik_lm_config *c)
{
    struct sec s = {map, "base_config"};
    const struct {
        const char *key;
        int *dst;
        int lo, hi;
    } ints[] = {
        {"D", &c->D, 1, IK_LM_MAX_HIDDEN},
        {"F", &c->F, 1, IK_LM_MAX_FFN},
        {"L", &c->L, 1, IK_LM_MAX_LAYERS},
        {"H", &c->H, 1, IK_LM_MAX_HEADS},
        {"K", &c->K, 1, IK_LM_MAX_HEADS},
        {"head_dim", &c->head_dim, 2, IK_LM_MAX_HEAD_DIM},
        {"V", &c->V, 1, IK_LM_MAX_VOCAB},
        {"max_seq", &c->max_seq, 1, MAX_ID},
        {"rope_original_max_seq", &c->rope_original_max_seq, 0, MAX_ID},
        {"sliding_window", &c->sliding_window, 0, MAX_ID},
        {"bos_id", &c->bos_id, -1, MAX_ID},
    };
    const struct {
        const char *key;
        float *dst;
        double lo;
        bool lo_ok;
    } floats[] = {
        {"norm_eps", &c->norm_eps, 0, false},
        {"rope_theta", &c->rope_theta, 0, false},
        {"rope_factor", &c->rope_factor, 0, true},
        {"rope_low_freq_factor", &c->rope_low_freq_factor, 0, true},
        {"rope_high_freq_factor", &c->rope_high_freq_factor, 0, true},
    };
    const struct {
        const char *key;
        int *dst;
    } bools[] = {
        {"tie_embeddings", &c->tie_embeddings},
        {"qkv_bias", &c->qkv_bias},
        {"o_bias", &c->o_bias},
        {"qk_norm", &c->qk_norm},
    };
    memset(c, 0, sizeof *c);
    int rc = read_arch(r, &s, &c->arch);
    for (size_t i = 0; rc == 0 && i < sizeof ints / sizeof ints[0]; i++)
        rc = get_int32(r, &s, ints[i].key, ints[i].lo, ints[i].hi, ints[i].dst);
    for (size_t i = 0; rc == 0 && i < sizeof floats / sizeof floats[0]; i++)
        rc = get_float(r, &s, floats[i].key, floats[i].lo, floats[i].lo_ok, INFINITY, floats[i].dst);
    for (size_t i = 0; rc == 0 && i < sizeof bools / sizeof bools[0]; i++)
        rc = get_bool(r, &s, bools[i].key, bools[i].dst);
    if (rc == 0)
        rc = read_eos(r, &s, c);
    if (rc == 0 && c->arch == IK_LM_NEMOTRON_H)
        rc = read_hybrid(r, &s, c);
    if (rc != 0)
        return rc;
    /* The rules lm/config.c applies to a config.json (an even head for RoPE). */
    if ((c->head_dim % 2 != 0 && !c->no_rope) || c->H % c->K != 0)
        return fail(r, IK_EVALIDATE, "base_config: head_dim (%d) must be even and H (%d) a multiple "
                    "of K (%d)", c->head_dim, c->H, c->K);
    if (c->rope_factor > 0 && !(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return fail(r, IK_EVALIDATE, "base_config: with rope_factor > 0, rope_high_freq_factor (%g) "
                    "must exceed rope_low_freq_factor (%g)", (double)c->rope_high_freq_factor,
                    (double)c->rope_low_freq_factor);
    if ((rc = ik_lm_model_check_size(c, NULL, r->d)) != 0)
        ik_diag_prefix(r->d, "%s: base_config: ", r->what);
    return rc;
}

static int read_targets(const struct rd *r, const struct sec *s, unsigned *targets)
{
    int rc = 0;
    const msgpack_object *v = field(r, s, "targets", "an array of module names", MSGPACK_OBJECT_ARRAY,
                                    MSGPACK_OBJECT_ARRAY, &rc);
    if (v == NULL)
        return rc;
    if (v->via.array.size == 0)
        return fail(r, IK_EVALIDATE, "field '%s.targets': empty (expected at least one module)",
                    s->name);
    *targets = 0;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *e = &v->via.array.ptr[i];
        int t = 0;
        while (t < IK_LORA_NT && !ik_mp_str_eq(e, ik_lora_target_name(t)))
            t++;
        if (t == IK_LORA_NT && e->type == MSGPACK_OBJECT_STR)
            return fail(r, IK_EVALIDATE, "field '%s.targets': unknown module '%.*s': expected q_proj, "
                        "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, in_proj or "
                        "out_proj", s->name,
                        cut(e->via.str.size), e->via.str.ptr);
        if (t == IK_LORA_NT)
            return fail(r, IK_EPARSE, "field '%s.targets': item %" PRIu32 ": expected a string, "
                        "found %s", s->name, i, type_name(e));
        if (*targets & (1u << t))
            return fail(r, IK_EVALIDATE, "field '%s.targets': '%s' appears twice", s->name,
                        ik_lora_target_name(t));
        *targets |= 1u << t;
    }
    return 0;
}

static int read_hash(const struct rd *r, const struct sec *s, const char *key, char out[65])
{
    int rc = 0;
    const msgpack_object *v = get_str(r, s, key, &rc);
    if (v == NULL)
        return rc;
    /* Checked on a NUL-terminated copy: ik_hash_is_hex looks at the byte after. */
    char hex[IK_HASH_HEX_LEN + 1] = "";
    if (v->via.str.size == IK_HASH_HEX_LEN)
        memcpy(hex, v->via.str.ptr, IK_HASH_HEX_LEN);
    hex[IK_HASH_HEX_LEN] = '\0';
    if (v->via.str.size != IK_HASH_HEX_LEN || !ik_hash_is_hex(hex, IK_HASH_HEX_LEN))
        return fail(r, IK_EVALIDATE, "field '%s.%s': expected %d hex digits, found '%.*s'", s->name,
                    key, IK_HASH_HEX_LEN, cut(v->via.str.size), v->via.str.ptr);
    memcpy(out, hex, sizeof hex);
    return 0;
}

static int read_chat_template(const struct rd *r, const struct sec *s, int *tmpl)
{
    int rc = 0;
    const msgpack_object *v = get_str(r, s, "chat_template", &rc);
    if (v == NULL)
        return rc;
    char *name = ik_mp_strdup(v);
    rc = ik_chat_template_by_name(name, tmpl, r->d);
    if (rc != 0)
        ik_diag_prefix(r->d, "%s: field '%s.chat_template': ", r->what, s->name);
    free(name);
    return rc;
}

static int read_meta(const struct rd *r, const msgpack_object *map, const struct ik_lm_config *base,
                     struct ik_lora_config *lc, struct ik_lora_artifact_info *info)
{
    struct sec s = {map, "meta"};
    int rc = get_int32(r, &s, "r", 1, MAX_R, &lc->r);
    if (rc == 0)
        rc = get_float(r, &s, "alpha", 0, false, INFINITY, &lc->alpha);
    if (rc == 0)
        rc = get_float(r, &s, "dropout", 0, true, 1, &lc->dropout);
    if (rc == 0)
        rc = read_targets(r, &s, &lc->targets);
    const msgpack_object *arch = rc == 0 ? get_str(r, &s, "base_architecture", &rc) : NULL;
    if (arch && !ik_mp_str_eq(arch, ik_lm_arch_name(base->arch)))
        return fail(r, IK_EVALIDATE, "field 'meta.base_architecture': '%.*s' is not base_config.arch "
                    "'%s'", cut(arch->via.str.size), arch->via.str.ptr, ik_lm_arch_name(base->arch));
    if (rc == 0)
        rc = read_hash(r, &s, "base_hash", info->base_hash);
    if (rc == 0)
        rc = read_hash(r, &s, "tokenizer_hash", info->tokenizer_hash);
    if (rc == 0)
        rc = read_chat_template(r, &s, &info->chat_template);
    if (rc == 0)
        rc = get_int(r, &s, "steps", 0, INT64_MAX, &info->steps);
    return rc;
}

/* ---- reading: tensors ---- */

static void shape_text(struct ik_buf *b, const msgpack_object *shape)
{
    ik_buf_putc(b, '[');
    for (uint32_t i = 0; i < shape->via.array.size && i < 8; i++) {
        int64_t x;
        if (i)
            ik_buf_putc(b, ',');
        if (as_int(&shape->via.array.ptr[i], &x))
            ik_buf_printf(b, "%" PRId64, x);
        else
            ik_buf_puts(b, "?");
    }
    if (shape->via.array.size > 8)
        ik_buf_printf(b, ",… (%" PRIu32 " dims)", shape->via.array.size);
    ik_buf_putc(b, ']');
}

/* Checks the tensor map v named `name` against the shape (rows, cols) of f32;
 * on success *data points at its rows * cols floats. */
static int check_tensor(const struct rd *r, const char *name, const msgpack_object *v, int64_t rows,
                        int64_t cols, const char **data)
{
    if (v->type != MSGPACK_OBJECT_MAP)
        return fail(r, IK_EPARSE, "tensor '%s': expected a tensor map {dtype, shape, data}, found %s",
                    name, type_name(v));
    const msgpack_object *dt = ik_mp_get(v, "dtype"), *sh = ik_mp_get(v, "shape"),
                         *da = ik_mp_get(v, "data");
    if (dt == NULL || dt->type != MSGPACK_OBJECT_STR || sh == NULL || sh->type != MSGPACK_OBJECT_ARRAY ||
        da == NULL || da->type != MSGPACK_OBJECT_BIN)
        return fail(r, IK_EPARSE, "tensor '%s': expected a tensor map {dtype: string, shape: array, "
                    "data: binary}", name);
    if (!ik_mp_str_eq(dt, "f32"))
        return fail(r, IK_EVALIDATE, "tensor '%s' has dtype '%.*s', expected f32", name,
                    cut(dt->via.str.size), dt->via.str.ptr);
    int64_t d0, d1;
    if (sh->via.array.size != 2 || !as_int(&sh->via.array.ptr[0], &d0) ||
        !as_int(&sh->via.array.ptr[1], &d1) || d0 != rows || d1 != cols) {
        struct ik_buf b = IK_BUF_INIT;
        shape_text(&b, sh);
        fail(r, IK_EVALIDATE, "tensor '%s' has shape %s, expected [%" PRId64 ",%" PRId64 "]", name,
             b.data, rows, cols);
        ik_buf_free(&b);
        return IK_EVALIDATE;
    }
    size_t want = (size_t)rows * (size_t)cols * sizeof(float);
    if (da->via.bin.size != want)
        return fail(r, IK_EVALIDATE, "tensor '%s' holds %" PRIu32 " bytes of data, expected %zu "
                    "(f32 [%" PRId64 ",%" PRId64 "])", name, da->via.bin.size, want, rows, cols);
    *data = da->via.bin.ptr;
    return 0;
}

/* Indexes the tensor map by name, refusing keys that are not strings or
 * appear twice. */
static int index_tensors(const struct rd *r, const msgpack_object *tens, struct ik_strmap *ix)
{
    for (uint32_t i = 0; i < tens->via.map.size; i++) {
        const msgpack_object *k = &tens->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail(r, IK_EPARSE, "field 'tensors': entry %" PRIu32 " is named by %s, not a string",
                        i, type_name(k));
        if (ik_strmap_get(ix, k->via.str.ptr, k->via.str.size) >= 0)
            return fail(r, IK_EVALIDATE, "tensor '%.*s' appears twice", (int)k->via.str.size,
                        k->via.str.ptr);
        ik_strmap_put(ix, k->via.str.ptr, k->via.str.size, (int)i);
    }
    return 0;
}

/* Finds and checks every tensor the config calls for; data[i] receives the
 * floats of the i-th in layout order (layer, target, A then B). Any other
 * tensor is refused. */
static int read_tensors(const struct rd *r, const msgpack_object *tens, const struct ik_lm_config *mc,
                        const struct ik_lora_config *lc, const char **data)
{
    struct ik_strmap ix = IK_STRMAP_INIT;
    bool *used = ik_xcalloc(tens->via.map.size + 1, sizeof *used);
    int rc = index_tensors(r, tens, &ix);
    size_t k = 0;
    for (int l = 0; rc == 0 && l < mc->L; l++)
        for (int t = 0; rc == 0 && t < IK_LORA_NT; t++) {
            if (!(lc->targets & (1u << t)) || !ik_lora_has_module(mc, l, t))
                continue;
            int in, out;
            ik_lora_target_dims(mc, t, &in, &out);
            for (int ab = 0; rc == 0 && ab < 2; ab++) {
                char *name = ik_lora_tensor_name(mc->arch, l, t, ab ? 'B' : 'A');
                int j = ik_strmap_get(&ix, name, strlen(name));
                if (j < 0)
                    rc = fail(r, IK_EVALIDATE, "tensor '%s' is missing (meta.targets and "
                              "base_config.L = %d call for it)", name, mc->L);
                else if ((rc = check_tensor(r, name, &tens->via.map.ptr[j].val, ab ? out : lc->r,
                                            ab ? lc->r : in, &data[k++])) == 0)
                    used[j] = true;
                free(name);
            }
        }
    for (uint32_t i = 0; rc == 0 && i < tens->via.map.size; i++)
        if (!used[i]) {
            const msgpack_object *key = &tens->via.map.ptr[i].key;
            rc = fail(r, IK_EVALIDATE, "unexpected tensor '%.*s': meta.targets and base_config do not "
                      "call for it", (int)(key->via.str.size > 200 ? 200 : key->via.str.size),
                      key->via.str.ptr);
        }
    free(used);
    ik_strmap_free(&ix);
    return rc;
}

/* ---- reading: the whole ---- */

/* The envelope: kind, schema, and the three maps. */
static int read_envelope(const struct rd *r, const msgpack_object *root, const msgpack_object **meta,
                         const msgpack_object **base, const msgpack_object **tens)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return fail(r, IK_EPARSE, "expected an artifact map, found %s", type_name(root));
    const msgpack_object *kind = ik_mp_get(root, "kind"), *schema = ik_mp_get(root, "schema");
    if (kind == NULL || kind->type != MSGPACK_OBJECT_STR)
        return fail(r, IK_EPARSE, "artifact map has no string field 'kind'");
    if (!ik_mp_str_eq(kind, KIND))
        return fail(r, IK_EVALIDATE, "is an artifact of kind '%.*s', not a " KIND,
                    cut(kind->via.str.size), kind->via.str.ptr);
    int64_t sc;
    if (schema == NULL || !as_int(schema, &sc))
        return fail(r, IK_EPARSE, "field 'schema' is missing or not an integer");
    if (sc != SCHEMA)
        return fail(r, IK_EVALIDATE, KIND " schema %" PRId64 " is not supported (this ikada reads "
                    "schema %d)", sc, SCHEMA);
    const char *names[3] = {"meta", "base_config", "tensors"};
    const msgpack_object **dst[3] = {meta, base, tens};
    for (int i = 0; i < 3; i++) {
        *dst[i] = ik_mp_get(root, names[i]);
        if (*dst[i] == NULL)
            return fail(r, IK_EPARSE, "field '%s' is missing", names[i]);
        if ((*dst[i])->type != MSGPACK_OBJECT_MAP)
            return fail(r, IK_EPARSE, "field '%s': expected a map, found %s", names[i],
                        type_name(*dst[i]));
    }
    return 0;
}

int ik_lora_artifact_read(const msgpack_object *root, const char *what, struct ik_lora **out,
                          struct ik_lm_config *base, struct ik_lora_artifact_info *info,
                          struct ik_diag *d)
{
    struct rd r = {what ? what : "adapter", d};
    const msgpack_object *meta, *bc, *tens;
    struct ik_lm_config mc;
    struct ik_lora_config lc = {0};
    struct ik_lora_artifact_info inf;
    memset(&inf, 0, sizeof inf);
    int rc = read_envelope(&r, root, &meta, &bc, &tens);
    if (rc == 0)
        rc = read_base_config(&r, bc, &mc);
    if (rc == 0)
        rc = read_meta(&r, meta, &mc, &lc, &inf);
    if (rc != 0)
        return rc;
    /* At most 2 * 4096 * 9 tensors (base_config.L is bounded). */
    size_t n = 2 * n_modules(&mc, lc.targets);
    const char **data = ik_xcalloc(n, sizeof *data);
    struct ik_lora *a = NULL;
    rc = read_tensors(&r, tens, &mc, &lc, data);
    if (rc == 0 && (rc = ik_lora_new(&a, &mc, &lc, 0, d)) != 0)
        ik_diag_prefix(d, "%s: ", r.what);
    /* The bytes are little-endian f32, as the host's (lm/safetensors.c reads alike). */
    size_t k = 0;
    for (int i = 0; rc == 0 && i < mc.L * IK_LORA_NT; i++) {
        struct ik_lora_module *m = &a->mod[i];
        if (m->A == NULL)
            continue;
        memcpy(m->A, data[k++], (size_t)lc.r * (size_t)m->in * sizeof(float));
        memcpy(m->B, data[k++], (size_t)m->out * (size_t)lc.r * sizeof(float));
    }
    free(data);
    if (rc != 0)
        return rc;
    *out = a;
    if (base)
        *base = mc;
    if (info)
        *info = inf;
    return 0;
}
