/* SPDX-License-Identifier: MIT */
/*
 * redis_int.h - what the Redis client's two halves share: redis.c (the
 * connection: state, hiredis' event adapter, the reader's guards, the
 * handshake, deadlines) and redis_cmd.c (the commands: sending, replies,
 * the public calls). Not for other files: redis.h is the interface.
 */
#ifndef MV_REDIS_INT_H
#define MV_REDIS_INT_H

#include "redis.h"
#include "seal.h"
#include "redis_tls.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/queue.h>

#define HDR_LEN 20    /* "MV" 1 cls stored_at(8, BE) probed_at(8, BE) */
#define HDR_PROBED 12 /* offset of probed_at: the script's SETRANGE */
#define REPLY_BUF_MAX (1u << 20)
#define ARRAY_MAX 4096 /* SCAN batches are ~500; nothing we send needs more */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECTING_MAX 4096 /* writes queued behind a handshake */
#define KEY_MAX (MV_REDIS_PREFIX_MAX + MV_CACHE_KEY_MAX)

enum { SCRIPT_PUT, SCRIPT_INCR, SCRIPTS };
extern const char *const mv_redis_scripts[SCRIPTS]; /* redis_cmd.c; loaded at connect */

typedef enum { ST_DOWN, ST_CONNECTING, ST_READY, ST_CLOSED } conn_state;
typedef enum { OP_HELLO, OP_GET, OP_PUT, OP_DEL, OP_INCR, OP_SCAN, OP_UNLINK, OP_EVAL, OP_RAW } op_kind;

typedef struct req {
    TAILQ_ENTRY(req) link; /* the FIFO of outstanding commands */
    mv_redis *r;
    uint64_t deadline;
    op_kind op;
    int script;   /* OP_HELLO: which SCRIPT LOAD (-1: AUTH/SELECT) */
    bool retried; /* EVAL already sent after NOSCRIPT */
    union {
        mv_redis_get_fn get;
        mv_redis_put_fn put;
        mv_redis_del_fn del;
        mv_redis_incr_fn incr;
        mv_redis_purge_fn purge;
        mv_redis_count_fn count;
        mv_redis_eval_fn eval;
        mv_redis_reply_fn raw;
    } cb;
    const char *text; /* OP_EVAL: the script (the caller's static) */
    char sha[41];     /* ... its SHA-1, hex */
    int eargc, enkeys;
    size_t elen[MV_REDIS_EVAL_ARGS]; /* ... its keys (prefixed) and args, in data */
    bool counting;                   /* OP_SCAN for mv_redis_count, not a purge */
    uint64_t counts[MV_REDIS_KINDS];
    void *arg;
    uint64_t deleted; /* purge */
    char cursor[24];  /* purge: SCAN's cursor, decimal */
    size_t len[3];    /* script args (key, a1, a2) or purge (pattern, domain) */
    char data[];
} req;

struct mv_redis {
    mv_loop *loop;
    redisAsyncContext *ac;
    conn_state state;
    int fd;
    unsigned evmask; /* what the loop watches for hiredis */
    mv_timer deadline_t, retry_t;
    unsigned backoff_ms;
    int hello_left;                  /* handshake replies still due */
    mv_redis_status drop_status;     /* what a NULL reply means now */
    char why[160];                   /* why the connection is going, when we know better than hiredis */
    uint64_t sent_conn, parsed_conn; /* commands and top-level replies on this connection */
    redisReplyObjectFunctions fns;
    redisReplyObjectFunctions *dflt;
    TAILQ_HEAD(, req) fifo;
    int depth; /* inside our own handlers: free later */
    bool freeing, logged_down;
    char sha[SCRIPTS][41];
    char *server, *host, *path, *user, *password, *prefix, *tls_name;
    mv_rtls_ctx *tls_ctx; /* cache.redis_tls: the pump's context; NULL: plain TCP */
    mv_seal *seal;        /* cache.hash_keys: names and values sealed; NULL: clear */
    mv_rtls *tls;         /* this connection's pump */
    int port;
    unsigned db, timeout_ms, max_pending;
    size_t prefix_len;
    mv_redis_log_fn log;
    void *log_arg;
    mv_redis_stats st;
};

/* ---- redis.c ---- */

/* mv_redis_fifo_push, mv_redis_fifo_unlink - the outstanding commands and their deadline */
void mv_redis_fifo_push(mv_redis *r, req *q);
void mv_redis_fifo_unlink(mv_redis *r, req *q);

/* mv_redis_note_down - the connection is gone or going: one log line per change of state */
void mv_redis_note_down(mv_redis *r, const char *why);

/* mv_redis_ac_why - the best reason known for a failure of the current connection */
const char *mv_redis_ac_why(const mv_redis *r);

/* mv_redis_drop - close the connection now; hiredis fails every outstanding command */
void mv_redis_drop(mv_redis *r, mv_redis_status st, const char *why);

/* mv_redis_hello_reply - one handshake answer (q is freed) */
void mv_redis_hello_reply(mv_redis *r, req *q, const redisReply *rep);

/* mv_redis_guard_reader - put the client's guards on rd's reply constructors
 * (r holds the state they keep: replies asked for and parsed) */
void mv_redis_guard_reader(mv_redis *r, redisReader *rd);

/* ---- redis_cmd.c ---- */

/* mv_redis_new_req - a request carrying n byte strings (copied); NULL on ENOMEM */
req *mv_redis_new_req(mv_redis *r, op_kind op, void *arg, int n, const void *const *s, const size_t *len);

/* mv_redis_send_argv - hand one command to hiredis (it copies the arguments) */
mv_redis_status mv_redis_send_argv(mv_redis *r, req *q, int argc, const char **argv, const size_t *lens);

#endif
