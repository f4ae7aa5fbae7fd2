/* tests/lm/test_safetensors.c - the safetensors reader and writer: round
 * trips in each dtype, sharded folders, and each damaged-file error with its
 * exact message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

static char *dir;

static void setup(void) { dir = tc_tmpdir(); }
static void teardown(void) { tc_rmtree(dir); }

TestSuite(lm_safetensors, .init = setup, .fini = teardown);

/* A file from a header string and n data bytes (value i at byte i). */
static char *raw_file(const char *name, const char *header, size_t n)
{
    size_t hl = strlen(header);
    unsigned char *b = ik_xmalloc(8 + hl + n);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < n; i++)
        b[8 + hl + i] = (unsigned char)i;
    char *p = ik_xasprintf("%s/%s", dir, name);
    lmt_write(p, b, 8 + hl + n);
    free(b);
    return p;
}

static char *open_fails(const char *path, int code)
{
    struct ik_st *st = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_st_open(&st, path, &d);
    cr_assert_eq(rc, code, "rc %d (%s)", rc, ik_diag_message(&d));
    cr_assert_null(st);
    char *msg = ik_xstrdup(ik_diag_message(&d));
    ik_diag_free(&d);
    /* Messages start with the file they are about; drop the folder. */
    char *rel = strstr(msg, dir) == msg ? ik_xstrdup(msg + strlen(dir) + 1) : ik_xstrdup(msg);
    free(msg);
    return rel;
}

Test(lm_safetensors, roundtrip_all_dtypes)
{
    float a[6] = {1.5f, -2.25f, 0.0f, 3e-5f, 65504.0f, -1e-7f};
    uint16_t h[6], b[6];
    for (int i = 0; i < 6; i++) {
        h[i] = ik_f32_to_f16(a[i]);
        b[i] = ik_f32_to_bf16(a[i]);
    }
    struct ik_st_wtensor t[3] = {
        {"x.f32", IK_ST_F32, 2, {2, 3}, a},
        {"x.f16", IK_ST_F16, 2, {2, 3}, h},
        {"x.bf16", IK_ST_BF16, 1, {6}, b},
    };
    char *p = ik_xasprintf("%s/m.safetensors", dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_st_write(p, t, 3, &d), 0);
    struct ik_st *st;
    cr_assert_eq(ik_st_open(&st, p, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_st_count(st), 3);
    const struct ik_st_tensor *f = ik_st_find(st, "x.f16");
    cr_assert_not_null(f);
    cr_assert_str_eq(f->dtype_name, "F16");
    cr_assert_eq(f->nbytes, 12);
    float out[6];
    int64_t s23[2] = {2, 3}, s6[1] = {6};
    cr_assert_eq(ik_st_read_f32(st, "x.f32", out, 2, s23, &d), 0);
    cr_assert_eq(memcmp(out, a, sizeof a), 0);
    cr_assert_eq(ik_st_read_f32(st, "x.f16", out, 2, s23, &d), 0);
    for (int i = 0; i < 6; i++)
        cr_expect(fabsf(out[i] - a[i]) <= 1e-3f * fabsf(a[i]) + 6e-8f, "f16 %d: %g vs %g", i, out[i], a[i]);
    cr_assert_eq(out[4], 65504.0f);
    cr_assert_eq(ik_st_read_f32(st, "x.bf16", out, 1, s6, &d), 0);
    for (int i = 0; i < 6; i++)
        cr_expect(fabsf(out[i] - a[i]) <= 4e-3f * fabsf(a[i]), "bf16 %d: %g vs %g", i, out[i], a[i]);
    cr_assert_eq(out[0], 1.5f);
    ik_st_close(st);
    free(p);
}

Test(lm_safetensors, f16_conversions_exact)
{
    cr_assert_eq(ik_f16_to_f32(0x3c00), 1.0f);
    cr_assert_eq(ik_f16_to_f32(0xc000), -2.0f);
    cr_assert_eq(ik_f16_to_f32(0x0001), ldexpf(1, -24));
    cr_assert_eq(ik_f16_to_f32(0x7bff), 65504.0f);
    cr_assert(isinf(ik_f16_to_f32(0x7c00)));
    /* Every finite half converts to float and back unchanged. */
    for (unsigned u = 0; u < 0x10000; u++) {
        if ((u & 0x7c00) == 0x7c00)
            continue;
        cr_assert_eq(ik_f32_to_f16(ik_f16_to_f32((uint16_t)u)), u, "half 0x%04x", u);
    }
    cr_assert_eq(ik_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80); /* tie to even */
    cr_assert_eq(ik_bf16_to_f32(0x3fc0), 1.5f);
}

Test(lm_safetensors, sharded_folder)
{
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    struct ik_st_wtensor ta = {"a", IK_ST_F32, 1, {2}, a}, tb = {"b", IK_ST_F32, 1, {3}, b};
    struct ik_diag d = IK_DIAG_INIT;
    char *p1 = ik_xasprintf("%s/model-00001-of-00002.safetensors", dir);
    char *p2 = ik_xasprintf("%s/model-00002-of-00002.safetensors", dir);
    cr_assert_eq(ik_st_write(p1, &ta, 1, &d), 0);
    cr_assert_eq(ik_st_write(p2, &tb, 1, &d), 0);
    char *ip = ik_xasprintf("%s/model.safetensors.index.json", dir);
    const char *idx = "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                      " \"b\": \"model-00002-of-00002.safetensors\"}}";
    lmt_write(ip, idx, strlen(idx));
    struct ik_st *st;
    cr_assert_eq(ik_st_open(&st, dir, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_st_count(st), 2);
    float out[3];
    int64_t s3 = 3;
    cr_assert_eq(ik_st_read_f32(st, "b", out, 1, &s3, &d), 0);
    cr_assert_eq(out[2], 5.0f);
    cr_assert_str_eq(ik_st_find(st, "b")->file, p2);
    ik_st_close(st);
    /* A tensor listed for a shard that lacks it. */
    const char *bad = "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                      " \"c\": \"model-00002-of-00002.safetensors\"}}";
    lmt_write(ip, bad, strlen(bad));
    char *msg = open_fails(dir, IK_ENOTFOUND);
    cr_assert_str_eq(msg, "model.safetensors.index.json: error: tensor 'c' is listed for "
                          "'model-00002-of-00002.safetensors' but is not in it");
    free(msg);
    free(p1), free(p2), free(ip);
}

/* No tensors at all: a file whose header is {} and an index whose weight_map
 * is empty open as empty sets (the loaders then name the first tensor they
 * miss). Both used to hand qsort (and a lookup bsearch) a NULL base,
 * undefined behaviour that UBSan reports (found by fuzz/fz_safetensors). */
Test(lm_safetensors, no_tensors)
{
    char *p = raw_file("empty.safetensors", "{}", 0);
    struct ik_st *st = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_st_open(&st, p, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(ik_st_count(st), 0);
    cr_expect_null(ik_st_find(st, "a"));
    ik_st_close(st);
    char *ip = ik_xasprintf("%s/model.safetensors.index.json", dir);
    const char *idx = "{\"metadata\": {}, \"weight_map\": {}}";
    lmt_write(ip, idx, strlen(idx));
    cr_assert_eq(ik_st_open(&st, dir, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(ik_st_count(st), 0);
    ik_st_close(st);
    free(ip);
    free(p);
}

Test(lm_safetensors, error_header_too_long)
{
    char *p = raw_file("a.safetensors", "{}", 0);
    /* Claim a longer header than the file holds. */
    FILE *f = fopen(p, "r+b");
    fputc(200, f);
    fclose(f);
    char *msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "a.safetensors: error: offset 0: header length 200 exceeds the file size (10 bytes)");
    free(msg);
    free(p);
}

Test(lm_safetensors, error_bad_json)
{
    char *p = raw_file("a.safetensors", "{\"x\": [1,}", 0);
    char *msg = open_fails(p, IK_EPARSE);
    cr_assert(strncmp(msg, "a.safetensors: error: offset 18: bad JSON header: ", 50) == 0, "%s", msg);
    free(msg);
    free(p);
}

Test(lm_safetensors, error_truncated)
{
    char *p = raw_file("a.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 10);
    char *msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "a.safetensors: error: offset 65: tensor 'w': truncated file: data ends at "
                          "byte 81 but the file has 75 bytes");
    free(msg);
    free(p);
}

Test(lm_safetensors, error_size_mismatch_and_overlap)
{
    char *p = raw_file("a.safetensors",
                       "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    char *msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "a.safetensors: error: offset 63: tensor 'w': data_offsets span 8 bytes but "
                          "shape and dtype need 6");
    free(msg);
    free(p);
    p = raw_file("b.safetensors", "{\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                  "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "b.safetensors: error: offset 119: tensor 'v' starts at byte 119, expected 123 "
                          "(overlapping or non-contiguous data_offsets)");
    free(msg);
    free(p);
}

/* Issue 9: dims of up to 2^40 each multiplied in 64 bits without a check,
 * so [2^32, 2^32] F32 "needed" 0 bytes and was listed with data_offsets
 * [0, 0] (tests/data/repro/safetensors-shape-overflow; the reference reader
 * refuses it with ValidationOverflow). */
Test(lm_safetensors, error_shape_overflow)
{
    char *src = lmt_path("tests/data/repro/safetensors-shape-overflow/ovf.safetensors");
    struct ik_st *st = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_st_open(&st, src, &d), IK_ECORRUPT, "%s", ik_diag_message(&d));
    cr_assert_null(st);
    char *want = ik_xasprintf("%s: error: offset 8: tensor 'w': shape [4294967296, 4294967296] of F32 "
                              "has more elements or bytes than fit in 64 bits", src);
    cr_assert_str_eq(ik_diag_message(&d), want);
    ik_diag_free(&d);
    free(want), free(src);
    /* The element count fits, the byte count does not. */
    char *p = raw_file("a.safetensors", "{\"x\":{\"dtype\":\"F64\",\"shape\":[1099511627776,"
                                        "4194304],\"data_offsets\":[0,0]}}", 0);
    char *msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "a.safetensors: error: offset 8: tensor 'x': shape [1099511627776, 4194304] "
                          "of F64 has more elements or bytes than fit in 64 bits");
    free(msg), free(p);
}

/* As the reference reader (MetadataIncompleteBuffer), data_offsets must
 * describe the whole buffer: bytes after the last tensor are refused. */
Test(lm_safetensors, error_trailing_bytes)
{
    char *p = raw_file("a.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
                                        "\"data_offsets\":[0,8]}}", 11);
    char *msg = open_fails(p, IK_ECORRUPT);
    cr_assert_str_eq(msg, "a.safetensors: error: offset 70: 3 bytes follow the last tensor's data (the "
                          "reference reader refuses an incompletely described buffer)");
    free(msg), free(p);
}

Test(lm_safetensors, error_missing_tensor_wrong_shape_dtype)
{
    char *p = raw_file("a.safetensors", "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],"
                                        "\"data_offsets\":[0,8]},\"n\":{\"dtype\":\"I32\",\"shape\":[1],"
                                        "\"data_offsets\":[8,12]}}", 12);
    struct ik_st *st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_st_open(&st, p, &d), 0, "%s", ik_diag_message(&d));
    float out[4];
    int64_t s3 = 3, s2 = 2, s1 = 1;
    cr_assert_eq(ik_st_read_f32(st, "model.norm.weights", out, 1, &s2, &d), IK_ENOTFOUND);
    char *want = ik_xasprintf("error: tensor 'model.norm.weights' not found in '%s'\n"
                              "hint: did you mean 'model.norm.weight'?", p);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    cr_assert_eq(ik_st_read_f32(st, "model.norm.weight", out, 1, &s3, &d), IK_EVALIDATE);
    want = ik_xasprintf("%s: error: offset 132: tensor 'model.norm.weight' has shape [2], expected [3]", p);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    cr_assert_eq(ik_st_read_f32(st, "n", out, 1, &s1, &d), IK_EVALIDATE);
    want = ik_xasprintf("%s: error: offset 140: tensor 'n' has dtype I32; expected F32, F16 or BF16", p);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    ik_diag_free(&d);
    ik_st_close(st);
    free(p);
}

Test(lm_safetensors, error_folder_without_weights)
{
    char *msg = open_fails(dir, IK_ENOTFOUND);
    cr_assert(strstr(msg, "holds neither model.safetensors nor model.safetensors.index.json") != NULL,
              "%s", msg);
    free(msg);
}
