/* SPDX-License-Identifier: MIT */
/*
 * test_notify.c - the sd_notify protocol (notify.c) against a datagram
 * socket the test owns, as systemd binds it: a path, and an abstract name
 * ("@..."); the datagram carries exactly the state given; RELOADING=1
 * comes with MONOTONIC_USEC= near the test's own clock; without
 * NOTIFY_SOCKET nothing is sent and the answer is 0; unusable addresses
 * (relative, too long) are -1 EINVAL, and a socket nobody listens on is -1.
 */
#include "unit.h"

#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* listener - a datagram socket bound at name ("@x": abstract); its fd */
static int listener(const char *name)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memcpy(sun.sun_path, name, n);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    else
        unlink(name);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){2, 0}, sizeof(struct timeval));
    return fd;
}

/* got - the next datagram as a string */
static char *got(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void test_path_and_abstract(void **state)
{
    static const char *const names[] = {"/tmp/mv-test-notify.sock", "@mv-test-notify"};
    char buf[512];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        int fd = listener(names[i]);

        assert_int_equal(setenv("NOTIFY_SOCKET", names[i], 1), 0);
        assert_int_equal(mv_notify("READY=1\nSTATUS=serving"), 1);
        assert_string_equal(got(fd, buf, sizeof(buf)), "READY=1\nSTATUS=serving");
        assert_int_equal(mv_notifyf("STATUS=%d verdicts", 42), 1);
        assert_string_equal(got(fd, buf, sizeof(buf)), "STATUS=42 verdicts");
        close(fd);
        if (names[i][0] == '/')
            unlink(names[i]);
    }
    unsetenv("NOTIFY_SOCKET");
}

static void test_reloading(void **state)
{
    char buf[512];
    struct timespec ts;
    unsigned long long usec, now;
    int fd = listener("@mv-test-notify-reload");

    (void)state;
    assert_int_equal(setenv("NOTIFY_SOCKET", "@mv-test-notify-reload", 1), 0);
    assert_int_equal(mv_notify_reloading("reloading x"), 1);
    assert_int_equal(sscanf(got(fd, buf, sizeof(buf)), "RELOADING=1\nMONOTONIC_USEC=%llu\n", &usec), 1);
    assert_non_null(strstr(buf, "\nSTATUS=reloading x"));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
    assert_true(usec <= now && now - usec < 2000000ULL);
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void test_absent_and_bad(void **state)
{
    static const struct {
        const char *env;
        int rc;
    } cases[] = {
        {NULL, 0}, {"", 0}, {"relative/path", -1}, {"@", -1}, {"/nonexistent/mv-notify.sock", -1},
    };
    char longname[200];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        if (cases[i].env)
            setenv("NOTIFY_SOCKET", cases[i].env, 1);
        else
            unsetenv("NOTIFY_SOCKET");
        if (mv_notify("READY=1") != cases[i].rc)
            fail_case("NOTIFY_SOCKET=%s", cases[i].env ? cases[i].env : "(unset)");
    }
    memset(longname, 'x', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    errno = 0;
    assert_int_equal(mv_notify("READY=1"), -1);
    assert_int_equal(errno, EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_and_abstract),
        cmocka_unit_test(test_reloading),
        cmocka_unit_test(test_absent_and_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
