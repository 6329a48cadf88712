/* SPDX-License-Identifier: MIT */
/*
 * milter.c - mailverifyd's libmilter callbacks.
 *
 * connect: take a reference to the current config; note the client and
 *   whether it is in a trusted network.
 * envfrom: an authenticated or trusted client's message is accepted
 *   whole; otherwise the sender is verified in the "sender" context
 *   (unless it is the null sender and policy skips it).
 * envrcpt: each recipient in the "recipient" context, after the
 *   per-domain overrides and the client's harvest budget (an IPv6
 *   client's is its prefix's, milter.ipv6_prefix: a harvester with a /64
 *   would otherwise get a fresh budget per address).
 * eom: the headers that "warn" asked for; the quarantine "review" asked for.
 * abort, close: forget the message, or the connection.
 * The action policy chose becomes the reply: block -> 5xx, tempfail ->
 * 4xx, each with the code and wording of replies.c. Every verdict is
 * logged on one line with the queue id, and counted -- except recipients
 * refused by a spent harvest budget: the first of each client's episode
 * is logged, the rest counted into one summary (dha.h, mailverifyd.c).
 */
#include "mvd.h"
#include "clientkey.h"
#include "replies.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

typedef struct note {
    char text[700];
    struct note *next;
} note;

typedef struct {
    mv_config *cfg; /* the config this connection began with */
    char name[256]; /* client host name, as the MTA knows it */
    char addr[INET6_ADDRSTRLEN];
    char dha_key[MV_CLIENT_KEY_SIZE]; /* its harvest budget's: IPv6 per prefix */
    bool trusted;
    note *notes; /* header values to add at end of message */
    bool quarantine;
    char why[400]; /* quarantine reason */
} conn;

static mvd *state;

/* mvd_state - the daemon's state */
mvd *mvd_state(void)
{
    return state;
}

/* mvd_set_state - set it once, at start */
void mvd_set_state(mvd *d)
{
    state = d;
}

/* mvd_config - a reference to the current configuration */
mv_config *mvd_config(mvd *d)
{
    mv_config *c;

    pthread_mutex_lock(&d->mu);
    c = mv_config_ref(d->cfg);
    pthread_mutex_unlock(&d->mu);
    return c;
}

/* qid - the queue id, or NOQUEUE before the MTA has one */
static const char *qid(SMFICTX *ctx)
{
    const char *i = smfi_getsymval(ctx, "i");

    return i && *i ? i : "NOQUEUE";
}

/* forget_message - drop what a message collected */
static void forget_message(conn *c)
{
    while (c->notes != NULL) {
        note *n = c->notes->next;

        free(c->notes);
        c->notes = n;
    }
    c->quarantine = false;
    c->why[0] = '\0';
}

/* client_text - "name[addr]" for logs */
static void client_text(const conn *c, char *out, size_t size)
{
    /* Postfix passes "[addr]" when the client has no name: say "unknown" */
    snprintf(out, size, "%s[%s]", c->name[0] && c->name[0] != '[' ? c->name : "unknown",
             c->addr[0] ? c->addr : "?");
}

/* log_verdict - one line per verdict */
static void log_verdict(SMFICTX *ctx, conn *c, const mv_verdict *v, bool sender, const char *extra)
{
    char who[320], addr[300], line[1200];

    client_text(c, who, sizeof(who));
    mv_milter_ascii(addr, sizeof(addr), v->input, v->input_len > 256 ? 256 : v->input_len);
    mv_milter_verdict_line(line, sizeof(line), qid(ctx), sender, addr, who, v, extra);
    mvd_log(LOG_INFO, "%s", line);
}

/* add_note - a header value for end of message */
static void add_note(conn *c, const mv_verdict *v, bool sender)
{
    note *n = malloc(sizeof(*n));

    if (n == NULL)
        return;
    mv_milter_note(v, sender, n->text, sizeof(n->text));
    n->next = c->notes;
    c->notes = n;
}

/* refuse - set the reply for block/tempfail and say which status to return */
static sfsistat refuse(SMFICTX *ctx, const mv_verdict *v, bool sender)
{
    mv_milter_reply r;

    mv_milter_reply_for(v, sender, &r);
    if (smfi_setreply(ctx, r.code, r.enh, r.text) != MI_SUCCESS)
        mvd_log(LOG_WARNING, "%s: warning: cannot set reply %s %s", qid(ctx), r.code, r.enh);
    return v->action == MV_ACT_TEMPFAIL ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/* act - what the action means for this command */
static sfsistat act(SMFICTX *ctx, conn *c, const mv_verdict *v, bool sender)
{
    mvd *d = mvd_state();
    bool refusing = v->action == MV_ACT_BLOCK || v->action == MV_ACT_TEMPFAIL;

    if (d->dry_run || mv_milter_settings_of(c->cfg)->dry_run) {
        log_verdict(ctx, c, v, sender, refusing ? " dry-run=accepted" : "");
        if (refusing)
            mv_stats_event(d->stats, MV_STAT_DRY_RUN);
        return SMFIS_CONTINUE;
    }
    log_verdict(ctx, c, v, sender, "");
    switch (v->action) {
    case MV_ACT_BLOCK:
    case MV_ACT_TEMPFAIL: return refuse(ctx, v, sender);
    case MV_ACT_REVIEW:
        if (mv_milter_settings_of(c->cfg)->review == MV_REVIEW_QUARANTINE) {
            char addr[300];

            mv_milter_ascii(addr, sizeof(addr), v->input, v->input_len > 256 ? 256 : v->input_len);
            c->quarantine = true;
            snprintf(c->why, sizeof(c->why), "mailverify: %s %s (%s)", sender ? "sender" : "recipient", addr,
                     mv_reason_name(v->reason));
        } else {
            add_note(c, v, sender);
        }
        return SMFIS_CONTINUE;
    case MV_ACT_WARN: add_note(c, v, sender); return SMFIS_CONTINUE;
    default: return SMFIS_CONTINUE;
    }
}

/* verify - one address through the engine, counted */
static bool verify(SMFICTX *ctx, conn *c, const char *addr, mv_context context, mv_mode mode, const char *hop,
                   mv_verdict *v)
{
    mvd *d = mvd_state();
    mv_request req = {.address = addr,
                      .len = strlen(addr),
                      .context = context,
                      .mode = mode,
                      .config = c->cfg,
                      .next_hop = hop};
    mv_call rc;

    atomic_fetch_add(&d->checks, 1);
    rc = mv_engine_check(d->engine, &req, v);
    atomic_fetch_sub(&d->checks, 1);

    if (rc != MV_OK) {
        mvd_log(LOG_ERR, "%s: error: cannot verify <%s>: %s%s%s", qid(ctx), addr, mv_call_name(rc),
                rc == MV_ENETSTART ? ": " : "", rc == MV_ENETSTART ? mv_engine_error(d->engine) : "");
        mv_stats_event(d->stats, MV_STAT_ENGINE_ERRORS);
        return false;
    }
    mv_stats_verdict(d->stats, v, v->elapsed_us);
    return true;
}

/* cb_connect - a client connected to the MTA */
static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    mvd *d = mvd_state();
    conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    c->cfg = mvd_config(d);
    snprintf(c->name, sizeof(c->name), "%s", host ? host : "");
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->addr, sizeof(c->addr));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->addr, sizeof(c->addr));
    mv_client_key(c->addr, (unsigned)mv_milter_settings_of(c->cfg)->ipv6_prefix, c->dha_key,
                  sizeof(c->dha_key));
    c->trusted = sa != NULL && mv_nets_match(&mv_milter_settings_of(c->cfg)->trusted_networks, sa);
    mv_stats_event(d->stats, MV_STAT_CONNECTIONS);
    if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
        mv_config_unref(c->cfg);
        free(c);
        return SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
}

/* cb_helo - nothing to check; registered so the MTA sends it and tools
 * like miltertest can drive every step */
static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
    (void)ctx;
    (void)helo;
    return SMFIS_CONTINUE;
}

/* cb_envfrom - MAIL FROM */
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    conn *c = smfi_getpriv(ctx);
    mvd *d = mvd_state();
    const mv_milter_settings *s;
    const char *auth = smfi_getsymval(ctx, "{auth_authen}");
    const char *from = argv && argv[0] ? argv[0] : "<>";
    mv_verdict v;

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    forget_message(c);
    s = mv_milter_settings_of(c->cfg);
    if (s->skip_authenticated && auth != NULL && *auth != '\0') {
        mv_stats_event(d->stats, MV_STAT_SKIP_AUTH);
        return SMFIS_ACCEPT; /* our own users' mail: not ours to judge */
    }
    if (c->trusted) {
        mv_stats_event(d->stats, MV_STAT_SKIP_TRUSTED);
        return SMFIS_ACCEPT;
    }
    if (!s->check_senders)
        return SMFIS_CONTINUE;
    if (strcmp(from, "<>") == 0 && s->skip_null_sender) {
        mv_stats_event(d->stats, MV_STAT_SKIP_NULL);
        return SMFIS_CONTINUE;
    }
    if (!verify(ctx, c, from, MV_CTX_SENDER, MV_MODE_CONTEXT, NULL, &v))
        return SMFIS_CONTINUE; /* the engine failing must not stop mail */
    return act(ctx, c, &v, true);
}

/* rcpt_rule - the domains override for this recipient, if any */
static const mv_domain_rule *rcpt_rule(conn *c, const char *rcpt)
{
    mv_address a;
    const char *s = rcpt;

    if (mv_address_parse(s, strlen(s), 0, &a) != MV_SYN_OK || a.literal)
        return NULL;
    return mv_config_domain_rule(c->cfg, a.domain);
}

/* dha_tempfail - the client spent its budget of unknown recipients. The
 * first refusal of an episode is logged, with what it means; the rest
 * are counted, and mailverifyd logs one summary when the window ends
 * (the MTA's own log still has every refused RCPT) */
static sfsistat dha_tempfail(SMFICTX *ctx, conn *c, const char *rcpt, const mv_milter_settings *s,
                             int64_t now)
{
    mv_milter_reply r;
    char who[320], addr[300];

    mv_milter_reply_dha(&r);
    client_text(c, who, sizeof(who));
    mv_milter_ascii(addr, sizeof(addr), rcpt, strlen(rcpt));
    mv_stats_event(mvd_state()->stats, MV_STAT_DHA);
    if (mv_dha_refused(mvd_state()->dha, c->dha_key, who, (unsigned)s->dha_window_s, now))
        mvd_log(LOG_NOTICE,
                "%s: to=%s client=%s action=tempfail reason=harvest_budget (not probed); "
                "the client spent its budget (milter.dha_limit %lld unknown recipients per %lld s): its "
                "recipients are tempfailed unprobed, one summary line when the window ends",
                qid(ctx), addr, who, s->dha_limit, s->dha_window_s);
    if (smfi_setreply(ctx, r.code, r.enh, r.text) != MI_SUCCESS)
        mvd_log(LOG_WARNING, "%s: warning: cannot set reply %s %s", qid(ctx), r.code, r.enh);
    return SMFIS_TEMPFAIL;
}

/* cb_envrcpt - RCPT TO */
static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    conn *c = smfi_getpriv(ctx);
    mvd *d = mvd_state();
    const mv_milter_settings *s;
    const mv_domain_rule *rule;
    const char *rcpt = argv && argv[0] ? argv[0] : "";
    int64_t now = (int64_t)time(NULL);
    mv_verdict v;
    sfsistat rc;

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    s = mv_milter_settings_of(c->cfg);
    if (!s->check_recipients)
        return SMFIS_CONTINUE;
    if ((rule = rcpt_rule(c, rcpt)) != NULL && rule->accept) {
        mv_stats_event(d->stats, MV_STAT_SKIP_DOMAIN);
        return SMFIS_CONTINUE;
    }
    if (c->addr[0] &&
        mv_dha_spent(d->dha, c->dha_key, (unsigned)s->dha_limit, (unsigned)s->dha_window_s, now))
        return dha_tempfail(ctx, c, rcpt, s, now);
    if (!verify(ctx, c, rcpt, MV_CTX_RECIPIENT, rule && rule->skip_smtp ? MV_MODE_DNS : MV_MODE_CONTEXT,
                rule ? rule->next_hop : NULL, &v))
        return SMFIS_CONTINUE;
    rc = act(ctx, c, &v, false);
    if (v.status == MV_STATUS_UNDELIVERABLE && c->addr[0] && s->dha_limit > 0)
        mv_dha_count(d->dha, c->dha_key, (unsigned)s->dha_window_s, now);
    return rc;
}

/* cb_eom - end of message: headers for "warn", quarantine for "review" */
static sfsistat cb_eom(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    for (note *n = c->notes; n != NULL; n = n->next)
        if (smfi_addheader(ctx, (char *)mv_milter_settings_of(c->cfg)->header, n->text) != MI_SUCCESS)
            mvd_log(LOG_WARNING, "%s: warning: cannot add header", qid(ctx));
    if (c->quarantine && smfi_quarantine(ctx, c->why) != MI_SUCCESS)
        mvd_log(LOG_WARNING, "%s: warning: cannot quarantine (does the MTA allow it?)", qid(ctx));
    forget_message(c);
    return SMFIS_CONTINUE;
}

/* cb_abort - the message was aborted (RSET, QUIT, a later rejection) */
static sfsistat cb_abort(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (c != NULL)
        forget_message(c);
    return SMFIS_CONTINUE;
}

/* cb_close - the connection ended */
static sfsistat cb_close(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    forget_message(c);
    mv_config_unref(c->cfg);
    free(c);
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

/* cb_negotiate - ask only for the steps and macros we use */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    /* not SMFIP_NODATA: Postfix still sends the DATA macros, unanswered,
     * and over TCP the end of message then waits ~40 ms for their ACK
     * (Nagle meets delayed ACK); libmilter answers DATA itself, one
     * round trip of ~0.1 ms (measured by make bench-milter) */
    unsigned long skip = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN;

    (void)f2;
    (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    *pf1 = f1 & skip;
    *pf2 = *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
        smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    return SMFIS_CONTINUE;
}

/* mvd_drain - wait until no check is in flight, at most max_ms; true if none */
bool mvd_drain(mvd *d, unsigned max_ms)
{
    for (unsigned waited = 0; atomic_load(&d->checks) > 0; waited += 20) {
        if (waited >= max_ms)
            return false;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return true;
}

/* mvd_register - hand the callbacks to libmilter; 0 or -1 */
int mvd_register(void)
{
    static struct smfiDesc desc = {
        "mailverifyd", SMFI_VERSION, SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
        cb_connect,    cb_helo,      cb_envfrom,
        cb_envrcpt,    NULL,         NULL,
        NULL,          cb_eom,       cb_abort,
        cb_close,      NULL,         NULL,
        cb_negotiate,
    };

    return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}

/* mvd_log - one line to syslog (and stderr when configured) */
void mvd_log(int priority, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsyslog(priority, fmt, ap);
    va_end(ap);
}
