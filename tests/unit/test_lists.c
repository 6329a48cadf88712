/* SPDX-License-Identifier: MIT */
/*
 * test_lists.c - the string set and the signal lists.
 *
 * What a user of the lists relies on: an exact disposable entry marks that
 * domain only, a wildcard entry its subdomains too; the allow list wins
 * over disposable and free lists, subdomains included; role local parts
 * match whatever the case and "+tag"; list entries are normalized like
 * addresses (a U-label entry matches the A-label domain of mail); bad
 * lines are warned about with their line number and skipped. And the
 * built-in lists hold what etc/lists/README says they hold.
 */
#include "unit.h"

#include "builtin.h"
#include "config.h"
#include "lists.h"
#include "strset.h"

#include <unistd.h>

/* -- strset ----------------------------------------------------------------- */

static void test_strset_basic(void **state)
{
    mv_strset *s = mv_strset_new(4);

    (void)state;
    assert_non_null(s);
    assert_int_equal(mv_strset_count(s), 0);
    assert_false(mv_strset_has(s, "a", 1));
    assert_int_equal(mv_strset_add(s, "example.com", 11), 1);
    assert_int_equal(mv_strset_add(s, "example.com", 11), 0); /* duplicate */
    assert_int_equal(mv_strset_add(s, "example.co", 10), 1);  /* a prefix is another key */
    assert_int_equal(mv_strset_add(s, "", 0), 1);             /* the empty key */
    assert_int_equal(mv_strset_add(s, "a\0b", 3), 1);         /* bytes, not C strings */
    assert_int_equal(mv_strset_count(s), 4);
    assert_true(mv_strset_has(s, "example.com", 11));
    assert_true(mv_strset_has(s, "example.co", 10));
    assert_true(mv_strset_has(s, "", 0));
    assert_true(mv_strset_has(s, "a\0b", 3));
    assert_false(mv_strset_has(s, "a", 1));
    assert_false(mv_strset_has(s, "example.c", 9));
    assert_false(mv_strset_has(s, "Example.com", 11)); /* case matters */
    assert_false(mv_strset_has(s, "example.comm", 12));
    assert_true(mv_strset_bytes(s) > 0);
    assert_false(mv_strset_has(NULL, "x", 1));
    assert_int_equal(mv_strset_count(NULL), 0);
    mv_strset_free(s);
    mv_strset_free(NULL);
}

/* Keys up to 255 bytes (a domain name) fit; 256 is refused, not cut. */
static void test_strset_key_length(void **state)
{
    char key[300];
    mv_strset *s = mv_strset_new(0);

    (void)state;
    assert_non_null(s);
    memset(key, 'k', sizeof(key));
    assert_int_equal(mv_strset_add(s, key, 255), 1);
    assert_int_equal(mv_strset_add(s, key, 255), 0);
    assert_true(mv_strset_has(s, key, 255));
    assert_int_equal(mv_strset_add(s, key, 256), -2);
    assert_false(mv_strset_has(s, key, 256));
    assert_int_equal(mv_strset_add(s, key, 254), 1);
    key[254] = 'j';
    assert_false(mv_strset_has(s, key, 255)); /* last byte counts */
    assert_int_equal(mv_strset_count(s), 2);
    mv_strset_free(s);
}

/* Growth from a small start to 200k keys keeps every key, and no stranger. */
static void test_strset_growth(void **state)
{
    enum { N = 200000 };
    mv_strset *s = mv_strset_new(1);
    char k[64];

    (void)state;
    assert_non_null(s);
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "d%d.example", i);

        if (mv_strset_add(s, k, (size_t)n) != 1)
            fail_case("add %s", k);
    }
    assert_int_equal(mv_strset_count(s), N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "d%d.example", i);

        if (!mv_strset_has(s, k, (size_t)n))
            fail_case("lost %s", k);
        n = snprintf(k, sizeof(k), "e%d.example", i);
        if (mv_strset_has(s, k, (size_t)n))
            fail_case("stranger %s", k);
    }
    for (int i = 0; i < N; i += 997) {
        int n = snprintf(k, sizeof(k), "d%d.example", i);

        assert_int_equal(mv_strset_add(s, k, (size_t)n), 0);
    }
    assert_int_equal(mv_strset_count(s), N);
    mv_strset_free(s);
}

/* mv_strset_hash: deterministic, sensitive to every byte and the length. */
static void test_hash(void **state)
{
    static const char a[] = "abcdefghijklmnopq";

    (void)state;
    assert_true(mv_strset_hash(a, 17) == mv_strset_hash(a, 17));
    assert_true(mv_strset_hash(a, 16) != mv_strset_hash(a, 17));
    assert_true(mv_strset_hash("", 0) != mv_strset_hash("\0", 1));
    assert_true(mv_strset_hash("abcdefgh", 8) != mv_strset_hash("abcdefgi", 8));
    assert_true(mv_strset_hash("abcdefghi", 9) != mv_strset_hash("abcdefghj", 9));
}

/* -- lists ------------------------------------------------------------------------ */

typedef struct {
    mv_list_kind kind;
    const char *text;
} list_src;

/* make_lists - lists from text, with no diagnostics expected */
static mv_lists *make_lists(const list_src *src, size_t n)
{
    mv_lists *l = mv_lists_new();
    mv_diag d = {0};

    assert_non_null(l);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mv_lists_load_text(l, src[i].kind, src[i].text, strlen(src[i].text), "test", &d), 0);
    if (d.count != 0) {
        for (size_t i = 0; i < d.count; i++)
            print_error("%s\n", d.items[i].text);
        fail_msg("unexpected diagnostics");
    }
    mv_diag_clear(&d);
    return l;
}

typedef struct {
    const char *what; /* domain or local part */
    bool disposable, free, role;
} sig_case;

static void check_signals(const mv_lists *l, const sig_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(c[i].what);
        bool dis = mv_lists_disposable(l, c[i].what, len);
        bool fr = mv_lists_free_provider(l, c[i].what, len);
        bool ro = mv_lists_role(l, c[i].what, len);

        if (dis != c[i].disposable || fr != c[i].free || ro != c[i].role)
            fail_case("%s: disposable %d/%d free %d/%d role %d/%d (got/want)", c[i].what, dis,
                      c[i].disposable, fr, c[i].free, ro, c[i].role);
    }
}

/* Exact entries mark the domain only; wildcard entries subdomains too. */
static void test_disposable_exact_vs_wildcard(void **state)
{
    static const list_src src[] = {
        {MV_LIST_DISPOSABLE, "trash.example\n"},
        {MV_LIST_DISPOSABLE_WILDCARD, "burner.example\n*.star.example\n"},
    };
    static const sig_case cases[] = {
        {"trash.example", true, false, false},
        {"mx.trash.example", false, false, false}, /* exact: no subdomains */
        {"xtrash.example", false, false, false},
        {"example", false, false, false},
        {"burner.example", true, false, false},
        {"a.burner.example", true, false, false},
        {"a.b.c.burner.example", true, false, false},
        {"notburner.example", false, false, false}, /* label boundary */
        {"burner.example.com", false, false, false},
        {"star.example", true, false, false}, /* "*." entry, same meaning */
        {"x.star.example", true, false, false},
    };
    mv_lists *l = make_lists(src, 2);

    (void)state;
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    assert_int_equal(mv_lists_count(l, MV_LIST_DISPOSABLE), 1);
    assert_int_equal(mv_lists_count(l, MV_LIST_DISPOSABLE_WILDCARD), 2);
    mv_lists_free(l);
}

/* The allow list wins over disposable and free, for subdomains too. */
static void test_allow_overrides(void **state)
{
    static const list_src src[] = {
        {MV_LIST_DISPOSABLE, "company.example\nsub.realco.example\nother.example\n"},
        {MV_LIST_DISPOSABLE_WILDCARD, "realco.example\n"},
        {MV_LIST_FREE, "company.example\nmail.realco.example\nfreemail.example\n"},
        {MV_LIST_ALLOW, "company.example\nrealco.example\n"},
    };
    static const sig_case cases[] = {
        {"company.example", false, false, false},     {"realco.example", false, false, false},
        {"a.realco.example", false, false, false},    /* wildcard, but allowed */
        {"sub.realco.example", false, false, false},  /* exact, allowed parent */
        {"mail.realco.example", false, false, false}, /* free, allowed parent */
        {"other.example", true, false, false},        {"freemail.example", false, true, false},
        {"xcompany.example", false, false, false},
    };
    mv_lists *l = make_lists(src, 4);

    (void)state;
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    mv_lists_free(l);
}

/* Free providers: exact domains. */
static void test_free_exact(void **state)
{
    static const list_src src[] = {{MV_LIST_FREE, "freemail.example\n"}};
    static const sig_case cases[] = {
        {"freemail.example", false, true, false},
        {"eu.freemail.example", false, false, false},
        {"freemail.example.org", false, false, false},
    };
    mv_lists *l = make_lists(src, 1);

    (void)state;
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    mv_lists_free(l);
}

/* Roles: case and "+tag" ignored; the entry is one local part, not a prefix. */
static void test_role_matching(void **state)
{
    static const list_src src[] = {{MV_LIST_ROLE, "postmaster\nInfo\nno-reply\nsales.team\n"}};
    static const sig_case cases[] = {
        {"postmaster", false, false, true},   {"PostMaster", false, false, true},
        {"info", false, false, true}, /* entry "Info" folded too */
        {"INFO", false, false, true},         {"info+newsletter", false, false, true},
        {"Info+", false, false, true},        {"no-reply", false, false, true},
        {"sales.team", false, false, true},   {"sales", false, false, false},
        {"information", false, false, false}, {"inf", false, false, false},
        {"xinfo", false, false, false},       {"+info", false, false, false},
        {"info.desk", false, false, false},   {"", false, false, false},
    };
    mv_lists *l = make_lists(src, 1);

    (void)state;
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    assert_int_equal(mv_lists_count(l, MV_LIST_ROLE), 4);
    mv_lists_free(l);
}

/* Entries are normalized as mail is: case, U-labels to A-labels. */
static void test_idn_entries(void **state)
{
    static const list_src src[] = {
        {MV_LIST_DISPOSABLE, "B\xC3\xBC"
                             "cher.example\nTRASH.Example\n"},
        {MV_LIST_DISPOSABLE_WILDCARD, "m\xC3\xBCll.example\n"},
        {MV_LIST_FREE, "xn--mnchen-3ya.example\n"},
        {MV_LIST_ALLOW, "\xC3\xA9t\xC3\xA9.example\n"},
        {MV_LIST_DISPOSABLE, "sub.xn--t-9fab.example\n"},
    };
    static const sig_case cases[] = {
        {"xn--bcher-kva.example", true, false, false},
        {"trash.example", true, false, false},
        {"xn--mll-hoa.example", true, false, false},
        {"a.xn--mll-hoa.example", true, false, false},
        {"xn--mnchen-3ya.example", false, true, false},
        {"sub.xn--t-9fab.example", false, false, false}, /* allowed via its U-label parent */
    };
    mv_lists *l = make_lists(src, 5);

    (void)state;
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    /* the U-label form is not what lookups get, and is not stored */
    assert_false(mv_lists_disposable(l,
                                     "b\xC3\xBC"
                                     "cher.example",
                                     14));
    mv_lists_free(l);
}

/* Comments, blank lines, white space and CRLF line ends. */
static void test_list_text_format(void **state)
{
    static const char text[] = "# header comment\r\n"
                               "\r\n"
                               "   \t\r\n"
                               "one.example\r\n"
                               "  two.example  # trailing comment\r\n"
                               "\tthree.example\t\n"
                               "#four.example\n"
                               "five.example"; /* no final newline */
    mv_lists *l = mv_lists_new();
    mv_diag d = {0};

    (void)state;
    assert_non_null(l);
    assert_int_equal(mv_lists_load_text(l, MV_LIST_DISPOSABLE, text, sizeof(text) - 1, "f", &d), 0);
    assert_int_equal(d.count, 0);
    assert_int_equal(mv_lists_count(l, MV_LIST_DISPOSABLE), 4);
    assert_true(mv_lists_disposable(l, "one.example", 11));
    assert_true(mv_lists_disposable(l, "two.example", 11));
    assert_true(mv_lists_disposable(l, "three.example", 13));
    assert_false(mv_lists_disposable(l, "four.example", 12));
    assert_true(mv_lists_disposable(l, "five.example", 12));
    /* empty text is an empty list */
    assert_int_equal(mv_lists_load_text(l, MV_LIST_FREE, "", 0, "f", &d), 0);
    assert_int_equal(mv_lists_count(l, MV_LIST_FREE), 0);
    mv_lists_free(l);
    mv_diag_clear(&d);
}

/* mv_next_line: line numbers count every physical line. */
static void test_next_line(void **state)
{
    static const char text[] = "a\n\n# c\n  b  \r\nc # x\n#\n";
    static const struct {
        const char *line;
        int lineno;
    } want[] = {{"a", 1}, {"b", 4}, {"c", 5}};
    const char *p = text, *line;
    size_t n, k = 0;
    int lineno = 0;

    (void)state;
    while (mv_next_line(&p, text + sizeof(text) - 1, &line, &n, &lineno)) {
        assert_true(k < 3);
        if (n != strlen(want[k].line) || memcmp(line, want[k].line, n) != 0 || lineno != want[k].lineno)
            fail_case("line %zu: got \"%.*s\" at %d", k, (int)n, line, lineno);
        k++;
    }
    assert_int_equal(k, 3);
    assert_int_equal(lineno, 6);
}

/* Invalid lines: a warning each, with the line number; the rest loads. */
static void test_invalid_lines_warned(void **state)
{
    static const struct {
        mv_list_kind kind;
        const char *text;
        int lines[4]; /* warned lines, 0-terminated */
        size_t kept;
    } cases[] = {
        {MV_LIST_DISPOSABLE,
         "ok.example\nnot a domain\n# c\n-bad.example\nx@y.example\nfine.example\n",
         {2, 4, 5},
         2},
        {MV_LIST_FREE, "a..b.example\nlocalhost\n[1.2.3.4]\nok.example\n", {1, 2, 3}, 1},
        {MV_LIST_ALLOW, "\xFF.example\nok.example\n", {1}, 1},
        {MV_LIST_ROLE, "info\nsales team\n\nwho@\n\"quoted\"\nadmin\n", {2, 4, 5}, 2},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        mv_lists *l = mv_lists_new();
        mv_diag d = {0};
        size_t nw = 0;

        assert_non_null(l);
        assert_int_equal(
            mv_lists_load_text(l, cases[i].kind, cases[i].text, strlen(cases[i].text), "my-list.txt", &d), 0);
        for (; nw < 4 && cases[i].lines[nw]; nw++) {
            char prefix[64];
            bool found = false;

            snprintf(prefix, sizeof(prefix), "my-list.txt:%d: not a valid", cases[i].lines[nw]);
            for (size_t j = 0; j < d.count; j++)
                found |= d.items[j].level == MV_DIAG_WARNING &&
                         strncmp(d.items[j].text, prefix, strlen(prefix)) == 0;
            if (!found) {
                for (size_t j = 0; j < d.count; j++)
                    print_error("  %s\n", d.items[j].text);
                fail_case("case %zu: no warning \"%s\"", i, prefix);
            }
        }
        if (d.errors != 0 || d.warnings != nw || mv_lists_count(l, cases[i].kind) != cases[i].kept)
            fail_case("case %zu: %zu errors, %zu warnings (want %zu), %zu kept (want %zu)", i, d.errors,
                      d.warnings, nw, mv_lists_count(l, cases[i].kind), cases[i].kept);
        mv_diag_clear(&d);
        mv_lists_free(l);
    }
}

/* mv_lists_add: the return values callers rely on. */
static void test_lists_add(void **state)
{
    mv_lists *l = mv_lists_new();
    char longlocal[80];

    (void)state;
    assert_non_null(l);
    assert_int_equal(mv_lists_add(l, MV_LIST_DISPOSABLE, "a.example", 9), 0);
    assert_int_equal(mv_lists_add(l, MV_LIST_DISPOSABLE, "A.EXAMPLE", 9), 0); /* same entry */
    assert_int_equal(mv_lists_count(l, MV_LIST_DISPOSABLE), 1);
    assert_int_equal(mv_lists_add(l, MV_LIST_DISPOSABLE, "a b", 3), -2);
    assert_int_equal(mv_lists_add(l, MV_LIST_DISPOSABLE, "", 0), -2);
    assert_int_equal(mv_lists_add(l, MV_LIST_ALLOW, "[10.0.0.1]", 10), -2);
    memset(longlocal, 'r', sizeof(longlocal));
    assert_int_equal(mv_lists_add(l, MV_LIST_ROLE, longlocal, 64), 0);
    assert_int_equal(mv_lists_add(l, MV_LIST_ROLE, longlocal, 65), -2);
    assert_true(mv_lists_role(l, longlocal, 64));
    assert_true(mv_lists_bytes(l) > 0);
    mv_lists_free(l);
    mv_lists_free(NULL);
}

/* A list file: read whole; a missing one is an error naming the path. */
static void test_lists_load_file(void **state)
{
    char dir[] = "/tmp/mv-lists-XXXXXX", path[64];
    mv_lists *l = mv_lists_new();
    mv_diag d = {0};
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/role.txt", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("# roles\nboss\nbad entry\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mv_lists_load_file(l, MV_LIST_ROLE, path, &d), 0);
    assert_true(mv_lists_role(l, "BOSS", 4));
    assert_int_equal(d.warnings, 1);
    assert_int_equal(d.errors, 0);
    unlink(path);
    assert_int_equal(mv_lists_load_file(l, MV_LIST_ROLE, path, &d), -1);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[d.count - 1].text, path));
    assert_non_null(strstr(d.items[d.count - 1].text, "No such file"));
    assert_int_equal(rmdir(dir), 0);
    mv_diag_clear(&d);
    mv_lists_free(l);
}

/* -- the built-in lists ----------------------------------------------------------- */

static void test_builtin_lists(void **state)
{
    static const struct {
        mv_list_kind kind;
        const char *file;
        size_t readme; /* entries, as etc/lists/README says */
    } want[] = {
        {MV_LIST_DISPOSABLE, "disposable.txt", 121551},
        {MV_LIST_DISPOSABLE_WILDCARD, "disposable-wildcards.txt", 399},
        {MV_LIST_FREE, "free.txt", 14124},
        {MV_LIST_ROLE, "role.txt", 1001},
    };
    static const char *const not_roles[] = {"123", "2015", "2020", "2030"};
    static const sig_case cases[] = {
        {"mailinator.com", true, true, false}, {"gmail.com", false, true, false},
        {"example.com", false, false, false},  {"postmaster", false, false, true},
        {"info", false, false, true},          {"jane.doe", false, false, false},
    };
    mv_diag d = {0};
    mv_config *cfg = mv_config_load(NULL, 0, &d);
    const mv_lists *l;

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(d.count, 0);
    l = mv_config_lists(cfg);
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        mv_blob b = mv_builtin(want[i].file);

        assert_non_null(b.data);
        if (mv_lists_count(l, want[i].kind) != want[i].readme)
            fail_case("%s: %zu entries, README says %zu", want[i].file, mv_lists_count(l, want[i].kind),
                      want[i].readme);
    }
    assert_int_equal(mv_lists_count(l, MV_LIST_ALLOW), 0);
    for (size_t i = 0; i < sizeof(not_roles) / sizeof(*not_roles); i++)
        if (mv_lists_role(l, not_roles[i], strlen(not_roles[i])))
            fail_case("\"%s\" is a role", not_roles[i]);
    /* no built-in role entry is all digits */
    {
        mv_blob b = mv_builtin("role.txt");
        const char *p = b.data, *line;
        size_t n;
        int lineno = 0;

        while (mv_next_line(&p, b.data + b.len, &line, &n, &lineno)) {
            size_t k = 0;

            while (k < n && line[k] >= '0' && line[k] <= '9')
                k++;
            if (k == n)
                fail_case("role.txt:%d: all digits: %.*s", lineno, (int)n, line);
        }
    }
    check_signals(l, cases, sizeof(cases) / sizeof(*cases));
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strset_basic),
        cmocka_unit_test(test_strset_key_length),
        cmocka_unit_test(test_strset_growth),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_disposable_exact_vs_wildcard),
        cmocka_unit_test(test_allow_overrides),
        cmocka_unit_test(test_free_exact),
        cmocka_unit_test(test_role_matching),
        cmocka_unit_test(test_idn_entries),
        cmocka_unit_test(test_list_text_format),
        cmocka_unit_test(test_next_line),
        cmocka_unit_test(test_invalid_lines_warned),
        cmocka_unit_test(test_lists_add),
        cmocka_unit_test(test_lists_load_file),
        cmocka_unit_test(test_builtin_lists),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
