-- SPDX-License-Identifier: MIT
-- t-eom.lua - what end of message does: an X-Mailverify header per "warn"
-- recipient (role_account = "warn" in the runner's policy), a quarantine
-- for "review" (accept_all = "review", review = "quarantine"), both at once.
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("eom.test", "192.0.2.6")

    -- warn: the header, its value exactly
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "EOM1")
    rcpt(conn, "<postmaster@ok.test>", SMFIR_CONTINUE)
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(mt.eom_check(conn, MT_HDRADD, "X-Mailverify",
                       "recipient <postmaster@ok.test>; status=risky; reason=role_account; action=warn"),
          "header: " .. tostring(mt.getheader(conn, "X-Mailverify", 0)))
    check(mt.getheader(conn, "X-Mailverify", 1) == nil, "a header for the plain recipient")
    check(not mt.eom_check(conn, MT_QUARANTINE), "warn quarantined")

    -- review: quarantine with the reason
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "EOM2")
    rcpt(conn, "<x@catchall.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(mt.eom_check(conn, MT_QUARANTINE, "mailverify: recipient <x@catchall.test> (accept_all)"),
          "not quarantined (or another reason)")
    check(not mt.eom_check(conn, MT_HDRADD), "review added a header")

    -- both in one message, two warned recipients: two headers
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "EOM3")
    rcpt(conn, "<postmaster@ok.test>", SMFIR_CONTINUE)
    rcpt(conn, "<y@catchall.test>", SMFIR_CONTINUE)
    rcpt(conn, "<postmaster@users.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
    check(mt.getheader(conn, "X-Mailverify", 0) ~= nil and mt.getheader(conn, "X-Mailverify", 1) ~= nil,
          "two headers wanted")
    check(mt.getheader(conn, "X-Mailverify", 2) == nil, "three headers")
    check(mt.eom_check(conn, MT_HDRADD, "X-Mailverify",
                       "recipient <postmaster@users.test>; status=risky; reason=role_account; action=warn"),
          "no header for postmaster@users.test")

    -- the next message on the connection starts clean
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "EOM4")
    rcpt(conn, "<bob@ok.test>", SMFIR_CONTINUE)
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(not mt.eom_check(conn, MT_HDRADD), "a header carried over")
    check(not mt.eom_check(conn, MT_QUARANTINE), "a quarantine carried over")
    mt.disconnect(conn)
end)
