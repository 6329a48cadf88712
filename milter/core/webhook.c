/* SPDX-License-Identifier: MIT */
/*
 * webhook.c - the webhook queue and its sender thread; see webhook.h.
 *
 * The queue is a list in arrival order under one mutex. The sender takes
 * the first event that is due (events in backoff wait their turn without
 * holding up the others), posts it with one reused curl handle (so the
 * connection is kept alive between events), and puts it back with its
 * next due time if the attempt failed. Producers (worker threads, the
 * engine's thread through the late hook) only lock, append and signal.
 * At shutdown the sender makes one last attempt for every queued event,
 * backoff or not, until the grace period is over; what is left is logged.
 */
#include "webhook.h"
#include "curlload.h"
#include "hmac.h"
#include "json.h"
#include "loop.h"
#include "redact.h"
#include "sslload.h"
#include "version.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define EVENT_ID_BYTES 16
#define BACKOFF_MAX_MS (3600 * 1000ULL) /* no wait between attempts beyond an hour */

typedef struct event {
    struct event *next;
    bool stop_tried; /* attempted since shutdown began (once at once, however due) */
    char id[2 * EVENT_ID_BYTES + 1];
    char *body;
    size_t len;
    unsigned attempts;
    uint64_t due_ms; /* monotonic: not before */
} event;

struct mv_webhook {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    event *head, *tail;
    size_t count;
    bool stopping;
    uint64_t stop_by_ms;
    pthread_t thread;
    mv_config *cfg;
    const mv_settings *s;
    mv_webhook_log_fn log; /* where lines go; NULL: nowhere */
    void *log_arg;
    mv_webhook_attempt_fn on_attempt;
    void *on_attempt_arg;
};

/* say - one line to the caller's log (the core writes nowhere itself) */
static void say(const mv_webhook *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const mv_webhook *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (w == NULL || w->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    w->log(w->log_arg, line);
}

/* now_ms - monotonic milliseconds */
static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* abs_time - a monotonic millisecond time as a timespec for timedwait */
static struct timespec abs_time(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    return ts;
}

/* event_free - release one event */
static void event_free(event *e)
{
    if (e != NULL)
        free(e->body);
    free(e);
}

/* new_id - 128 random bits as hex; false if the RNG failed */
static bool new_id(char out[2 * EVENT_ID_BYTES + 1])
{
    unsigned char r[EVENT_ID_BYTES];
    ssize_t n;

    /* the kernel's CSPRNG, as for the SipHash keys (siphash.c): it blocks
     * only until the pool is seeded at boot, and EINTR only then */
    while ((n = getrandom(r, sizeof(r), 0)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(r))
        return false;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return true;
}

/* make_event - the event's id and JSON body; NULL on failure */
static event *make_event(const char *name, const char *key, const char *json, size_t len)
{
    event *e = calloc(1, sizeof(*e));
    mv_buf b = {0};

    while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == ' '))
        len--;
    if (e == NULL || !new_id(e->id)) {
        free(e);
        return NULL;
    }
    mv_buf_puts(&b, "{\"event\":");
    mv_json_cstr(&b, name, 0);
    mv_buf_printf(&b, ",\"id\":\"%s\",\"created\":%lld,", e->id, (long long)time(NULL));
    mv_json_key(&b, key);
    mv_buf_put(&b, json, len);
    mv_buf_puts(&b, "}");
    if (!mv_buf_ok(&b)) {
        mv_buf_free(&b);
        free(e);
        return NULL;
    }
    e->body = b.data;
    e->len = b.len;
    return e;
}

/* push - append to the queue, dropping the oldest when full (locked) */
static void push(mv_webhook *w, event *e)
{
    if (w->count >= (size_t)w->s->webhook_max_queue && w->head != NULL) {
        event *old = w->head;

        w->head = old->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->count--;
        say(w,
            "webhook: queue full (%lld events): dropped the oldest, "
            "event %s",
            w->s->webhook_max_queue, old->id);
        event_free(old);
    }
    e->next = NULL;
    if (w->tail != NULL)
        w->tail->next = e;
    else
        w->head = e;
    w->tail = e;
    w->count++;
}

/* mv_webhook_send - queue one event; false if not queued */
bool mv_webhook_send(mv_webhook *w, const char *name, const char *key, const char *json, size_t len)
{
    event *e;

    if (w == NULL)
        return false;
    if ((e = make_event(name, key, json, len)) == NULL) {
        say(w, "webhook: out of memory (or no randomness): a %s event is lost", name);
        return false;
    }
    e->due_ms = now_ms();
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        say(w, "webhook: shutting down: dropped event %s", e->id);
        event_free(e);
        return false;
    }
    push(w, e);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

/* mv_webhook_late - the plugin's late hook: queue a final verdict */
void mv_webhook_late(void *arg, const char *json, size_t len)
{
    mv_webhook_send(arg, "verdict", "verdict", json, len);
}

/* mv_webhook_bulk_completed - queue a bulk job's completion */
bool mv_webhook_bulk_completed(mv_webhook *w, const char *json, size_t len)
{
    return mv_webhook_send(w, "bulk.completed", "job", json, len);
}

/* mv_webhook_queued - events waiting */
size_t mv_webhook_queued(mv_webhook *w)
{
    size_t n;

    pthread_mutex_lock(&w->mu);
    n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* discard - curl's write callback: the receiver's answer is not used */
static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* add - append one header line; false on ENOMEM */
static bool add(const mv_curl_api *cu, struct curl_slist **h, const char *line)
{
    struct curl_slist *t = cu->slist_append(*h, line);

    if (t == NULL)
        return false;
    *h = t;
    return true;
}

/* headers - the signed headers of one attempt; NULL on failure, with why */
static struct curl_slist *headers(const mv_curl_api *cu, mv_webhook *w, const event *e, char *err,
                                  size_t size)
{
    const char *secret = w->s->webhook_secret;
    char ts[24], sig[MV_SIG_SIZE] = "", stamp[64], id[64], signature[96];
    struct curl_slist *h = NULL;
    const char *why;

    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    if (*secret != '\0' && !mv_webhook_sign(secret, strlen(secret), ts, e->body, e->len, sig)) {
        /* OpenSSL missing is the likely cause, and worth naming */
        snprintf(err, size, "cannot sign the event: %s", mv_ssl(&why) ? "HMAC-SHA256 failed" : why);
        return NULL;
    }
    snprintf(stamp, sizeof(stamp), "X-Mailverify-Timestamp: %s", ts);
    snprintf(id, sizeof(id), "X-Mailverify-Event: %s", e->id);
    snprintf(signature, sizeof(signature), "X-Mailverify-Signature: %s", sig);
    if (add(cu, &h, "Content-Type: application/json") && add(cu, &h, "User-Agent: mailverify/" MV_VERSION) &&
        add(cu, &h, "Expect:") && add(cu, &h, stamp) && add(cu, &h, id) &&
        (*secret == '\0' || add(cu, &h, signature)))
        return h;
    snprintf(err, size, "out of memory");
    cu->slist_free_all(h);
    return NULL;
}

/* attempt - one POST of the event with the sender's handle *c (made on
 * the first attempt, when libcurl is loaded); true on 2xx, else why in err */
static bool attempt(mv_webhook *w, CURL **c, const event *e, long timeout_ms, char *err, size_t size)
{
    const char *why = NULL;
    const mv_curl_api *cu = mv_curl(&why);
    struct curl_slist *h;
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;

    if (cu == NULL) {
        /* counted and retried like any failed attempt, so the loss is
         * logged with the event id; the reason is in every line */
        snprintf(err, size, "%s", why);
        if (w->on_attempt != NULL)
            w->on_attempt(w->on_attempt_arg, false);
        return false;
    }
    if (*c == NULL)
        *c = cu->easy_init();
    if ((h = headers(cu, w, e, err, size)) == NULL || *c == NULL) {
        if (h != NULL)
            snprintf(err, size, "out of memory");
        cu->slist_free_all(h);
        return false;
    }
    cu->easy_setopt(*c, CURLOPT_URL, w->s->webhook_url);
    cu->easy_setopt(*c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(*c, CURLOPT_FOLLOWLOCATION, 0L);
    cu->easy_setopt(*c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(*c, CURLOPT_TIMEOUT_MS, timeout_ms);
    cu->easy_setopt(*c, CURLOPT_POST, 1L);
    cu->easy_setopt(*c, CURLOPT_POSTFIELDS, e->body);
    cu->easy_setopt(*c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->len);
    cu->easy_setopt(*c, CURLOPT_HTTPHEADER, h);
    cu->easy_setopt(*c, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(*c, CURLOPT_ERRORBUFFER, cerr);
    rc = cu->easy_perform(*c);
    if (rc == CURLE_OK)
        cu->easy_getinfo(*c, CURLINFO_RESPONSE_CODE, &status);
    cu->easy_setopt(*c, CURLOPT_HTTPHEADER, NULL);
    cu->easy_setopt(*c, CURLOPT_ERRORBUFFER, NULL);
    cu->slist_free_all(h);
    if (rc != CURLE_OK)
        snprintf(err, size, "%s", cerr[0] ? cerr : cu->easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(err, size, "HTTP %ld", status);
    /* curl's message goes to the log: never with the URL's credentials or token */
    mv_redact_scrub_url(err, size, w->s->webhook_url);
    if (w->on_attempt != NULL)
        w->on_attempt(w->on_attempt_arg, rc == CURLE_OK && status >= 200 && status <= 299);
    return rc == CURLE_OK && status >= 200 && status <= 299;
}

/* backoff_ms - the wait before retry n (0 = the first retry) */
static uint64_t backoff_ms(const mv_webhook *w, unsigned n)
{
    uint64_t ms = (uint64_t)w->s->webhook_retry_base_ms << (n > 30 ? 30 : n);

    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

/* take_due - unlink the first event due now (when stopping, also each one
 * not yet tried since: the process is going away, a backoff is not waited
 * out first); NULL if none, with *next the earliest due time (locked) */
static event *take_due(mv_webhook *w, uint64_t now, uint64_t *next)
{
    event *prev = NULL;

    *next = UINT64_MAX;
    for (event *e = w->head; e != NULL; prev = e, e = e->next) {
        if (e->due_ms <= now || (w->stopping && !e->stop_tried)) {
            e->stop_tried = w->stopping;
            if (prev != NULL)
                prev->next = e->next;
            else
                w->head = e->next;
            if (w->tail == e)
                w->tail = prev;
            w->count--;
            return e;
        }
        if (e->due_ms < *next)
            *next = e->due_ms;
    }
    return NULL;
}

/* settle - after an attempt: done, back in the queue for a retry, or dropped (locked) */
static void settle(mv_webhook *w, event *e, bool ok, const char *err)
{
    unsigned retries = (unsigned)w->s->webhook_retries;

    if (ok) {
        event_free(e);
    } else if (e->attempts > retries ||
               (w->stopping && now_ms() + backoff_ms(w, e->attempts - 1) >= w->stop_by_ms)) {
        /* at shutdown, a retry is still made if it falls within the grace */
        say(w, "webhook: event %s dropped after %u attempt%s (%s)%s", e->id, e->attempts,
            e->attempts == 1 ? "" : "s", err, w->stopping && e->attempts <= retries ? " at shutdown" : "");
        event_free(e);
    } else {
        uint64_t wait = backoff_ms(w, e->attempts - 1);

        say(w, "webhook: event %s attempt %u failed (%s); retry in %" PRIu64 " ms", e->id, e->attempts, err,
            wait);
        e->due_ms = now_ms() + wait;
        push(w, e);
    }
}

/* attempt_timeout - the attempt's time limit: webhook.timeout_ms, or what is left of the grace */
static long attempt_timeout(mv_webhook *w, uint64_t now)
{
    long t = (long)w->s->webhook_timeout_ms;

    if (w->stopping) {
        uint64_t left = w->stop_by_ms > now ? w->stop_by_ms - now : 0;

        if ((uint64_t)t > left)
            t = (long)left;
    }
    return t < 100 ? 100 : t;
}

/* sender - the thread: attempt what is due, wait for the next */
static void *sender(void *arg)
{
    mv_webhook *w = arg;
    CURL *c = NULL; /* libcurl is loaded at the first attempt, not before */
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are main's business */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        uint64_t now = now_ms(), next;
        event *e;
        char err[CURL_ERROR_SIZE + 32] = "";
        bool ok;
        long timeout;

        if (w->stopping && (w->head == NULL || now >= w->stop_by_ms))
            break;
        if ((e = take_due(w, now, &next)) == NULL) {
            struct timespec until;

            if (w->stopping && next > w->stop_by_ms)
                next = w->stop_by_ms;
            until = abs_time(next);

            if (next == UINT64_MAX)
                pthread_cond_wait(&w->cv, &w->mu);
            else
                pthread_cond_timedwait(&w->cv, &w->mu, &until);
            continue;
        }
        timeout = attempt_timeout(w, now);
        pthread_mutex_unlock(&w->mu);
        e->attempts++;
        ok = attempt(w, &c, e, timeout, err, sizeof(err));
        pthread_mutex_lock(&w->mu);
        settle(w, e, ok, err);
    }
    pthread_mutex_unlock(&w->mu);
    if (c != NULL) {
        const char *why;

        mv_curl(&why)->easy_cleanup(c); /* c exists only if libcurl was loaded */
    }
    return NULL;
}

/* mv_webhook_new - queue and sender for webhook.url; NULL if none or on failure */
mv_webhook *mv_webhook_new(mv_config *cfg, mv_webhook_log_fn log, void *log_arg,
                           mv_webhook_attempt_fn on_attempt, void *arg, bool *failed)
{
    const mv_settings *s = mv_config_settings(cfg);
    mv_webhook *w;

    *failed = false;
    if (s->webhook_url == NULL || s->webhook_url[0] == '\0')
        return NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        *failed = true;
        return NULL;
    }
    w->log = log;
    w->log_arg = log_arg;
    if (s->webhook_secret[0] == '\0')
        say(w, "webhook: webhook.secret is empty: events go out unsigned");
    w->cfg = mv_config_ref(cfg);
    w->s = s;
    w->on_attempt = on_attempt;
    w->on_attempt_arg = arg;
    pthread_mutex_init(&w->mu, NULL);
    mv_cond_init_monotonic(&w->cv);
    if ((errno = pthread_create(&w->thread, NULL, sender, w)) != 0) {
        say(w, "webhook: cannot start the sender: %s", strerror(errno));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        mv_config_unref(w->cfg);
        free(w);
        *failed = true;
        return NULL;
    }
    return w;
}

/* mv_webhook_free - deliver within grace_ms, log what is dropped, stop */
void mv_webhook_free(mv_webhook *w, unsigned grace_ms)
{
    event *e, *next;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    w->stop_by_ms = now_ms() + grace_ms;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (e = w->head; e != NULL; e = next) {
        next = e->next;
        say(w,
            "webhook: event %s not delivered at shutdown (%u attempt%s): "
            "dropped",
            e->id, e->attempts, e->attempts == 1 ? "" : "s");
        event_free(e);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    mv_config_unref(w->cfg);
    free(w);
}
