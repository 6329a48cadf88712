-- SPDX-License-Identifier: MIT
-- common.lua - what every tests/milter/t-*.lua script shares (dofile'd).
--
-- tests/milter/run starts the test world and mailverifyd, then runs each
-- script with `miltertest -s SCRIPT`, passing in the environment:
--   MV_PORT  mailverifyd's inet port on 127.0.0.1
--   MV_LOG   mailverifyd's log (-d: one line per verdict, written before
--            the reply goes out, so it is complete once getreply returns)
--   MT_DIR   this directory
--
-- miltertest pitfalls, learnt the hard way:
-- - A Lua error ends miltertest with status 1 and *no message at all*:
--   main() runs the body under xpcall and prints the traceback itself.
-- - mt.getreply only tells the reply's kind: a reject and a tempfail that
--   both set a reply text (smfi_setreply) are both SMFIR_REPLYCODE, and the
--   code itself is not readable before EOM. Which one it was is read from
--   mailverifyd's log (logged()).
-- - Always give mt.conninfo an IP: with nil it resolves the host name.
-- - A milter without connect/helo callbacks makes mt.conninfo/mt.helo exit
--   1 silently; mailverifyd registers both.
-- - After a milter accepted a message (SMFIR_ACCEPT at MAIL), libmilter
--   ignores the message's later commands: an RCPT gets no reply at all and
--   mt.rcptto waits out its read timeout (10 s). An MTA never sends one.
-- - mt.macro replaces every macro of that type set before; a later stage
--   (mt.helo) drops the macros of the stages after it.

PORT = os.getenv("MV_PORT") or "10025"
SOCKET = "inet:" .. PORT .. "@127.0.0.1"
LOG = os.getenv("MV_LOG")

local names = {}
for _, n in ipairs({"SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT", "SMFIR_TEMPFAIL",
                    "SMFIR_REPLYCODE", "SMFIR_DISCARD"}) do
    names[_G[n]] = n
end

-- reply_name - "SMFIR_CONTINUE" for a reply value
function reply_name(r)
    return names[r] or string.format("%q", tostring(r))
end

-- check - fail the script with msg unless cond
function check(cond, msg)
    if not cond then
        error(msg, 2)
    end
end

-- ok - a miltertest call returns nil on success, an error string otherwise
function ok(err, what)
    if err ~= nil then
        error(what .. ": " .. tostring(err), 2)
    end
end

-- expect - the last reply on conn must be want
function expect(conn, want, what)
    local got = mt.getreply(conn)
    if got ~= want then
        error(string.format("%s: got %s, want %s", what, reply_name(got), reply_name(want)), 2)
    end
end

-- open - connect, negotiate, connection info and HELO; the connection
function open(host, ip)
    local conn = mt.connect(SOCKET, 40, 0.05)
    check(conn ~= nil, "cannot connect to " .. SOCKET)
    ok(mt.conninfo(conn, host, ip), "conninfo")
    expect(conn, SMFIR_CONTINUE, "connect " .. host)
    ok(mt.helo(conn, host), "helo")
    expect(conn, SMFIR_CONTINUE, "helo " .. host)
    return conn
end

-- mail - MAIL FROM with the given macros (name, value, ...) and the reply wanted
function mail(conn, from, want, ...)
    if select("#", ...) > 0 then
        ok(mt.macro(conn, SMFIC_MAIL, ...), "macro")
    end
    ok(mt.mailfrom(conn, from), "mailfrom " .. from)
    expect(conn, want, "MAIL FROM:" .. from)
end

-- rcpt - RCPT TO and the reply wanted
function rcpt(conn, to, want)
    ok(mt.rcptto(conn, to), "rcptto " .. to)
    expect(conn, want, "RCPT TO:" .. to)
end

-- log_lines - mailverifyd's log, as a list of lines
function log_lines()
    local f = assert(io.open(LOG, "r"))
    local t = {}
    for l in f:lines() do
        t[#t + 1] = l
    end
    f:close()
    return t
end

-- logged - the last log line holding every one of the given strings (plain), or nil
function logged(...)
    local want = {...}
    local lines = log_lines()
    for i = #lines, 1, -1 do
        local all = true
        for _, w in ipairs(want) do
            if not string.find(lines[i], w, 1, true) then
                all = false
                break
            end
        end
        if all then
            return lines[i]
        end
    end
    return nil
end

-- expect_log - fail unless a log line holds every given string
function expect_log(...)
    local l = logged(...)
    if l == nil then
        error("no log line with: " .. table.concat({...}, " & "), 2)
    end
    return l
end

-- count_log - how many log lines hold every given string
function count_log(...)
    local want, n = {...}, 0
    for _, l in ipairs(log_lines()) do
        local all = true
        for _, w in ipairs(want) do
            if not string.find(l, w, 1, true) then
                all = false
                break
            end
        end
        if all then
            n = n + 1
        end
    end
    return n
end

-- main - run the script's body; on failure print why (miltertest would not)
function main(body)
    local good, err = xpcall(body, debug.traceback)
    if not good then
        print("FAIL: " .. tostring(err))
        os.exit(1)
    end
end
