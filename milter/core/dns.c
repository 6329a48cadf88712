/* SPDX-License-Identifier: MIT */
/*
 * dns.c - c-ares on the engine's loop: MX, implicit MX, addresses.
 *
 * c-ares 1.18 has no event thread of its own: it tells us which sockets
 * to watch (ARES_OPT_SOCK_STATE_CB), we tell it which are ready
 * (ares_process_fd), and one loop timer follows ares_timeout(). With
 * ARES_FLAG_NOCHECKRESP, SERVFAIL and REFUSED come back as themselves
 * instead of being retried into a vague ECONNREFUSED, so "the domain's
 * DNS is broken" and "the domain does not exist" stay apart.
 *
 * A lookup is: one MX query; then an address lookup (an A and an AAAA
 * query) per MX host, in parallel; or, when the domain has no MX
 * (NODATA), one address lookup for the domain itself. The lookup ends
 * when every part has answered, and its callback runs exactly once --
 * also when the resolver is destroyed (then with MV_DNS_TEMP).
 *
 * Every answer is read here (dnsmsg.c), also the negative ones: only a
 * whole, well-formed answer may say "no such domain" or "no records".
 * c-ares retries a UDP answer with the TC bit over TCP, but hands on the
 * TCP answer as it comes, TC bit or not, and ares_query turns a NOERROR
 * answer without records into ARES_ENODATA whatever else is wrong with
 * it: a truncated NODATA read as "no MX", then "no address", and ended
 * as no_mail_server (a 5xx) when it knew nothing. ares_getaddrinfo was
 * worse: it drops a malformed A record silently, and the status of its A
 * query when the AAAA query answers last. Now a truncated or malformed
 * answer, to the MX or to any address query, is a temporary failure.
 *
 * At most MAX_INFLIGHT lookups are out at once; the rest wait in order.
 * A burst of new domains (a bulk list, a mail storm) otherwise sent
 * thousands of queries within milliseconds: answers were dropped at the
 * resolver's socket and at ours (UDP RcvbufErrors), and a lookup that
 * lost its answers dns.tries times came out dns_error. Our socket also
 * asks for a larger receive buffer.
 */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>

#define RCVBUF_BYTES (4 << 20) /* our socket's receive buffer, asked for (capped at rmem_max) */
#define MAX_INFLIGHT 128       /* lookups out at once (each: an MX query, then its hosts') */

typedef struct lookup lookup;

struct mv_dns {
    mv_loop *loop;
    ares_channel ch;
    mv_timer timer;
    size_t pending;                /* lookups not finished: out, or waiting */
    size_t inflight;               /* out: at most MAX_INFLIGHT */
    STAILQ_HEAD(, lookup) waiting; /* waiting for a place, in order */
    bool starting;                 /* inside start_waiting (no recursion) */
    uint64_t rng;
    bool closing;
};

/* one host's address lookup: an A and an AAAA query, merged when both answered */
typedef struct {
    lookup *lk;
    size_t idx;
    unsigned left; /* queries not answered */
    unsigned char a4[MV_DNSMSG_ADDR_MAX][4], a6[MV_DNSMSG_ADDR_MAX][16];
    unsigned char n4, n6;
} hostq;

struct lookup {
    mv_dns *d;
    STAILQ_ENTRY(lookup) link; /* in the waiting line */
    bool mx;                   /* an MX lookup (else: a host's addresses only) */
    bool started;              /* counted in d->inflight */
    char domain[256];
    mv_dns_cb cb;
    void *arg;
    mv_mx_result res;
    hostq q[MV_MX_MAX];
    size_t outstanding;
    size_t temp;  /* address queries that failed for now */
    char why[48]; /* the first of those failures */
};

static void temp(lookup *lk, const char *why);

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

/* lib_init - ares_library_init, once per process */
static void lib_init(void)
{
    lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* rearm - the loop timer follows c-ares' next timeout */
static void rearm(mv_dns *d);

/* on_timer - c-ares timeouts are due */
static void on_timer(void *arg)
{
    mv_dns *d = arg;

    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(d);
}

static void rearm(mv_dns *d)
{
    struct timeval tv, *tp;

    if (d->closing)
        return;
    tp = ares_timeout(d->ch, NULL, &tv);
    if (tp == NULL)
        mv_timer_stop(d->loop, &d->timer);
    else
        mv_timer_start(d->loop, &d->timer, (uint64_t)tp->tv_sec * 1000 + ((uint64_t)tp->tv_usec + 999) / 1000,
                       on_timer, d);
}

/* on_io - a c-ares socket is ready */
static void on_io(void *arg, int fd, unsigned ev)
{
    mv_dns *d = arg;

    ares_process_fd(d->ch, ev & (MV_EV_READ | MV_EV_ERROR) ? fd : ARES_SOCKET_BAD,
                    ev & MV_EV_WRITE ? fd : ARES_SOCKET_BAD);
    rearm(d);
}

/* sock_state - c-ares asks us to watch (or forget) one of its sockets */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    mv_dns *d = data;
    unsigned ev = (readable ? MV_EV_READ : 0) | (writable ? MV_EV_WRITE : 0);

    mv_loop_io_set(d->loop, fd, ev, on_io, d);
}

/* mv_dns_new - a resolver on loop; servers "ip[:port],..." or NULL (system) */
mv_dns *mv_dns_new(mv_loop *loop, const char *servers, int timeout_ms, int tries, char *err, size_t errlen)
{
    mv_dns *d = calloc(1, sizeof(*d));
    struct ares_options o = {0};
    int rc;

    pthread_once(&lib_once, lib_init);
    if (d == NULL || lib_status != ARES_SUCCESS) {
        snprintf(err, errlen, "%s", d ? ares_strerror(lib_status) : "out of memory");
        free(d);
        return NULL;
    }
    d->loop = loop;
    STAILQ_INIT(&d->waiting);
    o.flags = ARES_FLAG_NOCHECKRESP;
    o.timeout = timeout_ms;
    o.tries = tries;
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = d;
    /* every answer of a burst lands on one UDP socket: with the kernel's
     * default buffer (~208 KB, a few hundred answers) a burst of lookups
     * to new domains lost answers on the floor (RcvbufErrors) and came
     * out dns_error after dns.tries; the kernel caps this at rmem_max */
    o.socket_receive_buffer_size = RCVBUF_BYTES;
    rc = ares_init_options(&d->ch, &o,
                           ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
                               ARES_OPT_SOCK_RCVBUF);
    if (rc == ARES_SUCCESS && servers != NULL && *servers != '\0' &&
        (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS)
        ares_destroy(d->ch);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver: %s%s%s", ares_strerror(rc), servers ? " in " : "",
                 servers ? servers : "");
        free(d);
        return NULL;
    }
    if (getrandom(&d->rng, sizeof(d->rng), GRND_NONBLOCK) != sizeof(d->rng) || d->rng == 0)
        d->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)d;
    return d;
}

/* mv_dns_pending - lookups in flight */
size_t mv_dns_pending(const mv_dns *d)
{
    return d->pending;
}

/* mv_dns_free - cancel what is pending (each gets MV_DNS_TEMP), release */
void mv_dns_free(mv_dns *d)
{
    lookup *lk;

    if (d == NULL)
        return;
    d->closing = true;
    mv_timer_stop(d->loop, &d->timer);
    ares_destroy(d->ch); /* runs every callback of what is out */
    while ((lk = STAILQ_FIRST(&d->waiting)) != NULL) {
        STAILQ_REMOVE_HEAD(&d->waiting, link);
        temp(lk, "cancelled");
    }
    free(d);
}

static void start_waiting(mv_dns *d);

/* finish - the one and only completion of a lookup; a waiting one takes its place */
static void finish(lookup *lk)
{
    mv_dns *d = lk->d;

    if (lk->res.ttl == UINT32_MAX)
        lk->res.ttl = 0;
    lk->cb(lk->arg, &lk->res);
    d->pending--;
    if (lk->started)
        d->inflight--;
    free(lk);
    start_waiting(d);
}

/* temp - end with a temporary failure */
static void temp(lookup *lk, const char *why)
{
    lk->res.status = MV_DNS_TEMP;
    snprintf(lk->res.detail, sizeof(lk->res.detail), "%s", why);
    lk->res.nhosts = 0;
    finish(lk);
}

/* rnd - xorshift64 for the shuffle of equal preferences */
static uint64_t rnd(mv_dns *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

/* shuffle_equal - RFC 5321 5.1: randomize hosts of equal preference */
static void shuffle_equal(mv_dns *d, mv_mx_host *h, size_t n)
{
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;

        while (end < n && h[end].pref == h[start].pref)
            end++;
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + (size_t)(rnd(d) % (i - start + 1));
            mv_mx_host t = h[i];

            h[i] = h[j];
            h[j] = t;
        }
        start = end;
    }
}

/* put_addr - one address into a host (port 0; the caller sets it) */
static void put_addr(mv_mx_host *h, int family, const unsigned char *a)
{
    struct sockaddr_storage *ss;

    if (h->naddr >= MV_ADDRS_PER_HOST)
        return;
    ss = &h->addr[h->naddr++];
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, a, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, a, 16);
    }
}

/* merge - a host's A and AAAA answers: up to MV_ADDRS_PER_HOST, IPv4 and IPv6 alternating */
static void merge(mv_mx_host *h, const hostq *q)
{
    for (size_t i = 0; i < MV_DNSMSG_ADDR_MAX; i++) {
        if (i < q->n4)
            put_addr(h, AF_INET, q->a4[i]);
        if (i < q->n6)
            put_addr(h, AF_INET6, q->a6[i]);
    }
}

/* done_hosts - every address lookup has answered: drop empty hosts */
static void done_hosts(lookup *lk)
{
    mv_mx_result *r = &lk->res;
    size_t k = 0;

    for (size_t i = 0; i < r->nhosts; i++)
        if (r->hosts[i].naddr > 0)
            r->hosts[k++] = r->hosts[i];
    r->nhosts = k;
    if (k > 0) {
        r->status = MV_DNS_OK;
    } else if (lk->temp > 0) {
        /* a host we could not look up may have an address: no verdict */
        char why[sizeof(r->detail)];

        snprintf(why, sizeof(why), "%s: %s", r->implicit ? "address lookup failed" : "MX host lookup failed",
                 lk->why[0] ? lk->why : "temporary failure");
        temp(lk, why);
        return;
    } else {
        r->status = MV_DNS_NOHOST;
        snprintf(r->detail, sizeof(r->detail), "%s",
                 r->implicit ? "no MX and no address" : "MX hosts have no address");
    }
    finish(lk);
}

static const char *status_text(int status);

/* answer_error - why an answer to a query is no answer, or NULL: the
 * statuses that carry an answer (records, NODATA, NXDOMAIN) only when the
 * whole message is well-formed and not truncated; the rest always */
static const char *answer_error(int status, const unsigned char *abuf, int alen)
{
    mv_dnsmsg_status ps;

    if (status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND)
        return status_text(status);
    if (abuf == NULL)
        return status == ARES_SUCCESS ? "empty DNS answer" : NULL;
    if ((ps = mv_dnsmsg_check(abuf, alen > 0 ? (size_t)alen : 0)) != MV_DNSMSG_OK)
        return mv_dnsmsg_strerror(ps);
    return NULL;
}

/* unanswered - a status that says the resolver gave no answer at all */
static bool unanswered(int status)
{
    return status == ARES_ETIMEOUT || status == ARES_ESERVFAIL || status == ARES_EREFUSED ||
           status == ARES_ECONNREFUSED;
}

/* host_failed - an address query failed for now */
static void host_failed(lookup *lk, const char *why)
{
    lk->temp++;
    if (lk->why[0] == '\0')
        snprintf(lk->why, sizeof(lk->why), "%s", why);
}

/* host_answered - one of a host's queries is over */
static void host_answered(hostq *q)
{
    lookup *lk = q->lk;

    if (--q->left == 0)
        merge(&lk->res.hosts[q->idx], q);
    if (--lk->outstanding == 0)
        done_hosts(lk);
}

/* on_addr - one host's A or AAAA answer */
static void on_addr(hostq *q, unsigned qtype, int status, unsigned char *abuf, int alen)
{
    lookup *lk = q->lk;
    const char *why = answer_error(status, abuf, alen);
    mv_addr_answer a;
    mv_dnsmsg_status ps;

    if (why != NULL) {
        host_failed(lk, why);
        lk->res.unanswered |= unanswered(status);
    } else if (status == ARES_SUCCESS) {
        if ((ps = mv_dnsmsg_addrs(abuf, (size_t)alen, lk->res.hosts[q->idx].name, qtype, &a)) !=
            MV_DNSMSG_OK) {
            host_failed(lk, mv_dnsmsg_strerror(ps));
        } else {
            for (size_t i = 0; i < a.naddr; i++) {
                if (qtype == ns_t_a)
                    memcpy(q->a4[q->n4++], a.addr[i], 4);
                else
                    memcpy(q->a6[q->n6++], a.addr[i], 16);
            }
            if (a.naddr > 0 && a.ttl < lk->res.ttl)
                lk->res.ttl = a.ttl;
        }
    } /* else NODATA or NXDOMAIN: no address of this kind */
    host_answered(q);
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    on_addr(arg, ns_t_a, status, abuf, alen);
}

static void on_aaaa(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    on_addr(arg, ns_t_aaaa, status, abuf, alen);
}

/* local_addrs - a host that is an address literal, or a configured next
 * hop in the hosts file; true if it has addresses already. MX hosts and
 * the implicit MX are DNS only (as Postfix's smtp_host_lookup = dns): the
 * hosts file is read per call in c-ares 1.18, twice here (A, AAAA) */
static bool local_addrs(lookup *lk, hostq *q)
{
    mv_mx_host *h = &lk->res.hosts[q->idx];
    unsigned char a[16];
    struct hostent *he;

    if (inet_pton(AF_INET, h->name, a) == 1) {
        memcpy(q->a4[q->n4++], a, 4);
    } else if (inet_pton(AF_INET6, h->name, a) == 1) {
        memcpy(q->a6[q->n6++], a, 16);
    } else if (!lk->mx) {
        for (int fam = 0; fam < 2; fam++) {
            if (ares_gethostbyname_file(lk->d->ch, h->name, fam ? AF_INET6 : AF_INET, &he) != ARES_SUCCESS)
                continue;
            for (char **p = he->h_addr_list; p && *p && (fam ? q->n6 : q->n4) < MV_DNSMSG_ADDR_MAX; p++) {
                if (he->h_addrtype == AF_INET && he->h_length == 4 && !fam)
                    memcpy(q->a4[q->n4++], *p, 4);
                else if (he->h_addrtype == AF_INET6 && he->h_length == 16 && fam)
                    memcpy(q->a6[q->n6++], *p, 16);
            }
            ares_free_hostent(he);
        }
    }
    if (q->n4 + q->n6 == 0)
        return false;
    merge(h, q);
    return true;
}

/* resolve_hosts - start the address lookups of every host */
static void resolve_hosts(lookup *lk)
{
    size_t n = lk->res.nhosts;

    /* one count of our own until every query is out: a query may answer
     * at once (a bad name), and the last answer ends (frees) the lookup */
    lk->outstanding = 1;
    for (size_t i = 0; i < n; i++) {
        hostq *q = &lk->q[i];

        *q = (hostq){.lk = lk, .idx = i};
        if (local_addrs(lk, q))
            continue;
        q->left = 2;
        lk->outstanding += 2;
        ares_query(lk->d->ch, lk->res.hosts[i].name, ns_c_in, ns_t_a, on_a, q);
        ares_query(lk->d->ch, lk->res.hosts[i].name, ns_c_in, ns_t_aaaa, on_aaaa, q);
    }
    if (--lk->outstanding == 0)
        done_hosts(lk);
}

/* implicit - no MX: the domain's own address is its mail host (RFC 5321 5.1) */
static void implicit(lookup *lk, const char *name)
{
    mv_mx_result *r = &lk->res;

    r->implicit = true;
    r->nhosts = 1;
    snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", name);
    r->hosts[0].pref = 0;
    resolve_hosts(lk);
}

/* status_text - a c-ares status as an admin reads it */
static const char *status_text(int status)
{
    switch (status) {
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_ETIMEOUT: return "timeout";
    case ARES_ECONNREFUSED: return "connection refused";
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return "cancelled";
    default: return ares_strerror(status);
    }
}

/* on_mx - the MX answer */
static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    lookup *lk = arg;
    mv_dns *d = lk->d;
    mv_mx_answer a;
    mv_dnsmsg_status ps;

    (void)timeouts;
    if (d->closing || status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
        temp(lk, "cancelled");
        return;
    }
    /* a negative answer counts only when it is whole and well-formed */
    if ((status == ARES_ENOTFOUND || status == ARES_ENODATA) && abuf != NULL &&
        (ps = mv_dnsmsg_check(abuf, alen > 0 ? (size_t)alen : 0)) != MV_DNSMSG_OK) {
        temp(lk, mv_dnsmsg_strerror(ps));
        return;
    }
    if (status == ARES_ENOTFOUND) {
        lk->res.status = MV_DNS_NXDOMAIN;
        snprintf(lk->res.detail, sizeof(lk->res.detail), "NXDOMAIN");
        finish(lk);
        return;
    }
    if (status == ARES_ENODATA) {
        implicit(lk, lk->domain);
        return;
    }
    if (status != ARES_SUCCESS || abuf == NULL) {
        lk->res.unanswered = unanswered(status);
        temp(lk, status_text(status));
        return;
    }
    if ((ps = mv_dnsmsg_check(abuf, alen > 0 ? (size_t)alen : 0)) != MV_DNSMSG_OK ||
        (ps = mv_dnsmsg_mx(abuf, (size_t)alen, lk->domain, &a)) != MV_DNSMSG_OK) {
        temp(lk, mv_dnsmsg_strerror(ps));
        return;
    }
    lk->res.ttl = a.ttl;
    if (a.null_mx) {
        lk->res.status = MV_DNS_NULLMX;
        snprintf(lk->res.detail, sizeof(lk->res.detail), "null MX (RFC 7505)");
        finish(lk);
        return;
    }
    if (a.nmx == 0) { /* only a CNAME chain: the target's address */
        implicit(lk, a.target);
        return;
    }
    for (size_t i = 0; i < a.nmx; i++) {
        snprintf(lk->res.hosts[i].name, sizeof(lk->res.hosts[i].name), "%s", a.mx[i].host);
        lk->res.hosts[i].pref = a.mx[i].pref;
    }
    lk->res.nhosts = a.nmx;
    shuffle_equal(d, lk->res.hosts, a.nmx);
    resolve_hosts(lk);
}

/* new_lookup - a lookup, or NULL after answering "out of memory" */
static lookup *new_lookup(mv_dns *d, const char *name, bool mx, mv_dns_cb cb, void *arg)
{
    lookup *lk = calloc(1, sizeof(*lk));

    if (lk == NULL) {
        mv_mx_result r = {.status = MV_DNS_TEMP};

        snprintf(r.detail, sizeof(r.detail), "out of memory");
        cb(arg, &r);
        return NULL;
    }
    lk->d = d;
    lk->mx = mx;
    lk->cb = cb;
    lk->arg = arg;
    lk->res.ttl = UINT32_MAX;
    snprintf(lk->domain, sizeof(lk->domain), "%s", name);
    d->pending++;
    return lk;
}

/* start - send a lookup's first query (its callbacks own it from here) */
static void start(lookup *lk)
{
    lk->started = true;
    lk->d->inflight++;
    if (lk->mx)
        ares_query(lk->d->ch, lk->domain, ns_c_in, ns_t_mx, on_mx, lk);
    else
        implicit(lk, lk->domain);
}

/* start_waiting - send waiting lookups while there is room; a lookup that
 * ends at once (c-ares answered from /etc/hosts) comes back here through
 * finish, which the flag turns into a no-op: the loop below goes on */
static void start_waiting(mv_dns *d)
{
    lookup *lk;

    if (d->starting || d->closing)
        return;
    d->starting = true;
    while (d->inflight < MAX_INFLIGHT && (lk = STAILQ_FIRST(&d->waiting)) != NULL) {
        STAILQ_REMOVE_HEAD(&d->waiting, link);
        start(lk);
    }
    d->starting = false;
    rearm(d);
}

/* submit - start now if there is room, else wait in line */
static void submit(mv_dns *d, lookup *lk)
{
    if (d->closing) {
        temp(lk, "cancelled");
        return;
    }
    STAILQ_INSERT_TAIL(&d->waiting, lk, link);
    start_waiting(d);
}

/* mv_dns_lookup_host - a host's addresses only (a configured next hop) */
void mv_dns_lookup_host(mv_dns *d, const char *host, mv_dns_cb cb, void *arg)
{
    lookup *lk = new_lookup(d, host, false, cb, arg);

    if (lk != NULL)
        submit(d, lk);
}

/* mv_dns_lookup_mx - start a lookup; cb runs exactly once, on the loop */
void mv_dns_lookup_mx(mv_dns *d, const char *domain, mv_dns_cb cb, void *arg)
{
    lookup *lk = new_lookup(d, domain, true, cb, arg);

    if (lk != NULL)
        submit(d, lk);
}
