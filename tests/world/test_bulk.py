#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_bulk - `mailverify bulk` against the loopback test world, and on bad input.

    MAILVERIFY=build/mailverify tests/in-netns /usr/bin/python3 tests/world/test_bulk.py [-v]

World (ten bulk domains, 20 ms per reply; greylisting for 2 s):
  - a list mixing every verdict comes out in input order with the right
    status, reason, action and signal columns, and the split files and the
    completion JSON agree with it;
  - greylisted addresses are asked again after the server's delay and end
    deliverable; with a --max-wait shorter than the delay (or 0) they are
    reported unknown/greylisted without waiting;
  - from the bulk servers' log: at most smtp.domain_sessions sessions at
    once per domain, RCPTs share sessions, each address asked once, no DATA;
  - resume: a run killed with SIGKILL at random points (and once stopped
    with SIGINT, exit 130) and continued with --resume writes the same
    bytes as an uninterrupted run (the CSV has no timing column), split
    files too.
Bad input (offline mode, no network step):
  - RFC 4180 edge cases: quotes, embedded delimiters and newlines, a BOM,
    CRLF, a missing final newline, other columns byte for byte;
  - malformed records named with their line number on stderr, kept as
    invalid_syntax or skipped (--on-bad-row), empty lines skipped,
    duplicates kept, a NUL byte and invalid UTF-8 in the address, Latin-1
    in other columns left alone; formula-looking fields of ours defused;
  - usage errors and their exit statuses; memory stays flat on a large input.
Completion webhook: a finished job POSTs one signed bulk.completed event
(checked with `mailverify webhook-verify`) carrying the summary's counts,
retried after the receiver's 500; a receiver that never takes it costs
the job its retries, not its exit status; an interrupted job posts nothing.
No assertion here is about speed.
"""
import csv
import hashlib
import hmac
import http.server
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import World  # noqa: E402
import test_etiquette as et  # noqa: E402  (the bulk log's session helpers)

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
DOMAINS = 10
W = None
TMP = None
NET = ["--resolver", "127.0.0.1", "--allow-private", "--timeout", "30000"]
OURS = ["status", "reason", "action", "suggestion", "normalized", "disposable", "role", "free",
        "catch_all", "mx", "smtp_code", "smtp_enhanced", "smtp_reply"]


def setUpModule():
    global W, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-bulk-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"), bulk_domains=DOMAINS, bulk_delay_ms=20,
              grey_seconds=2)
    W.__enter__()
    et.W = W


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def path(name):
    return os.path.join(TMP.name, name)


def write(name, data):
    p = path(name)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return p


def bulk(*args, ok=(0,), stdin=None, timeout=300):
    """Run mailverify bulk; (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([MV, "bulk"] + list(args), input=stdin, capture_output=True,
                       timeout=timeout)
    err = p.stderr.decode(errors="replace")
    if "Sanitizer" in err or "runtime error" in err:
        raise AssertionError(err)
    if ok is not None and p.returncode not in ok:
        raise AssertionError("exit %d: %s" % (p.returncode, err))
    return p.returncode, p.stdout, err


def slurp(p):
    with open(p, "rb") as f:
        return f.read()


def rows(p):
    """The output CSV's rows as dicts."""
    with open(p, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return list(csv.DictReader(f))


def conf(text):
    fd, p = tempfile.mkstemp(suffix=".conf", dir=TMP.name)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return p


def count_rows(out):
    try:
        with open(out, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_rows(p, out, more, limit):
    """Until out has grown by more lines (a resumed run starts from what the
    last one wrote), p has ended, or limit seconds passed."""
    want = count_rows(out) + more
    deadline = time.monotonic() + limit
    while p.poll() is None and time.monotonic() < deadline and count_rows(out) < want:
        time.sleep(0.02)


class WorldBulk(unittest.TestCase):
    def setUp(self):
        W.clear_logs()

    def test_every_verdict(self):
        want = [
            ("known@users.test", "deliverable", "accepted_email", "accept"),
            ("nobody@users.test", "undeliverable", "rejected_email", "block"),
            ("full@users.test", "risky", "mailbox_full", "review"),
            ("disabled@users.test", "undeliverable", "mailbox_disabled", "block"),
            ("postmaster@users.test", "risky", "role_account", "review"),
            ("anyone@catchall.test", "risky", "accept_all", "review"),
            ("x@nullmx.test", "undeliverable", "no_mail_server", "block"),
            ("y@nonexistent.test", "undeliverable", "invalid_domain", "block"),
            ("not an address", "undeliverable", "invalid_syntax", "block"),
            ("x@servfail.test", "unknown", "dns_error", "accept"),
            ("x@dead.test", "unknown", "no_connect", "accept"),
            ("someone@blocked.test", "unknown", "blocked_by_server", "accept"),
            ("known@grey.test", "deliverable", "accepted_email", "accept"),
            ("alice@ok.test", "deliverable", "accepted_email", "accept"),
            ("0001@bulk000.test", "deliverable", "accepted_email", "accept"),
            ("nobody@bulk001.test", "undeliverable", "rejected_email", "block"),
        ]
        lines = ["id,email,note"] + ['%d,%s,"keep, me %d"' % (i, a, i)
                                     for i, (a, _, _, _) in enumerate(want)]
        src = write("every.csv", "\n".join(lines) + "\n")
        out, split, summ = path("every.out.csv"), path("every.split"), path("every.json")
        _, _, err = bulk(src, "-o", out, "--split", split, "--summary-json", summ, *NET)
        got = rows(out)
        self.assertEqual([r["email"] for r in got], [w[0] for w in want], "input order kept")
        for r, (a, status, reason, action) in zip(got, want):
            self.assertEqual((r["status"], r["reason"], r["action"]), (status, reason, action),
                             "%s: %r" % (a, r))
        for i, r in enumerate(got):
            self.assertEqual((r["id"], r["note"]), (str(i), "keep, me %d" % i))
        byaddr = {r["email"]: r for r in got}
        self.assertEqual(byaddr["nobody@users.test"]["smtp_code"], "550")
        self.assertEqual(byaddr["nobody@users.test"]["smtp_enhanced"], "5.1.1")
        self.assertEqual(byaddr["anyone@catchall.test"]["catch_all"], "true")
        self.assertEqual(byaddr["alice@ok.test"]["mx"], "mx.ok.test")
        self.assertEqual(byaddr["postmaster@users.test"]["role"], "true")
        # split files: each row in the file of its status, with the header
        for st in ("deliverable", "undeliverable", "risky", "unknown"):
            part = rows(os.path.join(split, st + ".csv"))
            self.assertEqual([r["email"] for r in part],
                             [w[0] for w in want if w[1] == st], st)
        s = json.loads(slurp(summ))
        self.assertTrue(s["complete"])
        self.assertEqual(s["rows"], len(want))
        self.assertEqual(sum(s["status"].values()), len(want))
        self.assertEqual(s["status"]["deliverable"], sum(1 for w in want if w[1] == "deliverable"))
        self.assertRegex(s["job"], "^[0-9a-f]{32}$")
        self.assertIn("done: %d rows" % len(want), err)
        self.assertFalse(os.path.exists(out + ".mvstate"), "the state file goes when done")
        self.assertEqual(W.data_received(), [])

    def test_greylisted_asked_again_after_the_delay(self):
        src = write("grey.txt", "known+a@grey.test\nknown+b@grey.test\nnobody+c@grey.test\n")
        out = path("grey.out.csv")
        t0 = time.monotonic()
        bulk(src, "-o", out, "--max-wait", "30", *NET)
        took = time.monotonic() - t0
        got = rows(out)
        self.assertEqual([(r["status"], r["reason"]) for r in got],
                         [("deliverable", "accepted_email"), ("deliverable", "accepted_email"),
                          ("undeliverable", "rejected_email")])
        self.assertGreaterEqual(took, 2.0, "the answer waited for the greylisting delay")
        # the server saw each address twice: refused, then (>= 2 s later) asked again
        seen = {}
        for t, _sid, _peer, cmd in W.log_lines("grey"):
            if cmd.upper().startswith("RCPT TO:<") and "<mv-" not in cmd:
                seen.setdefault(cmd[9:cmd.index(">")], []).append(t)
        for a in ("known+a@grey.test", "known+b@grey.test", "nobody+c@grey.test"):
            self.assertEqual(len(seen.get(a, [])), 2, "%s: %r" % (a, seen))
            self.assertGreaterEqual(seen[a][1] - seen[a][0], 1.9)

    def test_greylisted_reported_when_max_wait_is_short(self):
        for wait in ("0", "1"):
            with self.subTest(max_wait=wait):
                src = write("grey%s.txt" % wait, "known+w%s@grey.test\n" % wait)
                out = path("grey%s.out.csv" % wait)
                t0 = time.monotonic()
                bulk(src, "-o", out, "--max-wait", wait, *NET)
                self.assertLess(time.monotonic() - t0, 10)
                [r] = rows(out)
                self.assertEqual((r["status"], r["reason"]), ("unknown", "greylisted"))

    def test_sessions_per_domain_and_shared_rcpts(self):
        addrs = ["%s%d@bulk%03d.test" % ("nobody" if i % 9 == 0 else "user", i, d)
                 for d in range(DOMAINS) for i in range(60)]
        random.Random(11).shuffle(addrs)
        src = write("etq.txt", "\n".join(addrs) + "\n")
        cfg = conf("smtp = { domain_sessions = 2; host_sessions = 2; max_rcpt_per_session = 10; "
                   "host_rate = 20; };\n")
        out = path("etq.out.csv")
        bulk(src, "-o", out, "--config", cfg, *NET)
        got = rows(out)
        self.assertEqual([r["email"] for r in got], addrs)
        for r in got:
            want = "rejected_email" if r["email"].startswith("nobody") else "accepted_email"
            self.assertEqual(r["reason"], want, r)
        et.settle()
        sessions = et.bulk_sessions()
        total_s = total_r = 0
        for d in range(DOMAINS):
            with self.subTest(domain=world.bulk_domain(d)):
                mine = sessions[world.bulk_ip(d)]
                asked = et.rcpts(mine)
                self.assertLessEqual(et.max_overlap(mine), 2)
                self.assertEqual(sorted(asked),
                                 sorted(a for a in addrs if a.endswith(world.bulk_domain(d))),
                                 "each address asked exactly once")
                for _, _, cmds in mine:
                    self.assertLessEqual(len([c for c in cmds if c.upper().startswith("RCPT")
                                              and "<mv-" not in c]), 10)
                total_s += len(mine)
                total_r += len(asked)
        self.assertGreater(total_r / total_s, 2.0, "RCPTs share sessions (%d RCPTs in %d "
                           "sessions)" % (total_r, total_s))
        self.assertEqual(W.data_received(), [])

    def test_duplicates_verified_once(self):
        uniq = ["%04d@bulk005.test" % i for i in range(25)] + ["nobody@bulk005.test"]
        addrs = uniq * 3
        random.Random(3).shuffle(addrs)
        src = write("dups.txt", "\n".join(addrs) + "\n")
        out = path("dups.out.csv")
        bulk(src, "-o", out, *NET)
        got = rows(out)
        self.assertEqual([r["email"] for r in got], addrs, "every row kept, in order")
        et.settle()
        asked = et.rcpts(et.bulk_sessions()[world.bulk_ip(5)])
        self.assertEqual(sorted(asked), sorted(uniq), "each distinct address asked once")

    def test_452_too_many_recipients_asked_later(self):
        addrs = ["known+%d@users.test" % i for i in range(12)]
        src = write("many.txt", "\n".join(addrs) + "\n")
        out = path("many.out.csv")
        bulk(src, "-o", out, *NET)
        self.assertEqual([(r["email"], r["reason"]) for r in rows(out)],
                         [(a, "accepted_email") for a in addrs])
        sessions = W.sessions("users")
        accepted = [c for s in sessions for c in s["commands"]
                    if c.upper().startswith("RCPT") and "<mv-" not in c]
        self.assertGreaterEqual(len(sessions), 3, "the users server takes 5 RCPTs a session")
        self.assertGreaterEqual(len(accepted), len(addrs))

    def resume_list(self, name, n):
        addrs = ["%s%d@bulk%03d.test" % ("nobody" if i % 7 == 0 else "user", i, i % DOMAINS)
                 for i in range(n)]
        addrs += ["known@users.test", "x@nullmx.test", "bad@@", "known+r@grey.test"]
        random.Random(5).shuffle(addrs)
        lines = ["n,email,comment"] + ['%d,%s,"row %d, ""quoted"""' % (i, a, i)
                                       for i, a in enumerate(addrs)]
        return write(name, "\r\n".join(lines) + "\r\n")

    def test_resume_after_kill9_and_sigint_is_byte_identical(self):
        src = self.resume_list("resume.csv", 1500)
        cfg = conf("smtp = { host_rate = 20; };\n")
        ref, ref_split = path("ref.csv"), path("ref.split")
        args = ["--config", cfg, "--max-wait", "20"] + NET
        t0 = time.monotonic()
        bulk(src, "-o", ref, "--split", ref_split, *args)
        whole = time.monotonic() - t0
        out, out_split = path("res.csv"), path("res.split")
        rng = random.Random(int(time.time()))
        kills = 0
        for attempt in range(12):
            p = subprocess.Popen([MV, "bulk", src, "-o", out, "--split", out_split, "--resume",
                                  "-q"] + args, stderr=subprocess.PIPE)
            # killed somewhere in the middle of what is left: once the output
            # has grown by a random share of the list (a sleep for a share of
            # the reference run's time missed: that run waited out the
            # greylister, which then knew the sender, and a fast build
            # finished the list before the kill)
            wait_rows(p, out, rng.randint(50, 300), whole)
            if attempt == 2:
                p.send_signal(signal.SIGINT)    # Ctrl-C: finish what is in flight, save
                _, err = p.communicate(timeout=120)
                if p.returncode == 0:
                    break
                self.assertEqual(p.returncode, 130, err)
                self.assertTrue(os.path.exists(out + ".mvstate"))
                continue
            p.kill()
            p.communicate()
            if p.returncode == 0:
                break
            kills += 1
        bulk(src, "-o", out, "--split", out_split, "--resume", *args)
        self.assertGreaterEqual(kills, 1, "at least one run was killed midway")
        self.maxDiff = 4000
        self.assertEqual(slurp(out).split(b"\n"), slurp(ref).split(b"\n"))
        for st in ("deliverable", "undeliverable", "risky", "unknown"):
            self.assertEqual(slurp(os.path.join(out_split, st + ".csv")),
                             slurp(os.path.join(ref_split, st + ".csv")), st)

    def test_resume_refuses_another_input(self):
        src = self.resume_list("other.csv", 1500)
        out = path("other.out.csv")
        p = subprocess.Popen([MV, "bulk", src, "-o", out, "-q"] + NET, stderr=subprocess.PIPE)
        time.sleep(1.2)
        p.kill()
        p.communicate()
        if not os.path.exists(out + ".mvstate"):
            self.skipTest("the run finished before it was killed")
        with open(src, "ab") as f:
            f.write(b"9999,late@bulk000.test,x\r\n")
        rc, _, err = bulk(src, "-o", out, "--resume", *NET, ok=None)
        self.assertEqual(rc, 65, err)
        self.assertIn("another run", err)


class BadInput(unittest.TestCase):
    """Offline: the input's shapes, and what is reported about them."""

    def run_csv(self, data, *args, ok=(0,)):
        src = write("in.csv", data)
        out = path("out.csv")
        rc, _, err = bulk("--offline", src, "-o", out, *args, ok=ok)
        return rc, slurp(out) if os.path.exists(out) else b"", err

    def test_rfc4180_edge_cases_carry_columns_through(self):
        body = ('\ufeffName,E-Mail,Notes\r\n'
                '"Doe, Jane",jane@example.test,"said ""hi""\r\nand left"\r\n'
                'Bob,"bob@example.test",\r\n'
                '"Ünïcode",u@example.test,"ä,ö"')           # no final line end
        _, out, _ = self.run_csv(body.encode())
        self.assertTrue(out.startswith(b"\xef\xbb\xbfName,E-Mail,Notes,status,reason"), out[:60])
        lines = out.split(b"\r\n")
        self.assertTrue(lines[1].startswith(b'"Doe, Jane",jane@example.test,"said ""hi""'))
        self.assertTrue(lines[2].startswith(b'and left",unknown,unverified,accept'))
        self.assertTrue(lines[3].startswith(b'Bob,"bob@example.test",,unknown,unverified'))
        self.assertTrue(lines[4].startswith('"Ünïcode",u@example.test,"ä,ö",unknown'.encode()))
        got = list(csv.DictReader(io.StringIO(out.decode("utf-8-sig"))))
        self.assertEqual([r["E-Mail"] for r in got],
                         ["jane@example.test", "bob@example.test", "u@example.test"])
        self.assertEqual(got[0]["Notes"], 'said "hi"\r\nand left')

    def test_malformed_rows_named_kept_or_skipped(self):
        body = (b'email,n\n'
                b'a@x.test,1\n'
                b'b@x.test,2"oops"\n'              # line 3: a quote in an unquoted field
                b'"c@x.test"z,3\n'                 # line 4: text after a closing quote
                b'd@x.test,4\n')
        _, out, err = self.run_csv(body)
        self.assertIn("line 3:", err)
        self.assertIn("line 4:", err)
        got = list(csv.reader(io.StringIO(out.decode())))
        self.assertEqual(len(got), 5)
        self.assertEqual(got[2][0], 'b@x.test,2"oops"', "the raw record, as one field")
        self.assertEqual(got[2][2:4], ["undeliverable", "invalid_syntax"])
        self.assertEqual(len(got[2]), len(got[0]), "padded to the header's width")
        _, out, err = self.run_csv(body, "--on-bad-row", "skip")
        got = list(csv.reader(io.StringIO(out.decode())))
        self.assertEqual([r[0] for r in got[1:]], ["a@x.test", "d@x.test"])
        self.assertIn("skipped", err)

    def test_empty_duplicate_nul_and_bad_utf8_lines(self):
        body = (b"a@x.test\n\n\na@x.test\r\n"
                b"nul\x00byte@x.test\n"
                b"bad\xff\xfeutf8@x.test\n"
                b"latin1-caf\xe9@x.test\n"
                b"=cmd|' /C calc'!A0@x.test\n")
        src = write("plain.txt", body)
        out = path("plain.out.csv")
        _, _, err = bulk("--offline", src, "-o", out)
        got = list(csv.reader(io.StringIO(slurp(out).decode("utf-8", "surrogateescape"))))
        self.assertEqual(got[0][:3], ["email", "status", "reason"])
        emails = [r[0] for r in got[1:]]
        self.assertEqual(emails[:2], ["a@x.test", "a@x.test"], "duplicates kept, empty lines not")
        self.assertEqual(len(emails), 6)
        self.assertEqual(emails[2], "nul\x00byte@x.test", "the line written back untouched")
        for r in got[3:6]:      # a NUL, invalid UTF-8, Latin-1: not addresses
            self.assertEqual(r[1:3], ["undeliverable", "invalid_syntax"], r)
        self.assertEqual(got[6][0], "=cmd|' /C calc'!A0@x.test")
        self.assertIn("empty lines skipped 2", err)

    def test_formula_in_our_fields_is_defused(self):
        src = write("f.txt", "=1+2@gmial.com\n-x@gmial.com\n")
        out = path("f.out.csv")
        bulk("--offline", src, "-o", out)
        got = rows(out)
        self.assertEqual(got[0]["email"], "=1+2@gmial.com", "the input is not ours to change")
        self.assertEqual(got[0]["suggestion"], "'=1+2@gmail.com")
        self.assertEqual(got[0]["normalized"], "'=1+2@gmial.com")
        self.assertEqual(got[1]["suggestion"], "'-x@gmail.com")

    def test_column_choice_and_header_collision(self):
        body = "id;status;Contact\n1;active;a@x.test\n"
        _, out, _ = self.run_csv(body, "--column", "contact", "--delimiter", ";")
        got = list(csv.DictReader(io.StringIO(out.decode()), delimiter=";"))
        self.assertEqual(got[0]["status"], "active", "the input's own column is untouched")
        self.assertEqual(got[0]["mailverify_status"], "unknown")
        _, out, _ = self.run_csv("x,a@x.test\ny,b@x.test\n", "--no-header", "--column", "2")
        self.assertTrue(out.startswith(b"x,a@x.test,unknown,unverified"), out)
        rc, _, err = self.run_csv("id,name\n1,z\n", ok=None)
        self.assertEqual(rc, 65, err)
        self.assertIn("--column", err)
        rc, _, err = self.run_csv("id,name\n1,z\n", "--column", "mail", ok=None)
        self.assertEqual(rc, 65, err)
        rc, _, err = self.run_csv("id,name\n1,z\n", "--column", "3", ok=None)
        self.assertEqual(rc, 65, err)

    def test_jsonl(self):
        src = write("j.csv", "email,x\nJane@Gmial.com,1\n\nbad,2\n")
        rc, out, _ = bulk("--offline", "--format", "jsonl", src)
        vs = [json.loads(ln) for ln in out.decode().splitlines()]
        self.assertEqual([v["line"] for v in vs], [2, 4])
        self.assertEqual(vs[0]["suggestion"], "Jane@gmail.com")
        self.assertEqual(vs[1]["reason"], "invalid_syntax")
        for k in ("address", "status", "reason", "action", "checks", "elapsed_ms"):
            self.assertIn(k, vs[0])

    def test_stdin_and_usage_errors(self):
        _, out, _ = bulk("--offline", "-q", stdin=b"a@x.test\n")
        self.assertTrue(out.startswith(b"email,status"), out)
        for args, code in ((["--resume"], 64), (["--format", "xml"], 64),
                           (["--window", "0"], 64), (["/nonexistent/in.csv"], 66),
                           (["--on-bad-row", "maybe"], 64)):
            with self.subTest(args=args):
                rc, _, err = bulk("--offline", *args, ok=None, stdin=b"")
                self.assertEqual(rc, code, err)
        rc, out, _ = bulk("--help", ok=None)
        self.assertEqual(rc, 0)
        self.assertIn(b"--resume", out)
        self.assertIn(b"Exit status", out)

    def test_unwritable_output(self):
        src = write("u.txt", "a@x.test\n")
        rc, _, err = bulk("--offline", src, "-o", "/nonexistent/dir/out.csv", ok=None)
        self.assertEqual(rc, 73, err)
        if os.path.exists("/dev/full"):
            rc, _, err = bulk("--offline", src, "-o", "/dev/full", ok=None)
            self.assertEqual(rc, 74, err)
            self.assertIn("No space left", err)

    @unittest.skipIf(os.environ.get("SANITIZE"), "ASan's own memory would be measured")
    def test_memory_stays_flat_on_a_large_input(self):
        src = path("large.csv")
        with open(src, "w") as f:
            f.write("id,email,filler\n")
            pad = "x" * 100
            for i in range(600000):
                f.write("%d,user%d@example%d.test,%s\n" % (i, i, i % 5000, pad))
        size = os.path.getsize(src)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        bulk("--offline", "-q", src, "-o", path("large.out.csv"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertGreater(size, 70 << 20)
        self.assertLess(max(peak, before) * 1024, 120 << 20,
                        "peak RSS %d kB for a %d MB input" % (peak, size >> 20))
        with open(path("large.out.csv"), "rb") as f:
            n = sum(1 for _ in f)
        self.assertEqual(n, 600001)

class Receiver:
    """A loopback webhook receiver: answers each POST with the next status
    of `answers` (the last one repeated) and keeps (headers, body) of all."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.got.append((dict(self.headers), body))
                code = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


SECRET = "bulk-hook-secret"


class CompletionWebhook(unittest.TestCase):
    def hook_conf(self, url, retries=3):
        return conf('webhook = { url = "%s"; secret = "%s"; retries = %d; retry_base_ms = 50; '
                    'timeout_ms = 2000; };\n' % (url, SECRET, retries))

    def test_completed_job_posts_one_signed_event(self):
        rcv = Receiver([500, 200])
        try:
            src = write("hook.txt", "a@x.test\nbad\nJane@gmial.com\n")
            out, summ = path("hook.out.csv"), path("hook.summary.json")
            bulk("--offline", "-q", "--config", self.hook_conf(rcv.url), src, "-o", out,
                 "--summary-json", summ)
        finally:
            rcv.close()
        self.assertEqual(len(rcv.got), 2, "one failed attempt (500), then the delivery")
        (h1, b1), (h2, b2) = rcv.got
        self.assertEqual(h1["X-Mailverify-Event"], h2["X-Mailverify-Event"], "a retry, not a new event")
        ev = json.loads(b2)
        self.assertEqual(ev["event"], "bulk.completed")
        self.assertEqual(ev["id"], h2["X-Mailverify-Event"])
        with open(summ) as f:
            self.assertEqual(ev["job"], json.load(f), "the event carries the summary")
        self.assertEqual(ev["job"]["rows"], 3)
        self.assertEqual(ev["job"]["status"]["undeliverable"], 1)
        self.assertEqual(ev["job"]["output"], out)
        ts, sig = h2["X-Mailverify-Timestamp"], h2["X-Mailverify-Signature"]
        want = "v1=" + hmac.new(SECRET.encode(), ts.encode() + b"." + b2, hashlib.sha256).hexdigest()
        self.assertEqual(sig, want)
        p = subprocess.run([MV, "webhook-verify", "--secret", SECRET, "--", ts, sig, ev["id"]],
                           input=b2, capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_receiver_that_never_takes_it(self):
        rcv = Receiver([503])
        try:
            src = write("hook2.txt", "a@x.test\n")
            t0 = time.monotonic()
            rc, _, err = bulk("--offline", "-q", "--config", self.hook_conf(rcv.url, retries=1),
                              src, "-o", path("hook2.out.csv"))
            took = time.monotonic() - t0
        finally:
            rcv.close()
        self.assertEqual(rc, 0, "the list was cleaned: delivery is not the job's outcome")
        self.assertEqual(len(rcv.got), 2, "the first attempt and one retry")
        self.assertIn("dropped after 2 attempts", err)
        self.assertIn(json.loads(rcv.got[0][1])["id"], err, "the lost event is named")
        self.assertLess(took, 20)

    def test_interrupted_job_posts_nothing(self):
        rcv = Receiver([200])
        try:
            # an address per line, slow enough to interrupt: stdin held open
            p = subprocess.Popen([MV, "bulk", "--offline", "-q", "--config", self.hook_conf(rcv.url),
                                  "-o", path("hook3.out.csv")], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            p.stdin.write(b"a@x.test\n")
            p.stdin.flush()
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=30)
            p.stdin.close() if not p.stdin.closed else None
        finally:
            rcv.close()
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(rcv.got, [], "only a whole job is completed")


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
