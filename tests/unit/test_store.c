/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - the cache stores (store.h): one table of semantics cases
 * (hit, stale, expiry, Postfix's never-clobber rule, delete) run against
 * every store, then what only a shared store does: counters, purge, the
 * expiry sweep, a full map, a reopen that keeps verdicts, many processes
 * writing at once, and processes killed with SIGKILL inside a write and
 * inside a read transaction leaving the file readable and writable.
 */
#include "unit.h"
#include "store_int.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const mv_cache_ttl ttl = {
    .expire = {1000, 100, 10},
    .refresh = {500, 50, 0},
};

enum { PUT, GET, DEL };

/* One step: an operation at a time, and what it must give. */
typedef struct {
    int op;
    const char *key;
    int64_t now;
    mv_cache_class cls; /* PUT: the class; GET: the class expected on a hit */
    const char *val;    /* PUT: the value; GET: the value expected on a hit */
    int want;           /* mv_cache_result, mv_cache_put_result, or DEL: found */
} step;

static const step steps[] = {
    /* hit, stale past refresh, miss past expire */
    {GET, "s:a@x.test", 0, 0, NULL, MV_CACHE_MISS},
    {PUT, "s:a@x.test", 0, MV_CACHE_POSITIVE, "ok", MV_CACHE_STORED},
    {GET, "s:a@x.test", 10, MV_CACHE_POSITIVE, "ok", MV_CACHE_HIT},
    {GET, "s:a@x.test", 499, MV_CACHE_POSITIVE, "ok", MV_CACHE_HIT},
    {GET, "s:a@x.test", 500, MV_CACHE_POSITIVE, "ok", MV_CACHE_STALE},
    {GET, "s:a@x.test", 999, MV_CACHE_POSITIVE, "ok", MV_CACHE_STALE},
    {GET, "s:a@x.test", 1000, 0, NULL, MV_CACHE_MISS},
    /* temporary: short, never stale */
    {PUT, "s:t@x.test", 0, MV_CACHE_TEMPORARY, "grey", MV_CACHE_STORED},
    {GET, "s:t@x.test", 9, MV_CACHE_TEMPORARY, "grey", MV_CACHE_HIT},
    {GET, "s:t@x.test", 10, 0, NULL, MV_CACHE_MISS},
    /* a failed re-probe never clobbers a good entry; only the probe time moves */
    {PUT, "s:g@x.test", 0, MV_CACHE_POSITIVE, "good", MV_CACHE_STORED},
    {PUT, "s:g@x.test", 100, MV_CACHE_NEGATIVE, "bad", MV_CACHE_KEPT},
    {GET, "s:g@x.test", 101, MV_CACHE_POSITIVE, "good", MV_CACHE_HIT},
    {GET, "s:g@x.test", 599, MV_CACHE_POSITIVE, "good", MV_CACHE_HIT},
    {GET, "s:g@x.test", 600, MV_CACHE_POSITIVE, "good", MV_CACHE_STALE},
    {PUT, "s:g@x.test", 601, MV_CACHE_TEMPORARY, "grey", MV_CACHE_KEPT},
    {PUT, "s:g@x.test", 602, MV_CACHE_POSITIVE, "new", MV_CACHE_STORED},
    {GET, "s:g@x.test", 603, MV_CACHE_POSITIVE, "new", MV_CACHE_HIT},
    /* negative resists temporary, not positive */
    {PUT, "s:n@x.test", 0, MV_CACHE_NEGATIVE, "no", MV_CACHE_STORED},
    {PUT, "s:n@x.test", 5, MV_CACHE_TEMPORARY, "grey", MV_CACHE_KEPT},
    {GET, "s:n@x.test", 6, MV_CACHE_NEGATIVE, "no", MV_CACHE_HIT},
    {PUT, "s:n@x.test", 7, MV_CACHE_POSITIVE, "yes", MV_CACHE_STORED},
    {GET, "s:n@x.test", 8, MV_CACHE_POSITIVE, "yes", MV_CACHE_HIT},
    /* an expired good entry no longer resists */
    {PUT, "s:e@x.test", 0, MV_CACHE_POSITIVE, "old", MV_CACHE_STORED},
    {PUT, "s:e@x.test", 1000, MV_CACHE_NEGATIVE, "gone", MV_CACHE_STORED},
    {GET, "s:e@x.test", 1001, MV_CACHE_NEGATIVE, "gone", MV_CACHE_HIT},
    /* delete; keys are exact (a next hop makes another key) */
    {PUT, "s:d@x.test|relay", 0, MV_CACHE_POSITIVE, "hop", MV_CACHE_STORED},
    {GET, "s:d@x.test", 1, 0, NULL, MV_CACHE_MISS},
    {DEL, "s:d@x.test|relay", 1, 0, NULL, 1},
    {DEL, "s:d@x.test|relay", 1, 0, NULL, 0},
    {GET, "s:d@x.test|relay", 2, 0, NULL, MV_CACHE_MISS},
};

/* run_steps - the table against one store */
static void run_steps(mv_store *st)
{
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
        const step *s = &steps[i];
        char v[65];
        size_t n = 0;
        mv_cache_class cls = 0;
        int got;

        if (s->op == PUT)
            got = mv_store_put(st, s->key, strlen(s->key), s->now, &ttl, s->cls, s->val, strlen(s->val));
        else if (s->op == DEL)
            got = mv_store_del(st, s->key, strlen(s->key));
        else
            got = mv_store_get(st, s->key, strlen(s->key), s->now, &ttl, v, 64, &n, &cls);
        if (got != s->want)
            fail_case("%s step %zu (%s at %lld): got %d, want %d", mv_store_kind(st), i, s->key,
                      (long long)s->now, got, s->want);
        if (s->op == GET && got != MV_CACHE_MISS &&
            (cls != s->cls || n != strlen(s->val) || memcmp(v, s->val, n) != 0))
            fail_case("%s step %zu: class %d value %.*s", mv_store_kind(st), i, cls, (int)n, v);
    }
}

/* tmp_path - a fresh LMDB file name in a fresh directory */
static void tmp_path(char *path, size_t size)
{
    char dir[] = "/tmp/mv-store-XXXXXX";

    assert_non_null(mkdtemp(dir));
    snprintf(path, size, "%s/cache.mdb", dir);
}

/* rm_store - the file, its lock and the directory */
static void rm_store(const char *path)
{
    char p[300];

    unlink(path);
    snprintf(p, sizeof(p), "%s-lock", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s", path);
    *strrchr(p, '/') = '\0';
    rmdir(p);
}

static mv_store *open_lmdb(const char *path, size_t mb)
{
    char err[300];
    mv_store *st = mv_store_lmdb_open(path, mb, err, sizeof(err));

    if (st == NULL)
        fail_msg("%s", err);
    return st;
}

static void test_semantics_memory(void **state)
{
    mv_store *st = mv_store_memory_new(1000, 1 << 20);

    (void)state;
    run_steps(st);
    assert_int_equal(mv_store_incr(st, "c:x", 3, 0, 60, 1), -1);
    assert_int_equal(mv_store_purge(st, "x.test"), -1);
    assert_false(mv_store_shared(st));
    mv_store_free(st);
}

static void test_semantics_lmdb(void **state)
{
    char path[256];
    mv_store *st;
    struct stat sb;

    (void)state;
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 16);
    run_steps(st);
    assert_true(mv_store_shared(st));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660); /* shared with the web plugin's group */
    mv_store_free(st);
    rm_store(path);
}

static mv_cache_put_result put(mv_store *st, const char *k, int64_t now, mv_cache_class cls)
{
    return mv_store_put(st, k, strlen(k), now, &ttl, cls, "v", 1);
}

static mv_cache_result get(mv_store *st, const char *k, int64_t now)
{
    char v[MV_CACHE_VAL_MAX];
    size_t n;
    mv_cache_class cls;

    return mv_store_get(st, k, strlen(k), now, &ttl, v, sizeof(v), &n, &cls);
}

static void test_lmdb_counter_purge_reopen(void **state)
{
    char path[256];
    mv_store *st;
    mv_store_stats ss;

    (void)state;
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 16);
    /* a fixed window: counts up, then starts again at one */
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 100, 60, 0), 0);
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 100, 60, 1), 1);
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 159, 60, 1), 2);
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 159, 60, 0), 2);
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 160, 60, 0), 0);
    assert_int_equal(mv_store_incr(st, "c:dha:1.2.3.4", 13, 160, 60, 1), 1);
    put(st, "s:a@x.test", 0, MV_CACHE_POSITIVE);
    put(st, "d:a@x.test", 0, MV_CACHE_POSITIVE);
    put(st, "s:a@x.test|hop", 0, MV_CACHE_POSITIVE);
    put(st, "s:b@x.test", 0, MV_CACHE_NEGATIVE);
    put(st, "s:b@y.test", 0, MV_CACHE_POSITIVE);
    put(st, "f:x.test", 0, MV_CACHE_POSITIVE);
    put(st, "s:c@sub.x.test", 0, MV_CACHE_POSITIVE);
    assert_int_equal(mv_store_purge(st, "a@x.test"), 3);
    assert_int_equal(get(st, "s:b@x.test", 1), MV_CACHE_HIT);
    assert_int_equal(mv_store_purge(st, "X.test"), 2); /* b@x.test and f:x.test */
    assert_int_equal(get(st, "s:b@x.test", 1), MV_CACHE_MISS);
    assert_int_equal(get(st, "s:c@sub.x.test", 1), MV_CACHE_HIT);
    mv_store_free(st);
    /* a restart keeps what was learned */
    st = open_lmdb(path, 16);
    assert_int_equal(get(st, "s:b@y.test", 2), MV_CACHE_HIT);
    mv_store_get_stats(st, &ss);
    assert_int_equal(ss.c.entries, 3); /* b@y, c@sub.x, the counter */
    mv_store_free(st);
    rm_store(path);
}

static void test_lmdb_sweep(void **state)
{
    char path[256], k[64];
    mv_store *st;
    mv_store_stats ss;
    size_t total = 0, n;

    (void)state;
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 16);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof(k), "s:u%d@x.test", i);
        put(st, k, 0, i % 3 == 0 ? MV_CACHE_POSITIVE : MV_CACHE_TEMPORARY);
    }
    /* at 50 nothing is due; at 20 the temporaries (expire 10) are */
    assert_int_equal(mv_store_sweep(st, 5), 0);
    for (int i = 0; i < 40; i++) {
        n = mv_store_sweep(st, 20);
        assert_true(n <= 256); /* bounded batches */
        total += n;
    }
    assert_int_equal(total, 2000);
    mv_store_get_stats(st, &ss);
    assert_int_equal(ss.c.entries, 1000);
    assert_int_equal(ss.swept, 2000);
    mv_store_free(st);
    rm_store(path);
}

static void test_lmdb_map_full(void **state)
{
    char path[256], k[64], big[MV_CACHE_VAL_MAX];
    mv_store *st;
    mv_store_stats ss;
    int stored = 0;

    (void)state;
    memset(big, 'x', sizeof(big));
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 1); /* 1 MB: about a thousand entries */
    for (int i = 0; i < 20000; i++) {
        mv_cache_put_result r;

        snprintf(k, sizeof(k), "s:user%05d@full.test", i);
        r = mv_store_put(st, k, strlen(k), 0, &ttl, MV_CACHE_POSITIVE, big, sizeof(big));
        assert_true(r == MV_CACHE_STORED || r == MV_CACHE_ENOMEM);
        stored += r == MV_CACHE_STORED;
    }
    mv_store_get_stats(st, &ss);
    /* a full map makes room: the cache keeps learning */
    assert_true(stored > 19000);
    assert_true(ss.c.evictions > 0);
    assert_int_equal(get(st, "s:user19999@full.test", 1), MV_CACHE_HIT);
    mv_store_free(st);
    rm_store(path);
}

/* child_in_txn - in a child: open the file, begin a transaction, write if
 * it is a write one, tell the parent, and wait to be killed */
static void child_in_txn(const char *path, bool wr, int fd)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k = {11, "s:k@kill.t"}, v = {20, "xxxxxxxxxxxxxxxxxxxx"};

    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, 16 << 20) != 0 ||
        mdb_env_set_maxreaders(env, 1022) != 0 ||
        mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0660) != 0 ||
        mdb_txn_begin(env, NULL, wr ? 0 : MDB_RDONLY, &t) != 0 || mdb_dbi_open(t, NULL, 0, &dbi) != 0)
        _exit(1);
    if (wr)
        for (int i = 0; i < 1000; i++)
            if (mdb_put(t, dbi, &k, &v, 0) != 0)
                _exit(1);
    if (write(fd, "r", 1) != 1)
        _exit(1);
    pause();
    _exit(0);
}

/* kill_in_txn - fork a child that dies with SIGKILL inside a transaction */
static void kill_in_txn(const char *path, bool wr)
{
    int p[2], status;
    char c;
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    if ((pid = fork()) == 0)
        child_in_txn(path, wr, p[1]);
    assert_true(pid > 0);
    assert_int_equal(read(p[0], &c, 1), 1);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(p[0]);
    close(p[1]);
}

static void test_lmdb_killed(void **state)
{
    char path[256];
    mv_store *st, *st2;
    mv_store_stats ss;

    (void)state;
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 16);
    put(st, "s:before@kill.test", 0, MV_CACHE_POSITIVE);
    /* killed holding the writers' mutex: the next writer gets it back */
    kill_in_txn(path, true);
    assert_int_equal(get(st, "s:before@kill.test", 1), MV_CACHE_HIT);
    assert_int_equal(get(st, "s:k@kill.t", 1), MV_CACHE_MISS); /* never committed */
    assert_int_equal(put(st, "s:after@kill.test", 1, MV_CACHE_POSITIVE), MV_CACHE_STORED);
    /* killed inside a read: its slot is found and freed */
    kill_in_txn(path, false);
    mv_store_sweep(st, 2); /* checks the reader table */
    mv_store_get_stats(st, &ss);
    assert_true(ss.stale_readers >= 1);
    st2 = open_lmdb(path, 16); /* this process's environment, shared */
    assert_int_equal(get(st2, "s:after@kill.test", 2), MV_CACHE_HIT);
    assert_int_equal(put(st2, "s:later@kill.test", 2, MV_CACHE_POSITIVE), MV_CACHE_STORED);
    assert_int_equal(get(st, "s:later@kill.test", 2), MV_CACHE_HIT);
    mv_store_free(st2);
    mv_store_free(st);
    rm_store(path);
}

static void test_lmdb_processes(void **state)
{
    char path[256], k[64];
    mv_store *st;
    mv_store_stats ss;
    pid_t pids[4];

    (void)state;
    tmp_path(path, sizeof(path));
    st = open_lmdb(path, 16);
    mv_store_free(st);
    /* four processes write and read at once, each its own keys */
    for (int p = 0; p < 4; p++) {
        if ((pids[p] = fork()) == 0) {
            mv_store *cs = open_lmdb(path, 16);

            for (int i = 0; i < 500; i++) {
                snprintf(k, sizeof(k), "s:p%d-%d@proc.test", p, i);
                if (put(cs, k, 0, MV_CACHE_POSITIVE) != MV_CACHE_STORED || get(cs, k, 1) != MV_CACHE_HIT)
                    _exit(1);
            }
            mv_store_free(cs);
            _exit(0);
        }
        assert_true(pids[p] > 0);
    }
    for (int p = 0; p < 4; p++) {
        int status;

        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    st = open_lmdb(path, 16);
    mv_store_get_stats(st, &ss);
    assert_int_equal(ss.c.entries, 2000); /* each sees the others' */
    mv_store_free(st);
    rm_store(path);
}

static void test_purge_match(void **state)
{
    (void)state;
    assert_true(mv_store_purge_match("s:a@x.t", 7, "a@x.t"));
    assert_true(mv_store_purge_match("d:a@x.t|hop", 11, "a@x.t"));
    assert_true(mv_store_purge_match("s:a@x.t|hop", 11, "x.t"));
    assert_true(mv_store_purge_match("f:x.t", 5, "x.t"));
    assert_true(mv_store_purge_match("f:x.t|mx.hop", 12, "x.t"));
    assert_false(mv_store_purge_match("f:x.tt", 6, "x.t"));
    assert_false(mv_store_purge_match("f:x.t", 5, "a@x.t"));
    assert_false(mv_store_purge_match("s:a@x.tt", 8, "x.t"));
    assert_false(mv_store_purge_match("s:ab@x.t", 8, "b@x.t"));
    assert_false(mv_store_purge_match("c:dha:x.t", 9, "x.t"));
}

static void test_open_from_settings(void **state)
{
    mv_settings s = {0};
    char err[300], path[256];
    mv_store *st;

    (void)state;
    s.cache_store = MV_STORE_MEMORY;
    s.cache_max_entries = 0; /* no cache: NULL, and no error */
    assert_null(mv_store_open(&s, err, sizeof(err)));
    assert_string_equal(err, "");
    s.cache_max_entries = 10;
    s.cache_max_bytes = 10000;
    assert_non_null(st = mv_store_open(&s, err, sizeof(err)));
    assert_string_equal(mv_store_kind(st), "memory");
    mv_store_free(st);
    tmp_path(path, sizeof(path));
    s.cache_store = MV_STORE_LMDB;
    s.cache_lmdb_path = path;
    s.cache_lmdb_size_mb = 4;
    assert_non_null(st = mv_store_open(&s, err, sizeof(err)));
    assert_string_equal(mv_store_kind(st), "lmdb");
    mv_store_free(st);
    rm_store(path);
    s.cache_lmdb_path = "/nonexistent-dir/cache.mdb";
    assert_null(mv_store_open(&s, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/cache.mdb"));
    assert_true(mv_store_built(MV_STORE_MEMORY) && mv_store_built(MV_STORE_LMDB));
    s.cache_store = MV_STORE_REDIS;
    if (!mv_store_built(MV_STORE_REDIS)) {
        assert_null(mv_store_open(&s, err, sizeof(err)));
        assert_non_null(strstr(err, "not built"));
        return;
    }
    s.cache_redis_server = "127.0.0.1:6379"; /* not connected: no loop yet */
    s.cache_redis_password = "";
    s.cache_redis_prefix = "mv:";
    s.cache_redis_timeout_ms = 100;
    assert_non_null(st = mv_store_open(&s, err, sizeof(err)));
    assert_string_equal(mv_store_kind(st), "redis");
    assert_true(mv_store_shared(st));
    assert_null(mv_store_redis_client(st));
    assert_int_equal(mv_store_put(st, "s:a@x.t", 7, 100, &ttl, MV_CACHE_POSITIVE, "v", 1),
                     MV_CACHE_STORED); /* the memory tier takes it */
    assert_int_equal(mv_store_incr(st, "c:x", 3, 0, 60, 1), -1);
    assert_int_equal(mv_store_purge(st, "x.t"), -1);
    mv_store_free(st);
    s.cache_redis_server = "redis.example:6379"; /* hiredis would block resolving it */
    assert_null(mv_store_open(&s, err, sizeof(err)));
    assert_non_null(strstr(err, "not a name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semantics_memory),
        cmocka_unit_test(test_semantics_lmdb),
        cmocka_unit_test(test_lmdb_counter_purge_reopen),
        cmocka_unit_test(test_lmdb_sweep),
        cmocka_unit_test(test_lmdb_map_full),
        cmocka_unit_test(test_lmdb_killed),
        cmocka_unit_test(test_lmdb_processes),
        cmocka_unit_test(test_purge_match),
        cmocka_unit_test(test_open_from_settings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
