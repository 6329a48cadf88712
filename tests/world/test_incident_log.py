#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_incident_log - what mailverifyd's log says during an incident.

An admin reading the log during a fault must see the fault, not every
request it touched: one line when a host starts failing (its address, MX
name, cause, how long it is left alone and until when), none while it
goes on failing, one line when it answers again (after how long, how many
requests did without it); the same for the resolver; one line when a
client first hits its harvest budget and one summary when the window
ends; and each cache warning once, also with -d (syslog echoed to stderr).

One world (tarpit_seconds 4, over the test's smtp.reply_timeout_ms of
1000), one mailverifyd (-d: its stderr is the log) behind a real Postfix,
and a silent SMTP server of the test's own on 127.0.0.98:2526 (the next
hop of recover.test) that starts answering halfway: a tarpit that ends.
The resolver's fault: lookups under timeout.test, which unbound never
answers, for six different domains; then an answered one.

    MAILVERIFYD=build/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_incident_log.py [-v]
"""
import os
import re
import smtplib
import socket
import socketserver
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from mvd import Milter  # noqa: E402

FRONT = "127.0.0.50"
RECOVER = ("127.0.0.98", 2526)
HARVESTER = "127.0.0.61"
BAD_LMDB = "/etc/passwd/cache.mdb"      # under a regular file: cannot be opened

CONFIG = """cache = { store = "lmdb"; lmdb_path = "%s"; };
context = { recipient = { deadline_ms = 5000; }; };
domains = (
  { match = "recover.test"; next_hop = "[%s]:%d"; }
);
""" % (BAD_LMDB, RECOVER[0], RECOVER[1])


class Switchable(socketserver.BaseRequestHandler):
    """Silent (a tarpit) while server.silent is set; then a plain SMTP
    server that accepts every recipient."""

    def handle(self):
        s = self.request
        s.settimeout(10)
        if self.server.silent.is_set():
            try:
                while s.recv(512):          # hold the line, say nothing
                    pass
            except OSError:
                pass
            return
        f = s.makefile("rb")
        s.sendall(b"220 rec.test ESMTP\r\n")
        for line in f:
            verb = line[:4].upper()
            if verb == b"QUIT":
                s.sendall(b"221 2.0.0 Bye\r\n")
                return
            reply = {b"EHLO": b"250 rec.test", b"HELO": b"250 rec.test", b"MAIL": b"250 2.1.0 Ok",
                     b"RCPT": b"250 2.1.5 Ok", b"RSET": b"250 2.0.0 Ok"}.get(verb, b"502 5.5.2 No")
            s.sendall(reply + b"\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def session(rcpts, source=None):
    """One SMTP session through the front Postfix: RCPT each; the replies' codes."""
    c = smtplib.SMTP(FRONT, 25, local_hostname="client.test", timeout=30,
                     source_address=(source, 0) if source else None)
    try:
        c.ehlo()
        c.mail("s@ok.test")
        return [c.rcpt(r)[0] for r in rcpts]
    finally:
        try:
            c.quit()
        except (OSError, smtplib.SMTPException):
            pass


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


class IncidentLog(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-incident-")
        os.chmod(cls.tmp.name, 0o755)
        cls.srv = Server(RECOVER, Switchable)
        cls.srv.silent = threading.Event()
        cls.srv.silent.set()
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.w = World(cls.tmp.name, tarpit_seconds=4)
        cls.w.start()
        try:
            cls.m = Milter(cls.w, CONFIG, port=10131,
                           dns={"timeout_ms": "500"},
                           smtp={"reply_timeout_ms": "1000", "connect_timeout_ms": "1000",
                                 "backoff_s": "2"},
                           milter={"dha_limit": "2", "dha_window_s": "4"})
            cls.m.start()
            cls.m.postfix()
            cls.run_incident()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "m", None) is not None:
            cls.m.stop()
        cls.w.stop()
        cls.srv.shutdown()
        cls.srv.server_close()
        cls.tmp.cleanup()

    @classmethod
    def run_incident(cls):
        # both hosts fail: many requests while they do, in two rounds (the
        # second after their first back-off, so each fails again)
        cls.round1 = session(["u%d@tarpit.test" % i for i in range(10)] +
                             ["r%d@recover.test" % i for i in range(10)])
        # the harvester, while the back-offs run out
        cls.harvest = session(["nobody%d@users.test" % i for i in range(8)], source=HARVESTER)
        time.sleep(2.2)
        cls.round2 = session(["u%d@tarpit.test" % i for i in range(10, 16)] +
                             ["r%d@recover.test" % i for i in range(10, 16)])
        # the resolver: six domains without an answer, then one with
        session(["x@d%d.timeout.test" % i for i in range(6)])
        session(["known@notls.test"])      # a domain not looked up yet
        # the tarpit ends: after the back-off the next request gets through
        cls.srv.silent.clear()
        time.sleep(2.2)
        cls.recovered = session(["r99@recover.test"])
        wait_for(lambda: "harvest budget: client=" in cls.m.log(), 8)
        cls.log = cls.m.log()

    def lines(self, pattern):
        return [ln for ln in self.log.splitlines() if re.search(pattern, ln)]

    def test_host_starts_failing_once(self):
        tar = self.lines(r"warning: host 127\.0\.0\.27 ")
        self.assertEqual(len(tar), 1, self.log[-4000:])
        self.assertRegex(tar[0], r"warning: host 127\.0\.0\.27 \(mx\.tarpit\.test\) timed out \(tarpit or "
                                 r"silence\) at banner; left alone for 2 s, until \d\d:\d\d:\d\d$")
        rec = self.lines(r"warning: host 127\.0\.0\.98:2526 ")
        self.assertEqual(len(rec), 1, self.log[-4000:])
        self.assertIn("(127.0.0.98) timed out (tarpit or silence) at banner; left alone for 2 s", rec[0])

    def test_no_line_per_request(self):
        # the verdict lines (info) are one per RCPT as always; nothing else
        # about the hosts but their start and end (and at most a summary)
        about = [ln for ln in self.lines(r"127\.0\.0\.(27|98)") if " to=<" not in ln]
        self.assertLessEqual(len(about), 4, "\n".join(about))
        self.assertEqual(self.lines(r"every MX host.*(warning|notice)"), [])

    def test_host_answers_again(self):
        self.assertEqual(self.recovered, [250])
        rec = self.lines(r"host 127\.0\.0\.98:2526 \(127\.0\.0\.98\) answers again")
        self.assertEqual(len(rec), 1, self.log[-4000:])
        m = re.search(r"answers again after (\d+) s; (\d+) requests answered without it$", rec[0])
        self.assertIsNotNone(m, rec[0])
        self.assertGreaterEqual(int(m.group(1)), 4)
        self.assertGreaterEqual(int(m.group(2)), 16)     # every r@ of both rounds
        self.assertNotIn("warning:", rec[0])
        self.assertEqual(self.lines(r"host 127\.0\.0\.27 .*answers again"), [], "the tarpit never ended")

    def test_resolver(self):
        down = self.lines(r"warning: resolver 127\.0\.0\.1 is failing")
        self.assertEqual(len(down), 1, self.log[-4000:])
        self.assertRegex(down[0], r"5 lookups in a row, for more than one domain, got no answer "
                                  r"\(the last: timeout for d4\.timeout\.test\)")
        up = self.lines(r"resolver 127\.0\.0\.1 answers again after \d+ s; 6 lookups got no answer")
        self.assertEqual(len(up), 1, self.log[-4000:])

    def test_harvest(self):
        self.assertEqual(self.harvest, [550, 550] + [451] * 6)
        first = self.lines(r"reason=harvest_budget")
        self.assertEqual(len(first), 1, "\n".join(first))
        self.assertIn("to=<nobody2@users.test> client=unknown[127.0.0.61] action=tempfail "
                      "reason=harvest_budget (not probed); the client spent its budget", first[0])
        summary = self.lines(r"harvest budget: client=")
        self.assertEqual(len(summary), 1, self.log[-4000:])
        self.assertRegex(summary[0], r"harvest budget: client=unknown\[127\.0\.0\.61\]: 6 recipients "
                                     r"tempfailed unprobed from \d\d:\d\d:\d\d to \d\d:\d\d:\d\d; "
                                     r"the window is over")

    def test_cache_warning_once(self):
        warn = self.lines(re.escape(BAD_LMDB))
        self.assertEqual(len(warn), 1, "\n".join(warn))
        self.assertIn("warning: cache: ", warn[0])
        self.assertIn("using a memory cache in this process", warn[0])

    def test_sanitizer_clean(self):
        self.assertNotIn("Sanitizer", self.log)


if __name__ == "__main__":
    unittest.main()
