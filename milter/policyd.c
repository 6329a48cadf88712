/* SPDX-License-Identifier: MIT */
/*
 * policyd.c - the Postfix policy listener; see policyd.h.
 *
 * A connection reads into a buffer bounded by milter.policy_max_request
 * and answers one request at a time (Postfix waits for each answer; a
 * client that sends more early has it parsed after the answer). While
 * the engine works on a request, the connection is not polled for input,
 * so a verdict never races a read; a peer that hangs up meanwhile is
 * closed when its verdict arrives, since the engine still holds it.
 * Protocol errors (policyreq.h), a read error, or a connection closed in
 * the middle of a request close that connection with one log line; a
 * connection idle for milter.policy_idle_timeout_s is closed quietly
 * (Postfix reconnects, as it does after its own max_idle and max_ttl).
 *
 * What is checked, as the milter does: protocol_state RCPT and VRFY
 * check the recipient ("recipient" context, per-domain overrides, the
 * harvest budget of client_address), MAIL the sender ("sender"); every
 * other state, an authenticated client (sasl_username) and a trusted
 * network get DUNNO. The engine failing gets DUNNO too (fail open).
 */
#include "policyd.h"
#include "clientkey.h"
#include "policyreq.h"
#include "replies.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

typedef struct pconn {
    mvd_policy *p;
    int fd;
    char peer[64]; /* for logs: "127.0.0.1:40000" or "unix" */
    char *buf;     /* the stream, from the current request on */
    size_t len, cap;
    bool busy;        /* a check is with the engine */
    bool dead;        /* the peer went away while busy */
    bool inline_done; /* the verdict came before submit returned */
    int64_t last_ms;  /* last read or answer (monotonic) */
    /* the request being checked */
    mv_config *cfg;
    bool sender;
    char addr[MV_MAILBOX_MAX * 2 + 8]; /* "<address>": the verdict borrows it */
    char qid[32], who[320], dha_key[MV_CLIENT_KEY_SIZE];
    mv_verdict v;
    STAILQ_ENTRY(pconn) done_link; /* the completion queue */
    LIST_ENTRY(pconn) link;        /* every connection, for the idle sweep */
} pconn;

struct mvd_policy {
    mvd *d;
    int lfd, efd, ep;
    char spec[1100];
    char *unix_path;    /* unlinked at free */
    pthread_t th, self; /* self: set by the thread itself */
    bool started;
    mv_config *cfg; /* the loop's reference to the current config */
    atomic_bool stop;
    pthread_mutex_t mu; /* guards the completion queue */
    STAILQ_HEAD(, pconn) done;
    LIST_HEAD(, pconn) conns;
    size_t nconns;
};

#define MAX_CONNS 4096 /* beyond, new connections are closed at once */

/* now_ms - the monotonic clock */
static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- socket -- */

/* parse_inet - "inet:PORT@HOST" / "inet6:PORT@HOST" into host and port */
static bool parse_inet(const char *spec, char *host, size_t hsize, char *port, size_t psize, int *family)
{
    const char *rest = strchr(spec, ':') + 1, *at = strchr(rest, '@');

    *family = strncmp(spec, "inet6:", 6) == 0 ? AF_INET6 : AF_INET;
    if (at == NULL || at == rest || (size_t)(at - rest) >= psize || strlen(at + 1) >= hsize || !at[1])
        return false;
    snprintf(port, psize, "%.*s", (int)(at - rest), rest);
    snprintf(host, hsize, "%s", at + 1);
    return true;
}

/* listen_inet - a listening TCP socket; -1 with a message */
static int listen_inet(const char *spec)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    int fd = -1, one = 1, family, rc;

    if (!parse_inet(spec, host, sizeof(host), port, sizeof(port), &family)) {
        fprintf(stderr, "mailverifyd: policy socket %s: want inet:PORT@HOST or unix:/path\n", spec);
        return -1;
    }
    hints.ai_family = family;
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        fprintf(stderr, "mailverifyd: policy socket %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
        fprintf(stderr, "mailverifyd: cannot open policy socket %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* listen_unix - a listening unix socket, its mode and group; -1 with a message */
static int listen_unix(const char *path, const mv_milter_settings *s)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;
    mode_t old;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "mailverifyd: policy socket path too long: %s\n", path);
        return -1;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    (void)unlink(path); /* a stale socket of an earlier run */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        fprintf(stderr, "mailverifyd: policy socket: %s\n", strerror(errno));
        return -1;
    }
    old = umask(0177);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 512) < 0) {
        umask(old);
        fprintf(stderr, "mailverifyd: cannot open policy socket %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    umask(old);
    if (!mvd_socket_perms(path, s)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* unix_path - the file of a unix:/local: spec, or NULL */
static const char *unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    return spec[0] == '/' ? spec : NULL;
}

/* mvd_policy_open - bind and listen, as root, before detaching */
mvd_policy *mvd_policy_open(mvd *d, const char *spec, const mv_milter_settings *s)
{
    mvd_policy *p = calloc(1, sizeof(*p));
    const char *path = unix_path(spec);

    if (p == NULL) {
        fprintf(stderr, "mailverifyd: out of memory\n");
        return NULL;
    }
    p->d = d;
    p->lfd = p->efd = p->ep = -1;
    STAILQ_INIT(&p->done);
    LIST_INIT(&p->conns);
    snprintf(p->spec, sizeof(p->spec), "%s", spec);
    pthread_mutex_init(&p->mu, NULL);
    if (path == NULL && strncmp(spec, "inet:", 5) != 0 && strncmp(spec, "inet6:", 6) != 0) {
        fprintf(stderr, "mailverifyd: policy socket %s: want inet:PORT@HOST or unix:/path\n", spec);
        mvd_policy_free(p);
        return NULL;
    }
    p->lfd = path ? listen_unix(path, s) : listen_inet(spec);
    if (p->lfd >= 0 && path != NULL && (p->unix_path = strdup(path)) == NULL) {
        fprintf(stderr, "mailverifyd: out of memory\n");
        mvd_policy_free(p);
        return NULL;
    }
    if (p->lfd < 0) {
        mvd_policy_free(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------ connections -- */

/* conn_close - forget a connection (never while the engine holds it) */
static void conn_close(mvd_policy *p, pconn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    LIST_REMOVE(c, link);
    p->nconns--;
    mv_config_unref(c->cfg);
    free(c->buf);
    free(c);
}

/* conn_drop - close after bad input, with the one line that says why */
static void conn_drop(mvd_policy *p, pconn *c, const char *why)
{
    mvd_log(LOG_WARNING, "warning: policy: client %s: %s; connection closed", c->peer, why);
    conn_close(p, c);
}

/* poll_input - read the connection's input again, or stop */
static void poll_input(mvd_policy *p, pconn *c, bool on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN | EPOLLRDHUP : EPOLLRDHUP, .data.ptr = c};

    epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* peer_text - the peer for logs */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char a[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;

        inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
        snprintf(out, size, "%s:%u", a, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
        snprintf(out, size, "[%s]:%u", a, ntohs(in6->sin6_port));
    } else {
        snprintf(out, size, "unix");
    }
}

/* accept_all - every connection waiting */
static void accept_all(mvd_policy *p)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(p->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        pconn *c;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
        const mv_milter_settings *s = mv_milter_settings_of(p->cfg);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                mvd_log(LOG_WARNING, "warning: policy: accept: %s", strerror(errno));
            return;
        }
        if (p->nconns >= MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
            mvd_log(LOG_WARNING, "warning: policy: %s; connection refused",
                    p->nconns >= MAX_CONNS ? "too many connections" : "out of memory");
            close(fd);
            continue;
        }
        c->p = p;
        c->fd = fd;
        c->cap = (size_t)s->policy_max_request;
        c->last_ms = now_ms();
        peer_text(&ss, c->peer, sizeof(c->peer));
        ev.data.ptr = c;
        if ((c->buf = malloc(c->cap)) == NULL || epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            mvd_log(LOG_WARNING, "warning: policy: cannot take a connection: %s", strerror(errno));
            close(fd);
            free(c->buf);
            free(c);
            continue;
        }
        LIST_INSERT_HEAD(&p->conns, c, link);
        p->nconns++;
        mv_stats_event(p->d->stats, MV_STAT_POLICY_CONNECTIONS);
    }
}

/* ---------------------------------------------------------------- answers -- */

/* answer - write "action=...": false when the peer cannot take it */
static bool answer(pconn *c, const char *action)
{
    char out[1200];
    int n = snprintf(out, sizeof(out), "action=%s\n\n", action);

    if (n < 0 || (size_t)n >= sizeof(out))
        n = snprintf(out, sizeof(out), "action=DUNNO\n\n");
    c->last_ms = now_ms();
    /* an answer is far smaller than a socket buffer, and Postfix reads
     * each before it asks again: a short write means a broken peer */
    return write(c->fd, out, (size_t)n) == n;
}

/* style - how the current configuration words answers */
static mv_policy_style style(const mv_milter_settings *s)
{
    return (mv_policy_style){s->policy_tempfail, s->review, s->header};
}

/* log_verdict - one line per verdict, as the milter logs it */
static void log_verdict(const pconn *c, const mv_verdict *v, const char *extra, const char *action)
{
    char line[2048];

    mv_milter_verdict_line(line, sizeof(line), c->qid, c->sender, c->addr, c->who, v, extra);
    mvd_log(LOG_INFO, "%s policy=\"%s\"", line, action);
}

/* finish - the verdict is in: count, log, answer; false if the
 * connection is gone */
static bool finish(mvd_policy *p, pconn *c)
{
    mvd *d = p->d;
    const mv_milter_settings *s = mv_milter_settings_of(c->cfg);
    mv_policy_style st = style(s);
    const mv_verdict *v = &c->v;
    bool dry = d->dry_run || s->dry_run, refusing = v->action == MV_ACT_BLOCK || v->action == MV_ACT_TEMPFAIL;
    char action[1024];

    atomic_fetch_sub(&d->checks, 1);
    c->busy = false;
    mv_stats_verdict(d->stats, v, v->elapsed_us);
    if (dry) {
        snprintf(action, sizeof(action), "DUNNO");
        if (refusing)
            mv_stats_event(d->stats, MV_STAT_DRY_RUN);
    } else {
        mv_policy_action(v, c->sender, &st, action, sizeof(action));
    }
    log_verdict(c, v, dry && refusing ? " dry-run=accepted" : "", action);
    if (!c->sender && v->status == MV_STATUS_UNDELIVERABLE && c->dha_key[0] && s->dha_limit > 0)
        mv_dha_count(d->dha, c->dha_key, (unsigned)s->dha_window_s, (int64_t)time(NULL));
    mv_config_unref(c->cfg);
    c->cfg = NULL;
    if (c->dead || !answer(c, action)) {
        if (!c->dead)
            mvd_log(LOG_WARNING, "warning: policy: client %s: cannot answer: %s; connection closed", c->peer,
                    strerror(errno));
        conn_close(p, c);
        return false;
    }
    poll_input(p, c, true);
    return true;
}

/* on_verdict - the engine's callback: on its thread, or on ours inline */
static void on_verdict(void *arg, const mv_verdict *v)
{
    pconn *c = arg;
    mvd_policy *p = c->p;

    /* the verdict is the engine's until we return, and so is what its
     * input points at (the request's copy): point it at our own c->addr,
     * the address we submitted, which stays until the answer is sent */
    c->v = *v;
    c->v.input = c->addr;
    c->v.input_len = strlen(c->addr);
    if (pthread_equal(pthread_self(), p->self)) {
        c->inline_done = true; /* process() finishes it when submit returns */
        return;
    }
    pthread_mutex_lock(&p->mu);
    STAILQ_INSERT_TAIL(&p->done, c, done_link);
    pthread_mutex_unlock(&p->mu);
    if (write(p->efd, &(uint64_t){1}, sizeof(uint64_t)) < 0) {
        /* the counter cannot overflow in practice; the loop also drains
         * the queue at each wakeup, so nothing is lost */
    }
}

/* drain - answer every verdict the engine posted */
static void process(mvd_policy *p, pconn *c);

static void drain(mvd_policy *p)
{
    STAILQ_HEAD(, pconn) todo = STAILQ_HEAD_INITIALIZER(todo);
    uint64_t n;
    pconn *c;

    if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        mvd_log(LOG_WARNING, "warning: policy: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&p->mu);
    STAILQ_CONCAT(&todo, &p->done);
    pthread_mutex_unlock(&p->mu);
    while ((c = STAILQ_FIRST(&todo)) != NULL) {
        STAILQ_REMOVE_HEAD(&todo, done_link);
        if (finish(p, c))
            process(p, c); /* whatever came early */
    }
}

/* ---------------------------------------------------------------- requests -- */

/* trusted - is client_address in milter.trusted_networks? */
static bool trusted(const mv_config *cfg, const char *addr)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (addr == NULL)
        return false;
    if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
        return mv_nets_match(&mv_milter_settings_of(cfg)->trusted_networks, (struct sockaddr *)&in);
    if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1)
        return mv_nets_match(&mv_milter_settings_of(cfg)->trusted_networks, (struct sockaddr *)&in6);
    return false;
}

/* rcpt_rule - the domains override for this recipient, if any */
static const mv_domain_rule *rcpt_rule(const mv_config *cfg, const char *rcpt)
{
    mv_address a;

    if (mv_address_parse(rcpt, strlen(rcpt), 0, &a) != MV_SYN_OK || a.literal)
        return NULL;
    return mv_config_domain_rule(cfg, a.domain);
}

/* dha_refuse - a spent harvest budget: the first refusal of an episode
 * is logged, the rest counted (mailverifyd logs one summary) */
static bool dha_refuse(mvd_policy *p, pconn *c, const mv_milter_settings *s)
{
    mv_policy_style st = style(s);
    char action[200];

    mv_policy_action_dha(&st, action, sizeof(action));
    mv_stats_event(p->d->stats, MV_STAT_DHA);
    if (mv_dha_refused(p->d->dha, c->dha_key, c->who, (unsigned)s->dha_window_s, (int64_t)time(NULL)))
        mvd_log(LOG_NOTICE,
                "%s: to=%s client=%s action=tempfail reason=harvest_budget (not probed); "
                "the client spent its budget (milter.dha_limit %lld unknown recipients per %lld s): its "
                "recipients are tempfailed unprobed, one summary line when the window ends",
                c->qid, c->addr, c->who, s->dha_limit, s->dha_window_s);
    return answer(c, action);
}

/* submit - hand the request to the engine; false if it could not take it */
static bool submit(mvd_policy *p, pconn *c, const mv_domain_rule *rule)
{
    mvd *d = p->d;
    mv_request req = {.address = c->addr,
                      .len = strlen(c->addr),
                      .context = c->sender ? MV_CTX_SENDER : MV_CTX_RECIPIENT,
                      .mode = rule && rule->skip_smtp ? MV_MODE_DNS : MV_MODE_CONTEXT,
                      .config = c->cfg,
                      .next_hop = rule ? rule->next_hop : NULL};
    mv_call rc;

    c->busy = true;
    c->inline_done = false;
    poll_input(p, c, false);
    atomic_fetch_add(&d->checks, 1);
    if ((rc = mv_engine_submit(d->engine, &req, on_verdict, c)) != MV_OK) {
        atomic_fetch_sub(&d->checks, 1);
        c->busy = false;
        poll_input(p, c, true);
        mvd_log(LOG_ERR, "%s: error: cannot verify %s: %s%s%s", c->qid, c->addr, mv_call_name(rc),
                rc == MV_ENETSTART ? ": " : "", rc == MV_ENETSTART ? mv_engine_error(d->engine) : "");
        mv_stats_event(d->stats, MV_STAT_ENGINE_ERRORS);
        return false;
    }
    return true;
}

/* skip - why this request is not checked, or NULL (counted) */
static const char *skip(mvd_policy *p, const mv_policyreq *r, const mv_milter_settings *s,
                        const mv_config *cfg)
{
    const char *st = r->protocol_state ? r->protocol_state : "";
    bool rcpt = strcmp(st, "RCPT") == 0 || strcmp(st, "VRFY") == 0, mail = strcmp(st, "MAIL") == 0;

    if ((!rcpt && !mail) || (rcpt && !s->check_recipients) || (mail && !s->check_senders))
        return "state";
    if (s->skip_authenticated && r->sasl_username && r->sasl_username[0]) {
        mv_stats_event(p->d->stats, MV_STAT_SKIP_AUTH);
        return "authenticated";
    }
    if (trusted(cfg, r->client_address)) {
        mv_stats_event(p->d->stats, MV_STAT_SKIP_TRUSTED);
        return "trusted";
    }
    if (mail && (r->sender == NULL || r->sender[0] == '\0') && s->skip_null_sender) {
        mv_stats_event(p->d->stats, MV_STAT_SKIP_NULL);
        return "null sender";
    }
    return NULL;
}

/* set_request - what the answer and the log need from the request */
static void set_request(pconn *c, const mv_policyreq *r, const mv_milter_settings *s)
{
    const char *a = c->sender ? r->sender : r->recipient;
    const char *name = r->client_name && r->client_name[0] ? r->client_name : "unknown";

    snprintf(c->addr, sizeof(c->addr), "<%.*s>", MV_MAILBOX_MAX * 2, a ? a : "");
    snprintf(c->qid, sizeof(c->qid), "%.20s", r->queue_id && r->queue_id[0] ? r->queue_id : "NOQUEUE");
    snprintf(c->who, sizeof(c->who), "%.255s[%.45s]", name, r->client_address ? r->client_address : "?");
    for (char *q = c->who; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7F)
            *q = '?';
    c->dha_key[0] = '\0';
    if (r->client_address && r->client_address[0])
        mv_client_key(r->client_address, (unsigned)s->ipv6_prefix, c->dha_key, sizeof(c->dha_key));
}

/* request - one complete request; false when the connection must close */
static bool request(mvd_policy *p, pconn *c, const mv_policyreq *r)
{
    mv_config *cfg = mv_config_ref(p->cfg);
    const mv_milter_settings *s = mv_milter_settings_of(cfg);
    const mv_domain_rule *rule = NULL;

    if (r->request == NULL || strcmp(r->request, "smtpd_access_policy") != 0 || skip(p, r, s, cfg)) {
        mv_config_unref(cfg);
        return answer(c, "DUNNO");
    }
    c->sender = strcmp(r->protocol_state, "MAIL") == 0;
    set_request(c, r, s);
    if (!c->sender && (rule = rcpt_rule(cfg, c->addr + 1 /* without "<" */)) != NULL && rule->accept) {
        mv_stats_event(p->d->stats, MV_STAT_SKIP_DOMAIN);
        mv_config_unref(cfg);
        return answer(c, "DUNNO");
    }
    if (!c->sender && c->dha_key[0] &&
        mv_dha_spent(p->d->dha, c->dha_key, (unsigned)s->dha_limit, (unsigned)s->dha_window_s,
                     (int64_t)time(NULL))) {
        bool ok = dha_refuse(p, c, s);

        mv_config_unref(cfg);
        return ok;
    }
    c->cfg = cfg; /* the request's, until its verdict */
    if (!submit(p, c, rule)) {
        mv_config_unref(c->cfg);
        c->cfg = NULL;
        return answer(c, "DUNNO"); /* the engine failing must not stop mail */
    }
    return true;
}

/* process - the requests in the buffer, one at a time */
static void process(mvd_policy *p, pconn *c)
{
    const mv_milter_settings *s = mv_milter_settings_of(p->cfg);
    mv_policyreq_limits lim = {(size_t)s->policy_max_line, (size_t)s->policy_max_attributes, c->cap};

    while (!c->busy && c->len > 0) {
        mv_policyreq r;
        size_t used = 0;
        mv_policyreq_status st = mv_policyreq_parse(c->buf, c->len, &lim, &r, &used);
        bool ok;

        if (st == MV_PREQ_MORE)
            return;
        if (st != MV_PREQ_DONE) {
            conn_drop(p, c, mv_policyreq_error_text(st));
            return;
        }
        /* the request's values live in buf until request() copied them */
        ok = request(p, c, &r);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (!ok) {
            conn_drop(p, c, "cannot answer");
            return;
        }
        if (c->busy && !c->inline_done)
            return; /* drain() goes on from here */
        if (c->busy && !finish(p, c))
            return;
    }
}

/* readable - input, or the peer going away */
static void readable(mvd_policy *p, pconn *c, uint32_t events)
{
    ssize_t n;

    if (c->busy) {
        /* only hang-ups are polled while the engine has the request */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            c->dead = true;
            epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        }
        return;
    }
    n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n < 0)
            conn_drop(p, c, strerror(errno));
        else if (c->len > 0) {
            mvd_log(LOG_WARNING,
                    "warning: policy: client %s closed the connection in the middle of a "
                    "request",
                    c->peer);
            conn_close(p, c);
        } else
            conn_close(p, c); /* Postfix's max_idle, max_ttl, or its stop */
        return;
    }
    c->len += (size_t)n;
    c->last_ms = now_ms();
    process(p, c);
}

/* sweep - close connections idle past milter.policy_idle_timeout_s */
static void sweep(mvd_policy *p, int64_t now)
{
    int64_t idle = mv_milter_settings_of(p->cfg)->policy_idle_timeout_s * 1000;

    for (pconn *c = LIST_FIRST(&p->conns), *next; c != NULL; c = next) {
        next = LIST_NEXT(c, link);
        if (!c->busy && now - c->last_ms > idle) {
            if (c->len > 0)
                conn_drop(p, c, "idle timeout in the middle of a request");
            else
                conn_close(p, c);
        }
    }
}

/* current - follow a reload: the loop's reference to the current config */
static void current(mvd_policy *p)
{
    pthread_mutex_lock(&p->d->mu);
    if (p->cfg != p->d->cfg) {
        mv_config_unref(p->cfg);
        p->cfg = mv_config_ref(p->d->cfg);
    }
    pthread_mutex_unlock(&p->d->mu);
}

/* loop - the listener's thread */
static void *loop(void *arg)
{
    mvd_policy *p = arg;
    struct epoll_event ev[64];
    int64_t last_sweep = now_ms();

    p->self = pthread_self();
    while (!atomic_load(&p->stop)) {
        int n = epoll_wait(p->ep, ev, 64, 1000);
        int64_t now;

        current(p);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &p->lfd)
                accept_all(p);
            else if (ev[i].data.ptr == &p->efd)
                drain(p);
            else
                readable(p, ev[i].data.ptr, ev[i].events);
        }
        if ((now = now_ms()) - last_sweep >= 1000) {
            sweep(p, now);
            last_sweep = now;
        }
    }
    return NULL;
}

/* mvd_policy_start - the loop thread, after detaching */
int mvd_policy_start(mvd_policy *p)
{
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &p->lfd};
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &p->efd};

    if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || (p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, p->lfd, &le) < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, p->efd, &ee) < 0)
        return -1;
    p->cfg = mvd_config(p->d);
    if (pthread_create(&p->th, NULL, loop, p) != 0)
        return -1;
    p->started = true;
    return 0;
}

/* mvd_policy_close - stop accepting; connections still get answers */
void mvd_policy_close(mvd_policy *p)
{
    if (p == NULL || p->lfd < 0)
        return;
    if (p->ep >= 0)
        epoll_ctl(p->ep, EPOLL_CTL_DEL, p->lfd, NULL);
    close(p->lfd);
    p->lfd = -1;
}

/* mvd_policy_stop - stop the thread (after mvd_drain) */
void mvd_policy_stop(mvd_policy *p)
{
    if (p == NULL || !p->started)
        return;
    mvd_policy_close(p);
    atomic_store(&p->stop, true);
    if (write(p->efd, &(uint64_t){1}, sizeof(uint64_t)) < 0)
        mvd_log(LOG_WARNING, "warning: policy: cannot wake the listener: %s", strerror(errno));
    pthread_join(p->th, NULL);
    p->started = false;
}

/* mvd_policy_free - after mv_engine_free (whose last verdicts may still
 * be posted to the queue): close what is left */
void mvd_policy_free(mvd_policy *p)
{
    if (p == NULL)
        return;
    mvd_policy_stop(p);
    mvd_policy_close(p);
    while (!LIST_EMPTY(&p->conns))
        conn_close(p, LIST_FIRST(&p->conns));
    if (p->unix_path)
        unlink(p->unix_path);
    free(p->unix_path);
    if (p->efd >= 0)
        close(p->efd);
    if (p->ep >= 0)
        close(p->ep);
    mv_config_unref(p->cfg);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
