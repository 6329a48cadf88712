/* SPDX-License-Identifier: MIT */
/*
 * policyd.h - mailverifyd's Postfix policy listener (check_policy_service).
 *
 * One thread runs an epoll loop over the listening socket and every
 * Postfix connection (one per smtpd process, kept open across requests):
 * it reads requests (policyreq.h), answers the ones it can at once
 * (skipped clients, DUNNO states, spent harvest budgets, cached
 * verdicts) and hands the rest to the engine's async API; the engine's
 * thread posts each verdict back through an eventfd, and the loop writes
 * the answer. No thread is held by a connection, idle or waiting.
 * It shares the daemon's engine, cache, harvest budgets, stats and
 * configuration (a reload applies from the next request).
 */
#ifndef MV_POLICYD_H
#define MV_POLICYD_H

#include "mvd.h"

typedef struct mvd_policy mvd_policy;

/* mvd_policy_open - bind and listen on spec (unix:/path, inet:PORT@HOST,
 * inet6:PORT@HOST), as root, before detaching; NULL with a message on
 * stderr */
mvd_policy *mvd_policy_open(mvd *d, const char *spec, const mv_milter_settings *s);

/* mvd_policy_start - the loop thread, after detaching; 0 or -1 */
int mvd_policy_start(mvd_policy *p);

/* mvd_policy_close - stop accepting; connections still get answers */
void mvd_policy_close(mvd_policy *p);

/* mvd_policy_stop - stop the loop thread (mvd_drain first: what the
 * engine answers later is not written any more) */
void mvd_policy_stop(mvd_policy *p);

/* mvd_policy_free - after mv_engine_free: close what is left; NULL is fine */
void mvd_policy_free(mvd_policy *p);

/* mvd_socket_perms - a unix socket's mode and group from the settings
 * (mailverifyd.c); false with a message on stderr */
bool mvd_socket_perms(const char *path, const mv_milter_settings *s);

#endif
