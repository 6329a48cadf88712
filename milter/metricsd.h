/* SPDX-License-Identifier: MIT */
/*
 * metricsd.h - mailverifyd's optional Prometheus listener (metrics.listen).
 *
 * A tiny HTTP/1.x server that answers GET (or HEAD) /metrics with the
 * daemon's counters in Prometheus' text format (mv_stats_render_prometheus,
 * the same text `mailverify stats --prometheus` prints), 404 for any other
 * path, 405 for any other method, 400 for junk, 431 for a request head
 * over 8 KiB, and closes a client that has not sent its head within two
 * seconds. One request per connection, one connection at a time, on its
 * own thread: a slow or hostile scraper delays only other scrapers, never
 * the milter's or the policy service's threads.
 */
#ifndef MV_METRICSD_H
#define MV_METRICSD_H

#include "stats.h"

typedef struct mvd_metrics mvd_metrics;

/* mvd_metrics_open - bind and listen on "ADDRESS:PORT" (while still root,
 * like the other sockets); NULL with a message on stderr */
mvd_metrics *mvd_metrics_open(const char *spec, mv_stats *stats);

/* mvd_metrics_start - the serving thread; 0 or -1 with errno */
int mvd_metrics_start(mvd_metrics *m);

/* mvd_metrics_free - stop the thread, close the socket; NULL is fine */
void mvd_metrics_free(mvd_metrics *m);

#endif
