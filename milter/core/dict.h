/* SPDX-License-Identifier: MIT */
/*
 * dict.h - a small string-keyed hash map for loop-thread state.
 *
 * The network half keeps live state per address in flight (single-flight),
 * per domain with work queued, and per MX host address with sessions open.
 * These maps are touched by the loop thread only, so there is no lock;
 * they grow by doubling, and their keys are hashed with SipHash under a
 * random key per map because the keys come from outside (addresses
 * anyone can submit).
 */
#ifndef MV_DICT_H
#define MV_DICT_H

#include <stddef.h>

typedef struct mv_dict mv_dict;

/* mv_dict_new - empty; NULL on ENOMEM or when the kernel gives no
 * random key (siphash.h) */
mv_dict *mv_dict_new(void);

/* mv_dict_get - the value for key, or NULL */
void *mv_dict_get(const mv_dict *d, const char *key);

/* mv_dict_put - set key (copied) to value; -1 on ENOMEM */
int mv_dict_put(mv_dict *d, const char *key, void *value);

/* mv_dict_del - remove key; its value, or NULL */
void *mv_dict_del(mv_dict *d, const char *key);

/* mv_dict_count - number of keys */
size_t mv_dict_count(const mv_dict *d);

/* mv_dict_each - call fn on every value (fn must not change the dict) */
void mv_dict_each(const mv_dict *d, void (*fn)(void *value, void *arg), void *arg);

/* mv_dict_free - release the map (not the values) */
void mv_dict_free(mv_dict *d);

#endif
