/* SPDX-License-Identifier: MIT */
/*
 * dha.h - directory-harvest protection: a budget of unknown recipients
 * per client address.
 *
 * A spammer guessing addresses sends RCPT after RCPT and learns from each
 * 550. Each client (its address, or for IPv6 the prefix the caller
 * groups it by: mv_client_key) gets a budget of undeliverable recipients per
 * time window; once spent, its further recipients are tempfailed without
 * a probe (so the guessing costs it time, and us nothing). Thread-safe:
 * every libmilter connection thread asks.
 *
 * With a shared cache store (cache.store "lmdb" or "redis"), the budgets
 * are kept there, so that every mailverifyd sharing it -- on the host, or
 * on every gateway -- draws on one budget per client: a harvester
 * spreading its guesses over the gateways gains nothing.
 *
 * The log tells the story per client, not per recipient: the first
 * recipient refused by a spent budget starts an episode (the caller logs
 * that one), the rest are counted, and when the budget's window is over
 * the episode ends and the caller logs one summary (mv_dha_ended).
 */
#ifndef MV_DHA_H
#define MV_DHA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mv_dha mv_dha;

/* A shared fixed-window counter: add delta (0 reads), the count or -1
 * when it cannot answer (mv_engine_counter has this shape). */
typedef long long (*mv_dha_counter_fn)(void *arg, const char *key, unsigned delta, unsigned window_s);

/* mv_dha_new - a budget tracker; NULL on ENOMEM */
mv_dha *mv_dha_new(void);

/* mv_dha_spent - has this client used its budget (limit per window_s)? */
bool mv_dha_spent(mv_dha *d, const char *client, unsigned limit, unsigned window_s, int64_t now);

/* mv_dha_count - one more undeliverable recipient from this client */
void mv_dha_count(mv_dha *d, const char *client, unsigned window_s, int64_t now);

/* A client's refusals, from its first recipient refused by the budget
 * to the end of the budget's window. */
typedef struct {
    char who[320];         /* the client as logs name it: "name[addr]" */
    unsigned long refused; /* recipients refused unprobed */
    int64_t first, last;   /* the first and last refusal (unix s) */
} mv_dha_episode;

/* mv_dha_refused - a recipient of client (its address; who: as logs name
 * it) was refused because its budget is spent; true for the first of an
 * episode (log that one), false for the rest (counted) and for a client
 * the bounded table cannot take */
bool mv_dha_refused(mv_dha *d, const char *client, const char *who, unsigned window_s, int64_t now);

/* mv_dha_ended - episodes over by now (their budget's window has ended,
 * or the budget was found unspent again; every one with now = INT64_MAX,
 * at shutdown): at most max into out, then forgotten; how many */
size_t mv_dha_ended(mv_dha *d, int64_t now, mv_dha_episode *out, size_t max);

/* mv_dha_share - count through fn from now on (arg must outlive d); where
 * it answers -1 the budget is this process's */
void mv_dha_share(mv_dha *d, mv_dha_counter_fn fn, void *arg);

/* mv_dha_free - release; NULL is fine */
void mv_dha_free(mv_dha *d);

#endif
