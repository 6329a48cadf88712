/* SPDX-License-Identifier: MIT */
/*
 * milter_config.h - mailverifyd's own settings: the "milter" group.
 *
 * The engine's loader knows only the engine's keys; mailverifyd hands it
 * this table (as each Postfix daemon hands its parameter table to its
 * server skeleton) and reads the filled struct back with mv_milter_settings_of().
 * `mailverify config-test` and `stats` load it too (they are the same
 * program family, in this directory), so a mistyped milter key is caught
 * wherever the file is checked.
 */
#ifndef MV_MILTER_CONFIG_H
#define MV_MILTER_CONFIG_H

#include "config.h"

#include <stdbool.h>
#include <sys/socket.h>

typedef enum { MV_REVIEW_QUARANTINE, MV_REVIEW_HEADER } mv_review_mode;
typedef enum { MV_SERVE_MILTER, MV_SERVE_POLICY, MV_SERVE_BOTH } mv_serve;
typedef enum { MV_POLICY_DEFER_IF_PERMIT, MV_POLICY_DEFER } mv_policy_tempfail;

typedef struct {
    char *socket, *socket_mode, *socket_group;
    char *user, *group, *pidfile, *control_socket;
    char *header;
    mv_review_mode review;
    int syslog_facility; /* LOG_MAIL, LOG_LOCAL0 ... (syslog.h) */
    bool dry_run, skip_authenticated, skip_null_sender;
    bool check_senders, check_recipients, log_stderr;
    mv_nets trusted_networks;
    long long dha_limit, dha_window_s;
    long long ipv6_prefix; /* IPv6 clients share a budget per prefix */
    /* the Postfix policy listener (check_policy_service, policyd.c) */
    mv_serve serve; /* milter.serve: milter, policy or both */
    char *policy_socket;
    mv_policy_tempfail policy_tempfail; /* DEFER_IF_PERMIT or DEFER */
    long long policy_idle_timeout_s;
    long long policy_max_line, policy_max_attributes, policy_max_request;
} mv_milter_settings;

/* mailverifyd's "metrics" group: the Prometheus listener (metricsd.c) */
typedef struct {
    char *listen; /* "127.0.0.1:PORT", "[::1]:PORT"; "": off */
} mv_metrics_settings;

/* The table mailverifyd passes to mv_config_load_with(). */
extern const mv_config_table mv_milter_config_table;

/* ... and the metrics group's */
extern const mv_config_table mv_metrics_config_table;

/* ... both, as the NULL-terminated list mv_config_load_with() takes */
extern const mv_config_table *const mv_milter_config_tables[];

/* mv_milter_settings_of - the milter group of a config loaded with the table */
const mv_milter_settings *mv_milter_settings_of(const mv_config *cfg);

/* mv_metrics_settings_of - the metrics group of a config loaded with the tables */
const mv_metrics_settings *mv_metrics_settings_of(const mv_config *cfg);

#endif
