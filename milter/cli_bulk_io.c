/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_io.c - what `mailverify bulk` writes: output rows (CSV with our
 * columns after the input's, or JSON lines), the output files, the resume
 * state file, the summary and the completion JSON.
 *
 * Every write is checked: a full disk or a vanished directory is an error
 * named with its path, and the state file is only rewritten after the
 * output it describes has been written and synced, so a state file never
 * claims more output than the disk holds. The state file is replaced
 * atomically (a temporary file, fsync, rename): after a crash or kill -9
 * it holds either the previous checkpoint or the new one, never half.
 */
#include "cli_bulk.h"
#include "csv.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_BUF 65536

/* ---- output files ------------------------------------------------------ */

/* bulk_file_open - create (truncate) or, resuming, reopen at keep bytes */
int bulk_file_open(bulk_file *f, const char *path, bool resume, uint64_t keep)
{
    struct stat st;

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (strcmp(path, "-") == 0) {
        f->fd = STDOUT_FILENO;
    } else if ((f->fd = open(path, O_WRONLY | O_CREAT | (resume ? 0 : O_TRUNC) | O_CLOEXEC, 0666)) < 0) {
        fprintf(stderr, "mailverify bulk: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    if ((f->path = strdup(path)) == NULL) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return -1;
    }
    if (!resume)
        return 0;
    /* the bytes past the last checkpoint are rows that will be written again */
    if (fstat(f->fd, &st) < 0 || (uint64_t)st.st_size < keep) {
        fprintf(stderr,
                "mailverify bulk: %s is shorter (%lld bytes) than the state file "
                "says (%" PRIu64 "): it was changed since; rerun without --resume\n",
                path, (long long)st.st_size, keep);
        return -1;
    }
    if (ftruncate(f->fd, (off_t)keep) < 0 || lseek(f->fd, (off_t)keep, SEEK_SET) < 0) {
        fprintf(stderr, "mailverify bulk: cannot truncate %s: %s\n", path, strerror(errno));
        return -1;
    }
    f->len = keep;
    return 0;
}

/* write_all - every byte, or false with errno */
static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* bulk_file_flush - write the buffer out; sync too when asked */
bool bulk_file_flush(bulk_file *f, bool sync)
{
    if (f->fd < 0)
        return true;
    if (!mv_buf_ok(&f->buf)) {
        fprintf(stderr, "mailverify bulk: %s: out of memory\n", f->path);
        return false;
    }
    if (f->buf.len > 0 && !write_all(f->fd, f->buf.data, f->buf.len)) {
        fprintf(stderr, "mailverify bulk: cannot write %s: %s\n", f->path, strerror(errno));
        return false;
    }
    mv_buf_reset(&f->buf);
    /* a pipe or terminal cannot be synced (EINVAL): nothing to keep there */
    if (sync && fdatasync(f->fd) < 0 && errno != EINVAL && errno != EROFS) {
        fprintf(stderr, "mailverify bulk: cannot sync %s: %s\n", f->path, strerror(errno));
        return false;
    }
    return true;
}

/* bulk_file_put - buffer bytes; false after a failed write (reported) */
bool bulk_file_put(bulk_file *f, const char *s, size_t n)
{
    mv_buf_put(&f->buf, s, n);
    f->len += n;
    return f->buf.len < FILE_BUF || bulk_file_flush(f, false);
}

/* bulk_file_close - flush, close, free; false if a write failed */
bool bulk_file_close(bulk_file *f)
{
    bool ok = true;

    if (f->fd >= 0) {
        ok = bulk_file_flush(f, false);
        if (f->fd != STDOUT_FILENO && close(f->fd) < 0) {
            fprintf(stderr, "mailverify bulk: cannot write %s: %s\n", f->path, strerror(errno));
            ok = false;
        }
    }
    mv_buf_free(&f->buf);
    free(f->path);
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    return ok;
}

/* ---- rows -------------------------------------------------------------- */

/* bulk_defuse_put - a field of ours, quoted, with formulas defused */
void bulk_defuse_put(mv_buf *b, const char *s, size_t n, char delim)
{
    char tmp[1200], dummy[1];
    size_t need;

    /* A spreadsheet runs a cell that begins with = + - @ (or a tab or CR
     * before one) as a formula. Our fields echo what users typed (the
     * suggestion keeps their local part) and what servers said, so such a
     * field is written with a leading apostrophe, OWASP's advice. */
    if (n > 0 && strchr("=+-@\t\r", s[0]) != NULL && n + 1 < sizeof(tmp)) {
        tmp[0] = '\'';
        memcpy(tmp + 1, s, n);
        s = tmp;
        n++;
    }
    need = mv_csv_quote(dummy, sizeof(dummy), s, n, delim);
    if (!mv_buf_reserve(b, need + 1))
        return;
    mv_csv_quote(b->data + b->len, need + 1, s, n, delim);
    b->len += need;
}

static const char *const columns[] = {
    "status", "reason",    "action", "suggestion", "normalized",    "disposable", "role",
    "free",   "catch_all", "mx",     "smtp_code",  "smtp_enhanced", "smtp_reply",
};

/* bulk_csv_columns - our column names, after the input's (header row) */
void bulk_csv_columns(mv_buf *b, char delim, const char *prefix)
{
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        mv_buf_putc(b, delim);
        mv_buf_puts(b, prefix);
        mv_buf_puts(b, columns[i]);
    }
}

/* put_str - delimiter, then a defused field */
static void put_str(mv_buf *b, char delim, const char *s)
{
    mv_buf_putc(b, delim);
    bulk_defuse_put(b, s, strlen(s), delim);
}

/* bulk_csv_fields - our fields of a verdict, delimiter first */
void bulk_csv_fields(mv_buf *b, const mv_verdict *v, char delim)
{
    const mv_net_outcome *n = &v->net;
    char norm[MV_MAILBOX_MAX + 8] = "", num[32];

    if (v->addr.error == MV_SYN_OK && mv_address_format(&v->addr, norm, sizeof(norm)) == 0)
        norm[0] = '\0';
    put_str(b, delim, mv_status_name(v->status));
    put_str(b, delim, mv_reason_name(v->reason));
    put_str(b, delim, mv_action_name(v->action));
    put_str(b, delim, v->has_suggestion ? v->suggestion : "");
    put_str(b, delim, norm);
    put_str(b, delim, v->disposable ? "true" : "false");
    put_str(b, delim, v->role ? "true" : "false");
    put_str(b, delim, v->free ? "true" : "false");
    /* catch-all says something only of an address the server accepted; for
     * a rejected one whether it was learned depends on which session it
     * shared (a session of rejections never asks), so it is left empty and
     * the output stays the same from run to run */
    put_str(b, delim,
            !v->net_asked || n->catch_all < 0 ||
                    (n->reason != MV_R_ACCEPTED_EMAIL && n->reason != MV_R_ACCEPT_ALL)
                ? ""
            : n->catch_all ? "true"
                           : "false");
    put_str(b, delim, v->net_asked ? n->mx : "");
    snprintf(num, sizeof(num), "%d", n->smtp.code);
    put_str(b, delim, v->net_asked && n->smtp.code ? num : "");
    snprintf(num, sizeof(num), "%d.%d.%d", n->smtp.enh[0], n->smtp.enh[1], n->smtp.enh[2]);
    put_str(b, delim, v->net_asked && n->smtp.code && n->smtp.enh[0] ? num : "");
    put_str(b, delim, v->net_asked && n->smtp.code ? n->smtp.text : "");
}

/* bulk_jsonl - the verdict as one JSON line, with the input line first */
void bulk_jsonl(mv_buf *b, const mv_verdict *v, uint64_t line)
{
    size_t at = b->len;
    char pre[40];
    int k = snprintf(pre, sizeof(pre), "\"line\":%" PRIu64 ",", line);

    mv_verdict_json(b, v, 0);
    if (!mv_buf_ok(b) || b->len == at || b->data[at] != '{' || !mv_buf_reserve(b, (size_t)k + 1))
        return;
    /* {"line":N, then the verdict's members: the row it answers comes first */
    memmove(b->data + at + 1 + k, b->data + at + 1, b->len - at - 1);
    memcpy(b->data + at + 1, pre, (size_t)k);
    b->len += (size_t)k;
    mv_buf_putc(b, '\n');
}

/* ---- the state file ---------------------------------------------------- */

/* fnv - FNV-1a 64 over bytes: the state file's checksum */
static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* bulk_state_path - OUTPUT.mvstate into a new string; NULL on ENOMEM */
char *bulk_state_path(const char *output)
{
    char *p = NULL;

    return asprintf(&p, "%s.mvstate", output) < 0 ? NULL : p;
}

/* state_text - the state file's body (without the checksum line) */
static void state_text(mv_buf *b, const bulk_ident *id, const bulk_progress *p)
{
    mv_buf_printf(b, "mailverify-bulk-state 1\njob %s\n", p->job_id);
    mv_buf_puts(b, "input ");
    mv_json_cstr(b, id->input, 0);
    mv_buf_printf(b, "\ninput_size %" PRIu64 "\ninput_mtime_ns %" PRId64 "\noptions ", id->size,
                  id->mtime_ns);
    mv_json_cstr(b, id->options, 0);
    mv_buf_printf(b, "\noffset %" PRIu64 "\nline %" PRIu64 "\nout %" PRIu64 "\nsplit", p->offset, p->line,
                  p->out_len);
    for (int i = 0; i < BULK_NSPLIT; i++)
        mv_buf_printf(b, " %" PRIu64, p->split_len[i]);
    mv_buf_printf(
        b, "\nrows %" PRIu64 "\nbad %" PRIu64 "\nblank %" PRIu64 "\ngrey %" PRIu64 "\nseconds %.3f\nstatus",
        p->rows, p->bad_rows, p->blank, p->greylist_waits, p->seconds);
    for (int i = 0; i < MV_STATUS_COUNT; i++)
        mv_buf_printf(b, " %" PRIu64, p->by_status[i]);
    mv_buf_puts(b, "\nreason");
    for (int i = 0; i < MV_R_COUNT; i++)
        mv_buf_printf(b, " %" PRIu64, p->by_reason[i]);
    mv_buf_putc(b, '\n');
}

/* bulk_state_write - the progress, atomically (temp file, fsync, rename) */
bool bulk_state_write(const char *path, const bulk_ident *id, const bulk_progress *p)
{
    mv_buf b = {0};
    char tmp[4200];
    int fd;
    bool ok;

    state_text(&b, id, p);
    mv_buf_printf(&b, "sum %016" PRIx64 "\n", fnv(b.data, b.len));
    if (!mv_buf_ok(&b) || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        mv_buf_free(&b);
        fprintf(stderr, "mailverify bulk: %s: out of memory\n", path);
        return false;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    ok = fd >= 0 && write_all(fd, b.data, b.len) && fsync(fd) == 0;
    if (fd >= 0 && close(fd) < 0)
        ok = false;
    if (ok && rename(tmp, path) < 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "mailverify bulk: cannot write the state file %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    mv_buf_free(&b);
    return ok;
}

/* read_small - a whole small file into a NUL-terminated string */
static char *read_small(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s;

    if (f == NULL)
        return NULL;
    if ((s = malloc(65536)) != NULL) {
        *len = fread(s, 1, 65535, f);
        s[*len] = '\0';
    }
    fclose(f);
    return s;
}

/* parse_nums - "key n n n" into out[count]; false unless exactly that */
static bool parse_nums(const char *text, const char *key, uint64_t *out, int count)
{
    char pat[32];
    const char *p;

    snprintf(pat, sizeof(pat), "\n%s ", key);
    if ((p = strstr(text, pat)) == NULL)
        return false;
    p += strlen(pat);
    for (int i = 0; i < count; i++) {
        char *end;

        out[i] = strtoull(p, &end, 10);
        if (end == p || (*end != ' ' && *end != '\n'))
            return false;
        p = end + (*end == ' ');
    }
    return *p == '\n' || p[-1] == '\n';
}

/* parse_state - the numbers of a checked state body into p */
static bool parse_state(const char *text, bulk_progress *p)
{
    const char *job = strstr(text, "\njob ");
    const char *sec = strstr(text, "\nseconds ");

    if (job == NULL || sec == NULL || strspn(job + 5, "0123456789abcdef") != 32)
        return false;
    memcpy(p->job_id, job + 5, 32);
    p->job_id[32] = '\0';
    p->seconds = strtod(sec + 9, NULL);
    return parse_nums(text, "offset", &p->offset, 1) && parse_nums(text, "line", &p->line, 1) &&
           parse_nums(text, "out", &p->out_len, 1) && parse_nums(text, "split", p->split_len, BULK_NSPLIT) &&
           parse_nums(text, "rows", &p->rows, 1) && parse_nums(text, "bad", &p->bad_rows, 1) &&
           parse_nums(text, "blank", &p->blank, 1) && parse_nums(text, "grey", &p->greylist_waits, 1) &&
           parse_nums(text, "status", p->by_status, MV_STATUS_COUNT) &&
           parse_nums(text, "reason", p->by_reason, MV_R_COUNT);
}

/* bulk_state_read - 1: read and matching; 0: no state file; -1: unusable */
int bulk_state_read(const char *path, const bulk_ident *id, bulk_progress *p)
{
    size_t len = 0;
    char *text = read_small(path, &len), *sum;
    mv_buf want = {0};
    bulk_progress tmp = {.line = 1};
    int rc = -1;

    if (text == NULL)
        return errno == ENOENT
                   ? 0
                   : (fprintf(stderr, "mailverify bulk: cannot read %s: %s\n", path, strerror(errno)), -1);
    sum = strstr(text, "sum ");
    if (sum == NULL || sum == text || sum[-1] != '\n' ||
        strtoull(sum + 4, NULL, 16) != fnv(text, (size_t)(sum - text)) || !parse_state(text, &tmp)) {
        fprintf(stderr,
                "mailverify bulk: the state file %s is damaged; rerun without "
                "--resume\n",
                path);
        goto out;
    }
    /* the same input (path, size, time) and the same options, or the
     * offsets mean nothing */
    state_text(&want, id, &tmp);
    if (!mv_buf_ok(&want) || want.len != (size_t)(sum - text) || memcmp(want.data, text, want.len) != 0) {
        fprintf(stderr,
                "mailverify bulk: %s belongs to another run: the input file or the "
                "options that shape the output differ; rerun with the same ones, or without "
                "--resume to start again\n",
                path);
        goto out;
    }
    *p = tmp;
    rc = 1;
out:
    mv_buf_free(&want);
    free(text);
    return rc;
}

/* ---- the end of a job -------------------------------------------------- */

/* bulk_completion_json - the job's end as one JSON object */
void bulk_completion_json(mv_buf *b, const bulk_summary *s)
{
    const bulk_progress *p = s->p;

    mv_buf_printf(b, "{\"event\":\"bulk.%s\",\"job\":\"%s\",\"input\":",
                  s->complete ? "completed" : "interrupted", p->job_id);
    mv_json_cstr(b, s->input, 0);
    mv_buf_puts(b, ",\"output\":");
    mv_json_cstr(b, s->output, 0);
    mv_buf_puts(b, ",\"split_dir\":");
    if (s->split_dir != NULL)
        mv_json_cstr(b, s->split_dir, 0);
    else
        mv_buf_puts(b, "null");
    mv_buf_printf(b,
                  ",\"complete\":%s,\"rows\":%" PRIu64 ",\"bad_rows\":%" PRIu64 ",\"blank_lines\":%" PRIu64
                  ",\"greylist_waits\":%" PRIu64 ",\"status\":{",
                  s->complete ? "true" : "false", p->rows, p->bad_rows, p->blank, p->greylist_waits);
    for (int i = 0; i < MV_STATUS_COUNT; i++)
        mv_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", mv_status_name((mv_status)i), p->by_status[i]);
    mv_buf_puts(b, "},\"reason\":{");
    for (int i = 0, k = 0; i < MV_R_COUNT; i++)
        if (p->by_reason[i] > 0)
            mv_buf_printf(b, "%s\"%s\":%" PRIu64, k++ ? "," : "", mv_reason_name((mv_reason)i),
                          p->by_reason[i]);
    mv_buf_printf(b, "},\"seconds\":%.3f}", p->seconds);
}

/* pct - a share as a percentage, 0 of 0 being 0 */
static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* bulk_summary_print - counts and percentages, time and rate, for people */
void bulk_summary_print(FILE *f, const bulk_summary *s)
{
    const bulk_progress *p = s->p;

    fprintf(f,
            "mailverify bulk: %s: %" PRIu64 " rows in %.1f s (this run: %" PRIu64
            " rows in %.1f s, %.0f rows/s)\n",
            s->complete ? "done" : "interrupted", p->rows, p->seconds, s->run_rows, s->run_seconds,
            s->run_seconds > 0 ? (double)s->run_rows / s->run_seconds : 0.0);
    for (int i = 0; i < MV_STATUS_COUNT; i++)
        fprintf(f, "  %-15s %10" PRIu64 "  %5.1f%%\n", mv_status_name((mv_status)i), p->by_status[i],
                pct(p->by_status[i], p->rows));
    fputs("  by reason:\n", f);
    for (int i = 0; i < MV_R_COUNT; i++)
        if (p->by_reason[i] > 0)
            fprintf(f, "    %-20s %10" PRIu64 "  %5.1f%%\n", mv_reason_name((mv_reason)i), p->by_reason[i],
                    pct(p->by_reason[i], p->rows));
    if (p->bad_rows || p->blank || p->greylist_waits)
        fprintf(f,
                "  malformed rows %" PRIu64 ", empty lines skipped %" PRIu64
                ", asked again after greylisting %" PRIu64 "\n",
                p->bad_rows, p->blank, p->greylist_waits);
    fprintf(f, "  job %s, output %s%s%s\n", p->job_id, s->output, s->split_dir ? ", split files in " : "",
            s->split_dir ? s->split_dir : "");
    if (!s->complete && strcmp(s->output, "-") != 0)
        fputs("  rerun the same command with --resume to continue where this run stopped\n", f);
}
