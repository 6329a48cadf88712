/* SPDX-License-Identifier: MIT */
/*
 * test_reply.c - the SMTP reply parser against well-formed and hostile
 * replies, fed whole and one byte at a time.
 */
#include "unit.h"
#include "reply.h"

typedef struct {
    const char *in;
    mv_reply_status st;
    int code;
    int enh[3];
    const char *text; /* NULL: don't check */
    mv_reply_error err;
} rcase;

static const rcase cases[] = {
    {"220 mx.example.test ESMTP\r\n", MV_REPLY_DONE, 220, {0, 0, 0}, "mx.example.test ESMTP", 0},
    {"250 2.1.5 Ok\r\n", MV_REPLY_DONE, 250, {2, 1, 5}, "Ok", 0},
    {"550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n",
     MV_REPLY_DONE,
     550,
     {5, 1, 1},
     "<x@y>: Recipient address rejected: User unknown",
     0},
    {"250-mx.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
     MV_REPLY_DONE,
     250,
     {0, 0, 0},
     "mx.test PIPELINING STARTTLS 8BITMIME",
     0},
    {"451 4.7.1 Greylisted, try again later\n",
     MV_REPLY_DONE,
     451,
     {4, 7, 1},
     "Greylisted, try again later",
     0},
    {"550 2.1.5 wrong class\r\n", MV_REPLY_DONE, 550, {0, 0, 0}, "2.1.5 wrong class", 0},
    {"552 5.2.2 Mailbox full\r\n", MV_REPLY_DONE, 552, {5, 2, 2}, "Mailbox full", 0},
    {"550 5.1.10 null MX\r\n", MV_REPLY_DONE, 550, {5, 1, 10}, "null MX", 0},
    {"250\r\n", MV_REPLY_DONE, 250, {0, 0, 0}, "", 0},
    {"250 5.5\r\n", MV_REPLY_DONE, 250, {0, 0, 0}, "5.5", 0},
    {"554 5.7.1\r\n", MV_REPLY_DONE, 554, {5, 7, 1}, "", 0},
    {"250 ok\x01\x7f\r\n", MV_REPLY_DONE, 250, {0, 0, 0}, "ok  ", 0},
    {"250-a\r\n251 b\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_MIXED_CODES},
    {"hello\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"25\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"2500 x\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"199 x\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"600 x\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"250_x\r\n", MV_REPLY_ERROR, 0, {0, 0, 0}, NULL, MV_REPLY_BAD_CODE},
    {"250-partial", MV_REPLY_MORE, 0, {0, 0, 0}, NULL, 0},
};

static mv_reply_status feed_all(mv_reply_parser *p, const char *s, size_t n, int bytewise, size_t *used)
{
    mv_reply_status st = MV_REPLY_MORE;
    size_t off = 0, u;

    mv_reply_init(p);
    while (off < n && st == MV_REPLY_MORE) {
        size_t chunk = bytewise ? 1 : n - off;

        st = mv_reply_feed(p, s + off, chunk, &u);
        off += u;
    }
    *used = off;
    return st;
}

static void test_table(void **state)
{
    static mv_reply_parser p;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const rcase *c = &cases[i];

        for (int bytewise = 0; bytewise < 2; bytewise++) {
            size_t used;
            mv_reply_status st = feed_all(&p, c->in, strlen(c->in), bytewise, &used);

            if (st != c->st)
                fail_case("%zu %s (bytewise %d): status %d, want %d", i, c->in, bytewise, st, c->st);
            if (st == MV_REPLY_ERROR && p.error != c->err)
                fail_case("%zu: error %s", i, mv_reply_error_name(p.error));
            if (st != MV_REPLY_DONE)
                continue;
            if (p.r.code != c->code || memcmp(p.r.enh, c->enh, sizeof(c->enh)) != 0)
                fail_case("%zu: code %d enh %d.%d.%d", i, p.r.code, p.r.enh[0], p.r.enh[1], p.r.enh[2]);
            if (c->text && strcmp(p.r.text, c->text) != 0)
                fail_case("%zu: text '%s'", i, p.r.text);
        }
    }
}

static void test_pipelined_rest_left(void **state)
{
    static mv_reply_parser p;
    const char *s = "250 ok\r\n550 5.1.1 no\r\n";
    size_t used;

    (void)state;
    mv_reply_init(&p);
    assert_int_equal(mv_reply_feed(&p, s, strlen(s), &used), MV_REPLY_DONE);
    assert_int_equal(used, 8);
    mv_reply_init(&p);
    assert_int_equal(mv_reply_feed(&p, s + used, strlen(s) - used, &used), MV_REPLY_DONE);
    assert_int_equal(p.r.code, 550);
}

static void test_limits(void **state)
{
    static mv_reply_parser p;
    static char big[MV_REPLY_LINE_MAX * 2];
    size_t used;

    (void)state;
    /* one endless line */
    memset(big, 'a', sizeof(big));
    memcpy(big, "250 ", 4);
    mv_reply_init(&p);
    assert_int_equal(mv_reply_feed(&p, big, sizeof(big), &used), MV_REPLY_ERROR);
    assert_int_equal(p.error, MV_REPLY_LONG_LINE);
    /* endless continuation lines */
    mv_reply_init(&p);
    for (int i = 0; i < 1000; i++) {
        mv_reply_status st = mv_reply_feed(&p, "250-more\r\n", 10, &used);

        if (st == MV_REPLY_ERROR) {
            assert_int_equal(p.error, MV_REPLY_TOO_MANY_LINES);
            assert_true(i < MV_REPLY_LINES_MAX);
            break;
        }
        assert_int_equal(st, MV_REPLY_MORE);
        assert_true(i < MV_REPLY_LINES_MAX);
    }
    /* a NUL */
    mv_reply_init(&p);
    assert_int_equal(mv_reply_feed(&p, "250 a\0b\r\n", 9, &used), MV_REPLY_ERROR);
    assert_int_equal(p.error, MV_REPLY_NUL);
    /* the text kept is bounded, however many long lines */
    mv_reply_init(&p);
    for (int i = 0; i < 50; i++) {
        const char *l = "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";

        assert_int_equal(mv_reply_feed(&p, l, strlen(l), &used), MV_REPLY_MORE);
    }
    assert_int_equal(mv_reply_feed(&p, "250 end\r\n", 9, &used), MV_REPLY_DONE);
    assert_true(p.r.text_len < MV_REPLY_TEXT_MAX);
    assert_int_equal(strlen(p.r.text), p.r.text_len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_pipelined_rest_left),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
