/* SPDX-License-Identifier: MIT */
/*
 * json.h - writing JSON safely.
 *
 * Everything that reaches a JSON string went through mv_json_str(): quotes
 * and backslashes escaped, control characters as \uXXXX, U+2028/U+2029
 * escaped (they end a line in JavaScript), and every ill-formed UTF-8 byte
 * replaced by U+FFFD so that the output is always valid UTF-8 JSON, whatever
 * bytes the input had. MV_JSON_HTML also escapes < > & for pages that
 * might embed the answer. mv_json_escape() is the same escaping into
 * memory the caller has reserved, for writers that build a whole object
 * at once (the verdict).
 */
#ifndef MV_JSON_H
#define MV_JSON_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

enum { MV_JSON_HTML = 1 };

/* mv_json_str - append s as a quoted JSON string */
void mv_json_str(mv_buf *b, const char *s, size_t len, int flags);

#define MV_JSON_ESCAPE_MAX(len) (6 * (len)) /* room mv_json_escape may need */

/* mv_json_escape - write s escaped (no quotes) to out; bytes written */
size_t mv_json_escape(char *out, const char *s, size_t len, int flags);

/* mv_json_cstr - append a C string as JSON, or null for NULL */
void mv_json_cstr(mv_buf *b, const char *s, int flags);

/* mv_json_key - append "key": (key is trusted ASCII) */
void mv_json_key(mv_buf *b, const char *key);

/* mv_json_bool - append true or false */
void mv_json_bool(mv_buf *b, bool v);

#endif
