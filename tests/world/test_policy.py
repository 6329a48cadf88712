#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_policy - mailverifyd as a Postfix policy service, end to end: a
sending client, a real Postfix whose smtpd_recipient_restrictions call
check_policy_service after reject_unauth_destination, mailverifyd
(milter.serve = "policy"), the engine, and the test world's DNS and mail
servers -- all on loopback (run inside tests/in-netns).

What is asserted is what the people involved see: the reply code,
enhanced status code and text the sending client gets (swaks, smtplib),
the delivered message's headers, Postfix's hold queue, the front
Postfix's maillog, mailverifyd's log lines and `mailverify stats`.

Each class has its own world, mailverifyd (its own port) and front
Postfix on 127.0.0.50:25. Clients connect from 127.0.0.50 unless a test
says otherwise; the front's mynetworks is 127.0.0.1/32 only, so
permit_mynetworks does not let the test clients past the policy service.

    MAILVERIFYD=build/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_policy.py [-v]

Not covered through Postfix: SASL-authenticated clients (a Postfix with
SASL needs Cyrus or Dovecot set up); the Protocol class sends
sasl_username to the daemon directly, as Postfix would.
"""
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_milter as tm  # noqa: E402
from test_milter import MilterCase, replies, split_reply, wait_for, run_load, STOPPING  # noqa: E402
from mvd import Milter  # noqa: E402
from world import World  # noqa: E402

_ports = iter(range(10141, 10199))


def setUpModule():
    tm.TMP = tempfile.TemporaryDirectory(prefix="mv-policy-")
    os.chmod(tm.TMP.name, 0o755)


def tearDownModule():
    tm.tearDownModule()


def service(port, default_action=True):
    """check_policy_service's argument, Postfix >= 3.0 syntax."""
    if default_action:
        return "{ inet:127.0.0.1:%d, default_action=DUNNO }" % port
    return "inet:127.0.0.1:%d" % port


def front_cf(port, restrictions=None, extra="", relay="relay_domains = static:all\n",
             default_action=True):
    """A front Postfix's main.cf: the policy service in smtpd_recipient_restrictions
    after reject_unauth_destination (and, with smtpd_delay_reject = no, in
    smtpd_sender_restrictions, where Postfix asks it at MAIL FROM)."""
    svc = service(port, default_action)
    rr = restrictions if restrictions is not None else \
        "permit_mynetworks, reject_unauth_destination, check_policy_service " + svc
    return """myhostname = front.test
mydestination =
mynetworks = 127.0.0.1/32
{relay}smtpd_peername_lookup = no
smtpd_delay_reject = no
smtpd_relay_restrictions =
smtpd_sender_restrictions = check_policy_service {svc}
smtpd_recipient_restrictions = {rr}
default_transport = discard:front
relay_transport = discard:front
local_transport = discard:front
notify_classes =
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
""".format(relay=relay, svc=svc, rr=rr) + extra


class PolicyCase(MilterCase):
    """A world, mailverifyd serving the policy protocol only, a front Postfix."""
    RESTRICTIONS = None         # smtpd_recipient_restrictions (None: the standard one)
    RELAY = "relay_domains = static:all\n"

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.dir = tempfile.mkdtemp(prefix=cls.__name__ + "-", dir=tm.TMP.name)
        os.chmod(cls.dir, 0o755)
        cls.w = World(os.path.join(cls.dir, "world"), **cls.WORLD)
        cls.w.start()
        try:
            cls.port = next(_ports)
            milter = dict({"serve": '"policy"', "policy_socket": '"inet:%d@127.0.0.1"' % cls.port},
                          **cls.MILTER)
            cls.m = Milter(cls.w, cls.CONFIG, port=cls.port, args=cls.ARGS, milter=milter)
            cls.m.start()
            cls.setUpWorld()
            cls.front = cls.w.add_postfix("front", tm.FRONT_IP, front_cf(
                cls.port, cls.restrictions(), cls.FRONT_CF, cls.RELAY),
                tm.front_master_cf(cls.FRONT_MASTER))
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def restrictions(cls):
        return cls.RESTRICTIONS.format(svc=service(cls.port)) if cls.RESTRICTIONS else None


REJ = "<{a}>: Recipient address rejected: "


class BuiltinPolicy(PolicyCase):
    """The shipped policy: each reason's reply as the sending MTA sees it --
    the milter's code, enhanced code and words (test_milter.BuiltinPolicy)."""
    MILTER = {"trusted_networks": '[ "127.0.0.9/32" ]'}

    def check(self, rcpt, code, enh, text, reason, action, **kw):
        mark = self.log_mark()
        reply = self.rcpt(rcpt, **kw)
        self.assertReply(reply, code, enh, None if text is None else text.format(a=rcpt))
        v = self.verdict_for(rcpt, mark)
        self.assertIsNotNone(v, "no verdict logged for %s" % rcpt)
        self.assertEqual((v["reason"], v["action"]), (reason, action), rcpt)

    def test_refusals(self):
        for rcpt, code, enh, what, reason in [
            ("nobody@ok.test", "550", "5.1.1", "mailbox does not exist", "rejected_email"),
            ("gone@users.test", "550", "5.1.1", "mailbox does not exist", "rejected_email"),
            ("x@nonexistent.test", "550", "5.1.2", "domain does not exist", "invalid_domain"),
            # mailverifyd answers "556 5.1.10" (RFC 7505) as the milter does; Postfix
            # 3.7 rewrites an x.1.y it does not know in a recipient reply to x.1.0
            # (smtpd_dsn_fix), which the milter's replies do not go through
            ("x@nullmx.test", "556", "5.1.0", "domain does not accept mail", "no_mail_server"),
            ("x@nomail.test", "556", "5.1.0", "domain does not accept mail", "no_mail_server"),
            ("disabled@users.test", "550", "5.2.1", "mailbox is disabled", "mailbox_disabled"),
            ("a..b@ok.test", "501", "5.1.3", "bad address syntax", "invalid_syntax"),
        ]:
            with self.subTest(rcpt=rcpt):
                self.check(rcpt, code, enh, REJ + what, reason, "block")
        # the admin's view: Postfix logs the reply with the policy service's words
        self.assertRegex(self.front_log(), r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.50\]: 550 5\.1\.1 "
                         r"<nobody@ok\.test>: Recipient address rejected: mailbox does not exist;")

    def test_mailbox_full_is_tempfail(self):
        # DEFER_IF_PERMIT: Postfix's access_map_defer_code (450), the milter's 4.2.2 and words
        for rcpt in ("fulltemp@users.test", "full@users.test"):
            self.check(rcpt, "450", "4.2.2", REJ + "mailbox is full, try again later", "mailbox_full",
                       "tempfail")

    def test_accepted(self):
        self.check("alice@ok.test", "250", "2.1.5", "Ok", "accepted_email", "accept")

    def test_unknown_reasons_fail_open(self):
        for rcpt, reason in [("known@grey.test", "greylisted"), ("x@dead.test", "no_connect"),
                             ("x@servfail.test", "dns_error"), ("x@blocked.test", "blocked_by_server")]:
            with self.subTest(rcpt=rcpt):
                self.check(rcpt, "250", "2.1.5", "Ok", reason, "accept")

    def test_sender_refusals(self):
        for sender, code, enh, text in [
                ("s@nonexistent.test", "550", "5.1.8", "domain does not exist"),
                ("s@nullmx.test", "550", "5.1.8", "domain does not accept mail, so it cannot receive replies"),
                ("a..b@ok.test", "553", "5.1.7", "bad address syntax")]:
            with self.subTest(sender=sender):
                t = self.swaks("alice@ok.test", sender=sender)
                self.assertReply(replies(t, "MAIL FROM")[0], code, enh,
                                 "<%s>: Sender address rejected: %s" % (sender, text))

    def test_null_sender_skipped(self):
        before = self.m.stats()["skipped_null_sender"]
        t = self.swaks("nobody@ok.test", sender="<>")
        self.assertReply(replies(t, "MAIL FROM")[0], "250", "2.1.0")
        self.assertReply(replies(t, "RCPT TO")[0], "550", "5.1.1")
        self.assertEqual(self.m.stats()["skipped_null_sender"], before + 1)

    def test_trusted_network_skipped(self):
        before = self.m.stats()["skipped_trusted"]
        mark = self.log_mark()
        for rcpt in ("nobody@ok.test", "x@nonexistent.test"):
            self.assertReply(self.rcpt(rcpt, source="127.0.0.9"), "250", "2.1.5")
        self.assertEqual([v for v in tm.verdicts(self.log_since(mark))], [], "a trusted client was checked")
        # MAIL FROM and each RCPT: three requests skipped per session
        self.assertEqual(self.m.stats()["skipped_trusted"], before + 4)
        self.assertReply(self.rcpt("nobody@ok.test", source="127.0.0.10"), "550", "5.1.1")


class DeferIfPermit(PolicyCase):
    """tempfail -> DEFER_IF_PERMIT: Postfix defers only if the rest of the
    list ends in a permit; a later reject wins. policy_tempfail = "defer"
    defers at once, whatever follows (DeferAtOnce)."""
    CONFIG = 'policy = { recipient = { no_connect = "tempfail"; }; };\n'
    RESTRICTIONS = ("permit_mynetworks, reject_unauth_destination, check_policy_service {svc}, "
                    "check_recipient_access inline:{{ {{ x@dead.test = OK }}, {{ y@dead.test = REJECT no "
                    "thanks }} }}")
    DEFER = "450"
    AT_ONCE = False

    def test_later_permit_and_reject(self):
        tf = REJ + "verification failed for now (no connect), try again later"
        # a later OK (explicit permit): deferred
        self.assertReply(self.rcpt("x@dead.test"), self.DEFER, "4.4.3", tf.format(a="x@dead.test"))
        # the end of the list (implicit permit): deferred
        self.assertReply(self.rcpt("z@dead.test"), self.DEFER, "4.4.3", tf.format(a="z@dead.test"))
        # a later REJECT: with DEFER_IF_PERMIT the reject is what the client gets
        r = self.rcpt("y@dead.test")
        if self.AT_ONCE:
            self.assertReply(r, self.DEFER, "4.4.3", tf.format(a="y@dead.test"))
        else:
            self.assertReply(r, "554", "5.7.1", REJ.format(a="y@dead.test") + "no thanks")


class DeferAtOnce(DeferIfPermit):
    MILTER = {"policy_tempfail": '"defer"'}
    AT_ONCE = True


class WarnAndHold(PolicyCase):
    """warn -> PREPEND X-Mailverify (in the delivered message); review ->
    HOLD (Postfix's hold queue). The front delivers ok.test and
    catchall.test into a Maildir (as test_milter._Delivering)."""
    CONFIG = 'policy = { recipient = { role_account = "warn"; accept_all = "review"; }; };\n'
    FRONT_MASTER = "virtual   unix  -       n       n       -       -       virtual\n"
    RELAY = ""

    @classmethod
    def setUpWorld(cls):
        tm._Delivering.setUpWorld.__func__(cls)

    send = tm._Delivering.send
    delivered = tm._Delivering.delivered
    headers = tm._Delivering.headers
    hold_queue = tm._Delivering.hold_queue

    def test_warn_prepends_header(self):
        self.send("postmaster@ok.test", "warn-test")
        msg = self.delivered("warn-test")
        self.assertIsNotNone(msg, "not delivered")
        self.assertEqual(self.headers(msg, "X-Mailverify"),
                         ["recipient <postmaster@ok.test>; status=risky; reason=role_account; action=warn"])

    def test_accepted_has_no_header(self):
        self.send("alice@ok.test", "plain-test")
        msg = self.delivered("plain-test")
        self.assertIsNotNone(msg, "not delivered")
        self.assertEqual(self.headers(msg, "X-Mailverify"), [])

    def test_review_holds(self):
        qid = self.send("someone@catchall.test", "review-test")
        held = wait_for(lambda: [q for q in self.hold_queue() if q["queue_id"] == qid], 5)
        self.assertTrue(held, "not in the queue: %s" % self.hold_queue())
        self.assertEqual(held[0]["queue_name"], "hold")
        # Postfix logs the HOLD at RCPT, before the queue file has its id
        self.assertIn("NOQUEUE: hold: RCPT from unknown[127.0.0.50]: <someone@catchall.test>: Recipient "
                      "address mailverify: recipient <someone@catchall.test> (accept_all);", self.front_log())
        time.sleep(0.3)
        self.assertIsNone(self.delivered("review-test", timeout=0), "a held message was delivered")


class HarvestBudget(PolicyCase):
    """DHA on client_address: past milter.dha_limit unknown recipients the
    rest are deferred unprobed."""
    MILTER = {"dha_limit": "3"}

    def test_budget(self):
        t = self.swaks("h1@users.test,h2@users.test,h3@users.test,h4@users.test,known@users.test",
                       source="127.0.0.61")
        r = [split_reply(x)[:2] for x in replies(t, "RCPT TO")]
        self.assertEqual(r, [("550", "5.1.1")] * 3 + [("450", "4.7.1")] * 2, t)
        self.assertIn("Too many unknown recipients from your address; try again later",
                      replies(t, "RCPT TO")[3])
        rcpts = [c for c in self.w.commands("users") if c.startswith("RCPT")]
        for a in ("h4", "known"):
            self.assertNotIn("RCPT TO:<%s@users.test>" % a, rcpts, "probed past the budget")
        self.assertReply(self.rcpt("known@users.test", source="127.0.0.62"), "250", "2.1.5")
        self.assertEqual(self.m.stats()["dha_tempfail"], 2)
        self.assertIn("to=<h4@users.test> client=unknown[127.0.0.61] action=tempfail "
                      "reason=harvest_budget (not probed)", self.m.log())


class Reload(PolicyCase):
    """SIGUSR1 under load: no request fails, and later requests get the new policy."""
    MILTER = {"dha_limit": "0"}

    def test_reload_under_load(self):
        new = self.m.config_text('policy = { recipient = { role_account = "block"; }; };\n')
        t_sig = [None]

        def reload():
            n = self.m.log().count("reloaded")
            t_sig[0] = time.monotonic()
            self.m.reload(new)
            self.assertTrue(wait_for(lambda: self.m.log().count("reloaded") > n, 5))
            return time.monotonic()
        done_at, sessions = run_load(20, ["alice@ok.test", "nobody@ok.test", "postmaster@ok.test"],
                                     reload, settle=1.5, after=1.5)
        block = (550, "5.7.1 <postmaster@ok.test>: Recipient address rejected: not accepted here "
                      "(role account)")
        old = new_ = 0
        for c in sessions:
            got = [(e[1], e[2], e[3]) for e in c.events]
            # a command sent before the signal may be answered after the
            # reload: the reply's arrival decides which config it had
            start, end = c.events[0][0], c.replied_at
            self.assertEqual(len(got), 6, got)
            self.assertEqual(got[3][1:], (250, "2.1.5 Ok"), got)
            self.assertEqual(got[4][1:], (550, "5.1.1 <nobody@ok.test>: Recipient address rejected: "
                                               "mailbox does not exist"), got)
            if end < t_sig[0]:
                self.assertEqual(got[5][1:], (250, "2.1.5 Ok"), got)
                old += 1
            elif start > done_at:
                self.assertEqual(got[5][1:], block, got)
                new_ += 1
            else:
                self.assertIn(got[5][1:], [(250, "2.1.5 Ok"), block], got)
        self.assertGreaterEqual(old, 5)
        self.assertGreaterEqual(new_, 5)
        self.assertEqual(self.m.stats()["engine_errors"], 0)
        # Postfix never had to fall back on default_action
        self.assertNotIn("problem talking to server", self.front_log())


class Faults(PolicyCase):
    """The daemon killed: with default_action=DUNNO mail flows unchecked;
    a second front without it answers Postfix's own 451 4.3.5. DNS down
    with dns_error = tempfail: deferred within the deadline."""
    CONFIG = ('context = { recipient = { deadline_ms = 3000; }; };\n'
              'policy = { recipient = { dns_error = "tempfail"; }; };\n')

    def test_1_dns_down_tempfails_within_deadline(self):
        self.assertReply(self.rcpt("nobody@ok.test"), "550", "5.1.1")
        p = self.w.procs["unbound"]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        t0 = time.monotonic()
        self.assertReply(self.rcpt("x@users.test"), "450", "4.4.3",
                         REJ.format(a="x@users.test") + "verification failed for now (dns error), "
                         "try again later")
        self.assertLess(time.monotonic() - t0, 4.0)

    def test_2_killed(self):
        strict = self.w.add_postfix("strict", "127.0.0.51", front_cf(self.port, default_action=False),
                                    tm.front_master_cf())
        self.assertReply(self.rcpt("nobody@ok.test"), "550", "5.1.1")
        self.m.kill()
        # default_action=DUNNO: unchecked, accepted
        self.assertReply(self.rcpt("nobody@ok.test"), "250", "2.1.5")
        t = self.swaks("nobody@ok.test", quit_after=None)
        self.assertReply(replies(t, ".")[-1], "250", "2.0.0")
        # no default_action: Postfix's own answer for a policy service it cannot
        # reach, here at MAIL FROM (smtpd_sender_restrictions asks it first)
        r = replies(tm.swaks("--from", "s@ok.test", "--to", "nobody@ok.test", "--quit-after", "RCPT",
                             server="127.0.0.51")[1], "MAIL FROM")[0]
        self.assertReply(r, "451", "4.3.5", "<s@ok.test>: Sender address rejected: Server configuration problem")
        with open(os.path.join(strict, "maillog"), errors="replace") as f:
            self.assertIn("problem talking to server 127.0.0.1:%d" % self.port, f.read())
        self.m.start()


class Protocol(PolicyCase):
    """The daemon's side, spoken to directly as Postfix would: SASL clients,
    hostile input on one connection leaving the others alone, idle timeout."""
    MILTER = {"policy_idle_timeout_s": "2", "policy_max_line": "256"}

    def conn(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return s

    def ask(self, s, **attrs):
        attrs.setdefault("request", "smtpd_access_policy")
        attrs.setdefault("protocol_state", "RCPT")
        attrs.setdefault("client_address", "127.0.0.77")
        s.sendall(("".join("%s=%s\n" % kv for kv in attrs.items()) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n\n"):
            d = s.recv(4096)
            if not d:
                return None
            buf += d
        return buf.decode()

    def closed(self, s, timeout=5):
        s.settimeout(timeout)
        try:
            return s.recv(100) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def test_sasl_skipped(self):
        before = self.m.stats()["skipped_authenticated"]
        s = self.conn()
        self.assertEqual(self.ask(s, recipient="nobody@ok.test", sasl_username="bob"), "action=DUNNO\n\n")
        self.assertEqual(self.ask(s, recipient="nobody@ok.test"),
                         "action=550 5.1.1 mailbox does not exist\n\n")
        self.assertEqual(self.m.stats()["skipped_authenticated"], before + 1)
        s.close()

    def test_hostile_input(self):
        good = self.conn()
        self.assertEqual(self.ask(good, recipient="alice@ok.test"), "action=DUNNO\n\n")
        for junk, why in [(b"recipient=" + b"x" * 300 + b"\n\n", "request line too long"),
                          (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "control byte in request"),
                          (b"GET / HTTP/1.0\r\n\r\n", "line is not name=value"),
                          (b"recipient=a\0b\n\n", "NUL byte in request"),
                          (b"".join(b"a%d=1\n" % i for i in range(101)) + b"\n", "too many attributes")]:
            with self.subTest(why=why):
                mark = self.log_mark()
                s = self.conn()
                s.sendall(junk)
                self.assertTrue(self.closed(s), "not closed after %r" % junk[:20])
                lines = [ln for ln in self.log_since(mark).splitlines() if "policy: client" in ln]
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(why, lines[0])
                s.close()
        mark = self.log_mark()
        s = self.conn()
        s.sendall(b"protocol_state=RCPT\nrecipient=a@b.test\n")
        s.close()
        self.assertTrue(wait_for(lambda: "closed the connection in the middle of a request"
                                 in self.log_since(mark), 3))
        # the first connection was never touched
        self.assertEqual(self.ask(good, recipient="nobody@ok.test"),
                         "action=550 5.1.1 mailbox does not exist\n\n")
        good.close()
        self.assertIsNone(self.m.proc.poll())

    def test_idle_timeout(self):
        s = self.conn()
        self.assertEqual(self.ask(s, recipient="alice@ok.test"), "action=DUNNO\n\n")
        t0 = time.monotonic()
        self.assertTrue(self.closed(s, timeout=6))
        self.assertGreater(time.monotonic() - t0, 1.5)
        s.close()

    def test_many_connections(self):
        conns = [self.conn() for _ in range(300)]
        for i, s in enumerate(conns):
            s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.78\n"
                      b"recipient=alice@ok.test\n\n")
        for s in conns:
            self.assertEqual(s.recv(100), b"action=DUNNO\n\n")
            s.close()
        # one thread for the listener whatever the connection count
        threads = len(os.listdir("/proc/%d/task" % self.m.proc.pid))
        self.assertLess(threads, 10)


if __name__ == "__main__":
    unittest.main()
