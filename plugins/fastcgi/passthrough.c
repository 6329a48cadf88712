/* SPDX-License-Identifier: MIT */
/*
 * passthrough.c - verify a form submission, then block it or hand it on;
 * see passthrough.h.
 *
 * The verdicts of all the values are gathered first (the most severe
 * action wins, and the first blocked value is the one the page talks
 * about); only then is anything answered, so a blocked submission never
 * reaches the handler. The request handed on is a copy only when it has
 * to change (a forged warn field removed, ours added); otherwise the
 * original query and body go as they came. Handing on is passcgi.c's or
 * passhttp.c's.
 */
#include "passthrough.h"
#include "clientkey.h"
#include "pass_int.h"
#include "passform.h"
#include "redact.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PAGE_MAX (256 * 1024) /* a block_page template larger than this is not read */
#define MARKS_MAX 8           /* warn marks kept for one submission */
#define SEEN_MAX 16           /* distinct values remembered to verify each once */

struct mv_pass {
    mv_config *cfg;
    const mv_fcgi_settings *s;
    bool http;          /* an http(s):// upstream, else a CGI script */
    const char *target; /* the script's path, or the URL */
    char *page;         /* the block_page template, or NULL: built-in */
    bool redirect;
};

/* What the verdicts of one submission add up to. */
typedef struct {
    mv_plugin *p;
    const char *name; /* the field being looked at */
    mv_action worst;
    mv_verdict blocked; /* the first blocked value's verdict */
    char blocked_addr[MV_ECHO_MAX + 1];
    char blocked_field[64];
    char marks[MARKS_MAX][64]; /* "status:reason" of values that warn */
    size_t nmarks;
    char seen[SEEN_MAX][MV_INPUT_MAX + 1]; /* values verified already (readings repeat) */
    size_t nseen;
} tally;

/* mv_pass_log - one line on stderr */
void mv_pass_log(const char *fmt, ...)
{
    va_list ap;
    char line[1024];

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mailverify.fcgi: pass-through: %s\n", line);
}

/* mv_pass_respond - "Status: <status>", Content-Type, Content-Length, headers, body */
bool mv_pass_respond(mv_http_req *r, const char *status, const char *headers, const char *ctype,
                     const char *body, size_t len)
{
    mv_buf b = {0};
    bool ok;

    mv_buf_printf(&b, "Status: %s\r\n", status);
    if (ctype != NULL)
        mv_buf_printf(&b, "Content-Type: %s\r\n", ctype);
    mv_buf_printf(&b, "Content-Length: %zu\r\n%s\r\n", len, headers ? headers : "");
    ok = mv_buf_ok(&b) && r->io.write(r->io.io, b.data, b.len) &&
         (len == 0 || r->io.write(r->io.io, body, len));
    mv_buf_free(&b);
    return ok;
}

/* html - append s HTML-escaped */
static void html(mv_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': mv_buf_puts(b, "&amp;"); break;
        case '<': mv_buf_puts(b, "&lt;"); break;
        case '>': mv_buf_puts(b, "&gt;"); break;
        case '"': mv_buf_puts(b, "&quot;"); break;
        case '\'': mv_buf_puts(b, "&#39;"); break;
        default: mv_buf_putc(b, *s); break;
        }
    }
}

/* status_text - "422 Unprocessable Content" and the like */
static const char *status_text(int status)
{
    switch (status) {
    case 400: return "400 Bad Request";
    case 408: return "408 Request Timeout";
    case 413: return "413 Payload Too Large";
    case 415: return "415 Unsupported Media Type";
    case 422: return "422 Unprocessable Content";
    case 429: return "429 Too Many Requests";
    case 502: return "502 Bad Gateway";
    case 503: return "503 Service Unavailable";
    case 504: return "504 Gateway Timeout";
    default: return "500 Internal Server Error";
    }
}

/* mv_pass_error - a short HTML error page; its status */
int mv_pass_error(mv_http_req *r, int status, const char *text)
{
    mv_buf b = {0};

    mv_buf_printf(&b,
                  "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>%s</title>"
                  "<h1>%s</h1><p>",
                  status_text(status), status_text(status));
    html(&b, text);
    mv_buf_puts(&b, "</p></html>\n");
    mv_pass_respond(r, status_text(status), "Cache-Control: no-store\r\n", "text/html; charset=utf-8",
                    b.data ? b.data : "", b.len);
    mv_buf_free(&b);
    return status;
}

/* mv_pass_hop - a header never relayed */
bool mv_pass_hop(const char *name, size_t n)
{
    static const char *const hop[] = {
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Status",
        NULL,
    };

    for (size_t i = 0; hop[i] != NULL; i++)
        if (strlen(hop[i]) == n && strncasecmp(hop[i], name, n) == 0)
            return true;
    return false;
}

/* read_page - the block_page template; NULL if none or unreadable (logged) */
static char *read_page(const char *path)
{
    FILE *f;
    char *buf;
    size_t n;

    if (path == NULL || *path == '\0')
        return NULL;
    if ((f = fopen(path, "re")) == NULL || (buf = malloc(PAGE_MAX + 1)) == NULL) {
        mv_pass_log("cannot read fastcgi.block_page %s: %m; using the built-in page", path);
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    n = fread(buf, 1, PAGE_MAX + 1, f);
    fclose(f);
    if (n > PAGE_MAX) {
        mv_pass_log("fastcgi.block_page %s is over %d bytes; using the built-in page", path, PAGE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* mv_pass_new - from fastcgi.pass_through; NULL if not set or on failure */
mv_pass *mv_pass_new(mv_config *cfg, bool *failed)
{
    const mv_fcgi_settings *s = mv_fcgi_settings_of(cfg);
    const char *t = s->pass_through;
    mv_pass *ps;
    bool http;

    *failed = false;
    if (t == NULL || *t == '\0')
        return NULL;
    http = strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0;
    if (!http && (strncmp(t, "cgi:", 4) != 0 || t[4] != '/')) {
        char shown[4 * 1024 + 16]; /* masked: it may be a URL with a password */

        mv_pass_log("fastcgi.pass_through must be \"cgi:/absolute/path\" or \"http://...\", not \"%s\"",
                    mv_redact_url(t, shown, sizeof(shown)));
        *failed = true;
        return NULL;
    }
    /* an http upstream's libcurl is loaded by the first request sent to
     * it (curlload.h), so a CGI request that is not passed on never maps it */
    if ((ps = calloc(1, sizeof(*ps))) == NULL) {
        free(ps);
        *failed = true;
        return NULL;
    }
    ps->cfg = mv_config_ref(cfg);
    ps->s = s;
    ps->http = http;
    ps->target = http ? t : t + 4;
    ps->page = read_page(s->block_page);
    ps->redirect = s->on_block == MV_ON_BLOCK_REDIRECT && s->block_redirect[0] != '\0';
    if (s->on_block == MV_ON_BLOCK_REDIRECT && !ps->redirect)
        mv_pass_log("fastcgi.on_block is \"redirect\" but fastcgi.block_redirect is empty: a page instead");
    return ps;
}

/* mv_pass_free - release */
void mv_pass_free(mv_pass *ps)
{
    if (ps == NULL)
        return;
    free(ps->page);
    mv_config_unref(ps->cfg);
    free(ps);
}

/* ---- verifying ---------------------------------------------------------- */

/* on_value - verify one value of a pass field; false stops (blocked) */
static bool on_value(void *arg, const char *value, size_t len)
{
    tally *t = arg;
    mv_verdict v;
    char mark[64];

    if (len == 0)
        return true; /* an empty field: the handler's business */
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i], value) == 0)
            return true;
    if (t->nseen < SEEN_MAX && len <= MV_INPUT_MAX)
        memcpy(t->seen[t->nseen++], value, len + 1);
    if (!mv_plugin_verify_field(t->p, value, len, &v)) {
        mv_pass_log("the verifier cannot answer: field %s handed on unverified", t->name);
        return true; /* fail open */
    }
    mv_metrics_verdict(t->p->metrics, &v, false, v.elapsed_us);
    if (v.action == MV_ACT_BLOCK) {
        t->blocked = v;
        snprintf(t->blocked_addr, sizeof(t->blocked_addr), "%.*s",
                 (int)(len > MV_ECHO_MAX ? MV_ECHO_MAX : len), value);
        t->blocked.input = t->blocked_addr;
        snprintf(t->blocked_field, sizeof(t->blocked_field), "%s", t->name);
        t->worst = MV_ACT_BLOCK;
        return false;
    }
    if (v.action > t->worst)
        t->worst = v.action;
    if (v.action == MV_ACT_ACCEPT)
        return true;
    snprintf(mark, sizeof(mark), "%s:%s", mv_status_name(v.status), mv_reason_name(v.reason));
    for (size_t i = 0; i < t->nmarks; i++)
        if (strcmp(t->marks[i], mark) == 0)
            return true;
    if (t->nmarks < MARKS_MAX)
        snprintf(t->marks[t->nmarks++], sizeof(t->marks[0]), "%s", mark);
    return true;
}

/* has_form_body - does the request carry its fields in the body (where
 * a warn field goes)? */
static bool has_form_body(const mv_http_req *r, const mv_pf_type *bt)
{
    return r->body != NULL && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
           (bt->kind == MV_PF_URLENCODED || bt->kind == MV_PF_MULTIPART);
}

/* is_form - a body of a form type, whatever the method: GET bodies are
 * read too, since a handler may */
static bool is_form(const mv_http_req *r, const mv_pf_type *bt)
{
    return r->body != NULL && (bt->kind == MV_PF_URLENCODED || bt->kind == MV_PF_MULTIPART);
}

/* The text that is verified and handed on: the query and body as they
 * came, or copies with a client's forged warn fields removed. Removing
 * comes first, so that what is verified is what the handler gets (a cut
 * can change what another field reads as). */
typedef struct {
    mv_buf q, b;              /* the copies, when there is a warn field */
    const char *query, *body; /* what is verified and handed on */
    size_t len;
} text;

/* prepare - the text of the request; false on ENOMEM */
static bool prepare(mv_pass *ps, const mv_http_req *r, const mv_pf_type *bt, text *x)
{
    const char *wf = ps->s->warn_field;
    mv_pf_type qt = {MV_PF_URLENCODED, ""};

    *x = (text){.query = r->query, .body = r->body, .len = r->body_len};
    if (*wf == '\0')
        return true;
    mv_buf_puts(&x->q, r->query);
    x->q.len = mv_pf_strip(&qt, x->q.data ? x->q.data : "", x->q.len, wf);
    if (r->body != NULL)
        mv_buf_put(&x->b, r->body, r->body_len);
    if (is_form(r, bt))
        x->b.len = mv_pf_strip(bt, x->b.data ? x->b.data : "", x->b.len, wf);
    mv_buf_putc(&x->q, '\0');
    mv_buf_putc(&x->b, '\0');
    x->q.len--;
    x->b.len--;
    x->query = x->q.data;
    x->body = r->body != NULL ? x->b.data : NULL;
    x->len = x->b.len;
    return mv_buf_ok(&x->q) && mv_buf_ok(&x->b);
}

/* found - a value is there: stop */
static bool found(void *arg, const char *value, size_t len)
{
    (void)value;
    (void)len;
    *(bool *)arg = true;
    return false;
}

/* forged_inside - a warn field that a handler reading the multipart body
 * as urlencoded (CGI.pm does, for PUT and PATCH) would find inside a part:
 * it cannot be cut without changing the part, so the request is refused */
static bool forged_inside(mv_pass *ps, const mv_pf_type *bt, const text *x)
{
    mv_pf_type qt = {MV_PF_URLENCODED, ""};
    const char *wf = ps->s->warn_field;
    bool there = false;

    if (*wf == '\0' || bt->kind != MV_PF_MULTIPART || x->body == NULL)
        return false;
    return !mv_pf_each(&qt, x->body, x->len, wf, x->len, found, &there) || there;
}

/* verify_all - every value any handler could read for every pass field,
 * in the query, the body and the cookies; 0, or the status refusing
 * the request (400 malformed, 415 unreadable) */
static int verify_all(mv_pass *ps, mv_plugin *p, const mv_http_req *r, const mv_pf_type *bt, const text *x,
                      tally *t)
{
    size_t n = ps->s->pass_fields.n;
    const char *const *fields = (const char *const *)ps->s->pass_fields.v;
    mv_pf_type qt = {MV_PF_URLENCODED, ""};

    if (x->len > 0 && bt->kind == MV_PF_UNREADABLE)
        return 415;
    t->p = p;
    for (size_t i = 0; i < n && t->worst != MV_ACT_BLOCK; i++) {
        t->name = fields[i];
        if (!mv_pf_each(&qt, x->query, strlen(x->query), fields[i], MV_INPUT_MAX, on_value, t))
            return 400;
        if (t->worst != MV_ACT_BLOCK && is_form(r, bt) &&
            !mv_pf_each(bt, x->body, x->len, fields[i], MV_INPUT_MAX, on_value, t))
            return 400;
        /* CGI.pm reads a PUT or PATCH body of any type as urlencoded */
        if (t->worst != MV_ACT_BLOCK && bt->kind == MV_PF_MULTIPART && x->body != NULL &&
            !mv_pf_each(&qt, x->body, x->len, fields[i], MV_INPUT_MAX, on_value, t))
            return 400;
        if (t->worst != MV_ACT_BLOCK &&
            !mv_pf_cookie_each(mv_http_env(r, "HTTP_COOKIE"), fields[i], MV_INPUT_MAX, on_value, t))
            return 400;
    }
    if (forged_inside(ps, bt, x))
        return 400;
    if (x->len > 0 && bt->kind == MV_PF_OTHER)
        mv_pass_log("a body of type %s is handed on unverified (only urlencoded and multipart types "
                    "are read)",
                    *r->ctype ? r->ctype : "(none)");
    return 0;
}

/* ---- blocking ----------------------------------------------------------- */

/* fill - the template with {{message}}, {{address}}, {{suggestion}},
 * {{reason}}, {{status}} and {{field}} replaced, HTML-escaped */
static void fill(mv_buf *b, const char *tpl, const tally *t, const char *msg)
{
    const mv_verdict *v = &t->blocked;
    const char *names[] = {"message", "address", "suggestion", "reason", "status", "field"};
    const char *vals[] = {msg,
                          t->blocked_addr,
                          v->has_suggestion ? v->suggestion : "",
                          mv_reason_name(v->reason),
                          mv_status_name(v->status),
                          t->blocked_field};

    while (*tpl != '\0') {
        const char *open = strstr(tpl, "{{"), *close;
        size_t i;

        if (open == NULL || (close = strstr(open, "}}")) == NULL) {
            mv_buf_puts(b, tpl);
            return;
        }
        mv_buf_put(b, tpl, (size_t)(open - tpl));
        for (i = 0; i < 6; i++)
            if ((size_t)(close - open - 2) == strlen(names[i]) &&
                strncmp(open + 2, names[i], strlen(names[i])) == 0)
                break;
        if (i < 6)
            html(b, vals[i]);
        else
            mv_buf_put(b, open, (size_t)(close + 2 - open));
        tpl = close + 2;
    }
}

/* builtin_page - the page when there is no template */
static void builtin_page(mv_buf *b, const tally *t, const char *msg, const char *back)
{
    mv_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>Please check your email address</title><style>body{font:1.05em/1.5 system-ui,"
                   "sans-serif;max-width:36em;margin:3em auto;padding:0 1em}</style></head>\n<body><main>"
                   "<h1>Please check your email address</h1>\n<p>");
    html(b, t->blocked_addr);
    mv_buf_puts(b, ": ");
    html(b, msg);
    mv_buf_puts(b, "</p>\n");
    if (t->blocked.has_suggestion && strstr(msg, t->blocked.suggestion) == NULL) {
        mv_buf_puts(b, "<p>Did you mean <strong>");
        html(b, t->blocked.suggestion);
        mv_buf_puts(b, "</strong>?</p>\n");
    }
    mv_buf_puts(b, "<p>Nothing was sent. ");
    if (back != NULL && (strncmp(back, "http://", 7) == 0 || strncmp(back, "https://", 8) == 0)) {
        mv_buf_puts(b, "<a href=\"");
        html(b, back);
        mv_buf_puts(b, "\">Back to the form</a> to correct it.");
    } else {
        mv_buf_puts(b, "Go back to the form to correct it.");
    }
    mv_buf_puts(b, "</p></main></body></html>\n");
}

/* block_page - 422 with the template or the built-in page */
static int block_page(mv_pass *ps, mv_http_req *r, const tally *t)
{
    mv_buf b = {0};
    char msg[600];

    mv_plugin_message(&t->blocked, false, msg, sizeof(msg));
    if (ps->page != NULL)
        fill(&b, ps->page, t, msg);
    else
        builtin_page(&b, t, msg, mv_http_env(r, "HTTP_REFERER"));
    if (!mv_buf_ok(&b)) {
        mv_buf_free(&b);
        return mv_pass_error(r, 503, "out of memory");
    }
    mv_pass_respond(r, status_text(422), "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                    "text/html; charset=utf-8", b.data, b.len);
    mv_buf_free(&b);
    return 422;
}

/* block_redirect - 302 to block_redirect with the reason and suggestion in its query */
static int block_redirect(mv_pass *ps, mv_http_req *r, const tally *t)
{
    const char *url = ps->s->block_redirect, *hash = strchr(url, '#');
    size_t base = hash ? (size_t)(hash - url) : strlen(url);
    const char *reason = mv_reason_name(t->blocked.reason);
    mv_buf b = {0};

    mv_buf_puts(&b, "Location: ");
    mv_buf_put(&b, url, base);
    mv_buf_puts(&b, memchr(url, '?', base) ? "&" : "?");
    mv_buf_puts(&b, "mailverify_reason=");
    mv_pf_pct(&b, reason, strlen(reason));
    if (t->blocked.has_suggestion) {
        mv_buf_puts(&b, "&mailverify_suggestion=");
        mv_pf_pct(&b, t->blocked.suggestion, strlen(t->blocked.suggestion));
    }
    if (strcmp(t->blocked_field, "email") != 0) {
        mv_buf_puts(&b, "&mailverify_field=");
        mv_pf_pct(&b, t->blocked_field, strlen(t->blocked_field));
    }
    mv_buf_puts(&b, hash ? hash : "");
    mv_buf_puts(&b, "\r\nCache-Control: no-store\r\n");
    if (!mv_buf_ok(&b) || strpbrk(url, "\r\n") != NULL) {
        mv_buf_free(&b);
        return mv_pass_error(r, 503, "cannot build the redirect");
    }
    mv_pass_respond(r, "302 Found", b.data, NULL, NULL, 0);
    mv_buf_free(&b);
    return 302;
}

/* ---- handing on --------------------------------------------------------- */

/* hand_on - the request, its warn fields added, to the handler */
static int hand_on(mv_pass *ps, mv_http_req *r, const mv_pf_type *bt, text *x, const tally *t)
{
    const char *wf = ps->s->warn_field;
    mv_pf_type qt = {MV_PF_URLENCODED, ""};
    bool in_body = has_form_body(r, bt);
    mv_buf mark = {0};
    mv_pass_req out = {
        .query = x->query, .body = x->body, .len = x->len, .timeout_ms = ps->s->pass_timeout_ms};
    int status;

    for (size_t i = 0; *wf != '\0' && i < t->nmarks; i++) {
        if (!mv_pf_append(in_body ? bt : &qt, in_body ? &x->b : &x->q, wf, t->marks[i]))
            mv_pass_log(
                "cannot add the %s field to the body: only the X-Mailverify header carries the verdict", wf);
        mv_buf_putc(in_body ? &x->b : &x->q, '\0');
        (in_body ? &x->b : &x->q)->len--;
    }
    if (*wf != '\0' && t->nmarks > 0) {
        if (!mv_buf_ok(&x->q) || !mv_buf_ok(&x->b))
            return mv_pass_error(r, 503, "out of memory");
        out.query = x->q.data;
        out.body = r->body != NULL || in_body ? x->b.data : NULL;
        out.len = x->b.len;
    }
    for (size_t i = 0; i < t->nmarks; i++)
        mv_buf_printf(&mark, "%s%s", i ? ", " : "", t->marks[i]);
    out.mark = t->nmarks > 0 && mv_buf_ok(&mark) ? mark.data : NULL;
    status = ps->http ? mv_pass_http(ps->target, r, &out) : mv_pass_cgi(ps->target, r, &out);
    mv_buf_free(&mark);
    return status;
}

/* limited - the per-address token bucket of /verify; true if refused (answered) */
static bool limited(mv_plugin *p, mv_http_req *r)
{
    const mv_fcgi_settings *s = mv_fcgi_settings_of(p->cfg);
    struct timespec ts;
    unsigned wait;
    char hdr[64];
    char who[MV_CLIENT_KEY_SIZE]; /* IPv6: the client's /64, not its address */
    static const char page[] = "<!doctype html><title>Too many requests</title><p>Too many submissions "
                               "from your address: please wait a moment and send the form again.</p>\n";

    clock_gettime(CLOCK_MONOTONIC, &ts);
    mv_client_key(r->remote, (unsigned)s->ipv6_prefix, who, sizeof(who));
    wait = mv_ratelimit_take(p->by_ip, who, (double)s->ip_rate, (double)s->ip_burst,
                             (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    if (wait == 0)
        return false;
    mv_metrics_limited(p->metrics, MV_RL_IP);
    snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\nCache-Control: no-store\r\n", wait);
    mv_pass_respond(r, status_text(429), hdr, "text/html; charset=utf-8", page, strlen(page));
    return true;
}

/* mv_pass_handle - the plugin's pass hook: verify, then block or hand on */
int mv_pass_handle(mv_plugin *p, mv_http_req *r, void *arg)
{
    mv_pass *ps = arg;
    mv_pf_type bt = mv_pf_type_of(r->ctype);
    tally *t;
    text x;
    int rc;

    if (limited(p, r))
        return 429;
    if ((rc = mv_http_read_body(r, (size_t)ps->s->max_body)) != 0)
        return mv_pass_error(r, rc,
                             rc == 413   ? "The form is larger than this server accepts."
                             : rc == 408 ? "The form arrived too slowly."
                                         : "The form arrived incomplete.");
    if ((t = calloc(1, sizeof(*t))) == NULL || !prepare(ps, r, &bt, &x))
        rc = mv_pass_error(r, 503, "out of memory");
    else if ((rc = verify_all(ps, p, r, &bt, &x, t)) != 0)
        rc = mv_pass_error(r, rc,
                           rc == 415 ? "The form is in a character set this server does not read."
                                     : "The form's data is malformed.");
    else if (t->worst == MV_ACT_BLOCK)
        rc = ps->redirect ? block_redirect(ps, r, t) : block_page(ps, r, t);
    else
        rc = hand_on(ps, r, &bt, &x, t);
    if (t != NULL) {
        mv_buf_free(&x.q);
        mv_buf_free(&x.b);
    }
    free(t);
    return rc;
}
