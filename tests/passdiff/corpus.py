# SPDX-License-Identifier: MIT
"""corpus.py - the hand-written bodies of the pass-through differential test.

HOSTILE: bodies crafted so that the plugin (pass-through) and a legacy
handler (Python cgi.FieldStorage, Perl CGI.pm, PHP) could read the form
differently, each trying to get a blocked address (x@mailinator.com, a
disposable one) to a handler. LEGIT: what real browsers and curl send
with good addresses; all three handlers must get exactly the expected
values through the plugin.

The pass fields are PASS_FIELDS ("email", and "contact_email", which
PHP also makes of "contact.email", "contact email", "contact[email").

Each case is a dict: id, cls (the class, for the summary), method,
query, ctype (None: no Content-Type header), headers (extra request
headers: Cookie ...), body (bytes) and, for LEGIT, expect ({field:
[values]}). The helpers only spell bytes: crlf() turns "\\n" into
"\\r\\n" so that multipart text can be written one line per line, part()
writes one ordinary multipart part, mp() joins parts with a boundary
and the close. Where the exact bytes are the point they are written out.
"""

PASS_FIELDS = ["email", "contact_email"]
FORM = "application/x-www-form-urlencoded"
BAD = "x@mailinator.com"            # disposable: blocked by the plugin
BADQ = "x%40mailinator.com"
GOOD = "alice@ok.test"              # the world's Postfix accepts it
GOODQ = "alice%40ok.test"
B = "XB"                            # the boundary of most hand-written multipart bodies
MPT = "multipart/form-data; boundary=" + B


def crlf(s):
    """Text written with \\n line ends, as bytes with CRLF."""
    return s.replace("\n", "\r\n").encode("utf-8")


def part(name, value, filename=None, ctype=None, extra=""):
    """One part with its leading delimiter (boundary B), CRLF after the value."""
    d = 'form-data; name="%s"' % name
    if filename is not None:
        d += '; filename="%s"' % filename
        ctype = ctype or "application/octet-stream"
    h = "Content-Disposition: " + d + "\n"
    if ctype:
        h += "Content-Type: " + ctype + "\n"
    return "--%s\n%s%s\n%s\n" % (B, h, extra, value)


def mp(*parts, close=True, boundary=B):
    text = "".join(parts) + ("--%s--\n" % B if close else "")
    if boundary != B:
        text = text.replace("--" + B, "--" + boundary)
    return crlf(text)


CASES = []


def case(id, cls, body=b"", ctype=FORM, method="POST", query="", headers=None, expect=None, **per_handler):
    """per_handler: expect_php= ... where one handler reads less (PHP keeps the last of a repeated name)"""
    if isinstance(body, str):
        body = body.encode("utf-8")
    CASES.append(dict({"id": id, "cls": cls, "method": method, "query": query, "ctype": ctype,
                       "headers": dict(headers or {}), "body": body, "expect": expect}, **per_handler))


def U(id, cls, body, **kw):
    """A urlencoded POST."""
    case(id, cls, body, **kw)


def M(id, cls, body, ctype=MPT, **kw):
    """A multipart/form-data POST."""
    case(id, cls, body, ctype=ctype, **kw)


# ============================================================== hostile
# ---- file parts named like a pass field (next to a good ordinary field)
M("file-content-bad", "file", mp(part("email", GOOD), part("email", BAD, "cv.txt", "text/plain")))
M("file-filename-bad", "file", mp(part("email", GOOD), part("email", "hello", BAD)))
M("file-both-bad", "file", mp(part("email", GOOD), part("email", BAD, BAD)))
M("file-only", "file", mp(part("email", BAD, "a.txt")))
M("file-first", "file", mp(part("email", BAD, "a.txt"), part("email", GOOD)))
M("file-contact", "file", mp(part("email", GOOD), part("contact_email", BAD, "c.txt")))
M("file-empty-filename", "file", mp(part("email", GOOD), part("email", BAD, "")))
M("file-filename-star", "file", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--XB\nContent-Disposition: form-data; name=\"email\"; filename*=UTF-8''x%40mailinator.com\n"
    "Content-Type: text/plain\n\nhi\n--XB--\n"))
M("file-filename-unquoted", "file", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--XB\nContent-Disposition: form-data; name=\"email\"; filename=x@mailinator.com\n\nhi\n--XB--\n"))
M("file-filename-path", "file", mp(part("email", GOOD), part("email", "hi", "C:\\\\fakepath\\\\x@mailinator.com")))
M("file-filename-slash", "file", mp(part("email", GOOD), part("email", "hi", "/tmp/x@mailinator.com")))
M("file-two-filenames", "file", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"; filename=\"a.txt\"; filename=\"x@mailinator.com\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("file-name-after-filename", "file", crlf(
    "--XB\nContent-Disposition: form-data; filename=\"a.txt\"; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("file-content-crlf", "file", mp(part("email", GOOD), part("email", BAD + "\n", "a.txt")))
M("file-no-ctype", "file", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"; filename=\"a.txt\"\n\nx@mailinator.com\n--XB--\n"))
M("file-ctype-message", "file", mp(part("email", GOOD), part("email", BAD, "a.eml", "message/rfc822")))
M("file-base64", "file", mp(part("email", GOOD), part("email", "eEBtYWlsaW5hdG9yLmNvbQ==", "a.txt",
                                                       extra="Content-Transfer-Encoding: base64\n")))
M("file-array", "file", mp(part("email", GOOD), part("email[]", BAD, "a.txt")))
M("file-both-fields", "file", mp(part("email", GOOD), part("contact_email", GOOD),
                                 part("email", BAD, "a.txt"), part("contact_email", BAD, "b.txt")))
M("file-filename-dot", "file", mp(part("email", GOOD), part("email", BAD, ".")))
M("file-filename-space", "file", mp(part("email", GOOD), part("email", BAD, " ")))
M("file-chromium", "file", mp(part("name", "Jane"), part("email", GOOD), part("email", BAD, "x.txt", "text/plain"),
                              boundary="----WebKitFormBoundaryQ7x9LmN2pR4sT6vW"),
  ctype="multipart/form-data; boundary=----WebKitFormBoundaryQ7x9LmN2pR4sT6vW")

# ---- Content-Type variants
for i, ct in enumerate([None, "APPLICATION/X-WWW-FORM-URLENCODED", "Application/X-Www-Form-Urlencoded",
                        "application/x-www-form-urlencodedX", "application/x-www-form-urlencoded-foo",
                        "application/x-www-form-urlencoded ; charset=utf-8", "application/x-www-form-urlencoded\t",
                        " application/x-www-form-urlencoded", "application/x-www-form-urlencoded,text/plain",
                        "text/plain", "application/json", "application/octet-stream", "",
                        "x-www-form-urlencoded", "application/x-www-form-urlencoded;", "*/*",
                        "application/x-url-encoded", "application/www-form-urlencoded",
                        "multipart/form-data", "application/x-www-form-urlencoded; boundary=XB"]):
    # one bad address under a type the plugin may not read as a form
    U("ct-url-%02d" % i, "ctype", "name=Jane&email=" + BADQ, ctype=ct)

# a multipart body under multipart-ish types: the good part first
MPB = mp(part("name", "Jane"), part("email", BAD))
for i, ct in enumerate(["multipart/form-dataX; boundary=XB", "multipart/mixed; boundary=XB",
                        "multipart/related; boundary=XB", "MULTIPART/FORM-DATA; BOUNDARY=XB",
                        "multipart/form-data; charset=utf-8; boundary=XB", "multipart/form-data; boundary=\"XB\"",
                        "multipart/form-data; Boundary=XB", "multipart/form-data; boundary = XB",
                        "multipart/form-data;boundary=XB", "multipart/form-data; boundary=XB;",
                        "multipart/form-data; boundary=XB; charset=utf-8", "multipart/form-data ; boundary=XB",
                        "multipart/form-data-foo; boundary=XB", "multipart/alternative; boundary=XB",
                        "multipart/form-data; boundary=XB, text/plain", "multipart/form-data, boundary=XB",
                        "form-data; boundary=XB", "multipart/*; boundary=XB"]):
    M("ct-mp-%02d" % i, "ctype", MPB, ctype=ct)

# two boundaries: a good form under one, a bad one under the other
TWO = crlf("--AAA\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n--AAA--\n"
           "--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n")
TWO_R = crlf("--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"
             "--AAA\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n--AAA--\n")
for i, ct in enumerate(["multipart/form-data; boundary=AAA; boundary=XB", "multipart/form-data; boundary=XB; boundary=AAA",
                        "multipart/form-data; xboundary=XB; boundary=AAA", "multipart/form-data; x=\"boundary=XB\"; boundary=AAA",
                        "multipart/form-data; boundary=AAA; BOUNDARY=XB", "multipart/form-data; boundary=\"AAA\"XB",
                        "multipart/form-data; boundary=AAA XB", "multipart/form-data; boundary=\"AAA\\\"XB\""]):
    M("ct-two-%02d" % i, "ctype", TWO, ctype=ct)
    M("ct-two-r-%02d" % i, "ctype", TWO_R, ctype=ct)
M("ct-mp-no-boundary", "ctype", MPB, ctype="multipart/form-data")
M("ct-mp-empty-boundary", "ctype", MPB.replace(b"--XB", b"--"), ctype="multipart/form-data; boundary=\"\"")
M("ct-mp-long-boundary", "ctype", mp(part("email", BAD), boundary="B" * 75),
  ctype="multipart/form-data; boundary=" + "B" * 75)
M("ct-mp-boundary-space-end", "ctype", mp(part("email", BAD), boundary="XB "), ctype="multipart/form-data; boundary=\"XB \"")
M("ct-mp-boundary-quote-in", "ctype", mp(part("email", BAD), boundary='X"B'), ctype="multipart/form-data; boundary=\"X\\\"B\"")
M("ct-mp-urlencoded-body", "ctype", "email=" + BADQ)
# a urlencoded pair inside a multipart value, under types read either way
DUAL = mp(part("note", "a&email=" + BADQ + "&b=1"), part("email", GOOD))
for i, ct in enumerate([FORM, "application/x-www-form-urlencoded; boundary=XB", MPT, "multipart/form-dataX; boundary=XB",
                        None, "text/plain; boundary=XB"]):
    case("ct-dual-%02d" % i, "ctype", DUAL, ctype=ct)
# CGI.pm reads a PUT or PATCH body of any type as urlencoded (found by make fuzz-pass)
for i, (m, ct) in enumerate([("PUT", MPT), ("PATCH", MPT), ("PATCH", "multipart/form-dataX; boundary=XB"),
                             ("DELETE", MPT), ("post", MPT)]):
    case("ct-dual-m%02d" % i, "ctype", DUAL, ctype=ct, method=m)
case("ct-dual-forged-warn", "ctype", mp(part("note", "a&mailverify=accept:accepted&b=1"), part("email", GOOD)),
     ctype=MPT, method="PUT")
U("ct-utf16", "ctype", "email=x@mailinator.com".encode("utf-16-le"), ctype=FORM + "; charset=utf-16")

# ---- ";" as a pair separator
U("semi-value", "semi", "email=alice%40ok.test;x%40mailinator.com")
U("semi-value-raw", "semi", "email=alice@ok.test;x@mailinator.com")
U("semi-pair", "semi", "x=1;email=" + BADQ)
U("semi-first-bad", "semi", "email=x%40mailinator.com;email=alice%40ok.test")
U("semi-space", "semi", "email=alice%40ok.test; email=x%40mailinator.com")
U("semi-mixed", "semi", "a=1;b=2&email=" + BADQ + ";c")
U("semi-contact", "semi", "contact_email=alice%40ok.test;x%40mailinator.com")
U("semi-trailing", "semi", "email=alice%40ok.test;")
U("semi-encoded", "semi", "email=alice%40ok.test%3Bx%40mailinator.com")
U("semi-query", "semi", "name=Jane", query="a=1;email=" + BADQ)
U("semi-query-value", "semi", "name=Jane", query="email=alice%40ok.test;x%40mailinator.com")
U("semi-amp-in-value", "semi", "email=alice%40ok.test&x%40mailinator.com")

# ---- repeated fields
U("rep-last-bad", "repeat", "email=alice%40ok.test&email=" + BADQ)
U("rep-first-bad", "repeat", "email=" + BADQ + "&email=alice%40ok.test")
U("rep-query-body", "repeat", "email=" + BADQ, query="email=alice%40ok.test")
U("rep-body-query", "repeat", "email=alice%40ok.test", query="email=" + BADQ)
M("rep-mp-last", "repeat", mp(part("email", GOOD), part("email", BAD)))
M("rep-mp-first", "repeat", mp(part("email", BAD), part("email", GOOD)))
U("rep-many", "repeat", "&".join(["email=alice%40ok.test"] * 40 + ["email=" + BADQ]))
U("rep-contact", "repeat", "contact_email=alice%40ok.test&contact_email=" + BADQ + "&email=alice%40ok.test")
U("rep-empty-then-bad", "repeat", "email=&email=" + BADQ)
U("rep-noeq-then-bad", "repeat", "email&email=" + BADQ)
M("rep-mp-query", "repeat", mp(part("email", GOOD)), query="email=" + BADQ)

# ---- arrays: name[], name[0], name[x]
for i, name in enumerate(["email[]", "email[0]", "email[x]", "email[a][b]", "email%5B%5D", "email[", "email]",
                          "email[][]", "email%5b0%5d", "email []", "contact_email[]", "contact_email[0]",
                          "email[ ]", "email[]x"]):
    U("arr-%02d" % i, "array", "email=alice%40ok.test&" + name + "=" + BADQ)
M("arr-mp", "array", mp(part("email", GOOD), part("email[]", BAD)))
M("arr-mp-x", "array", mp(part("email", GOOD), part("email[x]", BAD)))
U("arr-query", "array", "email=alice%40ok.test", query="email[]=" + BADQ)

# ---- PHP name mangling (" email", "contact.email" ...)
for i, name in enumerate([" email", "%20email", "+email", "++email", "contact.email", "contact%2Eemail", "contact email",
                          "contact+email", "contact%20email", "contact[email", "contact%5Bemail", "email.", "email ",
                          "email%20", "\temail", "%09email", "email%00", "contact.email[]", "contact_email.",
                          "%0aemail"]):
    U("mangle-%02d" % i, "mangle", "email=alice%40ok.test&" + name + "=" + BADQ)
M("mangle-mp-space", "mangle", mp(part("email", GOOD), part(" email", BAD)))
M("mangle-mp-dot", "mangle", mp(part("email", GOOD), part("contact.email", BAD)))
M("mangle-mp-bracket", "mangle", mp(part("email", GOOD), part("contact[email", BAD)))
U("mangle-query-dot", "mangle", "email=alice%40ok.test", query="contact.email=" + BADQ)

# ---- name case
for i, name in enumerate(["Email", "EMAIL", "eMail", "Contact_Email", "CONTACT_EMAIL", "%45mail"]):
    U("case-%02d" % i, "case", "email=alice%40ok.test&" + name + "=" + BADQ)
M("case-mp-name", "case", mp(part("email", GOOD), part("Email", BAD)))
M("case-mp-NAME-param", "case", crlf("--XB\nContent-Disposition: form-data; NAME=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("case-mp-Name-param", "case", crlf("--XB\nContent-Disposition: form-data; Name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("case-mp-cd-lower", "case", crlf("--XB\ncontent-disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("case-mp-cd-upper", "case", crlf("--XB\nCONTENT-DISPOSITION: FORM-DATA; NAME=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("case-mp-formdata", "case", crlf("--XB\nContent-Disposition: Form-Data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))

# ---- encodings
U("enc-pct-name", "encoding", "email=alice%40ok.test&%65mail=" + BADQ)
U("enc-pct-all", "encoding", "%65%6d%61%69%6c=" + BADQ)
U("enc-pct-upper", "encoding", "%65%6D%61%69%6C=" + BADQ)
U("enc-plus-value", "encoding", "email=x+%40mailinator.com")
U("enc-nul-value", "encoding", "email=alice%40ok.test%00x%40mailinator.com")
U("enc-nul-value-first", "encoding", "email=x%40mailinator.com%00alice%40ok.test")
U("enc-nul-name", "encoding", "email=alice%40ok.test&email%00=" + BADQ)
U("enc-nul-name-tail", "encoding", "email=alice%40ok.test&email%00x=" + BADQ)
U("enc-raw-nul", "encoding", b"email=alice%40ok.test&em\x00ail=x%40mailinator.com")
U("enc-bad-escape-value", "encoding", "email=x%40mailinator.com%zz")
U("enc-bad-escape-tail", "encoding", "email=x%40mailinator.com%")
U("enc-bad-escape-name", "encoding", "email=alice%40ok.test&email%=" + BADQ)
U("enc-bad-escape-name2", "encoding", "email=alice%40ok.test&email%g0=" + BADQ)
U("enc-double", "encoding", "email=x%2540mailinator.com")
U("enc-double-name", "encoding", "email=alice%40ok.test&%2565mail=" + BADQ)
U("enc-overlong-at", "encoding", "email=x%C1%80mailinator.com")
U("enc-overlong-name", "encoding", "email=alice%40ok.test&%C1%A5mail=" + BADQ)
U("enc-u-escape", "encoding", "email=alice%40ok.test&%u0065mail=" + BADQ)
U("enc-fullwidth-name", "encoding", "email=alice%40ok.test&%EF%BD%85mail=" + BADQ)
U("enc-bom-name", "encoding", "email=alice%40ok.test&%EF%BB%BFemail=" + BADQ)
U("enc-crlf-value", "encoding", "email=alice%40ok.test%0D%0Ax%40mailinator.com")
U("enc-charset-latin1", "encoding", "email=x%40mailinator.com", ctype=FORM + "; charset=iso-8859-1")
U("enc-charset-field", "encoding", "_charset_=utf-16&email=" + BADQ)
M("enc-mp-charset-utf16", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\nContent-Type: text/plain; charset=utf-16le\n\n")
  + BAD.encode("utf-16-le") + crlf("\n--XB--\n"))
M("enc-mp-charset-part", "encoding", mp(part("_charset_", "utf-16"), part("email", BAD)))
M("enc-mp-cte-base64", "encoding", mp(part("email", GOOD), part("contact_email", "eEBtYWlsaW5hdG9yLmNvbQ==",
                                                               extra="Content-Transfer-Encoding: base64\n")))
M("enc-mp-cte-qp", "encoding", mp(part("email", "x=40mailinator.com", extra="Content-Transfer-Encoding: quoted-printable\n")))
M("enc-mp-nested-mixed", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--XB\nContent-Disposition: form-data; name=\"email\"\nContent-Type: multipart/mixed; boundary=INNER\n\n"
    "--INNER\nContent-Disposition: file; filename=\"x@mailinator.com\"\nContent-Type: text/plain\n\n"
    "x@mailinator.com\n--INNER--\n--XB--\n"))
M("enc-mp-nested-mixed-name", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"files\"\nContent-Type: multipart/mixed; boundary=INNER\n\n"
    "--INNER\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--INNER--\n--XB--\n"))
M("enc-rfc2231-name", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name*=UTF-8''email\n\nx@mailinator.com\n--XB--\n"))
M("enc-rfc2231-both", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"; name*=UTF-8''email\n\nx@mailinator.com\n--XB--\n"))
M("enc-rfc2231-pct", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name*=UTF-8''%65mail\n\nx@mailinator.com\n--XB--\n"))
M("enc-rfc2231-cont", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name*0=\"em\"; name*1=\"ail\"\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-pct-name", "encoding", mp(part("email", GOOD), part("%65mail", BAD)))
M("enc-mp-backslash-name", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"emai\\l\"\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-single-quote", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name='email'\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-unquoted-name", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=email\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-param-in-quoted", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; x=\"; name=email\"; name=\"note\"\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-name-in-filename", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; filename=\"a; name=email\"; name=\"note\"\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-escaped-quote", "encoding", crlf(
    "--XB\nContent-Disposition: form-data; name=\"x\\\"; name=\\\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("enc-mp-nul-name", "encoding", b"--XB\r\nContent-Disposition: form-data; name=\"email\x00x\"\r\n\r\nx@mailinator.com\r\n--XB--\r\n")
M("enc-mp-nul-value", "encoding", mp(part("email", "alice@ok.test\0x@mailinator.com")))
M("enc-mp-utf8-name", "encoding", mp(part("email", GOOD), part("émail", BAD)))

# ---- multipart syntax
# a close delimiter with more on its line: Python reads on (found by make fuzz-pass)
M("mps-close-trailing", "multipart", b'--XB\r\nContent-Disposition: form-data; name="email"\r\n\r\nx@mcilinator.com'
  b'\r\n--XB---;-\r\n')
M("mps-close-cr-junk", "multipart", b'--XB\r\nContent-Disposition: form-data; name="email"\r\n\r\nalice@ok.test'
  b'\r\n--XB--\r=\n')
M("mps-lf-only", "multipart", mp(part("email", BAD)).replace(b"\r\n", b"\n"))
M("mps-lf-second", "multipart", mp(part("email", GOOD)).replace(b"--XB--\r\n", b"") +
  b"--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n")
M("mps-lf-in-headers", "multipart", b"--XB\r\nContent-Disposition: form-data; name=\"email\"\n\r\nx@mailinator.com\r\n--XB--\r\n")
M("mps-cr-only", "multipart", mp(part("email", BAD)).replace(b"\r\n", b"\r"))
M("mps-ws-header-line", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n \nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-tab-header-line", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n\t\nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-no-space-colon", "multipart", crlf("--XB\nContent-Disposition:form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-space-before-colon", "multipart", crlf(
    "--XB\nContent-Disposition : form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-header-in-value", "multipart", crlf(
    "--XB\nContent-Type: text/plain; x=\"Content-Disposition: form-data; name=email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-header-in-other-header", "multipart", crlf(
    "--XB\nX-Note: Content-Disposition: form-data; name=\"email\"\nContent-Disposition: form-data; name=\"note\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-dup-cd", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-dup-cd-rev", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\nContent-Disposition: form-data; name=\"note\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-boundary-mid-line", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n\nabc--XB\nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-boundary-in-value", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n\n--XB\nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n").replace(b"\r\n--XB\r\nContent-Disposition: form-data; name=\"email\"",
                                          b" --XB\r\nContent-Disposition: form-data; name=\"email\"", 1))
M("mps-boundary-prefix-line", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--XBX\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-boundary-trailing-junk", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--XB junk\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-transport-padding", "multipart", crlf(
    "--XB \t\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-boundary-lowercase", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "--xb\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-space-before-delim", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    " --XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-preamble-part", "multipart", crlf(
    "--XC\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n"
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n--XB--\n"))
M("mps-preamble-lf-part", "multipart", b"--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n"
  + mp(part("email", GOOD)))
M("mps-epilogue-part", "multipart", mp(part("email", GOOD)) + crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-epilogue-text", "multipart", mp(part("email", GOOD)) + b"email=x%40mailinator.com\r\n")
M("mps-missing-close", "multipart", mp(part("email", GOOD), part("email", BAD), close=False))
M("mps-missing-close-nocrlf", "multipart", mp(part("email", GOOD)).replace(b"\r\n--XB--\r\n", b"") +
  b"\r\n--XB\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@mailinator.com")
M("mps-close-no-crlf", "multipart", mp(part("email", BAD))[:-2])
M("mps-close-then-part", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n--XB--\n"
    "--XB\nContent-Disposition: form-data; name=\"contact_email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-close-mid", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n--XB--junk\n"
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-fold-cd", "multipart", crlf("--XB\nContent-Disposition: form-data;\n name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-fold-tab", "multipart", crlf("--XB\nContent-Disposition: form-data;\n\tname=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-fold-name", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-cd-no-formdata", "multipart", crlf("--XB\nContent-Disposition: name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-cd-attachment", "multipart", crlf("--XB\nContent-Disposition: attachment; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-cd-inline", "multipart", crlf("--XB\nContent-Disposition: inline; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-cd-file", "multipart", crlf("--XB\nContent-Disposition: file; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-name-twice", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-name-twice-rev", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"; name=\"note\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-name-empty-then", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"\"; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-no-headers", "multipart", crlf("--XB\n\nx@mailinator.com\n--XB--\n"))
M("mps-blank-line-first", "multipart", crlf(
    "--XB\n\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-header-nul", "multipart", b"--XB\r\nContent-Disposition: form-data; name=\"email\"\x00\r\n\r\nx@mailinator.com\r\n--XB--\r\n")
M("mps-header-bare-cr", "multipart", b"--XB\r\nX: a\rContent-Disposition: form-data; name=\"email\"\r\n\r\nx@mailinator.com\r\n--XB--\r\n")
M("mps-ctype-first", "multipart", crlf(
    "--XB\nContent-Type: text/plain\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-name-crlf", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"em\nail\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-empty-part", "multipart", crlf(
    "--XB\n--XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-extra-dashes", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test\n"
    "----XB\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-delim-in-filename", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"f\"; filename=\"\n--XB\nContent-Disposition: form-data; "
    "name=\\\"email\\\"\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-header-no-colon", "multipart", crlf(
    "--XB\nContent-Disposition form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-long-header", "multipart", crlf(
    "--XB\nX-Pad: " + "a" * 3000 + "\nContent-Disposition: form-data; name=\"email\"\n\nx@mailinator.com\n--XB--\n"))
M("mps-value-lf-end", "multipart", b"--XB\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@mailinator.com\n--XB--\r\n")
M("mps-value-then-lf-delim", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"email\"\n\nalice@ok.test")
  + b"\n--XB\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx@mailinator.com\r\n--XB--\r\n")
M("mps-part-crlf-crlf", "multipart", crlf(
    "--XB\nContent-Disposition: form-data; name=\"note\"\n\n\n\n--XB\nContent-Disposition: form-data; name=\"email\"\n\n"
    "x@mailinator.com\n--XB--\n"))
M("mps-chromium-hidden", "multipart", mp(part("name", "Jane"), part("email", GOOD), part("note", "hi\n--XB"),
                                         part("email", BAD)))
M("mps-many-parts-bad-last", "multipart", mp(*[part("f%d" % i, "v") for i in range(60)], part("email", BAD)))

# ---- methods, query against body
case("m-get-query", "method", method="GET", ctype=None, query="email=" + BADQ)
case("m-get-body", "method", "email=" + BADQ, method="GET")
case("m-get-body-mp", "method", mp(part("email", BAD)), method="GET", ctype=MPT)
case("m-head-body", "method", "email=" + BADQ, method="HEAD")
case("m-put", "method", "email=" + BADQ, method="PUT")
case("m-patch", "method", "email=" + BADQ, method="PATCH")
case("m-delete", "method", "email=" + BADQ, method="DELETE")
case("m-put-mp", "method", mp(part("email", GOOD), part("email", BAD, "a.txt")), method="PUT", ctype=MPT)
case("m-lower-post", "method", "email=" + BADQ, method="post")
case("m-custom", "method", "email=" + BADQ, method="FOO")
case("m-post-empty-query-bad", "method", b"", query="contact_email=" + BADQ)
case("m-post-no-ctype-query", "method", "name=Jane", ctype=None, query="email=" + BADQ)
case("m-post-mp-query-contact", "method", mp(part("email", GOOD)), ctype=MPT, query="contact_email=" + BADQ)
case("m-post-json-query", "method", b'{"email": "x@mailinator.com"}', ctype="application/json")
case("m-get-semicolon", "method", method="GET", ctype=None, query="a=1;email=" + BADQ)

# ---- cookies named like a pass field
for i, c in enumerate(["email=" + BAD, "email=" + BADQ, "contact_email=" + BAD, "contact.email=" + BAD,
                       "email[]=" + BAD, "sid=1; email=" + BAD, " email=" + BAD, "EMAIL=" + BAD]):
    U("cookie-%02d" % i, "cookie", "email=alice%40ok.test", headers={"Cookie": c})

# ---- very long values, many fields
U("long-value", "long", "email=" + BADQ + "%20" * 400)
U("long-pad-before", "long", "note=" + "a" * 12000 + "&email=" + BADQ)
U("long-good-then-bad", "long", "email=" + "a" * 240 + "%40ok.test&email=" + BADQ)
U("long-name", "long", "email=alice%40ok.test&" + "e" * 5000 + "=1&contact_email=" + BADQ)
M("long-filename", "long", mp(part("email", GOOD), part("email", "hi", "a" * 3000 + "@mailinator.com")))
U("long-over-max-body", "long", "email=alice%40ok.test&pad=" + "a" * 70000 + "&email=" + BADQ)
U("many-300-then-bad", "many", "&".join("f%d=1" % i for i in range(300)) + "&email=" + BADQ)
U("many-1100-then-bad", "many", "&".join("f%d=1" % i for i in range(1100)) + "&email=" + BADQ)
U("many-emails-300", "many", "&".join(["email=alice%40ok.test"] * 300 + ["email=" + BADQ]))
M("many-parts-300", "many", mp(*[part("f%d" % i, "1") for i in range(300)], part("email", BAD)))
U("many-empty-pairs", "many", "&" * 3000 + "email=" + BADQ)

HOSTILE = list(CASES)

# =============================================================== legitimate
CASES.clear()
CHROME_B = "----WebKitFormBoundaryAz5kqLD1cP8Vm3xN"
GECKO_B = "----geckoformboundary9c4e1b7a2f6d3e8b5a0c1d2e3f4a5b6c"
CURL_B = "------------------------d74496d66958873e"
E1 = {"email": ["alice@ok.test"], "contact_email": []}
E2 = {"email": ["alice@ok.test"], "contact_email": ["bob@ok.test"]}
CH = {"Origin": "https://shop.test", "Referer": "https://shop.test/signup", "Cookie": "sid=abc123; theme=dark"}

U("ok-chromium-url", "legit", "name=Jane+Doe&email=alice%40ok.test&plan=pro&agree=on", headers=CH, expect=E1)
U("ok-firefox-url", "legit", "name=Jo%C3%ABl+M%C3%BCller&email=alice%40ok.test&contact_email=bob%40ok.test&msg=Hi%21%0D%0ASee+you",
  headers={"Referer": "https://shop.test/contact"}, expect=E2)
U("ok-curl-d", "legit", "email=alice@ok.test&name=jane", expect=E1)
U("ok-curl-data-urlencode", "legit", "email=alice%40ok.test&note=a%26b%3Dc%3Bd", expect=E1)
U("ok-jquery-charset", "legit", "email=alice%40ok.test&contact_email=bob%40ok.test", ctype=FORM + "; charset=UTF-8",
  expect=E2)
U("ok-plus-address", "legit", "email=alice%2Bnews%40ok.test", expect={"email": ["alice+news@ok.test"], "contact_email": []})
U("ok-empty-contact", "legit", "email=alice%40ok.test&contact_email=", expect=E1)
U("ok-query-and-body", "legit", "email=alice%40ok.test", query="utm_source=mail&ref=42", expect=E1)
case("ok-get-form", "legit", method="GET", ctype=None, query="email=alice%40ok.test&contact_email=bob%40ok.test&go=Send",
     expect=E2)
case("ok-get-chromium", "legit", method="GET", ctype=None, query="q=shoes&email=alice%40ok.test", headers=CH, expect=E1)
U("ok-two-emails", "legit", "email=alice%40ok.test&email=bob%40ok.test",
  expect={"email": ["alice@ok.test", "bob@ok.test"], "contact_email": []},
  expect_php={"email": ["bob@ok.test"], "contact_email": []})
M("ok-chromium-mp", "legit", mp(part("name", "Jane"), part("email", GOOD), part("contact_email", "bob@ok.test"),
                                part("avatar", "\x89PNG\n\x1a\n", "me.png", "image/png"), boundary=CHROME_B),
  ctype="multipart/form-data; boundary=" + CHROME_B, headers=CH, expect=E2)
M("ok-chromium-mp-nofile", "legit", mp(part("email", GOOD), part("cv", "", ""), boundary=CHROME_B),
  ctype="multipart/form-data; boundary=" + CHROME_B, expect=E1)
M("ok-firefox-mp", "legit", mp(part("email", GOOD), part("msg", "line 1\nline 2\n"),
                               part("cv", "%PDF-1.4\n...", "cv.pdf", "application/pdf"), boundary=GECKO_B),
  ctype="multipart/form-data; boundary=" + GECKO_B, expect=E1)
M("ok-firefox-mp-utf8", "legit", mp(part("name", "Zoë Ñúñez"), part("email", GOOD), part("city", "Zürich"),
                                    boundary=GECKO_B),
  ctype="multipart/form-data; boundary=" + GECKO_B, expect=E1)
M("ok-curl-F", "legit", mp(part("email", GOOD), part("contact_email", "bob@ok.test"), boundary=CURL_B),
  ctype="multipart/form-data; boundary=" + CURL_B, expect=E2)
M("ok-curl-F-file", "legit", mp(part("email", GOOD), part("upload", "hello\n", "notes.txt", "text/plain"), boundary=CURL_B),
  ctype="multipart/form-data; boundary=" + CURL_B, expect=E1)
M("ok-mp-quoted-boundary", "legit", mp(part("email", GOOD), boundary="a b=c"),
  ctype='multipart/form-data; boundary="a b=c"', expect=E1)
M("ok-mp-query", "legit", mp(part("email", GOOD), boundary=CHROME_B), query="step=2",
  ctype="multipart/form-data; boundary=" + CHROME_B, expect=E1)
M("ok-mp-value-with-dashes", "legit", mp(part("email", GOOD), part("note", "----WebKitFormBoundary\n--\n"),
                                         boundary=CHROME_B),
  ctype="multipart/form-data; boundary=" + CHROME_B, expect=E1)
U("ok-postmaster", "legit", "email=postmaster%40ok.test&subscribe=1",
  expect={"email": ["postmaster@ok.test"], "contact_email": []})
U("ok-unicode-other-fields", "legit", "name=%E5%BC%A0%E4%BC%9F&email=bob%40ok.test&note=%F0%9F%98%80",
  expect={"email": ["bob@ok.test"], "contact_email": []})
M("ok-mp-binary-file", "legit", mp(part("email", GOOD), boundary=CHROME_B)[:-len(CHROME_B) - 6] +
  crlf("--%s\nContent-Disposition: form-data; name=\"blob\"; filename=\"b.bin\"\nContent-Type: application/octet-stream\n\n"
       % CHROME_B) + bytes(range(256)) + crlf("\n--%s--\n" % CHROME_B),
  ctype="multipart/form-data; boundary=" + CHROME_B, expect=E1)
U("ok-cookie-other", "legit", "email=alice%40ok.test", headers={"Cookie": "session=xyz; lang=en"}, expect=E1)

LEGIT = list(CASES)
CASES.clear()

for c in HOSTILE + LEGIT:                   # ids are the files' names in found/ and the X-Case header
    assert c["id"].replace("-", "").replace("_", "").isalnum(), c["id"]
assert len({c["id"] for c in HOSTILE + LEGIT}) == len(HOSTILE + LEGIT), "duplicate ids"
