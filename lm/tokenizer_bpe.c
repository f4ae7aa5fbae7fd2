/* lm/tokenizer_bpe.c - Hugging Face tokenizer.json, byte-level BPE
 * (Qwen2/3, Llama 3, GPT-2 style). The pre-tokenizer regex runs through
 * PCRE2 (UTF + UCP); each piece is mapped to the GPT-2 byte alphabet and
 * merged by rank, lowest first and leftmost on ties, as tokenizers'
 * models/bpe/word.rs does. Accepted pipelines: normalizer none or NFC
 * (libunistring's u8_normalize, applied to each segment between added
 * tokens, as tokenizers normalizes only the non-added text); pre_tokenizer
 * ByteLevel(use_regex) or Sequence[Split(Regex, Isolated)...,
 * ByteLevel(use_regex=false)]. Anything else is refused by name. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "lm/tokenizer_int.h"

/* tokenizers' ByteLevel default regex (GPT-2). */
const char ik__tok_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100.. in byte order. */
static int byte_to_cp(int b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))
        return b;
    int n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || (i >= 0xae && i <= 0xff)))
            n++;
    return 256 + n;
}

void ik__tok_bpe_piece_bytes(const char *piece, struct ik_buf *out)
{
    static int inv[324]; /* code point -> byte + 1 */
    static int ready;
    if (!ready) { /* idempotent, so a race between threads is harmless */
        for (int b = 0; b < 256; b++)
            inv[byte_to_cp(b)] = b + 1;
        ready = 1;
    }
    const unsigned char *p = (const unsigned char *)piece;
    while (*p) {
        /* The byte map's code points are below U+0144: one or two bytes. */
        size_t l = ik_utf8_seq_len((const char *)p, 2);
        int cp = -1;
        if (p[0] < 0x80 || l == 2)
            cp = (int)ik_utf8_decode_lax((const char *)p, l, &l);
        if (cp >= 0 && cp < 324 && inv[cp])
            ik_buf_putc(out, (char)(inv[cp] - 1));
        else
            ik_buf_append(out, p, l); /* not byte-level text: keep as is */
        p += l;
    }
}

static int fail(struct ik_diag *d, int code, const char *path, const char *what, const char *name)
{
    struct ik_srcloc loc = {path, 0, 0};
    return ik_diag_at(d, code, &loc, NULL, 0, what, name);
}

static pcre2_code *compile(const char *pat, const char *path, struct ik_diag *d)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        struct ik_srcloc loc = {path, 0, 0};
        ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "pre-tokenizer regex: %s at character %zu", (char *)msg,
                   (size_t)eo);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; the interpreter is the fallback */
    return re;
}

/* Checks the pre-tokenizer and compiles its regex into t->regex[0]. */
static int load_pretok(struct ik_tok *t, json_t *pt, const char *path, struct ik_diag *d)
{
    const char *type = json_string_value(json_object_get(pt, "type"));
    const char *pattern = NULL;
    int byte_level = 0;
    if (type && strcmp(type, "ByteLevel") == 0) {
        if (!json_is_true(json_object_get(pt, "use_regex")))
            return fail(d, IK_EVALIDATE, path, "pre_tokenizer ByteLevel without use_regex is not supported%s", "");
        pattern = ik__tok_gpt2_pattern;
        byte_level = 1;
    } else if (type && strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(pt, "pretokenizers"), i, e) {
            const char *et = json_string_value(json_object_get(e, "type"));
            const char *rx = json_string_value(json_object_get(json_object_get(e, "pattern"), "Regex"));
            const char *beh = json_string_value(json_object_get(e, "behavior"));
            if (et && strcmp(et, "Split") == 0 && rx && !pattern && beh && strcmp(beh, "Isolated") == 0 &&
                !json_is_true(json_object_get(e, "invert"))) {
                pattern = rx;
            } else if (et && strcmp(et, "ByteLevel") == 0 && !json_is_true(json_object_get(e, "use_regex")) &&
                       !json_is_true(json_object_get(e, "add_prefix_space"))) {
                byte_level = 1;
            } else {
                return fail(d, IK_EVALIDATE, path, "pre_tokenizer step '%s' is not supported (expected one "
                            "Split with a Regex and behavior Isolated, then ByteLevel without regex)",
                            et ? et : "?");
            }
        }
    } else {
        return fail(d, IK_EVALIDATE, path, "pre_tokenizer '%s' is not supported (not a byte-level BPE)",
                    type ? type : "null");
    }
    if (!byte_level || !pattern)
        return fail(d, IK_EVALIDATE, path, "pre_tokenizer %s: need a regex split and ByteLevel", type);
    t->pattern = ik_xstrdup(pattern);
    return ik__tok_bpe_add_regex(t, pattern, path, d);
}

int ik__tok_bpe_add_regex(struct ik_tok *t, const char *pattern, const char *path, struct ik_diag *d)
{
    if (t->n_regex == IK_TOK_MAX_REGEX)
        return fail(d, IK_EVALIDATE, path, "more than %s pre-tokenizer regexes", "4");
    pcre2_code *re = compile(pattern, path, d);
    if (re == NULL)
        return IK_EVALIDATE;
    t->regex[t->n_regex++] = re;
    return 0;
}

void ik__tok_bpe_add_merge(struct ik_tok *t, int a, int b, int merged)
{
    int m;
    if (ik_pairmap_get(&t->merges, a, b, &m) >= 0)
        return;
    ik_pairmap_put(&t->merges, a, b, t->n_merges, merged);
    t->merge = ik_xgrow(t->merge, &t->merge_cap, (size_t)t->n_merges + 1, sizeof *t->merge);
    t->merge[t->n_merges][0] = a;
    t->merge[t->n_merges][1] = b;
    t->n_merges++;
}

static int load_vocab(struct ik_tok *t, json_t *model, json_t *added, const char *path, struct ik_diag *d)
{
    json_t *vocab = json_object_get(model, "vocab"), *e;
    if (!json_is_object(vocab))
        return fail(d, IK_EPARSE, path, "model.vocab: expected an object%s", "");
    const char *key;
    size_t i;
    int max = -1;
    json_object_foreach(vocab, key, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 24)
            return fail(d, IK_EPARSE, path, "model.vocab[\"%s\"]: expected an id", key);
        if (json_integer_value(e) > max)
            max = (int)json_integer_value(e);
    }
    json_array_foreach(added, i, e) {
        json_int_t id = json_integer_value(json_object_get(e, "id"));
        if (!json_is_string(json_object_get(e, "content")) || id < 0 || id > 1 << 24)
            return fail(d, IK_EPARSE, path, "added_tokens[%s]: expected {\"id\", \"content\"}", "");
        if (id > max)
            max = (int)id;
    }
    t->n = max + 1;
    t->piece = ik_xcalloc((size_t)t->n, sizeof *t->piece);
    t->piece_len = ik_xcalloc((size_t)t->n, sizeof *t->piece_len);
    t->type = ik_xmalloc((size_t)t->n);
    memset(t->type, SPM_UNUSED, (size_t)t->n);
    json_object_foreach(vocab, key, e) {
        int id = (int)json_integer_value(e);
        free(t->piece[id]);
        t->piece[id] = ik_xstrdup(key);
        t->piece_len[id] = strlen(key);
        t->type[id] = SPM_NORMAL;
        ik_strmap_put(&t->ids, key, strlen(key), id);
    }
    json_array_foreach(added, i, e) {
        int id = (int)json_integer_value(json_object_get(e, "id"));
        const char *c = json_string_value(json_object_get(e, "content"));
        free(t->piece[id]);
        t->piece[id] = ik_xstrdup(c);
        t->piece_len[id] = strlen(c);
        t->type[id] = json_is_true(json_object_get(e, "special")) ? SPM_CONTROL : SPM_USER;
        t->added = ik_xrealloc(t->added, (size_t)(t->n_added + 1) * sizeof *t->added);
        t->added[t->n_added++] = id;
    }
    for (int k = 0; k < t->n; k++)
        if (t->piece[k] == NULL)
            t->piece[k] = ik_xstrdup("");
    for (int a = 1; a < t->n_added; a++) /* longest content first */
        for (int b = a; b > 0 && t->piece_len[t->added[b]] > t->piece_len[t->added[b - 1]]; b--) {
            int tmp = t->added[b];
            t->added[b] = t->added[b - 1];
            t->added[b - 1] = tmp;
        }
    return 0;
}

static int load_merges(struct ik_tok *t, json_t *merges, const char *path, struct ik_diag *d)
{
    size_t i;
    json_t *e;
    struct ik_buf cat = IK_BUF_INIT;
    int rc = 0;
    json_array_foreach(merges, i, e) {
        const char *a, *b;
        size_t la, lb;
        const char *s = json_string_value(e);
        if (s) { /* legacy "a b" */
            const char *sp = strchr(s, ' ');
            if (sp == NULL) {
                rc = fail(d, IK_EPARSE, path, "model.merges: entry \"%s\" is not \"left right\"", s);
                break;
            }
            a = s, la = (size_t)(sp - s), b = sp + 1, lb = strlen(b);
        } else if (json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) { /* tokenizers >= 0.20: ["a", "b"] */
            a = json_string_value(json_array_get(e, 0)), la = strlen(a);
            b = json_string_value(json_array_get(e, 1)), lb = strlen(b);
        } else {
            rc = fail(d, IK_EPARSE, path, "model.merges: expected strings or pairs of strings%s", "");
            break;
        }
        ik_buf_reset(&cat);
        ik_buf_append(&cat, a, la);
        ik_buf_append(&cat, b, lb);
        int ia = ik_strmap_get(&t->ids, a, la), ib = ik_strmap_get(&t->ids, b, lb);
        int im = ik_strmap_get(&t->ids, cat.data, cat.len);
        if (ia < 0 || ib < 0 || im < 0)
            continue; /* tokenizers also skips merges whose parts are not in the vocab */
        ik__tok_bpe_add_merge(t, ia, ib, im);
    }
    ik_buf_free(&cat);
    return rc;
}

/* The token HF prepends to every text, from the post-processor, exactly as
 * `tokenizers` decides it: a TemplateProcessing whose "single" template starts
 * with a special token (Llama 3's <|begin_of_text|>), possibly inside a
 * Sequence of processors; anything else (Qwen2/3's ByteLevel) prepends none,
 * even when the vocabulary happens to hold a token spelled "<s>". */
static int template_bos(const struct ik_tok *t, json_t *post)
{
    const char *type = json_string_value(json_object_get(post, "type"));
    if (type == NULL)
        return -1;
    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(post, "processors"), i, p) {
            int id = template_bos(t, p);
            if (id >= 0)
                return id;
        }
        return -1;
    }
    if (strcmp(type, "TemplateProcessing") != 0)
        return -1;
    json_t *first = json_array_get(json_object_get(post, "single"), 0);
    const char *name = json_string_value(json_object_get(json_object_get(first, "SpecialToken"), "id"));
    return name ? ik_tok_find(t, name) : -1;
}

int ik__tok_bpe_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        struct ik_srcloc loc = {path, jerr.line, jerr.column};
        return ik_diag_at(d, jerr.line > 0 ? IK_EPARSE : IK_ENOTFOUND, &loc, NULL, 0, "%s", jerr.text);
    }
    t->kind = IK_TOK_BYTE_BPE;
    json_t *model = json_object_get(root, "model"), *norm = json_object_get(root, "normalizer");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    const char *ntype = json_string_value(json_object_get(norm, "type"));
    int rc = 0;
    if (mtype == NULL || strcmp(mtype, "BPE") != 0)
        rc = fail(d, IK_EVALIDATE, path, "model type '%s' is not supported (only BPE)", mtype ? mtype : "null");
    else if (json_is_true(json_object_get(model, "byte_fallback")))
        rc = fail(d, IK_EVALIDATE, path, "BPE with byte_fallback is not supported%s", "");
    else if (norm && !json_is_null(norm) && (ntype == NULL || strcmp(ntype, "NFC") != 0))
        rc = fail(d, IK_EVALIDATE, path, "normalizer '%s' is not supported (only none or NFC)",
                  ntype ? ntype : "?");
    if (rc == 0)
        rc = load_pretok(t, json_object_get(root, "pre_tokenizer"), path, d);
    t->nfc = ntype != NULL;
    if (rc == 0)
        rc = load_vocab(t, model, json_object_get(root, "added_tokens"), path, d);
    if (rc == 0)
        rc = load_merges(t, json_object_get(model, "merges"), path, d);
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    if (rc == 0) {
        t->bos = template_bos(t, json_object_get(root, "post_processor"));
        /* tokenizer.json does not name EOS; these are the usual spellings. */
        static const char *const eos[] = {"<|end_of_text|>", "<|endoftext|>", "</s>", NULL};
        for (int i = 0; eos[i] && t->eos < 0; i++)
            t->eos = ik_tok_find(t, eos[i]);
    }
    json_decref(root);
    return rc;
}

void ik__tok_bpe_free(struct ik_tok *t)
{
    for (int i = 0; i < t->n_regex; i++)
        pcre2_code_free((pcre2_code *)t->regex[i]);
    free(t->pattern);
    free(t->merge);
    ik_pairmap_free(&t->merges);
}

/* One pre-token: byte-level alphabet, then merges by rank. */
static void encode_word(const struct ik_tok *t, const char *w, size_t len, int **ids, size_t *n, size_t *cap,
                        struct ik_buf *tmp)
{
    ik_buf_reset(tmp);
    char u[4];
    for (size_t i = 0; i < len; i++)
        ik_buf_append(tmp, u, ik_utf8_encode(u, (unsigned)byte_to_cp((unsigned char)w[i])));
    if (t->ignore_merges) {
        int id = ik_strmap_get(&t->ids, tmp->data, tmp->len);
        if (id >= 0) {
            *ids = ik_xgrow(*ids, cap, *n + 1, sizeof **ids);
            (*ids)[(*n)++] = id;
            return;
        }
    }
    int *sym = ik_xmalloc(len * sizeof *sym);
    size_t ns = 0;
    for (size_t i = 0; i < tmp->len;) {
        size_t cl = ik_utf8_seq_len(tmp->data + i, tmp->len - i);
        sym[ns++] = ik_strmap_get(&t->ids, tmp->data + i, cl);
        i += cl;
    }
    for (;;) {
        int best = -1, best_rank = 0, best_id = 0, m;
        for (size_t i = 0; i + 1 < ns; i++) {
            int r = sym[i] >= 0 && sym[i + 1] >= 0 ? ik_pairmap_get(&t->merges, sym[i], sym[i + 1], &m) : -1;
            if (r >= 0 && (best < 0 || r < best_rank)) {
                best = (int)i, best_rank = r, best_id = m;
            }
        }
        if (best < 0)
            break;
        sym[best] = best_id;
        memmove(sym + best + 1, sym + best + 2, (ns - (size_t)best - 2) * sizeof *sym);
        ns--;
    }
    *ids = ik_xgrow(*ids, cap, *n + ns, sizeof **ids);
    for (size_t i = 0; i < ns; i++) /* a byte with no piece and no unk: dropped, as tokenizers does */
        if ((sym[i] >= 0 ? sym[i] : t->unk) >= 0)
            (*ids)[(*n)++] = sym[i] >= 0 ? sym[i] : t->unk;
    free(sym);
}

/* The pre-tokenizer's words of text[0..len) at regex `level`: the matches
 * and the text between them (Isolated) are split by the next regex, and
 * those of the last one encoded. The first match of level 0 also checks the
 * text is UTF-8. */
static int split(const struct ik_tok *t, int level, const char *text, size_t len,
                 pcre2_match_data *md, int **ids, size_t *n, size_t *cap, struct ik_buf *tmp,
                 struct ik_diag *d)
{
    if (level == t->n_regex) {
        encode_word(t, text, len, ids, n, cap, tmp);
        return 0;
    }
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        int r = pcre2_match(t->regex[level], (PCRE2_SPTR)text, len, off,
                            off || level ? PCRE2_NO_UTF_CHECK : 0, md, NULL);
        if (r == PCRE2_ERROR_NOMATCH)
            break;
        if (r < 0) {
            if (r <= PCRE2_ERROR_UTF8_ERR1 && r >= PCRE2_ERROR_UTF8_ERR21)
                return ik_diag_set(d, IK_EVALIDATE, "text is not valid UTF-8 at byte %zu",
                                   (size_t)pcre2_get_startchar(md));
            return ik_diag_set(d, IK_EVALIDATE, "pre-tokenizer regex failed (PCRE2 error %d)", r);
        }
        /* The next level reuses md: keep this match's bounds. */
        size_t s = pcre2_get_ovector_pointer(md)[0], e = pcre2_get_ovector_pointer(md)[1];
        if (s > off) /* Isolated: the text between matches is a piece too */
            rc = split(t, level + 1, text + off, s - off, md, ids, n, cap, tmp, d);
        if (rc == 0 && e > s)
            rc = split(t, level + 1, text + s, e - s, md, ids, n, cap, tmp, d);
        off = e > s ? e : s + ik_utf8_seq_len(text + s, len - s);
        if (rc == 0 && e == s && off <= len && off > s)
            rc = split(t, level + 1, text + s, off - s, md, ids, n, cap, tmp, d);
    }
    if (rc == 0 && off < len)
        rc = split(t, level + 1, text + off, len - off, md, ids, n, cap, tmp, d);
    return rc;
}

int ik__tok_bpe_encode(const struct ik_tok *t, const char *text, size_t len, int **ids, size_t *n,
                       size_t *cap, struct ik_diag *d)
{
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    struct ik_buf tmp = IK_BUF_INIT;
    int rc = 0;
    uint8_t *nfc = NULL;
    if (t->nfc && len > 0) {
        /* u8_normalize would turn invalid bytes into U+FFFD: report them first. */
        const uint8_t *bad = u8_check((const uint8_t *)text, len);
        if (bad) {
            rc = ik_diag_set(d, IK_EVALIDATE, "text is not valid UTF-8 at byte %zu",
                             (size_t)(bad - (const uint8_t *)text));
            goto out;
        }
        nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)text, len, NULL, &len);
        if (nfc == NULL) {
            rc = ik_diag_set(d, -errno, "NFC normalization of %zu bytes of text failed", len);
            goto out;
        }
        text = (const char *)nfc;
    }
    rc = split(t, 0, text, len, md, ids, n, cap, &tmp, d);
out:
    free(nfc);
    ik_buf_free(&tmp);
    pcre2_match_data_free(md);
    return rc;
}
