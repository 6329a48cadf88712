/* SPDX-License-Identifier: MIT */
/*
 * builtin.c - names for the blobs that builtin.S embeds.
 */
#include "builtin.h"

#include <string.h>

#define BLOB(sym) extern const char sym[], sym##_end[]
BLOB(mv_blob_canonical);
BLOB(mv_blob_disposable);
BLOB(mv_blob_disposable_wildcards);
BLOB(mv_blob_free);
BLOB(mv_blob_role);
BLOB(mv_blob_providers);
BLOB(mv_blob_tlds);
BLOB(mv_blob_replies);
BLOB(mv_blob_disposable_set);
BLOB(mv_blob_disposable_wildcards_set);
BLOB(mv_blob_free_set);
BLOB(mv_blob_role_set);
BLOB(mv_blob_tlds_set);

static const struct {
    const char *name;
    const char *start, *end;
} blobs[] = {
    {"canonical.conf", mv_blob_canonical, mv_blob_canonical_end},
    {"disposable.txt", mv_blob_disposable, mv_blob_disposable_end},
    {"disposable-wildcards.txt", mv_blob_disposable_wildcards, mv_blob_disposable_wildcards_end},
    {"free.txt", mv_blob_free, mv_blob_free_end},
    {"role.txt", mv_blob_role, mv_blob_role_end},
    {"providers.txt", mv_blob_providers, mv_blob_providers_end},
    {"tlds.txt", mv_blob_tlds, mv_blob_tlds_end},
    {"replies.conf", mv_blob_replies, mv_blob_replies_end},
    {"disposable.set", mv_blob_disposable_set, mv_blob_disposable_set_end},
    {"disposable-wildcards.set", mv_blob_disposable_wildcards_set, mv_blob_disposable_wildcards_set_end},
    {"free.set", mv_blob_free_set, mv_blob_free_set_end},
    {"role.set", mv_blob_role_set, mv_blob_role_set_end},
    {"tlds.set", mv_blob_tlds_set, mv_blob_tlds_set_end},
};

/* mv_builtin - an embedded file by name, e.g. "disposable.txt" */
mv_blob mv_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(blobs) / sizeof(*blobs); i++)
        if (strcmp(blobs[i].name, name) == 0)
            return (mv_blob){blobs[i].start, (size_t)(blobs[i].end - blobs[i].start)};
    return (mv_blob){NULL, 0};
}
