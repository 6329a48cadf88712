/* SPDX-License-Identifier: MIT */
/*
 * test_dnsmsg.c - MX answers, well-formed and hostile, built byte by byte.
 */
#include "unit.h"
#include "dnsmsg.h"

typedef struct {
    unsigned char b[65536];
    size_t n;
} msg;

static void put8(msg *m, unsigned v)
{
    assert_true(m->n < sizeof(m->b));
    m->b[m->n++] = (unsigned char)v;
}
static void put16(msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v & 255);
}
static void put32(msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xFFFF);
}

/* name - uncompressed wire name */
static void name(msg *m, const char *s)
{
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);

        put8(m, (unsigned)n);
        memcpy(m->b + m->n, s, n);
        m->n += n;
        s += n + (dot != NULL);
    }
    put8(m, 0);
}

static void header(msg *m, unsigned an)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
}

static void question(msg *m, const char *q)
{
    name(m, q);
    put16(m, 15);
    put16(m, 1);
}

static void mx(msg *m, const char *owner, uint32_t ttl, unsigned pref, const char *host)
{
    size_t len_at;

    if (owner != NULL) {
        name(m, owner);
    } else {
        put16(m, 0xC00C); /* compressed: the question's name */
    }
    put16(m, 15);
    put16(m, 1);
    put32(m, ttl);
    len_at = m->n;
    put16(m, 0);
    put16(m, pref);
    name(m, host);
    m->b[len_at] = (unsigned char)((m->n - len_at - 2) >> 8);
    m->b[len_at + 1] = (unsigned char)((m->n - len_at - 2) & 255);
}

static void cname(msg *m, const char *owner, uint32_t ttl, const char *target)
{
    size_t len_at;

    name(m, owner);
    put16(m, 5);
    put16(m, 1);
    put32(m, ttl);
    len_at = m->n;
    put16(m, 0);
    name(m, target);
    m->b[len_at] = (unsigned char)((m->n - len_at - 2) >> 8);
    m->b[len_at + 1] = (unsigned char)((m->n - len_at - 2) & 255);
}

/* addr - an A (4 bytes) or AAAA (16) record; rdlen may lie about the bytes given */
static void addr(msg *m, const char *owner, unsigned type, uint32_t ttl, const unsigned char *rdata, size_t n)
{
    name(m, owner);
    put16(m, type);
    put16(m, 1);
    put32(m, ttl);
    put16(m, (unsigned)n);
    for (size_t i = 0; i < n; i++)
        put8(m, rdata[i]);
}

/* set_tc - the TC bit in the header */
static void set_tc(msg *m)
{
    m->b[2] |= 0x02;
}

static msg m;
static mv_mx_answer a;
static mv_addr_answer aa;
static const unsigned char ip4[4] = {127, 0, 0, 2};
static const unsigned char ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void test_sorted_and_ttl(void **state)
{
    (void)state;
    header(&m, 3);
    question(&m, "example.test");
    mx(&m, "example.test", 300, 20, "MX2.example.test");
    mx(&m, "EXAMPLE.test", 60, 10, "mx1.example.test");
    mx(&m, "other.test", 1, 5, "nope.other.test");
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "example.test", &a), MV_DNSMSG_OK);
    assert_int_equal(a.nmx, 2);
    assert_string_equal(a.mx[0].host, "mx1.example.test");
    assert_int_equal(a.mx[0].pref, 10);
    assert_string_equal(a.mx[1].host, "mx2.example.test");
    assert_int_equal(a.ttl, 60);
    assert_false(a.null_mx);
}

static void test_null_mx(void **state)
{
    (void)state;
    header(&m, 1);
    question(&m, "nullmx.test");
    mx(&m, "nullmx.test", 300, 0, "");
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "nullmx.test", &a), MV_DNSMSG_OK);
    assert_true(a.null_mx);
    assert_int_equal(a.nmx, 0);
    /* next to a real MX, the null MX is ignored */
    header(&m, 2);
    question(&m, "mixed.test");
    mx(&m, "mixed.test", 300, 0, "");
    mx(&m, "mixed.test", 300, 10, "mx.mixed.test");
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "mixed.test", &a), MV_DNSMSG_OK);
    assert_false(a.null_mx);
    assert_int_equal(a.nmx, 1);
}

static void test_cname_chain_and_loops(void **state)
{
    (void)state;
    header(&m, 3);
    question(&m, "alias.test");
    cname(&m, "alias.test", 100, "middle.test");
    cname(&m, "middle.test", 50, "real.test");
    mx(&m, "real.test", 300, 10, "mx.real.test");
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "alias.test", &a), MV_DNSMSG_OK);
    assert_string_equal(a.target, "real.test");
    assert_int_equal(a.cname_hops, 2);
    assert_int_equal(a.nmx, 1);
    assert_int_equal(a.ttl, 50);
    header(&m, 2);
    question(&m, "a.test");
    cname(&m, "a.test", 100, "b.test");
    cname(&m, "b.test", 100, "a.test");
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "a.test", &a), MV_DNSMSG_CNAME_LOOP);
    header(&m, 12);
    question(&m, "c0.test");
    for (int i = 0; i < 12; i++) {
        char o[32], t[32];

        snprintf(o, sizeof(o), "c%d.test", i);
        snprintf(t, sizeof(t), "c%d.test", i + 1);
        cname(&m, o, 100, t);
    }
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "c0.test", &a), MV_DNSMSG_CNAME_LOOP);
}

static void test_thousands_capped(void **state)
{
    (void)state;
    /* 2000 records still fit one 64 KiB message with compressed owners */
    header(&m, 2000);
    question(&m, "big.test");
    for (int i = 0; i < 2000; i++) {
        char h[64];

        snprintf(h, sizeof(h), "mx%d.big", i);
        mx(&m, NULL, 300, (unsigned)(2000 - i), h);
    }
    assert_true(m.n <= 65535);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "big.test", &a), MV_DNSMSG_OK);
    assert_int_equal(a.nmx, MV_MX_MAX);
    assert_int_equal(a.nmx_seen, 2000);
    assert_int_equal(a.mx[0].pref, 1);
    assert_string_equal(a.mx[0].host, "mx1999.big");
    for (size_t i = 1; i < a.nmx; i++)
        assert_true(a.mx[i - 1].pref <= a.mx[i].pref);
}

static void test_malformed(void **state)
{
    unsigned char loop[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xC0, 12, 0, 15, 0, 1};
    (void)state;
    header(&m, 1);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    /* every truncation of a good message is refused, none crashes */
    for (size_t cut = 0; cut < m.n; cut++)
        assert_int_not_equal(mv_dnsmsg_mx(m.b, cut, "t.test", &a), MV_DNSMSG_OK);
    /* rdlength past the end */
    m.b[m.n - 15] = 0xFF; /* high byte of RDLENGTH (RDATA is 13 bytes) */
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    /* a compression pointer to itself */
    assert_int_equal(mv_dnsmsg_mx(loop, sizeof(loop), "t.test", &a), MV_DNSMSG_MALFORMED);
}

static void test_long_names(void **state)
{
    char big[400];

    (void)state;
    /* five 63-byte labels: 320 bytes, over the 253 a name may have */
    big[0] = '\0';
    for (int i = 0; i < 5; i++) {
        strcat(big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        strcat(big, i < 4 ? "." : "");
    }
    header(&m, 1);
    question(&m, "long.test");
    mx(&m, "long.test", 300, 10, big);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "long.test", &a), MV_DNSMSG_MALFORMED);
}

static void test_truncated_tc(void **state)
{
    (void)state;
    /* a whole, readable answer, but the server says records are missing
     * (TC over TCP, or over UDP if the TCP retry were skipped) */
    header(&m, 1);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_OK);
    set_tc(&m);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_TRUNCATED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    assert_int_equal(a.nmx, 0);
    /* TC with no records at all: not "no MX" */
    header(&m, 0);
    question(&m, "t.test");
    set_tc(&m);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_TRUNCATED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    assert_false(a.null_mx);
    /* TC on a null MX: not a null MX */
    header(&m, 1);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 0, "");
    set_tc(&m);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    assert_false(a.null_mx);
    /* TC with NXDOMAIN: not "does not exist" */
    header(&m, 0);
    question(&m, "t.test");
    m.b[3] |= 3;
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_OK);
    set_tc(&m);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_TRUNCATED);
    /* and the header alone, or less */
    assert_int_equal(mv_dnsmsg_check(m.b, 12), MV_DNSMSG_TRUNCATED);
    assert_int_equal(mv_dnsmsg_check(m.b, 11), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_check(NULL, 0), MV_DNSMSG_MALFORMED);
    assert_string_equal(mv_dnsmsg_strerror(MV_DNSMSG_TRUNCATED), "truncated DNS answer (TC) from server");
    assert_string_equal(mv_dnsmsg_strerror(MV_DNSMSG_MALFORMED), "malformed DNS answer");
}

static void test_ancount_lies(void **state)
{
    (void)state;
    /* more records counted than present */
    header(&m, 5);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    /* fewer counted than present: ANCOUNT 0 is not NODATA when an MX follows */
    header(&m, 0);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    /* an authority count that lies (the answer itself is fine) */
    header(&m, 1);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    m.b[9] = 2;
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    /* the same records, the counts right: authority and additional read too */
    header(&m, 1);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx.t.test");
    addr(&m, "mx.t.test", 1, 300, ip4, 4);
    m.b[11] = 1;
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_OK);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_OK);
    assert_int_equal(a.nmx, 1);
}

static void test_cut_mid_rdata(void **state)
{
    size_t whole;

    (void)state;
    header(&m, 2);
    question(&m, "t.test");
    mx(&m, "t.test", 300, 10, "mx1.t.test");
    mx(&m, "t.test", 300, 20, "mx2.t.test");
    whole = m.n;
    /* the second record's RDATA stops after its preference and 3 bytes of name */
    assert_int_equal(mv_dnsmsg_check(m.b, whole - 10), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_mx(m.b, whole - 10, "t.test", &a), MV_DNSMSG_MALFORMED);
    /* every cut of an address answer is refused too */
    header(&m, 1);
    question(&m, "h.test");
    addr(&m, "h.test", 1, 300, ip4, 4);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 1, &aa), MV_DNSMSG_OK);
    for (size_t cut = 0; cut < m.n; cut++) {
        assert_int_not_equal(mv_dnsmsg_check(m.b, cut), MV_DNSMSG_OK);
        assert_int_equal(mv_dnsmsg_addrs(m.b, cut, "h.test", 1, &aa), MV_DNSMSG_MALFORMED);
        assert_int_equal(aa.naddr, 0);
    }
}

static void test_garbage_after_header(void **state)
{
    static const unsigned char junk[] = {0x3f, 0xc0, 0xff, 0x00, 0x12, 0x99, 0x07, 0xc0,
                                         0x0c, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};

    (void)state;
    /* the header counts a question and an answer; random bytes follow */
    header(&m, 1);
    memcpy(m.b + m.n, junk, sizeof(junk));
    m.n += sizeof(junk);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "t.test", 1, &aa), MV_DNSMSG_MALFORMED);
    /* a complete NODATA answer with bytes after its last record */
    header(&m, 0);
    question(&m, "t.test");
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_OK);
    memcpy(m.b + m.n, junk, sizeof(junk));
    m.n += sizeof(junk);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_MALFORMED);
    assert_int_equal(mv_dnsmsg_mx(m.b, m.n, "t.test", &a), MV_DNSMSG_MALFORMED);
}

static void test_addresses(void **state)
{
    unsigned char six[16];

    (void)state;
    /* a CNAME chain to two A records; an A of another name ignored */
    header(&m, 4);
    question(&m, "www.test");
    m.b[m.n - 3] = 1; /* QTYPE A */
    cname(&m, "www.test", 60, "Host.test");
    addr(&m, "host.test", 1, 300, ip4, 4);
    addr(&m, "other.test", 1, 5, ip4, 4);
    addr(&m, "HOST.test", 1, 120, ip4, 4);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "www.test", 1, &aa), MV_DNSMSG_OK);
    assert_int_equal(aa.naddr, 2);
    assert_string_equal(aa.target, "host.test");
    assert_int_equal(aa.ttl, 60);
    assert_memory_equal(aa.addr[0], ip4, 4);
    /* AAAA records are not A records */
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "www.test", 28, &aa), MV_DNSMSG_OK);
    assert_int_equal(aa.naddr, 0);
    /* capped, counted */
    header(&m, 6);
    question(&m, "h.test");
    for (unsigned i = 0; i < 6; i++) {
        memcpy(six, ip6, 16);
        six[15] = (unsigned char)i;
        addr(&m, "h.test", 28, 300, six, 16);
    }
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 28, &aa), MV_DNSMSG_OK);
    assert_int_equal(aa.naddr, MV_DNSMSG_ADDR_MAX);
    assert_int_equal(aa.naddr_seen, 6);
    assert_int_equal(aa.addr[3][15], 3);
    /* an A record that is not 4 bytes is no address, and no "no address" */
    header(&m, 1);
    question(&m, "h.test");
    addr(&m, "h.test", 1, 300, ip4, 3);
    assert_int_equal(mv_dnsmsg_check(m.b, m.n), MV_DNSMSG_OK);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 1, &aa), MV_DNSMSG_MALFORMED);
    header(&m, 1);
    question(&m, "h.test");
    addr(&m, "h.test", 28, 300, ip6, 4);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 28, &aa), MV_DNSMSG_MALFORMED);
    /* TC on an address answer */
    header(&m, 1);
    question(&m, "h.test");
    addr(&m, "h.test", 1, 300, ip4, 4);
    set_tc(&m);
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 1, &aa), MV_DNSMSG_MALFORMED);
    /* only A and AAAA */
    m.b[2] &= (unsigned char)~0x02;
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "h.test", 15, &aa), MV_DNSMSG_MALFORMED);
    /* a CNAME loop */
    header(&m, 2);
    question(&m, "a.test");
    cname(&m, "a.test", 100, "b.test");
    cname(&m, "b.test", 100, "a.test");
    assert_int_equal(mv_dnsmsg_addrs(m.b, m.n, "a.test", 1, &aa), MV_DNSMSG_CNAME_LOOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_ttl),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_cname_chain_and_loops),
        cmocka_unit_test(test_thousands_capped),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_truncated_tc),
        cmocka_unit_test(test_ancount_lies),
        cmocka_unit_test(test_cut_mid_rdata),
        cmocka_unit_test(test_garbage_after_header),
        cmocka_unit_test(test_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
