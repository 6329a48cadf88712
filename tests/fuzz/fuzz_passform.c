/* SPDX-License-Identifier: MIT */
/*
 * fuzz_passform.c - libFuzzer target for pass-through's form fields.
 *
 * mv_pf_type_of, mv_pf_each, mv_pf_strip and mv_pf_append read bodies,
 * queries and Content-Type headers from anyone on the Internet. The first
 * byte chooses the type: urlencoded, multipart with one of two
 * boundaries, or (low bits 3) a Content-Type taken from the input up to
 * its first newline; the second byte chooses the field name and max. The
 * rest is the text, copied to a block of exactly its length so that ASan
 * sees any read past len. Besides the sanitizers' checks, what callers
 * rely on aborts the run when broken:
 *
 * - type: a multipart boundary is empty or 1..70 RFC 2046 characters;
 * - each: values no longer than max; the same answer for a larger max
 *   and whatever the bytes after len;
 * - strip: the length never grows; an unchanged length means unchanged
 *   bytes; what is left is the text with spans cut out (a subsequence,
 *   from the front and the back: a common prefix and suffix cover it when
 *   one span went); stripping again changes nothing; and if the text was
 *   well-formed, the field is gone;
 * - append: the text is still there around what was added; the field
 *   has the values it had plus the new one (in some order), the others
 *   are unchanged.
 */
#include "passform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

static const char *const names[] = {"email", "w", "a", "", "e mail"};
#define NNAMES (sizeof(names) / sizeof(*names))
static const size_t maxes[] = {320, 0, 1, 8};

/* collect - each value as its length and bytes */
static bool collect(void *arg, const char *v, size_t len)
{
    mv_buf *b = arg;

    CHECK(v[len] == '\0');
    mv_buf_put(b, &len, sizeof(len));
    mv_buf_put(b, v, len);
    return true;
}

/* values - mv_pf_each over an exact-size copy; the values into out */
static bool values(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max, mv_buf *out)
{
    char *copy = malloc(len ? len : 1);
    bool ok;

    CHECK(copy != NULL);
    memcpy(copy, s, len);
    mv_buf_reset(out);
    ok = mv_pf_each(t, copy, len, name, max, collect, out);
    CHECK(mv_buf_ok(out));
    free(copy);
    return ok;
}

static bool same(const mv_buf *a, const mv_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* has - is the value v[0..n) among the collected values of b? */
static bool has(const mv_buf *b, const char *v, size_t n)
{
    size_t i = 0, l;

    while (i < b->len) {
        memcpy(&l, b->data + i, sizeof(l));
        if (l == n && memcmp(b->data + i + sizeof(l), v, n) == 0)
            return true;
        i += sizeof(l) + l;
    }
    return false;
}

/* same_set - the same values, perhaps in another order (the readings of
 * a text come one after the other: a value added to the first one is
 * given before those only the second finds) */
static bool same_set(const mv_buf *a, const mv_buf *b)
{
    size_t i = 0, l;

    if (a->len != b->len)
        return false;
    while (i < a->len) {
        memcpy(&l, a->data + i, sizeof(l));
        if (!has(b, a->data + i + sizeof(l), l))
            return false;
        i += sizeof(l) + l;
    }
    return true;
}

/* subsequence - is a[0..an) b[0..bn) with bytes left out? */
static bool subsequence(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;

    for (size_t k = 0; k < bn && i < an; k++)
        if (b[k] == a[i])
            i++;
    return i == an;
}

/* around - is big small with one span inserted (a common prefix and suffix)? */
static bool around(const char *small, size_t sn, const char *big, size_t bn)
{
    size_t p = 0, q = 0;

    if (bn < sn)
        return false;
    while (p < sn && small[p] == big[p])
        p++;
    while (q < sn - p && small[sn - 1 - q] == big[bn - 1 - q])
        q++;
    return p + q == sn;
}

static bool bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_-./:=? ", c) != NULL);
}

/* check_type - what mv_pf_type_of promises */
static void check_type(const mv_pf_type *t)
{
    size_t n = strnlen(t->boundary, sizeof(t->boundary));

    CHECK(t->kind == MV_PF_URLENCODED || t->kind == MV_PF_MULTIPART || t->kind == MV_PF_OTHER ||
          t->kind == MV_PF_UNREADABLE);
    CHECK(n <= 70);
    if (t->kind != MV_PF_MULTIPART)
        CHECK(n == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(bchar(t->boundary[i]));
    CHECK(n == 0 || t->boundary[n - 1] != ' ');
}

/* check_strip - strip name from s; see the top */
static void check_strip(const mv_pf_type *t, const char *s, size_t len, const char *name, bool wellformed)
{
    char *c = malloc(len ? len : 1);
    size_t n, n2;
    mv_buf after = {0};

    CHECK(c != NULL);
    memcpy(c, s, len);
    n = mv_pf_strip(t, c, len, name);
    CHECK(n <= len);
    if (n == len)
        CHECK(len == 0 || memcmp(c, s, len) == 0);
    CHECK(subsequence(c, n, s, len));
    n2 = mv_pf_strip(t, c, n, name);
    CHECK(n2 == n);
    if (wellformed) {
        CHECK(values(t, c, n, name, n + 1, &after));
        CHECK(after.len == 0);
        /* other fields are not checked: a cut may change what one reads
         * as under "&" splitting ("a=1;w=2;%zz" leaves a = "1;%zz"), which
         * is why the plugin verifies the text after the cut */
    }
    mv_buf_free(&after);
    free(c);
}

/* check_append - append name=value to s; see the top */
static void check_append(const mv_pf_type *t, const char *s, size_t len, const char *name, const char *value)
{
    mv_buf b = {0}, before = {0}, after = {0};

    mv_buf_put(&b, s, len);
    CHECK(mv_buf_ok(&b));
    if (mv_pf_append(t, &b, name, value)) {
        CHECK(t->kind != MV_PF_OTHER);
        CHECK(*name != '\0');
        CHECK(around(s, len, b.data, b.len));
        if (t->kind == MV_PF_URLENCODED)
            CHECK(len == 0 || memcmp(b.data, s, len) == 0);
        for (size_t k = 0; k < NNAMES; k++) {
            size_t vl = strlen(value);

            if (!values(t, s, len, names[k], b.len + 1, &before))
                continue;
            CHECK(values(t, b.data, b.len, names[k], b.len + 1, &after));
            if (strcmp(names[k], name) == 0) {
                mv_buf_put(&before, &vl, sizeof(vl));
                mv_buf_put(&before, value, vl);
            }
            CHECK(same_set(&before, &after));
        }
    } else {
        CHECK(b.len == len && (len == 0 || memcmp(b.data, s, len) == 0));
    }
    mv_buf_free(&b);
    mv_buf_free(&before);
    mv_buf_free(&after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const appended[] = {"invalid:syntax", "", "a b&c=d%;\"x\\", "x--XyZ--a b"};
    mv_pf_type t;
    const char *name;
    const uint8_t *text = data + 2;
    size_t max, len;
    char *in, *padded, ctype[256];
    mv_buf v1 = {0}, v2 = {0};
    bool ok, wellformed;

    if (size < 2)
        return 0;
    len = size - 2;
    switch (data[0] & 3) {
    case 0: t = mv_pf_type_of("application/x-www-form-urlencoded"); break;
    case 1: t = mv_pf_type_of("multipart/form-data; boundary=XyZ"); break;
    case 2: t = mv_pf_type_of("multipart/form-data; boundary=\"a b\""); break;
    default: { /* the Content-Type from the input, to its newline */
        const uint8_t *nl = memchr(text, '\n', len);
        size_t cl = nl ? (size_t)(nl - text) : len, used = cl + (nl != NULL);

        if (cl >= sizeof(ctype))
            cl = sizeof(ctype) - 1;
        memcpy(ctype, text, cl);
        ctype[cl] = '\0';
        t = mv_pf_type_of(ctype);
        text += used;
        len -= used;
    }
    }
    check_type(&t);
    name = names[(data[1] >> 2) % NNAMES];
    max = maxes[data[1] & 3];
    in = malloc(len ? len : 1);
    padded = malloc(len + 16);
    CHECK(in != NULL && padded != NULL);
    memcpy(in, text, len);
    memcpy(padded, text, len);
    memcpy(padded + len, "\r\n--XyZ--\r\n&w=1\0", 16); /* what a parser reading on would find */

    /* each: bounded values, a larger max changes nothing but "too long",
     * the bytes after len change nothing */
    ok = values(&t, in, len, name, max, &v1);
    for (size_t off = 0; off < v1.len;) {
        size_t vl;

        memcpy(&vl, v1.data + off, sizeof(vl));
        CHECK(vl <= max);
        off += sizeof(vl) + vl;
    }
    mv_buf_reset(&v2);
    CHECK(mv_pf_each(&t, padded, len, name, max, collect, &v2) == ok);
    CHECK(same(&v1, &v2));
    wellformed = values(&t, in, len, name, len + 1, &v2);
    if (ok)
        CHECK(wellformed && same(&v1, &v2));

    /* strip and append, for the chosen name and the warn field */
    check_strip(&t, in, len, name, wellformed);
    check_strip(&t, in, len, "w", values(&t, in, len, "w", len + 1, &v2));
    for (size_t k = 0; k < sizeof(appended) / sizeof(*appended); k++)
        check_append(&t, in, len, k >= 2 ? name : "w", appended[k]);

    mv_buf_free(&v1);
    mv_buf_free(&v2);
    free(in);
    free(padded);
    return 0;
}
