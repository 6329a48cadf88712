/*
 * classify.h - what a mail server's reply means for the address.
 *
 * The one place where SMTP replies become reasons (STYLE.md: map result
 * codes to reason identifiers in exactly one function). The enhanced
 * status code (RFC 3463) decides when there is one; the basic code when
 * there is not; the reply text only as a last resort, and only to tell
 * apart what codes cannot: a greylisting 450 from another 450, a policy
 * block ("blocked using zen.spamhaus.org") from a 550 for an unknown user.
 * A rejection of our HELO or MAIL FROM says nothing about the mailbox:
 * that is blocked_by_server, never rejected_email.
 */
#ifndef MV_CLASSIFY_H
#define MV_CLASSIFY_H

#include "probe.h"
#include "verdict.h"

/* mv_classify_rcpt - the reason for a reply to RCPT TO */
mv_reason mv_classify_rcpt(const mv_smtp_answer *a);

/* mv_classify_session - the reason when a session ended before RCPT */
mv_reason mv_classify_session(const mv_probe_result *r);

/* mv_classify_greylist - does a 4xx reply look like greylisting? */
bool mv_classify_greylist(const mv_smtp_answer *a);

/* mv_classify_retry_after - seconds a greylisting reply asks us to wait, or 0 */
unsigned mv_classify_retry_after(const mv_smtp_answer *a);

#endif
