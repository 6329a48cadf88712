/* SPDX-License-Identifier: MIT */
/*
 * strset.h - an immutable-after-load set of short byte strings.
 *
 * The lists (disposable domains, free providers, role local parts, the
 * typo module's well-known domains) are loaded once and then only asked
 * "is this string in?" on every verification, from any thread. This set is
 * built for that: one open-addressing table, strings in one arena, no
 * allocation on lookup, safe for concurrent readers once loading is done.
 * Every set files a key under the same hash, so a caller that asks several
 * sets about one string can hash it once (mv_strset_hash).
 *
 * A set can also be written out as an image (mv_strset_image_write) and
 * later used in place, read-only, from memory that holds that image
 * (mv_strset_view): the build turns the shipped lists into images that
 * are linked into .rodata, so a process points at them instead of parsing
 * 136,000 lines at every start (docs/BENCHMARKS.md, cold start).
 */
#ifndef MV_STRSET_H
#define MV_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MV_STRSET_KEY_MAX 255 /* longest key: a domain name */

typedef struct mv_strset mv_strset;

/* mv_strset_new - empty set sized for about expect keys; NULL on ENOMEM */
mv_strset *mv_strset_new(size_t expect);

/* mv_strset_add - 1 added, 0 already there, -1 out of memory, -2 too long */
int mv_strset_add(mv_strset *set, const char *key, size_t len);

/* mv_strset_has - is key in the set? */
bool mv_strset_has(const mv_strset *set, const char *key, size_t len);

/* mv_strset_hash - the hash every set files key under (one for all sets) */
uint64_t mv_strset_hash(const char *key, size_t len);

/* mv_strset_has_hash - mv_strset_has, with h = mv_strset_hash(key, len) */
bool mv_strset_has_hash(const mv_strset *set, const char *key, size_t len, uint64_t h);

/* mv_strset_count - number of keys */
size_t mv_strset_count(const mv_strset *set);

/* mv_strset_bytes - memory held by the set, for stats */
size_t mv_strset_bytes(const mv_strset *set);

/* mv_strset_each - call fn on every key, in insertion order; stops at the
 * first nonzero return and returns it */
int mv_strset_each(const mv_strset *set, int (*fn)(const char *key, size_t len, void *arg), void *arg);

/* mv_strset_image_write - write the set as an image; 0, or -1 (errno) */
int mv_strset_image_write(const mv_strset *set, FILE *out);

/* mv_strset_view - a read-only set over an image in memory that outlives
 * it (8-byte aligned, made by mv_strset_image_write on a host of the same
 * byte order); NULL with errno EINVAL (not an image) or ENOMEM. Adding to
 * a view first copies it to the heap. */
mv_strset *mv_strset_view(const void *image, size_t len);

/* mv_strset_free - release the set; NULL is fine */
void mv_strset_free(mv_strset *set);

#endif
