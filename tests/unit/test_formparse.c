/* SPDX-License-Identifier: MIT */
/*
 * test_formparse.c - the web plugin's request parsers and token buckets.
 *
 * mv_form_get and mv_json_get read bytes a browser or a script sends: the
 * tables below give the input, the output buffer's size and the status
 * and value expected. Inputs are copied to a heap block of exactly their
 * length (no NUL after it) so that a read past len is caught under
 * SANITIZE=1; the output buffer is exactly `size` bytes for the same
 * reason, and a status of OK must come with outlen < size and a NUL at
 * out[outlen]. The token buckets are driven with explicit times.
 */
#include "unit.h"

#include "formparse.h"
#include "ratelimit.h"

#include <pthread.h>

typedef struct {
    const char *in;
    size_t inlen; /* 0: strlen(in) */
    size_t size;  /* output buffer; 0: 64 */
    mv_form_status st;
    const char *out; /* expected value when st is OK */
    size_t outlen;   /* 0: strlen(out) */
} fcase;

typedef mv_form_status (*getter)(const char *, size_t, const char *, char *, size_t, size_t *);

/* run - one case through a parser, with exact-size heap buffers */
static void run(getter get, const fcase *c, const char *name)
{
    size_t n = c->inlen ? c->inlen : strlen(c->in), size = c->size ? c->size : 64;
    char *in = malloc(n ? n : 1), *out = malloc(size);
    size_t outlen = (size_t)-1;
    mv_form_status st;

    assert_non_null(in);
    assert_non_null(out);
    memcpy(in, c->in, n);
    memset(out, 'Z', size);
    st = get(in, n, name, out, size, &outlen);
    if (st != c->st)
        fail_case("%s: %.60s -> %s, wanted %s", name, c->in, mv_form_status_text(st),
                  mv_form_status_text(c->st));
    if (st == MV_FORM_OK) {
        size_t want = c->outlen ? c->outlen : strlen(c->out);

        if (outlen >= size || out[outlen] != '\0')
            fail_case("%.60s: outlen %zu, size %zu, not terminated", c->in, outlen, size);
        if (outlen != want || memcmp(out, c->out, want) != 0)
            fail_case("%.60s: got \"%.*s\" (%zu), wanted \"%s\"", c->in, (int)outlen, out, outlen, c->out);
    }
    free(in);
    free(out);
}

/* -- application/x-www-form-urlencoded ------------------------------------ */

static const fcase form_cases[] = {
    {"email=jane%40example.com", 0, 0, MV_FORM_OK, "jane@example.com", 0},
    {"email=jane+doe", 0, 0, MV_FORM_OK, "jane doe", 0},
    {"email=a%2Bb%2b", 0, 0, MV_FORM_OK, "a+b+", 0},
    {"email=%4a%4A%7e", 0, 0, MV_FORM_OK, "JJ~", 0},
    {"e%6Dail=x", 0, 0, MV_FORM_OK, "x", 0}, /* encoded name */
    {"%65%6d%61%69%6c=x", 0, 0, MV_FORM_OK, "x", 0},
    {"em+ail=x&email=y", 0, 0, MV_FORM_OK, "y", 0}, /* "em ail" is another name */
    {"email=1&email=2", 0, 0, MV_FORM_OK, "2", 0},  /* duplicates: the last */
    {"email=1&x=2&email=", 0, 0, MV_FORM_OK, "", 0},
    {"email=", 0, 0, MV_FORM_OK, "", 0},
    {"email", 0, 0, MV_FORM_OK, "", 0}, /* no '=': empty value */
    {"x=1&email", 0, 0, MV_FORM_OK, "", 0},
    {"email=a=b", 0, 0, MV_FORM_OK, "a=b", 0},
    {"", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"&", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"emailx=1&xemail=2&Email=3&=4", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"&&email=a&&", 0, 0, MV_FORM_OK, "a", 0},
    {"=x&email=a", 0, 0, MV_FORM_OK, "a", 0},
    {"email=a%00b", 0, 0, MV_FORM_OK, "a\0b", 3}, /* NUL kept, length says */
    {"email=%C3%A9", 0, 0, MV_FORM_OK, "\xC3\xA9", 0},
    /* malformed escapes in the wanted value */
    {"email=%", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=%4", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=a%4&x=1", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=%ZZ", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=%G0", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=%0G", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=ok&email=%Z", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    /* ... only the wanted field is decoded */
    {"x=%ZZ&email=a", 0, 0, MV_FORM_OK, "a", 0},
    {"%ZZ=1&email=a", 0, 0, MV_FORM_OK, "a", 0},
    /* the text ends at len, not at a NUL: a truncated escape stays truncated */
    {"email=%41", 8, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"email=abc", 7, 0, MV_FORM_OK, "a", 0},
    {"email=a\0b", 9, 0, MV_FORM_OK, "a\0b", 3},
    /* value length against the buffer (its NUL included) */
    {"email=1234567", 0, 8, MV_FORM_OK, "1234567", 0},
    {"email=12345678", 0, 8, MV_FORM_TOO_LONG, NULL, 0},
    {"email=%31%32%33%34%35%36%37", 0, 8, MV_FORM_OK, "1234567", 0},
    {"email=%31%32%33%34%35%36%37%38", 0, 8, MV_FORM_TOO_LONG, NULL, 0},
    {"email=", 0, 1, MV_FORM_OK, "", 0},
    {"email=x", 0, 1, MV_FORM_TOO_LONG, NULL, 0},
};

static void test_form_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(form_cases) / sizeof(*form_cases); i++)
        run(mv_form_get, &form_cases[i], "email");
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

static void test_form_field_count(void **state)
{
    char *s;

    (void)state;
    /* MV_FORM_FIELDS_MAX fields are fine, one more is malformed */
    s = repeat("a=1&", MV_FORM_FIELDS_MAX - 1, "email=x");
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_OK, "x", 0}, "email");
    free(s);
    s = repeat("a=1&", MV_FORM_FIELDS_MAX, "email=x");
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_TOO_MANY, NULL, 0}, "email");
    free(s);
    /* found early does not excuse the rest */
    s = repeat("a&", MV_FORM_FIELDS_MAX, "");
    memcpy(s, "email=x&", 8); /* "email=x&" + "a&" x (MAX - 4): fewer than MAX */
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_OK, "x", 0}, "email");
    free(s);
    s = repeat("&a", MV_FORM_FIELDS_MAX, "");
    {
        char *t = malloc(strlen(s) + 8);

        assert_non_null(t);
        strcpy(t, "email=x");
        strcat(t, s); /* the field, then MAX more */
        free(s);
        s = t;
    }
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_TOO_MANY, NULL, 0}, "email");
    free(s);
}

static void test_form_long_name(void **state)
{
    /* a name longer than any we look up is skipped, not an error */
    char *s = repeat("n", 300, "=1&email=x");

    (void)state;
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_OK, "x", 0}, "email");
    free(s);
    s = repeat("%6E", 300, "=1&email=x");
    run(mv_form_get, &(fcase){s, 0, 0, MV_FORM_OK, "x", 0}, "email");
    free(s);
}

/* -- JSON ------------------------------------------------------------------ */

static const fcase json_cases[] = {
    {"{\"email\":\"jane@example.com\"}", 0, 0, MV_FORM_OK, "jane@example.com", 0},
    {" \r\n\t{ \"email\" :\n \"a\" , \"x\" : 1 } \n", 0, 0, MV_FORM_OK, "a", 0},
    {"{}", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"{\"Email\":\"a\",\"emails\":\"b\"}", 0, 0, MV_FORM_MISSING, NULL, 0},
    /* escapes */
    {"{\"email\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 0, 0, MV_FORM_OK, "\"\\/\b\f\n\r\t", 0},
    {"{\"email\":\"\\u0041\\u00e9\\u20AC\"}", 0, 0, MV_FORM_OK, "A\xC3\xA9\xE2\x82\xAC", 0},
    {"{\"email\":\"\\ud83d\\ude00\"}", 0, 0, MV_FORM_OK, "\xF0\x9F\x98\x80", 0},
    {"{\"email\":\"\\uDBFF\\uDFFF\"}", 0, 0, MV_FORM_OK, "\xF4\x8F\xBF\xBF", 0},
    {"{\"email\":\"a\\u0000b\"}", 0, 0, MV_FORM_OK, "a\0b", 3},
    {"{\"em\\u0061il\":\"x\"}", 0, 0, MV_FORM_OK, "x", 0}, /* names are decoded */
    {"{\"email\":\"\xC3\xA9\"}", 0, 0, MV_FORM_OK, "\xC3\xA9", 0},
    /* lone and broken surrogates, bad escapes */
    {"{\"email\":\"\\ud83d\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\ud83dx\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\ud83d\\u0041\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\ud83d\\ud83d\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\ude00\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\ude00\\ud83d\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\u12G4\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\u12\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\x41\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"\\'\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    /* control characters must be escaped */
    {"{\"email\":\"a\x01\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"a\tb\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"email\":\"a\nb\"}", 0, 0, MV_FORM_BAD_ENCODING, NULL, 0},
    {"{\"x\":\"a\x1f\",\"email\":\"b\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":\"\\q\",\"email\":\"b\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":\"\\ud800\",\"email\":\"b\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    /* not one object, trailing garbage, broken structure */
    {"", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"   ", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"[\"email\",\"a\"]", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"\"email\"", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"null", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"email=a", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"}x", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"}{}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"},", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"}\0", 14, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\"}", 12, 0, MV_FORM_BAD_JSON, NULL, 0}, /* len ends before the '}' */
    {"{\"email\":\"a\",}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\" \"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":1 \"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{email:\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{'email':'a'}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":[1,2,],\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":{\"y\"},\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":tru,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":truex,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"x\":,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    /* numbers and literals around the field */
    {"{\"n\":0,\"m\":-1.5e+10,\"k\":2E-3,\"t\":true,\"f\":false,\"z\":null,\"email\":\"a\"}", 0, 0,
     MV_FORM_OK, "a", 0},
    {"{\"n\":-,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"n\":1e,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"n\":1.,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"n\":+,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"n\":x1,\"email\":\"a\"}", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"a\",\"n\":12", 0, 0, MV_FORM_BAD_JSON, NULL, 0},
    /* nested objects and arrays: only a top-level member counts */
    {"{\"a\":{\"email\":\"no\"},\"b\":[\"email\",\"no\"],\"email\":\"yes\"}", 0, 0, MV_FORM_OK, "yes", 0},
    {"{\"email\":\"yes\",\"a\":{\"email\":\"no\",\"c\":[{},[],{\"d\":[null]}]}}", 0, 0, MV_FORM_OK, "yes", 0},
    {"{\"a\":{\"email\":\"no\"}}", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"{\"a\":[\"email\",\"no\"]}", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"{\"x\":\"{\\\"email\\\":\\\"no\\\"}\"}", 0, 0, MV_FORM_MISSING, NULL, 0},
    {"{\"x\":\"a\\\"b\",\"email\":\"c\"}", 0, 0, MV_FORM_OK, "c", 0},
    /* the field is not a string */
    {"{\"email\":5}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":null}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":true}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":[\"a@b.c\"]}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":{\"v\":\"a@b.c\"}}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":[}", 0, 0, MV_FORM_BAD_JSON, NULL, 0}, /* and not even JSON */
    /* duplicate members: the last one */
    {"{\"email\":\"a\",\"email\":\"b\"}", 0, 0, MV_FORM_OK, "b", 0},
    {"{\"email\":1,\"email\":\"b\"}", 0, 0, MV_FORM_OK, "b", 0},
    {"{\"email\":\"a\",\"email\":1}", 0, 0, MV_FORM_NOT_STRING, NULL, 0},
    {"{\"email\":\"12345678\",\"email\":\"b\"}", 0, 8, MV_FORM_OK, "b", 0},
    /* value length against the buffer (its NUL included) */
    {"{\"email\":\"1234567\"}", 0, 8, MV_FORM_OK, "1234567", 0},
    {"{\"email\":\"12345678\"}", 0, 8, MV_FORM_TOO_LONG, NULL, 0},
    {"{\"email\":\"123456\\u00e9\"}", 0, 8, MV_FORM_TOO_LONG, NULL, 0},
    {"{\"email\":\"12345\\u00e9\"}", 0, 8, MV_FORM_OK, "12345\xC3\xA9", 0},
    {"{\"email\":\"123\\ud83d\\ude00\"}", 0, 8, MV_FORM_OK, "123\xF0\x9F\x98\x80", 0},
    {"{\"email\":\"1234\\ud83d\\ude00\"}", 0, 8, MV_FORM_TOO_LONG, NULL, 0},
    {"{\"email\":\"\"}", 0, 1, MV_FORM_OK, "", 0},
    {"{\"email\":\"x\"}", 0, 1, MV_FORM_TOO_LONG, NULL, 0},
    /* ... and a long value does not hide what follows it */
    {"{\"email\":\"12345678\",\"x\":}", 0, 8, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"12345678\\q\"}", 0, 8, MV_FORM_BAD_JSON, NULL, 0},
    {"{\"email\":\"12345678\"} x", 0, 8, MV_FORM_BAD_JSON, NULL, 0},
};

static void test_json_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(json_cases) / sizeof(*json_cases); i++)
        run(mv_json_get, &json_cases[i], "email");
}

/* nest - {"x": <n arrays> 1 </n>, "email": "a"} */
static char *nest(size_t n, char open, char close)
{
    size_t len = 5 + 6 * n + 1 + 13; /* "{\"x\":", (open "k": close) x n, 1, tail */
    char *s = malloc(len + 1), *p = s;

    assert_non_null(s);
    p += sprintf(p, "{\"x\":");
    for (size_t i = 0; i < n; i++) {
        *p++ = open;
        if (open == '{')
            p += sprintf(p, "\"k\":");
    }
    *p++ = '1';
    for (size_t i = 0; i < n; i++)
        *p++ = close;
    sprintf(p, ",\"email\":\"a\"}");
    return s;
}

static void test_json_depth(void **state)
{
    (void)state;
    /* the top object is level 1: MV_JSON_DEPTH_MAX - 1 containers inside */
    for (int o = 0; o < 2; o++) {
        char open = o ? '{' : '[', close = o ? '}' : ']';
        char *s = nest(MV_JSON_DEPTH_MAX - 1, open, close);
        run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_OK, "a", 0}, "email");
        free(s);
        s = nest(MV_JSON_DEPTH_MAX, open, close);
        run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
        free(s);
    }
    {
        /* far deeper than the stack would like: refused, not a crash */
        char *s = repeat("[", 100000, "");

        run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
        free(s);
        s = repeat("{\"a\":", 100000, "");
        run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
        free(s);
    }
}

static void test_json_members_and_names(void **state)
{
    char *s, *long_name;

    (void)state;
    s = repeat("\"a\":1,", MV_FORM_FIELDS_MAX - 1, "\"email\":\"x\"}");
    {
        char *t = malloc(strlen(s) + 2);

        assert_non_null(t);
        t[0] = '{';
        strcpy(t + 1, s);
        run(mv_json_get, &(fcase){t, 0, 0, MV_FORM_OK, "x", 0}, "email");
        free(t);
    }
    free(s);
    s = repeat("\"a\":1,", MV_FORM_FIELDS_MAX, "\"email\":\"x\"}");
    {
        char *t = malloc(strlen(s) + 2);

        assert_non_null(t);
        t[0] = '{';
        strcpy(t + 1, s);
        run(mv_json_get, &(fcase){t, 0, 0, MV_FORM_TOO_MANY, NULL, 0}, "email");
        free(t);
    }
    free(s);
    /* a member name longer than any we look up is skipped ... */
    long_name = repeat("n", 300, "");
    assert_true(asprintf(&s, "{\"%s\":\"v\",\"email\":\"y\"}", long_name) > 0);
    run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_OK, "y", 0}, "email");
    free(s);
    /* ... but still has to be a well-formed string */
    assert_true(asprintf(&s, "{\"%s\\q\":1,\"email\":\"y\"}", long_name) > 0);
    run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
    free(s);
    /* (the rest of the name after a bad escape is not a way out of it) */
    assert_true(asprintf(&s, "{\"%s\\q:1,\"email\":\"y\"}", long_name) > 0);
    run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
    free(s);
    assert_true(asprintf(&s, "{\"%s\x01:1,\"email\":\"y\"}", long_name) > 0);
    run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
    free(s);
    assert_true(asprintf(&s, "{\"%s", long_name) > 0);
    run(mv_json_get, &(fcase){s, 0, 0, MV_FORM_BAD_JSON, NULL, 0}, "email");
    free(s);
    free(long_name);
}

static void test_status_text(void **state)
{
    (void)state;
    for (int st = MV_FORM_OK; st <= MV_FORM_NOT_STRING; st++) {
        const char *t = mv_form_status_text((mv_form_status)st);

        assert_non_null(t);
        assert_string_not_equal(t, "?");
    }
}

/* -- token buckets --------------------------------------------------------- */

static void test_rl_burst_and_refill(void **state)
{
    mv_ratelimit *rl = mv_ratelimit_new();
    double t = 1000.0;

    (void)state;
    assert_non_null(rl);
    /* rate 1/s, burst 3: three at once, then wait */
    for (int i = 0; i < 3; i++)
        assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t), 0);
    assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t), 1);
    assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t + 0.5), 1); /* half a token */
    assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t + 1.0), 0); /* one came */
    assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t + 1.0), 1);
    /* a long pause refills to the burst, not beyond */
    t += 10000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t), 0);
    assert_int_not_equal(mv_ratelimit_take(rl, "1.2.3.4", 1, 3, t), 0);
    /* rate 0: no limit at all */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(mv_ratelimit_take(rl, "5.6.7.8", 0, 1, t), 0);
    mv_ratelimit_free(rl);
    mv_ratelimit_free(NULL);
}

static void test_rl_retry_after(void **state)
{
    mv_ratelimit *rl = mv_ratelimit_new();
    double t = 50.0;

    (void)state;
    assert_non_null(rl);
    /* one token per 10 s */
    assert_int_equal(mv_ratelimit_take(rl, "k", 0.1, 1, t), 0);
    assert_int_equal(mv_ratelimit_take(rl, "k", 0.1, 1, t), 10);
    assert_int_equal(mv_ratelimit_take(rl, "k", 0.1, 1, t + 5), 5);   /* half-way */
    assert_int_equal(mv_ratelimit_take(rl, "k", 0.1, 1, t + 9.9), 1); /* rounds up */
    assert_int_equal(mv_ratelimit_take(rl, "k", 0.1, 1, t + 10), 0);
    /* four a second: the wait is still a whole second at least */
    for (int i = 0; i < 4; i++)
        assert_int_equal(mv_ratelimit_take(rl, "q", 4, 4, t), 0);
    assert_int_equal(mv_ratelimit_take(rl, "q", 4, 4, t), 1);
    /* one per 4 s */
    assert_int_equal(mv_ratelimit_take(rl, "s", 0.25, 1, t), 0);
    assert_int_equal(mv_ratelimit_take(rl, "s", 0.25, 1, t), 4);
    mv_ratelimit_free(rl);
}

static void test_rl_per_key(void **state)
{
    mv_ratelimit *rl = mv_ratelimit_new();

    (void)state;
    assert_non_null(rl);
    assert_int_equal(mv_ratelimit_take(rl, "key-one", 1, 1, 7), 0);
    assert_int_equal(mv_ratelimit_take(rl, "key-one", 1, 1, 7), 1);
    assert_int_equal(mv_ratelimit_take(rl, "key-two", 1, 1, 7), 0);
    assert_int_equal(mv_ratelimit_take(rl, "key-one2", 1, 1, 7), 0);
    assert_int_equal(mv_ratelimit_take(rl, "", 1, 1, 7), 0);
    assert_int_equal(mv_ratelimit_take(rl, "", 1, 1, 7), 1);
    assert_int_equal(mv_ratelimit_take(rl, "key-two", 1, 1, 7), 1);
    mv_ratelimit_free(rl);
}

#define TABLE_MAX 100000 /* MAX_BUCKETS in ratelimit.c */

static void test_rl_table_bound(void **state)
{
    mv_ratelimit *rl = mv_ratelimit_new();
    char key[32];
    double t = 100.0;

    (void)state;
    assert_non_null(rl);
    /* fill the table with empty buckets */
    for (int i = 0; i < TABLE_MAX; i++) {
        snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(mv_ratelimit_take(rl, key, 1, 1, t), 0);
    }
    snprintf(key, sizeof(key), "10.0.0.0");
    assert_int_equal(mv_ratelimit_take(rl, key, 1, 1, t), 1); /* still tracked */
    /* full of buckets that are not full again: a new key is let through
     * (fail open), and not remembered */
    for (int i = 0; i < 3; i++)
        assert_int_equal(mv_ratelimit_take(rl, "192.0.2.1", 1, 1, t), 0);
    /* once they have refilled, they are forgotten and new keys tracked */
    t += 2;
    assert_int_equal(mv_ratelimit_take(rl, "192.0.2.1", 1, 1, t), 0);
    assert_int_equal(mv_ratelimit_take(rl, "192.0.2.1", 1, 1, t), 1);
    assert_int_equal(mv_ratelimit_take(rl, "10.0.0.0", 1, 1, t), 0);
    mv_ratelimit_free(rl);
}

typedef struct {
    mv_ratelimit *rl;
    int taken;
} rl_thread_arg;

static void *rl_thread(void *arg)
{
    rl_thread_arg *a = arg;

    for (int i = 0; i < 20000; i++)
        a->taken += mv_ratelimit_take(a->rl, i & 1 ? "shared" : "other", 0.001, 5000, 1.0) == 0;
    return NULL;
}

static void test_rl_threads(void **state)
{
    mv_ratelimit *rl = mv_ratelimit_new();
    rl_thread_arg a[4];
    pthread_t t[4];
    int total = 0;

    (void)state;
    assert_non_null(rl);
    for (int i = 0; i < 4; i++) {
        a[i] = (rl_thread_arg){rl, 0};
        assert_int_equal(pthread_create(&t[i], NULL, rl_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += a[i].taken;
    }
    /* two keys, 5000 tokens each, no time passing: exactly 10000 */
    assert_int_equal(total, 10000);
    mv_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_table),     cmocka_unit_test(test_form_field_count),
        cmocka_unit_test(test_form_long_name), cmocka_unit_test(test_json_table),
        cmocka_unit_test(test_json_depth),     cmocka_unit_test(test_json_members_and_names),
        cmocka_unit_test(test_status_text),    cmocka_unit_test(test_rl_burst_and_refill),
        cmocka_unit_test(test_rl_retry_after), cmocka_unit_test(test_rl_per_key),
        cmocka_unit_test(test_rl_table_bound), cmocka_unit_test(test_rl_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
