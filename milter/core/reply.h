/* SPDX-License-Identifier: MIT */
/*
 * reply.h - SMTP reply parsing (RFC 5321 4.2, RFC 3463 enhanced codes).
 *
 * A mail server's reply is outside input like any other: it may be one
 * line or a thousand, end in CRLF or LF, carry an enhanced status code or
 * not, arrive a byte at a time, or never end. The parser is incremental
 * (feed it what the socket gave), bounded (line length, line count, total
 * bytes), and keeps only what classification needs: the basic code, the
 * enhanced code, and the text, cleaned of control characters.
 */
#ifndef MV_REPLY_H
#define MV_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define MV_REPLY_LINE_MAX 2048 /* RFC says 512; real servers exceed it */
#define MV_REPLY_LINES_MAX 128
#define MV_REPLY_TEXT_MAX 512 /* text kept for logs and classification */

typedef enum {
    MV_REPLY_MORE,  /* feed more bytes */
    MV_REPLY_DONE,  /* a complete reply is in the parser */
    MV_REPLY_ERROR, /* not SMTP, or over a limit: drop the session */
} mv_reply_status;

typedef enum {
    MV_REPLY_OK = 0,
    MV_REPLY_BAD_CODE,    /* a line does not start with 3 digits */
    MV_REPLY_MIXED_CODES, /* continuation lines with another code */
    MV_REPLY_LONG_LINE,
    MV_REPLY_TOO_MANY_LINES,
    MV_REPLY_NUL, /* a NUL byte in a reply */
} mv_reply_error;

typedef struct {
    int code;   /* 200..599 */
    int enh[3]; /* enhanced status code, or {0,0,0} */
    size_t lines;
    char text[MV_REPLY_TEXT_MAX]; /* every line's text, joined by " " */
    size_t text_len;
} mv_reply;

typedef struct {
    mv_reply r;
    mv_reply_error error;
    char line[MV_REPLY_LINE_MAX];
    size_t line_len;
} mv_reply_parser;

/* mv_reply_init - ready for a new reply */
void mv_reply_init(mv_reply_parser *p);

/* mv_reply_feed - consume bytes; *used says how many (a reply may end mid-buffer) */
mv_reply_status mv_reply_feed(mv_reply_parser *p, const char *data, size_t len, size_t *used);

/* mv_reply_has_enh - did the reply carry an enhanced status code? */
bool mv_reply_has_enh(const mv_reply *r);

/* mv_reply_error_name - a parse error as text */
const char *mv_reply_error_name(mv_reply_error e);

#endif
