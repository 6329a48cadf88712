/* SPDX-License-Identifier: MIT */
/*
 * utf8.h - strict UTF-8 validation for outside input.
 *
 * Addresses arrive from SMTP clients, web forms and files; any byte may be
 * there. These helpers tell well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) from everything else, so that the
 * parser can name the cause and the JSON writer can show bad bytes safely.
 */
#ifndef MV_UTF8_H
#define MV_UTF8_H

#include <stddef.h>

/* mv_utf8_seq - length of the well-formed sequence at s (1..4), or 0 */
size_t mv_utf8_seq(const unsigned char *s, size_t avail);

/* mv_utf8_valid - offset of the first ill-formed byte, or len if all valid */
size_t mv_utf8_valid(const unsigned char *s, size_t len);

#endif
