/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reply.c - libFuzzer target for the SMTP reply parser.
 *
 * A mail server's reply is hostile input. The bytes are fed twice: whole,
 * and split at a point the input chooses, as sockets split them. The
 * invariants: feeding never reads past what it was given; a complete
 * reply has a code in 200..599, an enhanced code of the same class or
 * none, and a bounded, NUL-terminated text free of control characters;
 * the split feed reaches the same outcome as the whole one (and, for a
 * complete reply, ends at the same byte).
 */
#include "reply.h"

#include <stdint.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

/* feed - feed in pieces of at most chunk bytes until a reply ends */
static mv_reply_status feed(mv_reply_parser *p, const char *s, size_t n, size_t chunk, size_t *used_all)
{
    mv_reply_status st = MV_REPLY_MORE;
    size_t off = 0;

    mv_reply_init(p);
    while (off < n && st == MV_REPLY_MORE) {
        size_t len = n - off < chunk ? n - off : chunk, used = 0;

        st = mv_reply_feed(p, s + off, len, &used);
        CHECK(used <= len);
        off += used;
        if (st == MV_REPLY_MORE)
            CHECK(used == len);
    }
    *used_all = off;
    return st;
}

/* check_reply - what every complete reply must look like */
static void check_reply(const mv_reply *r)
{
    CHECK(r->code >= 200 && r->code <= 599);
    CHECK(r->enh[0] == 0 || r->enh[0] == r->code / 100);
    CHECK(r->text_len < MV_REPLY_TEXT_MAX && strlen(r->text) == r->text_len);
    for (size_t i = 0; i < r->text_len; i++)
        CHECK((unsigned char)r->text[i] >= 0x20 && r->text[i] != 0x7F);
    CHECK(r->lines >= 1 && r->lines <= MV_REPLY_LINES_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mv_reply_parser whole, split;
    size_t u1, u2, chunk = size > 0 ? (size_t)data[0] % 64 + 1 : 1;
    mv_reply_status a = feed(&whole, (const char *)data, size, size ? size : 1, &u1);
    mv_reply_status b = feed(&split, (const char *)data, size, chunk, &u2);

    /* after an error the session is dropped: only the outcome must agree */
    CHECK(a == b);
    if (a == MV_REPLY_DONE) {
        CHECK(u1 == u2);
        check_reply(&whole.r);
        CHECK(whole.r.code == split.r.code && strcmp(whole.r.text, split.r.text) == 0);
    }
    return 0;
}
