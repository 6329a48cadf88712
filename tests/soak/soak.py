#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""soak.py - mail through mailverifyd behind a real Postfix for SOAK_MINUTES
while faults are injected on a schedule; every message accounted for.

    tests/in-netns /usr/bin/python3 tests/soak/soak.py        (make soak)
    SOAK_MINUTES=3 SOAK_STORE=lmdb|redis MAILVERIFYD=build/mailverifyd

The test world (tests/world: unbound, the real Postfix mx.ok.test, the
scripted servers), mailverifyd with the shipped policy (fail open when it
cannot find out; only aimed at the world: dns.servers, allow_private_targets,
an inet socket) and cache.store = "lmdb" (or "redis" on a redis-server of
its own), and the front Postfix of tests/world/mvd.py on 127.0.0.50:25
calling it (milter_default_action = tempfail). What the front accepts is
delivered for real: ok.test to the world's Postfix (its maillog logs each
message-id), soak.test to this script's own MX, everything else to this
script's sink; nothing is discarded at the front.

This script adds one domain to the world's zone, soak.test (MX
mx.soak.test, 127.0.0.61): its MX answers RCPT for known* local parts with
250 and 550 5.1.1 for the rest, accepts DATA, and can be told to tarpit (hold
the banner). The sink (127.0.0.62) accepts everything. Both record the
message-id of each message they receive.

Senders: SOAK_CLIENTS (12) threads behave like an MTA: one message (one
recipient) per SMTP session from one of 64 loopback source addresses (so
the harvest budget, milter.dha_limit, per client is the shipped one and is
not what decides), new messages at SOAK_RATE (3) a second; 4xx or a broken
connection means "queue it, retry with backoff" (5 s doubling to 60 s, at
most 12 attempts or RETRY_MAX_AGE), 5xx means bounce. Recipients, with
their truth known from the world's tables:

  exist     alice+T@ok.test, bob+T@ok.test, alice@ok.test (repeated: cached),
            known+T@users.test, known+T@soak.test, known+T@grey.test
  nonexist  nx-T@ok.test, nobody@ok.test (repeated), nx-T@users.test,
            gone+T@users.test, nx-T@soak.test, x@nxd-T.test (NXDOMAIN),
            nx-T@grey.test

grey.test recipients are sent only during the greylister's windows.

Faults, in a cycle with recovery periods between (durations scale down for
runs under 20 minutes):

  kill     mailverifyd killed (SIGKILL), restarted 10 s later
  dns      unbound stopped for 30 s
  mxdown   the world's Postfix (mx.ok.test, ok.test's only MX) stopped for 60 s
  tarpit   soak.test's MX holds each new connection's banner 30/60/90 s, for 60 s
  grey     grey.test recipients (greylisting, grey_seconds = 30) for 60 s
  reload   the configuration reloaded (SIGUSR1), unchanged
  badconf  a broken configuration, SIGUSR1; the good file put back
  redis    (SOAK_STORE=redis) redis-server killed (SIGKILL), restarted 20 s later

After each fault, besides the ordinary traffic, a recheck message every 2 s
to a new non-existent address of a domain the fault touched (and, after a
greylisting window, to the grey.test addresses greylisted in it) until the
first correct verdict (at most 300 s; scaled down for short runs), also
after the new traffic stopped. Time-to-recover: from the fault's end to the first
correct final verdict (for a non-existent address a 5xx; after kill, reload
and badconf any correct verdict) of an address in a domain it touched.

At the end no new mail; retries go on until final; the front's queue is
flushed; then every message is one of: accepted (and found at the
destination or sink), rejected 5xx, expired (4xx until the retry bound), or
lost. Exit status 0 if lost == 0 and false blocks == 0.
"""
import asyncio
import heapq
import json
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "world"))

SOAK_MX_IP = "127.0.0.61"
SINK_IP = "127.0.0.62"
SENDER = "bob@ok.test"
SOURCES = ["127.0.3.%d" % i for i in range(1, 65)]
MSGID_DOMAIN = "soak.client"
VERDICT = re.compile(r"(?P<qid>\S+): (?P<dir>to|from)=(?P<addr>\S+) client=(?P<client>\S+) "
                     r"status=(?P<status>\S+) reason=(?P<reason>\S+) action=(?P<action>\S+)")


# ------------------------------------------------------- soak MX and sink --
# Run as a child process: soak.py --serve WORKDIR

async def serve_conn(reader, writer, workdir, mode):
    def tarpit():
        try:
            with open(os.path.join(workdir, "soakmx.tarpit")) as f:
                return float(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    async def say(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    peer = writer.get_extra_info("peername")
    try:
        if mode == "mx":
            d = tarpit()
            if d > 0:
                await asyncio.sleep(d)
        await say("220 %s ESMTP soak" % ("mx.soak.test" if mode == "mx" else "sink.soak.test"))
        rcpts = []
        while True:
            line = await asyncio.wait_for(reader.readline(), 300)
            if not line:
                break
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                await say("250-mx.soak.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"
                          if verb == "EHLO" else "250 mx.soak.test")
            elif verb == "MAIL":
                rcpts = []
                await say("250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.search(r"<([^>]*)>", cmd)
                addr = m.group(1) if m else ""
                local = addr.split("@")[0].lower()
                if mode == "sink" or local.startswith("known") or local.startswith("bob"):
                    rcpts.append(addr)
                    await say("250 2.1.5 Ok")
                else:
                    await say("550 5.1.1 <%s>: User unknown" % addr)
            elif verb == "DATA":
                if not rcpts:
                    await say("503 5.5.1 No recipients")
                    continue
                await say("354 End data with <CR><LF>.<CR><LF>")
                msgid = ""
                while True:
                    ln = await asyncio.wait_for(reader.readline(), 300)
                    if not ln or ln in (b".\r\n", b".\n"):
                        break
                    if not msgid and ln[:11].lower() == b"message-id:":
                        msgid = ln[11:].decode("latin-1").strip()
                with open(os.path.join(workdir, "soak-received.log"), "a") as f:
                    f.write("%.3f %s %s %s %s\n" % (time.time(), mode, peer[0], msgid or "-",
                                                    ",".join(rcpts)))
                rcpts = []
                await say("250 2.0.0 Ok: queued")
            elif verb in ("RSET", "NOOP"):
                rcpts = [] if verb == "RSET" else rcpts
                await say("250 2.0.0 Ok")
            elif verb == "QUIT":
                await say("221 2.0.0 Bye")
                break
            else:
                await say("502 5.5.2 Command not recognized")
    except (OSError, asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def serve_main(workdir):
    servers = []
    for ip, mode in ((SOAK_MX_IP, "mx"), (SINK_IP, "sink")):
        servers.append(await asyncio.start_server(
            lambda r, w, mode=mode: serve_conn(r, w, workdir, mode), ip, 25, backlog=256,
            reuse_address=True))
    open(os.path.join(workdir, "soakmx.ready"), "w").close()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


# ------------------------------------------------------------- messages --

class Msg:
    __slots__ = ("id", "rcpt", "exist", "dom", "created", "attempts", "outcome", "t_final",
                 "final_code", "final_text", "stage", "qid", "msgid", "due", "recheck", "fixed")

    def __init__(self, mid, rcpt, exist, dom, recheck=None, fixed=False):
        self.id = mid
        self.rcpt = rcpt
        self.exist = exist
        self.dom = dom
        self.created = time.monotonic()
        self.attempts = []      # (t0, t_reply, stage, code, text, src)
        self.outcome = None     # accepted | rejected | expired | unfinished
        self.t_final = None
        self.final_code = None
        self.final_text = ""
        self.stage = None
        self.qid = None
        self.msgid = "<soak-%d@%s>" % (mid, MSGID_DOMAIN)
        self.due = self.created
        self.recheck = recheck
        self.fixed = fixed

    def correct(self):
        return (self.outcome == "accepted" and self.exist) or \
               (self.outcome == "rejected" and not self.exist)


class Fault:
    def __init__(self, idx, kind, n, params):
        self.idx, self.kind, self.n, self.params = idx, kind, n, params
        self.start = self.end = None
        self.note = ""
        self.affected = set(AFFECTS[kind])
        self.decisive = "any" if kind in ("kill", "reload", "badconf", "redis") else "reject"
        self.recovered = None       # time of the first correct final verdict after end
        self.recovered_by = None

    def covers(self, dom):
        return "all" in self.affected or dom in self.affected


AFFECTS = {"kill": {"all"}, "dns": {"nxd"}, "mxdown": {"ok"}, "tarpit": {"soak"},
           "grey": {"grey"}, "reload": {"all"}, "badconf": {"all"}, "redis": {"all"}}
RECHECK_DOMS = {"kill": ["ok", "users", "soak", "nxd"], "dns": ["nxd"], "mxdown": ["ok"],
                "tarpit": ["soak"], "grey": ["grey"], "reload": ["ok", "users", "soak", "nxd"],
                "badconf": ["ok", "users", "soak", "nxd"], "redis": ["ok", "users", "soak", "nxd"]}


def nonexistent_addr(dom, tag):
    return {"ok": "nx-%s@ok.test", "users": "nx-%s@users.test", "soak": "nx-%s@soak.test",
            "nxd": "x@nxd-%s.test", "grey": "nx-%s@grey.test"}[dom] % tag


# the mix of the ordinary traffic: (weight, exist, dom, pattern or fixed address)
MIX = [
    (12, True, "ok", "alice+%s@ok.test"),
    (6, True, "ok", "bob+%s@ok.test"),
    (6, True, "ok", "=alice@ok.test"),
    (12, False, "ok", "nx-%s@ok.test"),
    (5, False, "ok", "=nobody@ok.test"),
    (12, True, "users", "known+%s@users.test"),
    (6, False, "users", "nx-%s@users.test"),
    (4, False, "users", "gone+%s@users.test"),
    (12, True, "soak", "known+%s@soak.test"),
    (9, False, "soak", "nx-%s@soak.test"),
    (10, False, "nxd", "x@nxd-%s.test"),
]
GREY_MIX = [(1, True, "grey", "known+%s@grey.test"), (1, False, "grey", "nx-%s@grey.test")]


class Soak:
    def __init__(self, minutes, store, workdir, clients, rate, seed):
        self.minutes = minutes
        self.store = store
        self.workdir = workdir
        self.clients = clients
        self.rate = rate
        self.rng = random.Random(seed)
        self.scale = min(1.0, max(0.2, minutes / 20.0))
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.heap = []
        self.inflight = 0
        self.msgs = []
        self.next_id = 1
        self.generating = True
        self.drain_deadline = None
        self.faults = []
        self.grey_on = False
        self.grey_window_nx = []    # grey.test addresses sent during a grey window
        self.samples = []           # (t, pid, rss_kb, fds)
        self.restarts = 0
        self.stop_evt = threading.Event()
        self.retry_max_age = max(150.0, 600.0 * self.scale)
        self.t0 = None
        self.front_left = []
        self.recheck_s = max(60.0, 300.0 * self.scale)     # how long a fault's rechecks go on
        self.rechecking = 0         # recheck threads still running (they outlive the traffic)

    # ---- timing helpers
    def rel(self, t):
        return t - self.t0

    # ---- scheduling
    def new_msg(self, rcpt, exist, dom, recheck=None, fixed=False, due=None):
        with self.cond:
            m = Msg(self.next_id, rcpt, exist, dom, recheck, fixed)
            self.next_id += 1
            if due is not None:
                m.due = due
            self.msgs.append(m)
            heapq.heappush(self.heap, (m.due, m.id, m))
            self.cond.notify()
        return m

    def pick(self):
        mix = MIX
        if self.grey_on:
            mix = MIX + [(w * 18, e, d, p) for (w, e, d, p) in GREY_MIX]
        total = sum(w for w, _, _, _ in mix)
        r = self.rng.uniform(0, total)
        for w, e, d, p in mix:
            r -= w
            if r <= 0:
                break
        tag = "%d%s" % (self.next_id, "".join(self.rng.choice("abcdefghijkmnpqrstuvwxyz")
                                               for _ in range(3)))
        if p.startswith("="):
            return p[1:], e, d, True
        return p % tag, e, d, False

    def generator(self):
        end = self.t0 + self.minutes * 60
        while time.monotonic() < end and not self.stop_evt.is_set():
            rcpt, e, d, fixed = self.pick()
            m = self.new_msg(rcpt, e, d, fixed=fixed)
            if d == "grey" and self.grey_on:
                with self.lock:
                    self.grey_window_nx.append((rcpt, e))
            time.sleep(self.rng.expovariate(self.rate))
        with self.cond:
            self.generating = False
            self.drain_deadline = time.monotonic() + max(self.retry_max_age, self.recheck_s) + 120
            self.cond.notify_all()

    def get(self):
        with self.cond:
            while True:
                now = time.monotonic()
                if self.drain_deadline and now > self.drain_deadline:
                    return None
                if self.heap and self.heap[0][0] <= now:
                    _, _, m = heapq.heappop(self.heap)
                    self.inflight += 1
                    return m
                if not self.generating and not self.heap and self.inflight == 0 \
                        and self.rechecking == 0:
                    self.cond.notify_all()
                    return None
                wait = 0.5 if not self.heap else min(0.5, max(0.01, self.heap[0][0] - now))
                self.cond.wait(wait)

    def worker(self, n):
        while True:
            m = self.get()
            if m is None:
                return
            try:
                self.attempt(m, n)
            finally:
                with self.cond:
                    self.inflight -= 1
                    self.cond.notify_all()

    def attempt(self, m, n):
        src = self.rng.choice(SOURCES)
        t0 = time.monotonic()
        stage, code, text = "CONNECT", 0, ""
        s = None
        try:
            s = smtplib.SMTP(FRONT_IP, 25, local_hostname="client%d.soak.client" % n, timeout=120,
                             source_address=(src, 0))
            stage = "EHLO"
            code, text = s.ehlo()
            if code == 250:
                stage = "MAIL"
                code, text = s.mail(SENDER)
            if code == 250:
                stage = "RCPT"
                code, text = s.rcpt(m.rcpt)
            if code == 250:
                stage = "DATA"
                body = ("From: <%s>\r\nTo: <%s>\r\nSubject: soak %d\r\nMessage-ID: %s\r\n\r\n"
                        "soak message %d, attempt %d\r\n" % (SENDER, m.rcpt, m.id, m.msgid, m.id,
                                                            len(m.attempts) + 1))
                try:
                    code, text = s.data(body)
                except smtplib.SMTPDataError as e:
                    code, text = e.smtp_code, e.smtp_error
        except smtplib.SMTPConnectError as e:
            code, text = e.smtp_code, e.smtp_error
        except (OSError, smtplib.SMTPException) as e:
            code, text = 0, "%s: %s" % (type(e).__name__, e)
        finally:
            if s is not None:
                try:
                    s.quit()
                except (OSError, smtplib.SMTPException):
                    try:
                        s.close()
                    except OSError:
                        pass
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        text = text.replace("\n", " ")
        t1 = time.monotonic()
        with self.cond:
            m.attempts.append((t0, t1, stage, code, text, src))
            if 200 <= code < 300:
                self.finalize(m, "accepted", t1, code, text, stage)
                mq = re.search(r"queued as (\w+)", text)
                m.qid = mq.group(1) if mq else None
            elif 500 <= code < 600:
                self.finalize(m, "rejected", t1, code, text, stage)
            else:
                k = len(m.attempts)
                if k >= 12 or t1 - m.created > self.retry_max_age:
                    self.finalize(m, "expired", t1, code, text, stage)
                else:
                    m.due = t1 + min(60.0, 5.0 * 2 ** (k - 1)) * self.rng.uniform(0.8, 1.2)
                    heapq.heappush(self.heap, (m.due, m.id, m))
            self.cond.notify_all()

    def finalize(self, m, outcome, t, code, text, stage):
        m.outcome, m.t_final, m.final_code, m.final_text, m.stage = outcome, t, code, text, stage
        # the first correct final verdict after a fault's end, for a domain it touched
        for f in self.faults:
            if f.end is None or f.recovered is not None or t < f.end or not f.covers(m.dom):
                continue
            if not m.correct():
                continue
            if f.decisive == "reject" and m.exist:
                continue
            f.recovered, f.recovered_by = t, m

    # ---- faults
    def schedule(self):
        s = self.scale
        order = ["kill", "dns", "mxdown", "tarpit", "grey", "reload", "badconf"]
        if self.store == "redis":
            order.insert(3, "redis")
        dur = {"kill": max(3, 10 * s), "dns": max(6, 30 * s), "mxdown": max(12, 60 * s),
               "tarpit": max(12, 60 * s), "grey": max(12, 60 * s), "reload": 0, "badconf": 0,
               "redis": max(5, 20 * s)}
        gap = max(10, 30 * s)
        t = max(15, 40 * s)
        end = self.minutes * 60 - max(10, 40 * s)
        plan, i, counts = [], 0, {}
        tarpits = [30, 60, 90]
        while True:
            kind = order[i % len(order)]
            d = dur[kind]
            if t + d > end:
                break
            counts[kind] = counts.get(kind, 0) + 1
            params = {"duration": d}
            if kind == "tarpit":
                params["delay"] = tarpits[(counts[kind] - 1) % 3] if s >= 1 else 30
            if kind == "kill":
                params["duration"] = [d, d * 0.5, d * 2][(counts[kind] - 1) % 3]
            plan.append((t, Fault(len(plan), kind, counts[kind], params)))
            t += params["duration"] + gap
            i += 1
        return plan

    def fault_runner(self, plan):
        for at, f in plan:
            while time.monotonic() < self.t0 + at:
                if self.stop_evt.wait(0.2):
                    return
            with self.lock:
                self.faults.append(f)
            try:
                getattr(self, "fault_" + f.kind)(f)
            except Exception as e:      # noqa: BLE001 - keep the soak going, say so
                f.note += " ERROR %s: %s" % (type(e).__name__, e)
                if f.end is None:
                    f.end = time.monotonic()
            with self.cond:
                self.rechecking += 1
            threading.Thread(target=self.recheck, args=(f,), daemon=True).start()

    def recheck(self, f):
        """Until f has recovered (or 300 s), also after the new traffic stops."""
        try:
            self._recheck(f)
        finally:
            with self.cond:
                self.rechecking -= 1
                self.cond.notify_all()

    def _recheck(self, f):
        doms = RECHECK_DOMS[f.kind]
        k = 0
        deadline = f.end + self.recheck_s
        while f.recovered is None and time.monotonic() < deadline and not self.stop_evt.is_set():
            if f.kind == "grey" and self.grey_window_nx_for(f):
                rcpt, e = self.grey_window_nx_for(f)[k % len(self.grey_window_nx_for(f))]
                self.new_msg(rcpt, e, "grey", recheck=f.idx)
                if k % 2 == 0:
                    tag = "r%d%d" % (f.idx, k)
                    self.new_msg(nonexistent_addr("grey", tag), False, "grey", recheck=f.idx)
            else:
                dom = doms[k % len(doms)]
                tag = "r%d-%d-%d" % (f.idx, k, self.rng.randrange(1000))
                self.new_msg(nonexistent_addr(dom, tag), False, dom, recheck=f.idx)
            k += 1
            time.sleep(2)

    def grey_window_nx_for(self, f):
        return [x for x in f.params.get("sent", []) if not x[1]]

    def fault_kill(self, f):
        f.start = time.monotonic()
        self.m.kill()
        time.sleep(f.params["duration"])
        self.m.start()
        self.restarts += 1
        f.end = time.monotonic()
        f.note = "down %.0f s" % (f.end - f.start)

    def fault_dns(self, f):
        p = self.w.procs["unbound"]
        f.start = time.monotonic()
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        time.sleep(f.params["duration"])
        self.w._spawn("unbound", ["unbound", "-d", "-c", self.w.path("unbound.conf")])
        import world
        while world._dns_query("127.0.0.1", 53, "ok.test", "MX") is None:
            time.sleep(0.05)
        f.end = time.monotonic()
        f.note = "unbound killed"

    def fault_mxdown(self, f):
        import world
        p = self.w.procs["postfix"]
        f.start = time.monotonic()
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        for _ in range(100):
            left = world._session_members(p.pid)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        time.sleep(f.params["duration"])
        self.w._spawn("postfix", [world.postfix_daemon_dir() + "/master", "-d", "-c",
                                  self.w.path("postfix/etc")])
        while not world._smtp_banner(world.POSTFIX_IP):
            time.sleep(0.05)
        f.end = time.monotonic()
        f.note = "mx.ok.test (Postfix) killed"

    def fault_tarpit(self, f):
        path = os.path.join(self.w.workdir, "soakmx.tarpit")
        with open(path, "w") as fh:
            fh.write("%d\n" % f.params["delay"])
        f.start = time.monotonic()
        time.sleep(f.params["duration"])
        os.unlink(path)
        f.end = time.monotonic()
        f.note = "banner held %d s" % f.params["delay"]

    def fault_grey(self, f):
        with self.lock:
            self.grey_window_nx = []
            self.grey_on = True
        f.start = time.monotonic()
        time.sleep(f.params["duration"])
        with self.lock:
            self.grey_on = False
            f.params["sent"] = list(self.grey_window_nx)
        f.end = time.monotonic()
        f.note = "%d grey.test rcpts" % len(f.params["sent"])

    def _reload(self, f, text, word):
        n = self.m.log().count(word)
        f.start = time.monotonic()
        self.m.reload(text)
        deadline = time.monotonic() + 10
        while self.m.log().count(word) <= n:
            if time.monotonic() > deadline:
                f.note = "no '%s' logged in 10 s" % word
                break
            time.sleep(0.05)
        else:
            f.note = "'%s' logged" % word

    def fault_reload(self, f):
        self._reload(f, self.m.config_text(), "reloaded")
        f.end = time.monotonic()

    def fault_badconf(self, f):
        broken = self.m.config_text(self.extra + 'policy = { recipient = { role_account = "block"; }; \n')
        self._reload(f, broken, "reload failed")
        self.m.write_config()
        f.end = time.monotonic()
        alive = self.m.proc.poll() is None
        f.note += "" if alive else "; mailverifyd EXITED (%s)" % self.m.proc.returncode

    def fault_redis(self, f):
        f.start = time.monotonic()
        self.redis.kill()
        self.redis.wait()
        time.sleep(f.params["duration"])
        self.start_redis()
        f.end = time.monotonic()
        f.note = "redis-server killed"

    # ---- redis
    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "6391", "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            r = subprocess.run(["redis-cli", "-p", "6391", "PING"], capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    # ---- sampling
    def sampler(self):
        while not self.stop_evt.wait(10):
            p = self.m.proc
            if p is None or p.poll() is not None:
                continue
            try:
                with open("/proc/%d/status" % p.pid) as f:
                    rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
                fds = len(os.listdir("/proc/%d/fd" % p.pid))
            except (OSError, AttributeError):
                continue
            self.samples.append((time.monotonic(), p.pid, rss, fds))

    # ---- the run
    def run(self):
        from world import World
        import world as worldmod
        from mvd import Milter

        wd = self.workdir

        class SoakWorld(World):
            def _prepare(self):
                super()._prepare()
                with open(self.path("test.zone"), "a") as f:
                    f.write("soak.test. 300 IN MX 10 mx.soak.test.\n"
                            "mx.soak.test. 300 IN A %s\n" % SOAK_MX_IP)

        # a private copy of the daemon: a rebuild during the soak must not
        # change what a restart runs
        os.makedirs(os.path.join(wd, "bin"), exist_ok=True)
        binary = os.path.join(wd, "bin", "mailverifyd")
        shutil.copy2(os.environ.get("MAILVERIFYD", "build/mailverifyd"), binary)

        self.w = SoakWorld(os.path.join(wd, "world"), grey_seconds=30)
        self.w.start()
        self.serv = None
        self.redis = None
        self.m = None
        try:
            self.serv = subprocess.Popen([worldmod.PYTHON, os.path.abspath(__file__), "--serve",
                                          self.w.workdir], stdout=open(self.w.path("soakmx.stderr"), "a"),
                                         stderr=subprocess.STDOUT, start_new_session=True)
            for _ in range(200):
                if os.path.exists(self.w.path("soakmx.ready")):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("soak MX did not start")
            if self.store == "redis":
                self.start_redis()
                cache = ('cache = { store = "redis"; redis_server = "127.0.0.1:6391"; };\n')
            else:
                cache = 'cache = { store = "lmdb"; lmdb_path = "%s"; };\n' % self.w.path("cache.mdb")
            self.extra = cache
            self.m = Milter(self.w, cache, port=10025, binary=binary,
                            dns={"timeout_ms": "2000", "tries": "2"})
            self.m.start()
            self.front = self.m.postfix("""
# deliver what is accepted: ok.test to the destination MX, soak.test to its
# MX, the rest to the sink; retry deferred mail soon
transport_maps = inline:{ ok.test=smtp:[127.0.0.2]:25, soak.test=smtp:[%s]:25 }
default_transport = smtp:[%s]:25
relay_transport = smtp:[%s]:25
local_transport = smtp:[%s]:25
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
smtp_tls_security_level = none
""" % (SOAK_MX_IP, SINK_IP, SINK_IP, SINK_IP))
            return self.soak()
        finally:
            self.stop_evt.set()
            if self.m is not None:
                self.m.stop()
            if self.serv is not None:
                os.killpg(self.serv.pid, signal.SIGTERM)
                self.serv.wait()
            if self.redis is not None and self.redis.poll() is None:
                self.redis.kill()
                self.redis.wait()
            self.w.stop()

    def git_rev(self):
        """The commit the daemon was built at, "+dirty" when tracked files differ."""
        top = os.path.join(HERE, "..", "..")
        rev = subprocess.run(["git", "-C", top, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", top, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")

    def soak(self):
        self.rev = self.git_rev()
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        plan = self.schedule()
        sys.stderr.write("soak: %g min, store %s, %d clients, %.1f msg/s, %d faults planned, "
                         "workdir %s\n" % (self.minutes, self.store, self.clients, self.rate,
                                           len(plan), self.workdir))
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(self.clients)]
        for t in threads:
            t.start()
        aux = [threading.Thread(target=self.fault_runner, args=(plan,), daemon=True),
               threading.Thread(target=self.sampler, daemon=True)]
        for t in aux:
            t.start()
        gen = threading.Thread(target=self.generator, daemon=True)
        gen.start()
        last = 0
        while gen.is_alive() or any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() - last > 60:
                last = time.monotonic()
                with self.lock:
                    done = sum(1 for m in self.msgs if m.outcome)
                    sys.stderr.write("soak: %4.0f s: %d messages, %d final, %d queued, %d faults\n"
                                     % (self.rel(last), len(self.msgs), done, len(self.heap),
                                        len(self.faults)))
        aux[0].join(120)
        self.t_end = time.monotonic()
        with self.lock:
            for m in self.msgs:
                if m.outcome is None:
                    m.outcome = "unfinished"
        self.flush_front()
        self.stop_evt.set()
        return self.report()

    def front_queue(self):
        p = subprocess.run(["postqueue", "-c", os.path.join(self.front, "etc"), "-j"],
                           capture_output=True, text=True, timeout=30)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def flush_front(self):
        deadline = time.monotonic() + 180
        while True:
            q = self.front_queue()
            if not q or time.monotonic() > deadline:
                self.front_left = q
                return
            subprocess.run(["postqueue", "-c", os.path.join(self.front, "etc"), "-f"],
                           capture_output=True, timeout=30)
            time.sleep(3)

    # ---- accounting
    def delivered_ids(self):
        got = {}
        with open(self.w.path("postfix", "maillog"), errors="replace") as f:
            for ln in f:
                mm = re.search(r"message-id=(<soak-\d+@soak\.client>)", ln)
                if mm:
                    got[mm.group(1)] = got.get(mm.group(1), 0) + 1
        try:
            with open(self.w.path("soak-received.log"), errors="replace") as f:
                for ln in f:
                    parts = ln.split()
                    if len(parts) >= 4 and parts[3].startswith("<soak-"):
                        got[parts[3]] = got.get(parts[3], 0) + 1
        except FileNotFoundError:
            pass
        return got

    def window_of(self, t, dom):
        """The fault whose window holds t, or None (fail-open in any fault's
        window is by policy, whatever domain it hit)."""
        for f in self.faults:
            if f.start is not None and f.start <= t <= (f.end or t):
                return f
        return None

    def tail_of(self, t, dom):
        """The fault t falls after, before its recovery (for a domain it touched)."""
        for f in self.faults:
            if f.end is None or not f.covers(dom):
                continue
            rec = f.recovered if f.recovered is not None else f.end + self.recheck_s
            if f.end <= t <= rec:
                return f
        return None

    def log_lines_for(self, addr, limit=4):
        out = []
        for ln in self.m.log().splitlines():
            if "=<%s>" % addr in ln:
                out.append(ln.strip())
        return out[-limit:]

    def report(self):
        got = self.delivered_ids()
        msgs = self.msgs
        sent = len(msgs)
        acc = [m for m in msgs if m.outcome == "accepted"]
        rej = [m for m in msgs if m.outcome == "rejected"]
        exp = [m for m in msgs if m.outcome == "expired"]
        unf = [m for m in msgs if m.outcome == "unfinished"]
        tempf = [m for m in msgs if any(a[3] == 0 or 400 <= a[3] < 500 for a in m.attempts)]
        retries = sum(len(m.attempts) - 1 for m in msgs)
        false_blocks = [m for m in rej if m.exist]
        fa = [m for m in acc if not m.exist]
        fa_in, fa_tail, fa_out = [], [], []
        for m in fa:
            t = m.attempts[-1][0]
            if self.window_of(t, m.dom) or self.window_of(m.t_final, m.dom):
                fa_in.append(m)
            elif self.tail_of(t, m.dom):
                fa_tail.append(m)
            else:
                fa_out.append(m)
        lost = [m for m in acc if m.exist and m.msgid not in got] + unf
        acc_found = sum(1 for m in acc if m.msgid in got)
        dups = sum(1 for m in acc if got.get(m.msgid, 0) > 1)
        # reasons as mailverifyd logged them
        reasons = {}
        for ln in self.m.log().splitlines():
            v = VERDICT.search(ln)
            if v and v.group("dir") == "to":
                k = "%s/%s" % (v.group("reason"), v.group("action"))
                reasons[k] = reasons.get(k, 0) + 1
        rss = [s[2] for s in self.samples]
        fds = [s[3] for s in self.samples]
        rev = self.rev

        L = []
        L.append("soak: %s, git %s, %g min (+%.0f s drain), cache.store %s, %d clients, %.1f new msg/s"
                 % (time.strftime("%Y-%m-%d %H:%M", time.localtime(self.wall0)), rev, self.minutes,
                    self.t_end - self.t0 - self.minutes * 60, self.store, self.clients, self.rate))
        L.append("")
        L.append("%-44s %8s" % ("messages", "count"))
        L.append("%-44s %8d" % ("sent", sent))
        L.append("%-44s %8d" % ("  of which to existing mailboxes", sum(1 for m in msgs if m.exist)))
        L.append("%-44s %8d" % ("  of which rechecks after a fault", sum(1 for m in msgs if m.recheck is not None)))
        L.append("%-44s %8d" % ("accepted", len(acc)))
        L.append("%-44s %8d" % ("  found at the destination or sink", acc_found))
        L.append("%-44s %8d" % ("  delivered more than once", dups))
        L.append("%-44s %8d" % ("rejected 5xx", len(rej)))
        L.append("%-44s %8d" % ("tempfailed (4xx or no answer) at least once", len(tempf)))
        L.append("%-44s %8d" % ("  retries (attempts after the first)", retries))
        L.append("%-44s %8d" % ("  expired (4xx until the retry bound)", len(exp)))
        L.append("%-44s %8d" % ("false blocks (5xx for an existing mailbox)", len(false_blocks)))
        L.append("%-44s %8d" % ("false accepts outside fault windows", len(fa_out)))
        L.append("%-44s %8d" % ("false accepts in fault windows (fail-open)", len(fa_in)))
        L.append("%-44s %8d" % ("false accepts after a fault, before recovery", len(fa_tail)))
        L.append("%-44s %8d" % ("lost", len(lost)))
        L.append("")
        L.append("%-8s %2s %-19s %-28s %-8s %s" % ("fault", "#", "window (s)", "note", "touched",
                                                   "time-to-recover"))
        for f in self.faults:
            win = "%.0f-%.0f" % (self.rel(f.start), self.rel(f.end)) if f.start and f.end else "?"
            touched = ",".join(sorted(f.affected))
            if f.recovered is not None:
                r = f.recovered_by
                rec = "%.1f s (%s %s)" % (f.recovered - f.end, r.rcpt, r.final_code)
            else:
                rec = "not seen"
            L.append("%-8s %2d %-19s %-28s %-8s %s" % (f.kind, f.n, win, f.note.strip()[:28],
                                                       touched[:8], rec))
        L.append("")
        if rss:
            L.append("mailverifyd every 10 s (%d samples, %d restarts): RSS kB min %d max %d last %d; "
                     "open fds min %d max %d last %d" % (len(rss), self.restarts, min(rss), max(rss),
                                                         rss[-1], min(fds), max(fds), fds[-1]))
            by_pid = {}
            for t, pid, r, fd in self.samples:
                by_pid.setdefault(pid, []).append((t, r, fd))
            for pid, ss in by_pid.items():
                L.append("  pid %d, %.0f-%.0f s: RSS %d -> %d kB, fds %d -> %d (max %d)"
                         % (pid, self.rel(ss[0][0]), self.rel(ss[-1][0]), ss[0][1], ss[-1][1],
                            ss[0][2], ss[-1][2], max(x[2] for x in ss)))
        L.append("verdicts logged (reason/action): " + ", ".join(
            "%s %d" % kv for kv in sorted(reasons.items(), key=lambda kv: -kv[1])))
        if self.front_left:
            L.append("front Postfix queue not empty at the end: %d messages" % len(self.front_left))

        def show(title, ms, n=8):
            if not ms:
                return
            L.append("")
            L.append("%s (%d):" % (title, len(ms)))
            for m in ms[:n]:
                a = m.attempts[-1] if m.attempts else None
                L.append("  %s at %.1f s: %s %s %s" % (m.rcpt, self.rel(a[0]) if a else -1,
                                                       m.stage, m.final_code, m.final_text[:110]))
                for ln in self.log_lines_for(m.rcpt, 2):
                    L.append("    log: " + ln[:200])
        show("false blocks", false_blocks)
        show("false accepts outside fault windows", fa_out)
        show("lost", lost)
        show("expired", exp)
        tail_by = {}
        for m in fa_tail:
            f = self.tail_of(m.attempts[-1][0], m.dom)
            tail_by.setdefault("%s %d" % (f.kind, f.n), []).append(m)
        if tail_by:
            L.append("")
            L.append("false accepts after a fault, before recovery, by fault: " + ", ".join(
                "%s: %d" % (k, len(v)) for k, v in tail_by.items()))
        text = "\n".join(L) + "\n"
        sys.stdout.write(text)
        with open(os.path.join(self.workdir, "soak-report.txt"), "w") as f:
            f.write(text)
        # every message, for digging afterwards
        with open(os.path.join(self.workdir, "soak-messages.tsv"), "w") as f:
            for m in msgs:
                f.write("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
                    m.id, m.rcpt, "exist" if m.exist else "nonexist", m.outcome, m.final_code,
                    len(m.attempts), "%.1f" % self.rel(m.t_final) if m.t_final else "-",
                    m.final_text[:120]))
        return 0 if not lost and not false_blocks else 1


FRONT_IP = "127.0.0.50"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(serve_main(sys.argv[2]))
        return 0
    minutes = float(os.environ.get("SOAK_MINUTES", "20"))
    store = os.environ.get("SOAK_STORE", "lmdb")
    if store not in ("lmdb", "redis"):
        sys.stderr.write("soak: SOAK_STORE must be lmdb or redis\n")
        return 2
    if store == "redis" and not shutil.which("redis-server"):
        sys.stderr.write("soak: no redis-server (tools/deps test)\n")
        return 2
    keep = os.environ.get("SOAK_KEEP")
    workdir = os.environ.get("SOAK_WORKDIR") or tempfile.mkdtemp(prefix="mv-soak-")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    s = Soak(minutes, store, workdir, int(os.environ.get("SOAK_CLIENTS", "12")),
             float(os.environ.get("SOAK_RATE", "3")), int(os.environ.get("SOAK_SEED", "1")))
    rc = s.run()
    sys.stderr.write("soak: workdir %s\n" % workdir)
    if not keep and not os.environ.get("SOAK_WORKDIR") and rc == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
