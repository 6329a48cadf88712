/* SPDX-License-Identifier: MIT */
/*
 * ratelimit.c - token buckets in a locked table, in memory or in a shared
 * state file; see ratelimit.h.
 *
 * In memory: a dict of buckets (tokens, when counted) under a mutex,
 * swept of full buckets when it reaches MAX_BUCKETS; the dict hashes its
 * keys with SipHash under a key of its own (dict.c).
 *
 * In a state file (CGI mode), fixed size, native byte order (the file
 * never leaves the host):
 *   header, RF_HDR bytes: magic "MVRLIM\0\1", then u32 version, header
 *     size, sets, ways, slot size, a pad, and a 16-byte SipHash key
 *     (random, made with the file: every process sharing the file must
 *     file a client under the same hash, so the key lives there).
 *   RF_SETS sets of RF_WAYS slots of 16 bytes: u64 SipHash of scope, a
 *     NUL and key (0: free), double tat.
 * Version 1 had a 64-bit seed for a home-made hash in place of the key:
 * such a file is "unknown version", and reinitialised.
 * A bucket is one number, GCRA's "theoretical arrival time": the moment it
 * will be full again. Tokens now = burst - (tat - now) * rate, so taking a
 * token is tat = max(tat, now) + 1/rate, refilling needs no write, and a
 * change of burst in the config needs no conversion. Any tat is clamped
 * to [now, now + burst/rate]: a value from a hostile file or a clock
 * stepped back gives at worst an empty bucket, never a long ban.
 * A key lives in the set its hash picks (sets of 8: bounded work under the
 * lock); when the set is full, the slot with the earliest tat goes -- the
 * bucket that has been full the longest, else the one nearest to full,
 * so what is forgotten costs the least. The key keeps outsiders from
 * aiming many keys at one set (which would evict the buckets of others,
 * theirs included: a way out of the limit).
 * Locking: flock on the whole file around each take -- a hash, 8 slots,
 * a write: microseconds. flock (not fcntl) because it belongs to the open
 * file, not the process: two tables of one process on one file exclude
 * each other, and closing one does not drop the other's lock. A process
 * that dies holds nothing (the kernel drops its lock), and one that holds
 * the lock too long (stopped) is waited for RF_LOCK_MS at most, then the
 * request goes unlimited. Under the lock the file's size and header are
 * checked before the map is touched, so a file truncated or scribbled on
 * since the last take is rebuilt, not read past its end (SIGBUS); the
 * rebuild truncates, allocates (posix_fallocate: a full disk is an error
 * now, not a SIGBUS on a later write through the map) and writes the
 * header last, so a rebuild cut short is rebuilt again.
 */
#include "ratelimit.h"
#include "dict.h"
#include "siphash.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BUCKETS 100000

#define RF_MAGIC "MVRLIM\0\1"
#define RF_VERSION 2 /* 1: a 64-bit seed, not a SipHash key */
#define RF_HDR 128   /* sets stay 128-aligned: one page per take */
#define RF_SETS 4096 /* a power of two */
#define RF_WAYS 8
#define RF_SIZE ((off_t)RF_HDR + (off_t)RF_SETS * RF_WAYS * (off_t)sizeof(rf_slot))
#define RF_LOCK_MS 100
#define TOKEN_EPS 1e-3 /* a token short by rounding is a token */
#define MAX_WAIT 86400.0
#define RF_MSG 256 /* scope, NUL and key hashed in one go up to this */

typedef struct {
    double tokens;
    double last; /* when tokens was computed */
    double burst;
    char key[];
} bucket;

typedef struct {
    char magic[8];
    uint32_t version, header_size, sets, ways, slot_size, pad;
    uint8_t key[MV_SIPHASH_KEY];
} rf_header;

typedef struct {
    uint64_t hash; /* of scope and key; 0: free */
    double tat;    /* when the bucket is full again */
} rf_slot;

_Static_assert(sizeof(rf_slot) == 16 && sizeof(rf_header) <= RF_HDR, "the file format");

/* The state file of a shared table. */
typedef struct {
    int fd;
    unsigned char *map; /* RF_SIZE bytes, whatever the file's size */
    char *scope;        /* hashed in front of each key */
    char *path;
    mv_ratelimit_log *log;
    void *arg;
} rf_file;

struct mv_ratelimit {
    pthread_mutex_t mu; /* threads of one process (flock is per open file) */
    mv_dict *b;         /* in memory; NULL when shared */
    rf_file *f;         /* shared; NULL when in memory */
};

/* mv_ratelimit_new - an empty table; NULL on ENOMEM */
mv_ratelimit *mv_ratelimit_new(void)
{
    mv_ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL || (rl->b = mv_dict_new()) == NULL) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

typedef struct {
    double now, rate;
    bucket **full;
    size_t n;
} sweep_ctx;

/* find_full - buckets that have refilled: nothing to remember */
static void find_full(void *value, void *arg)
{
    sweep_ctx *s = arg;
    bucket *b = value;

    if (b->tokens + (s->now - b->last) * s->rate >= b->burst && s->n < MAX_BUCKETS)
        s->full[s->n++] = b;
}

/* sweep - forget full buckets (the lock is held) */
static void sweep(mv_ratelimit *rl, double now, double rate)
{
    sweep_ctx s = {now, rate, calloc(MAX_BUCKETS, sizeof(bucket *)), 0};

    if (s.full == NULL)
        return;
    mv_dict_each(rl->b, find_full, &s);
    for (size_t i = 0; i < s.n; i++) {
        mv_dict_del(rl->b, s.full[i]->key);
        free(s.full[i]);
    }
    free(s.full);
}

/* get - the key's bucket, made full if new; NULL when the table is full */
static bucket *get(mv_ratelimit *rl, const char *key, double rate, double burst, double now)
{
    bucket *b = mv_dict_get(rl->b, key);
    size_t n = strlen(key);

    if (b != NULL)
        return b;
    if (mv_dict_count(rl->b) >= MAX_BUCKETS)
        sweep(rl, now, rate);
    if (mv_dict_count(rl->b) >= MAX_BUCKETS || (b = malloc(sizeof(*b) + n + 1)) == NULL)
        return NULL;
    b->tokens = burst;
    b->last = now;
    b->burst = burst;
    memcpy(b->key, key, n + 1);
    if (mv_dict_put(rl->b, b->key, b) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* mem_take - mv_ratelimit_take in memory (the lock is held) */
static unsigned mem_take(mv_ratelimit *rl, const char *key, double rate, double burst, double now)
{
    bucket *b;
    unsigned wait = 0;

    /* a table too full to track a new key lets it through: fail open */
    if ((b = get(rl, key, rate, burst, now)) != NULL) {
        /* a clock stepped back refills nothing (and takes nothing) */
        if (now > b->last)
            b->tokens += (now - b->last) * rate;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last = now;
        b->burst = burst;
        if (b->tokens >= 1.0)
            b->tokens -= 1.0;
        else
            wait = (unsigned)ceil((1.0 - b->tokens) / rate);
    }
    return wait;
}

/* say - a line to the shared table's log */
__attribute__((format(printf, 2, 3))) static void say(const rf_file *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (f->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    f->log(f->arg, line);
}

/* rf_lock - the file's lock within RF_LOCK_MS; false if it stays held */
static bool rf_lock(const rf_file *f)
{
    struct timespec pause = {0, 200000};

    for (int i = 0; i < RF_LOCK_MS * 5; i++) {
        if (flock(f->fd, LOCK_EX | LOCK_NB) == 0)
            return true;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            say(f, "cannot lock %s: %s: not limited", f->path, strerror(errno));
            return false;
        }
        nanosleep(&pause, NULL);
    }
    say(f, "%s stayed locked for %d ms: not limited", f->path, RF_LOCK_MS);
    return false;
}

/* rf_unlock - release the lock (a failure would be EBADF: nothing to do) */
static void rf_unlock(const rf_file *f)
{
    (void)flock(f->fd, LOCK_UN);
}

/* rf_invalid - why the file is not a whole table of ours, "" when it is
 * new (empty), NULL when it is fine (the lock is held) */
static const char *rf_invalid(const rf_file *f, struct stat *st)
{
    const rf_header *h = (const rf_header *)f->map;

    if (st->st_size == 0)
        return "";
    if (st->st_size != RF_SIZE)
        return "wrong size";
    /* only now is the header inside the file */
    if (memcmp(h->magic, RF_MAGIC, sizeof(h->magic)) != 0)
        return "bad magic";
    if (h->version != RF_VERSION)
        return "unknown version";
    if (h->header_size != RF_HDR || h->sets != RF_SETS || h->ways != RF_WAYS ||
        h->slot_size != sizeof(rf_slot))
        return "wrong geometry";
    return NULL;
}

/* rf_init - make the file an empty table with a new key (the lock is
 * held); false with errno */
static bool rf_init(const rf_file *f)
{
    rf_header h = {.version = RF_VERSION,
                   .header_size = RF_HDR,
                   .sets = RF_SETS,
                   .ways = RF_WAYS,
                   .slot_size = sizeof(rf_slot)};
    int e;

    memcpy(h.magic, RF_MAGIC, sizeof(h.magic));
    /* no key, no table: this process goes unlimited (and says so) */
    if (mv_siphash_key(h.key) != 0)
        return false;
    /* zeroes first, the header last: a rebuild cut short is not a table */
    if (ftruncate(f->fd, 0) != 0)
        return false;
    if ((e = posix_fallocate(f->fd, 0, RF_SIZE)) != 0) {
        errno = e;
        return false;
    }
    return pwrite(f->fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h);
}

/* rf_ready - is the file a table now, rebuilt if need be? (the lock is held) */
static bool rf_ready(const rf_file *f)
{
    struct stat st;
    const char *why;

    if (fstat(f->fd, &st) != 0) {
        say(f, "cannot stat %s: %s: not limited", f->path, strerror(errno));
        return false;
    }
    if ((why = rf_invalid(f, &st)) == NULL)
        return true;
    if (why[0] != '\0')
        say(f, "%s was not a rate-limit table (%s): reinitialised", f->path, why);
    if (!rf_init(f)) {
        say(f, "cannot initialise %s: %s: not limited", f->path, strerror(errno));
        return false;
    }
    return true;
}

/* rf_hash - the slot hash of scope and key under the file's key: one
 * message "scope\0key", or for a key too long for the buffer "scope\1"
 * and the key's own hash (never 0: 0 marks a free slot) */
static uint64_t rf_hash(const rf_file *f, const rf_header *h, const char *key)
{
    unsigned char m[RF_MSG];
    size_t ns = strlen(f->scope), nk = strlen(key), n = ns + 1;
    uint64_t x;

    memcpy(m, f->scope, ns); /* ns < RF_MSG - 9: rf_open checked */
    if (n + nk <= sizeof(m)) {
        m[ns] = 0;
        memcpy(m + n, key, nk);
        n += nk;
    } else {
        m[ns] = 1;
        x = mv_siphash(h->key, key, nk);
        memcpy(m + n, &x, sizeof(x));
        n += sizeof(x);
    }
    x = mv_siphash(h->key, m, n);
    return x + (x == 0);
}

/* rf_slot_of - the key's slot: its own, else a free one, else the one
 * with the earliest tat (full the longest, or nearest to full) is
 * forgotten and given to the key as a full bucket (the lock is held) */
static rf_slot *rf_slot_of(const rf_file *f, const char *key, double now)
{
    const rf_header *h = (const rf_header *)f->map;
    uint64_t x = rf_hash(f, h, key);
    rf_slot *set, *victim = NULL;

    set = (rf_slot *)(f->map + RF_HDR) + (x & (RF_SETS - 1)) * RF_WAYS;
    for (int i = 0; i < RF_WAYS; i++)
        if (set[i].hash == x)
            return &set[i];
    for (int i = 0; i < RF_WAYS; i++) {
        if (set[i].hash == 0 || isnan(set[i].tat)) {
            victim = &set[i];
            break;
        }
        if (victim == NULL || set[i].tat < victim->tat)
            victim = &set[i];
    }
    victim->hash = x;
    victim->tat = now;
    return victim;
}

/* rf_gcra - take a token from a bucket kept as its tat; 0 or the wait */
static unsigned rf_gcra(rf_slot *s, double rate, double burst, double now)
{
    double t = s->tat, empty = now + burst / rate, tokens, wait;

    if (!(t >= now)) /* full (or NaN) */
        t = now;
    if (t > empty) /* a clock stepped back, or a hostile file */
        t = empty;
    tokens = burst - (t - now) * rate;
    if (tokens >= 1.0 - TOKEN_EPS) {
        s->tat = t + 1.0 / rate;
        return 0;
    }
    s->tat = t;
    wait = ceil((1.0 - tokens) / rate);
    return (unsigned)(wait < 1 ? 1 : wait > MAX_WAIT ? MAX_WAIT : wait);
}

/* rf_take - mv_ratelimit_take in the state file (the mutex is held) */
static unsigned rf_take(rf_file *f, const char *key, double rate, double burst, double now)
{
    unsigned wait = 0;

    if (!isfinite(now) || !isfinite(burst) || !isfinite(rate))
        return 0;
    if (!rf_lock(f))
        return 0;
    if (rf_ready(f))
        wait = rf_gcra(rf_slot_of(f, key, now), rate, burst, now);
    rf_unlock(f);
    return wait;
}

/* rf_close - unmap, close, free; NULL is fine */
static void rf_close(rf_file *f)
{
    if (f == NULL)
        return;
    if (f->map != NULL && f->map != MAP_FAILED)
        munmap(f->map, (size_t)RF_SIZE);
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->scope);
    free(f);
}

/* rf_open - the state file, mapped and checked; NULL (said why) on failure */
static rf_file *rf_open(const char *path, const char *scope, mv_ratelimit_log *log, void *arg)
{
    rf_file *f = calloc(1, sizeof(*f));
    struct stat st;
    bool ok;

    if (strlen(scope) > RF_MSG - 16) {
        if (log != NULL)
            log(arg, "rate-limit state: scope too long");
        free(f);
        return NULL;
    }
    if (f == NULL || (f->path = strdup(path)) == NULL || (f->scope = strdup(scope)) == NULL) {
        if (log != NULL)
            log(arg, "rate-limit state: out of memory");
        if (f != NULL)
            free(f->path);
        free(f);
        return NULL;
    }
    f->log = log;
    f->arg = arg;
    /* O_NOFOLLOW: a planted symlink does not aim our writes elsewhere;
     * O_NONBLOCK: a planted FIFO does not hang the request */
    if ((f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600)) < 0) {
        say(f, "cannot open %s: %s: not limited", path, strerror(errno));
        rf_close(f);
        return NULL;
    }
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        say(f, "%s is not a regular file: not limited", path);
        rf_close(f);
        return NULL;
    }
    f->map = mmap(NULL, (size_t)RF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (f->map == MAP_FAILED) {
        say(f, "cannot map %s: %s: not limited", path, strerror(errno));
        rf_close(f);
        return NULL;
    }
    /* made a table now, so that a file that cannot be one is refused
     * here, once, and the process falls back to no limit */
    if (!rf_lock(f)) {
        rf_close(f);
        return NULL;
    }
    ok = rf_ready(f);
    rf_unlock(f);
    if (!ok) {
        rf_close(f);
        return NULL;
    }
    return f;
}

/* mv_ratelimit_open - a table in the state file at path, shared with
 * every process that opens it; NULL if the file cannot be used */
mv_ratelimit *mv_ratelimit_open(const char *path, const char *scope, mv_ratelimit_log *log, void *arg)
{
    mv_ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL) {
        if (log != NULL)
            log(arg, "rate-limit state: out of memory");
        return NULL;
    }
    if ((rl->f = rf_open(path, scope, log, arg)) == NULL) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

/* mv_ratelimit_take - 0 if a token was taken, else seconds until one (>= 1) */
unsigned mv_ratelimit_take(mv_ratelimit *rl, const char *key, double rate, double burst, double now)
{
    unsigned wait;

    if (!(rate > 0))
        return 0;
    pthread_mutex_lock(&rl->mu);
    wait = rl->f != NULL ? rf_take(rl->f, key, rate, burst, now) : mem_take(rl, key, rate, burst, now);
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

/* free_one - release a bucket */
static void free_one(void *value, void *arg)
{
    (void)arg;
    free(value);
}

/* mv_ratelimit_free - release; NULL is fine */
void mv_ratelimit_free(mv_ratelimit *rl)
{
    if (rl == NULL)
        return;
    if (rl->b != NULL) {
        mv_dict_each(rl->b, free_one, NULL);
        mv_dict_free(rl->b);
    }
    rf_close(rl->f);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}
