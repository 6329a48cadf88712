/* SPDX-License-Identifier: MIT */
/*
 * mktables.c - turn the shipped lists into images the program links in.
 *
 * Usage: mktables LISTDIR OUTDIR
 *
 * Reads LISTDIR/{disposable,disposable-wildcards,free,role,tlds}.txt with
 * the loaders the program itself uses for list files (lists.c, typo.c),
 * then writes each set's image (strset.h) to OUTDIR/NAME.set. builtin.S
 * embeds those, and the built-in configuration points at them instead of
 * parsing 136,000 lines at every start: the images are the sets the text
 * would have built, byte for byte, because the same code built them.
 * Any warning fails the build: a bad line in a shipped list would
 * otherwise be dropped here without anyone seeing it at run time.
 * Images are in the build host's byte order; the build runs on the host
 * it builds for (there is no cross-compiling here).
 */
#include "diag.h"
#include "lists.h"
#include "slurp.h"
#include "typo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name; /* "disposable": .txt in, .set out */
    int kind;         /* mv_list_kind, or -2 for the TLDs */
} table;

static const table tables[] = {
    {"disposable", MV_LIST_DISPOSABLE},
    {"disposable-wildcards", MV_LIST_DISPOSABLE_WILDCARD},
    {"free", MV_LIST_FREE},
    {"role", MV_LIST_ROLE},
    {"tlds", -2},
};

/* load - one list's text into l or t; -1 with a message on failure */
static int load(const table *tb, const char *dir, mv_lists *l, mv_typo *t)
{
    char path[4096];
    size_t len;
    char *text;
    mv_diag d = {0};
    int rc;

    snprintf(path, sizeof(path), "%s/%s.txt", dir, tb->name);
    if ((text = mv_slurp(path, (size_t)256 << 20, &len)) == NULL) {
        fprintf(stderr, "mktables: %s: %s\n", path, strerror(errno));
        return -1;
    }
    rc = tb->kind == -2 ? mv_typo_load_tlds(t, text, len, path, &d)
                        : mv_lists_load_text(l, (mv_list_kind)tb->kind, text, len, path, &d);
    free(text);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "mktables: %s\n", d.items[i].text);
    if (d.count > 0 || d.dropped > 0 || d.oom)
        rc = -1;
    mv_diag_clear(&d);
    return rc;
}

/* save - one set's image to OUTDIR/NAME.set, through a temporary file */
static int save(const table *tb, const char *dir, const mv_lists *l, const mv_typo *t)
{
    char path[4096], tmp[4200];
    FILE *f;
    int rc;

    snprintf(path, sizeof(path), "%s/%s.set", dir, tb->name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if ((f = fopen(tmp, "wb")) == NULL) {
        fprintf(stderr, "mktables: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    rc = tb->kind == -2 ? mv_typo_write_tlds_image(t, f) : mv_lists_write_image(l, (mv_list_kind)tb->kind, f);
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "mktables: %s: %s\n", path, strerror(errno));
        remove(tmp);
    }
    return rc;
}

int main(int argc, char **argv)
{
    mv_lists *l;
    mv_typo *t;
    int rc = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: mktables LISTDIR OUTDIR\n");
        return 2;
    }
    l = mv_lists_new();
    t = mv_typo_new();
    if (l == NULL || t == NULL) {
        fprintf(stderr, "mktables: out of memory\n");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(*tables); i++)
        if (load(&tables[i], argv[1], l, t) < 0 || save(&tables[i], argv[2], l, t) < 0)
            rc = -1;
    mv_lists_free(l);
    mv_typo_free(t);
    return rc == 0 ? 0 : 1;
}
