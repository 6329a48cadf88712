/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the engine's optional transcript of DNS and SMTP.
 *
 * What an admin checks by hand with dig, swaks or posttls-finger, written
 * as the engine works: the MX answer, each MX address tried, the SMTP
 * dialogue in both directions with times since the session began, the
 * TLS handshake, and the reading that decided each address. A front end
 * that wants it passes a sink (mv_engine_options); the engine hands it
 * finished lines, prefixed with "[domain]" or "[sN domain]" (N: the
 * session) so that interleaved sessions stay readable. With no sink
 * nothing is formatted. Text from outside (SMTP replies, DNS names) is
 * escaped with mv_trace_escape(): control characters, backslash and bad
 * UTF-8 as \xNN, cut at MV_TRACE_TEXT_MAX bytes.
 */
#ifndef MV_TRACE_H
#define MV_TRACE_H

#include <stddef.h>

#define MV_TRACE_TEXT_MAX 300 /* outside text in a line, escaped */
#define MV_TRACE_LINE_MAX 768 /* a whole line, prefix included */

/* The sink: one line, no newline. It is called from the engine's loop
 * thread and, for an answer from the cache, from the asking thread: it
 * must be safe to call from both. */
typedef void (*mv_trace_fn)(void *arg, const char *line);

/* mv_trace_escape - len bytes of src, escaped and cut, into dst (NUL-
 * terminated); the length written */
size_t mv_trace_escape(char *dst, size_t size, const char *src, size_t len);

/* mv_trace_emit - format one line and hand it to fn; nothing if fn is NULL */
void mv_trace_emit(mv_trace_fn fn, void *arg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
