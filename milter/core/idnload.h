/* SPDX-License-Identifier: MIT */
/*
 * idnload.h - libidn2, loaded at its first use.
 *
 * Only a domain with a byte outside ASCII or an A-label ("xn--") needs
 * libidn2 (UTS#46 mapping and checking, address.c); linking it made every process load it and
 * libunistring, about a quarter of a cold CGI request's instructions for a
 * library most requests never call. The first non-ASCII domain dlopen()s
 * libidn2.so.0 and resolves the two functions used, once (pthread_once);
 * a failure is final and says why. A parser that cannot load it answers
 * MV_SYN_IDN_UNAVAILABLE, which the engine turns into a temporary verdict
 * (a missing library never makes a valid address invalid). The packages
 * depend on libidn2-0 by name, as dpkg-shlibdeps no longer sees it.
 */
#ifndef MV_IDNLOAD_H
#define MV_IDNLOAD_H

#include <stdint.h>

/* Exactly the idn2_* functions the tree calls. */
typedef struct {
    int (*lookup_u8)(const uint8_t *src, uint8_t **lookupname, int flags);
    void (*free)(void *ptr);
} mv_idn_api;

/* mv_idn - the functions, loading libidn2 the first time; NULL if it
 * cannot be loaded, with the reason in *why (when why is not NULL) */
const mv_idn_api *mv_idn(const char **why);

#endif
