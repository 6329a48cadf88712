/* SPDX-License-Identifier: MIT */
/*
 * bench_offline.c - throughput of the engine's offline path on one thread.
 *
 * Usage: bench_offline [-r ROUNDS] [-x CONTEXT] [-E] CORPUS
 *
 * The corpus (one address a line, as tests/bench/gen-corpus writes it) is
 * read into memory first, so that what is timed is the engine and nothing
 * else: mv_engine_check() in offline mode -- parse, normalize, IDNA, the
 * disposable/free/role lists, typo suggestions, policy -- over every
 * address, ROUNDS times. Then the same again with each verdict rendered as
 * JSON into one reused buffer, which is what `mailverify check --json`
 * and the FastCGI plugin add. It prints addresses per second (best round
 * and median) and the peak RSS before and after the rounds, to show that
 * memory does not grow with the number of addresses checked. -E skips
 * the JSON rounds, for profiling the engine alone (perf record).
 *
 * This program prints figures; it never fails on them (project rule: no
 * timed assertions). The last lines, "RATE name value", are for
 * tests/bench/bench-offline to pick up.
 */
#include "engine.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *s;
    size_t len;
} line;

typedef struct {
    char *text;
    line *lines;
    size_t n;
} corpus;

/* now_s - monotonic seconds */
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* peak_rss_kb - the process's peak resident set so far */
static long peak_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* slurp - the whole file; NULL on error */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* load - split the file into lines (LF, a CR before it dropped, as the CLI does) */
static int load(const char *path, corpus *c)
{
    size_t len, cap = 1024;
    char *p, *end;

    if ((c->text = slurp(path, &len)) == NULL)
        return -1;
    c->lines = malloc(cap * sizeof(*c->lines));
    c->n = 0;
    for (p = c->text, end = c->text + len; p < end && c->lines != NULL;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        if (c->n == cap) {
            line *more = realloc(c->lines, (cap *= 2) * sizeof(*c->lines));

            if (more == NULL) {
                free(c->lines);
                c->lines = NULL;
                break;
            }
            c->lines = more;
        }
        c->lines[c->n++] = (line){p, n > 0 && p[n - 1] == '\r' ? n - 1 : n};
        p = nl ? nl + 1 : end;
    }
    return c->lines == NULL ? -1 : 0;
}

/* round_engine - check every address once; a checksum of the verdicts */
static unsigned long round_engine(mv_engine *e, mv_request *req, const corpus *c,
                                  unsigned long by_status[MV_STATUS_COUNT])
{
    unsigned long sum = 0;
    mv_verdict v;

    for (size_t i = 0; i < c->n; i++) {
        req->address = c->lines[i].s;
        req->len = c->lines[i].len;
        if (mv_engine_check(e, req, &v) != MV_OK)
            continue;
        by_status[v.status]++;
        sum += (unsigned long)v.reason * 31 + v.action + v.has_suggestion;
    }
    return sum;
}

/* round_json - check and render every address; bytes of JSON written */
static unsigned long round_json(mv_engine *e, mv_request *req, const corpus *c, mv_buf *out)
{
    unsigned long bytes = 0;
    mv_verdict v;

    for (size_t i = 0; i < c->n; i++) {
        req->address = c->lines[i].s;
        req->len = c->lines[i].len;
        if (mv_engine_check(e, req, &v) != MV_OK)
            continue;
        mv_buf_reset(out);
        mv_verdict_json(out, &v, 0);
        mv_buf_putc(out, '\n');
        bytes += out->len;
    }
    return bytes;
}

/* cmp_double - for qsort */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* report - best and median rate of a set of rounds */
static double report(const char *what, double *secs, int rounds, size_t n)
{
    double best, median;

    qsort(secs, (size_t)rounds, sizeof(*secs), cmp_double);
    best = (double)n / secs[0];
    median = (double)n / secs[rounds / 2];
    printf("%-24s best %12.0f /s   median %12.0f /s   (%.1f ns per address)\n", what, best, median,
           1e9 / best);
    return best;
}

/* run - the timed rounds; 0 or an exit status */
static int run(mv_engine *e, mv_context ctx, const corpus *c, int rounds, bool no_json)
{
    mv_request req = {.context = ctx, .mode = MV_MODE_OFFLINE};
    unsigned long by_status[MV_STATUS_COUNT] = {0}, check = 0, bytes = 0;
    double *secs = calloc((size_t)rounds, sizeof(*secs));
    double eng, json = 0;
    mv_buf out = {0};
    long rss0;

    if (secs == NULL)
        return 1;
    /* warm caches, page in, and grow the JSON buffer before RSS is taken */
    round_engine(e, &req, c, by_status);
    if (!no_json)
        round_json(e, &req, c, &out);
    memset(by_status, 0, sizeof(by_status));
    rss0 = peak_rss_kb();
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();

        check += round_engine(e, &req, c, by_status);
        secs[r] = now_s() - t0;
    }
    eng = report("engine (offline path)", secs, rounds, c->n);
    for (int r = 0; r < rounds && !no_json; r++) {
        double t0 = now_s();

        bytes += round_json(e, &req, c, &out);
        secs[r] = now_s() - t0;
    }
    if (!no_json)
        json = report("engine + JSON", secs, rounds, c->n);
    printf("verdicts per round: deliverable %lu, undeliverable %lu, risky %lu, unknown %lu "
           "(checksum %lx, %.0f bytes of JSON each)\n",
           by_status[0] / (unsigned)rounds, by_status[1] / (unsigned)rounds, by_status[2] / (unsigned)rounds,
           by_status[3] / (unsigned)rounds, check, (double)bytes / rounds);
    printf("peak RSS: %ld kB before the rounds, %ld kB after %d x %zu checks\n", rss0, peak_rss_kb(),
           (no_json ? 1 : 2) * rounds, c->n);
    printf("RATE engine %.0f\nRATE engine_json %.0f\n", eng, json);
    mv_buf_free(&out);
    free(secs);
    return 0;
}

/* main - load the corpus and the built-in config, then run the rounds */
int main(int argc, char **argv)
{
    int rounds = 5, ctx = MV_CTX_FORM, opt, rc;
    bool no_json = false;
    corpus c = {0};
    mv_diag diag = {0};
    mv_config *cfg;
    mv_engine *e;

    while ((opt = getopt(argc, argv, "r:x:E")) != -1) {
        bool ok =
            opt == 'E' || (opt == 'r' && atoi(optarg) > 0) || (opt == 'x' && mv_context_lookup(optarg) >= 0);

        if (!ok) {
            fputs("usage: bench_offline [-r ROUNDS] [-x CONTEXT] [-E] CORPUS\n", stderr);
            return 64;
        }
        if (opt == 'E')
            no_json = true;
        else if (opt == 'r')
            rounds = atoi(optarg);
        else
            ctx = mv_context_lookup(optarg);
    }
    if (optind + 1 != argc || load(argv[optind], &c) < 0) {
        fprintf(stderr, "bench_offline: cannot load the corpus\n");
        return 66;
    }
    printf("peak RSS: %ld kB after loading %zu addresses\n", peak_rss_kb(), c.n);
    if ((cfg = mv_config_load(NULL, 0, &diag)) == NULL || (e = mv_engine_new(cfg)) == NULL) {
        fprintf(stderr, "bench_offline: cannot load the built-in config\n");
        return 70;
    }
    mv_config_unref(cfg);
    printf("peak RSS: %ld kB with the engine (built-in config and lists); context %s, %d rounds\n",
           peak_rss_kb(), mv_context_name((mv_context)ctx), rounds);
    rc = run(e, (mv_context)ctx, &c, rounds, no_json);
    mv_engine_free(e);
    mv_diag_clear(&diag);
    free(c.lines);
    free(c.text);
    return rc;
}
