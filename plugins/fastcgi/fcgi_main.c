/* SPDX-License-Identifier: MIT */
/*
 * fcgi_main.c - mailverify.fcgi: one binary, CGI or FastCGI.
 *
 * As a CGI program (the web server sets GATEWAY_INTERFACE) it answers the
 * one request in its environment and exits. As a FastCGI worker it serves
 * many requests with a pool of threads sharing one engine and one cache:
 * on the listening socket systemd hands it (socket activation: fd 3, with
 * LISTEN_PID and LISTEN_FDS, as mailverify-fcgi.socket does), else the
 * one spawn-fcgi hands it as stdin (FastCGI's own convention), else on
 * its own (fastcgi.socket, --socket). The threads and connections are
 * fcgi_pool.c's: idle kept connections (nginx's fastcgi_keep_conn) hold
 * no thread, reading a request has fastcgi.read_timeout_ms, and the pool
 * grows while every thread is busy.
 * SIGTERM/SIGINT stop accepting; requests being answered finish; what the
 * engine has in flight is answered before exit.
 * As a CGI program, reading stdin has the same deadline (poll() before
 * each read): a client that dribbles its body gets 408, and the process
 * ends, instead of waiting for the web server's timeout.
 */
#include "version.h"
#include "fcgi_pool.h"
#include "passthrough.h"
#include "plugin.h"
#include "webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_FDS_START 3 /* systemd's first passed fd (sd_listen_fds(3)) */
#define CGI_LATE_MS 65000  /* a CGI process stays this long at most for a late verdict */
#define GROW_SPARE 60      /* threads the pool may start beyond fastcgi.threads */


static const char usage[] =
    "Usage: mailverify.fcgi [-c FILE] [-s SOCKET] [-t THREADS]\n"
    "\n"
    "The mailverify web plugin. Under a web server as a CGI program it answers\n"
    "one request and exits; run otherwise it is a FastCGI worker: on the socket\n"
    "systemd gives it (socket activation: LISTEN_FDS=1, fd 3), on the one\n"
    "spawn-fcgi gives it (stdin), or on its own (fastcgi.socket, -s).\n"
    "\n"
    "Endpoints, exactly these paths under fastcgi.mount (\"\": at the root; e.g.\n"
    "\"/mailverify\" for /mailverify/verify); as a CGI program, the path after\n"
    "the script (/cgi-bin/mailverify.cgi/verify):\n"
    "  POST /verify      email=... (form) or {\"email\": ...} (JSON), optional context\n"
    "                    (bulk: only with a known X-Api-Key)\n"
    "  GET  /verify?email=...&context=form\n"
    "  GET  /healthz     {\"status\":\"ok\"}\n"
    "  GET  /metrics     Prometheus text format\n"
    "  OPTIONS           CORS preflight (fastcgi.cors_origins)\n"
    "Any other path is a form for pass-through (fastcgi.pass_through), else 404.\n"
    "Answers: 200 with the verdict for any address; 400 malformed request;\n"
    "401 API key; 403 bulk without a key; 405 method; 408 body slower than\n"
    "fastcgi.read_timeout_ms; 413 body too large; 415 media type; 429 rate\n"
    "limited (Retry-After); 503 the verifier cannot answer.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration (default " MV_SYSCONFDIR "/mailverify.conf,\n"
    "                      the built-in one if that does not exist)\n"
    "  -s, --socket SPEC   FastCGI socket: \":PORT\", \"HOST:PORT\" or a path\n"
    "  -t, --threads N     worker threads (fastcgi.threads)\n"
    "  -h, --help          this help\n"
    "  -V, --version       the version\n"
    "\n"
    "Exit status: 0 stopped cleanly (CGI: answered); 64 usage; 70 cannot start\n"
    "(out of memory); 71 cannot open the socket; 74 (CGI) cannot write the\n"
    "answer; 78 configuration errors.\n";

static mv_plugin plugin;
static mv_webhook *webhook;
static mv_pass *pass;
static long long cgi_deadline; /* CGI mode: monotonic ms after which stdin is not read
                                 * (the process's start, until cgi() adds the timeout) */

/* fcgx_getenv, fcgx_read, fcgx_write, fcgx_envp - the http.h I/O over a FastCGI request */
static const char *fcgx_getenv(void *io, const char *name)
{
    return FCGX_GetParam(name, ((FCGX_Request *)io)->envp);
}

static long fcgx_read(void *io, char *buf, size_t n)
{
    return mv_fpool_read(io, buf, n);
}

static bool fcgx_write(void *io, const char *buf, size_t n)
{
    return FCGX_PutStr(buf, (int)n, ((FCGX_Request *)io)->out) == (int)n;
}

static char **fcgx_envp(void *io)
{
    return ((FCGX_Request *)io)->envp;
}

/* cgi_getenv, cgi_read, cgi_write, cgi_envp - the same over a CGI process */
static const char *cgi_getenv(void *io, const char *name)
{
    (void)io;
    return getenv(name);
}

/* mono_ms - the monotonic clock in ms */
static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* cgi_read - stdin, unbuffered, each read within what is left of the
 * request's read deadline: -2 past it */
static long cgi_read(void *io, char *buf, size_t n)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};

    (void)io;
    for (;;) {
        long long left = cgi_deadline - mono_ms();
        ssize_t got;
        int rc;

        if (left <= 0)
            return -2;
        if ((rc = poll(&pfd, 1, (int)left)) == 0)
            return -2;
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc < 0)
            continue;
        if ((got = read(0, buf, n)) >= 0)
            return (long)got;
        if (errno != EINTR && errno != EAGAIN)
            return -1;
    }
}

static bool cgi_write(void *io, const char *buf, size_t n)
{
    (void)io;
    return fwrite(buf, 1, n, stdout) == n;
}

static char **cgi_envp(void *io)
{
    (void)io;
    return environ;
}

/* answer - one FastCGI request (the pool's callback) */
static void answer(void *arg, FCGX_Request *req)
{
    mv_http_io io = {
        .getenv = fcgx_getenv, .read = fcgx_read, .write = fcgx_write, .io = req, .envp = fcgx_envp};
    mv_http_req r;

    (void)arg;
    mv_http_init(&r, &io);
    mv_plugin_handle(&plugin, &r);
    mv_http_free(&r);
}

/* on_stop - SIGTERM/SIGINT: no new requests */
static void on_stop(int sig)
{
    (void)sig;
    mv_fpool_stop();
}

/* activated - the listening socket systemd passed (fd 3), when
 * LISTEN_PID is this process; -1 none, -2 unusable (said on stderr). The
 * variables are removed, so pass-through's handlers do not see them, and
 * the socket is not inherited by them either. */
static int activated(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    bool ours = pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid();
    bool one = ours && strcmp(fds, "1") == 0;
    int listening = 0;
    socklen_t len = sizeof(listening);

    if (!ours)
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!one || getsockopt(LISTEN_FDS_START, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening ||
        fcntl(LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) < 0) {
        fputs("mailverify.fcgi: socket activation: expected one listening socket (LISTEN_FDS=1, "
              "fd 3)\n",
              stderr);
        return -2;
    }
    return LISTEN_FDS_START;
}

/* serve - the FastCGI worker pool; an exit status */
static int serve(const char *spec, long threads, long read_timeout_ms)
{
    struct sigaction sa = {.sa_handler = on_stop};
    int listen_fd = activated(), rc;

    if (listen_fd == -2 || FCGX_Init() != 0)
        return EX_OSERR;
    if (listen_fd == -1 && !FCGX_IsCGI())
        listen_fd = 0; /* spawn-fcgi's socket */
    if (listen_fd == -1 && (listen_fd = FCGX_OpenSocket(spec, 128)) < 0) {
        fprintf(stderr, "mailverify.fcgi: cannot listen on %s: %s\n", spec, strerror(errno));
        return EX_OSERR;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = mv_fpool_run(listen_fd, threads, threads + GROW_SPARE, read_timeout_ms, answer, NULL);
    sigaction(SIGTERM, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
    sigaction(SIGINT, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
    return rc;
}

/* cgi_linger - after a CGI answer, when a check is still running and the
 * webhook waits for its final verdict: let the web server go (stdin and
 * stdout on /dev/null, so it sees the end of the answer; SIGTERM and
 * SIGHUP ignored, as web servers send them to a CGI process that outlives
 * its answer) and stay until the engine is done, CGI_LATE_MS at most */
static void cgi_linger(void)
{
    struct timespec tick = {0, 20 * 1000000L};
    size_t reqs = 0, sessions;
    int fd;

    if (webhook == NULL || plugin.engine == NULL)
        return;
    mv_engine_load(plugin.engine, &reqs, &sessions);
    if (reqs == 0)
        return;
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        close(fd);
    }
    for (long waited = 0; reqs > 0 && waited < CGI_LATE_MS; waited += 20) {
        nanosleep(&tick, NULL);
        mv_engine_load(plugin.engine, &reqs, &sessions);
    }
}

/* cgi - the one request of a CGI process */
static int cgi(void)
{
    mv_http_io io = {.getenv = cgi_getenv, .read = cgi_read, .write = cgi_write, .envp = cgi_envp};
    mv_http_req r;
    int rc;

    cgi_deadline += mv_fcgi_settings_of(plugin.cfg)->read_timeout_ms;
    mv_http_init(&r, &io);
    mv_plugin_handle(&plugin, &r);
    mv_http_free(&r);
    rc = fflush(stdout) == 0 ? 0 : EX_IOERR;
    cgi_linger();
    return rc;
}

/* webhook_line - the sender's lines on stderr (the web server's error log) */
static void webhook_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "mailverify.fcgi: %s\n", line);
}

/* webhook_attempt - a delivery attempt's outcome, for /metrics */
static void webhook_attempt(void *arg, bool delivered)
{
    mv_metrics_webhook(arg, delivered);
}

/* extras - the webhook sender and pass-through, when configured, as the
 * plugin's hooks; false if one could not start (logged) */
static bool extras(mv_config *cfg)
{
    bool wfail, pfail;

    webhook = mv_webhook_new(cfg, webhook_line, NULL, webhook_attempt, plugin.metrics, &wfail);
    pass = mv_pass_new(cfg, &pfail);
    if (webhook != NULL) {
        plugin.hooks.late = mv_webhook_late;
        plugin.hooks.late_arg = webhook;
    }
    if (pass != NULL) {
        plugin.hooks.pass = mv_pass_handle;
        plugin.hooks.pass_arg = pass;
    }
    return !wfail && !pfail;
}

/* finish - the engine answers what is in flight (late verdicts join the
 * webhook queue), the queue gets its grace period, then the rest goes */
static void finish(void)
{
    mv_engine_free(plugin.engine);
    plugin.engine = NULL;
    mv_webhook_free(webhook, MV_WEBHOOK_GRACE_MS);
    mv_pass_free(pass);
    mv_plugin_fini(&plugin);
}

/* load - the configuration, errors on stderr; NULL on errors */
static mv_config *load(const char *path)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load_with(path, mv_fcgi_config_tables, 0, &d);

    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "mailverify.fcgi: %s\n", d.items[i].text);
    mv_diag_clear(&d);
    return cfg;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'},  {"socket", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    static const char installed[] = MV_SYSCONFDIR "/mailverify.conf";
    const char *config = NULL, *spec = NULL;
    long threads = 0;
    mv_config *cfg;
    int c, rc;

    cgi_deadline = mono_ms(); /* the client's time runs from our start, not after loading */
    while ((c = getopt_long(argc, argv, "c:s:t:hV", lo, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 's': spec = optarg; break;
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("mailverify.fcgi %s\n", MV_VERSION); return 0;
        default: fputs("Try 'mailverify.fcgi --help'.\n", stderr); return EX_USAGE;
        }
    }
    if (optind < argc || threads < 0 || threads > 256) {
        fputs("mailverify.fcgi: bad arguments (try --help)\n", stderr);
        return EX_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (config == NULL && access(installed, F_OK) == 0)
        config = installed;
    if ((cfg = load(config)) == NULL)
        return EX_CONFIG;
    if (!mv_plugin_init(&plugin, cfg) || !extras(cfg)) {
        fputs("mailverify.fcgi: cannot start (out of memory, or see above)\n", stderr);
        finish();
        mv_config_unref(cfg);
        return EX_SOFTWARE;
    }
    if (getenv("GATEWAY_INTERFACE") != NULL)
        rc = cgi();
    else
        rc = serve(spec ? spec : mv_fcgi_settings_of(cfg)->socket,
                   threads ? threads : mv_fcgi_settings_of(cfg)->threads,
                   mv_fcgi_settings_of(cfg)->read_timeout_ms);
    finish();
    mv_config_unref(cfg);
    return rc;
}
