#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""smtpd.py - the test world's scripted SMTP servers (stdlib asyncio + ssl).

Started by world.py as `smtpd.py CONFIG.json`. One process listens on every
address of world.SMTP_SERVERS (port 25), and on the bulk domains' own
addresses, and picks its behaviour by the local address a client connected
to (several addresses may share one behaviour, its domains and its log);
the behaviours are documented in world.py. Every command received is logged, and flushed, before it is
answered: WORKDIR/smtp-NAME.log "TIME SESSION PEER COMMAND", plus events
in angle brackets. Both directions go to WORKDIR/smtp-transcript.log.
No behaviour ever accepts DATA or BDAT: 554, a "!!!" log line, and a line
in WORKDIR/DATA-RECEIVED.
"""

import asyncio
import itertools
import json
import math
import os
import re
import signal
import ssl
import sys
import time

LIMIT = 8192                 # longest command line we read
CFG = {}
LOGS = {}
SESSION_IDS = itertools.count(1)
GREYLIST = {}                # (client ip, sender, recipient) -> first seen
GREYCOUNT = {}               # greytwice: (client ip, sender, recipient) -> attempts
ACTIVE = {}                  # pair: sessions open now, by behaviour
PAIR_LIMIT = 2               # pair: sessions allowed at once
TRANSCRIPT = None
TLS_CTX = None


def printable(b):
    s = b.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else "\\x%02x" % ord(c) for c in s)


class Quit(Exception):
    pass


def fault_until(name):
    """The end (unix time) of the fault World.fault(name, s) set, or 0: the
    file WORKDIR/fault-NAME holds it, read at each use (the test flips it)."""
    try:
        with open(os.path.join(CFG["workdir"], "fault-%s" % name)) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


class Session:
    def __init__(self, srv, reader, writer):
        self.srv = srv
        self.name = srv["name"]
        self.domains = set(d.lower() for d in srv["domains"])
        self.reader, self.writer = reader, writer
        self.sid = "s%06d" % next(SESSION_IDS)
        peer = writer.get_extra_info("peername")
        self.peer_ip = peer[0]
        self.peer = ("[%s]:%d" if ":" in peer[0] else "%s:%d") % (peer[0], peer[1])
        sock = writer.get_extra_info("sockname")
        self.local = ("[%s]:%d" if ":" in sock[0] else "%s:%d") % (sock[0], sock[1])
        self.helo = None
        self.mail = None
        self.tls = False
        self.rcpts = 0
        self.host = srv.get("host") or ("mx.%s.test" % self.name if self.name != "v6" else "mx6.test")

    # ---- logging and I/O

    def log(self, what):
        line = "%.6f %s %s %s\n" % (time.time(), self.sid, self.peer, what)
        LOGS[self.name].write(line)
        TRANSCRIPT.write("%s %s <- %s" % (self.name, self.sid, line.split(" ", 3)[3]))

    async def send(self, data, log=True):
        if self.name in ("bulk", "pair"):
            await asyncio.sleep(CFG["bulk_delay_ms"] / 1000.0)
        if log:
            shown = data[:200] + (b"..." if len(data) > 200 else b"")
            TRANSCRIPT.write("%s %s -> %s\n" % (self.name, self.sid, printable(shown.rstrip(b"\r\n"))))
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, *lines):
        """reply("250 ok") or reply("250", "a", "b") for multi-line (code, texts...)."""
        if len(lines) == 1:
            await self.send(lines[0].encode() + b"\r\n")
            return
        code, texts = lines[0], lines[1:]
        out = "".join("%s%s%s\r\n" % (code, "-" if i < len(texts) - 1 else " ", t)
                      for i, t in enumerate(texts))
        await self.send(out.encode())

    async def readline(self):
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), CFG["idle_timeout"])
        except asyncio.IncompleteReadError as e:
            if e.partial:
                self.log("<partial %s>" % printable(e.partial))
            raise Quit
        except asyncio.LimitOverrunError:
            self.log("<line too long>")
            await self.reply("500 5.5.2 Error: line too long")
            raise Quit
        except asyncio.TimeoutError:
            self.log("<idle timeout>")
            await self.reply("421 4.4.2 %s Error: timeout exceeded" % self.host)
            raise Quit
        cmd = line.rstrip(b"\r\n")
        self.log(printable(cmd))
        return cmd.decode("utf-8", "replace")

    # ---- the session

    async def run(self):
        self.log("<connect %s>" % self.local)
        counted = self.name == "pair"
        self.counted = False
        if counted:                 # what the fleet tests read: the concurrency seen
            # a client sends QUIT and closes without waiting for our 221
            # (20 ms later): let a QUIT or EOF already on its way end the
            # old session before this one is counted (test_etiquette
            # ignores overlaps under 5 ms for the same reason)
            await asyncio.sleep(0.005)
            ACTIVE[self.name] = ACTIVE.get(self.name, 0) + 1
            self.counted = True
            self.log("<concurrent %d>" % ACTIVE[self.name])
        try:
            if counted and ACTIVE[self.name] > PAIR_LIMIT:
                await self.send(b"421 4.7.0 Too many concurrent SMTP connections from this IP\r\n",
                                log=False)
                self.log("<refused: over %d sessions>" % PAIR_LIMIT)
                raise Quit
            await self.banner()
            while True:
                line = await self.readline()
                verb = line.split(" ", 1)[0].upper()
                arg = line[len(verb):].strip()
                await self.command(verb, arg)
        except (Quit, ConnectionError, ssl.SSLError, OSError):
            pass
        except Exception as e:         # a bug here must not look like a server's choice
            self.log("<internal error %r>" % e)
            sys.stderr.write("smtpd: %s %s: %r\n" % (self.name, self.sid, e))
        finally:
            self.uncount()
            self.log("<close>")
            try:
                self.writer.close()
            except Exception:
                pass

    def uncount(self):
        """pair: this session no longer counts (its QUIT came, or it closed)."""
        if self.counted:
            ACTIVE[self.name] -= 1
            self.counted = False

    async def banner(self):
        n = self.name
        if n == "t421":
            await self.reply("421 4.3.2 %s Service shutting down, try again later" % self.host)
            raise Quit
        if n == "garbage":
            await self.send(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n"
                            b"Content-Type: text/html\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
            raise Quit
        if n == "huge":
            # whole lines, forever; a command that arrives meanwhile (QUIT)
            # ends the flood after the current line
            cmd = asyncio.ensure_future(self.readline())
            try:
                for i in itertools.count():
                    if cmd.done():
                        break
                    await self.send(("220-%s this banner never ends, line %d\r\n"
                                     % (self.host, i)).encode(), log=i < 3)
                    if i % 100 == 99:
                        await asyncio.sleep(0)
                line = cmd.result()
            finally:
                cmd.cancel()
            if line.upper().startswith("QUIT"):
                await self.reply("221 2.0.0 Bye")
            raise Quit
        if n == "hugeline":
            await self.send(b"220 " + b"x" * (1 << 20) + b"\r\n")
            return
        if n == "banner554":
            await self.reply("554 5.7.1 No probes from you")
            while True:
                line = await self.readline()
                if line.upper().startswith("QUIT"):
                    await self.reply("221 2.0.0 Bye")
                    raise Quit
                await self.reply("503 5.5.1 Error: no SMTP service here")
        if n == "tarpit":
            await asyncio.sleep(CFG["tarpit_seconds"])
        if n == "pair" and fault_until("pairrate") > time.time():
            await self.reply("421 4.7.0 %s Too many messages from your IP, rate limited; try "
                             "again later" % self.host)
            raise Quit
        if n == "pair" and fault_until("pairstall") > time.time():
            self.log("<stalling>")
            while fault_until("pairstall") > time.time():
                await asyncio.sleep(0.1)
        if n in ("stall", "stalllong"):
            left = fault_until(n) - time.time()
            if left > 0:            # a tarpit while the fault lasts: not a byte until it ends
                self.log("<stalling %.1f s>" % left)
                await asyncio.sleep(left)
        text = "220 %s ESMTP %s\r\n" % (self.host, n)
        if n == "slow":
            for ch in text.encode():
                await self.send(bytes([ch]), log=False)
                await asyncio.sleep(1.0)
            return
        await self.send(text.encode())

    async def command(self, verb, arg):
        n = self.name
        if verb == "QUIT":
            self.uncount()
            await self.reply("221 2.0.0 Bye")
            raise Quit
        if verb in ("DATA", "BDAT"):
            self.log("!!! %s RECEIVED: a verifier must never send it" % verb)
            with open(os.path.join(CFG["workdir"], "DATA-RECEIVED"), "a") as f:
                f.write("%s %s %s %s\n" % (time.time(), n, self.sid, verb))
            sys.stderr.write("smtpd: !!! %s got %s from %s\n" % (n, verb, self.peer))
            await self.reply("554 5.5.1 Error: this test world never accepts %s" % verb)
            return
        if verb in ("EHLO", "HELO"):
            if not arg:
                return await self.reply("501 5.5.4 Syntax: %s hostname" % verb)
            if n == "heloreject":
                return await self.reply("550 5.7.1 Go away")
            if n == "noehlo" and verb == "EHLO":
                return await self.reply("502 5.5.2 Command not recognized")
            self.helo, self.mail = arg, None
            if verb == "HELO":
                return await self.reply("250 %s" % self.host)
            ext = [self.host, "PIPELINING", "SIZE 10240000"]
            if n in ("tls", "tlsreq", "badtls") and not self.tls:
                ext.append("STARTTLS")
            ext += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]
            return await self.reply("250", *ext)
        if verb == "STARTTLS":
            return await self.starttls()
        if verb == "NOOP":
            return await self.reply("250 2.0.0 Ok")
        if verb == "RSET":
            self.mail = None
            return await self.reply("250 2.0.0 Ok")
        if verb == "VRFY":
            return await self.reply("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery")
        if verb == "MAIL":
            return await self.mail_from(arg)
        if verb == "RCPT":
            return await self.rcpt_to(arg)
        await self.reply("500 5.5.2 Error: command not recognized")

    async def starttls(self):
        n = self.name
        if n not in ("tls", "tlsreq", "badtls") or self.tls:
            return await self.reply("502 5.5.1 Error: command not implemented")
        if n == "badtls":
            await self.reply("220 2.0.0 Ready to start TLS")
            await self.send(b"this is not a TLS handshake \x00\xff\xfe garbage\r\n" * 8)
            try:
                await asyncio.wait_for(self.reader.read(65536), 10)
            except asyncio.TimeoutError:
                pass
            raise Quit
        await self.reply("220 2.0.0 Ready to start TLS")
        try:
            await asyncio.wait_for(self.writer.start_tls(TLS_CTX), 10)
        except Exception as e:
            self.log("<tls-failed %s>" % (str(e) or type(e).__name__))
            raise Quit
        self.tls = True
        self.helo = self.mail = None
        sslobj = self.writer.get_extra_info("ssl_object")
        self.log("<tls %s %s>" % (sslobj.version(), sslobj.cipher()[0]))

    async def mail_from(self, arg):
        m = re.match(r"(?i)FROM:\s*<([^>]*)>(.*)$", arg)
        if not self.helo:
            return await self.reply("503 5.5.1 Error: send HELO/EHLO first")
        if not m:
            return await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        if self.name == "tlsreq" and not self.tls:
            return await self.reply("530 5.7.0 Must issue a STARTTLS command first")
        if self.mail is not None:
            return await self.reply("503 5.5.1 Error: nested MAIL command")
        sender = m.group(1)
        if self.name == "nonull" and sender == "":
            return await self.reply("550 5.7.1 Null sender not accepted")
        self.mail = sender
        await self.reply("250 2.1.0 Ok")

    async def rcpt_to(self, arg):
        n = self.name
        m = re.match(r"(?i)TO:\s*<([^>]*)>(.*)$", arg)
        if n == "tlsreq" and not self.tls:
            return await self.reply("530 5.7.0 Must issue a STARTTLS command first")
        if self.mail is None:
            return await self.reply("503 5.5.1 Error: need MAIL command")
        if not m or "@" not in m.group(1):
            return await self.reply("501 5.1.3 Bad recipient address syntax")
        rcpt = m.group(1)
        local, domain = rcpt.rsplit("@", 1)
        if n == "drop":
            self.log("<dropping the connection at RCPT>")
            self.writer.close()
            raise Quit
        self.rcpts += 1
        if domain.lower() not in self.domains:
            return await self.reply("554 5.7.1 <%s>: Relay access denied" % rcpt)
        if n == "blocked":
            return await self.reply(
                "550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org")
        if n == "catchall":
            return await self.reply("250 2.1.5 Ok")
        if n == "afterclose":
            await self.send(b"250 2.1.5 Ok\r\nEXTRA BYTES AFTER THE REPLY\r\n")
            self.log("<closing after the reply and extra bytes>")
            raise Quit
        if n in ("bulk", "pair"):
            if re.fullmatch(r"(?i)(user)?[0-9]+", local):
                return await self.reply("250 2.1.5 Ok")
            return await self.reply("550 5.1.1 User unknown")
        if n in ("grey", "greypg"):
            key = (self.peer_ip, self.mail.lower(), rcpt.lower())
            now = time.monotonic()
            first = GREYLIST.setdefault(key, now)
            left = CFG["grey_seconds"] - (now - first)
            if left > 0:
                if n == "grey":
                    return await self.reply("450 4.7.1 Greylisted, try again in %d seconds"
                                            % max(1, math.ceil(left)))
                return await self.reply(
                    "450 4.2.0 <%s>: Recipient address rejected: Greylisted, see "
                    "http://postgrey.schweikert.ch/help/%s.html" % (rcpt, domain.lower()))
        if n == "greystrict":
            # whole seconds, and more than N of them (milter-greylist's way):
            # a retry at exactly the delay is still too early
            key = (n, self.peer_ip, self.mail.lower(), rcpt.lower())
            now = int(time.time())
            first = GREYLIST.setdefault(key, now)
            if now <= first + CFG.get("grey_strict_seconds", 3):
                return await self.reply("451 4.7.1 Greylisting in action, please come back later")
        if n == "greytwice":
            key = (self.peer_ip, self.mail.lower(), rcpt.lower())
            GREYCOUNT[key] = GREYCOUNT.get(key, 0) + 1
            if GREYCOUNT[key] <= CFG.get("grey_twice_count", 2):
                return await self.reply("450 4.7.1 Greylisted, try again in %d seconds"
                                        % max(1, math.ceil(CFG["grey_seconds"])))
        if n == "greylong":
            key = (n, self.peer_ip, self.mail.lower(), rcpt.lower())
            now = time.monotonic()
            first = GREYLIST.setdefault(key, now)
            if now - first < CFG.get("grey_long_seconds", 20):
                return await self.reply(
                    "450 4.2.0 <%s>: Recipient address rejected: Greylisted, see "
                    "http://postgrey.schweikert.ch/help/%s.html" % (rcpt, domain.lower()))
        if self.rcpts > CFG["rcpt_limit"]:
            return await self.reply("452 4.5.3 Too many recipients")
        user = local.split("+", 1)[0].lower()
        replies = dict(CFG["users"])
        await self.reply(replies.get(user, replies["*"]))


async def main():
    global TRANSCRIPT, TLS_CTX
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    wd = CFG["workdir"]
    TRANSCRIPT = open(os.path.join(wd, "smtp-transcript.log"), "a", buffering=1)
    TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS_CTX.load_cert_chain(CFG["cert"], CFG["key"])
    scripted = None                     # providers.py: servers that follow a script
    if any(srv.get("script") for srv in CFG["servers"]):
        import providers
        scripted = providers.session_class(Session, Quit)
    for srv in CFG["servers"]:
        if srv["name"] not in LOGS:     # several addresses may share a behaviour and its log
            LOGS[srv["name"]] = open(os.path.join(wd, "smtp-%s.log" % srv["name"]), "a",
                                     buffering=1)
        cls = scripted if srv.get("script") else Session
        await asyncio.start_server(lambda r, w, s=srv, c=cls: c(s, r, w).run(),
                                   host=srv["ip"], port=srv["port"], reuse_address=True,
                                   limit=LIMIT, backlog=1024)
    with open(CFG["ready"], "w") as f:
        f.write("%d\n" % os.getpid())
    await stop.wait()
    for f in list(LOGS.values()) + [TRANSCRIPT]:
        f.flush()
    os._exit(0)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        CFG.update(json.load(f))
    asyncio.run(main())
