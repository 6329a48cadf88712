/* SPDX-License-Identifier: MIT */
/*
 * metricsd.c - GET /metrics for Prometheus; see metricsd.h.
 *
 * Strict on purpose: a scraper sends a request line and a few headers and
 * reads the answer; anything else is answered with the smallest truthful
 * status and closed. The whole head (request line and headers, up to the
 * empty line) must arrive within HEAD_MS and fit in HEAD_MAX bytes; bytes
 * outside printable ASCII, tab, CR and LF are junk (400); a request body is
 * never read (Connection: close). The thread is woken for stop by
 * shutdown() of the listening socket, as the control socket's is.
 */
#include "metricsd.h"
#include "milter_config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192 /* request line and headers */
#define HEAD_MS 2000  /* to send them */
#define SEND_S 2      /* to take the answer */
#define DRAIN_MS 200  /* reading what follows the head, after the answer */
#define DRAIN_MAX 65536
#define BACKLOG 128 /* a burst of connections waits here, not in SYN retries */

struct mvd_metrics {
    int fd;
    mv_stats *stats;
    pthread_t thread;
    bool running;
};

/* mono_ms - the monotonic clock in ms */
static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mvd_metrics_open - bind and listen on "ADDRESS:PORT" */
mvd_metrics *mvd_metrics_open(const char *spec, mv_stats *stats)
{
    struct sockaddr_storage ss;
    socklen_t len;
    mvd_metrics *m;
    int one = 1;

    if (!mv_config_parse_listen(spec, &ss, &len)) {
        fprintf(stderr, "mailverifyd: metrics.listen: not ADDRESS:PORT: %s\n", spec);
        return NULL;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        fprintf(stderr, "mailverifyd: out of memory\n");
        return NULL;
    }
    m->stats = stats;
    if ((m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(m->fd, (struct sockaddr *)&ss, len) < 0 || listen(m->fd, BACKLOG) < 0) {
        fprintf(stderr, "mailverifyd: cannot listen for metrics on %s: %s\n", spec, strerror(errno));
        if (m->fd >= 0)
            close(m->fd);
        free(m);
        return NULL;
    }
    return m;
}

/* head_end - where the head ends (after its empty line), or 0 */
static size_t head_end(const char *buf, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (buf[i] == '\n' && (buf[i - 1] == '\n' || (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')))
            return i + 1;
    return 0;
}

/* read_head - the request head into buf (NUL-terminated); 0 read, else
 * the status to answer (400 junk, 431 too large), or -1 (timeout, EOF:
 * close without a word) */
static int read_head(int c, char *buf)
{
    long long deadline = mono_ms() + HEAD_MS;
    size_t n = 0;

    while (n < HEAD_MAX) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        long long left = deadline - mono_ms();
        ssize_t r;
        int ready;

        if (left <= 0)
            return -1;
        if ((ready = poll(&p, 1, (int)left)) < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return -1;
        if ((r = recv(c, buf + n, HEAD_MAX - n, 0)) < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        for (ssize_t i = 0; i < r; i++) {
            unsigned char ch = (unsigned char)buf[n + (size_t)i];

            if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch > 0x7e)
                return 400;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (head_end(buf, n) > 0)
            return 0;
    }
    return 431;
}

/* route - the status for a request line: 200 GET/HEAD /metrics (a query
 * is ignored), 404 another path, 405 another method, 400 not exactly
 * "METHOD SP TARGET SP HTTP/1.x" */
static int route(const char *head, bool *is_head)
{
    size_t eol = strcspn(head, "\r\n"), mlen = strspn(head, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), tlen;
    const char *t = head + mlen + 1, *sp, *v;

    if (mlen == 0 || mlen > 16 || head[mlen] != ' ' || mlen + 1 >= eol)
        return 400;
    if ((sp = memchr(t, ' ', eol - mlen - 1)) == NULL || sp == t || t[0] != '/')
        return 400;
    v = sp + 1;
    if (head + eol - v != 8 || (strncmp(v, "HTTP/1.1", 8) != 0 && strncmp(v, "HTTP/1.0", 8) != 0))
        return 400;
    tlen = strcspn(t, "? ");
    if (tlen != 8 || strncmp(t, "/metrics", 8) != 0)
        return 404;
    *is_head = mlen == 4 && strncmp(head, "HEAD", 4) == 0;
    return (mlen == 3 && strncmp(head, "GET", 3) == 0) || *is_head ? 200 : 405;
}

/* send_all - the whole buffer, or give up (the client does not read) */
static void send_all(int c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c, p, n, MSG_NOSIGNAL);

        if (w <= 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* reason - a status's reason phrase */
static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Request Header Fields Too Large";
    }
}

/* answer - the status line, headers and (but for HEAD) the body */
static void answer(mvd_metrics *m, int c, int status, bool is_head)
{
    mv_buf body = {0}, out = {0};

    if (status == 200)
        mv_stats_render_prometheus(m->stats, &body);
    else
        mv_buf_printf(&body, "%d %s\n", status, reason(status));
    mv_buf_printf(&out,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                  status, reason(status),
                  status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
                  body.len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!is_head)
        mv_buf_put(&out, body.data, body.len);
    if (mv_buf_ok(&out) && mv_buf_ok(&body))
        send_all(c, out.data, out.len);
    mv_buf_free(&body);
    mv_buf_free(&out);
}

/* drain - after the answer: end our side, and read what the client still
 * sends (a body, the rest of an oversized head) for a moment, at most
 * DRAIN_MAX bytes, since closing with unread data resets the connection
 * and can destroy the answer before the client has read it */
static void drain(int c)
{
    char sink[4096];
    long long deadline = mono_ms() + DRAIN_MS;
    size_t total = 0;

    shutdown(c, SHUT_WR);
    while (total < DRAIN_MAX) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        long long left = deadline - mono_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || (r = recv(c, sink, sizeof(sink), 0)) <= 0)
            return;
        total += (size_t)r;
    }
}

/* serve_one - one connection: read the head, answer, (the caller) close */
static void serve_one(mvd_metrics *m, int c)
{
    char head[HEAD_MAX + 1];
    bool is_head = false;
    int status = read_head(c, head);

    if (status < 0)
        return;
    if (status == 0)
        status = route(head, &is_head);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){SEND_S, 0}, sizeof(struct timeval));
    answer(m, c, status, is_head);
    drain(c);
}

/* serve - the thread: one connection after another until shut down */
static void *serve(void *arg)
{
    mvd_metrics *m = arg;

    for (;;) {
        int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            return NULL; /* the socket was shut down */
        }
        serve_one(m, c);
        close(c);
    }
}

/* mvd_metrics_start - the serving thread */
int mvd_metrics_start(mvd_metrics *m)
{
    int rc = pthread_create(&m->thread, NULL, serve, m);

    if (rc != 0) {
        errno = rc;
        return -1;
    }
    m->running = true;
    return 0;
}

/* mvd_metrics_free - stop the thread, close the socket */
void mvd_metrics_free(mvd_metrics *m)
{
    if (m == NULL)
        return;
    if (m->running) {
        shutdown(m->fd, SHUT_RDWR); /* wakes accept() with an error */
        pthread_join(m->thread, NULL);
    }
    close(m->fd);
    free(m);
}
