/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_fleet.h - `mailverify bulk --fleet JOB` and `--worker JOB`: one
 * bulk job shared by processes on several hosts through the Redis server
 * of cache.store = "redis". What cli_bulk_fleet.c (the connection, the
 * job's keys, the starting host's side), cli_bulk_fwork.c (a worker:
 * claiming chunks, verifying them, writing their results) and
 * cli_bulk_fcodec.c (the wire forms of chunks and results, and their
 * parsers) share.
 *
 * The job's keys, under cache.redis_prefix: job:JOB:meta (a hash: the
 * job's identity and the parameters workers verify with), job:JOB:chunks
 * (a stream with the consumer group "workers": one entry per chunk of
 * input records), job:JOB:res (a hash: chunk number -> the chunk's result
 * rows, written once with HSETNX) and job:JOB:workers (a hash: consumer ->
 * its counters, for progress). Chunk k holds the records k*C .. k*C+C-1 of
 * the input (C: --chunk), counted from the first record, so a resumed
 * starting host finds the same chunks under the same numbers.
 */
#ifndef MV_CLI_BULK_FLEET_H
#define MV_CLI_BULK_FLEET_H

#include "buf.h"
#include "config.h"
#include "engine.h"
#include "loop.h"
#include "redis.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define FLEET_JOB_MAX 64        /* a job name's bytes: [A-Za-z0-9._-] */
#define FLEET_CHUNK_DEFAULT 100 /* records per chunk */
#define FLEET_CHUNK_MAX 200     /* keeps a chunk's result under the client's 1 MiB reply */
#define FLEET_LEASE_DEFAULT 60  /* s: a silent worker's chunks go to another after this */
#define FLEET_ADDR_MAX 512      /* longer addresses are verified by the starting host */
#define FLEET_FIELDS_MAX 4096   /* one result row's fields (CSV fields or a verdict's JSON) */
#define FLEET_ENTRY_MAX (FLEET_CHUNK_MAX * (FLEET_ADDR_MAX + 16) + 64)
#define FLEET_ROW_MAX (FLEET_ADDR_MAX + FLEET_FIELDS_MAX + 64)
#define FLEET_RESULT_MAX (960 * 1024) /* a result fetched; FLEET_CHUNK_MAX rows of FLEET_ROW_MAX fit */
#define FLEET_JOB_TTL_S (7 * 86400)   /* job keys, refreshed while the job runs */
#define FLEET_DONE_TTL_S 3600         /* a finished job's meta, so that workers see it end */
#define FLEET_TIMEOUT_MIN_MS 5000     /* per Redis command: a bulk job waits longer than mail flow */
#define FLEET_REDO_MAX 3              /* a chunk whose result is unusable is verified again this often */

/* One chunk as it travels: which records (index within the chunk) and their addresses. */
typedef struct {
    unsigned long k; /* chunk number */
    size_t n;
    unsigned idx[FLEET_CHUNK_MAX];
    const char *addr[FLEET_CHUNK_MAX]; /* into the parsed text: not NUL-terminated */
    size_t alen[FLEET_CHUNK_MAX];
} fleet_chunk;

/* One result row, parsed; pointers into the result text. */
typedef struct {
    unsigned idx;
    int status, reason;
    bool greyed;
    const char *addr, *fields;
    size_t alen, flen;
} fleet_row;

/* The connection and the job's keys, for either side. */
typedef struct fleet {
    mv_loop *loop;
    mv_redis *r;
    const char *server;
    char job[FLEET_JOB_MAX + 1];
    char k_meta[MV_REDIS_PREFIX_MAX + FLEET_JOB_MAX + 16];
    char k_chunks[MV_REDIS_PREFIX_MAX + FLEET_JOB_MAX + 16];
    char k_res[MV_REDIS_PREFIX_MAX + FLEET_JOB_MAX + 16];
    char k_workers[MV_REDIS_PREFIX_MAX + FLEET_JOB_MAX + 16];
    char consumer[128];     /* host:pid */
    int pending;            /* commands sent, callbacks to come */
    mv_redis_status failed; /* the first failure of the current batch */
    mv_redis_status last;   /* the last batch's failure */
    bool said_down;         /* "Redis unreachable" was said (a worker waits) */
} fleet;

/* A command's completion: the reply goes to fn during the callback. */
typedef struct fleet_op {
    fleet *f;
    void (*fn)(struct fleet_op *op, const mv_redis_reply *rep);
    void *arg;
    mv_redis_status st;
    bool bad; /* fn found the reply unusable */
} fleet_op;

/* The job's parameters, as the meta hash holds them. */
typedef struct {
    unsigned chunk, lease_s, max_wait_s, timeout_ms;
    int format, delim, mode;
    bool done;
    char ident[2048];
    char by[128]; /* the starting host's consumer name ("" if none) */
} fleet_meta;

struct fworker;

/* ---- cli_bulk_fcodec.c ---- */

/* fleet_job_ok - a job name: 1 to FLEET_JOB_MAX of [A-Za-z0-9._-] */
bool fleet_job_ok(const char *job);

/* fleet_chunk_put - one record of a chunk, as the stream entry carries it */
void fleet_chunk_put(mv_buf *b, unsigned idx, const char *addr, size_t alen);

/* fleet_chunk_parse - a stream entry's rows; NULL or a reason it is unusable */
const char *fleet_chunk_parse(const char *s, size_t n, unsigned chunk_size, fleet_chunk *c);

/* fleet_result_head - the first line of a chunk's result */
void fleet_result_head(mv_buf *b, unsigned long k, size_t rows);

/* fleet_result_row - one row of a result */
void fleet_result_row(mv_buf *b, const fleet_row *r);

/* fleet_result_next - the next row of a result at *pos; 1 a row, 0 the
 * end, -1 unusable (why set) */
int fleet_result_next(const char *s, size_t n, size_t *pos, unsigned chunk_size, fleet_row *r,
                      const char **why);

/* fleet_result_start - check the head of chunk k's result; rows in *rows;
 * the offset of the first row, or 0 with why set */
size_t fleet_result_start(const char *s, size_t n, unsigned long k, size_t *rows, const char **why);

/* fleet_num - a decimal number in [0, max] spanning exactly n bytes */
bool fleet_num(const char *s, size_t n, unsigned long max, unsigned long *out);

/* ---- cli_bulk_fleet.c: the connection ---- */

/* fleet_open - a loop, a client with the cache's Redis settings and the
 * job's keys; false with a message */
bool fleet_open(fleet *f, const mv_settings *st, const char *job, const char *who);

/* fleet_close - the client and the loop */
void fleet_close(fleet *f);

/* fleet_send - one command; its completion comes to op (fn may be NULL) */
void fleet_send(fleet *f, fleet_op *op, int argc, const char *const *argv, const size_t *lens);

/* fleet_wait - turn the loop until every command sent has completed;
 * false if one failed (f->failed says how) */
bool fleet_wait(fleet *f);

/* fleet_up - connected? waits up to ms for a connection being made */
bool fleet_up(fleet *f, unsigned ms);

/* fleet_meta_read - the job's meta hash; 1 read, 0 no such job, -1 Redis
 * failed, -2 the hash is unusable (why on stderr) */
int fleet_meta_read(fleet *f, fleet_meta *m);

/* ---- cli_bulk_fwork.c: a worker ---- */

typedef struct fworker fworker;

/* fworker_new - a worker on engine e with the job's parameters, handing
 * the engine a domain's addresses batch at a time; NULL on ENOMEM */
fworker *fworker_new(fleet *f, mv_engine *e, const fleet_meta *m, unsigned window, unsigned greylist_retry_s,
                     size_t batch);

/* fworker_step - write finished chunks, resubmit greylisted addresses,
 * keep the lease on our chunks, claim new ones while the window has room;
 * false on an engine error (reported). Redis failures leave the work for
 * the next step. */
bool fworker_step(fworker *w, bool claim);

/* fworker_busy - chunks in hand (claimed, not yet written) */
size_t fworker_busy(fworker *w);

/* fworker_wait - until a verdict comes, or ms */
void fworker_wait(fworker *w, unsigned ms);

/* fworker_free - forget chunks in hand (the engine must be freed first) */
void fworker_free(fworker *w);

/* fworker_abandon - drop verdicts still to come (before the engine is freed) */
void fworker_abandon(fworker *w);

/* fworker_stats - chunks and addresses done */
void fworker_stats(const fworker *w, uint64_t *chunks, uint64_t *addrs);

#endif
