/*
 * passform.h - the fields of a form submission, for pass-through.
 *
 * A legacy form posts application/x-www-form-urlencoded or
 * multipart/form-data, or sends its fields in a GET query. Pass-through
 * must see every occurrence of a field (a handler may take the first or
 * the last "email"), remove fields a client must not forge (the warn
 * field) and add one. Everything else in the bytes stays as it was:
 * these functions never re-encode what they do not touch.
 *
 * The handler parses the same bytes with its own parser, so where two
 * parsers could see different fields the text is malformed here (and the
 * plugin answers 400) instead of guessed at:
 *
 * - urlencoded: pairs are split on "&" and on ";" (CGI.pm does); empty
 *   pairs are skipped; a name without "=" has an empty value; a name is
 *   compared decoded, up to a decoded NUL ("email%00x" is "email", as in
 *   a handler keeping names in C strings); a bad %-escape in the wanted
 *   field's value is malformed, elsewhere it is left alone.
 * - multipart: CRLF only. Every "--boundary" in the body must start a
 *   delimiter line (at the start or after CRLF; optional blanks and CRLF
 *   after it, or "--" for the close): a bare-LF body, "--boundary"
 *   anywhere inside a part (CGI.pm splits there), after the close (PHP
 *   reads on) or a missing close are malformed; the boundary string
 *   without its "--" is just bytes. Part headers: no NUL, bare CR or LF;
 *   names are tokens;
 *   folded lines are unfolded; one Content-Disposition, its parameters
 *   RFC 7231 syntax, \" the only escape in a quoted string, one name and
 *   one filename at most, no single quote in an unquoted name. A part
 *   with a non-empty filename is a file; a part without a name is no
 *   field. A multipart/form-data type without one valid boundary (1..70
 *   RFC 2046 characters, the parameter PHP would find: the first
 *   "boundary" in the header) has an empty boundary: malformed to every
 *   function below.
 */
#ifndef MV_PASSFORM_H
#define MV_PASSFORM_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { MV_PF_URLENCODED, MV_PF_MULTIPART, MV_PF_OTHER } mv_pf_kind;

typedef struct {
    mv_pf_kind kind;
    char boundary[72];          /* multipart: without the leading "--" */
} mv_pf_type;

/* mv_pf_type_of - the kind of a CONTENT_TYPE (a query, or an empty type, is
 * MV_PF_URLENCODED; parameters of a urlencoded type are ignored) */
mv_pf_type mv_pf_type_of(const char *ctype);

/* Called with each value of the field (a NUL after len); return false to stop. */
typedef bool (*mv_pf_each_fn)(void *arg, const char *value, size_t len);

/* mv_pf_each - every value of the field name, decoded (a file part is
 * skipped); false if the text is malformed or a value is over max */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg);

/* mv_pf_strip - remove every field called name, in place; the new length.
 * urlencoded: a removed pair takes one separator with it; multipart: the
 * whole part, a file part too. On malformed multipart the parts after
 * the fault are left as they are: call mv_pf_each first. */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name);

/* mv_pf_append - append name=value to b, which holds the text (urlencoded,
 * or multipart: a part before the closing delimiter); false if it cannot:
 * the text is malformed or already holds MV_FORM_FIELDS_MAX fields, the
 * name is empty or 256 bytes or longer, or (multipart) the name holds
 * '"', '\\', CR or LF or the value CR or LF, or either "--boundary" */
bool mv_pf_append(const mv_pf_type *t, mv_buf *b, const char *name, const char *value);

/* mv_pf_pct - append s percent-encoded for a URL query (unreserved kept) */
void mv_pf_pct(mv_buf *b, const char *s, size_t len);

#endif
