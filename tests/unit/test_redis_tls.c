/* SPDX-License-Identifier: MIT */
/*
 * test_redis_tls.c - the Redis client over TLS (redis_tls.c) against a
 * real redis-server with a tls-port: certificates made here with the
 * openssl command (a CA, a server certificate for 127.0.0.1 and
 * redis.test, a client certificate; another CA nobody trusts). Shown:
 * round trips and 10,000 pipelined commands through the pump, writes made
 * during the TLS handshake, a server killed and restarted (reconnects
 * over TLS), and every refusal a user can meet -- an untrusted CA, a name
 * the certificate does not carry, no client certificate when Redis asks
 * for one -- each one log line, never a crash or a hang; a server that
 * accepts and never answers the TLS hello ends at the client's timeout.
 * Run inside tests/in-netns.
 */
#include "redis_fixture.h"

static char certs[128];
static int tls_port;
static char port_s[16];
static char path_cert[192], path_key[192], path_ca[192];

/* make_certs - a throwaway PKI in the test's directory (EC keys: fast) */
static void make_certs(void)
{
    char cmd[2048];

    snprintf(certs, sizeof(certs), "%s/pki", dir);
    snprintf(cmd, sizeof(cmd),
             "exec >/dev/null 2>&1; set -e; mkdir -p %s; cd %s; k='-newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes';"
             "openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj /CN=mvtest-ca;"
             "openssl req $k -keyout server.key -out server.csr -subj /CN=redis.test;"
             "printf 'subjectAltName=IP:127.0.0.1,DNS:redis.test\\n' > san.ext;"
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
             " -out server.crt -days 2 -extfile san.ext;"
             "openssl req $k -keyout client.key -out client.csr -subj /CN=mvtest-client;"
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
             " -out client.crt -days 2;"
             "openssl req -x509 $k -keyout other.key -out other-ca.crt -days 2 -subj /CN=other-ca",
             certs, certs);
    assert_int_equal(system(cmd), 0);
}

/* tls_server_start - the fixture's server (unix socket, plain: for looking
 * at it) with a tls-port that asks for client certificates */
static void tls_server_start(void)
{
    static char a[3][200];
    int i = 0;

    snprintf(a[0], sizeof(a[0]), "%s/server.crt", certs);
    snprintf(a[1], sizeof(a[1]), "%s/server.key", certs);
    snprintf(a[2], sizeof(a[2]), "%s/ca.crt", certs);
    server_extra[i++] = "--tls-port";
    server_extra[i++] = port_s;
    server_extra[i++] = "--tls-cert-file";
    server_extra[i++] = a[0];
    server_extra[i++] = "--tls-key-file";
    server_extra[i++] = a[1];
    server_extra[i++] = "--tls-ca-cert-file";
    server_extra[i++] = a[2];
    server_extra[i] = NULL;
    server_start(NULL);
}

/* tls_client - a client of the tls-port; ca/cert/key under certs ("" none) */
static mv_redis *tls_client(mv_loop *l, const char *ca, const char *cert, const char *name, logbook *lb)
{
    char server[64];
    mv_redis_params p = {0};
    mv_redis *r;

    snprintf(server, sizeof(server), "127.0.0.1:%d", tls_port);
    snprintf(path_ca, sizeof(path_ca), "%s/%s", certs, ca);
    snprintf(path_cert, sizeof(path_cert), "%s/%s.crt", certs, cert);
    snprintf(path_key, sizeof(path_key), "%s/%s.key", certs, cert);
    p.server = server;
    p.prefix = "mv:";
    p.timeout_ms = 1000;
    p.tls = true;
    p.tls_ca_file = path_ca;
    p.tls_cert_file = cert[0] ? path_cert : NULL;
    p.tls_key_file = cert[0] ? path_key : NULL;
    p.tls_server_name = name;
    p.log = log_cb;
    p.log_arg = lb;
    r = mv_redis_new(l, &p);
    assert_non_null(r);
    return r;
}

static int tls_setup(void **state)
{
    setup(state);
    make_certs();
    tls_port = free_tcp_port();
    snprintf(port_s, sizeof(port_s), "%d", tls_port);
    return 0;
}

static int after(void **state)
{
    (void)state;
    server_kill();
    return 0;
}

/* ---- cases --------------------------------------------------------------- */

static void on_many_ok(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    int *n = arg;

    *n += st == MV_REDIS_OK && e != NULL && e->vlen == 300;
}

static void test_tls_roundtrip_and_pipeline(void **state)
{
    enum { N = 10000 };
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result put = {0}, res;
    char big[300];
    int found = 0;

    (void)state;
    tls_server_start();
    r = tls_client(l, "ca.crt", "client", NULL, &lb);
    /* written during the TCP connect and the TLS handshake: it waits in the pump */
    memset(big, 'v', sizeof(big));
    assert_int_equal(
        mv_redis_put(r, "s:tls@x.test", 12, MV_CACHE_POSITIVE, big, sizeof(big), 100, 60, on_put, &put),
        MV_REDIS_OK);
    assert_true(wait_up(l, r, 3000));
    assert_int_equal(lb.connected, 1);
    assert_non_null(strstr(lb.last, "(TLSv1."));
    assert_true(run_until(l, &put.calls, 1, 3000));
    assert_int_equal(put.st, MV_REDIS_OK);
    assert_true(redis_int("TTL %s", "mv:s:tls@x.test") > 50); /* seen on the plain socket */
    res = do_get(l, r, "s:tls@x.test");
    assert_true(res.found);
    assert_int_equal(res.e.vlen, sizeof(big));
    /* 10,000 GETs at once: ~3 MB of replies through the pump's 16 KB buffers */
    for (int i = 0; i < N; i++)
        assert_int_equal(mv_redis_get(r, "s:tls@x.test", 12, on_many_ok, &found), MV_REDIS_OK);
    assert_true(run_until(l, &found, N, 10000));
    assert_int_equal(found, N);
    mv_redis_free(r);
    mv_loop_free(l);
}

static void test_tls_refusals(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook untrusted = {0}, wrong_name = {0}, no_cert = {0}, by_name = {0};
    mv_redis *a, *b, *c, *d;
    result res = {0};

    (void)state;
    tls_server_start();
    a = tls_client(l, "other-ca.crt", "client", NULL, &untrusted);
    b = tls_client(l, "ca.crt", "client", "other.test", &wrong_name);
    c = tls_client(l, "ca.crt", "", NULL, &no_cert);
    d = tls_client(l, "ca.crt", "client", "redis.test", &by_name); /* SNI + DNS SAN */
    assert_true(wait_up(l, d, 3000));
    for (uint64_t t = mv_loop_now(); mv_loop_now() - t < 800;)
        mv_loop_run_once(l, 20);
    assert_false(mv_redis_up(a));
    assert_false(mv_redis_up(b));
    assert_false(mv_redis_up(c));
    assert_int_equal(untrusted.lines, 1); /* one line, quiet retries */
    assert_non_null(strstr(untrusted.last, "certificate verify failed"));
    assert_int_equal(wrong_name.lines, 1);
    assert_non_null(strstr(wrong_name.last, "certificate verify failed"));
    assert_int_equal(no_cert.lines, 1);
    assert_non_null(strstr(no_cert.last, "cannot connect"));
    /* refused clients answer at once, as with a server that is down */
    assert_int_equal(mv_redis_get(a, "k", 1, on_get, &res), MV_REDIS_UNAVAILABLE);
    assert_true(do_put(l, d, "s:name@x.test", MV_CACHE_POSITIVE, "v", 1, 60).stored);
    mv_redis_free(a);
    mv_redis_free(b);
    mv_redis_free(c);
    mv_redis_free(d);
    mv_loop_free(l);
}

static void test_tls_server_restarted(void **state)
{
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result res;

    (void)state;
    tls_server_start();
    r = tls_client(l, "ca.crt", "client", NULL, &lb);
    assert_true(wait_up(l, r, 3000));
    server_kill();
    res = (result){0};
    assert_int_equal(mv_redis_get(r, "k", 1, on_get, &res), MV_REDIS_OK);
    assert_true(run_until(l, &res.calls, 1, 3000));
    assert_int_equal(res.st, MV_REDIS_DOWN);
    assert_false(mv_redis_up(r));
    assert_int_equal(lb.lost, 1);
    tls_server_start();
    assert_true(wait_up(l, r, 8000));
    assert_int_equal(lb.connected, 2);
    assert_true(do_put(l, r, "s:again@x.test", MV_CACHE_POSITIVE, "v", 1, 60).stored);
    assert_true(do_get(l, r, "s:again@x.test").found);
    mv_redis_free(r);
    mv_loop_free(l);
}

/* A server that takes the connection and never answers the TLS hello:
 * the handshake ends at the client's timeout, with one line. */
static void test_tls_silent_server(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)tls_port)};
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    mv_loop *l = mv_loop_new();
    logbook lb = {0};
    mv_redis *r;
    result put = {0};
    uint64_t t0;

    (void)state;
    assert_true(lfd >= 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 8), 0); /* the kernel accepts; nobody reads */
    r = tls_client(l, "ca.crt", "client", NULL, &lb);
    assert_int_equal(mv_redis_put(r, "s:q@x.test", 10, MV_CACHE_POSITIVE, "v", 1, 1, 60, on_put, &put),
                     MV_REDIS_OK);
    t0 = mv_loop_now();
    assert_true(run_until(l, &put.calls, 1, 5000));
    assert_true(mv_loop_now() - t0 >= 900 && mv_loop_now() - t0 < 2500);
    assert_int_equal(put.st, MV_REDIS_TIMEOUT);
    assert_false(mv_redis_up(r));
    assert_int_equal(lb.lines, 1);
    assert_non_null(strstr(lb.last, "no answer within 1000 ms"));
    mv_redis_free(r);
    mv_loop_free(l);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tls_roundtrip_and_pipeline, after),
        cmocka_unit_test_teardown(test_tls_refusals, after),
        cmocka_unit_test_teardown(test_tls_server_restarted, after),
        cmocka_unit_test_teardown(test_tls_silent_server, after),
    };

    return cmocka_run_group_tests(tests, tls_setup, teardown);
}
