#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// browser.js - headless Chromium drives the demo signup page (demo.html +
// mailverify.js) served by tests/web/webstack.py; started by
// test_browser.py, which owns the world, nginx and the plugin.
//
//   node tests/web/browser.js URL ARTIFACT_DIR SCENARIO...
//
// Debian's /usr/bin/chromium through npm's playwright-core
// (tools/playwright-pkg; PLAYWRIGHT_CORE names another copy). One browser,
// a fresh context per scenario; each scenario prints "ok NAME 0.42s" or
// "FAIL NAME: why" and leaves ARTIFACT_DIR/NAME*.png. Exit 1 if any failed.
// A scenario runs on demo.html unless it names another page of the stack
// (CONTROLLED: controlled.html, a React-like controlled field in German).
"use strict";
const path = require("path");
const ROOT = path.resolve(__dirname, "..", "..");
const { chromium } = require(process.env.PLAYWRIGHT_CORE ||
  path.join(ROOT, "build", "npm", "node_modules", "playwright-core"));

const [url, artifacts, ...names] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage"];

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// the page as a person would fill it in; the address typed key by key
async function fill(page, email) {
  await page.fill("#name", "Jane Doe");
  await page.fill("#password", "correct horse battery");
  await page.click("#email");
  await page.keyboard.type(email, { delay: 15 });
}

const msgText = (page) => page.$eval("#email", (el) =>
  document.getElementById(el.getAttribute("aria-describedby")).textContent);

async function waitMsg(page, text, timeout = 5000) {
  await page.waitForFunction((t) => {
    const el = document.querySelector(".mv-msg");
    return el && el.textContent.includes(t);
  }, text, { timeout });
}

// watch what leaves the page: /verify calls and form submissions
function traffic(page) {
  const seen = { verify: [], signup: [] };
  page.on("request", (r) => {
    const p = new URL(r.url()).pathname;
    if (p.endsWith("/verify")) seen.verify.push(r.postData());
    if (p.endsWith("/signup")) seen.signup.push(r.postData());
  });
  return seen;
}

async function submitted(page, seen, timeout = 8000) {
  await page.waitForURL(/\/signup$/, { timeout });
  await page.waitForSelector("h1:has-text('Thanks')", { timeout: 2000 });
  check(seen.signup.length === 1, "one submission, got " + seen.signup.length);
}

// the form must still be on screen, unsubmitted, a while after the click
async function notSubmitted(page, seen) {
  await page.waitForTimeout(400);
  check(seen.signup.length === 0, "the form was submitted: " + seen.signup[0]);
  check(/demo\.html$|\/$/.test(page.url()), "navigated to " + page.url());
}

// tests/cases/addresses.tsv: the inputs the server's parser accepts (the
// ones a text field can hold: valid UTF-8), its escapes undone
function parserAccepts() {
  const fs = require("fs");
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const out = [];
  for (const line of fs.readFileSync(path.join(ROOT, "tests", "cases", "addresses.tsv"), "utf8").split("\n")) {
    const [input, flags, expected] = line.split("\t");
    if (line.startsWith("#") || flags !== "-" || !(expected || "").startsWith("ok:")) continue;
    const c = Array.from(input), bytes = [];     // code points
    for (let i = 0; i < c.length; i++) {
      const e = c[i] === "\\" ? c[i + 1] : "";
      if (e && "trn\\".includes(e)) { bytes.push({ t: 9, r: 13, n: 10, "\\": 92 }[e]); i++; }
      else if (e === "x") { bytes.push(parseInt(c[i + 2] + c[i + 3], 16)); i += 3; }
      else bytes.push(...Buffer.from(c[i]));
    }
    try { out.push(utf8.decode(Uint8Array.from(bytes))); } catch (err) { /* not text */ }
  }
  return out;
}

// the page's React-like state (controlled.html)
const stateValue = (page) => page.evaluate(() => window.state.value);
const verdicts = (page) => page.evaluate(() => window.verdicts);

// type into controlled.html's field and leave it; the plugin's answer
async function typeAndLeave(page, email) {
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith("/verify"));
  await page.click("#email");
  await page.keyboard.type(email, { delay: 15 });
  await page.keyboard.press("Tab");
  return (await answer).json();
}

const CONTROLLED = "controlled.html";

const scenarios = {
  // the local hint is never stricter than the server's parser
  async looser(page) {
    const ok = parserAccepts();
    check(ok.length > 100, "read " + ok.length + " accepted inputs");
    const refused = await page.evaluate((l) => l.filter((v) => MailVerify.syntax(v) !== ""), ok);
    check(refused.length === 0, "refused locally: " + JSON.stringify(refused));
    const bad = ["jane", "jane@", "@example.com", "jane doe@example.com", "jane@example", "a@b c.com"];
    const passed = await page.evaluate((l) => l.filter((v) => MailVerify.syntax(v) === ""), bad);
    check(passed.length === 0, "not flagged: " + JSON.stringify(passed));
  },

  // a typo: the suggestion appears on leaving the field, one click fixes it
  async typo(page, shot) {
    const seen = traffic(page);
    await fill(page, "jane@gmial.com");
    await page.keyboard.press("Tab");
    await waitMsg(page, "Did you mean jane@gmail.com?");
    check((await page.textContent(".mv-suggest")) === "jane@gmail.com", "the suggestion button");
    check(await page.$eval(".mv-msg", (m) => m.getAttribute("aria-live") === "polite"), "aria-live");
    check(await page.$eval("#email", (e) => e.classList.contains("mv-warn") &&
      e.getAttribute("aria-invalid") !== "true"), "a warning is not invalid");
    await shot("typo");
    await page.click(".mv-suggest");
    check((await page.inputValue("#email")) === "jane@gmail.com", "the field is fixed");
    check(await page.$eval("#email", (e) => e === document.activeElement), "focus back in the field");
    await page.waitForFunction(() => !document.querySelector(".mv-suggest") &&
      !document.querySelector("#email").classList.contains("mv-checking"));
    check(!(await msgText(page)).includes("Did you mean"), "the suggestion is gone");
    check(seen.verify.some((b) => b === "email=jane%40gmail.com"), "the fixed address re-checked");
    await shot("typo-fixed");
  },

  // a warning stops the first submit (so it is read) and lets the second through
  async warn_once(page, shot) {
    const seen = traffic(page);
    await fill(page, "jane@gmial.com");
    await page.click("button[type=submit]");
    await waitMsg(page, "Did you mean jane@gmail.com?");
    await notSubmitted(page, seen);
    await shot("warn-once");
    await page.click("button[type=submit]");
    await submitted(page, seen);
    check(seen.signup[0].includes("email=jane%40gmial.com"), "the address as typed");
  },

  // disposable: blocked, the message shown accessibly, nothing submitted
  async disposable(page, shot) {
    const seen = traffic(page);
    await fill(page, "throwaway@mailinator.com");
    await page.click("button[type=submit]");
    await waitMsg(page, "Disposable email addresses are not accepted.");
    check(await page.$eval("#email", (e) => e.getAttribute("aria-invalid") === "true"), "aria-invalid");
    await notSubmitted(page, seen);
    await page.click("button[type=submit]");       // and it stays blocked
    await notSubmitted(page, seen);
    await shot("disposable");
  },

  // the local hint: no network for what cannot be an address
  async syntax(page, shot) {
    const seen = traffic(page);
    await fill(page, "jane.doe");
    await page.keyboard.press("Tab");
    await waitMsg(page, "Please enter an email address");
    await page.click("#email");
    await page.keyboard.type("@example", { delay: 15 });
    await waitMsg(page, "needs a dot");                 // updates while typing, once shown
    await page.keyboard.press("Tab");
    check(seen.verify.length === 0, "asked the server about a non-address");
    await shot("syntax");
  },

  // a real mailbox of the world (Postfix on ok.test): the form submits
  async good(page, shot) {
    const seen = traffic(page);
    await fill(page, "alice@ok.test");
    await page.keyboard.press("Tab");
    await page.waitForSelector("#email.mv-ok");
    await shot("good");
    await page.click("button[type=submit]");
    await submitted(page, seen);
    check(seen.signup[0].includes("email=alice%40ok.test"), "the address submitted");
    await shot("good-thanks");
  },

  // still verifying (the MX is a tarpit): the answer is "pending", yet a
  // typo known offline is offered -- and the form is not stopped
  async pending_typo(page, shot) {
    const seen = traffic(page);
    await fill(page, "jane@tarpit.test");
    await page.keyboard.press("Tab");
    await waitMsg(page, "Did you mean jane@tarpits.test?");
    check((await page.textContent(".mv-suggest")) === "jane@tarpits.test", "the suggestion button");
    check(await page.$eval("#email", (e) => !e.classList.contains("mv-warn") &&
      !e.classList.contains("mv-block") && e.getAttribute("aria-invalid") !== "true"),
      "pending is neither a warning nor a block");
    check(seen.verify.length === 1, "one check");
    await shot("pending-typo");
    await page.click("button[type=submit]");
    await submitted(page, seen);
    check(seen.signup[0].includes("email=jane%40tarpit.test"), "the address as typed");
  },

  // an endpoint that never answers: the form submits after the timeout (3 s)
  async slow(page, shot) {
    await page.route("**/verify", () => {});            // swallowed: no answer ever
    const seen = traffic(page);
    await fill(page, "bob@ok.test");
    const t0 = Date.now();
    await page.click("button[type=submit]");
    await page.waitForSelector("form.mv-busy", { timeout: 1000 });
    await shot("slow-waiting");
    await submitted(page, seen, 8000);
    const s = (Date.now() - t0) / 1000;
    check(s > 2.5 && s < 6, "submitted after " + s + " s, not ~3 s");
  },

  // a React controlled field: the one-click fix must reach the page's
  // state, or the page's next render puts the typo back
  async controlled_fix(page, shot) {
    // the page does behave like React: a script's .value and an input
    // event change neither its state nor (after its render) the field
    const faked = await page.evaluate(() => {
      const el = document.getElementById("email");
      el.value = "x@example.com";
      el.dispatchEvent(new Event("input", { bubbles: true }));
      return [window.state.value, el.value];
    });
    check(faked[0] === "" && faked[1] === "", "the page took a script's .value: " + JSON.stringify(faked));
    const seen = traffic(page);
    await page.click("#email");
    await page.keyboard.type("jane@gmial.com", { delay: 15 });
    check((await stateValue(page)) === "jane@gmial.com", "typing reaches the state");
    await page.keyboard.press("Tab");
    await page.waitForSelector(".mv-suggest");
    await page.click(".mv-suggest");
    await page.waitForTimeout(300);                     // a few renders (every 50 ms)
    const st = await stateValue(page), field = await page.inputValue("#email");
    check(st === "jane@gmail.com", "the page's state after the click: " + st);
    check(field === "jane@gmail.com", "the field after the page's renders: " + field);
    await page.waitForFunction(() => !document.querySelector("#email").classList.contains("mv-checking"));
    check(seen.verify.includes("email=jane%40gmail.com"), "the fixed address re-checked");
    await shot("controlled-fixed");
  },

  // every answer shown is announced on the field, with the answer's facts
  async verdict_event(page) {
    const answer = await typeAndLeave(page, "jane@gmial.com");
    await page.waitForFunction(() => window.verdicts.length >= 1);
    let v = await verdicts(page);
    const d = v[0];
    for (const k of ["status", "reason", "action", "suggestion", "pending"]) {
      check(d[k] === answer[k], k + ": " + JSON.stringify(d[k]) + ", the answer has " + JSON.stringify(answer[k]));
    }
    check(d.suggestion === "jane@gmail.com", "a suggestion, as the test world gives");
    check(d.address === "jane@gmial.com", "address " + d.address);
    check(d.fieldId === "email" && d.targetIsField, "fired on the field, naming it");
    check(d.message === (await msgText(page)), "message is what is shown: " + d.message);
    check(d.answer && d.answer.normalized === answer.normalized, "the whole answer");
    await page.click(".mv-suggest");                     // the fixed address: its own answer
    await page.waitForFunction(() => window.verdicts.length >= 2);
    await page.waitForTimeout(300);
    v = await verdicts(page);
    check(v.length === 2, "one event per answer shown, got " + v.length);
    check(v[1].address === "jane@gmail.com", "the second is the fixed address: " + v[1].address);
  },

  // the page's own words (controlled.html is German) over the plugin's English
  async translated(page, shot) {
    let answer = await typeAndLeave(page, "jane@gmial.com");
    check(/^Did you mean/.test(answer.message), "the plugin says, in English: " + answer.message);
    await waitMsg(page, "Meinten Sie jane@gmail.com?");  // data-text-didyoumean on the tag
    check(!(await msgText(page)).includes("Did you mean"), "English shown: " + (await msgText(page)));
    await page.fill("#email", "");
    answer = await typeAndLeave(page, "throwaway@mailinator.com");
    check(answer.reason === "disposable" && answer.message === "Disposable email addresses are not accepted.",
      "the plugin's answer: " + answer.reason + ", " + answer.message);
    await waitMsg(page, "Wegwerfadressen nehmen wir nicht an.");   // data-text-disposable on the tag
    check((await msgText(page)) === "Wegwerfadressen nehmen wir nicht an.", "shown: " + (await msgText(page)));
    await shot("translated");
    await page.fill("#email", "");
    answer = await typeAndLeave(page, "nobody@ok.test");
    check(answer.action === "block" && answer.reason === "rejected_email" && answer.message,
      "the plugin's answer: " + answer.reason + ", " + answer.message);
    await waitMsg(page, "Diese Adresse geht hier nicht.");          // the field's data-mailverify-text-block
    check((await msgText(page)) === "Diese Adresse geht hier nicht.", "shown: " + (await msgText(page)));
  },

  // the plugin is stopped (nginx answers 502): the form submits as usual
  async down(page, shot) {
    const seen = traffic(page);
    await fill(page, "bob@ok.test");
    await page.click("button[type=submit]");
    await submitted(page, seen);
    check(seen.verify.length >= 1, "the page did try the endpoint");
    await shot("down");
  },
};

for (const name of ["controlled_fix", "verdict_event", "translated"]) scenarios[name].page = CONTROLLED;

(async () => {
  const t0 = Date.now();
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  console.log("chromium %s launched in %ss", browser.version(), ((Date.now() - t0) / 1000).toFixed(2));
  let failed = 0;
  for (const name of names) {
    const ctx = await browser.newContext({ viewport: { width: 640, height: 720 } });
    const page = await ctx.newPage();
    const shot = (n) => page.screenshot({ path: path.join(artifacts, n + ".png"), fullPage: true });
    const t = Date.now();
    try {
      await page.goto(new URL(scenarios[name].page || "", url).href);
      await page.waitForFunction(() => document.querySelector(".mv-msg"));   // the script is in
      await scenarios[name](page, shot);
      console.log("ok %s %ss", name, ((Date.now() - t) / 1000).toFixed(2));
    } catch (e) {
      failed++;
      await shot(name + "-FAILED").catch(() => {});
      console.log("FAIL %s: %s", name, e.message.split("\n")[0]);
    }
    await ctx.close();
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log("FAIL browser: %s", e.message);
  process.exit(1);
});
