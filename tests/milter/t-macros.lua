-- SPDX-License-Identifier: MIT
-- t-macros.lua - what the MTA may or may not send: no "i" (no queue id
-- yet: logged as NOQUEUE), no {auth_authen} (checked), an empty one
-- (checked), a set one (skip_authenticated: the message is accepted whole
-- at MAIL FROM, so an unknown recipient is never refused), and a client
-- of no address family (conninfo "unspec": no address, no harvest budget).
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("macros.test", "192.0.2.5")

    -- no macros at all
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE)
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("NOQUEUE: to=<nobody@ok.test>", "client=macros.test[192.0.2.5]", "action=block")
    ok(mt.abort(conn), "abort")

    -- an empty {auth_authen}: not authenticated
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "MACR1", "{auth_authen}", "")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("MACR1: to=<nobody@ok.test>", "action=block")
    ok(mt.abort(conn), "abort")

    -- authenticated: accepted whole at MAIL FROM, never verified (libmilter
    -- then sends no further callbacks for this message, and neither would
    -- an MTA ask)
    mail(conn, "<sender@nonexistent.test>", SMFIR_ACCEPT, "i", "MACR2", "{auth_authen}", "alice")
    check(logged("MACR2:") == nil, "an authenticated client's message was verified")
    ok(mt.abort(conn), "abort")

    -- the skip is per message: the next one, without the macro, is checked
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "MACR3")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("MACR3: to=<nobody@ok.test>", "action=block")
    ok(mt.abort(conn), "abort")
    mt.disconnect(conn)

    -- a macro of a later stage only: "i" at RCPT, none at MAIL
    conn = open("macros.test", "192.0.2.5")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE)
    ok(mt.macro(conn, SMFIC_RCPT, "i", "MACR4"), "macro")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("MACR4: to=<nobody@ok.test>", "action=block")
    mt.disconnect(conn)

    -- a client without an address (unspec): still verified
    conn = mt.connect(SOCKET, 40, 0.05)
    check(conn ~= nil, "connect")
    ok(mt.conninfo(conn, "unspec.test", "unspec"), "conninfo unspec")
    expect(conn, SMFIR_CONTINUE, "connect unspec")
    -- HELO explicitly: mt.mailfrom would send one itself, after the MAIL
    -- macros, and a HELO drops the macros of the later stages
    ok(mt.helo(conn, "unspec.test"), "helo")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "MACR5")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    expect_log("MACR5: to=<nobody@ok.test>", "client=unspec.test[?]", "action=block")
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    mt.disconnect(conn)
end)
