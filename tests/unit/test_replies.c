/* SPDX-License-Identifier: MIT */
/*
 * test_replies.c - the replies mailverifyd gives, and the harvest budget.
 *
 * What a sending MTA sees for each refused verdict: the code, the
 * enhanced code, and text that libmilter will accept (printable ASCII,
 * "%" doubled, no CR/LF whatever the address held).
 */
#include "unit.h"
#include "dha.h"
#include "engine.h"
#include "replies.h"

static mv_engine *engine;

static int setup(void **state)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load(NULL, 0, &d);

    (void)state;
    mv_diag_clear(&d);
    engine = mv_engine_new(cfg);
    mv_config_unref(cfg);
    return engine == NULL;
}

static int teardown(void **state)
{
    (void)state;
    mv_engine_free(engine);
    return 0;
}

/* verdict - an offline verdict with the reason and action forced */
static void verdict(const char *addr, mv_reason r, mv_action a, mv_verdict *v)
{
    mv_request req = {
        .address = addr, .len = strlen(addr), .context = MV_CTX_RECIPIENT, .mode = MV_MODE_OFFLINE};

    assert_int_equal(mv_engine_check(engine, &req, v), MV_OK);
    v->reason = r;
    v->action = a;
}

static void test_table(void **state)
{
    static const struct {
        bool sender;
        mv_reason r;
        mv_action a;
        const char *code, *enh, *text;
    } t[] = {
        {false, MV_R_REJECTED_EMAIL, MV_ACT_BLOCK, "550", "5.1.1", "mailbox does not exist"},
        {false, MV_R_INVALID_DOMAIN, MV_ACT_BLOCK, "550", "5.1.2", "domain does not exist"},
        {false, MV_R_NO_MAIL_SERVER, MV_ACT_BLOCK, "556", "5.1.10", "does not accept mail"},
        {false, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, "501", "5.1.3", "bad address syntax"},
        {false, MV_R_MAILBOX_DISABLED, MV_ACT_BLOCK, "550", "5.2.1", "disabled"},
        {false, MV_R_MAILBOX_FULL, MV_ACT_BLOCK, "552", "5.2.2", "full"},
        {false, MV_R_MAILBOX_FULL, MV_ACT_TEMPFAIL, "452", "4.2.2", "try again later"},
        {false, MV_R_DISPOSABLE, MV_ACT_BLOCK, "550", "5.7.1", "(disposable)"},
        {false, MV_R_ROLE_ACCOUNT, MV_ACT_BLOCK, "550", "5.7.1", "(role account)"},
        {false, MV_R_TIMEOUT, MV_ACT_TEMPFAIL, "451", "4.4.3", "(timeout)"},
        {false, MV_R_GREYLISTED, MV_ACT_TEMPFAIL, "451", "4.4.3", "try again later"},
        {true, MV_R_INVALID_DOMAIN, MV_ACT_BLOCK, "550", "5.1.8", "Sender address rejected"},
        {true, MV_R_NO_MAIL_SERVER, MV_ACT_BLOCK, "550", "5.1.8", "cannot receive replies"},
        {true, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, "553", "5.1.7", "bad address syntax"},
        {true, MV_R_DNS_ERROR, MV_ACT_TEMPFAIL, "451", "4.1.8", "(dns error)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
        mv_verdict v;
        mv_milter_reply r;

        verdict("jane@example.com", t[i].r, t[i].a, &v);
        mv_milter_reply_for(&v, t[i].sender, &r);
        if (strcmp(r.code, t[i].code) != 0 || strcmp(r.enh, t[i].enh) != 0 ||
            strstr(r.text, t[i].text) == NULL || strstr(r.text, "<jane@example.com>") == NULL)
            fail_case("%zu %s: %s %s %s", i, mv_reason_name(t[i].r), r.code, r.enh, r.text);
        if (strstr(r.text, t[i].sender ? "Sender" : "Recipient") == NULL)
            fail_case("%zu: %s", i, r.text);
    }
}

static void test_safe_text(void **state)
{
    mv_verdict v;
    mv_milter_reply r;
    char out[64];

    (void)state;
    /* "%" in a local part is valid atext: doubled for libmilter */
    verdict("a%b@example.com", MV_R_REJECTED_EMAIL, MV_ACT_BLOCK, &v);
    mv_milter_reply_for(&v, false, &r);
    assert_non_null(strstr(r.text, "<a%%b@example.com>"));
    /* UTF-8 and controls never reach the wire raw */
    verdict("jos\xc3\xa9@example.com", MV_R_REJECTED_EMAIL, MV_ACT_BLOCK, &v);
    mv_milter_reply_for(&v, false, &r);
    for (const char *p = r.text; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7F);
    verdict("bad\r\naddress", MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, &v);
    mv_milter_reply_for(&v, false, &r);
    assert_null(strchr(r.text, '\r'));
    assert_null(strchr(r.text, '\n'));
    mv_milter_safe_text(out, sizeof(out), "50% off\x01\xff");
    assert_string_equal(out, "50%% off?");
}

/* The policy listener's answers: the milter's codes and words, in
 * access(5) actions, and nothing that could break the protocol's lines. */
static void test_policy_actions(void **state)
{
    static const mv_policy_style dip = {MV_POLICY_DEFER_IF_PERMIT, MV_REVIEW_QUARANTINE, "X-Mailverify"};
    static const mv_policy_style defer = {MV_POLICY_DEFER, MV_REVIEW_HEADER, "X-Check"};
    static const struct {
        bool sender;
        mv_reason r;
        mv_action a;
        const mv_policy_style *st;
        const char *want; /* the answer starts with this */
    } t[] = {
        {false, MV_R_REJECTED_EMAIL, MV_ACT_BLOCK, &dip, "550 5.1.1 mailbox does not exist"},
        {false, MV_R_INVALID_DOMAIN, MV_ACT_BLOCK, &dip, "550 5.1.2 domain does not exist"},
        {false, MV_R_NO_MAIL_SERVER, MV_ACT_BLOCK, &dip, "556 5.1.10 domain does not accept mail"},
        {false, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, &dip, "501 5.1.3 bad address syntax"},
        {false, MV_R_MAILBOX_DISABLED, MV_ACT_BLOCK, &dip, "550 5.2.1 mailbox is disabled"},
        {false, MV_R_MAILBOX_FULL, MV_ACT_BLOCK, &dip, "552 5.2.2 mailbox is full"},
        {false, MV_R_DISPOSABLE, MV_ACT_BLOCK, &dip, "550 5.7.1 not accepted here (disposable)"},
        {false, MV_R_TIMEOUT, MV_ACT_TEMPFAIL, &dip,
         "DEFER_IF_PERMIT 4.4.3 verification failed for now (timeout), try again later"},
        {false, MV_R_TIMEOUT, MV_ACT_TEMPFAIL, &defer, "DEFER 4.4.3 verification failed for now"},
        {false, MV_R_MAILBOX_FULL, MV_ACT_TEMPFAIL, &dip, "DEFER_IF_PERMIT 4.2.2 mailbox is full"},
        {true, MV_R_INVALID_DOMAIN, MV_ACT_BLOCK, &dip, "550 5.1.8 domain does not exist"},
        {true, MV_R_DNS_ERROR, MV_ACT_TEMPFAIL, &dip, "DEFER_IF_PERMIT 4.1.8 verification failed"},
        {false, MV_R_ROLE_ACCOUNT, MV_ACT_WARN, &dip,
         "PREPEND X-Mailverify: recipient jane@example.com; status=risky; reason=role_account; action=warn"},
        {false, MV_R_ACCEPT_ALL, MV_ACT_REVIEW, &dip,
         "HOLD mailverify: recipient jane@example.com (accept_all)"},
        {false, MV_R_ACCEPT_ALL, MV_ACT_REVIEW, &defer, "PREPEND X-Check: recipient jane@example.com;"},
        {false, MV_R_ACCEPTED_EMAIL, MV_ACT_ACCEPT, &dip, "DUNNO"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
        mv_verdict v;
        mv_milter_reply m;
        char out[1024];

        verdict("jane@example.com", t[i].r, t[i].a, &v);
        if (t[i].a == MV_ACT_WARN)
            v.status = MV_STATUS_RISKY;
        mv_policy_action(&v, t[i].sender, t[i].st, out, sizeof(out));
        if (strncmp(out, t[i].want, strlen(t[i].want)) != 0)
            fail_case("%zu: %s, want %s", i, out, t[i].want);
        if (t[i].a != MV_ACT_BLOCK)
            continue;
        /* the same code, enhanced code and words as the milter's reply */
        mv_milter_reply_for(&v, t[i].sender, &m);
        if (strncmp(out, m.code, 3) != 0 || strncmp(out + 4, m.enh, strlen(m.enh)) != 0 ||
            strstr(m.text, out + 5 + strlen(m.enh)) == NULL)
            fail_case("%zu: policy %s, milter %s %s %s", i, out, m.code, m.enh, m.text);
    }
}

static void test_policy_hostile_address(void **state)
{
    static const mv_policy_style st = {MV_POLICY_DEFER_IF_PERMIT, MV_REVIEW_QUARANTINE, "X-Mailverify"};
    static const mv_action acts[] = {MV_ACT_BLOCK, MV_ACT_TEMPFAIL, MV_ACT_WARN, MV_ACT_REVIEW};
    char out[1024];
    mv_verdict v;

    (void)state;
    for (size_t i = 0; i < sizeof(acts) / sizeof(*acts); i++) {
        verdict("a\r\n\naction=OK\x01\xff@x.test", MV_R_INVALID_SYNTAX, acts[i], &v);
        mv_policy_action(&v, false, &st, out, sizeof(out));
        for (const char *p = out; *p; p++)
            if (!(*p >= 0x20 && *p < 0x7F))
                fail_case("%zu: byte 0x%02x in %s", i, (unsigned char)*p, out);
    }
    mv_policy_action_dha(&st, out, sizeof(out));
    assert_string_equal(out, "DEFER_IF_PERMIT 4.7.1 Too many unknown recipients from your address; "
                             "try again later");
}

static void test_dha(void **state)
{
    mv_dha *d = mv_dha_new();

    (void)state;
    assert_false(mv_dha_spent(d, "192.0.2.1", 3, 300, 1000));
    for (int i = 0; i < 3; i++)
        mv_dha_count(d, "192.0.2.1", 300, 1000 + i);
    assert_true(mv_dha_spent(d, "192.0.2.1", 3, 300, 1010));
    assert_false(mv_dha_spent(d, "192.0.2.2", 3, 300, 1010)); /* per client */
    assert_false(mv_dha_spent(d, "192.0.2.1", 0, 300, 1010)); /* 0 = off */
    assert_false(mv_dha_spent(d, "192.0.2.1", 3, 300, 1300)); /* window closed */
    /* a flood of distinct clients does not grow without bound, nor crash */
    for (int i = 0; i < 70000; i++) {
        char ip[32];

        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        mv_dha_count(d, ip, 300, 2000);
    }
    assert_true(mv_dha_spent(d, "10.0.0.1", 1, 300, 2001));
    mv_dha_free(d);
}

/* A shared counter stand-in: one count for every key, or "down" (-1). */
typedef struct {
    long long count;
    bool down;
    int calls;
    char last_key[64];
    unsigned last_window;
} fake_store;

static long long fake_counter(void *arg, const char *key, unsigned delta, unsigned window_s)
{
    fake_store *f = arg;

    f->calls++;
    snprintf(f->last_key, sizeof(f->last_key), "%s", key);
    f->last_window = window_s;
    if (f->down)
        return -1;
    return f->count += delta;
}

static void test_dha_shared(void **state)
{
    mv_dha *d = mv_dha_new();
    fake_store f = {0};

    (void)state;
    mv_dha_share(d, fake_counter, &f);
    mv_dha_count(d, "192.0.2.9", 300, 1000);
    assert_string_equal(f.last_key, "c:dha:192.0.2.9");
    assert_int_equal(f.last_window, 300);
    assert_false(mv_dha_spent(d, "192.0.2.9", 3, 300, 1000));
    f.count = 3; /* another process counted */
    assert_true(mv_dha_spent(d, "192.0.2.9", 3, 300, 1000));
    assert_int_equal(f.calls, 3);
    /* the store does not answer: this process's own budget (fail open) */
    f.down = true;
    assert_false(mv_dha_spent(d, "192.0.2.9", 3, 300, 1000));
    for (int i = 0; i < 3; i++)
        mv_dha_count(d, "192.0.2.9", 300, 1000);
    assert_true(mv_dha_spent(d, "192.0.2.9", 3, 300, 1000));
    mv_dha_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_safe_text),
        cmocka_unit_test(test_policy_actions),
        cmocka_unit_test(test_policy_hostile_address),
        cmocka_unit_test(test_dha),
        cmocka_unit_test(test_dha_shared),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
