#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_snippets - the README's copy-paste snippets for Postfix and Sendmail
work as printed.

docs/postfix-snippet.cf is the main.cf text the README shows (and is to
include verbatim); docs/sendmail-snippet.mc its sendmail.mc line. Here:

- a real Postfix whose main.cf ends with exactly docs/postfix-snippet.cf --
  only the socket's path changed to one in the test's directory -- calls
  mailverifyd over a UNIX socket set up as mailverify.conf says for Postfix
  (milter.socket = "unix:PATH", socket_group = "postfix", socket_mode =
  "0660"), with mailverifyd running as an unprivileged user in group
  postfix, as the systemd unit runs it (etc/mailverifyd.service: User=,
  SupplementaryGroups=postfix); a client then gets 550 5.1.1 for an unknown
  recipient and 250 for a known one; with mailverifyd gone, what the
  snippet's milter_default_action promises;
- the snippet's settings are the ones its comments and mailverifyd need:
  the socket is the shipped milter.socket, milter_protocol 6,
  milter_command_timeout longer than the milter's deadlines;
- docs/sendmail-snippet.mc has the form TESTWORLD.md documents,
  INPUT_MAIL_FILTER(name, S=socket, F=flags, T=C:..;S:..;R:..;E:..), with
  the same socket and a reply timeout longer than the deadlines (Sendmail
  itself is exercised by test_sendmail.py);
- docs/postfix-policy-snippet.cf, the policy service's main.cf text: a real
  Postfix whose main.cf ends with it exactly as printed calls mailverifyd
  (milter.serve = "policy", the shipped milter.policy_socket) after
  reject_unauth_destination: 550 5.1.1 for an unknown recipient, 250 for a
  known one, a relay attempt refused by Postfix without asking mailverifyd,
  and with mailverifyd killed, default_action=DUNNO: 250, unchecked;
- all three are in the README word for word;
- the README's nginx locations of /verify are the shipped fastcgi.mount's.

    MAILVERIFYD=build/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_snippets.py [-v]
"""
import grp
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from world import World  # noqa: E402
from mvd import Milter, swaks, reply_to, FRONT_IP  # noqa: E402

POSTFIX_SNIPPET = os.path.join(ROOT, "docs", "postfix-snippet.cf")
POLICY_SNIPPET = os.path.join(ROOT, "docs", "postfix-policy-snippet.cf")
SENDMAIL_SNIPPET = os.path.join(ROOT, "docs", "sendmail-snippet.mc")
SHIPPED_CONF = os.path.join(ROOT, "etc", "mailverify.conf")
README = os.path.join(ROOT, "README.md")
MV_BIN = os.path.abspath(os.environ.get("MAILVERIFYD", os.path.join(ROOT, "build", "mailverifyd")))
RUN_AS = "nobody"               # the unit's User=: not root, in group postfix

# The front Postfix: an MX that relays for ok.test (the world's Postfix,
# where alice exists and nobody does) and discards what it accepts; the
# client is not in mynetworks. The snippet is appended to this.
FRONT_CF = """myhostname = front.test
mydestination =
mynetworks = 127.0.0.2/32
relay_domains = ok.test
smtpd_relay_restrictions = reject_unauth_destination
smtpd_peername_lookup = no
default_transport = discard:front
relay_transport = discard:front
notify_classes =
"""


def settings(text, comment="#"):
    """name = value lines of a main.cf text (comments and blank lines skipped)."""
    out = {}
    for ln in text.splitlines():
        if not ln.strip() or ln.lstrip().startswith(comment):
            continue
        name, sep, value = ln.partition("=")
        if not sep:
            raise AssertionError("not a main.cf line: %r" % ln)
        out[name.strip()] = value.strip()
    return out


def seconds(v):
    """A Postfix/Sendmail time value (10s, 5m, 1h, bare seconds) in seconds."""
    m = re.fullmatch(r"(\d+)([smhd]?)", v)
    if not m:
        raise AssertionError("not a time value: %r" % v)
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def shipped():
    """From etc/mailverify.conf: the milter socket and the longest deadline (s)
    of the sender and recipient contexts."""
    with open(SHIPPED_CONF) as f:
        text = f.read()
    sock = re.search(r'^\s*socket\s*=\s*"([^"]+)"', text, re.M).group(1)
    deadlines = [int(re.search(r"\b%s\s*=\s*\{[^}]*deadline_ms\s*=\s*(\d+)" % ctx, text).group(1))
                 for ctx in ("sender", "recipient")]
    return sock, max(deadlines) / 1000.0


def read(path):
    with open(path) as f:
        return f.read()


class Snippets(unittest.TestCase):
    """What can be checked without an MTA."""

    def test_postfix_settings(self):
        s = settings(read(POSTFIX_SNIPPET))
        sock, deadline = shipped()
        self.assertEqual(set(s), {"smtpd_milters", "milter_default_action", "milter_protocol",
                                  "milter_connect_timeout", "milter_command_timeout",
                                  "milter_content_timeout"})
        # Postfix writes the shipped unix:PATH as unix:PATH too
        self.assertEqual(s["smtpd_milters"], sock)
        self.assertIn(s["milter_default_action"], ("accept", "tempfail"))
        self.assertEqual(s["milter_protocol"], "6")
        self.assertGreater(seconds(s["milter_command_timeout"]), deadline)
        self.assertGreater(seconds(s["milter_content_timeout"]), deadline)
        self.assertGreater(seconds(s["milter_connect_timeout"]), 0)

    def test_sendmail_line(self):
        lines = [ln for ln in read(SENDMAIL_SNIPPET).splitlines()
                 if ln.strip() and not ln.startswith("dnl")]
        self.assertEqual(len(lines), 1, lines)
        # TESTWORLD.md: INPUT_MAIL_FILTER(mv, S=inet:PORT@127.0.0.1, F=T,
        # T=C:5s;S:10s;R:10s;E:30s) -- here with m4 quotes, as sendmail.mc has them
        m = re.fullmatch(r"INPUT_MAIL_FILTER\(`([A-Za-z0-9_-]+)', `S=([^,]+), F=([RT]?), "
                         r"T=C:(\w+);S:(\w+);R:(\w+);E:(\w+)'\)(dnl)?", lines[0])
        self.assertIsNotNone(m, lines[0])
        name, sock, flags, c, s, r, e = m.groups()[:7]
        shipped_sock, deadline = shipped()
        self.assertEqual(sock, shipped_sock)
        self.assertRegex(sock, r"^(unix:/|local:/|inet6?:\d+@)")
        self.assertGreater(seconds(r), deadline)
        self.assertGreaterEqual(seconds(e), seconds(r))
        self.assertGreater(seconds(c), 0)
        self.assertGreater(seconds(s), 0)

    def test_nginx_snippets_match_the_shipped_mount(self):
        """Each README nginx location of the plugin's /verify is exactly the
        shipped fastcgi.mount + "/verify" (endpoints are exact paths); the
        keepalive snippet is served by test_hostage.py with shipped defaults."""
        with open(SHIPPED_CONF) as f:
            mount = re.search(r'^\s*mount\s*=\s*"([^"]*)"', f.read(), re.M).group(1).rstrip("/")
        blocks = re.findall(r"```nginx\n(.*?)```", read(README), re.S)
        locs = [m for b in blocks for m in re.findall(r"location = (\S*/verify) \{", b)]
        self.assertTrue(locs, "no nginx location of /verify in README.md")
        for loc in locs:
            self.assertEqual(loc, mount + "/verify")

    def test_in_readme_word_for_word(self):
        readme = read(README)
        for path in (POSTFIX_SNIPPET, SENDMAIL_SNIPPET, POLICY_SNIPPET):
            self.assertIn(read(path), readme, "%s is not in README.md as it is" % path)


class PostfixWithSnippet(unittest.TestCase):
    """A real Postfix configured with the snippet, mailverifyd on a UNIX socket."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-snippets-")
        os.chmod(cls.tmp.name, 0o755)   # Postfix (user postfix) works below it
        cls.w = World(os.path.join(cls.tmp.name, "world"))
        cls.w.start()
        cls.mvd = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        w = cls.w
        # /run/mailverifyd as systemd's RuntimeDirectory= makes it: owned by
        # the service's user, mode 0755
        cls.run_dir = w.path("run", "mailverifyd")
        os.makedirs(cls.run_dir)
        pw = pwd.getpwnam(RUN_AS)
        os.chown(cls.run_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(cls.run_dir, 0o755)
        cls.sock = os.path.join(cls.run_dir, "mailverifyd.sock")
        conf = Milter(w, milter={"socket": '"unix:%s"' % cls.sock, "socket_group": '"postfix"',
                                 "socket_mode": '"0660"',
                                 "control_socket": '"%s"' % os.path.join(cls.run_dir, "control.sock")})
        conf.write_config()
        cls.log_path = w.path("mailverifyd.log")
        cls.logf = open(cls.log_path, "w")
        cls.mvd = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "--reuid", RUN_AS, "--regid", str(pw.pw_gid), "--groups", "postfix",
             "--inh-caps=-all", MV_BIN, "-f", "-d", "-c", conf.path],
            stdout=cls.logf, stderr=cls.logf)
        deadline = time.monotonic() + 10
        while not cls.listening():
            if cls.mvd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mailverifyd did not listen on %s; see %s"
                                   % (cls.sock, cls.log_path))
            time.sleep(0.02)
        snippet = read(POSTFIX_SNIPPET)
        cls.adapted = snippet.replace("/run/mailverifyd/mailverifyd.sock", cls.sock)
        cls.base = w.add_postfix("front", FRONT_IP, FRONT_CF + cls.adapted)

    @classmethod
    def listening(cls):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(cls.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    @classmethod
    def tearDownClass(cls):
        if cls.mvd is not None and cls.mvd.poll() is None:
            cls.mvd.kill()
            cls.mvd.wait()
        cls.w.stop()
        cls.tmp.cleanup()

    def rcpt(self, to):
        _, t = swaks("--from", "sender@ok.test", "--to", to, "--quit-after", "RCPT")
        return t

    def test_1_only_the_socket_path_changed(self):
        snippet = read(POSTFIX_SNIPPET)
        self.assertEqual(snippet.count("/run/mailverifyd/mailverifyd.sock"), 1)
        self.assertNotEqual(self.adapted, snippet)
        self.assertEqual(self.adapted.replace(self.sock, "/run/mailverifyd/mailverifyd.sock"),
                         snippet)
        # and Postfix reads it as written
        etc = os.path.join(self.base, "etc")
        for name, value in settings(self.adapted).items():
            got = subprocess.run(["postconf", "-c", etc, "-h", name], capture_output=True,
                                 text=True).stdout.strip()
            self.assertEqual(got, value, name)

    def test_2_socket_as_configured(self):
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam("postfix").gr_gid)
        self.assertEqual(st.st_uid, pwd.getpwnam(RUN_AS).pw_uid)

    def test_3_unknown_recipient_rejected(self):
        t = self.rcpt("nobody@ok.test")
        r = reply_to(t, "RCPT TO")
        self.assertTrue(r.startswith("550 5.1.1 "), t)
        self.assertIn("nobody@ok.test", r)
        self.assertIn("milter-reject: RCPT", self.w.postfix_log() + read(os.path.join(
            self.base, "maillog")))

    def test_4_known_recipient_accepted(self):
        t = self.rcpt("alice@ok.test")
        self.assertTrue(reply_to(t, "RCPT TO").startswith("250 "), t)
        self.assertRegex(read(self.log_path), r"to=<alice@ok\.test> .*action=accept")

    def test_5_default_action_when_mailverifyd_is_gone(self):
        action = settings(read(POSTFIX_SNIPPET))["milter_default_action"]
        self.mvd.send_signal(signal.SIGKILL)
        self.mvd.wait()
        t = self.rcpt("alice@ok.test")
        if action == "tempfail":
            # Postfix: "451 4.7.1 Service unavailable - try again later",
            # from MAIL FROM on: nothing is accepted unverified
            self.assertTrue(reply_to(t, "MAIL FROM").startswith("451 4.7.1"), t)
        else:
            self.assertTrue(reply_to(t, "RCPT TO").startswith("250 "), t)


def main_cf(text):
    """name = value of a main.cf text, continuation lines (leading
    whitespace) joined to their setting, as Postfix reads them."""
    joined = []
    for ln in text.splitlines():
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        if ln[0].isspace() and joined:
            joined[-1] += " " + ln.strip()
        else:
            joined.append(ln)
    return {n.strip(): v.strip() for n, _, v in (ln.partition("=") for ln in joined)}


def shipped_policy_socket():
    with open(SHIPPED_CONF) as f:
        return re.search(r'^\s*policy_socket\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


class PolicySnippet(unittest.TestCase):
    """A real Postfix with docs/postfix-policy-snippet.cf as printed, and
    mailverifyd serving the policy protocol on the shipped socket."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-policy-snippet-")
        os.chmod(cls.tmp.name, 0o755)
        cls.w = World(os.path.join(cls.tmp.name, "world"))
        cls.w.start()
        cls.m = None
        try:
            port, host = re.fullmatch(r"inet:(\d+)@(.+)", shipped_policy_socket()).groups()
            cls.m = Milter(cls.w, port=int(port), milter={
                "serve": '"policy"', "policy_socket": '"%s"' % shipped_policy_socket()})
            cls.m.start()
            cls.base = cls.w.add_postfix("front", FRONT_IP, FRONT_CF + read(POLICY_SNIPPET))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.m is not None and cls.m.proc is not None and cls.m.proc.poll() is None:
            cls.m.kill()
        cls.w.stop()
        cls.tmp.cleanup()

    def rcpt(self, to):
        _, t = swaks("--from", "sender@ok.test", "--to", to, "--quit-after", "RCPT")
        return reply_to(t, "RCPT TO")

    def test_1_snippet_settings(self):
        s = main_cf(read(POLICY_SNIPPET))
        self.assertEqual(set(s), {"smtpd_recipient_restrictions"})
        rr = s["smtpd_recipient_restrictions"]
        # mailverifyd is asked last, after the restrictions that let no relay
        # attempt and none of the site's own users through to a probe
        self.assertRegex(rr, r"reject_unauth_destination, check_policy_service \{ inet:(\S+), "
                             r"default_action=DUNNO \}$")
        port, host = re.fullmatch(r"inet:(\d+)@(.+)", shipped_policy_socket()).groups()
        self.assertIn("inet:%s:%s," % (host, port), rr)
        etc = os.path.join(self.base, "etc")
        got = subprocess.run(["postconf", "-c", etc, "-h", "smtpd_recipient_restrictions"],
                             capture_output=True, text=True).stdout.strip()
        self.assertEqual(re.sub(r"\s+", " ", got), rr)

    def test_2_unknown_rejected_known_accepted(self):
        r = self.rcpt("nobody@ok.test")
        self.assertTrue(r.startswith("550 5.1.1 <nobody@ok.test>: Recipient address rejected: "), r)
        self.assertTrue(self.rcpt("alice@ok.test").startswith("250 "))
        self.assertRegex(self.m.log(), r"to=<alice@ok\.test> .*action=accept")

    def test_3_relay_attempt_never_asks(self):
        mark = len(self.m.log())
        self.assertTrue(self.rcpt("someone@elsewhere.test").startswith("554 5.7.1 "))
        self.assertNotIn("elsewhere.test", self.m.log()[mark:])

    def test_4_killed_mail_flows(self):
        self.m.kill()
        self.assertTrue(self.rcpt("nobody@ok.test").startswith("250 "))


if __name__ == "__main__":
    unittest.main()
