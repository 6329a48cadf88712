/* SPDX-License-Identifier: MIT */
/*
 * test_address.c - the address parser against the golden table.
 *
 * The table (tests/cases/addresses.tsv, or $MV_CASES) holds one case per
 * line: input, flags, expected result, and the rule it comes from; its
 * header comment describes the format. Every failing case is printed with
 * its line number before the test fails, so one run shows them all.
 * A few direct tests cover what a table cannot: the identifier table,
 * formatting the null path, and input far over any limit.
 */
#include "unit.h"
#include "address.h"

#include <time.h>

#define MIN_CASES 300
#define LINE_MAX_LEN 8192

/* One parsed table line. */
typedef struct {
    int line;
    char input[LINE_MAX_LEN];
    size_t input_len;
    int flags;
    char expected[LINE_MAX_LEN]; /* the field as written */
    bool expect_ok;
    char expect_addr[LINE_MAX_LEN]; /* ok: normalized address */
    bool smtputf8, literal, idn, quoted;
    char expect_err[64]; /* err: identifier */
    long expect_pos;     /* err: offset, or -1 */
} tcase;

/* hexval - value of one hex digit, or -1 */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* unescape - C-like escapes (\t \r \n \\ \xNN) into out; false if bad */
static bool unescape(const char *s, char *out, size_t *len)
{
    size_t n = 0;

    while (*s) {
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        switch (s[1]) {
        case 't':
            out[n++] = '\t';
            s += 2;
            break;
        case 'r':
            out[n++] = '\r';
            s += 2;
            break;
        case 'n':
            out[n++] = '\n';
            s += 2;
            break;
        case '\\':
            out[n++] = '\\';
            s += 2;
            break;
        case 'x':
            if (hexval(s[2]) < 0 || hexval(s[3]) < 0)
                return false;
            out[n++] = (char)(hexval(s[2]) * 16 + hexval(s[3]));
            s += 4;
            break;
        default: return false;
        }
    }
    *len = n;
    return true;
}

/* strip_marker - remove ",name" from the end of s; true if it was there */
static bool strip_marker(char *s, const char *name)
{
    size_t n = strlen(s), m = strlen(name);

    if (n < m + 1 || s[n - m - 1] != ',' || strcmp(s + n - m, name) != 0)
        return false;
    s[n - m - 1] = '\0';
    return true;
}

/* parse_expected - "ok:addr[,marker...]" (escaped) or "err:name[@pos]" */
static bool parse_expected(const char *e, tcase *c)
{
    c->expect_pos = -1;
    if (strncmp(e, "ok:", 3) == 0) {
        bool more = true;
        size_t n;

        c->expect_ok = true;
        if (!unescape(e + 3, c->expect_addr, &n))
            return false;
        c->expect_addr[n] = '\0';
        /* a domain never holds ",", so markers at the end are unambiguous */
        while (more) {
            more = false;
            if (strip_marker(c->expect_addr, "smtputf8"))
                more = c->smtputf8 = true;
            if (strip_marker(c->expect_addr, "literal"))
                more = c->literal = true;
            if (strip_marker(c->expect_addr, "idn"))
                more = c->idn = true;
            if (strip_marker(c->expect_addr, "quoted"))
                more = c->quoted = true;
        }
        return c->expect_addr[0] != '\0';
    }
    if (strncmp(e, "err:", 4) == 0) {
        const char *at = strchr(e + 4, '@');
        size_t n = at ? (size_t)(at - (e + 4)) : strlen(e + 4);
        char *endp;

        if (n == 0 || n >= sizeof(c->expect_err))
            return false;
        memcpy(c->expect_err, e + 4, n);
        c->expect_err[n] = '\0';
        if (mv_syntax_lookup(c->expect_err) <= 0)
            return false;
        if (at) {
            c->expect_pos = strtol(at + 1, &endp, 10);
            if (at[1] == '\0' || *endp != '\0' || c->expect_pos < 0)
                return false;
        }
        return true;
    }
    return false;
}

/* parse_line - split one table line into a case; false if malformed */
static bool parse_line(char *line, tcase *c)
{
    char *field[4];
    int nf = 0;

    for (char *p = line; nf < 4; nf++) {
        field[nf] = p;
        p = strchr(p, '\t');
        if (p == NULL) {
            nf++;
            break;
        }
        *p++ = '\0';
    }
    if (nf != 4 || strchr(field[3], '\t') || field[3][0] == '\0')
        return false;
    if (!unescape(field[0], c->input, &c->input_len))
        return false;
    if (strcmp(field[1], "-") == 0)
        c->flags = 0;
    else if (strcmp(field[1], "null") == 0)
        c->flags = MV_PARSE_ALLOW_NULL;
    else
        return false;
    snprintf(c->expected, sizeof(c->expected), "%s", field[2]);
    return parse_expected(field[2], c);
}

/* describe - the actual result the way the table would write it */
static void describe(mv_syntax_error e, const mv_address *a, char *buf, size_t size)
{
    char addr[MV_PATH_MAX + 8];

    if (e != MV_SYN_OK) {
        snprintf(buf, size, "err:%s@%zu", mv_syntax_name(e), a->error_pos);
        return;
    }
    if (mv_address_format(a, addr, sizeof(addr)) == 0)
        snprintf(addr, sizeof(addr), "(format failed)");
    snprintf(buf, size, "ok:%s%s%s%s%s", addr, a->smtputf8 ? ",smtputf8" : "", a->literal ? ",literal" : "",
             a->idn ? ",idn" : "", a->quoted ? ",quoted" : "");
}

/* run_parse - parse from an exact-size heap copy, so ASan sees over-reads */
static mv_syntax_error run_parse(const char *in, size_t len, int flags, mv_address *a)
{
    char *copy = malloc(len ? len : 1);
    mv_syntax_error e;

    assert_non_null(copy);
    memcpy(copy, in, len);
    e = mv_address_parse(copy, len, flags, a);
    free(copy);
    return e;
}

/* matches - does the result agree with the case? */
static bool matches(const tcase *c, mv_syntax_error e, const mv_address *a)
{
    char addr[MV_PATH_MAX + 8];

    if (e != a->error)
        return false;
    if (!c->expect_ok)
        return e != MV_SYN_OK && strcmp(mv_syntax_name(e), c->expect_err) == 0 &&
               (c->expect_pos < 0 || (size_t)c->expect_pos == a->error_pos);
    if (e != MV_SYN_OK || mv_address_format(a, addr, sizeof(addr)) == 0)
        return false;
    return strcmp(addr, c->expect_addr) == 0 && a->smtputf8 == c->smtputf8 && a->literal == c->literal &&
           a->idn == c->idn && a->quoted == c->quoted && strlen(a->local) == a->local_len &&
           strlen(a->domain) == a->domain_len;
}

/* idempotent - a normalized address parses to itself, with the same flags */
static bool idempotent(const tcase *c, const mv_address *a)
{
    char addr[MV_PATH_MAX + 8], again[MV_PATH_MAX + 8];
    size_t n = mv_address_format(a, addr, sizeof(addr));
    mv_address b;

    if (run_parse(addr, n, c->flags, &b) != MV_SYN_OK || mv_address_format(&b, again, sizeof(again)) == 0)
        return false;
    return strcmp(addr, again) == 0 && a->smtputf8 == b.smtputf8 && a->literal == b.literal &&
           a->idn == b.idn && a->quoted == b.quoted && a->kind == b.kind;
}

/* cases_path - $MV_CASES, or the table relative to the project root */
static const char *cases_path(void)
{
    const char *p = getenv("MV_CASES");

    return p && *p ? p : "tests/cases/addresses.tsv";
}

/* check_case - run one case; print it and return false when it fails */
static bool check_case(const char *path, const tcase *c)
{
    char got[MV_PATH_MAX + 128];
    mv_address a;
    mv_syntax_error e = run_parse(c->input, c->input_len, c->flags, &a);

    describe(e, &a, got, sizeof(got));
    if (!matches(c, e, &a)) {
        print_error("%s:%d: expected %s, got %s\n", path, c->line, c->expected, got);
        return false;
    }
    if (c->expect_ok && !idempotent(c, &a)) {
        print_error("%s:%d: %s does not parse back to itself\n", path, c->line, got);
        return false;
    }
    return true;
}

/* test_table - every case of the golden table */
static void test_table(void **state)
{
    const char *path = cases_path();
    FILE *f = fopen(path, "r");
    static char line[LINE_MAX_LEN];
    static tcase c;
    bool seen[MV_SYN_COUNT] = {false};
    int lineno = 0, ncases = 0, nfail = 0;

    (void)state;
    if (f == NULL)
        fail_case("cannot open %s (set MV_CASES or run from the project root)", path);
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);

        lineno++;
        if (n == sizeof(line) - 1 && line[n - 1] != '\n')
            fail_case("%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_LEN - 2);
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        memset(&c, 0, sizeof(c));
        c.line = lineno;
        if (!parse_line(line, &c)) {
            print_error("%s:%d: malformed table line\n", path, lineno);
            nfail++;
            continue;
        }
        ncases++;
        if (!c.expect_ok)
            seen[mv_syntax_lookup(c.expect_err)] = true;
        if (!check_case(path, &c))
            nfail++;
    }
    fclose(f);
    /* idn_unavailable needs libidn2 missing: test_idnload_missing.c */
    for (int e = 1; e < MV_SYN_COUNT; e++)
        if (!seen[e] && e != MV_SYN_IDN_UNAVAILABLE) {
            print_error("%s: no case expects err:%s\n", path, mv_syntax_name(e));
            nfail++;
        }
    print_message("%s: %d cases, %d failures\n", path, ncases, nfail);
    if (nfail > 0)
        fail_case("%d of %d table cases failed (see above)", nfail, ncases);
    if (ncases < MIN_CASES)
        fail_case("%s has %d cases, fewer than %d", path, ncases, MIN_CASES);
}

/* sane - the result is consistent, whatever the input was */
static bool sane(mv_syntax_error e, const mv_address *a, size_t len)
{
    if (e != a->error || (unsigned)e >= MV_SYN_COUNT)
        return false;
    if (e != MV_SYN_OK)
        return a->error_pos <= len;
    return a->local_len <= MV_LOCAL_MAX && a->domain_len <= MV_DOMAIN_MAX &&
           strlen(a->local) == a->local_len && strlen(a->domain) == a->domain_len &&
           (a->kind == MV_ADDR_NULL || a->local_len + 1 + a->domain_len <= MV_MAILBOX_MAX);
}

/* test_prefixes - every prefix of every table input: no crash, sane result */
static void test_prefixes(void **state)
{
    const char *path = cases_path();
    FILE *f = fopen(path, "r");
    static char line[LINE_MAX_LEN];
    static tcase c;
    int lineno = 0;
    long parses = 0;

    (void)state;
    if (f == NULL)
        fail_case("cannot open %s", path);
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        memset(&c, 0, sizeof(c));
        if (line[0] == '\0' || line[0] == '#' || !parse_line(line, &c))
            continue;
        for (size_t n = 0; n <= c.input_len && n <= 300; n++) {
            mv_address a;
            mv_syntax_error e = run_parse(c.input, n, c.flags, &a);

            parses++;
            if (!sane(e, &a, n)) {
                fclose(f);
                fail_case("%s:%d: prefix of %zu bytes gives an inconsistent result", path, lineno, n);
            }
        }
    }
    fclose(f);
    print_message("%s: %ld prefixes parsed\n", path, parses);
    assert_true(parses > 1000);
}

/* test_names - every error has a unique identifier that looks itself up */
static void test_names(void **state)
{
    (void)state;
    for (int e = 0; e < MV_SYN_COUNT; e++) {
        const char *name = mv_syntax_name((mv_syntax_error)e);

        assert_non_null(name);
        assert_string_not_equal(name, "unknown");
        assert_int_equal(mv_syntax_lookup(name), e);
        assert_true(strlen(mv_syntax_message((mv_syntax_error)e)) > 0);
        for (int k = 0; k < e; k++)
            if (strcmp(name, mv_syntax_name((mv_syntax_error)k)) == 0)
                fail_case("errors %d and %d share the name %s", k, e, name);
    }
    assert_string_equal(mv_syntax_name(MV_SYN_OK), "ok");
    assert_string_equal(mv_syntax_name(MV_SYN_COUNT), "unknown");
    assert_string_equal(mv_syntax_name((mv_syntax_error)-1), "unknown");
    assert_string_equal(mv_syntax_message(MV_SYN_COUNT), "unknown error");
    assert_int_equal(mv_syntax_lookup("no_such_error"), -1);
    assert_int_equal(mv_syntax_lookup(""), -1);
    assert_int_equal(mv_syntax_lookup("Consecutive_Dots"), -1);
}

/* test_format_null - the null path formats as "<>", and only with room */
static void test_format_null(void **state)
{
    mv_address a;
    char buf[8];

    (void)state;
    assert_int_equal(mv_address_parse("<>", 2, MV_PARSE_ALLOW_NULL, &a), MV_SYN_OK);
    assert_int_equal(a.kind, MV_ADDR_NULL);
    assert_int_equal(mv_address_format(&a, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "<>");
    assert_int_equal(mv_address_format(&a, buf, 3), 2);
    assert_int_equal(mv_address_format(&a, buf, 2), 0);
    assert_int_equal(mv_address_parse("<>", 2, 0, &a), MV_SYN_NULL_PATH);
}

/* test_format_size - format needs room for the terminator, no more */
static void test_format_size(void **state)
{
    mv_address a;
    char buf[32];

    (void)state;
    assert_int_equal(mv_address_parse("ab@c.de", 7, 0, &a), MV_SYN_OK);
    assert_int_equal(a.kind, MV_ADDR_MAILBOX);
    assert_int_equal(mv_address_format(&a, buf, 8), 7);
    assert_string_equal(buf, "ab@c.de");
    assert_int_equal(mv_address_format(&a, buf, 7), 0);
}

/* huge - parse len bytes of fill (with an "@" in the middle), timed */
static mv_syntax_error huge(size_t len, char fill, mv_address *a, double *secs)
{
    char *in = malloc(len);
    struct timespec t0, t1;
    mv_syntax_error e;

    assert_non_null(in);
    memset(in, fill, len);
    in[len / 2] = '@';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    e = mv_address_parse(in, len, 0, a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(in);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return e;
}

/* test_huge_input - 1 MB of input is refused as too long, quickly */
static void test_huge_input(void **state)
{
    mv_address a;
    double secs;

    (void)state;
    assert_int_equal(huge(1 << 20, 'a', &a, &secs), MV_SYN_ADDRESS_TOO_LONG);
    assert_true(secs < 0.5);
    assert_int_equal(huge(1 << 20, '\0', &a, &secs), MV_SYN_ADDRESS_TOO_LONG);
    assert_true(secs < 0.5);
    assert_int_equal(huge(MV_INPUT_MAX + 1, 'a', &a, &secs), MV_SYN_ADDRESS_TOO_LONG);
    /* white space around is trimmed first: what is left is a lone "@" */
    assert_int_equal(huge(1 << 20, ' ', &a, &secs), MV_SYN_EMPTY_LOCAL);
    assert_int_equal(a.error_pos, (1 << 20) / 2);
    assert_true(secs < 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_names),       cmocka_unit_test(test_format_null),
        cmocka_unit_test(test_format_size), cmocka_unit_test(test_huge_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
