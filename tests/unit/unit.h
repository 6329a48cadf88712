/* SPDX-License-Identifier: MIT */
/*
 * unit.h - what every unit test includes: cmocka and small helpers.
 *
 * Tests are table-driven where they can be (Postfix's PTEST_CASE style):
 * a static array of cases and one loop that names the failing case.
 */
#ifndef MV_UNIT_H
#define MV_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fail_case - report which table case failed, then fail the test */
#define fail_case(fmt, ...) \
    do { \
        print_error("case failed: " fmt "\n", __VA_ARGS__); \
        fail(); \
    } while (0)

#endif
