/* SPDX-License-Identifier: MIT */
/*
 * loop.c - epoll event loop with a timer heap and a cross-thread mailbox.
 *
 * Watchers are kept in an array indexed by file descriptor (as Redis' ae
 * does): removing one clears its mask, and an event still pending for it
 * in the current batch finds the mask empty and is dropped. Timers are an
 * intrusive pairing heap: the links live in the mv_timer, which lives in
 * its owner (a probe, a request), so arming one never allocates and
 * cannot fail -- a request's deadline is always set, and a thread waiting
 * for its answer always gets one. Arming is O(1), stopping O(log n)
 * amortized. Tasks posted from other threads are a mutex-protected list
 * drained in one swap, then run without the lock held.
 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    unsigned mask;
    mv_io_fn fn;
    void *arg;
} watcher;

typedef struct task {
    mv_task_fn fn;
    void *arg;
    struct task *next;
} task;

struct mv_loop {
    int ep, evfd;
    watcher *w;
    size_t nw;
    mv_timer *timers; /* the pairing heap's root: the next to fire */
    pthread_mutex_t mu;
    task *head, *tail;
    atomic_bool stop;
    pthread_t owner;
    atomic_bool owned;
};

/* mv_loop_now - the loop's monotonic clock, milliseconds */
uint64_t mv_loop_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* mv_cond_init_monotonic - timed waits on CLOCK_MONOTONIC */
void mv_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* mv_deadline_after - CLOCK_MONOTONIC now + ms */
struct timespec mv_deadline_after(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* mv_loop_new - a loop; NULL with errno on failure */
mv_loop *mv_loop_new(void)
{
    mv_loop *l = calloc(1, sizeof(*l));
    struct epoll_event ev = {.events = EPOLLIN};

    if (l == NULL)
        return NULL;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ev.data.fd = l->evfd;
    if (l->ep < 0 || l->evfd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
        int e = errno;

        if (l->ep >= 0)
            close(l->ep);
        if (l->evfd >= 0)
            close(l->evfd);
        free(l);
        errno = e;
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

/* run_tasks - take every queued task and run it; true if any ran */
static bool run_tasks(mv_loop *l)
{
    task *t;

    pthread_mutex_lock(&l->mu);
    t = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    if (t == NULL)
        return false;
    while (t != NULL) {
        task *next = t->next;

        t->fn(t->arg);
        free(t);
        t = next;
    }
    return true;
}

/* mv_loop_free - close the loop; tasks still queued are run first */
void mv_loop_free(mv_loop *l)
{
    if (l == NULL)
        return;
    /* a task may post another (a completion): run until none is left */
    while (run_tasks(l))
        ;
    close(l->ep);
    close(l->evfd);
    pthread_mutex_destroy(&l->mu);
    free(l->w);
    free(l);
}

/* mv_loop_post - run fn(arg) on the loop thread soon (any thread); -1 ENOMEM */
int mv_loop_post(mv_loop *l, mv_task_fn fn, void *arg)
{
    task *t = malloc(sizeof(*t));
    uint64_t one = 1;
    ssize_t n;

    if (t == NULL)
        return -1;
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail != NULL)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    pthread_mutex_unlock(&l->mu);
    /* EAGAIN means the counter is already non-zero: the loop will wake */
    n = write(l->evfd, &one, sizeof(one));
    (void)n;
    return 0;
}

/* grow_watchers - room for fd in the watcher array */
static int grow_watchers(mv_loop *l, int fd)
{
    size_t n = l->nw ? l->nw : 64;
    watcher *w;

    while (n <= (size_t)fd)
        n *= 2;
    if ((w = realloc(l->w, n * sizeof(*w))) == NULL)
        return -1;
    memset(w + l->nw, 0, (n - l->nw) * sizeof(*w));
    l->w = w;
    l->nw = n;
    return 0;
}

/* mv_loop_io_set - watch fd for events (0 removes); -1 with errno */
int mv_loop_io_set(mv_loop *l, int fd, unsigned events, mv_io_fn fn, void *arg)
{
    struct epoll_event ev = {0};
    int op;

    if (events == 0) {
        mv_loop_io_del(l, fd);
        return 0;
    }
    if (fd < 0 || ((size_t)fd >= l->nw && grow_watchers(l, fd) < 0)) {
        errno = fd < 0 ? EBADF : ENOMEM;
        return -1;
    }
    op = l->w[fd].mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    ev.events = (events & MV_EV_READ ? EPOLLIN : 0) | (events & MV_EV_WRITE ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (epoll_ctl(l->ep, op, fd, &ev) < 0)
        return -1;
    l->w[fd] = (watcher){events & (MV_EV_READ | MV_EV_WRITE), fn, arg};
    return 0;
}

/* mv_loop_io_del - stop watching fd (before closing it) */
void mv_loop_io_del(mv_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nw || l->w[fd].mask == 0)
        return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    l->w[fd].mask = 0;
}

/* meld - one heap of two (either may be NULL): the later root becomes the
 * earlier one's first child; on a tie the first stays the root */
static mv_timer *meld(mv_timer *a, mv_timer *b)
{
    mv_timer *t;

    if (a == NULL || b == NULL)
        return a != NULL ? a : b;
    if (b->when_ms < a->when_ms) {
        t = a;
        a = b;
        b = t;
    }
    b->prev = a;
    b->next = a->child;
    if (a->child != NULL)
        a->child->prev = b;
    a->child = b;
    return a;
}

/* merge_pairs - one heap of a list of siblings, by the two passes that
 * give the pairing heap its O(log n) amortized removal: meld them in
 * pairs left to right, then the pairs right to left. Iterative, so that a
 * long list (many timers armed before the first one fires) costs no stack. */
static mv_timer *merge_pairs(mv_timer *first)
{
    mv_timer *pairs = NULL, *root = NULL;

    while (first != NULL) {
        mv_timer *a = first, *b = a->next;

        first = b != NULL ? b->next : NULL;
        a->next = a->prev = NULL;
        if (b != NULL)
            b->next = b->prev = NULL;
        a = meld(a, b);
        a->next = pairs; /* the pairs, last first */
        pairs = a;
    }
    while (pairs != NULL) {
        mv_timer *p = pairs;

        pairs = p->next;
        p->next = NULL;
        root = meld(p, root);
    }
    return root;
}

/* mv_timer_stop - disarm t; harmless when not armed */
void mv_timer_stop(mv_loop *l, mv_timer *t)
{
    mv_timer *sub;

    if (!t->armed)
        return;
    t->armed = false;
    sub = merge_pairs(t->child);
    if (t == l->timers) {
        l->timers = sub;
    } else {
        /* unlink t from its siblings; prev is the parent for a first child */
        if (t->prev->child == t)
            t->prev->child = t->next;
        else
            t->prev->next = t->next;
        if (t->next != NULL)
            t->next->prev = t->prev;
        l->timers = meld(l->timers, sub);
    }
    t->child = t->next = t->prev = NULL;
}

/* mv_timer_start - (re)arm t to fire once after ms; the node is t itself,
 * so arming allocates nothing and cannot fail */
void mv_timer_start(mv_loop *l, mv_timer *t, uint64_t ms, mv_timer_fn fn, void *arg)
{
    mv_timer_stop(l, t);
    t->when_ms = mv_loop_now() + ms;
    t->fn = fn;
    t->arg = arg;
    t->child = t->next = t->prev = NULL;
    t->armed = true;
    l->timers = meld(l->timers, t);
}

/* mv_timer_armed - is t waiting to fire? */
bool mv_timer_armed(const mv_timer *t)
{
    return t->armed;
}

/* run_timers - fire every timer that is due */
static void run_timers(mv_loop *l)
{
    uint64_t now = mv_loop_now();

    while (l->timers != NULL && l->timers->when_ms <= now) {
        mv_timer *t = l->timers;

        mv_timer_stop(l, t);
        t->fn(t->arg); /* may re-arm t, or free it: not touched after */
    }
}

/* wait_ms - how long epoll may sleep: until the next timer, at most max */
static int wait_ms(const mv_loop *l, int max_ms)
{
    uint64_t now, when;

    if (l->timers == NULL)
        return max_ms;
    now = mv_loop_now();
    when = l->timers->when_ms;
    if (when <= now)
        return 0;
    if (max_ms >= 0 && when - now > (uint64_t)max_ms)
        return max_ms;
    return when - now > 3600000 ? 3600000 : (int)(when - now);
}

/* dispatch - one epoll event to its watcher, unless it was removed */
static void dispatch(mv_loop *l, const struct epoll_event *e)
{
    int fd = e->data.fd;
    unsigned ev = 0;
    watcher w;

    if (fd == l->evfd) {
        uint64_t v;
        ssize_t n = read(l->evfd, &v, sizeof(v));

        (void)n;
        return; /* tasks run after the batch */
    }
    if ((size_t)fd >= l->nw || l->w[fd].mask == 0)
        return;
    w = l->w[fd];
    if (e->events & EPOLLIN)
        ev |= MV_EV_READ;
    if (e->events & EPOLLOUT)
        ev |= MV_EV_WRITE;
    if (e->events & (EPOLLERR | EPOLLHUP))
        ev |= MV_EV_ERROR;
    w.fn(w.arg, fd, ev);
}

/* mv_loop_run_once - wait at most max_ms for events and handle them */
void mv_loop_run_once(mv_loop *l, int max_ms)
{
    struct epoll_event evs[64];
    int n;

    if (!atomic_load(&l->owned)) {
        l->owner = pthread_self();
        atomic_store(&l->owned, true);
    }
    n = epoll_wait(l->ep, evs, 64, wait_ms(l, max_ms));
    for (int i = 0; i < n; i++)
        dispatch(l, &evs[i]);
    run_timers(l);
    run_tasks(l);
}

/* mv_loop_run - run until mv_loop_stop(); call from the loop thread */
void mv_loop_run(mv_loop *l)
{
    while (!atomic_load(&l->stop))
        mv_loop_run_once(l, -1);
    atomic_store(&l->stop, false);
}

/* stop_task - runs on the loop, so the flag is seen after a wake-up */
static void stop_task(void *arg)
{
    atomic_store(&((mv_loop *)arg)->stop, true);
}

/* mv_loop_stop - ask the loop to return from mv_loop_run (any thread) */
void mv_loop_stop(mv_loop *l)
{
    if (mv_loop_post(l, stop_task, l) < 0) {
        uint64_t one = 1;
        ssize_t n;

        atomic_store(&l->stop, true);
        n = write(l->evfd, &one, sizeof(one));
        (void)n;
    }
}

/* mv_loop_in_thread - is the caller the thread running the loop? */
bool mv_loop_in_thread(const mv_loop *l)
{
    return atomic_load(&l->owned) && pthread_equal(l->owner, pthread_self());
}
