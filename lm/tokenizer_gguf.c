/* lm/tokenizer_gguf.c - the vocabulary of a GGUF file (llama.cpp) as a
 * SentencePiece tokenizer: tokenizer.ggml.{model, tokens, scores, token_type,
 * bos/eos/unknown_token_id, add_space_prefix, remove_extra_whitespaces}.
 * Only tokenizer.ggml.model "llama" (SentencePiece BPE) is read; the token
 * types use SentencePiece's numbering. The container is read with lm/gguf.h's
 * cursor, in file order, so the first bad key/value is the one reported. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/tokenizer_int.h"

/* True if the key k of kl bytes is "tokenizer.ggml.<name>". */
static bool tok_key(const char *k, size_t kl, const char *name)
{
    static const char prefix[] = "tokenizer.ggml.";
    size_t pl = sizeof prefix - 1;
    return kl > pl && memcmp(k, prefix, pl) == 0 && ik_gguf_key_is(k + pl, kl - pl, name);
}

int ik__tok_gguf_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    unsigned char *data;
    size_t size;
    int rc = ik__tok_read_file(path, &data, &size, -EIO, "", d);
    if (rc != 0)
        return rc;
    struct ik_gguf_rd r = {data, 0, size, 0};
    struct ik_srcloc loc = {path, 0, 0};
    struct ik_gguf_header h;
    rc = ik_gguf_read_header(&r, path, &h, d);
    if (rc != 0) {
        free(data);
        return rc;
    }
    uint64_t n_kv = h.n_kv;
    char model[32] = "";
    size_t tok_off = 0, score_off = 0, type_off = 0;
    uint64_t n_tok = 0, n_score = 0, n_type = 0;
    t->add_dummy_prefix = 1;
    t->remove_extra_ws = 0;
    t->escape_ws = 1;
    for (uint64_t i = 0; i < n_kv && !r.bad; i++) {
        size_t kl, vl;
        const char *k = ik_gguf_rd_str(&r, &kl);
        uint32_t ty = (uint32_t)ik_gguf_rd_uint(&r, 4);
        if (r.bad)
            break;
        if (tok_key(k, kl, "model") && ty == IK_GGUF_STR) {
            const char *v = ik_gguf_rd_str(&r, &vl);
            if (v && vl < sizeof model)
                memcpy(model, v, vl);
        } else if (ty == IK_GGUF_ARR &&
                   (tok_key(k, kl, "tokens") || tok_key(k, kl, "scores") || tok_key(k, kl, "token_type"))) {
            uint32_t et = (uint32_t)ik_gguf_rd_uint(&r, 4);
            size_t at = r.off + 8;
            uint64_t n = ik_gguf_rd_uint(&r, 8);
            int which = tok_key(k, kl, "tokens") ? 0 : tok_key(k, kl, "scores") ? 1 : 2;
            static const uint32_t want[] = {IK_GGUF_STR, IK_GGUF_F32, IK_GGUF_I32};
            if (et != want[which]) {
                rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: key '%.*s' has element type %u, "
                                "expected %u", at, (int)kl, k, et, want[which]);
                break;
            }
            *(which == 0 ? &tok_off : which == 1 ? &score_off : &type_off) = at;
            *(which == 0 ? &n_tok : which == 1 ? &n_score : &n_type) = n;
            for (uint64_t j = 0; j < n && !r.bad; j++)
                ik_gguf_rd_skip(&r, et);
        } else if ((ty == IK_GGUF_U32 || ty == IK_GGUF_I32) && tok_key(k, kl, "bos_token_id")) {
            t->bos = (int)ik_gguf_rd_uint(&r, 4);
        } else if ((ty == IK_GGUF_U32 || ty == IK_GGUF_I32) && tok_key(k, kl, "eos_token_id")) {
            t->eos = (int)ik_gguf_rd_uint(&r, 4);
        } else if ((ty == IK_GGUF_U32 || ty == IK_GGUF_I32) && tok_key(k, kl, "unknown_token_id")) {
            t->unk = (int)ik_gguf_rd_uint(&r, 4);
        } else if (ty == IK_GGUF_BOOL && tok_key(k, kl, "add_space_prefix")) {
            t->add_dummy_prefix = (int)ik_gguf_rd_uint(&r, 1);
        } else if (ty == IK_GGUF_BOOL && tok_key(k, kl, "remove_extra_whitespaces")) {
            t->remove_extra_ws = (int)ik_gguf_rd_uint(&r, 1);
        } else {
            ik_gguf_rd_skip(&r, ty);
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
        struct ik_gguf_rd rt = {data, tok_off, size, 0}, rs = {data, score_off, size, 0},
                          ry = {data, type_off, size, 0};
        size_t cap = 0;
        for (uint64_t j = 0; j < n_tok; j++) {
            size_t l;
            const char *s = ik_gguf_rd_str(&rt, &l);
            uint32_t sb = (uint32_t)ik_gguf_rd_uint(&rs, 4);
            float score;
            memcpy(&score, &sb, 4);
            int type = (int)ik_gguf_rd_uint(&ry, 4);
            if (type < SPM_NORMAL || type > SPM_BYTE)
                type = SPM_NORMAL;
            int id = ik__tok_add_piece(t, s, l, score, type, &cap);
            if (type == SPM_NORMAL || type == SPM_USER)
                ik_strmap_put(&t->ids, s, l, id);
            int byte = type == SPM_BYTE ? ik__tok_byte_value(s, l) : -1;
            if (byte >= 0)
                t->byte_id[byte] = id;
        }
        t->kind = IK_TOK_SPM_BPE;
        t->byte_fallback = 1;
        rc = ik__tok_spm_finish(t, path, d);
    }
    free(data);
    return rc;
}
