/* SPDX-License-Identifier: MIT */
/*
 * diag.c - the diagnostics list behind config-test and list loading.
 *
 * Items are formatted once, when added, so callers can free whatever the
 * message referred to. A cap keeps a hostile file (a million bad lines)
 * from turning into a million strings: past it, items are only counted.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* format - "file:line: " + message, malloc'd; NULL on ENOMEM */
static char *format(const char *file, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static char *format(const char *file, int line, const char *fmt, va_list ap)
{
    char msg[1024];
    char *out;
    int n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (file != NULL && line > 0)
        n = snprintf(NULL, 0, "%s:%d: %s", file, line, msg);
    else if (file != NULL)
        n = snprintf(NULL, 0, "%s: %s", file, msg);
    else
        n = snprintf(NULL, 0, "%s", msg);
    if (n < 0 || (out = malloc((size_t)n + 1)) == NULL)
        return NULL;
    if (file != NULL && line > 0)
        snprintf(out, (size_t)n + 1, "%s:%d: %s", file, line, msg);
    else if (file != NULL)
        snprintf(out, (size_t)n + 1, "%s: %s", file, msg);
    else
        snprintf(out, (size_t)n + 1, "%s", msg);
    return out;
}

/* mv_diag_add - append "file:line: message" (line 0: no line) */
void mv_diag_add(mv_diag *d, mv_diag_level lvl, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *text;

    if (lvl == MV_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (d->count >= MV_DIAG_KEEP) {
        d->dropped++;
        return;
    }
    if (d->count == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        mv_diag_item *n = realloc(d->items, ncap * sizeof(*n));

        if (n == NULL) {
            d->oom = 1;
            return;
        }
        d->items = n;
        d->cap = ncap;
    }
    va_start(ap, fmt);
    text = format(file, line, fmt, ap);
    va_end(ap);
    if (text == NULL) {
        d->oom = 1;
        return;
    }
    d->items[d->count].level = lvl;
    d->items[d->count].text = text;
    d->count++;
}

/* mv_diag_clear - free every item, keep the struct usable */
void mv_diag_clear(mv_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->items[i].text);
    free(d->items);
    *d = (mv_diag){0};
}
