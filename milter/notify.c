/* SPDX-License-Identifier: MIT */
/*
 * notify.c - sd_notify(3)'s protocol in a few lines; see notify.h.
 *
 * One datagram per call, on a socket opened for it: the daemon sends a
 * handful in its life (ready, each reload, stop), so there is nothing to
 * keep open, and nothing to close before exec or fork. $NOTIFY_SOCKET is
 * left in the environment (libsystemd's unset_environment=0), as every
 * reload needs it again. An abstract name starts with '@', which becomes
 * the address's leading NUL, and the address length counts only the name
 * (no trailing NUL), as systemd binds it.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* address - $NOTIFY_SOCKET as a sockaddr; 0 none, -1 unusable (EINVAL) */
static int address(struct sockaddr_un *sun, socklen_t *len)
{
    const char *e = getenv("NOTIFY_SOCKET");
    size_t n;

    if (e == NULL || *e == '\0')
        return 0;
    n = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || n < 2 || n >= sizeof(sun->sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, e, n);
    if (e[0] == '@')
        sun->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
    return 1;
}

/* mv_notify - send state to $NOTIFY_SOCKET; 1 sent, 0 none, -1 errno */
int mv_notify(const char *state)
{
    struct sockaddr_un sun;
    socklen_t len = 0;
    int rc = address(&sun, &len), fd, e;
    ssize_t sent;

    if (rc <= 0)
        return rc;
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
    e = errno;
    close(fd);
    errno = e;
    return sent == (ssize_t)strlen(state) ? 1 : -1;
}

/* mv_notifyf - the same, formatted */
int mv_notifyf(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return 0;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        errno = EMSGSIZE;
        return -1;
    }
    return mv_notify(buf);
}

/* mv_notify_reloading - RELOADING=1 with the monotonic time of the
 * request, which systemd >= 253 uses to tell this reload from a later one */
int mv_notify_reloading(const char *status)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return -1;
    return mv_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=%s",
                      (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
                      status);
}
