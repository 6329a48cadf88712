#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_recovery - how soon a verdict is right again after a fault ends,
and how many probes it took (issue 12).

Each test starts a fault in the loopback world, keeps asking the verifier
about an address as mail would (a long-lived `mailverify check -`, or RCPTs
through a real Postfix to mailverifyd), and asserts what an admin checks:

  (a) WHEN the first correct final verdict arrives after the fault ends
      (printed to stderr): within the greylister's own delay plus a small
      margin for greylisting, within 60 s of the end for a tarpit, about
      10-15 s for a DNS outage;
  (b) HOW MANY probes the server saw (its own log: RCPTs, sessions, DNS
      queries): no early re-probe, no hammering.

  1 greystrict  names no delay, counts whole seconds and wants MORE than
                its delay (= smtp.greylist_retry_s here): the first re-probe
                is accepted; 2 RCPTs
  2 greytwice   greylists the first two attempts: the final verdict comes
                from the second re-probe; 3 RCPTs
  3 greylong    greylists for 20 s (a time-scaled "10 minutes"), names no
                delay, greylist_retry_s = 2: re-probes at growing spacing,
                the final verdict within the spacing in force when it ends,
                a logarithmic number of re-probes
  4 restart     mailverifyd restarted (SIGTERM) or killed (SIGKILL) between
                the greylisting and its re-probe, cache.store lmdb and redis:
                the restarted daemon treats the cached 'greylisted' as a miss
                once it is due (the re-probe time + 5 s) and probes; 2 RCPTs
  5 stall       the MX says nothing for 30 s (reply_timeout_ms = 2000):
                'timeout' meanwhile (never blocked_by_server), the final
                verdict within 60 s of the end, at most one session per
                back-off interval
  6 dnsdown     the resolver drops every query for the domain for 30 s:
                dns_error meanwhile, the final verdict ~10 s after it is
                back, no lookup storm

The scenarios run concurrently (each in its own thread, own processes,
own addresses and servers), so the whole file takes about 40 s.
MV_RECOVERY_PATIENCE (seconds, default 60) is how long after a fault's end
a scenario keeps asking before it gives up (raise it to measure a slow
engine). Run inside tests/in-netns:

  MAILVERIFY=build/mailverify MAILVERIFYD=build/mailverifyd \\
      tests/in-netns /usr/bin/python3 tests/world/test_recovery.py -v
"""
import concurrent.futures
import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from mvd import NamedMilter, rcpt_reply  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
PATIENCE = float(os.environ.get("MV_RECOVERY_PATIENCE", "60"))
SLACK = 1.5             # poll interval, process scheduling on a loaded 2-core box

GREY_S = 8              # grey, greytwice: the delay the server names (longer than
                        # mailverifyd takes to exit on SIGTERM: ~5 s, libmilter)
STRICT_S = 3            # greystrict: its (unnamed) delay = smtp.greylist_retry_s
LONG_S = 20             # greylong: how long it greylists (names no delay)
LONG_RETRY_S = 2        # smtp.greylist_retry_s for greylong
FAULT_S = 30            # stall, dnsdown
LONG_STALL_S = 40       # stalllong: ends 6 s into the second back-off (60 s)

W = None
TMP = None
REDIS = None
POOL = None
FUTURES = {}
FIGURES = {}            # scenario -> its measurements (printed at the end)


def margin(delay):
    """The engine's documented re-probe margin: 5% of the delay, at least 2 s."""
    return max(2.0, delay * 0.05)


def say(what):
    sys.stderr.write("recovery: %s\n" % what)
    sys.stderr.flush()


def write_conf(name, text):
    path = os.path.join(TMP.name, name + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def cli_conf(name, smtp="", dns='servers = "127.0.0.1"; timeout_ms = 1000; tries = 1;'):
    return write_conf(name, "dns = { %s };\nsmtp = { allow_private_targets = true; %s };\n"
                      % (dns, smtp))


class Asker:
    """One long-lived `mailverify check --json -`: ask(addr) writes a line and
    reads its verdict, as a stream of mail asking about the same addresses.
    Background re-probes run in this process; its memory cache answers."""

    def __init__(self, conf, resolver="127.0.0.1"):
        self.p = subprocess.Popen([MV, "check", "--json", "--config", conf, "--allow-private",
                                   "--resolver", resolver, "-"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def ask(self, addr, timeout=70):
        self.p.stdin.write(addr.encode() + b"\n")
        self.p.stdin.flush()
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise AssertionError("no verdict for %s within %d s" % (addr, timeout))
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("mailverify check exited: %s" % self.p.stderr.read().decode())
        v = json.loads(line)
        v["t"] = time.time()
        return v

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        err = self.p.stderr.read().decode(errors="replace")
        self.p.stdout.close()
        self.p.stderr.close()
        if "Sanitizer" in err or "runtime error" in err:
            raise AssertionError(err)


def rcpt_times(server, addr):
    """Unix times of the RCPT TO:<addr> commands server NAME received."""
    return [t for t, _, _, c in W.log_lines(server)
            if c.upper().startswith("RCPT TO:") and addr.lower() in c.lower()]


def wait_first_rcpt(server, addr, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ts = rcpt_times(server, addr)
        if ts:
            return ts[0]
        time.sleep(0.02)
    raise AssertionError("%s never saw RCPT TO:<%s>" % (server, addr))


def poll_cli(asker, addr, final, until, every=0.5):
    """Ask about addr every `every` s until a verdict with reason `final`
    arrives or `until` (unix time) passes; (that verdict or None, all)."""
    seen = []
    while True:
        v = asker.ask(addr)
        seen.append(v)
        if v["reason"] == final:
            return v, seen
        if time.time() > until:
            return None, seen
        time.sleep(every)


# ---------------------------------------------------------------- scenarios

def grey_scenario(name, server, addr, retry_s, fault_end_of, latest_end, final="accepted_email"):
    """Greylisting through a long-lived check process. fault_end_of(t_first,
    rcpt_times) -> when the server stops greylisting (unix time), known once
    the probes are in the log; latest_end(t_first): the latest it may end,
    for how long to keep asking. Returns the figures."""
    a = Asker(cli_conf(name, smtp="greylist_retry_s = %d;" % retry_s))
    try:
        first = a.ask(addr)
        t_first = wait_first_rcpt(server, addr)
        got, seen = None, [first]
        if first["reason"] != final:
            got, more = poll_cli(a, addr, final, latest_end(t_first) + PATIENCE)
            seen += more
    finally:
        a.close()
    times = rcpt_times(server, addr)
    end = fault_end_of(t_first, times)
    fig = {"first": first["reason"], "reasons": sorted({v["reason"] for v in seen}),
           "rcpts": len(times), "rcpt_offsets": [round(t - t_first, 2) for t in times],
           "fault_end": round(end - t_first, 2),
           "final_after_first": round(got["t"] - t_first, 2) if got else None,
           "recovery": round(got["t"] - end, 2) if got else None,
           "final": got and (got["status"], got["reason"], got["cached"])}
    FIGURES[name] = fig
    say("%s: %s" % (name, json.dumps(fig)))
    return fig


def scenario_greystrict():
    def end(t_first, times):      # passes once more than N whole seconds have passed
        return math.floor(t_first) + STRICT_S + 1
    return grey_scenario("1-greystrict", "greystrict", "known+r1@greystrict.test", STRICT_S, end,
                         lambda t: math.floor(t) + STRICT_S + 1)


def scenario_greytwice():
    def end(t_first, times):      # after its second greylisting it lets the triplet through
        return times[1] if len(times) > 1 else t_first
    # greylist_retry_s 30: the delay it names (2 s) is the one that counts
    return grey_scenario("2-greytwice", "greytwice", "known+r2@greytwice.test", 30, end,
                         lambda t: t + 2 * (GREY_S + margin(GREY_S)))


def scenario_greylong():
    def end(t_first, times):
        return t_first + LONG_S
    return grey_scenario("3-greylong", "greylong", "known+r3@greylong.test", LONG_RETRY_S, end,
                         lambda t: t + LONG_S)


VERDICT = re.compile(r"to=<?(?P<addr>[^ >]+)>? client=\S+ status=(?P<status>\S+) "
                     r"reason=(?P<reason>\S+) action=\S+.* elapsed=\d+ms cached=(?P<cached>yes|no)")


def milter_verdicts(m, addr):
    try:
        log = m.log()
    except FileNotFoundError:
        return []
    return [x.groupdict() for x in map(VERDICT.search, log.splitlines())
            if x and x.group("addr").lower() == addr.lower()]


def restart_scenario(name, store, how, port, front):
    """A daemon greylisted, then restarted (SIGTERM) or killed (SIGKILL)
    before its re-probe; RCPTs through its Postfix every second."""
    addr = "known+%s@grey.test" % name.split("-", 1)[1].replace("-", "")
    if store == "lmdb":
        cache = ('cache = {\n  store = "lmdb";\n  lmdb_path = "%s";\n  lmdb_size_mb = 64;\n};\n'
                 % os.path.join(TMP.name, "%s.mdb" % name))
    else:
        cache = ('cache = {\n  store = "redis";\n  redis_server = "unix:%s";\n'
                 '  redis_prefix = "%s:";\n  redis_timeout_ms = 1000;\n};\n' % (REDIS.sock, name))
    m = NamedMilter(W, name, port, cache)
    m.start()
    try:
        rcpt_reply(addr, front)
        t_first = wait_first_rcpt("grey", addr)
        for _ in range(40):
            first = milter_verdicts(m, addr)
            if first:
                break
            time.sleep(0.05)
        if how == "kill":
            m.kill()
        else:
            m.stop()
        t_down = time.time() - t_first
        m.start()
        t_up = time.time() - t_first
        end = t_first + GREY_S
        got, seen, n = None, [], len(milter_verdicts(m, addr))
        while time.time() < end + PATIENCE:
            rcpt_reply(addr, front)
            vs = milter_verdicts(m, addr)
            for _ in range(20):
                if len(vs) > n:
                    break
                time.sleep(0.05)
                vs = milter_verdicts(m, addr)
            new, n = vs[n:], len(vs)
            seen += new
            if any(v["reason"] == "accepted_email" for v in new):
                got = time.time()
                break
            time.sleep(1.0)
    finally:
        m.stop()
    times = rcpt_times("grey", addr)
    after = []                  # run-length: [reason, cached, how many in a row]
    for v in seen:
        if after and after[-1][:2] == [v["reason"], v["cached"]]:
            after[-1][2] += 1
        else:
            after.append([v["reason"], v["cached"], 1])
    fig = {"store": store, "how": how, "first": [(v["reason"], v["cached"]) for v in first],
           "down_at": round(t_down, 2), "up_at": round(t_up, 2), "after_restart": after,
           "rcpts": len(times), "rcpt_offsets": [round(t - t_first, 2) for t in times],
           "recovery": round(got - end, 2) if got else None,
           "final_after_first": round(got - t_first, 2) if got else None}
    FIGURES[name] = fig
    say("%s: %s" % (name, json.dumps(fig)))
    return fig


def scenario_stall(server="stall", fault_s=FAULT_S, tag="5-stall"):
    """A tarpit of the only MX (30 s; stalllong: 40 s); two addresses asked
    every second."""
    a_ok, a_bad = "known+r5@%s.test" % server, "nobody+r5@%s.test" % server
    finals = {a_ok: "accepted_email", a_bad: "rejected_email"}
    asker = Asker(cli_conf(tag, smtp="reply_timeout_ms = 2000; connect_timeout_ms = 2000;"))
    end = W.fault(server, fault_s)
    start = time.time()
    during, after, got = [], [], {}
    try:
        while len(got) < 2 and time.time() < end + PATIENCE:
            for addr in finals:
                if addr in got:
                    continue
                v = asker.ask(addr)
                (during if v["t"] < end else after).append((addr, v["status"], v["reason"],
                                                            v["detail"]))
                if v["reason"] == finals[addr]:
                    got[addr] = v["t"]
            time.sleep(1.0)
    finally:
        asker.close()
        W.fault(server, 0)
    sessions = []
    for t, sid, _, c in W.log_lines(server):
        if c.startswith("<connect") and t >= start - 1:
            sessions.append(t)
    fig = {"fault_s": fault_s, "asked_during": len(during),
           "reasons_during": sorted({(r[1], r[2]) for r in during}),
           "sessions_during": sum(1 for t in sessions if t < end),
           "sessions": len(sessions), "session_offsets": [round(t - start, 2) for t in sessions],
           "recovery": {a: round(t - end, 2) for a, t in got.items()},
           "rcpts": {a: len(rcpt_times(server, a)) for a in finals},
           "detail_sample": during[1][3] if len(during) > 1 else None}
    FIGURES[tag] = fig
    say("%s: %s" % (tag, json.dumps(fig)))
    return fig, during


def scenario_dnsdown():
    """The resolver drops every query for dnsdown.test for 30 s."""
    addr = "known+r6@dnsdown.test"
    asker = Asker(cli_conf("6-dnsdown"), resolver="127.0.0.1:5353")
    end = W.fault("dnsdown", FAULT_S)
    start = time.time()
    during, got = [], None
    try:
        while time.time() < end + PATIENCE:
            v = asker.ask(addr)
            if v["t"] < end:
                during.append((v["status"], v["reason"]))
            if v["reason"] == "accepted_email":
                got = v["t"]
                break
            time.sleep(1.0)
    finally:
        asker.close()
        W.fault("dnsdown", 0)
    q = [x for x in W.dns_log("dnsdown") if x[0] >= start - 1]
    fig = {"fault_s": FAULT_S, "asked_during": len(during),
           "reasons_during": sorted(set(during)),
           "queries_during": sum(1 for x in q if x[0] < end),
           "lookups_during": lookups(x for x in q if x[0] < end),
           "recovery": round(got - end, 2) if got is not None else None,
           "rcpts": len(rcpt_times("dnsdown", addr))}
    FIGURES["6-dnsdown"] = fig
    say("6-dnsdown: %s" % json.dumps(fig))
    return fig


def lookups(queries):
    """Queries grouped into lookups: a new one starts 0.5 s after the last."""
    n, last = 0, None
    for x in queries:
        if last is None or x[0] - last > 0.5:
            n += 1
        last = x[0]
    return n


# the restart scenarios: (key, daemon name, cache.store, how, milter port, its Postfix)
RESTARTS = [
    ("restart-lmdb-term", "4-lmdb-term", "lmdb", "term", 10061, "127.0.0.81"),
    ("restart-lmdb-kill", "4-lmdb-kill", "lmdb", "kill", 10062, "127.0.0.82"),
    ("restart-redis-term", "4-redis-term", "redis", "term", 10063, "127.0.0.83"),
    ("restart-redis-kill", "4-redis-kill", "redis", "kill", 10064, "127.0.0.84"),
]
SCENARIOS = {
    "greystrict": scenario_greystrict,
    "greytwice": scenario_greytwice,
    "greylong": scenario_greylong,
    "stall": scenario_stall,
    "stalllong": lambda: scenario_stall("stalllong", LONG_STALL_S, "5b-stalllong"),
    "dnsdown": scenario_dnsdown,
}
for _r in RESTARTS:
    SCENARIOS[_r[0]] = (lambda r: lambda: restart_scenario(*r[1:]))(_r)


class RedisServer:
    """A redis-server of our own on a unix socket, no persistence."""

    def __init__(self, sock):
        self.sock = sock
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            p = subprocess.run(["redis-cli", "-s", self.sock, "PING"], capture_output=True,
                               text=True)
            if p.stdout.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def setUpModule():
    global W, TMP, REDIS, POOL
    TMP = tempfile.TemporaryDirectory(prefix="mv-recovery-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"), grey_seconds=GREY_S,
              grey_strict_seconds=STRICT_S, grey_twice_count=2, grey_long_seconds=LONG_S)
    W.__enter__()
    try:
        names = dict(SCENARIOS)
        if shutil.which("redis-server") and shutil.which("redis-cli"):
            REDIS = RedisServer(os.path.join(TMP.name, "redis.sock")).start()
        else:
            for k in [k for k in names if "redis" in k]:
                del names[k]
        for key, name, store, how, port, ip in RESTARTS:   # the Postfix that calls each
            if key in names:
                NamedMilter(W, name, port, "").postfix(name="front" + name.replace("-", ""), ip=ip)
        POOL = concurrent.futures.ThreadPoolExecutor(max_workers=len(names))
        for k, f in names.items():
            FUTURES[k] = POOL.submit(f)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    if POOL is not None:
        POOL.shutdown(wait=True)
    if W is not None:
        W.__exit__(None, None, None)
    if REDIS is not None:
        REDIS.stop()
    if FIGURES:
        say("figures (%s):" % MV)
        for k in sorted(FIGURES):
            say("  %-14s %s" % (k, json.dumps(FIGURES[k])))
    TMP.cleanup()


def result(name):
    if name not in FUTURES:
        raise unittest.SkipTest("not run (no redis-server?)")
    return FUTURES[name].result()


class Recovery(unittest.TestCase):

    def grey_common(self, fig, rcpts, bound):
        self.assertEqual(fig["first"], "greylisted", fig)
        self.assertIsNotNone(fig["recovery"], "no final verdict within %d s of the greylisting's "
                             "end: %s" % (PATIENCE, fig))
        self.assertEqual(fig["final"][:2], ("deliverable", "accepted_email"), fig)
        self.assertEqual(fig["reasons"], ["accepted_email", "greylisted"], fig)
        self.assertLessEqual(fig["final_after_first"], bound, fig)
        self.assertEqual(fig["rcpts"], rcpts, fig)

    def test_1_greylister_at_exactly_retry_s(self):
        """Its delay is greylist_retry_s and it names none: the first re-probe
        comes after the delay plus the margin and is accepted -- never a
        re-probe at the delay itself, which its whole-second clock greylists."""
        fig = result("greystrict")
        self.grey_common(fig, 2, STRICT_S + margin(STRICT_S) + SLACK)
        self.assertGreater(fig["rcpt_offsets"][1], STRICT_S + 1, "re-probed before it may pass")

    def test_2_greylister_that_greylists_twice(self):
        """The first re-probe is greylisted again: a second re-probe, after
        the delay the server named again (plus the margin at most), gives
        the final verdict."""
        fig = result("greytwice")
        self.grey_common(fig, 3, 2 * (GREY_S + margin(GREY_S)) + SLACK)
        self.assertLessEqual(fig["recovery"], GREY_S + margin(GREY_S) + SLACK, fig)
        # the server named its delay again: the second re-probe waits for it
        # too (a greylister may restart its clock on an early retry)
        offs = fig["rcpt_offsets"]
        self.assertGreater(offs[2] - offs[1], GREY_S, offs)

    def test_3_long_greylisting_growing_spacing(self):
        """Greylisted for 20 s (a time-scaled '10 minutes') with
        greylist_retry_s = 2: re-probes at growing spacing, the final verdict
        within the spacing in force when the greylisting ends, and a
        logarithmic number of re-probes (not one per delay)."""
        fig = result("greylong")
        self.assertEqual(fig["first"], "greylisted", fig)
        self.assertIsNotNone(fig["recovery"], "no final verdict within %d s of the greylisting's "
                             "end: %s" % (PATIENCE, fig))
        self.assertEqual(fig["final"][:2], ("deliverable", "accepted_email"), fig)
        offs = fig["rcpt_offsets"]
        gaps = [b - a for a, b in zip(offs, offs[1:])]
        # growing spacing: each gap at least the one before (less a tick)
        for g0, g1 in zip(gaps[1:], gaps[2:]):
            self.assertGreaterEqual(g1, g0 - 1.0, gaps)
        # the final verdict within the spacing in force at the end, which is
        # never longer than the greylisting lasted
        self.assertLessEqual(fig["recovery"], gaps[-1] + SLACK, gaps)
        self.assertLessEqual(gaps[-1], LONG_S + SLACK, gaps)
        # logarithmic: the first probe, the re-probe after the margin, then
        # doublings of max(2 s, delay/2) until past the end, and the final one
        step = max(2.0, LONG_RETRY_S / 2.0)
        most = 2 + math.ceil(math.log2(LONG_S / step)) + 1
        self.assertGreaterEqual(fig["rcpts"], 3, "re-probes kept going: %s" % offs)
        self.assertLessEqual(fig["rcpts"], most, "one re-probe per delay is hammering: %s" % offs)

    def restart_common(self, key):
        fig = result(key)
        self.assertEqual(fig["first"], [("greylisted", "no")], fig)
        self.assertLess(fig["up_at"], GREY_S, "restarted too late to test anything: %s" % fig)
        self.assertIsNotNone(fig["recovery"], "the restarted daemon kept answering a cached "
                             "'greylisted' for %d s past the delay: %s" % (PATIENCE, fig))
        # the cached entry is due at the re-probe time (delay + margin) plus
        # 5 s (docs: cache.temporary_expire_s); then the next RCPT probes
        self.assertLessEqual(fig["recovery"], margin(GREY_S) + 5 + SLACK + 1.0, fig)
        self.assertEqual(fig["after_restart"][-1][:2], ["accepted_email", "no"],
                         "the restarted daemon probed itself: %s" % fig)
        self.assertEqual(fig["rcpts"], 2, "one probe before, one after the restart: %s" % fig)
        self.assertGreater(fig["rcpt_offsets"][1], fig["up_at"], fig)

    def test_4a_restart_sigterm_lmdb(self):
        self.restart_common("restart-lmdb-term")

    def test_4b_kill9_lmdb(self):
        self.restart_common("restart-lmdb-kill")

    def test_4c_restart_sigterm_redis(self):
        self.restart_common("restart-redis-term")

    def test_4d_kill9_redis(self):
        self.restart_common("restart-redis-kill")

    def test_5_tarpit_30s(self):
        """The only MX says nothing for 30 s: 'timeout' while it lasts
        (never blocked_by_server), a final verdict within 60 s of its end,
        and no more than one session per back-off interval."""
        fig, during = result("stall")
        self.assertGreater(fig["asked_during"], 10, fig)
        for addr, status, reason, detail in during:
            self.assertEqual((status, reason), ("unknown", "timeout"), (addr, detail))
        self.assertEqual(set(fig["recovery"]), {"known+r5@stall.test", "nobody+r5@stall.test"},
                         "no final verdict within %d s of the tarpit's end: %s" % (PATIENCE, fig))
        for addr, rec in fig["recovery"].items():
            self.assertLessEqual(rec, 60, fig)
        # 30 s of fault, a first back-off of 30 s: one session (two at most)
        self.assertLessEqual(fig["sessions_during"], 2, fig)
        self.assertLessEqual(fig["sessions"], 4, fig)
        self.assertEqual(fig["rcpts"], {"known+r5@stall.test": 1, "nobody+r5@stall.test": 1}, fig)

    def test_5b_tarpit_40s_noticed_within_30s(self):
        """The only MX says nothing for 40 s: real requests back off longer
        each time (30 s, then 60 s from about 34 s on), but one session every
        30 s asks whether it answers again, so the final verdict comes within
        about 30 s of the tarpit's end -- not at the end of the grown
        back-off (about 54 s after it)."""
        fig, during = result("stalllong")
        for addr, status, reason, detail in during:
            self.assertEqual((status, reason), ("unknown", "timeout"), (addr, detail))
        self.assertEqual(set(fig["recovery"]), {"known+r5@stalllong.test", "nobody+r5@stalllong.test"},
                         "no final verdict within %d s of the tarpit's end: %s" % (PATIENCE, fig))
        for addr, rec in fig["recovery"].items():
            self.assertLessEqual(rec, 35, fig)
        # about one session per 30 s while it lasts, not one per ask
        self.assertLessEqual(fig["sessions_during"], LONG_STALL_S // 30 + 2, fig)

    def test_6_dns_down_30s(self):
        """The resolver drops the domain's queries for 30 s: dns_error while
        it lasts, the final verdict within 15 s after it is back (dns_error
        lives 10 s), and a lookup about every 10 s, not one per ask."""
        fig = result("dnsdown")
        self.assertGreater(fig["asked_during"], 10, fig)
        self.assertEqual(fig["reasons_during"], [("unknown", "dns_error")], fig)
        self.assertIsNotNone(fig["recovery"], "no final verdict within %d s of the DNS outage's "
                             "end: %s" % (PATIENCE, fig))
        self.assertLessEqual(fig["recovery"], 15, fig)
        self.assertLessEqual(fig["lookups_during"], FAULT_S / 10 + 2, fig)
        self.assertEqual(fig["rcpts"], 1, fig)


if __name__ == "__main__":
    unittest.main()
