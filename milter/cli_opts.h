/* SPDX-License-Identifier: MIT */
/*
 * cli_opts.h - the options `mailverify check` and `mailverify bulk` share:
 * --config, --mode/--offline, --timeout, --resolver, --allow-private.
 *
 * Both commands spell them alike and check them alike, so the words in
 * one command's --help hold for the other. cli_common_opt() takes one
 * getopt result and says whether it was one of these.
 */
#ifndef MV_CLI_OPTS_H
#define MV_CLI_OPTS_H

#include "engine.h"

#include <getopt.h>
#include <stdbool.h>

/* The long options of cli_common_opt(), for a command's option table. */
#define CLI_COMMON_LONGOPTS \
    {"config", required_argument, NULL, 'c'}, {"offline", no_argument, NULL, 'O'}, \
        {"mode", required_argument, NULL, 'm'}, {"timeout", required_argument, NULL, 't'}, \
        {"resolver", required_argument, NULL, 'r'}, \
    { \
        "allow-private", no_argument, NULL, 'P' \
    }
#define CLI_COMMON_SHORTOPTS "c:m:t:r:"

/* The engine's options before the command line: its log on stderr. */
#define CLI_ENGINE_OPTIONS \
    { \
        NULL, -1, cli_engine_log, NULL \
    }

typedef struct {
    const char *config;   /* NULL: the built-in configuration */
    mv_engine_options eo; /* initialise with CLI_ENGINE_OPTIONS */
    mv_mode mode;         /* MV_MODE_CONTEXT unless asked */
    unsigned deadline_ms; /* 0: the context's */
} cli_common;

/* cli_engine_log - an engine's line on stderr, "mailverify: warning: ...";
 * routine ones (Redis connected) are left out, as a command says nothing
 * when all is well */
void cli_engine_log(void *arg, mv_event_level level, const char *line);

/* cli_common_opt - 1: option c was ours and is taken; 0: not ours;
 * -1: ours but bad (the message, naming cmd, is on stderr) */
int cli_common_opt(int c, const char *arg, const char *cmd, cli_common *co);

/* cli_parse_mode - offline, dns or smtp; -1 if none of them */
int cli_parse_mode(const char *s);

/* cli_parse_ms - a deadline in milliseconds, 100..600000 */
bool cli_parse_ms(const char *s, unsigned *out);

/* cli_resolver_ok - "ip", "ip:port" or "[ipv6]:port" */
bool cli_resolver_ok(const char *s);

#endif
