/* SPDX-License-Identifier: MIT */
/*
 * trace.c - formatting for the engine's transcript (trace.h).
 *
 * Lines are bounded: outside text is cut at MV_TRACE_TEXT_MAX bytes of
 * output and a line at MV_TRACE_LINE_MAX, so a server sending a megabyte
 * in one reply line costs the log one short line. Escapes are never split
 * by the cut, and a cut line ends in "..." so nobody mistakes it for the
 * whole.
 */
#include "trace.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* mv_trace_escape - len bytes of src, escaped and cut, into dst */
size_t mv_trace_escape(char *dst, size_t size, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t cap = size < MV_TRACE_TEXT_MAX + 4 ? size : MV_TRACE_TEXT_MAX + 4, o = 0, i = 0;

    if (cap < 8) {
        if (size > 0)
            dst[0] = '\0';
        return 0;
    }
    while (i < len) {
        size_t k = s[i] < 0x80 ? 1 : mv_utf8_seq(s + i, len - i);
        bool plain = k > 0 && s[i] >= 0x20 && s[i] != 0x7F && s[i] != '\\';
        size_t need = plain ? k : s[i] == '\\' ? 2 : 4, step = plain ? k : 1;

        if (o + need + (i + step < len ? 3 : 0) >= cap) { /* room for "..." */
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (plain)
            memcpy(dst + o, s + i, k);
        else if (s[i] == '\\')
            memcpy(dst + o, "\\\\", 2);
        else
            snprintf(dst + o, 5, "\\x%02x", s[i]);
        o += need;
        i += step;
    }
    dst[o] = '\0';
    return o;
}

/* mv_trace_emit - format one line and hand it to fn */
void mv_trace_emit(mv_trace_fn fn, void *arg, const char *fmt, ...)
{
    char line[MV_TRACE_LINE_MAX];
    va_list ap;

    if (fn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fn(arg, line);
}
