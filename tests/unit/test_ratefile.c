/* SPDX-License-Identifier: MIT */
/*
 * test_ratefile.c - token buckets kept in a shared state file (CGI mode).
 *
 * The same bucket arithmetic as the in-memory table (one table of cases run
 * against both stores), then what only a file has: buckets that outlive a
 * process, scopes apart in one file, processes that must not lose updates,
 * eviction within a full set, and contents that are outside data -- short,
 * long, scribbled, NaN and far-future buckets, a file truncated between two
 * takes, a symlink, a FIFO, a lock held by someone else. Every hostile
 * file must give a working table (rebuilt, with one log line) or a clean
 * refusal, never a crash or a long ban. The file format below mirrors
 * ratelimit.c's (a change there must change RF_VERSION, and this).
 */
#include "unit.h"

#include "ratelimit.h"
#include "siphash.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ratelimit.c's file format */
#define RF_HDR 128
#define RF_SETS 4096
#define RF_WAYS 8
#define RF_SLOT 16
#define RF_SIZE (RF_HDR + RF_SETS * RF_WAYS * RF_SLOT)
#define RF_KEY_AT 32 /* magic 8, six u32, then the SipHash key */

static char dir[64];
static char path[128];
static char logged[8][256];
static int nlogged;

/* log_line - keep what a table says */
static void log_line(void *arg, const char *line)
{
    (void)arg;
    if (nlogged < 8)
        snprintf(logged[nlogged], sizeof(logged[0]), "%s", line);
    nlogged++;
}

/* logged_has - did a logged line contain this? */
static bool logged_has(const char *words)
{
    for (int i = 0; i < nlogged && i < 8; i++)
        if (strstr(logged[i], words) != NULL)
            return true;
    return false;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mv-ratefile-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/ratelimit", dir);
    nlogged = 0;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* open_file - a shared table on path, scope "ip" */
static mv_ratelimit *open_file(void)
{
    return mv_ratelimit_open(path, "ip", log_line, NULL);
}

/* write_file - make path hold exactly these bytes */
static void write_file(const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* file_size - the size of path now */
static long long file_size(void)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (long long)st.st_size;
}

/* is_table - does path hold a fresh-looking table of ours? */
static bool is_table(void)
{
    char magic[8];
    int fd = open(path, O_RDONLY);
    bool ok;

    assert_true(fd >= 0);
    ok = pread(fd, magic, sizeof(magic), 0) == sizeof(magic) && memcmp(magic, "MVRLIM\0\1", 8) == 0;
    close(fd);
    return ok && file_size() == RF_SIZE;
}

/* The bucket arithmetic, the same for both stores. */
typedef struct {
    const char *key;
    double rate, burst, t;
    unsigned want;
} tcase;

static const tcase arithmetic[] = {
    /* rate 1/s, burst 3: three at once, then wait */
    {"1.2.3.4", 1, 3, 1000, 0},
    {"1.2.3.4", 1, 3, 1000, 0},
    {"1.2.3.4", 1, 3, 1000, 0},
    {"1.2.3.4", 1, 3, 1000, 1},
    {"1.2.3.4", 1, 3, 1000.5, 1}, /* half a token */
    {"1.2.3.4", 1, 3, 1001, 0},   /* one came */
    {"1.2.3.4", 1, 3, 1001, 1},
    /* a long pause refills to the burst, not beyond */
    {"1.2.3.4", 1, 3, 11001, 0},
    {"1.2.3.4", 1, 3, 11001, 0},
    {"1.2.3.4", 1, 3, 11001, 0},
    {"1.2.3.4", 1, 3, 11001, 1},
    /* one token per 10 s */
    {"k", 0.1, 1, 50, 0},
    {"k", 0.1, 1, 50, 10},
    {"k", 0.1, 1, 55, 5},
    {"k", 0.1, 1, 59.9, 1},
    {"k", 0.1, 1, 60, 0},
    /* four a second: the wait is still a whole second at least */
    {"q", 4, 4, 50, 0},
    {"q", 4, 4, 50, 0},
    {"q", 4, 4, 50, 0},
    {"q", 4, 4, 50, 0},
    {"q", 4, 4, 50, 1},
    /* keys apart; "" is a key too */
    {"key-one", 1, 1, 7, 0},
    {"key-one", 1, 1, 7, 1},
    {"key-two", 1, 1, 7, 0},
    {"key-one2", 1, 1, 7, 0},
    {"", 1, 1, 7, 0},
    {"", 1, 1, 7, 1},
    {"key-two", 1, 1, 7, 1},
    /* rate 0: no limit at all */
    {"5.6.7.8", 0, 1, 7, 0},
    {"5.6.7.8", 0, 1, 7, 0},
    {"5.6.7.8", 0, 1, 7, 0},
    /* wall-clock times (what the plugin passes): three a second, burst 20 */
    {"r", 3, 20, 1.7e9, 0},
};

/* run_arithmetic - the table against one store */
static void run_arithmetic(mv_ratelimit *rl, const char *store)
{
    size_t n = sizeof(arithmetic) / sizeof(arithmetic[0]);

    assert_non_null(rl);
    for (size_t i = 0; i < n; i++) {
        const tcase *c = &arithmetic[i];
        unsigned got = mv_ratelimit_take(rl, c->key, c->rate, c->burst, c->t);

        if (got != c->want)
            fail_case("%s #%zu: %s rate %g burst %g at %g -> %u, wanted %u", store, i, c->key, c->rate,
                      c->burst, c->t, got, c->want);
    }
    /* a burst at wall-clock magnitudes, where rounding is coarsest */
    for (int i = 1; i < 20; i++)
        assert_int_equal(mv_ratelimit_take(rl, "r", 3, 20, 1.7e9), 0);
    assert_int_equal(mv_ratelimit_take(rl, "r", 3, 20, 1.7e9), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mv_ratelimit_take(rl, "r", 3, 20, 1.7e9 + 1), 0);
    assert_int_equal(mv_ratelimit_take(rl, "r", 3, 20, 1.7e9 + 1), 1);
    mv_ratelimit_free(rl);
}

static void test_arithmetic_both_stores(void **state)
{
    (void)state;
    run_arithmetic(mv_ratelimit_new(), "memory");
    run_arithmetic(open_file(), "file");
    assert_int_equal(nlogged, 0); /* a new file is made silently */
    assert_true(is_table());
}

static void test_outlives_the_process(void **state)
{
    mv_ratelimit *rl = open_file();

    (void)state;
    assert_non_null(rl);
    /* one CGI request after another: each a new table on the same file */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mv_ratelimit_take(rl, "192.0.2.7", 1, 3, 100), 0);
        mv_ratelimit_free(rl);
        rl = open_file();
        assert_non_null(rl);
    }
    assert_int_equal(mv_ratelimit_take(rl, "192.0.2.7", 1, 3, 100), 1);
    assert_int_equal(mv_ratelimit_take(rl, "192.0.2.8", 1, 3, 100), 0);
    mv_ratelimit_free(rl);
    assert_int_equal(nlogged, 0);
}

static void test_scopes_apart(void **state)
{
    mv_ratelimit *ip = open_file(), *key = mv_ratelimit_open(path, "key", log_line, NULL);
    mv_ratelimit *ip2 = open_file();

    (void)state;
    assert_non_null(ip);
    assert_non_null(key);
    assert_non_null(ip2);
    /* an API key that looks like an address has its own bucket */
    assert_int_equal(mv_ratelimit_take(ip, "10.0.0.1", 1, 1, 5), 0);
    assert_int_equal(mv_ratelimit_take(key, "10.0.0.1", 1, 1, 5), 0);
    assert_int_equal(mv_ratelimit_take(key, "10.0.0.1", 1, 1, 5), 1);
    /* one scope on two open files of one process: one bucket, and the
     * two locks exclude each other (flock is per open file) */
    assert_int_equal(mv_ratelimit_take(ip2, "10.0.0.1", 1, 1, 5), 1);
    mv_ratelimit_free(ip);
    mv_ratelimit_free(key);
    mv_ratelimit_free(ip2);
}

/* keys too long for one message are hashed first: still one bucket per
 * key, and "a" * 300 is not "a" * 299 + "b" */
static void test_long_keys(void **state)
{
    mv_ratelimit *rl = open_file();
    char a[301], b[301];

    (void)state;
    assert_non_null(rl);
    memset(a, 'a', 300);
    a[300] = '\0';
    memcpy(b, a, sizeof(b));
    b[299] = 'b';
    assert_int_equal(mv_ratelimit_take(rl, a, 1, 1, 5), 0);
    assert_int_equal(mv_ratelimit_take(rl, a, 1, 1, 5), 1);
    assert_int_equal(mv_ratelimit_take(rl, b, 1, 1, 5), 0);
    mv_ratelimit_free(rl);
}

/* child - a CGI process's worth of takes: how many got a token */
static int child(int takes)
{
    mv_ratelimit *rl = mv_ratelimit_open(path, "ip", NULL, NULL);
    int got = 0;

    if (rl == NULL)
        return -1;
    for (int i = 0; i < takes; i++)
        got += mv_ratelimit_take(rl, "203.0.113.9", 1e-6, 1000, 42.0) == 0;
    mv_ratelimit_free(rl);
    return got;
}

static void test_processes_lose_nothing(void **state)
{
    enum { PROCS = 8, TAKES = 300 };
    int fds[2], total = 0, status;
    pid_t pids[PROCS];
    mv_ratelimit *rl = open_file(); /* the file exists before the race */

    (void)state;
    assert_non_null(rl);
    assert_int_equal(pipe(fds), 0);
    for (int i = 0; i < PROCS; i++) {
        assert_true((pids[i] = fork()) >= 0);
        if (pids[i] == 0) {
            int got = child(TAKES);

            _exit(write(fds[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
        }
    }
    close(fds[1]);
    for (int i = 0; i < PROCS; i++) {
        int got;

        assert_int_equal(read(fds[0], &got, sizeof(got)), sizeof(got));
        assert_true(got >= 0);
        total += got;
    }
    close(fds[0]);
    for (int i = 0; i < PROCS; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* 2400 tries at a bucket of 1000 that does not refill: exactly 1000 */
    assert_int_equal(total, 1000);
    assert_int_not_equal(mv_ratelimit_take(rl, "203.0.113.9", 1e-6, 1000, 42.0), 0);
    mv_ratelimit_free(rl);
}

typedef struct {
    mv_ratelimit *rl;
    int taken;
} thread_arg;

static void *taker(void *arg)
{
    thread_arg *a = arg;

    for (int i = 0; i < 5000; i++)
        a->taken += mv_ratelimit_take(a->rl, i & 1 ? "shared" : "other", 0.001, 2000, 1.0) == 0;
    return NULL;
}

static void test_threads(void **state)
{
    mv_ratelimit *rl = open_file();
    thread_arg a[4];
    pthread_t t[4];
    int total = 0;

    (void)state;
    assert_non_null(rl);
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){rl, 0};
        assert_int_equal(pthread_create(&t[i], NULL, taker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += a[i].taken;
    }
    assert_int_equal(total, 4000); /* two keys, 2000 tokens each */
    mv_ratelimit_free(rl);
}

/* file_key - the file's SipHash key */
static void file_key(uint8_t k[MV_SIPHASH_KEY])
{
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, k, MV_SIPHASH_KEY, RF_KEY_AT), MV_SIPHASH_KEY);
    close(fd);
}

/* slot_hash - the hash a key's slot carries (ratelimit.c's rf_hash, for
 * keys short enough to go in one message: scope, NUL, key) */
static uint64_t slot_hash(const uint8_t k[MV_SIPHASH_KEY], const char *scope, const char *key)
{
    char m[128];
    int n = snprintf(m, sizeof(m), "%s%c%s", scope, 0, key);
    uint64_t x;

    assert_true(n > 0 && (size_t)n < sizeof(m));
    x = mv_siphash(k, m, (size_t)n);
    return x + (x == 0);
}

/* same_set - n keys "198.51.100.N" whose slots share one set */
static void same_set(char keys[][32], int n)
{
    uint8_t s[MV_SIPHASH_KEY];
    uint64_t want = 0;
    int found = 0;

    file_key(s);

    for (int i = 0; found < n && i < 10000000; i++) {
        char k[32];
        uint64_t set;

        snprintf(k, sizeof(k), "198.51.%d.%d", i >> 8, i & 255);
        set = slot_hash(s, "ip", k) & (RF_SETS - 1);
        if (found == 0)
            want = set;
        if (set == want)
            snprintf(keys[found++], 32, "%s", k);
    }
    assert_int_equal(found, n);
}

static void test_eviction_in_a_full_set(void **state)
{
    mv_ratelimit *rl = open_file();
    char keys[RF_WAYS + 1][32];
    double t = 1000, u = 5000;

    (void)state;
    assert_non_null(rl);
    same_set(keys, RF_WAYS + 1);
    /* eight buckets (rate 1, burst 2) in one set: key i takes two tokens
     * at t + i, so it is full again at t + i + 2 */
    for (int i = 0; i < RF_WAYS; i++) {
        assert_int_equal(mv_ratelimit_take(rl, keys[i], 1, 2, t + i), 0);
        assert_int_equal(mv_ratelimit_take(rl, keys[i], 1, 2, t + i), 0);
    }
    /* at t + 8 keys 0..6 are full again, 0 the longest: a ninth key
     * takes key 0's slot, and key 7 (still empty) is kept */
    assert_int_equal(mv_ratelimit_take(rl, keys[8], 1, 2, t + 8), 0);
    assert_int_equal(mv_ratelimit_take(rl, keys[8], 1, 2, t + 8), 0);
    assert_int_equal(mv_ratelimit_take(rl, keys[8], 1, 2, t + 8), 1); /* tracked */
    assert_int_equal(mv_ratelimit_take(rl, keys[7], 1, 2, t + 7), 1);
    mv_ratelimit_free(rl);

    /* none full: the one nearest to full goes (it is owed the least) */
    assert_int_equal(unlink(path), 0);
    rl = open_file();
    assert_non_null(rl);
    same_set(keys, RF_WAYS + 1);
    /* rate 0.1, burst 2: key i empties its bucket at u + i */
    for (int i = 0; i < RF_WAYS; i++) {
        assert_int_equal(mv_ratelimit_take(rl, keys[i], 0.1, 2, u + i), 0);
        assert_int_equal(mv_ratelimit_take(rl, keys[i], 0.1, 2, u + i), 0);
    }
    /* at u + 8 every bucket is short of a token; key 0 is nearest to
     * full: the ninth key takes its slot (and empties its own bucket) */
    assert_int_equal(mv_ratelimit_take(rl, keys[8], 0.1, 2, u + 8), 0);
    assert_int_equal(mv_ratelimit_take(rl, keys[8], 0.1, 2, u + 8), 0);
    /* key 0 was forgotten: it comes back with a full bucket (and pushes
     * out key 1, now nearest to full); the others are kept */
    assert_int_equal(mv_ratelimit_take(rl, keys[0], 0.1, 2, u + 8), 0);
    for (int i = 2; i <= RF_WAYS; i++)
        if (mv_ratelimit_take(rl, keys[i], 0.1, 2, u + 8) == 0)
            fail_case("key %d was forgotten", i);
    mv_ratelimit_free(rl);
}

/* Hostile or broken files: each must become a fresh table. */
typedef struct {
    const char *name;
    size_t len;      /* bytes written */
    int fill;        /* byte value */
    bool header;     /* a valid header first, then fill */
    size_t patch_at; /* then one u32 here (0: none) */
    uint32_t patch;
    const char *says; /* in the log line ("" : silent) */
} hcase;

static const hcase hostile[] = {
    {"empty", 0, 0, false, 0, 0, ""},
    {"one byte", 1, 'x', false, 0, 0, "wrong size"},
    {"half a header", 60, 0, true, 0, 0, "wrong size"},
    {"header only", RF_HDR, 0, true, 0, 0, "wrong size"},
    {"truncated table", RF_SIZE - 1, 0, true, 0, 0, "wrong size"},
    {"one byte long", RF_SIZE + 1, 0, true, 0, 0, "wrong size"},
    {"zeroes", RF_SIZE, 0, false, 0, 0, "bad magic"},
    {"text", RF_SIZE, 'A', false, 0, 0, "bad magic"},
    {"version 1 (a seed, no key)", RF_SIZE, 0, true, 8, 1, "unknown version"},
    {"version 3", RF_SIZE, 0, true, 8, 3, "unknown version"},
    {"header size", RF_SIZE, 0, true, 12, 64, "wrong geometry"},
    {"sets", RF_SIZE, 0, true, 16, 0xffffffffu, "wrong geometry"},
    {"ways", RF_SIZE, 0, true, 20, 0, "wrong geometry"},
    {"slot size", RF_SIZE, 0, true, 24, 8, "wrong geometry"},
};

/* header - a valid header */
static void header(unsigned char *b)
{
    uint32_t v[6] = {2, RF_HDR, RF_SETS, RF_WAYS, RF_SLOT, 0};

    memcpy(b, "MVRLIM\0\1", 8);
    memcpy(b + 8, v, sizeof(v));
    memset(b + RF_KEY_AT, 0x5a, MV_SIPHASH_KEY);
}

static void test_hostile_files(void **state)
{
    unsigned char *b = malloc(RF_SIZE + 1);

    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        const hcase *c = &hostile[i];
        mv_ratelimit *rl;

        memset(b, c->fill, RF_SIZE + 1);
        if (c->header)
            header(b);
        if (c->patch_at)
            memcpy(b + c->patch_at, &c->patch, sizeof(c->patch));
        write_file(b, c->len);
        nlogged = 0;
        if ((rl = open_file()) == NULL)
            fail_case("%s: refused", c->name);
        if (c->says[0] == '\0' ? nlogged != 0
                               : nlogged != 1 || !logged_has(c->says) || !logged_has("reinitialised"))
            fail_case("%s: logged %d lines, first \"%s\"", c->name, nlogged, nlogged ? logged[0] : "");
        if (!is_table())
            fail_case("%s: not rebuilt (%lld bytes)", c->name, file_size());
        /* a fresh table: the whole burst */
        for (int k = 0; k < 3; k++)
            assert_int_equal(mv_ratelimit_take(rl, "192.0.2.1", 1, 3, 10), 0);
        assert_int_equal(mv_ratelimit_take(rl, "192.0.2.1", 1, 3, 10), 1);
        mv_ratelimit_free(rl);
    }
    free(b);
}

static void test_hostile_buckets(void **state)
{
    static const double tats[] = {NAN, INFINITY, -INFINITY, 1e300, -1e300, 0, 5e-324, 9e15};
    unsigned char *b = malloc(RF_SIZE);
    mv_ratelimit *rl;
    uint8_t s[MV_SIPHASH_KEY];

    (void)state;
    assert_non_null(b);
    /* a valid header over slots of garbage: every slot of our key's set
     * carries its hash, with absurd times */
    header(b);
    memcpy(s, b + RF_KEY_AT, sizeof(s));
    for (size_t k = 0; k < sizeof(tats) / sizeof(tats[0]); k++) {
        const char *key = "192.0.2.99";
        uint64_t x = slot_hash(s, "ip", key);
        unsigned char *set = b + RF_HDR + (x & (RF_SETS - 1)) * RF_WAYS * RF_SLOT;

        for (size_t off = RF_HDR; off < RF_SIZE; off += RF_SLOT) {
            uint64_t junk = (uint64_t)off * 0x9E3779B97F4A7C15ULL;

            memcpy(b + off, &junk, 8);
            memcpy(b + off + 8, &tats[(off / RF_SLOT) % 8], 8);
        }
        for (int w = 0; w < RF_WAYS; w++) {
            memcpy(set + w * RF_SLOT, &x, 8);
            memcpy(set + w * RF_SLOT + 8, &tats[k], 8);
        }
        write_file(b, RF_SIZE);
        nlogged = 0;
        rl = open_file();
        assert_non_null(rl);
        assert_int_equal(nlogged, 0); /* a valid file is used as it is */
        /* at worst an empty bucket: the wait is one token's (2 s), not
         * what the file says */
        for (int i = 0; i < 4; i++) {
            unsigned w = mv_ratelimit_take(rl, key, 0.5, 2, 1000);

            if (w > 2)
                fail_case("tat %g: wait %u", tats[k], w);
        }
        assert_int_equal(mv_ratelimit_take(rl, key, 0.5, 2, 1000), 2);
        /* and other keys in those sets work */
        for (int i = 0; i < 200; i++) {
            char other[32];

            snprintf(other, sizeof(other), "10.9.%d.%zu", i, k);
            assert_true(mv_ratelimit_take(rl, other, 0.5, 2, 1000) <= 2);
        }
        mv_ratelimit_free(rl);
    }
    free(b);
}

static void test_clock_stepped_back(void **state)
{
    mv_ratelimit *rl = open_file();

    (void)state;
    assert_non_null(rl);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mv_ratelimit_take(rl, "c", 1, 3, 1.7e9), 0);
    /* an hour back: the bucket is empty, not empty for an hour */
    assert_int_equal(mv_ratelimit_take(rl, "c", 1, 3, 1.7e9 - 3600), 1);
    assert_int_equal(mv_ratelimit_take(rl, "c", 1, 3, 1.7e9 - 3599), 0);
    mv_ratelimit_free(rl);
}

static void test_truncated_between_takes(void **state)
{
    mv_ratelimit *rl = open_file();

    (void)state;
    assert_non_null(rl);
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 0);
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 1);
    /* someone cuts the file short under the mapping: a read through it
     * now would be SIGBUS */
    assert_int_equal(truncate(path, 100), 0);
    nlogged = 0;
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 0); /* rebuilt: fresh */
    assert_true(logged_has("wrong size"));
    assert_true(is_table());
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 1);
    /* and scribbled on */
    write_file("garbage", 7);
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 0);
    assert_true(is_table());
    /* and removed: this open file still works (a new one would be made
     * by the next process) */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mv_ratelimit_take(rl, "t", 1, 1, 10), 1);
    mv_ratelimit_free(rl);
}

static void test_cannot_open(void **state)
{
    char p[192];

    (void)state;
    /* no such directory */
    snprintf(p, sizeof(p), "%s/no/such/dir/ratelimit", dir);
    nlogged = 0;
    assert_null(mv_ratelimit_open(p, "ip", log_line, NULL));
    assert_int_equal(nlogged, 1);
    assert_true(logged_has("cannot open") && logged_has("not limited"));
    /* a directory */
    nlogged = 0;
    assert_null(mv_ratelimit_open(dir, "ip", log_line, NULL));
    assert_int_equal(nlogged, 1);
    /* a symlink (not followed, even to a good place) */
    snprintf(p, sizeof(p), "%s/link", dir);
    assert_int_equal(symlink(path, p), 0);
    nlogged = 0;
    assert_null(mv_ratelimit_open(p, "ip", log_line, NULL));
    assert_int_equal(nlogged, 1);
    /* a FIFO: refused at once, not waited on */
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    nlogged = 0;
    assert_null(mv_ratelimit_open(p, "ip", log_line, NULL));
    assert_true(logged_has("not a regular file"));
    /* no log function: still refused, quietly */
    assert_null(mv_ratelimit_open(dir, "ip", NULL, NULL));
}

/* now_ms - a monotonic clock for the lock test */
static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_lock_held_elsewhere(void **state)
{
    mv_ratelimit *rl = open_file();
    int fd;
    double t0;

    (void)state;
    assert_non_null(rl);
    assert_int_equal(mv_ratelimit_take(rl, "l", 1, 1, 10), 0);
    /* a process stopped while holding the lock: the take waits a
     * little, then lets the request through */
    assert_true((fd = open(path, O_RDWR)) >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    nlogged = 0;
    t0 = now_ms();
    assert_int_equal(mv_ratelimit_take(rl, "l", 1, 1, 10), 0);
    assert_true(now_ms() - t0 < 1000);
    assert_true(logged_has("stayed locked"));
    /* released (as by a dying process): limited again */
    close(fd);
    assert_int_equal(mv_ratelimit_take(rl, "l", 1, 1, 10), 1);
    mv_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arithmetic_both_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outlives_the_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scopes_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes_lose_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_in_a_full_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_stepped_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_between_takes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_elsewhere, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
