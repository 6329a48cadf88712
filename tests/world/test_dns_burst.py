#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_dns_burst - a burst of lookups to new domains does not lose answers.

The world's unbound serves 1,000 bulk domains (bulk000.test ..
bulk999.test); mvload submits one address of each at once (window
10,000, mode dns: the MX lookup and the MX host's addresses, no SMTP),
in a fresh engine each round. Every verdict must be "unverified" (the
domain has mail servers): none may come out dns_error. Before the
resolver kept at most 128 lookups out at once, the kernel dropped
answers on the floor -- at unbound's socket and at the engine's (UDP
RcvbufErrors, 1,000-1,800 a round) -- and 1.7% to 47% of such a burst
came out dns_error after dns.tries, the rest 2 to 6 s late. Also shown:
the count of UDP receive-buffer drops in the namespace during the
rounds (printed; the assertion is on what a user sees, the verdicts).
Run inside tests/in-netns:

  MVLOAD=build/mvload tests/in-netns /usr/bin/python3 tests/world/test_dns_burst.py -v
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402

MVLOAD = os.path.abspath(os.environ.get("MVLOAD", "build/mvload"))
DOMAINS = 1000
W = None
TMP = None


def setUpModule():
    global W, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mv-dnsburst-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    W = World(os.path.join(TMP.name, "world"), bulk_domains=DOMAINS)
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [ln.split() for ln in f if ln.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))["RcvbufErrors"])


class Burst(unittest.TestCase):
    def test_1000_new_domains_at_once(self):
        addrs = "".join("u%d@bulk%03d.test\n" % (i, i) for i in range(DOMAINS))
        for rnd in range(3):
            before = rcvbuf_errors()
            p = subprocess.run([MVLOAD, "--json", "--window", "10000", "--mode", "dns",
                                "--resolver", "127.0.0.1", "--allow-private"],
                               input=addrs.encode(), capture_output=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
            self.assertNotIn(b"Sanitizer", p.stderr)
            verdicts = [json.loads(ln) for ln in p.stdout.decode().splitlines()]
            self.assertEqual(len(verdicts), DOMAINS)
            reasons = collections.Counter(v["reason"] for v in verdicts)
            print("round %d: %s, UDP receive-buffer drops %d" %
                  (rnd, dict(reasons), rcvbuf_errors() - before), file=sys.stderr)
            self.assertEqual(reasons, {"unverified": DOMAINS}, "a burst lost DNS answers")


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
