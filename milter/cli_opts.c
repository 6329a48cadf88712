/* SPDX-License-Identifier: MIT */
/*
 * cli_opts.c - the engine options `check` and `bulk` share (see cli_opts.h).
 *
 * Checking is done here, once: a mode name, a deadline within 100 ms to
 * 10 minutes, and a resolver that is an IP address (never a name: the
 * resolver cannot be looked up with itself).
 */
#include "cli_opts.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cli_engine_log - an engine's line on stderr (any thread: stdio locks
 * the stream per call) */
void cli_engine_log(void *arg, mv_event_level level, const char *line)
{
    (void)arg;
    if (level == MV_EVENT_INFO)
        return;
    fprintf(stderr, "mailverify: %s%s\n",
            level == MV_EVENT_ERROR     ? "error: "
            : level == MV_EVENT_WARNING ? "warning: "
                                        : "",
            line);
}

/* cli_parse_mode - offline, dns or smtp; -1 if none of them */
int cli_parse_mode(const char *s)
{
    return strcmp(s, "offline") == 0 ? MV_MODE_OFFLINE
           : strcmp(s, "dns") == 0   ? MV_MODE_DNS
           : strcmp(s, "smtp") == 0  ? MV_MODE_SMTP
                                     : -1;
}

/* cli_parse_ms - a deadline in milliseconds, 100..600000 */
bool cli_parse_ms(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 100 || v > 600000)
        return false;
    *out = (unsigned)v;
    return true;
}

/* cli_resolver_ok - "ip", "ip:port" or "[ipv6]:port" */
bool cli_resolver_ok(const char *s)
{
    char host[128], *colon;
    unsigned char buf[16];
    const char *port = NULL;

    if (strlen(s) >= sizeof(host))
        return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return false;
        snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        snprintf(host, sizeof(host), "%s", s);
        if ((colon = strchr(host, ':')) != NULL && colon == strrchr(host, ':')) {
            *colon = '\0';
            port = s + (colon - host) + 1;
        }
    }
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return false;
    return port == NULL || (*port != '\0' && strspn(port, "0123456789") == strlen(port) && atoi(port) >= 1 &&
                            atoi(port) <= 65535);
}

/* cli_common_opt - 1: option c was ours and is taken; 0: not ours; -1: bad */
int cli_common_opt(int c, const char *arg, const char *cmd, cli_common *co)
{
    int m;

    switch (c) {
    case 'c': co->config = arg; return 1;
    case 'O': co->mode = MV_MODE_OFFLINE; return 1;
    case 'P': co->eo.allow_private = 1; return 1;
    case 'm':
        if ((m = cli_parse_mode(arg)) < 0) {
            fprintf(stderr, "mailverify %s: unknown mode '%s' (offline, dns, smtp)\n", cmd, arg);
            return -1;
        }
        co->mode = (mv_mode)m;
        return 1;
    case 't':
        if (!cli_parse_ms(arg, &co->deadline_ms)) {
            fprintf(stderr, "mailverify %s: --timeout wants milliseconds, 100 to 600000\n", cmd);
            return -1;
        }
        return 1;
    case 'r':
        if (!cli_resolver_ok(arg)) {
            fprintf(stderr,
                    "mailverify %s: --resolver wants an IP address, with an "
                    "optional :PORT ([IPv6]:PORT)\n",
                    cmd);
            return -1;
        }
        co->eo.resolver = arg;
        return 1;
    default: return 0;
    }
}
