/* SPDX-License-Identifier: MIT */
/*
 * lists.c - loading and asking the signal lists.
 *
 * Lookups are hash-set probes on normalized strings: the engine asks with
 * the parser's output, which is already lowercase and in A-label form.
 * Domain checks that cover subdomains (wildcards, allow) walk the parent
 * domains label by label: "a.b.example.com" asks for itself, then
 * "b.example.com", "example.com" and "com" -- at most 128 probes for a
 * 255-byte name, usually three or four.
 */
#include "lists.h"
#include "address.h"
#include "slurp.h"
#include "strset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_FILTER_BITS (1u << 14) /* 2 kB; 1,000 roles set about 6% */

/*
 * Every local part is asked about, and nearly none is a role. The role
 * filter has one bit per (length, first byte, last byte) of the roles
 * listed, so most local parts are answered from their two ends, without
 * lowercasing and hashing the whole of them.
 */
struct mv_lists {
    mv_strset *set[MV_LIST_COUNT];
    uint64_t role_filter[ROLE_FILTER_BITS / 64];
};

/* mv_lists_new - empty lists; NULL on ENOMEM */
mv_lists *mv_lists_new(void)
{
    mv_lists *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    for (int k = 0; k < MV_LIST_COUNT; k++) {
        if ((l->set[k] = mv_strset_new(k == MV_LIST_DISPOSABLE ? 131072 : 64)) == NULL) {
            mv_lists_free(l);
            return NULL;
        }
    }
    return l;
}

/* mv_lists_free - release; NULL is fine */
void mv_lists_free(mv_lists *l)
{
    if (l == NULL)
        return;
    for (int k = 0; k < MV_LIST_COUNT; k++)
        mv_strset_free(l->set[k]);
    free(l);
}

/* mv_next_line - next non-comment, trimmed line of text; false at the end */
bool mv_next_line(const char **p, const char *end, const char **line, size_t *len, int *lineno)
{
    while (*p < end) {
        const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
        const char *hash;

        if (e == NULL)
            e = end;
        *p = e < end ? e + 1 : end;
        (*lineno)++;
        if ((hash = memchr(s, '#', (size_t)(e - s))) != NULL)
            e = hash;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (s < e) {
            *line = s;
            *len = (size_t)(e - s);
            return true;
        }
    }
    return false;
}

/* norm_domain - a list entry as the parser would normalize it */
static int norm_domain(const char *s, size_t n, char *out, size_t *outlen)
{
    char buf[MV_INPUT_MAX + 3];
    mv_address a;

    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2; /* "*.example.com" means the same as "example.com" here */
        n -= 2;
    }
    if (n > MV_INPUT_MAX)
        return -2;
    buf[0] = 'x';
    buf[1] = '@';
    memcpy(buf + 2, s, n);
    if (mv_address_parse(buf, n + 2, 0, &a) != MV_SYN_OK || a.literal)
        return -2;
    memcpy(out, a.domain, a.domain_len);
    *outlen = a.domain_len;
    return 0;
}

/* norm_local - a role entry: lowercase, dot-atom characters only */
static int norm_local(const char *s, size_t n, char *out, size_t *outlen)
{
    if (n == 0 || n > MV_LOCAL_MAX)
        return -2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c > 0x7E || strchr("()<>[]:;@\\,\"", c) != NULL)
            return -2;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    *outlen = n;
    return 0;
}

/* lower - ASCII lowercase of one byte */
static unsigned char lower(char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* role_bit - the filter bit of a lowercase role of n bytes with these ends */
static uint32_t role_bit(size_t n, unsigned char first, unsigned char last)
{
    uint32_t x = (uint32_t)n << 16 | (uint32_t)first << 8 | last;

    return (x * 0x9E3779B1u) >> 18; /* the top 14 bits of the product */
}

/* role_mark - set the role filter bit of one normalized role */
static void role_mark(mv_lists *l, const char *r, size_t n)
{
    uint32_t bit = role_bit(n, lower(r[0]), lower(r[n - 1]));

    l->role_filter[bit / 64] |= 1ULL << (bit % 64);
}

/* role_mark_each - mv_strset_each callback: role_mark every entry */
static int role_mark_each(const char *key, size_t len, void *arg)
{
    if (len > 0)
        role_mark(arg, key, len);
    return 0;
}

/* mv_lists_use_image - make an empty list a read-only view of an image;
 * 0, -1 ENOMEM, -2 not an image or the list is not empty */
int mv_lists_use_image(mv_lists *l, mv_list_kind kind, const void *image, size_t len)
{
    mv_strset *v;

    if (mv_strset_count(l->set[kind]) != 0)
        return -2;
    if ((v = mv_strset_view(image, len)) == NULL)
        return errno == ENOMEM ? -1 : -2;
    mv_strset_free(l->set[kind]);
    l->set[kind] = v;
    /* the filter is not in the image: 1,000 roles take microseconds */
    if (kind == MV_LIST_ROLE)
        mv_strset_each(v, role_mark_each, l);
    return 0;
}

/* mv_lists_write_image - write one list as an image; 0, or -1 (errno) */
int mv_lists_write_image(const mv_lists *l, mv_list_kind kind, FILE *out)
{
    return mv_strset_image_write(l->set[kind], out);
}

/* mv_lists_set - one list's set of normalized entries, for tests */
const mv_strset *mv_lists_set(const mv_lists *l, mv_list_kind kind)
{
    return l->set[kind];
}

/* mv_lists_add - add one entry; 0 ok, -1 ENOMEM, -2 not a valid entry */
int mv_lists_add(mv_lists *l, mv_list_kind kind, const char *entry, size_t len)
{
    char buf[MV_DOMAIN_MAX + 1];
    size_t n;
    int rc = kind == MV_LIST_ROLE ? norm_local(entry, len, buf, &n) : norm_domain(entry, len, buf, &n);

    if (rc < 0)
        return rc;
    rc = mv_strset_add(l->set[kind], buf, n);
    if (rc >= 0 && kind == MV_LIST_ROLE)
        role_mark(l, buf, n);
    return rc == -1 ? -1 : rc == -2 ? -2 : 0;
}

static const char *const kind_names[MV_LIST_COUNT] = {
    "disposable domain", "disposable wildcard domain", "free provider domain", "role local part",
    "allowed domain",
};

/* mv_lists_load_text - add entries from text; -1 on ENOMEM, bad lines warned */
int mv_lists_load_text(mv_lists *l, mv_list_kind kind, const char *text, size_t len, const char *name,
                       mv_diag *diag)
{
    const char *p = text, *line;
    size_t n;
    int lineno = 0;

    while (mv_next_line(&p, text + len, &line, &n, &lineno)) {
        int rc = mv_lists_add(l, kind, line, n);

        if (rc == -1) {
            mv_diag_add(diag, MV_DIAG_ERROR, name, lineno, "out of memory");
            return -1;
        }
        /* the line itself is not quoted: a mistaken path (lists.free =
         * "/etc/shadow") would otherwise print the file into logs */
        if (rc == -2)
            mv_diag_add(diag, MV_DIAG_WARNING, name, lineno, "not a valid %s, line ignored",
                        kind_names[kind]);
    }
    return 0;
}

/* mv_lists_load_file - add entries from a file; -1 (with an error) on failure */
int mv_lists_load_file(mv_lists *l, mv_list_kind kind, const char *path, mv_diag *diag)
{
    size_t len;
    char *text = mv_slurp(path, (size_t)256 << 20, &len);
    int rc;

    if (text == NULL) {
        mv_diag_add(diag, MV_DIAG_ERROR, path, 0, "cannot read: %s",
                    errno == EFBIG ? "larger than 256 MB" : strerror(errno));
        return -1;
    }
    rc = mv_lists_load_text(l, kind, text, len, path, diag);
    free(text);
    return rc;
}

/*
 * suffix_in - is domain, or any parent domain of it, in the set? h is the
 * domain's mv_strset_hash. Every entry has a dot (norm_domain refuses a
 * single label), so the walk stops before the TLD: "a.b.example.com"
 * costs three probes, "gmail.com" one.
 */
static bool suffix_in(const mv_strset *set, const char *d, size_t n, uint64_t h)
{
    const char *dot;

    if (mv_strset_count(set) == 0)
        return false;
    if (mv_strset_has_hash(set, d, n, h))
        return true;
    while ((dot = memchr(d, '.', n)) != NULL) {
        n -= (size_t)(dot + 1 - d);
        d = dot + 1;
        if (memchr(d, '.', n) == NULL)
            return false;
        if (mv_strset_has(set, d, n))
            return true;
    }
    return false;
}

/* mv_lists_disposable - is this normalized domain disposable? */
bool mv_lists_disposable(const mv_lists *l, const char *domain, size_t len)
{
    uint64_t h = mv_strset_hash(domain, len);

    if (!mv_strset_has_hash(l->set[MV_LIST_DISPOSABLE], domain, len, h) &&
        !suffix_in(l->set[MV_LIST_DISPOSABLE_WILDCARD], domain, len, h))
        return false;
    return !suffix_in(l->set[MV_LIST_ALLOW], domain, len, h);
}

/* mv_lists_free_provider - is this normalized domain a free provider? */
bool mv_lists_free_provider(const mv_lists *l, const char *domain, size_t len)
{
    uint64_t h = mv_strset_hash(domain, len);

    return mv_strset_has_hash(l->set[MV_LIST_FREE], domain, len, h) &&
           !suffix_in(l->set[MV_LIST_ALLOW], domain, len, h);
}

/* mv_lists_role - is this local part a role (case and +tag ignored)? */
bool mv_lists_role(const mv_lists *l, const char *local, size_t len)
{
    char buf[MV_LOCAL_MAX];
    size_t n = len < sizeof(buf) ? len : sizeof(buf);
    const char *plus;
    uint32_t bit;

    if (n == 0)
        return false;
    /* "Info+newsletter" is the info role too; quoted forms never are */
    if ((plus = memchr(local, '+', n)) != NULL)
        n = (size_t)(plus - local);
    if (n == 0)
        return false;
    bit = role_bit(n, lower(local[0]), lower(local[n - 1]));
    if (!(l->role_filter[bit / 64] & (1ULL << (bit % 64))))
        return false;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)lower(local[i]);
    return mv_strset_has(l->set[MV_LIST_ROLE], buf, n);
}

/* mv_lists_count - entries in one list */
size_t mv_lists_count(const mv_lists *l, mv_list_kind kind)
{
    return mv_strset_count(l->set[kind]);
}

/* mv_lists_bytes - memory held, for stats */
size_t mv_lists_bytes(const mv_lists *l)
{
    size_t n = sizeof(*l);

    for (int k = 0; k < MV_LIST_COUNT; k++)
        n += mv_strset_bytes(l->set[k]);
    return n;
}
