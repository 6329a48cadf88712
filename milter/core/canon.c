/* SPDX-License-Identifier: MIT */
/*
 * canon.c - applying the canonical-form rules.
 *
 * Rules are few (a dozen providers), so finding one is a linear scan. A
 * quoted local part is left alone: quoting means the owner asked for
 * those exact characters. If folding would leave nothing ("+tag" alone),
 * the local part is kept as normalized.
 */
#include "canon.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **domains;
    size_t ndomains;
    char *domain;
    bool ignore_case, ignore_dots;
    char *tags;
} rule;

struct mv_canon {
    rule *r;
    size_t count;
};

/* dup - strdup that tolerates NULL */
static char *dup(const char *s, bool *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *oom = true;
    return d;
}

/* free_rule - release one rule's strings */
static void free_rule(rule *r)
{
    for (size_t i = 0; i < r->ndomains; i++)
        free(r->domains[i]);
    free(r->domains);
    free(r->domain);
    free(r->tags);
}

/* mv_canon_new - no rules; NULL on ENOMEM */
mv_canon *mv_canon_new(void)
{
    return calloc(1, sizeof(mv_canon));
}

/* mv_canon_free - release; NULL is fine */
void mv_canon_free(mv_canon *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++)
        free_rule(&c->r[i]);
    free(c->r);
    free(c);
}

/* mv_canon_count - number of rules */
size_t mv_canon_count(const mv_canon *c)
{
    return c ? c->count : 0;
}

/* mv_canon_add - copy a rule in; -1 ENOMEM */
int mv_canon_add(mv_canon *c, const mv_canon_rule *in)
{
    rule r = {0};
    bool oom = false;
    rule *n;

    if ((r.domains = calloc(in->ndomains ? in->ndomains : 1, sizeof(char *))) == NULL)
        return -1;
    for (size_t i = 0; i < in->ndomains; i++)
        r.domains[r.ndomains++] = dup(in->domains[i], &oom);
    r.domain = dup(in->domain, &oom);
    r.tags = dup(in->tag_separators, &oom);
    r.ignore_case = in->ignore_case;
    r.ignore_dots = in->ignore_dots;
    if (oom || (n = realloc(c->r, (c->count + 1) * sizeof(*n))) == NULL) {
        free_rule(&r);
        return -1;
    }
    c->r = n;
    c->r[c->count++] = r;
    return 0;
}

/* find - the rule for a domain, or NULL */
static const rule *find(const mv_canon *c, const char *d, size_t n)
{
    for (size_t i = 0; i < c->count; i++)
        for (size_t j = 0; j < c->r[i].ndomains; j++)
            if (strlen(c->r[i].domains[j]) == n && memcmp(c->r[i].domains[j], d, n) == 0)
                return &c->r[i];
    return NULL;
}

/* fold - the local part as the rule's provider sees it */
static size_t fold(const rule *r, const mv_address *a, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < a->local_len; i++) {
        char ch = a->local[i];

        if (r->tags != NULL && strchr(r->tags, ch) != NULL && ch != '\0')
            break;
        if (r->ignore_dots && ch == '.')
            continue;
        if (r->ignore_case && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        out[n++] = ch;
    }
    return n;
}

/* mv_canon_apply - canonical "local@domain" into out; its length, or 0 */
size_t mv_canon_apply(const mv_canon *c, const mv_address *a, char *out, size_t outsize)
{
    const rule *r = a->literal ? NULL : find(c, a->domain, a->domain_len);
    char local[MV_LOCAL_MAX + 1];
    size_t ln = 0, dn;
    const char *d = a->domain;

    if (a->kind != MV_ADDR_MAILBOX || a->error != MV_SYN_OK)
        return 0;
    if (r != NULL && !a->quoted)
        ln = fold(r, a, local);
    if (ln == 0) {
        memcpy(local, a->local, a->local_len);
        ln = a->local_len;
    }
    if (r != NULL && r->domain != NULL)
        d = r->domain;
    dn = strlen(d);
    if (ln + 1 + dn + 1 > outsize)
        return 0;
    memcpy(out, local, ln);
    out[ln] = '@';
    memcpy(out + ln + 1, d, dn + 1);
    return ln + 1 + dn;
}
