/* SPDX-License-Identifier: MIT */
/*
 * cli_cache.c - `mailverify cache stats|get|purge`: look into and clean
 * the shared verdict cache (cache.store "lmdb" here, "redis" in
 * cli_cache_redis.c).
 *
 * Opens the store the configuration names, as the daemon does, and reads
 * or deletes in it while mailverifyd, the FastCGI workers and bulk runs
 * go on using it. The memory store lives inside each process: there is
 * nothing to reach from outside, and the command says so (exit 69).
 * The command never creates a cache file: one made by root here would
 * not be writable by the daemon's user later.
 */
#include "cli.h"
#include "address.h"
#include "outcome.h"
#include "store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char cache_usage[] =
    "Usage: mailverify cache stats [--json] [--config FILE]\n"
    "       mailverify cache get ADDRESS [--config FILE]\n"
    "       mailverify cache purge ADDRESS|DOMAIN [--config FILE]\n"
    "\n"
    "Look into the verdict cache that mailverifyd, mailverify.fcgi and\n"
    "mailverify bulk share (cache.store = \"lmdb\" or \"redis\"), while they use it.\n"
    "\n"
    "  stats            entries, size and bound of the cache file\n"
    "  get ADDRESS      the cached verdicts for ADDRESS (smtp and dns mode), with\n"
    "                   their class and whether a re-probe is due\n"
    "  purge ADDRESS    forget ADDRESS (every mode and next hop)\n"
    "  purge DOMAIN     forget every address of DOMAIN, and its domain facts\n"
    "\n"
    "With cache.store = \"redis\" it asks cache.redis_server. There, purge\n"
    "ADDRESS removes the smtp and dns entries but not next-hop variants (purge\n"
    "DOMAIN does), and stats counts the keys under cache.redis_prefix by kind\n"
    "with a SCAN of the database (one round trip per ~500 keys).\n"
    "\n"
    "With cache.hash_keys = true (lmdb and redis) the store holds keyed hashes\n"
    "of addresses, not addresses, and sealed values: get and purge ADDRESS\n"
    "work (the same secret makes the same names), purge DOMAIN cannot (the\n"
    "names do not say their domain; it exits 69), and purge ADDRESS leaves\n"
    "next-hop variants to expire.\n"
    "\n"
    "With cache.store = \"memory\" the cache lives inside each process and\n"
    "there is nothing to inspect from outside ('mailverify stats' shows\n"
    "mailverifyd's cache hits; a restart empties it).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    the configuration (default: the built-in one)\n"
    "  -j, --json           stats as one JSON object\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 done (get: found); 1 get: not cached; 64 usage;\n"
    "69 the store cannot be reached (memory store, no cache file, Redis down,\n"
    "refusing the password or not answering in time); 78 config errors.\n";

/* open_store - the configured shared store; NULL with a message */
static mv_store *open_store(const mv_settings *s)
{
    char err[300];
    mv_store *st;

    if (s->cache_store == MV_STORE_MEMORY) {
        fputs("mailverify cache: cache.store is \"memory\": the cache lives inside each process "
              "(mailverifyd, mailverify.fcgi, bulk runs); there is nothing to inspect from "
              "outside. Set cache.store = \"lmdb\" to share one cache.\n",
              stderr);
        return NULL;
    }
    if (s->cache_store == MV_STORE_LMDB && access(s->cache_lmdb_path, F_OK) != 0) {
        fprintf(stderr,
                "mailverify cache: no cache file at %s (nothing cached yet, or "
                "cache.lmdb_path differs from the daemon's)\n",
                s->cache_lmdb_path);
        return NULL;
    }
    if ((st = mv_store_open(s, err, sizeof(err))) == NULL)
        fprintf(stderr, "mailverify cache: %s\n", err[0] ? err : "no cache configured");
    return st;
}

/* do_stats - the store's sizes */
static int do_stats(mv_store *st, const mv_settings *s, bool json)
{
    mv_store_stats ss;

    mv_store_get_stats(st, &ss);
    if (json)
        printf("{\"store\":\"%s\",\"path\":\"%s\",\"entries\":%zu,\"bytes\":%zu,"
               "\"map_size\":%" PRIu64 ",\"stale_readers_cleared\":%" PRIu64 "}\n",
               ss.kind, s->cache_lmdb_path, ss.c.entries, ss.c.bytes, ss.map_size, ss.stale_readers);
    else
        printf("store:     %s\npath:      %s\nentries:   %zu\nfile used: %zu bytes (%.1f%% of "
               "cache.lmdb_size_mb)\nmap size:  %" PRIu64 " bytes\n",
               ss.kind, s->cache_lmdb_path, ss.c.entries, ss.c.bytes,
               ss.map_size ? 100.0 * (double)ss.c.bytes / (double)ss.map_size : 0.0, ss.map_size);
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* cli_cache_ttl - the cache's times from the settings, as the engine uses them */
mv_cache_ttl cli_cache_ttl(const mv_settings *s)
{
    mv_cache_ttl t = {{0}, {0}};

    t.expire[MV_CACHE_POSITIVE] = (uint32_t)s->cache_positive_expire_s;
    t.refresh[MV_CACHE_POSITIVE] = (uint32_t)s->cache_positive_refresh_s;
    t.expire[MV_CACHE_NEGATIVE] = (uint32_t)s->cache_negative_expire_s;
    t.refresh[MV_CACHE_NEGATIVE] = (uint32_t)s->cache_negative_refresh_s;
    t.expire[MV_CACHE_TEMPORARY] = (uint32_t)s->cache_temporary_expire_s;
    return t;
}

/* cli_cache_print - one cached outcome, decoded (LMDB and Redis alike) */
void cli_cache_print(const char *mailbox, bool smtp, mv_cache_class cls, bool stale, const void *val,
                     size_t vl)
{
    static const char *const classes[] = {"positive", "negative", "temporary"};
    mv_net_outcome o;

    if (!mv_outcome_unpack(val, vl, &o)) {
        printf("%s (%s): damaged entry\n", mailbox, smtp ? "smtp" : "dns");
        return;
    }
    printf("%s (mode %s): %s/%s, class %s%s\n", mailbox, smtp ? "smtp" : "dns",
           mv_status_name(mv_reason_status(o.reason)), mv_reason_name(o.reason), classes[cls],
           stale ? ", re-probe due" : "");
    if (o.smtp.code)
        printf("  smtp: %d %d.%d.%d %s\n", o.smtp.code, o.smtp.enh[0], o.smtp.enh[1], o.smtp.enh[2],
               o.smtp.text);
    if (o.mx[0])
        printf("  mx: %s%s%s\n", o.mx, o.host[0] ? " " : "", o.host);
    if (o.catch_all >= 0)
        printf("  catch-all: %s\n", o.catch_all ? "yes" : "no");
    if (o.detail[0])
        printf("  detail: %s\n", o.detail);
}

/* show - one cached outcome, or nothing; true if there was one */
static bool show(mv_store *st, const mv_cache_ttl *ttl, bool smtp, const char *mailbox)
{
    unsigned char val[MV_CACHE_VAL_MAX];
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = mv_outcome_key(key, sizeof(key), smtp, mailbox, NULL), vl = 0;
    mv_cache_class cls;
    mv_cache_result r;

    if (kl == 0)
        return false;
    r = mv_store_get(st, key, kl, time(NULL), ttl, val, sizeof(val), &vl, &cls);
    if (r == MV_CACHE_MISS)
        return false;
    cli_cache_print(mailbox, smtp, cls, r == MV_CACHE_STALE, val, vl);
    return true;
}

/* cli_cache_mailbox - the address as the engine keys it (domain in
 * A-labels, lower case); false if it is not an address */
bool cli_cache_mailbox(const char *in, char *out, size_t size)
{
    mv_address a;

    if (mv_address_parse(in, strlen(in), 0, &a) != MV_SYN_OK)
        return false;
    mv_address_format(&a, out, size);
    return true;
}

/* do_get - both modes' verdicts for an address */
static int do_get(mv_store *st, const mv_settings *s, const char *addr)
{
    char mb[MV_MAILBOX_MAX + 1];
    mv_cache_ttl ttl = cli_cache_ttl(s);
    bool found;

    if (!cli_cache_mailbox(addr, mb, sizeof(mb))) {
        fprintf(stderr, "mailverify cache: not an address: %s\n", addr);
        return EX_USAGE;
    }
    found = show(st, &ttl, true, mb);
    found |= show(st, &ttl, false, mb);
    if (!found)
        printf("%s: not cached\n", mb);
    return found ? 0 : 1;
}

/* do_purge - an address's or a domain's entries */
static int do_purge(mv_store *st, const mv_settings *s, const char *what)
{
    char mb[MV_MAILBOX_MAX + 1];
    long long n;

    if (strchr(what, '@') == NULL && s->cache_hash_keys && s->cache_store != MV_STORE_MEMORY) {
        fprintf(stderr, "mailverify cache: cache.hash_keys is on: keys are keyed hashes, so the entries of "
                        "a domain cannot be found; purge its addresses one by one, or let them expire\n");
        return EX_UNAVAILABLE;
    }

    if (strchr(what, '@') != NULL) {
        if (!cli_cache_mailbox(what, mb, sizeof(mb))) {
            fprintf(stderr, "mailverify cache: not an address: %s\n", what);
            return EX_USAGE;
        }
        what = mb;
    }
    if ((n = mv_store_purge(st, what)) < 0) {
        fprintf(stderr, "mailverify cache: purge %s failed\n", what);
        return EX_UNAVAILABLE;
    }
    printf("%s: %lld entr%s removed\n", what, n, n == 1 ? "y" : "ies");
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* run - one subcommand on the configured store */
static int run(const char *sub, const char *arg, const char *config, bool json)
{
    mv_config *cfg;
    mv_store *st;
    int rc;

    if ((cfg = cli_load_config(config, true)) == NULL)
        return EX_CONFIG;
    if (mv_config_settings(cfg)->cache_store == MV_STORE_REDIS) {
        rc = cli_cache_redis(mv_config_settings(cfg), sub, arg, json);
        mv_config_unref(cfg);
        return rc;
    }
    if ((st = open_store(mv_config_settings(cfg))) == NULL) {
        mv_config_unref(cfg);
        return EX_UNAVAILABLE;
    }
    rc = strcmp(sub, "stats") == 0 ? do_stats(st, mv_config_settings(cfg), json)
         : strcmp(sub, "get") == 0 ? do_get(st, mv_config_settings(cfg), arg)
                                   : do_purge(st, mv_config_settings(cfg), arg);
    mv_store_free(st);
    mv_config_unref(cfg);
    return rc;
}

int cli_cache(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *sub;
    bool json = false;
    int c, nargs;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'j': json = true; break;
        case 'h': fputs(cache_usage, stdout); return 0;
        default: fputs("Try 'mailverify cache --help'.\n", stderr); return EX_USAGE;
        }
    }
    sub = optind < argc ? argv[optind] : "";
    nargs = argc - optind - 1;
    if (!((strcmp(sub, "stats") == 0 && nargs == 0) ||
          ((strcmp(sub, "get") == 0 || strcmp(sub, "purge") == 0) && nargs == 1))) {
        fputs("mailverify cache: expected stats, get ADDRESS or purge ADDRESS|DOMAIN\n"
              "Try 'mailverify cache --help'.\n",
              stderr);
        return EX_USAGE;
    }
    return run(sub, nargs == 1 ? argv[optind + 1] : NULL, config, json);
}
