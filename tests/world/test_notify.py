#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_notify - mailverifyd speaks systemd's notification protocol
(mailverifyd.service is Type=notify), checked from the systemd side: the
test owns the datagram socket NOTIFY_SOCKET names (an abstract one, "@...",
as systemd uses) and reads what arrives, in order:

- READY=1 (with a STATUS= saying what it serves) only once every socket
  it serves accepts connections: the milter's, the policy service's, the
  control socket and the metrics listener;
- SIGUSR1: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, now), then
  READY=1 with a STATUS= that says the configuration was reloaded; a
  configuration with errors gives RELOADING=1 then READY=1 with a STATUS=
  that says the reload failed (and the daemon goes on);
- SIGTERM: STOPPING=1, and exit status 0;
- without NOTIFY_SOCKET nothing is sent (every other world test runs it so).

    MAILVERIFYD=build/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_notify.py [-v]
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvd import Milter, MV_BIN  # noqa: E402
from world import World  # noqa: E402

MILTER_PORT, POLICY_PORT, METRICS_PORT = 10211, 10212, 10213


def accepts(addr, family=socket.AF_INET):
    """Does a stream socket at addr accept a connection now?"""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Notify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-notify-")
        cls.w = World(os.path.join(cls.tmp.name, "world"))     # only its directory: no servers needed
        os.makedirs(cls.w.path(), exist_ok=True)
        cls.name = "@mv-test-notify-%d" % os.getpid()
        cls.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.sock.bind("\0" + cls.name[1:])
        cls.sock.settimeout(15)
        cls.m = Milter(cls.w, port=MILTER_PORT, milter={
            "serve": '"both"', "policy_socket": '"inet:%d@127.0.0.1"' % POLICY_PORT})
        cls.good = cls.m.config_text() + 'metrics = { listen = "127.0.0.1:%d"; };\n' % METRICS_PORT
        cls.m.write_config(cls.good)
        cls.logf = open(cls.m.log_path, "w")
        cls.proc = subprocess.Popen([MV_BIN, "-f", "-d", "-c", cls.m.path], stdout=cls.logf,
                                    stderr=cls.logf, env=dict(os.environ, NOTIFY_SOCKET=cls.name))

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        cls.logf.close()
        cls.sock.close()
        cls.tmp.cleanup()

    def next(self):
        """The next notification as a dict (KEY=VALUE lines)."""
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no notification within 15 s; log:\n" + self.m.log())
        return dict(line.split("=", 1) for line in data.split("\n"))

    def test_1_ready_once_every_socket_listens(self):
        n = self.next()
        self.assertEqual(n.get("READY"), "1", n)
        # at READY=1 already, not some time later
        self.assertTrue(accepts(("127.0.0.1", MILTER_PORT)), "milter")
        self.assertTrue(accepts(("127.0.0.1", POLICY_PORT)), "policy")
        self.assertTrue(accepts(("127.0.0.1", METRICS_PORT)), "metrics")
        self.assertTrue(accepts(self.m.control, socket.AF_UNIX), "control")
        self.assertIn("serving: socket inet:%d@127.0.0.1" % MILTER_PORT, n["STATUS"])
        self.assertIn("policy socket inet:%d@127.0.0.1" % POLICY_PORT, n["STATUS"])
        self.assertIn("metrics on http://127.0.0.1:%d/metrics" % METRICS_PORT, n["STATUS"])

    def test_2_reload(self):
        self.proc.send_signal(signal.SIGUSR1)
        n = self.next()
        now_us = time.monotonic() * 1e6          # CLOCK_MONOTONIC, as systemd reads it
        self.assertEqual(n.get("RELOADING"), "1", n)
        self.assertLess(abs(int(n["MONOTONIC_USEC"]) - now_us), 5e6)
        n = self.next()
        self.assertEqual(n.get("READY"), "1", n)
        self.assertIn("configuration reloaded", n["STATUS"])

    def test_3_broken_reload(self):
        self.m.write_config(self.good + "milter = { nonsense = 1; };\n")
        self.proc.send_signal(signal.SIGUSR1)
        self.assertEqual(self.next().get("RELOADING"), "1")
        n = self.next()
        self.assertEqual(n.get("READY"), "1", n)
        self.assertIn("last reload failed", n["STATUS"])
        self.assertIsNone(self.proc.poll())
        self.m.write_config(self.good)

    def test_4_stopping(self):
        self.proc.send_signal(signal.SIGTERM)
        n = self.next()
        self.assertEqual(n.get("STOPPING"), "1", n)
        self.assertEqual(self.proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main()
