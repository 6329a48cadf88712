/* SPDX-License-Identifier: MIT */
/*
 * reply.c - incremental SMTP reply parser; see reply.h.
 *
 * Lines are assembled in a fixed buffer; a line longer than the buffer is
 * an error, not a reason to allocate. Each complete line is checked: three
 * digits, then "-" (more lines follow), " " or the end of the line (the
 * last line). Every line must carry the first line's code (RFC 5321
 * 4.2.1). The enhanced code (RFC 3463) is read from the first line only,
 * when its class matches the basic code's first digit -- "250 2.1.5 Ok",
 * but not "550 2.1.5 ..." which is a server bug we do not trust.
 */
#include "reply.h"

#include <string.h>

/* mv_reply_init - ready for a new reply */
void mv_reply_init(mv_reply_parser *p)
{
    memset(&p->r, 0, sizeof(p->r));
    p->error = MV_REPLY_OK;
    p->line_len = 0;
}

/* mv_reply_has_enh - did the reply carry an enhanced status code? */
bool mv_reply_has_enh(const mv_reply *r)
{
    return r->enh[0] != 0;
}

/* mv_reply_error_name - a parse error as text */
const char *mv_reply_error_name(mv_reply_error e)
{
    switch (e) {
    case MV_REPLY_OK: return "ok";
    case MV_REPLY_BAD_CODE: return "reply line without a 3-digit code";
    case MV_REPLY_MIXED_CODES: return "multi-line reply with different codes";
    case MV_REPLY_LONG_LINE: return "reply line too long";
    case MV_REPLY_TOO_MANY_LINES: return "reply has too many lines";
    case MV_REPLY_NUL: return "NUL byte in reply";
    }
    return "?";
}

/* number - 1 to 3 digits at s[*i]; -1 if none */
static int number(const char *s, size_t n, size_t *i, int maxdigits)
{
    int v = 0, d = 0;

    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && d < maxdigits) {
        v = v * 10 + (s[(*i)++] - '0');
        d++;
    }
    return d == 0 ? -1 : v;
}

/* parse_enh - "x.y.z " at the start of text; length used, or 0 */
static size_t parse_enh(mv_reply *r, const char *s, size_t n)
{
    size_t i = 0;
    int v[3];

    for (int k = 0; k < 3; k++) {
        if (k > 0 && (i >= n || s[i++] != '.'))
            return 0;
        if ((v[k] = number(s, n, &i, k == 0 ? 1 : 3)) < 0)
            return 0;
    }
    if (i < n && s[i] != ' ')
        return 0;
    if (v[0] != r->code / 100)
        return 0;
    memcpy(r->enh, v, sizeof(v));
    return i < n ? i + 1 : i;
}

/* add_text - append a line's text, with controls made spaces */
static void add_text(mv_reply *r, const char *s, size_t n)
{
    if (r->text_len > 0 && r->text_len < MV_REPLY_TEXT_MAX - 1)
        r->text[r->text_len++] = ' ';
    for (size_t i = 0; i < n && r->text_len < MV_REPLY_TEXT_MAX - 1; i++) {
        unsigned char c = (unsigned char)s[i];

        r->text[r->text_len++] = (char)(c < 0x20 || c == 0x7F ? ' ' : c);
    }
    r->text[r->text_len] = '\0';
}

/* take_line - check one complete line; MORE, DONE or ERROR */
static mv_reply_status take_line(mv_reply_parser *p)
{
    const char *s = p->line;
    size_t n = p->line_len, i = 0;
    int code;
    bool last;

    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n < 3 || (code = number(s, n, &i, 3)) < 0 || i != 3 || code < 200 || code > 599 ||
        (n > 3 && s[3] != ' ' && s[3] != '-')) {
        p->error = MV_REPLY_BAD_CODE;
        return MV_REPLY_ERROR;
    }
    if (p->r.lines > 0 && code != p->r.code) {
        p->error = MV_REPLY_MIXED_CODES;
        return MV_REPLY_ERROR;
    }
    last = n == 3 || s[3] == ' ';
    s += n > 3 ? 4 : 3;
    n -= n > 3 ? 4 : 3;
    if (p->r.lines++ == 0) {
        size_t e;

        p->r.code = code;
        e = parse_enh(&p->r, s, n);
        s += e;
        n -= e;
    }
    add_text(&p->r, s, n);
    p->line_len = 0;
    if (last)
        return MV_REPLY_DONE;
    if (p->r.lines >= MV_REPLY_LINES_MAX) {
        p->error = MV_REPLY_TOO_MANY_LINES;
        return MV_REPLY_ERROR;
    }
    return MV_REPLY_MORE;
}

/* mv_reply_feed - consume bytes; *used says how many (a reply may end mid-buffer) */
mv_reply_status mv_reply_feed(mv_reply_parser *p, const char *data, size_t len, size_t *used)
{
    size_t i = 0;

    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
        mv_reply_status st;

        if (p->line_len + n > MV_REPLY_LINE_MAX) {
            p->error = MV_REPLY_LONG_LINE;
            *used = i;
            return MV_REPLY_ERROR;
        }
        if (memchr(data + i, '\0', n) != NULL) {
            p->error = MV_REPLY_NUL;
            *used = i;
            return MV_REPLY_ERROR;
        }
        memcpy(p->line + p->line_len, data + i, n);
        p->line_len += n;
        i += n;
        if (nl == NULL)
            break;
        i++; /* the LF */
        if ((st = take_line(p)) != MV_REPLY_MORE) {
            *used = i;
            return st;
        }
    }
    *used = i;
    return MV_REPLY_MORE;
}
