/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk.c - `mailverify bulk`: clean a list (CSV or one address a line)
 * with the engine, as fast as the destination servers allow and no faster.
 *
 * Records are read one at a time (csv.h: a bounded buffer, never the whole
 * file), each gets a slot in a ring and goes to the engine with
 * mv_engine_submit(); at most --window addresses are in flight. The engine
 * does the etiquette: it batches the RCPTs of a domain that reach it
 * together into shared sessions (so rows read ahead are held by domain and
 * handed over in groups: cli_bulk_group.c), keeps to the per-domain and per-host limits, answers 452,
 * single-flights duplicates and caches verdicts and domain facts. A
 * greylisted address is asked again after the server's delay (the engine
 * re-probes it in the background into its cache) until --max-wait runs
 * out. Rows are written in input order as the head of the ring finishes;
 * a slow head holds back the rows behind it, and, once the ring is full,
 * reading: memory stays bounded whatever the input's size.
 *
 * The state file (OUTPUT.mvstate) is rewritten about once a second, after
 * the output has been synced: the input offset and output length of the
 * last row written. --resume truncates the output there and seeks the
 * input, so a run killed at any point continues without losing or
 * repeating a row. SIGINT and SIGTERM stop reading, let the addresses in
 * flight finish (a second signal: at once), write what is done, save the
 * state and print the summary.
 *
 * This file is the run; cli_bulk_setup.c everything before and after it
 * (options, input and outputs, --resume, the summary and the webhook).
 */
#include "cli_bulk_int.h"

volatile sig_atomic_t bulk_got_signal, bulk_signal_count;

/* bulk_on_signal - SIGINT/SIGTERM: the loop notices within 100 ms */
void bulk_on_signal(int sig)
{
    bulk_got_signal = sig;
    bulk_signal_count++;
}

/* bulk_now_ms - monotonic milliseconds */
uint64_t bulk_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- rows -------------------------------------------------------------- */

/* bulk_csv_lead - a CSV row's input part: the record as read, or quoted */
void bulk_csv_lead(bulk *bk, const slot *s, mv_buf *b)
{
    char dummy[1];
    size_t need;

    if (bk->kind == MV_CSV_PLAIN || s->bad) {
        /* a plain line, or a malformed record, is one field of ours to quote */
        need = mv_csv_quote(dummy, sizeof(dummy), s->raw, s->rawlen, bk->delim);
        if (mv_buf_reserve(b, need + 1)) {
            mv_csv_quote(b->data + b->len, need + 1, s->raw, s->rawlen, bk->delim);
            b->len += need;
        }
        for (size_t i = 1; s->bad && i < bk->hdr_fields; i++)
            mv_buf_putc(b, bk->delim);
    } else {
        mv_buf_put(b, s->raw, s->rawlen);
    }
}

/* csv_row - the input's columns as they were, then ours */
static void csv_row(bulk *bk, const slot *s, const mv_verdict *v, mv_buf *b)
{
    bulk_csv_lead(bk, s, b);
    bulk_csv_fields(b, v, bk->delim);
    mv_buf_puts(b, bk->eol);
}

/* grey_again - should this greylisted answer be asked again later? */
static bool grey_again(bulk *bk, slot *s, const mv_verdict *v, uint64_t now)
{
    uint64_t wait;

    if (v->reason != MV_R_GREYLISTED || bk->max_wait_s == 0 || bk->stopping)
        return false;
    if (!s->greyed) {
        s->greyed = true;
        s->grey_until = now + (uint64_t)bk->max_wait_s * 1000;
    }
    /* A fresh answer names the server's delay; the engine re-probes then,
     * in the background, into its cache. A cached "greylisted" means that
     * re-probe has not finished (or was greylisted again): look again soon. */
    if (v->cached)
        wait = 2000;
    else
        wait = (uint64_t)(v->net.retry_after ? v->net.retry_after : bk->greylist_retry_s) * 1000 + 1000;
    if (now + wait > s->grey_until)
        return false;
    s->grey_at = now + wait;
    return true;
}

/* on_verdict - the engine's one answer for a slot (its thread, or inline) */
static void on_verdict(void *arg, const mv_verdict *v)
{
    slot *s = arg;
    bulk *bk = s->bk;
    mv_buf row = {0};

    pthread_mutex_lock(&bk->mu);
    bk->inflight--;
    if (bk->abandon || grey_again(bk, s, v, bulk_now_ms())) {
        if (!bk->abandon) {
            s->state = SLOT_GREY;
            bk->ngrey++;
        }
        pthread_cond_signal(&bk->cond);
        pthread_mutex_unlock(&bk->mu);
        return;
    }
    pthread_mutex_unlock(&bk->mu);
    /* the slot is ours until it is marked done: format without the lock */
    if (bk->format == BULK_OUT_JSONL)
        bulk_jsonl(&row, v, s->line);
    else
        csv_row(bk, s, v, &row);
    pthread_mutex_lock(&bk->mu);
    s->oom = !mv_buf_ok(&row);
    s->out = row.data;
    s->outlen = row.len;
    s->status = v->status;
    s->reason = v->reason;
    s->state = SLOT_DONE;
    pthread_cond_signal(&bk->cond);
    pthread_mutex_unlock(&bk->mu);
}

/* submit - hand a slot's address to the engine; false on an engine error */
static bool submit(bulk *bk, slot *s)
{
    mv_call rc;

    pthread_mutex_lock(&bk->mu);
    s->state = SLOT_INFLIGHT;
    bk->inflight++;
    pthread_mutex_unlock(&bk->mu);
    bk->req.address = s->addr;
    bk->req.len = s->addrlen;
    if ((rc = mv_engine_submit(bk->engine, &bk->req, on_verdict, s)) == MV_OK)
        return true;
    pthread_mutex_lock(&bk->mu);
    bk->inflight--;
    s->state = SLOT_FREE;
    pthread_mutex_unlock(&bk->mu);
    fprintf(stderr, "mailverify bulk: engine: %s%s%s\n", mv_call_name(rc), rc == MV_ENETSTART ? ": " : "",
            rc == MV_ENETSTART ? mv_engine_error(bk->engine) : "");
    return false;
}

/* ---- reading ----------------------------------------------------------- */

/* bulk_read_fd - csv.h's read function over the input descriptor */
ssize_t bulk_read_fd(void *arg, char *buf, size_t n)
{
    bulk *bk = arg;
    ssize_t r;

    do
        r = read(bk->in_fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* bulk_clear_progress - wipe the terminal's progress line before other text */
void bulk_clear_progress(bulk *bk)
{
    if (bk->tty && !bk->quiet)
        fputs("\r\033[K", stderr);
}

/* report_bad - a malformed record, named with its line (the first few) */
static void report_bad(bulk *bk, uint64_t line, const char *why)
{
    if (++bk->bad_seen > BAD_REPORTED)
        return;
    bulk_clear_progress(bk);
    fprintf(stderr, "mailverify bulk: %s: line %" PRIu64 ": %s (%s)\n",
            strcmp(bk->input, "-") == 0 ? "standard input" : bk->input, line, why,
            bk->bad_keep ? "kept as invalid_syntax" : "skipped");
    if (bk->bad_seen == BAD_REPORTED)
        fputs("mailverify bulk: further malformed rows are only counted (see the summary)\n", stderr);
}

/* dup_bytes - a copy of n bytes (NUL-terminated), or NULL */
static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* fill_slot - a record's place, copies and address; false on ENOMEM */
static bool fill_slot(bulk *bk, slot *s, const mv_csv_record *rec, bool bad)
{
    const char *a = "";
    size_t alen = 0, keep = rec->rawlen < RAW_KEEP ? rec->rawlen : RAW_KEEP;

    memset(s, 0, sizeof(*s));
    s->bk = bk;
    s->line = rec->line;
    mv_csv_tell(bk->csv, &s->end, &s->next_line);
    s->bad = bad;
    if (!bad && (size_t)bk->col < rec->nfields) {
        a = rec->fields[bk->col].ptr;
        alen = rec->fields[bk->col].len;
    }
    s->raw = dup_bytes(rec->raw, keep);
    s->rawlen = keep;
    s->addr = dup_bytes(a, alen);
    s->addrlen = alen;
    return s->raw != NULL && s->addr != NULL;
}

/* domain_key - the lowercased text after the last @, for grouping */
static bool domain_key(const char *a, size_t n, char *key, size_t size)
{
    const char *at = memrchr(a, '@', n);
    size_t k;

    if (at == NULL || (k = n - (size_t)(at + 1 - a)) == 0 || k >= size || memchr(at + 1, '\0', k) != NULL)
        return false;
    for (size_t i = 0; i < k; i++)
        key[i] = (char)tolower((unsigned char)at[1 + i]);
    key[k] = '\0';
    return true;
}

/* bulk_on_release - a domain group's row goes to the engine */
void bulk_on_release(void *arg, uint64_t seq)
{
    bulk *bk = arg;

    if (!submit(bk, &bk->ring[seq % bk->nring]))
        bk->fatal = EX_SOFTWARE;
}

/* hold_or_submit - hold a row with its domain's, or submit it now */
static bool hold_or_submit(bulk *bk, slot *s, uint64_t seq)
{
    char key[256];

    /* a fleet job: into the record's chunk, unless too long to travel */
    if (bk->bf != NULL && bulk_fleet_take(bk, s, seq))
        return true;
    if (bk->groups == NULL || s->bad || !domain_key(s->addr, s->addrlen, key, sizeof(key)))
        return submit(bk, s);
    pthread_mutex_lock(&bk->mu);
    s->state = SLOT_HELD;
    pthread_mutex_unlock(&bk->mu);
    if (bulk_groups_add(bk->groups, key, seq, bulk_now_ms()) < 0)
        return submit(bk, s);
    return bk->fatal == 0;
}

/* read_one - the next record into the ring: 1 queued, 0 end, else an exit status */
static int read_one(bulk *bk)
{
    mv_csv_record rec;
    mv_csv_status st = mv_csv_next(bk->csv, &rec);
    slot *s = &bk->ring[bk->seq_read % bk->nring];

    int rc;

    if (st == MV_CSV_END) {
        bk->eof = true;
        return bk->bf != NULL ? bulk_fleet_after_read(bk, 0, true) : 0;
    }
    if (st == MV_CSV_EIO) {
        fprintf(stderr, "mailverify bulk: cannot read %s: %s\n", bk->input, strerror(errno));
        return EX_IOERR;
    }
    if (st == MV_CSV_ENOMEM || !fill_slot(bk, s, &rec, st == MV_CSV_BAD)) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    bk->seq_read++;
    if (st == MV_CSV_BAD)
        report_bad(bk, s->line, mv_csv_error(bk->csv));
    if ((st == MV_CSV_BAD && !bk->bad_keep) || (st != MV_CSV_BAD && rec.rawlen == 0)) {
        s->skip = true;
        s->blank = st != MV_CSV_BAD;
        s->state = SLOT_DONE;
    } else if (!hold_or_submit(bk, s, bk->seq_read - 1)) {
        return EX_SOFTWARE;
    }
    if (bk->bf != NULL && (rc = bulk_fleet_after_read(bk, bk->seq_read - 1, false)) != 0)
        return rc;
    return 1;
}

/* ---- writing ----------------------------------------------------------- */

/* write_slot - a finished row to the output (and its split file) */
static bool write_slot(bulk *bk, slot *s)
{
    bool ok = true;

    if (s->oom) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return false;
    }
    if (!s->skip) {
        ok = bulk_file_put(&bk->out, s->out, s->outlen);
        if (ok && bk->use_split)
            ok = bulk_file_put(&bk->split[s->status], s->out, s->outlen);
        bk->p.rows++;
        bk->run_rows++;
        bk->p.by_status[s->status]++;
        bk->p.by_reason[s->reason]++;
        bk->p.greylist_waits += s->greyed;
    }
    bk->p.bad_rows += s->bad;
    bk->p.blank += s->blank;
    bk->p.offset = s->end;
    bk->p.line = s->next_line;
    return ok;
}

/* bulk_release_slot - a written slot's memory */
void bulk_release_slot(slot *s)
{
    free(s->out);
    free(s->raw);
    free(s->addr);
    s->out = s->raw = s->addr = NULL;
}

/* drain - write every finished row at the head of the ring, in order */
static bool drain(bulk *bk)
{
    for (;;) {
        slot *s = &bk->ring[bk->seq_written % bk->nring];
        int st;

        if (bk->seq_written == bk->seq_read)
            return true;
        pthread_mutex_lock(&bk->mu);
        st = s->state;
        pthread_mutex_unlock(&bk->mu);
        if (st != SLOT_DONE)
            return true;
        if (!write_slot(bk, s))
            return false;
        bulk_release_slot(s);
        pthread_mutex_lock(&bk->mu);
        s->state = SLOT_FREE;
        bk->seq_written++;
        pthread_mutex_unlock(&bk->mu);
    }
}

/* resubmit_due - greylisted addresses whose wait is over go again */
static bool resubmit_due(bulk *bk, uint64_t now)
{
    for (uint64_t q = bk->seq_written; q < bk->seq_read && bk->ngrey > 0; q++) {
        slot *s = &bk->ring[q % bk->nring];
        bool due;

        pthread_mutex_lock(&bk->mu);
        due = s->state == SLOT_GREY && s->grey_at <= now;
        if (due)
            bk->ngrey--;
        pthread_mutex_unlock(&bk->mu);
        if (due && !submit(bk, s))
            return false;
    }
    return true;
}

/* bulk_checkpoint - sync the output, then record how far it goes */
bool bulk_checkpoint(bulk *bk, bool sync)
{
    bool ok = bulk_file_flush(&bk->out, sync && bk->state_path);

    for (int i = 0; bk->use_split && i < BULK_NSPLIT; i++)
        ok = ok && bulk_file_flush(&bk->split[i], sync && bk->state_path);
    bk->p.out_len = bk->out.len;
    for (int i = 0; bk->use_split && i < BULK_NSPLIT; i++)
        bk->p.split_len[i] = bk->split[i].len;
    bk->p.seconds = bk->prev_seconds + (double)(bulk_now_ms() - bk->t0) / 1000.0;
    if (ok && bk->state_path != NULL && sync)
        ok = bulk_state_write(bk->state_path, &bk->id, &bk->p);
    if (ok && (sync || bk->state_path == NULL))
        bk->seq_vouched = bk->seq_written;
    return ok;
}

/* ---- progress ---------------------------------------------------------- */

/* progress - one line: rows, share of input read, rate, time left, counts */
static void progress(bulk *bk, uint64_t now)
{
    double secs = (double)(now - bk->t0) / 1000.0, rate = secs > 0 ? (double)bk->run_rows / secs : 0;
    uint64_t done_bytes = bk->p.offset, run_bytes = bk->p.offset - bk->base_off;
    char eta[32] = "?", share[16] = "";

    if (bk->in_size > 0) {
        snprintf(share, sizeof(share), " %5.1f%%", 100.0 * (double)done_bytes / (double)bk->in_size);
        if (run_bytes > 0 && secs > 1) {
            double left = (double)(bk->in_size - done_bytes) * secs / (double)run_bytes;

            snprintf(eta, sizeof(eta), "%d:%02d:%02d", (int)(left / 3600), (int)(left / 60) % 60,
                     (int)left % 60);
        }
    }
    fprintf(stderr,
            "%s%" PRIu64 " rows%s, %.0f/s, ETA %s; deliverable %" PRIu64 ", undeliverable %" PRIu64
            ", risky %" PRIu64 ", unknown %" PRIu64 "; in flight %zu",
            bk->tty ? "\r\033[K" : "mailverify bulk: ", bk->p.rows, share, rate, eta,
            bk->p.by_status[MV_STATUS_DELIVERABLE], bk->p.by_status[MV_STATUS_UNDELIVERABLE],
            bk->p.by_status[MV_STATUS_RISKY], bk->p.by_status[MV_STATUS_UNKNOWN], bk->inflight);
    if (bk->ngrey)
        fprintf(stderr, ", greylisted waiting %zu", bk->ngrey);
    if (bk->bf != NULL)
        bulk_fleet_progress(bk, stderr);
    if (!bk->tty)
        fputc('\n', stderr);
    fflush(stderr);
}

/* tick - progress and checkpoints, each at its interval */
static bool tick(bulk *bk, uint64_t now)
{
    uint64_t every = bk->tty ? 250 : (uint64_t)bk->progress_s * 1000;

    if (!bk->quiet && every > 0 && now - bk->last_prog >= every) {
        bk->last_prog = now;
        progress(bk, now);
    }
    if (now - bk->last_ckpt >= CHECKPOINT_MS) {
        bk->last_ckpt = now;
        return bulk_checkpoint(bk, true);
    }
    return true;
}

/* ---- the loop ---------------------------------------------------------- */

/* begin_stop - a signal: read no more, let what is in flight finish */
static void begin_stop(bulk *bk)
{
    pthread_mutex_lock(&bk->mu);
    bk->stopping = true;
    pthread_mutex_unlock(&bk->mu);
    if (!bk->quiet) {
        bulk_clear_progress(bk);
        fprintf(stderr,
                "mailverify bulk: %s: finishing %zu addresses in flight "
                "(again to stop at once)\n",
                bulk_got_signal == SIGTERM ? "SIGTERM" : "interrupted", bk->inflight);
    }
}

/* window_now - the window, opened gradually over the first second or so:
 * 500 in flight, doubled every 200 ms. A shuffled list brings every
 * domain at once, and each new domain costs an MX and an address lookup;
 * thousands of queries in one burst overflow the UDP receive buffers of
 * the resolver and of the engine (measured: 2% of the bench list unknown,
 * dns_error), so the lookups are spread instead. */
static size_t window_now(const bulk *bk)
{
    uint64_t steps = (bulk_now_ms() - bk->t0) / 200;
    size_t w = steps >= 16 ? bk->window : (size_t)500 << steps;

    return w < bk->window ? w : bk->window;
}

/* can_read - room in the ring and the window, and a reason to read */
static bool can_read(bulk *bk)
{
    bool can;

    pthread_mutex_lock(&bk->mu);
    can = !bk->eof && !bk->stopping && bk->seq_read - bk->seq_written < bk->nring &&
          bk->inflight < window_now(bk);
    pthread_mutex_unlock(&bk->mu);
    return can;
}

/* wait_a_little - until a verdict arrives, or 100 ms */
static void wait_a_little(bulk *bk)
{
    /* a fleet job's results come by asking Redis, not by a callback */
    struct timespec ts = mv_deadline_after(bk->bf != NULL ? 20 : 100);

    pthread_mutex_lock(&bk->mu);
    /* nothing new at the head: sleep until a callback says otherwise */
    if (bk->ring[bk->seq_written % bk->nring].state != SLOT_DONE || bk->seq_written == bk->seq_read)
        pthread_cond_timedwait(&bk->cond, &bk->mu, &ts);
    pthread_mutex_unlock(&bk->mu);
}

/* finished - nothing left to do (complete, or stopped and drained) */
static bool finished(bulk *bk)
{
    bool done;

    pthread_mutex_lock(&bk->mu);
    done = bk->stopping ? bk->inflight == 0 : bk->eof && bk->seq_written == bk->seq_read;
    pthread_mutex_unlock(&bk->mu);
    return done;
}

/* release_groups - held rows whose time has come, while the window has
 * room: full groups, groups held too long, and at the end of the input or
 * with a full ring, any */
static void release_groups(bulk *bk, uint64_t now)
{
    bool all = bk->eof || bk->seq_read - bk->seq_written >= bk->nring;

    for (;;) {
        bool room;

        pthread_mutex_lock(&bk->mu);
        room = bk->inflight < window_now(bk);
        pthread_mutex_unlock(&bk->mu);
        if (!room || !bulk_groups_release(bk->groups, now, all))
            return;
    }
}

/* run - read, submit, write, until done or stopped; an exit status */
static int run(bulk *bk)
{
    int rc;
    unsigned reads = 0;

    for (;;) {
        uint64_t now;

        if (!drain(bk))
            return EX_IOERR;
        if (bulk_got_signal && !bk->stopping)
            begin_stop(bk);
        if (bulk_signal_count >= 2 || finished(bk))
            return 0;
        now = bulk_now_ms();
        if (bk->fatal != 0)
            return bk->fatal;
        if (bk->groups != NULL && !bk->stopping)
            release_groups(bk, now);
        if (bk->ngrey > 0 && !bk->stopping && now - bk->last_grey >= 100) {
            bk->last_grey = now;
            if (!resubmit_due(bk, now))
                return EX_SOFTWARE;
        }
        if (bk->bf != NULL && (rc = bulk_fleet_tick(bk, now)) != 0)
            return rc;
        if (!tick(bk, now))
            return EX_IOERR;
        /* read in bursts, but come back to write and tick now and then */
        for (reads = 0; reads < 256 && can_read(bk); reads++)
            if ((rc = read_one(bk)) != 1) {
                if (rc != 0)
                    return rc;
                break;
            }
        if (reads == 0)
            wait_a_little(bk);
    }
}

int cli_bulk(int argc, char **argv)
{
    bulk *bk = calloc(1, sizeof(*bk));
    int rc;

    if (bk == NULL)
        return EX_SOFTWARE;
    *bk = (bulk){.co = {.eo = CLI_ENGINE_OPTIONS, .mode = MV_MODE_CONTEXT},
                 .chunk = FLEET_CHUNK_DEFAULT,
                 .lease_s = FLEET_LEASE_DEFAULT,
                 .output = "-",
                 .header = true,
                 .bad_keep = true,
                 .window = 10000,
                 .max_wait_s = 360,
                 .progress_s = 10,
                 .in_fd = -1};
    pthread_mutex_init(&bk->mu, NULL);
    mv_cond_init_monotonic(&bk->cond); /* a wall-clock step does not stall the loop */
    if ((rc = bulk_parse_args(argc, argv, bk)) != 0) {
        bulk_cleanup(bk);
        free(bk);
        return rc > 0 ? 0 : EX_USAGE;
    }
    if (bk->worker_job != NULL) {
        rc = bulk_worker_main(bk);
        bulk_cleanup(bk);
        free(bk);
        return rc;
    }
    bk->tty = isatty(STDERR_FILENO);
    bk->nring = bk->window * 8;
    /* a fleet job's ring holds a few chunks at least, or reading would wait
     * for a chunk that cannot fill */
    if (bk->fleet_job != NULL && bk->nring < 4 * (size_t)bk->chunk)
        bk->nring = 4 * (size_t)bk->chunk;
    bk->t0 = bk->last_ckpt = bk->last_prog = bulk_now_ms();
    if ((bk->ring = calloc(bk->nring, sizeof(*bk->ring))) == NULL)
        rc = EX_SOFTWARE;
    if (rc == 0 && (rc = bulk_start_engine(bk)) == 0 && (rc = bulk_prepare(bk)) == 0) {
        bulk_install_signals();
        rc = bulk_finish(bk, run(bk));
    }
    bulk_cleanup(bk);
    free(bk);
    return rc;
}
