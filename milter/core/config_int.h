/*
 * config_int.h - the configuration loader's insides, shared by config.c
 * (key table, phases, lists, the public API), config_policy.c (the
 * policy groups) and config_rules.c (the canonical rules). Not for
 * anything outside the loader.
 */
#ifndef MV_CONFIG_INT_H
#define MV_CONFIG_INT_H

#include "config.h"

#include <libconfig.h>
#include <stdatomic.h>

struct mv_config {
    atomic_int refs;
    char *source;
    mv_settings s;
    mv_lists *lists;
    mv_typo *typo;
    mv_canon *canon;
    struct mv_rules *rules_local;   /* replies.rules and replies.profiles */
    struct mv_rules *rules_table;   /* replies.table */
    mv_policy policy[MV_CTX_COUNT];
    char **allow;               /* lists.allow as written, for the dump */
    size_t nallow;
    mv_strset *tls_required;    /* smtp.tls_required_domains, normalized */
    char **tls_domains;         /* ... as written, for the dump */
    size_t ntls;
    struct cidr {
        int family;
        unsigned char addr[16];
        unsigned bits;
    } *trusted;                 /* milter.trusted_networks */
    char **trusted_text;
    size_t ntrusted;
    struct strlist {
        const char *key;
        char **v;
        size_t n;
    } strlists[3];              /* cors_origins, api_keys, pass_fields */
    struct domain_rule {
        mv_domain_rule r;
        char *match, *next_hop;
    } *domains;                 /* the `domains` list */
    size_t ndomains;
};

typedef enum { KT_GROUP, KT_BOOL, KT_INT, KT_STR, KT_STRLIST, KT_RULES, KT_ENUM } ktype;

/* One name of an enumerated key and its code; a table ends with a NULL
 * name. The setting holds the code, an int-sized enum (config.c checks). */
typedef struct {
    const char *name;
    int code;
} enum_name;

typedef struct {
    const char *path;
    ktype type;
    size_t off;                 /* into mv_settings (scalars) */
    long long min, max;         /* ints: bounds; strings: length bounds */
    const char *def;            /* default, as text */
    const char *choices;        /* strings: "a|b|c", or NULL for any */
    const enum_name *names;     /* KT_ENUM: the names and their codes */
} key;

typedef struct {
    const char *name;           /* file name for messages */
    const char *basedir;        /* relative list paths start here */
    int flags;
    mv_diag *diag;
    mv_config *cfg;
} loader;

/* mv_config_error - report an error at a setting (file:line from libconfig) */
void mv_config_error(loader *L, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mv_config_type_name - a libconfig type as an admin would say it */
const char *mv_config_type_name(int t);

/* mv_config_want_name - what a key type expects */
const char *mv_config_want_name(ktype t);

/* mv_config_type_ok - does the setting have the key's type? */
bool mv_config_type_ok(ktype t, const config_setting_t *s);

/* mv_config_find_key - a key of a table by its path */
const key *mv_config_find_key(const key *tab, size_t n, const char *path);

/* mv_config_did_you_mean - the closest known name, or NULL (two edits at most) */
const char *mv_config_did_you_mean(const char *name, const char *const *cands, size_t n);

/* mv_config_norm_domain - a config domain in normalized form, or false */
bool mv_config_norm_domain(const char *d, char *out);

/* mv_config_policy_check - phase 2 for the policy group */
void mv_config_policy_check(loader *L, const config_setting_t *g);

/* mv_config_policy_apply - phase 3 for the policy group */
void mv_config_policy_apply(loader *L, const config_setting_t *g);

/* mv_config_rules_check - phase 2 for the canonical rules */
void mv_config_rules_check(loader *L, const config_setting_t *list);

/* mv_config_rules_apply - phase 3 for one canonical rule; false on an error */
bool mv_config_rules_apply(loader *L, const config_setting_t *r, int idx);

/* mv_config_rules_default - the shipped rules, for a file without any */
void mv_config_rules_default(loader *L);

/* mv_config_strlist_apply - phase 3 for any string-list key */
void mv_config_strlist_apply(loader *L, const config_setting_t *s, const char *path);

/* mv_config_strlists_defaults - lists whose default is not empty */
void mv_config_strlists_defaults(mv_config *c);

/* mv_config_strlists_free - release every string-list key */
void mv_config_strlists_free(mv_config *c);

/* mv_config_strlists_dump - every string-list key for config-test --print */
void mv_config_strlists_dump(const mv_config *c, mv_buf *out);

/* mv_config_domains_check - phase 2 for the `domains` list */
void mv_config_domains_check(loader *L, const config_setting_t *list);

/* mv_config_domains_apply - phase 3 for one `domains` entry */
void mv_config_domains_apply(loader *L, const config_setting_t *r, int idx);

/* mv_config_domains_free - release the `domains` list */
void mv_config_domains_free(mv_config *c);

#endif
