/* SPDX-License-Identifier: MIT */
/*
 * verdict.h - what every front end shows, in the same words.
 *
 * A verdict is a status (deliverable, undeliverable, risky, unknown), one
 * reason identifier, the action policy chose for the caller's context,
 * an optional suggestion, and the signals behind it. Identifiers here are
 * a contract: scripts, the FastCGI plugin and policy files spell them, so
 * they are never renamed. mv_verdict_json() writes the JSON form of
 * DESIGN.md; mv_verdict_reason() is the one place that decides which
 * reason wins when several apply.
 */
#ifndef MV_VERDICT_H
#define MV_VERDICT_H

#include "address.h"
#include "buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MV_STATUS_DELIVERABLE,
    MV_STATUS_UNDELIVERABLE,
    MV_STATUS_RISKY,
    MV_STATUS_UNKNOWN,
    MV_STATUS_COUNT
} mv_status;

/* Reasons; the status each implies is fixed (mv_reason_status). */
typedef enum {
    MV_R_ACCEPTED_EMAIL,
    MV_R_INVALID_SYNTAX,
    MV_R_INVALID_DOMAIN,
    MV_R_NO_MAIL_SERVER,
    MV_R_REJECTED_EMAIL,
    MV_R_MAILBOX_DISABLED,
    MV_R_MAILBOX_FULL,
    MV_R_ACCEPT_ALL,
    MV_R_DISPOSABLE,
    MV_R_ROLE_ACCOUNT,
    MV_R_GREYLISTED,
    MV_R_TIMEOUT,
    MV_R_NO_CONNECT,
    MV_R_DNS_ERROR,
    MV_R_BLOCKED_BY_SERVER,
    MV_R_TLS_ERROR,
    MV_R_TEMPORARY_ERROR, /* a 4xx that is not greylisting */
    MV_R_UNVERIFIED,
    MV_R_NULL_SENDER,
    MV_R_COUNT
} mv_reason;

/* Actions, in increasing severity: policy takes the most severe that applies. */
typedef enum {
    MV_ACT_ACCEPT,
    MV_ACT_WARN,
    MV_ACT_REVIEW,
    MV_ACT_TEMPFAIL,
    MV_ACT_BLOCK,
    MV_ACT_COUNT
} mv_action;

typedef enum { MV_CTX_SENDER, MV_CTX_RECIPIENT, MV_CTX_FORM, MV_CTX_BULK, MV_CTX_COUNT } mv_context;

/* One SMTP reply, as the probe saw it. */
typedef struct {
    int code;   /* 0: no answer */
    int enh[3]; /* enhanced status code, or {0,0,0} */
    char text[200];
} mv_smtp_answer;

/* What DNS and SMTP said about an address (steps 4-5). */
typedef struct {
    mv_reason reason; /* the network's word on the address */
    char mx[512];     /* MX hosts, comma-separated, in preference order */
    bool implicit_mx;
    char host[256];      /* the MX host whose reply decided */
    mv_smtp_answer smtp; /* that reply; code 0 when no SMTP reply decided */
    bool tls;
    char tls_version[16];
    int catch_all;        /* 1 yes, 0 no, -1 unknown */
    unsigned retry_after; /* greylisting: seconds the server asked for */
    char detail[160];     /* for people: what happened */
    char rule[64];        /* the reply rule that decided, or "" */
    int64_t until;        /* a temporary outcome: ask again from then on
                                 * (unix seconds; 0: the cache's own expiry) */
} mv_net_outcome;

/* The signals of steps 1-5, input to mv_verdict_reason(). */
typedef struct {
    bool syntax_ok;
    bool unchecked; /* !syntax_ok because libidn2 could not be loaded */
    bool null_path;
    bool disposable;
    bool role;
    bool net_asked; /* a network step ran (or was answered from cache) */
    mv_reason net_reason;
} mv_signals;

#define MV_ECHO_MAX 1024 /* input echoed back at most this long */

typedef struct {
    const char *input; /* as given; borrowed from the request */
    size_t input_len;
    mv_context context;
    mv_status status;
    mv_reason reason;
    mv_action action;
    mv_address addr; /* syntax result and normalized parts */
    bool disposable, role, free;
    bool has_suggestion, has_canonical;
    char suggestion[MV_MAILBOX_MAX + 1];
    char canonical[MV_MAILBOX_MAX + 1];
    bool cached;
    bool net_asked; /* DNS/SMTP were asked: net holds their word */
    mv_net_outcome net;
    uint64_t elapsed_us;
} mv_verdict;

const char *mv_status_name(mv_status s);
const char *mv_reason_name(mv_reason r);
const char *mv_action_name(mv_action a);
const char *mv_context_name(mv_context c);

/* mv_reason_status - the status a reason implies */
mv_status mv_reason_status(mv_reason r);

/* mv_reason_lookup, mv_action_lookup, mv_context_lookup - by name, or -1 */
int mv_reason_lookup(const char *name);
int mv_action_lookup(const char *name);
int mv_context_lookup(const char *name);

/* mv_verdict_reason - the winning reason for the signals (DESIGN order) */
mv_reason mv_verdict_reason(const mv_signals *sig);

/* mv_verdict_json - append the verdict as one JSON object (no newline) */
void mv_verdict_json(mv_buf *b, const mv_verdict *v, int json_flags);

#endif
