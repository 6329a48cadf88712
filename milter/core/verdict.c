/* SPDX-License-Identifier: MIT */
/*
 * verdict.c - names, precedence and the JSON form of a verdict.
 *
 * Precedence (DESIGN.md): invalid_syntax; then the network's word on the
 * mailbox or domain (undeliverable beats disposable); then disposable,
 * accept_all, mailbox_full; then a temporary network outcome (unknown:
 * greylisted, timeout ...); then role_account; then accepted_email.
 * Offline, with no network word, a valid address with no risky signal is
 * unknown/unverified. The network outcomes join mv_verdict_reason() when
 * the engine's network half arrives; this is still the only place where
 * reasons are ranked.
 */
#include "verdict.h"
#include "json.h"

#include <string.h>

static const char *const status_names[MV_STATUS_COUNT] = {
    "deliverable",
    "undeliverable",
    "risky",
    "unknown",
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
    "sender",
    "recipient",
    "form",
    "bulk",
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
    mv_reason n = sig->net_asked ? sig->net_reason : MV_R_UNVERIFIED;
    mv_status ns = mv_reason_status(n);

    if (!sig->syntax_ok) /* a library missing here is not the sender's fault */
        return sig->unchecked ? MV_R_TEMPORARY_ERROR : MV_R_INVALID_SYNTAX;
    if (sig->null_path)
        return MV_R_NULL_SENDER;
    /* the network's word on the mailbox or domain: undeliverable even
     * when it is also disposable */
    if (ns == MV_STATUS_UNDELIVERABLE)
        return n;
    if (sig->disposable)
        return MV_R_DISPOSABLE;
    if (n == MV_R_ACCEPT_ALL || n == MV_R_MAILBOX_FULL)
        return n;
    /* the network could not tell (greylisted, timeout ...): that, not the
     * role signal, decides -- an admin who tempfails "unknown" must get a
     * tempfail for postmaster@ too, not a fail-open "role_account" */
    if (sig->net_asked && ns == MV_STATUS_UNKNOWN && n != MV_R_UNVERIFIED)
        return n;
    if (sig->role)
        return MV_R_ROLE_ACCOUNT;
    /* accepted_email, or unverified when nothing was asked */
    return n;
}

/* A cursor into room that mv_verdict_json() reserved for the worst case. */
typedef struct {
    char *p;
    int fl; /* MV_JSON_* flags */
} writer;

/* put - raw bytes */
static void put(writer *w, const char *s, size_t n)
{
    memcpy(w->p, s, n);
    w->p += n;
}

/* PUT - a literal, its length known when compiling */
#define PUT(w, lit) put((w), (lit), sizeof(lit) - 1)

/* put_str - a quoted, escaped JSON string */
static void put_str(writer *w, const char *s, size_t n)
{
    *w->p++ = '"';
    w->p += mv_json_escape(w->p, s, n, w->fl);
    *w->p++ = '"';
}

/* put_name - an identifier in quotes: nothing in it to escape */
static void put_name(writer *w, const char *s)
{
    size_t n = strlen(s);

    *w->p++ = '"';
    put(w, s, n);
    *w->p++ = '"';
}

/* put_cstr - a C string, quoted and escaped */
static void put_cstr(writer *w, const char *s)
{
    put_str(w, s, strlen(s));
}

/* put_uint - a number in decimal */
static void put_uint(writer *w, unsigned long long v)
{
    char d[20];
    size_t n = 0;

    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *w->p++ = d[--n];
}

/* put_bool - true or false */
static void put_bool(writer *w, bool v)
{
    if (v)
        PUT(w, "true");
    else
        PUT(w, "false");
}

/* json_syntax - the "syntax" object of checks */
static void json_syntax(writer *w, const mv_verdict *v)
{
    const mv_address *a = &v->addr;

    if (a->error != MV_SYN_OK) {
        PUT(w, "{\"valid\":false,\"error\":");
        put_cstr(w, mv_syntax_name(a->error));
        PUT(w, ",\"message\":");
        put_cstr(w, mv_syntax_message(a->error));
        PUT(w, ",\"position\":");
        put_uint(w, a->error_pos);
        *w->p++ = '}';
        return;
    }
    if (a->kind == MV_ADDR_NULL) {
        PUT(w, "{\"valid\":true,\"null_path\":true}");
        return;
    }
    PUT(w, "{\"valid\":true,\"local\":");
    put_str(w, a->local, a->local_len);
    PUT(w, ",\"domain\":");
    put_str(w, a->domain, a->domain_len);
    PUT(w, ",\"smtputf8\":");
    put_bool(w, a->smtputf8);
    if (a->literal)
        PUT(w, ",\"address_literal\":true");
    if (a->idn)
        PUT(w, ",\"idn\":true");
    *w->p++ = '}';
}

/* json_signal - a boolean signal (",\"key\":" given), or null when syntax left it unknown */
static void json_signal(writer *w, const char *key, size_t klen, bool known, bool v)
{
    put(w, key, klen);
    if (known)
        put_bool(w, v);
    else
        PUT(w, "null");
}

/* SIGNAL - json_signal with the key's length known when compiling */
#define SIGNAL(w, key, known, v) json_signal((w), ",\"" key "\":", sizeof(key) + 3, known, v)

/* json_smtp - the reply that decided, or null */
static void json_smtp(writer *w, const mv_net_outcome *n)
{
    const mv_smtp_answer *a = &n->smtp;

    if (a->code == 0) {
        PUT(w, "null");
        return;
    }
    PUT(w, "{\"host\":");
    put_cstr(w, n->host);
    PUT(w, ",\"code\":");
    put_uint(w, (unsigned)a->code);
    PUT(w, ",\"enhanced\":");
    if (a->enh[0] != 0) {
        *w->p++ = '"';
        put_uint(w, (unsigned)a->enh[0]);
        *w->p++ = '.';
        put_uint(w, (unsigned)a->enh[1]);
        *w->p++ = '.';
        put_uint(w, (unsigned)a->enh[2]);
        *w->p++ = '"';
    } else {
        PUT(w, "null");
    }
    PUT(w, ",\"text\":");
    put_cstr(w, a->text);
    PUT(w, ",\"tls\":");
    put_bool(w, n->tls);
    if (n->tls) {
        PUT(w, ",\"tls_version\":");
        put_cstr(w, n->tls_version);
    }
    *w->p++ = '}';
}

/* json_net - mx, smtp and catch_all: null when the network was not asked */
static void json_net(writer *w, const mv_verdict *v)
{
    const mv_net_outcome *n = &v->net;
    const char *s = n->mx;

    if (!v->net_asked) {
        PUT(w, ",\"mx\":null,\"smtp\":null,\"catch_all\":null");
        return;
    }
    PUT(w, ",\"mx\":[");
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (s != n->mx)
            *w->p++ = ',';
        put_str(w, s, len);
        s += len + (comma != NULL);
    }
    PUT(w, "],\"smtp\":");
    json_smtp(w, n);
    PUT(w, ",\"catch_all\":");
    if (n->catch_all < 0)
        PUT(w, "null");
    else
        put_bool(w, n->catch_all == 1);
}

/* json_room - an upper bound on the length of the verdict's JSON */
static size_t json_room(const mv_verdict *v, size_t echo, size_t sugg, size_t canon)
{
    const mv_address *a = &v->addr;
    size_t text = echo + MV_MAILBOX_MAX + sugg + canon + a->local_len + a->domain_len;

    if (a->error != MV_SYN_OK)
        text += strlen(mv_syntax_name(a->error)) + strlen(mv_syntax_message(a->error));
    text += strlen(mv_status_name(v->status)) + strlen(mv_reason_name(v->reason)) +
            strlen(mv_action_name(v->action)) + strlen(mv_context_name(v->context));
    if (v->net_asked)
        text += strlen(v->net.mx) * 3 + strlen(v->net.host) + strlen(v->net.smtp.text) +
                strlen(v->net.tls_version) + strlen(v->net.detail) + 256;
    return MV_JSON_ESCAPE_MAX(text) + 1024; /* + keys, punctuation, numbers */
}

/* json_head - address, normalized form, status, reason, action, context */
static void json_head(writer *w, const mv_verdict *v, size_t echo)
{
    char norm[MV_MAILBOX_MAX + 8];
    size_t n;

    PUT(w, "{\"address\":");
    put_str(w, v->input, echo);
    if (echo < v->input_len) {
        PUT(w, ",\"address_truncated\":true,\"address_length\":");
        put_uint(w, v->input_len);
    }
    PUT(w, ",\"normalized\":");
    if (v->addr.error == MV_SYN_OK && (n = mv_address_format(&v->addr, norm, sizeof(norm))) > 0)
        put_str(w, norm, n);
    else
        PUT(w, "null");
    PUT(w, ",\"status\":");
    put_name(w, mv_status_name(v->status));
    PUT(w, ",\"reason\":");
    put_name(w, mv_reason_name(v->reason));
    PUT(w, ",\"action\":");
    put_name(w, mv_action_name(v->action));
    PUT(w, ",\"context\":");
    put_name(w, mv_context_name(v->context));
}

/*
 * mv_verdict_json - append the verdict as one JSON object (no newline)
 *
 * Room for the longest form this verdict can take is reserved first, so
 * the writer below is straight-line stores with no check per piece.
 */
void mv_verdict_json(mv_buf *b, const mv_verdict *v, int fl)
{
    bool ok = v->addr.error == MV_SYN_OK && v->addr.kind == MV_ADDR_MAILBOX;
    size_t echo = v->input_len > MV_ECHO_MAX ? MV_ECHO_MAX : v->input_len;
    size_t sugg = v->has_suggestion ? strlen(v->suggestion) : 0;
    size_t canon = v->has_canonical ? strlen(v->canonical) : 0;
    writer w;

    if (!mv_buf_reserve(b, json_room(v, echo, sugg, canon)))
        return;
    w = (writer){b->data + b->len, fl};
    json_head(&w, v, echo);
    PUT(&w, ",\"suggestion\":");
    if (v->has_suggestion)
        put_str(&w, v->suggestion, sugg);
    else
        PUT(&w, "null");
    if (v->has_canonical) {
        PUT(&w, ",\"canonical\":");
        put_str(&w, v->canonical, canon);
    }
    if (v->net_asked && v->net.detail[0] != '\0') {
        PUT(&w, ",\"detail\":");
        put_cstr(&w, v->net.detail);
    }
    PUT(&w, ",\"checks\":{\"syntax\":");
    json_syntax(&w, v);
    SIGNAL(&w, "disposable", ok, v->disposable);
    SIGNAL(&w, "role", ok, v->role);
    SIGNAL(&w, "free", ok, v->free);
    json_net(&w, v);
    *w.p++ = '}';
    PUT(&w, ",\"cached\":");
    put_bool(&w, v->cached);
    PUT(&w, ",\"elapsed_ms\":");
    put_uint(&w, v->elapsed_us / 1000);
    *w.p++ = '}';
    b->len = (size_t)(w.p - b->data);
    b->data[b->len] = '\0';
}
