/* SPDX-License-Identifier: MIT */
/*
 * siphash.h - SipHash-2-4, the keyed hash of every table whose keys come
 * from outside (the verdict cache, the loop's maps, rate-limit buckets,
 * harvest budgets).
 *
 * A table that files outside input (an address anyone can send in RCPT
 * TO, a client address, an API key) under a hash anyone can compute can
 * be sent keys that all land in one bucket: every lookup then walks one
 * long chain ("hash flooding"). SipHash (Aumasson and Bernstein, 2012) is
 * a pseudorandom function analysed for exactly this use: without the
 * 128-bit key, its outputs cannot be predicted, so neither can collisions.
 * Each table draws its own key (mv_siphash_key); the key never leaves the
 * process, except the rate-limit state file's, which the processes
 * sharing that file must share. Pure, no allocation, any thread.
 */
#ifndef MV_SIPHASH_H
#define MV_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define MV_SIPHASH_KEY 16 /* bytes of a key */

/* mv_siphash - SipHash-2-4 of p[0..len) under key */
uint64_t mv_siphash(const uint8_t key[MV_SIPHASH_KEY], const void *p, size_t len);

/* mv_siphash_key - a fresh random key from the kernel; 0, or -1 with
 * errno when the kernel gave none (see siphash.c for why there is no
 * weaker fallback) */
int mv_siphash_key(uint8_t key[MV_SIPHASH_KEY]);

#endif
