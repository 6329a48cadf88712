/* SPDX-License-Identifier: MIT */
/*
 * fuzz_csv.c - libFuzzer target for the streaming CSV and plain reader.
 *
 * `mailverify bulk` reads whatever file a user hands it. The first byte
 * picks the delimiter and small record and field limits (so that the
 * limits are hit often), the second seeds the sizes of the chunks the
 * read function returns; the rest is the input, read in both modes,
 * whole and in those chunks. Besides the sanitizers' checks, what the
 * bulk command relies on aborts the run when broken: the same records
 * whatever the chunks; each record's raw is the input's bytes at its
 * offset, followed by its line end (or cut at record_max for a bad one);
 * each record begins where the last ended, the first at 0 or after a
 * BOM, and the last ends at the input's end (every byte is accounted
 * for); a record's line is one more than the line ends before it;
 * fields are no longer than raw and no more than fields_max; a reader
 * resumed at a record's end sees the same rest; and each field, quoted
 * by mv_csv_quote and read back, is the same bytes.
 */
#include "csv.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    const uint8_t *sizes; /* chunk sizes, cycled; NULL: all at once */
    size_t nsizes, k;
} src;

/* rd - the mv_csv_read_fn over the input */
static ssize_t rd(void *arg, char *buf, size_t n)
{
    src *s = arg;
    size_t k = s->n - s->pos;

    if (k > n)
        k = n;
    if (s->sizes != NULL && k > 0) {
        size_t want = 1 + s->sizes[s->k++ % s->nsizes] % 13;

        if (k > want)
            k = want;
    }
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* a growing log of what a reader returned, to compare two reads */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        CHECK((o->p = realloc(o->p, o->cap)) != NULL);
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
}

/* lines_in - line ends in p[0..n): CR, LF, CRLF one each */
static uint64_t lines_in(const uint8_t *p, size_t n)
{
    uint64_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' || (p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n')))
            k++;
    return k;
}

/* round_trip - a field quoted and read back is the same bytes */
static void round_trip(const mv_csv_field *f, char delim)
{
    size_t need = mv_csv_quote(NULL, 0, f->ptr, f->len, delim);
    char *q = malloc(need + 2);
    mv_csv_opts o = {MV_CSV_RFC4180, delim, need + 1, 0, 0, 0};
    src s = {NULL, 0, 0, NULL, 0, 0};
    mv_csv_record rec;
    mv_csv *c;

    CHECK(q != NULL);
    CHECK(mv_csv_quote(q, need + 1, f->ptr, f->len, delim) == need);
    q[need] = '\n';
    s.p = (const uint8_t *)q;
    s.n = need + 1;
    CHECK((c = mv_csv_new(&o, rd, &s)) != NULL);
    CHECK(mv_csv_next(c, &rec) == MV_CSV_ROW);
    CHECK(rec.nfields == 1 && rec.fields[0].len == f->len);
    CHECK(memcmp(rec.fields[0].ptr, f->ptr, f->len) == 0);
    CHECK(mv_csv_next(c, &rec) == MV_CSV_END);
    mv_csv_free(c);
    free(q);
}

/* check - one record against the input */
static void check(const mv_csv_opts *o, const src *s, uint64_t base, mv_csv_status st, const mv_csv_record *r)
{
    const uint8_t *at = s->p + (r->offset - base);
    size_t eol = (size_t)(r->end - r->offset) - r->rawlen, total = 0;

    CHECK(r->offset >= base && r->end > r->offset && r->end <= base + s->n);
    CHECK(r->end - r->offset >= r->rawlen);
    CHECK(memcmp(r->raw, at, r->rawlen) == 0);
    if (st == MV_CSV_ROW || r->rawlen < o->record_max) {
        CHECK(eol <= 2);
        CHECK(eol != 0 || r->end == base + s->n);
        CHECK(eol != 1 || at[r->rawlen] == '\n' || at[r->rawlen] == '\r');
        CHECK(eol != 2 || (at[r->rawlen] == '\r' && at[r->rawlen + 1] == '\n'));
        CHECK(eol != 1 || at[r->rawlen] == '\n' || r->end == base + s->n || at[r->rawlen + 1] != '\n');
    } else {
        CHECK(r->rawlen == o->record_max);
    }
    CHECK(r->rawlen <= o->record_max);
    CHECK(st == MV_CSV_BAD ? r->nfields == 0 : r->nfields >= 1);
    CHECK(r->nfields <= o->fields_max);
    for (size_t f = 0; f < r->nfields; f++) {
        CHECK(r->fields[f].len <= r->rawlen);
        total += r->fields[f].len;
        if (o->kind == MV_CSV_RFC4180 && f < 4)
            round_trip(&r->fields[f], o->delimiter);
    }
    CHECK(total <= r->rawlen);
    if (o->kind == MV_CSV_PLAIN && st == MV_CSV_ROW)
        CHECK(r->fields[0].ptr == r->raw && r->fields[0].len == r->rawlen);
}

/* read_all - every record of s into log; the end offset and line after
 * record `mark` into *m_off and *m_line */
static void read_all(const mv_csv_opts *o, src *s, uint64_t base, uint64_t line, out *log, size_t mark,
                     uint64_t *m_off, uint64_t *m_line)
{
    mv_csv_opts oo = *o;
    mv_csv_record r;
    mv_csv_status st;
    uint64_t next = base, lines = line ? line : 1;
    size_t k = 0;
    bool bom = false;
    mv_csv *c;

    oo.offset = base;
    oo.line = line;
    CHECK((c = mv_csv_new(&oo, rd, s)) != NULL);
    while ((st = mv_csv_next(c, &r)) == MV_CSV_ROW || st == MV_CSV_BAD) {
        if (!bom && (bom = mv_csv_had_bom(c)))
            next += 3;
        CHECK(r.offset >= next);
        lines += lines_in(s->p + (next - base), (size_t)(r.offset - next));
        CHECK(r.offset == next);
        CHECK(r.line == lines);
        check(o, s, base, st, &r);
        lines += lines_in(s->p + (r.offset - base), (size_t)(r.end - r.offset));
        next = r.end;
        put(log, &st, sizeof(st));
        put(log, &r.line, sizeof(r.line));
        put(log, &r.end, sizeof(r.end));
        put(log, &r.rawlen, sizeof(r.rawlen));
        for (size_t f = 0; f < r.nfields; f++) {
            put(log, &r.fields[f].len, sizeof(r.fields[f].len));
            put(log, r.fields[f].ptr, r.fields[f].len);
        }
        if (k++ == mark)
            mv_csv_tell(c, m_off, m_line);
    }
    CHECK(st == MV_CSV_END);
    if (!bom && mv_csv_had_bom(c))
        next += 3;
    CHECK(!mv_csv_had_bom(c) || (base == 0 && s->n >= 3 && memcmp(s->p, "\xEF\xBB\xBF", 3) == 0));
    CHECK(next == base + s->n);
    mv_csv_free(c);
}

/* one - a mode and options: whole, chunked, resumed */
static void one(const mv_csv_opts *o, const uint8_t *p, size_t n, const uint8_t *sizes, size_t nsizes,
                size_t mark)
{
    src whole = {p, n, 0, NULL, 0, 0}, chunked = {p, n, 0, sizes, nsizes, 0};
    out a = {NULL, 0, 0}, b = {NULL, 0, 0}, c = {NULL, 0, 0}, d = {NULL, 0, 0};
    uint64_t m_off = UINT64_MAX, m_line = 0, x, y;

    read_all(o, &whole, 0, 0, &a, mark, &m_off, &m_line);
    read_all(o, &chunked, 0, 0, &b, SIZE_MAX, &x, &y);
    CHECK(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0));
    if (m_off != UINT64_MAX) {
        /* the rest after record `mark`, resumed, against the same rest of a */
        src rest = {p + m_off, n - m_off, 0, sizes, nsizes, 0};
        src again = {p, n, 0, NULL, 0, 0};

        read_all(o, &rest, m_off, m_line, &c, SIZE_MAX, &x, &y);
        read_all(o, &again, 0, 0, &d, SIZE_MAX, &x, &y);
        CHECK(c.n <= d.n && (c.n == 0 || memcmp(c.p, d.p + (d.n - c.n), c.n) == 0));
    }
    free(a.p);
    free(b.p);
    free(c.p);
    free(d.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[] = {',', ';', '\t', '|'};
    static const size_t rmaxes[] = {0, 1, 2, 3, 5, 8, 16, 64};
    static const size_t fmaxes[] = {0, 1, 2, 4};
    mv_csv_opts o = {MV_CSV_RFC4180, ',', 0, 0, 0, 0};
    uint8_t *in;
    size_t n, mark = 0;

    if (size >= 2) {
        o.delimiter = delims[data[0] & 3];
        o.record_max = rmaxes[(data[0] >> 2) & 7];
        o.fields_max = fmaxes[data[0] >> 6];
        mark = data[1] % 8;
        data += 2;
        size -= 2;
    }
    /* exact-size copy, so ASan sees any read past the end */
    n = size;
    CHECK((in = malloc(n ? n : 1)) != NULL);
    memcpy(in, data, n);
    if (o.record_max == 0)
        o.record_max = MV_CSV_RECORD_MAX;
    if (o.fields_max == 0)
        o.fields_max = MV_CSV_FIELDS_MAX;
    one(&o, in, n, in, n, mark);
    o.kind = MV_CSV_PLAIN;
    one(&o, in, n, in, n, mark);
    free(in);
    return 0;
}
