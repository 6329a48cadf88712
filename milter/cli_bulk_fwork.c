/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_fwork.c - a worker of a fleet bulk job (cli_bulk_fleet.h): it
 * claims chunks from the job's stream, verifies their addresses with the
 * engine, and writes each chunk's result once. `mailverify bulk --worker
 * JOB` is one; the starting host of `--fleet JOB` runs one too.
 *
 * A chunk is claimed with a Lua script that first takes over, with
 * XAUTOCLAIM, a chunk whose worker has been silent for the lease (killed,
 * or cut off), else reads a new one with XREADGROUP; an entry too large to
 * be ours comes back as a marker, so no reply outgrows the client's guard.
 * A live worker keeps its chunks: every third of the lease it XCLAIMs its
 * own pending entries, which resets their idle time -- a chunk may take
 * as long as its greylisted addresses wait (--max-wait), longer than any
 * lease, and must not be taken from a worker still on it.
 *
 * A chunk's addresses go to the engine sorted by domain, so that a
 * domain's RCPTs share sessions (as cli_bulk_group.c does for a single
 * run); a greylisted address is asked again after the server's delay
 * within the job's max-wait, as in a single run. The finished chunk's
 * result is HSETNX'd into the result hash -- a chunk done twice (taken
 * over from a worker that was only slow) is written once -- then the
 * entry is XACKed and XDELed. An address answered before a worker died
 * comes from the shared verdict cache when its chunk is done again.
 *
 * While Redis is down, finished chunks are kept and written when it is
 * back, and nothing new is claimed (one line says so).
 */
#include "cli_bulk_int.h"

enum { IT_HELD, IT_INFLIGHT, IT_GREY, IT_DONE };

typedef struct fitem {
    struct fchunk *c;
    int state; /* under w->mu */
    bool greyed;
    uint64_t grey_at, grey_until;
    unsigned idx;
    char *addr;
    size_t alen;
    int status, reason;
    char *out;
    size_t outlen;
    bool oom;
} fitem;

typedef struct fchunk {
    TAILQ_ENTRY(fchunk) link;
    struct fworker *w;
    char id[48]; /* the stream entry's */
    unsigned long k;
    size_t n, left; /* left: under w->mu */
    fitem *it;
} fchunk;

struct fworker {
    fleet *f;
    mv_engine *e;
    mv_request req;
    fleet_meta m;
    unsigned window, grey_retry_s;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    TAILQ_HEAD(, fchunk) chunks;
    size_t nchunks, inflight, ngrey, held; /* inflight, ngrey, held: under mu */
    bool abandon;
    bool fatal;          /* the engine refused an address */
    bool idle;           /* the last claim found nothing */
    bulk_groups *groups; /* addresses held by domain, across chunks; NULL offline */
    uint64_t last_beat, last_auto, idle_until, first_ms;
    uint64_t done_chunks, done_addrs;
};

/* claim: a chunk silent for the lease, else a new one; [id] for an entry
 * deleted meanwhile, [id, "big"] for one too large to be ours */
static const char claim_lua[] =
    "local e\n"
    "if ARGV[4] == '1' then\n"
    "  local a = redis.call('XAUTOCLAIM', KEYS[1], 'workers', ARGV[1], ARGV[2], '0-0', 'COUNT', 1)\n"
    "  if a[2] and a[2][1] then e = a[2][1] end\n"
    "end\n"
    "if not e then\n"
    "  local x = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'COUNT', 1, 'STREAMS', KEYS[1], '>')\n"
    "  if not x then return false end\n"
    "  e = x[1][2][1]\n"
    "end\n"
    "if not e[2] then return {e[1]} end\n"
    "local n = 0\n"
    "for _, v in ipairs(e[2]) do n = n + #v end\n"
    "if n > tonumber(ARGV[3]) then return {e[1], 'big'} end\n"
    "return {e[1], e[2]}\n";

static uint64_t ms_now(void)
{
    return bulk_now_ms();
}

/* wall_ms - the wall clock in milliseconds: workers' counters are compared across hosts */
static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_release(void *arg, uint64_t seq);

/* fworker_new - a worker on engine e with the job's parameters */
fworker *fworker_new(fleet *f, mv_engine *e, const fleet_meta *m, unsigned window, unsigned greylist_retry_s,
                     size_t batch)
{
    fworker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    /* a domain's addresses from every chunk in hand reach the engine
     * together, as a single run's do (cli_bulk_group.c): a chunk of a
     * shuffled list has about one address per domain */
    if (m->mode != MV_MODE_OFFLINE && (w->groups = bulk_groups_new(batch, HOLD_MS, on_release, w)) == NULL) {
        free(w);
        return NULL;
    }
    w->f = f;
    w->e = e;
    w->m = *m;
    w->window = window > 0 ? window : 1;
    w->grey_retry_s = greylist_retry_s;
    w->req = (mv_request){.context = MV_CTX_BULK, .mode = (mv_mode)m->mode, .deadline_ms = m->timeout_ms};
    pthread_mutex_init(&w->mu, NULL);
    mv_cond_init_monotonic(&w->cond);
    TAILQ_INIT(&w->chunks);
    w->first_ms = wall_ms();
    return w;
}

/* free_chunk - a chunk's copies */
static void free_chunk(fchunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->it[i].addr);
        free(c->it[i].out);
    }
    free(c->it);
    free(c);
}

/* fworker_abandon - drop verdicts still to come (before the engine is freed) */
void fworker_abandon(fworker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->abandon = true;
    pthread_mutex_unlock(&w->mu);
}

/* fworker_free - forget chunks in hand (after the engine is freed) */
void fworker_free(fworker *w)
{
    fchunk *c;

    if (w == NULL)
        return;
    bulk_groups_free(w->groups);
    while ((c = TAILQ_FIRST(&w->chunks)) != NULL) {
        TAILQ_REMOVE(&w->chunks, c, link);
        free_chunk(c);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    free(w);
}

/* fworker_busy - chunks in hand */
size_t fworker_busy(fworker *w)
{
    return w->nchunks;
}

/* fworker_stats - chunks and addresses done */
void fworker_stats(const fworker *w, uint64_t *chunks, uint64_t *addrs)
{
    *chunks = w->done_chunks;
    *addrs = w->done_addrs;
}

/* fworker_wait - until a verdict comes, or ms */
void fworker_wait(fworker *w, unsigned ms)
{
    struct timespec ts = mv_deadline_after(ms);

    pthread_mutex_lock(&w->mu);
    pthread_cond_timedwait(&w->cond, &w->mu, &ts);
    pthread_mutex_unlock(&w->mu);
}

/* ---- verifying ------------------------------------------------------------ */

/* grey_again - ask a greylisted address again later? (cli_bulk.c's rule) */
static bool grey_again(fworker *w, fitem *it, const mv_verdict *v, uint64_t now)
{
    uint64_t wait;

    if (v->reason != MV_R_GREYLISTED || w->m.max_wait_s == 0)
        return false;
    if (!it->greyed) {
        it->greyed = true;
        it->grey_until = now + (uint64_t)w->m.max_wait_s * 1000;
    }
    if (v->cached)
        wait = 2000;
    else
        wait = (uint64_t)(v->net.retry_after ? v->net.retry_after : w->grey_retry_s) * 1000 + 1000;
    if (now + wait > it->grey_until)
        return false;
    it->grey_at = now + wait;
    return true;
}

/* on_verdict - the engine's answer for one address (its thread, or inline) */
static void on_verdict(void *arg, const mv_verdict *v)
{
    fitem *it = arg;
    fworker *w = it->c->w;
    mv_buf b = {0};

    pthread_mutex_lock(&w->mu);
    w->inflight--;
    if (w->abandon || grey_again(w, it, v, ms_now())) {
        if (!w->abandon) {
            it->state = IT_GREY;
            w->ngrey++;
        }
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mu);
        return;
    }
    pthread_mutex_unlock(&w->mu);
    /* the fields a single run would write after the input's columns */
    if (w->m.format == BULK_OUT_JSONL)
        mv_verdict_json(&b, v, 0);
    else
        bulk_csv_fields(&b, v, (char)w->m.delim);
    pthread_mutex_lock(&w->mu);
    it->oom = !mv_buf_ok(&b) || b.len > FLEET_FIELDS_MAX;
    it->out = b.data;
    it->outlen = b.len;
    it->status = (int)v->status;
    it->reason = (int)v->reason;
    it->state = IT_DONE;
    it->c->left--;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

/* submit - one address to the engine; false on an engine error (reported) */
static bool submit(fworker *w, fitem *it)
{
    mv_call rc;
    mv_request req = w->req;

    pthread_mutex_lock(&w->mu);
    if (it->state == IT_HELD)
        w->held--;
    it->state = IT_INFLIGHT;
    w->inflight++;
    pthread_mutex_unlock(&w->mu);
    req.address = it->addr;
    req.len = it->alen;
    if ((rc = mv_engine_submit(w->e, &req, on_verdict, it)) == MV_OK)
        return true;
    pthread_mutex_lock(&w->mu);
    w->inflight--;
    pthread_mutex_unlock(&w->mu);
    fprintf(stderr, "mailverify bulk: engine: %s%s%s\n", mv_call_name(rc), rc == MV_ENETSTART ? ": " : "",
            rc == MV_ENETSTART ? mv_engine_error(w->e) : "");
    return false;
}

/* domain_key - the lowercased text after the last @, for grouping (as cli_bulk.c) */
static bool domain_key(const fitem *it, char *key, size_t size)
{
    const char *at = memrchr(it->addr, '@', it->alen);
    size_t k;

    if (at == NULL || (k = it->alen - (size_t)(at + 1 - it->addr)) == 0 || k >= size ||
        memchr(at + 1, '\0', k) != NULL)
        return false;
    for (size_t i = 0; i < k; i++)
        key[i] = (char)tolower((unsigned char)at[1 + i]);
    key[k] = '\0';
    return true;
}

/* on_release - a domain group's address goes to the engine (the group
 * holds the item's address as its number: items stay put in their chunk) */
static void on_release(void *arg, uint64_t seq)
{
    fworker *w = arg;

    if (!submit(w, (fitem *)(uintptr_t)seq))
        w->fatal = true;
}

/* hold_or_submit - an address held with its domain's, or to the engine now */
static bool hold_or_submit(fworker *w, fitem *it, uint64_t now)
{
    char key[256];

    if (w->groups == NULL || !domain_key(it, key, sizeof(key)) ||
        bulk_groups_add(w->groups, key, (uint64_t)(uintptr_t)it, now) < 0)
        return submit(w, it);
    return !w->fatal;
}

/* start_chunk - a parsed entry's addresses, copied, held by domain */
static bool start_chunk(fworker *w, const char *id, size_t idlen, const fleet_chunk *pc)
{
    fchunk *c = calloc(1, sizeof(*c));
    uint64_t now = ms_now();
    bool ok = true;

    if (c == NULL || (c->it = calloc(pc->n, sizeof(*c->it))) == NULL) {
        free(c);
        fputs("mailverify bulk: out of memory\n", stderr);
        return false;
    }
    c->w = w;
    c->k = pc->k;
    snprintf(c->id, sizeof(c->id), "%.*s", (int)idlen, id);
    for (size_t i = 0; i < pc->n; i++) {
        fitem *it = &c->it[i];

        it->c = c;
        it->idx = pc->idx[i];
        it->alen = pc->alen[i];
        it->state = IT_HELD;
        if ((it->addr = malloc(pc->alen[i] + 1)) == NULL)
            ok = false;
        else {
            memcpy(it->addr, pc->addr[i], pc->alen[i]);
            it->addr[pc->alen[i]] = '\0';
        }
        c->n++;
    }
    c->left = c->n;
    TAILQ_INSERT_TAIL(&w->chunks, c, link);
    w->nchunks++;
    w->held += c->n;
    for (size_t i = 0; ok && i < c->n; i++)
        ok = hold_or_submit(w, &c->it[i], now);
    if (!ok)
        fputs("mailverify bulk: cannot verify a chunk (out of memory, or the engine failed)\n", stderr);
    return ok;
}

/* ---- Redis ---------------------------------------------------------------- */

/* redis_trouble - a failed command: said once until Redis answers again */
static void redis_trouble(fworker *w, const char *what)
{
    if (!w->f->said_down)
        fprintf(stderr, "mailverify bulk: job %s: Redis at %s failed (%s): %s; going on when it is back\n",
                w->f->job, w->f->server, mv_redis_strstatus(w->f->last), what);
    w->f->said_down = true;
}

/* redis_fine - a command worked again */
static void redis_fine(fworker *w)
{
    if (w->f->said_down)
        fprintf(stderr, "mailverify bulk: job %s: Redis answers again\n", w->f->job);
    w->f->said_down = false;
}

/* write_chunk - a finished chunk's result, written once, then the entry acked;
 * false when Redis failed (the chunk is kept for the next step) */
static bool write_chunk(fworker *w, fchunk *c)
{
    fleet *f = w->f;
    mv_buf b = {0};
    char k[24], ttl[16], cnt[96];
    fleet_op op[6] = {{0}};
    bool ok;

    fleet_result_head(&b, c->k, c->n);
    for (size_t i = 0; i < c->n; i++) {
        const fitem *it = &c->it[i];
        fleet_row r = {.idx = it->idx,
                       .status = it->status,
                       .reason = it->reason,
                       .greyed = it->greyed,
                       .addr = it->addr,
                       .alen = it->alen,
                       .fields = it->out ? it->out : "",
                       .flen = it->outlen};

        if (it->oom) {
            mv_buf_free(&b);
            fputs("mailverify bulk: out of memory (or a verdict too long for a result row)\n", stderr);
            return false;
        }
        fleet_result_row(&b, &r);
    }
    if (!mv_buf_ok(&b)) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return false;
    }
    snprintf(k, sizeof(k), "%lu", c->k);
    snprintf(ttl, sizeof(ttl), "%d", FLEET_JOB_TTL_S);
    snprintf(cnt, sizeof(cnt), "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, w->done_chunks + 1,
             w->done_addrs + c->n, w->first_ms, wall_ms());
    fleet_send(f, &op[0], 4, (const char *[]){"HSETNX", f->k_res, k, b.data},
               (size_t[]){6, strlen(f->k_res), strlen(k), b.len});
    fleet_send(f, &op[1], 4, (const char *[]){"XACK", f->k_chunks, "workers", c->id},
               (size_t[]){4, strlen(f->k_chunks), 7, strlen(c->id)});
    fleet_send(f, &op[2], 3, (const char *[]){"XDEL", f->k_chunks, c->id},
               (size_t[]){4, strlen(f->k_chunks), strlen(c->id)});
    fleet_send(f, &op[3], 4, (const char *[]){"HSET", f->k_workers, f->consumer, cnt},
               (size_t[]){4, strlen(f->k_workers), strlen(f->consumer), strlen(cnt)});
    fleet_send(f, &op[4], 3, (const char *[]){"EXPIRE", f->k_res, ttl},
               (size_t[]){6, strlen(f->k_res), strlen(ttl)});
    fleet_send(f, &op[5], 3, (const char *[]){"EXPIRE", f->k_workers, ttl},
               (size_t[]){6, strlen(f->k_workers), strlen(ttl)});
    ok = fleet_wait(f);
    mv_buf_free(&b);
    if (!ok) {
        redis_trouble(w, "finished chunks are kept until they can be written");
        return false;
    }
    redis_fine(w);
    w->done_chunks++;
    w->done_addrs += c->n;
    return true;
}

/* ack_drop - an entry that is not a chunk of ours: acked and deleted */
static void ack_drop(fworker *w, const char *id, size_t idlen)
{
    fleet *f = w->f;
    fleet_op op[2] = {{0}};

    fleet_send(f, &op[0], 4, (const char *[]){"XACK", f->k_chunks, "workers", id},
               (size_t[]){4, strlen(f->k_chunks), 7, idlen});
    fleet_send(f, &op[1], 3, (const char *[]){"XDEL", f->k_chunks, id},
               (size_t[]){4, strlen(f->k_chunks), idlen});
    if (!fleet_wait(f))
        redis_trouble(w, "an unusable entry stays in the stream");
}

/* What a claim brought. */
typedef struct {
    fworker *w;
    int got;         /* 0 nothing, 1 a chunk started, -1 an engine error */
    bool nogroup;    /* no such job (yet, or any more) */
    char dropid[48]; /* got 2: an entry to ack and delete */
} claim_ctx;

/* entry - a claimed entry [id, [field, value, ...]]: a chunk, or dropped */
static void entry(claim_ctx *cc, const mv_redis_reply *rep, bool *drop, const char **why)
{
    const mv_redis_reply *fl = mv_reply_at(rep, 1);
    const char *v[4];
    size_t n[4];
    fleet_chunk *pc;
    unsigned long k;

    *drop = true;
    if (fl == NULL) {
        *why = "deleted meanwhile";
        return;
    }
    if (mv_reply_type(fl) == MV_RESP_STRING) {
        *why = "too large";
        return;
    }
    if (mv_reply_count(fl) != 4) {
        *why = "not 2 fields";
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        if (mv_reply_type(mv_reply_at(fl, i)) != MV_RESP_STRING) {
            *why = "a field that is not a string";
            return;
        }
        v[i] = mv_reply_str(mv_reply_at(fl, i), &n[i]);
    }
    if (n[0] != 5 || memcmp(v[0], "chunk", 5) != 0 || n[2] != 4 || memcmp(v[2], "rows", 4) != 0) {
        *why = "not the fields chunk and rows";
        return;
    }
    if (!fleet_num(v[1], n[1], 0xffffffffffUL, &k)) {
        *why = "a chunk number that is not a number";
        return;
    }
    if ((pc = malloc(sizeof(*pc))) == NULL) {
        *why = "out of memory";
        return;
    }
    if ((*why = fleet_chunk_parse(v[3], n[3], cc->w->m.chunk, pc)) == NULL) {
        size_t idn;
        const char *id = mv_reply_str(mv_reply_at(rep, 0), &idn);

        pc->k = k;
        *drop = false;
        cc->got = start_chunk(cc->w, id, idn, pc) ? 1 : -1;
    }
    free(pc);
}

/* on_claim - the claim script's reply */
static void on_claim(fleet_op *op, const mv_redis_reply *rep)
{
    claim_ctx *cc = op->arg;
    const mv_redis_reply *id = mv_reply_at(rep, 0);
    const char *why = NULL, *ids;
    size_t idn;
    bool drop = false;

    if (mv_reply_type(rep) == MV_RESP_NIL)
        return;
    if (mv_reply_type(rep) == MV_RESP_ERROR) {
        ids = mv_reply_str(rep, &idn);
        cc->nogroup = true; /* NOGROUP: the job is not (or no longer) there */
        if (idn < 7 || memcmp(ids, "NOGROUP", 7) != 0)
            fprintf(stderr, "mailverify bulk: job %s: claiming a chunk: %.*s\n", cc->w->f->job,
                    (int)(idn < 200 ? idn : 200), ids);
        return;
    }
    if (mv_reply_type(rep) != MV_RESP_ARRAY || id == NULL || mv_reply_type(id) != MV_RESP_STRING) {
        op->bad = true;
        return;
    }
    ids = mv_reply_str(id, &idn);
    if (idn == 0 || idn >= 48) {
        op->bad = true;
        return;
    }
    entry(cc, rep, &drop, &why);
    if (drop) {
        fprintf(stderr, "mailverify bulk: job %s: stream entry %.*s is not a chunk (%s): dropped\n",
                cc->w->f->job, (int)idn, ids, why);
        /* acked after this callback: the reply is gone then, so keep the id */
        cc->got = 2;
        memcpy(cc->dropid, ids, idn);
        cc->dropid[idn] = '\0';
    }
}

/* claim - one chunk, taken over or new; 1 got one, 0 none, -1 engine error */
static int claim(fworker *w, uint64_t now)
{
    fleet *f = w->f;
    char lease[24], maxb[24];
    bool autoc = now - w->last_auto >= 1000;
    claim_ctx cc = {.w = w};
    fleet_op op = {.fn = on_claim, .arg = &cc};

    snprintf(lease, sizeof(lease), "%u", w->m.lease_s * 1000);
    snprintf(maxb, sizeof(maxb), "%d", FLEET_ENTRY_MAX);
    if (autoc)
        w->last_auto = now;
    fleet_send(
        f, &op, 8,
        (const char *[]){"EVAL", claim_lua, "1", f->k_chunks, f->consumer, lease, maxb, autoc ? "1" : "0"},
        (size_t[]){4, strlen(claim_lua), 1, strlen(f->k_chunks), strlen(f->consumer), strlen(lease),
                   strlen(maxb), 1});
    if (!fleet_wait(f)) {
        redis_trouble(w, "no chunk is claimed meanwhile");
        return 0;
    }
    if (op.bad) {
        fprintf(stderr, "mailverify bulk: job %s: the claim script's reply makes no sense\n", f->job);
        return 0;
    }
    redis_fine(w);
    if (cc.got == 2) {
        ack_drop(w, cc.dropid, strlen(cc.dropid));
        return 1; /* try the next one at once */
    }
    return cc.got;
}

/* heartbeat - XCLAIM our own pending entries: their idle time starts again,
 * so that nobody takes a chunk we are still on */
static void heartbeat(fworker *w)
{
    fleet *f = w->f;
    const char **argv;
    size_t *lens, n = 0;
    fleet_op op = {0};
    fchunk *c;

    if (w->nchunks == 0)
        return;
    argv = calloc(w->nchunks + 6, sizeof(*argv));
    lens = calloc(w->nchunks + 6, sizeof(*lens));
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        return;
    }
    argv[n++] = "XCLAIM";
    argv[n++] = f->k_chunks;
    argv[n++] = "workers";
    argv[n++] = f->consumer;
    argv[n++] = "0";
    TAILQ_FOREACH(c, &w->chunks, link)
    argv[n++] = c->id;
    argv[n++] = "JUSTID";
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    fleet_send(f, &op, (int)n, argv, lens);
    if (!fleet_wait(f))
        redis_trouble(w, "our chunks' lease is not renewed meanwhile");
    free(argv);
    free(lens);
}

/* resubmit_due - greylisted addresses whose wait is over go again */
static bool resubmit_due(fworker *w, uint64_t now)
{
    fchunk *c;

    TAILQ_FOREACH(c, &w->chunks, link)
    for (size_t i = 0; i < c->n && w->ngrey > 0; i++) {
        fitem *it = &c->it[i];
        bool due;

        pthread_mutex_lock(&w->mu);
        due = it->state == IT_GREY && it->grey_at <= now;
        if (due)
            w->ngrey--;
        pthread_mutex_unlock(&w->mu);
        if (due && !submit(w, it))
            return false;
    }
    return true;
}

/* write_done - every finished chunk's result; stops at a Redis failure */
static void write_done(fworker *w)
{
    fchunk *c, *next;

    for (c = TAILQ_FIRST(&w->chunks); c != NULL; c = next) {
        size_t left;

        next = TAILQ_NEXT(c, link);
        pthread_mutex_lock(&w->mu);
        left = c->left;
        pthread_mutex_unlock(&w->mu);
        if (left > 0)
            continue;
        if (!write_chunk(w, c))
            return;
        TAILQ_REMOVE(&w->chunks, c, link);
        w->nchunks--;
        free_chunk(c);
    }
}

/* release - held groups whose time has come, while the window has room:
 * full ones, ones held too long, and any when no more chunks come (none
 * to claim, a window's worth held, stopping) */
static void release(fworker *w, uint64_t now, bool more)
{
    bool all;

    if (w->groups == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    all = !more || w->idle || w->held >= w->window;
    pthread_mutex_unlock(&w->mu);
    for (;;) {
        bool room;

        pthread_mutex_lock(&w->mu);
        room = w->inflight < w->window;
        pthread_mutex_unlock(&w->mu);
        if (!room || !bulk_groups_release(w->groups, now, all))
            return;
    }
}

/* fworker_step - write, resubmit, keep the lease, claim */
bool fworker_step(fworker *w, bool more)
{
    uint64_t now = ms_now();
    size_t inflight, held;
    int got;

    write_done(w);
    if (w->ngrey > 0 && !resubmit_due(w, now))
        return false;
    if (now - w->last_beat >= (uint64_t)w->m.lease_s * 1000 / 3) {
        w->last_beat = now;
        heartbeat(w);
    }
    while (more && now >= w->idle_until && !w->f->said_down) {
        /* read ahead a window's worth beyond what is in flight, as a
         * single run's reorder ring does, so that groups can fill */
        pthread_mutex_lock(&w->mu);
        inflight = w->inflight + w->ngrey;
        held = w->held;
        pthread_mutex_unlock(&w->mu);
        if (inflight >= w->window || held >= w->window)
            break;
        if ((got = claim(w, now)) < 0)
            return false;
        w->idle = got == 0;
        if (got == 0) {
            w->idle_until = now + 100; /* nothing to claim: ask again soon, not at once */
            break;
        }
    }
    release(w, now, more);
    if (w->fatal)
        return false;
    if (w->f->said_down && now >= w->idle_until) {
        w->idle_until = now + 500; /* Redis down: try a claim twice a second */
        if (more && claim(w, now) < 0)
            return false;
    }
    return true;
}

/* ---- mailverify bulk --worker JOB ---------------------------------------- */

/* wait_job - until the job's meta is there; 1, 0 on a signal, -1 unusable */
static int wait_job(fleet *f, fleet_meta *m, bool quiet)
{
    bool said = false;

    while (!bulk_got_signal) {
        int r = fleet_up(f, 1000) ? fleet_meta_read(f, m) : -1;

        if (r == 1)
            return 1;
        if (r == -2)
            return -1; /* Redis answered, with something that is not a job's meta */
        if (!said && !quiet)
            fprintf(stderr, "mailverify bulk: waiting for job %s in Redis at %s (Ctrl-C to stop)\n", f->job,
                    f->server);
        said = true;
        usleep(500 * 1000);
    }
    return 0;
}

/* worker_loop - claim and verify until the job ends or a signal; an exit status */
static int worker_loop(fworker *w, fleet *f, bool quiet)
{
    uint64_t last_meta = 0;
    bool stopping = false, said_gone = false;
    fleet_meta m;

    for (;;) {
        uint64_t now = ms_now();

        if (bulk_got_signal && !stopping) {
            stopping = true;
            if (!quiet)
                fprintf(stderr,
                        "mailverify bulk: worker %s: finishing %zu chunks in hand (again to stop at "
                        "once: another worker takes them after the lease)\n",
                        f->consumer, w->nchunks);
        }
        if (bulk_signal_count >= 2 || (stopping && w->nchunks == 0))
            return bulk_got_signal == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
        if (!fworker_step(w, !stopping))
            return EX_SOFTWARE;
        if (now - last_meta >= 1000) {
            int r;

            last_meta = now;
            if ((r = fleet_meta_read(f, &m)) == 1 && m.done && w->nchunks == 0)
                return 0;
            if (r == 0 && !said_gone && !quiet)
                fprintf(stderr,
                        "mailverify bulk: job %s is not in Redis any more: waiting for it to be "
                        "resumed (Ctrl-C to stop)\n",
                        f->job);
            said_gone = r == 0;
        }
        fworker_wait(w, 20);
    }
}

/* group_batch - what a domain's sessions carry at once (as cli_bulk_setup.c) */
static size_t group_batch(const mv_settings *st)
{
    return (size_t)(st->smtp_max_rcpt * st->smtp_domain_sessions);
}

/* bulk_worker_main - `mailverify bulk --worker JOB`; an exit status */
int bulk_worker_main(bulk *bk)
{
    mv_config *cfg = cli_load_config(bk->co.config, true);
    fleet f;
    fleet_meta m;
    fworker *w = NULL;
    mv_engine *e = NULL;
    uint64_t t0 = ms_now(), chunks = 0, addrs = 0;
    int rc;

    if (cfg == NULL)
        return EX_CONFIG;
    if (!fleet_open(&f, mv_config_settings(cfg), bk->worker_job, "--worker")) {
        fleet_close(&f);
        mv_config_unref(cfg);
        return EX_CONFIG;
    }
    bulk_install_signals();
    if ((rc = wait_job(&f, &m, bk->quiet)) <= 0) {
        rc = rc == 0 ? (bulk_got_signal == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT) : EX_DATAERR;
        goto out;
    }
    if (m.done) {
        if (!bk->quiet)
            fprintf(stderr, "mailverify bulk: job %s has ended\n", f.job);
        rc = 0;
        goto out;
    }
    /* the job decides how addresses are verified; the host where (resolver, ...) */
    if ((e = mv_engine_new_opts(cfg, &bk->co.eo)) == NULL ||
        (w = fworker_new(&f, e, &m, (unsigned)bk->window,
                         (unsigned)mv_config_settings(cfg)->smtp_greylist_retry_s,
                         group_batch(mv_config_settings(cfg)))) == NULL) {
        fputs("mailverify bulk: out of memory\n", stderr);
        rc = EX_SOFTWARE;
        goto out;
    }
    if (!bk->quiet)
        fprintf(stderr, "mailverify bulk: worker %s joined job %s (chunks of %u records)\n", f.consumer,
                f.job, m.chunk);
    rc = worker_loop(w, &f, bk->quiet);
    fworker_stats(w, &chunks, &addrs);
    if (!bk->quiet)
        fprintf(stderr,
                "mailverify bulk: worker %s: %s: %" PRIu64 " chunks, %" PRIu64 " addresses in %.1f s\n",
                f.consumer, rc == 0 ? "the job is done" : "stopped", chunks, addrs,
                (double)(ms_now() - t0) / 1000.0);
out:
    fworker_abandon(w);
    mv_engine_free(e);
    fworker_free(w);
    fleet_close(&f);
    mv_config_unref(cfg);
    return rc;
}
