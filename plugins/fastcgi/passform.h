/*
 * passform.h - the fields of a form submission, for pass-through.
 *
 * A legacy form posts application/x-www-form-urlencoded or
 * multipart/form-data, or sends its fields in a GET query. Pass-through
 * must see every occurrence of a field (a handler may take the first or
 * the last "email"), remove fields a client must not forge (the warn
 * field) and add one. Everything else in the bytes stays as it was:
 * these functions never re-encode what they do not touch.
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

/* mv_pf_type_of - the kind of a CONTENT_TYPE (a query is MV_PF_URLENCODED) */
mv_pf_type mv_pf_type_of(const char *ctype);

/* Called with each value of the field; return false to stop. */
typedef bool (*mv_pf_each_fn)(void *arg, const char *value, size_t len);

/* mv_pf_each - every value of the field name, decoded (a file part is
 * skipped); false if the text is malformed or a value is over max */
bool mv_pf_each(const mv_pf_type *t, const char *s, size_t len, const char *name, size_t max,
                mv_pf_each_fn fn, void *arg);

/* mv_pf_strip - remove every field called name, in place; the new length */
size_t mv_pf_strip(const mv_pf_type *t, char *s, size_t len, const char *name);

/* mv_pf_append - append name=value to b, which holds the text (urlencoded,
 * or multipart: a part before the closing delimiter); false if it cannot */
bool mv_pf_append(const mv_pf_type *t, mv_buf *b, const char *name, const char *value);

/* mv_pf_pct - append s percent-encoded for a URL query (unreserved kept) */
void mv_pf_pct(mv_buf *b, const char *s, size_t len);

#endif
