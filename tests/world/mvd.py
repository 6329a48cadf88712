#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mvd.py - mailverifyd and a Postfix that calls it, inside the test world.

    with World(dir) as w, Milter(w, config_text) as m:
        front = m.postfix()            # a real Postfix on 127.0.0.50:25 with
                                       # smtpd_milters = inet:127.0.0.1:PORT
        ... swaks -s 127.0.0.50 ...
        m.reload(new_config_text)      # rewrite the file, SIGUSR1
        m.log()                        # mailverifyd's log lines (stderr)

Milter(world, extra_config, port=10025, binary=None, args=()) writes a
configuration whose first lines aim the engine at the world (dns.servers =
127.0.0.1, smtp.allow_private_targets = true) and the milter at
inet:PORT@127.0.0.1 with a control socket in the world's directory, then
appends extra_config (libconfig: a later setting of the same group is an
error, so extra_config must not repeat dns/smtp/milter groups -- use the
`dns`, `smtp`, `milter` keyword arguments for keys there).
mailverifyd runs in the foreground with -d (log to stderr), its stderr in
WORKDIR/mailverifyd.log; ready when its socket accepts connections.
"""
import os
import signal
import socket
import subprocess
import time

FRONT_IP = "127.0.0.50"         # the Postfix that calls the milter
MV_BIN = os.path.abspath(os.environ.get("MAILVERIFYD", "build/mailverifyd"))


def _group(name, settings):
    """A libconfig group from a dict of already-quoted values."""
    return "%s = {\n%s};\n" % (name, "".join("  %s = %s;\n" % kv for kv in settings.items()))


class Milter:
    def __init__(self, world, extra_config="", port=10025, binary=None, args=(), dns=None,
                 smtp=None, milter=None):
        self.w = world
        self.port = port
        self.binary = binary or MV_BIN
        self.args = list(args)
        self.path = world.path("mailverify.conf")
        self.log_path = world.path("mailverifyd.log")
        self.control = world.path("control.sock")
        self.groups = {
            "dns": dict({"servers": '"127.0.0.1"', "timeout_ms": "1000", "tries": "1"}, **(dns or {})),
            "smtp": dict({"allow_private_targets": "true"}, **(smtp or {})),
            "milter": dict({"socket": '"inet:%d@127.0.0.1"' % port,
                            "control_socket": '"%s"' % self.control}, **(milter or {})),
        }
        self.extra = extra_config
        self.proc = None

    def config_text(self, extra=None):
        text = "".join(_group(n, g) for n, g in self.groups.items())
        return text + (self.extra if extra is None else extra)

    def write_config(self, text=None):
        with open(self.path, "w") as f:
            f.write(self.config_text() if text is None else text)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.write_config()
        self.logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "-f", "-d", "-c", self.path] + self.args,
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while not self.listening():
            if self.proc.poll() is not None:
                raise RuntimeError("mailverifyd exited with %s; see %s" % (self.proc.returncode,
                                                                           self.log_path))
            if time.monotonic() > deadline:
                raise RuntimeError("mailverifyd did not listen on port %d" % self.port)
            time.sleep(0.02)

    def listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop mailverifyd; its exit status (libmilter holds the port ~2.5 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL, as a crash would."""
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def reload(self, text=None):
        """Rewrite the configuration (if given) and send SIGUSR1."""
        if text is not None:
            self.write_config(text)
        self.proc.send_signal(signal.SIGUSR1)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stats(self):
        """`mailverify stats --json` as a dict."""
        import json
        mv = os.path.join(os.path.dirname(self.binary), "mailverify")
        out = subprocess.run([mv, "stats", "--json", "--socket", self.control],
                             capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout)

    def postfix(self, extra_cf="", name="front", ip=FRONT_IP):
        """A real Postfix on ip:25 that calls this milter; its base directory.
        It relays whatever it accepts to nowhere (discard)."""
        cf = """myhostname = front.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_milters = inet:127.0.0.1:{port}
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
milter_command_timeout = 30s
milter_content_timeout = 60s
default_transport = discard:front
relay_transport = discard:front
local_transport = discard:front
notify_classes =
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
""".format(port=self.port) + extra_cf
        return self.w.add_postfix(name, ip, cf)


class NamedMilter(Milter):
    """A mailverifyd with its own config, log and control socket, so that
    several can run in one world (the shared-cache tests)."""

    def __init__(self, world, name, port, extra, milter=None):
        super().__init__(world, extra, port=port, milter=milter)
        self.path = world.path("mailverifyd-%s.conf" % name)
        self.log_path = world.path("mailverifyd-%s.log" % name)
        self.control = world.path("control-%s.sock" % name)
        self.groups["milter"]["control_socket"] = '"%s"' % self.control


def swaks(*args, server=FRONT_IP, timeout=60):
    """swaks -s SERVER ARGS; (exit status, the transcript)."""
    p = subprocess.run(["swaks", "-s", server, "--timeout", "30"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def rcpt_reply(to, front, client_ip=None):
    """The front Postfix's reply to RCPT TO:<to> (which asked its milter),
    sent from client_ip when given (the harvest budgets are per client)."""
    local = ["--local-interface", client_ip] if client_ip else []
    rc, t = swaks("--to", to, "--from", "s@ok.test", "--quit-after", "RCPT", *local, server=front)
    return reply_to(t, "RCPT TO")


def reply_to(transcript, command):
    """The server's reply line(s) to the first client line starting with command."""
    lines = transcript.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(" -> ") and l[4:].upper().startswith(command.upper()):
            out = []
            for r in lines[i + 1:]:
                if r.startswith("<-") or r.startswith("<**"):
                    out.append(r[3:].strip() if r.startswith("<- ") else r[4:].strip())
                    if len(r) > 7 and r[7:8] != "-" and not r[3:].strip()[3:4] == "-":
                        break
                elif r.startswith(" ->"):
                    break
            return " ".join(out)
    return ""
