#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""peer_email_validator.py - the bench corpus through Python's email_validator.

Usage: /usr/bin/python3 tests/bench/peer_email_validator.py CORPUS

A peer for `make bench-offline`: every address of the corpus (one a line,
as tests/bench/gen-corpus writes it) goes through
email_validator.validate_email(address, check_deliverability=False) --
syntax, normalization and IDNA (UTS #46), no DNS. The corpus is read and
decoded before the clock starts (bytes that are not UTF-8 become lone
surrogates, which the validator rejects), so what is timed is validation
alone. Prints the counts and the rate, and "RATE email_validator N" for
tests/bench/bench-offline. Nothing here touches the network.
"""

import importlib.metadata
import sys
import time

from email_validator import EmailNotValidError, validate_email


def load(path):
    """The corpus as str, one address a line, a CR before the LF dropped."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [(ln[:-1] if ln.endswith(b"\r") else ln).decode("utf-8", "surrogateescape")
            for ln in lines]


def main():
    addrs = load(sys.argv[1])
    ok = bad = other = 0
    t0 = time.perf_counter()
    for a in addrs:
        try:
            validate_email(a, check_deliverability=False)
            ok += 1
        except EmailNotValidError:
            bad += 1
        except Exception:  # noqa: BLE001 - a crash on odd input is a rejection too
            other += 1
    dt = time.perf_counter() - t0
    version = importlib.metadata.version("email_validator")
    print(f"email_validator {version}: {len(addrs)} addresses in {dt:.2f} s: "
          f"{ok} valid, {bad} invalid, {other} other exceptions")
    print(f"RATE email_validator {len(addrs) / dt:.0f}")
    print(f"VERSION email_validator {version}")


if __name__ == "__main__":
    sys.exit(main())
