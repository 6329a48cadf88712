/* SPDX-License-Identifier: MIT */
/*
 * test_clientkey.c - client addresses to rate-limit keys (clientkey.c).
 *
 * One table: IPv4 whole; IPv4-mapped IPv6 as its IPv4; IPv6 masked to
 * the prefix, at byte and non-byte boundaries and the extremes; two
 * spellings of one address giving one key; and what is not an address
 * (empty, junk, zone ids, brackets, ports, overlong strings), which is
 * its own key, cut to the buffer. Then the buffer sizes: a small one is
 * filled and terminated, size 0 is left alone.
 */
#include "unit.h"

#include "clientkey.h"

typedef struct {
    const char *addr;
    unsigned prefix;
    const char *key;
} kcase;

static const kcase cases[] = {
    {"192.0.2.1", 64, "192.0.2.1"},
    {"192.0.2.1", 8, "192.0.2.1"}, /* IPv4 is never grouped */
    {"::ffff:192.0.2.1", 64, "192.0.2.1"},
    {"::FFFF:c000:0201", 64, "192.0.2.1"},
    {"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
    {"2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"},
    {"2001:DB8:1:2::9", 64, "2001:db8:1:2::/64"},
    {"2001:db8:1:3::1", 64, "2001:db8:1:3::/64"},
    {"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
    {"2001:db8:1:2ff:3:4:5:6", 56, "2001:db8:1:200::/56"},
    {"2001:db8:1:2:3:4:5:6", 60, "2001:db8:1::/60"},
    {"2001:db8:1:1f:3:4:5:6", 60, "2001:db8:1:10::/60"},
    {"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
    {"2001:db8:1:2:3:4:5:6", 1, "::/1"},
    {"ffff::1", 1, "8000::/1"},
    {"ffff::1", 0, "8000::/1"}, /* out of range: clamped */
    {"2001:db8::1", 999, "2001:db8::1/128"},
    {"::1", 64, "::/64"},
    {"::", 64, "::/64"},
    {"", 64, ""},
    {"junk", 64, "junk"},
    {"fe80::1%eth0", 64, "fe80::1%eth0"},
    {"[2001:db8::1]", 64, "[2001:db8::1]"},
    {"192.0.2.1:8080", 64, "192.0.2.1:8080"},
    {" 192.0.2.1", 64, " 192.0.2.1"},
    {"192.0.2.256", 64, "192.0.2.256"},
    {"2001:db8::1::2", 64, "2001:db8::1::2"},
    {"2001:db8:1:2:3:4:5:6:7", 64, "2001:db8:1:2:3:4:5:6:7"},
};

static void test_keys(void **state)
{
    char out[MV_CLIENT_KEY_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const kcase *c = &cases[i];

        if (mv_client_key(c->addr, c->prefix, out, sizeof(out)) != out || strcmp(out, c->key) != 0)
            fail_case("%zu: \"%s\" /%u gave \"%s\", not \"%s\"", i, c->addr, c->prefix, out, c->key);
    }
}

/* an overlong string is cut to the buffer; a small buffer is terminated */
static void test_sizes(void **state)
{
    char big[1000], out[MV_CLIENT_KEY_SIZE], small[8] = "xxxxxxx";

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mv_client_key(big, 64, out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    mv_client_key("2001:db8:1:2::1", 64, small, sizeof(small));
    assert_string_equal(small, "2001:db");
    mv_client_key("192.0.2.1", 64, small, 0);
    assert_string_equal(small, "2001:db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_sizes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
