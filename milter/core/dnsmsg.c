/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg.c - MX and address answer reading with CNAME chains and limits.
 *
 * A message is first checked whole (mv_dnsmsg_check): no TC bit, every
 * record of every section readable, nothing after the last one. Only then
 * are records taken, from the answer section only, for the queried name or
 * for a name the CNAME chain in the same answer leads to. Names are
 * expanded by c-ares (ares_expand_name, which refuses compression loops)
 * and then checked for length here. When the answer holds more MX records
 * than we keep, the best preferences win; equal preferences keep their
 * order here and are shuffled by the caller (RFC 5321 5.1).
 */
#include "dnsmsg.h"

#include <ares.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#define T_A 1
#define T_CNAME 5
#define T_MX 15
#define T_AAAA 28
#define F_TC 0x02 /* in the third header byte */

typedef struct {
    char owner[256];
    unsigned type;
    uint32_t ttl;
    size_t rdata, rdlen; /* offset and length of the RDATA */
} rr;

/* name_at - expand the name at off into out; its encoded length, or 0 */
static size_t name_at(const unsigned char *msg, size_t len, size_t off, char *out)
{
    char *s = NULL;
    long enclen = 0;
    size_t n;

    if (off >= len || ares_expand_name(msg + off, msg, (int)len, &s, &enclen) != ARES_SUCCESS)
        return 0;
    n = strlen(s);
    if (n > 253 || enclen <= 0) {
        ares_free_string(s);
        return 0;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    if (n > 0 && out[n - 1] == '.')
        out[n - 1] = '\0';
    ares_free_string(s);
    return (size_t)enclen;
}

/* u16 - big-endian 16 bits at off */
static unsigned u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* read_rr - one resource record at *off; false if malformed */
static bool read_rr(const unsigned char *msg, size_t len, size_t *off, rr *r)
{
    size_t n = name_at(msg, len, *off, r->owner);

    if (n == 0 || *off + n + 10 > len)
        return false;
    *off += n;
    r->type = u16(msg + *off);
    r->ttl = (uint32_t)u16(msg + *off + 4) << 16 | u16(msg + *off + 6);
    r->rdlen = u16(msg + *off + 8);
    r->rdata = *off + 10;
    if (r->rdata + r->rdlen > len)
        return false;
    *off = r->rdata + r->rdlen;
    if (r->ttl > 0x7FFFFFFF)
        r->ttl = 0; /* RFC 2181 8: treat as zero */
    return true;
}

/* skip_question - past the question section; false if malformed */
static bool skip_question(const unsigned char *msg, size_t len, size_t *off, unsigned qd)
{
    char name[256];

    for (unsigned i = 0; i < qd; i++) {
        size_t n = name_at(msg, len, *off, name);

        if (n == 0 || *off + n + 4 > len)
            return false;
        *off += n + 4;
    }
    return true;
}

/* follow - walk the CNAME chain from qname within the answer; target is
 * 256 bytes, *ttl lowered to the chain's smallest TTL */
static mv_dnsmsg_status follow(const unsigned char *msg, size_t len, size_t ans, unsigned an,
                               const char *qname, char *target, unsigned *hops, uint32_t *ttl)
{
    snprintf(target, 256, "%s", qname);
    for (;;) {
        size_t off = ans;
        bool moved = false;
        rr r;

        for (unsigned i = 0; i < an; i++) {
            if (!read_rr(msg, len, &off, &r))
                return MV_DNSMSG_MALFORMED;
            if (r.type != T_CNAME || strcasecmp(r.owner, target) != 0)
                continue;
            if (++*hops > MV_CNAME_HOPS)
                return MV_DNSMSG_CNAME_LOOP;
            if (name_at(msg, len, r.rdata, target) == 0)
                return MV_DNSMSG_MALFORMED;
            if (strcasecmp(target, qname) == 0)
                return MV_DNSMSG_CNAME_LOOP;
            if (r.ttl < *ttl)
                *ttl = r.ttl;
            moved = true;
            break;
        }
        if (!moved)
            return MV_DNSMSG_OK;
    }
}

/* keep - insert an MX into the kept set (sorted, stable, capped) */
static void keep(mv_mx_answer *out, const char *host, unsigned pref)
{
    size_t i = out->nmx;

    out->nmx_seen++;
    if (out->nmx == MV_MX_MAX) {
        if (pref >= out->mx[MV_MX_MAX - 1].pref)
            return; /* worse than everything kept */
        i = --out->nmx;
    }
    while (i > 0 && out->mx[i - 1].pref > pref) {
        out->mx[i] = out->mx[i - 1];
        i--;
    }
    snprintf(out->mx[i].host, sizeof(out->mx[i].host), "%s", host);
    out->mx[i].pref = pref;
    out->nmx++;
}

/* mv_dnsmsg_check - the whole message: OK, TRUNCATED (TC bit) or MALFORMED */
mv_dnsmsg_status mv_dnsmsg_check(const unsigned char *msg, size_t len)
{
    size_t off = 12;
    unsigned long nrr;
    rr r;

    if (msg == NULL || len < 12)
        return MV_DNSMSG_MALFORMED;
    /* the server says records are missing: whatever is here is not the answer */
    if (msg[2] & F_TC)
        return MV_DNSMSG_TRUNCATED;
    if (!skip_question(msg, len, &off, u16(msg + 4)))
        return MV_DNSMSG_MALFORMED;
    /* answer, authority and additional records: each must be readable and
     * the last must end where the message does (a count that lies either
     * way, a record cut short, garbage after the header are all caught) */
    nrr = (unsigned long)u16(msg + 6) + u16(msg + 8) + u16(msg + 10);
    for (unsigned long i = 0; i < nrr; i++)
        if (!read_rr(msg, len, &off, &r))
            return MV_DNSMSG_MALFORMED;
    return off == len ? MV_DNSMSG_OK : MV_DNSMSG_MALFORMED;
}

/* mv_dnsmsg_strerror - a status as an admin reads it */
const char *mv_dnsmsg_strerror(mv_dnsmsg_status st)
{
    switch (st) {
    case MV_DNSMSG_OK: return "ok";
    case MV_DNSMSG_TRUNCATED: return "truncated DNS answer (TC) from server";
    case MV_DNSMSG_CNAME_LOOP: return "CNAME loop";
    case MV_DNSMSG_MALFORMED: break;
    }
    return "malformed DNS answer";
}

/* answer_start - check the message, skip the question; false if unusable */
static bool answer_start(const unsigned char *msg, size_t len, size_t *off)
{
    *off = 12;
    return mv_dnsmsg_check(msg, len) == MV_DNSMSG_OK && skip_question(msg, len, off, u16(msg + 4));
}

/* answers - a checked message's answer section: where it starts (*off),
 * how many records (*an), and the name the records belong to after the
 * CNAME chain (target, 256 bytes), with the chain's smallest TTL */
static mv_dnsmsg_status answers(const unsigned char *msg, size_t len, const char *qname, size_t *off,
                                unsigned *an, char *target, unsigned *hops, uint32_t *ttl)
{
    *ttl = UINT32_MAX;
    if (!answer_start(msg, len, off))
        return MV_DNSMSG_MALFORMED;
    *an = u16(msg + 6);
    return follow(msg, len, *off, *an, qname, target, hops, ttl);
}

/* mv_dnsmsg_mx - read the MX records for qname from an answer */
mv_dnsmsg_status mv_dnsmsg_mx(const unsigned char *msg, size_t len, const char *qname, mv_mx_answer *out)
{
    size_t off;
    unsigned an;
    mv_dnsmsg_status st;
    bool null_seen = false;

    memset(out, 0, sizeof(*out));
    if ((st = answers(msg, len, qname, &off, &an, out->target, &out->cname_hops, &out->ttl)) != MV_DNSMSG_OK)
        return st;
    for (unsigned i = 0; i < an; i++) {
        char host[256];
        rr r;

        if (!read_rr(msg, len, &off, &r))
            return MV_DNSMSG_MALFORMED;
        if (r.type != T_MX || strcasecmp(r.owner, out->target) != 0)
            continue;
        if (r.rdlen < 3 || name_at(msg, len, r.rdata + 2, host) == 0)
            return MV_DNSMSG_MALFORMED;
        if (r.ttl < out->ttl)
            out->ttl = r.ttl;
        if (host[0] == '\0') {
            null_seen = true; /* "MX 0 ." */
            out->nmx_seen++;
            continue;
        }
        keep(out, host, u16(msg + r.rdata));
    }
    /* RFC 7505 3: a null MX is the only MX; next to others it is an error,
     * and the others are what a sender would use */
    out->null_mx = null_seen && out->nmx == 0;
    if (out->ttl == UINT32_MAX)
        out->ttl = 0;
    return MV_DNSMSG_OK;
}

/* mv_dnsmsg_addrs - read the A (1) or AAAA (28) records for qname */
mv_dnsmsg_status mv_dnsmsg_addrs(const unsigned char *msg, size_t len, const char *qname, unsigned qtype,
                                 mv_addr_answer *out)
{
    size_t off, alen = qtype == T_AAAA ? 16 : 4;
    unsigned an;
    mv_dnsmsg_status st;

    memset(out, 0, sizeof(*out));
    if (qtype != T_A && qtype != T_AAAA)
        return MV_DNSMSG_MALFORMED;
    if ((st = answers(msg, len, qname, &off, &an, out->target, &out->cname_hops, &out->ttl)) != MV_DNSMSG_OK)
        return st;
    for (unsigned i = 0; i < an; i++) {
        rr r;

        if (!read_rr(msg, len, &off, &r))
            return MV_DNSMSG_MALFORMED;
        if (r.type != qtype || strcasecmp(r.owner, out->target) != 0)
            continue;
        if (r.rdlen != alen)
            return MV_DNSMSG_MALFORMED; /* an A that is not 4 bytes is no address */
        if (r.ttl < out->ttl)
            out->ttl = r.ttl;
        out->naddr_seen++;
        if (out->naddr < MV_DNSMSG_ADDR_MAX)
            memcpy(out->addr[out->naddr++], msg + r.rdata, alen);
    }
    if (out->ttl == UINT32_MAX)
        out->ttl = 0;
    return MV_DNSMSG_OK;
}
