#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_verify - every verdict of the engine, from real servers' behaviour.

Starts the loopback test world (world.py: unbound, a real Postfix, scripted
SMTP servers, a hostile DNS server) and runs the real `mailverify check
--json` against it, as a user would. Each reason of DESIGN.md is produced
by some server's actual behaviour; the servers' own logs show what the
probe did (sessions, RCPTs, never DATA). Run inside tests/in-netns.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
W = None
TMP = None


def setUpModule():
    global W, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-verify-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"), grey_seconds=2)
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def conf(text):
    """A config file in the temp dir; its path."""
    fd, path = tempfile.mkstemp(suffix=".conf", dir=TMP.name)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def check(*args, private=True, resolver="127.0.0.1", timeout=8000, stdin=None):
    """mailverify check --json ...; the verdicts, and the seconds it took."""
    cmd = [MV, "check", "--json", "--resolver", resolver, "--timeout", str(timeout)]
    if private:
        cmd.append("--allow-private")
    t0 = time.monotonic()
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=120)
    took = time.monotonic() - t0
    if p.returncode not in (0, 1) or b"Sanitizer" in p.stderr or b"runtime error" in p.stderr:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr.decode()))
    return [json.loads(l) for l in p.stdout.decode().splitlines()], took


def one(addr, *args, **kw):
    [v], took = check(*(list(args) + [addr]), **kw)
    return v, took


class Reasons(unittest.TestCase):
    """Each reason from the behaviour of a real or scripted server."""

    def expect(self, addr, status, reason, *args, **kw):
        v, took = one(addr, *args, **kw)
        self.assertEqual((v["status"], v["reason"]), (status, reason),
                         "%s: %s" % (addr, json.dumps(v)))
        return v, took

    def test_accepted_email_real_postfix(self):
        v, _ = self.expect("alice@ok.test", "deliverable", "accepted_email")
        smtp = v["checks"]["smtp"]
        self.assertEqual((smtp["code"], smtp["enhanced"], smtp["host"]), (250, "2.1.5", "mx.ok.test"))
        self.assertTrue(smtp["tls"], "Postfix offers STARTTLS: the probe should use it")
        self.assertEqual(v["checks"]["mx"], ["mx.ok.test"])
        self.assertIs(v["checks"]["catch_all"], False)
        self.assertIs(v["cached"], False)

    def test_rejected_email_real_postfix(self):
        v, _ = self.expect("nobody@ok.test", "undeliverable", "rejected_email")
        self.assertEqual((v["checks"]["smtp"]["code"], v["checks"]["smtp"]["enhanced"]), (550, "5.1.1"))
        self.assertIn("User unknown", v["checks"]["smtp"]["text"])
        self.assertEqual(v["action"], "block")

    def test_rejected_by_text_only(self):
        v, _ = self.expect("gone@users.test", "undeliverable", "rejected_email")
        self.assertIsNone(v["checks"]["smtp"]["enhanced"])

    def test_mailbox_full_and_disabled(self):
        self.expect("full@users.test", "risky", "mailbox_full")
        self.expect("fulltemp@users.test", "risky", "mailbox_full")
        self.expect("disabled@users.test", "undeliverable", "mailbox_disabled")

    def test_accept_all(self):
        W.clear_logs()
        v, _ = self.expect("someone@catchall.test", "risky", "accept_all")
        self.assertIs(v["checks"]["catch_all"], True)
        [s] = W.sessions("catchall")
        rcpts = [c for c in s["commands"] if c.upper().startswith("RCPT")]
        self.assertEqual(len(rcpts), 2, "the real RCPT, then one random one, in one session")
        self.assertNotEqual(rcpts[0], rcpts[1])

    def test_greylisted(self):
        v, _ = self.expect("known+g1@grey.test", "unknown", "greylisted")
        self.assertEqual(v["checks"]["smtp"]["code"] // 100, 4)

    def test_dns_reasons(self):
        self.assertEqual(self.expect("x@nonexistent.test", "undeliverable", "invalid_domain")[0]["checks"]["mx"], [])
        self.expect("x@nullmx.test", "undeliverable", "no_mail_server")
        self.expect("x@nomail.test", "undeliverable", "no_mail_server")
        self.expect("x@nohost.test", "undeliverable", "no_mail_server")
        self.expect("x@servfail.test", "unknown", "dns_error")
        self.expect("x@loop1.test", "unknown", "dns_error")

    def test_dns_timeout(self):
        path = conf("dns = { timeout_ms = 300; tries = 1; };\n")
        v, took = self.expect("x@timeout.test", "unknown", "dns_error", "--config", path)
        self.assertIn("timeout", v["detail"])
        self.assertLess(took, 3)

    def test_no_connect(self):
        v, _ = self.expect("x@dead.test", "unknown", "no_connect")
        self.assertIn("refused", v["detail"])

    def test_blocked_by_server(self):
        self.expect("x@banner554.test", "unknown", "blocked_by_server")
        self.expect("known@heloreject.test", "unknown", "blocked_by_server")
        v, _ = self.expect("x@blocked.test", "unknown", "blocked_by_server")
        self.assertIn("spamhaus", v["checks"]["smtp"]["text"])
        nofb = conf('smtp = { fallback_from = "none"; };\n')
        v, _ = self.expect("known@nonull.test", "unknown", "blocked_by_server", "--config", nofb)
        self.assertIn("mail", v["detail"])

    def test_tls_error_when_required(self):
        path = conf('smtp = { tls_required_domains = [ "badtls.test", "notls.test", "tls.test" ]; };\n')
        self.expect("known@badtls.test", "unknown", "tls_error", "--config", path)
        v, _ = self.expect("known@notls.test", "unknown", "tls_error", "--config", path)
        self.assertIn("not offered", v["detail"])
        v, _ = self.expect("known@tls.test", "deliverable", "accepted_email", "--config", path)
        self.assertTrue(v["checks"]["smtp"]["tls"])

    def test_opportunistic_tls_falls_back(self):
        W.clear_logs()
        v, _ = self.expect("known@badtls.test", "deliverable", "accepted_email")
        self.assertFalse(v["checks"]["smtp"]["tls"])
        self.assertEqual(len(W.sessions("badtls")), 2, "a TLS attempt, then plain SMTP")
        v, _ = self.expect("known@tlsreq.test", "deliverable", "accepted_email")
        self.assertTrue(v["checks"]["smtp"]["tls"])

    def test_temporary_error(self):
        v, _ = self.expect("x@t421.test", "unknown", "temporary_error")
        self.assertIn("421", json.dumps(v))

    def test_timeout_deadline(self):
        v, took = self.expect("known@tarpit.test", "unknown", "timeout", timeout=1000)
        self.assertLess(took, 3, "the deadline must hold against a tarpit")
        self.assertIn("1000 ms", v["detail"])

    def test_timeout_probe_stage(self):
        path = conf("smtp = { reply_timeout_ms = 800; };\n")
        v, took = self.expect("known@slow.test", "unknown", "timeout", "--config", path)
        self.assertLess(took, 4, "a banner dripping a byte a second is cut at the stage timeout")


class Walk(unittest.TestCase):
    """MX walking, implicit MX, CNAMEs, IPv6, fallbacks."""

    def test_walk_past_refusing_host(self):
        v, _ = one("alice@multi.test")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        self.assertEqual(v["checks"]["mx"][-1], "mx.ok.test")
        self.assertEqual(v["checks"]["smtp"]["host"], "mx.ok.test")

    def test_walk_past_421(self):
        W.clear_logs()
        v, _ = one("alice@tempfirst.test")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        self.assertEqual(len(W.sessions("t421")), 1, "the 421 host was tried first")

    def test_implicit_mx(self):
        v, _ = one("alice@amx.test")
        self.assertEqual((v["reason"], v["checks"]["mx"]), ("accepted_email", ["amx.test"]))

    def test_cname(self):
        v, _ = one("alice@cname.test")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))

    @unittest.skipUnless(os.path.exists("/proc/net/if_inet6"), "no IPv6 on this machine")
    def test_ipv6_target(self):
        v, _ = one("known@v6.test")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))

    def test_helo_fallback(self):
        W.clear_logs()
        v, _ = one("known@noehlo.test")
        self.assertEqual(v["reason"], "accepted_email")
        cmds = W.commands("noehlo")
        self.assertTrue(cmds[0].upper().startswith("EHLO") and cmds[1].upper().startswith("HELO"), cmds)

    def test_null_sender_fallback_by_default(self):
        # the shipped config: postmaster at the host's own name (mta.test here)
        W.clear_logs()
        v, _ = one("known@nonull.test")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        mails = [c for c in W.commands("nonull") if c.upper().startswith("MAIL")]
        self.assertEqual(mails, ["MAIL FROM:<>", "MAIL FROM:<postmaster@mta.test>"])

    def test_null_sender_fallback(self):
        W.clear_logs()
        path = conf('smtp = { fallback_from = "postmaster@mta.test"; };\n')
        v, _ = one("known@nonull.test", "--config", path)
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        mails = [c for c in W.commands("nonull") if c.upper().startswith("MAIL")]
        self.assertEqual(mails, ["MAIL FROM:<>", "MAIL FROM:<postmaster@mta.test>"])

    def test_next_hop(self):
        # a gateway verifying against its internal server: no MX lookup at
        # all (the resolver given here does not even answer)
        W.clear_logs()
        v, _ = one("known@users.test", "--next-hop", "[127.0.0.21]:25", resolver="127.0.0.1:9")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        self.assertEqual(v["checks"]["smtp"]["host"], "127.0.0.21")
        v, _ = one("nobody@users.test", "--next-hop", "[127.0.0.21]:25", resolver="127.0.0.1:9")
        self.assertEqual(v["reason"], "rejected_email")
        v, _ = one("known@users.test", "--next-hop", "mx.users.test:25")
        self.assertEqual(v["reason"], "accepted_email", json.dumps(v))
        self.assertEqual(v["checks"]["mx"], ["mx.users.test"])

    def test_dns_mode(self):
        before = W.postfix_log().count("connect from")
        v, _ = one("alice@ok.test", "--mode", "dns")
        self.assertEqual((v["status"], v["reason"], v["checks"]["mx"]), ("unknown", "unverified", ["mx.ok.test"]))
        self.assertIsNone(v["checks"]["smtp"])
        time.sleep(0.2)     # Postfix logs a connection within milliseconds
        self.assertEqual(W.postfix_log().count("connect from"), before, "mode dns opened an SMTP session")

    def test_ssrf_guard(self):
        v, _ = one("alice@ok.test", private=False)
        self.assertEqual(v["reason"], "no_connect")
        self.assertIn("SSRF", v["detail"])

    def test_offline_mode_never_asks(self):
        v, _ = one("alice@ok.test", "--offline")
        self.assertEqual(v["reason"], "unverified")
        self.assertIsNone(v["checks"]["mx"])


class Hostile(unittest.TestCase):
    """Servers and DNS answers that misbehave: a verdict, within the deadline."""

    def test_hostile_smtp(self):
        for name in ("garbage", "huge", "hugeline", "drop", "afterclose"):
            v, took = one("known@%s.test" % name, timeout=5000)
            self.assertIn(v["status"], ("unknown",), "%s: %s" % (name, json.dumps(v)))
            self.assertLess(took, 6, name)

    def test_hostile_memory_bounded(self):
        # a 1 MB reply line, an endless multi-line banner, 3000 MX records:
        # the process's peak memory stays that of any other check
        def peak_kb(args):
            p = subprocess.Popen([MV, "check", "--json", "--allow-private", "--timeout", "5000"] + args,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, ru = os.wait4(p.pid, 0)
            return ru.ru_maxrss
        base = peak_kb(["--resolver", "127.0.0.1", "alice@ok.test"])
        for args in (["--resolver", "127.0.0.1", "known@hugeline.test"],
                     ["--resolver", "127.0.0.1", "known@huge.test"],
                     ["--resolver", "127.0.0.1:5353", "--mode", "dns", "x@big.test"]):
            kb = peak_kb(args)
            print("\n  peak RSS %d KiB for %s (plain check: %d KiB)" % (kb, args[-1], base), file=sys.stderr)
            self.assertLess(kb, base + 4096, args)

    def test_hostile_dns(self):
        names = ["big", "tc", "alwaystc", "cut", "junk", "wrongid", "badcount", "longname",
                 "ptrloop", "ptrfwd", "shortmx", "cnameloop", "refused", "timeout"]
        path = conf("dns = { timeout_ms = 500; tries = 1; };\n")
        vs, took = check("--config", path, "--mode", "dns", "-", resolver="127.0.0.1:5353",
                         timeout=3000, stdin="".join("x@%s.test\n" % n for n in names).encode())
        self.assertEqual(len(vs), len(names))
        for n, v in zip(names, vs):
            self.assertIn(v["reason"], ("dns_error", "unverified", "no_mail_server", "timeout"),
                          "%s: %s" % (n, json.dumps(v)))
        by = dict(zip(names, vs))
        self.assertEqual(by["big"]["reason"], "unverified")      # 3000 MX over TCP: fine
        self.assertEqual(len(by["big"]["checks"]["mx"]), 10)       # the best 10 kept
        self.assertEqual(by["longname"]["reason"], "dns_error")
        self.assertEqual(by["tc"]["reason"], "unverified")         # retried over TCP


class Behaviour(unittest.TestCase):
    """What the probe does on the wire, and the cache."""

    def test_never_data(self):
        for a in ("alice@ok.test", "known@users.test", "x@catchall.test"):
            one(a)
        self.assertEqual(W.data_received(), [])
        self.assertNotIn("DATA", "\n".join(W.commands("users")).upper().split())

    def test_greylist_reprobe_fills_cache(self):
        addr = b"known+g2@grey.test\n"
        p = subprocess.Popen([MV, "check", "--json", "--resolver", "127.0.0.1", "--allow-private",
                              "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            p.stdin.write(addr)
            p.stdin.flush()
            first = json.loads(p.stdout.readline())
            self.assertEqual(first["reason"], "greylisted")
            time.sleep(5.5)     # the server asked for 2 s; the re-probe (2 s + a 2 s margin) ran by now
            p.stdin.write(addr)
            p.stdin.flush()
            second = json.loads(p.stdout.readline())
        finally:
            p.stdin.close()
            p.wait(timeout=30)
            p.stdout.close()
        self.assertEqual((second["reason"], second["cached"]), ("accepted_email", True),
                         json.dumps(second))

    def stream(self, lines, *args, resolver="127.0.0.1", pause=0.0):
        """One long-lived `check -` process: write each line, read its answer."""
        p = subprocess.Popen([MV, "check", "--json", "--resolver", resolver, "--allow-private"]
                             + list(args) + ["-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = []
        try:
            for line in lines:
                if line is None:
                    time.sleep(pause)
                    continue
                p.stdin.write(line.encode() + b"\n")
                p.stdin.flush()
                out.append(json.loads(p.stdout.readline()))
        finally:
            p.stdin.close()
            p.wait(timeout=60)
            p.stdout.close()
        return out

    def test_late_answer_fills_cache(self):
        # the hostile DNS server answers dnsdelay.test after 2 s: the caller
        # gets unknown/timeout at 1 s, the lookup goes on, the retry hits
        a = "x@dnsdelay.test"
        first, second = self.stream([a, None, a], "--mode", "dns", "--timeout", "1000",
                                    resolver="127.0.0.1:5353", pause=2.5)
        self.assertEqual(first["reason"], "timeout")
        self.assertLess(first["elapsed_ms"], 1500)
        self.assertEqual((second["reason"], second["cached"]), ("unverified", True), json.dumps(second))
        self.assertEqual(second["checks"]["mx"], ["mx.ok.test"])

    def test_refusing_host_is_left_alone(self):
        W.clear_logs()
        vs = self.stream(["a@banner554.test", "b@banner554.test", "c@banner554.test"])
        self.assertEqual({v["reason"] for v in vs}, {"blocked_by_server"})
        self.assertEqual(len(W.sessions("banner554")), 1, "one refusal is enough: back off")
        self.assertIn("refused probes recently", vs[1]["detail"])

    def test_greylisting_waits(self):
        W.clear_logs()
        self.stream(["known+g3@grey.test", None], pause=1.0)
        self.assertEqual(len(W.sessions("grey")), 1, "no reconnect before the server's delay")

    def test_cached_answer(self):
        vs, _ = check("-", stdin=b"alice@ok.test\nalice@ok.test\nAlice@OK.test\n")
        self.assertEqual([v["cached"] for v in vs], [False, True, False])
        self.assertEqual({v["reason"] for v in vs}, {"accepted_email"})

    def test_arguments_together_in_order(self):
        # addresses given as arguments are verified together (one session for
        # users.test's three, not one each) and printed in the order given
        W.clear_logs()
        addrs = ["known@users.test", "not-an-address", "nobody@ok.test", "full@users.test",
                 "known@users.test", "disabled@users.test"]
        vs, _ = check(*addrs)
        self.assertEqual([v["address"] for v in vs], addrs)
        self.assertEqual([v["reason"] for v in vs],
                         ["accepted_email", "invalid_syntax", "rejected_email", "mailbox_full",
                          "accepted_email", "mailbox_disabled"])
        self.assertLess(len(W.sessions("users")), 3, W.sessions("users"))

    def test_trace(self):
        # --trace: on stderr, what an admin would check with dig and swaks;
        # the verdicts on stdout as without it
        base = [MV, "check", "--json", "--resolver", "127.0.0.1", "--allow-private", "--timeout", "8000"]
        addrs = ["alice@ok.test", "nobody@ok.test", "x@nullmx.test", "known+t1@grey.test"]
        p = subprocess.run(base + ["--trace"] + addrs, capture_output=True, timeout=120)
        err = p.stderr.decode()
        self.assertNotIn("Sanitizer", err)
        vs = [json.loads(l) for l in p.stdout.decode().splitlines()]
        self.assertEqual([v["reason"] for v in vs],
                         ["accepted_email", "rejected_email", "no_mail_server", "greylisted"], err)
        # DNS: the MX host with its preference and address, the TTL; the null MX
        self.assertIn("[ok.test] dns: MX 10 mx.ok.test: 127.0.0.2\n", err)
        self.assertRegex(err, r"\[ok\.test\] dns: ttl \d+ s")
        self.assertIn("[nullmx.test] dns: null MX (MX 0 .)", err)
        self.assertNotRegex(err, r"\[s\d+ nullmx\.test\] connect", "a null MX is never probed")
        # the target tried, then the dialogue both ways with times
        # addresses given together are checked together: sessions' lines
        # interleave (one session for both ok.test addresses, or two when
        # the second came after the first had started), so each dialogue is
        # read from one session's own lines
        per = {}
        for l in err.splitlines():
            m = re.match(r"\[(s\d+) ok\.test\]", l)
            if m:
                per.setdefault(m.group(1), []).append(l + "\n")
        texts = ["".join(v) for v in per.values()]

        def in_a_session(pattern):
            self.assertTrue(any(re.search(pattern, t) for t in texts),
                            "no ok.test session has %r:\n%s" % (pattern, err))
        S = r"\[s\d+ ok\.test\] +\+\d+ms "
        in_a_session(r"\[s\d+ ok\.test\] connect to mx\.ok\.test \[127\.0\.0\.2\]:25 \(MX 10, "
                     r"address 1 of 1\) for alice@ok\.test")
        in_a_session(S + r"<- 220 mx\.ok\.test ESMTP")
        in_a_session(S + r"-> EHLO \S+\n" + S + r"<- 250-mx\.ok\.test\n")
        in_a_session(S + r"<- 250-STARTTLS\n")
        in_a_session(S + r"-> STARTTLS\n" + S + r"<- 220 2\.0\.0 Ready to start TLS\n")
        in_a_session(S + r"TLS handshake done: TLSv1\.[23], cipher \S+")
        in_a_session(S + r"-> MAIL FROM:<>\n" + S + r"<- 250 2\.1\.0 Ok\n")
        in_a_session(S + r"-> RCPT TO:<alice@ok\.test>\n" + S + r"<- 250 2\.1\.5 Ok\n")
        in_a_session(S + r"-> RCPT TO:<nobody@ok\.test>\n" + S + r"<- 550 5\.1\.1 <nobody@ok\.test>: "
                     r"Recipient address rejected: User unknown")
        in_a_session(S + r"-> QUIT\n")
        in_a_session(S + r"end: done at rcpt")
        # the reading that decided, and the outcome with the verdict's own detail
        self.assertRegex(err, r"\] nobody@ok\.test: 550 5\.1\.1 read as rejected_email by \S")
        self.assertIn("] nobody@ok.test => rejected_email: %s" % vs[1]["detail"], err)
        self.assertIn("] alice@ok.test => accepted_email: %s" % vs[0]["detail"], err)
        self.assertIn("[nullmx.test] x@nullmx.test => no_mail_server: %s" % vs[2]["detail"], err)
        self.assertRegex(err, r"\[s\d+ grey\.test\] +\+\d+ms <- 450 4\.7\.1 Greylisted")
        self.assertRegex(err, r"\] known\+t1@grey\.test: 450 4\.7\.1 read as greylisted \(temporary\) by \S")
        self.assertRegex(err, r"\] known\+t1@grey\.test => greylisted: ")
        self.assertNotIn("{", err, "verdicts go to stdout only")
        # without --trace: nothing on stderr
        p = subprocess.run(base + addrs[:3], capture_output=True, timeout=120)
        self.assertEqual(p.stderr, b"")
        self.assertEqual([json.loads(l)["reason"] for l in p.stdout.decode().splitlines()],
                         ["accepted_email", "rejected_email", "no_mail_server"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
