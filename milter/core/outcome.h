/* SPDX-License-Identifier: MIT */
/*
 * outcome.h - a network outcome packed for the cache, its class and key.
 */
#ifndef MV_OUTCOME_H
#define MV_OUTCOME_H

#include "cache.h"
#include "verdict.h"

#include <stdbool.h>
#include <stddef.h>

/* mv_outcome_pack - an outcome into p (MV_CACHE_VAL_MAX bytes); their number */
size_t mv_outcome_pack(const mv_net_outcome *o, unsigned char *p);

/* mv_outcome_unpack - bytes from the cache into an outcome; false if damaged */
bool mv_outcome_unpack(const unsigned char *p, size_t len, mv_net_outcome *o);

/* mv_outcome_class - which expire/refresh times an outcome gets */
mv_cache_class mv_outcome_class(const mv_net_outcome *o);

/* mv_outcome_key - "s:" (smtp mode) or "d:" (dns) + mailbox [+ "|" hop]
 * into key; its length, 0 if it does not fit */
size_t mv_outcome_key(char *key, size_t size, bool smtp, const char *mailbox, const char *hop);

#endif
