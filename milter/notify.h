/* SPDX-License-Identifier: MIT */
/*
 * notify.h - systemd's service notification protocol, without libsystemd.
 *
 * A Type=notify service tells systemd how it is doing by sending
 * newline-separated KEY=VALUE lines in one datagram to the unix socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket):
 * READY=1 once it serves, RELOADING=1 (with MONOTONIC_USEC=, which
 * systemd 253 and later want) and READY=1 again around a reload,
 * STOPPING=1 on the way out, STATUS= for `systemctl status`. Without
 * $NOTIFY_SOCKET every call does nothing: the daemon run by hand, by
 * runit or by a test is not affected.
 */
#ifndef MV_NOTIFY_H
#define MV_NOTIFY_H

/* mv_notify - send state (KEY=VALUE lines) to $NOTIFY_SOCKET; 1 sent,
 * 0 no $NOTIFY_SOCKET, -1 with errno (a bad address, or the send failed) */
int mv_notify(const char *state);

/* mv_notifyf - the same, formatted; -1 with EMSGSIZE past 4 KiB */
int mv_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mv_notify_reloading - RELOADING=1, MONOTONIC_USEC= and a STATUS= line */
int mv_notify_reloading(const char *status);

#endif
