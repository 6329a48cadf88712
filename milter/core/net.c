/* SPDX-License-Identifier: MIT */
/*
 * net.c - jobs, domains, hosts and sessions of the network half.
 *
 * A job is one address being verified; requests for the same address in
 * the same mode wait on the same job. A domain holds what DNS said (for
 * its TTL, clamped), the jobs waiting for that answer or for a session,
 * and its open sessions; idle domains are kept, most recent first, up to
 * a bound, so that the next address of a busy domain needs no lookup. A
 * host (one MX address) holds its open sessions, a token bucket for new
 * ones, and a back-off time after it refused or tarpitted us.
 *
 * Hosts, sessions and scheduling live in net_session.c; the structures
 * both files share, in net_int.h. Targets are the MX hosts' addresses in
 * preference order; a job walks them on connection failures and
 * temporary errors.
 *
 * Traces (mv_net_trace) of what DNS answered and how each job ended are
 * written here; of sessions, in net_session.c. Event lines about faults
 * (a failing host, a failing resolver) are net_incident.c's. The resolver (dns.c) knows
 * nothing of them: its answer is shown when it reaches on_mx().
 */
#include "net_int.h"
#include "classify.h"
#include "dict.h"
#include "netguard.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* mv_net_set_outcome - fill reason and detail */
void mv_net_set_outcome(job *j, mv_reason r, const char *fmt, ...)
{
    va_list ap;

    j->out.reason = r;
    va_start(ap, fmt);
    vsnprintf(j->out.detail, sizeof(j->out.detail), fmt, ap);
    va_end(ap);
}

/* mv_net_trace - a trace line about domain d, in session sid (0: none) */
void mv_net_trace(const domain *d, unsigned sid, const char *fmt, ...)
{
    char text[MV_TRACE_LINE_MAX - 64];
    va_list ap;

    if (d->n->p.trace == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (sid != 0)
        mv_trace_emit(d->n->p.trace, d->n->p.trace_arg, "[s%u %s] %s", sid, d->name, text);
    else
        mv_trace_emit(d->n->p.trace, d->n->p.trace_arg, "[%s] %s", d->name, text);
}

/* trace_outcome - how a job ended, and the reading behind it */
static void trace_outcome(const job *j)
{
    char det[MV_TRACE_TEXT_MAX + 8], rule[96] = "";
    const mv_net_outcome *o = &j->out;

    if (j->n->p.trace == NULL)
        return;
    mv_trace_escape(det, sizeof(det), o->detail, strlen(o->detail));
    if (o->rule[0] != '\0' && strstr(o->detail, o->rule) == NULL)
        snprintf(rule, sizeof(rule), " [rule %s]", o->rule);
    if (j->d != NULL)
        mv_net_trace(j->d, j->sid, "%s => %s%s: %s%s", j->mailbox, mv_reason_name(o->reason),
                     j->background ? " (background)" : "", det, rule);
    else
        mv_trace_emit(j->n->p.trace, j->n->p.trace_arg, "[%s] %s => %s%s: %s%s", j->domain, j->mailbox,
                      mv_reason_name(o->reason), j->background ? " (background)" : "", det, rule);
}

/* mx_list - the MX host names, for the verdict */
static void mx_list(job *j)
{
    const mv_mx_result *m = &j->d->mx;
    size_t off = 0;

    j->out.mx[0] = '\0';
    j->out.implicit_mx = m->implicit;
    for (size_t i = 0; i < m->nhosts && off < sizeof(j->out.mx) - 1; i++) {
        int w = snprintf(j->out.mx + off, sizeof(j->out.mx) - off, "%s%s", i ? "," : "", m->hosts[i].name);

        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* until_default - how long a temporary outcome may be served from the
 * cache: as long as its cause lasts (greylisting and back-off set their
 * own), cache.temporary_expire_s being only the cap. A DNS failure is
 * asked again after seconds; a host that did not answer after its first
 * back-off */
static int64_t until_default(mv_reason r)
{
    int64_t now = (int64_t)time(NULL);

    switch (r) {
    case MV_R_DNS_ERROR: return now + 10;
    case MV_R_TIMEOUT:
    case MV_R_NO_CONNECT:
    case MV_R_TEMPORARY_ERROR: return now + 30;
    default: return 0;
    }
}

static void net_domain_release(domain *d);

/* mv_net_complete - the job's one ending: store, answer every waiter, free */
void mv_net_complete(job *j)
{
    mv_net *n = j->n;
    domain *d = j->d;
    waiter *w;

    mv_timer_stop(n->loop, &j->timer);
    if (d != NULL && d->mx_known)
        mx_list(j);
    if (j->out.until == 0)
        j->out.until = until_default(j->out.reason);
    trace_outcome(j);
    if (n->p.store != NULL && !n->closing)
        n->p.store(n->p.store_arg, j->mailbox, j->hop, j->smtp, &j->out);
    if (!j->background)
        mv_dict_del(n->jobs, j->key);
    while ((w = SLIST_FIRST(&j->waiters)) != NULL) {
        SLIST_REMOVE_HEAD(&j->waiters, link);
        w->cb(w->arg, &j->out);
        free(w);
    }
    if (d != NULL) {
        d->jobs--;
        net_domain_release(d);
    }
    free(j);
}

/* ---- domains ---------------------------------------------------------- */

/* idle_unlink - take d off the idle list */
static void idle_unlink(mv_net *n, domain *d)
{
    if (!d->idle)
        return;
    TAILQ_REMOVE(&n->idle, d, idle_link);
    d->idle = false;
    n->nidle--;
}

/* domain_destroy - forget a domain entirely */
static void domain_destroy(mv_net *n, domain *d)
{
    mv_net_fleet_drop(d);
    idle_unlink(n, d);
    mv_timer_stop(n->loop, &d->retry);
    mv_dict_del(n->domains, d->key);
    free(d);
}

/* net_domain_release - a job or session left: keep the domain idle, bounded */
static void net_domain_release(domain *d)
{
    mv_net *n = d->n;

    if (d->jobs > 0 || d->active > 0 || d->dns_inflight || d->idle || d->pins > 0)
        return;
    mv_timer_stop(n->loop, &d->retry);
    d->idle = true;
    TAILQ_INSERT_HEAD(&n->idle, d, idle_link);
    n->nidle++;
    while (n->nidle > n->p.idle_domains && !TAILQ_EMPTY(&n->idle))
        domain_destroy(n, TAILQ_LAST(&n->idle, idle_list));
}

/* mv_net_unpin - a callback is done with d */
void mv_net_unpin(domain *d)
{
    d->pins--;
    net_domain_release(d);
}

/* load_facts - what another process sharing the cache learned of d */
static void load_facts(mv_net *n, domain *d)
{
    mv_net_facts f;
    int64_t now = (int64_t)time(NULL);

    if (n->p.facts_load == NULL || !n->p.facts_load(n->p.store_arg, d->key, &f))
        return;
    d->catch_all = f.catch_all;
    if (f.refuses_until > now)
        d->refuses_until_ms = mv_loop_now() + (uint64_t)(f.refuses_until - now) * 1000;
}

/* mv_net_save_facts - tell the other processes what d taught us */
void mv_net_save_facts(mv_net *n, domain *d)
{
    uint64_t mono = mv_loop_now();
    mv_net_facts f = {d->catch_all, 0};

    if (n->p.facts_save == NULL)
        return;
    if (d->refuses_until_ms > mono)
        f.refuses_until = (int64_t)time(NULL) + (int64_t)((d->refuses_until_ms - mono + 999) / 1000);
    n->p.facts_save(n->p.store_arg, d->key, &f);
}

/* mv_net_domain_key - "name" or "name|hop" */
size_t mv_net_domain_key(char *buf, size_t size, const char *name, const char *hop)
{
    bool has_hop = hop != NULL && *hop != '\0';
    int n = snprintf(buf, size, "%s%s%s", name, has_hop ? "|" : "", has_hop ? hop : "");

    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* domain_get - the live domain, created if needed; NULL on ENOMEM */
static domain *domain_get(mv_net *n, const char *name, const char *hop)
{
    char key[560];
    domain *d;

    mv_net_domain_key(key, sizeof(key), name, hop); /* names and hops are bounded below it */
    if ((d = mv_dict_get(n->domains, key)) != NULL) {
        idle_unlink(n, d);
        return d;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return NULL;
    d->n = n;
    TAILQ_INIT(&d->dns_wait);
    TAILQ_INIT(&d->queue);
    d->catch_all = -1;
    d->port = n->p.port;
    snprintf(d->key, sizeof(d->key), "%s", key);
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->hop, sizeof(d->hop), "%s", hop);
    if (mv_dict_put(n->domains, d->key, d) < 0) {
        free(d);
        return NULL;
    }
    load_facts(n, d);
    return d;
}

/* build_targets - every MX address in order, minus what the guard refuses */
static void build_targets(domain *d)
{
    mv_net *n = d->n;

    d->ntargets = d->nprivate = 0;
    for (size_t i = 0; i < d->mx.nhosts; i++)
        for (size_t k = 0; k < d->mx.hosts[i].naddr; k++) {
            struct sockaddr *sa = (struct sockaddr *)&d->mx.hosts[i].addr[k];

            if (!mv_net_allowed(sa, n->p.allow_private)) {
                d->nprivate++;
                continue;
            }
            d->targets[d->ntargets++] = (target){i, k};
        }
}

/* ---- DNS ------------------------------------------------------------- */

/* proceed - the domain's MX answer is known: finish or queue the job;
 * with start, schedule at once (a caller queueing many schedules once, so
 * that the first session carries a full batch, not one recipient) */
static void proceed(job *j, bool start)
{
    domain *d = j->d;
    mv_net *n = j->n;

    switch (d->mx.status) {
    case MV_DNS_NXDOMAIN:
        if (d->hop[0] != '\0')
            mv_net_set_outcome(j, MV_R_NO_CONNECT, "next hop %s does not exist (NXDOMAIN)", d->hop);
        else
            mv_net_set_outcome(j, MV_R_INVALID_DOMAIN, "%s does not exist (NXDOMAIN)", d->name);
        break;
    case MV_DNS_NULLMX:
        mv_net_set_outcome(j, MV_R_NO_MAIL_SERVER, "%s accepts no mail (null MX, RFC 7505)", d->name);
        break;
    case MV_DNS_NOHOST:
        if (d->hop[0] != '\0')
            mv_net_set_outcome(j, MV_R_NO_CONNECT, "next hop %s has no address", d->hop);
        else
            mv_net_set_outcome(j, MV_R_NO_MAIL_SERVER, "%s has no mail server: %s", d->name, d->mx.detail);
        break;
    case MV_DNS_TEMP:
        mv_net_set_outcome(j, MV_R_DNS_ERROR, "DNS lookup for %s failed: %s", d->name, d->mx.detail);
        break;
    case MV_DNS_OK:
        if (!j->smtp) {
            mv_net_set_outcome(j, MV_R_UNVERIFIED,
                               "%s has mail servers; the mailbox was not asked (mode dns)", d->name);
            break;
        }
        if (d->refuses_until_ms > mv_loop_now()) {
            mv_net_set_outcome(j, MV_R_BLOCKED_BY_SERVER, "%s refused probes recently; left alone for now",
                               d->name);
            break;
        }
        if (d->ntargets == 0) {
            mv_net_set_outcome(j, MV_R_NO_CONNECT,
                               "every MX address of %s is private or special (%zu refused by "
                               "the SSRF guard; smtp.allow_private_targets is off)",
                               d->name, d->nprivate);
            break;
        }
        j->target = 0;
        TAILQ_INSERT_TAIL(&d->queue, j, link);
        if (start)
            mv_net_schedule_arrival(d);
        return;
    }
    (void)n;
    mv_net_complete(j);
}

/* addr_list - a host's addresses as text: "127.0.0.2, ::1" */
static void addr_list(const mv_mx_host *h, char *buf, size_t size)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t k = 0; k < h->naddr && off < size; k++) {
        const struct sockaddr_storage *a = &h->addr[k];
        const void *raw = a->ss_family == AF_INET6
                              ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
                              : (const void *)&((const struct sockaddr_in *)a)->sin_addr;
        char ip[INET6_ADDRSTRLEN] = "?";
        int w;

        inet_ntop(a->ss_family == AF_INET6 ? AF_INET6 : AF_INET, raw, ip, sizeof(ip));
        if ((w = snprintf(buf + off, size - off, "%s%s", k ? ", " : "", ip)) < 0)
            break;
        off += (size_t)w;
    }
    if (h->naddr == 0)
        snprintf(buf, size, "no address");
}

/* trace_hosts - each MX host with its preference and addresses */
static void trace_hosts(const domain *d)
{
    char name[MV_TRACE_TEXT_MAX + 8], addrs[MV_ADDRS_PER_HOST * (INET6_ADDRSTRLEN + 2) + 16];

    for (size_t i = 0; i < d->mx.nhosts; i++) {
        const mv_mx_host *h = &d->mx.hosts[i];

        mv_trace_escape(name, sizeof(name), h->name, strlen(h->name));
        addr_list(h, addrs, sizeof(addrs));
        if (d->hop[0] != '\0')
            mv_net_trace(d, 0, "dns: next hop %s: %s", name, addrs);
        else if (d->mx.implicit)
            mv_net_trace(d, 0, "dns: no MX; implicit MX %s (the domain's own address, RFC 5321 5.1): %s",
                         name, addrs);
        else
            mv_net_trace(d, 0, "dns: MX %u %s: %s", h->pref, name, addrs);
    }
}

/* trace_mx - the MX answer as dig would show it; kept for ttl seconds */
static void trace_mx(const domain *d, uint32_t ttl)
{
    char det[MV_TRACE_TEXT_MAX + 8];

    if (d->n->p.trace == NULL)
        return;
    mv_trace_escape(det, sizeof(det), d->mx.detail, strlen(d->mx.detail));
    switch (d->mx.status) {
    case MV_DNS_OK:
        trace_hosts(d);
        mv_net_trace(d, 0, "dns: ttl %u s, remembered %u s", d->mx.ttl, ttl);
        if (d->nprivate > 0)
            mv_net_trace(d, 0, "dns: %zu address(es) refused by the SSRF guard, %zu left to try", d->nprivate,
                         d->ntargets);
        break;
    case MV_DNS_NULLMX:
        mv_net_trace(d, 0, "dns: null MX (MX 0 .): the domain accepts no mail (RFC 7505), ttl %u s",
                     d->mx.ttl);
        break;
    case MV_DNS_NXDOMAIN:
        mv_net_trace(d, 0, "dns: NXDOMAIN: %s does not exist", d->hop[0] ? d->hop : d->name);
        break;
    case MV_DNS_NOHOST:
        mv_net_trace(d, 0, "dns: no mail host: %s", det[0] ? det : "no MX and no address");
        break;
    case MV_DNS_TEMP:
        mv_net_trace(d, 0, "dns: temporary failure: %s (not remembered)", det[0] ? det : "no answer");
        break;
    }
}

/* on_mx - the domain's lookup ended: remember it, release the waiters */
static void on_mx(void *arg, const mv_mx_result *res)
{
    domain *d = arg;
    mv_net *n = d->n;
    uint32_t ttl = res->ttl;
    job *j;

    d->pins++;
    d->dns_inflight = false;
    d->mx = *res;
    d->mx_known = true;
    mv_net_dns_result(n, d->hop[0] ? d->hop : d->name, res);
    if (ttl < n->p.dns_min_ttl)
        ttl = n->p.dns_min_ttl;
    if (ttl > n->p.dns_max_ttl)
        ttl = n->p.dns_max_ttl;
    /* a failed lookup is not remembered: the next address asks again */
    d->mx_expires_ms = res->status == MV_DNS_TEMP ? 0 : mv_loop_now() + (uint64_t)ttl * 1000;
    build_targets(d);
    trace_mx(d, ttl);
    while ((j = TAILQ_FIRST(&d->dns_wait)) != NULL) {
        TAILQ_REMOVE(&d->dns_wait, j, link);
        proceed(j, false);
    }
    mv_net_schedule(d);
    mv_net_unpin(d);
}

/* literal_hop - a next hop that is an IP address: its facts at once */
static bool literal_hop(domain *d, const char *hname)
{
    mv_mx_host *h = &d->mx.hosts[0];
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addr[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addr[0];

    memset(&d->mx, 0, sizeof(d->mx));
    if (inet_pton(AF_INET, hname, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, hname, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        return false;
    d->mx.status = MV_DNS_OK;
    d->mx.nhosts = 1;
    h->naddr = 1;
    snprintf(h->name, sizeof(h->name), "%s", hname);
    d->mx_known = true;
    d->mx_expires_ms = UINT64_MAX;
    build_targets(d);
    return true;
}

/* split_hop - "[host]:port", "host:port" or "host" into host and port */
static bool split_hop(const char *hop, char *hname, size_t hsize, unsigned *port)
{
    const char *colon, *end;
    char *stop;

    if (hop[0] == '[') {
        if ((end = strchr(hop, ']')) == NULL)
            return false;
        snprintf(hname, hsize, "%.*s", (int)(end - hop - 1), hop + 1);
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strrchr(hop, ':');
        if (colon != NULL && strchr(hop, ':') != colon)
            colon = NULL; /* a bare IPv6 address: no port */
        snprintf(hname, hsize, "%.*s", colon ? (int)(colon - hop) : (int)strlen(hop), hop);
    }
    if (colon != NULL) {
        unsigned long p = strtoul(colon + 1, &stop, 10);

        if (*stop != '\0' || p == 0 || p > 65535)
            return false;
        *port = (unsigned)p;
    }
    return hname[0] != '\0';
}

/* attach - hang a new job on its domain: lookup, wait, or go on */
static void attach(job *j, const char *dom)
{
    mv_net *n = j->n;
    domain *d = domain_get(n, dom, j->hop);
    char hname[256];

    if (d == NULL) {
        mv_net_set_outcome(j, MV_R_DNS_ERROR, "out of memory");
        mv_net_complete(j);
        return;
    }
    j->d = d;
    d->jobs++;
    if (d->hop[0] != '\0' && !d->mx_known) {
        if (!split_hop(d->hop, hname, sizeof(hname), &d->port)) {
            mv_net_set_outcome(j, MV_R_NO_CONNECT, "next hop \"%s\" is not [address]:port or host:port",
                               d->hop);
            mv_net_complete(j);
            return;
        }
        if (literal_hop(d, hname)) {
            mv_net_trace(d, 0, "%s: next hop %s, an address: no DNS", j->mailbox, hname);
            proceed(j, true);
            return;
        }
    }
    if (d->mx_known && mv_loop_now() < d->mx_expires_ms) {
        if (n->p.trace != NULL)
            mv_net_trace(d, 0, "%s: dns: %s answer known (%llu s left)", j->mailbox,
                         d->hop[0] ? "next hop" : "MX",
                         (unsigned long long)(d->mx_expires_ms - mv_loop_now()) / 1000);
        proceed(j, true);
        return;
    }
    TAILQ_INSERT_TAIL(&d->dns_wait, j, link);
    if (!d->dns_inflight) {
        d->dns_inflight = true;
        if (d->hop[0] != '\0' && split_hop(d->hop, hname, sizeof(hname), &d->port)) {
            mv_net_trace(d, 0, "%s: dns: A/AAAA lookup for next hop %s", j->mailbox, hname);
            mv_dns_lookup_host(n->dns, hname, on_mx, d);
        } else {
            mv_net_trace(d, 0, "%s: dns: MX lookup", j->mailbox);
            mv_dns_lookup_mx(n->dns, d->name, on_mx, d);
        }
    } else {
        mv_net_trace(d, 0, "%s: dns: waiting for the lookup in flight", j->mailbox);
    }
}

/* ---- jobs ------------------------------------------------------------- */

/* job_key - single-flight key: mode, mailbox, next hop */
static void job_key(char *key, size_t size, bool smtp, const char *mailbox, const char *hop)
{
    snprintf(key, size, "%c:%s%s%s", smtp ? 's' : 'd', mailbox, *hop ? "|" : "", hop);
}

/* job_new - a job for a mailbox; NULL on ENOMEM */
static job *job_new(mv_net *n, const char *mailbox, const char *dom, const char *hop, bool smtp,
                    bool smtputf8)
{
    job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->n = n;
    j->smtp = smtp;
    j->smtputf8 = smtputf8;
    j->out.catch_all = -1;
    snprintf(j->mailbox, sizeof(j->mailbox), "%s", mailbox);
    snprintf(j->domain, sizeof(j->domain), "%s", dom);
    snprintf(j->hop, sizeof(j->hop), "%s", hop ? hop : "");
    job_key(j->key, sizeof(j->key), smtp, mailbox, j->hop);
    return j;
}

/* on_reprobe - a greylisting delay is over: ask again, in the background */
static void on_reprobe(void *arg)
{
    job *j = arg;

    mv_dict_del(j->n->waiting, j->key);
    attach(j, j->domain);
}

/* mv_net_reprobe_later - a background copy of j, started after seconds */
void mv_net_reprobe_later(job *j, unsigned seconds)
{
    mv_net *n = j->n;
    job *b;

    if (mv_dict_get(n->waiting, j->key) != NULL ||
        (b = job_new(n, j->mailbox, j->domain, j->hop, j->smtp, j->smtputf8)) == NULL)
        return;
    b->background = true;
    b->grey_round = j->grey_round + 1;
    b->grey_first = j->grey_first ? j->grey_first : (int64_t)time(NULL);
    if (mv_dict_put(n->waiting, b->key, b) < 0) {
        free(b);
        return;
    }
    mv_timer_start(n->loop, &b->timer, (uint64_t)seconds * 1000, on_reprobe, b);
}

/* mv_net_new - the network half on a loop (borrowing dns and tls) */
mv_net *mv_net_new(mv_loop *loop, mv_dns *dns, const mv_net_params *p)
{
    mv_net *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->loop = loop;
    n->dns = dns;
    n->p = *p;
    TAILQ_INIT(&n->idle);
    LIST_INIT(&n->open);
    snprintf(n->helo, sizeof(n->helo), "%s", p->helo ? p->helo : "localhost");
    snprintf(n->from, sizeof(n->from), "%s", p->mail_from ? p->mail_from : "");
    snprintf(n->fallback, sizeof(n->fallback), "%s", p->fallback_from ? p->fallback_from : "");
    snprintf(n->resolver, sizeof(n->resolver), "%s", p->resolver && *p->resolver ? p->resolver : "(system)");
    if (n->p.host_rate == 0)
        n->p.host_rate = 1;
    if (n->p.max_rcpt == 0)
        n->p.max_rcpt = 1;
    n->jobs = mv_dict_new();
    n->domains = mv_dict_new();
    n->hosts = mv_dict_new();
    n->waiting = mv_dict_new();
    if (!n->jobs || !n->domains || !n->hosts || !n->waiting) {
        mv_net_free(n);
        return NULL;
    }
    return n;
}

/* mv_net_verify - DNS (and SMTP if smtp) for a mailbox; cb may be NULL */
void mv_net_verify(mv_net *n, const char *mailbox, const char *dom, const char *hop, bool smtp, bool smtputf8,
                   mv_net_cb cb, void *arg)
{
    char key[MV_MAILBOX_MAX + 310];
    job *j;
    waiter *w = NULL;

    job_key(key, sizeof(key), smtp, mailbox, hop ? hop : "");
    if (cb != NULL && (w = malloc(sizeof(*w))) == NULL) {
        mv_net_outcome o = {.reason = MV_R_TIMEOUT, .catch_all = -1};

        snprintf(o.detail, sizeof(o.detail), "out of memory");
        cb(arg, &o);
        return;
    }
    if (w != NULL)
        *w = (waiter){.cb = cb, .arg = arg};
    if ((j = mv_dict_get(n->jobs, key)) != NULL) {
        /* single-flight: the same address is already being asked */
        if (w != NULL)
            SLIST_INSERT_HEAD(&j->waiters, w, link);
        return;
    }
    if ((j = job_new(n, mailbox, dom, hop, smtp, smtputf8)) == NULL || mv_dict_put(n->jobs, j->key, j) < 0) {
        mv_net_outcome o = {.reason = MV_R_TIMEOUT, .catch_all = -1};

        free(j);
        snprintf(o.detail, sizeof(o.detail), "out of memory");
        if (w != NULL) {
            cb(arg, &o);
            free(w);
        }
        return;
    }
    SLIST_INIT(&j->waiters);
    if (w != NULL)
        SLIST_INSERT_HEAD(&j->waiters, w, link);
    if (n->closing) {
        mv_net_set_outcome(j, MV_R_TIMEOUT, "shutting down");
        mv_net_complete(j);
        return;
    }
    attach(j, dom);
}

/* mv_net_set_rules - the reply rules and profiles from now on (loop thread) */
void mv_net_set_rules(mv_net *n, const mv_rules *local, const mv_rules *table)
{
    n->rules_local = local;
    n->rules_table = table;
}

/* mv_net_sessions - SMTP sessions open (any thread; approximate) */
size_t mv_net_sessions(const mv_net *n)
{
    return atomic_load(&((mv_net *)n)->sessions);
}

/* mv_net_errors - DNS and SMTP failures so far, by cause (any thread) */
void mv_net_errors(const mv_net *n, unsigned long long counts[MV_NETERR_COUNT])
{
    for (int i = 0; i < MV_NETERR_COUNT; i++)
        counts[i] = atomic_load(&((mv_net *)n)->errors[i]);
}

/* mv_net_stats - jobs in flight, sessions open, domains known */
void mv_net_stats(const mv_net *n, size_t *jobs, size_t *sessions, size_t *domains)
{
    *jobs = mv_dict_count(n->jobs) + mv_dict_count(n->waiting);
    *sessions = n->sessions;
    *domains = mv_dict_count(n->domains);
}

/* collect - gather dict values into an array (the dict may not change
 * while it is walked, and completing a job changes it) */
static void collect(void *value, void *arg)
{
    void ***p = arg;

    *(*p)++ = value;
}

/* all_values - a dict's values, malloc'd; NULL when empty or ENOMEM */
static void **all_values(mv_dict *dict, size_t *count)
{
    void **all, **p;

    *count = mv_dict_count(dict);
    if (*count == 0 || (all = calloc(*count, sizeof(*all))) == NULL)
        return NULL;
    p = all;
    mv_dict_each(dict, collect, &p);
    return all;
}

/* end_list - complete every job of a domain list (queue or DNS wait) */
static void end_list(struct job_list *list)
{
    job *j;

    while ((j = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, j, link);
        mv_net_set_outcome(j, MV_R_TIMEOUT, "shutting down");
        mv_net_complete(j);
    }
}

/* mv_net_close - stop: cancel sessions, end queued and waiting jobs */
void mv_net_close(mv_net *n)
{
    size_t count;
    void **all;

    n->closing = true;
    mv_net_incident_stop(n);
    while (!LIST_EMPTY(&n->open))
        mv_probe_cancel(LIST_FIRST(&n->open)->probe); /* session_done unlinks it */
    if ((all = all_values(n->waiting, &count)) != NULL) {
        for (size_t i = 0; i < count; i++) {
            job *j = all[i];

            mv_dict_del(n->waiting, j->key);
            mv_net_set_outcome(j, MV_R_TIMEOUT, "shutting down");
            mv_net_complete(j);
        }
        free(all);
    }
    if ((all = all_values(n->domains, &count)) != NULL) {
        for (size_t i = 0; i < count; i++) {
            domain *d = all[i];

            d->pins++;
            mv_net_fleet_drop(d);
            end_list(&d->queue);
            d->pins--;
        }
        free(all);
    }
}

/* mv_net_free - release; after mv_net_close and after the resolver is
 * gone (its cancelled lookups end the jobs that waited for DNS) */
void mv_net_free(mv_net *n)
{
    size_t count;
    void **all;

    if (n == NULL)
        return;
    if (n->jobs && n->domains && n->hosts && n->waiting)
        mv_net_close(n);
    if (n->domains != NULL && (all = all_values(n->domains, &count)) != NULL) {
        for (size_t i = 0; i < count; i++) {
            domain *d = all[i];

            d->pins++;
            end_list(&d->dns_wait);
            domain_destroy(n, d);
        }
        free(all);
    }
    if (n->hosts != NULL && (all = all_values(n->hosts, &count)) != NULL) {
        for (size_t i = 0; i < count; i++)
            free(all[i]);
        free(all);
    }
    mv_dict_free(n->jobs);
    mv_dict_free(n->domains);
    mv_dict_free(n->hosts);
    mv_dict_free(n->waiting);
    free(n);
}
