/* SPDX-License-Identifier: MIT */
/*
 * pass_int.h - what the parts of pass-through share (passthrough.c,
 * passcgi.c, passhttp.c): the request as it is handed on, the two ways
 * of handing it on, and the response writer.
 */
#ifndef MV_PASS_INT_H
#define MV_PASS_INT_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

/* The request for the handler: the original, or with the warn field. */
typedef struct {
    const char *query; /* QUERY_STRING */
    const char *body;  /* the body, or NULL if there was none */
    size_t len;
    const char *mark;     /* HTTP_X_MAILVERIFY / X-Mailverify value, or NULL */
    long long timeout_ms; /* fastcgi.pass_timeout_ms: the handler's time to answer */
} mv_pass_req;

/* mv_pass_cgi - run the CGI script for the request, relay its answer; the status */
int mv_pass_cgi(const char *script, mv_http_req *r, const mv_pass_req *q);

/* mv_pass_http - forward the request to the HTTP upstream, relay its answer; the status */
int mv_pass_http(const char *url, mv_http_req *r, const mv_pass_req *q);

/* mv_pass_respond - "Status: <status>", Content-Type, Content-Length, headers, body */
bool mv_pass_respond(mv_http_req *r, const char *status, const char *headers, const char *ctype,
                     const char *body, size_t len);

/* mv_pass_error - a short HTML error page; its status */
int mv_pass_error(mv_http_req *r, int status, const char *text);

/* mv_pass_hop - a header never relayed (hop-by-hop, or one we set ourselves) */
bool mv_pass_hop(const char *name, size_t n);

/* mv_pass_log - one line on stderr, "mailverify.fcgi: pass-through: ..." */
void mv_pass_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
