/* SPDX-License-Identifier: MIT */
/*
 * mvd.h - mailverifyd's shared state and the milter callbacks.
 *
 * libmilter calls back with no user pointer but the per-connection one, so
 * the daemon keeps its state in one struct that the callbacks reach
 * through mvd_state(). The current configuration is swapped on SIGUSR1;
 * every connection takes a counted reference when it begins and keeps
 * that one until it closes (OpenDKIM's conf_refcnt), so a reload never
 * changes the rules in the middle of a transaction.
 */
#ifndef MV_MVD_H
#define MV_MVD_H

#include "config.h"
#include "dha.h"
#include "milter_config.h"
#include "engine.h"
#include "stats.h"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
    pthread_mutex_t mu;      /* guards cfg */
    mv_config *cfg;          /* the current configuration */
    const char *config_path; /* NULL: built-in */
    mv_engine *engine;
    mv_dha *dha;
    mv_stats *stats;
    bool dry_run;      /* -n on the command line, or milter.dry_run */
    atomic_int checks; /* checks in flight, for the drain at stop */
} mvd;

/* mvd_state - the daemon's state */
mvd *mvd_state(void);

/* mvd_set_state - set it once, at start */
void mvd_set_state(mvd *d);

/* mvd_config - a reference to the current configuration */
mv_config *mvd_config(mvd *d);

/* mvd_drain - wait until no check is in flight, at most max_ms; true if none */
bool mvd_drain(mvd *d, unsigned max_ms);

/* mvd_register - hand the callbacks to libmilter; 0 or -1 */
int mvd_register(void);

/* mvd_log - one line to syslog (and stderr when configured), Postfix-style
 * as mail.log shows it, without the priority: the queue id first when there
 * is one, then "warning: " or "error: " where it applies */
void mvd_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
