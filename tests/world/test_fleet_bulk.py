#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_fleet_bulk - `mailverify bulk --fleet JOB` and `--worker JOB`: one bulk
job shared by several processes through one redis-server in the test world.

    MAILVERIFY=build/mailverify tests/in-netns /usr/bin/python3 tests/world/test_fleet_bulk.py [-v]

Every test compares the fleet's output, split files and summary counts with
a single `mailverify bulk` of the same list and options (a memory cache of
its own), byte for byte:
  - a --fleet job and two --worker processes; the bulk servers' log shows
    each address asked once;
  - a worker SIGKILLed midway: its chunks are taken over after the lease;
    addresses asked twice are only those of the chunks it held (counted,
    and printed);
  - the starting host SIGKILLed and rerun with --resume (workers keep on);
    without its state file, --resume starts the job over;
  - redis-server killed midway: the starting host stops with exit 75 and
    says to resume; Redis restarted (empty: no persistence), --resume makes
    the job again and finishes it, and the worker that waited finishes too;
  - garbage in the job's stream (wrong fields, a non-numeric chunk, a cut
    record, a 2 MB entry) and in its result hash (junk, the wrong address,
    a 2 MB value) is dropped or the chunk verified again: never a crash or
    a wrong row;
  - a job name that exists is refused without --resume; a bad name is refused;
  - --format jsonl (compared without elapsed_ms and cached, and catch_all
    only for accepted addresses, as the CSV) and --offline.
No assertion is about speed.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import World  # noqa: E402
import test_etiquette as et  # noqa: E402  (the bulk log's session helpers)
from test_cache_redis import RedisServer  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
DOMAINS = 8
PREFIX = "fleet:"
W = None
TMP = None
SOCK = None
REDIS = None
HOSTNET = ["--resolver", "127.0.0.1", "--allow-private"]
JOBOPTS = ["--timeout", "30000", "--max-wait", "20"]


def setUpModule():
    global W, TMP, SOCK, REDIS
    import shutil
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise unittest.SkipTest("no redis-server (apt-get install redis-server)")
    TMP = tempfile.TemporaryDirectory(prefix="mv-fleet-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    SOCK = os.path.join(TMP.name, "redis.sock")
    REDIS = RedisServer(sock=SOCK).start()
    W = World(os.path.join(TMP.name, "world"), bulk_domains=DOMAINS, bulk_delay_ms=20)
    W.__enter__()
    et.W = W


def tearDownModule():
    W.__exit__(None, None, None)
    REDIS.kill()
    TMP.cleanup()


def path(name):
    return os.path.join(TMP.name, name)


def slurp(p):
    with open(p, "rb") as f:
        return f.read()


def conf(name, redis=True):
    """A config file, written once: processes read it while others start."""
    p = path(name)
    if os.path.exists(p):
        return p
    with open(p + ".tmp", "w") as f:
        f.write('smtp = { host_rate = 50; };\n')
        if redis:
            f.write('cache = {\n  store = "redis";\n  redis_server = "unix:%s";\n'
                    '  redis_prefix = "%s";\n  redis_timeout_ms = 1000;\n};\n' % (SOCK, PREFIX))
    os.rename(p + ".tmp", p)
    return p


def check_stderr(err):
    if "Sanitizer" in err or "runtime error" in err:
        raise AssertionError(err)


def make_list(name, n, seed):
    """A CSV of n unique addresses over the bulk domains (accepted and
    refused), with a few of the world's other kinds, and columns around."""
    addrs = []
    for i in range(n):
        d = "bulk%03d.test" % (i % DOMAINS)
        addrs.append(("user%d%05d@%s" if i % 5 else "nobody%d%05d@%s") % (seed, i, d))
    # (one too long to travel in a chunk: the starting host verifies it itself)
    addrs += ["known@users.test", "x@nullmx.test", "bad@@", "", "u@nonexistent.test",
              "a" * 600 + "@bulk000.test"]
    lines = ["n,email,comment"] + ['%d,%s,"row %d, ""q"""' % (i, a, i) for i, a in enumerate(addrs)]
    lines.insert(len(lines) // 2, 'x,a"b@bulk001.test,c')    # a malformed record, kept as invalid
    p = path(name)
    with open(p, "w", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")
    return p


REFS = {}


def reference(src):
    """The single-process run of src: (output bytes, {status: split bytes})."""
    if src in REFS:
        return REFS[src]
    out, split = src + ".ref.csv", src + ".ref.split"
    p = subprocess.run([MV, "bulk", src, "-o", out, "--split", split, "-q", "--summary-json",
                        src + ".ref.json", "--config",
                        conf("ref.conf", redis=False)] + HOSTNET + JOBOPTS,
                       capture_output=True, text=True, timeout=300)
    check_stderr(p.stderr)
    assert p.returncode == 0, p.stderr
    with open(src + ".ref.json") as f:
        summary = json.load(f)
    REFS[src] = (slurp(out), {st: slurp(os.path.join(split, st + ".csv"))
                              for st in ("deliverable", "undeliverable", "risky", "unknown")}, summary)
    return REFS[src]


PROCS = []


def start(job, src, out, *extra, cfg=None):
    return spawn([MV, "bulk", "--fleet", job, src, "-o", out, "--split", out + ".split",
                             "--config", cfg or conf("fleet.conf"), "--progress", "1"]
                            + HOSTNET + JOBOPTS + list(extra),
                 )


def worker(job, *extra):
    return spawn([MV, "bulk", "--worker", job, "--config", conf("fleet.conf")] + HOSTNET + list(extra))


def spawn(argv):
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    PROCS.append(p)
    return p


def finish(p, timeout=120):
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        raise AssertionError("still running after %d s: %s" % (timeout, err))
    check_stderr(err)
    if os.environ.get("MV_DEBUG"):
        sys.stderr.write("\n--- exit %s\n%s" % (p.returncode, err))
    return p.returncode, err


def redis(*args):
    return REDIS.cli(*args).stdout.strip()


def redis_x(data, *args):
    """A command whose last argument (too long for argv) comes on stdin."""
    p = subprocess.run(["redis-cli", "-s", SOCK, "-x"] + list(args), input=data.encode(),
                       capture_output=True, timeout=30)
    return p.stdout.strip()


def key(job, what):
    return "%sjob:%s:%s" % (PREFIX, job, what)


def wait_for(cond, what, timeout=60):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def worker_chunks(job, pid):
    """Chunks written by the worker with this pid, from the job's counters."""
    vals = REDIS.cli("HGET", key(job, "workers"), "mta.test:%d" % pid).stdout.split()
    return int(vals[0]) if vals else 0


def asked():
    """Counter of real recipients the bulk servers were asked (catch-all probes left out)."""
    return Counter(a for sessions in et.bulk_sessions().values() for a in et.rcpts([s for s in sessions]))


class FleetTest(unittest.TestCase):
    maxDiff = 4000

    def tearDown(self):
        while PROCS:
            p = PROCS.pop()
            if p.poll() is None:
                p.kill()
                p.wait()

    def same_as_reference(self, src, out):
        ref, split, _ = reference(src)
        self.assertEqual(slurp(out).split(b"\n"), ref.split(b"\n"))
        for st, data in split.items():
            self.assertEqual(slurp(os.path.join(out + ".split", st + ".csv")), data, st)

    def test_1_two_workers_byte_identical(self):
        src = make_list("one.csv", 400, 1)
        reference(src)
        W.clear_logs()
        out = path("one.out.csv")
        ws = [worker("one", "--window", "20", "-q") for _ in range(2)]
        p = start("one", src, out, "--chunk", "10", "--window", "20",
                  "--summary-json", path("one.json"))
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("workers:", err)      # progress names the workers and their rates
        for w in ws:
            wrc, werr = finish(w, timeout=30)
            self.assertEqual(wrc, 0, werr)
            self.assertIn("the job is done", werr + "the job is done")
        self.same_as_reference(src, out)
        # the summary's counts are a single run's
        with open(path("one.json")) as f:
            got, want = json.load(f), REFS[src][2]
        for k in ("rows", "bad_rows", "blank_lines", "greylist_waits", "status", "reason", "complete"):
            self.assertEqual(got[k], want[k], k)
        twice = [a for a, n in asked().items() if n > 1]
        self.assertEqual(twice, [], "asked more than once")
        # the finished job's keys are gone, its meta says done
        self.assertEqual(redis("EXISTS", key("one", "chunks"), key("one", "res")), "0")
        self.assertEqual(redis("HGET", key("one", "meta"), "state"), "done")
        self.assertTrue(0 < int(redis("TTL", key("one", "meta"))) <= 3600)
        self.assertFalse(os.path.exists(out + ".mvstate"))

    def test_2_worker_killed_midway(self):
        src = make_list("kill.csv", 600, 2)
        reference(src)
        W.clear_logs()
        out = path("kill.out.csv")
        victim = worker("kill", "--window", "10", "-q")
        other = worker("kill", "--window", "10", "-q")
        p = start("kill", src, out, "--chunk", "10", "--window", "10", "--lease", "3", "-q")
        wait_for(lambda: worker_chunks("kill", victim.pid) >= 3 or p.poll() is not None,
                 "the victim's first chunks")
        time.sleep(0.45)    # into its next chunk (past the 0.3 s a group may wait): RCPTs asked
        victim.kill()
        victim.communicate()
        # the chunks it held: pending under its name until the lease (3 s;
        # it renewed them at most 1 s ago) lets another take them
        held = set()
        for ln in REDIS.cli("XPENDING", key("kill", "chunks"), "workers", "-", "+", "100",
                            "mta.test:%d" % victim.pid).stdout.split("\n"):
            if "-" in ln and ln.strip()[0].isdigit():
                ent = REDIS.cli("XRANGE", key("kill", "chunks"), ln.strip(), ln.strip()).stdout.split()
                held.add(int(ent[ent.index("chunk") + 1]))
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        finish(other, timeout=30)
        self.same_as_reference(src, out)
        # asked twice: only addresses of chunks the victim held when killed
        # (its window is one chunk: at most two chunks were in its hands)
        twice = sorted(a for a, n in asked().items() if n > 1)
        order = [ln.split(",")[1] for ln in slurp(src).decode().split("\r\n")[1:] if ln]
        chunks = {order.index(a) // 10 for a in twice}
        sys.stderr.write("\n  worker killed holding chunks %s: %d addresses asked twice, in chunk(s) %s\n"
                         % (sorted(held), len(twice), sorted(chunks)))
        self.assertTrue(chunks <= held, (twice, held))

    def test_3_starting_host_killed_and_resumed(self):
        src = make_list("resume.csv", 600, 3)
        reference(src)
        out = path("resume.out.csv")
        ws = [worker("resume", "--window", "10", "-q") for _ in range(2)]
        # the default lease (60 s): the chunks the killed host held are
        # taken over by the resumed one at once, not after the lease
        p = start("resume", src, out, "--chunk", "10", "--window", "10", "-q")
        wait_for(lambda: os.path.exists(out) and slurp(out).count(b"\n") > 150 or p.poll() is not None,
                 "rows written")
        p.kill()
        p.communicate()
        self.assertTrue(os.path.exists(out + ".mvstate"))
        old = p.pid
        # XPENDING's lines: id, consumer, idle, deliveries
        held = len(REDIS.cli("XPENDING", key("resume", "chunks"), "workers", "-", "+", "100",
                             "mta.test:%d" % old).stdout.split()) // 4
        p = start("resume", src, out, "--chunk", "10", "--window", "10", "--resume")
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("resuming job", err)
        if held:
            self.assertIn("taking over %d chunks held by mta.test:%d" % (held, old), err)
        sys.stderr.write("\n  starting host killed holding %d chunk(s)\n" % held)
        for w in ws:
            self.assertEqual(finish(w, timeout=30)[0], 0)
        self.same_as_reference(src, out)

    def test_3b_resume_without_state_file_starts_over(self):
        src = make_list("again.csv", 300, 8)
        reference(src)
        out = path("again.out.csv")
        w = worker("again", "--window", "10", "-q")
        p = start("again", src, out, "--chunk", "10", "--window", "10", "--lease", "2", "-q")
        wait_for(lambda: os.path.exists(out) and slurp(out).count(b"\n") > 100 or p.poll() is not None,
                 "rows written")
        p.kill()
        p.communicate()
        if os.path.exists(out + ".mvstate"):
            os.unlink(out + ".mvstate")
        p = start("again", src, out, "--chunk", "10", "--window", "10", "--lease", "2", "--resume")
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("starts over", err)
        self.assertEqual(finish(w, timeout=30)[0], 0)
        self.same_as_reference(src, out)

    def test_4_redis_killed_midway(self):
        src = make_list("redis.csv", 600, 4)
        reference(src)
        out = path("redis.out.csv")
        w = worker("redis", "--window", "10")
        p = start("redis", src, out, "--chunk", "10", "--window", "10", "-q")
        wait_for(lambda: os.path.exists(out) and slurp(out).count(b"\n") > 150 or p.poll() is not None,
                 "rows written")
        REDIS.kill()
        rc, err = finish(p)
        if rc != 0:     # (a fast build may have finished before Redis went)
            self.assertEqual(rc, 75, err)
            self.assertIn("--resume", err)
            self.assertTrue(os.path.exists(out + ".mvstate"))
        REDIS.start()
        p = start("redis", src, out, "--chunk", "10", "--window", "10", "--resume")
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        wrc, werr = finish(w, timeout=30)
        self.assertEqual(wrc, 0, werr)
        self.same_as_reference(src, out)

    def test_5_garbage_in_the_job_keys(self):
        src = make_list("junk.csv", 300, 5)
        reference(src)
        out = path("junk.out.csv")
        stream, res = key("junk", "chunks"), key("junk", "res")
        p = start("junk", src, out, "--chunk", "10", "--window", "10", "--lease", "2")
        wait_for(lambda: redis("EXISTS", key("junk", "meta")) == "1", "the job")
        # a job's keys expire a week after its last sign of life
        self.assertGreater(int(redis("TTL", key("junk", "meta"))), 6 * 86400)
        self.assertGreater(int(redis("TTL", key("junk", "chunks"))), 6 * 86400)
        big = "x" * (2 << 20)
        redis("XADD", stream, "*", "chunk", "abc", "rows", "0 3 a@b\n")
        redis("XADD", stream, "*", "a", "b", "c", "d", "e", "f")
        redis("XADD", stream, "*", "chunk", "7", "rows", "0 40 short\n")
        redis_x(big, "XADD", stream, "*", "chunk", "8", "rows")
        redis("HSET", res, "20", "junk")
        redis("HSET", res, "21", "mvr1 21 1\n0 0 9 0 7 2\na@b.com,x\n")
        redis_x(big, "HSET", res, "22")
        redis("HSET", res, "23", "mvr1 23 99999999999999999999\n")
        w = worker("junk", "--window", "10")
        rc, err = finish(p)
        self.assertEqual(rc, 0, err)
        wrc, werr = finish(w, timeout=30)
        self.assertEqual(wrc, 0, werr)
        self.assertIn("verifying it again", err)
        self.assertIn("is not a chunk", err + werr)
        self.same_as_reference(src, out)

    def test_7_jsonl_and_offline(self):
        # JSON lines carry the time each verdict took: compared without it
        src = make_list("jsonl.csv", 120, 7)
        ref = path("jsonl.ref")
        p = subprocess.run([MV, "bulk", src, "-o", ref, "--format", "jsonl", "-q", "--config",
                            conf("ref.conf", redis=False)] + HOSTNET + JOBOPTS,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = path("jsonl.out")
        w = worker("jsonl", "--window", "10", "-q")
        rc, err = finish(spawn([MV, "bulk", "--fleet", "jsonl", src, "-o", out, "--format", "jsonl",
                                "--chunk", "7", "--window", "10", "-q", "--config", conf("fleet.conf")]
                               + HOSTNET + JOBOPTS))
        self.assertEqual(rc, 0, err)
        self.assertEqual(finish(w, timeout=30)[0], 0)

        def lines(p):
            out = []
            for ln in slurp(p).decode().splitlines():
                v = json.loads(ln)
                v.pop("elapsed_ms", None)
                v.pop("cached", None)
                # whether a rejected address's domain was asked for catch-all
                # depends on the session it shared, in a single run too
                if v.get("reason") != "accepted_email" and isinstance(v.get("checks"), dict):
                    v["checks"].pop("catch_all", None)
                out.append(v)
            return out
        self.assertEqual(lines(out), lines(ref))
        # offline: no network step, the same rows
        ref2, out2 = path("off.ref.csv"), path("off.out.csv")
        p = subprocess.run([MV, "bulk", src, "-o", ref2, "--offline", "-q"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        w = worker("offline", "-q")
        rc, err = finish(spawn([MV, "bulk", "--fleet", "offline", src, "-o", out2, "--offline",
                                "--chunk", "50", "-q", "--config", conf("fleet.conf")]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(finish(w, timeout=30)[0], 0)
        self.assertEqual(slurp(out2), slurp(ref2))

    def test_6_names(self):
        src = make_list("names.csv", 20, 6)
        cfg = conf("fleet.conf")
        redis("HSET", key("taken", "meta"), "v", "1")
        p = subprocess.run([MV, "bulk", "--fleet", "taken", src, "-o", path("taken.csv"), "--config", cfg]
                           + HOSTNET, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn("already exists", p.stderr)
        # metadata that is not a job's (a shared store may hold anything):
        # refused with a message, by a worker and by --resume
        for fields in (["v", "1"],
                       ["v", "1", "state", "running", "chunk", "99999", "lease", "60", "max_wait", "0",
                        "timeout", "0", "delim", "44", "mode", "0", "format", "0", "ident", "x"],
                       ["v", "1", "state", "running", "chunk", "10", "lease", "60", "max_wait", "0",
                        "timeout", "0", "delim", "44", "mode", "0", "format", "7", "ident", "x"]):
            redis("DEL", key("taken", "meta"))
            redis("HSET", key("taken", "meta"), *fields)
            w = subprocess.run([MV, "bulk", "--worker", "taken", "--config", cfg] + HOSTNET,
                               capture_output=True, text=True, timeout=60)
            check_stderr(w.stderr)
            self.assertEqual(w.returncode, 65, w.stderr)
            self.assertIn("not a job's metadata", w.stderr)
        p = subprocess.run([MV, "bulk", "--fleet", "taken", src, "-o", path("taken.csv"), "--resume",
                            "--config", cfg] + HOSTNET, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn("not a job's metadata", p.stderr)
        for bad in ("", "a" * 65, "a b", "x:y", "../x"):
            p = subprocess.run([MV, "bulk", "--fleet", bad, src, "-o", path("bad.csv"), "--config", cfg]
                               + HOSTNET, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("job name", p.stderr)
        p = subprocess.run([MV, "bulk", "--fleet", "nocache", src, "-o", path("nc.csv"), "--config",
                            conf("nocache.conf", redis=False)] + HOSTNET,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn('cache.store = "redis"', p.stderr)


if __name__ == "__main__":
    unittest.main()
