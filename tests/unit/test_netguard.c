/* SPDX-License-Identifier: MIT */
/*
 * test_netguard.c - the SSRF guard classifies addresses as the IANA
 * special-purpose registries say, including IPv4 inside IPv6.
 * (These are test data only; nothing is ever dialled.)
 */
#include "unit.h"
#include "netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static const struct {
    const char *addr;
    mv_net_class want;
} cases[] = {
    {"8.8.4.4", MV_NET_PUBLIC},
    {"93.184.216.34", MV_NET_PUBLIC},
    {"127.0.0.1", MV_NET_LOOPBACK},
    {"127.255.0.9", MV_NET_LOOPBACK},
    {"10.1.2.3", MV_NET_PRIVATE},
    {"172.16.0.1", MV_NET_PRIVATE},
    {"172.31.255.255", MV_NET_PRIVATE},
    {"172.32.0.1", MV_NET_PUBLIC},
    {"192.168.1.1", MV_NET_PRIVATE},
    {"100.64.0.1", MV_NET_PRIVATE},
    {"100.128.0.1", MV_NET_PUBLIC},
    {"169.254.169.254", MV_NET_LINK_LOCAL},
    {"224.0.0.1", MV_NET_MULTICAST},
    {"239.255.255.250", MV_NET_MULTICAST},
    {"0.0.0.0", MV_NET_UNSPECIFIED},
    {"0.1.2.3", MV_NET_UNSPECIFIED},
    {"255.255.255.255", MV_NET_RESERVED},
    {"240.0.0.1", MV_NET_RESERVED},
    {"192.0.2.10", MV_NET_RESERVED},
    {"198.51.100.7", MV_NET_RESERVED},
    {"203.0.113.9", MV_NET_RESERVED},
    {"198.18.0.1", MV_NET_RESERVED},
    {"198.19.255.1", MV_NET_RESERVED},
    {"198.20.0.1", MV_NET_PUBLIC},
    {"::1", MV_NET_LOOPBACK},
    {"::", MV_NET_UNSPECIFIED},
    {"::ffff:127.0.0.1", MV_NET_LOOPBACK},
    {"::ffff:10.0.0.1", MV_NET_PRIVATE},
    {"::ffff:8.8.4.4", MV_NET_PUBLIC},
    {"64:ff9b::a9fe:a9fe", MV_NET_LINK_LOCAL},
    {"2002:c0a8:0101::1", MV_NET_PRIVATE},
    {"2002:0808:0404::1", MV_NET_PUBLIC},
    {"fc00::1", MV_NET_PRIVATE},
    {"fd12:3456::1", MV_NET_PRIVATE},
    {"fe80::1", MV_NET_LINK_LOCAL},
    {"febf::1", MV_NET_LINK_LOCAL},
    {"fec0::1", MV_NET_RESERVED},
    {"ff02::1", MV_NET_MULTICAST},
    {"2001:db8::1", MV_NET_RESERVED},
    {"2001:0:1::1", MV_NET_RESERVED},
    {"2001:4860:4860::8844", MV_NET_PUBLIC},
    {"2a00:1450:4001::1", MV_NET_PUBLIC},
    {"100::1", MV_NET_RESERVED},
    {"4000::1", MV_NET_RESERVED},
};

static void test_classes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct sockaddr_storage ss = {0};
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        mv_net_class got;

        if (inet_pton(AF_INET, cases[i].addr, &s4->sin_addr) == 1)
            s4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, cases[i].addr, &s6->sin6_addr) == 1)
            s6->sin6_family = AF_INET6;
        else
            fail_case("%s does not parse", cases[i].addr);
        got = mv_net_classify((struct sockaddr *)&ss);
        if (got != cases[i].want)
            fail_case("%s: %s, want %s", cases[i].addr, mv_net_class_name(got),
                      mv_net_class_name(cases[i].want));
        /* public always allowed; others only with allow_private, never multicast */
        assert_int_equal(mv_net_allowed((struct sockaddr *)&ss, false), got == MV_NET_PUBLIC);
        assert_int_equal(mv_net_allowed((struct sockaddr *)&ss, true),
                         got != MV_NET_MULTICAST && got != MV_NET_UNSPECIFIED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_classes)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
