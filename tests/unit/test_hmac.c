/* SPDX-License-Identifier: MIT */
/*
 * test_hmac.c - HMAC-SHA256 and the webhook signature (hmac.c).
 *
 * The seven test cases of RFC 4231 (case 5 compares the first 128 bits,
 * as the RFC truncates it), then the signature format receivers rely on:
 * "v1=" + 64 lowercase hex digits of HMAC(secret, timestamp "." body),
 * checked against values computed independently (Python's hmac module),
 * lists of signatures, tampering, and the timestamp window.
 */
#include "unit.h"

#include "hmac.h"

/* rep - n copies of a byte, in a static buffer (one at a time) */
static const unsigned char *rep(unsigned char c, size_t n, unsigned char *buf)
{
    memset(buf, c, n);
    return buf;
}

/* tohex - lowercase hex of n bytes */
static void tohex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_rfc4231(void **state)
{
    unsigned char k1[20], k3[20], d3[50], k4[25], d4[50], k5[20], k6[131];
    struct {
        const unsigned char *key;
        size_t keylen;
        const void *data;
        size_t datalen;
        size_t cmp; /* hex digits compared */
        const char *mac;
    } cases[] = {
        {rep(0x0b, 20, k1), 20, "Hi There", 8, 64,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {(const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28, 64,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {rep(0xaa, 20, k3), 20, rep(0xdd, 50, d3), 50, 64,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {k4, 25, rep(0xcd, 50, d4), 50, 64,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {rep(0x0c, 20, k5), 20, "Test With Truncation", 20, 32, "a3b6167473100ee06e0c796c2955552b"},
        {rep(0xaa, 131, k6), 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54, 64,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {k6, 131,
         "This is a test using a larger than block-size key and a larger than block-size "
         "data. The key needs to be hashed before being used by the HMAC algorithm.",
         152, 64, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(k4); i++)
        k4[i] = (unsigned char)(i + 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char mac[MV_HMAC_LEN];
        char hex[2 * MV_HMAC_LEN + 1];

        assert_true(mv_hmac_sha256(cases[i].key, cases[i].keylen, cases[i].data, cases[i].datalen, mac));
        tohex(mac, MV_HMAC_LEN, hex);
        if (strncmp(hex, cases[i].mac, cases[i].cmp) != 0)
            fail_case("RFC 4231 case %zu: %s", i + 1, hex);
    }
}

#define BODY "{\"event\":\"verdict\",\"id\":\"0123456789abcdef0123456789abcdef\"}"
#define SIG "v1=3fff8543c9ae6008e0bf801cee6a51a6ff71a230ea11384d1b658f9a9f10aea7"

static void test_sign_format(void **state)
{
    char sig[MV_SIG_SIZE];

    (void)state;
    assert_true(mv_webhook_sign("whsec_test", 10, "1700000000", BODY, strlen(BODY), sig));
    assert_string_equal(sig, SIG);
    assert_int_equal(strlen(sig), MV_SIG_SIZE - 1);
    /* an empty body signs "1700000000." */
    assert_true(mv_webhook_sign("s3cret", 6, "1700000000", "", 0, sig));
    assert_string_equal(sig, "v1=21948100f1d7a89f3338f6b1106fc4f7a702fbe1493b833a3382f80193bde3fe");
}

static void test_verify(void **state)
{
    static const struct {
        const char *secret, *ts, *body, *header;
        bool ok;
    } cases[] = {
        {"whsec_test", "1700000000", BODY, SIG, true},
        {"whsec_test", "1700000000", BODY,
         "v1=3FFF8543C9AE6008E0BF801CEE6A51A6FF71A230EA11384D1B658F9A9F10AEA7", true},
        {"whsec_test", "1700000000", BODY, "v1=00, " SIG, true}, /* a list */
        {"whsec_test", "1700000000", BODY, "v0=abc," SIG ",v1=ff", true},
        {"whsec_test", "1700000001", BODY, SIG, false},     /* timestamp changed */
        {"whsec_test", "1700000000", BODY " ", SIG, false}, /* body changed */
        {"whsec_tesT", "1700000000", BODY, SIG, false},     /* other secret */
        {"whsec_test", "1700000000", BODY, SIG + 3, false}, /* no scheme */
        {"whsec_test", "1700000000", BODY,
         "v2=3fff8543c9ae6008e0bf801cee6a51a6ff71a230ea11384d1b658f9a9f10aea7", false},
        {"whsec_test", "1700000000", BODY,
         "v1=3fff8543c9ae6008e0bf801cee6a51a6ff71a230ea11384d1b658f9a9f10aea", false},
        {"whsec_test", "1700000000", BODY, SIG "0", false}, /* too long */
        {"whsec_test", "1700000000", BODY,
         "v1=3fff8543c9ae6008e0bf801cee6a51a6ff71a230ea11384d1b658f9a9f10aeaz", false},
        {"whsec_test", "1700000000", BODY, "", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].secret;

        if (mv_webhook_verify(s, strlen(s), cases[i].ts, cases[i].body, strlen(cases[i].body),
                              cases[i].header) != cases[i].ok)
            fail_case("verify %zu: %s", i, cases[i].header);
    }
    assert_false(mv_webhook_verify("whsec_test", 10, "1700000000", BODY, strlen(BODY), NULL));
}

static void test_fresh(void **state)
{
    static const struct {
        const char *ts;
        long long now, tol;
        mv_ts_check want;
    } cases[] = {
        {"1700000000", 1700000000, 300, MV_TS_FRESH},
        {"1700000000", 1700000300, 300, MV_TS_FRESH},
        {"1700000000", 1700000301, 300, MV_TS_STALE},
        {"1700000301", 1700000000, 300, MV_TS_STALE}, /* from the future */
        {"1699999700", 1700000000, 300, MV_TS_FRESH},
        {"", 1700000000, 300, MV_TS_MALFORMED},
        {"-1", 1700000000, 300, MV_TS_MALFORMED},
        {"17e8", 1700000000, 300, MV_TS_MALFORMED},
        {"1700000000 ", 1700000000, 300, MV_TS_MALFORMED},
        {"9999999999999999999", 1700000000, 300, MV_TS_MALFORMED},
    };
    long long v = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (mv_webhook_fresh(cases[i].ts, cases[i].now, cases[i].tol, &v) != cases[i].want)
            fail_case("fresh %zu: %s", i, cases[i].ts);
    assert_int_equal(mv_webhook_fresh("1700000000", 1700000000, 0, &v), MV_TS_FRESH);
    assert_true(v == 1700000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_sign_format),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_fresh),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
