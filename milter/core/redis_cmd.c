/* SPDX-License-Identifier: MIT */
/*
 * redis_cmd.c - the Redis client's commands: what each public call sends
 * (GET; the put and counter Lua scripts, EVALSHA with EVAL as fallback;
 * DEL; SCAN for purge and count), and what each reply means -- checked
 * for type and size before use, a stored value decoded from its header
 * (magic, version, class, stored and probed times), anything else a miss
 * or a protocol error that drops the connection. redis.c runs the
 * connection these ride on; redis_int.h is what the two share.
 */
#ifdef MV_HAVE_HIREDIS

#include "redis_int.h"
#include "outcome.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char hdr_magic[3] = {'M', 'V', 1};

/* put: keep a better unexpired entry (only its probe time moves), else SET with a TTL.
 * A missing key is expired: Redis removed it at its TTL. */
static const char put_lua[] = "local old = redis.pcall('GET', KEYS[1])\n"
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
static const char incr_lua[] = "if ARGV[1] == '0' then\n"
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

const char *const mv_redis_scripts[SCRIPTS] = {put_lua, incr_lua};

/* ---- small helpers ------------------------------------------------------ */

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

/* full_key - prefix + key (its sealed name with cache.hash_keys) into buf
 * (KEY_MAX bytes); 0 when too long or the name cannot be made */
static size_t full_key(const mv_redis *r, char *buf, const void *key, size_t klen)
{
    size_t n;

    if (klen == 0 || klen > MV_CACHE_KEY_MAX)
        return 0;
    memcpy(buf, r->prefix, r->prefix_len);
    if (r->seal != NULL)
        return (n = mv_seal_name(r->seal, key, klen, buf + r->prefix_len, KEY_MAX - r->prefix_len)) == 0
                   ? 0
                   : r->prefix_len + n;
    memcpy(buf + r->prefix_len, key, klen);
    return r->prefix_len + klen;
}

/* is_error - an error reply starting with code (e.g. "NOSCRIPT")? */
static bool is_error(const redisReply *rep, const char *code)
{
    size_t n = strlen(code);

    return rep->type == REDIS_REPLY_ERROR && rep->len >= n && memcmp(rep->str, code, n) == 0;
}

/* ---- sending ------------------------------------------------------------- */

static void redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* mv_redis_send_argv - hand one command to hiredis (it copies the arguments) */
mv_redis_status mv_redis_send_argv(mv_redis *r, req *q, int argc, const char **argv, const size_t *lens)
{
    if (r->ac == NULL || redisAsyncCommandArgv(r->ac, redis_on_reply, q, argc, argv, lens) != REDIS_OK)
        return MV_REDIS_UNAVAILABLE;
    r->sent_conn++;
    r->st.sent++;
    mv_redis_fifo_push(r, q);
    return MV_REDIS_OK;
}

/* send_script - EVALSHA with the script loaded at connect; EVAL after
 * NOSCRIPT, or while the first handshake has not told us the SHA yet */
static mv_redis_status send_script(mv_redis *r, req *q, int script)
{
    const char *argv[6] = {"EVALSHA", r->sha[script],      "1",
                           q->data,   q->data + q->len[0], q->data + q->len[0] + q->len[1]};
    size_t lens[6] = {7, 40, 1, q->len[0], q->len[1], q->len[2]};

    if (q->retried || r->sha[script][0] == '\0') {
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = mv_redis_scripts[script];
        lens[1] = strlen(mv_redis_scripts[script]);
    }
    q->script = script;
    return mv_redis_send_argv(r, q, 6, argv, lens);
}

/* mv_redis_new_req - a request carrying n byte strings (copied) */
req *mv_redis_new_req(mv_redis *r, op_kind op, void *arg, int n, const void *const *s, const size_t *len)
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

/* redis_admit - may a new command go out now? Reads only on a ready connection
 * (their callers must not wait for a handshake that may take timeout_ms);
 * writes also while connecting, up to CONNECTING_MAX: they queue behind
 * the handshake in hiredis' buffer, so the verdicts given in the moments
 * after Redis comes back are not lost (their callers do not wait). */
static bool redis_admit(mv_redis *r, bool write)
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

/* ---- replies ------------------------------------------------------------- */

/* fail - complete q with an error status */
static void fail(mv_redis *r, req *q, mv_redis_status st)
{
    r->st.failed++;
    switch (q->op) {
    case OP_HELLO: break;
    case OP_GET: q->cb.get(q->arg, st, NULL); break;
    case OP_PUT:
        if (q->cb.put)
            q->cb.put(q->arg, st, false);
        break;
    case OP_DEL:
        if (q->cb.del)
            q->cb.del(q->arg, st, false);
        break;
    case OP_INCR: q->cb.incr(q->arg, st, 0, 0); break;
    case OP_RAW: q->cb.raw(q->arg, st, NULL); break;
    case OP_EVAL:
        if (q->cb.eval)
            q->cb.eval(q->arg, st, NULL, 0);
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

/* decode - a stored value: header, then the caller's bytes (sealed with
 * cache.hash_keys: opened into buf, bound to the key q asked for); false:
 * corrupt, foreign, or sealed under another secret */
static bool decode(const mv_redis *r, const char *key, size_t klen, const redisReply *rep, mv_redis_entry *e,
                   unsigned char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)rep->str;
    const mv_seal *seal = r->seal;
    size_t extra = seal != NULL ? MV_SEAL_OVERHEAD : 0;

    if (rep->type != REDIS_REPLY_STRING || rep->len < HDR_LEN + extra ||
        rep->len > HDR_LEN + MV_CACHE_VAL_MAX + extra || memcmp(p, hdr_magic, 3) != 0 ||
        p[3] >= MV_CACHE_CLASSES)
        return false;
    e->cls = (mv_cache_class)p[3];
    e->stored_at = get_be64(p + 4);
    e->probed_at = get_be64(p + HDR_PROBED);
    e->val = p + HDR_LEN;
    e->vlen = rep->len - HDR_LEN;
    if (seal == NULL)
        return true;
    if (!mv_seal_open(seal, key, klen, p + HDR_LEN, e->vlen, buf, size, &e->vlen))
        return false;
    e->val = buf;
    return true;
}

/* get_reply - a value, nothing, or something that is not ours (a miss too) */
static mv_redis_status get_reply(req *q, const redisReply *rep)
{
    mv_redis_entry e;
    unsigned char buf[MV_CACHE_VAL_MAX];

    if (rep->type == REDIS_REPLY_STRING)
        q->cb.get(q->arg, MV_REDIS_OK,
                  decode(q->r, q->data, q->len[0], rep, &e, buf, sizeof(buf)) ? &e : NULL);
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

static mv_redis_status send_eval(mv_redis *r, req *q);

/* flat_items - a script's answer (not an error) as flat items (*out to
 * free); a nested array or an error inside one is a protocol error */
static mv_redis_status flat_items(const redisReply *rep, mv_redis_item **out, size_t *nout)
{
    const redisReply *const *el =
        rep->type == REDIS_REPLY_ARRAY ? (const redisReply *const *)rep->element : &rep;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 1;
    mv_redis_item *items;

    if (n > MV_REDIS_ITEMS_MAX)
        return MV_REDIS_PROTO;
    if ((items = calloc(n ? n : 1, sizeof(*items))) == NULL)
        return MV_REDIS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (el[i]->type == REDIS_REPLY_INTEGER) {
            items[i].type = MV_REDIS_ITEM_INT;
            items[i].i = el[i]->integer;
        } else if (el[i]->type == REDIS_REPLY_STRING || el[i]->type == REDIS_REPLY_STATUS) {
            items[i].type = MV_REDIS_ITEM_STR;
            items[i].s = el[i]->str;
            items[i].len = el[i]->len;
        } else if (el[i]->type != REDIS_REPLY_NIL) {
            free(items); /* a nested array or an error inside one */
            return MV_REDIS_PROTO;
        }
    }
    *out = items;
    *nout = n;
    return MV_REDIS_OK;
}

/* eval_reply - a script's answer as flat items; NOSCRIPT resends with EVAL */
static mv_redis_status eval_reply(mv_redis *r, req *q, const redisReply *rep, bool *again)
{
    mv_redis_item *items = NULL;
    size_t n = 0;
    mv_redis_status st;

    if (is_error(rep, "NOSCRIPT") && !q->retried) {
        q->retried = true;
        *again = true;
        return send_eval(r, q);
    }
    if (rep->type == REDIS_REPLY_ERROR)
        return MV_REDIS_SERVER;
    if ((st = flat_items(rep, &items, &n)) != MV_REDIS_OK)
        return st;
    if (q->cb.eval)
        q->cb.eval(q->arg, MV_REDIS_OK, n ? items : NULL, n);
    free(items);
    return MV_REDIS_OK;
}

static mv_redis_status purge_next(mv_redis *r, req *q, const redisReply *rep, bool *again);

/* redis_on_reply - hiredis' callback for every command; NULL: the connection is going */
static void redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    req *q = privdata;
    mv_redis *r = q->r;
    const redisReply *rep = reply;
    mv_redis_status st = MV_REDIS_OK;
    bool again = false;

    mv_redis_fifo_unlink(r, q);
    /* hiredis' reader gave up on what the server sent */
    if (rep == NULL && ac->err == REDIS_ERR_PROTOCOL && r->drop_status == MV_REDIS_DOWN)
        r->drop_status = MV_REDIS_PROTO;
    if (rep == NULL || r->state == ST_CLOSED) {
        mv_redis_note_down(r, mv_redis_ac_why(r));
        fail(r, q, r->drop_status);
        return;
    }
    r->st.answered++;
    if (q->op == OP_HELLO) {
        mv_redis_hello_reply(r, q, rep);
        return;
    }
    switch (q->op) {
    case OP_GET: st = get_reply(q, rep); break;
    case OP_PUT:
    case OP_INCR: st = script_reply(r, q, rep, &again); break;
    case OP_EVAL: st = eval_reply(r, q, rep, &again); break;
    case OP_DEL:
        if (rep->type != REDIS_REPLY_INTEGER)
            st = rep->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : MV_REDIS_PROTO;
        else if (q->cb.del)
            q->cb.del(q->arg, MV_REDIS_OK, rep->integer > 0);
        break;
    case OP_RAW: q->cb.raw(q->arg, MV_REDIS_OK, (const mv_redis_reply *)rep); break;
    default: st = purge_next(r, q, rep, &again); break;
    }
    if (st == MV_REDIS_PROTO)
        mv_redis_drop(r, st, "protocol error: a reply of the wrong type");
    if (st != MV_REDIS_OK)
        fail(r, q, st == MV_REDIS_UNAVAILABLE ? r->drop_status : st);
    else if (!again)
        free(q);
}

/* ---- purge: SCAN MATCH in batches, UNLINK what belongs to the domain ------ */

/* key_domain_is - does "x:local@domain[|hop]" or "f:domain[|hop]" (after
 * the prefix) name domain? */
static bool key_domain_is(const mv_redis *r, const req *q, const char *k, size_t klen)
{
    const char *end, *at;
    const char *dom = q->data + q->len[0];
    size_t dlen = q->len[1];

    if (klen < r->prefix_len + 2 || memcmp(k, r->prefix, r->prefix_len) != 0 || k[r->prefix_len + 1] != ':')
        return false;
    end = memchr(k + r->prefix_len, '|', klen - r->prefix_len);
    end = end ? end : k + klen;
    if (k[r->prefix_len] == 'f') /* a domain's facts */
        at = k + r->prefix_len + 1;
    else if (k[r->prefix_len] == 's' || k[r->prefix_len] == 'd')
        at = memrchr(k, '@', (size_t)(end - k));
    else
        return false;
    return at != NULL && (size_t)(end - at - 1) == dlen && strncasecmp(at + 1, dom, dlen) == 0;
}

/* send_scan - the next batch */
static mv_redis_status send_scan(mv_redis *r, req *q)
{
    const char *argv[6] = {"SCAN", q->cursor, "MATCH", q->data, "COUNT", "500"};
    size_t lens[6] = {4, strlen(q->cursor), 5, q->len[0], 5, 3};

    q->op = OP_SCAN;
    return mv_redis_send_argv(r, q, 6, argv, lens);
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
        st = mv_redis_send_argv(r, q, n, argv, lens);
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
            continue; /* MATCH ignores case; the prefix does not */
        if (k->len > r->prefix_len + 6 && memcmp(k->str + r->prefix_len, "lease:", 6) == 0)
            continue; /* the fleet's (lease.c): mv_lease_list shows them */
        kind = k->len > r->prefix_len + 1 && k->str[r->prefix_len + 1] == ':' ? k->str[r->prefix_len] : '?';
        q->counts[kind == 's'   ? MV_REDIS_SMTP
                  : kind == 'd' ? MV_REDIS_DNS
                  : kind == 'f' ? MV_REDIS_FACTS
                  : kind == 'c' ? MV_REDIS_COUNTERS
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

/* mv_redis_get - read an entry; not OK: cb will not be called */
mv_redis_status mv_redis_get(mv_redis *r, const void *key, size_t klen, mv_redis_get_fn cb, void *arg)
{
    char k[KEY_MAX];
    size_t kl = full_key(r, k, key, klen);
    const char *argv[2] = {"GET", k};
    size_t lens[2] = {3, kl};
    mv_redis_status st;
    req *q;

    if (kl == 0 || cb == NULL)
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    /* the key is kept: a sealed value opens only for the key it was written under */
    if ((q = mv_redis_new_req(r, OP_GET, arg, 1, (const void *[]){k}, (size_t[]){kl})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.get = cb;
    if ((st = mv_redis_send_argv(r, q, 2, argv, lens)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_put - store with a TTL, unless an unexpired better entry must stay; cb may be NULL */
mv_redis_status mv_redis_put(mv_redis *r, const void *key, size_t klen, mv_cache_class cls, const void *val,
                             size_t vlen, int64_t now, uint32_t ttl_s, mv_redis_put_fn cb, void *arg)
{
    char k[KEY_MAX], ttl[16];
    unsigned char v[HDR_LEN + MV_CACHE_VAL_MAX + MV_SEAL_OVERHEAD];
    size_t kl = full_key(r, k, key, klen);
    mv_redis_status st;
    req *q;

    if (kl == 0 || vlen > MV_CACHE_VAL_MAX || (unsigned)cls >= MV_CACHE_CLASSES || ttl_s == 0)
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, true))
        return MV_REDIS_UNAVAILABLE;
    memcpy(v, hdr_magic, 3);
    v[3] = (unsigned char)cls;
    put_be64(v + 4, now);
    put_be64(v + HDR_PROBED, now);
    /* the header stays in clear (no address in it): the put script reads it */
    if (r->seal != NULL &&
        (vlen = mv_seal_value(r->seal, k, kl, val, vlen, v + HDR_LEN, sizeof(v) - HDR_LEN)) == 0)
        return MV_REDIS_EINVAL;
    else if (r->seal == NULL && vlen > 0)
        memcpy(v + HDR_LEN, val, vlen);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    if ((q = mv_redis_new_req(r, OP_PUT, arg, 3, (const void *[]){k, v, ttl},
                              (size_t[]){kl, HDR_LEN + vlen, strlen(ttl)})) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.put = cb;
    if ((st = send_script(r, q, SCRIPT_PUT)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_del - remove a key; cb may be NULL */
mv_redis_status mv_redis_del(mv_redis *r, const void *key, size_t klen, mv_redis_del_fn cb, void *arg)
{
    char k[KEY_MAX];
    size_t kl = full_key(r, k, key, klen);
    const char *argv[2] = {"DEL", k};
    size_t lens[2] = {3, kl};
    mv_redis_status st;
    req *q;

    if (kl == 0)
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, true))
        return MV_REDIS_UNAVAILABLE;
    if ((q = mv_redis_new_req(r, OP_DEL, arg, 0, NULL, NULL)) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.del = cb;
    if ((st = mv_redis_send_argv(r, q, 2, argv, lens)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_incr - add to a fixed-window counter; the first increment starts a window_s TTL */
mv_redis_status mv_redis_incr(mv_redis *r, const void *key, size_t klen, int64_t by, uint32_t window_s,
                              mv_redis_incr_fn cb, void *arg)
{
    char k[KEY_MAX], b[24], w[16];
    size_t kl = full_key(r, k, key, klen);
    mv_redis_status st;
    req *q;

    if (kl == 0 || window_s == 0 || cb == NULL)
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, by != 0))
        return MV_REDIS_UNAVAILABLE;
    snprintf(b, sizeof(b), "%lld", (long long)by);
    snprintf(w, sizeof(w), "%u", window_s);
    if ((q = mv_redis_new_req(r, OP_INCR, arg, 3, (const void *[]){k, b, w},
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

/* mv_redis_purge_domain - delete every "x:local@domain[|hop]" and "f:domain[|hop]" key,
 * SCANning in batches */
mv_redis_status mv_redis_purge_domain(mv_redis *r, const char *domain, mv_redis_purge_fn cb, void *arg)
{
    char pat[KEY_MAX * 4 + 8], esc[MV_CACHE_KEY_MAX * 4 + 2];
    size_t dl = strlen(domain);
    mv_redis_status st;
    int n;
    req *q;

    /* sealed names say nothing of their domain: nothing to match */
    if (r->seal != NULL || dl == 0 || dl > MV_CACHE_KEY_MAX || cb == NULL ||
        !glob_escape(esc, sizeof(esc), domain) || !glob_escape(pat, sizeof(pat), r->prefix))
        return MV_REDIS_EINVAL;
    /* the filter in key_domain_is() decides; MATCH only saves the traffic */
    n = snprintf(pat + strlen(pat), sizeof(pat) - strlen(pat), "*%s*", esc);
    if (n < 0 || (size_t)n >= sizeof(pat) - strlen(pat))
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = mv_redis_new_req(r, OP_SCAN, arg, 2, (const void *[]){pat, domain},
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
    if (!redis_admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = mv_redis_new_req(r, OP_SCAN, arg, 2, (const void *[]){pat, ""}, (size_t[]){strlen(pat), 0})) ==
        NULL)
        return MV_REDIS_ENOMEM;
    q->cb.count = cb;
    q->counting = true;
    strcpy(q->cursor, "0");
    if ((st = send_scan(r, q)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* ---- scripts of other modules: EVALSHA, EVAL after NOSCRIPT ---------------- */

static uint32_t rol32(uint32_t v, int n)
{
    return v << n | v >> (32 - n);
}

/* sha1_block - one 64-byte block into h (FIPS 180-4) */
static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f = i < 20   ? ((b & c) | (~b & d)) + 0x5A827999u
                     : i < 40 ? (b ^ c ^ d) + 0x6ED9EBA1u
                     : i < 60 ? ((b & c) | (b & d) | (c & d)) + 0x8F1BBCDCu
                              : (b ^ c ^ d) + 0xCA62C1D6u;
        uint32_t t = rol32(a, 5) + f + e + w[i];

        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* sha1_hex - the SHA-1 Redis names a script by, in lowercase hex (ours:
 * OpenSSL is loaded at run time, and only where TLS is used) */
static void sha1_hex(const char *s, size_t len, char out[41])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    unsigned char tail[128] = {0};
    size_t full = len / 64 * 64, rest = len - full, tl = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t off = 0; off < full; off += 64)
        sha1_block(h, (const unsigned char *)s + off);
    memcpy(tail, s + full, rest);
    tail[rest] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tl; off += 64)
        sha1_block(h, tail + off);
    for (int i = 0; i < 5; i++)
        snprintf(out + 8 * i, 9, "%08x", h[i]);
}

/* send_eval - EVALSHA, or EVAL once the server said NOSCRIPT */
static mv_redis_status send_eval(mv_redis *r, req *q)
{
    const char *argv[3 + MV_REDIS_EVAL_ARGS];
    size_t lens[3 + MV_REDIS_EVAL_ARGS], off = 0;
    char nk[8];

    snprintf(nk, sizeof(nk), "%d", q->enkeys);
    argv[0] = q->retried ? "EVAL" : "EVALSHA";
    lens[0] = strlen(argv[0]);
    argv[1] = q->retried ? q->text : q->sha;
    lens[1] = q->retried ? strlen(q->text) : 40;
    argv[2] = nk;
    lens[2] = strlen(nk);
    for (int i = 0; i < q->eargc; off += q->elen[i], i++) {
        argv[3 + i] = q->data + off;
        lens[3 + i] = q->elen[i];
    }
    return mv_redis_send_argv(r, q, 3 + q->eargc, argv, lens);
}

/* mv_redis_eval - run a Lua script with prefixed keys and arguments */
mv_redis_status mv_redis_eval(mv_redis *r, const char *script, int nkeys, int nargs, const char *const *args,
                              const size_t *lens, mv_redis_eval_fn cb, void *arg)
{
    char keys[MV_REDIS_EVAL_ARGS][KEY_MAX];
    size_t klen[MV_REDIS_EVAL_ARGS], total = 0;
    mv_redis_status st;
    req *q;

    if (script == NULL || nargs < 0 || nargs > MV_REDIS_EVAL_ARGS || nkeys < 0 || nkeys > nargs)
        return MV_REDIS_EINVAL;
    /* keys get the prefix, and with cache.hash_keys their sealed names */
    for (int i = 0; i < nargs; i++) {
        if (i < nkeys && (klen[i] = full_key(r, keys[i], args[i], lens[i])) == 0)
            return MV_REDIS_EINVAL;
        total += i < nkeys ? klen[i] : lens[i];
    }
    if (!redis_admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = calloc(1, sizeof(*q) + total + 1)) == NULL)
        return MV_REDIS_ENOMEM;
    *q = (req){
        .r = r, .op = OP_EVAL, .arg = arg, .script = -1, .text = script, .eargc = nargs, .enkeys = nkeys};
    q->cb.eval = cb;
    sha1_hex(script, strlen(script), q->sha);
    for (int i = 0, off = 0; i < nargs; i++) {
        q->elen[i] = i < nkeys ? klen[i] : lens[i];
        memcpy(q->data + off, i < nkeys ? keys[i] : args[i], q->elen[i]);
        off += (int)q->elen[i];
    }
    if ((st = send_eval(r, q)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_redis_prefix - the prefix of every key */
const char *mv_redis_prefix(const mv_redis *r)
{
    return r->prefix;
}

/* mv_redis_command - any command; the reply is the caller's to check */
mv_redis_status mv_redis_command(mv_redis *r, int argc, const char *const *argv, const size_t *lens,
                                 mv_redis_reply_fn cb, void *arg)
{
    mv_redis_status st;
    req *q;

    if (argc < 1 || cb == NULL)
        return MV_REDIS_EINVAL;
    if (!redis_admit(r, false))
        return MV_REDIS_UNAVAILABLE;
    if ((q = mv_redis_new_req(r, OP_RAW, arg, 0, NULL, NULL)) == NULL)
        return MV_REDIS_ENOMEM;
    q->cb.raw = cb;
    if ((st = mv_redis_send_argv(r, q, argc, (const char **)argv, lens)) != MV_REDIS_OK)
        free(q);
    return st;
}

/* mv_reply_type - a reply's type, as MV_REPLY_* */
int mv_reply_type(const mv_redis_reply *rep)
{
    switch (((const redisReply *)rep)->type) {
    case REDIS_REPLY_STRING: return MV_RESP_STRING;
    case REDIS_REPLY_ARRAY: return MV_RESP_ARRAY;
    case REDIS_REPLY_INTEGER: return MV_RESP_INTEGER;
    case REDIS_REPLY_NIL: return MV_RESP_NIL;
    case REDIS_REPLY_STATUS: return MV_RESP_STATUS;
    default: return MV_RESP_ERROR;
    }
}

/* mv_reply_str - the bytes of a string, status or error; "" otherwise */
const char *mv_reply_str(const mv_redis_reply *rep, size_t *n)
{
    const redisReply *r = (const redisReply *)rep;
    bool has = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR;

    *n = has ? r->len : 0;
    return has ? r->str : "";
}

/* mv_reply_int - an integer reply's value; 0 otherwise */
long long mv_reply_int(const mv_redis_reply *rep)
{
    const redisReply *r = (const redisReply *)rep;

    return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* mv_reply_count - an array's elements; 0 otherwise */
size_t mv_reply_count(const mv_redis_reply *rep)
{
    const redisReply *r = (const redisReply *)rep;

    return r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

/* mv_reply_at - an array's i-th element; NULL out of range */
const mv_redis_reply *mv_reply_at(const mv_redis_reply *rep, size_t i)
{
    const redisReply *r = (const redisReply *)rep;

    return r->type == REDIS_REPLY_ARRAY && i < r->elements ? (const mv_redis_reply *)r->element[i] : NULL;
}

/* parsed_value - a reply as the GET path sees it: an entry, then an outcome */
static void parsed_value(const mv_redis *r, const redisReply *rep)
{
    unsigned char buf[MV_CACHE_VAL_MAX];
    mv_redis_entry e;
    mv_net_outcome o;

    if (rep->type == REDIS_REPLY_STRING && decode(r, "", 0, rep, &e, buf, sizeof(buf)))
        (void)mv_outcome_unpack(e.val, e.vlen, &o);
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        parsed_value(r, rep->element[i]);
}

/* parse_each - the reader and its guards on bytes alone, each reply to
 * each(); the replies parsed, or -1; *past: unread bytes past the reply
 * buffer's bound were left (on_io drops such a connection) */
static int parse_each(const void *data, size_t len, unsigned asked,
                      void (*each)(mv_redis *r, void *rep, void *arg), void *arg, bool *past)
{
    mv_redis r;
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    int n = 0;

    *past = false;
    if (rd == NULL)
        return -1;
    memset(&r, 0, sizeof(r));
    r.sent_conn = asked;
    mv_redis_guard_reader(&r, rd);
    if (redisReaderFeed(rd, data, len) != REDIS_OK)
        n = -1;
    while (n >= 0 && rd->len - rd->pos <= REPLY_BUF_MAX) {
        if (redisReaderGetReply(rd, &rep) != REDIS_OK) {
            n = -1;
            break;
        }
        if (rep == NULL)
            break;
        each(&r, rep, arg);
        freeReplyObject(rep);
        n++;
    }
    *past = rd->len - rd->pos > REPLY_BUF_MAX;
    redisReaderFree(rd);
    return n;
}

/* A script's answer flattened as mv_redis_eval hands it on. */
struct eval_sink {
    mv_redis_eval_fn cb;
    void *arg;
};

static void each_eval(mv_redis *r, void *rep, void *arg)
{
    const struct eval_sink *k = arg;
    mv_redis_item *items = NULL;
    size_t n = 0;
    mv_redis_status st =
        ((redisReply *)rep)->type == REDIS_REPLY_ERROR ? MV_REDIS_SERVER : flat_items(rep, &items, &n);

    (void)r;
    k->cb(k->arg, st, st == MV_REDIS_OK && n ? items : NULL, st == MV_REDIS_OK ? n : 0);
    free(items);
}

static void each_value(mv_redis *r, void *rep, void *arg)
{
    (void)arg;
    parsed_value(r, rep);
}

/* mv_redis_parse_eval - the reader, its guards and mv_redis_eval's
 * flattening, on bytes alone: cb gets each reply as a caller would */
int mv_redis_parse_eval(const void *data, size_t len, unsigned asked, mv_redis_eval_fn cb, void *arg)
{
    struct eval_sink k = {cb, arg};
    bool past;

    return parse_each(data, len, asked, each_eval, &k, &past);
}

/* mv_redis_parse - the reader and its guards, on bytes alone */
int mv_redis_parse(const void *data, size_t len, unsigned asked)
{
    bool past;
    int n = parse_each(data, len, asked, each_value, NULL, &past);

    return n >= 0 && past ? -1 : n; /* on_io drops a connection whose reply grows past this */
}

#endif /* MV_HAVE_HIREDIS */
