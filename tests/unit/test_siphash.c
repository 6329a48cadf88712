/* SPDX-License-Identifier: MIT */
/*
 * test_siphash.c - SipHash-2-4 (siphash.c) against the paper's vectors.
 *
 * The SipHash paper (appendix A) and its reference code give the outputs
 * for the key 00 01 .. 0f and the messages "", 00, 00 01, ... 00 01 .. 3e:
 * all 64 are checked, which covers every tail length (0-7 bytes left
 * over) with zero to seven whole words before it. Then what the tables
 * rely on: the same input hashed from an unaligned address gives the
 * same output, another key gives another output, and mv_siphash_key
 * gives distinct keys.
 */
#include "unit.h"

#include "siphash.h"

/* SipHash-2-4, key 00..0f, message 00..len-1, for len = 0..63 */
static const uint64_t vectors[64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
    0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
    0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
    0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
    0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
    0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL, 0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
    0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
    0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
    0xf935451de4f21df2ULL, 0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
    0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
    0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

/* fill - key 00..0f and message 00..63, as the vectors use them */
static void fill(uint8_t key[MV_SIPHASH_KEY], uint8_t msg[64])
{
    for (int i = 0; i < MV_SIPHASH_KEY; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
}

static void test_vectors(void **state)
{
    uint8_t key[MV_SIPHASH_KEY], msg[64];

    (void)state;
    fill(key, msg);
    for (size_t len = 0; len < 64; len++)
        if (mv_siphash(key, msg, len) != vectors[len])
            fail_case("len %zu: %016llx", len, (unsigned long long)mv_siphash(key, msg, len));
}

/* the words are loaded with memcpy: any address gives the same output */
static void test_unaligned(void **state)
{
    uint8_t key[MV_SIPHASH_KEY], msg[64], buf[64 + 8];

    (void)state;
    fill(key, msg);
    for (size_t off = 1; off < 8; off++) {
        memcpy(buf + off, msg, 63);
        if (mv_siphash(key, buf + off, 63) != vectors[63])
            fail_case("offset %zu", off);
    }
}

/* another key, another function; the length counts (a trailing NUL too) */
static void test_key_and_length(void **state)
{
    uint8_t key[MV_SIPHASH_KEY], msg[64];

    (void)state;
    fill(key, msg);
    key[15] ^= 1;
    assert_true(mv_siphash(key, msg, 8) != vectors[8]);
    key[15] ^= 1;
    assert_true(mv_siphash(key, "", 0) != mv_siphash(key, "\0", 1));
    assert_true(mv_siphash(key, "abc", 3) != mv_siphash(key, "abc\0", 4));
}

/* keys come from the kernel: two in a row differ (2^-128 they do not) */
static void test_keys(void **state)
{
    uint8_t a[MV_SIPHASH_KEY], b[MV_SIPHASH_KEY];

    (void)state;
    assert_int_equal(mv_siphash_key(a), 0);
    assert_int_equal(mv_siphash_key(b), 0);
    assert_memory_not_equal(a, b, MV_SIPHASH_KEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_unaligned),
        cmocka_unit_test(test_key_and_length),
        cmocka_unit_test(test_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
