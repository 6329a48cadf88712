/* SPDX-License-Identifier: MIT */
/*
 * test_fcodec.c - the wire forms of a fleet bulk job (milter/cli_bulk_fcodec.c):
 * a chunk as its stream entry carries it and a chunk's result as the
 * result hash holds it, read back by their parsers, and the job's name.
 *
 * Round trips first (any byte in an address or a verdict's fields, a
 * record index up to the chunk size), then tables of hostile texts that a
 * shared Redis may hold under our keys: each must be refused as a whole,
 * with a reason, and nothing read may point outside the text.
 */
#include "unit.h"

#include "cli_bulk_fleet.h"
#include "verdict.h"

/* test_job_names - the safe charset and the length bound */
static void test_job_names(void **state)
{
    char max[FLEET_JOB_MAX + 2];

    (void)state;
    assert_true(fleet_job_ok("nightly"));
    assert_true(fleet_job_ok("a.b_c-9"));
    memset(max, 'a', sizeof(max));
    max[FLEET_JOB_MAX] = '\0';
    assert_true(fleet_job_ok(max));
    max[FLEET_JOB_MAX] = 'a';
    max[FLEET_JOB_MAX + 1] = '\0';
    assert_false(fleet_job_ok(max));
    assert_false(fleet_job_ok(""));
    assert_false(fleet_job_ok("a b"));
    assert_false(fleet_job_ok("x:y"));
    assert_false(fleet_job_ok("../x"));
    assert_false(fleet_job_ok("a*"));
    assert_false(fleet_job_ok("\xc3\xa9t\xc3\xa9"));
}

/* test_chunk_round_trip - any bytes, indexes in order, the chunk size's last */
static void test_chunk_round_trip(void **state)
{
    static const char *const addrs[] = {"a@b.test", "", "x\ny\r\n\"z\"@q", "\0nul@x", "tail@x.test"};
    static const size_t lens[] = {8, 0, 11, 6, 11};
    static const unsigned idx[] = {0, 3, 4, 7, 9};
    fleet_chunk *c = malloc(sizeof(*c));
    mv_buf b = {0};

    (void)state;
    assert_non_null(c);
    for (int i = 0; i < 5; i++)
        fleet_chunk_put(&b, idx[i], addrs[i], lens[i]);
    assert_true(mv_buf_ok(&b));
    assert_null(fleet_chunk_parse(b.data, b.len, 10, c));
    assert_int_equal(c->n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c->idx[i], idx[i]);
        assert_int_equal(c->alen[i], lens[i]);
        assert_memory_equal(c->addr[i], addrs[i], lens[i]);
    }
    /* index 9 is not in a chunk of 9 */
    assert_non_null(fleet_chunk_parse(b.data, b.len, 9, c));
    mv_buf_free(&b);
    free(c);
}

/* test_chunk_hostile - every one refused as a whole */
static void test_chunk_hostile(void **state)
{
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
    } bad[] = {
        {"", 0},                    /* no records */
        {"x 3 a@b\n", 0},           /* an index that is no number */
        {"-1 3 a@b\n", 0},          /* nor is a negative one */
        {"01 3 a@b\n", 0},          /* leading zero */
        {"10 3 a@b\n", 0},          /* the chunk (10) has no index 10 */
        {"0 4 a@b\n", 0},           /* the length runs past the record */
        {"0 3 a@b", 0},             /* no newline after it */
        {"0 3 a@bX", 0},            /* something else after it */
        {"0 999999999999 a\n", 0},  /* a length past any limit */
        {"0 9999999999999 a\n", 0}, /* 13 digits */
        {"0 513 ", 0},              /* over FLEET_ADDR_MAX */
        {"1 1 a\n0 1 b\n", 0},      /* out of order */
        {"1 1 a\n1 1 b\n", 0},      /* twice the same record */
        {"0 1 a\n\n", 0},           /* a stray line */
        {"0  1 a\n", 0},            /* two spaces */
        {"0 1 a\n1 1", 0},          /* a record cut short */
        {"0\0001 a\n", 7},          /* a NUL for a space */
    };
    fleet_chunk *c = malloc(sizeof(*c));
    mv_buf b = {0};

    (void)state;
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = bad[i].len ? bad[i].len : strlen(bad[i].in);

        if (fleet_chunk_parse(bad[i].in, n, 10, c) == NULL)
            fail_msg("case %zu accepted", i);
    }
    /* more records than a chunk holds */
    for (unsigned i = 0; i < 11; i++)
        fleet_chunk_put(&b, i, "a@b", 3);
    assert_non_null(fleet_chunk_parse(b.data, b.len, 10, c));
    /* an entry past the size bound is refused before it is read */
    assert_non_null(fleet_chunk_parse(b.data, FLEET_ENTRY_MAX + 1, 10, c));
    mv_buf_free(&b);
    free(c);
}

/* rows_of - parse a whole result; the rows, or -1 */
static int rows_of(const char *t, size_t n, unsigned long k, fleet_row *out, size_t max)
{
    const char *why = NULL;
    size_t rows, pos = fleet_result_start(t, n, k, &rows, &why), got = 0;
    int rc;

    if (pos == 0) {
        assert_non_null(why);
        return -1;
    }
    while ((rc = fleet_result_next(t, n, &pos, 10, &out[got < max ? got : max - 1], &why)) == 1) {
        const fleet_row *r = &out[got < max ? got : max - 1];

        /* whatever is read lies inside the text */
        assert_true(r->addr >= t && r->addr + r->alen <= t + n);
        assert_true(r->fields >= t && r->fields + r->flen <= t + n);
        got++;
    }
    if (rc < 0) {
        assert_non_null(why);
        return -1;
    }
    return got == rows ? (int)got : -1;
}

/* test_result_round_trip - rows with any bytes come back as written */
static void test_result_round_trip(void **state)
{
    fleet_row in[3] = {
        {.idx = 0,
         .status = MV_STATUS_DELIVERABLE,
         .reason = MV_R_ACCEPTED_EMAIL,
         .addr = "a@b",
         .alen = 3,
         .fields = ",deliverable,\"x\ny\"",
         .flen = 18},
        {.idx = 5,
         .status = MV_STATUS_UNKNOWN,
         .reason = MV_R_GREYLISTED,
         .greyed = true,
         .addr = "",
         .alen = 0,
         .fields = ",",
         .flen = 1},
        {.idx = 9,
         .status = MV_STATUS_COUNT - 1,
         .reason = MV_R_COUNT - 1,
         .addr = "\n\n",
         .alen = 2,
         .fields = "{\"a\":1}\n",
         .flen = 8},
    };
    fleet_row out[4];
    mv_buf b = {0};

    (void)state;
    fleet_result_head(&b, 123456, 3);
    for (int i = 0; i < 3; i++)
        fleet_result_row(&b, &in[i]);
    assert_true(mv_buf_ok(&b));
    assert_int_equal(rows_of(b.data, b.len, 123456, out, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].idx, in[i].idx);
        assert_int_equal(out[i].status, in[i].status);
        assert_int_equal(out[i].reason, in[i].reason);
        assert_int_equal(out[i].greyed, in[i].greyed);
        assert_int_equal(out[i].alen, in[i].alen);
        assert_memory_equal(out[i].addr, in[i].addr, in[i].alen);
        assert_int_equal(out[i].flen, in[i].flen);
        assert_memory_equal(out[i].fields, in[i].fields, in[i].flen);
    }
    /* the result of another chunk is not this one's */
    assert_int_equal(rows_of(b.data, b.len, 123457, out, 4), -1);
    mv_buf_free(&b);
}

/* test_result_hostile - junk, wrong counts, out-of-range numbers, cut rows */
static void test_result_hostile(void **state)
{
    static const char *const bad[] = {
        "",
        "junk",
        "mvr2 7 1\n0 0 0 0 1 1\nab\n",
        "mvr1 7\n",
        "mvr1 x 1\n",
        "mvr1 7 99999999999999999999\n",
        "mvr1 7 201\n",                                 /* more rows than a chunk holds */
        "mvr1 7 2\n0 0 0 0 1 1\nab\n",                  /* fewer rows than it says */
        "mvr1 7 1\n0 0 0 0 1 1\nab\n1 0 0 0 1 1\ncd\n", /* more */
        "mvr1 7 1\n10 0 0 0 1 1\nab\n",                 /* an index past the chunk */
        "mvr1 7 1\n0 4 0 0 1 1\nab\n",                  /* a status we do not have */
        "mvr1 7 1\n0 0 999 0 1 1\nab\n",                /* nor a reason */
        "mvr1 7 1\n0 0 0 2 1 1\nab\n",                  /* greyed is 0 or 1 */
        "mvr1 7 1\n0 0 0 0 513 1\n",                    /* an address past the limit */
        "mvr1 7 1\n0 0 0 0 1 4097\n",                   /* fields past the limit */
        "mvr1 7 1\n0 0 0 0 1 5\nab\n",                  /* lengths past the end */
        "mvr1 7 1\n0 0 0 0 1 1\nabX",                   /* no newline after the row */
        "mvr1 7 1\n0 0 0 0 1 1\nab",                    /* cut */
        "mvr1 7 1\n-0 0 0 0 1 1\nab\n",
        "mvr1 7 1\n0 0 0 0 1 1 \nab\n",
    };
    fleet_row out[4];

    (void)state;
    assert_int_equal(MV_STATUS_COUNT, 4);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rows_of(bad[i], strlen(bad[i]), 7, out, 4) != -1)
            fail_msg("case %zu accepted", i);
    /* past the size bound: refused before it is read */
    {
        const char *why = NULL;
        size_t rows;

        assert_int_equal(fleet_result_start("mvr1 7 1\n", FLEET_RESULT_MAX + 1, 7, &rows, &why), 0);
        assert_non_null(why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_names),      cmocka_unit_test(test_chunk_round_trip),
        cmocka_unit_test(test_chunk_hostile),  cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_result_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
