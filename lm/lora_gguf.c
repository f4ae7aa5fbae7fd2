/* lm/lora_gguf.c - LoRA adapters to and from llama.cpp's adapter GGUF (the
 * layout, the q/k row permutation and the loader's rules are in lora_gguf.h;
 * the architecture names and the row map are lm/model_gguf.h's, shared with
 * the base model GGUF, whose q/k weights are permuted the same way).
 * Writing hands each A and B to lm/gguf_write.h (the permuted lora_b through
 * a fill function, so nothing is copied); reading checks the whole file
 * before it allocates the adapter. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "lm/config.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model_gguf.h" /* the architecture names and the q/k row map */
#include "lm/safetensors.h" /* ik_f16_to_f32, ik_bf16_to_f32 */

/* llama.cpp's base tensor name of each target (enum ik_lora_target order). */
static const char *const gguf_target[IK_LORA_NT] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                     "ffn_gate", "ffn_up", "ffn_down", "ssm_in",
                                                     "ssm_out"};

#define MAX_RANK 65536 /* as adapter_config.json's r (lm/lora.c) */

/* Whether target t's lora_b rows are permuted in the file (llama arch q, k),
 * as the base's q/k weights are (lm/model_gguf.h). */
static bool permuted(const struct ik_lm_config *c, int t)
{
    return ik_lm_gguf_permutes_qk(c->arch) && (t == IK_LORA_Q || t == IK_LORA_K);
}

/* ---- writing ---- */

struct perm_src {
    const float *B; /* (Out, r), HF row order */
    size_t r;
    int hd;
};

/* ik_gguf_fill_fn: elements first.. of the permuted B, row-major (Out, r). */
static void fill_permuted(void *ctx, uint64_t first, size_t n, float *dst)
{
    const struct perm_src *p = ctx;
    for (size_t i = 0; i < n; i++) {
        size_t e = (size_t)first + i, row = e / p->r, col = e % p->r;
        dst[i] = p->B[ik_lm_gguf_qk_src_row(row, p->hd) * p->r + col];
    }
}

static int check_shape(const struct ik_lora *a, const struct ik_lm_config *c, struct ik_diag *d)
{
    if (a->L != c->L)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter has %d layers, the base model %d", a->L, c->L);
    for (int l = 0; l < a->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            int in, out;
            ik_lora_target_dims(c, t, &in, &out);
            const struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (m->A && !ik_lora_has_module(c, l, t))
                return ik_diag_set(d, IK_EVALIDATE, "the adapter has %s in layer %d, where the "
                                   "base model's mixer has none (another layer pattern)",
                                   ik_lora_target_name(t), l);
            if (m->A && (m->in != in || m->out != out))
                return ik_diag_set(d, IK_EVALIDATE, "layer %d %s is (%d, %d) in the adapter but "
                                   "(%d, %d) in the base model", l, ik_lora_target_name(t),
                                   m->out, m->in, out, in);
        }
    return 0;
}

int ik_lora_write_gguf(const struct ik_lora *a, const struct ik_lm_config *base, uint32_t outtype,
                       const char *path, struct ik_diag *d)
{
    if (outtype != IK_GGML_F32 && outtype != IK_GGML_F16 && outtype != IK_GGML_BF16)
        return ik_diag_set(d, IK_EVALIDATE, "adapter GGUF '%s': tensor type %u is none of F32 (0), "
                           "F16 (1) and BF16 (30)", path, outtype);
    int rc = check_shape(a, base, d);
    if (rc != 0)
        return rc;
    struct ik_gguf_writer *w = ik_gguf_writer_new(IK_GGUF_ALIGNMENT);
    ik_gguf_w_str(w, "general.architecture", ik_lm_gguf_arch(base->arch));
    ik_gguf_w_str(w, "general.type", "adapter");
    ik_gguf_w_u32(w, "general.file_type", outtype == IK_GGML_F32 ? 0 : outtype == IK_GGML_F16 ? 1 : 32);
    ik_gguf_w_str(w, "adapter.type", "lora");
    ik_gguf_w_f32(w, "adapter.lora.alpha", a->cfg.alpha);
    size_t r = (size_t)a->cfg.r, n = 0;
    struct perm_src *perm = ik_xcalloc((size_t)a->L * 2 + 1, sizeof *perm);
    for (int l = 0; l < a->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            const struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            if (m->A == NULL)
                continue;
            char name[80];
            uint64_t da[2] = {(uint64_t)m->in, r}, db[2] = {r, (uint64_t)m->out};
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", l, gguf_target[t]);
            ik_gguf_w_tensor(w, name, outtype, 2, da, m->A);
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", l, gguf_target[t]);
            if (permuted(base, t)) {
                perm[n] = (struct perm_src){m->B, r, base->head_dim};
                ik_gguf_w_tensor_fn(w, name, outtype, 2, db, fill_permuted, &perm[n++]);
            } else {
                ik_gguf_w_tensor(w, name, outtype, 2, db, m->B);
            }
        }
    rc = ik_gguf_writer_write(w, path, d);
    ik_gguf_writer_free(w);
    free(perm);
    return rc;
}

/* ---- reading ---- */

/* One module's tensors as found in the file. */
struct found {
    const struct ik_gguf_tensor *a, *b;
};

static int bad(const char *name, struct ik_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const char *name, struct ik_diag *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct ik_srcloc loc = {name, 0, 0};
    return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "%s", msg);
}

/* A string key that must equal want. */
static int expect_str(const struct ik_gguf *g, const char *key, const char *want, const char *why,
                      struct ik_diag *d)
{
    const char *s;
    size_t n;
    int rc = ik_gguf_get_str(g, key, &s, &n, d);
    if (rc == 0 && !ik_gguf_key_is(s, n, want))
        rc = bad(g->name, d, "key '%s' is \"%.*s\", expected \"%s\"", key, (int)(n > 64 ? 64 : n), s,
                 want);
    if (rc != 0)
        ik_diag_hint(d, "%s", why);
    return rc;
}

static int read_meta(const struct ik_gguf *g, const struct ik_lm_config *mc, float *alpha,
                     struct ik_diag *d)
{
    int rc = expect_str(g, "general.type", "adapter", "llama.cpp loads a LoRA only from a GGUF whose "
                        "general.type is \"adapter\" (a base model GGUF is not one)", d);
    if (rc == 0) {
        char why[160];
        snprintf(why, sizeof why, "the adapter was made for another base model: this one is %s, "
                 "written to GGUF as %s", ik_lm_arch_name(mc->arch), ik_lm_gguf_arch(mc->arch));
        rc = expect_str(g, "general.architecture", ik_lm_gguf_arch(mc->arch), why, d);
    }
    if (rc == 0)
        rc = expect_str(g, "adapter.type", "lora", "only LoRA adapters are supported", d);
    if (rc == 0 && (rc = ik_gguf_get_f32(g, "adapter.lora.alpha", alpha, d)) != 0)
        ik_diag_hint(d, "%s", rc == IK_ENOTFOUND
                     ? "without it llama.cpp applies the adapter at scale 1 instead of alpha / rank, "
                       "without a word"
                     : "llama.cpp reads alpha only as f32 and aborts on any other type");
    if (rc == 0 && !(*alpha > 0 && isfinite(*alpha)))
        rc = bad(g->name, d, "key 'adapter.lora.alpha' is %g, expected a positive number",
                 (double)*alpha);
    if (rc == 0 && ik_gguf_find(g, "adapter.alora.invocation_tokens"))
        rc = bad(g->name, d, "key 'adapter.alora.invocation_tokens': activated LoRA adapters are "
                 "not supported");
    return rc;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Parses base name "blk.N.<target>.weight" of n bytes: *layer and *target,
 * or false. */
static bool parse_base(const char *s, size_t n, int L, int *layer, int *target)
{
    if (n < 4 || memcmp(s, "blk.", 4) != 0 || !ends_with(s, n, ".weight"))
        return false;
    size_t i = 4;
    long v = 0;
    if (i >= n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < n && s[i + 1] != '.'))
        return false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        if ((v = v * 10 + (s[i] - '0')) >= L)
            return false;
    if (i >= n || s[i] != '.')
        return false;
    const char *t = s + i + 1;
    size_t tn = n - i - 1 - strlen(".weight");
    for (int k = 0; k < IK_LORA_NT; k++)
        if (tn == strlen(gguf_target[k]) && memcmp(t, gguf_target[k], tn) == 0) {
            *layer = (int)v;
            *target = k;
            return true;
        }
    return false;
}

static int collect(const struct ik_gguf *g, const struct ik_lm_config *mc, struct found *f,
                   struct ik_diag *d)
{
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct ik_gguf_tensor *t = &g->tensors[i];
        int nl = t->name_len > 200 ? 200 : (int)t->name_len;
        bool is_a = ends_with(t->name, t->name_len, ".lora_a");
        if (!is_a && !ends_with(t->name, t->name_len, ".lora_b")) {
            if (ends_with(t->name, t->name_len, "_norm.weight"))
                continue; /* llama.cpp skips norm vectors too */
            return bad(g->name, d, "LoRA tensor '%.*s' has unexpected suffix: expected .lora_a or "
                       ".lora_b", nl, t->name);
        }
        int layer, target;
        if (!parse_base(t->name, t->name_len - 7, mc->L, &layer, &target) ||
            !ik_lora_has_module(mc, layer, target))
            return bad(g->name, d, "LoRA tensor '%.*s' adapts '%.*s', which is not a projection of "
                       "the base model (blk.0..%d: %s)", nl, t->name, nl - 7, t->name, mc->L - 1,
                       mc->arch == IK_LM_NEMOTRON_H
                           ? "ssm_in, ssm_out in Mamba-2 layers, attn_q, attn_k, attn_v, "
                             "attn_output in attention layers, ffn_up, ffn_down in MLP layers"
                           : "attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down");
        const struct ik_gguf_tensor **slot = is_a ? &f[layer * IK_LORA_NT + target].a
                                                  : &f[layer * IK_LORA_NT + target].b;
        if (*slot)
            return bad(g->name, d, "LoRA tensor '%.*s' appears twice", nl, t->name);
        if (t->type != IK_GGML_F32 && t->type != IK_GGML_F16 && t->type != IK_GGML_BF16 &&
            t->type != IK_GGML_Q8_0)
            return bad(g->name, d, "LoRA tensor '%.*s' has ggml type %u: expected F32, F16, BF16 or "
                       "Q8_0", nl, t->name, t->type);
        *slot = t;
    }
    return 0;
}

/* Checks every module's pair against the base; *r gets the common rank and
 * *targets the projections present. */
static int check_pairs(const struct ik_gguf *g, const struct ik_lm_config *mc, const struct found *f,
                       int *r, unsigned *targets, struct ik_diag *d)
{
    *r = 0;
    *targets = 0;
    int first = -1;
    for (int i = 0; i < mc->L * IK_LORA_NT; i++) {
        const struct found *m = &f[i];
        int l = i / IK_LORA_NT, t = i % IK_LORA_NT;
        if (!m->a && !m->b)
            continue;
        if (!m->a || !m->b)
            return bad(g->name, d, "LoRA tensor pair for 'blk.%d.%s.weight' is missing its %s", l,
                       gguf_target[t], m->a ? "lora_b" : "lora_a");
        int in, out;
        ik_lora_target_dims(mc, t, &in, &out);
        const uint64_t *a = m->a->dims, *b = m->b->dims;
        if (a[0] != (uint64_t)in || b[1] != (uint64_t)out || a[2] != 1 || a[3] != 1 || b[2] != 1 ||
            b[3] != 1 || a[1] != b[0] || a[1] < 1 || a[1] > MAX_RANK)
            return bad(g->name, d, "tensor 'blk.%d.%s.weight' has incorrect shape: lora_a [%llu, "
                       "%llu], lora_b [%llu, %llu] (ne order, innermost first), expected [%d, r] "
                       "and [r, %d] with the same rank r for this base model", l, gguf_target[t],
                       (unsigned long long)a[0], (unsigned long long)a[1],
                       (unsigned long long)b[0], (unsigned long long)b[1], in, out);
        if (first >= 0 && a[1] != (uint64_t)*r)
            return bad(g->name, d, "tensor 'blk.%d.%s.weight' has rank %llu but 'blk.%d.%s.weight' "
                       "rank %d: one rank for every module is supported", l, gguf_target[t],
                       (unsigned long long)a[1], first / IK_LORA_NT, gguf_target[first % IK_LORA_NT],
                       *r);
        if (first < 0)
            first = i, *r = (int)a[1];
        *targets |= 1u << t;
    }
    if (first < 0)
        return bad(g->name, d, "the adapter has no LoRA tensors");
    return 0;
}

/* Element i of tensor t as fp32 (the bytes may be unaligned). */
static float element(const struct ik_gguf_tensor *t, size_t i)
{
    const unsigned char *p = t->data;
    uint16_t h;
    switch (t->type) {
    case IK_GGML_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case IK_GGML_F16: memcpy(&h, p + 2 * i, 2); return ik_f16_to_f32(h);
    case IK_GGML_BF16: memcpy(&h, p + 2 * i, 2); return ik_bf16_to_f32(h);
    default: /* Q8_0: blocks of an f16 scale and 32 int8 */
        memcpy(&h, p + (i / 32) * 34, 2);
        return ik_f16_to_f32(h) * (float)(int8_t)p[(i / 32) * 34 + 2 + i % 32];
    }
}

static void load_module(struct ik_lora_module *m, const struct found *f, size_t r, int hd, bool perm)
{
    for (size_t i = 0; i < r * (size_t)m->in; i++)
        m->A[i] = element(f->a, i);
    for (size_t row = 0; row < (size_t)m->out; row++) {
        size_t dst = perm ? ik_lm_gguf_qk_src_row(row, hd) : row;
        for (size_t k = 0; k < r; k++)
            m->B[dst * r + k] = element(f->b, row * r + k);
    }
}

int ik_lora_parse_gguf(struct ik_lora **out, const struct ik_lm_config *mc, const void *data,
                       size_t size, const char *name, struct ik_diag *d)
{
    struct ik_gguf g;
    int rc = ik_gguf_open(&g, data, size, name, d);
    if (rc != 0)
        return rc;
    float alpha = 0;
    struct found *f = ik_xcalloc((size_t)mc->L * IK_LORA_NT, sizeof *f);
    struct ik_lora_config lc = {0, 0, 0, 0};
    rc = read_meta(&g, mc, &alpha, d);
    if (rc == 0)
        rc = collect(&g, mc, f, d);
    if (rc == 0)
        rc = check_pairs(&g, mc, f, &lc.r, &lc.targets, d);
    struct ik_lora *a = NULL;
    lc.alpha = alpha;
    if (rc == 0)
        rc = ik_lora_new(&a, mc, &lc, 0, d);
    if (rc == 0) {
        /* Modules absent from the file stay zero: no change, as in llama.cpp. */
        memset(a->params, 0, a->n_params * sizeof *a->params);
        for (int i = 0; i < mc->L * IK_LORA_NT; i++)
            if (f[i].a)
                load_module(&a->mod[i], &f[i], (size_t)lc.r, mc->head_dim,
                            permuted(mc, i % IK_LORA_NT));
        *out = a;
    }
    free(f);
    ik_gguf_close(&g);
    return rc;
}

int ik_lora_load_gguf(struct ik_lora **out, const struct ik_lm_config *mc, const char *path,
                      struct ik_diag *d)
{
    char *data;
    size_t size;
    int rc = ik_read_file(path, &data, &size, d);
    if (rc != 0)
        return rc;
    rc = ik_lora_parse_gguf(out, mc, data, size, path, d);
    free(data);
    return rc;
}
