/* SPDX-License-Identifier: MIT */
/*
 * test_trace.c - the transcript's formatting (trace.c).
 *
 * What a server sends is shown as sent but safe for a terminal and a
 * syslog line: control characters, backslash and bad UTF-8 as \xNN (or
 * \\), good UTF-8 kept, and a cut that never splits an escape and ends
 * in "...". With no sink nothing is called.
 */
#include "unit.h"

#include "trace.h"

static void test_escape(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"250 2.1.5 Ok", 12, "250 2.1.5 Ok"}, {"a\r\nb", 4, "a\\x0d\\x0ab"},
        {"tab\there", 8, "tab\\x09here"},     {"back\\slash", 10, "back\\\\slash"},
        {"nul\0x", 5, "nul\\x00x"},           {"del\x7f", 4, "del\\x7f"},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"}, /* good UTF-8 stays */
        {"bad\xc3(", 5, "bad\\xc3("},      /* a broken sequence */
        {"\xff\xfe", 2, "\\xff\\xfe"},        {"", 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[MV_TRACE_TEXT_MAX + 8];
        size_t n = mv_trace_escape(out, sizeof(out), cases[i].in, cases[i].len);

        if (strcmp(out, cases[i].out) != 0 || n != strlen(out))
            fail_case("%zu: got \"%s\"", i, out);
    }
}

static void test_cut(void **state)
{
    char in[2000], out[MV_TRACE_TEXT_MAX + 8], small[16];
    size_t n;

    (void)state;
    memset(in, 'x', sizeof(in));
    n = mv_trace_escape(out, sizeof(out), in, sizeof(in));
    assert_true(n <= MV_TRACE_TEXT_MAX + 3);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out + n - 3, "...");
    memset(in, '\n', sizeof(in)); /* escapes are never split by the cut */
    n = mv_trace_escape(out, sizeof(out), in, sizeof(in));
    assert_string_equal(out + n - 3, "...");
    assert_int_equal((n - 3) % 4, 0);
    /* exactly full: no "..." */
    memset(in, 'y', sizeof(in));
    n = mv_trace_escape(small, sizeof(small), in, 12);
    assert_string_equal(small, "yyyyyyyyyyyy");
    n = mv_trace_escape(small, sizeof(small), in, 20);
    assert_true(n < sizeof(small));
    assert_string_equal(small + n - 3, "...");
    assert_int_equal(mv_trace_escape(small, 4, in, 20), 0);
    assert_string_equal(small, "");
}

static void sink(void *arg, const char *line)
{
    snprintf(arg, 64, "%s", line);
}

static void test_emit(void **state)
{
    char got[64] = "";

    (void)state;
    mv_trace_emit(sink, got, "[%s] %d", "ok.test", 42);
    assert_string_equal(got, "[ok.test] 42");
    mv_trace_emit(NULL, got, "%s", "never"); /* no sink: nothing */
    assert_string_equal(got, "[ok.test] 42");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_emit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
