/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rules.c - libFuzzer target for the reply rules loader and matcher.
 *
 * A rules table is an admin's file, and the replies it is matched against
 * come from any mail server: both are outside input. The input is a table
 * (libconfig text), a NUL, then a host name, a NUL, a stage number and a
 * reply's bytes. The table is loaded as the admin's rules in front of the
 * shipped table; when it loads, the reply is parsed and read. Invariants:
 * the loader either returns a table or reports at least one error; a
 * reading names a valid reason; and the worst error never happens -- a
 * reply before RCPT, or one whose text names the prober, never reads as
 * an undeliverable mailbox, whatever the admin's rules say.
 */
#include "classify.h"
#include "reply.h"
#include "rules.h"

#include <libconfig.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

static mv_rules *shipped;

/* libconfig 1.5 (Debian 12) leaks its scanner's string buffer when a
 * syntax error follows a string token: a libconfig bug, outside this
 * project (fuzz_config.c says more); only those two frames are suppressed */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* load - the admin's part of the input as a table; NULL if it has errors */
static mv_rules *load(const char *text)
{
    config_t lc;
    mv_diag d = {0};
    mv_rules *t = NULL;

    config_init(&lc);
    if (config_read_string(&lc, text) == CONFIG_TRUE) {
        t = mv_rules_from_settings(config_lookup(&lc, "rules"), config_lookup(&lc, "profiles"), "fuzz", &d);
        CHECK(t != NULL || d.errors > 0 || d.oom);
    }
    config_destroy(&lc);
    mv_diag_clear(&d);
    return t;
}

/* read_reply - the reply's bytes into an answer; false if not a reply */
static bool read_reply(const char *s, size_t n, mv_smtp_answer *a)
{
    mv_reply_parser p;
    size_t used;

    mv_reply_init(&p);
    if (mv_reply_feed(&p, s, n, &used) != MV_REPLY_DONE)
        return false;
    mv_probe_answer(&p.r, a);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *host, *rest;
    mv_rules *t;
    mv_smtp_answer a;
    mv_reading rd;
    mv_stage st;

    if (buf == NULL)
        return 0;
    if (shipped == NULL) {
        mv_diag d = {0};

        shipped = mv_rules_load_file("builtin", &d);
        CHECK(shipped != NULL);
        mv_diag_clear(&d);
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    host = memchr(buf, '\0', size) ? buf + strlen(buf) + 1 : NULL;
    t = load(buf);
    if (host != NULL && host < buf + size &&
        (rest = memchr(host, '\0', (size_t)(buf + size - host))) != NULL && rest + 1 < buf + size) {
        st = (mv_stage)((unsigned char)rest[1] % MV_STAGE_COUNT);
        if (read_reply(rest + 2, (size_t)(buf + size - rest - 2), &a)) {
            mv_classify_reply(t, shipped, host, st, &a, &rd);
            CHECK((unsigned)rd.reason < MV_R_COUNT);
            CHECK(memchr(rd.why, '\0', sizeof(rd.why)) != NULL);
            if (mv_classify_names_prober(a.text) || (st != MV_STAGE_RCPT && st != MV_STAGE_DATA))
                CHECK(mv_reason_status(rd.reason) != MV_STATUS_UNDELIVERABLE);
            (void)mv_rules_profile(t, host);
        }
    }
    mv_rules_free(t);
    free(buf);
    return 0;
}
