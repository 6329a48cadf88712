/* SPDX-License-Identifier: MIT */
/*
 * formparse.c - urlencoded and JSON field lookup; see formparse.h.
 *
 * The JSON reader is a small recursive-descent validator over the whole
 * document (RFC 8259): it must be one object, every value well formed,
 * nesting at most MV_JSON_DEPTH_MAX deep; the wanted member's string is
 * decoded (escapes, \u with surrogate pairs, to UTF-8) as it is met. A
 * duplicate member takes the last value, as most JSON readers do.
 */
#include "formparse.h"

#include <string.h>

/* mv_form_status_text - for the 400 answer */
const char *mv_form_status_text(mv_form_status st)
{
    switch (st) {
    case MV_FORM_OK: return "ok";
    case MV_FORM_MISSING: return "missing field";
    case MV_FORM_BAD_ENCODING: return "malformed encoding";
    case MV_FORM_TOO_LONG: return "value too long";
    case MV_FORM_TOO_MANY: return "too many fields";
    case MV_FORM_BAD_JSON: return "body is not a JSON object";
    case MV_FORM_NOT_STRING: return "field is not a string";
    }
    return "?";
}

/* hexval - a hex digit's value, or -1 */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* mv_form_url_decode - percent and "+" decoding into out; status */
mv_form_status mv_form_url_decode(const char *s, size_t n, char *out, size_t size, size_t *outlen)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            int h, l;

            if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
                return MV_FORM_BAD_ENCODING;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (k + 1 >= size)
            return MV_FORM_TOO_LONG;
        out[k++] = c;
    }
    out[k] = '\0';
    *outlen = k;
    return MV_FORM_OK;
}

/* mv_form_get - a field of application/x-www-form-urlencoded text */
mv_form_status mv_form_get(const char *s, size_t len, const char *name, char *out, size_t size,
                           size_t *outlen)
{
    size_t nlen = strlen(name), fields = 0, i = 0;
    mv_form_status found = MV_FORM_MISSING;

    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        const char *eq = memchr(s + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
        char key[256];
        size_t kdl;

        if (++fields > MV_FORM_FIELDS_MAX)
            return MV_FORM_TOO_MANY;
        /* field names are decoded too ("e%6Dail" is "email") */
        if (klen > 0 && mv_form_url_decode(s + i, klen, key, sizeof(key), &kdl) == MV_FORM_OK &&
            kdl == nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : s + end;

            found = mv_form_url_decode(v, (size_t)(s + end - v), out, size, outlen);
            if (found != MV_FORM_OK)
                return found;
        }
        i = end + 1;
    }
    return found;
}

/* The JSON reader's state. */
typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} jreader;

static void ws(jreader *r)
{
    while (r->i < r->n &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

/* put_utf8 - a code point as UTF-8; false if it does not fit */
static bool put_utf8(char *out, size_t size, size_t *k, unsigned cp)
{
    unsigned char b[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

    if (out == NULL)
        return true;
    if (*k + n + 1 > size)
        return false;
    if (n == 1) {
        b[0] = (unsigned char)cp;
    } else if (n == 2) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (n == 3) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    }
    memcpy(out + *k, b, n);
    *k += n;
    return true;
}

/* hex4 - four hex digits at r->i */
static int hex4(jreader *r)
{
    int v = 0;

    if (r->i + 4 > r->n)
        return -1;
    for (int j = 0; j < 4; j++) {
        int h = hexval(r->s[r->i + (size_t)j]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    r->i += 4;
    return v;
}

/* escape - one backslash escape; the code point, or -1 */
static long escape(jreader *r)
{
    int u, lo;

    if (r->i >= r->n)
        return -1;
    switch (r->s[r->i++]) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u':
        if ((u = hex4(r)) < 0)
            return -1;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return -1; /* a lone low surrogate */
        if (u < 0xD800 || u > 0xDBFF)
            return u;
        if (r->i + 2 > r->n || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u')
            return -1;
        r->i += 2;
        if ((lo = hex4(r)) < 0xDC00 || lo > 0xDFFF)
            return -1;
        return 0x10000 + ((long)(u - 0xD800) << 10) + (lo - 0xDC00);
    default: return -1;
    }
}

/* string - a JSON string at r->i (after the quote); decoded into out if given */
static mv_form_status string(jreader *r, char *out, size_t size, size_t *outlen)
{
    size_t k = 0;

    while (r->i < r->n) {
        unsigned char c = (unsigned char)r->s[r->i++];

        if (c == '"') {
            if (out != NULL) {
                out[k] = '\0';
                *outlen = k;
            }
            return MV_FORM_OK;
        }
        if (c < 0x20)
            return MV_FORM_BAD_ENCODING;
        if (c == '\\') {
            long cp = escape(r);

            if (cp < 0)
                return MV_FORM_BAD_ENCODING;
            if (!put_utf8(out, size, &k, (unsigned)cp))
                return MV_FORM_TOO_LONG;
            continue;
        }
        if (out != NULL) {
            if (k + 2 > size)
                return MV_FORM_TOO_LONG;
            out[k++] = (char)c;
        }
    }
    return MV_FORM_BAD_JSON;
}

static mv_form_status value(jreader *r);

/* literal - true, false, null, or a number */
static mv_form_status literal(jreader *r)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t start = r->i;

    for (size_t w = 0; w < 3; w++) {
        size_t l = strlen(words[w]);

        if (r->i + l <= r->n && memcmp(r->s + r->i, words[w], l) == 0) {
            r->i += l;
            return MV_FORM_OK;
        }
    }
    /* a number: -? digits (. digits)? ([eE] [+-]? digits)?, checked loosely
     * but never read past the text */
    if (r->i < r->n && r->s[r->i] == '-')
        r->i++;
    while (r->i < r->n && strchr("0123456789.eE+-", r->s[r->i]) != NULL && r->s[r->i] != '\0')
        r->i++;
    return r->i > start && (r->s[r->i - 1] >= '0' && r->s[r->i - 1] <= '9') ? MV_FORM_OK : MV_FORM_BAD_JSON;
}

/* container - an array or object after its opening bracket */
static mv_form_status container(jreader *r, char close)
{
    mv_form_status st;

    if (++r->depth > MV_JSON_DEPTH_MAX)
        return MV_FORM_BAD_JSON;
    ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        r->depth--;
        return MV_FORM_OK;
    }
    for (;;) {
        if (close == '}') {
            ws(r);
            if (r->i >= r->n || r->s[r->i++] != '"' || (st = string(r, NULL, 0, NULL)) != MV_FORM_OK)
                return MV_FORM_BAD_JSON;
            ws(r);
            if (r->i >= r->n || r->s[r->i++] != ':')
                return MV_FORM_BAD_JSON;
        }
        if ((st = value(r)) != MV_FORM_OK)
            return st;
        ws(r);
        if (r->i >= r->n)
            return MV_FORM_BAD_JSON;
        if (r->s[r->i] == close) {
            r->i++;
            r->depth--;
            return MV_FORM_OK;
        }
        if (r->s[r->i++] != ',')
            return MV_FORM_BAD_JSON;
    }
}

/* value - any JSON value */
static mv_form_status value(jreader *r)
{
    ws(r);
    if (r->i >= r->n)
        return MV_FORM_BAD_JSON;
    switch (r->s[r->i]) {
    case '"': r->i++; return string(r, NULL, 0, NULL) == MV_FORM_OK ? MV_FORM_OK : MV_FORM_BAD_JSON;
    case '{': r->i++; return container(r, '}');
    case '[': r->i++; return container(r, ']');
    default: return literal(r);
    }
}

/* member - one "name": value of the top object; the wanted one decoded */
static mv_form_status member(jreader *r, const char *name, char *out, size_t size, size_t *outlen,
                             mv_form_status *found)
{
    char key[256];
    size_t klen = 0;
    mv_form_status st;

    ws(r);
    if (r->i >= r->n || r->s[r->i++] != '"')
        return MV_FORM_BAD_JSON;
    if ((st = string(r, key, sizeof(key), &klen)) == MV_FORM_TOO_LONG)
        st = string(r, NULL, 0, NULL); /* a long name is never ours: skip it */
    if (st != MV_FORM_OK)
        return MV_FORM_BAD_JSON; /* (the rest of a long one too) */
    ws(r);
    if (r->i >= r->n || r->s[r->i++] != ':')
        return MV_FORM_BAD_JSON;
    ws(r);
    if (klen == strlen(name) && memcmp(key, name, klen) == 0) {
        if (r->i < r->n && r->s[r->i] == '"') {
            r->i++;
            *found = string(r, out, size, outlen);
            if (*found == MV_FORM_TOO_LONG && string(r, NULL, 0, NULL) != MV_FORM_OK)
                return MV_FORM_BAD_JSON; /* the rest of the long value */
            if (*found == MV_FORM_OK || *found == MV_FORM_TOO_LONG)
                return MV_FORM_OK;
            return *found == MV_FORM_BAD_ENCODING ? MV_FORM_BAD_ENCODING : MV_FORM_BAD_JSON;
        }
        *found = MV_FORM_NOT_STRING;
    }
    return value(r);
}

/* mv_json_get - a top-level string member of a JSON object */
mv_form_status mv_json_get(const char *s, size_t len, const char *name, char *out, size_t size,
                           size_t *outlen)
{
    jreader r = {s, len, 0, 1};
    mv_form_status found = MV_FORM_MISSING, st;
    size_t members = 0;

    ws(&r);
    if (r.i >= r.n || r.s[r.i++] != '{')
        return MV_FORM_BAD_JSON;
    ws(&r);
    if (r.i < r.n && r.s[r.i] == '}') {
        r.i++;
    } else {
        for (;;) {
            if (++members > MV_FORM_FIELDS_MAX)
                return MV_FORM_TOO_MANY;
            if ((st = member(&r, name, out, size, outlen, &found)) != MV_FORM_OK)
                return st;
            ws(&r);
            if (r.i < r.n && r.s[r.i] == '}') {
                r.i++;
                break;
            }
            if (r.i >= r.n || r.s[r.i++] != ',')
                return MV_FORM_BAD_JSON;
        }
    }
    ws(&r);
    return r.i == r.n ? found : MV_FORM_BAD_JSON; /* nothing after the object */
}
