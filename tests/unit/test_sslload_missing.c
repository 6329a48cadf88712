/* SPDX-License-Identifier: MIT */
/*
 * test_sslload_missing.c - what every OpenSSL user does when libssl.so.3
 * cannot be loaded.
 *
 * This file compiles the loader itself (sslload.c) with a library name
 * that does not exist, so production code needs no switch for it; the
 * static linker then takes this mv_ssl() and not the archive's. Then:
 * the loader says why, and says it again without trying again; HMAC
 * signing and verifying fail as on any OpenSSL failure; a Redis TLS
 * context is refused with the reason; a STARTTLS context is made (the
 * engine starts) but is not ready, so an SMTP probe against a scripted
 * server that offers STARTTLS goes on in plain text when TLS is
 * opportunistic and ends MV_PROBE_TLS, with the reason, when required.
 */
#define MV_LIBSSL_SONAME "libmailverify-test-no-such-ssl.so.3"
#include "sslload.c"

#include "unit.h"

#include "hmac.h"
#include "probe.h"
#include "redis_tls.h"
#include "tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* the loader fails, says why, and keeps its answer */
static void test_loader(void **state)
{
    const char *why = NULL, *again = NULL;

    (void)state;
    assert_null(mv_ssl(&why));
    assert_non_null(strstr(why, "cannot load OpenSSL"));
    assert_non_null(strstr(why, MV_LIBSSL_SONAME));
    assert_null(mv_ssl(&again));
    assert_ptr_equal(again, why);
}

/* HMAC reports failure, as it would on any OpenSSL error */
static void test_hmac(void **state)
{
    unsigned char mac[MV_HMAC_LEN];
    char sig[MV_SIG_SIZE] = "x";

    (void)state;
    assert_false(mv_hmac_sha256("k", 1, "m", 1, mac));
    assert_false(mv_webhook_sign("s", 1, "1700000000", "{}", 2, sig));
    assert_string_equal(sig, "");
    assert_false(mv_webhook_verify("s", 1, "1700000000", "{}", 2,
                                   "v1=0000000000000000000000000000000000000000000000000000000000000000"));
}

/* a Redis TLS context is refused with the reason */
static void test_redis_tls(void **state)
{
    char err[300] = "";

    (void)state;
    assert_null(mv_rtls_ctx_new(NULL, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "TLS: cannot load OpenSSL"));
}

/* a STARTTLS context is made, but not ready, and makes no session */
static void test_tls_ctx(void **state)
{
    const char *why = NULL;
    char err[200];
    mv_tls_ctx *c;
    int sv[2];

    (void)state;
    assert_non_null(c = mv_tls_ctx_new(err, sizeof(err)));
    assert_false(mv_tls_ctx_ready(c, &why));
    assert_non_null(strstr(why, "cannot load OpenSSL"));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_null(mv_tls_new(c, sv[0], "mx.example"));
    close(sv[0]);
    close(sv[1]);
    mv_tls_ctx_free(c);
}

/* ---- a probe against a scripted server that offers STARTTLS ---------- */

typedef struct {
    int lfd;
    int saw_starttls;
} server;

/* reply - the scripted answer to one command line ("" to close) */
static const char *reply(const char *line, server *s)
{
    if (strncasecmp(line, "EHLO", 4) == 0)
        return "250-mx.example\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
    if (strncasecmp(line, "STARTTLS", 8) == 0) {
        s->saw_starttls = 1;
        return "454 4.7.0 not in this test\r\n";
    }
    if (strncasecmp(line, "QUIT", 4) == 0)
        return "";
    return "250 2.1.0 ok\r\n"; /* MAIL, RCPT, RSET */
}

/* serve - one session: banner, then a reply per line */
static void *serve(void *arg)
{
    server *s = arg;
    char buf[1024], *nl;
    size_t len = 0;
    ssize_t n;
    int fd = accept(s->lfd, NULL, NULL);

    if (fd < 0 || write(fd, "220 mx.example ESMTP\r\n", 22) != 22)
        goto out;
    while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
        len += (size_t)n;
        buf[len] = '\0';
        while ((nl = strstr(buf, "\r\n")) != NULL) {
            const char *r;

            *nl = '\0';
            r = reply(buf, s);
            if (*r == '\0' || write(fd, r, strlen(r)) != (ssize_t)strlen(r))
                goto out;
            len -= (size_t)(nl + 2 - buf);
            memmove(buf, nl + 2, len + 1);
        }
    }
out:
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* done - the probe's callback: keep the result, stop the loop */
static mv_probe_result got;
static mv_loop *loop;

static void done(void *arg, const mv_probe_result *r)
{
    (void)arg;
    got = *r;
    mv_loop_stop(loop);
}

/* probe - one session against a fresh server in this mode */
static void probe(mv_tls_mode mode, server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    const char *rcpts[] = {"user@example.com"};
    char err[200];
    mv_tls_ctx *c = mv_tls_ctx_new(err, sizeof(err));
    mv_probe_params p = {.helo = "probe.test",
                         .mail_from = "",
                         .tls = mode,
                         .tls_ctx = c,
                         .connect_ms = 2000,
                         .reply_ms = 2000};
    pthread_t t;

    assert_non_null(c);
    assert_non_null(loop = mv_loop_new());
    assert_true((s->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 1), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(pthread_create(&t, NULL, serve, s), 0);
    memset(&got, 0, sizeof(got));
    assert_non_null(mv_probe_start(loop, &p, (struct sockaddr *)&a, "mx.example", rcpts, 1, done, NULL));
    mv_loop_run(loop);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(s->lfd);
    mv_loop_free(loop);
    mv_tls_ctx_free(c);
}

/* opportunistic: no STARTTLS sent, the recipient asked in plain text */
static void test_probe_opportunistic(void **state)
{
    server s = {0};

    (void)state;
    probe(MV_TLS_OPPORTUNISTIC, &s);
    assert_int_equal(got.status, MV_PROBE_DONE);
    assert_false(got.tls);
    assert_int_equal(s.saw_starttls, 0);
    assert_int_equal(got.nanswered, 1);
    assert_int_equal(got.rcpt[0].code, 250);
}

/* required: the session ends as a TLS failure, saying why */
static void test_probe_required(void **state)
{
    server s = {0};

    (void)state;
    probe(MV_TLS_REQUIRED, &s);
    assert_int_equal(got.status, MV_PROBE_TLS);
    assert_int_equal(s.saw_starttls, 0);
    if (strstr(got.error, "cannot load OpenSSL") == NULL)
        fail_case("error: %s", got.error);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_redis_tls),
        cmocka_unit_test(test_tls_ctx),
        cmocka_unit_test(test_probe_opportunistic),
        cmocka_unit_test(test_probe_required),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
