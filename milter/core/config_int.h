/* SPDX-License-Identifier: MIT */
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
#include <pthread.h>
#include <stdatomic.h>

#define MV_CONFIG_MAX_TABLES 4 /* front-end tables one config holds */

struct mv_config {
    atomic_int refs;
    char *source;
    mv_settings s;
    mv_lists *lists;
    mv_typo *typo;
    mv_canon *canon;
    struct mv_rules *rules_local; /* replies.rules and replies.profiles */
    struct mv_rules *rules_table; /* replies.table */
    bool rules_builtin;           /* ... is the shipped one, parsed at first use */
    atomic_bool rules_parsed;     /* ... and it has been */
    pthread_mutex_t rules_mu;     /* the first use parses under it */
    mv_policy policy[MV_CTX_COUNT];
    char **allow; /* lists.allow as written, for the dump */
    size_t nallow;
    mv_strset *tls_required; /* smtp.tls_required_domains, normalized */
    char **tls_domains;      /* ... as written, for the dump */
    size_t ntls;
    struct domain_rule {
        mv_domain_rule r;
        char *match, *next_hop;
    } * domains; /* the `domains` list */
    size_t ndomains;
    struct block {
        const mv_config_table *t;
        void *p; /* the front end's struct, t->size bytes */
    } blocks[MV_CONFIG_MAX_TABLES];
    size_t nblocks;
};

/* One parsed entry of an mv_nets (MV_KEY_NETS). */
struct mv_net {
    int family;
    unsigned char addr[16];
    unsigned bits;
};

/* The loader's short names for the public key types (config.h). */
typedef mv_key_type ktype;
#define KT_GROUP MV_KEY_GROUP
#define KT_BOOL MV_KEY_BOOL
#define KT_INT MV_KEY_INT
#define KT_STR MV_KEY_STR
#define KT_STRLIST MV_KEY_STRLIST
#define KT_RULES MV_KEY_RULES
#define KT_ENUM MV_KEY_CODE
#define KT_NETS MV_KEY_NETS
typedef mv_key_name enum_name;
typedef mv_config_key key;

/* An engine list key whose entries go into the engine's own structures
 * (lists.allow, smtp.tls_required_domains), not into a stored mv_strlist */
#define KEY_ENGINE_LIST (1u << 8)

typedef struct {
    const char *name;    /* file name for messages */
    const char *basedir; /* relative list paths start here */
    int flags;
    mv_diag *diag;
    mv_config *cfg;
    const mv_config_table *const *tables; /* front ends' tables; NULL-ended */
} loader;

/* What a table's check callback reports through (config.h). */
struct mv_config_check {
    loader *L;
    config_t *lc;
};

/* mv_config_error - report an error at a setting (file:line from libconfig) */
void mv_config_error(loader *L, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mv_config_where - file and line of a setting (the file's name, line 0
 * when the setting is NULL) */
void mv_config_where(const loader *L, const config_setting_t *s, const char **file, int *line);

/* mv_config_check_meaning - phase 3: engine values that must agree with the
 * world or each other (config_meaning.c) */
void mv_config_check_meaning(loader *L, config_t *lc);

/* mv_config_load_lists - phase 3, last part: every list file (config_files.c) */
void mv_config_load_lists(loader *L, config_t *lc);

/* mv_config_load_replies - the admin's reply rules, then the table file */
void mv_config_load_replies(loader *L, config_t *lc);

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

/* mv_config_engine_list_apply - phase 3 for the engine's own list keys */
void mv_config_engine_list_apply(loader *L, const config_setting_t *s, const char *path);

/* mv_config_strlist_apply - phase 3 for a stored string list (MV_KEY_STRLIST) */
void mv_config_strlist_apply(loader *L, const config_setting_t *s, const char *path, mv_strlist *sl);

/* mv_config_strlist_default - a list key's one-entry default; false on ENOMEM */
bool mv_config_strlist_default(mv_strlist *sl, const char *def);

/* mv_config_strlist_free - release a stored string list */
void mv_config_strlist_free(mv_strlist *sl);

/* mv_config_nets_apply - phase 3 for an address-or-network list */
void mv_config_nets_apply(loader *L, const config_setting_t *s, const char *path, mv_nets *nets);

/* mv_config_nets_free - release an address-or-network list */
void mv_config_nets_free(mv_nets *nets);

/* mv_config_engine_lists_free - release the engine's own list keys */
void mv_config_engine_lists_free(mv_config *c);

/* mv_config_engine_lists_dump - the engine's own list keys for --print */
void mv_config_engine_lists_dump(const mv_config *c, mv_buf *out);

/* mv_config_dump_list - "key = [ ... ]", hidden or masked per the flags */
void mv_config_dump_list(mv_buf *out, const char *name, char *const *v, size_t n, unsigned flags);

/* mv_config_domains_check - phase 2 for the `domains` list */
void mv_config_domains_check(loader *L, const config_setting_t *list);

/* mv_config_domains_apply - phase 3 for one `domains` entry */
void mv_config_domains_apply(loader *L, const config_setting_t *r, int idx);

/* mv_config_domains_free - release the `domains` list */
void mv_config_domains_free(mv_config *c);

#endif
