#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_world.py - smoke test of the loopback test world, with independent tools.

    tests/in-netns /usr/bin/python3 tests/world/test_world.py [-v]

Starts one World (bulk_domains=3, grey_seconds=1) and checks every
documented fact with dig, swaks, smtplib and raw sockets; at the end stops
it and checks that nothing of it is left running (/proc, ports), that a
`with World` left by an exception cleans up too, and that `world.py run`
passes its command's exit status through. Prints start and stop times.
"""

import os
import re
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import World  # noqa: E402

W = None
WORKDIR = None
TIMES = {}


def setUpModule():
    global W, WORKDIR
    WORKDIR = tempfile.mkdtemp(prefix="mv-world-test-")
    W = World(WORKDIR, bulk_domains=3, grey_seconds=1)
    W.start()
    TIMES["start"] = W.start_seconds


def world_pids(workdir, procs):
    """Pids of anything that still looks like part of a world."""
    left = []
    for pid in procs:
        left += world._session_members(pid)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if workdir in cmd:
            left.append(int(d))
    return sorted(set(left))


def port_free(ip, port, kind=socket.SOCK_STREAM):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # TIME_WAIT is not "bound"
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def assert_nothing_left(workdir, procs, what):
    left = world_pids(workdir, procs)
    if left:
        raise AssertionError("%s: processes left: %s" % (what, left))
    for ip, port, kind in (("127.0.0.1", 53, socket.SOCK_STREAM),
                           ("127.0.0.1", 53, socket.SOCK_DGRAM),
                           ("127.0.0.1", 5353, socket.SOCK_DGRAM),
                           ("127.0.0.2", 25, socket.SOCK_STREAM),
                           ("127.0.0.21", 25, socket.SOCK_STREAM),
                           ("::1", 25, socket.SOCK_STREAM)):
        if ":" in ip and not world.ipv6_available():
            continue
        if not port_free(ip, port, kind):
            raise AssertionError("%s: %s port %d still bound" % (what, ip, port))


def tearDownModule():
    procs = [p.pid for p in W.procs.values()]
    W.stop()
    TIMES["stop"] = W.stop_seconds
    try:
        assert_nothing_left(WORKDIR, procs, "after stop")
        # a world left by an exception stops too
        wd2 = tempfile.mkdtemp(prefix="mv-world-test2-")
        try:
            try:
                with World(wd2) as w2:
                    procs2 = [p.pid for p in w2.procs.values()]
                    raise KeyError("boom")
            except KeyError:
                pass
            assert_nothing_left(wd2, procs2, "after an exception")
            # the CLI: exit status passed through, and the env set
            t0 = time.monotonic()
            rc = subprocess.call([world.PYTHON, os.path.join(world.HERE, "world.py"), "run", "--",
                                  "sh", "-c", 'test -d "$MV_WORLD_DIR" && dig +short @127.0.0.1 '
                                  'ok.test MX | grep -q mx.ok.test && exit 7'],
                                 stderr=subprocess.DEVNULL)
            TIMES["cli"] = time.monotonic() - t0
            if rc != 7:
                raise AssertionError("world.py run passed through %d, not 7" % rc)
            assert_nothing_left("mv-world-", [], "after world.py run")
        finally:
            shutil.rmtree(wd2, ignore_errors=True)
    finally:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        print("\nworld: start %.2f s, stop %.3f s, `world.py run` whole %.2f s"
              % (TIMES.get("start", -1), TIMES.get("stop", -1), TIMES.get("cli", -1)),
              file=sys.stderr)


# ----------------------------------------------------------------- DNS --

def dig(name, qtype="MX", port=53, tcp=False, extra=()):
    """(status, flags, [answer lines as (owner, type, data)]) or ('TIMEOUT', '', [])."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "+time=1", "+tries=1", name, qtype]
    cmd += ["+tcp"] if tcp else ["+notcp", "+ignore"]
    cmd += list(extra)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"status: (\w+)", out)
    if not m:
        return ("TIMEOUT" if "timed out" in out or "no servers" in out else "ERROR:" + out, "", [])
    flags = re.search(r";; flags: ([a-z ]*);", out).group(1).split()
    ans = []
    sect = out.split(";; ANSWER SECTION:\n", 1)
    if len(sect) == 2:
        for ln in sect[1].split("\n\n")[0].splitlines():
            f = ln.split(None, 4)
            ans.append((f[0], f[3], f[4]))
    return (m.group(1), flags, ans)


class DNS(unittest.TestCase):
    def expect(self, name, qtype, status, answers=None, port=53):
        st, flags, ans = dig(name, qtype, port=port)
        self.assertEqual(st, status, "%s %s" % (name, qtype))
        if answers is not None:
            self.assertEqual(sorted(a[2] for a in ans), sorted(answers), "%s %s" % (name, qtype))
        return ans

    def test_zone_on_unbound_and_hostile(self):
        for port in (53, 5353):
            with self.subTest(port=port):
                self.expect("ok.test", "MX", "NOERROR", ["10 mx.ok.test."], port)
                self.expect("mx.ok.test", "A", "NOERROR", ["127.0.0.2"], port)
                self.expect("multi.test", "MX", "NOERROR",
                            ["10 dead.multi.test.", "20 mx.ok.test."], port)
                self.expect("dead.multi.test", "A", "NOERROR", ["127.0.0.15"], port)
                self.expect("tempfirst.test", "MX", "NOERROR",
                            ["10 mx.t421.test.", "20 mx.ok.test."], port)
                self.expect("mx.t421.test", "A", "NOERROR", ["127.0.0.17"], port)
                self.expect("nullmx.test", "MX", "NOERROR", ["0 ."], port)
                self.expect("amx.test", "MX", "NOERROR", [], port)
                self.expect("amx.test", "A", "NOERROR", ["127.0.0.2"], port)
                for t in ("MX", "A", "AAAA"):
                    self.expect("nomail.test", t, "NOERROR", [], port)
                self.expect("nomail.test", "TXT", "NOERROR", ['"v=spf1 -all"'], port)
                self.expect("nonexistent.test", "MX", "NXDOMAIN", [], port)
                self.expect("x.nonexistent.test", "A", "NXDOMAIN", [], port)
                self.expect("example.com", "MX", "REFUSED", [], port)
                self.expect("servfail.test", "MX", "SERVFAIL", None, port)
                self.expect("a.servfail.test", "A", "SERVFAIL", None, port)
                self.expect("timeout.test", "MX", "TIMEOUT", None, port)
                self.expect("cname.test", "MX", "NOERROR", ["ok.test.", "10 mx.ok.test."], port)
                self.expect("loop1.test", "MX", "NOERROR", ["loop2.test.", "loop1.test."], port)
                self.expect("cnameloop.test", "MX", "NOERROR", ["cnameloop.test."], port)
                self.expect("nohost.test", "MX", "NOERROR", ["10 missing.nohost.test."], port)
                self.expect("missing.nohost.test", "A", "NXDOMAIN", [], port)
                self.expect("mxcname.test", "MX", "NOERROR", ["10 alias.mxcname.test."], port)
                self.expect("alias.mxcname.test", "A", "NOERROR", ["mx.ok.test.", "127.0.0.2"],
                            port)
                self.expect("v6.test", "MX", "NOERROR", ["10 mx6.test."], port)
                self.expect("mx6.test", "AAAA", "NOERROR", ["::1"], port)
                self.expect("mx6.test", "A", "NOERROR", [], port)
                self.expect("mta.test", "A", "NOERROR", ["127.0.0.1"], port)
                for i in range(3):
                    self.expect("bulk%03d.test" % i, "MX", "NOERROR", ["10 mx.bulk%03d.test." % i],
                                port)
                    self.expect("mx.bulk%03d.test" % i, "A", "NOERROR", ["127.0.1.%d" % i], port)
                self.expect("bulk003.test", "MX", "NXDOMAIN", [], port)
                for name, ip, _ in world.SMTP_SERVERS:
                    if name == "v6":
                        continue
                    self.expect("%s.test" % name, "MX", "NOERROR", ["10 mx.%s.test." % name], port)
                    self.expect("mx.%s.test" % name, "A", "NOERROR", [ip], port)

    def test_timeout_over_tcp_too(self):
        self.assertEqual(dig("timeout.test", "MX", tcp=True)[0], "TIMEOUT")

    def test_big_needs_tcp(self):
        for port in (53, 5353):
            st, flags, ans = dig("big.test", "MX", port=port)
            self.assertIn("tc", flags, port)
            self.assertLess(len(ans), 3000)
            n = world.BIG_MX if port == 53 else world.BIG_MX_HOSTILE
            st, flags, ans = dig("big.test", "MX", port=port, tcp=True)
            self.assertEqual((st, len(ans)), ("NOERROR", n), port)
            self.assertNotIn("tc", flags)
            self.assertEqual(sorted(int(a[2].split()[0]) for a in ans), list(range(1, n + 1)))
            self.assertEqual({a[2].split()[1] for a in ans}, {"mx.ok.test."})

    def test_glibc_uses_the_world(self):
        self.assertEqual(socket.gethostname(), "mta.test")
        addrs = {ai[4][0] for ai in socket.getaddrinfo("mx.ok.test", 25, socket.AF_INET)}
        self.assertEqual(addrs, {"127.0.0.2"})
        with open("/etc/resolv.conf") as f:
            self.assertIn("nameserver 127.0.0.1", f.read())


def raw_query(name, qtype="MX", tcp=False, timeout=1.0, qid=0x1234):
    from dnslib import DNSRecord
    q = DNSRecord.question(name, qtype)
    q.header.id = qid
    data = q.pack()
    if tcp:
        with socket.create_connection(("127.0.0.1", 5353), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(data)) + data)
            ln = s.recv(2)
            n = struct.unpack("!H", ln)[0]
            buf = b""
            while len(buf) < n:
                buf += s.recv(n - len(buf))
            return buf
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(data, ("127.0.0.1", 5353))
        return s.recv(65535)
    finally:
        s.close()


class HostileDNS(unittest.TestCase):
    def parse(self, data):
        from dnslib import DNSRecord
        return DNSRecord.parse(data)

    def test_tc(self):
        r = self.parse(raw_query("tc.test"))
        self.assertEqual((r.header.tc, len(r.rr)), (1, 0))
        r = self.parse(raw_query("tc.test", tcp=True))
        self.assertEqual((r.header.tc, str(r.rr[0].rdata)), (0, "10 mx.ok.test."))
        r = self.parse(raw_query("alwaystc.test", tcp=True))
        self.assertEqual((r.header.tc, len(r.rr)), (1, 0))

    def test_garbage(self):
        d = raw_query("junk.test")
        self.assertEqual((d[:2], len(d)), (b"\x12\x34", 66))
        d = raw_query("wrongid.test")
        self.assertNotEqual(d[:2], b"\x12\x34")
        self.assertEqual(str(self.parse(d).rr[0].rdata), "10 mx.ok.test.")
        d = raw_query("cut.test")
        self.assertEqual(struct.unpack("!H", d[6:8])[0], 4)
        self.assertRaises(Exception, self.parse, d)
        d = raw_query("badcount.test")
        self.assertEqual(struct.unpack("!H", d[6:8])[0], 5)
        self.assertRaises(Exception, self.parse, d)
        self.assertRaises(Exception, self.parse, raw_query("shortmx.test"))
        self.assertNotIn(dig("junk.test", port=5353)[0], ("NOERROR",))

    def test_names(self):
        d = raw_query("longname.test")
        self.assertIn(b"\x3f" + b"a" * 63, d)
        self.assertEqual(len(d), 12 + 19 + 12 + 2 + 321)     # header, question, rr, pref, name
        d = raw_query("ptrloop.test")
        off = len(d) - 2
        self.assertEqual(struct.unpack("!H", d[-2:])[0], 0xC000 | off)
        d = raw_query("ptrfwd.test")
        self.assertGreater(struct.unpack("!H", d[-2:])[0] & 0x3FFF, len(d))
        for n in ("longname.test", "ptrloop.test", "ptrfwd.test"):
            self.assertNotEqual(dig(n, port=5353)[0], "NOERROR", n)

    def test_rcodes_and_delay(self):
        self.assertEqual(dig("refused.test", port=5353)[0], "REFUSED")
        self.assertRaises(socket.timeout, raw_query, "timeout.test", timeout=0.5)
        self.assertRaises(socket.timeout, raw_query, "timeout.test", tcp=True, timeout=0.5)
        t0 = time.monotonic()
        r = self.parse(raw_query("dnsdelay.test", timeout=5))
        self.assertGreaterEqual(time.monotonic() - t0, 1.9)
        self.assertEqual(str(r.rr[0].rdata), "10 mx.ok.test.")
        # via unbound the hostile-only names do not exist
        self.assertEqual(dig("longname.test")[0], "NXDOMAIN")


# ---------------------------------------------------------------- SMTP --

UNVERIFIED = ssl.create_default_context()
UNVERIFIED.check_hostname = False
UNVERIFIED.verify_mode = ssl.CERT_NONE


def ip_of(name):
    return world.smtp_server(name)[1]


def session(ip, timeout=5):
    s = smtplib.SMTP(ip, 25, local_hostname="mta.test", timeout=timeout)
    return s


def probe(ip, rcpts, sender="", tls=False, helo="ehlo"):
    """[(code, text)] for each RCPT, as a verifier would ask."""
    s = session(ip)
    try:
        code, _ = s.ehlo() if helo == "ehlo" else s.helo()
        if tls:
            s.starttls(context=UNVERIFIED)
            s.ehlo()
        code, msg = s.mail(sender)
        if code != 250:
            return [(code, msg.decode())]
        out = []
        for r in rcpts:
            c, m = s.rcpt(r)
            out.append((c, m.decode()))
        s.quit()
        return out
    finally:
        s.close()


def raw(ip, send=(), read_until=None, timeout=3.0, port=25, limit=1 << 22):
    """Connect, send each line after reading, return everything read."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((ip, port))
        buf = b""
        for line in [None] + list(send):
            if line is not None:
                s.sendall(line + b"\r\n")
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            buf += chunk
            if not chunk:
                break
        return buf


class Postfix(unittest.TestCase):
    def test_users(self):
        res = probe("127.0.0.2", ["alice@ok.test", "bob+tag@ok.test", "postmaster@ok.test",
                                  "nobody@ok.test", "alice@amx.test", "x@elsewhere.test"])
        self.assertEqual([c for c, _ in res], [250, 250, 250, 550, 250, 554])
        self.assertEqual(res[3][1], "5.1.1 <nobody@ok.test>: Recipient address rejected: "
                                    "User unknown in local recipient table")
        self.assertIn("Relay access denied", res[5][1])

    def test_starttls_and_swaks(self):
        s = session("127.0.0.2")
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"))
        s.starttls(context=UNVERIFIED)
        s.ehlo()
        s.mail("")
        self.assertEqual(s.rcpt("alice@ok.test")[0], 250)
        s.quit()
        out = subprocess.run(["swaks", "-s", "127.0.0.2", "--tls", "--to", "nobody@ok.test",
                              "--from", "", "--quit-after", "RCPT", "--helo", "mta.test"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
        self.assertIn("TLS started", out)
        self.assertIn("550 5.1.1 <nobody@ok.test>: Recipient address rejected: User unknown", out)
        self.assertIn("mx.ok.test", W.postfix_log())

    def test_mail_is_discarded(self):
        s = session("127.0.0.2")
        s.sendmail("someone@mta.test", ["alice@ok.test"], "Subject: x\r\n\r\nbody\r\n")
        s.quit()
        for _ in range(100):
            if "discard" in W.postfix_log():
                break
            time.sleep(0.02)
        self.assertRegex(W.postfix_log(), r"to=<alice@ok.test>.*relay=none.*status=sent \(test world\)")

    def test_add_postfix_peer_verify(self):
        """A second Postfix (add_postfix) verifying recipients with verify(8)
        against a bulk domain's MX: 450 while the probe runs, then 250/550."""
        base = W.add_postfix("peer", "127.0.0.3", """myhostname = peer.test
mydomain = peer.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
biff = no
relay_domains = bulk002.test
smtpd_recipient_restrictions = reject_unverified_recipient
unverified_recipient_reject_code = 550
address_verify_poll_delay = 1s
notify_classes =
""")
        got = {}
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            for r in ("0042@bulk002.test", "nobody@bulk002.test"):
                if r not in got:
                    c, m = probe("127.0.0.3", [r], sender="s@mta.test")[0]
                    if c != 450:
                        got[r] = (c, m)
        self.assertEqual(got["0042@bulk002.test"][0], 250, got)
        self.assertEqual(got["nobody@bulk002.test"][0], 550, got)
        self.assertIn("User unknown", got["nobody@bulk002.test"][1])
        self.assertIn(world.POSTFIX_MASTER_CF.splitlines()[1], open(base + "/etc/master.cf").read())
        probes = [s for s in W.sessions("bulk") if s["events"][:1] == ["<connect 127.0.1.2:25>"]
                  and any("bulk002.test" in c for c in s["commands"] if c.startswith("RCPT"))]
        self.assertTrue(probes, "verify(8) probes reach mx.bulk002.test")

    def test_dead_mx_refuses(self):
        self.assertRaises(ConnectionRefusedError, socket.create_connection, ("127.0.0.15", 25), 1)


class Scripted(unittest.TestCase):
    def test_catchall(self):
        res = probe(ip_of("catchall"), ["a%d@catchall.test" % i for i in range(8)])
        self.assertEqual(set(res), {(250, "2.1.5 Ok")})

    def test_users(self):
        res = probe(ip_of("users"), ["known@users.test", "full@users.test",
                                     "fulltemp@users.test", "disabled@users.test",
                                     "gone@users.test", "known@users.test", "nobody@users.test"])
        self.assertEqual(res, [(250, "2.1.5 Ok"), (552, "5.2.2 Mailbox full"),
                               (452, "4.2.2 Mailbox full"), (550, "5.2.1 Mailbox disabled"),
                               (550, "No such user here"), (452, "4.5.3 Too many recipients"),
                               (452, "4.5.3 Too many recipients")])
        self.assertEqual(probe(ip_of("users"), ["nobody@users.test", "known+x@users.test"]),
                         [(550, "5.1.1 User unknown"), (250, "2.1.5 Ok")])
        self.assertEqual(probe(ip_of("users"), ["known@other.test"])[0][0], 554)
        self.assertEqual(probe(ip_of("users"), ["postmaster@users.test"])[0][0], 250)

    def test_log_and_no_data(self):
        W.clear_logs()
        s = session(ip_of("users"))
        s.ehlo()
        s.mail("")
        s.rcpt("known@users.test")
        code, msg = s.docmd("DATA")
        self.assertEqual(code, 554)
        s.quit()
        time.sleep(0.05)
        sess = W.sessions("users")
        self.assertEqual(len(sess), 1)
        self.assertEqual(sess[0]["commands"], ["ehlo mta.test", "mail FROM:<>",
                                               "rcpt TO:<known@users.test>", "DATA", "quit"])
        self.assertEqual(sess[0]["events"][0], "<connect 127.0.0.21:25>")
        self.assertEqual(sess[0]["events"][-1], "<close>")
        self.assertTrue(any("users" in ln and "DATA" in ln for ln in W.data_received()))
        with open(W.log_path("users")) as f:
            self.assertIn("!!! DATA RECEIVED", f.read())

    def test_grey(self):
        ip = ip_of("grey")
        r1 = probe(ip, ["known@grey.test"], sender="a@mta.test")
        self.assertRegex(r1[0][1], r"^4\.7\.1 Greylisted, try again in 1 seconds$")
        self.assertEqual(r1[0][0], 450)
        self.assertEqual(probe(ip, ["known@grey.test"], sender="a@mta.test")[0][0], 450)
        self.assertEqual(probe(ip, ["known@grey.test"], sender="b@mta.test")[0][0], 450)
        time.sleep(1.1)
        self.assertEqual(probe(ip, ["known@grey.test", "nobody@grey.test"], sender="a@mta.test"),
                         [(250, "2.1.5 Ok"), (450, "4.7.1 Greylisted, try again in 1 seconds")])
        r = probe(ip_of("greypg"), ["known@greypg.test"])
        self.assertEqual(r, [(450, "4.2.0 <known@greypg.test>: Recipient address rejected: "
                                   "Greylisted, see http://postgrey.schweikert.ch/help/"
                                   "greypg.test.html")])

    def test_tls(self):
        s = session(ip_of("tls"))
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"))
        s.quit()
        self.assertEqual(probe(ip_of("tls"), ["known@tls.test"], tls=True), [(250, "2.1.5 Ok")])
        self.assertEqual(probe(ip_of("tls"), ["known@tls.test"]), [(250, "2.1.5 Ok")])
        self.assertTrue(any(e.startswith("<tls TLSv1.3")
                            for s in W.sessions("tls") for e in s["events"]))

    def test_tlsreq(self):
        self.assertEqual(probe(ip_of("tlsreq"), ["known@tlsreq.test"]),
                         [(530, "5.7.0 Must issue a STARTTLS command first")])
        self.assertEqual(probe(ip_of("tlsreq"), ["known@tlsreq.test", "x@tlsreq.test"], tls=True),
                         [(250, "2.1.5 Ok"), (550, "5.1.1 User unknown")])

    def test_badtls(self):
        s = session(ip_of("badtls"))
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"))
        self.assertRaises((ssl.SSLError, ConnectionError), s.starttls, context=UNVERIFIED)
        s.close()

    def test_notls(self):
        s = session(ip_of("notls"))
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"))
        self.assertEqual(s.docmd("STARTTLS")[0], 502)
        s.quit()
        self.assertEqual(probe(ip_of("notls"), ["known@notls.test"]), [(250, "2.1.5 Ok")])

    def test_tarpit_and_slow(self):
        t0 = time.monotonic()
        self.assertEqual(raw(ip_of("tarpit"), timeout=1.5), b"")
        got = b""
        with socket.create_connection((ip_of("slow"), 25), timeout=3) as s:
            end = time.monotonic() + 2.5
            while time.monotonic() < end:
                try:
                    got += s.recv(100)
                except socket.timeout:
                    break
        self.assertTrue(2 <= len(got) <= 4 and b"220 mx.slow.test".startswith(got), got)
        self.assertGreater(time.monotonic() - t0, 3.5)

    def test_drop(self):
        s = session(ip_of("drop"))
        s.ehlo()
        s.mail("")
        self.assertRaises(smtplib.SMTPServerDisconnected, s.rcpt, "known@drop.test")
        s.close()

    def test_garbage(self):
        self.assertTrue(raw(ip_of("garbage")).startswith(b"HTTP/1.1 400 Bad Request\r\n"))
        self.assertRaises((smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected),
                          session, ip_of("garbage"))

    def test_huge(self):
        with socket.create_connection((ip_of("huge"), 25), timeout=3) as s:
            buf = b""
            while len(buf) < 2 << 20:
                buf += s.recv(1 << 16)
            lines = buf.split(b"\r\n")[:-1]
            self.assertGreater(len(lines), 20000)
            self.assertTrue(all(ln.startswith(b"220-") for ln in lines))
            s.sendall(b"QUIT\r\n")        # ends the flood after a line, then 221
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
            self.assertTrue(buf.endswith(b"\r\n221 2.0.0 Bye\r\n"), buf[-200:])
        with socket.create_connection((ip_of("hugeline"), 25), timeout=3) as s:
            buf = b""
            while not buf.endswith(b"\r\n"):
                buf += s.recv(1 << 16)
        self.assertEqual(len(buf), 4 + (1 << 20) + 2)
        self.assertTrue(buf.startswith(b"220 xxx"))

    def test_afterclose(self):
        out = raw(ip_of("afterclose"), [b"EHLO mta.test", b"MAIL FROM:<>",
                                        b"RCPT TO:<known@afterclose.test>", b"NOOP"])
        self.assertTrue(out.endswith(b"250 2.1.5 Ok\r\nEXTRA BYTES AFTER THE REPLY\r\n"), out)

    def test_banners_and_helo(self):
        out = raw(ip_of("banner554"), [b"EHLO mta.test", b"QUIT"])
        self.assertEqual(out, b"554 5.7.1 No probes from you\r\n"
                              b"503 5.5.1 Error: no SMTP service here\r\n221 2.0.0 Bye\r\n")
        self.assertRaises(smtplib.SMTPConnectError, session, ip_of("banner554"))
        out = raw(ip_of("t421"), [b"EHLO mta.test"])
        self.assertTrue(out.startswith(b"421 4.3.2 "), out)
        s = session(ip_of("heloreject"))
        self.assertEqual(s.ehlo(), (550, b"5.7.1 Go away"))
        self.assertEqual(s.helo(), (550, b"5.7.1 Go away"))
        self.assertEqual(s.docmd("QUIT")[0], 221)
        s.close()
        s = session(ip_of("noehlo"))
        self.assertEqual(s.ehlo(), (502, b"5.5.2 Command not recognized"))
        s.quit()
        self.assertEqual(probe(ip_of("noehlo"), ["known@noehlo.test"], helo="helo"),
                         [(250, "2.1.5 Ok")])

    def test_nonull(self):
        self.assertEqual(probe(ip_of("nonull"), ["known@nonull.test"]),
                         [(550, "5.7.1 Null sender not accepted")])
        self.assertEqual(probe(ip_of("nonull"), ["known@nonull.test"], sender="v@mta.test"),
                         [(250, "2.1.5 Ok")])

    def test_blocked(self):
        self.assertEqual(probe(ip_of("blocked"), ["known@blocked.test"]),
                         [(550, "5.7.1 Service unavailable; client host blocked using "
                                "zen.spamhaus.org")])

    def test_v6(self):
        if not W.ipv6:
            self.skipTest("no IPv6 on lo here")
        self.assertEqual(probe("::1", ["known@v6.test", "x@v6.test"]),
                         [(250, "2.1.5 Ok"), (550, "5.1.1 User unknown")])
        self.assertEqual(W.sessions("v6")[-1]["peer"].split("]")[0], "[::1")

    def test_bulk(self):
        t0 = time.monotonic()
        res = probe(ip_of("bulk"), ["%04d@bulk%03d.test" % (i, i % 3) for i in range(7)] +
                    ["user0042@bulk000.test", "nobody@bulk001.test", "1@bulk003.test"])
        # banner, EHLO, MAIL, 10 RCPT, QUIT: 14 replies of >= 20 ms
        self.assertGreater(time.monotonic() - t0, 14 * 0.02)
        self.assertEqual([c for c, _ in res], [250] * 8 + [550, 554])
        # each bulk domain has its own MX address, which serves only that domain
        self.assertEqual([world.bulk_ip(i) for i in (0, 2, 255, 256)],
                         ["127.0.1.0", "127.0.1.2", "127.0.1.255", "127.0.2.0"])
        res = probe("127.0.1.1", ["0042@bulk001.test", "user7@bulk001.test", "x@bulk001.test",
                                  "0042@bulk000.test"])
        self.assertEqual([c for c, _ in res], [250, 250, 550, 554])
        last = [s for s in W.sessions("bulk") if s["events"][:1] == ["<connect 127.0.1.1:25>"]]
        self.assertEqual(len(last), 1)
        out = raw("127.0.1.2", [b"QUIT"])
        self.assertEqual(out, b"220 mx.bulk002.test ESMTP bulk\r\n221 2.0.0 Bye\r\n")

    def test_quit_everywhere(self):
        for name, ip, _ in world.SMTP_SERVERS:
            if name in ("t421", "garbage", "huge", "hugeline", "tarpit", "slow"):
                continue
            if ":" in ip and not W.ipv6:
                continue
            with self.subTest(name=name):
                out = raw(ip, [b"QUIT"])
                self.assertTrue(out.endswith(b"221 2.0.0 Bye\r\n"), out[-100:])

    def test_zz_never_data_except_on_purpose(self):
        got = [ln for ln in W.data_received() if " users " not in ln]
        self.assertEqual(got, [])


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
