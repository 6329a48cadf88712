/* SPDX-License-Identifier: MIT */
/*
 * passhdr.h - reading header values and field names for pass-through
 * (passform.c's helpers; not an interface for anything else).
 *
 * A parameter is read strictly by mv_ph_next_param; mv_ph_lax_readings
 * finds every reading a sloppy parser could make of "key=value" anywhere
 * in a text. A field name is compared in the canonical form of passform.h.
 */
#ifndef MV_PASSHDR_H
#define MV_PASSHDR_H

#include "passform.h"

#include <stdbool.h>
#include <stddef.h>

#define MV_PH_VALUE_MAX 2048 /* a parameter's value, a reading */
#define MV_PH_NAME_MAX 256   /* a canonical name with its NUL; longer names match nothing */

/* A parameter of a header value: name=value, the value unquoted. */
typedef struct {
    const char *name;
    size_t nlen;
    char value[MV_PH_VALUE_MAX];
    size_t vlen;
    bool quoted;
} mv_ph_param;

/* Called with each reading of a value (NUL-terminated); false stops. */
typedef bool (*mv_ph_reading_fn)(void *arg, const char *v, size_t n);

/* mv_ph_pct_at - the byte an escape at s[i] stands for, or -1 if none starts there */
int mv_ph_pct_at(const char *s, size_t n, size_t i);

/* mv_ph_lax_decode - %XX decoded where it is one, other bytes kept; "+" a
 * space when plus; at most size - 1 bytes out, NUL-terminated; the length */
size_t mv_ph_lax_decode(const char *s, size_t n, bool plus, char *out, size_t size);

/* mv_ph_in_set - is c one of the characters of set (never its NUL)? */
bool mv_ph_in_set(char c, const char *set);

/* mv_ph_canon - a field name in canonical form (decoded first if pct);
 * false if longer than MV_PH_NAME_MAX - 1 */
bool mv_ph_canon(const char *s, size_t n, bool pct, char out[MV_PH_NAME_MAX]);

/* mv_ph_canon_is - is the name s[0..n) read as the canonical name want? */
bool mv_ph_canon_is(const char *s, size_t n, bool pct, const char *want);

/* mv_ph_tchar - an RFC 7230 token character */
bool mv_ph_tchar(char c);

/* mv_ph_skip_ows - past spaces and tabs from k */
size_t mv_ph_skip_ows(const char *h, size_t n, size_t k);

/* mv_ph_next_param - the next "; name=value" of h[*i..n): 1 with one, 0
 * at the end, -1 if malformed */
int mv_ph_next_param(const char *h, size_t n, size_t *i, mv_ph_param *p);

/* mv_ph_lax_readings - every reading of every "key=value" in h[0..n)
 * where key does not continue a longer word; false if fn stopped */
bool mv_ph_lax_readings(const char *h, size_t n, const char *key, mv_ph_reading_fn fn, void *arg);

/* mv_ph_odd_charset - does any reading of a "charset" parameter in h name
 * a charset in which an address could read differently? */
bool mv_ph_odd_charset(const char *h, size_t n);

#endif
