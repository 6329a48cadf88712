/*
 * replies.h - the SMTP reply a milter gives for a verdict it refuses.
 *
 * One table, one function: what a sender's MTA (and the person reading a
 * bounce) sees when mailverifyd blocks or tempfails an address. Codes
 * follow RFC 5321 and RFC 3463 and the wording Postfix admins know
 * ("Recipient address rejected: ..."): 5.1.1 unknown mailbox, 5.1.2 bad
 * domain, 5.1.10 null MX, 5.1.3 bad syntax, 5.2.x mailbox state, 5.7.1
 * policy; 5.1.7/5.1.8 for senders; 4.x.x when the answer is "later".
 */
#ifndef MV_REPLIES_H
#define MV_REPLIES_H

#include "verdict.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char code[4];               /* "550" */
    char enh[12];               /* "5.1.1" */
    char text[800];             /* safe for smfi_setreply: printable, "%" doubled */
} mv_milter_reply;

/* mv_milter_reply_for - the reply for a verdict whose action is block or tempfail */
void mv_milter_reply_for(const mv_verdict *v, bool sender, mv_milter_reply *out);

/* mv_milter_reply_dha - the reply when a client spent its unknown-recipient budget */
void mv_milter_reply_dha(mv_milter_reply *out);

/* mv_milter_safe_text - printable ASCII copy, "%" doubled, control bytes dropped */
void mv_milter_safe_text(char *out, size_t size, const char *in);

#endif
