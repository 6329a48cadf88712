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
 * With a shared cache store (cache.store "lmdb" or "redis"), the budgets
 * are kept there, so that every mailverifyd sharing it -- on the host, or
 * on every gateway -- draws on one budget per client: a harvester
 * spreading its guesses over the gateways gains nothing.
 */
#ifndef MV_DHA_H
#define MV_DHA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mv_dha mv_dha;

/* A shared fixed-window counter: add delta (0 reads), the count or -1
 * when it cannot answer (mv_engine_counter has this shape). */
typedef long long (*mv_dha_counter_fn)(void *arg, const char *key, unsigned delta,
                                       unsigned window_s);

/* mv_dha_new - a budget tracker; NULL on ENOMEM */
mv_dha *mv_dha_new(void);

/* mv_dha_spent - has this client used its budget (limit per window_s)? */
bool mv_dha_spent(mv_dha *d, const char *client, unsigned limit, unsigned window_s, int64_t now);

/* mv_dha_count - one more undeliverable recipient from this client */
void mv_dha_count(mv_dha *d, const char *client, unsigned window_s, int64_t now);

/* mv_dha_share - count through fn from now on (arg must outlive d); where
 * it answers -1 the budget is this process's */
void mv_dha_share(mv_dha *d, mv_dha_counter_fn fn, void *arg);

/* mv_dha_free - release; NULL is fine */
void mv_dha_free(mv_dha *d);

#endif
