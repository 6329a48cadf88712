/* SPDX-License-Identifier: MIT */
/*
 * test_redact.c - masking secrets in URLs and messages (redact.c).
 *
 * A table of URLs, friendly and hostile (no scheme, '@' in path and
 * query, percent-encoded ':' in the userinfo, a raw '/' or '?' in the
 * password, IPv6 literal hosts, a backslash, things that are not URLs),
 * each with its masked form; then very long URLs into small buffers (cut
 * short, never a secret half shown), scrubbing messages of a secret and
 * of a URL's parts, and a sweep of short strings of URL punctuation into
 * every buffer size (run under ASan, it checks the bounds).
 */
#include "unit.h"

#include "redact.h"

static void test_url_table(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"https://bob:hunter2@example.com/hook", "https://***@example.com/hook"},
        {"https://example.com/hook", "https://example.com/hook"},
        {"http://example.com:8080", "http://example.com:8080"},
        {"HTTPS://Bob@Host.example", "HTTPS://***@Host.example"},
        {"https://tok3n@example.com", "https://***@example.com"},
        /* no scheme: read as libcurl reads it, an authority first */
        {"bob:hunter2@127.0.0.1:1/x", "***@127.0.0.1:1/x"},
        {"//bob:hunter2@host/x", "//***@host/x"},
        /* '@' after the authority is not userinfo */
        {"https://host/a@b/c", "https://host/a@b/c"},
        {"https://host/p?email=a@b.example&token=s3cr3t", "https://host/p?email=***&token=***"},
        {"https://host/x#a@b", "https://host/x#***"},
        /* percent-encoded ':' and '@' inside the userinfo */
        {"https://bob:hun%3Ater2@host/", "https://***@host/"},
        {"https://b%40b:pw@host/", "https://***@host/"},
        /* several '@': the last one in the authority ends the userinfo */
        {"https://u:p@a@host/", "https://***@host/"},
        /* a raw '/' or '?' in the password: the authority is malformed */
        {"https://bob:pa/ss@host/x", "https://***@host/x"},
        {"http://bob:p?ss@host/", "http://***@host/"},
        {"http://bob:p#ss@host/", "http://***@host/"},
        /* IPv6 literals */
        {"http://bob:hunter2@[::1]:8080/x", "http://***@[::1]:8080/x"},
        {"http://[::1]:8080/x", "http://[::1]:8080/x"},
        {"http://[fe80::1%25eth0]/", "http://[fe80::1%25eth0]/"},
        {"[::1]:6379", "[::1]:6379"},
        {"fe80::1", "fe80::1"},
        /* a backslash ends the authority, as in browsers */
        {"https://bob:hunter2@host\\@evil/", "https://***@host\\@evil/"},
        /* query and fragment */
        {"https://host/x?tok", "https://host/x?***"},
        {"https://host/x?a=&b&c=1;d=2", "https://host/x?a=&***&c=***;d=***"},
        {"https://host/x?", "https://host/x?"},
        {"https://host/x#", "https://host/x#"},
        {"https://user:pw@host?x=1", "https://***@host?x=***"},
        /* not URLs: as they were */
        {"127.0.0.1:6379", "127.0.0.1:6379"},
        {"unix:/run/redis/redis.sock", "unix:/run/redis/redis.sock"},
        {"cgi:/usr/lib/cgi-bin/form.cgi", "cgi:/usr/lib/cgi-bin/form.cgi"},
        {"", ""},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        if (strcmp(mv_redact_url(cases[i].in, out, sizeof(out)), cases[i].want) != 0)
            fail_case("%zu: %s -> %s, want %s", i, cases[i].in, out, cases[i].want);
    assert_string_equal(mv_redact_url(NULL, out, sizeof(out)), "");
}

/* test_url_long - long URLs, cut short into small buffers */
static void test_url_long(void **state)
{
    size_t n = 20000;
    char *url = malloc(n + 64), *out = malloc(n + 64);
    char small[40];

    (void)state;
    assert_non_null(url);
    assert_non_null(out);
    /* a huge password: never a byte of it, whatever the buffer */
    memcpy(url, "https://bob:", 12);
    memset(url + 12, 'Z', n);
    strcpy(url + 12 + n, "@host.example/x");
    assert_string_equal(mv_redact_url(url, out, n + 64), "https://***@host.example/x");
    for (size_t size = 0; size < sizeof(small); size++) {
        memset(small, 'Q', sizeof(small));
        mv_redact_url(url, small, size);
        if (size > 0 && (strlen(small) != (size - 1 < 26 ? size - 1 : 26) || strchr(small, 'Z')))
            fail_case("size %zu: %s", size, small);
        if (size == 0 && small[0] != 'Q')
            fail_case("size 0 wrote %c", small[0]);
    }
    /* a huge path, the secret after it */
    memcpy(url, "https://host/", 13);
    memset(url + 13, 'p', n);
    strcpy(url + 13 + n, "?token=hunter2");
    mv_redact_url(url, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    mv_redact_url(url, out, n + 64);
    assert_null(strstr(out, "hunter2"));
    assert_non_null(strstr(out, "?token=***"));
    free(url);
    free(out);
}

/* test_scrub - every occurrence, cut short when the mask is longer */
static void test_scrub(void **state)
{
    char t[64];

    (void)state;
    snprintf(t, sizeof(t), "AUTH hunter2 failed; hunter2 again");
    assert_int_equal(mv_redact_scrub(t, sizeof(t), "hunter2", 7), 2);
    assert_string_equal(t, "AUTH *** failed; *** again");
    snprintf(t, sizeof(t), "abc");
    assert_int_equal(mv_redact_scrub(t, sizeof(t), "", 0), 0);
    assert_string_equal(t, "abc");
    /* a one-byte secret grows the text: what no longer fits is dropped */
    snprintf(t, 8, "x.x.x.x");
    assert_int_equal(mv_redact_scrub(t, 8, "x", 1), 2);
    assert_string_equal(t, "***.***");
    /* the mask's own bytes: no endless loop */
    snprintf(t, sizeof(t), "a*b**c");
    assert_int_equal(mv_redact_scrub(t, sizeof(t), "*", 1), 3);
    assert_string_equal(t, "a***b******c");
    /* secret at the very end of a full buffer */
    snprintf(t, 10, "123456789");
    assert_int_equal(mv_redact_scrub(t, 10, "6789", 4), 1);
    assert_string_equal(t, "12345***");
}

/* test_scrub_url - a library's message quoting a URL's parts */
static void test_scrub_url(void **state)
{
    static const struct {
        const char *url, *in, *want;
    } cases[] = {
        {"https://bob:hunter2@host/x", "Failed https://bob:hunter2@host/x: refused",
         "Failed https://***@host/x: refused"},
        {"https://bob:hunter2@host/x", "login bob with hunter2", "login bob with ***"},
        {"https://robert:hun%3Ater2@host/", "as robert: hun:ter2 / hun%3Ater2", "as ***: *** / ***"},
        {"https://host/x?token=abcd1234&n=1", "GET /x?token=abcd1234&n=1", "GET /x?token=***&n=1"},
        {"https://host/x#fragment99", "saw fragment99", "saw ***"},
        {"127.0.0.1:6379", "127.0.0.1:6379 refused", "127.0.0.1:6379 refused"},
    };
    char t[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        snprintf(t, sizeof(t), "%s", cases[i].in);
        mv_redact_scrub_url(t, sizeof(t), cases[i].url);
        if (strcmp(t, cases[i].want) != 0)
            fail_case("%zu: %s -> %s, want %s", i, cases[i].in, t, cases[i].want);
    }
}

/* test_sweep - every short string of URL punctuation, every buffer size */
static void test_sweep(void **state)
{
    static const char alpha[] = "a:@/?#[]%&=\\1";
    char in[8], out[24], text[24];
    unsigned long x = 1;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 8), size = (size_t)(round % 24);

        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            in[i] = alpha[(x >> 33) % (sizeof(alpha) - 1)];
        }
        in[n] = '\0';
        mv_redact_url(in, out, size);
        if (size > 0 && strlen(out) >= size)
            fail_case("%s into %zu", in, size);
        snprintf(text, sizeof(text), "%s%s", in, in);
        mv_redact_scrub_url(text, size ? size : 1, in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_table), cmocka_unit_test(test_url_long), cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_scrub_url), cmocka_unit_test(test_sweep),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
