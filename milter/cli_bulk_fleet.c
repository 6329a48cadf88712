/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_fleet.c - the Redis side of `mailverify bulk --fleet JOB`: the
 * connection both sides use, and the starting host's part of the job.
 *
 * The connection is the engine's own Redis client (redis.h: AUTH, SELECT,
 * TLS through redis_tls.c, timeouts, the reader's guards) on a loop of
 * this thread's, opened a second time with the cache's settings;
 * fleet_wait() turns that loop until the commands sent have answered, so
 * the bulk driver reads as if it were synchronous. The engine's verdict
 * cache keeps its own connection on the engine's loop.
 *
 * The starting host reads the input as a single run does (cli_bulk.c:
 * the ring, input order, the state file). Each record's address goes into
 * the chunk of its sequence number instead of to the engine; a full chunk
 * (or the last) is added to the job's stream by a Lua script that adds
 * chunk k only if no chunk >= k was added before: a resumed run that
 * reads records again adds nothing twice. It works on chunks itself
 * (cli_bulk_fwork.c), like any worker, and fetches the results of the
 * oldest chunks it waits for: each row must name a record of the chunk
 * that waits, with the very address sent; a result that does not -- a
 * malformed or a foreign value in a shared store -- is deleted and the
 * chunk is added again (FLEET_REDO_MAX times, then the job stops).
 *
 * A resumed starting host makes the chunks its killed predecessor (the
 * meta's "by") held idle for the lease at once (XCLAIM ... IDLE), so that
 * the next claim takes them rather than waiting out the lease.
 *
 * Redis failing under the starting host stops the job, resumable: the
 * finished rows are written, the state saved, exit 75 (EX_TEMPFAIL), and
 * --resume continues once Redis is back -- re-creating the job's keys if
 * Redis lost them (the input and the state file are here). Workers wait.
 */
#include "cli_bulk_int.h"
#include "store.h"

#include <syslog.h>

/* ---- the connection ------------------------------------------------------ */

/* say - the client's state changes on stderr ("connected" is no news) */
static void say(void *arg, int priority, const char *msg)
{
    (void)arg;
    if (priority <= LOG_WARNING)
        fprintf(stderr, "mailverify bulk: redis: %s\n", msg);
}

/* fleet_open - a loop, a client with the cache's Redis settings, the keys */
bool fleet_open(fleet *f, const mv_settings *s, const char *job, const char *who)
{
    mv_redis_params p = mv_store_redis_params(s);
    const char *pre = s->cache_redis_prefix ? s->cache_redis_prefix : "";
    char host[64] = "";

    memset(f, 0, sizeof(*f));
    p.log = say;
    if (p.timeout_ms < FLEET_TIMEOUT_MIN_MS)
        p.timeout_ms = FLEET_TIMEOUT_MIN_MS;
    if (s->cache_store != MV_STORE_REDIS || s->cache_redis_server == NULL || !*s->cache_redis_server) {
        fprintf(stderr,
                "mailverify bulk: %s needs cache.store = \"redis\" (the job is shared through "
                "the cache's Redis server)\n",
                who);
        return false;
    }
    /* a job's chunks and results carry the addresses themselves: they are
     * not sealed yet, so a fleet that asked for no address in clear in its
     * Redis gets no job there rather than one that breaks the promise */
    if (s->cache_hash_keys) {
        fprintf(stderr,
                "mailverify bulk: %s cannot run with cache.hash_keys = true: a job's chunks and "
                "results hold the addresses in clear in Redis; run the job on one host (bulk without "
                "--fleet), or with a Redis of its own\n",
                who);
        return false;
    }
    if (!fleet_job_ok(job)) {
        fprintf(stderr, "mailverify bulk: bad job name '%s': 1 to %d letters, digits, '.', '_' or '-'\n", job,
                FLEET_JOB_MAX);
        return false;
    }
    snprintf(f->job, sizeof(f->job), "%s", job);
    snprintf(f->k_meta, sizeof(f->k_meta), "%sjob:%s:meta", pre, job);
    snprintf(f->k_chunks, sizeof(f->k_chunks), "%sjob:%s:chunks", pre, job);
    snprintf(f->k_res, sizeof(f->k_res), "%sjob:%s:res", pre, job);
    snprintf(f->k_workers, sizeof(f->k_workers), "%sjob:%s:workers", pre, job);
    gethostname(host, sizeof(host) - 1);
    snprintf(f->consumer, sizeof(f->consumer), "%s:%ld", host[0] ? host : "host", (long)getpid());
    f->server = s->cache_redis_server;
    if ((f->loop = mv_loop_new()) == NULL || (f->r = mv_redis_new(f->loop, &p)) == NULL) {
        fputs("mailverify bulk: cannot set up the Redis client\n", stderr);
        return false;
    }
    return true;
}

/* fleet_close - the client (outstanding commands: cancelled) and the loop */
void fleet_close(fleet *f)
{
    mv_redis_free(f->r);
    f->r = NULL;
    if (f->loop != NULL)
        mv_loop_free(f->loop);
    f->loop = NULL;
}

/* on_reply - a command's one completion */
static void on_reply(void *arg, mv_redis_status st, const mv_redis_reply *rep)
{
    fleet_op *op = arg;

    op->f->pending--;
    op->st = st;
    if (st == MV_REDIS_OK && mv_reply_type(rep) == MV_RESP_ERROR && op->fn == NULL)
        op->st = MV_REDIS_SERVER;
    if (st == MV_REDIS_OK && op->fn != NULL)
        op->fn(op, rep);
    if (op->st != MV_REDIS_OK && op->f->failed == MV_REDIS_OK)
        op->f->failed = op->st;
}

/* fleet_send - one command; its completion comes to op */
void fleet_send(fleet *f, fleet_op *op, int argc, const char *const *argv, const size_t *lens)
{
    mv_redis_status st;

    op->f = f;
    op->bad = false;
    op->st = MV_REDIS_OK;
    f->pending++;
    if ((st = mv_redis_command(f->r, argc, argv, lens, on_reply, op)) != MV_REDIS_OK) {
        f->pending--;
        op->st = st;
        if (f->failed == MV_REDIS_OK)
            f->failed = st;
    }
}

/* fleet_wait - turn the loop until every command sent has completed; each
 * ends within the client's timeout, so this does too */
bool fleet_wait(fleet *f)
{
    bool ok;

    /* a refused command sent nothing; the client's reconnect timer runs on this loop */
    if (f->pending == 0)
        mv_loop_run_once(f->loop, 0);
    while (f->pending > 0)
        mv_loop_run_once(f->loop, 50);
    ok = f->failed == MV_REDIS_OK;
    f->last = f->failed;
    f->failed = MV_REDIS_OK;
    return ok;
}

/* fleet_up - connected? waits up to ms for a connection being made */
bool fleet_up(fleet *f, unsigned ms)
{
    uint64_t deadline = mv_loop_now() + ms;

    mv_loop_run_once(f->loop, 0);
    while (!mv_redis_up(f->r) && mv_loop_now() < deadline)
        mv_loop_run_once(f->loop, 20);
    return mv_redis_up(f->r);
}

/* ---- the meta hash ------------------------------------------------------- */

/* meta_num - a field's number in [lo, hi] */
static bool meta_num(const char *v, size_t n, unsigned long lo, unsigned long hi, unsigned *out)
{
    unsigned long x;

    if (!fleet_num(v, n, hi, &x) || x < lo)
        return false;
    *out = (unsigned)x;
    return true;
}

/* meta_field - one field of HGETALL into m; false if its value is unusable */
static bool meta_field(fleet_meta *m, const char *k, size_t kn, const char *v, size_t vn, unsigned *seen)
{
    unsigned x;

#define IS(name) (kn == strlen(name) && memcmp(k, name, kn) == 0)
    if (IS("chunk"))
        return ++*seen, meta_num(v, vn, 1, FLEET_CHUNK_MAX, &m->chunk);
    if (IS("lease"))
        return ++*seen, meta_num(v, vn, 1, 86400, &m->lease_s);
    if (IS("max_wait"))
        return ++*seen, meta_num(v, vn, 0, 86400, &m->max_wait_s);
    if (IS("timeout"))
        return ++*seen, meta_num(v, vn, 0, 600000, &m->timeout_ms);
    if (IS("delim")) {
        if (!meta_num(v, vn, 1, 127, &x) || strchr(",;|\t", (int)x) == NULL)
            return false;
        m->delim = (int)x;
        return ++*seen, true;
    }
    if (IS("mode")) {
        if (!meta_num(v, vn, 0, 16, &x))
            return false;
        m->mode = (int)x;
        return ++*seen, true;
    }
    if (IS("format")) {
        if (!meta_num(v, vn, 0, 1, &x))
            return false;
        m->format = (int)x;
        return ++*seen, true;
    }
    if (IS("state")) {
        m->done = vn == 4 && memcmp(v, "done", 4) == 0;
        return ++*seen, m->done || (vn == 7 && memcmp(v, "running", 7) == 0);
    }
    if (IS("ident")) {
        if (vn >= sizeof(m->ident))
            return false;
        memcpy(m->ident, v, vn);
        m->ident[vn] = '\0';
        return ++*seen, true;
    }
    if (IS("by")) {
        if (vn >= sizeof(m->by))
            return false;
        memcpy(m->by, v, vn);
        m->by[vn] = '\0';
        return true;
    }
#undef IS
    return true; /* fields of later versions, "added", "started" */
}

/* on_meta - HGETALL's pairs into the caller's fleet_meta */
static void on_meta(fleet_op *op, const mv_redis_reply *rep)
{
    fleet_meta *m = op->arg;
    size_t n = mv_reply_count(rep);
    unsigned seen = 0;

    memset(m, 0, sizeof(*m));
    if (mv_reply_type(rep) != MV_RESP_ARRAY || n % 2 != 0) {
        op->bad = true;
        return;
    }
    for (size_t i = 0; i + 1 < n && !op->bad; i += 2) {
        const mv_redis_reply *k = mv_reply_at(rep, i), *v = mv_reply_at(rep, i + 1);
        size_t kn, vn;
        const char *ks = mv_reply_str(k, &kn), *vs = mv_reply_str(v, &vn);

        if (mv_reply_type(k) != MV_RESP_STRING || mv_reply_type(v) != MV_RESP_STRING ||
            !meta_field(m, ks, kn, vs, vn, &seen))
            op->bad = true;
    }
    if (n == 0)
        m->chunk = 0; /* no such job */
    else if (seen != 9)
        op->bad = true;
}

/* fleet_meta_read - the job's meta hash; 1 read, 0 no such job, -1 Redis failed, -2 unusable */
int fleet_meta_read(fleet *f, fleet_meta *m)
{
    fleet_op op = {.fn = on_meta, .arg = m};
    const char *argv[] = {"HGETALL", f->k_meta};

    fleet_send(f, &op, 2, argv, (size_t[]){7, strlen(f->k_meta)});
    if (!fleet_wait(f))
        return -1;
    if (op.bad) {
        fprintf(stderr,
                "mailverify bulk: job %s: %s is not a job's metadata (a version of mailverify "
                "that does not know it, or damaged)\n",
                f->job, f->k_meta);
        return -2;
    }
    return m->chunk == 0 ? 0 : 1;
}

/* ---- the starting host ---------------------------------------------------- */

/* A chunk added to the stream whose result is still to come. */
typedef struct {
    unsigned long k;
    size_t waiting; /* its records waiting for the fleet */
    unsigned tries;
    bool done;
} pending_chunk;

struct bulk_fleet {
    fleet f;
    fworker *w;
    fleet_meta meta;
    unsigned C;
    uint64_t seq_base; /* the first record this run reads */
    mv_buf build;      /* the chunk being filled: its entry's rows */
    unsigned long build_k;
    size_t build_n;
    pending_chunk *q; /* a ring of pending chunks, oldest first */
    size_t qcap, qhead, qn;
    uint64_t last_poll, last_ttl;
    unsigned long forgot; /* results of chunks below this are deleted */
    bool got;             /* the last poll brought something */
    char progress[1024];
};

/* The scripts. add: chunk k unless a chunk >= k was added (a resumed run
 * reads records again); -1 when the job's keys are gone. create: the job,
 * unless one of that name exists. fetch: results, a too-long one as "!big"
 * so that no reply outgrows the client's 1 MiB guard. */
static const char add_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
                              "local a = tonumber(redis.call('HGET', KEYS[1], 'added') or '-1') or -1\n"
                              "if tonumber(ARGV[1]) <= a then return 0 end\n"
                              "redis.call('XADD', KEYS[2], '*', 'chunk', ARGV[1], 'rows', ARGV[2])\n"
                              "redis.call('HSET', KEYS[1], 'added', ARGV[1])\n"
                              "return 1\n";
static const char create_lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
                                 "redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])\n"
                                 "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
                                 "redis.call('XGROUP', 'CREATE', KEYS[2], 'workers', '0', 'MKSTREAM')\n"
                                 "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
                                 "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
                                 "return 1\n";
static const char fetch_lua[] = "local out = {}\n"
                                "for i = 2, #ARGV do\n"
                                "  local n = redis.call('HSTRLEN', KEYS[1], ARGV[i])\n"
                                "  if n == 0 then out[#out + 1] = false\n"
                                "  elseif n > tonumber(ARGV[1]) then out[#out + 1] = '!big'\n"
                                "  else out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i]) end\n"
                                "end\n"
                                "return out\n";

/* redis_lost - the message for a Redis failure under the starting host */
static int redis_lost(bulk *bk, const char *what)
{
    bulk_clear_progress(bk);
    fprintf(stderr,
            "mailverify bulk: job %s: Redis at %s %s: the job stops here, resumable; rerun the same "
            "command with --resume once Redis is back\n",
            bk->bf->f.job, bk->bf->f.server, what);
    return EX_TEMPFAIL;
}

/* ident - the job's identity: the input, its size and time, the options */
static void ident(bulk *bk, char *out, size_t size)
{
    mv_buf b = {0};
    uint64_t h = 1469598103934665603ull;

    mv_buf_printf(&b, "%s|%" PRIu64 "|%" PRId64 "|%s|chunk=%u", bk->input, bk->id.size, bk->id.mtime_ns,
                  bk->optstr, bk->chunk);
    for (size_t i = 0; mv_buf_ok(&b) && i < b.len; i++)
        h = (h ^ (unsigned char)b.data[i]) * 1099511628211ull;
    snprintf(out, size, "%016" PRIx64, h);
    mv_buf_free(&b);
}

/* bulk_fleet_start - the connection, before the engine is used; an exit status */
int bulk_fleet_start(bulk *bk, const mv_settings *st)
{
    if ((bk->bf = calloc(1, sizeof(*bk->bf))) == NULL)
        return EX_SOFTWARE;
    if (!fleet_open(&bk->bf->f, st, bk->fleet_job, "--fleet"))
        return EX_CONFIG;
    bk->bf->C = bk->chunk;
    if (!fleet_up(&bk->bf->f, 2 * FLEET_TIMEOUT_MIN_MS)) {
        fprintf(stderr, "mailverify bulk: Redis at %s cannot be reached (see above)\n", bk->bf->f.server);
        return EX_UNAVAILABLE;
    }
    return 0;
}

/* on_int - an integer reply into op->arg */
static void on_int(fleet_op *op, const mv_redis_reply *rep)
{
    if (mv_reply_type(rep) != MV_RESP_INTEGER)
        op->bad = true;
    else
        *(long long *)op->arg = mv_reply_int(rep);
}

/* create_job - the meta hash and the stream; 1 made, 0 the name is taken, -1 failed */
static int create_job(bulk *bk, const char *id)
{
    fleet *f = &bk->bf->f;
    char ttl[16], chunk[16], lease[16], mw[16], tmo[16], delim[8], mode[8], started[24];
    const char *argv[] = {"EVAL",       create_lua,
                          "4",          f->k_meta,
                          f->k_chunks,  f->k_res,
                          f->k_workers, ttl,
                          "v",          "1",
                          "state",      "running",
                          "chunk",      chunk,
                          "lease",      lease,
                          "max_wait",   mw,
                          "timeout",    tmo,
                          "delim",      delim,
                          "mode",       mode,
                          "format",     bk->format == BULK_OUT_JSONL ? "1" : "0",
                          "ident",      id,
                          "added",      "-1",
                          "by",         f->consumer,
                          "started",    started};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    long long made = -1;
    fleet_op op = {.fn = on_int, .arg = &made};

    snprintf(ttl, sizeof(ttl), "%d", FLEET_JOB_TTL_S);
    snprintf(chunk, sizeof(chunk), "%u", bk->chunk);
    snprintf(lease, sizeof(lease), "%u", bk->lease_s);
    snprintf(mw, sizeof(mw), "%u", bk->max_wait_s);
    snprintf(tmo, sizeof(tmo), "%u", bk->co.deadline_ms);
    snprintf(delim, sizeof(delim), "%d", bk->delim);
    snprintf(mode, sizeof(mode), "%d", (int)bk->co.mode);
    snprintf(started, sizeof(started), "%lld", (long long)time(NULL));
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
        lens[i] = strlen(argv[i]);
    fleet_send(f, &op, (int)(sizeof(argv) / sizeof(argv[0])), argv, lens);
    if (!fleet_wait(f) || op.bad)
        return -1;
    return made == 1 ? 1 : 0;
}

/* drop_job - the job's keys, to make it again (resuming a job Redis lost, or that ended) */
static bool drop_job(fleet *f)
{
    fleet_op op = {0};
    const char *argv[] = {"DEL", f->k_meta, f->k_chunks, f->k_res, f->k_workers};
    size_t lens[5];

    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    fleet_send(f, &op, 5, argv, lens);
    return fleet_wait(f);
}

/* take_over - the chunks the job's earlier starting host (this host,
 * killed) held: made idle for the lease at once, so that the next claim
 * takes them instead of waiting out the lease; this host becomes the job's
 * starting host. An exit status. */
static int take_over(bulk *bk, const char *old)
{
    static const char lua[] =
        "local p = redis.call('XPENDING', KEYS[1], 'workers', '-', '+', 1000, ARGV[1])\n"
        "for _, e in ipairs(p) do\n"
        "  redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], 0, e[1], 'IDLE', ARGV[2], "
        "'JUSTID')\n"
        "end\n"
        "redis.call('HSET', KEYS[2], 'by', ARGV[3])\n"
        "return #p\n";
    fleet *f = &bk->bf->f;
    char lease[24];
    long long n = 0;
    fleet_op op = {.fn = on_int, .arg = &n};

    if (old[0] == '\0' || strcmp(old, f->consumer) == 0)
        return 0;
    snprintf(lease, sizeof(lease), "%llu", (unsigned long long)bk->lease_s * 1000 + 1000);
    fleet_send(f, &op, 8, (const char *[]){"EVAL", lua, "2", f->k_chunks, f->k_meta, old, lease, f->consumer},
               (size_t[]){4, strlen(lua), 1, strlen(f->k_chunks), strlen(f->k_meta), strlen(old),
                          strlen(lease), strlen(f->consumer)});
    if (!fleet_wait(f))
        return redis_lost(bk, "failed");
    if (op.bad) /* chunks not taken over wait for the lease: slower, not wrong */
        fprintf(stderr, "mailverify bulk: job %s: could not take over the chunks held by %s\n", f->job, old);
    if (n > 0 && !bk->quiet)
        fprintf(stderr, "mailverify bulk: job %s: taking over %lld chunks held by %s\n", f->job, n, old);
    return 0;
}

/* join_or_create - a new job, or --resume's: the same job or a new one of the same name */
static int join_or_create(bulk *bk, const char *id)
{
    fleet *f = &bk->bf->f;
    int r = create_job(bk, id);

    if (r < 0)
        return redis_lost(bk, "failed while the job was created");
    if (r == 1)
        return 0;
    if (!bk->fleet_resume) {
        fprintf(stderr,
                "mailverify bulk: job %s already exists in Redis (%s): choose another name, or "
                "add --resume to continue it from this host\n",
                f->job, f->k_meta);
        return EX_DATAERR;
    }
    if ((r = fleet_meta_read(f, &bk->bf->meta)) == -1)
        return redis_lost(bk, "failed");
    if (r < 0)
        return EX_DATAERR;
    if (r == 1 && strcmp(bk->bf->meta.ident, id) != 0) {
        fprintf(stderr,
                "mailverify bulk: job %s in Redis is another job: its input or the options "
                "that shape the output (--chunk too) differ\n",
                f->job);
        return EX_DATAERR;
    }
    /* without a state file this host starts from the first record, and the
     * results of chunks it had written are gone: the job starts over too */
    if (r == 1 && !bk->bf->meta.done && bk->resume)
        return take_over(bk, bk->bf->meta.by);
    if (r == 1 && !bk->resume && !bk->quiet)
        fprintf(stderr, "mailverify bulk: job %s: no state file here: the job starts over\n", f->job);
    /* it ended, or vanished between the two commands: make it anew */
    if (!drop_job(f) || create_job(bk, id) != 1)
        return redis_lost(bk, "failed while the job was created again");
    return 0;
}

/* bulk_fleet_begin - after the state file: the job in Redis, the first record's number */
int bulk_fleet_begin(bulk *bk)
{
    struct bulk_fleet *bf = bk->bf;
    char id[24];
    fleet_meta m;
    int rc, r;

    ident(bk, id, sizeof(id));
    if (bk->fleet_resume) {
        if ((r = fleet_meta_read(&bf->f, &m)) == -1)
            return redis_lost(bk, "failed");
        if (r < 0)
            return EX_DATAERR;
        if (r == 0 && !bk->quiet)
            fprintf(stderr,
                    "mailverify bulk: job %s is not in Redis (it expired, or Redis lost it): "
                    "adding its remaining chunks again\n",
                    bf->f.job);
    }
    if ((rc = join_or_create(bk, id)) != 0)
        return rc;
    /* records consumed by the rows the state file vouches for */
    bf->seq_base = bk->p.rows + bk->p.blank + (bk->bad_keep ? 0 : bk->p.bad_rows);
    bk->seq_read = bk->seq_written = bf->seq_base;
    bf->build_k = (unsigned long)(bf->seq_base / bf->C);
    bf->qcap = bk->nring / bf->C + 4;
    if ((bf->q = calloc(bf->qcap, sizeof(*bf->q))) == NULL)
        return EX_SOFTWARE;
    bf->meta = (fleet_meta){.chunk = bk->chunk,
                            .lease_s = bk->lease_s,
                            .max_wait_s = bk->max_wait_s,
                            .timeout_ms = bk->co.deadline_ms,
                            .format = bk->format,
                            .delim = bk->delim,
                            .mode = (int)bk->co.mode};
    bf->w = fworker_new(&bf->f, bk->engine, &bf->meta, (unsigned)bk->window, bk->greylist_retry_s,
                        bk->group_batch);
    if (bf->w == NULL)
        return EX_SOFTWARE;
    if (!bk->quiet)
        fprintf(stderr,
                "mailverify bulk: job %s: chunks of %u records in Redis at %s; join it with "
                "mailverify bulk --worker %s\n",
                bf->f.job, bf->C, bf->f.server, bf->f.job);
    return 0;
}

/* add_chunk - XADD through the add script (or, redoing, always) */
static int add_chunk(bulk *bk, unsigned long k, const mv_buf *rows, bool again)
{
    fleet *f = &bk->bf->f;
    char kk[24];
    long long added = 0;
    fleet_op op = {.fn = on_int, .arg = &added};

    snprintf(kk, sizeof(kk), "%lu", k);
    if (!mv_buf_ok(rows))
        return EX_SOFTWARE;
    if (again) {
        const char *argv[] = {"XADD", f->k_chunks, "*", "chunk", kk, "rows", rows->data};

        op.fn = NULL; /* the reply is the entry's id: nothing to read */
        fleet_send(f, &op, 7, argv, (size_t[]){4, strlen(f->k_chunks), 1, 5, strlen(kk), 4, rows->len});
    } else {
        const char *argv[] = {"EVAL", add_lua, "2", f->k_meta, f->k_chunks, kk, rows->data};

        fleet_send(
            f, &op, 7, argv,
            (size_t[]){4, strlen(add_lua), 1, strlen(f->k_meta), strlen(f->k_chunks), strlen(kk), rows->len});
    }
    if (!fleet_wait(f))
        return redis_lost(bk, "failed while a chunk was added");
    if (!again && (op.bad || added < 0)) {
        bulk_clear_progress(bk);
        fprintf(stderr,
                "mailverify bulk: job %s: its keys are gone from Redis (deleted, expired, or a "
                "restart without persistence); rerun with --resume to add them again\n",
                f->job);
        return EX_TEMPFAIL;
    }
    return 0;
}

/* flush_build - the chunk being filled goes to the stream, and on the pending list */
static int flush_build(bulk *bk)
{
    struct bulk_fleet *bf = bk->bf;
    int rc = 0;

    if (bf->build_n > 0) {
        if (bf->qn == bf->qcap)
            return EX_SOFTWARE; /* the ring bounds the chunks: cannot happen */
        if ((rc = add_chunk(bk, bf->build_k, &bf->build, false)) != 0)
            return rc;
        bf->q[(bf->qhead + bf->qn++) % bf->qcap] = (pending_chunk){.k = bf->build_k, .waiting = bf->build_n};
    }
    mv_buf_reset(&bf->build);
    bf->build_n = 0;
    bf->build_k++;
    return rc;
}

/* bulk_fleet_take - a read row into its chunk; false: verify it here (too long) */
bool bulk_fleet_take(bulk *bk, slot *s, uint64_t seq)
{
    struct bulk_fleet *bf = bk->bf;

    if (s->addrlen > FLEET_ADDR_MAX)
        return false;
    fleet_chunk_put(&bf->build, (unsigned)(seq % bf->C), s->addr, s->addrlen);
    bf->build_n++;
    pthread_mutex_lock(&bk->mu);
    s->fleet = true;
    s->state = SLOT_INFLIGHT;
    pthread_mutex_unlock(&bk->mu);
    return true;
}

/* bulk_fleet_after_read - a chunk is complete with record seq, or the input ended */
int bulk_fleet_after_read(bulk *bk, uint64_t seq, bool eof)
{
    struct bulk_fleet *bf = bk->bf;

    if (eof ? bf->build_n > 0 : seq % bf->C == bf->C - 1)
        return flush_build(bk);
    return 0;
}

/* ---- results ---------------------------------------------------------------- */

/* waiting_slot - chunk k's record idx, if it waits for the fleet here */
static slot *waiting_slot(bulk *bk, unsigned long k, unsigned idx)
{
    uint64_t seq = (uint64_t)k * bk->bf->C + idx;
    slot *s;

    if (seq < bk->bf->seq_base || seq < bk->seq_written || seq >= bk->seq_read)
        return NULL;
    s = &bk->ring[seq % bk->nring];
    return s->fleet && s->state == SLOT_INFLIGHT ? s : NULL;
}

/* row_ok - does a result row answer this waiting record, in our output's form? */
static bool row_ok(bulk *bk, const slot *s, const fleet_row *r)
{
    if (s == NULL || r->alen != s->addrlen || memcmp(r->addr, s->addr, r->alen) != 0)
        return false;
    if (bk->format == BULK_OUT_JSONL)
        return r->flen >= 2 && r->fields[0] == '{' && r->fields[r->flen - 1] == '}';
    return r->flen > 0 && r->fields[0] == bk->delim;
}

/* fill - a row's verdict into its slot, as a single run would write it */
static void fill(bulk *bk, slot *s, const fleet_row *r)
{
    mv_buf b = {0};

    if (bk->format == BULK_OUT_JSONL) {
        mv_buf_printf(&b, "{\"line\":%" PRIu64 ",", s->line);
        mv_buf_put(&b, r->fields + 1, r->flen - 1);
        mv_buf_putc(&b, '\n');
    } else {
        bulk_csv_lead(bk, s, &b);
        mv_buf_put(&b, r->fields, r->flen);
        mv_buf_puts(&b, bk->eol);
    }
    pthread_mutex_lock(&bk->mu);
    s->oom = !mv_buf_ok(&b);
    s->out = b.data;
    s->outlen = b.len;
    s->status = (mv_status)r->status;
    s->reason = (mv_reason)r->reason;
    s->greyed = r->greyed;
    s->fleet = false;
    s->state = SLOT_DONE;
    pthread_mutex_unlock(&bk->mu);
}

/* apply - chunk pc's result text: every row checked first, then filled in;
 * NULL, or why the result cannot be used */
static const char *apply(bulk *bk, pending_chunk *pc, const char *t, size_t n)
{
    const char *why = NULL;
    size_t rows, pos = fleet_result_start(t, n, pc->k, &rows, &why), seen = 0, matched = 0;
    fleet_row r;
    long last = -1;
    int rc;

    if (pos == 0)
        return why;
    for (size_t p = pos; (rc = fleet_result_next(t, n, &p, bk->bf->C, &r, &why)) == 1; seen++) {
        uint64_t seq = (uint64_t)pc->k * bk->bf->C + r.idx;

        if ((long)r.idx <= last)
            return "rows out of order";
        last = (long)r.idx;
        if (seq < bk->bf->seq_base)
            continue; /* written before this run began (a resumed chunk's head) */
        if (!row_ok(bk, waiting_slot(bk, pc->k, r.idx), &r))
            return "a row that does not answer the chunk's record";
        matched++;
    }
    if (rc < 0)
        return why;
    if (seen != rows || matched != pc->waiting)
        return "rows missing";
    for (size_t p = pos; fleet_result_next(t, n, &p, bk->bf->C, &r, &why) == 1;)
        if ((uint64_t)pc->k * bk->bf->C + r.idx >= bk->bf->seq_base)
            fill(bk, waiting_slot(bk, pc->k, r.idx), &r);
    pc->done = true;
    return NULL;
}

/* A fetch: the pending chunks asked, and what became of each. */
typedef struct {
    bulk *bk;
    size_t n;
    const char *why[64]; /* non-NULL: unusable */
} fetch_ctx;

/* on_fetch - the fetch script's reply: one value (or nil) per chunk asked */
static void on_fetch(fleet_op *op, const mv_redis_reply *rep)
{
    fetch_ctx *fc = op->arg;
    struct bulk_fleet *bf = fc->bk->bf;

    if (mv_reply_type(rep) != MV_RESP_ARRAY || mv_reply_count(rep) != fc->n) {
        op->bad = true;
        return;
    }
    for (size_t i = 0; i < fc->n; i++) {
        const mv_redis_reply *v = mv_reply_at(rep, i);
        pending_chunk *pc = &bf->q[(bf->qhead + i) % bf->qcap];
        size_t len;
        const char *t = mv_reply_str(v, &len);

        if (mv_reply_type(v) == MV_RESP_NIL || pc->done)
            continue;
        bf->got = true;
        if (mv_reply_type(v) != MV_RESP_STRING)
            fc->why[i] = "not a string";
        else if (len == 4 && memcmp(t, "!big", 4) == 0)
            fc->why[i] = "too long";
        else
            fc->why[i] = apply(fc->bk, pc, t, len);
    }
}

/* redo - chunk pc's result is unusable: delete it, add the chunk again */
static int redo(bulk *bk, pending_chunk *pc, const char *why)
{
    struct bulk_fleet *bf = bk->bf;
    fleet *f = &bf->f;
    mv_buf rows = {0};
    char k[24];
    fleet_op op = {0};
    int rc;

    bulk_clear_progress(bk);
    if (++pc->tries > FLEET_REDO_MAX) {
        fprintf(stderr,
                "mailverify bulk: job %s: the result of chunk %lu is unusable (%s), %d times: "
                "something else writes to %s; the job stops (resumable)\n",
                f->job, pc->k, why, FLEET_REDO_MAX, f->k_res);
        return EX_PROTOCOL;
    }
    fprintf(stderr, "mailverify bulk: job %s: the result of chunk %lu is unusable (%s): verifying it again\n",
            f->job, pc->k, why);
    snprintf(k, sizeof(k), "%lu", pc->k);
    fleet_send(f, &op, 3, (const char *[]){"HDEL", f->k_res, k}, (size_t[]){4, strlen(f->k_res), strlen(k)});
    if (!fleet_wait(f))
        return redis_lost(bk, "failed");
    for (unsigned i = 0; i < bf->C; i++) {
        slot *s = waiting_slot(bk, pc->k, i);

        if (s != NULL)
            fleet_chunk_put(&rows, i, s->addr, s->addrlen);
    }
    rc = add_chunk(bk, pc->k, &rows, true);
    mv_buf_free(&rows);
    return rc;
}

/* poll_results - fetch the oldest pending chunks' results; an exit status */
static int poll_results(bulk *bk)
{
    struct bulk_fleet *bf = bk->bf;
    fleet *f = &bf->f;
    size_t per = FLEET_RESULT_MAX / ((size_t)bf->C * FLEET_ROW_MAX), n;
    const char *argv[4 + 64];
    size_t lens[4 + 64];
    char keys[64][24], maxb[24];
    fetch_ctx fc = {.bk = bk};
    fleet_op op = {.fn = on_fetch, .arg = &fc};
    int rc;

    n = per < 1 ? 1 : per > 64 ? 64 : per;
    n = n < bf->qn ? n : bf->qn;
    snprintf(maxb, sizeof(maxb), "%zu", (size_t)bf->C * FLEET_ROW_MAX);
    argv[0] = "EVAL", argv[1] = fetch_lua, argv[2] = "1", argv[3] = f->k_res, argv[4] = maxb;
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%lu", bf->q[(bf->qhead + i) % bf->qcap].k);
        argv[5 + i] = keys[i];
    }
    for (size_t i = 0; i < 5 + n; i++)
        lens[i] = strlen(argv[i]);
    fc.n = n;
    bf->got = false;
    fleet_send(f, &op, (int)(5 + n), argv, lens);
    if (!fleet_wait(f))
        return redis_lost(bk, "failed");
    if (op.bad) {
        fprintf(stderr, "mailverify bulk: job %s: the results' fetch answered nonsense (is %s a hash?)\n",
                f->job, f->k_res);
        return EX_PROTOCOL;
    }
    for (size_t i = 0; i < n; i++)
        if (fc.why[i] != NULL && (rc = redo(bk, &bf->q[(bf->qhead + i) % bf->qcap], fc.why[i])) != 0)
            return rc;
    while (bf->qn > 0 && bf->q[bf->qhead].done) {
        bf->qhead = (bf->qhead + 1) % bf->qcap;
        bf->qn--;
    }
    return 0;
}

/* refresh_ttl - the job's keys live FLEET_JOB_TTL_S past the last sign of life */
static int refresh_ttl(bulk *bk)
{
    fleet *f = &bk->bf->f;
    const char *keys[4] = {f->k_meta, f->k_chunks, f->k_res, f->k_workers};
    char ttl[16];
    fleet_op op[4] = {{0}};

    snprintf(ttl, sizeof(ttl), "%d", FLEET_JOB_TTL_S);
    for (int i = 0; i < 4; i++)
        fleet_send(f, &op[i], 3, (const char *[]){"EXPIRE", keys[i], ttl},
                   (size_t[]){6, strlen(keys[i]), strlen(ttl)});
    return fleet_wait(f) ? 0 : redis_lost(bk, "failed");
}

/* forget - delete the results of chunks the saved state has gone past: a
 * resumed run never reads them again, and the hash stays as small as the
 * reorder ring rather than growing with the job */
static int forget(bulk *bk)
{
    struct bulk_fleet *bf = bk->bf;
    fleet *f = &bf->f;
    unsigned long upto = (unsigned long)(bk->seq_vouched / bf->C);
    const char *argv[2 + 64];
    size_t lens[2 + 64];
    char keys[64][24];
    fleet_op op = {0};
    int n = 0;

    if (bf->forgot < bf->seq_base / bf->C)
        bf->forgot = (unsigned long)(bf->seq_base / bf->C);
    argv[0] = "HDEL", argv[1] = f->k_res;
    for (; bf->forgot < upto && n < 64; bf->forgot++, n++) {
        snprintf(keys[n], sizeof(keys[n]), "%lu", bf->forgot);
        argv[2 + n] = keys[n];
    }
    if (n == 0)
        return 0;
    for (int i = 0; i < 2 + n; i++)
        lens[i] = strlen(argv[i]);
    fleet_send(f, &op, 2 + n, argv, lens);
    return fleet_wait(f) ? 0 : redis_lost(bk, "failed");
}

/* bulk_fleet_tick - our own work, the results that came, the keys' TTL */
int bulk_fleet_tick(bulk *bk, uint64_t now)
{
    struct bulk_fleet *bf = bk->bf;
    int rc;

    if (!fworker_step(bf->w, !bk->stopping))
        return EX_SOFTWARE;
    if (bf->qn > 0 && (bf->got || now - bf->last_poll >= 50)) {
        bf->last_poll = now;
        if ((rc = poll_results(bk)) != 0)
            return rc;
    }
    if ((rc = forget(bk)) != 0)
        return rc;
    if (now - bf->last_ttl >= 10000) {
        bf->last_ttl = now;
        return refresh_ttl(bk);
    }
    return 0;
}

/* on_workers - the workers' counters: "chunks addrs first_ms last_ms" each */
static void on_workers(fleet_op *op, const mv_redis_reply *rep)
{
    struct bulk_fleet *bf = op->arg;
    size_t n = mv_reply_count(rep), at = 0, shown = 0;
    char *p = bf->progress;

    p[0] = '\0';
    for (size_t i = 0; i + 1 < n && at + 160 < sizeof(bf->progress); i += 2) {
        size_t kn, vn;
        const char *k = mv_reply_str(mv_reply_at(rep, i), &kn),
                   *v = mv_reply_str(mv_reply_at(rep, i + 1), &vn);
        char val[96];
        unsigned long long c, a, t0, t1;

        if (kn == 0 || kn > 80 || vn >= sizeof(val) ||
            strspn(k, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-_") < kn)
            continue;
        memcpy(val, v, vn);
        val[vn] = '\0';
        if (sscanf(val, "%llu %llu %llu %llu", &c, &a, &t0, &t1) != 4 || t1 < t0)
            continue;
        at += (size_t)snprintf(p + at, sizeof(bf->progress) - at, "%s %.*s %llu chunks %.0f addr/s",
                               shown++ ? "," : "; workers:", (int)kn, k, c,
                               t1 > t0 ? (double)a * 1000.0 / (double)(t1 - t0) : 0.0);
    }
}

/* bulk_fleet_progress - the workers and their rates, after the progress line */
void bulk_fleet_progress(bulk *bk, FILE *f)
{
    struct bulk_fleet *bf = bk->bf;
    static const char lua[] = "local t = redis.call('HGETALL', KEYS[1])\n"
                              "local out = {}\n"
                              "for i = 1, math.min(#t, 32) do out[i] = string.sub(t[i], 1, 100) end\n"
                              "return out\n";
    fleet_op op = {.fn = on_workers, .arg = bf};

    fleet_send(&bf->f, &op, 4, (const char *[]){"EVAL", lua, "1", bf->f.k_workers},
               (size_t[]){4, strlen(lua), 1, strlen(bf->f.k_workers)});
    if (fleet_wait(&bf->f))
        fputs(bf->progress, f);
    fprintf(f, "; chunks waiting %zu", bf->qn);
}

/* bulk_fleet_end - a finished job: workers see it end, its keys go */
void bulk_fleet_end(bulk *bk, bool complete)
{
    fleet *f;
    fleet_op op[3] = {{0}};
    char ttl[16];

    if (bk->bf == NULL || bk->bf->f.r == NULL || !complete)
        return;
    f = &bk->bf->f;
    snprintf(ttl, sizeof(ttl), "%d", FLEET_DONE_TTL_S);
    fleet_send(f, &op[0], 4, (const char *[]){"HSET", f->k_meta, "state", "done"},
               (size_t[]){4, strlen(f->k_meta), 5, 4});
    fleet_send(f, &op[1], 3, (const char *[]){"EXPIRE", f->k_meta, ttl},
               (size_t[]){6, strlen(f->k_meta), strlen(ttl)});
    fleet_send(f, &op[2], 4, (const char *[]){"DEL", f->k_chunks, f->k_res, f->k_workers},
               (size_t[]){3, strlen(f->k_chunks), strlen(f->k_res), strlen(f->k_workers)});
    if (!fleet_wait(f))
        fprintf(stderr,
                "mailverify bulk: job %s: could not mark the job finished in Redis: its keys "
                "expire by themselves\n",
                f->job);
}

/* bulk_fleet_abandon - before the engine goes: its last verdicts are dropped */
void bulk_fleet_abandon(bulk *bk)
{
    if (bk->bf != NULL)
        fworker_abandon(bk->bf->w);
}

/* bulk_fleet_free - after the engine */
void bulk_fleet_free(bulk *bk)
{
    if (bk->bf == NULL)
        return;
    fworker_free(bk->bf->w);
    fleet_close(&bk->bf->f);
    mv_buf_free(&bk->bf->build);
    free(bk->bf->q);
    free(bk->bf);
    bk->bf = NULL;
}
