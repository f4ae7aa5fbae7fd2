/* lm/tokenizer_gguf.c - the vocabulary of a GGUF file (llama.cpp's
 * tokenizer.ggml.* keys) as one of our tokenizers:
 *   model "llama": SentencePiece BPE from tokens, scores and token_type,
 *     with add_space_prefix and remove_extra_whitespaces;
 *   model "gpt2": byte-level BPE from tokens, token_type (optional) and
 *     merges, split by the pre-tokenizer tokenizer.ggml.pre names: "qwen2"
 *     (Qwen2/3's regex, with the NFC normalizer their tokenizer.json has and
 *     llama.cpp omits), "llama-bpe" / "llama3" / "llama-v3" (Llama 3's,
 *     ignore_merges), "gpt-2" (GPT-2's), "default" (llama.cpp's four
 *     regexes, also when the key is missing, as llama.cpp does); any other
 *     name is refused.
 * bos/eos/unknown_token_id name the special pieces; add_bos_token (default
 * true for llama and llama-bpe, false otherwise, as in llama.cpp) says
 * whether BOS is prepended (ik_tok_bos is -1 when not). Token types use
 * SentencePiece's numbering, which GGUF shares.
 * The file is mapped, not read: a model GGUF's metadata sits at its start,
 * so only those pages are touched. The keys are read with lm/gguf.h's
 * cursor, in file order, so the first bad key/value is the one reported. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/gguf.h"
#include "lm/tokenizer_int.h"

/* The regexes of tokenizer.json as Qwen2/3 and Llama 3 ship them (PCRE2
 * takes the (?i:...) group llama.cpp has to spell out). */
static const char qwen2_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT, applied one after the other. */
static const char *const default_patterns[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

const char *ik_tok_gguf_pre(const struct ik_tok *t)
{
    if (t->kind != IK_TOK_BYTE_BPE || t->n_regex != 1 || t->pattern == NULL)
        return NULL;
    if (strcmp(t->pattern, qwen2_pattern) == 0 && t->nfc && !t->ignore_merges)
        return "qwen2";
    if (strcmp(t->pattern, llama3_pattern) == 0 && !t->nfc && t->ignore_merges)
        return "llama-bpe";
    if (strcmp(t->pattern, ik__tok_gpt2_pattern) == 0 && !t->nfc && !t->ignore_merges)
        return "gpt-2";
    return NULL;
}

/* True if the key k of kl bytes is "tokenizer.ggml.<name>". */
static bool tok_key(const char *k, size_t kl, const char *name)
{
    static const char prefix[] = "tokenizer.ggml.";
    size_t pl = sizeof prefix - 1;
    return kl > pl && memcmp(k, prefix, pl) == 0 && ik_gguf_key_is(k + pl, kl - pl, name);
}

/* What the scan of the key/values found. */
enum { A_TOKENS, A_SCORES, A_TYPES, A_MERGES, N_ARRAYS };
static const char *const array_key[N_ARRAYS] = {"tokens", "scores", "token_type", "merges"};
static const uint32_t array_type[N_ARRAYS] = {IK_GGUF_STR, IK_GGUF_F32, IK_GGUF_I32, IK_GGUF_STR};

struct vocab {
    char model[32], pre[32];
    bool has_pre;
    size_t off[N_ARRAYS]; /* of each array's first element */
    uint64_t n[N_ARRAYS];
    bool has[N_ARRAYS];
    int add_bos;          /* -1 when absent */
};

/* One key/value at r (its key and type already read): a tokenizer.ggml key
 * is recorded in v or t, any other skipped. */
static int scan_value(struct ik_tok *t, struct vocab *v, struct ik_gguf_rd *r, const char *k,
                      size_t kl, uint32_t ty, const struct ik_srcloc *loc, struct ik_diag *d)
{
    size_t vl;
    if ((tok_key(k, kl, "model") || tok_key(k, kl, "pre")) && ty == IK_GGUF_STR) {
        char *dst = tok_key(k, kl, "model") ? v->model : v->pre;
        const char *s = ik_gguf_rd_str(r, &vl);
        if (s && vl < sizeof v->model)
            memcpy(dst, s, vl);
        else if (s) /* longer than any name we know: kept as "?" to be refused */
            memcpy(dst, "?", 2);
        v->has_pre |= tok_key(k, kl, "pre");
        return 0;
    }
    for (int a = 0; a < N_ARRAYS && ty == IK_GGUF_ARR; a++) {
        if (!tok_key(k, kl, array_key[a]))
            continue;
        uint32_t et = (uint32_t)ik_gguf_rd_uint(r, 4);
        size_t at = r->off + 8;
        uint64_t n = ik_gguf_rd_uint(r, 8);
        if (!r->bad && et != array_type[a])
            return ik_diag_at(d, IK_EPARSE, loc, NULL, 0, "offset %zu: key '%.*s' has element "
                              "type %u, expected %u", at, (int)kl, k, et, array_type[a]);
        v->off[a] = at;
        v->n[a] = n;
        v->has[a] = true;
        for (uint64_t j = 0; j < n && !r->bad; j++)
            ik_gguf_rd_skip(r, et);
        return 0;
    }
    bool id = ty == IK_GGUF_U32 || ty == IK_GGUF_I32;
    if (id && tok_key(k, kl, "bos_token_id"))
        t->bos = (int)ik_gguf_rd_uint(r, 4);
    else if (id && tok_key(k, kl, "eos_token_id"))
        t->eos = (int)ik_gguf_rd_uint(r, 4);
    else if (id && tok_key(k, kl, "unknown_token_id"))
        t->unk = (int)ik_gguf_rd_uint(r, 4);
    else if (ty == IK_GGUF_BOOL && tok_key(k, kl, "add_space_prefix"))
        t->add_dummy_prefix = (int)ik_gguf_rd_uint(r, 1);
    else if (ty == IK_GGUF_BOOL && tok_key(k, kl, "remove_extra_whitespaces"))
        t->remove_extra_ws = (int)ik_gguf_rd_uint(r, 1);
    else if (ty == IK_GGUF_BOOL && tok_key(k, kl, "add_bos_token"))
        v->add_bos = (int)ik_gguf_rd_uint(r, 1) != 0;
    else
        ik_gguf_rd_skip(r, ty);
    return 0;
}

static int scan(struct ik_tok *t, struct vocab *v, const unsigned char *data, size_t size,
                const char *path, struct ik_diag *d)
{
    struct ik_gguf_rd r = {data, 0, size, 0};
    struct ik_srcloc loc = {path, 0, 0};
    struct ik_gguf_header h;
    int rc = ik_gguf_read_header(&r, path, &h, d);
    for (uint64_t i = 0; rc == 0 && i < h.n_kv && !r.bad; i++) {
        size_t kl;
        const char *k = ik_gguf_rd_str(&r, &kl);
        uint32_t ty = (uint32_t)ik_gguf_rd_uint(&r, 4);
        if (!r.bad)
            rc = scan_value(t, v, &r, k, kl, ty, &loc, d);
    }
    if (rc == 0 && r.bad)
        rc = ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset %zu: truncated or malformed metadata",
                        r.off);
    return rc;
}

/* ---- model "llama" ---- */

static int load_spm(struct ik_tok *t, const struct vocab *v, const unsigned char *data,
                    size_t size, const char *path, struct ik_diag *d)
{
    struct ik_srcloc loc = {path, 0, 0};
    if (v->n[A_TOKENS] == 0 || v->n[A_SCORES] != v->n[A_TOKENS] || v->n[A_TYPES] != v->n[A_TOKENS])
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "need tokenizer.ggml.tokens, scores and "
                          "token_type of equal length (got %llu, %llu, %llu)",
                          (unsigned long long)v->n[A_TOKENS], (unsigned long long)v->n[A_SCORES],
                          (unsigned long long)v->n[A_TYPES]);
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    struct ik_gguf_rd rt = {data, v->off[A_TOKENS], size, 0}, rs = {data, v->off[A_SCORES], size, 0},
                      ry = {data, v->off[A_TYPES], size, 0};
    size_t cap = 0;
    for (uint64_t j = 0; j < v->n[A_TOKENS]; j++) {
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
    if (v->add_bos == 0)
        t->bos = -1;
    for (int i = 0; i < t->n && t->unk < 0; i++) /* no unknown_token_id: the UNKNOWN piece */
        if (t->type[i] == SPM_UNKNOWN)
            t->unk = i;
    return ik__tok_spm_finish(t, path, d);
}

/* ---- model "gpt2" ---- */

/* Compiles the regexes of the pre-tokenizer v->pre names. */
static int load_pretok(struct ik_tok *t, const struct vocab *v, int *add_bos, const char *path,
                       struct ik_diag *d)
{
    const char *pre = v->has_pre ? v->pre : "default";
    *add_bos = 0;
    if (strcmp(pre, "qwen2") == 0) {
        t->nfc = 1;
        t->pattern = ik_xstrdup(qwen2_pattern);
    } else if (strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama3") == 0 ||
               strcmp(pre, "llama-v3") == 0) {
        t->ignore_merges = 1;
        *add_bos = 1;
        t->pattern = ik_xstrdup(llama3_pattern);
    } else if (strcmp(pre, "gpt-2") == 0) {
        t->pattern = ik_xstrdup(ik__tok_gpt2_pattern);
    } else if (strcmp(pre, "default") == 0) {
        for (int i = 0; i < 4; i++) {
            int rc = ik__tok_bpe_add_regex(t, default_patterns[i], path, d);
            if (rc != 0)
                return rc;
        }
        return 0;
    } else {
        struct ik_srcloc loc = {path, 0, 0};
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "tokenizer.ggml.pre '%s' is not "
                          "supported (qwen2, llama-bpe, gpt-2 or default)", pre);
    }
    return ik__tok_bpe_add_regex(t, t->pattern, path, d);
}

/* Sorts the added (control and user) pieces longest first, as matching needs. */
static void sort_added(struct ik_tok *t)
{
    for (int a = 1; a < t->n_added; a++)
        for (int b = a; b > 0 && t->piece_len[t->added[b]] > t->piece_len[t->added[b - 1]]; b--) {
            int tmp = t->added[b];
            t->added[b] = t->added[b - 1];
            t->added[b - 1] = tmp;
        }
}

static int load_merges(struct ik_tok *t, const struct vocab *v, const unsigned char *data,
                       size_t size, const char *path, struct ik_diag *d)
{
    struct ik_gguf_rd rm = {data, v->off[A_MERGES], size, 0};
    char *cat = NULL;
    size_t cat_cap = 0;
    for (uint64_t j = 0; j < v->n[A_MERGES]; j++) {
        size_t at = rm.off, l;
        const char *s = ik_gguf_rd_str(&rm, &l);
        /* Split at the first space after the first byte, as llama.cpp does. */
        const char *sp = l > 1 ? memchr(s + 1, ' ', l - 1) : NULL;
        if (sp == NULL) {
            struct ik_srcloc loc = {path, 0, 0};
            free(cat);
            return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: tokenizer.ggml.merges[%llu] "
                              "\"%.*s\" is not \"left right\"", at, (unsigned long long)j,
                              (int)(l > 64 ? 64 : l), s);
        }
        size_t la = (size_t)(sp - s), lb = l - la - 1;
        cat = ik_xgrow(cat, &cat_cap, la + lb + 1, 1);
        memcpy(cat, s, la);
        memcpy(cat + la, sp + 1, lb);
        int ia = ik_strmap_get(&t->ids, s, la), ib = ik_strmap_get(&t->ids, sp + 1, lb);
        int im = ik_strmap_get(&t->ids, cat, la + lb);
        if (ia >= 0 && ib >= 0 && im >= 0) /* others can never apply, as in tokenizers */
            ik__tok_bpe_add_merge(t, ia, ib, im);
    }
    free(cat);
    return 0;
}

static int load_bpe(struct ik_tok *t, const struct vocab *v, const unsigned char *data,
                    size_t size, const char *path, struct ik_diag *d)
{
    struct ik_srcloc loc = {path, 0, 0};
    if (v->n[A_TOKENS] == 0 || !v->has[A_MERGES] ||
        (v->has[A_TYPES] && v->n[A_TYPES] != v->n[A_TOKENS]))
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "need tokenizer.ggml.tokens, merges, and "
                          "token_type (when given) of the tokens' length (got %llu tokens, %s "
                          "merges, %llu types)", (unsigned long long)v->n[A_TOKENS],
                          v->has[A_MERGES] ? "some" : "no", (unsigned long long)v->n[A_TYPES]);
    t->kind = IK_TOK_BYTE_BPE;
    int add_bos, rc = load_pretok(t, v, &add_bos, path, d);
    if (rc != 0)
        return rc;
    struct ik_gguf_rd rt = {data, v->off[A_TOKENS], size, 0}, ry = {data, v->off[A_TYPES], size, 0};
    size_t cap = 0;
    for (uint64_t j = 0; j < v->n[A_TOKENS]; j++) {
        size_t l;
        const char *s = ik_gguf_rd_str(&rt, &l);
        int type = v->has[A_TYPES] ? (int)ik_gguf_rd_uint(&ry, 4) : SPM_NORMAL;
        if (type != SPM_CONTROL && type != SPM_USER && type != SPM_UNUSED)
            type = SPM_NORMAL; /* byte-level BPE has no unknown or byte pieces */
        int id = ik__tok_add_piece(t, s, l, 0.0f, type, &cap);
        if (type == SPM_NORMAL) {
            ik_strmap_put(&t->ids, s, l, id);
        } else if (type != SPM_UNUSED) {
            t->added = ik_xrealloc(t->added, (size_t)(t->n_added + 1) * sizeof *t->added);
            t->added[t->n_added++] = id;
        }
    }
    sort_added(t);
    if ((rc = load_merges(t, v, data, size, path, d)) != 0)
        return rc;
    if (!(v->add_bos < 0 ? add_bos : v->add_bos))
        t->bos = -1;
    t->bos = t->bos >= 0 && t->bos < t->n ? t->bos : -1;
    t->eos = t->eos >= 0 && t->eos < t->n ? t->eos : -1;
    t->unk = t->unk >= 0 && t->unk < t->n ? t->unk : -1;
    return 0;
}

/* Maps path read-only, with the messages of ik__tok_read_file. */
static int map_file(const char *path, unsigned char **data, size_t *size, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open '%s': %s", path, strerror(e));
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        rc = ik_diag_set(d, -EIO, "cannot read '%s'", path);
    void *p = rc ? MAP_FAILED : mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (rc == 0 && p == MAP_FAILED) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot map '%s': %s", path, strerror(e));
    }
    close(fd);
    if (rc == 0) {
        *data = p;
        *size = (size_t)sb.st_size;
    }
    return rc;
}

int ik__tok_gguf_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    unsigned char *data = NULL;
    size_t size = 0;
    int rc = map_file(path, &data, &size, d);
    if (rc != 0)
        return rc;
    struct vocab v;
    memset(&v, 0, sizeof v);
    v.add_bos = -1;
    t->add_dummy_prefix = 1;
    t->remove_extra_ws = 0;
    t->escape_ws = 1;
    rc = scan(t, &v, data, size, path, d);
    struct ik_srcloc loc = {path, 0, 0};
    if (rc == 0 && strcmp(v.model, "llama") == 0)
        rc = load_spm(t, &v, data, size, path, d);
    else if (rc == 0 && strcmp(v.model, "gpt2") == 0)
        rc = load_bpe(t, &v, data, size, path, d);
    else if (rc == 0)
        rc = ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "tokenizer.ggml.model '%s' is not supported "
                        "(llama: SentencePiece BPE, gpt2: byte-level BPE)", v.model);
    munmap(data, size);
    return rc;
}
