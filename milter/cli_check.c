/* SPDX-License-Identifier: MIT */
/*
 * cli_check.c - `mailverify check`: verify addresses from argv or stdin.
 *
 * With "-" the command is a filter: one line in, one verdict out, in
 * order, streaming. Output is batched, but flushed whenever the input has
 * nothing more buffered, so a program that writes a line and waits for
 * the answer gets it at once. Memory does not grow with the input: a line
 * is kept up to MV_INPUT_MAX + 1 bytes (enough to know it is too long to
 * be an address) and the rest of it is only counted. Addresses given as
 * arguments are verified at once, up to ARGS_WINDOW in flight (a slow
 * server's minute does not add up address after address), and printed in
 * the order given as each one's turn comes. With --trace the
 * engine's transcript (DNS answers, the SMTP dialogue, the readings) goes
 * to stderr as it happens; stdout carries the verdicts as always.
 */
#include "cli.h"
#include "cli_opts.h"
#include "engine.h"
#include "json.h"
#include "utf8.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char check_usage[] =
    "Usage: mailverify check [OPTIONS] ADDRESS...\n"
    "       mailverify check [OPTIONS] -          (addresses from stdin)\n"
    "\n"
    "Verify each address and print its verdict: a status (deliverable,\n"
    "undeliverable, risky, unknown), the reason, the action the policy of\n"
    "the chosen context takes, and a suggestion when the domain looks\n"
    "mistyped. \"-\" reads addresses from standard input, one per line\n"
    "(CRLF or LF; every line, even an empty one, gets exactly one verdict,\n"
    "in order, written as soon as it is known).\n"
    "\n"
    "Steps: syntax (RFC 5321, RFC 6531, IDNA2008), normalization, the\n"
    "disposable/role/free lists and typo suggestions (offline); then the\n"
    "domain's MX records (dns); then an SMTP probe that asks the domain's\n"
    "mail server about the mailbox with RCPT TO and never sends a message\n"
    "(smtp). How far to go is the context's mode in the configuration\n"
    "(form: smtp) unless --mode says otherwise. An answer that does not\n"
    "come within the deadline is \"unknown\" with reason \"timeout\".\n"
    "What a server's reply means is read with the reply rules table\n"
    "(replies.table, the admin's replies.rules first), then RFC 3463.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    use FILE instead of the built-in configuration\n"
    "  -m, --mode MODE      offline, dns or smtp (default: the context's)\n"
    "      --offline        the same as --mode offline: syntax, lists and\n"
    "                       typo only; never touches the network\n"
    "  -t, --timeout MS     deadline per address (default: the bulk\n"
    "                       context's, 60000 ms: as long as an MTA waits for\n"
    "                       a slow server -- a postscreen greeting pause, a\n"
    "                       tarpit -- whatever the context; the form's short\n"
    "                       deadline is for a browser, which gets a pending\n"
    "                       answer and a webhook instead)\n"
    "  -r, --resolver HOST[:PORT]  ask this DNS server instead of the\n"
    "                       configured one (dns.servers) or the system's\n"
    "      --allow-private  probe MX hosts in loopback and private ranges\n"
    "                       (test setups; smtp.allow_private_targets)\n"
    "      --next-hop HOST  probe this server instead of the MX hosts:\n"
    "                       [address]:port or host:port (a gateway's\n"
    "                       internal server, as the milter's domains table)\n"
    "  -j, --json           one JSON object per address, one per line (the\n"
    "                       format of the FastCGI plugin and bulk --format jsonl)\n"
    "  -x, --context NAME   policy context: sender, recipient, form (default)\n"
    "                       or bulk; \"sender\" also accepts the null path <>\n"
    "      --canonical      add the provider-aware canonical form, for\n"
    "                       finding duplicates (J.Doe+x@gmail.com = jdoe@gmail.com)\n"
    "      --trace          show on stderr, as it happens, what swaks or\n"
    "                       posttls-finger would: the MX hosts with their\n"
    "                       preferences, addresses and TTL (or NXDOMAIN, null\n"
    "                       MX, the DNS error), each MX address tried, every\n"
    "                       SMTP command and reply line with its time since\n"
    "                       the connect, STARTTLS and the TLS version and\n"
    "                       cipher (or the TLS error), and the reading that\n"
    "                       decided each reason (the reply rule or RFC 3463);\n"
    "                       the verdicts still go to stdout\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status:\n"
    "   0  every address was checked; none is undeliverable\n"
    "   1  every address was checked; at least one is undeliverable\n"
    "  64  bad command line\n"
    "  70  internal error (out of memory, the network half cannot start)\n"
    "  74  cannot read standard input or write standard output\n"
    "  78  the configuration has errors (see mailverify config-test)\n"
    "\n"
    "Examples:\n"
    "  mailverify check jane.doe@gmial.com\n"
    "  mailverify check --json --offline - < addresses.txt > verdicts.jsonl\n"
    "  mailverify check --context sender '<>'\n"
    "  mailverify check --trace postmaster@example.org\n"
    "  mailverify check --mode dns --resolver 127.0.0.1:5353 user@example.test\n";

typedef struct {
    mv_engine *engine;
    mv_engine_options opts;
    mv_request req;
    bool json, trace;
    mv_buf out;
    int status; /* exit status so far */
    bool write_failed;
} checker;

/* flush - write the output buffer to stdout; false on a write error */
static bool flush(checker *ck)
{
    size_t off = 0;

    while (off < ck->out.len) {
        ssize_t n = write(STDOUT_FILENO, ck->out.data + off, ck->out.len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!ck->write_failed)
                fprintf(stderr, "mailverify: cannot write output: %s\n", strerror(errno));
            ck->write_failed = true;
            mv_buf_reset(&ck->out);
            return false;
        }
        off += (size_t)n;
    }
    mv_buf_reset(&ck->out);
    return true;
}

/* trace_line - the engine's transcript, a line at a time to stderr (the
 * engine's thread writes it; stdio locks the stream per call) */
static void trace_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "%s\n", line);
}

/* put_safe - input bytes for a terminal: controls and bad UTF-8 as \xNN */
static void put_safe(mv_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : mv_utf8_seq(p + i, n - i);

        if (k == 0 || p[i] < 0x20 || p[i] == 0x7F || p[i] == '\\') {
            mv_buf_printf(b, p[i] == '\\' ? "\\\\" : "\\x%02x", p[i]);
            i++;
            continue;
        }
        mv_buf_put(b, p + i, k);
        i += k;
    }
}

/* human_net - what DNS and SMTP said, for a person */
static void human_net(mv_buf *b, const mv_verdict *v)
{
    const mv_net_outcome *n = &v->net;

    if (!v->net_asked)
        return;
    if (n->mx[0] != '\0') {
        mv_buf_printf(b, "  mx          %s", n->implicit_mx ? "(no MX, the domain's address) " : "");
        put_safe(b, n->mx, strlen(n->mx));
        mv_buf_putc(b, '\n');
    }
    if (n->smtp.code != 0) {
        mv_buf_printf(b, "  smtp        %d", n->smtp.code);
        if (n->smtp.enh[0] != 0)
            mv_buf_printf(b, " %d.%d.%d", n->smtp.enh[0], n->smtp.enh[1], n->smtp.enh[2]);
        mv_buf_putc(b, ' ');
        put_safe(b, n->smtp.text, strlen(n->smtp.text));
        mv_buf_puts(b, n->tls ? " (TLS)\n" : "\n");
    }
    if (n->catch_all >= 0)
        mv_buf_printf(b, "  catch-all   %s\n", n->catch_all ? "yes: the domain accepts any address" : "no");
    if (n->detail[0] != '\0') {
        mv_buf_puts(b, "  detail      ");
        put_safe(b, n->detail, strlen(n->detail));
        mv_buf_putc(b, '\n');
    }
    if (v->cached)
        mv_buf_puts(b, "  cached      yes\n");
}

/* human - the verdict for a person reading a terminal */
static void human(mv_buf *b, const mv_verdict *v)
{
    const mv_address *a = &v->addr;
    size_t echo = v->input_len > MV_ECHO_MAX ? MV_ECHO_MAX : v->input_len;
    char norm[MV_MAILBOX_MAX + 8];

    put_safe(b, v->input, echo);
    if (echo < v->input_len)
        mv_buf_printf(b, "... (%zu bytes)", v->input_len);
    mv_buf_printf(b, "\n  verdict     %s (%s)\n", mv_status_name(v->status), mv_reason_name(v->reason));
    if (a->error != MV_SYN_OK)
        mv_buf_printf(b, "  syntax      %s at byte %zu: %s\n", mv_syntax_name(a->error), a->error_pos,
                      mv_syntax_message(a->error));
    mv_buf_printf(b, "  action      %s (context %s)\n", mv_action_name(v->action),
                  mv_context_name(v->context));
    if (v->has_suggestion) {
        mv_buf_puts(b, "  suggestion  did you mean ");
        put_safe(b, v->suggestion, strlen(v->suggestion));
        mv_buf_puts(b, "?\n");
    }
    if (a->error == MV_SYN_OK && mv_address_format(a, norm, sizeof(norm)) > 0) {
        mv_buf_puts(b, "  normalized  ");
        put_safe(b, norm, strlen(norm));
        mv_buf_putc(b, '\n');
    }
    if (v->has_canonical) {
        mv_buf_puts(b, "  canonical   ");
        put_safe(b, v->canonical, strlen(v->canonical));
        mv_buf_putc(b, '\n');
    }
    if (a->error == MV_SYN_OK && a->kind == MV_ADDR_MAILBOX)
        mv_buf_printf(b, "  signals     disposable %s, role %s, free %s%s%s\n", v->disposable ? "yes" : "no",
                      v->role ? "yes" : "no", v->free ? "yes" : "no", a->smtputf8 ? ", needs SMTPUTF8" : "",
                      a->idn ? ", IDN" : "");
    human_net(b, v);
    if (v->reason == MV_R_UNVERIFIED && !v->net_asked)
        mv_buf_puts(b, "  note        offline check: DNS and the mail server were not asked\n");
}

/* engine_failed - a call the engine could not take */
static int engine_failed(checker *ck, mv_call rc)
{
    fprintf(stderr, "mailverify: engine: %s%s%s\n", mv_call_name(rc), rc == MV_ENETSTART ? ": " : "",
            rc == MV_ENETSTART ? mv_engine_error(ck->engine) : "");
    return EX_SOFTWARE;
}

/* put_verdict - one verdict into the output */
static int put_verdict(checker *ck, mv_verdict *v, size_t real_len)
{
    v->input_len = real_len; /* the echo never reads past len (<= MV_ECHO_MAX) */
    if (v->status == MV_STATUS_UNDELIVERABLE)
        ck->status = EXIT_UNDELIVERABLE;
    if (ck->json) {
        mv_verdict_json(&ck->out, v, 0);
        mv_buf_putc(&ck->out, '\n');
    } else {
        human(&ck->out, v);
    }
    if (!mv_buf_ok(&ck->out)) {
        fputs("mailverify: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    if (ck->out.len >= 65536 && !flush(ck))
        return EX_IOERR;
    return 0;
}

/* check_one - verify one address and queue its output */
static int check_one(checker *ck, const char *addr, size_t len, size_t real_len)
{
    mv_verdict v;
    mv_call rc;

    ck->req.address = addr;
    ck->req.len = len;
    if ((rc = mv_engine_check(ck->engine, &ck->req, &v)) != MV_OK)
        return engine_failed(ck, rc);
    return put_verdict(ck, &v, real_len);
}

#define ARGS_WINDOW 64 /* argument addresses in flight at once */

/* Verdicts of argument addresses, arriving in any order. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mv_verdict *v; /* one per address */
    bool *ready;
} arrivals;

typedef struct {
    arrivals *a;
    size_t i;
} arrival;

/* on_arrival - a verdict (engine thread, or the caller's before submit returns) */
static void on_arrival(void *arg, const mv_verdict *v)
{
    arrival *x = arg;

    pthread_mutex_lock(&x->a->mu);
    x->a->v[x->i] = *v; /* all but the input echo, which check_args sets */
    x->a->ready[x->i] = true;
    pthread_cond_signal(&x->a->cv);
    pthread_mutex_unlock(&x->a->mu);
    free(x);
}

/* submit_arg - start the i-th address; false if the engine refused it */
static bool submit_arg(checker *ck, arrivals *a, char **addrs, size_t i, mv_call *rc)
{
    arrival *x = malloc(sizeof(*x));
    mv_request req = ck->req;

    if (x == NULL) {
        *rc = MV_ENOMEM;
        return false;
    }
    *x = (arrival){a, i};
    req.address = addrs[i];
    req.len = strlen(addrs[i]);
    if ((*rc = mv_engine_submit(ck->engine, &req, on_arrival, x)) != MV_OK) {
        free(x);
        return false;
    }
    return true;
}

/* check_args - the addresses given as arguments, verified together and
 * printed in order */
static int check_args(checker *ck, char **addrs, size_t n)
{
    arrivals a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, calloc(n, sizeof(mv_verdict)),
                  calloc(n, sizeof(bool))};
    size_t sent = 0, out = 0;
    int rc = 0;
    mv_call call = MV_OK;

    if (a.v == NULL || a.ready == NULL) {
        free(a.v);
        free(a.ready);
        fputs("mailverify: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    while (out < n) {
        while (rc == 0 && sent < n && sent - out < ARGS_WINDOW && submit_arg(ck, &a, addrs, sent, &call))
            sent++;
        if (rc == 0 && sent < n && sent - out < ARGS_WINDOW)
            rc = engine_failed(ck, call);
        if (out == sent)
            break; /* the engine refused; nothing more will come */
        pthread_mutex_lock(&a.mu);
        while (!a.ready[out])
            pthread_cond_wait(&a.cv, &a.mu);
        pthread_mutex_unlock(&a.mu);
        a.v[out].input = addrs[out]; /* the engine's echo was its own, gone with the callback */
        if (rc == 0)
            rc = put_verdict(ck, &a.v[out], strlen(addrs[out]));
        out++;
    }
    free(a.v);
    free(a.ready);
    return rc;
}

#define READ_CHUNK 65536
#define KEEP (MV_INPUT_MAX + 1) /* enough to know a line is too long */

/* Line reader over stdin that never holds more than one chunk + KEEP. */
typedef struct {
    char buf[READ_CHUNK];
    size_t start, end;
    bool eof;
    char line[KEEP]; /* the line being assembled across reads */
    size_t kept, total;
} reader;

/* fill - more input; flushes output first so that answers stream */
static int fill(checker *ck, reader *r)
{
    ssize_t n;

    if (ck->out.len > 0 && !flush(ck))
        return -1;
    do
        n = read(STDIN_FILENO, r->buf, sizeof(r->buf));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        fprintf(stderr, "mailverify: cannot read standard input: %s\n", strerror(errno));
        return -1;
    }
    r->start = 0;
    r->end = (size_t)n;
    r->eof = n == 0;
    return 0;
}

/* take - add bytes to the line being assembled, keeping at most KEEP */
static void take(reader *r, const char *p, size_t n)
{
    size_t room = KEEP - r->kept;

    memcpy(r->line + r->kept, p, n < room ? n : room);
    r->kept += n < room ? n : room;
    r->total += n;
}

/* emit - one complete line, n of its total bytes kept (CR of CRLF dropped) */
static int emit(checker *ck, const char *line, size_t n, size_t total)
{
    /* a too-long line (total > n) stays too long with or without its CR */
    if (total > 0 && total == n && line[n - 1] == '\r') {
        n--;
        total--;
    }
    return check_one(ck, line, n, total);
}

/* emit_kept - the line assembled across reads */
static int emit_kept(checker *ck, reader *r)
{
    size_t n = r->kept, total = r->total;

    r->kept = r->total = 0;
    return emit(ck, r->line, n, total);
}

/* check_stdin - every line of stdin, in order */
static int check_stdin(checker *ck)
{
    reader *r = calloc(1, sizeof(*r));
    int rc = 0;

    if (r == NULL)
        return EX_SOFTWARE;
    while (rc == 0) {
        char *nl;
        size_t n;

        if (r->start == r->end) {
            if (fill(ck, r) < 0) {
                rc = EX_IOERR;
                break;
            }
            if (r->eof) {
                if (r->total > 0)
                    rc = emit_kept(ck, r); /* last line without a newline */
                break;
            }
        }
        nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl == NULL) {
            take(r, r->buf + r->start, r->end - r->start);
            r->start = r->end;
            continue;
        }
        n = (size_t)(nl - (r->buf + r->start));
        if (r->total == 0) {
            /* the whole line is in the read buffer: check it there, uncopied */
            rc = emit(ck, r->buf + r->start, n < KEEP ? n : KEEP, n);
        } else {
            take(r, r->buf + r->start, n);
            rc = emit_kept(ck, r);
        }
        r->start = (size_t)(nl - r->buf) + 1;
    }
    free(r);
    return rc;
}

/* parse_args - options into the checker; -1 on a usage error, 1 for help */
static int parse_args(int argc, char **argv, checker *ck, const char **config)
{
    static const struct option opts[] = {
        CLI_COMMON_LONGOPTS,
        {"next-hop", required_argument, NULL, 'N'},
        {"json", no_argument, NULL, 'j'},
        {"context", required_argument, NULL, 'x'},
        {"canonical", no_argument, NULL, 'C'},
        {"trace", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_common co = {.eo = CLI_ENGINE_OPTIONS, .mode = MV_MODE_CONTEXT};
    int c, ctx, mine;

    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "jx:h", opts, NULL)) != -1) {
        if ((mine = cli_common_opt(c, optarg, "check", &co)) < 0)
            return -1;
        if (mine > 0)
            continue;
        switch (c) {
        case 'N': ck->req.next_hop = optarg; break;
        case 'j': ck->json = true; break;
        case 'C': ck->req.flags |= MV_REQ_CANONICAL; break;
        case 'T': ck->trace = true; break;
        case 'h': fputs(check_usage, stdout); return 1;
        case 'x':
            if ((ctx = mv_context_lookup(optarg)) < 0) {
                fprintf(stderr,
                        "mailverify check: unknown context '%s' "
                        "(sender, recipient, form, bulk)\n",
                        optarg);
                return -1;
            }
            ck->req.context = (mv_context)ctx;
            break;
        default: fputs("Try 'mailverify check --help'.\n", stderr); return -1;
        }
    }
    *config = co.config;
    ck->opts = co.eo;
    ck->req.mode = co.mode;
    ck->req.deadline_ms = co.deadline_ms;
    if (optind >= argc) {
        fputs("mailverify check: no address given (use - to read from stdin)\n"
              "Try 'mailverify check --help'.\n",
              stderr);
        return -1;
    }
    return 0;
}

int cli_check(int argc, char **argv)
{
    checker ck = {.opts = {.resolver = NULL, .allow_private = -1},
                  .req = {.context = MV_CTX_FORM, .mode = MV_MODE_CONTEXT}};
    const char *config = NULL;
    mv_config *cfg;
    int rc = parse_args(argc, argv, &ck, &config);

    if (rc != 0)
        return rc > 0 ? 0 : EX_USAGE;
    if ((cfg = cli_load_config(config, true)) == NULL)
        return EX_CONFIG;
    if (ck.req.deadline_ms == 0) /* wait as an MTA would, not as a form does */
        ck.req.deadline_ms = (unsigned)mv_config_settings(cfg)->context[MV_CTX_BULK].deadline_ms;
    ck.engine = mv_engine_new_opts(cfg, &ck.opts);
    mv_config_unref(cfg);
    if (ck.engine == NULL) {
        fputs("mailverify: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    if (ck.trace)
        mv_engine_set_trace(ck.engine, trace_line, NULL);
    for (int i = optind; i < argc && rc == 0;) {
        int j = i;

        while (j < argc && strcmp(argv[j], "-") != 0)
            j++; /* a run of addresses: together */
        if (j > i)
            rc = check_args(&ck, argv + i, (size_t)(j - i));
        if (rc == 0 && j < argc)
            rc = check_stdin(&ck);
        i = j + 1;
    }
    if (!flush(&ck) && rc == 0)
        rc = EX_IOERR;
    mv_buf_free(&ck.out);
    mv_engine_free(ck.engine);
    return rc != 0 ? rc : ck.status;
}
