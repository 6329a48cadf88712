/*
 * bench_redis.c - cached lookups through the Redis client on loopback.
 *
 * Usage: bench_redis [-n LOOKUPS] [-k KEYS] [-w WINDOWS]   (run inside tests/in-netns)
 *
 * Starts its own redis-server on 127.0.0.1 (a free port, --save "",
 * --appendonly no), stores KEYS entries with mv_redis_put, then runs
 * LOOKUPS mv_redis_get calls for each pipelining window in WINDOWS (a
 * comma list, default 1,16,64,256: how many GETs are kept outstanding on
 * the one connection). Each lookup is timed from the call to its callback
 * on the monotonic clock; it prints lookups/s and p50/p99/max latency. As
 * with the other benchmarks this prints figures and never fails on them.
 * The last lines, "RATE name value", are for a driver script to pick up.
 */
#include "loop.h"
#include "redis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
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
    uint64_t *lat;              /* ns, one per lookup */
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

/* start_server - redis-server on 127.0.0.1:port; its pid, or -1 */
static pid_t start_server(int port)
{
    char ps[16];
    pid_t pid;

    snprintf(ps, sizeof(ps), "%d", port);
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0)
            dup2(fd, 1);
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", ps, "--save", "",
               "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 500; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        bool up = c != NULL && !c->err;

        if (c != NULL)
            redisFree(c);
        if (up)
            return pid;
        usleep(10000);
    }
    return -1;
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

static void run_window(bench *b, unsigned window)
{
    uint64_t t0, el;

    b->window = window;
    b->issued = b->done = b->found = b->errors = 0;
    t0 = now_ns();
    issue(b);
    while (b->done < b->total)
        mv_loop_run_once(b->l, 100);
    el = now_ns() - t0;
    qsort(b->lat, b->total, sizeof(b->lat[0]), cmp_u64);
    printf("window %4u: %8.0f lookups/s  p50 %7.1f us  p99 %7.1f us  max %8.1f us  "
           "(%u found, %u errors)\n",
           window, b->total / (el / 1e9), b->lat[b->total / 2] / 1e3,
           b->lat[(size_t)(b->total * 0.99)] / 1e3, b->lat[b->total - 1] / 1e3, b->found,
           b->errors);
    printf("RATE redis_get_w%u %.0f\n", window, b->total / (el / 1e9));
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
    int port = free_port(), opt;
    pid_t pid;
    mv_redis_params p = {0};

    b.total = 200000;
    b.keys = 10000;
    while ((opt = getopt(argc, argv, "n:k:w:")) != -1) {
        if (opt == 'n')
            b.total = (unsigned)atoi(optarg);
        else if (opt == 'k')
            b.keys = (unsigned)atoi(optarg);
        else if (opt == 'w')
            free(windows), windows = strdup(optarg);
        else
            return fprintf(stderr, "usage: bench_redis [-n N] [-k KEYS] [-w 1,64]\n"), 64;
    }
    if (port < 0 || (pid = start_server(port)) < 0 || b.total == 0 || b.keys == 0)
        return fprintf(stderr, "bench_redis: cannot start redis-server\n"), 1;
    snprintf(server, sizeof(server), "127.0.0.1:%d", port);
    p.server = server;
    p.prefix = "bench:";
    b.l = mv_loop_new();
    b.r = mv_redis_new(b.l, &p);
    b.lat = calloc(b.total, sizeof(*b.lat));
    while (b.r != NULL && !mv_redis_up(b.r))
        mv_loop_run_once(b.l, 10);
    for (unsigned i = 0; i < b.keys; i++) {
        char k[32];
        unsigned char v[64] = {0};

        snprintf(k, sizeof(k), "s:user%u@bench.test", i);
        if (mv_redis_put(b.r, k, strlen(k), MV_CACHE_POSITIVE, v, sizeof(v), time(NULL), 600,
                         on_put, NULL) != MV_REDIS_OK)
            count_put++;
        while (i + 1 - (unsigned)count_put > 1000)
            mv_loop_run_once(b.l, 10);
    }
    while ((unsigned)count_put < b.keys)
        mv_loop_run_once(b.l, 10);
    printf("redis-server %s, %u keys of 84 bytes, %u GETs per window, one connection\n", server,
           b.keys, b.total);
    for (tok = strtok_r(windows, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        run_window(&b, (unsigned)atoi(tok) ? (unsigned)atoi(tok) : 1);
    mv_redis_free(b.r);
    mv_loop_free(b.l);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(b.lat);
    free(windows);
    return 0;
}
