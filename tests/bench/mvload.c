/* SPDX-License-Identifier: MIT */
/*
 * mvload.c - a load driver for the engine: addresses in, every one through
 * mv_engine_submit() with a bounded window in flight, latencies out.
 *
 * Usage: mvload [OPTIONS] [FILE]        (no FILE or "-": standard input)
 *
 * The addresses (one a line; a CR before the LF is dropped) are read into
 * memory first. Then each pass submits all of them, keeping at most
 * --window requests in flight, and times each request on the monotonic
 * clock from just before mv_engine_submit() to its callback -- which runs
 * on the engine's thread, or inline before submit returns for answers that
 * need no network (offline, cached). --repeat K runs the whole list K
 * times in the same process and engine, so the second pass is answered
 * from the verdict cache; each pass is reported on its own: count, wall
 * time, rate, latency p50/p90/p99/max, cached answers, counts per reason,
 * resident memory before and after the pass and the cache's entries (read
 * through engine_int.h: this is a test tool, not a front end).
 *
 * With --json each verdict's JSON line (the CLI's format) is written to
 * standard output in INPUT order, and the summary goes to standard error;
 * without it the summary goes to standard output. Ordered output buffers
 * at most 4 x window finished verdicts: a request that is still in flight
 * holds back the output behind it, and so, past that buffer, submission.
 * The last line of each pass, "RESULT key=value ...", is for scripts.
 *
 * This program prints figures; it never fails on them (no timed assertions
 * in this project). Exit status: 0 when every request was answered, 1 if
 * some submit failed, 64 bad usage, 70 could not start, 78 bad config.
 */
#include "engine.h"
#include "engine_int.h"

#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *s;
    size_t len;
} line;

typedef struct {
    char *text;
    size_t len;
    line *lines;
    size_t n;
} input;

typedef struct {
    char *s; /* a verdict's JSON line, NULL: not yet */
    size_t len;
} ready;

/* One pass: shared between the submitting thread and the callbacks. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t inflight, finished;
    uint64_t *lat_ns;  /* per input line: start time, then latency */
    unsigned char *ok; /* per input line: answered */
    size_t by_reason[MV_R_COUNT];
    size_t cached, errors;
    bool json;
    ready *ring; /* finished JSON lines, by index % nring */
    size_t nring, printed;
} pass;

static const char usage[] = "Usage: mvload [OPTIONS] [FILE]   (addresses, one a line; none or -: stdin)\n"
                            "  -w, --window N        requests in flight at most (default 1000)\n"
                            "  -k, --repeat K        run the whole list K times in one engine (default 1)\n"
                            "  -j, --json            each verdict's JSON line on stdout, in input order\n"
                            "  -c, --config FILE     configuration (default: the built-in one)\n"
                            "  -r, --resolver HOST[:PORT]  DNS server (overrides dns.servers)\n"
                            "      --allow-private   probe loopback/private MX addresses (test worlds)\n"
                            "  -m, --mode MODE       offline, dns or smtp (default: the context's)\n"
                            "  -x, --context NAME    sender, recipient, form or bulk (default bulk)\n"
                            "  -t, --timeout MS      deadline per request (default: the context's)\n";

/* now_ns - monotonic nanoseconds */
static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* rss_kb - resident set size now (VmRSS), 0 if unknown */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char buf[256];
    long kb = 0;

    if (f == NULL)
        return 0;
    while (fgets(buf, sizeof(buf), f) != NULL)
        if (sscanf(buf, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* read_all - the whole of a file or stdin; -1 on error */
static int read_all(const char *path, input *in)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 1 << 16, n;

    if (f == NULL || (in->text = malloc(cap)) == NULL)
        return -1;
    in->len = 0;
    while ((n = fread(in->text + in->len, 1, cap - in->len, f)) > 0) {
        in->len += n;
        if (in->len == cap) {
            char *more = realloc(in->text, cap *= 2);

            if (more == NULL)
                return -1;
            in->text = more;
        }
    }
    if (ferror(f))
        return -1;
    if (f != stdin)
        fclose(f);
    return 0;
}

/* split - the text into lines (a final line without LF counts) */
static int split(input *in)
{
    size_t cap = 1024;
    char *p = in->text, *end = in->text + in->len;

    if ((in->lines = malloc(cap * sizeof(*in->lines))) == NULL)
        return -1;
    in->n = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        if (in->n == cap) {
            line *more = realloc(in->lines, (cap *= 2) * sizeof(*in->lines));

            if (more == NULL)
                return -1;
            in->lines = more;
        }
        in->lines[in->n++] = (line){p, n > 0 && p[n - 1] == '\r' ? n - 1 : n};
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static pass P;

/* on_verdict - a request's one answer: its latency, reason and JSON */
static void on_verdict(void *arg, const mv_verdict *v)
{
    size_t i = (size_t)(uintptr_t)arg;
    uint64_t t = now_ns();
    mv_buf b = {0};

    if (P.json) {
        mv_verdict_json(&b, v, 0);
        mv_buf_putc(&b, '\n');
    }
    pthread_mutex_lock(&P.mu);
    P.lat_ns[i] = t - P.lat_ns[i];
    P.ok[i] = 1;
    P.by_reason[v->reason]++;
    P.cached += v->cached;
    if (P.json && !mv_buf_ok(&b)) {
        mv_buf_free(&b);
        mv_buf_puts(&b, "{\"error\":\"out of memory\"}\n");
    }
    if (P.json)
        P.ring[i % P.nring] = (ready){b.data, b.len};
    P.inflight--;
    P.finished++;
    pthread_cond_signal(&P.cond);
    pthread_mutex_unlock(&P.mu);
}

/* flush - write the finished JSON lines that are next in input order
 * (called with the lock held; it is dropped while writing) */
static void flush(size_t n)
{
    ready out[256];
    size_t k;

    do {
        for (k = 0; k < 256 && P.printed < n && P.ring[P.printed % P.nring].s != NULL; k++) {
            out[k] = P.ring[P.printed % P.nring];
            P.ring[P.printed++ % P.nring].s = NULL;
        }
        pthread_mutex_unlock(&P.mu);
        for (size_t i = 0; i < k; i++) {
            fwrite(out[i].s, 1, out[i].len, stdout);
            free(out[i].s);
        }
        pthread_mutex_lock(&P.mu);
    } while (k == 256);
}

/* run_pass - submit every line, at most window in flight; wall seconds */
static double run_pass(mv_engine *e, mv_request *req, const input *in, size_t window)
{
    uint64_t t0 = now_ns();

    for (size_t i = 0; i < in->n; i++) {
        mv_call rc;

        pthread_mutex_lock(&P.mu);
        for (;;) {
            if (P.json)
                flush(in->n);
            if (P.inflight < window && (!P.json || i < P.printed + P.nring))
                break;
            pthread_cond_wait(&P.cond, &P.mu);
        }
        P.inflight++;
        pthread_mutex_unlock(&P.mu);
        req->address = in->lines[i].s;
        req->len = in->lines[i].len;
        P.lat_ns[i] = now_ns();
        if ((rc = mv_engine_submit(e, req, on_verdict, (void *)(uintptr_t)i)) != MV_OK) {
            char err[160];

            snprintf(err, sizeof(err), "{\"error\":\"%s\"}\n", mv_call_name(rc));
            pthread_mutex_lock(&P.mu);
            P.errors++;
            P.inflight--;
            P.finished++;
            if (P.json)
                P.ring[i % P.nring] = (ready){strdup(err), strlen(err)};
            pthread_mutex_unlock(&P.mu);
        }
    }
    pthread_mutex_lock(&P.mu);
    while (P.finished < in->n || (P.json && P.printed < in->n)) {
        if (P.json)
            flush(in->n);
        if (P.finished < in->n)
            pthread_cond_wait(&P.cond, &P.mu);
    }
    pthread_mutex_unlock(&P.mu);
    fflush(stdout);
    return (double)(now_ns() - t0) / 1e9;
}

/* cmp_u64 - for qsort */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* pct - the p-th percentile (nearest rank) of sorted values */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return 0;
    k = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[k == 0 ? 0 : k - 1 < n ? k - 1 : n - 1];
}

/* dur - a latency for people: microseconds below 10 ms, else milliseconds */
static const char *dur(char *buf, size_t size, uint64_t ns)
{
    if (ns < 10000000u)
        snprintf(buf, size, "%.1f us", (double)ns / 1e3);
    else
        snprintf(buf, size, "%.2f ms", (double)ns / 1e6);
    return buf;
}

/* report - one pass's figures, for people and for scripts */
static void report(FILE *o, mv_engine *e, int k, int passes, size_t n, double wall, long rss0, long rss1,
                   uint64_t *sorted)
{
    size_t m = 0;
    uint64_t p50, p90, p99, max;
    mv_cache_stats cs = {0};
    char a[32], b[32], c[32], d[32];

    for (size_t i = 0; i < n; i++)
        if (P.ok[i])
            sorted[m++] = P.lat_ns[i];
    qsort(sorted, m, sizeof(*sorted), cmp_u64);
    p50 = pct(sorted, m, 50), p90 = pct(sorted, m, 90), p99 = pct(sorted, m, 99);
    max = m ? sorted[m - 1] : 0;
    if (e->store != NULL) {
        mv_store_stats ss;

        mv_store_get_stats(e->store, &ss);
        cs = ss.c;
    }
    fprintf(o, "pass %d/%d: %zu addresses in %.3f s, %.1f/s\n", k, passes, n, wall,
            wall > 0 ? (double)n / wall : 0.0);
    fprintf(o, "  latency: p50 %s, p90 %s, p99 %s, max %s\n", dur(a, sizeof(a), p50), dur(b, sizeof(b), p90),
            dur(c, sizeof(c), p99), dur(d, sizeof(d), max));
    fprintf(o, "  cached answers: %zu; submit errors: %zu\n  reasons:", P.cached, P.errors);
    for (int r = 0; r < MV_R_COUNT; r++)
        if (P.by_reason[r])
            fprintf(o, " %s %zu", mv_reason_name((mv_reason)r), P.by_reason[r]);
    fprintf(o, "\n  rss: %ld kB before, %ld kB after; cache: %zu entries, %zu bytes accounted\n", rss0, rss1,
            cs.entries, cs.bytes);
    fprintf(o,
            "RESULT pass=%d count=%zu wall_s=%.6f rate=%.1f p50_us=%.2f p90_us=%.2f "
            "p99_us=%.2f max_us=%.2f cached=%zu errors=%zu rss_before_kb=%ld rss_after_kb=%ld "
            "cache_entries=%zu cache_bytes=%zu\n",
            k, n, wall, wall > 0 ? (double)n / wall : 0.0, (double)p50 / 1e3, (double)p90 / 1e3,
            (double)p99 / 1e3, (double)max / 1e3, P.cached, P.errors, rss0, rss1, cs.entries, cs.bytes);
    for (int r = 0; r < MV_R_COUNT; r++)
        if (P.by_reason[r])
            fprintf(o, "REASON pass=%d %s=%zu\n", k, mv_reason_name((mv_reason)r), P.by_reason[r]);
    fflush(o);
}

/* parse_mode - a --mode argument; -1 if unknown */
static int parse_mode(const char *s)
{
    return strcmp(s, "offline") == 0 ? MV_MODE_OFFLINE
           : strcmp(s, "dns") == 0   ? MV_MODE_DNS
           : strcmp(s, "smtp") == 0  ? MV_MODE_SMTP
                                     : -1;
}

/* load_config - the file or the built-in config; NULL after reporting why */
static mv_config *load_config(const char *path)
{
    mv_diag diag = {0};
    mv_config *cfg = mv_config_load(path, 0, &diag);

    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "mvload: %s\n", diag.items[i].text);
    mv_diag_clear(&diag);
    return cfg;
}

/* main - options, input, passes */
int main(int argc, char **argv)
{
    static const struct option opts[] = {{"window", required_argument, NULL, 'w'},
                                         {"repeat", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"resolver", required_argument, NULL, 'r'},
                                         {"allow-private", no_argument, NULL, 'p'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"context", required_argument, NULL, 'x'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    mv_request req = {.context = MV_CTX_BULK, .mode = MV_MODE_CONTEXT};
    mv_engine_options eo = {.resolver = NULL, .allow_private = -1};
    const char *config = NULL;
    long window = 1000, passes = 1;
    input in = {0};
    uint64_t *sorted;
    mv_config *cfg;
    mv_engine *e;
    int c, m, rc = 0;

    while ((c = getopt_long(argc, argv, "w:k:jc:r:m:x:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'w': window = strtol(optarg, NULL, 10); break;
        case 'k': passes = strtol(optarg, NULL, 10); break;
        case 'j': P.json = true; break;
        case 'c': config = optarg; break;
        case 'r': eo.resolver = optarg; break;
        case 'p': eo.allow_private = 1; break;
        case 'm':
            if ((m = parse_mode(optarg)) < 0)
                goto bad;
            req.mode = (mv_mode)m;
            break;
        case 'x':
            if ((m = mv_context_lookup(optarg)) < 0)
                goto bad;
            req.context = (mv_context)m;
            break;
        case 't': req.deadline_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        default: goto bad;
        }
    }
    if (window < 1 || passes < 1 || argc - optind > 1)
        goto bad;
    if (read_all(optind < argc ? argv[optind] : "-", &in) < 0 || split(&in) < 0) {
        perror("mvload: reading the addresses");
        return 74;
    }
    if ((cfg = load_config(config)) == NULL)
        return 78;
    e = mv_engine_new_opts(cfg, &eo);
    mv_config_unref(cfg);
    P.nring = (size_t)window * 4;
    P.lat_ns = calloc(in.n + 1, sizeof(*P.lat_ns));
    P.ok = calloc(in.n + 1, 1);
    sorted = calloc(in.n + 1, sizeof(*sorted));
    P.ring = P.json ? calloc(P.nring, sizeof(*P.ring)) : NULL;
    if (e == NULL || !P.lat_ns || !P.ok || !sorted || (P.json && !P.ring)) {
        fprintf(stderr, "mvload: out of memory\n");
        return 70;
    }
    /* touch what the passes write, so that the RSS before a pass counts it */
    memset(sorted, 0xff, (in.n + 1) * sizeof(*sorted));
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cond, NULL);
    for (int k = 1; k <= passes; k++) {
        long rss0 = rss_kb(), rss1;
        double wall;

        memset(P.ok, 0, in.n + 1);
        memset(P.by_reason, 0, sizeof(P.by_reason));
        P.inflight = P.finished = P.cached = P.errors = P.printed = 0;
        wall = run_pass(e, &req, &in, (size_t)window);
        rss1 = rss_kb();
        report(P.json ? stderr : stdout, e, k, (int)passes, in.n, wall, rss0, rss1, sorted);
        if (P.errors > 0)
            rc = 1;
        if (e->error[0] != '\0') {
            fprintf(stderr, "mvload: %s\n", mv_engine_error(e));
            rc = 70;
            break;
        }
    }
    mv_engine_free(e);
    free(sorted);
    free(P.lat_ns);
    free(P.ok);
    free(P.ring);
    free(in.lines);
    free(in.text);
    return rc;
bad:
    fputs(usage, stderr);
    return 64;
}
