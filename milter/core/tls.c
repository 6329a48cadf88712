/* SPDX-License-Identifier: MIT */
/*
 * tls.c - OpenSSL 3 client sessions for STARTTLS; see tls.h.
 *
 * OpenSSL keeps its errors in a per-thread queue; every call here clears
 * it first and copies the reason into the session afterwards, so that the
 * loop thread never reports another session's error. SIGPIPE is avoided
 * by the probe's sockets (MSG_NOSIGNAL is not available to SSL_write, so
 * the front ends ignore SIGPIPE; the CLI does too).
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mv_tls_ctx {
    SSL_CTX *ctx;
};

struct mv_tls {
    SSL *ssl;
    char err[160];
};

/* mv_tls_ctx_new - a client context; NULL with a message on failure */
mv_tls_ctx *mv_tls_ctx_new(char *err, size_t errlen)
{
    mv_tls_ctx *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        snprintf(err, errlen, "TLS: %s", c ? ERR_reason_error_string(ERR_get_error()) : "out of memory");
        free(c);
        return NULL;
    }
    /* TLS 1.2 and up, as RFC 8996 says; no verification (see tls.h) */
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return c;
}

/* mv_tls_ctx_free - release; NULL is fine */
void mv_tls_ctx_free(mv_tls_ctx *c)
{
    if (c == NULL)
        return;
    SSL_CTX_free(c->ctx);
    free(c);
}

/* mv_tls_new - a session on a connected socket, SNI set to host */
mv_tls *mv_tls_new(mv_tls_ctx *c, int fd, const char *host)
{
    mv_tls *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    ERR_clear_error();
    if ((t->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    if (host != NULL && *host != '\0')
        SSL_set_tlsext_host_name(t->ssl, host);
    SSL_set_connect_state(t->ssl);
    return t;
}

/* status - map an OpenSSL result to ours, keeping the error text */
static mv_tls_status status(mv_tls *t, int rc)
{
    unsigned long e;

    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_NONE: return MV_TLS_DONE;
    case SSL_ERROR_WANT_READ: return MV_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return MV_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return MV_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        snprintf(t->err, sizeof(t->err), "connection lost during TLS");
        return MV_TLS_ERROR;
    default:
        e = ERR_get_error();
        snprintf(t->err, sizeof(t->err), "%s", e ? ERR_reason_error_string(e) : "TLS failure");
        if (t->err[0] == '\0' || strcmp(t->err, "(null)") == 0)
            snprintf(t->err, sizeof(t->err), "TLS failure");
        return MV_TLS_ERROR;
    }
}

/* mv_tls_handshake - drive the handshake */
mv_tls_status mv_tls_handshake(mv_tls *t)
{
    ERR_clear_error();
    return status(t, SSL_do_handshake(t->ssl));
}

/* mv_tls_read - up to n bytes; *got set when MV_TLS_DONE */
mv_tls_status mv_tls_read(mv_tls *t, void *buf, size_t n, size_t *got)
{
    int rc;

    ERR_clear_error();
    rc = SSL_read(t->ssl, buf, n > 65536 ? 65536 : (int)n);
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

    ERR_clear_error();
    rc = SSL_write(t->ssl, buf, n > 65536 ? 65536 : (int)n);
    if (rc > 0) {
        *put = (size_t)rc;
        return MV_TLS_DONE;
    }
    return status(t, rc);
}

/* mv_tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" */
void mv_tls_describe(const mv_tls *t, char *version, size_t vlen, char *cipher, size_t clen)
{
    snprintf(version, vlen, "%s", SSL_get_version(t->ssl));
    snprintf(cipher, clen, "%s", SSL_get_cipher_name(t->ssl));
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
    SSL_free(t->ssl);
    free(t);
}
