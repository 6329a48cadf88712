/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk.h - the insides of `mailverify bulk`, shared by cli_bulk.c (the
 * submission loop, progress, signals), cli_bulk_setup.c (options, input,
 * outputs, resume, summary), cli_bulk_group.c (rows held by domain) and
 * cli_bulk_io.c (output rows, output files, the resume state file, the
 * completion JSON).
 *
 * A run reads records in input order and gives each a sequence number and
 * a slot in a ring (the reorder window). A slot is filled by the engine's
 * callback and written out only when every slot before it has been: the
 * output keeps the input's order, and memory is bounded by the ring, not
 * by the input. The state file records how far the written output goes,
 * in input bytes and in output bytes, so that a rerun can continue there.
 */
#ifndef MV_CLI_BULK_H
#define MV_CLI_BULK_H

#include "buf.h"
#include "verdict.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { BULK_OUT_CSV, BULK_OUT_JSONL };

/* The per-status split files, in mv_status order. */
#define BULK_NSPLIT MV_STATUS_COUNT

/* One output file, buffered; len counts what was handed to it. */
typedef struct {
    int fd;
    char *path;
    mv_buf buf;
    uint64_t len; /* bytes written or buffered so far */
} bulk_file;

/* What a run has done: restored from the state file on --resume. */
typedef struct {
    char job_id[33];  /* 32 hex digits, kept across resumes */
    uint64_t offset;  /* input bytes consumed by the written rows */
    uint64_t line;    /* the input line the next record starts on */
    uint64_t out_len; /* bytes of the main output */
    uint64_t split_len[BULK_NSPLIT];
    uint64_t rows;     /* rows with a verdict written */
    uint64_t bad_rows; /* malformed records (kept or skipped) */
    uint64_t blank;    /* empty lines skipped */
    uint64_t by_status[MV_STATUS_COUNT];
    uint64_t by_reason[MV_R_COUNT];
    uint64_t greylist_waits; /* addresses asked again after greylisting */
    double seconds;          /* wall time of every run of this job */
} bulk_progress;

/* The end of a job, for people (summary) and programs (completion JSON). */
typedef struct {
    const bulk_progress *p;
    const char *input;     /* path, or "-" */
    const char *output;    /* path, or "-" */
    const char *split_dir; /* NULL: none */
    bool complete;         /* false: interrupted, resumable */
    double run_seconds;    /* this run only */
    uint64_t run_rows;     /* rows written by this run only */
} bulk_summary;

/* The identity of a job's input and options, checked on --resume. */
typedef struct {
    const char *input;
    uint64_t size;
    int64_t mtime_ns;
    const char *options; /* a canonical string of the options that shape output */
} bulk_ident;

/* Rows held by domain until a group is full (cli_bulk_group.c). */
typedef struct bulk_groups bulk_groups;
typedef void (*bulk_flush_fn)(void *arg, uint64_t seq);

/* bulk_groups_new - groups of batch rows, held at most hold_ms; fn gets
 * each released row, in input order within a group; NULL on ENOMEM */
bulk_groups *bulk_groups_new(size_t batch, uint64_t hold_ms, bulk_flush_fn fn, void *arg);

/* bulk_groups_add - hold row seq for domain; a full group becomes ready;
 * -1 on ENOMEM (then nothing was held) */
int bulk_groups_add(bulk_groups *g, const char *domain, uint64_t seq, uint64_t now);

/* bulk_groups_release - release one group: a full one, else the oldest if
 * it waited hold_ms or all is asked; false if none went */
bool bulk_groups_release(bulk_groups *g, uint64_t now, bool all);

/* bulk_groups_held - rows held now */
size_t bulk_groups_held(const bulk_groups *g);

/* bulk_groups_free - forget what is held (without handing it on) */
void bulk_groups_free(bulk_groups *g);

/* bulk_file_open - create (truncate) or, resuming, reopen at keep bytes;
 * -1 with the message on stderr */
int bulk_file_open(bulk_file *f, const char *path, bool resume, uint64_t keep);

/* bulk_file_put - buffer bytes; false after a failed write (reported) */
bool bulk_file_put(bulk_file *f, const char *s, size_t n);

/* bulk_file_flush - write the buffer out; sync too when asked */
bool bulk_file_flush(bulk_file *f, bool sync);

/* bulk_file_close - flush, close, free; false if a write failed */
bool bulk_file_close(bulk_file *f);

/* bulk_defuse_put - a field of ours into a CSV row: quoted, and with a
 * leading ' when a spreadsheet would take it for a formula */
void bulk_defuse_put(mv_buf *b, const char *s, size_t n, char delim);

/* bulk_csv_columns - our column names, after the input's (header row) */
void bulk_csv_columns(mv_buf *b, char delim, const char *prefix);

/* bulk_csv_fields - our fields of a verdict, delimiter first */
void bulk_csv_fields(mv_buf *b, const mv_verdict *v, char delim);

/* bulk_jsonl - the verdict as one JSON line, with the input line first */
void bulk_jsonl(mv_buf *b, const mv_verdict *v, uint64_t line);

/* bulk_state_path - OUTPUT.mvstate into a new string; NULL on ENOMEM */
char *bulk_state_path(const char *output);

/* bulk_state_write - the progress, atomically (temp file, fsync, rename) */
bool bulk_state_write(const char *path, const bulk_ident *id, const bulk_progress *p);

/* bulk_state_read - 1: read and matching; 0: no state file; -1: unusable
 * (why on stderr) */
int bulk_state_read(const char *path, const bulk_ident *id, bulk_progress *p);

/* bulk_completion_json - the job's end as one JSON object: job id,
 * complete or interrupted, counts per status and reason, rows, bad rows,
 * time, output paths. For the completion webhook and --summary-json. */
void bulk_completion_json(mv_buf *b, const bulk_summary *s);

/* bulk_summary_print - counts and percentages per status and reason,
 * time and rate, for people */
void bulk_summary_print(FILE *f, const bulk_summary *s);

#endif
