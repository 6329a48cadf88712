/* SPDX-License-Identifier: MIT */
/*
 * fuzz_redis.c - libFuzzer target for what a Redis server can send the
 * shared cache's client: RESP replies through hiredis' reader behind the
 * client's guards (replies nobody asked for, huge arrays, bulks past the
 * 1 MiB cap), stored entries decoded, their values unpacked as cached
 * outcomes (another host wrote them: outside data too).
 *
 * The first byte says how many commands are outstanding (1..64), the rest
 * is the server's bytes. The invariants are the sanitizers' (no read past
 * the input, no leak, no undefined behaviour) and: never more replies
 * than were asked for.
 */
#include "redis.h"

#include <stdint.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned asked;
    int n;

    if (size < 1)
        return 0;
    asked = 1u + data[0] % 64u;
    n = mv_redis_parse(data + 1, size - 1, asked);
    CHECK(n >= -1 && n <= (int)asked);
    return 0;
}
