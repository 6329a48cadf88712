/*
 * config_lists.c - the configuration's string-list keys.
 *
 * lists.allow (domains, into the allow list), milter.trusted_networks
 * (CIDR blocks), smtp.tls_required_domains (normalized into a set), and
 * the plain lists of the fastcgi group (CORS origins, API keys, pass
 * fields), kept as written. Each is checked in phase 3 with the line of
 * its key; each is shown by config-test --print (API keys hidden, CORS
 * origins masked like any URL).
 */
#include "config_int.h"
#include "redact.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* apply_allow - lists.allow: each entry must be a domain */
static void apply_allow(loader *L, const config_setting_t *s)
{
    mv_config *c = L->cfg;
    int n = config_setting_length(s);

    if ((c->allow = calloc((size_t)n + 1, sizeof(char *))) == NULL) {
        mv_config_error(L, s, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *d = config_setting_get_string_elem(s, (unsigned)i);
        int rc = mv_lists_add(c->lists, MV_LIST_ALLOW, d, strlen(d));

        if (rc == -2)
            mv_config_error(L, s, "'lists.allow' entry \"%s\" is not a domain name", d);
        else if (rc < 0 || (c->allow[c->nallow++] = strdup(d)) == NULL)
            mv_config_error(L, s, "out of memory");
    }
}

/* parse_cidr - "10.0.0.0/8", "::1/128" or a bare address */
static bool parse_cidr(const char *text, struct cidr *c)
{
    char buf[64], *slash;
    unsigned long bits;
    char *end;

    if (strlen(text) >= sizeof(buf))
        return false;
    snprintf(buf, sizeof(buf), "%s", text);
    if ((slash = strchr(buf, '/')) != NULL)
        *slash++ = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, buf, c->addr) == 1)
        c->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, c->addr) == 1)
        c->family = AF_INET6;
    else
        return false;
    bits = c->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        unsigned long b = strtoul(slash, &end, 10);

        if (*slash == '\0' || *end != '\0' || b > bits)
            return false;
        bits = b;
    }
    c->bits = (unsigned)bits;
    return true;
}

/* apply_trusted - milter.trusted_networks: CIDR blocks */
static void apply_trusted(loader *L, const config_setting_t *s)
{
    mv_config *c = L->cfg;
    int n = config_setting_length(s);

    if ((c->trusted = calloc((size_t)n + 1, sizeof(*c->trusted))) == NULL ||
        (c->trusted_text = calloc((size_t)n + 1, sizeof(char *))) == NULL) {
        mv_config_error(L, s, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *t = config_setting_get_string_elem(s, (unsigned)i);

        if (!parse_cidr(t, &c->trusted[c->ntrusted]))
            mv_config_error(L, s, "'milter.trusted_networks' entry \"%s\" is not an address or "
                         "network (like \"192.0.2.0/24\" or \"2001:db8::/32\")", t);
        else if ((c->trusted_text[c->ntrusted++] = strdup(t)) == NULL)
            mv_config_error(L, s, "out of memory");
    }
}

static const char *const strlist_keys[] = {
    "fastcgi.cors_origins", "fastcgi.api_keys", "fastcgi.pass_fields",
};

/* apply_strlist - a plain list of strings, kept as written */
static void apply_strlist(loader *L, const config_setting_t *s, const char *path)
{
    mv_config *c = L->cfg;
    int n = config_setting_length(s);

    for (size_t i = 0; i < sizeof(strlist_keys) / sizeof(*strlist_keys); i++) {
        struct strlist *sl = &c->strlists[i];

        if (strcmp(strlist_keys[i], path) != 0)
            continue;
        for (size_t j = 0; j < sl->n; j++)
            free(sl->v[j]);
        free(sl->v);
        sl->n = 0;
        if ((sl->v = calloc((size_t)n + 1, sizeof(char *))) == NULL) {
            mv_config_error(L, s, "out of memory");
            return;
        }
        for (int j = 0; j < n; j++) {
            const char *v = config_setting_get_string_elem(s, (unsigned)j);

            if (*v == '\0' || strlen(v) > 1024)
                mv_config_error(L, s, "'%s' entry %d must be 1 to 1024 characters", path, j + 1);
            else if ((sl->v[sl->n++] = strdup(v)) == NULL)
                mv_config_error(L, s, "out of memory");
        }
    }
}

/* mv_config_strlist - a string-list key as written; count in *n */
const char *const *mv_config_strlist(const mv_config *cfg, const char *name, size_t *n)
{
    for (size_t i = 0; i < sizeof(strlist_keys) / sizeof(*strlist_keys); i++)
        if (strcmp(strlist_keys[i], name) == 0) {
            *n = cfg->strlists[i].n;
            return (const char *const *)cfg->strlists[i].v;
        }
    *n = 0;
    return NULL;
}

/* mv_config_trusted - is the address in milter.trusted_networks? */
bool mv_config_trusted(const mv_config *cfg, const struct sockaddr *sa)
{
    const unsigned char *a;
    int fam = sa->sa_family;

    if (fam == AF_INET)
        a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (fam == AF_INET6)
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    else
        return false;
    for (size_t i = 0; i < cfg->ntrusted; i++) {
        const struct cidr *c = &cfg->trusted[i];
        unsigned full = c->bits / 8, rest = c->bits % 8;

        if (c->family != fam || memcmp(a, c->addr, full) != 0)
            continue;
        if (rest == 0 || ((a[full] ^ c->addr[full]) & (0xFF << (8 - rest))) == 0)
            return true;
    }
    return false;
}

/* apply_tls_domains - smtp.tls_required_domains: normalized into a set */
static void apply_tls_domains(loader *L, const config_setting_t *s)
{
    mv_config *c = L->cfg;
    int n = config_setting_length(s);

    if ((c->tls_domains = calloc((size_t)n + 1, sizeof(char *))) == NULL) {
        mv_config_error(L, s, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *d = config_setting_get_string_elem(s, (unsigned)i);
        char norm[MV_DOMAIN_MAX + 1];

        if (!mv_config_norm_domain(d, norm))
            mv_config_error(L, s, "'smtp.tls_required_domains' entry \"%s\" is not a domain name", d);
        else if (mv_strset_add(c->tls_required, norm, strlen(norm)) < 0 ||
                 (c->tls_domains[c->ntls++] = strdup(d)) == NULL)
            mv_config_error(L, s, "out of memory");
    }
}


/* mv_config_strlist_apply - phase 3 for any string-list key */
void mv_config_strlist_apply(loader *L, const config_setting_t *s, const char *path)
{
    if (strcmp(path, "lists.allow") == 0)
        apply_allow(L, s);
    else if (strcmp(path, "milter.trusted_networks") == 0)
        apply_trusted(L, s);
    else if (strcmp(path, "smtp.tls_required_domains") == 0)
        apply_tls_domains(L, s);
    else
        apply_strlist(L, s, path);
}

/* mv_config_strlists_defaults - lists whose default is not empty */
void mv_config_strlists_defaults(mv_config *c)
{
    /* fastcgi.pass_fields defaults to [ "email" ] */
    if (c->strlists[2].n == 0 && (c->strlists[2].v = calloc(2, sizeof(char *))) != NULL &&
        (c->strlists[2].v[0] = strdup("email")) != NULL)
        c->strlists[2].n = 1;
}

/* free_list - an array of n strings */
static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* mv_config_strlists_free - release every string-list key */
void mv_config_strlists_free(mv_config *c)
{
    free_list(c->allow, c->nallow);
    free_list(c->tls_domains, c->ntls);
    mv_strset_free(c->tls_required);
    free_list(c->trusted_text, c->ntrusted);
    free(c->trusted);
    for (size_t i = 0; i < sizeof(strlist_keys) / sizeof(*strlist_keys); i++)
        free_list(c->strlists[i].v, c->strlists[i].n);
}

/* How a list's entries are shown. */
enum shown { SHOWN_PLAIN, SHOWN_HIDDEN, SHOWN_URL };

/* dump_list - "key = [ "a", "b" ]"; keys hidden, URLs masked (redact.h) */
static void dump_list(mv_buf *out, const char *name, char *const *v, size_t n, enum shown how)
{
    char masked[4 * 1024 + 16];

    mv_buf_printf(out, "%s = [", name);
    for (size_t i = 0; i < n; i++)
        mv_buf_printf(out, "%s\"%s\"", i ? ", " : " ",
                      how == SHOWN_HIDDEN ? MV_REDACT_HIDDEN :
                      how == SHOWN_URL ? mv_redact_url(v[i], masked, sizeof(masked)) : v[i]);
    mv_buf_puts(out, n ? " ]\n" : "]\n");
}

/* mv_config_strlists_dump - every string-list key for config-test --print */
void mv_config_strlists_dump(const mv_config *c, mv_buf *out)
{
    /* in strlist_keys' order: CORS origins are URLs, API keys secrets */
    static const enum shown how[] = {SHOWN_URL, SHOWN_HIDDEN, SHOWN_PLAIN};

    dump_list(out, "lists.allow", c->allow, c->nallow, SHOWN_PLAIN);
    dump_list(out, "milter.trusted_networks", c->trusted_text, c->ntrusted, SHOWN_PLAIN);
    for (size_t i = 0; i < sizeof(strlist_keys) / sizeof(*strlist_keys); i++)
        dump_list(out, strlist_keys[i], c->strlists[i].v, c->strlists[i].n, how[i]);
    dump_list(out, "smtp.tls_required_domains", c->tls_domains, c->ntls, SHOWN_PLAIN);
}
