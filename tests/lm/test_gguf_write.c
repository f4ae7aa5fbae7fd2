/* tests/lm/test_gguf_write.c - the GGUF writer (lm/gguf_write.h) read back by
 * lm/gguf.h: every key, type, value, array, tensor name, dims, type, offset
 * and byte; the fp16/bf16 rounding at its edges; alignments 32 and 64; and
 * failures (a missing folder, an injected ENOSPC, a bad tensor) that leave no
 * file behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

static uint64_t rd(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static bool str_is(const char *s, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Files in dir (the writer's temporary files included). */
static int n_files(const char *dir)
{
    DIR *dp = opendir(dir);
    cr_assert(dp != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dp);
    return n;
}

static const float t0[6] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-8f, -0.0f}; /* dims {3, 2} */
static float t1[5];                                                     /* dims {5} */
static float t2[2 * 3 * 4];                                             /* dims {4, 3, 2} */

static struct ik_gguf_writer *every_kind(uint32_t alignment)
{
    struct ik_gguf_writer *w = ik_gguf_writer_new(alignment);
    ik_gguf_w_str(w, "general.architecture", "llama");
    ik_gguf_w_u32(w, "a.u32", 4000000000u);
    ik_gguf_w_i32(w, "a.i32", -7);
    ik_gguf_w_u64(w, "a.u64", UINT64_MAX);
    ik_gguf_w_f32(w, "a.f32", 0.375f);
    ik_gguf_w_bool(w, "a.bool", true);
    ik_gguf_w_strn(w, "a.strn", "ab\0c", 4);
    int32_t iv[3] = {-1, 0, INT32_MAX};
    ik_gguf_w_arr_i32(w, "a.i32s", iv, 3);
    float fv[2] = {1.5f, -INFINITY};
    ik_gguf_w_arr_f32(w, "a.f32s", fv, 2);
    const char *sv[3] = {"x", "", "▁日本"};
    ik_gguf_w_arr_str(w, "a.strs", sv, NULL, 3);
    size_t lens[2] = {2, 3};
    const char *sv2[2] = {"pq", "a\0b"};
    ik_gguf_w_arr_str(w, "a.strs_len", sv2, lens, 2);
    ik_gguf_w_arr_i32(w, "a.empty", NULL, 0);
    for (int i = 0; i < 5; i++)
        t1[i] = (float)i - 2.0f;
    for (int i = 0; i < 24; i++)
        t2[i] = (float)i / 7.0f;
    ik_gguf_w_tensor(w, "t0", IK_GGML_F32, 2, (uint64_t[]){3, 2}, t0);
    ik_gguf_w_tensor(w, "t1.f16", IK_GGML_F16, 1, (uint64_t[]){5}, t1);
    ik_gguf_w_tensor(w, "t2.bf16", IK_GGML_BF16, 3, (uint64_t[]){4, 3, 2}, t2);
    return w;
}

static void check_every_kind(const char *path, uint32_t alignment)
{
    size_t len;
    char *data = lmt_read(path, &len);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, len, path, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(g.version, 3);
    cr_expect_eq(g.alignment, alignment);
    size_t keys = alignment == 32 ? 12 : 13; /* general.alignment only when not 32 */
    cr_expect_eq(g.n_kv, keys);
    if (alignment != 32) {
        cr_expect(str_is(g.kv[0].key, g.kv[0].key_len, "general.alignment"));
        cr_expect_eq(g.kv[0].type, IK_GGUF_U32);
    }
    const char *s;
    size_t sl;
    uint64_t u;
    int64_t i;
    float f;
    bool b;
    cr_expect_eq(ik_gguf_get_str(&g, "general.architecture", &s, &sl, &d), 0);
    cr_expect(str_is(s, sl, "llama"));
    cr_expect_eq(ik_gguf_find(&g, "a.u32")->type, IK_GGUF_U32);
    cr_expect_eq(ik_gguf_get_uint(&g, "a.u32", &u, &d), 0);
    cr_expect_eq(u, 4000000000u);
    cr_expect_eq(ik_gguf_find(&g, "a.i32")->type, IK_GGUF_I32);
    cr_expect_eq(ik_gguf_get_int(&g, "a.i32", &i, &d), 0);
    cr_expect_eq(i, -7);
    cr_expect_eq(ik_gguf_find(&g, "a.u64")->type, IK_GGUF_U64);
    cr_expect_eq(ik_gguf_get_uint(&g, "a.u64", &u, &d), 0);
    cr_expect_eq(u, UINT64_MAX);
    cr_expect_eq(ik_gguf_get_f32(&g, "a.f32", &f, &d), 0);
    cr_expect_eq(f, 0.375f);
    cr_expect_eq(ik_gguf_get_bool(&g, "a.bool", &b, &d), 0);
    cr_expect(b);
    cr_expect_eq(ik_gguf_get_str(&g, "a.strn", &s, &sl, &d), 0);
    cr_expect(sl == 4 && memcmp(s, "ab\0c", 4) == 0);

    struct ik_gguf_rd r;
    cr_assert_eq(ik_gguf_get_arr(&g, "a.i32s", IK_GGUF_I32, &r, &u, &d), 0);
    cr_expect_eq(u, 3);
    cr_expect_eq((int32_t)ik_gguf_rd_uint(&r, 4), -1);
    cr_expect_eq((int32_t)ik_gguf_rd_uint(&r, 4), 0);
    cr_expect_eq((int32_t)ik_gguf_rd_uint(&r, 4), INT32_MAX);
    cr_assert_eq(ik_gguf_get_arr(&g, "a.f32s", IK_GGUF_F32, &r, &u, &d), 0);
    cr_expect_eq(u, 2);
    cr_expect_eq(ik_gguf_rd_uint(&r, 4), 0x3fc00000u);
    cr_expect_eq(ik_gguf_rd_uint(&r, 4), 0xff800000u);
    cr_assert_eq(ik_gguf_get_arr(&g, "a.strs", IK_GGUF_STR, &r, &u, &d), 0);
    cr_expect_eq(u, 3);
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect(str_is(s, sl, "x"));
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect_eq(sl, 0);
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect(str_is(s, sl, "▁日本"));
    cr_assert_eq(ik_gguf_get_arr(&g, "a.strs_len", IK_GGUF_STR, &r, &u, &d), 0);
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect(str_is(s, sl, "pq"));
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect(sl == 3 && memcmp(s, "a\0b", 3) == 0);
    cr_assert_eq(ik_gguf_get_arr(&g, "a.empty", IK_GGUF_I32, &r, &u, &d), 0);
    cr_expect_eq(u, 0);

    cr_assert_eq(g.n_tensors, 3);
    const struct ik_gguf_tensor *t = &g.tensors[0];
    cr_expect(str_is(t->name, t->name_len, "t0"));
    cr_expect(t->n_dims == 2 && t->dims[0] == 3 && t->dims[1] == 2 && t->dims[2] == 1);
    cr_expect_eq(t->type, IK_GGML_F32);
    cr_expect_eq(t->offset, 0);
    cr_expect_eq(g.data_off % alignment, 0);
    for (int k = 0; k < 6; k++)
        cr_expect_eq(rd((const char *)t->data + 4 * k, 4), rd(&t0[k], 4), "t0[%d]", k);
    t = &g.tensors[1];
    cr_expect(str_is(t->name, t->name_len, "t1.f16"));
    cr_expect(t->n_dims == 1 && t->dims[0] == 5 && t->type == IK_GGML_F16);
    uint64_t a = alignment, off1 = (24 + a - 1) / a * a, off2 = off1 + (10 + a - 1) / a * a;
    cr_expect_eq(t->offset, off1); /* 24 bytes of t0, padded */
    for (int k = 0; k < 5; k++)
        cr_expect_eq(ik_f16_to_f32((uint16_t)rd((const char *)t->data + 2 * k, 2)), t1[k]);
    t = &g.tensors[2];
    cr_expect(str_is(t->name, t->name_len, "t2.bf16"));
    cr_expect(t->n_dims == 3 && t->dims[0] == 4 && t->dims[1] == 3 && t->dims[2] == 2);
    cr_expect_eq(t->type, IK_GGML_BF16);
    cr_expect_eq(t->offset, off2);
    for (int k = 0; k < 24; k++)
        cr_expect_eq(rd((const char *)t->data + 2 * k, 2), ik_f32_to_bf16(t2[k]));
    /* ggml reads every tensor padded, the last one too. */
    cr_expect_eq(len, g.data_off + off2 + (48 + a - 1) / a * a);
    ik_gguf_close(&g);
    free(data);
}

static void round_trip(uint32_t alignment)
{
    char *dir = tc_tmpdir();
    char *path = ik_xasprintf("%s/x.gguf", dir);
    struct ik_gguf_writer *w = every_kind(alignment);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_writer_write(w, path, &d), 0, "%s", ik_diag_message(&d));
    ik_gguf_writer_free(w);
    check_every_kind(path, alignment);
    cr_expect_eq(n_files(dir), 1, "no temporary file is left");
    tc_rmtree(dir);
    free(path);
}

Test(lm_gguf_write, round_trip_align32) { round_trip(32); }
Test(lm_gguf_write, round_trip_align64) { round_trip(64); }
Test(lm_gguf_write, round_trip_align8) { round_trip(8); }

/* ik_f32_to_f16 / ik_f32_to_bf16, which the writer uses, at their edges. */
Test(lm_gguf_write, f16_rounding)
{
    struct {
        float f;
        uint16_t h;
    } c[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000},
        {65504.0f, 0x7bff},                     /* the largest half */
        {65519.0f, 0x7bff},                     /* below the midpoint to 65536 */
        {65520.0f, 0x7c00},                     /* the midpoint: ties to even = inf */
        {1e10f, 0x7c00}, {-1e10f, 0xfc00},
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
        {1.0f + 0x1p-11f, 0x3c00},              /* tie between 1 and 1+2^-10: even (1) */
        {1.0f + 3 * 0x1p-11f, 0x3c02},          /* tie between 1+2^-10 and 1+2^-9: even */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},   /* just above the tie */
        {0x1p-14f, 0x0400},                     /* the smallest normal */
        {0x1p-24f, 0x0001},                     /* the smallest subnormal */
        {0x1p-25f, 0x0000},                     /* half of it: ties to even = 0 */
        {0x1p-25f * 3, 0x0002},                 /* 1.5 units: ties to even = 2 */
        {0x1p-25f + 0x1p-40f, 0x0001},          /* above the half: rounds up */
        {0x1p-14f - 0x1p-26f, 0x0400},          /* rounds up into the normals */
        {1e-30f, 0x0000}, {-1e-30f, 0x8000},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        cr_expect_eq(ik_f32_to_f16(c[i].f), c[i].h, "%a -> %04x, expected %04x", (double)c[i].f,
                     ik_f32_to_f16(c[i].f), c[i].h);
    uint16_t n = ik_f32_to_f16(NAN);
    cr_expect((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0, "NaN stays NaN: %04x", n);
    cr_expect(isnan(ik_f16_to_f32(ik_f32_to_f16(-NAN))));
    /* Every half survives half -> float -> half. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        cr_assert_eq(ik_f32_to_f16(ik_f16_to_f32((uint16_t)h)), h, "%04x", h);
    }
}

Test(lm_gguf_write, bf16_rounding)
{
    struct {
        float f;
        uint16_t h;
    } c[] = {
        {1.0f, 0x3f80}, {-0.0f, 0x8000},
        {1.0f + 0x1p-8f, 0x3f80},                /* tie: even (1) */
        {1.0f + 3 * 0x1p-8f, 0x3f82},            /* tie: even */
        {1.0f + 0x1p-8f + 0x1p-20f, 0x3f81},     /* above the tie */
        {0x1.fffffep127f, 0x7f80},               /* FLT_MAX rounds to inf */
        {INFINITY, 0x7f80}, {-INFINITY, 0xff80},
        {0x1p-133f, 0x0001},                     /* a float subnormal, exact */
        {0x1p-134f, 0x0000},                     /* a subnormal tie: to even (0) */
        {0x1p-134f * 3, 0x0002},                 /* a subnormal tie: to even (2) */
        {0x1p-126f, 0x0080},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        cr_expect_eq(ik_f32_to_bf16(c[i].f), c[i].h, "%a -> %04x, expected %04x", (double)c[i].f,
                     ik_f32_to_bf16(c[i].f), c[i].h);
    uint16_t n = ik_f32_to_bf16(NAN);
    cr_expect((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0, "NaN stays NaN: %04x", n);
    /* A NaN whose payload sits only in the low bits must not become inf. */
    uint32_t bits = 0x7f800001;
    float f;
    memcpy(&f, &bits, 4);
    cr_expect(isnan(ik_bf16_to_f32(ik_f32_to_bf16(f))));
}

Test(lm_gguf_write, missing_folder_fails)
{
    struct ik_gguf_writer *w = every_kind(32);
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_gguf_writer_write(w, "/nonexistent-ikada/x.gguf", &d), -ENOENT);
    cr_expect(strstr(ik_diag_message(&d), "/nonexistent-ikada/x.gguf") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    ik_gguf_writer_free(w);
}

/* A disk that fills up at every stage (header, metadata, each tensor, the
 * last padding) leaves neither the file nor a temporary one. */
Test(lm_gguf_write, enospc_leaves_nothing)
{
    char *dir = tc_tmpdir();
    char *path = ik_xasprintf("%s/x.gguf", dir);
    struct ik_gguf_writer *w = every_kind(64);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_writer_write(w, path, &d), 0, "%s", ik_diag_message(&d));
    size_t len;
    free(lmt_read(path, &len));
    unlink(path);
    /* 0 and 10: the header; len/3: metadata; len-150: tensor data; len-1: padding */
    long long cuts[] = {0, 10, (long long)len / 3, (long long)len - 150, (long long)len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        ik_file_set_fault(ENOSPC, cuts[i]);
        int rc = ik_gguf_writer_write(w, path, &d);
        ik_file_set_fault(0, 0);
        cr_expect_eq(rc, -ENOSPC, "cut at %lld of %zu: %d", cuts[i], len, rc);
        cr_expect(strstr(ik_diag_message(&d), "No space left on device") != NULL, "%s",
                  ik_diag_message(&d));
        ik_diag_free(&d);
        cr_expect_eq(n_files(dir), 0, "cut at %lld", cuts[i]);
    }
    ik_gguf_writer_free(w);
    tc_rmtree(dir);
    free(path);
}

Test(lm_gguf_write, bad_tensors_refused)
{
    char *dir = tc_tmpdir();
    char *path = ik_xasprintf("%s/x.gguf", dir);
    float x[32] = {0};
    struct {
        const char *name;
        uint32_t type, n_dims;
        const char *why;
    } c[] = {
        {"q", IK_GGML_Q8_0, 1, "its type is not F32, F16 or BF16"},
        {"a-name-of-sixty-four-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", IK_GGML_F32, 1,
         "its name has 64 bytes or more"},
        {"z", IK_GGML_F32, 0, "it has not 1 to 4 dims"},
        {"t", IK_GGML_F32, 1, "another tensor has the same name"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct ik_gguf_writer *w = ik_gguf_writer_new(32);
        ik_gguf_w_tensor(w, "t", IK_GGML_F32, 1, (uint64_t[]){32}, x);
        ik_gguf_w_tensor(w, c[i].name, c[i].type, c[i].n_dims, (uint64_t[]){32}, x);
        struct ik_diag d = IK_DIAG_INIT;
        cr_expect_eq(ik_gguf_writer_write(w, path, &d), IK_EVALIDATE, "case %zu", i);
        cr_expect(strstr(ik_diag_message(&d), c[i].why) != NULL, "%s", ik_diag_message(&d));
        cr_expect(strstr(ik_diag_message(&d), c[i].name) != NULL, "%s", ik_diag_message(&d));
        ik_diag_free(&d);
        ik_gguf_writer_free(w);
        cr_expect_eq(n_files(dir), 0);
    }
    tc_rmtree(dir);
    free(path);
}

/* A fill function giving x[n - 1 - i]: the writer asks for consecutive ranges. */
struct rev {
    const float *x;
    uint64_t n, next;
};

static void fill_rev(void *ctx, uint64_t first, size_t n, float *dst)
{
    struct rev *r = ctx;
    cr_assert_eq(first, r->next, "ranges are consecutive");
    for (size_t i = 0; i < n; i++)
        dst[i] = r->x[r->n - 1 - (first + i)];
    r->next = first + n;
}

/* A tensor of many chunks is written whole and in order, from an array and
 * from a fill function. */
Test(lm_gguf_write, large_tensor)
{
    char *dir = tc_tmpdir();
    char *path = ik_xasprintf("%s/big.gguf", dir);
    size_t n = 3 * 65536 + 17;
    float *x = ik_xmalloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 1000) - 500.0f;
    struct ik_gguf_writer *w = ik_gguf_writer_new(32);
    ik_gguf_w_tensor(w, "big", IK_GGML_F16, 2, (uint64_t[]){n, 1}, x);
    struct rev r = {x, n, 0};
    ik_gguf_w_tensor_fn(w, "rev", IK_GGML_F32, 1, (uint64_t[]){n}, fill_rev, &r);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_writer_write(w, path, &d), 0, "%s", ik_diag_message(&d));
    ik_gguf_writer_free(w);
    size_t len;
    char *data = lmt_read(path, &len);
    struct ik_gguf g;
    cr_assert_eq(ik_gguf_open(&g, data, len, path, &d), 0, "%s", ik_diag_message(&d));
    const struct ik_gguf_tensor *t = ik_gguf_find_tensor(&g, "big");
    cr_assert(t != NULL && t->nbytes == 2 * n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += ik_f16_to_f32((uint16_t)rd((const char *)t->data + 2 * i, 2)) != x[i];
    cr_expect_eq(bad, 0);
    cr_expect_eq(r.next, n);
    t = ik_gguf_find_tensor(&g, "rev");
    cr_assert(t != NULL && t->nbytes == 4 * n);
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, (const char *)t->data + 4 * i, 4);
        bad += v != x[n - 1 - i];
    }
    cr_expect_eq(bad, 0);
    ik_gguf_close(&g);
    free(data);
    free(x);
    tc_rmtree(dir);
    free(path);
}
