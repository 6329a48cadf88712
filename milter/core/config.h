/* SPDX-License-Identifier: MIT */
/*
 * config.h - loading, checking and sharing the configuration.
 *
 * One function, mv_config_load(), is used by the daemon at start and on
 * reload, by the CLI, and by `mailverify config-test`, so that what the
 * test accepts is exactly what the daemon will run. It works in three
 * phases -- syntax (libconfig), structure (every key known, of the right
 * type, required keys present), meaning (ranges, actions, list files) --
 * and reports every problem as "file:line: message" before giving up.
 *
 * A loaded config is immutable and reference-counted: a reload builds a
 * new one and swaps it in; requests in flight keep the one they began
 * with until they drop their reference.
 */
#ifndef MV_CONFIG_H
#define MV_CONFIG_H

#include "buf.h"
#include "canon.h"
#include "diag.h"
#include "lists.h"
#include "policy.h"
#include "strset.h"
#include "typo.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The codes of the engine's enumerated keys: the loader turns each name
 * into its code once, so that nothing compares the names again at run
 * time (the names are in config.c's tables; config-test --print prints
 * them). */
typedef enum {
    MV_MODE_OFFLINE, /* syntax, lists, typo: no network */
    MV_MODE_DNS,     /* + MX lookup */
    MV_MODE_SMTP,    /* + SMTP RCPT probe */
    MV_MODE_CONTEXT, /* a request: whatever its context's config says */
} mv_mode;

typedef enum { MV_STORE_MEMORY, MV_STORE_LMDB, MV_STORE_REDIS } mv_store_type;
typedef enum { MV_SMTP_TLS_OFF, MV_SMTP_TLS_OPPORTUNISTIC, MV_SMTP_TLS_REQUIRED } mv_smtp_tls;

/* Plain settings, filled from the key table (config.c). */
typedef struct {
    mv_mode mode; /* offline, dns or smtp; never MV_MODE_CONTEXT */
    long long deadline_ms;
} mv_context_settings;

/* The engine's settings: the keys every program shares. A front end's
 * own keys (milter.*, fastcgi.*) are in a table it owns (below). */
typedef struct {
    char *lists_disposable;
    char *lists_disposable_wildcards;
    char *lists_free;
    char *lists_role;
    char *lists_providers;
    char *lists_tlds;
    char *replies_table;
    bool typo_enabled;
    char *dns_servers; /* "" : the system's resolver */
    long long dns_timeout_ms, dns_tries, dns_min_ttl, dns_max_ttl;
    char *smtp_helo_name; /* "" : this host's name */
    char *smtp_mail_from; /* "" : the null sender */
    char *smtp_fallback_from;
    long long smtp_port;
    mv_smtp_tls smtp_tls;
    long long smtp_connect_timeout_ms, smtp_reply_timeout_ms;
    bool smtp_catch_all_check, smtp_allow_private_targets;
    long long smtp_max_rcpt, smtp_domain_sessions, smtp_host_sessions, smtp_host_rate;
    long long smtp_greylist_retry_s, smtp_greylist_budget_s, smtp_backoff_s;
    bool smtp_fleet;              /* limits and back-offs shared through Redis */
    long long smtp_fleet_lease_s; /* a fleet lease's life, renewed while its session lives */
    long long cache_max_entries, cache_max_bytes, cache_domains;
    long long cache_positive_expire_s, cache_positive_refresh_s;
    long long cache_negative_expire_s, cache_negative_refresh_s;
    long long cache_temporary_expire_s;
    mv_store_type cache_store;
    char *cache_lmdb_path;
    long long cache_lmdb_size_mb; /* the map's size: the file's bound */
    char *cache_redis_server;     /* "host:port" or "unix:/path" */
    char *cache_redis_user, *cache_redis_password, *cache_redis_prefix;
    long long cache_redis_db, cache_redis_timeout_ms;
    bool cache_hash_keys; /* keys HMACed, values sealed in lmdb/redis (seal.h) */
    char *cache_hash_secret;
    bool cache_redis_tls;
    char *cache_redis_tls_ca_file, *cache_redis_tls_cert_file, *cache_redis_tls_key_file;
    char *cache_redis_tls_server_name;
    mv_context_settings context[MV_CTX_COUNT];
    /* the signed-webhook sender (webhook.h), a service of the core */
    char *webhook_url, *webhook_secret;
    long long webhook_timeout_ms, webhook_retries, webhook_retry_base_ms, webhook_max_queue;
} mv_settings;

/*
 * A front end's own settings. Like each Postfix daemon handing its
 * parameter table to its server skeleton, mailverifyd and mailverify.fcgi
 * each own a key table for their group ("milter", "fastcgi") and a struct
 * the loader fills from it; they pass the table to mv_config_load_with().
 * The engine knows only its own keys. A load checks the engine's keys and
 * every table it is given, and skips top-level groups no table claims
 * (another program's) unless told its tables are all there are
 * (MV_CONFIG_ALL_TABLES: config-test), when those are unknown keys too.
 */
typedef enum {
    MV_KEY_GROUP,   /* a group { }; its keys follow as "group.key" */
    MV_KEY_BOOL,    /* bool */
    MV_KEY_INT,     /* long long within [min, max] */
    MV_KEY_STR,     /* char *, length within [min, max] */
    MV_KEY_STRLIST, /* mv_strlist; def: a one-entry default */
    MV_KEY_RULES,   /* a list of groups, read by the engine itself */
    MV_KEY_CODE,    /* int-sized enum: one of names */
    MV_KEY_NETS,    /* mv_nets: addresses and CIDR blocks */
} mv_key_type;

enum {
    MV_KEY_SECRET = 1 << 0, /* config-test --print hides the value */
    MV_KEY_URL = 1 << 1,    /* ... masks a URL's userinfo and query (redact.h) */
    MV_KEY_LISTEN = 1 << 2, /* a string: "" or a numeric ADDRESS:PORT
                             * (mv_config_parse_listen) */
};

/* One name of an enumerated key and its code; a table ends with NULL. */
typedef struct {
    const char *name;
    int code;
} mv_key_name;

typedef struct {
    const char *path; /* "milter.socket" */
    mv_key_type type;
    size_t off;               /* into the table's struct (offsetof) */
    long long min, max;       /* ints: bounds; strings: length bounds */
    const char *def;          /* default, as text; NULL: zero, "" or empty */
    const char *choices;      /* strings: "a|b|c", or NULL for any */
    const mv_key_name *names; /* MV_KEY_CODE: the names and their codes */
    unsigned flags;           /* MV_KEY_SECRET, MV_KEY_URL */
} mv_config_key;

/* clang-format off */
#define MV_KEY_OFF(type, f) offsetof(type, f)
#define MV_GROUP_KEY(p) {.path = p, .type = MV_KEY_GROUP}
#define MV_BOOL_KEY(p, T, f, d) {.path = p, .type = MV_KEY_BOOL, .off = offsetof(T, f), .max = 1, .def = d}
#define MV_INT_KEY(p, T, f, lo, hi, d) \
    {.path = p, .type = MV_KEY_INT, .off = offsetof(T, f), .min = lo, .max = hi, .def = d}
#define MV_STR_KEY(p, T, f, lo, hi, d, fl) \
    {.path = p, .type = MV_KEY_STR, .off = offsetof(T, f), .min = lo, .max = hi, .def = d, .flags = fl}
#define MV_CODE_KEY(p, T, f, d, nm) \
    {.path = p, .type = MV_KEY_CODE, .off = offsetof(T, f), .def = d, .names = nm}
#define MV_LIST_KEY(p, T, f, d, fl) \
    {.path = p, .type = MV_KEY_STRLIST, .off = offsetof(T, f), .min = 1, .max = 1024, .def = d, .flags = fl}
#define MV_NETS_KEY(p, T, f) {.path = p, .type = MV_KEY_NETS, .off = offsetof(T, f)}
/* clang-format on */

/* A string-list value (MV_KEY_STRLIST), as written. */
typedef struct {
    char **v;
    size_t n;
} mv_strlist;

/* An address-or-network list value (MV_KEY_NETS). */
typedef struct {
    struct mv_net *net; /* parsed (config_lists.c) */
    char **text;        /* as written, for config-test --print */
    size_t n;
} mv_nets;

struct mv_config_check;

/* A front end's key table. */
typedef struct {
    const char *group;         /* the top-level group it owns: "milter" */
    const mv_config_key *keys; /* its GROUP key first, then "group.key"s */
    size_t nkeys;
    size_t size; /* sizeof the struct the keys point into */
    /* values that must agree with each other or the world; NULL: none.
     * Report with mv_config_check_error(); runs after every value is set. */
    void (*check)(struct mv_config_check *ck, const void *settings);
} mv_config_table;

/* mv_config_check_error - a meaning error at a key (file:line of the
 * setting when the file sets it, else of the file) */
void mv_config_check_error(struct mv_config_check *ck, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mv_config_parse_listen - "IPv4:PORT" or "[IPv6]:PORT" (numeric, port
 * 1-65535) as a socket address; false for anything else */
bool mv_config_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len);

/* mv_nets_match - is the address in one of the networks? */
bool mv_nets_match(const mv_nets *nets, const struct sockaddr *sa);

/* A per-domain override (the `domains` list): how to treat recipients. */
typedef struct {
    const char *match;    /* "example.com", or ".example.com" for subdomains too */
    const char *next_hop; /* verify against this server; NULL: MX */
    bool skip_smtp;       /* never probe: syntax + DNS + lists only */
    bool accept;          /* never verify: always accept */
} mv_domain_rule;

typedef struct mv_config mv_config;

enum {
    MV_CONFIG_SKIP_LISTS = 1 << 0, /* check keys only (fuzzing, tests) */
    MV_CONFIG_ALL_TABLES = 1 << 1, /* the tables given are every program's:
                                     * a group none claims is an unknown key */
};

/* mv_config_load - load a file (NULL: the built-in config) with the
 * engine's keys only; NULL on error */
mv_config *mv_config_load(const char *path, int flags, mv_diag *diag);

/* mv_config_load_with - the same, also checking and filling the front
 * ends' tables (a NULL-terminated array; NULL: none) */
mv_config *mv_config_load_with(const char *path, const mv_config_table *const *tables, int flags,
                               mv_diag *diag);

/* mv_config_load_text - the same from text; name is used in messages */
mv_config *mv_config_load_text(const char *text, size_t len, const char *name, const char *basedir, int flags,
                               mv_diag *diag);

/* mv_config_load_text_with - mv_config_load_text with front ends' tables */
mv_config *mv_config_load_text_with(const char *text, size_t len, const char *name, const char *basedir,
                                    const mv_config_table *const *tables, int flags, mv_diag *diag);

/* mv_config_table_settings - the struct a front end's table was loaded
 * into, or NULL if this config was loaded without that table */
const void *mv_config_table_settings(const mv_config *cfg, const mv_config_table *t);

/* mv_config_string - the value of a front end's string key by its path
 * ("milter.control_socket"), from whichever table this config was loaded
 * with that has it; NULL if none has (a program reading another's key
 * without linking its table: the CLI's `stats`) */
const char *mv_config_string(const mv_config *cfg, const char *path);

/* mv_config_ref - take a reference; returns cfg */
mv_config *mv_config_ref(mv_config *cfg);

/* mv_config_unref - drop a reference; frees on the last; NULL is fine */
void mv_config_unref(mv_config *cfg);

const mv_settings *mv_config_settings(const mv_config *cfg);
const mv_lists *mv_config_lists(const mv_config *cfg);
const mv_typo *mv_config_typo(const mv_config *cfg);
const mv_canon *mv_config_canon(const mv_config *cfg);
const mv_policy *mv_config_policy(const mv_config *cfg, mv_context ctx);

struct mv_rules;

/* mv_config_rules - the admin's reply rules (replies.rules, .profiles)
 * and the table (replies.table); either may be NULL */
void mv_config_rules(const mv_config *cfg, const struct mv_rules **local, const struct mv_rules **table);

/* mv_config_tls_required - domains that must be probed over TLS */
const mv_strset *mv_config_tls_required(const mv_config *cfg);

/* mv_config_domain_rule - the override for a normalized domain, or NULL */
const mv_domain_rule *mv_config_domain_rule(const mv_config *cfg, const char *domain);

/* mv_config_source - the file it came from, or "(built-in)" */
const char *mv_config_source(const mv_config *cfg);

/* mv_store_type_name - cache.store's name for a code ("memory" ...) */
const char *mv_store_type_name(mv_store_type t);

/* mv_config_dump - every effective setting, in libconfig syntax */
void mv_config_dump(const mv_config *cfg, mv_buf *out);

#endif
