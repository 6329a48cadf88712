/* SPDX-License-Identifier: MIT */
/*
 * fuzz_seal.c - libFuzzer target for what a shared store hands back under
 * cache.hash_keys: sealed values another host wrote, or anyone with write
 * access to the Redis put there (seal.h), and key names made of any bytes.
 *
 * The first byte splits the input into a key and a value. Invariants
 * beyond the sanitizers': a name is always its kind and 32 hex digits, at
 * most MV_SEAL_NAME_LEN long; bytes that were not sealed under this
 * secret for this name never open; what this seal sealed always opens to
 * the same bytes.
 */
#include "seal.h"

#include <stdint.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mv_seal *seal;
    char name[MV_SEAL_NAME_LEN + 1], err[200];
    unsigned char out[4096], box[4096 + MV_SEAL_OVERHEAD];
    size_t split, nl, got = 0, bl;

    if (seal == NULL && (seal = mv_seal_new("fuzzing secret, 16+ bytes", 25, err, sizeof(err))) == NULL)
        return 0; /* no OpenSSL here: nothing to fuzz */
    if (size < 1)
        return 0;
    split = data[0] % size;
    nl = mv_seal_name(seal, data + 1, split, name, sizeof(name));
    CHECK(nl == 0 || (nl <= MV_SEAL_NAME_LEN && strlen(name) == nl));
    if (nl == 0)
        return 0;
    /* random bytes do not authenticate (a forgery is a 2^-128 event) */
    CHECK(!mv_seal_open(seal, name, nl, data + 1 + split, size - 1 - split, out, sizeof(out), &got));
    if (size - 1 - split <= 4096) {
        bl = mv_seal_value(seal, name, nl, data + 1 + split, size - 1 - split, box, sizeof(box));
        CHECK(bl == size - 1 - split + MV_SEAL_OVERHEAD);
        CHECK(mv_seal_open(seal, name, nl, box, bl, out, sizeof(out), &got));
        CHECK(got == size - 1 - split && memcmp(out, data + 1 + split, got) == 0);
    }
    return 0;
}
