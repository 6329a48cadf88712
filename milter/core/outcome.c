/* SPDX-License-Identifier: MIT */
/*
 * outcome.c - the network's word on an address (mv_net_outcome) as the
 * cache stores it: packed bytes, a cache class, and the key it goes under.
 *
 * Shared by the engine (which stores and reads verdicts) and by
 * `mailverify cache get` (which shows them), so both read one layout:
 * reason, catch-all, flags, SMTP code and enhanced code, retry-after, then
 * length-prefixed strings (MX, host, SMTP text, TLS version, detail).
 * Unpacking checks every length: a damaged or foreign value is refused,
 * never read past.
 */
#include "outcome.h"

#include <stdio.h>
#include <string.h>

/* pack_str - one length-prefixed string (at most 255 bytes kept) */
static size_t pack_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s);

    if (n > 255)
        n = 255;
    p[0] = (unsigned char)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

/* mv_outcome_pack - an outcome into bytes; their number */
size_t mv_outcome_pack(const mv_net_outcome *o, unsigned char *p)
{
    size_t n = 12;

    p[0] = (unsigned char)o->reason;
    p[1] = (unsigned char)(o->catch_all + 1);
    p[2] = (unsigned char)((o->tls ? 1 : 0) | (o->implicit_mx ? 2 : 0));
    p[3] = (unsigned char)(o->smtp.code >> 8);
    p[4] = (unsigned char)(o->smtp.code & 255);
    p[5] = (unsigned char)o->smtp.enh[0];
    p[6] = (unsigned char)o->smtp.enh[1];
    p[7] = (unsigned char)o->smtp.enh[2];
    memcpy(p + 8, &o->retry_after, 4);
    n += pack_str(p + n, o->mx);
    n += pack_str(p + n, o->host);
    n += pack_str(p + n, o->smtp.text);
    n += pack_str(p + n, o->tls_version);
    n += pack_str(p + n, o->detail);
    n += pack_str(p + n, o->rule);
    memcpy(p + n, &o->until, 8);
    return n + 8;
}

/* unpack_str - one length-prefixed string into out; false if it overruns */
static bool unpack_str(const unsigned char *p, size_t len, size_t *off, char *out, size_t size)
{
    size_t n;

    if (*off >= len || *off + 1 + (n = p[*off]) > len)
        return false;
    snprintf(out, size, "%.*s", (int)n, (const char *)p + *off + 1);
    *off += n + 1;
    return true;
}

/* unpack_until - the 8-byte "ask again from" time that ends newer entries */
static bool unpack_until(const unsigned char *p, size_t len, size_t off, mv_net_outcome *o)
{
    if (off + 8 != len)
        return false;
    memcpy(&o->until, p + off, 8);
    return true;
}

/* mv_outcome_unpack - bytes from the cache into an outcome; false if damaged */
bool mv_outcome_unpack(const unsigned char *p, size_t len, mv_net_outcome *o)
{
    size_t off = 12;

    if (len < 12 || p[0] >= MV_R_COUNT)
        return false;
    memset(o, 0, sizeof(*o));
    o->reason = (mv_reason)p[0];
    o->catch_all = (int)p[1] - 1;
    o->tls = p[2] & 1;
    o->implicit_mx = (p[2] & 2) != 0;
    o->smtp.code = p[3] << 8 | p[4];
    o->smtp.enh[0] = p[5];
    o->smtp.enh[1] = p[6];
    o->smtp.enh[2] = p[7];
    memcpy(&o->retry_after, p + 8, 4);
    return unpack_str(p, len, &off, o->mx, sizeof(o->mx)) &&
           unpack_str(p, len, &off, o->host, sizeof(o->host)) &&
           unpack_str(p, len, &off, o->smtp.text, sizeof(o->smtp.text)) &&
           unpack_str(p, len, &off, o->tls_version, sizeof(o->tls_version)) &&
           unpack_str(p, len, &off, o->detail, sizeof(o->detail)) &&
           (off == len || unpack_str(p, len, &off, o->rule, sizeof(o->rule))) && /* older entries: none */
           (off == len || unpack_until(p, len, off, o));
}

/* mv_outcome_class - which expire/refresh times an outcome gets */
mv_cache_class mv_outcome_class(const mv_net_outcome *o)
{
    switch (mv_reason_status(o->reason)) {
    case MV_STATUS_DELIVERABLE:
    case MV_STATUS_RISKY: return MV_CACHE_POSITIVE;
    case MV_STATUS_UNDELIVERABLE: return MV_CACHE_NEGATIVE;
    default:
        /* mode dns: "the domain has mail servers" is a positive fact */
        return o->reason == MV_R_UNVERIFIED ? MV_CACHE_POSITIVE : MV_CACHE_TEMPORARY;
    }
}

/* mv_outcome_key - "s:" or "d:" (mode) + the mailbox (+ "|next-hop") */
size_t mv_outcome_key(char *key, size_t size, bool smtp, const char *mailbox, const char *hop)
{
    int n = snprintf(key, size, "%c:%s%s%s", smtp ? 's' : 'd', mailbox, hop && *hop ? "|" : "",
                     hop && *hop ? hop : "");

    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}
