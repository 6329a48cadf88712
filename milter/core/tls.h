/* SPDX-License-Identifier: MIT */
/*
 * tls.h - STARTTLS for the SMTP probe: all OpenSSL policy in one place.
 *
 * The probe asks for TLS the way MTAs do: opportunistically when a server
 * offers STARTTLS (RFC 3207), mandatory for domains the policy names.
 * Certificates are not verified: an MX host name is not authenticated by
 * DNS without DANE, and a verifier refusing self-signed certificates would
 * call half the Internet's mail servers broken. What a probe learns over
 * TLS is recorded (version, cipher) so a user can see it.
 * Non-blocking: every call answers done, want-read, want-write or error.
 */
#ifndef MV_TLS_H
#define MV_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mv_tls_ctx mv_tls_ctx;
typedef struct mv_tls mv_tls;

typedef enum {
    MV_TLS_DONE = 0,
    MV_TLS_WANT_READ,
    MV_TLS_WANT_WRITE,
    MV_TLS_CLOSED, /* the peer closed the TLS session */
    MV_TLS_ERROR,
} mv_tls_status;

/* mv_tls_ctx_new - a client context; NULL with a message on failure.
 * Cheap: OpenSSL is loaded and set up by the first mv_tls_ctx_ready()
 * or mv_tls_new() */
mv_tls_ctx *mv_tls_ctx_new(char *err, size_t errlen);

/* mv_tls_ctx_ready - can sessions be made? false, with why (a string that
 * lives as long as ctx), if OpenSSL cannot be loaded or set up; the
 * answer is final. Loads OpenSSL the first time (thread-safe) */
bool mv_tls_ctx_ready(mv_tls_ctx *ctx, const char **why);

/* mv_tls_ctx_free - release; NULL is fine */
void mv_tls_ctx_free(mv_tls_ctx *ctx);

/* mv_tls_new - a session on a connected socket, SNI set to host; NULL if
 * the context is not ready or out of memory */
mv_tls *mv_tls_new(mv_tls_ctx *ctx, int fd, const char *host);

/* mv_tls_handshake - drive the handshake */
mv_tls_status mv_tls_handshake(mv_tls *t);

/* mv_tls_read - up to n bytes; *got set when MV_TLS_DONE */
mv_tls_status mv_tls_read(mv_tls *t, void *buf, size_t n, size_t *got);

/* mv_tls_write - up to n bytes; *put set when MV_TLS_DONE */
mv_tls_status mv_tls_write(mv_tls *t, const void *buf, size_t n, size_t *put);

/* mv_tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" */
void mv_tls_describe(const mv_tls *t, char *version, size_t vlen, char *cipher, size_t clen);

/* mv_tls_error - the last error, for logs and the verdict */
const char *mv_tls_error(const mv_tls *t);

/* mv_tls_free - release (no close_notify: the probe is ending anyway) */
void mv_tls_free(mv_tls *t);

#endif
