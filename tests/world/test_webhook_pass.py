#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_webhook_pass - the web plugin's pass-through and webhooks, end to end.

Pass-through: nginx (fastcgi_pass) -> mailverify.fcgi workers -> a legacy
form handler: a CGI script (legacy.cgi, Python) that records what it got
(method, query, stdin, environment) to a file per request, or an HTTP
upstream (a small http.server in this process) that records the same.
What is asserted is what the site's owner checks: the handler receives
the original body byte for byte when the address passes and never runs
when it is blocked; the block page or redirect; the warn field and
X-Mailverify header on warn; forged ones stripped; every value of a
field; the handler's status and headers relayed; 502/504 when it dies,
answers garbage or hangs. One class runs the plugin as a CGI program
under lighttpd (mod_cgi) in front of the same script.

Webhooks: a receiver (http.server in this process) behind webhook.url;
tarpit.test answers its banner after 3 s, so a /verify answer with the
form's deadline at 400 ms is "pending" and the final verdict is POSTed
later. The receiver checks each POST both with `mailverify
webhook-verify` and with its own HMAC in Python: signature, timestamp
window, replayed ids. Retries after 500, a receiver down for a while,
the queue bound (oldest dropped, logged), SIGTERM delivering the queue
within the grace period, the /metrics counters.

    MAILVERIFY_FCGI=build/mailverify.fcgi MAILVERIFY=build/mailverify \\
        tests/in-netns /usr/bin/python3 tests/world/test_webhook_pass.py [-v]

Every worker's log is checked for sanitizer reports when it stops (run it
with the build-san binaries to make that mean something).

Not covered: an https upstream or receiver, a receiver keeping its
connection alive across a restart, the engine failing to answer (pass-
through then hands on unverified), bulk.completed events (no caller yet).
The 504 test sets fastcgi.pass_timeout_ms to 2 s.
"""
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from web import (Plugin, FcgiWorker, Nginx, Lighttpd, http, metrics, free_port,  # noqa: E402
                 request, HTTPRecorder, wait_log, sanitizer_reports)

MAILVERIFY = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
TMP = WORLD = None
REC_DIR = LEGACY = None
PLUGINS = {}
PROCS = []                      # everything started: stopped at the end, whatever failed
SECRET = "s3cret webhook key"
FORM = "application/x-www-form-urlencoded"
BLOCK_PAGE = """<!doctype html><title>Sorry</title>
<p id="msg">{{message}}</p><p id="addr">{{address}}</p><p id="sugg">{{suggestion}}</p>
<p id="why">{{reason}}/{{status}}/{{field}}</p><p id="keep">{{nothing}} {{ message }}</p>
"""

LEGACY_CGI = r'''#!/usr/bin/python3
# legacy.cgi - a legacy form handler: records what it got, then answers
# as ?mode= says (default: 201 with its own headers).
import json, os, subprocess, sys, time, urllib.parse
REC = %(rec)r
q = os.environ.get("QUERY_STRING", "")
mode = urllib.parse.parse_qs(q).get("mode", ["ok"])[0]
n = os.environ.get("CONTENT_LENGTH")
body = sys.stdin.buffer.read(int(n)) if n else b""
rest = sys.stdin.buffer.read()
rec = {"method": os.environ.get("REQUEST_METHOD"), "query": q, "body": body.decode("latin-1"),
       "rest": rest.decode("latin-1"), "env": dict(os.environ), "cwd": os.getcwd(),
       "pid": os.getpid(), "mode": mode}
if mode == "slow":
    rec["child"] = subprocess.Popen(["sleep", "300"]).pid
name = os.path.join(REC, "%%d-%%d.json" %% (time.time_ns(), os.getpid()))
with open(name + ".tmp", "w") as f:
    json.dump(rec, f)
os.rename(name + ".tmp", name)
out = sys.stdout.buffer
if mode == "slow":
    time.sleep(300)
elif mode == "die":
    os.kill(os.getpid(), 9)
elif mode == "garbage":
    out.write(b"this is not a CGI answer\n\n<html>oops</html>\n")
elif mode == "noctype":
    out.write(b"X-Legacy: yes\n\nno content type\n")
elif mode == "redirect":
    out.write(b"Status: 303 See Other\r\nLocation: /thanks?id=7\r\nX-Legacy: yes\r\n\r\n")
elif mode == "linger":
    # answers, closes its output, and goes on working (sends the mail ...)
    out.write(b"Content-Type: text/plain\n\nthanks\n")
    out.flush()
    os.close(1)
    time.sleep(2)
    open(os.path.join(REC, "linger-%%d.done" %% os.getpid()), "w").close()
else:
    out.write(b"Status: 201 Created\nContent-Type: text/plain; charset=utf-8\nX-Legacy: yes\n"
              b"Set-Cookie: a=1; Path=/\nSet-Cookie: b=2; Path=/\nConnection: close\n\n"
              b"thanks, %%d bytes\n" %% len(body))
'''


def upstream_answer(rec):
    """The HTTP upstream's answers, by ?mode= like legacy.cgi."""
    q = urllib.parse.urlsplit(rec.path).query
    mode = urllib.parse.parse_qs(q).get("mode", ["ok"])[0]
    if mode == "slow":
        return ("sleep", 40, (200, [("Content-Type", "text/plain")], b"late\n"))
    if mode == "die":
        return "close"
    if mode == "garbage":
        return b"this is not HTTP at all\r\n\r\n<html>oops</html>\n"
    if mode == "redirect":
        return (303, [("Location", "/thanks?id=7"), ("X-Legacy", "yes")], b"")
    return (201, [("Content-Type", "text/plain; charset=utf-8"), ("X-Legacy", "yes"),
                  ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")],
            b"thanks, %d bytes\n" % len(rec.body))


UPSTREAM = None


def setUpModule():
    global TMP, WORLD, REC_DIR, LEGACY, UPSTREAM
    TMP = tempfile.TemporaryDirectory(prefix="mv-webhook-pass-")
    os.chmod(TMP.name, 0o755)
    WORLD = World(os.path.join(TMP.name, "world"), tarpit_seconds=3)
    WORLD.start()
    REC_DIR = os.path.join(TMP.name, "records")
    os.makedirs(REC_DIR)
    hdir = os.path.join(TMP.name, "handler")
    os.makedirs(hdir)
    LEGACY = os.path.join(hdir, "legacy.cgi")
    with open(LEGACY, "w") as f:
        f.write(LEGACY_CGI % {"rec": REC_DIR})
    os.chmod(LEGACY, 0o755)
    page = os.path.join(TMP.name, "block.html")
    with open(page, "w") as f:
        f.write(BLOCK_PAGE)
    UPSTREAM = HTTPRecorder(upstream_answer)
    fields = '[ "email", "contact" ]'
    PLUGINS["pc"] = Plugin(WORLD, "pc", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"cgi:%s"' % LEGACY, "pass_fields": fields}})
    PLUGINS["pr"] = Plugin(WORLD, "pr", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"cgi:%s"' % LEGACY, "pass_fields": fields,
        "on_block": '"redirect"', "block_redirect": '"https://shop.test/signup?step=2#form"'}})
    PLUGINS["pl"] = Plugin(WORLD, "pl", {"fastcgi": {
        "ip_rate": "1", "ip_burst": "2", "pass_through": '"cgi:%s"' % LEGACY}})
    PLUGINS["pn"] = Plugin(WORLD, "pn", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"cgi:%s"' % LEGACY, "warn_field": '""'}})
    PLUGINS["pd"] = Plugin(WORLD, "pd", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"http://127.0.0.1:%d/nobody/listens"' % free_port()}})
    PLUGINS["pm"] = Plugin(WORLD, "pm", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"cgi:%s"' % os.path.join(TMP.name, "no-such-script.cgi")}})
    PLUGINS["ph"] = Plugin(WORLD, "ph", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"http://127.0.0.1:%d/legacy/submit"' % UPSTREAM.port,
        "pass_fields": fields, "block_page": '"%s"' % page}})
    # the slow-handler test: fastcgi.pass_timeout_ms of 2 s instead of 30
    # (served at /pc/ and /ph/: mounted there)
    PLUGINS["pcs"] = Plugin(WORLD, "pcs", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"cgi:%s"' % LEGACY, "pass_timeout_ms": "2000",
        "mount": '"/pc"'}})
    PLUGINS["phs"] = Plugin(WORLD, "phs", {"fastcgi": {
        "ip_rate": "0", "pass_through": '"http://127.0.0.1:%d/legacy/submit"' % UPSTREAM.port,
        "pass_timeout_ms": "2000", "mount": '"/ph"'}})


def tearDownModule():
    for p in reversed(PROCS):
        p.stop()
    if UPSTREAM is not None:
        UPSTREAM.stop()
    WORLD.stop()
    if os.environ.get("MV_KEEP"):
        print("kept", TMP.name, file=sys.stderr)
        TMP._finalizer.detach()
    else:
        TMP.cleanup()


def started(proc):
    PROCS.append(proc)
    return proc


def stop_clean(test, worker, expect_rc=0):
    """Stop a worker; its exit status must be expect_rc and its log free of sanitizer reports."""
    rc = worker.stop(timeout=15)
    log = worker.log()
    bad = sanitizer_reports(log)
    if bad:
        raise AssertionError("sanitizer reports in %s:\n%s" % (worker.log_path, log[-6000:]))
    if expect_rc is not None and rc != expect_rc:
        raise AssertionError("%s exited %r, not %r:\n%s" % (worker.log_path, rc, expect_rc, log[-3000:]))
    return rc, log


def ready(nginx, prefixes):
    """Each worker answers (spawn-fcgi holds the port before the worker
    has even started: one stopped that early would die of the SIGTERM)."""
    for prefix in prefixes:
        r = http(nginx.url(prefix + "healthz"))
        if r.status != 200:
            raise AssertionError("%shealthz: %r" % (prefix, r))


def server_logs(server):
    """lighttpd's own log and its error.log (CGI programs' stderr), for a failure's message."""
    out = "lighttpd log:\n" + server.log()
    errlog = os.path.join(server.dir, "error.log")
    if os.path.exists(errlog):
        with open(errlog, errors="replace") as f:
            out += "\nerror.log:\n" + f.read()
    return out


def lighttpd_reports(server):
    """Sanitizer lines from lighttpd's logs (a CGI program's stderr goes to its error.log)."""
    bad = sanitizer_reports(server.log())
    errlog = os.path.join(server.dir, "error.log")
    if os.path.exists(errlog):
        with open(errlog, errors="replace") as f:
            bad += sanitizer_reports(f.read())
    return bad


def records():
    """What legacy.cgi recorded, oldest first."""
    out = []
    for name in sorted(os.listdir(REC_DIR)):
        if name.endswith(".json"):
            with open(os.path.join(REC_DIR, name)) as f:
                out.append(json.load(f))
    return out


def clear_records():
    for name in os.listdir(REC_DIR):
        os.unlink(os.path.join(REC_DIR, name))


def multipart(parts, boundary="----WebKitFormBoundary7MA4YWxkTrZu0gW"):
    """A multipart/form-data body: parts are (name, value bytes) or (name, value, filename)."""
    out = b""
    for p in parts:
        disp = 'form-data; name="%s"' % p[0]
        extra = b""
        if len(p) > 2:
            disp += '; filename="%s"' % p[2]
            extra = b"Content-Type: application/octet-stream\r\n"
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n" + extra
        out += b"\r\n" + p[1] + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", "multipart/form-data; boundary=" + boundary


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


class PassCommon:
    """What both kinds of handler must see alike. Subclasses set cfg,
    url(path) and got() -> [(method, query, body bytes, headers {name: value})]."""

    def post(self, body, ctype=FORM, query="", headers=None, path="/signup"):
        h = {"Content-Type": ctype} if ctype else {}
        h.update(headers or {})
        return request(self.url(path + ("?" + query if query else "")), body, headers=h)

    def setUp(self):
        self.reset()

    def assertHandedOn(self, r, method, query, body, ctype=FORM):
        """One request reached the handler, exactly as sent; its answer relayed."""
        self.assertEqual(r.status, 201, r)
        got = self.got()
        self.assertEqual(len(got), 1, got)
        m, q, b, h = got[0]
        self.assertEqual((m, q), (method, query))
        self.assertEqual(b, body)                   # byte for byte
        if ctype is not None:
            self.assertEqual(h.get("content-type"), ctype)
        self.assertNotIn("x-mailverify", h)
        self.assertEqual(r.body, b"thanks, %d bytes\n" % len(body))
        return h

    def assertRelayed(self, r):
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("X-Legacy"), "yes")
        self.assertEqual(r.headers.get_all("Set-Cookie"), ["a=1; Path=/", "b=2; Path=/"])

    def assertBlocked(self, r, address, words):
        self.assertEqual(r.status, 422, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(self.got(), [], "the handler ran for a blocked submission")
        text = r.body.decode()
        self.assertIn(address, text)
        self.assertIn(words, text)
        return text

    # ---- accept: handed on untouched

    def test_accept_urlencoded_byte_for_byte(self):
        body = b"name=Jane+Doe&email=alice%40ok.test&note=caf%c3%A9+%26+more%21&empty=&flag&&x=%2B"
        query = "src=ad&utm=%7Bx%7D&x=%20"
        r = self.post(body, query=query, headers={"Cookie": "sid=42", "User-Agent": "legacy-test/1",
                                                  "Referer": "https://shop.test/form"})
        h = self.assertHandedOn(r, "POST", query, body)
        self.assertRelayed(r)
        self.assertEqual(h.get("cookie"), "sid=42")
        self.assertEqual(h.get("user-agent"), "legacy-test/1")
        self.assertEqual(h.get("referer"), "https://shop.test/form")

    def test_accept_multipart_byte_for_byte(self):
        blob = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n\x00"
        body, ctype = multipart([("name", "Zoë".encode()), ("email", b"bob@ok.test"),
                                 ("attachment", b"nobody@ok.test", "email.txt"),
                                 ("cv", blob, "cv.bin")])
        r = self.post(body, ctype=ctype)
        self.assertHandedOn(r, "POST", "", body, ctype=ctype)
        self.assertRelayed(r)

    def test_file_part_named_like_a_pass_field_is_verified(self):
        # Python's getvalue() reads a file's content, CGI.pm's param() its
        # filename: both are values of the field, next to a good one
        for part in [("email", b"nobody@ok.test", "a@ok.test"), ("email", b"bob@ok.test", "nobody@ok.test")]:
            body, ctype = multipart([("email", b"bob@ok.test"), part])
            r = self.post(body, ctype=ctype)
            self.assertEqual(r.status, 422, r)
            self.assertIn(b"nobody@ok.test", r.body)

    def test_accept_get_query(self):
        query = "email=alice%40ok.test&contact=bob%40ok.test&page=2"
        r = request(self.url("/signup?" + query))
        self.assertHandedOn(r, "GET", query, b"", ctype=None)

    def test_other_methods_and_types_handed_on(self):
        # a JSON body is not read (only form encodings are): handed on as it is
        body = b'{"email": "nobody@ok.test"}'
        r = self.post(body, ctype="application/json")
        self.assertHandedOn(r, "POST", "", body, ctype="application/json")
        self.reset()
        body = b"email=alice%40ok.test"
        r = request(self.url("/signup"), body, method="PUT", headers={"Content-Type": FORM})
        self.assertHandedOn(r, "PUT", "", body)

    # ---- block: the handler never runs

    def test_block_page_rejected_mailbox(self):
        r = self.post(b"name=x&email=nobody%40ok.test")
        self.assertBlocked(r, "nobody@ok.test", "This mailbox does not exist.")

    def test_block_disposable_and_typo(self):
        r = self.post(b"email=x%40mailinator.com")
        self.assertBlocked(r, "x@mailinator.com", "Disposable email addresses are not accepted.")
        r = self.post(b"email=jane%40gmail")
        text = self.assertBlocked(r, "jane@gmail", "jane@gmail.com")
        self.assertEqual(text.count("Did you mean"), 1, text)

    def test_block_multipart_and_get(self):
        body, ctype = multipart([("email", b"nobody@ok.test"), ("f", b"\x00\x01", "f.bin")])
        self.assertBlocked(self.post(body, ctype=ctype), "nobody@ok.test", "does not exist")
        r = request(self.url("/signup?email=nobody%40ok.test&x=1"))
        self.assertBlocked(r, "nobody@ok.test", "does not exist")

    def test_block_page_escapes(self):
        r = self.post(b"email=%3Cscript%3Ealert(1)%3C%2Fscript%3E%40ok.test")
        self.assertEqual(r.status, 422)
        self.assertNotIn(b"<script>", r.body)
        self.assertIn(b"&lt;script&gt;alert(1)&lt;/script&gt;@ok.test", r.body)
        self.assertEqual(self.got(), [])

    def test_several_values_of_a_field(self):
        # the second value is bad: blocked, and the page talks about it
        r = self.post(b"email=alice%40ok.test&email=nobody%40ok.test")
        text = self.assertBlocked(r, "nobody@ok.test", "does not exist")
        self.assertNotIn("alice@ok.test", text)
        # in the query and the body alike
        r = self.post(b"email=alice%40ok.test", query="email=x%40mailinator.com")
        self.assertBlocked(r, "x@mailinator.com", "Disposable")
        # the second field of pass_fields
        r = self.post(b"email=alice%40ok.test&contact=x%40mailinator.com")
        self.assertBlocked(r, "x@mailinator.com", "Disposable")
        # all good: handed on
        self.reset()
        body = b"email=alice%40ok.test&email=bob%40ok.test&contact=alice%40ok.test"
        self.assertHandedOn(self.post(body), "POST", "", body)

    # ---- warn: the warn field and the header

    def test_warn_adds_field_and_header(self):
        body = b"name=Jane&email=full%40users.test"
        r = self.post(body)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual(b, body + b"&mailverify=risky%3Amailbox_full")
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full")
        self.assertEqual(r.body, b"thanks, %d bytes\n" % len(b))

    def test_warn_multipart(self):
        body, ctype = multipart([("email", b"full@users.test"), ("f", b"a\r\nb", "f.txt")])
        r = self.post(body, ctype=ctype)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        closing = b"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"
        self.assertTrue(body.endswith(closing))
        self.assertEqual(b, body[:-len(closing)] + b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
                         b'Content-Disposition: form-data; name="mailverify"\r\n\r\n'
                         b"risky:mailbox_full\r\n" + closing)
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full")

    def test_warn_get_query(self):
        r = request(self.url("/signup?email=full%40users.test&a=1"))
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual((m, q, b), ("GET", "email=full%40users.test&a=1&mailverify=risky%3Amailbox_full", b""))
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full")

    def test_warn_several_values(self):
        body = b"email=full%40users.test&contact=jane%40gmial.com"
        r = self.post(body)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual(b, body + b"&mailverify=risky%3Amailbox_full&mailverify=unknown%3Adns_error")
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full, unknown:dns_error")

    def test_forged_warn_field_and_header_stripped(self):
        forged = {"X-Mailverify": "deliverable:accepted_email"}
        body = b"mailverify=deliverable%3Aaccepted_email&email=alice%40ok.test&mailverify=x"
        r = self.post(body, query="mailverify=ok&a=1", headers=forged)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual((q, b), ("a=1", b"email=alice%40ok.test"))
        self.assertNotIn("x-mailverify", h)
        # on warn only ours is left
        self.reset()
        r = self.post(b"email=full%40users.test&mailverify=deliverable%3Aaccepted_email", headers=forged)
        (m, q, b, h), = self.got()
        self.assertEqual(b, b"email=full%40users.test&mailverify=risky%3Amailbox_full")
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full")
        # a multipart forgery too
        self.reset()
        body, ctype = multipart([("mailverify", b"deliverable:accepted_email"), ("email", b"alice@ok.test")])
        r = self.post(body, ctype=ctype, headers=forged)
        (m, q, b, h), = self.got()
        self.assertEqual(b, multipart([("email", b"alice@ok.test")])[0])
        self.assertNotIn("x-mailverify", h)

    def test_forged_encoded_and_file_part_stripped(self):
        # the name decoded is what a handler sees: "mail%76erify" is "mailverify"
        r = self.post(b"mail%76erify=deliverable%3Aaccepted_email&email=alice%40ok.test")
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual(b, b"email=alice%40ok.test")

    def test_forged_file_part_stripped(self):
        """A part with a filename is still a field of that name to many
        handlers (Python's cgi.FieldStorage getvalue(), Perl CGI.pm
        param()): removed too."""
        body, ctype = multipart([("email", b"alice@ok.test"),
                                 ("mailverify", b"deliverable:accepted_email", "x.txt")])
        r = self.post(body, ctype=ctype)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual(b, multipart([("email", b"alice@ok.test")])[0])

    def test_multipart_browser_boundaries(self):
        # Chrome/Safari's and Firefox's boundaries, a quoted one
        for bnd, ctype in (("----WebKitFormBoundaryAbC123xYz7MA4YW", None),
                           ("----geckoformboundary1f0c9e3b2a7d4c5e6f8091a2b3c4d5e", None),
                           ("a b=c", 'multipart/form-data; boundary="a b=c"')):
            for email, status in ((b"alice@ok.test", 201), (b"nobody@ok.test", 422)):
                self.reset()
                body, ct = multipart([("email", email), ("f", b"x\r\ny", "f.txt")], boundary=bnd)
                r = self.post(body, ctype=ctype or ct)
                self.assertEqual(r.status, status, (bnd, email, r))
                if status == 201:
                    self.assertEqual(self.got()[0][2], body)

    def test_multipart_preamble_and_epilogue(self):
        inner, ctype = multipart([("email", b"full@users.test")], boundary="b0undary")
        body = b"This is a preamble.\r\n" + inner + b"an epilogue\r\n"
        r = self.post(body, ctype=ctype)
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        closing = b"--b0undary--\r\n"
        at = body.index(closing)
        self.assertEqual(b, body[:at] + b'--b0undary\r\nContent-Disposition: form-data; name="mailverify"'
                         b"\r\n\r\nrisky:mailbox_full\r\n" + body[at:])

    def test_chunked_request_body(self):
        """A client may send its form chunked (no Content-Length): the
        web server still gives the plugin the whole body, verified."""
        import http.client
        body = b"name=Jane&email=nobody%40ok.test"
        u = urllib.parse.urlsplit(self.url("/signup"))
        for email, status in ((b"nobody%40ok.test", 422), (b"alice%40ok.test", 201)):
            self.reset()
            body = b"name=Jane&email=" + email
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            c.request("POST", u.path, body=iter([body[:7], body[7:]]),
                      headers={"Content-Type": FORM, "Transfer-Encoding": "chunked"}, encode_chunked=True)
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual(r.status, status, email)
            if status == 201:
                (m, q, b, h), = self.got()
                self.assertEqual(b, body)

    # ---- the handler's answers

    def test_handler_redirect_relayed(self):
        r = self.post(b"email=alice%40ok.test", query="mode=redirect")
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("Location"), "/thanks?id=7")
        self.assertEqual(r.header("X-Legacy"), "yes")

    def test_handler_dies_or_answers_garbage(self):
        for mode in ("die", "garbage"):
            self.reset()
            r = self.post(b"email=alice%40ok.test", query="mode=" + mode)
            self.assertEqual(r.status, 502, (mode, r))
            self.assertIn(b"did not answer properly", r.body)
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
            self.assertEqual(len(self.got()), 1, mode)      # it did run

    def test_metrics_count_pass_verdicts(self):
        key = 'mailverify_verdicts_total{reason="rejected_email",action="block"}'
        code = 'mailverify_http_responses_total{code="422"}'
        m0 = metrics(self.url("/metrics"))
        self.assertEqual(self.post(b"email=nobody%40ok.test&contact=alice%40ok.test").status, 422)
        m1 = metrics(self.url("/metrics"))
        self.assertEqual(m1.get(key, 0), m0.get(key, 0) + 1)
        self.assertEqual(m1.get(code, 0), m0.get(code, 0) + 1, "the block page's 422 has its own label")


class TestPassCGI(PassCommon, unittest.TestCase):
    """nginx -> mailverify.fcgi (FastCGI, spawn-fcgi) -> legacy.cgi."""

    @classmethod
    def setUpClass(cls):
        d = WORLD.path("pass-cgi")
        os.makedirs(d, exist_ok=True)
        cls.workers = {k: started(FcgiWorker(PLUGINS[k], spawn=True, log_dir=d))
                       for k in ("pc", "pr", "pl", "pn", "pd", "pm")}
        cls.nginx = started(Nginx(d, free_port(), {"/%s/" % k: w.port for k, w in cls.workers.items()}))
        ready(cls.nginx, ["/%s/" % k for k in cls.workers])

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        errors = []
        for w in cls.workers.values():         # every one stopped, whatever one says
            try:
                stop_clean(cls, w)
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def url(self, path, cfg="pc"):
        return self.nginx.url("/%s%s" % (cfg, path))

    def reset(self):
        clear_records()

    def got(self):
        out = []
        for r in records():
            env = r["env"]
            h = {k[5:].replace("_", "-").lower(): v for k, v in env.items() if k.startswith("HTTP_")}
            if "CONTENT_TYPE" in env:
                h["content-type"] = env["CONTENT_TYPE"]
            self.assertEqual(r["rest"], "", "more on stdin than CONTENT_LENGTH")
            out.append((r["method"], r["query"], r["body"].encode("latin-1"), h))
        return out

    def test_cgi_environment(self):
        body = b"email=alice%40ok.test"
        r = self.post(body, query="a=1", path="/forms/signup.php")
        self.assertEqual(r.status, 201, r)
        rec, = records()
        env = rec["env"]
        self.assertEqual(env["CONTENT_LENGTH"], str(len(body)))
        self.assertEqual(env["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(env["REQUEST_METHOD"], "POST")
        self.assertEqual(env["QUERY_STRING"], "a=1")
        self.assertEqual(env["REQUEST_URI"], "/pc/forms/signup.php?a=1")
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["SCRIPT_FILENAME"], LEGACY)
        self.assertEqual(rec["cwd"], os.path.dirname(LEGACY))
        self.assertNotIn("HTTP_PROXY", env)
        # a GET has no CONTENT_LENGTH at all
        self.reset()
        request(self.url("/signup?email=alice%40ok.test"))
        rec, = records()
        self.assertNotIn("CONTENT_LENGTH", rec["env"])

    def test_413_429_handler_not_run(self):
        big = b"email=alice%40ok.test&pad=" + b"x" * 16384       # over fastcgi.max_body
        r = self.post(big)
        self.assertEqual(r.status, 413, r)
        self.assertIn(b"larger than this server accepts", r.body)
        self.assertEqual(records(), [])
        seen = []
        for _ in range(5):
            r = request(self.url("/signup", cfg="pl"), b"email=alice%40ok.test", headers={"Content-Type": FORM})
            seen.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(seen, [201, 201, 429])
        self.assertEqual(r.header("Retry-After"), "1")
        self.assertEqual(len(records()), 2)

    def test_warn_field_off(self):
        # warn_field = "": the body as it came, the header only (a forged one still removed)
        body = b"email=full%40users.test&mailverify=x"
        r = request(self.url("/signup", cfg="pn"), body,
                    headers={"Content-Type": FORM, "X-Mailverify": "deliverable:accepted_email"})
        self.assertEqual(r.status, 201, r)
        (m, q, b, h), = self.got()
        self.assertEqual(b, body)
        self.assertEqual(h.get("x-mailverify"), "risky:mailbox_full")

    def test_handler_missing_or_down(self):
        for cfg in ("pd", "pm"):
            r = request(self.url("/signup", cfg=cfg), b"email=alice%40ok.test", headers={"Content-Type": FORM})
            self.assertEqual(r.status, 502, (cfg, r))
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
        # blocked before the handler is even looked for
        r = request(self.url("/signup", cfg="pm"), b"email=nobody%40ok.test", headers={"Content-Type": FORM})
        self.assertEqual(r.status, 422, r)

    def test_handler_without_content_type(self):
        r = self.post(b"email=alice%40ok.test", query="mode=noctype")
        self.assertEqual(r.status, 502, r)

    def test_handler_no_zombie_left(self):
        r = self.post(b"email=alice%40ok.test", query="mode=die")
        self.assertEqual(r.status, 502)
        pid = records()[-1]["pid"]
        self.assertFalse(os.path.exists("/proc/%d" % pid), "legacy.cgi %d not reaped" % pid)

    def test_handler_working_after_its_answer(self):
        """A script that closes its output and goes on working: its answer
        goes out at once, and it is not killed (nor left a zombie)."""
        r = self.post(b"email=alice%40ok.test", query="mode=linger")
        self.assertEqual((r.status, r.body), (200, b"thanks\n"))
        self.assertLess(r.seconds, 1.5)         # the script works on for 2 s
        pid = records()[-1]["pid"]
        done = os.path.join(REC_DIR, "linger-%d.done" % pid)
        deadline = time.monotonic() + 10
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(done), "the script was killed before it finished")
        time.sleep(0.5)
        self.assertFalse(os.path.exists("/proc/%d" % pid), "legacy.cgi %d not reaped" % pid)

    def test_redirect_on_block(self):
        r = request(self.url("/signup", cfg="pr"), b"email=nobody%40ok.test", headers={"Content-Type": FORM})
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.header("Location"),
                         "https://shop.test/signup?step=2&mailverify_reason=rejected_email#form")
        self.assertEqual(r.body, b"")
        self.assertEqual(self.got(), [])
        # a typo: the reason and the suggestion
        r = request(self.url("/signup", cfg="pr"), b"email=jane%40gmail", headers={"Content-Type": FORM})
        self.assertEqual(r.status, 302, r)
        loc = urllib.parse.urlsplit(r.header("Location"))
        self.assertEqual((loc.scheme, loc.netloc, loc.path, loc.fragment), ("https", "shop.test", "/signup", "form"))
        self.assertEqual(urllib.parse.parse_qs(loc.query), {
            "step": ["2"], "mailverify_reason": ["invalid_syntax"], "mailverify_suggestion": ["jane@gmail.com"]})
        # the other field says which
        r = request(self.url("/signup?contact=x%40mailinator.com", cfg="pr"))
        self.assertEqual(r.status, 302, r)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("Location")).query)
        self.assertEqual((q["mailverify_reason"], q["mailverify_field"]), (["disposable"], ["contact"]))
        self.assertEqual(self.got(), [])
        # accepted: handed on as with a page
        body = b"email=alice%40ok.test"
        self.assertHandedOn(request(self.url("/signup", cfg="pr"), body, headers={"Content-Type": FORM}),
                            "POST", "", body)


class TestPassHTTP(PassCommon, unittest.TestCase):
    """nginx -> mailverify.fcgi (FastCGI, -s) -> an HTTP upstream; a block_page template."""

    @classmethod
    def setUpClass(cls):
        d = WORLD.path("pass-http")
        os.makedirs(d, exist_ok=True)
        cls.worker = started(FcgiWorker(PLUGINS["ph"], spawn=False, log_dir=d))
        cls.nginx = started(Nginx(d, free_port(), {"/ph/": cls.worker.port}))
        ready(cls.nginx, ["/ph/"])

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        stop_clean(cls, cls.worker)

    def url(self, path):
        return self.nginx.url("/ph" + path)

    def reset(self):
        with UPSTREAM.cv:
            del UPSTREAM.requests[:]

    def got(self):
        out = []
        for r in UPSTREAM.requests:
            u = urllib.parse.urlsplit(r.path)
            self.assertEqual(u.path, "/legacy/submit")
            out.append((r.method, u.query, r.body, {k.lower(): v for k, v in r.headers.items()}))
        return out

    def assertBlocked(self, r, address, words):
        # the template, not the built-in page
        self.assertEqual(r.status, 422, r)
        self.assertEqual(self.got(), [], "the handler ran for a blocked submission")
        text = r.body.decode()
        self.assertTrue(text.startswith("<!doctype html><title>Sorry</title>"), text)
        self.assertIn('<p id="addr">%s</p>' % address.replace("<", "&lt;").replace(">", "&gt;"), text)
        self.assertIn('<p id="keep">{{nothing}} {{ message }}</p>', text)
        self.assertNotIn("{{message}}", text)
        if words != "jane@gmail.com":
            self.assertIn(words, re.search(r'<p id="msg">(.*?)</p>', text).group(1))
        return text

    def test_block_page_template_fields(self):
        r = self.post(b"email=jane%40gmail")
        text = self.assertBlocked(r, "jane@gmail", "")
        self.assertIn('<p id="sugg">jane@gmail.com</p>', text)
        self.assertIn('<p id="why">invalid_syntax/undeliverable/email</p>', text)
        r = self.post(b"contact=nobody%40ok.test")
        text = self.assertBlocked(r, "nobody@ok.test", "does not exist")
        self.assertIn('<p id="sugg"></p>', text)
        self.assertIn('<p id="why">rejected_email/undeliverable/contact</p>', text)

    def test_upstream_headers(self):
        body = b"email=alice%40ok.test"
        r = self.post(body, query="a=1", headers={"X-Forwarded-For": "10.1.2.3", "Accept-Language": "fr",
                                                  "Connection": "keep-alive, X-Secret-Hop"})
        self.assertEqual(r.status, 201, r)
        rec = UPSTREAM.requests[0]
        self.assertEqual(rec.path, "/legacy/submit?a=1")
        self.assertEqual(rec.headers["X-Forwarded-For"], "10.1.2.3, 127.0.0.1")
        # Debian's fastcgi_params sets HTTP_HOST to $host (no port): what the plugin has
        self.assertEqual(rec.headers["X-Forwarded-Host"], "127.0.0.1")
        self.assertEqual(rec.headers["X-Forwarded-Proto"], "http")
        self.assertEqual(rec.headers["Accept-Language"], "fr")
        self.assertEqual(rec.headers["Host"], "127.0.0.1:%d" % UPSTREAM.port)
        self.assertEqual(rec.headers["Content-Length"], str(len(body)))

    def test_head_request(self):
        r = request(self.url("/signup?email=alice%40ok.test"), method="HEAD")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(UPSTREAM.requests[0].method, "HEAD")


class TestSlowHandlers(unittest.TestCase):
    """A handler that never answers: 504 after fastcgi.pass_timeout_ms
    (2 s here), the CGI script's whole process group killed. Both kinds at
    once."""

    def test_504(self):
        d = WORLD.path("pass-slow")
        os.makedirs(d, exist_ok=True)
        wc = started(FcgiWorker(PLUGINS["pcs"], spawn=True, log_dir=d))
        wh = started(FcgiWorker(PLUGINS["phs"], spawn=True, log_dir=d))
        ng = started(Nginx(d, free_port(), {"/pc/": wc.port, "/ph/": wh.port}))
        ready(ng, ["/pc/", "/ph/"])
        clear_records()
        out = {}

        def one(cfg):
            out[cfg] = request(ng.url("/%s/signup?mode=slow" % cfg), b"email=alice%40ok.test",
                               headers={"Content-Type": FORM}, timeout=90)
        try:
            ts = [threading.Thread(target=one, args=(c,)) for c in ("pc", "ph")]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            for cfg in ("pc", "ph"):
                r = out[cfg]
                self.assertEqual(r.status, 504, (cfg, r))
                self.assertIn(b"did not answer in time", r.body)
                self.assertGreaterEqual(r.seconds, 1.9)
                self.assertLess(r.seconds, 10)
            rec, = records()
            self.assertFalse(alive(rec["pid"]), "legacy.cgi still running")
            self.assertFalse(alive(rec["child"]), "its child (same process group) still running")
            # the workers still answer
            self.assertEqual(request(ng.url("/pc/healthz")).status, 200)
        finally:
            ng.stop()
            try:
                stop_clean(self, wc)
            finally:
                stop_clean(self, wh)


class TestPassCGIMode(unittest.TestCase):
    """lighttpd (mod_cgi) -> mailverify.fcgi as a CGI program -> legacy.cgi."""

    @classmethod
    def setUpClass(cls):
        cls.server = started(Lighttpd(WORLD.path("pass-lighttpd"), free_port(), {"pc": PLUGINS["pc"]}))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        bad = lighttpd_reports(cls.server)
        if bad:
            raise AssertionError("sanitizer reports under lighttpd:\n" + "\n".join(bad))

    def url(self, path):
        return self.server.url("/cgi-bin/pc.cgi" + path)

    def setUp(self):
        clear_records()

    def test_accept_byte_for_byte(self):
        body, ctype = multipart([("email", b"alice@ok.test"), ("f", bytes(range(256)), "f.bin")])
        r = request(self.url("/signup?x=%2F1"), body, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("X-Legacy"), "yes")
        rec, = records()
        self.assertEqual((rec["method"], rec["query"], rec["body"].encode("latin-1")), ("POST", "x=%2F1", body))
        self.assertEqual(rec["env"]["CONTENT_TYPE"], ctype)
        self.assertEqual(rec["env"]["SCRIPT_FILENAME"], LEGACY)

    def test_block_and_warn(self):
        r = request(self.url("/signup"), b"email=nobody%40ok.test", headers={"Content-Type": FORM})
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"This mailbox does not exist.", r.body)
        self.assertEqual(records(), [])
        r = request(self.url("/signup"), b"email=full%40users.test",
                    headers={"Content-Type": FORM, "X-Mailverify": "forged"})
        self.assertEqual(r.status, 201, r)
        rec, = records()
        self.assertEqual(rec["body"], "email=full%40users.test&mailverify=risky%3Amailbox_full")
        self.assertEqual(rec["env"]["HTTP_X_MAILVERIFY"], "risky:mailbox_full")


# ---------------------------------------------------------------------------
# Webhooks


def webhook_plugin(name, url, fastcgi=None, **kw):
    hook = {"url": '"%s"' % url, "secret": '"%s"' % SECRET, "timeout_ms": "1000",
            "retries": "6", "retry_base_ms": "300"}
    hook.update({k: str(v) for k, v in kw.items()})
    return Plugin(WORLD, name, {"fastcgi": dict({"ip_rate": "0"}, **(fastcgi or {})), "webhook": hook,
                                "context": {"form": "{ deadline_ms = 400; }"}})


def verify_cli(ts, sig, ev, body, secret=SECRET, seen=None, tolerance=None):
    argv = [MAILVERIFY, "webhook-verify", "--secret", secret]
    if seen:
        argv += ["--seen", seen]
    if tolerance is not None:
        argv += ["--tolerance", str(tolerance)]
    p = subprocess.run(argv + ["--", ts, sig, ev], input=body, capture_output=True, timeout=10)
    return p.returncode


def py_signature(ts, body, secret=SECRET):
    return "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookBase:
    counter = 0

    def address(self):
        """A new tarpit.test address each time (no cache hit): pending, then accepted."""
        WebhookBase.counter += 1
        return "known+%d@tarpit.test" % WebhookBase.counter

    def pending(self, ng, prefix, address):
        r = http(ng.url("%s/verify?email=%s" % (prefix, urllib.parse.quote(address, safe=""))))
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertIs(j["pending"], True, j)
        return j

    def assertSigned(self, rec, tolerance=5):
        """What a receiver checks: signature (Python and the CLI), timestamp, id."""
        ts = rec.headers["X-Mailverify-Timestamp"]
        sig = rec.headers["X-Mailverify-Signature"]
        ev = rec.headers["X-Mailverify-Event"]
        self.assertRegex(ev, r"^[0-9a-f]{32}$")
        self.assertTrue(hmac.compare_digest(py_signature(ts, rec.body), sig), (ts, sig))
        self.assertLessEqual(abs(rec.time - int(ts)), tolerance)
        body = json.loads(rec.body)
        self.assertEqual(body["id"], ev)
        self.assertEqual(verify_cli(ts, sig, ev, rec.body), 0)
        self.assertEqual(rec.headers["Content-Type"], "application/json")
        return body


class TestWebhook(WebhookBase, unittest.TestCase):
    """Delivery of late verdicts to a receiver that is up, fails, goes down."""

    @classmethod
    def setUpClass(cls):
        cls.codes = []          # statuses to answer next (then 200)
        cls.lock = threading.Lock()

        def answer(rec):
            with cls.lock:
                code = cls.codes.pop(0) if cls.codes else 200
            return (code, [("Content-Type", "text/plain")], b"%d\n" % code)
        cls.receiver = HTTPRecorder(answer)
        d = WORLD.path("webhook")
        os.makedirs(d, exist_ok=True)
        cls.plugin = webhook_plugin("wh", "http://127.0.0.1:%d/hooks/mv?site=1" % cls.receiver.port,
                                    fastcgi={"pass_through": '"cgi:%s"' % LEGACY})
        cls.worker = started(FcgiWorker(cls.plugin, spawn=True, log_dir=d))
        cls.nginx = started(Nginx(d, free_port(), {"/wh/": cls.worker.port}))
        ready(cls.nginx, ["/wh/"])

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        try:
            stop_clean(cls, cls.worker)
        finally:
            cls.receiver.stop()

    def setUp(self):
        # the receiver records a POST before the sender has read the answer
        # and counted it in /metrics: let the last one of the test before settle
        time.sleep(0.2)
        with self.receiver.cv:
            del self.receiver.requests[:]

    def metric(self, name, expect=None):
        """A /metrics value; with expect, the value once it got there (2 s at most)."""
        deadline = time.monotonic() + 2
        while True:
            v = metrics(self.nginx.url("/wh/metrics"))[name]
            if expect is None or v == expect or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def for_address(self, addr):
        return lambda rec: json.loads(rec.body)["verdict"]["address"] == addr

    def test_pending_verdict_one_signed_post(self):
        ok0 = self.metric("mailverify_webhook_deliveries_total")
        addr = self.address()
        t0 = time.monotonic()
        self.pending(self.nginx, "/wh", addr)
        got = self.receiver.wait(1, timeout=20)
        self.assertEqual(len(got), 1, "no webhook POST within 20 s")
        rec = got[0]
        self.assertGreaterEqual(rec.mono - t0, 2.5)         # after the tarpit's 3 s banner
        self.assertEqual((rec.method, rec.path), ("POST", "/hooks/mv?site=1"))
        self.assertTrue(rec.headers["User-Agent"].startswith("mailverify/"))
        body = self.assertSigned(rec)
        self.assertEqual(body["event"], "verdict")
        self.assertLessEqual(abs(body["created"] - rec.time), 5)
        v = body["verdict"]
        self.assertEqual((v["address"], v["status"], v["reason"], v["action"], v["context"]),
                         (addr, "deliverable", "accepted_email", "accept", "form"))
        self.assertEqual(v["checks"]["smtp"]["code"], 250)
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.requests), 1, "delivered more than once")
        self.assertEqual(self.metric("mailverify_webhook_deliveries_total", ok0 + 1), ok0 + 1)

    def test_receiver_checks(self):
        """The checks a receiver makes reject what they must."""
        self.pending(self.nginx, "/wh", self.address())
        rec, = self.receiver.wait(1, timeout=20)
        ts, sig = rec.headers["X-Mailverify-Timestamp"], rec.headers["X-Mailverify-Signature"]
        ev, body = rec.headers["X-Mailverify-Event"], rec.body
        seen = os.path.join(TMP.name, "seen-%s" % ev)
        self.assertEqual(verify_cli(ts, sig, ev, body, seen=seen), 0)
        self.assertEqual(verify_cli(ts, sig, ev, body, seen=seen), 3)          # replayed
        self.assertEqual(verify_cli(ts, sig, ev, body, secret="other"), 1)     # wrong secret
        self.assertEqual(verify_cli(ts, sig, ev, body.replace(b"accept", b"block", 1)), 1)  # tampered
        self.assertEqual(verify_cli(str(int(ts) + 1), sig, ev, body), 1)      # the timestamp is signed
        self.assertEqual(verify_cli(ts, sig, "0" * 32, body), 1)               # id not the body's
        old = str(int(time.time()) - 600)                                      # a valid but stale one
        self.assertEqual(verify_cli(old, py_signature(old, body), ev, body), 2)
        self.assertEqual(verify_cli(old, py_signature(old, body), ev, body, tolerance=900), 0)

    def test_retried_after_500(self):
        fail0 = self.metric("mailverify_webhook_failures_total")
        with self.lock:
            self.codes[:] = [500, 503]
        addr = self.address()
        self.pending(self.nginx, "/wh", addr)
        got = self.receiver.wait(3, timeout=25)
        self.assertEqual(len(got), 3, got)
        ids = {r.headers["X-Mailverify-Event"] for r in got}
        self.assertEqual(len(ids), 1, "a retry is the same event")
        bodies = {r.body for r in got}
        self.assertEqual(len(bodies), 1, "a retry is the same body")
        for r in got:
            self.assertSigned(r)            # each attempt signed anew, within the window
        gaps = [b.mono - a.mono for a, b in zip(got, got[1:])]
        self.assertGreaterEqual(gaps[0], 0.25)      # retry_base_ms 300
        self.assertGreaterEqual(gaps[1], 0.55)      # then 600
        self.assertLess(gaps[1], 5)
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.requests), 3)
        self.assertEqual(self.metric("mailverify_webhook_failures_total", fail0 + 2), fail0 + 2)
        log = self.worker.log()
        ev = got[0].headers["X-Mailverify-Event"]
        self.assertIn("event %s attempt 1 failed (HTTP 500); retry in 300 ms" % ev, log)
        self.assertIn("event %s attempt 2 failed (HTTP 503); retry in 600 ms" % ev, log)

    def test_receiver_down_then_up(self):
        fail0 = self.metric("mailverify_webhook_failures_total")
        self.receiver.stop()
        try:
            addr = self.address()
            self.pending(self.nginx, "/wh", addr)
            log = wait_log(self.worker, "attempt 3 failed", count=1, timeout=20)
            self.assertIn("attempt 3 failed", log)
        finally:
            self.receiver.start()
        got = self.receiver.wait(1, timeout=20)
        self.assertEqual(len(got), 1)
        body = self.assertSigned(got[0])
        self.assertEqual(body["verdict"]["address"], addr)
        time.sleep(1.0)
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertGreaterEqual(self.metric("mailverify_webhook_failures_total") - fail0, 3)

    def test_pass_through_pending_handed_on_and_webhook(self):
        """A legacy form whose address outruns the form's deadline: handed
        on untouched (fail open), and the final verdict goes to the webhook."""
        clear_records()
        addr = self.address()
        body = b"name=Jane&email=" + urllib.parse.quote(addr, safe="").encode()
        r = request(self.nginx.url("/wh/signup"), body, headers={"Content-Type": FORM})
        self.assertEqual(r.status, 201, r)
        self.assertGreaterEqual(r.seconds, 0.35)
        self.assertLess(r.seconds, 2.5)         # the deadline (0.4 s), not the tarpit (3 s)
        rec, = records()
        self.assertEqual(rec["body"].encode("latin-1"), body)
        self.assertNotIn("HTTP_X_MAILVERIFY", rec["env"])
        got = self.receiver.wait(1, timeout=20)
        self.assertEqual(len(got), 1)
        v = self.assertSigned(got[0])["verdict"]
        self.assertEqual((v["address"], v["reason"]), (addr, "accepted_email"))

    def test_many_pending_each_delivered_once(self):
        addrs = [self.address() for _ in range(6)]
        ts = [threading.Thread(target=self.pending, args=(self.nginx, "/wh", a)) for a in addrs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        got = self.receiver.wait(6, timeout=30)
        time.sleep(0.5)
        got = list(self.receiver.requests)
        self.assertEqual(sorted(json.loads(r.body)["verdict"]["address"] for r in got), sorted(addrs))
        self.assertEqual(len({r.headers["X-Mailverify-Event"] for r in got}), 6)


class TestWebhookCGI(WebhookBase, unittest.TestCase):
    """mailverify.fcgi as a CGI program (lighttpd mod_cgi): the process
    answers "pending" at once, and stays only to send the final verdict."""

    def test_pending_then_final_verdict(self):
        receiver = HTTPRecorder()
        server = None
        try:
            plugin = webhook_plugin("wc", "http://127.0.0.1:%d/hook" % receiver.port)
            server = started(Lighttpd(WORLD.path("webhook-lighttpd"), free_port(), {"wc": plugin}))
            addr = self.address()
            t0 = time.monotonic()
            r = http(server.url("/cgi-bin/wc.cgi/verify?email=" + urllib.parse.quote(addr, safe="")))
            answered = t0 + r.seconds
            self.assertIs(r.json()["pending"], True)
            got = receiver.wait(1, timeout=20)
            self.assertEqual(len(got), 1, server_logs(server))
            # the answer did not wait for the check (3 s for the banner)
            # nor for the webhook: the verdict came well after it
            self.assertGreater(got[0].mono - answered, 1.5, r.seconds)
            v = self.assertSigned(got[0])["verdict"]
            self.assertEqual((v["address"], v["reason"]), (addr, "accepted_email"))
            # an answer that was not pending: no webhook, and no lingering
            r = http(server.url("/cgi-bin/wc.cgi/verify?email=alice%40ok.test"))
            self.assertIs(r.json()["pending"], False)
            time.sleep(1.0)
            self.assertEqual(len(receiver.requests), 1)
        finally:
            if server is not None:
                server.stop()
                self.assertEqual(lighttpd_reports(server), [])
            receiver.stop()


class TestWebhookQueue(WebhookBase, unittest.TestCase):
    """The queue bound, the retry limit, and SIGTERM."""

    def setUp(self):
        self.dir = WORLD.path("webhook-%s" % self._testMethodName)
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()

    def start(self, name, url, **kw):
        kw["fastcgi"] = dict(kw.get("fastcgi") or {}, mount='"/x"')     # nginx's location /x/
        w = started(FcgiWorker(webhook_plugin(name, url, **kw), spawn=True, log_dir=self.dir))
        ng = started(Nginx(os.path.join(self.dir, "ng-" + name), free_port(), {"/x/": w.port}))
        self.procs += [w, ng]
        ready(ng, ["/x/"])
        return w, ng

    def burst(self, ng, n):
        addrs = [self.address() for _ in range(n)]
        ts = [threading.Thread(target=self.pending, args=(ng, "/x", a)) for a in addrs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return addrs

    def test_queue_bound_drops_oldest(self):
        port = free_port()      # nobody listens yet: every attempt refused
        w, ng = self.start("wq", "http://127.0.0.1:%d/hook" % port, max_queue=2, retries=50,
                           retry_base_ms=200)
        addrs = self.burst(ng, 5)
        log = wait_log(w, "queue full", count=2, timeout=20)
        time.sleep(0.5)
        receiver = HTTPRecorder(port=port)
        try:
            time.sleep(0.1)
            receiver.wait(5, timeout=8)
            time.sleep(1.0)
            got = list(receiver.requests)
            log = w.log()
            dropped = re.findall(r"queue full \(2 events\): dropped the oldest, event ([0-9a-f]{32})", log)
            delivered = [r.headers["X-Mailverify-Event"] for r in got]
            self.assertGreaterEqual(len(dropped), 2, log)
            self.assertEqual(set(dropped) & set(delivered), set())
            self.assertEqual(len(set(dropped)) + len(set(delivered)), 5, (dropped, delivered, log))
            self.assertEqual(len(delivered), len(set(delivered)), "delivered twice")
            got_addrs = [json.loads(r.body)["verdict"]["address"] for r in got]
            self.assertTrue(set(got_addrs) <= set(addrs))
            for r in got:
                self.assertSigned(r)
            m = metrics(ng.url("/x/metrics"))
            self.assertEqual(m["mailverify_webhook_deliveries_total"], len(delivered))
            self.assertGreaterEqual(m["mailverify_webhook_failures_total"], 3)
        finally:
            receiver.stop()
        stop_clean(self, w)

    def test_secrets_stay_out_of_logs(self):
        """Issue 13: a failing webhook POST and a failing pass-through
        upstream, both with credentials and a token in their URLs: the
        worker's log names them masked, never the secrets."""
        hook = "https://bob:hunter2@127.0.0.1:%d/hook?token=t0ken-value" % free_port()
        upstream = "http://carol:pa55-carol@127.0.0.1:%d/form?key=k3y-value" % free_port()
        w, ng = self.start("wsec", hook, retries=1, retry_base_ms=100,
                           fastcgi={"pass_through": '"%s"' % upstream})
        self.pending(ng, "/x", self.address())
        r = request(ng.url("/x/signup"), b"email=alice%40ok.test", headers={"Content-Type": FORM})
        self.assertEqual(r.status, 502, r)
        log = wait_log(w, "dropped after 2 attempts")
        self.assertIn("attempt 1 failed", log)
        self.assertIn("http://***@127.0.0.1:", log)         # the upstream, recognisable
        self.assertIn("/form?key=***", log)
        stop_clean(self, w)
        log = w.log()
        for secret in ("hunter2", "t0ken-value", "pa55-carol", "k3y-value", SECRET):
            self.assertNotIn(secret, log)

    def test_retries_exhausted_logged(self):
        receiver = HTTPRecorder(lambda rec: (500, [], b"no\n"))
        try:
            w, ng = self.start("wr", "http://127.0.0.1:%d/hook" % receiver.port, retries=2,
                               retry_base_ms=100)
            self.pending(ng, "/x", self.address())
            got = receiver.wait(3, timeout=20)
            time.sleep(1.0)
            self.assertEqual(len(receiver.requests), 3)     # 1 + 2 retries, then no more
            ev = got[0].headers["X-Mailverify-Event"]
            log = wait_log(w, "dropped after 3 attempts")
            self.assertIn("event %s dropped after 3 attempts (HTTP 500)" % ev, log)
            m = metrics(ng.url("/x/metrics"))
            self.assertEqual((m["mailverify_webhook_failures_total"], m["mailverify_webhook_deliveries_total"]),
                             (3, 0))
        finally:
            receiver.stop()
        stop_clean(self, w)

    def test_timeout_is_a_failure(self):
        # the receiver answers after 2 s; webhook.timeout_ms is 1000: retried
        n = []

        def answer(rec):
            n.append(1)
            if len(n) == 1:
                return ("sleep", 2.0, (200, [], b"late\n"))
            return (200, [], b"ok\n")
        receiver = HTTPRecorder(answer)
        try:
            w, ng = self.start("wt", "http://127.0.0.1:%d/hook" % receiver.port)
            self.pending(ng, "/x", self.address())
            got = receiver.wait(2, timeout=20)
            self.assertEqual(len(got), 2)
            self.assertEqual(got[0].headers["X-Mailverify-Event"], got[1].headers["X-Mailverify-Event"])
            self.assertRegex(wait_log(w, "attempt 1 failed"), r"attempt 1 failed \(.*timed out after 1\d\d\d milliseconds")
        finally:
            receiver.stop()
        stop_clean(self, w)

    def test_sigterm_delivers_queue(self):
        """Events in backoff (retry_base_ms 60 s) and one still in the
        engine at SIGTERM: all delivered within the grace period, exit 0."""
        state = {"code": 503}
        receiver = HTTPRecorder(lambda rec: (state["code"], [], b"\n"))
        try:
            w, ng = self.start("ws", "http://127.0.0.1:%d/hook" % receiver.port, retry_base_ms=60000)
            addrs = self.burst(ng, 3)
            wait_log(w, "attempt 1 failed", count=3, timeout=20)
            self.assertEqual(len(receiver.requests), 3)
            state["code"] = 200
            last = self.address()
            self.pending(ng, "/x", last)            # its probe still waits for the banner
            t0 = time.monotonic()
            rc, log = stop_clean(self, w)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0)
            self.assertLess(took, 5.0 + 3.0, log)       # the grace (5 s), the probe's banner (3 s)
            ok = [r for r in receiver.requests if r.headers.get("X-Mailverify-Timestamp") and
                  r.mono >= t0]
            verdicts = {json.loads(r.body)["verdict"]["address"]: json.loads(r.body)["verdict"] for r in ok}
            self.assertEqual(sorted(verdicts), sorted(addrs + [last]), log)
            for a in addrs:
                self.assertEqual(verdicts[a]["reason"], "accepted_email")
            # the check still running at SIGTERM is not waited for: it goes as unknown/timeout
            self.assertEqual((verdicts[last]["status"], verdicts[last]["reason"]), ("unknown", "timeout"))
            self.assertNotIn("dropped", log)
            self.assertNotIn("not delivered", log)
        finally:
            receiver.stop()

    def test_sigterm_receiver_down_logged(self):
        """Nothing can be delivered: the worker still exits within the
        grace period, and every lost event is logged with its id."""
        port = free_port()
        w, ng = self.start("wd", "http://127.0.0.1:%d/hook" % port, retry_base_ms=60000)
        self.burst(ng, 2)
        wait_log(w, "attempt 1 failed", count=2, timeout=20)
        ids = re.findall(r"event ([0-9a-f]{32}) attempt 1 failed", w.log())
        t0 = time.monotonic()
        rc, log = stop_clean(self, w)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 7.0)
        for ev in ids:
            self.assertRegex(log, r"event %s (dropped after \d+ attempts .*at shutdown|not delivered at shutdown)" % ev)


if __name__ == "__main__":
    unittest.main()
