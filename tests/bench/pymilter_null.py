#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pymilter_null.py - a trivial milter in Python (Debian's python3-milter):
every MAIL FROM and RCPT TO is answered "continue", nothing else asked for.
A peer for `make bench-milter` (TESTWORLD.md: "a trivial milter written in
Python").

    /usr/bin/python3 tests/bench/pymilter_null.py inet:PORT@127.0.0.1
"""
import sys

import Milter


class Null(Milter.Base):
    def envfrom(self, mailfrom, *params):
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        return Milter.CONTINUE


def main():
    Milter.factory = Null
    Milter.set_flags(0)
    Milter.runmilter("pynull", sys.argv[1], 240)


if __name__ == "__main__":
    main()
