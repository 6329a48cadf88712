# SPDX-License-Identifier: MIT
"""mutate.py - seeded, deterministic mutations of the pass-through corpus.

mutations(cases, n, rng, prefix) -> n new cases, each a corpus case with 1
to 3 edits: a byte flipped, one of CR, LF, CRLF, ";", "&", "=", '"', "%",
"%00", space, tab or "--" inserted, a slice deleted or duplicated, a
multipart part duplicated, a run of letters changed in case, the
boundary edited (in the Content-Type or in one delimiter of the body),
the field name swapped for a variant ("Email", "email[]",
"contact.email" ...), the Content-Type or the method changed. The same
rng state gives the same cases. The id says where a case comes from:
PREFIX-N-ORIGINAL; cls is "mut:" and the original's class.
"""
import re

INSERTS = [b"\r", b"\n", b"\r\n", b";", b"&", b"=", b'"', b"%", b"%00", b" ", b"\t", b"--", b"\r\n\r\n", b"\\"]
NAMES = [b"Email", b"EMAIL", b"email[]", b"email[0]", b" email", b"contact.email", b"contact email",
         b"contact[email", b"%65mail", b"email%00", b"email.", b"contact_email"]
CTYPES = [None, "application/x-www-form-urlencoded", "multipart/form-data; boundary=XB", "text/plain",
          "multipart/mixed; boundary=XB", "application/x-www-form-urlencodedX"]
METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"]


def _boundary(ctype):
    m = re.search(r'boundary="?([^";,]+)', ctype or "", re.I)
    return m.group(1).encode() if m else None


def _edit(c, rng):
    body, ctype = c["body"], c["ctype"]
    op = rng.randrange(12)
    pos = rng.randrange(len(body) + 1)
    if op == 0 and body:                          # flip a bit of one byte
        i = rng.randrange(len(body))
        body = body[:i] + bytes([body[i] ^ (1 << rng.randrange(8))]) + body[i + 1:]
    elif op in (1, 2):                            # insert a separator-ish byte string
        body = body[:pos] + rng.choice(INSERTS) + body[pos:]
    elif op == 3 and body:                        # delete a slice
        j = min(len(body), pos + rng.randrange(1, 16))
        body = body[:pos] + body[j:]
    elif op == 4 and body:                        # duplicate a slice
        j = min(len(body), pos + rng.randrange(1, 64))
        body = body[:j] + body[pos:j] + body[j:]
    elif op == 5:                                 # duplicate a multipart part, or a pair
        b = _boundary(ctype)
        sep = b"--" + b if b else b"&"
        pieces = body.split(sep)
        if len(pieces) > 2:
            i = rng.randrange(1, len(pieces) - 1)
            pieces.insert(i, pieces[i])
            body = sep.join(pieces)
        else:
            body = body + b"&" + body
    elif op == 6 and body:                        # change the case of a run of letters
        j = min(len(body), pos + rng.randrange(1, 12))
        run = body[pos:j]
        body = body[:pos] + (run.upper() if rng.random() < 0.5 else run.swapcase()) + body[j:]
    elif op == 7:                                 # the boundary: in the type, or one delimiter
        b = _boundary(ctype)
        if b and rng.random() < 0.5:
            new = rng.choice([b + b"X", b[:-1], b'"' + b + b'"', b + b" ", b.lower(), b + b"; boundary=ZZ"])
            ctype = ctype.replace(b.decode("latin-1"), new.decode("latin-1"), 1)
        elif b:
            idx = [m.start() for m in re.finditer(re.escape(b"--" + b), body)]
            if idx:
                i = rng.choice(idx)
                new = rng.choice([b"--" + b + b"X", b"-" + b, b"--" + b.lower(), b" --" + b, b"--" + b + b"--"])
                body = body[:i] + new + body[i + len(b) + 2:]
        else:
            ctype = "multipart/form-data; boundary=XB"
    elif op == 8:                                 # the field's name
        idx = [m.start() for m in re.finditer(rb"email", body)]
        if idx:
            i = rng.choice(idx)
            body = body[:i] + rng.choice(NAMES) + body[i + 5:]
    elif op == 9:                                 # the Content-Type
        if ctype and rng.random() < 0.5:
            i = rng.randrange(len(ctype) + 1)
            ctype = ctype[:i] + rng.choice([" ", ";", "X", ",", '"', "\t"]) + ctype[i:]
        else:
            ctype = rng.choice(CTYPES)
    elif op == 10:                                # the method
        return dict(c, method=rng.choice(METHODS))
    else:                                         # the query gets a body's pair, or one of its own
        q = c["query"]
        add = rng.choice(["email=x%40mailinator.com", "email[]=x%40mailinator.com", "a=1;email=x%40mailinator.com",
                          "contact.email=x%40mailinator.com"])
        return dict(c, query=q + ("&" if q else "") + add)
    return dict(c, body=body, ctype=ctype)


def mutations(cases, n, rng, prefix):
    out = []
    for k in range(n):
        c = rng.choice(cases)
        m = dict(c, headers=dict(c["headers"]), expect=None)
        for _ in range(rng.randint(1, 3)):
            m = _edit(m, rng)
        m["id"] = "%s-%d-%s" % (prefix, k, c["id"])
        m["cls"] = "mut:" + c["cls"]
        out.append(m)
    return out
