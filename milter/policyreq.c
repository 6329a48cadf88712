/* SPDX-License-Identifier: MIT */
/*
 * policyreq.c - Postfix policy delegation requests; see policyreq.h.
 *
 * Two passes over the buffer: the first checks every line against the
 * limits and the grammar and finds the empty line without writing
 * anything (so that "not complete yet" can be asked again as more bytes
 * arrive); the second, once the request is whole, splits it in place.
 * A request is small (Postfix 3.7 sends ~30 attributes, under 1 KiB), so
 * scanning the buffer again on each read costs little, and max_request
 * bounds it.
 */
#include "policyreq.h"

#include <stdbool.h>
#include <string.h>

/* The attributes we read, and where they go. */
static const struct {
    const char *name;
    size_t off;
} known[] = {
    {"request", offsetof(mv_policyreq, request)},
    {"protocol_state", offsetof(mv_policyreq, protocol_state)},
    {"protocol_name", offsetof(mv_policyreq, protocol_name)},
    {"sender", offsetof(mv_policyreq, sender)},
    {"recipient", offsetof(mv_policyreq, recipient)},
    {"client_address", offsetof(mv_policyreq, client_address)},
    {"client_name", offsetof(mv_policyreq, client_name)},
    {"helo_name", offsetof(mv_policyreq, helo_name)},
    {"queue_id", offsetof(mv_policyreq, queue_id)},
    {"instance", offsetof(mv_policyreq, instance)},
    {"sasl_username", offsetof(mv_policyreq, sasl_username)},
};
#define NKNOWN (sizeof(known) / sizeof(*known))

/* line_end - the length of the line at p (CR LF or LF not counted) and
 * of its terminator; MV_PREQ_MORE when no LF within the limit yet */
static mv_policyreq_status line_end(const char *p, size_t avail, size_t max_line, size_t *n, size_t *term)
{
    size_t i;

    for (i = 0; i < avail; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '\n') {
            *term = 1;
            if (i > 0 && p[i - 1] == '\r') {
                i--;
                *term = 2;
            }
            *n = i;
            return MV_PREQ_DONE;
        }
        if (i >= max_line && c != '\r')
            return MV_PREQ_LINE_TOO_LONG;
        if (c == '\0')
            return MV_PREQ_NUL;
        /* CR is fine only right before LF: wait for the next byte */
        if (c == '\r' && i + 1 < avail && p[i + 1] != '\n')
            return MV_PREQ_CONTROL;
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F)
            return MV_PREQ_CONTROL;
    }
    return MV_PREQ_MORE;
}

/* known_index - a known attribute's index, or -1 */
static int known_index(const char *name, size_t len)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (strlen(known[i].name) == len && memcmp(known[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* check_line - one "name=value" line; the known attribute's index in *k */
static mv_policyreq_status check_line(const char *p, size_t n, int *k)
{
    const char *eq = memchr(p, '=', n);

    if (eq == NULL)
        return MV_PREQ_NO_EQUALS;
    if (eq == p)
        return MV_PREQ_BAD_NAME;
    for (const char *q = p; q < eq; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_'))
            return MV_PREQ_BAD_NAME;
    *k = known_index(p, (size_t)(eq - p));
    return MV_PREQ_DONE;
}

/* scan - pass one: the request's length in *used, or why not */
static mv_policyreq_status scan(const char *buf, size_t len, const mv_policyreq_limits *lim, size_t *used)
{
    bool seen[NKNOWN] = {false};
    size_t pos = 0, attrs = 0;

    for (;;) {
        size_t n = 0, term = 0;
        int k = -1;
        mv_policyreq_status st = line_end(buf + pos, len - pos, lim->max_line, &n, &term);

        if (st == MV_PREQ_MORE && len >= lim->max_request)
            return MV_PREQ_TOO_BIG; /* no end within the request's bound */
        if (st != MV_PREQ_DONE)
            return st;
        if (pos + n + term > lim->max_request)
            return MV_PREQ_TOO_BIG;
        if (n == 0) {
            *used = pos + term;
            return attrs == 0 ? MV_PREQ_EMPTY : MV_PREQ_DONE;
        }
        if (++attrs > lim->max_attrs)
            return MV_PREQ_TOO_MANY;
        if ((st = check_line(buf + pos, n, &k)) != MV_PREQ_DONE)
            return st;
        if (k >= 0 && seen[k])
            return MV_PREQ_DUPLICATE;
        if (k >= 0)
            seen[k] = true;
        pos += n + term;
    }
}

/* split - pass two: NUL-terminate each value and point the known ones at it */
static void split(char *buf, size_t used, mv_policyreq *out)
{
    char *p = buf, *end = buf + used;

    memset(out, 0, sizeof(*out));
    while (p < end && *p != '\n' && *p != '\r') {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eq = memchr(p, '=', (size_t)(nl - p));
        int k = known_index(p, (size_t)(eq - p));

        *nl = '\0';
        if (nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
        if (k >= 0)
            *(const char **)(void *)((char *)out + known[k].off) = eq + 1;
        out->attrs++;
        p = nl + 1;
    }
}

/* mv_policyreq_parse - the request at the start of buf[0..len) */
mv_policyreq_status mv_policyreq_parse(char *buf, size_t len, const mv_policyreq_limits *lim,
                                       mv_policyreq *out, size_t *used)
{
    size_t n = 0;
    mv_policyreq_status st = scan(buf, len, lim, &n);

    if (st != MV_PREQ_DONE)
        return st;
    split(buf, n, out);
    *used = n;
    return MV_PREQ_DONE;
}

/* mv_policyreq_error_text - what a status means, for the log */
const char *mv_policyreq_error_text(mv_policyreq_status s)
{
    static const char *const text[] = {
        [MV_PREQ_DONE] = "complete request",
        [MV_PREQ_MORE] = "incomplete request",
        [MV_PREQ_LINE_TOO_LONG] = "request line too long",
        [MV_PREQ_TOO_MANY] = "too many attributes",
        [MV_PREQ_TOO_BIG] = "request too large",
        [MV_PREQ_NUL] = "NUL byte in request",
        [MV_PREQ_CONTROL] = "control byte in request",
        [MV_PREQ_NO_EQUALS] = "line is not name=value",
        [MV_PREQ_BAD_NAME] = "bad attribute name",
        [MV_PREQ_DUPLICATE] = "attribute given twice",
        [MV_PREQ_EMPTY] = "empty request",
    };

    return (unsigned)s < sizeof(text) / sizeof(*text) && text[s] ? text[s] : "unknown status";
}
