/* SPDX-License-Identifier: MIT */
/*
 * clientkey.h - the key a per-client limit counts a client under: people,
 * not addresses.
 *
 * One IPv4 address is roughly one site, but an IPv6 site gets a whole
 * /64 (or /56, /48) and can send from a fresh address for each request:
 * a limit per address would then limit nothing. So an IPv6 client is
 * counted under its address masked to a prefix ("2001:db8:1:2::/64"); an
 * IPv4 client, and an IPv4-mapped IPv6 one (::ffff:192.0.2.1, as a
 * dual-stack socket reports IPv4 peers), under its whole IPv4 address.
 * A string that is not an address (a web server's odd REMOTE_ADDR, a
 * zone id "fe80::1%eth0") is its own key, as given. Pure; any thread.
 * Used by the web plugin's rate limits (fastcgi.ipv6_prefix) and the
 * milter's harvest budgets (milter.ipv6_prefix).
 */
#ifndef MV_CLIENTKEY_H
#define MV_CLIENTKEY_H

#include <stddef.h>

#define MV_CLIENT_KEY_SIZE 64 /* an IPv6 key fits: 45 + "/128" + NUL */

/* mv_client_key - the key of client address addr into out (size bytes,
 * NUL-terminated; an unparsable addr longer than that is cut); IPv6
 * grouped by prefix bits (1-128); out is returned */
char *mv_client_key(const char *addr, unsigned prefix, char *out, size_t size);

#endif
