/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target for the config loader.
 *
 * mv_config_load_text_with() with every program's key table (as
 * config-test loads) and MV_CONFIG_SKIP_LISTS, so that each run checks
 * the three phases on the text alone and stays fast. Everything is freed
 * (LeakSanitizer runs at exit). Invariants: a config comes back exactly
 * when no error was reported, and every diagnostic names the file.
 * Inputs with @include are skipped: an include can name any file on the
 * machine (/dev/zero, a FIFO), which tests the machine, not the loader.
 */
#include "config.h"
#include "fcgi_config.h"
#include "milter_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

/* has_include - does the text hold "@include" in any case? */
static int has_include(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++)
        if (d[i] == '@' && strncasecmp((const char *)d + i + 1, "include", 7) == 0)
            return 1;
    return 0;
}

/*
 * libconfig 1.5 (Debian 12) leaks the scanner's string buffer when a
 * syntax error follows a string token ("a \"x\"" leaks 64 bytes): a
 * libconfig bug, outside this project; an empty string ("a \"\"") leaks
 * its 1-byte calloc from the scanner itself. Suppress exactly those two
 * frames so that LeakSanitizer still watches every allocation of ours.
 */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mv_config_table *const tables[] = {&mv_milter_config_table, &mv_metrics_config_table,
                                                    &mv_fcgi_config_table, NULL};
    mv_diag d = {0};
    mv_config *cfg;

    if (has_include(data, size))
        return 0;
    cfg = mv_config_load_text_with((const char *)data, size, "fuzz.conf", NULL, tables,
                                   MV_CONFIG_SKIP_LISTS | MV_CONFIG_ALL_TABLES, &d);
    CHECK((cfg == NULL) == (d.errors > 0));
    for (size_t i = 0; i < d.count; i++)
        CHECK(d.items[i].text != NULL && strncmp(d.items[i].text, "fuzz.conf", 9) == 0);
    if (cfg != NULL) {
        mv_buf b = {0};

        mv_config_dump(cfg, &b);
        CHECK(!mv_buf_ok(&b) || (b.data != NULL && strstr(b.data, "canonical = ") != NULL));
        mv_buf_free(&b);
        mv_config_unref(cfg);
    }
    mv_diag_clear(&d);
    return 0;
}
