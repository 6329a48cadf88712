/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - counters and histogram for /metrics; see metrics.h.
 */
#include "metrics.h"
#include "version.h"

#include <stdatomic.h>
#include <stdlib.h>

static const int statuses[] = {200, 201, 204, 302, 400, 401, 403, 404,
                               405, 413, 415, 422, 429, 502, 503, 504};
#define NSTATUS (sizeof(statuses) / sizeof(*statuses))

/* histogram bounds in microseconds (le="0.0005" ... le="5") */
static const uint64_t bounds_us[] = {500,    1000,   2500,   5000,    10000,   25000,  50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000};
#define NBOUNDS (sizeof(bounds_us) / sizeof(*bounds_us))

struct mv_metrics {
    atomic_ullong status[NSTATUS + 1]; /* the last one: anything else */
    atomic_ullong verdict[MV_R_COUNT][MV_ACT_COUNT];
    atomic_ullong cached, pending;
    atomic_ullong limited[2];
    atomic_ullong webhook_ok, webhook_fail;
    atomic_ullong bucket[NBOUNDS + 1];
    atomic_ullong sum_us, count;
};

/* mv_metrics_new - zeroed; NULL on ENOMEM */
mv_metrics *mv_metrics_new(void)
{
    return calloc(1, sizeof(mv_metrics));
}

/* mv_metrics_free - release; NULL is fine */
void mv_metrics_free(mv_metrics *m)
{
    free(m);
}

/* mv_metrics_status - one HTTP answer */
void mv_metrics_status(mv_metrics *m, int status)
{
    size_t i = 0;

    while (i < NSTATUS && statuses[i] != status)
        i++;
    atomic_fetch_add(&m->status[i], 1);
}

/* mv_metrics_verdict - one /verify verdict and how long it took */
void mv_metrics_verdict(mv_metrics *m, const mv_verdict *v, bool pending, uint64_t elapsed_us)
{
    size_t b = 0;

    atomic_fetch_add(&m->verdict[v->reason][v->action], 1);
    if (v->cached)
        atomic_fetch_add(&m->cached, 1);
    if (pending)
        atomic_fetch_add(&m->pending, 1);
    while (b < NBOUNDS && elapsed_us > bounds_us[b])
        b++;
    atomic_fetch_add(&m->bucket[b], 1);
    atomic_fetch_add(&m->sum_us, elapsed_us);
    atomic_fetch_add(&m->count, 1);
}

/* mv_metrics_limited - one request refused by a rate limit */
void mv_metrics_limited(mv_metrics *m, mv_rl_kind kind)
{
    atomic_fetch_add(&m->limited[kind == MV_RL_KEY], 1);
}

/* mv_metrics_webhook - one delivery attempt's outcome */
void mv_metrics_webhook(mv_metrics *m, bool delivered)
{
    atomic_fetch_add(delivered ? &m->webhook_ok : &m->webhook_fail, 1);
}

/* counter - HELP and TYPE lines */
static void head(mv_buf *out, const char *name, const char *type, const char *help)
{
    mv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* render_verdicts - the verdict counters (only the ones seen, and zero for none) */
static void render_verdicts(mv_metrics *m, mv_buf *out)
{
    head(out, "mailverify_verdicts_total", "counter", "Verdicts answered by /verify, by reason and action.");
    for (int r = 0; r < MV_R_COUNT; r++)
        for (int a = 0; a < MV_ACT_COUNT; a++) {
            unsigned long long n = atomic_load(&m->verdict[r][a]);

            if (n > 0)
                mv_buf_printf(out, "mailverify_verdicts_total{reason=\"%s\",action=\"%s\"} %llu\n",
                              mv_reason_name((mv_reason)r), mv_action_name((mv_action)a), n);
        }
}

/* render_latency - the /verify latency histogram */
static void render_latency(mv_metrics *m, mv_buf *out)
{
    unsigned long long cum = 0;

    head(out, "mailverify_verify_duration_seconds", "histogram", "Time to answer /verify.");
    for (size_t b = 0; b < NBOUNDS; b++) {
        cum += atomic_load(&m->bucket[b]);
        mv_buf_printf(out, "mailverify_verify_duration_seconds_bucket{le=\"%g\"} %llu\n",
                      (double)bounds_us[b] / 1e6, cum);
    }
    cum += atomic_load(&m->bucket[NBOUNDS]);
    mv_buf_printf(out, "mailverify_verify_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    mv_buf_printf(out, "mailverify_verify_duration_seconds_sum %.6f\n",
                  (double)atomic_load(&m->sum_us) / 1e6);
    mv_buf_printf(out, "mailverify_verify_duration_seconds_count %llu\n", atomic_load(&m->count));
}

/* mv_metrics_render - the whole exposition, engine gauges included */
void mv_metrics_render(mv_metrics *m, mv_engine *e, mv_buf *out)
{
    head(out, "mailverify_build_info", "gauge", "The running program and its version.");
    mv_buf_printf(out, "mailverify_build_info{program=\"mailverify.fcgi\",version=\"%s\"} 1\n", MV_VERSION);
    head(out, "mailverify_http_responses_total", "counter", "HTTP answers, by status code.");
    for (size_t i = 0; i < NSTATUS; i++)
        mv_buf_printf(out, "mailverify_http_responses_total{code=\"%d\"} %llu\n", statuses[i],
                      atomic_load(&m->status[i]));
    mv_buf_printf(out, "mailverify_http_responses_total{code=\"other\"} %llu\n",
                  atomic_load(&m->status[NSTATUS]));
    render_verdicts(m, out);
    head(out, "mailverify_cache_hits_total", "counter", "Verdicts answered from the cache.");
    mv_buf_printf(out, "mailverify_cache_hits_total %llu\n", atomic_load(&m->cached));
    head(out, "mailverify_pending_total", "counter",
         "Answers sent as pending (the check outran the form's deadline).");
    mv_buf_printf(out, "mailverify_pending_total %llu\n", atomic_load(&m->pending));
    head(out, "mailverify_rate_limited_total", "counter", "Requests refused with 429.");
    mv_buf_printf(
        out,
        "mailverify_rate_limited_total{by=\"ip\"} %llu\nmailverify_rate_limited_total{by=\"key\"} %llu\n",
        atomic_load(&m->limited[0]), atomic_load(&m->limited[1]));
    head(out, "mailverify_webhook_deliveries_total", "counter", "Webhook events delivered (2xx).");
    mv_buf_printf(out, "mailverify_webhook_deliveries_total %llu\n", atomic_load(&m->webhook_ok));
    head(out, "mailverify_webhook_failures_total", "counter", "Webhook delivery attempts that failed.");
    mv_buf_printf(out, "mailverify_webhook_failures_total %llu\n", atomic_load(&m->webhook_fail));
    render_latency(m, out);
    mv_engine_render_prometheus(e, out);
}
