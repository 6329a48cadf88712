/* SPDX-License-Identifier: MIT */
/*
 * redis_fixture.h - what the Redis unit tests share: a real redis-server
 * started on a unix socket in a temp directory (plus, for the TLS tests,
 * a tls-port), synchronous helpers to look at it, and a client driven by
 * a loop until a callback came. Static, for inclusion by one test file
 * each (test_redis.c, test_redis_tls.c).
 */
#ifndef MV_REDIS_FIXTURE_H
#define MV_REDIS_FIXTURE_H

#include "unit.h"
#include "loop.h"
#include "redis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char sock[128];
static pid_t server_pid;
static const char *server_extra[16]; /* more redis-server arguments (TLS) */

/* ---- the real server, run by the test ------------------------------------ */

static inline redisContext *sync_conn(const char *pass)
{
    redisContext *c = redisConnectUnix(sock);
    redisReply *rep;

    if (c == NULL || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (pass != NULL && (rep = redisCommand(c, "AUTH %s", pass)) != NULL)
        freeReplyObject(rep);
    return c;
}

static inline void server_start(const char *pass)
{
    char *argv[32] = {"redis-server", "--port", "0",           "--unixsocket", sock,         "--save", "",
                      "--appendonly", "no",     "--daemonize", "no",           "--loglevel", "warning"};
    int n = 13;
    redisContext *c;

    if (pass != NULL) {
        argv[n++] = "--requirepass";
        argv[n++] = (char *)pass;
    }
    for (int i = 0; server_extra[i] != NULL && n < 30; i++)
        argv[n++] = (char *)server_extra[i];
    argv[n] = NULL;
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        dup2(fd, 1);
        execvp("redis-server", argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        redisReply *rep;

        if ((c = sync_conn(pass)) != NULL && (rep = redisCommand(c, "PING")) != NULL) {
            bool ok = rep->type == REDIS_REPLY_STATUS;

            freeReplyObject(rep);
            redisFree(c);
            if (ok)
                return;
        } else if (c != NULL) {
            redisFree(c);
        }
        usleep(10000);
    }
    fail_msg("redis-server did not start");
}

static inline void server_kill(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* redis_cmd - a synchronous command on a fresh connection; the reply as an integer or -999 */
static inline long long redis_int(const char *fmt, const char *arg)
{
    redisContext *c = sync_conn(NULL);
    redisReply *rep;
    long long v = -999;

    assert_non_null(c);
    rep = redisCommand(c, fmt, arg);
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
    return v;
}

static inline void redis_set_raw(const char *key, const void *val, size_t len)
{
    redisContext *c = sync_conn(NULL);
    redisReply *rep;

    assert_non_null(c);
    rep = redisCommand(c, "SET %s %b", key, val, len);
    assert_non_null(rep);
    freeReplyObject(rep);
    redisFree(c);
}

/* free_tcp_port - a loopback port nobody listens on */
static inline int free_tcp_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* ---- the client side ----------------------------------------------------- */

typedef struct {
    int lines, lost, connected, cannot;
    char last[512];
} logbook;

static inline void log_cb(void *arg, int prio, const char *msg)
{
    logbook *lb = arg;

    (void)prio;
    lb->lines++;
    lb->lost += strstr(msg, "connection lost") != NULL;
    lb->connected += strstr(msg, "connected;") != NULL;
    lb->cannot += strstr(msg, "cannot connect") != NULL;
    snprintf(lb->last, sizeof(lb->last), "%s", msg);
}

static inline mv_redis *client(mv_loop *l, const char *path, const char *pass, unsigned timeout, logbook *lb)
{
    char server[160];
    mv_redis_params p = {0};
    mv_redis *r;

    snprintf(server, sizeof(server), "unix:%s", path);
    p.server = server;
    p.password = pass;
    p.prefix = "mv:";
    p.timeout_ms = timeout;
    p.log = log_cb;
    p.log_arg = lb;
    r = mv_redis_new(l, &p);
    assert_non_null(r);
    return r;
}

static inline bool run_until(mv_loop *l, const int *flag, int want, unsigned ms)
{
    uint64_t start = mv_loop_now();

    while (*flag < want && mv_loop_now() - start < ms)
        mv_loop_run_once(l, 10);
    return *flag >= want;
}

static inline bool wait_up(mv_loop *l, mv_redis *r, unsigned ms)
{
    uint64_t start = mv_loop_now();

    while (!mv_redis_up(r) && mv_loop_now() - start < ms)
        mv_loop_run_once(l, 10);
    return mv_redis_up(r);
}

typedef struct {
    int calls;
    mv_redis_status st;
    bool found, stored;
    mv_redis_entry e;
    char val[MV_CACHE_VAL_MAX];
    int64_t value, ttl_ms;
    uint64_t deleted;
} result;

static inline void on_get(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    result *res = arg;

    res->calls++;
    res->st = st;
    res->found = e != NULL;
    if (e != NULL) {
        res->e = *e;
        memcpy(res->val, e->val, e->vlen);
        res->e.val = res->val;
    }
}

static inline void on_put(void *arg, mv_redis_status st, bool stored)
{
    result *res = arg;

    res->calls++;
    res->st = st;
    res->stored = stored;
}

static inline void on_del(void *arg, mv_redis_status st, bool existed)
{
    on_put(arg, st, existed);
}

static inline void on_incr(void *arg, mv_redis_status st, int64_t value, int64_t ttl_ms)
{
    result *res = arg;

    res->calls++;
    res->st = st;
    res->value = value;
    res->ttl_ms = ttl_ms;
}

static inline void on_purge(void *arg, mv_redis_status st, uint64_t deleted)
{
    result *res = arg;

    res->calls++;
    res->st = st;
    res->deleted = deleted;
}

static inline result do_get(mv_loop *l, mv_redis *r, const char *key)
{
    result res = {0};

    assert_int_equal(mv_redis_get(r, key, strlen(key), on_get, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.calls, 1);
    return res;
}

static inline result do_put(mv_loop *l, mv_redis *r, const char *key, mv_cache_class cls, const char *val,
                            int64_t now, uint32_t ttl)
{
    result res = {0};

    assert_int_equal(mv_redis_put(r, key, strlen(key), cls, val, strlen(val), now, ttl, on_put, &res),
                     MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.st, MV_REDIS_OK);
    return res;
}


static inline int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mv-redis-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static inline int teardown(void **state)
{
    char cmd[160];

    (void)state;
    server_kill();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
