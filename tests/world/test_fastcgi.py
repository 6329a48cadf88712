#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_fastcgi - mailverify.fcgi through real web servers, in the test world.

FastCGI: nginx (fastcgi_pass, /etc/nginx/fastcgi_params) in front of
workers started by spawn-fcgi, by systemd-socket-activate (as
mailverify-fcgi.socket does) and on their own socket (-s). CGI: lighttpd
(mod_cgi) and busybox httpd in front of the same binary in CGI mode. Every
request goes over HTTP (urllib); what is asserted is what a page or a
client sees: status codes, headers, the JSON answer, /metrics.

Configurations (one world, one nginx with a location per worker):
  a  the main one: no IP limit, CORS for https://shop.test, an optional
     API key ("opt-key"), context.form.deadline_ms = 500 (pending)
  b  ip_rate 1, ip_burst 3 (429 + Retry-After)
  c  require_api_key, api_keys key-one/key-two, key_rate 1, key_burst 2
  d  a worker whose engine cannot start: RLIMIT_NOFILE leaves it no file
     descriptor for its event loop (503; see test_503)
  e  ip_rate 1, ip_burst 1, the default fastcgi.ipv6_prefix (64): run as
     a CGI program and as a FastCGI worker with REMOTE_ADDR set by the
     test (the world's web servers listen on 127.0.0.1 only; see
     TestIPv6Prefix)
Each has its own fastcgi.rate_state file in the temp dir, where the CGI
processes keep their token buckets (FastCGI workers keep them in memory).

    MAILVERIFY_FCGI=build/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/world/test_fastcgi.py [-v]

Not covered: HTTPS (the web server's business), the webhook of a pending
verdict and pass-through (their own tests), a body shorter than its
CONTENT_LENGTH (web servers never pass one on).
"""
import json
import subprocess
import os
import re
import socket
import resource
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from web import (Plugin, FcgiWorker, Nginx, Lighttpd, BusyboxHttpd, http, metrics,  # noqa: E402
                 free_port, FCGI_BIN)

TMP = WORLD = None
PLUGINS = {}
ORIGIN = "https://shop.test"
EVIL = "https://evil.test"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSONH = {"Content-Type": "application/json"}
MAX_BODY = 16384                # the default fastcgi.max_body


def rate_state(name):
    """The CGI processes' token buckets of config NAME (a path)."""
    return os.path.join(TMP.name, "ratelimit-" + name)


def server_log(server):
    """What a web server and its CGI programs (their stderr) logged."""
    text = ""
    for p in (server.log_path, os.path.join(server.dir, "error.log")):
        if os.path.exists(p):
            with open(p, errors="replace") as f:
                text += f.read()
    return text


def setUpModule():
    global TMP, WORLD
    TMP = tempfile.TemporaryDirectory(prefix="mv-fastcgi-")
    os.chmod(TMP.name, 0o755)
    WORLD = World(os.path.join(TMP.name, "world"))
    WORLD.start()
    PLUGINS["a"] = Plugin(WORLD, "a", {
        "fastcgi": {"ip_rate": "0", "cors_origins": '[ "%s" ]' % ORIGIN,
                    "api_keys": '[ "opt-key" ]', "rate_state": '"%s"' % rate_state("a")},
        "context": {"form": "{ deadline_ms = 500; }"},
    })
    PLUGINS["b"] = Plugin(WORLD, "b", {"fastcgi": {"ip_rate": "1", "ip_burst": "3",
                                                   "rate_state": '"%s"' % rate_state("b")}})
    PLUGINS["c"] = Plugin(WORLD, "c", {"fastcgi": {
        "ip_rate": "0", "require_api_key": "true", "api_keys": '[ "key-one", "key-two" ]',
        "key_rate": "1", "key_burst": "2", "rate_state": '"%s"' % rate_state("c")}})
    PLUGINS["d"] = Plugin(WORLD, "d", {"fastcgi": {"ip_rate": "0",
                                                   "rate_state": '"%s"' % rate_state("d")}})
    PLUGINS["e"] = Plugin(WORLD, "e", {"fastcgi": {"ip_rate": "1", "ip_burst": "1",
                                                   "rate_state": '"%s"' % rate_state("e")}})
    # socket activation: the worker must take systemd's socket, not this one
    PLUGINS["s"] = Plugin(WORLD, "s", {"fastcgi": {"ip_rate": "0", "rate_state": '"%s"' % rate_state("s"),
                                                   "socket": '"127.0.0.1:%d"' % free_port()}})


def tearDownModule():
    WORLD.stop()
    TMP.cleanup()


def no_fds():
    """For the 503 worker: stdin, stdout, stderr, its listening socket, the
    pool's eventfd, one connection and the dup the read deadline's watchdog
    holds -- nothing left for the engine's event loop."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (7, 7))


class Common:
    """The checks both modes answer alike. Subclasses set url(cfg, path)."""

    def verify(self, email, cfg="a", **kw):
        from urllib.parse import quote
        return http(self.url(cfg, "/verify?email=" + quote(email, safe="")), **kw)

    def assertJSON(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"), r)
        return r.json()

    def assertError(self, r, status, words=None):
        j = self.assertJSON(r, status)
        self.assertEqual(j["status"], status)
        if words:
            self.assertIn(words, j["error"])
        return j

    # ---- verdicts

    def test_get_accepted(self):
        r = self.verify("alice@ok.test")
        j = self.assertJSON(r, 200)
        self.assertEqual((j["status"], j["reason"], j["action"]),
                         ("deliverable", "accepted_email", "accept"))
        self.assertEqual(j["context"], "form")
        self.assertIs(j["pending"], False)
        self.assertEqual(j["checks"]["smtp"]["code"], 250)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_post_form_rejected(self):
        r = http(self.url("a", "/verify"), "email=nobody%40ok.test", headers=FORM)
        j = self.assertJSON(r, 200)
        self.assertEqual((j["status"], j["reason"], j["action"]),
                         ("undeliverable", "rejected_email", "block"))
        self.assertEqual(j["message"], "This mailbox does not exist.")
        self.assertEqual(j["checks"]["smtp"]["code"], 550)
        self.assertIn("User unknown", j["checks"]["smtp"]["text"])

    def test_post_json_typo_suggestion(self):
        # gmial.com is not in the world (names outside .test are REFUSED):
        # the suggestion comes from the typo list, not from DNS
        r = http(self.url("a", "/verify"), json.dumps({"email": "jane@gmial.com"}), headers=JSONH)
        j = self.assertJSON(r, 200)
        self.assertEqual(j["suggestion"], "jane@gmail.com")
        self.assertEqual(j["message"], "Did you mean jane@gmail.com?")
        self.assertNotEqual(j["action"], "block")

    def test_disposable_blocked(self):
        j = self.assertJSON(http(self.url("a", "/verify"), json.dumps({"email": "x@mailinator.com"}),
                                 headers=JSONH), 200)
        self.assertEqual((j["reason"], j["action"]), ("disposable", "block"))
        self.assertEqual(j["message"], "Disposable email addresses are not accepted.")

    def test_scripted_server_users(self):
        j = self.assertJSON(self.verify("known@users.test"), 200)
        self.assertEqual(j["reason"], "accepted_email")
        j = self.assertJSON(http(self.url("a", "/verify"), "email=stranger%40users.test&context=form",
                                 headers=FORM), 200)
        self.assertEqual((j["reason"], j["action"]), ("rejected_email", "block"))

    def test_invalid_syntax_message(self):
        j = self.assertJSON(self.verify("not an address"), 200)
        self.assertEqual((j["reason"], j["action"]), ("invalid_syntax", "block"))
        self.assertTrue(j["message"].startswith("This is not a valid email address"), j)

    def test_encodings(self):
        # an encoded field name, "+" and %XX; JSON \u escapes and a charset parameter
        j = self.assertJSON(http(self.url("a", "/verify"), "x=1+2&e%6Dail=alice%40ok.test",
                                 headers=FORM), 200)
        self.assertEqual(j["address"], "alice@ok.test")
        j = self.assertJSON(self.verify_q("email=alice%2Btag%40ok.test"), 200)
        self.assertEqual((j["address"], j["reason"]), ("alice+tag@ok.test", "accepted_email"))
        j = self.assertJSON(self.verify_q("email=alice+tag%40ok.test"), 200)   # "+" is a space
        self.assertEqual((j["address"], j["reason"]), ("alice tag@ok.test", "invalid_syntax"))
        j = self.assertJSON(http(self.url("a", "/verify"), '{"n":[1,{"e":2}],"email":"alice\\u0040ok.test"}',
                                 headers={"Content-Type": "application/json; charset=utf-8"}), 200)
        self.assertEqual((j["address"], j["reason"]), ("alice@ok.test", "accepted_email"))

    def test_context_bulk(self):
        # bulk's long deadline is for callers with an API key only
        j = self.assertJSON(http(self.url("a", "/verify"), "email=bob%40ok.test&context=bulk",
                                 headers=dict(FORM, **{"X-Api-Key": "opt-key"})), 200)
        self.assertEqual((j["context"], j["reason"]), ("bulk", "accepted_email"))
        j = self.assertJSON(http(self.url("a", "/verify"), "email=bob%40ok.test&context=bulk",
                                 headers=FORM), 403)
        self.assertIn("API key", j["error"])

    def test_output_json_escaped(self):
        evil = "<script>alert(1)</script>@ok.test"
        for r in (self.verify(evil),
                  http(self.url("a", "/verify"), json.dumps({"email": evil}), headers=JSONH)):
            j = self.assertJSON(r, 200)
            self.assertNotIn(b"<", r.body)
            self.assertNotIn(b">", r.body)
            self.assertIn(b"\\u003cscript\\u003e", r.body)
            self.assertEqual(j["address"], evil)        # the same text once decoded

    # ---- the pending answer

    def test_pending_past_deadline(self):
        # tarpit.test gives its banner after 30 s; the form's deadline is 500 ms
        r = self.verify("known@tarpit.test")
        j = self.assertJSON(r, 200)
        self.assertIs(j["pending"], True, j)
        self.assertEqual((j["status"], j["reason"]), ("unknown", "timeout"))
        self.assertEqual(j["message"], "We are still checking this address.")
        self.assertGreaterEqual(r.seconds, 0.45)
        self.assertLess(r.seconds, 1.2, "pending answer after %.3f s" % r.seconds)

    # ---- malformed requests

    def test_400_missing_email(self):
        self.assertError(http(self.url("a", "/verify")), 400, "email field is missing")
        self.assertError(self.verify_q("name=jane"), 400, "missing")
        self.assertError(http(self.url("a", "/verify"), "name=jane", headers=FORM), 400, "missing")
        self.assertError(http(self.url("a", "/verify"), '{"name":"jane"}', headers=JSONH), 400,
                         "missing")

    def verify_q(self, query):
        return http(self.url("a", "/verify?" + query))

    # lighttpd rewrites a bad %-escape in the query as %25 before CGI sees it
    bad_query_reaches_plugin = True

    def test_400_bad_urlencoding(self):
        if self.bad_query_reaches_plugin:
            self.assertError(self.verify_q("email=jane%ZZ%40ok.test"), 400, "malformed encoding")
            self.assertError(self.verify_q("email=jane%4"), 400, "malformed encoding")
        self.assertError(http(self.url("a", "/verify"), "email=a%ZZb", headers=FORM), 400,
                         "malformed encoding")

    def test_400_bad_json(self):
        for body in ('{"email": "alice@ok.test"', '["alice@ok.test"]', '{"email":"a@ok.test"} x',
                     "", '{"email": "a\\x"}', '{"email" "a"}', '{"a":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}'):
            r = http(self.url("a", "/verify"), body, headers=JSONH)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json()["status"], 400)

    def test_400_not_a_string(self):
        for v in ("5", "null", '["a@ok.test"]', '{"x":"a@ok.test"}', "true"):
            self.assertError(http(self.url("a", "/verify"), '{"email": %s}' % v, headers=JSONH),
                             400, "not a string")

    def test_400_bad_context(self):
        self.assertError(self.verify_q("email=alice%40ok.test&context=sender"), 400, "context")
        self.assertError(http(self.url("a", "/verify"), '{"email":"alice@ok.test","context":1}',
                              headers=JSONH), 400)

    def test_405(self):
        for m in ("PUT", "DELETE"):
            r = http(self.url("a", "/verify"), "email=alice%40ok.test", method=m, headers=FORM)
            self.assertError(r, 405)
            self.assertEqual(r.header("Allow"), "GET, POST, OPTIONS")

    def test_404(self):
        self.assertError(http(self.url("a", "/nothing")), 404, "no such endpoint")

    def test_413_and_the_limit(self):
        pad = "&pad="
        body = "email=alice%40ok.test" + pad
        exact = body + "x" * (MAX_BODY - len(body))
        self.assertEqual(len(exact), MAX_BODY)
        j = self.assertJSON(http(self.url("a", "/verify"), exact, headers=FORM), 200)
        self.assertEqual(j["reason"], "accepted_email")
        self.assertError(http(self.url("a", "/verify"), exact + "x", headers=FORM), 413, "too large")
        self.assertError(http(self.url("a", "/verify"), json.dumps({"email": "a@ok.test",
                                                                     "pad": "x" * 100000}),
                              headers=JSONH), 413)

    def test_415(self):
        for h in ({"Content-Type": "text/plain"}, {"Content-Type": "multipart/form-data; boundary=x"},
                  {"Content-Type": "application/jsonx"}):
            self.assertError(http(self.url("a", "/verify"), "email=alice%40ok.test", headers=h),
                             415, "application/json")

    # ---- API keys (optional on a: a key sent must be known)

    def test_401_unknown_optional_key(self):
        self.assertError(self.verify("alice@ok.test", headers={"X-Api-Key": "nope"}), 401,
                         "unknown API key")
        self.assertJSON(self.verify("alice@ok.test", headers={"X-Api-Key": "opt-key"}), 200)

    def test_401_required_key(self):
        self.assertError(self.verify("alice@ok.test", cfg="c"), 401, "API key is required")
        self.assertError(self.verify("alice@ok.test", cfg="c", headers={"X-Api-Key": "key-three"}),
                         401, "unknown API key")

    # ---- CORS

    def test_cors_allowed_origin(self):
        r = self.verify("alice@ok.test", headers={"Origin": ORIGIN})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertEqual(r.header("Vary"), "Origin")
        # error answers carry it too, so that a page can read them
        r = http(self.url("a", "/verify"), "{", headers=dict(JSONH, Origin=ORIGIN))
        self.assertEqual((r.status, r.header("Access-Control-Allow-Origin")), (400, ORIGIN))

    def test_cors_preflight(self):
        r = http(self.url("a", "/verify"), method="OPTIONS",
                 headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                          "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        methods = [m.strip() for m in r.header("Access-Control-Allow-Methods").split(",")]
        self.assertIn("POST", methods)
        self.assertIn("GET", methods)
        hdrs = [h.strip().lower() for h in r.header("Access-Control-Allow-Headers").split(",")]
        self.assertIn("content-type", hdrs)
        self.assertIn("x-api-key", hdrs)
        self.assertTrue(r.header("Access-Control-Max-Age"))

    def test_cors_disallowed_origin(self):
        r = self.verify("alice@ok.test", headers={"Origin": EVIL})
        self.assertEqual(r.status, 200)         # answered, but a browser hides it from the page
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        for h in ({"Origin": EVIL}, {"Origin": ORIGIN + ".evil.test"}, {"Origin": "null"}, {}):
            r = http(self.url("a", "/verify"), method="OPTIONS",
                     headers=dict(h, **{"Access-Control-Request-Method": "POST"}))
            self.assertError(r, 403, "origin not allowed")
            self.assertIsNone(r.header("Access-Control-Allow-Origin"))
            self.assertIsNone(r.header("Access-Control-Allow-Methods"))

    # ---- the other endpoints

    def test_healthz(self):
        r = http(self.url("a", "/healthz"))
        self.assertEqual(self.assertJSON(r, 200), {"status": "ok"})

    def test_metrics_format(self):
        r = http(self.url("a", "/metrics"))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        for name, kind in (("mailverify_http_responses_total", "counter"),
                           ("mailverify_verdicts_total", "counter"),
                           ("mailverify_cache_hits_total", "counter"),
                           ("mailverify_pending_total", "counter"),
                           ("mailverify_rate_limited_total", "counter"),
                           ("mailverify_webhook_deliveries_total", "counter"),
                           ("mailverify_webhook_failures_total", "counter"),
                           ("mailverify_verify_duration_seconds", "histogram"),
                           ("mailverify_engine_queue_depth", "gauge"),
                           ("mailverify_probes_in_flight", "gauge"),
                           ("mailverify_dns_errors_total", "counter"),
                           ("mailverify_smtp_errors_total", "counter"),
                           ("mailverify_build_info", "gauge")):
            self.assertIn("# TYPE %s %s\n" % (name, kind), text)
        m = metrics(self.url("a", "/metrics"))
        self.assertIn('mailverify_verify_duration_seconds_bucket{le="+Inf"}', m)
        self.assertIn('mailverify_http_responses_total{code="429"}', m)


class TestFastCGI(Common, unittest.TestCase):
    """nginx -> FastCGI workers (spawn-fcgi and -s)."""

    @classmethod
    def setUpClass(cls):
        d = WORLD.path("nginx-test")
        os.makedirs(d, exist_ok=True)
        cls.workers = {
            "a": FcgiWorker(PLUGINS["a"], spawn=True, log_dir=d),
            "b": FcgiWorker(PLUGINS["b"], spawn=False, log_dir=d),
            "c": FcgiWorker(PLUGINS["c"], spawn=True, log_dir=d),
            "d": FcgiWorker(PLUGINS["d"], spawn=False, threads=1, preexec=no_fds, log_dir=d),
            # mailverify-fcgi.socket's way: systemd's socket activation
            "s": FcgiWorker(PLUGINS["s"], spawn="systemd", log_dir=d),
        }
        cls.nginx = Nginx(d, free_port(), {"/%s/" % k: w.port for k, w in cls.workers.items()})

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        cls.stopped = {k: w.stop() for k, w in cls.workers.items()}

    def url(self, cfg, path):
        return self.nginx.url("/%s%s" % (cfg, path))

    def test_metrics_counters_move(self):
        before = metrics(self.url("a", "/metrics"))
        key = 'mailverify_verdicts_total{reason="rejected_email",action="block"}'
        self.assertJSON(self.verify("nobody@ok.test"), 200)
        self.assertJSON(self.verify("nobody@ok.test"), 200)     # from the cache
        self.assertError(http(self.url("a", "/verify"), "{", headers=JSONH), 400)
        after = metrics(self.url("a", "/metrics"))
        self.assertEqual(after[key] - before.get(key, 0), 2)
        self.assertGreaterEqual(after["mailverify_cache_hits_total"]
                                - before["mailverify_cache_hits_total"], 1)
        code = 'mailverify_http_responses_total{code="%s"}'
        self.assertGreaterEqual(after[code % 200] - before[code % 200], 3)   # 2 + the /metrics
        self.assertGreaterEqual(after[code % 400] - before[code % 400], 1)
        count = "mailverify_verify_duration_seconds_count"
        self.assertGreaterEqual(after[count] - before[count], 2)

    def test_socket_activation(self):
        """A worker started as mailverify-fcgi.socket starts it (LISTEN_FDS=1,
        fd 3) serves on that socket and opens none of its own (its
        fastcgi.socket is another port)."""
        w = self.workers["s"]
        r = http(self.url("s", "/verify?email=nobody@ok.test"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["reason"], "rejected_email")
        self.assertEqual(http(self.url("s", "/healthz")).status, 200)
        own = int(re.search(r'socket = "127\.0\.0\.1:(\d+)"', PLUGINS["s"].text).group(1))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", own), timeout=1).close()
        self.assertNotIn("socket activation", w.log())

    def test_pending_counted(self):
        before = metrics(self.url("a", "/metrics"))["mailverify_pending_total"]
        self.assertIs(self.assertJSON(self.verify("gone@tarpit.test"), 200)["pending"], True)
        self.assertEqual(metrics(self.url("a", "/metrics"))["mailverify_pending_total"], before + 1)

    def test_429_ip_rate(self):
        m0 = metrics(self.url("b", "/metrics"))
        seen = []
        for _ in range(6):
            r = self.verify("alice@ok.test", cfg="b")
            seen.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(seen[:3], [200, 200, 200], seen)       # the burst
        self.assertEqual(seen[-1], 429, seen)
        self.assertError(r, 429, "too many requests from your address")
        retry = int(r.header("Retry-After"))
        self.assertGreaterEqual(retry, 1)
        self.assertLessEqual(retry, 1)                          # one token a second
        m1 = metrics(self.url("b", "/metrics"))
        self.assertGreaterEqual(m1['mailverify_rate_limited_total{by="ip"}']
                                - m0['mailverify_rate_limited_total{by="ip"}'], 1)
        self.assertGreaterEqual(m1['mailverify_http_responses_total{code="429"}']
                                - m0['mailverify_http_responses_total{code="429"}'], 1)
        time.sleep(retry + 0.1)
        self.assertEqual(self.verify("alice@ok.test", cfg="b").status, 200)
        # /healthz and /metrics are not limited
        self.assertEqual(http(self.url("b", "/healthz")).status, 200)

    def test_429_per_key(self):
        one = {"X-Api-Key": "key-one"}
        got = [self.verify("alice@ok.test", cfg="c", headers=one).status for _ in range(2)]
        self.assertEqual(got, [200, 200])
        r = self.verify("alice@ok.test", cfg="c", headers=one)
        self.assertError(r, 429, "for this API key")
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        # another key has its own bucket
        self.assertEqual(self.verify("alice@ok.test", cfg="c", headers={"X-Api-Key": "key-two"}).status,
                         200)
        m = metrics(self.url("c", "/metrics"))
        self.assertGreaterEqual(m['mailverify_rate_limited_total{by="key"}'], 1)

    def test_503_engine_cannot_start(self):
        # worker d has no file descriptor left for the engine's event loop:
        # mv_engine_submit -> MV_ENETSTART -> 503 with Retry-After
        r = self.verify("alice@ok.test", cfg="d")
        self.assertError(r, 503, "cannot answer")
        self.assertEqual(r.header("Retry-After"), "5")
        # what needs no network is still answered
        j = self.assertJSON(self.verify("not an address", cfg="d"), 200)
        self.assertEqual(j["reason"], "invalid_syntax")
        # and it stays so (the engine's start is not retried)
        self.assertEqual(self.verify("bob@ok.test", cfg="d").status, 503)
        m = metrics(self.url("d", "/metrics"))
        self.assertGreaterEqual(m['mailverify_http_responses_total{code="503"}'], 2)

    def test_concurrent_requests(self):
        out = []

        def one(i):
            out.append(self.verify("bob@ok.test" if i % 2 else "alice@ok.test").status)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(out, [200] * 16)


class TestKeepConn(unittest.TestCase):
    """nginx's upstream keepalive (fastcgi_keep_conn on) in front of a worker."""

    def test_kept_connection_does_not_stall_others(self):
        """A libfcgi thread waits for the next request on its kept
        connection inside FCGX_Accept_r; were accepts serialized by a mutex
        (libfcgi's threaded example), one idle kept connection would stall
        the whole worker until nginx dropped it. And SIGTERM must not wait
        for nginx to drop it either."""
        d = WORLD.path("keepconn")
        os.makedirs(d, exist_ok=True)
        w = FcgiWorker(PLUGINS["a"], spawn=True, log_dir=d)
        nk = Nginx(os.path.join(d, "k"), free_port(), {"/a/": w.port}, keepalive=True)
        n = Nginx(os.path.join(d, "n"), free_port(), {"/a/": w.port})
        try:
            self.assertEqual(http(nk.url("/a/healthz")).status, 200)   # leaves a kept connection
            # the threads take turns at the mutex: within a few requests the
            # one with the kept connection holds it
            for i in range(8):
                try:
                    r = http(n.url("/a/healthz"), timeout=2)
                except OSError as e:            # socket.timeout
                    self.fail("request %d waited 2 s behind the kept connection: %s" % (i, e))
                self.assertEqual(r.status, 200)
            t0 = time.monotonic()
            self.assertEqual(w.stop(timeout=10), 0, "SIGTERM with a kept connection open")
            self.assertLess(time.monotonic() - t0, 5, "the read on the kept connection was ended")
        finally:
            n.stop()
            nk.stop()
            w.stop()


class TestCGI(Common, unittest.TestCase):
    """lighttpd (mod_cgi) -> mailverify.fcgi as a CGI program."""

    bad_query_reaches_plugin = False

    @classmethod
    def setUpClass(cls):
        cls.server = Lighttpd(WORLD.path("lighttpd"), free_port(), {
            "a": PLUGINS["a"], "b": PLUGINS["b"], "c": PLUGINS["c"],
            # no file descriptor for the engine's event loop beyond stdio
            "d": (PLUGINS["d"], "ulimit -n 4")})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def url(self, cfg, path):
        return self.server.url("/cgi-bin/%s.cgi%s" % (cfg, path))

    def test_503_engine_cannot_start(self):
        r = self.verify("alice@ok.test", cfg="d")
        self.assertError(r, 503, "cannot answer")
        self.assertEqual(r.header("Retry-After"), "5")

    def test_cold_request_time(self):
        r = self.verify("not an address")       # no network: the process's own cost
        self.assertEqual(r.status, 200)
        self.assertLess(r.seconds, 1.0)

    def test_per_key_quota_with_required_key(self):
        self.assertEqual(self.verify("alice@ok.test", cfg="c", headers={"X-Api-Key": "key-one"}).status,
                         200)

    def test_429_ip_rate(self):
        """Each CGI request is a new process: the buckets it shares with
        the others are in fastcgi.rate_state (here in the temp dir)."""
        seen = []
        for _ in range(10):             # a CGI process takes ~70 ms: 1 token/s refills little
            r = self.verify("alice@ok.test", cfg="b")
            seen.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(seen[:3], [200, 200, 200], seen)       # the burst
        self.assertEqual(seen[-1], 429, seen)
        self.assertError(r, 429, "too many requests from your address")
        retry = int(r.header("Retry-After"))
        self.assertEqual(retry, 1)                              # one token a second
        time.sleep(retry + 0.1)
        self.assertEqual(self.verify("alice@ok.test", cfg="b").status, 200)
        # /healthz is not limited
        self.assertEqual(http(self.url("b", "/healthz")).status, 200)
        # the state file was made where the config says, for the server's
        # user only, and nothing was logged about it
        st = os.stat(rate_state("b"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertNotIn("rate limits", server_log(self.server))

    def test_429_per_key(self):
        two = {"X-Api-Key": "key-two"}
        got = []
        for _ in range(8):
            r = self.verify("alice@ok.test", cfg="c", headers=two)
            got.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(got[:2], [200, 200], got)              # the burst
        self.assertEqual(got[-1], 429, got)
        self.assertError(r, 429, "for this API key")
        self.assertEqual(int(r.header("Retry-After")), 1)
        # another key has its own bucket (key-one: test_per_key_quota_... takes
        # the other of its two tokens)
        self.assertEqual(self.verify("alice@ok.test", cfg="c", headers={"X-Api-Key": "key-one"}).status,
                         200)

    def test_state_file_unusable_fails_open(self):
        """A state file that cannot be opened costs a log line, never the
        answer: the request goes through unlimited."""
        bad = Plugin(WORLD, "b-nostate", {"fastcgi": {
            "ip_rate": "1", "ip_burst": "1",
            "rate_state": '"%s"' % os.path.join(TMP.name, "no", "such", "dir", "ratelimit")}})
        d = WORLD.path("lighttpd-nostate")
        server = Lighttpd(d, free_port(), {"b": bad})
        try:
            seen = [http(server.url("/cgi-bin/b.cgi/verify?email=alice%40ok.test")).status
                    for _ in range(3)]
            self.assertEqual(seen, [200, 200, 200])
        finally:
            server.stop()
        log = server_log(server)
        self.assertIn("rate limits: cannot open", log)
        self.assertIn("not limited", log)


class TestStop(unittest.TestCase):
    """SIGTERM: the worker stops accepting, answers what is in flight, exits 0."""

    def test_sigterm_with_a_probe_in_flight(self):
        d = WORLD.path("stop")
        os.makedirs(d, exist_ok=True)
        for spawn in (True, False):
            w = FcgiWorker(PLUGINS["a"], spawn=spawn, log_dir=d)
            ng = Nginx(os.path.join(d, "ng%d" % spawn), free_port(), {"/a/": w.port})
            try:
                r = http(ng.url("/a/verify?email=postmaster%40tarpit.test"))
                self.assertIs(r.json()["pending"], True)        # the probe goes on
                t0 = time.monotonic()
                rc = w.stop(timeout=10)
                self.assertEqual(rc, 0, w.log())
                self.assertLess(time.monotonic() - t0, 5)
            finally:
                w.stop()
                ng.stop()


class TestBusybox(unittest.TestCase):
    """busybox httpd -> CGI: the main answers."""

    @classmethod
    def setUpClass(cls):
        cls.server = BusyboxHttpd(WORLD.path("busybox"), free_port(), {"a": PLUGINS["a"]})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def url(self, path):
        return self.server.url("/cgi-bin/a.cgi" + path)

    def test_verdicts(self):
        r = http(self.url("/verify?email=alice%40ok.test"))
        self.assertEqual((r.status, r.json()["reason"]), (200, "accepted_email"))
        r = http(self.url("/verify"), "email=nobody%40ok.test", headers=FORM)
        self.assertEqual((r.status, r.json()["reason"]), (200, "rejected_email"))
        r = http(self.url("/verify"), '{"email":"jane@gmial.com"}', headers=JSONH)
        self.assertEqual((r.status, r.json()["suggestion"]), (200, "jane@gmail.com"))

    def test_errors(self):
        self.assertEqual(http(self.url("/verify"), "{", headers=JSONH).status, 400)
        self.assertEqual(http(self.url("/verify"), "email=a", headers={"Content-Type": "text/plain"}).status,
                         415)
        self.assertEqual(http(self.url("/verify"), "email=" + "x" * MAX_BODY, headers=FORM).status, 413)
        self.assertEqual(http(self.url("/healthz")).status, 200)

    def test_cors(self):
        r = http(self.url("/verify?email=alice%40ok.test"), headers={"Origin": ORIGIN})
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        r = http(self.url("/verify?email=alice%40ok.test"), headers={"Origin": EVIL})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))


def cgi_env(remote):
    """What a web server hands a GET /verify from REMOTE (CGI variables,
    also the FastCGI params nginx sends)."""
    return {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/e",
            "PATH_INFO": "/verify", "REQUEST_URI": "/e/verify?email=x",
            "QUERY_STRING": "email=not%20an%20address", "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": remote}


def status_of(out):
    """The status of a CGI program's answer (no Status header: 200)."""
    head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n"):
        if line.lower().startswith("status:"):
            return int(line.split()[1])
    return 200


def fcgi_request(port, params):
    """One FastCGI request (RESPONDER, no body) to 127.0.0.1:PORT with
    PARAMS; its stdout. Written here because the world's web servers
    listen on 127.0.0.1 only and so never send an IPv6 REMOTE_ADDR."""
    import socket
    import struct

    def record(kind, body):
        return struct.pack(">BBHHBx", 1, kind, 1, len(body), 0) + body

    def pair(k, v):
        k, v = k.encode(), v.encode()
        size = lambda n: bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)  # noqa: E731
        return size(len(k)) + size(len(v)) + k + v

    body = b"".join(pair(k, v) for k, v in params.items())
    msg = (record(1, struct.pack(">HB5x", 1, 0)) + record(4, body) + record(4, b"")
           + record(5, b""))
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(msg)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        while len(buf) >= 8:
            _, kind, _, n, pad = struct.unpack(">BBHHBx", buf[:8])
            if kind == 6:
                out += buf[8:8 + n]
            buf = buf[8 + n + pad:]
    return out


class TestIPv6Prefix(unittest.TestCase):
    """Rate limits count people, not addresses: an IPv6 client is counted
    under its /64 (fastcgi.ipv6_prefix, default). Config e: burst 1, one
    token a second, so a second request in one bucket within the second
    is refused. The client address must be whatever the test says, so
    the plugin gets its CGI variables or FastCGI params straight from the
    test, as a web server would send them: as a CGI program (buckets in
    fastcgi.rate_state, shared by the processes) and as a FastCGI worker
    (buckets in memory)."""

    ADDRS = ["2001:db8:1:2::a",
             "2001:db8:1:2:ffff:1:2:3",     # same /64, another address: 429
             "2001:db8:1:3::a",             # the next /64
             "::ffff:192.0.2.7",            # IPv4-mapped: its own IPv4 ...
             "192.0.2.7",                   # ... shared with the plain IPv4: 429
             "192.0.2.8"]                   # IPv4: per address, not per /24
    WANT = [200, 429, 200, 200, 429, 200]

    def cgi(self, remote):
        """The status a CGI request from REMOTE gets."""
        env = dict(cgi_env(remote), PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        p = subprocess.run([FCGI_BIN, "-c", PLUGINS["e"].path], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        return status_of(p.stdout)

    def test_cgi_one_64_shares_a_bucket(self):
        self.assertEqual([self.cgi(a) for a in self.ADDRS], self.WANT)

    def test_fastcgi_one_64_shares_a_bucket(self):
        d = WORLD.path("ipv6-prefix")
        os.makedirs(d, exist_ok=True)
        w = FcgiWorker(PLUGINS["e"], spawn=False, log_dir=d)
        try:
            got = [status_of(fcgi_request(w.port, cgi_env(a))) for a in self.ADDRS]
        finally:
            w.stop()
        self.assertEqual(got, self.WANT)


if __name__ == "__main__":
    unittest.main()
