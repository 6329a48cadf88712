#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_snippets - the README's copy-paste snippets for Postfix and Sendmail
work as printed.

docs/postfix-snippet.cf is the main.cf text the README shows (and is to
include verbatim); docs/sendmail-snippet.mc its sendmail.mc line. Here:

- docs/postfix-snippet.sh, run as printed (postconf reads MAIL_CONFIG) on a
  real Postfix that has another milter already and a global
  milter_default_action = accept (as a site with OpenDKIM may have),
  appends mailverifyd's entry to smtpd_milters and non_smtpd_milters,
  keeps the milter that was there, and changes no other parameter --
  every milter_* global stays as it was; docs/postfix-snippet.cf is the
  same entry, for a host without other milters, and sets nothing else;
- that Postfix, its smtpd chrooted in the queue directory as Debian runs
  it, calls mailverifyd over the socket laid out as mailverifyd.service
  lays it out: QUEUE/mailverifyd, owned by the daemon's user, group
  postfix, mode 2750, and mailverifyd running unprivileged and NOT in
  group postfix (socket_group = "", socket_mode = "0660"); the entry's
  relative path (unix:mailverifyd/mailverifyd.sock) reaches it; a client
  gets 550 5.1.1 for an unknown recipient and 250 for a known one; with
  mailverifyd gone, the entry's own default_action=tempfail applies
  (451 4.7.1) while the other, unreachable milter is skipped as the
  global accept says;
- the entry's settings are the ones its comments and mailverifyd need:
  command_timeout longer than the milter's deadlines;
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
import world  # noqa: E402
from world import World  # noqa: E402
from mvd import Milter, swaks, reply_to, FRONT_IP  # noqa: E402

POSTFIX_SNIPPET = os.path.join(ROOT, "docs", "postfix-snippet.cf")
POSTFIX_APPEND = os.path.join(ROOT, "docs", "postfix-snippet.sh")
POLICY_SNIPPET = os.path.join(ROOT, "docs", "postfix-policy-snippet.cf")
SENDMAIL_SNIPPET = os.path.join(ROOT, "docs", "sendmail-snippet.mc")
SHIPPED_CONF = os.path.join(ROOT, "etc", "mailverify.conf")
README = os.path.join(ROOT, "README.md")
MV_BIN = os.path.abspath(os.environ.get("MAILVERIFYD", os.path.join(ROOT, "build", "mailverifyd")))
RUN_AS = "nobody"               # the unit's User=: not root, not in group postfix
ENTRY_RE = r"\{ unix:mailverifyd/mailverifyd\.sock, default_action=(tempfail|accept), command_timeout=(\w+) \}"

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
        _, deadline = shipped()
        # the two lists, nothing global: no milter_* parameter
        self.assertEqual(set(s), {"smtpd_milters", "non_smtpd_milters"})
        self.assertEqual(s["smtpd_milters"], s["non_smtpd_milters"])
        m = re.fullmatch(ENTRY_RE, s["smtpd_milters"])
        self.assertIsNotNone(m, s["smtpd_milters"])
        self.assertGreater(seconds(m.group(2)), deadline)
        # the script appends the same entry
        self.assertIn("mv='%s'" % s["smtpd_milters"], read(POSTFIX_APPEND))

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
        for path in (POSTFIX_SNIPPET, POSTFIX_APPEND, SENDMAIL_SNIPPET, POLICY_SNIPPET):
            self.assertIn(read(path), readme, "%s is not in README.md as it is" % path)


# A site's milter that was there first (an OpenDKIM that is not running),
# and a global default action that lets mail through when it is down.
OTHER_MILTER = "inet:127.0.0.1:8891"
FRONT_MILTERS = """smtpd_milters = {0}
non_smtpd_milters = {0}
milter_default_action = accept
""".format(OTHER_MILTER)
# Debian's layout: smtpd chrooted in the queue directory
CHROOT_MASTER_CF = world.POSTFIX_MASTER_CF.replace(
    "smtp      inet  n       -       n", "smtp      inet  n       -       y", 1)


def postconf_all(etc):
    """Every parameter of a Postfix configuration (defaults included)."""
    out = subprocess.run(["postconf", "-c", etc], capture_output=True, text=True, check=True).stdout
    return dict((n.strip(), v.strip()) for n, _, v in (ln.partition("=") for ln in out.splitlines()))


class PostfixWithSnippet(unittest.TestCase):
    """A real Postfix with another milter, the append script run on it, and
    mailverifyd on the socket in its queue directory."""

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
    def start_mailverifyd(cls, queue):
        """The socket directory as mailverifyd.service's ExecStartPre makes
        it, then mailverifyd as its unprivileged user, not in group postfix."""
        w = cls.w
        pw = pwd.getpwnam(RUN_AS)
        cls.sock_dir = os.path.join(queue, "mailverifyd")
        os.makedirs(cls.sock_dir)
        os.chown(cls.sock_dir, pw.pw_uid, grp.getgrnam("postfix").gr_gid)
        os.chmod(cls.sock_dir, 0o2750)
        cls.sock = os.path.join(cls.sock_dir, "mailverifyd.sock")
        # the control socket in a directory of the user's, as RuntimeDirectory= makes it
        run_dir = w.path("run", "mailverifyd")
        os.makedirs(run_dir)
        os.chown(run_dir, pw.pw_uid, pw.pw_gid)
        conf = Milter(w, milter={"socket": '"unix:%s"' % cls.sock, "socket_group": '""',
                                 "socket_mode": '"0660"',
                                 "control_socket": '"%s"' % os.path.join(run_dir, "control.sock")})
        conf.write_config()
        cls.log_path = w.path("mailverifyd.log")
        cls.logf = open(cls.log_path, "w")
        cls.mvd = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "--reuid", RUN_AS, "--regid", str(pw.pw_gid), "--clear-groups",
             "--inh-caps=-all", MV_BIN, "-f", "-d", "-c", conf.path],
            stdout=cls.logf, stderr=cls.logf)
        deadline = time.monotonic() + 10
        while not cls.listening():
            if cls.mvd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mailverifyd did not listen on %s; see %s"
                                   % (cls.sock, cls.log_path))
            time.sleep(0.02)

    @classmethod
    def start(cls):
        w = cls.w
        _, queue, _ = world.postfix_dirs(w.path("front"))
        cls.start_mailverifyd(queue)
        cls.base = w.add_postfix("front", FRONT_IP, FRONT_CF + FRONT_MILTERS, master_cf=CHROOT_MASTER_CF)
        cls.etc = os.path.join(cls.base, "etc")
        cls.before = postconf_all(cls.etc)
        # the script as printed; postconf finds the instance through MAIL_CONFIG
        subprocess.run(["sh", "-eu", POSTFIX_APPEND], env=dict(os.environ, MAIL_CONFIG=cls.etc),
                       check=True, timeout=30)
        cls.after = postconf_all(cls.etc)
        w.procs["front"].send_signal(signal.SIGHUP)    # postfix reload
        time.sleep(1)

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

    def test_1_appended_and_nothing_else_changed(self):
        entry = settings(read(POSTFIX_SNIPPET))["smtpd_milters"]
        changed = {k for k in set(self.before) | set(self.after)
                   if self.before.get(k) != self.after.get(k) and k != "process_id"}   # postconf's own pid
        self.assertEqual(changed, {"smtpd_milters", "non_smtpd_milters"})
        for name in ("smtpd_milters", "non_smtpd_milters"):
            self.assertEqual(self.after[name], "%s, %s" % (OTHER_MILTER, entry))
        globals_ = {k: v for k, v in self.after.items() if k.startswith("milter_")}
        self.assertTrue(globals_)
        self.assertEqual(globals_, {k: v for k, v in self.before.items() if k.startswith("milter_")})
        self.assertEqual(self.after["milter_default_action"], "accept")
        # smtpd runs chrooted, as on Debian
        master = subprocess.run(["postconf", "-c", self.etc, "-M", "smtp/inet"], capture_output=True,
                                text=True, check=True).stdout.split()
        self.assertEqual(master[4], "y")

    def test_2_socket_as_laid_out(self):
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam("postfix").gr_gid)    # from the set-gid directory
        self.assertEqual(st.st_uid, pwd.getpwnam(RUN_AS).pw_uid)
        self.assertEqual(stat.S_IMODE(os.stat(self.sock_dir).st_mode), 0o2750)
        with open("/proc/%d/status" % self.mvd.pid) as f:
            groups = re.search(r"^Groups:\s*(.*)$", f.read(), re.M).group(1).split()
        self.assertNotIn(str(grp.getgrnam("postfix").gr_gid), groups)

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
        action = re.fullmatch(ENTRY_RE, settings(read(POSTFIX_SNIPPET))["smtpd_milters"]).group(1)
        self.mvd.send_signal(signal.SIGKILL)
        self.mvd.wait()
        t = self.rcpt("alice@ok.test")
        if action == "tempfail":
            # Postfix: "451 4.7.1 Service unavailable - try again later",
            # from MAIL FROM on: nothing is accepted unverified -- though
            # the other milter, also unreachable, is skipped (global accept)
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
