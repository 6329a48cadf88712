#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_cache_shared - one LMDB cache file shared by several processes.

Two mailverifyd processes, each behind its own real Postfix, `mailverify
bulk` and `mailverify check` runs and mailverify.fcgi as a CGI program,
all with cache.store = "lmdb" and the same file: a verdict one of them
probed is answered from the cache by the others (the scripted SMTP
server's log shows one RCPT);
a restarted daemon still knows it; `mailverify cache get|stats|purge`
read and clean the file while the daemons run; a process killed with
SIGKILL while it writes leaves a file that opens, reads and takes writes;
domain facts (catch-all) and the milter's harvest budget are shared too.
Run inside tests/in-netns:

  MAILVERIFY=build/mailverify MAILVERIFYD=build/mailverifyd \\
      tests/in-netns /usr/bin/python3 tests/world/test_cache_shared.py -v
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import World  # noqa: E402
from mvd import NamedMilter, rcpt_reply  # noqa: E402

MV = os.path.abspath(os.environ.get("MAILVERIFY", "build/mailverify"))
W = None
TMP = None
CACHE = None


def cache_conf():
    return 'cache = {\n  store = "lmdb";\n  lmdb_path = "%s";\n  lmdb_size_mb = 64;\n};\n' % CACHE


def setUpModule():
    global W, TMP, CACHE
    TMP = tempfile.TemporaryDirectory(prefix="mv-cache-")
    os.chmod(TMP.name, 0o755)     # Postfix runs as "postfix" and must reach its queue
    CACHE = os.path.join(TMP.name, "cache.mdb")
    W = World(os.path.join(TMP.name, "world"))
    W.__enter__()


def tearDownModule():
    W.__exit__(None, None, None)
    TMP.cleanup()


def cli_conf():
    """A config for the command line: the world's resolver, private targets, the cache."""
    path = os.path.join(TMP.name, "cli.conf")
    with open(path, "w") as f:
        f.write('dns = { servers = "127.0.0.1"; timeout_ms = 1000; tries = 1; };\n'
                'smtp = { allow_private_targets = true; };\n' + cache_conf())
    return path


def mv(*args, timeout=120, stdin=None):
    p = subprocess.run([MV] + list(args), capture_output=True, text=True, timeout=timeout,
                       input=stdin)
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        raise AssertionError(p.stderr)
    return p


class Shared(unittest.TestCase):

    def test_1_two_daemons_and_bulk_share_one_file(self):
        W.clear_logs()
        a = NamedMilter(W, "a", 10031, cache_conf())
        b = NamedMilter(W, "b", 10032, cache_conf())
        with a, b:
            a.postfix(name="fronta", ip="127.0.0.51")
            b.postfix(name="frontb", ip="127.0.0.52")
            r1 = rcpt_reply("known@users.test", "127.0.0.51")
            self.assertTrue(r1.startswith("250"), r1)
            r2 = rcpt_reply("known@users.test", "127.0.0.52")
            self.assertTrue(r2.startswith("250"), r2)
            self.assertEqual(W.rcpts("users", "known@users.test"), 1,
                             "the second daemon must answer from the shared cache")
            r3 = rcpt_reply("gone@users.test", "127.0.0.52")
            self.assertTrue(r3.startswith("5"), r3)
            r4 = rcpt_reply("gone@users.test", "127.0.0.51")
            self.assertTrue(r4.startswith("5"), r4)
            self.assertEqual(W.rcpts("users", "gone@users.test"), 1)
            # a bulk run with the same file, while both daemons run
            p = mv("bulk", "--format", "jsonl", "--config", cli_conf(), "-",
                   stdin="known@users.test\ngone@users.test\nfull@users.test\n")
            self.assertIn(p.returncode, (0, 1), p.stderr)
            rows = [json.loads(l) for l in p.stdout.splitlines()]
            by = {r["address"]: r for r in rows}
            self.assertTrue(by["known@users.test"]["cached"], by["known@users.test"])
            self.assertTrue(by["gone@users.test"]["cached"])
            self.assertFalse(by["full@users.test"]["cached"])
            self.assertEqual(W.rcpts("users", "known@users.test"), 1)
            self.assertEqual(W.rcpts("users", "full@users.test"), 1)
            # ... and what bulk learned, a daemon knows
            rcpt_reply("full@users.test", "127.0.0.51")
            self.assertEqual(W.rcpts("users", "full@users.test"), 1)
            # the admin command, while they run
            p = mv("cache", "get", "known@users.test", "--config", cli_conf())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("deliverable/accepted_email", p.stdout)
            p = mv("cache", "stats", "--json", "--config", cli_conf())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertGreaterEqual(json.loads(p.stdout)["entries"], 3)
            p = mv("cache", "purge", "gone@users.test", "--config", cli_conf())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("1 entry removed", p.stdout)
            self.assertEqual(mv("cache", "get", "gone@users.test", "--config", cli_conf()).returncode, 1)
            rcpt_reply("gone@users.test", "127.0.0.52")
            self.assertEqual(W.rcpts("users", "gone@users.test"), 2, "purged: probed again")

    def test_2_restart_keeps_verdicts(self):
        W.clear_logs()
        a = NamedMilter(W, "r", 10033, cache_conf())
        with a:
            a.postfix(name="frontr", ip="127.0.0.53")
            rcpt_reply("postmaster@users.test", "127.0.0.53")
        self.assertEqual(W.rcpts("users", "postmaster@users.test"), 1)
        with a:                     # a new process on the same file
            r = rcpt_reply("postmaster@users.test", "127.0.0.53")
            self.assertTrue(r.startswith("250"), r)
        self.assertEqual(W.rcpts("users", "postmaster@users.test"), 1, "kept across the restart")
        p = mv("check", "--json", "--config", cli_conf(), "postmaster@users.test")
        v = json.loads(p.stdout)
        self.assertTrue(v["cached"], v)

    def test_3_kill_during_writes_leaves_a_readable_cache(self):
        # catchall.test accepts every RCPT: a stream of fresh verdicts to write
        addrs = "".join("k%05d@catchall.test\n" % i for i in range(5000))
        for attempt in range(3):
            p = subprocess.Popen([MV, "bulk", "--format", "jsonl", "--config", cli_conf(), "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, text=True)
            p.stdin.write(addrs)
            p.stdin.close()
            time.sleep(1.5 + attempt * 0.7)
            p.send_signal(signal.SIGKILL)
            p.wait()
            st = mv("cache", "stats", "--json", "--config", cli_conf())
            self.assertEqual(st.returncode, 0, st.stderr)
            self.assertGreater(json.loads(st.stdout)["entries"], 0)
        # LMDB's own tool agrees the file is sound (lmdb-utils, tools/deps test)
        if shutil.which("mdb_stat"):
            p = subprocess.run(["mdb_stat", "-n", "-e", CACHE], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        got = [mv("cache", "get", "k%05d@catchall.test" % i, "--config", cli_conf()).returncode
               for i in range(3)]
        self.assertIn(0, got, "verdicts written before the kill are readable")
        # and the file still takes writes
        p = mv("check", "--json", "--config", cli_conf(), "after-kill@catchall.test")
        self.assertFalse(json.loads(p.stdout)["cached"])
        p = mv("check", "--json", "--config", cli_conf(), "after-kill@catchall.test")
        self.assertTrue(json.loads(p.stdout)["cached"])
        self.assertEqual(mv("cache", "get", "after-kill@catchall.test", "--config",
                            cli_conf()).returncode, 0)

    def test_4_domain_facts_are_shared(self):
        mv("cache", "purge", "catchall.test", "--config", cli_conf())   # test 3 taught it
        W.clear_logs()
        v = json.loads(mv("check", "--json", "--config", cli_conf(), "first@catchall.test").stdout)
        self.assertEqual(v["reason"], "accept_all", v)
        first = [c for s in W.sessions("catchall") for c in s["commands"] if c.upper().startswith("RCPT")]
        self.assertEqual(len(first), 2, "the address and a random one: %s" % first)
        W.clear_logs()
        # another process: the catch-all answer comes from the shared file
        v = json.loads(mv("check", "--json", "--config", cli_conf(), "second@catchall.test").stdout)
        self.assertEqual(v["reason"], "accept_all", v)
        again = [c for s in W.sessions("catchall") for c in s["commands"] if c.upper().startswith("RCPT")]
        self.assertEqual(len(again), 1, "no second random RCPT: %s" % again)
        # purging the domain forgets its facts too
        p = mv("cache", "purge", "catchall.test", "--config", cli_conf())
        self.assertEqual(p.returncode, 0, p.stderr)
        W.clear_logs()
        mv("check", "--json", "--config", cli_conf(), "third@catchall.test")
        third = [c for s in W.sessions("catchall") for c in s["commands"] if c.upper().startswith("RCPT")]
        self.assertEqual(len(third), 2, third)

    def test_5_harvest_budget_is_shared(self):
        a = NamedMilter(W, "ha", 10034, cache_conf(), milter={"dha_limit": "3"})
        b = NamedMilter(W, "hb", 10035, cache_conf(), milter={"dha_limit": "3"})

        def rcpt(to, front):
            return rcpt_reply(to, front, client_ip="127.0.0.71")

        with a, b:
            a.postfix(name="frontha", ip="127.0.0.54")
            b.postfix(name="fronthb", ip="127.0.0.55")
            self.assertTrue(rcpt("h1@users.test", "127.0.0.54").startswith("550"))
            self.assertTrue(rcpt("h2@users.test", "127.0.0.54").startswith("550"))
            self.assertTrue(rcpt("h3@users.test", "127.0.0.55").startswith("550"))
            # the budget of 3 is spent across both daemons
            r = rcpt("h4@users.test", "127.0.0.55")
            self.assertTrue(r.startswith("451"), r)
            r = rcpt("h5@users.test", "127.0.0.54")
            self.assertTrue(r.startswith("451"), r)
            self.assertEqual(W.rcpts("users", "h4@users.test"), 0, "probed past the budget")

    def test_6_cgi_plugin_reads_the_same_file(self):
        fcgi = os.path.abspath(os.environ.get("MAILVERIFY_FCGI",
                                              os.path.join(os.path.dirname(MV), "mailverify.fcgi")))
        if not os.path.exists(fcgi):
            self.skipTest("no %s" % fcgi)
        conf = os.path.join(TMP.name, "cgi.conf")
        with open(cli_conf()) as f, open(conf, "w") as g:
            g.write(f.read() + 'fastcgi = { rate_state = ""; };\n')
        mv("check", "--json", "--config", cli_conf(), "bob@ok.test")     # someone else probed it
        W.clear_logs()
        before = W.postfix_log().count("connect from")
        env = dict(os.environ, GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="GET",
                   SCRIPT_NAME="/cgi-bin/mailverify.cgi", PATH_INFO="/verify",
                   QUERY_STRING="email=bob%40ok.test",
                   REMOTE_ADDR="127.0.0.9", SERVER_PROTOCOL="HTTP/1.1")
        p = subprocess.run([fcgi, "-c", conf], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        body = json.loads(p.stdout.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in p.stdout
                          else p.stdout.split("\n\n", 1)[1])
        self.assertEqual(body["reason"], "accepted_email", body)
        self.assertTrue(body["cached"], body)
        time.sleep(0.2)
        self.assertEqual(W.postfix_log().count("connect from"), before, "the CGI probed again")

    def test_7_unopenable_file_falls_back_to_memory(self):
        path = os.path.join(TMP.name, "bad.conf")
        with open(path, "w") as f:     # a path under a regular file: ENOTDIR
            f.write('dns = { servers = "127.0.0.1"; timeout_ms = 1000; tries = 1; };\n'
                    'smtp = { allow_private_targets = true; };\n'
                    'cache = { store = "lmdb"; lmdb_path = "/etc/passwd/cache.mdb"; };\n')
        W.clear_logs()
        p = mv("check", "--json", "--config", path, "fallback@users.test")
        self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
        v = json.loads(p.stdout)
        self.assertEqual(v["reason"], "rejected_email", v)     # verified all the same
        self.assertIn("/etc/passwd/cache.mdb", p.stderr)
        self.assertIn("using a memory cache in this process", p.stderr)
        # the CLI words the engine's line (issue 14): one line, its level a word
        warn = [l for l in p.stderr.splitlines() if "cache.mdb" in l]
        self.assertEqual(len(warn), 1, p.stderr)
        self.assertTrue(warn[0].startswith("mailverify: warning: cache: "), warn[0])
        self.assertEqual(W.rcpts("users", "fallback@users.test"), 1)
        self.assertFalse(os.path.exists("/etc/passwd/cache.mdb"))


if __name__ == "__main__":
    unittest.main()
