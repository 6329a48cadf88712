#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_package_install - the built Debian packages, unpacked, reject an
unknown recipient behind a real Postfix (issue 16).

    tests/in-netns /usr/bin/python3 tests/world/test_package_install.py build/pkg [-v]
    (make check-package-install, after make check-package)

No dpkg -i, nothing written outside a temporary directory:

- the mailverify and mailverifyd .debs from DIR are unpacked with
  `dpkg-deb -x` into TMP/root;
- the installed configuration, ROOT/etc/mailverify/mailverify.conf, is
  changed only for loopback: dns.servers (the world's resolver),
  smtp.allow_private_targets, milter.socket (the README's socket in the
  test Postfix's queue directory instead of /var/spool/postfix) and
  milter.control_socket (TMP/run/mailverifyd instead of /run/mailverifyd,
  the unit's RuntimeDirectory=); the diff is printed, and any other
  change fails the test;
- the unit file the package installs is read: its ExecStartPre= lines run
  (the config check, and as root the one that makes the socket directory,
  its /var/spool/postfix re-rooted to the test Postfix's queue), then its
  ExecStart= line, with only its absolute paths re-rooted into ROOT (the
  binary and the -c file), as the unit's User= (a stand-in: "nobody",
  group "nogroup", no supplementary groups -- the package's "mailverify"
  user is not made on this host), UMask= applied, and NOTIFY_SOCKET set as
  systemd sets it for Type=notify: it is started once READY=1 arrives;
- a real Postfix (smtpd chrooted, as Debian runs it) with the snippet the
  package ships in /usr/share/doc/mailverifyd -- the README's, word for
  word -- appended to its main.cf unchanged: its relative socket path is
  relative to the queue directory, where the socket is;
- swaks to that Postfix: RCPT TO an unknown mailbox of ok.test (MX: the
  world's Postfix, which has alice and not nobody) gets 550 5.1.1 from
  the milter; alice gets 250; SIGTERM (the unit's stop) ends it with 0.
"""
import difflib
import glob
import grp
import os
import pwd
import re
import shlex
import signal
import socket
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
from mvd import swaks, reply_to, FRONT_IP  # noqa: E402

PKG_DIR = os.path.abspath(os.environ.get("MV_PKG_DIR", os.path.join(ROOT, "build", "pkg")))
README = os.path.join(ROOT, "README.md")
UNIT = "lib/systemd/system/mailverifyd.service"
CONF = "etc/mailverify/mailverify.conf"
SNIPPET = "usr/share/doc/mailverifyd/postfix-snippet.cf"
SPOOL = "/var/spool/postfix"    # Debian's queue directory, as the unit names it
RUN_AS, RUN_GROUP = "nobody", "nogroup"     # stand-ins for User=/Group=mailverify

# The front Postfix (as in test_snippets): an MX relaying for ok.test
# that discards what it accepts; the README's snippet is appended.
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
CHROOT_MASTER_CF = world.POSTFIX_MASTER_CF.replace(
    "smtp      inet  n       -       n", "smtp      inet  n       -       y", 1)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def read(path):
    with open(path) as f:
        return f.read()


def unit_lines(text, key):
    """The values of KEY= lines of a unit's [Service] section (no continuations here)."""
    out, section = [], None
    for ln in text.splitlines():
        s = ln.strip()
        if s.startswith("["):
            section = s
        elif section == "[Service]" and s.startswith(key + "="):
            out.append(s[len(key) + 1:])
    return out


def set_key(text, group, key, value):
    """TEXT with `key = ...;` inside the top-level `group = { ... };` set to
    value (the rest of the line, its comment included, kept); exactly one."""
    m = re.search(r"^%s\s*=\s*\{\n(.*?)^\};" % re.escape(group), text, re.S | re.M)
    if not m:
        raise AssertionError("no group %s in the shipped config" % group)
    body, n = re.subn(r"^(\s*%s\s*=\s*)[^;]*;" % re.escape(key),
                      lambda k: k.group(1) + value + ";", m.group(1), flags=re.M)
    if n != 1:
        raise AssertionError("%s.%s set %d times in the shipped config" % (group, key, n))
    return text[:m.start(1)] + body + text[m.end(1):]


def reroot(argv, root):
    """argv with every absolute path put under root (each must be in root)."""
    out = []
    for a in argv:
        if a.startswith("/"):
            p = root + a
            if not os.path.exists(p):
                raise AssertionError("%s (from the unit) is not in the packages" % a)
            a = p
        out.append(a)
    return out


def as_user(argv, umask):
    """argv as the unit's User= stand-in, no supplementary groups, no caps."""
    return ["setpriv", "--pdeathsig", "KILL", "--reuid", RUN_AS, "--regid", RUN_GROUP,
            "--clear-groups", "--inh-caps=-all", "--", "sh", "-c",
            "umask %s; exec \"$@\"" % umask, "sh"] + argv


class InstalledPackages(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-pkg-install-")
        os.chmod(cls.tmp.name, 0o755)   # Postfix and the daemon's user work below it
        cls.w = World(os.path.join(cls.tmp.name, "world"))
        cls.proc = cls.notify = None
        cls.w.start()
        try:
            cls.setup()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setup(cls):
        tmp = cls.tmp.name
        cls.root = root = os.path.join(tmp, "root")
        os.makedirs(root)
        for p in ("mailverify", "mailverifyd"):
            debs = glob.glob(os.path.join(PKG_DIR, p + "_*.deb"))
            if len(debs) != 1:
                raise AssertionError("want one %s_*.deb in %s (make check-package), found %s"
                                     % (p, PKG_DIR, debs))
            log("dpkg-deb -x %s" % os.path.relpath(debs[0]))
            subprocess.run(["dpkg-deb", "-x", debs[0], root], check=True)

        # the front Postfix's directories first: the socket goes in its queue
        _, cls.queue, _ = world.postfix_dirs(cls.w.path("front"))

        # the installed config, changed only for loopback
        conf = os.path.join(root, CONF)
        cls.shipped = read(conf)
        cls.sock = os.path.join(cls.queue, "mailverifyd", "mailverifyd.sock")
        run_dir = os.path.join(tmp, "run", "mailverifyd")     # RuntimeDirectory=mailverifyd
        cls.changes = [
            ("dns", "servers", '"%s"' % cls.w.resolver),
            ("smtp", "allow_private_targets", "true"),
            ("milter", "socket", '"unix:%s"' % cls.sock),
            ("milter", "control_socket", '"%s"' % os.path.join(run_dir, "control.sock")),
        ]
        text = cls.shipped
        for group, key, value in cls.changes:
            text = set_key(text, group, key, value)
        cls.adapted = text
        cls.diff = "".join(difflib.unified_diff(
            cls.shipped.splitlines(True), text.splitlines(True),
            "shipped /" + CONF, "adapted /" + CONF, n=0))
        log("the installed config, adapted for loopback:\n" + cls.diff)
        with open(conf, "w") as f:
            f.write(text)
        # root:mailverify 0640 as the postinst makes it (group: the stand-in)
        os.chown(conf, 0, grp.getgrnam(RUN_GROUP).gr_gid)
        os.chmod(conf, 0o640)

        # the unit as the package installs it
        unit = read(os.path.join(root, UNIT))
        starts = unit_lines(unit, "ExecStart")
        if len(starts) != 1:
            raise AssertionError("ExecStart= lines in %s: %s" % (UNIT, starts))
        cls.exec_start = starts[0]
        cls.umask = (unit_lines(unit, "UMask") or ["0022"])[-1]
        pw = pwd.getpwnam(RUN_AS)
        os.makedirs(run_dir)
        os.chown(run_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(run_dir, int((unit_lines(unit, "RuntimeDirectoryMode") or ["0755"])[-1], 8))

        # ExecStartPre=: "+" as root (the socket directory in Postfix's
        # queue, /var/spool/postfix re-rooted, its user the stand-in),
        # else as the user with the paths re-rooted (the config check)
        for pre in unit_lines(unit, "ExecStartPre"):
            if pre.startswith("+"):
                line = pre[1:].replace(SPOOL, cls.queue).replace("-o mailverify", "-o " + RUN_AS)
                argv = shlex.split(line)
            else:
                argv = as_user(reroot(shlex.split(pre.lstrip("-")), root), cls.umask)
            log("ExecStartPre: %s" % " ".join(shlex.quote(a) for a in argv))
            p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            if p.returncode != 0:
                raise AssertionError("ExecStartPre=%s exited %d: %s" % (pre, p.returncode,
                                                                          p.stdout + p.stderr))

        # NOTIFY_SOCKET, as systemd gives a Type=notify service
        notify_path = os.path.join(tmp, "notify.sock")
        cls.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.notify.bind(notify_path)
        os.chmod(notify_path, 0o666)

        cls.argv = reroot(shlex.split(cls.exec_start), root)
        log("ExecStart=%s\n  runs as: %s" % (cls.exec_start, " ".join(cls.argv)))
        cls.log_path = os.path.join(tmp, "mailverifyd.stderr")
        cls.logf = open(cls.log_path, "w")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": notify_path,
               "LANG": "C.UTF-8"}
        cls.proc = subprocess.Popen(as_user(cls.argv, cls.umask), env=env,
                                    stdin=subprocess.DEVNULL, stdout=cls.logf, stderr=cls.logf)
        cls.ready = cls.wait_ready(float((unit_lines(unit, "TimeoutStartSec") or ["30"])[-1]))

        # the front Postfix with the snippet the package ships, as printed
        cls.snippet = read(os.path.join(root, SNIPPET))
        cls.base = cls.w.add_postfix("front", FRONT_IP, FRONT_CF + cls.snippet,
                                     master_cf=CHROOT_MASTER_CF)

    @classmethod
    def wait_ready(cls, timeout):
        """The notify messages up to READY=1; fails if mailverifyd exits first."""
        got = []
        deadline = time.monotonic() + timeout
        cls.notify.settimeout(0.1)
        while True:
            try:
                msg = cls.notify.recv(4096).decode(errors="replace")
                got.append(msg)
                if "READY=1" in msg.split("\n"):
                    return got
            except socket.timeout:
                pass
            if cls.proc.poll() is not None:
                raise AssertionError("mailverifyd exited %d before READY=1; stderr: %s"
                                     % (cls.proc.returncode, read(cls.log_path)))
            if time.monotonic() > deadline:
                raise AssertionError("no READY=1 within %ss; got %r" % (timeout, got))

    @classmethod
    def stray(cls):
        """pids of programs from the temporary root still running (a
        daemon that detached, e.g. started without -f)."""
        out = []
        for d in os.listdir("/proc"):
            try:
                if d.isdigit() and os.readlink("/proc/%s/exe" % d).startswith(cls.root + "/"):
                    out.append(int(d))
            except OSError:
                pass
        return out

    @classmethod
    def tearDownClass(cls):
        if cls.proc is not None and cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        for pid in cls.stray() if hasattr(cls, "root") else ():
            log("killing %d, a stray from the temporary root" % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if cls.notify is not None:
            cls.notify.close()
        cls.w.stop()
        cls.tmp.cleanup()
        log("test_package_install: %.1f s" % (time.monotonic() - cls.t0))

    def rcpt(self, to):
        _, t = swaks("--from", "sender@ok.test", "--to", to, "--quit-after", "RCPT")
        r = reply_to(t, "RCPT TO")
        log("RCPT TO:<%s> -> %s" % (to, r))
        return r, t

    def test_1_config_changed_only_for_loopback(self):
        changed = [ln for ln in self.diff.splitlines()
                   if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        self.assertEqual(len(changed), 2 * len(self.changes), self.diff)
        for (group, key, value), ln in zip(self.changes, [c for c in changed if c[0] == "+"]):
            self.assertRegex(ln, r"^\+\s*%s\s*=\s*%s;" % (re.escape(key), re.escape(value)))
        # nothing else the daemon needs to be changed: the run user is the unit's
        m = re.search(r"^milter\s*=\s*\{\n(.*?)^\};", self.adapted, re.S | re.M).group(1)
        for key in ("user", "group", "socket_group"):
            self.assertRegex(m, r'(?m)^\s*%s\s*=\s*"";' % key)

    def test_2_started_as_the_unit_starts_it(self):
        self.assertRegex(self.exec_start, r"^/usr/sbin/mailverifyd .*-f\b")
        self.assertIn("-c /etc/mailverify/mailverify.conf", self.exec_start)
        self.assertEqual(self.argv[0], self.root + "/usr/sbin/mailverifyd")
        self.assertIsNone(self.proc.poll())
        self.assertTrue(any("READY=1" in m for m in self.ready), self.ready)
        with open("/proc/%d/status" % self.proc.pid) as f:
            st = f.read()
        self.assertEqual(re.search(r"^Uid:\s*(\d+)", st, re.M).group(1),
                         str(pwd.getpwnam(RUN_AS).pw_uid))
        # the socket: from the set-gid directory, group postfix, 0660
        s = os.stat(self.sock)
        self.assertEqual(s.st_gid, grp.getgrnam("postfix").gr_gid)
        self.assertEqual(s.st_mode & 0o777, 0o660)

    def test_3_readme_snippet(self):
        self.assertTrue(self.snippet in read(README),
                        "the packaged %s is not in README.md word for word:\n%s" % (SNIPPET, self.snippet))
        self.assertIn("unix:mailverifyd/mailverifyd.sock", self.snippet)

    def test_4_unknown_recipient_550(self):
        r, t = self.rcpt("nobody@ok.test")
        self.assertTrue(r.startswith("550 5.1.1 "), t)
        self.assertIn("nobody@ok.test", r)
        self.assertIn("milter-reject: RCPT", read(os.path.join(self.base, "maillog")))

    def test_5_known_recipient_250(self):
        r, t = self.rcpt("alice@ok.test")
        self.assertTrue(r.startswith("250 "), t)

    def test_6_sigterm_stops_it(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, read(self.log_path))


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        PKG_DIR = os.path.abspath(sys.argv.pop(1))
    unittest.main()
