/* tests/lm/test_gguf.c - the GGUF reader (lm/gguf.h) on hand-built files:
 * the cursor, typed getters, tensor infos and the data section, every kind
 * of damage (magic, version, truncation at every byte, alignment, tensors
 * outside the file), and the messages of the GGUF tokenizer loader that sits
 * on top of it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/tokenizer.h"
#include "tests/lm/lm_test.h"

/* ---- a little writer ---- */

static void put(struct ik_buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        ik_buf_putc(b, (char)(v >> (8 * i) & 0xff));
}

static void put_str(struct ik_buf *b, const char *s)
{
    put(b, strlen(s), 8);
    ik_buf_puts(b, s);
}

static void put_key(struct ik_buf *b, const char *key, uint32_t type)
{
    put_str(b, key);
    put(b, type, 4);
}

static void put_f32(struct ik_buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put(b, u, 4);
}

static void header(struct ik_buf *b, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, IK_GGUF_MAGIC, 4);
    put(b, 3, 4);
    put(b, n_tensors, 8);
    put(b, n_kv, 8);
}

/* Ten pairs of every kind, no tensors. */
static void kvs_file(struct ik_buf *b)
{
    header(b, 0, 10);
    put_key(b, "general.architecture", IK_GGUF_STR);
    put_str(b, "llama");
    put_key(b, "a.u32", IK_GGUF_U32);
    put(b, 4000000000u, 4);
    put_key(b, "a.i16", IK_GGUF_I16);
    put(b, (uint16_t)-7, 2);
    put_key(b, "a.u64", IK_GGUF_U64);
    put(b, UINT64_MAX, 8);
    put_key(b, "a.f32", IK_GGUF_F32);
    put_f32(b, 0.5f);
    put_key(b, "a.bool", IK_GGUF_BOOL);
    put(b, 1, 1);
    put_key(b, "a.strs", IK_GGUF_ARR);
    put(b, IK_GGUF_STR, 4);
    put(b, 2, 8);
    put_str(b, "x");
    put_str(b, "yz");
    put_key(b, "a.f32s", IK_GGUF_ARR);
    put(b, IK_GGUF_F32, 4);
    put(b, 3, 8);
    put_f32(b, 1), put_f32(b, 2), put_f32(b, 3);
    put_key(b, "a.nested", IK_GGUF_ARR); /* [[1, 2], []] of u8 */
    put(b, IK_GGUF_ARR, 4);
    put(b, 2, 8);
    put(b, IK_GGUF_U8, 4), put(b, 2, 8), put(b, 1, 1), put(b, 2, 1);
    put(b, IK_GGUF_U8, 4), put(b, 0, 8);
    put_key(b, "a.f64", IK_GGUF_F64);
    put(b, 0, 8);
}

static void expect_msg(struct ik_diag *d, const char *want)
{
    cr_expect_str_eq(ik_diag_message(d), want);
    ik_diag_free(d);
}

Test(lm_gguf, cursor_is_sticky_and_bounded)
{
    const unsigned char bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 2, 0, 0, 0, 0, 0, 0, 0, 'h'};
    struct ik_gguf_rd r = {bytes, 0, sizeof bytes, 0};
    cr_expect_eq(ik_gguf_rd_uint(&r, 4), 0x04030201u);
    cr_expect_eq(r.off, 4);
    cr_expect_eq(ik_gguf_rd_uint(&r, 1), 5);
    size_t len;
    cr_expect_null(ik_gguf_rd_str(&r, &len), "the string's 2 bytes run past the end");
    cr_expect(r.bad);
    cr_expect_eq(r.off, 13, "the offset stays where the failure was found");
    cr_expect_eq(ik_gguf_rd_uint(&r, 1), 0, "sticky: even a read that would fit fails");
    cr_expect_eq(r.off, 13);
    struct ik_gguf_rd s = {bytes, 0, sizeof bytes, 0};
    ik_gguf_rd_skip(&s, 99);
    cr_expect(s.bad, "an unknown type cannot be skipped");
    cr_expect_eq(ik_gguf_scalar_size(IK_GGUF_F64), 8);
    cr_expect_eq(ik_gguf_scalar_size(IK_GGUF_STR), 0);
    cr_expect_eq(ik_gguf_scalar_size(13), 0);
    cr_expect(ik_gguf_key_is("ab", 2, "ab"));
    cr_expect_not(ik_gguf_key_is("abc", 2, "abc"));
    cr_expect_str_eq(ik_gguf_type_name(IK_GGUF_ARR), "array");
    cr_expect_str_eq(ik_gguf_type_name(40), "unknown");
}

Test(lm_gguf, keys_and_typed_getters)
{
    struct ik_buf b = IK_BUF_INIT;
    kvs_file(&b);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(g.version, 3);
    cr_expect_eq(g.n_kv, 10);
    cr_expect_eq(g.n_tensors, 0);
    cr_expect_eq(g.alignment, IK_GGUF_ALIGNMENT);
    cr_expect_null(ik_gguf_find(&g, "general"), "keys match whole");

    const char *s;
    size_t len;
    cr_assert_eq(ik_gguf_get_str(&g, "general.architecture", &s, &len, &d), 0);
    cr_expect(len == 5 && memcmp(s, "llama", 5) == 0);
    uint64_t u;
    int64_t i;
    cr_expect_eq(ik_gguf_get_uint(&g, "a.u32", &u, &d), 0);
    cr_expect_eq(u, 4000000000u);
    cr_expect_eq(ik_gguf_get_int(&g, "a.i16", &i, &d), 0);
    cr_expect_eq(i, -7, "signed values are sign-extended");
    cr_expect_eq(ik_gguf_get_uint(&g, "a.u64", &u, &d), 0);
    cr_expect_eq(u, UINT64_MAX);
    float f;
    cr_expect_eq(ik_gguf_get_f32(&g, "a.f32", &f, &d), 0);
    cr_expect_eq(f, 0.5f);
    bool on = false;
    cr_expect_eq(ik_gguf_get_bool(&g, "a.bool", &on, &d), 0);
    cr_expect(on);

    struct ik_gguf_rd r;
    uint64_t n;
    cr_assert_eq(ik_gguf_get_arr(&g, "a.strs", IK_GGUF_STR, &r, &n, &d), 0);
    cr_expect_eq(n, 2);
    s = ik_gguf_rd_str(&r, &len);
    cr_expect(len == 1 && s[0] == 'x');
    s = ik_gguf_rd_str(&r, &len);
    cr_expect(len == 2 && memcmp(s, "yz", 2) == 0);
    cr_assert_eq(ik_gguf_get_arr(&g, "a.f32s", IK_GGUF_F32, &r, &n, &d), 0);
    cr_expect_eq(n, 3);
    for (int k = 1; k <= 3; k++) {
        uint32_t bits = (uint32_t)ik_gguf_rd_uint(&r, 4);
        memcpy(&f, &bits, 4);
        cr_expect_eq(f, (float)k);
    }
    cr_expect_not(r.bad);
    const struct ik_gguf_kv *kv = ik_gguf_find(&g, "a.nested");
    cr_assert_not_null(kv);
    cr_expect_eq(kv->elem_type, IK_GGUF_ARR);
    cr_expect_eq(kv->n, 2);

    /* The refusals. */
    cr_expect_eq(ik_gguf_get_uint(&g, "a.missing", &u, &d), IK_ENOTFOUND);
    expect_msg(&d, "t.gguf: error: key 'a.missing' is missing");
    cr_expect_eq(ik_gguf_get_uint(&g, "a.f32", &u, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.f32' has type f32, expected an integer");
    cr_expect_eq(ik_gguf_get_uint(&g, "a.i16", &u, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.i16' is -7, expected a non-negative integer");
    cr_expect_eq(ik_gguf_get_int(&g, "a.u64", &i, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.u64' is 18446744073709551615, beyond a signed 64-bit "
                   "integer");
    cr_expect_eq(ik_gguf_get_f32(&g, "a.f64", &f, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.f64' has type f64, expected f32");
    cr_expect_eq(ik_gguf_get_bool(&g, "a.u32", &on, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.u32' has type u32, expected bool");
    cr_expect_eq(ik_gguf_get_str(&g, "a.strs", &s, &len, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.strs' has type array, expected string");
    cr_expect_eq(ik_gguf_get_arr(&g, "a.u32", IK_GGUF_U32, &r, &n, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.u32' has type u32, expected array");
    cr_expect_eq(ik_gguf_get_arr(&g, "a.strs", IK_GGUF_I32, &r, &n, &d), IK_EVALIDATE);
    expect_msg(&d, "t.gguf: error: key 'a.strs' is an array of string, expected an array of i32");
    ik_gguf_close(&g);
    ik_buf_free(&b);
}

/* Every cut of a valid file is refused with a located message, never read past. */
Test(lm_gguf, truncated_at_every_byte)
{
    struct ik_buf b = IK_BUF_INIT;
    kvs_file(&b);
    for (size_t cut = 0; cut < b.len; cut++) {
        char *part = ik_xmalloc(cut + 1); /* its own allocation, so ASan sees overreads */
        memcpy(part, b.data, cut);
        struct ik_gguf g;
        struct ik_diag d = IK_DIAG_INIT;
        int rc = ik_gguf_open(&g, part, cut, "t.gguf", &d);
        cr_expect_eq(rc, cut < 24 ? IK_EPARSE : IK_ECORRUPT, "cut at %zu: %d", cut, rc);
        cr_expect_eq(strncmp(ik_diag_message(&d), "t.gguf: error: offset ", 22), 0, "cut at %zu: %s",
                     cut, ik_diag_message(&d));
        ik_diag_free(&d);
        free(part);
    }
    ik_buf_free(&b);
}

Test(lm_gguf, not_gguf)
{
    struct ik_buf b = IK_BUF_INIT;
    put(&b, 0x46554746, 4); /* "FGUF" */
    put(&b, 3, 4), put(&b, 0, 8), put(&b, 0, 8);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_EPARSE);
    expect_msg(&d, "t.gguf: error: offset 0: not a GGUF v2/v3 file");
    b.len = 0;
    put(&b, IK_GGUF_MAGIC, 4), put(&b, 1, 4), put(&b, 0, 8), put(&b, 0, 8);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_EPARSE, "version 1");
    expect_msg(&d, "t.gguf: error: offset 0: not a GGUF v2/v3 file");
    b.len = 0;
    header(&b, 0, 1);
    put_key(&b, "k", 13); /* no such type */
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: offset 37: truncated or malformed metadata");
    ik_buf_free(&b);
}

/* A file with two tensors: alignment, data section, sizes, lookups. */
static void tensor_file(struct ik_buf *b, uint32_t alignment, uint64_t off2, uint64_t dim2)
{
    header(b, 2, 1);
    put_key(b, "general.alignment", IK_GGUF_U32);
    put(b, alignment, 4);
    put_str(b, "w"); /* f32 [3, 2] at 0 */
    put(b, 2, 4), put(b, 3, 8), put(b, 2, 8);
    put(b, IK_GGML_F32, 4), put(b, 0, 8);
    put_str(b, "q"); /* q8_0 [dim2] at off2 */
    put(b, 1, 4), put(b, dim2, 8);
    put(b, IK_GGML_Q8_0, 4), put(b, off2, 8);
    while (b->len % alignment)
        ik_buf_putc(b, 0);
    for (int i = 0; i < 6; i++)
        put_f32(b, (float)i);
    while (b->len % alignment)
        ik_buf_putc(b, 0);
    for (int i = 0; i < 34; i++)
        ik_buf_putc(b, (char)i);
}

Test(lm_gguf, tensors_and_data_section)
{
    struct ik_buf b = IK_BUF_INIT;
    tensor_file(&b, 64, 64, 32);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(g.alignment, 64);
    cr_expect_eq(g.data_off % 64, 0);
    cr_expect_eq(g.n_tensors, 2);
    const struct ik_gguf_tensor *w = ik_gguf_find_tensor(&g, "w");
    cr_assert_not_null(w);
    cr_expect_eq(w->n_dims, 2);
    cr_expect(w->dims[0] == 3 && w->dims[1] == 2 && w->dims[2] == 1 && w->dims[3] == 1);
    cr_expect_eq(w->nbytes, 24);
    cr_expect_eq((const unsigned char *)w->data - g.data, g.data_off);
    float x;
    memcpy(&x, (const char *)w->data + 5 * 4, 4);
    cr_expect_eq(x, 5.0f);
    const struct ik_gguf_tensor *q = ik_gguf_find_tensor(&g, "q");
    cr_assert_not_null(q);
    cr_expect_eq(q->nbytes, 34);
    cr_expect_eq(((const unsigned char *)q->data)[33], 33);
    cr_expect_null(ik_gguf_find_tensor(&g, "x"));
    ik_gguf_close(&g);
    ik_buf_free(&b);
}

Test(lm_gguf, tensor_damage)
{
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_buf b = IK_BUF_INIT;
    tensor_file(&b, 64, 96, 32);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: tensor 'q': data offset 96 is not a multiple of the alignment 64");
    b.len = 0;
    tensor_file(&b, 64, 128, 32);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: tensor 'q': 34 bytes at offset 128 of the data section (which "
                   "starts at 192) run past the file's 290 bytes");
    b.len = 0;
    tensor_file(&b, 64, 64, 33);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: tensor 'q': its dimensions do not suit ggml type 8 (too many "
                   "elements, or rows not in whole blocks)");
    b.len = 0;
    tensor_file(&b, 48, 0, 32);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: offset 53: general.alignment must be a u32 power of two");
    b.len = 0;
    header(&b, 1, 0);
    put_str(&b, "t");
    put(&b, 5, 4);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: offset 24: a tensor info with more than 4 dimensions");
    ik_buf_free(&b);
}

/* Arrays of arrays are 12 bytes a level: a 12 MB file nested a million deep
 * overflowed the stack of the recursive skip. Beyond 16 levels the metadata
 * is refused, at the offset reached. */
Test(lm_gguf, deep_array_nesting_refused)
{
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_buf b = IK_BUF_INIT;
    header(&b, 0, 1);
    put_key(&b, "deep", IK_GGUF_ARR);
    for (int i = 0; i < 1000000; i++)
        put(&b, IK_GGUF_ARR, 4), put(&b, 1, 8);
    cr_expect_eq(ik_gguf_open(&g, b.data, b.len, "t.gguf", &d), IK_ECORRUPT);
    expect_msg(&d, "t.gguf: error: offset 256: truncated or malformed metadata");
    ik_buf_free(&b);
}

/* ---- the tokenizer loader on top ---- */

/* Loads a tokenizer from GGUF bytes; returns its code, *msg its message. */
static int tok_load(const struct ik_buf *b, char **msg)
{
    char *dir = tc_tmpdir(), *p = ik_xasprintf("%s/v.gguf", dir);
    lmt_write(p, b->data, b->len);
    struct ik_tok *t = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_tok_load(&t, p, &d);
    /* Messages name the temporary path: keep what follows it. */
    const char *m = ik_diag_message(&d);
    *msg = ik_xstrdup(strncmp(m, p, strlen(p)) == 0 ? m + strlen(p) : m);
    ik_diag_free(&d);
    ik_tok_free(t);
    free(p);
    tc_rmtree(dir);
    return rc;
}

/* A three-piece llama vocabulary; tokens_type is the element type written
 * for tokenizer.ggml.tokens. */
static void vocab(struct ik_buf *b, const char *model, uint32_t tokens_type)
{
    header(b, 0, 4);
    put_key(b, "tokenizer.ggml.model", IK_GGUF_STR);
    put_str(b, model);
    put_key(b, "tokenizer.ggml.tokens", IK_GGUF_ARR);
    put(b, tokens_type, 4), put(b, 3, 8);
    put_str(b, "<unk>"), put_str(b, "<s>"), put_str(b, "</s>");
    put_key(b, "tokenizer.ggml.scores", IK_GGUF_ARR);
    put(b, IK_GGUF_F32, 4), put(b, 3, 8);
    put_f32(b, 0), put_f32(b, 0), put_f32(b, 0);
    put_key(b, "tokenizer.ggml.token_type", IK_GGUF_ARR);
    put(b, IK_GGUF_I32, 4), put(b, 3, 8);
    put(b, 2, 4), put(b, 3, 4), put(b, 3, 4);
}

Test(lm_gguf, tokenizer_loader_messages)
{
    struct ik_buf b = IK_BUF_INIT;
    char *msg;
    vocab(&b, "llama", IK_GGUF_STR);
    cr_expect_eq(tok_load(&b, &msg), 0, "%s", msg);
    free(msg);

    b.len = 0;
    vocab(&b, "bert", IK_GGUF_STR);
    cr_expect_eq(tok_load(&b, &msg), IK_EVALIDATE);
    cr_expect_str_eq(msg, ": error: tokenizer.ggml.model 'bert' is not supported (llama: "
                          "SentencePiece BPE, gpt2: byte-level BPE)");
    free(msg);

    b.len = 0;
    vocab(&b, "gpt2", IK_GGUF_STR); /* byte-level BPE needs merges */
    cr_expect_eq(tok_load(&b, &msg), IK_EPARSE);
    cr_expect_str_eq(msg, ": error: need tokenizer.ggml.tokens, merges, and token_type (when given) "
                          "of the tokens' length (got 3 tokens, no merges, 3 types)");
    free(msg);

    b.len = 0;
    vocab(&b, "llama", 99);
    cr_expect_eq(tok_load(&b, &msg), IK_EPARSE);
    cr_expect_str_eq(msg, ": error: offset 114: key 'tokenizer.ggml.tokens' has element type 99, "
                          "expected 8");
    free(msg);

    b.len = 0;
    vocab(&b, "llama", IK_GGUF_STR);
    size_t full = b.len;
    b.len = full - 2;
    cr_expect_eq(tok_load(&b, &msg), IK_ECORRUPT);
    cr_expect_str_eq(msg, ": error: offset 264: truncated or malformed metadata");
    free(msg);
    b.len = 10;
    cr_expect_eq(tok_load(&b, &msg), IK_EPARSE);
    cr_expect_str_eq(msg, ": error: offset 0: not a GGUF v2/v3 file");
    free(msg);
    b.len = 0;
    cr_expect_eq(tok_load(&b, &msg), -EIO);
    cr_expect_eq(strncmp(msg, "error: cannot read '", 20), 0, "%s", msg);
    free(msg);

    b.len = 0;
    header(&b, 0, 0);
    cr_expect_eq(tok_load(&b, &msg), IK_EVALIDATE, "no model key");
    free(msg);
    ik_buf_free(&b);

    struct ik_tok *t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_tok_load(&t, "/nonexistent/v.gguf", &d), -ENOENT);
    cr_expect_str_eq(ik_diag_message(&d),
                     "error: cannot open '/nonexistent/v.gguf': No such file or directory");
    ik_diag_free(&d);
}

/* The Llama-2 vocabulary from llama.cpp, when ../shared has it. */
Test(lm_gguf, llama_vocab_file)
{
    char *gg = lmt_shared("tokenizers/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    if (gg == NULL)
        cr_skip_test("../shared/data/tokenizers/ggml-vocab-llama-spm is absent");
    size_t len;
    char *data = lmt_read(gg, &len);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_open(&g, data, len, gg, &d), 0, "%s", ik_diag_message(&d));
    const char *s;
    size_t sl;
    cr_assert_eq(ik_gguf_get_str(&g, "tokenizer.ggml.model", &s, &sl, &d), 0);
    cr_expect(sl == 5 && memcmp(s, "llama", 5) == 0);
    struct ik_gguf_rd r;
    uint64_t n;
    cr_assert_eq(ik_gguf_get_arr(&g, "tokenizer.ggml.tokens", IK_GGUF_STR, &r, &n, &d), 0);
    cr_expect_eq(n, 32000);
    s = ik_gguf_rd_str(&r, &sl);
    cr_expect(sl == 5 && memcmp(s, "<unk>", 5) == 0);
    ik_gguf_close(&g);
    free(data);
    free(gg);
}

/* ---- gpt2 (byte-level BPE) vocabularies and their pre-tokenizers ---- */

/* A byte-level vocabulary (GPT-2's alphabet: "Ġ" is the space) and merges
 * that tell the pre-tokenizers apart on "a1234 abc"; pre NULL: no key. */
static char *bpe_vocab(const char *dir, const char *pre, const char *bad_merge)
{
    static const char *const tokens[] = {"a", "1", "2", "3", "4", "Ġ", "b", "c", "12", "123",
                                         "1234", "Ġabc", "Ġa", "Ġab", "<|end|>"};
    int32_t types[15];
    for (int i = 0; i < 15; i++)
        types[i] = i == 14 ? 3 : 1;
    const char *merges[] = {"1 2", "12 3", "123 4", "Ġ a", "Ġa b", bad_merge};
    struct ik_gguf_writer *w = ik_gguf_writer_new(32);
    ik_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre)
        ik_gguf_w_str(w, "tokenizer.ggml.pre", pre);
    ik_gguf_w_arr_str(w, "tokenizer.ggml.tokens", tokens, NULL, 15);
    ik_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, 15);
    ik_gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, NULL, bad_merge ? 6 : 5);
    ik_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 14);
    ik_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 14);
    char *p = ik_xasprintf("%s/v.gguf", dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gguf_writer_write(w, p, &d), 0, "%s", ik_diag_message(&d));
    ik_gguf_writer_free(w);
    return p;
}

static void expect_ids(const char *pre, const int *want, size_t n, int bos)
{
    char *dir = tc_tmpdir(), *p = bpe_vocab(dir, pre, NULL);
    struct ik_tok *t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, p, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(ik_tok_kind(t), IK_TOK_BYTE_BPE);
    int *ids;
    size_t got;
    const char *text = "a1234 abc<|end|>";
    cr_assert_eq(ik_tok_encode(t, text, strlen(text), 1, &ids, &got, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_expect_eq(got, n, "pre %s: %zu ids", pre ? pre : "(none)", got);
    for (size_t i = 0; i < n && i < got; i++)
        cr_expect_eq(ids[i], want[i], "pre %s: id %zu is %d, expected %d", pre ? pre : "(none)", i,
                     ids[i], want[i]);
    cr_expect_eq(ik_tok_bos(t), bos, "add_bos_token defaults as in llama.cpp");
    cr_expect_eq(ik_tok_eos(t), 14);
    struct ik_buf b = IK_BUF_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, got, 0, &b, &d), 0);
    cr_expect_str_eq(b.data, text);
    ik_buf_free(&b);
    free(ids);
    ik_tok_free(t);
    tc_rmtree(dir);
    free(p);
}

Test(lm_gguf, gpt2_pre_tokenizers)
{
    /* GPT-2: "a" "1234" " abc" */
    expect_ids("gpt-2", (int[]){0, 10, 13, 7, 14}, 5, -1);
    /* Llama 3: digits in threes, and " abc" whole (ignore_merges) */
    expect_ids("llama-bpe", (int[]){0, 9, 4, 11, 14}, 5, 14);
    /* Qwen2: single digits */
    expect_ids("qwen2", (int[]){0, 1, 2, 3, 4, 13, 7, 14}, 8, -1);
    /* llama.cpp's default: GPT-2's split, then digits, then threes */
    expect_ids("default", (int[]){0, 9, 4, 13, 7, 14}, 6, -1);
    expect_ids(NULL, (int[]){0, 9, 4, 13, 7, 14}, 6, -1);

    char *dir = tc_tmpdir(), *p = bpe_vocab(dir, "bogus", NULL);
    struct ik_tok *t = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_tok_load(&t, p, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("%s: error: tokenizer.ggml.pre 'bogus' is not supported (qwen2, "
                              "llama-bpe, gpt-2 or default)", p);
    cr_expect_str_eq(ik_diag_message(&d), want);
    free(want);
    ik_diag_free(&d);
    free(p);
    p = bpe_vocab(dir, "qwen2", "Ġab");
    cr_expect_eq(ik_tok_load(&t, p, &d), IK_EPARSE);
    cr_expect(strstr(ik_diag_message(&d), ": tokenizer.ggml.merges[5] \"Ġab\" is not \"left "
                     "right\"") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(p);
    tc_rmtree(dir);
}

/* A llama vocabulary without unknown_token_id takes its UNKNOWN piece as
 * unk; a gpt2 one without any drops a byte it has no piece for (as
 * tokenizers does) rather than emit an id outside the vocabulary. */
Test(lm_gguf, unknown_pieces)
{
    struct ik_buf b = IK_BUF_INIT;
    vocab(&b, "llama", IK_GGUF_STR);
    char *dir = tc_tmpdir(), *p = ik_xasprintf("%s/v.gguf", dir);
    lmt_write(p, b.data, b.len);
    struct ik_tok *t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, p, &d), 0, "%s", ik_diag_message(&d));
    int *ids;
    size_t n;
    cr_assert_eq(ik_tok_encode(t, "xy", 2, 0, &ids, &n, &d), 0);
    cr_expect(n >= 1 && ids[0] == 0, "unk is piece 0 (%zu ids)", n);
    for (size_t i = 0; i < n; i++)
        cr_expect(ids[i] >= 0 && ids[i] < 3);
    free(ids);
    ik_tok_free(t);
    free(p);
    p = bpe_vocab(dir, "gpt-2", NULL);
    cr_assert_eq(ik_tok_load(&t, p, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_tok_encode(t, "a z", 3, 0, &ids, &n, &d), 0);
    cr_expect(n == 2 && ids[0] == 0 && ids[1] == 5, "'a', 'Ġ', and no id for 'z' (%zu ids)", n);
    free(ids);
    ik_tok_free(t);
    free(p);
    ik_buf_free(&b);
    tc_rmtree(dir);
}
