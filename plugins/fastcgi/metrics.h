/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - what GET /metrics shows, in Prometheus' text format.
 *
 * Counters for HTTP answers by status, verdicts by reason and action,
 * cache hits, answers sent as pending, rate-limit refusals, webhook
 * deliveries and failures; a histogram of /verify latency; and, read when
 * scraped, the engine's queue depth and SMTP sessions open. Atomics only:
 * worker threads never wait for each other to count.
 */
#ifndef MV_METRICS_H
#define MV_METRICS_H

#include "buf.h"
#include "engine.h"

#include <stdint.h>

typedef struct mv_metrics mv_metrics;

typedef enum { MV_RL_IP, MV_RL_KEY } mv_rl_kind;

/* mv_metrics_new - zeroed; NULL on ENOMEM */
mv_metrics *mv_metrics_new(void);

/* mv_metrics_status - one HTTP answer */
void mv_metrics_status(mv_metrics *m, int status);

/* mv_metrics_verdict - one /verify verdict and how long it took */
void mv_metrics_verdict(mv_metrics *m, const mv_verdict *v, bool pending, uint64_t elapsed_us);

/* mv_metrics_limited - one request refused by a rate limit */
void mv_metrics_limited(mv_metrics *m, mv_rl_kind kind);

/* mv_metrics_webhook - one delivery attempt's outcome */
void mv_metrics_webhook(mv_metrics *m, bool delivered);

/* mv_metrics_render - the whole exposition, engine gauges included */
void mv_metrics_render(mv_metrics *m, mv_engine *e, mv_buf *out);

/* mv_metrics_free - release; NULL is fine */
void mv_metrics_free(mv_metrics *m);

#endif
