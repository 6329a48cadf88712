/* SPDX-License-Identifier: MIT */
/*
 * rules.h - reply knowledge and provider profiles, kept as data.
 *
 * Large providers and mail security gateways do not all read RFC 3463 the
 * same way: Microsoft 365 refuses an unknown recipient with 5.4.1 under
 * Directory-Based Edge Blocking, Exchange says 5.1.10 for "recipient not
 * found" (RFC 7505 gives 5.1.10 to a null MX), some providers send no
 * enhanced code at all, and a reputation block must never read as "no such
 * mailbox". What each of them means lives in a rules table (etc/replies.conf,
 * compiled in as "builtin", extended by the admin's own rules in
 * mailverify.conf, which are consulted first), each rule citing its public
 * source. A rule matches on any of: the MX host (an exact name, ".suffix"
 * for a domain and its subdomains, or a shell pattern "*.outlook.com"),
 * the SMTP stage, the reply code ("550", "55x", "5xx"), the enhanced code
 * ("5.4.1", "5.7.x", "none"), and the text (case-insensitive substrings,
 * any of a list, or a POSIX extended regex); it gives a reason and whether
 * the reply is temporary. The first rule that matches wins.
 *
 * Profiles, keyed by MX host pattern too, shape the probe for a provider:
 * recipients per session, sessions per host, back-off after a refusal,
 * whether an accepted RCPT means anything, whether to probe for catch-all.
 *
 * The table is outside data (an admin's file): every string is bounded,
 * every regex compiled at load, every error reported "file:line: ..." all at
 * once through mv_diag.
 */
#ifndef MV_RULES_H
#define MV_RULES_H

#include "diag.h"
#include "verdict.h"

#include <stdbool.h>

#define MV_RULES_MAX 4096    /* rules in one table */
#define MV_RULE_TEXTS_MAX 32 /* substrings in one rule's text list */
#define MV_RULE_STR_MAX 512  /* any one string of a rule */

/* Where in the SMTP dialogue a reply came. */
typedef enum {
    MV_STAGE_CONNECT, /* no reply: the connection itself */
    MV_STAGE_BANNER,
    MV_STAGE_EHLO, /* EHLO or HELO */
    MV_STAGE_STARTTLS,
    MV_STAGE_MAIL,
    MV_STAGE_RCPT,
    MV_STAGE_DATA, /* never sent by the probe; corpus and rules only */
    MV_STAGE_COUNT
} mv_stage;

/* What an accepted RCPT means at a provider. */
typedef enum {
    MV_RCPT_MEANINGFUL, /* 250 means the mailbox exists (the default) */
    MV_RCPT_ACCEPT_ALL, /* 250 to everything: risky/accept_all */
    MV_RCPT_UNKNOWN,    /* 250 says nothing: unknown/unverified */
} mv_rcpt_trust;

typedef struct {
    char name[64];
    unsigned max_rcpt;      /* recipients per session; 0: smtp.max_rcpt_per_session */
    unsigned host_sessions; /* concurrent sessions per MX address; 0: smtp.host_sessions */
    unsigned backoff_s;     /* after a refusal or tarpit; 0: smtp.backoff_s */
    mv_rcpt_trust rcpt;
    int catch_all_check; /* -1: smtp.catch_all_check; 0 never; 1 yes */
} mv_profile;

/* The reading of one reply: what it means, and why. */
typedef struct {
    mv_reason reason;
    bool temporary;   /* nothing lasting: retry later, no long back-off */
    const char *rule; /* the deciding rule's name, or NULL */
    char why[160];    /* for traces: "rule m365-dbeb (replies.conf:12)", "enhanced code 5.1.1" */
} mv_reading;

typedef struct mv_rules mv_rules;

/* mv_rules_load_file - a table file (the replies.conf format: `rules` and
 * `profiles` lists) or "builtin" for the shipped one; NULL with every error
 * in d (file:line) when it does not load */
mv_rules *mv_rules_load_file(const char *path, mv_diag *d);

/* mv_rules_free - NULL is fine */
void mv_rules_free(mv_rules *r);

/* mv_rules_count - rules and profiles held */
size_t mv_rules_count(const mv_rules *r);
size_t mv_rules_profile_count(const mv_rules *r);

/* mv_rules_match - the first rule matching the reply, into out; false if none */
bool mv_rules_match(const mv_rules *r, const char *host, mv_stage stage, const mv_smtp_answer *a,
                    mv_reading *out);

/* One rule as the table's tests see it. */
typedef struct {
    const char *name;
    mv_reason reason;
    const char *example; /* a real reply the rule is for (multi-line: "\n"), or NULL */
    const char *host;    /* its first host pattern, or NULL */
    mv_stage stage;      /* its first stage (rcpt when any) */
} mv_rule_info;

/* mv_rules_rule - the i-th rule; false past the end */
bool mv_rules_rule(const mv_rules *r, size_t i, mv_rule_info *info);

/* mv_rules_rule_matches - does the i-th rule itself match the reply? */
bool mv_rules_rule_matches(const mv_rules *r, size_t i, const char *host, mv_stage stage,
                           const mv_smtp_answer *a);

struct config_setting_t;

/* mv_rules_from_settings - a table from parsed `rules` and `profiles`
 * lists (either may be NULL), as mailverify.conf's replies.rules and
 * replies.profiles; name is the file for messages; NULL on any error */
mv_rules *mv_rules_from_settings(const struct config_setting_t *rules,
                                 const struct config_setting_t *profiles, const char *name, mv_diag *d);

/* mv_rules_profile - the first profile whose pattern matches the MX host, or NULL */
const mv_profile *mv_rules_profile(const mv_rules *r, const char *host);

/* mv_stage_name, mv_stage_lookup - "banner", "rcpt", ...; -1 if unknown */
const char *mv_stage_name(mv_stage s);
int mv_stage_lookup(const char *name);

#endif
