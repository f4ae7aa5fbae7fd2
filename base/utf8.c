/* base/utf8.c - counting, stepping, checking, decoding and encoding UTF-8
 * (utf8.h). */
#include <string.h>

#include <unistr.h>
#include <uniwidth.h>

#include "base/buf.h"
#include "base/utf8.h"

size_t ik_utf8_count(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (!ik_utf8_is_cont((unsigned char)s[i]))
            cps++;
    return cps;
}

size_t ik_utf8_cut(const char *s, size_t n, size_t max_cps)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (!ik_utf8_is_cont((unsigned char)s[i]) && ++cps > max_cps)
            return i;
    return n;
}

/* The lax length from the lead byte's bit pattern alone. */
static size_t lax_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

size_t ik_utf8_seq_len(const char *s, size_t n)
{
    size_t len = lax_len((unsigned char)s[0]);
    if (len > n)
        return 1;
    for (size_t i = 1; i < len; i++)
        if (!ik_utf8_is_cont((unsigned char)s[i]))
            return 1;
    return len;
}

unsigned ik_utf8_decode_lax(const char *s, size_t n, size_t *w)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = lax_len(c);
    if (len == 1 || len > n) {
        *w = 1;
        return c;
    }
    /* The lead byte keeps 7 - len payload bits; each follower gives six. */
    unsigned cp = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | ((unsigned char)s[i] & 0x3Fu);
    *w = len;
    return cp;
}

size_t ik_utf8_encode(char out[4], unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    size_t len = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = len - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(((0xF00u >> len) | cp) & 0xFF); /* 110xxxxx, 1110xxxx, 11110xxx */
    return len;
}

size_t ik_utf8_lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

size_t ik_utf8_valid_seq(const char *str, size_t n)
{
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; /* below: overlong */
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0)
        return 0;
    size_t len = ik_utf8_lead_len(s[0]);
    if (len == 0 || n < len)
        return 0;
    if (len == 1)
        return 1;
    unsigned cp = s[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if (!ik_utf8_is_cont(s[i]))
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool ik_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = ik_utf8_valid_seq(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

void ik_utf8_append_replacing(struct ik_buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i, len;
        while (run < n && (len = ik_utf8_valid_seq(s + run, n - run)) > 0)
            run += len;
        ik_buf_append(out, s + i, run - i);
        if (run < n) {
            ik_buf_append(out, "\xef\xbf\xbd", 3);
            run++;
        }
        i = run;
    }
}

/* Columns of the character at s[0..n) and its byte length in *len. */
static size_t char_width(const char *s, size_t n, size_t *len)
{
    ucs4_t uc;
    int k = u8_mbtouc(&uc, (const uint8_t *)s, n);
    *len = k > 0 ? (size_t)k : 1;
    int w = uc_width(uc, "UTF-8");
    return w < 0 ? 0 : (size_t)w; /* control characters take no column */
}

size_t ik_utf8_width(const char *s, size_t n)
{
    size_t cols = 0, len;
    for (size_t i = 0; i < n; i += len)
        cols += char_width(s + i, n - i, &len);
    return cols;
}

size_t ik_utf8_cut_width(const char *s, size_t n, size_t max_cols)
{
    size_t cols = 0, len;
    for (size_t i = 0; i < n; i += len) {
        size_t w = char_width(s + i, n - i, &len);
        if (cols + w > max_cols)
            return i;
        cols += w;
    }
    return n;
}

int ik_utf8_pad(const char *s, size_t cols)
{
    size_t w = ik_utf8_width(s, strlen(s));
    return w < cols ? (int)(cols - w) : 0;
}
