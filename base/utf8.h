/* base/utf8.h - the one home of UTF-8 handling: counting code points,
 * stepping over one character, checking, decoding and encoding.
 *
 * Callers differ in how much they trust their bytes, so there are two
 * families, and each function says which it is:
 *   strict (RFC 3629): a sequence is well formed only if its lead byte is
 *     C2..F4, every continuation byte is 10xxxxxx, and it decodes to a code
 *     point in its length's range (no overlong form), outside the surrogates
 *     D800..DFFF and at most U+10FFFF. Used where bytes are checked or shown
 *     (row files, JSON, previews).
 *   lax: the lead byte's bit pattern alone gives a length (110xxxxx two,
 *     1110xxxx three, 11110xxx four, anything else one), with no range checks.
 *     Used where text only has to be walked, never rejected (tokenizers, the
 *     offline CoT provider), so an invalid byte is stepped over as one
 *     character rather than stopping the walk.
 * "Code point" counts are the number of bytes that are not continuation bytes,
 * which equals Python's len() for valid UTF-8.
 *
 * The functions that take a byte count n never read past s + n; none
 * allocates or fails. */
#ifndef IK_BASE_UTF8_H
#define IK_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True for a continuation byte (10xxxxxx), the bytes that never start a
 * character: a cut just before any other byte is a character boundary. */
static inline bool ik_utf8_is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Number of code points in s[0..n): the bytes that are not continuation
 * bytes (Python's len for valid UTF-8). Invalid text is still counted this
 * way: a stray continuation byte counts 0, any other invalid byte 1. */
size_t ik_utf8_count(const char *s, size_t n);

/* Byte offset at which s[0..n) must be cut to keep its first max_cps code
 * points (counted as ik_utf8_count does): the offset of the byte that starts
 * code point max_cps + 1, or n when s has no more than max_cps. The cut always
 * falls on a character boundary. */
size_t ik_utf8_cut(const char *s, size_t n, size_t max_cps);

/* Lax: byte length of the one character at s (n > 0), as its lead byte's bit
 * pattern announces it; 1 when that length runs past n or one of the
 * following bytes is not a continuation byte, so a walk always advances. The
 * result is 1..4, never 0. No overlong, surrogate or range check (C0 80 is
 * one two-byte character). */
size_t ik_utf8_seq_len(const char *s, size_t n);

/* Lax: decodes the character at s (n > 0) and sets *w to its byte width.
 * The width comes from the lead byte alone: continuation bytes are not
 * checked, only that they are there; when they are not (cut short by n), or
 * the lead byte starts no sequence, the byte reads as itself, one byte wide.
 * The code point is assembled from the payload bits without range checks. */
unsigned ik_utf8_decode_lax(const char *s, size_t n, size_t *w);

/* Writes code point cp (at most U+10FFFF; not checked) as UTF-8 into out and
 * returns its length, 1..4. */
size_t ik_utf8_encode(char out[4], unsigned cp);

/* Strict: the byte length a well-formed sequence starting with lead byte c
 * has: 1 for ASCII, 2 for C2..DF, 3 for E0..EF, 4 for F0..F4; 0 for a byte
 * that starts no well-formed sequence (a continuation byte, C0, C1, F5..FF). */
size_t ik_utf8_lead_len(unsigned char c);

/* Strict: length (1..4) of the well-formed sequence at s[0..n), or 0 when it
 * is not well formed or is cut short by n (n == 0 gives 0). */
size_t ik_utf8_valid_seq(const char *s, size_t n);

/* Strict: true if all of s[0..n) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF, no sequence cut short at the end). */
bool ik_utf8_valid(const char *s, size_t n);

/* Appends s[0..n) to out with every byte that starts no well-formed
 * sequence replaced by U+FFFD (EF BF BD), as a tokenizer's decode does for
 * byte tokens that do not form characters (Hugging Face's
 * errors="replace"), so text a model generated is always valid UTF-8. */
struct ik_buf;
void ik_utf8_append_replacing(struct ik_buf *out, const char *s, size_t n);

/* Display width: the terminal columns s[0..n) takes, as wcwidth(3) counts
 * them (libunistring's uc_width): CJK and fullwidth characters 2, combining
 * marks and control characters 0, the rest 1. Lax: an invalid byte counts 1,
 * as a terminal shows it as one replacement character. Used wherever text is
 * lined up in columns (tables, the live progress lines). */
size_t ik_utf8_width(const char *s, size_t n);

/* Byte offset at which s[0..n) must be cut for the kept text to take at most
 * max_cols columns (ik_utf8_width); a double-width character that would
 * straddle the limit is left out whole. Cuts on a character boundary. */
size_t ik_utf8_cut_width(const char *s, size_t n, size_t max_cols);

/* The spaces that pad s to cols display columns: printf's "%-*s" counting
 * columns rather than bytes, written as printf("%s%*s", s, ik_utf8_pad(s,
 * cols), ""); 0 when s is as wide or wider (then it is shown whole). */
int ik_utf8_pad(const char *s, size_t cols);

#endif
