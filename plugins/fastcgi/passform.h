/* SPDX-License-Identifier: MIT */
/*
 * passform.h - the fields of a form submission, for pass-through.
 *
 * A legacy form posts application/x-www-form-urlencoded or
 * multipart/form-data, or sends its fields in a GET query. Pass-through
 * must see every value a handler could read for a field, remove fields a
 * client must not forge (the warn field) and add one. Everything else in
 * the bytes stays as it was: these functions never re-encode what they do
 * not touch.
 *
 * The handler parses the same bytes with its own parser (PHP, Python's
 * cgi, Perl's CGI.pm, ...), and those parsers disagree. So the values
 * read here are a superset of what any of them reads for a field, and
 * where a superset cannot be had the text is malformed (the plugin
 * answers 400) instead of guessed at:
 *
 * - names match loosely: as PHP, Python or CGI.pm could read them, and
 *   then some. Compared decoded (urlencoded), up to a NUL or a "[" (PHP
 *   makes "email[]" and "email[x]" arrays called email), after leading
 *   blanks (PHP drops them), with " " and "." the same as "_" (PHP's
 *   mangling) and case ignored (some frameworks do). A field the plugin
 *   adds or strips is found by the same rule.
 * - urlencoded: read twice, with pairs split on "&" only (PHP, Python)
 *   and on "&" and ";" (CGI.pm); every value of both readings counts.
 *   Empty pairs are skipped; a name without "=" has an empty value; a bad
 *   %-escape in a wanted field's value is malformed, elsewhere it is left
 *   alone.
 * - multipart: CRLF only. Every "--boundary" in the body must start a
 *   delimiter line (at the start or after CRLF; optional blanks and CRLF
 *   after it, or "--" for the close): a bare-LF body, "--boundary"
 *   anywhere inside a part (CGI.pm splits there), after the close (PHP
 *   reads on) or a missing close are malformed; the boundary string
 *   without its "--" is just bytes. Part headers: no NUL, bare CR or LF,
 *   no blank-only line (Python ends the headers there); names are tokens;
 *   folded lines are unfolded; one Content-Disposition, its parameters
 *   RFC 7231 syntax, \" the only escape in a quoted string, one name and
 *   one filename at most, no single quote in an unquoted name. A part is
 *   the field of its name parameter and also of every other name a lax
 *   reader could find in its headers: any "name=" or "name*=" not inside
 *   a longer word, quoted or not, and a Content-ID (CGI.pm's
 *   multipart/related). A wanted part's values are its content and, for
 *   a file, every reading of its filename (quoted, unescaped, RFC 2231,
 *   the part after the last "/" or "\\" as PHP keeps it). A wanted part
 *   that declares a Content-Transfer-Encoding other than 7bit, 8bit or
 *   binary, or a charset that is not ASCII-compatible, and any part that
 *   is itself multipart or urlencoded (Python parses those), is malformed.
 * - types: no type, or any type starting with
 *   application/x-www-form-urlencoded, is urlencoded (CGI.pm matches the
 *   prefix, Python takes a POST without a type as a form); any multipart/
 *   type is multipart (Python reads them all, CGI.pm the prefix
 *   multipart/form-data), and without one valid boundary (1..70 RFC 2046
 *   characters, none of them ",", ";" or "\"", and the parameter that PHP
 *   and CGI.pm would find: the first "boundary" in the header) it has an
 *   empty boundary: malformed to every function below. A form type whose
 *   charset is not ASCII-compatible (UTF-16, UTF-7, ...) is
 *   MV_PF_UNREADABLE: refused (415), never handed on unread.
 */
#ifndef MV_PASSFORM_H
#define MV_PASSFORM_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MV_PF_URLENCODED,
    MV_PF_MULTIPART,
    MV_PF_OTHER,      /* not a form type (JSON, text, ...) */
    MV_PF_UNREADABLE, /* a form type read in a charset we cannot read */
} mv_pf_kind;

typedef struct {
    mv_pf_kind kind;
    char boundary[72]; /* multipart: without the leading "--" */
} mv_pf_type;

/* mv_pf_type_of - the kind of a CONTENT_TYPE (a query, or an empty type, is
 * MV_PF_URLENCODED) */
mv_pf_type mv_pf_type_of(const char *ctype);

/* Called with each value of the field (a NUL after len); return false to stop. */
typedef bool (*mv_pf_each_fn)(void *arg, const char *value, size_t len);

/* mv_pf_each - every value any handler could read for the field name,
 * decoded (one value may come more than once); false if the text is
 * malformed or a value is over max */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg);

/* mv_pf_strip - remove every field that could be read as name, in place;
 * the new length. urlencoded: a removed pair (split on "&" and ";") takes
 * one separator with it; multipart: the whole part, a file part too. On
 * malformed multipart the parts after the fault are left as they are:
 * call mv_pf_each first. */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name);

/* mv_pf_append - append name=value to b, which holds the text (urlencoded,
 * or multipart: a part before the closing delimiter); false if it cannot:
 * the text is malformed or already holds MV_FORM_FIELDS_MAX fields, the
 * name is empty or 256 bytes or longer, or (multipart) the name holds
 * '"', '\\', CR or LF or the value CR or LF, or either "--boundary" */
bool mv_pf_append(const mv_pf_type *t, mv_buf *b, const char *name, const char *value);

/* mv_pf_cookie_each - every value of a cookie that could be read as name
 * (PHP's $_REQUEST may hold cookies): pairs split on ";", names read as
 * above, each value as sent and %-decoded when that differs; false if a
 * value is over max */
bool mv_pf_cookie_each(const char *cookie, const char *name, size_t max, mv_pf_each_fn fn, void *arg);

/* mv_pf_pct - append s percent-encoded for a URL query (unreserved kept) */
void mv_pf_pct(mv_buf *b, const char *s, size_t len);

#endif
