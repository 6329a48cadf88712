/* SPDX-License-Identifier: MIT */
/*
 * fcgi_pool.h - mailverify.fcgi's FastCGI connections and worker threads:
 * a dispatcher that owns the listening socket and every idle connection,
 * and workers that only ever see a connection with a request arriving.
 * See fcgi_pool.c for why.
 */
#ifndef MV_FCGI_POOL_H
#define MV_FCGI_POOL_H

#include <fcgiapp.h>
#include <stddef.h>

/* The answer to one request; the pool reads its params first. */
typedef void (*mv_fpool_fn)(void *arg, FCGX_Request *req);

/* mv_fpool_run - serve listen_fd with threads workers (more on demand,
 * up to cap) until mv_fpool_stop; reading a request's params and body
 * has read_timeout_ms. 0 when stopped cleanly, else an exit status. */
int mv_fpool_run(int listen_fd, long threads, long cap, long read_timeout_ms, mv_fpool_fn fn, void *arg);

/* mv_fpool_stop - no new requests; async-signal-safe */
void mv_fpool_stop(void);

/* mv_fpool_read - read the body of the calling worker's request, within
 * the request's read deadline: bytes, 0 at the end, -1 error, -2 the
 * deadline passed (the client was too slow; answer 408) */
long mv_fpool_read(FCGX_Request *req, char *buf, size_t n);

#endif
