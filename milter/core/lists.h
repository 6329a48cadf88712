/* SPDX-License-Identifier: MIT */
/*
 * lists.h - the local signal lists: disposable, free, role, allow.
 *
 * Each list is a text file, one entry a line, "#" starts a comment. Domain
 * entries are normalized as addresses are (lowercase, A-labels), so that
 * "Bücher.example" in a list matches "xn--bcher-kva.example" in mail. The
 * allow list (from the policy) wins over disposable and free: real
 * companies turn up in public lists. Loaded once, then read-only and safe
 * to share between threads.
 */
#ifndef MV_LISTS_H
#define MV_LISTS_H

#include "diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    MV_LIST_DISPOSABLE,          /* the domain itself */
    MV_LIST_DISPOSABLE_WILDCARD, /* the domain and every subdomain */
    MV_LIST_FREE,                /* free mailbox providers */
    MV_LIST_ROLE,                /* role local parts: postmaster, info, ... */
    MV_LIST_ALLOW,               /* never disposable nor free, subdomains too */
    MV_LIST_COUNT
} mv_list_kind;

typedef struct mv_lists mv_lists;

/* mv_lists_new - empty lists; NULL on ENOMEM */
mv_lists *mv_lists_new(void);

/* mv_lists_load_text - add entries from text; -1 on ENOMEM, bad lines warned */
int mv_lists_load_text(mv_lists *l, mv_list_kind kind, const char *text, size_t len, const char *name,
                       mv_diag *diag);

/* mv_lists_load_file - add entries from a file; -1 (with an error) on failure */
int mv_lists_load_file(mv_lists *l, mv_list_kind kind, const char *path, mv_diag *diag);

/* mv_lists_use_image - make an empty list a read-only view of an image
 * (strset.h) of that list, e.g. one the build made of a shipped list; 0,
 * -1 ENOMEM, -2 not an image or the list is not empty */
int mv_lists_use_image(mv_lists *l, mv_list_kind kind, const void *image, size_t len);

/* mv_lists_write_image - write one list as an image; 0, or -1 (errno) */
int mv_lists_write_image(const mv_lists *l, mv_list_kind kind, FILE *out);

/* mv_lists_set - one list's set of normalized entries, for tests */
const struct mv_strset *mv_lists_set(const mv_lists *l, mv_list_kind kind);

/* mv_lists_add - add one entry; 0 ok, -1 ENOMEM, -2 not a valid entry */
int mv_lists_add(mv_lists *l, mv_list_kind kind, const char *entry, size_t len);

/* mv_lists_disposable - is this normalized domain disposable? */
bool mv_lists_disposable(const mv_lists *l, const char *domain, size_t len);

/* mv_lists_free_provider - is this normalized domain a free provider? */
bool mv_lists_free_provider(const mv_lists *l, const char *domain, size_t len);

/* mv_lists_role - is this local part a role (case and +tag ignored)? */
bool mv_lists_role(const mv_lists *l, const char *local, size_t len);

/* mv_lists_count - entries in one list */
size_t mv_lists_count(const mv_lists *l, mv_list_kind kind);

/* mv_lists_bytes - memory held, for stats */
size_t mv_lists_bytes(const mv_lists *l);

/* mv_lists_free - release; NULL is fine */
void mv_lists_free(mv_lists *l);

/* mv_next_line - next non-comment, trimmed line of text; false at the end */
bool mv_next_line(const char **p, const char *end, const char **line, size_t *len, int *lineno);

#endif
