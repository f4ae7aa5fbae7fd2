/* tests/base/test_utf8.c - base/utf8: counting and cutting, the lax walk
 * (tokenizers, the extractive provider), the strict checks (row files, JSON,
 * previews), on valid, invalid, overlong, surrogate and truncated bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"

#define S(lit) (lit), (sizeof(lit) - 1)

Test(utf8, continuation_bytes)
{
    cr_expect(ik_utf8_is_cont(0x80));
    cr_expect(ik_utf8_is_cont(0xBF));
    cr_expect_not(ik_utf8_is_cont(0x7F));
    cr_expect_not(ik_utf8_is_cont(0xC0));
    cr_expect_not(ik_utf8_is_cont(0xFF));
    cr_expect_not(ik_utf8_is_cont(0x00));
}

Test(utf8, count_is_pythons_len)
{
    cr_expect_eq(ik_utf8_count(S("国税庁a")), 4);
    cr_expect_eq(ik_utf8_count(S("")), 0);
    cr_expect_eq(ik_utf8_count(S("a\0b")), 3, "NUL is a character");
    cr_expect_eq(ik_utf8_count(S("\xf0\x9f\x98\x80")), 1, "four bytes, one code point");
    /* Invalid text: stray continuation bytes count 0, other bytes 1. */
    cr_expect_eq(ik_utf8_count(S("\x80\xbf")), 0);
    cr_expect_eq(ik_utf8_count(S("\xff\xfe")), 2);
    cr_expect_eq(ik_utf8_count(S("\xe5\x9b")), 1, "a truncated sequence is one");
    cr_expect_eq(ik_utf8_count("国税庁", 4), 2, "n bounds the count");
}

Test(utf8, cut_keeps_whole_characters)
{
    const char *s = "国税庁a"; /* 3 + 3 + 3 + 1 bytes */
    size_t n = strlen(s);
    cr_expect_eq(ik_utf8_cut(s, n, 0), 0);
    cr_expect_eq(ik_utf8_cut(s, n, 1), 3);
    cr_expect_eq(ik_utf8_cut(s, n, 3), 9);
    cr_expect_eq(ik_utf8_cut(s, n, 4), n, "exactly max: no cut");
    cr_expect_eq(ik_utf8_cut(s, n, 60), n);
    cr_expect_eq(ik_utf8_cut(S("\x80\x80x"), 0), 2, "leading continuation bytes stay");
}

Test(utf8, seq_len_lax)
{
    cr_expect_eq(ik_utf8_seq_len(S("a")), 1);
    cr_expect_eq(ik_utf8_seq_len(S("\xc3\xa9x")), 2);
    cr_expect_eq(ik_utf8_seq_len(S("\xe5\x9b\xbd")), 3);
    cr_expect_eq(ik_utf8_seq_len(S("\xf0\x9f\x98\x80")), 4);
    /* No range checks: overlongs, surrogates and F5..F7 leads pass by shape. */
    cr_expect_eq(ik_utf8_seq_len(S("\xc0\x80")), 2);
    cr_expect_eq(ik_utf8_seq_len(S("\xed\xa0\x80")), 3);
    cr_expect_eq(ik_utf8_seq_len(S("\xf7\xbf\xbf\xbf")), 4);
    /* Anything malformed steps one byte. */
    cr_expect_eq(ik_utf8_seq_len(S("\x80")), 1, "continuation byte");
    cr_expect_eq(ik_utf8_seq_len(S("\xf8\x80\x80\x80\x80")), 1, "no 5-byte form");
    cr_expect_eq(ik_utf8_seq_len(S("\xff")), 1);
    cr_expect_eq(ik_utf8_seq_len("\xe5\x9b\xbd", 2), 1, "cut short by n");
    cr_expect_eq(ik_utf8_seq_len(S("\xe5\x41\xbd")), 1, "missing continuation");
    cr_expect_eq(ik_utf8_seq_len(S("\xe5\x9b\x41")), 1, "missing last continuation");
}

Test(utf8, decode_lax)
{
    size_t w = 0;
    cr_expect_eq(ik_utf8_decode_lax(S("A"), &w), 'A');
    cr_expect_eq(w, 1);
    cr_expect_eq(ik_utf8_decode_lax(S("\xc3\xa9"), &w), 0xE9);
    cr_expect_eq(w, 2);
    cr_expect_eq(ik_utf8_decode_lax(S("\xe5\x9b\xbd"), &w), 0x56FD);
    cr_expect_eq(w, 3);
    cr_expect_eq(ik_utf8_decode_lax(S("\xf0\x9f\x98\x80"), &w), 0x1F600);
    cr_expect_eq(w, 4);
    /* Followers are not checked, only counted: the width stays the lead's. */
    cr_expect_eq(ik_utf8_decode_lax(S("\xc3\x41"), &w), (0x03u << 6) | 0x01u);
    cr_expect_eq(w, 2);
    cr_expect_eq(ik_utf8_decode_lax(S("\xc0\x80"), &w), 0, "overlong NUL decodes");
    cr_expect_eq(w, 2);
    /* Cut short, or no lead byte: the byte itself, one wide. */
    cr_expect_eq(ik_utf8_decode_lax("\xe5\x9b\xbd", 2, &w), 0xE5);
    cr_expect_eq(w, 1);
    cr_expect_eq(ik_utf8_decode_lax("\xc3\xa9", 1, &w), 0xC3);
    cr_expect_eq(w, 1);
    cr_expect_eq(ik_utf8_decode_lax(S("\x9b"), &w), 0x9B);
    cr_expect_eq(w, 1);
    cr_expect_eq(ik_utf8_decode_lax(S("\xf8\x80\x80\x80"), &w), 0xF8);
    cr_expect_eq(w, 1);
}

Test(utf8, lead_len_strict)
{
    cr_expect_eq(ik_utf8_lead_len(0x00), 1);
    cr_expect_eq(ik_utf8_lead_len(0x7F), 1);
    cr_expect_eq(ik_utf8_lead_len(0x80), 0);
    cr_expect_eq(ik_utf8_lead_len(0xBF), 0);
    cr_expect_eq(ik_utf8_lead_len(0xC0), 0);
    cr_expect_eq(ik_utf8_lead_len(0xC1), 0);
    cr_expect_eq(ik_utf8_lead_len(0xC2), 2);
    cr_expect_eq(ik_utf8_lead_len(0xDF), 2);
    cr_expect_eq(ik_utf8_lead_len(0xE0), 3);
    cr_expect_eq(ik_utf8_lead_len(0xEF), 3);
    cr_expect_eq(ik_utf8_lead_len(0xF0), 4);
    cr_expect_eq(ik_utf8_lead_len(0xF4), 4);
    cr_expect_eq(ik_utf8_lead_len(0xF5), 0);
    cr_expect_eq(ik_utf8_lead_len(0xFF), 0);
}

Test(utf8, valid_seq_strict)
{
    cr_expect_eq(ik_utf8_valid_seq(S("a")), 1);
    cr_expect_eq(ik_utf8_valid_seq("", 0), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xc2\x80")), 2, "U+0080");
    cr_expect_eq(ik_utf8_valid_seq(S("\xdf\xbf")), 2, "U+07FF");
    cr_expect_eq(ik_utf8_valid_seq(S("\xe0\xa0\x80")), 3, "U+0800");
    cr_expect_eq(ik_utf8_valid_seq(S("\xed\x9f\xbf")), 3, "U+D7FF");
    cr_expect_eq(ik_utf8_valid_seq(S("\xee\x80\x80")), 3, "U+E000");
    cr_expect_eq(ik_utf8_valid_seq(S("\xef\xbf\xbf")), 3, "U+FFFF");
    cr_expect_eq(ik_utf8_valid_seq(S("\xf0\x90\x80\x80")), 4, "U+10000");
    cr_expect_eq(ik_utf8_valid_seq(S("\xf4\x8f\xbf\xbf")), 4, "U+10FFFF");
    cr_expect_eq(ik_utf8_valid_seq(S("\xe5\x9b\xbdx")), 3, "only the first sequence");
    /* Overlong forms. */
    cr_expect_eq(ik_utf8_valid_seq(S("\xc0\xaf")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xc1\xbf")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xe0\x9f\xbf")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xf0\x8f\xbf\xbf")), 0);
    /* Surrogates and beyond U+10FFFF. */
    cr_expect_eq(ik_utf8_valid_seq(S("\xed\xa0\x80")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xed\xbf\xbf")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xf4\x90\x80\x80")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xf5\x80\x80\x80")), 0);
    /* Bad or missing continuation bytes. */
    cr_expect_eq(ik_utf8_valid_seq(S("\x80")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xe5\x41\xbd")), 0);
    cr_expect_eq(ik_utf8_valid_seq(S("\xe5\x9b")), 0, "truncated");
    cr_expect_eq(ik_utf8_valid_seq("\xf0\x9f\x98\x80", 3), 0, "cut short by n");
}

Test(utf8, valid_whole_string)
{
    cr_expect(ik_utf8_valid(S("国税庁")));
    cr_expect(ik_utf8_valid("", 0));
    cr_expect(ik_utf8_valid(S("a\0b")), "NUL is valid UTF-8");
    cr_expect_not(ik_utf8_valid(S("\xe5\x9b")), "truncated sequence");
    cr_expect_not(ik_utf8_valid(S("\xc0\xaf")), "overlong");
    cr_expect_not(ik_utf8_valid(S("\xed\xa0\x80")), "surrogate");
    cr_expect_not(ik_utf8_valid(S("ok\xff")), "invalid byte at the end");
    cr_expect_not(ik_utf8_valid("国税庁", 8), "cut inside the last character");
}

Test(utf8, encode)
{
    char o[4];
    cr_expect_eq(ik_utf8_encode(o, 'A'), 1);
    cr_expect_eq(o[0], 'A');
    cr_expect_eq(ik_utf8_encode(o, 0x120), 2, "GPT-2's byte map: U+0120 for a space");
    cr_expect_eq(memcmp(o, "\xc4\xa0", 2), 0);
    cr_expect_eq(ik_utf8_encode(o, 0x56FD), 3);
    cr_expect_eq(memcmp(o, "\xe5\x9b\xbd", 3), 0);
    cr_expect_eq(ik_utf8_encode(o, 0x1F600), 4);
    cr_expect_eq(memcmp(o, "\xf0\x9f\x98\x80", 4), 0);
    /* Every scalar value round-trips through the strict check and the decoder. */
    for (unsigned cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = ik_utf8_encode(o, cp), w;
        cr_assert_eq(ik_utf8_valid_seq(o, n), n, "U+%04X", cp);
        cr_assert_eq(ik_utf8_seq_len(o, n), n, "U+%04X", cp);
        cr_assert_eq(ik_utf8_decode_lax(o, n, &w), cp, "U+%04X", cp);
        cr_assert_eq(w, n);
    }
}

Test(utf8, append_replacing_keeps_characters_and_replaces_stray_bytes)
{
    struct ik_buf b = IK_BUF_INIT;
    /* 参 (E5 8F 82), a stray continuation byte, a cut sequence at the end. */
    ik_utf8_append_replacing(&b, "a\xe5\x8f\x82\x8b" "b\xe5\x8f", 8);
    cr_assert_eq(b.len, 1 + 3 + 3 + 1 + 3 + 3);
    cr_assert_eq(memcmp(b.data, "a\xe5\x8f\x82\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd", b.len), 0);
    cr_assert(ik_utf8_valid(b.data, b.len));
    ik_buf_free(&b);
}

Test(utf8, width_counts_terminal_columns)
{
    cr_expect_eq(ik_utf8_width(S("abc")), 3);
    cr_expect_eq(ik_utf8_width(S("国税庁")), 6, "CJK is double width");
    cr_expect_eq(ik_utf8_width(S("ｱ")), 1, "halfwidth katakana is single width");
    cr_expect_eq(ik_utf8_width(S("e\xcc\x81")), 1, "a combining accent takes no column");
    cr_expect_eq(ik_utf8_width(S("a\tb")), 2, "a control character takes no column");
    cr_expect_eq(ik_utf8_width(S("\xff" "a")), 2, "an invalid byte shows as one column");
}

Test(utf8, cut_width_keeps_whole_characters)
{
    cr_expect_eq(ik_utf8_cut_width(S("abcdef"), 4), 4);
    cr_expect_eq(ik_utf8_cut_width(S("abc"), 10), 3);
    cr_expect_eq(ik_utf8_cut_width(S("国税庁"), 4), 6, "two characters, 6 bytes");
    cr_expect_eq(ik_utf8_cut_width(S("国税庁"), 3), 3, "the straddling character is left out");
    cr_expect_eq(ik_utf8_cut_width(S("a国"), 0), 0);
}

Test(utf8, pad_counts_columns_not_bytes)
{
    cr_expect_eq(ik_utf8_pad("国税", 6), 2);
    cr_expect_eq(ik_utf8_pad("ab", 3), 1);
    cr_expect_eq(ik_utf8_pad("toolong", 3), 0);
    cr_expect_eq(ik_utf8_pad("", 2), 2);
}
