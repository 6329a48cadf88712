/* SPDX-License-Identifier: MIT */
/*
 * lease.c - fleet-wide etiquette through Redis (see lease.h): the Lua
 * scripts that take, renew and release a session's lease and record a
 * back-off, what their answers mean, and the switch to local limits
 * (one log line each way) when Redis does not answer. Every time is
 * Redis' own (TIME inside the scripts, key TTLs), so hosts whose clocks
 * differ agree on when a lease expires.
 *
 * Cost per session with the fleet on: one EVALSHA to take (more only
 * while the fleet is at a limit: one per MV_LEASE_POLL_MS at most, per
 * waiting domain), one to release, and one per third of the lease time a
 * session lives beyond it (none for a session shorter than that).
 */
#ifdef MV_HAVE_HIREDIS

#include "lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* take: KEYS domain set, host set, host spacing, host back-off; ARGV id,
 * lease ms, domain limit, host limit, spacing ms, "1" to ignore back-offs */
static const char take_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if ARGV[6] ~= '1' then\n"
    "  local bo = redis.call('PTTL', KEYS[4])\n"
    "  if bo > 0 then return {2, bo, redis.call('GET', KEYS[4]) or 'b'} end\n"
    "end\n"
    "local lease, wait = tonumber(ARGV[2]), 0\n"
    "for i = 1, 2 do\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)\n"
    "  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then\n"
    "    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')\n"
    "    local w = tonumber(first[2]) - now\n"
    "    if w > wait then wait = w end\n"
    "  end\n"
    "end\n"
    "if wait == 0 and tonumber(ARGV[5]) > 0 then\n"
    "  local left = redis.call('PTTL', KEYS[3])\n"
    "  if left > 0 then wait = left end\n"
    "end\n"
    "if wait > 0 then return {0, wait} end\n"
    "for i = 1, 2 do\n"
    "  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])\n"
    "  redis.call('PEXPIRE', KEYS[i], lease)\n"
    "end\n"
    "if tonumber(ARGV[5]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[5]) end\n"
    "return {1, lease}\n";

/* renew: KEYS domain set, host set; ARGV id, lease ms (XX: a lease that
 * expired meanwhile is not brought back) */
static const char renew_lua[] = "local t = redis.call('TIME')\n"
                                "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                                "for i = 1, 2 do\n"
                                "  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])\n"
                                "  redis.call('PEXPIRE', KEYS[i], ARGV[2])\n"
                                "end\n"
                                "return 1\n";

/* release: KEYS domain set, host set; ARGV id */
static const char release_lua[] = "redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                  "redis.call('ZREM', KEYS[2], ARGV[1])\n"
                                  "return 1\n";

/* backoff: KEYS the back-off key; ARGV "t"|"b", ms, "0" to end it. A
 * longer back-off in force stays (two processes learn different ones) */
static const char backoff_lua[] = "if ARGV[3] == '0' then return redis.call('DEL', KEYS[1]) end\n"
                                  "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then\n"
                                  "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                  "end\n"
                                  "return 1\n";

/* list: ARGV the prefix; {key, value, ...} of live lease sets and back-offs */
static const char list_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local pat = ARGV[1]:gsub('[%*%?%[%]\\\\]', '\\\\%0') .. 'lease:*'\n"
    "local out, cur = {}, '0'\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cur, 'MATCH', pat, 'COUNT', 500)\n"
    "  cur = r[1]\n"
    "  for _, k in ipairs(r[2]) do\n"
    "    local kind, v = k:sub(#ARGV[1] + 7, #ARGV[1] + 7), 0\n"
    "    if kind == 'h' or kind == 'd' then v = redis.call('ZCOUNT', k, '(' .. now, '+inf')\n"
    "    elseif kind == 'b' then v = redis.call('PTTL', k) end\n"
    "    if v > 0 and #out < 2000 then out[#out + 1] = k; out[#out + 1] = v end\n"
    "  end\n"
    "until cur == '0'\n"
    "return out\n";

struct mv_lease_hold {
    mv_lease *l;
    LIST_ENTRY(mv_lease_hold) link;
    mv_timer renew;
    char id[48];
    char dkey[MV_LEASE_KEY_MAX + 8], hkey[MV_LEASE_KEY_MAX + 8];
};

struct mv_lease_ask {
    mv_lease *l; /* NULL once cancelled */
    mv_redis *rc;
    LIST_ENTRY(mv_lease_ask) link;
    mv_lease_fn cb;
    void *arg;
    char id[48];
    char dkey[MV_LEASE_KEY_MAX + 8], hkey[MV_LEASE_KEY_MAX + 8];
};

struct mv_lease {
    mv_loop *loop;
    mv_redis *rc;
    uint64_t lease_ms;
    bool local; /* the last take got no answer: local limits, said once */
    mv_redis_log_fn log;
    void *log_arg;
    char nonce[24]; /* this process's part of every lease id */
    uint64_t seq;
    LIST_HEAD(, mv_lease_hold) holds;
    LIST_HEAD(, mv_lease_ask) asks;
    mv_lease_stats st;
};

/* say - one line to the log callback */
static void say(const mv_lease *l, int priority, const char *msg)
{
    if (l->log != NULL)
        l->log(l->log_arg, priority, msg);
}

/* go_local - Redis did not answer a take: local limits, said once */
static void go_local(mv_lease *l, const char *why)
{
    char msg[200];

    l->st.locals++;
    if (l->local)
        return;
    l->local = true;
    snprintf(msg, sizeof(msg),
             "fleet: no answer from Redis (%s); this process keeps its own session limits and back-offs "
             "until it answers",
             why);
    say(l, LOG_WARNING, msg);
}

/* go_fleet - a take was answered: fleet-wide limits again, said once */
static void go_fleet(mv_lease *l)
{
    if (!l->local)
        return;
    l->local = false;
    say(l, LOG_INFO, "fleet: Redis answers again; session limits and back-offs are fleet-wide again");
}

/* key - "lease:K:name" into buf; its length, 0 if too long */
static size_t key(char *buf, size_t size, char kind, const char *name)
{
    int n = snprintf(buf, size, "lease:%c:%s", kind, name);

    return n < 0 || (size_t)n >= size || (size_t)n > MV_CACHE_KEY_MAX ? 0 : (size_t)n;
}

/* mv_lease_new - one process's side of the fleet */
mv_lease *mv_lease_new(mv_loop *loop, mv_redis *rc, unsigned lease_s, mv_redis_log_fn log, void *log_arg)
{
    mv_lease *l = calloc(1, sizeof(*l));
    uint64_t r = 0;

    if (l == NULL)
        return NULL;
    l->loop = loop;
    l->rc = rc;
    l->lease_ms = (uint64_t)(lease_s ? lease_s : 60) * 1000;
    l->log = log;
    l->log_arg = log_arg;
    /* ids only need to differ between processes: a random nonce, the pid
     * and the time if there is no randomness to be had */
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
    snprintf(l->nonce, sizeof(l->nonce), "%016" PRIx64, r);
    LIST_INIT(&l->holds);
    LIST_INIT(&l->asks);
    return l;
}

/* send_release - ZREM a lease from both sets (no answer awaited) */
static void send_release(mv_redis *rc, const char *id, const char *dkey, const char *hkey)
{
    const char *args[3] = {dkey, hkey, id};
    size_t lens[3] = {strlen(dkey), strlen(hkey), strlen(id)};

    (void)mv_redis_eval(rc, release_lua, 2, 3, args, lens, NULL, NULL);
}

/* mv_lease_release - the session ended */
void mv_lease_release(mv_lease_hold *h)
{
    if (h == NULL)
        return;
    h->l->st.releases++;
    send_release(h->l->rc, h->id, h->dkey, h->hkey);
    mv_timer_stop(h->l->loop, &h->renew);
    LIST_REMOVE(h, link);
    free(h);
}

/* mv_lease_free - cancel every ask; release what is held */
void mv_lease_free(mv_lease *l)
{
    if (l == NULL)
        return;
    while (!LIST_EMPTY(&l->asks))
        mv_lease_cancel(LIST_FIRST(&l->asks));
    while (!LIST_EMPTY(&l->holds))
        mv_lease_release(LIST_FIRST(&l->holds));
    free(l);
}

/* on_renew - a third of the lease time passed and the session lives on */
static void on_renew(void *arg)
{
    mv_lease_hold *h = arg;
    char ms[24];
    const char *args[4] = {h->dkey, h->hkey, h->id, ms};
    size_t lens[4];

    snprintf(ms, sizeof(ms), "%" PRIu64, h->l->lease_ms);
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(args[i]);
    h->l->st.renewals++;
    (void)mv_redis_eval(h->l->rc, renew_lua, 2, 4, args, lens, NULL, NULL);
    mv_timer_start(h->l->loop, &h->renew, h->l->lease_ms / 3, on_renew, h);
}

/* mv_lease_parse_take - the take script's answer */
bool mv_lease_parse_take(const mv_redis_item *items, size_t n, mv_lease_answer *out)
{
    *out = (mv_lease_answer){.res = MV_LEASE_LOCAL};
    if (items == NULL || n < 2 || items[0].type != MV_REDIS_ITEM_INT || items[1].type != MV_REDIS_ITEM_INT ||
        items[1].i < 0 || items[1].i > 366LL * 86400 * 1000)
        return false;
    switch (items[0].i) {
    case 1:
        if (n != 2 || items[1].i == 0)
            return false;
        out->res = MV_LEASE_GRANTED;
        return true;
    case 0:
        if (n != 2 || items[1].i == 0)
            return false;
        out->res = MV_LEASE_WAIT;
        out->wait_ms = (uint64_t)items[1].i;
        return true;
    case 2:
        if (n != 3 || items[2].type != MV_REDIS_ITEM_STR || items[2].len != 1 ||
            (items[2].s[0] != 't' && items[2].s[0] != 'b') || items[1].i == 0)
            return false;
        out->res = MV_LEASE_BACKOFF;
        out->wait_ms = (uint64_t)items[1].i;
        out->timeout = items[2].s[0] == 't';
        return true;
    default: return false;
    }
}

/* grant - a lease is ours: hold it, renew it while the session lives */
static mv_lease_hold *grant(mv_lease *l, const mv_lease_ask *a)
{
    mv_lease_hold *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->l = l;
    memcpy(h->id, a->id, sizeof(h->id));
    memcpy(h->dkey, a->dkey, sizeof(h->dkey));
    memcpy(h->hkey, a->hkey, sizeof(h->hkey));
    LIST_INSERT_HEAD(&l->holds, h, link);
    mv_timer_start(l->loop, &h->renew, l->lease_ms / 3, on_renew, h);
    return h;
}

/* on_take - Redis answered a take (or could not) */
static void on_take(void *arg, mv_redis_status st, const mv_redis_item *items, size_t n)
{
    mv_lease_ask *a = arg;
    mv_lease *l = a->l;
    mv_lease_answer ans;
    char why[80];
    bool ok = st == MV_REDIS_OK && mv_lease_parse_take(items, n, &ans);

    if (l == NULL) { /* cancelled: nobody will release what was granted */
        if (ok && ans.res == MV_LEASE_GRANTED)
            send_release(a->rc, a->id, a->dkey, a->hkey);
        free(a);
        return;
    }
    LIST_REMOVE(a, link);
    if (!ok) {
        snprintf(why, sizeof(why), "%s",
                 st == MV_REDIS_OK ? "an answer that makes no sense" : mv_redis_strstatus(st));
        go_local(l, why);
        ans = (mv_lease_answer){.res = MV_LEASE_LOCAL};
    } else {
        go_fleet(l);
        l->st.granted += ans.res == MV_LEASE_GRANTED;
        l->st.waits += ans.res == MV_LEASE_WAIT;
        l->st.backoffs += ans.res == MV_LEASE_BACKOFF;
        if (ans.res == MV_LEASE_GRANTED && (ans.hold = grant(l, a)) == NULL) {
            send_release(a->rc, a->id, a->dkey, a->hkey); /* out of memory: local, and let it go */
            ans.res = MV_LEASE_LOCAL;
        }
    }
    a->cb(a->arg, &ans);
    free(a);
}

/* mv_lease_take - ask for a session's lease */
mv_lease_ask *mv_lease_take(mv_lease *l, const mv_lease_want *w, mv_lease_fn cb, void *arg,
                            mv_lease_answer *now)
{
    char ks[MV_LEASE_KEY_MAX + 8], kb[MV_LEASE_KEY_MAX + 8], ms[24], dl[16], hl[16], sp[16];
    const char *args[10];
    size_t lens[10];
    mv_lease_ask *a;
    mv_redis_status st;

    *now = (mv_lease_answer){.res = MV_LEASE_LOCAL};
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return NULL;
    *a = (mv_lease_ask){.l = l, .rc = l->rc, .cb = cb, .arg = arg};
    snprintf(a->id, sizeof(a->id), "%s.%" PRIu64, l->nonce, ++l->seq);
    if (key(a->dkey, sizeof(a->dkey), 'd', w->domain) == 0 ||
        key(a->hkey, sizeof(a->hkey), 'h', w->host) == 0 || key(ks, sizeof(ks), 's', w->host) == 0 ||
        key(kb, sizeof(kb), 'b', w->host) == 0) {
        free(a); /* a name too long for a key: this one goes by local limits */
        return NULL;
    }
    snprintf(ms, sizeof(ms), "%" PRIu64, l->lease_ms);
    snprintf(dl, sizeof(dl), "%u", w->domain_limit);
    snprintf(hl, sizeof(hl), "%u", w->host_limit);
    snprintf(sp, sizeof(sp), "%u", w->spacing_ms);
    args[0] = a->dkey, args[1] = a->hkey, args[2] = ks, args[3] = kb;
    args[4] = a->id, args[5] = ms, args[6] = dl, args[7] = hl, args[8] = sp,
    args[9] = w->checking ? "1" : "0";
    for (int i = 0; i < 10; i++)
        lens[i] = strlen(args[i]);
    l->st.takes++;
    if ((st = mv_redis_eval(l->rc, take_lua, 4, 10, args, lens, on_take, a)) != MV_REDIS_OK) {
        if (st == MV_REDIS_UNAVAILABLE && mv_redis_connecting(l->rc))
            l->st.locals++; /* a handshake under way: the cache's own line says what is going on */
        else
            go_local(l, st == MV_REDIS_UNAVAILABLE ? "not connected" : mv_redis_strstatus(st));
        free(a);
        return NULL;
    }
    LIST_INSERT_HEAD(&l->asks, a, link);
    return a;
}

/* mv_lease_cancel - no callback; a grant that comes anyway is released */
void mv_lease_cancel(mv_lease_ask *a)
{
    if (a == NULL || a->l == NULL)
        return;
    LIST_REMOVE(a, link);
    a->l = NULL;
}

/* mv_lease_hold_host - the MX address a lease is for */
const char *mv_lease_hold_host(const mv_lease_hold *h)
{
    return h->hkey + strlen("lease:h:");
}

/* send_backoff - set or end the fleet's back-off from host */
static void send_backoff(mv_lease *l, const char *host, uint64_t ms, bool timeout, bool end)
{
    char k[MV_LEASE_KEY_MAX + 8], v[24];
    const char *args[4] = {k, timeout ? "t" : "b", v, end ? "0" : "1"};
    size_t lens[4];

    if (key(k, sizeof(k), 'b', host) == 0 || (!end && ms == 0))
        return;
    snprintf(v, sizeof(v), "%" PRIu64, ms ? ms : 1);
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(args[i]);
    l->st.backoff_writes++;
    (void)mv_redis_eval(l->rc, backoff_lua, 1, 4, args, lens, NULL, NULL);
}

/* mv_lease_backoff - tell the fleet to leave host alone for ms */
void mv_lease_backoff(mv_lease *l, const char *host, uint64_t ms, bool timeout)
{
    send_backoff(l, host, ms, timeout, false);
}

/* mv_lease_backoff_end - host answers again */
void mv_lease_backoff_end(mv_lease *l, const char *host)
{
    send_backoff(l, host, 0, false, true);
}

/* mv_lease_get_stats - the counters */
void mv_lease_get_stats(const mv_lease *l, mv_lease_stats *out)
{
    *out = l->st;
}

/* mv_lease_parse_list - {key, value, ...} as entries */
long mv_lease_parse_list(const mv_redis_item *items, size_t n, const char *prefix, mv_lease_entry *out,
                         size_t max)
{
    size_t pl = strlen(prefix), k = 0;

    if (n % 2 != 0 || (n > 0 && items == NULL))
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        const mv_redis_item *name = &items[i], *val = &items[i + 1];
        size_t nl;

        if (name->type != MV_REDIS_ITEM_STR || val->type != MV_REDIS_ITEM_INT || val->i <= 0)
            return -1;
        if (name->len < pl + 9 || memcmp(name->s, prefix, pl) != 0 ||
            memcmp(name->s + pl, "lease:", 6) != 0 || strchr("dhb", name->s[pl + 6]) == NULL ||
            name->s[pl + 7] != ':' || k >= max)
            continue;
        nl = name->len - pl - 8;
        if (nl >= sizeof(out[k].name) || memchr(name->s + pl + 8, '\0', nl) != NULL)
            continue;
        out[k].kind = name->s[pl + 6];
        memcpy(out[k].name, name->s + pl + 8, nl);
        out[k].name[nl] = '\0';
        out[k].value = val->i;
        k++;
    }
    return (long)k;
}

typedef struct {
    mv_lease_list_fn cb;
    void *arg;
    char prefix[MV_REDIS_PREFIX_MAX + 1];
} list_req;

/* on_list - the list script's answer, parsed */
static void on_list(void *arg, mv_redis_status st, const mv_redis_item *items, size_t n)
{
    list_req *q = arg;
    mv_lease_entry *e = NULL;
    long k = 0;

    if (st == MV_REDIS_OK && n > 0 && (e = calloc(n / 2 + 1, sizeof(*e))) == NULL)
        st = MV_REDIS_ENOMEM;
    if (st == MV_REDIS_OK && (k = mv_lease_parse_list(items, n, q->prefix, e, n / 2 + 1)) < 0)
        st = MV_REDIS_PROTO;
    q->cb(q->arg, st, st == MV_REDIS_OK ? e : NULL, st == MV_REDIS_OK ? (size_t)k : 0);
    free(e);
    free(q);
}

/* mv_lease_list - the leases held and back-offs in force */
mv_redis_status mv_lease_list(mv_redis *rc, mv_lease_list_fn cb, void *arg)
{
    list_req *q = calloc(1, sizeof(*q));
    const char *args[1];
    size_t lens[1];
    mv_redis_status st;

    if (q == NULL)
        return MV_REDIS_ENOMEM;
    q->cb = cb;
    q->arg = arg;
    snprintf(q->prefix, sizeof(q->prefix), "%s", mv_redis_prefix(rc));
    args[0] = q->prefix;
    lens[0] = strlen(q->prefix);
    if ((st = mv_redis_eval(rc, list_lua, 0, 1, args, lens, on_list, q)) != MV_REDIS_OK)
        free(q);
    return st;
}

#endif /* MV_HAVE_HIREDIS */
