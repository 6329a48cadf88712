/* SPDX-License-Identifier: MIT */
/*
 * seal.h - keyed names and sealed values for the shared stores
 * (cache.hash_keys).
 *
 * A Redis shared by a fleet, or an LMDB file on a backup tape, held every
 * address the site verified, in keys ("s:jane@example.com") and in values
 * (an SMTP reply quotes the address; an MX host names the domain). With
 * cache.hash_keys a store holds neither in clear:
 *   - a key keeps its kind ("s:", "d:", "f:", "c:dha:", "lease:h:": one or
 *     two lowercase words and their colons; `cache stats` counts and lists
 *     by it) and the rest becomes 32 hex digits
 *     of HMAC-SHA256 under a key derived from cache.hash_secret. The same
 *     address gives the same name in every process sharing the secret, so
 *     lookups work; nobody without the secret can list or test addresses.
 *   - a value's bytes are sealed with AES-256-GCM under a second derived
 *     key, a random 96-bit nonce per write, and the sealed key name as
 *     associated data, so a value cannot be moved to another key, and a
 *     value that does not open (tampered, another secret, garbage) is a
 *     miss. The stores' own headers (class, times) stay in clear: they
 *     hold no address, and Redis' Lua script and the LMDB sweep read them.
 * The price: no listing of addresses, `purge DOMAIN` is impossible (only
 * exact keys can be found), and a new secret empties the cache (every name
 * changes). OpenSSL is loaded at mv_seal_new (sslload.h); without it a
 * sealed store cannot be opened, and says why. Thread-safe: a seal is
 * read-only after mv_seal_new.
 */
#ifndef MV_SEAL_H
#define MV_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#define MV_SEAL_NAME_LEN 50   /* a name at most: its kind (<= 18) + 32 hex digits */
#define MV_SEAL_OVERHEAD 29   /* version, nonce (12), tag (16) */
#define MV_SEAL_SECRET_MIN 16 /* bytes of cache.hash_secret at least */
#define MV_SEAL_SECRET_MAX 1024

typedef struct mv_seal mv_seal;

/* mv_seal_new - a seal for this secret; NULL with err (too short, no
 * OpenSSL, ENOMEM) */
mv_seal *mv_seal_new(const char *secret, size_t len, char *err, size_t errlen);

/* mv_seal_free - NULL is fine */
void mv_seal_free(mv_seal *s);

/* mv_seal_name - the name a store keeps key under (its kind is kept, a
 * key without one becomes "h:" + hex) into out (size >= MV_SEAL_NAME_LEN
 * + 1, NUL-terminated); its length, 0 on failure */
size_t mv_seal_name(const mv_seal *s, const void *key, size_t klen, char *out, size_t size);

/* mv_seal_value - in sealed for the key named name into out (size >= len
 * + MV_SEAL_OVERHEAD); the sealed length, 0 on failure */
size_t mv_seal_value(const mv_seal *s, const void *name, size_t nlen, const void *in, size_t len, void *out,
                     size_t size);

/* mv_seal_open - the bytes sealed for name into out (size >= len -
 * MV_SEAL_OVERHEAD); false if they do not open (tampered, another secret,
 * not sealed, out too small) */
bool mv_seal_open(const mv_seal *s, const void *name, size_t nlen, const void *in, size_t len, void *out,
                  size_t size, size_t *outlen);

#endif
