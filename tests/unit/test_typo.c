/* SPDX-License-Identifier: MIT */
/*
 * test_typo.c - "Did you mean ...?": domain typo suggestions.
 *
 * Run on the built-in config, so the real providers.txt and tlds.txt are
 * behind every answer. A wrong suggestion costs more than a missing one
 * (a user who "fixes" a correct address loses mail), so half of this file
 * is domains that must get no suggestion at all.
 */
#include "unit.h"

#include "builtin.h"
#include "config.h"
#include "engine.h"

static mv_config *cfg;
static const mv_typo *typo;

static int setup(void **state)
{
    mv_diag d = {0};

    (void)state;
    cfg = mv_config_load(NULL, 0, &d);
    mv_diag_clear(&d);
    if (cfg == NULL)
        return -1;
    typo = mv_config_typo(cfg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mv_config_unref(cfg);
    return 0;
}

/* suggest - the suggestion for a domain, or "" */
static const char *suggest(const char *domain)
{
    static char out[MV_DOMAIN_MAX + 1];

    memset(out, 0x55, sizeof(out));
    if (!mv_typo_suggest(typo, domain, strlen(domain), out, sizeof(out)))
        return "";
    return out;
}

typedef struct {
    const char *domain;
    const char *want; /* "" for no suggestion */
} sug_case;

/* run_cases - every case; each failure printed, then one fail */
static void run_cases(const sug_case *c, size_t n)
{
    size_t bad = 0;

    for (size_t i = 0; i < n; i++) {
        const char *got = suggest(c[i].domain);

        if (strcmp(got, c[i].want) != 0) {
            print_error("case failed: %s: want \"%s\", got \"%s\"\n", c[i].domain, c[i].want, got);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The suggestions the project promises, and their neighbours. */
static void test_required_suggestions(void **state)
{
    static const sug_case cases[] = {
        {"gmial.com", "gmail.com"},    /* transposition */
        {"hotmial.co", "hotmail.com"}, /* transposition + missing letter */
        {"yahoo.con", "yahoo.com"},
        {"gmail.cm", "gmail.com"}, /* .cm exists, but gmail.cm is a slip */
        {"gamil.com", "gmail.com"},
        {"gmai.com", "gmail.com"},
        {"gmaill.com", "gmail.com"},
        {"gnail.com", "gmail.com"},
        {"gmail.co", "gmail.com"},
        {"gmail.comm", "gmail.com"},
        {"gmail.ocm", "gmail.com"},
        {"yaho.com", "yahoo.com"},
        {"yahooo.com", "yahoo.com"},
        {"hotmal.com", "hotmail.com"},
        {"hotmai.com", "hotmail.com"},
        {"hotmail.cmo", "hotmail.com"},
        {"hotmil.con", "hotmail.com"},
        {"outlok.com", "outlook.com"},
        {"outllok.com", "outlook.com"},
        {"iclod.com", "icloud.com"},
        {"icluod.com", "icloud.com"},
        {"aol.con", "aol.com"}, /* short name: the suffix may be mistyped */
        {"gmx.ed", "gmx.de"},
        {"yahoo.co.k", "yahoo.co.uk"},
        {"hotmail.co.ku", "hotmail.co.uk"},
        {"protonmial.com", "protonmail.com"},
        {"comcast.ent", "comcast.net"},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(*cases));
}

/* Providers themselves, regional ones included, are never "corrected". */
static void test_well_known_untouched(void **state)
{
    static const char *const known[] = {
        "gmail.com", "hotmail.fr", "yahoo.co.uk", "hotmail.co.uk", "gmx.de",
        "gmx.net",   "aol.com",    "mail.com",    "email.com",     "me.com",
        "mac.com",   "live.com",   "live.fr",     "ymail.com",     "googlemail.com",
    };
    mv_blob b = mv_builtin("providers.txt");
    const char *p, *line;
    size_t n, count = 0;
    int lineno = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++) {
        if (!mv_typo_well_known(typo, known[i], strlen(known[i])))
            fail_case("%s: not well known", known[i]);
        if (*suggest(known[i]))
            fail_case("%s: suggested %s", known[i], suggest(known[i]));
    }
    /* every line of providers.txt */
    assert_non_null(b.data);
    for (p = b.data; mv_next_line(&p, b.data + b.len, &line, &n, &lineno); count++) {
        char d[256];

        snprintf(d, sizeof(d), "%.*s", (int)n, line);
        if (!mv_typo_well_known(typo, d, n))
            fail_case("providers.txt:%d: %s not well known", lineno, d);
        if (*suggest(d))
            fail_case("providers.txt:%d: %s: suggested %s", lineno, d, suggest(d));
    }
    assert_int_equal(count, mv_typo_count(typo));
    assert_true(count >= 50);
}

/* Real domains that merely look like a provider get nothing. */
static void test_no_false_suggestions(void **state)
{
    static const sug_case cases[] = {
        /* one edit from a 1-3 letter provider name: different companies */
        {"aon.com", ""},
        {"all.com", ""},
        {"aok.com", ""},
        {"ao.com", ""},
        {"gmz.com", ""},
        {"gm.com", ""},
        {"qqq.com", ""},
        {"q.com", ""},
        {"mc.com", ""},
        {"ma.com", ""},
        /* unrelated real domains */
        {"example.com", ""},
        {"mozilla.org", ""},
        {"debian.org", ""},
        {"xn--bcher-kva.de", ""},
        {"google.com", ""},
        {"apple.com", ""},
        {"github.com", ""},
        {"wikipedia.org", ""},
        {"yandex.com", ""},
        {"gmail.example", ""},
        {"acme.com", ""},
        {"ibm.com", ""},
        {"univ-lyon1.fr", ""},
        {"mail.example.org", ""},
        {"example.co.uk", ""},
        /* real TLDs are never "fixed" */
        {"acme.cm", ""},
        {"acme.co", ""},
        {"acme.om", ""},
        {"acme.ne", ""},
        {"acme.cam", ""},
        {"acme.ong", ""},
        {"acme.new", ""},
        {"acme.eu", ""},
        {"acme.io", ""},
        {"acme.xyz", ""},
        /* too far from anything */
        {"acme.zzzz", ""},
        {"qwertyuiop.asdf", ""},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(*cases));
}

/* A TLD that does not exist, one edit from a common one, is fixed alone. */
static void test_tld_fix(void **state)
{
    static const sug_case cases[] = {
        {"acme.cmo", "acme.com"},  {"acme.ogr", "acme.org"},  {"acme.con", "acme.com"},
        {"acme.cpm", "acme.com"},  {"acme.comm", "acme.com"}, {"acme.nte", "acme.net"},
        {"acme.nett", "acme.net"}, {"acme.orgg", "acme.org"}, {"acme.eud", "acme.edu"},
        {"acme.or", "acme.org"},   {"acme.ed", "acme.edu"},   {"mail.acme.cmo", "mail.acme.com"},
        {"acme.co.ukk", ""},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(*cases));
}

/* A domain typed without its dot. */
static void test_dotless(void **state)
{
    static const sug_case cases[] = {
        {"gmail", "gmail.com"},
        {"gmailcom", "gmail.com"},
        {"yahoo", "yahoo.com"},
        {"hotmail", "hotmail.com"},
        {"hotmailcom", "hotmail.com"},
        {"outlookcom", "outlook.com"},
        {"gmxde", "gmx.de"},
        {"localhost", ""},
        {"acme", ""},
        {"gmai", ""},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(*cases));
}

/* The output buffer's size is respected; the empty domain gets nothing. */
static void test_outsize(void **state)
{
    char out[16];

    (void)state;
    assert_false(mv_typo_suggest(typo, "", 0, out, sizeof(out)));
    assert_true(mv_typo_suggest(typo, "gmial.com", 9, out, 10));
    assert_string_equal(out, "gmail.com");
    memset(out, 'X', sizeof(out));
    assert_false(mv_typo_suggest(typo, "gmial.com", 9, out, 9));
    assert_false(mv_typo_suggest(typo, "acme.cmo", 8, out, 8));
    assert_true(mv_typo_suggest(typo, "acme.cmo", 8, out, 9));
    assert_string_equal(out, "acme.com");
}

/* Optimal string alignment distance, capped at max + 1. */
static void test_distance(void **state)
{
    static const struct {
        const char *a, *b;
        unsigned max, want;
    } cases[] = {
        {"gmail", "gmail", 2, 0},
        {"gmail", "gmial", 2, 1}, /* transposition = 1 */
        {"gmail", "gamil", 2, 1},
        {"gmail", "gmai", 2, 1},   /* deletion */
        {"gmail", "gmaill", 2, 1}, /* insertion */
        {"gmail", "gnail", 2, 1},  /* substitution */
        {"hotmail", "hotmial", 2, 1},
        {"hotmail", "htomial", 2, 2},
        {"kitten", "sitting", 3, 3},
        {"ca", "abc", 3, 3}, /* OSA: no edit of a transposed pair */
        {"abc", "cba", 3, 2},
        {"", "", 2, 0},
        {"", "abc", 3, 3},
        {"abc", "", 3, 3},
        {"abcdef", "ghijkl", 2, 3}, /* capped at max + 1 */
        {"a", "abcd", 2, 3},        /* length alone exceeds max */
        {"gmail", "gmial", 0, 1},
        {"com", "cmo", 1, 1},
        {"com", "ocm", 1, 1},
        {"org", "ogr", 1, 1},
        {"com", "net", 1, 2},
    };
    char l1[100], l2[100];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        unsigned d =
            mv_typo_distance(cases[i].a, strlen(cases[i].a), cases[i].b, strlen(cases[i].b), cases[i].max);
        unsigned r =
            mv_typo_distance(cases[i].b, strlen(cases[i].b), cases[i].a, strlen(cases[i].a), cases[i].max);

        if (d != cases[i].want || r != cases[i].want)
            fail_case("%s/%s max %u: want %u, got %u and %u (reversed)", cases[i].a, cases[i].b, cases[i].max,
                      cases[i].want, d, r);
    }
    /* strings longer than the 63-byte table: exact match or max + 1 */
    memset(l1, 'a', sizeof(l1));
    memset(l2, 'a', sizeof(l2));
    l2[50] = 'b';
    assert_int_equal(mv_typo_distance(l1, 80, l1, 80, 2), 0);
    assert_int_equal(mv_typo_distance(l1, 63, l2, 63, 2), 1);
    assert_int_equal(mv_typo_distance(l1, 80, l2, 80, 2), 3);
}

/* Loaders: bad lines warned with their line; duplicates keep first place. */
static void test_loaders(void **state)
{
    static const char prov[] = "# p\nbeta.example\nNotLower.example\nalpha.example\nbeta.example\nnodot\n";
    static const char tlds[] = "com\nexample\nco.uk\n";
    mv_typo *t = mv_typo_new();
    mv_diag d = {0};
    char out[64];

    (void)state;
    assert_non_null(t);
    assert_int_equal(mv_typo_load_providers(t, prov, sizeof(prov) - 1, "p.txt", &d), 0);
    assert_int_equal(mv_typo_load_tlds(t, tlds, sizeof(tlds) - 1, "t.txt", &d), 0);
    assert_int_equal(mv_typo_count(t), 2);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 3);
    assert_non_null(strstr(d.items[0].text, "p.txt:3: "));
    assert_non_null(strstr(d.items[1].text, "p.txt:6: "));
    assert_non_null(strstr(d.items[2].text, "t.txt:3: "));
    assert_true(mv_typo_well_known(t, "alpha.example", 13));
    assert_false(mv_typo_well_known(t, "notlower.example", 16));
    /* both are one edit away: the one listed first wins */
    assert_true(mv_typo_suggest(t, "alpho.example", 13, out, sizeof(out)));
    assert_string_equal(out, "alpha.example");
    assert_true(mv_typo_suggest(t, "betaa.example", 13, out, sizeof(out)));
    assert_string_equal(out, "beta.example");
    mv_diag_clear(&d);
    mv_typo_free(t);
    mv_typo_free(NULL);
}

/* Through the engine: local part kept, suggestion per the config switch. */
static void test_engine_suggestion(void **state)
{
    static const struct {
        const char *addr, *want;
    } cases[] = {
        {"Jane.Doe@Gmial.com", "Jane.Doe@gmail.com"},
        {"jane@gmail", "jane@gmail.com"},
        {"jane@gmailcom", "jane@gmail.com"},
        {"jane@gmail.com", NULL},
        {"jane@[1.2.3.4]", NULL},
        {"jane@acme.cmo", "jane@acme.com"},
        {"\"j d\"@hotmial.co", "\"j d\"@hotmail.com"},
    };
    mv_engine *e = mv_engine_new(cfg);
    mv_diag d = {0};
    mv_config *off;
    mv_verdict v;

    (void)state;
    assert_non_null(e);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        mv_request req = {
            .address = cases[i].addr,
            .len = strlen(cases[i].addr),
            .context = MV_CTX_FORM,
            .mode = MV_MODE_OFFLINE,
        };

        assert_int_equal(mv_engine_check(e, &req, &v), MV_OK);
        if (v.has_suggestion != (cases[i].want != NULL) ||
            (cases[i].want && strcmp(v.suggestion, cases[i].want) != 0))
            fail_case("%s: want %s, got %s", cases[i].addr, cases[i].want ? cases[i].want : "none",
                      v.has_suggestion ? v.suggestion : "none");
    }
    mv_engine_free(e);

    /* typo.enabled = false: no suggestion */
    off = mv_config_load_text("typo = { enabled = false; };", 28, "off", NULL, 0, &d);
    assert_non_null(off);
    e = mv_engine_new(off);
    mv_config_unref(off);
    {
        mv_request req = {
            .address = "jane@gmial.com",
            .len = 14,
            .context = MV_CTX_FORM,
            .mode = MV_MODE_OFFLINE,
        };

        assert_int_equal(mv_engine_check(e, &req, &v), MV_OK);
        assert_false(v.has_suggestion);
        assert_int_equal(v.action, MV_ACT_ACCEPT);
    }
    mv_engine_free(e);
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_suggestions),
        cmocka_unit_test(test_well_known_untouched),
        cmocka_unit_test(test_no_false_suggestions),
        cmocka_unit_test(test_tld_fix),
        cmocka_unit_test(test_dotless),
        cmocka_unit_test(test_outsize),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_loaders),
        cmocka_unit_test(test_engine_suggestion),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
