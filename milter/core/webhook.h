/* SPDX-License-Identifier: MIT */
/*
 * webhook.h - signed webhook deliveries, queued and retried.
 *
 * Events (a final verdict that came after the page was answered
 * "pending", a bulk job's completion) are POSTed to webhook.url as
 *   {"event":"verdict","id":"<32 hex>","created":<unix s>,"verdict":{...}}
 *   {"event":"bulk.completed","id":"...","created":...,"job":{...}}
 * with X-Mailverify-Timestamp, X-Mailverify-Event (the id) and
 * X-Mailverify-Signature ("v1=" hex HMAC-SHA256 of "timestamp.body",
 * hmac.h), signed anew for every attempt. One sender thread (libcurl)
 * works through a bounded queue: a failed attempt (network error, no
 * answer in webhook.timeout_ms, or any status but 2xx) is retried after
 * retry_base_ms x 2^n, at most webhook.retries times; a full queue drops
 * its oldest event. Every loss is logged with the event id. The URL is
 * the administrator's own: private and loopback targets are allowed (no
 * SSRF guard), only http and https, redirects not followed.
 */
#ifndef MV_WEBHOOK_H
#define MV_WEBHOOK_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#define MV_WEBHOOK_GRACE_MS 5000 /* at shutdown: time left to deliver the queue */

typedef struct mv_webhook mv_webhook;

/* Called on the sender thread after each attempt: delivered (2xx) or not. */
typedef void (*mv_webhook_attempt_fn)(void *arg, bool delivered);

/* Where the sender's lines go (a loss, a retry, a missing secret): the
 * front end logs them in its own style. Any thread. */
typedef void (*mv_webhook_log_fn)(void *arg, const char *line);

/* mv_webhook_new - queue and sender for webhook.url; NULL if none is set
 * or on failure (logged; *failed set). log (may be NULL) gets its lines;
 * on_attempt (may be NULL) counts deliveries, e.g. for /metrics. */
mv_webhook *mv_webhook_new(mv_config *cfg, mv_webhook_log_fn log, void *log_arg,
                           mv_webhook_attempt_fn on_attempt, void *arg, bool *failed);

/* mv_webhook_send - queue {"event":event,"id":..,"created":..,key:json}; false if not queued */
bool mv_webhook_send(mv_webhook *w, const char *event, const char *key, const char *json, size_t len);

/* mv_webhook_late - the plugin's late hook: queue a final verdict */
void mv_webhook_late(void *arg, const char *json, size_t len);

/* mv_webhook_bulk_completed - queue a bulk job's completion (json: the job) */
bool mv_webhook_bulk_completed(mv_webhook *w, const char *json, size_t len);

/* mv_webhook_queued - events waiting (in flight not counted) */
size_t mv_webhook_queued(mv_webhook *w);

/* mv_webhook_free - deliver what is queued within grace_ms, log what is
 * dropped, stop the sender; NULL is fine */
void mv_webhook_free(mv_webhook *w, unsigned grace_ms);

#endif
