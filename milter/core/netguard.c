/* SPDX-License-Identifier: MIT */
/*
 * netguard.c - address classification from the IANA special-purpose
 * registries (RFC 6890 and successors).
 *
 * IPv6 addresses that carry an IPv4 address (v4-mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address
 * inside: "::ffff:127.0.0.1" is loopback, whatever its family says.
 * Everything in 2000::/3 not listed special is public; anything outside
 * 2000::/3 that is not listed is reserved (not yet allocated).
 */
#include "netguard.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static const char *const names[MV_NET_COUNT] = {
    "public", "loopback", "private", "link-local", "multicast", "unspecified", "reserved",
};

/* mv_net_class_name - "loopback", "private", ... */
const char *mv_net_class_name(mv_net_class c)
{
    return (unsigned)c < MV_NET_COUNT ? names[c] : "reserved";
}

/* in4 - is a (host order) inside net/len? */
static bool in4(uint32_t a, uint32_t net, int len)
{
    uint32_t mask = len == 0 ? 0 : 0xFFFFFFFFu << (32 - len);

    return (a & mask) == net;
}

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* classify4 - an IPv4 address in host order */
static mv_net_class classify4(uint32_t a)
{
    static const struct {
        uint32_t net;
        int len;
        mv_net_class c;
    } t[] = {
        {V4(0, 0, 0, 0), 8, MV_NET_UNSPECIFIED},
        {V4(10, 0, 0, 0), 8, MV_NET_PRIVATE},
        {V4(100, 64, 0, 0), 10, MV_NET_PRIVATE}, /* CGNAT, RFC 6598 */
        {V4(127, 0, 0, 0), 8, MV_NET_LOOPBACK},
        {V4(169, 254, 0, 0), 16, MV_NET_LINK_LOCAL},
        {V4(172, 16, 0, 0), 12, MV_NET_PRIVATE},
        {V4(192, 0, 0, 0), 24, MV_NET_RESERVED},   /* IETF protocol assignments */
        {V4(192, 0, 2, 0), 24, MV_NET_RESERVED},   /* TEST-NET-1 */
        {V4(192, 88, 99, 0), 24, MV_NET_RESERVED}, /* 6to4 relay anycast */
        {V4(192, 168, 0, 0), 16, MV_NET_PRIVATE},
        {V4(198, 18, 0, 0), 15, MV_NET_RESERVED},   /* benchmarking */
        {V4(198, 51, 100, 0), 24, MV_NET_RESERVED}, /* TEST-NET-2 */
        {V4(203, 0, 113, 0), 24, MV_NET_RESERVED},  /* TEST-NET-3 */
        {V4(224, 0, 0, 0), 4, MV_NET_MULTICAST},
        {V4(240, 0, 0, 0), 4, MV_NET_RESERVED}, /* incl. 255.255.255.255 */
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
        if (in4(a, t[i].net, t[i].len))
            return t[i].c;
    return MV_NET_PUBLIC;
}

/* prefix6 - do the first len bits of a match p? */
static bool prefix6(const uint8_t *a, const uint8_t *p, int len)
{
    int bytes = len / 8, bits = len % 8;

    if (memcmp(a, p, (size_t)bytes) != 0)
        return false;
    return bits == 0 || ((a[bytes] ^ p[bytes]) & (0xFF << (8 - bits))) == 0;
}

/* embedded4 - the IPv4 address at byte off of a, host order */
static uint32_t embedded4(const uint8_t *a, int off)
{
    return V4(a[off], a[off + 1], a[off + 2], a[off + 3]);
}

/* classify6 - an IPv6 address */
static mv_net_class classify6(const uint8_t *a)
{
    static const uint8_t zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0, 0x64, 0xFF, 0x9B};
    static const uint8_t s6to4[2] = {0x20, 0x02}, doc[4] = {0x20, 0x01, 0x0D, 0xB8};
    static const uint8_t ietf[3] = {0x20, 0x01, 0x00}, discard[8] = {0x01, 0x00};

    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1 ? MV_NET_LOOPBACK : a[15] == 0 ? MV_NET_UNSPECIFIED : MV_NET_RESERVED;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return classify4(embedded4(a, 12));
    if (prefix6(a, s6to4, 16))
        return classify4(embedded4(a, 2));
    if (a[0] == 0xFF)
        return MV_NET_MULTICAST;
    if ((a[0] & 0xFE) == 0xFC)
        return MV_NET_PRIVATE; /* fc00::/7 ULA */
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
        return MV_NET_LINK_LOCAL; /* fe80::/10 */
    if (prefix6(a, doc, 32) || prefix6(a, ietf, 23) || prefix6(a, discard, 64))
        return MV_NET_RESERVED;
    return (a[0] & 0xE0) == 0x20 ? MV_NET_PUBLIC : MV_NET_RESERVED; /* 2000::/3 */
}

/* mv_net_classify - the class of an IPv4 or IPv6 socket address */
mv_net_class mv_net_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return classify6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return MV_NET_RESERVED;
}

/* mv_net_allowed - may we connect, given allow_private? */
bool mv_net_allowed(const struct sockaddr *sa, bool allow_private)
{
    mv_net_class c = mv_net_classify(sa);

    if (c == MV_NET_PUBLIC)
        return true;
    /* allow_private opens loopback and private ranges for test worlds and
     * internal next hops; multicast and unspecified are never a mail host */
    return allow_private && c != MV_NET_MULTICAST && c != MV_NET_UNSPECIFIED;
}
