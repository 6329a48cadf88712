#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_cli - end-to-end tests of the `mailverify` command.

Drives the real binary (path in $MAILVERIFY) the way users and scripts do:
arguments, stdin streams, exit statuses, JSON on stdout, diagnostics on
stderr. Run by `make check` inside a private network namespace.
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import unittest

MV = os.environ.get("MAILVERIFY", "build/mailverify")
SANITIZE = bool(os.environ.get("SANITIZE"))

CONTRACT_KEYS = {"address", "normalized", "status", "reason", "action", "suggestion",
                 "checks", "cached", "elapsed_ms"}
CHECK_KEYS = {"syntax", "disposable", "role", "free", "mx", "smtp", "catch_all"}
STATUSES = {"deliverable", "undeliverable", "risky", "unknown"}
ACTIONS = {"accept", "warn", "block", "tempfail", "review"}


def run(*args, stdin=b"", env=None):
    """Run mailverify with args; return (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([MV, *args], input=stdin, capture_output=True, env=env, timeout=300)
    # under SANITIZE=1 a sanitizer report is a failure whatever the exit status
    if b"Sanitizer" in p.stderr or b"runtime error:" in p.stderr:
        raise AssertionError("sanitizer report:\n" + p.stderr.decode("utf-8", "replace"))
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def verdicts(out):
    """Parse JSON lines; every line must be valid UTF-8 JSON."""
    text = out.decode("utf-8")          # raises on invalid UTF-8: a failure
    return [json.loads(line) for line in text.splitlines()]


def assert_contract(tc, v):
    tc.assertTrue(CONTRACT_KEYS <= set(v), "missing keys: %s" % (CONTRACT_KEYS - set(v)))
    tc.assertTrue(CHECK_KEYS <= set(v["checks"]))
    tc.assertIn(v["status"], STATUSES)
    tc.assertIn(v["action"], ACTIONS)
    tc.assertIsInstance(v["checks"]["syntax"]["valid"], bool)
    tc.assertIsInstance(v["cached"], bool)
    tc.assertIsInstance(v["elapsed_ms"], int)


class Usage(unittest.TestCase):
    def test_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn(b"check", out)
        rc, out, _ = run("check", "--offline", "--help")
        self.assertEqual(rc, 0)
        for word in (b"--json", b"--offline", b"--context", b"Exit status", b"Examples"):
            self.assertIn(word, out)
        rc, out, _ = run("help", "config-test")
        self.assertEqual(rc, 0)
        self.assertIn(b"config-test", out)

    COMMANDS = ("check", "bulk", "config-test", "stats", "cache", "webhook-verify", "help")

    def test_help_lists_every_command(self):
        # the usage text is built from the dispatch table: every command
        # that runs is listed, and the page fits a terminal
        rc, out, err = run("--help")
        self.assertEqual((rc, err), (0, ""))
        text = out.decode()
        listed = [line.split()[0] for line in text.split("Commands:\n")[1].split("\n\n")[0].splitlines()]
        self.assertEqual(tuple(listed), self.COMMANDS)
        self.assertIn("LMDB or Redis", text)
        for line in text.splitlines():
            self.assertLessEqual(len(line), 80, line)
        rc, out2, err = run("help")
        self.assertEqual((rc, out2), (0, out))
        rc, out3, err = run()
        self.assertEqual((rc, out3, err), (64, b"", text))

    def test_help_command_is_command_help(self):
        for cmd in self.COMMANDS[:-1]:
            rc, out, err = run("help", cmd)
            self.assertEqual((rc, err), (0, ""), cmd)
            self.assertTrue(out.startswith(b"Usage: mailverify " + cmd.encode()), cmd)
            self.assertIn(b"Exit status", out, cmd)
            self.assertEqual(run(cmd, "--help"), (0, out, ""), cmd)
        for args in (["help", "nope"], ["help", "check", "bulk"], ["nope", "--help"]):
            rc, out, err = run(*args)
            self.assertEqual((rc, out), (64, b""), args)
            self.assertIn("mailverify --help", err, args)

    def test_usage_errors(self):
        for args in ([], ["frobnicate"], ["check"], ["check", "--context", "nope", "a@b.c"],
                     ["check", "--bogus", "a@b.c"], ["config-test", "a", "b"],
                     ["check", "--mode", "ldap", "a@b.c"], ["check", "--timeout", "5", "a@b.c"],
                     ["check", "--timeout", "1s", "a@b.c"], ["check", "--resolver", "dns.google", "a@b.c"],
                     ["check", "--resolver", "127.0.0.1:99999", "a@b.c"]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 64, args)
            self.assertTrue(err.strip(), "no message for %s" % args)
            self.assertEqual(out, b"")


class Check(unittest.TestCase):
    def test_design_example(self):
        rc, out, _ = run("check", "--offline", "--json", "Jane.Doe@Gmial.com")
        self.assertEqual(rc, 0)
        [v] = verdicts(out)
        assert_contract(self, v)
        self.assertEqual(v["address"], "Jane.Doe@Gmial.com")
        self.assertEqual(v["normalized"], "Jane.Doe@gmial.com")
        self.assertEqual(v["suggestion"], "Jane.Doe@gmail.com")
        self.assertEqual((v["status"], v["reason"], v["action"]), ("unknown", "unverified", "warn"))
        self.assertEqual(v["checks"]["syntax"],
                         {"valid": True, "local": "Jane.Doe", "domain": "gmial.com",
                          "smtputf8": False})
        self.assertFalse(v["checks"]["disposable"])

    def test_exit_status(self):
        self.assertEqual(run("check", "--offline", "--json", "a@example.com")[0], 0)
        self.assertEqual(run("check", "--offline", "--json", "a@example.com", "a..b@example.com")[0], 1)
        self.assertEqual(run("check", "--offline", "--json", "-", stdin=b"ok@example.com\nbad@@x\n")[0], 1)

    def test_reasons_and_contexts(self):
        rc, out, _ = run("check", "--offline", "--json", "x@mailinator.com", "postmaster@example.com",
                         "user@example..com", "<>")
        v = verdicts(out)
        self.assertEqual([x["reason"] for x in v],
                         ["disposable", "role_account", "invalid_syntax", "invalid_syntax"])
        self.assertEqual([x["action"] for x in v], ["block", "warn", "block", "block"])
        self.assertEqual(v[2]["checks"]["syntax"]["error"], "domain_consecutive_dots")
        self.assertEqual(v[3]["checks"]["syntax"]["error"], "null_path")
        rc, out, _ = run("check", "--offline", "--json", "--context", "sender", "<>", "x@mailinator.com")
        v = verdicts(out)
        self.assertEqual((v[0]["reason"], v[0]["action"]), ("null_sender", "accept"))
        self.assertEqual((v[1]["reason"], v[1]["action"], v[1]["context"]),
                         ("disposable", "accept", "sender"))

    def test_canonical(self):
        rc, out, _ = run("check", "--offline", "--json", "--canonical", "J.Doe+news@GoogleMail.com",
                         "J.Doe+news@example.com")
        v = verdicts(out)
        self.assertEqual(v[0]["canonical"], "jdoe@gmail.com")
        self.assertEqual(v[0]["normalized"], "J.Doe+news@googlemail.com")
        self.assertEqual(v[1]["canonical"], "J.Doe+news@example.com")
        rc, out, _ = run("check", "--offline", "--json", "J.Doe@gmail.com")
        self.assertNotIn("canonical", verdicts(out)[0])

    def test_human_output(self):
        rc, out, _ = run("check", "--offline", "jane@gmial.com", "bad\x1b[31m@example.com")
        text = out.decode("utf-8")
        self.assertIn("did you mean jane@gmail.com?", text)
        self.assertIn("invalid_syntax", text)
        self.assertNotIn("\x1b", text, "raw escape sequence reached the terminal")
        self.assertIn("\\x1b", text)

    def test_invalid_utf8_argument(self):
        rc, out, _ = run("check", "--offline", "--json", b"j\xffane@ex\xc3ample.com")
        [v] = verdicts(out)
        self.assertEqual(v["address"], "j\ufffdane@ex\ufffdample.com")
        self.assertEqual(v["checks"]["syntax"]["error"], "invalid_utf8")

    def test_idn_and_smtputf8(self):
        rc, out, _ = run("check", "--offline", "--json", "用户@例子.广告", "jane@BÜCHER.de")
        v = verdicts(out)
        self.assertTrue(v[0]["checks"]["syntax"]["smtputf8"])
        self.assertEqual(v[0]["normalized"], "用户@xn--fsqu00a.xn--4rr70v")
        self.assertEqual(v[1]["normalized"], "jane@xn--bcher-kva.de")


class Stream(unittest.TestCase):
    HOSTILE = [b"", b"   ", b"a@b.com", b"nul\x00byte@example.com", b"bad\xff\xfe@example.com",
               b"cr\rinside@example.com", b"x" * (1 << 20), b"\xc0\x80@example.com",
               b"\xed\xa0\x80@example.com", b"\xe2\x80\xa8@example.com", b"<a@b.com",
               b"\"unterminated@example.com", b"@", b"\t\t", b"ok@example.com\r"]

    def test_one_verdict_per_line_in_order(self):
        data = b"\n".join(self.HOSTILE) + b"\n"
        rc, out, err = run("check", "--offline", "--json", "-", stdin=data)
        self.assertEqual(rc, 1, err)
        v = verdicts(out)
        self.assertEqual(len(v), len(self.HOSTILE))
        for line, x in zip(self.HOSTILE, v):
            assert_contract(self, x)
            expect = line[:-1] if line.endswith(b"\r") else line
            if len(expect) <= 1024:
                self.assertEqual(x["address"], expect.decode("utf-8", "replace"))
        self.assertEqual(v[2]["status"], "unknown")
        self.assertEqual(v[0]["checks"]["syntax"]["error"], "empty")
        self.assertEqual(v[3]["checks"]["syntax"]["error"], "control_character")
        self.assertEqual(v[6]["checks"]["syntax"]["error"], "address_too_long")
        self.assertTrue(v[6]["address_truncated"])
        self.assertEqual(v[6]["address_length"], 1 << 20)
        self.assertEqual(v[14]["normalized"], "ok@example.com")
        self.assertEqual(v[9]["address"], "\u2028@example.com")

    def test_last_line_without_newline(self):
        rc, out, _ = run("check", "--offline", "--json", "-", stdin=b"a@example.com\nb@example.com")
        self.assertEqual([x["address"] for x in verdicts(out)], ["a@example.com", "b@example.com"])

    def test_streams_answers_before_eof(self):
        p = subprocess.Popen([MV, "check", "--offline", "--json", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        try:
            for addr in (b"first@example.com", b"second@gmial.com"):
                p.stdin.write(addr + b"\n")
                p.stdin.flush()
                ready, _, _ = select.select([p.stdout], [], [], 10)
                self.assertTrue(ready, "no answer within 10 s while stdin is still open")
                v = json.loads(p.stdout.readline())
                self.assertEqual(v["address"], addr.decode())
        finally:
            p.stdin.close()
            p.wait(timeout=10)
            p.stdout.close()
        self.assertEqual(p.returncode, 0)

    def max_rss_kb(self, lines):
        """Peak RSS of `check --json -` over `lines` generated lines."""
        gen = subprocess.Popen(
            ["sh", "-c", "yes 'jane.doe@example.com\nx..y@gmial.com\n用户@例子.广告\n"
                         "info@mailinator.com' | head -n %d" % lines], stdout=subprocess.PIPE)
        # ASan keeps freed blocks in a 256 MB quarantine by design; with it
        # small, RSS growth again means memory the program holds
        env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=1")
        p = subprocess.Popen([MV, "check", "--offline", "--json", "-"], stdin=gen.stdout,
                             stdout=subprocess.DEVNULL, env=env)
        gen.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        gen.wait()
        self.assertEqual(p.returncode, 1)
        return ru.ru_maxrss

    def test_memory_flat_over_10_million_lines(self):
        # under ASan every run is ~10x slower; one million lines still shows
        # whether memory grows with input, at 1/10 the count
        big = 1_000_000 if SANITIZE else 10_000_000
        small = self.max_rss_kb(10_000)
        large = self.max_rss_kb(big)
        print("\n  peak RSS: %d KiB for 10,000 lines, %d KiB for %d lines" % (small, large, big),
              file=sys.stderr)
        self.assertLess(large - small, 2048, "memory grew with the input")

    def test_write_error(self):
        with open("/dev/full", "wb") as full:
            p = subprocess.run([MV, "check", "--offline", "--json", "a@example.com"], stdout=full,
                               stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 74)
        self.assertIn(b"cannot write", p.stderr)


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text):
        path = os.path.join(self.dir.name, "mv.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_builtin_and_shipped(self):
        rc, out, err = run("config-test")
        self.assertEqual(rc, 0, err)
        self.assertIn("ok", err)
        rc1, builtin, _ = run("config-test", "--print")
        rc2, shipped, err = run("config-test", "--print", "etc/mailverify.conf")
        self.assertEqual((rc1, rc2), (0, 0), err)
        self.assertEqual(builtin, shipped)
        self.assertIn(b'policy.form.disposable = "block"', builtin)

    def test_all_errors_reported_with_lines(self):
        path = self.write('lists = {\n  dispossable = "x";\n};\ntypo = { enabled = 3; };\n'
                          'policy = {\n  form = {\n    disposable = "blok";\n'
                          '    suggestion = "block";\n  };\n  website = { };\n};\n')
        rc, out, err = run("config-test", path)
        self.assertEqual(rc, 78)
        for line, words in ((2, "did you mean 'lists.disposable'"), (4, "true or false"),
                            (7, 'did you mean "block"'), (8, "never blocks"),
                            (10, "unknown policy context")):
            self.assertIn("%s:%d: " % (path, line), err)
            self.assertIn(words, err)
        self.assertIn("5 errors", err)

    def test_enum_value_did_you_mean(self):
        # a mistyped value of an enumerated key: its line, the closest
        # name, and every error of the file in the one run
        path = self.write('cache = {\n  store = "lmbd";\n};\n'
                          'smtp = { tls = "nope-not-a-mode"; };\n'
                          'fastcgi = {\n  on_block = "redirct";\n};\n')
        rc, out, err = run("config-test", path)
        self.assertEqual(rc, 78)
        self.assertIn('%s:2: \'cache.store\' is "lmbd"; it must be one of: memory, lmdb, redis '
                      '(did you mean "lmdb"?)' % path, err)
        self.assertIn("%s:4: 'smtp.tls' is \"nope-not-a-mode\"; it must be one of: off, "
                      "opportunistic, required\n" % path, err)
        self.assertIn('%s:6: ' % path, err)
        self.assertIn('(did you mean "redirect"?)', err)
        self.assertIn("3 errors", err)

    def test_every_programs_keys(self):
        # config-test knows the daemon's and the web plugin's keys from the
        # copy of their tables made at build time (tools/mkkeys.c): their
        # types, bounds, value names and listen-address form, and an unknown
        # group is still an error; --print shows their defaults
        path = self.write('milter = {\n  review = "quarantin";\n  sokcet = "unix:/x";\n};\n'
                          'metrics = {\n  listen = "localhost:http";\n};\n'
                          'fastcgi = {\n  threads = 0;\n};\n'
                          'policyd = { x = 1; };\n')
        rc, out, err = run("config-test", path)
        self.assertEqual(rc, 78, err)
        self.assertIn('%s:2: \'milter.review\' is "quarantin"; it must be one of: quarantine, header '
                      '(did you mean "quarantine"?)' % path, err)
        self.assertIn("%s:3: " % path, err)
        self.assertIn("did you mean 'milter.socket'", err)
        self.assertIn('%s:6: metrics.listen: "localhost:http" is not ADDRESS:PORT' % path, err)
        self.assertIn("%s:9: 'fastcgi.threads' is 0; it must be between 1 and 256" % path, err)
        self.assertIn("%s:11: " % path, err)
        self.assertIn("policyd", err)
        self.assertIn("5 errors", err)
        rc, out, err = run("config-test", "--print")
        self.assertEqual(rc, 0, err)
        for line in ('milter.control_socket = "/run/mailverifyd/control.sock"',
                     'milter.policy_tempfail = "defer_if_permit"', 'metrics.listen = ""',
                     "fastcgi.threads = 4"):
            self.assertIn(line, out.decode())

    def test_syntax_error(self):
        path = self.write("typo = {\n  enabled = true;\n  = false;\n};\n")
        rc, _, err = run("config-test", path)
        self.assertEqual(rc, 78)
        self.assertIn("%s:3: syntax error" % path, err)
        self.assertEqual(len(err.splitlines()), 2, err)   # the message and the count

    def test_check_refuses_bad_config(self):
        path = self.write("nonsense = 1;\n")
        rc, out, err = run("check", "--offline", "--config", path, "a@example.com")
        self.assertEqual(rc, 78)
        self.assertEqual(out, b"")
        self.assertIn("unknown key 'nonsense'", err)

    def test_missing_file(self):
        rc, _, err = run("config-test", os.path.join(self.dir.name, "absent.conf"))
        self.assertEqual(rc, 78)
        self.assertIn("No such file", err)

    def test_own_lists_and_allow(self):
        with open(os.path.join(self.dir.name, "disp.txt"), "w") as f:
            f.write("# ours\nthrowaway.example\nnot a domain\n")
        path = self.write('lists = { disposable = "disp.txt"; allow = [ "mailinator.com" ]; };\n')
        rc, out, err = run("check", "--offline", "--json", "--config", path, "a@throwaway.example",
                           "b@mailinator.com")
        v = verdicts(out)
        self.assertEqual([x["reason"] for x in v], ["disposable", "unverified"])
        self.assertIn("disp.txt:3: not a valid disposable domain", err)

    def test_secrets_not_printed(self):
        """Issue 13: config-test --print masks passwords, URL credentials,
        query tokens and keys; the settings stay recognisable."""
        path = self.write(
            'cache = { redis_password = "s3cret-pw"; redis_user = "bob"; };\n'
            'webhook = { url = "https://bob:hunter2@127.0.0.1:1/x?token=t0ken-value";\n'
            '            secret = "whsec-value"; };\n'
            'fastcgi = { pass_through = "http://carol:pa55-carol@127.0.0.1:2/form";\n'
            '            block_redirect = "https://dave:pa55-dave@blocked.example/why";\n'
            '            cors_origins = [ "https://erin:pa55-erin@shop.example" ];\n'
            '            api_keys = [ "apikey-value" ]; };\n')
        rc, out, err = run("config-test", "--print", path)
        self.assertEqual(rc, 0, err)
        text = out.decode("utf-8") + err
        for secret in ("s3cret-pw", "hunter2", "t0ken-value", "whsec-value", "pa55-carol",
                       "pa55-dave", "pa55-erin", "apikey-value"):
            self.assertNotIn(secret, text)
        for shown in ('cache.redis_password = "(hidden)"',
                      'webhook.url = "https://***@127.0.0.1:1/x?token=***"',
                      'fastcgi.pass_through = "http://***@127.0.0.1:2/form"',
                      'fastcgi.block_redirect = "https://***@blocked.example/why"',
                      'fastcgi.cors_origins = [ "https://***@shop.example" ]',
                      'cache.redis_user = "bob"'):
            self.assertIn(shown, text)

    def test_secrets_not_in_errors(self):
        """A rejected URL is quoted masked in the error."""
        path = self.write('webhook = { url = "ftp://bob:hunter2@127.0.0.1/x"; };\n'
                          'cache = { store = "redis"; redis_server = "redis://bob:hunter3@127.0.0.1:6379";\n'
                          '          redis_password = "s3cret-pw"; };\n')
        rc, out, err = run("config-test", "--print", path)
        self.assertEqual(rc, 78, err)
        for secret in ("hunter2", "hunter3", "s3cret-pw"):
            self.assertNotIn(secret, err + out.decode("utf-8"))
        self.assertIn("ftp://***@127.0.0.1/x", err)
        self.assertIn("redis://***@127.0.0.1:6379", err)

    def test_list_lines_not_echoed(self):
        """Issue 13: a list path pointing at the wrong file (/etc/shadow)
        gets its bad lines reported by file and line number, never quoted."""
        shadow = os.path.join(self.dir.name, "shadow")
        with open(shadow, "w") as f:
            f.write("root:$6$saltsalt$hashhash:19000:0:99999:7:::\n"
                    "daemon:*:19000:0:99999:7:::\nok.example\n")
        for key in ("disposable", "disposable_wildcards", "free", "role", "providers", "tlds"):
            path = self.write('lists = { %s = "%s"; };\n' % (key, shadow))
            for args in (("config-test", "--print", path),
                         ("check", "--offline", "--config", path, "a@example.com")):
                rc, out, err = run(*args)
                text = out.decode("utf-8") + err
                if key != "tlds":       # a TLD is any line without a dot
                    self.assertIn("%s:1: " % shadow, err, (key, args))
                    self.assertIn("%s:2: " % shadow, err, (key, args))
                for piece in ("saltsalt", "hashhash", "root:", "daemon:", "19000"):
                    self.assertNotIn(piece, text, (key, args))


if __name__ == "__main__":
    unittest.main(verbosity=2)
