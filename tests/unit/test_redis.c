/* SPDX-License-Identifier: MIT */
/*
 * redis_test.c - the Redis cache client against a real redis-server and a
 * hostile fake one: round trip with TTLs visible, the never-clobber table
 * for every class pair (unexpired and expired), 10,000 pipelined GETs, the
 * server killed and restarted mid-run, AUTH, counters, purge by domain,
 * corrupt values, and a server speaking garbage, huge lengths, unsolicited
 * replies or nothing at all.
 *
 * Starts its own redis-server on a unix socket in a temp directory
 * (redis_fixture.h: --save "" --appendonly no); run it inside
 * tests/in-netns. TLS: test_redis_tls.c.
 */
#include "redis_fixture.h"

/* ---- cases --------------------------------------------------------------- */

static void test_roundtrip_ttl(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result res;
    long long ttl;

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    assert_int_equal(lb.connected, 1);
    res = do_put(l, r, "s:a@x.test", MV_CACHE_POSITIVE, "verdict-bytes", 1700000000, 100);
    assert_true(res.stored);
    ttl = redis_int("TTL %s", "mv:s:a@x.test");
    assert_true(ttl > 95 && ttl <= 100);
    res = do_get(l, r, "s:a@x.test");
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_true(res.found);
    assert_int_equal(res.e.cls, MV_CACHE_POSITIVE);
    assert_int_equal(res.e.stored_at, 1700000000);
    assert_int_equal(res.e.probed_at, 1700000000);
    assert_int_equal(res.e.vlen, 13);
    assert_memory_equal(res.val, "verdict-bytes", 13);
    res = do_get(l, r, "s:absent@x.test");
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_false(res.found);
    /* del */
    res = (result){0};
    assert_int_equal(mv_redis_del(r, "s:a@x.test", 10, on_del, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_true(res.stored);
    assert_false(do_get(l, r, "s:a@x.test").found);
    /* bounds */
    assert_int_equal(mv_redis_get(r, "", 0, on_get, &res), MV_REDIS_EINVAL);
    assert_int_equal(mv_redis_put(r, "k", 1, MV_CACHE_POSITIVE, "", 0, 1, 0, NULL, NULL), MV_REDIS_EINVAL);
    assert_int_equal(mv_redis_put(r, "k", 1, MV_CACHE_CLASSES, "", 0, 1, 5, NULL, NULL), MV_REDIS_EINVAL);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void test_never_clobber(void **state)
{
    static const char *names[] = {"positive", "negative", "temporary"};
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    for (int expired = 0; expired < 2; expired++)
        for (int o = 0; o < MV_CACHE_CLASSES; o++)
            for (int n = 0; n < MV_CACHE_CLASSES; n++) {
                /* Postfix verify(8): only worse-over-better is refused, and only unexpired */
                bool keep = !expired && ((o == MV_CACHE_POSITIVE && n != MV_CACHE_POSITIVE) ||
                                         (o == MV_CACHE_NEGATIVE && n == MV_CACHE_TEMPORARY));
                char key[64];
                result res;
                long long ttl;

                snprintf(key, sizeof(key), "s:%d%d%d@clobber.test", expired, o, n);
                do_put(l, r, key, (mv_cache_class)o, "old", 1000, 100);
                if (expired) {
                    char full[80];

                    snprintf(full, sizeof(full), "mv:%s", key);
                    assert_int_equal(redis_int("PEXPIRE %s 1", full), 1);
                    usleep(20000);
                }
                res = do_put(l, r, key, (mv_cache_class)n, "new", 2000, 5000);
                if (res.stored != !keep)
                    fail_case("%s old %s, new %s: stored %d", expired ? "expired" : "unexpired", names[o],
                              names[n], res.stored);
                res = do_get(l, r, key);
                assert_true(res.found);
                assert_int_equal(res.e.cls, keep ? o : n);
                assert_memory_equal(res.val, keep ? "old" : "new", 3);
                assert_int_equal(res.e.stored_at, keep ? 1000 : 2000);
                assert_int_equal(res.e.probed_at, 2000);
                {
                    char full[80];

                    snprintf(full, sizeof(full), "mv:s:%d%d%d@clobber.test", expired, o, n);
                    ttl = redis_int("TTL %s", full);
                }
                /* kept: the old TTL stays; stored: the new one */
                if (keep ? !(ttl > 90 && ttl <= 100) : !(ttl > 4990 && ttl <= 5000))
                    fail_case("%s/%s: ttl %lld", names[o], names[n], ttl);
            }
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

typedef struct {
    int done, ok, found;
    unsigned char *calls;
} many;

typedef struct {
    many *m;
    int i;
} slot;

static void on_many(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    slot *s = arg;

    s->m->calls[s->i]++;
    s->m->done++;
    s->m->ok += st == MV_REDIS_OK;
    s->m->found += e != NULL;
}

static void test_pipeline_10000(void **state)
{
    enum { N = 10000 };
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    mv_redis_stats st;
    many m = {0, 0, 0, calloc(N, 1)};
    slot *s = calloc(N, sizeof(*s));

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 5000, &lb);
    assert_true(wait_up(l, r, 3000));
    for (int i = 0; i < N; i += 2) {
        char k[32];

        snprintf(k, sizeof(k), "s:%d@many.test", i);
        assert_int_equal(mv_redis_put(r, k, strlen(k), MV_CACHE_NEGATIVE, "v", 1, 1, 60, NULL, NULL),
                         MV_REDIS_OK);
    }
    for (int i = 0; i < N; i++) {
        char k[32];

        snprintf(k, sizeof(k), "s:%d@many.test", i);
        s[i] = (slot){&m, i};
        assert_int_equal(mv_redis_get(r, k, strlen(k), on_many, &s[i]), MV_REDIS_OK);
    }
    mv_redis_get_stats(r, &st);
    assert_int_equal(st.pending, N + N / 2);
    assert_true(run_until(l, &m.done, N, 10000));
    assert_int_equal(m.ok, N);
    assert_int_equal(m.found, N / 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(m.calls[i], 1);
    mv_redis_get_stats(r, &st);
    assert_int_equal(st.pending, 0);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
    free(m.calls);
    free(s);
}

static void test_pending_cap(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis_params p = {0};
    mv_redis *r;
    char server[160];
    result res[11] = {{0}};
    int done = 0;

    (void)state;
    server_start(NULL);
    snprintf(server, sizeof(server), "unix:%s", sock);
    p.server = server;
    p.max_pending = 10;
    p.log = log_cb;
    p.log_arg = &lb;
    r = mv_redis_new(l, &p);
    assert_true(wait_up(l, r, 3000));
    for (int i = 0; i < 10; i++)
        assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res[i]), MV_REDIS_OK);
    assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res[10]), MV_REDIS_UNAVAILABLE);
    while (done < 10 && mv_loop_now() > 0) {
        mv_loop_run_once(l, 10);
        done = 0;
        for (int i = 0; i < 10; i++)
            done += res[i].calls;
    }
    assert_int_equal(res[10].calls, 0);
    assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res[10]), MV_REDIS_OK);
    mv_redis_free(r);
    assert_int_equal(res[10].calls, 1);
    assert_int_equal(res[10].st, MV_REDIS_CANCELLED);
    mv_loop_free(l);
    server_kill();
}

static void test_server_killed(void **state)
{
    enum { N = 5000 };
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    many m = {0, 0, 0, calloc(N, 1)};
    slot *s = calloc(N, sizeof(*s));
    result res = {0};
    uint64_t t0;

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    do_put(l, r, "s:k@kill.test", MV_CACHE_POSITIVE, "v", 1, 60);
    for (int i = 0; i < N; i++)
        s[i] = (slot){&m, i};
    for (int i = 0; i < N / 2; i++)
        assert_int_equal(mv_redis_get(r, "s:k@kill.test", 13, on_many, &s[i]), MV_REDIS_OK);
    mv_loop_run_once(l, 0); /* they go out; some may be answered before the kill */
    server_kill();
    /* these are admitted (the loop has not seen the loss yet) and cannot be answered */
    for (int i = N / 2; i < N; i++)
        assert_int_equal(mv_redis_get(r, "s:k@kill.test", 13, on_many, &s[i]), MV_REDIS_OK);
    assert_true(run_until(l, &m.done, N, 5000));
    for (int i = 0; i < 200 && m.done == N; i++)
        mv_loop_run_once(l, 1); /* nothing completes twice */
    assert_int_equal(m.done, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(m.calls[i], 1);
    assert_true(m.ok <= N / 2);
    assert_false(mv_redis_up(r));
    assert_int_equal(lb.lost, 1);
    /* down: every call answers at once */
    t0 = mv_loop_now();
    assert_int_equal(mv_redis_get(r, "s:k@kill.test", 13, on_get, &res), MV_REDIS_UNAVAILABLE);
    assert_int_equal(mv_redis_put(r, "x", 1, MV_CACHE_POSITIVE, "v", 1, 1, 5, NULL, NULL),
                     MV_REDIS_UNAVAILABLE);
    assert_true(mv_loop_now() - t0 < 5);
    /* a while down: reconnects fail quietly (no line per attempt) */
    for (uint64_t t = mv_loop_now(); mv_loop_now() - t < 700;)
        mv_loop_run_once(l, 50);
    assert_int_equal(lb.lines, 2);
    server_start(NULL);
    assert_true(wait_up(l, r, 8000));
    assert_int_equal(lb.connected, 2);
    assert_int_equal(lb.lines, 3);
    do_put(l, r, "s:k@kill.test", MV_CACHE_POSITIVE, "again", 2, 60);
    res = do_get(l, r, "s:k@kill.test");
    assert_true(res.found);
    assert_memory_equal(res.val, "again", 5);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
    free(m.calls);
    free(s);
}

static void test_auth(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook good = {0}, bad = {0}, none = {0};
    mv_redis *r, *rb, *rn;
    result res = {0};

    (void)state;
    server_start("sekrit");
    r = client(l, sock, "sekrit", 1000, &good);
    rb = client(l, sock, "wrong", 1000, &bad);
    rn = client(l, sock, NULL, 1000, &none);
    assert_true(wait_up(l, r, 3000));
    do_put(l, r, "s:a@auth.test", MV_CACHE_POSITIVE, "v", 1, 60);
    assert_true(do_get(l, r, "s:a@auth.test").found);
    for (uint64_t t = mv_loop_now(); mv_loop_now() - t < 500;)
        mv_loop_run_once(l, 50);
    assert_false(mv_redis_up(rb));
    assert_false(mv_redis_up(rn));
    assert_int_equal(bad.lines, 1);
    assert_non_null(strstr(bad.last, "AUTH"));
    assert_int_equal(none.lines, 1);
    assert_non_null(strstr(none.last, "NOAUTH"));
    assert_int_equal(mv_redis_get(rb, "k", 1, on_get, &res), MV_REDIS_UNAVAILABLE);
    mv_redis_free(rb);
    mv_redis_free(rn);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

/* cache.redis_db: SELECT in the handshake, every key in that database */
static void test_select_db(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis_params p = {0};
    mv_redis *r;
    char server[160];
    redisContext *c;
    redisReply *rep;
    long long in5 = -1, in0 = -1;

    (void)state;
    server_start(NULL);
    snprintf(server, sizeof(server), "unix:%s", sock);
    p.server = server;
    p.db = 5;
    p.prefix = "mv:";
    p.log = log_cb;
    p.log_arg = &lb;
    r = mv_redis_new(l, &p);
    assert_non_null(r);
    assert_true(wait_up(l, r, 3000));
    assert_true(do_put(l, r, "s:db@x.test", MV_CACHE_POSITIVE, "v", 1, 60).stored);
    assert_true(do_get(l, r, "s:db@x.test").found);
    c = sync_conn(NULL);
    assert_non_null(c);
    rep = redisCommand(c, "EXISTS mv:s:db@x.test");
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        in0 = rep->integer;
    freeReplyObject(rep);
    freeReplyObject(redisCommand(c, "SELECT 5"));
    rep = redisCommand(c, "EXISTS mv:s:db@x.test");
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        in5 = rep->integer;
    freeReplyObject(rep);
    redisFree(c);
    assert_int_equal(in0, 0);
    assert_int_equal(in5, 1);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

/* An ACL user (Redis 6+): AUTH user password; its key pattern is enforced */
static void test_acl_user(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook good = {0}, bad = {0};
    mv_redis_params p = {0};
    mv_redis *r, *rb;
    char server[160];
    redisContext *c;
    redisReply *rep;
    result res;

    (void)state;
    server_start("sekrit");
    c = sync_conn("sekrit");
    assert_non_null(c);
    /* exactly the commands the README lists for an ACL user */
    rep = redisCommand(c, "ACL SETUSER mvuser on >upw ~mv:* +get +set +setrange +incrby +pttl "
                          "+expire +eval +evalsha +script|load +scan +unlink +del +select");
    assert_true(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
    snprintf(server, sizeof(server), "unix:%s", sock);
    p.server = server;
    p.user = "mvuser";
    p.password = "upw";
    p.prefix = "mv:";
    p.log = log_cb;
    p.log_arg = &good;
    r = mv_redis_new(l, &p);
    p.password = "wrong";
    p.log_arg = &bad;
    rb = mv_redis_new(l, &p);
    assert_non_null(r);
    assert_non_null(rb);
    assert_true(wait_up(l, r, 3000));
    assert_true(do_put(l, r, "s:acl@x.test", MV_CACHE_POSITIVE, "v", 1, 60).stored);
    assert_true(do_get(l, r, "s:acl@x.test").found);
    assert_false(do_put(l, r, "s:acl@x.test", MV_CACHE_TEMPORARY, "t", 1, 60).stored); /* kept */
    res = (result){0};
    assert_int_equal(mv_redis_incr(r, "c:dha:1", 7, 1, 60, on_incr, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_int_equal(res.value, 1);
    res = (result){0};
    assert_int_equal(mv_redis_del(r, "c:dha:1", 7, on_del, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.st, MV_REDIS_OK);
    res = (result){0};
    assert_int_equal(mv_redis_purge_domain(r, "x.test", on_purge, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_int_equal(res.deleted, 1);
    for (uint64_t t = mv_loop_now(); mv_loop_now() - t < 300;)
        mv_loop_run_once(l, 20);
    assert_false(mv_redis_up(rb));
    assert_non_null(strstr(bad.last, "AUTH"));
    mv_redis_free(rb);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void test_tcp_refused_then_up(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis_params p = {0};
    char server[32], ps[16];
    int port = free_tcp_port();
    mv_redis *r;
    pid_t pid;
    result res;

    (void)state;
    snprintf(server, sizeof(server), "127.0.0.1:%d", port);
    snprintf(ps, sizeof(ps), "%d", port);
    p.server = server;
    p.log = log_cb;
    p.log_arg = &lb;
    r = mv_redis_new(l, &p);
    assert_non_null(r);
    /* nothing listens: one line, then quiet retries; calls answer at once */
    for (uint64_t t = mv_loop_now(); mv_loop_now() - t < 400;)
        mv_loop_run_once(l, 20);
    assert_false(mv_redis_up(r));
    assert_int_equal(lb.cannot, 1);
    assert_int_equal(lb.lines, 1);
    assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res), MV_REDIS_UNAVAILABLE);
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);

        dup2(fd, 1);
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", ps, "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    server_pid = pid;
    assert_true(wait_up(l, r, 8000));
    assert_int_equal(lb.connected, 1);
    do_put(l, r, "s:tcp@x.test", MV_CACHE_POSITIVE, "v", 1, 60);
    assert_true(do_get(l, r, "s:tcp@x.test").found);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void test_two_engines_share(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook la = {0}, lb = {0};
    mv_redis *a, *b;
    result res;

    (void)state;
    server_start(NULL);
    a = client(l, sock, NULL, 1000, &la);
    b = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, a, 3000) && wait_up(l, b, 3000));
    do_put(l, a, "s:shared@x.test", MV_CACHE_NEGATIVE, "550 no", 100, 60);
    res = do_get(l, b, "s:shared@x.test");
    assert_true(res.found);
    assert_int_equal(res.e.cls, MV_CACHE_NEGATIVE);
    /* b's temporary failure does not clobber a's negative verdict */
    assert_false(do_put(l, b, "s:shared@x.test", MV_CACHE_TEMPORARY, "451", 200, 60).stored);
    res = do_get(l, a, "s:shared@x.test");
    assert_int_equal(res.e.cls, MV_CACHE_NEGATIVE);
    assert_int_equal(res.e.probed_at, 200);
    mv_redis_free(a);
    mv_redis_free(b);
    mv_loop_free(l);
    server_kill();
}

/* Writes made while a connection is being made queue behind its handshake
 * (first connection: EVAL, the SHA is not known yet; a reconnect:
 * EVALSHA); reads are refused at once. The server is stopped (SIGSTOP)
 * while the client reconnects, so the handshake is certainly pending. */
static void test_writes_during_handshake(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result put = {0}, get = {0}, incr = {0};

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(mv_redis_connecting(r));
    assert_int_equal(mv_redis_put(r, "s:early@x.test", 14, MV_CACHE_POSITIVE, "v1", 2, 100, 60, on_put, &put),
                     MV_REDIS_OK);
    assert_int_equal(mv_redis_incr(r, "c:early", 7, 3, 60, on_incr, &incr), MV_REDIS_OK);
    assert_int_equal(mv_redis_get(r, "s:early@x.test", 14, on_get, &get), MV_REDIS_UNAVAILABLE);
    assert_int_equal(mv_redis_incr(r, "c:early", 7, 0, 60, on_incr, &get), MV_REDIS_UNAVAILABLE);
    assert_true(run_until(l, &put.calls, 1, 3000));
    assert_int_equal(put.st, MV_REDIS_OK);
    assert_true(put.stored);
    assert_true(run_until(l, &incr.calls, 1, 3000));
    assert_int_equal(incr.value, 3);
    assert_true(mv_redis_up(r));
    assert_true(do_get(l, r, "s:early@x.test").found);
    /* a read (by 0) of an absent counter is 0 and creates nothing */
    incr = (result){0};
    assert_int_equal(mv_redis_incr(r, "c:none", 6, 0, 60, on_incr, &incr), MV_REDIS_OK);
    assert_true(run_until(l, &incr.calls, 1, 3000));
    assert_int_equal(incr.st, MV_REDIS_OK);
    assert_int_equal(incr.value, 0);
    assert_int_equal(redis_int("EXISTS %s", "mv:c:none"), 0);
    incr = (result){0};
    assert_int_equal(mv_redis_incr(r, "c:early", 7, 0, 60, on_incr, &incr), MV_REDIS_OK);
    assert_true(run_until(l, &incr.calls, 1, 3000));
    assert_int_equal(incr.value, 3);
    assert_true(incr.ttl_ms > 50000 && incr.ttl_ms <= 60000);
    /* Redis restarts (empty) and is stopped before the client reconnects */
    server_kill();
    for (uint64_t t = mv_loop_now(); mv_redis_up(r) && mv_loop_now() - t < 3000;)
        mv_loop_run_once(l, 10);
    assert_false(mv_redis_up(r));
    server_start(NULL);
    assert_int_equal(kill(server_pid, SIGSTOP), 0);
    for (uint64_t t = mv_loop_now(); !mv_redis_connecting(r) && mv_loop_now() - t < 8000;)
        mv_loop_run_once(l, 5);
    assert_true(mv_redis_connecting(r));
    put = (result){0};
    get = (result){0};
    assert_int_equal(mv_redis_put(r, "s:back@x.test", 13, MV_CACHE_NEGATIVE, "550", 3, 200, 60, on_put, &put),
                     MV_REDIS_OK);
    assert_int_equal(mv_redis_get(r, "s:back@x.test", 13, on_get, &get), MV_REDIS_UNAVAILABLE);
    assert_int_equal(kill(server_pid, SIGCONT), 0);
    assert_true(run_until(l, &put.calls, 1, 3000));
    assert_int_equal(put.st, MV_REDIS_OK);
    assert_true(put.stored);
    assert_int_equal(lb.connected, 2);
    get = do_get(l, r, "s:back@x.test");
    assert_true(get.found);
    assert_int_equal(get.e.cls, MV_CACHE_NEGATIVE);
    assert_int_equal(redis_int("EXISTS %s", "mv:s:early@x.test"), 0); /* it did restart */
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void test_incr_purge_corrupt(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result res = {0};
    static const char *keep[] = {"s:c@y.test",        "s:d@xx.test", "s:e@x.test.org",
                                 "s:f@y.test|x.test", "f:xx.test",   "f:x.test.org|mx.x.test",
                                 "c:dha:x.test"};
    static const char *facts[] = {"f:x.test", "f:X.test|mx.hop.test"};
    unsigned char bad[40] = "MV\001\007";

    (void)state;
    server_start(NULL);
    r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, r, 3000));
    /* a fixed window: the first increment sets the TTL, the next keep it */
    for (int i = 1; i <= 3; i++) {
        res = (result){0};
        assert_int_equal(mv_redis_incr(r, "dha:1.2.3.4", 11, 2, 10, on_incr, &res), MV_REDIS_OK);
        assert_true(run_until(l, &res.calls, 1, 3000));
        assert_int_equal(res.st, MV_REDIS_OK);
        assert_int_equal(res.value, 2 * i);
        assert_true(res.ttl_ms > 9000 && res.ttl_ms <= 10000);
    }
    assert_true(redis_int("TTL %s", "mv:dha:1.2.3.4") > 8);
    /* purge: 1200 keys of the domain (several SCAN batches), others stay */
    for (int i = 0; i < 1200; i++) {
        char k[48];

        snprintf(k, sizeof(k), i % 2 ? "s:u%d@x.test" : "d:u%d@X.test|mx.x.test", i);
        assert_int_equal(mv_redis_put(r, k, strlen(k), MV_CACHE_POSITIVE, "v", 1, 1, 60, NULL, NULL),
                         MV_REDIS_OK);
    }
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        do_put(l, r, keep[i], MV_CACHE_POSITIVE, "v", 1, 60);
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) /* the domain's facts go too */
        do_put(l, r, facts[i], MV_CACHE_NEGATIVE, "f", 1, 60);
    res = (result){0};
    assert_int_equal(mv_redis_purge_domain(r, "x.test", on_purge, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 5000));
    assert_int_equal(res.st, MV_REDIS_OK);
    assert_int_equal(res.deleted, 1202);
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
        assert_false(do_get(l, r, facts[i]).found);
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        assert_true(do_get(l, r, keep[i]).found);
    /* corrupt and foreign values are misses, and a put replaces them */
    redis_set_raw("mv:s:bad1@x.test", "garbage", 7);
    redis_set_raw("mv:s:bad2@x.test", bad, sizeof(bad));
    redis_set_raw("mv:s:bad3@x.test", bad, 3);
    assert_int_equal(redis_int("HSET %s f v", "mv:s:bad4@x.test"), 1);
    for (int i = 1; i <= 4; i++) {
        char k[32];

        snprintf(k, sizeof(k), "s:bad%d@x.test", i);
        res = do_get(l, r, k);
        assert_int_equal(res.st, MV_REDIS_OK);
        assert_false(res.found);
        assert_true(do_put(l, r, k, MV_CACHE_TEMPORARY, "t", 5, 60).stored);
        assert_true(do_get(l, r, k).found);
    }
    /* NOSCRIPT (a flushed script cache): put falls back to EVAL */
    assert_int_equal(redis_int("SCRIPT FLUSH%s", ""), -999);
    assert_true(do_put(l, r, "s:after-flush@x.test", MV_CACHE_POSITIVE, "v", 1, 60).stored);
    mv_redis_free(r);
    mv_loop_free(l);
    server_kill();
}

static void on_get_free(void *arg, mv_redis_status st, const mv_redis_entry *e);

typedef struct {
    mv_redis *r;
    int calls, cancelled;
} freer;

static void on_get_free(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    freer *f = arg;

    (void)e;
    if (f->calls++ == 0)
        mv_redis_free(f->r); /* from inside a callback: the rest complete, cancelled */
    f->cancelled += st == MV_REDIS_CANCELLED;
}

static void test_free_in_callback(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    freer f = {0};

    (void)state;
    server_start(NULL);
    f.r = client(l, sock, NULL, 1000, &lb);
    assert_true(wait_up(l, f.r, 3000));
    for (int i = 0; i < 100; i++)
        assert_int_equal(mv_redis_get(f.r, "k", 1, on_get_free, &f), MV_REDIS_OK);
    assert_true(run_until(l, &f.calls, 100, 3000));
    for (int i = 0; i < 20; i++)
        mv_loop_run_once(l, 1);
    assert_int_equal(f.calls, 100);
    assert_int_equal(f.cancelled, 99);
    mv_loop_free(l);
    server_kill();
}

/* The reader's guards on bytes alone (what fuzz_redis drives) */
static void test_parse_guards(void **state)
{
    static const char ok[] = "$-1\r\n:5\r\n+OK\r\n";
    static const char big_array[] = "*5000\r\n";
    char huge[64];

    (void)state;
    assert_int_equal(mv_redis_parse(ok, sizeof(ok) - 1, 3), 3);
    assert_int_equal(mv_redis_parse(ok, sizeof(ok) - 1, 2), -1); /* one nobody asked for */
    assert_int_equal(mv_redis_parse(ok, 7, 3), 1);               /* the rest is to come */
    assert_int_equal(mv_redis_parse(big_array, sizeof(big_array) - 1, 1), -1);
    snprintf(huge, sizeof(huge), "$999999999\r\nabc"); /* waits: a partial bulk */
    assert_int_equal(mv_redis_parse(huge, strlen(huge), 1), 0);
    assert_int_equal(mv_redis_parse("?garbage\r\n", 10, 1), -1);
}

static void test_params(void **state)
{
    char err[256];
    mv_redis_params p = {0};

    (void)state;
    p.server = "127.0.0.1:6379";
    assert_true(mv_redis_check_params(&p, err, sizeof(err)));
    p.tls = true; /* the system's CA store */
    assert_true(mv_redis_check_params(&p, err, sizeof(err)));
    p.tls_ca_file = "/nonexistent/ca.pem";
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    p.tls_ca_file = NULL;
    p.tls_cert_file = "/etc/passwd"; /* no key */
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    assert_non_null(strstr(err, "certificate and its key"));
    p.tls_key_file = "/etc/passwd"; /* not PEM */
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    assert_non_null(strstr(err, "/etc/passwd"));
    p.tls_cert_file = p.tls_key_file = NULL;
    p.server = "unix:/run/redis.sock";
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    assert_non_null(strstr(err, "TCP address"));
    p.server = "127.0.0.1:6379";
    p.tls = false;
    p.server = "redis.example:6379";
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    p.server = "[::1]:6379";
    assert_true(mv_redis_check_params(&p, err, sizeof(err)));
    p.server = "127.0.0.1:0";
    assert_false(mv_redis_check_params(&p, err, sizeof(err)));
    p.server = "unix:/run/redis.sock";
    assert_true(mv_redis_check_params(&p, err, sizeof(err)));
}

/* ---- a hostile server ------------------------------------------------------ */

enum { H_GARBAGE, H_HUGE_BULK, H_SILENT, H_EXTRA, H_HUGE_ARRAY, H_WRONG_TYPE, H_MODES };

/* read_command - one RESP array of bulk strings; the first word and the count */
static int read_command(FILE *in, char *word, size_t wsize)
{
    char line[64];
    long n, len;

    if (fgets(line, sizeof(line), in) == NULL || line[0] != '*')
        return -1;
    n = strtol(line + 1, NULL, 10);
    for (long i = 0; i < n; i++) {
        if (fgets(line, sizeof(line), in) == NULL || line[0] != '$')
            return -1;
        len = strtol(line + 1, NULL, 10);
        for (long j = 0; j < len + 2; j++) {
            int c = fgetc(in);

            if (c == EOF)
                return -1;
            if (i == 0 && j < len && (size_t)j < wsize - 1)
                word[j] = (char)c, word[j + 1] = '\0';
        }
    }
    return (int)n;
}

static void hostile_conn(int fd, int mode)
{
    FILE *in = fdopen(fd, "r");
    char word[32];
    static char big[1 << 16];
    int gets = 0;

    memset(big, 'x', sizeof(big));
    while (read_command(in, word, sizeof(word)) > 0) {
        const char *out = NULL;

        if (strcmp(word, "SCRIPT") == 0)
            out = "$40\r\n0123456789012345678901234567890123456789\r\n";
        else if (mode == H_GARBAGE)
            out = "this is not redis\r\n";
        else if (mode == H_HUGE_BULK) {
            if (write(fd, "$999999999\r\n", 12) < 0)
                break;
            for (int i = 0; i < 64; i++)
                if (send(fd, big, sizeof(big), MSG_NOSIGNAL) < 0)
                    break;
            continue;
        } else if (mode == H_EXTRA)
            out = ++gets % 3 ? "$-1\r\n" : "$-1\r\n+OK\r\n:1\r\n";
        else if (mode == H_HUGE_ARRAY)
            out = "*2000000000\r\n:1\r\n";
        else if (mode == H_WRONG_TYPE)
            out = ":42\r\n";
        if (out != NULL && send(fd, out, strlen(out), MSG_NOSIGNAL) < 0)
            break;
    }
    fclose(in);
}

static pid_t hostile_start(const char *path, int mode)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    pid_t pid;

    unlink(path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 8), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;) {
            int fd = accept(ls, NULL, NULL);

            if (fd >= 0)
                hostile_conn(fd, mode);
        }
    }
    close(ls);
    return pid;
}

/* what a client sees of each hostile server: the three GETs' statuses */
static const struct {
    int mode;
    const char *name;
    mv_redis_status want[3];
    const char *why; /* in the log line */
} hostile_cases[] = {
    {H_GARBAGE, "garbage", {MV_REDIS_PROTO, MV_REDIS_PROTO, MV_REDIS_PROTO}, "Protocol error"},
    {H_HUGE_BULK, "huge bulk", {MV_REDIS_PROTO, MV_REDIS_PROTO, MV_REDIS_PROTO}, "larger than 1 MiB"},
    {H_SILENT, "silent", {MV_REDIS_TIMEOUT, MV_REDIS_TIMEOUT, MV_REDIS_TIMEOUT}, "no answer within 300 ms"},
    /* all three answered (misses), then replies nobody asked for: dropped, no assert */
    {H_EXTRA, "extra replies", {MV_REDIS_OK, MV_REDIS_OK, MV_REDIS_OK}, "nobody asked for"},
    {H_HUGE_ARRAY, "huge array", {MV_REDIS_PROTO, MV_REDIS_PROTO, MV_REDIS_PROTO}, "array of 2000000000"},
    {H_WRONG_TYPE, "wrong type", {MV_REDIS_PROTO, MV_REDIS_PROTO, MV_REDIS_PROTO}, "wrong type"},
};

static void test_hostile(void **state)
{
    char path[100];

    (void)state;
    snprintf(path, sizeof(path), "%.80s/hostile.sock", dir);
    for (size_t c = 0; c < sizeof(hostile_cases) / sizeof(hostile_cases[0]); c++) {
        const char *name = hostile_cases[c].name;
        mv_loop *l = mv_loop_new();
        logbook lb = {0};
        pid_t pid = hostile_start(path, hostile_cases[c].mode);
        mv_redis *r = client(l, path, NULL, 300, &lb);
        result res[3] = {{0}};
        int done = 0;
        uint64_t t0 = mv_loop_now();

        if (!wait_up(l, r, 3000))
            fail_case("%s: never up: %s", name, lb.last);
        for (int i = 0; i < 3; i++)
            assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res[i]), MV_REDIS_OK);
        while ((done < 3 || lb.lost == 0) && mv_loop_now() - t0 < 3000) {
            mv_loop_run_once(l, 10);
            done = res[0].calls + res[1].calls + res[2].calls;
        }
        for (int i = 0; i < 10; i++)
            mv_loop_run_once(l, 1);
        for (int i = 0; i < 3; i++) {
            if (res[i].calls != 1)
                fail_case("%s: request %d completed %d times", name, i, res[i].calls);
            if (res[i].st != hostile_cases[c].want[i] || res[i].found)
                fail_case("%s: request %d: %s", name, i, mv_redis_strstatus(res[i].st));
        }
        if (lb.lost != 1 || strstr(lb.last, hostile_cases[c].why) == NULL)
            fail_case("%s: %d lost lines (%s)", name, lb.lost, lb.last);
        assert_false(mv_redis_up(r));
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
        cmocka_unit_test_teardown(test_params, after),
        cmocka_unit_test_teardown(test_parse_guards, after),
        cmocka_unit_test_teardown(test_roundtrip_ttl, after),
        cmocka_unit_test_teardown(test_never_clobber, after),
        cmocka_unit_test_teardown(test_pipeline_10000, after),
        cmocka_unit_test_teardown(test_pending_cap, after),
        cmocka_unit_test_teardown(test_server_killed, after),
        cmocka_unit_test_teardown(test_auth, after),
        cmocka_unit_test_teardown(test_acl_user, after),
        cmocka_unit_test_teardown(test_select_db, after),
        cmocka_unit_test_teardown(test_tcp_refused_then_up, after),
        cmocka_unit_test_teardown(test_two_engines_share, after),
        cmocka_unit_test_teardown(test_incr_purge_corrupt, after),
        cmocka_unit_test_teardown(test_writes_during_handshake, after),
        cmocka_unit_test_teardown(test_free_in_callback, after),
        cmocka_unit_test_teardown(test_hostile, after),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
