/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_int.h - what the two halves of the command share: cli_bulk.c
 * (the run: rows, reading, writing in order, progress, the loop, signals)
 * and cli_bulk_setup.c (options, the input's header and column, the
 * output files, --resume, the engine and the webhook, the summary at the
 * end). cli_bulk.h is what the helpers (cli_bulk_io.c, cli_bulk_group.c)
 * share with both.
 */
#ifndef MV_CLI_BULK_INT_H
#define MV_CLI_BULK_INT_H

#include "cli.h"
#include "cli_bulk.h"
#include "cli_bulk_fleet.h"
#include "cli_opts.h"
#include "csv.h"
#include "engine.h"
#include "loop.h"
#include "webhook.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* killed by a signal, as a shell reports it (128 + the signal) */
enum { EXIT_SIGINT = 130, EXIT_SIGTERM = 143 };

#define RAW_KEEP (1u << 20) /* a malformed record is echoed at most this long */
#define BAD_REPORTED 20     /* malformed rows named on stderr, then only counted */
#define CHECKPOINT_MS 1000
#define HOLD_MS 300                /* a domain's rows wait at most this long for company */
#define BULK_WEBHOOK_WAIT_MS 30000 /* a finished job waits this long at most for its webhook */

enum { SLOT_FREE, SLOT_HELD, SLOT_INFLIGHT, SLOT_GREY, SLOT_DONE };

struct bulk;

/* One input record on its way to the output. */
typedef struct {
    struct bulk *bk;
    int state; /* SLOT_*; under bk->mu once submitted */
    bool skip; /* no output row (an empty line, a skipped bad row) */
    bool blank, bad, greyed;
    char *addr; /* the engine borrows it until the verdict */
    size_t addrlen;
    char *raw; /* the record as read (CSV: written back) */
    size_t rawlen;
    uint64_t line, next_line, end; /* input line; the next record's; offset past it */
    uint64_t grey_at, grey_until;  /* ask again at; give up after (ms) */
    mv_status status;
    mv_reason reason;
    char *out; /* the finished row */
    size_t outlen;
    bool oom;
    bool fleet; /* waiting for its chunk's result (--fleet) */
} slot;

typedef struct bulk {
    /* options */
    cli_common co;
    const char *input, *output, *split_dir, *column, *summary_json;
    int format;
    mv_csv_kind kind;
    int kind_set;
    char delim;
    bool header, bad_keep, resume, quiet;
    size_t window;
    unsigned max_wait_s, progress_s;
    /* the engine */
    mv_engine *engine;
    mv_webhook *webhook; /* webhook.url's sender (bulk.completed), or NULL */
    mv_request req;
    unsigned greylist_retry_s;
    bulk_groups *groups; /* rows held by domain; NULL offline */
    size_t group_batch;  /* rows of a group */
    int fatal;           /* an engine error while releasing a group */
    /* input */
    int in_fd;
    mv_csv *csv;
    uint64_t base_off, base_line, in_size; /* where this run's reader begins */
    uint64_t data_off, data_line;          /* where the records begin */
    long col;
    size_t hdr_fields;
    const char *eol;
    /* output */
    bulk_file out, split[BULK_NSPLIT];
    bool use_split;
    char *state_path, *optstr;
    bulk_ident id;
    bulk_progress p;
    /* the ring, shared with the engine's callbacks */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    slot *ring;
    size_t nring, inflight, ngrey;
    uint64_t seq_read, seq_written;
    uint64_t seq_vouched; /* records the last saved state covers (or written, without one) */
    bool abandon, eof, stopping;
    /* this run */
    uint64_t t0, last_ckpt, last_prog, last_grey, run_rows, bad_seen;
    double prev_seconds;
    bool tty;
    /* --fleet JOB, --worker JOB (cli_bulk_fleet.c, cli_bulk_fwork.c) */
    const char *fleet_job, *worker_job;
    unsigned chunk, lease_s;
    bool fleet_resume; /* --resume as given (resume is cleared without a state file) */
    struct bulk_fleet *bf;
} bulk;

/* ---- cli_bulk.c ---- */

extern volatile sig_atomic_t bulk_got_signal, bulk_signal_count;

/* bulk_on_signal - SIGINT/SIGTERM: the loop notices within 100 ms */
void bulk_on_signal(int sig);

/* bulk_now_ms - monotonic milliseconds */
uint64_t bulk_now_ms(void);

/* bulk_read_fd - csv.h's read function over the input descriptor */
ssize_t bulk_read_fd(void *arg, char *buf, size_t n);

/* bulk_clear_progress - erase the progress line (a terminal) */
void bulk_clear_progress(bulk *bk);

/* bulk_on_release - a domain group's row goes to the engine */
void bulk_on_release(void *arg, uint64_t seq);

/* bulk_release_slot - a written slot's memory */
void bulk_release_slot(slot *s);

/* bulk_checkpoint - sync the output, then save the state file */
bool bulk_checkpoint(bulk *bk, bool sync);

/* bulk_csv_lead - a CSV row's input part: the record as read, or quoted */
void bulk_csv_lead(bulk *bk, const slot *s, mv_buf *b);

/* ---- cli_bulk_setup.c ---- */

/* bulk_parse_args - options into bk; 0, 1 (--help printed) or -1 (usage error) */
int bulk_parse_args(int argc, char **argv, bulk *bk);

/* bulk_start_engine - the engine (and webhook sender) for the run; an exit status */
int bulk_start_engine(bulk *bk);

/* bulk_prepare - input, header, outputs, --resume; an exit status */
int bulk_prepare(bulk *bk);

/* bulk_finish - state, files, summary, webhook after the loop; the exit status */
int bulk_finish(bulk *bk, int rc);

/* bulk_cleanup - free what the run made */
void bulk_cleanup(bulk *bk);

/* bulk_install_signals - SIGINT and SIGTERM set a flag */
void bulk_install_signals(void);

/* ---- cli_bulk_fleet.c: the starting host of --fleet JOB ---- */

/* bulk_fleet_start - the Redis connection of the job; an exit status */
int bulk_fleet_start(bulk *bk, const mv_settings *st);

/* bulk_fleet_begin - after the state file: the job made (or, --resume,
 * found or made again), the first record's number; an exit status */
int bulk_fleet_begin(bulk *bk);

/* bulk_fleet_take - a row read into its chunk; false: verify it here */
bool bulk_fleet_take(bulk *bk, slot *s, uint64_t seq);

/* bulk_fleet_after_read - record seq was read (or the input ended): a
 * complete chunk goes to the stream; an exit status */
int bulk_fleet_after_read(bulk *bk, uint64_t seq, bool eof);

/* bulk_fleet_tick - our own chunks, results, the keys' TTL; an exit status */
int bulk_fleet_tick(bulk *bk, uint64_t now);

/* bulk_fleet_progress - the workers and their rates, for the progress line */
void bulk_fleet_progress(bulk *bk, FILE *f);

/* bulk_fleet_end - a complete job: marked done, its keys removed */
void bulk_fleet_end(bulk *bk, bool complete);

/* bulk_fleet_abandon, bulk_fleet_free - before and after the engine is freed */
void bulk_fleet_abandon(bulk *bk);
void bulk_fleet_free(bulk *bk);

/* ---- cli_bulk_fwork.c ---- */

/* bulk_worker_main - mailverify bulk --worker JOB; an exit status */
int bulk_worker_main(bulk *bk);

#endif
