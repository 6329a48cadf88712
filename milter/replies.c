/* SPDX-License-Identifier: MIT */
/*
 * replies.c - verdict to SMTP reply; see replies.h.
 *
 * The address in the text is the normalized one, made safe: libmilter
 * refuses a reply with CR or LF and treats "%" as a format character, and
 * a bounce is read by people on any terminal, so only printable ASCII goes
 * out ("%" doubled, other bytes as "?").
 */
#include "replies.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    mv_reason reason;
    const char *code, *enh, *what;
} row;

/* Permanent refusals of a recipient. */
static const row rcpt_block[] = {
    {MV_R_INVALID_SYNTAX, "501", "5.1.3", "bad address syntax"},
    {MV_R_INVALID_DOMAIN, "550", "5.1.2", "domain does not exist"},
    {MV_R_NO_MAIL_SERVER, "556", "5.1.10", "domain does not accept mail"},
    {MV_R_REJECTED_EMAIL, "550", "5.1.1", "mailbox does not exist"},
    {MV_R_MAILBOX_DISABLED, "550", "5.2.1", "mailbox is disabled"},
    {MV_R_MAILBOX_FULL, "552", "5.2.2", "mailbox is full"},
};

/* Permanent refusals of a sender: x.1.7 bad sender syntax, x.1.8 bad
 * sender's system (RFC 3463). */
static const row sender_block[] = {
    {MV_R_INVALID_SYNTAX, "553", "5.1.7", "bad address syntax"},
    {MV_R_INVALID_DOMAIN, "550", "5.1.8", "domain does not exist"},
    {MV_R_NO_MAIL_SERVER, "550", "5.1.8", "domain does not accept mail, so it cannot receive replies"},
    {MV_R_REJECTED_EMAIL, "550", "5.1.8", "mailbox does not exist"},
    {MV_R_MAILBOX_DISABLED, "550", "5.1.8", "mailbox is disabled"},
};

/* mv_milter_safe_text - printable ASCII copy, "%" doubled, control bytes dropped */
void mv_milter_safe_text(char *out, size_t size, const char *in)
{
    size_t n = 0;

    for (; *in && n + 3 < size; in++) {
        unsigned char c = (unsigned char)*in;

        if (c == '%') {
            out[n++] = '%';
            out[n++] = '%';
        } else if (c >= 0x20 && c < 0x7F) {
            out[n++] = (char)c;
        } else if (c >= 0x80) {
            out[n++] = '?';
        }
    }
    out[n] = '\0';
}

/* find - a reason's row in a table, or NULL */
static const row *find(const row *t, size_t n, mv_reason r)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].reason == r)
            return &t[i];
    return NULL;
}

/* words - a reason for people: "role_account" -> "role account" */
static void words(char *out, size_t size, mv_reason r)
{
    snprintf(out, size, "%s", mv_reason_name(r));
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = ' ';
}

/* permanent - a 5xx for a blocked address */
static void permanent(const mv_verdict *v, bool sender, const char *addr, mv_milter_reply *out)
{
    const row *r = sender ? find(sender_block, sizeof(sender_block) / sizeof(*sender_block), v->reason)
                          : find(rcpt_block, sizeof(rcpt_block) / sizeof(*rcpt_block), v->reason);
    const char *who = sender ? "Sender" : "Recipient";
    char w[64];

    if (r != NULL) {
        snprintf(out->code, sizeof(out->code), "%s", r->code);
        snprintf(out->enh, sizeof(out->enh), "%s", r->enh);
        snprintf(out->text, sizeof(out->text), "<%s>: %s address rejected: %s", addr, who, r->what);
        return;
    }
    /* disposable, role, accept-all, a free provider ...: the site's policy */
    words(w, sizeof(w), v->reason);
    snprintf(out->code, sizeof(out->code), "550");
    snprintf(out->enh, sizeof(out->enh), "5.7.1");
    snprintf(out->text, sizeof(out->text), "<%s>: %s address rejected: not accepted here (%s)", addr, who, w);
}

/* temporary - a 4xx for an address to try again later */
static void temporary(const mv_verdict *v, bool sender, const char *addr, mv_milter_reply *out)
{
    const char *who = sender ? "Sender" : "Recipient";
    char w[64];

    words(w, sizeof(w), v->reason);
    if (v->reason == MV_R_MAILBOX_FULL) {
        snprintf(out->code, sizeof(out->code), "452");
        snprintf(out->enh, sizeof(out->enh), "4.2.2");
        snprintf(out->text, sizeof(out->text),
                 "<%s>: %s address rejected: mailbox is full, "
                 "try again later",
                 addr, who);
        return;
    }
    snprintf(out->code, sizeof(out->code), "451");
    snprintf(out->enh, sizeof(out->enh), sender ? "4.1.8" : "4.4.3");
    snprintf(out->text, sizeof(out->text),
             "<%s>: %s address verification failed for now (%s), "
             "try again later",
             addr, who, w);
}

/* mv_milter_reply_for - the reply for a verdict whose action is block or tempfail */
void mv_milter_reply_for(const mv_verdict *v, bool sender, mv_milter_reply *out)
{
    char norm[MV_MAILBOX_MAX + 8], safe[MV_MAILBOX_MAX * 2 + 8];
    mv_milter_reply raw;

    if (v->addr.error != MV_SYN_OK || mv_address_format(&v->addr, norm, sizeof(norm)) == 0) {
        /* the MTA hands the address over as "<addr>": the text adds its own brackets */
        const char *in = v->input;
        size_t len = v->input_len;

        if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
            in++;
            len -= 2;
        }
        snprintf(norm, sizeof(norm), "%.*s", (int)(len > 200 ? 200 : len), in);
    }
    mv_milter_safe_text(safe, sizeof(safe), norm);
    if (v->action == MV_ACT_TEMPFAIL)
        temporary(v, sender, safe, &raw);
    else
        permanent(v, sender, safe, &raw);
    *out = raw;
}

/* mv_milter_reply_dha - the reply when a client spent its unknown-recipient budget */
void mv_milter_reply_dha(mv_milter_reply *out)
{
    snprintf(out->code, sizeof(out->code), "451");
    snprintf(out->enh, sizeof(out->enh), "4.7.1");
    snprintf(out->text, sizeof(out->text),
             "Too many unknown recipients from your address; "
             "try again later");
}

/* mv_milter_ascii - printable ASCII: any other byte as "?" */
void mv_milter_ascii(char *out, size_t size, const char *in, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char)in[i];

        out[n++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    out[n] = '\0';
}

/* mv_milter_verdict_line - one verdict's log line (without a trailing newline) */
void mv_milter_verdict_line(char *out, size_t size, const char *qid, bool sender, const char *addr,
                            const char *who, const mv_verdict *v, const char *extra)
{
    char detail[200];

    mv_milter_ascii(detail, sizeof(detail), v->net.detail, strlen(v->net.detail));
    snprintf(out, size, "%s: %s=%s client=%s status=%s reason=%s action=%s%s elapsed=%llums cached=%s%s%s",
             qid, sender ? "from" : "to", addr, who, mv_status_name(v->status), mv_reason_name(v->reason),
             mv_action_name(v->action), extra, (unsigned long long)(v->elapsed_us / 1000),
             v->cached ? "yes" : "no", v->net_asked && detail[0] ? " detail=" : "",
             v->net_asked ? detail : "");
}

/* mv_milter_note - the header value "warn" (and "review" as a header) adds */
void mv_milter_note(const mv_verdict *v, bool sender, char *out, size_t size)
{
    char addr[300];

    mv_milter_ascii(addr, sizeof(addr), v->input, v->input_len > 256 ? 256 : v->input_len);
    snprintf(out, size, "%s %s; status=%s; reason=%s; action=%s%s%s", sender ? "sender" : "recipient", addr,
             mv_status_name(v->status), mv_reason_name(v->reason), mv_action_name(v->action),
             v->has_suggestion ? "; suggestion=" : "", v->has_suggestion ? v->suggestion : "");
}

/* policy_refusal - "550 5.1.1 text" or "DEFER_IF_PERMIT 4.4.3 text": the
 * milter's reply without the "<addr>: Who address rejected: " that
 * Postfix writes itself */
static void policy_refusal(const mv_verdict *v, bool sender, const mv_policy_style *st, char *out,
                           size_t size)
{
    const char *verb = st->tempfail == MV_POLICY_DEFER ? "DEFER" : "DEFER_IF_PERMIT";
    const row *r;
    char w[64];

    if (v->action == MV_ACT_TEMPFAIL) {
        words(w, sizeof(w), v->reason);
        if (v->reason == MV_R_MAILBOX_FULL)
            snprintf(out, size, "%s 4.2.2 mailbox is full, try again later", verb);
        else
            snprintf(out, size, "%s %s verification failed for now (%s), try again later", verb,
                     sender ? "4.1.8" : "4.4.3", w);
        return;
    }
    r = sender ? find(sender_block, sizeof(sender_block) / sizeof(*sender_block), v->reason)
               : find(rcpt_block, sizeof(rcpt_block) / sizeof(*rcpt_block), v->reason);
    if (r != NULL) {
        snprintf(out, size, "%s %s %s", r->code, r->enh, r->what);
        return;
    }
    words(w, sizeof(w), v->reason);
    snprintf(out, size, "550 5.7.1 not accepted here (%s)", w);
}

/* mv_policy_action - the answer for a verdict, the text after "action=" */
void mv_policy_action(const mv_verdict *v, bool sender, const mv_policy_style *st, char *out, size_t size)
{
    char note[700], addr[300];

    switch (v->action) {
    case MV_ACT_BLOCK:
    case MV_ACT_TEMPFAIL: policy_refusal(v, sender, st, out, size); return;
    case MV_ACT_REVIEW:
        if (st->review == MV_REVIEW_QUARANTINE) {
            mv_milter_ascii(addr, sizeof(addr), v->input, v->input_len > 256 ? 256 : v->input_len);
            snprintf(out, size, "HOLD mailverify: %s %s (%s)", sender ? "sender" : "recipient", addr,
                     mv_reason_name(v->reason));
            return;
        }
        /* review as a header */
        /* fall through */
    case MV_ACT_WARN:
        mv_milter_note(v, sender, note, sizeof(note));
        snprintf(out, size, "PREPEND %s: %s", st->header, note);
        return;
    default: snprintf(out, size, "DUNNO"); return;
    }
}

/* mv_policy_action_dha - the answer when a client spent its budget */
void mv_policy_action_dha(const mv_policy_style *st, char *out, size_t size)
{
    snprintf(out, size, "%s 4.7.1 Too many unknown recipients from your address; try again later",
             st->tempfail == MV_POLICY_DEFER ? "DEFER" : "DEFER_IF_PERMIT");
}
