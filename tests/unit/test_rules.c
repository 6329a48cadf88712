/* SPDX-License-Identifier: MIT */
/*
 * test_rules.c - the reply rules table and the layered reading of replies.
 *
 * Every shipped rule carries a real reply from its public source
 * (`example`): each must match its own rule and read as the rule says
 * through the whole classifier. The worst error -- a live mailbox called
 * undeliverable because a server blocked the prober -- must not happen for
 * any block text in the table, whatever code it comes with and whatever an
 * admin's rule says. Then precedence (admin's rules, shipped rules,
 * enhanced codes, text) and the loader's errors, file:line, all at once.
 */
#include "unit.h"
#include "classify.h"
#include "reply.h"
#include "rules.h"

#include <libconfig.h>

/* parse - a raw reply ("550-a\n550 b", lines without CRLF) into an answer */
static bool parse(const char *raw, mv_smtp_answer *a)
{
    mv_reply_parser p;
    char buf[4096];
    size_t n = 0, used;
    mv_reply_status st;

    for (const char *s = raw; *s && n < sizeof(buf) - 3; s++) {
        if (*s == '\n')
            buf[n++] = '\r';
        buf[n++] = *s;
    }
    buf[n++] = '\r';
    buf[n++] = '\n';
    mv_reply_init(&p);
    st = mv_reply_feed(&p, buf, n, &used);
    if (st != MV_REPLY_DONE)
        return false;
    mv_probe_answer(&p.r, a);
    return true;
}

/* host_for - a concrete host name a pattern matches ("*.x.com" -> "mx1.x.com") */
static void host_for(const char *pat, char *out, size_t size)
{
    size_t k = 0;

    if (pat == NULL) {
        snprintf(out, size, "mx.example.org");
        return;
    }
    if (pat[0] == '.')
        k += (size_t)snprintf(out, size, "mx1");
    for (const char *p = pat; *p && k + 4 < size; p++) {
        if (*p == '*') {
            memcpy(out + k, "mx1", 3);
            k += 3;
        } else if (*p == '?') {
            out[k++] = 'a';
        } else if (*p == '[') {
            const char *end = strchr(p, ']');

            out[k++] = p[1] == '!' ? 'z' : p[1];
            p = end ? end : p;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static mv_rules *shipped(void)
{
    mv_diag d = {0};
    mv_rules *t = mv_rules_load_file("builtin", &d);

    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.items[i].text);
    mv_diag_clear(&d);
    assert_non_null(t);
    return t;
}

static void test_shipped_examples(void **state)
{
    mv_rules *t = shipped();
    mv_rule_info ri;
    size_t n = 0;

    (void)state;
    assert_true(mv_rules_count(t) > 0);
    for (size_t i = 0; mv_rules_rule(t, i, &ri); i++, n++) {
        mv_smtp_answer a;
        mv_reading rd;
        char host[300];

        if (ri.example == NULL)
            fail_case("shipped rule %s has no example (its real reply text)", ri.name);
        if (!parse(ri.example, &a))
            fail_case("rule %s: example is not an SMTP reply: %s", ri.name, ri.example);
        host_for(ri.host, host, sizeof(host));
        if (!mv_rules_rule_matches(t, i, host, ri.stage, &a))
            fail_case("rule %s does not match its own example at %s (%s): %s", ri.name, host,
                      mv_stage_name(ri.stage), ri.example);
        mv_classify_reply(NULL, t, host, ri.stage, &a, &rd);
        if (rd.reason != ri.reason && !(ri.stage != MV_STAGE_RCPT && ri.stage != MV_STAGE_DATA &&
                                        mv_reason_status(ri.reason) == MV_STATUS_UNDELIVERABLE))
            fail_case("rule %s: its example reads as %s (%s), the rule says %s: %s", ri.name,
                      mv_reason_name(rd.reason), rd.why, mv_reason_name(ri.reason), ri.example);
    }
    print_message("%zu shipped rules, %zu profiles, every example matched\n", n, mv_rules_profile_count(t));
    mv_rules_free(t);
}

/* an admin's rule that calls every 5xx an unknown mailbox */
static mv_rules *reckless(void)
{
    config_t lc;
    mv_diag d = {0};
    mv_rules *t;

    config_init(&lc);
    assert_int_equal(config_read_string(&lc, "rules = ( { name = \"all\"; code = \"5xx\"; "
                                             "reason = \"rejected_email\"; } );"),
                     CONFIG_TRUE);
    t = mv_rules_from_settings(config_lookup(&lc, "rules"), NULL, "test", &d);
    config_destroy(&lc);
    mv_diag_clear(&d);
    assert_non_null(t);
    return t;
}

static void test_worst_error(void **state)
{
    mv_rules *t = shipped(), *bad = reckless();
    static const int codes[][4] = {{550, 5, 1, 1}, {550, 0, 0, 0}, {554, 5, 7, 1}, {451, 4, 7, 1}};
    mv_rule_info ri;
    size_t checked = 0;

    (void)state;
    for (size_t i = 0; mv_rules_rule(t, i, &ri); i++) {
        mv_smtp_answer a;
        mv_reading rd;
        char host[300];

        if (ri.reason != MV_R_BLOCKED_BY_SERVER && ri.reason != MV_R_TEMPORARY_ERROR &&
            ri.reason != MV_R_GREYLISTED)
            continue;
        if (ri.example == NULL || !parse(ri.example, &a))
            continue; /* test_shipped_examples reports it */
        host_for(ri.host, host, sizeof(host));
        mv_classify_reply(NULL, t, host, MV_STAGE_RCPT, &a, &rd);
        if (mv_reason_status(rd.reason) != MV_STATUS_UNKNOWN)
            fail_case("block rule %s: its example reads %s: %s", ri.name, mv_reason_name(rd.reason),
                      ri.example);
        checked++;
        if (!mv_classify_names_prober(a.text))
            continue;
        /* text that names the prober: unknown with any code, whatever an admin's rule says */
        for (size_t c = 0; c < sizeof(codes) / sizeof(*codes); c++) {
            a.code = codes[c][0];
            memcpy(a.enh, codes[c] + 1, sizeof(a.enh));
            mv_classify_reply(bad, t, host, MV_STAGE_RCPT, &a, &rd);
            if (mv_reason_status(rd.reason) == MV_STATUS_UNDELIVERABLE)
                fail_case("block rule %s's text with %d %d.%d.%d reads %s: %s", ri.name, a.code, a.enh[0],
                          a.enh[1], a.enh[2], mv_reason_name(rd.reason), a.text);
        }
    }
    print_message("%zu block rules' texts never read as undeliverable\n", checked);
    mv_rules_free(t);
    mv_rules_free(bad);
}

/* A table of the test's own, from text. */
static mv_rules *table(const char *text, mv_diag *d)
{
    config_t lc;
    mv_rules *t;

    config_init(&lc);
    if (config_read_string(&lc, text) != CONFIG_TRUE) {
        print_error("%d: %s\n", config_error_line(&lc), config_error_text(&lc));
        config_destroy(&lc);
        return NULL;
    }
    t = mv_rules_from_settings(config_lookup(&lc, "rules"), config_lookup(&lc, "profiles"), "t.conf", d);
    config_destroy(&lc);
    return t;
}

static const struct {
    const char *host;
    mv_stage stage;
    const char *reply;
    mv_reason want;
    const char *rule; /* the deciding rule, or NULL: the generic reading */
} prec[] = {
    /* the admin's first rule wins over its second and over the table */
    {"a.mail.protection.outlook.com", MV_STAGE_RCPT, "550 5.4.1 Recipient address rejected: Access denied",
     MV_R_REJECTED_EMAIL, "local-dbeb"},
    {"x.example.org", MV_STAGE_RCPT, "550 5.4.1 Recipient address rejected: Access denied",
     MV_R_BLOCKED_BY_SERVER, NULL},
    /* .suffix: the domain and below; a glob; an exact name */
    {"corp.test", MV_STAGE_RCPT, "550 5.7.1 nope", MV_R_MAILBOX_DISABLED, "suffix"},
    {"mx9.corp.test", MV_STAGE_RCPT, "550 5.7.1 nope", MV_R_MAILBOX_DISABLED, "suffix"},
    {"notcorp.test", MV_STAGE_RCPT, "550 5.7.1 nope", MV_R_BLOCKED_BY_SERVER, NULL},
    {"MX1.EXACT.TEST", MV_STAGE_RCPT, "451 4.3.0 hold on", MV_R_GREYLISTED, "exact"},
    /* stage lists and code patterns */
    {"any.test", MV_STAGE_MAIL, "553 5.1.8 we do not like you", MV_R_TLS_ERROR, "stage-code"},
    {"any.test", MV_STAGE_RCPT, "553 5.1.8 we do not like you", MV_R_BLOCKED_BY_SERVER, NULL},
    /* enhanced "none" and "x" parts */
    {"any.test", MV_STAGE_RCPT, "550 gone fishing", MV_R_MAILBOX_DISABLED, "noenh"},
    {"any.test", MV_STAGE_RCPT, "550 5.2.9 gone fishing", MV_R_REJECTED_EMAIL, NULL},
    {"any.test", MV_STAGE_RCPT, "452 4.9.9 later please", MV_R_MAILBOX_FULL, "enhx"},
    /* regex, case-insensitive */
    {"any.test", MV_STAGE_RCPT, "550 5.0.0 Mailbox QUARANTINED for review", MV_R_REJECTED_EMAIL, "re"},
    /* a rule may never call a refusal before RCPT a mailbox verdict */
    {"any.test", MV_STAGE_BANNER, "554 5.0.0 Mailbox QUARANTINED for review", MV_R_BLOCKED_BY_SERVER, "re"},
    /* text that names the prober beats a rule saying the mailbox is unknown */
    {"any.test", MV_STAGE_RCPT, "550 5.0.0 mailbox quarantined: your IP has a poor reputation",
     MV_R_BLOCKED_BY_SERVER, "re"},
};

static const char prec_table[] =
    "rules = (\n"
    " { name = \"local-dbeb\"; hosts = [ \"*.mail.protection.outlook.com\" ]; enhanced = \"5.4.1\";"
    "   text = \"Access denied\"; reason = \"rejected_email\"; },\n"
    " { name = \"shadowed\"; hosts = [ \"*.outlook.com\" ]; code = \"550\"; reason = \"blocked_by_server\"; "
    "},\n"
    " { name = \"suffix\"; hosts = [ \".corp.test\" ]; code = \"5xx\"; reason = \"mailbox_disabled\"; },\n"
    " { name = \"exact\"; hosts = [ \"mx1.exact.test\" ]; code = \"45x\"; reason = \"greylisted\"; },\n"
    " { name = \"stage-code\"; stage = \"banner, mail\"; code = \"55x\"; enhanced = \"5.1.8\"; reason = "
    "\"tls_error\"; },\n"
    " { name = \"noenh\"; code = \"550\"; enhanced = \"none\"; text = [ \"fishing\", \"hunting\" ]; reason = "
    "\"mailbox_disabled\"; },\n"
    " { name = \"enhx\"; enhanced = \"4.x.9\"; reason = \"mailbox_full\"; },\n"
    " { name = \"re\"; regex = \"mailbox +quarantined\"; reason = \"rejected_email\"; }\n"
    ");\n";

static void test_precedence(void **state)
{
    mv_diag d = {0};
    mv_rules *t = table(prec_table, &d);

    (void)state;
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.items[i].text);
    assert_non_null(t);
    /* "mailbox_disabled" for noenh: a rule's word; "rejected_email" for 5.2.9 with no rule */
    for (size_t i = 0; i < sizeof(prec) / sizeof(*prec); i++) {
        mv_smtp_answer a;
        mv_reading rd;

        assert_true(parse(prec[i].reply, &a));
        mv_classify_reply(t, NULL, prec[i].host, prec[i].stage, &a, &rd);
        if (rd.reason != prec[i].want || (prec[i].rule == NULL) != (rd.rule == NULL) ||
            (prec[i].rule && strcmp(prec[i].rule, rd.rule) != 0))
            fail_case("%s at %s: %s by %s (%s), want %s by %s", prec[i].reply, prec[i].host,
                      mv_reason_name(rd.reason), rd.rule ? rd.rule : "-", rd.why,
                      mv_reason_name(prec[i].want), prec[i].rule ? prec[i].rule : "-");
    }
    mv_rules_free(t);
    mv_diag_clear(&d);
}

/* The generic reading: enhanced codes, then text, with the two text rules on top. */
static const struct {
    const char *reply;
    mv_reason want;
} generic[] = {
    /* Exchange: 5.1.10 is "recipient not found", not RFC 7505's null MX */
    {"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     MV_R_REJECTED_EMAIL},
    {"550 5.1.10 Recipient address has null MX", MV_R_NO_MAIL_SERVER},
    /* a mailbox plainly unknown, with a policy code */
    {"550 5.7.1 Recipient address rejected: mailbox does not exist", MV_R_REJECTED_EMAIL},
    {"550 5.7.1 The account has been disabled", MV_R_MAILBOX_DISABLED},
    {"550 5.7.1 Message rejected due to local policy", MV_R_BLOCKED_BY_SERVER},
    /* prober text beats everything */
    {"550 5.1.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
     MV_R_BLOCKED_BY_SERVER},
    {"550 5.1.1 User unknown; 192.0.2.77 is listed", MV_R_BLOCKED_BY_SERVER},
    {"451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
     MV_R_BLOCKED_BY_SERVER},
    /* 4.7.x without greylisting words: not greylisting */
    {"451 4.7.0 Temporary server error. Please try again later. PRX4", MV_R_GREYLISTED},
    {"450 4.7.1 Service unavailable", MV_R_TEMPORARY_ERROR},
    {"450 4.7.1 <x@y>: Recipient address rejected: Greylisted for 300 seconds", MV_R_GREYLISTED},
    /* TLS required */
    {"530 5.7.0 Must issue a STARTTLS command first", MV_R_TLS_ERROR},
    /* sender, not recipient */
    {"553 5.1.8 <>: Sender address rejected: Domain not found", MV_R_BLOCKED_BY_SERVER},
    {"550 5.1.7 The sender's address is invalid", MV_R_BLOCKED_BY_SERVER},
    /* no enhanced code */
    {"550 Requested action not taken: mailbox unavailable", MV_R_REJECTED_EMAIL},
    {"511 sorry, no mailbox here by that name (#5.1.1)", MV_R_REJECTED_EMAIL},
    {"554 delivery error: dd This user doesn't have a yahoo.com account", MV_R_REJECTED_EMAIL},
};

static void test_generic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(generic) / sizeof(*generic); i++) {
        mv_smtp_answer a;
        mv_reading rd;

        assert_true(parse(generic[i].reply, &a));
        mv_classify_reply(NULL, NULL, "mx.example.org", MV_STAGE_RCPT, &a, &rd);
        if (rd.reason != generic[i].want)
            fail_case("%s: %s (%s), want %s", generic[i].reply, mv_reason_name(rd.reason), rd.why,
                      mv_reason_name(generic[i].want));
    }
}

/* every problem, file:line, in one pass */
static void test_load_errors(void **state)
{
    mv_diag d = {0};
    static const char *const want[] = {
        "t.conf:2: unknown key 'txt' in reply rule 1 (did you mean 'text'?)",
        "t.conf:2: 'code' in reply rule 1 must be a reply code",
        "t.conf:3: 'reason' in reply rule 2 is \"rejeted_email\"",
        "t.conf:4: 'regex' in reply rule 3:",
        "t.conf:5: reply rule 4 matches every reply",
        "t.conf:6: 'stage' in reply rule 5: unknown stage 'rpct'",
        "t.conf:7: 'enhanced' in reply rule 6 must be an enhanced status code",
        "t.conf:8: reply rule 7 has the name \"a\" of reply rule 1 (line 2)",
        "t.conf:11: 'rcpt' in profile 1 is \"sometimes\"",
        "t.conf:11: 'host_sessions' in profile 1 is 0",
        "t.conf:12: profile 2: required key 'hosts' is missing",
    };
    mv_rules *t = table("rules = (\n"
                        " { name = \"a\"; code = \"5y0\"; txt = \"x\"; reason = \"rejected_email\"; },\n"
                        " { name = \"b\"; code = 550; reason = \"rejeted_email\"; },\n"
                        " { name = \"c\"; regex = \"(unclosed\"; reason = \"rejected_email\"; },\n"
                        " { name = \"d\"; reason = \"rejected_email\"; },\n"
                        " { name = \"e\"; stage = \"rpct\"; code = \"5xx\"; reason = \"rejected_email\"; },\n"
                        " { name = \"f\"; enhanced = \"5.1\"; reason = \"rejected_email\"; },\n"
                        " { name = \"a\"; code = \"550\"; reason = \"rejected_email\"; }\n"
                        ");\nprofiles = (\n"
                        " { name = \"p\"; hosts = [ \"*.x\" ]; rcpt = \"sometimes\"; host_sessions = 0; },\n"
                        " { name = \"q\"; }\n"
                        ");\n",
                        &d);

    (void)state;
    assert_null(t);
    for (size_t w = 0; w < sizeof(want) / sizeof(*want); w++) {
        bool found = false;

        for (size_t i = 0; i < d.count && !found; i++)
            found = strncmp(d.items[i].text, want[w], strlen(want[w])) == 0;
        if (!found) {
            for (size_t i = 0; i < d.count; i++)
                print_error("  got: %s\n", d.items[i].text);
            fail_case("missing: %s", want[w]);
        }
    }
    mv_diag_clear(&d);
    /* a missing file says so, with its name */
    assert_null(mv_rules_load_file("/nonexistent/replies.conf", &d));
    assert_true(d.errors == 1 && strstr(d.items[0].text, "/nonexistent/replies.conf") != NULL);
    mv_diag_clear(&d);
}

static void test_profiles(void **state)
{
    mv_diag d = {0};
    mv_rules *t = table(
        "profiles = (\n"
        " { name = \"yahoo\"; hosts = [ \"*.yahoodns.net\", \".mx.aol.com\" ]; rcpt = \"accept_all\";"
        "   catch_all_check = false; max_rcpt_per_session = 5; host_sessions = 1; backoff_s = 1800; },\n"
        " { name = \"all\"; hosts = [ \"*\" ]; }\n"
        ");\n",
        &d);
    const mv_profile *p;

    (void)state;
    assert_non_null(t);
    p = mv_rules_profile(t, "mta5.am0.yahoodns.net");
    assert_non_null(p);
    assert_string_equal(p->name, "yahoo");
    assert_int_equal(p->rcpt, MV_RCPT_ACCEPT_ALL);
    assert_int_equal(p->catch_all_check, 0);
    assert_int_equal(p->max_rcpt, 5);
    assert_int_equal(p->host_sessions, 1);
    assert_int_equal(p->backoff_s, 1800);
    assert_string_equal(mv_rules_profile(t, "mx.aol.com")->name, "yahoo");
    assert_string_equal(mv_rules_profile(t, "mx-aol.mail.gm0.yahoodns.net")->name, "yahoo");
    p = mv_rules_profile(t, "mx.example.org");
    assert_string_equal(p->name, "all");
    assert_int_equal(p->rcpt, MV_RCPT_MEANINGFUL);
    assert_int_equal(p->catch_all_check, -1);
    assert_int_equal(p->max_rcpt, 0);
    mv_rules_free(t);
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_examples), cmocka_unit_test(test_worst_error),
        cmocka_unit_test(test_precedence),       cmocka_unit_test(test_generic),
        cmocka_unit_test(test_load_errors),      cmocka_unit_test(test_profiles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
