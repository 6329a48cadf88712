/* SPDX-License-Identifier: MIT */
/*
 * slurp.c - read a whole file, bounded; see slurp.h.
 *
 * Reads until EOF rather than trusting st_size, so that pipes and files
 * that grow while read (a list being regenerated) behave.
 */
#include "slurp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* mv_slurp - whole file, NUL-terminated, malloc'd; NULL and errno on error */
char *mv_slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int err = 0;

    if (f == NULL)
        return NULL;
    errno = 0;
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;

            if (cap > max + 1) {
                err = EFBIG;
                break;
            }
            if ((nb = realloc(buf, ncap)) == NULL) {
                err = ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);

        n += got;
        if (got == 0) {
            if (ferror(f))
                err = errno != 0 ? errno : EIO; /* EISDIR for a directory */
            break;
        }
    }
    fclose(f);
    if (err == 0 && n > max)
        err = EFBIG;
    if (err != 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
