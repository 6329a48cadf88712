/* SPDX-License-Identifier: MIT */
/*
 * siphash.c - SipHash-2-4 and its keys; see siphash.h.
 *
 * Written from the description in the paper ("SipHash: a fast short-input
 * PRF", Aumasson and Bernstein, 2012, sections 2 and 3): four 64-bit
 * words of state start as the key xored with four constants; each 8-byte
 * little-endian word of the message is xored into v3, mixed by c = 2
 * SipRounds and xored into v0; the last word holds the 0-7 bytes left
 * over and, in its top byte, the length mod 256; then v2 ^= 0xff, d = 4
 * rounds, and the output is the xor of the four words.
 *
 * Why 2-4 and not the 1-3 some languages use for their tables: 2-4 is the
 * variant the paper analyses and gives test vectors for (tests/unit/
 * test_siphash.c checks all 64), and our keys are short (a domain, an
 * address, a client address: one to five words), so the two extra rounds
 * of finalisation are most of the difference -- tens of nanoseconds next
 * to a mutex and a cache miss per lookup (docs/BENCHMARKS.md has the
 * before/after of bench-cache).
 *
 * Keys come from getrandom() without GRND_NONBLOCK: it blocks only until
 * the kernel's pool is first initialised (early boot), and for 16 bytes
 * it returns them whole or fails. It fails only where the system call is
 * missing or filtered (ENOSYS, EPERM under a seccomp policy). There we
 * fail too, and the table is not made: a key made from the clock and the
 * pid would be guessable by anyone who knows roughly when we started,
 * which is the protection gone while the daemon looks fine.
 */
#include "siphash.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

/* rotl - rotate left by b bits (0 < b < 64) */
static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

/* le64 - an unaligned little-endian word, whatever the host's order */
static inline uint64_t le64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

/* sipround - one SipRound: the ARX network of the paper's figure 2.1 */
static inline void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl(v[2], 32);
}

/* compress - absorb one message word (c = 2 rounds) */
static inline void compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

/* mv_siphash - SipHash-2-4 of p[0..len) under key */
uint64_t mv_siphash(const uint8_t key[MV_SIPHASH_KEY], const void *p, size_t len)
{
    const unsigned char *in = p, *end = in + (len & ~(size_t)7);
    uint64_t k0 = le64(key), k1 = le64(key + 8), last = (uint64_t)len << 56;
    /* "somepseudorandomlygeneratedbytes", as four big-endian words */
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
                     k1 ^ 0x7465646279746573ULL};

    for (; in != end; in += 8)
        compress(v, le64(in));
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)in[i] << (8 * i);
    compress(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* mv_siphash_key - a fresh random key from the kernel; 0, or -1 with errno */
int mv_siphash_key(uint8_t key[MV_SIPHASH_KEY])
{
    ssize_t n;

    /* EINTR only while waiting for the pool at boot: ask again */
    while ((n = getrandom(key, MV_SIPHASH_KEY, 0)) < 0 && errno == EINTR)
        ;
    if (n == MV_SIPHASH_KEY)
        return 0;
    if (n >= 0)
        errno = EIO; /* short: not promised never to happen */
    return -1;
}
