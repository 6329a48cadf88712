/* SPDX-License-Identifier: MIT */
/*
 * config.c - the configuration loader: key table, three phases, sharing.
 *
 * Phase 1, syntax: libconfig parses the file; it stops at its first error,
 *   so there is at most one message from this phase, and nothing else can
 *   be checked without a tree.
 * Phase 2, structure: every setting is looked up in the key table (or the
 *   policy and canonical grammars); unknown keys (with a "did you mean"),
 *   wrong types and missing required keys are all reported.
 * Phase 3, meaning: values are checked against their bounds and meaning
 *   (an action name, "suggestion" never "block") and stored; then the list
 *   files are loaded, which reports unreadable files as errors and bad
 *   lines as warnings.
 * Every setting not in the file keeps its default from the key table; the
 * shipped etc/mailverify.conf spells the same defaults (a test checks that
 * loading it changes nothing).
 */
#include "config_int.h"
#include "builtin.h"
#include "redact.h"
#include "rules.h"
#include "slurp.h"

#include <errno.h>

#include <libconfig.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define OFF(f) offsetof(mv_settings, f)
#define GROUP(p) MV_GROUP_KEY(p)
#define BOOLK(p, f, d) MV_BOOL_KEY(p, mv_settings, f, d)
#define INTK(p, f, lo, hi, d) MV_INT_KEY(p, mv_settings, f, lo, hi, d)
#define STRK(p, f, lo, hi, d) MV_STR_KEY(p, mv_settings, f, lo, hi, d, 0)
#define CODEK(p, f, d, names) MV_CODE_KEY(p, mv_settings, f, d, names)
#define LISTK(p) {.path = p, .type = KT_STRLIST, .max = 255, .flags = KEY_ENGINE_LIST}
#define RULESK(p) {.path = p, .type = KT_RULES}
#define LISTFILE(name, f) STRK("lists." name, f, 1, 4096, "builtin")
#define CONTEXT(c, i, dmode, dms) \
    GROUP("context." c), \
    CODEK("context." c ".mode", context[i].mode, dmode, mode_names), \
    INTK("context." c ".deadline_ms", context[i].deadline_ms, 100, 600000, dms)
/* clang-format on */

/* The names of the enumerated keys and their codes (config.h). */
static const enum_name mode_names[] = {
    {"offline", MV_MODE_OFFLINE},
    {"dns", MV_MODE_DNS},
    {"smtp", MV_MODE_SMTP},
    {NULL, 0},
};
static const enum_name tls_names[] = {
    {"off", MV_SMTP_TLS_OFF},
    {"opportunistic", MV_SMTP_TLS_OPPORTUNISTIC},
    {"required", MV_SMTP_TLS_REQUIRED},
    {NULL, 0},
};
static const enum_name store_names[] = {
    {"memory", MV_STORE_MEMORY},
    {"lmdb", MV_STORE_LMDB},
    {"redis", MV_STORE_REDIS},
    {NULL, 0},
};

/* The loader stores a code through an int pointer: each coded field must
 * be int-sized (an enum of small codes is, with GCC and Clang). */
#define INT_SIZED(f) _Static_assert(sizeof(((mv_settings *)0)->f) == sizeof(int), #f " is not an int")
INT_SIZED(context[0].mode);
INT_SIZED(smtp_tls);
INT_SIZED(cache_store);

/* The key table: every key a config file may set, and its default. */
static const key keys[] = {
    GROUP("lists"),
    LISTFILE("disposable", lists_disposable),
    LISTFILE("disposable_wildcards", lists_disposable_wildcards),
    LISTFILE("free", lists_free),
    LISTFILE("role", lists_role),
    LISTFILE("providers", lists_providers),
    LISTFILE("tlds", lists_tlds),
    LISTK("lists.allow"),
    GROUP("typo"),
    BOOLK("typo.enabled", typo_enabled, "true"),
    GROUP("replies"),
    STRK("replies.table", replies_table, 0, 4096, "builtin"),
    RULESK("replies.rules"),
    RULESK("replies.profiles"),
    GROUP("dns"),
    STRK("dns.servers", dns_servers, 0, 1024, ""),
    INTK("dns.timeout_ms", dns_timeout_ms, 100, 60000, "2000"),
    INTK("dns.tries", dns_tries, 1, 10, "2"),
    INTK("dns.min_ttl", dns_min_ttl, 0, 86400, "60"),
    INTK("dns.max_ttl", dns_max_ttl, 1, 604800, "86400"),
    GROUP("smtp"),
    STRK("smtp.helo_name", smtp_helo_name, 0, 253, ""),
    STRK("smtp.mail_from", smtp_mail_from, 0, 254, ""),
    STRK("smtp.fallback_from", smtp_fallback_from, 0, 254, ""),
    INTK("smtp.port", smtp_port, 1, 65535, "25"),
    CODEK("smtp.tls", smtp_tls, "opportunistic", tls_names),
    LISTK("smtp.tls_required_domains"),
    INTK("smtp.connect_timeout_ms", smtp_connect_timeout_ms, 100, 120000, "5000"),
    INTK("smtp.reply_timeout_ms", smtp_reply_timeout_ms, 100, 300000, "10000"),
    BOOLK("smtp.catch_all_check", smtp_catch_all_check, "true"),
    BOOLK("smtp.allow_private_targets", smtp_allow_private_targets, "false"),
    INTK("smtp.max_rcpt_per_session", smtp_max_rcpt, 1, 32, "10"),
    INTK("smtp.domain_sessions", smtp_domain_sessions, 1, 64, "2"),
    INTK("smtp.host_sessions", smtp_host_sessions, 1, 64, "2"),
    INTK("smtp.host_rate", smtp_host_rate, 1, 1000, "5"),
    INTK("smtp.greylist_retry_s", smtp_greylist_retry_s, 1, 86400, "300"),
    INTK("smtp.greylist_budget_s", smtp_greylist_budget_s, 0, 86400, "1800"),
    INTK("smtp.backoff_s", smtp_backoff_s, 1, 86400, "900"),
    BOOLK("smtp.fleet", smtp_fleet, "false"),
    INTK("smtp.fleet_lease_s", smtp_fleet_lease_s, 5, 3600, "60"),
    GROUP("cache"),
    INTK("cache.max_entries", cache_max_entries, 0, 100000000, "100000"),
    INTK("cache.max_bytes", cache_max_bytes, 0, 68719476736LL, "67108864"),
    INTK("cache.domains", cache_domains, 0, 1000000, "1000"),
    INTK("cache.positive_expire_s", cache_positive_expire_s, 1, 31536000, "2678400"),
    INTK("cache.positive_refresh_s", cache_positive_refresh_s, 0, 31536000, "604800"),
    INTK("cache.negative_expire_s", cache_negative_expire_s, 1, 31536000, "259200"),
    INTK("cache.negative_refresh_s", cache_negative_refresh_s, 0, 31536000, "10800"),
    INTK("cache.temporary_expire_s", cache_temporary_expire_s, 1, 86400, "300"),
    CODEK("cache.store", cache_store, "memory", store_names),
    STRK("cache.lmdb_path", cache_lmdb_path, 1, 1024, "/var/lib/mailverify/cache.mdb"),
    INTK("cache.lmdb_size_mb", cache_lmdb_size_mb, 1, 1048576, "256"),
    MV_STR_KEY("cache.redis_server", mv_settings, cache_redis_server, 1, 1024, "127.0.0.1:6379", MV_KEY_URL),
    STRK("cache.redis_user", cache_redis_user, 0, 255, ""),
    MV_STR_KEY("cache.redis_password", mv_settings, cache_redis_password, 0, 1024, "", MV_KEY_SECRET),
    INTK("cache.redis_db", cache_redis_db, 0, 1000000, "0"),
    STRK("cache.redis_prefix", cache_redis_prefix, 0, 255, "mailverify:"),
    BOOLK("cache.redis_tls", cache_redis_tls, "false"),
    STRK("cache.redis_tls_ca_file", cache_redis_tls_ca_file, 0, 4096, ""),
    STRK("cache.redis_tls_cert_file", cache_redis_tls_cert_file, 0, 4096, ""),
    STRK("cache.redis_tls_key_file", cache_redis_tls_key_file, 0, 4096, ""),
    STRK("cache.redis_tls_server_name", cache_redis_tls_server_name, 0, 255, ""),
    INTK("cache.redis_timeout_ms", cache_redis_timeout_ms, 1, 60000, "100"),
    BOOLK("cache.hash_keys", cache_hash_keys, "false"),
    MV_STR_KEY("cache.hash_secret", mv_settings, cache_hash_secret, 0, 1024, "", MV_KEY_SECRET),
    GROUP("context"),
    CONTEXT("sender", MV_CTX_SENDER, "dns", "10000"),
    CONTEXT("recipient", MV_CTX_RECIPIENT, "smtp", "25000"),
    CONTEXT("form", MV_CTX_FORM, "smtp", "1500"),
    CONTEXT("bulk", MV_CTX_BULK, "smtp", "60000"),
    GROUP("webhook"),
    MV_STR_KEY("webhook.url", mv_settings, webhook_url, 0, 1024, "", MV_KEY_URL),
    MV_STR_KEY("webhook.secret", mv_settings, webhook_secret, 0, 1024, "", MV_KEY_SECRET),
    INTK("webhook.timeout_ms", webhook_timeout_ms, 100, 120000, "5000"),
    INTK("webhook.retries", webhook_retries, 0, 100, "8"),
    INTK("webhook.retry_base_ms", webhook_retry_base_ms, 10, 3600000, "1000"),
    INTK("webhook.max_queue", webhook_max_queue, 1, 1000000, "10000"),
    GROUP("policy"),
    RULESK("canonical"),
    RULESK("domains"),
};
#define NKEYS (sizeof(keys) / sizeof(*keys))


/* where - file and line of a setting, for messages */
void mv_config_where(const loader *L, const config_setting_t *s, const char **file, int *line)
{
    const char *f = s ? config_setting_source_file(s) : NULL;

    *file = f ? f : L->name;
    *line = s ? (int)config_setting_source_line(s) : 0;
}

/* mv_config_error - report an error at a setting */
void mv_config_error(loader *L, const config_setting_t *s, const char *fmt, ...)
{
    char msg[768];
    const char *file;
    int line;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mv_config_where(L, s, &file, &line);
    mv_diag_add(L->diag, MV_DIAG_ERROR, file, line, "%s", msg);
}

/* mv_config_type_name - libconfig type as an admin would say it */
const char *mv_config_type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP: return "a group { }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number with a fraction";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "true or false";
    case CONFIG_TYPE_ARRAY: return "an array [ ]";
    case CONFIG_TYPE_LIST: return "a list ( )";
    default: return "something else";
    }
}

/* mv_config_want_name - what a key type expects */
const char *mv_config_want_name(ktype t)
{
    switch (t) {
    case KT_GROUP: return "a group { }";
    case KT_BOOL: return "true or false";
    case KT_INT: return "an integer";
    case KT_STR:
    case KT_ENUM: return "a string";
    case KT_STRLIST:
    case KT_NETS: return "an array of strings [ \"...\" ]";
    case KT_RULES: return "a list of groups ( { ... } )";
    }
    return "?";
}

/* mv_config_type_ok - does the setting have the key's type? */
bool mv_config_type_ok(ktype t, const config_setting_t *s)
{
    int st = config_setting_type(s);

    switch (t) {
    case KT_GROUP: return st == CONFIG_TYPE_GROUP;
    case KT_BOOL: return st == CONFIG_TYPE_BOOL;
    case KT_INT: return st == CONFIG_TYPE_INT || st == CONFIG_TYPE_INT64;
    case KT_STR:
    case KT_ENUM: return st == CONFIG_TYPE_STRING;
    case KT_STRLIST:
    case KT_NETS:
        if (st != CONFIG_TYPE_ARRAY && st != CONFIG_TYPE_LIST)
            return false;
        for (int i = 0; i < config_setting_length(s); i++)
            if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
                return false;
        return true;
    case KT_RULES: return st == CONFIG_TYPE_LIST;
    }
    return false;
}

/* mv_config_find_key - a key of the table by full path */
const key *mv_config_find_key(const key *tab, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].path, path) == 0)
            return &tab[i];
    return NULL;
}

/* mv_config_did_you_mean - the closest known name, or NULL (two edits at most) */
const char *mv_config_did_you_mean(const char *name, const char *const *cands, size_t n)
{
    const char *best = NULL;
    unsigned bd = 3;

    for (size_t i = 0; i < n; i++) {
        unsigned d = mv_typo_distance(name, strlen(name), cands[i], strlen(cands[i]), 2);

        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    return best;
}

/* A key found in the engine's table or a front end's, with the struct
 * its value goes into. */
typedef struct {
    const key *k;
    void *base; /* &cfg->s, or a table's block */
} found;

/* lookup - a key by its full path in the engine's table, then the tables
 * the loader was given; false if none has it */
static bool lookup(loader *L, const char *path, found *f)
{
    f->base = &L->cfg->s;
    if ((f->k = mv_config_find_key(keys, NKEYS, path)) != NULL)
        return true;
    for (size_t i = 0; i < L->cfg->nblocks; i++) {
        const mv_config_table *t = L->cfg->blocks[i].t;

        f->base = L->cfg->blocks[i].p;
        if ((f->k = mv_config_find_key(t->keys, t->nkeys, path)) != NULL)
            return true;
    }
    return false;
}

/* add_names - the paths of a key table as candidates, up to max */
static size_t add_names(const char **cands, size_t n, size_t max, const key *tab, size_t count)
{
    for (size_t i = 0; i < count && n < max; i++)
        cands[n++] = tab[i].path;
    return n;
}

/* best_known - the known path closest to a mistyped one, or NULL */
static const char *best_known(const loader *L, const char *path)
{
    const char *cands[512];
    size_t n = add_names(cands, 0, sizeof(cands) / sizeof(*cands), keys, NKEYS);

    for (size_t i = 0; i < L->cfg->nblocks; i++)
        n = add_names(cands, n, sizeof(cands) / sizeof(*cands), L->cfg->blocks[i].t->keys,
                      L->cfg->blocks[i].t->nkeys);
    return mv_config_did_you_mean(path, cands, n);
}

/* unknown_key - report a key no table has */
static void unknown_key(loader *L, const config_setting_t *s, const char *path)
{
    const char *best = best_known(L, path);

    if (best != NULL)
        mv_config_error(L, s, "unknown key '%s' (did you mean '%s'?)", path, best);
    else
        mv_config_error(L, s, "unknown key '%s'", path);
}

/* others_group - a top-level group no table given claims, and not a typo
 * of one that is: another program's (mailverify.fcgi's "fastcgi" read by
 * mailverifyd). Skipped unless the loader has every program's tables. */
static bool others_group(const loader *L, const config_setting_t *s, const char *prefix)
{
    return *prefix == '\0' && !(L->flags & MV_CONFIG_ALL_TABLES) &&
           config_setting_type(s) == CONFIG_TYPE_GROUP && best_known(L, config_setting_name(s)) == NULL;
}

/* check_structure - phase 2 over one group */
static void check_structure(loader *L, const config_setting_t *g, const char *prefix)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        char path[512];
        found f;

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(s));
        if (!lookup(L, path, &f)) {
            if (!others_group(L, s, prefix))
                unknown_key(L, s, path);
            continue;
        }
        if (!mv_config_type_ok(f.k->type, s)) {
            mv_config_error(L, s, "'%s' must be %s, not %s", path, mv_config_want_name(f.k->type),
                            mv_config_type_name(config_setting_type(s)));
            continue;
        }
        if (f.k->type == KT_GROUP && strcmp(path, "policy") == 0)
            mv_config_policy_check(L, s);
        else if (f.k->type == KT_GROUP)
            check_structure(L, s, path);
        else if (f.k->type == KT_RULES && strcmp(path, "domains") == 0)
            mv_config_domains_check(L, s);
        else if (f.k->type == KT_RULES && strcmp(path, "canonical") == 0)
            mv_config_rules_check(L, s); /* replies.*: checked by rules.c */
    }
}


/* set_str - replace a string setting; false on ENOMEM */
static bool set_str(char **slot, const char *v)
{
    char *d = strdup(v);

    if (d == NULL)
        return false;
    free(*slot);
    *slot = d;
    return true;
}

/* enum_code - the code of a name in an enumerated key's table */
static bool enum_code(const enum_name *t, const char *name, int *code)
{
    for (; t->name != NULL; t++)
        if (strcmp(t->name, name) == 0) {
            *code = t->code;
            return true;
        }
    return false;
}

/* enum_name_of - the name of a code, for --print and messages */
static const char *enum_name_of(const enum_name *t, int code)
{
    for (; t->name != NULL; t++)
        if (t->code == code)
            return t->name;
    return "?";
}

/* set_default - one key's default into the struct (NULL: zero, "", empty) */
static bool set_default(void *base, const key *k)
{
    void *p = (char *)base + k->off;
    const char *def = k->def;

    if (k->flags & KEY_ENGINE_LIST)
        return true;
    switch (k->type) {
    case KT_BOOL: *(bool *)p = def != NULL && strcmp(def, "true") == 0; return true;
    case KT_INT: *(long long *)p = def != NULL ? strtoll(def, NULL, 10) : 0; return true;
    case KT_STR: return set_str((char **)p, def != NULL ? def : "");
    case KT_ENUM: return def != NULL && enum_code(k->names, def, (int *)p); /* a typo in a table */
    case KT_STRLIST: return def == NULL || mv_config_strlist_default((mv_strlist *)p, def);
    default: return true;
    }
}

/* in_choices - is v one of the "a|b|c" choices? */
static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);

    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);

        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c += len + (bar != NULL);
    }
    return false;
}

/* apply_enum - phase 3 for an enumerated key: the name becomes its code
 * here, once; a wrong name gets every valid one, and the closest when it
 * looks like a typo of it */
static void apply_enum(loader *L, const config_setting_t *s, const found *f, const char *path)
{
    const key *k = f->k;
    const char *v = config_setting_get_string(s), *cands[32], *best;
    char list[512];
    size_t n = 0, len = 0;

    if (enum_code(k->names, v, (int *)((char *)f->base + k->off)))
        return;
    list[0] = '\0';
    for (; k->names[n].name != NULL && n < sizeof(cands) / sizeof(*cands); n++) {
        cands[n] = k->names[n].name;
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", n ? ", " : "", cands[n]);
        if (len >= sizeof(list))
            len = sizeof(list) - 1; /* cut short; the tables are far smaller */
    }
    best = mv_config_did_you_mean(v, cands, n);
    mv_config_error(L, s, "'%s' is \"%s\"; it must be one of: %s%s%s%s", path, v, list,
                    best ? " (did you mean \"" : "", best ? best : "", best ? "\"?)" : "");
}

/* listen_ok - a numeric address and port a listener can bind */
static bool listen_ok(const char *v)
{
    struct sockaddr_storage ss;
    socklen_t len;

    return mv_config_parse_listen(v, &ss, &len);
}

/* apply_scalar - phase 3 for one table key with the right type */
static void apply_scalar(loader *L, const config_setting_t *s, const found *f, const char *path)
{
    const key *k = f->k;
    void *p = (char *)f->base + k->off;

    if (k->type == KT_BOOL) {
        *(bool *)p = config_setting_get_bool(s);
    } else if (k->type == KT_INT) {
        long long v = config_setting_get_int64(s);

        if (v < k->min || v > k->max)
            mv_config_error(L, s, "'%s' is %lld; it must be between %lld and %lld", path, v, k->min, k->max);
        else
            *(long long *)p = v;
    } else if (k->type == KT_STR) {
        const char *v = config_setting_get_string(s);
        size_t n = strlen(v);

        if (k->choices != NULL && !in_choices(k->choices, v))
            mv_config_error(L, s, "'%s' is \"%s\"; it must be one of: %s", path, v, k->choices);
        else if ((long long)n < k->min || (long long)n > k->max)
            mv_config_error(L, s, "'%s' must be %lld to %lld characters long", path, k->min, k->max);
        else if ((k->flags & MV_KEY_LISTEN) && n > 0 && !listen_ok(v))
            mv_config_error(L, s,
                            "%s: \"%s\" is not ADDRESS:PORT (\"127.0.0.1:9470\", \"[::1]:9470\"; a "
                            "numeric address, port 1-65535), or \"\" for off",
                            path, v);
        else if (!set_str((char **)p, v))
            mv_config_error(L, s, "out of memory");
    } else if (k->type == KT_ENUM) {
        apply_enum(L, s, f, path);
    } else if (k->type == KT_STRLIST) {
        mv_config_strlist_apply(L, s, path, (mv_strlist *)p);
    } else if (k->type == KT_NETS) {
        mv_config_nets_apply(L, s, path, (mv_nets *)p);
    }
}

/* mv_config_norm_domain - a config domain in normalized form, or false */
bool mv_config_norm_domain(const char *d, char *out)
{
    char buf[MV_INPUT_MAX + 3];
    size_t n = strlen(d);
    mv_address a;

    if (n > MV_INPUT_MAX)
        return false;
    buf[0] = 'x';
    buf[1] = '@';
    memcpy(buf + 2, d, n);
    if (mv_address_parse(buf, n + 2, 0, &a) != MV_SYN_OK || a.literal)
        return false;
    memcpy(out, a.domain, a.domain_len + 1);
    return true;
}

/* apply_values - phase 3 over one group */
static void apply_values(loader *L, const config_setting_t *g, const char *prefix)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        char path[512];
        const key *k;
        found f;

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(s));
        if (!lookup(L, path, &f) || !mv_config_type_ok(f.k->type, s))
            continue; /* reported (or skipped) in phase 2 */
        k = f.k;
        if (k->type == KT_GROUP && strcmp(path, "policy") == 0)
            mv_config_policy_apply(L, s);
        else if (k->type == KT_GROUP)
            apply_values(L, s, path);
        else if (k->type == KT_RULES && strncmp(path, "replies.", 8) == 0)
            continue; /* load_replies */
        else if (k->type == KT_RULES)
            for (int j = 0; j < config_setting_length(s); j++) {
                const config_setting_t *r = config_setting_get_elem(s, (unsigned)j);

                if (config_setting_type(r) != CONFIG_TYPE_GROUP)
                    continue;
                if (strcmp(path, "domains") == 0)
                    mv_config_domains_apply(L, r, j + 1);
                else
                    mv_config_rules_apply(L, r, j + 1);
            }
        else if (k->flags & KEY_ENGINE_LIST)
            mv_config_engine_list_apply(L, s, path);
        else
            apply_scalar(L, s, &f, path);
    }
}

/* add_blocks - a struct of defaults for each front end's table */
static bool add_blocks(mv_config *c, const mv_config_table *const *tables)
{
    for (size_t i = 0; tables != NULL && tables[i] != NULL; i++) {
        const mv_config_table *t = tables[i];
        struct block *b = &c->blocks[c->nblocks];

        if (c->nblocks == MV_CONFIG_MAX_TABLES || (b->p = calloc(1, t->size)) == NULL)
            return false;
        b->t = t;
        c->nblocks++;
        for (size_t k = 0; k < t->nkeys; k++)
            if (!set_default(b->p, &t->keys[k]))
                return false;
    }
    return true;
}

/* config_new - a config holding defaults; NULL on ENOMEM */
static mv_config *config_new(const char *source, const mv_config_table *const *tables)
{
    mv_config *c = calloc(1, sizeof(*c));
    bool ok;

    if (c == NULL)
        return NULL;
    atomic_init(&c->refs, 1);
    atomic_init(&c->rules_parsed, false);
    pthread_mutex_init(&c->rules_mu, NULL);
    ok = (c->source = strdup(source)) != NULL && (c->lists = mv_lists_new()) != NULL &&
         (c->typo = mv_typo_new()) != NULL && (c->canon = mv_canon_new()) != NULL &&
         (c->tls_required = mv_strset_new(16)) != NULL;
    for (size_t i = 0; ok && i < NKEYS; i++)
        if (keys[i].def != NULL)
            ok = set_default(&c->s, &keys[i]);
    ok = ok && add_blocks(c, tables);
    for (int x = 0; x < MV_CTX_COUNT; x++)
        mv_policy_defaults(&c->policy[x], (mv_context)x);
    if (!ok) {
        mv_config_unref(c);
        return NULL;
    }
    return c;
}

/* finish - phases 2 and 3 on a parsed tree */
static mv_config *finish(loader *L, config_t *lc)
{
    size_t before = L->diag->errors;

    if ((L->cfg = config_new(L->name, L->tables)) == NULL) {
        mv_diag_add(L->diag, MV_DIAG_ERROR, L->name, 0, "out of memory");
        return NULL;
    }
    check_structure(L, config_root_setting(lc), "");
    apply_values(L, config_root_setting(lc), "");
    if (config_lookup(lc, "canonical") == NULL)
        mv_config_rules_default(L);
    mv_config_check_meaning(L, lc);
    for (size_t i = 0; i < L->cfg->nblocks; i++) {
        struct mv_config_check ck = {L, lc};

        if (L->cfg->blocks[i].t->check != NULL)
            L->cfg->blocks[i].t->check(&ck, L->cfg->blocks[i].p);
    }
    if (!(L->flags & MV_CONFIG_SKIP_LISTS)) {
        mv_config_load_lists(L, lc);
        mv_config_load_replies(L, lc);
    }
    if (L->diag->errors > before || L->diag->oom) {
        mv_config_unref(L->cfg);
        return NULL;
    }
    return L->cfg;
}

/* syntax_error - phase 1 failed: libconfig's one message */
static void syntax_error(loader *L, config_t *lc)
{
    const char *f = config_error_file(lc);

    if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
        mv_diag_add(L->diag, MV_DIAG_ERROR, f ? f : L->name, 0, "cannot read: %s", config_error_text(lc));
    else
        mv_diag_add(L->diag, MV_DIAG_ERROR, f ? f : L->name, config_error_line(lc),
                    strstr(config_error_text(lc), "syntax error") ? "%s" : "syntax error: %s",
                    config_error_text(lc));
}

/* mv_config_check_error - a table's meaning error at a key */
void mv_config_check_error(struct mv_config_check *ck, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mv_config_error(ck->L, config_lookup(ck->lc, path), "%s", msg);
}

/* mv_config_load_text_with - from text, with front ends' tables */
mv_config *mv_config_load_text_with(const char *text, size_t len, const char *name, const char *basedir,
                                    const mv_config_table *const *tables, int flags, mv_diag *diag)
{
    loader L = {.name = name, .basedir = basedir, .flags = flags, .diag = diag, .tables = tables};
    config_t lc;
    char *copy;
    mv_config *cfg = NULL;

    /* libconfig wants a C string; the text may hold a NUL or lack one */
    if ((copy = malloc(len + 1)) == NULL) {
        mv_diag_add(diag, MV_DIAG_ERROR, name, 0, "out of memory");
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        mv_diag_add(diag, MV_DIAG_ERROR, name, 0, "the file contains a NUL byte");
        free(copy);
        return NULL;
    }
    config_init(&lc);
    if (basedir != NULL)
        config_set_include_dir(&lc, basedir);
    if (config_read_string(&lc, copy) != CONFIG_TRUE)
        syntax_error(&L, &lc);
    else
        cfg = finish(&L, &lc);
    config_destroy(&lc);
    free(copy);
    return cfg;
}

/* mv_config_load_text - the same from text; name is used in messages */
mv_config *mv_config_load_text(const char *text, size_t len, const char *name, const char *basedir, int flags,
                               mv_diag *diag)
{
    return mv_config_load_text_with(text, len, name, basedir, NULL, flags, diag);
}

/* mv_config_load - load a file (NULL: the built-in config); NULL on error */
mv_config *mv_config_load(const char *path, int flags, mv_diag *diag)
{
    return mv_config_load_with(path, NULL, flags, diag);
}

/* mv_config_load_with - a file with front ends' tables; NULL on error */
mv_config *mv_config_load_with(const char *path, const mv_config_table *const *tables, int flags,
                               mv_diag *diag)
{
    char dir[4096];
    const char *slash;
    char *text;
    size_t len;
    mv_config *cfg;

    /* the built-in config is the keys' defaults, which the shipped file
     * spells (test_config: test_shipped_file_equals_defaults): nothing to
     * parse but the canonical rules (mv_config_rules_default) */
    if (path == NULL)
        return mv_config_load_text_with("", 0, "(built-in)", NULL, tables, flags, diag);
    if ((text = mv_slurp(path, (size_t)16 << 20, &len)) == NULL) {
        mv_diag_add(diag, MV_DIAG_ERROR, path, 0, "cannot read: %s",
                    errno == EFBIG ? "larger than 16 MB" : strerror(errno));
        return NULL;
    }
    /* relative @include and list paths start next to the file */
    slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    cfg = mv_config_load_text_with(text, len, path, dir, tables, flags, diag);
    free(text);
    return cfg;
}

/* mv_config_ref - take a reference; returns cfg */
mv_config *mv_config_ref(mv_config *cfg)
{
    atomic_fetch_add(&cfg->refs, 1);
    return cfg;
}

/* free_values - what a table's strings and lists hold */
static void free_values(void *base, const key *tab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = (char *)base + tab[i].off;

        if (tab[i].flags & KEY_ENGINE_LIST)
            continue;
        if (tab[i].type == KT_STR)
            free(*(char **)p);
        else if (tab[i].type == KT_STRLIST)
            mv_config_strlist_free((mv_strlist *)p);
        else if (tab[i].type == KT_NETS)
            mv_config_nets_free((mv_nets *)p);
    }
}

/* mv_config_unref - drop a reference; frees on the last; NULL is fine */
void mv_config_unref(mv_config *cfg)
{
    if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
        return;
    free_values(&cfg->s, keys, NKEYS);
    for (size_t i = 0; i < cfg->nblocks; i++) {
        free_values(cfg->blocks[i].p, cfg->blocks[i].t->keys, cfg->blocks[i].t->nkeys);
        free(cfg->blocks[i].p);
    }
    mv_config_engine_lists_free(cfg);
    mv_config_domains_free(cfg);
    mv_lists_free(cfg->lists);
    mv_typo_free(cfg->typo);
    mv_canon_free(cfg->canon);
    mv_rules_free(cfg->rules_local);
    mv_rules_free(cfg->rules_table);
    pthread_mutex_destroy(&cfg->rules_mu);
    free(cfg->source);
    free(cfg);
}

const mv_settings *mv_config_settings(const mv_config *cfg)
{
    return &cfg->s;
}

/* mv_config_table_settings - a front end's struct, or NULL without its table */
const void *mv_config_table_settings(const mv_config *cfg, const mv_config_table *t)
{
    for (size_t i = 0; i < cfg->nblocks; i++)
        if (cfg->blocks[i].t == t)
            return cfg->blocks[i].p;
    return NULL;
}
/* mv_config_string - a string key of any table this config was loaded with */
const char *mv_config_string(const mv_config *cfg, const char *path)
{
    for (size_t i = 0; i < cfg->nblocks; i++) {
        const mv_config_table *t = cfg->blocks[i].t;

        for (size_t j = 0; j < t->nkeys; j++)
            if (t->keys[j].type == MV_KEY_STR && strcmp(t->keys[j].path, path) == 0)
                return *(char *const *)((const char *)cfg->blocks[i].p + t->keys[j].off);
    }
    return NULL;
}
const mv_lists *mv_config_lists(const mv_config *cfg)
{
    return cfg->lists;
}
const mv_typo *mv_config_typo(const mv_config *cfg)
{
    return cfg->typo;
}
const mv_canon *mv_config_canon(const mv_config *cfg)
{
    return cfg->canon;
}
const char *mv_config_source(const mv_config *cfg)
{
    return cfg->source;
}
const char *mv_store_type_name(mv_store_type t)
{
    return enum_name_of(store_names, (int)t);
}
const mv_strset *mv_config_tls_required(const mv_config *cfg)
{
    return cfg->tls_required;
}

/*
 * builtin_rules - the shipped reply table, parsed at its first use. It is
 * a third of a process's start (10 M instructions of 18 M for a cold CGI
 * request) and only a probe's replies need it: a syntax error, a list hit
 * or a cached verdict never do. The shipped table is checked by the tests,
 * so nothing is lost by not parsing it at load; should parsing fail (out
 * of memory), replies are read by their RFC 3463 codes alone, as with
 * replies.table = "". A config is shared by threads: the first caller
 * parses under the config's mutex, the others wait for it or read the
 * published pointer. The config is logically const; this is its cache.
 */
static const struct mv_rules *builtin_rules(const mv_config *cfg)
{
    mv_config *c = (mv_config *)cfg;
    mv_diag d = {0};

    if (atomic_load_explicit(&c->rules_parsed, memory_order_acquire))
        return c->rules_table;
    pthread_mutex_lock(&c->rules_mu);
    if (!atomic_load_explicit(&c->rules_parsed, memory_order_relaxed)) {
        c->rules_table = mv_rules_load_file("builtin", &d);
        mv_diag_clear(&d);
        atomic_store_explicit(&c->rules_parsed, true, memory_order_release);
    }
    pthread_mutex_unlock(&c->rules_mu);
    return c->rules_table;
}

/* mv_config_rules - the admin's reply rules and the table; either may be NULL */
void mv_config_rules(const mv_config *cfg, const struct mv_rules **local, const struct mv_rules **table)
{
    *local = cfg->rules_local;
    *table = cfg->rules_builtin ? builtin_rules(cfg) : cfg->rules_table;
}

const mv_policy *mv_config_policy(const mv_config *cfg, mv_context ctx)
{
    return &cfg->policy[(unsigned)ctx < MV_CTX_COUNT ? ctx : MV_CTX_FORM];
}

/* shown - how a key's value may be shown: a table marks its secrets and
 * URLs; a key named like a secret is hidden even if a table forgot */
static unsigned shown(const key *k)
{
    if (strstr(k->path, "secret") != NULL || strstr(k->path, "password") != NULL ||
        strstr(k->path, "passphrase") != NULL || strstr(k->path, "api_key") != NULL)
        return k->flags | MV_KEY_SECRET;
    return k->flags;
}

/* dump_key - one key's effective value, secrets masked */
static void dump_key(const void *base, const key *k, mv_buf *out)
{
    const void *p = (const char *)base + k->off;
    char masked[4 * 1024 + 16]; /* a masked value of up to 1024 bytes fits */
    unsigned how = shown(k);

    if (k->flags & KEY_ENGINE_LIST)
        return;
    if (k->type == KT_BOOL)
        mv_buf_printf(out, "%s = %s\n", k->path, *(const bool *)p ? "true" : "false");
    else if (k->type == KT_INT)
        mv_buf_printf(out, "%s = %lld\n", k->path, *(const long long *)p);
    else if (k->type == KT_STR && (how & MV_KEY_SECRET) && **(char *const *)p)
        mv_buf_printf(out, "%s = \"" MV_REDACT_HIDDEN "\"\n", k->path);
    else if (k->type == KT_STR && (how & MV_KEY_URL))
        mv_buf_printf(out, "%s = \"%s\"\n", k->path,
                      mv_redact_url(*(char *const *)p, masked, sizeof(masked)));
    else if (k->type == KT_STR)
        mv_buf_printf(out, "%s = \"%s\"\n", k->path, *(char *const *)p);
    else if (k->type == KT_ENUM)
        mv_buf_printf(out, "%s = \"%s\"\n", k->path, enum_name_of(k->names, *(const int *)p));
    else if (k->type == KT_STRLIST)
        mv_config_dump_list(out, k->path, ((const mv_strlist *)p)->v, ((const mv_strlist *)p)->n, how);
    else if (k->type == KT_NETS)
        mv_config_dump_list(out, k->path, ((const mv_nets *)p)->text, ((const mv_nets *)p)->n, how);
}

/* mv_config_dump - every effective setting, in libconfig syntax */
void mv_config_dump(const mv_config *cfg, mv_buf *out)
{
    const struct mv_rules *local, *table;

    for (size_t i = 0; i < NKEYS; i++)
        dump_key(&cfg->s, &keys[i], out);
    mv_config_engine_lists_dump(cfg, out);
    for (size_t b = 0; b < cfg->nblocks; b++)
        for (size_t i = 0; i < cfg->blocks[b].t->nkeys; i++)
            dump_key(cfg->blocks[b].p, &cfg->blocks[b].t->keys[i], out);
    for (int c = 0; c < MV_CTX_COUNT; c++) {
        const mv_policy *p = &cfg->policy[c];

        for (int r = 0; r < MV_R_COUNT; r++)
            mv_buf_printf(out, "policy.%s.%s = \"%s\"\n", mv_context_name((mv_context)c),
                          mv_reason_name((mv_reason)r), mv_action_name(p->reason[r]));
        mv_buf_printf(out, "policy.%s.free = \"%s\"\n", mv_context_name((mv_context)c),
                      mv_action_name(p->free_provider));
        mv_buf_printf(out, "policy.%s.suggestion = \"%s\"\n", mv_context_name((mv_context)c),
                      mv_action_name(p->suggestion));
    }
    mv_buf_printf(out, "canonical = %zu rules\n", mv_canon_count(cfg->canon));
    mv_buf_printf(out, "replies.rules = %zu rules, %zu profiles (local, consulted first)\n",
                  mv_rules_count(cfg->rules_local), mv_rules_profile_count(cfg->rules_local));
    mv_config_rules(cfg, &local, &table);
    mv_buf_printf(out, "replies.table = %zu rules, %zu profiles\n", mv_rules_count(table),
                  mv_rules_profile_count(table));
    for (size_t i = 0; i < cfg->ndomains; i++) {
        const mv_domain_rule *r = &cfg->domains[i].r;

        mv_buf_printf(out, "domains.%s =%s%s%s%s\n", r->match, r->accept ? " accept" : "",
                      r->skip_smtp ? " smtp=skip" : "", r->next_hop ? " next_hop=" : "",
                      r->next_hop ? r->next_hop : "");
    }
}
