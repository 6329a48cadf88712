/*
 * builtin.h - files compiled into the binary.
 *
 * The shipped etc/mailverify.conf and the lists under etc/lists/ are
 * embedded (builtin.S), so that mailverify works with no file installed:
 * "builtin" in a lists.* key, or no --config at all, means these bytes.
 * An admin who wants fresher lists points the key at a file.
 */
#ifndef MV_BUILTIN_H
#define MV_BUILTIN_H

#include <stddef.h>

typedef struct {
    const char *data;           /* NULL when there is no such file */
    size_t len;
} mv_blob;

/* mv_builtin - an embedded file by name, e.g. "disposable.txt" */
mv_blob mv_builtin(const char *name);

#endif
