/* SPDX-License-Identifier: MIT */
/*
 * csv.h - a streaming reader of CSV (RFC 4180) and plain lists, and the
 * quoting of fields written back, for `mailverify bulk`.
 *
 * Lists to clean come from spreadsheets, CRMs and shell pipelines: quoted
 * fields with embedded commas, quotes and newlines, a UTF-8 byte order
 * mark, CRLF or LF line ends, a missing final newline, stray bytes in
 * other encodings. The reader hands out one record at a time from a
 * bounded buffer (a 2 GB file is never held in memory): its fields,
 * decoded, and its raw bytes exactly as they were in the input (without
 * the line end), so that the other columns can be written back untouched.
 * A malformed record (a quote in an unquoted field, text after a closing
 * quote, an unterminated quoted field at end of input, a record over the
 * size limit) is reported with the line it started on and a message;
 * the reader then resynchronises at the next line end and goes on.
 *
 * In plain mode (MV_CSV_PLAIN) each line is one record with one field,
 * the whole line (CR before LF removed); quotes mean nothing.
 *
 * The exact rules (both modes unless said):
 * - A line ends at LF, CRLF or a lone CR (old Mac exports, e.g. Excel's
 *   "CSV (Macintosh)"); each counts as one line, inside quotes too.
 * - A UTF-8 BOM (EF BB BF) as the first three bytes of the input is
 *   skipped; offsets count it, so the first record's offset is 3.
 * - The last record needs no line end. "a\n" is one record; "\n" and
 *   every empty line is a record with one empty field.
 * - Strict about quotes (RFC 4180): a quote inside an unquoted field,
 *   anything but a delimiter, a quote or a line end after a closing
 *   quote, are MV_CSV_BAD; the rest of that physical line (from the bad
 *   byte on, quotes meaning nothing) belongs to the bad record, and
 *   reading goes on after its line end. (Lenient readers keep `a"b` as
 *   is; for a list to verify, a report beats a silent guess.)
 * - A record longer than record_max bytes (without its line end) is
 *   MV_CSV_BAD the same way, from the byte over the limit; its raw is
 *   then only its first record_max bytes (rawlen < end - offset shows
 *   the cut). A record with more than fields_max fields is MV_CSV_BAD
 *   as a whole (known at its end, so quoted line ends still count).
 * - A quoted field still open at the end of input or at record_max is
 *   MV_CSV_BAD up to the first line end after its opening quote, and
 *   reading goes on from there: the lines a stray quote swallowed are
 *   read again as records instead of being lost (the message says so).
 *   XXX a genuine quoted field over record_max with line ends in it
 *   comes back as its lines, one record each.
 * - NUL bytes and invalid UTF-8 are passed through in fields and raw.
 * - Memory: one input buffer of at most record_max + 2 + MV_CSV_CHUNK
 *   bytes, decoded fields of at most record_max bytes and at most
 *   fields_max field descriptors, whatever the input's size.
 */
#ifndef MV_CSV_H
#define MV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MV_CSV_RECORD_MAX (1u << 20) /* default: bytes in one record */
#define MV_CSV_FIELDS_MAX 1024       /* default: fields in one record */
#define MV_CSV_CHUNK \
    (64u << 10) /* room kept for a read past the record under way
                                         * (the buffer starts at 4 KB, doubles to its bound) */

typedef enum { MV_CSV_RFC4180, MV_CSV_PLAIN } mv_csv_kind;

typedef struct {
    mv_csv_kind kind;
    char delimiter;    /* ',' by default (0 means ','); ';' and '\t' seen in the wild */
    size_t record_max; /* 0: MV_CSV_RECORD_MAX */
    size_t fields_max; /* 0: MV_CSV_FIELDS_MAX */
    uint64_t offset;   /* resuming: the input offset of fn's first byte (a
                                 * record's end); a BOM is looked for only at 0 */
    uint64_t line;     /* resuming: the line of fn's first byte (0: 1) */
} mv_csv_opts;

/* Reads up to n bytes into buf: bytes read, 0 at end, -1 on error (errno). */
typedef ssize_t (*mv_csv_read_fn)(void *arg, char *buf, size_t n);

typedef struct {
    const char *ptr; /* decoded field; not NUL-terminated */
    size_t len;
} mv_csv_field;

typedef struct {
    const mv_csv_field *fields;
    size_t nfields;
    const char *raw; /* the record's bytes as read, without its line end */
    size_t rawlen;
    uint64_t line;   /* 1-based line on which the record starts */
    uint64_t offset; /* byte offset of the record in the input (BOM included) */
    uint64_t end;    /* byte offset just past the record's line end */
} mv_csv_record;

typedef enum {
    MV_CSV_ROW = 1,     /* *rec holds a record */
    MV_CSV_END = 0,     /* end of input */
    MV_CSV_BAD = -1,    /* a malformed record: mv_csv_error() says why; *rec
                                 * holds its raw bytes (at most record_max), line,
                                 * offset and end, no fields; reading may go on */
    MV_CSV_EIO = -2,    /* the read function failed (errno); sticky */
    MV_CSV_ENOMEM = -3, /* sticky */
} mv_csv_status;

typedef struct mv_csv mv_csv;

/* mv_csv_new - a reader over fn(arg); opts NULL for the defaults; NULL
 * with errno ENOMEM, or EINVAL for a delimiter that is a quote, CR or LF
 * (or limits over SIZE_MAX / 4) */
mv_csv *mv_csv_new(const mv_csv_opts *opts, mv_csv_read_fn fn, void *arg);

/* mv_csv_next - the next record; valid until the next call. A leading
 * UTF-8 BOM is skipped (and counted in offsets). Empty lines are records
 * with one empty field. */
mv_csv_status mv_csv_next(mv_csv *c, mv_csv_record *rec);

/* mv_csv_error - why the last MV_CSV_BAD happened (static text); after
 * MV_CSV_EIO or MV_CSV_ENOMEM, which are sticky, says which */
const char *mv_csv_error(const mv_csv *c);

/* mv_csv_had_bom - whether the input began with a UTF-8 BOM */
bool mv_csv_had_bom(const mv_csv *c);

/* mv_csv_tell - where the next record begins: its byte offset and line
 * (what mv_csv_opts.offset and .line take to resume there) */
void mv_csv_tell(const mv_csv *c, uint64_t *offset, uint64_t *line);

/* mv_csv_buffer_size - the input buffer's current size in bytes, for
 * tests of the memory bound */
size_t mv_csv_buffer_size(const mv_csv *c);

/* mv_csv_free - NULL is fine */
void mv_csv_free(mv_csv *c);

/* mv_csv_quote - write s as one CSV field into out (at most size bytes
 * with a NUL): quoted when it holds the delimiter, a quote, CR, LF, or
 * leading/trailing space; quotes doubled. A field beginning with = + - @
 * or a tab/CR (spreadsheet formula injection) is written as is: the
 * caller decides whether to defuse it. A field beginning with a UTF-8
 * BOM is quoted too (first in a file, the reader would skip it). The
 * length needed (without the NUL), whether or not it fit; like
 * snprintf, a cut output is still NUL-terminated when size > 0. */
size_t mv_csv_quote(char *out, size_t size, const char *s, size_t len, char delimiter);

/* mv_csv_find_column - the index of a header field equal to name (ASCII
 * case-insensitive, surrounding spaces ignored), or -1 */
long mv_csv_find_column(const mv_csv_record *header, const char *name);

#endif
