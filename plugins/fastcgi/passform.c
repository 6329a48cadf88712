/* SPDX-License-Identifier: MIT */
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
#include "passhdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NPOS ((size_t)-1)
#define BOUNDARY_MAX 70  /* RFC 2046 */
#define BLOCK_MAX 8192   /* a part's unfolded header block */
#define NAME_LEN_MAX 256 /* an added field's name, with its NUL */

/* pct_decode - %XX and "+" decoded into out (NUL-terminated); false if
 * malformed or longer than size - 1 (formparse's decoder: one rule for
 * the plugin's own endpoints and for pass-through) */
static bool pct_decode(const char *s, size_t n, char *out, size_t size, size_t *outlen)
{
    return mv_form_url_decode(s, n, out, size, outlen) == MV_FORM_OK;
}

/* ---- walking the fields ------------------------------------------------- */

/* A field of either encoding: its name, value and whole span. */
typedef struct {
    const char *rname; /* urlencoded: the name as sent */
    size_t rname_len;
    char name[MV_PH_VALUE_MAX]; /* multipart: the strict name parameter */
    bool named;                 /* multipart: it has one */
    char hdr[BLOCK_MAX];        /* multipart: the unfolded headers, "\n" between lines */
    size_t hlen;
    bool odd; /* multipart: a transfer encoding or charset we cannot read */
    const char *value;
    size_t value_len;
    size_t start, end; /* the bytes to cut to remove it */
    bool encoded;      /* the value is %-encoded (urlencoded) */
} field;

/* A walk over the fields. */
typedef struct {
    const mv_pf_type *t;
    const char *s;
    size_t len, pos, count;
    const char *seps; /* urlencoded: "&", or "&;" */
    bool started, done, bad;
    size_t close_at; /* multipart: where "--boundary--" starts */
    char delim[80];  /* multipart: "--boundary" */
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

        while (seg < rest && !mv_ph_in_set(p[seg], w->seps))
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
    size_t i = mv_ph_skip_ows(cd, n, 0), start = i;
    bool have_fn = false;
    mv_ph_param p;
    int r;

    while (i < n && mv_ph_tchar(cd[i])) /* form-data (any type: PHP ignores it) */
        i++;
    if (i == start)
        return false;
    while ((r = mv_ph_next_param(cd, n, &i, &p)) == 1) {
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
        if (memchr(l, '\r', ll) != NULL || memchr(l, '\n', ll) != NULL || mv_ph_skip_ows(l, ll, 0) == ll ||
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
        if (!mv_ph_tchar(*p))
            return false;
    v = colon + 1 + mv_ph_skip_ows(colon + 1, (size_t)(l + ll - colon - 1), 0);
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
        if (strncasecmp(v, "multipart/", 10) == 0 ||
            strncasecmp(v, "application/x-www-form-urlencoded", 33) == 0)
            return false;
        f->odd = f->odd || mv_ph_odd_charset(v, vn);
    } else if (is_header(l, colon, "content-transfer-encoding")) {
        f->odd = f->odd || !((vn == 4 && strncasecmp(v, "7bit", 4) == 0) ||
                             (vn == 4 && strncasecmp(v, "8bit", 4) == 0) ||
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
    if (!w->started) { /* the first delimiter: at the start or after a preamble */
        w->started = true;
        if ((d = find(s, w->len, 0, w->delim, w->dn)) == NPOS ||
            (d > 0 && (d < 2 || memcmp(s + d - 2, "\r\n", 2) != 0)))
            goto bad;
        w->pos = d;
    }
    after = w->pos + w->dn;
    if (after + 2 <= w->len && memcmp(s + after, "--", 2) == 0) {
        size_t e = mv_ph_skip_ows(s, w->len, after + 2);

        /* the close is a line of its own (Python reads "--XyZ---" as
         * content), then the epilogue, never with the boundary in it */
        if ((e < w->len && (e + 2 > w->len || memcmp(s + e, "\r\n", 2) != 0)) ||
            find(s, w->len, after + 2, w->delim, w->dn) != NPOS)
            goto bad;
        w->close_at = w->pos;
        w->done = true;
        return false;
    }
    after = mv_ph_skip_ows(s, w->len, after);
    if (after + 2 > w->len || memcmp(s + after, "\r\n", 2) != 0)
        goto bad;
    hs = after + 2;
    if ((d = find(s, w->len, hs, w->delim, w->dn)) == NPOS || d < hs + 2 || memcmp(s + d - 2, "\r\n", 2) != 0)
        goto bad; /* no closing delimiter, or the boundary inside the part */
    cend = d - 2;
    if (hs + 2 <= cend && memcmp(s + hs, "\r\n", 2) == 0)
        vs = hs + 2; /* no headers */
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
    return w->t->kind == MV_PF_URLENCODED  ? next_urlencoded(w, f)
           : w->t->kind == MV_PF_MULTIPART ? next_multipart(w, f)
                                           : false;
}

/* A search for one canonical name among a part's lax readings. */
typedef struct {
    const char *want;
    bool found;
} seek;

static bool seek_reading(void *arg, const char *v, size_t n)
{
    seek *k = arg;

    k->found = k->found || mv_ph_canon_is(v, n, false, k->want);
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
        a = mv_ph_skip_ows(l, b, a);
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
    seek k = {.want = want};

    if (f->encoded)
        return mv_ph_canon_is(f->rname, f->rname_len, true, want);
    if (f->named && mv_ph_canon_is(f->name, strlen(f->name), false, want))
        return true;
    mv_ph_lax_readings(f->hdr, f->hlen, "name", seek_reading, &k);
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
        return true; /* filename="": no file, nothing to read */
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
        return give(o, f->value, f->value_len) &&
               mv_ph_lax_readings(f->hdr, f->hlen, "filename", give_filename, o);
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
    out o = {.fn = fn, .arg = arg, .max = max, .ok = true};
    char want[MV_PH_NAME_MAX];

    if (!mv_ph_canon(name, strlen(name), false, want))
        return false;
    if (each_reading(t, s, len, "&", want, &o) && t->kind == MV_PF_URLENCODED && s != NULL &&
        memchr(s, ';', len) != NULL)
        each_reading(t, s, len, "&;", want, &o);
    return o.ok;
}

/* mv_pf_cookie_each - every value of a cookie that could be read as name */
bool mv_pf_cookie_each(const char *cookie, const char *name, size_t max, mv_pf_each_fn fn, void *arg)
{
    out o = {.fn = fn, .arg = arg, .max = max, .ok = true};
    char want[MV_PH_NAME_MAX];
    const char *p = cookie != NULL ? cookie : "";

    if (!mv_ph_canon(name, strlen(name), false, want))
        return false;
    while (*p != '\0' && o.ok && !o.stop) {
        size_t seg = strcspn(p, ";"), nl = strcspn(p, "=;");
        const char *v = p + nl + 1;
        size_t vn = nl < seg ? seg - nl - 1 : 0;

        if (nl < seg && mv_ph_canon_is(p, nl, true, want)) {
            char *d = malloc(vn + 1);
            size_t dn;

            v += mv_ph_skip_ows(v, vn, 0);
            vn = (size_t)(p + seg - v);
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (d == NULL) {
                o.ok = false;
                break;
            }
            if (give(&o, v, vn) && (dn = mv_ph_lax_decode(v, vn, true, d, vn + 1)) > 0 &&
                (dn != vn || memcmp(d, v, vn) != 0))
                give(&o, d, dn);
            if (o.ok && !o.stop && (dn = mv_ph_lax_decode(v, vn, false, d, vn + 1)) > 0 &&
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
        if (seg == 0 || !mv_ph_canon_is(s + pos, eq ? (size_t)(eq - (s + pos)) : seg, true, want)) {
            if (kept)
                s[o++] = s[pos - 1]; /* o < pos: not yet overwritten */
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
    char want[MV_PH_NAME_MAX];
    field f;

    if (!mv_ph_canon(name, strlen(name), false, want))
        return len; /* no field has such a long name */
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
    if (*name == '\0' || strlen(name) >= NAME_LEN_MAX)
        return false;
    walk_init(&w, t, b->data, b->len, "&");
    while (next(&w, &f))
        ;
    if (w.bad || w.count >= MV_FORM_FIELDS_MAX)
        return false;
    if (t->kind == MV_PF_URLENCODED) {
        if (b->len > 0 && b->data[b->len - 1] != '&')
            mv_buf_putc(b, '&'); /* after ";" too: else PHP reads it into the field before */
        mv_pf_pct(b, name, strlen(name));
        mv_buf_putc(b, '=');
        mv_pf_pct(b, value, strlen(value));
        return mv_buf_ok(b);
    }
    if (!w.done || strpbrk(name, "\"\\\r\n") != NULL || strpbrk(value, "\r\n") != NULL ||
        memmem(name, strlen(name), w.delim, w.dn) != NULL ||
        memmem(value, strlen(value), w.delim, w.dn) != NULL)
        return false;
    mv_buf_put(&nb, b->data, w.close_at);
    mv_buf_printf(&nb, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", t->boundary, name,
                  value);
    mv_buf_put(&nb, b->data + w.close_at, b->len - w.close_at);
    if (!mv_buf_ok(&nb)) {
        mv_buf_free(&nb);
        return false;
    }
    mv_buf_free(b);
    *b = nb;
    return true;
}
