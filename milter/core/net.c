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
 * Scheduling (schedule()) runs whenever something changed for a domain:
 * it batches queued jobs that want the same target into one session, as
 * long as the domain and the host have room; otherwise it sets a timer
 * for when they will. Targets are the MX hosts' addresses in preference
 * order; a job walks them on connection failures and temporary errors.
 */
#include "net.h"
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

#define MAX_TARGETS (MV_MX_MAX * MV_ADDRS_PER_HOST)

typedef struct waiter {
    mv_net_cb cb;
    void *arg;
    struct waiter *next;
} waiter;

typedef struct domain domain;
typedef struct job job;

struct job {
    mv_net *n;
    char key[MV_MAILBOX_MAX + 310];
    char mailbox[MV_MAILBOX_MAX + 1];
    char domain[256];
    char hop[300];              /* next hop instead of MX, or "" */
    bool smtp, smtputf8, tls_off, background, retried_grey;
    waiter *waiters;
    domain *d;
    size_t target;              /* next target to try */
    job *next;                  /* in the domain's DNS wait list or queue */
    mv_net_outcome out;
    mv_timer timer;             /* background re-probe delay */
};

typedef struct {
    size_t host;                /* index in mx.hosts */
    size_t addr;                /* index in that host's addresses */
} target;

struct domain {
    mv_net *n;
    char key[560];              /* name, or name|next-hop */
    char name[256];
    char hop[300];              /* the configured next hop, or "" */
    unsigned port;
    mv_mx_result mx;
    bool mx_known, dns_inflight;
    uint64_t mx_expires_ms;
    target targets[MAX_TARGETS];
    size_t ntargets, nprivate;
    job *dns_head, *dns_tail;   /* waiting for the MX answer */
    job *q_head, *q_tail;       /* waiting for a session */
    size_t jobs;                /* jobs attached (waiting or in a session) */
    unsigned active;            /* sessions open */
    mv_timer retry;             /* limits said "later" */
    int catch_all;              /* learned: 1, 0, -1 unknown */
    uint64_t refuses_until_ms;  /* blocked us: leave alone until then */
    domain *idle_prev, *idle_next;
    bool idle;
    unsigned pins;              /* a callback is using it: don't free */
};

typedef struct {
    char key[INET6_ADDRSTRLEN + 8];
    unsigned active;
    double tokens;
    uint64_t refill_ms;
    uint64_t backoff_until_ms;
} host;

typedef struct session {
    mv_net *n;
    domain *d;
    host *h;
    size_t target;
    job *jobs[MV_PROBE_RCPT_MAX];
    size_t njobs;
    bool tls_off;
    mv_probe *probe;
    struct session *prev, *next;    /* every open session, for shutdown */
} session;

struct mv_net {
    mv_loop *loop;
    mv_dns *dns;
    mv_net_params p;
    char helo[256], from[256], fallback[256];
    mv_dict *jobs, *domains, *hosts;
    mv_dict *waiting;           /* background re-probes waiting for their time */
    domain *idle_head, *idle_tail;
    size_t nidle;
    atomic_size_t sessions;     /* read by other threads for metrics */
    session *open;
    bool closing;
};

static void schedule(domain *d);
static void domain_release(domain *d);

/* outcome - fill reason and detail */
__attribute__((format(printf, 3, 4)))
static void outcome(job *j, mv_reason r, const char *fmt, ...)
{
    va_list ap;

    j->out.reason = r;
    va_start(ap, fmt);
    vsnprintf(j->out.detail, sizeof(j->out.detail), fmt, ap);
    va_end(ap);
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

/* complete - the job's one ending: store, answer every waiter, free */
static void complete(job *j)
{
    mv_net *n = j->n;
    domain *d = j->d;
    waiter *w = j->waiters;

    mv_timer_stop(n->loop, &j->timer);
    if (d != NULL && d->mx_known)
        mx_list(j);
    if (n->p.store != NULL && !n->closing)
        n->p.store(n->p.store_arg, j->mailbox, j->hop, j->smtp, &j->out);
    if (!j->background)
        mv_dict_del(n->jobs, j->key);
    while (w != NULL) {
        waiter *next = w->next;

        w->cb(w->arg, &j->out);
        free(w);
        w = next;
    }
    if (d != NULL) {
        d->jobs--;
        domain_release(d);
    }
    free(j);
}

/* ---- domains ---------------------------------------------------------- */

/* idle_unlink - take d off the idle list */
static void idle_unlink(mv_net *n, domain *d)
{
    if (!d->idle)
        return;
    if (d->idle_prev) d->idle_prev->idle_next = d->idle_next;
    else n->idle_head = d->idle_next;
    if (d->idle_next) d->idle_next->idle_prev = d->idle_prev;
    else n->idle_tail = d->idle_prev;
    d->idle = false;
    d->idle_prev = d->idle_next = NULL;
    n->nidle--;
}

/* domain_destroy - forget a domain entirely */
static void domain_destroy(mv_net *n, domain *d)
{
    idle_unlink(n, d);
    mv_timer_stop(n->loop, &d->retry);
    mv_dict_del(n->domains, d->key);
    free(d);
}

/* domain_release - a job or session left: keep the domain idle, bounded */
static void domain_release(domain *d)
{
    mv_net *n = d->n;

    if (d->jobs > 0 || d->active > 0 || d->dns_inflight || d->idle || d->pins > 0)
        return;
    mv_timer_stop(n->loop, &d->retry);
    d->idle = true;
    d->idle_prev = NULL;
    d->idle_next = n->idle_head;
    if (n->idle_head) n->idle_head->idle_prev = d;
    else n->idle_tail = d;
    n->idle_head = d;
    n->nidle++;
    while (n->nidle > n->p.idle_domains && n->idle_tail != NULL)
        domain_destroy(n, n->idle_tail);
}

/* unpin - a callback is done with d */
static void unpin(domain *d)
{
    d->pins--;
    domain_release(d);
}

/* domain_get - the live domain, created if needed; NULL on ENOMEM */
static domain *domain_get(mv_net *n, const char *name, const char *hop)
{
    char key[560];
    domain *d;

    snprintf(key, sizeof(key), "%s%s%s", name, *hop ? "|" : "", hop);
    if ((d = mv_dict_get(n->domains, key)) != NULL) {
        idle_unlink(n, d);
        return d;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return NULL;
    d->n = n;
    d->catch_all = -1;
    d->port = n->p.port;
    snprintf(d->key, sizeof(d->key), "%s", key);
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->hop, sizeof(d->hop), "%s", hop);
    if (mv_dict_put(n->domains, d->key, d) < 0) {
        free(d);
        return NULL;
    }
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

/* ---- hosts ------------------------------------------------------------ */

/* target_addr - the socket address of a target, with our port */
static void target_addr(const domain *d, size_t t, struct sockaddr_storage *out, char *txt, size_t tlen)
{
    const struct sockaddr_storage *a = &d->mx.hosts[d->targets[t].host].addr[d->targets[t].addr];
    char ip[INET6_ADDRSTRLEN] = "?";

    *out = *a;
    if (out->ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)out;

        s->sin_port = htons((uint16_t)d->port);
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;

        s->sin6_port = htons((uint16_t)d->port);
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
    }
    snprintf(txt, tlen, "%s:%u", ip, d->port);
}

/* host_get - the live host for an address text; NULL on ENOMEM */
static host *host_get(mv_net *n, const char *ip)
{
    host *h = mv_dict_get(n->hosts, ip);

    if (h != NULL)
        return h;
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    snprintf(h->key, sizeof(h->key), "%s", ip);
    h->tokens = n->p.host_rate;
    h->refill_ms = mv_loop_now();
    if (mv_dict_put(n->hosts, h->key, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* host_wait_ms - 0 if a session may start now, else how long to wait */
static uint64_t host_wait_ms(mv_net *n, host *h)
{
    uint64_t now = mv_loop_now();
    double rate = n->p.host_rate;

    h->tokens += (double)(now - h->refill_ms) * rate / 1000.0;
    if (h->tokens > rate)
        h->tokens = rate;
    h->refill_ms = now;
    if (h->active >= n->p.host_sessions)
        return 50;              /* re-checked when a session ends anyway */
    if (h->tokens >= 1.0)
        return 0;
    return (uint64_t)((1.0 - h->tokens) * 1000.0 / rate) + 1;
}

/* ---- sessions --------------------------------------------------------- */

/* advance - the job's target failed: next one, or end with reason r */
static void advance(job *j, mv_reason r, const mv_probe_result *pr, const char *host_name)
{
    domain *d = j->d;

    j->target++;
    if (j->target < d->ntargets) {
        j->next = NULL;
        if (d->q_tail) d->q_tail->next = j;
        else d->q_head = j;
        d->q_tail = j;
        return;
    }
    snprintf(j->out.host, sizeof(j->out.host), "%s", host_name);
    if (pr->last.code != 0)
        j->out.smtp = pr->last;
    outcome(j, r, "%s at %s: %s%s%s", mv_probe_status_name(pr->status), pr->stage,
            pr->error[0] ? pr->error : pr->last.text, d->ntargets > 1 ? "; every MX host tried" : "",
            "");
    complete(j);
}

/* requeue_front - put a job back at the head of its domain's queue */
static void requeue_front(job *j)
{
    domain *d = j->d;

    j->next = d->q_head;
    d->q_head = j;
    if (d->q_tail == NULL)
        d->q_tail = j;
}

static void reprobe_later(job *j, unsigned seconds);

/* rcpt_done - one recipient's answer within a finished session */
static void rcpt_done(session *s, job *j, const mv_probe_result *pr, const mv_smtp_answer *a,
                      const char *host_name)
{
    domain *d = s->d;
    mv_reason r = mv_classify_rcpt(a);

    j->out.smtp = *a;
    j->out.tls = pr->tls;
    snprintf(j->out.tls_version, sizeof(j->out.tls_version), "%s", pr->tls_version);
    snprintf(j->out.host, sizeof(j->out.host), "%s", host_name);
    if (r == MV_R_TEMPORARY_ERROR && j->target + 1 < d->ntargets) {
        advance(j, r, pr, host_name);   /* a 4xx: ask the next MX */
        return;
    }
    if (r == MV_R_ACCEPTED_EMAIL && d->catch_all == 1)
        r = MV_R_ACCEPT_ALL;
    j->out.catch_all = d->catch_all;
    if (r == MV_R_GREYLISTED) {
        j->out.retry_after = mv_classify_retry_after(a);
        outcome(j, r, "greylisted by %s; re-probe in %u s", host_name,
                j->out.retry_after ? j->out.retry_after : s->n->p.greylist_retry_s);
        if (!j->retried_grey)
            reprobe_later(j, j->out.retry_after ? j->out.retry_after : s->n->p.greylist_retry_s);
    } else {
        outcome(j, r, "%d %d.%d.%d from %s", a->code, a->enh[0], a->enh[1], a->enh[2], host_name);
    }
    complete(j);
}

/* session_done - a probe ended: classify, walk on, or requeue */
static void session_done(void *arg, const mv_probe_result *pr)
{
    session *s = arg;
    mv_net *n = s->n;
    domain *d = s->d;
    const char *hname = d->mx.hosts[d->targets[s->target].host].name;

    d->pins++;
    if (s->prev) s->prev->next = s->next;
    else n->open = s->next;
    if (s->next) s->next->prev = s->prev;
    s->h->active--;
    d->active--;
    n->sessions--;
    if (pr->status == MV_PROBE_DONE && pr->catch_all >= 0)
        d->catch_all = pr->catch_all;   /* learned once, used by every later RCPT */
    if (pr->status == MV_PROBE_TIMEOUT || pr->status == MV_PROBE_BLOCKED)
        s->h->backoff_until_ms = mv_loop_now() + (uint64_t)n->p.backoff_s * 1000;
    if (pr->status == MV_PROBE_BLOCKED)
        d->refuses_until_ms = mv_loop_now() + (uint64_t)n->p.backoff_s * 1000;
    for (size_t i = 0; i < s->njobs; i++) {
        job *j = s->jobs[i];

        if (n->closing) {
            outcome(j, MV_R_TIMEOUT, "shutting down");
            complete(j);
        } else if (pr->status == MV_PROBE_DONE && i < pr->nanswered) {
            rcpt_done(s, j, pr, &pr->rcpt[i], hname);
        } else if (pr->status == MV_PROBE_DONE) {
            requeue_front(j);   /* "too many recipients": a new session */
        } else if (pr->status == MV_PROBE_TLS && !s->tls_off && n->p.tls == MV_TLS_OPPORTUNISTIC &&
                   !(n->p.tls_required && mv_strset_has(n->p.tls_required, d->name, strlen(d->name)))) {
            j->tls_off = true;  /* as MTAs do: opportunistic TLS failed, try plain */
            requeue_front(j);
        } else if (pr->status == MV_PROBE_BLOCKED) {
            snprintf(j->out.host, sizeof(j->out.host), "%s", hname);
            j->out.smtp = pr->last;
            outcome(j, MV_R_BLOCKED_BY_SERVER, "%s refused the probe at %s: %d %s", hname,
                    pr->stage, pr->last.code, pr->error[0] ? pr->error : pr->last.text);
            complete(j);
        } else {
            advance(j, mv_classify_session(pr), pr, hname);
        }
    }
    free(s);
    schedule(d);
    unpin(d);
}

/* take_batch - queued jobs wanting target t (and the same TLS mode) */
static size_t take_batch(domain *d, size_t t, bool tls_off, job **out, size_t max)
{
    job **link = &d->q_head, *prev = NULL;
    size_t k = 0;

    while (*link != NULL && k < max) {
        job *j = *link;

        if (j->target == t && j->tls_off == tls_off) {
            *link = j->next;
            if (d->q_tail == j)
                d->q_tail = prev;
            j->next = NULL;
            out[k++] = j;
        } else {
            prev = j;
            link = &j->next;
        }
    }
    return k;
}

/* skip_backed_off - move jobs off targets whose host is backing off */
static bool skip_backed_off(domain *d, job *j, host **hp, struct sockaddr_storage *sa)
{
    mv_net *n = d->n;
    char ip[INET6_ADDRSTRLEN + 8];
    uint64_t now = mv_loop_now();

    while (j->target < d->ntargets) {
        target_addr(d, j->target, sa, ip, sizeof(ip));
        if ((*hp = host_get(n, ip)) == NULL)
            return false;
        if ((*hp)->backoff_until_ms <= now)
            return true;
        j->target++;
    }
    return false;
}

/* start_session - one session for a batch; false if limits say wait */
static bool start_session(domain *d, uint64_t *wait)
{
    mv_net *n = d->n;
    job *head = d->q_head;
    host *h = NULL;
    struct sockaddr_storage sa;
    session *s;
    const char *rc[MV_PROBE_RCPT_MAX];
    mv_probe_params pp;

    if (!skip_backed_off(d, head, &h, &sa)) {
        d->q_head = head->next;
        if (d->q_tail == head)
            d->q_tail = NULL;
        head->next = NULL;
        outcome(head, MV_R_BLOCKED_BY_SERVER, "every MX host of %s is backing off after refusing or "
                "tarpitting probes", d->name);
        complete(head);
        return true;
    }
    if ((*wait = host_wait_ms(n, h)) > 0)
        return false;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return false;
    *s = (session){n, d, h, head->target, {0}, 0, head->tls_off, NULL, NULL, NULL};
    s->njobs = take_batch(d, head->target, head->tls_off, s->jobs,
                          n->p.max_rcpt < MV_PROBE_RCPT_MAX ? n->p.max_rcpt : MV_PROBE_RCPT_MAX);
    pp = (mv_probe_params){n->helo, n->from, n->fallback[0] ? n->fallback : NULL, n->p.tls,
                           n->p.tls_ctx, n->p.connect_ms, n->p.reply_ms, n->p.catch_all && d->catch_all < 0,
                           false};
    if (s->tls_off)
        pp.tls = MV_TLS_OFF;
    else if (n->p.tls_required && mv_strset_has(n->p.tls_required, d->name, strlen(d->name)))
        pp.tls = MV_TLS_REQUIRED;
    for (size_t i = 0; i < s->njobs; i++) {
        rc[i] = s->jobs[i]->mailbox;
        pp.smtputf8 |= s->jobs[i]->smtputf8;
    }
    h->tokens -= 1.0;
    h->active++;
    d->active++;
    n->sessions++;
    s->next = n->open;
    if (n->open)
        n->open->prev = s;
    n->open = s;
    s->probe = mv_probe_start(n->loop, &pp, (struct sockaddr *)&sa,
                              d->mx.hosts[d->targets[s->target].host].name, rc, s->njobs,
                              session_done, s);
    if (s->probe == NULL) {     /* out of memory; no callback will come */
        mv_probe_result pr = {.status = MV_PROBE_NO_CONNECT, .stage = "connect", .catch_all = -1};

        snprintf(pr.error, sizeof(pr.error), "out of memory");
        session_done(s, &pr);
    }
    return true;
}

/* on_retry - the wait the limits asked for is over */
static void on_retry(void *arg)
{
    domain *d = arg;

    d->pins++;
    schedule(d);
    unpin(d);
}

/* schedule - start what sessions the limits allow; wait for the rest */
static void schedule(domain *d)
{
    mv_net *n = d->n;
    uint64_t wait = 0;

    if (n->closing)
        return;
    while (d->q_head != NULL && d->active < n->p.domain_sessions)
        if (!start_session(d, &wait))
            break;
    if (d->q_head != NULL && wait > 0 && !mv_timer_armed(&d->retry))
        mv_timer_start(n->loop, &d->retry, wait, on_retry, d);
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
            outcome(j, MV_R_NO_CONNECT, "next hop %s does not exist (NXDOMAIN)", d->hop);
        else
            outcome(j, MV_R_INVALID_DOMAIN, "%s does not exist (NXDOMAIN)", d->name);
        break;
    case MV_DNS_NULLMX:
        outcome(j, MV_R_NO_MAIL_SERVER, "%s accepts no mail (null MX, RFC 7505)", d->name);
        break;
    case MV_DNS_NOHOST:
        if (d->hop[0] != '\0')
            outcome(j, MV_R_NO_CONNECT, "next hop %s has no address", d->hop);
        else
            outcome(j, MV_R_NO_MAIL_SERVER, "%s has no mail server: %s", d->name, d->mx.detail);
        break;
    case MV_DNS_TEMP:
        outcome(j, MV_R_DNS_ERROR, "DNS lookup for %s failed: %s", d->name, d->mx.detail);
        break;
    case MV_DNS_OK:
        if (!j->smtp) {
            outcome(j, MV_R_UNVERIFIED, "%s has mail servers; the mailbox was not asked (mode dns)", d->name);
            break;
        }
        if (d->refuses_until_ms > mv_loop_now()) {
            outcome(j, MV_R_BLOCKED_BY_SERVER, "%s refused probes recently; left alone for now", d->name);
            break;
        }
        if (d->ntargets == 0) {
            outcome(j, MV_R_NO_CONNECT, "every MX address of %s is private or special (%zu refused by "
                    "the SSRF guard; smtp.allow_private_targets is off)", d->name, d->nprivate);
            break;
        }
        j->target = 0;
        j->next = NULL;
        if (d->q_tail) d->q_tail->next = j;
        else d->q_head = j;
        d->q_tail = j;
        if (start)
            schedule(d);
        return;
    }
    (void)n;
    complete(j);
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
    if (ttl < n->p.dns_min_ttl)
        ttl = n->p.dns_min_ttl;
    if (ttl > n->p.dns_max_ttl)
        ttl = n->p.dns_max_ttl;
    /* a failed lookup is not remembered: the next address asks again */
    d->mx_expires_ms = res->status == MV_DNS_TEMP ? 0 : mv_loop_now() + (uint64_t)ttl * 1000;
    build_targets(d);
    while ((j = d->dns_head) != NULL) {
        d->dns_head = j->next;
        if (d->dns_head == NULL)
            d->dns_tail = NULL;
        j->next = NULL;
        proceed(j, false);
    }
    schedule(d);
    unpin(d);
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
            colon = NULL;       /* a bare IPv6 address: no port */
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
        outcome(j, MV_R_DNS_ERROR, "out of memory");
        complete(j);
        return;
    }
    j->d = d;
    d->jobs++;
    if (d->hop[0] != '\0' && !d->mx_known) {
        if (!split_hop(d->hop, hname, sizeof(hname), &d->port)) {
            outcome(j, MV_R_NO_CONNECT, "next hop \"%s\" is not [address]:port or host:port", d->hop);
            complete(j);
            return;
        }
        if (literal_hop(d, hname)) {
            proceed(j, true);
            return;
        }
    }
    if (d->mx_known && mv_loop_now() < d->mx_expires_ms) {
        proceed(j, true);
        return;
    }
    j->next = NULL;
    if (d->dns_tail) d->dns_tail->next = j;
    else d->dns_head = j;
    d->dns_tail = j;
    if (!d->dns_inflight) {
        d->dns_inflight = true;
        if (d->hop[0] != '\0' && split_hop(d->hop, hname, sizeof(hname), &d->port))
            mv_dns_lookup_host(n->dns, hname, on_mx, d);
        else
            mv_dns_lookup_mx(n->dns, d->name, on_mx, d);
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

/* reprobe_later - a background copy of j, started after seconds */
static void reprobe_later(job *j, unsigned seconds)
{
    mv_net *n = j->n;
    job *b;

    if (mv_dict_get(n->waiting, j->key) != NULL ||
        (b = job_new(n, j->mailbox, j->domain, j->hop, j->smtp, j->smtputf8)) == NULL)
        return;
    b->background = true;
    b->retried_grey = true;     /* one re-probe per greylisting, no loops */
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
    snprintf(n->helo, sizeof(n->helo), "%s", p->helo ? p->helo : "localhost");
    snprintf(n->from, sizeof(n->from), "%s", p->mail_from ? p->mail_from : "");
    snprintf(n->fallback, sizeof(n->fallback), "%s", p->fallback_from ? p->fallback_from : "");
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
void mv_net_verify(mv_net *n, const char *mailbox, const char *dom, const char *hop,
                   bool smtp, bool smtputf8, mv_net_cb cb, void *arg)
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
        *w = (waiter){cb, arg, NULL};
    if ((j = mv_dict_get(n->jobs, key)) != NULL) {
        /* single-flight: the same address is already being asked */
        if (w != NULL) {
            w->next = j->waiters;
            j->waiters = w;
        }
        return;
    }
    if ((j = job_new(n, mailbox, dom, hop, smtp, smtputf8)) == NULL ||
        mv_dict_put(n->jobs, j->key, j) < 0) {
        mv_net_outcome o = {.reason = MV_R_TIMEOUT, .catch_all = -1};

        free(j);
        snprintf(o.detail, sizeof(o.detail), "out of memory");
        if (w != NULL) {
            cb(arg, &o);
            free(w);
        }
        return;
    }
    j->waiters = w;
    if (n->closing) {
        outcome(j, MV_R_TIMEOUT, "shutting down");
        complete(j);
        return;
    }
    attach(j, dom);
}

/* mv_net_sessions - SMTP sessions open (any thread; approximate) */
size_t mv_net_sessions(const mv_net *n)
{
    return atomic_load(&((mv_net *)n)->sessions);
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
static void end_list(domain *d, job **head, job **tail)
{
    job *j;

    while ((j = *head) != NULL) {
        *head = j->next;
        if (*head == NULL)
            *tail = NULL;
        j->next = NULL;
        outcome(j, MV_R_TIMEOUT, "shutting down");
        complete(j);
    }
    (void)d;
}

/* mv_net_close - stop: cancel sessions, end queued and waiting jobs */
void mv_net_close(mv_net *n)
{
    size_t count;
    void **all;

    n->closing = true;
    while (n->open != NULL)
        mv_probe_cancel(n->open->probe);   /* session_done unlinks it */
    if ((all = all_values(n->waiting, &count)) != NULL) {
        for (size_t i = 0; i < count; i++) {
            job *j = all[i];

            mv_dict_del(n->waiting, j->key);
            outcome(j, MV_R_TIMEOUT, "shutting down");
            complete(j);
        }
        free(all);
    }
    if ((all = all_values(n->domains, &count)) != NULL) {
        for (size_t i = 0; i < count; i++) {
            domain *d = all[i];

            d->pins++;
            end_list(d, &d->q_head, &d->q_tail);
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
            end_list(d, &d->dns_head, &d->dns_tail);
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
