/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policyreq.c - libFuzzer target for Postfix policy requests
 * (milter/policyreq.c).
 *
 * The bytes go through the parser as the daemon feeds it: a buffer of
 * exactly the stream so far, request after request while one is
 * complete, under small limits (so that every limit is reached) and
 * under the daemon's defaults. What the daemon relies on aborts the run
 * when broken: a status with a text; on DONE, 0 < used <= len and within
 * max_request, every value found NUL-terminated inside the request, at
 * most max_attrs attributes; on MORE, the buffer unchanged; and any
 * prefix of a complete request answering MORE or the same error.
 */
#include "policyreq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

/* inside - a value points into buf[0..used) and ends there */
static void inside(const char *v, const char *buf, size_t used)
{
    if (v == NULL)
        return;
    CHECK(v >= buf && v < buf + used);
    CHECK(memchr(v, '\0', (size_t)(buf + used - v)) != NULL);
}

/* stream - requests one after the other through one limit set */
static void stream(const uint8_t *data, size_t size, const mv_policyreq_limits *lim)
{
    size_t pos = 0;

    while (pos < size) {
        size_t len = size - pos, used = 0;
        char *buf = malloc(len), *copy = malloc(len);
        mv_policyreq r;
        mv_policyreq_status st;

        CHECK(buf != NULL && copy != NULL);
        memcpy(buf, data + pos, len);
        memcpy(copy, buf, len);
        st = mv_policyreq_parse(buf, len, lim, &r, &used);
        CHECK(mv_policyreq_error_text(st) != NULL);
        CHECK(strcmp(mv_policyreq_error_text(st), "unknown status") != 0);
        if (st != MV_PREQ_DONE) {
            CHECK(memcmp(buf, copy, len) == 0);
            free(buf);
            free(copy);
            return;
        }
        CHECK(used > 0 && used <= len && used <= lim->max_request);
        CHECK(r.attrs > 0 && r.attrs <= lim->max_attrs);
        inside(r.protocol_state, buf, used);
        inside(r.recipient, buf, used);
        inside(r.sender, buf, used);
        inside(r.client_address, buf, used);
        inside(r.sasl_username, buf, used);
        /* a shorter prefix is never complete */
        if (used > 1) {
            memcpy(buf, copy, len);
            CHECK(mv_policyreq_parse(buf, used - 1, lim, &r, &(size_t){0}) != MV_PREQ_DONE);
        }
        free(buf);
        free(copy);
        pos += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mv_policyreq_limits small = {.max_line = 40, .max_attrs = 5, .max_request = 160};
    static const mv_policyreq_limits dflt = {.max_line = 2048, .max_attrs = 100, .max_request = 16384};

    stream(data, size, &small);
    stream(data, size, &dflt);
    return 0;
}
