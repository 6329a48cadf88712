/* SPDX-License-Identifier: MIT */
/*
 * address.h - parse and normalize one mailbox (RFC 5321, RFC 6531, IDNA).
 *
 * Input is any bytes, as an SMTP client, a web form or a file gave them:
 * a bare mailbox, a path in angle brackets (with a source route, which RFC
 * 5321 says to accept and ignore), or the null path "<>" where MAIL FROM
 * allows it. The result is either a normalized mailbox (domain lowercased
 * and in A-label form, local part as given with minimal quoting) or one
 * stable error identifier with the byte offset where it was found.
 * Nothing is allocated; the result lives in the caller's struct.
 */
#ifndef MV_ADDRESS_H
#define MV_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define MV_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1, octets */
#define MV_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2, octets */
#define MV_PATH_MAX 256   /* RFC 5321 4.5.3.1.3, with "<" and ">" */
#define MV_MAILBOX_MAX (MV_PATH_MAX - 2)
#define MV_INPUT_MAX 2048 /* longer input cannot be a mailbox at all */

/* Syntax errors, each with a stable identifier (mv_syntax_name). */
typedef enum {
    MV_SYN_OK = 0,
    MV_SYN_EMPTY,               /* nothing but white space */
    MV_SYN_NO_AT,               /* no "@" outside quotes */
    MV_SYN_EMPTY_LOCAL,         /* "@example.com" */
    MV_SYN_EMPTY_DOMAIN,        /* "user@" */
    MV_SYN_LOCAL_TOO_LONG,      /* over 64 octets */
    MV_SYN_DOMAIN_TOO_LONG,     /* over 255 octets */
    MV_SYN_ADDRESS_TOO_LONG,    /* over 254 octets (256 with brackets) */
    MV_SYN_LABEL_TOO_LONG,      /* a domain label over 63 octets */
    MV_SYN_LEADING_DOT,         /* ".user@" */
    MV_SYN_TRAILING_DOT,        /* "user.@" */
    MV_SYN_CONSECUTIVE_DOTS,    /* "us..er@" */
    MV_SYN_UNQUOTED_SPECIAL,    /* space ( ) , : ; < > [ \ ] " outside quotes */
    MV_SYN_CONTROL_CHAR,        /* C0, DEL or C1 control anywhere */
    MV_SYN_INVALID_UTF8,        /* ill-formed UTF-8 */
    MV_SYN_UNTERMINATED_QUOTE,  /* "\"abc@x" */
    MV_SYN_INVALID_QUOTED,      /* bad quoted-pair */
    MV_SYN_PARTIAL_QUOTE,       /* "\"a\".b@x": quotes must span the local part */
    MV_SYN_MULTIPLE_AT,         /* "a@b@c" */
    MV_SYN_DOMAIN_INVALID_CHAR, /* "_" or punctuation in a domain */
    MV_SYN_DOMAIN_LEADING_DOT,  /* "user@.example.com" */
    MV_SYN_DOMAIN_TRAILING_DOT, /* "user@example.com." */
    MV_SYN_DOMAIN_CONSECUTIVE_DOTS,
    MV_SYN_LABEL_HYPHEN,        /* a label starting or ending with "-" */
    MV_SYN_SINGLE_LABEL_DOMAIN, /* "user@localhost": no dot */
    MV_SYN_NUMERIC_TLD,         /* "user@1.2.3.4": no TLD is all digits */
    MV_SYN_INVALID_IDN,         /* IDNA2008/UTS#46 refused the domain */
    MV_SYN_INVALID_LITERAL,     /* bad [IPv4] / [IPv6:...], or other tag */
    MV_SYN_UNBALANCED_ANGLE,    /* "<a@b" or "a@b>" or text after ">" */
    MV_SYN_NULL_PATH,           /* "<>" where no null path is allowed */
    MV_SYN_INVALID_ROUTE,       /* bad "@a,@b:" source route */
    MV_SYN_IDN_UNAVAILABLE,     /* libidn2 could not be loaded (idnload.h):
                                 * not an error of the address; a temporary verdict */
    MV_SYN_COUNT
} mv_syntax_error;

enum {
    MV_PARSE_ALLOW_NULL = 1 << 0, /* "<>" is valid (MAIL FROM) */
};

typedef enum {
    MV_ADDR_MAILBOX = 0,
    MV_ADDR_NULL, /* the null path "<>" */
} mv_addr_kind;

typedef struct {
    mv_syntax_error error;
    size_t error_pos; /* byte offset in the input as given */
    mv_addr_kind kind;
    bool smtputf8; /* local part has UTF-8: needs SMTPUTF8 */
    bool quoted;   /* local part needs quoting */
    bool literal;  /* domain is an address literal */
    bool idn;      /* domain had U-labels or A-labels */
    size_t local_len;
    size_t domain_len;
    char local[MV_LOCAL_MAX + 1];   /* normalized local part */
    char domain[MV_DOMAIN_MAX + 1]; /* lowercase A-labels, or [literal] */
} mv_address;

/* mv_address_parse - parse input; MV_SYN_OK or the first error */
mv_syntax_error mv_address_parse(const char *input, size_t len, int flags, mv_address *out);

/* mv_address_format - "local@domain" into buf; length, or 0 if too small */
size_t mv_address_format(const mv_address *a, char *buf, size_t size);

/* mv_syntax_name - stable identifier, e.g. "consecutive_dots" */
const char *mv_syntax_name(mv_syntax_error e);

/* mv_syntax_message - one sentence for a human */
const char *mv_syntax_message(mv_syntax_error e);

/* mv_syntax_lookup - error for an identifier, or -1 */
int mv_syntax_lookup(const char *name);

#endif
