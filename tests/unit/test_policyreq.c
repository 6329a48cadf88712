/* SPDX-License-Identifier: MIT */
/*
 * test_policyreq.c - Postfix policy delegation requests (milter/policyreq.c).
 *
 * What Postfix sends, split right; what a hostile or broken client sends,
 * refused with the status the daemon logs: each limit at and one past its
 * bound, NUL, control bytes, lines that are not name=value, a known
 * attribute twice, an empty request; and a request that arrives a byte
 * at a time answers "more" until its empty line, writing nothing.
 */
#include "unit.h"
#include "policyreq.h"

static const mv_policyreq_limits lim = {.max_line = 64, .max_attrs = 4, .max_request = 200};

static const char postfix[] = "request=smtpd_access_policy\n"
                              "protocol_state=RCPT\n"
                              "protocol_name=ESMTP\n"
                              "client_address=192.0.2.1\n"
                              "client_name=another.domain.tld\n"
                              "reverse_client_name=another.domain.tld\n"
                              "helo_name=some.domain.tld\n"
                              "sender=foo@bar.tld\n"
                              "recipient=bar@foo.tld\n"
                              "recipient_count=0\n"
                              "queue_id=8045F2AB23\n"
                              "instance=123.456.7\n"
                              "size=12345\n"
                              "sasl_username=\n"
                              "ccert_subject=\n"
                              "encryption_protocol=TLSv1.3\n"
                              "policy_context=\n"
                              "compatibility_level=3.6\n"
                              "\n"
                              "request=smtpd_access_policy\n";

/* parse - a copy of text through the parser */
static mv_policyreq_status parse(const char *text, size_t len, const mv_policyreq_limits *l,
                                 mv_policyreq *out, size_t *used, char **keep)
{
    char *buf = malloc(len ? len : 1);

    assert_non_null(buf);
    memcpy(buf, text, len);
    *keep = buf;
    return mv_policyreq_parse(buf, len, l, out, used);
}

static void test_postfix_request(void **state)
{
    mv_policyreq_limits big = {.max_line = 2048, .max_attrs = 64, .max_request = 16384};
    mv_policyreq r;
    size_t used = 0, first = strstr(postfix, "\n\n") - postfix + 2;
    char *buf;

    (void)state;
    assert_int_equal(parse(postfix, sizeof(postfix) - 1, &big, &r, &used, &buf), MV_PREQ_DONE);
    assert_int_equal(used, first); /* the next request stays for later */
    assert_string_equal(r.request, "smtpd_access_policy");
    assert_string_equal(r.protocol_state, "RCPT");
    assert_string_equal(r.client_address, "192.0.2.1");
    assert_string_equal(r.sender, "foo@bar.tld");
    assert_string_equal(r.recipient, "bar@foo.tld");
    assert_string_equal(r.queue_id, "8045F2AB23");
    assert_string_equal(r.sasl_username, "");
    assert_int_equal(r.attrs, 18);
    free(buf);
}

static void test_crlf_and_value_with_equals(void **state)
{
    static const char t[] = "recipient=a=b@x.test\r\nsender=\r\n\r\n";
    mv_policyreq r;
    size_t used = 0;
    char *buf;

    (void)state;
    assert_int_equal(parse(t, sizeof(t) - 1, &lim, &r, &used, &buf), MV_PREQ_DONE);
    assert_int_equal(used, sizeof(t) - 1);
    assert_string_equal(r.recipient, "a=b@x.test");
    assert_string_equal(r.sender, "");
    assert_null(r.client_address);
    free(buf);
}

static void test_byte_at_a_time(void **state)
{
    static const char t[] = "protocol_state=RCPT\nrecipient=u@x.test\n\n";
    mv_policyreq r;

    (void)state;
    for (size_t n = 0; n < sizeof(t) - 1; n++) {
        size_t used = 0;
        char *buf;

        assert_int_equal(parse(t, n, &lim, &r, &used, &buf), MV_PREQ_MORE);
        assert_memory_equal(buf, t, n); /* untouched */
        free(buf);
    }
}

static void test_hostile(void **state)
{
    static const struct {
        const char *text;
        size_t len;
        mv_policyreq_status want;
    } t[] = {
#define T(s, w) {s, sizeof(s) - 1, w}
        /* 64 bytes is the longest line, 65 one too many */
        T("recipient=123456789012345678901234567890123456789012345678901234\n\n", MV_PREQ_DONE),
        T("recipient=1234567890123456789012345678901234567890123456789012345\n\n", MV_PREQ_LINE_TOO_LONG),
        T("recipient=1234567890123456789012345678901234567890123456789012345", MV_PREQ_LINE_TOO_LONG),
        T("recipient=12345678901234567890123456789012345678901234567890123", MV_PREQ_MORE),
        T("a=1\nb=2\nc=3\nd=4\n\n", MV_PREQ_DONE),
        T("a=1\nb=2\nc=3\nd=4\ne=5\n\n", MV_PREQ_TOO_MANY),
        T("recipient=u\0@x\n\n", MV_PREQ_NUL),
        T("recipient=u\x01@x\n\n", MV_PREQ_CONTROL),
        T("recipient=u\x7f@x\n\n", MV_PREQ_CONTROL),
        T("recipient=u\r@x\n\n", MV_PREQ_CONTROL),
        T("recipient=\xff\xfe\x80\n\n", MV_PREQ_DONE), /* values are bytes */
        T("GET / HTTP/1.0\n\n", MV_PREQ_NO_EQUALS),
        T("=x\n\n", MV_PREQ_BAD_NAME),
        T("Recipient=x\n\n", MV_PREQ_BAD_NAME),
        T("reci pient=x\n\n", MV_PREQ_BAD_NAME),
        T("recipient=a\nrecipient=b\n\n", MV_PREQ_DUPLICATE),
        T("size=1\nsize=2\n\n", MV_PREQ_DONE), /* unknown ones are not ours to judge */
        T("\n", MV_PREQ_EMPTY),
        T("\r\n", MV_PREQ_EMPTY),
        T("", MV_PREQ_MORE),
        T("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", MV_PREQ_CONTROL), /* a TLS hello */
#undef T
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
        mv_policyreq r;
        size_t used = 0;
        char *buf;
        mv_policyreq_status st = parse(t[i].text, t[i].len, &lim, &r, &used, &buf);

        if (st != t[i].want)
            fail_case("%zu: %s, want %s", i, mv_policyreq_error_text(st), mv_policyreq_error_text(t[i].want));
        free(buf);
    }
}

static void test_request_size(void **state)
{
    mv_policyreq_limits l = {.max_line = 64, .max_attrs = 100, .max_request = 200};
    char text[400];
    size_t n = 0, used = 0;
    mv_policyreq r;
    char *buf;

    (void)state;
    /* 20 lines of 10 bytes: 200 bytes, then the empty line is one too many */
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "a%02d=56789\n", i);
    assert_int_equal(n, 200);
    assert_int_equal(parse(text, n, &l, &r, &used, &buf), MV_PREQ_TOO_BIG);
    free(buf);
    /* 19 lines and the empty line fit */
    assert_int_equal(parse(text, 190, &l, &r, &used, &buf), MV_PREQ_MORE);
    free(buf);
    memcpy(text + 190, "\n", 1);
    assert_int_equal(parse(text, 191, &l, &r, &used, &buf), MV_PREQ_DONE);
    assert_int_equal(r.attrs, 19);
    free(buf);
    /* no line end at all: refused once the bound is reached */
    memset(text, 'a', sizeof(text));
    text[0] = 'x';
    assert_int_equal(parse(text, 200,
                           &(mv_policyreq_limits){.max_line = 1000, .max_attrs = 4, .max_request = 200}, &r,
                           &used, &buf),
                     MV_PREQ_TOO_BIG);
    free(buf);
}

static void test_error_texts(void **state)
{
    (void)state;
    for (int s = MV_PREQ_DONE; s <= MV_PREQ_EMPTY; s++)
        assert_string_not_equal(mv_policyreq_error_text((mv_policyreq_status)s), "unknown status");
    assert_string_equal(mv_policyreq_error_text((mv_policyreq_status)99), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_request), cmocka_unit_test(test_crlf_and_value_with_equals),
        cmocka_unit_test(test_byte_at_a_time),  cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_request_size),    cmocka_unit_test(test_error_texts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
