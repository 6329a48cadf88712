-- SPDX-License-Identifier: MIT
-- t-abort.lua - a transaction aborted midway (RSET, or the MTA's own
-- rejection) leaves nothing behind for the next one on the connection.
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("abort.test", "192.0.2.2")

    -- a role account (warn: a header at EOM) and a catch-all (review:
    -- quarantine at EOM), then abort before DATA
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "ABRT1")
    rcpt(conn, "<postmaster@ok.test>", SMFIR_CONTINUE)
    expect_log("ABRT1: to=<postmaster@ok.test>", "action=warn")
    rcpt(conn, "<x@catchall.test>", SMFIR_CONTINUE)
    expect_log("ABRT1: to=<x@catchall.test>", "action=review")
    ok(mt.abort(conn), "abort")

    -- the next transaction: neither header nor quarantine carried over
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "ABRT2")
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM after abort")
    check(not mt.eom_check(conn, MT_HDRADD), "a header from the aborted message was added")
    check(not mt.eom_check(conn, MT_QUARANTINE), "the aborted message's quarantine was applied")

    -- aborted right after MAIL, and twice in a row
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "ABRT3")
    ok(mt.abort(conn), "abort after MAIL")
    ok(mt.abort(conn), "second abort")

    -- aborted after a refused recipient; then a message that is tagged,
    -- with exactly its own header
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "ABRT4")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    ok(mt.abort(conn), "abort after a refusal")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "ABRT5")
    rcpt(conn, "<bob@ok.test>", SMFIR_CONTINUE)
    rcpt(conn, "<postmaster@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(mt.eom_check(conn, MT_HDRADD, "X-Mailverify"), "no header for the role account")
    check(mt.getheader(conn, "X-Mailverify", 1) == nil, "more than one header")
    check(not mt.eom_check(conn, MT_QUARANTINE), "quarantined")

    mt.disconnect(conn)
end)
