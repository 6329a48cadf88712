/* SPDX-License-Identifier: MIT */
/*
 * fcgi_pool.c - mailverify.fcgi's FastCGI connections and worker threads;
 * see fcgi_pool.h.
 *
 * No thread is held hostage by a connection that sends nothing. With
 * nginx's fastcgi_keep_conn, a thread that calls FCGX_Accept_r on a kept
 * connection blocks until that connection's next request, so N idle kept
 * connections took N threads and a burst larger than the thread count
 * waited for nginx's 60 s timeout (504). Here one dispatcher thread owns
 * the listening socket and every idle connection, new or kept, and polls
 * them; only a connection with bytes arriving goes to a worker, which
 * gives it to FCGX_Accept_r with ipcFd already set (libfcgi then skips its
 * accept and reads the request) and keepConnection set (so the
 * FCGX_Finish_r that FCGX_Accept_r starts with does not close it). After
 * FCGX_Finish_r a connection libfcgi kept open goes back to the
 * dispatcher. The workers' FCGX_Requests have no listening socket (-1):
 * when libfcgi drops a broken connection and would accept another, its
 * accept fails at once and the worker returns to the queue.
 *
 * Slow clients cannot pin workers: reading a request (its params inside
 * FCGX_Accept_r, its body through mv_fpool_read) has a deadline
 * (fastcgi.read_timeout_ms). libfcgi's reads block and cannot be given a
 * timeout, and SO_RCVTIMEO bounds one read, not a client that sends a
 * byte a second; so the dispatcher is also the watchdog: past a reading
 * worker's deadline it shutdown(SHUT_RD)s the connection, which ends the
 * blocked read at once. It does so through a dup() of the descriptor
 * that the worker holds while it reads, so a descriptor number libfcgi
 * has closed and the process reused is never touched. Timed out in the
 * params there is no request to answer (the connection is closed); in
 * the body, writing still works: 408.
 *
 * /healthz answers while every worker is busy because the pool grows: a
 * readable connection with no idle worker starts another thread, up to a
 * cap. Chosen over a reserved lane for cheap endpoints, which would need
 * the dispatcher to parse FastCGI records itself (a second parser of
 * outside input): with the read deadline and the form deadline every
 * request holds its thread a few seconds at most, so a cap of tens of
 * threads is reached only by real overload, and a thread costs little
 * more than its stack. Threads started on demand stay until exit.
 *
 * Idle connections cost a descriptor and a poll entry, not a thread. A
 * new connection that sends nothing within the read deadline is closed;
 * a kept one waits for the web server's next request as long as the web
 * server likes (nginx closes it after keepalive_timeout). At CONNS_MAX
 * the longest idle one is closed to make room, so idle connections cannot
 * lock the web server out.
 *
 * mv_fpool_stop (SIGTERM): no more accepting, idle connections closed;
 * requests that arrived are answered, then the workers end.
 */
#include "fcgi_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_PAUSE_MS 100 /* out of file descriptors: accept again after this */
#define CONNS_MAX 1000      /* open connections; libfcgi's close uses select(), so < FD_SETSIZE */

/* One worker: what the watchdog needs to know about its reading. */
typedef struct {
    int watch_fd;       /* dup of the connection while reading a request, else -1 */
    long long deadline; /* monotonic ms */
    bool reading, expired;
} slot;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* a ready connection, or stopping */
    int ready[CONNS_MAX], nready; /* connections with a request arriving */
    int back[CONNS_MAX], nback;   /* kept connections workers gave back */
    slot *slots;
    pthread_t *tids;
    long nthreads, nidle, nended, cap;
    long timeout_ms;
    bool done; /* the dispatcher has ended: give nothing back */
    mv_fpool_fn fn;
    void *arg;
    int wake; /* eventfd: wakes the dispatcher */
    atomic_int stopping;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .wake = -1};

static _Thread_local slot *me; /* the calling worker's slot */

/* now_ms - the monotonic clock in ms */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poke - wake the dispatcher (async-signal-safe) */
static void poke(void)
{
    uint64_t one = 1;

    if (write(P.wake, &one, sizeof(one)) < 0) {
        /* the counter is full: the dispatcher is being woken anyway */
    }
}

/* mv_fpool_stop - no new requests */
void mv_fpool_stop(void)
{
    /* not FCGX_ShutdownPending: it would fail libfcgi's reads of the
     * requests being answered; the pool's accept is its own */
    atomic_store(&P.stopping, 1);
    if (P.wake >= 0)
        poke();
}

/* watch - the calling worker starts reading fd, until the deadline */
static bool watch(int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (d < 0)
        return false;
    pthread_mutex_lock(&P.mu);
    me->watch_fd = d;
    me->deadline = now_ms() + P.timeout_ms;
    me->reading = true;
    me->expired = false;
    pthread_mutex_unlock(&P.mu);
    poke(); /* the dispatcher's poll timeout now has a deadline */
    return true;
}

/* reading - the calling worker is (not) inside a blocking read */
static void reading(bool on)
{
    pthread_mutex_lock(&P.mu);
    me->reading = on;
    pthread_mutex_unlock(&P.mu);
}

/* unwatch - the request is read or done; true if its deadline passed */
static bool unwatch(void)
{
    bool expired;
    int d;

    pthread_mutex_lock(&P.mu);
    d = me->watch_fd;
    me->watch_fd = -1;
    me->reading = false;
    expired = me->expired;
    pthread_mutex_unlock(&P.mu);
    if (d >= 0)
        close(d);
    return expired;
}

/* mv_fpool_read - the body, within the request's read deadline */
long mv_fpool_read(FCGX_Request *req, char *buf, size_t n)
{
    int got;
    bool late;

    pthread_mutex_lock(&P.mu);
    late = me->expired || (me->watch_fd >= 0 && now_ms() >= me->deadline);
    me->expired = me->expired || late;
    pthread_mutex_unlock(&P.mu);
    if (late)
        return -2;
    reading(true);
    got = FCGX_GetStr(buf, n > 65536 ? 65536 : (int)n, req->in);
    reading(false);
    pthread_mutex_lock(&P.mu);
    late = me->expired;
    pthread_mutex_unlock(&P.mu);
    if (late)
        return -2;
    return got < 0 ? -1 : got;
}

/* give_back - a kept connection returns to the dispatcher */
static void give_back(int fd)
{
    bool kept = false;

    pthread_mutex_lock(&P.mu);
    if (!P.done && !atomic_load(&P.stopping) && P.nback < CONNS_MAX) {
        P.back[P.nback++] = fd;
        kept = true;
    }
    pthread_mutex_unlock(&P.mu);
    if (kept)
        poke();
    else
        close(fd);
}

/* serve - one request on a connection with bytes arriving */
static void serve(FCGX_Request *req, int fd)
{
    bool late;

    req->ipcFd = fd;
    req->keepConnection = 1; /* FCGX_Accept_r's first FCGX_Finish_r must not close it */
    if (!watch(fd)) {
        close(fd);
        req->ipcFd = -1;
        return;
    }
    if (FCGX_Accept_r(req) < 0) {
        unwatch(); /* libfcgi closed it: broken, closed or too slow */
        req->ipcFd = -1;
        return;
    }
    reading(false); /* the params are in; the body is read through mv_fpool_read */
    P.fn(P.arg, req);
    late = unwatch();
    if (late)
        req->keepConnection = 0; /* its read side is shut: do not keep it */
    FCGX_Finish_r(req);
    if (req->ipcFd >= 0)
        give_back(req->ipcFd);
    req->ipcFd = -1;
}

/* take - the next ready connection; -1 when stopping with none left */
static int take(void)
{
    int fd = -1;

    pthread_mutex_lock(&P.mu);
    while (P.nready == 0 && !P.done) {
        P.nidle++;
        pthread_cond_wait(&P.cv, &P.mu);
        P.nidle--;
    }
    if (P.nready > 0) {
        fd = P.ready[0];
        memmove(P.ready, P.ready + 1, (size_t)--P.nready * sizeof(*P.ready));
    }
    pthread_mutex_unlock(&P.mu);
    return fd;
}

/* worker - a pool thread: take a connection, answer its request, repeat */
static void *worker(void *arg)
{
    FCGX_Request req;
    int fd;

    me = arg;
    if (FCGX_InitRequest(&req, -1, 0) != 0)
        return NULL;
    while ((fd = take()) >= 0)
        serve(&req, fd);
    FCGX_Free(&req, 1);
    pthread_mutex_lock(&P.mu);
    P.nended++;
    pthread_mutex_unlock(&P.mu);
    return NULL;
}

/* grow - one more worker; false at the cap or if it cannot start (P.mu held) */
static bool grow(void)
{
    slot *s;

    if (P.nthreads >= P.cap)
        return false;
    s = &P.slots[P.nthreads];
    s->watch_fd = -1;
    if (pthread_create(&P.tids[P.nthreads], NULL, worker, s) != 0)
        return false;
    P.nthreads++;
    return true;
}

/* hand - a readable connection to the workers, one more worker if none is idle */
static void hand(int fd)
{
    pthread_mutex_lock(&P.mu);
    if (P.nready == CONNS_MAX) {
        pthread_mutex_unlock(&P.mu);
        close(fd);
        return;
    }
    P.ready[P.nready++] = fd;
    if (P.nidle < P.nready)
        grow();
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
}

/* watchdog - shut the reads of workers past their deadline; the ms until
 * the next deadline, -1 if none. A worker not inside a read is left alone
 * (mv_fpool_read looks at the deadline itself before reading). */
static int watchdog(void)
{
    long long now = now_ms(), next = -1;

    pthread_mutex_lock(&P.mu);
    for (long i = 0; i < P.nthreads; i++) {
        slot *s = &P.slots[i];

        if (s->watch_fd < 0 || s->expired || !s->reading)
            continue;
        if (now >= s->deadline) {
            s->expired = true;
            shutdown(s->watch_fd, SHUT_RD);
        } else if (next < 0 || s->deadline - now < next) {
            next = s->deadline - now;
        }
    }
    pthread_mutex_unlock(&P.mu);
    return next < 0 ? -1 : (int)(next + 1);
}

/* The dispatcher's poll set: [0] wake, [1] listen, then idle connections,
 * each with when it became idle and whether it has yet sent anything. */
typedef struct {
    struct pollfd pfd[CONNS_MAX + 2];
    long long since[CONNS_MAX + 2];
    bool fresh[CONNS_MAX + 2];
    int n;
} pollset;

/* drop - entry i leaves the poll set (closed if close_it) */
static void drop(pollset *ps, int i, bool close_it)
{
    if (close_it)
        close(ps->pfd[i].fd);
    ps->n--;
    ps->pfd[i] = ps->pfd[ps->n];
    ps->since[i] = ps->since[ps->n];
    ps->fresh[i] = ps->fresh[ps->n];
}

/* add - an idle connection to watch. When the set is full the longest
 * idle one makes room: a client holding many idle connections cannot lock
 * the web server out. */
static void add(pollset *ps, int fd, bool fresh)
{
    int oldest = 2;

    if (fd >= FD_SETSIZE) {
        close(fd);
        return;
    }
    if (ps->n - 2 + P.nready >= CONNS_MAX) {
        if (ps->n <= 2) {
            close(fd);
            return;
        }
        for (int i = 3; i < ps->n; i++)
            if (ps->since[i] < ps->since[oldest])
                oldest = i;
        drop(ps, oldest, true);
    }
    ps->pfd[ps->n] = (struct pollfd){.fd = fd, .events = POLLIN | POLLRDHUP};
    ps->since[ps->n] = now_ms();
    ps->fresh[ps->n] = fresh;
    ps->n++;
}

/* sweep - close new connections that sent nothing within the read
 * deadline (kept ones wait for the web server's next request as long as
 * it likes); the ms until the next such deadline, -1 if none */
static int sweep(pollset *ps)
{
    long long now = now_ms(), next = -1;

    for (int i = ps->n - 1; i >= 2; i--) {
        long long left = ps->since[i] + P.timeout_ms - now;

        if (!ps->fresh[i])
            continue;
        if (left <= 0)
            drop(ps, i, true);
        else if (next < 0 || left < next)
            next = left;
    }
    return next < 0 ? -1 : (int)(next + 1);
}

/* sooner - the earlier of two poll timeouts (-1: none) */
static int sooner(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* accept_all - the new connections waiting on the listening socket;
 * false when out of file descriptors (the caller pauses accepting rather
 * than spin on a socket that stays readable) */
static bool accept_all(pollset *ps, int listen_fd)
{
    int fd;

    while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        add(ps, fd, true);
    return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
}

/* gather - kept connections the workers gave back join the poll set */
static void gather(pollset *ps)
{
    int fds[CONNS_MAX], n;

    pthread_mutex_lock(&P.mu);
    n = P.nback;
    memcpy(fds, P.back, (size_t)n * sizeof(*fds));
    P.nback = 0;
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < n; i++)
        add(ps, fds[i], false);
}

/* dispatch - poll, hand out readable connections, enforce deadlines, until stopped */
static void dispatch(int listen_fd)
{
    static pollset ps;
    uint64_t junk;
    long long paused = 0; /* accepting paused (no fd left) since then, ms */

    ps.n = 2;
    ps.pfd[0] = (struct pollfd){.fd = P.wake, .events = POLLIN};
    ps.pfd[1] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    while (!atomic_load(&P.stopping)) {
        int timeout = sooner(watchdog(), sweep(&ps));

        if (paused != 0 && now_ms() - paused >= ACCEPT_PAUSE_MS) {
            paused = 0;
            ps.pfd[1].fd = listen_fd;
        }
        if (paused != 0 && (timeout < 0 || timeout > ACCEPT_PAUSE_MS))
            timeout = ACCEPT_PAUSE_MS;
        if (poll(ps.pfd, (nfds_t)ps.n, timeout) < 0 && errno != EINTR)
            break;
        if (ps.pfd[0].revents & POLLIN)
            while (read(P.wake, &junk, sizeof(junk)) > 0) {}
        gather(&ps);
        for (int i = ps.n - 1; i >= 2; i--)
            if (ps.pfd[i].revents != 0) {
                hand(ps.pfd[i].fd);
                drop(&ps, i, false);
            }
        if ((ps.pfd[1].revents & POLLIN) && !accept_all(&ps, listen_fd)) {
            paused = now_ms();
            ps.pfd[1].fd = -1; /* poll() skips it */
        }
        ps.pfd[1].revents = 0;
    }
    for (int i = 2; i < ps.n; i++)
        close(ps.pfd[i].fd);
}

/* finish_workers - let the workers answer what arrived, then join them;
 * the watchdog goes on meanwhile, so a slow body cannot delay exit past
 * its deadline */
static void finish_workers(void)
{
    long n;

    pthread_mutex_lock(&P.mu);
    P.done = true;
    pthread_cond_broadcast(&P.cv);
    for (int i = 0; i < P.nback; i++)
        close(P.back[i]);
    P.nback = 0;
    pthread_mutex_unlock(&P.mu);
    for (;;) {
        int t = watchdog();
        bool busy;

        pthread_mutex_lock(&P.mu);
        busy = P.nended < P.nthreads;
        pthread_mutex_unlock(&P.mu);
        if (!busy)
            break;
        poll(NULL, 0, t < 0 || t > 50 ? 50 : t);
    }
    pthread_mutex_lock(&P.mu);
    n = P.nthreads;
    pthread_mutex_unlock(&P.mu);
    for (long i = 0; i < n; i++)
        pthread_join(P.tids[i], NULL);
}

/* mv_fpool_run - serve until mv_fpool_stop */
int mv_fpool_run(int listen_fd, long threads, long cap, long read_timeout_ms, mv_fpool_fn fn, void *arg)
{
    int fl = fcntl(listen_fd, F_GETFL);

    /* accept() after poll() must not block when another process sharing
     * the socket (spawn-fcgi -F) took the connection first */
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return EX_OSERR;
    P.cap = cap < threads ? threads : cap;
    P.timeout_ms = read_timeout_ms;
    P.fn = fn;
    P.arg = arg;
    P.slots = calloc((size_t)P.cap, sizeof(*P.slots));
    P.tids = calloc((size_t)P.cap, sizeof(*P.tids));
    if (P.slots == NULL || P.tids == NULL || (P.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        free(P.slots);
        free(P.tids);
        return EX_SOFTWARE;
    }
    pthread_mutex_lock(&P.mu);
    while (P.nthreads < threads && grow()) {}
    pthread_mutex_unlock(&P.mu);
    if (P.nthreads > 0)
        dispatch(listen_fd);
    finish_workers();
    fl = P.wake;
    P.wake = -1;
    close(fl);
    free(P.slots);
    free(P.tids);
    return P.nthreads > 0 ? 0 : EX_SOFTWARE;
}
