/* SPDX-License-Identifier: MIT */
/*
 * rules.c - the reply rules table and provider profiles; see rules.h.
 *
 * A table is read from a libconfig tree: the shipped file (compiled in as
 * "builtin"), a file of the admin's, or the `replies.rules` and
 * `replies.profiles` lists of mailverify.conf. Loading checks everything
 * and reports every problem with file and line; a table with an error is
 * not used (the caller keeps the one it had: a reload never half-applies).
 * Matching is a walk over the rules in order, cheapest tests first (stage,
 * codes, host), the text last; regexes are compiled once at load.
 */
#include "rules.h"
#include "builtin.h"
#include "config_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <libconfig.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char **v;
    size_t n;
} strs;

typedef struct {
    char *name;
    strs hosts;             /* MX host patterns, lowercase; none: any host */
    unsigned stages;        /* bit per mv_stage; 0: any */
    char code[4];           /* "550", "5x0", "5xx"; "": any */
    int enh[3];             /* -1: any part */
    bool has_enh, enh_none; /* enhanced code asked for; "none" asked for */
    strs texts;             /* any of these substrings */
    regex_t re;
    bool has_re;
    mv_reason reason;
    int temporary; /* -1: by the code's class */
    char *example;
    char *file;
    int line;
} rule;

typedef struct {
    mv_profile p;
    strs hosts;
} profile;

struct mv_rules {
    rule *r;
    size_t n;
    profile *p;
    size_t np;
};

static const char *const stage_names[MV_STAGE_COUNT] = {
    "connect", "banner", "ehlo", "starttls", "mail", "rcpt", "data",
};

/* mv_stage_name - "banner", "rcpt", ... */
const char *mv_stage_name(mv_stage s)
{
    return (unsigned)s < MV_STAGE_COUNT ? stage_names[s] : "?";
}

/* mv_stage_lookup - a stage by name; -1 if unknown */
int mv_stage_lookup(const char *name)
{
    for (int i = 0; i < MV_STAGE_COUNT; i++)
        if (strcasecmp(name, stage_names[i]) == 0)
            return i;
    return strcasecmp(name, "helo") == 0 ? MV_STAGE_EHLO : -1;
}

/* ---- freeing ---------------------------------------------------------- */

static void strs_free(strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void rule_free(rule *r)
{
    free(r->name);
    strs_free(&r->hosts);
    strs_free(&r->texts);
    if (r->has_re)
        regfree(&r->re);
    free(r->example);
    free(r->file);
}

/* mv_rules_free - NULL is fine */
void mv_rules_free(mv_rules *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        rule_free(&t->r[i]);
    for (size_t i = 0; i < t->np; i++)
        strs_free(&t->p[i].hosts);
    free(t->r);
    free(t->p);
    free(t);
}

size_t mv_rules_count(const mv_rules *t)
{
    return t ? t->n : 0;
}
size_t mv_rules_profile_count(const mv_rules *t)
{
    return t ? t->np : 0;
}

/* ---- loading ---------------------------------------------------------- */

/* The loader's state for one tree. */
typedef struct {
    const char *name; /* file name when libconfig has none (a string) */
    mv_diag *diag;
    size_t errors0;
    bool oom;
} ld;

/* err - an error at a setting, file:line */
static void err(ld *L, const config_setting_t *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(ld *L, const config_setting_t *s, const char *fmt, ...)
{
    char msg[600];
    const char *f = s ? config_setting_source_file(s) : NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mv_diag_add(L->diag, MV_DIAG_ERROR, f ? f : L->name, s ? (int)config_setting_source_line(s) : 0, "%s",
                msg);
}

static const char *const rule_keys[] = {
    "name", "hosts", "stage", "code", "enhanced", "text", "regex", "reason", "temporary", "example",
};
static const char *const profile_keys[] = {
    "name", "hosts", "rcpt", "catch_all_check", "max_rcpt_per_session", "host_sessions", "backoff_s",
};
#define NRK (sizeof(rule_keys) / sizeof(*rule_keys))
#define NPK (sizeof(profile_keys) / sizeof(*profile_keys))

/* known_keys - every member of g must be one of keys */
static void known_keys(ld *L, const config_setting_t *g, const char *what, int idx, const char *const *keys,
                       size_t nkeys)
{
    for (int j = 0; j < config_setting_length(g); j++) {
        const config_setting_t *e = config_setting_get_elem(g, (unsigned)j);
        const char *n = config_setting_name(e);
        bool ok = false;

        for (size_t k = 0; k < nkeys && !ok; k++)
            ok = strcmp(n, keys[k]) == 0;
        if (!ok) {
            const char *best = mv_config_did_you_mean(n, keys, nkeys);

            err(L, e, "unknown key '%s' in %s %d%s%s%s", n, what, idx, best ? " (did you mean '" : "",
                best ? best : "", best ? "'?)" : "");
        }
    }
}

/* get_str - a string member: NULL if absent; bounded; wrong type reported */
static const char *get_str(ld *L, const config_setting_t *g, const char *kname, const char *what, int idx)
{
    const config_setting_t *e = config_setting_get_member(g, kname);
    const char *v;

    if (e == NULL)
        return NULL;
    if (config_setting_type(e) != CONFIG_TYPE_STRING) {
        err(L, e, "'%s' in %s %d must be a string, not %s", kname, what, idx,
            mv_config_type_name(config_setting_type(e)));
        return NULL;
    }
    v = config_setting_get_string(e);
    if (strlen(v) > MV_RULE_STR_MAX) {
        err(L, e, "'%s' in %s %d is longer than %d characters", kname, what, idx, MV_RULE_STR_MAX);
        return NULL;
    }
    return v;
}

/* dup_lower - a lowercase copy; NULL on ENOMEM */
static char *dup_lower(const char *s)
{
    char *d = strdup(s);

    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* get_strs - a string or an array/list of strings into out */
static bool get_strs(ld *L, const config_setting_t *g, const char *kname, const char *what, int idx,
                     bool lower, strs *out)
{
    const config_setting_t *e = config_setting_get_member(g, kname);
    int n;

    if (e == NULL)
        return true;
    if (config_setting_type(e) == CONFIG_TYPE_STRING) {
        n = 1;
    } else if (config_setting_type(e) == CONFIG_TYPE_ARRAY || config_setting_type(e) == CONFIG_TYPE_LIST) {
        n = config_setting_length(e);
    } else {
        err(L, e, "'%s' in %s %d must be a string or an array of strings [ ]", kname, what, idx);
        return false;
    }
    if (n == 0 || n > MV_RULE_TEXTS_MAX) {
        err(L, e, "'%s' in %s %d must hold 1 to %d strings", kname, what, idx, MV_RULE_TEXTS_MAX);
        return false;
    }
    if ((out->v = calloc((size_t)n, sizeof(char *))) == NULL) {
        L->oom = true;
        return false;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *x =
            config_setting_type(e) == CONFIG_TYPE_STRING ? e : config_setting_get_elem(e, (unsigned)i);
        const char *v = config_setting_type(x) == CONFIG_TYPE_STRING ? config_setting_get_string(x) : NULL;

        if (v == NULL || *v == '\0' || strlen(v) > MV_RULE_STR_MAX) {
            err(L, x, "'%s' in %s %d: each entry must be a non-empty string of at most %d characters", kname,
                what, idx, MV_RULE_STR_MAX);
            return false;
        }
        if ((out->v[out->n] = lower ? dup_lower(v) : strdup(v)) == NULL) {
            L->oom = true;
            return false;
        }
        out->n++;
    }
    return true;
}

/* parse_stages - "mail,rcpt" into a bit mask; false if a name is unknown */
static bool parse_stages(const char *s, unsigned *mask, char *bad, size_t badlen)
{
    char buf[MV_RULE_STR_MAX + 1];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", s);
    *mask = 0;
    for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        int st = strcasecmp(t, "any") == 0 ? -2 : mv_stage_lookup(t);

        if (st == -1) {
            snprintf(bad, badlen, "%s", t);
            return false;
        }
        if (st == -2)
            return *mask = 0, true;
        *mask |= 1u << st;
    }
    return true;
}

/* parse_code - "550", "55x", "5xx" (x or X any digit) */
static bool parse_code(const char *s, char out[4])
{
    if (strlen(s) != 3 || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
        return false;
    for (int i = 0; i < 3; i++) {
        if (s[i] == 'x' || s[i] == 'X')
            out[i] = 'x';
        else if (s[i] >= '0' && s[i] <= '9')
            out[i] = s[i];
        else
            return false;
    }
    out[3] = '\0';
    return true;
}

/* parse_enh - "5.4.1", "5.7.x", "4.x.x"; parts -1 for any */
static bool parse_enh(const char *s, int enh[3])
{
    for (int k = 0; k < 3; k++) {
        if (*s == 'x' || *s == 'X' || *s == '*') {
            enh[k] = -1;
            s++;
        } else {
            char *end;
            long v = strtol(s, &end, 10);

            if (end == s || end - s > 3 || v < 0 || (k == 0 && v != 2 && v != 4 && v != 5))
                return false;
            enh[k] = (int)v;
            s = end;
        }
        if (k < 2 && *s++ != '.')
            return false;
    }
    return *s == '\0';
}

/* get_code - the `code` member: a string or an integer */
static void get_code(ld *L, const config_setting_t *g, int idx, rule *r)
{
    const config_setting_t *e = config_setting_get_member(g, "code");
    char buf[16];

    if (e == NULL)
        return;
    if (config_setting_type(e) == CONFIG_TYPE_INT)
        snprintf(buf, sizeof(buf), "%d", config_setting_get_int(e));
    else if (config_setting_type(e) == CONFIG_TYPE_STRING)
        snprintf(buf, sizeof(buf), "%s", config_setting_get_string(e));
    else
        buf[0] = '\0';
    if (!parse_code(buf, r->code))
        err(L, e, "'code' in reply rule %d must be a reply code like \"550\", \"55x\" or \"5xx\"", idx);
}

/* get_matchers - enhanced, stage, text, regex */
static void get_matchers(ld *L, const config_setting_t *g, int idx, rule *r)
{
    const char *v;
    char bad[64];

    if ((v = get_str(L, g, "enhanced", "reply rule", idx)) != NULL) {
        if (strcasecmp(v, "none") == 0)
            r->enh_none = true;
        else if (parse_enh(v, r->enh))
            r->has_enh = true;
        else
            err(L, config_setting_get_member(g, "enhanced"),
                "'enhanced' in reply rule %d must be an "
                "enhanced status code like \"5.1.1\" or \"5.7.x\", or \"none\"",
                idx);
    }
    if ((v = get_str(L, g, "stage", "reply rule", idx)) != NULL &&
        !parse_stages(v, &r->stages, bad, sizeof(bad)))
        err(L, config_setting_get_member(g, "stage"),
            "'stage' in reply rule %d: unknown stage '%s' (banner, "
            "ehlo, starttls, mail, rcpt, data, or any)",
            idx, bad);
    get_strs(L, g, "text", "reply rule", idx, false, &r->texts);
    if ((v = get_str(L, g, "regex", "reply rule", idx)) != NULL) {
        int rc = regcomp(&r->re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB);

        if (rc != 0) {
            char msg[160];

            regerror(rc, &r->re, msg, sizeof(msg));
            err(L, config_setting_get_member(g, "regex"), "'regex' in reply rule %d: %s", idx, msg);
        } else {
            r->has_re = true;
        }
    }
}

/* name_ok - [A-Za-z0-9._-], 1 to 63 characters */
static bool name_ok(const char *n)
{
    size_t len = strlen(n);

    return len > 0 && len < 64 &&
           strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* get_name - the required `name` member, checked; NULL when missing or bad */
static const char *get_name(ld *L, const config_setting_t *g, const char *what, int idx)
{
    const char *n = get_str(L, g, "name", what, idx);

    if (n == NULL && config_setting_get_member(g, "name") == NULL)
        err(L, g, "%s %d: required key 'name' is missing", what, idx);
    else if (n != NULL && !name_ok(n))
        err(L, config_setting_get_member(g, "name"),
            "'name' in %s %d must be 1 to 63 letters, digits, "
            "'.', '_' or '-'",
            what, idx);
    else
        return n;
    return NULL;
}

/* reason_hint - the reason name closest to a mistyped one, or NULL */
static const char *reason_hint(const char *v)
{
    const char *names[MV_R_COUNT];

    for (int i = 0; i < MV_R_COUNT; i++)
        names[i] = mv_reason_name((mv_reason)i);
    return mv_config_did_you_mean(v, names, MV_R_COUNT);
}

/* load_rule - one group of the `rules` list into r */
static void load_rule(ld *L, const config_setting_t *g, int idx, rule *r)
{
    const char *v, *f = config_setting_source_file(g);
    const config_setting_t *e;

    r->temporary = -1;
    r->enh[0] = r->enh[1] = r->enh[2] = -1;
    r->line = (int)config_setting_source_line(g);
    if ((r->file = strdup(f ? f : L->name)) == NULL)
        L->oom = true;
    known_keys(L, g, "reply rule", idx, rule_keys, NRK);
    if ((v = get_name(L, g, "reply rule", idx)) != NULL && (r->name = strdup(v)) == NULL)
        L->oom = true;
    get_strs(L, g, "hosts", "reply rule", idx, true, &r->hosts);
    get_code(L, g, idx, r);
    get_matchers(L, g, idx, r);
    if (config_setting_get_member(g, "code") == NULL && config_setting_get_member(g, "enhanced") == NULL &&
        config_setting_get_member(g, "text") == NULL && config_setting_get_member(g, "regex") == NULL)
        err(L, g, "reply rule %d matches every reply: give it a code, enhanced, text or regex", idx);
    if ((v = get_str(L, g, "reason", "reply rule", idx)) == NULL) {
        if (config_setting_get_member(g, "reason") == NULL)
            err(L, g, "reply rule %d: required key 'reason' is missing", idx);
    } else {
        int rs = mv_reason_lookup(v);

        if (rs < 0 || rs == MV_R_INVALID_SYNTAX || rs == MV_R_DISPOSABLE || rs == MV_R_ROLE_ACCOUNT ||
            rs == MV_R_UNVERIFIED || rs == MV_R_NULL_SENDER)
            err(L, config_setting_get_member(g, "reason"),
                "'reason' in reply rule %d is \"%s\"%s%s%s; a "
                "reply can mean: accepted_email, rejected_email, mailbox_disabled, mailbox_full, accept_all, "
                "invalid_domain, no_mail_server, blocked_by_server, greylisted, temporary_error, tls_error, "
                "no_connect, timeout",
                idx, v, reason_hint(v) ? " (did you mean '" : "", reason_hint(v) ? reason_hint(v) : "",
                reason_hint(v) ? "'?)" : "");
        else
            r->reason = (mv_reason)rs;
    }
    if ((e = config_setting_get_member(g, "temporary")) != NULL) {
        if (config_setting_type(e) != CONFIG_TYPE_BOOL)
            err(L, e, "'temporary' in reply rule %d must be true or false", idx);
        else
            r->temporary = config_setting_get_bool(e);
    }
    if ((v = get_str(L, g, "example", "reply rule", idx)) != NULL && (r->example = strdup(v)) == NULL)
        L->oom = true;
}

/* get_uint - an optional integer member within bounds */
static unsigned get_uint(ld *L, const config_setting_t *g, const char *kname, int idx, unsigned lo,
                         unsigned hi)
{
    const config_setting_t *e = config_setting_get_member(g, kname);
    long long v;

    if (e == NULL)
        return 0;
    if (config_setting_type(e) != CONFIG_TYPE_INT && config_setting_type(e) != CONFIG_TYPE_INT64) {
        err(L, e, "'%s' in profile %d must be an integer", kname, idx);
        return 0;
    }
    v = config_setting_get_int64(e);
    if (v < lo || v > hi) {
        err(L, e, "'%s' in profile %d is %lld; it must be between %u and %u", kname, idx, v, lo, hi);
        return 0;
    }
    return (unsigned)v;
}

/* load_profile - one group of the `profiles` list into p */
static void load_profile(ld *L, const config_setting_t *g, int idx, profile *p)
{
    const char *v;
    const config_setting_t *e;

    p->p.catch_all_check = -1;
    known_keys(L, g, "profile", idx, profile_keys, NPK);
    if ((v = get_name(L, g, "profile", idx)) != NULL)
        snprintf(p->p.name, sizeof(p->p.name), "%s", v);
    if (config_setting_get_member(g, "hosts") == NULL)
        err(L, g, "profile %d: required key 'hosts' is missing", idx);
    get_strs(L, g, "hosts", "profile", idx, true, &p->hosts);
    if ((v = get_str(L, g, "rcpt", "profile", idx)) != NULL) {
        if (strcmp(v, "meaningful") == 0)
            p->p.rcpt = MV_RCPT_MEANINGFUL;
        else if (strcmp(v, "accept_all") == 0)
            p->p.rcpt = MV_RCPT_ACCEPT_ALL;
        else if (strcmp(v, "unknown") == 0)
            p->p.rcpt = MV_RCPT_UNKNOWN;
        else
            err(L, config_setting_get_member(g, "rcpt"),
                "'rcpt' in profile %d is \"%s\"; it must be one "
                "of: meaningful, accept_all, unknown",
                idx, v);
    }
    if ((e = config_setting_get_member(g, "catch_all_check")) != NULL) {
        if (config_setting_type(e) != CONFIG_TYPE_BOOL)
            err(L, e, "'catch_all_check' in profile %d must be true or false", idx);
        else
            p->p.catch_all_check = config_setting_get_bool(e);
    }
    p->p.max_rcpt = get_uint(L, g, "max_rcpt_per_session", idx, 1, 1000);
    p->p.host_sessions = get_uint(L, g, "host_sessions", idx, 1, 100);
    p->p.backoff_s = get_uint(L, g, "backoff_s", idx, 1, 86400);
}

/* check_list - a `rules`/`profiles` setting must be a list of groups */
static int check_list(ld *L, const config_setting_t *s, const char *kname)
{
    int n;

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_LIST) {
        err(L, s, "'%s' must be a list of groups ( { ... }, ... ), not %s", kname,
            mv_config_type_name(config_setting_type(s)));
        return -1;
    }
    if ((n = config_setting_length(s)) > MV_RULES_MAX) {
        err(L, s, "'%s' holds %d entries; at most %d", kname, n, MV_RULES_MAX);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_GROUP) {
            err(L, config_setting_get_elem(s, (unsigned)i), "'%s' entry %d must be a group { }", kname,
                i + 1);
            return -1;
        }
    return n;
}

/* dup_names - two rules (or profiles) of one table with the same name */
static void dup_names(ld *L, const config_setting_t *list, const char *what)
{
    int n = config_setting_length(list);

    for (int i = 0; i < n; i++) {
        const config_setting_t *a =
            config_setting_get_member(config_setting_get_elem(list, (unsigned)i), "name");

        for (int j = 0; a && config_setting_type(a) == CONFIG_TYPE_STRING && j < i; j++) {
            const config_setting_t *b =
                config_setting_get_member(config_setting_get_elem(list, (unsigned)j), "name");

            if (b && config_setting_type(b) == CONFIG_TYPE_STRING &&
                strcmp(config_setting_get_string(a), config_setting_get_string(b)) == 0) {
                err(L, a, "%s %d has the name \"%s\" of %s %d (line %d)", what, i + 1,
                    config_setting_get_string(a), what, j + 1, (int)config_setting_source_line(b));
                break;
            }
        }
    }
}

/* mv_rules_from_settings - a table from `rules` and `profiles` lists (either may be
 * NULL); name is the file for messages when libconfig knows none */
mv_rules *mv_rules_from_settings(const struct config_setting_t *rules,
                                 const struct config_setting_t *profiles, const char *name, mv_diag *d)
{
    ld L = {name, d, d->errors, false};
    mv_rules *t = calloc(1, sizeof(*t));
    int nr = check_list(&L, rules, "rules"), np = check_list(&L, profiles, "profiles");

    if (t == NULL) {
        mv_diag_add(d, MV_DIAG_ERROR, name, 0, "out of memory");
        return NULL;
    }
    if (nr > 0 && (t->r = calloc((size_t)nr, sizeof(rule))) == NULL)
        L.oom = true;
    if (np > 0 && (t->p = calloc((size_t)np, sizeof(profile))) == NULL)
        L.oom = true;
    for (int i = 0; !L.oom && i < nr; i++, t->n++)
        load_rule(&L, config_setting_get_elem(rules, (unsigned)i), i + 1, &t->r[i]);
    for (int i = 0; !L.oom && i < np; i++, t->np++)
        load_profile(&L, config_setting_get_elem(profiles, (unsigned)i), i + 1, &t->p[i]);
    if (nr > 0)
        dup_names(&L, rules, "reply rule");
    if (np > 0)
        dup_names(&L, profiles, "profile");
    if (L.oom)
        mv_diag_add(d, MV_DIAG_ERROR, name, 0, "out of memory");
    if (L.oom || d->errors > L.errors0) {
        mv_rules_free(t);
        return NULL;
    }
    return t;
}

/* from_tree - a parsed table file: only `rules` and `profiles` at the top */
static mv_rules *from_tree(config_t *lc, const char *name, mv_diag *d)
{
    const config_setting_t *root = config_root_setting(lc);
    static const char *const top[] = {"rules", "profiles"};
    size_t e0 = d->errors;
    ld L = {name, d, d->errors, false};

    known_keys(&L, root, "the table, entry", 0, top, 2);
    if (d->errors > e0)
        return NULL;
    return mv_rules_from_settings(config_lookup(lc, "rules"), config_lookup(lc, "profiles"), name, d);
}

/* mv_rules_load_file - a table file or "builtin"; NULL with errors in d */
mv_rules *mv_rules_load_file(const char *path, mv_diag *d)
{
    config_t lc;
    mv_rules *t = NULL;
    int ok;
    bool builtin = strcmp(path, "builtin") == 0;

    config_init(&lc);
    if (builtin) {
        mv_blob b = mv_builtin("replies.conf");

        ok = b.data != NULL && config_read_string(&lc, b.data) == CONFIG_TRUE;
    } else {
        ok = config_read_file(&lc, path) == CONFIG_TRUE;
    }
    if (!ok) {
        const char *f = config_error_file(&lc);

        mv_diag_add(d, MV_DIAG_ERROR, f ? f : path, config_error_line(&lc), "%s%s",
                    config_error_type(&lc) == CONFIG_ERR_FILE_IO ? "cannot read the reply rules table: " : "",
                    config_error_text(&lc) ? config_error_text(&lc) : "no built-in table");
    } else {
        t = from_tree(&lc, builtin ? "builtin:replies.conf" : path, d);
    }
    config_destroy(&lc);
    return t;
}

/* ---- matching --------------------------------------------------------- */

/* host_match - exact, ".suffix" (the domain and below), or a shell pattern */
static bool host_match(const strs *pats, const char *host)
{
    size_t hl = strlen(host);

    if (pats->n == 0)
        return true;
    if (hl == 0)
        return false;
    for (size_t i = 0; i < pats->n; i++) {
        const char *p = pats->v[i];
        size_t pl = strlen(p);

        if (p[0] == '.') {
            if ((hl == pl - 1 && strcasecmp(host, p + 1) == 0) ||
                (hl > pl && strcasecmp(host + hl - pl, p) == 0))
                return true;
        } else if (strpbrk(p, "*?[") != NULL) {
            if (fnmatch(p, host, FNM_CASEFOLD) == 0)
                return true;
        } else if (strcasecmp(p, host) == 0) {
            return true;
        }
    }
    return false;
}

/* code_match - "5x0" against 550 */
static bool code_match(const char *pat, int code)
{
    char c[4];

    snprintf(c, sizeof(c), "%03d", code >= 0 && code <= 999 ? code : 0);
    for (int i = 0; i < 3; i++)
        if (pat[i] != 'x' && pat[i] != c[i])
            return false;
    return true;
}

/* rule_match - do the rule's conditions all hold? */
static bool rule_match(const rule *r, const char *host, mv_stage stage, const mv_smtp_answer *a)
{
    bool any = r->texts.n == 0;

    if (r->stages != 0 && !(r->stages & (1u << stage)))
        return false;
    if (r->code[0] && !code_match(r->code, a->code))
        return false;
    if (r->enh_none && a->enh[0] != 0)
        return false;
    if (r->has_enh && a->enh[0] == 0)
        return false;
    for (int k = 0; r->has_enh && k < 3; k++)
        if (r->enh[k] >= 0 && r->enh[k] != a->enh[k])
            return false;
    if (!host_match(&r->hosts, host ? host : ""))
        return false;
    for (size_t i = 0; i < r->texts.n && !any; i++)
        any = strcasestr(a->text, r->texts.v[i]) != NULL;
    if (!any)
        return false;
    return !r->has_re || regexec(&r->re, a->text, 0, NULL, 0) == 0;
}

/* reading - the rule's word, into out */
static void reading(const rule *r, const mv_smtp_answer *a, mv_reading *out)
{
    const char *base = strrchr(r->file, '/');

    out->reason = r->reason;
    out->temporary = r->temporary >= 0 ? r->temporary : a->code / 100 == 4;
    out->rule = r->name;
    snprintf(out->why, sizeof(out->why), "rule %s (%s:%d)", r->name ? r->name : "?",
             base ? base + 1 : r->file, r->line);
}

/* mv_rules_match - the first rule matching the reply; false if none */
bool mv_rules_match(const mv_rules *t, const char *host, mv_stage stage, const mv_smtp_answer *a,
                    mv_reading *out)
{
    if (t == NULL || (unsigned)stage >= MV_STAGE_COUNT)
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (rule_match(&t->r[i], host, stage, a)) {
            reading(&t->r[i], a, out);
            return true;
        }
    return false;
}

/* mv_rules_rule - the i-th rule's name, reason, example and a host and stage it is for */
bool mv_rules_rule(const mv_rules *t, size_t i, mv_rule_info *info)
{
    const rule *r;

    if (t == NULL || i >= t->n)
        return false;
    r = &t->r[i];
    info->name = r->name;
    info->reason = r->reason;
    info->example = r->example;
    info->host = r->hosts.n ? r->hosts.v[0] : NULL;
    info->stage = MV_STAGE_RCPT;
    for (int s = 0; r->stages != 0 && s < MV_STAGE_COUNT; s++)
        if (r->stages & (1u << s)) {
            info->stage = (mv_stage)s;
            break;
        }
    return true;
}

/* mv_rules_rule_matches - does the i-th rule itself match the reply? */
bool mv_rules_rule_matches(const mv_rules *t, size_t i, const char *host, mv_stage stage,
                           const mv_smtp_answer *a)
{
    return t != NULL && i < t->n && rule_match(&t->r[i], host, stage, a);
}

/* mv_rules_profile - the first profile whose pattern matches the MX host */
const mv_profile *mv_rules_profile(const mv_rules *t, const char *host)
{
    for (size_t i = 0; t != NULL && host != NULL && i < t->np; i++)
        if (host_match(&t->p[i].hosts, host))
            return &t->p[i].p;
    return NULL;
}
