/* SPDX-License-Identifier: MIT */
/*
 * buf.c - growable byte buffer; see buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mv_buf_reserve - room for n more bytes; false (and sticky) on ENOMEM */
bool mv_buf_reserve(mv_buf *b, size_t n)
{
    size_t cap;
    char *d;

    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    if ((d = realloc(b->data, cap)) == NULL) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

/* mv_buf_put - append n bytes */
void mv_buf_put(mv_buf *b, const void *p, size_t n)
{
    if (!mv_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* mv_buf_puts - append a C string */
void mv_buf_puts(mv_buf *b, const char *s)
{
    mv_buf_put(b, s, strlen(s));
}

/* mv_buf_putc - append one byte */
void mv_buf_putc(mv_buf *b, char c)
{
    if (b->len + 2 <= b->cap && !b->oom) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    mv_buf_put(b, &c, 1);
}

/* mv_buf_printf - append formatted text */
void mv_buf_printf(mv_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !mv_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* mv_buf_reset - empty, keep the memory */
void mv_buf_reset(mv_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* mv_buf_ok - no allocation has failed */
bool mv_buf_ok(const mv_buf *b)
{
    return !b->oom;
}

/* mv_buf_free - release the memory */
void mv_buf_free(mv_buf *b)
{
    free(b->data);
    *b = (mv_buf){0};
}
