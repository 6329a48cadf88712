/* SPDX-License-Identifier: MIT */
/*
 * formparse.h - reading the fields of an HTTP request body or query.
 *
 * A form posts "email=jane%40example.com&context=form"; a script posts
 * {"email":"jane@example.com"}; a GET carries the same in its query. Both
 * parsers look up one field by name and copy its decoded value out, with
 * limits (value length, number of fields, JSON nesting) and a clear error
 * for anything malformed. Outside input, fuzzed (tests/fuzz/fuzz_form.c).
 */
#ifndef MV_FORMPARSE_H
#define MV_FORMPARSE_H

#include <stdbool.h>
#include <stddef.h>

#define MV_FORM_FIELDS_MAX 256 /* more fields than this: malformed */
#define MV_JSON_DEPTH_MAX 16

typedef enum {
    MV_FORM_OK = 0,
    MV_FORM_MISSING,      /* no such field */
    MV_FORM_BAD_ENCODING, /* bad %XX, bad JSON escape, bad UTF-8 in JSON */
    MV_FORM_TOO_LONG,     /* the value does not fit the buffer */
    MV_FORM_TOO_MANY,     /* too many fields */
    MV_FORM_BAD_JSON,     /* not a JSON object */
    MV_FORM_NOT_STRING,   /* the JSON field is not a string */
} mv_form_status;

/* mv_form_get - a field of application/x-www-form-urlencoded text */
mv_form_status mv_form_get(const char *s, size_t len, const char *name, char *out, size_t size,
                           size_t *outlen);

/* mv_json_get - a top-level string member of a JSON object */
mv_form_status mv_json_get(const char *s, size_t len, const char *name, char *out, size_t size,
                           size_t *outlen);

/* mv_form_status_text - for the 400 answer */
const char *mv_form_status_text(mv_form_status st);

/* mv_form_url_decode - %XX and "+" decoded into out (NUL-terminated,
 * at most size - 1 bytes); MV_FORM_OK, BAD_ENCODING or TOO_LONG */
mv_form_status mv_form_url_decode(const char *s, size_t n, char *out, size_t size, size_t *outlen);

#endif
