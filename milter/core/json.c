/*
 * json.c - JSON string escaping (RFC 8259) that never emits bad UTF-8.
 *
 * The fast path copies runs of bytes that need no escaping in one memcpy;
 * addresses are short and mostly plain ASCII, and this writer runs once
 * per verdict on the bulk and streaming paths.
 */
#include "json.h"
#include "utf8.h"

#include <string.h>

static const char hex[] = "0123456789abcdef";

/* needs_escape - must this ASCII byte be escaped? */
static bool needs_escape(unsigned char c, int flags)
{
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F)
        return true;
    return (flags & MV_JSON_HTML) && (c == '<' || c == '>' || c == '&');
}

/* put_u - append \u00XX for a byte below 0x80 */
static void put_u(mv_buf *b, unsigned c)
{
    char e[6] = {'\\', 'u', '0', '0', hex[(c >> 4) & 15], hex[c & 15]};

    mv_buf_put(b, e, 6);
}

/* put_escape - the short escape for a byte, or \u00XX */
static void put_escape(mv_buf *b, unsigned char c)
{
    switch (c) {
    case '"': mv_buf_put(b, "\\\"", 2); break;
    case '\\': mv_buf_put(b, "\\\\", 2); break;
    case '\n': mv_buf_put(b, "\\n", 2); break;
    case '\r': mv_buf_put(b, "\\r", 2); break;
    case '\t': mv_buf_put(b, "\\t", 2); break;
    default: put_u(b, c); break;
    }
}

/* mv_json_str - append s as a quoted JSON string */
void mv_json_str(mv_buf *b, const char *s, size_t len, int flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    if (!mv_buf_reserve(b, len + 2))
        return;
    mv_buf_putc(b, '"');
    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c < 0x80 && !needs_escape(c, flags)) {
            i++;
            continue;
        }
        mv_buf_put(b, p + run, i - run);
        if (c < 0x80) {
            put_escape(b, c);
            n = 1;
        } else if ((n = mv_utf8_seq(p + i, len - i)) == 0) {
            mv_buf_put(b, "\\ufffd", 6);  /* one per ill-formed byte */
            n = 1;
        } else if (n == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
                   (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
            mv_buf_put(b, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        } else if (n == 2 && c == 0xC2 && p[i + 1] < 0xA0) {
            mv_buf_put(b, "\\u00", 4);  /* C1 controls: visible, not raw */
            mv_buf_putc(b, hex[p[i + 1] >> 4]);
            mv_buf_putc(b, hex[p[i + 1] & 15]);
        } else {
            mv_buf_put(b, p + i, n);
        }
        i += n;
        run = i;
    }
    mv_buf_put(b, p + run, i - run);
    mv_buf_putc(b, '"');
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
