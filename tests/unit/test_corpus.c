/* SPDX-License-Identifier: MIT */
/*
 * test_corpus.c - the worst-error invariant on the reply corpus.
 *
 * tests/cases/replies.tsv (or $MV_REPLIES_CORPUS) holds real SMTP replies
 * of providers, gateways and MTAs with the reason each means (format in
 * tests/cases/README-replies). A reply that says the prober is blocked,
 * rate limited, greylisted or refused for a while must never read as
 * "this address does not exist" (rejected_email, mailbox_disabled,
 * invalid_domain) under the shipped table: that mistake turns a real
 * address into a bounce for every caller. The test fails on any such line
 * and names it. The shipped table's accuracy on the whole corpus is
 * printed, not asserted: it is a figure (make bench-replies), not a rule.
 */
#include "unit.h"
#include "classify.h"
#include "diag.h"
#include "rules.h"

#include "../bench/replies_corpus.h"

/* corpus_path - $MV_REPLIES_CORPUS, or the corpus relative to the project root */
static const char *corpus_path(void)
{
    const char *p = getenv("MV_REPLIES_CORPUS");

    return p && *p ? p : "tests/cases/replies.tsv";
}

/* must_not_be_undeliverable - the reasons the invariant protects */
static bool must_not_be_undeliverable(mv_reason r)
{
    return r == MV_R_BLOCKED_BY_SERVER || r == MV_R_TEMPORARY_ERROR || r == MV_R_GREYLISTED;
}

static void test_no_block_reads_undeliverable(void **state)
{
    const char *path = corpus_path();
    rc_corpus c;
    mv_diag d;
    mv_rules *shipped;
    size_t correct = 0, bad = 0;

    (void)state;
    if (rc_load(path, &c) != 0) {
        rc_free(&c);
        fail_msg("%s does not load (errors above)", path);
    }
    assert_true(c.n > 0);
    memset(&d, 0, sizeof(d));
    shipped = mv_rules_load_file("builtin", &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("builtin table: %s\n", d.items[i].text);
    mv_diag_clear(&d);
    assert_non_null(shipped);

    for (size_t i = 0; i < c.n; i++) {
        const rc_case *k = &c.cases[i];
        mv_reading out;

        memset(&out, 0, sizeof(out));
        mv_classify_reply(NULL, shipped, k->host, k->stage, &k->answer, &out);
        if (out.reason == k->expected)
            correct++;
        if (must_not_be_undeliverable(k->expected) && rc_undeliverable(out.reason)) {
            print_error("%s:%d: %s %s reads %s (%s): %s\n", path, k->line, k->family,
                        mv_reason_name(k->expected), mv_reason_name(out.reason),
                        out.rule ? out.rule : out.why, k->reply);
            bad++;
        }
    }
    print_message("shipped table on %s: %zu of %zu replies read as expected (%.1f%%)\n", path, correct, c.n,
                  100.0 * (double)correct / (double)c.n);
    mv_rules_free(shipped);
    rc_free(&c);
    if (bad)
        fail_msg("%zu blocking/temporary/greylisting replies read as undeliverable", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_block_reads_undeliverable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
