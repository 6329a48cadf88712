/* SPDX-License-Identifier: MIT */
/*
 * canon.h - provider-aware canonical form, for finding duplicates.
 *
 * "J.Doe+news@GoogleMail.com" and "jdoe@gmail.com" reach one mailbox. The
 * canonical form says so: for the providers listed in the config (the
 * `canonical` rules), the local part is folded the way that provider folds
 * it -- case, dots, "+tag" -- and aliases of the provider's domain are
 * mapped to one. For any other domain the canonical form is the normalized
 * address: a local part is case-sensitive unless its owner says otherwise
 * (RFC 5321 2.4). Opt-in: it is for duplicate detection, never for mail.
 */
#ifndef MV_CANON_H
#define MV_CANON_H

#include "address.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct mv_canon mv_canon;

typedef struct {
    const char *const *domains; /* the rule applies to these */
    size_t ndomains;
    const char *domain; /* map them to this one; NULL keeps each */
    bool ignore_case;
    bool ignore_dots;
    const char *tag_separators; /* characters that start a tag; NULL: none */
} mv_canon_rule;

/* mv_canon_new - no rules; NULL on ENOMEM */
mv_canon *mv_canon_new(void);

/* mv_canon_add - copy a rule in; -1 ENOMEM */
int mv_canon_add(mv_canon *c, const mv_canon_rule *rule);

/* mv_canon_apply - canonical "local@domain" into out; its length, or 0 */
size_t mv_canon_apply(const mv_canon *c, const mv_address *a, char *out, size_t outsize);

/* mv_canon_count - number of rules */
size_t mv_canon_count(const mv_canon *c);

/* mv_canon_free - release; NULL is fine */
void mv_canon_free(mv_canon *c);

#endif
