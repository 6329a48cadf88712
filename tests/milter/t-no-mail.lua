-- SPDX-License-Identifier: MIT
-- t-no-mail.lua - connections that end before (or in the middle of) a
-- message: QUIT after HELO, QUIT right after connect, a connection cut
-- without QUIT mid-transaction. mailverifyd must clean up each (close
-- callback) and go on serving; the runner checks it is still alive.
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    -- connect, HELO, QUIT
    local conn = open("nomail.test", "192.0.2.4")
    mt.disconnect(conn)

    -- connect, QUIT: no HELO
    conn = mt.connect(SOCKET, 40, 0.05)
    check(conn ~= nil, "connect")
    ok(mt.conninfo(conn, "nohelo.test", "192.0.2.4"), "conninfo")
    expect(conn, SMFIR_CONTINUE, "connect")
    mt.disconnect(conn)

    -- many short connections in a row
    for i = 1, 20 do
        conn = open("nomail.test", "192.0.2.4")
        mt.disconnect(conn)
    end

    -- cut (no QUIT) after a RCPT with a header noted for EOM, and after MAIL
    conn = open("cut.test", "192.0.2.4")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "NOML1")
    rcpt(conn, "<postmaster@ok.test>", SMFIR_CONTINUE)
    mt.disconnect(conn, false)
    conn = open("cut.test", "192.0.2.4")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "NOML2")
    mt.disconnect(conn, false)

    -- still serving, and a new connection starts clean
    conn = open("after.test", "192.0.2.4")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "NOML3")
    rcpt(conn, "<nobody@ok.test>", SMFIR_REPLYCODE)
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(not mt.eom_check(conn, MT_HDRADD), "a header from the cut connection was added")
    mt.disconnect(conn)
end)
