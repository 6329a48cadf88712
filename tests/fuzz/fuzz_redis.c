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
 * than were asked for. The same bytes as script answers go to the fleet's
 * parsers (lease.c: a take's answer, the stats list).
 */
#include "lease.h"
#include "redis.h"

#include <stdint.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lease_answers - one script answer through the fleet's parsers */
static void lease_answers(void *arg, mv_redis_status st, const mv_redis_item *items, size_t n)
{
    mv_lease_answer a;
    mv_lease_entry e[4];

    (void)arg;
    if (st != MV_REDIS_OK)
        return;
    if (mv_lease_parse_take(items, n, &a))
        CHECK(a.res != MV_LEASE_LOCAL && a.hold == NULL);
    CHECK(mv_lease_parse_list(items, n, "mv:", e, 4) <= 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned asked;
    int n;

    if (size < 1)
        return 0;
    asked = 1u + data[0] % 64u;
    n = mv_redis_parse(data + 1, size - 1, asked);
    CHECK(n >= -1 && n <= (int)asked);
    n = mv_redis_parse_eval(data + 1, size - 1, asked, lease_answers, NULL);
    CHECK(n >= -1 && n <= (int)asked);
    return 0;
}
