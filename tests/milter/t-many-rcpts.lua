-- SPDX-License-Identifier: MIT
-- t-many-rcpts.lua - 50 recipients in one transaction, known and unknown
-- taking turns; the client's harvest budget (dha_limit = 20 unknown per
-- window, the shipped default) runs out at the 20th unknown: from there on
-- every recipient of that client is tempfailed without a probe, and only
-- the first of them is logged (the rest are summed up when the window ends).
dofile(os.getenv("MT_DIR") .. "/common.lua")

main(function()
    local conn = open("many.test", "192.0.2.3")
    local t0 = os.time()

    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "MANY1")
    for i = 1, 50 do
        local to
        if i % 2 == 1 then
            to = string.format("<alice+%d@ok.test>", i)
        else
            to = string.format("<nobody%d@ok.test>", i)
        end
        if i <= 40 then
            rcpt(conn, to, i % 2 == 1 and SMFIR_CONTINUE or SMFIR_REPLYCODE)
        else
            -- 20 unknown so far: the budget is spent, known or not; the
            -- first refusal is logged, the rest only counted (a summary
            -- line per client when the window ends)
            rcpt(conn, to, SMFIR_REPLYCODE)
            if i == 41 then
                expect_log("MANY1: to=" .. to, "client=many.test[192.0.2.3]", "action=tempfail",
                           "reason=harvest_budget (not probed)")
            end
        end
    end
    check(count_log("MANY1: to=<alice+", "action=accept") == 20, "20 known accepted")
    check(count_log("MANY1: to=<nobody", "reason=rejected_email", "action=block") == 20,
          "20 unknown refused")
    check(count_log("MANY1: to=", "harvest_budget") == 1, "one line for the 10 past the budget")

    -- the message itself goes through for the accepted recipients
    ok(mt.eom(conn), "eom")
    expect(conn, SMFIR_CONTINUE, "EOM")
    check(not mt.eom_check(conn, MT_HDRADD), "a header was added")
    mt.disconnect(conn)

    -- another client is not affected by this one's budget
    conn = open("other.test", "192.0.2.33")
    mail(conn, "<sender@ok.test>", SMFIR_CONTINUE, "i", "MANY2")
    rcpt(conn, "<alice@ok.test>", SMFIR_CONTINUE)
    mt.disconnect(conn)
    mt.echo(string.format("50 RCPTs in about %d s", os.time() - t0))
end)
