/* SPDX-License-Identifier: MIT */
/*
 * clientkey.c - client addresses to the keys per-client limits count
 * under; see clientkey.h.
 *
 * inet_pton does the parsing, so what is an address is exactly what the
 * C library says (no zone ids, no brackets, no ports, no spaces); the
 * key of a parsed address is written back by inet_ntop, so two spellings
 * of one address ("2001:DB8::1", "2001:db8:0::1") share a key.
 */
#include "clientkey.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* mask6 - keep the first prefix bits of a, clear the rest */
static void mask6(struct in6_addr *a, unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = prefix > 8 * i ? prefix - 8 * i : 0;

        if (keep < 8)
            a->s6_addr[i] &= (unsigned char)(0xff00u >> keep);
    }
}

/* put - text into out, or addr as given if there is no text */
static char *put(char *out, size_t size, const char *text, const char *addr, unsigned prefix)
{
    if (text == NULL)
        snprintf(out, size, "%s", addr);
    else if (prefix != 0)
        snprintf(out, size, "%s/%u", text, prefix);
    else
        snprintf(out, size, "%s", text);
    return out;
}

/* mv_client_key - the key of client address addr into out; out */
char *mv_client_key(const char *addr, unsigned prefix, char *out, size_t size)
{
    struct in6_addr a6;
    struct in_addr a4;
    char text[INET6_ADDRSTRLEN];

    if (size == 0)
        return out;
    if (prefix < 1 || prefix > 128) /* the config allows 1-128 only */
        prefix = prefix < 1 ? 1 : 128;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return put(out, size, inet_ntop(AF_INET, &a4, text, sizeof(text)), addr, 0);
    if (inet_pton(AF_INET6, addr, &a6) != 1)
        return put(out, size, NULL, addr, 0);
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
        return put(out, size, inet_ntop(AF_INET, &a4, text, sizeof(text)), addr, 0);
    }
    mask6(&a6, prefix);
    return put(out, size, inet_ntop(AF_INET6, &a6, text, sizeof(text)), addr, prefix);
}
