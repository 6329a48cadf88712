/* SPDX-License-Identifier: MIT */
/*
 * plugin.c - the endpoints of mailverify.fcgi; see plugin.h.
 *
 * A /verify request is checked against the form's deadline (context
 * form's deadline_ms, 1.5 s by default) while the engine is given a long
 * one (LATE_MS): if the answer comes in time it is the answer; if not, the
 * page gets unknown/timeout with "pending": true at once, and when the
 * engine's answer does come it goes to the late hook (the webhook), so a
 * slow mail server costs the user nothing and the site still learns.
 * Protections, in order: CORS (only allowed origins get CORS headers),
 * the per-address rate limit, the API key (when configured), the body
 * limit and media type, then the fields.
 */
#include "plugin.h"
#include "clientkey.h"
#include "formparse.h"
#include "json.h"
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LATE_MS 60000 /* how long a check may run after "pending" */

/* now_s - wall-clock seconds with a fraction, for the token buckets: the
 * wall clock, because CGI processes share buckets in a file that outlives
 * them and reboots (a monotonic clock restarts at boot and would read the
 * old times as the future); a step back only empties a bucket (ratelimit.c) */
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rate_log - a shared token-bucket table's trouble, to the server's log */
static void rate_log(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "mailverify.fcgi: rate limits: %s\n", line);
}

/* engine_log - the engine's lines (the cache falling back, hosts failing)
 * to the web server's error log, which has its own timestamps and levels
 * (a CGI's stderr is logged at one level): the level is a word in the
 * line. Routine lines (Redis connected) are left out: in CGI mode every
 * request's process would say them again. */
static void engine_log(void *arg, mv_event_level level, const char *line)
{
    (void)arg;
    if (level == MV_EVENT_INFO)
        return;
    fprintf(stderr, "mailverify.fcgi: %s%s\n",
            level == MV_EVENT_ERROR     ? "error: "
            : level == MV_EVENT_WARNING ? "warning: "
                                        : "",
            line);
}

/* limits_new - the token buckets. A FastCGI worker keeps them in memory,
 * shared by its threads; a CGI process (the web server set
 * GATEWAY_INTERFACE, as fcgi_main.c tests) lives for one request, so its
 * buckets are in the fastcgi.rate_state file that every request's process
 * opens -- for the limits that are on. A file that cannot be used costs
 * one log line (the second open is not tried) and the limits of this
 * request (the in-memory tables, full), never the request itself. */
static void limits_new(mv_plugin *p)
{
    const mv_fcgi_settings *s = mv_fcgi_settings_of(p->cfg);
    const char *path = s->rate_state;
    size_t nkeys = s->api_keys.n;
    bool cgi = getenv("GATEWAY_INTERFACE") != NULL && path[0] != '\0';
    bool ip = cgi && s->ip_rate > 0;

    if (ip)
        p->by_ip = mv_ratelimit_open(path, "ip", rate_log, NULL);
    if (cgi && s->key_rate > 0 && nkeys > 0 && (!ip || p->by_ip != NULL))
        p->by_key = mv_ratelimit_open(path, "key", rate_log, NULL);
    if (p->by_ip == NULL)
        p->by_ip = mv_ratelimit_new();
    if (p->by_key == NULL)
        p->by_key = mv_ratelimit_new();
}

/* mv_plugin_init - engine, limits, metrics for this config; false on ENOMEM */
bool mv_plugin_init(mv_plugin *p, mv_config *cfg)
{
    memset(p, 0, sizeof(*p));
    p->cfg = mv_config_ref(cfg);
    p->engine = mv_engine_new_opts(cfg, &(mv_engine_options){NULL, -1, engine_log, NULL});
    limits_new(p);
    p->metrics = mv_metrics_new();
    return p->engine && p->by_ip && p->by_key && p->metrics;
}

/* mv_plugin_fini - release (answers what is pending first) */
void mv_plugin_fini(mv_plugin *p)
{
    mv_engine_free(p->engine);
    mv_ratelimit_free(p->by_ip);
    mv_ratelimit_free(p->by_key);
    mv_metrics_free(p->metrics);
    mv_config_unref(p->cfg);
}

/* The plugin's own endpoints. */
typedef enum { EP_NONE, EP_VERIFY, EP_HEALTHZ, EP_METRICS } endpoint;

/* endpoint_of - which endpoint the path is: exactly fastcgi.mount +
 * "/verify" (or /healthz, /metrics); anything else ("/x/metrics",
 * "/verify/", "//verify") is none -- pass-through's, or 404. A CGI
 * program's PATH_INFO is already below its mount (its SCRIPT_NAME). */
static endpoint endpoint_of(mv_plugin *p, const mv_http_req *r)
{
    const char *m = mv_fcgi_settings_of(p->cfg)->mount, *rel = r->path;
    size_t n = strlen(m);

    while (n > 0 && m[n - 1] == '/')
        n--; /* "/mailverify/" is "/mailverify"; "/" is the root */
    if (!r->mounted) {
        if (strncmp(rel, m, n) != 0)
            return EP_NONE;
        rel += n;
    }
    if (strcmp(rel, "/verify") == 0)
        return EP_VERIFY;
    if (strcmp(rel, "/healthz") == 0)
        return EP_HEALTHZ;
    if (strcmp(rel, "/metrics") == 0)
        return EP_METRICS;
    return EP_NONE;
}

/* cors - the CORS headers for an allowed origin, "" otherwise */
static void cors(mv_plugin *p, const mv_http_req *r, char *out, size_t size)
{
    const mv_strlist *ol = &mv_fcgi_settings_of(p->cfg)->cors_origins;
    size_t n = ol->n;
    const char *const *origins = (const char *const *)ol->v;

    out[0] = '\0';
    if (r->origin == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(origins[i], r->origin) == 0) {
            snprintf(out, size, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origins[i]);
            return;
        }
}

/* respond - an answer, counted */
static void respond(mv_plugin *p, mv_http_req *r, int status, const char *extra, const char *ctype,
                    const char *body, size_t len)
{
    char hdr[1024], c[600];

    cors(p, r, c, sizeof(c));
    snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s%s", c,
             extra ? extra : "");
    mv_metrics_status(p->metrics, status);
    mv_http_respond(r, status, hdr, ctype, body, len);
}

/* error_json - {"error": ...} with a status */
static void error_json(mv_plugin *p, mv_http_req *r, int status, const char *extra, const char *msg)
{
    mv_buf b = {0};

    mv_buf_puts(&b, "{\"error\":");
    mv_json_str(&b, msg, strlen(msg), MV_JSON_HTML);
    mv_buf_printf(&b, ",\"status\":%d}\n", status);
    respond(p, r, status, extra, "application/json", b.data ? b.data : "", b.len);
    mv_buf_free(&b);
}

/* preflight - OPTIONS: the methods and headers a page may use */
static void preflight(mv_plugin *p, mv_http_req *r)
{
    char c[600];

    cors(p, r, c, sizeof(c));
    if (c[0] == '\0') {
        error_json(p, r, 403, NULL, "origin not allowed");
        return;
    }
    respond(p, r, 204,
            "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
            "Access-Control-Allow-Headers: Content-Type, X-Api-Key\r\nAccess-Control-Max-Age: 600\r\n",
            NULL, NULL, 0);
}

/* key_known - does the request carry one of fastcgi.api_keys? */
static bool key_known(mv_plugin *p, const mv_http_req *r)
{
    const mv_strlist *kl = &mv_fcgi_settings_of(p->cfg)->api_keys;
    size_t n = kl->n;
    const char *const *keys = (const char *const *)kl->v;

    for (size_t i = 0; r->api_key != NULL && i < n; i++)
        if (strcmp(keys[i], r->api_key) == 0)
            return true;
    return false;
}

/* limited - rate limits and the API key; true if the request was refused */
static bool limited(mv_plugin *p, mv_http_req *r)
{
    const mv_fcgi_settings *s = mv_fcgi_settings_of(p->cfg);
    double now = now_s();
    unsigned wait;
    char extra[64];
    bool known = key_known(p, r);
    char who[MV_CLIENT_KEY_SIZE]; /* IPv6: the client's /64, not its address */

    mv_client_key(r->remote, (unsigned)s->ipv6_prefix, who, sizeof(who));
    if ((wait = mv_ratelimit_take(p->by_ip, who, (double)s->ip_rate, (double)s->ip_burst, now)) > 0) {
        mv_metrics_limited(p->metrics, MV_RL_IP);
        snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", wait);
        error_json(p, r, 429, extra, "too many requests from your address");
        return true;
    }
    if ((s->require_api_key || r->api_key != NULL) && !known) {
        error_json(p, r, 401, NULL, r->api_key ? "unknown API key" : "an API key is required (X-Api-Key)");
        return true;
    }
    if (known && (wait = mv_ratelimit_take(p->by_key, r->api_key, (double)s->key_rate, (double)s->key_burst,
                                           now)) > 0) {
        mv_metrics_limited(p->metrics, MV_RL_KEY);
        snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", wait);
        error_json(p, r, 429, extra, "too many requests for this API key");
        return true;
    }
    return false;
}

/* field - a field from the query (GET) or the body (POST); 0 or a status */
static int field(mv_plugin *p, mv_http_req *r, const char *name, char *out, size_t size, size_t *len,
                 const char **why)
{
    mv_form_status st;
    int rc;

    (void)p;
    if (strcmp(r->method, "GET") == 0) {
        st = mv_form_get(r->query, strlen(r->query), name, out, size, len);
    } else if (mv_http_media_type(r->ctype, "application/x-www-form-urlencoded")) {
        st = mv_form_get(r->body ? r->body : "", r->body_len, name, out, size, len);
    } else if (mv_http_media_type(r->ctype, "application/json")) {
        st = mv_json_get(r->body ? r->body : "", r->body_len, name, out, size, len);
    } else {
        *why = "send application/x-www-form-urlencoded or application/json";
        return 415;
    }
    rc = st == MV_FORM_OK ? 0 : st == MV_FORM_MISSING ? -1 : 400;
    *why = mv_form_status_text(st);
    return rc;
}

/* A request waiting for its verdict within the form's deadline. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    mv_verdict v;
    char input[MV_ECHO_MAX + 1];
    atomic_int refs;
    mv_plugin *p;
} waiter;

/* unref - the last of the request and the engine's callback frees it */
static void unref(waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* on_verdict - the engine's answer, in time or late */
static void on_verdict(void *arg, const mv_verdict *v)
{
    waiter *w = arg;
    bool late;

    pthread_mutex_lock(&w->mu);
    late = w->abandoned;
    if (!late) {
        w->v = *v;
        w->v.input = w->input;
        w->done = true;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (late && w->p->hooks.late != NULL) {
        mv_buf b = {0};

        mv_verdict_json(&b, v, MV_JSON_HTML);
        if (mv_buf_ok(&b))
            w->p->hooks.late(w->p->hooks.late_arg, b.data, b.len);
        mv_buf_free(&b);
    }
    unref(w);
}

/* pending - the answer when the engine is still at it: what is known
 * offline, unknown/timeout, pending */
static void pending(mv_plugin *p, const char *addr, size_t len, mv_context ctx, unsigned ms, mv_verdict *v)
{
    mv_request req = {.address = addr, .len = len, .context = ctx, .mode = MV_MODE_OFFLINE};

    mv_engine_check(p->engine, &req, v);
    v->net_asked = true;
    memset(&v->net, 0, sizeof(v->net));
    v->net.reason = MV_R_TIMEOUT;
    v->net.catch_all = -1;
    snprintf(v->net.detail, sizeof(v->net.detail),
             "still verifying after %u ms; the final "
             "verdict goes to the site's webhook",
             ms);
    mv_engine_rescore(p->engine, v);
}

/* check - verify within the context's deadline; false if the engine could not */
static bool check(mv_plugin *p, const char *addr, size_t len, mv_context ctx, mv_verdict *v,
                  bool *was_pending)
{
    unsigned budget = (unsigned)mv_config_settings(p->cfg)->context[ctx].deadline_ms;
    mv_request req = {
        .address = addr, .len = len, .context = ctx, .mode = MV_MODE_CONTEXT, .deadline_ms = LATE_MS};
    struct timespec until = mv_deadline_after(budget);
    waiter *w = calloc(1, sizeof(*w));
    bool ok = true;

    *was_pending = false;
    if (w == NULL)
        return false;
    mv_cond_init_monotonic(&w->cv);
    pthread_mutex_init(&w->mu, NULL);
    atomic_init(&w->refs, 2);
    w->p = p;
    snprintf(w->input, sizeof(w->input), "%.*s", (int)(len > MV_ECHO_MAX ? MV_ECHO_MAX : len), addr);
    if (mv_engine_submit(p->engine, &req, on_verdict, w) != MV_OK) {
        atomic_store(&w->refs, 1);
        unref(w);
        return false;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    if (w->done) {
        *v = w->v;
    } else {
        w->abandoned = true;
        *was_pending = true;
    }
    pthread_mutex_unlock(&w->mu);
    if (*was_pending)
        pending(p, addr, len, ctx, budget, v);
    unref(w);
    v->input = addr;
    return ok;
}

/* mv_plugin_verify_field - verify one address for pass-through */
bool mv_plugin_verify_field(mv_plugin *p, const char *addr, size_t len, mv_verdict *v)
{
    bool was_pending;

    return check(p, addr, len, MV_CTX_FORM, v, &was_pending);
}

/* mv_plugin_message - the short text a page shows for a verdict */
void mv_plugin_message(const mv_verdict *v, bool is_pending, char *out, size_t size)
{
    const char *m = "";

    if (v->has_suggestion && v->action != MV_ACT_BLOCK) {
        snprintf(out, size, "Did you mean %s?", v->suggestion);
        return;
    }
    if (is_pending) {
        snprintf(out, size, "We are still checking this address.");
        return;
    }
    switch (v->reason) {
    case MV_R_INVALID_SYNTAX:
        snprintf(out, size, "This is not a valid email address: %s.", mv_syntax_message(v->addr.error));
        if (v->has_suggestion)
            snprintf(out + strlen(out), size - strlen(out), " Did you mean %s?", v->suggestion);
        return;
    case MV_R_INVALID_DOMAIN: m = "This domain does not exist."; break;
    case MV_R_NO_MAIL_SERVER: m = "This domain does not receive email."; break;
    case MV_R_REJECTED_EMAIL: m = "This mailbox does not exist."; break;
    case MV_R_MAILBOX_DISABLED: m = "This mailbox is disabled."; break;
    case MV_R_MAILBOX_FULL: m = "This mailbox is full at the moment."; break;
    case MV_R_DISPOSABLE: m = "Disposable email addresses are not accepted."; break;
    case MV_R_ROLE_ACCOUNT:
        m = "This looks like a shared address (like info@); a personal one is better.";
        break;
    case MV_R_ACCEPT_ALL: m = "We could not confirm that this mailbox exists."; break;
    default: break;
    }
    if (*m == '\0' && v->action == MV_ACT_BLOCK)
        m = "This address cannot be used here.";
    snprintf(out, size, "%s", m);
}

/* answer_verdict - 200 with the verdict, its message and "pending" */
static void answer_verdict(mv_plugin *p, mv_http_req *r, const mv_verdict *v, bool is_pending)
{
    mv_buf b = {0};
    char msg[600];

    mv_plugin_message(v, is_pending, msg, sizeof(msg));
    mv_verdict_json(&b, v, MV_JSON_HTML);
    if (!mv_buf_ok(&b) || b.len == 0) {
        mv_buf_free(&b);
        error_json(p, r, 503, NULL, "out of memory");
        return;
    }
    b.len--; /* reopen the object for our two keys */
    mv_buf_puts(&b, ",\"message\":");
    mv_json_str(&b, msg, strlen(msg), MV_JSON_HTML);
    mv_buf_puts(&b, is_pending ? ",\"pending\":true}\n" : ",\"pending\":false}\n");
    respond(p, r, 200, NULL, "application/json", b.data, b.len);
    mv_buf_free(&b);
}

/* context_of - the "context" field: form (default), or bulk for callers
 * with a known API key only -- bulk's deadline (60 s) would let anyone
 * hold a worker that long per request; 0, 400, 403 or the field's status */
static int context_of(mv_plugin *p, mv_http_req *r, mv_context *ctx)
{
    char c[32];
    size_t n;
    const char *why;
    int rc = field(p, r, "context", c, sizeof(c), &n, &why);

    *ctx = MV_CTX_FORM;
    if (rc < 0)
        return 0; /* absent: the form context */
    if (rc > 0)
        return rc;
    if (strcmp(c, "form") == 0)
        return 0;
    if (strcmp(c, "bulk") == 0) {
        *ctx = MV_CTX_BULK;
        return key_known(p, r) ? 0 : 403;
    }
    return 400;
}

/* verify - GET or POST /verify */
static void verify(mv_plugin *p, mv_http_req *r)
{
    char email[MV_INPUT_MAX + 2];
    size_t len;
    const char *why = "";
    mv_context ctx;
    mv_verdict v;
    bool was_pending;
    int rc;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        error_json(p, r, 405, "Allow: GET, POST, OPTIONS\r\n", "use GET or POST");
        return;
    }
    if (limited(p, r))
        return;
    if (strcmp(r->method, "POST") == 0 &&
        (rc = mv_http_read_body(r, (size_t)mv_fcgi_settings_of(p->cfg)->max_body)) != 0) {
        error_json(p, r, rc, NULL,
                   rc == 413   ? "request body too large"
                   : rc == 408 ? "request body too slow (fastcgi.read_timeout_ms)"
                               : "request body incomplete");
        return;
    }
    if ((rc = field(p, r, "email", email, sizeof(email), &len, &why)) != 0) {
        error_json(p, r, rc < 0 ? 400 : rc, NULL, rc < 0 ? "the email field is missing" : why);
        return;
    }
    if ((rc = context_of(p, r, &ctx)) != 0) {
        error_json(p, r, rc, NULL,
                   rc == 403 ? "context bulk needs an API key (X-Api-Key)" : "context must be form or bulk");
        return;
    }
    if (!check(p, email, len, ctx, &v, &was_pending)) {
        error_json(p, r, 503, "Retry-After: 5\r\n", "the verifier cannot answer right now");
        return;
    }
    mv_metrics_verdict(p->metrics, &v, was_pending, v.elapsed_us);
    answer_verdict(p, r, &v, was_pending);
}

/* mv_plugin_handle - answer one request */
void mv_plugin_handle(mv_plugin *p, mv_http_req *r)
{
    endpoint ep = endpoint_of(p, r);

    if (strcmp(r->method, "OPTIONS") == 0) {
        preflight(p, r);
    } else if (ep == EP_VERIFY) {
        verify(p, r);
    } else if (ep == EP_HEALTHZ) {
        respond(p, r, 200, NULL, "application/json", "{\"status\":\"ok\"}\n", 16);
    } else if (ep == EP_METRICS) {
        mv_buf b = {0};

        mv_metrics_render(p->metrics, p->engine, &b);
        respond(p, r, mv_buf_ok(&b) ? 200 : 503, NULL, "text/plain; version=0.0.4", b.data ? b.data : "",
                b.len);
        mv_buf_free(&b);
    } else if (p->hooks.pass != NULL) {
        mv_metrics_status(p->metrics, p->hooks.pass(p, r, p->hooks.pass_arg));
    } else {
        error_json(p, r, 404, NULL,
                   "no such endpoint (POST /verify, GET /verify?email=, /healthz, "
                   "/metrics, under fastcgi.mount)");
    }
}
