/* SPDX-License-Identifier: MIT */
/*
 * cli_config.c - `mailverify config-test`, and config loading for the CLI.
 *
 * config-test runs mv_config_load_with(), the very function the daemon
 * and the web plugin run at start and on SIGUSR1, with every program's key
 * table (cli_tables.c), and prints every diagnostic as "file:line:
 * message" -- the check an admin runs before a reload, as with `postfix
 * check` or `nginx -t`.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char config_usage[] =
    "Usage: mailverify config-test [--print] [FILE]\n"
    "\n"
    "Load FILE exactly as mailverifyd loads it at start and on reload, and\n"
    "report every problem: syntax errors, unknown keys (with the closest\n"
    "known key), values of the wrong type or out of range, names a key does\n"
    "not take (with the closest one), unknown actions or reasons in the\n"
    "policy, and list files that cannot be read. Each is\n"
    "printed as FILE:LINE: MESSAGE on stderr. Lines of list files that are\n"
    "not valid entries are warnings (by line number, never quoted): they are\n"
    "skipped, the load succeeds.\n"
    "Without FILE, the built-in configuration is checked.\n"
    "\n"
    "Options:\n"
    "  -p, --print    after a successful load, print every effective setting\n"
    "                 (defaults included) as key = value lines on stdout;\n"
    "                 passwords and keys show as (hidden), URLs with their\n"
    "                 credentials and query values as ***\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit status:\n"
    "   0  the configuration loads (warnings may have been printed)\n"
    "  64  bad command line\n"
    "  78  the configuration has errors; nothing would be loaded\n"
    "\n"
    "Example:\n"
    "  mailverify config-test /etc/mailverify/mailverify.conf && systemctl reload mailverifyd\n";

/* cli_print_diag - every diagnostic on stderr, with a count */
void cli_print_diag(const mv_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "%s: %s\n", d->items[i].level == MV_DIAG_ERROR ? "error" : "warning",
                d->items[i].text);
    if (d->dropped > 0)
        fprintf(stderr, "... and %zu more\n", d->dropped);
    if (d->oom)
        fprintf(stderr, "error: out of memory while reporting\n");
}

/* cli_load_config - load (NULL: built-in), print diagnostics to stderr */
mv_config *cli_load_config(const char *path, bool quiet_ok)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load_with(path, cli_tables, MV_CONFIG_ALL_TABLES, &d);

    if (cfg == NULL || !quiet_ok || d.count > 0)
        cli_print_diag(&d);
    if (cfg == NULL)
        fprintf(stderr, "mailverify: %s: %zu error%s, configuration not loaded\n", path ? path : "(built-in)",
                d.errors, d.errors == 1 ? "" : "s");
    mv_diag_clear(&d);
    return cfg;
}

int cli_config_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"print", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool print = false;
    mv_config *cfg;
    mv_diag d = {0};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "ph", opts, NULL)) != -1) {
        if (c == 'p')
            print = true;
        else if (c == 'h') {
            fputs(config_usage, stdout);
            return 0;
        } else {
            fputs("Try 'mailverify config-test --help'.\n", stderr);
            return EX_USAGE;
        }
    }
    if (argc - optind > 1) {
        fputs("mailverify config-test: one FILE at most\n", stderr);
        return EX_USAGE;
    }
    cfg = mv_config_load_with(optind < argc ? argv[optind] : NULL, cli_tables, MV_CONFIG_ALL_TABLES, &d);
    cli_print_diag(&d);
    if (cfg == NULL) {
        fprintf(stderr, "%s: %zu error%s\n", optind < argc ? argv[optind] : "(built-in)", d.errors,
                d.errors == 1 ? "" : "s");
        mv_diag_clear(&d);
        return EX_CONFIG;
    }
    fprintf(stderr, "%s: ok%s\n", mv_config_source(cfg), d.warnings ? " (with warnings)" : "");
    if (print) {
        mv_buf b = {0};

        mv_config_dump(cfg, &b);
        if (b.data != NULL)
            fputs(b.data, stdout);
        mv_buf_free(&b);
    }
    mv_diag_clear(&d);
    mv_config_unref(cfg);
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
