#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""verify_peer.py - drive a Postfix that verifies recipients with verify(8).

    verify_peer.py [--server IP] [--sessions N] [--retry-ms MS] [--limit S] FILE

The peer Postfix (smtpd_recipient_restrictions = reject_unverified_recipient,
unverified_recipient_reject_code = 550; see tests/bench/bench-engine) answers
a recipient it has not verified yet with "450 4.1.1 ... Recipient address
verification in progress" (after polling verify(8) address_verify_poll_count
times, address_verify_poll_delay apart), and once its probe through the
queue has come back, with 250 or 550 from its cache. This driver opens N
parallel SMTP sessions (asyncio, stdlib only), sends EHLO and MAIL FROM
once per session, then RCPT TO for each address of FILE (one a line) in
order; an address that gets 450 goes back to a retry list and is asked
again, in any free session, RETRY-MS after that answer, until it gets 250
or 550 (or the run passes --limit seconds). A session is replaced after
500 recipients (smtpd_recipient_limit is 1000).

It prints the wall time from the first connect to the last final answer,
the rate, the number of RCPTs sent and of 450s received, the final codes,
the time from an address's first RCPT to its final answer (p50/p99), and
"RESULT key=value ..." for scripts. Figures only; it never fails on them.
"""

import argparse
import asyncio
import collections
import heapq
import sys
import time


class Run:
    def __init__(self, addrs, retry_s, limit_s):
        self.todo = collections.deque(addrs)
        self.retry = []             # heap of (due, seq, address)
        self.seq = 0
        self.retry_s = retry_s
        self.first = {}             # address -> time of its first RCPT
        self.final = {}             # address -> (code, seconds since its first RCPT)
        self.rcpts = self.tempfails = self.other = 0
        self.total = len(addrs)
        self.deadline = time.monotonic() + limit_s
        self.wake = asyncio.Event()

    async def next_address(self):
        """The next address to ask: a due retry first, else a fresh one; None at the end."""
        while True:
            now = time.monotonic()
            if len(self.final) >= self.total or now > self.deadline:
                return None
            if self.retry and self.retry[0][0] <= now:
                return heapq.heappop(self.retry)[2]
            if self.todo:
                return self.todo.popleft()
            wait = self.retry[0][0] - now if self.retry else 0.5
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), max(0.001, min(wait, 0.5)))
            except asyncio.TimeoutError:
                pass

    def asking(self, addr):
        self.first.setdefault(addr, time.monotonic())

    def answered(self, addr, code):
        now = time.monotonic()
        self.rcpts += 1
        if code in (250, 550):
            self.final[addr] = (code, now - self.first[addr])
            if len(self.final) >= self.total:
                self.wake.set()
        else:
            if code == 450:
                self.tempfails += 1
            else:
                self.other += 1
            self.seq += 1
            heapq.heappush(self.retry, (now + self.retry_s, self.seq, addr))
            self.wake.set()


async def reply(r):
    """One SMTP reply's code (multi-line replies read to their end)."""
    while True:
        ln = await r.readline()
        if not ln:
            raise ConnectionError("closed")
        if ln[3:4] != b"-":
            return int(ln[:3])


async def session(run, server):
    while True:
        addr = await run.next_address()
        if addr is None:
            return
        r, w = await asyncio.open_connection(server, 25)
        try:
            await reply(r)
            w.write(b"EHLO load.mta.test\r\n")
            await reply(r)
            w.write(b"MAIL FROM:<bench@mta.test>\r\n")
            await reply(r)
            for _ in range(500):
                run.asking(addr)
                w.write(b"RCPT TO:<%s>\r\n" % addr.encode())
                run.answered(addr, await reply(r))
                addr = await run.next_address()
                if addr is None:
                    break
            if addr is not None:                 # this session is used up: put it back
                run.todo.appendleft(addr)
            w.write(b"QUIT\r\n")
            await reply(r)
        except (ConnectionError, ValueError) as e:
            sys.stderr.write("verify_peer: session: %r\n" % e)
            if addr is not None and addr not in run.final:
                run.todo.appendleft(addr)
        finally:
            w.close()


def pct(vals, p):
    if not vals:
        return 0.0
    vals = sorted(vals)
    k = max(0, min(len(vals) - 1, int(p / 100.0 * len(vals) + 0.999999) - 1))
    return vals[k]


async def main_async(a, addrs):
    run = Run(addrs, a.retry_ms / 1000.0, a.limit)
    t0 = time.monotonic()
    await asyncio.gather(*(session(run, a.server) for _ in range(a.sessions)))
    wall = time.monotonic() - t0
    codes = collections.Counter(c for c, _ in run.final.values())
    lat = [s for _, s in run.final.values()]
    done = len(run.final)
    print("verify(8) peer: %d of %d addresses answered (250 %d, 550 %d) in %.3f s, %.1f/s; "
          "%d sessions in parallel" % (done, len(addrs), codes[250], codes[550], wall,
                                       done / wall if wall else 0, a.sessions))
    print("  %d RCPTs, %d answered 450 (verification in progress), %d other; "
          "first RCPT to final answer: p50 %.3f s, p99 %.3f s, max %.3f s"
          % (run.rcpts, run.tempfails, run.other, pct(lat, 50), pct(lat, 99), max(lat or [0])))
    print("RESULT count=%d done=%d wall_s=%.6f rate=%.2f rcpts=%d tempfails=%d p50_s=%.4f "
          "p99_s=%.4f ok=%d rejected=%d" % (len(addrs), done, wall, done / wall if wall else 0,
                                           run.rcpts, run.tempfails, pct(lat, 50), pct(lat, 99),
                                           codes[250], codes[550]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="127.0.0.3")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--retry-ms", type=int, default=0)
    ap.add_argument("--limit", type=float, default=1800, help="give up after this many seconds")
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file) as f:
        addrs = [ln.strip() for ln in f if ln.strip()]
    asyncio.run(main_async(a, addrs))


if __name__ == "__main__":
    main()
