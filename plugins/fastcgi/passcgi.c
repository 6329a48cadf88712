/* SPDX-License-Identifier: MIT */
/*
 * passcgi.c - hand a request to a CGI script and relay its answer.
 *
 * The script runs as a web server would run it (RFC 3875): the request's
 * CGI variables (those changed by pass-through replaced, HTTP_PROXY and a
 * client's HTTP_X_MAILVERIFY never passed on), the body on its stdin, its
 * working directory its own, its stderr ours (the web server's log). One
 * poll loop writes the body and reads the answer, so a script that
 * answers before reading everything cannot deadlock us. The script gets
 * fastcgi.pass_timeout_ms; past it, its process group is killed (504). It is
 * always waited for: no zombie; a script that closes its output and goes
 * on working is waited for by a detached thread, so that its answer goes
 * out at once, and killed at the same time limit. Its answer is CGI output: headers (Status,
 * Content-Type or Location, others relayed but hop-by-hop ones), a blank
 * line, the body; no Content-Type and no Location is a 502.
 */
#include "pass_int.h"
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENV_MAX 512 /* variables handed on */
#define ENV_OURS 8  /* of which kept for those we set */

/* The child's environment. */
typedef struct {
    char *v[ENV_MAX + 1];
    size_t n;
    bool oom;
} env_list;

/* env_add - one "NAME=value" */
static void env_add(env_list *e, const char *name, const char *value)
{
    char *s;

    if (e->n >= ENV_MAX)
        return;
    if (asprintf(&s, "%s=%s", name, value) < 0) {
        e->oom = true;
        return;
    }
    e->v[e->n++] = s;
}

/* env_free - release the strings */
static void env_free(env_list *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    e->n = 0;
}

/* replaced - a variable pass-through sets itself (or never passes on) */
static bool replaced(const char *var)
{
    static const char *const names[] = {"CONTENT_LENGTH",    "QUERY_STRING", "SCRIPT_FILENAME",
                                        "HTTP_X_MAILVERIFY", "HTTP_PROXY",   NULL};
    size_t n = strcspn(var, "=");

    for (size_t i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return true;
    return false;
}

/* child_env - the request's variables as the script sees them */
static bool child_env(mv_http_req *r, const char *script, const mv_pass_req *q, env_list *e)
{
    static const char *const std[] = {
        "AUTH_TYPE",
        "CONTENT_TYPE",
        "DOCUMENT_ROOT",
        "DOCUMENT_URI",
        "GATEWAY_INTERFACE",
        "HTTPS",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REMOTE_PORT",
        "REMOTE_USER",
        "REQUEST_METHOD",
        "REQUEST_SCHEME",
        "REQUEST_URI",
        "SCRIPT_NAME",
        "SERVER_ADDR",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "HTTP_HOST",
        "HTTP_USER_AGENT",
        "HTTP_ACCEPT",
        "HTTP_ACCEPT_LANGUAGE",
        "HTTP_COOKIE",
        "HTTP_REFERER",
        "HTTP_ORIGIN",
        NULL,
    };
    char **vars = mv_http_envp(r), len[24];

    for (size_t i = 0; vars != NULL && vars[i] != NULL && e->n < ENV_MAX - ENV_OURS; i++) {
        if (strchr(vars[i], '=') == NULL || replaced(vars[i]))
            continue;
        if ((e->v[e->n] = strdup(vars[i])) == NULL)
            return false;
        e->n++;
    }
    for (size_t i = 0; vars == NULL && std[i] != NULL; i++)
        if (mv_http_env(r, std[i]) != NULL)
            env_add(e, std[i], mv_http_env(r, std[i]));
    if (mv_http_env(r, "GATEWAY_INTERFACE") == NULL)
        env_add(e, "GATEWAY_INTERFACE", "CGI/1.1");
    if (mv_http_env(r, "PATH") == NULL)
        env_add(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
    env_add(e, "SCRIPT_FILENAME", script);
    env_add(e, "QUERY_STRING", q->query);
    if (q->body != NULL) {
        snprintf(len, sizeof(len), "%zu", q->len);
        env_add(e, "CONTENT_LENGTH", len);
    }
    if (q->mark != NULL)
        env_add(e, "HTTP_X_MAILVERIFY", q->mark);
    e->v[e->n] = NULL;
    return !e->oom;
}

/* spawn - fork and exec the script; its pid, with the pipes' ends in *in, *out; -1 on failure */
static pid_t spawn(const char *script, const char *dir, char **envp, int *in, int *out)
{
    int ip[2], op[2];
    char *argv[] = {(char *)script, NULL};
    pid_t pid;

    if (pipe2(ip, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(op, O_CLOEXEC) != 0) {
        close(ip[0]);
        close(ip[1]);
        return -1;
    }
    if ((pid = fork()) == 0) { /* the child: async-signal-safe calls only */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        static const char msg[] = "mailverify.fcgi: pass-through: cannot run the script\n";

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
        setpgid(0, 0);
        if (dup2(ip[0], 0) < 0 || dup2(op[1], 1) < 0 || chdir(dir) != 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execve(script, argv, envp);
        if (write(2, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
    close(ip[0]);
    close(op[1]);
    if (pid < 0) {
        close(ip[1]);
        close(op[0]);
        return -1;
    }
    setpgid(pid, pid); /* also here: no race with a kill of the group */
    *in = ip[1];
    *out = op[0];
    return pid;
}

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* exchange - write the body, read the answer until EOF; 0, ETIMEDOUT, E2BIG or an errno */
static int exchange(int in, int out, const mv_pass_req *q, long long until, mv_buf *answer)
{
    size_t off = 0;
    char buf[65536];

    fcntl(in, F_SETFL, O_NONBLOCK);
    if (q->body == NULL || q->len == 0) {
        close(in);
        in = -1;
    }
    for (;;) {
        struct pollfd pf[2] = {{out, POLLIN, 0}, {in, POLLOUT, 0}};
        long long left = until - now_ms();
        int n;
        ssize_t got;

        if (left <= 0) {
            if (in >= 0)
                close(in);
            return ETIMEDOUT;
        }
        if ((n = poll(pf, in >= 0 ? 2 : 1, (int)left)) < 0 && errno != EINTR) {
            if (in >= 0)
                close(in);
            return errno;
        }
        if (n <= 0)
            continue;
        if (in >= 0 && pf[1].revents != 0) {
            got = write(in, q->body + off, q->len - off);
            if (got > 0)
                off += (size_t)got;
            if ((got < 0 && errno != EAGAIN && errno != EINTR) || off == q->len) {
                close(in); /* all written, or the script stopped reading */
                in = -1;
            }
        }
        if (pf[0].revents == 0)
            continue;
        if ((got = read(out, buf, sizeof(buf))) == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
            break;
        if (got > 0)
            mv_buf_put(answer, buf, (size_t)got);
        if (answer->len > (size_t)MV_PASS_OUTPUT_MAX || !mv_buf_ok(answer)) {
            if (in >= 0)
                close(in);
            return E2BIG;
        }
    }
    if (in >= 0)
        close(in);
    return 0;
}

/* reap - wait for the script (killing its group if it overstays); no zombie */
static void reap(pid_t pid, bool kill_now, long long until)
{
    int st;

    if (!kill_now) {
        until = until < now_ms() + 1000 ? now_ms() + 1000 : until;
        while (waitpid(pid, &st, WNOHANG) == 0) {
            if (now_ms() >= until) {
                kill_now = true;
                break;
            }
            usleep(2000);
        }
        if (!kill_now)
            return;
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* A script still running after its answer, and when to stop waiting. */
typedef struct {
    pid_t pid;
    long long until;
} late_child;

/* reaper - a detached thread: wait for a script that outlives its answer */
static void *reaper(void *arg)
{
    late_child c = *(late_child *)arg;

    free(arg);
    reap(c.pid, false, c.until);
    return NULL;
}

/* finish_child - after EOF on its output: the script is waited for, here
 * if it exits at once, else by a detached thread (so a script that closes
 * its output and goes on working, as legacy ones that send mail after
 * answering do, does not hold up the answer); killed at until either way */
static void finish_child(pid_t pid, long long until)
{
    late_child *c;
    pthread_t t;
    pthread_attr_t a;
    int st;
    bool started = false;

    for (int i = 0; i < 25; i++) { /* 50 ms */
        if (waitpid(pid, &st, WNOHANG) != 0)
            return;
        usleep(2000);
    }
    if ((c = malloc(sizeof(*c))) != NULL && pthread_attr_init(&a) == 0) {
        *c = (late_child){pid, until};
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &a, reaper, c) == 0;
        pthread_attr_destroy(&a);
    }
    if (!started) {
        free(c);
        reap(pid, false, until);
    }
}

/* header_end - where the header block ends, and the body starts; false if none */
static bool header_end(const char *s, size_t len, size_t *hend, size_t *body)
{
    const char *crlf = memmem(s, len, "\r\n\r\n", 4), *lf = memmem(s, len, "\n\n", 2);

    if (crlf == NULL && lf == NULL)
        return false;
    if (lf != NULL && (crlf == NULL || lf < crlf)) {
        *hend = (size_t)(lf - s) + 1;
        *body = *hend + 1;
    } else {
        *hend = (size_t)(crlf - s) + 2;
        *body = *hend + 2;
    }
    return true;
}

/* The parsed header block of a CGI answer. */
typedef struct {
    char status[128];
    char ctype[256];
    bool location;
    mv_buf other; /* relayed headers, "Name: value\r\n" each */
} cgi_head;

/* parse_head - the header lines; false if malformed */
static bool parse_head(char *s, size_t len, cgi_head *h)
{
    char *save = NULL, *line;

    s[len] = '\0';
    for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line), name;
        char *v;

        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if ((v = strchr(line, ':')) == NULL || (name = (size_t)(v - line)) == 0 ||
            strcspn(line, " \t") < name)
            return false;
        v += 1 + strspn(v + 1, " \t");
        if (name == 6 && strncasecmp(line, "Status", 6) == 0) {
            if (strspn(v, "0123456789") != 3 || v[0] < '1' || v[0] > '5')
                return false;
            snprintf(h->status, sizeof(h->status), "%s", v);
        } else if (name == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            snprintf(h->ctype, sizeof(h->ctype), "%s", v);
        } else if (!mv_pass_hop(line, name)) {
            h->location = h->location || (name == 8 && strncasecmp(line, "Location", 8) == 0);
            mv_buf_printf(&h->other, "%.*s: %s\r\n", (int)name, line, v);
        }
    }
    return mv_buf_ok(&h->other);
}

/* relay - the script's answer to our client; the status */
static int relay(const char *script, mv_http_req *r, mv_buf *a)
{
    cgi_head h = {"", "", false, {0}};
    size_t hend, body;
    int status;

    if (a->len == 0 || !header_end(a->data, a->len, &hend, &body) || !mv_buf_reserve(a, 1) ||
        !parse_head(a->data, hend, &h)) {
        mv_pass_log("%s: %s", script, a->len == 0 ? "no output" : "malformed CGI headers");
        mv_buf_free(&h.other);
        return mv_pass_error(r, 502, "The form handler did not answer properly.");
    }
    if (h.ctype[0] == '\0' && !h.location) {
        mv_pass_log("%s: no Content-Type in its answer", script);
        mv_buf_free(&h.other);
        return mv_pass_error(r, 502, "The form handler did not answer properly.");
    }
    if (h.status[0] == '\0')
        snprintf(h.status, sizeof(h.status), "%s", h.location ? "302 Found" : "200 OK");
    status = atoi(h.status);
    mv_buf_putc(&h.other, '\0');
    mv_pass_respond(r, h.status, h.other.data, h.ctype[0] ? h.ctype : NULL, a->data + body, a->len - body);
    mv_buf_free(&h.other);
    return status;
}

/* mv_pass_cgi - run the CGI script for the request, relay its answer; the status */
int mv_pass_cgi(const char *script, mv_http_req *r, const mv_pass_req *q)
{
    env_list *e = calloc(1, sizeof(*e));
    char *dcopy = strdup(script);
    long long until = now_ms() + q->timeout_ms;
    mv_buf answer = {0};
    int in, out, rc = -1, status;
    pid_t pid = -1;

    if (e != NULL && dcopy != NULL && child_env(r, script, q, e))
        pid = spawn(script, dirname(dcopy), e->v, &in, &out);
    if (pid > 0) {
        rc = exchange(in, out, q, until, &answer);
        close(out);
        if (rc != 0)
            reap(pid, true, until);
        else
            finish_child(pid, until);
    }
    if (pid <= 0) {
        mv_pass_log("cannot start %s: %m", script);
        status = mv_pass_error(r, 502, "The form handler could not be started.");
    } else if (rc == ETIMEDOUT) {
        mv_pass_log("%s did not answer within %lld ms: killed", script, q->timeout_ms);
        status = mv_pass_error(r, 504, "The form handler did not answer in time.");
    } else if (rc != 0) {
        mv_pass_log("%s: %s", script, rc == E2BIG ? "answer too large" : strerror(rc));
        status = mv_pass_error(r, 502, "The form handler did not answer properly.");
    } else {
        status = relay(script, r, &answer);
    }
    if (e != NULL)
        env_free(e);
    free(e);
    free(dcopy);
    mv_buf_free(&answer);
    return status;
}
