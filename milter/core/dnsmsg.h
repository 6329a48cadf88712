/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg.h - reading MX and address answers from raw DNS messages.
 *
 * The engine asks c-ares for the raw answer (ares_query) and reads it
 * here, because it needs what c-ares' ready-made parsers drop: the TTLs
 * (the domain cache honours them), the CNAME chain, the cap on how much
 * of a hostile answer is kept -- and the difference between "no records"
 * and "an answer we could not read". A DNS answer is outside input:
 * truncated messages, compression loops, CNAME loops, names over 255
 * bytes and thousands of records are all expected, and all bounded.
 *
 * Only a whole, well-formed answer is believed. A message with the TC bit
 * (the server says it left records out: c-ares retries a truncated UDP
 * answer over TCP, and hands us whatever TCP brings, TC or not), one whose
 * sections do not add up to exactly its length, or one with a record that
 * cannot be read says nothing about the domain: the caller must treat it
 * as a temporary failure, never as "no such records".
 */
#ifndef MV_DNSMSG_H
#define MV_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_MX_MAX 10 /* MX hosts kept: the best by preference */
#define MV_CNAME_HOPS 8

typedef struct {
    char host[256]; /* lowercase, no trailing dot */
    unsigned pref;
} mv_mx;

typedef struct {
    mv_mx mx[MV_MX_MAX]; /* sorted by preference (stable) */
    size_t nmx;          /* kept */
    size_t nmx_seen;     /* in the answer, before the cap */
    bool null_mx;        /* RFC 7505 "MX 0 ." and nothing else */
    uint32_t ttl;        /* smallest TTL among the records used */
    char target[256];    /* the name the records belong to (after CNAMEs) */
    unsigned cname_hops;
} mv_mx_answer;

typedef enum {
    MV_DNSMSG_OK = 0,
    MV_DNSMSG_MALFORMED,  /* truncated, bad lengths, bad names */
    MV_DNSMSG_CNAME_LOOP, /* the chain loops or is too long */
    MV_DNSMSG_TRUNCATED,  /* TC bit set (mv_dnsmsg_check only; the readers say MALFORMED) */
} mv_dnsmsg_status;

#define MV_DNSMSG_ADDR_MAX 4 /* addresses kept per answer */

typedef struct {
    unsigned char addr[MV_DNSMSG_ADDR_MAX][16]; /* 4 (A) or 16 (AAAA) bytes each */
    size_t naddr;                               /* kept, in answer order */
    size_t naddr_seen;                          /* in the answer, before the cap */
    uint32_t ttl;                               /* smallest TTL among the records used (0 if none) */
    char target[256];                           /* the name the records belong to (after CNAMEs) */
    unsigned cname_hops;
} mv_addr_answer;

/* mv_dnsmsg_check - the whole message: OK, TRUNCATED (TC bit) or MALFORMED
 * (short header, a section that cannot be read, bytes past the last record) */
mv_dnsmsg_status mv_dnsmsg_check(const unsigned char *msg, size_t len);

/* mv_dnsmsg_strerror - a status as an admin reads it */
const char *mv_dnsmsg_strerror(mv_dnsmsg_status st);

/* mv_dnsmsg_mx - read the MX records for qname from an answer (OK,
 * MALFORMED -- also for a truncated answer -- or CNAME_LOOP) */
mv_dnsmsg_status mv_dnsmsg_mx(const unsigned char *msg, size_t len, const char *qname, mv_mx_answer *out);

/* mv_dnsmsg_addrs - read the A (qtype 1) or AAAA (28) records for qname;
 * OK with naddr 0 is "no address" (only a CNAME chain, other names) */
mv_dnsmsg_status mv_dnsmsg_addrs(const unsigned char *msg, size_t len, const char *qname, unsigned qtype,
                                 mv_addr_answer *out);

#endif
