/* SPDX-License-Identifier: MIT */
/*
 * http.c - CGI-style requests and responses; see http.h.
 *
 * The request path is the one the web server routed (set_path); the
 * plugin compares it whole with its endpoints under fastcgi.mount.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* mv_http_env - a CGI variable, or NULL */
const char *mv_http_env(const mv_http_req *r, const char *name)
{
    return r->io.getenv(r->io.io, name);
}

/* mv_http_envp - every CGI variable, or NULL */
char **mv_http_envp(const mv_http_req *r)
{
    return r->io.envp ? r->io.envp(r->io.io) : NULL;
}

/* or_empty - a variable, "" when absent */
static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* set_path - the path the web server routed: a CGI program given a
 * PATH_INFO is mounted at its SCRIPT_NAME and its part is PATH_INFO;
 * otherwise DOCUMENT_URI (nginx: decoded, "//" and "/./" resolved, no
 * query), else SCRIPT_NAME + PATH_INFO (decoded by the server, RFC 3875).
 * Never REQUEST_URI: raw, and not the path the server matched. A path
 * that does not fit is "" (never an endpoint). */
static void set_path(mv_http_req *r)
{
    const char *du = mv_http_env(r, "DOCUMENT_URI");
    const char *sn = or_empty(mv_http_env(r, "SCRIPT_NAME")), *pi = or_empty(mv_http_env(r, "PATH_INFO"));
    int n;

    if (getenv("GATEWAY_INTERFACE") != NULL && *pi != '\0') {
        r->mounted = true;
        n = snprintf(r->path, sizeof(r->path), "%s", pi);
    } else if (du != NULL && *du != '\0') {
        n = snprintf(r->path, sizeof(r->path), "%s", du);
    } else {
        n = snprintf(r->path, sizeof(r->path), "%s%s", sn, pi);
    }
    if (n < 0 || (size_t)n >= sizeof(r->path))
        r->path[0] = '\0';
}

/* mv_http_init - the request's CGI variables */
void mv_http_init(mv_http_req *r, const mv_http_io *io)
{
    const char *cl;
    char *end;

    memset(r, 0, sizeof(*r));
    r->io = *io;
    r->method = or_empty(mv_http_env(r, "REQUEST_METHOD"));
    r->query = or_empty(mv_http_env(r, "QUERY_STRING"));
    r->ctype = or_empty(mv_http_env(r, "CONTENT_TYPE"));
    r->origin = mv_http_env(r, "HTTP_ORIGIN");
    r->remote = or_empty(mv_http_env(r, "REMOTE_ADDR"));
    r->api_key = mv_http_env(r, "HTTP_X_API_KEY");
    r->clen = -1;
    if ((cl = mv_http_env(r, "CONTENT_LENGTH")) != NULL && *cl != '\0') {
        long v = strtol(cl, &end, 10);

        if (*end == '\0' && v >= 0)
            r->clen = v;
    }
    set_path(r);
}

/* mv_http_read_body - the whole body, at most max bytes; 0, 413, 400 or 408 */
int mv_http_read_body(mv_http_req *r, size_t max)
{
    size_t want;

    if (r->clen < 0)
        return 0; /* no body declared (GET) */
    if ((size_t)r->clen > max)
        return 413;
    want = (size_t)r->clen;
    if ((r->body = malloc(want + 1)) == NULL)
        return 503;
    while (r->body_len < want) {
        long n = r->io.read(r->io.io, r->body + r->body_len, want - r->body_len);

        if (n == -2)
            return 408; /* too slow: the worker is not the client's to keep */
        if (n <= 0)
            return 400; /* shorter than CONTENT_LENGTH said */
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

/* reason - the reason phrase of a status */
static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* mv_http_respond - status line, headers (each "Name: value\r\n"), body */
bool mv_http_respond(mv_http_req *r, int status, const char *headers, const char *ctype, const char *body,
                     size_t len)
{
    char head[256];
    int n =
        snprintf(head, sizeof(head), "Status: %d %s\r\n%s%s%sContent-Length: %zu\r\n", status, reason(status),
                 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", len);

    if (n < 0 || (size_t)n >= sizeof(head))
        return false;
    return r->io.write(r->io.io, head, (size_t)n) &&
           (headers == NULL || r->io.write(r->io.io, headers, strlen(headers))) &&
           r->io.write(r->io.io, "\r\n", 2) && (len == 0 || r->io.write(r->io.io, body, len));
}

/* mv_http_media_type - does CONTENT_TYPE name this media type (params ignored)? */
bool mv_http_media_type(const char *ctype, const char *type)
{
    size_t n = strlen(type);

    while (*ctype == ' ')
        ctype++;
    return strncasecmp(ctype, type, n) == 0 && (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* mv_http_free - release the body */
void mv_http_free(mv_http_req *r)
{
    free(r->body);
    r->body = NULL;
}
