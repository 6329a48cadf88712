/* SPDX-License-Identifier: MIT */
/*
 * redact.h - mask secrets before text leaves the process.
 *
 * Settings can carry credentials: a password (cache.redis_password), a
 * user and password inside a URL (https://bob:pw@host/hook), a token in a
 * URL's query (?token=...). config-test --print, log lines and error
 * messages show such settings in masked form, so that a shared screen, a
 * pasted log or a support ticket does not hand the secret on. Every front
 * end and core module uses these helpers rather than its own, so that
 * "what counts as secret in a URL" is decided once.
 *
 * Masked URLs keep what an admin needs to recognise the setting (scheme,
 * host, port, path, query parameter names): in
 *   https://bob:hunter2@example.com:8443/hook?token=abc#x
 * the mask "***" stands for "bob:hunter2", "abc" and "x".
 * The functions never fail: output that does not fit is cut short, and
 * what is cut is never a secret left half masked.
 */
#ifndef MV_REDACT_H
#define MV_REDACT_H

#include <stddef.h>

#define MV_REDACT_MASK "***"

/* What a secret setting shows as, whatever its value (length hidden too). */
#define MV_REDACT_HIDDEN "(hidden)"

/* mv_redact_url - url with its userinfo, query values and fragment masked,
 * into out (size bytes, always NUL-terminated, cut short if it does not
 * fit); returns out. Without a scheme, the text is read as libcurl reads
 * it (an authority first), so "bob:pw@host:1/x" is masked too; text that
 * is not a URL ("127.0.0.1:6379", "unix:/run/redis.sock") comes back as it
 * was. */
char *mv_redact_url(const char *url, char *out, size_t size);

/* mv_redact_scrub - replace every occurrence of the n bytes of secret in
 * text (NUL-terminated, in a buffer of size bytes) with the mask, cutting
 * the text short if it no longer fits; returns how many were replaced.
 * An empty secret replaces nothing. */
size_t mv_redact_scrub(char *text, size_t size, const char *secret, size_t n);

/* mv_redact_scrub_url - scrub text of every secret part of url: its
 * userinfo as a whole, its user and password each (as written and
 * percent-decoded), its query values and fragment. For messages from
 * libraries (libcurl, hiredis) that may quote what they were given. */
void mv_redact_scrub_url(char *text, size_t size, const char *url);

#endif
