/* SPDX-License-Identifier: MIT */
/*
 * incident.c - faults, the resolver's watch and the summary's period
 * (incident.h).
 *
 * The rule everything here serves: one line when a fault starts, one when
 * it ends, a summary while it lasts. A fault's start is the first failure
 * after health; later failures only count. Its end is the first success;
 * what it cost (failures, requests answered without it) goes with the
 * line that says so, then the fault is forgotten.
 */
#include "incident.h"

#include <stdio.h>
#include <string.h>

/* mv_fault_fail - a failure; true when it starts the fault */
bool mv_fault_fail(mv_fault *f, uint64_t now_ms)
{
    if (f->since_ms != 0) {
        f->failures++;
        return false;
    }
    f->since_ms = now_ms != 0 ? now_ms : 1; /* 0 means healthy */
    f->failures = 1;
    f->answered = 0;
    return true;
}

/* mv_fault_ok - a success; true when it ends a fault */
bool mv_fault_ok(mv_fault *f, mv_fault *ended)
{
    if (f->since_ms == 0)
        return false;
    if (ended != NULL)
        *ended = *f;
    *f = (mv_fault){0};
    return true;
}

/* mv_fault_active - is it failing? */
bool mv_fault_active(const mv_fault *f)
{
    return f->since_ms != 0;
}

/* mv_dns_watch_fail - a lookup got no answer; true when the resolver
 * starts counting as failing */
bool mv_dns_watch_fail(mv_dns_watch *w, const char *domain, uint64_t now_ms)
{
    if (mv_fault_active(&w->fault))
        return mv_fault_fail(&w->fault, now_ms); /* counted: false */
    if (w->streak++ == 0) {
        w->streak_ms = now_ms;
        w->several = false;
        snprintf(w->first, sizeof(w->first), "%s", domain);
    } else if (strcmp(w->first, domain) != 0) {
        w->several = true;
    }
    if (!w->several || (w->streak < MV_DNS_WATCH_STREAK && now_ms - w->streak_ms < MV_DNS_WATCH_MS))
        return false;
    mv_fault_fail(&w->fault, w->streak_ms);
    w->fault.failures = w->streak; /* the whole streak belongs to the fault */
    return true;
}

/* mv_dns_watch_ok - a lookup was answered; true when that ends a fault */
bool mv_dns_watch_ok(mv_dns_watch *w, mv_fault *ended)
{
    w->streak = 0;
    w->several = false;
    return mv_fault_ok(&w->fault, ended);
}

/* mv_period_begin - a new period, every count 0 */
void mv_period_begin(mv_incident_period *p, uint64_t now_ms)
{
    *p = (mv_incident_period){.start_ms = now_ms};
}

/* mv_period_quiet - nothing happened in it */
bool mv_period_quiet(const mv_incident_period *p)
{
    return p->without == 0 && p->timeout == 0 && p->blocked == 0 && p->dns_failed == 0;
}

/* mv_incident_clock - "17:42:05", local time */
void mv_incident_clock(char *buf, size_t size, time_t t)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || strftime(buf, size, "%H:%M:%S", &tm) == 0)
        snprintf(buf, size, "?");
}

/* the label of each network failure cause, as the metrics name it */
static const struct {
    const char *kind, *cause;
} neterr_names[MV_NETERR_COUNT] = {
    [MV_NETERR_DNS_TIMEOUT] = {"dns", "timeout"},         [MV_NETERR_DNS_SERVFAIL] = {"dns", "servfail"},
    [MV_NETERR_DNS_REFUSED] = {"dns", "refused"},         [MV_NETERR_DNS_OTHER] = {"dns", "other"},
    [MV_NETERR_SMTP_NO_CONNECT] = {"smtp", "no_connect"}, [MV_NETERR_SMTP_TEMP] = {"smtp", "temporary"},
    [MV_NETERR_SMTP_BLOCKED] = {"smtp", "blocked"},       [MV_NETERR_SMTP_TLS] = {"smtp", "tls"},
    [MV_NETERR_SMTP_TIMEOUT] = {"smtp", "timeout"},       [MV_NETERR_SMTP_PROTOCOL] = {"smtp", "protocol"},
};

/* mv_neterr_kind - "dns" or "smtp" */
const char *mv_neterr_kind(mv_neterr e)
{
    return (unsigned)e < MV_NETERR_COUNT ? neterr_names[e].kind : "?";
}

/* mv_neterr_cause - the cause's label */
const char *mv_neterr_cause(mv_neterr e)
{
    return (unsigned)e < MV_NETERR_COUNT ? neterr_names[e].cause : "?";
}
