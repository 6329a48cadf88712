/* SPDX-License-Identifier: MIT */
/*
 * diag.h - collecting "file:line: message" diagnostics.
 *
 * The config loader and the list loaders report every problem they find,
 * not only the first, so an admin fixes a file in one pass. They append to
 * an mv_diag; the front end decides how to print it. Errors make a load
 * fail; warnings (a bad line in a list file) are shown and skipped.
 */
#ifndef MV_DIAG_H
#define MV_DIAG_H

#include <stddef.h>

typedef enum { MV_DIAG_ERROR, MV_DIAG_WARNING } mv_diag_level;

typedef struct {
    mv_diag_level level;
    char *text; /* "file:line: message", owned */
} mv_diag_item;

typedef struct {
    mv_diag_item *items;
    size_t count, cap;
    size_t errors, warnings;
    size_t dropped; /* past the cap: counted, not stored */
    int oom;        /* an item could not be stored */
} mv_diag;

#define MV_DIAG_KEEP 1000 /* items kept; more are only counted */

/* mv_diag_add - append "file:line: message" (line 0: no line) */
void mv_diag_add(mv_diag *d, mv_diag_level lvl, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* mv_diag_clear - free every item, keep the struct usable */
void mv_diag_clear(mv_diag *d);

#endif
