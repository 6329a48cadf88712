/* SPDX-License-Identifier: MIT */
/*
 * cli_tables.c - every program's key table, for the CLI's loads.
 *
 * `mailverify config-test` checks the whole file an admin shares between
 * mailverifyd, mailverify.fcgi and the CLI, as postconf knows every
 * Postfix daemon's parameters: it loads the engine's keys, the milter's
 * (its "milter" and "metrics" groups) and the web plugin's, and says so
 * (MV_CONFIG_ALL_TABLES), so that a group or key none of them knows is an
 * error with its file:line. The
 * tables are data; nothing else of the daemon or the plugin is linked.
 */
#include "cli.h"
#include "fcgi_config.h"
#include "milter_config.h"

const mv_config_table *const cli_tables[] = {&mv_milter_config_table, &mv_metrics_config_table,
                                             &mv_fcgi_config_table, NULL};
