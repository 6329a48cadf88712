/* SPDX-License-Identifier: MIT */
/*
 * bench_replies.c - how often the reply rules read real SMTP replies right.
 *
 * Usage: bench_replies [-v] [--table FILE] [--before FILE] [CORPUS]
 *
 * The corpus (tests/cases/replies.tsv by default; the format is in
 * tests/cases/README-replies) holds real replies of providers, security
 * gateways and MTAs, each with the reason it means. Each reply is parsed
 * by milter/core/reply.c, as the probe would, and classified three ways
 * by mv_classify_reply():
 *   no table  the generic reading alone: RFC 3463 enhanced code, basic
 *             code, text;
 *   before    with the table of --before FILE (the script passes the
 *             replies.conf of an older commit); left out without it;
 *   now       with the shipped table ("builtin", or --table FILE).
 * It prints accuracy overall, by family and by expected reason, and the
 * count of the worst mistake apart: "false undeliverable", a reply that
 * does not say the address is bad (a block, greylisting, a full mailbox,
 * a temporary error, an acceptance) read as rejected_email,
 * mailbox_disabled or invalid_domain. That count must be 0 for a table
 * to ship. -v lists every miss of the last column (family, expected, got,
 * the rule that decided, the reply).
 *
 * A benchmark, not a test: it exits 0 whatever the figures, 2 on bad
 * input (a malformed corpus line, a --table that does not load) or bad
 * usage. tests/unit/test_corpus.c asserts the invariant.
 */
#include "classify.h"
#include "diag.h"
#include "rules.h"
#include "verdict.h"

#include "replies_corpus.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COL_NONE, COL_BEFORE, COL_NOW, COLS };

static const char *const col_name[COLS] = {"no table", "before", "now"};

typedef struct {
    unsigned total, correct[COLS], false_undeliverable[COLS];
} tally;

typedef struct {
    char name[RC_FAMILY_MAX];
    tally t;
} family_tally;

/* What one column said of one reply. */
typedef struct {
    mv_reason got;
    char rule[160]; /* the deciding rule's name, or the reading's why */
} result;

/* usage - to stderr, exit 2 */
static void usage(void)
{
    fprintf(stderr, "usage: bench_replies [-v] [--table FILE] [--before FILE] [CORPUS]\n"
                    "  CORPUS          default tests/cases/replies.tsv\n"
                    "  --table FILE    the table read as \"now\" (default: builtin)\n"
                    "  --before FILE   a table read as \"before\" (an older replies.conf)\n"
                    "  -v              every miss of the last column\n");
    exit(2);
}

/* load_table - a rules table, or NULL after printing why */
static mv_rules *load_table(const char *path, const char *what)
{
    mv_diag d;
    mv_rules *r;

    memset(&d, 0, sizeof(d));
    r = mv_rules_load_file(path, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "bench_replies: %s table: %s\n", what, d.items[i].text);
    if (r == NULL && d.count == 0)
        fprintf(stderr, "bench_replies: %s table %s does not load\n", what, path);
    mv_diag_clear(&d);
    return r;
}

/* count - one case's outcome into a tally */
static void count(tally *t, const rc_case *k, const mv_reason *got, const bool *have)
{
    t->total++;
    for (int c = 0; c < COLS; c++) {
        if (!have[c])
            continue;
        if (got[c] == k->expected)
            t->correct[c]++;
        else if (!rc_undeliverable(k->expected) && rc_undeliverable(got[c]))
            t->false_undeliverable[c]++;
    }
}

/* print_header - the column heads */
static void print_header(const char *what, const bool *have)
{
    printf("%-22s %5s", what, "n");
    for (int c = 0; c < COLS; c++)
        if (have[c])
            printf("   %-16s", col_name[c]);
    printf("\n");
}

/* print_row - a tally as "name n  correct pct%  ..." */
static void print_row(const char *name, const tally *t, const bool *have)
{
    printf("%-22s %5u", name, t->total);
    for (int c = 0; c < COLS; c++)
        if (have[c])
            printf("   %5u %6.1f%%   ", t->correct[c], t->total ? 100.0 * t->correct[c] / t->total : 0.0);
    printf("\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"table", required_argument, NULL, 't'},
        {"before", required_argument, NULL, 'b'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *table_path = "builtin", *before_path = NULL, *corpus_path;
    mv_rules *table[COLS] = {NULL, NULL, NULL};
    bool have[COLS] = {true, false, true}, verbose = false;
    family_tally *fam = NULL;
    size_t nfam = 0;
    tally all, by_reason[MV_R_COUNT];
    rc_corpus corpus;
    result *res;
    mv_reason got[COLS] = {MV_R_UNVERIFIED, MV_R_UNVERIFIED, MV_R_UNVERIFIED};
    int opt, last;

    while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': table_path = optarg; break;
        case 'b': before_path = optarg; break;
        case 'v': verbose = true; break;
        default: usage();
        }
    }
    if (argc - optind > 1)
        usage();
    corpus_path = optind < argc ? argv[optind] : "tests/cases/replies.tsv";

    if (rc_load(corpus_path, &corpus) != 0) {
        rc_free(&corpus);
        return 2;
    }
    if ((table[COL_NOW] = load_table(table_path, "now")) == NULL) {
        rc_free(&corpus);
        return 2;
    }
    if (before_path != NULL) {
        /* an old table that no longer loads (its format changed) is history,
         * not bad input: the column is left out */
        if ((table[COL_BEFORE] = load_table(before_path, "before")) != NULL)
            have[COL_BEFORE] = true;
        else
            fprintf(stderr, "bench_replies: the \"before\" column is left out\n");
    }
    last = COL_NOW;

    res = calloc(corpus.n ? corpus.n * COLS : 1, sizeof(*res));
    fam = calloc(corpus.n ? corpus.n : 1, sizeof(*fam));
    if (res == NULL || fam == NULL) {
        fprintf(stderr, "bench_replies: out of memory\n");
        return 2;
    }
    memset(&all, 0, sizeof(all));
    memset(by_reason, 0, sizeof(by_reason));

    for (size_t i = 0; i < corpus.n; i++) {
        const rc_case *k = &corpus.cases[i];
        size_t f;

        for (int c = 0; c < COLS; c++) {
            static mv_reading out;

            if (!have[c])
                continue;
            memset(&out, 0, sizeof(out));
            mv_classify_reply(NULL, table[c], k->host, k->stage, &k->answer, &out);
            got[c] = res[i * COLS + c].got = out.reason;
            snprintf(res[i * COLS + c].rule, sizeof(res[0].rule), "%s",
                     out.rule != NULL     ? out.rule
                     : out.why[0] != '\0' ? out.why
                                          : "-");
        }
        count(&all, k, got, have);
        count(&by_reason[k->expected], k, got, have);
        for (f = 0; f < nfam; f++)
            if (strcmp(fam[f].name, k->family) == 0)
                break;
        if (f == nfam)
            snprintf(fam[nfam++].name, sizeof(fam[0].name), "%s", k->family);
        count(&fam[f].t, k, got, have);
    }

    printf("corpus: %s, %zu replies, %zu families\n", corpus_path, corpus.n, nfam);
    printf("tables: now = %s (%zu rules)", table_path, mv_rules_count(table[COL_NOW]));
    if (have[COL_BEFORE])
        printf(", before = %s (%zu rules)", before_path, mv_rules_count(table[COL_BEFORE]));
    printf("\n\n");

    print_header("", have);
    print_row("all", &all, have);
    printf("%-22s %5s", "false undeliverable", "");
    for (int c = 0; c < COLS; c++)
        if (have[c])
            printf("   %5u %-10s", all.false_undeliverable[c], "");
    printf("\n%s\n\n", all.false_undeliverable[COL_NOW]
                           ? "  (not shippable: \"now\" must have 0 false undeliverables; -v lists them)"
                           : "  (none under \"now\": shippable)");

    print_header("by expected reason", have);
    for (int r = 0; r < MV_R_COUNT; r++)
        if (by_reason[r].total)
            print_row(mv_reason_name((mv_reason)r), &by_reason[r], have);
    printf("\n");

    print_header("by family", have);
    for (size_t f = 0; f < nfam; f++)
        print_row(fam[f].name, &fam[f].t, have);

    if (verbose) {
        printf("\nmisses (%s):\n", col_name[last]);
        for (size_t i = 0; i < corpus.n; i++) {
            const rc_case *k = &corpus.cases[i];
            mv_reason g = res[i * COLS + last].got;

            if (g == k->expected)
                continue;
            printf("%s:%d %s %s -> %s%s [%s] %s\n", corpus_path, k->line, k->family,
                   mv_reason_name(k->expected), mv_reason_name(g),
                   !rc_undeliverable(k->expected) && rc_undeliverable(g) ? " FALSE-UNDELIVERABLE" : "",
                   res[i * COLS + last].rule, k->reply);
        }
    }

    free(res);
    free(fam);
    mv_rules_free(table[COL_BEFORE]);
    mv_rules_free(table[COL_NOW]);
    rc_free(&corpus);
    return 0;
}
