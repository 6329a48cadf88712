/* SPDX-License-Identifier: MIT */
/*
 * mailverifyd.c - the milter daemon for Postfix and Sendmail.
 *
 * Start-up, in an order that matters: load and check the configuration
 * (refusing to start on any error); open the milter socket while still
 * root, set its mode and group; detach; write the pid file; start the
 * control socket; drop to the configured user and group; then run
 * libmilter. Threads are started only after detaching (fork keeps one).
 * SIGUSR1 reloads the configuration -- libmilter keeps SIGHUP for itself
 * and treats it like SIGTERM -- and a configuration with errors is
 * reported and not used. SIGTERM stops accepting connections; what is in
 * flight is answered before the engine is freed.
 *
 * With milter.serve "policy" or "both", the Postfix policy listener
 * (policyd.h) opens its socket beside the milter's, as root, and runs
 * its own event-loop thread after the privilege drop; "policy" alone
 * waits for SIGTERM/SIGINT instead of running libmilter.
 *
 * Under systemd (Type=notify) it says how it is doing on $NOTIFY_SOCKET
 * (notify.h): READY=1 only once every socket it serves is bound and
 * listening (milter, policy, control, metrics) and privileges are
 * dropped -- so that Before=postfix.service means Postfix starts against
 * a socket that answers -- RELOADING=1 / READY=1 around a SIGUSR1 reload,
 * STOPPING=1 once libmilter has stopped listening, each with a STATUS=
 * line. With metrics.listen set, an HTTP listener (metricsd.h) serves
 * GET /metrics from its own thread.
 *
 * The log tells an incident's story per fault, Postfix-style: the
 * engine's events (a host or the resolver starting to fail, answering
 * again, a summary while it lasts, the cache's own lines) at
 * warning/notice/info, and one summary per client when its harvest
 * budget's window ends -- the thread that waits for SIGUSR1 looks each
 * second (and once more at stop).
 */
#include "version.h"
#include "metricsd.h"
#include "mvd.h"
#include "notify.h"
#include "policyd.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>


static const char usage[] =
    "Usage: mailverifyd [OPTIONS]\n"
    "\n"
    "The mailverify milter: Postfix (smtpd_milters) and Sendmail\n"
    "(INPUT_MAIL_FILTER) call it at MAIL FROM and RCPT TO; it verifies the\n"
    "sender (context \"sender\") and each recipient (context \"recipient\")\n"
    "and answers with what the policy in mailverify.conf says: accept, a\n"
    "header (warn), quarantine (review), 4xx (tempfail) or 5xx (block).\n"
    "It can also serve Postfix's policy delegation protocol\n"
    "(check_policy_service), beside the milter or alone: milter.serve,\n"
    "milter.policy_socket (DUNNO, 5xx, DEFER_IF_PERMIT, PREPEND, HOLD).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    configuration (default " MV_SYSCONFDIR "/mailverify.conf;\n"
    "                       the built-in one if that file does not exist)\n"
    "  -p, --socket SPEC    milter socket, overrides milter.socket:\n"
    "                       unix:/path, inet:PORT@HOST or inet6:PORT@HOST\n"
    "  -s, --policy-socket SPEC\n"
    "                       policy socket, overrides milter.policy_socket\n"
    "                       (same forms); serves it when milter.serve says so\n"
    "  -f, --foreground     do not detach (for systemd, runit, tests)\n"
    "  -P, --pidfile FILE   write the pid here (overrides milter.pidfile)\n"
    "  -u, --user USER      run as USER after binding (overrides milter.user)\n"
    "  -g, --group GROUP    ... and GROUP (overrides milter.group)\n"
    "  -n, --dry-run        log what would be refused, accept everything\n"
    "  -d, --debug          log to stderr as well as to syslog\n"
    "  -T, --trace          log every check's DNS answers and SMTP dialogue\n"
    "                       (\"trace:\" lines at debug level): MX hosts,\n"
    "                       each command and reply with its time, TLS, and\n"
    "                       the reading that decided the reason\n"
    "  -t, --test           check the configuration and exit\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Signals: SIGUSR1 reloads the configuration (a broken one is reported and\n"
    "ignored); SIGTERM and SIGINT stop it after answering what is in flight.\n"
    "\n"
    "Exit status: 0 stopped cleanly; 64 usage; 70 out of memory at start;\n"
    "71 cannot open the socket, detach, write the pid file or drop privileges;\n"
    "78 configuration errors.\n";

typedef struct {
    const char *config, *socket, *policy_socket, *pidfile, *user, *group;
    bool foreground, dry_run, debug, test, trace;
} options;

/* what listens beside the milter, opened as root and started after the drop */
typedef struct {
    mvd_policy *pol;
    mvd_metrics *metrics;
    char status[400]; /* what STATUS= says while serving */
} listeners;

/* parse - the command line; -1 usage error, 1 done (help/version) */
static int parse(int argc, char **argv, options *o)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'},
        {"socket", required_argument, NULL, 'p'},
        {"policy-socket", required_argument, NULL, 's'},
        {"foreground", no_argument, NULL, 'f'},
        {"pidfile", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},
        {"group", required_argument, NULL, 'g'},
        {"dry-run", no_argument, NULL, 'n'},
        {"debug", no_argument, NULL, 'd'},
        {"trace", no_argument, NULL, 'T'},
        {"test", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:p:s:fP:u:g:ndTthV", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'p': o->socket = optarg; break;
        case 's': o->policy_socket = optarg; break;
        case 'f': o->foreground = true; break;
        case 'P': o->pidfile = optarg; break;
        case 'u': o->user = optarg; break;
        case 'g': o->group = optarg; break;
        case 'n': o->dry_run = true; break;
        case 'd': o->debug = true; break;
        case 'T': o->trace = true; break;
        case 't': o->test = true; break;
        case 'h': fputs(usage, stdout); return 1;
        case 'V': printf("mailverifyd %s\n", MV_VERSION); return 1;
        default: fputs("Try 'mailverifyd --help'.\n", stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mailverifyd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* load - the configuration, every problem on stderr; NULL on errors */
static mv_config *load(const char *path)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load_with(path, mv_milter_config_tables, 0, &d);

    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "mailverifyd: %s: %s\n", d.items[i].level == MV_DIAG_ERROR ? "error" : "warning",
                d.items[i].text);
    mv_diag_clear(&d);
    return cfg;
}

/* socket_path - the file of a unix:/local: spec, or NULL */
static const char *socket_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    return spec[0] == '/' ? spec : NULL;
}

/* open_socket - bind the milter socket (as root), then its mode and group */
static bool open_socket(const char *spec, const mv_milter_settings *s)
{
    const char *path = socket_path(spec);
    mode_t old = umask(0177);
    bool ok;

    ok = smfi_setconn((char *)spec) == MI_SUCCESS && smfi_opensocket(true) == MI_SUCCESS;
    umask(old);
    if (!ok) {
        fprintf(stderr, "mailverifyd: cannot open milter socket %s\n", spec);
        return false;
    }
    return path == NULL || mvd_socket_perms(path, s);
}

/* mvd_socket_perms - a unix socket's mode and group from the settings */
bool mvd_socket_perms(const char *path, const mv_milter_settings *s)
{
    mode_t mode = (mode_t)strtol(s->socket_mode, NULL, 8);

    if (chmod(path, mode) < 0) {
        fprintf(stderr, "mailverifyd: chmod %s: %s\n", path, strerror(errno));
        return false;
    }
    if (s->socket_group[0] != '\0') {
        struct group *g = getgrnam(s->socket_group);

        if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) < 0) {
            fprintf(stderr, "mailverifyd: cannot give %s to group %s: %s\n", path, s->socket_group,
                    g ? strerror(errno) : "no such group");
            return false;
        }
    }
    return true;
}

/* drop - become the configured user and group; false on failure */
static bool drop(const char *user, const char *group)
{
    struct passwd *pw = user && *user ? getpwnam(user) : NULL;
    struct group *gr = group && *group ? getgrnam(group) : NULL;
    gid_t gid;

    if ((user && *user && pw == NULL) || (group && *group && gr == NULL)) {
        fprintf(stderr, "mailverifyd: no such %s '%s'\n", pw == NULL && user && *user ? "user" : "group",
                pw == NULL && user && *user ? user : group);
        return false;
    }
    if (pw == NULL && gr == NULL)
        return true;
    gid = gr ? gr->gr_gid : pw->pw_gid;
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || (pw && setuid(pw->pw_uid) < 0)) {
        fprintf(stderr, "mailverifyd: cannot drop privileges: %s\n", strerror(errno));
        return false;
    }
    /* never keep a way back to root */
    if (pw && pw->pw_uid != 0 && setuid(0) == 0) {
        fprintf(stderr, "mailverifyd: privileges could be regained; refusing to run\n");
        return false;
    }
    return true;
}

static volatile sig_atomic_t stopping;

/* notify_or_log - a notification that could not be sent is worth a line
 * (systemd then times the start or reload out), once per kind of failure */
static void notify_or_log(int rc)
{
    static int last_errno;

    if (rc >= 0 || errno == last_errno)
        return;
    last_errno = errno;
    mvd_log(LOG_WARNING, "warning: cannot notify systemd at %s: %s", getenv("NOTIFY_SOCKET"),
            strerror(errno));
}

/* reload - SIGUSR1: a new configuration, or the old one kept; systemd
 * hears RELOADING=1 first and READY=1 when it is over, either way */
static void reload(mvd *d, const char *serving)
{
    mv_diag diag = {0};
    mv_config *cfg, *old;

    notify_or_log(mv_notify_reloading("reloading the configuration"));
    cfg = mv_config_load_with(d->config_path, mv_milter_config_tables, 0, &diag);

    for (size_t i = 0; i < diag.count; i++)
        mvd_log(diag.items[i].level == MV_DIAG_ERROR ? LOG_ERR : LOG_WARNING, "%s: reload: %s",
                diag.items[i].level == MV_DIAG_ERROR ? "error" : "warning", diag.items[i].text);
    mv_diag_clear(&diag);
    if (cfg == NULL) {
        mvd_log(LOG_ERR, "error: reload failed: %s has errors; the previous configuration stays in use",
                d->config_path ? d->config_path : "(built-in)");
        notify_or_log(mv_notifyf("READY=1\nSTATUS=%s; the last reload failed (errors in the log), the "
                                 "previous configuration stays in use",
                                 serving));
        return;
    }
    pthread_mutex_lock(&d->mu);
    old = d->cfg;
    d->cfg = cfg;
    pthread_mutex_unlock(&d->mu);
    mv_config_unref(old); /* connections that began with it keep theirs */
    mvd_log(LOG_INFO,
            "reloaded %s (policy, lists and milter settings; dns, smtp, cache and metrics "
            "settings take effect at restart)",
            d->config_path ? d->config_path : "(built-in)");
    notify_or_log(mv_notifyf("READY=1\nSTATUS=%s; configuration reloaded", serving));
}

/* dha_summaries - one line per client whose harvest episode is over by
 * now (INT64_MAX: every one, at stop) */
static void dha_summaries(mvd *d, int64_t now)
{
    mv_dha_episode ep[32];
    char first[16], last[16];
    size_t n;

    do {
        n = mv_dha_ended(d->dha, now, ep, sizeof(ep) / sizeof(*ep));
        for (size_t i = 0; i < n; i++) {
            mv_incident_clock(first, sizeof(first), (time_t)ep[i].first);
            mv_incident_clock(last, sizeof(last), (time_t)ep[i].last);
            mvd_log(LOG_NOTICE,
                    "harvest budget: client=%s: %lu recipient%s tempfailed unprobed from %s "
                    "to %s%s",
                    ep[i].who, ep[i].refused, ep[i].refused == 1 ? "" : "s", first, last,
                    now == INT64_MAX ? " (stopping)" : "; the window is over");
        }
    } while (n == sizeof(ep) / sizeof(*ep));
}

/* reloader - the thread that waits for SIGUSR1, and each second ends
 * the harvest episodes whose window is over */
static void *reloader(void *arg)
{
    listeners *l = arg;
    mvd *d = mvd_state();
    sigset_t set;
    struct timespec tick = {1, 0};

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    while (!stopping) {
        int sig = sigtimedwait(&set, NULL, &tick);

        if (stopping)
            break;
        if (sig == SIGUSR1)
            reload(d, l->status);
        dha_summaries(d, (int64_t)time(NULL));
    }
    return NULL;
}

/* write_pidfile - our pid, for init scripts */
static bool write_pidfile(const char *path)
{
    FILE *f;

    if (path == NULL || *path == '\0')
        return true;
    if ((f = fopen(path, "w")) == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        fprintf(stderr, "mailverifyd: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* config_path - the file to load: the option, else the installed one if any */
static const char *config_path(const options *o)
{
    static const char installed[] = MV_SYSCONFDIR "/mailverify.conf";

    if (o->config != NULL)
        return o->config;
    return access(installed, F_OK) == 0 ? installed : NULL;
}

/* trace_line - the engine's transcript (-T), at debug level */
static void trace_line(void *arg, const char *line)
{
    (void)arg;
    mvd_log(LOG_DEBUG, "trace: %s", line);
}

/* event_line - the engine's log, Postfix-style: "warning: cache: ...", as
 * mail.log shows no priority (its lines carry no queue id: they are about
 * hosts and the cache, never one message) */
static void event_line(void *arg, mv_event_level level, const char *line)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO};
    static const char *const tag[] = {"error: ", "warning: ", "", ""};

    (void)arg;
    if ((unsigned)level > MV_EVENT_INFO)
        level = MV_EVENT_INFO;
    mvd_log(prio[level], "%s%s", tag[level], line);
}

/* dha_counter - the engine's shared counters, for mv_dha */
static long long dha_counter(void *arg, const char *key, unsigned delta, unsigned window_s)
{
    return mv_engine_counter(arg, key, delta, window_s);
}

/* share_dha - with a shared cache store (lmdb, redis), keep the harvest
 * budgets there, so that every mailverifyd sharing it draws on one budget
 * per client. Set after start(): the engine opens the store on first use,
 * after detaching (LMDB must not cross a fork) and as the user we run as.
 * The store of the configuration at start; a reload does not move it. */
static void share_dha(mvd *d)
{
    const mv_settings *s = mv_config_settings(d->cfg);

    if (s->cache_store == MV_STORE_MEMORY || mv_milter_settings_of(d->cfg)->dha_limit == 0)
        return;
    mv_dha_share(d->dha, dha_counter, d->engine);
    mvd_log(LOG_INFO, "harvest budgets are kept in the shared cache (%s)",
            mv_store_type_name(s->cache_store));
}

/* open_sockets - the milter's and the policy listener's, as milter.serve
 * says, and the metrics listener if metrics.listen is set, while still
 * root; false with a message on stderr */
static bool open_sockets(mvd *d, const options *o, listeners *l)
{
    const mv_milter_settings *s = mv_milter_settings_of(d->cfg);
    const char *metrics = mv_metrics_settings_of(d->cfg)->listen;

    if (s->serve != MV_SERVE_POLICY &&
        (mvd_register() < 0 || !open_socket(o->socket ? o->socket : s->socket, s)))
        return false;
    if (s->serve != MV_SERVE_MILTER &&
        (l->pol = mvd_policy_open(d, o->policy_socket ? o->policy_socket : s->policy_socket, s)) == NULL)
        return false;
    if (metrics[0] != '\0' && (l->metrics = mvd_metrics_open(metrics, d->stats)) == NULL)
        return false;
    return true;
}

/* started - the log line that says what listens where, and the same for
 * systemd's STATUS= */
static void started(const mvd *d, const options *o, listeners *l)
{
    const mv_milter_settings *s = mv_milter_settings_of(d->cfg);
    const char *metrics = mv_metrics_settings_of(d->cfg)->listen;
    char milter[1100] = "", policy[1100] = "", http[100] = "";

    if (s->serve != MV_SERVE_POLICY)
        snprintf(milter, sizeof(milter), "socket %s", o->socket ? o->socket : s->socket);
    if (s->serve != MV_SERVE_MILTER)
        snprintf(policy, sizeof(policy), "%spolicy socket %s", milter[0] ? ", " : "",
                 o->policy_socket ? o->policy_socket : s->policy_socket);
    if (metrics[0] != '\0')
        snprintf(http, sizeof(http), ", metrics on http://%s/metrics", metrics);
    mvd_log(LOG_INFO, "started (version %s, %s, %s%s%s%s)", MV_VERSION,
            d->config_path ? d->config_path : "built-in configuration", milter, policy, http,
            d->dry_run ? ", dry run" : "");
    snprintf(l->status, sizeof(l->status), "serving: %.150s%.150s%.80s%s", milter, policy, http,
             d->dry_run ? " (dry run)" : "");
}

/* start - everything before smfi_main; an exit status, 0 to run */
static int start(mvd *d, const options *o, pthread_t *rt, listeners *l)
{
    const mv_milter_settings *s = mv_milter_settings_of(d->cfg);
    const char *pidfile = o->pidfile ? o->pidfile : s->pidfile;

    if (!open_sockets(d, o, l))
        return EX_OSERR;
    if (!o->foreground && daemon(0, 0) < 0) {
        fprintf(stderr, "mailverifyd: cannot detach: %s\n", strerror(errno));
        return EX_OSERR;
    }
    if (!write_pidfile(pidfile))
        return EX_OSERR;
    if (s->control_socket[0] != '\0' && mv_stats_serve(d->stats, s->control_socket) < 0)
        mvd_log(LOG_WARNING, "warning: control socket %s: %s (mailverify stats will not work)",
                s->control_socket, strerror(errno));
    if (!drop(o->user ? o->user : s->user, o->group ? o->group : s->group))
        return EX_OSERR;
    started(d, o, l);
    if (pthread_create(rt, NULL, reloader, l) != 0)
        return EX_OSERR;
    if (l->pol != NULL && mvd_policy_start(l->pol) < 0) {
        mvd_log(LOG_ERR, "error: cannot start the policy listener: %s", strerror(errno));
        return EX_OSERR;
    }
    if (l->metrics != NULL && mvd_metrics_start(l->metrics) < 0) {
        mvd_log(LOG_ERR, "error: cannot start the metrics listener: %s", strerror(errno));
        return EX_OSERR;
    }
    return 0;
}

/* wait_stop - policy only: wait for SIGTERM or SIGINT (blocked in every
 * thread, as libmilter would have them) */
static int wait_stop(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (sigwait(&set, &sig) != 0)
        ;
    return 0;
}

/* block_signals - before any thread exists: every thread inherits the
 * mask, so SIGUSR1 reaches only our sigwait() and SIGTERM/SIGINT/SIGHUP
 * only libmilter's; unblocked in some other thread, their default action
 * would end the process */
static void block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* max_deadline - the longest deadline of the milter's contexts, ms */
static long long max_deadline(const mv_config *cfg)
{
    const mv_settings *s = mv_config_settings(cfg);
    long long a = s->context[MV_CTX_SENDER].deadline_ms, b = s->context[MV_CTX_RECIPIENT].deadline_ms;

    return a > b ? a : b;
}

int main(int argc, char **argv)
{
    options o = {0};
    mvd d = {0};
    listeners l = {0};
    pthread_t rt;
    int rc = parse(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? EX_USAGE : 0;
    signal(SIGPIPE, SIG_IGN);
    block_signals();
    d.config_path = config_path(&o);
    if ((d.cfg = load(d.config_path)) == NULL) {
        fprintf(stderr, "mailverifyd: %s: configuration has errors; not starting\n",
                d.config_path ? d.config_path : "(built-in)");
        return EX_CONFIG;
    }
    if (o.test) {
        printf("%s: ok\n", d.config_path ? d.config_path : "(built-in)");
        mv_config_unref(d.cfg);
        return 0;
    }
    openlog("mailverifyd", LOG_PID | (o.debug || mv_milter_settings_of(d.cfg)->log_stderr ? LOG_PERROR : 0),
            mv_milter_settings_of(d.cfg)->syslog_facility);
    pthread_mutex_init(&d.mu, NULL);
    d.dry_run = o.dry_run;
    d.engine = mv_engine_new_opts(d.cfg, &(mv_engine_options){NULL, -1, event_line, NULL});
    d.dha = mv_dha_new();
    d.stats = mv_stats_new();
    if (d.engine == NULL || d.dha == NULL || d.stats == NULL) {
        fprintf(stderr, "mailverifyd: out of memory\n");
        return EX_SOFTWARE;
    }
    if (o.trace)
        mv_engine_set_trace(d.engine, trace_line, NULL);
    mv_stats_set_engine(d.stats, d.engine);
    mvd_set_state(&d);
    if ((rc = start(&d, &o, &rt, &l)) == 0) {
        share_dha(&d);
        notify_or_log(mv_notifyf("READY=1\nSTATUS=%s", l.status));
        if (mv_milter_settings_of(d.cfg)->serve != MV_SERVE_POLICY)
            rc = smfi_main() == MI_SUCCESS ? 0 : EX_OSERR;
        else
            rc = wait_stop();
        notify_or_log(mv_notify("STOPPING=1\nSTATUS=stopping: answering what is in flight"));
        mvd_log(LOG_INFO, "stopping: answering what is in flight");
        mvd_policy_close(l.pol);
        /* a check ends by its deadline at the latest: wait that long for
         * the connection threads to hand their answers to the MTA */
        if (!mvd_drain(&d, (unsigned)max_deadline(d.cfg) + 1000))
            mvd_log(LOG_WARNING, "warning: stopping with checks still in flight (the MTA applies "
                                 "its milter_default_action or the policy service's default_action to them)");
        mvd_policy_stop(l.pol);
        stopping = 1;
        pthread_kill(rt, SIGUSR1);
        pthread_join(rt, NULL);
        dha_summaries(&d, INT64_MAX);
    }
    mvd_metrics_free(l.metrics); /* scrapes read the engine's queue: */
    mv_stats_close(d.stats);     /* neither may outlive it */
    mv_engine_free(d.engine);    /* every request still out gets its answer */
    mvd_policy_free(l.pol);      /* after the engine's last verdicts were posted */
    mv_stats_free(d.stats);
    mv_dha_free(d.dha);
    if (rc == 0 && (o.pidfile || mv_milter_settings_of(d.cfg)->pidfile[0]))
        unlink(o.pidfile ? o.pidfile : mv_milter_settings_of(d.cfg)->pidfile);
    mv_config_unref(d.cfg);
    mvd_log(LOG_INFO, "stopped");
    closelog();
    return rc;
}
