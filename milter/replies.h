/* SPDX-License-Identifier: MIT */
/*
 * replies.h - the SMTP reply a milter gives for a verdict it refuses.
 *
 * One table, one function: what a sender's MTA (and the person reading a
 * bounce) sees when mailverifyd blocks or tempfails an address. Codes
 * follow RFC 5321 and RFC 3463 and the wording Postfix admins know
 * ("Recipient address rejected: ..."): 5.1.1 unknown mailbox, 5.1.2 bad
 * domain, 5.1.10 null MX, 5.1.3 bad syntax, 5.2.x mailbox state, 5.7.1
 * policy; 5.1.7/5.1.8 for senders; 4.x.x when the answer is "later".
 *
 * The Postfix policy listener answers with access(5) actions built from
 * the same rows: a block is "550 5.1.1 mailbox does not exist" (a reject
 * action with the milter's code; Postfix writes "<addr>: Recipient address
 * rejected: " before the text, as the milter's text has it), a tempfail
 * DEFER_IF_PERMIT or DEFER with the same enhanced code (Postfix's
 * access_map_defer_code, 450, replaces 451), warn PREPEND with the
 * milter's header, review HOLD (or PREPEND), accept DUNNO.
 */
#ifndef MV_REPLIES_H
#define MV_REPLIES_H

#include "config.h"
#include "milter_config.h"
#include "verdict.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char code[4];   /* "550" */
    char enh[12];   /* "5.1.1" */
    char text[800]; /* safe for smfi_setreply: printable, "%" doubled */
} mv_milter_reply;

/* mv_milter_reply_for - the reply for a verdict whose action is block or tempfail */
void mv_milter_reply_for(const mv_verdict *v, bool sender, mv_milter_reply *out);

/* mv_milter_reply_dha - the reply when a client spent its unknown-recipient budget */
void mv_milter_reply_dha(mv_milter_reply *out);

/* mv_milter_safe_text - printable ASCII copy, "%" doubled, control bytes dropped */
void mv_milter_safe_text(char *out, size_t size, const char *in);

/* mv_milter_ascii - printable ASCII for logs, headers and policy answers:
 * any other byte as "?" (no CR/LF can get through) */
void mv_milter_ascii(char *out, size_t size, const char *in, size_t len);

/* mv_milter_verdict_line - the log line the milter and the policy listener
 * write for a verdict: queue id, address (printable), client, verdict, the
 * caller's extra words, time, cache, and what the network said */
void mv_milter_verdict_line(char *out, size_t size, const char *qid, bool sender, const char *addr,
                            const char *who, const mv_verdict *v, const char *extra);

/* mv_milter_note - the header value "warn" (and "review" as a header) adds */
void mv_milter_note(const mv_verdict *v, bool sender, char *out, size_t size);

/* How the policy listener words its answers (mailverify.conf, milter.*). */
typedef struct {
    mv_policy_tempfail tempfail; /* DEFER_IF_PERMIT or DEFER */
    mv_review_mode review;       /* HOLD, or PREPEND the header */
    const char *header;          /* "X-Mailverify" */
} mv_policy_style;

/* mv_policy_action - the answer for a verdict, the text after "action=":
 * printable ASCII, no CR or LF, whatever the address held */
void mv_policy_action(const mv_verdict *v, bool sender, const mv_policy_style *st, char *out, size_t size);

/* mv_policy_action_dha - the answer when a client spent its budget */
void mv_policy_action_dha(const mv_policy_style *st, char *out, size_t size);

#endif
