/* SPDX-License-Identifier: MIT */
/*
 * classify.c - SMTP replies to reasons: rules, RFC 3463, then codes and text.
 *
 * Enhanced codes, subject 1 (addressing): x.1.1 bad mailbox, x.1.2 bad
 * destination system, x.1.3 bad syntax, x.1.6 moved; x.1.7 and x.1.8 are
 * about our sender, not the recipient. x.1.10 is RFC 7505's null MX, but a
 * server we reached has an MX by definition: Exchange sends 5.1.10 for
 * "RESOLVER.ADR.RecipientNotFound", an unknown recipient. Subject 2
 * (mailbox): x.2.1 disabled, x.2.2 full. Subject 7 (security or policy): a
 * block of the probe, not a word on the mailbox -- unless the text plainly
 * says the mailbox does not exist. 4.7.x is greylisting only when the text
 * says so; otherwise a temporary error (or a temporary block, when it names
 * us). Anything else permanent is a rejection of the recipient. Without an
 * enhanced code, 552 means full (RFC 5321 "exceeded storage allocation")
 * and 5xx texts naming a blocklist or policy are blocks.
 */
#include "classify.h"

#include <ctype.h>
#include <stdio.h>
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
    "greylist",        "graylist",  "grey-list",    "gray-list", "greylisted", "postgrey",
    "try again later", "try later", "please retry", "deferred",  NULL,
};

/* Text about the prober: its address, reputation, rate, a blocklist, its
 * sender or HELO. Never a word on the recipient's mailbox. */
static const char *const prober_words[] = {
    "your ip",
    "sending ip",
    "sender ip",
    "client ip",
    "connecting ip",
    "source ip",
    "ip address",
    "client host",
    "reputation",
    "rate limit",
    "rate-limit",
    "ratelimit",
    "rate limited",
    "unusual rate",
    "too many connections",
    "too many concurrent",
    "connection limit",
    "too many messages",
    "too much mail",
    "throttl",
    "unexpected volume",
    "user complaints",
    "blocklist",
    "blacklist",
    "block list",
    "black list",
    "blocked using",
    "listed at",
    "listed in",
    "listed on",
    "spamhaus",
    "spamcop",
    "sorbs",
    "dnsbl",
    "rbl",
    "barracudacentral",
    "unsolicited",
    "spam",
    "junk mail",
    "abuse",
    "poor reputation",
    "reverse dns",
    "rdns",
    "ptr record",
    "reverse lookup",
    "dynamic ip",
    "residential",
    "dialup",
    "dial-up",
    "sender address rejected",
    "sender rejected",
    "sender domain",
    "sender verify",
    "helo command rejected",
    "helo name",
    "invalid helo",
    "bad helo",
    "helo host",
    "spf",
    "dmarc",
    "dkim",
    "relay access denied",
    "relaying denied",
    "relay not permitted",
    "unable to relay",
    "not permitted to relay",
    "[tss",
    "[ts0",
    "[bl2",
    "[rl0",
    NULL,
};

/* Text that plainly says the mailbox does not exist. */
static const char *const user_words[] = {
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "mailbox does not exist",
    "mailbox not found",
    "user not found",
    "recipient not found",
    "recipientnotfound",
    "recipient unknown",
    "unknown recipient",
    "address does not exist",
    "account does not exist",
    "does not exist",
    "doesn't exist",
    "invalid recipient",
    "invalid mailbox",
    "not a valid mailbox",
    "no mailbox",
    "unknown or illegal alias",
    "no longer in use",
    NULL,
};

/* RFC 5321's own 550 text: unknown mailbox at most servers, but too vague
 * to outrank a policy code. */
static const char *const weak_user_words[] = {
    "mailbox unavailable",
    "not found",
    NULL,
};

/* Text that plainly says the mailbox is disabled. */
static const char *const disabled_words[] = {
    "disabled", "inactive", "inactivity", "suspended", "deactivated", NULL,
};

/* Text that says the mailbox is full (some say it in German: GMX, WEB.DE). */
static const char *const full_words[] = {
    "mailbox full",     "mailbox is full",      "over quota",      "overquota",     "quota exceeded",
    "exceeded storage", "insufficient storage", "speichervolumen", "speicherplatz", NULL,
};

/* Without an enhanced code, a 5xx names the recipient only in words like
 * these; a 5xx that names nothing ("550 must be authenticated", "550
 * Message contained unsafe content") is a refusal of us, not a verdict */
static const char *const rcpt_words[] = {
    "unknown",           "no such",          "not exist", "unrouteable", "unroutable", "invalid address",
    "invalid recipient", "address rejected", "recipient", "mailbox",     "addressee",  "user",
    "account",           "no longer",        NULL,
};

/* Text that says TLS is required. */
static const char *const tls_words[] = {
    "starttls", "tls required", "requires tls", "must use tls", "encryption required", NULL,
};

/* ipv4_literal - does the text name an IPv4 address (our own, as a rule)? */
static bool ipv4_literal(const char *t)
{
    for (const char *s = t; *s; s++) {
        int parts = 0, digits = 0;
        const char *p = s;

        if (!isdigit((unsigned char)*s) || (s > t && (isdigit((unsigned char)s[-1]) || s[-1] == '.')))
            continue;
        for (; *p; p++) {
            if (isdigit((unsigned char)*p) && digits < 3) {
                digits++;
            } else if (*p == '.' && digits > 0 && parts < 3) {
                parts++;
                digits = 0;
            } else {
                break;
            }
        }
        if (parts == 3 && digits > 0 && !isdigit((unsigned char)*p) && *p != '.')
            return true;
    }
    return false;
}

/* mv_classify_names_prober - does the text name us rather than the mailbox? */
bool mv_classify_names_prober(const char *text)
{
    return any_word(text, prober_words) || ipv4_literal(text);
}

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
        return MV_R_MAILBOX_FULL; /* 5.2.2 and 4.2.2 */
    if (cls == 4)
        return mv_classify_greylist(a) ? MV_R_GREYLISTED : MV_R_TEMPORARY_ERROR;
    if (sub == 7)
        return MV_R_BLOCKED_BY_SERVER; /* 5.7.x: policy, not the mailbox */
    if (sub == 1 && det == 10)         /* null MX, or Exchange's RecipientNotFound */
        return strcasestr(a->text, "null mx") ? MV_R_NO_MAIL_SERVER : MV_R_REJECTED_EMAIL;
    if (sub == 1 && (det == 7 || det == 8))
        return MV_R_BLOCKED_BY_SERVER; /* our sender's address */
    if (sub == 1 && det == 2)
        return MV_R_INVALID_DOMAIN;
    if (sub == 2 && det == 1)
        return MV_R_MAILBOX_DISABLED;
    if (sub == 1 || sub == 2)
        return MV_R_REJECTED_EMAIL;
    return -1; /* 5.3.x, 5.4.x, 5.5.x: codes decide */
}

/* by_code - the basic code and the text, when no enhanced code decided */
static mv_reason by_code(const mv_smtp_answer *a)
{
    switch (a->code / 100) {
    case 2: return MV_R_ACCEPTED_EMAIL;
    case 4:
        if (mv_classify_greylist(a))
            return MV_R_GREYLISTED;
        if (a->code == 452 &&
            (strcasestr(a->text, "full") || strcasestr(a->text, "quota") || strcasestr(a->text, "storage")))
            return MV_R_MAILBOX_FULL;
        return MV_R_TEMPORARY_ERROR;
    case 5:
        if (a->code == 552 || any_word(a->text, full_words))
            return MV_R_MAILBOX_FULL;
        if (any_word(a->text, weak_user_words))
            return MV_R_REJECTED_EMAIL; /* "550 Requested action not taken: mailbox unavailable" */
        if (any_word(a->text, (const char *const[]){"blocked", "policy", "denied", "not allowed", "refused",
                                                    "banned", NULL}))
            return MV_R_BLOCKED_BY_SERVER;
        /* the worst error is a false block: a 5xx that names no recipient is about us */
        return any_word(a->text, rcpt_words) ? MV_R_REJECTED_EMAIL : MV_R_BLOCKED_BY_SERVER;
    default: return MV_R_TEMPORARY_ERROR; /* 1xx/3xx to RCPT: a broken server */
    }
}

/* say - a generic reading, into out */
static void say(mv_reading *out, mv_reason r, bool temporary, const char *label, const mv_smtp_answer *a)
{
    out->reason = r;
    out->temporary = temporary;
    out->rule = NULL;
    if (a->enh[0] != 0)
        snprintf(out->why, sizeof(out->why), "%s (%d %d.%d.%d)", label, a->code, a->enh[0], a->enh[1],
                 a->enh[2]);
    else
        snprintf(out->why, sizeof(out->why), "%s (%d, no enhanced code)", label, a->code);
}

/* generic_rcpt - layers 2 and 3, with the text readings above them */
static void generic_rcpt(const mv_smtp_answer *a, mv_reading *out)
{
    bool temp = a->code / 100 == 4;
    int r;

    if (a->code / 100 != 2 && mv_classify_names_prober(a->text)) {
        say(out, MV_R_BLOCKED_BY_SERVER, temp, "text names the prober (IP, reputation, rate, sender)", a);
        return;
    }
    if (a->code / 100 == 5 && any_word(a->text, tls_words)) {
        say(out, MV_R_TLS_ERROR, false, "TLS required", a);
        return;
    }
    if (a->code / 100 == 5 && any_word(a->text, user_words)) {
        say(out, MV_R_REJECTED_EMAIL, false, "text says the mailbox does not exist", a);
        return;
    }
    if (a->code / 100 == 5 && any_word(a->text, disabled_words) && !(a->enh[1] == 2 && a->enh[2] == 2)) {
        say(out, MV_R_MAILBOX_DISABLED, false, "text says the mailbox is disabled", a);
        return;
    }
    if ((r = by_enhanced(a)) >= 0) {
        say(out, (mv_reason)r, temp, "enhanced code (RFC 3463)", a);
        return;
    }
    say(out, by_code(a), temp, "basic code (no enhanced code decided)", a);
}

/* generic_session - a refusal before RCPT: about us, never the mailbox */
static void generic_session(const mv_smtp_answer *a, mv_reading *out)
{
    bool temp = a->code / 100 == 4;

    if (a->code / 100 == 2)
        say(out, MV_R_ACCEPTED_EMAIL, false, "accepted", a);
    else if (any_word(a->text, tls_words))
        say(out, MV_R_TLS_ERROR, false, "TLS required before MAIL", a);
    else if (temp && (strcasestr(a->text, "greylist") || strcasestr(a->text, "graylist") ||
                      strcasestr(a->text, "postgrey")))
        say(out, MV_R_GREYLISTED, true, "greylisting before RCPT", a);
    else if (temp && mv_classify_names_prober(a->text))
        say(out, MV_R_BLOCKED_BY_SERVER, true, "a temporary block of the prober", a);
    else if (temp)
        /* a 421 "try again later" at the banner is a busy server, not greylisting */
        say(out, MV_R_TEMPORARY_ERROR, true, "temporary refusal before RCPT", a);
    else
        say(out, MV_R_BLOCKED_BY_SERVER, false, "refused before RCPT (not a word on the mailbox)", a);
}

/* guard - what no rule may say: a mailbox verdict from text that names us */
static void guard(const mv_smtp_answer *a, mv_reading *out)
{
    if (mv_reason_status(out->reason) == MV_STATUS_UNDELIVERABLE && mv_classify_names_prober(a->text)) {
        size_t n = strlen(out->why);

        out->reason = MV_R_BLOCKED_BY_SERVER;
        out->temporary = a->code / 100 == 4;
        snprintf(out->why + n, sizeof(out->why) - n, "; overruled: the text names the prober");
    }
}

/* mv_classify_reply - what a reply at a stage from an MX host means */
void mv_classify_reply(const mv_rules *local, const mv_rules *shipped, const char *host, mv_stage stage,
                       const mv_smtp_answer *a, mv_reading *out)
{
    bool before_rcpt = stage != MV_STAGE_RCPT && stage != MV_STAGE_DATA;

    if (mv_rules_match(local, host, stage, a, out) || mv_rules_match(shipped, host, stage, a, out)) {
        /* before RCPT nothing is known of the mailbox, whatever a rule says */
        if (before_rcpt && mv_reason_status(out->reason) == MV_STATUS_UNDELIVERABLE)
            out->reason = MV_R_BLOCKED_BY_SERVER;
        guard(a, out);
        return;
    }
    if (before_rcpt)
        generic_session(a, out);
    else
        generic_rcpt(a, out);
}

/* mv_classify_rcpt - the reason for a reply to RCPT TO, without rules */
mv_reason mv_classify_rcpt(const mv_smtp_answer *a)
{
    mv_reading rd;

    mv_classify_reply(NULL, NULL, NULL, MV_STAGE_RCPT, a, &rd);
    return rd.reason;
}

/* session_stage - the stage a probe ended in, as rules name it */
static mv_stage session_stage(const char *st)
{
    int s = st ? mv_stage_lookup(st) : -1;

    if (s >= 0)
        return (mv_stage)s;
    if (st != NULL && strncmp(st, "rcpt", 4) == 0)
        return MV_STAGE_RCPT;
    if (st != NULL && strncmp(st, "tls", 3) == 0)
        return MV_STAGE_STARTTLS;
    return MV_STAGE_CONNECT;
}

/* mv_classify_session_reply - the reason when a session ended before RCPT */
void mv_classify_session_reply(const mv_rules *local, const mv_rules *shipped, const char *host,
                               const mv_probe_result *r, mv_reading *out)
{
    mv_reason reason;

    if ((r->status == MV_PROBE_BLOCKED || r->status == MV_PROBE_TEMP) && r->last.code != 0) {
        mv_classify_reply(local, shipped, host, session_stage(r->stage), &r->last, out);
        if (r->status == MV_PROBE_TEMP && !out->temporary && out->reason != MV_R_BLOCKED_BY_SERVER)
            out->temporary = true;
        return;
    }
    switch (r->status) {
    case MV_PROBE_NO_CONNECT:
    case MV_PROBE_PROTOCOL: reason = MV_R_NO_CONNECT; break;
    case MV_PROBE_BLOCKED: reason = MV_R_BLOCKED_BY_SERVER; break;
    case MV_PROBE_TLS: reason = MV_R_TLS_ERROR; break;
    case MV_PROBE_TIMEOUT:
    case MV_PROBE_CANCELLED: reason = MV_R_TIMEOUT; break;
    default: reason = MV_R_TEMPORARY_ERROR; break;
    }
    out->reason = reason;
    out->temporary = r->status != MV_PROBE_BLOCKED;
    out->rule = NULL;
    snprintf(out->why, sizeof(out->why), "session ended: %s at %s", mv_probe_status_name(r->status),
             r->stage ? r->stage : "?");
}

/* mv_classify_session - the same without rules */
mv_reason mv_classify_session(const mv_probe_result *r)
{
    mv_reading rd;

    mv_classify_session_reply(NULL, NULL, NULL, r, &rd);
    return rd.reason;
}
