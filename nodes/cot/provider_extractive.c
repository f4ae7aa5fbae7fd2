/* nodes/cot/provider_extractive.c - the offline provider: a cited answer
 * written from the oracle document itself, with no network and no key. It
 * quotes the oracle's sentence that shares the most content characters
 * (kanji, katakana, letters, digits) with the question, adds one sentence of
 * reasoning and restates that sentence as the answer, so it always passes
 * the citation check and lets every graph run offline. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "nodes/cot/cot.h"

/* Characters that carry meaning: not whitespace, punctuation or kana
 * particles (hiragana). */
static bool is_content(unsigned cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    if (cp >= 0x3000 && cp <= 0x309F) /* CJK punctuation, hiragana */
        return false;
    if (cp >= 0xFF00 && cp <= 0xFF0F) /* full-width punctuation */
        return false;
    return true;
}

/* Number of distinct content code points of s that also occur in q. */
static size_t overlap(const char *s, size_t len, const char *q)
{
    size_t qlen = strlen(q), score = 0;
    unsigned seen[512];
    size_t n_seen = 0;
    for (size_t i = 0, w; i < len; i += w) {
        unsigned cp = ik_utf8_decode_lax(s + i, len - i, &w);
        if (!is_content(cp) || memmem(q, qlen, s + i, w) == NULL)
            continue;
        bool dup = false;
        for (size_t k = 0; k < n_seen && !dup; k++)
            dup = seen[k] == cp;
        if (!dup && n_seen < sizeof seen / sizeof seen[0]) {
            seen[n_seen++] = cp;
            score++;
        }
    }
    return score;
}

/* 「 and 」 balance (a quote must not break the answer's own brackets). */
static bool balanced(const char *s, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i + 3 <= len; i++) {
        if (memcmp(s + i, "\xe3\x80\x8c", 3) == 0)
            depth++;
        else if (memcmp(s + i, "\xe3\x80\x8d", 3) == 0 && --depth < 0)
            return false;
    }
    return depth == 0;
}

static bool is_break(const char *s, size_t len, size_t *w)
{
    static const char *const ends[] = {"\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f", "\n"};
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        size_t n = strlen(ends[k]);
        if (len >= n && memcmp(s, ends[k], n) == 0) {
            *w = n;
            return true;
        }
    }
    return false;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && strchr(" \t\r\n", **s)) {
        (*s)++;
        (*len)--;
    }
    while (*len >= 3 && memcmp(*s, "\xe3\x80\x80", 3) == 0) {
        *s += 3;
        *len -= 3;
    }
    while (*len > 0 && strchr(" \t\r\n", (*s)[*len - 1]))
        (*len)--;
}

char *ik_cot_extractive_answer(const char *question, const char *doc, size_t doc_len,
                               int oracle, const char *doc_label, int min_quote_chars)
{
    const char *best = NULL;
    size_t best_len = 0, best_score = 0;
    int best_rank = -1; /* 2: long enough and balanced, 1: balanced, 0: any */
    size_t i = 0;
    while (i < doc_len) {
        size_t j = i, w = 0;
        while (j < doc_len && !is_break(doc + j, doc_len - j, &w))
            j++;
        const char *s = doc + i;
        size_t len = j - i;
        trim(&s, &len);
        if (len > 0) {
            bool bal = balanced(s, len);
            int rank = bal ? (ik_utf8_count(s, len) >= (size_t)min_quote_chars ? 2 : 1) : 0;
            size_t score = overlap(s, len, question);
            if (rank > best_rank || (rank == best_rank && score > best_score)) {
                best = s;
                best_len = len;
                best_score = score;
                best_rank = rank;
            }
        }
        i = j < doc_len ? j + w : j;
    }
    struct ik_buf b = IK_BUF_INIT;
    if (best == NULL) { /* an empty document: nothing to quote */
        ik_buf_printf(&b, "%s%dには引用できる記述がありません。", doc_label, oracle);
        return ik_buf_steal(&b);
    }
    ik_buf_printf(&b, "%s%dに「", doc_label, oracle);
    ik_buf_append(&b, best, best_len);
    ik_buf_puts(&b, "」と記載されています。この記述が質問の内容に直接答えています。"
                    "したがって、回答は次のとおりです。");
    ik_buf_append(&b, best, best_len);
    ik_buf_puts(&b, "。");
    return ik_buf_steal(&b);
}
