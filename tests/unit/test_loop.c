/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c - the event loop: timers in order, stop and re-arm from
 * callbacks, the heap under random churn, arming that allocates nothing
 * (so it cannot fail, and a request's deadline is always set), tasks
 * posted from many threads, fd readiness, and removal of a watcher while
 * its events are pending.
 */
#include "unit.h"
#include "loop.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* ASan's own count of live heap bytes, when it replaces malloc (then
 * glibc's mallinfo2 sees nothing) */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

typedef struct {
    int order[16];
    int n;
} log_t;

typedef struct {
    log_t *log;
    int id;
    mv_loop *l;
    mv_timer *victim;
} tctx;

static void record(void *arg)
{
    tctx *c = arg;

    c->log->order[c->log->n++] = c->id;
    if (c->victim != NULL)
        mv_timer_stop(c->l, c->victim);
}

static void test_timers_in_order(void **state)
{
    mv_loop *l = mv_loop_new();
    static const int ms[] = {30, 10, 20, 0, 40};
    mv_timer t[5] = {{0}};
    tctx c[5];
    log_t log = {{0}, 0};
    uint64_t start = mv_loop_now();

    (void)state;
    for (int i = 0; i < 5; i++) {
        c[i] = (tctx){&log, ms[i], l, NULL};
        mv_timer_start(l, &t[i], (uint64_t)ms[i], record, &c[i]);
    }
    while (log.n < 5 && mv_loop_now() - start < 2000)
        mv_loop_run_once(l, 100);
    assert_int_equal(log.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(log.order[i], i * 10);
    assert_true(mv_loop_now() - start >= 40);
    mv_loop_free(l);
}

static void test_stop_from_callback(void **state)
{
    mv_loop *l = mv_loop_new();
    mv_timer a = {0}, b = {0};
    log_t log = {{0}, 0};
    tctx ca = {&log, 1, l, &b}, cb = {&log, 2, l, NULL};

    (void)state;
    mv_timer_start(l, &a, 5, record, &ca);
    mv_timer_start(l, &b, 5, record, &cb);
    assert_true(mv_timer_armed(&a) && mv_timer_armed(&b));
    mv_timer_stop(l, &a); /* a stopped before it fires */
    assert_false(mv_timer_armed(&a));
    mv_timer_start(l, &a, 1, record, &ca);
    for (int i = 0; i < 5; i++)
        mv_loop_run_once(l, 20);
    /* a fired first and stopped b */
    assert_int_equal(log.n, 1);
    assert_int_equal(log.order[0], 1);
    assert_false(mv_timer_armed(&b));
    mv_loop_free(l);
}

/* heap_bytes - bytes the process has allocated and not freed */
static size_t heap_bytes(void)
{
    if (__sanitizer_get_current_allocated_bytes != NULL)
        return __sanitizer_get_current_allocated_bytes();
    return mallinfo2().uordblks;
}

static void count_fire(void *arg)
{
    (*(int *)arg)++;
}

/* Issue 14: arming a timer used to grow an array and could fail, and ten
 * callers ignored that -- a request's deadline among them, so a thread in
 * mv_engine_check could wait forever. Arming now takes no memory at all:
 * with 100,000 timers armed, re-armed and stopped, the heap has not grown
 * by a byte, so there is no allocation left to fail. */
static void test_arming_allocates_nothing(void **state)
{
    enum { N = 100000 };
    mv_loop *l = mv_loop_new();
    mv_timer *t = calloc(N, sizeof(*t));
    int fired = 0, armed = 0;
    size_t before;

    (void)state;
    assert_non_null(l);
    assert_non_null(t);
    before = heap_bytes();
    for (int i = 0; i < N; i++)
        mv_timer_start(l, &t[i], (uint64_t)(i % 97), count_fire, &fired);
    for (int i = 0; i < N; i += 5)
        mv_timer_start(l, &t[i], (uint64_t)(i % 13), count_fire, &fired);
    for (int i = 0; i < N; i += 11)
        mv_timer_stop(l, &t[i]);
    assert_int_equal(heap_bytes(), before);
    for (int i = 0; i < N; i++)
        armed += mv_timer_armed(&t[i]);
    for (int k = 0; k < 200 && fired < armed; k++)
        mv_loop_run_once(l, 10);
    assert_int_equal(fired, armed);
    free(t);
    mv_loop_free(l);
}

typedef struct {
    uint64_t last; /* deadline of the timer that fired last */
    int disorder;  /* timers that fired before an earlier one */
} order_t;

typedef struct {
    order_t *order;
    int fired;
    mv_timer *t;
} churn;

static void churn_fire(void *arg)
{
    churn *c = arg;

    if (c->t->when_ms < c->order->last)
        c->order->disorder++;
    c->order->last = c->t->when_ms;
    c->fired++;
}

static void test_heap_churn(void **state)
{
    enum { N = 2000 };
    mv_loop *l = mv_loop_new();
    mv_timer *t = calloc(N, sizeof(*t));
    order_t order = {0, 0};
    churn *per = calloc(N, sizeof(*per));
    int armed = 0, fired = 0;

    (void)state;
    srand(7);
    for (int i = 0; i < N; i++) {
        per[i].t = &t[i];
        per[i].order = &order;
        mv_timer_start(l, &t[i], (uint64_t)(rand() % 50), churn_fire, &per[i]);
    }
    for (int i = 0; i < N; i += 3)
        mv_timer_stop(l, &t[i]);
    for (int i = 0; i < N; i += 7)
        mv_timer_start(l, &t[i], (uint64_t)(rand() % 50), churn_fire, &per[i]);
    for (int i = 0; i < N; i++)
        armed += mv_timer_armed(&t[i]);
    for (int k = 0; k < 100 && fired < armed; k++) {
        mv_loop_run_once(l, 10);
        fired = 0;
        for (int i = 0; i < N; i++)
            fired += per[i].fired;
    }
    assert_int_equal(fired, armed);
    assert_int_equal(order.disorder, 0);
    for (int i = 0; i < N; i++) {
        assert_false(mv_timer_armed(&t[i]));
        assert_true(per[i].fired <= 1);
    }
    free(per);
    free(t);
    mv_loop_free(l);
}

typedef struct {
    mv_loop *l;
    atomic_int *count;
} poster;

static void bump(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void *post_many(void *arg)
{
    poster *p = arg;

    for (int i = 0; i < 1000; i++)
        assert_int_equal(mv_loop_post(p->l, bump, p->count), 0);
    return NULL;
}

static void test_post_from_threads(void **state)
{
    mv_loop *l = mv_loop_new();
    atomic_int count = 0;
    pthread_t th[4];
    poster p = {l, &count};
    uint64_t start = mv_loop_now();

    (void)state;
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, post_many, &p);
    while (atomic_load(&count) < 4000 && mv_loop_now() - start < 5000)
        mv_loop_run_once(l, 50);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    mv_loop_run_once(l, 0);
    assert_int_equal(atomic_load(&count), 4000);
    mv_loop_free(l);
}

typedef struct {
    mv_loop *l;
    int calls;
    int other_fd;
} ioctx;

static void on_read(void *arg, int fd, unsigned ev)
{
    ioctx *c = arg;
    char b[8];

    assert_true(ev & MV_EV_READ);
    assert_true(read(fd, b, sizeof(b)) > 0);
    c->calls++;
    /* remove the other watcher: its pending event must not be delivered */
    mv_loop_io_del(c->l, c->other_fd);
    mv_loop_io_del(c->l, fd);
}

static void test_io_and_removal(void **state)
{
    mv_loop *l = mv_loop_new();
    int a[2], b[2];
    ioctx ca, cb;

    (void)state;
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    ca = (ioctx){l, 0, b[0]};
    cb = (ioctx){l, 0, a[0]};
    assert_int_equal(mv_loop_io_set(l, a[0], MV_EV_READ, on_read, &ca), 0);
    assert_int_equal(mv_loop_io_set(l, b[0], MV_EV_READ, on_read, &cb), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "y", 1), 1);
    mv_loop_run_once(l, 100);
    /* both were ready in one batch; the first callback removed the other */
    assert_int_equal(ca.calls + cb.calls, 1);
    mv_loop_run_once(l, 10);
    assert_int_equal(ca.calls + cb.calls, 1);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    mv_loop_free(l);
}

static void test_free_runs_pending_tasks(void **state)
{
    mv_loop *l = mv_loop_new();
    atomic_int count = 0;

    (void)state;
    mv_loop_post(l, bump, &count);
    mv_loop_post(l, bump, &count);
    mv_loop_free(l);
    assert_int_equal(atomic_load(&count), 2);
}

static void *runner(void *arg)
{
    mv_loop_run(arg);
    return NULL;
}

static void test_run_and_stop(void **state)
{
    mv_loop *l = mv_loop_new();
    pthread_t th;

    (void)state;
    pthread_create(&th, NULL, runner, l);
    assert_false(mv_loop_in_thread(l));
    mv_loop_stop(l);
    pthread_join(th, NULL);
    mv_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_in_order),
        cmocka_unit_test(test_stop_from_callback),
        cmocka_unit_test(test_heap_churn),
        cmocka_unit_test(test_arming_allocates_nothing),
        cmocka_unit_test(test_post_from_threads),
        cmocka_unit_test(test_io_and_removal),
        cmocka_unit_test(test_free_runs_pending_tasks),
        cmocka_unit_test(test_run_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
