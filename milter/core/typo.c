/* SPDX-License-Identifier: MIT */
/*
 * typo.c - domain typo suggestions by edit distance.
 *
 * The distance is the optimal string alignment distance (Damerau-
 * Levenshtein without repeated edits of one substring): insertions,
 * deletions, substitutions and transpositions of neighbours each cost 1.
 * Transpositions matter: "gmial" is one slip from "gmail", not two.
 *
 * A domain is split at its first dot into a name ("hotmial") and a suffix
 * ("co"), and both are compared with each provider's. Thresholds, and why:
 * - name of 1-3 characters (aol, gmx, qq): no edit allowed. One edit from
 *   "aol" is "aon", "aok", "all": real, different domains. Only the suffix
 *   may be mistyped (gmx.ed -> gmx.de).
 * - name of 4-5 characters (gmail, yahoo): one edit. Two edits from a
 *   five-letter word reach too many real names.
 * - name of 6 or more (hotmail, outlook): two edits.
 * - suffix: one edit (com -> con, cm, co, comm); mistyped TLDs are nearly
 *   always one key off.
 * - at most two edits in all, and never for a domain on the provider list
 *   itself: hotmail.fr is not a typo of hotmail.com.
 * When several providers are as close, the one listed first (the more
 * used) wins. With no provider close, a TLD that does not exist and is
 * one edit from com, net, org or edu is fixed alone (acme.cmo -> acme.com);
 * a real TLD is never "fixed" (acme.cm is Cameroon's).
 */
#include "typo.h"
#include "lists.h"
#include "strset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *domain; /* "hotmail.co.uk" */
    size_t len;
    size_t name_len;    /* "hotmail": up to the first dot */
    uint64_t name_mask; /* characters present in the name */
    unsigned budget;    /* edits allowed in the name: 0, 1 or 2 */
} provider;

#define NAME_LEN_MAX 255 /* a name is part of a domain name */

/*
 * The providers worth comparing with a name of length nl are those whose
 * own name is within its edit budget of nl: cand[cand_off[nl]] up to
 * cand[cand_off[nl + 1]], in list order, so the first listed still wins a
 * tie. Most names have a dozen candidates, not the whole list.
 */
struct mv_typo {
    provider *p;
    size_t count, cap;
    mv_strset *known;
    mv_strset *tlds;
    unsigned *cand;
    unsigned cand_off[NAME_LEN_MAX + 2];
};

static const char *const common_tlds[] = {"com", "net", "org", "edu"};

/* mv_typo_new - empty; NULL on ENOMEM */
mv_typo *mv_typo_new(void)
{
    mv_typo *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->known = mv_strset_new(128);
    t->tlds = mv_strset_new(2048);
    if (t->known == NULL || t->tlds == NULL) {
        mv_typo_free(t);
        return NULL;
    }
    return t;
}

/* mv_typo_free - release; NULL is fine */
void mv_typo_free(mv_typo *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->p[i].domain);
    free(t->p);
    free(t->cand);
    mv_strset_free(t->known);
    mv_strset_free(t->tlds);
    free(t);
}

/* char_mask - one bit per distinct character (a-z, 0-9, "-", other) */
static uint64_t char_mask(const char *s, size_t n)
{
    uint64_t m = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        m |= 1ULL << (c >= 'a' && c <= 'z'   ? c - 'a'
                      : c >= '0' && c <= '9' ? 26 + c - '0'
                      : c == '-'             ? 36
                                             : 37);
    }
    return m;
}

/* lower_ldh - a lowercase LDH domain with at least one dot? */
static bool lower_ldh(const char *s, size_t n)
{
    bool dot = false;

    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dot = true;
        else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    }
    return dot;
}

/* name_budget - edits allowed in a provider name of this length */
static unsigned name_budget(size_t len)
{
    return len <= 3 ? 0 : len <= 5 ? 1 : 2;
}

/* add_provider - append one well-known domain; -1 ENOMEM, -2 invalid */
static int add_provider(mv_typo *t, const char *s, size_t n)
{
    provider *p;
    int rc;

    if (!lower_ldh(s, n))
        return -2;
    if ((rc = mv_strset_add(t->known, s, n)) <= 0)
        return rc == 0 ? 0 : -1; /* a duplicate keeps its first place */
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        provider *np = realloc(t->p, ncap * sizeof(*np));

        if (np == NULL)
            return -1;
        t->p = np;
        t->cap = ncap;
    }
    p = &t->p[t->count];
    if ((p->domain = malloc(n + 1)) == NULL)
        return -1;
    memcpy(p->domain, s, n);
    p->domain[n] = '\0';
    p->len = n;
    p->name_len = (size_t)((const char *)memchr(s, '.', n) - s);
    p->name_mask = char_mask(s, p->name_len);
    p->budget = name_budget(p->name_len);
    t->count++;
    return 0;
}

/* near_range - the name lengths [lo, hi] within p's edit budget */
static void near_range(const provider *p, size_t *lo, size_t *hi)
{
    *lo = p->name_len > p->budget ? p->name_len - p->budget : 0;
    *hi = p->name_len + p->budget < NAME_LEN_MAX ? p->name_len + p->budget : NAME_LEN_MAX;
}

/* index_providers - the candidates for each name length, each length's in
 * the providers' order (the first listed wins a tie); -1 on ENOMEM. A
 * counting sort over each provider's few near lengths: looping over every
 * length for every provider was a quarter of a cold CGI request. */
static int index_providers(mv_typo *t)
{
    unsigned next[NAME_LEN_MAX + 1] = {0};
    size_t total = 0, lo, hi;

    for (size_t i = 0; i < t->count; i++) {
        near_range(&t->p[i], &lo, &hi);
        for (size_t nl = lo; nl <= hi; nl++)
            next[nl]++;
    }
    free(t->cand);
    for (size_t nl = 0; nl <= NAME_LEN_MAX; nl++) {
        size_t c = next[nl];

        t->cand_off[nl] = (unsigned)total;
        next[nl] = (unsigned)total;
        total += c;
    }
    t->cand_off[NAME_LEN_MAX + 1] = (unsigned)total;
    if ((t->cand = malloc((total ? total : 1) * sizeof(*t->cand))) == NULL) {
        memset(t->cand_off, 0, sizeof(t->cand_off));
        return -1;
    }
    for (size_t i = 0; i < t->count; i++) {
        near_range(&t->p[i], &lo, &hi);
        for (size_t nl = lo; nl <= hi; nl++)
            t->cand[next[nl]++] = (unsigned)i;
    }
    return 0;
}

/* mv_typo_load_providers - well-known domains, in order of preference */
int mv_typo_load_providers(mv_typo *t, const char *text, size_t len, const char *name, mv_diag *diag)
{
    const char *p = text, *line;
    size_t n;
    int lineno = 0;

    while (mv_next_line(&p, text + len, &line, &n, &lineno)) {
        int rc = add_provider(t, line, n);

        if (rc == -1) {
            mv_diag_add(diag, MV_DIAG_ERROR, name, lineno, "out of memory");
            return -1;
        }
        if (rc == -2)
            mv_diag_add(diag, MV_DIAG_WARNING, name, lineno, "not a lowercase ASCII domain, line ignored");
    }
    if (index_providers(t) < 0) {
        mv_diag_add(diag, MV_DIAG_ERROR, name, lineno, "out of memory");
        return -1;
    }
    return 0;
}

/* mv_typo_load_tlds - every delegated TLD, one a line */
int mv_typo_load_tlds(mv_typo *t, const char *text, size_t len, const char *name, mv_diag *diag)
{
    const char *p = text, *line;
    size_t n;
    int lineno = 0;

    while (mv_next_line(&p, text + len, &line, &n, &lineno)) {
        if (memchr(line, '.', n) != NULL || n > 63) {
            mv_diag_add(diag, MV_DIAG_WARNING, name, lineno, "not a TLD, line ignored");
            continue;
        }
        if (mv_strset_add(t->tlds, line, n) == -1) {
            mv_diag_add(diag, MV_DIAG_ERROR, name, lineno, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* mv_typo_use_tlds_image - the TLDs from an image instead of text; 0,
 * -1 ENOMEM, -2 not an image or TLDs already loaded */
int mv_typo_use_tlds_image(mv_typo *t, const void *image, size_t len)
{
    mv_strset *v;

    if (mv_strset_count(t->tlds) != 0)
        return -2;
    if ((v = mv_strset_view(image, len)) == NULL)
        return errno == ENOMEM ? -1 : -2;
    mv_strset_free(t->tlds);
    t->tlds = v;
    return 0;
}

/* mv_typo_write_tlds_image - write the TLDs as an image; 0, or -1 (errno) */
int mv_typo_write_tlds_image(const mv_typo *t, FILE *out)
{
    return mv_strset_image_write(t->tlds, out);
}

/* mv_typo_tlds - the set of TLDs, for tests */
const mv_strset *mv_typo_tlds(const mv_typo *t)
{
    return t->tlds;
}

/* mv_typo_well_known - is the domain one of the providers? */
bool mv_typo_well_known(const mv_typo *t, const char *domain, size_t len)
{
    return mv_strset_has(t->known, domain, len);
}

/* mv_typo_count - providers known */
size_t mv_typo_count(const mv_typo *t)
{
    return t->count;
}

/* mv_typo_distance - optimal string alignment distance, capped at max+1 */
unsigned mv_typo_distance(const char *a, size_t an, const char *b, size_t bn, unsigned max)
{
    unsigned rows[3][64], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    if ((an > bn ? an - bn : bn - an) > max)
        return max + 1;
    if (an > 63 || bn > 63)
        return an == bn && memcmp(a, b, an) == 0 ? 0 : max + 1;
    for (size_t j = 0; j <= bn; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= an; i++) {
        unsigned low;
        unsigned *t;

        cur[0] = low = (unsigned)i;
        for (size_t j = 1; j <= bn; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = prev[j - 1] + cost;

            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            if (v < low)
                low = v;
        }
        if (low > max)
            return max + 1; /* no later row can come back under max */
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[bn] > max ? max + 1 : prev[bn];
}

/*
 * fits - 1 when a name with the character set m could be within nb <= 2
 * edits of one with the set pm: each edit adds or removes at most one
 * character of the set. Branch-free, because whether a provider passes
 * is as good as random, and a mispredicted branch per provider cost more
 * than the test.
 */
static uint64_t fits(uint64_t m, uint64_t pm, unsigned nb)
{
    uint64_t a[3], b[3];

    a[0] = m & ~pm; /* in the name, not in the provider's */
    b[0] = pm & ~m;
    a[1] = a[0] & (a[0] - 1); /* the set less its lowest member */
    b[1] = b[0] & (b[0] - 1);
    a[2] = a[1] & (a[1] - 1);
    b[2] = b[1] & (b[1] - 1);
    return (a[nb] | b[nb]) == 0;
}

/* passing - bit j set when candidate first + j passes fits(), n <= 64 */
static uint64_t passing(const mv_typo *t, unsigned first, unsigned n, uint64_t m)
{
    uint64_t pass = 0;

    for (unsigned j = 0; j < n; j++) {
        const provider *p = &t->p[t->cand[first + j]];

        pass |= fits(m, p->name_mask, p->budget) << j;
    }
    return pass;
}

/* A name as bit-vectors: peq[slot[c]] has bit i set where name[i] == c. */
typedef struct {
    unsigned char slot[256]; /* 0 for bytes not in the name */
    uint64_t peq[64];
    size_t len; /* 1..63 */
} pattern;

/* pattern_init - the bit-vectors of s, 0 < n < 64 */
static void pattern_init(pattern *pt, const char *s, size_t n)
{
    unsigned k = 0;

    memset(pt->slot, 0, sizeof(pt->slot));
    pt->peq[0] = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (pt->slot[c] == 0) {
            pt->slot[c] = (unsigned char)++k;
            pt->peq[k] = 0;
        }
        pt->peq[pt->slot[c]] |= 1ULL << i;
    }
    pt->len = n;
}

/*
 * osa_bits - the distance mv_typo_distance() computes, uncapped, by
 * Hyyro's bit-parallel algorithm (2003): one column of the table per
 * step in a few word operations, instead of a row of cells.
 */
static unsigned osa_bits(const pattern *pt, const char *b, size_t bn)
{
    uint64_t vp = ~0ULL, vn = 0, d0 = 0, pm_old = 0, top = 1ULL << (pt->len - 1);
    unsigned dist = (unsigned)pt->len;

    for (size_t j = 0; j < bn; j++) {
        uint64_t pm = pt->peq[pt->slot[(unsigned char)b[j]]];
        uint64_t tr = ((~d0 & pm) << 1) & pm_old;
        uint64_t hp, hn;

        d0 = (((pm & vp) + vp) ^ vp) | pm | vn | tr;
        hp = vn | ~(d0 | vp);
        hn = d0 & vp;
        dist += (hp & top) != 0;
        dist -= (hn & top) != 0;
        hp = (hp << 1) | 1;
        hn <<= 1;
        vp = hn | ~(d0 | hp);
        vn = hp & d0;
        pm_old = pm;
    }
    return dist;
}

/* name_distance - distance of the domain's name to p's, capped at its budget + 1 */
static unsigned name_distance(pattern *pt, const char *d, size_t nl, const provider *p, unsigned nb)
{
    unsigned dist;

    if (nl == 0 || nl > 63)
        return mv_typo_distance(d, nl, p->domain, p->name_len, nb);
    if (pt->len == 0)
        pattern_init(pt, d, nl); /* first use: most domains never get here */
    dist = osa_bits(pt, p->domain, p->name_len);
    return dist > nb ? nb + 1 : dist;
}

/* score - edits from the domain to provider p, name and suffix; 3 if not a typo of p */
static unsigned score(pattern *pt, const char *d, size_t n, size_t nl, const provider *p)
{
    unsigned dn, ds;

    if ((dn = name_distance(pt, d, nl, p, p->budget)) > p->budget)
        return 3;
    ds = mv_typo_distance(d + nl + 1, n - nl - 1, p->domain + p->name_len + 1, p->len - p->name_len - 1, 1);
    return ds > 1 || dn + ds > 2 || dn + ds == 0 ? 3 : dn + ds;
}

/* closest_provider - index of the best provider match, or -1 */
static long closest_provider(const mv_typo *t, const char *d, size_t n)
{
    const char *dot = memchr(d, '.', n);
    size_t nl = (size_t)(dot - d);
    unsigned best = 3, lo, hi;
    pattern pt;
    uint64_t mask;
    long bi = -1;

    if (nl > NAME_LEN_MAX || (lo = t->cand_off[nl]) == (hi = t->cand_off[nl + 1]))
        return -1;
    mask = char_mask(d, nl);
    pt.len = 0;
    for (unsigned base = lo; base < hi && best > 1; base += 64) {
        uint64_t pass = passing(t, base, hi - base < 64 ? hi - base : 64, mask);

        /* in list order, so that the first listed wins a tie */
        for (; pass != 0 && best > 1; pass &= pass - 1) {
            unsigned k = base + (unsigned)__builtin_ctzll(pass);
            unsigned sc = score(&pt, d, n, nl, &t->p[t->cand[k]]);

            if (sc < best) {
                best = sc;
                bi = (long)t->cand[k];
            }
        }
    }
    return bi;
}

/* dotless - "gmail" or "gmailcom" typed without the dot: the provider */
static long dotless(const mv_typo *t, const char *d, size_t n)
{
    for (size_t i = 0; i < t->count; i++) {
        const provider *p = &t->p[i];
        size_t sl = p->len - p->name_len - 1;

        if (n == p->name_len && memcmp(d, p->domain, n) == 0)
            return (long)i;
        if (n == p->len - 1 && memcmp(d, p->domain, p->name_len) == 0 &&
            memcmp(d + p->name_len, p->domain + p->name_len + 1, sl) == 0)
            return (long)i;
    }
    return -1;
}

/* fix_tld - replace a TLD that does not exist with a close common one */
static bool fix_tld(const mv_typo *t, const char *d, size_t n, char *out, size_t outsize)
{
    const char *last = d + n;

    while (last > d && last[-1] != '.')
        last--;
    if (last == d || mv_strset_count(t->tlds) == 0 || mv_strset_has(t->tlds, last, (size_t)(d + n - last)))
        return false;
    for (size_t i = 0; i < sizeof(common_tlds) / sizeof(*common_tlds); i++) {
        size_t tl = strlen(common_tlds[i]), keep = (size_t)(last - d);

        if (mv_typo_distance(last, (size_t)(d + n - last), common_tlds[i], tl, 1) > 1)
            continue;
        if (keep + tl + 1 > outsize)
            return false;
        memcpy(out, d, keep);
        memcpy(out + keep, common_tlds[i], tl + 1);
        return true;
    }
    return false;
}

/* mv_typo_suggest - suggested domain into out (NUL-terminated), or false */
bool mv_typo_suggest(const mv_typo *t, const char *domain, size_t len, char *out, size_t outsize)
{
    long i;

    if (len == 0 || mv_strset_has(t->known, domain, len))
        return false;
    if (memchr(domain, '.', len) == NULL)
        i = dotless(t, domain, len);
    else if ((i = closest_provider(t, domain, len)) < 0)
        return fix_tld(t, domain, len, out, outsize);
    if (i < 0 || t->p[i].len + 1 > outsize)
        return false;
    memcpy(out, t->p[i].domain, t->p[i].len + 1);
    return true;
}
