/* SPDX-License-Identifier: MIT */
/*
 * redis_tls.h - TLS to the Redis server, under a hiredis that has none.
 *
 * Debian 12's hiredis (0.14) speaks plain TCP only, and Redis 6+ servers
 * are often reachable only over TLS (tls-port). redis.c lets hiredis
 * connect as usual, then hands the socket to mv_rtls_start: the TCP
 * socket is kept here, and hiredis' file descriptor becomes one end of a
 * socketpair. A pump on the engine's loop runs TLS on the TCP socket
 * (OpenSSL, non-blocking) and copies plaintext between it and the
 * socketpair. hiredis sees an ordinary stream; every byte it sends
 * reaches the server encrypted, every reply comes back decrypted.
 *
 * The server is authenticated, unlike an MX host by the SMTP probe
 * (tls.h): a shared cache that anyone on the path could feed would let
 * them decide which addresses are accepted. Its certificate must chain to
 * the CA file (default: the system's store) and name the server's IP
 * address, or the configured server name. A client certificate is sent
 * when one is configured (Redis asks for one by default: tls-auth-clients).
 *
 * A failure -- connect, handshake, verification, a TLS error, the server
 * closing -- calls the fail hook once with a reason; the pump is inert
 * from then on and the caller frees it (redis.c drops the connection and
 * reconnects as for any other loss). Loop thread only.
 */
#ifndef MV_REDIS_TLS_H
#define MV_REDIS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

typedef struct mv_rtls_ctx mv_rtls_ctx;
typedef struct mv_rtls mv_rtls;

/* why: a short reason for the log ("certificate verify failed: ...") */
typedef void (*mv_rtls_fail_fn)(void *arg, const char *why);

/* mv_rtls_ctx_new - a client context: ca_file ("" or NULL: the system's
 * store), cert_file and key_file (both or neither); NULL with err */
mv_rtls_ctx *mv_rtls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, char *err,
                             size_t errsize);

/* mv_rtls_ctx_free - NULL is fine */
void mv_rtls_ctx_free(mv_rtls_ctx *ctx);

/* mv_rtls_start - take over fd (a non-blocking TCP socket connecting to
 * the server): fd becomes a socketpair end for hiredis, TLS runs on the
 * original socket. name: what the certificate must name (an IP address
 * or a DNS name; a DNS name is also sent as SNI). NULL with err (fd is
 * then unchanged). */
mv_rtls *mv_rtls_start(mv_loop *loop, mv_rtls_ctx *ctx, int fd, const char *name, mv_rtls_fail_fn fail,
                       void *arg, char *err, size_t errsize);

/* mv_rtls_describe - "TLSv1.3" once the handshake is done, else "" */
const char *mv_rtls_version(const mv_rtls *t);

/* mv_rtls_free - close the TLS side (hiredis' end is hiredis'); NULL is fine */
void mv_rtls_free(mv_rtls *t);

#endif
