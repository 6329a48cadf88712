/* SPDX-License-Identifier: MIT */
/*
 * bench_redis.c - cached lookups through the Redis client on loopback.
 *
 * Usage: bench_redis [-n LOOKUPS] [-k KEYS] [-w WINDOWS] [-t PKIDIR]
 *        (run inside tests/in-netns)
 *
 * Starts its own redis-server on 127.0.0.1 (a free port, --save "",
 * --appendonly no), stores KEYS entries with mv_redis_put, then runs
 * LOOKUPS mv_redis_get calls for each pipelining window in WINDOWS (a
 * comma list, default 1,16,64,256: how many GETs are kept outstanding on
 * the one connection). Each lookup is timed from the call to its callback
 * on the monotonic clock; it prints lookups/s and p50/p99/max latency. As
 * with the other benchmarks this prints figures and never fails on them.
 * The "RATE name value" lines are for a driver script to pick up.
 *
 * With -t, PKIDIR holds ca.crt, server.crt/.key and client.crt/.key (PEM;
 * the server's certificate names IP 127.0.0.1): the same redis-server
 * also gets a tls-port (another free port; Redis asks for a client
 * certificate), a second client connects to it with TLS (redis_tls.c's
 * pump) and every window is run on that connection too, right after the
 * plain one, on the same keys ("tls window" lines). If the server will
 * not start with a tls-port or the TLS connection does not come up, it
 * says so on stderr and runs the plain windows alone.
 *
 * Then the hit rate two processes gain by sharing this Redis, on the same
 * stream of RCPTs as bench_cache.c's share() (its LMDB figure): two
 * clients, each with its own memory tier in front, as cache.store =
 * "redis" works in the engine (store_redis.c, engine_net.c's ask_shared
 * and on_shared). A lookup asks the process's memory tier; on a miss it
 * asks Redis and waits for the answer; a Redis hit is copied into the
 * memory tier and counts as a hit; a Redis miss is a probe, whose verdict
 * goes into the memory tier and to Redis (fire and forget: the next
 * request does not wait for the write, the loop carries it). Its keys
 * have their own prefix, so the lookups above do not pre-fill it. The
 * same stream through two memory stores alone gives the "apart" figure,
 * which must equal bench_cache's (the driver script checks).
 */
#include "loop.h"
#include "redis.h"
#include "store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include "share_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    mv_loop *l;
    mv_redis *r;
    unsigned keys, total, window;
    unsigned issued, done, found, errors;
    uint64_t *lat; /* ns, one per lookup */
} bench;

typedef struct {
    bench *b;
    unsigned i;
    uint64_t t0;
} slot;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* free_port - a port nobody listens on, for redis-server */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* start_server - redis-server on 127.0.0.1:port, and with pki (not NULL)
 * a tls-port tls_port too; its pid, or -1 (it is not left running) */
static pid_t start_server(int port, const char *pki, int tls_port)
{
    char ps[16], tps[16], crt[512], key[512], ca[512];
    char *argv[24] = {"redis-server", "--bind", "127.0.0.1",  "--port", ps, "--save", "",
                      "--appendonly", "no",     "--loglevel", "warning"};
    int n = 11;
    pid_t pid;

    snprintf(ps, sizeof(ps), "%d", port);
    if (pki != NULL) {
        snprintf(tps, sizeof(tps), "%d", tls_port);
        snprintf(crt, sizeof(crt), "%s/server.crt", pki);
        snprintf(key, sizeof(key), "%s/server.key", pki);
        snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
        argv[n++] = "--tls-port";
        argv[n++] = tps;
        argv[n++] = "--tls-cert-file";
        argv[n++] = crt;
        argv[n++] = "--tls-key-file";
        argv[n++] = key;
        argv[n++] = "--tls-ca-cert-file";
        argv[n++] = ca;
    }
    argv[n] = NULL;
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0)
            dup2(fd, 1);
        execvp("redis-server", argv);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 500; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        bool up = c != NULL && !c->err;

        if (c != NULL)
            redisFree(c);
        if (up)
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1; /* it exited: bad arguments, no TLS in this build */
        usleep(10000);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

enum { LOGLINE = 256 };

/* tls_log - keep the TLS client's last log line (LOGLINE bytes at arg) */
static void tls_log(void *arg, int priority, const char *msg)
{
    (void)priority;
    snprintf(arg, LOGLINE, "%s", msg);
}

/* tls_client - a client of the tls-port with pki's CA and client pair,
 * up and ready; NULL (said on stderr) when it does not come up in 5 s */
static mv_redis *tls_client(mv_loop *l, const char *pki, int tls_port, char *logline)
{
    char server[32], ca[512], crt[512], key[512];
    mv_redis_params p = {0};
    mv_redis *r;

    snprintf(server, sizeof(server), "127.0.0.1:%d", tls_port);
    snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
    snprintf(crt, sizeof(crt), "%s/client.crt", pki);
    snprintf(key, sizeof(key), "%s/client.key", pki);
    p.server = server;
    p.prefix = "bench:"; /* the plain client's: the same keys */
    p.tls = true;
    p.tls_ca_file = ca;
    p.tls_cert_file = crt;
    p.tls_key_file = key;
    p.log = tls_log;
    p.log_arg = logline;
    if ((r = mv_redis_new(l, &p)) == NULL) {
        fprintf(stderr, "bench_redis: TLS client refused: %s; no TLS rows\n", logline);
        return NULL;
    }
    for (int i = 0; i < 500 && !mv_redis_up(r); i++)
        mv_loop_run_once(l, 10);
    if (!mv_redis_up(r)) {
        fprintf(stderr, "bench_redis: no TLS connection to %s in 5 s (%s); no TLS rows\n", server,
                logline[0] ? logline : "no log line");
        mv_redis_free(r);
        return NULL;
    }
    return r;
}

static void issue(bench *b);

static void on_get(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    slot *s = arg;
    bench *b = s->b;

    b->lat[s->i] = now_ns() - s->t0;
    b->done++;
    b->found += e != NULL;
    b->errors += st != MV_REDIS_OK;
    free(s);
    issue(b);
}

/* issue - keep the window full */
static void issue(bench *b)
{
    while (b->issued < b->total && b->issued - b->done < b->window) {
        char k[32];
        slot *s = malloc(sizeof(*s));

        if (s == NULL)
            break;
        snprintf(k, sizeof(k), "s:user%u@bench.test", b->issued % b->keys);
        *s = (slot){b, b->issued, now_ns()};
        if (mv_redis_get(b->r, k, strlen(k), on_get, s) != MV_REDIS_OK) {
            free(s);
            b->errors++;
            b->lat[b->issued] = 0;
            b->done++;
        }
        b->issued++;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* run_window - b->total GETs on r, window outstanding; tls names the rows */
static void run_window(bench *b, mv_redis *r, bool tls, unsigned window)
{
    uint64_t t0, el;

    b->r = r;
    b->window = window;
    b->issued = b->done = b->found = b->errors = 0;
    t0 = now_ns();
    issue(b);
    while (b->done < b->total)
        mv_loop_run_once(b->l, 100);
    el = now_ns() - t0;
    qsort(b->lat, b->total, sizeof(b->lat[0]), cmp_u64);
    printf("%swindow %4u: %8.0f lookups/s  p50 %7.1f us  p99 %7.1f us  max %8.1f us  "
           "(%u found, %u errors)\n",
           tls ? "tls " : "", window, b->total / (el / 1e9), b->lat[b->total / 2] / 1e3,
           b->lat[(size_t)(b->total * 0.99)] / 1e3, b->lat[b->total - 1] / 1e3, b->found, b->errors);
    printf("RATE redis%s_get_w%u %.0f\n", tls ? "_tls" : "", window, b->total / (el / 1e9));
}

/* a Redis GET's answer, copied out of the reply */
typedef struct {
    bool done, found;
    mv_redis_status st;
    mv_cache_class cls;
    int64_t stored_at;
    char val[MV_CACHE_VAL_MAX];
    size_t vlen;
} share_get;

/* the puts in flight and how they ended */
typedef struct {
    unsigned sent, done, failed;
} share_puts;

static void share_on_get(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    share_get *g = arg;

    g->done = true;
    g->st = st;
    g->found =
        st == MV_REDIS_OK && e != NULL && (unsigned)e->cls < MV_CACHE_CLASSES && e->vlen <= sizeof(g->val);
    if (g->found) {
        g->cls = e->cls;
        g->stored_at = e->stored_at;
        g->vlen = e->vlen;
        memcpy(g->val, e->val, e->vlen);
    }
}

static void share_on_put(void *arg, mv_redis_status st, bool stored)
{
    share_puts *sp = arg;

    (void)stored;
    sp->done++;
    sp->failed += st != MV_REDIS_OK;
}

/* share - the hit rates of two processes, apart and sharing one Redis */
static int share(mv_loop *l, const char *server)
{
    mv_redis_params p = {.server = server, .prefix = "share:"};
    mv_redis *cl[2] = {NULL, NULL};
    mv_store *apart[2] = {NULL, NULL}, *tier[2] = {NULL, NULL};
    unsigned char *probed = calloc(SHARE_ADDRS, 1); /* bit p: process p probed it */
    unsigned seed = SHARE_SEED;
    size_t hits_apart = 0, hits_shared = 0, redis_gets = 0, redis_hits = 0, repeats = 0;
    size_t get_errors = 0;
    share_puts puts = {0};
    char k[128], v[MV_CACHE_VAL_MAX];
    size_t vl;
    mv_cache_class cls;
    int ret = 1;

    for (int i = 0; i < 2; i++)
        if ((apart[i] = mv_store_memory_new(100000, 64 << 20)) == NULL ||
            (tier[i] = mv_store_memory_new(100000, 64 << 20)) == NULL ||
            (cl[i] = mv_redis_new(l, &p)) == NULL)
            goto out;
    if (probed == NULL)
        goto out;
    for (int i = 0; i < 500 && !(mv_redis_up(cl[0]) && mv_redis_up(cl[1])); i++)
        mv_loop_run_once(l, 10);
    if (!mv_redis_up(cl[0]) || !mv_redis_up(cl[1]))
        goto out;
    for (size_t r = 0; r < SHARE_REQ; r++) {
        size_t a = zipf(&seed, SHARE_ADDRS), kl = key_of(k, sizeof(k), a + SHARE_KEY_OFFSET);
        int pr = (int)(r & 1);
        int64_t now = share_now(r);
        share_get g = {0};
        mv_redis_status st;

        if (mv_store_get(apart[pr], k, kl, now, &share_ttl, v, sizeof(v), &vl, &cls) != MV_CACHE_MISS)
            hits_apart++;
        else
            mv_store_put(apart[pr], k, kl, now, &share_ttl, MV_CACHE_POSITIVE, "probed", 6);
        /* sharing: the memory tier, then Redis (waited for), then a probe */
        if (mv_store_get(tier[pr], k, kl, now, &share_ttl, v, sizeof(v), &vl, &cls) != MV_CACHE_MISS) {
            hits_shared++;
            continue;
        }
        redis_gets++;
        if ((st = mv_redis_get(cl[pr], k, kl, share_on_get, &g)) == MV_REDIS_OK)
            while (!g.done)
                mv_loop_run_once(l, 100);
        if (st != MV_REDIS_OK || g.st != MV_REDIS_OK)
            get_errors++; /* the engine probes then, as here */
        if (g.found) {
            /* mv_store_redis_fill: into the memory tier as Redis' writer stored it */
            mv_store_put(tier[pr], k, kl, g.stored_at, &share_ttl, g.cls, g.val, g.vlen);
            hits_shared++;
            redis_hits++;
            continue;
        }
        repeats += (probed[a] & (1u << (1 - pr))) != 0;
        probed[a] |= (unsigned char)(1u << pr);
        mv_store_put(tier[pr], k, kl, now, &share_ttl, MV_CACHE_POSITIVE, "probed", 6);
        if (mv_redis_put(cl[pr], k, kl, MV_CACHE_POSITIVE, "probed", 6, now,
                         share_ttl.expire[MV_CACHE_POSITIVE], share_on_put, &puts) == MV_REDIS_OK)
            puts.sent++;
        else
            puts.failed++;
    }
    while (puts.done < puts.sent)
        mv_loop_run_once(l, 100);
    printf("sharing via Redis: 2 processes, %d RCPTs (Zipf over %d addresses): hit rate %.1f%% "
           "with separate memory caches, %.1f%% sharing one Redis behind each one's memory "
           "tier (%.0f%% fewer probes; %zu GETs, %zu Redis hits, %zu probes of an address "
           "the other had probed, %zu GET and %u PUT errors)\n",
           SHARE_REQ, SHARE_ADDRS, 100.0 * (double)hits_apart / SHARE_REQ,
           100.0 * (double)hits_shared / SHARE_REQ,
           100.0 * (1.0 - (double)(SHARE_REQ - hits_shared) / (double)(SHARE_REQ - hits_apart)), redis_gets,
           redis_hits, repeats, get_errors, puts.failed);
    ret = 0;
out:
    if (ret != 0)
        fprintf(stderr, "bench_redis: the sharing run could not start\n");
    for (int i = 0; i < 2; i++) {
        mv_redis_free(cl[i]);
        mv_store_free(apart[i]);
        mv_store_free(tier[i]);
    }
    free(probed);
    return ret;
}

static int count_put;

static void on_put(void *arg, mv_redis_status st, bool stored)
{
    (void)arg;
    (void)st;
    (void)stored;
    count_put++;
}

int main(int argc, char **argv)
{
    bench b = {0};
    char server[32], *windows = strdup("1,16,64,256"), *tok, *save = NULL;
    char tls_why[LOGLINE] = "";
    const char *pki = NULL;
    int port = free_port(), tls_port = -1, opt, rc;
    pid_t pid = -1;
    mv_redis_params p = {0};
    mv_redis *plain, *tls = NULL;

    b.total = 200000;
    b.keys = 10000;
    signal(SIGPIPE, SIG_IGN); /* redis.h: hiredis and the TLS pump write to sockets */
    while ((opt = getopt(argc, argv, "n:k:w:t:")) != -1) {
        if (opt == 'n')
            b.total = (unsigned)atoi(optarg);
        else if (opt == 'k')
            b.keys = (unsigned)atoi(optarg);
        else if (opt == 'w')
            free(windows), windows = strdup(optarg);
        else if (opt == 't')
            pki = optarg;
        else
            return fprintf(stderr, "usage: bench_redis [-n N] [-k KEYS] [-w 1,64] [-t PKIDIR]\n"), 64;
    }
    if (b.total == 0 || b.keys == 0)
        return fprintf(stderr, "bench_redis: -n and -k must be at least 1\n"), 64;
    if (port >= 0 && pki != NULL) {
        do
            tls_port = free_port();
        while (tls_port == port);
        if (tls_port < 0 || (pid = start_server(port, pki, tls_port)) < 0) {
            fprintf(stderr,
                    "bench_redis: redis-server did not start with a tls-port (%s); "
                    "no TLS rows\n",
                    pki);
            pki = NULL;
        }
    }
    if (port < 0 || (pid < 0 && (pid = start_server(port, NULL, -1)) < 0))
        return fprintf(stderr, "bench_redis: cannot start redis-server\n"), 1;
    snprintf(server, sizeof(server), "127.0.0.1:%d", port);
    p.server = server;
    p.prefix = "bench:";
    b.l = mv_loop_new();
    b.r = plain = mv_redis_new(b.l, &p);
    b.lat = calloc(b.total, sizeof(*b.lat));
    while (b.r != NULL && !mv_redis_up(b.r))
        mv_loop_run_once(b.l, 10);
    for (unsigned i = 0; i < b.keys; i++) {
        char k[32];
        unsigned char v[64] = {0};

        snprintf(k, sizeof(k), "s:user%u@bench.test", i);
        if (mv_redis_put(b.r, k, strlen(k), MV_CACHE_POSITIVE, v, sizeof(v), time(NULL), 600, on_put, NULL) !=
            MV_REDIS_OK)
            count_put++;
        while (i + 1 - (unsigned)count_put > 1000)
            mv_loop_run_once(b.l, 10);
    }
    while ((unsigned)count_put < b.keys)
        mv_loop_run_once(b.l, 10);
    printf("redis-server %s, %u keys of 84 bytes, %u GETs per window, one connection\n", server, b.keys,
           b.total);
    if (pki != NULL && (tls = tls_client(b.l, pki, tls_port, tls_why)) != NULL)
        printf("tls: 127.0.0.1:%d, the same server and keys, one connection: %s\n", tls_port, tls_why);
    for (tok = strtok_r(windows, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        unsigned w = (unsigned)atoi(tok) ? (unsigned)atoi(tok) : 1;

        run_window(&b, plain, false, w);
        if (tls != NULL)
            run_window(&b, tls, true, w);
    }
    if (tls != NULL) {
        mv_redis_stats st;

        mv_redis_get_stats(tls, &st);
        printf("tls connection: %llu connects, %llu drops, %llu timeouts, %llu failed, "
               "%llu refused (unavailable)\n",
               (unsigned long long)st.connects, (unsigned long long)st.drops, (unsigned long long)st.timeouts,
               (unsigned long long)st.failed, (unsigned long long)st.unavailable);
    }
    mv_redis_free(tls);
    mv_redis_free(plain);
    rc = share(b.l, server);
    mv_loop_free(b.l);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(b.lat);
    free(windows);
    return rc;
}
