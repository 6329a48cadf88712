/* SPDX-License-Identifier: MIT */
/*
 * milter_config.c - mailverifyd's key table: every key of the "milter" group,
 * its type, bounds and default, and the names of its enumerated values.
 * The engine's loader checks and fills it (config.h); the shipped
 * etc/mailverify.conf spells the same defaults. A second table holds the
 * "metrics" group (the daemon's Prometheus listener, metricsd.c): a
 * group of its own, as an admin reads it, and owned by mailverifyd too.
 */
#include "milter_config.h"

#include <stddef.h>
#include <syslog.h>

#define T mv_milter_settings
#define STRK(p, f, lo, hi, d) MV_STR_KEY("milter." p, T, f, lo, hi, d, 0)
#define BOOLK(p, f, d) MV_BOOL_KEY("milter." p, T, f, d)
#define INTK(p, f, lo, hi, d) MV_INT_KEY("milter." p, T, f, lo, hi, d)

static const mv_key_name review_names[] = {
    {"quarantine", MV_REVIEW_QUARANTINE},
    {"header", MV_REVIEW_HEADER},
    {NULL, 0},
};
static const mv_key_name facility_names[] = {
    {"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
    {NULL, 0},
};

static const mv_key_name serve_names[] = {
    {"milter", MV_SERVE_MILTER},
    {"policy", MV_SERVE_POLICY},
    {"both", MV_SERVE_BOTH},
    {NULL, 0},
};
static const mv_key_name policy_tempfail_names[] = {
    {"defer_if_permit", MV_POLICY_DEFER_IF_PERMIT},
    {"defer", MV_POLICY_DEFER},
    {NULL, 0},
};

/* The loader stores a code through an int pointer. */
_Static_assert(sizeof(((T *)0)->review) == sizeof(int), "review is not int-sized");
_Static_assert(sizeof(((T *)0)->serve) == sizeof(int), "serve is not int-sized");
_Static_assert(sizeof(((T *)0)->policy_tempfail) == sizeof(int), "policy_tempfail is not int-sized");

static const mv_config_key keys[] = {
    MV_GROUP_KEY("milter"),
    STRK("socket", socket, 1, 1024, "unix:/run/mailverifyd/mailverifyd.sock"),
    STRK("socket_mode", socket_mode, 3, 4, "0660"),
    STRK("socket_group", socket_group, 0, 64, ""),
    STRK("user", user, 0, 64, ""),
    STRK("group", group, 0, 64, ""),
    STRK("pidfile", pidfile, 0, 1024, ""),
    STRK("control_socket", control_socket, 0, 107, "/run/mailverifyd/control.sock"),
    STRK("header", header, 1, 64, "X-Mailverify"),
    MV_CODE_KEY("milter.review", T, review, "quarantine", review_names),
    BOOLK("dry_run", dry_run, "false"),
    BOOLK("skip_authenticated", skip_authenticated, "true"),
    BOOLK("skip_null_sender", skip_null_sender, "true"),
    MV_NETS_KEY("milter.trusted_networks", T, trusted_networks),
    BOOLK("check_senders", check_senders, "true"),
    BOOLK("check_recipients", check_recipients, "true"),
    INTK("dha_limit", dha_limit, 0, 100000, "20"),
    INTK("dha_window_s", dha_window_s, 1, 86400, "300"),
    INTK("ipv6_prefix", ipv6_prefix, 1, 128, "64"),
    MV_CODE_KEY("milter.syslog_facility", T, syslog_facility, "mail", facility_names),
    BOOLK("log_stderr", log_stderr, "false"),
    MV_CODE_KEY("milter.serve", T, serve, "milter", serve_names),
    STRK("policy_socket", policy_socket, 1, 1024, "inet:10041@127.0.0.1"),
    MV_CODE_KEY("milter.policy_tempfail", T, policy_tempfail, "defer_if_permit", policy_tempfail_names),
    INTK("policy_idle_timeout_s", policy_idle_timeout_s, 1, 86400, "600"),
    INTK("policy_max_line", policy_max_line, 256, 65536, "4096"),
    INTK("policy_max_attributes", policy_max_attributes, 8, 1024, "100"),
    INTK("policy_max_request", policy_max_request, 1024, 1048576, "32768"),
};

const mv_config_table mv_milter_config_table = {
    .group = "milter",
    .keys = keys,
    .nkeys = sizeof(keys) / sizeof(*keys),
    .size = sizeof(mv_milter_settings),
};

static const mv_config_key metrics_keys[] = {
    MV_GROUP_KEY("metrics"),
    MV_STR_KEY("metrics.listen", mv_metrics_settings, listen, 0, 64, "", MV_KEY_LISTEN),
};

const mv_config_table mv_metrics_config_table = {
    .group = "metrics",
    .keys = metrics_keys,
    .nkeys = sizeof(metrics_keys) / sizeof(*metrics_keys),
    .size = sizeof(mv_metrics_settings),
};

const mv_config_table *const mv_milter_config_tables[] = {&mv_milter_config_table, &mv_metrics_config_table,
                                                          NULL};

/* mv_milter_settings_of - the milter group of a config loaded with the table
 * (every load in this directory passes it: mv_milter_config_tables) */
const mv_milter_settings *mv_milter_settings_of(const mv_config *cfg)
{
    return mv_config_table_settings(cfg, &mv_milter_config_table);
}

/* mv_metrics_settings_of - the metrics group of a config loaded with the tables */
const mv_metrics_settings *mv_metrics_settings_of(const mv_config *cfg)
{
    return mv_config_table_settings(cfg, &mv_metrics_config_table);
}
