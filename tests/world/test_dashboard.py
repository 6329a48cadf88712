#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_dashboard - docs/grafana-mailverify.json is built on metrics the
programs really export.

- the file is JSON, a current Grafana schema, with a Prometheus
  data-source variable and job/instance variables; every panel has a
  title, a description, a data source and PromQL targets;
- every metric name in the targets' expressions (mailverify_..., with
  _bucket/_sum/_count mapped to the histogram they belong to, as the
  exposition's # TYPE line names it) is in a live scrape of mailverifyd
  (metrics.listen, behind the test Postfix) or of mailverify.fcgi's
  /metrics (behind nginx), after a few checks through each, with its
  # TYPE line; the missing ones are named;
- the check can fail: a copy of the dashboard with a name neither program
  exports is caught, by that name.

    MAILVERIFYD=build/mailverifyd MAILVERIFY_FCGI=build/mailverify.fcgi \\
      tests/in-netns /usr/bin/python3 tests/world/test_dashboard.py [-v]
"""
import copy
import json
import os
import re
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvd import Milter, rcpt_reply, FRONT_IP  # noqa: E402
from web import Plugin, FcgiWorker, Nginx, http, free_port  # noqa: E402
from world import World  # noqa: E402

DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                         "grafana-mailverify.json")
PORT, METRICS_PORT = 10231, 10232
NAME = re.compile(r"\bmailverify_[a-z0-9_]+\b")
TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def panels(dash):
    """Every panel, those inside rows included."""
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def dashboard_metrics(dash):
    """{metric family: [panel titles]} of every PromQL expression, the
    variables' queries included; a histogram's _bucket, _sum and _count
    are its family."""
    out = {}
    exprs = [(p.get("title"), t.get("expr", "")) for p in panels(dash) for t in p.get("targets", [])]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if v.get("type") == "query":
            exprs.append(("variable " + v["name"], q.get("query", "") if isinstance(q, dict) else q or ""))
    for title, expr in exprs:
        for name in NAME.findall(expr):
            out.setdefault(re.sub(r"_(bucket|sum|count)$", "", name), []).append(title)
    return out


def exported(*texts):
    """{family: type} of the # TYPE lines of expositions."""
    typed = {}
    for text in texts:
        typed.update((m.group(1), m.group(2)) for m in TYPE.finditer(text))
    return typed


def missing(dash, typed):
    """The dashboard's metrics no exposition has, with their panels."""
    return {name: titles for name, titles in dashboard_metrics(dash).items() if name not in typed}


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)
        cls.tmp = tempfile.TemporaryDirectory(prefix="mv-dashboard-")
        os.chmod(cls.tmp.name, 0o755)
        cls.w = World(os.path.join(cls.tmp.name, "world"))
        cls.w.start()
        cls.m = cls.fcgi = cls.nginx = None
        try:
            cls.m = Milter(cls.w, 'metrics = { listen = "127.0.0.1:%d"; };\n' % METRICS_PORT, port=PORT)
            cls.m.start()
            cls.m.postfix()
            cls.fcgi = FcgiWorker(Plugin(cls.w, "dash"), spawn=False)
            cls.nginx = Nginx(cls.w.path("nginx"), free_port(), {"/dash/": cls.fcgi.port})
            # a few checks through each, so that the labelled counters have samples
            rcpt_reply("nobody@ok.test", FRONT_IP)
            rcpt_reply("alice@ok.test", FRONT_IP)
            for email in ("alice@ok.test", "nobody@ok.test", "x@nullmx.test"):
                http(cls.nginx.url("/dash/verify?email=" + email))
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % METRICS_PORT, timeout=10) as r:
                cls.daemon = r.read().decode()
            r = http(cls.nginx.url("/dash/metrics"))
            assert r.status == 200, r
            cls.plugin = r.body.decode()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in (cls.nginx, cls.fcgi):
            if p is not None:
                p.stop()
        if cls.m is not None and cls.m.proc is not None:
            cls.m.stop()
        cls.w.stop()
        cls.tmp.cleanup()

    def test_shape(self):
        d = self.dash
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertTrue(d.get("title"))
        variables = {v["name"]: v for v in d["templating"]["list"]}
        ds = variables["DS_PROMETHEUS"]
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        self.assertIn("job", variables)
        self.assertIn("instance", variables)
        ps = list(panels(d))
        self.assertTrue(8 <= len(ps) <= 14, len(ps))
        self.assertEqual(len({p["id"] for p in ps}), len(ps), "panel ids are not unique")
        for p in ps:
            with self.subTest(panel=p.get("title")):
                self.assertTrue(p.get("title"))
                self.assertTrue(p.get("description"))
                self.assertEqual(p.get("datasource"), {"type": "prometheus", "uid": "${DS_PROMETHEUS}"})
                self.assertTrue(p.get("targets"))
                for t in p["targets"]:
                    self.assertTrue(NAME.search(t.get("expr", "")), t)
                    self.assertEqual(t.get("datasource", p["datasource"]), p["datasource"])
                    # the variables select: a dashboard for one job shows only that job
                    for sel in re.findall(r"mailverify_[a-z0-9_]+(\{[^}]*\})?", t["expr"]):
                        self.assertIn('instance=~"$instance"', sel, t["expr"])

    def test_every_metric_is_exported(self):
        typed = exported(self.daemon, self.plugin)
        used = dashboard_metrics(self.dash)
        self.assertGreaterEqual(len(used), 15, sorted(used))
        gone = missing(self.dash, typed)
        self.assertFalse(gone, "the dashboard uses metrics neither program exports: " +
                         "; ".join("%s (in %s)" % (n, ", ".join(sorted(set(t)))) for n, t in sorted(gone.items())))
        # histogram_quantile() only over histograms, rate() only over counters
        for p in panels(self.dash):
            for t in p["targets"]:
                for name in re.findall(r"histogram_quantile\([^,]+, *sum by \(le\) \(rate\((mailverify_[a-z0-9_]+)_bucket",
                                       t["expr"]):
                    self.assertEqual(typed[name], "histogram", name)
                for name in re.findall(r"\brate\((mailverify_[a-z0-9_]+_total)\b", t["expr"]):
                    self.assertEqual(typed[name], "counter", name)

    def test_both_programs_are_needed(self):
        # each scrape alone leaves something out: the test did scrape both
        used = dashboard_metrics(self.dash)
        self.assertTrue(missing(self.dash, exported(self.daemon)))
        self.assertTrue(missing(self.dash, exported(self.plugin)))
        self.assertIn("mailverify_build_info", exported(self.daemon))
        self.assertIn("mailverify_build_info", exported(self.plugin))
        self.assertIn("mailverify_check_duration_seconds", used)
        self.assertIn("mailverify_verify_duration_seconds", used)

    def test_a_name_not_exported_is_caught(self):
        bogus = copy.deepcopy(self.dash)
        target = next(p for p in panels(bogus) if p.get("targets"))
        target["targets"].append({"refId": "Z", "datasource": target["datasource"],
                                  "expr": 'histogram_quantile(0.9, sum by (le) (rate('
                                          'mailverify_bogus_seconds_bucket{instance=~"$instance"}[5m])))'
                                          ' + rate(mailverify_verdicts_totl[5m])'})
        gone = missing(bogus, exported(self.daemon, self.plugin))
        self.assertEqual(set(gone), {"mailverify_bogus_seconds", "mailverify_verdicts_totl"})
        self.assertEqual(gone["mailverify_bogus_seconds"], [target["title"]])


if __name__ == "__main__":
    unittest.main()
