/* SPDX-License-Identifier: MIT */
/*
 * test_passform.c - the form fields pass-through reads, strips and adds.
 *
 * mv_pf_each reads bodies and queries from anyone on the Internet, and
 * the handler behind pass-through reads the same bytes with its own
 * parser: the tables below give the text, a field name and what each
 * must say (every value, in order, or malformed). Inputs are copied to a
 * heap block of exactly their length (no NUL after it) so that a read
 * past len is caught under SANITIZE=1. Values are shown joined by "|".
 * mv_pf_strip is checked byte for byte; mv_pf_append by parsing the
 * result back.
 */
#include "unit.h"

#include "formparse.h"
#include "passform.h"

#include <stdbool.h>

/* -- helpers --------------------------------------------------------------- */

typedef struct {
    char out[4096];            /* the values joined by "|" */
    size_t len, n, stop_after; /* stop_after: 0 for never */
} vals;

static bool collect(void *arg, const char *v, size_t len)
{
    vals *c = arg;

    assert_true(v[len] == '\0');
    if (c->n > 0) {
        assert_true(c->len + 1 < sizeof(c->out));
        c->out[c->len++] = '|';
    }
    assert_true(c->len + len < sizeof(c->out));
    memcpy(c->out + c->len, v, len);
    c->len += len;
    c->out[c->len] = '\0';
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

/* each - mv_pf_each over an exact-size copy of in[0..n) */
static bool each(const mv_pf_type *t, const char *in, size_t n, const char *name, size_t max, vals *c)
{
    char *s = malloc(n ? n : 1);
    bool ok;

    assert_non_null(s);
    memcpy(s, in, n);
    memset(c, 0, sizeof(*c));
    ok = mv_pf_each(t, s, n, name, max, collect, c);
    free(s);
    return ok;
}

typedef struct {
    const char *in;
    const char *name;
    bool ok;
    const char *vals; /* joined by "|"; NULL: none */
} ecase;

#define BAD false, NULL

/* run - a table of cases of one type */
static void run(const mv_pf_type *t, const ecase *cs, size_t ncs)
{
    for (size_t i = 0; i < ncs; i++) {
        const ecase *c = &cs[i];
        vals v;
        bool ok = each(t, c->in, strlen(c->in), c->name, 320, &v);

        if (ok != c->ok)
            fail_case("#%zu %s in \"%.80s\": %s, wanted %s", i, c->name, c->in, ok ? "ok" : "malformed",
                      c->ok ? "ok" : "malformed");
        if (ok && (c->vals == NULL ? v.n != 0 : v.n == 0 || strcmp(v.out, c->vals) != 0))
            fail_case("#%zu %s in \"%.80s\": got %zu \"%s\", wanted \"%s\"", i, c->name, c->in, v.n, v.out,
                      c->vals ? c->vals : "(none)");
    }
}

/* strip - mv_pf_strip on an exact-size copy; the result must be want */
static void strip(const mv_pf_type *t, const char *in, const char *name, const char *want)
{
    size_t n = strlen(in), got;
    char *s = malloc(n ? n : 1);

    assert_non_null(s);
    memcpy(s, in, n);
    got = mv_pf_strip(t, s, n, name);
    if (got != strlen(want) || memcmp(s, want, got) != 0)
        fail_case("strip %s from \"%s\": \"%.*s\", wanted \"%s\"", name, in, (int)got, s, want);
    free(s);
}

/* -- Content-Type ---------------------------------------------------------- */

typedef struct {
    const char *ctype;
    mv_pf_kind kind;
    const char *boundary; /* multipart: "" for none usable */
} tcase;

static const tcase type_cases[] = {
    {"", MV_PF_URLENCODED, ""},
    {"   ", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded", MV_PF_URLENCODED, ""},
    {"Application/X-WWW-Form-URLEncoded", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded; charset=UTF-8", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded;charset=\"utf-8\"", MV_PF_URLENCODED, ""},
    {" \tapplication/x-www-form-urlencoded ", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded,text/plain", MV_PF_URLENCODED, ""}, /* as PHP cuts it */
    {"application/x-www-form-urlencodedX", MV_PF_URLENCODED, ""},           /* CGI.pm reads the prefix */
    {"application/x-www-form-urlencoded-foo; charset=latin1", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded; charset=iso-8859-15", MV_PF_URLENCODED, ""},
    {"application/x-www-form-urlencoded; charset=utf-16", MV_PF_UNREADABLE, ""},
    {"application/x-www-form-urlencoded; x=1; Charset=\"UTF-7\"", MV_PF_UNREADABLE, ""},
    {"multipart/form-data; boundary=abc; charset=shift_jis", MV_PF_UNREADABLE, ""},
    {"application/x-www-form", MV_PF_OTHER, ""},
    {"application/json", MV_PF_OTHER, ""},
    {"text/plain", MV_PF_OTHER, ""},
    {"multipart/mixed; boundary=abc", MV_PF_MULTIPART, "abc"}, /* Python reads any multipart/ */
    {"multipart/related; boundary=abc", MV_PF_MULTIPART, "abc"},
    {"multipart/form-dataX; boundary=abc", MV_PF_MULTIPART, "abc"},
    {"Multipart/Whatever;boundary=abc", MV_PF_MULTIPART, "abc"},
    {"; boundary=abc", MV_PF_OTHER, ""},
    /* boundaries */
    {"multipart/form-data; boundary=abc", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data;boundary=abc", MV_PF_MULTIPART, "abc"},
    {"MULTIPART/Form-Data; BOUNDARY=abc", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", MV_PF_MULTIPART,
     "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
    {"multipart/form-data; boundary=\"abc\"", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=\"a b:c.d/e=f?g(h)i+j_k.l'm\"", MV_PF_MULTIPART,
     "a b:c.d/e=f?g(h)i+j_k.l'm"},
    {"multipart/form-data; boundary=\"a,b\"", MV_PF_MULTIPART, ""}, /* CGI.pm: "a" */
    {"multipart/form-data; charset=utf-8; boundary=abc", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=abc; charset=utf-8", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data ;\tboundary=abc ; charset=\"utf-8\" ", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=abc;", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=abc; x=boundary", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; boundary=1234567890123456789012345678901234567890123456789012345678901234567890",
     MV_PF_MULTIPART, "1234567890123456789012345678901234567890123456789012345678901234567890"},
    /* multipart without a usable boundary: malformed, never handed on unread */
    {"multipart/form-data", MV_PF_MULTIPART, ""},
    {"multipart/form-data;", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=\"\"", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=\"abc", MV_PF_MULTIPART, ""}, /* never closed */
    {"multipart/form-data; boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
     MV_PF_MULTIPART, ""},                                             /* 71 */
    {"multipart/form-data; boundary=\"abc \"", MV_PF_MULTIPART, ""},   /* ends in a space */
    {"multipart/form-data; boundary=\"a\\\"b\"", MV_PF_MULTIPART, ""}, /* not bchars */
    {"multipart/form-data; boundary=\"a@b\"", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=a{b", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=\"a\tb\"", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary=abc def", MV_PF_MULTIPART, ""}, /* PHP: "abc def" */
    {"multipart/form-data; boundary=abc; boundary=def", MV_PF_MULTIPART, ""},
    {"multipart/form-data; Boundary=abc; BOUNDARY=abc", MV_PF_MULTIPART, ""},
    /* PHP takes the first "boundary" (in this case, else in any case) up to "=" */
    {"multipart/form-data; xboundary=abc", MV_PF_MULTIPART, ""},
    {"multipart/form-data; x=boundary; boundary=abc", MV_PF_MULTIPART, ""},
    {"multipart/form-data; BOUNDARY=abc; x=boundary", MV_PF_MULTIPART, ""},
    {"multipart/form-data; x=BOUNDARY; boundary=abc", MV_PF_MULTIPART, "abc"},
    {"multipart/form-data; x=\"boundary=evil\"; boundary=real", MV_PF_MULTIPART, ""},
    {"multipart/form-data; x=\";boundary=evil\"; boundary=real", MV_PF_MULTIPART, ""},
    {"multipart/form-data; boundary = abc", MV_PF_MULTIPART, ""},
    {"multipart/form-data boundary=abc", MV_PF_MULTIPART, ""},
    {"multipart/form-data, boundary=abc", MV_PF_MULTIPART, ""},
    {"multipart/form-data; =abc; boundary=abc", MV_PF_MULTIPART, ""},
};

static void test_type_of(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(type_cases) / sizeof(*type_cases); i++) {
        const tcase *c = &type_cases[i];
        mv_pf_type t = mv_pf_type_of(c->ctype);

        if (t.kind != c->kind || strcmp(t.boundary, c->boundary) != 0)
            fail_case("#%zu \"%s\": kind %d boundary \"%s\", wanted %d \"%s\"", i, c->ctype, (int)t.kind,
                      t.boundary, (int)c->kind, c->boundary);
    }
    assert_int_equal(mv_pf_type_of(NULL).kind, MV_PF_URLENCODED);
}

static void test_type_without_boundary_is_malformed(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=\"abc");
    const char body[] = "--abc\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx\r\n--abc--\r\n";
    char copy[sizeof(body)];
    mv_buf b = {0};
    vals v;

    (void)state;
    assert_false(each(&t, body, strlen(body), "email", 320, &v));
    memcpy(copy, body, sizeof(body));
    assert_int_equal(mv_pf_strip(&t, copy, strlen(body), "email"), strlen(body));
    assert_memory_equal(copy, body, sizeof(body));
    mv_buf_puts(&b, body);
    assert_false(mv_pf_append(&t, &b, "w", "x"));
    mv_buf_free(&b);
    /* other types have no fields, and nothing is added to them */
    t = mv_pf_type_of("text/plain");
    assert_true(each(&t, "email=x", 7, "email", 320, &v));
    assert_int_equal(v.n, 0);
    b = (mv_buf){0};
    mv_buf_puts(&b, "email=x");
    assert_false(mv_pf_append(&t, &b, "w", "x"));
    mv_buf_free(&b);
}

/* -- application/x-www-form-urlencoded ------------------------------------ */

static const ecase url_cases[] = {
    {"email=jane%40example.com", "email", true, "jane@example.com"},
    {"email=jane+doe", "email", true, "jane doe"},
    {"email=a%2Bb%2b+%20", "email", true, "a+b+  "},
    {"email=%4a%4A%7e", "email", true, "JJ~"},
    {"e%6Dail=x", "email", true, "x"},        /* encoded name */
    {"em+ail=x&email=y", "email", true, "y"}, /* "em ail" is another name */
    {"em+ail=x", "em ail", true, "x"},
    /* every occurrence, in order */
    {"email=1&email=2&email=3", "email", true, "1|2|3"},
    {"email=first&x=1&email=last", "email", true, "first|last"},
    /* names as PHP reads them: arrays, an unclosed "[" as "_", leading blanks */
    {"email[]=a&email[x]=b&email%5B0%5D=c&+email=d&email[=e", "email", true, "a|b|c|d|e"},
    {"%u0065mail=a&%U0065%u006D%u0061%u0069%u006C=b&%u00e9mail=c&%u006=d", "email", true, "a|b"}, /* CGI.pm */
    {"email[=a&email_=b&email.=c&email[x=d&email[]=e", "email_", true, "a|b|c"},
    /* at the start, in the middle, at the end */
    {"email=a&x=1&y=2", "email", true, "a"},
    {"x=1&email=a&y=2", "email", true, "a"},
    {"x=1&y=2&email=a", "email", true, "a"},
    /* prefixes and suffixes of the name are other names */
    {"email2=a&xemail=b&Email=c&emai=d&email+=e&email%20=f", "email", true, "c"}, /* case is ignored */
    /* empty values, no "=" */
    {"email=", "email", true, ""},
    {"email", "email", true, ""},
    {"x=1&email", "email", true, ""},
    {"email=&email", "email", true, "|"},
    {"email=a=b", "email", true, "a=b"},
    {"=x&email=a", "email", true, "a"},
    {"", "email", true, NULL},
    {"&", "email", true, NULL},
    {"&&email=a&&", "email", true, "a"},
    {"&&&", "email", true, NULL},
    /* ";" separates too (CGI.pm splits on it: a field it sees must be seen) */
    {"x=1;email=a", "email", true, "a"},
    {"email=a;b", "email", true, "a;b|a"}, /* PHP: "a;b", CGI.pm: "a" */
    {"email=a%3Bb", "email", true, "a;b"},
    {";;email=a;&email=b", "email", true, "b|a"}, /* split on "&", then on ";" */
    /* malformed escapes in the wanted value */
    {"email=%", "email", BAD},
    {"email=%4", "email", BAD},
    {"email=a%4&x=1", "email", BAD},
    {"email=%ZZ", "email", BAD},
    {"email=%G0", "email", BAD},
    {"email=%0G", "email", BAD},
    {"email=ok&email=%Z", "email", BAD},
    /* ... but not elsewhere: only the wanted field is decoded */
    {"x=%ZZ&email=a", "email", true, "a"},
    {"%ZZ=1&email=a", "email", true, "a"},
    {"email%=1&email=a", "email", true, "a"}, /* a bad name is literal: another name */
    {"email%4=1", "email", true, NULL},
    /* a decoded NUL ends a name (PHP keeps names in C strings) */
    {"email%00x=a", "email", true, "a"},
    {"email%00=a", "email", true, "a"},
    {"%00=a", "", true, "a"},
    {"em%00ail=a", "email", true, NULL},
    /* non-ASCII */
    {"email=%C3%A9%E2%82%AC", "email", true, "\xC3\xA9\xE2\x82\xAC"},
    {"%C3%A9=x", "\xC3\xA9", true, "x"},
    {"email=\xC3\xA9", "email", true, "\xC3\xA9"},
};

static void test_urlencoded(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};

    (void)state;
    run(&t, url_cases, sizeof(url_cases) / sizeof(*url_cases));
}

static void test_urlencoded_binary_and_len(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};
    vals v;

    (void)state;
    /* a NUL in a value is kept, the length says */
    assert_true(each(&t, "email=a%00b", 11, "email", 320, &v));
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.out, "a\0b", 3);
    /* a raw NUL byte is just a byte */
    assert_true(each(&t, "email=a\0b&x=1", 13, "email", 320, &v));
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.out, "a\0b", 3);
    /* the text ends at len, not at a NUL */
    assert_false(each(&t, "email=%41", 8, "email", 320, &v));
    assert_true(each(&t, "email=abc&email=d", 7, "email", 320, &v));
    assert_string_equal(v.out, "a");
}

static void test_urlencoded_max(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};
    vals v;

    (void)state;
    assert_true(each(&t, "email=1234567", 13, "email", 7, &v));
    assert_string_equal(v.out, "1234567");
    assert_false(each(&t, "email=12345678", 14, "email", 7, &v));
    assert_true(each(&t, "email=%31%32%33%34%35%36%37", 27, "email", 7, &v));
    assert_false(each(&t, "email=%31%32%33%34%35%36%37%38", 30, "email", 7, &v));
    assert_true(each(&t, "email=", 6, "email", 0, &v));
    assert_false(each(&t, "email=x", 7, "email", 0, &v));
    /* over max in another field is no matter */
    assert_true(each(&t, "x=12345678&email=1", 18, "email", 7, &v));
    /* an enormous max is no allocation of that size */
    assert_true(each(&t, "email=1", 7, "email", (size_t)-1, &v));
    assert_string_equal(v.out, "1");
}

/* repeat - n copies of a piece, then a tail */
static char *repeat(const char *piece, size_t n, const char *tail)
{
    size_t pl = strlen(piece), tl = strlen(tail);
    char *s = malloc(pl * n + tl + 1);

    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * pl, piece, pl);
    memcpy(s + pl * n, tail, tl + 1);
    return s;
}

static void test_urlencoded_field_count(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};
    char *s;
    vals v;

    (void)state;
    s = repeat("a=1&", MV_FORM_FIELDS_MAX - 1, "email=x");
    assert_true(each(&t, s, strlen(s), "email", 320, &v));
    assert_string_equal(v.out, "x");
    free(s);
    s = repeat("a=1&", MV_FORM_FIELDS_MAX, "email=x");
    assert_false(each(&t, s, strlen(s), "email", 320, &v));
    free(s);
    /* found early does not excuse the rest */
    s = repeat("&a", MV_FORM_FIELDS_MAX, "");
    {
        char *u = malloc(strlen(s) + 8);

        assert_non_null(u);
        strcpy(u, "email=x");
        strcat(u, s);
        free(s);
        s = u;
    }
    assert_false(each(&t, s, strlen(s), "email", 320, &v));
    free(s);
    /* empty pairs are not fields */
    s = repeat("&&&&", 1000, "email=x");
    assert_true(each(&t, s, strlen(s), "email", 320, &v));
    free(s);
    /* a long name is just another name */
    s = repeat("%6E", 3000, "=1&email=x");
    assert_true(each(&t, s, strlen(s), "email", 320, &v));
    assert_string_equal(v.out, "x");
    free(s);
}

static void test_each_stops(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};
    vals v = {.stop_after = 1};
    const char *in = "email=a&email=b";

    (void)state;
    assert_true(mv_pf_each(&t, in, strlen(in), "email", 320, collect, &v));
    assert_int_equal(v.n, 1);
    assert_string_equal(v.out, "a");
    /* NULL text: no fields */
    assert_true(mv_pf_each(&t, NULL, 0, "email", 320, collect, &v));
}

static void test_urlencoded_strip(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};

    (void)state;
    strip(&t, "w=1", "w", "");
    strip(&t, "w", "w", "");
    strip(&t, "w=1&a=2", "w", "a=2");
    strip(&t, "a=2&w=1", "w", "a=2");
    strip(&t, "a=2&w=1&b=3", "w", "a=2&b=3");
    strip(&t, "w=1&a=2&w=3&b=%41+x&w&w=", "w", "a=2&b=%41+x");
    strip(&t, "w=1&w=2&w=3", "w", "");
    strip(&t, "a=1&b=2", "w", "a=1&b=2");
    strip(&t, "", "w", "");
    /* names are compared decoded; the other bytes are never re-encoded */
    strip(&t, "%77=1&a=%2b+b&x%20y=%7e", "w", "a=%2b+b&x%20y=%7e");
    strip(&t, "w%00junk=1&a=1", "w", "a=1");
    strip(&t, "ww=1&w2=2&xw=3&W=4&w+=5", "w", "ww=1&w2=2&xw=3&w+=5"); /* any case */
    strip(&t, "w[]=1&%20w=2&x=3;w=4", "w", "x=3");                    /* as PHP, CGI.pm read it */
    strip(&t, "w%zz=1&w%=2&a=%zz", "w", "w%zz=1&w%=2&a=%zz");
    /* empty pairs and separators stay as they were */
    strip(&t, "&&a=1&&w=2&&", "w", "&&a=1&&&");
    strip(&t, "&w=1", "w", ""); /* the "&" went with the pair */
    strip(&t, "a=1;w=2&b=3", "w", "a=1&b=3");
    strip(&t, "w=1;a=2&b=3;c", "w", "a=2&b=3;c");
    strip(&t, "a=1;b=2", "w", "a=1;b=2");
    /* a raw NUL and high bytes elsewhere are kept */
    {
        const char in[] = "a=\0\xff&w=1&b=\x80";
        char s[sizeof(in) - 1];
        size_t n;

        memcpy(s, in, sizeof(s));
        n = mv_pf_strip(&t, s, sizeof(s), "w");
        assert_int_equal(n, 8);
        assert_memory_equal(s, "a=\0\xff&b=\x80", 8);
    }
}

/* -- multipart/form-data --------------------------------------------------- */

#define CD "Content-Disposition: form-data; name="
#define B "--XyZ"

static const ecase mp_cases[] = {
    {B "\r\n" CD "\"email\"\r\n\r\njane@example.com\r\n" B "--\r\n", "email", true, "jane@example.com"},
    {B "\r\n" CD "email\r\n\r\nx\r\n" B "--", "email", true, "x"}, /* unquoted, no CRLF at the end */
    {B "\r\n" CD "\"a\"\r\n\r\n1\r\n" B "\r\n" CD "\"email\"\r\n\r\n2\r\n" B "\r\n" CD
       "\"email\"\r\n\r\n3\r\n" B "--\r\n",
     "email", true, "2|3"},
    /* values are not decoded: + and %XX are bytes */
    {B "\r\n" CD "\"email\"\r\n\r\na+b%40c\r\n" B "--\r\n", "email", true, "a+b%40c"},
    {B "\r\n" CD "\"email\"\r\n\r\n\r\n" B "--\r\n", "email", true, ""},
    {B "\r\n" CD "\"email\"\r\n\r\n\r\n\r\n" B "--\r\n", "email", true, "\r\n"},
    /* prefixes of the name are other names; case is ignored */
    {B "\r\n" CD "\"email2\"\r\n\r\n1\r\n" B "\r\n" CD "\"xemail\"\r\n\r\n2\r\n" B "\r\n" CD
       "\"Email\"\r\n\r\n3\r\n" B "--\r\n",
     "email", true, "3"},
    /* preamble and epilogue */
    {"preamble XyZ\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--\r\nepilogue XyZ -XyZ\r\n", "email", true,
     "x"},
    {"preamble\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--\r\nepilogue --XyZ\r\n", "email", BAD},
    {"\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--\r\n", "email", true, "x"},
    {"pre--XyZ\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD}, /* CGI.pm: a delimiter */
    /* blanks after the delimiter (RFC 2046 transport padding) */
    {B " \t\r\n" CD "\"email\"\r\n\r\nx\r\n" B "  \r\n" CD "\"email\"\r\n\r\ny\r\n" B "--", "email", true,
     "x|y"},
    /* headers: case, other headers, order, folding */
    {B "\r\ncontent-disposition: FORM-DATA; NAME=\"email\"\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\nContent-Type: text/plain; charset=utf-8\r\nCONTENT-DISPOSITION:form-data;name=\"email\"\r\nX-A: "
       "b\r\n\r\nx\r\n" B "--",
     "email", true, "x"},
    {B "\r\nContent-Disposition: form-data;\r\n name=\"email\"\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\nContent-Disposition:\r\n\tform-data;\r\n\tname=email\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\nContent-Disposition: form-data; name=\"email\"; x=1;\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\nContent-Disposition: form-data ; name=\"email\" \r\n\r\nx\r\n" B "--", "email", true, "x"},
    /* the name: quoting, escaped quotes, a ";" inside */
    {B "\r\n" CD "\"a\\\"b\"\r\n\r\nx\r\n" B "--", "a\"b", true, "x"},
    {B "\r\n" CD "\"a;name=email\"\r\n\r\nx\r\n" B "--", "email", true, "x"}, /* a lax reader's name */
    {B "\r\n" CD "\"a;name=email\"\r\n\r\nx\r\n" B "--", "a;name=email", true, "x"},
    {B "\r\n" CD "\"a\\b\"\r\n\r\nx\r\n" B "--", "a\\b", true, "x"}, /* \b is itself */
    {B "\r\n" CD "\"\"\r\n\r\nx\r\n" B "--", "", true, "x"},
    {B "\r\n" CD "\"a%22b\"\r\n\r\nx\r\n" B "--", "a%22b", true, "x"}, /* %22 is not decoded */
    {B "\r\n" CD "\"\xC3\xA9\"\r\n\r\nx\r\n" B "--", "\xC3\xA9", true, "x"},
    /* files: the content and the filename are values (Python reads the
     * one, CGI.pm the other); filename="" is a field (Go reads it as one) */
    {B "\r\n" CD "\"email\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n" B "\r\n" CD
       "\"email\"\r\n\r\nx\r\n" B "--",
     "email", true, "file|a.txt|x"},
    {B "\r\nContent-Disposition: form-data; filename=a.txt; name=email\r\n\r\nfile\r\n" B "--", "email", true,
     "file|a.txt"},
    {B "\r\n" CD "\"email\"; filename=\"C:\\dir\\b@x.test\"\r\n\r\nf\r\n" B "--", "email", true,
     "f|C:\\dir\\b@x.test|b@x.test|C:dirb@x.test"}, /* PHP keeps the basename */
    {B "\r\n" CD "\"email\"; filename=\"\"\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\n" CD "\"email\"; filenamex=\"a\"\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\n" CD "\"email\"; filename*=\"a\"\r\n\r\nx\r\n" B "--", "email", true, "x|a"},
    {B "\r\n" CD "\"x\"; name*=UTF-8''%65mail\r\n\r\nv\r\n" B "--", "email", true, "v"}, /* RFC 2231 */
    {B "\r\nContent-Disposition: form-data; name*=UTF-8''%65mail\r\n\r\nv\r\n" B "--", "email", true, "v"},
    /* names a lax reader finds anywhere in the headers */
    {B "\r\nContent-Disposition: form-data; filename=\"x name=email;\"\r\n\r\nv\r\n" B "--", "email", true,
     "v|x name=email;"},
    {B "\r\nX-A:b Content-Disposition: form-data; name=\"email\"\r\n\r\nv\r\n" B "--", "email", true, "v"},
    {B "\r\nContent-ID: <email>\r\n\r\nv\r\n" B "--", "email", true, "v"},
    {B "\r\nContent-Disposition: form-data; name=\"user.email[]\"\r\n\r\nv\r\n" B "--", "user_email", true,
     "v"},
    /* what we cannot read in a wanted part; forms inside parts */
    {B "\r\n" CD "\"email\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYkB4LnRlc3Q=\r\n" B "--", "email",
     BAD},
    {B "\r\n" CD "\"x\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYkB4LnRlc3Q=\r\n" B "--", "email", true,
     NULL},
    {B "\r\n" CD "\"email\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nv\r\n" B "--", "email", true, "v"},
    {B "\r\n" CD "\"email\"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\nv\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"x\"\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nv\r\n--q--\r\n" B "--",
     "email", BAD},
    {B "\r\n" CD "\"x\"\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nemail=v\r\n" B "--",
     "email", BAD},
    /* a header line of blanks only ends the headers for Python */
    {B "\r\n" CD "\"email\"\r\n \r\nX: y\r\n\r\nv\r\n" B "--", "email", BAD},
    /* parts without headers, without a name, without a Content-Disposition */
    {B "\r\n\r\nno headers\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", true, "x"},
    {B "\r\nContent-Type: text/plain\r\n\r\ny\r\n" B "--", "email", true, NULL},
    {B "\r\nContent-Disposition: form-data\r\n\r\ny\r\n" B "--", "email", true, NULL},
    {B "--\r\n", "email", true, NULL},
    /* the boundary inside a value: bytes without its "--", else malformed */
    {B "\r\n" CD "\"email\"\r\n\r\naXyZb -XyZ\r\n-XyZ\r\n" B "--", "email", true, "aXyZb -XyZ\r\n-XyZ"},
    {B "\r\n" CD "\"x\"\r\n\r\na--XyZ\r\n" CD "\"email\"\r\n\r\nb\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\na --XyZ\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\na\r--XyZ\r\n" B "--", "email", BAD},
    {B "\r\nX: --XyZ\r\n" CD "\"email\"\r\n\r\na\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\na\r\n--XyZb\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\na\n--XyZ\r\n" CD "\"email\"\r\n\r\nb\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"x\"\r\n\r\na\r\n--XyZ-\r\n" B "--", "email", BAD},
    /* the close is a line of its own: Python reads on otherwise */
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "---;-\r\n", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--\r=\n", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "-- \t\r\nepilogue", "email", true, "x"},
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--  ", "email", true, "x"},
    /* no closing delimiter, a delimiter after the close */
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\nx", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B, "email", BAD},
    {B "\r\n", "email", BAD},
    {B, "email", BAD},
    {"", "email", BAD},
    {"no delimiter at all", "email", BAD},
    {B "--\r\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD}, /* PHP reads on */
    {B "\r\n" CD "\"a\"\r\n\r\n1\r\n" B "--\r\n\r\n" B "--", "email", BAD},
    /* bare LF: not accepted anywhere */
    {B "\n" CD "\"email\"\n\nx\n" B "--\n", "email", BAD},
    {B "\r\n" CD "\"email\"\n\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n\nx\r\n\r\n" B "--", "email", BAD},
    {"pre\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {"\n" B "\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    /* bad delimiter lines */
    {B "x\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B " x\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n\r\n" B "--", "email", BAD}, /* no blank line */
    {B "\r\n" CD "\"email\"\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n" B "\r\n\r\nx\r\n" B "--", "email", BAD},
    /* bad headers */
    {B "\r\nContent-Disposition form-data; name=\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\nContent-Disposition : form-data; name=\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n: x\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n folded first\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"\r\n" CD "\"x\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\"; name=\"x\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "x; filename=a; filename=b\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\r\n\r\nx\r\n" B "--", "email", BAD}, /* never closed */
    {B "\r\n" CD "\"email\"x\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "'email'\r\n\r\nx\r\n" B "--", "email", BAD}, /* PHP: email */
    {B "\r\n" CD "\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\n" CD "\"email\" name2=x\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\nContent-Disposition: ; name=\"email\"\r\n\r\nx\r\n" B "--", "email", BAD},
    {B "\r\nContent-Disposition: form-data; name=email; foo=\"; name=x\"\r\n\r\nx\r\n" B "--", "email", true,
     "x"},
    {B "\r\nContent-Disposition: form-data; name=\"x\"; foo=\"; name=email\r\n\r\nx\r\n" B "--", "email",
     BAD},
};

static void test_multipart(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=XyZ");

    (void)state;
    assert_int_equal(t.kind, MV_PF_MULTIPART);
    run(&t, mp_cases, sizeof(mp_cases) / sizeof(*mp_cases));
}

static void test_multipart_hostile_bytes(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=\"a b\"");
    static const char bin[] = B "\r\n" CD "\"email\"\r\n\r\n\0\xff\r\n\0-XyZ\r\r\n" B "--\r\n";
    static const char bin2[] = B "\r\n" CD "\"email\"\r\n\r\n\0--XyZ\r\n" B "--\r\n";
    static const char nul_hdr[] = B "\r\n" CD "\"em\0ail\"\r\n\r\nx\r\n" B "--\r\n";
    static const char sp[] = "--a b\r\n" CD "\"email\"\r\n\r\nx\r\n--a b--";
    vals v;

    (void)state;
    /* a boundary with a space */
    assert_true(each(&t, sp, strlen(sp), "email", 320, &v));
    assert_string_equal(v.out, "x");
    t = mv_pf_type_of("multipart/form-data; boundary=XyZ");
    /* binary values with NULs: every byte up to the CRLF before the delimiter */
    assert_true(each(&t, bin, sizeof(bin) - 1, "email", 320, &v));
    assert_int_equal(v.len, 10);
    assert_memory_equal(v.out, "\0\xff\r\n\0-XyZ\r", 10);
    assert_false(each(&t, bin2, sizeof(bin2) - 1, "email", 320, &v));
    /* a NUL in the headers */
    assert_false(each(&t, nul_hdr, sizeof(nul_hdr) - 1, "email", 320, &v));
    assert_false(each(&t, nul_hdr, sizeof(nul_hdr) - 1, "em", 320, &v));
    /* the text ends at len: the close cut off is missing */
    assert_false(each(&t, sp, 0, "email", 320, &v));
}

static void test_multipart_max(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=XyZ");
    const char *in =
        B "\r\n" CD "\"email\"\r\n\r\n12345678\r\n" B "\r\n" CD "\"x\"\r\n\r\n123456789\r\n" B "--";
    char *s, *big;
    vals v;

    (void)state;
    assert_true(each(&t, in, strlen(in), "email", 8, &v));
    assert_false(each(&t, in, strlen(in), "email", 7, &v));
    assert_true(each(&t, in, strlen(in), "x", 9, &v));
    /* MV_FORM_FIELDS_MAX parts are fine, one more is malformed */
    s = repeat(B "\r\n" CD "\"a\"\r\n\r\n1\r\n", MV_FORM_FIELDS_MAX, B "--");
    assert_true(each(&t, s, strlen(s), "email", 320, &v));
    free(s);
    s = repeat(B "\r\n" CD "\"a\"\r\n\r\n1\r\n", MV_FORM_FIELDS_MAX + 1, B "--");
    assert_false(each(&t, s, strlen(s), "email", 320, &v));
    free(s);
    /* a header too long to unfold, a name too long for anything */
    big = repeat("n", 3000, "");
    s = malloc(4000);
    assert_non_null(s);
    snprintf(s, 4000, B "\r\n" CD "\"%s\"\r\n\r\nx\r\n" B "--", big);
    assert_false(each(&t, s, strlen(s), "email", 320, &v));
    /* a long other header is fine */
    snprintf(s, 4000, B "\r\nX-Long: %s\r\n" CD "\"email\"\r\n\r\nx\r\n" B "--", big);
    assert_true(each(&t, s, strlen(s), "email", 320, &v));
    assert_string_equal(v.out, "x");
    free(s);
    free(big);
}

static void test_multipart_strip(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=XyZ");
    const char *a = B "\r\n" CD "\"a\"\r\n\r\n1 %41+\r\n";
    const char *w = B "\r\n" CD "\"w\"\r\n\r\nforged\r\n";
    const char *wf = B "\r\n" CD "\"w\"; filename=\"f\"\r\n\r\nfile\r\n";
    const char *c = B "\r\nContent-Type: text/plain\r\n" CD "\"c\"\r\n\r\n\r\n";
    char in[1024], want[1024];

    (void)state;
    /* first, middle, last, every one, a file part too; preamble and epilogue kept */
    snprintf(in, sizeof(in), "pre\r\n%s%s%s%s%s%s--\r\nepi", w, a, w, c, wf, B);
    snprintf(want, sizeof(want), "pre\r\n%s%s%s--\r\nepi", a, c, B);
    strip(&t, in, "w", want);
    snprintf(in, sizeof(in), "%s%s", w, B "--");
    strip(&t, in, "w", B "--");
    snprintf(in, sizeof(in), "%s%s%s", a, c, B "--\r\n");
    strip(&t, in, "w", in);
    strip(&t, in, "a", B "\r\nContent-Type: text/plain\r\n" CD "\"c\"\r\n\r\n\r\n" B "--\r\n");
    /* names: any case, prefixes kept */
    snprintf(in, sizeof(in), "%s%s", B "\r\n" CD "\"ww\"\r\n\r\nx\r\n" B "\r\n" CD "\"W\"\r\n\r\nx\r\n",
             B "--");
    strip(&t, in, "w", B "\r\n" CD "\"ww\"\r\n\r\nx\r\n" B "--");
    /* malformed: parts before the fault are cut, the rest is left */
    snprintf(in, sizeof(in), "%s%s%s", w, a, B "\r\nbroken");
    snprintf(want, sizeof(want), "%s%s", a, B "\r\nbroken");
    strip(&t, in, "w", want);
    strip(&t, "no multipart", "w", "no multipart");
    /* a preamble that is only the CRLF before the first delimiter */
    snprintf(in, sizeof(in), "\r\n%s%s%s", w, a, B "--");
    snprintf(want, sizeof(want), "\r\n%s%s", a, B "--");
    strip(&t, in, "w", want);
}

/* -- append ---------------------------------------------------------------- */

/* values_of - each's values of name in b, "|"-joined; "!" if malformed */
static const char *values_of(const mv_pf_type *t, const mv_buf *b, const char *name, vals *v)
{
    if (!each(t, b->data ? b->data : "", b->len, name, 320, v))
        return "!";
    return v->n ? v->out : "(none)";
}

static void test_append_urlencoded(void **state)
{
    mv_pf_type t = {MV_PF_URLENCODED, ""};
    mv_buf b = {0};
    vals v;

    (void)state;
    assert_true(mv_pf_append(&t, &b, "w", "ok"));
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "w=ok", 4);
    mv_buf_free(&b);
    mv_buf_puts(&b, "a=1%2B&email=x+y");
    assert_true(mv_pf_append(&t, &b, "warn field", "invalid:syntax & more=1"));
    assert_true(mv_pf_append(&t, &b, "w", "\xC3\xA9~-._"));
    assert_int_equal(b.len,
                     strlen("a=1%2B&email=x+y&warn%20field=invalid%3Asyntax%20%26%20more%3D1&w=%C3%A9~-._"));
    assert_memory_equal(
        b.data, "a=1%2B&email=x+y&warn%20field=invalid%3Asyntax%20%26%20more%3D1&w=%C3%A9~-._", b.len);
    assert_string_equal(values_of(&t, &b, "warn field", &v), "invalid:syntax & more=1");
    assert_string_equal(values_of(&t, &b, "a", &v), "1+");
    assert_string_equal(values_of(&t, &b, "email", &v), "x y");
    assert_string_equal(values_of(&t, &b, "w", &v), "\xC3\xA9~-._");
    mv_buf_free(&b);
    /* no doubled separator */
    mv_buf_puts(&b, "a=1&");
    assert_true(mv_pf_append(&t, &b, "w", ""));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "a=1&w=", 6);
    mv_buf_free(&b);
    mv_buf_puts(&b, "a=1;"); /* "&" after ";": PHP would read a = "1;w=x" */
    assert_true(mv_pf_append(&t, &b, "w", "x"));
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "a=1;&w=x", 8);
    /* what cannot be added */
    assert_false(mv_pf_append(&t, &b, "", "x"));
    {
        char *longname = repeat("n", 256, "");

        assert_false(mv_pf_append(&t, &b, longname, "x"));
        longname[255] = '\0';
        assert_true(mv_pf_append(&t, &b, longname, "x"));
        assert_string_equal(values_of(&t, &b, longname, &v), "x");
        free(longname);
    }
    mv_buf_free(&b);
    {
        char *s = repeat("a=1&", MV_FORM_FIELDS_MAX - 1, "");

        mv_buf_puts(&b, s);
        assert_true(mv_pf_append(&t, &b, "w", "x"));  /* the 256th */
        assert_false(mv_pf_append(&t, &b, "w", "y")); /* a 257th would be malformed */
        assert_string_equal(values_of(&t, &b, "w", &v), "x");
        free(s);
    }
    mv_buf_free(&b);
}

static void test_append_multipart(void **state)
{
    mv_pf_type t = mv_pf_type_of("multipart/form-data; boundary=XyZ");
    const char *orig = "pre\r\n" B "\r\n" CD "\"email\"\r\n\r\njane@example.com\r\n" B "\r\n" CD
                       "\"f\"; filename=\"x\"\r\n\r\n\0bin\r\n" B "--\r\nepilogue";
    size_t olen = strlen(orig) + 1 + strlen("bin\r\n" B "--\r\nepilogue");
    mv_buf b = {0};
    vals v;

    (void)state;
    mv_buf_put(&b, orig, olen);
    assert_true(mv_pf_append(&t, &b, "w", "invalid:syntax"));
    assert_true(mv_pf_append(&t, &b, "w", "risky:role \"q\""));
    assert_string_equal(values_of(&t, &b, "w", &v), "invalid:syntax|risky:role \"q\"");
    assert_string_equal(values_of(&t, &b, "email", &v), "jane@example.com");
    /* every original byte is where it was, the parts inserted before the close */
    {
        const char *add =
            B "\r\n" CD "\"w\"\r\n\r\ninvalid:syntax\r\n" B "\r\n" CD "\"w\"\r\n\r\nrisky:role \"q\"\r\n";
        size_t at = olen - strlen(B "--\r\nepilogue");

        assert_int_equal(b.len, olen + strlen(add));
        assert_memory_equal(b.data, orig, at);
        assert_memory_equal(b.data + at, add, strlen(add));
        assert_memory_equal(b.data + at + strlen(add), orig + at, olen - at);
    }
    /* strip takes them out again: the original bytes */
    b.len = mv_pf_strip(&t, b.data, b.len, "w");
    assert_int_equal(b.len, olen);
    assert_memory_equal(b.data, orig, olen);
    /* what cannot be added */
    assert_false(mv_pf_append(&t, &b, "a\"b", "x"));
    assert_false(mv_pf_append(&t, &b, "a\\b", "x"));
    assert_false(mv_pf_append(&t, &b, "a\r\nb", "x"));
    assert_false(mv_pf_append(&t, &b, "w", "x\r\n--XyZ--"));
    assert_false(mv_pf_append(&t, &b, "w", "x\ny"));
    assert_false(mv_pf_append(&t, &b, "w", "a--XyZb")); /* the boundary in what is added */
    assert_false(mv_pf_append(&t, &b, "a--XyZ", "x"));
    assert_true(mv_pf_append(&t, &b, "w-XyZ", "a-XyZ"));
    b.len = mv_pf_strip(&t, b.data, b.len, "w-XyZ");
    assert_false(mv_pf_append(&t, &b, "", "x"));
    assert_int_equal(b.len, olen);
    assert_memory_equal(b.data, orig, olen);
    mv_buf_free(&b);
    /* only a close delimiter; no close; nothing */
    mv_buf_puts(&b, B "--");
    assert_true(mv_pf_append(&t, &b, "w", "x"));
    assert_string_equal(values_of(&t, &b, "w", &v), "x");
    mv_buf_free(&b);
    mv_buf_puts(&b, B "\r\n" CD "\"a\"\r\n\r\n1\r\n");
    assert_false(mv_pf_append(&t, &b, "w", "x"));
    mv_buf_free(&b);
    assert_false(mv_pf_append(&t, &b, "w", "x"));
    /* a quoted boundary with a space */
    t = mv_pf_type_of("multipart/form-data; boundary=\"a b\"");
    mv_buf_puts(&b, "--a b\r\n" CD "\"a\"\r\n\r\n1\r\n--a b--\r\n");
    assert_true(mv_pf_append(&t, &b, "w", "x"));
    assert_string_equal(values_of(&t, &b, "w", &v), "x");
    assert_string_equal(values_of(&t, &b, "a", &v), "1");
    mv_buf_free(&b);
}

/* -- pct ------------------------------------------------------------------- */

static void test_pct(void **state)
{
    mv_buf b = {0};
    char all[256], want[1024];
    size_t o = 0;

    (void)state;
    mv_pf_pct(&b, "AZaz09-._~", 10);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "AZaz09-._~", 10);
    mv_buf_reset(&b);
    mv_pf_pct(&b, "a b+c&d=e%f/g?h#i;j@k\"", 22);
    assert_int_equal(b.len, strlen("a%20b%2Bc%26d%3De%25f%2Fg%3Fh%23i%3Bj%40k%22"));
    assert_memory_equal(b.data, "a%20b%2Bc%26d%3De%25f%2Fg%3Fh%23i%3Bj%40k%22", b.len);
    /* every byte */
    for (int i = 0; i < 256; i++) {
        unsigned char c = (unsigned char)i;

        all[i] = (char)c;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c != 0 && strchr("-._~", c) != NULL))
            want[o++] = (char)c;
        else
            o += (size_t)sprintf(want + o, "%%%02X", c);
    }
    want[o] = '\0';
    mv_buf_reset(&b);
    mv_pf_pct(&b, all, 256);
    assert_int_equal(b.len, o);
    assert_memory_equal(b.data, want, o);
    /* and back: mv_pf_each decodes it to the same bytes */
    {
        mv_pf_type t = {MV_PF_URLENCODED, ""};
        mv_buf q = {0};
        vals v;

        mv_buf_puts(&q, "v=");
        mv_buf_put(&q, b.data, b.len);
        assert_true(each(&t, q.data, q.len, "v", 320, &v));
        assert_int_equal(v.len, 256);
        assert_memory_equal(v.out, all, 256);
        mv_buf_free(&q);
    }
    mv_buf_reset(&b);
    mv_pf_pct(&b, "", 0);
    assert_int_equal(b.len, 0);
    mv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_of),
        cmocka_unit_test(test_type_without_boundary_is_malformed),
        cmocka_unit_test(test_urlencoded),
        cmocka_unit_test(test_urlencoded_binary_and_len),
        cmocka_unit_test(test_urlencoded_max),
        cmocka_unit_test(test_urlencoded_field_count),
        cmocka_unit_test(test_each_stops),
        cmocka_unit_test(test_urlencoded_strip),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_multipart_hostile_bytes),
        cmocka_unit_test(test_multipart_max),
        cmocka_unit_test(test_multipart_strip),
        cmocka_unit_test(test_append_urlencoded),
        cmocka_unit_test(test_append_multipart),
        cmocka_unit_test(test_pct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
