/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the `mailverify` command's subcommands.
 *
 * Each subcommand is a function taking its own argv (argv[0] is the
 * subcommand's name) and returning an exit status from the list below,
 * which is also documented in --help and mailverify(1).
 */
#ifndef MV_CLI_H
#define MV_CLI_H

#include "cache.h"
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sysexits.h>

/* Exit statuses: the verdict's two, then <sysexits.h> for failures, as mail
 * software does (EX_USAGE 64 bad command line, EX_DATAERR 65, EX_NOINPUT 66,
 * EX_UNAVAILABLE 69, EX_SOFTWARE 70 internal error or out of memory,
 * EX_CANTCREAT 73, EX_IOERR 74 cannot read input or write output, EX_CONFIG
 * 78 the configuration has errors). */
enum {
    EXIT_ALL_OK = 0,        /* done; no address is undeliverable */
    EXIT_UNDELIVERABLE = 1, /* done; at least one is undeliverable */
};

int cli_check(int argc, char **argv);
int cli_bulk(int argc, char **argv);
int cli_config_test(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_webhook_verify(int argc, char **argv);
int cli_cache(int argc, char **argv);

/* cli_cache_redis - `mailverify cache` against cache.store "redis" (cli_cache_redis.c) */
int cli_cache_redis(const mv_settings *s, const char *sub, const char *arg, bool json);

/* cli_cache_print - print one cached verdict's value, decoded */
void cli_cache_print(const char *mailbox, bool smtp, mv_cache_class cls, bool stale, const void *val,
                     size_t vl);

/* cli_cache_ttl - the cache's expire and refresh times from the settings */
mv_cache_ttl cli_cache_ttl(const mv_settings *s);

/* cli_cache_mailbox - an address as the engine keys it; false if it is none */
bool cli_cache_mailbox(const char *in, char *out, size_t size);

/* Every program's key table, NULL-terminated: a copy generated at build
 * time from theirs (tools/mkkeys.c, build/tables/keys.c). */
extern const mv_config_table *const cli_tables[];

/* cli_load_config - load (NULL: built-in) with every program's keys,
 * print diagnostics to stderr */
mv_config *cli_load_config(const char *path, bool quiet_ok);

/* cli_print_diag - every diagnostic on stderr, with a count */
void cli_print_diag(const mv_diag *d);

#endif
