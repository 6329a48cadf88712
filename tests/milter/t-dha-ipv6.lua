-- SPDX-License-Identifier: MIT
-- t-dha-ipv6.lua - the harvest budget counts an IPv6 client per /64
-- (milter.ipv6_prefix, default 64): a harvester holding a /64 could
-- otherwise guess from a fresh address each time. 20 unknown recipients
-- (the shipped dha_limit) from 2001:db8:1:2::a spend the budget of its
-- /64: a known recipient from 2001:db8:1:2::b, another address of that
-- /64, is tempfailed unprobed; one from 2001:db8:1:3::a, the next /64,
-- is accepted.
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("v6a.test", "2001:db8:1:2::a")

    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "SIX1")
    for i = 1, 20 do
        rcpt(conn, string.format("<nobody%d@ok.test>", i), SMFIR_REPLYCODE)
    end
    check(count_log("SIX1: to=<nobody", "reason=rejected_email", "action=block") == 20,
          "20 unknown refused")
    mt.disconnect(conn)

    conn = open("v6b.test", "2001:db8:1:2::b")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "SIX2")
    rcpt(conn, "<alice@ok.test>", SMFIR_REPLYCODE)
    expect_log("SIX2: to=<alice@ok.test>", "client=v6b.test[2001:db8:1:2::b]", "action=tempfail",
               "reason=harvest_budget (not probed)")
    mt.disconnect(conn)

    conn = open("v6c.test", "2001:db8:1:3::a")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "SIX3")
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    mt.disconnect(conn)
end)
