/* SPDX-License-Identifier: MIT */
/*
 * incident.h - what the engine tells an admin during a fault, and the
 * bookkeeping that keeps it to a few lines.
 *
 * A fault is one thing that stopped working for us: an MX address that
 * times out (a tarpit, silence), refuses our probes or our connections;
 * the resolver that stops answering. The engine says when each starts (one
 * line, with its cause and how long the host is left alone), when it ends
 * (one line, with how long it lasted and how many requests did without
 * it), and while any lasts, one summary per period -- never a line per
 * request or per failed session. This module is the pure part: the state
 * of a fault and of the resolver's watch, and a period's counts, all
 * driven by the caller's clock (monotonic milliseconds); net.c formats
 * the lines and hands them to the front end's sink (mv_engine_set_events).
 * Nothing here allocates, logs or reads a clock.
 */
#ifndef MV_INCIDENT_H
#define MV_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The severity of an event line, as syslog's LOG_ERR .. LOG_INFO. */
typedef enum {
    MV_EVENT_ERROR,   /* something is broken (Redis refused our setup) */
    MV_EVENT_WARNING, /* a fault starts; the cache falls back */
    MV_EVENT_NOTICE,  /* a fault ends; a fault's periodic summary */
    MV_EVENT_INFO,    /* routine (Redis connected) */
} mv_event_level;

/* The sink: one finished line, no newline, no level prefix. Called from
 * the engine's loop thread and, for the cache's start-up lines, from the
 * thread whose request started the engine: it must be safe from both. */
typedef void (*mv_event_fn)(void *arg, mv_event_level level, const char *line);

#define MV_EVENT_LINE_MAX 700 /* a whole line */
#ifndef MV_INCIDENT_PERIOD_MS
#define MV_INCIDENT_PERIOD_MS 60000 /* a summary at most this often */
#endif
#define MV_DNS_WATCH_STREAK 5 /* temporary DNS failures in a row ... */
#define MV_DNS_WATCH_MS 5000  /* ... or failures in a row for this long */

/* Network failures since the engine started, by cause, for metrics: DNS
 * lookups that got no usable answer (they answer dns_error), and SMTP
 * probe sessions that ended before their RCPT answers (mv_probe_status:
 * no connection, a 4xx or 5xx before RCPT, TLS, a reply that did not
 * come, not SMTP). Cancelled ones (shutdown) are not failures. */
typedef enum {
    MV_NETERR_DNS_TIMEOUT,
    MV_NETERR_DNS_SERVFAIL,
    MV_NETERR_DNS_REFUSED,
    MV_NETERR_DNS_OTHER, /* unreachable resolver, truncated or malformed answer, loop */
    MV_NETERR_SMTP_NO_CONNECT,
    MV_NETERR_SMTP_TEMP,
    MV_NETERR_SMTP_BLOCKED,
    MV_NETERR_SMTP_TLS,
    MV_NETERR_SMTP_TIMEOUT,
    MV_NETERR_SMTP_PROTOCOL,
    MV_NETERR_COUNT
} mv_neterr;

/* mv_neterr_kind - "dns" or "smtp"; mv_neterr_cause - the cause's label */
const char *mv_neterr_kind(mv_neterr e);
const char *mv_neterr_cause(mv_neterr e);

/* One thing that can fail: a host, the resolver. */
typedef struct {
    uint64_t since_ms;      /* when it began failing; 0: healthy */
    unsigned long failures; /* failed sessions or lookups since (the first included) */
    unsigned long answered; /* requests answered without it since */
} mv_fault;

/* mv_fault_fail - a failure at now_ms; true when it starts the fault (say
 * so, once), false while it already lasts (counted only) */
bool mv_fault_fail(mv_fault *f, uint64_t now_ms);

/* mv_fault_ok - a success; true when it ends a fault: *ended (may be NULL)
 * gets what the fault was, and f is healthy again */
bool mv_fault_ok(mv_fault *f, mv_fault *ended);

/* mv_fault_active - is it failing? */
bool mv_fault_active(const mv_fault *f);

/* The resolver's watch. One domain's lookup failing says little (its
 * servers may be broken); lookups failing in a row for more than one
 * domain say the resolver is: MV_DNS_WATCH_STREAK of them, or failures in
 * a row for MV_DNS_WATCH_MS (a quiet daemon asks seldom). Any answer --
 * also NXDOMAIN -- ends the streak and the fault. */
typedef struct {
    unsigned streak;    /* temporary failures in a row */
    uint64_t streak_ms; /* when the streak's first one came */
    char first[256];    /* the streak's first domain */
    bool several;       /* the streak spans more than one domain */
    mv_fault fault;
} mv_dns_watch;

/* mv_dns_watch_fail - a lookup for domain got no answer; true when the
 * resolver starts counting as failing (once) */
bool mv_dns_watch_fail(mv_dns_watch *w, const char *domain, uint64_t now_ms);

/* mv_dns_watch_ok - a lookup was answered; true when that ends a fault
 * (*ended as mv_fault_ok) */
bool mv_dns_watch_ok(mv_dns_watch *w, mv_fault *ended);

/* What the faults cost in one period of the summary. */
typedef struct {
    uint64_t start_ms;        /* when the period began */
    unsigned long without;    /* requests that did without a failing host */
    unsigned long timeout;    /* ... answered timeout: every MX host left alone */
    unsigned long blocked;    /* ... answered blocked_by_server: the same */
    unsigned long dns_failed; /* lookups that got no answer */
} mv_incident_period;

/* mv_period_begin - a new period from now_ms, every count 0 */
void mv_period_begin(mv_incident_period *p, uint64_t now_ms);

/* mv_period_quiet - nothing happened in it: no summary worth a line */
bool mv_period_quiet(const mv_incident_period *p);

/* mv_incident_clock - a wall-clock time as "17:42:05" (local time) */
void mv_incident_clock(char *buf, size_t size, time_t t);

#endif
