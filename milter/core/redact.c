/* SPDX-License-Identifier: MIT */
/*
 * redact.c - mask secrets before text leaves the process; see redact.h.
 *
 * A URL is split as libcurl and browsers split it: scheme "://", then the
 * authority up to the first '/', '?', '#' or '\', whose last '@' ends the
 * userinfo; then path, query, fragment. When the authority is malformed
 * (a port that is not digits, as in "https://bob:pa/ss@host/" where the
 * password holds a raw '/'), we cannot tell where the credentials end, so
 * everything up to the last '@' anywhere is masked: a URL shown masked too
 * much only costs recognition, one shown masked too little costs a secret.
 *
 * Query values are all masked, names kept: a webhook receiver's token
 * (?token=, ?key=, ?sig=, ?code=, ...) has no name we could list in full,
 * and the names are what tells an admin which URL it is. Path segments
 * stay: some services put a token in the path (/hooks/T0/B0/XYZ), but the
 * path is also the only thing that tells two hooks on one host apart.
 */
#include "redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the parts of a URL start, as offsets into it. */
typedef struct {
    size_t auth;   /* the authority (after "scheme://", or 0) */
    size_t ui_end; /* just past the userinfo's '@'; auth if there is none */
    size_t path;   /* the end of the authority */
    size_t query;  /* the '?', or frag when there is no query */
    size_t frag;   /* the '#', or len */
    size_t len;
} url_parts;

/* scheme_end - just past "scheme://" (or a leading "//"); 0 if neither */
static size_t scheme_end(const char *u)
{
    size_t i = 0;

    if (u[0] == '/' && u[1] == '/')
        return 2;
    if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
        return 0;
    i = 1 + strspn(u + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return strncmp(u + i, "://", 3) == 0 ? i + 3 : 0;
}

/* all_digits - n bytes of decimal digits (none is fine: "host:" is legal) */
static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* authority_ok - "host", "host:port", "[v6]" or "[v6]:port" with no '@' */
static bool authority_ok(const char *a, size_t n)
{
    const char *close, *colon = NULL;

    if (n > 0 && a[0] == '[') {
        if ((close = memchr(a, ']', n)) == NULL)
            return false;
        n -= (size_t)(close + 1 - a);
        a = close + 1;
        return n == 0 || (a[0] == ':' && all_digits(a + 1, n - 1));
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] == ':')
            colon = a + i;
    /* a bare IPv6 address ("::1") ends in hex digits after its last ':' */
    return colon == NULL || all_digits(colon + 1, n - (size_t)(colon + 1 - a));
}

/* last_at - offset just past the last '@' in [from, to); 0 if none */
static size_t last_at(const char *u, size_t from, size_t to)
{
    for (size_t i = to; i > from; i--)
        if (u[i - 1] == '@')
            return i;
    return 0;
}

/* split - find the parts of u */
static void split(const char *u, url_parts *p)
{
    size_t at;

    p->len = strlen(u);
    p->auth = scheme_end(u);
    p->path = p->auth + strcspn(u + p->auth, "/?#\\");
    if ((at = last_at(u, p->auth, p->path)) == 0 && !authority_ok(u + p->auth, p->path - p->auth) &&
        (at = last_at(u, p->path, p->len)) != 0)
        p->path = at + strcspn(u + at, "/?#\\"); /* malformed: see the top */
    p->ui_end = at != 0 ? at : p->auth;
    p->frag = p->path + strcspn(u + p->path, "#");
    p->query = p->path + strcspn(u + p->path, "?#");
}

/* A bounded output: what does not fit is dropped. */
typedef struct {
    char *p;
    size_t size, len;
} sink;

/* put - append n bytes, as many as fit */
static void put(sink *s, const char *b, size_t n)
{
    size_t room = s->size - 1 - s->len;

    if (n > room)
        n = room;
    memcpy(s->p + s->len, b, n);
    s->len += n;
    s->p[s->len] = '\0';
}

/* put_query - "?a=1&b" as "?a=***&***": names kept, values masked */
static void put_query(sink *s, const char *q, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t m = strcspn(q + i, "&;#");
        const char *eq;

        if (m > n - i)
            m = n - i;
        eq = memchr(q + i, '=', m);
        if (eq != NULL)
            put(s, q + i, (size_t)(eq + 1 - (q + i)));
        if ((eq != NULL && eq + 1 < q + i + m) || (eq == NULL && m > 0))
            put(s, MV_REDACT_MASK, strlen(MV_REDACT_MASK));
        i += m;
        if (i < n)
            put(s, q + i++, 1); /* the separator */
    }
}

/* mv_redact_url - url with userinfo, query values and fragment masked */
char *mv_redact_url(const char *url, char *out, size_t size)
{
    sink s = {out, size, 0};
    url_parts p;

    if (size == 0)
        return out;
    out[0] = '\0';
    if (url == NULL)
        return out;
    split(url, &p);
    put(&s, url, p.auth);
    if (p.ui_end > p.auth)
        put(&s, MV_REDACT_MASK "@", strlen(MV_REDACT_MASK) + 1);
    put(&s, url + p.ui_end, p.query - p.ui_end);
    if (p.query < p.frag) {
        put(&s, "?", 1);
        put_query(&s, url + p.query + 1, p.frag - p.query - 1);
    }
    if (p.frag < p.len)
        put(&s, p.frag + 1 < p.len ? "#" MV_REDACT_MASK : "#", p.frag + 1 < p.len ? 4 : 1);
    return out;
}

/* mv_redact_scrub - every occurrence of secret in text becomes the mask */
size_t mv_redact_scrub(char *text, size_t size, const char *secret, size_t n)
{
    const size_t m = strlen(MV_REDACT_MASK);
    size_t count = 0, len, pos = 0;
    char *at;

    if (text == NULL || size == 0 || secret == NULL || n == 0)
        return 0;
    len = strnlen(text, size - 1);
    text[len] = '\0';
    while ((at = memmem(text + pos, len - pos, secret, n)) != NULL) {
        size_t room, mk, tail, keep;

        pos = (size_t)(at - text);
        room = size - 1 - pos; /* >= n: the secret was inside */
        mk = m < room ? m : room;
        tail = len - pos - n;
        keep = tail < room - mk ? tail : room - mk;
        memmove(text + pos + mk, at + n, keep);
        memcpy(text + pos, MV_REDACT_MASK, mk);
        len = pos + mk + keep;
        text[len] = '\0';
        pos += mk;
        count++;
    }
    return count;
}

/* hexval - a hex digit's value, or -1 */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* decode - percent-decode n bytes into out (n bytes of room); its length */
static size_t decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi = -1, lo = -1;

        if (s[i] == '%' && i + 2 < n) {
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
        }

        if (hi >= 0 && lo >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* Parts of a URL shorter than this are scrubbed only as part of a larger
 * one: a one-letter user name would otherwise mask every such letter of
 * the message, and libraries do not quote a user or password alone. */
#define PART_MIN 4

/* scrub_part - the n bytes at s, as written and decoded; false on ENOMEM */
static bool scrub_part(char *text, size_t size, const char *s, size_t n)
{
    char *d;

    if (n < PART_MIN)
        return true;
    mv_redact_scrub(text, size, s, n);
    if (memchr(s, '%', n) == NULL)
        return true;
    if ((d = malloc(n)) == NULL)
        return false;
    mv_redact_scrub(text, size, d, decode(s, n, d));
    free(d);
    return true;
}

/* scrub_query - each value of the query (and the fragment) */
static bool scrub_query(char *text, size_t size, const char *q, size_t n)
{
    bool ok = true;

    for (size_t i = 0; i < n;) {
        size_t m = strcspn(q + i, "&;#");
        const char *eq;

        if (m > n - i)
            m = n - i;
        eq = memchr(q + i, '=', m);
        if (eq != NULL)
            ok &= scrub_part(text, size, eq + 1, (size_t)(q + i + m - (eq + 1)));
        else
            ok &= scrub_part(text, size, q + i, m);
        i += m + 1;
    }
    return ok;
}

/* mv_redact_scrub_url - scrub text of url's userinfo, its parts, query values */
void mv_redact_scrub_url(char *text, size_t size, const char *url)
{
    static const char withheld[] = "(message withheld: out of memory while masking it)";
    url_parts p;
    bool ok = true;

    if (text == NULL || size == 0 || url == NULL)
        return;
    split(url, &p);
    if (p.ui_end > p.auth) {
        const char *ui = url + p.auth, *colon;
        size_t n = p.ui_end - 1 - p.auth;

        mv_redact_scrub(text, size, ui, n);
        colon = memchr(ui, ':', n);
        ok &= scrub_part(text, size, ui, colon ? (size_t)(colon - ui) : n);
        if (colon != NULL)
            ok &= scrub_part(text, size, colon + 1, n - (size_t)(colon + 1 - ui));
    }
    if (p.query < p.frag)
        ok &= scrub_query(text, size, url + p.query + 1, p.frag - p.query - 1);
    if (p.frag + 1 < p.len)
        ok &= scrub_part(text, size, url + p.frag + 1, p.len - p.frag - 1);
    if (!ok)
        snprintf(text, size, "%s", withheld);
}
