/* SPDX-License-Identifier: MIT */
/*
 * cli_stats.c - `mailverify stats`: mailverifyd's counters.
 *
 * Connects to the daemon's control socket (milter.control_socket), asks
 * "stats" (or "stats json", "stats prometheus") and prints the answer:
 * verdicts by reason and by action, cache hits, harvest-budget tempfails,
 * skipped clients, and latency percentiles. --prometheus prints what the
 * daemon's GET /metrics shows, for node_exporter's textfile collector.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char stats_usage[] =
    "Usage: mailverify stats [--socket PATH] [--config FILE] [--json | --prometheus]\n"
    "\n"
    "Print mailverifyd's counters: verdicts by reason and by action, answers\n"
    "from the cache, recipients tempfailed by the harvest budget, clients\n"
    "skipped (authenticated, trusted, null sender), engine errors, and the\n"
    "latency of checks (p50, p90, p99, p99.9; to within a factor of two).\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH    the daemon's control socket (default: milter.control_socket\n"
    "                       of the configuration)\n"
    "  -c, --config FILE    read milter.control_socket from FILE\n"
    "  -j, --json           one JSON object\n"
    "  -P, --prometheus     Prometheus' text format, as mailverifyd's GET /metrics\n"
    "                       (metrics.listen) serves it; for node_exporter's textfile\n"
    "                       collector: mailverify stats -P > DIR/mailverify.prom.tmp &&\n"
    "                       mv DIR/mailverify.prom.tmp DIR/mailverify.prom\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 printed; 64 usage; 69 the daemon does not answer; 78 config errors.\n";

/* ask - send the command, copy the answer to stdout; an exit status */
static int ask(const char *path, const char *cmd)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char buf[4096];
    ssize_t n;
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "mailverify stats: socket path too long: %s\n", path);
        return EX_USAGE;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0) {
        fprintf(stderr, "mailverify stats: cannot reach mailverifyd at %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EX_UNAVAILABLE;
    }
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
            close(fd);
            return EX_IOERR;
        }
    close(fd);
    return n < 0 ? EX_UNAVAILABLE : (fflush(stdout) == 0 ? 0 : EX_IOERR);
}

int cli_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},         {"prometheus", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *config = NULL, *cmd = "stats\n";
    mv_config *cfg;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:c:jPh", opts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'c': config = optarg; break;
        case 'j': cmd = "stats json\n"; break;
        case 'P': cmd = "stats prometheus\n"; break;
        case 'h': fputs(stats_usage, stdout); return 0;
        default: fputs("Try 'mailverify stats --help'.\n", stderr); return EX_USAGE;
        }
    }
    if (optind < argc) {
        fputs("mailverify stats: no arguments expected\n", stderr);
        return EX_USAGE;
    }
    if (sock != NULL)
        return ask(sock, cmd);
    if ((cfg = cli_load_config(config, true)) == NULL)
        return EX_CONFIG;
    rc = ask(mv_config_string(cfg, "milter.control_socket"), cmd);
    mv_config_unref(cfg);
    return rc;
}
