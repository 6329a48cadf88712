/* SPDX-License-Identifier: MIT */
/*
 * stats.h - mailverifyd's counters, and the control socket that shows them.
 *
 * Verdicts by reason and by action, cache hits, deadlines missed, DHA
 * events, skipped clients, and the latency of every check (a histogram
 * with power-of-two microsecond buckets, from which percentiles are read
 * to within a factor of two -- enough to see 50 us from 5 ms). Counters
 * are atomics: connection threads never wait on each other to count.
 * `mailverify stats` reads them over a unix socket, as text, JSON or
 * Prometheus' text format (the last also served by metricsd.c).
 */
#ifndef MV_STATS_H
#define MV_STATS_H

#include "buf.h"
#include "engine.h"
#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MV_STAT_SKIP_AUTH,    /* authenticated client */
    MV_STAT_SKIP_TRUSTED, /* trusted network */
    MV_STAT_SKIP_NULL,    /* null sender */
    MV_STAT_SKIP_DOMAIN,  /* domains: action = accept */
    MV_STAT_DHA,          /* tempfailed by the DHA budget */
    MV_STAT_DRY_RUN,      /* would have refused (dry run) */
    MV_STAT_CONNECTIONS,  /* milter connections */
    MV_STAT_ENGINE_ERRORS,
    MV_STAT_POLICY_CONNECTIONS, /* policy-service connections */
    MV_STAT_COUNT
} mv_stat_event;

typedef struct mv_stats mv_stats;

/* mv_stats_new - zeroed counters; NULL on ENOMEM */
mv_stats *mv_stats_new(void);

/* mv_stats_verdict - count one verdict and its latency */
void mv_stats_verdict(mv_stats *s, const mv_verdict *v, uint64_t elapsed_us);

/* mv_stats_event - count one event */
void mv_stats_event(mv_stats *s, mv_stat_event e);

/* mv_stats_render - the counters as text (or JSON) */
void mv_stats_render(mv_stats *s, mv_buf *out, bool json);

/* mv_stats_render_prometheus - the counters in Prometheus' text format */
void mv_stats_render_prometheus(mv_stats *s, mv_buf *out);

/* mv_stats_set_engine - the engine whose queue the exposition shows */
void mv_stats_set_engine(mv_stats *s, mv_engine *e);

/* mv_stats_serve - answer on a unix socket from a thread; -1 with errno */
int mv_stats_serve(mv_stats *s, const char *path);

/* mv_stats_close - stop serving and unlink the socket; the counters stay */
void mv_stats_close(mv_stats *s);

/* mv_stats_free - stop serving, unlink the socket, release */
void mv_stats_free(mv_stats *s);

#endif
