#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_fleet - smtp.fleet: per-destination limits and back-offs shared by
every process on one redis-server, as the destination's server saw them.

The destination is the world's pair.test (127.0.0.47): it allows two
sessions at once (a third gets 421 4.7.0 Too many concurrent SMTP
connections) and logs the concurrency it saw at each connect
("<concurrent N>"). Cases:

- three mailverifyd daemons (the policy listener, driven as Postfix
  would, many recipients at once) and a `mailverify bulk` run share the
  destination: with smtp.fleet the server never sees more than two
  sessions and every address gets its real verdict; without it the same
  load goes past two (so the test can fail);
- a process SIGKILLed while its sessions stall holds its leases (they are
  renewed while it lives, past the lease time); after the kill they stay
  in Redis until they expire, and another process gets its session after
  the earliest expiry read from Redis, never before it, with its real
  verdict;
- a back-off learned by one process (421 4.7.0 rate limited at the
  banner) is honoured by another that never connects (the answer the
  single-process back-off gives: blocked_by_server), and `mailverify
  cache stats` shows it;
- Redis killed under a running daemon: verification goes on with local
  limits; exactly one log line says so, and one when Redis is back.

Run inside tests/in-netns:

  MAILVERIFY=build/mailverify MAILVERIFYD=build/mailverifyd \\
      tests/in-netns /usr/bin/python3 tests/world/test_fleet.py -v
"""
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from mvd import NamedMilter  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
W = None
TMP = None
SOCK = None
REDIS = None
PREFIX = "fleet:"
HOST = "127.0.0.47:25"          # pair.test's MX address, as the leases name it
_ports = itertools.count(10460)


class RedisServer:
    """A redis-server of our own on a unix socket, no persistence."""

    def __init__(self, sock):
        self.sock, self.proc = sock, None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.cli("PING").strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-s", self.sock] + list(args), capture_output=True,
                              text=True, timeout=10).stdout

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if os.path.exists(self.sock):
            os.unlink(self.sock)


def cache_conf():
    return ('cache = {\n  store = "redis";\n  redis_server = "unix:%s";\n  redis_prefix = "%s";\n'
            '  redis_timeout_ms = 1000;\n};\n' % (SOCK, PREFIX))


def smtp_keys(fleet, **extra):
    keys = {"allow_private_targets": "true", "fleet": "true" if fleet else "false",
            "host_rate": "50", "fleet_lease_s": "5"}
    keys.update({k: str(v) for k, v in extra.items()})
    return keys


def cli_conf(name, fleet=True, **smtp):
    path = os.path.join(TMP.name, "%s.conf" % name)
    body = "".join("  %s = %s;\n" % kv for kv in smtp_keys(fleet, **smtp).items())
    with open(path, "w") as f:
        f.write('dns = { servers = "127.0.0.1"; timeout_ms = 1000; tries = 1; };\n'
                'smtp = {\n%s};\n' % body + cache_conf())
    return path


def mv(*args, timeout=120):
    p = subprocess.run([MV] + list(args), capture_output=True, text=True, timeout=timeout)
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        raise AssertionError(p.stderr)
    return p


def check_proc(conf, *addrs):
    return subprocess.Popen([MV, "check", "--json", "--config", conf] + list(addrs),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def verdicts(out):
    return {v["address"]: v for v in (json.loads(ln) for ln in out.splitlines() if ln.strip())}


def real(addr):
    """What pair.test says of addr: digits are mailboxes, the rest unknown."""
    return "accepted_email" if re.fullmatch(r"[0-9]+", addr.split("@")[0]) else "rejected_email"


def pair_log():
    try:
        with open(W.path("smtp-pair.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def concurrency(log):
    return [int(n) for n in re.findall(r"<concurrent (\d+)>", log)]


def connects(log):
    """Unix times of the sessions' connects."""
    return [float(ln.split()[0]) for ln in log.splitlines() if "<connect " in ln]


def setUpModule():
    global W, TMP, SOCK, REDIS
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise unittest.SkipTest("no redis-server (apt-get install redis-server)")
    TMP = tempfile.TemporaryDirectory(prefix="mv-fleet-")
    os.chmod(TMP.name, 0o755)
    SOCK = os.path.join(TMP.name, "redis.sock")
    REDIS = RedisServer(SOCK).start()
    W = World(os.path.join(TMP.name, "world"))
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    REDIS.kill()
    TMP.cleanup()


def policy_ask(port, rcpt):
    """One policy request as Postfix sends it; the action line."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.77\n"
                   "sender=s@src.test\nrecipient=%s\n\n" % rcpt).encode())
        buf = b""
        while not buf.endswith(b"\n\n"):
            d = s.recv(4096)
            if not d:
                break
            buf += d
    return buf.decode().split("\n", 1)[0]


def daemon(name, fleet):
    port = next(_ports)
    m = NamedMilter(W, name, port, cache_conf(),
                    milter={"serve": '"policy"', "policy_socket": '"inet:%d@127.0.0.1"' % port})
    m.groups["smtp"] = smtp_keys(fleet)
    m.start()
    return m, port


class Fleet(unittest.TestCase):

    def setUp(self):
        REDIS.cli("FLUSHALL")
        W.fault("pairstall", 0)
        W.fault("pairrate", 0)

    def load(self, fleet, tag):
        """Three daemons (12 parallel askers each) and a bulk run on pair.test
        at once; {address: verdict reason or policy action}, the server's log."""
        start = len(pair_log())
        ms = [daemon("%s%d" % (tag, i), fleet) for i in range(3)]
        answers, lock = {}, threading.Lock()
        try:
            def asker(port, addrs):
                for a in addrs:
                    act = policy_ask(port, a)
                    with lock:
                        answers[a] = act

            threads = []
            for d, (m, port) in enumerate(ms):
                addrs = ["%d%d%02d@pair.test" % (tag == "on", d, i) for i in range(24)]
                addrs += ["x%s%d%02d@pair.test" % (tag, d, i) for i in range(6)]
                for k in range(12):
                    threads.append(threading.Thread(target=asker, args=(port, addrs[k::12])))
            inp = os.path.join(TMP.name, "bulk-%s.csv" % tag)
            out = os.path.join(TMP.name, "bulk-%s.out.csv" % tag)
            with open(inp, "w") as f:
                f.write("email\n" + "".join("%d9%02d@pair.test\n" % (tag == "on", i) for i in range(30)))
            bulk = subprocess.Popen([MV, "bulk", "--config", cli_conf("bulk-" + tag, fleet), inp,
                                     "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            bout, berr = bulk.communicate(timeout=120)
            self.assertEqual(bulk.returncode, 0, berr)
            self.assertNotIn("Sanitizer", berr)
            with open(out) as f:
                rows = f.read()
        finally:
            for m, _ in ms:
                m.stop()
        for m, _ in ms:
            self.assertNotIn("Sanitizer", m.log())
        return answers, rows, pair_log()[start:]

    def test_1_three_daemons_and_bulk_share_two_sessions(self):
        answers, rows, log = self.load(True, "on")
        seen = concurrency(log)
        self.assertTrue(seen, "no session reached pair.test")
        self.assertLessEqual(max(seen), 2, "the server saw %d sessions at once" % max(seen))
        self.assertNotIn("<refused", log)
        self.assertEqual(len(answers), 90)
        for a, act in answers.items():       # the policy's own answer for each real verdict
            if real(a) == "accepted_email":
                self.assertEqual(act, "action=DUNNO", a)
            else:
                self.assertTrue(act.startswith("action=REJECT") or act.startswith("action=550"),
                                "%s: %s" % (a, act))
        self.assertEqual(rows.count("accepted_email"), 30, rows)
        # without the fleet the same load goes past the server's two
        REDIS.cli("FLUSHALL")
        _, _, log = self.load(False, "off")
        self.assertGreater(max(concurrency(log)), 2,
                           "without smtp.fleet the load never exceeded two sessions: the test "
                           "above proves nothing")

    def test_2_lease_of_a_killed_process_expires(self):
        conf = cli_conf("stall", max_rcpt_per_session=1, reply_timeout_ms=60000)
        W.fault("pairstall", 60)
        a = check_proc(conf, "1001@pair.test", "1002@pair.test")
        key = PREFIX + "lease:h:" + HOST
        try:
            t0 = time.monotonic()
            while REDIS.cli("ZCARD", key).strip() != "2":
                self.assertLess(time.monotonic() - t0, 20, "the stalled sessions took no leases")
                time.sleep(0.05)
            # renewed while the process lives: still held past the lease time (5 s)
            first = sorted(float(s) for s in REDIS.cli("ZRANGE", key, "0", "-1",
                                                       "WITHSCORES").split()[1::2])
            time.sleep(6)
            self.assertEqual(REDIS.cli("ZCARD", key).strip(), "2")
            later = sorted(float(s) for s in REDIS.cli("ZRANGE", key, "0", "-1",
                                                       "WITHSCORES").split()[1::2])
            self.assertGreater(later[0], first[-1], "the leases were not renewed")
        finally:
            a.kill()
            a.communicate()
        # a killed process releases nothing: its leases stay until they expire
        scores = sorted(float(s) for s in REDIS.cli("ZRANGE", key, "0", "-1",
                                                    "WITHSCORES").split()[1::2])
        self.assertEqual(len(scores), 2)
        W.fault("pairstall", 0)
        mark = len(pair_log())
        stats = mv("cache", "stats", "--config", conf).stdout
        self.assertIn("leases:    host %s: 2" % HOST, stats)
        b = check_proc(conf, "1003@pair.test")
        out, err = b.communicate(timeout=60)
        v = verdicts(out)["1003@pair.test"]
        self.assertEqual(v["reason"], "accepted_email", err)
        new = connects(pair_log()[mark:])
        self.assertTrue(new)
        # its session began after the earliest lease expired (Redis' clock,
        # this machine's), never before: the fleet held it back
        self.assertGreaterEqual(new[0], scores[0] / 1000.0 - 0.05)

    def test_3_backoff_learned_by_one_is_honoured_by_another(self):
        conf = cli_conf("rate")
        W.fault("pairrate", 60)
        p = mv("check", "--json", "--config", conf, "2001@pair.test")
        self.assertEqual(verdicts(p.stdout)["2001@pair.test"]["reason"], "blocked_by_server",
                         p.stdout + p.stderr)
        stats = mv("cache", "stats", "--config", conf).stdout
        self.assertRegex(stats, r"back-off:  %s for \d+ s more" % re.escape(HOST))
        js = json.loads(mv("cache", "stats", "--json", "--config", conf).stdout)
        self.assertEqual([b["host"] for b in js["backoffs"]], [HOST])
        self.assertGreater(js["backoffs"][0]["seconds_left"], 0)
        mark = len(pair_log())
        p = mv("check", "--json", "--config", conf, "2002@pair.test")
        v = verdicts(p.stdout)["2002@pair.test"]
        self.assertEqual(v["reason"], "blocked_by_server", p.stdout)
        self.assertEqual(v["status"], "unknown")
        self.assertIn("left alone", json.dumps(v))
        self.assertEqual(connects(pair_log()[mark:]), [], "the second process connected")

    def test_4_redis_killed_under_a_daemon(self):
        m, port = daemon("redis-down", True)
        try:
            self.assertEqual(policy_ask(port, "3001@pair.test"), "action=DUNNO")
            REDIS.kill()
            for i in range(2, 8):           # local limits: verdicts go on
                self.assertEqual(policy_ask(port, "300%d@pair.test" % i), "action=DUNNO")
            REDIS.start()
            t0 = time.monotonic()           # the client reconnects by itself (<= 5 s)
            while "connected; the shared cache" not in m.log().split("fleet: no answer", 1)[-1]:
                self.assertLess(time.monotonic() - t0, 15, m.log())
                time.sleep(0.1)
            for i in range(10, 14):
                self.assertEqual(policy_ask(port, "30%d@pair.test" % i), "action=DUNNO")
        finally:
            m.stop()
        log = m.log()
        self.assertEqual(log.count("fleet: no answer from Redis"), 1, log)
        self.assertEqual(log.count("fleet: Redis answers again"), 1, log)
        self.assertLess(log.index("fleet: no answer from Redis"), log.index("fleet: Redis answers again"))
        self.assertNotIn("Sanitizer", log)


if __name__ == "__main__":
    unittest.main()
