/*
 * passform.c - form fields for pass-through; see passform.h.
 *
 * URL-encoded text is read twice, split on "&" and then on "&" and ";";
 * names and values are decoded ("+" is a space, %XX a byte).
 * multipart/form-data (RFC 7578) is walked delimiter by delimiter: a part
 * runs from its "--boundary" line to the CRLF before the next one, so
 * removing a part is cutting one span and adding one is inserting a span
 * before the closing "--boundary--". A part's headers are parsed
 * strictly (anything two parsers could read differently is malformed)
 * and then scanned laxly for every name a sloppier parser could find in
 * them: the part counts as each of those fields. Names are compared in a
 * canonical form that folds what PHP, Python and CGI.pm fold (and case).
 * At most MV_FORM_FIELDS_MAX fields: more is malformed.
 *
 * The handler behind pass-through parses the same bytes with its own
 * parser (PHP, CGI.pm, Python, Go, ...): what is read here for a field is
 * a superset of what they read, and wherever a superset cannot be had
 * the text is malformed here (mv_pf_each says false and the plugin
 * answers 400) rather than guessed at. passform.h lists what that means;
 * tests/passdiff runs the real parsers against it.
 */
#include "passform.h"
#include "formparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NPOS ((size_t)-1)
#define BOUNDARY_MAX 70         /* RFC 2046 */
#define HDR_MAX 2048            /* a parameter's value */
#define BLOCK_MAX 8192          /* a part's unfolded header block */
#define NAME_MAX_LEN 256        /* an added field's name, with its NUL; a canonical name */

/* hexval - a hex digit's value, or -1 */
static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* pct_decode - %XX and "+" decoded into out (NUL-terminated); false if
 * malformed or longer than size - 1 (formparse's decoder: one rule for
 * the plugin's own endpoints and for pass-through) */
static bool pct_decode(const char *s, size_t n, char *out, size_t size, size_t *outlen)
{
    return mv_form_url_decode(s, n, out, size, outlen) == MV_FORM_OK;
}

/* pct_at - the byte an escape at s[i] stands for, or -1 if none starts there */
static int pct_at(const char *s, size_t n, size_t i)
{
    if (s[i] != '%' || i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
        return -1;
    return hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
}

/* lax_decode - %XX decoded where it is one, other bytes as they are (a
 * handler keeps a bad escape literally); "+" a space when plus; at most
 * size - 1 bytes out, NUL-terminated; the length */
static size_t lax_decode(const char *s, size_t n, bool plus, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < size; i++) {
        int c = pct_at(s, n, i);

        if (c >= 0)
            i += 2;
        else
            c = s[i] == '+' && plus ? ' ' : (unsigned char)s[i];
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

/* in_set - is c one of the characters of set (never its NUL)? */
static bool in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* ---- names -------------------------------------------------------------- */

/* canon - a field name as the loosest reader sees it (passform.h): decoded
 * if pct, up to a NUL or "[", leading blanks dropped, " " and "." as "_",
 * ASCII case folded; false if longer than any name looked for */
static bool canon(const char *s, size_t n, bool pct, char out[NAME_MAX_LEN])
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = pct ? pct_at(s, n, i) : -1;

        if (c >= 0)
            i += 2;
        else
            c = pct && s[i] == '+' ? ' ' : (unsigned char)s[i];
        if (c == '\0' || c == '[')
            break;
        if (o == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            continue;
        if (o + 1 >= NAME_MAX_LEN)
            return false;
        out[o++] = c == ' ' || c == '.' ? '_' : c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
    }
    out[o] = '\0';
    return true;
}

/* canon_is - is the name s[0..n) read as the canonical name want? */
static bool canon_is(const char *s, size_t n, bool pct, const char *want)
{
    char c[NAME_MAX_LEN];

    return canon(s, n, pct, c) && strcmp(c, want) == 0;
}

/* ---- header syntax ------------------------------------------------------ */

/* tchar - an RFC 7230 token character */
static bool tchar(char c)
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

/* A parameter of a header value: name=value, the value unquoted. */
typedef struct {
    const char *name;
    size_t nlen;
    char value[HDR_MAX];
    size_t vlen;
    bool quoted;
} param;

/* skip_ows - past spaces and tabs */
static size_t skip_ows(const char *h, size_t n, size_t k)
{
    while (k < n && (h[k] == ' ' || h[k] == '\t'))
        k++;
    return k;
}

/* next_param - the next "; name=value" of h[*i..n): 1 with one, 0 at the
 * end, -1 if malformed. In a quoted value \" is a quote and any other
 * backslash is itself (as PHP reads it: a handler that also took \\ as
 * one backslash would end the string elsewhere, and then a parameter
 * after it would be seen by one parser only; such texts fail elsewhere
 * here: a stray quote or backslash outside quotes is malformed). */
static int next_param(const char *h, size_t n, size_t *i, param *p)
{
    size_t k = skip_ows(h, n, *i);

    if (k == n)
        return 0;
    if (h[k] != ';')
        return -1;
    if ((k = skip_ows(h, n, k + 1)) == n) {    /* a trailing ";" */
        *i = k;
        return 0;
    }
    p->name = h + k;
    while (k < n && tchar(h[k]))
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
        if (k++ == n)                           /* never closed */
            return -1;
    } else {
        for (; k < n && tchar(h[k]); k++) {
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

/* Called with each reading of a value (NUL-terminated); false stops. */
typedef bool (*reading_fn)(void *arg, const char *v, size_t n);

/* quoted_readings - the readings of a quoted value at h[k] == '"': up to
 * the next quote as it is, and with backslash escapes taken; *end past it */
static bool quoted_readings(const char *h, size_t n, size_t k, reading_fn fn, void *arg)
{
    char v[HDR_MAX];
    size_t o = 0, e = k + 1;

    while (e < n && h[e] != '"')
        e++;
    if (!fn(arg, h + k + 1, e - k - 1))
        return false;
    if (memchr(h + k + 1, '\\', e - k - 1) == NULL)
        return true;            /* no escapes: one reading */
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
static bool plain_readings(const char *h, size_t n, size_t k, reading_fn fn, void *arg)
{
    size_t a = k, b = k;

    while (a < n && !in_set(h[a], " \t\n;"))
        a++;
    while (b < n && !in_set(h[b], " \t\n;,\""))
        b++;
    return fn(arg, h + k, a - k) && (a == b || fn(arg, h + k, b - k));
}

/* An RFC 2231 reading (charset'language'%XX) passed on decoded. */
typedef struct {
    reading_fn fn;
    void *arg;
} ext;

static bool ext_reading(void *arg, const char *v, size_t n)
{
    const ext *x = arg;
    const char *q1 = memchr(v, '\'', n), *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(v + n - q1 - 1)) : NULL;
    char d[HDR_MAX];
    size_t dn;

    if (!x->fn(x->arg, v, n))
        return false;
    if (q2 == NULL)
        return true;
    dn = lax_decode(q2 + 1, (size_t)(v + n - q2 - 1), false, d, sizeof(d));
    return x->fn(x->arg, d, dn);
}

/* lax_readings - every reading of every "key=value" in h[0..n) where key
 * (any case) does not continue a longer word: "name" finds name=, name*=,
 * name*0*= and "; name = x", but not filename=. Blanks around "=" are
 * allowed; "*" forms are also read as RFC 2231. false if fn stopped. */
static bool lax_readings(const char *h, size_t n, const char *key, reading_fn fn, void *arg)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i + kl <= n; i++) {
        size_t k = i + kl;
        bool star = false;
        ext x = {fn, arg};
        char b = i > 0 ? h[i - 1] : ' ';

        if (strncasecmp(h + i, key, kl) != 0 || (b >= '0' && b <= '9') || ((b | 32) >= 'a' && (b | 32) <= 'z'))
            continue;
        for (; k < n && (h[k] == '*' || (h[k] >= '0' && h[k] <= '9')); k++)
            star = star || h[k] == '*';
        k = skip_ows(h, n, k);
        if (k == n || h[k] != '=')
            continue;
        k = skip_ows(h, n, k + 1);
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

/* odd_charset - does any reading of a "charset" parameter in h name a
 * charset we cannot read addresses in? */
static bool odd_charset(const char *h, size_t n)
{
    bool odd = false;

    lax_readings(h, n, "charset", charset_reading, &odd);
    return odd;
}

/* boundary_of - the one boundary of a multipart type c (its media type
 * n bytes long) into t->boundary, or leave it empty */
static void boundary_of(const char *c, size_t n, mv_pf_type *t)
{
    size_t i, len = strlen(c), seen = 0;
    const char *at = NULL, *php;
    param p;
    int r;

    for (i = n; (r = next_param(c, len, &i, &p)) == 1;) {
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
    n = strcspn(c, ";, \t");                    /* the media type ends as PHP ends it */
    if (*c == '\0' || strncasecmp(c, "application/x-www-form-urlencoded", 33) == 0)
        t.kind = MV_PF_URLENCODED;
    else if (strncasecmp(c, "multipart/", 10) == 0)
        t.kind = MV_PF_MULTIPART;
    else
        return t;
    if (odd_charset(c, strlen(c)))
        t.kind = MV_PF_UNREADABLE;
    else if (t.kind == MV_PF_MULTIPART)
        /* no usable boundary leaves it empty, which every function
         * takes as malformed (never as a body to hand on unread) */
        boundary_of(c, n, &t);
    return t;
}

/* ---- walking the fields ------------------------------------------------- */

/* A field of either encoding: its name, value and whole span. */
typedef struct {
    const char *rname;          /* urlencoded: the name as sent */
    size_t rname_len;
    char name[HDR_MAX];         /* multipart: the strict name parameter */
    bool named;                 /* multipart: it has one */
    char hdr[BLOCK_MAX];        /* multipart: the unfolded headers, "\n" between lines */
    size_t hlen;
    bool odd;                   /* multipart: a transfer encoding or charset we cannot read */
    const char *value;
    size_t value_len;
    size_t start, end;          /* the bytes to cut to remove it */
    bool encoded;               /* the value is %-encoded (urlencoded) */
} field;

/* A walk over the fields. */
typedef struct {
    const mv_pf_type *t;
    const char *s;
    size_t len, pos, count;
    const char *seps;           /* urlencoded: "&", or "&;" */
    bool started, done, bad;
    size_t close_at;            /* multipart: where "--boundary--" starts */
    char delim[80];             /* multipart: "--boundary" */
    size_t dn;
} walker;

/* walk_init - a walk over s[0..len) of type t (urlencoded: split on seps) */
static void walk_init(walker *w, const mv_pf_type *t, const char *s, size_t len, const char *seps)
{
    size_t bl = strnlen(t->boundary, sizeof(t->boundary));

    memset(w, 0, sizeof(*w));
    w->t = t;
    w->s = s != NULL ? s : "";
    w->len = s != NULL ? len : 0;
    w->seps = seps;
    if (t->kind == MV_PF_MULTIPART) {
        if (bl == 0 || bl > BOUNDARY_MAX) {
            w->bad = w->done = true;
        } else {
            memcpy(w->delim, "--", 2);
            memcpy(w->delim + 2, t->boundary, bl);
            w->dn = bl + 2;
        }
    } else if (t->kind != MV_PF_URLENCODED) {
        w->bad = t->kind == MV_PF_UNREADABLE;
        w->done = true;
    }
}

/* find - the first n-byte needle at or after from, or NPOS */
static size_t find(const char *s, size_t len, size_t from, const char *needle, size_t n)
{
    const char *p = from <= len ? memmem(s + from, len - from, needle, n) : NULL;

    return p ? (size_t)(p - s) : NPOS;
}

/* next_urlencoded - the next pair; false at the end */
static bool next_urlencoded(walker *w, field *f)
{
    while (!w->done) {
        const char *p = w->s + w->pos, *eq;
        size_t rest = w->len - w->pos, seg = 0;

        while (seg < rest && !in_set(p[seg], w->seps))
            seg++;
        f->start = w->pos;
        f->end = w->pos + seg;
        w->done = seg == rest;
        w->pos += seg + 1;
        if (seg == 0)
            continue;
        if (++w->count > MV_FORM_FIELDS_MAX) {
            w->bad = w->done = true;
            return false;
        }
        eq = memchr(p, '=', seg);
        f->rname = p;
        f->rname_len = eq ? (size_t)(eq - p) : seg;
        f->value = eq ? eq + 1 : p + seg;
        f->value_len = eq ? (size_t)(p + seg - (eq + 1)) : 0;
        f->encoded = true;
        return true;
    }
    return false;
}

/* disposition - the strict name from a Content-Disposition value */
static bool disposition(const char *cd, size_t n, field *f)
{
    size_t i = skip_ows(cd, n, 0), start = i;
    bool have_fn = false;
    param p;
    int r;

    while (i < n && tchar(cd[i]))                /* form-data (any type: PHP ignores it) */
        i++;
    if (i == start)
        return false;
    while ((r = next_param(cd, n, &i, &p)) == 1) {
        bool is_name = p.nlen == 4 && strncasecmp(p.name, "name", 4) == 0;
        bool is_fn = p.nlen == 8 && strncasecmp(p.name, "filename", 8) == 0;

        if (!is_name && !is_fn)
            continue;
        /* name='x' is x to PHP */
        if (!p.quoted && memchr(p.value, '\'', p.vlen) != NULL)
            return false;
        if (is_name) {
            if (f->named)
                return false;
            f->named = true;
            memcpy(f->name, p.value, p.vlen + 1);
        } else {
            if (have_fn)
                return false;
            have_fn = true;
        }
    }
    return r == 0;
}

/* unfold - the header block h[0..n) (each line ending in CRLF) into
 * f->hdr, one logical line per "\n": no NUL, no bare CR or LF, no line of
 * blanks only (Python's cgi ends the headers there), no fold first */
static bool unfold(const char *h, size_t n, field *f)
{
    size_t i = 0;

    f->hlen = 0;
    if (memchr(h, '\0', n) != NULL)
        return false;
    while (i < n) {
        size_t eol = find(h, n, i, "\r\n", 2), ll;
        const char *l = h + i;
        bool fold;

        if (eol == NPOS)
            return false;
        ll = eol - i;
        i = eol + 2;
        fold = ll > 0 && (l[0] == ' ' || l[0] == '\t');
        if (memchr(l, '\r', ll) != NULL || memchr(l, '\n', ll) != NULL || skip_ows(l, ll, 0) == ll ||
            (fold && f->hlen == 0) || f->hlen + ll + 1 >= sizeof(f->hdr))
            return false;
        if (!fold && f->hlen > 0)
            f->hdr[f->hlen++] = '\n';
        memcpy(f->hdr + f->hlen, l, ll);
        f->hlen += ll;
    }
    f->hdr[f->hlen] = '\0';
    return true;
}

/* is_header - is the line l[0..colon) the header called name? */
static bool is_header(const char *l, const char *colon, const char *name)
{
    return (size_t)(colon - l) == strlen(name) && strncasecmp(l, name, strlen(name)) == 0;
}

/* header_line - one logical header line: names are tokens; one
 * Content-Disposition; a part that is a form itself is malformed; an
 * encoding or charset we cannot read marks it odd */
static bool header_line(const char *l, size_t ll, field *f, bool *have_cd)
{
    const char *colon = memchr(l, ':', ll), *v;
    size_t vn;

    if (colon == NULL || colon == l)
        return false;
    for (const char *p = l; p < colon; p++)
        if (!tchar(*p))
            return false;
    v = colon + 1 + skip_ows(colon + 1, (size_t)(l + ll - colon - 1), 0);
    vn = (size_t)(l + ll - v);
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (is_header(l, colon, "content-disposition")) {
        if (*have_cd)
            return false;
        *have_cd = true;
        return disposition(v, vn, f);
    }
    if (is_header(l, colon, "content-type")) {
        if (strncasecmp(v, "multipart/", 10) == 0 || strncasecmp(v, "application/x-www-form-urlencoded", 33) == 0)
            return false;
        f->odd = f->odd || odd_charset(v, vn);
    } else if (is_header(l, colon, "content-transfer-encoding")) {
        f->odd = f->odd || !((vn == 4 && strncasecmp(v, "7bit", 4) == 0) || (vn == 4 && strncasecmp(v, "8bit", 4) == 0) ||
                             (vn == 6 && strncasecmp(v, "binary", 6) == 0));
    }
    return true;
}

/* headers - a part's header block h[0..n): unfolded into f->hdr and
 * checked line by line */
static bool headers(const char *h, size_t n, field *f)
{
    bool have_cd = false;
    size_t i = 0;

    f->named = f->odd = false;
    f->name[0] = '\0';
    if (!unfold(h, n, f))
        return false;
    while (i < f->hlen) {
        const char *l = f->hdr + i, *nl = memchr(l, '\n', f->hlen - i);
        size_t ll = nl ? (size_t)(nl - l) : f->hlen - i;

        if (!header_line(l, ll, f, &have_cd))
            return false;
        i += ll + 1;
    }
    return true;
}

/* next_multipart - the next part; false at the end. Every "--boundary"
 * in the text must start a delimiter line: at the start or after CRLF,
 * then optional blanks and CRLF, or "--" once, for the close; none after
 * that. (PHP and Go also take "\n--boundary" as a delimiter, CGI.pm
 * "--boundary" anywhere, PHP reads on after the close.) */
static bool next_multipart(walker *w, field *f)
{
    const char *s = w->s;
    size_t after, hs, vs, d, cend, h;

    if (w->done)
        return false;
    if (!w->started) {                  /* the first delimiter: at the start or after a preamble */
        w->started = true;
        if ((d = find(s, w->len, 0, w->delim, w->dn)) == NPOS ||
            (d > 0 && (d < 2 || memcmp(s + d - 2, "\r\n", 2) != 0)))
            goto bad;
        w->pos = d;
    }
    after = w->pos + w->dn;
    if (after + 2 <= w->len && memcmp(s + after, "--", 2) == 0) {
        if (find(s, w->len, after + 2, w->delim, w->dn) != NPOS)
            goto bad;                   /* the boundary in the epilogue */
        w->close_at = w->pos;
        w->done = true;
        return false;
    }
    after = skip_ows(s, w->len, after);
    if (after + 2 > w->len || memcmp(s + after, "\r\n", 2) != 0)
        goto bad;
    hs = after + 2;
    if ((d = find(s, w->len, hs, w->delim, w->dn)) == NPOS || d < hs + 2 || memcmp(s + d - 2, "\r\n", 2) != 0)
        goto bad;                       /* no closing delimiter, or the boundary inside the part */
    cend = d - 2;
    if (hs + 2 <= cend && memcmp(s + hs, "\r\n", 2) == 0)
        vs = hs + 2;                    /* no headers */
    else if ((h = find(s, cend, hs, "\r\n\r\n", 4)) != NPOS)
        vs = h + 4;
    else
        goto bad;
    if (++w->count > MV_FORM_FIELDS_MAX || !headers(s + hs, vs - 2 - hs, f))
        goto bad;
    f->rname = NULL;
    f->rname_len = 0;
    f->start = w->pos;
    f->end = cend + 2;
    f->value = s + vs;
    f->value_len = cend - vs;
    f->encoded = false;
    w->pos = cend + 2;
    return true;
bad:
    w->bad = w->done = true;
    return false;
}

/* next - the next field of either kind */
static bool next(walker *w, field *f)
{
    return w->t->kind == MV_PF_URLENCODED ? next_urlencoded(w, f)
         : w->t->kind == MV_PF_MULTIPART ? next_multipart(w, f) : false;
}

/* A search for one canonical name among a part's lax readings. */
typedef struct {
    const char *want;
    bool found;
} seek;

static bool seek_reading(void *arg, const char *v, size_t n)
{
    seek *k = arg;

    k->found = k->found || canon_is(v, n, false, k->want);
    return !k->found;
}

/* content_id - CGI.pm names multipart/related parts by their Content-ID */
static bool content_id(const field *f, seek *k)
{
    for (size_t i = 0; i < f->hlen; i = (size_t)(strchrnul(f->hdr + i, '\n') - f->hdr) + 1) {
        const char *l = f->hdr + i, *e = strchrnul(l, '\n');
        size_t a = 11, b = (size_t)(e - l);

        if (b < 11 || strncasecmp(l, "content-id:", 11) != 0)
            continue;
        a = skip_ows(l, b, a);
        while (b > a && (l[b - 1] == ' ' || l[b - 1] == '\t'))
            b--;
        if (b > a + 1 && l[a] == '<' && l[b - 1] == '>')
            a++, b--;
        seek_reading(k, l + a, b - a);
    }
    return k->found;
}

/* field_is - could f be read as the field whose canonical name is want? */
static bool field_is(const field *f, const char *want)
{
    seek k = {want, false};

    if (f->encoded)
        return canon_is(f->rname, f->rname_len, true, want);
    if (f->named && canon_is(f->name, strlen(f->name), false, want))
        return true;
    lax_readings(f->hdr, f->hlen, "name", seek_reading, &k);
    return k.found || content_id(f, &k);
}

/* ---- reading values ----------------------------------------------------- */

/* A reading of a wanted field's value handed to the caller. */
typedef struct {
    mv_pf_each_fn fn;
    void *arg;
    size_t max;
    bool ok, stop;
} out;

/* give - one value, NUL-terminated, to the caller: over max is malformed */
static bool give(void *arg, const char *v, size_t n)
{
    out *o = arg;
    char *c;

    if (n > o->max) {
        o->ok = false;
        return false;
    }
    if ((c = malloc(n + 1)) == NULL) {
        o->ok = false;
        return false;
    }
    memcpy(c, v, n);
    c[n] = '\0';
    o->stop = !o->fn(o->arg, c, n);
    free(c);
    return !o->stop;
}

/* give_filename - a filename reading, and the part after its last "/"
 * and after its last "\" (PHP keeps only that) */
static bool give_filename(void *arg, const char *v, size_t n)
{
    const char *s = memrchr(v, '/', n), *b = memrchr(v, '\\', n);

    if (n == 0)
        return true;            /* filename="": no file, nothing to read */
    return give(arg, v, n) && (s == NULL || give(arg, s + 1, (size_t)(v + n - s - 1))) &&
           (b == NULL || give(arg, b + 1, (size_t)(v + n - b - 1)));
}

/* each_value - the values of a wanted field: a urlencoded value decoded
 * (a bad escape is malformed); a part's content and every reading of its
 * filename (a part in an encoding or charset we cannot read is malformed) */
static bool each_value(const field *f, out *o)
{
    size_t n;
    char *buf;

    if (!f->encoded) {
        if (f->odd)
            return o->ok = false;
        return give(o, f->value, f->value_len) && lax_readings(f->hdr, f->hlen, "filename", give_filename, o);
    }
    if ((buf = malloc(f->value_len + 1)) == NULL)
        return o->ok = false;
    if (!pct_decode(f->value, f->value_len, buf, f->value_len + 1, &n))
        o->ok = false;
    else
        give(o, buf, n);
    free(buf);
    return o->ok && !o->stop;
}

/* each_reading - every value of the wanted field in one reading of the text */
static bool each_reading(const mv_pf_type *t, const char *s, size_t len, const char *seps, const char *want,
                         out *o)
{
    walker w;
    field f;

    walk_init(&w, t, s, len, seps);
    while (next(&w, &f)) {
        /* split on ";" too: a pair between two "&" was read already */
        if (seps[1] != '\0' && (f.start == 0 || s[f.start - 1] == '&') && (f.end == len || s[f.end] == '&'))
            continue;
        if (field_is(&f, want) && !each_value(&f, o))
            break;
    }
    if (w.bad)
        o->ok = false;
    return o->ok && !o->stop;
}

/* mv_pf_each - every value any handler could read for the field name */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg)
{
    out o = {fn, arg, max, true, false};
    char want[NAME_MAX_LEN];

    if (!canon(name, strlen(name), false, want))
        return false;
    if (each_reading(t, s, len, "&", want, &o) && t->kind == MV_PF_URLENCODED && memchr(s, ';', len) != NULL)
        each_reading(t, s, len, "&;", want, &o);
    return o.ok;
}

/* mv_pf_cookie_each - every value of a cookie that could be read as name */
bool mv_pf_cookie_each(const char *cookie, const char *name, size_t max, mv_pf_each_fn fn, void *arg)
{
    out o = {fn, arg, max, true, false};
    char want[NAME_MAX_LEN];
    const char *p = cookie != NULL ? cookie : "";

    if (!canon(name, strlen(name), false, want))
        return false;
    while (*p != '\0' && o.ok && !o.stop) {
        size_t seg = strcspn(p, ";"), nl = strcspn(p, "=;");
        const char *v = p + nl + 1;
        size_t vn = nl < seg ? seg - nl - 1 : 0;

        if (nl < seg && canon_is(p, nl, true, want)) {
            char *d = malloc(vn + 1);
            size_t dn;

            v += skip_ows(v, vn, 0);
            vn = (size_t)(p + seg - v);
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (d == NULL) {
                o.ok = false;
                break;
            }
            if (give(&o, v, vn) && (dn = lax_decode(v, vn, true, d, vn + 1)) > 0 &&
                (dn != vn || memcmp(d, v, vn) != 0))
                give(&o, d, dn);
            if (o.ok && !o.stop && (dn = lax_decode(v, vn, false, d, vn + 1)) > 0 &&
                (dn != vn || memcmp(d, v, vn) != 0))
                give(&o, d, dn);
            free(d);
        }
        p += seg + (p[seg] != '\0');
    }
    return o.ok;
}

/* ---- changing the text -------------------------------------------------- */

/* strip_urlencoded - keep the other segments (split on "&" and ";"),
 * each with the separator before it as it was; a removed one takes the
 * separator before it (or, first, the one after it) */
static size_t strip_urlencoded(char *s, size_t len, const char *want)
{
    size_t o = 0, pos = 0;
    bool kept = false;

    for (;;) {
        size_t seg = 0;
        char *eq;

        while (pos + seg < len && s[pos + seg] != '&' && s[pos + seg] != ';')
            seg++;
        eq = memchr(s + pos, '=', seg);
        if (seg == 0 || !canon_is(s + pos, eq ? (size_t)(eq - (s + pos)) : seg, true, want)) {
            if (kept)
                s[o++] = s[pos - 1];    /* o < pos: not yet overwritten */
            memmove(s + o, s + pos, seg);
            o += seg;
            kept = true;
        }
        if (pos + seg >= len)
            break;
        pos += seg + 1;
    }
    return o;
}

/* mv_pf_strip - remove every field that could be read as name, in place */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name)
{
    walker w;
    size_t o = 0, last = 0;
    char want[NAME_MAX_LEN];
    field f;

    if (!canon(name, strlen(name), false, want))
        return len;             /* no field has such a long name */
    if (t->kind == MV_PF_URLENCODED)
        return strip_urlencoded(s, len, want);
    /* multipart: whole parts cut (a file part too: a handler may read it
     * as a value); copies only ever go to bytes already walked */
    walk_init(&w, t, s, len, "&");
    while (next(&w, &f)) {
        if (!field_is(&f, want))
            continue;
        memmove(s + o, s + last, f.start - last);
        o += f.start - last;
        last = f.end;
    }
    memmove(s + o, s + last, len - last);
    return o + len - last;
}

/* mv_pf_pct - append s percent-encoded (unreserved kept) */
void mv_pf_pct(mv_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        /* ASCII only, whatever the locale says isalnum() is */
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            mv_buf_putc(b, (char)c);
        } else {
            mv_buf_putc(b, '%');
            mv_buf_putc(b, hex[c >> 4]);
            mv_buf_putc(b, hex[c & 15]);
        }
    }
}

/* mv_pf_append - append name=value to b */
bool mv_pf_append(const mv_pf_type *t, mv_buf *b, const char *name, const char *value)
{
    walker w;
    mv_buf nb = {0};
    field f;

    if (t->kind != MV_PF_URLENCODED && t->kind != MV_PF_MULTIPART)
        return false;
    if (*name == '\0' || strlen(name) >= NAME_MAX_LEN)
        return false;
    walk_init(&w, t, b->data, b->len, "&");
    while (next(&w, &f))
        ;
    if (w.bad || w.count >= MV_FORM_FIELDS_MAX)
        return false;
    if (t->kind == MV_PF_URLENCODED) {
        if (b->len > 0 && b->data[b->len - 1] != '&')
            mv_buf_putc(b, '&');     /* after ";" too: else PHP reads it into the field before */
        mv_pf_pct(b, name, strlen(name));
        mv_buf_putc(b, '=');
        mv_pf_pct(b, value, strlen(value));
        return mv_buf_ok(b);
    }
    if (!w.done || strpbrk(name, "\"\\\r\n") != NULL || strpbrk(value, "\r\n") != NULL ||
        memmem(name, strlen(name), w.delim, w.dn) != NULL || memmem(value, strlen(value), w.delim, w.dn) != NULL)
        return false;
    mv_buf_put(&nb, b->data, w.close_at);
    mv_buf_printf(&nb, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n",
                  t->boundary, name, value);
    mv_buf_put(&nb, b->data + w.close_at, b->len - w.close_at);
    if (!mv_buf_ok(&nb)) {
        mv_buf_free(&nb);
        return false;
    }
    mv_buf_free(b);
    *b = nb;
    return true;
}
