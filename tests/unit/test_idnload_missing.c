/* SPDX-License-Identifier: MIT */
/*
 * test_idnload_missing.c - what a verdict is when libidn2.so.0 cannot be
 * loaded.
 *
 * This file compiles the loader itself (idnload.c) with a library name
 * that does not exist, as test_sslload_missing does for OpenSSL; the
 * static linker then takes this mv_idn() and not the archive's. Then: the
 * loader says why and keeps its answer; an ASCII address parses as
 * always (it never needs the library); an internationalized domain (a
 * U-label, or an A-label libidn2 would check) is
 * MV_SYN_IDN_UNAVAILABLE, and the engine's verdict for it is unknown
 * (temporary_error), never invalid: a missing library must not block a
 * valid address.
 */
#define MV_LIBIDN2_SONAME "libmailverify-test-no-such-idn2.so.0"
#include "idnload.c"

#include "unit.h"

#include "address.h"
#include "config.h"
#include "engine.h"

/* the loader fails, says why, and keeps its answer */
static void test_loader(void **state)
{
    const char *why = NULL, *again = NULL;

    (void)state;
    assert_null(mv_idn(&why));
    assert_non_null(strstr(why, "cannot load libidn2"));
    assert_non_null(strstr(why, MV_LIBIDN2_SONAME));
    assert_null(mv_idn(&again));
    assert_ptr_equal(again, why);
}

/* ASCII parses as ever; a U-label domain is unchecked, not invalid */
static void test_parse(void **state)
{
    static const char idn[] = "jane@b\xc3\xbc"
                              "cher.de";
    mv_address a;

    (void)state;
    assert_int_equal(mv_address_parse("jane@example.com", 16, 0, &a), MV_SYN_OK);
    /* an A-label is checked by libidn2 too */
    assert_int_equal(mv_address_parse("jane@xn--bcher-kva.de", 21, 0, &a), MV_SYN_IDN_UNAVAILABLE);
    assert_int_equal(mv_address_parse(idn, strlen(idn), 0, &a), MV_SYN_IDN_UNAVAILABLE);
    assert_string_equal(mv_syntax_name(MV_SYN_IDN_UNAVAILABLE), "idn_unavailable");
}

/* the engine's verdict: unknown, temporary_error, for every context */
static void test_verdict(void **state)
{
    static const char idn[] = "jane@b\xc3\xbc"
                              "cher.de";
    mv_diag d = {0};
    mv_config *cfg = mv_config_load(NULL, 0, &d);
    mv_engine *e;

    (void)state;
    assert_non_null(cfg);
    assert_non_null(e = mv_engine_new(cfg));
    for (int c = 0; c < MV_CTX_COUNT; c++) {
        mv_request req = {
            .address = idn, .len = strlen(idn), .context = (mv_context)c, .mode = MV_MODE_OFFLINE};
        mv_verdict v;

        assert_int_equal(mv_engine_check(e, &req, &v), MV_OK);
        assert_int_equal(v.status, MV_STATUS_UNKNOWN);
        assert_string_equal(mv_reason_name(v.reason), "temporary_error");
    }
    mv_engine_free(e);
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_verdict),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
