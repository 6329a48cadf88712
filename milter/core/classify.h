/* SPDX-License-Identifier: MIT */
/*
 * classify.h - what a mail server's reply means for the address.
 *
 * The one place where SMTP replies become reasons (STYLE.md: map result
 * codes to reason identifiers in exactly one function), in three layers
 * (DESIGN.md "Read replies in three layers"):
 *   1. the rules table (rules.h): the admin's rules, then the shipped ones;
 *   2. the RFC 3463 enhanced code;
 *   3. the basic code and the plain text.
 * Two readings of the text stand above the layers. Text that names the
 * prober -- our IP, its reputation or rate, a blocklist, our sender or
 * HELO -- always means blocked_by_server, never a word on the mailbox,
 * whatever a code or a rule says: the worst error is a false block of a
 * live mailbox. Below that, text that plainly says the mailbox does not
 * exist or is disabled beats a policy (5.7.x) subject. A rejection of our
 * HELO or MAIL FROM says nothing about the mailbox: blocked_by_server.
 */
#ifndef MV_CLASSIFY_H
#define MV_CLASSIFY_H

#include "probe.h"
#include "rules.h"
#include "verdict.h"

/* mv_classify_reply - what a reply at a stage from an MX host means: the
 * local rules, then the shipped rules (either may be NULL), then the
 * RFC 3463 enhanced code, then the basic code and text */
void mv_classify_reply(const mv_rules *local, const mv_rules *shipped, const char *host, mv_stage stage,
                       const mv_smtp_answer *a, mv_reading *out);

/* mv_classify_rcpt - the reason for a reply to RCPT TO, without rules */
mv_reason mv_classify_rcpt(const mv_smtp_answer *a);

/* mv_classify_session - the reason when a session ended before RCPT (the
 * reply that ended it read with the rules, when there was one) */
void mv_classify_session_reply(const mv_rules *local, const mv_rules *shipped, const char *host,
                               const mv_probe_result *r, mv_reading *out);

/* mv_classify_session - the same without rules */
mv_reason mv_classify_session(const mv_probe_result *r);

/* mv_classify_greylist - does a 4xx reply look like greylisting? */
bool mv_classify_greylist(const mv_smtp_answer *a);

/* mv_classify_names_prober - does the text name us (IP, reputation, rate,
 * blocklist, our sender or HELO) rather than the mailbox? */
bool mv_classify_names_prober(const char *text);

/* mv_classify_retry_after - seconds a greylisting reply asks us to wait, or 0 */
unsigned mv_classify_retry_after(const mv_smtp_answer *a);

#endif
