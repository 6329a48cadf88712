/* SPDX-License-Identifier: MIT */
/*
 * passhdr.c - reading header values for pass-through; see passhdr.h.
 *
 * Content-Type and a part's Content-Disposition are read twice: strictly
 * (RFC 7231 parameters, where anything two parsers could take apart
 * differently is malformed) and laxly (every "key=value" a sloppy
 * parser could find, in every way it could read it), so that passform.c
 * can refuse what is ambiguous and still count every name a handler
 * might see. Field names are compared in one canonical form that folds
 * what PHP, Python's cgi and CGI.pm fold.
 */
#include "passhdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70 /* RFC 2046 */

/* hexval - a hex digit's value, or -1 */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* mv_ph_pct_at - the byte an escape at s[i] stands for, or -1 if none starts there */
int mv_ph_pct_at(const char *s, size_t n, size_t i)
{
    if (s[i] != '%' || i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
        return -1;
    return hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
}

/* mv_ph_lax_decode - %XX decoded where it is one, other bytes as they are (a
 * handler keeps a bad escape literally); "+" a space when plus; at most
 * size - 1 bytes out, NUL-terminated; the length */
size_t mv_ph_lax_decode(const char *s, size_t n, bool plus, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < size; i++) {
        int c = mv_ph_pct_at(s, n, i);

        if (c >= 0)
            i += 2;
        else
            c = s[i] == '+' && plus ? ' ' : (unsigned char)s[i];
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

/* mv_ph_in_set - is c one of the characters of set (never its NUL)? */
bool mv_ph_in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* ---- names -------------------------------------------------------------- */

/* closed - is there a "]" (or %5D) in s after i? */
static bool closed(const char *s, size_t n, size_t i, bool pct)
{
    for (; i < n; i++)
        if (s[i] == ']' || (pct && mv_ph_pct_at(s, n, i) == ']'))
            return true;
    return false;
}

/* pct_u_at - the character a "%uXXXX" escape at s[i] stands for (CGI.pm
 * decodes them, as IIS did), or -1 if none starts there; a character
 * beyond ASCII is 0x80 (it matches no ASCII name) */
static int pct_u_at(const char *s, size_t n, size_t i)
{
    int c = 0;

    if (s[i] != '%' || i + 5 >= n || (s[i + 1] | 32) != 'u')
        return -1;
    for (size_t k = i + 2; k < i + 6; k++) {
        if (hexval(s[k]) < 0)
            return -1;
        c = c << 4 | hexval(s[k]);
    }
    return c < 0x80 ? c : 0x80;
}

/* canon - the canonical name; at a "[" the name ends (an array), or with
 * php, only when a "]" follows: PHP reads an unclosed "[" as "_" */
static bool canon(const char *s, size_t n, bool pct, bool php, char out[MV_PH_NAME_MAX])
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = pct ? mv_ph_pct_at(s, n, i) : -1;

        if (c >= 0)
            i += 2;
        else if (pct && (c = pct_u_at(s, n, i)) >= 0)
            i += 5;
        else
            c = pct && s[i] == '+' ? ' ' : (unsigned char)s[i];
        if (c == '\0' || (c == '[' && (!php || closed(s, n, i + 1, pct))))
            break;
        if (o == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            continue;
        if (o + 1 >= MV_PH_NAME_MAX)
            return false;
        out[o++] = c == ' ' || c == '.' || c == '[' ? '_' : c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
    }
    out[o] = '\0';
    return true;
}

/* mv_ph_canon - a field name as the loosest reader sees it (passform.h): decoded
 * if pct, up to a NUL or "[", leading blanks dropped, " " and "." as "_",
 * ASCII case folded; false if longer than any name looked for */
bool mv_ph_canon(const char *s, size_t n, bool pct, char out[MV_PH_NAME_MAX])
{
    return canon(s, n, pct, false, out);
}

/* mv_ph_canon_is - is the name s[0..n) read as the canonical name want,
 * with a "[" ending it or, as PHP reads an unclosed one, as "_"? */
bool mv_ph_canon_is(const char *s, size_t n, bool pct, const char *want)
{
    char c[MV_PH_NAME_MAX];

    return (canon(s, n, pct, false, c) && strcmp(c, want) == 0) ||
           (canon(s, n, pct, true, c) && strcmp(c, want) == 0);
}

/* ---- header syntax ------------------------------------------------------ */

/* mv_ph_tchar - an RFC 7230 token character */
bool mv_ph_tchar(char c)
{
    return c > 32 && c < 127 && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* bchar - an RFC 2046 boundary character (space only inside), less ","
 * (CGI.pm's boundary ends there) */
static bool bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_-./:=? ", c) != NULL);
}


/* mv_ph_skip_ows - past spaces and tabs */
size_t mv_ph_skip_ows(const char *h, size_t n, size_t k)
{
    while (k < n && (h[k] == ' ' || h[k] == '\t'))
        k++;
    return k;
}

/* mv_ph_next_param - the next "; name=value" of h[*i..n): 1 with one, 0 at the
 * end, -1 if malformed. In a quoted value \" is a quote and any other
 * backslash is itself (as PHP reads it: a handler that also took \\ as
 * one backslash would end the string elsewhere, and then a parameter
 * after it would be seen by one parser only; such texts fail elsewhere
 * here: a stray quote or backslash outside quotes is malformed). */
int mv_ph_next_param(const char *h, size_t n, size_t *i, mv_ph_param *p)
{
    size_t k = mv_ph_skip_ows(h, n, *i);

    if (k == n)
        return 0;
    if (h[k] != ';')
        return -1;
    if ((k = mv_ph_skip_ows(h, n, k + 1)) == n) { /* a trailing ";" */
        *i = k;
        return 0;
    }
    p->name = h + k;
    while (k < n && mv_ph_tchar(h[k]))
        k++;
    p->nlen = (size_t)(h + k - p->name);
    if (p->nlen == 0 || k == n || h[k++] != '=')
        return -1;
    p->vlen = 0;
    if ((p->quoted = k < n && h[k] == '"')) {
        for (k++; k < n && h[k] != '"'; k++) {
            if (h[k] == '\\' && k + 1 < n && h[k + 1] == '"')
                k++;
            if (p->vlen + 1 >= sizeof(p->value))
                return -1;
            p->value[p->vlen++] = h[k];
        }
        if (k++ == n) /* never closed */
            return -1;
    } else {
        for (; k < n && mv_ph_tchar(h[k]); k++) {
            if (p->vlen + 1 >= sizeof(p->value))
                return -1;
            p->value[p->vlen++] = h[k];
        }
        if (p->vlen == 0)
            return -1;
    }
    p->value[p->vlen] = '\0';
    *i = k;
    return 1;
}

/* ---- lax readings -------------------------------------------------------- */


/* quoted_readings - the readings of a quoted value at h[k] == '"': up to
 * the next quote as it is, and with backslash escapes taken; *end past it */
static bool quoted_readings(const char *h, size_t n, size_t k, mv_ph_reading_fn fn, void *arg)
{
    char v[MV_PH_VALUE_MAX];
    size_t o = 0, e = k + 1;

    while (e < n && h[e] != '"')
        e++;
    if (!fn(arg, h + k + 1, e - k - 1))
        return false;
    if (memchr(h + k + 1, '\\', e - k - 1) == NULL)
        return true; /* no escapes: one reading */
    for (e = k + 1; e < n && h[e] != '"' && o + 1 < sizeof(v); e++) {
        if (h[e] == '\\' && e + 1 < n)
            e++;
        v[o++] = h[e];
    }
    v[o] = '\0';
    return fn(arg, v, o);
}

/* plain_readings - the readings of an unquoted value at h[k]: up to a
 * blank or ";" (CGI.pm), and also up to "," or a quote */
static bool plain_readings(const char *h, size_t n, size_t k, mv_ph_reading_fn fn, void *arg)
{
    size_t a = k, b = k;

    while (a < n && !mv_ph_in_set(h[a], " \t\n;"))
        a++;
    while (b < n && !mv_ph_in_set(h[b], " \t\n;,\""))
        b++;
    return fn(arg, h + k, a - k) && (a == b || fn(arg, h + k, b - k));
}

/* An RFC 2231 reading (charset'language'%XX) passed on decoded. */
typedef struct {
    mv_ph_reading_fn fn;
    void *arg;
} ext;

static bool ext_reading(void *arg, const char *v, size_t n)
{
    const ext *x = arg;
    const char *q1 = memchr(v, '\'', n), *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(v + n - q1 - 1)) : NULL;
    char d[MV_PH_VALUE_MAX];
    size_t dn;

    if (!x->fn(x->arg, v, n))
        return false;
    if (q2 == NULL)
        return true;
    dn = mv_ph_lax_decode(q2 + 1, (size_t)(v + n - q2 - 1), false, d, sizeof(d));
    return x->fn(x->arg, d, dn);
}

/* mv_ph_lax_readings - every reading of every "key=value" in h[0..n) where key
 * (any case) does not continue a longer word: "name" finds name=, name*=,
 * name*0*= and "; name = x", but not filename=. Blanks around "=" are
 * allowed; "*" forms are also read as RFC 2231. false if fn stopped. */
bool mv_ph_lax_readings(const char *h, size_t n, const char *key, mv_ph_reading_fn fn, void *arg)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i + kl <= n; i++) {
        size_t k = i + kl;
        bool star = false;
        ext x = {fn, arg};
        char b = i > 0 ? h[i - 1] : ' ';

        if (strncasecmp(h + i, key, kl) != 0 || (b >= '0' && b <= '9') ||
            ((b | 32) >= 'a' && (b | 32) <= 'z'))
            continue;
        for (; k < n && (h[k] == '*' || (h[k] >= '0' && h[k] <= '9')); k++)
            star = star || h[k] == '*';
        k = mv_ph_skip_ows(h, n, k);
        if (k == n || h[k] != '=')
            continue;
        k = mv_ph_skip_ows(h, n, k + 1);
        if (k < n && h[k] == '"' ? !quoted_readings(h, n, k, star ? ext_reading : fn, star ? (void *)&x : arg)
                                 : !plain_readings(h, n, k, star ? ext_reading : fn, star ? (void *)&x : arg))
            return false;
    }
    return true;
}

/* ---- types -------------------------------------------------------------- */

/* ascii_safe - a charset in which "@", ".", letters and digits are the
 * bytes they are in ASCII and never part of a longer character (so the
 * handler reads the address we read); an empty one is the default */
static bool ascii_safe(const char *v, size_t n)
{
    static const char *const exact[] = {"utf-8", "utf8", "us-ascii", "ascii", "latin1", "latin-1", NULL};
    static const char *const prefix[] = {"iso-8859-", "iso8859-", "iso_8859-", "windows-125", "cp125", NULL};

    if (n == 0)
        return true;
    for (size_t i = 0; exact[i] != NULL; i++)
        if (strlen(exact[i]) == n && strncasecmp(v, exact[i], n) == 0)
            return true;
    for (size_t i = 0; prefix[i] != NULL; i++)
        if (n > strlen(prefix[i]) && strncasecmp(v, prefix[i], strlen(prefix[i])) == 0)
            return true;
    return false;
}

static bool charset_reading(void *arg, const char *v, size_t n)
{
    bool *odd = arg;

    *odd = *odd || !ascii_safe(v, n);
    return true;
}

/* mv_ph_odd_charset - does any reading of a "charset" parameter in h name a
 * charset we cannot read addresses in? */
bool mv_ph_odd_charset(const char *h, size_t n)
{
    bool odd = false;

    mv_ph_lax_readings(h, n, "charset", charset_reading, &odd);
    return odd;
}

/* boundary_of - the one boundary of a multipart type c (its media type
 * n bytes long) into t->boundary, or leave it empty */
static void boundary_of(const char *c, size_t n, mv_pf_type *t)
{
    size_t i, len = strlen(c), seen = 0;
    const char *at = NULL, *php;
    mv_ph_param p;
    int r;

    for (i = n; (r = mv_ph_next_param(c, len, &i, &p)) == 1;) {
        if (p.nlen != 8 || strncasecmp(p.name, "boundary", 8) != 0)
            continue;
        if (seen++ > 0 || p.vlen < 1 || p.vlen > BOUNDARY_MAX || p.value[p.vlen - 1] == ' ')
            break;
        for (size_t k = 0; k < p.vlen; k++)
            if (!bchar(p.value[k]))
                seen++;
        if (seen == 1)
            memcpy(t->boundary, p.value, p.vlen + 1);
        at = p.name;
    }
    /* PHP takes the first "boundary" anywhere in the header (in this
     * case, or else in any case) up to its "=", CGI.pm the first
     * "boundary=": it must be this one */
    if ((php = strstr(c, "boundary")) == NULL)
        php = strcasestr(c, "boundary");
    if (r != 0 || seen != 1 || php != at || (strstr(c, "boundary=") != NULL && strstr(c, "boundary=") != at))
        t->boundary[0] = '\0';
}

/* mv_pf_type_of - the kind of a CONTENT_TYPE */
mv_pf_type mv_pf_type_of(const char *ctype)
{
    mv_pf_type t = {MV_PF_OTHER, ""};
    const char *c = ctype != NULL ? ctype : "";
    size_t n;

    c += strspn(c, " \t");
    n = strcspn(c, ";, \t"); /* the media type ends as PHP ends it */
    if (*c == '\0' || strncasecmp(c, "application/x-www-form-urlencoded", 33) == 0)
        t.kind = MV_PF_URLENCODED;
    else if (strncasecmp(c, "multipart/", 10) == 0)
        t.kind = MV_PF_MULTIPART;
    else
        return t;
    if (mv_ph_odd_charset(c, strlen(c)))
        t.kind = MV_PF_UNREADABLE;
    else if (t.kind == MV_PF_MULTIPART)
        /* no usable boundary leaves it empty, which every function
         * takes as malformed (never as a body to hand on unread) */
        boundary_of(c, n, &t);
    return t;
}
