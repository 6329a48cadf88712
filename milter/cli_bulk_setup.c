/* SPDX-License-Identifier: MIT */
/*
 * cli_bulk_setup.c - `mailverify bulk` before and after its loop: the
 * options and --help, the input (CSV or a plain list, its header and the
 * address column), the output and split files, --resume from the state
 * file (refusing an input that changed), the engine and the webhook
 * sender, and at the end the state, the summary (stderr, --summary-json)
 * and the signed bulk.completed event for a whole job. cli_bulk.c runs
 * the loop in between.
 */
#include "cli_bulk_int.h"

static const char bulk_usage[] =
    "Usage: mailverify bulk [OPTIONS] [INPUT] [-o OUTPUT]\n"
    "\n"
    "Verify every address of a list and write the list back with the verdict\n"
    "of each: status (deliverable, undeliverable, risky, unknown), reason,\n"
    "the action of the \"bulk\" policy context (accept, warn, review, block),\n"
    "a suggestion for a mistyped domain, and the signals behind the verdict.\n"
    "INPUT is a file or \"-\" (standard input, the default): a CSV file (RFC\n"
    "4180: quoted fields, embedded commas, quotes and newlines, a UTF-8 BOM,\n"
    "CRLF or LF), or a plain list, one address a line.\n"
    "\n"
    "Addresses go to the engine all at once, up to --window in flight, and\n"
    "the engine keeps to the etiquette of mailverify.conf: the RCPTs of one\n"
    "domain share SMTP sessions (smtp.max_rcpt_per_session), at most\n"
    "smtp.domain_sessions sessions per domain and smtp.host_sessions per MX\n"
    "host, smtp.host_rate new sessions a second per host, a 452 answered\n"
    "with a new session later; duplicates are verified once and each\n"
    "domain's MX and catch-all answers are learned once. Rows read ahead\n"
    "are handed to the engine by domain, max_rcpt_per_session x\n"
    "domain_sessions at a time (or after 0.3 s), so that one session\n"
    "carries many RCPTs even when the list is shuffled. A greylisted\n"
    "address is asked again after the server's delay, within --max-wait;\n"
    "if it is still greylisted then, it is reported unknown/greylisted.\n"
    "Rows come out in input order, so one slow domain at the head holds back\n"
    "the rows behind it (memory stays bounded: see --window).\n"
    "\n"
    "Output (CSV): the input's columns untouched, then status, reason,\n"
    "action, suggestion, normalized, disposable, role, free, catch_all, mx,\n"
    "smtp_code, smtp_enhanced, smtp_reply (prefixed \"mailverify_\" when the\n"
    "input already has a column of that name); catch_all is filled only\n"
    "for addresses the server accepted. A field of ours that a\n"
    "spreadsheet would run as a formula (= + - @) gets a leading '. A plain\n"
    "list comes out as CSV with the address in a column \"email\". With\n"
    "--format jsonl: one JSON verdict per line (the format of check --json)\n"
    "with \"line\", the input line, first.\n"
    "\n"
    "Input:\n"
    "  -o, --output FILE     write here (default: standard output); the state\n"
    "                        file FILE.mvstate is kept next to it while the run\n"
    "                        is unfinished, and removed when it completes\n"
    "  -f, --input-format F  csv or plain (default: csv for *.csv and *.tsv\n"
    "                        and whenever --column is given, else plain)\n"
    "      --column NAME|N   the column holding the address: a header name\n"
    "                        (case-insensitive) or a number from 1 (default:\n"
    "                        the first of email, e-mail, email_address,\n"
    "                        email address, mail, address; or the only column)\n"
    "  -d, --delimiter C     field separator: , ; tab or | (default , and tab\n"
    "                        for *.tsv)\n"
    "      --no-header       the CSV has no header row (--column is then a\n"
    "                        number, 1 by default)\n"
    "      --on-bad-row WHAT a malformed CSV record (stray quote, unterminated\n"
    "                        quoted field, over 1 MiB) is reported on stderr\n"
    "                        with its line number, then: \"invalid\" (default)\n"
    "                        keeps it as a row, its raw text in the first\n"
    "                        column, undeliverable/invalid_syntax; \"skip\"\n"
    "                        leaves it out. Empty lines are always skipped.\n"
    "\n"
    "Output and run:\n"
    "      --format F        csv (default) or jsonl\n"
    "      --split DIR       also write each row to DIR/deliverable.csv,\n"
    "                        undeliverable.csv, risky.csv or unknown.csv (.jsonl\n"
    "                        with --format jsonl), each with the header\n"
    "      --resume          continue an interrupted run of the same command\n"
    "                        (same INPUT, a file, and OUTPUT): the output and\n"
    "                        split files are cut back to the last row the state\n"
    "                        file vouches for and the input is read from there\n"
    "  -w, --window N        addresses in flight at most, 1 to 100000 (default\n"
    "                        10000; each costs about 6 kB while in flight); the\n"
    "                        reorder buffer holds 8 x N rows\n"
    "      --max-wait S      how long a greylisted address may wait for its\n"
    "                        second chance, in seconds (default 360; 0: report\n"
    "                        greylisted at once)\n"
    "  -q, --quiet           no progress and no summary (errors still shown)\n"
    "      --progress S      seconds between progress lines when stderr is not\n"
    "                        a terminal (default 10; on a terminal one line is\n"
    "                        redrawn 4 times a second)\n"
    "      --summary-json FILE  write the job's completion record there (job id,\n"
    "                        counts per status and reason, rows, time, paths);\n"
    "                        with webhook.url set, a finished job also POSTs it,\n"
    "                        signed, as a bulk.completed event (waits 30 s at most)\n"
    "\n"
    "Across hosts (cache.store = \"redis\"; see FLEET below):\n"
    "      --fleet JOB       start JOB: a name of 1 to 64 letters, digits, '.',\n"
    "                        '_' or '-', unused in Redis (with --resume: this\n"
    "                        host's own job, continued). This host reads INPUT,\n"
    "                        works on chunks itself, and writes OUTPUT\n"
    "      --worker JOB      join JOB from any host sharing the Redis server: no\n"
    "                        INPUT or OUTPUT; verify chunks until the job ends\n"
    "                        (waits for a job that does not exist yet)\n"
    "      --chunk N         records per chunk, 1 to 200 (default 100)\n"
    "      --lease S         a worker silent for S seconds loses its chunks to\n"
    "                        another, 1 to 86400 (default 60); live workers\n"
    "                        renew their lease every S/3 seconds, so a chunk\n"
    "                        may take as long as it needs (greylisting)\n"
    "\n"
    "Engine (as in mailverify check):\n"
    "  -c, --config FILE     use FILE instead of the built-in configuration\n"
    "  -m, --mode MODE       offline, dns or smtp (default: the bulk context's,\n"
    "                        smtp)\n"
    "      --offline         the same as --mode offline\n"
    "  -t, --timeout MS      deadline per address (default: the bulk context's,\n"
    "                        60000)\n"
    "  -r, --resolver HOST[:PORT]  ask this DNS server\n"
    "      --allow-private   probe MX hosts in loopback and private ranges\n"
    "                        (test setups only)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Progress goes to stderr: on a terminal one line with rows done, share of\n"
    "the input read, rate, time left and counts per status; otherwise a plain\n"
    "line every --progress seconds. At the end a summary: counts and shares\n"
    "per status and per reason, time and rate.\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM: no new addresses are started, those in\n"
    "flight finish (each within its deadline; a second Ctrl-C stops at once),\n"
    "every row that is complete in input order is written, the state is saved\n"
    "and the summary printed. Rerun with --resume to go on; a crash or kill -9\n"
    "loses at most the last second's rows, which are verified again.\n"
    "\n"
    "FLEET: mailverify bulk --fleet JOB IN -o OUT on one host, and mailverify\n"
    "bulk --worker JOB on others with the same mailverify.conf (the same\n"
    "cache.redis_* settings and policy). The starting host splits the input\n"
    "into chunks in a Redis stream (keys under cache.redis_prefix: job:JOB:*,\n"
    "which expire 7 days after the job's last sign of life); workers, the\n"
    "starting host among them, claim chunks and write each chunk's result\n"
    "once; the starting host writes OUTPUT, split files, state file, summary\n"
    "and webhook as a single run would, byte for byte. Options that shape the\n"
    "verdicts (--mode, --timeout, --max-wait, --format) are the job's: workers\n"
    "take them from Redis; --window, --resolver, --allow-private and --config\n"
    "are each host's own. Workers share verdicts through the cache, so an\n"
    "address is probed once in the fleet (a killed worker's chunk in flight\n"
    "may be asked again). If Redis fails, the starting host stops as after\n"
    "Ctrl-C, with exit 75: rerun it with --resume when Redis is back (the\n"
    "job's keys are made again if Redis lost them); workers wait for Redis\n"
    "and the job, and exit 0 when the job is done. After the starting host\n"
    "itself was killed, --resume hands the chunks it held to the next claim\n"
    "at once; without its state file, --resume starts the job over.\n"
    "\n"
    "Exit status:\n"
    "    0  every row was written (whatever the verdicts)\n"
    "   64  bad command line\n"
    "   65  the input cannot be used as asked (no such column, a state file\n"
    "       from another run)\n"
    "   66  the input cannot be opened\n"
    "   70  internal error (out of memory, the network half cannot start)\n"
    "   73  the output, a split file or the state file cannot be created\n"
    "   74  reading the input or writing the output failed (disk full ...);\n"
    "       the state file still describes a consistent point: --resume\n"
    "   75  --fleet: Redis failed or lost the job's keys: --resume later\n"
    "   76  --fleet: a chunk's result in Redis stayed unusable (something\n"
    "       else writes there): --resume after fixing that\n"
    "   78  the configuration has errors\n"
    "  130  interrupted by SIGINT, 143 by SIGTERM: the state is saved\n"
    "\n"
    "Examples:\n"
    "  mailverify bulk list.csv -o clean.csv\n"
    "  mailverify bulk list.csv -o clean.csv --resume        (after Ctrl-C)\n"
    "  mailverify bulk --column 3 --no-header crm.csv -o out.csv --split parts/\n"
    "  mailverify bulk --offline --format jsonl - < addresses.txt > verdicts.jsonl\n"
    "  mailverify bulk --fleet nightly list.csv -o clean.csv      (host A)\n"
    "  mailverify bulk --worker nightly                           (hosts B, C)\n";

/* ---- setting up -------------------------------------------------------- */

/* ends_with - does s end with suffix (ASCII case-insensitive)? */
static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* parse_delim - , ; | or tab ("\t", "tab") */
static int parse_delim(const char *s)
{
    if (strcmp(s, "\\t") == 0 || strcasecmp(s, "tab") == 0)
        return '\t';
    return strlen(s) == 1 && strchr(",;|\t", s[0]) ? s[0] : -1;
}

/* parse_uint - a whole number in [lo, hi] */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* bulk_opt - one option of bulk's own; -1 on a bad value, 1 for help */
static int bulk_opt(bulk *bk, int c, const char *arg)
{
    unsigned long v;
    int d;

    switch (c) {
    case 'o': bk->output = arg; return 0;
    case 'f':
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "plain") != 0)
            break;
        bk->kind = strcmp(arg, "csv") == 0 ? MV_CSV_RFC4180 : MV_CSV_PLAIN;
        bk->kind_set = 1;
        return 0;
    case 'C': bk->column = arg; return 0;
    case 'd':
        if ((d = parse_delim(arg)) < 0)
            break;
        bk->delim = (char)d;
        return 0;
    case 'H': bk->header = false; return 0;
    case 'B':
        if (strcmp(arg, "invalid") != 0 && strcmp(arg, "skip") != 0)
            break;
        bk->bad_keep = strcmp(arg, "invalid") == 0;
        return 0;
    case 'F':
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "jsonl") != 0)
            break;
        bk->format = strcmp(arg, "csv") == 0 ? BULK_OUT_CSV : BULK_OUT_JSONL;
        return 0;
    case 'S': bk->split_dir = arg; return 0;
    case 'R': bk->resume = true; return 0;
    case 'q': bk->quiet = true; return 0;
    case 'J': bk->summary_json = arg; return 0;
    case 'w':
        if (!parse_uint(arg, 1, 100000, &v))
            break;
        bk->window = v;
        return 0;
    case 'W':
        if (!parse_uint(arg, 0, 86400, &v))
            break;
        bk->max_wait_s = (unsigned)v;
        return 0;
    case 'p':
        if (!parse_uint(arg, 0, 86400, &v))
            break;
        bk->progress_s = (unsigned)v;
        return 0;
    case 'X': bk->fleet_job = arg; return 0;
    case 'Y': bk->worker_job = arg; return 0;
    case 'K':
        if (!parse_uint(arg, 1, FLEET_CHUNK_MAX, &v))
            break;
        bk->chunk = (unsigned)v;
        return 0;
    case 'L':
        if (!parse_uint(arg, 1, 86400, &v))
            break;
        bk->lease_s = (unsigned)v;
        return 0;
    case 'h': fputs(bulk_usage, stdout); return 1;
    default: fputs("Try 'mailverify bulk --help'.\n", stderr); return -1;
    }
    fprintf(stderr, "mailverify bulk: bad value '%s' for -%c (see --help)\n", arg, c);
    return -1;
}

/* bulk_parse_args - options and operands; -1 on a usage error, 1 for help */
int bulk_parse_args(int argc, char **argv, bulk *bk)
{
    static const struct option opts[] = {
        CLI_COMMON_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"input-format", required_argument, NULL, 'f'},
        {"column", required_argument, NULL, 'C'},
        {"delimiter", required_argument, NULL, 'd'},
        {"no-header", no_argument, NULL, 'H'},
        {"on-bad-row", required_argument, NULL, 'B'},
        {"format", required_argument, NULL, 'F'},
        {"split", required_argument, NULL, 'S'},
        {"resume", no_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"summary-json", required_argument, NULL, 'J'},
        {"window", required_argument, NULL, 'w'},
        {"max-wait", required_argument, NULL, 'W'},
        {"progress", required_argument, NULL, 'p'},
        {"fleet", required_argument, NULL, 'X'},
        {"worker", required_argument, NULL, 'Y'},
        {"chunk", required_argument, NULL, 'K'},
        {"lease", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, mine;

    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "o:f:d:qw:h", opts, NULL)) != -1) {
        if ((mine = cli_common_opt(c, optarg, "bulk", &bk->co)) < 0)
            return -1;
        if (mine == 0 && (mine = bulk_opt(bk, c, optarg)) != 0)
            return mine;
    }
    if (argc - optind > 1) {
        fputs("mailverify bulk: one input at most (a file, or - for stdin)\n"
              "Try 'mailverify bulk --help'.\n",
              stderr);
        return -1;
    }
    if (bk->fleet_job != NULL && bk->worker_job != NULL) {
        fputs("mailverify bulk: --fleet starts a job, --worker joins one: not both\n", stderr);
        return -1;
    }
    if (bk->worker_job != NULL && (optind < argc || strcmp(bk->output, "-") != 0 || bk->resume)) {
        fputs("mailverify bulk: --worker takes no INPUT, -o or --resume: the job's starting host reads "
              "and writes them\n",
              stderr);
        return -1;
    }
    bk->fleet_resume = bk->resume;
    bk->input = optind < argc ? argv[optind] : "-";
    if (bk->resume && (strcmp(bk->input, "-") == 0 || strcmp(bk->output, "-") == 0)) {
        fputs("mailverify bulk: --resume needs an input file and -o FILE (standard input "
              "cannot be read again, standard output cannot be cut back)\n",
              stderr);
        return -1;
    }
    return 0;
}

/* defaults_from_name - input kind and delimiter from the file name */
static void defaults_from_name(bulk *bk)
{
    bool tsv = ends_with(bk->input, ".tsv");

    if (!bk->kind_set)
        bk->kind = bk->column != NULL || tsv || ends_with(bk->input, ".csv") ? MV_CSV_RFC4180 : MV_CSV_PLAIN;
    if (bk->delim == 0)
        bk->delim = tsv ? '\t' : ',';
}

/* find_column - the address column from --column and the header */
static int find_column(bulk *bk, const mv_csv_record *hdr)
{
    static const char *const names[] = {
        "email", "e-mail", "email_address", "email address", "mail", "address",
    };
    unsigned long n;

    if (bk->column != NULL && parse_uint(bk->column, 1, MV_CSV_FIELDS_MAX, &n)) {
        bk->col = (long)n - 1;
        if (hdr == NULL || n <= hdr->nfields)
            return 0;
        fprintf(stderr, "mailverify bulk: %s: --column %lu, but the header has %zu columns\n", bk->input, n,
                hdr->nfields);
        return EX_DATAERR;
    }
    if (bk->column != NULL && hdr != NULL && (bk->col = mv_csv_find_column(hdr, bk->column)) >= 0)
        return 0;
    if (bk->column != NULL) {
        fprintf(stderr, "mailverify bulk: %s: no column '%s'%s\n", bk->input, bk->column,
                hdr ? " in the header" : " (without a header, --column is a number)");
        return EX_DATAERR;
    }
    bk->col = 0;
    if (hdr == NULL || hdr->nfields == 1)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((bk->col = mv_csv_find_column(hdr, names[i])) >= 0)
            return 0;
    fprintf(stderr,
            "mailverify bulk: %s: no column named email (or e-mail, email_address, "
            "mail, address) in the header; say which with --column NAME or N\n",
            bk->input);
    return EX_DATAERR;
}

/* header_row - the output's first row: the input's header and our columns */
static void header_row(bulk *bk, const mv_csv_record *hdr, mv_buf *b)
{
    static const char *const ours[] = {"status", "reason", "action", "suggestion"};
    const char *prefix = "";

    if (bk->format == BULK_OUT_JSONL || (bk->kind == MV_CSV_RFC4180 && hdr == NULL))
        return;
    if (hdr != NULL && mv_csv_had_bom(bk->csv))
        mv_buf_puts(b, "\xEF\xBB\xBF");
    if (hdr != NULL) {
        for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
            if (mv_csv_find_column(hdr, ours[i]) >= 0)
                prefix = "mailverify_";
        mv_buf_put(b, hdr->raw, hdr->rawlen);
    } else {
        mv_buf_puts(b, "email");
    }
    bulk_csv_columns(b, bk->delim, prefix);
    mv_buf_puts(b, bk->eol);
}

/* open_reader - a CSV reader over the input from its current offset */
static int open_reader(bulk *bk)
{
    mv_csv_opts o = {.kind = bk->kind, .delimiter = bk->delim, .offset = bk->base_off, .line = bk->base_line};

    mv_csv_free(bk->csv);
    if ((bk->csv = mv_csv_new(&o, bulk_read_fd, bk)) == NULL) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    return 0;
}

/* read_header - the header record (CSV with a header): column, eol, row */
static int read_header(bulk *bk, mv_buf *hrow)
{
    mv_csv_record hdr;
    mv_csv_status st;
    int rc;

    if (bk->kind == MV_CSV_PLAIN || !bk->header) {
        header_row(bk, NULL, hrow);
        return find_column(bk, NULL);
    }
    if ((st = mv_csv_next(bk->csv, &hdr)) != MV_CSV_ROW) {
        fprintf(stderr, "mailverify bulk: %s: %s\n", bk->input,
                st == MV_CSV_END   ? "empty input: no header row"
                : st == MV_CSV_BAD ? "the header row is malformed"
                : st == MV_CSV_EIO ? strerror(errno)
                                   : "out of memory");
        return st == MV_CSV_EIO ? EX_IOERR : st == MV_CSV_ENOMEM ? EX_SOFTWARE : EX_DATAERR;
    }
    if ((rc = find_column(bk, &hdr)) != 0)
        return rc;
    bk->hdr_fields = hdr.nfields;
    bk->eol = hdr.end - hdr.offset - hdr.rawlen >= 2 ? "\r\n" : "\n";
    header_row(bk, &hdr, hrow);
    /* where the data begins, for a fresh run's first checkpoint */
    mv_csv_tell(bk->csv, &bk->data_off, &bk->data_line);
    return 0;
}

/* open_input - the input file (or stdin) and its identity */
static int open_input(bulk *bk)
{
    struct stat st;

    if (strcmp(bk->input, "-") == 0) {
        bk->in_fd = STDIN_FILENO;
    } else if ((bk->in_fd = open(bk->input, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "mailverify bulk: cannot open %s: %s\n", bk->input, strerror(errno));
        return EX_NOINPUT;
    }
    if (fstat(bk->in_fd, &st) == 0 && S_ISREG(st.st_mode)) {
        bk->in_size = (uint64_t)st.st_size;
        bk->id.size = bk->in_size;
        bk->id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    bk->id.input = bk->input;
    return 0;
}

/* make_optstr - the options that shape the output, for the state file */
static bool make_optstr(bulk *bk)
{
    return asprintf(&bk->optstr,
                    "format=%s kind=%s delim=%d header=%d column=%s bad=%s "
                    "split=%s mode=%d",
                    bk->format == BULK_OUT_JSONL ? "jsonl" : "csv",
                    bk->kind == MV_CSV_PLAIN ? "plain" : "csv", bk->delim, bk->header,
                    bk->column ? bk->column : "", bk->bad_keep ? "invalid" : "skip",
                    bk->split_dir ? bk->split_dir : "", (int)bk->co.mode) >= 0;
}

/* new_job_id - 32 random hex digits */
static void new_job_id(char *id)
{
    unsigned char r[16] = {0};

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
        uint64_t t = bulk_now_ms() ^ ((uint64_t)getpid() << 32);

        memcpy(r, &t, sizeof(t));
    }
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", r[i]);
}

/* restore - --resume: the state file, then the input from its offset */
static int restore(bulk *bk)
{
    int r = bulk_state_read(bk->state_path, &bk->id, &bk->p);

    if (r < 0)
        return EX_DATAERR;
    if (r == 0) {
        if (!bk->quiet)
            fprintf(stderr, "mailverify bulk: no state file %s: starting from the beginning\n",
                    bk->state_path);
        bk->resume = false;
        return 0;
    }
    if (lseek(bk->in_fd, (off_t)bk->p.offset, SEEK_SET) < 0) {
        fprintf(stderr, "mailverify bulk: cannot seek in %s: %s\n", bk->input, strerror(errno));
        return EX_IOERR;
    }
    bk->base_off = bk->p.offset;
    bk->base_line = bk->p.line;
    bk->prev_seconds = bk->p.seconds;
    if (!bk->quiet)
        fprintf(stderr, "mailverify bulk: resuming job %s at line %" PRIu64 " (%" PRIu64 " rows done)\n",
                bk->p.job_id, bk->p.line, bk->p.rows);
    return open_reader(bk);
}

/* split_path - DIR/STATUS.EXT into buf */
static void split_path(bulk *bk, int i, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s.%s", bk->split_dir, mv_status_name((mv_status)i),
             bk->format == BULK_OUT_JSONL ? "jsonl" : "csv");
}

/* open_outputs - the output and split files, fresh (with the header row) or cut back */
static int open_outputs(bulk *bk, const mv_buf *hrow)
{
    char path[4200];

    if (bulk_file_open(&bk->out, bk->output, bk->resume, bk->p.out_len) < 0)
        return EX_CANTCREAT;
    if (!bk->resume && hrow->len > 0)
        bulk_file_put(&bk->out, hrow->data, hrow->len);
    if (bk->use_split && mkdir(bk->split_dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "mailverify bulk: cannot create %s: %s\n", bk->split_dir, strerror(errno));
        return EX_CANTCREAT;
    }
    for (int i = 0; bk->use_split && i < BULK_NSPLIT; i++) {
        split_path(bk, i, path, sizeof(path));
        if (bulk_file_open(&bk->split[i], path, bk->resume, bk->p.split_len[i]) < 0)
            return EX_CANTCREAT;
        if (!bk->resume && hrow->len > 0)
            bulk_file_put(&bk->split[i], hrow->data, hrow->len);
    }
    if (!bk->resume) {
        bk->p.offset = bk->data_off;
        bk->p.line = bk->data_line;
    }
    return bulk_checkpoint(bk, true) ? 0 : EX_IOERR;
}

/* bulk_prepare - input, header, state, outputs; an exit status */
int bulk_prepare(bulk *bk)
{
    mv_buf hrow = {0};
    int rc;

    defaults_from_name(bk);
    bk->eol = "\n";
    bk->base_line = bk->data_line = 1;
    bk->use_split = bk->split_dir != NULL;
    if ((rc = open_input(bk)) != 0 || (rc = open_reader(bk)) != 0 || (rc = read_header(bk, &hrow)) != 0)
        goto out;
    if (!mv_buf_ok(&hrow) || !make_optstr(bk)) {
        rc = EX_SOFTWARE;
        goto out;
    }
    bk->id.options = bk->optstr;
    if (strcmp(bk->output, "-") != 0 && (bk->state_path = bulk_state_path(bk->output)) == NULL) {
        rc = EX_SOFTWARE;
        goto out;
    }
    new_job_id(bk->p.job_id);
    if (bk->resume && (rc = restore(bk)) != 0)
        goto out;
    if (bk->bf != NULL && (rc = bulk_fleet_begin(bk)) != 0)
        goto out;
    rc = open_outputs(bk, &hrow);
out:
    mv_buf_free(&hrow);
    return rc;
}

/* webhook_line - the sender's lines on stderr, as the rest of bulk's */
static void webhook_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "mailverify bulk: %s\n", line);
}

/* start_webhook - the sender for webhook.url, started before the run so
 * that a sender that cannot start stops the job before any work; false
 * then (logged) */
static bool start_webhook(bulk *bk, mv_config *cfg)
{
    bool failed;

    bk->webhook = mv_webhook_new(cfg, webhook_line, NULL, NULL, NULL, &failed);
    return !failed;
}

/* post_completion - a finished job's completion record to webhook.url,
 * delivered (with retries) within BULK_WEBHOOK_WAIT_MS; what is not is
 * logged with its event id */
static void post_completion(bulk *bk, const bulk_summary *sum)
{
    mv_buf b = {0};

    bulk_completion_json(&b, sum);
    if (!mv_buf_ok(&b) || !mv_webhook_bulk_completed(bk->webhook, b.data, b.len))
        fputs("mailverify bulk: webhook: the completion event could not be queued\n", stderr);
    mv_buf_free(&b);
    mv_webhook_free(bk->webhook, BULK_WEBHOOK_WAIT_MS);
    bk->webhook = NULL;
}

/* bulk_start_engine - the config and the engine; an exit status */
int bulk_start_engine(bulk *bk)
{
    mv_config *cfg = cli_load_config(bk->co.config, true);
    const mv_settings *st;

    if (cfg == NULL)
        return EX_CONFIG;
    st = mv_config_settings(cfg);

    bk->greylist_retry_s = (unsigned)st->smtp_greylist_retry_s;
    bk->group_batch = (size_t)(st->smtp_max_rcpt * st->smtp_domain_sessions);
    /* a group is what the domain's sessions can carry at once */
    if (bk->co.mode != MV_MODE_OFFLINE &&
        (bk->groups = bulk_groups_new((size_t)(st->smtp_max_rcpt * st->smtp_domain_sessions), HOLD_MS,
                                      bulk_on_release, bk)) == NULL) {
        mv_config_unref(cfg);
        fputs("mailverify bulk: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    if (bk->fleet_job != NULL) {
        int rc = bulk_fleet_start(bk, st);

        if (rc != 0) {
            mv_config_unref(cfg);
            return rc;
        }
    }
    bk->engine = mv_engine_new_opts(cfg, &bk->co.eo);
    if (bk->engine != NULL && !start_webhook(bk, cfg)) {
        mv_config_unref(cfg);
        return EX_SOFTWARE;
    }
    mv_config_unref(cfg);
    if (bk->engine == NULL) {
        fputs("mailverify bulk: out of memory\n", stderr);
        return EX_SOFTWARE;
    }
    bk->req = (mv_request){.context = MV_CTX_BULK, .mode = bk->co.mode, .deadline_ms = bk->co.deadline_ms};
    return 0;
}

/* bulk_finish - the end of a run: files, state, summary; the exit status */
int bulk_finish(bulk *bk, int rc)
{
    bool complete = rc == 0 && !bk->stopping && bulk_signal_count < 2;
    bulk_summary sum = {.p = &bk->p,
                        .input = bk->input,
                        .output = bk->output,
                        .split_dir = bk->split_dir,
                        .complete = complete};
    bool ok = true;

    /* what is written is consistent: the state file may vouch for it */
    if (rc == 0 || rc == EX_SOFTWARE || rc == EX_TEMPFAIL || rc == EX_PROTOCOL)
        ok = bulk_checkpoint(bk, true);
    sum.run_seconds = (double)(bulk_now_ms() - bk->t0) / 1000.0;
    sum.run_rows = bk->run_rows;
    ok = bulk_file_close(&bk->out) && ok;
    for (int i = 0; bk->use_split && i < BULK_NSPLIT; i++)
        ok = bulk_file_close(&bk->split[i]) && ok;
    if (complete && ok && bk->state_path != NULL && unlink(bk->state_path) < 0 && errno != ENOENT)
        fprintf(stderr, "mailverify bulk: cannot remove %s: %s\n", bk->state_path, strerror(errno));
    if (!bk->quiet) {
        bulk_clear_progress(bk);
        bulk_summary_print(stderr, &sum);
    }
    if (bk->summary_json != NULL) {
        mv_buf b = {0};
        FILE *f = fopen(bk->summary_json, "w");

        bulk_completion_json(&b, &sum);
        mv_buf_putc(&b, '\n');
        if (f == NULL || !mv_buf_ok(&b) || fwrite(b.data, 1, b.len, f) != b.len)
            ok = false;
        if (f != NULL && fclose(f) != 0)
            ok = false;
        if (!ok)
            fprintf(stderr, "mailverify bulk: cannot write %s\n", bk->summary_json);
        mv_buf_free(&b);
    }
    if (complete && ok)
        bulk_fleet_end(bk, true);
    /* only a whole job is "completed"; an interrupted one is resumed later */
    if (complete && ok && bk->webhook != NULL)
        post_completion(bk, &sum);
    if (rc != 0)
        return rc;
    if (!ok)
        return EX_IOERR;
    return complete ? 0 : bulk_got_signal == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
}

/* discard - an output file left open by a failed start: closed, unflushed */
static void discard(bulk_file *f)
{
    if (f->path == NULL)
        return;
    if (f->fd > STDERR_FILENO)
        close(f->fd);
    mv_buf_free(&f->buf);
    free(f->path);
    f->path = NULL;
}

/* bulk_cleanup - the engine first (its last callbacks are dropped), then the ring */
void bulk_cleanup(bulk *bk)
{
    pthread_mutex_lock(&bk->mu);
    bk->abandon = true;
    pthread_mutex_unlock(&bk->mu);
    bulk_fleet_abandon(bk);
    mv_engine_free(bk->engine);
    bulk_fleet_free(bk);
    mv_webhook_free(bk->webhook, 0);
    bulk_groups_free(bk->groups);
    discard(&bk->out);
    for (int i = 0; i < BULK_NSPLIT; i++)
        discard(&bk->split[i]);
    for (size_t i = 0; bk->ring != NULL && i < bk->nring; i++)
        bulk_release_slot(&bk->ring[i]);
    free(bk->ring);
    mv_csv_free(bk->csv);
    if (bk->in_fd > STDIN_FILENO)
        close(bk->in_fd);
    free(bk->state_path);
    free(bk->optstr);
    pthread_mutex_destroy(&bk->mu);
    pthread_cond_destroy(&bk->cond);
}

/* bulk_install_signals - SIGINT and SIGTERM set a flag; reads are restarted */
void bulk_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bulk_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
