/*
 * passform.c - form fields for pass-through; see passform.h.
 *
 * URL-encoded text is split on "&", names and values are decoded ("+" is
 * a space, %XX a byte). multipart/form-data (RFC 7578) is walked
 * delimiter by delimiter: a part runs from its "--boundary" line to the
 * CRLF before the next one, so removing a part is cutting one span and
 * adding one is inserting a span before the closing "--boundary--"; the
 * field's name is the Content-Disposition "name" parameter, and a part
 * with a "filename" is a file, never a field value. At most
 * MV_FORM_FIELDS_MAX fields: more is malformed.
 */
#include "passform.h"
#include "formparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 256

/* hexval - a hex digit's value, or -1 */
static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* pct_decode - %XX and "+" decoded into out (NUL-terminated); false if
 * malformed or longer than size - 1 */
static bool pct_decode(const char *s, size_t n, char *out, size_t size, size_t *outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return false;
            c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= size)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

/* mv_pf_type_of - the kind of a CONTENT_TYPE */
mv_pf_type mv_pf_type_of(const char *ctype)
{
    mv_pf_type t = {MV_PF_OTHER, ""};
    const char *p;
    size_t n;

    while (*ctype == ' ')
        ctype++;
    if (*ctype == '\0' || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
        t.kind = MV_PF_URLENCODED;
        return t;
    }
    if (strncasecmp(ctype, "multipart/form-data", 19) != 0)
        return t;
    for (p = strchr(ctype, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *v = p + 1 + strspn(p + 1, " \t");

        if (strncasecmp(v, "boundary=", 9) != 0)
            continue;
        v += 9;
        n = *v == '"' ? strcspn(++v, "\"") : strcspn(v, "; \t");
        if (n >= 1 && n <= 70) {
            memcpy(t.boundary, v, n);
            t.boundary[n] = '\0';
            t.kind = MV_PF_MULTIPART;
        }
        break;
    }
    return t;
}

/* A field of either encoding: its name, value and whole span. */
typedef struct {
    char name[NAME_MAX_LEN];
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
    bool done, bad;
    size_t close_at;            /* multipart: where "--boundary--" starts */
} walker;

/* find - the first n-byte needle at or after from, or (size_t)-1 */
static size_t find(const char *s, size_t len, size_t from, const char *needle, size_t n)
{
    const char *p = from <= len ? memmem(s + from, len - from, needle, n) : NULL;

    return p ? (size_t)(p - s) : (size_t)-1;
}

/* next_urlencoded - the next pair; false at the end */
static bool next_urlencoded(walker *w, field *f)
{
    while (w->pos <= w->len && !w->done) {
        const char *p = w->s + w->pos, *amp = memchr(p, '&', w->len - w->pos), *eq;
        size_t seg = amp ? (size_t)(amp - p) : w->len - w->pos, nlen;

        f->start = w->pos;
        f->end = w->pos + seg;
        w->done = amp == NULL;
        w->pos += seg + 1;
        if (seg == 0)
            continue;
        eq = memchr(p, '=', seg);
        nlen = eq ? (size_t)(eq - p) : seg;
        if (++w->count > MV_FORM_FIELDS_MAX || !pct_decode(p, nlen, f->name, sizeof(f->name), &nlen)) {
            w->bad = true;
            return false;
        }
        f->value = eq ? eq + 1 : p + seg;
        f->value_len = eq ? (size_t)(p + seg - (eq + 1)) : 0;
        f->file = false;
        f->encoded = true;
        return true;
    }
    return false;
}

/* disposition - name and filename presence from a part's headers */
static bool disposition(const char *h, size_t n, field *f)
{
    size_t i = 0;

    f->name[0] = '\0';
    f->file = false;
    while (i < n) {
        size_t eol = find(h, n, i, "\r\n", 2), line = (eol == (size_t)-1 ? n : eol) - i;
        const char *l = h + i;

        i += line + 2;
        if (line < 20 || strncasecmp(l, "content-disposition:", 20) != 0)
            continue;
        for (const char *p = memchr(l, ';', line); p != NULL && p < l + line;
             p = memchr(p + 1, ';', (size_t)(l + line - p - 1))) {
            const char *k = p + 1, *e, *stop = l + line;
            bool quoted;

            while (k < stop && (*k == ' ' || *k == '\t'))
                k++;
            if ((size_t)(stop - k) > 8 && strncasecmp(k, "filename", 8) == 0)
                f->file = true;
            if ((size_t)(stop - k) < 5 || strncasecmp(k, "name=", 5) != 0)
                continue;
            k += 5;
            if ((quoted = k < stop && *k == '"'))
                k++;
            for (e = k; e < stop && (quoted ? *e != '"' : *e != ';' && *e != ' ' && *e != '\t'); e++)
                ;
            if ((size_t)(e - k) >= sizeof(f->name))
                return false;
            memcpy(f->name, k, (size_t)(e - k));
            f->name[e - k] = '\0';
        }
    }
    return true;
}

/* next_multipart - the next part; false at the end */
static bool next_multipart(walker *w, field *f)
{
    char delim[80];
    size_t dn = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", w->t->boundary), after, hend, cend;

    if (w->done)
        return false;
    if (w->pos == 0) {                  /* the first delimiter: at the start or after a preamble */
        size_t d = w->len >= dn - 2 && memcmp(w->s, delim + 2, dn - 2) == 0 ? 0
                 : find(w->s, w->len, 0, delim, dn);

        w->pos = d == (size_t)-1 ? d : d == 0 ? 0 : d + 2;
        if (w->pos == (size_t)-1)
            goto bad;
    }
    after = w->pos + dn - 2;
    if (after + 2 <= w->len && memcmp(w->s + after, "--", 2) == 0) {
        w->close_at = w->pos;
        w->done = true;
        return false;
    }
    if ((hend = find(w->s, w->len, after, "\r\n\r\n", 4)) == (size_t)-1 ||
        (cend = find(w->s, w->len, hend + 4, delim, dn)) == (size_t)-1 || ++w->count > MV_FORM_FIELDS_MAX)
        goto bad;
    if (!disposition(w->s + after, hend + 2 - after, f))
        goto bad;
    f->start = w->pos;
    f->end = cend + 2;
    f->value = w->s + hend + 4;
    f->value_len = cend - (hend + 4);
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

/* mv_pf_each - every value of the field name, decoded */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg)
{
    walker w = {t, s ? s : "", s ? len : 0, 0, 0, false, false, 0};
    char *buf = malloc(max + 1);
    field f;
    bool ok = buf != NULL;

    while (ok && next(&w, &f)) {
        size_t n = f.value_len;

        if (f.file || strcmp(f.name, name) != 0)
            continue;
        if (f.encoded)
            ok = pct_decode(f.value, f.value_len, buf, max + 1, &n);
        else if ((ok = n <= max))
            memcpy(buf, f.value, n);
        if (ok && !fn(arg, buf, n))
            break;
    }
    free(buf);
    return ok && !w.bad;
}

/* strip_urlencoded - keep the other segments, separators as they were */
static size_t strip_urlencoded(char *s, size_t len, const char *name)
{
    size_t o = 0;
    bool first = true;

    for (size_t pos = 0; pos <= len;) {
        char *amp = memchr(s + pos, '&', len - pos), *eq, nm[NAME_MAX_LEN];
        size_t seg = amp ? (size_t)(amp - (s + pos)) : len - pos, nl;
        bool drop;

        eq = memchr(s + pos, '=', seg);
        drop = seg > 0 && pct_decode(s + pos, eq ? (size_t)(eq - (s + pos)) : seg, nm, sizeof(nm), &nl) &&
               strcmp(nm, name) == 0;
        if (!drop) {
            if (!first)
                s[o++] = '&';
            memmove(s + o, s + pos, seg);
            o += seg;
            first = false;
        }
        pos += seg + 1;
        if (amp == NULL)
            break;
    }
    return o;
}

/* mv_pf_strip - remove every field called name, in place */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name)
{
    walker w = {t, s, len, 0, 0, false, false, 0};
    size_t o = 0, last = 0;
    field f;

    if (t->kind == MV_PF_URLENCODED)
        return strip_urlencoded(s, len, name);
    /* multipart: whole parts cut; copies only ever go to bytes already walked */
    while (next(&w, &f)) {
        if (f.file || strcmp(f.name, name) != 0)
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

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
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
    walker w = {t, b->data ? b->data : "", b->len, 0, 0, false, false, 0};
    mv_buf nb = {0};
    field f;

    if (t->kind == MV_PF_URLENCODED) {
        if (b->len > 0 && b->data[b->len - 1] != '&')
            mv_buf_putc(b, '&');
        mv_pf_pct(b, name, strlen(name));
        mv_buf_putc(b, '=');
        mv_pf_pct(b, value, strlen(value));
        return mv_buf_ok(b);
    }
    if (t->kind != MV_PF_MULTIPART)
        return false;
    while (next(&w, &f))
        ;
    if (w.bad || !w.done || strpbrk(name, "\"\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
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
