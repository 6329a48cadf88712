/* SPDX-License-Identifier: MIT */
/*
 * net_incident.c - the network half's event lines: faults, not requests.
 *
 * A host (one MX address) starts failing when a session with it times out
 * (a tarpit, silence), is refused (a reply naming our IP, reputation or
 * rate) or cannot connect; it recovers with the first good session. The
 * resolver starts failing when lookups for more than one domain get no
 * answer in a row (incident.h), and recovers with the first answer. Each
 * start and each recovery is one line; a failure while already failing,
 * and every request it affects, is only counted, and while any fault
 * lasts a timer writes one summary per period (MV_INCIDENT_PERIOD_MS)
 * when the period saw something. The state is kept with or without a
 * sink; lines are formatted only with one. Loop thread only.
 */
#include "net_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SUMMARY_HOSTS 5 /* hosts named in a summary; the rest counted */

static void net_event(mv_net *n, mv_event_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* net_event - an event line; nothing is formatted without a sink */
static void net_event(mv_net *n, mv_event_level level, const char *fmt, ...)
{
    char line[MV_EVENT_LINE_MAX];
    va_list ap;

    if (n->p.events == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n->p.events(n->p.events_arg, level, line);
}

/* host_label - "127.0.0.27" (port 25 left out), "127.0.0.99:2525", "[::1]:2525" */
static void host_label(const host *h, char *buf, size_t size)
{
    const char *colon = strrchr(h->key, ':');
    int iplen = colon != NULL ? (int)(colon - h->key) : (int)strlen(h->key);
    bool v6 = memchr(h->key, ':', (size_t)iplen) != NULL;

    if (colon == NULL || strcmp(colon, ":25") == 0)
        snprintf(buf, size, "%.*s", iplen, h->key);
    else
        snprintf(buf, size, v6 ? "[%.*s]%s" : "%.*s%s", iplen, h->key, colon);
}

/* wall_after - the wall-clock time ms from now */
static time_t wall_after(uint64_t ms)
{
    return time(NULL) + (time_t)((ms + 999) / 1000);
}

/* summary_ms - the summary's period */
static uint64_t summary_ms(const mv_net *n)
{
    return n->p.summary_ms ? n->p.summary_ms : MV_INCIDENT_PERIOD_MS;
}

/* ---- the summary ------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t size, off;
    unsigned count; /* failing hosts seen */
    uint64_t now;
} host_list;

/* list_host - a failing host into the summary's list (the first few) */
static void list_host(void *value, void *arg)
{
    const host *h = value;
    host_list *l = arg;
    char label[INET6_ADDRSTRLEN + 16], name[MV_TRACE_TEXT_MAX + 8], until[16] = "";
    int w;

    if (!mv_fault_active(&h->fault) || l->count++ >= SUMMARY_HOSTS || l->off >= l->size)
        return;
    host_label(h, label, sizeof(label));
    mv_trace_escape(name, sizeof(name), h->name, strlen(h->name));
    if (h->backoff_until_ms > l->now)
        mv_incident_clock(until, sizeof(until), wall_after(h->backoff_until_ms - l->now));
    w = snprintf(l->buf + l->off, l->size - l->off, "%s%s (%s) %s%s%s", l->count > 1 ? "; " : "", label, name,
                 h->cause, until[0] ? ", left alone until " : "", until);
    if (w > 0)
        l->off += (size_t)w;
}

/* dns_part - the resolver's share of a summary, or "" */
static void dns_part(const mv_net *n, uint64_t now, char *buf, size_t size)
{
    const mv_fault *f = &n->dns_watch.fault;
    unsigned long k = n->period.dns_failed;

    buf[0] = '\0';
    if (mv_fault_active(f))
        snprintf(buf, size, "; resolver %s failing for %llu s, %lu lookup%s without an answer", n->resolver,
                 (unsigned long long)(now - f->since_ms) / 1000, k, k == 1 ? "" : "s");
    else if (k > 0)
        snprintf(buf, size, "; %lu lookup%s without an answer", k, k == 1 ? "" : "s");
}

/* cost_part - what the failing hosts cost in the period, or "" */
static void cost_part(const mv_incident_period *p, char *buf, size_t size)
{
    buf[0] = '\0';
    if (p->without == 0)
        return;
    if (p->timeout + p->blocked == 0)
        snprintf(buf, size, "; %lu request%s did without them", p->without, p->without == 1 ? "" : "s");
    else
        snprintf(buf, size,
                 "; %lu request%s did without them, %lu answered timeout and %lu blocked_by_server "
                 "because every MX host was left alone",
                 p->without, p->without == 1 ? "" : "s", p->timeout, p->blocked);
}

/* summary - what the faults cost in the period that ends now */
static void summary(mv_net *n)
{
    uint64_t now = mv_loop_now();
    char hosts[MV_EVENT_LINE_MAX / 2] = "", cost[200], dns[300], more[40] = "";
    host_list l = {hosts, sizeof(hosts), 0, 0, now};

    mv_dict_each(n->hosts, list_host, &l);
    if (l.count > SUMMARY_HOSTS)
        snprintf(more, sizeof(more), "; and %u more", l.count - SUMMARY_HOSTS);
    cost_part(&n->period, cost, sizeof(cost));
    dns_part(n, now, dns, sizeof(dns));
    net_event(n, MV_EVENT_NOTICE, "incident summary, last %llu s: %u host%s failing%s%s%s%s%s",
              (unsigned long long)(now - n->period.start_ms + 500) / 1000, l.count, l.count == 1 ? "" : "s",
              l.count ? ": " : "", hosts, more, cost, dns);
}

/* on_summary - the period is over: a summary if it saw anything; again
 * while a fault lasts */
static void on_summary(void *arg)
{
    mv_net *n = arg;

    if (n->closing || n->faults == 0)
        return;
    if (!mv_period_quiet(&n->period))
        summary(n);
    mv_period_begin(&n->period, mv_loop_now());
    mv_timer_start(n->loop, &n->summary, summary_ms(n), on_summary, n);
}

/* net_fault_begins - one more fault; the summary's timer runs */
static void net_fault_begins(mv_net *n)
{
    n->faults++;
    if (mv_timer_armed(&n->summary))
        return;
    mv_period_begin(&n->period, mv_loop_now());
    mv_timer_start(n->loop, &n->summary, summary_ms(n), on_summary, n);
}

/* net_fault_ends - one fault fewer (the timer stops by itself) */
static void net_fault_ends(mv_net *n)
{
    if (n->faults > 0)
        n->faults--;
}

/* mv_net_incident_stop - at shutdown: no more summaries */
void mv_net_incident_stop(mv_net *n)
{
    mv_timer_stop(n->loop, &n->summary);
}

/* ---- hosts ------------------------------------------------------------- */

/* mv_net_host_failing - a session with h (asked as MX mx) failed for cause;
 * left alone for backoff_ms (0: not left alone). One line when its fault
 * starts; later failures are counted */
void mv_net_host_failing(mv_net *n, host *h, const char *mx, const char *cause, uint64_t backoff_ms)
{
    char label[INET6_ADDRSTRLEN + 16], name[MV_TRACE_TEXT_MAX + 8], until[16];

    snprintf(h->name, sizeof(h->name), "%s", mx);
    snprintf(h->cause, sizeof(h->cause), "%s", cause);
    if (!mv_fault_fail(&h->fault, mv_loop_now()))
        return;
    net_fault_begins(n);
    if (n->p.events == NULL)
        return;
    host_label(h, label, sizeof(label));
    mv_trace_escape(name, sizeof(name), mx, strlen(mx));
    if (backoff_ms == 0) {
        net_event(n, MV_EVENT_WARNING, "host %s (%s) %s; each new request still tries it first", label, name,
                  cause);
        return;
    }
    mv_incident_clock(until, sizeof(until), wall_after(backoff_ms));
    net_event(n, MV_EVENT_WARNING, "host %s (%s) %s; left alone for %llu s, until %s", label, name, cause,
              (unsigned long long)(backoff_ms + 999) / 1000, until);
}

/* mv_net_host_answers - a good session with h: the end of its fault, if any */
void mv_net_host_answers(mv_net *n, host *h)
{
    char label[INET6_ADDRSTRLEN + 16], name[MV_TRACE_TEXT_MAX + 8];
    mv_fault f;

    if (!mv_fault_ok(&h->fault, &f))
        return;
    net_fault_ends(n);
    if (n->p.events == NULL)
        return;
    host_label(h, label, sizeof(label));
    mv_trace_escape(name, sizeof(name), h->name, strlen(h->name));
    net_event(n, MV_EVENT_NOTICE,
              "host %s (%s) answers again after %llu s; %lu request%s answered "
              "without it",
              label, name, (unsigned long long)(mv_loop_now() - f.since_ms + 500) / 1000, f.answered,
              f.answered == 1 ? "" : "s");
}

/* mv_net_host_without - count requests that did without the failing host h */
void mv_net_host_without(mv_net *n, host *h, unsigned long count)
{
    if (!mv_fault_active(&h->fault))
        return;
    h->fault.answered += count;
    n->period.without += count;
}

/* mv_net_backoff_answer - a request answered r because every MX host of its
 * domain was left alone */
void mv_net_backoff_answer(mv_net *n, mv_reason r)
{
    if (r == MV_R_TIMEOUT)
        n->period.timeout++;
    else
        n->period.blocked++;
}

/* ---- the resolver ------------------------------------------------------ */

/* dns_cause - which cause a temporary DNS failure counts under: the
 * resolver's own word (mv_dns' detail: "timeout", "SERVFAIL", "REFUSED",
 * also after "MX host lookup failed: "), else other */
static mv_neterr dns_cause(const mv_mx_result *res)
{
    if (strstr(res->detail, "timeout") != NULL)
        return MV_NETERR_DNS_TIMEOUT;
    if (strstr(res->detail, "SERVFAIL") != NULL)
        return MV_NETERR_DNS_SERVFAIL;
    if (strstr(res->detail, "REFUSED") != NULL)
        return MV_NETERR_DNS_REFUSED;
    return MV_NETERR_DNS_OTHER;
}

/* mv_net_session_failed - a probe session ended with status (not DONE,
 * not CANCELLED): counted by cause */
void mv_net_session_failed(mv_net *n, mv_probe_status status)
{
    static const mv_neterr by_status[] = {
        [MV_PROBE_NO_CONNECT] = MV_NETERR_SMTP_NO_CONNECT, [MV_PROBE_TEMP] = MV_NETERR_SMTP_TEMP,
        [MV_PROBE_BLOCKED] = MV_NETERR_SMTP_BLOCKED,       [MV_PROBE_TLS] = MV_NETERR_SMTP_TLS,
        [MV_PROBE_TIMEOUT] = MV_NETERR_SMTP_TIMEOUT,       [MV_PROBE_PROTOCOL] = MV_NETERR_SMTP_PROTOCOL,
    };

    if (status == MV_PROBE_DONE || status == MV_PROBE_CANCELLED ||
        (size_t)status >= sizeof(by_status) / sizeof(*by_status))
        return;
    atomic_fetch_add(&n->errors[by_status[status]], 1);
}

/* mv_net_dns_result - a lookup for name ended: the resolver's watch */
void mv_net_dns_result(mv_net *n, const char *name, const mv_mx_result *res)
{
    uint64_t now = mv_loop_now();
    mv_fault f;

    if (n->closing)
        return; /* cancelled lookups say nothing of the resolver */
    if (res->status == MV_DNS_TEMP)
        atomic_fetch_add(&n->errors[dns_cause(res)], 1);
    if (res->status == MV_DNS_TEMP && res->unanswered) {
        n->period.dns_failed++;
        if (!mv_dns_watch_fail(&n->dns_watch, name, now))
            return;
        net_fault_begins(n);
        net_event(n, MV_EVENT_WARNING,
                  "resolver %s is failing: %lu lookups in a row, for more than one "
                  "domain, got no answer (the last: %s for %s); domains not in the cache answer dns_error "
                  "until it answers again",
                  n->resolver, n->dns_watch.fault.failures, res->detail, name);
        return;
    }
    if (!mv_dns_watch_ok(&n->dns_watch, &f))
        return;
    net_fault_ends(n);
    net_event(n, MV_EVENT_NOTICE,
              "resolver %s answers again after %llu s; %lu lookups got no answer meanwhile", n->resolver,
              (unsigned long long)(now - f.since_ms + 500) / 1000, f.failures);
}
