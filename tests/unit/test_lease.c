/* SPDX-License-Identifier: MIT */
/*
 * test_lease.c - the fleet's leases (lease.c): the take script's answers
 * parsed from a table of good and hostile shapes, the lease list's
 * answers; then against a real redis-server: two leases per host
 * granted, the third told to wait, a release letting the next one in,
 * the spacing between session starts, a back-off seen by another
 * process until it ends, a lease of a dead process gone by itself after
 * the lease time, the list `mailverify cache stats` shows; and a server
 * that answers garbage or the wrong type to EVALSHA: the local limits,
 * one log line, no crash.
 *
 * Starts its own redis-server (redis_fixture.h); run inside tests/in-netns.
 */
#include "redis_fixture.h"
#include "lease.h"

/* ---- parsing, without a server -------------------------------------------- */

#define I(v) \
    { \
        MV_REDIS_ITEM_INT, (v), NULL, 0 \
    }
#define S(v) \
    { \
        MV_REDIS_ITEM_STR, 0, (v), sizeof(v) - 1 \
    }
#define NIL \
    { \
        MV_REDIS_ITEM_NIL, 0, NULL, 0 \
    }

static const struct {
    const char *name;
    mv_redis_item items[4];
    size_t n;
    bool ok;
    mv_lease_result res;
    uint64_t wait_ms;
    bool timeout;
} take_cases[] = {
    {"granted", {I(1), I(60000)}, 2, true, MV_LEASE_GRANTED, 0, false},
    {"wait", {I(0), I(250)}, 2, true, MV_LEASE_WAIT, 250, false},
    {"back-off, refused", {I(2), I(30000), S("b")}, 3, true, MV_LEASE_BACKOFF, 30000, false},
    {"back-off, tarpit", {I(2), I(1500), S("t")}, 3, true, MV_LEASE_BACKOFF, 1500, true},
    {"nothing", {I(0)}, 0, false, MV_LEASE_LOCAL, 0, false},
    {"one integer", {I(42)}, 1, false, MV_LEASE_LOCAL, 0, false},
    {"unknown code", {I(7), I(1)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"string code", {S("1"), I(1)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"nil", {NIL, NIL}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"wait 0", {I(0), I(0)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"negative wait", {I(0), I(-5)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"wait of years", {I(0), I(1LL << 50)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"granted, extra", {I(1), I(1), I(1)}, 3, false, MV_LEASE_LOCAL, 0, false},
    {"back-off without kind", {I(2), I(100)}, 2, false, MV_LEASE_LOCAL, 0, false},
    {"back-off, odd kind", {I(2), I(100), S("x")}, 3, false, MV_LEASE_LOCAL, 0, false},
    {"back-off, long kind", {I(2), I(100), S("tt")}, 3, false, MV_LEASE_LOCAL, 0, false},
};

static void test_parse_take(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(take_cases) / sizeof(take_cases[0]); c++) {
        mv_lease_answer a;
        bool ok = mv_lease_parse_take(take_cases[c].n ? take_cases[c].items : NULL, take_cases[c].n, &a);

        if (ok != take_cases[c].ok || a.res != take_cases[c].res ||
            (ok && (a.wait_ms != take_cases[c].wait_ms || a.timeout != take_cases[c].timeout)))
            fail_msg("%s: ok %d res %d wait %llu", take_cases[c].name, ok, a.res,
                     (unsigned long long)a.wait_ms);
        assert_null(a.hold);
    }
}

static void test_parse_list(void **state)
{
    const mv_redis_item good[] = {S("mv:lease:h:127.0.0.47:25"), I(2),     S("mv:lease:d:pair.test"), I(2),
                                  S("mv:lease:b:127.0.0.9:25"),  I(29500), S("other:lease:h:x"),      I(1),
                                  S("mv:lease:s:127.0.0.47:25"), I(1),     S("mv:lease:h:"),          I(1)};
    const mv_redis_item odd[] = {S("mv:lease:h:x")};
    const mv_redis_item wrong[] = {I(1), S("mv:lease:h:x")};
    const mv_redis_item zero[] = {S("mv:lease:h:x"), I(0)};
    mv_lease_entry e[8];

    (void)state;
    assert_int_equal(mv_lease_parse_list(good, 12, "mv:", e, 8), 3);
    assert_int_equal(e[0].kind, 'h');
    assert_string_equal(e[0].name, "127.0.0.47:25");
    assert_int_equal(e[0].value, 2);
    assert_int_equal(e[1].kind, 'd');
    assert_string_equal(e[1].name, "pair.test");
    assert_int_equal(e[2].kind, 'b');
    assert_int_equal(e[2].value, 29500);
    assert_int_equal(mv_lease_parse_list(good, 12, "mv:", e, 1), 1); /* bounded */
    assert_int_equal(mv_lease_parse_list(NULL, 0, "mv:", e, 8), 0);
    assert_int_equal(mv_lease_parse_list(odd, 1, "mv:", e, 8), -1);
    assert_int_equal(mv_lease_parse_list(wrong, 2, "mv:", e, 8), -1);
    assert_int_equal(mv_lease_parse_list(zero, 2, "mv:", e, 8), -1);
}

/* ---- against a server ------------------------------------------------------ */

typedef struct {
    int calls;
    mv_lease_answer a;
} got;

static void on_answer(void *arg, const mv_lease_answer *a)
{
    got *g = arg;

    g->calls++;
    g->a = *a;
}

/* take - one take, run to its answer */
static mv_lease_answer take(mv_loop *l, mv_lease *ls, const char *dom, const char *host, unsigned spacing)
{
    mv_lease_want w = {dom, host, 4, 2, spacing, false};
    got g = {0};
    mv_lease_answer now;
    mv_lease_ask *a = mv_lease_take(ls, &w, on_answer, &g, &now);

    if (a == NULL)
        return now;
    assert_true(run_until(l, &g.calls, 1, 3000));
    for (int i = 0; i < 5; i++)
        mv_loop_run_once(l, 1);
    assert_int_equal(g.calls, 1);
    return g.a;
}

/* settle - let fire-and-forget commands (release, back-off) reach the server */
static void settle(mv_loop *l)
{
    for (int i = 0; i < 20; i++)
        mv_loop_run_once(l, 5);
}

static void test_limits(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0}, fl = {0};
    mv_redis *r;
    mv_lease *ls;
    mv_lease_answer a1, a2, a3, a4;
    mv_lease_stats st;

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    assert_non_null(ls = mv_lease_new(l, r, 60, log_cb, &fl));
    a1 = take(l, ls, "pair.test", "127.0.0.47:25", 0);
    a2 = take(l, ls, "pair.test", "127.0.0.47:25", 0);
    a3 = take(l, ls, "pair.test", "127.0.0.47:25", 0);
    assert_int_equal(a1.res, MV_LEASE_GRANTED);
    assert_int_equal(a2.res, MV_LEASE_GRANTED);
    assert_int_equal(a3.res, MV_LEASE_WAIT);                /* the host's limit is 2 */
    assert_true(a3.wait_ms > 50000 && a3.wait_ms <= 60000); /* the earliest expiry */
    assert_string_equal(mv_lease_hold_host(a1.hold), "127.0.0.47:25");
    assert_int_equal(redis_int("ZCARD %s", "mv:lease:h:127.0.0.47:25"), 2);
    assert_int_equal(redis_int("ZCARD %s", "mv:lease:d:pair.test"), 2);
    mv_lease_release(a1.hold);
    settle(l);
    assert_int_equal(redis_int("ZCARD %s", "mv:lease:h:127.0.0.47:25"), 1);
    a4 = take(l, ls, "pair.test", "127.0.0.47:25", 0);
    assert_int_equal(a4.res, MV_LEASE_GRANTED);
    /* spacing on another host: the second start waits for what is left of it */
    a1 = take(l, ls, "other.test", "127.0.0.48:25", 5000);
    a3 = take(l, ls, "other.test", "127.0.0.48:25", 5000);
    assert_int_equal(a1.res, MV_LEASE_GRANTED);
    assert_int_equal(a3.res, MV_LEASE_WAIT);
    assert_true(a3.wait_ms > 0 && a3.wait_ms <= 5000);
    mv_lease_get_stats(ls, &st);
    assert_int_equal(st.takes, 6);
    assert_int_equal(st.granted, 4);
    assert_int_equal(st.waits, 2);
    assert_int_equal(fl.lines, 0); /* Redis answered all along: nothing to say */
    mv_lease_free(ls);             /* releases what is held */
    settle(l);
    assert_int_equal(redis_int("EXISTS %s", "mv:lease:h:127.0.0.47:25"), 0);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void on_list(void *arg, mv_redis_status st, const mv_lease_entry *e, size_t n)
{
    result *res = arg;

    res->calls++;
    res->st = st;
    res->value = (int64_t)n;
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == 'b' && strcmp(e[i].name, "127.0.0.9:25") == 0)
            res->ttl_ms = e[i].value;
}

static void test_backoff_expiry_list(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    mv_lease *a, *b;
    mv_lease_answer x;
    result res = {0};

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    assert_non_null(a = mv_lease_new(l, r, 5, NULL, NULL));
    assert_non_null(b = mv_lease_new(l, r, 5, NULL, NULL));
    /* a learns a back-off; b, which never met the host, honours it */
    mv_lease_backoff(a, "127.0.0.9:25", 30000, false);
    settle(l);
    x = take(l, b, "nine.test", "127.0.0.9:25", 0);
    assert_int_equal(x.res, MV_LEASE_BACKOFF);
    assert_false(x.timeout);
    assert_true(x.wait_ms > 25000 && x.wait_ms <= 30000);
    /* a shorter one learned later does not shorten it */
    mv_lease_backoff(b, "127.0.0.9:25", 1000, true);
    settle(l);
    assert_true(redis_int("PTTL %s", "mv:lease:b:127.0.0.9:25") > 25000);
    /* a check ignores it; the list shows it and the check's lease */
    x = (mv_lease_answer){0};
    {
        mv_lease_want w = {"nine.test", "127.0.0.9:25", 4, 2, 0, true};
        got g = {0};
        mv_lease_answer now;

        assert_non_null(mv_lease_take(a, &w, on_answer, &g, &now));
        assert_true(run_until(l, &g.calls, 1, 3000));
        assert_int_equal(g.a.res, MV_LEASE_GRANTED);
    }
    assert_int_equal(mv_lease_list(r, on_list, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_int_equal(res.value, 3); /* host and domain leases, the back-off */
    assert_true(res.ttl_ms > 25000);
    /* the host answers again: the back-off ends for everyone */
    mv_lease_backoff_end(a, "127.0.0.9:25");
    settle(l);
    assert_int_equal(take(l, b, "nine.test", "127.0.0.9:25", 0).res, MV_LEASE_GRANTED);
    /* a process that dies holding leases: a score in the past is a lease
     * whose renewals stopped; the next take drops it */
    redis_int("ZADD mv:lease:h:127.0.0.10:25 1 %s", "dead.1");
    redis_int("ZADD mv:lease:h:127.0.0.10:25 2 %s", "dead.2");
    assert_int_equal(take(l, b, "ten.test", "127.0.0.10:25", 0).res, MV_LEASE_GRANTED);
    assert_int_equal(redis_int("ZCARD %s", "mv:lease:h:127.0.0.10:25"), 1);
    mv_lease_free(a);
    mv_lease_free(b);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

/* ---- a hostile server ------------------------------------------------------ */

/* hostile - answers every command with out (after the handshake's SCRIPT LOADs) */
static pid_t hostile(const char *path, const char *out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    pid_t pid;

    unlink(path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 8), 0);
    if ((pid = fork()) == 0) {
        for (;;) {
            int fd = accept(ls, NULL, NULL);
            char buf[8192];
            ssize_t n;

            while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
                /* the handshake: one SHA per SCRIPT LOAD; else our answer */
                const char *sha = "$40\r\n0123456789012345678901234567890123456789\r\n";
                const char *p = buf;
                int scripts = 0;

                while ((p = memmem(p, (size_t)(n - (p - buf)), "SCRIPT", 6)) != NULL)
                    scripts++, p += 6;
                for (int i = 0; i < scripts; i++)
                    if (send(fd, sha, strlen(sha), MSG_NOSIGNAL) < 0)
                        break;
                if (scripts == 0 && send(fd, out, strlen(out), MSG_NOSIGNAL) < 0)
                    break;
            }
            if (fd >= 0)
                close(fd);
        }
    }
    assert_true(pid >= 0);
    close(ls);
    return pid;
}

static void test_hostile(void **state)
{
    static const char *const answers[] = {":42\r\n", "this is not redis\r\n", "*1\r\n*1\r\n:1\r\n",
                                          "*3\r\n:2\r\n:100\r\n$1\r\nx\r\n", "-ERR nope\r\n"};
    char path[100];

    (void)state;
    snprintf(path, sizeof(path), "%.80s/hostile.sock", dir);
    for (size_t c = 0; c < sizeof(answers) / sizeof(answers[0]); c++) {
        mv_loop *l = mv_loop_new();
        logbook lb = {0}, fl = {0};
        pid_t pid = hostile(path, answers[c]);
        mv_redis *r = client(l, path, NULL, 300, &lb);
        mv_lease *ls;
        mv_lease_answer a;

        assert_true(wait_up(l, r, 3000));
        assert_non_null(ls = mv_lease_new(l, r, 60, log_cb, &fl));
        a = take(l, ls, "pair.test", "127.0.0.47:25", 0);
        if (a.res != MV_LEASE_LOCAL || fl.lines != 1 ||
            strstr(fl.last, "fleet: no answer from Redis") == NULL)
            fail_msg("answer %zu: res %d, %d lines (%s)", c, a.res, fl.lines, fl.last);
        a = take(l, ls, "pair.test", "127.0.0.47:25", 0); /* still local: no second line */
        assert_int_equal(a.res, MV_LEASE_LOCAL);
        assert_int_equal(fl.lines, 1);
        mv_lease_free(ls);
        mv_redis_free(r);
        mv_loop_free(l);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* after - a failed test must not leave its redis-server behind */
static int after(void **state)
{
    (void)state;
    server_kill();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_take),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test_teardown(test_limits, after),
        cmocka_unit_test_teardown(test_backoff_expiry_list, after),
        cmocka_unit_test_teardown(test_hostile, after),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
