/* SPDX-License-Identifier: MIT */
/*
 * http.h - one HTTP request as a CGI or FastCGI program sees it.
 *
 * The web server has parsed HTTP: we get CGI variables (REQUEST_METHOD,
 * CONTENT_TYPE, HTTP_ORIGIN, ...), a body stream and an output stream.
 * This abstracts over where they come from -- libfcgi's FCGX_Request, or
 * a CGI process's environment, stdin and stdout -- so that the handlers
 * are the same in both modes. Responses are written as CGI output:
 * "Status:" and headers, a blank line, the body.
 */
#ifndef MV_HTTP_H
#define MV_HTTP_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *(*getenv)(void *io, const char *name);
    long (*read)(void *io, char *buf, size_t n); /* bytes, 0 at end, -1 error,
                                                         * -2 the read deadline passed */
    bool (*write)(void *io, const char *buf, size_t n);
    void *io;
    char **(*envp)(void *io); /* every CGI variable, "NAME=value", NULL-terminated */
} mv_http_io;

typedef struct {
    mv_http_io io;
    const char *method;  /* "GET" ... */
    char path[512];      /* the path the server routed ("/verify"), no
                                 * query; "" if too long; see http.c's set_path */
    bool mounted;        /* a CGI program's PATH_INFO: path is already below the mount */
    const char *query;   /* QUERY_STRING, "" if none */
    const char *ctype;   /* CONTENT_TYPE, "" if none */
    long clen;           /* CONTENT_LENGTH, -1 if none or bad */
    const char *origin;  /* HTTP_ORIGIN, or NULL */
    const char *remote;  /* REMOTE_ADDR, "" if none */
    const char *api_key; /* HTTP_X_API_KEY, or NULL */
    char *body;          /* read by mv_http_read_body */
    size_t body_len;
} mv_http_req;

/* mv_http_init - the request's CGI variables */
void mv_http_init(mv_http_req *r, const mv_http_io *io);

/* mv_http_env - a CGI variable, or NULL */
const char *mv_http_env(const mv_http_req *r, const char *name);

/* mv_http_envp - every CGI variable ("NAME=value", NULL-terminated), or NULL */
char **mv_http_envp(const mv_http_req *r);

/* mv_http_read_body - the whole body, at most max bytes; 0, 413, 400, or 408
 * (the client took longer than the read deadline) */
int mv_http_read_body(mv_http_req *r, size_t max);

/* mv_http_respond - status line, headers (each "Name: value\r\n"), body */
bool mv_http_respond(mv_http_req *r, int status, const char *headers, const char *ctype, const char *body,
                     size_t len);

/* mv_http_media_type - does CONTENT_TYPE name this media type (params ignored)? */
bool mv_http_media_type(const char *ctype, const char *type);

/* mv_http_free - release the body */
void mv_http_free(mv_http_req *r);

#endif
