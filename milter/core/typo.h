/* SPDX-License-Identifier: MIT */
/*
 * typo.h - "Did you mean jane@gmail.com?": domain typo suggestions.
 *
 * Knows a list of well-known mailbox providers (etc/lists/providers.txt,
 * most used first) and the Internet's TLDs (etc/lists/tlds.txt). For a
 * domain that is not itself well known, it proposes the provider the
 * domain is a slip of the fingers away from, or, failing that, a common
 * TLD for a TLD that does not exist. A suggestion is advice: the engine
 * shows it and policy may warn on it, but it never blocks on its own.
 */
#ifndef MV_TYPO_H
#define MV_TYPO_H

#include "diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct mv_typo mv_typo;

/* mv_typo_new - empty; NULL on ENOMEM */
mv_typo *mv_typo_new(void);

/* mv_typo_load_providers - well-known domains, in order of preference */
int mv_typo_load_providers(mv_typo *t, const char *text, size_t len, const char *name, mv_diag *diag);

/* mv_typo_load_tlds - every delegated TLD, one a line */
int mv_typo_load_tlds(mv_typo *t, const char *text, size_t len, const char *name, mv_diag *diag);

/* mv_typo_use_tlds_image - the TLDs from an image (strset.h) of them,
 * e.g. the one the build made of tlds.txt, instead of text; 0, -1 ENOMEM,
 * -2 not an image or TLDs already loaded */
int mv_typo_use_tlds_image(mv_typo *t, const void *image, size_t len);

/* mv_typo_write_tlds_image - write the TLDs as an image; 0, or -1 (errno) */
int mv_typo_write_tlds_image(const mv_typo *t, FILE *out);

/* mv_typo_tlds - the set of TLDs, for tests */
const struct mv_strset *mv_typo_tlds(const mv_typo *t);

/* mv_typo_well_known - is the domain one of the providers? */
bool mv_typo_well_known(const mv_typo *t, const char *domain, size_t len);

/* mv_typo_suggest - suggested domain into out (NUL-terminated), or false */
bool mv_typo_suggest(const mv_typo *t, const char *domain, size_t len, char *out, size_t outsize);

/* mv_typo_distance - optimal string alignment distance, capped at max+1 */
unsigned mv_typo_distance(const char *a, size_t an, const char *b, size_t bn, unsigned max);

/* mv_typo_count - providers known */
size_t mv_typo_count(const mv_typo *t);

/* mv_typo_free - release; NULL is fine */
void mv_typo_free(mv_typo *t);

#endif
