-- SPDX-License-Identifier: MIT
-- t-verdicts.lua - one connection, the whole sequence, every kind of verdict.
-- connect, HELO, MAIL, RCPTs (accepted, unknown, no such domain, mailbox
-- full), EOM; then a sender refused at MAIL FROM on the same connection.
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("verdicts.test", "192.0.2.1")

    -- what mailverifyd asked for at negotiation: only the envelope
    check(mt.test_option(conn, SMFIP_NOHDRS), "NOHDRS not negotiated")
    check(mt.test_option(conn, SMFIP_NOBODY), "NOBODY not negotiated")
    check(mt.test_option(conn, SMFIP_NOEOH), "NOEOH not negotiated")
    check(mt.test_action(conn, SMFIF_ADDHDRS), "ADDHDRS not requested")
    check(mt.test_action(conn, SMFIF_QUARANTINE), "QUARANTINE not requested")
    check(not mt.test_action(conn, SMFIF_CHGBODY), "CHGBODY requested")

    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "VERD1")
    expect_log("VERD1: from=<sender@ok.test>", "client=verdicts.test[192.0.2.1]", "action=accept")

    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    expect_log("VERD1: to=<alice@ok.test>", "reason=accepted_email", "action=accept")

    -- refused with a reply of its own (550 5.1.1 ...): REPLYCODE, not REJECT
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("VERD1: to=<nobody@ok.test>", "status=undeliverable", "reason=rejected_email",
               "action=block")
    rcpt(conn, "<x@nonexistent.test>", SMFIR_REPLYCODE)
    expect_log("VERD1: to=<x@nonexistent.test>", "reason=invalid_domain", "action=block")

    -- a tempfail with its reply (452 4.2.2) is REPLYCODE too: the log tells
    rcpt(conn, "<full@users.test>", SMFIR_REPLYCODE)
    expect_log("VERD1: to=<full@users.test>", "reason=mailbox_full", "action=tempfail")

    -- the same address again: answered from the cache
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("VERD1: to=<nobody@ok.test>", "action=block", "cached=yes")

    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(not mt.eom_check(conn, MT_HDRADD), "a header was added to a plain message")
    check(not mt.eom_check(conn, MT_QUARANTINE), "a plain message was quarantined")

    -- a second message on the same connection: the sender's domain does
    -- not exist, refused at MAIL FROM (550 5.1.8)
    mail(conn, "<someone@nonexistent.test>", SMFIR_REPLYCODE, "i", "VERD2")
    expect_log("VERD2: from=<someone@nonexistent.test>", "reason=invalid_domain", "action=block")

    -- the null sender is not checked (skip_null_sender): no verdict logged
    mail(conn, "<>", SMFIR_CONTINUE, "i", "VERD3")
    check(logged("VERD3: from=") == nil, "the null sender was verified")
    rcpt(conn, "<bob@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")

    mt.disconnect(conn)
end)
