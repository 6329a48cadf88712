/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the engine's event loop: sockets, timers, and a mailbox.
 *
 * One thread runs the loop and owns everything registered with it: the
 * c-ares channel's sockets, every SMTP socket and every timer. Other
 * threads never touch those; they hand work over with mv_loop_post(),
 * which queues a task and wakes the loop (an eventfd). Built on epoll;
 * timers live in a heap on the monotonic clock whose nodes are the timers
 * themselves, so thousands of pending probes cost memory, not threads, and
 * arming one cannot fail for want of memory.
 *
 * Callbacks run on the loop thread. A callback may add and remove any
 * watcher or timer, its own included: a watcher removed while events for
 * it are still pending in the current batch does not get them.
 */
#ifndef MV_LOOP_H
#define MV_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
    MV_EV_READ = 1,
    MV_EV_WRITE = 2,
    MV_EV_ERROR = 4, /* error or hang-up: read to find out */
};

typedef struct mv_loop mv_loop;
typedef void (*mv_io_fn)(void *arg, int fd, unsigned events);
typedef void (*mv_timer_fn)(void *arg);
typedef void (*mv_task_fn)(void *arg);

/* A timer lives inside the caller's struct; zero-initialize it. It is
 * its own node in the loop's heap (the links below are the loop's), so
 * arming it needs no memory and cannot fail. */
typedef struct mv_timer {
    uint64_t when_ms; /* monotonic deadline */
    mv_timer_fn fn;
    void *arg;
    struct mv_timer *child, *next, *prev; /* pairing heap (loop.c) */
    bool armed;
} mv_timer;

/* mv_loop_new - a loop; NULL with errno on failure */
mv_loop *mv_loop_new(void);

/* mv_loop_free - close the loop; tasks still queued are run first */
void mv_loop_free(mv_loop *l);

/* mv_loop_run - run until mv_loop_stop(); call from the loop thread */
void mv_loop_run(mv_loop *l);

/* mv_loop_run_once - wait at most max_ms for events and handle them */
void mv_loop_run_once(mv_loop *l, int max_ms);

/* mv_loop_stop - ask the loop to return from mv_loop_run (any thread) */
void mv_loop_stop(mv_loop *l);

/* mv_loop_post - run fn(arg) on the loop thread soon (any thread); -1 ENOMEM */
int mv_loop_post(mv_loop *l, mv_task_fn fn, void *arg);

/* mv_loop_io_set - watch fd for events (0 removes); -1 with errno */
int mv_loop_io_set(mv_loop *l, int fd, unsigned events, mv_io_fn fn, void *arg);

/* mv_loop_io_del - stop watching fd (before closing it) */
void mv_loop_io_del(mv_loop *l, int fd);

/* mv_timer_start - (re)arm t to fire once after ms; never fails */
void mv_timer_start(mv_loop *l, mv_timer *t, uint64_t ms, mv_timer_fn fn, void *arg);

/* mv_timer_stop - disarm t; harmless when not armed */
void mv_timer_stop(mv_loop *l, mv_timer *t);

/* mv_timer_armed - is t waiting to fire? */
bool mv_timer_armed(const mv_timer *t);

/* mv_loop_now - the loop's monotonic clock, milliseconds */
uint64_t mv_loop_now(void);

/* mv_cond_init_monotonic - a condition variable whose timed waits count
 * on the monotonic clock: a step of the wall clock neither stretches nor
 * cuts them. Wait with a deadline from mv_deadline_after. */
void mv_cond_init_monotonic(pthread_cond_t *cv);

/* mv_deadline_after - the monotonic time ms from now, as a timespec */
struct timespec mv_deadline_after(unsigned ms);

/* mv_loop_in_thread - is the caller the thread running the loop? */
bool mv_loop_in_thread(const mv_loop *l);

#endif
