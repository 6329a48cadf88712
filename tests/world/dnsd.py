#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""dnsd.py - the test world's hostile DNS server (UDP and TCP), dnslib.

Started by world.py as `dnsd.py CONFIG.json` ({"ip", "port", "zone", "delay"}).
It answers the world's "test." zone (the same zone file unbound serves) as
an authoritative server would -- CNAME chains followed inside the zone,
NODATA and NXDOMAIN with the SOA, REFUSED outside .test -- and, for the
names in world.HOSTILE_NAMES, answers no well-behaved server gives. UDP
answers larger than the client's limit (512, or its EDNS size) are cut to
the header and question with TC=1.

Names for truncated and malformed answers that a resolver must take as a
temporary failure, never as "no records" (test_dns_faults.py):

  tcmx.test      TC=1 over UDP and over TCP; the TCP answer also carries
                 MX 10 mx.ok.test (what arrived of a cut answer)
  tcnx.test      TC=1 with RCODE NXDOMAIN, over UDP and TCP
  lowcount.test  NOERROR, ANCOUNT=0, and an MX record after the question
                 anyway (the count lies low; every qtype)
  tcamx.test     MX 10 mx.tcamx.test; A/AAAA of mx.tcamx.test TC=1 with no
                 records over UDP and TCP
  badamx.test    MX 10 mx.badamx.test; its A record has RDLENGTH 3; AAAA NODATA
  cntamx.test    MX 10 mx.cntamx.test; its A answer says ANCOUNT=3 and holds
                 one A record (127.0.0.2); AAAA NODATA
  badaimp.test   no MX (NODATA); A record with RDLENGTH 3; AAAA NODATA
                 (the implicit MX path)

A resolver outage (test_recovery.py):

  dnsdown.test   the zone's answers (MX 10 mx.dnsdown.test, its A), but none
                 at all, for it and every name below it, while the fault
                 World.fault("dnsdown", S) is in force (the file
                 WORKDIR/fault-dnsdown holds its end); every query for these
                 names is logged to WORKDIR/dns-dnsdown.log:
                 "TIME udp|tcp QNAME QTYPE answered|dropped"
"""

import asyncio
import json
import os
import signal
import struct
import sys
import time

from dnslib import DNSRecord, MX, QTYPE, RCODE, RR

T_MX = QTYPE.MX
T_CNAME = QTYPE.CNAME
T_ANY = QTYPE.ANY


class Zone:
    def __init__(self, text):
        self.rrs = {}
        self.soa = None
        for rr in RR.fromZone(text):
            name = str(rr.rname).lower()
            self.rrs.setdefault(name, []).append(rr)
            if rr.rtype == QTYPE.SOA and name == "test.":
                self.soa = rr
        self.exists = set(self.rrs)
        for name in list(self.rrs):      # empty non-terminals exist too
            labels = name.split(".")
            for i in range(1, len(labels) - 2):
                self.exists.add(".".join(labels[i:]))

    def answer(self, req):
        """Fill the reply for req the way an authoritative server would."""
        rep = req.reply(ra=1, aa=1)
        q = req.q
        name, qtype = str(q.qname).lower(), q.qtype
        seen = set()
        while True:
            if name not in self.exists:
                rep.header.rcode = RCODE.NXDOMAIN
                break
            rrs = self.rrs.get(name, [])
            match = [rr for rr in rrs if rr.rtype == qtype or qtype == T_ANY]
            if match:
                for rr in match:
                    rep.add_answer(rr)
                return rep
            cn = [rr for rr in rrs if rr.rtype == T_CNAME]
            if cn and qtype != T_CNAME:
                rep.add_answer(cn[0])
                seen.add(name)
                name = str(cn[0].rdata.label).lower()
                if name in seen:           # loop: the chain so far, as unbound does
                    return rep
                continue
            break                           # NODATA
        if self.soa is not None:
            rep.add_auth(self.soa)
        return rep


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def raw_question(data):
    """The question section of a query, as it came (bytes after the header)."""
    i = 12
    while data[i] != 0:
        i += data[i] + 1
    return data[12:i + 1 + 4]


def name_bytes(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def a_rr(rdata, rtype=QTYPE.A):
    """An address RR (any RDATA, for malformed ones) owned by the question name."""
    return b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 300, len(rdata)) + rdata


def mx_rr(target_bytes, pref=10):
    """An MX RR whose owner is a pointer to the question name (offset 12)."""
    rdata = struct.pack("!H", pref) + target_bytes
    return b"\xc0\x0c" + struct.pack("!HHIH", T_MX, 1, 300, len(rdata)) + rdata


class Server:
    def __init__(self, cfg):
        self.cfg = cfg
        with open(cfg["zone"]) as f:
            self.zone = Zone(f.read())
        self.delay = float(cfg.get("delay", 2.0))

    def fault_until(self, name):
        """The end (unix time) of World.fault(name, s), or 0."""
        try:
            with open(os.path.join(self.cfg.get("workdir", "."), "fault-%s" % name)) as f:
                return float(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def log_query(self, name, tcp, qname, qtype, what):
        with open(os.path.join(self.cfg.get("workdir", "."), "dns-%s.log" % name), "a") as f:
            f.write("%.6f %s %s %s %s\n" % (time.time(), "tcp" if tcp else "udp", qname,
                                           QTYPE.get(qtype), what))

    def handle(self, data, tcp):
        """Return reply bytes, or None for no answer, or a coroutine-ish delay tuple."""
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        if not req.questions:
            return None
        qid = req.header.id
        qname = str(req.q.qname).lower().rstrip(".")
        qtype = req.q.qtype
        flags_ok = 0x8400 | (0x0100 if req.header.rd else 0) | 0x0080   # QR AA (RD) RA
        question = raw_question(data)

        def under(zone):
            return qname == zone or qname.endswith("." + zone)

        if under("timeout.test"):
            return None
        if under("dnsdown.test"):
            down = time.time() < self.fault_until("dnsdown")
            self.log_query("dnsdown", tcp, qname, qtype, "dropped" if down else "answered")
            if down:
                return None
        if under("servfail.test"):
            r = req.reply()
            r.header.rcode = RCODE.SERVFAIL
            return r.pack()
        if qname == "refused.test" or not under("test"):
            r = req.reply()
            r.header.rcode = RCODE.REFUSED
            return r.pack()
        if qname == "junk.test":
            return struct.pack("!H", qid) + os.urandom(64)
        if qname == "alwaystc.test":
            return header(qid, flags_ok | 0x0200) + question
        if qname == "tc.test":
            if not tcp:
                return header(qid, flags_ok | 0x0200) + question
            return header(qid, flags_ok, an=1) + question + mx_rr(name_bytes("mx.ok.test"))
        if qname == "wrongid.test":
            return (header(qid ^ 0x5a5a, flags_ok, an=1) + question +
                    mx_rr(name_bytes("mx.ok.test")))
        if qname == "badcount.test":
            return header(qid, flags_ok, an=5) + question + mx_rr(name_bytes("mx.ok.test"))
        if qname == "cut.test":
            full = header(qid, flags_ok, an=4) + question + b"".join(
                mx_rr(name_bytes("mx%d.ok.test" % i), 10 * i) for i in range(4))
            return full[:len(full) - 30]
        if qname == "longname.test":
            target = (b"\x3f" + b"a" * 63) * 5 + b"\0"      # 321 bytes
            return header(qid, flags_ok, an=1) + question + mx_rr(target)
        if qname == "ptrloop.test":
            hq = header(qid, flags_ok, an=1) + question
            # owner ptr(2) type class ttl rdlen(10) pref(2): the target starts here
            off = len(hq) + 2 + 10 + 2
            return hq + mx_rr(struct.pack("!H", 0xC000 | off))
        if qname == "ptrfwd.test":
            return header(qid, flags_ok, an=1) + question + mx_rr(struct.pack("!H", 0xC000 | 0x3000))
        if qname == "shortmx.test":
            return (header(qid, flags_ok, an=1) + question + b"\xc0\x0c" +
                    struct.pack("!HHIH", T_MX, 1, 300, 1) + b"\x0a")
        if qname == "big.test" and qtype in (T_MX, T_ANY):
            r = req.reply(ra=1, aa=1)
            for i in range(1, int(self.cfg.get("big", 3000)) + 1):
                r.add_answer(RR(req.q.qname, T_MX, rdata=MX("mx.ok.test.", i), ttl=300))
            out = r.pack()
            if not tcp:
                return header(qid, flags_ok | 0x0200) + question
            return out
        # truncated and malformed answers (test_dns_faults.py)
        tc = 0x0200
        if qname == "tcmx.test":
            if tcp and qtype == T_MX:
                return header(qid, flags_ok | tc, an=1) + question + mx_rr(name_bytes("mx.ok.test"))
            return header(qid, flags_ok | tc) + question
        if qname == "tcnx.test":
            return header(qid, flags_ok | tc | RCODE.NXDOMAIN) + question
        if qname == "lowcount.test":
            return header(qid, flags_ok, an=0) + question + mx_rr(name_bytes("mx.ok.test"))
        if qname in ("tcamx.test", "badamx.test", "cntamx.test"):
            if qtype != T_MX:
                return header(qid, flags_ok) + question                 # NODATA
            return header(qid, flags_ok, an=1) + question + mx_rr(name_bytes("mx." + qname))
        if qname == "mx.tcamx.test":
            return header(qid, flags_ok | tc) + question
        if qname in ("mx.badamx.test", "badaimp.test"):
            if qtype == QTYPE.A:
                return header(qid, flags_ok, an=1) + question + a_rr(b"\x7f\x00\x02")
            return header(qid, flags_ok) + question                     # NODATA
        if qname == "mx.cntamx.test":
            if qtype == QTYPE.A:
                return header(qid, flags_ok, an=3) + question + a_rr(b"\x7f\x00\x00\x02")
            return header(qid, flags_ok) + question
        if qname == "dnsdelay.test":
            r = req.reply(ra=1, aa=1)
            r.add_answer(RR(req.q.qname, T_MX, rdata=MX("mx.ok.test."), ttl=300))
            return ("delay", self.delay, r.pack())
        rep = self.zone.answer(req)
        out = rep.pack()
        if not tcp:
            limit = 512
            if req.ar:
                for rr in req.ar:
                    if rr.rtype == QTYPE.OPT:
                        limit = max(512, rr.rclass)
            if len(out) > limit:
                return header(qid, flags_ok | 0x0200 | (rep.header.rcode & 0xf)) + question
        return out


class UDP(asyncio.DatagramProtocol):
    def __init__(self, srv):
        self.srv = srv

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        out = self.srv.handle(data, tcp=False)
        if isinstance(out, tuple):
            _, delay, payload = out
            asyncio.get_running_loop().call_later(delay, self.transport.sendto, payload, addr)
        elif out is not None:
            self.transport.sendto(out, addr)


async def tcp_client(srv, reader, writer):
    try:
        while True:
            ln = await reader.readexactly(2)
            data = await reader.readexactly(struct.unpack("!H", ln)[0])
            out = srv.handle(data, tcp=True)
            if isinstance(out, tuple):
                await asyncio.sleep(out[1])
                out = out[2]
            if out is None:
                continue                    # silent; keep the connection open
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(cfg):
    srv = Server(cfg)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await loop.create_datagram_endpoint(lambda: UDP(srv), local_addr=(cfg["ip"], cfg["port"]))
    await asyncio.start_server(lambda r, w: tcp_client(srv, r, w), cfg["ip"], cfg["port"],
                               reuse_address=True)
    sys.stderr.write("dnsd: ready on %s:%d\n" % (cfg["ip"], cfg["port"]))
    sys.stderr.flush()
    await stop.wait()
    os._exit(0)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))
