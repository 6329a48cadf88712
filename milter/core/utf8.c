/* SPDX-License-Identifier: MIT */
/*
 * utf8.c - strict UTF-8 validation (RFC 3629, Table 3-7 of Unicode).
 *
 * mv_utf8_seq() answers for one sequence: how many bytes it takes when it
 * is well formed, 0 when it is not (overlong, surrogate, out of range,
 * truncated, stray continuation byte). Callers use the 0 to report
 * invalid_utf8 at an exact offset, or to substitute U+FFFD on output.
 */
#include "utf8.h"

/* cont - is b a continuation byte (10xxxxxx)? */
static int cont(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

/* mv_utf8_seq - length of the well-formed sequence at s (1..4), or 0 */
size_t mv_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char b = s[0];

    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return avail >= 2 && cont(s[1]) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        if (avail < 3 || !cont(s[1]) || !cont(s[2]))
            return 0;
        /* E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates) */
        if (b == 0xE0 && s[1] < 0xA0)
            return 0;
        if (b == 0xED && s[1] > 0x9F)
            return 0;
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (avail < 4 || !cont(s[1]) || !cont(s[2]) || !cont(s[3]))
            return 0;
        /* F0 needs 90..BF (no overlongs); F4 needs 80..8F (<= U+10FFFF) */
        if (b == 0xF0 && s[1] < 0x90)
            return 0;
        if (b == 0xF4 && s[1] > 0x8F)
            return 0;
        return 4;
    }
    return 0; /* 80..C1 and F5..FF never start a sequence */
}

/* mv_utf8_valid - offset of the first ill-formed byte, or len if all valid */
size_t mv_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        n = mv_utf8_seq(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}
