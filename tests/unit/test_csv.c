/* SPDX-License-Identifier: MIT */
/*
 * test_csv.c - the streaming CSV and plain-list reader, and the quoting
 * of fields written back.
 *
 * Each table case gives an input and the records expected, written as
 * one string: `line@offset-end[field|field]` for a record and
 * `line@offset-end!message` for a bad one, bytes other than printable
 * ASCII as \r, \n, \0 or \xHH. Every case is read whole, one byte per
 * read, in random chunks, and again from the end of each of its records
 * (a resumed reader must see the same rest); every record's raw must be
 * the input's bytes at its offset. Then: a read error at every byte,
 * the memory bound on a 100 MB stream (MV_CSV_TEST_MB changes the size,
 * for valgrind), records of exactly the default limit and one byte
 * over, quoting round trips on random records, and the header lookup.
 */
#include "unit.h"

#include "csv.h"

#include <errno.h>

typedef struct {
    mv_csv_kind kind;
    char delim;
    size_t rmax, fmax;
    const char *in;
    size_t inlen; /* 0: strlen(in) */
    const char *want;
} ccase;

/* an input in memory, handed out in chunks of `step` bytes (0: all,
 * SIZE_MAX: random sizes from seed) */
typedef struct {
    const char *p;
    size_t n, pos, step;
    uint32_t seed;
    size_t fail_at; /* fail with EIO once pos reaches this (0: never) */
} src;

/* rnd - xorshift32; tests are repeatable */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* rd - the mv_csv_read_fn over a src */
static ssize_t rd(void *arg, char *buf, size_t n)
{
    src *s = arg;
    size_t k = s->n - s->pos;

    if (s->fail_at && s->pos >= s->fail_at) {
        errno = EIO;
        return -1;
    }
    if (k > n)
        k = n;
    if (s->step == SIZE_MAX)
        k = k ? 1 + rnd(&s->seed) % (k < 300 ? k : 300) : 0;
    else if (s->step && k > s->step)
        k = s->step;
    if (s->fail_at && k > s->fail_at - s->pos)
        k = s->fail_at - s->pos;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* esc - append bytes to a dump, escaped */
static void esc(char *out, size_t size, const char *p, size_t n)
{
    size_t o = strlen(out);

    for (size_t i = 0; i < n && o + 5 < size; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '\n')
            o += (size_t)snprintf(out + o, size - o, "\\n");
        else if (ch == '\r')
            o += (size_t)snprintf(out + o, size - o, "\\r");
        else if (ch == '\0')
            o += (size_t)snprintf(out + o, size - o, "\\0");
        else if (ch < 0x20 || ch >= 0x7f)
            o += (size_t)snprintf(out + o, size - o, "\\x%02X", ch);
        else
            out[o++] = (char)ch;
        out[o] = '\0';
    }
}

/* check_raw - a record's raw is the input's bytes at its offset (its
 * first record_max bytes for a bad record), then its line end */
static void check_raw(const src *s, const mv_csv_record *r, mv_csv_status st, size_t rmax, uint64_t base)
{
    uint64_t len = r->end - r->offset;

    assert_true(r->offset >= base && r->end <= base + s->n && r->offset <= r->end);
    assert_memory_equal(r->raw, s->p + (r->offset - base), r->rawlen);
    if (st == MV_CSV_ROW || r->rawlen < rmax) {
        size_t eol = (size_t)(len - r->rawlen);
        const char *e = s->p + (r->offset - base) + r->rawlen;

        assert_true(eol <= 2);
        assert_true(eol == 0   ? r->end == base + s->n
                    : eol == 1 ? (*e == '\n' || *e == '\r')
                               : memcmp(e, "\r\n", 2) == 0);
    } else {
        assert_int_equal(r->rawlen, rmax);
    }
    for (size_t f = 0; f < r->nfields; f++)
        assert_true(r->fields[f].len <= r->rawlen);
}

/* opts_of - a case's options */
static mv_csv_opts opts_of(const ccase *c)
{
    mv_csv_opts o = {c->kind, c->delim, c->rmax, c->fmax, 0, 0};

    return o;
}

/* dump - read s to its end: the records as a string; for the first 64,
 * where each begins in it, its end and the line after it */
static void dump(const ccase *c, src *s, uint64_t base, uint64_t line, char *out, size_t size, size_t *starts,
                 uint64_t *ends, uint64_t *lines, size_t *nrec)
{
    mv_csv_opts o = opts_of(c);
    mv_csv *r;
    mv_csv_record rec;
    mv_csv_status st;
    size_t k = 0;

    o.offset = base;
    o.line = line;
    assert_non_null(r = mv_csv_new(&o, rd, s));
    out[0] = '\0';
    while ((st = mv_csv_next(r, &rec)) == MV_CSV_ROW || st == MV_CSV_BAD) {
        size_t n = strlen(out);

        check_raw(s, &rec, st, c->rmax ? c->rmax : MV_CSV_RECORD_MAX, base);
        snprintf(out + n, size - n, "%s%llu@%llu-%llu%s", n ? " " : "", (unsigned long long)rec.line,
                 (unsigned long long)rec.offset, (unsigned long long)rec.end, st == MV_CSV_BAD ? "!" : "[");
        if (st == MV_CSV_BAD)
            esc(out, size, mv_csv_error(r), strlen(mv_csv_error(r)));
        for (size_t f = 0; f < rec.nfields; f++) {
            if (f > 0)
                esc(out, size, "|", 1);
            esc(out, size, rec.fields[f].ptr, rec.fields[f].len);
        }
        if (st == MV_CSV_ROW)
            esc(out, size, "]", 1);
        if (k < 64) {
            uint64_t off, ln;

            mv_csv_tell(r, &off, &ln);
            assert_true(off == rec.end);
            starts[k] = n ? n + 1 : 0;
            ends[k] = off;
            lines[k] = ln;
        }
        k++;
    }
    assert_int_equal(st, MV_CSV_END);
    assert_int_equal(mv_csv_next(r, &rec), MV_CSV_END); /* and stays there */
    mv_csv_free(r);
    *nrec = k;
}

static const ccase cases[] = {
    /* the basics */
    {MV_CSV_RFC4180, 0, 0, 0, "", 0, ""},
    {MV_CSV_RFC4180, 0, 0, 0, "a", 0, "1@0-1[a]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,b\nc,d\n", 0, "1@0-4[a|b] 2@4-8[c|d]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,b\r\nc,d", 0, "1@0-5[a|b] 2@5-8[c|d]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,b\rc,d\r", 0, "1@0-4[a|b] 2@4-8[c|d]"}, /* lone CR */
    {MV_CSV_RFC4180, 0, 0, 0, "a\r\r\nb\n\rc", 0, "1@0-2[a] 2@2-4[] 3@4-6[b] 4@6-7[] 5@7-8[c]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\n", 0, "1@0-1[]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\n\n\r\n", 0, "1@0-1[] 2@1-2[] 3@2-4[]"},
    {MV_CSV_RFC4180, 0, 0, 0, ",", 0, "1@0-1[|]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,,\n,b", 0, "1@0-4[a||] 2@4-6[|b]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,b\nc\nd,e,f\n", 0, "1@0-4[a|b] 2@4-6[c] 3@6-12[d|e|f]"},
    {MV_CSV_RFC4180, 0, 0, 0, " a , b ", 0, "1@0-7[ a | b ]"}, /* spaces kept */
    /* quotes */
    {MV_CSV_RFC4180, 0, 0, 0, "\"a,b\",c", 0, "1@0-7[a,b|c]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\"\"b\",\"\"\"\"", 0, "1@0-11[a\"b|\"]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"\",\"\"\n", 0, "1@0-6[|]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\nb\",c\nd", 0, "1@0-8[a\\nb|c] 3@8-9[d]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\r\nb\rc\n\",d\r\ne", 0, "1@0-13[a\\r\\nb\\rc\\n|d] 5@13-14[e]"},
    {MV_CSV_RFC4180, 0, 0, 0, "x,\"a\r\n\r\nb\"\r\ny", 0, "1@0-12[x|a\\r\\n\\r\\nb] 4@12-13[y]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\"", 0, "1@0-3[a]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\"\r", 0, "1@0-4[a]"},
    /* the byte order mark */
    {MV_CSV_RFC4180, 0, 0, 0,
     "\xEF\xBB\xBF"
     "email\nx",
     0, "1@3-9[email] 2@9-10[x]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\xEF\xBB\xBF", 0, ""},
    {MV_CSV_RFC4180, 0, 0, 0, "\xEF\xBB\xBF\n", 0, "1@3-4[]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\xEF\xBB", 0, "1@0-2[\\xEF\\xBB]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a\n\xEF\xBB\xBF", 0, "1@0-2[a] 2@2-5[\\xEF\\xBB\\xBF]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\xEF\xBB\xBF\xEF\xBB\xBF", 0, "1@3-6[\\xEF\\xBB\\xBF]"},
    /* NUL and invalid UTF-8 pass through */
    {MV_CSV_RFC4180, 0, 0, 0, "a\0b,\"\0\xff\"\n\xc3(", 11, "1@0-9[a\\0b|\\0\\xFF] 2@9-11[\\xC3(]"},
    /* other delimiters */
    {MV_CSV_RFC4180, ';', 0, 0, "a;b,c;\"d;e\"", 0, "1@0-11[a|b,c|d;e]"},
    {MV_CSV_RFC4180, '\t', 0, 0, "a\tb c\t\"\t\"", 0, "1@0-9[a|b c|\\x09]"},
    /* malformed: strict, resynchronised at the next line end */
    {MV_CSV_RFC4180, 0, 0, 0, "a,b\"c,d\ne,f", 0, "1@0-8!quote inside an unquoted field 2@8-11[e|f]"},
    {MV_CSV_RFC4180, 0, 0, 0, "ab\",\"x\ny", 0, "1@0-7!quote inside an unquoted field 2@7-8[y]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\"b,c\r\nx", 0, "1@0-8!text after a closing quote 2@8-9[x]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\" ,c\nx", 0, "1@0-7!text after a closing quote 2@7-8[x]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\nb\"x,\"\n\"y\"\n", 0, "1@0-9!text after a closing quote 3@9-13[y]"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,\"b", 0, "1@0-4!unterminated quoted field at end of input"},
    {MV_CSV_RFC4180, 0, 0, 0, "x\n\"", 0, "1@0-2[x] 2@2-3!unterminated quoted field at end of input"},
    {MV_CSV_RFC4180, 0, 0, 0, "a,\"b\nc,d\r\ne\n", 0,
     "1@0-5!unterminated quoted field: the lines after its opening quote are read again "
     "2@5-10[c|d] 3@10-12[e]"},
    {MV_CSV_RFC4180, 0, 0, 0, "\"a\nb\",\"c\nd", 0,
     "1@0-9!unterminated quoted field: the lines after its opening quote are read again "
     "3@9-10[d]"},
    /* the record limit: at it, over it */
    {MV_CSV_RFC4180, 0, 5, 0, "abcde\nabcdef\nx", 0, "1@0-6[abcde] 2@6-13!record too long 3@13-14[x]"},
    {MV_CSV_RFC4180, 0, 5, 0, "abcde\r\nabcdef\r\nx", 0, "1@0-7[abcde] 2@7-15!record too long 3@15-16[x]"},
    {MV_CSV_RFC4180, 0, 5, 0, "abcde", 0, "1@0-5[abcde]"},
    {MV_CSV_RFC4180, 0, 5, 0, "abcdef", 0, "1@0-6!record too long"},
    {MV_CSV_RFC4180, 0, 5, 0, "a,b,c\na,b,\"\"", 0, "1@0-6[a|b|c] 2@6-12!record too long"},
    {MV_CSV_RFC4180, 0, 5, 0, "\"abc\"\n\"abcd\"\nx", 0, "1@0-6[abc] 2@6-13!record too long 3@13-14[x]"},
    {MV_CSV_RFC4180, 0, 5, 0, "\"a\nbcdefgh\ny", 0,
     "1@0-3!record too long in a quoted field: the lines after its opening quote are read again "
     "2@3-11!record too long 3@11-12[y]"},
    {MV_CSV_RFC4180, 0, 5, 0, "\"abcdefgh\nxyz\"\ny", 0,
     "1@0-10!record too long 2@10-15!quote inside an unquoted field 3@15-16[y]"},
    {MV_CSV_RFC4180, 0, 5, 0, "abcdefghijklmnop\n", 0, "1@0-17!record too long"},
    {MV_CSV_RFC4180, 0, 5, 0, "\"a\nb\"\"\nc\nd", 0,
     "1@0-3!record too long in a quoted field: the lines after its opening quote are read again "
     "2@3-7!quote inside an unquoted field 3@7-9[c] 4@9-10[d]"},
    {MV_CSV_RFC4180, 0, 5, 0, "abcde\r", 0, "1@0-6[abcde]"},
    /* found by fuzzing: a CR after a long bad record hung the buffer's growth */
    {MV_CSV_RFC4180, '|', 3, 4, "\xBFm\x07jan\"qb\r\n,,a,\xC1,\r", 0,
     "1@0-11!record too long 2@11-18!record too long"},
    {MV_CSV_RFC4180, 0, 1, 0, "\n\na\nab\n", 0, "1@0-1[] 2@1-2[] 3@2-4[a] 4@4-7!record too long"},
    /* the field limit */
    {MV_CSV_RFC4180, 0, 0, 3, "a,b,c\na,b,c,d\n,,\n,,,\nx", 0,
     "1@0-6[a|b|c] 2@6-14!too many fields 3@14-17[||] 4@17-21!too many fields 5@21-22[x]"},
    {MV_CSV_RFC4180, 0, 0, 1, "a\na,b\n\"a\nb\",\"c\nd\"\nx", 0,
     "1@0-2[a] 2@2-6!too many fields 3@6-18!too many fields 6@18-19[x]"},
    {MV_CSV_RFC4180, 0, 0, 1, "a,b,\"c\nd\"\nx", 0, "1@0-10!too many fields 3@10-11[x]"},
    {MV_CSV_RFC4180, 0, 0, 2, "a,b,\"c\nd\nx", 0,
     "1@0-7!unterminated quoted field: the lines after its opening quote are read again "
     "2@7-9[d] 3@9-10[x]"},
    /* plain lists */
    {MV_CSV_PLAIN, 0, 0, 0, "", 0, ""},
    {MV_CSV_PLAIN, 0, 0, 0, "a,\"b\"\n\"c\r\nd\re", 0, "1@0-6[a,\"b\"] 2@6-10[\"c] 3@10-12[d] 4@12-13[e]"},
    {MV_CSV_PLAIN, 0, 0, 0, "\xEF\xBB\xBF jane@example.com \n\n", 0, "1@3-22[ jane@example.com ] 2@22-23[]"},
    {MV_CSV_PLAIN, 0, 5, 0, "abcde\nabcdef\nabcde", 0, "1@0-6[abcde] 2@6-13!record too long 3@13-18[abcde]"},
    {MV_CSV_PLAIN, 0, 5, 0, "abcde\r\nabcdefghij", 0, "1@0-7[abcde] 2@7-17!record too long"},
    {MV_CSV_PLAIN, 0, 0, 0, "a\0b\n", 4, "1@0-4[a\\0b]"},
};

/* run_case - one case read in the way `how` says; its dump must match */
static void run_case(const ccase *c, size_t step, uint32_t seed, const char *how)
{
    char got[4096];
    uint64_t ends[64], lines[64];
    size_t starts[64], n = c->inlen ? c->inlen : strlen(c->in), nrec;
    char *in = malloc(n ? n : 1);
    src s = {in, n, 0, step, seed, 0};

    assert_non_null(in);
    memcpy(in, c->in, n);
    dump(c, &s, 0, 0, got, sizeof(got), starts, ends, lines, &nrec);
    if (strcmp(got, c->want) != 0)
        fail_case("%s: read %s:\n got  %s\n want %s", c->in, how, got, c->want);
    /* resume after each record: the same rest */
    for (size_t k = 0; k < nrec && k < 64; k++) {
        char rest[4096];
        uint64_t e2[64], l2[64];
        size_t st2[64], n2;
        const char *want = k + 1 < nrec ? got + starts[k + 1] : "";
        src s2 = {in + ends[k], n - ends[k], 0, step, seed, 0};

        dump(c, &s2, ends[k], lines[k], rest, sizeof(rest), st2, e2, l2, &n2);
        if (strcmp(rest, want) != 0)
            fail_case("%s: resumed at %llu:\n got  %s\n want %s", c->in, (unsigned long long)ends[k], rest,
                      want);
    }
    free(in);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        run_case(&cases[i], 0, 0, "whole");
        run_case(&cases[i], 1, 0, "a byte at a time");
        for (uint32_t seed = 1; seed < 20; seed++)
            run_case(&cases[i], SIZE_MAX, seed * 2654435761u, "in random chunks");
    }
}

/* test_read_error - EIO mid-record: the records before it, then EIO with
 * errno, and EIO again */
static void test_read_error(void **state)
{
    static const char in[] = "a,b\nc,\"d\ne\",f\ng\n";
    mv_csv_record rec;
    mv_csv *c;
    (void)state;

    for (size_t at = 1; at < sizeof(in) - 1; at++) {
        src s = {in, sizeof(in) - 1, 0, 3, 0, at};
        size_t rows = 0;
        mv_csv_status st;

        assert_non_null(c = mv_csv_new(NULL, rd, &s));
        while ((st = mv_csv_next(c, &rec)) == MV_CSV_ROW) {
            assert_true(rec.end <= at);
            rows++;
        }
        assert_int_equal(st, MV_CSV_EIO);
        assert_int_equal(errno, EIO);
        assert_true(rows <= 2);
        errno = 0;
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_EIO);
        assert_int_equal(errno, EIO);
        assert_string_equal(mv_csv_error(c), "read error");
        mv_csv_free(c);
    }
}

/* a generated stream: `n` bytes of records, made up as they are read */
typedef struct {
    uint64_t n, pos;
    char line[16384];
    size_t llen, lpos;
    uint64_t k;  /* records made */
    size_t huge; /* every this many records, one of 10 KB */
} gen;

/* gen_line - the next record of a generated stream */
static void gen_line(gen *g)
{
    g->k++;
    if (g->huge && g->k % g->huge == 0) {
        memset(g->line, 'x', 10000);
        g->line[0] = '"';
        g->line[5000] = '\n';
        memcpy(g->line + 10000, "\",Doe,z,w\n", 10);
        g->llen = 10010;
    } else {
        g->llen = (size_t)snprintf(g->line, sizeof(g->line),
                                   "user%llu@example.com,\"Doe, Jane\",\"said \"\"hi\"\"\",%llu\r\n",
                                   (unsigned long long)g->k, (unsigned long long)g->k * 7);
    }
    g->lpos = 0;
}

/* gen_rd - the mv_csv_read_fn of a generated stream */
static ssize_t gen_rd(void *arg, char *buf, size_t n)
{
    gen *g = arg;
    size_t done = 0;

    while (done < n && g->pos < g->n) {
        size_t k;

        if (g->lpos == g->llen)
            gen_line(g);
        k = g->llen - g->lpos;
        if (k > n - done)
            k = n - done;
        if (k > g->n - g->pos)
            k = (size_t)(g->n - g->pos);
        memcpy(buf + done, g->line + g->lpos, k);
        g->lpos += k;
        g->pos += k;
        done += k;
    }
    return (ssize_t)done;
}

/* stream - read a generated stream to its end: rows, bad records; the
 * buffer never outgrows its bound, every byte is in some record */
static void stream(uint64_t bytes, size_t rmax, size_t huge, uint64_t *rows, uint64_t *bads)
{
    gen *g = calloc(1, sizeof(*g));
    mv_csv_opts o = {MV_CSV_RFC4180, 0, rmax, 0, 0, 0};
    size_t bound = (rmax ? rmax : MV_CSV_RECORD_MAX) + 2 + MV_CSV_CHUNK;
    mv_csv_record rec;
    mv_csv_status st;
    uint64_t next = 0;
    mv_csv *c;

    assert_non_null(g);
    g->n = bytes;
    g->huge = huge;
    assert_non_null(c = mv_csv_new(&o, gen_rd, g));
    *rows = *bads = 0;
    while ((st = mv_csv_next(c, &rec)) == MV_CSV_ROW || st == MV_CSV_BAD) {
        assert_true(rec.offset == next);
        next = rec.end;
        if (st == MV_CSV_ROW && rec.end < bytes) { /* the last one is cut */
            if (rec.nfields != 4)
                fail_case("line %llu: %.*s", (unsigned long long)rec.line, (int)rec.rawlen, rec.raw);
            assert_memory_equal(rec.fields[1].ptr, rec.fields[0].len > 9000 ? "Doe" : "Doe, Jane",
                                rec.fields[0].len > 9000 ? 3 : 9);
        }
        *(st == MV_CSV_ROW ? rows : bads) += 1;
        if (mv_csv_buffer_size(c) > bound)
            fail_case("buffer %zu > %zu", mv_csv_buffer_size(c), bound);
    }
    assert_int_equal(st, MV_CSV_END);
    assert_true(next == bytes);
    mv_csv_free(c);
    free(g);
}

/* test_stream - 100 MB through a small record limit and the default one */
static void test_stream(void **state)
{
    const char *mb = getenv("MV_CSV_TEST_MB");
    uint64_t bytes = (uint64_t)(mb ? atoi(mb) : 100) << 20, rows, bads;
    (void)state;

    stream(bytes, 4096, 1000, &rows, &bads);
    assert_true(rows > bytes / 80 && bads > 0);
    /* a 10 KB record fits the default limit: rows only */
    stream(bytes / 4, 0, 1000, &rows, &bads);
    assert_true(bads == 0);
}

/* test_default_limit - records of exactly MV_CSV_RECORD_MAX bytes and
 * one more, read whole, by the byte and in random chunks: the buffer at
 * its bound, a CR last in it */
static void test_default_limit(void **state)
{
    size_t m = MV_CSV_RECORD_MAX, n = 0;
    char *in = malloc(4 * m + 16);
    (void)state;

    assert_non_null(in);
    memset(in + n, 'a', m), n += m;
    memcpy(in + n, "\r\n", 2), n += 2;
    memset(in + n, 'b', m + 1), n += m + 1;
    memcpy(in + n, "\r\n\"", 3), n += 3;
    memset(in + n, 'c', m - 2), n += m - 2;
    memcpy(in + n, "\"\r", 2), n += 2;
    for (size_t how = 0; how < 3; how++) {
        src s = {in, n, 0, how == 0 ? 0 : how == 1 ? 1 : SIZE_MAX, 7, 0};
        mv_csv_record rec;
        mv_csv *c;

        assert_non_null(c = mv_csv_new(NULL, rd, &s));
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_ROW);
        assert_true(rec.rawlen == m && rec.end == m + 2 && rec.fields[0].len == m);
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_BAD);
        assert_string_equal(mv_csv_error(c), "record too long");
        assert_true(rec.rawlen == m && rec.offset == m + 2 && rec.end == 2 * m + 5 && rec.line == 2);
        assert_memory_equal(rec.raw, in + m + 2, m);
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_ROW);
        assert_true(rec.rawlen == m && rec.end == n && rec.line == 3 && rec.fields[0].len == m - 2);
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_END);
        assert_true(mv_csv_buffer_size(c) <= m + 2 + MV_CSV_CHUNK);
        mv_csv_free(c);
    }
    free(in);
}

/* random_field - a string of bytes that matter to quoting */
static size_t random_field(char *f, size_t max, uint32_t *seed)
{
    static const char alpha[] = "a,;\"\r\n \t=\0\xEF\xBB\xBF";
    size_t n = rnd(seed) % max;

    for (size_t i = 0; i < n; i++)
        f[i] = alpha[rnd(seed) % (sizeof(alpha) - 1)];
    return n;
}

/* test_quote_round_trip - random records quoted, joined, read back */
static void test_quote_round_trip(void **state)
{
    uint32_t seed = 12345;
    (void)state;

    for (int t = 0; t < 20000; t++) {
        char f[8][24], line[8 * 52 + 4];
        size_t flen[8], nf = 1 + rnd(&seed) % 8, n = 0;
        char delim = t % 3 == 0 ? ';' : t % 3 == 1 ? ',' : '\t';
        mv_csv_opts o = {MV_CSV_RFC4180, delim, 0, 0, 0, 0};
        mv_csv_record rec;
        mv_csv *c;
        src s;

        for (size_t i = 0; i < nf; i++) {
            flen[i] = random_field(f[i], sizeof(f[i]), &seed);
            if (i > 0)
                line[n++] = delim;
            n += mv_csv_quote(line + n, sizeof(line) - n, f[i], flen[i], delim);
        }
        memcpy(line + n, t % 2 ? "\r\n" : "\n", 2);
        n += t % 2 ? 2 : 1;
        s = (src){line, n, 0, 0, 0, 0};
        assert_non_null(c = mv_csv_new(&o, rd, &s));
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_ROW);
        assert_int_equal(rec.nfields, nf);
        for (size_t i = 0; i < nf; i++) {
            assert_int_equal(rec.fields[i].len, flen[i]);
            assert_memory_equal(rec.fields[i].ptr, f[i], flen[i]);
        }
        assert_int_equal(mv_csv_next(c, &rec), MV_CSV_END);
        mv_csv_free(c);
    }
}

typedef struct {
    const char *in;
    size_t size;
    const char *out;
    size_t need;
} qcase;

static void test_quote(void **state)
{
    static const qcase qc[] = {
        {"jane@example.com", 64, "jane@example.com", 16},
        {"", 64, "", 0},
        {"a,b", 64, "\"a,b\"", 5},
        {"a;b", 64, "a;b", 3},
        {"say \"hi\"", 64, "\"say \"\"hi\"\"\"", 12},
        {"a\nb", 64, "\"a\nb\"", 5},
        {"a\rb", 64, "\"a\rb\"", 5},
        {" a", 64, "\" a\"", 4},
        {"a ", 64, "\"a \"", 4},
        {"=cmd()", 64, "=cmd()", 6},
        {"\xEF\xBB\xBFx", 64, "\"\xEF\xBB\xBFx\"", 6},
        {"a,b", 4, "\"a,", 5},
        {"a,b", 1, "", 5},
        {"abc", 3, "ab", 3},
    };
    char out[64];
    (void)state;

    for (size_t i = 0; i < sizeof(qc) / sizeof(*qc); i++) {
        size_t need = mv_csv_quote(out, qc[i].size, qc[i].in, strlen(qc[i].in), 0);

        if (need != qc[i].need || strcmp(out, qc[i].out) != 0)
            fail_case("%s: got %s (%zu)", qc[i].in, out, need);
    }
    assert_int_equal(mv_csv_quote(NULL, 0, "a\"", 2, 0), 5);
    assert_int_equal(mv_csv_quote(out, sizeof(out), "a;b", 3, ';'), 5);
    assert_string_equal(out, "\"a;b\"");
}

static void test_find_column(void **state)
{
    static const char hdr[] = "\xEF\xBB\xBFName, E-Mail ,\"email\",Phone\r\n";
    src s = {hdr, sizeof(hdr) - 1, 0, 0, 0, 0};
    mv_csv_record rec;
    mv_csv *c;
    (void)state;

    assert_non_null(c = mv_csv_new(NULL, rd, &s));
    assert_int_equal(mv_csv_next(c, &rec), MV_CSV_ROW);
    assert_true(mv_csv_had_bom(c));
    assert_int_equal(mv_csv_find_column(&rec, "name"), 0);
    assert_int_equal(mv_csv_find_column(&rec, "e-mail"), 1);
    assert_int_equal(mv_csv_find_column(&rec, " EMAIL"), 2);
    assert_int_equal(mv_csv_find_column(&rec, "phone"), 3);
    assert_int_equal(mv_csv_find_column(&rec, "mail"), -1);
    assert_int_equal(mv_csv_find_column(&rec, ""), -1);
    assert_int_equal(mv_csv_find_column(NULL, "email"), -1);
    mv_csv_free(c);
}

static void test_new(void **state)
{
    mv_csv_opts o = {MV_CSV_RFC4180, '"', 0, 0, 0, 0};
    src s = {"a", 1, 0, 0, 0, 0};
    mv_csv_record rec;
    mv_csv *c;
    (void)state;

    errno = 0;
    assert_null(mv_csv_new(&o, rd, &s));
    assert_int_equal(errno, EINVAL);
    o.delimiter = '\n';
    assert_null(mv_csv_new(&o, rd, &s));
    mv_csv_free(NULL);
    assert_non_null(c = mv_csv_new(NULL, rd, &s));
    assert_false(mv_csv_had_bom(c));
    assert_string_equal(mv_csv_error(c), "no error");
    assert_int_equal(mv_csv_next(c, &rec), MV_CSV_ROW);
    assert_int_equal(mv_csv_next(c, &rec), MV_CSV_END);
    assert_true(mv_csv_buffer_size(c) <= MV_CSV_RECORD_MAX + 2 + MV_CSV_CHUNK);
    mv_csv_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_default_limit),
        cmocka_unit_test(test_quote_round_trip),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_find_column),
        cmocka_unit_test(test_new),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
