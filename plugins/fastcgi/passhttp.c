/* SPDX-License-Identifier: MIT */
/*
 * passhttp.c - hand a request to an HTTP upstream (libcurl) and relay its
 * answer.
 *
 * The same method, query (appended to the upstream URL) and body, and the
 * client's headers rebuilt from the HTTP_* variables, without the
 * hop-by-hop ones, Host (curl sends the upstream's; the client's goes in
 * X-Forwarded-Host), Expect and a client's X-Mailverify; X-Forwarded-For
 * gets REMOTE_ADDR appended. The answer comes back with its status line
 * and headers (hop-by-hop ones and Content-Length dropped) and its body
 * as it was encoded; redirects are relayed, not followed. No answer
 * within fastcgi.pass_timeout_ms: 504; no connection or a broken answer: 502.
 */
#include "curlload.h"
#include "pass_int.h"
#include "passthrough.h"
#include "redact.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The upstream's answer as it arrives. */
typedef struct {
    char status[128]; /* "201 Created" */
    char ctype[256];
    mv_buf head; /* relayed headers */
    mv_buf body;
    bool too_big;
} answer;

/* on_header - one header line of the answer (a new status line starts over) */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t len = size * n, name;
    const char *colon = memchr(p, ':', len), *v;

    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);

        mv_buf_reset(&a->head);
        a->ctype[0] = '\0';
        snprintf(a->status, sizeof(a->status), "%.*s", sp ? (int)(p + len - sp - 1) : 0, sp ? sp + 1 : "");
        return size * n;
    }
    if (len == 0 || colon == NULL || colon >= p + len)
        return size * n;
    name = (size_t)(colon - p);
    for (v = colon + 1; v < p + len && (*v == ' ' || *v == '\t'); v++)
        ;
    if (name == 12 && strncasecmp(p, "Content-Type", 12) == 0)
        snprintf(a->ctype, sizeof(a->ctype), "%.*s", (int)(p + len - v), v);
    else if (!mv_pass_hop(p, name) && !(name == 10 && strncasecmp(p, "Keep-Alive", 10) == 0))
        mv_buf_printf(&a->head, "%.*s: %.*s\r\n", (int)name, p, (int)(p + len - v), v);
    return size * n;
}

/* on_body - a piece of the answer's body (0 stops the transfer when too big) */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;

    if (a->body.len + size * n > (size_t)MV_PASS_OUTPUT_MAX) {
        a->too_big = true;
        return 0;
    }
    mv_buf_put(&a->body, p, size * n);
    return size * n;
}

/* skipped - a client header not forwarded (the variable after "HTTP_") */
static bool skipped(const char *var, size_t n)
{
    static const char *const names[] = {
        "HOST",
        "CONNECTION",
        "KEEP_ALIVE",
        "PROXY",
        "PROXY_AUTHORIZATION",
        "PROXY_CONNECTION",
        "TE",
        "TRAILER",
        "TRANSFER_ENCODING",
        "UPGRADE",
        "EXPECT",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "X_MAILVERIFY",
        "X_FORWARDED_FOR",
        "X_FORWARDED_HOST",
        "X_FORWARDED_PROTO",
        NULL,
    };

    for (size_t i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return true;
    return false;
}

/* add - append a header line; false on ENOMEM */
static bool add(const mv_curl_api *cu, struct curl_slist **h, const char *line)
{
    struct curl_slist *t = cu->slist_append(*h, line);

    if (t == NULL)
        return false;
    *h = t;
    return true;
}

/* client_header - "HTTP_ACCEPT_LANGUAGE=x" as "Accept-Language: x"; false on ENOMEM */
static bool client_header(const mv_curl_api *cu, struct curl_slist **h, const char *var, bool *accept)
{
    const char *eq = strchr(var, '=');
    mv_buf b = {0};
    bool ok, up = true;

    if (eq == NULL || strncmp(var, "HTTP_", 5) != 0 || skipped(var + 5, (size_t)(eq - var - 5)))
        return true;
    for (const char *p = var + 5; p < eq; p++) {
        mv_buf_putc(&b, *p == '_' ? '-' : up ? *p : (char)tolower((unsigned char)*p));
        up = *p == '_';
    }
    mv_buf_printf(&b, ": %s", eq + 1);
    mv_buf_putc(&b, '\0');
    *accept = *accept || strcmp(var, "HTTP_ACCEPT") == 0 || strncmp(var, "HTTP_ACCEPT=", 12) == 0;
    ok = mv_buf_ok(&b) && add(cu, h, b.data);
    mv_buf_free(&b);
    return ok;
}

/* request_headers - the client's headers for the upstream, and ours; NULL on ENOMEM */
static struct curl_slist *request_headers(const mv_curl_api *cu, mv_http_req *r, const mv_pass_req *q)
{
    char **vars = mv_http_envp(r), line[1200];
    const char *xff = mv_http_env(r, "HTTP_X_FORWARDED_FOR"), *host = mv_http_env(r, "HTTP_HOST");
    const char *https = mv_http_env(r, "HTTPS");
    struct curl_slist *h = NULL;
    bool ok = true, accept = false;

    for (size_t i = 0; ok && vars != NULL && vars[i] != NULL; i++)
        ok = client_header(cu, &h, vars[i], &accept);
    if (ok && *r->ctype != '\0') {
        snprintf(line, sizeof(line), "Content-Type: %s", r->ctype);
        ok = add(cu, &h, line);
    }
    snprintf(line, sizeof(line), "X-Forwarded-For: %s%s%s", xff ? xff : "", xff ? ", " : "", r->remote);
    ok = ok && add(cu, &h, line) && add(cu, &h, "Expect:") && (accept || add(cu, &h, "Accept:"));
    snprintf(line, sizeof(line), "X-Forwarded-Proto: %s",
             https && *https && strcmp(https, "off") ? "https" : "http");
    ok = ok && add(cu, &h, line);
    if (host != NULL) {
        snprintf(line, sizeof(line), "X-Forwarded-Host: %s", host);
        ok = ok && add(cu, &h, line);
    }
    if (q->mark != NULL) {
        snprintf(line, sizeof(line), "X-Mailverify: %s", q->mark);
        ok = ok && add(cu, &h, line);
    }
    if (!ok) {
        cu->slist_free_all(h);
        return NULL;
    }
    return h;
}

/* set_method - the request's method and body on the handle */
static void set_method(const mv_curl_api *cu, CURL *c, const mv_http_req *r, const mv_pass_req *q)
{
    if (strcmp(r->method, "GET") == 0 && q->body == NULL) {
        cu->easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        cu->easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        cu->easy_setopt(c, CURLOPT_POST, 1L);
        cu->easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->len : 0));
        if (strcmp(r->method, "POST") != 0)
            cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

/* perform - one exchange with the upstream; curl's code, the answer in a */
static CURLcode perform(const mv_curl_api *cu, const char *url, mv_http_req *r, const mv_pass_req *q,
                        answer *a, char *err)
{
    CURL *c = cu->easy_init();
    struct curl_slist *h = request_headers(cu, r, q);
    mv_buf u = {0};
    CURLcode rc = CURLE_OUT_OF_MEMORY;

    mv_buf_puts(&u, url);
    if (*q->query != '\0') {
        mv_buf_putc(&u, strchr(url, '?') ? '&' : '?');
        mv_buf_puts(&u, q->query);
    }
    mv_buf_putc(&u, '\0');
    if (c != NULL && h != NULL && mv_buf_ok(&u)) {
        cu->easy_setopt(c, CURLOPT_URL, u.data);
        cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
        cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
        cu->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        cu->easy_setopt(c, CURLOPT_HEADERDATA, a);
        cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        cu->easy_setopt(c, CURLOPT_WRITEDATA, a);
        cu->easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        set_method(cu, c, r, q);
        rc = cu->easy_perform(c);
    }
    cu->easy_cleanup(c);
    cu->slist_free_all(h);
    mv_buf_free(&u);
    return rc;
}

/* mv_pass_http - forward the request to the HTTP upstream, relay its answer; the status */
int mv_pass_http(const char *url, mv_http_req *r, const mv_pass_req *q)
{
    answer a = {"", "", {0}, {0}, false};
    char err[CURL_ERROR_SIZE] = "", shown[4 * 1024 + 16];
    const char *why = NULL;
    const mv_curl_api *cu = mv_curl(&why); /* loaded by the first request that needs it */
    CURLcode rc;
    int status = 0;

    /* the upstream's URL and curl's words on it go to the log masked:
     * never its credentials or a token in its query (redact.h) */
    mv_redact_url(url, shown, sizeof(shown));
    if (cu == NULL) {
        mv_pass_log("%s: not forwarded: %s", shown, why);
        return mv_pass_error(r, 502, "The form handler did not answer properly.");
    }
    rc = perform(cu, url, r, q, &a, err);
    mv_redact_scrub_url(err, sizeof(err), url);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        mv_pass_log("%s did not answer within %lld ms", shown, q->timeout_ms);
        status = mv_pass_error(r, 504, "The form handler did not answer in time.");
    } else if (rc != CURLE_OK || a.too_big || !mv_buf_ok(&a.head) || !mv_buf_ok(&a.body) ||
               (status = atoi(a.status)) < 100 || status > 599) {
        mv_pass_log("%s: %s", shown, a.too_big ? "answer too large" : err[0] ? err : cu->easy_strerror(rc));
        status = mv_pass_error(r, 502, "The form handler did not answer properly.");
    } else {
        mv_buf_putc(&a.head, '\0');
        if (strchr(a.status, ' ') == NULL)
            snprintf(a.status, sizeof(a.status), "%d %s", status, status < 400 ? "OK" : "Error");
        mv_pass_respond(r, a.status, a.head.data, a.ctype[0] ? a.ctype : NULL, a.body.data ? a.body.data : "",
                        a.body.len);
    }
    mv_buf_free(&a.head);
    mv_buf_free(&a.body);
    return status;
}
