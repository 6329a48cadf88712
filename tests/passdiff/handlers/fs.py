#!/usr/bin/python3 -W ignore
# SPDX-License-Identifier: MIT
"""fs.py - a legacy form handler on Python's cgi.FieldStorage.

Reads what a typical handler could read for each pass field (argv):
form.getlist(name) (a file part's content among them), the filename
of every file part of that name; prints {"handler": "python", "fields":
{name: [hex of each value]}} to the file $PASSDIFF_OUT.
"""
import json
import os
import sys
import warnings

warnings.simplefilter("ignore")
import cgi  # noqa: E402


def as_bytes(v):
    if v is None:
        return b""
    if isinstance(v, bytes):
        return v
    # FieldStorage decodes with utf-8/replace (encoding=): surrogateescape keeps the bytes
    return v.encode("utf-8", "surrogateescape")


def flat(v, acc):
    """A value; a nested multipart part's value is its list of parts: each
    one's value and filename."""
    if isinstance(v, list):
        for it in v:
            if getattr(it, "filename", None):
                acc.append(as_bytes(it.filename))
            flat(getattr(it, "value", it), acc)
    else:
        acc.append(as_bytes(v))


out = {"handler": "python", "fields": {}}
try:
    form = cgi.FieldStorage(fp=sys.stdin.buffer, environ=os.environ, keep_blank_values=True,
                            errors="surrogateescape")
    for name in sys.argv[1:]:
        vals = []
        try:
            for v in form.getlist(name):
                flat(v, vals)
            items = form[name] if name in form else []
            if not isinstance(items, list):
                items = [items]
            for it in items:
                if getattr(it, "filename", None):
                    vals.append(as_bytes(it.filename))
        except (TypeError, KeyError) as e:      # not a form at all: no fields
            out.setdefault("notes", []).append("%s: %s" % (name, e))
        out["fields"][name] = [v.hex() for v in vals]
except Exception as e:                          # noqa: BLE001 - a handler that crashes reads nothing
    out["error"] = "%s: %s" % (type(e).__name__, e)
with open(os.environ["PASSDIFF_OUT"], "w") as f:
    json.dump(out, f)
