/* SPDX-License-Identifier: MIT */
/*
 * config_domains.c - the `domains` list: per-recipient-domain overrides.
 *
 *   domains = (
 *     { match = "corp.example"; next_hop = "[10.0.0.5]:25"; },  # verify there, not at MX
 *     { match = ".hosted.example"; smtp = "skip"; },            # subdomains: never probe
 *     { match = "partner.example"; action = "accept"; }         # never verify
 *   );
 *
 * "example.com" matches that domain; ".example.com" matches its
 * subdomains (as in Postfix tables with parent_domain_matches_subdomains
 * off). An exact entry wins over a subdomain entry; among subdomain
 * entries, the longest. Phase 2 checks keys and types and that `match`
 * is there; phase 3 normalizes the domain and checks the next hop.
 */
#include "config_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const key domain_keys[] = {
    {.path = "match", .type = KT_STR, .min = 1, .max = 255},
    {.path = "next_hop", .type = KT_STR, .min = 1, .max = 300},
    {.path = "smtp", .type = KT_STR, .min = 1, .max = 8, .choices = "probe|skip"},
    {.path = "action", .type = KT_STR, .min = 1, .max = 8, .choices = "verify|accept"},
};
#define NDKEYS (sizeof(domain_keys) / sizeof(*domain_keys))

/* mv_config_domains_check - phase 2 for the `domains` list */
void mv_config_domains_check(loader *L, const config_setting_t *list)
{
    const char *names[NDKEYS];

    for (size_t i = 0; i < NDKEYS; i++)
        names[i] = domain_keys[i].path;
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *r = config_setting_get_elem(list, (unsigned)i);

        if (config_setting_type(r) != CONFIG_TYPE_GROUP) {
            mv_config_error(L, r, "domains entry %d must be a group { }, not %s", i + 1,
                            mv_config_type_name(config_setting_type(r)));
            continue;
        }
        if (config_setting_get_member(r, "match") == NULL)
            mv_config_error(L, r, "domains entry %d: required key 'match' is missing", i + 1);
        for (int j = 0; j < config_setting_length(r); j++) {
            const config_setting_t *e = config_setting_get_elem(r, (unsigned)j);
            const key *k = mv_config_find_key(domain_keys, NDKEYS, config_setting_name(e));
            const char *best;

            if (k == NULL) {
                best = mv_config_did_you_mean(config_setting_name(e), names, NDKEYS);
                mv_config_error(L, e, "unknown key '%s' in domains entry %d%s%s%s", config_setting_name(e),
                                i + 1, best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            } else if (!mv_config_type_ok(k->type, e)) {
                mv_config_error(L, e, "'%s' in domains entry %d must be %s, not %s", k->path, i + 1,
                                mv_config_want_name(k->type), mv_config_type_name(config_setting_type(e)));
            }
        }
    }
}

/* str_member - a string member, or NULL */
static const char *str_member(const config_setting_t *r, const char *name)
{
    const config_setting_t *e = config_setting_get_member(r, name);

    return e && config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
}

/* hop_ok - "[address]:port", "[address]", "host:port" or "host" */
static bool hop_ok(const char *hop)
{
    char host[300], norm[MV_DOMAIN_MAX + 1];
    unsigned char a[16];
    const char *port = NULL, *end;

    if (hop[0] == '[') {
        if ((end = strchr(hop, ']')) == NULL || (end[1] != '\0' && end[1] != ':'))
            return false;
        snprintf(host, sizeof(host), "%.*s", (int)(end - hop - 1), hop + 1);
        if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
            return false;
        port = end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strchr(hop, ':');

        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hop) : (int)strlen(hop), hop);
        if (!mv_config_norm_domain(host, norm))
            return false;
        port = colon ? colon + 1 : NULL;
    }
    return port == NULL ||
           (*port && strspn(port, "0123456789") == strlen(port) && atoi(port) >= 1 && atoi(port) <= 65535);
}

/* check_choice - a member that must be one of the key's choices */
static bool check_choice(loader *L, const config_setting_t *r, const char *name, int idx)
{
    const char *v = str_member(r, name);
    const key *k = mv_config_find_key(domain_keys, NDKEYS, name);
    size_t n;

    if (v == NULL)
        return true;
    n = strlen(v);
    for (const char *c = k->choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);

        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c += len + (bar != NULL);
    }
    mv_config_error(L, config_setting_get_member(r, name),
                    "domains entry %d: '%s' is \"%s\"; it must "
                    "be one of: %s",
                    idx, name, v, k->choices);
    return false;
}

/* add_rule - append a checked rule; false on ENOMEM */
static bool add_rule(mv_config *c, const char *match, const char *hop, bool skip, bool accept)
{
    struct domain_rule *n = realloc(c->domains, (c->ndomains + 1) * sizeof(*n));

    if (n == NULL)
        return false;
    c->domains = n;
    n = &c->domains[c->ndomains];
    memset(n, 0, sizeof(*n));
    if ((n->match = strdup(match)) == NULL || (hop && (n->next_hop = strdup(hop)) == NULL)) {
        free(n->match);
        return false;
    }
    n->r = (mv_domain_rule){n->match, n->next_hop, skip, accept};
    c->ndomains++;
    return true;
}

/* mv_config_domains_apply - phase 3 for one `domains` entry */
void mv_config_domains_apply(loader *L, const config_setting_t *r, int idx)
{
    const char *match = str_member(r, "match"), *hop = str_member(r, "next_hop");
    const char *smtp = str_member(r, "smtp"), *action = str_member(r, "action");
    char norm[MV_DOMAIN_MAX + 2];
    bool sub, ok = true;

    if (match == NULL)
        return; /* reported in phase 2 */
    sub = match[0] == '.';
    norm[0] = '.';
    if (!mv_config_norm_domain(match + sub, norm + 1)) {
        mv_config_error(L, config_setting_get_member(r, "match"),
                        "domains entry %d: \"%s\" is not a "
                        "domain (\"example.com\", or \".example.com\" for its subdomains)",
                        idx, match);
        ok = false;
    }
    if (hop != NULL && !hop_ok(hop)) {
        mv_config_error(L, config_setting_get_member(r, "next_hop"),
                        "domains entry %d: next_hop \"%s\" "
                        "must be [address]:port, [address], host:port or host",
                        idx, hop);
        ok = false;
    }
    ok = check_choice(L, r, "smtp", idx) && ok;
    ok = check_choice(L, r, "action", idx) && ok;
    if (ok && hop != NULL && action != NULL && strcmp(action, "accept") == 0) {
        mv_config_error(L, r,
                        "domains entry %d: action \"accept\" never verifies, so next_hop would "
                        "never be used",
                        idx);
        ok = false;
    }
    if (ok && !add_rule(L->cfg, sub ? norm : norm + 1, hop, smtp && strcmp(smtp, "skip") == 0,
                        action && strcmp(action, "accept") == 0))
        mv_config_error(L, r, "out of memory");
}

/* mv_config_domains_free - release the `domains` list */
void mv_config_domains_free(mv_config *c)
{
    for (size_t i = 0; i < c->ndomains; i++) {
        free(c->domains[i].match);
        free(c->domains[i].next_hop);
    }
    free(c->domains);
}

/* mv_config_domain_rule - the override for a normalized domain, or NULL */
const mv_domain_rule *mv_config_domain_rule(const mv_config *cfg, const char *domain)
{
    size_t dl = strlen(domain), best = 0;
    const mv_domain_rule *found = NULL;

    for (size_t i = 0; i < cfg->ndomains; i++) {
        const char *m = cfg->domains[i].match;
        size_t ml = strlen(m);

        if (m[0] != '.' && strcmp(m, domain) == 0)
            return &cfg->domains[i].r;
        if (m[0] == '.' && dl > ml && strcmp(domain + dl - ml, m) == 0 && ml > best) {
            best = ml;
            found = &cfg->domains[i].r;
        }
    }
    return found;
}
