#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_hostage - no mailverify.fcgi worker thread is held hostage (issue 13).

- the README's nginx snippet (upstream keepalive 8, fastcgi_keep_conn on),
  copied from README.md as printed, in front of a worker with the shipped
  defaults (4 threads, fastcgi.mount "/mailverify"): bursts of 16
  concurrent requests all get 200 within seconds (idle kept connections
  used to hold the threads: four 200s, four 504s after 60 s);
- slow clients: raw FastCGI connections, more than the worker has
  threads, dribbling a byte at a time of their params or body, while
  normal requests and /healthz answer promptly; the slow ones are dropped
  (params) or get 408 (body) after fastcgi.read_timeout_ms; and the same in
  CGI mode, with a stdin that dribbles: the process ends with 408;
- /healthz answers fast while every worker waits for a tarpit;
- anonymous context=bulk is refused (403), with an API key it is allowed;
- endpoints are exact paths under fastcgi.mount: /x/metrics is not served,
  a pass-through's /forms/verify goes to the handler.
Measured figures are printed.

    MAILVERIFY_FCGI=build/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/world/test_hostage.py [-v]
"""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from world import World  # noqa: E402
from web import (Plugin, FcgiWorker, Nginx, Proc, HTTPRecorder, http, free_port,  # noqa: E402
                 wait_port, NGINX_CONF, FCGI_BIN, sanitizer_reports)

TMP = WORLD = None
README = os.path.join(ROOT, "README.md")
READ_TIMEOUT_MS = 1500
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def say(*a):
    print("   ", *a, file=sys.stderr, flush=True)


def setUpModule():
    global TMP, WORLD
    TMP = tempfile.TemporaryDirectory(prefix="mv-hostage-")
    os.chmod(TMP.name, 0o755)
    WORLD = World(os.path.join(TMP.name, "world"))
    WORLD.start()


def tearDownModule():
    WORLD.stop()
    TMP.cleanup()


def stop_clean(test, worker):
    """Stop a worker: exit status 0 (SIGTERM ends it cleanly), no sanitizer report."""
    rc = worker.stop(timeout=10)
    test.assertEqual(sanitizer_reports(worker.log()), [])
    test.assertEqual(rc, 0, worker.log()[-2000:])


def concurrently(fn, n):
    """fn(i) for i < n in n threads at once; the results in order."""
    out = [None] * n

    def one(i):
        try:
            out[i] = fn(i)
        except Exception as e:          # noqa: BLE001 - a timeout is a result here
            out[i] = e
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


# ---- a raw FastCGI client

def record(rtype, content, rid=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), pad, 0) + content + b"\0" * pad


def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def fcgi_request(params, body=b""):
    """BEGIN_REQUEST (responder, keep the connection), PARAMS, STDIN as bytes."""
    env = b"".join(pair(k, v) for k, v in params.items())
    return (record(1, struct.pack(">HB5x", 1, 1)) + record(4, env) + record(4, b"")
            + (record(5, body) if body else b"") + record(5, b""))


def fcgi_answer(sock):
    """STDOUT until END_REQUEST; b"" if the connection ends first."""
    out, buf = b"", b""
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return out
        if not data:
            return out
        buf += data
        while len(buf) >= 8:
            _, rtype, _, clen, pad, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + pad:
                break
            if rtype == 6:
                out += buf[8:8 + clen]
            buf = buf[8 + clen + pad:]
            if rtype == 3:
                return out


def params_for(path, method="GET", query="", clen=None):
    p = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "QUERY_STRING": query,
         "REMOTE_ADDR": "127.0.0.9", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    if clen is not None:
        p.update(CONTENT_LENGTH=str(clen), CONTENT_TYPE="application/x-www-form-urlencoded")
    return p


def dribble(port, data, every, results, i):
    """Send data a byte every `every` seconds; results[i] = (seconds until
    the worker ended it, what it answered)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(every)
    t0 = time.monotonic()
    answer = b""
    try:
        for b in data:
            s.sendall(bytes([b]))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            answer += chunk
            s.settimeout(5)
            answer += fcgi_answer_rest(s)
            break
    except (BrokenPipeError, ConnectionResetError):
        pass
    results[i] = (time.monotonic() - t0, answer)
    s.close()


def fcgi_answer_rest(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


# ---- nginx with the README's snippet

def readme_snippet():
    """The README's nginx block with `keepalive` in it, as printed."""
    with open(README) as f:
        text = f.read()
    for block in re.findall(r"```nginx\n(.*?)```", text, re.S):
        if "keepalive" in block:
            return block
    raise AssertionError("no nginx snippet with keepalive in README.md")


class ReadmeNginx(Proc):
    """nginx whose server block holds the README's snippet, the upstream
    aimed at PORT instead of 9000."""

    def __init__(self, dir, port, snippet, fport):
        os.makedirs(os.path.join(dir, "www"), exist_ok=True)
        self.dir, self.port = dir, port
        with open("/etc/nginx/fastcgi_params") as f, open(os.path.join(dir, "fastcgi_params"), "w") as g:
            g.write(f.read())
        snippet = snippet.replace("127.0.0.1:9000", "127.0.0.1:%d" % fport)
        ups = "".join(ln + "\n" for ln in snippet.splitlines() if ln.startswith("upstream"))
        locs = "".join(ln + "\n" for ln in snippet.splitlines() if not ln.startswith("upstream"))
        conf = NGINX_CONF % {"dir": dir, "port": port, "locations": locs, "workers": 1}
        conf = conf.replace("    server {", ups + "    server {", 1)
        with open(os.path.join(dir, "nginx.conf"), "w") as f:
            f.write(conf)
        super().__init__(["nginx", "-e", "stderr", "-p", dir, "-c", os.path.join(dir, "nginx.conf"),
                          "-g", "daemon off; user root;"], os.path.join(dir, "nginx.log"))
        wait_port(port, self.proc, what="nginx")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def shipped_plugin(name):
    """A config with the shipped fastcgi defaults (threads, mount), aimed at the world."""
    path = WORLD.path(name + ".conf")
    with open(path, "w") as f:
        f.write('dns = { servers = "127.0.0.1"; timeout_ms = 1000; tries = 1; };\n'
                'smtp = { allow_private_targets = true; };\n'
                'fastcgi = { ip_rate = 0; rate_state = ""; };\n')

    class P:
        pass
    p = P()
    p.name, p.path = name, path
    return p


class TestKeepaliveBurst(unittest.TestCase):
    def test_readme_snippet_burst_of_16(self):
        snippet = readme_snippet()
        m = re.search(r"keepalive (\d+);", snippet)
        self.assertIsNotNone(m, snippet)
        burst = 2 * int(m.group(1))
        d = WORLD.path("readme")
        w = FcgiWorker(shipped_plugin("readme"), spawn=True, log_dir=WORLD.workdir)
        ng = ReadmeNginx(d, free_port(), snippet, w.port)
        try:
            loc = re.search(r"location = (\S+) \{", snippet).group(1)
            for rnd in range(3):
                t0 = time.monotonic()
                rs = concurrently(lambda i: http(ng.url("%s?email=%s" % (
                    loc, quote("u%d@ok.test" % (i % 2), safe=""))), timeout=20), burst)
                took = time.monotonic() - t0
                codes = [r.status if hasattr(r, "status") else repr(r) for r in rs]
                say("README snippet, round %d: %d concurrent %s -> %s in %.2f s (slowest %.2f s)"
                    % (rnd + 1, burst, loc, sorted(set(map(str, codes))), took,
                       max(r.seconds for r in rs if hasattr(r, "seconds"))))
                self.assertEqual(codes, [200] * burst, ng.log()[-2000:])
                self.assertLess(took, 10)
            t0 = time.monotonic()
            stop_clean(self, w)                 # SIGTERM with kept connections open
            say("SIGTERM with kept connections open: exit 0 after %.2f s" % (time.monotonic() - t0))
        finally:
            ng.stop()
            w.stop()


class Workers(unittest.TestCase):
    """One worker with 2 threads and a short read deadline, behind nginx
    (location /h/, no keepalive) and reachable directly (raw FastCGI)."""

    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin(WORLD, "h", {
            "fastcgi": {"ip_rate": "0", "read_timeout_ms": str(READ_TIMEOUT_MS),
                        "api_keys": '[ "k1" ]', "rate_state": '""'},
            "context": {"form": "{ deadline_ms = 4000; }"}})
        cls.worker = FcgiWorker(cls.plugin, spawn=False, threads=2, log_dir=WORLD.workdir)
        cls.nginx = Nginx(WORLD.path("nginx-h"), free_port(), {"/h/": cls.worker.port})

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def test_zz_sigterm_clean(self):
        """Last: SIGTERM after all that ends the worker cleanly."""
        stop_clean(self, self.worker)

    def url(self, path):
        return self.nginx.url("/h" + path)

    def test_slowloris_params_and_body(self):
        n = 6                                   # three times the threads
        slow_params = fcgi_request(params_for("/h/healthz"))
        body = b"email=bob%40ok.test&x=" + b"y" * 60
        head = fcgi_request(params_for("/h/verify", "POST", clen=len(body)), b"")
        head = head[:-16]                       # without the STDIN records
        slow_body = record(5, body)             # sent a byte at a time after the head
        results = [None] * n
        ts = []
        for i in range(n):
            if i % 2 == 0:
                t = threading.Thread(target=dribble, args=(self.worker.port, slow_params, 0.25,
                                                           results, i))
            else:
                t = threading.Thread(target=self.body_dribble, args=(head, slow_body, results, i))
            t.start()
            ts.append(t)
        time.sleep(0.5)                         # every slow one holds a thread now
        lat = []
        for path in ("/healthz", "/verify?email=bob%40ok.test", "/healthz"):
            r = http(self.url(path), timeout=10)
            self.assertEqual(r.status, 200, r)
            lat.append(r.seconds)
        for t in ts:
            t.join(timeout=15)
        say("slowloris: %d slow connections on 2 threads; normal requests meanwhile: %s s"
            % (n, ", ".join("%.3f" % x for x in lat)))
        for i, res in enumerate(results):
            self.assertIsNotNone(res, "slow client %d never ended" % i)
            secs, answer = res
            kind = "params" if i % 2 == 0 else "body"
            say("  slow %s client %d: ended after %.2f s, answer %r" % (kind, i, secs, answer[:60]))
            self.assertLess(secs, READ_TIMEOUT_MS / 1000 + 2.0)
            self.assertGreater(secs, READ_TIMEOUT_MS / 1000 - 0.6)
            if kind == "body":
                self.assertIn(b"Status: 408", answer)
        self.assertLess(max(lat), 1.0)

    def body_dribble(self, head, slow_body, results, i):
        s = socket.create_connection(("127.0.0.1", self.worker.port))
        s.sendall(head)
        s.settimeout(0.25)
        t0 = time.monotonic()
        answer = b""
        try:
            for b in slow_body:
                s.sendall(bytes([b]))
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                s.settimeout(5)
                answer = chunk + fcgi_answer_rest(s)
                break
        except (BrokenPipeError, ConnectionResetError):
            pass
        results[i] = (time.monotonic() - t0, answer)
        s.close()

    def test_healthz_while_every_worker_waits(self):
        n = 5                                   # more than the 2 threads
        t0 = time.monotonic()
        slow = [None] * n

        def one(i):
            slow[i] = http(self.url("/verify?email=" + quote("h%d@tarpit.test" % i, safe="")),
                           timeout=20)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        time.sleep(0.7)
        h = [http(self.url("/healthz"), timeout=5) for _ in range(3)]
        m = http(self.url("/metrics"), timeout=5)
        for t in ts:
            t.join()
        say("every worker waiting on a tarpit (%d verifications, %.2f-%.2f s each): "
            "/healthz %s s, /metrics %.3f s" % (
                n, min(r.seconds for r in slow), max(r.seconds for r in slow),
                ", ".join("%.3f" % r.seconds for r in h), m.seconds))
        for r in h:
            self.assertEqual(r.status, 200, r)
            self.assertLess(r.seconds, 0.5)
        self.assertEqual(m.status, 200)
        self.assertGreater(min(r.seconds for r in slow), 1.0, "the verifications did not wait")
        self.assertLess(time.monotonic() - t0, 15)

    def test_bulk_needs_a_key(self):
        r = http(self.url("/verify"), "email=bob%40ok.test&context=bulk", headers=FORM)
        say("anonymous bulk: %d %r" % (r.status, r.body[:80]))
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"API key", r.body)
        r = http(self.url("/verify"), "email=bob%40ok.test&context=bulk",
                 headers=dict(FORM, **{"X-Api-Key": "k1"}))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["context"], "bulk")
        r = http(self.url("/verify"), "email=bob%40ok.test&context=bulk",
                 headers=dict(FORM, **{"X-Api-Key": "nope"}))
        self.assertEqual(r.status, 401, r)

    def test_silent_connections_closed(self):
        """Connections that never send anything hold no thread and are
        closed after the read deadline; meanwhile requests are answered."""
        socks = [socket.create_connection(("127.0.0.1", self.worker.port)) for _ in range(8)]
        t0 = time.monotonic()
        r = http(self.url("/healthz"), timeout=5)
        self.assertEqual(r.status, 200)
        ended = []
        for s in socks:
            s.settimeout(READ_TIMEOUT_MS / 1000 + 3)
            try:
                self.assertEqual(s.recv(16), b"")
            except ConnectionResetError:
                pass
            ended.append(time.monotonic() - t0)
            s.close()
        say("8 silent connections: /healthz meanwhile %.3f s; closed after %.2f-%.2f s"
            % (r.seconds, min(ended), max(ended)))
        self.assertLess(r.seconds, 0.5)
        self.assertLess(max(ended), READ_TIMEOUT_MS / 1000 + 1.0)

    def test_raw_fastcgi_keeps_connection(self):
        """Two requests on one kept connection, the second after an idle pause."""
        s = socket.create_connection(("127.0.0.1", self.worker.port))
        s.settimeout(5)
        try:
            for pause in (0, 0.3):
                time.sleep(pause)
                s.sendall(fcgi_request(params_for("/h/healthz")))
                self.assertIn(b'"status":"ok"', fcgi_answer(s))
        finally:
            s.close()


class TestSigterm(unittest.TestCase):
    def test_request_in_progress_finishes(self):
        """SIGTERM while requests wait on a tarpit: they get their (pending)
        answers, then the worker exits 0."""
        plugin = Plugin(WORLD, "term", {"fastcgi": {"ip_rate": "0", "rate_state": '""'},
                                        "context": {"form": "{ deadline_ms = 1500; }"}})
        w = FcgiWorker(plugin, spawn=True, threads=1, log_dir=WORLD.workdir)
        ng = Nginx(WORLD.path("nginx-term"), free_port(), {"/term/": w.port})
        try:
            out = [None] * 3

            def one(i):
                out[i] = http(ng.url("/term/verify?email=t%d%%40tarpit.test" % i), timeout=20)
            ts = [threading.Thread(target=one, args=(i,)) for i in range(3)]
            for t in ts:
                t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            stop_clean(self, w)
            took = time.monotonic() - t0
            for t in ts:
                t.join()
            say("SIGTERM with 3 requests in progress: answers %s (pending %s), exit 0 after %.2f s"
                % ([r.status for r in out], [r.json().get("pending") for r in out], took))
            self.assertEqual([r.status for r in out], [200] * 3)
        finally:
            ng.stop()
            w.stop()


class TestCGISlowloris(unittest.TestCase):
    def test_dribbling_stdin_gets_408(self):
        plugin = Plugin(WORLD, "cgi-slow", {"fastcgi": {"read_timeout_ms": str(READ_TIMEOUT_MS),
                                                        "rate_state": '""'}})
        env = dict(os.environ, GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="POST",
                   SCRIPT_NAME="/cgi-bin/mv.cgi", PATH_INFO="/verify", CONTENT_LENGTH="100",
                   CONTENT_TYPE="application/x-www-form-urlencoded", REMOTE_ADDR="127.0.0.9",
                   SERVER_PROTOCOL="HTTP/1.1")
        t0 = time.monotonic()
        p = subprocess.Popen([FCGI_BIN, "-c", plugin.path], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def drip():
            try:
                for b in b"email=bob%40ok.test&" + b"x" * 80:
                    p.stdin.write(bytes([b]))
                    p.stdin.flush()
                    time.sleep(0.25)
            except (BrokenPipeError, ValueError):
                pass
        t = threading.Thread(target=drip, daemon=True)
        t.start()
        out = p.stdout.read()           # not communicate(): it would close stdin
        p.wait(timeout=READ_TIMEOUT_MS / 1000 + 5)
        took = time.monotonic() - t0
        err = p.stderr.read()
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except BrokenPipeError:
                pass
        say("CGI, stdin a byte every 0.25 s: exit %d after %.2f s, %r" % (
            p.returncode, took, out.split(b"\r\n")[0]))
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(sanitizer_reports(err.decode(errors="replace")), [])
        self.assertTrue(out.startswith(b"Status: 408"), out)
        self.assertLess(took, READ_TIMEOUT_MS / 1000 + 1.5)


class TestExactEndpoints(unittest.TestCase):
    def test_mount_and_exact_paths(self):
        rec = HTTPRecorder()
        plugin = Plugin(WORLD, "m", {"fastcgi": {
            "ip_rate": "0", "mount": '"/m"', "rate_state": '""',
            "pass_through": '"http://127.0.0.1:%d/handler"' % rec.port}})
        w = FcgiWorker(plugin, spawn=True, log_dir=WORLD.workdir)
        ng = Nginx(WORLD.path("nginx-m"), free_port(), {"/": w.port})
        try:
            self.assertEqual(http(ng.url("/m/healthz")).status, 200)
            self.assertEqual(http(ng.url("/m/metrics")).status, 200)
            self.assertEqual(http(ng.url("/m/verify?email=bob%40ok.test")).status, 200)
            # not endpoints: handed on to the handler
            for path in ("/x/metrics", "/m/x/healthz", "/m/healthz/", "/healthz", "/forms/verify",
                         "/m/verify/x"):
                n = len(rec.requests)
                r = http(ng.url(path), "email=bob%40ok.test", headers=FORM)
                got = rec.wait(n + 1, timeout=5)
                self.assertEqual(len(got), n + 1, "%s did not reach the handler: %r" % (path, r))
                self.assertEqual(r.status, 200, (path, r))
                self.assertNotIn(b"mailverify_", r.body)
            say("mount /m: %d non-endpoint paths went to the handler: %s"
                % (len(rec.requests), [q.path for q in rec.requests]))
            stop_clean(self, w)
        finally:
            ng.stop()
            w.stop()
            rec.stop()

    def test_without_pass_through_404_and_cgi(self):
        """The mount written "/b/" is "/b"; not an endpoint: 404."""
        bare = Plugin(WORLD, "bare2", {"fastcgi": {"ip_rate": "0", "mount": '"/b/"',
                                                   "rate_state": '""'}})
        wb = FcgiWorker(bare, spawn=False, log_dir=WORLD.workdir)
        ng = Nginx(WORLD.path("nginx-b2"), free_port(), {"/b/": wb.port})
        try:
            self.assertEqual(http(ng.url("/b/healthz")).status, 200)
            for path in ("/b/b/healthz", "/b/x/metrics", "/b/verify/", "/b/"):
                self.assertEqual(http(ng.url(path)).status, 404, path)
            # nginx resolves "//", "/./" and %-escapes before DOCUMENT_URI; a
            # FastCGI client that does not gets no endpoint for them
            for path in ("/b//healthz", "/b/./healthz", "/b/%68ealthz", "/b/healthz?", "/b"):
                s = socket.create_connection(("127.0.0.1", wb.port))
                s.settimeout(5)
                s.sendall(fcgi_request(params_for(path)))
                self.assertIn(b"Status: 404", fcgi_answer(s), path)
                s.close()
            stop_clean(self, wb)
        finally:
            ng.stop()
            wb.stop()
        for path_info, status in (("/healthz", b"Status: 200"), ("/x/metrics", b"Status: 404"),
                                  ("/healthz/", b"Status: 404")):
            env = dict(os.environ, GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="GET",
                       SCRIPT_NAME="/cgi-bin/mv.cgi", PATH_INFO=path_info, REMOTE_ADDR="127.0.0.9")
            p = subprocess.run([FCGI_BIN, "-c", bare.path], env=env, capture_output=True, timeout=20)
            self.assertTrue(p.stdout.startswith(status), (path_info, p.stdout[:200]))
            self.assertEqual(sanitizer_reports(p.stderr.decode(errors="replace")), [])


if __name__ == "__main__":
    unittest.main()
