/* SPDX-License-Identifier: MIT */
/*
 * net_session.c - MX hosts and SMTP sessions of the network half.
 *
 * A host is one MX address (with our port): its open sessions, a token
 * bucket for new ones, and a back-off time after it refused or tarpitted
 * us. Scheduling (mv_net_schedule()) runs whenever something changed for a
 * domain: it batches queued jobs that want the same target into one
 * session, as long as the domain and the host have room; otherwise it sets
 * a timer for when they will. A finished session's replies are classified
 * per recipient; connection failures and temporary errors walk the job on
 * to the next MX address. Traces: each session's target and dialogue
 * ("[sN domain]"), each reply's reading, each walk to another target.
 * A host's failures and its first good session after them go to
 * net_incident.c, which says when a fault starts and ends (events).
 */
#include "net_int.h"
#include "classify.h"
#include "netguard.h"

#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hosts ------------------------------------------------------------ */

#define BACKOFF_FIRST_S 30 /* the first back-off; it doubles up to the cap */

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

/* profile_for - the provider profile of an MX host (the admin's first), or NULL */
static const mv_profile *profile_for(const mv_net *n, const char *mx_host)
{
    const mv_profile *p = mv_rules_profile(n->rules_local, mx_host);

    return p != NULL ? p : mv_rules_profile(n->rules_table, mx_host);
}

/* backoff_ms - how long to leave a host alone after its level-th failure
 * in a row: 30 s, then doubling up to smtp.backoff_s (or the profile's) --
 * short at first, so that the end of a fault is noticed within a minute */
static uint64_t backoff_ms(const mv_net *n, const mv_profile *pf, unsigned level)
{
    uint64_t cap = (uint64_t)(pf != NULL && pf->backoff_s ? pf->backoff_s : n->p.backoff_s);
    uint64_t s = (uint64_t)BACKOFF_FIRST_S << (level < 16 ? level : 16);

    return (s < cap ? s : cap) * 1000;
}

/* host_fail - the host refused, tarpitted or timed out: leave it alone for a
 * while, longer each time in a row; reason is what its jobs are told, mx
 * and cause what the event line says (once, when its fault starts) */
static void host_fail(mv_net *n, host *h, const mv_profile *pf, mv_reason reason, const char *mx,
                      const char *cause)
{
    uint64_t now = mv_loop_now(), ms;

    if (h->backoff_until_ms > now)
        return; /* sessions that began before it: one failure */
    ms = backoff_ms(n, pf, h->backoff_level);
    h->backoff_until_ms = now + ms;
    h->failed_at_ms = now;
    h->check_at_ms = now + (uint64_t)BACKOFF_FIRST_S * 1000;
    h->backoff_reason = reason;
    if (h->backoff_level < 16)
        h->backoff_level++;
    if (n->p.lease != NULL) /* smtp.fleet: every process leaves it alone */
        mv_lease_backoff(n->p.lease, h->key, ms, reason == MV_R_TIMEOUT);
    mv_net_host_failing(n, h, mx, cause, ms);
}

/* host_ok - a session got its answers: the next failure starts short
 * again, and a failing host answers again -- a session begun after the
 * back-off did (the check, or the first after it) also ends the back-off */
static void host_ok(mv_net *n, host *h, uint64_t started_ms)
{
    h->backoff_level = 0;
    if (started_ms >= h->failed_at_ms && h->backoff_until_ms != 0) {
        h->backoff_until_ms = 0;
        if (n->p.lease != NULL) /* the fleet's back-off ends with it */
            mv_lease_backoff_end(n->p.lease, h->key);
    }
    mv_net_host_answers(n, h);
}

/* reply_cause - "refused our probes at STAGE: 550 5.7.1 text" for events */
static void reply_cause(char *buf, size_t size, const char *stage, const mv_smtp_answer *a, const char *err)
{
    char text[100], enh[16] = "";

    mv_trace_escape(text, sizeof(text), err && *err ? err : a->text, strlen(err && *err ? err : a->text));
    if (a->enh[0] != 0)
        snprintf(enh, sizeof(enh), " %d.%d.%d", a->enh[0], a->enh[1], a->enh[2]);
    snprintf(buf, size, "refused our probes at %s: %d%s %s", stage, a->code, enh, text);
}

/* host_limit - sessions allowed to h: the profile's or ours, or fewer if it said so */
static unsigned host_limit(const mv_net *n, const host *h, const mv_profile *pf)
{
    unsigned limit = pf != NULL && pf->host_sessions ? pf->host_sessions : n->p.host_sessions;

    return h->cap != 0 && h->cap < limit ? h->cap : limit;
}

/* host_wait_ms - 0 if a session may start now, else how long to wait */
static uint64_t host_wait_ms(mv_net *n, host *h, const mv_profile *pf)
{
    uint64_t now = mv_loop_now();
    double rate = n->p.host_rate;
    unsigned limit = host_limit(n, h, pf);

    if (h->retry_at_ms > now)
        return h->retry_at_ms - now;

    h->tokens += (double)(now - h->refill_ms) * rate / 1000.0;
    if (h->tokens > rate)
        h->tokens = rate;
    h->refill_ms = now;
    if (h->active >= limit)
        return 50; /* re-checked when a session ends anyway */
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
        mv_net_trace(d, j->sid, "%s: %s at %s: next MX address (%zu of %zu)", j->mailbox,
                     mv_probe_status_name(pr->status), pr->stage, j->target + 1, d->ntargets);
        TAILQ_INSERT_TAIL(&d->queue, j, link);
        return;
    }
    snprintf(j->out.host, sizeof(j->out.host), "%s", host_name);
    if (pr->last.code != 0)
        j->out.smtp = pr->last;
    mv_net_set_outcome(j, r, "%s at %s: %s%s%s", mv_probe_status_name(pr->status), pr->stage,
                       pr->error[0] ? pr->error : pr->last.text,
                       d->ntargets > 1 ? "; every MX host tried" : "", "");
    mv_net_complete(j);
}

/* requeue_front - put a job back at the head of its domain's queue */
static void requeue_front(job *j)
{
    TAILQ_INSERT_HEAD(&j->d->queue, j, link);
}

void mv_net_reprobe_later(job *j, unsigned seconds);

/* trace_reading - what a reply (its lines are in the trace above) was
 * read as, and why */
static void trace_reading(const session *s, const char *who, const mv_smtp_answer *a, const mv_reading *rd)
{
    char code[24] = "no reply";

    if (s->n->p.trace == NULL)
        return;
    if (a->code != 0 && a->enh[0] != 0)
        snprintf(code, sizeof(code), "%d %d.%d.%d", a->code, a->enh[0], a->enh[1], a->enh[2]);
    else if (a->code != 0)
        snprintf(code, sizeof(code), "%d", a->code);
    mv_net_trace(s->d, s->id, "%s: %s read as %s%s by %s", who, code, mv_reason_name(rd->reason),
                 rd->temporary ? " (temporary)" : "", rd->why);
}

/* grey_wait - seconds until the next re-probe of a greylisted job, 0 when
 * its budget is spent: the server's delay plus a margin (never at the
 * delay itself: its clock and ours may differ by a tick) -- every time the
 * server names its delay, since a greylister may restart its clock on an
 * early retry -- else, after the first, growing spacing: half the delay,
 * doubling each time, at most 10 minutes */
static unsigned grey_wait(const mv_net *n, const job *j, unsigned delay, bool named)
{
    int64_t now = (int64_t)time(NULL), first = j->grey_first ? j->grey_first : now;
    uint64_t w;

    if (j->grey_round == 0 || named) {
        w = delay + (delay / 20 > 2 ? delay / 20 : 2);
    } else {
        w = (uint64_t)(delay / 2 > 2 ? delay / 2 : 2) << (j->grey_round - 1 < 16 ? j->grey_round - 1 : 16);
        if (w > 600)
            w = 600;
    }
    if (now - first + (int64_t)w > (int64_t)n->p.greylist_budget_s)
        return 0;
    return (unsigned)w;
}

/* greylisted - greylisting is not a verdict: answer it, re-probe later */
static void greylisted(session *s, job *j, const mv_smtp_answer *a, const char *host_name)
{
    unsigned delay, wait;

    j->out.retry_after = mv_classify_retry_after(a);
    delay = j->out.retry_after ? j->out.retry_after : s->n->p.greylist_retry_s;
    if ((wait = grey_wait(s->n, j, delay, j->out.retry_after != 0)) == 0) {
        mv_net_set_outcome(j, MV_R_GREYLISTED,
                           "greylisted by %s; still after %u s, re-probes given up "
                           "(smtp.greylist_budget_s)",
                           host_name, s->n->p.greylist_budget_s);
        return;
    }
    /* the cache says greylisted until shortly after the re-probe is due; past
     * that, whoever asks first asks the server (also after a restart) */
    j->out.until = (int64_t)time(NULL) + wait + 5;
    mv_net_set_outcome(j, MV_R_GREYLISTED, "greylisted by %s; re-probe in %u s", host_name, wait);
    mv_net_reprobe_later(j, wait);
}

/* rcpt_done - one recipient's answer within a finished session */
static void rcpt_done(session *s, job *j, const mv_probe_result *pr, const mv_smtp_answer *a,
                      const char *host_name)
{
    domain *d = s->d;
    const mv_profile *pf = profile_for(s->n, host_name);
    mv_reading rd;
    mv_reason r;

    mv_classify_reply(s->n->rules_local, s->n->rules_table, host_name, MV_STAGE_RCPT, a, &rd);
    trace_reading(s, j->mailbox, a, &rd);
    r = rd.reason;
    j->out.smtp = *a;
    j->out.tls = pr->tls;
    snprintf(j->out.tls_version, sizeof(j->out.tls_version), "%s", pr->tls_version);
    snprintf(j->out.host, sizeof(j->out.host), "%s", host_name);
    snprintf(j->out.rule, sizeof(j->out.rule), "%s", rd.rule ? rd.rule : "");
    if (r == MV_R_BLOCKED_BY_SERVER) { /* it named our IP, reputation or rate */
        char cause[sizeof(s->h->cause)];

        s->blocked = true;
        reply_cause(cause, sizeof(cause), "RCPT", a, NULL);
        host_fail(s->n, s->h, pf, MV_R_BLOCKED_BY_SERVER, host_name, cause);
    }
    if (rd.temporary && r != MV_R_GREYLISTED && r != MV_R_MAILBOX_FULL && j->target + 1 < d->ntargets) {
        advance(j, r, pr, host_name); /* a 4xx: ask the next MX */
        return;
    }
    if (r == MV_R_ACCEPTED_EMAIL && pf != NULL && pf->rcpt != MV_RCPT_MEANINGFUL) {
        /* it accepts every RCPT and refuses later: a 250 proves nothing */
        r = pf->rcpt == MV_RCPT_ACCEPT_ALL ? MV_R_ACCEPT_ALL : MV_R_UNVERIFIED;
        mv_net_set_outcome(j, r, "%d from %s: profile %s accepts every recipient at RCPT and refuses later",
                           a->code, host_name, pf->name);
        j->out.catch_all = pf->rcpt == MV_RCPT_ACCEPT_ALL ? 1 : -1;
        mv_net_complete(j);
        return;
    }
    if (r == MV_R_ACCEPTED_EMAIL && d->catch_all == 1)
        r = MV_R_ACCEPT_ALL;
    j->out.catch_all = d->catch_all;
    if (r == MV_R_GREYLISTED) {
        greylisted(s, j, a, host_name);
    } else {
        mv_net_set_outcome(j, r, "%d %d.%d.%d from %s: %s", a->code, a->enh[0], a->enh[1], a->enh[2],
                           host_name, rd.why);
    }
    mv_net_complete(j);
}

/* conn_limit - "421 4.7.0 Too many concurrent SMTP connections": the host
 * limits sessions per client, a fact about us, never about the mailbox */
static bool conn_limit(const mv_probe_result *pr)
{
    static const char *const words[] = {"too many connections",
                                        "too many concurrent",
                                        "connection limit",
                                        "too many sessions",
                                        "too many simultaneous",
                                        "concurrent connections",
                                        NULL};

    if (pr->status != MV_PROBE_TEMP || pr->last.code != 421)
        return false;
    for (const char *const *w = words; *w; w++)
        if (strcasestr(pr->last.text, *w))
            return true;
    return false;
}

/* busy_retry - a temporary refusal before RCPT (a connection limit, a
 * server that tempfails a client's first session): the session said
 * nothing of the mailbox, so instead of a temporary verdict the job waits
 * and asks again, on the same host for a connection limit (at most 3
 * times), or walks the MX hosts once more after the last (once) */
static bool busy_retry(session *s, job *j, const mv_probe_result *pr, bool limit)
{
    uint64_t now = mv_loop_now();

    if (limit && j->temp_retries < 3) {
        if (s->h->active > 0)
            s->h->cap = s->h->active; /* the sessions it did allow */
        else
            s->h->retry_at_ms = now + 1000;
    } else if (!limit && pr->status == MV_PROBE_TEMP && j->temp_retries == 0 &&
               j->target + 1 >= s->d->ntargets) {
        s->h->retry_at_ms = now + 1000;
        j->target = 0;
    } else {
        return false;
    }
    j->temp_retries++;
    requeue_front(j);
    return true;
}

/* The end of a session as every job of it sees it. */
typedef struct {
    const mv_probe_result *pr;
    const char *hname;
    bool refused;  /* a 4xx/5xx before RCPT ended it */
    bool limit;    /* ... saying we have too many sessions open */
    mv_reading rd; /* the refusal's reading */
} ending;

/* remember_refusal - a refusal of us (not TLS, not a connection limit):
 * leave the host alone -- a temporary one only when asking again a second
 * later did not help -- and a lasting one the domain too. A host that
 * cannot be reached is not left alone (each request walks on past it),
 * but it is failing all the same (events) */
static void remember_refusal(session *s, const ending *e)
{
    const mv_profile *pf = profile_for(s->n, e->hname);
    bool blocked = e->refused && e->rd.reason == MV_R_BLOCKED_BY_SERVER && !e->limit;
    char cause[sizeof(s->h->cause)];

    if (e->pr->status == MV_PROBE_TIMEOUT) { /* a tarpit or silence: not a refusal */
        snprintf(cause, sizeof(cause), "timed out (tarpit or silence) at %s", e->pr->stage);
        host_fail(s->n, s->h, pf, MV_R_TIMEOUT, e->hname, cause);
    } else if (blocked && (!e->rd.temporary || (s->njobs > 0 && s->jobs[0]->temp_retries > 0))) {
        reply_cause(cause, sizeof(cause), e->pr->stage, &e->pr->last, e->pr->error);
        host_fail(s->n, s->h, pf, MV_R_BLOCKED_BY_SERVER, e->hname, cause);
    } else if (e->pr->status == MV_PROBE_NO_CONNECT && !s->n->closing) {
        snprintf(cause, sizeof(cause), "cannot be reached: %s",
                 e->pr->error[0] ? e->pr->error : "no connection");
        mv_net_host_failing(s->n, s->h, e->hname, cause, 0);
    }
    if (e->pr->status == MV_PROBE_BLOCKED && blocked && !e->rd.temporary) {
        s->d->refuses_until_ms =
            mv_loop_now() + backoff_ms(s->n, pf, s->h->backoff_level ? s->h->backoff_level - 1 : 0);
        mv_net_save_facts(s->n, s->d);
    }
}

/* tls_fallback - opportunistic TLS failed: ask again in plain text, as MTAs do */
static bool tls_fallback(const session *s, const mv_probe_result *pr)
{
    const mv_net *n = s->n;
    const domain *d = s->d;

    return pr->status == MV_PROBE_TLS && !s->tls_off && n->p.tls == MV_TLS_OPPORTUNISTIC &&
           !(n->p.tls_required && mv_strset_has(n->p.tls_required, d->name, strlen(d->name)));
}

/* retryable - a refusal that says "not now" rather than "not you" */
static bool retryable(const ending *e)
{
    return e->refused && (e->limit || (e->rd.temporary && (e->rd.reason == MV_R_TEMPORARY_ERROR ||
                                                           e->rd.reason == MV_R_BLOCKED_BY_SERVER)));
}

/* refused_job - a refusal before RCPT, for one job: the verdict, or walk on */
static void refused_job(job *j, const ending *e)
{
    const mv_probe_result *pr = e->pr;

    snprintf(j->out.rule, sizeof(j->out.rule), "%s", e->rd.rule ? e->rd.rule : "");
    if (pr->status == MV_PROBE_BLOCKED && e->rd.reason == MV_R_BLOCKED_BY_SERVER && !e->rd.temporary) {
        snprintf(j->out.host, sizeof(j->out.host), "%s", e->hname);
        j->out.smtp = pr->last;
        mv_net_set_outcome(j, MV_R_BLOCKED_BY_SERVER, "%s refused the probe at %s: %d %s (%s)", e->hname,
                           pr->stage, pr->last.code, pr->error[0] ? pr->error : pr->last.text, e->rd.why);
        mv_net_complete(j);
        return;
    }
    advance(j, e->rd.reason, pr, e->hname);
}

/* session_job - what the session's end means for its i-th job */
static void session_job(session *s, size_t i, const ending *e)
{
    job *j = s->jobs[i];
    domain *d = s->d;
    const mv_probe_result *pr = e->pr;

    if (s->n->closing) {
        mv_net_set_outcome(j, MV_R_TIMEOUT, "shutting down");
        mv_net_complete(j);
    } else if (pr->status == MV_PROBE_DONE && i < pr->nanswered) {
        rcpt_done(s, j, pr, &pr->rcpt[i], e->hname);
    } else if (pr->status == MV_PROBE_DONE) {
        mv_net_trace(d, s->id, "%s: not asked (too many recipients): a new session", j->mailbox);
        requeue_front(j);
    } else if (tls_fallback(s, pr)) {
        j->tls_off = true;
        mv_net_trace(d, s->id, "%s: TLS failed; asking again without TLS", j->mailbox);
        requeue_front(j);
    } else if (retryable(e) && busy_retry(s, j, pr, e->limit)) {
        mv_net_trace(d, s->id, "%s: %s; asking again after a pause", j->mailbox,
                     e->limit ? "the host limits our sessions" : "a busy refusal before RCPT");
    } else if (e->refused) {
        refused_job(j, e);
    } else {
        advance(j, mv_classify_session(pr), pr, e->hname);
    }
}

/* session_done - a probe ended: classify, walk on, or requeue */
static void session_done(void *arg, const mv_probe_result *pr)
{
    session *s = arg;
    mv_net *n = s->n;
    domain *d = s->d;
    ending e = {
        .pr = pr,
        .hname = d->mx.hosts[d->targets[s->target].host].name,
        .refused = pr->status == MV_PROBE_BLOCKED || pr->status == MV_PROBE_TEMP,
        .limit = conn_limit(pr),
        .rd = {.reason = MV_R_TEMPORARY_ERROR},
    };

    d->pins++;
    LIST_REMOVE(s, open_link);
    mv_lease_release(s->lease); /* before the next take, on the same connection */
    s->lease = NULL;
    s->h->active--;
    s->h->checking = false; /* a check, if this was one, has its answer */
    d->active--;
    n->sessions--;
    if (pr->status == MV_PROBE_DONE && pr->catch_all >= 0 && d->catch_all != pr->catch_all) {
        d->catch_all = pr->catch_all; /* learned once, used by every later RCPT */
        mv_net_save_facts(n, d);
    }
    if (e.refused) {
        mv_classify_session_reply(n->rules_local, n->rules_table, e.hname, pr, &e.rd);
        trace_reading(s, "the refusal", &pr->last, &e.rd);
    }
    remember_refusal(s, &e);
    if (!n->closing)
        mv_net_session_failed(n, pr->status);
    for (size_t i = 0; i < s->njobs; i++)
        session_job(s, i, &e);
    if (pr->status == MV_PROBE_DONE && !s->blocked)
        host_ok(n, s->h, s->started_ms); /* after the RCPTs: one naming our IP is no good session */
    else if (pr->status != MV_PROBE_CANCELLED)
        mv_net_host_without(n, s->h, s->njobs);
    free(s);
    mv_net_schedule(d);
    mv_net_unpin(d);
}

/* take_batch - queued jobs wanting target t (and the same TLS mode) */
static size_t take_batch(domain *d, size_t t, bool tls_off, job **out, size_t max)
{
    job *j = TAILQ_FIRST(&d->queue), *next;
    size_t k = 0;

    for (; j != NULL && k < max; j = next) {
        next = TAILQ_NEXT(j, link);
        if (j->target == t && j->tls_off == tls_off) {
            TAILQ_REMOVE(&d->queue, j, link);
            out[k++] = j;
        }
    }
    return k;
}

/* backing_off - the job's answer when every MX host is left alone: the
 * last host's cause (timeout for a tarpit, blocked_by_server for a
 * refusal), its address and when it ends -- and the cache keeps that
 * answer no longer than the back-off */
static void backing_off(domain *d, job *j, const host *h)
{
    uint64_t now = mv_loop_now(), left = h && h->backoff_until_ms > now ? h->backoff_until_ms - now : 0;
    uint64_t check = h && h->check_at_ms > now ? h->check_at_ms - now : 0;
    mv_reason r = h && h->backoff_reason == MV_R_TIMEOUT ? MV_R_TIMEOUT : MV_R_BLOCKED_BY_SERVER;

    /* kept no longer than the next check: if the host answers then, the
     * next request should ask it rather than read this */
    j->out.until = (int64_t)time(NULL) + (int64_t)(((check && check < left ? check : left) + 999) / 1000);
    mv_net_backoff_answer(d->n, r);
    mv_net_set_outcome(j, r, "every MX host of %s is left alone for now: %s %s for %llu s more", d->name,
                       h ? h->key : "?",
                       r == MV_R_TIMEOUT ? "timed out (tarpit or silence)" : "refused our probes",
                       (unsigned long long)((left + 999) / 1000));
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
        if (!(*hp)->checking && (*hp)->check_at_ms <= now) {
            /* real traffic stays away (the back-off grows), but every 30 s
             * one session asks, so that the end of a fault is noticed
             * within a minute of it */
            (*hp)->checking = true;
            (*hp)->check_at_ms = now + (uint64_t)BACKOFF_FIRST_S * 1000;
            mv_net_trace(d, 0, "%s: %s backs off; this session checks whether it answers again", j->mailbox,
                         ip);
            return true;
        }
        mv_net_trace(d, 0, "%s: %s backs off after refusing or tarpitting us: skipped", j->mailbox, ip);
        mv_net_host_without(n, *hp, 1);
        j->target++;
    }
    return false;
}

/* session_trace - a probe's trace line, with the session's prefix */
static void session_trace(void *arg, const char *line)
{
    session *s = arg;

    mv_net_trace(s->d, s->id, "%s", line);
}

/* trace_start - which MX host and address a session tries, for whom */
static void trace_start(const session *s, const struct sockaddr_storage *sa, const mv_probe_params *pp)
{
    const domain *d = s->d;
    const mv_mx_host *mh = &d->mx.hosts[d->targets[s->target].host];
    char name[MV_TRACE_TEXT_MAX + 8], ip[INET6_ADDRSTRLEN] = "?", who[MV_TRACE_LINE_MAX / 2] = "", kind[40];
    size_t off = 0;

    mv_trace_escape(name, sizeof(name), mh->name, strlen(mh->name));
    inet_ntop(sa->ss_family,
              sa->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr,
              ip, sizeof(ip));
    for (size_t i = 0; i < s->njobs && off < sizeof(who); i++) {
        int w = snprintf(who + off, sizeof(who) - off, "%s%s", i ? ", " : "", s->jobs[i]->mailbox);

        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (d->hop[0] != '\0')
        snprintf(kind, sizeof(kind), "next hop");
    else
        snprintf(kind, sizeof(kind), "%s %u", d->mx.implicit ? "implicit MX, pref" : "MX", mh->pref);
    mv_net_trace(d, s->id, "connect to %s [%s]:%u (%s, address %zu of %zu) for %s; TLS %s", name, ip, d->port,
                 kind, s->target + 1, d->ntargets, who,
                 pp->tls == MV_TLS_OFF        ? (s->tls_off ? "off (plain retry after a TLS failure)" : "off")
                 : pp->tls == MV_TLS_REQUIRED ? "required"
                                              : "when offered");
}

/* probe_params - what the session's probe is told (TLS mode, catch-all, SMTPUTF8) */
static void probe_params(session *s, const mv_profile *pf, const char **rc, mv_probe_params *pp)
{
    mv_net *n = s->n;
    domain *d = s->d;

    *pp = (mv_probe_params){
        n->helo,
        n->from,
        n->fallback[0] ? n->fallback : NULL,
        n->p.tls,
        n->p.tls_ctx,
        n->p.connect_ms,
        n->p.reply_ms,
        (pf != NULL && pf->catch_all_check >= 0 ? pf->catch_all_check == 1 : n->p.catch_all) &&
            d->catch_all < 0,
        false,
        NULL,
        NULL};
    if (s->tls_off)
        pp->tls = MV_TLS_OFF;
    else if (n->p.tls_required && mv_strset_has(n->p.tls_required, d->name, strlen(d->name)))
        pp->tls = MV_TLS_REQUIRED;
    for (size_t i = 0; i < s->njobs; i++) {
        rc[i] = s->jobs[i]->mailbox;
        pp->smtputf8 |= s->jobs[i]->smtputf8;
        s->jobs[i]->sid = s->id;
    }
}

/* launch - count the session in and start its probe */
static void launch(session *s, const struct sockaddr_storage *sa, mv_probe_params *pp, const char **rc)
{
    mv_net *n = s->n;
    domain *d = s->d;

    if (n->p.trace != NULL) {
        pp->trace = session_trace;
        pp->trace_arg = s;
        trace_start(s, sa, pp);
    }
    s->h->tokens -= 1.0;
    s->h->active++;
    d->active++;
    n->sessions++;
    LIST_INSERT_HEAD(&n->open, s, open_link);
    s->probe = mv_probe_start(n->loop, pp, (const struct sockaddr *)sa,
                              d->mx.hosts[d->targets[s->target].host].name, rc, s->njobs, session_done, s);
    if (s->probe == NULL) { /* out of memory; no callback will come */
        mv_probe_result pr = {.status = MV_PROBE_NO_CONNECT, .stage = "connect", .catch_all = -1};

        snprintf(pr.error, sizeof(pr.error), "out of memory");
        session_done(s, &pr);
    }
}

/* ---- the fleet (smtp.fleet): the same limits across processes -------- */

static void on_retry(void *arg);

/* fleet_backoff - another process backs off from h: so do we, for as long,
 * without checks of our own (the process that learned it checks) */
static void fleet_backoff(host *h, const mv_lease_answer *a)
{
    uint64_t now = mv_loop_now();

    if (h->backoff_until_ms > now + a->wait_ms)
        return;
    h->backoff_until_ms = now + a->wait_ms;
    h->check_at_ms = h->backoff_until_ms;
    if (h->failed_at_ms < now)
        h->failed_at_ms = now;
    h->backoff_reason = a->timeout ? MV_R_TIMEOUT : MV_R_BLOCKED_BY_SERVER;
}

/* on_lease - the fleet's answer to a take: go, wait, back off, or local */
static void on_lease(void *arg, const mv_lease_answer *a)
{
    domain *d = arg;
    mv_net *n = d->n;
    host *h = mv_dict_get(n->hosts, d->ask_host);

    d->ask = NULL;
    if (a->res == MV_LEASE_GRANTED)
        d->grant = a->hold;
    else if (a->res == MV_LEASE_LOCAL)
        d->local_once = true;
    else if (a->res == MV_LEASE_BACKOFF && h != NULL)
        fleet_backoff(h, a);
    if (a->res == MV_LEASE_WAIT) {
        /* a queue wait, not a spin: ask again when the earliest lease
         * expires or the spacing ends, or sooner (a release elsewhere),
         * MV_LEASE_POLL_MS at most -- or when a session of ours ends */
        mv_net_trace(d, 0, "the fleet is at a limit for %s: asking again in %llu ms", d->ask_host,
                     (unsigned long long)(a->wait_ms < MV_LEASE_POLL_MS ? a->wait_ms : MV_LEASE_POLL_MS));
        mv_timer_stop(n->loop, &d->retry);
        mv_timer_start(n->loop, &d->retry, a->wait_ms < MV_LEASE_POLL_MS ? a->wait_ms : MV_LEASE_POLL_MS,
                       on_retry, d);
    } else {
        mv_net_schedule(d);
    }
    mv_net_unpin(d);
}

/* fleet_admits - may a session to h start, fleet-wide? true: yes, with
 * *hold (NULL: by local limits); false: an answer is on its way */
static bool fleet_admits(domain *d, host *h, unsigned host_limit, mv_lease_hold **hold)
{
    mv_net *n = d->n;
    mv_lease_want w = {d->key, h->key, n->p.domain_sessions, host_limit, 1000 / n->p.host_rate, h->checking};
    mv_lease_answer now;

    *hold = NULL;
    if (n->p.lease == NULL)
        return true;
    if (d->ask != NULL)
        return false;
    if (d->grant != NULL) {
        if (strcmp(mv_lease_hold_host(d->grant), h->key) == 0) {
            *hold = d->grant;
            d->grant = NULL;
            return true;
        }
        mv_lease_release(d->grant); /* the queue's head wants another host now */
        d->grant = NULL;
    }
    if (d->local_once) {
        d->local_once = false;
        return true;
    }
    snprintf(d->ask_host, sizeof(d->ask_host), "%s", h->key);
    if ((d->ask = mv_lease_take(n->p.lease, &w, on_lease, d, &now)) == NULL)
        return true; /* no Redis: local limits */
    d->pins++;
    if (h->checking) { /* skip_backed_off gives the check again with the answer */
        h->checking = false;
        h->check_at_ms = 0;
    }
    return false;
}

/* mv_net_fleet_drop - d goes or the net closes: let its lease go */
void mv_net_fleet_drop(domain *d)
{
    if (d->ask != NULL) {
        mv_lease_cancel(d->ask);
        d->ask = NULL;
        d->pins--;
    }
    mv_lease_release(d->grant);
    d->grant = NULL;
}

/* start_session - one session for a batch; false if limits say wait */
static bool start_session(domain *d, uint64_t *wait)
{
    mv_net *n = d->n;
    job *head = TAILQ_FIRST(&d->queue);
    host *h = NULL;
    struct sockaddr_storage sa;
    session *s;
    const char *rc[MV_PROBE_RCPT_MAX];
    mv_probe_params pp;
    const mv_profile *pf;
    mv_lease_hold *hold;
    unsigned max;

    if (!skip_backed_off(d, head, &h, &sa)) {
        TAILQ_REMOVE(&d->queue, head, link);
        backing_off(d, head, h);
        mv_net_complete(head);
        return true;
    }
    pf = profile_for(n, d->mx.hosts[d->targets[head->target].host].name);
    if ((*wait = host_wait_ms(n, h, pf)) > 0)
        return false;
    if (!fleet_admits(d, h, host_limit(n, h, pf), &hold))
        return false; /* on_lease schedules again */
    max = pf != NULL && pf->max_rcpt ? pf->max_rcpt : n->p.max_rcpt;
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        mv_lease_release(hold);
        return false;
    }
    *s = (session){.n = n,
                   .lease = hold,
                   .d = d,
                   .h = h,
                   .target = head->target,
                   .tls_off = head->tls_off,
                   .started_ms = mv_loop_now()};
    s->njobs = take_batch(d, head->target, head->tls_off, s->jobs,
                          max < MV_PROBE_RCPT_MAX ? max : MV_PROBE_RCPT_MAX);
    if ((s->id = ++n->session_seq) == 0)
        s->id = ++n->session_seq; /* 0 means "no session" in traces */
    probe_params(s, pf, rc, &pp);
    launch(s, &sa, &pp, rc);
    return true;
}

/* on_retry - the wait the limits asked for is over */
static void on_retry(void *arg)
{
    domain *d = arg;

    d->pins++;
    mv_net_schedule(d);
    mv_net_unpin(d);
}

/*
 * GATHER_MS - how long a job that arrives while its domain already has a
 * session open waits for company before a session of its own is started.
 * A list submitted in a burst trickles into the loop one job at a time; at
 * once, the job after the MX answer's batch would take the domain's second
 * session alone (a session for one RCPT, then the rest queued behind both).
 * A few milliseconds, well under one SMTP round trip, let the burst gather
 * into full batches. The first session of a domain waits only for the
 * end of the loop's turn (see mv_net_schedule_arrival): a single address
 * costs no latency.
 */
#define GATHER_MS 10

/* queued_at_least - whether d's queue holds at least k jobs (O(k)) */
static bool queued_at_least(const domain *d, size_t k)
{
    const job *j = TAILQ_FIRST(&d->queue);

    for (; j != NULL && k > 0; j = TAILQ_NEXT(j, link))
        k--;
    return k == 0;
}

/* mv_net_schedule_arrival - a job joined d's queue: schedule now or gather */
void mv_net_schedule_arrival(domain *d)
{
    mv_net *n = d->n;
    size_t batch = n->p.max_rcpt < MV_PROBE_RCPT_MAX ? n->p.max_rcpt : MV_PROBE_RCPT_MAX;

    if (queued_at_least(d, batch)) {
        mv_net_schedule(d);
        return;
    }
    /* an armed timer (gathering already, or limits said "later") will
     * schedule this job with the others. An idle domain's first session
     * waits for the end of this turn of the loop only (0 ms: no latency
     * worth the name), so that the jobs of one burst -- a bulk group, the
     * Redis answers of one read -- share it instead of the first taking
     * it alone. */
    if (!mv_timer_armed(&d->retry))
        mv_timer_start(n->loop, &d->retry, d->active == 0 ? 0 : GATHER_MS, on_retry, d);
}

/* mv_net_schedule - start what sessions the limits allow; wait for the rest */
void mv_net_schedule(domain *d)
{
    mv_net *n = d->n;
    uint64_t wait = 0;

    if (n->closing)
        return;
    while (!TAILQ_EMPTY(&d->queue) && d->active < n->p.domain_sessions)
        if (!start_session(d, &wait))
            break;
    if (TAILQ_EMPTY(&d->queue) && d->grant != NULL) { /* nobody left to use it */
        mv_lease_release(d->grant);
        d->grant = NULL;
    }
    if (!TAILQ_EMPTY(&d->queue) && wait > 0 && !mv_timer_armed(&d->retry))
        mv_timer_start(n->loop, &d->retry, wait, on_retry, d);
}
