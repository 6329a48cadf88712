/* SPDX-License-Identifier: MIT */
/*
 * fcgi_config.c - mailverify.fcgi's key table: every key of the "fastcgi"
 * group, its type, bounds and default. The engine's loader checks and
 * fills it (config.h); the shipped etc/mailverify.conf spells the same
 * defaults. API keys are secrets and URLs are masked in config-test
 * --print (issue 13), by the flags here.
 */
#include "fcgi_config.h"

#include <stddef.h>

#define T mv_fcgi_settings
#define STRK(p, f, lo, hi, d, fl) MV_STR_KEY("fastcgi." p, T, f, lo, hi, d, fl)
#define BOOLK(p, f, d) MV_BOOL_KEY("fastcgi." p, T, f, d)
#define INTK(p, f, lo, hi, d) MV_INT_KEY("fastcgi." p, T, f, lo, hi, d)
#define LISTK(p, f, d, fl) MV_LIST_KEY("fastcgi." p, T, f, d, fl)

static const mv_key_name on_block_names[] = {
    {"page", MV_ON_BLOCK_PAGE},
    {"redirect", MV_ON_BLOCK_REDIRECT},
    {NULL, 0},
};

/* The loader stores a code through an int pointer. */
_Static_assert(sizeof(((T *)0)->on_block) == sizeof(int), "on_block is not int-sized");

static const mv_config_key keys[] = {
    MV_GROUP_KEY("fastcgi"),
    STRK("socket", socket, 0, 1024, ":9000", 0),
    INTK("threads", threads, 1, 256, "4"),
    INTK("max_body", max_body, 64, 10485760, "16384"),
    LISTK("cors_origins", cors_origins, NULL, MV_KEY_URL),
    INTK("ip_rate", ip_rate, 0, 100000, "5"),
    INTK("ip_burst", ip_burst, 1, 100000, "20"),
    INTK("ipv6_prefix", ipv6_prefix, 1, 128, "64"),
    BOOLK("require_api_key", require_api_key, "false"),
    LISTK("api_keys", api_keys, NULL, MV_KEY_SECRET),
    INTK("key_rate", key_rate, 0, 100000, "50"),
    INTK("key_burst", key_burst, 1, 100000, "100"),
    STRK("rate_state", rate_state, 0, 1024, "/var/lib/mailverify/ratelimit", 0),
    STRK("pass_through", pass_through, 0, 1024, "", MV_KEY_URL),
    LISTK("pass_fields", pass_fields, "email", 0),
    MV_CODE_KEY("fastcgi.on_block", T, on_block, "page", on_block_names),
    STRK("block_page", block_page, 0, 1024, "", 0),
    STRK("block_redirect", block_redirect, 0, 1024, "", MV_KEY_URL),
    STRK("warn_field", warn_field, 0, 64, "mailverify", 0),
    INTK("pass_timeout_ms", pass_timeout_ms, 100, 600000, "30000"),
    INTK("read_timeout_ms", read_timeout_ms, 100, 600000, "5000"),
    STRK("mount", mount, 0, 256, "", 0),
};

const mv_config_table mv_fcgi_config_table = {
    .group = "fastcgi",
    .keys = keys,
    .nkeys = sizeof(keys) / sizeof(*keys),
    .size = sizeof(mv_fcgi_settings),
};

const mv_config_table *const mv_fcgi_config_tables[] = {&mv_fcgi_config_table, NULL};

/* mv_fcgi_settings_of - the fastcgi group of a config loaded with the table
 * (every load of the plugin's passes it: mv_fcgi_config_tables) */
const mv_fcgi_settings *mv_fcgi_settings_of(const mv_config *cfg)
{
    return mv_config_table_settings(cfg, &mv_fcgi_config_table);
}
