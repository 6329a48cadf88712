/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a growable byte buffer for building output.
 *
 * JSON lines, log lines and protocol replies are built here and written
 * once. A failed allocation is sticky: later appends do nothing and
 * mv_buf_ok() says so, so builders need not check every call.
 */
#ifndef MV_BUF_H
#define MV_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} mv_buf;

/* mv_buf_reserve - room for n more bytes; false (and sticky) on ENOMEM */
bool mv_buf_reserve(mv_buf *b, size_t n);

/* mv_buf_put - append n bytes */
void mv_buf_put(mv_buf *b, const void *p, size_t n);

/* mv_buf_puts - append a C string */
void mv_buf_puts(mv_buf *b, const char *s);

/* mv_buf_putc - append one byte */
void mv_buf_putc(mv_buf *b, char c);

/* mv_buf_printf - append formatted text */
void mv_buf_printf(mv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mv_buf_reset - empty, keep the memory */
void mv_buf_reset(mv_buf *b);

/* mv_buf_ok - no allocation has failed */
bool mv_buf_ok(const mv_buf *b);

/* mv_buf_free - release the memory */
void mv_buf_free(mv_buf *b);

#endif
