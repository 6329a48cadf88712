/*
 * strset.c - open-addressing string set with an arena.
 *
 * Slots hold a 32-bit arena offset and 32 bits of the key's hash, so a
 * probe compares hashes before touching the arena: a miss usually costs
 * one cache line. Keys are stored length-prefixed (one byte; keys are at
 * most 255 bytes, the longest domain name). Offset 0 marks an empty slot,
 * which is why the arena starts with one unused byte. The load factor is
 * kept at or below one half so that linear probing stays short.
 */
#include "strset.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint32_t off;
    uint32_t tag;
};

struct mv_strset {
    struct slot *slots;
    size_t mask;        /* capacity - 1; capacity is a power of two */
    size_t count;
    char *arena;
    size_t used;
    size_t cap;
};

#define SEED 0x6d61696c76657269ULL  /* sets hold our own lists, not input */

/* fmix - final avalanche of MurmurHash3, so low bits depend on all bits */
static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* mv_hash - 64-bit hash of a byte string with a seed */
uint64_t mv_hash(uint64_t seed, const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (len * 0x9E3779B97F4A7C15ULL);
    uint64_t w;

    while (len >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ fmix(w)) * 0x9E3779B97F4A7C15ULL;
        h = (h << 29) | (h >> 35);
        s += 8;
        len -= 8;
    }
    w = 0;
    memcpy(&w, s, len);
    h ^= fmix(w ^ ((uint64_t)len << 56));
    return fmix(h);
}

/* mv_strset_new - empty set sized for about expect keys; NULL on ENOMEM */
mv_strset *mv_strset_new(size_t expect)
{
    mv_strset *set = calloc(1, sizeof(*set));
    size_t cap = 16;

    if (set == NULL)
        return NULL;
    while (cap < expect * 2)
        cap <<= 1;
    set->slots = calloc(cap, sizeof(*set->slots));
    set->cap = 1024;
    set->arena = malloc(set->cap);
    if (set->slots == NULL || set->arena == NULL) {
        mv_strset_free(set);
        return NULL;
    }
    set->mask = cap - 1;
    set->used = 1;      /* offset 0 means "empty slot" */
    return set;
}

/* key_eq - does the arena entry at off hold exactly key? */
static bool key_eq(const mv_strset *set, uint32_t off, const char *key,
                   size_t len)
{
    const unsigned char *e = (const unsigned char *)set->arena + off;

    return e[0] == len && memcmp(e + 1, key, len) == 0;
}

/* find - slot index holding key, or the empty slot where it would go */
static size_t find(const mv_strset *set, const char *key, size_t len,
                   uint64_t h)
{
    size_t i = (size_t)h & set->mask;
    uint32_t tag = (uint32_t)(h >> 32);

    while (set->slots[i].off != 0) {
        if (set->slots[i].tag == tag && key_eq(set, set->slots[i].off, key, len))
            return i;
        i = (i + 1) & set->mask;
    }
    return i;
}

/* grow - double the slot table and reinsert every key */
static int grow(mv_strset *set)
{
    size_t ncap = (set->mask + 1) * 2;
    struct slot *old = set->slots;
    size_t ocap = set->mask + 1;

    set->slots = calloc(ncap, sizeof(*set->slots));
    if (set->slots == NULL) {
        set->slots = old;
        return -1;
    }
    set->mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        const unsigned char *e;
        uint64_t h;
        size_t j;

        if (old[i].off == 0)
            continue;
        e = (const unsigned char *)set->arena + old[i].off;
        h = mv_hash(SEED, e + 1, e[0]);
        j = find(set, (const char *)e + 1, e[0], h);
        set->slots[j] = old[i];
    }
    free(old);
    return 0;
}

/* arena_put - copy a length-prefixed key into the arena; offset or 0 */
static uint32_t arena_put(mv_strset *set, const char *key, size_t len)
{
    uint32_t off;

    if (set->used + len + 1 > set->cap) {
        size_t ncap = set->cap * 2;
        char *n;

        while (ncap < set->used + len + 1)
            ncap *= 2;
        if (ncap > UINT32_MAX)
            return 0;
        n = realloc(set->arena, ncap);
        if (n == NULL)
            return 0;
        set->arena = n;
        set->cap = ncap;
    }
    off = (uint32_t)set->used;
    set->arena[set->used] = (char)(unsigned char)len;
    memcpy(set->arena + set->used + 1, key, len);
    set->used += len + 1;
    return off;
}

/* mv_strset_add - 1 added, 0 already there, -1 out of memory, -2 too long */
int mv_strset_add(mv_strset *set, const char *key, size_t len)
{
    uint64_t h;
    size_t i;
    uint32_t off;

    if (len > MV_STRSET_KEY_MAX)
        return -2;
    if ((set->count + 1) * 2 > set->mask + 1 && grow(set) < 0)
        return -1;
    h = mv_hash(SEED, key, len);
    i = find(set, key, len, h);
    if (set->slots[i].off != 0)
        return 0;
    off = arena_put(set, key, len);
    if (off == 0)
        return -1;
    set->slots[i].off = off;
    set->slots[i].tag = (uint32_t)(h >> 32);
    set->count++;
    return 1;
}

/* mv_strset_has - is key in the set? */
bool mv_strset_has(const mv_strset *set, const char *key, size_t len)
{
    if (set == NULL || len > MV_STRSET_KEY_MAX)
        return false;
    return set->slots[find(set, key, len, mv_hash(SEED, key, len))].off != 0;
}

/* mv_strset_count - number of keys */
size_t mv_strset_count(const mv_strset *set)
{
    return set ? set->count : 0;
}

/* mv_strset_bytes - memory held by the set, for stats */
size_t mv_strset_bytes(const mv_strset *set)
{
    return set ? (set->mask + 1) * sizeof(struct slot) + set->cap : 0;
}

/* mv_strset_free - release the set; NULL is fine */
void mv_strset_free(mv_strset *set)
{
    if (set == NULL)
        return;
    free(set->slots);
    free(set->arena);
    free(set);
}
