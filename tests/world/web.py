#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""web.py - mailverify.fcgi behind real web servers, inside the test world.

    with World(dir) as w:
        a = Plugin(w, "a", {"fastcgi": {"ip_rate": "0"}})   # a config file
        fa = FcgiWorker(a, port, spawn=True)   # spawn-fcgi -n ... -- mailverify.fcgi -c A
        fb = FcgiWorker(b, port2)              # mailverify.fcgi -s 127.0.0.1:PORT2 -c B
        ng = Nginx(w.path("nginx"), 8080, {"/a/": fa.port, "/b/": fb.port})
        lt = Lighttpd(w.path("lighttpd"), 8081, {"a": a, "b": b})   # mod_cgi
        bb = BusyboxHttpd(w.path("busybox"), 8082, {"a": a})        # busybox httpd
        status, headers, body = http(ng.url("/a/verify?email=x"))

Plugin(world, name, groups) writes WORKDIR/NAME.conf: dns aimed at the
world's unbound, probes to private (loopback) targets allowed, then the
given groups (a dict of group -> {key: already-quoted value}; nested
groups such as context.form as "context": {"form": "{ deadline_ms = 500; }"}).
Its fastcgi.mount is "/NAME" unless given: the endpoints are exact paths
under the mount, so nginx's location for config NAME is /NAME/.

Nginx(dir, port, locations, static=None): nginx in the foreground
(`-e stderr -p DIR -c DIR/nginx.conf -g "daemon off;"`), every temp path
under DIR, listening on 127.0.0.1:PORT; each location prefix is
fastcgi_pass'ed with /etc/nginx/fastcgi_params to its port; `static`
(name -> bytes) are files served from DIR/www. keepalive=True: each
port through an upstream with `keepalive 16` and fastcgi_keep_conn on (the
worker keeps its FastCGI connections open), not in the README's set-up.

The CGI servers run the binary in CGI mode through a two-line wrapper in
their cgi-bin (`exec mailverify.fcgi -c NAME.conf`): a CGI program gets no
arguments from the server, and the binary has no other way to be told its
configuration. The URL of config NAME is /cgi-bin/NAME.cgi/verify (a CGI
program's endpoints are its PATH_INFO; the mount is not used).

Every process is its own process group, stopped (SIGTERM, then SIGKILL
after 5 s) by stop(); logs in DIR/*.log.
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

FCGI_BIN = os.path.abspath(os.environ.get("MAILVERIFY_FCGI", "build/mailverify.fcgi"))


def free_port():
    """A TCP port nothing listens on (the namespace is ours alone)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=30.0, what="server"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise RuntimeError("%s: nothing listens on 127.0.0.1:%d" % (what, port))
        time.sleep(0.02)


class Proc:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, argv, log_path, env=None, preexec=None):
        self.log_path = log_path
        self.logf = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, env=env, start_new_session=True,
                                     preexec_fn=preexec)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL; the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)     # and anything it left
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.logf.close()
        self.proc = None
        return rc

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def _group(name, settings):
    body = "".join("  %s = %s;\n" % kv for kv in settings.items())
    return "%s = {\n%s};\n" % (name, body)


class Plugin:
    """A configuration file for mailverify.fcgi aimed at the world."""

    def __init__(self, world, name, groups=None):
        groups = dict(groups or {})
        base = {
            "dns": {"servers": '"127.0.0.1"', "timeout_ms": "1000", "tries": "1"},
            "smtp": {"allow_private_targets": "true"},
            "fastcgi": {"mount": '"/%s"' % name},
        }
        for g, kv in base.items():
            groups[g] = dict(kv, **groups.get(g, {}))
        self.name = name
        self.path = world.path(name + ".conf")
        self.text = "".join(_group(g, kv) for g, kv in groups.items())
        with open(self.path, "w") as f:
            f.write(self.text)


class FcgiWorker(Proc):
    """mailverify.fcgi as a FastCGI worker: started by spawn-fcgi (-n: it
    execs the worker, which inherits the listening socket as stdin), by
    systemd-socket-activate (spawn="systemd": the socket as fd 3 with
    LISTEN_FDS=1 and LISTEN_PID, exactly as a systemd .socket unit passes
    it), or on its own socket (-s 127.0.0.1:PORT)."""

    def __init__(self, plugin, port=None, spawn=True, threads=None, preexec=None,
                 binary=None, log_dir=None):
        self.port = port or free_port()
        self.plugin = plugin
        binary = binary or FCGI_BIN
        argv = [binary, "-c", plugin.path] + (["-t", str(threads)] if threads else [])
        if spawn == "systemd":
            argv = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % self.port] + argv
        elif spawn:
            argv = ["spawn-fcgi", "-n", "-a", "127.0.0.1", "-p", str(self.port), "--"] + argv
        else:
            argv += ["-s", "127.0.0.1:%d" % self.port]
        log = os.path.join(log_dir or os.path.dirname(plugin.path),
                           "fcgi-%s-%d.log" % (plugin.name, self.port))
        env = {k: v for k, v in os.environ.items() if k != "GATEWAY_INTERFACE"}
        super().__init__(argv, log, env=env, preexec=preexec)
        wait_port(self.port, self.proc, what="mailverify.fcgi (%s)" % plugin.name)


NGINX_CONF = """\
worker_processes %(workers)s;
pid %(dir)s/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    types { application/json json; text/html html; application/javascript js; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%(port)d;
        root %(dir)s/www;
%(locations)s    }
}
"""


class Nginx(Proc):
    def __init__(self, dir, port, locations, static=None, workers=1, keepalive=False):
        os.makedirs(os.path.join(dir, "www"), exist_ok=True)
        self.dir, self.port = dir, port
        locs = ""
        for prefix, fport in locations.items():
            locs += ("        location %s {\n"
                     "            include /etc/nginx/fastcgi_params;\n%s"
                     "            fastcgi_pass %s;\n"
                     "        }\n" % (prefix,
                                      "            fastcgi_keep_conn on;\n" if keepalive else "",
                                      "mv_%d" % fport if keepalive else "127.0.0.1:%d" % fport))
        conf = NGINX_CONF % {"dir": dir, "port": port, "locations": locs, "workers": workers}
        if keepalive:
            ups = "".join("    upstream mv_%d { server 127.0.0.1:%d; keepalive 16; }\n"
                          % (p, p) for p in set(locations.values()))
            conf = conf.replace("    server {", ups + "    server {", 1)
        for name, data in (static or {}).items():
            with open(os.path.join(dir, "www", name), "wb") as f:
                f.write(data)
        with open(os.path.join(dir, "nginx.conf"), "w") as f:
            f.write(conf)
        super().__init__(["nginx", "-e", "stderr", "-p", dir, "-c", os.path.join(dir, "nginx.conf"),
                          "-g", "daemon off; user root;"], os.path.join(dir, "nginx.log"))
        wait_port(port, self.proc, what="nginx")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def _cgi_bin(dir, plugins, binary):
    """DIR/cgi-bin/NAME.cgi for each config: exec the binary with it. A
    value may be (plugin, shell line) to run that line first (ulimit ...)."""
    cgi = os.path.join(dir, "cgi-bin")
    os.makedirs(cgi, exist_ok=True)
    for name, plugin in plugins.items():
        pre = ""
        if isinstance(plugin, tuple):
            plugin, pre = plugin[0], plugin[1] + "\n"
        p = os.path.join(cgi, name + ".cgi")
        with open(p, "w") as f:
            f.write("#!/bin/sh\n%sexec %s -c %s\n" % (pre, binary or FCGI_BIN, plugin.path))
        os.chmod(p, 0o755)
    return cgi


LIGHTTPD_CONF = """\
server.document-root = "%(dir)s/www"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(dir)s/error.log"
server.pid-file = "%(dir)s/lighttpd.pid"
server.upload-dirs = ( "%(dir)s" )
server.modules = ( "mod_alias", "mod_cgi" )
alias.url = ( "/cgi-bin/" => "%(dir)s/cgi-bin/" )
$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( ".cgi" => "" ) }
"""


class Lighttpd(Proc):
    """lighttpd with mod_cgi in front of the binary in CGI mode."""

    def __init__(self, dir, port, plugins, binary=None):
        os.makedirs(os.path.join(dir, "www"), exist_ok=True)
        self.dir, self.port = dir, port
        _cgi_bin(dir, plugins, binary)
        conf = os.path.join(dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(LIGHTTPD_CONF % {"dir": dir, "port": port})
        super().__init__(["lighttpd", "-D", "-f", conf], os.path.join(dir, "lighttpd.log"))
        wait_port(port, self.proc, what="lighttpd")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


class BusyboxHttpd(Proc):
    """busybox httpd (-f, foreground) with the wrappers in DIR/www/cgi-bin."""

    def __init__(self, dir, port, plugins, binary=None):
        www = os.path.join(dir, "www")
        os.makedirs(www, exist_ok=True)
        self.dir, self.port = dir, port
        _cgi_bin(www, plugins, binary)
        super().__init__(["busybox", "httpd", "-f", "-vv", "-p", "127.0.0.1:%d" % port, "-h", www],
                         os.path.join(dir, "busybox.log"))
        wait_port(port, self.proc, what="busybox httpd")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


class Response:
    def __init__(self, status, headers, body, seconds):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<%d %r %r>" % (self.status, dict(self.headers), self.body[:300])


def http(url, data=None, method=None, headers=None, timeout=30):
    """One request; a Response whatever the status (no exception for 4xx/5xx)."""
    if isinstance(data, str):
        data = data.encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read(), time.monotonic() - t0)
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read(), time.monotonic() - t0)


def metrics(url):
    """GET /metrics as {'name{labels}': value}."""
    r = http(url)
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


# ---- for test_webhook_pass: requests as sent, small HTTP servers in the test

def request(url, body=None, method=None, headers=None, timeout=60):
    """One request with http.client: the headers exactly as given (a forged
    X-Mailverify too), no redirect followed, every header of the answer
    kept (Response.headers.get_all("Set-Cookie"))."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    if isinstance(body, str):
        body = body.encode()
    t0 = time.monotonic()
    try:
        c.request(method or ("GET" if body is None else "POST"),
                  u.path + ("?" + u.query if u.query else ""), body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return Response(r.status, r.headers, data, time.monotonic() - t0)
    finally:
        c.close()


class Recorded:
    """One request an HTTPRecorder received."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.time = time.time()
        self.mono = time.monotonic()

    def __repr__(self):
        return "<%s %s %r>" % (self.method, self.path, self.body[:200])


class HTTPRecorder:
    """A small HTTP/1.0 server on 127.0.0.1:PORT in a thread of the test:
    it records every request and answers what answer(recorded) returns:
    (status, [(name, value)...], body), b"raw bytes" written as they are,
    "close" (the connection closed unanswered) or ("sleep", seconds, then
    one of those). stop() closes the port; start() opens it again (the same
    port): a receiver that is down for a while."""

    def __init__(self, answer=None, port=None):
        import threading
        self.port = port or free_port()
        self.answer = answer or (lambda rec: (200, [("Content-Type", "text/plain")], b"ok\n"))
        self.requests = []
        self.cv = threading.Condition()
        self.server = None
        self.start()

    def start(self):
        import http.server
        import threading
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                r = Recorded(self.command, self.path, self.headers, body)
                with rec.cv:
                    rec.requests.append(r)
                    rec.cv.notify_all()
                a = rec.answer(r)
                if isinstance(a, tuple) and a[0] == "sleep":
                    time.sleep(a[1])
                    a = a[2]
                if a == "close":
                    self.close_connection = True
                    return
                if isinstance(a, bytes):
                    self.wfile.write(a)
                    self.close_connection = True
                    return
                status, hdrs, data = a
                self.send_response(status)
                for k, v in hdrs:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                import sys
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)   # a client gone: not news

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait(self, n, timeout=20.0, pred=None):
        """Until n requests (matching pred) were received; them (maybe fewer, on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = [r for r in self.requests if pred is None or pred(r)]
                left = deadline - time.monotonic()
                if len(got) >= n or left <= 0:
                    return got
                self.cv.wait(left)


def wait_log(proc, text, count=1, timeout=20.0):
    """Until proc's log holds text count times; the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = proc.log()
        if log.count(text) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


SANITIZER_WORDS = ("Sanitizer", "runtime error:", "LeakSanitizer", "AddressSanitizer")


def sanitizer_reports(text):
    """The lines of a log that ASan/UBSan/LSan wrote (none for a clean run)."""
    return [line for line in text.splitlines() if any(w in line for w in SANITIZER_WORDS)]
