/*
 * passform.c - form fields for pass-through; see passform.h.
 *
 * URL-encoded text is split on "&" and ";", names and values are decoded
 * ("+" is a space, %XX a byte). multipart/form-data (RFC 7578) is walked
 * delimiter by delimiter: a part runs from its "--boundary" line to the
 * CRLF before the next one, so removing a part is cutting one span and
 * adding one is inserting a span before the closing "--boundary--"; the
 * field's name is the Content-Disposition "name" parameter, and a part
 * with a non-empty "filename" is a file, never a field value. At most
 * MV_FORM_FIELDS_MAX fields: more is malformed.
 *
 * The handler behind pass-through parses the same bytes with its own
 * parser (PHP, CGI.pm, Go, ...): wherever two parsers could disagree about
 * which fields a text holds, the text is malformed here (mv_pf_each says
 * false and the plugin answers 400) rather than guessed at. passform.h
 * lists what that means.
 */
#include "passform.h"
#include "formparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NPOS ((size_t)-1)
#define BOUNDARY_MAX 70         /* RFC 2046 */
#define HDR_MAX 2048            /* an unfolded Content-Disposition, a parameter's value */
#define NAME_MAX_LEN 256        /* an added field's name, with its NUL */

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

/* name_is - does the encoded name s[0..n) decode to name? A decoded NUL
 * ends the name, as in a handler that keeps names in C strings; a bad
 * escape never matches (a handler keeps it literally). */
static bool name_is(const char *s, size_t n, const char *name)
{
    size_t i = 0, k = 0;

    while (i < n) {
        char c = s[i++];

        if (c == '%') {
            if (i + 2 > n || hexval(s[i]) < 0 || hexval(s[i + 1]) < 0)
                return false;
            c = (char)(hexval(s[i]) << 4 | hexval(s[i + 1]));
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == '\0')
            return name[k] == '\0';
        if (name[k++] != c)
            return false;
    }
    return name[k] == '\0';
}

/* tchar - an RFC 7230 token character */
static bool tchar(char c)
{
    return c > 32 && c < 127 && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* bchar - an RFC 2046 boundary character (space only inside) */
static bool bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
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

/* mv_pf_type_of - the kind of a CONTENT_TYPE */
mv_pf_type mv_pf_type_of(const char *ctype)
{
    mv_pf_type t = {MV_PF_OTHER, ""};
    const char *c = ctype != NULL ? ctype : "";
    size_t n, i, len, seen = 0;
    const char *at = NULL, *php;
    param p;
    int r;

    c += strspn(c, " \t");
    n = strcspn(c, ";, \t");                    /* the media type ends as PHP ends it */
    if (*c == '\0' || (n == 33 && strncasecmp(c, "application/x-www-form-urlencoded", 33) == 0)) {
        t.kind = MV_PF_URLENCODED;
        return t;
    }
    if (n != 19 || strncasecmp(c, "multipart/form-data", 19) != 0)
        return t;
    /* from here on it is multipart: no usable boundary leaves it empty,
     * which every function takes as malformed (never as a body to hand
     * on unread) */
    t.kind = MV_PF_MULTIPART;
    len = strlen(c);
    for (i = n; (r = next_param(c, len, &i, &p)) == 1;) {
        if (p.nlen != 8 || strncasecmp(p.name, "boundary", 8) != 0)
            continue;
        if (seen++ > 0 || p.vlen < 1 || p.vlen > BOUNDARY_MAX || p.value[p.vlen - 1] == ' ')
            break;
        for (size_t k = 0; k < p.vlen; k++)
            if (!bchar(p.value[k]))
                seen++;
        if (seen == 1)
            memcpy(t.boundary, p.value, p.vlen + 1);
        at = p.name;
    }
    /* PHP takes the first "boundary" anywhere in the header (in this
     * case, or else in any case) up to its "=": it must be this one */
    if ((php = strstr(c, "boundary")) == NULL)
        php = strcasestr(c, "boundary");
    if (r != 0 || seen != 1 || php != at)
        t.boundary[0] = '\0';
    return t;
}

/* A field of either encoding: its name, value and whole span. */
typedef struct {
    const char *rname;          /* urlencoded: the name as sent */
    size_t rname_len;
    char name[HDR_MAX];         /* multipart: the name parameter */
    bool named;                 /* multipart: it has one */
    const char *value;
    size_t value_len;
    size_t start, end;          /* the bytes to cut to remove it */
    bool file;                  /* a multipart file part */
    bool encoded;               /* the value is %-encoded (urlencoded) */
} field;

/* A walk over the fields. */
typedef struct {
    const mv_pf_type *t;
    const char *s;
    size_t len, pos, count;
    bool started, done, bad;
    size_t close_at;            /* multipart: where "--boundary--" starts */
    char delim[80];             /* multipart: "--boundary" */
    size_t dn;
} walker;

/* walk_init - a walk over s[0..len) of type t */
static void walk_init(walker *w, const mv_pf_type *t, const char *s, size_t len)
{
    size_t bl = strnlen(t->boundary, sizeof(t->boundary));

    memset(w, 0, sizeof(*w));
    w->t = t;
    w->s = s != NULL ? s : "";
    w->len = s != NULL ? len : 0;
    if (t->kind == MV_PF_MULTIPART) {
        if (bl == 0 || bl > BOUNDARY_MAX) {
            w->bad = w->done = true;
        } else {
            memcpy(w->delim, "--", 2);
            memcpy(w->delim + 2, t->boundary, bl);
            w->dn = bl + 2;
        }
    } else if (t->kind != MV_PF_URLENCODED) {
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

        while (seg < rest && p[seg] != '&' && p[seg] != ';')
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
        f->named = true;
        f->value = eq ? eq + 1 : p + seg;
        f->value_len = eq ? (size_t)(p + seg - (eq + 1)) : 0;
        f->file = false;
        f->encoded = true;
        return true;
    }
    return false;
}

/* cat - append n bytes to a header buffer; false if it is full */
static bool cat(char *b, size_t *bn, const char *s, size_t n)
{
    if (n >= HDR_MAX - *bn)
        return false;
    memcpy(b + *bn, s, n);
    *bn += n;
    return true;
}

/* disposition - name and filename from a Content-Disposition value */
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
            f->file = p.vlen > 0;               /* filename="" is a field to Go */
        }
    }
    return r == 0;
}

/* headers - a part's header block h[0..n) (each line ending in CRLF):
 * no NUL, no bare CR or LF, names are tokens, folded lines are unfolded,
 * one Content-Disposition at most */
static bool headers(const char *h, size_t n, field *f)
{
    char cd[HDR_MAX];
    size_t cdn = 0, i = 0;
    bool have_cd = false, in_cd = false;

    f->named = f->file = false;
    f->name[0] = '\0';
    if (memchr(h, '\0', n) != NULL)
        return false;
    while (i < n) {
        size_t eol = find(h, n, i, "\r\n", 2), ll;
        const char *l = h + i, *colon;

        if (eol == NPOS)
            return false;
        ll = eol - i;
        i = eol + 2;
        if (memchr(l, '\r', ll) != NULL || memchr(l, '\n', ll) != NULL)
            return false;
        if (ll > 0 && (l[0] == ' ' || l[0] == '\t')) {   /* obs-fold */
            if (l == h || (in_cd && !cat(cd, &cdn, l, ll)))
                return false;
            continue;
        }
        if ((colon = memchr(l, ':', ll)) == NULL || colon == l)
            return false;
        for (const char *p = l; p < colon; p++)
            if (!tchar(*p))
                return false;
        in_cd = colon - l == 19 && strncasecmp(l, "content-disposition", 19) == 0;
        if (in_cd) {
            if (have_cd || !cat(cd, &cdn, colon + 1, (size_t)(l + ll - colon - 1)))
                return false;
            have_cd = true;
        }
    }
    return !have_cd || disposition(cd, cdn, f);
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

/* field_is - is f called name? */
static bool field_is(const field *f, const char *name)
{
    return f->encoded ? name_is(f->rname, f->rname_len, name) : f->named && strcmp(f->name, name) == 0;
}

/* mv_pf_each - every value of the field name, decoded */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg)
{
    walker w;
    char *buf;
    field f;
    bool ok;

    walk_init(&w, t, s, len);
    buf = malloc((max < w.len ? max : w.len) + 1);     /* a value is never longer than the text */
    ok = buf != NULL;
    while (ok && next(&w, &f)) {
        size_t n = f.value_len;

        if (f.file || !field_is(&f, name))
            continue;
        if (f.encoded)
            ok = pct_decode(f.value, f.value_len, buf, (max < w.len ? max : w.len) + 1, &n) && n <= max;
        else if ((ok = n <= max))
            memcpy(buf, f.value, n);
        if (ok)
            buf[n] = '\0';
        if (ok && !fn(arg, buf, n))
            break;
    }
    free(buf);
    return ok && !w.bad;
}

/* strip_urlencoded - keep the other segments, each with the separator
 * before it as it was; a removed one takes the separator before it (or,
 * first, the one after it) */
static size_t strip_urlencoded(char *s, size_t len, const char *name)
{
    size_t o = 0, pos = 0;
    bool kept = false;

    for (;;) {
        size_t seg = 0;
        char *eq;

        while (pos + seg < len && s[pos + seg] != '&' && s[pos + seg] != ';')
            seg++;
        eq = memchr(s + pos, '=', seg);
        if (seg == 0 || !name_is(s + pos, eq ? (size_t)(eq - (s + pos)) : seg, name)) {
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

/* mv_pf_strip - remove every field called name, in place */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name)
{
    walker w;
    size_t o = 0, last = 0;
    field f;

    if (t->kind == MV_PF_URLENCODED)
        return strip_urlencoded(s, len, name);
    /* multipart: whole parts cut (a file part too: a handler may read it
     * as a value); copies only ever go to bytes already walked */
    walk_init(&w, t, s, len);
    while (next(&w, &f)) {
        if (!field_is(&f, name))
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
    walk_init(&w, t, b->data, b->len);
    while (next(&w, &f))
        ;
    if (w.bad || w.count >= MV_FORM_FIELDS_MAX)
        return false;
    if (t->kind == MV_PF_URLENCODED) {
        if (b->len > 0 && b->data[b->len - 1] != '&' && b->data[b->len - 1] != ';')
            mv_buf_putc(b, '&');
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
