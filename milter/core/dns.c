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
 * A lookup is: one MX query; then an address lookup (ares_getaddrinfo,
 * A and AAAA) per MX host, in parallel; or, when the domain has no MX
 * (NODATA), one address lookup for the domain itself. The lookup ends
 * when every part has answered, and its callback runs exactly once --
 * also when the resolver is destroyed (then with MV_DNS_TEMP).
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
#include <arpa/nameser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RCVBUF_BYTES (4 << 20)  /* our socket's receive buffer, asked for (capped at rmem_max) */
#define MAX_INFLIGHT 128        /* lookups out at once (each: an MX query, then its hosts') */

typedef struct lookup lookup;

struct mv_dns {
    mv_loop *loop;
    ares_channel ch;
    mv_timer timer;
    size_t pending;             /* lookups not finished: out, or waiting */
    size_t inflight;            /* out: at most MAX_INFLIGHT */
    lookup *wait_head, *wait_tail;      /* waiting for a place, in order */
    bool starting;              /* inside start_waiting (no recursion) */
    uint64_t rng;
    bool closing;
};

typedef struct {
    lookup *lk;
    size_t idx;
} hostq;

struct lookup {
    mv_dns *d;
    lookup *next;               /* in the waiting line */
    bool mx;                    /* an MX lookup (else: a host's addresses only) */
    bool started;               /* counted in d->inflight */
    char domain[256];
    mv_dns_cb cb;
    void *arg;
    mv_mx_result res;
    hostq q[MV_MX_MAX];
    size_t outstanding;
    size_t temp;                /* address lookups that failed for now */
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
mv_dns *mv_dns_new(mv_loop *loop, const char *servers, int timeout_ms, int tries,
                   char *err, size_t errlen)
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
    rc = ares_init_options(&d->ch, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
                                       ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF);
    if (rc == ARES_SUCCESS && servers != NULL && *servers != '\0' &&
        (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS)
        ares_destroy(d->ch);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver: %s%s%s", ares_strerror(rc),
                 servers ? " in " : "", servers ? servers : "");
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
    ares_destroy(d->ch);        /* runs every callback of what is out */
    while ((lk = d->wait_head) != NULL) {
        d->wait_head = lk->next;
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

/* add_addrs - keep up to MV_ADDRS_PER_HOST addresses, IPv4 and IPv6 mixed */
static void add_addrs(mv_mx_result *res, mv_mx_host *h, const struct ares_addrinfo *ai)
{
    for (const struct ares_addrinfo_node *n = ai->nodes; n && h->naddr < MV_ADDRS_PER_HOST; n = n->ai_next) {
        if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
            n->ai_addrlen > sizeof(h->addr[0]))
            continue;
        memcpy(&h->addr[h->naddr++], n->ai_addr, n->ai_addrlen);
        if (n->ai_ttl >= 0 && (uint32_t)n->ai_ttl < res->ttl)
            res->ttl = (uint32_t)n->ai_ttl;
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
        temp(lk, r->implicit ? "address lookup failed" : "MX host lookup failed");
        return;
    } else {
        r->status = MV_DNS_NOHOST;
        snprintf(r->detail, sizeof(r->detail), "%s",
                 r->implicit ? "no MX and no address" : "MX hosts have no address");
    }
    finish(lk);
}

/* on_addr - one host's A/AAAA answer */
static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    hostq *q = arg;
    lookup *lk = q->lk;

    (void)timeouts;
    if (status == ARES_SUCCESS && ai != NULL)
        add_addrs(&lk->res, &lk->res.hosts[q->idx], ai);
    else if (status != ARES_ENOTFOUND && status != ARES_ENODATA)
        lk->temp++;
    if (ai != NULL)
        ares_freeaddrinfo(ai);
    if (--lk->outstanding == 0)
        done_hosts(lk);
}

/* resolve_hosts - start the address lookups of every host */
static void resolve_hosts(lookup *lk)
{
    struct ares_addrinfo_hints hints = {0};
    size_t n = lk->res.nhosts;

    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT;
    lk->outstanding = n;
    for (size_t i = 0; i < n; i++) {
        lk->q[i] = (hostq){lk, i};
        /* may call on_addr at once (hosts file): lk may be gone after the last */
        ares_getaddrinfo(lk->d->ch, lk->res.hosts[i].name, NULL, &hints, on_addr, &lk->q[i]);
    }
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
        temp(lk, status_text(status));
        return;
    }
    if ((ps = mv_dnsmsg_mx(abuf, (size_t)alen, lk->domain, &a)) != MV_DNSMSG_OK) {
        temp(lk, ps == MV_DNSMSG_CNAME_LOOP ? "CNAME loop" : "malformed DNS answer");
        return;
    }
    lk->res.ttl = a.ttl;
    if (a.null_mx) {
        lk->res.status = MV_DNS_NULLMX;
        snprintf(lk->res.detail, sizeof(lk->res.detail), "null MX (RFC 7505)");
        finish(lk);
        return;
    }
    if (a.nmx == 0) {           /* only a CNAME chain: the target's address */
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
    while (d->inflight < MAX_INFLIGHT && (lk = d->wait_head) != NULL) {
        if ((d->wait_head = lk->next) == NULL)
            d->wait_tail = NULL;
        lk->next = NULL;
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
    if (d->wait_tail != NULL)
        d->wait_tail->next = lk;
    else
        d->wait_head = lk;
    d->wait_tail = lk;
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
