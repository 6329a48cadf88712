/*
 * classify.c - SMTP replies to reasons, in the order RFC 3463 implies.
 *
 * Enhanced codes, subject 1 (addressing): x.1.1 bad mailbox, x.1.2 bad
 * destination system, x.1.3 bad syntax, x.1.6 moved, x.1.10 null MX.
 * Subject 2 (mailbox): x.2.1 disabled, x.2.2 full. Subject 7 (security or
 * policy): a block of the probe, not a word on the mailbox. Anything else
 * permanent is a rejection of the recipient; anything else temporary is a
 * temporary error, or greylisting when the text says so. Without an
 * enhanced code, 552 means full (RFC 5321 "exceeded storage allocation")
 * and 5xx texts naming a blocklist or policy are blocks.
 */
#include "classify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* any_word - does text contain any of the words (case-insensitive)? */
static bool any_word(const char *text, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcasestr(text, *words) != NULL)
            return true;
    return false;
}

static const char *const grey_words[] = {
    "greylist", "graylist", "grey-list", "gray-list", "greylisted", "postgrey",
    "try again later", "try later", "please retry", "deferred", NULL,
};

static const char *const block_words[] = {
    "blocked", "blacklist", "blocklist", "spamhaus", "spamcop", "barracuda", "rbl",
    "dnsbl", "reputation", "policy", "denied", "not allowed", "refused", "banned",
    "abuse", "spam", NULL,
};

static const char *const user_words[] = {
    "user unknown", "unknown user", "no such user", "no such mailbox", "mailbox unavailable",
    "does not exist", "doesn't exist", "not found", "invalid recipient", "recipient unknown",
    "unknown recipient", "no mailbox", NULL,
};

/* mv_classify_greylist - does a 4xx reply look like greylisting? */
bool mv_classify_greylist(const mv_smtp_answer *a)
{
    return a->code / 100 == 4 && any_word(a->text, grey_words);
}

/* mv_classify_retry_after - seconds a greylisting reply asks us to wait, or 0 */
unsigned mv_classify_retry_after(const mv_smtp_answer *a)
{
    /* "try again in 300 seconds", "retry in 5 minutes" */
    for (const char *s = a->text; *s; s++) {
        char *end;
        unsigned long v;

        if (*s < '0' || *s > '9' || (s > a->text && s[-1] >= '0' && s[-1] <= '9'))
            continue;
        v = strtoul(s, &end, 10);
        while (*end == ' ')
            end++;
        if (v == 0 || v > 86400)
            continue;
        if (strncasecmp(end, "sec", 3) == 0 || strncasecmp(end, "s ", 2) == 0 || *end == 's')
            return (unsigned)v;
        if (strncasecmp(end, "min", 3) == 0)
            return (unsigned)(v * 60 > 86400 ? 86400 : v * 60);
    }
    return 0;
}

/* by_enhanced - the reason for an enhanced code, or -1 if it says nothing */
static int by_enhanced(const mv_smtp_answer *a)
{
    int cls = a->enh[0], sub = a->enh[1], det = a->enh[2];

    if (cls == 0)
        return -1;
    if (cls == 2)
        return MV_R_ACCEPTED_EMAIL;
    if (sub == 2 && det == 2)
        return MV_R_MAILBOX_FULL;           /* 5.2.2 and 4.2.2 */
    if (cls == 4)
        return mv_classify_greylist(a) || sub == 7 ? MV_R_GREYLISTED : MV_R_TEMPORARY_ERROR;
    if (sub == 7)
        return MV_R_BLOCKED_BY_SERVER;      /* 5.7.x: policy, not the mailbox */
    if (sub == 1 && det == 10)
        return MV_R_NO_MAIL_SERVER;         /* 5.1.10: null MX (RFC 7505) */
    if (sub == 1 && det == 2)
        return MV_R_INVALID_DOMAIN;
    if (sub == 2 && det == 1)
        return MV_R_MAILBOX_DISABLED;
    if (sub == 1 || sub == 2)
        return MV_R_REJECTED_EMAIL;
    return -1;                              /* 5.3.x, 5.4.x, 5.5.x: codes decide */
}

/* mv_classify_rcpt - the reason for a reply to RCPT TO */
mv_reason mv_classify_rcpt(const mv_smtp_answer *a)
{
    int r = by_enhanced(a);

    if (r >= 0)
        return (mv_reason)r;
    switch (a->code / 100) {
    case 2:
        return MV_R_ACCEPTED_EMAIL;
    case 4:
        if (mv_classify_greylist(a))
            return MV_R_GREYLISTED;
        if (a->code == 452 && (strcasestr(a->text, "full") || strcasestr(a->text, "quota") ||
                               strcasestr(a->text, "storage")))
            return MV_R_MAILBOX_FULL;
        return MV_R_TEMPORARY_ERROR;
    case 5:
        if (a->code == 552)
            return MV_R_MAILBOX_FULL;
        if (any_word(a->text, user_words))
            return MV_R_REJECTED_EMAIL;     /* "550 ... denied: user unknown" */
        if (any_word(a->text, block_words))
            return MV_R_BLOCKED_BY_SERVER;
        if (strcasestr(a->text, "disabled") || strcasestr(a->text, "inactive") ||
            strcasestr(a->text, "suspended"))
            return MV_R_MAILBOX_DISABLED;
        return MV_R_REJECTED_EMAIL;
    default:
        return MV_R_TEMPORARY_ERROR;        /* 1xx/3xx to RCPT: a broken server */
    }
}

/* mv_classify_session - the reason when a session ended before RCPT */
mv_reason mv_classify_session(const mv_probe_result *r)
{
    switch (r->status) {
    case MV_PROBE_NO_CONNECT:
    case MV_PROBE_PROTOCOL:
        return MV_R_NO_CONNECT;
    case MV_PROBE_TEMP:
        /* a 421 "try again later" at the banner is a busy server, not
         * greylisting: only say greylisted when the server says so */
        return strcasestr(r->last.text, "greylist") || strcasestr(r->last.text, "graylist") ||
               strcasestr(r->last.text, "postgrey") ? MV_R_GREYLISTED : MV_R_TEMPORARY_ERROR;
    case MV_PROBE_BLOCKED:
        return MV_R_BLOCKED_BY_SERVER;
    case MV_PROBE_TLS:
        return MV_R_TLS_ERROR;
    case MV_PROBE_TIMEOUT:
    case MV_PROBE_CANCELLED:
        return MV_R_TIMEOUT;
    case MV_PROBE_DONE:
        break;
    }
    return MV_R_TEMPORARY_ERROR;
}
