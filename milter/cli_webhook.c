/* SPDX-License-Identifier: MIT */
/*
 * cli_webhook.c - `mailverify webhook-verify`: check a signed webhook.
 *
 * What a receiver of mailverify.fcgi's webhooks runs (or re-implements
 * from the --help below) for each request: the signature over
 * "timestamp.body" (hmac.c), the timestamp window, the event id in the
 * signed body equal to the header's, and -- with --seen -- that the id
 * was not accepted before. The seen-ids file is locked (flock) while it
 * is read and rewritten, so concurrent receivers can share it; ids are
 * kept SEEN_KEEP_S (or twice the tolerance, if longer).
 */
#include "buf.h"
#include "cli.h"
#include "hmac.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SEEN_KEEP_S 86400    /* how long an accepted event id is remembered */
#define BODY_MAX (64L << 20) /* refuse bodies larger than this */
#define ID_MAX 128

enum { WV_VALID = 0, WV_BAD_SIGNATURE = 1, WV_STALE = 2, WV_REPLAYED = 3 };

static const char webhook_usage[] =
    "Usage: mailverify webhook-verify --secret SECRET [--tolerance SECONDS] [--seen FILE]\n"
    "                                 TIMESTAMP SIGNATURE EVENT_ID < BODY\n"
    "\n"
    "Check one webhook request from mailverify.fcgi, as its receiver does: give\n"
    "the values of its three X-Mailverify-* headers as arguments and its raw\n"
    "body (the bytes as received, not re-encoded JSON) on standard input.\n"
    "\n"
    "The request (webhook.url, webhook.secret in mailverify.conf):\n"
    "  POST /your/path HTTP/1.1\n"
    "  Content-Type: application/json\n"
    "  X-Mailverify-Timestamp: 1700000000       unix seconds when this attempt was sent\n"
    "  X-Mailverify-Event: 9f0c3e...            the event id: 32 hex digits (128 random\n"
    "                                           bits), the same on every retry\n"
    "  X-Mailverify-Signature: v1=3fff85...\n"
    "\n"
    "  {\"event\":\"verdict\",\"id\":\"9f0c3e...\",\"created\":1700000000,\"verdict\":{...}}\n"
    "  {\"event\":\"bulk.completed\",\"id\":\"...\",\"created\":...,\"job\":{...}}\n"
    "\n"
    "The algorithm, to implement it in any language:\n"
    "  1. signed = TIMESTAMP + \".\" + BODY      the timestamp header's exact bytes,\n"
    "                                           one dot, the body's exact bytes\n"
    "  2. mac    = HMAC-SHA256(key = SECRET, message = signed)   (RFC 2104; the\n"
    "                                           secret's bytes as written in the config)\n"
    "  3. expected = \"v1=\" + lowercase hex of mac (64 digits)\n"
    "  4. SIGNATURE is a comma-separated list of entries; the request is authentic\n"
    "     if any \"v1=\" entry equals expected (hex digits in any case). Compare in\n"
    "     constant time (hmac.compare_digest, crypto.timingSafeEqual, hash_equals);\n"
    "     ignore entries of other schemes. Otherwise: exit 1.\n"
    "  5. TIMESTAMP must be decimal digits within SECONDS of your clock, past or\n"
    "     future (default 300): else exit 2. Each retry is signed anew with a\n"
    "     fresh timestamp, so a delivery delayed by retries is never stale.\n"
    "  6. The body's top-level \"id\" must equal EVENT_ID (the header is not\n"
    "     signed; the body is): else exit 1.\n"
    "  7. EVENT_ID must not have been accepted before (with --seen): else exit 3.\n"
    "     A retry of an event you processed but whose answer was lost is such a\n"
    "     replay: answer it 2xx and do nothing, or the sender keeps retrying.\n"
    "Answer 2xx when done; anything else (or no answer within webhook.timeout_ms)\n"
    "is retried after webhook.retry_base_ms, then twice that, and so on, at most\n"
    "webhook.retries times.\n"
    "\n"
    "Options:\n"
    "  -s, --secret SECRET      the shared secret (webhook.secret); or\n"
    "  -S, --secret-file FILE   read it from FILE (its first line), or set\n"
    "                           MAILVERIFY_WEBHOOK_SECRET (keeps it out of ps)\n"
    "  -t, --tolerance SECONDS  the timestamp window (default 300)\n"
    "  -n, --seen FILE          remember accepted event ids in FILE (created if\n"
    "                           missing; locked, so receivers can share it; ids\n"
    "                           are kept 24 hours, or twice SECONDS if longer)\n"
    "  -q, --quiet              no message for a valid request\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 valid; 1 bad signature or event id; 2 stale or malformed\n"
    "timestamp; 3 replayed event id; 64 usage; 74 cannot read the body or FILE.\n"
    "\n"
    "Example (a receiver in Python, without this command):\n"
    "  ts, sig, ev = h[\"X-Mailverify-Timestamp\"], h[\"X-Mailverify-Signature\"], "
    "h[\"X-Mailverify-Event\"]\n"
    "  mac = hmac.new(secret, ts.encode() + b\".\" + body, hashlib.sha256).hexdigest()\n"
    "  ok = any(hmac.compare_digest(\"v1=\" + mac, s.strip().lower()) for s in sig.split(\",\"))\n"
    "  ok = ok and ts.isdigit() and abs(time.time() - int(ts)) <= 300\n"
    "  ok = ok and json.loads(body)[\"id\"] == ev and ev not in seen\n"
    "or with this command:\n"
    "  mailverify webhook-verify -S /etc/site/webhook.secret -n /var/lib/site/seen \\\n"
    "      \"$TS\" \"$SIG\" \"$EV\" < body.json\n";

/* read_all - the whole stream into *out (NUL-terminated); false on error */
static bool read_all(FILE *f, char **out, size_t *len)
{
    size_t cap = 8192, n = 0, got;
    char *b = malloc(cap + 1), *nb;

    while (b != NULL && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && (cap > (size_t)BODY_MAX || (nb = realloc(b, 2 * cap + 1)) == NULL)) {
            free(b);
            b = NULL;
        } else if (n == cap) {
            b = nb;
            cap *= 2;
        }
    }
    if (b == NULL || ferror(f)) {
        free(b);
        return false;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return true;
}

/* skip_string - past the JSON string starting at s (its opening quote); NULL if unterminated */
static const char *skip_string(const char *s, const char *end)
{
    for (s++; s < end; s++) {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s + 1;
    }
    return NULL;
}

/* body_id_is - is the top-level "id" member of the JSON object the string id? */
static bool body_id_is(const char *s, size_t len, const char *id)
{
    const char *end = s + len, *key;
    int depth = 0;
    bool want_key = false;

    for (; s < end; s++) {
        if (*s == '"') {
            key = s;
            if ((s = skip_string(s, end)) == NULL)
                return false;
            if (depth == 1 && want_key && s - key == 4 && memcmp(key, "\"id\"", 4) == 0) {
                s += strspn(s, " \t\r\n");
                if (s >= end || *s++ != ':')
                    return false;
                s += strspn(s, " \t\r\n");
                return (size_t)(end - s) > strlen(id) + 1 && *s == '"' &&
                       strncmp(s + 1, id, strlen(id)) == 0 && s[1 + strlen(id)] == '"';
            }
            want_key = false;
            s--;
        } else if (*s == '{' || *s == '[') {
            depth++;
            want_key = *s == '{' && depth == 1;
        } else if (*s == '}' || *s == ']') {
            depth--;
        } else if (*s == ',' && depth == 1) {
            want_key = true;
        }
    }
    return false;
}

/* id_ok - 1 to ID_MAX of [A-Za-z0-9_-] */
static bool id_ok(const char *id)
{
    size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

    return n > 0 && n <= ID_MAX && id[n] == '\0';
}

/* seen_check - is id in the file (locked)? If not, add it; prune old ids.
 * WV_VALID, WV_REPLAYED or EX_IOERR */
static int seen_check(const char *path, const char *id, long long now, long long keep)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), rc = WV_VALID;
    FILE *f = fd >= 0 ? fdopen(fd, "r+") : NULL;
    char *text = NULL, *line, *save = NULL;
    size_t len = 0;
    mv_buf out = {0};

    if (f == NULL || flock(fd, LOCK_EX) != 0 || !read_all(f, &text, &len)) {
        fprintf(stderr, "mailverify webhook-verify: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        free(text);
        return EX_IOERR;
    }
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        long long when = sp ? strtoll(sp + 1, NULL, 10) : 0;

        if (sp == NULL || when < now - keep)
            continue; /* expired (or not ours): dropped */
        if ((size_t)(sp - line) == strlen(id) && strncmp(line, id, strlen(id)) == 0)
            rc = WV_REPLAYED;
        mv_buf_printf(&out, "%s\n", line);
    }
    if (rc == WV_VALID)
        mv_buf_printf(&out, "%s %lld\n", id, now);
    if (!mv_buf_ok(&out) || fseek(f, 0, SEEK_SET) != 0 ||
        (out.len > 0 && fwrite(out.data, 1, out.len, f) != out.len) || fflush(f) != 0 ||
        ftruncate(fd, (off_t)out.len) != 0) {
        fprintf(stderr, "mailverify webhook-verify: cannot update %s: %s\n", path, strerror(errno));
        rc = EX_IOERR;
    }
    free(text);
    mv_buf_free(&out);
    if (fclose(f) != 0 && rc != EX_IOERR) {
        fprintf(stderr, "mailverify webhook-verify: cannot update %s: %s\n", path, strerror(errno));
        rc = EX_IOERR;
    }
    return rc;
}

/* secret_from_file - the first line of a file into a new string; NULL on error */
static char *secret_from_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t len;

    if (f == NULL || !read_all(f, &text, &len)) {
        fprintf(stderr, "mailverify webhook-verify: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    fclose(f);
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

/* verify - the checks in order; an exit status */
static int verify(const char *secret, long long tolerance, const char *seen, char **args, bool quiet)
{
    const char *ts = args[0], *sig = args[1], *id = args[2];
    long long now = (long long)time(NULL), t = 0;
    char *body;
    size_t len;
    int rc = WV_VALID;
    mv_ts_check fresh;

    if (!read_all(stdin, &body, &len)) {
        fprintf(stderr, "mailverify webhook-verify: cannot read the body from stdin: %s\n",
                ferror(stdin) ? strerror(errno) : "too large");
        return EX_IOERR;
    }
    if (!mv_webhook_verify(secret, strlen(secret), ts, body, len, sig)) {
        fputs("mailverify webhook-verify: invalid signature (not HMAC-SHA256 of TIMESTAMP.BODY "
              "under this secret)\n",
              stderr);
        rc = WV_BAD_SIGNATURE;
    } else if ((fresh = mv_webhook_fresh(ts, now, tolerance, &t)) != MV_TS_FRESH) {
        if (fresh == MV_TS_MALFORMED)
            fprintf(stderr, "mailverify webhook-verify: malformed timestamp '%s'\n", ts);
        else
            fprintf(stderr, "mailverify webhook-verify: stale timestamp: %lld s %s (tolerance %lld s)\n",
                    t < now ? now - t : t - now, t < now ? "old" : "in the future", tolerance);
        rc = WV_STALE;
    } else if (!id_ok(id) || !body_id_is(body, len, id)) {
        fputs("mailverify webhook-verify: the event id does not match the body's \"id\"\n", stderr);
        rc = WV_BAD_SIGNATURE;
    } else if (seen != NULL &&
               (rc = seen_check(seen, id, now, tolerance * 2 > SEEN_KEEP_S ? tolerance * 2 : SEEN_KEEP_S)) ==
                   WV_REPLAYED) {
        fprintf(stderr, "mailverify webhook-verify: replayed event %s (already accepted)\n", id);
    }
    if (rc == WV_VALID && !quiet)
        printf("valid: event %s, signed %lld s ago\n", id, now - t);
    free(body);
    return rc;
}

int cli_webhook_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret", required_argument, NULL, 's'},
        {"secret-file", required_argument, NULL, 'S'},
        {"tolerance", required_argument, NULL, 't'},
        {"seen", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *secret = NULL, *secret_file = NULL, *seen = NULL;
    char *owned = NULL, *end;
    long long tolerance = 300;
    bool quiet = false;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:S:t:n:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's': secret = optarg; break;
        case 'S': secret_file = optarg; break;
        case 't':
            tolerance = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || tolerance < 0 || tolerance > 31536000) {
                fprintf(stderr, "mailverify webhook-verify: bad --tolerance '%s' (0 to 31536000 s)\n",
                        optarg);
                return EX_USAGE;
            }
            break;
        case 'n': seen = optarg; break;
        case 'q': quiet = true; break;
        case 'h': fputs(webhook_usage, stdout); return 0;
        default: fputs("Try 'mailverify webhook-verify --help'.\n", stderr); return EX_USAGE;
        }
    }
    if (argc - optind != 3) {
        fputs("mailverify webhook-verify: expected TIMESTAMP SIGNATURE EVENT_ID (try --help)\n", stderr);
        return EX_USAGE;
    }
    if (secret == NULL && secret_file != NULL && (secret = owned = secret_from_file(secret_file)) == NULL)
        return EX_IOERR;
    if (secret == NULL)
        secret = getenv("MAILVERIFY_WEBHOOK_SECRET");
    if (secret == NULL || *secret == '\0') {
        fputs("mailverify webhook-verify: no secret (--secret, --secret-file or "
              "MAILVERIFY_WEBHOOK_SECRET)\n",
              stderr);
        free(owned);
        return EX_USAGE;
    }
    rc = verify(secret, tolerance, seen, argv + optind, quiet);
    free(owned);
    return rc;
}
