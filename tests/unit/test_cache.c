/* SPDX-License-Identifier: MIT */
/*
 * test_cache.c - the verdict cache: hits and misses, expire and refresh
 * per class, Postfix's no-clobber rule, LRU by entries and by bytes, and
 * many threads at once.
 */
#include "unit.h"
#include "cache.h"

#include <pthread.h>

static const mv_cache_ttl ttl = {
    .expire = {1000, 100, 10},
    .refresh = {500, 50, 0},
};

static mv_cache_result get(mv_cache *c, const char *k, int64_t now, char *out, mv_cache_class *cls)
{
    size_t n = 0;
    mv_cache_result r = mv_cache_get(c, k, strlen(k), now, &ttl, out, 64, &n, cls);

    out[r == MV_CACHE_MISS ? 0 : n] = '\0';
    return r;
}

static mv_cache_put_result put(mv_cache *c, const char *k, int64_t now, mv_cache_class cls, const char *v)
{
    return mv_cache_put(c, k, strlen(k), now, &ttl, cls, v, strlen(v));
}

static void test_expire_and_refresh(void **state)
{
    mv_cache *c = mv_cache_new(1000, 1 << 20);
    mv_cache_class cls;
    char v[65];

    (void)state;
    assert_int_equal(get(c, "a@x.test", 0, v, &cls), MV_CACHE_MISS);
    assert_int_equal(put(c, "a@x.test", 0, MV_CACHE_POSITIVE, "ok"), MV_CACHE_STORED);
    assert_int_equal(get(c, "a@x.test", 10, v, &cls), MV_CACHE_HIT);
    assert_string_equal(v, "ok");
    assert_int_equal(cls, MV_CACHE_POSITIVE);
    assert_int_equal(get(c, "a@x.test", 499, v, &cls), MV_CACHE_HIT);
    assert_int_equal(get(c, "a@x.test", 500, v, &cls), MV_CACHE_STALE);
    assert_int_equal(get(c, "a@x.test", 999, v, &cls), MV_CACHE_STALE);
    assert_int_equal(get(c, "a@x.test", 1000, v, &cls), MV_CACHE_MISS);
    /* temporary: short expire, never stale */
    put(c, "t@x.test", 0, MV_CACHE_TEMPORARY, "grey");
    assert_int_equal(get(c, "t@x.test", 9, v, &cls), MV_CACHE_HIT);
    assert_int_equal(get(c, "t@x.test", 10, v, &cls), MV_CACHE_MISS);
    mv_cache_free(c);
}

static void test_no_clobber(void **state)
{
    mv_cache *c = mv_cache_new(1000, 1 << 20);
    mv_cache_class cls;
    char v[65];
    mv_cache_stats st;

    (void)state;
    put(c, "p@x.test", 0, MV_CACHE_POSITIVE, "good");
    /* a failed re-probe (negative or temporary) does not replace a good entry */
    assert_int_equal(put(c, "p@x.test", 600, MV_CACHE_NEGATIVE, "bad"), MV_CACHE_KEPT);
    assert_int_equal(put(c, "p@x.test", 601, MV_CACHE_TEMPORARY, "tmp"), MV_CACHE_KEPT);
    /* ... and resets the refresh clock: not stale again until 601+500 */
    assert_int_equal(get(c, "p@x.test", 700, v, &cls), MV_CACHE_HIT);
    assert_string_equal(v, "good");
    assert_int_equal(get(c, "p@x.test", 999, v, &cls), MV_CACHE_HIT);
    /* once expired, the new result goes in */
    assert_int_equal(put(c, "p@x.test", 1000, MV_CACHE_NEGATIVE, "bad"), MV_CACHE_STORED);
    assert_int_equal(get(c, "p@x.test", 1001, v, &cls), MV_CACHE_HIT);
    assert_string_equal(v, "bad");
    assert_int_equal(cls, MV_CACHE_NEGATIVE);
    /* temporary does not replace negative; positive does */
    assert_int_equal(put(c, "p@x.test", 1002, MV_CACHE_TEMPORARY, "tmp"), MV_CACHE_KEPT);
    assert_int_equal(put(c, "p@x.test", 1003, MV_CACHE_POSITIVE, "good2"), MV_CACHE_STORED);
    assert_int_equal(get(c, "p@x.test", 1004, v, &cls), MV_CACHE_HIT);
    assert_string_equal(v, "good2");
    /* positive replaces positive (fresh data) */
    assert_int_equal(put(c, "p@x.test", 1005, MV_CACHE_POSITIVE, "good3"), MV_CACHE_STORED);
    mv_cache_get_stats(c, &st);
    assert_int_equal(st.kept, 3);
    assert_int_equal(st.entries, 1);
    mv_cache_free(c);
}

static void test_lru_entries(void **state)
{
    /* 16 shards share 1600 entries: each key set far above it */
    mv_cache *c = mv_cache_new(1600, 1 << 30);
    mv_cache_class cls;
    char k[32], v[65];
    mv_cache_stats st;

    (void)state;
    put(c, "keep@x.test", 0, MV_CACHE_POSITIVE, "v");
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "u%d@x.test", i);
        put(c, k, 0, MV_CACHE_POSITIVE, "v");
        if (i % 50 == 0) /* used often: must survive */
            assert_int_not_equal(get(c, "keep@x.test", 0, v, &cls), MV_CACHE_MISS);
    }
    mv_cache_get_stats(c, &st);
    assert_true(st.entries <= 1600 + 16);
    assert_int_equal(st.evictions + st.entries, 20001); /* every store is kept or evicted */
    assert_int_equal(get(c, "u0@x.test", 0, v, &cls), MV_CACHE_MISS);
    assert_int_equal(get(c, "u19999@x.test", 0, v, &cls), MV_CACHE_HIT);
    assert_int_equal(get(c, "keep@x.test", 0, v, &cls), MV_CACHE_HIT);
    mv_cache_free(c);
}

static void test_lru_bytes_and_limits(void **state)
{
    mv_cache *c = mv_cache_new(1000000, 16 * 4096);
    char k[32], big[1024];
    mv_cache_stats st;

    (void)state;
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "b%d@x.test", i);
        assert_int_equal(mv_cache_put(c, k, strlen(k), 0, &ttl, MV_CACHE_POSITIVE, big, sizeof(big)),
                         MV_CACHE_STORED);
    }
    mv_cache_get_stats(c, &st);
    assert_true(st.bytes <= 16 * 4096 + 16 * 1200);
    assert_true(st.entries < 100);
    char longkey[300];

    memset(longkey, 'k', sizeof(longkey));
    assert_int_equal(mv_cache_put(c, longkey, sizeof(longkey), 0, &ttl, MV_CACHE_POSITIVE, "v", 1),
                     MV_CACHE_TOOBIG);
    assert_int_equal(mv_cache_put(c, "k", 1, 0, &ttl, MV_CACHE_POSITIVE, big, MV_CACHE_VAL_MAX + 1),
                     MV_CACHE_TOOBIG);
    assert_true(mv_cache_del(c, "b999@x.test", 11));
    assert_false(mv_cache_del(c, "b999@x.test", 11));
    mv_cache_free(c);
}

static void *hammer(void *arg)
{
    mv_cache *c = arg;
    char k[32], v[65];
    size_t n;
    mv_cache_class cls;

    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "t%d@x.test", i % 3000);
        if (i % 3 == 0)
            mv_cache_put(c, k, strlen(k), i, &ttl, (mv_cache_class)(i % 3), k, strlen(k));
        else if (mv_cache_get(c, k, strlen(k), i, &ttl, v, sizeof(v), &n, &cls) != MV_CACHE_MISS)
            assert_memory_equal(v, k, strlen(k)); /* never a torn value */
    }
    return NULL;
}

static void test_threads(void **state)
{
    mv_cache *c = mv_cache_new(2000, 1 << 20);
    pthread_t th[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    mv_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expire_and_refresh),
        cmocka_unit_test(test_no_clobber),
        cmocka_unit_test(test_lru_entries),
        cmocka_unit_test(test_lru_bytes_and_limits),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
