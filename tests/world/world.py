#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""world.py - the loopback test world: a small internet on 127.0.0.0/8 and ::1.

Run it only inside a private network namespace (tests/in-netns): it binds
127.0.0.1:53, mounts its own resolv.conf over /etc/resolv.conf and sets the
hostname, and it refuses to start anywhere else.

    with World(workdir) as w:          # starts everything, waits until it answers
        ...                            # mailverify --resolver 127.0.0.1 --allow-private ...
                                       # on exit: everything stopped, nothing left running

    tests/in-netns /usr/bin/python3 tests/world/world.py run -- CMD ARGS
    tests/in-netns /usr/bin/python3 tests/world/world.py shell
    /usr/bin/python3 tests/world/world.py table       # print the tables below

Components (each its own process group, all stopped on exit):

  unbound         a real DNS server on 127.0.0.1:53 and [::1]:53, authoritative
                  for "test." from a generated zone file (auth-zone), refusing
                  everything else (local-zone "." refuse: it never recurses).
                  servfail.test (and below): SERVFAIL (an auth-zone whose
                  zone file is empty); timeout.test (and below): no answer at
                  all (local-zone deny: UDP dropped, TCP closed unanswered).
  dnsd.py         a hostile DNS server (dnslib) on 127.0.0.1:5353, UDP and TCP:
                  the same "test." zone plus the hand-crafted answers listed
                  in HOSTILE_DNS (truncation, garbage, compression loops ...).
  Postfix         the real destination MX on 127.0.0.2:25 (mx.ok.test), for
                  ok.test and amx.test; users alice, bob, postmaster (and
                  user+tag); unknown users get Postfix's own "550 5.1.1 <x>:
                  Recipient address rejected: User unknown in local recipient
                  table"; STARTTLS offered (self-signed); mail that gets
                  through is discarded; log in WORKDIR/postfix/maillog.
  smtpd.py        scripted SMTP servers (one asyncio process) on the 127.0.0.x
                  addresses of SMTP_SERVERS and on [::1]:25, behaviour chosen
                  by the local address. Each logs to WORKDIR/smtp-NAME.log one
                  line per command received (see LOG FORMAT) and all of them
                  to WORKDIR/smtp-transcript.log both directions. None ever
                  accepts DATA (554, logged with "!!!" and in
                  WORKDIR/DATA-RECEIVED); QUIT always gets 221.

Users of the scripted servers ("users behaviour", also after greylisting,
after STARTTLS etc.), by local part, "+tag" ignored (known+x@ is known@):

  known, postmaster  250 2.1.5 Ok
  full               552 5.2.2 Mailbox full
  fulltemp           452 4.2.2 Mailbox full
  disabled           550 5.2.1 Mailbox disabled
  gone               550 No such user here            (no enhanced code)
  anything else      550 5.1.1 User unknown
  the 6th and later RCPT of one session (any reply): 452 4.5.3 Too many recipients
  a recipient domain the server does not serve: 554 5.7.1 <rcpt>: Relay access denied

LOG FORMAT (WORKDIR/smtp-NAME.log; written, and flushed, before the reply):
  TIME SESSION PEER COMMAND
  1795752321.123456 s000004 127.0.0.1:40312 RCPT TO:<known@users.test>
  and events in angle brackets: <connect 127.0.0.21:25>, <tls TLSv1.3 ...>,
  <tls-failed ...>, <close>.  World.sessions(name) parses it.

DNS: every name is in DNS_TABLE / the generated zone; the scripted
servers' domains are NAME.test MX 10 mx.NAME.test, mx.NAME.test A IP.
Any other name under .test is NXDOMAIN; names outside .test are REFUSED.
big.test has BIG_MX (2000) MX records via unbound and 3000 via the hostile
server: both need TCP. Inside the world glibc (and so Postfix, dig, swaks)
uses unbound: /etc/resolv.conf is bind-mounted from WORKDIR/resolv.conf
("nameserver 127.0.0.1", "options timeout:1 attempts:1"), the hostname is
mta.test (A 127.0.0.1), and 127.0.0.2/32 is added to lo (Postfix binds
only addresses an interface has).

IPv6: when ::1 cannot be bound (IPv6 off in some containers) unbound
listens on 127.0.0.1 only and the v6 server is left out; World.ipv6 says.

Files in WORKDIR: test.zone, unbound.conf, postfix/{etc,queue,data,maillog},
cert.pem/key.pem (one self-signed P-256 certificate for every MX name),
smtp-NAME.log, smtp-transcript.log, DATA-RECEIVED, NAME.stderr of each
process (unbound, dnsd, smtpd, postfix).

Bulk: World(workdir, bulk_domains=N) adds bulk000.test .. bulk(N-1).test
(three digits), each with its own MX host and address, as domains have on
the Internet, so that a verifier's per-host limits are per domain:
bulkNNN.test MX 10 mx.bulkNNN.test, mx.bulkNNN.test A 127.0.1.NNN
(bulk_ip(i): 127.0.(1 + i // 256).(i % 256), so bulk256.test is 127.0.2.0).
Every one of these addresses runs the "bulk" behaviour and serves only its
own domain (other domains: 554 5.7.1 Relay access denied); 127.0.0.40
(mx.bulk.test) runs it too and serves bulk.test and every bulkNNN.test.
The bulk behaviour delays every reply by bulk_delay_ms (default 20) and
accepts local parts that are digits, optionally after "user" (0042@,
user0042@), any number of RCPT per session; everything else 550 5.1.1 User
unknown. All of them log to WORKDIR/smtp-bulk.log; a session's
"<connect IP:25>" event tells which domain's MX it reached.

Providers: World(workdir, providers=True) (world.py --providers) adds the
scripted imitations of large mailbox providers and mail gateways of
providers.py (Gmail, Microsoft 365, Yahoo, iCloud, GMX, Proofpoint, Mimecast,
Barracuda, IronPort, postscreen, tarpits, limits ...) on 127.0.200.N, each
with its own test domain(s) and an MX host named like the provider's
(contoso-com.mail.protection.outlook.com, mta5.am0.yahoodns.net ...): those
outside .test are local-data of unbound (a static local-zone per name), so
they resolve only inside the namespace. providers.py documents the scripts
and the expected verdict of each test address; `world.py table` lists them.

Faults that end (test_recovery.py): World.fault(name, seconds) starts a
fault now that ends by itself after seconds (0 ends it at once); the
servers read its end from WORKDIR/fault-NAME at each connection or query.
"pair" (127.0.0.47) has "pairstall" (silent after connect) and "pairrate"
(421 4.7.0 rate limited at the banner), and counts its concurrent sessions
(the fleet tests). "stall" (127.0.0.44) says nothing after connect while its fault lasts
(the banner comes when it ends), "dnsdown" makes the hostile DNS server
drop every query for dnsdown.test and below (logged to
WORKDIR/dns-dnsdown.log). Greylisters: "greystrict" counts whole seconds
and wants more than the delay (grey_strict_seconds, names none),
"greytwice" greylists a triplet's first grey_twice_count attempts
(naming grey_seconds), "greylong" greylists for grey_long_seconds (names
none).

Extra Postfix instances: World.add_postfix(name, ip, main_cf, master_cf)
starts another real Postfix (its own config, queue and data directories
under WORKDIR/NAME, smtpd on IP:25, IP added to lo), stopped with the
world; benchmarks use one as a peer (verify(8) with
reject_unverified_recipient). postfix_dirs() and postfix_master_cf() are
the pieces it and the world's own Postfix share.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"     # Debian's modules (dnslib) load only here

RESOLVER = "127.0.0.1"          # unbound, port 53 (also [::1]:53)
HOSTILE_DNS = ("127.0.0.1", 5353)
POSTFIX_IP = "127.0.0.2"        # mx.ok.test: ok, amx, multi, tempfirst, cname, mxcname .test
DEAD_IP = "127.0.0.15"          # dead.multi.test: nothing listens (refused)
POSTFIX_USERS = ("alice", "bob", "postmaster")

# Scripted SMTP servers: name, address, behaviour. Domain NAME.test,
# MX host mx.NAME.test (A address), except v6 (see DNS_TABLE).
SMTP_SERVERS = [
    ("t421", "127.0.0.17", "421 4.3.2 at the banner, then closes (tempfirst.test's first MX)"),
    ("catchall", "127.0.0.20", "every RCPT 250 2.1.5 Ok (no recipient limit)"),
    ("users", "127.0.0.21", "users behaviour (known/full/fulltemp/disabled/gone, 5 RCPT per session)"),
    ("grey", "127.0.0.22", "greylisting: a new (client ip, sender, recipient) gets "
                           "'450 4.7.1 Greylisted, try again in N seconds' until N s "
                           "(grey_seconds, default 2) after first seen; then users behaviour"),
    ("greypg", "127.0.0.39", "as grey, with postgrey's words via Postfix: '450 4.2.0 <rcpt>: "
                             "Recipient address rejected: Greylisted, see http://postgrey...'"),
    ("tls", "127.0.0.23", "offers STARTTLS (self-signed), users behaviour with or without TLS"),
    ("tlsreq", "127.0.0.24", "offers STARTTLS; before TLS MAIL/RCPT get '530 5.7.0 Must issue "
                             "a STARTTLS command first'; after TLS users behaviour"),
    ("badtls", "127.0.0.25", "offers STARTTLS, answers '220 2.0.0 Ready to start TLS', then "
                             "sends garbage bytes instead of a handshake (closes after 10 s)"),
    ("notls", "127.0.0.26", "no STARTTLS in EHLO; STARTTLS gets 502; users behaviour"),
    ("tarpit", "127.0.0.27", "waits tarpit_seconds (default 30) before the banner, then users"),
    ("slow", "127.0.0.28", "sends the banner one byte per second (slowloris), then users"),
    ("drop", "127.0.0.29", "closes the connection (no reply) as soon as a RCPT arrives"),
    ("garbage", "127.0.0.30", "sends 'HTTP/1.1 400 Bad Request' + headers at connect, closes"),
    ("huge", "127.0.0.31", "banner is an endless multi-line reply: '220-...' forever"),
    ("hugeline", "127.0.0.32", "banner is one 1 MiB line ('220 xxxx...'), then users"),
    ("afterclose", "127.0.0.33", "RCPT gets '250 2.1.5 Ok', then extra bytes, then the "
                                 "server closes"),
    ("banner554", "127.0.0.34", "banner '554 5.7.1 No probes from you'; then 503 to all but QUIT"),
    ("heloreject", "127.0.0.35", "EHLO and HELO both '550 5.7.1 Go away'"),
    ("noehlo", "127.0.0.36", "EHLO '502 5.5.2 Command not recognized', HELO 250; then users"),
    ("nonull", "127.0.0.37", "MAIL FROM:<> '550 5.7.1 Null sender not accepted', other "
                             "senders 250; then users"),
    ("blocked", "127.0.0.38", "RCPT '550 5.7.1 Service unavailable; client host blocked using "
                              "zen.spamhaus.org' (a policy block, not a mailbox verdict)"),
    ("bulk", "127.0.0.40", "replies delayed bulk_delay_ms (20); digits@ / userDIGITS@ 250; "
                           "serves bulk.test and every bulkNNN.test"),
    ("v6", "::1", "users behaviour on [::1]:25 for v6.test (MX mx6.test AAAA ::1)"),
    # faults that end (test_recovery.py)
    ("greystrict", "127.0.0.41", "greylisting that names no delay ('451 4.7.1 Greylisting in "
                                 "action, please come back later') on a whole-second clock: a "
                                 "triplet passes once MORE than grey_strict_seconds (3) whole "
                                 "seconds have passed since first seen (now_s > first_s + N), so "
                                 "a retry at exactly the delay is too early; then users behaviour"),
    ("greytwice", "127.0.0.42", "'450 4.7.1 Greylisted, try again in N seconds' (grey_seconds) "
                                "to a triplet's first grey_twice_count (2) attempts, whenever "
                                "they come; then users behaviour"),
    ("greylong", "127.0.0.43", "greylists a triplet for grey_long_seconds (20: a time-scaled "
                               "'10 minutes') after first seen, naming no delay (postgrey's "
                               "words); then users behaviour"),
    ("stall", "127.0.0.44", "while World.fault('stall', S) is in force: accepts TCP and says "
                            "nothing until the fault ends (then the banner); else users behaviour"),
    ("dnsdown", "127.0.0.45", "users behaviour; via the hostile DNS its names get no answer while "
                              "World.fault('dnsdown', S) is in force"),
    ("stalllong", "127.0.0.46", "as stall, with its own fault (World.fault('stalllong', S)): a "
                                "longer tarpit next to stall's"),
    ("pair", "127.0.0.47", "allows two sessions at once: logs '<concurrent N>' at each connect; "
                           "a third gets '421 4.7.0 Too many concurrent SMTP connections' and "
                           "is closed; replies delayed bulk_delay_ms; digits@ / userDIGITS@ "
                           "250, others 550 5.1.1; while World.fault('pairstall', S): silent "
                           "after connect; while World.fault('pairrate', S): '421 4.7.0 ... "
                           "rate limited' at the banner"),
]

# The zone: (owner, type, data), owners without the trailing dot. The
# scripted servers' NAME.test / mx.NAME.test records are added by zone_records().
DNS_TABLE = [
    ("mta.test", "A", "127.0.0.1"),                    # this machine's FQDN (hostname)
    ("ok.test", "MX", "10 mx.ok.test."),               # the real Postfix
    ("mx.ok.test", "A", POSTFIX_IP),
    ("amx.test", "A", POSTFIX_IP),                     # no MX: implicit MX -> Postfix
    ("multi.test", "MX", "10 dead.multi.test."),       # MX walking: refused, then Postfix
    ("multi.test", "MX", "20 mx.ok.test."),
    ("dead.multi.test", "A", DEAD_IP),
    ("dead.test", "MX", "10 dead.multi.test."),        # only MX refuses connections
    ("tempfirst.test", "MX", "10 mx.t421.test."),      # 421 banner, then Postfix
    ("tempfirst.test", "MX", "20 mx.ok.test."),
    ("nullmx.test", "MX", "0 ."),                      # RFC 7505
    ("nomail.test", "TXT", '"v=spf1 -all"'),           # exists: NODATA for MX, A, AAAA
    ("nohost.test", "MX", "10 missing.nohost.test."),  # MX target is NXDOMAIN
    ("mxcname.test", "MX", "10 alias.mxcname.test."),  # MX target is a CNAME (to mx.ok.test)
    ("alias.mxcname.test", "CNAME", "mx.ok.test."),
    ("cname.test", "CNAME", "ok.test."),               # CNAME to a domain with MX
    ("loop1.test", "CNAME", "loop2.test."),            # CNAME loop
    ("loop2.test", "CNAME", "loop1.test."),
    ("cnameloop.test", "CNAME", "cnameloop.test."),    # CNAME to itself
    ("v6.test", "MX", "10 mx6.test."),                 # IPv6-only MX: [::1]:25 (scripted)
    ("mx6.test", "AAAA", "::1"),
]
# big.test: MX 1..N, all "mx.ok.test.": over UDP only TC=1, so TCP is needed.
# unbound stops compressing names after the first few hundred records, so
# 2000 (~51 kB) is about what it fits in one message; the hostile server,
# which compresses all of them, serves 3000 (~48 kB).
BIG_MX = 2000
BIG_MX_HOSTILE = 3000

# Names only the hostile server (127.0.0.1:5353) answers specially. Via
# unbound they are NXDOMAIN, except those also in the zone: cnameloop.test,
# servfail.test and timeout.test behave alike on both; big.test has
# BIG_MX (2000) MX records via unbound, 3000 via the hostile server.
HOSTILE_NAMES = {
    "big.test": "3000 MX 1..3000 mx.ok.test. (UDP: TC=1 with no records; TCP ~48 kB)",
    "tc.test": "MX 10 mx.ok.test, but every UDP answer is truncated (TC=1, no records); TCP full",
    "alwaystc.test": "TC=1 and no records even over TCP",
    "cut.test": "a 4-MX answer cut off in the middle of a record, TC=0",
    "junk.test": "the query's ID followed by 64 random bytes",
    "wrongid.test": "a correct MX answer under a different message ID",
    "badcount.test": "header says ANCOUNT=5, one MX record follows",
    "longname.test": "MX 10 <5 labels of 63 'a' = 321-byte name> (over the 255 limit)",
    "ptrloop.test": "MX whose target is a compression pointer to itself",
    "ptrfwd.test": "MX whose target is a compression pointer past the end of the message",
    "shortmx.test": "MX with RDLENGTH 1 (no room for the preference)",
    "cnameloop.test": "CNAME cnameloop.test (to itself); loop1/loop2.test as in the zone",
    "servfail.test": "SERVFAIL (and every name below it)",
    "refused.test": "REFUSED",
    "timeout.test": "no answer ever (UDP dropped; TCP held open, silent)",
    "dnsdelay.test": "MX 10 mx.ok.test after dns_delay seconds (default 2.0)",
    "tcmx.test": "TC=1 over UDP and TCP; the TCP answer also carries MX 10 mx.ok.test",
    "tcnx.test": "TC=1 with RCODE NXDOMAIN, over UDP and TCP",
    "lowcount.test": "NOERROR, ANCOUNT=0, and an MX record after the question anyway",
    "tcamx.test": "MX 10 mx.tcamx.test, whose A/AAAA answers are TC=1 with no records (UDP and TCP)",
    "badamx.test": "MX 10 mx.badamx.test, whose A record has RDLENGTH 3",
    "cntamx.test": "MX 10 mx.cntamx.test, whose A answer says ANCOUNT=3 and holds one record",
    "badaimp.test": "no MX (NODATA); an A record with RDLENGTH 3 (the implicit MX path)",
    "dnsdown.test": "as the zone (MX 10 mx.dnsdown.test), but no answer at all (it and below) "
                    "while World.fault('dnsdown', S) is in force; queries in dns-dnsdown.log",
}

IDLE_TIMEOUT = 60
USER_REPLIES = [
    ("known", "250 2.1.5 Ok"),
    ("postmaster", "250 2.1.5 Ok"),
    ("full", "552 5.2.2 Mailbox full"),
    ("fulltemp", "452 4.2.2 Mailbox full"),
    ("disabled", "550 5.2.1 Mailbox disabled"),
    ("gone", "550 No such user here"),
    ("*", "550 5.1.1 User unknown"),
]
RCPT_LIMIT = 5


def smtp_server(name):
    """(name, ip, what) of a scripted server."""
    for s in SMTP_SERVERS:
        if s[0] == name:
            return s
    raise KeyError(name)


def bulk_domain(i):
    return "bulk%03d.test" % i


def bulk_ip(i):
    """The address of mx.bulkNNN.test: 127.0.1.NNN for NNN < 256."""
    return "127.0.%d.%d" % (1 + i // 256, i % 256)


def zone_records(bulk_domains=0, providers=False):
    """Every record of the "test." zone as (owner, type, data)."""
    recs = list(DNS_TABLE)
    if providers:
        import providers as prov
        recs += prov.zone_records()
    for name, ip, _ in SMTP_SERVERS:
        if name == "v6":
            continue
        recs.append(("%s.test" % name, "MX", "10 mx.%s.test." % name))
        recs.append(("mx.%s.test" % name, "AAAA" if ":" in ip else "A", ip))
    for i in range(bulk_domains):
        recs.append((bulk_domain(i), "MX", "10 mx.%s." % bulk_domain(i)))
        recs.append(("mx." + bulk_domain(i), "A", bulk_ip(i)))
    for i in range(1, BIG_MX + 1):
        recs.append(("big.test", "MX", "%d mx.ok.test." % i))
    return recs


def zone_text(bulk_domains=0, providers=False):
    out = ["test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60",
           "test. 3600 IN NS ns.test.",
           "ns.test. 3600 IN A 127.0.0.1"]
    for owner, typ, data in zone_records(bulk_domains, providers):
        out.append("%s. 300 IN %s %s" % (owner, typ, data))
    return "\n".join(out) + "\n"


def table_text(bulk_domains=0):
    """The human-readable table of the world (also in README)."""
    lines = ["%-16s %-12s %s" % ("domain", "address", "behaviour"),
             "%-16s %-12s %s" % ("ok.test", POSTFIX_IP, "real Postfix (mx.ok.test); users " +
                                 ", ".join(POSTFIX_USERS) + "; STARTTLS"),
             "%-16s %-12s %s" % ("amx.test", POSTFIX_IP, "no MX, A only (implicit MX) -> Postfix"),
             "%-16s %-12s %s" % ("multi.test", DEAD_IP, "MX 10 dead (refused), MX 20 mx.ok.test"),
             "%-16s %-12s %s" % ("dead.test", DEAD_IP, "only MX refuses connections"),
             "%-16s %-12s %s" % ("tempfirst.test", "127.0.0.17", "MX 10 mx.t421.test (421), MX 20 mx.ok.test")]
    for name, ip, what in SMTP_SERVERS:
        dom = "%s.test" % name
        lines.append("%-16s %-12s %s" % (dom, ip, what))
    for owner, typ, data in DNS_TABLE:
        if owner in ("nullmx.test", "nomail.test", "nohost.test", "mxcname.test",
                     "cname.test", "loop1.test", "cnameloop.test"):
            lines.append("%-16s %-12s %s %s" % (owner, "-", typ, data))
    lines.append("%-16s %-12s %s" % ("servfail.test", "-", "SERVFAIL"))
    lines.append("%-16s %-12s %s" % ("timeout.test", "-", "no answer"))
    lines.append("%-16s %-12s %s" % ("nonexistent.test", "-", "NXDOMAIN (any other name under .test)"))
    lines.append("%-16s %-12s %s" % ("big.test", "-", "%d MX (TCP only; %d on :5353)"
                                     % (BIG_MX, BIG_MX_HOSTILE)))
    if bulk_domains:
        lines.append("%-16s %-12s %s" % ("bulk000-%03d" % (bulk_domains - 1), "127.0.1.NNN",
                                         "bulk behaviour, one MX address per domain "
                                         "(mx.bulkNNN.test, bulk_ip())"))
    lines.append("")
    lines.append("providers (World(providers=True), --providers; tests/world/providers.py):")
    import providers as prov
    lines += ["  " + ln for ln in prov.table_lines()]
    lines.append("")
    lines.append("hostile DNS on %s:%d:" % HOSTILE_DNS)
    for k, v in HOSTILE_NAMES.items():
        lines.append("  %-16s %s" % (k, v))
    return "\n".join(lines)


# --------------------------------------------------------------- safety --

def _ns(kind, pid="self"):
    try:
        return os.readlink("/proc/%s/ns/%s" % (pid, kind))
    except OSError:
        return None


def _ppid(pid):
    with open("/proc/%s/stat" % pid) as f:
        st = f.read()
    return int(st[st.rfind(")") + 2:].split()[1])


def private_namespace_problem():
    """None when we run in a private net+mount+uts namespace with only lo, else why not.

    The namespaces are compared with those of the nearest ancestor process
    in another network namespace (the shell that ran tests/in-netns);
    /proc/1 may be unreadable (containers, VMs).
    """
    if os.environ.get("MV_IN_NETNS") != "1":
        return "MV_IN_NETNS is not set: run me through tests/in-netns"
    with open("/proc/net/dev") as f:
        ifs = [ln.split(":")[0].strip() for ln in f.readlines()[2:]]
    if ifs != ["lo"]:
        return "network interfaces other than lo: %s" % ifs
    mine = {k: _ns(k) for k in ("net", "mnt", "uts")}
    pid = os.getpid()
    try:
        while pid > 1:
            pid = _ppid(pid)
            net = _ns("net", pid)
            if net is not None and net != mine["net"]:
                for k in ("mnt", "uts"):
                    if _ns(k, pid) in (None, mine[k]):
                        return "the %s namespace is not private (%s)" % (k, mine[k])
                return None
    except (OSError, ValueError):
        pass
    return "found no process outside this network namespace to compare with"


def ipv6_available():
    """True when ::1 can be bound (IPv6 may be disabled in some containers)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _dns_query(server, port, name, qtype="MX", tcp=False, timeout=0.3):
    """One query with dnslib; returns the parsed reply or None."""
    from dnslib import DNSRecord
    q = DNSRecord.question(name, qtype)
    try:
        data = q.send(server, port, tcp=tcp, timeout=timeout)
        return DNSRecord.parse(data)
    except Exception:
        return None


def _smtp_banner(ip, port=25, timeout=0.5):
    """Connect, read the banner's first bytes, QUIT. True when it starts '220'."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            data = s.recv(512)
            s.sendall(b"QUIT\r\n")
            try:
                s.recv(512)
            except OSError:
                pass
            return data.startswith(b"220")
    except OSError:
        return False


def _session_members(sid):
    """Pids of processes whose session id is sid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        # fields[0] = state, [1] ppid, [2] pgrp, [3] session
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d))
    return out


# -------------------------------------------------------------- Postfix --

POSTFIX_MASTER_CF = """# generated by tests/world/world.py; chroot (5th column) n everywhere
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_daemon_dir():
    try:
        return subprocess.check_output(["postconf", "-d", "-h", "daemon_directory"],
                                       text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "/usr/lib/postfix/sbin"


def postfix_dirs(base):
    """BASE/{etc,queue,data} for a private Postfix, owners and modes as `postfix
    start`'s checks would make them (without their ~2 s); (etc, queue, data)."""
    import grp
    import pwd
    pw = pwd.getpwnam("postfix")
    postdrop = grp.getgrnam("postdrop").gr_gid
    etc, queue, data = (os.path.join(base, d) for d in ("etc", "queue", "data"))
    for d in (base, etc, queue):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    os.makedirs(data, exist_ok=True)
    os.chown(data, pw.pw_uid, pw.pw_gid)
    os.chmod(data, 0o700)
    for d in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
              "incoming", "private", "saved", "trace"):
        p = os.path.join(queue, d)
        os.makedirs(p, exist_ok=True)
        os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(p, 0o700)
    for d, mode in (("maildrop", 0o730), ("public", 0o710)):
        p = os.path.join(queue, d)
        os.makedirs(p, exist_ok=True)
        os.chown(p, pw.pw_uid, postdrop)
        os.chmod(p, mode)
    os.makedirs(os.path.join(queue, "pid"), exist_ok=True)
    os.chmod(os.path.join(queue, "pid"), 0o755)
    return etc, queue, data


def postfix_write_cf(etc, main_cf, master_cf=POSTFIX_MASTER_CF):
    """main.cf and master.cf, dated a minute back: Postfix rereads a file
    changed within the last second, napping 0.3 s each time (~2 s in all)."""
    for n, text in (("main.cf", main_cf), ("master.cf", master_cf)):
        with open(os.path.join(etc, n), "w") as f:
            f.write(text)
    past = time.time() - 60
    for n in ("main.cf", "master.cf"):
        os.utime(os.path.join(etc, n), (past, past))


def lo_add(ip):
    """Put ip/32 on lo unless it is there: Postfix binds only addresses an
    interface has (127.0.0.1/8 on lo is not enough; private netns only)."""
    have = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    if " %s/" % ip not in have:
        subprocess.check_call(["ip", "addr", "add", ip + "/32", "dev", "lo"])


class WorldError(RuntimeError):
    pass


class World:
    """The loopback world; a context manager. See the module docstring.

    World(workdir, bulk_domains=0, bulk_delay_ms=20, grey_seconds=2,
          tarpit_seconds=30, dns_delay=2.0, setup_host=True)
      workdir        created if missing (and made 0755: Postfix reads below it);
                     not removed
      bulk_domains   N adds bulk000.test .. bulk{N-1}.test, each its own MX
                     mx.bulkNNN.test at bulk_ip(i) (127.0.1.NNN), bulk behaviour
      setup_host     False: leave /etc/resolv.conf and the hostname alone

    start() / stop() (also __enter__/__exit__): start waits until unbound and
    the hostile server answer a query, the scripted servers are bound and
    Postfix gives its banner; stop sends SIGTERM to each process group,
    waits, SIGKILLs anything left in their sessions after 2 s, and returns
    only when every process has exited. A failed start stops what started.

    Attributes: workdir, resolver ("127.0.0.1"), hostile_dns ("127.0.0.1:5353"),
    ipv6, start_seconds, stop_seconds, ready_at (name -> seconds), procs.
    Logs: log_lines(name), sessions(name), commands(name), data_received(),
    clear_logs(), postfix_log(); env() (what `world.py run` exports).
    fault(name, seconds): a fault of "stall" or "dnsdown" from now for
    seconds; its end (unix time). grey_strict_seconds (3), grey_twice_count
    (2), grey_long_seconds (20): the greystrict/greytwice/greylong servers.
    add_postfix(name, ip, main_cf): another real Postfix in the world (a peer).
    """

    def __init__(self, workdir, bulk_domains=0, bulk_delay_ms=20, grey_seconds=2,
                 tarpit_seconds=30, dns_delay=2.0, setup_host=True, providers=False,
                 grey_strict_seconds=3, grey_twice_count=2, grey_long_seconds=20):
        self.workdir = os.path.abspath(workdir)
        self.grey_strict_seconds = grey_strict_seconds
        self.grey_twice_count = grey_twice_count
        self.grey_long_seconds = grey_long_seconds
        self.providers = providers
        self.bulk_domains = int(bulk_domains)
        self.bulk_delay_ms = bulk_delay_ms
        self.grey_seconds = grey_seconds
        self.tarpit_seconds = tarpit_seconds
        self.dns_delay = dns_delay
        self.setup_host = setup_host
        self.resolver = RESOLVER
        self.hostile_dns = "%s:%d" % HOSTILE_DNS
        self.procs = {}
        self.ipv6 = None                # ::1 usable: unbound on [::1]:53, v6 server
        self._mounted = False
        self._files = []
        self.start_seconds = self.stop_seconds = None

    # ---- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        why = private_namespace_problem()
        if why:
            raise WorldError("refusing to start the test world: " + why)
        t0 = time.monotonic()
        try:
            self._prepare()
            self._spawn("unbound", ["unbound", "-d", "-c", self.path("unbound.conf")])
            self._spawn("dnsd", [PYTHON, os.path.join(HERE, "dnsd.py"), self.path("dnsd.json")])
            self._spawn("smtpd", [PYTHON, os.path.join(HERE, "smtpd.py"), self.path("smtpd.json")])
            self._spawn("postfix", [postfix_daemon_dir() + "/master", "-d",
                                    "-c", self.path("postfix/etc")])
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    def stop(self):
        """Stop everything (idempotent); wait until every process has exited."""
        t0 = time.monotonic()
        for name, p in self.procs.items():
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2.0
        for name, p in self.procs.items():
            left = max(0.0, deadline - time.monotonic())
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                pass
        # Anything still alive in a session we made (the leader or its
        # children, e.g. Postfix daemons): SIGKILL by pid, then wait.
        for _ in range(200):
            alive = []
            for name, p in self.procs.items():
                alive += _session_members(p.pid)
            if not alive:
                break
            if time.monotonic() > deadline:
                for pid in alive:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.01)
            for p in self.procs.values():
                p.poll()
        for p in self.procs.values():
            if p.returncode is None:
                p.wait()
        self.procs = {}
        if self._mounted:
            subprocess.call(["umount", "/etc/resolv.conf"])
            self._mounted = False
        for f in self._files:
            f.close()
        self._files = []
        self.stop_seconds = time.monotonic() - t0

    # ---- paths and logs

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def log_path(self, name):
        return self.path("smtp-%s.log" % name)

    def log_lines(self, name):
        """[(time, session, peer, command)] of scripted server NAME."""
        out = []
        try:
            with open(self.log_path(name), encoding="utf-8", errors="replace") as f:
                for ln in f:
                    parts = ln.rstrip("\n").split(" ", 3)
                    if len(parts) == 4:
                        out.append((float(parts[0]), parts[1], parts[2], parts[3]))
        except FileNotFoundError:
            pass
        return out

    def sessions(self, name):
        """[{'id', 'peer', 'commands': [str], 'events': [str]}] in order of connection."""
        by_id, order = {}, []
        for t, sid, peer, cmd in self.log_lines(name):
            s = by_id.get(sid)
            if s is None:
                s = by_id[sid] = {"id": sid, "peer": peer, "commands": [], "events": []}
                order.append(s)
            if cmd.startswith("<"):
                s["events"].append(cmd)
            elif not cmd.startswith("!!!"):
                s["commands"].append(cmd)
        return order

    def commands(self, name):
        """All commands NAME received, in order (events left out)."""
        return [c for s in self.sessions(name) for c in s["commands"]]

    def rcpts(self, name, addr):
        """How many RCPT TO commands for addr NAME received."""
        return sum(1 for c in self.commands(name)
                   if c.upper().startswith("RCPT TO:") and addr.lower() in c.lower())

    def fault(self, name, seconds):
        """Start a fault of server NAME ("stall", "dnsdown") now, ending by
        itself after seconds (0: end it now); returns its end (unix time).
        The servers read WORKDIR/fault-NAME at each connection or query."""
        end = time.time() + seconds if seconds > 0 else 0.0
        tmp = self.path(".fault-%s.tmp" % name)
        with open(tmp, "w") as f:
            f.write("%.6f\n" % end)
        os.replace(tmp, self.path("fault-%s" % name))
        return end

    def dns_log(self, name="dnsdown"):
        """[(time, proto, qname, qtype, 'answered'|'dropped')] of WORKDIR/dns-NAME.log."""
        out = []
        try:
            with open(self.path("dns-%s.log" % name)) as f:
                for ln in f:
                    p = ln.split()
                    if len(p) == 5:
                        out.append((float(p[0]), p[1], p[2], p[3], p[4]))
        except FileNotFoundError:
            pass
        return out

    def data_received(self):
        """Lines of WORKDIR/DATA-RECEIVED: every DATA/BDAT any scripted server saw."""
        try:
            with open(self.path("DATA-RECEIVED")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear_logs(self):
        """Empty every smtp-*.log (the servers append, so this is safe while running)."""
        for n in os.listdir(self.workdir):
            if n.startswith("smtp-") and n.endswith(".log"):
                open(self.path(n), "w").close()

    def postfix_log(self):
        try:
            with open(self.path("postfix", "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def add_postfix(self, name, ip, main_cf, master_cf=POSTFIX_MASTER_CF, timeout=30.0):
        """Start another real Postfix, stopped with the world; its base directory.

        Everything lives in WORKDIR/NAME ({etc,queue,data}, maillog); smtpd
        listens on IP:25 (ip/32 is added to lo). main_cf is the instance's own
        part of main.cf; the directories, syslog_name, maillog_file,
        inet_interfaces = IP and inet_protocols = ipv4 are written here, in
        front of it. Returns when the banner comes (WorldError if it does not).
        """
        if name in self.procs:
            raise WorldError("%s is already running" % name)
        base = self.path(name)
        etc, queue, data = postfix_dirs(base)
        head = """# generated by tests/world/world.py (add_postfix)
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
syslog_name = postfix-{name}
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
inet_interfaces = {ip}
inet_protocols = ipv4
""".format(etc=etc, queue=queue, data=data, name=name, base=base, ip=ip)
        postfix_write_cf(etc, head + main_cf, master_cf)
        lo_add(ip)
        self._spawn(name, [postfix_daemon_dir() + "/master", "-d", "-c", etc], etc)
        deadline = time.monotonic() + timeout
        while not _smtp_banner(ip):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise WorldError("Postfix %s did not start; see %s and %s/maillog" % (
                    name, self.path("%s.stderr" % name), base))
            time.sleep(0.02)
        return base

    def env(self):
        """Environment variables handed to `world.py run` commands."""
        return {"MV_WORLD_DIR": self.workdir, "MV_WORLD_RESOLVER": self.resolver,
                "MV_WORLD_HOSTILE_DNS": self.hostile_dns}

    # ---- setup

    def _prepare(self):
        self.ipv6 = ipv6_available()
        os.makedirs(self.workdir, exist_ok=True)
        os.chmod(self.workdir, 0o755)       # Postfix daemons (user postfix) chdir below it
        self._cert()
        with open(self.path("test.zone"), "w") as f:
            f.write(zone_text(self.bulk_domains, self.providers))
        open(self.path("empty.zone"), "w").close()
        with open(self.path("unbound.conf"), "w") as f:
            f.write(self._unbound_conf())
        with open(self.path("dnsd.json"), "w") as f:
            json.dump({"ip": HOSTILE_DNS[0], "port": HOSTILE_DNS[1],
                       "zone": self.path("test.zone"), "delay": self.dns_delay,
                       "big": BIG_MX_HOSTILE, "workdir": self.workdir}, f)
        with open(self.path("smtpd.json"), "w") as f:
            json.dump(self._smtpd_conf(), f, indent=1)
        self._postfix_setup()
        with open(self.path("resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:1\n" % RESOLVER)
        if self.setup_host:
            if os.path.exists("/etc/resolv.conf"):
                subprocess.check_call(["mount", "--bind", self.path("resolv.conf"),
                                       "/etc/resolv.conf"])
                self._mounted = True
            socket.sethostname("mta.test")
        lo_add(POSTFIX_IP)

    def _cert(self):
        if os.path.exists(self.path("cert.pem")) and os.path.exists(self.path("key.pem")):
            return
        names = ["mx.ok.test"] + ["mx.%s.test" % s[0] for s in SMTP_SERVERS] + ["mx6.test"]
        subprocess.check_call(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.path("key.pem"),
             "-out", self.path("cert.pem"), "-days", "3650", "-subj", "/CN=mx.world.test",
             "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(self.path("key.pem"), 0o600)

    def _unbound_conf(self):
        return """server:
  interface: 127.0.0.1{v6}
  port: 53
  do-ip6: {do6}
  username: ""
  chroot: ""
  directory: "{wd}"
  pidfile: "{wd}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  module-config: "iterator"
  trust-anchor-signaling: no
  root-key-sentinel: no
  cache-max-ttl: 300
  # never recurse: refuse everything but test.
  local-zone: "." refuse
  local-zone: "test." transparent
  # no answer at all
  local-zone: "timeout.test." deny
{providers}auth-zone:
  name: "test."
  zonefile: "{wd}/test.zone"
  fallback-enabled: no
  for-upstream: yes
  for-downstream: yes
auth-zone:
  # an auth-zone whose zone file is empty cannot load: SERVFAIL
  name: "servfail.test."
  zonefile: "{wd}/empty.zone"
  fallback-enabled: no
  for-upstream: yes
  for-downstream: yes
remote-control:
  control-enable: no
""".format(wd=self.workdir, v6="\n  interface: ::1" if self.ipv6 else "",
           do6="yes" if self.ipv6 else "no", providers=self._providers_unbound())

    def _providers_unbound(self):
        """The providers' MX hosts outside .test (alt1.gmail-smtp-in.l.google.com ...)
        as local-data, each in a static local-zone of its own exact name."""
        if not self.providers:
            return ""
        import providers as prov
        return "  # providers.py: MX hosts named like the real ones, inside this namespace only\n" + \
            prov.unbound_local_data()

    def _smtpd_conf(self):
        servers = []
        for name, ip, _ in SMTP_SERVERS:
            if ":" in ip and not self.ipv6:
                continue
            domains = ["%s.test" % name]
            if name == "bulk":
                domains += [bulk_domain(i) for i in range(self.bulk_domains)]
            servers.append({"name": name, "ip": ip, "port": 25, "domains": domains})
        for i in range(self.bulk_domains):   # one MX address per bulk domain
            servers.append({"name": "bulk", "ip": bulk_ip(i), "port": 25,
                            "domains": [bulk_domain(i)], "host": "mx." + bulk_domain(i)})
        if self.providers:
            import providers as prov
            servers += prov.smtpd_servers()
        return {"workdir": self.workdir, "servers": servers,
                "cert": self.path("cert.pem"), "key": self.path("key.pem"),
                "grey_seconds": self.grey_seconds, "tarpit_seconds": self.tarpit_seconds,
                "bulk_delay_ms": self.bulk_delay_ms, "idle_timeout": IDLE_TIMEOUT,
                "grey_strict_seconds": self.grey_strict_seconds,
                "grey_twice_count": self.grey_twice_count,
                "grey_long_seconds": self.grey_long_seconds,
                "users": USER_REPLIES, "rcpt_limit": RCPT_LIMIT,
                "ready": self.path("smtpd.ready")}

    def _postfix_setup(self):
        """The world's Postfix (mx.ok.test): own config/queue/data directories."""
        base = self.path("postfix")
        etc, queue, data = postfix_dirs(base)
        users = ", ".join("%s=%s" % (u, u) for u in POSTFIX_USERS)
        main_cf = """# generated by tests/world/world.py
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
syslog_name = postfix-world
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
myhostname = mx.ok.test
mydomain = ok.test
myorigin = ok.test
mydestination = ok.test, amx.test, multi.test, tempfirst.test, cname.test, mxcname.test
inet_interfaces = {ip}
inet_protocols = ipv4
mynetworks =
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP Postfix (test world)
biff = no
alias_maps =
alias_database =
recipient_delimiter = +
local_recipient_maps = inline:{{ {users} }}
smtpd_relay_restrictions = reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 0
smtputf8_enable = yes
# whatever gets through goes nowhere
local_transport = discard:test world
default_transport = discard:test world
relay_transport = discard:test world
virtual_transport = discard:test world
notify_classes =
# probes never finish a message, so the queue manager never hands smtpd's
# flow-control tokens back: without this, once the first smtpd process has
# used them up, every MAIL FROM waits in_flow_delay (1 s)
in_flow_delay = 0
""".format(etc=etc, queue=queue, data=data, base=base, ip=POSTFIX_IP, users=users,
           cert=self.path("cert.pem"), key=self.path("key.pem"))
        postfix_write_cf(etc, main_cf)

    def _spawn(self, name, argv, mail_config=None):
        out = open(self.path("%s.stderr" % name), "ab")
        self._files.append(out)
        env = dict(os.environ)
        env["MAIL_CONFIG"] = mail_config or self.path("postfix/etc")
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=out, start_new_session=True,
                                            cwd=self.workdir, env=env)

    def _wait_ready(self, timeout=30.0):
        t0 = time.monotonic()
        self.ready_at = {}
        deadline = time.monotonic() + timeout
        pending = {
            "unbound": lambda: _dns_query(RESOLVER, 53, "ok.test", "MX") is not None,
            "dnsd": lambda: _dns_query(HOSTILE_DNS[0], HOSTILE_DNS[1], "ok.test", "MX")
            is not None and _dns_query(HOSTILE_DNS[0], HOSTILE_DNS[1], "ok.test", "MX",
                                       tcp=True) is not None,
            "smtpd": lambda: os.path.exists(self.path("smtpd.ready")),
            "postfix": lambda: _smtp_banner(POSTFIX_IP),
        }
        try:
            os.unlink(self.path("smtpd.ready"))
        except FileNotFoundError:
            pass
        while pending:
            for name in list(pending):
                p = self.procs[name]
                if p.poll() is not None:
                    raise WorldError("%s exited with %s during start; see %s" % (
                        name, p.returncode, self.path("%s.stderr" % name)) +
                        (" and %s" % self.path("postfix", "maillog") if name == "postfix" else ""))
                if pending[name]():
                    del pending[name]
                    self.ready_at[name] = time.monotonic() - t0
            if not pending:
                break
            if time.monotonic() > deadline:
                raise WorldError("not ready after %.0f s: %s" % (timeout, ", ".join(pending)))
            time.sleep(0.02)


# ------------------------------------------------------------------ CLI --

def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="world.py", description="the loopback test world (run inside tests/in-netns)")
    ap.add_argument("--workdir", help="use this directory (kept); default: a temporary one, removed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    ap.add_argument("--bulk-domains", type=int, default=0)
    ap.add_argument("--bulk-delay-ms", type=int, default=20)
    ap.add_argument("--grey-seconds", type=float, default=2)
    ap.add_argument("--tarpit-seconds", type=float, default=30)
    ap.add_argument("--providers", action="store_true",
                    help="add the provider imitations of providers.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start the world, run CMD, stop; CMD's exit status")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("shell", help="start the world and an interactive shell in it")
    sub.add_parser("table", help="print the world's table")
    sub.add_parser("zone", help="print the generated zone file")
    a = ap.parse_args(argv)

    if a.cmd == "table":
        print(table_text(a.bulk_domains))
        return 0
    if a.cmd == "zone":
        sys.stdout.write(zone_text(a.bulk_domains, a.providers))
        return 0
    if a.cmd == "run":
        cmd = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
        if not cmd:
            ap.error("run: no command")
    else:
        cmd = [os.environ.get("SHELL", "/bin/sh"), "-i"]

    tmp = None
    workdir = a.workdir
    if not workdir:
        workdir = tmp = tempfile.mkdtemp(prefix="mv-world-")

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    # SIGTERM: stop CMD, then the world. SIGINT (^C) reaches CMD, which is
    # in our process group; we wait for it and then stop the world.
    signal.signal(signal.SIGTERM, on_signal)
    rc = 1
    try:
        with World(workdir, bulk_domains=a.bulk_domains, bulk_delay_ms=a.bulk_delay_ms,
                   grey_seconds=a.grey_seconds, tarpit_seconds=a.tarpit_seconds,
                   providers=a.providers) as w:
            sys.stderr.write("world: up in %.2f s in %s\n" % (w.start_seconds, workdir))
            env = dict(os.environ)
            env.update(w.env())
            child = subprocess.Popen(
                cmd, env=env,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                rc = child.wait()
            except KeyboardInterrupt:
                child.terminate()
                rc = child.wait()
            finally:
                signal.signal(signal.SIGINT, old_int)
            if rc < 0:
                rc = 128 - rc
        sys.stderr.write("world: stopped in %.2f s\n" % w.stop_seconds)
    except WorldError as e:
        sys.stderr.write("world: %s\n" % e)
        rc = 1
    finally:
        if tmp and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            sys.stderr.write("world: kept %s\n" % tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
