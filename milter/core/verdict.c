/*
 * verdict.c - names, precedence and the JSON form of a verdict.
 *
 * Precedence (DESIGN.md): invalid_syntax; then the network's word on the
 * mailbox or domain (undeliverable beats disposable); then disposable,
 * accept_all, mailbox_full, role_account (risky); then accepted_email.
 * Offline, with no network word, a valid address with no risky signal is
 * unknown/unverified. The network outcomes join mv_verdict_reason() when
 * the engine's network half arrives; this is still the only place where
 * reasons are ranked.
 */
#include "verdict.h"
#include "json.h"

#include <string.h>

static const char *const status_names[MV_STATUS_COUNT] = {
    "deliverable", "undeliverable", "risky", "unknown",
};

static const struct {
    const char *name;
    mv_status status;
} reasons[MV_R_COUNT] = {
    [MV_R_ACCEPTED_EMAIL] = {"accepted_email", MV_STATUS_DELIVERABLE},
    [MV_R_INVALID_SYNTAX] = {"invalid_syntax", MV_STATUS_UNDELIVERABLE},
    [MV_R_INVALID_DOMAIN] = {"invalid_domain", MV_STATUS_UNDELIVERABLE},
    [MV_R_NO_MAIL_SERVER] = {"no_mail_server", MV_STATUS_UNDELIVERABLE},
    [MV_R_REJECTED_EMAIL] = {"rejected_email", MV_STATUS_UNDELIVERABLE},
    [MV_R_MAILBOX_DISABLED] = {"mailbox_disabled", MV_STATUS_UNDELIVERABLE},
    [MV_R_MAILBOX_FULL] = {"mailbox_full", MV_STATUS_RISKY},
    [MV_R_ACCEPT_ALL] = {"accept_all", MV_STATUS_RISKY},
    [MV_R_DISPOSABLE] = {"disposable", MV_STATUS_RISKY},
    [MV_R_ROLE_ACCOUNT] = {"role_account", MV_STATUS_RISKY},
    [MV_R_GREYLISTED] = {"greylisted", MV_STATUS_UNKNOWN},
    [MV_R_TIMEOUT] = {"timeout", MV_STATUS_UNKNOWN},
    [MV_R_NO_CONNECT] = {"no_connect", MV_STATUS_UNKNOWN},
    [MV_R_DNS_ERROR] = {"dns_error", MV_STATUS_UNKNOWN},
    [MV_R_BLOCKED_BY_SERVER] = {"blocked_by_server", MV_STATUS_UNKNOWN},
    [MV_R_TLS_ERROR] = {"tls_error", MV_STATUS_UNKNOWN},
    [MV_R_TEMPORARY_ERROR] = {"temporary_error", MV_STATUS_UNKNOWN},
    [MV_R_UNVERIFIED] = {"unverified", MV_STATUS_UNKNOWN},
    [MV_R_NULL_SENDER] = {"null_sender", MV_STATUS_UNKNOWN},
};

static const char *const action_names[MV_ACT_COUNT] = {
    "accept", "warn", "review", "tempfail", "block",
};

static const char *const context_names[MV_CTX_COUNT] = {
    "sender", "recipient", "form", "bulk",
};

const char *mv_status_name(mv_status s)
{
    return (unsigned)s < MV_STATUS_COUNT ? status_names[s] : "unknown";
}

const char *mv_reason_name(mv_reason r)
{
    return (unsigned)r < MV_R_COUNT ? reasons[r].name : "unverified";
}

const char *mv_action_name(mv_action a)
{
    return (unsigned)a < MV_ACT_COUNT ? action_names[a] : "accept";
}

const char *mv_context_name(mv_context c)
{
    return (unsigned)c < MV_CTX_COUNT ? context_names[c] : "form";
}

/* mv_reason_status - the status a reason implies */
mv_status mv_reason_status(mv_reason r)
{
    return (unsigned)r < MV_R_COUNT ? reasons[r].status : MV_STATUS_UNKNOWN;
}

/* lookup - index of name in a table of n names, or -1 */
static int lookup(const char *const *names, size_t stride, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)names + (size_t)i * stride);

        if (strcmp(s, name) == 0)
            return i;
    }
    return -1;
}

int mv_reason_lookup(const char *name)
{
    return lookup(&reasons[0].name, sizeof(reasons[0]), MV_R_COUNT, name);
}

int mv_action_lookup(const char *name)
{
    return lookup(action_names, sizeof(char *), MV_ACT_COUNT, name);
}

int mv_context_lookup(const char *name)
{
    return lookup(context_names, sizeof(char *), MV_CTX_COUNT, name);
}

/* mv_verdict_reason - the winning reason for the signals (DESIGN order) */
mv_reason mv_verdict_reason(const mv_signals *sig)
{
    if (!sig->syntax_ok)
        return MV_R_INVALID_SYNTAX;
    if (sig->null_path)
        return MV_R_NULL_SENDER;
    if (sig->disposable)
        return MV_R_DISPOSABLE;
    if (sig->role)
        return MV_R_ROLE_ACCOUNT;
    return MV_R_UNVERIFIED;
}

/* json_syntax - the "syntax" object of checks */
static void json_syntax(mv_buf *b, const mv_verdict *v, int fl)
{
    const mv_address *a = &v->addr;

    if (a->error != MV_SYN_OK) {
        mv_buf_puts(b, "{\"valid\":false,\"error\":");
        mv_json_cstr(b, mv_syntax_name(a->error), fl);
        mv_buf_puts(b, ",\"message\":");
        mv_json_cstr(b, mv_syntax_message(a->error), fl);
        mv_buf_printf(b, ",\"position\":%zu}", a->error_pos);
        return;
    }
    if (a->kind == MV_ADDR_NULL) {
        mv_buf_puts(b, "{\"valid\":true,\"null_path\":true}");
        return;
    }
    mv_buf_puts(b, "{\"valid\":true,\"local\":");
    mv_json_str(b, a->local, a->local_len, fl);
    mv_buf_puts(b, ",\"domain\":");
    mv_json_str(b, a->domain, a->domain_len, fl);
    mv_buf_puts(b, ",\"smtputf8\":");
    mv_json_bool(b, a->smtputf8);
    if (a->literal)
        mv_buf_puts(b, ",\"address_literal\":true");
    if (a->idn)
        mv_buf_puts(b, ",\"idn\":true");
    mv_buf_putc(b, '}');
}

/* json_signal - a boolean signal, or null when syntax left it unknown */
static void json_signal(mv_buf *b, const char *key, bool known, bool v)
{
    mv_buf_putc(b, ',');
    mv_json_key(b, key);
    if (known)
        mv_json_bool(b, v);
    else
        mv_buf_put(b, "null", 4);
}

/* mv_verdict_json - append the verdict as one JSON object (no newline) */
void mv_verdict_json(mv_buf *b, const mv_verdict *v, int fl)
{
    bool ok = v->addr.error == MV_SYN_OK && v->addr.kind == MV_ADDR_MAILBOX;
    char norm[MV_MAILBOX_MAX + 8];
    size_t echo = v->input_len > MV_ECHO_MAX ? MV_ECHO_MAX : v->input_len;

    mv_buf_puts(b, "{\"address\":");
    mv_json_str(b, v->input, echo, fl);
    if (echo < v->input_len)
        mv_buf_printf(b, ",\"address_truncated\":true,\"address_length\":%zu", v->input_len);
    mv_buf_puts(b, ",\"normalized\":");
    if (v->addr.error == MV_SYN_OK && mv_address_format(&v->addr, norm, sizeof(norm)) > 0)
        mv_json_cstr(b, norm, fl);
    else
        mv_buf_puts(b, "null");
    mv_buf_printf(b, ",\"status\":\"%s\",\"reason\":\"%s\",\"action\":\"%s\",\"context\":\"%s\"",
                  mv_status_name(v->status), mv_reason_name(v->reason),
                  mv_action_name(v->action), mv_context_name(v->context));
    mv_buf_puts(b, ",\"suggestion\":");
    mv_json_cstr(b, v->has_suggestion ? v->suggestion : NULL, fl);
    if (v->has_canonical) {
        mv_buf_puts(b, ",\"canonical\":");
        mv_json_cstr(b, v->canonical, fl);
    }
    mv_buf_puts(b, ",\"checks\":{\"syntax\":");
    json_syntax(b, v, fl);
    json_signal(b, "disposable", ok, v->disposable);
    json_signal(b, "role", ok, v->role);
    json_signal(b, "free", ok, v->free);
    mv_buf_puts(b, ",\"mx\":null,\"smtp\":null,\"catch_all\":null}");
    mv_buf_printf(b, ",\"cached\":%s,\"elapsed_ms\":%llu}", v->cached ? "true" : "false",
                  (unsigned long long)(v->elapsed_us / 1000));
}
