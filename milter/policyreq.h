/* SPDX-License-Identifier: MIT */
/*
 * policyreq.h - one request of Postfix's policy delegation protocol.
 *
 * Postfix's smtpd (check_policy_service, SMTPD_POLICY_README) writes
 * "name=value" lines, then an empty line, and waits for "action=..." and
 * an empty line; many requests follow on one connection. The bytes come
 * from a socket anyone on the host (or the network, with inet:) may
 * reach, so the parser has limits -- line length, attribute count,
 * request size -- and refuses NUL, control bytes and lines that are not
 * "name=value": any of those ends the connection (the caller logs one
 * line with mv_policyreq_error_text()). Unknown attributes are skipped
 * (each Postfix release adds some); a known one given twice is an error.
 * Values may be any other bytes (UTF-8 addresses, SMTPUTF8).
 *
 * The parser reads a buffer that holds the start of the stream: it says
 * "not complete yet" until the empty line arrives (callers append what
 * the socket gives and ask again), and otherwise how many bytes the
 * request took. The values point into the caller's buffer, which the
 * parser NUL-terminates in place only once the request is complete.
 */
#ifndef MV_POLICYREQ_H
#define MV_POLICYREQ_H

#include <stddef.h>

typedef enum {
    MV_PREQ_DONE = 0,      /* a complete request; *used bytes taken */
    MV_PREQ_MORE,          /* no empty line yet, within the limits */
    MV_PREQ_LINE_TOO_LONG, /* a line over max_line bytes */
    MV_PREQ_TOO_MANY,      /* more than max_attrs attributes */
    MV_PREQ_TOO_BIG,       /* more than max_request bytes before the empty line */
    MV_PREQ_NUL,           /* a NUL byte */
    MV_PREQ_CONTROL,       /* a control byte other than TAB (CR only before LF) */
    MV_PREQ_NO_EQUALS,     /* a line that is not name=value */
    MV_PREQ_BAD_NAME,      /* a name not made of [a-z0-9_] */
    MV_PREQ_DUPLICATE,     /* a known attribute twice */
    MV_PREQ_EMPTY,         /* an empty line with no attribute before it */
} mv_policyreq_status;

typedef struct {
    size_t max_line;    /* bytes of one line, without its LF */
    size_t max_attrs;   /* attributes in one request */
    size_t max_request; /* bytes of one request, the empty line included */
} mv_policyreq_limits;

/* The attributes mailverifyd reads; NULL when absent. */
typedef struct {
    const char *request;        /* "smtpd_access_policy" */
    const char *protocol_state; /* CONNECT EHLO HELO MAIL RCPT DATA END-OF-MESSAGE VRFY ETRN */
    const char *protocol_name;  /* SMTP ESMTP LMTP */
    const char *sender, *recipient;
    const char *client_address, *client_name;
    const char *helo_name, *queue_id, *instance;
    const char *sasl_username;
    size_t attrs; /* attributes in the request, unknown ones too */
} mv_policyreq;

/* mv_policyreq_parse - the request at the start of buf[0..len); on
 * MV_PREQ_DONE fills *out, sets *used and NUL-terminates the values in
 * buf; otherwise leaves buf alone */
mv_policyreq_status mv_policyreq_parse(char *buf, size_t len, const mv_policyreq_limits *lim,
                                       mv_policyreq *out, size_t *used);

/* mv_policyreq_error_text - what a status means, for the log */
const char *mv_policyreq_error_text(mv_policyreq_status s);

#endif
