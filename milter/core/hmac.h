/* SPDX-License-Identifier: MIT */
/*
 * hmac.h - the webhook signature: HMAC-SHA256 over "timestamp.body".
 *
 * A webhook POST carries X-Mailverify-Timestamp (unix seconds, decimal),
 * X-Mailverify-Event (a unique id) and X-Mailverify-Signature:
 * "v1=" followed by the lowercase hex HMAC-SHA256, keyed with the shared
 * secret, of the timestamp's exact bytes, one ".", and the raw body. The
 * sender (the web plugin) signs with mv_webhook_sign(); receivers check
 * with mv_webhook_verify() and mv_webhook_fresh() -- through `mailverify
 * webhook-verify`, or their own code following its --help. Pure: OpenSSL's
 * HMAC, no I/O, no clock of its own.
 */
#ifndef MV_HMAC_H
#define MV_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define MV_HMAC_LEN 32                        /* bytes of an HMAC-SHA256 */
#define MV_SIG_SIZE (3 + 2 * MV_HMAC_LEN + 1) /* "v1=" + 64 hex + NUL */
#define MV_SIG_SCHEME "v1="

/* mv_hmac_sha256 - HMAC-SHA256 of msg under key into out; false if OpenSSL failed */
bool mv_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[MV_HMAC_LEN]);

/* mv_webhook_sign - "v1=<hex>" for this timestamp and body into out; false on failure */
bool mv_webhook_sign(const char *secret, size_t secretlen, const char *timestamp, const void *body,
                     size_t len, char out[MV_SIG_SIZE]);

/* mv_webhook_verify - does the signature header hold a valid "v1=" entry
 * for this timestamp and body? (several entries, comma-separated, allowed) */
bool mv_webhook_verify(const char *secret, size_t secretlen, const char *timestamp, const void *body,
                       size_t len, const char *header);

typedef enum {
    MV_TS_FRESH,     /* within the tolerance of now */
    MV_TS_STALE,     /* too old, or too far in the future */
    MV_TS_MALFORMED, /* not 1-18 decimal digits */
} mv_ts_check;

/* mv_webhook_fresh - is the timestamp within tolerance seconds of now? */
mv_ts_check mv_webhook_fresh(const char *timestamp, long long now, long long tolerance, long long *value);

#endif
