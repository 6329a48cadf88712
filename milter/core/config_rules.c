/* SPDX-License-Identifier: MIT */
/*
 * config_rules.c - the canonical-form rules of the configuration.
 *
 * canonical = ( { domains = [...]; domain = "..."; ignore_case = true;
 * ignore_dots = true; tag_separators = "+"; }, ... ). Phase 2 checks each
 * rule's keys and types and that "domains" is there; phase 3 normalizes
 * the domains, bounds the strings and adds the rule. A file without
 * `canonical` gets the shipped rules, which live only in the built-in
 * mailverify.conf: one source for the defaults.
 */
#include "config_int.h"
#include "builtin.h"

#include <stdlib.h>
#include <string.h>

/* Keys of one canonical rule. */
static const key rule_keys[] = {
    {.path = "domains", .type = KT_STRLIST, .min = 1, .max = 255},
    {.path = "domain", .type = KT_STR, .min = 1, .max = 255},
    {.path = "ignore_case", .type = KT_BOOL, .max = 1, .def = "false"},
    {.path = "ignore_dots", .type = KT_BOOL, .max = 1, .def = "false"},
    {.path = "tag_separators", .type = KT_STR, .min = 1, .max = 8},
};
#define NRULEKEYS (sizeof(rule_keys) / sizeof(*rule_keys))

/* mv_config_rules_check - structure of the canonical rules */
void mv_config_rules_check(loader *L, const config_setting_t *list)
{
    const char *names[NRULEKEYS];

    for (size_t i = 0; i < NRULEKEYS; i++)
        names[i] = rule_keys[i].path;
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *r = config_setting_get_elem(list, (unsigned)i);

        if (config_setting_type(r) != CONFIG_TYPE_GROUP) {
            mv_config_error(L, r, "canonical rule %d must be a group { }, not %s", i + 1,
                            mv_config_type_name(config_setting_type(r)));
            continue;
        }
        if (config_setting_get_member(r, "domains") == NULL)
            mv_config_error(L, r, "canonical rule %d: required key 'domains' is missing", i + 1);
        for (int j = 0; j < config_setting_length(r); j++) {
            const config_setting_t *e = config_setting_get_elem(r, (unsigned)j);
            const key *k = mv_config_find_key(rule_keys, NRULEKEYS, config_setting_name(e));
            const char *best;

            if (k == NULL) {
                best = mv_config_did_you_mean(config_setting_name(e), names, NRULEKEYS);
                mv_config_error(L, e, "unknown key '%s' in canonical rule %d%s%s%s", config_setting_name(e),
                                i + 1, best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            } else if (!mv_config_type_ok(k->type, e)) {
                mv_config_error(L, e, "'%s' in canonical rule %d must be %s, not %s", k->path, i + 1,
                                mv_config_want_name(k->type), mv_config_type_name(config_setting_type(e)));
            }
        }
    }
}

/* rule_bool - a boolean member of a rule, false if absent */
static bool rule_bool(const config_setting_t *r, const char *name)
{
    const config_setting_t *e = config_setting_get_member(r, name);

    return e != NULL && config_setting_type(e) == CONFIG_TYPE_BOOL && config_setting_get_bool(e);
}

/* rule_str - a string member of a rule, NULL if absent */
static const char *rule_str(const config_setting_t *r, const char *name)
{
    const config_setting_t *e = config_setting_get_member(r, name);

    return e != NULL && config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
}

/* tags_ok - tag separators must be punctuation that atext allows */
static bool tags_ok(const char *t)
{
    for (; *t; t++)
        if (strchr("+-=_~!#$%&'*/?^`{|}", *t) == NULL)
            return false;
    return true;
}

/* rule_lengths_ok - string keys of a rule within the table's bounds */
static bool rule_lengths_ok(loader *L, const config_setting_t *r, int idx)
{
    bool ok = true;

    for (size_t i = 0; i < NRULEKEYS; i++) {
        const key *k = &rule_keys[i];
        const config_setting_t *e = config_setting_get_member(r, k->path);
        size_t n;

        if (k->type != KT_STR || e == NULL || config_setting_type(e) != CONFIG_TYPE_STRING)
            continue;
        n = strlen(config_setting_get_string(e));
        if ((long long)n < k->min || (long long)n > k->max) {
            mv_config_error(L, e, "canonical rule %d: '%s' must be %lld to %lld characters long", idx,
                            k->path, k->min, k->max);
            ok = false;
        }
    }
    return ok;
}

/* mv_config_rules_apply - one canonical rule; false if it had an error */
bool mv_config_rules_apply(loader *L, const config_setting_t *r, int idx)
{
    const config_setting_t *ds = config_setting_get_member(r, "domains");
    char(*doms)[MV_DOMAIN_MAX + 1];
    const char *ptrs[64], *tags = rule_str(r, "tag_separators"), *to = rule_str(r, "domain");
    char target[MV_DOMAIN_MAX + 1];
    int n = ds ? config_setting_length(ds) : 0;
    bool ok = true;
    mv_canon_rule rule = {0};

    if (ds == NULL || !mv_config_type_ok(KT_STRLIST, ds))
        return false; /* reported in phase 2 */
    if (n < 1 || n > 64) {
        mv_config_error(L, ds, "canonical rule %d: 'domains' must list 1 to 64 domains", idx);
        return false;
    }
    if ((doms = calloc((size_t)n, sizeof(*doms))) == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        const char *d = config_setting_get_string_elem(ds, (unsigned)i);

        if (!mv_config_norm_domain(d, doms[i])) {
            mv_config_error(L, ds, "canonical rule %d: \"%s\" is not a domain name", idx, d);
            ok = false;
        }
        ptrs[i] = doms[i];
    }
    if (to != NULL && !mv_config_norm_domain(to, target)) {
        mv_config_error(L, config_setting_get_member(r, "domain"),
                        "canonical rule %d: 'domain' \"%s\" is not a domain name", idx, to);
        ok = false;
    }
    if (!rule_lengths_ok(L, r, idx))
        ok = false;
    if (tags != NULL && !tags_ok(tags)) {
        mv_config_error(L, config_setting_get_member(r, "tag_separators"),
                        "canonical rule %d: 'tag_separators' may hold only characters like + - = _ ~", idx);
        ok = false;
    }
    rule = (mv_canon_rule){
        ptrs, (size_t)n, to ? target : NULL, rule_bool(r, "ignore_case"), rule_bool(r, "ignore_dots"), tags};
    if (ok && mv_canon_add(L->cfg->canon, &rule) < 0) {
        mv_config_error(L, r, "out of memory");
        ok = false;
    }
    free(doms);
    return ok;
}

/* mv_config_rules_default - a file without `canonical` gets the shipped rules:
 * the shipped mailverify.conf's list, embedded alone (builtin.S), so that
 * there is one source for them and a load does not parse the whole file */
void mv_config_rules_default(loader *L)
{
    mv_blob b = mv_builtin("canonical.conf");
    loader B = *L;
    config_t lc;
    const config_setting_t *s;

    config_init(&lc);
    B.name = "(built-in)";
    if (config_read_string(&lc, b.data) == CONFIG_TRUE && (s = config_lookup(&lc, "canonical")) != NULL &&
        mv_config_type_ok(KT_RULES, s))
        for (int j = 0; j < config_setting_length(s); j++)
            mv_config_rules_apply(&B, config_setting_get_elem(s, (unsigned)j), j + 1);
    config_destroy(&lc);
}
