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
#include <sys/socket.h>

/* The codes of the enumerated keys: the loader turns each name into its
 * code once, so that nothing compares the names again at run time (the
 * names are in config.c's tables; config-test --print prints them). */
typedef enum {
    MV_MODE_OFFLINE,            /* syntax, lists, typo: no network */
    MV_MODE_DNS,                /* + MX lookup */
    MV_MODE_SMTP,               /* + SMTP RCPT probe */
    MV_MODE_CONTEXT,            /* a request: whatever its context's config says */
} mv_mode;

typedef enum { MV_STORE_MEMORY, MV_STORE_LMDB, MV_STORE_REDIS } mv_store_type;
typedef enum { MV_SMTP_TLS_OFF, MV_SMTP_TLS_OPPORTUNISTIC, MV_SMTP_TLS_REQUIRED } mv_smtp_tls;
typedef enum { MV_REVIEW_QUARANTINE, MV_REVIEW_HEADER } mv_review_mode;
typedef enum { MV_ON_BLOCK_PAGE, MV_ON_BLOCK_REDIRECT } mv_on_block;
typedef enum { MV_SERVE_MILTER, MV_SERVE_POLICY, MV_SERVE_BOTH } mv_serve;
typedef enum { MV_POLICY_DEFER_IF_PERMIT, MV_POLICY_DEFER } mv_policy_tempfail;

/* Plain settings, filled from the key table (config.c). */
typedef struct {
    mv_mode mode;               /* offline, dns or smtp; never MV_MODE_CONTEXT */
    long long deadline_ms;
} mv_context_settings;

typedef struct {
    char *lists_disposable;
    char *lists_disposable_wildcards;
    char *lists_free;
    char *lists_role;
    char *lists_providers;
    char *lists_tlds;
    char *replies_table;
    bool typo_enabled;
    char *dns_servers;          /* "" : the system's resolver */
    long long dns_timeout_ms, dns_tries, dns_min_ttl, dns_max_ttl;
    char *smtp_helo_name;       /* "" : this host's name */
    char *smtp_mail_from;       /* "" : the null sender */
    char *smtp_fallback_from;
    long long smtp_port;
    mv_smtp_tls smtp_tls;
    long long smtp_connect_timeout_ms, smtp_reply_timeout_ms;
    bool smtp_catch_all_check, smtp_allow_private_targets;
    long long smtp_max_rcpt, smtp_domain_sessions, smtp_host_sessions, smtp_host_rate;
    long long smtp_greylist_retry_s, smtp_greylist_budget_s, smtp_backoff_s;
    long long cache_max_entries, cache_max_bytes, cache_domains;
    long long cache_positive_expire_s, cache_positive_refresh_s;
    long long cache_negative_expire_s, cache_negative_refresh_s;
    long long cache_temporary_expire_s;
    mv_store_type cache_store;
    char *cache_lmdb_path;
    long long cache_lmdb_size_mb;       /* the map's size: the file's bound */
    char *cache_redis_server;   /* "host:port" or "unix:/path" */
    char *cache_redis_user, *cache_redis_password, *cache_redis_prefix;
    long long cache_redis_db, cache_redis_timeout_ms;
    bool cache_redis_tls;
    char *cache_redis_tls_ca_file, *cache_redis_tls_cert_file, *cache_redis_tls_key_file;
    char *cache_redis_tls_server_name;
    mv_context_settings context[MV_CTX_COUNT];
    /* mailverifyd */
    char *milter_socket, *milter_socket_mode, *milter_socket_group;
    char *milter_user, *milter_group, *milter_pidfile, *milter_control_socket;
    char *milter_header;
    mv_review_mode milter_review;
    int milter_syslog_facility;         /* LOG_MAIL, LOG_LOCAL0 ... (syslog.h) */
    bool milter_dry_run, milter_skip_authenticated, milter_skip_null_sender;
    bool milter_check_senders, milter_check_recipients, milter_log_stderr;
    long long milter_dha_limit, milter_dha_window_s;
    long long milter_ipv6_prefix;       /* IPv6 clients share a budget per prefix */
    /* mailverifyd's Postfix policy listener (check_policy_service) */
    mv_serve milter_policy_serve;       /* milter.serve: milter, policy or both */
    char *milter_policy_socket;
    mv_policy_tempfail milter_policy_tempfail;  /* DEFER_IF_PERMIT or DEFER */
    long long milter_policy_idle_timeout_s;
    long long milter_policy_max_line, milter_policy_max_attributes, milter_policy_max_request;
    /* mailverify.fcgi */
    char *fcgi_socket;
    long long fcgi_threads, fcgi_max_body, fcgi_ip_rate, fcgi_ip_burst;
    long long fcgi_ipv6_prefix;         /* IPv6 clients share a bucket per prefix */
    bool fcgi_require_api_key;
    long long fcgi_key_rate, fcgi_key_burst;
    long long fcgi_pass_timeout_ms;     /* pass-through: the handler's time to answer */
    long long fcgi_read_timeout_ms;     /* reading a request's params and body */
    char *fcgi_mount;           /* the endpoints' URL prefix ("": /verify at the root) */
    char *fcgi_rate_state;      /* CGI mode: the shared token buckets ("" = none) */
    char *fcgi_pass_through, *fcgi_block_page, *fcgi_block_redirect;
    mv_on_block fcgi_on_block;
    char *fcgi_warn_field;
    /* webhooks */
    char *webhook_url, *webhook_secret;
    long long webhook_timeout_ms, webhook_retries, webhook_retry_base_ms, webhook_max_queue;
} mv_settings;

/* A per-domain override (the `domains` list): how to treat recipients. */
typedef struct {
    const char *match;          /* "example.com", or ".example.com" for subdomains too */
    const char *next_hop;       /* verify against this server; NULL: MX */
    bool skip_smtp;             /* never probe: syntax + DNS + lists only */
    bool accept;                /* never verify: always accept */
} mv_domain_rule;

typedef struct mv_config mv_config;

enum {
    MV_CONFIG_SKIP_LISTS = 1 << 0,  /* check keys only (fuzzing, tests) */
};

/* mv_config_load - load a file (NULL: the built-in config); NULL on error */
mv_config *mv_config_load(const char *path, int flags, mv_diag *diag);

/* mv_config_load_text - the same from text; name is used in messages */
mv_config *mv_config_load_text(const char *text, size_t len, const char *name,
                               const char *basedir, int flags, mv_diag *diag);

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
void mv_config_rules(const mv_config *cfg, const struct mv_rules **local,
                     const struct mv_rules **table);

/* mv_config_tls_required - domains that must be probed over TLS */
const mv_strset *mv_config_tls_required(const mv_config *cfg);

/* mv_config_domain_rule - the override for a normalized domain, or NULL */
const mv_domain_rule *mv_config_domain_rule(const mv_config *cfg, const char *domain);

/* mv_config_strlist - a string-list key as written (fastcgi.cors_origins,
 * fastcgi.api_keys, fastcgi.pass_fields); count in *n */
const char *const *mv_config_strlist(const mv_config *cfg, const char *name, size_t *n);

/* mv_config_trusted - is the address in milter.trusted_networks? */
bool mv_config_trusted(const mv_config *cfg, const struct sockaddr *sa);

/* mv_config_source - the file it came from, or "(built-in)" */
const char *mv_config_source(const mv_config *cfg);

/* mv_store_type_name - cache.store's name for a code ("memory" ...) */
const char *mv_store_type_name(mv_store_type t);

/* mv_config_dump - every effective setting, in libconfig syntax */
void mv_config_dump(const mv_config *cfg, mv_buf *out);

#endif
