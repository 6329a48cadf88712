/* SPDX-License-Identifier: MIT */
/*
 * fcgi_config.h - mailverify.fcgi's own settings: the "fastcgi" group.
 *
 * The engine's loader knows only the engine's keys; the web plugin hands
 * it this table and reads the filled struct back with mv_fcgi_settings_of().
 * `mailverify config-test` loads it too, so that one command checks every
 * program's keys (as postconf knows every Postfix daemon's parameters);
 * it links this table only, data and no code of the plugin's.
 */
#ifndef MV_FCGI_CONFIG_H
#define MV_FCGI_CONFIG_H

#include "config.h"

#include <stdbool.h>

typedef enum { MV_ON_BLOCK_PAGE, MV_ON_BLOCK_REDIRECT } mv_on_block;

typedef struct {
    char *socket;
    long long threads, max_body, ip_rate, ip_burst;
    long long ipv6_prefix; /* IPv6 clients share a bucket per prefix */
    bool require_api_key;
    long long key_rate, key_burst;
    long long pass_timeout_ms; /* pass-through: the handler's time to answer */
    long long read_timeout_ms; /* reading a request's params and body */
    char *mount;               /* the endpoints' URL prefix ("": /verify at the root) */
    char *rate_state;          /* CGI mode: the shared token buckets ("" = none) */
    char *pass_through, *block_page, *block_redirect;
    mv_on_block on_block;
    char *warn_field;
    mv_strlist cors_origins, api_keys, pass_fields;
} mv_fcgi_settings;

/* The table mailverify.fcgi passes to mv_config_load_with(). */
extern const mv_config_table mv_fcgi_config_table;

/* ... as the NULL-terminated list mv_config_load_with() takes */
extern const mv_config_table *const mv_fcgi_config_tables[];

/* mv_fcgi_settings_of - the fastcgi group of a config loaded with the table */
const mv_fcgi_settings *mv_fcgi_settings_of(const mv_config *cfg);

#endif
