/*
 * mailverify.c - the admin and scripting command: dispatch to subcommands.
 *
 *   mailverify check [options] ADDRESS... | -
 *   mailverify bulk [options] [INPUT] [-o OUTPUT]
 *   mailverify config-test [FILE]
 *
 * Everything the command does goes through the engine library and the
 * same config loader as the daemon, so what it says is what the daemon
 * would do.
 */
#include "version.h"
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>


static const char usage[] =
    "Usage: mailverify COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Verify email addresses: syntax (RFC 5321/6531, IDNA), disposable, role\n"
    "and free-provider signals, typo suggestions, and the action the policy\n"
    "in mailverify.conf takes for each.\n"
    "\n"
    "Commands:\n"
    "  check ADDRESS... | -     verify addresses (\"-\" reads one per line from stdin)\n"
    "  config-test [FILE]       check a configuration file as the daemon loads it\n"
    "  stats                    mailverifyd's counters (from its control socket)\n"
    "  cache stats|get|purge    the shared verdict cache (cache.store = \"lmdb\")\n"
    "  help [COMMAND]           this text, or a command's own help\n"
    "\n"
    "Options:\n"
    "  -h, --help               show help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Run 'mailverify COMMAND --help' for a command's options, exit statuses\n"
    "and examples. See mailverify(1) and mailverify.conf(5).\n";

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    /* a peer closing a TLS session must not kill us: write errors are
     * reported (EPIPE) like any other */
    signal(SIGPIPE, SIG_IGN);

    if (cmd == NULL) {
        fputs(usage, stderr);
        return EX_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mailverify %s\n", MV_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc > 2) {
            char *sub[] = {argv[2], "--help", NULL};

            argv[1] = argv[2];
            return strcmp(argv[2], "check") == 0 ? cli_check(2, sub)
                 : strcmp(argv[2], "bulk") == 0 ? cli_bulk(2, sub)
                 : strcmp(argv[2], "config-test") == 0 ? cli_config_test(2, sub)
                 : strcmp(argv[2], "stats") == 0 ? cli_stats(2, sub)
                 : strcmp(argv[2], "cache") == 0 ? cli_cache(2, sub)
                 : strcmp(argv[2], "webhook-verify") == 0 ? cli_webhook_verify(2, sub)
                 : (fprintf(stderr, "mailverify: no command '%s'\n", argv[2]), EX_USAGE);
        }
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "bulk") == 0)
        return cli_bulk(argc - 1, argv + 1);
    if (strcmp(cmd, "config-test") == 0)
        return cli_config_test(argc - 1, argv + 1);
    if (strcmp(cmd, "stats") == 0)
        return cli_stats(argc - 1, argv + 1);
    if (strcmp(cmd, "webhook-verify") == 0)
        return cli_webhook_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "cache") == 0)
        return cli_cache(argc - 1, argv + 1);
    fprintf(stderr, "mailverify: unknown command '%s' (try 'mailverify --help')\n", cmd);
    return EX_USAGE;
}
