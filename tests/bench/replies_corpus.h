/* SPDX-License-Identifier: MIT */
/*
 * replies_corpus.h - the reply corpus (tests/cases/replies.tsv) read once,
 * for the two programs that read it: bench_replies.c (accuracy of the
 * reply rules, make bench-replies) and tests/unit/test_corpus.c (the
 * worst-error invariant). The format is in tests/cases/README-replies.
 *
 * The file is outside input to these programs like any other: a line is
 * at most RC_LINE_MAX bytes, every field is bounded, every reply must
 * parse as one complete SMTP reply (milter/core/reply.h), and a line that
 * does not fit the format is an error with its line number -- never
 * skipped. Every error is reported (up to RC_ERRORS_SHOWN of them), so a
 * corpus is fixed in one pass.
 */
#ifndef MV_REPLIES_CORPUS_H
#define MV_REPLIES_CORPUS_H

#include "probe.h"
#include "reply.h"
#include "rules.h"
#include "verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RC_LINE_MAX 4096 /* one TSV line, newline included */
#define RC_FAMILY_MAX 32
#define RC_HOST_MAX 256
#define RC_REPLY_MAX 2048 /* the reply as written (escaped) */
#define RC_SOURCE_MAX 512
#define RC_ERRORS_SHOWN 20

static const char rc_header[] = "family\tstage\thost\texpected\treply\tsource";

typedef struct {
    int line; /* in the TSV file */
    char family[RC_FAMILY_MAX];
    mv_stage stage;
    char host[RC_HOST_MAX];
    mv_reason expected;
    char reply[RC_REPLY_MAX]; /* as written, \n between lines */
    char source[RC_SOURCE_MAX];
    mv_smtp_answer answer; /* the reply, parsed */
} rc_case;

typedef struct {
    rc_case *cases;
    size_t n, cap;
    unsigned errors;
} rc_corpus;

/* rc_undeliverable - does a reason say the address does not exist? (the
 * worst mistake is to say so of an address that may well exist) */
static inline bool rc_undeliverable(mv_reason r)
{
    return r == MV_R_REJECTED_EMAIL || r == MV_R_MAILBOX_DISABLED || r == MV_R_INVALID_DOMAIN;
}

/* rc_error - report one error, "path:line: message", counted */
static inline void rc_error(rc_corpus *c, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void rc_error(rc_corpus *c, const char *path, int line, const char *fmt, ...)
{
    va_list ap;

    if (c->errors++ >= RC_ERRORS_SHOWN)
        return;
    fprintf(stderr, "%s:%d: ", path, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* rc_copy - a field into a bounded buffer; false if it does not fit */
static inline bool rc_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* rc_wire - the written reply as it went over the wire: "\n" between
 * lines becomes CRLF, "\\" a backslash, "\t" a tab; every line ends in
 * CRLF. Returns the length, or 0 with *bad set to what was wrong. */
static inline size_t rc_wire(const char *in, char *out, size_t size, const char **bad)
{
    size_t o = 0;

    for (const char *s = in; *s; s++) {
        char ch = *s;

        if (o + 4 >= size) {
            *bad = "reply too long";
            return 0;
        }
        if (ch == '\\') {
            s++;
            if (*s == 'n') {
                out[o++] = '\r';
                out[o++] = '\n';
                continue;
            }
            if (*s == '\\' || *s == 't') {
                out[o++] = *s == 't' ? '\t' : '\\';
                continue;
            }
            *bad = "unknown escape in reply (\\n, \\t and \\\\ are known)";
            return 0;
        }
        if ((unsigned char)ch < 0x20 || ch == 0x7f) {
            *bad = "control character in reply";
            return 0;
        }
        out[o++] = ch;
    }
    out[o++] = '\r';
    out[o++] = '\n';
    out[o] = '\0';
    return o;
}

/* rc_parse_reply - the reply through milter/core/reply.c, into the
 * answer the probe would have seen; NULL, or what was wrong */
static inline const char *rc_parse_reply(rc_case *k)
{
    static char wire[RC_REPLY_MAX + 256];
    mv_reply_parser p;
    const char *bad = NULL;
    size_t len = rc_wire(k->reply, wire, sizeof(wire), &bad), used = 0;
    mv_reply_status st;

    if (len == 0)
        return bad;
    mv_reply_init(&p);
    st = mv_reply_feed(&p, wire, len, &used);
    if (st == MV_REPLY_ERROR)
        return mv_reply_error_name(p.error);
    if (st != MV_REPLY_DONE)
        return "reply does not end (a continuation line \"NNN-\" last?)";
    if (used != len)
        return "more than one reply (a line with \"NNN \" before the last?)";
    mv_probe_answer(&p.r, &k->answer); /* as the probe keeps it */
    return NULL;
}

/* rc_parse_line - one data line (newline removed) into k; false after
 * reporting what is wrong */
static inline bool rc_parse_line(rc_corpus *c, const char *path, int line, char *s, rc_case *k)
{
    char *f[7];
    int n = 0, st, rs;
    const char *bad;

    f[n++] = s;
    for (char *p = s; *p; p++) {
        if (*p != '\t')
            continue;
        *p = '\0';
        if (n == 6) {
            rc_error(c, path, line, "more than 6 fields");
            return false;
        }
        f[n++] = p + 1;
    }
    if (n != 6) {
        rc_error(c, path, line, "%d fields, 6 expected (family stage host expected reply source)", n);
        return false;
    }
    for (int i = 0; i < 6; i++)
        if (f[i][0] == '\0' || f[i][0] == ' ' || f[i][strlen(f[i]) - 1] == ' ') {
            rc_error(c, path, line, "field %d is empty or has a leading or trailing space", i + 1);
            return false;
        }
    memset(k, 0, sizeof(*k));
    k->line = line;
    if (!rc_copy(k->family, sizeof(k->family), f[0]) || !rc_copy(k->host, sizeof(k->host), f[2]) ||
        !rc_copy(k->reply, sizeof(k->reply), f[4]) || !rc_copy(k->source, sizeof(k->source), f[5])) {
        rc_error(c, path, line, "a field is too long");
        return false;
    }
    for (const char *p = k->family; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            rc_error(c, path, line, "family \"%s\": lower-case letters, digits and '-' only", k->family);
            return false;
        }
    st = mv_stage_lookup(f[1]);
    if (st < 0 || (st != MV_STAGE_BANNER && st != MV_STAGE_EHLO && st != MV_STAGE_MAIL &&
                   st != MV_STAGE_RCPT && st != MV_STAGE_DATA)) {
        rc_error(c, path, line, "stage \"%s\": banner, ehlo, mail, rcpt or data", f[1]);
        return false;
    }
    k->stage = (mv_stage)st;
    rs = mv_reason_lookup(f[3]);
    if (rs < 0) {
        rc_error(c, path, line, "expected \"%s\" is not a reason identifier", f[3]);
        return false;
    }
    k->expected = (mv_reason)rs;
    if ((bad = rc_parse_reply(k)) != NULL) {
        rc_error(c, path, line, "reply: %s", bad);
        return false;
    }
    return true;
}

/* rc_add - append a case, growing the array; false when out of memory */
static inline bool rc_add(rc_corpus *c, const rc_case *k)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 512;
        rc_case *p = realloc(c->cases, cap * sizeof(*p));

        if (p == NULL)
            return false;
        c->cases = p;
        c->cap = cap;
    }
    c->cases[c->n++] = *k;
    return true;
}

/* rc_free - NULL-safe */
static inline void rc_free(rc_corpus *c)
{
    free(c->cases);
    memset(c, 0, sizeof(*c));
}

/* rc_dup_check - an exact duplicate (stage, host, reply) is an error */
static inline void rc_dup_check(rc_corpus *c, const char *path)
{
    for (size_t i = 1; i < c->n; i++)
        for (size_t j = 0; j < i; j++)
            if (c->cases[i].stage == c->cases[j].stage && strcmp(c->cases[i].reply, c->cases[j].reply) == 0 &&
                strcmp(c->cases[i].host, c->cases[j].host) == 0) {
                rc_error(c, path, c->cases[i].line, "duplicate of line %d", c->cases[j].line);
                break;
            }
}

/* rc_load - the whole corpus; 0, or -1 after reporting every error on
 * stderr (the caller frees c either way) */
static inline int rc_load(const char *path, rc_corpus *c)
{
    static char buf[RC_LINE_MAX + 1];
    static rc_case k;
    FILE *f = fopen(path, "r");
    int line = 0;

    memset(c, 0, sizeof(*c));
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        c->errors++;
        return -1;
    }
    while (fgets(buf, sizeof(buf), f) != NULL) {
        size_t len = strlen(buf);

        line++;
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        else if (!feof(f)) {
            int ch;

            rc_error(c, path, line, "line longer than %d bytes", RC_LINE_MAX - 1);
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            continue;
        }
        if (len > 0 && buf[len - 1] == '\r') {
            rc_error(c, path, line, "CRLF line end (the file is LF only)");
            continue;
        }
        if (strlen(buf) != len) {
            rc_error(c, path, line, "NUL byte in line");
            continue;
        }
        if (line == 1) {
            if (strcmp(buf, rc_header) != 0)
                rc_error(c, path, line, "the first line must be the header \"%s\"",
                         "family<TAB>stage<TAB>host<TAB>expected<TAB>reply<TAB>source");
            continue;
        }
        if (len == 0 || buf[0] == '#')
            continue;
        if (rc_parse_line(c, path, line, buf, &k) && !rc_add(c, &k)) {
            fprintf(stderr, "%s: out of memory\n", path);
            c->errors++;
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        c->errors++;
    }
    fclose(f);
    if (line == 0)
        rc_error(c, path, 0, "empty file");
    rc_dup_check(c, path);
    if (c->errors > RC_ERRORS_SHOWN)
        fprintf(stderr, "%s: %u errors (%d shown)\n", path, c->errors, RC_ERRORS_SHOWN);
    return c->errors ? -1 : 0;
}

#endif
