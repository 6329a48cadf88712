/* SPDX-License-Identifier: MIT */
/*
 * probe.c - the SMTP probe's state machine (OpenSMTPD smtp_client.c shape).
 *
 * One enum of states, a name table for traces, and one switch over the
 * replies: each state sends one command and waits for one reply, with a
 * timer for that reply alone -- a server dripping a byte a second is cut
 * off at the stage deadline, not kept alive by its drip. Bytes arriving
 * after a reply are kept and parsed as the start of the next one; a
 * server that talks before it is asked is a protocol error only if what
 * it says is not SMTP.
 *
 * With a trace sink (mv_probe_params.trace) every command sent and every
 * reply line as read -- the raw line, escaped and cut, not the parser's
 * cleaned text -- goes to it with the time since the session began, as
 * do the TLS handshake and how the session ended. Without one, nothing
 * is formatted.
 */
#include "probe.h"
#include "reply.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

typedef enum {
    S_CONNECT,
    S_BANNER,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_HANDSHAKE,
    S_EHLO_TLS,
    S_MAIL,
    S_MAIL_FALLBACK,
    S_RCPT,
    S_CATCHALL,
    S_COUNT
} state;

static const char *const state_names[S_COUNT] = {
    "connect", "banner", "ehlo", "helo", "starttls",       "tls-handshake",
    "ehlo",    "mail",   "mail", "rcpt", "rcpt-catch-all",
};

struct mv_probe {
    mv_loop *loop;
    mv_probe_params prm;
    char helo[256], from[256], fallback[256], host[256];
    char *rcpts[MV_PROBE_RCPT_MAX];
    size_t nrcpt, cur;
    int fd;
    mv_tls *tls;
    state st;
    mv_timer timer;
    mv_reply_parser rp;
    char rbuf[4096];
    size_t rlen;
    char wbuf[600];
    size_t wlen, woff;
    char tline[MV_TRACE_TEXT_MAX]; /* the reply line being read, for the trace */
    size_t tlen, tcut;
    bool starttls_offered, smtputf8_offered, catch_all_asked;
    uint64_t started;
    mv_probe_cb cb;
    void *arg;
    mv_probe_result res;
};

/* mv_probe_status_name - for logs */
const char *mv_probe_status_name(mv_probe_status s)
{
    static const char *const n[] = {"done", "no-connect", "temporary", "blocked",
                                    "tls",  "timeout",    "protocol",  "cancelled"};

    return (unsigned)s < sizeof(n) / sizeof(*n) ? n[s] : "?";
}

/* say - one trace line, "+Nms" since the session began */
__attribute__((format(printf, 2, 3))) static void say(mv_probe *p, const char *fmt, ...)
{
    char text[MV_TRACE_LINE_MAX - 32], ms[32];
    va_list ap;

    if (p->prm.trace == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(ms, sizeof(ms), "+%llums", (unsigned long long)(mv_loop_now() - p->started));
    mv_trace_emit(p->prm.trace, p->prm.trace_arg, "%7s %s", ms, text);
}

/* heard_line - the reply line read so far, to the trace */
static void heard_line(mv_probe *p, bool complete)
{
    char esc[MV_TRACE_TEXT_MAX + 8];
    size_t n = p->tlen;

    if (complete && p->tcut == 0 && n > 0 && p->tline[n - 1] == '\r')
        n--;
    mv_trace_escape(esc, sizeof(esc), p->tline, n);
    if (p->tcut > 0)
        say(p, "<- %s... (%zu more bytes)%s", esc, p->tcut, complete ? "" : " [no end of line]");
    else
        say(p, "<- %s%s", esc, complete ? "" : " [no end of line]");
    p->tlen = p->tcut = 0;
}

/* heard - bytes read from the server, for the trace: each line as it ends */
static void heard(mv_probe *p, const char *data, size_t n)
{
    if (p->prm.trace == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n')
            heard_line(p, true);
        else if (p->tlen < sizeof(p->tline))
            p->tline[p->tlen++] = data[i];
        else
            p->tcut++;
    }
}

/* release - free everything the probe holds */
static void release(mv_probe *p)
{
    mv_timer_stop(p->loop, &p->timer);
    if (p->fd >= 0) {
        mv_loop_io_del(p->loop, p->fd);
        close(p->fd);
    }
    mv_tls_free(p->tls);
    for (size_t i = 0; i < p->nrcpt; i++)
        free(p->rcpts[i]);
    free(p);
}

/* quit - a polite QUIT, best effort: one write attempt, no waiting for the
 * 221 -- the session's answers are in hand, and Postfix's own client does
 * the same by default (smtp_skip_quit_response = yes) */
static void quit(mv_probe *p)
{
    size_t put;
    ssize_t n;

    if (p->fd < 0 || p->st == S_CONNECT || p->st == S_HANDSHAKE)
        return;
    say(p, "-> QUIT");
    if (p->tls != NULL)
        mv_tls_write(p->tls, "QUIT\r\n", 6, &put);
    else
        n = send(p->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT), (void)n;
}

/* finish - the one completion: report, then free */
static void finish(mv_probe *p, mv_probe_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(mv_probe *p, mv_probe_status status, const char *fmt, ...)
{
    va_list ap;

    p->res.status = status;
    p->res.stage = state_names[p->st];
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(p->res.error, sizeof(p->res.error), fmt, ap);
        va_end(ap);
    }
    p->res.elapsed_ms = mv_loop_now() - p->started;
    if (p->tlen > 0 || p->tcut > 0)
        heard_line(p, false);
    if (status == MV_PROBE_DONE || status == MV_PROBE_BLOCKED || status == MV_PROBE_TEMP)
        quit(p);
    say(p, "end: %s at %s%s%s (%zu of %zu recipients answered)", mv_probe_status_name(status), p->res.stage,
        p->res.error[0] ? ": " : "", p->res.error, p->res.nanswered, p->nrcpt);
    p->cb(p->arg, &p->res);
    release(p);
}

/* mv_probe_answer - a parsed reply as the probe keeps it (see probe.h) */
void mv_probe_answer(const mv_reply *r, mv_smtp_answer *a)
{
    a->code = r->code;
    memcpy(a->enh, r->enh, sizeof(a->enh));
    snprintf(a->text, sizeof(a->text), "%.*s", (int)sizeof(a->text) - 1, r->text);
}

static void on_io(void *arg, int fd, unsigned ev);
static void on_timeout(void *arg);

/* want - the events we wait for */
static void want(mv_probe *p, unsigned ev)
{
    if (mv_loop_io_set(p->loop, p->fd, ev, on_io, p) < 0)
        finish(p, MV_PROBE_NO_CONNECT, "cannot watch socket: %s", strerror(errno));
}

/* expect - wait for the reply to what was sent, with the stage timer */
static void expect(mv_probe *p, state s)
{
    p->st = s;
    mv_reply_init(&p->rp);
    mv_timer_start(p->loop, &p->timer, p->prm.reply_ms, on_timeout, p);
}

/* flush - write what is buffered; false if the probe ended */
static bool flush(mv_probe *p)
{
    while (p->woff < p->wlen) {
        size_t put = 0;
        ssize_t n;

        if (p->tls != NULL) {
            mv_tls_status ts = mv_tls_write(p->tls, p->wbuf + p->woff, p->wlen - p->woff, &put);

            if (ts == MV_TLS_WANT_WRITE || ts == MV_TLS_WANT_READ) {
                want(p, ts == MV_TLS_WANT_WRITE ? MV_EV_WRITE | MV_EV_READ : MV_EV_READ);
                return true;
            }
            if (ts != MV_TLS_DONE) {
                finish(p, MV_PROBE_PROTOCOL, "%s", mv_tls_error(p->tls));
                return false;
            }
        } else {
            n = send(p->fd, p->wbuf + p->woff, p->wlen - p->woff, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                want(p, MV_EV_READ | MV_EV_WRITE);
                return true;
            }
            if (n < 0) {
                finish(p, MV_PROBE_PROTOCOL, "write: %s", strerror(errno));
                return false;
            }
            put = (size_t)n;
        }
        p->woff += put;
    }
    want(p, MV_EV_READ);
    return true;
}

/* send_cmd - queue one command line and wait for its reply */
__attribute__((format(printf, 3, 4))) static void send_cmd(mv_probe *p, state s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(p->wbuf, sizeof(p->wbuf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(p->wbuf) - 2) {
        finish(p, MV_PROBE_PROTOCOL, "command too long");
        return;
    }
    if (p->prm.trace != NULL) {
        char esc[MV_TRACE_TEXT_MAX + 8];

        mv_trace_escape(esc, sizeof(esc), p->wbuf, (size_t)n);
        say(p, "-> %s", esc);
    }
    memcpy(p->wbuf + n, "\r\n", 2);
    p->wlen = (size_t)n + 2;
    p->woff = 0;
    expect(p, s);
    flush(p);
}

/* has_word - is keyword one of the space-separated words of text? */
static bool has_word(const char *text, const char *kw)
{
    size_t k = strlen(kw);

    for (const char *s = text; (s = strcasestr(s, kw)) != NULL; s += k)
        if ((s == text || s[-1] == ' ') && (s[k] == '\0' || s[k] == ' '))
            return true;
    return false;
}

/* send_mail - MAIL FROM, with SMTPUTF8 when a recipient needs it */
static void send_mail(mv_probe *p, state s, const char *from)
{
    if (p->prm.smtputf8 && !p->smtputf8_offered) {
        finish(p, MV_PROBE_BLOCKED, "server does not offer SMTPUTF8 (RFC 6531)");
        return;
    }
    send_cmd(p, s, "MAIL FROM:<%s>%s", from, p->prm.smtputf8 ? " SMTPUTF8" : "");
}

/* after_ehlo - extensions known: STARTTLS or MAIL */
static void after_ehlo(mv_probe *p, const mv_reply *r, bool tls_done)
{
    const char *no_ctx = "no TLS context";

    p->starttls_offered = has_word(r->text, "STARTTLS");
    p->smtputf8_offered = has_word(r->text, "SMTPUTF8");
    /* the context loads OpenSSL at the first STARTTLS it is asked for;
     * if it cannot, this is a server offering STARTTLS to a client
     * without TLS: plain text when TLS is opportunistic */
    if (!tls_done && p->prm.tls != MV_TLS_OFF && p->starttls_offered && p->prm.tls_ctx != NULL &&
        mv_tls_ctx_ready(p->prm.tls_ctx, &no_ctx)) {
        send_cmd(p, S_STARTTLS, "STARTTLS");
        return;
    }
    if (!tls_done && p->prm.tls == MV_TLS_REQUIRED) {
        finish(p, MV_PROBE_TLS, "TLS required, %s", p->starttls_offered ? no_ctx : "STARTTLS not offered");
        return;
    }
    if (!tls_done)
        say(p, "no TLS: %s",
            !p->starttls_offered       ? "STARTTLS not offered"
            : p->prm.tls == MV_TLS_OFF ? "STARTTLS offered, TLS off for this session"
                                       : no_ctx);
    send_mail(p, S_MAIL, p->from);
}

/* next_rcpt - ask the next recipient, or end the session */
static void next_rcpt(mv_probe *p)
{
    if (p->cur >= p->nrcpt) {
        finish(p, MV_PROBE_DONE, NULL);
        return;
    }
    send_cmd(p, S_RCPT, "RCPT TO:<%s>", p->rcpts[p->cur]);
}

/* random_rcpt - a local part nobody has, at the domain of the first recipient */
static void random_rcpt(mv_probe *p)
{
    const char *at = strrchr(p->rcpts[0], '@');
    unsigned char r[8];

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)(mv_loop_now() >> (i % 8)) ^ (unsigned char)(i * 37);
    p->catch_all_asked = true;
    send_cmd(p, S_CATCHALL, "RCPT TO:<mv-%02x%02x%02x%02x%02x%02x%02x%02x%s>", r[0], r[1], r[2], r[3], r[4],
             r[5], r[6], r[7], at ? at : "@invalid");
}

/* too_many - "452 4.5.3 too many recipients": ask the rest in another session */
static bool too_many(const mv_reply *r)
{
    return r->code == 452 &&
           (r->enh[1] == 5 && r->enh[2] == 3 ? true : strcasestr(r->text, "too many") != NULL);
}

/* on_rcpt - a recipient's reply */
static void on_rcpt(mv_probe *p, const mv_reply *r)
{
    if (p->cur > 0 && too_many(r)) {
        finish(p, MV_PROBE_DONE, NULL); /* nanswered stays at cur */
        return;
    }
    mv_probe_answer(r, &p->res.rcpt[p->cur]);
    p->res.nanswered = ++p->cur;
    if (r->code == 421) {
        finish(p, MV_PROBE_DONE, NULL); /* the server is closing */
        return;
    }
    if (r->code / 100 == 2 && p->prm.catch_all && !p->catch_all_asked) {
        random_rcpt(p);
        return;
    }
    next_rcpt(p);
}

/* on_catch_all - the random recipient's reply */
static void on_catch_all(mv_probe *p, const mv_reply *r)
{
    /* 452 (too many recipients) or any 4xx means "don't know", not "no" */
    p->res.catch_all = r->code / 100 == 2 ? 1 : r->code / 100 == 5 ? 0 : -1;
    if (r->code == 421) {
        finish(p, MV_PROBE_DONE, NULL);
        return;
    }
    next_rcpt(p);
}

/* refused - a 4xx or 5xx before RCPT ends the session */
static void refused(mv_probe *p, const mv_reply *r)
{
    mv_probe_answer(r, &p->res.last);
    finish(p, r->code / 100 == 4 ? MV_PROBE_TEMP : MV_PROBE_BLOCKED, NULL);
}

static void start_tls(mv_probe *p);

/* on_reply - one complete reply in the current state */
static void on_reply(mv_probe *p, const mv_reply *r)
{
    bool ok = r->code / 100 == 2;

    mv_timer_stop(p->loop, &p->timer);
    switch (p->st) {
    case S_BANNER:
        if (ok)
            send_cmd(p, S_EHLO, "EHLO %s", p->helo);
        else
            refused(p, r);
        break;
    case S_EHLO:
        if (ok)
            after_ehlo(p, r, false);
        else if (r->code / 100 == 5)
            send_cmd(p, S_HELO, "HELO %s", p->helo);
        else
            refused(p, r);
        break;
    case S_HELO:
        if (!ok)
            refused(p, r);
        else if (p->prm.tls == MV_TLS_REQUIRED)
            finish(p, MV_PROBE_TLS, "TLS required, server has no EHLO");
        else
            send_mail(p, S_MAIL, p->from);
        break;
    case S_STARTTLS:
        if (r->code == 220)
            start_tls(p);
        else if (p->prm.tls == MV_TLS_REQUIRED) {
            mv_probe_answer(r, &p->res.last);
            finish(p, MV_PROBE_TLS, "STARTTLS refused");
        } else {
            say(p, "no TLS: STARTTLS refused, going on in plain text");
            send_mail(p, S_MAIL, p->from);
        }
        break;
    case S_EHLO_TLS:
        if (ok)
            after_ehlo(p, r, true);
        else
            refused(p, r);
        break;
    case S_MAIL:
        if (ok)
            next_rcpt(p);
        else if (r->code / 100 == 5 && p->from[0] == '\0' && p->fallback[0] != '\0') {
            /* some servers refuse the null sender: once, with the configured one */
            p->res.used_fallback_from = true;
            send_mail(p, S_MAIL_FALLBACK, p->fallback);
        } else
            refused(p, r);
        break;
    case S_MAIL_FALLBACK:
        if (ok)
            next_rcpt(p);
        else
            refused(p, r);
        break;
    case S_RCPT: on_rcpt(p, r); break;
    case S_CATCHALL: on_catch_all(p, r); break;
    default: finish(p, MV_PROBE_PROTOCOL, "reply in state %s", state_names[p->st]); break;
    }
}

/* parse_input - feed buffered bytes to the reply parser; false if ended */
static bool parse_input(mv_probe *p)
{
    size_t used = 0;
    mv_reply_status rs;
    mv_reply r;

    if (p->rlen == 0)
        return true;
    rs = mv_reply_feed(&p->rp, p->rbuf, p->rlen, &used);
    heard(p, p->rbuf, used);
    if (rs == MV_REPLY_ERROR || (rs == MV_REPLY_DONE && used < p->rlen))
        heard(p, p->rbuf + used, p->rlen - used); /* what made it fail, or came unasked */
    memmove(p->rbuf, p->rbuf + used, p->rlen - used);
    p->rlen -= used;
    if (rs == MV_REPLY_ERROR) {
        finish(p, MV_PROBE_PROTOCOL, "%s", mv_reply_error_name(p->rp.error));
        return false;
    }
    if (rs == MV_REPLY_MORE)
        return true;
    if (p->st == S_CONNECT || p->st == S_HANDSHAKE) {
        finish(p, MV_PROBE_PROTOCOL, "unexpected reply");
        return false;
    }
    /* we never pipeline, so a server has nothing to say before it is asked;
     * text after the 220 to STARTTLS is discarded (RFC 3207 6) */
    if (p->rlen > 0 && !(p->st == S_STARTTLS && p->rp.r.code == 220)) {
        finish(p, MV_PROBE_PROTOCOL, "server sent data before it was asked");
        return false;
    }
    r = p->rp.r;
    on_reply(p, &r); /* may end (and free) the probe */
    return false;
}

/* read_some - read what the socket has; false if the probe ended */
static bool read_some(mv_probe *p)
{
    size_t room = sizeof(p->rbuf) - p->rlen, got = 0;
    ssize_t n;

    if (room == 0)
        return parse_input(p);
    if (p->tls != NULL) {
        mv_tls_status ts = mv_tls_read(p->tls, p->rbuf + p->rlen, room, &got);

        if (ts == MV_TLS_WANT_READ || ts == MV_TLS_WANT_WRITE)
            return true;
        if (ts != MV_TLS_DONE) {
            finish(p, MV_PROBE_PROTOCOL, "%s",
                   ts == MV_TLS_CLOSED ? "connection closed" : mv_tls_error(p->tls));
            return false;
        }
    } else {
        n = recv(p->fd, p->rbuf + p->rlen, room, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (n <= 0) {
            finish(p, MV_PROBE_PROTOCOL, "%s", n == 0 ? "connection closed" : strerror(errno));
            return false;
        }
        got = (size_t)n;
    }
    p->rlen += got;
    return parse_input(p);
}

/* handshake - drive TLS; on success, EHLO again (RFC 3207 4.2) */
static void handshake(mv_probe *p)
{
    mv_tls_status ts = mv_tls_handshake(p->tls);

    if (ts == MV_TLS_WANT_READ || ts == MV_TLS_WANT_WRITE) {
        want(p, ts == MV_TLS_WANT_READ ? MV_EV_READ : MV_EV_WRITE);
        return;
    }
    if (ts != MV_TLS_DONE) {
        say(p, "TLS handshake failed: %s", mv_tls_error(p->tls));
        finish(p, MV_PROBE_TLS, "%s", mv_tls_error(p->tls));
        return;
    }
    mv_timer_stop(p->loop, &p->timer);
    p->res.tls = true;
    mv_tls_describe(p->tls, p->res.tls_version, sizeof(p->res.tls_version), p->res.tls_cipher,
                    sizeof(p->res.tls_cipher));
    say(p, "TLS handshake done: %s, cipher %s", p->res.tls_version, p->res.tls_cipher);
    send_cmd(p, S_EHLO_TLS, "EHLO %s", p->helo);
}

/* start_tls - 220 to STARTTLS: begin the handshake */
static void start_tls(mv_probe *p)
{
    if ((p->tls = mv_tls_new(p->prm.tls_ctx, p->fd, p->host)) == NULL) {
        finish(p, MV_PROBE_TLS, "cannot start TLS");
        return;
    }
    p->st = S_HANDSHAKE;
    if (p->tlen > 0 || p->tcut > 0)
        heard_line(p, false);
    if (p->rlen > 0)
        say(p, "%zu bytes after the 220 to STARTTLS discarded (RFC 3207 6)", p->rlen);
    p->rlen = 0; /* RFC 3207 6: nothing before TLS is kept */
    if (p->prm.trace != NULL) {
        char sni[MV_TRACE_TEXT_MAX + 8];

        mv_trace_escape(sni, sizeof(sni), p->host, strlen(p->host));
        say(p, "TLS handshake (SNI %s)", sni[0] ? sni : "none");
    }
    mv_timer_start(p->loop, &p->timer, p->prm.reply_ms, on_timeout, p);
    handshake(p);
}

/* connected - the non-blocking connect finished: check how */
static void connected(mv_probe *p)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        finish(p, MV_PROBE_NO_CONNECT, "connect: %s", strerror(err));
        return;
    }
    say(p, "connected");
    expect(p, S_BANNER);
    want(p, MV_EV_READ);
}

/* on_io - the socket is ready */
static void on_io(void *arg, int fd, unsigned ev)
{
    mv_probe *p = arg;

    (void)fd;
    if (p->st == S_CONNECT) {
        connected(p);
        return;
    }
    if (p->st == S_HANDSHAKE) {
        handshake(p);
        return;
    }
    if ((ev & MV_EV_WRITE) && p->woff < p->wlen) {
        if (!flush(p))
            return;
        if (!(ev & (MV_EV_READ | MV_EV_ERROR)))
            return;
    }
    if (ev & (MV_EV_READ | MV_EV_ERROR))
        read_some(p);
}

/* on_timeout - the current stage took too long */
static void on_timeout(void *arg)
{
    mv_probe *p = arg;

    if (p->st == S_CONNECT)
        finish(p, MV_PROBE_NO_CONNECT, "connect: timed out");
    else
        finish(p, MV_PROBE_TIMEOUT, "no reply within %u ms", p->prm.reply_ms);
}

/* copy_params - the probe keeps its own copies of every string */
static bool copy_params(mv_probe *p, const mv_probe_params *prm, const char *host, const char *const *rcpts,
                        size_t nrcpt)
{
    p->prm = *prm;
    snprintf(p->helo, sizeof(p->helo), "%s", prm->helo ? prm->helo : "localhost");
    snprintf(p->from, sizeof(p->from), "%s", prm->mail_from ? prm->mail_from : "");
    snprintf(p->fallback, sizeof(p->fallback), "%s", prm->fallback_from ? prm->fallback_from : "");
    snprintf(p->host, sizeof(p->host), "%s", host ? host : "");
    for (size_t i = 0; i < nrcpt; i++) {
        if ((p->rcpts[i] = strdup(rcpts[i])) == NULL)
            return false;
        p->nrcpt++;
    }
    return true;
}

/* on_deferred - an immediate failure, reported from the loop */
static void on_deferred(void *arg)
{
    mv_probe *p = arg;

    finish(p, p->res.status, NULL);
}

/* fail_later - fail, but never inside mv_probe_start: the caller is
 * still setting up when the socket call fails */
__attribute__((format(printf, 3, 4))) static void fail_later(mv_probe *p, mv_probe_status st, const char *fmt,
                                                             ...)
{
    va_list ap;

    p->res.status = st;
    va_start(ap, fmt);
    vsnprintf(p->res.error, sizeof(p->res.error), fmt, ap);
    va_end(ap);
    mv_timer_start(p->loop, &p->timer, 0, on_deferred, p);
}

/* mv_probe_start - begin a session; NULL (and no callback) on ENOMEM */
mv_probe *mv_probe_start(mv_loop *loop, const mv_probe_params *prm, const struct sockaddr *addr,
                         const char *host, const char *const *rcpts, size_t nrcpt, mv_probe_cb cb, void *arg)
{
    mv_probe *p = calloc(1, sizeof(*p));
    socklen_t alen = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->fd = -1;
    p->cb = cb;
    p->arg = arg;
    p->started = mv_loop_now();
    p->res.catch_all = -1;
    if (nrcpt == 0 || nrcpt > MV_PROBE_RCPT_MAX || !copy_params(p, prm, host, rcpts, nrcpt)) {
        release(p);
        return NULL;
    }
    p->st = S_CONNECT;
    p->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        fail_later(p, MV_PROBE_NO_CONNECT, "socket: %s", strerror(errno));
    else if (connect(p->fd, addr, alen) < 0 && errno != EINPROGRESS)
        fail_later(p, MV_PROBE_NO_CONNECT, "connect: %s", strerror(errno));
    else if (mv_loop_io_set(loop, p->fd, MV_EV_WRITE, on_io, p) < 0)
        fail_later(p, MV_PROBE_NO_CONNECT, "cannot watch socket: %s", strerror(errno));
    else
        mv_timer_start(loop, &p->timer, prm->connect_ms, on_timeout, p);
    return p;
}

/* mv_probe_cancel - end now; the callback runs with MV_PROBE_CANCELLED */
void mv_probe_cancel(mv_probe *p)
{
    finish(p, MV_PROBE_CANCELLED, "cancelled");
}
