/* SPDX-License-Identifier: MIT */
/*
 * config_lists.c - the configuration's list keys.
 *
 * The engine's own lists go into its structures: lists.allow (domains,
 * into the allow list) and smtp.tls_required_domains (normalized into a
 * set). Front ends' tables hold two kinds of list in their own structs:
 * plain strings kept as written (mv_strlist: CORS origins, API keys, pass
 * fields) and addresses or CIDR blocks (mv_nets: trusted networks). Each
 * is checked in phase 3 with the line of its key, and shown by
 * config-test --print (secrets hidden, URLs masked, per the key's flags).
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
static bool parse_cidr(const char *text, struct mv_net *c)
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

/* mv_config_nets_apply - phase 3 for an address-or-network list */
void mv_config_nets_apply(loader *L, const config_setting_t *s, const char *path, mv_nets *nets)
{
    int n = config_setting_length(s);

    mv_config_nets_free(nets);
    if ((nets->net = calloc((size_t)n + 1, sizeof(*nets->net))) == NULL ||
        (nets->text = calloc((size_t)n + 1, sizeof(char *))) == NULL) {
        mv_config_error(L, s, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *t = config_setting_get_string_elem(s, (unsigned)i);

        if (!parse_cidr(t, &nets->net[nets->n]))
            mv_config_error(L, s,
                            "'%s' entry \"%s\" is not an address or network (like "
                            "\"192.0.2.0/24\" or \"2001:db8::/32\")",
                            path, t);
        else if ((nets->text[nets->n++] = strdup(t)) == NULL)
            mv_config_error(L, s, "out of memory");
    }
}

/* mv_config_nets_free - release an address-or-network list */
void mv_config_nets_free(mv_nets *nets)
{
    for (size_t i = 0; nets->text != NULL && i < nets->n; i++)
        free(nets->text[i]);
    free(nets->text);
    free(nets->net);
    memset(nets, 0, sizeof(*nets));
}

/* mv_config_strlist_free - release a stored string list */
void mv_config_strlist_free(mv_strlist *sl)
{
    for (size_t i = 0; sl->v != NULL && i < sl->n; i++)
        free(sl->v[i]);
    free(sl->v);
    sl->v = NULL;
    sl->n = 0;
}

/* mv_config_strlist_default - a list key's one-entry default */
bool mv_config_strlist_default(mv_strlist *sl, const char *def)
{
    if ((sl->v = calloc(2, sizeof(char *))) == NULL || (sl->v[0] = strdup(def)) == NULL)
        return false;
    sl->n = 1;
    return true;
}

/* mv_config_strlist_apply - a plain list of strings, kept as written;
 * the file's list replaces the default */
void mv_config_strlist_apply(loader *L, const config_setting_t *s, const char *path, mv_strlist *sl)
{
    int n = config_setting_length(s);

    mv_config_strlist_free(sl);
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

/* mv_nets_match - is the address in one of the networks? */
bool mv_nets_match(const mv_nets *nets, const struct sockaddr *sa)
{
    const unsigned char *a;
    int fam = sa->sa_family;

    if (fam == AF_INET)
        a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (fam == AF_INET6)
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    else
        return false;
    for (size_t i = 0; i < nets->n; i++) {
        const struct mv_net *c = &nets->net[i];
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


/* mv_config_engine_list_apply - phase 3 for the engine's own list keys */
void mv_config_engine_list_apply(loader *L, const config_setting_t *s, const char *path)
{
    if (strcmp(path, "lists.allow") == 0)
        apply_allow(L, s);
    else
        apply_tls_domains(L, s);
}

/* free_list - an array of n strings */
static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* mv_config_engine_lists_free - release the engine's own list keys */
void mv_config_engine_lists_free(mv_config *c)
{
    free_list(c->allow, c->nallow);
    free_list(c->tls_domains, c->ntls);
    mv_strset_free(c->tls_required);
}

/* mv_config_dump_list - "key = [ "a", "b" ]"; secrets hidden, URLs masked */
void mv_config_dump_list(mv_buf *out, const char *name, char *const *v, size_t n, unsigned flags)
{
    char masked[4 * 1024 + 16];

    mv_buf_printf(out, "%s = [", name);
    for (size_t i = 0; i < n; i++)
        mv_buf_printf(out, "%s\"%s\"", i ? ", " : " ",
                      flags & MV_KEY_SECRET ? MV_REDACT_HIDDEN
                      : flags & MV_KEY_URL  ? mv_redact_url(v[i], masked, sizeof(masked))
                                            : v[i]);
    mv_buf_puts(out, n ? " ]\n" : "]\n");
}

/* mv_config_engine_lists_dump - the engine's own list keys for --print */
void mv_config_engine_lists_dump(const mv_config *c, mv_buf *out)
{
    mv_config_dump_list(out, "lists.allow", c->allow, c->nallow, 0);
    mv_config_dump_list(out, "smtp.tls_required_domains", c->tls_domains, c->ntls, 0);
}
