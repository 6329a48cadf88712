#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""providers.py - scripted servers that imitate large mailbox providers and
mail security gateways, for the loopback test world (World(..., providers=True)).

Each entry of PROVIDERS is one server: its name (log WORKDIR/smtp-NAME.log),
its address (127.0.200.N), its MX host name (named like the provider's real
MX hosts, so that rules and profiles keyed on MX host patterns apply), the
test domain(s) whose MX it is, what it does, where the reply texts come from
(a public page; the texts were written from those pages, not copied from
any code), its script (below) and the EXPECTED verdict of each test address:
what is right, not what the engine says today.

The test domains are under .test (the world's auth-zone); an MX host outside
.test (alt1.gmail-smtp-in.l.google.com ...) is served by the world's unbound
as local-data in a static local-zone of that exact name -- inside the
private network namespace only; nothing ever leaves loopback.

Script keys (all optional):
  banner       list of steps: a string is one reply line sent as is (with
               its own "220-"/"220 " prefix), a number is a pause in seconds.
               Default ["220 {host} ESMTP"]. A last line that is not 220:
               421 closes; anything else answers 503 to all but QUIT.
  ehlo         the first line of the EHLO reply (default "{host}")
  ext          EHLO keywords (default PIPELINING SIZE ENHANCEDSTATUSCODES 8BITMIME)
  starttls     "broken": offer STARTTLS, answer 220, then send garbage
  require_tls  MAIL and RCPT before TLS get this reply
  first_session  reply to the EHLO of a client's first session (then closes)
  conn_limit   [N, reply]: with more than N sessions open from one client
               IP, a new one gets reply at the banner and is closed
  mail         reply to every MAIL FROM (a block at MAIL)
  mail_null    reply to MAIL FROM:<> (other senders get mail_ok)
  mail_ok      the 250 reply to MAIL (default "250 2.1.0 Ok")
  rcpt         reply to every RCPT TO (whatever the mailbox)
  rcpt_limit   [N, reply]: the N+1th and later RCPT of a session get reply
  users        local part (before "+", lower case) -> reply; "*" = others
  delay        seconds before every reply (a tarpit), banner included
  eol          line ending of every reply (default "\\r\\n"; "\\n" = bare LF)
A reply with "\\n" inside is a multi-line reply (each line with its own
code, as sent). Placeholders: {host} {rcpt} {local} {domain} {client} {sid}.
A 421 reply closes the connection after it is sent, as real servers do.

Expected verdicts: expect maps a local part to (status, reason), or to a
tuple of such pairs when more than one answer is right (reason None: any).
parts says which end-to-end runs use the entry ("check", "milter", "bulk");
milter_sessions (default 1): the milter run sends the addresses in that many
client sessions at once;
behaviours with per-client state (first session tempfailed, connection
limit) have one server per run so that the runs can go at the same time.
"""

import asyncio
import re

ALL = ("check", "milter", "bulk")

DELIVERABLE = ("deliverable", "accepted_email")
REJECTED = ("undeliverable", "rejected_email")
DISABLED = ("undeliverable", "mailbox_disabled")
FULL = ("risky", "mailbox_full")
BLOCKED = ("unknown", "blocked_by_server")
TLS_ERROR = ("unknown", "tls_error")
ACCEPT_ALL = (("risky", "accept_all"), ("unknown", None))   # never deliverable

# --- replies shared by several entries ---------------------------------------

GMAIL_BANNER = ["220 mx.google.com ESMTP {sid} - gsmtp"]
GMAIL = {
    "banner": GMAIL_BANNER,
    "ehlo": "mx.google.com at your service, [{client}]",
    "ext": ["SIZE 157286400", "8BITMIME", "ENHANCEDSTATUSCODES", "PIPELINING",
            "CHUNKING", "SMTPUTF8"],
    "mail_ok": "250 2.1.0 OK {sid} - gsmtp",
}
GMAIL_OK = "250 2.1.5 OK {sid} - gsmtp"
GMAIL_NOSUCHUSER = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\n"
    "550-5.1.1 unnecessary spaces. For more information, go to\n"
    "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser {sid} - gsmtp")

MS_BANNER = ["220 AM0PR00MB0000.mail.protection.outlook.com Microsoft ESMTP MAIL Service "
             "ready at Mon, 1 Jan 2024 00:00:00 +0000 [08DC0000000000000]"]
MS = {
    "banner": MS_BANNER,
    "ehlo": "AM0PR00MB0000.mail.protection.outlook.com Hello [{client}]",
    "ext": ["SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "8BITMIME",
            "BINARYMIME", "CHUNKING", "SMTPUTF8"],
    "mail_ok": "250 2.1.0 Sender OK",
}
MS_OK = "250 2.1.5 Recipient OK"

YAHOO = {
    "banner": ["220 mtaproxy503.free.mail.ne1.yahoo.com ESMTP ready"],
    "ehlo": "mtaproxy503.free.mail.ne1.yahoo.com",
    "ext": ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE 41943040"],
    "mail_ok": "250 sender <{mail}> ok",
}
YAHOO_TSS04 = ("421 4.7.0 [TSS04] Messages from {client} temporarily deferred due to "
               "unexpected volume or user complaints - 4.16.55.1; see "
               "https://postmaster.yahooinc.com/error-codes")

POSTFIX_UNKNOWN = ("550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in "
                   "virtual mailbox table")


def users(known="250 2.1.5 Ok", unknown=POSTFIX_UNKNOWN, names=("jane",), **more):
    """The users table: names get known, everyone else unknown, plus more."""
    u = {n: known for n in names}
    u.update(more)
    u["*"] = unknown
    return u


def merge(*dicts, **kw):
    out = {}
    for d in dicts:
        out.update(d)
    out.update(kw)
    return out


def P(name, n, mx, what, source, script, expect, domains=None, parts=ALL):
    return {"name": name, "ip": "127.0.200.%d" % n, "mx": mx,
            "domains": domains or ["%s.test" % name], "what": what, "source": source,
            "script": script, "expect": expect, "parts": parts}


# --- the table ---------------------------------------------------------------

PROVIDERS = [
    # ---- Google (Gmail, Workspace) ----
    P("gmail-unknown", 1, "gmail-smtp-in.l.google.com",
      "Gmail: a real user 250, an unknown one the 4-line 550-5.1.1 NoSuchUser reply",
      "Google Workspace Admin Help 'Gmail SMTP errors and codes' "
      "https://support.google.com/a/answer/3726730 (550 5.1.1 The email account that you "
      "tried to reach does not exist); multi-line form as seen in bounces, e.g. "
      "https://pastebin.com/GpqZiPMT",
      merge(GMAIL, users=users(GMAIL_OK, GMAIL_NOSUCHUSER)),
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("gmail-disabled", 2, "alt1.gmail-smtp-in.l.google.com",
      "Gmail: a disabled account gets 550-5.2.1 'The email account that you tried to reach is disabled'",
      "https://support.google.com/a/answer/3726730 (550 5.2.1 The email account that you "
      "tried to reach is disabled)",
      merge(GMAIL, users=users(GMAIL_OK, GMAIL_NOSUCHUSER, olduser=(
          "550-5.2.1 The email account that you tried to reach is disabled. For more\n"
          "550-5.2.1 information, go to\n"
          "550 5.2.1  https://support.google.com/mail/?p=DisabledUser {sid} - gsmtp"))),
      {"jane": DELIVERABLE, "olduser": DISABLED}),
    P("gmail-quota", 3, "alt2.gmail-smtp-in.l.google.com",
      "Gmail: a full mailbox gets 452-4.2.2 'is over quota' (temporary)",
      "https://support.google.com/a/answer/3726730 (452 4.2.2 The email account that you "
      "tried to reach is over quota)",
      merge(GMAIL, users=users(GMAIL_OK, GMAIL_NOSUCHUSER, hoarder=(
          "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n"
          "452-4.2.2 recipient to\n"
          "452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp {sid} - gsmtp"))),
      {"jane": DELIVERABLE, "hoarder": FULL}),
    P("gmail-ratelimit", 4, "alt3.gmail-smtp-in.l.google.com",
      "Gmail: every RCPT gets 421-4.7.0 'unusual rate of unsolicited mail' and the connection closes",
      "https://support.google.com/a/answer/3726730 (421 4.7.0 Our system has detected an "
      "unusual rate of unsolicited mail originating from your IP address); multi-line form "
      "as seen in bounces, e.g. https://pastebin.com/6G7q8H39",
      merge(GMAIL, rcpt=(
          "421-4.7.0 [{client} 15] Our system has detected an unusual rate of\n"
          "421-4.7.0 unsolicited mail originating from your IP address. To protect our\n"
          "421-4.7.0 users from spam, mail sent from your IP address has been temporarily\n"
          "421-4.7.0 rate limited. Please visit\n"
          "421-4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\n"
          "421 4.7.0 review our Bulk Email Senders Guidelines. {sid} - gsmtp")),
      {"jane": BLOCKED}),
    # ---- Microsoft (Exchange Online / Microsoft 365, Outlook.com) ----
    P("m365-dbeb", 5, "contoso-com.mail.protection.outlook.com",
      "Microsoft 365 with directory-based edge blocking: a real user 250 2.1.5 Recipient OK, "
      "an unknown one '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)'",
      "Microsoft Learn 'Use Directory Based Edge Blocking to reject messages sent to invalid "
      "recipients' https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/"
      "use-directory-based-edge-blocking ; the AS(201806281) form: https://www.suped.com/learn/"
      "email-deliverability/what-causes-the-550-541-recipient-address-rejected-access-denied-"
      "as201806281-bounce-error-on-o36",
      merge(MS, users=users(MS_OK, "550 5.4.1 Recipient address rejected: Access denied. "
                            "AS(201806281) [AM0PR00MB0000.eurprd00.prod.outlook.com "
                            "2024-01-01T00:00:00.000Z 08DC0000000000000]")),
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("exo-recipnotfound", 6, "fabrikam-com.mail.protection.outlook.com",
      "Exchange Online: an unknown recipient gets '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
      "Recipient not found by SMTP address lookup'",
      "Microsoft Learn 'Fix error code 550 5.1.10 in Exchange Online' https://learn.microsoft.com/"
      "en-us/exchange/troubleshoot/email-delivery/ndr/fix-error-code-550-5-1-10-in-exchange-online",
      merge(MS, users=users(MS_OK, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
                            "{rcpt} not found by SMTP address lookup")),
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("outlook-ratelimit", 7, "outlook-com.olc.protection.outlook.com",
      "Outlook.com: every RCPT gets '451 4.7.650 The mail server [IP] has been temporarily rate "
      "limited due to IP reputation' (a reputation block, not greylisting)",
      "Microsoft Learn 'Email non-delivery reports and SMTP errors in Exchange Online' "
      "https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/"
      "non-delivery-reports-in-exchange-online ; the full text as logged: "
      "https://pastebin.com/aW9rxeVy",
      merge(MS, rcpt="451 4.7.650 The mail server [{client}] has been temporarily rate limited "
                     "due to IP reputation. For e-mail delivery information, see "
                     "https://postmaster.live.com (S843) [AM0PR00MB0000.eurprd00.prod.outlook.com]"),
      {"jane": BLOCKED}),
    P("m365-bannedip", 8, "tailspintoys-com.mail.protection.outlook.com",
      "Microsoft 365: MAIL FROM gets '550 5.7.606 Access denied, banned sending IP [IP]'",
      "Microsoft Learn 'Fix error code 5.7.606-649 in Exchange Online' https://learn.microsoft."
      "com/en-us/exchange/troubleshoot/email-delivery/ndr/fix-error-code-550-5-7-606-649-in-"
      "exchange-online ; the full text: https://pastebin.com/EH1TUb0X",
      merge(MS, mail="550 5.7.606 Access denied, banned sending IP [{client}]. To request "
                     "removal from this list please visit https://sender.office.com/ and follow "
                     "the directions. For more information please go to "
                     "http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)"),
      {"jane": BLOCKED}),
    P("hotmail-unknown", 9, "hotmail-com.olc.protection.outlook.com",
      "Outlook.com/Hotmail: an unknown mailbox gets '550 5.5.0 Requested action not taken: "
      "mailbox unavailable' (a 5.5.x code on a mailbox verdict)",
      "smtp.codes 'SMTP Error Code 550' (Outlook) https://smtp.codes/550 ; "
      "http://www.sitepackage.de/service/dokumentation/auswertung/typische-fehlermeldungen-"
      "bei-unzustellbarkeit.html (Hotmail: 550 Requested action not taken: mailbox unavailable)",
      merge(MS, users=users(MS_OK, "550 5.5.0 Requested action not taken: mailbox unavailable. "
                            "[DB5EUR03FT000.eop-EUR03.prod.protection.outlook.com]")),
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    # ---- Yahoo / AOL ----
    P("yahoo-acceptall", 10, "mta5.am0.yahoodns.net",
      "Yahoo: every RCPT '250 recipient <x> ok'; a real refusal would only come after DATA "
      "(the probe never sends DATA)",
      "Yahoo Sender Hub 'SMTP error codes' https://senders.yahooinc.com/smtp-error-codes/ "
      "(refusals such as '554 delivery error: dd This user doesn't have a yahoo.com account' "
      "come after DATA); https://www.dbmailserver.com/tui-xin-address-not-exist.htm",
      merge(YAHOO, users=users("250 recipient <{rcpt}> ok", "250 recipient <{rcpt}> ok")),
      {"jane": ACCEPT_ALL, "ghost": ACCEPT_ALL}),
    P("yahoo-tss04", 11, "mta6.am0.yahoodns.net",
      "Yahoo: the banner is '421 4.7.0 [TSS04] Messages from IP temporarily deferred due to "
      "unexpected volume or user complaints'",
      "https://smtpfieldmanual.com/provider/yahoo/421/4.7.0 ; Yahoo Help 'Error: 421 4.7.0 "
      "[TS01] ... temporarily deferred' https://au.help.yahoo.com/kb/error-messages-xxxx-"
      "temporarily-deferred-due-user-complaints---sending-email-yahoo-sln3434.html",
      merge(YAHOO, banner=[YAHOO_TSS04]),
      {"jane": BLOCKED}),
    P("yahoo-tss04-mail", 12, "mta7.am0.yahoodns.net",
      "Yahoo: banner 220, MAIL FROM gets the [TSS04] 421 and the connection closes",
      "cPanel 'Exim Log Error: temporarily deferred due to unexpected volume or user complaints' "
      "https://support.cpanel.net/hc/en-us/articles/4403952239511 (after MAIL FROM, "
      "mta7.am0.yahoodns.net)",
      merge(YAHOO, mail=YAHOO_TSS04),
      {"jane": BLOCKED}),
    # ---- Apple iCloud ----
    P("icloud-unknown", 13, "mx01.mail.icloud.com",
      "iCloud: an unknown mailbox gets '550 5.1.1 <x>: user does not exist'",
      "smtp.codes 'iCloud' https://smtp.codes/icloud ; https://bentonow.com/smtp-errors/apple",
      {"banner": ["220 mx01.mail.icloud.com ESMTP"], "ehlo": "mx01.mail.icloud.com",
       "users": users("250 2.1.5 Ok", "550 5.1.1 <{rcpt}>: user does not exist")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    # ---- United Internet (GMX), Mail.ru, Yandex ----
    P("gmx-unknown", 14, "mx00.gmx.net",
      "GMX: an unknown mailbox gets '550 Requested action not taken: mailbox unavailable' "
      "(no enhanced code)",
      "smtp.codes 'United Internet (1&1, IONOS, GMX, web.de, mail.com)' "
      "https://smtp.codes/unitedinternet/ ; IONOS Help 'Error Messages Caused by Undeliverable "
      "Email' https://www.ionos.com/help/email/troubleshooting-mail-basicmail-business/"
      "error-messages-caused-by-undeliverable-email/",
      {"banner": ["220 gmx.net (mxgmx000) Nemesis ESMTP Service ready"],
       "ehlo": "gmx.net Hello [{client}]",
       "users": users("250 Requested mail action okay, completed",
                      "550 Requested action not taken: mailbox unavailable")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("mailru-unknown", 15, "mxs.mail.ru",
      "Mail.ru: an unknown mailbox gets '550 Message was not accepted -- invalid mailbox. "
      "Local mailbox x is unavailable: user not found' (no enhanced code)",
      "smtp.codes 'SMTP Error Code 550' (Mail.ru) https://smtp.codes/550",
      {"banner": ["220 mx.mail.ru ESMTP ready"], "ehlo": "mx.mail.ru",
       "users": users("250 OK", "550 Message was not accepted -- invalid mailbox.  Local "
                      "mailbox {rcpt} is unavailable: user not found")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("yandex-unknown", 16, "mx.yandex.net",
      "Yandex: an unknown mailbox gets '550 5.7.1 No such user!' -- a 5.7.x (policy) code "
      "whose text plainly says the mailbox does not exist",
      "smtp.codes 'SMTP Error Code 550' (Yandex) https://smtp.codes/550 ; Yandex Help "
      "'Report on non-delivery' https://yandex.com/support/mail/bounces/other.html "
      "('No such user' = the address does not exist)",
      {"banner": ["220 mail-nwsmtp-mxfront-production-main-00.yandex.net (Want to use Yandex.Mail "
                  "for your domain? Visit http://pdd.yandex.ru)"],
       "ehlo": "mail-nwsmtp-mxfront-production-main-00.yandex.net",
       "users": users("250 2.1.5 <{rcpt}> recipient ok", "550 5.7.1 No such user!")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    # ---- qmail ----
    P("qmail-unknown", 17, "mx.qmail.test",
      "qmail with chkuser: an unknown mailbox gets '511 sorry, no mailbox here by that name "
      "(#5.1.1)' (a 511 reply code, enhanced code only in the text)",
      "chkuser (qmail recipient check) documentation http://opensource.interazioni.it/qmail/"
      "chkuser/documentation/enabling_chkuser.html ; qmail's 'Sorry, no mailbox here by that "
      "name. (#5.1.1)' in bounce lists such as http://www.sitepackage.de/service/dokumentation/"
      "auswertung/typische-fehlermeldungen-bei-unzustellbarkeit.html",
      {"banner": ["220 mx.qmail.test ESMTP"], "ehlo": "mx.qmail.test",
       "ext": ["PIPELINING", "8BITMIME", "SIZE 20971520"],
       "mail_ok": "250 ok",
       "users": users("250 ok", "511 sorry, no mailbox here by that name (#5.1.1)")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    # ---- security gateways ----
    P("proofpoint-unknown", 18, "mxa-00123.gslb.pphosted.com",
      "Proofpoint: an unknown mailbox gets '550 5.1.1 User Unknown'",
      "smtp.codes 'SMTP Error Code 550' (Proofpoint) https://smtp.codes/550",
      {"banner": ["220 mx0a-00123.pphosted.com ESMTP mfa-m0123456"],
       "ehlo": "mx0a-00123.pphosted.com Hello [{client}], pleased to meet you",
       "users": users("250 2.1.5 Recipient ok", "550 5.1.1 User Unknown")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("proofpoint-blocked", 19, "mxb-00123.gslb.pphosted.com",
      "Proofpoint: the banner is '554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=IP' "
      "(reputation block at connect), then 503 to all but QUIT",
      "Proofpoint 'PDR IP Lookup Frequently Asked Questions' https://www.proofpoint.com/us/"
      "support-services/ip-blocked-faq ; the reply as reported: https://www.suped.com/knowledge/"
      "email-deliverability/troubleshooting/how-quickly-does-proofpoint-provide-delisting-"
      "details-and-advice",
      {"banner": ["554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip={client}"]},
      {"jane": BLOCKED}),
    P("mimecast-unknown", 20, "eu-smtp-inbound-1.mimecast.com",
      "Mimecast: an unknown mailbox gets '550 Invalid Recipient - https://community.mimecast."
      "com/docs/DOC-1369#550' (no enhanced code)",
      "Mimecast 'SMTP Error Codes' https://mimecastsupport.zendesk.com/hc/en-us/articles/"
      "34000709564691-Policies-Mimecast-SMTP-Error-Codes (550 Invalid Recipient)",
      {"banner": ["220 eu-smtp-inbound-1.mimecast.com ESMTP {sid} ready"],
       "ehlo": "eu-smtp-inbound-1.mimecast.com Hello [{client}]",
       "users": users("250 Recipient OK", "550 Invalid Recipient - https://community."
                      "mimecast.com/docs/DOC-1369#550 [{sid}.eu000]")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("mimecast-blocked", 21, "eu-smtp-inbound-2.mimecast.com",
      "Mimecast: MAIL FROM gets '554 Email rejected due to security policies - "
      "https://community.mimecast.com/docs/DOC-1369#554'",
      "Mimecast 'SMTP Error Codes' https://mimecastsupport.zendesk.com/hc/en-us/articles/"
      "34000709564691-Policies-Mimecast-SMTP-Error-Codes (554 Email rejected due to "
      "security policies)",
      {"banner": ["220 eu-smtp-inbound-2.mimecast.com ESMTP {sid} ready"],
       "mail": "554 Email rejected due to security policies - https://community.mimecast.com/"
               "docs/DOC-1369#554 [{sid}.eu000]"},
      {"jane": BLOCKED}),
    P("barracuda-unknown", 22, "d123456a.ess.barracudanetworks.com",
      "Barracuda Email Security Service: an unknown mailbox gets '550 No such user (x)'",
      "smtp.codes 'SMTP Error Code 550' (Barracuda: 550 No such user (email@example.com)) "
      "https://smtp.codes/550",
      {"banner": ["220 mx1.ess.barracudanetworks.com ESMTP ({sid})"],
       "users": users("250 Recipient OK", "550 No such user ({rcpt})")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("barracuda-blocked", 23, "d123457a.ess.barracudanetworks.com",
      "Barracuda: the banner is '554 Service unavailable; Client host [IP] blocked using "
      "Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=IP'",
      "MIT CSAIL TIG 'How to deal with host blocked using Barracuda reputation' "
      "http://tig.csail.mit.edu/wiki/TIG/EmailBlockedByBarracuda ; "
      "https://luxsci.com/blog/?p=16857",
      {"banner": ["554 Service unavailable; Client host [{client}] blocked using Barracuda "
                  "Reputation; http://bbl.barracudacentral.com/q.cgi?ip={client}"]},
      {"jane": BLOCKED}),
    P("ironport-unknown", 24, "mx1.hc123-45.iphmx.com",
      "Cisco Secure Email (IronPort): an unknown mailbox gets '550 #5.1.0 Address rejected.'",
      "smtp.codes 'SMTP Error Code 550' (Cisco) https://smtp.codes/550 ; "
      "https://www.dbmailserver.com/tui-xin-address-not-exist.htm (550 #5.1.0 Address rejected.)",
      {"banner": ["220 esa1.hc123-45.iphmx.com ESMTP"],
       "users": users("250 2.1.5 Ok", "550 #5.1.0 Address rejected.")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("ironport-blocked", 25, "mx2.hc123-45.iphmx.com",
      "Cisco IronPort: RCPT gets '554 Your access to this mail system has been rejected due to "
      "the sending MTA's poor reputation...'",
      "SmarterTools KB '554 Error - MTA Poor Reputation Fixes' https://portal.smartertools.com/"
      "kb/a3500/554-error-mta-poor-reputation-fixes.aspx ; http://www.danrichard.com/2011/03/18/"
      "how-to-fix-554-your-access-to-this-mail-system-has-been-rejected-due-to-the-sending-"
      "mtas-poor-reputation/",
      {"banner": ["220 esa2.hc123-45.iphmx.com ESMTP"],
       "rcpt": "554 Your access to this mail system has been rejected due to the sending MTA's "
               "poor reputation. If you believe that this failure is in error, please contact "
               "the intended recipient via alternate means."},
      {"jane": BLOCKED}),
    # ---- timing and framing ----
    P("postscreen-slow", 26, "mx.postscreen.test",
      "Postfix postscreen: '220-' at once, a 6 s pause, then '220 ' (the greet test); then "
      "Postfix's own replies",
      "Postfix POSTSCREEN_README 'Tests before the 220 SMTP server greeting' (postscreen_greet_"
      "banner, multi-line greeting) https://www.postfix.org/POSTSCREEN_README.html ; postscreen(8)",
      {"banner": ["220-mx.postscreen.test ESMTP Postfix", 6.0, "220 mx.postscreen.test ESMTP Postfix"],
       "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("banner-slow-multiline", 27, "mx.slowbanner.test",
      "a 4-line greeting sent one line per second (3 s in all)",
      "RFC 5321 section 4.2.1 (multi-line replies) and section 4.5.3.2.1 (the client waits "
      "5 minutes for the greeting) https://www.rfc-editor.org/rfc/rfc5321",
      {"banner": ["220-mx.slowbanner.test ESMTP", 1.0, "220-This system is for authorised use only",
                  1.0, "220-All sessions are logged", 1.0, "220 mx.slowbanner.test ready"],
       "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("tarpit-replies", 28, "mx.tarpitting.test",
      "every reply, the banner included, comes 1.5 s late (a tarpit well within what an MTA waits)",
      "RFC 5321 section 4.5.3.2 (timeouts: 5 min for the greeting and MAIL, RCPT) "
      "https://www.rfc-editor.org/rfc/rfc5321 ; Postfix smtpd_error_sleep_time / "
      "smtpd_soft_error_limit (postconf(5)) https://www.postfix.org/postconf.5.html",
      {"delay": 1.5, "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("multiline", 29, "mx.multiline.test",
      "every reply is multi-line: banner, EHLO, MAIL (250-/250 ), RCPT both ways",
      "RFC 5321 section 4.2.1 (a multi-line reply: code and '-' on every line but the last) "
      "https://www.rfc-editor.org/rfc/rfc5321",
      {"banner": ["220-mx.multiline.test ESMTP", "220-no UCE", "220 ready"],
       "mail_ok": "250-2.1.0 Sender ok\n250 2.1.0 go ahead",
       "users": users("250-2.1.5 Recipient ok\n250 2.1.5 will deliver",
                      "550-5.1.1 <{rcpt}>: no such mailbox here\n550-5.1.1 check the address\n"
                      "550 5.1.1 and try again")},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("bare-lf", 30, "mx.barelf.test",
      "every reply line ends with a bare LF instead of CRLF",
      "RFC 5321 section 2.3.8 (lines end with CRLF; 'clients SHOULD be tolerant' of what servers "
      "send) https://www.rfc-editor.org/rfc/rfc5321",
      {"eol": "\n", "banner": ["220-mx.barelf.test ESMTP", "220 bare LF here"], "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    # ---- limits ----
    P("rcpt-limit", 31, "mx.rcptlimit.test",
      "after 2 RCPTs in a session every further one gets '452 4.5.3 Error: too many recipients'",
      "Postfix postconf(5) smtpd_recipient_limit and its reply https://www.postfix.org/"
      "postconf.5.html#smtpd_recipient_limit ; RFC 5321 section 4.5.3.1.10",
      {"rcpt_limit": [2, "452 4.5.3 Error: too many recipients"],
       "users": users(names=("jane", "john", "mary"))},
      {"jane": DELIVERABLE, "john": DELIVERABLE, "mary": DELIVERABLE,
       "ghost": REJECTED, "ghost2": REJECTED, "ghost3": REJECTED}),
]

# Per-client state: one server per run, so the runs can go at once.
_CONN = [
    ("check", 32, "wingtiptoys-com.mail.protection.outlook.com"),
    ("milter", 33, "litware-com.mail.protection.outlook.com"),
    ("bulk", 34, "adatum-com.mail.protection.outlook.com"),
]
_KNOWN = ("jane", "john", "mary", "anna", "paul", "lisa")
_GHOSTS = ("ghost", "ghost2", "ghost3", "ghost4", "ghost5", "ghost6")
for _part, _n, _mx in _CONN:
    PROVIDERS.append(P(
        "conn-limit-%s" % _part, _n, _mx,
        "while one session from a client IP is open, another one gets '421 4.7.0 Too many "
        "concurrent SMTP connections from this IP address' at the banner and is closed",
        "Postfix postconf(5) smtpd_client_connection_count_limit (anvil(8)) https://www.postfix."
        "org/postconf.5.html#smtpd_client_connection_count_limit ; Microsoft Learn 'Message "
        "rate limits and throttling' https://learn.microsoft.com/en-us/exchange/mail-flow/"
        "message-rate-limits",
        merge(MS, conn_limit=[1, "421 4.7.0 Too many concurrent SMTP connections from this IP "
                                 "address; please try again later."],
              users=users(MS_OK, "550 5.4.1 Recipient address rejected: Access denied. "
                          "AS(201806281)", names=_KNOWN)),
        # more addresses than one session takes (5 RCPTs a session for
        # *.mail.protection.outlook.com), so that a verifier opens a second
        # session while the first is open; the milter run sends them in two
        # client sessions at once (milter_sessions)
        dict([(k, DELIVERABLE) for k in _KNOWN] + [(k, REJECTED) for k in _GHOSTS]),
        parts=(_part,)))
    PROVIDERS[-1]["milter_sessions"] = 2
_FIRST = [
    ("check", 35, "alt1.aspmx.l.google.com"),
    ("milter", 36, "alt2.aspmx.l.google.com"),
    ("bulk", 37, "alt3.aspmx.l.google.com"),
]
for _part, _n, _mx in _FIRST:
    PROVIDERS.append(P(
        "first-tempfail-%s" % _part, _n, _mx,
        "Google Workspace: the EHLO of a client's first session gets '421 4.7.0 Try again later, "
        "closing connection.'; later sessions are normal",
        "https://support.google.com/a/answer/3726730 (421 4.7.0 Try again later, closing "
        "connection. This usually indicates a Denial of Service (DoS) for the SMTP relay at the "
        "HELO stage.)",
        merge(GMAIL, first_session="421 4.7.0 Try again later, closing connection. (EHLO) "
                                   "{sid} - gsmtp",
              users=users(GMAIL_OK, GMAIL_NOSUCHUSER)),
        {"jane": DELIVERABLE, "ghost": REJECTED},
        parts=(_part,)))

PROVIDERS += [
    P("nonull-policy", 38, "mx.nonull-policy.test",
      "MAIL FROM:<> gets '550 5.7.1 Null sender not accepted'; a real sender is accepted",
      "Postfix postconf(5) smtpd_reject_unlisted_sender / check_sender_access (a site that "
      "refuses the null sender) https://www.postfix.org/postconf.5.html ; RFC 5321 section 4.5.5 "
      "(servers MUST NOT refuse the null reverse-path -- some do)",
      {"mail_null": "550 5.7.1 <>: Null sender not accepted", "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("nonull-syntax", 39, "mx.nonull-syntax.test",
      "MAIL FROM:<> gets '553 5.1.7 The sender address <> is not a valid RFC 5321 address'; "
      "a real sender is accepted",
      "https://support.google.com/a/answer/3726730 (553 5.1.7 The sender address <address> is "
      "not a valid RFC 5321 address)",
      {"mail_null": "553 5.1.7 The sender address <> is not a valid RFC 5321 address.",
       "users": users()},
      {"jane": DELIVERABLE, "ghost": REJECTED}),
    P("tls-broken", 40, "mx.tlsbroken.test",
      "MAIL before TLS gets '530 5.7.0 Must issue a STARTTLS command first'; STARTTLS is offered "
      "and answered 220, then garbage instead of a handshake",
      "https://support.google.com/a/answer/3726730 (530 5.7.0 Must issue a STARTTLS command "
      "first); RFC 3207 section 4 (530 5.7.0)",
      {"starttls": "broken",
       "require_tls": "530 5.7.0 Must issue a STARTTLS command first",
       "users": users()},
      {"jane": TLS_ERROR}),
]


# --- the world's side ----------------------------------------------------------

def providers(part=None):
    return [p for p in PROVIDERS if part is None or part in p["parts"]]


def zone_records():
    """(owner, type, data) for the "test." zone: each domain's MX; MX hosts in .test."""
    recs = []
    for p in PROVIDERS:
        for d in p["domains"]:
            recs.append((d, "MX", "10 %s." % p["mx"]))
        if p["mx"].endswith(".test"):
            recs.append((p["mx"], "A", p["ip"]))
    return recs


def unbound_local_data():
    """unbound.conf lines for the MX hosts outside .test: a static zone of the
    exact name (NODATA for AAAA, NXDOMAIN below) with its A record."""
    out = []
    for p in PROVIDERS:
        if not p["mx"].endswith(".test"):
            out.append('  local-zone: "%s." static' % p["mx"])
            out.append('  local-data: "%s. 300 IN A %s"' % (p["mx"], p["ip"]))
    return "\n".join(out) + "\n"


def smtpd_servers():
    return [{"name": p["name"], "ip": p["ip"], "port": 25, "domains": p["domains"],
             "host": p["mx"], "script": p["script"]} for p in PROVIDERS]


def table_lines():
    lines = []
    for p in PROVIDERS:
        lines.append("%-26s %-13s MX %s" % (p["domains"][0], p["ip"], p["mx"]))
        lines.append("%-26s %-13s %s" % ("", "", p["what"]))
        for local, exp in p["expect"].items():
            lines.append("%-26s %-13s   %s@ -> %s" % ("", "", local, _exp_text(exp)))
    return lines


def _exp_text(exp):
    alts = exp if isinstance(exp[0], tuple) else (exp,)
    return " or ".join("%s/%s" % (s, r or "*") for s, r in alts)


def expectations(part):
    """[(address, acceptable (status, reason) pairs, provider)] of one run."""
    out = []
    for p in providers(part):
        for local, exp in p["expect"].items():
            alts = exp if isinstance(exp[0], tuple) else (exp,)
            out.append(("%s@%s" % (local, p["domains"][0]), alts, p))
    return out


def matches(alts, status, reason):
    return any(status == s and (r is None or reason == r) for s, r in alts)


# --- the scripted sessions (used by smtpd.py) -----------------------------------

FIRST_SEEN = set()           # (server ip, client ip) whose first session was tempfailed
OPEN = {}                    # (server ip, client ip) -> sessions open


def session_class(Session, Quit):
    """A subclass of smtpd.Session that follows srv["script"]; smtpd.py passes
    its own Session and Quit (it runs as __main__: importing it would make a
    second copy of its globals)."""

    class ProviderSession(Session):
        def __init__(self, srv, reader, writer):
            super().__init__(srv, reader, writer)
            self.script = srv["script"]
            self.eol = self.script.get("eol", "\r\n").encode()
            self.rcpt_addr = ""
            self.key = (writer.get_extra_info("sockname")[0], self.peer_ip)

        def fill(self, text):
            local, _, domain = self.rcpt_addr.rpartition("@")
            for k, v in (("{host}", self.host), ("{rcpt}", self.rcpt_addr), ("{local}", local),
                         ("{domain}", domain), ("{client}", self.peer_ip), ("{sid}", self.sid),
                         ("{mail}", self.mail or "")):
                text = text.replace(k, v)
            return text

        async def send(self, data, log=True):
            if self.eol != b"\r\n":
                data = data.replace(b"\r\n", self.eol)
            await super().send(data, log)

        async def reply(self, *lines):
            if len(lines) > 1:       # the base class's (code, texts...) form
                code, texts = lines[0], lines[1:]
                lines = ("\n".join("%s%s%s" % (code, "-" if i < len(texts) - 1 else " ", t)
                                   for i, t in enumerate(texts)),)
            text = self.fill(lines[0])
            if self.script.get("delay"):
                await asyncio.sleep(self.script["delay"])
            await self.send(("\r\n".join(text.split("\n")) + "\r\n").encode())
            if text.startswith("421"):
                self.log("<closing after 421>")
                raise Quit

        async def run(self):
            OPEN[self.key] = OPEN.get(self.key, 0) + 1
            try:
                await super().run()
            finally:
                OPEN[self.key] -= 1

        async def banner(self):
            s = self.script
            if s.get("delay"):
                await asyncio.sleep(s["delay"])
            if s.get("conn_limit") and OPEN[self.key] > s["conn_limit"][0]:
                self.log("<over the connection limit: %d open>" % OPEN[self.key])
                await self.send((self.fill(s["conn_limit"][1]) + "\r\n").encode())
                raise Quit
            last = ""
            for step in s.get("banner", ["220 {host} ESMTP"]):
                if isinstance(step, (int, float)):
                    await asyncio.sleep(step)
                    continue
                last = self.fill(step)
                await self.send((last + "\r\n").encode())
            if last.startswith("220"):
                return
            if last.startswith("421"):
                raise Quit
            while True:
                line = await self.readline()
                if line.upper().startswith("QUIT"):
                    await self.reply("221 2.0.0 Bye")
                    raise Quit
                await self.reply("503 5.5.1 Error: no SMTP service here")

        async def command(self, verb, arg):
            s = self.script
            if verb in ("EHLO", "HELO"):
                if not arg:
                    return await self.reply("501 5.5.4 Syntax: %s hostname" % verb)
                if s.get("first_session") and self.key not in FIRST_SEEN:
                    FIRST_SEEN.add(self.key)
                    self.log("<first session of this client: tempfailed>")
                    return await self.reply(s["first_session"])
                self.helo, self.mail = arg, None
                first = s.get("ehlo", "{host}")
                if verb == "HELO":
                    return await self.reply("250 " + first)
                ext = list(s.get("ext", ["PIPELINING", "SIZE 52428800", "ENHANCEDSTATUSCODES",
                                         "8BITMIME"]))
                if s.get("starttls") and not self.tls:
                    ext.append("STARTTLS")
                return await self.reply("250", first, *ext)
            if verb == "STARTTLS":
                if s.get("starttls") != "broken" or self.tls:
                    return await self.reply("502 5.5.1 Error: command not implemented")
                await self.reply("220 2.0.0 Ready to start TLS")
                await self.send(b"\x15\x03\x03\x00\x02\x02\x28 this is not a TLS handshake\r\n")
                try:
                    await asyncio.wait_for(self.reader.read(65536), 10)
                except asyncio.TimeoutError:
                    pass
                raise Quit
            if verb == "MAIL":
                return await self.mail_from(arg)
            if verb == "RCPT":
                return await self.rcpt_to(arg)
            return await super().command(verb, arg)

        async def mail_from(self, arg):
            s = self.script
            m = re.match(r"(?i)FROM:\s*<([^>]*)>(.*)$", arg)
            if not self.helo:
                return await self.reply("503 5.5.1 Error: send HELO/EHLO first")
            if not m:
                return await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            if s.get("require_tls") and not self.tls:
                return await self.reply(s["require_tls"])
            if self.mail is not None:
                return await self.reply("503 5.5.1 Error: nested MAIL command")
            if s.get("mail"):
                return await self.reply(s["mail"])
            if m.group(1) == "" and s.get("mail_null"):
                return await self.reply(s["mail_null"])
            self.mail = m.group(1)
            await self.reply(s.get("mail_ok", "250 2.1.0 Ok"))

        async def rcpt_to(self, arg):
            s = self.script
            m = re.match(r"(?i)TO:\s*<([^>]*)>(.*)$", arg)
            if s.get("require_tls") and not self.tls:
                return await self.reply(s["require_tls"])
            if self.mail is None:
                return await self.reply("503 5.5.1 Error: need MAIL command")
            if not m or "@" not in m.group(1):
                return await self.reply("501 5.1.3 Bad recipient address syntax")
            self.rcpt_addr = m.group(1)
            local, domain = self.rcpt_addr.rsplit("@", 1)
            self.rcpts += 1
            if domain.lower() not in self.domains:
                return await self.reply("554 5.7.1 <{rcpt}>: Relay access denied")
            if s.get("rcpt_limit") and self.rcpts > s["rcpt_limit"][0]:
                return await self.reply(s["rcpt_limit"][1])
            if s.get("rcpt"):
                return await self.reply(s["rcpt"])
            u = s.get("users", {"*": "250 2.1.5 Ok"})
            await self.reply(u.get(local.split("+", 1)[0].lower(), u["*"]))

    return ProviderSession


if __name__ == "__main__":
    print("\n".join(table_lines()))
    print("%d servers, %d behaviours" % (len(PROVIDERS), len({p["name"].rsplit("-", 1)[0]
          if p["name"].endswith(ALL) else p["name"] for p in PROVIDERS})))
