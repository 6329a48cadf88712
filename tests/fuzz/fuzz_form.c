/* SPDX-License-Identifier: MIT */
/*
 * fuzz_form.c - libFuzzer target for the web plugin's request parsers.
 *
 * mv_form_get and mv_json_get read bodies and query strings from anyone
 * on the Internet. Both run on the raw bytes (copied to a block of exactly
 * their length, so ASan sees any read past len), for the field names the
 * plugin asks for, into output buffers of exactly 1, 2, 8, 64 and 321
 * bytes (the plugin's email buffer is MV_INPUT_MAX + 2). Besides the
 * sanitizers' checks, what callers rely on aborts the run when broken:
 * a known status with a text; on MV_FORM_OK, outlen < size and a NUL at
 * out[outlen]; the same status and value whatever the bytes after len;
 * and, for a form, a value that fits a larger buffer whenever it fit a
 * smaller one.
 */
#include "formparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

typedef mv_form_status (*getter)(const char *, size_t, const char *, char *, size_t, size_t *);

static const size_t sizes[] = {1, 2, 8, 64, 321};
#define NSIZES (sizeof(sizes) / sizeof(*sizes))

/* one - a parser, a name, a buffer size; the status, value in *val */
static mv_form_status one(getter get, const char *in, size_t n, const char *name, size_t size, char **val,
                          size_t *vlen)
{
    char *out = malloc(size);
    size_t outlen = (size_t)-1;
    mv_form_status st;

    CHECK(out != NULL);
    memset(out, 0xA5, size);
    st = get(in, n, name, out, size, &outlen);
    CHECK((unsigned)st <= MV_FORM_NOT_STRING);
    CHECK(mv_form_status_text(st) != NULL);
    if (st == MV_FORM_OK) {
        CHECK(outlen < size);
        CHECK(out[outlen] == '\0');
    }
    *val = out;
    *vlen = outlen;
    return st;
}

static int malformed(mv_form_status st)
{
    return st == MV_FORM_BAD_ENCODING || st == MV_FORM_BAD_JSON;
}

/* both - every size; a fit must stay a fit in a larger buffer, same value */
static void both(getter get, const char *in, size_t n, const char *name, const char *padded)
{
    mv_form_status prev = MV_FORM_TOO_LONG;
    char *pval = NULL;
    size_t plen = 0;

    for (size_t i = 0; i < NSIZES; i++) {
        char *val, *val2;
        size_t vlen, vlen2;
        mv_form_status st = one(get, in, n, name, sizes[i], &val, &vlen);
        /* the bytes after len change nothing */
        mv_form_status st2 = one(get, padded, n, name, sizes[i], &val2, &vlen2);

        CHECK(st == st2);
        if (st == MV_FORM_OK)
            CHECK(vlen == vlen2 && memcmp(val, val2, vlen) == 0);
        free(val2);
        if (prev == MV_FORM_OK) {
            CHECK(st == MV_FORM_OK);
            CHECK(vlen == plen && memcmp(val, pval, vlen) == 0);
        }
        /* a status other than "too long" does not depend on the size (a
         * value cut short may leave a bad escape further on to be found
         * by the JSON validator instead: malformed either way) */
        if (prev != MV_FORM_TOO_LONG && i > 0)
            CHECK(st == prev || (malformed(st) && malformed(prev)));
        free(pval);
        pval = val;
        plen = vlen;
        prev = st;
    }
    free(pval);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"email", "context", "e"};
    char *in = malloc(size ? size : 1);
    char *padded = malloc(size + 8);

    if (in == NULL || padded == NULL)
        abort();
    memcpy(in, data, size);
    memcpy(padded, data, size);
    memcpy(padded + size, "%41\"}&=\\", 8); /* what a parser reading on would find */
    for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
        both(mv_form_get, in, size, names[k], padded);
        both(mv_json_get, in, size, names[k], padded);
    }
    free(in);
    free(padded);
    return 0;
}
