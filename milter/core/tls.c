/* SPDX-License-Identifier: MIT */
/*
 * tls.c - OpenSSL 3 client sessions for STARTTLS; see tls.h.
 *
 * OpenSSL keeps its errors in a per-thread queue; every call here clears
 * it first and copies the reason into the session afterwards, so that the
 * loop thread never reports another session's error. SIGPIPE is avoided
 * by the probe's sockets (MSG_NOSIGNAL is not available to SSL_write, so
 * the front ends ignore SIGPIPE; the CLI does too). OpenSSL is loaded
 * (sslload.h) and the SSL_CTX made at the first probe that wants TLS,
 * not with the context: an engine that answers from its lists or its
 * cache never pays for either.
 */
#include "tls.h"

#include "sslload.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mv_tls_ctx {
    pthread_mutex_t mu;
    bool tried; /* made, or failed for good (why) */
    const mv_ssl_api *api;
    SSL_CTX *ctx;
    char why[200];
};

struct mv_tls {
    const mv_ssl_api *api;
    SSL *ssl;
    char err[160];
};

/* mv_tls_ctx_new - a client context; NULL with a message on failure */
mv_tls_ctx *mv_tls_ctx_new(char *err, size_t errlen)
{
    mv_tls_ctx *c = calloc(1, sizeof(*c));

    if (c == NULL || (errno = pthread_mutex_init(&c->mu, NULL)) != 0) {
        snprintf(err, errlen, "TLS: %s", c ? strerror(errno) : "out of memory");
        free(c);
        return NULL;
    }
    return c;
}

/* make - the SSL_CTX, once; on failure c->why says why */
static void make(mv_tls_ctx *c)
{
    const mv_ssl_api *api;
    const char *why;

    if ((api = mv_ssl(&why)) == NULL) {
        snprintf(c->why, sizeof(c->why), "%s", why);
        return;
    }
    api->ERR_clear_error();
    if ((c->ctx = api->SSL_CTX_new(api->TLS_client_method())) == NULL) {
        why = api->ERR_reason_error_string(api->ERR_get_error());
        snprintf(c->why, sizeof(c->why), "TLS: %s", why ? why : "cannot make a context");
        return;
    }
    c->api = api;
    /* TLS 1.2 and up, as RFC 8996 says; no verification (see tls.h).
     * SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are macros over
     * SSL_CTX_ctrl, whose answer they too ignore */
    api->SSL_CTX_ctrl(c->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    api->SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    api->SSL_CTX_ctrl(c->ctx, SSL_CTRL_MODE,
                      SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
}

/* mv_tls_ctx_ready - can sessions be made? loads OpenSSL the first time */
bool mv_tls_ctx_ready(mv_tls_ctx *c, const char **why)
{
    bool ok;

    pthread_mutex_lock(&c->mu);
    if (!c->tried) {
        make(c);
        c->tried = true;
    }
    ok = c->ctx != NULL;
    pthread_mutex_unlock(&c->mu);
    *why = ok ? "" : c->why; /* written once, before tried */
    return ok;
}

/* mv_tls_ctx_free - release; NULL is fine */
void mv_tls_ctx_free(mv_tls_ctx *c)
{
    if (c == NULL)
        return;
    if (c->ctx != NULL)
        c->api->SSL_CTX_free(c->ctx);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* mv_tls_new - a session on a connected socket, SNI set to host; NULL if
 * the context is not ready or out of memory */
mv_tls *mv_tls_new(mv_tls_ctx *c, int fd, const char *host)
{
    const mv_ssl_api *api;
    const char *why;
    mv_tls *t;

    if (!mv_tls_ctx_ready(c, &why) || (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->api = api = c->api;
    api->ERR_clear_error();
    if ((t->ssl = api->SSL_new(c->ctx)) == NULL || api->SSL_set_fd(t->ssl, fd) != 1) {
        api->SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    /* SSL_set_tlsext_host_name, a macro over SSL_ctrl; a name it refuses
     * (too long) only means no SNI, as before */
    if (host != NULL && *host != '\0')
        api->SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)host);
    api->SSL_set_connect_state(t->ssl);
    return t;
}

/* status - map an OpenSSL result to ours, keeping the error text */
static mv_tls_status status(mv_tls *t, int rc)
{
    unsigned long e;

    switch (t->api->SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_NONE: return MV_TLS_DONE;
    case SSL_ERROR_WANT_READ: return MV_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return MV_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return MV_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        snprintf(t->err, sizeof(t->err), "connection lost during TLS");
        return MV_TLS_ERROR;
    default:
        e = t->api->ERR_get_error();
        snprintf(t->err, sizeof(t->err), "%s", e ? t->api->ERR_reason_error_string(e) : "TLS failure");
        if (t->err[0] == '\0' || strcmp(t->err, "(null)") == 0)
            snprintf(t->err, sizeof(t->err), "TLS failure");
        return MV_TLS_ERROR;
    }
}

/* mv_tls_handshake - drive the handshake */
mv_tls_status mv_tls_handshake(mv_tls *t)
{
    t->api->ERR_clear_error();
    return status(t, t->api->SSL_do_handshake(t->ssl));
}

/* mv_tls_read - up to n bytes; *got set when MV_TLS_DONE */
mv_tls_status mv_tls_read(mv_tls *t, void *buf, size_t n, size_t *got)
{
    int rc;

    t->api->ERR_clear_error();
    rc = t->api->SSL_read(t->ssl, buf, n > 65536 ? 65536 : (int)n);
    if (rc > 0) {
        *got = (size_t)rc;
        return MV_TLS_DONE;
    }
    return status(t, rc);
}

/* mv_tls_write - up to n bytes; *put set when MV_TLS_DONE */
mv_tls_status mv_tls_write(mv_tls *t, const void *buf, size_t n, size_t *put)
{
    int rc;

    t->api->ERR_clear_error();
    rc = t->api->SSL_write(t->ssl, buf, n > 65536 ? 65536 : (int)n);
    if (rc > 0) {
        *put = (size_t)rc;
        return MV_TLS_DONE;
    }
    return status(t, rc);
}

/* mv_tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" */
void mv_tls_describe(const mv_tls *t, char *version, size_t vlen, char *cipher, size_t clen)
{
    snprintf(version, vlen, "%s", t->api->SSL_get_version(t->ssl));
    /* SSL_get_cipher_name, a macro */
    snprintf(cipher, clen, "%s", t->api->SSL_CIPHER_get_name(t->api->SSL_get_current_cipher(t->ssl)));
}

/* mv_tls_error - the last error, for logs and the verdict */
const char *mv_tls_error(const mv_tls *t)
{
    return t->err[0] ? t->err : "TLS failure";
}

/* mv_tls_free - release (no close_notify: the probe is ending anyway) */
void mv_tls_free(mv_tls *t)
{
    if (t == NULL)
        return;
    t->api->SSL_free(t->ssl);
    free(t);
}
