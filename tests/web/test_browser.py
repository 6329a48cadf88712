#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_browser - headless Chromium on the demo signup page: mailverify.js
in a real browser, nginx, mailverify.fcgi and the loopback test world
(run inside tests/in-netns).

    tools/deps browser world web && tools/playwright-pkg build/npm    # outside the namespace
    MAILVERIFY_FCGI=build/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/web/test_browser.py [-v]

Debian's /usr/bin/chromium, driven by npm's playwright-core
(build/npm/node_modules); the scenarios are in browser.js: the local
hint never stricter than the parser (tests/cases/addresses.tsv), a typo's
suggestion fixed in one click, a warning stopping one submit, a disposable
address blocked, a real mailbox submitted, a check still pending (a
tarpit MX) that offers the typo suggestion known offline without
stopping the form, an endpoint that never answers and one that is down
(the plugin stopped) failing open. On controlled.html (a field kept the
way React keeps a controlled input, and a page in German): the one-click
fix reaching the page's state, the mailverify:verdict event, and the
page's own texts shown instead of the plugin's English. Screenshots go to
build/artifacts/*.png (ARTIFACTS=DIR for another place): typo,
typo-fixed, warn-once, disposable, syntax, good, good-thanks,
pending-typo, slow-waiting, controlled-fixed, translated, down, and
NAME-FAILED for a scenario that failed.
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "world"))
sys.path.insert(0, HERE)
from world import World         # noqa: E402
from webstack import WebStack, WWW   # noqa: E402

BUILD = os.path.dirname(os.path.abspath(os.environ.get("MAILVERIFY_FCGI", "build/mailverify.fcgi")))
ARTIFACTS = os.path.abspath(os.environ.get("ARTIFACTS", os.path.join(ROOT, "build", "artifacts")))
PLAYWRIGHT = os.environ.get("PLAYWRIGHT_CORE",
                            os.path.join(ROOT, "build", "npm", "node_modules", "playwright-core"))


def browser(url, *scenarios):
    """Run browser.js; (exit status, its output)."""
    p = subprocess.run(["node", os.path.join(HERE, "browser.js"), url, ARTIFACTS] + list(scenarios),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(os.environ, PLAYWRIGHT_CORE=PLAYWRIGHT))
    sys.stderr.write("".join("  browser: %s\n" % ln for ln in p.stdout.splitlines()))
    return p.returncode, p.stdout


class DemoPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PLAYWRIGHT):
            raise RuntimeError("no playwright-core in %s: run tools/playwright-pkg build/npm "
                               "(outside tests/in-netns)" % PLAYWRIGHT)
        os.makedirs(ARTIFACTS, exist_ok=True)
        for n in os.listdir(ARTIFACTS):          # a failure's picture from an earlier run
            if n.endswith("-FAILED.png"):
                os.unlink(os.path.join(ARTIFACTS, n))
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-browser-")
        os.chmod(cls.tmp.name, 0o755)
        cls.world = World(os.path.join(cls.tmp.name, "world"))
        cls.world.start()
        try:
            # the shipped providers plus tarpits.test: "jane@tarpit.test" is a
            # typo of it, and tarpit.test's MX keeps a check "pending"
            providers = os.path.join(cls.tmp.name, "providers.txt")
            with open(os.path.join(ROOT, "etc", "lists", "providers.txt")) as f, \
                    open(providers, "w") as out:
                out.write(f.read() + "\ntarpits.test\n")
            cls.web = WebStack(cls.world, build=BUILD,
                               extra_config='lists = { providers = "%s"; };\n' % providers,
                               pages=[os.path.join(HERE, "controlled.html")])
            cls.web.start()
        except BaseException:
            cls.world.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.web.stop()
        cls.world.stop()
        cls.tmp.cleanup()

    def test_1_served(self):
        """nginx serves the page and the script as they are in the tree."""
        status, body = self.web.get("/")
        self.assertEqual(status, 200)
        self.assertIn('src="mailverify.js" data-endpoint="verify"', body)
        status, body = self.web.get("/mailverify.js")
        with open(os.path.join(WWW, "mailverify.js")) as f:
            self.assertEqual(body, f.read())

    def test_2_with_the_plugin(self):
        rc, out = browser(self.web.url, "looser", "typo", "warn_once", "disposable", "syntax", "good",
                          "pending_typo", "slow")
        self.assertEqual(rc, 0, out)
        posts = [e for e in self.web.access_log() if e[:2] == ("POST", "/signup")]
        self.assertEqual(len(posts), 4, "warn_once, good, pending_typo and slow submit; nothing else")

    def test_2b_controlled_page(self):
        """a React-like controlled field, the verdict event, the page's own texts"""
        before = len(self.web.access_log())
        rc, out = browser(self.web.url, "controlled_fix", "verdict_event", "translated")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("/signup", [e[1] for e in self.web.access_log()[before:]])

    def test_3_endpoint_down(self):
        self.web.stop_plugin()
        before = len(self.web.access_log())
        rc, out = browser(self.web.url, "down")
        self.assertEqual(rc, 0, out)
        log = self.web.access_log()[before:]
        self.assertIn(("POST", "/verify", "502"), log)
        self.assertIn(("POST", "/signup", "200"), log)


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
