/* nodes/cot/citation.c - is a CoT answer grounded in the oracle document? It
 * must name "<label><oracle>" and quote (「…」) text that is in that document.
 * Whitespace is deleted on both sides before comparing, because models
 * re-flow line breaks of the FAQ text but must not change its words. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "nodes/cot/cot.h"

const char *const ik_cite_names[IK_CITE_N] = {"ok", "no_document", "wrong_document", "no_quote",
                                              "quote_not_in_document"};

#define OPEN_Q "\xe3\x80\x8c"  /* 「 */
#define CLOSE_Q "\xe3\x80\x8d" /* 」 */
#define ELLIPSIS "\xe2\x80\xa6" /* … */

/* Copies s without whitespace (ASCII and U+3000) into b. */
static void squeeze(struct ik_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            i++;
        } else if (len - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0) {
            i += 3;
        } else {
            ik_buf_putc(b, (char)c);
            i++;
        }
    }
    if (b->data == NULL)
        ik_buf_puts(b, "");
}

/* Reads a decimal number (ASCII or full-width digits) at s; -1 if none. */
static long read_number(const char *s, const char *end)
{
    long v = -1;
    while (s < end) {
        int dgt;
        if (*s >= '0' && *s <= '9') {
            dgt = *s - '0';
            s++;
        } else if (end - s >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBC &&
                   (unsigned char)s[2] >= 0x90 && (unsigned char)s[2] <= 0x99) {
            dgt = (unsigned char)s[2] - 0x90;
            s += 3;
        } else {
            break;
        }
        v = (v < 0 ? 0 : v * 10) + dgt;
        if (v > 1000000)
            return -1;
    }
    return v;
}

/* Are the parts of quote q (split at … and ...) found in order in doc? */
static bool quote_in(const char *q, size_t qlen, const char *doc, size_t doc_len)
{
    const char *from = doc, *end = doc + doc_len;
    size_t i = 0;
    bool any = false;
    while (i <= qlen) {
        size_t j = i, skip = 0;
        while (j < qlen) {
            if (qlen - j >= 3 && memcmp(q + j, ELLIPSIS, 3) == 0) {
                skip = 3;
                break;
            }
            if (qlen - j >= 3 && memcmp(q + j, "...", 3) == 0) {
                skip = 3;
                break;
            }
            j++;
        }
        if (j > i) {
            const char *hit = memmem(from, (size_t)(end - from), q + i, j - i);
            if (hit == NULL)
                return false;
            from = hit + (j - i);
            any = true;
        }
        if (j >= qlen)
            break;
        i = j + skip;
    }
    return any;
}

enum ik_cite ik_cot_cite_check(const char *answer, size_t len, const char *doc_label, int oracle,
                               const char *doc, size_t doc_len, int min_quote_chars)
{
    const char *end = answer + len;
    size_t ll = strlen(doc_label);
    bool named = false, other = false;
    for (const char *p = answer; ll > 0 && (p = memmem(p, (size_t)(end - p), doc_label, ll));
         p += ll) {
        long v = read_number(p + ll, end);
        if (v == oracle)
            named = true;
        else if (v >= 0)
            other = true;
    }
    if (!named)
        return other ? IK_CITE_WRONG_DOCUMENT : IK_CITE_NO_DOCUMENT;

    struct ik_buf nd = IK_BUF_INIT;
    squeeze(&nd, doc, doc_len);
    bool any_quote = false, found = false;
    const char *p = answer;
    while (!found && (p = memmem(p, (size_t)(end - p), OPEN_Q, 3)) != NULL) {
        const char *start = p + 3, *q = start;
        int depth = 1;
        while (q < end && depth > 0) {
            if (end - q >= 3 && memcmp(q, OPEN_Q, 3) == 0) {
                depth++;
                q += 3;
            } else if (end - q >= 3 && memcmp(q, CLOSE_Q, 3) == 0) {
                if (--depth == 0)
                    break;
                q += 3;
            } else {
                q++;
            }
        }
        if (depth != 0)
            break; /* unclosed quote: nothing more to read */
        struct ik_buf nq = IK_BUF_INIT;
        squeeze(&nq, start, (size_t)(q - start));
        if (ik_utf8_count(nq.data, nq.len) >= (size_t)(min_quote_chars > 0 ? min_quote_chars : 1)) {
            any_quote = true;
            found = quote_in(nq.data, nq.len, nd.data, nd.len);
        }
        ik_buf_free(&nq);
        p = q + 3;
    }
    ik_buf_free(&nd);
    if (found)
        return IK_CITE_OK;
    return any_quote ? IK_CITE_QUOTE_NOT_FOUND : IK_CITE_NO_QUOTE;
}
