/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fleet.c - libFuzzer target for the wire forms of a fleet bulk job
 * (milter/cli_bulk_fcodec.c): a stream entry's chunk and a chunk's result,
 * as a shared Redis may hold anything under the job's keys.
 *
 * The first byte picks the chunk size (1..200); the rest is read as a
 * chunk entry and as the result of chunk 7. Besides the sanitizers'
 * checks, what the bulk driver relies on aborts the run when broken:
 * every address and field read lies inside the input, within its limit;
 * indexes are below the chunk size and strictly increasing; statuses and
 * reasons are ours; and what was parsed, written back, parses the same.
 */
#include "cli_bulk_fleet.h"
#include "verdict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

static fleet_chunk chunk, again;

/* inside - does [p, p+n) lie within [s, s+len)? */
static int inside(const char *p, size_t n, const char *s, size_t len)
{
    return p >= s && n <= len && (size_t)(p - s) <= len - n;
}

/* chunk_case - parse, check, write back, parse again */
static void chunk_case(const char *s, size_t n, unsigned size)
{
    mv_buf b = {0};

    if (fleet_chunk_parse(s, n, size, &chunk) != NULL)
        return;
    CHECK(chunk.n >= 1 && chunk.n <= size);
    for (size_t i = 0; i < chunk.n; i++) {
        CHECK(chunk.idx[i] < size && (i == 0 || chunk.idx[i] > chunk.idx[i - 1]));
        CHECK(chunk.alen[i] <= FLEET_ADDR_MAX && inside(chunk.addr[i], chunk.alen[i], s, n));
        fleet_chunk_put(&b, chunk.idx[i], chunk.addr[i], chunk.alen[i]);
    }
    CHECK(mv_buf_ok(&b) && b.len == n && memcmp(b.data, s, n) == 0);
    CHECK(fleet_chunk_parse(b.data, b.len, size, &again) == NULL && again.n == chunk.n);
    mv_buf_free(&b);
}

/* result_case - parse the result of chunk 7, check every row */
static void result_case(const char *s, size_t n, unsigned size)
{
    const char *why = NULL;
    size_t rows, pos = fleet_result_start(s, n, 7, &rows, &why), got = 0;
    fleet_row r;
    int rc;

    if (pos == 0) {
        CHECK(why != NULL);
        return;
    }
    CHECK(rows <= FLEET_CHUNK_MAX && pos <= n);
    while ((rc = fleet_result_next(s, n, &pos, size, &r, &why)) == 1) {
        CHECK(r.idx < size && r.status >= 0 && r.status < MV_STATUS_COUNT && r.reason >= 0 &&
              r.reason < MV_R_COUNT);
        CHECK(r.alen <= FLEET_ADDR_MAX && r.flen <= FLEET_FIELDS_MAX);
        CHECK(inside(r.addr, r.alen, s, n) && inside(r.fields, r.flen, s, n) && pos <= n);
        got++;
    }
    CHECK(rc == 0 || why != NULL);
    (void)got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned csize;
    char *s;

    if (size < 1)
        return 0;
    csize = 1 + data[0] % FLEET_CHUNK_MAX;
    /* a copy of exactly the bytes: reads past them are caught */
    if ((s = malloc(size - 1 ? size - 1 : 1)) == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    chunk_case(s, size - 1, csize);
    result_case(s, size - 1, csize);
    free(s);
    return 0;
}
