#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_etiquette - the engine probes politely, as the scripted servers saw it.

    MVLOAD=build/mvload tests/in-netns /usr/bin/python3 tests/world/test_etiquette.py [-v]

Starts the loopback test world with ten bulk domains (each its own MX
address, every reply delayed 20 ms) and submits many addresses at once
through tests/bench/mvload (mv_engine_submit with a window), then reads
the bulk server's per-command log and checks what the engine promised in
net.h: concurrent SMTP sessions per domain never exceed
smtp.domain_sessions; recipients of a domain share sessions (at most
ceil(addresses / max_rcpt_per_session) + domain_sessions of them: see
test_sessions_after_mx_lookup_batch for why not + 1); DATA is never sent;
every address gets exactly one verdict, in input order; and identical
addresses submitted together are probed once (single-flight, with the
cache off so that only single-flight can explain it).

Concurrency is computed from each session's <connect> event and its end:
the QUIT line when there is one (the probe sends QUIT and closes without
waiting for the 221, which the server sends 20 ms later, before its
<close>), else <close>. Two sessions on different sockets can be logged
a little out of causal order, so overlaps shorter than 5 ms are ignored;
a real third session overlaps for at least a whole reply (20 ms).
No assertion here is about speed.
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import World  # noqa: E402

MVLOAD = os.path.abspath(os.environ.get("MVLOAD", "build/mvload"))
DOMAINS = 10
SLACK_S = 0.005
W = None
TMP = None


def setUpModule():
    global W, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-etiquette-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"), bulk_domains=DOMAINS, bulk_delay_ms=20)
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def load(addrs, conf, *args):
    """mvload --json over addrs with config text conf; the verdicts in order."""
    path = os.path.join(TMP.name, "etiquette.conf")
    with open(path, "w") as f:
        f.write(conf)
    cmd = [MVLOAD, "--json", "--resolver", "127.0.0.1", "--allow-private", "--mode", "smtp",
           "--config", path, "--timeout", "60000"] + list(args)
    p = subprocess.run(cmd, input="".join(a + "\n" for a in addrs).encode(),
                       capture_output=True, timeout=300)
    if p.returncode != 0 or b"Sanitizer" in p.stderr or b"runtime error" in p.stderr:
        raise AssertionError("mvload exit %d: %s" % (p.returncode, p.stderr.decode()))
    settle()
    return [json.loads(ln) for ln in p.stdout.decode().splitlines()]


def settle():
    """Wait until every session the bulk server saw has closed (it logs
    <close> after its delayed 221), so that the log is whole and clearing
    it leaves nothing behind for the next test."""
    for _ in range(500):
        lines = W.log_lines("bulk")
        opened = sum(1 for ln in lines if ln[3].startswith("<connect "))
        if opened == sum(1 for ln in lines if ln[3] == "<close>"):
            return
        time.sleep(0.01)
    raise AssertionError("bulk sessions still open 5 s after mvload exited")


def bulk_sessions():
    """{ip: [(start, end, [commands])]} of the bulk servers' log."""
    by_id = {}
    for t, sid, _peer, cmd in W.log_lines("bulk"):
        s = by_id.setdefault(sid, {"ip": None, "start": None, "quit": None, "close": None,
                                   "commands": []})
        if cmd.startswith("<connect "):
            s["ip"], s["start"] = cmd[len("<connect "):-1].rsplit(":", 1)[0], t
        elif cmd == "<close>":
            s["close"] = t
        elif not cmd.startswith("<") and not cmd.startswith("!!!"):
            s["commands"].append(cmd)
            if cmd.upper() == "QUIT":
                s["quit"] = t
    out = {}
    for s in by_id.values():
        end = s["quit"] if s["quit"] is not None else s["close"]
        if end is None:
            raise AssertionError("a session never ended: %r" % s)
        out.setdefault(s["ip"], []).append((s["start"], end, s["commands"]))
    return out


def max_overlap(sessions):
    """The most sessions open at once, overlaps under SLACK_S ignored."""
    events = []
    for start, end, _ in sessions:
        events.append((start, 1))
        events.append((max(start, end - SLACK_S), -1))
    most = cur = 0
    for _, d in sorted(events, key=lambda e: (e[0], e[1])):   # ends first at equal times
        cur += d
        most = max(most, cur)
    return most


def rcpts(sessions):
    """The real recipients asked (the catch-all probe's mv-... left out)."""
    out = []
    for _, _, cmds in sessions:
        for c in cmds:
            if c.upper().startswith("RCPT TO:<") and not c[9:].startswith("mv-"):
                out.append(c[9:c.index(">")])
    return out


def conf(domain_sessions, max_rcpt, host_rate=5, cache=True):
    return ("smtp = { domain_sessions = %d; host_sessions = %d; max_rcpt_per_session = %d; "
            "host_rate = %d; };\n" % (domain_sessions, domain_sessions, max_rcpt, host_rate) +
            ("" if cache else "cache = { max_entries = 0; };\n"))


class Etiquette(unittest.TestCase):
    def setUp(self):
        W.clear_logs()

    def check_domain(self, sessions, addrs, domain_sessions, max_rcpt):
        self.assertLessEqual(max_overlap(sessions), domain_sessions)
        # XXX the slack is domain_sessions, not 1: see test_sessions_after_mx_lookup_batch
        self.assertLessEqual(len(sessions), math.ceil(len(addrs) / max_rcpt) + domain_sessions)
        asked = rcpts(sessions)
        self.assertEqual(sorted(asked), sorted(addrs), "each address asked exactly once")
        for _, _, cmds in sessions:
            real = [c for c in cmds if c.upper().startswith("RCPT") and "<mv-" not in c]
            self.assertLessEqual(len(real), max_rcpt)
            self.assertFalse([c for c in cmds if c.upper().split(" ")[0] in ("DATA", "BDAT")])

    def check_verdicts(self, verdicts, addrs):
        self.assertEqual([v["address"] for v in verdicts], addrs, "one verdict each, in order")
        for v in verdicts:
            want = "rejected_email" if v["address"].startswith("nobody") else "accepted_email"
            self.assertEqual(v["reason"], want, json.dumps(v))
            self.assertFalse(v["cached"])

    def test_one_domain_40_addresses(self):
        addrs = ["%04d@bulk000.test" % i for i in range(36)] + \
                ["nobody%d@bulk000.test" % i for i in range(4)]
        verdicts = load(addrs, conf(2, 10))
        self.check_verdicts(verdicts, addrs)
        got = bulk_sessions()
        self.assertEqual(list(got), [world.bulk_ip(0)], "only bulk000's MX was asked")
        self.check_domain(got[world.bulk_ip(0)], addrs, 2, 10)
        self.assertEqual(max_overlap(got[world.bulk_ip(0)]), 2,
                         "40 queued recipients use both sessions the domain allows")
        self.assertEqual(W.data_received(), [])

    def test_ten_domains_30_addresses_each(self):
        addrs = ["%s%d@bulk%03d.test" % ("nobody" if i % 7 == 0 else "user", i, d)
                 for d in range(DOMAINS) for i in range(30)]
        random.Random(7).shuffle(addrs)
        verdicts = load(addrs, conf(3, 4, host_rate=50))
        self.check_verdicts(verdicts, addrs)
        got = bulk_sessions()
        self.assertEqual(sorted(got), sorted(world.bulk_ip(d) for d in range(DOMAINS)))
        for d in range(DOMAINS):
            with self.subTest(domain=world.bulk_domain(d)):
                mine = [a for a in addrs if a.endswith("@" + world.bulk_domain(d))]
                self.check_domain(got[world.bulk_ip(d)], mine, 3, 4)
        self.assertGreaterEqual(max(max_overlap(s) for s in got.values()), 2)
        self.assertEqual(W.data_received(), [])

    def test_sessions_after_mx_lookup_batch(self):
        """Addresses that waited together for the domain's MX answer go out
        in full batches: 40 addresses at 10 per session take 4 sessions,
        not 1, 1, 10, 10, 10, 8 (each waiter scheduled on its own)."""
        addrs = ["%04d@bulk001.test" % i for i in range(40)]
        self.check_verdicts(load(addrs, conf(2, 10)), addrs)
        got = bulk_sessions()[world.bulk_ip(1)]
        sizes = [len(rcpts([s])) for s in got]
        # 4 full sessions, or 5 when the MX answer lands while the list is
        # still being submitted (the first batch then holds what had come);
        # what must not happen is a session per waiting job
        self.assertLessEqual(len(got), 5, sizes)
        self.assertLessEqual(sum(1 for n in sizes if n < 10), 2, sizes)

    def test_single_flight(self):
        uniq = ["%04d@bulk003.test" % i for i in range(20)] + ["nobody@bulk003.test"]
        addrs = [a for a in uniq for _ in range(3)] + uniq + list(reversed(uniq))
        verdicts = load(addrs, conf(2, 10, cache=False), "--window", "1000")
        self.check_verdicts(verdicts, addrs)
        got = bulk_sessions()
        self.assertEqual(sorted(rcpts(got[world.bulk_ip(3)])), sorted(uniq),
                         "every address probed once, however often it was submitted")
        self.check_domain(got[world.bulk_ip(3)], uniq, 2, 10)


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
