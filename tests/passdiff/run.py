#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""run.py - the pass-through differential test: does any legacy handler
behind mailverify.fcgi's pass-through read an address the plugin did not
verify and allow?

    MAILVERIFY_FCGI=build/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/passdiff/run.py
        [--mutations N] [--seed S] [--fuzz SECONDS] [--found DIR] [-v]

The world of tests/world (DNS: ok.test accepting, mailinator.com
disposable) and nginx -> mailverify.fcgi (pass_through = "cgi:WRAPPER",
pass_fields = email, contact_email) -> handlers/wrapper.sh, which runs
three real handlers on the same body and CGI environment: Python's
cgi.FieldStorage, Perl's CGI.pm and PHP (php-cgi). Each writes every value
it read for each pass field; the wrapper logs "ran CASE" (from the X-Case
header) before running them and saves their outputs in RESULTS/CASE.

The property, per case: every non-empty value any handler read for a pass
field was verified and allowed; otherwise the handler never ran. It is
checked without the plugin's verdict on the case: each value read is put
to the plugin's own /verify as JSON ({"email": value}: no form parsing),
answers cached; a value is smuggled if the action is "block", or if
/verify refuses it (4xx). "Ran" is read from the wrapper's log, never from
the status code.

So that the test means something:
  1. the hostile corpus (corpus.HOSTILE) goes to the wrapper directly,
     without the plugin: a large share of the cases must deliver a blocked
     value to some handler (MIN_HOSTILE_SHARE), or the corpus is not hostile;
  2. the legitimate bodies (corpus.LEGIT: browser and curl forms with good
     addresses) must reach all three handlers through the plugin with
     exactly the expected values: a plugin refusing everything fails.
Then the hostile corpus and --mutations seeded mutations of it (mutate.py)
go through the plugin. Exit status 1 if anything was smuggled (or 1./2.
fail). Every smuggled case (id, class, handler, field, value) is written to
/tmp/passdiff-smuggled.txt (PASSDIFF_SMUGGLED overrides).

--fuzz SECONDS (make fuzz-pass): after the legitimate bodies (2.), instead
of the corpus, mutate for that long (seed: the time unless --seed) against
the same handlers and write every smuggling case to --found (default
tests/passdiff/found/, one JSON file per case: the case, the body as
latin-1 text, what was read); prints cases tried and smuggled.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import http.client as httpclient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "world"))
import corpus  # noqa: E402
import mutate  # noqa: E402
from world import World  # noqa: E402
from web import Plugin, FcgiWorker, Nginx, free_port, http  # noqa: E402

HANDLERS = ("python", "perl", "php")
MIN_HOSTILE_SHARE = 0.5         # of the hostile corpus, delivering a blocked value without the plugin
CLIENTS = 3                     # requests in flight (2 cores: the handlers are the cost)
SMUGGLED_OUT = os.environ.get("PASSDIFF_SMUGGLED", "/tmp/passdiff-smuggled.txt")


class Rig:
    """The world, the wrapper and its handlers, mailverify.fcgi and nginx."""

    def __init__(self, tmp, verbose=False):
        self.tmp, self.verbose = tmp, verbose
        self.world = World(os.path.join(tmp, "world"))
        self.procs = []
        self.cache, self.lock = {}, threading.Lock()

    def start(self):
        os.chmod(self.tmp, 0o755)           # Postfix wants to reach its directories
        self.world.start()
        hdir = os.path.join(self.tmp, "handlers")
        shutil.copytree(os.path.join(HERE, "handlers"), hdir)
        self.log = os.path.join(self.tmp, "ran.log")
        self.results = os.path.join(self.tmp, "results")
        os.makedirs(self.results)
        open(self.log, "w").close()
        self.wrapper = os.path.join(hdir, "wrapper.sh")
        with open(self.wrapper) as f:
            text = f.read()
        text = (text.replace("@LOG@", self.log).replace("@FIELDS@", ",".join(corpus.PASS_FIELDS))
                .replace("@RESULTS@", self.results))
        with open(self.wrapper, "w") as f:
            f.write(text)
        fields = "[ %s ]" % ", ".join('"%s"' % f for f in corpus.PASS_FIELDS)
        plugin = Plugin(self.world, "pd", {"fastcgi": {
            "ip_rate": "0", "pass_through": '"cgi:%s"' % self.wrapper, "pass_fields": fields}})
        d = self.world.path("passdiff")
        os.makedirs(d, exist_ok=True)
        self.worker = FcgiWorker(plugin, spawn=True, threads=4, log_dir=d)
        self.procs.append(self.worker)
        self.nginx = Nginx(d, free_port(), {"/pd/": self.worker.port})
        self.procs.append(self.nginx)
        r = http(self.nginx.url("/pd/healthz"))
        if r.status != 200:
            raise RuntimeError("healthz: %r" % r)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.world.stop()

    # ---- sending a case

    def send(self, c, cid):
        """The case through nginx and the plugin; the status (0: no answer)."""
        conn = httpclient.HTTPConnection("127.0.0.1", self.nginx.port, timeout=60)
        url = "/pd/signup" + ("?" + c["query"] if c["query"] else "")
        h = {"X-Case": cid}
        if c["ctype"] is not None:
            h["Content-Type"] = c["ctype"]
        h.update(c["headers"])
        try:
            body = c["body"]
            if not body and c["method"] in ("GET", "HEAD"):
                body = None
            conn.request(c["method"], url, body=body, headers=h)
            r = conn.getresponse()
            r.read()
            return r.status
        except (OSError, httpclient.HTTPException):
            return 0
        finally:
            conn.close()

    def direct(self, c, cid):
        """The case straight to the wrapper as a web server would run it (no plugin)."""
        env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
               "REQUEST_METHOD": c["method"], "QUERY_STRING": c["query"], "SCRIPT_NAME": "/signup",
               "REQUEST_URI": "/signup" + ("?" + c["query"] if c["query"] else ""), "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "HTTP_X_CASE": cid}
        # as nginx passes them: an absent type is an empty CONTENT_TYPE
        env["CONTENT_TYPE"] = c["ctype"] if c["ctype"] is not None else ""
        if c["body"] or c["method"] not in ("GET", "HEAD"):
            env["CONTENT_LENGTH"] = str(len(c["body"]))
        for k, v in c["headers"].items():
            env["HTTP_" + k.upper().replace("-", "_")] = v
        subprocess.run([self.wrapper], input=c["body"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    def env_key(self, c):
        """What the wrapper's CASE.env says for this case run directly."""
        length = str(len(c["body"])) if c["body"] or c["method"] not in ("GET", "HEAD") else "(unset)"
        return "method=%s\nquery=%s\nctype=%s\ncookie=%s\nlength=%s\nbody=%s\n" % (
            c["method"], c["query"], c["ctype"] if c["ctype"] is not None else "",
            c["headers"].get("Cookie", "(unset)"), length, hashlib.sha256(c["body"]).hexdigest())

    def same_as_direct(self, c, cid):
        """Did the handlers get, through the plugin, exactly what a direct run gives them?"""
        p = os.path.join(self.results, cid + ".env")
        if not os.path.exists(p):
            return False
        with open(p, errors="surrogateescape") as f:
            return f.read() == self.env_key(c)

    def ran(self):
        """Case ids the wrapper logged, with how many times."""
        out = {}
        with open(self.log, errors="replace") as f:
            for line in f:
                if line.startswith("ran "):
                    k = line[4:].strip()
                    out[k] = out.get(k, 0) + 1
        return out

    def reads(self, cid):
        """{handler: {field: [value bytes]}} saved by the wrapper for the case, or None."""
        p = os.path.join(self.results, cid)
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            got = json.loads(f.read().decode("utf-8", "replace"))
        out = {}
        for h in got:
            out[h["handler"]] = {k: [bytes.fromhex(v) for v in vs] for k, vs in h.get("fields", {}).items()}
            if h.get("error") and self.verbose:
                print("  %s %s: %s" % (cid, h["handler"], h["error"]))
        return out

    # ---- the independent check of a value

    def allowed(self, value):
        """(allowed?, what /verify said) for one value a handler read, cached."""
        with self.lock:
            if value in self.cache:
                return self.cache[value]
        text = value.decode("utf-8", "replace")
        if "\0" in text:
            # a C string ends there: /verify would look at less than the handler got
            res = (False, "NUL in the value")
        else:
            body = json.dumps({"email": text}).encode()
            r = http(self.nginx.url("/pd/verify"), body, headers={"Content-Type": "application/json"})
            try:
                j = r.json()
            except ValueError:
                j = {}
            action = j.get("action")
            if r.status == 200 and action in ("accept", "warn"):
                res = (True, "%s:%s" % (j.get("status"), j.get("reason")))
            elif r.status == 200:
                res = (False, "%s %s:%s" % (action, j.get("status"), j.get("reason")))
            elif r.status == 503 or r.status >= 500:
                raise RuntimeError("/verify %r: %r" % (text, r))
            else:
                res = (False, "refused %d %s" % (r.status, j.get("error", "")))
        with self.lock:
            self.cache[value] = res
        return res


def nonempty(v):
    return v.strip(b" \t\r\n") != b""


def smuggled_reads(rig, reads):
    """[(handler, field, value, why)] of the values read that were not allowed."""
    out = []
    for h in HANDLERS:
        for field, vals in (reads or {}).get(h, {}).items():
            for v in dict.fromkeys(vals):
                if nonempty(v):
                    ok, why = rig.allowed(v)
                    if not ok:
                        out.append((h, field, v, why))
    return out


def pmap(fn, items, workers=CLIENTS):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


def run_direct(rig, cases, prefix):
    """Phase 1: the hostile corpus without the plugin; the cases delivering a
    blocked value, and how many were run (a case the plugin handed on with
    the same bytes and variables has the reads of that run: the handlers
    are deterministic, and running them again would cost CPU for nothing)."""
    run = []
    ids = {}
    for c in cases:
        pid = "%s.%s" % (prefix, c["id"])
        if rig.same_as_direct(c, pid):
            ids[c["id"]] = pid
        else:
            ids[c["id"]] = "direct." + c["id"]
            run.append(c)
    pmap(lambda c: rig.direct(c, "direct." + c["id"]), run)
    delivered = [c for c in cases if smuggled_reads(rig, rig.reads(ids[c["id"]]))]
    return delivered, len(run)


def run_plugin(rig, cases, prefix):
    """Through the plugin; [(case, status, ran count, reads, smuggled reads)]."""
    ids = ["%s.%s" % (prefix, c["id"]) for c in cases]
    statuses = pmap(lambda ci: rig.send(ci[0], ci[1]), list(zip(cases, ids)))
    ran = rig.ran()
    out = []
    for c, cid, st in zip(cases, ids, statuses):
        n = ran.get(cid, 0)
        reads = rig.reads(cid) if n else None
        out.append((c, st, n, reads, smuggled_reads(rig, reads) if n else []))
    return out


def show(v, n=80):
    s = repr(v)[2:-1]
    return s if len(s) <= n else s[:n] + "..."


def check_legit(results):
    """Failures: a legitimate body not handed on, or read other than expected."""
    bad = []
    for c, st, n, reads, smug in results:
        if n != 1 or reads is None:
            bad.append("%s: not handed on (status %d, ran %d times)" % (c["id"], st, n))
            continue
        for h in HANDLERS:
            for f, want in c.get("expect_" + h, c["expect"]).items():
                got = [v.decode("utf-8", "replace") for v in dict.fromkeys(reads.get(h, {}).get(f, [])) if nonempty(v)]
                if got != want:
                    bad.append("%s: %s read %s=%r, not %r" % (c["id"], h, f, got, want))
    return bad


def case_json(c):
    d = dict(c)
    d["body"] = c["body"].decode("latin-1")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutations", type=int, default=int(os.environ.get("PASSDIFF_MUTATIONS", "200")))
    ap.add_argument("--seed", type=int, default=os.environ.get("PASSDIFF_SEED"),
                    help="the mutator's seed (default 1; with --fuzz, the time)")
    ap.add_argument("--fuzz", type=float, default=0,
                    help="seconds of mutation (after the legitimate bodies, instead of the corpus)")
    ap.add_argument("--found", default=os.path.join(HERE, "found"))
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = int(time.time()) if a.fuzz > 0 else 1
    a.seed = int(a.seed)

    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="mv-passdiff-")
    rig = Rig(tmp, a.verbose)
    failures = []
    times = {}
    try:
        rig.start()
        times["start"] = time.monotonic() - t0

        # 2. legitimate bodies through the plugin (first: a broken rig shows at once)
        t = time.monotonic()
        legit = run_plugin(rig, corpus.LEGIT, "legit")
        bad = check_legit(legit)
        times["legit"] = time.monotonic() - t
        print("legit: %d bodies x %d handlers through the plugin, %d failures"
              % (len(corpus.LEGIT), len(HANDLERS), len(bad)))
        for b in bad:
            print("  LEGIT FAIL " + b)
        failures += ["legit: " + b for b in bad]

        rng = random.Random(a.seed)
        results = []
        if a.fuzz <= 0:
            # 3. the hostile corpus and its mutations through the plugin
            t = time.monotonic()
            muts = mutate.mutations(corpus.HOSTILE + corpus.LEGIT, a.mutations, rng, "mut%d" % a.seed)
            hostile = run_plugin(rig, corpus.HOSTILE + muts, "pass")
            times["plugin"] = time.monotonic() - t
            results = hostile

            # 1. (after 3.: it reuses its runs) the hostile corpus without the plugin
            t = time.monotonic()
            delivered, nrun = run_direct(rig, corpus.HOSTILE, "pass")
            share = len(delivered) / len(corpus.HOSTILE)
            times["direct"] = time.monotonic() - t
            print("without the plugin: %d of %d hostile cases (%.0f%%) deliver a blocked value to a handler "
                  "(%d run directly, the others' reads taken from their unchanged hand-on)"
                  % (len(delivered), len(corpus.HOSTILE), 100 * share, nrun))
            if share < MIN_HOSTILE_SHARE:
                failures.append("the corpus is not hostile enough: %.0f%% < %.0f%%" % (100 * share, 100 * MIN_HOSTILE_SHARE))

        fuzz_tried = fuzz_found = 0
        if a.fuzz > 0:
            t = time.monotonic()
            os.makedirs(a.found, exist_ok=True)
            n = 0
            while time.monotonic() - t < a.fuzz:
                batch = mutate.mutations(corpus.HOSTILE + corpus.LEGIT, 30, rng, "fz%d-%d" % (a.seed, n))
                n += 1
                res = run_plugin(rig, batch, "fuzz")
                fuzz_tried += len(res)
                for c, st, cnt, reads, smug in res:
                    if smug:
                        fuzz_found += 1
                        with open(os.path.join(a.found, c["id"] + ".json"), "w") as f:
                            json.dump({"case": case_json(c), "status": st,
                                       "smuggled": [[h, fl, v.decode("latin-1"), why] for h, fl, v, why in smug]},
                                      f, indent=1)
                results = results + res
            times["fuzz"] = time.monotonic() - t
            print("fuzz (seed %d): %d cases tried in %.0f s, %d smuggled (written to %s)"
                  % (a.seed, fuzz_tried, times["fuzz"], fuzz_found, a.found))

        # the figures
        tried = len(results)
        handed = sum(1 for r in results if r[2] > 0)
        refused = sum(1 for r in results if r[2] == 0)
        smuggled = [r for r in results if r[4]]
        statuses = {}
        for r in results:
            statuses[r[1]] = statuses.get(r[1], 0) + 1
        print("through the plugin: %d bodies x %d handlers = %d tried; handed on %d, refused %d (statuses %s), "
              "smuggled %d" % (tried, len(HANDLERS), tried * len(HANDLERS), handed, refused,
                               ", ".join("%d: %d" % kv for kv in sorted(statuses.items())), len(smuggled)))
        by_cls = {}
        lines = []
        for c, st, n, reads, smug in smuggled:
            by_cls[c["cls"]] = by_cls.get(c["cls"], 0) + 1
            for h, f, v, why in smug:
                lines.append("%s\t%s\tstatus %d\t%s\t%s\t%s\t%s" % (c["id"], c["cls"], st, h, f, show(v, 200), why))
        with open(SMUGGLED_OUT, "w") as f:
            f.write("# case\tclass\tstatus\thandler\tfield\tvalue read\t/verify said\n")
            f.write("".join(line + "\n" for line in lines))
        if smuggled:
            print("SMUGGLED (%d cases; by class: %s); all in %s:" % (
                len(smuggled), ", ".join("%s %d" % kv for kv in sorted(by_cls.items(), key=lambda kv: -kv[1])),
                SMUGGLED_OUT))
            for c, st, n, reads, smug in smuggled[:150]:
                print("  %s [%s] %d: %s" % (c["id"], c["cls"], st, "; ".join(
                    "%s read %s=%s" % (h, f, show(v, 60)) for h, f, v, why in smug[:4])
                    + ("; ..." if len(smug) > 4 else "")))
            if len(smuggled) > 150:
                print("  ... %d more in %s" % (len(smuggled) - 150, SMUGGLED_OUT))
            failures.append("%d cases smuggled a value past the plugin" % len(smuggled))
        odd = ["%s (%d)" % (r[0]["id"], r[1]) for r in results if r[2] > 0 and r[1] in (400, 413, 422)]
        if odd:
            failures.append("the handler ran although the plugin answered with an error: %s" % odd[:10])
        twice = [r[0]["id"] for r in results if r[2] > 1]
        if twice:
            failures.append("the handler ran more than once for %s" % twice[:10])
    finally:
        try:
            rig.stop()
        finally:
            if os.environ.get("MV_KEEP"):
                print("kept", tmp, file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    times["total"] = time.monotonic() - t0
    print("time: %s; /verify answers cached: %d" % (
        ", ".join("%s %.1f s" % kv for kv in times.items()), len(rig.cache)))
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
