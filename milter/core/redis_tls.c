/* SPDX-License-Identifier: MIT */
/*
 * redis_tls.c - the TLS pump between hiredis and a Redis tls-port; see
 * redis_tls.h for why it exists.
 *
 * Two descriptors per connection: tcp (the server, TLS) and sp (our end
 * of the socketpair whose other end hiredis holds). Two bounded buffers:
 * up (plaintext from hiredis waiting for SSL_write) and down (plaintext
 * from SSL_read waiting to reach hiredis). pump() moves bytes until
 * nothing moves, then watches exactly what the next move waits for:
 * OpenSSL may need the socket readable to write (and writable to read),
 * so each direction remembers what its last call asked for. A full
 * buffer stops reading its source, so memory stays bounded whatever
 * either side does. hiredis starts writing (AUTH, SCRIPT LOAD) before
 * the handshake ends; that waits in up. OpenSSL is loaded (sslload.h)
 * by the first context, made when the configuration asks for TLS.
 */
#ifdef MV_HAVE_HIREDIS

#include "redis_tls.h"

#include "sslload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 16384

struct mv_rtls_ctx {
    const mv_ssl_api *api;
    SSL_CTX *ctx;
};

typedef enum { T_CONNECT, T_HANDSHAKE, T_OPEN, T_DEAD } tstate;

struct mv_rtls {
    const mv_ssl_api *api; /* the context's */
    mv_loop *loop;
    SSL *ssl;
    int tcp, sp;
    tstate state;
    unsigned tcp_mask, sp_mask;
    unsigned hs_wants;           /* handshake: MV_EV_READ or MV_EV_WRITE */
    unsigned wr_wants, rd_wants; /* what SSL_write / SSL_read last waited for */
    bool sp_eof;
    size_t up_len, down_off, down_len;
    mv_rtls_fail_fn fail;
    void *arg;
    unsigned char up[BUF], down[BUF];
};

/* ssl_why - OpenSSL's reason for the last failure, with the verify result */
static void ssl_why(const mv_rtls *t, const char *what, char *out, size_t size)
{
    unsigned long e = t->api->ERR_peek_last_error();
    long v = t->ssl ? t->api->SSL_get_verify_result(t->ssl) : X509_V_OK;
    char buf[200];

    if (v != X509_V_OK) {
        snprintf(out, size, "TLS %s: certificate verify failed: %s", what,
                 t->api->X509_verify_cert_error_string(v));
        return;
    }
    if (e != 0) {
        t->api->ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(out, size, "TLS %s: %s", what, buf);
    } else {
        snprintf(out, size, "TLS %s: %s", what, errno ? strerror(errno) : "connection closed");
    }
}

/* die - inert from now on, then tell the owner once (who may free t:
 * nothing touches t after this) */
static void die(mv_rtls *t, const char *why)
{
    if (t->state == T_DEAD)
        return;
    t->state = T_DEAD;
    mv_loop_io_del(t->loop, t->tcp);
    mv_loop_io_del(t->loop, t->sp);
    t->tcp_mask = t->sp_mask = 0;
    t->fail(t->arg, why);
}

/* ---- one step each ------------------------------------------------------ */

/* step_connect - the TCP connect finished? false when it failed (t dead) */
static bool step_connect(mv_rtls *t, bool *moved)
{
    int err = 0;
    socklen_t len = sizeof(err);
    char why[160];

    if (getsockopt(t->tcp, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return true;
    if (err != 0) {
        snprintf(why, sizeof(why), "connect: %s", strerror(err));
        die(t, why);
        return false;
    }
    t->state = T_HANDSHAKE;
    *moved = true;
    return true;
}

/* step_handshake - drive SSL_connect; false when it failed (t dead) */
static bool step_handshake(mv_rtls *t, bool *moved)
{
    char why[300];
    int rc, e;

    t->api->ERR_clear_error();
    errno = 0;
    if ((rc = t->api->SSL_connect(t->ssl)) == 1) {
        t->state = T_OPEN;
        t->hs_wants = 0;
        *moved = true;
        return true;
    }
    e = t->api->SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->hs_wants = e == SSL_ERROR_WANT_READ ? MV_EV_READ : MV_EV_WRITE;
        return true;
    }
    ssl_why(t, "handshake", why, sizeof(why));
    die(t, why);
    return false;
}

/* ssl_io - one SSL_read or SSL_write: bytes moved, 0 waiting (*wants set),
 * -1 failed (t dead) */
static int ssl_io(mv_rtls *t, bool wr, void *buf, size_t n, unsigned *wants)
{
    char why[300];
    int rc, e;

    t->api->ERR_clear_error();
    errno = 0;
    rc = wr ? t->api->SSL_write(t->ssl, buf, (int)n) : t->api->SSL_read(t->ssl, buf, (int)n);
    if (rc > 0) {
        *wants = 0;
        return rc;
    }
    e = t->api->SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *wants = e == SSL_ERROR_WANT_READ ? MV_EV_READ : MV_EV_WRITE;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        snprintf(why, sizeof(why), "the server closed the TLS session");
    else
        ssl_why(t, wr ? "write" : "read", why, sizeof(why));
    die(t, why);
    return -1;
}

/* step_open - move plaintext both ways once; false when t died */
static bool step_open(mv_rtls *t, bool *moved)
{
    ssize_t n;
    int k;

    if (t->up_len > 0) {
        if ((k = ssl_io(t, true, t->up, t->up_len, &t->wr_wants)) < 0)
            return false;
        if (k > 0) {
            memmove(t->up, t->up + k, t->up_len - (size_t)k);
            t->up_len -= (size_t)k;
            *moved = true;
        }
    }
    if (t->down_len == 0) {
        if ((k = ssl_io(t, false, t->down, sizeof(t->down), &t->rd_wants)) < 0)
            return false;
        if (k > 0) {
            t->down_off = 0;
            t->down_len = (size_t)k;
            *moved = true;
        }
    }
    if (t->down_len > 0) {
        n = send(t->sp, t->down + t->down_off, t->down_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            t->down_off += (size_t)n;
            t->down_len -= (size_t)n;
            *moved = true;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            die(t, "hiredis closed its end");
            return false;
        }
    }
    return true;
}

/* step_up - plaintext from hiredis into up (also before the handshake ends) */
static void step_up(mv_rtls *t, bool *moved)
{
    ssize_t n;

    if (t->sp_eof || t->up_len == sizeof(t->up))
        return;
    n = recv(t->sp, t->up + t->up_len, sizeof(t->up) - t->up_len, MSG_DONTWAIT);
    if (n > 0) {
        t->up_len += (size_t)n;
        *moved = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        t->sp_eof = true; /* hiredis is going; its owner frees us */
    }
}

/* ---- the pump ------------------------------------------------------------ */

static void on_event(void *arg, int fd, unsigned events);

/* watch - what the next move waits for */
static void watch(mv_rtls *t)
{
    unsigned tm = 0, sm = 0;

    if (t->state == T_CONNECT)
        tm = MV_EV_WRITE;
    else if (t->state == T_HANDSHAKE)
        tm = t->hs_wants ? t->hs_wants : MV_EV_READ;
    else if (t->state == T_OPEN) {
        if (t->up_len > 0)
            tm |= t->wr_wants ? t->wr_wants : MV_EV_WRITE;
        if (t->down_len == 0)
            tm |= t->rd_wants ? t->rd_wants : MV_EV_READ;
    }
    if (!t->sp_eof && t->up_len < sizeof(t->up))
        sm |= MV_EV_READ;
    if (t->down_len > 0)
        sm |= MV_EV_WRITE;
    if (tm != t->tcp_mask && mv_loop_io_set(t->loop, t->tcp, tm, on_event, t) == 0)
        t->tcp_mask = tm;
    if (sm != t->sp_mask && mv_loop_io_set(t->loop, t->sp, sm, on_event, t) == 0)
        t->sp_mask = sm;
}

/* pump - move until nothing moves, then watch; nothing after a death */
static void pump(mv_rtls *t)
{
    bool moved = true;

    for (int rounds = 0; moved && rounds < 64; rounds++) {
        moved = false;
        step_up(t, &moved);
        if (t->state == T_CONNECT && !step_connect(t, &moved))
            return;
        if (t->state == T_HANDSHAKE && !step_handshake(t, &moved))
            return;
        if (t->state == T_OPEN && !step_open(t, &moved))
            return;
    }
    watch(t);
}

/* on_event - either descriptor is ready (or failed: the steps find out) */
static void on_event(void *arg, int fd, unsigned events)
{
    mv_rtls *t = arg;

    (void)fd, (void)events;
    if (t->state != T_DEAD)
        pump(t);
}

/* ---- public -------------------------------------------------------------- */

/* ctx_setup - verification and the files; NULL, or what failed */
static const char *ctx_setup(const mv_rtls_ctx *c, const char *ca_file, const char *cert_file,
                             const char *key_file)
{
    const mv_ssl_api *api = c->api;
    bool ca = ca_file != NULL && ca_file[0] != '\0';
    bool cert = cert_file != NULL && cert_file[0] != '\0';
    bool key = key_file != NULL && key_file[0] != '\0';

    /* SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are macros over
     * SSL_CTX_ctrl, whose answer they too ignore */
    api->SSL_CTX_ctrl(c->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    api->SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    api->SSL_CTX_ctrl(c->ctx, SSL_CTRL_MODE,
                      SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    if (cert != key)
        return "give both a certificate and its key, or neither";
    if (ca ? api->SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
           : api->SSL_CTX_set_default_verify_paths(c->ctx) != 1)
        return ca ? ca_file : "the system's CA store";
    if (cert && api->SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1)
        return cert_file;
    if (key && api->SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return key_file;
    if (cert && api->SSL_CTX_check_private_key(c->ctx) != 1)
        return "the key does not match the certificate";
    return NULL;
}

/* mv_rtls_ctx_new - verification on, TLS 1.2 at least, a client pair if given */
mv_rtls_ctx *mv_rtls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, char *err,
                             size_t errsize)
{
    mv_rtls_ctx *c = calloc(1, sizeof(*c));
    const char *what;

    if (c == NULL) {
        snprintf(err, errsize, "TLS: out of memory");
        return NULL;
    }
    if ((c->api = mv_ssl(&what)) == NULL) {
        snprintf(err, errsize, "TLS: %s", what);
        mv_rtls_ctx_free(c);
        return NULL;
    }
    c->api->ERR_clear_error();
    if ((c->ctx = c->api->SSL_CTX_new(c->api->TLS_client_method())) == NULL) {
        snprintf(err, errsize, "TLS: out of memory");
        mv_rtls_ctx_free(c);
        return NULL;
    }
    if ((what = ctx_setup(c, ca_file, cert_file, key_file)) != NULL) {
        unsigned long e = c->api->ERR_peek_last_error();
        char buf[200] = "";

        if (e != 0)
            c->api->ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errsize, "TLS: %s%s%s", what, buf[0] ? ": " : "", buf);
        mv_rtls_ctx_free(c);
        return NULL;
    }
    return c;
}

void mv_rtls_ctx_free(mv_rtls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->ctx != NULL)
        ctx->api->SSL_CTX_free(ctx->ctx);
    free(ctx);
}

/* set_name - what the certificate must name: an IP address (SAN iPAddress)
 * or a DNS name (also SNI) */
static bool set_name(const mv_ssl_api *api, SSL *ssl, const char *name)
{
    unsigned char a[16];

    if (inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1)
        return api->X509_VERIFY_PARAM_set1_ip_asc(api->SSL_get0_param(ssl), name) == 1;
    /* SSL_set_tlsext_host_name, a macro over SSL_ctrl */
    return api->SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)name) == 1 &&
           api->SSL_set1_host(ssl, name) == 1;
}

/* mv_rtls_start - swap hiredis' socket for a socketpair end; TLS on the socket */
mv_rtls *mv_rtls_start(mv_loop *loop, mv_rtls_ctx *ctx, int fd, const char *name, mv_rtls_fail_fn fail,
                       void *arg, char *err, size_t errsize)
{
    mv_rtls *t = calloc(1, sizeof(*t));
    int sv[2] = {-1, -1};

    if (t == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    t->api = ctx->api;
    t->loop = loop;
    t->tcp = t->sp = -1;
    t->fail = fail;
    t->arg = arg;
    t->api->ERR_clear_error();
    if ((t->ssl = t->api->SSL_new(ctx->ctx)) == NULL || !set_name(t->api, t->ssl, name)) {
        snprintf(err, errsize, "TLS: cannot set up a session for %s", name);
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
        (t->tcp = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 || dup3(sv[0], fd, O_CLOEXEC) < 0) {
        snprintf(err, errsize, "TLS: %s", strerror(errno));
        goto fail;
    }
    close(sv[0]);
    t->sp = sv[1];
    if (t->api->SSL_set_fd(t->ssl, t->tcp) != 1) {
        snprintf(err, errsize, "TLS: cannot attach the socket");
        close(t->sp); /* fd now reads EOF: hiredis sees a closed connection */
        t->sp = -1;
        goto fail;
    }
    t->api->SSL_set_connect_state(t->ssl);
    t->state = T_CONNECT;
    watch(t);
    return t;
fail:
    if (t->sp < 0 && sv[0] >= 0) {
        close(sv[0]);
        close(sv[1]);
    }
    if (t->tcp >= 0)
        close(t->tcp);
    t->api->SSL_free(t->ssl);
    free(t);
    return NULL;
}

const char *mv_rtls_version(const mv_rtls *t)
{
    return t != NULL && t->state == T_OPEN ? t->api->SSL_get_version(t->ssl) : "";
}

/* mv_rtls_free - stop watching, close our descriptors (no close_notify:
 * the connection is being dropped) */
void mv_rtls_free(mv_rtls *t)
{
    if (t == NULL)
        return;
    if (t->tcp >= 0) {
        mv_loop_io_del(t->loop, t->tcp);
        close(t->tcp);
    }
    if (t->sp >= 0) {
        mv_loop_io_del(t->loop, t->sp);
        close(t->sp);
    }
    t->api->SSL_free(t->ssl);
    free(t);
}

#endif
