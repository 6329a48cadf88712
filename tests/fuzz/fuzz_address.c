/* SPDX-License-Identifier: MIT */
/*
 * fuzz_address.c - libFuzzer target for the mailbox parser.
 *
 * mv_address_parse() reads bytes from SMTP clients and web forms. Each
 * input is parsed with and without MV_PARSE_ALLOW_NULL; besides the
 * sanitizers' own checks, the invariants a caller relies on abort the run
 * when broken: a known error with a name and an offset inside the input;
 * on success, normalized parts within RFC 5321 limits, a lowercase
 * A-label domain, and a formatted address that parses back to the very
 * same result.
 */
#include "address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

/* check_domain - lowercase ASCII, as every lookup expects */
static void check_domain(const mv_address *a)
{
    for (size_t i = 0; i < a->domain_len; i++) {
        unsigned char c = (unsigned char)a->domain[i];

        CHECK(c >= 0x21 && c < 0x7F && !(c >= 'A' && c <= 'Z' && !a->literal));
    }
}

/* same - do two parse results describe one mailbox? */
static int same(const mv_address *a, const mv_address *b)
{
    return a->kind == b->kind && a->local_len == b->local_len && a->domain_len == b->domain_len &&
           memcmp(a->local, b->local, a->local_len) == 0 &&
           memcmp(a->domain, b->domain, a->domain_len) == 0 && a->smtputf8 == b->smtputf8 &&
           a->quoted == b->quoted && a->literal == b->literal;
}

/* one - parse with these flags and check the result */
static void one(const char *s, size_t n, int flags)
{
    mv_address a, b;
    mv_syntax_error e = mv_address_parse(s, n, flags, &a);
    char buf[MV_PATH_MAX + 8];
    size_t len;

    CHECK((unsigned)e < MV_SYN_COUNT);
    CHECK(a.error == e);
    CHECK(mv_syntax_name(e) != NULL && mv_syntax_message(e) != NULL);
    CHECK(mv_syntax_lookup(mv_syntax_name(e)) == (int)e);
    if (e != MV_SYN_OK) {
        CHECK(a.error_pos <= n);
        return;
    }
    if (a.kind == MV_ADDR_NULL) {
        CHECK(flags & MV_PARSE_ALLOW_NULL);
        CHECK(mv_address_format(&a, buf, sizeof(buf)) == 2 && strcmp(buf, "<>") == 0);
        return;
    }
    CHECK(a.local_len >= 1 && a.local_len <= MV_LOCAL_MAX);
    CHECK(a.domain_len >= 1 && a.domain_len <= MV_DOMAIN_MAX);
    CHECK(a.local_len + 1 + a.domain_len <= MV_MAILBOX_MAX);
    CHECK(strlen(a.local) == a.local_len && strlen(a.domain) == a.domain_len);
    CHECK(!a.quoted || (a.local[0] == '"' && a.local[a.local_len - 1] == '"'));
    CHECK(!a.literal || (a.domain[0] == '[' && a.domain[a.domain_len - 1] == ']'));
    check_domain(&a);
    len = mv_address_format(&a, buf, sizeof(buf));
    CHECK(len == a.local_len + 1 + a.domain_len && strlen(buf) == len);
    CHECK(mv_address_format(&a, buf, len) == 0); /* too small: refused */
    len = mv_address_format(&a, buf, sizeof(buf));
    /* the normalized form is a fixed point */
    CHECK(mv_address_parse(buf, len, flags, &b) == MV_SYN_OK);
    CHECK(same(&a, &b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a heap copy of exactly size bytes: ASan sees any read past the end */
    char *s = malloc(size ? size : 1);

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    one(s, size, 0);
    one(s, size, MV_PARSE_ALLOW_NULL);
    free(s);
    return 0;
}
