/*
 * dha.h - directory-harvest protection: a budget of unknown recipients
 * per client address.
 *
 * A spammer guessing addresses sends RCPT after RCPT and learns from each
 * 550. Each client address gets a budget of undeliverable recipients per
 * time window; once spent, its further recipients are tempfailed without
 * a probe (so the guessing costs it time, and us nothing). Thread-safe:
 * every libmilter connection thread asks.
 *
 * With a shared cache store (cache.store "lmdb"), the budgets are kept
 * there, so that every mailverifyd on the host draws on one budget per
 * client: a harvester spreading its guesses over the gateways' processes
 * gains nothing.
 */
#ifndef MV_DHA_H
#define MV_DHA_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct mv_dha mv_dha;

/* mv_dha_new - a budget tracker; NULL on ENOMEM */
mv_dha *mv_dha_new(void);

/* mv_dha_spent - has this client used its budget (limit per window_s)? */
bool mv_dha_spent(mv_dha *d, const char *client, unsigned limit, unsigned window_s, int64_t now);

/* mv_dha_count - one more undeliverable recipient from this client */
void mv_dha_count(mv_dha *d, const char *client, unsigned window_s, int64_t now);

/* mv_dha_share - keep the budgets in st from now on (borrowed: it must
 * outlive d); a store that keeps no counters changes nothing */
void mv_dha_share(mv_dha *d, mv_store *st);

/* mv_dha_free - release; NULL is fine */
void mv_dha_free(mv_dha *d);

#endif
