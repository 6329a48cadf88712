/* SPDX-License-Identifier: MIT */
/*
 * test_seal.c - cache.hash_keys: keyed names, sealed values, and the LMDB
 * store behind them (seal.h, store_seal.c).
 *
 * Names keep their kind, are the same for the same secret and differ for
 * another; values open only for the name they were sealed for, under the
 * same secret, and not after one byte changed; a short secret is refused.
 * Then an LMDB store opened from settings with hash_keys: verdicts go in
 * and come out as they were, purge ADDRESS works and purge DOMAIN cannot,
 * another secret finds nothing -- and the file on disk, read byte by
 * byte, holds neither the addresses nor the domains.
 */
#include "unit.h"

#include "outcome.h"
#include "seal.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "a shared secret of the fleet"

static const mv_cache_ttl ttl = {
    .expire = {1000, 100, 10},
    .refresh = {500, 50, 0},
};

static mv_seal *seal(const char *secret)
{
    char err[200];
    mv_seal *s = mv_seal_new(secret, strlen(secret), err, sizeof(err));

    if (s == NULL)
        fail_msg("%s", err);
    return s;
}

/* names: kind kept, 32 hex, deterministic, secret-dependent */
static void test_names(void **state)
{
    mv_seal *a = seal(SECRET), *a2 = seal(SECRET), *b = seal("another secret, long enough");
    char n1[MV_SEAL_NAME_LEN + 1], n2[MV_SEAL_NAME_LEN + 1], n3[MV_SEAL_NAME_LEN + 1], err[200];

    (void)state;
    assert_int_equal(mv_seal_name(a, "s:jane@example.com", 18, n1, sizeof(n1)), 34);
    assert_int_equal(mv_seal_name(a2, "s:jane@example.com", 18, n2, sizeof(n2)), 34);
    assert_string_equal(n1, n2);
    assert_memory_equal(n1, "s:", 2);
    assert_int_equal(strspn(n1 + 2, "0123456789abcdef"), 32);
    assert_int_equal(mv_seal_name(b, "s:jane@example.com", 18, n3, sizeof(n3)), 34);
    assert_string_not_equal(n1, n3);
    /* the kind is not part of what is hashed, but is kept: d: differs only there */
    assert_int_equal(mv_seal_name(a, "d:jane@example.com", 18, n2, sizeof(n2)), 34);
    assert_string_equal(n1 + 2, n2 + 2);
    assert_int_equal(n2[0], 'd');
    /* a key without a kind gets "h:"; two words of kind are kept, a third is hashed */
    assert_int_equal(mv_seal_name(a, "lease", 5, n2, sizeof(n2)), 34);
    assert_memory_equal(n2, "h:", 2);
    assert_int_equal(mv_seal_name(a, "lease:h:mx.example.com", 22, n2, sizeof(n2)), 8 + 32);
    assert_memory_equal(n2, "lease:h:", 8);
    assert_null(strstr(n2, "example"));
    assert_int_equal(mv_seal_name(a, "c:dha:dead:beef::1", 18, n2, sizeof(n2)), 6 + 32);
    assert_memory_equal(n2, "c:dha:", 6);
    assert_null(strstr(n2, "dead"));
    assert_int_equal(mv_seal_name(a, "s:x", 3, n2, 34), 0);
    assert_null(mv_seal_new("short", 5, err, sizeof(err)));
    assert_non_null(strstr(err, "16 to 1024 bytes"));
    mv_seal_free(a);
    mv_seal_free(a2);
    mv_seal_free(b);
}

/* values: round trip; bound to the name and the secret; tamper-evident */
static void test_values(void **state)
{
    static const char msg[] = "550 5.1.1 <jane@example.com>: mailbox unknown (mx.example.com)";
    mv_seal *a = seal(SECRET), *b = seal("another secret, long enough");
    unsigned char box[256], box2[256], out[256];
    size_t n, m, got = 0;

    (void)state;
    n = mv_seal_value(a, "s:n1", 4, msg, sizeof(msg), box, sizeof(box));
    assert_int_equal(n, sizeof(msg) + MV_SEAL_OVERHEAD);
    assert_null(memmem(box, n, "example", 7));
    assert_true(mv_seal_open(a, "s:n1", 4, box, n, out, sizeof(out), &got));
    assert_int_equal(got, sizeof(msg));
    assert_memory_equal(out, msg, sizeof(msg));
    /* a fresh nonce each time: the same value seals differently */
    m = mv_seal_value(a, "s:n1", 4, msg, sizeof(msg), box2, sizeof(box2));
    assert_int_equal(m, n);
    assert_memory_not_equal(box, box2, n);
    assert_false(mv_seal_open(a, "s:n2", 4, box, n, out, sizeof(out), &got)); /* moved to another key */
    assert_false(mv_seal_open(b, "s:n1", 4, box, n, out, sizeof(out), &got)); /* another secret */
    for (size_t i = 0; i < n; i += 7) {
        box[i] ^= 0x40;
        assert_false(mv_seal_open(a, "s:n1", 4, box, n, out, sizeof(out), &got));
        box[i] ^= 0x40;
    }
    assert_false(mv_seal_open(a, "s:n1", 4, box, n - 1, out, sizeof(out), &got)); /* cut short */
    assert_false(mv_seal_open(a, "s:n1", 4, box, 5, out, sizeof(out), &got));
    assert_false(mv_seal_open(a, "s:n1", 4, box, n, out, 10, &got)); /* out too small */
    assert_int_equal(mv_seal_value(a, "s:n1", 4, msg, sizeof(msg), box, sizeof(msg)), 0);
    /* an empty value seals too */
    n = mv_seal_value(a, "f:x", 3, "", 0, box, sizeof(box));
    assert_int_equal(n, MV_SEAL_OVERHEAD);
    assert_true(mv_seal_open(a, "f:x", 3, box, n, out, sizeof(out), &got));
    assert_int_equal(got, 0);
    mv_seal_free(a);
    mv_seal_free(b);
}

/* the whole file, as bytes */
static unsigned char *slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(64 << 20);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 64 << 20, f);
    fclose(f);
    *len = n;
    return buf;
}

static mv_store *open_sealed(const char *path, const char *secret)
{
    mv_settings s = {0};
    char err[300];
    mv_store *st;

    s.cache_store = MV_STORE_LMDB;
    s.cache_lmdb_path = (char *)path;
    s.cache_lmdb_size_mb = 4;
    s.cache_hash_keys = true;
    s.cache_hash_secret = (char *)secret;
    if ((st = mv_store_open(&s, err, sizeof(err))) == NULL)
        fail_msg("%s", err);
    return st;
}

/* an LMDB store from settings with hash_keys: works, and holds nothing in clear */
static void test_lmdb_sealed(void **state)
{
    static const char *const addrs[] = {"jane@example.com", "bob@mail.example.org", "Carol@sub.example.net"};
    char dir[] = "/tmp/mv-seal-XXXXXX", path[300], key[300], lock[320];
    unsigned char val[MV_CACHE_VAL_MAX], *file;
    mv_store *st, *other;
    mv_cache_class cls;
    size_t vl, flen;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/cache.mdb", dir);
    st = open_sealed(path, SECRET);
    assert_string_equal(mv_store_kind(st), "lmdb");
    for (size_t i = 0; i < 3; i++)
        for (int smtp = 0; smtp < 2; smtp++) {
            size_t kl = mv_outcome_key(key, sizeof(key), smtp, addrs[i], NULL);
            char v[200];
            int n = snprintf(v, sizeof(v), "550 5.1.1 <%s> unknown", addrs[i]);

            assert_int_equal(mv_store_put(st, key, kl, 100, &ttl, MV_CACHE_NEGATIVE, v, (size_t)n),
                             MV_CACHE_STORED);
        }
    assert_int_equal(
        mv_store_put(st, "f:example.com", 13, 100, &ttl, MV_CACHE_POSITIVE, "mx.example.com", 14),
        MV_CACHE_STORED);
    assert_int_equal(mv_store_incr(st, "c:dha:192.0.2.1", 15, 100, 60, 2), 2);
    assert_int_equal(mv_store_incr(st, "c:dha:192.0.2.1", 15, 100, 60, 1), 3);
    /* what went in comes out */
    assert_int_equal(mv_store_get(st, "s:jane@example.com", 18, 101, &ttl, val, sizeof(val), &vl, &cls),
                     MV_CACHE_HIT);
    assert_int_equal(cls, MV_CACHE_NEGATIVE);
    assert_memory_equal(val, "550 5.1.1 <jane@example.com> unknown", vl);
    /* another secret: other names, nothing found */
    other = open_sealed(path, "another secret, long enough");
    assert_int_equal(mv_store_get(other, "s:jane@example.com", 18, 101, &ttl, val, sizeof(val), &vl, &cls),
                     MV_CACHE_MISS);
    mv_store_free(other);
    /* purge: an address's two names; a domain cannot be found */
    assert_int_equal(mv_store_purge(st, "bob@mail.example.org"), 2);
    assert_int_equal(mv_store_get(st, "d:bob@mail.example.org", 22, 101, &ttl, val, sizeof(val), &vl, &cls),
                     MV_CACHE_MISS);
    assert_int_equal(mv_store_purge(st, "example.com"), -1);
    mv_store_free(st);
    /* the file holds no address, local part or domain, in any case */
    file = slurp_file(path, &flen);
    assert_true(flen > 0);
    for (const char *w = "example\0jane\0bob\0Carol\0192.0.2.1\0"; *w; w += strlen(w) + 1)
        if (memmem(file, flen, w, strlen(w)) != NULL)
            fail_msg("\"%s\" is in clear in %s", w, path);
    free(file);
    unlink(path);
    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(lock);
    rmdir(dir);
}

/* the check the test above relies on: without hash_keys the file has them */
static void test_lmdb_clear_has_them(void **state)
{
    char dir[] = "/tmp/mv-seal-XXXXXX", path[300], lock[320], err[300];
    unsigned char *file;
    mv_store *st;
    size_t flen;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/cache.mdb", dir);
    assert_non_null(st = mv_store_lmdb_open(path, 4, err, sizeof(err)));
    assert_int_equal(mv_store_put(st, "s:jane@example.com", 18, 100, &ttl, MV_CACHE_NEGATIVE, "x", 1),
                     MV_CACHE_STORED);
    mv_store_free(st);
    file = slurp_file(path, &flen);
    assert_non_null(memmem(file, flen, "jane@example.com", 16));
    free(file);
    unlink(path);
    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(lock);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_lmdb_sealed),
        cmocka_unit_test(test_lmdb_clear_has_them),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
