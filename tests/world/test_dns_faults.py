#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_dns_faults - a truncated or malformed DNS answer is no verdict.

The hostile DNS server (dnsd.py, 127.0.0.1:5353) answers some names with
the TC bit set over UDP *and* TCP, with answers whose counts lie, and with
address records that cannot be read -- for the MX query, for the MX host's
A query, and for the implicit MX's A query. None of these says anything
about the domain: each must come out `unknown` / `dns_error` (temporary),
and the recipient policy the milter applies must not block it (it blocks
no_mail_server and invalid_domain, which is what these used to become:
a permanent 5xx for a domain whose DNS merely answered badly).

The well-formed negative answers keep their meaning: NODATA -> implicit
MX, NXDOMAIN -> invalid_domain, no address -> no_mail_server.

Runs `mailverify check --json --resolver 127.0.0.1:5353 --allow-private`
inside tests/in-netns, as a user would.
"""
import json
import os
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

# name -> what the detail must mention
FAULTS = {
    "alwaystc": "truncated",    # TC=1, no records, over UDP and TCP (MX and A)
    "tcmx": "truncated",        # TC=1 over TCP too, with part of the MX set
    "tcnx": "truncated",        # TC=1 + NXDOMAIN over UDP and TCP
    "lowcount": "malformed",    # ANCOUNT=0, an MX record after it anyway
    "tcamx": "truncated",       # good MX; the MX host's A/AAAA TC=1 over TCP
    "badamx": "malformed",      # good MX; the MX host's A record RDLENGTH 3
    "cntamx": "malformed",      # good MX; the MX host's A answer ANCOUNT=3, one record
    "badaimp": "malformed",     # no MX; the domain's A record RDLENGTH 3 (implicit MX)
}


def setUpModule():
    global W, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-dnsfaults-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"))
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def check(addr, *args):
    """One `mailverify check --json` against the hostile DNS server."""
    cmd = [MV, "check", "--json", "--resolver", W.hostile_dns, "--allow-private",
           "--timeout", "4000"] + list(args) + [addr]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    took = time.monotonic() - t0
    if p.returncode not in (0, 1) or b"Sanitizer" in p.stderr or b"runtime error" in p.stderr:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr.decode()))
    [v] = [json.loads(l) for l in p.stdout.decode().splitlines()]
    return v, took


class Faults(unittest.TestCase):
    """Each truncated or malformed answer: unknown / dns_error, never blocked."""

    def fault(self, name):
        addr = "x@%s.test" % name
        v, took = check(addr)
        what = "%s: %s" % (addr, json.dumps(v))
        self.assertEqual((v["status"], v["reason"]), ("unknown", "dns_error"), what)
        self.assertIn(FAULTS[name], v["detail"], what)
        self.assertEqual(v["checks"]["mx"], [], what)
        self.assertLess(took, 2.0, what)          # an answer, not a timeout
        # what the milter does at RCPT TO: the shipped recipient policy
        r, _ = check(addr, "--context", "recipient")
        self.assertEqual(r["reason"], "dns_error", json.dumps(r))
        self.assertNotEqual(r["action"], "block", json.dumps(r))
        r, _ = check(addr, "--context", "sender")
        self.assertNotEqual(r["action"], "block", json.dumps(r))

    def test_tc_over_udp_and_tcp_no_records(self):
        self.fault("alwaystc")

    def test_tc_over_tcp_with_partial_mx(self):
        self.fault("tcmx")

    def test_tc_with_nxdomain(self):
        self.fault("tcnx")

    def test_ancount_lies_low(self):
        self.fault("lowcount")

    def test_mx_host_a_truncated(self):
        self.fault("tcamx")

    def test_mx_host_a_malformed(self):
        self.fault("badamx")

    def test_mx_host_a_ancount_lies(self):
        self.fault("cntamx")

    def test_implicit_mx_a_malformed(self):
        self.fault("badaimp")


class Unchanged(unittest.TestCase):
    """Well-formed answers keep their meaning (also through the hostile server)."""

    def expect(self, name, status, reason, *args):
        v, _ = check("x@%s.test" % name, *args)
        self.assertEqual((v["status"], v["reason"]), (status, reason), json.dumps(v))
        return v

    def test_negative_answers(self):
        v = self.expect("amx", "unknown", "unverified", "--mode", "dns")     # NODATA -> implicit MX
        self.assertEqual(v["checks"]["mx"], ["amx.test"])
        self.expect("nonexistent", "undeliverable", "invalid_domain")         # NXDOMAIN
        self.expect("nomail", "undeliverable", "no_mail_server")              # NODATA MX and A
        self.expect("nohost", "undeliverable", "no_mail_server")              # MX host NXDOMAIN
        self.expect("nullmx", "undeliverable", "no_mail_server")              # MX 0 .
        r = self.expect("nohost", "undeliverable", "no_mail_server", "--context", "recipient")
        self.assertEqual(r["action"], "block")

    def test_tc_over_udp_only_retries_tcp(self):
        v = self.expect("tc", "unknown", "unverified", "--mode", "dns")
        self.assertEqual(v["checks"]["mx"], ["mx.ok.test"])

    def test_malformed_mx_answers(self):
        for name in ("cut", "badcount", "shortmx", "ptrloop", "longname"):
            v = self.expect(name, "unknown", "dns_error")
            self.assertIn("malformed", v["detail"], name)


if __name__ == "__main__":
    unittest.main()
