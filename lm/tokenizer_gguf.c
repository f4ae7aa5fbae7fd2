/* lm/tokenizer_gguf.c - the vocabulary of a GGUF file (llama.cpp) as a
 * SentencePiece tokenizer: tokenizer.ggml.{model, tokens, scores, token_type,
 * bos/eos/unknown_token_id, add_space_prefix, remove_extra_whitespaces}.
 * Only tokenizer.ggml.model "llama" (SentencePiece BPE) is read; the token
 * types use SentencePiece's numbering. GGUF v2/v3 layout: "GGUF", u32 version,
 * u64 tensor count, u64 key count, then typed key/value pairs, little-endian. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/tokenizer_int.h"

enum { G_U8, G_I8, G_U16, G_I16, G_U32, G_I32, G_F32, G_BOOL, G_STR, G_ARR, G_U64, G_I64, G_F64 };

struct rd {
    const unsigned char *p;
    size_t off, size;
    int bad;
};

static uint64_t u(struct rd *r, size_t n)
{
    if (r->bad || r->size - r->off < n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += n;
    return v;
}

static const char *str(struct rd *r, size_t *len)
{
    *len = (size_t)u(r, 8);
    if (r->bad || r->size - r->off < *len) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += *len;
    return s;
}

static size_t scalar_size(uint32_t t)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t <= G_F64 ? sz[t] : 0;
}

/* Skips a value of type t (arrays of strings included). */
static void skip(struct rd *r, uint32_t t)
{
    size_t l;
    if (t == G_STR) {
        str(r, &l);
    } else if (t == G_ARR) {
        uint32_t et = (uint32_t)u(r, 4);
        uint64_t n = u(r, 8);
        for (uint64_t i = 0; i < n && !r->bad; i++)
            skip(r, et);
    } else if (scalar_size(t)) {
        u(r, scalar_size(t));
    } else {
        r->bad = 1;
    }
}

static int key_is(const char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

int ik__tok_gguf_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = size > 0 ? malloc((size_t)size) : NULL;
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(data);
        return ik_diag_set(d, -EIO, "cannot read '%s'", path);
    }
    fclose(f);
    struct rd r = {data, 0, (size_t)size, 0};
    struct ik_srcloc loc = {path, 0, 0};
    int rc = 0;
    uint64_t magic = u(&r, 4), version = u(&r, 4);
    u(&r, 8);
    uint64_t n_kv = u(&r, 8);
    if (r.bad || magic != 0x46554747u || version < 2 || version > 3) {
        free(data);
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset 0: not a GGUF v2/v3 file");
    }
    char model[32] = "";
    size_t tok_off = 0, score_off = 0, type_off = 0;
    uint64_t n_tok = 0, n_score = 0, n_type = 0;
    t->add_dummy_prefix = 1;
    t->remove_extra_ws = 0;
    t->escape_ws = 1;
    for (uint64_t i = 0; i < n_kv && !r.bad; i++) {
        size_t kl, vl;
        const char *k = str(&r, &kl);
        uint32_t ty = (uint32_t)u(&r, 4);
        if (r.bad)
            break;
        if (key_is(k, kl, "tokenizer.ggml.model") && ty == G_STR) {
            const char *v = str(&r, &vl);
            if (v && vl < sizeof model)
                memcpy(model, v, vl);
        } else if (ty == G_ARR && (key_is(k, kl, "tokenizer.ggml.tokens") || key_is(k, kl, "tokenizer.ggml.scores") ||
                                   key_is(k, kl, "tokenizer.ggml.token_type"))) {
            uint32_t et = (uint32_t)u(&r, 4);
            size_t at = r.off + 8;
            uint64_t n = u(&r, 8);
            int which = key_is(k, kl, "tokenizer.ggml.tokens") ? 0 : key_is(k, kl, "tokenizer.ggml.scores") ? 1 : 2;
            static const uint32_t want[] = {G_STR, G_F32, G_I32};
            if (et != want[which]) {
                rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: key '%.*s' has element type %u, "
                                "expected %u", at, (int)kl, k, et, want[which]);
                break;
            }
            *(which == 0 ? &tok_off : which == 1 ? &score_off : &type_off) = at;
            *(which == 0 ? &n_tok : which == 1 ? &n_score : &n_type) = n;
            for (uint64_t j = 0; j < n && !r.bad; j++)
                skip(&r, et);
        } else if ((ty == G_U32 || ty == G_I32) && key_is(k, kl, "tokenizer.ggml.bos_token_id")) {
            t->bos = (int)u(&r, 4);
        } else if ((ty == G_U32 || ty == G_I32) && key_is(k, kl, "tokenizer.ggml.eos_token_id")) {
            t->eos = (int)u(&r, 4);
        } else if ((ty == G_U32 || ty == G_I32) && key_is(k, kl, "tokenizer.ggml.unknown_token_id")) {
            t->unk = (int)u(&r, 4);
        } else if (ty == G_BOOL && key_is(k, kl, "tokenizer.ggml.add_space_prefix")) {
            t->add_dummy_prefix = (int)u(&r, 1);
        } else if (ty == G_BOOL && key_is(k, kl, "tokenizer.ggml.remove_extra_whitespaces")) {
            t->remove_extra_ws = (int)u(&r, 1);
        } else {
            skip(&r, ty);
        }
    }
    if (rc == 0 && r.bad)
        rc = ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset %zu: truncated or malformed metadata", r.off);
    if (rc == 0 && strcmp(model, "llama") != 0)
        rc = ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "tokenizer.ggml.model '%s' is not supported (only "
                        "llama, SentencePiece BPE)", model);
    if (rc == 0 && (n_tok == 0 || n_score != n_tok || n_type != n_tok))
        rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "need tokenizer.ggml.tokens, scores and token_type of "
                        "equal length (got %llu, %llu, %llu)", (unsigned long long)n_tok,
                        (unsigned long long)n_score, (unsigned long long)n_type);
    if (rc == 0) {
        for (int i = 0; i < 256; i++)
            t->byte_id[i] = -1;
        struct rd rt = {data, tok_off, (size_t)size, 0}, rs = {data, score_off, (size_t)size, 0},
                  ry = {data, type_off, (size_t)size, 0};
        size_t cap = 0;
        for (uint64_t j = 0; j < n_tok; j++) {
            size_t l;
            const char *s = str(&rt, &l);
            uint32_t sb = (uint32_t)u(&rs, 4);
            float score;
            memcpy(&score, &sb, 4);
            int type = (int)u(&ry, 4);
            if (type < SPM_NORMAL || type > SPM_BYTE)
                type = SPM_NORMAL;
            int id = ik__tok_add_piece(t, s, l, score, type, &cap);
            if (type == SPM_NORMAL || type == SPM_USER)
                ik_strmap_put(&t->ids, s, l, id);
            if (type == SPM_BYTE && l == 6 && memcmp(s, "<0x", 3) == 0)
                t->byte_id[strtol(s + 3, NULL, 16) & 255] = id;
        }
        t->kind = IK_TOK_SPM_BPE;
        t->byte_fallback = 1;
        rc = ik__tok_spm_finish(t, path, d);
    }
    free(data);
    return rc;
}
