/* SPDX-License-Identifier: MIT */
/*
 * mailverify.c - the admin and scripting command: dispatch to subcommands.
 *
 * One table names every subcommand with its synopsis, its one-line
 * summary and its function; dispatch, `help COMMAND` and the usage text
 * are all read from it, so a new command cannot be runnable yet missing
 * from --help (as bulk and webhook-verify once were). Each command's own
 * --help (options, exit statuses, examples) lives with the command.
 *
 * Everything the command does goes through the engine library and the
 * same config loader as the daemon, so what it says is what the daemon
 * would do. Exit status: the command's, or 64 (EX_USAGE) for an unknown
 * one.
 */
#include "version.h"
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* a subcommand: argv[0] is its name, its result an exit status */
typedef struct {
    const char *name;
    const char *synopsis; /* what follows the name in the usage text */
    const char *summary;  /* one line for the usage text */
    int (*run)(int argc, char **argv);
} command;

static int cli_help(int argc, char **argv);

static const command commands[] = {
    {"check", "ADDRESS... | -", "verify addresses (\"-\": one a line from stdin)", cli_check},
    {"bulk", "[INPUT] [-o OUT]", "verify a CSV file or a list, resumably", cli_bulk},
    {"config-test", "[FILE]", "check a configuration as the daemon loads it", cli_config_test},
    {"stats", "", "mailverifyd's counters (from its control socket)", cli_stats},
    {"cache", "stats|get|purge", "the shared verdict cache (LMDB or Redis)", cli_cache},
    {"webhook-verify", "TS SIG ID", "check a webhook request's signature", cli_webhook_verify},
    {"help", "[COMMAND]", "this text, or a command's own help", cli_help},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* find - the command called name; NULL if there is none */
static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* usage - the command's synopsis and every subcommand from the table */
static void usage(FILE *f)
{
    fputs("Usage: mailverify COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "Verify email addresses: syntax (RFC 5321/6531, IDNA), disposable, role\n"
          "and free-provider signals, typo suggestions, the domain's mail servers\n"
          "and (if allowed) an SMTP probe, and the action the policy in\n"
          "mailverify.conf takes for each.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char head[64];

        snprintf(head, sizeof(head), "%s %s", commands[i].name, commands[i].synopsis);
        fprintf(f, "  %-26s %s\n", head, commands[i].summary);
    }
    fputs("\n"
          "Options:\n"
          "  -h, --help                 show this help and exit\n"
          "  -V, --version              show the version and exit\n"
          "\n"
          "Run 'mailverify COMMAND --help' or 'mailverify help COMMAND' for a\n"
          "command's options, exit statuses and examples. See mailverify(1) and\n"
          "mailverify.conf(5).\n",
          f);
}

/* cli_help - `mailverify help [COMMAND]`: the usage, or the command's --help */
static int cli_help(int argc, char **argv)
{
    const command *c;

    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (argc > 2) {
        fputs("mailverify help: one COMMAND at most (try 'mailverify --help')\n", stderr);
        return EX_USAGE;
    }
    if ((c = find(argv[1])) == NULL) {
        fprintf(stderr, "mailverify help: no command '%s' (try 'mailverify --help')\n", argv[1]);
        return EX_USAGE;
    }
    if (c->run == cli_help) {
        usage(stdout);
        return 0;
    }
    char *sub[] = {argv[1], "--help", NULL};

    return c->run(2, sub);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    const command *c;

    /* a peer closing a TLS session must not kill us: write errors are
     * reported (EPIPE) like any other */
    signal(SIGPIPE, SIG_IGN);

    if (cmd == NULL) {
        usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return fflush(stdout) == 0 ? 0 : EX_IOERR;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mailverify %s\n", MV_VERSION);
        return 0;
    }
    if ((c = find(cmd)) == NULL) {
        fprintf(stderr, "mailverify: unknown command '%s' (try 'mailverify --help')\n", cmd);
        return EX_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
