/* SPDX-License-Identifier: MIT */
/*
 * redis.h - a non-blocking Redis client for the shared verdict cache.
 *
 * One connection to one Redis server, driven by the engine's loop (hiredis'
 * async API on our own loop adapter). Commands are pipelined: any number up
 * to max_pending may be outstanding, and each completes through its
 * callback exactly once, on the loop thread -- with an answer, or with an
 * error status when the connection times out, drops or is freed.
 *
 * Redis is an optimisation, never a dependency: while the server is down
 * (or the pipeline is full) every call returns MV_REDIS_UNAVAILABLE at
 * once and its callback is not called, so the caller falls back to its
 * memory cache. While a connection is being made, reads (get, purge, an
 * incr by 0) are refused the same way -- nobody waits for a handshake --
 * but writes (put, del, an incr) queue behind it, up to 4,096, so what is
 * learned in the moment Redis comes back reaches it. The client logs one line per
 * change of state and reconnects by itself with backoff (100 ms doubling
 * to 5 s).
 *
 * Entries carry Postfix verify(8)'s semantics, enforced on the server by a
 * Lua script so that hosts sharing the server agree: a negative or
 * temporary result never replaces an unexpired positive entry, nor a
 * temporary one a negative entry; then only the probe time is updated.
 * Each write sets the key's TTL (the class's expire time), so Redis drops
 * old entries and nobody sweeps. Values are a small header (magic,
 * version, class, stored and probed times) and the caller's bytes; a value
 * that does not parse is a miss.
 *
 * All functions must be called on the loop's thread. hiredis writes with
 * write(2), so the process must ignore SIGPIPE (the front ends do). Without hiredis
 * (MV_HAVE_HIREDIS undefined) this header still compiles; nothing is built.
 */
#ifndef MV_REDIS_H
#define MV_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "loop.h"

#define MV_REDIS_PREFIX_MAX 64

/* Call status, in precedence order; MV_REDIS_OK means Redis answered. */
typedef enum {
    MV_REDIS_OK = 0,
    MV_REDIS_UNAVAILABLE, /* not connected or pipeline full: use the local cache */
    MV_REDIS_TIMEOUT,     /* no answer within timeout_ms; the connection was dropped */
    MV_REDIS_DOWN,        /* the connection was lost while waiting */
    MV_REDIS_PROTO,       /* the server's answer made no sense; the connection was dropped */
    MV_REDIS_SERVER,      /* the server answered with an error */
    MV_REDIS_CANCELLED,   /* mv_redis_free() with the command outstanding */
    MV_REDIS_EINVAL,      /* key, value or ttl out of bounds */
    MV_REDIS_ENOMEM,
} mv_redis_status;

/* priority: syslog's LOG_ERR, LOG_WARNING, LOG_INFO */
typedef void (*mv_redis_log_fn)(void *arg, int priority, const char *msg);

typedef struct {
    const char *server;        /* "127.0.0.1:6379", "[::1]:6379" or "unix:/path" */
    const char *user;          /* ACL user for AUTH; NULL or "": none */
    const char *password;      /* NULL or "": no AUTH */
    unsigned db;               /* SELECT db when not 0 */
    const char *prefix;        /* prepended to every key, e.g. "mv:" */
    bool tls;                  /* TLS to a tls-port (redis_tls.c: hiredis 0.14 has none) */
    const char *tls_ca_file;   /* CAs the server's certificate must chain to; NULL/"": the system's */
    const char *tls_cert_file; /* a client certificate (Redis asks by default) and its key */
    const char *tls_key_file;
    const char *tls_server_name; /* what the certificate must name; NULL/"": the server's address */
    unsigned timeout_ms;         /* per command and for connecting; 0: 1000 */
    unsigned max_pending;        /* outstanding commands; 0: 65536 */
    const char *hash_secret;     /* NULL or "": keys and values as they are; else
                                  * keys are HMAC names and values sealed (seal.h):
                                  * cache.hash_keys */
    mv_redis_log_fn log;         /* NULL: silent */
    void *log_arg;
} mv_redis_params;

/* A cached entry, as read; val points into the reply (valid during the
 * callback). cls is always a valid class: a value with any other is a miss. */
typedef struct {
    mv_cache_class cls;
    int64_t stored_at; /* seconds, the writer's wall clock */
    int64_t probed_at;
    const void *val;
    size_t vlen;
} mv_redis_entry;

typedef struct {
    uint64_t sent, answered, failed, unavailable, timeouts, drops, connects, kept;
    size_t pending;
} mv_redis_stats;

typedef struct mv_redis mv_redis;

/* e is NULL on a miss (an absent, corrupt or foreign value) or when st is not OK */
typedef void (*mv_redis_get_fn)(void *arg, mv_redis_status st, const mv_redis_entry *e);
/* stored: false when the old entry was better and only its probe time moved */
typedef void (*mv_redis_put_fn)(void *arg, mv_redis_status st, bool stored);
typedef void (*mv_redis_del_fn)(void *arg, mv_redis_status st, bool existed);
/* value after the increment; ttl_ms: what is left of the window */
typedef void (*mv_redis_incr_fn)(void *arg, mv_redis_status st, int64_t value, int64_t ttl_ms);
/* What mv_redis_count finds under the prefix, by the key's kind. */
enum { MV_REDIS_SMTP, MV_REDIS_DNS, MV_REDIS_FACTS, MV_REDIS_COUNTERS, MV_REDIS_OTHER, MV_REDIS_KINDS };
/* counts so far (also on failure), indexed by the enum above */
typedef void (*mv_redis_count_fn)(void *arg, mv_redis_status st, const uint64_t *counts);
/* deleted: keys removed so far (also on failure) */
typedef void (*mv_redis_purge_fn)(void *arg, mv_redis_status st, uint64_t deleted);

/* One element of a script's answer (mv_redis_eval): a whole answer that
 * is not an array is one element; an array's elements, in order. */
typedef enum { MV_REDIS_ITEM_NIL, MV_REDIS_ITEM_INT, MV_REDIS_ITEM_STR } mv_redis_item_type;
typedef struct {
    mv_redis_item_type type;
    int64_t i;     /* MV_REDIS_ITEM_INT */
    const char *s; /* MV_REDIS_ITEM_STR (a status reply too): len bytes, valid during the callback */
    size_t len;
} mv_redis_item;
#define MV_REDIS_EVAL_ARGS 12   /* keys + arguments of one mv_redis_eval */
#define MV_REDIS_ITEMS_MAX 4096 /* elements of one answer (the reader's ARRAY_MAX) */
/* items: NULL and n 0 when st is not OK */
typedef void (*mv_redis_eval_fn)(void *arg, mv_redis_status st, const mv_redis_item *items, size_t n);
/* A reply to mv_redis_command, read through the accessors below; valid
 * only during the callback. Types as RESP2's. */
typedef struct mv_redis_reply mv_redis_reply;
enum { MV_RESP_STRING = 1, MV_RESP_ARRAY, MV_RESP_INTEGER, MV_RESP_NIL, MV_RESP_STATUS, MV_RESP_ERROR };
/* rep is NULL when st is not OK; a server error is st OK with an MV_RESP_ERROR */
typedef void (*mv_redis_reply_fn)(void *arg, mv_redis_status st, const mv_redis_reply *rep);

/* mv_redis_check_params - is p usable? false with a message in err */
bool mv_redis_check_params(const mv_redis_params *p, char *err, size_t errsize);

/* mv_redis_new - a client that starts connecting at once; NULL on bad params (logged) or ENOMEM */
mv_redis *mv_redis_new(mv_loop *loop, const mv_redis_params *p);

/* mv_redis_free - outstanding callbacks complete with MV_REDIS_CANCELLED; NULL is fine */
void mv_redis_free(mv_redis *r);

/* mv_redis_up - connected, authenticated and ready for commands? */
bool mv_redis_up(const mv_redis *r);

/* mv_redis_connecting - is a connection (or its handshake) under way? */
bool mv_redis_connecting(const mv_redis *r);

/* mv_redis_get - read an entry; not OK: cb will not be called */
mv_redis_status mv_redis_get(mv_redis *r, const void *key, size_t klen, mv_redis_get_fn cb, void *arg);

/* mv_redis_put - store with a TTL, unless an unexpired better entry must stay; cb may be NULL */
mv_redis_status mv_redis_put(mv_redis *r, const void *key, size_t klen, mv_cache_class cls, const void *val,
                             size_t vlen, int64_t now, uint32_t ttl_s, mv_redis_put_fn cb, void *arg);

/* mv_redis_del - remove a key; cb may be NULL */
mv_redis_status mv_redis_del(mv_redis *r, const void *key, size_t klen, mv_redis_del_fn cb, void *arg);

/* mv_redis_incr - add to a fixed-window counter; the first increment starts a
 * window_s TTL; by 0 reads (an absent counter is 0 and is not created) */
mv_redis_status mv_redis_incr(mv_redis *r, const void *key, size_t klen, int64_t by, uint32_t window_s,
                              mv_redis_incr_fn cb, void *arg);

/* mv_redis_purge_domain - delete every "x:local@domain[|hop]" and "f:domain[|hop]" key,
 * SCANning in batches; MV_REDIS_EINVAL with a hash_secret (names are sealed) */
mv_redis_status mv_redis_purge_domain(mv_redis *r, const char *domain, mv_redis_purge_fn cb, void *arg);

/* mv_redis_count - count the keys under the prefix by kind ("s:", "d:"
 * verdicts, "f:" domain facts, "c:" counters), SCANning in batches: one
 * round trip per ~500 keys of the whole db -- an admin's command */
mv_redis_status mv_redis_count(mv_redis *r, mv_redis_count_fn cb, void *arg);

/* mv_redis_eval - run a Lua script: EVALSHA of its SHA-1, EVAL when the
 * server does not know it yet (NOSCRIPT). The first nkeys of the nargs
 * strings are keys, prefixed like every key; the rest are ARGV. script
 * must outlive the call (a static string). A nested array in the answer
 * is a protocol error. Refused while connecting, like a read; cb may be
 * NULL (fire and forget: a lease's release or renewal). */
mv_redis_status mv_redis_eval(mv_redis *r, const char *script, int nkeys, int nargs, const char *const *args,
                              const size_t *lens, mv_redis_eval_fn cb, void *arg);

/* mv_redis_prefix - the prefix of every key (cache.redis_prefix) */
const char *mv_redis_prefix(const mv_redis *r);

/* mv_redis_command - any command, its arguments as given (no prefix is
 * added: the caller builds its keys with mv_redis_prefix); the reply is
 * the caller's to check, within the client's guards (arrays of at most
 * 4,096 elements, replies under 1 MiB). Refused like a read while not
 * connected. For `mailverify bulk --fleet`'s streams and hashes. */
mv_redis_status mv_redis_command(mv_redis *r, int argc, const char *const *argv, const size_t *lens,
                                 mv_redis_reply_fn cb, void *arg);

/* mv_reply_type, mv_reply_str, mv_reply_int, mv_reply_count, mv_reply_at -
 * a reply's type; its bytes (strings, status and errors; n gets the
 * length); its integer; its elements (arrays: 0 for any other type); its
 * i-th element (NULL out of range) */
int mv_reply_type(const mv_redis_reply *rep);
const char *mv_reply_str(const mv_redis_reply *rep, size_t *n);
long long mv_reply_int(const mv_redis_reply *rep);
size_t mv_reply_count(const mv_redis_reply *rep);
const mv_redis_reply *mv_reply_at(const mv_redis_reply *rep, size_t i);

/* mv_redis_parse - what a server's bytes become on this client, without a
 * connection: fed to hiredis' reader behind the client's guards as if
 * `asked` commands were outstanding, every string reply decoded as a
 * stored entry and its value unpacked as a cached outcome. The replies
 * parsed, or -1 where the client would drop the connection. For the fuzz
 * target (fuzz_redis) and the hostile-server tests. */
int mv_redis_parse(const void *data, size_t len, unsigned asked);

/* mv_redis_parse_eval - the same for script answers: each reply as
 * mv_redis_eval's callback would get it (fuzz_redis feeds them to the
 * fleet's parsers); the replies parsed, or -1 */
int mv_redis_parse_eval(const void *data, size_t len, unsigned asked, mv_redis_eval_fn cb, void *arg);

/* mv_redis_get_stats - counters since mv_redis_new */
void mv_redis_get_stats(const mv_redis *r, mv_redis_stats *out);

/* mv_redis_strstatus - a short name for a status */
const char *mv_redis_strstatus(mv_redis_status st);

#endif
