/* SPDX-License-Identifier: MIT */
/*
 * probe.h - one SMTP session that asks a mail server about recipients.
 *
 * The probe connects to one address of one MX host and walks the dialogue
 * a sending MTA would: banner, EHLO (HELO if EHLO is refused), STARTTLS
 * when offered or required, MAIL FROM, then RCPT TO for each recipient --
 * several recipients of one domain share the session -- and, after the
 * first accepted recipient, one RCPT for a random local part to learn
 * whether the domain accepts everything. It never sends DATA: no message
 * is ever delivered. Then QUIT.
 *
 * The probe reports what happened, not what it means: the session's
 * outcome (it reached RCPT, or why not) and each recipient's reply with
 * its enhanced status code. Classification into verdicts is the engine's
 * (one function, classify.c). Every stage has its own timeout; replies are
 * bounded (reply.h); the callback runs exactly once. With a trace sink
 * the probe also tells what it does as it goes -- each command sent, each
 * reply line as read, the TLS handshake, how the session ended -- each
 * line starting "+Nms" (since the session began), without a prefix: the
 * caller adds its own.
 */
#ifndef MV_PROBE_H
#define MV_PROBE_H

#include "loop.h"
#include "reply.h"
#include "tls.h"
#include "trace.h"
#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define MV_PROBE_RCPT_MAX 32

typedef enum {
    MV_TLS_OFF,           /* never STARTTLS */
    MV_TLS_OPPORTUNISTIC, /* when offered (the default, as MTAs do) */
    MV_TLS_REQUIRED,      /* no TLS, no probe: tls_error */
} mv_tls_mode;

typedef struct {
    const char *helo;          /* the name we greet with */
    const char *mail_from;     /* "" for the null sender */
    const char *fallback_from; /* MAIL FROM when <> is refused; NULL: none */
    mv_tls_mode tls;
    mv_tls_ctx *tls_ctx;
    unsigned connect_ms; /* connect timeout */
    unsigned reply_ms;   /* each reply (banner, EHLO, RCPT, ...) */
    bool catch_all;      /* ask a random recipient after an accepted one */
    bool smtputf8;       /* a recipient needs SMTPUTF8 */
    mv_trace_fn trace;   /* the dialogue, line by line; NULL: none */
    void *trace_arg;
} mv_probe_params;

typedef enum {
    MV_PROBE_DONE,       /* reached RCPT: the answers are valid */
    MV_PROBE_NO_CONNECT, /* refused, unreachable, connect timeout */
    MV_PROBE_TEMP,       /* 4xx/421 before RCPT: try another MX */
    MV_PROBE_BLOCKED,    /* 5xx to banner, HELO or MAIL: we are refused */
    MV_PROBE_TLS,        /* STARTTLS failed, or required and missing */
    MV_PROBE_TIMEOUT,    /* a reply did not come in time */
    MV_PROBE_PROTOCOL,   /* not SMTP: garbage, huge reply, closed early */
    MV_PROBE_CANCELLED,
} mv_probe_status;

typedef struct {
    mv_probe_status status;
    const char *stage;   /* where it ended: "connect", "banner", "rcpt", ... */
    mv_smtp_answer last; /* the reply that ended the session, if any */
    char error[120];     /* system or TLS error text */
    bool tls;
    char tls_version[16], tls_cipher[64];
    bool used_fallback_from;
    size_t nanswered; /* recipients answered; the rest need a new session */
    mv_smtp_answer rcpt[MV_PROBE_RCPT_MAX];
    int catch_all; /* 1 yes, 0 no, -1 not asked or no answer */
    uint64_t elapsed_ms;
} mv_probe_result;

typedef void (*mv_probe_cb)(void *arg, const mv_probe_result *r);

typedef struct mv_probe mv_probe;

/* mv_probe_start - begin a session; NULL (and no callback) on ENOMEM.
 * The callback never runs before mv_probe_start has returned. */
mv_probe *mv_probe_start(mv_loop *loop, const mv_probe_params *params, const struct sockaddr *addr,
                         const char *host, const char *const *rcpts, size_t nrcpt, mv_probe_cb cb, void *arg);

/* mv_probe_cancel - end now; the callback runs with MV_PROBE_CANCELLED */
void mv_probe_cancel(mv_probe *p);

/* mv_probe_answer - a parsed reply as the probe keeps it: the code, the
 * enhanced code and the first 199 bytes of the text (tests, the bench and
 * the fuzz targets read replies the same way) */
void mv_probe_answer(const mv_reply *r, mv_smtp_answer *a);

/* mv_probe_status_name - for logs */
const char *mv_probe_status_name(mv_probe_status s);

#endif
