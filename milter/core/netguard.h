/* SPDX-License-Identifier: MIT */
/*
 * netguard.h - which addresses may the engine connect to? (SSRF guard)
 *
 * An MX record is whatever the domain's owner wrote: "MX 10 localhost",
 * an RFC 1918 address inside our network, a link-local metadata service.
 * A verifier that connects wherever DNS points can be steered at internal
 * services by anyone who can type an address into a form. So targets are
 * classified, and only public unicast addresses are probed unless the
 * config says otherwise (smtp.allow_private_targets; the tests set it).
 */
#ifndef MV_NETGUARD_H
#define MV_NETGUARD_H

#include <stdbool.h>
#include <sys/socket.h>

typedef enum {
    MV_NET_PUBLIC = 0,
    MV_NET_LOOPBACK,    /* 127/8, ::1 */
    MV_NET_PRIVATE,     /* RFC 1918, fc00::/7, 100.64/10 (CGNAT) */
    MV_NET_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    MV_NET_MULTICAST,   /* 224/4, ff00::/8 */
    MV_NET_UNSPECIFIED, /* 0.0.0.0/8, :: */
    MV_NET_RESERVED,    /* documentation, benchmarking, 240/4, ... */
    MV_NET_COUNT
} mv_net_class;

/* mv_net_classify - the class of an IPv4 or IPv6 socket address */
mv_net_class mv_net_classify(const struct sockaddr *sa);

/* mv_net_class_name - "loopback", "private", ... */
const char *mv_net_class_name(mv_net_class c);

/* mv_net_allowed - may we connect, given allow_private? */
bool mv_net_allowed(const struct sockaddr *sa, bool allow_private);

#endif
