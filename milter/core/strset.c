/* SPDX-License-Identifier: MIT */
/*
 * strset.c - open-addressing string set with an arena.
 *
 * Slots hold a 32-bit arena offset and 32 bits of the key's hash, so a
 * probe compares hashes before touching the arena: a miss usually costs
 * one cache line. Keys are stored length-prefixed (one byte; keys are at
 * most 255 bytes, the longest domain name). Offset 0 marks an empty slot,
 * which is why the arena starts with one unused byte. The load factor is
 * kept at or below one half so that linear probing stays short.
 *
 * A large set (the disposable list: 120,000 domains, 2 MB of slots) does
 * not stay in cache, and most questions asked of it are answered "no".
 * Such a set keeps a Bloom filter beside the slots, 4 bits per slot in
 * one 64-bit word per 16 slots (128 kB for that list): a "no" then costs
 * one read from a small, hot array instead of a cache miss into the table
 * and, often, one into the arena. About 3 in 100 misses still probe.
 *
 * An image is those three arrays as they are in memory, after a header:
 * a view points into it and computes nothing, so a set in an image linked
 * into the program costs no start-up time and only the pages a lookup
 * touches. The header holds the hash of a fixed string, so an image made
 * with another hash (or byte order) is refused instead of answering "no"
 * to everything.
 */
#include "strset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    uint32_t off;
    uint32_t tag;
};

struct mv_strset {
    struct slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
    char *arena;
    size_t used;
    size_t cap;
    uint64_t *bloom; /* (mask + 1) / 16 words, or NULL for a small set */
    bool view;       /* the arrays are an image's, read-only, not ours */
};

/* The image header; slots, bloom words and arena follow, in that order. */
struct image_head {
    char magic[8];
    uint64_t check; /* set_hash(SEED, CHECK_KEY): the hash slots are filed under */
    uint64_t mask, count, used, bloom_words;
};

static const char IMAGE_MAGIC[8] = "MVSET1\n";
#define CHECK_KEY "mailverify"

#define BLOOM_MIN_SLOTS 8192 /* smaller sets stay in cache anyway */

#define SEED 0x6d61696c76657269ULL /* sets hold our own lists, not input */
#define K0 0xa0761d6478bd642fULL   /* wyhash's constants: odd, bits balanced */
#define K1 0xe7037ed1a0b428dbULL

/* mul128 - the 128-bit product of a and b, as low and high halves */
static void mul128(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;

    *lo = (uint64_t)r;
    *hi = (uint64_t)(r >> 64);
#else
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

    *lo = (mid << 32) | (uint32_t)ll;
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* mix - fold a 128-bit product: every output bit depends on every input bit */
static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t lo, hi;

    mul128(a, b, &lo, &hi);
    return lo ^ hi;
}

/* rd64, rd32 - unaligned little loads */
static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static uint64_t rd32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

/*
 * set_hash - 64-bit hash of a byte string with a seed
 *
 * After wyhash (public domain): keys here are domains and local parts,
 * mostly under 17 bytes, which take two overlapping loads and two
 * multiplications, with no byte-by-byte tail. Unlike wyhash, both factors
 * of every multiplication depend on the seed.
 *
 * Not SipHash, and a fixed seed, unlike the tables of outside input
 * (siphash.h): what a set holds is chosen by the admin (the lists and the
 * config files), loaded once; outside input only asks, and one question
 * walks one probe run, whose length the admin's contents decide, at a
 * load factor of one half at most. A fast hash matters here: every
 * verification asks several sets (docs/BENCHMARKS.md, bench-offline).
 * XXX a third-party list (disposable domains) with entries crafted to
 * collide under this public seed would slow its loading and its lookups;
 * a per-lists random key would close that, at the cost of passing it to
 * every caller of mv_strset_hash.
 */
static uint64_t set_hash(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t a, b, lo, hi;

    seed ^= mix(seed ^ K0, K1);
    if (len <= 16) {
        size_t q = (len >> 3) << 2; /* 0 below 8 bytes, else 4 */

        if (len >= 4) {
            a = rd32(p) << 32 | rd32(p + q);
            b = rd32(p + len - 4) << 32 | rd32(p + len - 4 - q);
        } else {
            a = len ? (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1] : 0;
            b = 0;
        }
    } else {
        size_t i = len;

        for (; i > 16; i -= 16, p += 16)
            seed = mix(rd64(p) ^ seed ^ K1, rd64(p + 8) ^ seed);
        a = rd64(p + i - 16);
        b = rd64(p + i - 8);
    }
    mul128(a ^ seed ^ K1, b ^ seed, &lo, &hi);
    return mix(lo ^ K0 ^ len, hi ^ K1);
}

/* bloom_new - a zeroed filter for a table of cap slots; NULL if none is wanted */
static uint64_t *bloom_new(size_t cap, bool *oom)
{
    uint64_t *b;

    if (cap < BLOOM_MIN_SLOTS)
        return NULL;
    if ((b = calloc(cap / 16, sizeof(*b))) == NULL)
        *oom = true;
    return b;
}

/* bloom_bits - the four bits a hash sets in its word (from the tag half) */
static uint64_t bloom_bits(uint64_t h)
{
    return 1ULL << ((h >> 32) & 63) | 1ULL << ((h >> 38) & 63) | 1ULL << ((h >> 44) & 63) |
           1ULL << ((h >> 50) & 63);
}

/* bloom_word - the word for a hash: the one of its home slot's group of 16 */
static uint64_t *bloom_word(uint64_t *bloom, size_t mask, uint64_t h)
{
    return &bloom[((size_t)h & mask) >> 4];
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
    bool oom = false;

    set->slots = calloc(cap, sizeof(*set->slots));
    set->bloom = bloom_new(cap, &oom);
    set->cap = 1024;
    set->arena = malloc(set->cap);
    if (set->slots == NULL || set->arena == NULL || oom) {
        mv_strset_free(set);
        return NULL;
    }
    set->mask = cap - 1;
    set->used = 1;     /* offset 0 means "empty slot" */
    set->arena[0] = 0; /* written out in an image: the same bytes every build */
    return set;
}

/* key_eq - does the arena entry at off hold exactly key? */
static bool key_eq(const mv_strset *set, uint32_t off, const char *key, size_t len)
{
    const unsigned char *e = (const unsigned char *)set->arena + off;

    return e[0] == len && memcmp(e + 1, key, len) == 0;
}

/* find - slot index holding key, or the empty slot where it would go */
static size_t find(const mv_strset *set, const char *key, size_t len, uint64_t h)
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
    struct slot *old = set->slots, *slots = calloc(ncap, sizeof(*slots));
    size_t ocap = set->mask + 1;
    bool oom = false;
    uint64_t *bloom = bloom_new(ncap, &oom);

    if (slots == NULL || oom) {
        free(slots);
        return -1;
    }
    set->slots = slots;
    free(set->bloom);
    set->bloom = bloom;
    set->mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        const unsigned char *e;
        uint64_t h;
        size_t j;

        if (old[i].off == 0)
            continue;
        e = (const unsigned char *)set->arena + old[i].off;
        h = set_hash(SEED, e + 1, e[0]);
        j = find(set, (const char *)e + 1, e[0], h);
        set->slots[j] = old[i];
        if (set->bloom != NULL)
            *bloom_word(set->bloom, set->mask, h) |= bloom_bits(h);
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

/* dup - a heap copy of n bytes; NULL on ENOMEM */
static void *dup(const void *p, size_t n)
{
    void *c = malloc(n ? n : 1);

    if (c != NULL && n != 0)
        memcpy(c, p, n);
    return c;
}

/* thaw - give a view its own heap copy of the arrays, so it can grow */
static int thaw(mv_strset *set)
{
    size_t cap = set->mask + 1;
    struct slot *slots = dup(set->slots, cap * sizeof(*slots));
    char *arena = dup(set->arena, set->used);
    uint64_t *bloom = set->bloom ? dup(set->bloom, cap / 16 * sizeof(*bloom)) : NULL;

    if (slots == NULL || arena == NULL || (set->bloom != NULL && bloom == NULL)) {
        free(slots);
        free(arena);
        free(bloom);
        return -1;
    }
    set->slots = slots;
    set->arena = arena;
    set->cap = set->used;
    set->bloom = bloom;
    set->view = false;
    return 0;
}

/* mv_strset_add - 1 added, 0 already there, -1 out of memory, -2 too long */
int mv_strset_add(mv_strset *set, const char *key, size_t len)
{
    uint64_t h;
    size_t i;
    uint32_t off;

    if (len > MV_STRSET_KEY_MAX)
        return -2;
    if (set->view && thaw(set) < 0)
        return -1;
    if ((set->count + 1) * 2 > set->mask + 1 && grow(set) < 0)
        return -1;
    h = set_hash(SEED, key, len);
    i = find(set, key, len, h);
    if (set->slots[i].off != 0)
        return 0;
    off = arena_put(set, key, len);
    if (off == 0)
        return -1;
    set->slots[i].off = off;
    set->slots[i].tag = (uint32_t)(h >> 32);
    if (set->bloom != NULL)
        *bloom_word(set->bloom, set->mask, h) |= bloom_bits(h);
    set->count++;
    return 1;
}

/* mv_strset_has - is key in the set? */
bool mv_strset_has(const mv_strset *set, const char *key, size_t len)
{
    return mv_strset_has_hash(set, key, len, mv_strset_hash(key, len));
}

/* mv_strset_hash - the hash every set files key under (one for all sets) */
uint64_t mv_strset_hash(const char *key, size_t len)
{
    return set_hash(SEED, key, len);
}

/* mv_strset_has_hash - mv_strset_has, with h = mv_strset_hash(key, len) */
bool mv_strset_has_hash(const mv_strset *set, const char *key, size_t len, uint64_t h)
{
    uint64_t bits = bloom_bits(h);

    if (set == NULL || len > MV_STRSET_KEY_MAX || set->count == 0)
        return false;
    if (set->bloom != NULL && (*bloom_word(set->bloom, set->mask, h) & bits) != bits)
        return false;
    return set->slots[find(set, key, len, h)].off != 0;
}

/* mv_strset_count - number of keys */
size_t mv_strset_count(const mv_strset *set)
{
    return set ? set->count : 0;
}

/* mv_strset_bytes - memory held by the set, for stats */
size_t mv_strset_bytes(const mv_strset *set)
{
    if (set == NULL)
        return 0;
    return (set->mask + 1) * sizeof(struct slot) + set->cap +
           (set->bloom != NULL ? (set->mask + 1) / 16 * sizeof(uint64_t) : 0);
}

/* mv_strset_free - release the set; NULL is fine */
void mv_strset_free(mv_strset *set)
{
    if (set == NULL)
        return;
    if (set->view) {
        free(set);
        return;
    }
    free(set->slots);
    free(set->arena);
    free(set->bloom);
    free(set);
}

/* mv_strset_each - call fn on every key, in insertion order; stops at the
 * first nonzero return and returns it */
int mv_strset_each(const mv_strset *set, int (*fn)(const char *key, size_t len, void *arg), void *arg)
{
    size_t off = 1;

    while (set != NULL && off < set->used) {
        const unsigned char *e = (const unsigned char *)set->arena + off;
        int rc = fn((const char *)e + 1, e[0], arg);

        if (rc != 0)
            return rc;
        off += (size_t)e[0] + 1;
    }
    return 0;
}

/* mv_strset_image_write - write the set as an image; 0, or -1 (errno) */
int mv_strset_image_write(const mv_strset *set, FILE *out)
{
    struct image_head h = {.check = set_hash(SEED, CHECK_KEY, strlen(CHECK_KEY)),
                           .mask = set->mask,
                           .count = set->count,
                           .used = set->used,
                           .bloom_words = set->bloom ? (set->mask + 1) / 16 : 0};
    size_t cap = set->mask + 1;

    memcpy(h.magic, IMAGE_MAGIC, sizeof(h.magic));
    if (fwrite(&h, sizeof(h), 1, out) != 1 || fwrite(set->slots, sizeof(*set->slots), cap, out) != cap ||
        (h.bloom_words && fwrite(set->bloom, sizeof(uint64_t), h.bloom_words, out) != h.bloom_words) ||
        fwrite(set->arena, 1, set->used, out) != set->used)
        return -1;
    return 0;
}

/* image_ok - is h the header of a well-formed image of len bytes? */
static bool image_ok(const struct image_head *h, size_t len)
{
    uint64_t cap = h->mask + 1;

    if (memcmp(h->magic, IMAGE_MAGIC, sizeof(h->magic)) != 0 ||
        h->check != set_hash(SEED, CHECK_KEY, strlen(CHECK_KEY)) || cap < 16 || (cap & h->mask) != 0 ||
        cap > (SIZE_MAX >> 5) || h->count * 2 > cap || h->used == 0 || h->used > UINT32_MAX ||
        h->bloom_words != (cap < BLOOM_MIN_SLOTS ? 0 : cap / 16))
        return false;
    return len == sizeof(*h) + cap * sizeof(struct slot) + h->bloom_words * sizeof(uint64_t) + h->used;
}

/* mv_strset_view - a read-only set over an image in memory that outlives
 * it; NULL with errno EINVAL (not an image) or ENOMEM */
mv_strset *mv_strset_view(const void *image, size_t len)
{
    const struct image_head *h = image;
    const unsigned char *p = image;
    mv_strset *set;

    if (len < sizeof(*h) || ((uintptr_t)image & 7) != 0 || !image_ok(h, len)) {
        errno = EINVAL;
        return NULL;
    }
    if ((set = calloc(1, sizeof(*set))) == NULL)
        return NULL;
    /* the casts drop const: a view never writes (mv_strset_add thaws it) */
    p += sizeof(*h);
    set->slots = (struct slot *)(uintptr_t)p;
    p += (h->mask + 1) * sizeof(struct slot);
    set->bloom = h->bloom_words ? (uint64_t *)(uintptr_t)p : NULL;
    p += h->bloom_words * sizeof(uint64_t);
    set->arena = (char *)(uintptr_t)p;
    set->mask = h->mask;
    set->count = h->count;
    set->used = h->used;
    set->cap = h->used;
    set->view = true;
    return set;
}
