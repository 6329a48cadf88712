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
 */
#ifndef MV_STRSET_H
#define MV_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_STRSET_KEY_MAX 255   /* longest key: a domain name */

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

/* mv_strset_free - release the set; NULL is fine */
void mv_strset_free(mv_strset *set);

#endif
