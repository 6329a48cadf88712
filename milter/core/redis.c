/* SPDX-License-Identifier: MIT */
/*
 * redis.c - the shared verdict cache's Redis client, on the engine's loop:
 * the connection (redis_cmd.c has the commands).
 *
 * hiredis (Debian 12: 0.14) does the protocol; this file gives it an event
 * adapter onto mv_loop (its ev hooks: add/del read/write, cleanup), keeps
 * every outstanding command in a FIFO with a deadline (hiredis 0.14 has no
 * timers of its own), and runs the connection's life: connect, AUTH,
 * SELECT, SCRIPT LOAD, ready; on any failure, every outstanding callback
 * gets hiredis' NULL reply (we map it to a status), the state becomes down
 * with one log line, and a timer reconnects with backoff. With TLS the
 * socket hiredis just made is handed to the pump of redis_tls.c before
 * the loop watches it; hiredis then talks plaintext to the pump.
 *
 * A hostile or broken server must not crash the engine. hiredis 0.14
 * asserts on a reply nobody asked for and buffers a bulk of any announced
 * length, so we wrap its reply constructors (counting top-level replies,
 * capping array sizes) and cap its read buffer; replies are checked for
 * type and size before use, and a value that does not parse is a miss.
 *
 * The client needs hiredis: without MV_HAVE_HIREDIS this file and
 * redis_cmd.c compile to nothing, for builds without -lhiredis.
 */
#ifdef MV_HAVE_HIREDIS

#include "redis_int.h"
#include "redact.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static void connect_now(mv_redis *r);

/* ---- logging -------------------------------------------------------------- */

/* redis_say - one log line, prefixed with the server; the password is
 * masked wherever it shows up (a server's error reply to AUTH, a TLS
 * library's message: text we do not write ourselves) */
static void redis_say(mv_redis *r, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void redis_say(mv_redis *r, int prio, const char *fmt, ...)
{
    char msg[512];
    int n;
    va_list ap;

    if (r->log == NULL)
        return;
    n = snprintf(msg, sizeof(msg), "redis %s: ", r->server);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (r->password != NULL)
        mv_redact_scrub(msg, sizeof(msg), r->password, strlen(r->password));
    r->log(r->log_arg, prio, msg);
}

/* ---- the FIFO and its deadline ------------------------------------------- */

static void on_deadline(void *arg);

/* mv_redis_fifo_push - q is now waiting for an answer; the deadline timer covers the oldest */
void mv_redis_fifo_push(mv_redis *r, req *q)
{
    q->deadline = mv_loop_now() + r->timeout_ms;
    TAILQ_INSERT_TAIL(&r->fifo, q, link);
    r->st.pending++;
    if (!mv_timer_armed(&r->deadline_t))
        mv_timer_start(r->loop, &r->deadline_t, r->timeout_ms, on_deadline, r);
}

void mv_redis_fifo_unlink(mv_redis *r, req *q)
{
    TAILQ_REMOVE(&r->fifo, q, link);
    r->st.pending--;
}

/* ---- connection state ---------------------------------------------------- */

/* mv_redis_note_down - the connection is gone or going: one log line per change of state */
void mv_redis_note_down(mv_redis *r, const char *why)
{
    if (r->state == ST_CLOSED || r->state == ST_DOWN)
        return;
    if (r->state == ST_READY)
        redis_say(r, LOG_WARNING, "connection lost (%s); using the local cache until it is back", why);
    else if (!r->logged_down)
        redis_say(r, LOG_WARNING, "cannot connect (%s); using the local cache, retrying", why);
    r->st.drops += r->state == ST_READY;
    r->logged_down = true;
    r->state = ST_DOWN;
}

/* mv_redis_ac_why - the best reason we have for a failure of the current connection */
const char *mv_redis_ac_why(const mv_redis *r)
{
    if (r->why[0] != '\0')
        return r->why;
    if (r->ac != NULL && r->ac->errstr != NULL && r->ac->errstr[0] != '\0')
        return r->ac->errstr;
    return "connection closed";
}

/* mv_redis_drop - close the connection now; hiredis fails every outstanding command */
void mv_redis_drop(mv_redis *r, mv_redis_status st, const char *why)
{
    if (r->ac == NULL || (r->ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING)))
        return;
    r->drop_status = st;
    if (r->why[0] == '\0')
        snprintf(r->why, sizeof(r->why), "%s", why);
    mv_redis_note_down(r, mv_redis_ac_why(r));
    /* inside a hiredis callback this only flags the context; hiredis frees it on return */
    redisAsyncFree(r->ac);
}

/* on_retry - the backoff timer: try again */
static void on_retry(void *arg)
{
    mv_redis *r = arg;

    if (r->state == ST_DOWN && r->ac == NULL)
        connect_now(r);
}

/* retry_later - reconnect after the backoff, which doubles up to 5 s */
static void retry_later(mv_redis *r)
{
    if (r->state == ST_CLOSED)
        return;
    mv_timer_start(r->loop, &r->retry_t, r->backoff_ms, on_retry, r);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* ---- the hiredis event adapter ------------------------------------------ */

/* on_io - the loop says hiredis' socket is ready */
static void on_io(void *arg, int fd, unsigned events)
{
    mv_redis *r = arg;
    redisReader *rd;

    (void)fd;
    r->depth++;
    if (r->ac != NULL && (events & (MV_EV_READ | MV_EV_ERROR)))
        redisAsyncHandleRead(r->ac);
    if (r->ac != NULL && (events & MV_EV_WRITE))
        redisAsyncHandleWrite(r->ac);
    /* hiredis waits for a bulk of any announced size: don't let a server fill memory */
    if (r->ac != NULL && (rd = r->ac->c.reader) != NULL && rd->len - rd->pos > REPLY_BUF_MAX)
        mv_redis_drop(r, MV_REDIS_PROTO, "reply larger than 1 MiB");
    if (--r->depth == 0 && r->freeing)
        mv_redis_free(r);
}

/* ev_set - watch hiredis' socket for mask (hiredis calls the hooks idempotently) */
static void ev_set(mv_redis *r, unsigned mask)
{
    if (mask == r->evmask || r->fd < 0)
        return;
    /* XXX: on failure the commands time out and the connection is dropped */
    if (mv_loop_io_set(r->loop, r->fd, mask, on_io, r) == 0)
        r->evmask = mask;
}

static void ev_add_read(void *d)
{
    ev_set(d, ((mv_redis *)d)->evmask | MV_EV_READ);
}
static void ev_del_read(void *d)
{
    ev_set(d, ((mv_redis *)d)->evmask & ~(unsigned)MV_EV_READ);
}
static void ev_add_write(void *d)
{
    ev_set(d, ((mv_redis *)d)->evmask | MV_EV_WRITE);
}
static void ev_del_write(void *d)
{
    ev_set(d, ((mv_redis *)d)->evmask & ~(unsigned)MV_EV_WRITE);
}

/* ev_cleanup - hiredis is about to free the context and close the socket */
static void ev_cleanup(void *d)
{
    mv_redis *r = d;

    mv_redis_note_down(r, mv_redis_ac_why(r));
    if (r->fd >= 0)
        mv_loop_io_del(r->loop, r->fd);
    r->fd = -1;
    r->evmask = 0;
    r->ac = NULL;
    mv_rtls_free(r->tls); /* maybe from inside its fail hook: it touches nothing after */
    r->tls = NULL;
    retry_later(r);
}

/* ---- guarding hiredis' reader -------------------------------------------- */

/* top_ok - a top-level reply: did we ask for it? (hiredis 0.14 asserts if not) */
static bool top_ok(const redisReadTask *t)
{
    mv_redis *r = t->privdata;

    if (t->parent != NULL)
        return true;
    if (r->parsed_conn >= r->sent_conn) {
        r->drop_status = MV_REDIS_PROTO;
        snprintf(r->why, sizeof(r->why), "protocol error: a reply nobody asked for");
        return false;
    }
    r->parsed_conn++;
    return true;
}

static void *mk_string(const redisReadTask *t, char *s, size_t len)
{
    return top_ok(t) ? ((mv_redis *)t->privdata)->dflt->createString(t, s, len) : NULL;
}

static void *mk_array(const redisReadTask *t, int n)
{
    mv_redis *r = t->privdata;

    if (n > ARRAY_MAX) {
        r->drop_status = MV_REDIS_PROTO;
        snprintf(r->why, sizeof(r->why), "protocol error: an array of %d elements", n);
        return NULL;
    }
    return top_ok(t) ? r->dflt->createArray(t, n) : NULL;
}

static void *mk_integer(const redisReadTask *t, long long v)
{
    return top_ok(t) ? ((mv_redis *)t->privdata)->dflt->createInteger(t, v) : NULL;
}

static void *mk_nil(const redisReadTask *t)
{
    return top_ok(t) ? ((mv_redis *)t->privdata)->dflt->createNil(t) : NULL;
}

/* mv_redis_guard_reader - the guards on a reader (a connection's, or mv_redis_parse's) */
void mv_redis_guard_reader(mv_redis *r, redisReader *rd)
{
    r->dflt = rd->fn;
    r->fns = *r->dflt;
    r->fns.createString = mk_string;
    r->fns.createArray = mk_array;
    r->fns.createInteger = mk_integer;
    r->fns.createNil = mk_nil;
    rd->fn = &r->fns;
    rd->privdata = r;
}


/* ---- the handshake -------------------------------------------------------- */

/* hello_send - AUTH, SELECT and SCRIPT LOADs, pipelined behind the connect */
static bool hello_send(mv_redis *r)
{
    const void *none[1] = {""};
    size_t zero[1] = {0};
    req *q;
    bool ok = true;

    for (int i = -2; i < SCRIPTS && ok; i++) {
        const char *argv[3];
        size_t lens[3];
        char db[16];
        int argc = 0;

        if (i == -2 && r->password != NULL) {
            argv[argc++] = "AUTH";
            if (r->user != NULL)
                argv[argc++] = r->user;
            argv[argc++] = r->password;
        } else if (i == -1 && r->db != 0) {
            snprintf(db, sizeof(db), "%u", r->db);
            argv[argc++] = "SELECT";
            argv[argc++] = db;
        } else if (i >= 0) {
            argv[argc++] = "SCRIPT";
            argv[argc++] = "LOAD";
            argv[argc++] = mv_redis_scripts[i];
        }
        if (argc == 0)
            continue;
        for (int j = 0; j < argc; j++)
            lens[j] = strlen(argv[j]);
        if ((q = mv_redis_new_req(r, OP_HELLO, NULL, 1, none, zero)) == NULL)
            return false;
        q->script = i;
        if ((ok = mv_redis_send_argv(r, q, argc, argv, lens) == MV_REDIS_OK))
            r->hello_left++;
        else
            free(q);
    }
    return ok;
}

/* mv_redis_hello_reply - one handshake answer; the last one makes us ready */
void mv_redis_hello_reply(mv_redis *r, req *q, const redisReply *rep)
{
    char why[160];
    const char *what = q->script == -2 ? "AUTH" : q->script == -1 ? "SELECT" : "SCRIPT LOAD";

    if (q->script >= 0 && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
        memcpy(r->sha[q->script], rep->str, 40);
        r->sha[q->script][40] = '\0';
    } else if (q->script >= 0 || rep->type != REDIS_REPLY_STATUS) {
        snprintf(why, sizeof(why), "%s: %.*s", what,
                 rep->type == REDIS_REPLY_ERROR ? (int)(rep->len > 120 ? 120 : rep->len) : 16,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        free(q);
        mv_redis_drop(r, rep->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : MV_REDIS_PROTO, why);
        return;
    }
    free(q);
    if (--r->hello_left > 0 || r->state != ST_CONNECTING)
        return;
    r->state = ST_READY;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->logged_down = false;
    r->st.connects++;
    if (r->tls != NULL)
        redis_say(r, LOG_INFO, "connected; the shared cache is in use (%s)", mv_rtls_version(r->tls));
    else
        redis_say(r, LOG_INFO, "connected; the shared cache is in use");
}

/* tls_failed - the pump gave up: drop the connection like any other loss */
static void tls_failed(void *arg, const char *why)
{
    mv_redis *r = arg;

    r->depth++;
    snprintf(r->why, sizeof(r->why), "%s", why);
    mv_redis_drop(r, MV_REDIS_DOWN, r->why);
    if (--r->depth == 0 && r->freeing)
        mv_redis_free(r);
}

/* start_tls - put the TLS pump under ac's fresh socket, before the loop
 * watches it (epoll would keep watching the TCP socket behind the fd);
 * false when it cannot (ac freed, logged, retried later) */
static bool start_tls(mv_redis *r, redisAsyncContext *ac)
{
    if ((r->tls = mv_rtls_start(r->loop, r->tls_ctx, ac->c.fd, r->tls_name, tls_failed, r, r->why,
                                sizeof(r->why))) != NULL)
        return true;
    redisAsyncFree(ac);
    mv_redis_note_down(r, r->why);
    retry_later(r);
    return false;
}

/* connect_now - start a connection; the handshake rides behind it */
static void connect_now(mv_redis *r)
{
    redisAsyncContext *ac;

    r->why[0] = '\0';
    r->state = ST_CONNECTING;
    ac = r->path ? redisAsyncConnectUnix(r->path) : redisAsyncConnect(r->host, r->port);
    if (ac == NULL || ac->err) {
        snprintf(r->why, sizeof(r->why), "%s", ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        mv_redis_note_down(r, r->why);
        retry_later(r);
        return;
    }
    if (r->tls_ctx != NULL && !start_tls(r, ac))
        return;
    r->ac = ac;
    r->fd = ac->c.fd;
    r->evmask = 0;
    r->sent_conn = r->parsed_conn = 0;
    r->hello_left = 0;
    r->drop_status = MV_REDIS_DOWN;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    mv_redis_guard_reader(r, ac->c.reader);
    if (!hello_send(r))
        mv_redis_drop(r, MV_REDIS_ENOMEM, "out of memory");
}

/* ---- timers -------------------------------------------------------------- */

/* on_deadline - the oldest command waited too long: the connection is useless */
static void on_deadline(void *arg)
{
    mv_redis *r = arg;
    uint64_t now = mv_loop_now();
    req *oldest = TAILQ_FIRST(&r->fifo);

    if (oldest == NULL)
        return;
    if (oldest->deadline > now) {
        mv_timer_start(r->loop, &r->deadline_t, oldest->deadline - now, on_deadline, r);
        return;
    }
    r->depth++;
    r->st.timeouts++;
    snprintf(r->why, sizeof(r->why), "no answer within %u ms", r->timeout_ms);
    mv_redis_drop(r, MV_REDIS_TIMEOUT, r->why);
    if (--r->depth == 0 && r->freeing)
        mv_redis_free(r);
}

/* ---- the public calls ----------------------------------------------------- */

/* parse_server - "unix:/path", "[v6]:port" or "v4:port" into r (or just check) */
static bool parse_server(const char *s, char **host, char **path, int *port, char *err, size_t errsize)
{
    unsigned char addr[16];
    const char *colon, *h = s;
    size_t hl;
    long p;
    char *end, hbuf[64], shown[160]; /* the server in messages: it may be a URL with a password */

    if (strncmp(s, "unix:", 5) == 0 && s[5] == '/') {
        if (path != NULL && (*path = strdup(s + 5)) == NULL)
            return snprintf(err, errsize, "out of memory"), false;
        return true;
    }
    if ((colon = strrchr(s, ':')) == NULL)
        return snprintf(err, errsize, "server \"%s\": want host:port or unix:/path",
                        mv_redact_url(s, shown, sizeof(shown))),
               false;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']')
        h = s + 1, hl -= 2;
    p = strtol(colon + 1, &end, 10);
    if (hl == 0 || hl >= sizeof(hbuf) || *end != '\0' || p < 1 || p > 65535)
        return snprintf(err, errsize, "server \"%s\": bad host or port",
                        mv_redact_url(s, shown, sizeof(shown))),
               false;
    memcpy(hbuf, h, hl);
    hbuf[hl] = '\0';
    /* hiredis resolves names with a blocking getaddrinfo(): only addresses on the loop */
    if (inet_pton(AF_INET, hbuf, addr) != 1 && inet_pton(AF_INET6, hbuf, addr) != 1)
        return snprintf(err, errsize, "server \"%s\": give an IP address, not a name",
                        mv_redact_url(s, shown, sizeof(shown))),
               false;
    if (host != NULL && (*host = strdup(hbuf)) == NULL)
        return snprintf(err, errsize, "out of memory"), false;
    *port = (int)p;
    return true;
}

/* check_shape - p's values, without reading the TLS files */
static bool check_shape(const mv_redis_params *p, char *err, size_t errsize)
{
    int port;

    if (p->server == NULL || p->server[0] == '\0')
        return snprintf(err, errsize, "no server"), false;
    if (p->tls && strncmp(p->server, "unix:", 5) == 0)
        return snprintf(err, errsize,
                        "TLS needs a TCP address (Redis serves TLS on its "
                        "tls-port), not a unix socket"),
               false;
    if (p->prefix != NULL && strlen(p->prefix) > MV_REDIS_PREFIX_MAX)
        return snprintf(err, errsize, "key prefix longer than %d bytes", MV_REDIS_PREFIX_MAX), false;
    if (p->user != NULL && p->user[0] != '\0' && (p->password == NULL || p->password[0] == '\0'))
        return snprintf(err, errsize, "a user needs a password"), false;
    if (p->hash_secret != NULL && p->hash_secret[0] != '\0' &&
        (strlen(p->hash_secret) < MV_SEAL_SECRET_MIN || strlen(p->hash_secret) > MV_SEAL_SECRET_MAX))
        return snprintf(err, errsize, "the hash secret must be %d to %d bytes long", MV_SEAL_SECRET_MIN,
                        MV_SEAL_SECRET_MAX),
               false;
    return parse_server(p->server, NULL, NULL, &port, err, errsize);
}

/* mv_redis_check_params - is p usable? false with a message in err */
bool mv_redis_check_params(const mv_redis_params *p, char *err, size_t errsize)
{
    mv_rtls_ctx *c;

    if (!check_shape(p, err, errsize))
        return false;
    if (!p->tls)
        return true;
    if ((c = mv_rtls_ctx_new(p->tls_ca_file, p->tls_cert_file, p->tls_key_file, err, errsize)) == NULL)
        return false;
    mv_rtls_ctx_free(c);
    return true;
}

/* dup_opt - a copy of an optional string; NULL stays NULL, "" becomes NULL */
static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    return s == NULL || s[0] == '\0' || (*out = strdup(s)) != NULL;
}

/* mv_redis_new - a client that starts connecting at once; NULL on bad params (logged) or ENOMEM */
mv_redis *mv_redis_new(mv_loop *loop, const mv_redis_params *p)
{
    mv_redis *r;
    char err[256];

    /* the TLS files are read once, below, into the context the client keeps */
    if (!check_shape(p, err, sizeof(err))) {
        if (p->log != NULL)
            p->log(p->log_arg, LOG_ERR, err);
        errno = EINVAL;
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->loop = loop;
    TAILQ_INIT(&r->fifo);
    r->fd = -1;
    r->state = ST_DOWN;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->db = p->db;
    r->timeout_ms = p->timeout_ms ? p->timeout_ms : 1000;
    r->max_pending = p->max_pending ? p->max_pending : 65536;
    r->log = p->log;
    r->log_arg = p->log_arg;
    if (!dup_opt(p->server, &r->server) || !dup_opt(p->user, &r->user) ||
        !dup_opt(p->password, &r->password) || (r->prefix = strdup(p->prefix ? p->prefix : "")) == NULL ||
        !parse_server(p->server, &r->host, &r->path, &r->port, err, sizeof(err))) {
        r->state = ST_CLOSED;
        mv_redis_free(r);
        errno = ENOMEM;
        return NULL;
    }
    r->prefix_len = strlen(r->prefix);
    if (p->hash_secret != NULL && p->hash_secret[0] != '\0' &&
        (r->seal = mv_seal_new(p->hash_secret, strlen(p->hash_secret), err, sizeof(err))) == NULL) {
        if (p->log != NULL)
            p->log(p->log_arg, LOG_ERR, err);
        r->state = ST_CLOSED;
        mv_redis_free(r);
        errno = EINVAL;
        return NULL;
    }
    snprintf(err, sizeof(err), "out of memory");
    if (p->tls &&
        (!dup_opt(p->tls_server_name && p->tls_server_name[0] ? p->tls_server_name : r->host, &r->tls_name) ||
         (r->tls_ctx = mv_rtls_ctx_new(p->tls_ca_file, p->tls_cert_file, p->tls_key_file, err,
                                       sizeof(err))) == NULL)) {
        if (p->log != NULL)
            p->log(p->log_arg, LOG_ERR, err);
        r->state = ST_CLOSED;
        mv_redis_free(r);
        errno = ENOMEM;
        return NULL;
    }
    connect_now(r);
    return r;
}

/* mv_redis_free - outstanding callbacks complete with MV_REDIS_CANCELLED; NULL is fine */
void mv_redis_free(mv_redis *r)
{
    if (r == NULL)
        return;
    if (r->depth > 0) {
        /* inside one of our handlers, hiredis maybe on the stack: cancel what is
         * outstanding now (hiredis does it when its callback returns) and free
         * our part on the way out */
        r->freeing = true;
        r->state = ST_CLOSED;
        r->drop_status = MV_REDIS_CANCELLED;
        if (r->ac != NULL && !(r->ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING)))
            redisAsyncFree(r->ac);
        return;
    }
    r->depth++;
    r->state = ST_CLOSED;
    r->drop_status = MV_REDIS_CANCELLED;
    if (r->ac != NULL)
        redisAsyncFree(r->ac);
    mv_timer_stop(r->loop, &r->deadline_t);
    mv_timer_stop(r->loop, &r->retry_t);
    free(r->server);
    free(r->host);
    free(r->path);
    free(r->user);
    free(r->password);
    free(r->prefix);
    free(r->tls_name);
    mv_rtls_ctx_free(r->tls_ctx);
    mv_seal_free(r->seal);
    free(r);
}

/* mv_redis_up - connected, authenticated and ready for commands? */
bool mv_redis_up(const mv_redis *r)
{
    return r->state == ST_READY;
}

/* mv_redis_connecting - is a connection (or its handshake) under way? */
bool mv_redis_connecting(const mv_redis *r)
{
    return r->state == ST_CONNECTING;
}


/* mv_redis_get_stats - counters since mv_redis_new */
void mv_redis_get_stats(const mv_redis *r, mv_redis_stats *out)
{
    *out = r->st;
}

/* mv_redis_strstatus - a short name for a status */
const char *mv_redis_strstatus(mv_redis_status st)
{
    static const char *const names[] = {"ok",        "unavailable",      "timeout",
                                        "down",      "protocol error",   "server error",
                                        "cancelled", "invalid argument", "out of memory"};

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

#endif /* MV_HAVE_HIREDIS */
