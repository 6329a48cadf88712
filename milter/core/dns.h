/* SPDX-License-Identifier: MIT */
/*
 * dns.h - MX lookups on the engine's loop with c-ares (1.18).
 *
 * One lookup answers "where does mail for this domain go?": the MX hosts
 * in preference order (equal preferences shuffled, RFC 5321 5.1) with
 * their IPv4 and IPv6 addresses; or the domain itself when it has no MX
 * but has an address (the implicit MX); or a reason it has none. The
 * outcomes are kept apart because they mean different things to a user:
 * NXDOMAIN (the domain does not exist: invalid_domain), no mail host at
 * all or a null MX (no_mail_server), and a temporary failure -- SERVFAIL,
 * REFUSED, timeout, an answer truncated (TC) or malformed, to the MX query
 * or to any address query -- which is no verdict at all (dns_error). Only
 * a whole, well-formed answer may say NXDOMAIN, NODATA or null MX.
 *
 * Everything here runs on the loop thread; the channel is never touched
 * from another (c-ares 1.18 channels are not thread-safe).
 */
#ifndef MV_DNS_H
#define MV_DNS_H

#include "dnsmsg.h"
#include "loop.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define MV_ADDRS_PER_HOST 4

/* Outcomes, most definite first (as Postfix's dns.h orders them). */
typedef enum {
    MV_DNS_OK,       /* hosts[] filled */
    MV_DNS_NULLMX,   /* RFC 7505: the domain accepts no mail */
    MV_DNS_NXDOMAIN, /* the domain does not exist */
    MV_DNS_NOHOST,   /* no MX and no address, or MX hosts without addresses */
    MV_DNS_TEMP,     /* SERVFAIL, REFUSED, timeout, loop, a truncated (TC)
                                 * or malformed answer: try later */
} mv_dns_status;

typedef struct {
    char name[256];
    unsigned pref;
    size_t naddr;
    struct sockaddr_storage addr[MV_ADDRS_PER_HOST];
} mv_mx_host;

typedef struct {
    mv_dns_status status;
    bool implicit; /* no MX: the domain's own address */
    size_t nhosts;
    mv_mx_host hosts[MV_MX_MAX];
    uint32_t ttl;    /* smallest TTL seen, for the domain cache */
    char detail[96]; /* "SERVFAIL", "timeout", "CNAME loop" ... */
    bool unanswered; /* MV_DNS_TEMP because the resolver gave no answer
                                 * (timeout, SERVFAIL, REFUSED, unreachable), not
                                 * because an answer was bad: the resolver's fault */
} mv_mx_result;

typedef void (*mv_dns_cb)(void *arg, const mv_mx_result *res);

typedef struct mv_dns mv_dns;

/* mv_dns_new - a resolver on loop; servers "ip[:port],..." or NULL (system) */
mv_dns *mv_dns_new(mv_loop *loop, const char *servers, int timeout_ms, int tries, char *err, size_t errlen);

/* mv_dns_lookup_mx - start a lookup; cb runs exactly once, on the loop */
void mv_dns_lookup_mx(mv_dns *d, const char *domain, mv_dns_cb cb, void *arg);

/* mv_dns_lookup_host - a host's addresses only (a configured next hop) */
void mv_dns_lookup_host(mv_dns *d, const char *host, mv_dns_cb cb, void *arg);

/* mv_dns_pending - lookups not finished (out, or waiting for a place) */
size_t mv_dns_pending(const mv_dns *d);

/* mv_dns_free - cancel what is pending (each gets MV_DNS_TEMP), release */
void mv_dns_free(mv_dns *d);

#endif
