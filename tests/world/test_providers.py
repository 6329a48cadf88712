#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_providers - the engine against imitations of large mailbox providers
and mail security gateways (tests/world/providers.py), end to end.

    MAILVERIFY=build/mailverify MAILVERIFYD=build/mailverifyd \\
        tests/in-netns /usr/bin/python3 tests/world/test_providers.py [-v]

One world (World(providers=True)): each provider imitation is a scripted
server on 127.0.200.N behind an MX named like the provider's own
(gmail-smtp-in.l.google.com, contoso-com.mail.protection.outlook.com,
mta5.am0.yahoodns.net, mxa-00123.gslb.pphosted.com ...; served by the
world's unbound inside the namespace only). Every test address of the
table is verified three ways, the three runs at the same time:

  check   `mailverify check --json --resolver 127.0.0.1 --allow-private
          ADDR...` -- one call, every address, and no --timeout: the shipped
          deadline must be enough for a 6 s postscreen greeting, a tarpit
          of 1.5 s per reply, a slow multi-line banner;
  milter  mailverifyd (shipped policy: fail open) behind a real Postfix
          (127.0.0.50): one SMTP session per provider from its own client
          address (127.0.201.N; the harvest budget is per client), all
          of its addresses as RCPTs of one message (two sessions at once,
          from 127.0.201.N and 127.0.202.N, for the connection limit); what the sending MTA is
          told (250 / 452 / 550 and the enhanced code), what mailverifyd
          logged, and Postfix's own milter-reject log lines;
  bulk    `mailverify bulk` on one CSV of all the addresses.

The expected verdicts (providers.py) are what is right, not what the engine
says today: an unknown user is undeliverable/rejected_email however the
provider words it (5.1.1, 5.4.1 DBEB, 5.1.10, 5.5.0, 5.7.1 "No such user",
511, no enhanced code); a reputation or rate block anywhere (banner, MAIL,
RCPT; 4xx or 5xx) is unknown/blocked_by_server, never undeliverable; an
accept-all provider is never deliverable; slowness and odd framing change
nothing; limits and a first-session tempfail end in each address's real
verdict; a refused null sender is retried with the fallback sender; a
broken STARTTLS where TLS is required is unknown/tls_error. Other checks:
no scripted server ever gets DATA; every server was actually reached.
Keep the workdir (logs, CSVs): MV_KEEP=1.
Behaviours with per-client state (first session tempfailed, connection
limit) have one server per run, so the runs do not see each other.
"""
import csv
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import providers  # noqa: E402
from providers import expectations, matches  # noqa: E402
from world import World  # noqa: E402
import mvd  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
NET = ["--resolver", "127.0.0.1", "--allow-private"]
RUN_TIMEOUT = 85                # a run that takes longer is a failure of its own
MILTER_PORT = 10140
SENDER = "sender@ok.test"

W = None
M = None
TMP = None
FRONT = None
RESULTS = {}                    # part -> {address: result}
ERRORS = {}                     # part -> why the run failed as a whole
SECONDS = {}                    # part -> how long the run took


def client_ips(p):
    """The sending MTAs' addresses for provider p in the milter run: one per
    client session (the harvest budget is per client)."""
    n = int(p["ip"].rsplit(".", 1)[1])
    return ["127.0.%d.%d" % (201 + i, n) for i in range(p.get("milter_sessions", 1))]


# ---------------------------------------------------------------- the runs --

def run_check():
    addrs = [a for a, _, _ in expectations("check")]
    p = subprocess.run([MV, "check", "--json"] + NET + addrs, capture_output=True,
                       timeout=RUN_TIMEOUT)
    err = p.stderr.decode(errors="replace")
    if p.returncode not in (0, 1) or "Sanitizer" in err or "runtime error" in err:
        raise RuntimeError("check: exit %d: %s" % (p.returncode, err[-2000:]))
    out = [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln.strip()]
    return {v["address"]: v for v in out}


def run_bulk():
    addrs = [a for a, _, _ in expectations("bulk")]
    src = os.path.join(TMP, "providers.csv")
    out = os.path.join(TMP, "providers.out.csv")
    with open(src, "w") as f:
        f.write("id,email\n" + "".join("%d,%s\n" % (i, a) for i, a in enumerate(addrs)))
    p = subprocess.run([MV, "bulk", src, "-o", out, "-q"] + NET, capture_output=True,
                       timeout=RUN_TIMEOUT)
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0 or "Sanitizer" in err or "runtime error" in err:
        raise RuntimeError("bulk: exit %d: %s" % (p.returncode, err[-2000:]))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    if [r["email"] for r in rows] != addrs:
        raise RuntimeError("bulk: the output rows are not the input's, in order")
    return {r["email"]: r for r in rows}


def milter_session(p, addrs, src, out):
    """One message through the front Postfix from src: addrs as its RCPTs.
    out[addr] = (code, text, seconds, src)."""
    try:
        s = smtplib.SMTP(FRONT_IP, 25, local_hostname="client-%s.test" % src.replace(".", "-"),
                         timeout=RUN_TIMEOUT, source_address=(src, 0))
    except (OSError, smtplib.SMTPException) as e:
        for addr in addrs:
            out[addr] = (0, "connect: %r" % e, 0.0, src)
        return
    try:
        s.ehlo()
        s.mail(SENDER)
        for addr in addrs:
            t0 = time.monotonic()
            try:
                code, text = s.rcpt(addr)
                text = text.decode(errors="replace")
            except (OSError, smtplib.SMTPException) as e:
                code, text = 0, repr(e)
            out[addr] = (code, text.replace("\n", " "), time.monotonic() - t0, src)
        s.quit()
    except (OSError, smtplib.SMTPException):
        pass


def run_milter():
    out, threads = {}, []
    for p in providers.providers("milter"):
        addrs = ["%s@%s" % (local, p["domains"][0]) for local in p["expect"]]
        ips = client_ips(p)
        for i, src in enumerate(ips):
            threads.append(threading.Thread(target=milter_session,
                                            args=(p, addrs[i::len(ips)], src, out)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(RUN_TIMEOUT)
    return out


def run(part, fn):
    t0 = time.monotonic()
    try:
        RESULTS[part] = fn()
    except Exception as e:      # reported by every test of the run
        ERRORS[part] = "%s: %s" % (type(e).__name__, e)
        RESULTS[part] = {}
    SECONDS[part] = time.monotonic() - t0


FRONT_IP = mvd.FRONT_IP       # the Postfix that calls mailverifyd


def setUpModule():
    global W, M, TMP, FRONT
    t0 = time.monotonic()
    TMP = tempfile.mkdtemp(prefix="mv-providers-")
    os.chmod(TMP, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP, "world"), providers=True)
    W.start()
    try:
        M = mvd.Milter(W, "", port=MILTER_PORT)
        M.start()
        FRONT = M.postfix()
        threads = [threading.Thread(target=run, args=a) for a in
                   (("check", run_check), ("milter", run_milter), ("bulk", run_bulk))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except BaseException:
        tearDownModule()
        raise
    SECONDS["all"] = time.monotonic() - t0
    sys.stderr.write("  [runs: check %.1f s, milter %.1f s, bulk %.1f s; setup+runs %.1f s]\n"
                     % (SECONDS["check"], SECONDS["milter"], SECONDS["bulk"], SECONDS["all"]))


def tearDownModule():
    if M is not None and M.proc is not None:
        M.stop()
    if W is not None:
        W.stop()
    if TMP is not None:
        if os.environ.get("MV_KEEP"):       # the world's logs, mailverifyd's, the CSVs
            sys.stderr.write("  [kept %s]\n" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)


# ------------------------------------------------------------------- checks --

VERDICT = re.compile(r"(?P<qid>\S+): to=<(?P<addr>[^>]*)> client=(?P<client>\S+) "
                     r"status=(?P<status>\S+) reason=(?P<reason>\S+) action=(?P<action>\S+)")


def milter_verdicts():
    """{address: (status, reason, action)} from mailverifyd's log (the last line)."""
    out = {}
    for m in map(VERDICT.search, M.log().splitlines()):
        if m:
            out[m.group("addr")] = (m.group("status"), m.group("reason"), m.group("action"))
    return out


def want_reply(alts):
    """What the sending MTA should be told under the shipped policy (fail
    open): [(code, enhanced or None)], one per acceptable verdict."""
    out = []
    for status, reason in alts:
        if status == "undeliverable":
            out.append((550, {"rejected_email": "5.1.1", "mailbox_disabled": "5.2.1"}[reason]))
        elif (status, reason) == ("risky", "mailbox_full"):
            out.append((452, "4.2.2"))
        else:                   # deliverable, accept_all, the unknown reasons: accept
            out.append((250, None))
    return out


def describe(v):
    """The interesting part of a check verdict, for failure messages."""
    smtp = v.get("checks", {}).get("smtp") or {}
    return "%s/%s (smtp %s %s %r; detail %r; %s ms)" % (
        v.get("status"), v.get("reason"), smtp.get("code"), smtp.get("enhanced"),
        (smtp.get("text") or "")[:120], (v.get("detail") or "")[:160], v.get("elapsed_ms"))


class Check(unittest.TestCase):
    """mailverify check --json, every address in one call, no --timeout."""

    def verify(self, p):
        self.assertNotIn("check", ERRORS, ERRORS.get("check"))
        for addr, alts, _ in [e for e in expectations("check") if e[2] is p]:
            v = RESULTS["check"].get(addr)
            self.assertIsNotNone(v, "%s: no verdict" % addr)
            with self.subTest(addr=addr):
                self.assertTrue(matches(alts, v["status"], v["reason"]),
                                "%s: want %s, got %s" % (addr, providers._exp_text(
                                    alts if len(alts) > 1 else alts[0]), describe(v)))
                self.assertEqual(v["checks"]["mx"], [p["mx"]], addr)
        return [RESULTS["check"][a] for a, _, q in expectations("check") if q is p]


class Milter(unittest.TestCase):
    """mailverifyd behind Postfix: the RCPT reply, the verdict log, Postfix's log."""

    def verify(self, p):
        self.assertNotIn("milter", ERRORS, ERRORS.get("milter"))
        logged = milter_verdicts()
        with open(os.path.join(FRONT, "maillog"), errors="replace") as f:
            front_log = f.read()
        for addr, alts, _ in [e for e in expectations("milter") if e[2] is p]:
            got = RESULTS["milter"].get(addr)
            self.assertIsNotNone(got, "%s: no RCPT reply" % addr)
            code, text, secs, src = got
            m = re.match(r"(\d\.\d{1,3}\.\d{1,3})\b", text)
            enh = m.group(1) if m else None
            want = want_reply(alts)
            with self.subTest(addr=addr):
                v = logged.get(addr)
                self.assertTrue(v is not None and matches(alts, v[0], v[1]),
                                "%s: mailverifyd's verdict %s, want %s" % (
                                    addr, v, providers._exp_text(alts if len(alts) > 1 else alts[0])))
                self.assertTrue(any(code == c and (e is None or enh == e) for c, e in want),
                                "%s: the sending MTA was told %s %s, want %s (after %.1f s)"
                                % (addr, code, text, want, secs))
                if code == 550:     # the admin's view: Postfix logs the milter's refusal
                    self.assertRegex(front_log, r"milter-reject: RCPT from \S+\[%s\]: 550 %s <%s>"
                                     % (re.escape(src), re.escape(enh or ""),
                                        re.escape(addr)))


class Bulk(unittest.TestCase):
    """mailverify bulk on one CSV of every address."""

    def verify(self, p):
        self.assertNotIn("bulk", ERRORS, ERRORS.get("bulk"))
        for addr, alts, _ in [e for e in expectations("bulk") if e[2] is p]:
            r = RESULTS["bulk"].get(addr)
            self.assertIsNotNone(r, "%s: no row" % addr)
            with self.subTest(addr=addr):
                self.assertTrue(matches(alts, r["status"], r["reason"]),
                                "%s: want %s, got %s/%s (smtp %s %s %r)" % (
                                    addr, providers._exp_text(alts if len(alts) > 1 else alts[0]),
                                    r["status"], r["reason"], r.get("smtp_code"),
                                    r.get("smtp_enhanced"), r.get("smtp_reply")))
                self.assertEqual(r["mx"], p["mx"], addr)


def _make(cls, p):
    def test(self):
        self.verify(p)
    test.__doc__ = "%s: %s" % (p["name"], p["what"])
    return test


for _cls, _part in ((Check, "check"), (Milter, "milter"), (Bulk, "bulk")):
    for _p in providers.providers(_part):
        setattr(_cls, "test_" + _p["name"].replace("-", "_"), _make(_cls, _p))
del _cls, _part, _p             # a TestCase left in a module name would run twice


class Servers(unittest.TestCase):
    """What the imitated servers saw."""

    def test_no_data_ever(self):
        self.assertEqual(W.data_received(), [], "a probe sent DATA")

    def test_every_server_reached(self):
        # the MX names outside .test resolved (unbound local-data) and were probed
        for p in providers.PROVIDERS:
            with self.subTest(server=p["name"]):
                self.assertTrue(any("<connect %s:25>" % p["ip"] in s["events"]
                                    for s in W.sessions(p["name"])), "never reached")

    def test_null_sender_refused_then_fallback_sender(self):
        # the verdicts come from a session with a real sender, after <> was refused
        for name in ("nonull-policy", "nonull-syntax"):
            with self.subTest(server=name):
                mails = [c for c in W.commands(name) if c.upper().startswith("MAIL FROM:")]
                self.assertIn("MAIL FROM:<>", mails)
                self.assertTrue([m for m in mails if not m.startswith("MAIL FROM:<>")],
                                "never retried with a real sender: %s" % mails)

    def test_first_session_tempfail_retried(self):
        for part in ("check", "milter", "bulk"):
            with self.subTest(part=part):
                ss = W.sessions("first-tempfail-" + part)
                self.assertGreaterEqual(len(ss), 2, "no second session after the 421")
                self.assertIn("<first session of this client: tempfailed>", ss[0]["events"])
                self.assertTrue(any(c.upper().startswith("RCPT") for s in ss[1:]
                                    for c in s["commands"]), "no RCPT after the 421")

    def test_rcpt_limit_obeyed(self):
        # after "452 4.5.3 too many recipients" a session asks no more mailboxes
        # in vain: every address still got its verdict (above), from a later session
        for s in W.sessions("rcpt-limit"):
            rcpts = [c for c in s["commands"] if c.upper().startswith("RCPT")]
            with self.subTest(session=s["id"]):
                self.assertLessEqual(len(rcpts), 3, "kept sending RCPT after 452 4.5.3: %s" % rcpts)

    def test_tls_attempted_where_required(self):
        # the tls_error verdicts come from a STARTTLS that was tried and failed
        self.assertIn("STARTTLS", [c.upper() for c in W.commands("tls-broken")])


if __name__ == "__main__":
    unittest.main()
