#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_sendmail - mailverifyd called by a real Sendmail (INPUT_MAIL_FILTER).

The test world, mailverifyd (mvd.Milter) and Debian's Sendmail 8.17
unpacked by tools/sendmail-pkg (sendmail.py) on 127.0.0.1:2527 with
INPUT_MAIL_FILTER(mv, S=inet:10025@127.0.0.1, F=T, ...), fed by swaks as a
client would be: what the client sees for an accepted, a rejected and a
tempfailed recipient and a rejected sender (code, enhanced code and
mailverifyd's text, which Sendmail passes through unchanged); the header
"warn" adds and the quarantine "review" asks for, read from Sendmail's
queue; and what F=T does when mailverifyd is not there or dies mid-session.
Run inside tests/in-netns, after tools/sendmail-pkg.
"""
import os
import smtplib
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World                   # noqa: E402
from mvd import Milter, swaks, reply_to   # noqa: E402
from sendmail import Sendmail, SM_IP      # noqa: E402

W = M = SM = None
TMP = None
# role accounts tagged, catch-all domains set aside: the rest is the
# shipped policy (rejected_email block, mailbox_full tempfail ...)
POLICY = 'policy = { recipient = { role_account = "warn"; accept_all = "review"; }; };\n'


def setUpModule():
    global W, M, SM, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-sendmail-")
    os.chmod(TMP.name, 0o755)
    W = World(os.path.join(TMP.name, "world"))
    W.__enter__()
    try:
        M = Milter(W, POLICY)
        M.start()
        t0 = time.monotonic()
        SM = Sendmail(W, milter_port=M.port)
        SM.start()
        print("sendmail: up in %.2f s" % (time.monotonic() - t0), file=sys.stderr)
    except Exception:
        tearDownModule()
        raise


def tearDownModule():
    for x in (SM, M):
        if x is not None:
            x.stop()
    W.__exit__(None, None, None)
    TMP.cleanup()


def send(*args, port=2527):
    """swaks to a Sendmail; the transcript."""
    _, t = swaks("--port", str(port), "--helo", "client.test", *args, server=SM_IP)
    return t


def rcpt(addr, sender="sender@ok.test", port=2527):
    """The reply to RCPT TO:<addr> (the session ends there)."""
    return reply_to(send("--from", sender, "--to", addr, "--quit-after", "RCPT", port=port), "RCPT TO")


class Verdicts(unittest.TestCase):
    def test_accepted(self):
        self.assertEqual(rcpt("alice@ok.test"), "250 2.1.5 <alice@ok.test>... Recipient ok")

    def test_rejected_unknown_mailbox(self):
        # mailverifyd's code, enhanced code and words, as the client sees
        # them. Sendmail puts "<addr>... " before the text of a 5xx a milter
        # sets at MAIL and RCPT (its usrerr() style), not before a 4xx:
        # under Sendmail the address shows twice (Postfix passes it as is)
        self.assertEqual(rcpt("nobody@ok.test"),
                         "550 5.1.1 <nobody@ok.test>... <nobody@ok.test>: Recipient address rejected: "
                         "mailbox does not exist")

    def test_rejected_no_domain(self):
        self.assertEqual(rcpt("x@nonexistent.test"),
                         "550 5.1.2 <x@nonexistent.test>... <x@nonexistent.test>: Recipient address "
                         "rejected: domain does not exist")

    def test_tempfail_mailbox_full(self):
        # users.test answers 552 5.2.2 for full@; the policy says tempfail
        self.assertEqual(rcpt("full@users.test"),
                         "452 4.2.2 <full@users.test>: Recipient address rejected: mailbox is full, "
                         "try again later")

    def test_sender_rejected(self):
        t = send("--from", "someone@nonexistent.test", "--to", "alice@ok.test", "--quit-after", "RCPT")
        self.assertEqual(reply_to(t, "MAIL FROM"),
                         "550 5.1.8 <someone@nonexistent.test>... <someone@nonexistent.test>: Sender "
                         "address rejected: domain does not exist")

    def test_log_line_has_queue_id(self):
        # Sendmail sends the "i" macro at MAIL: the verdict is logged with it
        rcpt("bob@ok.test")
        lines = [l for l in M.log().splitlines() if "to=<bob@ok.test>" in l]
        self.assertTrue(lines, M.log()[-2000:])
        self.assertNotIn("NOQUEUE", lines[-1])
        self.assertIn("client=localhost[127.0.0.1]", lines[-1])


class Messages(unittest.TestCase):
    """Whole messages (DATA) land in Sendmail's queue (queueonly)."""

    def setUp(self):
        SM.clear_queue()

    def message(self, to):
        t = send("--from", "sender@ok.test", "--to", to, "--header", "Subject: test")
        self.assertRegex(reply_to(t, "."), r"^250 2\.0\.0 \S+ Message accepted for delivery", t)
        q = SM.queue()
        self.assertEqual(len(q), 1, q)
        return q[0]

    def test_mixed_recipients_tagged(self):
        # one message: a plain, an unknown (refused at RCPT), a role account
        t = send("--from", "sender@ok.test", "--to", "alice@ok.test,nobody@ok.test,postmaster@ok.test")
        self.assertIn("550 5.1.1 <nobody@ok.test>", t)
        q = SM.queue()
        self.assertEqual(len(q), 1, t)
        self.assertEqual(sorted(q[0]["recipients"]), ["<alice@ok.test>", "<postmaster@ok.test>"])
        tags = [v for n, v in q[0]["headers"] if n == "X-Mailverify"]
        self.assertEqual(tags, ["recipient <postmaster@ok.test>; status=risky; reason=role_account; "
                                "action=warn"], q[0]["headers"])
        self.assertIsNone(q[0]["quarantine"])
        self.assertTrue(q[0]["file"].startswith("qf"))

    def test_plain_message_untouched(self):
        m = self.message("alice@ok.test")
        self.assertNotIn("X-Mailverify", [n for n, _ in m["headers"]])
        self.assertIsNone(m["quarantine"])

    def test_review_quarantines(self):
        # catchall.test accepts every RCPT: accept_all -> review -> quarantine;
        # Sendmail keeps a quarantined message as hfID with the reason in "q"
        m = self.message("x@catchall.test")
        self.assertTrue(m["file"].startswith("hf"), m)
        self.assertEqual(m["quarantine"], "mailverify: recipient <x@catchall.test> (accept_all)")


class MilterDown(unittest.TestCase):
    """F=T: no filter, no mail. Without it Sendmail goes on unfiltered."""

    def test_not_listening_tempfails(self):
        # nothing listens on 10026: Sendmail cannot reach the filter when
        # the client connects and, with F=T, greets and answers EHLO as
        # usual, then tempfails every MAIL FROM of the session
        with Sendmail(W, milter_port=10026, port=2528, name="sm-down") as sm:
            t = send("--from", "sender@ok.test", "--to", "nobody@ok.test", "--quit-after", "RCPT",
                     port=sm.port)
            self.assertEqual(reply_to(t, "MAIL FROM"), "451 4.3.2 Please try again later")

    def test_not_listening_without_F_T_passes_unchecked(self):
        with Sendmail(W, milter_port=10026, port=2529, name="sm-open", flags="") as sm:
            self.assertEqual(rcpt("nobody@ok.test", port=sm.port),
                             "250 2.1.5 <nobody@ok.test>... Recipient ok")

    def test_killed_mid_session_then_back(self):
        # mailverifyd dies between two RCPTs of one session: the next RCPT is
        # tempfailed, not accepted unchecked; a restarted mailverifyd serves
        # the next session
        s = smtplib.SMTP(SM_IP, 2527, local_hostname="client.test", timeout=30)
        try:
            s.mail("sender@ok.test")
            self.assertEqual(s.rcpt("alice@ok.test")[0], 250)
            M.kill()
            self.assertEqual(s.rcpt("nobody@ok.test"), (451, b"4.3.2 Please try again later"))
            # the filter stays gone for the rest of the session (F=T)
            s.rset()
            self.assertEqual(s.mail("sender@ok.test"), (451, b"4.3.2 Please try again later"))
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                pass
            M.start()
        self.assertTrue(rcpt("nobody@ok.test").startswith("550 5.1.1 "))


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
