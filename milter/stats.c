/* SPDX-License-Identifier: MIT */
/*
 * stats.c - counters, latency histogram, control socket; see stats.h.
 *
 * The control socket speaks one line each way: the client sends "stats",
 * "stats json" or "stats prometheus", the server writes the report and
 * closes. The socket is created while the daemon is still root and
 * chmod'ed 0660, so only root and the daemon's group read it.
 *
 * The Prometheus exposition (mv_stats_render_prometheus) is the one both
 * `mailverify stats --prometheus` and the daemon's GET /metrics
 * (metricsd.c) show. Its names follow the web plugin's /metrics
 * (plugins/fastcgi/metrics.c): mailverify_verdicts_total{reason,action},
 * mailverify_cache_hits_total, mailverify_engine_queue_depth,
 * mailverify_probes_in_flight; what only the daemon has gets names of its
 * own in the same style (_total counters, _seconds, HELP and TYPE lines).
 */
#include "stats.h"
#include "version.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 32 /* bucket i: latency < 2^i microseconds */

static const char *const event_names[MV_STAT_COUNT] = {
    "skipped_authenticated", "skipped_trusted", "skipped_null_sender", "skipped_domain",     "dha_tempfail",
    "dry_run_would_refuse",  "connections",     "engine_errors",       "policy_connections",
};

struct mv_stats {
    atomic_ullong reason[MV_R_COUNT];
    atomic_ullong action[MV_ACT_COUNT];
    atomic_ullong pair[MV_R_COUNT][MV_ACT_COUNT]; /* for mailverify_verdicts_total */
    atomic_ullong cached, verdicts, sum_us;
    atomic_ullong event[MV_STAT_COUNT];
    atomic_ullong hist[BUCKETS];
    time_t started;
    mv_engine *engine; /* for the queue gauges; NULL: none */
    int fd;
    char path[108];
    pthread_t thread;
    bool serving;
};

/* mv_stats_new - zeroed counters; NULL on ENOMEM */
mv_stats *mv_stats_new(void)
{
    mv_stats *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->started = time(NULL);
    s->fd = -1;
    return s;
}

/* bucket - the histogram bucket of a latency */
static unsigned bucket(uint64_t us)
{
    unsigned b = 0;

    while (b < BUCKETS - 1 && us >= (1ULL << b))
        b++;
    return b;
}

/* mv_stats_verdict - count one verdict and its latency */
void mv_stats_verdict(mv_stats *s, const mv_verdict *v, uint64_t elapsed_us)
{
    atomic_fetch_add(&s->reason[v->reason], 1);
    atomic_fetch_add(&s->action[v->action], 1);
    atomic_fetch_add(&s->pair[v->reason][v->action], 1);
    atomic_fetch_add(&s->verdicts, 1);
    atomic_fetch_add(&s->sum_us, elapsed_us);
    if (v->cached)
        atomic_fetch_add(&s->cached, 1);
    atomic_fetch_add(&s->hist[bucket(elapsed_us)], 1);
}

/* mv_stats_set_engine - the engine whose queue the exposition shows */
void mv_stats_set_engine(mv_stats *s, mv_engine *e)
{
    s->engine = e;
}

/* mv_stats_event - count one event */
void mv_stats_event(mv_stats *s, mv_stat_event e)
{
    atomic_fetch_add(&s->event[e], 1);
}

/* percentile - the bucket bound under which p of the verdicts fell, in us */
static unsigned long long percentile(const unsigned long long *h, unsigned long long n, double p)
{
    unsigned long long want = (unsigned long long)(p * (double)n + 0.5), seen = 0;

    if (n == 0)
        return 0;
    for (unsigned b = 0; b < BUCKETS; b++) {
        seen += h[b];
        if (seen >= want && h[b] > 0)
            return 1ULL << b;
    }
    return 1ULL << (BUCKETS - 1);
}

/* mv_stats_render - the counters as text (or JSON) */
void mv_stats_render(mv_stats *s, mv_buf *out, bool json)
{
    unsigned long long h[BUCKETS], n = atomic_load(&s->verdicts);
    static const double ps[] = {0.5, 0.9, 0.99, 0.999};
    static const char *const pn[] = {"p50", "p90", "p99", "p999"};

    for (unsigned b = 0; b < BUCKETS; b++)
        h[b] = atomic_load(&s->hist[b]);
    mv_buf_printf(out,
                  json ? "{\"uptime_s\":%lld,\"verdicts\":%llu,\"cached\":%llu"
                       : "uptime_s %lld\nverdicts %llu\ncached %llu\n",
                  (long long)(time(NULL) - s->started), n, (unsigned long long)atomic_load(&s->cached));
    for (int r = 0; r < MV_R_COUNT; r++)
        mv_buf_printf(out, json ? ",\"reason.%s\":%llu" : "reason.%s %llu\n", mv_reason_name((mv_reason)r),
                      (unsigned long long)atomic_load(&s->reason[r]));
    for (int a = 0; a < MV_ACT_COUNT; a++)
        mv_buf_printf(out, json ? ",\"action.%s\":%llu" : "action.%s %llu\n", mv_action_name((mv_action)a),
                      (unsigned long long)atomic_load(&s->action[a]));
    for (int e = 0; e < MV_STAT_COUNT; e++)
        mv_buf_printf(out, json ? ",\"%s\":%llu" : "%s %llu\n", event_names[e],
                      (unsigned long long)atomic_load(&s->event[e]));
    for (size_t i = 0; i < sizeof(ps) / sizeof(*ps); i++)
        mv_buf_printf(out, json ? ",\"latency_%s_us\":%llu" : "latency_%s_us %llu\n", pn[i],
                      percentile(h, n, ps[i]));
    if (json)
        mv_buf_puts(out, "}\n");
}

/* head - a metric's HELP and TYPE lines */
static void head(mv_buf *out, const char *name, const char *type, const char *help)
{
    mv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* counter - a counter without labels: HELP, TYPE and its one sample */
static void counter(mv_buf *out, const char *name, const char *help, unsigned long long v)
{
    head(out, name, "counter", help);
    mv_buf_printf(out, "%s %llu\n", name, v);
}

/* prom_verdicts - verdicts by reason and action (the pairs seen), as the
 * web plugin shows its own */
static void prom_verdicts(mv_stats *s, mv_buf *out)
{
    head(out, "mailverify_verdicts_total", "counter",
         "Verdicts answered to the MTA (milter and policy service), by reason and action.");
    for (int r = 0; r < MV_R_COUNT; r++)
        for (int a = 0; a < MV_ACT_COUNT; a++) {
            unsigned long long n = atomic_load(&s->pair[r][a]);

            if (n > 0)
                mv_buf_printf(out, "mailverify_verdicts_total{reason=\"%s\",action=\"%s\"} %llu\n",
                              mv_reason_name((mv_reason)r), mv_action_name((mv_action)a), n);
        }
}

/* prom_latency - the latency histogram: bucket b holds latencies under
 * 2^b us, so its upper bound is 2^b us (exclusive where Prometheus' le is
 * inclusive: one microsecond apart); 64 us to 33.6 s are shown, the
 * lower buckets folded into the first */
static void prom_latency(mv_stats *s, mv_buf *out)
{
    static const char name[] = "mailverify_check_duration_seconds";
    unsigned long long cum = 0;

    head(out, name, "histogram", "Time from MAIL FROM or RCPT TO (or a policy request) to the verdict.");
    for (unsigned b = 0; b < BUCKETS; b++) {
        cum += atomic_load(&s->hist[b]);
        if (b >= 6 && b <= 25)
            mv_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, (double)(1ULL << b) / 1e6, cum);
    }
    mv_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
    mv_buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&s->sum_us) / 1e6, name,
                  (unsigned long long)atomic_load(&s->verdicts));
}

/* prom_events - what the milter and the policy service counted beside verdicts */
static void prom_events(mv_stats *s, mv_buf *out)
{
    static const char *const why[] = {"authenticated", "trusted", "null_sender", "domain"};

    head(out, "mailverify_skipped_total", "counter",
         "Senders or recipients accepted without a check, by why.");
    for (int e = MV_STAT_SKIP_AUTH; e <= MV_STAT_SKIP_DOMAIN; e++)
        mv_buf_printf(out, "mailverify_skipped_total{why=\"%s\"} %llu\n", why[e - MV_STAT_SKIP_AUTH],
                      (unsigned long long)atomic_load(&s->event[e]));
    counter(out, "mailverify_dha_tempfails_total",
            "Recipients tempfailed unprobed by the harvest (DHA) budget.",
            atomic_load(&s->event[MV_STAT_DHA]));
    counter(out, "mailverify_dry_run_would_refuse_total", "Refusals not made because of dry_run.",
            atomic_load(&s->event[MV_STAT_DRY_RUN]));
    counter(out, "mailverify_engine_errors_total", "Checks the engine could not answer.",
            atomic_load(&s->event[MV_STAT_ENGINE_ERRORS]));
    head(out, "mailverify_connections_total", "counter", "Connections from the MTA, by service.");
    mv_buf_printf(out,
                  "mailverify_connections_total{service=\"milter\"} %llu\n"
                  "mailverify_connections_total{service=\"policy\"} %llu\n",
                  (unsigned long long)atomic_load(&s->event[MV_STAT_CONNECTIONS]),
                  (unsigned long long)atomic_load(&s->event[MV_STAT_POLICY_CONNECTIONS]));
}

/* mv_stats_render_prometheus - the counters in Prometheus' text format */
void mv_stats_render_prometheus(mv_stats *s, mv_buf *out)
{
    head(out, "mailverify_build_info", "gauge", "The running program and its version.");
    mv_buf_printf(out, "mailverify_build_info{program=\"mailverifyd\",version=\"%s\"} 1\n", MV_VERSION);
    head(out, "mailverify_start_time_seconds", "gauge",
         "When mailverifyd started, in seconds since the epoch.");
    mv_buf_printf(out, "mailverify_start_time_seconds %lld\n", (long long)s->started);
    prom_verdicts(s, out);
    counter(out, "mailverify_cache_hits_total", "Verdicts answered from the cache.", atomic_load(&s->cached));
    prom_latency(s, out);
    prom_events(s, out);
    mv_engine_render_prometheus(s->engine, out);
}

/* serve_one - one client: read its command, answer, close */
static void serve_one(mv_stats *s, int c)
{
    char cmd[64];
    ssize_t n = recv(c, cmd, sizeof(cmd) - 1, 0);
    mv_buf out = {0};
    size_t off = 0;

    if (n <= 0)
        return;
    cmd[n] = '\0';
    if (strncmp(cmd, "stats prometheus", 16) == 0)
        mv_stats_render_prometheus(s, &out);
    else if (strncmp(cmd, "stats", 5) == 0)
        mv_stats_render(s, &out, strstr(cmd, "json") != NULL);
    else
        mv_buf_puts(&out, "error: unknown command (try \"stats\", \"stats json\" or \"stats prometheus\")\n");
    while (mv_buf_ok(&out) && off < out.len) {
        ssize_t w = send(c, out.data + off, out.len - off, MSG_NOSIGNAL);

        if (w <= 0)
            break;
        off += (size_t)w;
    }
    mv_buf_free(&out);
}

/* serve - the control socket's thread */
static void *serve(void *arg)
{
    mv_stats *s = arg;

    for (;;) {
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* the socket was shut down */
        }
        /* a client that never writes must not hold the socket */
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){2, 0}, sizeof(struct timeval));
        serve_one(s, c);
        close(c);
    }
}

/* mv_stats_serve - answer on a unix socket from a thread; -1 with errno */
int mv_stats_serve(mv_stats *s, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    snprintf(s->path, sizeof(s->path), "%s", path);
    unlink(path);
    if ((s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0660) < 0 ||
        listen(s->fd, 16) < 0 || pthread_create(&s->thread, NULL, serve, s) != 0) {
        int e = errno;

        close(s->fd);
        s->fd = -1;
        errno = e;
        return -1;
    }
    s->serving = true;
    return 0;
}

/* mv_stats_close - stop serving and unlink the socket (before the engine
 * the exposition reads goes); the counters stay */
void mv_stats_close(mv_stats *s)
{
    if (s == NULL || !s->serving)
        return;
    shutdown(s->fd, SHUT_RDWR); /* wakes accept() with an error */
    pthread_join(s->thread, NULL);
    unlink(s->path);
    s->serving = false;
}

/* mv_stats_free - stop serving, unlink the socket, release */
void mv_stats_free(mv_stats *s)
{
    if (s == NULL)
        return;
    mv_stats_close(s);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}
