/* tests/lm/test_lora_gguf.c - LoRA adapters as llama.cpp's adapter GGUF
 * (lm/lora_gguf.h): write -> read back bit-identical at f32 for Llama,
 * Mistral (written as llama), Qwen2 and Qwen3, with the file's keys, tensor
 * names, dims and the q/k lora_b row permutation checked from the file itself
 * (the permutation written out as llama.cpp's LlamaModel.permute: reshape
 * (heads, 2, hd/2, r), swap axes 1 and 2); f16/bf16 equal to the rounded
 * values; Q8_0 read; every loader rule as a failing case on a file written
 * and then edited (an editable copy of the GGUF: keys and tensors replaced,
 * dropped or added, offsets laid out again); and `ikada lm score` giving the
 * same log-probs with the adapter GGUF as with the PEFT folder of the same
 * adapter on the example model, on its safetensors folder and on its base
 * GGUF (lm/model_gguf.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/tokenizer.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

/* ---- fixtures ---- */

static struct ik_lm_config cfg_of(int arch) { return lmt_cfg(arch, 16, 24, 2, 4, 40); }

#define ALL_TARGETS ((1u << IK_LORA_IN) - 1) /* every target of the Llama family */

/* An adapter with PEFT's random A and a random B (so every value matters). */
static struct ik_lora *new_adapter(const struct ik_lm_config *c, unsigned targets, int r, float alpha)
{
    struct ik_lora_config lc = {r, alpha, 0.0f, targets};
    return lmt_random_adapter(c, &lc, 0.3f);
}

static char *write_adapter(const struct ik_lora *a, const struct ik_lm_config *c, uint32_t type,
                           char **dir)
{
    *dir = tc_tmpdir();
    char *path = ik_xasprintf("%s/adapter.gguf", *dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_write_gguf(a, c, type, path, &d), 0, "%s", ik_diag_message(&d));
    return path;
}

static void done(char *dir, char *path)
{
    tc_rmtree(dir); /* frees dir */
    free(path);
}

/* ---- an editable GGUF: parsed, changed, laid out again ---- */

struct ed_kv {
    char *key;
    uint32_t type;
    struct ik_buf val; /* the value's bytes (an array's: element type, count, elements) */
};

struct ed_t {
    char *name;
    uint32_t n_dims, type;
    uint64_t dims[4];
    unsigned char *data;
    size_t nbytes;
};

struct ed {
    struct ed_kv kv[64];
    size_t n_kv;
    struct ed_t t[256];
    size_t n_t;
};

static void ed_load(struct ed *e, const char *path)
{
    size_t size;
    char *data = lmt_read(path, &size);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, size, path, &d), 0, "%s", ik_diag_message(&d));
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < g.n_kv; i++) {
        struct ed_kv *k = &e->kv[e->n_kv++];
        k->key = ik_xasprintf("%.*s", (int)g.kv[i].key_len, g.kv[i].key);
        k->type = g.kv[i].type;
        struct ik_gguf_rd r = {g.data, g.kv[i].off, g.size, 0};
        ik_gguf_rd_skip(&r, k->type);
        ik_buf_append(&k->val, g.data + g.kv[i].off, r.off - g.kv[i].off);
    }
    for (size_t i = 0; i < g.n_tensors; i++) {
        const struct ik_gguf_tensor *s = &g.tensors[i];
        struct ed_t *t = &e->t[e->n_t++];
        t->name = ik_xasprintf("%.*s", (int)s->name_len, s->name);
        t->n_dims = s->n_dims;
        t->type = s->type;
        memcpy(t->dims, s->dims, sizeof t->dims);
        t->nbytes = s->nbytes;
        t->data = ik_xmalloc(s->nbytes + 1);
        memcpy(t->data, s->data, s->nbytes);
    }
    ik_gguf_close(&g);
    free(data);
}

static void put_le(struct ik_buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        ik_buf_putc(b, (char)(v >> (8 * i) & 0xff));
}

static void put_s(struct ik_buf *b, const char *s)
{
    put_le(b, strlen(s), 8);
    ik_buf_puts(b, s);
}

static void pad(struct ik_buf *b)
{
    while (b->len % IK_GGUF_ALIGNMENT)
        ik_buf_putc(b, 0);
}

/* Writes e to path (offsets in order, each padded to 32, as ggml lays them) and frees it. */
static void ed_save(struct ed *e, const char *path)
{
    struct ik_buf b = IK_BUF_INIT;
    put_le(&b, IK_GGUF_MAGIC, 4);
    put_le(&b, 3, 4);
    put_le(&b, e->n_t, 8);
    put_le(&b, e->n_kv, 8);
    for (size_t i = 0; i < e->n_kv; i++) {
        put_s(&b, e->kv[i].key);
        put_le(&b, e->kv[i].type, 4);
        ik_buf_append(&b, e->kv[i].val.data, e->kv[i].val.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < e->n_t; i++) {
        put_s(&b, e->t[i].name);
        put_le(&b, e->t[i].n_dims, 4);
        for (uint32_t k = 0; k < e->t[i].n_dims; k++)
            put_le(&b, e->t[i].dims[k], 8);
        put_le(&b, e->t[i].type, 4);
        put_le(&b, off, 8);
        off += (e->t[i].nbytes + IK_GGUF_ALIGNMENT - 1) / IK_GGUF_ALIGNMENT * IK_GGUF_ALIGNMENT;
    }
    pad(&b);
    for (size_t i = 0; i < e->n_t; i++) {
        ik_buf_append(&b, e->t[i].data, e->t[i].nbytes);
        pad(&b);
    }
    lmt_write(path, b.data, b.len);
    ik_buf_free(&b);
    for (size_t i = 0; i < e->n_kv; i++) {
        free(e->kv[i].key);
        ik_buf_free(&e->kv[i].val);
    }
    for (size_t i = 0; i < e->n_t; i++) {
        free(e->t[i].name);
        free(e->t[i].data);
    }
}

static struct ed_kv *ed_kv_find(struct ed *e, const char *key)
{
    for (size_t i = 0; i < e->n_kv; i++)
        if (strcmp(e->kv[i].key, key) == 0)
            return &e->kv[i];
    return NULL;
}

/* Replaces (or adds) key with a value of type made of n raw bytes; NULL drops it. */
static void ed_kv_set(struct ed *e, const char *key, uint32_t type, const void *raw, size_t n)
{
    struct ed_kv *k = ed_kv_find(e, key);
    if (raw == NULL) {
        cr_assert_not_null(k, "no key %s", key);
        free(k->key);
        ik_buf_free(&k->val);
        memmove(k, k + 1, (size_t)(&e->kv[e->n_kv] - (k + 1)) * sizeof *k);
        e->n_kv--;
        return;
    }
    if (k == NULL) {
        k = &e->kv[e->n_kv++];
        k->key = ik_xstrdup(key);
        k->val = (struct ik_buf)IK_BUF_INIT;
    }
    k->type = type;
    ik_buf_reset(&k->val);
    ik_buf_append(&k->val, raw, n);
}

static void ed_kv_str(struct ed *e, const char *key, const char *s)
{
    struct ik_buf b = IK_BUF_INIT;
    put_s(&b, s);
    ed_kv_set(e, key, IK_GGUF_STR, b.data, b.len);
    ik_buf_free(&b);
}

static struct ed_t *ed_t_find(struct ed *e, const char *name)
{
    for (size_t i = 0; i < e->n_t; i++)
        if (strcmp(e->t[i].name, name) == 0)
            return &e->t[i];
    cr_assert_fail("no tensor %s", name);
    return NULL;
}

static void ed_t_drop(struct ed *e, const char *name)
{
    struct ed_t *t = ed_t_find(e, name);
    free(t->name);
    free(t->data);
    memmove(t, t + 1, (size_t)(&e->t[e->n_t] - (t + 1)) * sizeof *t);
    e->n_t--;
}

/* A copy of tensor `name` called new_name, appended. */
static struct ed_t *ed_t_copy(struct ed *e, const char *name, const char *new_name)
{
    struct ed_t *s = ed_t_find(e, name), *t = &e->t[e->n_t++];
    *t = *s;
    t->name = ik_xstrdup(new_name);
    t->data = ik_xmalloc(s->nbytes + 1);
    memcpy(t->data, s->data, s->nbytes);
    return t;
}

static void ed_t_rename(struct ed *e, const char *name, const char *new_name)
{
    struct ed_t *t = ed_t_find(e, name);
    free(t->name);
    t->name = ik_xstrdup(new_name);
}

/* ---- reading back ---- */

static void expect_refused(const char *path, const struct ik_lm_config *c, int code, const char *msg)
{
    struct ik_lora *b = (struct ik_lora *)&b; /* must stay untouched */
    struct ik_lora *const sentinel = b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_load_gguf(&b, c, path, &d), code, "%s", ik_diag_message(&d));
    char *want = ik_xasprintf("%s: error: %s", path, msg);
    cr_expect_str_eq(ik_diag_message(&d), want);
    cr_expect_eq(b, sentinel, "a refused file leaves *out alone");
    free(want);
    ik_diag_free(&d);
}

static struct ik_lora *load_ok(const char *path, const struct ik_lm_config *c)
{
    struct ik_lora *b = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_load_gguf(&b, c, path, &d), 0, "%s", ik_diag_message(&d));
    return b;
}

/* ---- round trips ---- */

/* Row `row` of a (rows, r) matrix stored in the file as fp32. */
static const float *file_row(const struct ik_gguf_tensor *t, size_t r, size_t row)
{
    return (const float *)((const char *)t->data + row * r * 4);
}

/* The file's lora_b of a q/k projection against B: for the llama
 * architecture in LlamaModel.permute's order, else in HF order. */
static void check_lora_b(const struct ik_gguf_tensor *t, const struct ik_lora_module *m, int r,
                         int heads, int hd, int permuted)
{
    cr_assert_eq(t->dims[0], (uint64_t)r);
    cr_assert_eq(t->dims[1], (uint64_t)(heads * hd));
    /* reshape(heads, 2, hd/2, r).swapaxes(1, 2): new[h][j][s] = old[h][s][j]. */
    for (int h = 0; h < heads; h++)
        for (int s = 0; s < 2; s++)
            for (int j = 0; j < hd / 2; j++) {
                size_t old = (size_t)h * hd + (size_t)s * (hd / 2) + j;
                size_t new = (size_t)h * hd + (size_t)j * 2 + s;
                const float *got = file_row(t, (size_t)r, permuted ? new : old);
                cr_assert_eq(memcmp(got, m->B + old * r, (size_t)r * 4), 0,
                             "head %d s %d j %d of %.*s", h, s, j, (int)t->name_len, t->name);
            }
}

static void round_trip(int arch, const char *want_arch, int permuted)
{
    struct ik_lm_config c = cfg_of(arch);
    struct ik_lora *a = new_adapter(&c, ALL_TARGETS, 3, 6.0f);
    char *dir, *path = write_adapter(a, &c, IK_GGML_F32, &dir);

    /* The file, as llama.cpp reads it. */
    size_t size;
    char *data = lmt_read(path, &size);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, size, path, &d), 0, "%s", ik_diag_message(&d));
    const char *s;
    size_t n;
    cr_assert_eq(ik_gguf_get_str(&g, "general.architecture", &s, &n, &d), 0);
    cr_expect(n == strlen(want_arch) && memcmp(s, want_arch, n) == 0, "%.*s", (int)n, s);
    cr_assert_eq(ik_gguf_get_str(&g, "general.type", &s, &n, &d), 0);
    cr_expect(n == 7 && memcmp(s, "adapter", 7) == 0);
    cr_assert_eq(ik_gguf_get_str(&g, "adapter.type", &s, &n, &d), 0);
    cr_expect(n == 4 && memcmp(s, "lora", 4) == 0);
    cr_expect_eq(ik_gguf_find(&g, "adapter.lora.alpha")->type, IK_GGUF_F32);
    float alpha;
    cr_assert_eq(ik_gguf_get_f32(&g, "adapter.lora.alpha", &alpha, &d), 0);
    cr_expect_eq(alpha, 6.0f);
    uint64_t ft;
    cr_assert_eq(ik_gguf_get_uint(&g, "general.file_type", &ft, &d), 0);
    cr_expect_eq(ft, 0);
    static const char *const names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
                                        "ffn_up", "ffn_down"};
    enum { NT = sizeof names / sizeof names[0] }; /* the Llama family's targets, in file order */
    cr_assert_eq(g.n_tensors, (size_t)c.L * NT * 2);
    for (int l = 0; l < c.L; l++)
        for (int t = 0; t < NT; t++) {
            const struct ik_lora_module *m = &a->mod[l * IK_LORA_NT + t];
            const struct ik_gguf_tensor *ta = &g.tensors[(l * NT + t) * 2];
            const struct ik_gguf_tensor *tb = ta + 1;
            char *na = ik_xasprintf("blk.%d.%s.weight.lora_a", l, names[t]);
            char *nb = ik_xasprintf("blk.%d.%s.weight.lora_b", l, names[t]);
            cr_expect(ta->name_len == strlen(na) && memcmp(ta->name, na, ta->name_len) == 0, "%s", na);
            cr_expect(tb->name_len == strlen(nb) && memcmp(tb->name, nb, tb->name_len) == 0, "%s", nb);
            cr_expect(ta->type == IK_GGML_F32 && ta->n_dims == 2 && tb->n_dims == 2);
            cr_expect(ta->dims[0] == (uint64_t)m->in && ta->dims[1] == 3, "%s", na);
            cr_expect_eq(memcmp(ta->data, m->A, (size_t)3 * m->in * 4), 0, "%s", na);
            if (t == IK_LORA_Q || t == IK_LORA_K)
                check_lora_b(tb, m, 3, t == IK_LORA_Q ? c.H : c.K, c.head_dim, permuted);
            else
                cr_expect(tb->dims[0] == 3 && tb->dims[1] == (uint64_t)m->out &&
                          memcmp(tb->data, m->B, (size_t)3 * m->out * 4) == 0, "%s", nb);
            free(na);
            free(nb);
        }
    ik_gguf_close(&g);
    free(data);

    /* Read back: the same adapter, bit for bit. */
    struct ik_lora *b = load_ok(path, &c);
    cr_expect_eq(b->cfg.r, 3);
    cr_expect_eq(b->cfg.alpha, 6.0f);
    cr_expect_eq(b->scale, 2.0f);
    cr_expect_eq(b->cfg.targets, ALL_TARGETS);
    cr_expect_eq(b->cfg.dropout, 0.0f);
    cr_assert_eq(b->n_params, a->n_params);
    cr_expect_eq(memcmp(b->params, a->params, a->n_params * sizeof(float)), 0);
    ik_lora_free(b);
    ik_lora_free(a);
    done(dir, path);
}

Test(lm_lora_gguf, round_trip_llama) { round_trip(IK_LM_LLAMA, "llama", 1); }
Test(lm_lora_gguf, round_trip_mistral_as_llama) { round_trip(IK_LM_MISTRAL, "llama", 1); }
Test(lm_lora_gguf, round_trip_qwen2) { round_trip(IK_LM_QWEN2, "qwen2", 0); }
Test(lm_lora_gguf, round_trip_qwen3) { round_trip(IK_LM_QWEN3, "qwen3", 0); }

/* A Mistral adapter loads on a Llama base and back: both are llama to llama.cpp. */
Test(lm_lora_gguf, mistral_and_llama_are_one_architecture)
{
    struct ik_lm_config m = cfg_of(IK_LM_MISTRAL), l = cfg_of(IK_LM_LLAMA);
    struct ik_lora *a = new_adapter(&m, 1u << IK_LORA_Q | 1u << IK_LORA_DOWN, 2, 4.0f);
    char *dir, *path = write_adapter(a, &m, IK_GGML_F32, &dir);
    struct ik_lora *b = load_ok(path, &l);
    cr_expect_eq(memcmp(b->params, a->params, a->n_params * sizeof(float)), 0);
    cr_expect_eq(b->cfg.targets, a->cfg.targets);
    ik_lora_free(b);
    ik_lora_free(a);
    done(dir, path);
}

static void half_round_trip(uint32_t type, float (*back)(uint16_t), uint16_t (*to)(float))
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    struct ik_lora *a = new_adapter(&c, ALL_TARGETS, 2, 8.0f);
    char *dir, *path = write_adapter(a, &c, type, &dir);
    struct ik_lora *b = load_ok(path, &c);
    cr_assert_eq(b->n_params, a->n_params);
    for (size_t i = 0; i < a->n_params; i++)
        cr_assert_eq(b->params[i], back(to(a->params[i])), "param %zu: %.9g read back as %.9g", i,
                     (double)a->params[i], (double)b->params[i]);
    size_t size;
    char *data = lmt_read(path, &size);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, size, path, &d), 0);
    uint64_t ft;
    cr_assert_eq(ik_gguf_get_uint(&g, "general.file_type", &ft, &d), 0);
    cr_expect_eq(ft, type == IK_GGML_F16 ? 1 : 32);
    cr_expect_eq(g.tensors[0].type, type);
    ik_gguf_close(&g);
    free(data);
    ik_lora_free(b);
    ik_lora_free(a);
    done(dir, path);
}

Test(lm_lora_gguf, f16_within_rounding) { half_round_trip(IK_GGML_F16, ik_f16_to_f32, ik_f32_to_f16); }
Test(lm_lora_gguf, bf16_within_rounding) { half_round_trip(IK_GGML_BF16, ik_bf16_to_f32, ik_f32_to_bf16); }

/* Q8_0 (convert_lora_to_gguf.py --outtype q8_0 where rows are whole blocks)
 * is dequantised: each value is its block's f16 scale times its int8. */
Test(lm_lora_gguf, q8_0_is_dequantised)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 64, 1, 8, 40);
    struct ik_lora *a = new_adapter(&c, 1u << IK_LORA_Q | 1u << IK_LORA_V, 32, 16.0f);
    char *dir, *path = write_adapter(a, &c, IK_GGML_F32, &dir);
    struct ed e;
    ed_load(&e, path);
    size_t want_n = 0;
    float *want = ik_xcalloc(a->n_params, sizeof *want);
    for (size_t i = 0; i < e.n_t; i++) {
        struct ed_t *t = &e.t[i];
        size_t n = (size_t)(t->dims[0] * t->dims[1]);
        unsigned char *q = ik_xmalloc(n / 32 * 34);
        const float *x = (const float *)t->data;
        for (size_t blk = 0; blk < n / 32; blk++) {
            float amax = 0;
            for (int k = 0; k < 32; k++)
                amax = fmaxf(amax, fabsf(x[blk * 32 + k]));
            uint16_t dh = ik_f32_to_f16(amax / 127);
            float dv = ik_f16_to_f32(dh);
            memcpy(q + blk * 34, &dh, 2);
            for (int k = 0; k < 32; k++) {
                int v = dv > 0 ? (int)lroundf(x[blk * 32 + k] / dv) : 0;
                v = v > 127 ? 127 : v < -127 ? -127 : v;
                q[blk * 34 + 2 + k] = (unsigned char)(int8_t)v;
                want[want_n++] = dv * (float)v;
            }
        }
        free(t->data);
        t->data = q;
        t->nbytes = n / 32 * 34;
        t->type = IK_GGML_Q8_0;
    }
    ed_save(&e, path);
    cr_assert_eq(want_n, a->n_params);
    struct ik_lora *b = load_ok(path, &c);
    for (size_t i = 0; i < a->n_params; i++)
        cr_assert_eq(b->params[i], want[i], "param %zu", i);
    free(want);
    ik_lora_free(b);
    ik_lora_free(a);
    done(dir, path);
}

/* A projection present in some layers only: zeros elsewhere. */
Test(lm_lora_gguf, partial_layers_read_as_zeros)
{
    struct ik_lm_config c = cfg_of(IK_LM_QWEN3);
    struct ik_lora *a = new_adapter(&c, 1u << IK_LORA_UP, 2, 2.0f);
    char *dir, *path = write_adapter(a, &c, IK_GGML_F32, &dir);
    struct ed e;
    ed_load(&e, path);
    ed_t_drop(&e, "blk.0.ffn_up.weight.lora_a");
    ed_t_drop(&e, "blk.0.ffn_up.weight.lora_b");
    ed_save(&e, path);
    struct ik_lora *b = load_ok(path, &c);
    const struct ik_lora_module *m0 = &b->mod[IK_LORA_UP], *m1 = &b->mod[IK_LORA_NT + IK_LORA_UP];
    for (int i = 0; i < 2 * m0->in; i++)
        cr_assert_eq(m0->A[i], 0.0f);
    for (int i = 0; i < 2 * m0->out; i++)
        cr_assert_eq(m0->B[i], 0.0f);
    cr_expect_eq(memcmp(m1->A, a->mod[IK_LORA_NT + IK_LORA_UP].A, (size_t)2 * m1->in * 4), 0);
    cr_expect_eq(memcmp(m1->B, a->mod[IK_LORA_NT + IK_LORA_UP].B, (size_t)2 * m1->out * 4), 0);
    ik_lora_free(b);
    ik_lora_free(a);
    done(dir, path);
}

/* ---- llama.cpp's loader rules, each a failing case ---- */

/* A valid file to edit: Qwen2, q and down adapted, r = 2. */
struct fixture {
    struct ik_lm_config c;
    struct ik_lora *a;
    char *dir, *path;
    struct ed e;
};

static void fx_init(struct fixture *f)
{
    f->c = cfg_of(IK_LM_QWEN2);
    f->a = new_adapter(&f->c, 1u << IK_LORA_Q | 1u << IK_LORA_DOWN, 2, 4.0f);
    f->path = write_adapter(f->a, &f->c, IK_GGML_F32, &f->dir);
    ed_load(&f->e, f->path);
}

static void fx_refused(struct fixture *f, int code, const char *msg)
{
    ed_save(&f->e, f->path);
    expect_refused(f->path, &f->c, code, msg);
    ik_lora_free(f->a);
    done(f->dir, f->path);
}

Test(lm_lora_gguf, alpha_f64_is_refused)
{
    struct fixture f;
    fx_init(&f);
    double v = 4.0;
    ed_kv_set(&f.e, "adapter.lora.alpha", IK_GGUF_F64, &v, 8);
    fx_refused(&f, IK_EVALIDATE, "key 'adapter.lora.alpha' has type f64, expected f32\n"
               "hint: llama.cpp reads alpha only as f32 and aborts on any other type");
}

Test(lm_lora_gguf, alpha_missing_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_kv_set(&f.e, "adapter.lora.alpha", 0, NULL, 0);
    fx_refused(&f, IK_ENOTFOUND, "key 'adapter.lora.alpha' is missing\n"
               "hint: without it llama.cpp applies the adapter at scale 1 instead of alpha / rank, "
               "without a word");
}

Test(lm_lora_gguf, alpha_zero_is_refused)
{
    struct fixture f;
    fx_init(&f);
    float v = 0;
    ed_kv_set(&f.e, "adapter.lora.alpha", IK_GGUF_F32, &v, 4);
    fx_refused(&f, IK_EVALIDATE, "key 'adapter.lora.alpha' is 0, expected a positive number");
}

Test(lm_lora_gguf, general_type_model_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_kv_str(&f.e, "general.type", "model");
    fx_refused(&f, IK_EVALIDATE, "key 'general.type' is \"model\", expected \"adapter\"\n"
               "hint: llama.cpp loads a LoRA only from a GGUF whose general.type is \"adapter\" "
               "(a base model GGUF is not one)");
}

Test(lm_lora_gguf, general_type_missing_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_kv_set(&f.e, "general.type", 0, NULL, 0);
    fx_refused(&f, IK_ENOTFOUND, "key 'general.type' is missing\n"
               "hint: llama.cpp loads a LoRA only from a GGUF whose general.type is \"adapter\" "
               "(a base model GGUF is not one)");
}

Test(lm_lora_gguf, adapter_type_is_checked)
{
    struct fixture f;
    fx_init(&f);
    ed_kv_str(&f.e, "adapter.type", "ia3");
    fx_refused(&f, IK_EVALIDATE, "key 'adapter.type' is \"ia3\", expected \"lora\"\n"
               "hint: only LoRA adapters are supported");
}

Test(lm_lora_gguf, architecture_mismatch_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_kv_str(&f.e, "general.architecture", "llama");
    fx_refused(&f, IK_EVALIDATE, "key 'general.architecture' is \"llama\", expected \"qwen2\"\n"
               "hint: the adapter was made for another base model: this one is qwen2, written to "
               "GGUF as qwen2");
}

Test(lm_lora_gguf, architecture_of_another_type_is_refused)
{
    struct fixture f;
    fx_init(&f);
    uint32_t v = 2;
    ed_kv_set(&f.e, "general.architecture", IK_GGUF_U32, &v, 4);
    fx_refused(&f, IK_EVALIDATE, "key 'general.architecture' has type u32, expected string\n"
               "hint: the adapter was made for another base model: this one is qwen2, written to "
               "GGUF as qwen2");
}

Test(lm_lora_gguf, activated_lora_is_refused)
{
    struct fixture f;
    fx_init(&f);
    unsigned char arr[16] = {IK_GGUF_U32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0};
    ed_kv_set(&f.e, "adapter.alora.invocation_tokens", IK_GGUF_ARR, arr, sizeof arr);
    fx_refused(&f, IK_EVALIDATE, "key 'adapter.alora.invocation_tokens': activated LoRA adapters "
               "are not supported");
}

Test(lm_lora_gguf, lora_a_without_lora_b_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_drop(&f.e, "blk.1.ffn_down.weight.lora_b");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor pair for 'blk.1.ffn_down.weight' is missing its lora_b");
}

Test(lm_lora_gguf, lora_b_without_lora_a_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_drop(&f.e, "blk.0.attn_q.weight.lora_a");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor pair for 'blk.0.attn_q.weight' is missing its lora_a");
}

Test(lm_lora_gguf, unexpected_suffix_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_rename(&f.e, "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor 'blk.0.attn_q.weight' has unexpected suffix: expected "
               ".lora_a or .lora_b");
}

Test(lm_lora_gguf, tensor_not_in_base_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_rename(&f.e, "blk.1.attn_q.weight.lora_a", "blk.2.attn_q.weight.lora_a");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor 'blk.2.attn_q.weight.lora_a' adapts "
               "'blk.2.attn_q.weight', which is not a projection of the base model (blk.0..1: attn_q, "
               "attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down)");
}

Test(lm_lora_gguf, embedding_lora_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_rename(&f.e, "blk.1.attn_q.weight.lora_a", "token_embd.weight.lora_a");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor 'token_embd.weight.lora_a' adapts 'token_embd.weight', "
               "which is not a projection of the base model (blk.0..1: attn_q, attn_k, attn_v, "
               "attn_output, ffn_gate, ffn_up, ffn_down)");
}

Test(lm_lora_gguf, duplicate_tensor_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_copy(&f.e, "blk.0.attn_q.weight.lora_b", "blk.0.attn_q.weight.lora_b");
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor 'blk.0.attn_q.weight.lora_b' appears twice");
}

/* lora_a stored as [r, in] (the layout of llama.cpp's old finetune example). */
Test(lm_lora_gguf, transposed_lora_a_is_refused)
{
    struct fixture f;
    fx_init(&f);
    struct ed_t *t = ed_t_find(&f.e, "blk.0.attn_q.weight.lora_a");
    t->dims[0] = 2;
    t->dims[1] = 16;
    fx_refused(&f, IK_EVALIDATE, "tensor 'blk.0.attn_q.weight' has incorrect shape: lora_a [2, 16], "
               "lora_b [2, 16] (ne order, innermost first), expected [16, r] and [r, 16] with the same "
               "rank r for this base model");
}

/* An adapter for another base (hidden size 20) on this one. */
Test(lm_lora_gguf, wrong_base_shape_is_refused)
{
    struct ik_lm_config big = lmt_cfg(IK_LM_QWEN2, 20, 24, 2, 4, 40), c = cfg_of(IK_LM_QWEN2);
    struct ik_lora *a = new_adapter(&big, 1u << IK_LORA_V, 2, 4.0f);
    char *dir, *path = write_adapter(a, &big, IK_GGML_F32, &dir);
    expect_refused(path, &c, IK_EVALIDATE, "tensor 'blk.0.attn_v.weight' has incorrect shape: lora_a "
                   "[20, 2], lora_b [2, 8] (ne order, innermost first), expected [16, r] and [r, 8] "
                   "with the same rank r for this base model");
    ik_lora_free(a);
    done(dir, path);
}

Test(lm_lora_gguf, different_ranks_are_refused)
{
    struct fixture f;
    fx_init(&f);
    /* ffn_down of layer 1 as rank 1: its first row of A, first column of B. */
    ed_t_find(&f.e, "blk.1.ffn_down.weight.lora_a")->dims[1] = 1;
    ed_t_find(&f.e, "blk.1.ffn_down.weight.lora_b")->dims[0] = 1;
    fx_refused(&f, IK_EVALIDATE, "tensor 'blk.1.ffn_down.weight' has rank 1 but "
               "'blk.0.attn_q.weight' rank 2: one rank for every module is supported");
}

Test(lm_lora_gguf, quantized_type_is_refused)
{
    struct fixture f;
    fx_init(&f);
    ed_t_find(&f.e, "blk.0.attn_q.weight.lora_a")->type = 12; /* Q4_K */
    fx_refused(&f, IK_EVALIDATE, "LoRA tensor 'blk.0.attn_q.weight.lora_a' has ggml type 12: "
               "expected F32, F16, BF16 or Q8_0");
}

Test(lm_lora_gguf, no_tensors_is_refused)
{
    struct fixture f;
    fx_init(&f);
    while (f.e.n_t)
        ed_t_drop(&f.e, f.e.t[0].name);
    fx_refused(&f, IK_EVALIDATE, "the adapter has no LoRA tensors");
}

/* Norm vectors (mergekit) are skipped, as llama.cpp skips them. */
Test(lm_lora_gguf, norm_vectors_are_skipped)
{
    struct fixture f;
    fx_init(&f);
    struct ed_t *t = ed_t_copy(&f.e, "blk.0.attn_q.weight.lora_a", "blk.0.attn_norm.weight");
    t->n_dims = 1;
    t->dims[0] = 16;
    t->dims[1] = 1;
    t->nbytes = 64;
    ed_save(&f.e, f.path);
    struct ik_lora *b = load_ok(f.path, &f.c);
    cr_expect_eq(memcmp(b->params, f.a->params, f.a->n_params * sizeof(float)), 0);
    ik_lora_free(b);
    ik_lora_free(f.a);
    done(f.dir, f.path);
}

Test(lm_lora_gguf, not_gguf_and_missing_file)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA);
    char *dir = tc_tmpdir(), *path = ik_xasprintf("%s/x.gguf", dir);
    lmt_write(path, "{\"peft_type\": \"LORA\"}", 21);
    expect_refused(path, &c, IK_EPARSE, "offset 0: not a GGUF v2/v3 file");
    struct ik_lora *b = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    char *none = ik_xasprintf("%s/none.gguf", dir);
    cr_expect_eq(ik_lora_load_gguf(&b, &c, none, &d), -ENOENT);
    cr_expect(strstr(ik_diag_message(&d), none) != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(none);
    done(dir, path);
}

Test(lm_lora_gguf, writer_refusals)
{
    struct ik_lm_config c = cfg_of(IK_LM_LLAMA), other = lmt_cfg(IK_LM_LLAMA, 16, 24, 3, 4, 40);
    struct ik_lora *a = new_adapter(&c, ALL_TARGETS, 2, 4.0f);
    struct ik_diag d = IK_DIAG_INIT;
    char *dir = tc_tmpdir(), *path = ik_xasprintf("%s/a.gguf", dir);
    cr_expect_eq(ik_lora_write_gguf(a, &c, IK_GGML_Q8_0, path, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("error: adapter GGUF '%s': tensor type 8 is none of F32 (0), F16 (1) "
                              "and BF16 (30)", path);
    cr_expect_str_eq(ik_diag_message(&d), want);
    free(want);
    cr_expect_eq(ik_lora_write_gguf(a, &other, IK_GGML_F32, path, &d), IK_EVALIDATE);
    cr_expect_str_eq(ik_diag_message(&d), "error: the adapter has 2 layers, the base model 3");
    cr_expect_eq(access(path, F_OK), -1, "nothing is written when the adapter is refused");
    ik_diag_free(&d);
    ik_lora_free(a);
    done(dir, path);
}

/* ---- `ikada lm score`: adapter GGUF = PEFT folder ---- */

/* The example model (Llama, GQA 8:4, head_dim 8): its q/k lora_b go through
 * the permutation and back; both forms must score alike, and differ from the
 * base (the adapter is not a no-op). */
Test(lm_lora_gguf, cli_score_gguf_equals_peft, .timeout = 60)
{
    char *model = lmt_path("examples/models/stories260K-hf");
    struct ik_lm_config c;
    struct ik_diag d = IK_DIAG_INIT;
    char *cfg = ik_xasprintf("%s/config.json", model);
    cr_assert_eq(ik_lm_config_load(&c, cfg, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora *a = new_adapter(&c, ALL_TARGETS, 4, 8.0f);
    char *dir, *path = write_adapter(a, &c, IK_GGML_F32, &dir);
    char *peft = ik_xasprintf("%s/peft", dir);
    cr_assert_eq(ik_lora_save(a, peft, NULL, &d), 0, "%s", ik_diag_message(&d));
    const char *text = "Once upon a time, there was a little girl named Lily.";
    size_t ng, np;
    double *lg = lmt_cli_score(model, path, text, &ng), *lq = lmt_cli_score(model, peft, text, &np);
    cr_assert_eq(ng, np);
    cr_assert_gt(ng, 5);
    double diff_base = 0;
    for (size_t i = 0; i < ng; i++)
        cr_expect_leq(fabs(lg[i] - lq[i]), 1e-4 * fabs(lq[i]) + 1e-6, "token %zu: %.9g vs %.9g", i,
                      lg[i], lq[i]);
    /* And the adapter does change the scores (a scrambled q/k would too, so
     * the equality above is what pins the permutation's inverse). */
    struct ik_lora *z = new_adapter(&c, ALL_TARGETS, 4, 8.0f);
    memset(z->params, 0, z->n_params * sizeof(float));
    char *zp = ik_xasprintf("%s/zero.gguf", dir);
    cr_assert_eq(ik_lora_write_gguf(z, &c, IK_GGML_F32, zp, &d), 0);
    size_t nz;
    double *l0 = lmt_cli_score(model, zp, text, &nz);
    for (size_t i = 0; i < ng; i++)
        diff_base = fmax(diff_base, fabs(lg[i] - l0[i]));
    cr_expect_gt(diff_base, 1e-3, "the adapter changed nothing");

    /* Base and adapter both as GGUF (lm/model_gguf.h permutes the base's q/k
     * rows as this file permutes lora_b): the same log-probs again. */
    struct ik_lm_model *m = NULL;
    struct ik_tok *tok = NULL;
    char *tp = ik_xasprintf("%s/tok512.model", model), *bg = ik_xasprintf("%s/base.gguf", dir);
    cr_assert_eq(ik_lm_model_load(&m, model, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_tok_load(&tok, tp, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lm_gguf_opts go = {IK_GGML_F32, -1, NULL};
    cr_assert_eq(ik_lm_model_write_gguf(m, tok, &go, bg, &d), 0, "%s", ik_diag_message(&d));
    size_t nb;
    double *lb = lmt_cli_score(bg, path, text, &nb);
    cr_assert_eq(nb, np);
    for (size_t i = 0; i < nb; i++)
        cr_expect_leq(fabs(lb[i] - lq[i]), 1e-4 * fabs(lq[i]) + 1e-6, "token %zu: %.9g (GGUF base) vs "
                      "%.9g", i, lb[i], lq[i]);
    free(lb);
    free(tp);
    free(bg);
    ik_tok_free(tok);
    ik_lm_model_free(m);
    free(lg);
    free(lq);
    free(l0);
    free(zp);
    free(peft);
    free(cfg);
    free(model);
    ik_lora_free(z);
    ik_lora_free(a);
    done(dir, path);
}
