/*
 * redis.c - the shared verdict cache's Redis client, on the engine's loop.
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
 * The whole file needs hiredis: without MV_HAVE_HIREDIS it compiles to
 * nothing, so builds without -lhiredis (the fuzz targets) are unaffected.
 */
#ifdef MV_HAVE_HIREDIS

#include "redis.h"
#include "outcome.h"
#include "redis_tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#define HDR_LEN 20              /* "MV" 1 cls stored_at(8, BE) probed_at(8, BE) */
#define HDR_PROBED 12           /* offset of probed_at: the script's SETRANGE */
#define REPLY_BUF_MAX (1u << 20)
#define ARRAY_MAX 4096          /* SCAN batches are ~500; nothing we send needs more */
#define BACKOFF_MIN_MS 100
#define CONNECTING_MAX 4096       /* writes queued behind a handshake */
#define BACKOFF_MAX_MS 5000
#define KEY_MAX (MV_REDIS_PREFIX_MAX + MV_CACHE_KEY_MAX)

static const char hdr_magic[3] = {'M', 'V', 1};

/* put: keep a better unexpired entry (only its probe time moves), else SET with a TTL.
 * A missing key is expired: Redis removed it at its TTL. */
static const char put_lua[] =
    "local old = redis.pcall('GET', KEYS[1])\n"
    "if type(old) == 'table' then old = false end\n"
    "local new = ARGV[1]\n"
    "if old and #old >= 20 and old:sub(1, 3) == new:sub(1, 3) then\n"
    "  local o, n = old:byte(4), new:byte(4)\n"
    "  if (o == 0 and n ~= 0) or (o == 1 and n == 2) then\n"
    "    redis.call('SETRANGE', KEYS[1], 12, new:sub(13, 20))\n"
    "    return 0\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], new, 'EX', ARGV[2])\n"
    "return 1\n";

/* incr: a fixed window starts with the first increment (EXPIRE NX, before
 * Redis 7 too); by 0 reads without creating the key */
static const char incr_lua[] =
    "if ARGV[1] == '0' then\n"
    "  local v = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "  return {v, redis.call('PTTL', KEYS[1])}\n"
    "end\n"
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "local t = redis.call('PTTL', KEYS[1])\n"
    "if t < 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "  t = tonumber(ARGV[2]) * 1000\n"
    "end\n"
    "return {v, t}\n";

enum { SCRIPT_PUT, SCRIPT_INCR, SCRIPTS };
static const char *const scripts[SCRIPTS] = {put_lua, incr_lua};

typedef enum { ST_DOWN, ST_CONNECTING, ST_READY, ST_CLOSED } conn_state;
typedef enum { OP_HELLO, OP_GET, OP_PUT, OP_DEL, OP_INCR, OP_SCAN, OP_UNLINK } op_kind;

typedef struct req {
    struct req *prev, *next;    /* the FIFO of outstanding commands */
    mv_redis *r;
    uint64_t deadline;
    op_kind op;
    int script;                 /* OP_HELLO: which SCRIPT LOAD (-1: AUTH/SELECT) */
    bool retried;               /* EVAL already sent after NOSCRIPT */
    union {
        mv_redis_get_fn get;
        mv_redis_put_fn put;
        mv_redis_del_fn del;
        mv_redis_incr_fn incr;
        mv_redis_purge_fn purge;
        mv_redis_count_fn count;
    } cb;
    bool counting;              /* OP_SCAN for mv_redis_count, not a purge */
    uint64_t counts[MV_REDIS_KINDS];
    void *arg;
    uint64_t deleted;           /* purge */
    char cursor[24];            /* purge: SCAN's cursor, decimal */
    size_t len[3];              /* script args (key, a1, a2) or purge (pattern, domain) */
    char data[];
} req;

struct mv_redis {
    mv_loop *loop;
    redisAsyncContext *ac;
    conn_state state;
    int fd;
    unsigned evmask;            /* what the loop watches for hiredis */
    mv_timer deadline_t, retry_t;
    unsigned backoff_ms;
    int hello_left;             /* handshake replies still due */
    mv_redis_status drop_status;        /* what a NULL reply means now */
    char why[160];              /* why the connection is going, when we know better than hiredis */
    uint64_t sent_conn, parsed_conn;    /* commands and top-level replies on this connection */
    redisReplyObjectFunctions fns;
    redisReplyObjectFunctions *dflt;
    req *head, *tail;
    int depth;                  /* inside our own handlers: free later */
    bool freeing, logged_down;
    char sha[SCRIPTS][41];
    char *server, *host, *path, *user, *password, *prefix, *tls_name;
    mv_rtls_ctx *tls_ctx;       /* cache.redis_tls: the pump's context; NULL: plain TCP */
    mv_rtls *tls;               /* this connection's pump */
    int port;
    unsigned db, timeout_ms, max_pending;
    size_t prefix_len;
    mv_redis_log_fn log;
    void *log_arg;
    mv_redis_stats st;
};

static void connect_now(mv_redis *r);

/* ---- small helpers ------------------------------------------------------ */

/* say - one log line, prefixed with the server */
static void say(mv_redis *r, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(mv_redis *r, int prio, const char *fmt, ...)
{
    char msg[512];
    int n;
    va_list ap;

    if (r->log == NULL)
        return;
    n = snprintf(msg, sizeof(msg), "redis %s: ", r->server);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    r->log(r->log_arg, prio, msg);
}

static void put_be64(unsigned char *p, int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        p[i] = (unsigned char)v;
}

static int64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* full_key - prefix + key into buf; 0 when too long */
static size_t full_key(const mv_redis *r, char *buf, const void *key, size_t klen)
{
    if (klen == 0 || klen > MV_CACHE_KEY_MAX)
        return 0;
    memcpy(buf, r->prefix, r->prefix_len);
    memcpy(buf + r->prefix_len, key, klen);
    return r->prefix_len + klen;
}

/* is_error - an error reply starting with code (e.g. "NOSCRIPT")? */
static bool is_error(const redisReply *rep, const char *code)
{
    size_t n = strlen(code);

    return rep->type == REDIS_REPLY_ERROR && rep->len >= n && memcmp(rep->str, code, n) == 0;
}

/* ---- the FIFO and its deadline ------------------------------------------- */

static void on_deadline(void *arg);

/* fifo_push - q is now waiting for an answer; the deadline timer covers the oldest */
static void fifo_push(mv_redis *r, req *q)
{
    q->deadline = mv_loop_now() + r->timeout_ms;
    q->next = NULL;
    q->prev = r->tail;
    *(r->tail ? &r->tail->next : &r->head) = q;
    r->tail = q;
    r->st.pending++;
    /* XXX: on ENOMEM there is no deadline; the next push tries again */
    if (!mv_timer_armed(&r->deadline_t))
        mv_timer_start(r->loop, &r->deadline_t, r->timeout_ms, on_deadline, r);
}

static void fifo_unlink(mv_redis *r, req *q)
{
    *(q->prev ? &q->prev->next : &r->head) = q->next;
    *(q->next ? &q->next->prev : &r->tail) = q->prev;
    q->prev = q->next = NULL;
    r->st.pending--;
}

/* ---- connection state ---------------------------------------------------- */

/* note_down - the connection is gone or going: one log line per change of state */
static void note_down(mv_redis *r, const char *why)
{
    if (r->state == ST_CLOSED || r->state == ST_DOWN)
        return;
    if (r->state == ST_READY)
        say(r, LOG_WARNING, "connection lost (%s); using the local cache until it is back", why);
    else if (!r->logged_down)
        say(r, LOG_WARNING, "cannot connect (%s); using the local cache, retrying", why);
    r->st.drops += r->state == ST_READY;
    r->logged_down = true;
    r->state = ST_DOWN;
}

/* ac_why - the best reason we have for a failure of the current connection */
static const char *ac_why(const mv_redis *r)
{
    if (r->why[0] != '\0')
        return r->why;
    if (r->ac != NULL && r->ac->errstr != NULL && r->ac->errstr[0] != '\0')
        return r->ac->errstr;
    return "connection closed";
}

/* drop - close the connection now; hiredis fails every outstanding command */
static void drop(mv_redis *r, mv_redis_status st, const char *why)
{
    if (r->ac == NULL || (r->ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING)))
        return;
    r->drop_status = st;
    if (r->why[0] == '\0')
        snprintf(r->why, sizeof(r->why), "%s", why);
    note_down(r, ac_why(r));
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
    /* XXX: on ENOMEM we stay down (calls answer unavailable) */
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
        drop(r, MV_REDIS_PROTO, "reply larger than 1 MiB");
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

static void ev_add_read(void *d) { ev_set(d, ((mv_redis *)d)->evmask | MV_EV_READ); }
static void ev_del_read(void *d) { ev_set(d, ((mv_redis *)d)->evmask & ~(unsigned)MV_EV_READ); }
static void ev_add_write(void *d) { ev_set(d, ((mv_redis *)d)->evmask | MV_EV_WRITE); }
static void ev_del_write(void *d) { ev_set(d, ((mv_redis *)d)->evmask & ~(unsigned)MV_EV_WRITE); }

/* ev_cleanup - hiredis is about to free the context and close the socket */
static void ev_cleanup(void *d)
{
    mv_redis *r = d;

    note_down(r, ac_why(r));
    if (r->fd >= 0)
        mv_loop_io_del(r->loop, r->fd);
    r->fd = -1;
    r->evmask = 0;
    r->ac = NULL;
    mv_rtls_free(r->tls);       /* maybe from inside its fail hook: it touches nothing after */
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

/* ---- sending ------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* send_argv - hand one command to hiredis (it copies the arguments) */
static mv_redis_status send_argv(mv_redis *r, req *q, int argc, const char **argv,
                                 const size_t *lens)
{
    if (r->ac == NULL || redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, lens) != REDIS_OK)
        return MV_REDIS_UNAVAILABLE;
    r->sent_conn++;
    r->st.sent++;
    fifo_push(r, q);
    return MV_REDIS_OK;
}

/* send_script - EVALSHA with the script loaded at connect; EVAL after
 * NOSCRIPT, or while the first handshake has not told us the SHA yet */
static mv_redis_status send_script(mv_redis *r, req *q, int script)
{
    const char *argv[6] = {"EVALSHA", r->sha[script], "1", q->data, q->data + q->len[0],
                           q->data + q->len[0] + q->len[1]};
    size_t lens[6] = {7, 40, 1, q->len[0], q->len[1], q->len[2]};

    if (q->retried || r->sha[script][0] == '\0') {
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = scripts[script];
        lens[1] = strlen(scripts[script]);
    }
    q->script = script;
    return send_argv(r, q, 6, argv, lens);
}

/* new_req - a request carrying n byte strings (copied) */
static req *new_req(mv_redis *r, op_kind op, void *arg, int n, const void *const *s,
                    const size_t *len)
{
    size_t total = 0;
    req *q;

    for (int i = 0; i < n; i++)
        total += len[i];
    if ((q = calloc(1, sizeof(*q) + total + 1)) == NULL)
        return NULL;
    q->r = r;
    q->op = op;
    q->arg = arg;
    q->script = -1;
    for (int i = 0, off = 0; i < n; off += (int)len[i], i++) {
        memcpy(q->data + off, s[i], len[i]);
        q->len[i] = len[i];
    }
    return q;
}

/* admit - may a new command go out now? Reads only on a ready connection
 * (their callers must not wait for a handshake that may take timeout_ms);
 * writes also while connecting, up to CONNECTING_MAX: they queue behind
 * the handshake in hiredis' buffer, so the verdicts given in the moments
 * after Redis comes back are not lost (their callers do not wait). */
static bool admit(mv_redis *r, bool write)
{
    size_t max = r->max_pending;

    if (r->state == ST_CONNECTING && write)
        max = max < CONNECTING_MAX ? max : CONNECTING_MAX;
    else if (r->state != ST_READY)
        max = 0;
    if (r->st.pending < max)
        return true;
    r->st.unavailable++;
    return false;
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
            argv[argc++] = scripts[i];
        }
        if (argc == 0)
            continue;
        for (int j = 0; j < argc; j++)
            lens[j] = strlen(argv[j]);
        if ((q = new_req(r, OP_HELLO, NULL, 1, none, zero)) == NULL)
            return false;
        q->script = i;
        if ((ok = send_argv(r, q, argc, argv, lens) == MV_REDIS_OK))
            r->hello_left++;
        else
            free(q);
    }
    return ok;
}

/* hello_reply - one handshake answer; the last one makes us ready */
static void hello_reply(mv_redis *r, req *q, const redisReply *rep)
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
        drop(r, rep->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : MV_REDIS_PROTO, why);
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
        say(r, LOG_INFO, "connected; the shared cache is in use (%s)", mv_rtls_version(r->tls));
    else
        say(r, LOG_INFO, "connected; the shared cache is in use");
}

/* tls_failed - the pump gave up: drop the connection like any other loss */
static void tls_failed(void *arg, const char *why)
{
    mv_redis *r = arg;

    r->depth++;
    snprintf(r->why, sizeof(r->why), "%s", why);
    drop(r, MV_REDIS_DOWN, r->why);
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
    note_down(r, r->why);
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
        note_down(r, r->why);
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
    r->dflt = ac->c.reader->fn;
    r->fns = *r->dflt;
    r->fns.createString = mk_string;
    r->fns.createArray = mk_array;
    r->fns.createInteger = mk_integer;
    r->fns.createNil = mk_nil;
    ac->c.reader->fn = &r->fns;
    ac->c.reader->privdata = r;
    if (!hello_send(r))
        drop(r, MV_REDIS_ENOMEM, "out of memory");
}

/* ---- replies ------------------------------------------------------------- */

/* fail - complete q with an error status */
static void fail(mv_redis *r, req *q, mv_redis_status st)
{
    r->st.failed++;
    switch (q->op) {
    case OP_HELLO:
        break;
    case OP_GET:
        q->cb.get(q->arg, st, NULL);
        break;
    case OP_PUT:
        if (q->cb.put)
            q->cb.put(q->arg, st, false);
        break;
    case OP_DEL:
        if (q->cb.del)
            q->cb.del(q->arg, st, false);
        break;
    case OP_INCR:
        q->cb.incr(q->arg, st, 0, 0);
        break;
    case OP_SCAN:
    case OP_UNLINK:
        if (q->counting)
            q->cb.count(q->arg, st, q->counts);
        else
            q->cb.purge(q->arg, st, q->deleted);
        break;
    }
    free(q);
}

/* decode - a stored value: header, then the caller's bytes; false: corrupt or foreign */
static bool decode(const redisReply *rep, mv_redis_entry *e)
{
    const unsigned char *p = (const unsigned char *)rep->str;

    if (rep->type != REDIS_REPLY_STRING || rep->len < HDR_LEN ||
        rep->len > HDR_LEN + MV_CACHE_VAL_MAX || memcmp(p, hdr_magic, 3) != 0 ||
        p[3] >= MV_CACHE_CLASSES)
        return false;
    e->cls = (mv_cache_class)p[3];
    e->stored_at = get_be64(p + 4);
    e->probed_at = get_be64(p + HDR_PROBED);
    e->val = p + HDR_LEN;
    e->vlen = rep->len - HDR_LEN;
    return true;
}

/* get_reply - a value, nothing, or something that is not ours (a miss too) */
static mv_redis_status get_reply(req *q, const redisReply *rep)
{
    mv_redis_entry e;

    if (rep->type == REDIS_REPLY_STRING)
        q->cb.get(q->arg, MV_REDIS_OK, decode(rep, &e) ? &e : NULL);
    else if (rep->type == REDIS_REPLY_NIL || is_error(rep, "WRONGTYPE"))
        q->cb.get(q->arg, MV_REDIS_OK, NULL);
    else
        return rep->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : MV_REDIS_PROTO;
    return MV_REDIS_OK;
}

/* script_reply - put and incr; NOSCRIPT (a flushed script cache) resends with EVAL */
static mv_redis_status script_reply(mv_redis *r, req *q, const redisReply *rep, bool *again)
{
    if (is_error(rep, "NOSCRIPT") && !q->retried) {
        q->retried = true;
        *again = true;
        return send_script(r, q, q->script);
    }
    if (rep->type == REDIS_REPLY_ERROR)
        return MV_REDIS_SERVER;
    if (q->op == OP_PUT) {
        if (rep->type != REDIS_REPLY_INTEGER || (rep->integer != 0 && rep->integer != 1))
            return MV_REDIS_PROTO;
        r->st.kept += rep->integer == 0;
        if (q->cb.put)
            q->cb.put(q->arg, MV_REDIS_OK, rep->integer == 1);
        return MV_REDIS_OK;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[1]->type != REDIS_REPLY_INTEGER)
        return MV_REDIS_PROTO;
    q->cb.incr(q->arg, MV_REDIS_OK, rep->element[0]->integer, rep->element[1]->integer);
    return MV_REDIS_OK;
}

static mv_redis_status purge_next(mv_redis *r, req *q, const redisReply *rep, bool *again);

/* on_reply - hiredis' callback for every command; NULL: the connection is going */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    req *q = privdata;
    mv_redis *r = q->r;
    const redisReply *rep = reply;
    mv_redis_status st = MV_REDIS_OK;
    bool again = false;

    fifo_unlink(r, q);
    /* hiredis' reader gave up on what the server sent */
    if (rep == NULL && ac->err == REDIS_ERR_PROTOCOL && r->drop_status == MV_REDIS_DOWN)
        r->drop_status = MV_REDIS_PROTO;
    if (rep == NULL || r->state == ST_CLOSED) {
        note_down(r, ac_why(r));
        fail(r, q, r->drop_status);
        return;
    }
    r->st.answered++;
    if (q->op == OP_HELLO) {
        hello_reply(r, q, rep);
        return;
    }
    switch (q->op) {
    case OP_GET:
        st = get_reply(q, rep);
        break;
    case OP_PUT:
    case OP_INCR:
        st = script_reply(r, q, rep, &again);
        break;
    case OP_DEL:
        if (rep->type != REDIS_REPLY_INTEGER)
            st = rep->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : MV_REDIS_PROTO;
        else if (q->cb.del)
            q->cb.del(q->arg, MV_REDIS_OK, rep->integer > 0);
        break;
    default:
        st = purge_next(r, q, rep, &again);
        break;
    }
    if (st == MV_REDIS_PROTO)
        drop(r, st, "protocol error: a reply of the wrong type");
    if (st != MV_REDIS_OK)
        fail(r, q, st == MV_REDIS_UNAVAILABLE ? r->drop_status : st);
    else if (!again)
        free(q);
}

/* ---- purge: SCAN MATCH in batches, UNLINK what belongs to the domain ------ */

/* key_domain_is - does "x:local@domain[|hop]" (after the prefix) name domain? */
static bool key_domain_is(const mv_redis *r, const req *q, const char *k, size_t klen)
{
    const char *end, *at;
    const char *dom = q->data + q->len[0];
    size_t dlen = q->len[1];

    if (klen < r->prefix_len || memcmp(k, r->prefix, r->prefix_len) != 0)
        return false;
    end = memchr(k + r->prefix_len, '|', klen - r->prefix_len);
    end = end ? end : k + klen;
    at = memrchr(k, '@', (size_t)(end - k));
    return at != NULL && (size_t)(end - at - 1) == dlen && strncasecmp(at + 1, dom, dlen) == 0;
}

/* send_scan - the next batch */
static mv_redis_status send_scan(mv_redis *r, req *q)
{
    const char *argv[6] = {"SCAN", q->cursor, "MATCH", q->data, "COUNT", "500"};
    size_t lens[6] = {4, strlen(q->cursor), 5, q->len[0], 5, 3};

    q->op = OP_SCAN;
    return send_argv(r, q, 6, argv, lens);
}

/* send_unlink - delete this batch's keys of the domain; false: none */
static mv_redis_status send_unlink(mv_redis *r, req *q, const redisReply *keys, bool *sent)
{
    const char **argv;
    size_t *lens;
    int n = 1;
    mv_redis_status st = MV_REDIS_OK;

    /* on the heap: a batch may hold up to ARRAY_MAX keys */
    argv = malloc((keys->elements + 1) * sizeof(*argv));
    lens = malloc((keys->elements + 1) * sizeof(*lens));
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        return MV_REDIS_ENOMEM;
    }
    argv[0] = "UNLINK";
    lens[0] = 6;
    for (size_t i = 0; i < keys->elements && st == MV_REDIS_OK; i++) {
        const redisReply *k = keys->element[i];

        if (k->type != REDIS_REPLY_STRING)
            st = MV_REDIS_PROTO;
        else if (key_domain_is(r, q, k->str, k->len)) {
            argv[n] = k->str;
            lens[n++] = k->len;
        }
    }
    if (st == MV_REDIS_OK && n > 1) {
        *sent = true;
        q->op = OP_UNLINK;
        st = send_argv(r, q, n, argv, lens);
    }
    free(argv);
    free(lens);
    return st;
}

/* tally - a SCAN batch's keys by kind (the letter after the prefix) */
static mv_redis_status tally(const mv_redis *r, req *q, const redisReply *keys)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        char kind;

        if (k->type != REDIS_REPLY_STRING)
            return MV_REDIS_PROTO;
        if (k->len < r->prefix_len || memcmp(k->str, r->prefix, r->prefix_len) != 0)
            continue;           /* MATCH ignores case; the prefix does not */
        kind = k->len > r->prefix_len + 1 && k->str[r->prefix_len + 1] == ':'
                   ? k->str[r->prefix_len] : '?';
        q->counts[kind == 's' ? MV_REDIS_SMTP : kind == 'd' ? MV_REDIS_DNS
                  : kind == 'f' ? MV_REDIS_FACTS : kind == 'c' ? MV_REDIS_COUNTERS
                  : MV_REDIS_OTHER]++;
    }
    return MV_REDIS_OK;
}

/* purge_next - after a SCAN batch or an UNLINK: the next step, or done */
static mv_redis_status purge_next(mv_redis *r, req *q, const redisReply *rep, bool *again)
{
    mv_redis_status st = MV_REDIS_OK;

    if (rep->type == REDIS_REPLY_ERROR)
        return MV_REDIS_SERVER;
    if (q->op == OP_UNLINK) {
        if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0)
            return MV_REDIS_PROTO;
        q->deleted += (uint64_t)rep->integer;
    } else {
        const redisReply *c = rep->element ? rep->element[0] : NULL;

        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || c->type != REDIS_REPLY_STRING ||
            c->len == 0 || c->len >= sizeof(q->cursor) || strspn(c->str, "0123456789") != c->len ||
            rep->element[1]->type != REDIS_REPLY_ARRAY)
            return MV_REDIS_PROTO;
        memcpy(q->cursor, c->str, c->len + 1);
        if (q->counting)
            st = tally(r, q, rep->element[1]);
        else
            st = send_unlink(r, q, rep->element[1], again);
        if (st != MV_REDIS_OK || *again)
            return st;
    }
    if (strcmp(q->cursor, "0") == 0) {
        if (q->counting)
            q->cb.count(q->arg, MV_REDIS_OK, q->counts);
        else
            q->cb.purge(q->arg, MV_REDIS_OK, q->deleted);
        return MV_REDIS_OK;
    }
    *again = true;
    return send_scan(r, q);
}

/* ---- timers -------------------------------------------------------------- */

/* on_deadline - the oldest command waited too long: the connection is useless */
static void on_deadline(void *arg)
{
    mv_redis *r = arg;
    uint64_t now = mv_loop_now();

    if (r->head == NULL)
        return;
    if (r->head->deadline > now) {
        mv_timer_start(r->loop, &r->deadline_t, r->head->deadline - now, on_deadline, r);
        return;
    }
    r->depth++;
    r->st.timeouts++;
    snprintf(r->why, sizeof(r->why), "no answer within %u ms", r->timeout_ms);
    drop(r, MV_REDIS_TIMEOUT, r->why);
    if (--r->depth == 0 && r->freeing)
        mv_redis_free(r);
}

/* ---- the public calls ----------------------------------------------------- */

/* parse_server - "unix:/path", "[v6]:port" or "v4:port" into r (or just check) */
static bool parse_server(const char *s, char **host, char **path, int *port, char *err,
                         size_t errsize)
{
    unsigned char addr[16];
    const char *colon, *h = s;
    size_t hl;
    long p;
    char *end, hbuf[64];

    if (strncmp(s, "unix:", 5) == 0 && s[5] == '/') {
        if (path != NULL && (*path = strdup(s + 5)) == NULL)
            return snprintf(err, errsize, "out of memory"), false;
        return true;
    }
    if ((colon = strrchr(s, ':')) == NULL)
        return snprintf(err, errsize, "server \"%s\": want host:port or unix:/path", s), false;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']')
        h = s + 1, hl -= 2;
    p = strtol(colon + 1, &end, 10);
    if (hl == 0 || hl >= sizeof(hbuf) || *end != '\0' || p < 1 || p > 65535)
        return snprintf(err, errsize, "server \"%s\": bad host or port", s), false;
    memcpy(hbuf, h, hl);
    hbuf[hl] = '\0';
    /* hiredis resolves names with a blocking getaddrinfo(): only addresses on the loop */
    if (inet_pton(AF_INET, hbuf, addr) != 1 && inet_pton(AF_INET6, hbuf, addr) != 1)
        return snprintf(err, errsize, "server \"%s\": give an IP address, not a name", s), false;
    if (host != NULL && (*host = strdup(hbuf)) == NULL)
        return snprintf(err, errsize, "out of memory"), false;
    *port = (int)p;
    return true;
}

/* mv_redis_check_params - is p usable? false with a message in err */
bool mv_redis_check_params(const mv_redis_params *p, char *err, size_t errsize)
{
    int port;

    if (p->server == NULL || p->server[0] == '\0')
        return snprintf(err, errsize, "no server"), false;
    if (p->tls && strncmp(p->server, "unix:", 5) == 0)
        return snprintf(err, errsize, "TLS needs a TCP address (Redis serves TLS on its "
                        "tls-port), not a unix socket"), false;
    if (p->tls) {
        mv_rtls_ctx *c = mv_rtls_ctx_new(p->tls_ca_file, p->tls_cert_file, p->tls_key_file, err,
                                         errsize);

        if (c == NULL)
            return false;
        mv_rtls_ctx_free(c);
    }
    if (p->prefix != NULL && strlen(p->prefix) > MV_REDIS_PREFIX_MAX)
        return snprintf(err, errsize, "key prefix longer than %d bytes", MV_REDIS_PREFIX_MAX), false;
    if (p->user != NULL && p->user[0] != '\0' && (p->password == NULL || p->password[0] == '\0'))
        return snprintf(err, errsize, "a user needs a password"), false;
    return parse_server(p->server, NULL, NULL, &port, err, errsize);
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

    if (!mv_redis_check_params(p, err, sizeof(err))) {
        if (p->log != NULL)
            p->log(p->log_arg, LOG_ERR, err);
        errno = EINVAL;
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->loop = loop;
    r->fd = -1;
    r->state = ST_DOWN;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->db = p->db;
    r->timeout_ms = p->timeout_ms ? p->timeout_ms : 1000;
    r->max_pending = p->max_pending ? p->max_pending : 65536;
    r->log = p->log;
    r->log_arg = p->log_arg;
    if (!dup_opt(p->server, &r->server) || !dup_opt(p->user, &r->user) ||
        !dup_opt(p->password, &r->password) ||
        (r->prefix = strdup(p->prefix ? p->prefix : "")) == NULL ||
        !parse_server(p->server, &r->host, &r->path, &r->port, err, sizeof(err))) {
        r->state = ST_CLOSED;
        mv_redis_free(r);
        errno = ENOMEM;
        return NULL;
    }
    r->prefix_len = strlen(r->prefix);
    snprintf(err, sizeof(err), "out of memory");
    if (p->tls && (!dup_opt(p->tls_server_name && p->tls_server_name[0] ? p->tls_server_name
                                                                         : r->host, &r->tls_name) ||
                   (r->tls_ctx = mv_rtls_ctx_new(p->tls_ca_file, p->tls_cert_file,
                                                 p->tls_key_file, err, sizeof(err))) == NULL)) {
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

/* mv_redis_get - read an entry; not OK: cb will not be called */
mv_redis_status mv_redis_get(mv_redis *r, const void *key, size_t klen, mv_redis_get_fn cb,
                             void *arg)
{
    char k[KEY_MAX];
    size_t kl = full_key(r, k, key, klen);
    const char *argv[2] = {"GET", k};
    size_t lens[2] = {3, kl};
    mv_redis_status st;
    req *q;

    if (kl == 0 || cb == NULL)
        return MV_REDIS_EINVAL;
    if (!admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = new_req(r, OP_GET, arg, 0, NULL, NULL)) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.get = cb;
    if ((st = send_argv(r, q, 2, argv, lens)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_put - store with a TTL, unless an unexpired better entry must stay; cb may be NULL */
mv_redis_status mv_redis_put(mv_redis *r, const void *key, size_t klen, mv_cache_class cls,
                             const void *val, size_t vlen, int64_t now, uint32_t ttl_s,
                             mv_redis_put_fn cb, void *arg)
{
    char k[KEY_MAX], ttl[16];
    unsigned char v[HDR_LEN + MV_CACHE_VAL_MAX];
    size_t kl = full_key(r, k, key, klen);
    mv_redis_status st;
    req *q;

    if (kl == 0 || vlen > MV_CACHE_VAL_MAX || (unsigned)cls >= MV_CACHE_CLASSES || ttl_s == 0)
        return MV_REDIS_EINVAL;
    if (!admit(r, true))
        return MV_REDIS_UNAVAILABLE;
    memcpy(v, hdr_magic, 3);
    v[3] = (unsigned char)cls;
    put_be64(v + 4, now);
    put_be64(v + HDR_PROBED, now);
    if (vlen > 0)
        memcpy(v + HDR_LEN, val, vlen);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    if ((q = new_req(r, OP_PUT, arg, 3, (const void *[]){k, v, ttl},
                     (size_t[]){kl, HDR_LEN + vlen, strlen(ttl)})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.put = cb;
    if ((st = send_script(r, q, SCRIPT_PUT)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_del - remove a key; cb may be NULL */
mv_redis_status mv_redis_del(mv_redis *r, const void *key, size_t klen, mv_redis_del_fn cb,
                             void *arg)
{
    char k[KEY_MAX];
    size_t kl = full_key(r, k, key, klen);
    const char *argv[2] = {"DEL", k};
    size_t lens[2] = {3, kl};
    mv_redis_status st;
    req *q;

    if (kl == 0)
        return MV_REDIS_EINVAL;
    if (!admit(r, true))
        return MV_REDIS_UNAVAILABLE;
    if ((q = new_req(r, OP_DEL, arg, 0, NULL, NULL)) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.del = cb;
    if ((st = send_argv(r, q, 2, argv, lens)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_incr - add to a fixed-window counter; the first increment starts a window_s TTL */
mv_redis_status mv_redis_incr(mv_redis *r, const void *key, size_t klen, int64_t by,
                              uint32_t window_s, mv_redis_incr_fn cb, void *arg)
{
    char k[KEY_MAX], b[24], w[16];
    size_t kl = full_key(r, k, key, klen);
    mv_redis_status st;
    req *q;

    if (kl == 0 || window_s == 0 || cb == NULL)
        return MV_REDIS_EINVAL;
    if (!admit(r, by != 0))
        return MV_REDIS_UNAVAILABLE;
    snprintf(b, sizeof(b), "%lld", (long long)by);
    snprintf(w, sizeof(w), "%u", window_s);
    if ((q = new_req(r, OP_INCR, arg, 3, (const void *[]){k, b, w},
                     (size_t[]){kl, strlen(b), strlen(w)})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.incr = cb;
    if ((st = send_script(r, q, SCRIPT_INCR)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* glob_escape - s as a SCAN MATCH pattern: specials quoted, letters in either case
 * (MATCH is case-sensitive, domains are not); false if too long */
static bool glob_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (n + 5 > size)
            return false;
        if (isalpha((unsigned char)*s)) {
            out[n++] = '[';
            out[n++] = (char)tolower((unsigned char)*s);
            out[n++] = (char)toupper((unsigned char)*s);
            out[n++] = ']';
            continue;
        }
        if (strchr("*?[]\\", *s) != NULL)
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
    return true;
}

/* mv_redis_purge_domain - delete every "x:local@domain[|hop]" key, SCANning in batches */
mv_redis_status mv_redis_purge_domain(mv_redis *r, const char *domain, mv_redis_purge_fn cb,
                                      void *arg)
{
    char pat[KEY_MAX * 4 + 8], esc[MV_CACHE_KEY_MAX * 4 + 2];
    size_t dl = strlen(domain);
    mv_redis_status st;
    int n;
    req *q;

    if (dl == 0 || dl > MV_CACHE_KEY_MAX || cb == NULL ||
        !glob_escape(esc, sizeof(esc), domain) || !glob_escape(pat, sizeof(pat), r->prefix))
        return MV_REDIS_EINVAL;
    /* the filter in key_domain_is() decides; MATCH only saves the traffic */
    n = snprintf(pat + strlen(pat), sizeof(pat) - strlen(pat), "*@%s*", esc);
    if (n < 0 || (size_t)n >= sizeof(pat) - strlen(pat))
        return MV_REDIS_EINVAL;
    if (!admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = new_req(r, OP_SCAN, arg, 2, (const void *[]){pat, domain},
                     (size_t[]){strlen(pat), dl})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.purge = cb;
    strcpy(q->cursor, "0");
    if ((st = send_scan(r, q)) != MV_REDIS_OK)
        free(q);
    return st;
}

static bool glob_escape(char *out, size_t size, const char *s);

/* mv_redis_count - SCAN MATCH prefix*, tallying by kind */
mv_redis_status mv_redis_count(mv_redis *r, mv_redis_count_fn cb, void *arg)
{
    char pat[KEY_MAX * 4 + 8];
    mv_redis_status st;
    req *q;

    if (cb == NULL || !glob_escape(pat, sizeof(pat) - 1, r->prefix))
        return MV_REDIS_EINVAL;
    strcat(pat, "*");
    if (!admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = new_req(r, OP_SCAN, arg, 2, (const void *[]){pat, ""},
                     (size_t[]){strlen(pat), 0})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.count = cb;
    q->counting = true;
    strcpy(q->cursor, "0");
    if ((st = send_scan(r, q)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* parsed_value - a reply as the GET path sees it: an entry, then an outcome */
static void parsed_value(const redisReply *rep)
{
    mv_redis_entry e;
    mv_net_outcome o;

    if (rep->type == REDIS_REPLY_STRING && decode(rep, &e))
        (void)mv_outcome_unpack(e.val, e.vlen, &o);
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        parsed_value(rep->element[i]);
}

/* mv_redis_parse - the reader and its guards, on bytes alone */
int mv_redis_parse(const void *data, size_t len, unsigned asked)
{
    mv_redis r;
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    int n = 0;

    if (rd == NULL)
        return -1;
    memset(&r, 0, sizeof(r));
    r.sent_conn = asked;
    r.dflt = rd->fn;
    r.fns = *r.dflt;
    r.fns.createString = mk_string;
    r.fns.createArray = mk_array;
    r.fns.createInteger = mk_integer;
    r.fns.createNil = mk_nil;
    rd->fn = &r.fns;
    rd->privdata = &r;
    if (redisReaderFeed(rd, data, len) != REDIS_OK)
        n = -1;
    while (n >= 0 && rd->len - rd->pos <= REPLY_BUF_MAX) {
        if (redisReaderGetReply(rd, &rep) != REDIS_OK) {
            n = -1;
            break;
        }
        if (rep == NULL)
            break;
        parsed_value(rep);
        freeReplyObject(rep);
        n++;
    }
    if (n >= 0 && rd->len - rd->pos > REPLY_BUF_MAX)
        n = -1;                 /* on_io drops a connection whose reply grows past this */
    redisReaderFree(rd);
    return n;
}

/* mv_redis_get_stats - counters since mv_redis_new */
void mv_redis_get_stats(const mv_redis *r, mv_redis_stats *out)
{
    *out = r->st;
}

/* mv_redis_strstatus - a short name for a status */
const char *mv_redis_strstatus(mv_redis_status st)
{
    static const char *const names[] = {"ok", "unavailable", "timeout", "down", "protocol error",
                                        "server error", "cancelled", "invalid argument",
                                        "out of memory"};

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

#endif /* MV_HAVE_HIREDIS */
