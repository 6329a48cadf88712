/* SPDX-License-Identifier: MIT */
/*
 * config_files.c - the files a configuration names, read in phase 3 of
 * config.c: the list files (or the shipped lists' images compiled into the
 * binary, which need no parsing) and the reply rules (the admin's rules
 * from the file, then the table: a file in its format, or the shipped one,
 * which mv_config_rules parses at its first use). Every error names the
 * key's file:line; a list's bad lines are warnings with their line number.
 */
#include "config_int.h"
#include "builtin.h"
#include "rules.h"
#include "slurp.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A list file setting and what loads it. */
typedef struct {
    size_t off;          /* the path setting */
    const char *builtin; /* embedded file name */
    int kind;            /* mv_list_kind, or -1 providers, -2 tlds */
} list_src;

static const list_src list_srcs[] = {
    {offsetof(mv_settings, lists_disposable), "disposable.txt", MV_LIST_DISPOSABLE},
    {offsetof(mv_settings, lists_disposable_wildcards), "disposable-wildcards.txt",
     MV_LIST_DISPOSABLE_WILDCARD},
    {offsetof(mv_settings, lists_free), "free.txt", MV_LIST_FREE},
    {offsetof(mv_settings, lists_role), "role.txt", MV_LIST_ROLE},
    {offsetof(mv_settings, lists_providers), "providers.txt", -1},
    {offsetof(mv_settings, lists_tlds), "tlds.txt", -2},
};

/* The keys of list_srcs, in the same order, for error lines. */
static const char *const list_keys[] = {
    "lists.disposable", "lists.disposable_wildcards", "lists.free", "lists.role", "lists.providers",
    "lists.tlds",
};

/* load_text_into - hand list text to its loader */
static int load_text_into(loader *L, const list_src *ls, const char *text, size_t len, const char *name)
{
    if (ls->kind == -1)
        return mv_typo_load_providers(L->cfg->typo, text, len, name, L->diag);
    if (ls->kind == -2)
        return mv_typo_load_tlds(L->cfg->typo, text, len, name, L->diag);
    return mv_lists_load_text(L->cfg->lists, (mv_list_kind)ls->kind, text, len, name, L->diag);
}

/* read_file - a whole list file; NULL with an error at the key's line */
static char *read_file(loader *L, const config_setting_t *setting, const char *path, size_t *len)
{
    char *text = mv_slurp(path, (size_t)256 << 20, len);

    if (text == NULL)
        mv_config_error(L, setting, "cannot read list %s: %s", path,
                        errno == EFBIG ? "larger than 256 MB" : strerror(errno));
    return text;
}

/*
 * load_builtin - a shipped list: its image when the build made one (every
 * list but the 77 providers, whose typo index is built as they load), so
 * nothing is parsed; else its text
 */
static void load_builtin(loader *L, const list_src *ls)
{
    char name[128], full[160];
    size_t stem = strlen(ls->builtin) - strlen(".txt");
    mv_blob b;
    int rc;

    snprintf(name, sizeof(name), "%.*s.set", (int)stem, ls->builtin);
    b = mv_builtin(name);
    if (b.data == NULL) {
        b = mv_builtin(ls->builtin);
        snprintf(full, sizeof(full), "builtin:%s", ls->builtin);
        load_text_into(L, ls, b.data, b.len, full);
        return;
    }
    rc = ls->kind == -2 ? mv_typo_use_tlds_image(L->cfg->typo, b.data, b.len)
                        : mv_lists_use_image(L->cfg->lists, (mv_list_kind)ls->kind, b.data, b.len);
    if (rc < 0)
        mv_diag_add(L->diag, MV_DIAG_ERROR, "builtin", 0, "%s: %s", name,
                    rc == -1 ? "out of memory" : "not a usable image (a broken build?)");
}

/* mv_config_load_lists - phase 3, last part: every list file */
void mv_config_load_lists(loader *L, config_t *lc)
{
    for (size_t i = 0; i < sizeof(list_srcs) / sizeof(*list_srcs); i++) {
        const list_src *ls = &list_srcs[i];
        const char *path = *(char **)((char *)&L->cfg->s + ls->off);
        char full[4096 + 512], *text;
        size_t len;

        if (ls->kind < 0 && !L->cfg->s.typo_enabled)
            continue;
        if (strcmp(path, "builtin") == 0) {
            load_builtin(L, ls);
            continue;
        }
        if (path[0] != '/' && L->basedir != NULL)
            snprintf(full, sizeof(full), "%s/%s", L->basedir, path);
        else
            snprintf(full, sizeof(full), "%s", path);
        if ((text = read_file(L, config_lookup(lc, list_keys[i]), full, &len)) != NULL) {
            load_text_into(L, ls, text, len, full);
            free(text);
        }
    }
}

/* mv_config_load_replies - the reply rules: the admin's lists here, then the table
 * file (or the built-in one); every error file:line */
void mv_config_load_replies(loader *L, config_t *lc)
{
    const char *path = L->cfg->s.replies_table;
    const config_setting_t *r = config_lookup(lc, "replies.rules"),
                           *p = config_lookup(lc, "replies.profiles");
    char full[4096 + 512];

    if ((r != NULL || p != NULL) &&
        (L->cfg->rules_local = mv_rules_from_settings(r, p, L->name, L->diag)) == NULL)
        return;
    if (path[0] == '\0')
        return; /* no table: the admin's rules, then RFC 3463 */
    if (strcmp(path, "builtin") == 0) {
        L->cfg->rules_builtin = true; /* parsed at first use: mv_config_rules */
        return;
    }
    if (path[0] != '/' && L->basedir != NULL)
        snprintf(full, sizeof(full), "%s/%s", L->basedir, path);
    else
        snprintf(full, sizeof(full), "%s", path);
    L->cfg->rules_table = mv_rules_load_file(full, L->diag);
}
