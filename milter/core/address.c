/* SPDX-License-Identifier: MIT */
/*
 * address.c - the mailbox parser: RFC 5321 4.1.2, RFC 6531, IDNA2008.
 *
 * Grammar (RFC 5321 4.1.2, with RFC 6531's UTF-8 extensions):
 *   Path      = "<" [ A-d-l ":" ] Mailbox ">"       (A-d-l: ignored route)
 *   Mailbox   = Local-part "@" ( Domain / address-literal )
 *   Local-part= Dot-string / Quoted-string
 *   atext     = ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~" / UTF8-non-ascii
 *   Domain    = sub-domain *("." sub-domain), LDH labels or U-labels
 * The parser walks the bytes once, stops at the first error and names it
 * with the offset where it was seen. Lengths are checked on the normalized
 * form, because that is what would be sent in an SMTP command.
 *
 * Policy choices beyond the grammar, each for a reason a user would give:
 * - surrounding spaces and tabs are trimmed (forms and files carry them);
 * - a domain must have a dot and a non-numeric TLD: dotless names are not
 *   routable on the Internet (RFC 7085), and "1.2.3.4" means "[1.2.3.4]";
 * - a trailing dot in the domain is refused: RFC 5321 has no root dot;
 * - general address literals ("[tag:...]") are refused: no tag but IPv6 is
 *   standardized, and nobody can deliver to one;
 * - C1 controls (U+0080..U+009F) count as control characters in UTF-8;
 * - U-labels go through UTS#46 non-transitional processing (libidn2),
 *   which is IDNA2008 plus the mapping browsers apply (case, width, and
 *   U+3002 as a dot); what the mapping turns into other than letters,
 *   digits, hyphens and dots (U+FF20 into "@", U+00A0 into " ") is refused
 *   as UseSTD3ASCIIRules says. libidn2's own flag for that deletes such
 *   characters instead, so the check is done here on its output;
 * - "idn" means the normalized domain holds an A-label: fullwidth ASCII
 *   that maps to plain ASCII is not an IDN;
 * - one pair of angle brackets, checked at both ends before the content;
 * - a source route is checked as RFC 5321 At-domains (LDH labels or
 *   U-labels, dotless allowed) and then ignored; "<@x.y>" without a ":"
 *   is a mailbox with no local part, not a route;
 * - control characters are refused inside address literals too (a NUL
 *   there would end the text inet_pton sees).
 */
#include "address.h"
#include "idnload.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <idn2.h> /* constants only: the functions are loaded (idnload.h) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { C_ATEXT = 1, C_LDH = 2, C_DIGIT = 4, C_SPACE = 8 };

static const unsigned char ctab[256] = {
    ['a' ... 'z'] = C_ATEXT | C_LDH,
    ['A' ... 'Z'] = C_ATEXT | C_LDH,
    ['0' ... '9'] = C_ATEXT | C_LDH | C_DIGIT,
    ['-'] = C_ATEXT | C_LDH,
    ['!'] = C_ATEXT,
    ['#'] = C_ATEXT,
    ['$'] = C_ATEXT,
    ['%'] = C_ATEXT,
    ['&'] = C_ATEXT,
    ['\''] = C_ATEXT,
    ['*'] = C_ATEXT,
    ['+'] = C_ATEXT,
    ['/'] = C_ATEXT,
    ['='] = C_ATEXT,
    ['?'] = C_ATEXT,
    ['^'] = C_ATEXT,
    ['_'] = C_ATEXT,
    ['`'] = C_ATEXT,
    ['{'] = C_ATEXT,
    ['|'] = C_ATEXT,
    ['}'] = C_ATEXT,
    ['~'] = C_ATEXT,
    [' '] = C_SPACE,
    ['\t'] = C_SPACE,
};

static const struct {
    const char *name;
    const char *message;
} syntax_info[MV_SYN_COUNT] = {
    [MV_SYN_OK] = {"ok", "valid"},
    [MV_SYN_EMPTY] = {"empty", "the address is empty"},
    [MV_SYN_NO_AT] = {"missing_at", "there is no @ between the user and the domain"},
    [MV_SYN_EMPTY_LOCAL] = {"empty_local", "there is nothing before the @"},
    [MV_SYN_EMPTY_DOMAIN] = {"empty_domain", "there is nothing after the @"},
    [MV_SYN_LOCAL_TOO_LONG] = {"local_too_long", "the part before the @ is longer than 64 bytes"},
    [MV_SYN_DOMAIN_TOO_LONG] = {"domain_too_long", "the domain is longer than 255 bytes"},
    [MV_SYN_ADDRESS_TOO_LONG] = {"address_too_long", "the address is longer than 254 bytes"},
    [MV_SYN_LABEL_TOO_LONG] = {"label_too_long", "a part of the domain is longer than 63 bytes"},
    [MV_SYN_LEADING_DOT] = {"leading_dot", "the part before the @ starts with a dot"},
    [MV_SYN_TRAILING_DOT] = {"trailing_dot", "the part before the @ ends with a dot"},
    [MV_SYN_CONSECUTIVE_DOTS] = {"consecutive_dots", "two dots in a row before the @"},
    [MV_SYN_UNQUOTED_SPECIAL] = {"unquoted_special",
                                 "a space or one of ( ) , : ; < > [ ] \\ \" appears outside quotes"},
    [MV_SYN_CONTROL_CHAR] = {"control_character", "the address contains a control character"},
    [MV_SYN_INVALID_UTF8] = {"invalid_utf8", "the address contains bytes that are not valid UTF-8"},
    [MV_SYN_UNTERMINATED_QUOTE] = {"unterminated_quote", "a quoted part is not closed"},
    [MV_SYN_INVALID_QUOTED] = {"invalid_quoted_char",
                               "a backslash in quotes is not followed by a printable character"},
    [MV_SYN_PARTIAL_QUOTE] = {"partial_quote", "quotes must enclose the whole part before the @"},
    [MV_SYN_MULTIPLE_AT] = {"multiple_at", "there is more than one @"},
    [MV_SYN_DOMAIN_INVALID_CHAR] = {"domain_invalid_char",
                                    "the domain may contain only letters, digits, hyphens and dots"},
    [MV_SYN_DOMAIN_LEADING_DOT] = {"domain_leading_dot", "the domain starts with a dot"},
    [MV_SYN_DOMAIN_TRAILING_DOT] = {"domain_trailing_dot", "the domain ends with a dot"},
    [MV_SYN_DOMAIN_CONSECUTIVE_DOTS] = {"domain_consecutive_dots", "two dots in a row in the domain"},
    [MV_SYN_LABEL_HYPHEN] = {"label_hyphen", "a part of the domain starts or ends with a hyphen"},
    [MV_SYN_SINGLE_LABEL_DOMAIN] = {"single_label_domain", "the domain has no dot (like .com)"},
    [MV_SYN_NUMERIC_TLD] = {"numeric_tld",
                            "the domain ends in digits; an IP address must be written [1.2.3.4]"},
    [MV_SYN_INVALID_IDN] = {"invalid_idn", "the domain is not a valid internationalized domain name"},
    [MV_SYN_INVALID_LITERAL] = {"invalid_address_literal", "the address literal is not [IPv4] or [IPv6:...]"},
    [MV_SYN_UNBALANCED_ANGLE] = {"unbalanced_angle", "angle brackets < > do not enclose the whole address"},
    [MV_SYN_NULL_PATH] = {"null_path", "<> (the null sender) is not an address here"},
    [MV_SYN_INVALID_ROUTE] = {"invalid_source_route", "the source route before the : is not valid"},
    [MV_SYN_IDN_UNAVAILABLE] =
        {"idn_unavailable", "the internationalized domain could not be checked: libidn2 cannot be loaded"},
};

/* mv_syntax_name - stable identifier, e.g. "consecutive_dots" */
const char *mv_syntax_name(mv_syntax_error e)
{
    return (unsigned)e < MV_SYN_COUNT ? syntax_info[e].name : "unknown";
}

/* mv_syntax_message - one sentence for a human */
const char *mv_syntax_message(mv_syntax_error e)
{
    return (unsigned)e < MV_SYN_COUNT ? syntax_info[e].message : "unknown error";
}

/* mv_syntax_lookup - error for an identifier, or -1 */
int mv_syntax_lookup(const char *name)
{
    for (int i = 0; i < MV_SYN_COUNT; i++)
        if (strcmp(syntax_info[i].name, name) == 0)
            return i;
    return -1;
}

/* Parser state: the input and where in it we are. */
typedef struct {
    const unsigned char *s; /* whole input as given */
    size_t end;             /* one past the last byte to parse */
    size_t pos;
    mv_address *out;
} parser;

/* fail - record the first error and its offset */
static mv_syntax_error fail(parser *p, mv_syntax_error e, size_t pos)
{
    p->out->error = e;
    p->out->error_pos = pos;
    return e;
}

/* non_ascii - check the UTF-8 sequence at i; its length, or 0 on error */
static size_t non_ascii(parser *p, size_t i, mv_syntax_error *err)
{
    size_t n = mv_utf8_seq(p->s + i, p->end - i);

    if (n == 0) {
        *err = fail(p, MV_SYN_INVALID_UTF8, i);
        return 0;
    }
    /* U+0080..U+009F are C1 controls: C2 80..C2 9F */
    if (n == 2 && p->s[i] == 0xC2 && p->s[i + 1] < 0xA0) {
        *err = fail(p, MV_SYN_CONTROL_CHAR, i);
        return 0;
    }
    return n;
}

/* special_error - the error for a byte that atext does not allow */
static mv_syntax_error special_error(unsigned char c)
{
    if (c < 0x20 || c == 0x7F)
        return MV_SYN_CONTROL_CHAR;
    if (c == '"')
        return MV_SYN_PARTIAL_QUOTE;
    return MV_SYN_UNQUOTED_SPECIAL;
}

/* put_local - append to the normalized local part; false when over 64 */
static bool put_local(mv_address *a, const void *b, size_t n)
{
    if (a->local_len + n > MV_LOCAL_MAX)
        return false;
    memcpy(a->local + a->local_len, b, n);
    a->local_len += n;
    a->local[a->local_len] = '\0';
    return true;
}

/* parse_dot_string - Dot-string up to "@"; p->pos left on the "@" */
static mv_syntax_error parse_dot_string(parser *p)
{
    size_t start = p->pos, i = p->pos;
    mv_syntax_error err = MV_SYN_OK;

    while (i < p->end && p->s[i] != '@') {
        unsigned char c = p->s[i];
        size_t n = 1;

        if (c == '.') {
            if (i == start)
                return fail(p, MV_SYN_LEADING_DOT, i);
            if (p->s[i - 1] == '.')
                return fail(p, MV_SYN_CONSECUTIVE_DOTS, i);
        } else if (c >= 0x80) {
            if ((n = non_ascii(p, i, &err)) == 0)
                return err;
            p->out->smtputf8 = true;
        } else if (!(ctab[c] & C_ATEXT)) {
            return fail(p, special_error(c), i);
        }
        i += n;
    }
    if (i == p->end)
        return fail(p, MV_SYN_NO_AT, i);
    if (i == start)
        return fail(p, MV_SYN_EMPTY_LOCAL, i);
    if (p->s[i - 1] == '.')
        return fail(p, MV_SYN_TRAILING_DOT, i - 1);
    if (!put_local(p->out, p->s + start, i - start))
        return fail(p, MV_SYN_LOCAL_TOO_LONG, start);
    p->pos = i;
    return MV_SYN_OK;
}

/* is_dot_string - could this unquoted content be sent as a Dot-string? */
static bool is_dot_string(const unsigned char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i - 1] == '.' : !(s[i] >= 0x80 || (ctab[s[i]] & C_ATEXT)))
            return false;
    }
    return true;
}

/* requote - minimal quoting of content (RFC 5321 4.1.2: SHOULD use it) */
static bool requote(mv_address *a, const unsigned char *c, size_t n)
{
    a->local_len = 0;
    if (is_dot_string(c, n))
        return put_local(a, c, n);
    a->quoted = true;
    if (!put_local(a, "\"", 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((c[i] == '"' || c[i] == '\\') && !put_local(a, "\\", 1))
            return false;
        if (!put_local(a, c + i, 1))
            return false;
    }
    return put_local(a, "\"", 1);
}

/* parse_quoted - Quoted-string; p->pos left on the "@" after it */
static mv_syntax_error parse_quoted(parser *p)
{
    unsigned char content[MV_INPUT_MAX];
    size_t n = 0, start = p->pos, i = p->pos + 1;
    mv_syntax_error err = MV_SYN_OK;

    for (;;) {
        unsigned char c;
        size_t len = 1;

        if (i >= p->end)
            return fail(p, MV_SYN_UNTERMINATED_QUOTE, start);
        c = p->s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            /* quoted-pairSMTP = %d92 %d32-126 */
            if (i + 1 >= p->end)
                return fail(p, MV_SYN_UNTERMINATED_QUOTE, start);
            c = p->s[++i];
            if (c < 32 || c > 126)
                return fail(p, MV_SYN_INVALID_QUOTED, i - 1);
        } else if (c < 32 || c == 127) {
            return fail(p, MV_SYN_CONTROL_CHAR, i);
        } else if (c >= 0x80) {
            if ((len = non_ascii(p, i, &err)) == 0)
                return err;
            p->out->smtputf8 = true;
        }
        memcpy(content + n, p->s + i, len);
        n += len;
        i += len;
    }
    i++; /* past the closing quote */
    if (i >= p->end)
        return fail(p, MV_SYN_NO_AT, i);
    if (p->s[i] != '@')
        return fail(p, MV_SYN_PARTIAL_QUOTE, i);
    if (!requote(p->out, content, n))
        return fail(p, MV_SYN_LOCAL_TOO_LONG, start);
    p->pos = i;
    return MV_SYN_OK;
}

/* parse_ipv4 - RFC 5321 IPv4-address-literal: four Snum 0..255 */
static bool parse_ipv4(const char *s, size_t n, struct in_addr *a)
{
    unsigned parts[4];
    size_t i = 0;

    for (int k = 0; k < 4; k++) {
        size_t digits = 0;
        unsigned v = 0;

        if (k > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            digits++;
        }
        if (digits == 0 || v > 255)
            return false;
        parts[k] = v;
    }
    if (i != n)
        return false;
    a->s_addr = htonl(parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]);
    return true;
}

/* scan_literal - controls, bad UTF-8 and a second "@" before the shape */
static mv_syntax_error scan_literal(parser *p)
{
    mv_syntax_error err = MV_SYN_OK;

    for (size_t i = p->pos, n = 1; i < p->end; i += n) {
        unsigned char c = p->s[i];

        n = 1;
        if (c < 0x20 || c == 0x7F)
            return fail(p, MV_SYN_CONTROL_CHAR, i);
        if (c == '@')
            return fail(p, MV_SYN_MULTIPLE_AT, i);
        if (c >= 0x80 && (n = non_ascii(p, i, &err)) == 0)
            return err;
    }
    return MV_SYN_OK;
}

/* parse_literal - "[IPv4]" or "[IPv6:...]", normalized by inet_ntop */
static mv_syntax_error parse_literal(parser *p)
{
    size_t start = p->pos, n = p->end - start;
    const char *in = (const char *)p->s + start + 1;
    char buf[64], txt[INET6_ADDRSTRLEN];
    size_t inner;
    mv_syntax_error err;
    int w;

    /* a NUL would end the text inet_pton sees: "[IPv6:::1\0junk]" */
    if ((err = scan_literal(p)) != MV_SYN_OK)
        return err;
    if (n < 3 || p->s[p->end - 1] != ']')
        return fail(p, MV_SYN_INVALID_LITERAL, start);
    inner = n - 2;
    if (inner >= sizeof(buf))
        return fail(p, MV_SYN_INVALID_LITERAL, start);
    if (inner > 5 && strncasecmp(in, "IPv6:", 5) == 0) {
        struct in6_addr a6;

        memcpy(buf, in + 5, inner - 5);
        buf[inner - 5] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return fail(p, MV_SYN_INVALID_LITERAL, start);
        inet_ntop(AF_INET6, &a6, txt, sizeof(txt));
        w = snprintf(p->out->domain, sizeof(p->out->domain), "[IPv6:%s]", txt);
    } else {
        struct in_addr a4;

        if (!parse_ipv4(in, inner, &a4))
            return fail(p, MV_SYN_INVALID_LITERAL, start);
        inet_ntop(AF_INET, &a4, txt, sizeof(txt));
        w = snprintf(p->out->domain, sizeof(p->out->domain), "[%s]", txt);
    }
    p->out->domain_len = (size_t)w;
    p->out->literal = true;
    return MV_SYN_OK;
}

/* check_labels - LDH label rules on a lowercase ASCII domain */
static mv_syntax_error check_labels(parser *p, const char *d, size_t n, size_t base, bool exact_pos)
{
    size_t label = 0, last = 0;
    bool numeric = true;

#define AT(i) (exact_pos ? base + (i) : base)
    if (d[0] == '.')
        return fail(p, MV_SYN_DOMAIN_LEADING_DOT, AT(0));
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.') {
            numeric = numeric && (ctab[(unsigned char)d[i]] & C_DIGIT);
            continue;
        }
        if (i == label && i == n)
            return fail(p, MV_SYN_DOMAIN_TRAILING_DOT, AT(i - 1));
        if (i == label)
            return fail(p, MV_SYN_DOMAIN_CONSECUTIVE_DOTS, AT(i));
        if (i - label > 63)
            return fail(p, MV_SYN_LABEL_TOO_LONG, AT(label));
        if (d[label] == '-')
            return fail(p, MV_SYN_LABEL_HYPHEN, AT(label));
        if (d[i - 1] == '-')
            return fail(p, MV_SYN_LABEL_HYPHEN, AT(i - 1));
        last = label;
        if (i < n)
            numeric = true;
        label = i + 1;
    }
    if (n > MV_DOMAIN_MAX)
        return fail(p, MV_SYN_DOMAIN_TOO_LONG, base);
    if (last == 0)
        return fail(p, MV_SYN_SINGLE_LABEL_DOMAIN, AT(n));
    if (numeric)
        return fail(p, MV_SYN_NUMERIC_TLD, AT(last));
#undef AT
    return MV_SYN_OK;
}

/* has_alabel - does a lowercase domain have a label starting "xn--"? */
static bool has_alabel(const char *d, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if ((i == 0 || d[i - 1] == '.') && memcmp(d + i, "xn--", 4) == 0)
            return true;
    return false;
}

/* idn_error - our identifier for a libidn2 error code */
static mv_syntax_error idn_error(int rc)
{
    switch (rc) {
    case IDN2_TOO_BIG_DOMAIN: return MV_SYN_DOMAIN_TOO_LONG;
    case IDN2_TOO_BIG_LABEL:
    case IDN2_PUNYCODE_BIG_OUTPUT: /* an A-label over 63 octets */ return MV_SYN_LABEL_TOO_LONG;
    case IDN2_HYPHEN_STARTEND: return MV_SYN_LABEL_HYPHEN;
    default: return MV_SYN_INVALID_IDN;
    }
}

/* std3_ok - only LDH and dots after mapping (UTS#46 UseSTD3ASCIIRules) */
static bool std3_ok(const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(ctab[(unsigned char)d[i]] & C_LDH) && d[i] != '.')
            return false;
    return true;
}

/* to_alabels - run the domain through libidn2 (UTS#46 non-transitional) */
static mv_syntax_error to_alabels(parser *p, char *buf, size_t *n, size_t base)
{
    const mv_idn_api *idn = mv_idn(NULL);
    char *out = NULL;
    int rc;
    size_t len;

    if (idn == NULL)
        return fail(p, MV_SYN_IDN_UNAVAILABLE, base);
    rc = idn->lookup_u8((const uint8_t *)buf, (uint8_t **)&out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK)
        return fail(p, idn_error(rc), base);
    len = strlen(out);
    /* "\uFF20" maps to "@", "\u00A0" to " ": refuse them, do not strip */
    if (!std3_ok(out, len) || len == 0) {
        idn->free(out);
        return fail(p, len == 0 ? MV_SYN_EMPTY_DOMAIN : MV_SYN_INVALID_IDN, base);
    }
    if (len > MV_DOMAIN_MAX) {
        idn->free(out);
        return fail(p, MV_SYN_DOMAIN_TOO_LONG, base);
    }
    memcpy(buf, out, len + 1);
    idn->free(out);
    *n = len;
    p->out->idn = has_alabel(buf, len);
    return MV_SYN_OK;
}

/* parse_domain - Domain after "@": lowercase, A-labels, label rules */
static mv_syntax_error parse_domain(parser *p)
{
    char buf[MV_INPUT_MAX + 1];
    size_t base = p->pos, n = 0;
    bool ascii = true;
    mv_syntax_error err = MV_SYN_OK;

    if (p->pos == p->end)
        return fail(p, MV_SYN_EMPTY_DOMAIN, p->pos);
    if (p->s[p->pos] == '[')
        return parse_literal(p);
    for (size_t i = p->pos; i < p->end; i++) {
        unsigned char c = p->s[i];
        size_t len;

        if (c >= 0x80) {
            if ((len = non_ascii(p, i, &err)) == 0)
                return err;
            memcpy(buf + n, p->s + i, len);
            n += len;
            i += len - 1;
            ascii = false;
            continue;
        }
        if (c == '@')
            return fail(p, MV_SYN_MULTIPLE_AT, i);
        if (c < 0x20 || c == 0x7F)
            return fail(p, MV_SYN_CONTROL_CHAR, i);
        if (!(ctab[c] & C_LDH) && c != '.')
            return fail(p, MV_SYN_DOMAIN_INVALID_CHAR, i);
        buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[n] = '\0';
    if (n > MV_DOMAIN_MAX && ascii)
        return fail(p, MV_SYN_DOMAIN_TOO_LONG, base);
    if (ascii) {
        /* kept on error too: a dotless "gmail" can still get a suggestion */
        memcpy(p->out->domain, buf, n + 1);
        p->out->domain_len = n;
    }
    if (ascii && (err = check_labels(p, buf, n, base, true)) != MV_SYN_OK)
        return err;
    if ((!ascii || has_alabel(buf, n)) && ((err = to_alabels(p, buf, &n, base)) != MV_SYN_OK ||
                                           (err = check_labels(p, buf, n, base, false)) != MV_SYN_OK))
        return err;
    memcpy(p->out->domain, buf, n + 1);
    p->out->domain_len = n;
    return MV_SYN_OK;
}

/* route_label - one label of a route domain: Let-dig [Ldh-str] or UTF-8 */
static bool route_label(const unsigned char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0, len = 1; i < n; i += len) {
        len = s[i] < 0x80 ? 1 : mv_utf8_seq(s + i, n - i);
        if (len == 0 || (len == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0) || (len == 1 && !(ctab[s[i]] & C_LDH)))
            return false;
    }
    return true;
}

/* route_domain - one "@domain" of a source route (RFC 5321 At-domain) */
static bool route_domain(const unsigned char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > MV_DOMAIN_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (!route_label(s + label, i - label))
            return false;
        label = i + 1;
    }
    return true;
}

/* skip_route - "@a,@b:" before the mailbox (RFC 5321: accept, ignore) */
static mv_syntax_error skip_route(parser *p)
{
    size_t i = p->pos;

    while (i < p->end && p->s[i] == '@') {
        size_t d = ++i;

        while (i < p->end && p->s[i] != ',' && p->s[i] != ':')
            i++;
        if (i == p->end || !route_domain(p->s + d, i - d))
            return fail(p, MV_SYN_INVALID_ROUTE, d - 1);
        if (p->s[i++] == ':') {
            p->pos = i;
            return MV_SYN_OK;
        }
    }
    return fail(p, MV_SYN_INVALID_ROUTE, i);
}

/* strip_path - trim white space and the "<...>" of a path */
static mv_syntax_error strip_path(parser *p, int flags)
{
    while (p->pos < p->end && (ctab[p->s[p->pos]] & C_SPACE))
        p->pos++;
    while (p->end > p->pos && (ctab[p->s[p->end - 1]] & C_SPACE))
        p->end--;
    if (p->pos == p->end)
        return fail(p, MV_SYN_EMPTY, p->pos);
    if (p->end - p->pos > MV_INPUT_MAX)
        return fail(p, MV_SYN_ADDRESS_TOO_LONG, p->pos);
    if (p->s[p->pos] != '<') {
        if (p->s[p->end - 1] == '>')
            return fail(p, MV_SYN_UNBALANCED_ANGLE, p->end - 1);
        return MV_SYN_OK;
    }
    if (p->s[p->end - 1] != '>' || p->end - p->pos < 2)
        return fail(p, MV_SYN_UNBALANCED_ANGLE, p->pos);
    p->pos++;
    p->end--;
    if (p->pos == p->end) {
        if (!(flags & MV_PARSE_ALLOW_NULL))
            return fail(p, MV_SYN_NULL_PATH, p->pos - 1);
        p->out->kind = MV_ADDR_NULL;
        return MV_SYN_OK;
    }
    /* "<<a@b>>", "<a@b>>": one pair of brackets only */
    if (p->s[p->pos] == '<')
        return fail(p, MV_SYN_UNBALANCED_ANGLE, p->pos);
    if (p->s[p->end - 1] == '>')
        return fail(p, MV_SYN_UNBALANCED_ANGLE, p->end - 1);
    /* without a ":" there is no route: "<@example.com>" lacks a local part */
    if (p->s[p->pos] == '@' && memchr(p->s + p->pos, ':', p->end - p->pos))
        return skip_route(p);
    return MV_SYN_OK;
}

/* mv_address_parse - parse input; MV_SYN_OK or the first error */
mv_syntax_error mv_address_parse(const char *input, size_t len, int flags, mv_address *out)
{
    parser p = {(const unsigned char *)input, len, 0, out};
    mv_syntax_error err;

    memset(out, 0, offsetof(mv_address, local));
    out->local[0] = out->domain[0] = '\0';
    if ((err = strip_path(&p, flags)) != MV_SYN_OK || out->kind == MV_ADDR_NULL)
        return err;
    /* after a route the mailbox may be missing altogether: "<@a.b:>" */
    if (p.pos < p.end && p.s[p.pos] == '"')
        err = parse_quoted(&p);
    else
        err = parse_dot_string(&p);
    if (err != MV_SYN_OK)
        return err;
    p.pos++; /* past the "@" */
    if ((err = parse_domain(&p)) != MV_SYN_OK)
        return err;
    if (out->local_len + 1 + out->domain_len > MV_MAILBOX_MAX)
        return fail(&p, MV_SYN_ADDRESS_TOO_LONG, 0);
    return MV_SYN_OK;
}

/* mv_address_format - "local@domain" into buf; length, or 0 if too small */
size_t mv_address_format(const mv_address *a, char *buf, size_t size)
{
    size_t n;

    if (a->kind == MV_ADDR_NULL) {
        if (size < 3)
            return 0;
        memcpy(buf, "<>", 3);
        return 2;
    }
    n = a->local_len + 1 + a->domain_len;
    if (n + 1 > size)
        return 0;
    memcpy(buf, a->local, a->local_len);
    buf[a->local_len] = '@';
    memcpy(buf + a->local_len + 1, a->domain, a->domain_len + 1);
    return n;
}
