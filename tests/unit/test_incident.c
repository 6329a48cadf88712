/* SPDX-License-Identifier: MIT */
/*
 * test_incident.c - the bookkeeping that keeps an incident's log short.
 *
 * A fault starts once (however many failures follow) and ends once, with
 * what it cost; the resolver's watch blames the resolver only for
 * failures in a row across domains (five, or five seconds' worth), never
 * for one broken domain, and any answer clears it; a summary period with
 * nothing in it is quiet. The milter's harvest episodes: the first
 * refusal of a client is the one to log, the rest are counted, and the
 * episode ends with the budget's window (or when the budget is found
 * unspent, or at shutdown), once.
 */
#include "unit.h"

#include "dha.h"
#include "incident.h"

static void test_fault(void **state)
{
    mv_fault f = {0}, ended;

    (void)state;
    assert_false(mv_fault_active(&f));
    assert_false(mv_fault_ok(&f, &ended)); /* healthy: nothing ends */
    assert_true(mv_fault_fail(&f, 1000));  /* the one line */
    for (int i = 0; i < 50; i++)
        assert_false(mv_fault_fail(&f, 2000 + (uint64_t)i)); /* counted, not said */
    f.answered = 7;
    assert_true(mv_fault_active(&f));
    assert_true(mv_fault_ok(&f, &ended));
    assert_int_equal(ended.since_ms, 1000);
    assert_int_equal(ended.failures, 51);
    assert_int_equal(ended.answered, 7);
    assert_false(mv_fault_active(&f));
    assert_false(mv_fault_ok(&f, NULL)); /* the second success: nothing */
    assert_true(mv_fault_fail(&f, 0));   /* a new fault, even at time 0 */
    assert_true(mv_fault_active(&f));
}

/* A step of the resolver's watch: a lookup of domain at t ms, failed or
 * answered, and what the watch must say. */
typedef struct {
    const char *domain; /* NULL: end of the case */
    bool failed;
    uint64_t t;
    bool says; /* starts (failed) or ends (answered) a fault */
} dns_step;

typedef struct {
    const char *name;
    dns_step steps[12];
} dns_case;

static const dns_case dns_cases[] = {
    {"one broken domain is not the resolver",
     {{"a.test", 1, 10, 0},
      {"a.test", 1, 20, 0},
      {"a.test", 1, 30, 0},
      {"a.test", 1, 40, 0},
      {"a.test", 1, 50, 0},
      {"a.test", 1, 60, 0},
      {"a.test", 1, 9000, 0},
      {NULL, 0, 0, 0}}},
    {"five in a row across domains",
     {{"a.test", 1, 10, 0},
      {"b.test", 1, 20, 0},
      {"c.test", 1, 30, 0},
      {"d.test", 1, 40, 0},
      {"e.test", 1, 50, 1},
      {"f.test", 1, 60, 0},
      {"g.test", 1, 70, 0},
      {"ok.test", 0, 80, 1},
      {"ok.test", 0, 90, 0},
      {NULL, 0, 0, 0}}},
    {"an answer breaks the streak",
     {{"a.test", 1, 10, 0},
      {"b.test", 1, 20, 0},
      {"c.test", 1, 30, 0},
      {"d.test", 1, 40, 0},
      {"ok.test", 0, 45, 0},
      {"e.test", 1, 50, 0},
      {"f.test", 1, 60, 0},
      {NULL, 0, 0, 0}}},
    {"a quiet daemon: two domains five seconds apart",
     {{"a.test", 1, 1000, 0}, {"b.test", 1, 3000, 0}, {"c.test", 1, 6000, 1}, {NULL, 0, 0, 0}}},
    {"NXDOMAIN is an answer",
     {{"a.test", 1, 10, 0},
      {"b.test", 1, 20, 0},
      {"c.test", 1, 30, 0},
      {"d.test", 1, 40, 0},
      {"e.test", 1, 50, 1},
      {"nx.test", 0, 60, 1},
      {NULL, 0, 0, 0}}},
};

static void test_dns_watch(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(dns_cases) / sizeof(*dns_cases); c++) {
        mv_dns_watch w = {0};
        mv_fault ended;

        for (const dns_step *s = dns_cases[c].steps; s->domain != NULL; s++) {
            bool says = s->failed ? mv_dns_watch_fail(&w, s->domain, s->t) : mv_dns_watch_ok(&w, &ended);

            if (says != s->says)
                fail_case("%s: %s at %llu: %s", dns_cases[c].name, s->domain, (unsigned long long)s->t,
                          says ? "said something" : "said nothing");
        }
    }
}

static void test_dns_watch_counts(void **state)
{
    mv_dns_watch w = {0};
    mv_fault ended;
    char d[32];

    (void)state;
    for (int i = 0; i < 9; i++) {
        snprintf(d, sizeof(d), "d%d.test", i);
        (void)mv_dns_watch_fail(&w, d, 100 + (uint64_t)i);
    }
    assert_int_equal(w.fault.since_ms, 100); /* the streak's first failure */
    assert_true(mv_dns_watch_ok(&w, &ended));
    assert_int_equal(ended.failures, 9); /* the streak and what followed */
    assert_int_equal(ended.since_ms, 100);
}

static void test_period(void **state)
{
    mv_incident_period p;

    (void)state;
    mv_period_begin(&p, 5000);
    assert_int_equal(p.start_ms, 5000);
    assert_true(mv_period_quiet(&p));
    p.dns_failed = 1;
    assert_false(mv_period_quiet(&p));
    mv_period_begin(&p, 6000);
    assert_true(mv_period_quiet(&p));
    p.without = 3;
    assert_false(mv_period_quiet(&p));
}

static void test_clock(void **state)
{
    char buf[16];

    (void)state;
    mv_incident_clock(buf, sizeof(buf), (time_t)1795752321);
    assert_int_equal(strlen(buf), 8);
    assert_true(buf[2] == ':' && buf[5] == ':');
    mv_incident_clock(buf, 4, (time_t)1795752321); /* no room: "?" */
    assert_string_equal(buf, "?");
}

static void test_dha_episode(void **state)
{
    mv_dha *d = mv_dha_new();
    mv_dha_episode ep[4];

    (void)state;
    assert_non_null(d);
    mv_dha_count(d, "192.0.2.1", 10, 100);
    mv_dha_count(d, "192.0.2.1", 10, 101);
    assert_true(mv_dha_spent(d, "192.0.2.1", 2, 10, 102));
    assert_true(mv_dha_refused(d, "192.0.2.1", "spam.example[192.0.2.1]", 10, 102)); /* log it */
    for (int i = 0; i < 20; i++)
        assert_false(mv_dha_refused(d, "192.0.2.1", "spam.example[192.0.2.1]", 10, 103));
    assert_int_equal(mv_dha_ended(d, 109, ep, 4), 0); /* the window runs until 110 */
    assert_int_equal(mv_dha_ended(d, 110, ep, 4), 1);
    assert_string_equal(ep[0].who, "spam.example[192.0.2.1]");
    assert_int_equal(ep[0].refused, 21);
    assert_int_equal(ep[0].first, 102);
    assert_int_equal(ep[0].last, 103);
    assert_int_equal(mv_dha_ended(d, 200, ep, 4), 0);       /* once */
    assert_false(mv_dha_spent(d, "192.0.2.1", 2, 10, 111)); /* a new window */
    mv_dha_free(d);
}

static void test_dha_episode_ends_early(void **state)
{
    mv_dha *d = mv_dha_new();
    mv_dha_episode ep[4];

    (void)state;
    assert_non_null(d);
    /* a budget shared elsewhere: the window is not known here */
    assert_true(mv_dha_refused(d, "192.0.2.7", "unknown[192.0.2.7]", 300, 1000));
    assert_false(mv_dha_refused(d, "192.0.2.7", "unknown[192.0.2.7]", 300, 1001));
    assert_true(mv_dha_refused(d, "192.0.2.8", "unknown[192.0.2.8]", 300, 1001));
    assert_int_equal(mv_dha_ended(d, 1010, ep, 4), 0);
    /* found unspent: over now, not 300 s after the first refusal */
    assert_false(mv_dha_spent(d, "192.0.2.7", 2, 300, 1020));
    assert_int_equal(mv_dha_ended(d, 1020, ep, 4), 1);
    assert_string_equal(ep[0].who, "unknown[192.0.2.7]");
    assert_int_equal(ep[0].refused, 2);
    /* at shutdown every episode is over */
    assert_int_equal(mv_dha_ended(d, INT64_MAX, ep, 4), 1);
    assert_string_equal(ep[0].who, "unknown[192.0.2.8]");
    assert_int_equal(mv_dha_ended(d, 0, ep, 0), 0);
    mv_dha_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault),
        cmocka_unit_test(test_dns_watch),
        cmocka_unit_test(test_dns_watch_counts),
        cmocka_unit_test(test_period),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_dha_episode),
        cmocka_unit_test(test_dha_episode_ends_early),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
