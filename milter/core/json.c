/* SPDX-License-Identifier: MIT */
/*
 * json.c - JSON string escaping (RFC 8259) that never emits bad UTF-8.
 *
 * The fast path copies runs of bytes that need no escaping in one memcpy,
 * found with one table lookup per byte; addresses are short and mostly
 * plain ASCII, and this writer runs once per verdict on the bulk and
 * streaming paths. Output goes to memory reserved for the worst case
 * (6 bytes out per byte in: \u00XX), so there is no check per byte.
 */
#include "json.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

static const char hex[] = "0123456789abcdef";

enum { E_ALWAYS = 1, E_HTML = 2, E_UTF8 = 4 };

/* What each byte needs: E_ALWAYS escaped, E_HTML escaped in HTML mode,
 * E_UTF8 starts (or breaks) a multi-byte sequence; 0 is copied as is. */
static const unsigned char kind[256] = {
    [0x00 ... 0x1F] = E_ALWAYS,
    ['"'] = E_ALWAYS,
    ['\\'] = E_ALWAYS,
    [0x7F] = E_ALWAYS,
    ['<'] = E_HTML,
    ['>'] = E_HTML,
    ['&'] = E_HTML,
    [0x80 ... 0xFF] = E_UTF8,
};

/* put_u - write \u00XX for a byte below 0xA0; 6 bytes */
static char *put_u(char *w, unsigned c)
{
    memcpy(w, "\\u00", 4);
    w[4] = hex[(c >> 4) & 15];
    w[5] = hex[c & 15];
    return w + 6;
}

/* put_escape - the short escape for an ASCII byte, or \u00XX */
static char *put_escape(char *w, unsigned char c)
{
    static const char short_esc[128] = {
        ['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    };

    if (short_esc[c] == 0)
        return put_u(w, c);
    w[0] = '\\';
    w[1] = short_esc[c];
    return w + 2;
}

/* put_nonascii - a sequence from byte i on: copied, escaped or U+FFFD; advances *i */
static char *put_nonascii(char *w, const unsigned char *p, size_t len, size_t *i)
{
    const unsigned char *q = p + *i;
    size_t n = mv_utf8_seq(q, len - *i);

    if (n == 0) {
        memcpy(w, "\\ufffd", 6); /* one per ill-formed byte */
        *i += 1;
        return w + 6;
    }
    *i += n;
    if (n == 3 && q[0] == 0xE2 && q[1] == 0x80 && (q[2] == 0xA8 || q[2] == 0xA9)) {
        memcpy(w, q[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        return w + 6;
    }
    if (n == 2 && q[0] == 0xC2 && q[1] < 0xA0)
        return put_u(w, q[1]); /* C1 controls: visible, not raw */
    memcpy(w, q, n);
    return w + n;
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* zero_byte - high bit set in each byte of w that is zero (exact up to the first) */
static uint64_t zero_byte(uint64_t w)
{
    return (w - ONES) & ~w & HIGH;
}

/*
 * plain_run - how many bytes from p on need nothing done, 8 at a time:
 * a word is plain when no byte is a control, '"', '\\', DEL or non-ASCII.
 * HTML mode and the last few bytes are left to the table.
 */
static size_t plain_run(const unsigned char *p, size_t len)
{
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        if (((w - 0x20 * ONES) | w | zero_byte(w ^ 0x22 * ONES) | zero_byte(w ^ 0x5C * ONES) |
             zero_byte(w ^ 0x7F * ONES)) &
            HIGH)
            break;
    }
    return i;
}

/* mv_json_escape - write s escaped (no quotes) to out; bytes written */
size_t mv_json_escape(char *out, const char *s, size_t len, int flags)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned stop = E_ALWAYS | E_UTF8 | (flags & MV_JSON_HTML ? E_HTML : 0);
    char *w = out;
    size_t i = 0;

    while (i < len) {
        size_t run = i;

        if (!(flags & MV_JSON_HTML))
            i += plain_run(p + i, len - i);
        while (i < len && !(kind[p[i]] & stop))
            i++;
        memcpy(w, p + run, i - run);
        w += i - run;
        if (i == len)
            break;
        if (p[i] < 0x80)
            w = put_escape(w, p[i++]);
        else
            w = put_nonascii(w, p, len, &i);
    }
    return (size_t)(w - out);
}

/* mv_json_str - append s as a quoted JSON string */
void mv_json_str(mv_buf *b, const char *s, size_t len, int flags)
{
    if (len > ((size_t)-1 - 3) / 6) {
        b->oom = true; /* as mv_buf_reserve would say for such a size */
        return;
    }
    if (!mv_buf_reserve(b, MV_JSON_ESCAPE_MAX(len) + 2))
        return;
    b->data[b->len++] = '"';
    b->len += mv_json_escape(b->data + b->len, s, len, flags);
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
}

/* mv_json_cstr - append a C string as JSON, or null for NULL */
void mv_json_cstr(mv_buf *b, const char *s, int flags)
{
    if (s == NULL)
        mv_buf_put(b, "null", 4);
    else
        mv_json_str(b, s, strlen(s), flags);
}

/* mv_json_key - append "key": (key is trusted ASCII) */
void mv_json_key(mv_buf *b, const char *key)
{
    mv_buf_putc(b, '"');
    mv_buf_puts(b, key);
    mv_buf_put(b, "\":", 2);
}

/* mv_json_bool - append true or false */
void mv_json_bool(mv_buf *b, bool v)
{
    if (v)
        mv_buf_put(b, "true", 4);
    else
        mv_buf_put(b, "false", 5);
}
