/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsmsg.c - libFuzzer target for reading MX answers.
 *
 * A DNS answer is hostile input: truncated, looping, oversized. Whatever
 * the bytes, the reader returns one of its statuses, and on success the
 * MX set is bounded, sorted by preference, with host names that are
 * lowercase, NUL-terminated and at most 253 bytes.
 */
#include "dnsmsg.h"

#include <stdint.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_mx_answer a;
    mv_dnsmsg_status st = mv_dnsmsg_mx(data, size, "example.test", &a);

    CHECK(st == MV_DNSMSG_OK || st == MV_DNSMSG_MALFORMED || st == MV_DNSMSG_CNAME_LOOP);
    if (st != MV_DNSMSG_OK)
        return 0;
    CHECK(a.nmx <= MV_MX_MAX && a.nmx <= a.nmx_seen);
    CHECK(!a.null_mx || a.nmx == 0);
    CHECK(a.cname_hops <= MV_CNAME_HOPS);
    for (size_t i = 0; i < a.nmx; i++) {
        size_t n = strnlen(a.mx[i].host, sizeof(a.mx[i].host));

        CHECK(n > 0 && n <= 253);
        for (size_t k = 0; k < n; k++)
            CHECK(!(a.mx[i].host[k] >= 'A' && a.mx[i].host[k] <= 'Z'));
        if (i > 0)
            CHECK(a.mx[i - 1].pref <= a.mx[i].pref);
    }
    return 0;
}
