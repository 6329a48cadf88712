// SPDX-License-Identifier: MIT
// peer_deep_email.mjs - npm's deep-email-validator over a list, for bench-bulk.
//
//   node tests/bench/peer_deep_email.mjs NODE_MODULES_DIR FILE CONCURRENCY
//
// Calls validate() as its README shows it, for every address of FILE (one
// a line), at most CONCURRENCY calls at once (1: one after the other, as
// the README's `await validate(email)` does). Every check is on: regex,
// typo (mailcheck; "test" added to its TLDs, or every .test domain would
// stop there as a "typo" without any network step), disposable, MX (node's
// dns.resolveMx: c-ares with /etc/resolv.conf, which inside tests/in-netns
// is the test world's unbound) and SMTP (a new connection to the best MX
// for every address: HELO, MAIL FROM, RCPT TO). Prints the outcomes and a
// last line "RESULT count=N wall_s=S rate=R valid=V" for scripts.
import { createRequire } from "module";
import { readFileSync } from "fs";
import path from "path";

const [dir, file, conc] = process.argv.slice(2);
const require = createRequire(path.resolve(dir, "x.js"));
const { validate } = await import(require.resolve("deep-email-validator"));
const addrs = readFileSync(file, "utf8").split("\n").filter((a) => a.length > 0);
const width = Math.max(1, parseInt(conc || "1", 10));
const outcomes = new Map();
let next = 0, valid = 0;

async function worker() {
  while (next < addrs.length) {
    const email = addrs[next++];
    const r = await validate({ email, sender: "bench@mta.test", additionalTopLevelDomains: ["test"] });
    const key = r.valid ? "valid" : r.reason + ": " + (r.validators[r.reason] || {}).reason;
    outcomes.set(key, (outcomes.get(key) || 0) + 1);
    valid += r.valid ? 1 : 0;
  }
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: width }, worker));
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
for (const [k, v] of [...outcomes].sort((a, b) => b[1] - a[1]))
  console.log(`  ${v}  ${k}`);
console.log(`RESULT count=${addrs.length} wall_s=${wall.toFixed(3)} rate=${(addrs.length / wall).toFixed(1)} ` +
            `valid=${valid} concurrency=${width}`);
