/* SPDX-License-Identifier: MIT */
/*
 * builtin.h - files compiled into the binary.
 *
 * The lists under etc/lists/, the reply table and the shipped
 * mailverify.conf's canonical rules are embedded (builtin.S), so that
 * mailverify works with no file installed: "builtin" in a lists.* key
 * means these bytes. No --config at all means the keys' defaults, which
 * the shipped mailverify.conf spells (a unit test keeps them equal).
 * An admin who wants fresher lists points the key at a file.
 * The lists are also there as set images, "disposable.set" and so on
 * (tools/mktables.c, strset.h), which the built-in lists are loaded from:
 * pointing at an image costs nothing, parsing the text took most of a
 * cold start. The text stays embedded for tests and tools.
 */
#ifndef MV_BUILTIN_H
#define MV_BUILTIN_H

#include <stddef.h>

typedef struct {
    const char *data; /* NULL when there is no such file */
    size_t len;
} mv_blob;

/* mv_builtin - an embedded file by name, e.g. "disposable.txt" */
mv_blob mv_builtin(const char *name);

#endif
