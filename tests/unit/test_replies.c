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
    mv_request req = {.address = addr, .len = strlen(addr), .context = MV_CTX_RECIPIENT, .mode = MV_MODE_OFFLINE};

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

static void test_dha(void **state)
{
    mv_dha *d = mv_dha_new();

    (void)state;
    assert_false(mv_dha_spent(d, "192.0.2.1", 3, 300, 1000));
    for (int i = 0; i < 3; i++)
        mv_dha_count(d, "192.0.2.1", 300, 1000 + i);
    assert_true(mv_dha_spent(d, "192.0.2.1", 3, 300, 1010));
    assert_false(mv_dha_spent(d, "192.0.2.2", 3, 300, 1010));     /* per client */
    assert_false(mv_dha_spent(d, "192.0.2.1", 0, 300, 1010));     /* 0 = off */
    assert_false(mv_dha_spent(d, "192.0.2.1", 3, 300, 1300));     /* window closed */
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
    f.count = 3;                /* another process counted */
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
        cmocka_unit_test(test_dha),
        cmocka_unit_test(test_dha_shared),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
