/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_fcodec.c - the wire forms of a fleet bulk job (cli_bulk_fleet.h):
 * a chunk as its stream entry carries it, a chunk's result as the result
 * hash holds it, and the job's name. Writers and strict parsers.
 *
 * Both forms are text with a length before every byte string, so that an
 * address or a verdict may hold any byte (a CSV field may hold a newline):
 *   chunk entry: per record "IDX LEN ADDR\n"
 *   result:      "mvr1 K ROWS\n", then per row
 *                "IDX STATUS REASON GREYED ALEN FLEN\n" ADDR FIELDS "\n"
 * A shared Redis may hold anything under our keys -- another program's
 * data, a bug's, an attacker's -- so the parsers trust nothing: every
 * number is bounded (an index below the chunk size, a status and reason
 * among ours, lengths below FLEET_ADDR_MAX and FLEET_FIELDS_MAX), every
 * length is checked against what is left, and the first fault makes the
 * whole entry or result unusable, with a reason for the message: the
 * caller then drops the entry, or verifies the chunk again. Nothing here
 * allocates; parsed rows point into the caller's text.
 */
#include "cli_bulk_fleet.h"
#include "verdict.h"

#include <inttypes.h>
#include <string.h>

/* fleet_job_ok - a job name: 1 to FLEET_JOB_MAX of [A-Za-z0-9._-] */
bool fleet_job_ok(const char *job)
{
    size_t n = strlen(job);

    return n > 0 && n <= FLEET_JOB_MAX &&
           strspn(job, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* fleet_num - a decimal number in [0, max] spanning exactly n bytes (at most 12 digits) */
bool fleet_num(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 12 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* field - the next space- or newline-terminated number at *pos, in [0, max] */
static bool field(const char *s, size_t n, size_t *pos, char end, unsigned long max, unsigned long *out)
{
    const char *p = s + *pos, *e = memchr(p, end, n - *pos < 14 ? n - *pos : 14);

    if (e == NULL || !fleet_num(p, (size_t)(e - p), max, out))
        return false;
    *pos += (size_t)(e - p) + 1;
    return true;
}

/* ---- chunks ------------------------------------------------------------- */

/* fleet_chunk_put - one record of a chunk, as the stream entry carries it */
void fleet_chunk_put(mv_buf *b, unsigned idx, const char *addr, size_t alen)
{
    mv_buf_printf(b, "%u %zu ", idx, alen);
    mv_buf_put(b, addr, alen);
    mv_buf_putc(b, '\n');
}

/* fleet_chunk_parse - a stream entry's rows; NULL or why it is unusable */
const char *fleet_chunk_parse(const char *s, size_t n, unsigned chunk_size, fleet_chunk *c)
{
    size_t pos = 0;
    unsigned long idx, len, last = 0;

    c->n = 0;
    if (n > FLEET_ENTRY_MAX)
        return "too long";
    while (pos < n) {
        if (c->n >= chunk_size || c->n >= FLEET_CHUNK_MAX)
            return "more records than a chunk holds";
        if (!field(s, n, &pos, ' ', chunk_size - 1, &idx) || !field(s, n, &pos, ' ', FLEET_ADDR_MAX, &len))
            return "a malformed record";
        if (c->n > 0 && idx <= last)
            return "records out of order";
        if (n - pos < len + 1 || s[pos + len] != '\n')
            return "a record cut short";
        c->idx[c->n] = (unsigned)idx;
        c->addr[c->n] = s + pos;
        c->alen[c->n++] = len;
        last = idx;
        pos += len + 1;
    }
    return c->n == 0 ? "no records" : NULL;
}

/* ---- results ------------------------------------------------------------ */

/* fleet_result_head - the first line of a chunk's result */
void fleet_result_head(mv_buf *b, unsigned long k, size_t rows)
{
    mv_buf_printf(b, "mvr1 %lu %zu\n", k, rows);
}

/* fleet_result_row - one row of a result */
void fleet_result_row(mv_buf *b, const fleet_row *r)
{
    mv_buf_printf(b, "%u %d %d %d %zu %zu\n", r->idx, r->status, r->reason, r->greyed ? 1 : 0, r->alen,
                  r->flen);
    mv_buf_put(b, r->addr, r->alen);
    mv_buf_put(b, r->fields, r->flen);
    mv_buf_putc(b, '\n');
}

/* fleet_result_start - check the head of chunk k's result */
size_t fleet_result_start(const char *s, size_t n, unsigned long k, size_t *rows, const char **why)
{
    size_t pos = 5;
    unsigned long got, nr;

    if (n > FLEET_RESULT_MAX) {
        *why = "too long";
        return 0;
    }
    if (n < 5 || memcmp(s, "mvr1 ", 5) != 0 || !field(s, n, &pos, ' ', 0xffffffffffUL, &got) ||
        !field(s, n, &pos, '\n', FLEET_CHUNK_MAX, &nr)) {
        *why = "not a result";
        return 0;
    }
    if (got != k) {
        *why = "the result of another chunk";
        return 0;
    }
    *rows = nr;
    return pos;
}

/* fleet_result_next - the next row at *pos; 1 a row, 0 the end, -1 unusable */
int fleet_result_next(const char *s, size_t n, size_t *pos, unsigned chunk_size, fleet_row *r,
                      const char **why)
{
    unsigned long idx, st, rs, gr, al, fl;

    if (*pos == n)
        return 0;
    if (!field(s, n, pos, ' ', chunk_size - 1, &idx) || !field(s, n, pos, ' ', MV_STATUS_COUNT - 1, &st) ||
        !field(s, n, pos, ' ', MV_R_COUNT - 1, &rs) || !field(s, n, pos, ' ', 1, &gr) ||
        !field(s, n, pos, ' ', FLEET_ADDR_MAX, &al) || !field(s, n, pos, '\n', FLEET_FIELDS_MAX, &fl)) {
        *why = "a malformed row";
        return -1;
    }
    if (n - *pos < al + fl + 1 || s[*pos + al + fl] != '\n') {
        *why = "a row cut short";
        return -1;
    }
    *r = (fleet_row){.idx = (unsigned)idx,
                     .status = (int)st,
                     .reason = (int)rs,
                     .greyed = gr == 1,
                     .addr = s + *pos,
                     .alen = al,
                     .fields = s + *pos + al,
                     .flen = fl};
    *pos += al + fl + 1;
    return 1;
}
