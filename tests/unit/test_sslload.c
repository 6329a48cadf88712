/* SPDX-License-Identifier: MIT */
/*
 * test_sslload.c - OpenSSL loaded on first use (sslload.c).
 *
 * The programs do not link libssl: this checks that nothing loads it
 * before it is needed (a TLS context is made without it), that the
 * loader resolves every function of its list into a slot of the right
 * place, that threads racing for the first load all get the one table,
 * and that what came back is OpenSSL (a context takes the TLS 1.2 floor
 * through SSL_CTX_ctrl, CRYPTO_memcmp compares). Unit tests link the
 * same libraries as the programs, so libssl is not in this process
 * until mv_ssl() brings it. test_sslload_missing.c has the failure path.
 */
#include "unit.h"

#include "sslload.h"
#include "tls.h"

#include <dlfcn.h>
#include <pthread.h>

/* in_process - is libssl.so.3 mapped? (RTLD_NOLOAD opens nothing) */
static int in_process(void)
{
    void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);

    if (h != NULL)
        dlclose(h);
    return h != NULL;
}

/* first: a TLS context alone does not load OpenSSL */
static void test_lazy(void **state)
{
    char err[200];
    mv_tls_ctx *c;

    (void)state;
    assert_false(in_process());
    assert_non_null(c = mv_tls_ctx_new(err, sizeof(err)));
    assert_false(in_process());
    mv_tls_ctx_free(c);
    assert_false(in_process());
}

#define THREADS 8
static pthread_barrier_t barrier;

/* racer - wait for the others, then ask for the table */
static void *racer(void *arg)
{
    const char *why = NULL;

    (void)arg;
    pthread_barrier_wait(&barrier);
    return (void *)mv_ssl(&why);
}

/* threads racing for the first load all get the same table */
static void test_race(void **state)
{
    pthread_t t[THREADS];
    void *got[THREADS];

    (void)state;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
    pthread_barrier_destroy(&barrier);
    assert_non_null(got[0]);
    for (int i = 1; i < THREADS; i++)
        assert_ptr_equal(got[i], got[0]);
    assert_true(in_process());
}

/* every function of the list, in its own slot, is the library's own */
static void test_every_function(void **state)
{
    const char *why = NULL;
    const mv_ssl_api *api = mv_ssl(&why);
    void *lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
    size_t n = 0;

    (void)state;
    assert_non_null(api);
    assert_non_null(lib);
#define CHECK(f) \
    do { \
        void *want = dlsym(lib, #f); \
        void *slot; \
\
        memcpy(&slot, &api->f, sizeof(slot)); \
        if (want == NULL || slot != want) \
            fail_case("%s: slot %p, library %p", #f, slot, want); \
        n++; \
    } while (0);
    MV_SSL_FUNCTIONS(CHECK)
#undef CHECK
    /* the table is nothing but the list: no slot without a name */
    assert_int_equal(n * sizeof(void (*)(void)), sizeof(*api));
    dlclose(lib);
}

/* what came back works as OpenSSL: the calls the tree makes through macros */
static void test_works(void **state)
{
    const char *why = NULL;
    const mv_ssl_api *api = mv_ssl(&why);
    SSL_CTX *ctx;

    (void)state;
    assert_non_null(api);
    assert_non_null(ctx = api->SSL_CTX_new(api->TLS_client_method()));
    assert_int_equal(api->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL), 1);
    assert_int_equal(api->SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, NULL), TLS1_2_VERSION);
    api->SSL_CTX_free(ctx);
    assert_int_equal(api->CRYPTO_memcmp("abc", "abc", 3), 0);
    assert_int_not_equal(api->CRYPTO_memcmp("abc", "abd", 3), 0);
    assert_ptr_equal(mv_ssl(&why), api); /* loaded once */
}

/* a STARTTLS context is ready once OpenSSL is there */
static void test_tls_ready(void **state)
{
    const char *why = "unset";
    char err[200];
    mv_tls_ctx *c;

    (void)state;
    assert_non_null(c = mv_tls_ctx_new(err, sizeof(err)));
    assert_true(mv_tls_ctx_ready(c, &why));
    assert_string_equal(why, "");
    assert_true(mv_tls_ctx_ready(c, &why));
    mv_tls_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy), /* first: nothing loaded yet */
        cmocka_unit_test(test_race),  cmocka_unit_test(test_every_function),
        cmocka_unit_test(test_works), cmocka_unit_test(test_tls_ready),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
