#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_daemon_metrics - mailverifyd's Prometheus metrics: the listener
(metrics.listen) and `mailverify stats --prometheus`, in the test world
with a real front Postfix calling the milter.

- a scrape of GET /metrics is Prometheus' text format: every sample line
  is `name{labels} value`, every metric has HELP and TYPE lines before its
  samples, counters end in _total, histogram buckets never decrease; the
  names the web plugin also has are spelled as it spells them;
- the values move: after an unknown recipient is refused through Postfix,
  mailverify_verdicts_total{reason="rejected_email",action="block"},
  the histogram's count and the milter connections went up; a SERVFAIL
  and an MX that refuses connections count in
  mailverify_dns_errors_total{cause="servfail"} and
  mailverify_smtp_errors_total{cause="no_connect"};
- `mailverify stats --prometheus` over the control socket is the same
  exposition (same metric names, parses the same way);
- hostile HTTP is answered with the smallest truthful status or closed,
  and leaves the listener serving: junk (400), a request head over 8 KiB
  (431), a client that stops in the middle (closed after ~2 s) -- while
  it hangs there, the milter answers at its usual speed --, other methods
  (405 with Allow), other paths (404), HTTP/2.0 (400), HEAD (headers
  only), fifty connections at once (a scrape after them is not delayed);
- a metrics.listen that is not ADDRESS:PORT is a config-test error with
  its file and line.

    MAILVERIFY=build/mailverify MAILVERIFYD=build/mailverifyd \\
      tests/in-netns /usr/bin/python3 tests/world/test_daemon_metrics.py [-v]
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvd import Milter, rcpt_reply, FRONT_IP  # noqa: E402
from world import World  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
PORT, METRICS_PORT = 10221, 10222
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf|NaN)$')
# names the web plugin's /metrics has too (plugins/fastcgi/metrics.c)
SHARED = {"mailverify_verdicts_total", "mailverify_cache_hits_total", "mailverify_engine_queue_depth",
          "mailverify_probes_in_flight"}


def parse(text):
    """{'name{labels}': value} of an exposition, checked line by line."""
    out, typed, helped = {}, {}, set()
    for line in text.splitlines():
        m = re.match(r"^# (HELP|TYPE) (\S+) (.+)$", line)
        if m:
            (helped.add if m.group(1) == "HELP" else lambda n: typed.__setitem__(n, m.group(3)))(m.group(2))
            continue
        s = SAMPLE.match(line)
        if s is None:
            raise AssertionError("not a sample line: %r" % line)
        family = re.sub(r"_(bucket|sum|count)$", "", s.group(1)) if s.group(1) not in typed else s.group(1)
        if family not in typed or family not in helped:
            raise AssertionError("%s: no HELP/TYPE before its samples" % s.group(1))
        if typed[family] == "counter" and not family.endswith("_total"):
            raise AssertionError("counter %s does not end in _total" % family)
        out[s.group(1) + (s.group(2) or "")] = float(s.group(4))
    return out, typed


def scrape():
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % METRICS_PORT, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def raw(data, timeout=10):
    """Send bytes to the listener; (what came back, seconds until it closed)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", METRICS_PORT), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except ConnectionResetError:
            pass
    return got, time.monotonic() - t0


class DaemonMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-metrics-")
        os.chmod(cls.tmp.name, 0o755)
        cls.w = World(os.path.join(cls.tmp.name, "world"))
        cls.w.start()
        cls.m = None
        try:
            cls.m = Milter(cls.w, 'metrics = { listen = "127.0.0.1:%d"; };\n' % METRICS_PORT, port=PORT)
            cls.m.start()
            cls.m.postfix()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.m is not None and cls.m.proc is not None:
            cls.m.stop()
        cls.w.stop()
        cls.tmp.cleanup()

    def tearDown(self):
        self.assertIsNone(self.m.proc.poll(), "mailverifyd died; see %s" % self.m.log_path)
        parse(scrape())         # and still serving

    def test_format(self):
        values, typed = parse(scrape())
        self.assertTrue(SHARED <= set(typed), SHARED - set(typed))
        self.assertEqual(typed["mailverify_check_duration_seconds"], "histogram")
        buckets = [v for k, v in values.items() if k.startswith("mailverify_check_duration_seconds_bucket")]
        self.assertEqual(buckets, sorted(buckets))
        self.assertIn('mailverify_build_info{program="mailverifyd",version="', "\n".join(values))

    def test_values_move(self):
        before, _ = parse(scrape())
        self.assertTrue(rcpt_reply("nobody@ok.test", FRONT_IP).startswith("550 5.1.1"))
        after, _ = parse(scrape())
        key = 'mailverify_verdicts_total{reason="rejected_email",action="block"}'
        self.assertEqual(after[key] - before.get(key, 0), 1)
        c = "mailverify_check_duration_seconds_count"
        self.assertGreaterEqual(after[c] - before[c], 1)     # the sender too, if checked
        conns = 'mailverify_connections_total{service="milter"}'
        self.assertGreaterEqual(after[conns] - before[conns], 1)

    def test_net_errors_by_cause(self):
        before, typed = parse(scrape())
        for kind, causes in (("dns", ("timeout", "servfail", "refused", "other")),
                             ("smtp", ("no_connect", "temporary", "blocked", "tls", "timeout", "protocol"))):
            self.assertEqual(typed["mailverify_%s_errors_total" % kind], "counter")
            for c in causes:     # every cause is there from the start, zero or not
                self.assertIn('mailverify_%s_errors_total{cause="%s"}' % (kind, c), before)
        # a SERVFAIL (the verdict is dns_error: accepted) and an MX that refuses connections
        self.assertTrue(rcpt_reply("someone@servfail.test", FRONT_IP).startswith("250"))
        rcpt_reply("someone@dead.test", FRONT_IP)
        after, _ = parse(scrape())
        for key in ('mailverify_dns_errors_total{cause="servfail"}', 'mailverify_smtp_errors_total{cause="no_connect"}'):
            self.assertGreaterEqual(after[key] - before[key], 1, key)
        self.assertEqual(after['mailverify_smtp_errors_total{cause="tls"}'],
                         before['mailverify_smtp_errors_total{cause="tls"}'])

    def test_stats_prometheus(self):
        out = subprocess.run([MV, "stats", "--prometheus", "--socket", self.m.control], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        cli, cli_types = parse(out.stdout)
        http, http_types = parse(scrape())
        self.assertEqual(cli_types, http_types)
        self.assertEqual(set(cli), set(http) - {k for k in http if k not in cli and "verdicts_total{" in k})

    def test_junk(self):
        got, _ = raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)
        got, _ = raw(b"GET /metrics HTTP/2.0\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)
        got, _ = raw(b"GET  /metrics HTTP/1.1\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got)

    def test_oversized(self):
        got, _ = raw(b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 431 "), got[:100])

    def test_methods_and_paths(self):
        got, _ = raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        self.assertTrue(got.startswith(b"HTTP/1.1 405 "), got)
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", got)
        got, _ = raw(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 404 "), got)
        got, _ = raw(b"GET /metrics/x HTTP/1.0\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 404 "), got)
        got, _ = raw(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got)
        self.assertTrue(got.endswith(b"\r\n\r\n"), got[-50:])     # headers only
        got, _ = raw(b"GET /metrics?x=1 HTTP/1.0\n\n")                 # bare LF, a query
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:50])

    def test_slow_client_holds_up_nothing_else(self):
        with socket.create_connection(("127.0.0.1", METRICS_PORT), timeout=10) as s:
            s.sendall(b"GET /metr")
            t0 = time.monotonic()
            # the milter answers meanwhile, at its usual speed
            self.assertTrue(rcpt_reply("alice@ok.test", FRONT_IP).startswith("250"))
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertEqual(s.recv(100), b"")       # closed, without a word
            self.assertLess(time.monotonic() - t0, 4)

    def test_many_connections_at_once(self):
        conns = [socket.create_connection(("127.0.0.1", METRICS_PORT), timeout=10) for _ in range(50)]
        for c in conns:
            c.close()
        t0 = time.monotonic()
        parse(scrape())
        self.assertLess(time.monotonic() - t0, 3)

    def test_bad_listen_is_a_config_error(self):
        path = self.w.path("bad-metrics.conf")
        with open(path, "w") as f:
            f.write('\nmetrics = {\n  listen = "localhost:http";\n};\n')
        out = subprocess.run([MV, "config-test", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 78, out)
        self.assertRegex(out.stdout + out.stderr, r"bad-metrics\.conf:3: .*metrics\.listen")


if __name__ == "__main__":
    unittest.main()
