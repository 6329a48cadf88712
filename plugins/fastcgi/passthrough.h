/* SPDX-License-Identifier: MIT */
/*
 * passthrough.h - the plugin in front of a legacy form handler.
 *
 * With fastcgi.pass_through set, a request that is not one of the
 * plugin's endpoints is a form submission on its way to the handler
 * ("cgi:/path/to/script" or "http://host:port/path"). Every value any
 * common handler could read for a fastcgi.pass_fields field -- in the
 * query, a form body of any method, the cookies; read as passform.h
 * says -- is verified in the form context; a request that cannot be
 * read that way is refused (400, 415) before the handler runs; then:
 *   block  -> the handler never runs: a page (fastcgi.block_page, a
 *             template, or a built-in one; status 422) or a 302 redirect
 *             to fastcgi.block_redirect with ?mailverify_reason=...
 *             &mailverify_suggestion=... (on_block = "redirect");
 *   warn, review, tempfail -> handed on with the field warn_field =
 *             "status:reason" added to the body (or to the query of a
 *             request with no form body) and the CGI variable
 *             HTTP_X_MAILVERIFY (the X-Mailverify header upstream);
 *   accept -> handed on untouched: method, query, body byte for byte,
 *             CGI variables.
 * A client's own warn_field fields and X-Mailverify header are always
 * removed (before verifying, so that what is verified is what is handed
 * on), so a handler can trust them. Other body types (JSON, ...) are
 * handed on unverified, with a log line. When the engine cannot answer,
 * the request is handed on (fail open), with a log line.
 */
#ifndef MV_PASSTHROUGH_H
#define MV_PASSTHROUGH_H

#include "plugin.h"

#include <stdbool.h>

#define MV_PASS_OUTPUT_MAX (16L << 20) /* a larger answer from the handler: 502 */

typedef struct mv_pass mv_pass;

/* mv_pass_new - from fastcgi.pass_through; NULL if it is not set, or on
 * failure (logged; *failed set) */
mv_pass *mv_pass_new(mv_config *cfg, bool *failed);

/* mv_pass_handle - the plugin's pass hook: verify, then block or hand on; the status */
int mv_pass_handle(mv_plugin *p, mv_http_req *r, void *arg);

/* mv_pass_free - release; NULL is fine */
void mv_pass_free(mv_pass *ps);

#endif
