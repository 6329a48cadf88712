/*
 * dnsmsg.h - reading MX answers from raw DNS messages.
 *
 * The engine asks c-ares for the raw answer (ares_query) and reads it
 * here, because it needs what c-ares' ready-made MX parser drops: the
 * TTLs (the domain cache honours them), the CNAME chain, and the cap on
 * how much of a hostile answer is kept. A DNS answer is outside input:
 * truncated messages, compression loops, CNAME loops, names over 255
 * bytes and thousands of records are all expected, and all bounded.
 */
#ifndef MV_DNSMSG_H
#define MV_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_MX_MAX       10      /* MX hosts kept: the best by preference */
#define MV_CNAME_HOPS   8

typedef struct {
    char host[256];             /* lowercase, no trailing dot */
    unsigned pref;
} mv_mx;

typedef struct {
    mv_mx mx[MV_MX_MAX];        /* sorted by preference (stable) */
    size_t nmx;                 /* kept */
    size_t nmx_seen;            /* in the answer, before the cap */
    bool null_mx;               /* RFC 7505 "MX 0 ." and nothing else */
    uint32_t ttl;               /* smallest TTL among the records used */
    char target[256];           /* the name the records belong to (after CNAMEs) */
    unsigned cname_hops;
} mv_mx_answer;

typedef enum {
    MV_DNSMSG_OK = 0,
    MV_DNSMSG_MALFORMED,        /* truncated, bad lengths, bad names */
    MV_DNSMSG_CNAME_LOOP,       /* the chain loops or is too long */
} mv_dnsmsg_status;

/* mv_dnsmsg_mx - read the MX records for qname from an answer */
mv_dnsmsg_status mv_dnsmsg_mx(const unsigned char *msg, size_t len, const char *qname,
                              mv_mx_answer *out);

#endif
