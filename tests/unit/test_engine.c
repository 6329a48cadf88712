/* SPDX-License-Identifier: MIT */
/*
 * test_engine.c - mv_engine_check on the offline path.
 *
 * What a front end relies on: the reason that wins when several apply
 * (DESIGN.md order), the status each reason implies, the action the
 * built-in policy takes in each context, the canonical form on request,
 * a clear "not supported" for the network modes, one engine shared by
 * many threads giving each the same answers it gives one, and an engine
 * that says what it has to say through the front end's log callback only,
 * never on stderr.
 */
#include "unit.h"

#include "config.h"
#include "engine.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mv_config *cfg;
static mv_engine *engine;

static int setup(void **state)
{
    mv_diag d = {0};

    (void)state;
    cfg = mv_config_load(NULL, 0, &d);
    mv_diag_clear(&d);
    if (cfg == NULL || (engine = mv_engine_new(cfg)) == NULL)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mv_engine_free(engine);
    mv_config_unref(cfg);
    return 0;
}

/* check - one offline check that must answer MV_OK */
static void check(mv_engine *e, const char *addr, mv_context ctx, int flags, mv_verdict *v)
{
    mv_request req = {
        .address = addr,
        .len = strlen(addr),
        .context = ctx,
        .mode = MV_MODE_OFFLINE,
        .flags = flags,
    };
    mv_call rc = mv_engine_check(e, &req, v);

    if (rc != MV_OK)
        fail_case("%s: call %s", addr, mv_call_name(rc));
}

#define S_DEL MV_STATUS_DELIVERABLE
#define S_UND MV_STATUS_UNDELIVERABLE
#define S_RSK MV_STATUS_RISKY
#define S_UNK MV_STATUS_UNKNOWN

typedef struct {
    const char *addr;
    mv_context ctx;
    mv_status status;
    mv_reason reason;
    mv_action action;
    const char *suggestion; /* NULL: none */
    bool disposable, role;
    int free; /* -1: either */
} eng_case;

static const eng_case eng_cases[] = {
    /* valid, no risky signal: unknown/unverified, accepted everywhere */
    {"jane.doe@example.com", MV_CTX_FORM, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {"jane.doe@example.com", MV_CTX_SENDER, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {"jane.doe@example.com", MV_CTX_RECIPIENT, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {"jane.doe@example.com", MV_CTX_BULK, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {"<jane@[192.0.2.1]>", MV_CTX_RECIPIENT, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    /* free providers: a signal, not a reason; accepted by default */
    {"jane@gmail.com", MV_CTX_FORM, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 1},
    /* invalid_syntax beats everything, and signals are not looked up */
    {"a@@b.example", MV_CTX_FORM, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"info@@mailinator.com", MV_CTX_FORM, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"info @mailinator.com", MV_CTX_RECIPIENT, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"", MV_CTX_SENDER, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"jane@gmail", MV_CTX_FORM, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, "jane@gmail.com", 0, 0, 0},
    {"jane@gmail", MV_CTX_BULK, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, "jane@gmail.com", 0, 0, 0},
    /* disposable beats role */
    {"info@mailinator.com", MV_CTX_FORM, S_RSK, MV_R_DISPOSABLE, MV_ACT_BLOCK, NULL, 1, 1, 1},
    {"info@mailinator.com", MV_CTX_BULK, S_RSK, MV_R_DISPOSABLE, MV_ACT_REVIEW, NULL, 1, 1, 1},
    /* disposable: blocked at a form, accepted as a recipient or sender */
    {"x@mailinator.com", MV_CTX_FORM, S_RSK, MV_R_DISPOSABLE, MV_ACT_BLOCK, NULL, 1, 0, 1},
    {"x@mailinator.com", MV_CTX_RECIPIENT, S_RSK, MV_R_DISPOSABLE, MV_ACT_ACCEPT, NULL, 1, 0, 1},
    {"x@mailinator.com", MV_CTX_SENDER, S_RSK, MV_R_DISPOSABLE, MV_ACT_ACCEPT, NULL, 1, 0, 1},
    {"x@mailinator.com", MV_CTX_BULK, S_RSK, MV_R_DISPOSABLE, MV_ACT_REVIEW, NULL, 1, 0, 1},
    /* role accounts */
    {"Info+news@example.com", MV_CTX_FORM, S_RSK, MV_R_ROLE_ACCOUNT, MV_ACT_WARN, NULL, 0, 1, 0},
    {"postmaster@example.com", MV_CTX_RECIPIENT, S_RSK, MV_R_ROLE_ACCOUNT, MV_ACT_ACCEPT, NULL, 0, 1, 0},
    {"postmaster@example.com", MV_CTX_BULK, S_RSK, MV_R_ROLE_ACCOUNT, MV_ACT_REVIEW, NULL, 0, 1, 0},
    {"\"info\\ \"@example.com", MV_CTX_FORM, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    /* the null path: only MAIL FROM allows it */
    {"<>", MV_CTX_SENDER, S_UNK, MV_R_NULL_SENDER, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {" <> ", MV_CTX_SENDER, S_UNK, MV_R_NULL_SENDER, MV_ACT_ACCEPT, NULL, 0, 0, 0},
    {"<>", MV_CTX_RECIPIENT, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"<>", MV_CTX_FORM, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    {"<>", MV_CTX_BULK, S_UND, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK, NULL, 0, 0, 0},
    /* a suggestion alone: warn at a form and in bulk, never block */
    {"jane@gmial.com", MV_CTX_FORM, S_UNK, MV_R_UNVERIFIED, MV_ACT_WARN, "jane@gmail.com", 0, 0, -1},
    {"jane@gmial.com", MV_CTX_BULK, S_UNK, MV_R_UNVERIFIED, MV_ACT_WARN, "jane@gmail.com", 0, 0, -1},
    {"jane@gmial.com", MV_CTX_RECIPIENT, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, "jane@gmail.com", 0, 0, -1},
    {"jane@gmial.com", MV_CTX_SENDER, S_UNK, MV_R_UNVERIFIED, MV_ACT_ACCEPT, "jane@gmail.com", 0, 0, -1},
    {"jane@acme.cmo", MV_CTX_FORM, S_UNK, MV_R_UNVERIFIED, MV_ACT_WARN, "jane@acme.com", 0, 0, 0},
    /* a suggestion on top of a risky reason: the more severe action */
    {"sales@acme.cmo", MV_CTX_FORM, S_RSK, MV_R_ROLE_ACCOUNT, MV_ACT_WARN, "sales@acme.com", 0, 1, 0},
    {"sales@acme.cmo", MV_CTX_BULK, S_RSK, MV_R_ROLE_ACCOUNT, MV_ACT_REVIEW, "sales@acme.com", 0, 1, 0},
};

/* The table above, each field checked. */
static void test_reasons_and_actions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(eng_cases) / sizeof(*eng_cases); i++) {
        const eng_case *c = &eng_cases[i];
        mv_verdict v;

        check(engine, c->addr, c->ctx, 0, &v);
        if (v.status != c->status || v.reason != c->reason || v.action != c->action ||
            v.disposable != c->disposable || v.role != c->role || (c->free >= 0 && v.free != (bool)c->free))
            fail_case("%s (%s): got %s/%s/%s d%d r%d f%d, want %s/%s/%s d%d r%d f%d", c->addr,
                      mv_context_name(c->ctx), mv_status_name(v.status), mv_reason_name(v.reason),
                      mv_action_name(v.action), v.disposable, v.role, v.free, mv_status_name(c->status),
                      mv_reason_name(c->reason), mv_action_name(c->action), c->disposable, c->role, c->free);
        if (v.has_suggestion != (c->suggestion != NULL) ||
            (c->suggestion && strcmp(v.suggestion, c->suggestion) != 0))
            fail_case("%s (%s): suggestion %s, want %s", c->addr, mv_context_name(c->ctx),
                      v.has_suggestion ? v.suggestion : "none", c->suggestion ? c->suggestion : "none");
        if (v.context != c->ctx || v.input_len != strlen(c->addr) || v.cached || v.has_canonical)
            fail_case("%s: context, input or flags not as asked", c->addr);
    }
}

/* Each reason implies one status, by name as the contract spells it. */
static void test_reason_status(void **state)
{
    static const struct {
        mv_reason r;
        const char *name;
        mv_status s;
    } want[] = {
        {MV_R_ACCEPTED_EMAIL, "accepted_email", S_DEL},
        {MV_R_INVALID_SYNTAX, "invalid_syntax", S_UND},
        {MV_R_INVALID_DOMAIN, "invalid_domain", S_UND},
        {MV_R_NO_MAIL_SERVER, "no_mail_server", S_UND},
        {MV_R_REJECTED_EMAIL, "rejected_email", S_UND},
        {MV_R_MAILBOX_DISABLED, "mailbox_disabled", S_UND},
        {MV_R_MAILBOX_FULL, "mailbox_full", S_RSK},
        {MV_R_ACCEPT_ALL, "accept_all", S_RSK},
        {MV_R_DISPOSABLE, "disposable", S_RSK},
        {MV_R_ROLE_ACCOUNT, "role_account", S_RSK},
        {MV_R_GREYLISTED, "greylisted", S_UNK},
        {MV_R_TIMEOUT, "timeout", S_UNK},
        {MV_R_NO_CONNECT, "no_connect", S_UNK},
        {MV_R_DNS_ERROR, "dns_error", S_UNK},
        {MV_R_BLOCKED_BY_SERVER, "blocked_by_server", S_UNK},
        {MV_R_TLS_ERROR, "tls_error", S_UNK},
        {MV_R_TEMPORARY_ERROR, "temporary_error", S_UNK},
        {MV_R_UNVERIFIED, "unverified", S_UNK},
        {MV_R_NULL_SENDER, "null_sender", S_UNK},
    };

    (void)state;
    assert_int_equal(sizeof(want) / sizeof(*want), MV_R_COUNT);
    for (size_t i = 0; i < MV_R_COUNT; i++) {
        if (strcmp(mv_reason_name(want[i].r), want[i].name) != 0 ||
            mv_reason_lookup(want[i].name) != (int)want[i].r || mv_reason_status(want[i].r) != want[i].s)
            fail_case("%s", want[i].name);
    }
    assert_int_equal(mv_reason_lookup("nope"), -1);
    assert_int_equal(mv_action_lookup("block"), MV_ACT_BLOCK);
    assert_int_equal(mv_action_lookup("Block"), -1);
    assert_int_equal(mv_context_lookup("sender"), MV_CTX_SENDER);
    assert_string_equal(mv_status_name(S_RSK), "risky");
}

/* Precedence of mv_verdict_reason over every combination of signals. */
static void test_precedence(void **state)
{
    (void)state;
    for (int m = 0; m < 32; m++) {
        mv_signals s = {.syntax_ok = m & 1,
                        .null_path = (m >> 1) & 1,
                        .disposable = (m >> 2) & 1,
                        .role = (m >> 3) & 1,
                        .unchecked = !(m & 1) && ((m >> 4) & 1),
                        .net_asked = false,
                        .net_reason = MV_R_UNVERIFIED};
        /* an address libidn2 could not be loaded to check is not invalid */
        mv_reason want = s.unchecked    ? MV_R_TEMPORARY_ERROR
                         : !s.syntax_ok ? MV_R_INVALID_SYNTAX
                         : s.null_path  ? MV_R_NULL_SENDER
                         : s.disposable ? MV_R_DISPOSABLE
                         : s.role       ? MV_R_ROLE_ACCOUNT
                                        : MV_R_UNVERIFIED;

        if (mv_verdict_reason(&s) != want)
            fail_case("signals %d: got %s", m, mv_reason_name(mv_verdict_reason(&s)));
    }
}

/* With the network's word: DESIGN.md's order, case by case. */
static void test_precedence_network(void **state)
{
    static const struct {
        bool syntax, disposable, role;
        mv_reason net, want;
    } t[] = {
        {false, false, false, MV_R_REJECTED_EMAIL, MV_R_INVALID_SYNTAX},
        {true, true, false, MV_R_REJECTED_EMAIL, MV_R_REJECTED_EMAIL}, /* undeliverable beats disposable */
        {true, true, true, MV_R_NO_MAIL_SERVER, MV_R_NO_MAIL_SERVER},
        {true, false, true, MV_R_INVALID_DOMAIN, MV_R_INVALID_DOMAIN},
        {true, false, false, MV_R_MAILBOX_DISABLED, MV_R_MAILBOX_DISABLED},
        {true, true, false, MV_R_ACCEPTED_EMAIL, MV_R_DISPOSABLE},
        {true, true, false, MV_R_ACCEPT_ALL, MV_R_DISPOSABLE},
        {true, false, true, MV_R_ACCEPT_ALL, MV_R_ACCEPT_ALL},
        {true, false, true, MV_R_MAILBOX_FULL, MV_R_MAILBOX_FULL},
        {true, false, true, MV_R_ACCEPTED_EMAIL, MV_R_ROLE_ACCOUNT},
        {true, false, false, MV_R_ACCEPTED_EMAIL, MV_R_ACCEPTED_EMAIL},
        {true, false, true, MV_R_GREYLISTED, MV_R_GREYLISTED}, /* unknown beats a role */
        {true, false, true, MV_R_TIMEOUT, MV_R_TIMEOUT},
        {true, false, true, MV_R_UNVERIFIED, MV_R_ROLE_ACCOUNT}, /* mode dns: nothing asked of SMTP */
        {true, true, false, MV_R_DNS_ERROR, MV_R_DISPOSABLE},
        {true, false, false, MV_R_TIMEOUT, MV_R_TIMEOUT},
        {true, false, false, MV_R_BLOCKED_BY_SERVER, MV_R_BLOCKED_BY_SERVER},
        {true, false, false, MV_R_UNVERIFIED, MV_R_UNVERIFIED}, /* mode dns, MX found */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
        mv_signals s = {.syntax_ok = t[i].syntax,
                        .disposable = t[i].disposable,
                        .role = t[i].role,
                        .net_asked = true,
                        .net_reason = t[i].net};

        if (mv_verdict_reason(&s) != t[i].want)
            fail_case("%zu (%s): got %s, want %s", i, mv_reason_name(t[i].net),
                      mv_reason_name(mv_verdict_reason(&s)), mv_reason_name(t[i].want));
    }
}

/* A suggestion alone never blocks, in any context of the built-in policy. */
static void test_suggestion_never_blocks(void **state)
{
    static const char *const typos[] = {"a@gmial.com", "a@hotmial.co", "a@yahoo.con", "a@acme.cmo"};

    (void)state;
    for (int ctx = 0; ctx < MV_CTX_COUNT; ctx++)
        for (size_t i = 0; i < sizeof(typos) / sizeof(*typos); i++) {
            mv_verdict v;

            check(engine, typos[i], (mv_context)ctx, 0, &v);
            if (!v.has_suggestion || v.action == MV_ACT_BLOCK)
                fail_case("%s in %s: suggestion %d, action %s", typos[i], mv_context_name((mv_context)ctx),
                          v.has_suggestion, mv_action_name(v.action));
        }
}

/* The canonical form, on request only. */
static void test_canonical(void **state)
{
    static const struct {
        const char *addr, *want;
    } cases[] = {
        {"J.Doe+news@GoogleMail.com", "jdoe@gmail.com"},
        {"j.d.o.e@gmail.com", "jdoe@gmail.com"},
        {"JDOE@GMAIL.COM", "jdoe@gmail.com"},
        {"John.Smith+x@Outlook.com", "john.smith@outlook.com"}, /* dots kept there */
        {"John+a+b@hotmail.com", "john@hotmail.com"},
        {"Y.Name+t@yahoo.com", "y.name+t@yahoo.com"},         /* no tags at Yahoo */
        {"\"j doe+x\"@gmail.com", "\"j doe+x\"@gmail.com"},   /* quoted: left alone */
        {"Jane.Doe+x@Example.COM", "Jane.Doe+x@example.com"}, /* unknown: case kept */
        {"+tag@gmail.com", "+tag@gmail.com"},                 /* nothing left: kept */
        {"J.Doe@[192.0.2.1]", "J.Doe@[192.0.2.1]"},
        {"<@relay.example:J.Doe@GMail.com>", "jdoe@gmail.com"},
    };
    mv_verdict v;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        check(engine, cases[i].addr, MV_CTX_BULK, MV_REQ_CANONICAL, &v);
        if (!v.has_canonical || strcmp(v.canonical, cases[i].want) != 0)
            fail_case("%s: want %s, got %s", cases[i].addr, cases[i].want,
                      v.has_canonical ? v.canonical : "none");
        check(engine, cases[i].addr, MV_CTX_BULK, 0, &v);
        if (v.has_canonical)
            fail_case("%s: canonical form without MV_REQ_CANONICAL", cases[i].addr);
    }
    /* no canonical form for what is not a mailbox */
    check(engine, "a@@b.example", MV_CTX_BULK, MV_REQ_CANONICAL, &v);
    assert_false(v.has_canonical);
    check(engine, "<>", MV_CTX_SENDER, MV_REQ_CANONICAL, &v);
    assert_false(v.has_canonical);
}

/* Bad requests are EINVAL, not a verdict. */
static void test_call_status(void **state)
{
    mv_request req = {
        .address = "jane@example.com",
        .len = 16,
        .context = MV_CTX_FORM,
        .mode = MV_MODE_OFFLINE,
    };
    mv_verdict v;

    (void)state;
    /* the network modes exist now (tests/world covers them); a mode that
     * does not exist is a bad request */
    req.mode = (mv_mode)42;
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_EINVAL);
    req.mode = MV_MODE_OFFLINE;
    req.context = MV_CTX_COUNT;
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_EINVAL);
    req.context = (mv_context)-1;
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_EINVAL);
    req = (mv_request){NULL, 5, MV_CTX_FORM, MV_MODE_OFFLINE, 0, 0, NULL, NULL};
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_EINVAL);
    req = (mv_request){NULL, 0, MV_CTX_FORM, MV_MODE_OFFLINE, 0, 0, NULL, NULL};
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_OK);
    assert_int_equal(v.reason, MV_R_INVALID_SYNTAX);
    /* the input need not be NUL-terminated: only len bytes are read */
    req = (mv_request){"jane@example.comXXXX", 16, MV_CTX_FORM, MV_MODE_OFFLINE, 0, 0, NULL, NULL};
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_OK);
    assert_string_equal(v.addr.domain, "example.com");
    assert_string_equal(mv_call_name(MV_EINVAL), "invalid request");
}

/* A verdict struct reused for another address carries nothing over. */
static void test_verdict_reuse(void **state)
{
    mv_verdict v;

    (void)state;
    memset(&v, 0xA5, sizeof(v));
    check(engine, "info@mailinator.com", MV_CTX_FORM, MV_REQ_CANONICAL, &v);
    assert_true(v.disposable && v.role && v.has_canonical);
    check(engine, "a@@b", MV_CTX_FORM, 0, &v);
    assert_false(v.disposable || v.role || v.free || v.has_suggestion || v.has_canonical || v.cached);
    check(engine, "jane@gmial.com", MV_CTX_FORM, 0, &v);
    assert_true(v.has_suggestion);
    check(engine, "jane@example.com", MV_CTX_FORM, 0, &v);
    assert_false(v.has_suggestion);
    assert_true(v.elapsed_us < 1000000);
}

/* Policy from a config file changes the action, not the verdict. */
static void test_policy_from_config(void **state)
{
    static const char conf[] =
        "policy = { recipient = { disposable = \"block\"; free = \"review\"; };\n"
        "           form = { suggestion = \"review\"; unverified = \"tempfail\"; }; };\n"
        "lists = { allow = [ \"mailinator.com\" ]; };\n";
    mv_diag d = {0};
    mv_config *c = mv_config_load_text(conf, sizeof(conf) - 1, "t.conf", NULL, 0, &d);
    mv_engine *e;
    mv_verdict v;

    (void)state;
    assert_non_null(c);
    e = mv_engine_new(c);
    mv_config_unref(c);
    assert_non_null(e);
    check(e, "x@guerrillamail.com", MV_CTX_RECIPIENT, 0, &v);
    assert_int_equal(v.reason, MV_R_DISPOSABLE);
    assert_int_equal(v.action, MV_ACT_BLOCK);
    check(e, "x@gmail.com", MV_CTX_RECIPIENT, 0, &v);
    assert_int_equal(v.action, MV_ACT_REVIEW);
    check(e, "x@mailinator.com", MV_CTX_FORM, 0, &v); /* allowed */
    assert_false(v.disposable);
    assert_false(v.free);
    check(e, "x@gmial.com", MV_CTX_FORM, 0, &v);
    assert_int_equal(v.action, MV_ACT_TEMPFAIL); /* most severe wins */
    check(e, "x@example.com", MV_CTX_FORM, 0, &v);
    assert_int_equal(v.action, MV_ACT_TEMPFAIL);
    mv_engine_free(e);
    mv_diag_clear(&d);
}

/* -- many threads, one engine ------------------------------------------------------ */

enum { NTHREADS = 8, ROUNDS = 300 };

static const char *const mt_addrs[] = {
    "jane.doe@example.com",
    "info@mailinator.com",
    "J.Doe+news@GoogleMail.com",
    "a@@b",
    "jane@gmial.com",
    "<>",
    "j\xC3\xB6rg@b\xC3\xBC"
    "cher.de",
    "postmaster@[192.0.2.1]",
    "jane@gmail",
    "x@sub.burner.example",
    "\"quoted local\"@hotmial.co",
    "sales@acme.cmo",
};
#define NADDR (sizeof(mt_addrs) / sizeof(*mt_addrs))

static mv_verdict mt_want[MV_CTX_COUNT][NADDR];

typedef struct {
    int id;
    int mismatches;
} mt_arg;

/* same - do two verdicts say the same (elapsed time aside)? */
static bool same(const mv_verdict *a, const mv_verdict *b)
{
    return a->status == b->status && a->reason == b->reason && a->action == b->action &&
           a->disposable == b->disposable && a->role == b->role && a->free == b->free &&
           a->has_suggestion == b->has_suggestion && a->has_canonical == b->has_canonical &&
           (!a->has_suggestion || strcmp(a->suggestion, b->suggestion) == 0) &&
           (!a->has_canonical || strcmp(a->canonical, b->canonical) == 0) && a->addr.error == b->addr.error &&
           strcmp(a->addr.local, b->addr.local) == 0 && strcmp(a->addr.domain, b->addr.domain) == 0;
}

static void *mt_worker(void *p)
{
    mt_arg *arg = p;

    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < NADDR; i++) {
            size_t k = (i + (size_t)arg->id + (size_t)r) % NADDR;
            mv_context ctx = (mv_context)((k + (size_t)r) % MV_CTX_COUNT);
            mv_request req = {
                .address = mt_addrs[k],
                .len = strlen(mt_addrs[k]),
                .context = ctx,
                .mode = MV_MODE_OFFLINE,
                .flags = MV_REQ_CANONICAL,
            };
            mv_verdict v;

            if (mv_engine_check(engine, &req, &v) != MV_OK || !same(&v, &mt_want[ctx][k]))
                arg->mismatches++;
        }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t th[NTHREADS];
    mt_arg args[NTHREADS];
    int total = 0;

    (void)state;
    for (int ctx = 0; ctx < MV_CTX_COUNT; ctx++)
        for (size_t i = 0; i < NADDR; i++)
            check(engine, mt_addrs[i], (mv_context)ctx, MV_REQ_CANONICAL, &mt_want[ctx][i]);
    for (int t = 0; t < NTHREADS; t++) {
        args[t] = (mt_arg){t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, mt_worker, &args[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        total += args[t].mismatches;
    }
    assert_int_equal(total, 0);
}

/* The engine keeps its config alive after the caller drops it. */
static void test_engine_owns_config(void **state)
{
    mv_diag d = {0};
    mv_config *c = mv_config_load(NULL, 0, &d);
    mv_engine *e;
    mv_verdict v;

    (void)state;
    assert_non_null(c);
    e = mv_engine_new(c);
    mv_config_unref(c);
    check(e, "x@mailinator.com", MV_CTX_FORM, 0, &v);
    assert_true(v.disposable);
    mv_engine_free(e);
    mv_engine_free(NULL);
    mv_diag_clear(&d);
}

/* -- the engine's log ---------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu; /* the loop's thread may say something too */
    int lines, warnings;
    char first[MV_EVENT_LINE_MAX];
} heard;

static void hear(void *arg, mv_event_level level, const char *line)
{
    heard *h = arg;

    pthread_mutex_lock(&h->mu);
    if (h->lines++ == 0)
        snprintf(h->first, sizeof(h->first), "%s", line);
    h->warnings += level == MV_EVENT_WARNING;
    assert_null(strchr(line, '\n'));
    pthread_mutex_unlock(&h->mu);
}

/* one_check - an engine on c with log fn (may be NULL), one DNS request
 * (which opens the store), freed -- with fd 2 on a file: how many bytes
 * reached it */
static off_t one_check(mv_config *c, const char *dir, mv_event_fn fn, void *arg)
{
    mv_engine_options o = {.resolver = "127.0.0.1:9", .allow_private = -1, .log = fn, .log_arg = arg};
    mv_request req = {"jane@example.com", 16, MV_CTX_FORM, MV_MODE_DNS, 300, 0, NULL, NULL};
    char path[512];
    struct stat st;
    mv_verdict v;
    mv_engine *e;
    int saved, fd;

    snprintf(path, sizeof(path), "%s/stderr", dir);
    fflush(stderr);
    assert_true((saved = dup(2)) >= 0);
    assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    e = mv_engine_new_opts(c, &o);
    assert_non_null(e);
    assert_int_equal(mv_engine_check(e, &req, &v), MV_OK);
    mv_engine_free(e);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
    return st.st_size;
}

/* Issue 14: the library does not log by itself. A store that cannot be
 * opened (an LMDB path under a regular file) is a warning, and it reaches
 * the front end's callback, once, as one line without a newline -- and
 * nothing reaches stderr, with a callback or without one (silence). */
static void test_core_never_writes_stderr(void **state)
{
    char dir[] = "/tmp/mv-logXXXXXX", file[64], conf[512];
    heard h = {PTHREAD_MUTEX_INITIALIZER, 0, 0, ""};
    mv_diag d = {0};
    mv_config *c;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/file", dir);
    assert_true((fd = open(file, O_WRONLY | O_CREAT, 0600)) >= 0);
    close(fd);
    snprintf(conf, sizeof(conf),
             "dns = { timeout_ms = 200; tries = 1; };\n"
             "cache = { store = \"lmdb\"; lmdb_path = \"%s/cache.mdb\"; };\n",
             file);
    c = mv_config_load_text(conf, strlen(conf), "t.conf", NULL, 0, &d);
    assert_non_null(c);
    assert_int_equal(one_check(c, dir, hear, &h), 0);
    assert_int_equal(h.warnings, 1);
    assert_true(strncmp(h.first, "cache: ", 7) == 0);
    assert_non_null(strstr(h.first, "using a memory cache in this process"));
    assert_int_equal(one_check(c, dir, NULL, NULL), 0);
    mv_config_unref(c);
    mv_diag_clear(&d);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons_and_actions),
        cmocka_unit_test(test_reason_status),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_precedence_network),
        cmocka_unit_test(test_suggestion_never_blocks),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_call_status),
        cmocka_unit_test(test_verdict_reuse),
        cmocka_unit_test(test_policy_from_config),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_engine_owns_config),
        cmocka_unit_test(test_core_never_writes_stderr),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
