/* SPDX-License-Identifier: MIT */
/*
 * cli_cache_redis.c - `mailverify cache stats|get|purge` when cache.store
 * is "redis": the same questions as for the LMDB file, asked of the
 * redis-server the daemons share.
 *
 * The Redis client (redis.h) is asynchronous on an engine loop, so this
 * makes a loop of its own, connects with the configuration's cache.redis_*
 * settings, sends the commands and turns the loop until every callback has
 * come -- each command ends by itself after the client's timeout, and
 * connecting is given a deadline, so nothing here waits forever. Redis
 * down, unreachable or refusing the password is exit 69, as for a store
 * that cannot be reached. stats counts the keys under the prefix by kind
 * with a SCAN of the db (one round trip per ~500 keys: fine for an admin,
 * not for a monitor polling every second). Not done here: "|next-hop"
 * variants of an address's keys on purge ADDRESS (they would need a SCAN
 * of the whole key space; purge DOMAIN removes them).
 */
#include "cli.h"
#include "address.h"
#include "outcome.h"
#include "json.h"
#include "lease.h"
#include "redis.h"
#include "store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define CLI_TIMEOUT_MIN_MS 1000 /* a person waits; the daemons' 100 ms is for mail flow */

#ifdef MV_HAVE_HIREDIS

typedef struct {
    mv_cache_class cls;
    int64_t probed_at;
    size_t vlen;
    unsigned char val[MV_CACHE_VAL_MAX];
} got_entry;

/* One run's state: the loop, the client and what the callbacks brought. */
typedef struct rctx {
    mv_loop *l;
    mv_redis *r;
    int pending;            /* callbacks still to come */
    mv_redis_status failed; /* the first failure, or MV_REDIS_OK */
    bool found[2];          /* get: smtp, dns */
    got_entry got[2];
    uint64_t removed;                /* purge: keys deleted */
    uint64_t counts[MV_REDIS_KINDS]; /* stats */
    bool sealed;                     /* cache.hash_keys: names are keyed hashes */
    mv_lease_entry *fleet;           /* stats: leases held, back-offs in force */
    size_t nfleet;
    struct slot {
        struct rctx *c;
        int i;
    } slot[2]; /* get: which mode a callback answers */
} rctx;

/* say - the client's state changes, on stderr; "connected" is not news here */
static void say(void *arg, int priority, const char *msg)
{
    (void)arg;
    if (priority <= LOG_WARNING)
        fprintf(stderr, "mailverify cache: redis: %s\n", msg);
}

/* note - one command's completion */
static void note(rctx *c, mv_redis_status st)
{
    c->pending--;
    if (st != MV_REDIS_OK && c->failed == MV_REDIS_OK)
        c->failed = st;
}

/* wait_all - turn the loop until every callback came; the client's
 * per-command timeout bounds this */
static void wait_all(rctx *c)
{
    while (c->pending > 0)
        mv_loop_run_once(c->l, 50);
}

/* open_client - a loop and a connected client; false with a message */
static bool open_client(rctx *c, const mv_settings *s)
{
    mv_redis_params p = mv_store_redis_params(s);
    uint64_t deadline;

    p.log = say;
    if (p.timeout_ms < CLI_TIMEOUT_MIN_MS)
        p.timeout_ms = CLI_TIMEOUT_MIN_MS;
    if ((c->l = mv_loop_new()) == NULL || (c->r = mv_redis_new(c->l, &p)) == NULL) {
        fputs("mailverify cache: cannot set up the Redis client\n", stderr);
        return false;
    }
    /* the client retries by itself; one failed attempt is the answer here */
    deadline = mv_loop_now() + 2u * p.timeout_ms;
    while (!mv_redis_up(c->r) && mv_redis_connecting(c->r) && mv_loop_now() < deadline)
        mv_loop_run_once(c->l, 20);
    if (mv_redis_up(c->r))
        return true;
    fprintf(stderr,
            "mailverify cache: Redis at %s cannot be reached (see above; "
            "cache.redis_server, cache.redis_password)\n",
            s->cache_redis_server);
    return false;
}

/* close_client - free the client (outstanding callbacks: cancelled) and the loop */
static void close_client(rctx *c)
{
    free(c->fleet);
    mv_redis_free(c->r);
    if (c->l != NULL)
        mv_loop_free(c->l);
}

/* failed - a command's failure as the exit status */
static int failed(const rctx *c, const char *what)
{
    fprintf(stderr, "mailverify cache: %s: Redis: %s\n", what, mv_redis_strstatus(c->failed));
    return EX_UNAVAILABLE;
}

/* on_get - keep a copy: the entry lives only during the callback */
static void on_get(void *arg, mv_redis_status st, const mv_redis_entry *e)
{
    struct slot *sl = arg;
    got_entry *g = &sl->c->got[sl->i];

    note(sl->c, st);
    if (e == NULL || e->vlen > sizeof(g->val))
        return;
    sl->c->found[sl->i] = true;
    g->cls = e->cls;
    g->probed_at = e->probed_at;
    g->vlen = e->vlen;
    memcpy(g->val, e->val, e->vlen);
}

/* do_get - both modes' verdicts for a mailbox, asked together */
static int do_get(rctx *c, const mv_settings *s, const char *mb)
{
    mv_cache_ttl ttl = cli_cache_ttl(s);
    int64_t now = time(NULL);

    for (int i = 0; i < 2; i++) {
        char key[MV_CACHE_KEY_MAX + 1];
        size_t kl = mv_outcome_key(key, sizeof(key), i == 0, mb, NULL);
        mv_redis_status st;

        c->slot[i] = (struct slot){c, i};
        if (kl == 0)
            continue;
        c->pending++;
        if ((st = mv_redis_get(c->r, key, kl, on_get, &c->slot[i])) != MV_REDIS_OK)
            note(c, st); /* refused at once: its callback will not come */
    }
    wait_all(c);
    if (c->failed != MV_REDIS_OK)
        return failed(c, mb);
    for (int i = 0; i < 2; i++) {
        const got_entry *g = &c->got[i];
        uint32_t rf = ttl.refresh[g->cls];

        /* the engine's rule (cache.c): a re-probe is due after the class's refresh time */
        if (c->found[i])
            cli_cache_print(mb, i == 0, g->cls, rf != 0 && now - g->probed_at >= (int64_t)rf, g->val,
                            g->vlen);
    }
    if (!c->found[0] && !c->found[1])
        printf("%s: not cached\n", mb);
    return c->found[0] || c->found[1] ? 0 : 1;
}

/* on_del - count what existed */
static void on_del(void *arg, mv_redis_status st, bool existed)
{
    rctx *c = arg;

    note(c, st);
    c->removed += st == MV_REDIS_OK && existed;
}

/* on_purge - the domain's verdicts removed */
static void on_purge(void *arg, mv_redis_status st, uint64_t deleted)
{
    rctx *c = arg;

    note(c, st);
    c->removed += deleted;
}

/* del_key - send one DEL, counted in pending */
static void del_key(rctx *c, const char *key, size_t klen)
{
    mv_redis_status st = mv_redis_del(c->r, key, klen, on_del, c);

    c->pending++;
    if (st != MV_REDIS_OK)
        note(c, st);
}

/* do_purge - an address's two keys, or a domain's verdicts and facts */
static int do_purge(rctx *c, const char *what)
{
    char key[MV_CACHE_KEY_MAX + 1];
    mv_redis_status st;
    int n;

    if (strchr(what, '@') == NULL && c->sealed) {
        fprintf(stderr, "mailverify cache: cache.hash_keys is on: keys are keyed hashes, so the entries of "
                        "a domain cannot be found; purge its addresses one by one, or let them expire\n");
        return EX_UNAVAILABLE;
    }
    if (strchr(what, '@') != NULL) {
        for (int i = 0; i < 2; i++) {
            size_t kl = mv_outcome_key(key, sizeof(key), i == 0, what, NULL);

            if (kl != 0)
                del_key(c, key, kl);
        }
    } else {
        n = snprintf(key, sizeof(key), "f:%s", what);
        if (n < 0 || (size_t)n >= sizeof(key))
            return fprintf(stderr, "mailverify cache: domain too long\n"), EX_USAGE;
        del_key(c, key, (size_t)n);
        c->pending++;
        if ((st = mv_redis_purge_domain(c->r, what, on_purge, c)) != MV_REDIS_OK)
            note(c, st);
    }
    wait_all(c);
    if (c->failed != MV_REDIS_OK) {
        fprintf(stderr, "mailverify cache: %s: %llu entries removed before the failure\n", what,
                (unsigned long long)c->removed);
        return failed(c, what);
    }
    printf("%s: %llu entr%s removed\n", what, (unsigned long long)c->removed, c->removed == 1 ? "y" : "ies");
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* on_count - the SCAN's tally */
static void on_count(void *arg, mv_redis_status st, const uint64_t *counts)
{
    rctx *c = arg;

    note(c, st);
    memcpy(c->counts, counts, sizeof(c->counts));
}

/* on_fleet - the leases and back-offs: keep a copy (they live during the call) */
static void on_fleet(void *arg, mv_redis_status st, const mv_lease_entry *e, size_t n)
{
    rctx *c = arg;

    note(c, st);
    if (st != MV_REDIS_OK || n == 0)
        return;
    if ((c->fleet = calloc(n, sizeof(*e))) == NULL) {
        if (c->failed == MV_REDIS_OK)
            c->failed = MV_REDIS_ENOMEM;
        return;
    }
    memcpy(c->fleet, e, n * sizeof(*e));
    c->nfleet = n;
}

/* fleet_text - "leases: ..." and "back-off: ..." lines (smtp.fleet) */
static void fleet_text(const rctx *c)
{
    size_t held = 0, offs = 0;

    for (size_t i = 0; i < c->nfleet; i++) {
        const mv_lease_entry *e = &c->fleet[i];

        if (e->kind == 'b')
            offs++;
        else if (e->kind == 'h')
            held += (size_t)e->value;
    }
    printf("fleet:     %zu leases held, %zu back-offs in force\n", held, offs);
    for (size_t i = 0; i < c->nfleet; i++) {
        const mv_lease_entry *e = &c->fleet[i];

        if (e->kind == 'b')
            printf("back-off:  %s for %lld s more\n", e->name, (long long)(e->value + 999) / 1000);
        else
            printf("leases:    %s %s: %lld\n", e->kind == 'h' ? "host" : "domain", e->name,
                   (long long)e->value);
    }
}

/* fleet_json - ,"leases":[...],"backoffs":[...] */
static void fleet_json(const rctx *c)
{
    char name[MV_JSON_ESCAPE_MAX(MV_LEASE_KEY_MAX) + 1];
    bool first = true;

    fputs(",\"leases\":[", stdout);
    for (size_t i = 0; i < c->nfleet; i++) {
        const mv_lease_entry *e = &c->fleet[i];

        if (e->kind == 'b')
            continue;
        name[mv_json_escape(name, e->name, strlen(e->name), 0)] = '\0';
        printf("%s{\"%s\":\"%s\",\"held\":%lld}", first ? "" : ",", e->kind == 'h' ? "host" : "domain", name,
               (long long)e->value);
        first = false;
    }
    fputs("],\"backoffs\":[", stdout);
    first = true;
    for (size_t i = 0; i < c->nfleet; i++) {
        const mv_lease_entry *e = &c->fleet[i];

        if (e->kind != 'b')
            continue;
        name[mv_json_escape(name, e->name, strlen(e->name), 0)] = '\0';
        printf("%s{\"host\":\"%s\",\"seconds_left\":%lld}", first ? "" : ",", name,
               (long long)(e->value + 999) / 1000);
        first = false;
    }
    fputs("]", stdout);
}

/* do_stats - the keys under the prefix, counted by kind (a SCAN of the db) */
static int do_stats(rctx *c, const mv_settings *s, bool json)
{
    char srv[MV_JSON_ESCAPE_MAX(1024) + 1], pfx[MV_JSON_ESCAPE_MAX(255) + 1];
    const uint64_t *n = c->counts;
    mv_redis_status st;

    c->pending++;
    if ((st = mv_redis_count(c->r, on_count, c)) != MV_REDIS_OK)
        note(c, st);
    c->pending++;
    if ((st = mv_lease_list(c->r, on_fleet, c)) != MV_REDIS_OK)
        note(c, st);
    wait_all(c);
    if (c->failed != MV_REDIS_OK)
        return failed(c, "stats");
    if (json) {
        srv[mv_json_escape(srv, s->cache_redis_server, strlen(s->cache_redis_server), 0)] = '\0';
        pfx[mv_json_escape(pfx, s->cache_redis_prefix, strlen(s->cache_redis_prefix), 0)] = '\0';
        printf("{\"store\":\"redis\",\"server\":\"%s\",\"db\":%d,\"prefix\":\"%s\","
               "\"reachable\":true,\"entries\":%llu,\"smtp\":%llu,\"dns\":%llu,"
               "\"domain_facts\":%llu,\"counters\":%llu,\"other\":%llu",
               srv, (int)s->cache_redis_db, pfx, (unsigned long long)(n[MV_REDIS_SMTP] + n[MV_REDIS_DNS]),
               (unsigned long long)n[MV_REDIS_SMTP], (unsigned long long)n[MV_REDIS_DNS],
               (unsigned long long)n[MV_REDIS_FACTS], (unsigned long long)n[MV_REDIS_COUNTERS],
               (unsigned long long)n[MV_REDIS_OTHER]);
        fleet_json(c);
        puts("}");
    } else {
        printf("store:     redis\nserver:    %s (reachable)\ndb:        %d\nprefix:    %s\n"
               "entries:   %llu verdicts (smtp %llu, dns %llu)\n"
               "facts:     %llu domains\ncounters:  %llu\n",
               s->cache_redis_server, (int)s->cache_redis_db, s->cache_redis_prefix,
               (unsigned long long)(n[MV_REDIS_SMTP] + n[MV_REDIS_DNS]), (unsigned long long)n[MV_REDIS_SMTP],
               (unsigned long long)n[MV_REDIS_DNS], (unsigned long long)n[MV_REDIS_FACTS],
               (unsigned long long)n[MV_REDIS_COUNTERS]);
        if (n[MV_REDIS_OTHER] > 0)
            printf("other:     %llu keys under the prefix that are not mailverify's\n",
                   (unsigned long long)n[MV_REDIS_OTHER]);
        fleet_text(c);
    }
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* lower - a domain as the keys hold it (ASCII case; IDNs in A-labels as given) */
static void lower(char *d)
{
    for (; *d; d++)
        *d = (char)tolower((unsigned char)*d);
}

/* cli_cache_redis - one subcommand against the configured redis-server */
int cli_cache_redis(const mv_settings *s, const char *sub, const char *arg, bool json)
{
    char what[MV_MAILBOX_MAX + 1];
    rctx c = {0};
    int rc;

    if (arg != NULL && (strchr(arg, '@') != NULL || strcmp(sub, "get") == 0)) {
        if (!cli_cache_mailbox(arg, what, sizeof(what)))
            return fprintf(stderr, "mailverify cache: not an address: %s\n", arg), EX_USAGE;
    } else if (arg != NULL) {
        if (strlen(arg) >= sizeof(what))
            return fprintf(stderr, "mailverify cache: domain too long\n"), EX_USAGE;
        strcpy(what, arg);
        lower(what);
    }
    c.sealed = s->cache_hash_keys;
    if (!open_client(&c, s)) {
        close_client(&c);
        return EX_UNAVAILABLE;
    }
    rc = strcmp(sub, "stats") == 0 ? do_stats(&c, s, json)
         : strcmp(sub, "get") == 0 ? do_get(&c, s, what)
                                   : do_purge(&c, what);
    close_client(&c);
    return rc;
}

#else /* !MV_HAVE_HIREDIS */

int cli_cache_redis(const mv_settings *s, const char *sub, const char *arg, bool json)
{
    (void)s, (void)sub, (void)arg, (void)json;
    fputs("mailverify cache: built without hiredis: no Redis support\n", stderr);
    return EX_UNAVAILABLE;
}

#endif
