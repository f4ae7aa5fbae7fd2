/* nodes/eval/metrics.c - the reference's normalisation, EM, character F1
 * (set and multiset), refusal keywords and their aggregates (metrics.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "nodes/eval/metrics.h"

const char *const ik_eval_refusal_keywords[IK_EVAL_N_REFUSAL_DEFAULT] = {
    "回答できません", "情報が含まれていません", "情報は見つかりません",
    "該当する記述は見つかりません", "回答するための十分な情報",
};

const struct ik_eval_refusal ik_eval_refusal_default = {ik_eval_refusal_keywords,
                                                        IK_EVAL_N_REFUSAL_DEFAULT};

/* Invalid bytes read as code points past U+10FFFF, so each equals only the
 * same byte and none is whitespace or punctuation. */
#define INVALID_BASE 0x110000u

/* The character at s[0..n) (n > 0): its code point, and its width in *w. */
static uint32_t next_char(const char *s, size_t n, size_t *w)
{
    size_t len = ik_utf8_valid_seq(s, n);
    if (len == 0) {
        *w = 1;
        return INVALID_BASE + (unsigned char)s[0];
    }
    size_t lw;
    uint32_t cp = ik_utf8_decode_lax(s, len, &lw);
    *w = len;
    return cp;
}

/* Python's str.isspace() (the same set as re's \s on str). */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* 。．.、，, */
static bool is_punct(uint32_t c)
{
    return c == 0x3002 || c == 0xFF0E || c == 0x2E || c == 0x3001 || c == 0xFF0C || c == 0x2C;
}

/* Bytes of the punctuation character that ends s[0..n), or 0. A match is a
 * whole character: '.' and ',' are ASCII, and the 3-byte forms start with a
 * lead byte, which no earlier sequence can have consumed. */
static size_t trailing_punct(const char *s, size_t n)
{
    static const char *const wide[] = {"。", "．", "、", "，"};
    if (n >= 1 && (s[n - 1] == '.' || s[n - 1] == ','))
        return 1;
    for (size_t i = 0; n >= 3 && i < sizeof wide / sizeof wide[0]; i++)
        if (memcmp(s + n - 3, wide[i], 3) == 0)
            return 3;
    return 0;
}

/* The cuts are found on the source first (out is append-only): lead = the
 * first non-whitespace character, end = just past the last one, then end
 * moves back over trailing punctuation. s[lead..end) is copied with each
 * whitespace run as one space; a run that ends the range (punctuation was
 * cut after it) stays as one space, as Python's rstrip leaves it. */
void ik_eval_normalize(struct ik_buf *out, const char *s, size_t n)
{
    size_t lead = n, end = 0, i = 0, w, cut;
    while (i < n) {
        if (!is_space(next_char(s + i, n - i, &w))) {
            lead = lead < i ? lead : i;
            end = i + w;
        }
        i += w;
    }
    while (end > lead && (cut = trailing_punct(s, end)) > 0)
        end -= cut;
    bool pending_space = false;
    for (i = lead; i < end; i += w) {
        if (is_space(next_char(s + i, end - i, &w))) {
            pending_space = true;
            continue;
        }
        if (pending_space)
            ik_buf_putc(out, ' ');
        pending_space = false;
        ik_buf_append(out, s + i, w);
    }
    if (pending_space)
        ik_buf_putc(out, ' ');
}

double ik_eval_em(const char *pred, size_t pred_len, const char *gold, size_t gold_len)
{
    struct ik_buf p = {0}, g = {0};
    ik_eval_normalize(&p, pred, pred_len);
    ik_eval_normalize(&g, gold, gold_len);
    bool eq = p.len == g.len && (p.len == 0 || memcmp(p.data, g.data, p.len) == 0);
    ik_buf_free(&p);
    ik_buf_free(&g);
    return eq ? 1.0 : 0.0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The tokens of s, sorted, into a new array; *count gets their number.
 * Tokenising the raw text equals tokenising its normalised form: the
 * normalisation only removes or merges whitespace and removes punctuation,
 * and both are deleted from the tokens anyway. With `unique`, repeated
 * tokens are kept once (the reference's set()). */
static uint32_t *tokens(const char *s, size_t n, bool unique, size_t *count)
{
    uint32_t *t = ik_xmalloc((n ? n : 1) * sizeof *t);
    size_t k = 0, i = 0, w;
    while (i < n) {
        uint32_t c = next_char(s + i, n - i, &w);
        if (!is_space(c) && !is_punct(c))
            t[k++] = c;
        i += w;
    }
    qsort(t, k, sizeof *t, cmp_u32);
    if (unique && k > 1) {
        size_t u = 1;
        for (size_t j = 1; j < k; j++)
            if (t[j] != t[u - 1])
                t[u++] = t[j];
        k = u;
    }
    *count = k;
    return t;
}

/* |a ∩ b| of two sorted arrays, counting a repeated value min(count) times. */
static size_t common(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t i = 0, j = 0, c = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (b[j] < a[i]) {
            j++;
        } else {
            c++;
            i++;
            j++;
        }
    }
    return c;
}

static double f1_of(const char *pred, size_t pred_len, const char *gold, size_t gold_len,
                    bool unique)
{
    size_t np, ng;
    uint32_t *p = tokens(pred, pred_len, unique, &np);
    uint32_t *g = tokens(gold, gold_len, unique, &ng);
    size_t c = common(p, np, g, ng);
    free(p);
    free(g);
    if (ng == 0)
        return np == 0 ? 1.0 : 0.0;
    if (np == 0 || c == 0)
        return 0.0;
    /* The reference's operations in its order, so its doubles come out. */
    double precision = (double)c / (double)np;
    double recall = (double)c / (double)ng;
    return 2 * precision * recall / (precision + recall);
}

double ik_eval_f1_set(const char *pred, size_t pred_len, const char *gold, size_t gold_len)
{
    return f1_of(pred, pred_len, gold, gold_len, true);
}

double ik_eval_f1_multiset(const char *pred, size_t pred_len, const char *gold, size_t gold_len)
{
    return f1_of(pred, pred_len, gold, gold_len, false);
}

bool ik_eval_is_refusal(const char *reply, size_t n, const struct ik_eval_refusal *kw)
{
    for (size_t i = 0; i < kw->n; i++) {
        size_t kl = strlen(kw->keywords[i]);
        if (kl == 0 || (kl <= n && memmem(reply, n, kw->keywords[i], kl)))
            return true;
    }
    return false;
}

void ik_eval_score(struct ik_eval_item *it, const char *reply, size_t reply_len, const char *gold,
                   size_t gold_len, bool unanswerable, const struct ik_eval_refusal *kw)
{
    memset(it, 0, sizeof *it);
    it->unanswerable = unanswerable;
    it->refused = ik_eval_is_refusal(reply, reply_len, kw ? kw : &ik_eval_refusal_default);
    if (unanswerable || it->refused)
        return;
    it->em = ik_eval_em(reply, reply_len, gold, gold_len);
    it->f1 = ik_eval_f1_set(reply, reply_len, gold, gold_len);
    it->f1_multiset = ik_eval_f1_multiset(reply, reply_len, gold, gold_len);
}

static double ratio(double sum, size_t n) { return n ? sum / (double)n : 0.0; }

void ik_eval_summarize(struct ik_eval_summary *s, const struct ik_eval_item *items, size_t n)
{
    memset(s, 0, sizeof *s);
    double em = 0, f1 = 0, f1m = 0, f1_tn = 0, f1m_tn = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ik_eval_item *it = &items[i];
        if (it->unanswerable) {
            s->n_unanswerable++;
            *(it->refused ? &s->tp : &s->fn) += 1;
            continue;
        }
        s->n_answerable++;
        em += it->em;
        f1 += it->f1;
        f1m += it->f1_multiset;
        if (it->refused) {
            s->fp++;
        } else {
            s->tn++;
            f1_tn += it->f1;
            f1m_tn += it->f1_multiset;
        }
    }
    s->n = n;
    s->em_mean = ratio(em, s->n_answerable);
    s->f1_mean = ratio(f1, s->n_answerable);
    s->f1_multiset_mean = ratio(f1m, s->n_answerable);
    s->f1_answered = ratio(f1_tn, s->tn);
    s->f1_multiset_answered = ratio(f1m_tn, s->tn);
    s->refusal_precision = ratio((double)s->tp, s->tp + s->fp);
    s->refusal_recall = ratio((double)s->tp, s->tp + s->fn);
}
