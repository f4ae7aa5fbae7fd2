/* lm/tokenizer_spm.c - SentencePiece `.model` files: the protobuf
 * (ModelProto: pieces, trainer_spec, normalizer_spec) and the two encoders,
 * BPE (merge the adjacent pair whose concatenation is the highest-scoring
 * piece, leftmost on ties) and unigram (Viterbi over all pieces, unknown
 * characters at min_score - 10, defined even when every score sum is -inf or
 * NaN), both with byte fallback, as sentencepiece's
 * bpe_model.cc and unigram_model.cc do. Only the identity normalizer (plus
 * the whitespace options) is implemented; others are refused by name. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "lm/tokenizer_int.h"

#define UNK_PENALTY 10.0f /* sentencepiece unigram_model.cc kUnkPenalty */

struct pb {
    const unsigned char *p, *end;
    const unsigned char *base;
};

static int varint(struct pb *b, uint64_t *v)
{
    *v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (b->p >= b->end)
            return -1;
        unsigned char c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << s;
        if (c < 0x80)
            return 0;
    }
    return -1;
}

/* Next field: *field, *wire; for wire 2 *sub is the payload; for 0 *v the
 * varint; for 5 *v the 32 bits. */
static int next(struct pb *b, int *field, int *wire, struct pb *sub, uint64_t *v)
{
    uint64_t key;
    if (varint(b, &key) != 0)
        return -1;
    *field = (int)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0:
        return varint(b, v);
    case 1:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case 2:
        if (varint(b, v) != 0 || (uint64_t)(b->end - b->p) < *v)
            return -1;
        sub->p = b->p;
        sub->end = b->p + *v;
        sub->base = b->base;
        b->p += *v;
        return 0;
    case 5:
        if (b->end - b->p < 4)
            return -1;
        *v = (uint64_t)b->p[0] | (uint64_t)b->p[1] << 8 | (uint64_t)b->p[2] << 16 | (uint64_t)b->p[3] << 24;
        b->p += 4;
        return 0;
    default:
        return -1;
    }
}

static int bad(struct ik_diag *d, const char *path, const struct pb *b, const char *what)
{
    struct ik_srcloc loc = {path, 0, 0};
    return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: %s", (size_t)(b->p - b->base), what);
}

static int parse_piece(struct ik_tok *t, struct pb *b, size_t *cap, const char *path, struct ik_diag *d)
{
    const unsigned char *s = NULL;
    size_t slen = 0;
    float score = 0;
    int type = SPM_NORMAL, f, w;
    struct pb sub;
    uint64_t v;
    while (b->p < b->end) {
        if (next(b, &f, &w, &sub, &v) != 0)
            return bad(d, path, b, "truncated SentencePiece entry");
        if (f == 1 && w == 2) {
            s = sub.p;
            slen = (size_t)(sub.end - sub.p);
        } else if (f == 2 && w == 5) {
            uint32_t u = (uint32_t)v;
            memcpy(&score, &u, 4);
        } else if (f == 3 && w == 0) {
            type = (int)v;
        }
    }
    if (s == NULL || type < SPM_NORMAL || type > SPM_BYTE)
        return bad(d, path, b, "SentencePiece entry without a piece or with an unknown type");
    int id = ik__tok_add_piece(t, (const char *)s, slen, score, type, cap);
    if (type == SPM_NORMAL || type == SPM_USER)
        ik_strmap_put(&t->ids, (const char *)s, slen, id);
    int byte = type == SPM_BYTE ? ik__tok_byte_value((const char *)s, slen) : -1;
    if (byte >= 0)
        t->byte_id[byte] = id;
    return 0;
}

int ik__tok_spm_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    unsigned char *data;
    size_t size;
    int rc = ik__tok_read_file(path, &data, &size, IK_EPARSE, ": empty file", d);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    struct pb b = {data, data + size, data}, sub, sub2;
    int model_type = 1, field, wire;
    int unk = 0, bos = 1, eos = 2;
    char norm_name[64] = "";
    size_t cap = 0, charsmap = 0;
    uint64_t v;
    t->add_dummy_prefix = t->remove_extra_ws = t->escape_ws = 1;
    while (rc == 0 && b.p < b.end) {
        if (next(&b, &field, &wire, &sub, &v) != 0) {
            rc = bad(d, path, &b, "truncated protobuf field (is this a SentencePiece .model file?)");
            break;
        }
        if (field == 1 && wire == 2) {
            rc = parse_piece(t, &sub, &cap, path, d);
        } else if ((field == 2 || field == 3) && wire == 2) {
            while (rc == 0 && sub.p < sub.end) {
                int f2, w2;
                if (next(&sub, &f2, &w2, &sub2, &v) != 0) {
                    rc = bad(d, path, &sub, "truncated trainer or normalizer spec");
                    break;
                }
                if (field == 2 && w2 == 0) { /* TrainerSpec */
                    if (f2 == 3) model_type = (int)v;
                    else if (f2 == 35) t->byte_fallback = (int)v;
                    else if (f2 == 40) unk = (int)(int64_t)v;
                    else if (f2 == 41) bos = (int)(int64_t)v;
                    else if (f2 == 42) eos = (int)(int64_t)v;
                } else if (field == 3) { /* NormalizerSpec */
                    if (f2 == 1 && w2 == 2 && (size_t)(sub2.end - sub2.p) < sizeof norm_name)
                        memcpy(norm_name, sub2.p, (size_t)(sub2.end - sub2.p));
                    else if (f2 == 2 && w2 == 2) charsmap = (size_t)(sub2.end - sub2.p);
                    else if (f2 == 3 && w2 == 0) t->add_dummy_prefix = (int)v;
                    else if (f2 == 4 && w2 == 0) t->remove_extra_ws = (int)v;
                    else if (f2 == 5 && w2 == 0) t->escape_ws = (int)v;
                }
            }
        }
    }
    free(data);
    if (rc != 0)
        return rc;
    struct ik_srcloc loc = {path, 0, 0};
    if (t->n == 0)
        return ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "no pieces: not a SentencePiece model");
    if (model_type != 1 && model_type != 2)
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "SentencePiece model_type %d is not supported "
                          "(only 1 = unigram and 2 = BPE)", model_type);
    if (charsmap > 0 || (norm_name[0] && strcmp(norm_name, "identity") != 0))
        return ik_diag_at(d, IK_EVALIDATE, &loc, NULL, 0, "SentencePiece normalizer '%s' is not supported "
                          "(only identity)", norm_name[0] ? norm_name : "(precompiled)");
    t->kind = model_type == 2 ? IK_TOK_SPM_BPE : IK_TOK_SPM_UNIGRAM;
    t->unk = unk;
    t->bos = bos;
    t->eos = eos;
    return ik__tok_spm_finish(t, path, d);
}

int ik__tok_spm_finish(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    (void)path;
    (void)d;
    t->unk = t->unk >= 0 && t->unk < t->n ? t->unk : -1;
    t->bos = t->bos >= 0 && t->bos < t->n ? t->bos : -1;
    t->eos = t->eos >= 0 && t->eos < t->n ? t->eos : -1;
    t->min_score = INFINITY;
    for (int i = 0; i < t->n; i++) {
        if (t->type[i] == SPM_NORMAL && t->score[i] < t->min_score)
            t->min_score = t->score[i];
        if (t->piece_len[i] > t->max_piece_len)
            t->max_piece_len = t->piece_len[i];
        if (t->type[i] == SPM_CONTROL || t->type[i] == SPM_USER) {
            t->added = ik_xrealloc(t->added, (size_t)(t->n_added + 1) * sizeof *t->added);
            t->added[t->n_added++] = i;
        }
    }
    /* Longest first, so "<|a|>x" never loses to a prefix "<|a|>". */
    for (int i = 1; i < t->n_added; i++)
        for (int j = i; j > 0 && t->piece_len[t->added[j]] > t->piece_len[t->added[j - 1]]; j--) {
            int tmp = t->added[j];
            t->added[j] = t->added[j - 1];
            t->added[j - 1] = tmp;
        }
    return 0;
}

static void push(int **ids, size_t *n, size_t *cap, int id)
{
    *ids = ik_xgrow(*ids, cap, *n + 1, sizeof **ids);
    (*ids)[(*n)++] = id;
}

/* A symbol that is not a piece: its bytes as <0xXX> pieces, or <unk>. */
/* A vocabulary with neither (a damaged GGUF) drops the symbol rather than
 * emit an id outside it. */
static void emit_unknown(const struct ik_tok *t, const char *s, size_t len, int **ids, size_t *n, size_t *cap)
{
    if (t->byte_fallback) {
        for (size_t i = 0; i < len; i++) {
            int id = t->byte_id[(unsigned char)s[i]] >= 0 ? t->byte_id[(unsigned char)s[i]] : t->unk;
            if (id >= 0)
                push(ids, n, cap, id);
        }
    } else if (t->unk >= 0) {
        push(ids, n, cap, t->unk);
    }
}

/* Whitespace handling of the identity normalizer: optional trimming and
 * collapsing of spaces, the dummy prefix, and ' ' -> U+2581. Caller frees. */
static char *normalize(const struct ik_tok *t, const char *text, size_t len, int at_start, size_t *out_len)
{
    char *o = ik_xmalloc(3 * len + 4);
    size_t n = 0, i = 0, end = len;
    if (t->remove_extra_ws) {
        while (i < end && text[i] == ' ')
            i++;
        while (end > i && text[end - 1] == ' ')
            end--;
    }
    if (i < end && at_start && t->add_dummy_prefix) {
        memcpy(o, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (; i < end; i++) {
        if (text[i] == ' ') {
            if (t->remove_extra_ws && i > 0 && text[i - 1] == ' ')
                continue;
            if (t->escape_ws) {
                memcpy(o + n, "\xe2\x96\x81", 3);
                n += 3;
                continue;
            }
        }
        o[n++] = text[i];
    }
    *out_len = n;
    return o;
}

struct sym {
    size_t off, len;
    int prev, next;
};

static void encode_bpe(const struct ik_tok *t, const char *s, size_t len, int **ids, size_t *n, size_t *cap)
{
    size_t ns = 0;
    struct sym *y = ik_xmalloc((len + 1) * sizeof *y);
    for (size_t i = 0; i < len; ns++) {
        size_t cl = ik_utf8_seq_len(s + i, len - i);
        y[ns] = (struct sym){i, cl, (int)ns - 1, (int)ns + 1};
        i += cl;
    }
    if (ns > 0)
        y[ns - 1].next = -1;
    /* score[i]: score of merging symbol i with its next, or -inf. */
    float *score = ik_xmalloc((ns + 1) * sizeof *score);
    for (size_t i = 0; i < ns; i++) {
        score[i] = -INFINITY;
        if (y[i].next >= 0) {
            int id = ik_strmap_get(&t->ids, s + y[i].off, y[i].len + y[y[i].next].len);
            if (id >= 0 && t->type[id] == SPM_NORMAL)
                score[i] = t->score[id];
        }
    }
    for (;;) {
        int best = -1;
        for (int i = ns ? 0 : -1; i >= 0; i = y[i].next)
            if (score[i] > -INFINITY && (best < 0 || score[i] > score[best]))
                best = i;
        if (best < 0)
            break;
        int nx = y[best].next;
        y[best].len += y[nx].len;
        y[best].next = y[nx].next;
        if (y[nx].next >= 0)
            y[y[nx].next].prev = best;
        /* Only the pairs touching the merged symbol change. */
        int around[2] = {y[best].prev, best};
        for (int k = 0; k < 2; k++) {
            int i = around[k];
            if (i < 0)
                continue;
            score[i] = -INFINITY;
            if (y[i].next >= 0) {
                int id = ik_strmap_get(&t->ids, s + y[i].off, y[i].len + y[y[i].next].len);
                if (id >= 0 && t->type[id] == SPM_NORMAL)
                    score[i] = t->score[id];
            }
        }
    }
    for (int i = ns ? 0 : -1; i >= 0; i = y[i].next) {
        int id = ik_strmap_get(&t->ids, s + y[i].off, y[i].len);
        if (id >= 0)
            push(ids, n, cap, id);
        else
            emit_unknown(t, s + y[i].off, y[i].len, ids, n, cap);
    }
    free(score);
    free(y);
}

static void encode_unigram(const struct ik_tok *t, const char *s, size_t len, int **ids, size_t *n,
                           size_t *cap)
{
    /* best[j]: best score of a segmentation of s[0..j); from[j]: where its
     * last piece starts; piece[j]: its id, or -1 for an unknown character.
     * Scores add up in float, as sentencepiece's BestPathNode does, and a
     * later candidate wins only when strictly better: in double, paths that
     * tie in float (LLM-jp's ○○+○ vs ○+○○) would be split differently.
     * from[j] == NONE until some path reaches j, and the first candidate is
     * kept whatever its score (BestPathNode's starts_at == -1 test): with
     * scores near -FLT_MAX every sum is -inf (or NaN), no candidate is ever
     * "better", and the end must still be reached. Every character boundary
     * is (by a piece or the unknown fallback), so the walk back is defined. */
    const size_t NONE = SIZE_MAX;
    float *best = ik_xmalloc((len + 1) * sizeof *best);
    size_t *from = ik_xmalloc((len + 1) * sizeof *from);
    int *piece = ik_xmalloc((len + 1) * sizeof *piece);
    for (size_t j = 0; j <= len; j++) {
        best[j] = -INFINITY;
        from[j] = NONE;
        piece[j] = -1;
    }
    best[0] = 0;
    for (size_t i = 0; i < len;) {
        size_t cl = ik_utf8_seq_len(s + i, len - i);
        if (i == 0 || from[i] != NONE) {
            int have_char = 0;
            for (size_t e = i + cl; e <= len && e - i <= t->max_piece_len;) {
                int id = ik_strmap_get(&t->ids, s + i, e - i);
                if (id >= 0 && t->type[id] != SPM_UNUSED) {
                    float sc = best[i] + t->score[id];
                    if (e == i + cl)
                        have_char = 1;
                    if (from[e] == NONE || sc > best[e]) {
                        best[e] = sc;
                        from[e] = i;
                        piece[e] = id;
                    }
                }
                if (e == len)
                    break;
                e += ik_utf8_seq_len(s + e, len - e);
            }
            if (!have_char) {
                float sc = best[i] + (t->min_score - UNK_PENALTY);
                if (from[i + cl] == NONE || sc > best[i + cl]) {
                    best[i + cl] = sc;
                    from[i + cl] = i;
                    piece[i + cl] = -1;
                }
            }
        }
        i += cl;
    }
    /* Walk back from the end, then emit in order. */
    size_t k = 0;
    size_t *cut = ik_xmalloc((len + 1) * sizeof *cut);
    for (size_t j = len; j > 0; j = from[j])
        cut[k++] = j;
    int prev_unknown = 0;
    while (k-- > 0) {
        size_t j = cut[k];
        if (piece[j] >= 0)
            push(ids, n, cap, piece[j]);
        else if (t->byte_fallback || !prev_unknown) /* a run of unknowns is one <unk> */
            emit_unknown(t, s + from[j], j - from[j], ids, n, cap);
        prev_unknown = piece[j] < 0;
    }
    free(cut);
    free(best);
    free(from);
    free(piece);
}

int ik__tok_spm_encode(const struct ik_tok *t, const char *text, size_t len, int at_start, int **ids,
                       size_t *n, size_t *cap)
{
    size_t nl;
    char *s = normalize(t, text, len, at_start, &nl);
    if (t->kind == IK_TOK_SPM_BPE)
        encode_bpe(t, s, nl, ids, n, cap);
    else
        encode_unigram(t, s, nl, ids, n, cap);
    free(s);
    return 0;
}
