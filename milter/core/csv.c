/* SPDX-License-Identifier: MIT */
/*
 * csv.c - a streaming reader of CSV (RFC 4180) and plain lists, and the
 * quoting of fields written back; see csv.h for the exact rules.
 *
 * The input sits in one buffer, buf[start..len) not yet consumed; a
 * record is scanned from buf[start] by a four-state machine (field
 * start, unquoted, quoted, quote seen inside quotes) that copies the
 * decoded bytes to a second buffer. When the scan reaches len, more is
 * read: the unconsumed bytes move to the front first, so the buffer
 * never holds more than one record (at most record_max bytes and its
 * line end) plus one read. Scan positions are relative to start, so a
 * move changes nothing for the scanner. A bad record is followed to the
 * line end where reading resumes; bytes of it past record_max are
 * dropped as they arrive ("dropped" counts them, to keep offsets true).
 * Failures: MV_CSV_EIO (the read function's errno kept) and
 * MV_CSV_ENOMEM are sticky; everything else about the input is a
 * MV_CSV_BAD record and reading goes on.
 */
#include "csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* byte classes; in plain mode only CR and LF are special */
enum { C_ORD, C_DELIM, C_QUOTE, C_CR, C_LF };

/* what the scanner's steps return to go on (not a mv_csv_status) */
#define GO 2

/* scanner states */
enum { S_START, S_UNQ, S_QUO, S_QQ };

struct mv_csv {
    mv_csv_opts o; /* with the defaults filled in */
    mv_csv_read_fn fn;
    void *arg;
    unsigned char cls[256]; /* byte classes for this delimiter and mode */
    char *buf;              /* input; buf[start..len) not consumed yet */
    size_t cap, cap_max, start, len;
    uint64_t base;    /* input offset of buf[0] */
    uint64_t dropped; /* bytes of a bad record dropped after buf[start + record_max] */
    uint64_t line;    /* line of buf[start] */
    char *dec;        /* the decoded fields of the current record */
    size_t deccap;
    mv_csv_field *fields;
    size_t fieldcap;
    bool eof, started, bom;
    mv_csv_status fatal; /* EIO or ENOMEM, sticky; 0 if none */
    int saved_errno;
    const char *why;
};

/* the scanner's state for one record; positions relative to c->start */
typedef struct {
    size_t i; /* bytes scanned */
    int state;
    size_t nf;       /* fields finished */
    size_t dlen;     /* decoded bytes */
    size_t fstart;   /* where the current field's decoded bytes begin */
    size_t quote;    /* the open quoted field's opening quote */
    bool quoted;     /* a quoted field seen: line ends may be inside */
    bool too_many;   /* more than fields_max fields */
    uint64_t offset; /* the record's input offset */
} scan;

/* fail - make a read error or out-of-memory sticky */
static mv_csv_status fail(mv_csv *c, mv_csv_status st)
{
    c->fatal = st;
    c->saved_errno = errno;
    c->why = st == MV_CSV_EIO ? "read error" : "out of memory";
    return st;
}

/* grow_to - make *p hold at least want elements of size el, doubling,
 * but no more than max (the callers check what they got) */
static bool grow_to(void **p, size_t *cap, size_t want, size_t max, size_t el)
{
    size_t n = *cap ? *cap : 64;
    void *q;

    if (want <= *cap)
        return true;
    while (n < want && n < max)
        n = n > max / 2 ? max : n * 2;
    if (n > max)
        n = max;
    if ((q = realloc(*p, n * el)) == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* room - move the unconsumed bytes to the front when little room is
 * left at the end, and grow the buffer as far as its bound allows */
static bool room(mv_csv *c)
{
    size_t keep = c->len - c->start;

    if (c->cap - c->len >= MV_CSV_CHUNK)
        return true;
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, keep);
        c->base += c->start;
        c->start = 0;
        c->len = keep;
    }
    if (c->cap - c->len >= MV_CSV_CHUNK || c->cap == c->cap_max)
        return true;
    /* double at each read until a chunk fits: a short list (or each of
     * a caller's many small readers) never takes the full chunk */
    return grow_to((void **)&c->buf, &c->cap, c->cap ? c->cap * 2 : 4096, c->cap_max, 1);
}

/* more - read more input after buf[len]: 1 if some came, 0 at the end,
 * or a fatal status. The decode buffer grows along: decoded bytes never
 * outnumber the raw ones, nor record_max. */
static int more(mv_csv *c)
{
    ssize_t r;
    size_t avail;

    if (c->eof)
        return 0;
    /* callers hold at most record_max + 1 bytes unconsumed here, so
     * there is room; were there none, a read of 0 would look like the end */
    if (!room(c) || c->cap == c->len)
        return fail(c, MV_CSV_ENOMEM);
    do
        r = c->fn(c->arg, c->buf + c->len, c->cap - c->len);
    while (r < 0 && errno == EINTR);
    if (r < 0 || (size_t)r > c->cap - c->len) {
        if (r >= 0)
            errno = EINVAL; /* a read function reporting more than asked */
        return fail(c, MV_CSV_EIO);
    }
    if (r == 0) {
        c->eof = true;
        return 0;
    }
    c->len += (size_t)r;
    avail = c->len - c->start;
    if (avail > c->o.record_max)
        avail = c->o.record_max;
    if (!grow_to((void **)&c->dec, &c->deccap, avail, c->o.record_max, 1))
        return fail(c, MV_CSV_ENOMEM);
    return 1;
}

/* find_eol - the first CR or LF in p[0..n), or NULL */
static const char *find_eol(const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);

    return cr ? cr : lf;
}

/* count_lines - line ends in p[0..n): CR, LF, CRLF one each */
static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    const char *e;

    while (n > 0 && (e = find_eol(p, n)) != NULL) {
        lines++;
        if (*e == '\r' && (size_t)(e - p) + 1 < n && e[1] == '\n')
            e++;
        n -= (size_t)(e - p) + 1;
        p = e + 1;
    }
    return lines;
}

/* line_end - the length of the line end at relative position k (1, or 2
 * for CRLF; reads on to see what follows a CR), or a fatal status */
static int line_end(mv_csv *c, size_t k)
{
    int r;

    if (c->buf[c->start + k] == '\n')
        return 1;
    if (k + 1 == c->len - c->start && (r = more(c)) <= 0)
        return r < 0 ? r : 1;
    return c->buf[c->start + k + 1] == '\n' ? 2 : 1;
}

/* resync - find the first line end at or after relative position from,
 * reading on and dropping the bytes past record_max; its position
 * (relative, in the buffer) in *k and its length (0 at the end of
 * input) in *eol; 0 or a fatal status */
static int resync(mv_csv *c, size_t from, size_t *k, int *eol)
{
    size_t rmax = c->o.record_max;

    for (;;) {
        const char *p = c->buf + c->start;
        size_t n = c->len - c->start;
        const char *e = from < n ? find_eol(p + from, n - from) : NULL;
        int r;

        if (e != NULL) {
            *k = (size_t)(e - p);
            if (*k > rmax) {
                /* drop what lies before the line end past record_max
                 * now, or a CR last in a full buffer leaves no room to
                 * read what follows it */
                memmove(c->buf + c->start + rmax, e, n - *k);
                c->dropped += *k - rmax;
                c->len -= *k - rmax;
                *k = rmax;
            }
            *eol = line_end(c, *k);
            return *eol < 0 ? *eol : 0;
        }
        if (n > rmax) {
            c->dropped += n - rmax;
            c->len = c->start + rmax;
            n = rmax;
        }
        from = n;
        if ((r = more(c)) < 0)
            return r;
        if (r == 0) {
            *k = n;
            *eol = 0;
            return 0;
        }
    }
}

/* bad - report the record being scanned as malformed: it runs to the
 * first line end at or after from, where reading resumes */
static mv_csv_status bad(mv_csv *c, scan *s, mv_csv_record *rec, size_t from, const char *why)
{
    size_t k, rawlen;
    uint64_t whole;
    int eol, r;

    if ((r = resync(c, from, &k, &eol)) < 0)
        return (mv_csv_status)r;
    whole = k + c->dropped;
    rawlen = whole < c->o.record_max ? (size_t)whole : c->o.record_max;
    rec->raw = c->buf + c->start;
    rec->rawlen = rawlen;
    rec->line = c->line;
    rec->offset = s->offset;
    rec->end = s->offset + whole + (uint64_t)eol;
    c->line += count_lines(rec->raw, rawlen) + (eol > 0);
    c->start += k + (size_t)eol;
    c->base += c->dropped;
    c->dropped = 0;
    c->why = why;
    return MV_CSV_BAD;
}

/* end_field - close the current field: GO or MV_CSV_ENOMEM; one over
 * fields_max is not kept, only noted */
static int end_field(mv_csv *c, scan *s)
{
    if (s->nf == c->o.fields_max) {
        s->too_many = true;
        s->fstart = s->dlen;
        return GO;
    }
    if (!grow_to((void **)&c->fields, &c->fieldcap, s->nf + 1, c->o.fields_max, sizeof(*c->fields)))
        return fail(c, MV_CSV_ENOMEM);
    c->fields[s->nf].ptr = NULL; /* set by finish: dec may still move */
    c->fields[s->nf++].len = s->dlen - s->fstart;
    s->fstart = s->dlen;
    return GO;
}

/* finish - hand out the record scanned, eol bytes of line end after it */
static mv_csv_status finish(mv_csv *c, scan *s, mv_csv_record *rec, int eol)
{
    size_t off = 0;

    for (size_t f = 0; f < s->nf; f++) {
        c->fields[f].ptr = c->dec + off;
        off += c->fields[f].len;
    }
    rec->fields = c->fields;
    rec->nfields = s->nf;
    rec->raw = c->buf + c->start;
    rec->rawlen = s->i;
    rec->line = c->line;
    rec->offset = s->offset;
    rec->end = s->offset + s->i + (uint64_t)eol;
    c->line += (s->quoted ? count_lines(rec->raw, s->i) : 0) + (eol > 0);
    c->start += s->i + (size_t)eol;
    return MV_CSV_ROW;
}

/* close_record - the last field ends at a line end (or the input's end);
 * a record with too many fields is only known bad here, after its
 * quoted fields, so that a line end inside them does not resynchronise */
static mv_csv_status close_record(mv_csv *c, scan *s, mv_csv_record *rec, bool at_eof)
{
    int eol = 0, r;

    if (!at_eof && (eol = line_end(c, s->i)) < 0)
        return (mv_csv_status)eol;
    if ((r = end_field(c, s)) != GO)
        return (mv_csv_status)r;
    if (s->too_many)
        return bad(c, s, rec, s->i, "too many fields");
    return finish(c, s, rec, eol);
}

/* delimiter - a delimiter ends a field; GO or a status */
static int delimiter(mv_csv *c, scan *s)
{
    int r = end_field(c, s);

    if (r != GO)
        return r;
    s->i++;
    s->state = S_START;
    return GO;
}

/* run - copy the ordinary bytes of an unquoted field, or the bytes of a
 * quoted one up to and past its next quote, no further than limit; true
 * when an unquoted field stopped at a special byte */
static bool run(mv_csv *c, scan *s, size_t limit)
{
    const char *p = c->buf + c->start;
    size_t j = s->i;

    if (s->state == S_UNQ) {
        const unsigned char *u = (const unsigned char *)p, *cls = c->cls;

        /* four at a time (C_ORD is 0): most of the reader's time is here */
        while (j + 4 <= limit && (cls[u[j]] | cls[u[j + 1]] | cls[u[j + 2]] | cls[u[j + 3]]) == C_ORD)
            j += 4;
        while (j < limit && cls[u[j]] == C_ORD)
            j++;
    } else {
        const char *q = memchr(p + j, '"', limit - j);

        j = q ? (size_t)(q - p) : limit;
    }
    memcpy(c->dec + s->dlen, p + s->i, j - s->i);
    s->dlen += j - s->i;
    s->i = j;
    if (s->state == S_QUO && j < limit) {
        s->i++; /* the quote: closing, or the first of a pair */
        s->state = S_QQ;
        return false;
    }
    return s->state == S_UNQ && j < limit;
}

/* at_end - the input ended while scanning a record */
static mv_csv_status at_end(mv_csv *c, scan *s, mv_csv_record *rec)
{
    if (s->i == 0)
        return MV_CSV_END;
    if (s->state == S_QUO) {
        size_t at = s->i;
        mv_csv_status st = bad(c, s, rec, s->quote + 1, "");

        if (st == MV_CSV_BAD)
            c->why = rec->rawlen < at ? "unterminated quoted field: the lines after its "
                                        "opening quote are read again"
                                      : "unterminated quoted field at end of input";
        return st;
    }
    return close_record(c, s, rec, true);
}

/* too_long - the record reached record_max without a line end; a
 * quoted field is still open there, or a doubled quote goes on with it */
static mv_csv_status too_long(mv_csv *c, scan *s, mv_csv_record *rec, int k)
{
    mv_csv_status st;

    if (s->state != S_QUO && !(s->state == S_QQ && k == C_QUOTE))
        return bad(c, s, rec, s->i, "record too long");
    st = bad(c, s, rec, s->quote + 1, "");
    if (st == MV_CSV_BAD)
        c->why = rec->rawlen < s->i ? "record too long in a quoted field: "
                                      "the lines after its opening quote are read again"
                                    : "record too long";
    return st;
}

/* step - one byte of class k that ends a run: a delimiter, a quote, a
 * line end; GO to go on, or a status for the caller */
static int step(mv_csv *c, scan *s, mv_csv_record *rec, int k)
{
    if (k == C_CR || k == C_LF)
        return close_record(c, s, rec, false);
    if (k == C_DELIM)
        return delimiter(c, s);
    if (s->state == S_START && k == C_QUOTE) {
        s->quote = s->i++;
        s->quoted = true;
        s->state = S_QUO;
    } else if (s->state == S_START) {
        s->state = S_UNQ;
    } else if (s->state == S_UNQ) {
        return bad(c, s, rec, s->i, "quote inside an unquoted field");
    } else if (k == C_QUOTE) { /* S_QQ: a doubled quote */
        c->dec[s->dlen++] = '"';
        s->i++;
        s->state = S_QUO;
    } else {
        return bad(c, s, rec, s->i, "text after a closing quote");
    }
    return GO;
}

/* next_csv - scan one RFC 4180 record */
static mv_csv_status next_csv(mv_csv *c, mv_csv_record *rec)
{
    size_t rmax = c->o.record_max;
    scan s = {0, S_START, 0, 0, 0, 0, false, false, c->base + c->start};

    for (;;) {
        size_t n = c->len - c->start, lim = n < rmax ? n : rmax;
        int r, k;

        if (s.i == n) {
            if ((r = more(c)) < 0)
                return (mv_csv_status)r;
            if (r == 0)
                return at_end(c, &s, rec);
            continue;
        }
        /* a run of data bytes; go round again unless it stopped at a
         * special byte of an unquoted field */
        if ((s.state == S_UNQ || s.state == S_QUO) && s.i < lim && !run(c, &s, lim))
            continue;
        k = c->cls[(unsigned char)c->buf[c->start + s.i]];
        if (s.i >= rmax && (s.state == S_QUO || (k != C_CR && k != C_LF)))
            return too_long(c, &s, rec, k);
        if ((r = step(c, &s, rec, k)) != GO)
            return (mv_csv_status)r;
    }
}

/* next_plain - one line, one field */
static mv_csv_status next_plain(mv_csv *c, mv_csv_record *rec)
{
    size_t rmax = c->o.record_max;
    scan s = {0, S_UNQ, 0, 0, 0, 0, false, false, c->base + c->start};

    for (;;) {
        const char *p = c->buf + c->start;
        size_t n = c->len - c->start, lim = n < rmax + 1 ? n : rmax + 1;
        const char *e = s.i < lim ? find_eol(p + s.i, lim - s.i) : NULL;
        int r, eol = 0;

        if (e != NULL || (n > rmax && e == NULL)) {
            if (e == NULL)
                return bad(c, &s, rec, rmax, "record too long");
            s.i = (size_t)(e - p);
            if ((eol = line_end(c, s.i)) < 0)
                return (mv_csv_status)eol;
        } else {
            s.i = n;
            if ((r = more(c)) < 0)
                return (mv_csv_status)r;
            if (r > 0)
                continue;
            if (n == 0)
                return MV_CSV_END;
        }
        if (!grow_to((void **)&c->fields, &c->fieldcap, 1, 1, sizeof(*c->fields)))
            return fail(c, MV_CSV_ENOMEM);
        c->fields[0].ptr = c->buf + c->start;
        c->fields[0].len = s.i;
        s.nf = 1;
        rec->fields = c->fields;
        rec->nfields = 1;
        rec->raw = c->buf + c->start;
        rec->rawlen = s.i;
        rec->line = c->line;
        rec->offset = s.offset;
        rec->end = s.offset + s.i + (uint64_t)eol;
        c->line += (eol > 0); /* a plain line holds no line end */
        c->start += s.i + (size_t)eol;
        return MV_CSV_ROW;
    }
}

/* skip_bom - at offset 0, a UTF-8 byte order mark is not data */
static int skip_bom(mv_csv *c)
{
    int r = 1;

    c->started = true;
    if (c->base + c->start != 0)
        return 0;
    while (c->len - c->start < 3 && (r = more(c)) > 0)
        ;
    if (r < 0)
        return r;
    if (c->len - c->start >= 3 && memcmp(c->buf + c->start, "\xEF\xBB\xBF", 3) == 0) {
        c->start += 3;
        c->bom = true;
    }
    return 0;
}

/* mv_csv_new - a reader over fn(arg); limits so large that sizes would
 * overflow are EINVAL */
mv_csv *mv_csv_new(const mv_csv_opts *opts, mv_csv_read_fn fn, void *arg)
{
    mv_csv *c;

    if (opts != NULL &&
        (opts->delimiter == '"' || opts->delimiter == '\r' || opts->delimiter == '\n' ||
         opts->record_max > SIZE_MAX / 4 || opts->fields_max > SIZE_MAX / 4 / sizeof(mv_csv_field))) {
        errno = EINVAL;
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return NULL;
    if (opts != NULL)
        c->o = *opts;
    if (c->o.delimiter == 0)
        c->o.delimiter = ',';
    if (c->o.record_max == 0)
        c->o.record_max = MV_CSV_RECORD_MAX;
    if (c->o.fields_max == 0)
        c->o.fields_max = MV_CSV_FIELDS_MAX;
    c->fn = fn;
    c->arg = arg;
    c->base = c->o.offset;
    c->line = c->o.line ? c->o.line : 1;
    c->cap_max = c->o.record_max + 2 + MV_CSV_CHUNK;
    /* buffers from the start: no pointer arithmetic on NULL anywhere */
    if (!grow_to((void **)&c->buf, &c->cap, 4096, c->cap_max, 1) ||
        !grow_to((void **)&c->dec, &c->deccap, 64, c->o.record_max, 1)) {
        mv_csv_free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->cls['\r'] = C_CR;
    c->cls['\n'] = C_LF;
    if (c->o.kind == MV_CSV_RFC4180) {
        c->cls['"'] = C_QUOTE;
        c->cls[(unsigned char)c->o.delimiter] = C_DELIM;
    }
    return c;
}

/* mv_csv_next - the next record */
mv_csv_status mv_csv_next(mv_csv *c, mv_csv_record *rec)
{
    int r;

    memset(rec, 0, sizeof(*rec));
    if (c->fatal != 0) {
        errno = c->saved_errno;
        return c->fatal;
    }
    if (!c->started && (r = skip_bom(c)) < 0)
        return (mv_csv_status)r;
    return c->o.kind == MV_CSV_PLAIN ? next_plain(c, rec) : next_csv(c, rec);
}

/* mv_csv_error - why the last MV_CSV_BAD happened */
const char *mv_csv_error(const mv_csv *c)
{
    return c->why ? c->why : "no error";
}

/* mv_csv_had_bom - whether the input began with a UTF-8 BOM */
bool mv_csv_had_bom(const mv_csv *c)
{
    return c->bom;
}

/* mv_csv_tell - where the next record begins */
void mv_csv_tell(const mv_csv *c, uint64_t *offset, uint64_t *line)
{
    *offset = c->base + c->start;
    *line = c->line;
}

/* mv_csv_buffer_size - the input buffer's size */
size_t mv_csv_buffer_size(const mv_csv *c)
{
    return c->cap;
}

/* mv_csv_free - NULL is fine */
void mv_csv_free(mv_csv *c)
{
    if (c == NULL)
        return;
    free(c->buf);
    free(c->dec);
    free(c->fields);
    free(c);
}

/* needs_quotes - the delimiter, a quote, CR or LF, space at either end, a BOM first */
static bool needs_quotes(const char *s, size_t len, char delimiter)
{
    if (len == 0)
        return false;
    if (s[0] == ' ' || s[len - 1] == ' ' || (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0))
        return true;
    for (size_t i = 0; i < len; i++)
        if (s[i] == delimiter || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

/* mv_csv_quote - s as one CSV field */
size_t mv_csv_quote(char *out, size_t size, const char *s, size_t len, char delimiter)
{
    bool q = needs_quotes(s, len, delimiter ? delimiter : ',');
    size_t n = 0;

#define PUT(ch) \
    do { \
        if (n + 1 < size) \
            out[n] = (ch); \
        n++; \
    } while (0)
    if (q)
        PUT('"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && q)
            PUT('"');
        PUT(s[i]);
    }
    if (q)
        PUT('"');
#undef PUT
    if (size > 0)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

/* trimmed - s[0..n) without spaces and tabs at either end */
static const char *trimmed(const char *s, size_t *n)
{
    while (*n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

/* mv_csv_find_column - the index of a header field equal to name */
long mv_csv_find_column(const mv_csv_record *header, const char *name)
{
    size_t nlen = strlen(name);
    const char *nm = trimmed(name, &nlen);

    if (header == NULL)
        return -1;
    for (size_t f = 0; f < header->nfields; f++) {
        size_t flen = header->fields[f].len;
        const char *fp = trimmed(header->fields[f].ptr, &flen);

        if (flen == nlen && strncasecmp(fp, nm, nlen) == 0 && memchr(fp, '\0', flen) == NULL)
            return (long)f;
    }
    return -1;
}
