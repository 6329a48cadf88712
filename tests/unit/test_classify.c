/* SPDX-License-Identifier: MIT */
/*
 * test_classify.c - replies real servers give, and the reason each means.
 * Texts are taken from Postfix, Exim, Exchange, Gmail and postgrey replies.
 */
#include "unit.h"
#include "classify.h"

static const struct {
    int code, e0, e1, e2;
    const char *text;
    mv_reason want;
} rcpt[] = {
    {250, 2, 1, 5, "Ok", MV_R_ACCEPTED_EMAIL},
    {250, 0, 0, 0, "Accepted", MV_R_ACCEPTED_EMAIL},
    {550, 5, 1, 1, "<x@ok.test>: Recipient address rejected: User unknown in local recipient table",
     MV_R_REJECTED_EMAIL},
    {550, 5, 1, 1, "The email account that you tried to reach does not exist.", MV_R_REJECTED_EMAIL},
    {550, 0, 0, 0, "No such user here", MV_R_REJECTED_EMAIL},
    {553, 5, 1, 3, "Bad recipient address syntax", MV_R_REJECTED_EMAIL},
    {550, 5, 1, 10, "Recipient address has null MX", MV_R_NO_MAIL_SERVER},
    {550, 5, 1, 2, "Host unknown", MV_R_INVALID_DOMAIN},
    {550, 5, 2, 1, "The email account that you tried to reach is disabled.", MV_R_MAILBOX_DISABLED},
    {550, 0, 0, 0, "Mailbox disabled for this recipient", MV_R_MAILBOX_DISABLED},
    {552, 5, 2, 2, "Mailbox full", MV_R_MAILBOX_FULL},
    {452, 4, 2, 2, "The email account that you tried to reach is over quota.", MV_R_MAILBOX_FULL},
    {552, 0, 0, 0, "Requested mail action aborted: exceeded storage allocation", MV_R_MAILBOX_FULL},
    {452, 0, 0, 0, "Mailbox full", MV_R_MAILBOX_FULL},
    {550, 5, 7, 1, "Service unavailable; Client host [1.2.3.4] blocked using zen.spamhaus.org",
     MV_R_BLOCKED_BY_SERVER},
    {554, 5, 7, 1, "<x@y>: Relay access denied", MV_R_BLOCKED_BY_SERVER},
    {550, 0, 0, 0, "Blocked by policy: your IP has a poor reputation", MV_R_BLOCKED_BY_SERVER},
    {450, 4, 2, 0,
     "<x@y>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/y.html",
     MV_R_GREYLISTED},
    {451, 4, 7, 1, "Please try again later", MV_R_GREYLISTED},
    {450, 0, 0, 0, "Greylisted, try again in 300 seconds", MV_R_GREYLISTED},
    {451, 4, 3, 0, "Local error in processing", MV_R_TEMPORARY_ERROR},
    {450, 0, 0, 0, "Requested mail action not taken: mailbox unavailable", MV_R_TEMPORARY_ERROR},
    {421, 4, 3, 2, "Service not available, closing channel", MV_R_TEMPORARY_ERROR},
    {554, 5, 5, 1, "Error: no valid recipients", MV_R_REJECTED_EMAIL},
    {550, 2, 1, 5, "address rejected; the wrong class is ignored by the parser", MV_R_REJECTED_EMAIL},
    {550, 0, 0, 0, "must be authenticated", MV_R_BLOCKED_BY_SERVER}, /* names no recipient: about us */
};

static void test_rcpt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rcpt) / sizeof(*rcpt); i++) {
        mv_smtp_answer a = {rcpt[i].code, {rcpt[i].e0, rcpt[i].e1, rcpt[i].e2}, ""};
        mv_reason got;

        /* the reply parser drops an enhanced code whose class disagrees */
        if (a.enh[0] != 0 && a.enh[0] != a.code / 100)
            memset(a.enh, 0, sizeof(a.enh));
        snprintf(a.text, sizeof(a.text), "%s", rcpt[i].text);
        got = mv_classify_rcpt(&a);
        if (got != rcpt[i].want)
            fail_case("%d %s: %s, want %s", rcpt[i].code, rcpt[i].text, mv_reason_name(got),
                      mv_reason_name(rcpt[i].want));
    }
}

static void test_session(void **state)
{
    mv_probe_result r = {0};

    (void)state;
    r.status = MV_PROBE_BLOCKED;
    r.last = (mv_smtp_answer){554, {5, 7, 1}, "No probes from you"};
    assert_int_equal(mv_classify_session(&r), MV_R_BLOCKED_BY_SERVER);
    /* a refused MAIL FROM is about us, never about the mailbox */
    r.last = (mv_smtp_answer){553, {5, 1, 8}, "Sender address rejected: Domain not found"};
    assert_int_equal(mv_classify_session(&r), MV_R_BLOCKED_BY_SERVER);
    r.status = MV_PROBE_TEMP;
    r.last = (mv_smtp_answer){421, {4, 3, 2}, "Too busy"};
    assert_int_equal(mv_classify_session(&r), MV_R_TEMPORARY_ERROR);
    r.last = (mv_smtp_answer){451, {4, 7, 1}, "Greylisted, try again later"};
    assert_int_equal(mv_classify_session(&r), MV_R_GREYLISTED);
    r.last = (mv_smtp_answer){421, {0, 0, 0}, "Service shutting down, try again later"};
    assert_int_equal(mv_classify_session(&r), MV_R_TEMPORARY_ERROR);
    r.status = MV_PROBE_NO_CONNECT;
    assert_int_equal(mv_classify_session(&r), MV_R_NO_CONNECT);
    r.status = MV_PROBE_PROTOCOL;
    assert_int_equal(mv_classify_session(&r), MV_R_NO_CONNECT);
    r.status = MV_PROBE_TLS;
    assert_int_equal(mv_classify_session(&r), MV_R_TLS_ERROR);
    r.status = MV_PROBE_TIMEOUT;
    assert_int_equal(mv_classify_session(&r), MV_R_TIMEOUT);
}

static void test_retry_after(void **state)
{
    mv_smtp_answer a = {450, {4, 2, 0}, ""};

    (void)state;
    snprintf(a.text, sizeof(a.text), "Greylisted, try again in 300 seconds");
    assert_int_equal(mv_classify_retry_after(&a), 300);
    snprintf(a.text, sizeof(a.text), "Greylisted for 5 minutes");
    assert_int_equal(mv_classify_retry_after(&a), 300);
    snprintf(a.text, sizeof(a.text), "try again in 2s");
    assert_int_equal(mv_classify_retry_after(&a), 2);
    snprintf(a.text, sizeof(a.text), "Greylisted, see http://postgrey.example/help/x.html");
    assert_int_equal(mv_classify_retry_after(&a), 0);
    snprintf(a.text, sizeof(a.text), "come back in 99999999 seconds");
    assert_int_equal(mv_classify_retry_after(&a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcpt),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_retry_after),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
