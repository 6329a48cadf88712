/*! SPDX-License-Identifier: MIT */
/*! mailverify.js - email address checks for any form, answered by
 * mailverify.fcgi (POST /verify). No dependencies, no build step.
 *
 * One tag enhances every <input type="email"> once the page has loaded:
 *   <script src="/mailverify.js" data-endpoint="/verify" defer></script>
 * or, without data-endpoint on the tag, call it yourself (again for
 * fields added later; a field is never enhanced twice):
 *   <script>MailVerify.init({ endpoint: "/verify" });</script>
 *
 * Options (data-* attributes of the tag, or keys of init's object):
 *   endpoint  the /verify URL: same origin, or an origin listed in the
 *             plugin's fastcgi.cors_origins
 *   selector  the fields to enhance (default input[type=email]); a field
 *             with data-mailverify="off" is left alone
 *   delay     ms of typing pause before a check (default 800)
 *   timeout   ms to wait for an answer before giving up (default 3000)
 *   text      the page's own strings: TEXT's keys below, and the
 *             plugin's reason identifiers (disposable, rejected_email...)
 *             for the message of an answer; on the tag, one attribute
 *             each: data-text-KEY="..."
 * A field's data-mailverify-msg="ID" names an element of the page to hold
 * its messages; otherwise one is inserted right after the field. Its
 * data-mailverify-text-KEY="..." attributes are its own strings, before
 * the tag's and init's.
 *
 * An answer's message is, first found: the page's text for its reason,
 * the page's block or warn (tempfail: warn), the plugin's message (in
 * English), TEXT's block or warn. So a translated page shows its own
 * language, and the plugin's text only where the page has none.
 *
 * What the person filling in the form sees: a quick local syntax hint
 * (no network); after a pause or on leaving the field, the server's
 * message; "Did you mean ...?" as a button that fixes the field; on
 * submit, a refused address (action block) stops the form, a warning
 * (warn, tempfail) stops it once so it is read, anything else goes.
 * The script never stands in the way by itself: an unreachable or slow
 * endpoint, an error status or a "pending" verdict lets the form submit.
 *
 * CSS hooks (the script sets no styles; all are optional):
 *   .mv-msg       the message element (aria-live="polite")
 *   .mv-checking, .mv-ok, .mv-warn, .mv-block
 *                 the field's state, on the field and on its .mv-msg
 *   .mv-suggest   the suggestion button inside .mv-msg
 *   form.mv-busy  a submit is waiting for a check
 * The field also gets aria-invalid="true" when its address is refused,
 * and aria-describedby naming its message element.
 *
 * Events: after showing the plugin's answer, the field fires
 * "mailverify:verdict" (a CustomEvent that bubbles); its detail has the
 * answer's status, reason, action, suggestion and pending, the message as
 * shown, the address checked, the field, and the whole answer.
 */
(function () {
  "use strict";

  var TEXT = {
    syntax: "Please enter an email address like name@example.com.",
    spaces: "An email address cannot contain spaces.",
    dot: "The part after the @ needs a dot, as in example.com.",
    checking: "Checking the address\u2026",
    didYouMean: "Did you mean {}?",
    warn: "Please check this address.",
    block: "This address cannot be used here."
  };
  var STATES = ["checking", "ok", "warn", "block"];
  var fields = new WeakMap();       // input -> its state
  var passing = new WeakSet();      // forms being resubmitted by us
  var listening = false;
  var serial = 0;

  // Deliberately looser than the server's parser (tests/cases/addresses.tsv:
  // quoted local parts with spaces, [address literals], ideographic dots,
  // <brackets>): a hint must never refuse what the server would take.
  function syntax(v, text) {
    text = text || TEXT;
    var at = v.lastIndexOf("@");
    var local = v.slice(0, at), domain = v.slice(at + 1);
    if (at < 1 || !domain) return text.syntax;
    if (/[ \t\r\n]/.test(domain + local.replace(/"(?:[^"\\]|\\.)*"/g, ""))) return text.spaces;
    if (!/^\[|[.\u3002\uff0e\uff61]/.test(domain)) return text.dot;
    return "";
  }

  // A settled answer, or null for "no usable answer" (fail open). Form
  // encoding keeps the request "simple" for CORS: no preflight round trip.
  function ask(opt, v) {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer;
    var late = new Promise(function (resolve) {
      timer = setTimeout(function () { if (ctl) ctl.abort(); resolve(null); }, opt.timeout);
    });
    var answer = fetch(opt.endpoint, {
      method: "POST",
      body: new URLSearchParams({ email: v }),
      headers: { Accept: "application/json" },
      signal: ctl ? ctl.signal : undefined
    }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (j) {
      return j && typeof j.action === "string" ? j : null;
    }, function () { return null; });
    return Promise.race([answer, late]).then(function (j) {
      clearTimeout(timer);
      return j;
    });
  }

  // One request per distinct value, remembered (failures too, so a down
  // endpoint costs the waiting once, not on every submit).
  function verify(st, v) {
    var c = st.cache.get(v);
    if (c) return c.promise;
    if (st.cache.size > 50) st.cache.clear();
    c = { settled: false, result: null };
    c.promise = ask(st.opt, v).then(function (res) {
      c.settled = true;
      c.result = res;
      return res;
    });
    st.cache.set(v, c);
    return c.promise;
  }

  function value(st) { return st.input.value.trim(); }

  // Set the field as typing would. React keeps its own "value" property on
  // the element (inputValueTracking) that records what a script sets, and
  // reports onChange only when the value differs from the recorded one:
  // after input.value = v the input event looks like no change, the
  // component's state keeps the old address and its next render puts it
  // back. The prototype's setter changes the value without telling it.
  function setValue(input, v) {
    var proto = Object.getPrototypeOf(input), d;
    while (proto && !(d = Object.getOwnPropertyDescriptor(proto, "value"))) proto = Object.getPrototypeOf(proto);
    if (d && d.set) d.set.call(input, v);
    else input.value = v;
  }

  // The page's strings from attributes PREFIX + KEY of el. Attribute names
  // are lower case: data-text-didyoumean is didYouMean.
  function attrTexts(el, prefix) {
    var out = {};
    if (!el) return out;
    Array.prototype.forEach.call(el.attributes, function (a) {
      if (a.name.indexOf(prefix) !== 0 || a.name.length === prefix.length) return;
      var k = a.name.slice(prefix.length);
      Object.keys(TEXT).forEach(function (t) { if (t.toLowerCase() === k) k = t; });
      out[k] = a.value;
    });
    return out;
  }

  // An answer's message: the page's own words win over the plugin's
  // English; the plugin's only where the page has none for this answer.
  function message(st, res) {
    var act = res.action === "block" ? "block" : "warn";
    var mine = function (k) { return Object.prototype.hasOwnProperty.call(st.own, k) && st.own[k]; };
    return mine(res.reason) || mine(act) || res.message || st.text[act];
  }

  // Tell the page what was shown, for its own reactions (analytics, a
  // submit button of its own, a framework's state).
  function announce(st, v, res) {
    var detail = {
      status: res.status, reason: res.reason, action: res.action,
      suggestion: res.suggestion || null, pending: !!res.pending,
      message: st.msg.textContent, address: v, field: st.input, answer: res
    };
    st.input.dispatchEvent(new CustomEvent("mailverify:verdict", { bubbles: true, detail: detail }));
  }

  function show(st, state, text, suggestion) {
    var input = st.input, msg = st.msg, t = st.text;
    STATES.forEach(function (s) {
      input.classList.toggle("mv-" + s, s === state);
      msg.classList.toggle("mv-" + s, s === state);
    });
    if (state === "block") input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    msg.textContent = text || "";
    if (!suggestion) return;
    // the server's message may end with the same question (in English):
    // ask it once, as a button
    [TEXT.didYouMean, t.didYouMean].forEach(function (d) {
      var q = d.split("{}").join(suggestion), m = msg.textContent;
      if (m.slice(-q.length) === q) msg.textContent = m.slice(0, -q.length).trim();
    });
    var parts = t.didYouMean.split("{}");
    var btn = document.createElement("button");
    btn.type = "button";            // inside a form, a plain button would submit it
    btn.className = "mv-suggest";
    btn.textContent = suggestion;
    btn.addEventListener("click", function () {
      setValue(input, suggestion);
      // let other scripts (and frameworks' bindings) see the change
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();                // the button disappears: keep keyboard users in place
      check(st);
    });
    if (msg.textContent) msg.appendChild(document.createTextNode(" "));
    msg.appendChild(document.createTextNode(parts[0]));
    msg.appendChild(btn);
    msg.appendChild(document.createTextNode(parts.slice(1).join("")));
  }

  function render(st, v, res) {
    st.shown = v;
    // still being verified: nothing is known against the address, but a
    // typo found offline is worth a word (it never stops the form)
    if (res && res.pending && res.suggestion) {
      show(st, "", "", res.suggestion);
      announce(st, v, res);
      return;
    }
    if (!res || res.pending || (res.action !== "block" && res.action !== "warn" && res.action !== "tempfail")) {
      show(st, res && !res.pending && res.action === "accept" ? "ok" : "", "");
      if (res) announce(st, v, res);
      return;
    }
    show(st, res.action === "block" ? "block" : "warn", message(st, res), res.suggestion);
    announce(st, v, res);
    // when it first appeared: a warning counts as read only after SEEN_MS
    if (st.seen !== v) {
      st.seen = v;
      st.seenAt = Date.now();
    }
  }

  // The local hint first; the server only for what could be an address.
  function check(st) {
    clearTimeout(st.timer);
    var v = value(st);
    if (!v) {
      st.shown = "";
      show(st, "", "");
      return Promise.resolve(null);
    }
    var bad = syntax(v, st.text);
    if (bad) {
      st.shown = v;
      show(st, "block", bad);
      return Promise.resolve({ action: "block" });
    }
    var c = st.cache.get(v);
    // re-rendering an unchanged answer would replace the suggestion button
    // between the mousedown (which blurs the field) and the click
    if (st.shown === v && c && c.settled) return c.promise;
    if (!(c && c.settled)) show(st, "checking", "");
    return verify(st, v).then(function (res) {
      if (value(st) === v) render(st, v, res);
      return res;
    });
  }

  function onInput(st) {
    clearTimeout(st.timer);
    var v = value(st);
    if (v === st.shown) return;
    var bad = v && syntax(v, st.text);
    // a new error is not shown mid-word; an error being fixed updates at once
    if (bad && st.input.getAttribute("aria-invalid") === "true") {
      st.shown = v;
      show(st, "block", bad);
    } else {
      st.shown = "";
      show(st, "", "");
    }
    if (v && !bad) st.timer = setTimeout(function () { check(st); }, st.opt.delay);
  }

  // A warning stops one submit, so that it is read. The blur of the click
  // on the submit button starts a check that can answer between the
  // button's mousedown and its click: shown for a few milliseconds, it has
  // not been read, and must still stop the submit.
  var SEEN_MS = 300;
  function readBefore(st, v) {
    return st.seen === v && Date.now() - st.seenAt >= SEEN_MS;
  }

  function stops(res, seenBefore) {
    if (!res || res.pending) return false;
    return res.action === "block" ||
      ((res.action === "warn" || res.action === "tempfail") && !seenBefore);
  }

  function onSubmit(e) {
    var form = e.target;
    if (passing.has(form)) return;
    var list = Array.prototype.filter.call(form.elements || [], function (el) {
      return fields.has(el) && value(fields.get(el));
    }).map(function (el) { return fields.get(el); });
    if (!list.length) return;
    if (form.classList.contains("mv-busy")) {   // a check is running; its end submits
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    var waiting = false;
    var plan = list.map(function (st) {
      var v = value(st), c = st.cache.get(v);
      var local = syntax(v, st.text);
      var known = local ? { action: "block" } : c && c.settled ? c.result : undefined;
      if (known === undefined) waiting = true;
      return { st: st, v: v, seen: readBefore(st, v), known: known };
    });
    if (!waiting) {
      // every answer is at hand: decide now and leave the event alone when it goes
      var stop = plan.filter(function (p) { return stops(p.known, p.seen); });
      if (!stop.length) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      plan.forEach(function (p) { check(p.st); });   // shows what is not on screen yet
      stop[0].st.input.focus();
      return;
    }
    // Hold this submit (and hide it from the page's own handlers); when
    // the checks are in (at most the timeout), submit again or stop.
    e.preventDefault();
    e.stopImmediatePropagation();
    var submitter = e.submitter;
    form.classList.add("mv-busy");
    Promise.all(plan.map(function (p) {
      var done = check(p.st).then(function (res) { p.known = res; });
      if (p.known === undefined) show(p.st, "checking", p.st.text.checking);
      return done;
    })).then(function () {
      form.classList.remove("mv-busy");
      var stop = plan.filter(function (p) {
        return value(p.st) !== p.v || stops(p.known, p.seen);
      });
      if (stop.length) {
        stop[0].st.input.focus();
        return;
      }
      passing.add(form);
      try {
        if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
        else form.submit();
      } finally {
        passing.delete(form);
      }
    });
  }

  function enhance(input, opt) {
    if (fields.has(input) || input.getAttribute("data-mailverify") === "off") return;
    var msg = document.getElementById(input.getAttribute("data-mailverify-msg") || "");
    if (!msg) {
      msg = document.createElement("div");
      input.insertAdjacentElement("afterend", msg);
    }
    if (!msg.id) msg.id = "mv-msg-" + ++serial;
    msg.classList.add("mv-msg");
    msg.setAttribute("aria-live", "polite");
    var by = input.getAttribute("aria-describedby");
    if (!by || by.split(/\s+/).indexOf(msg.id) < 0) input.setAttribute("aria-describedby", (by ? by + " " : "") + msg.id);
    var own = Object.assign({}, opt.own, attrTexts(input, "data-mailverify-text-"));
    var st = { input: input, msg: msg, opt: opt, text: Object.assign({}, TEXT, own), own: own,
               cache: new Map(), timer: 0, shown: "", seen: null, seenAt: 0 };
    fields.set(input, st);
    input.addEventListener("input", function () { onInput(st); });
    input.addEventListener("blur", function () { check(st); });
  }

  function init(options) {
    options = options || {};
    var opt = { endpoint: "/verify", selector: "input[type=email]", delay: 800, timeout: 3000 };
    Object.keys(opt).forEach(function (k) {
      if (options[k] !== undefined && options[k] !== "" && !(typeof opt[k] === "number" && isNaN(+options[k]))) {
        opt[k] = typeof opt[k] === "number" ? +options[k] : options[k];
      }
    });
    opt.own = Object.assign({}, options.text);   // what the page said, apart from TEXT
    Array.prototype.forEach.call(document.querySelectorAll(opt.selector), function (input) {
      enhance(input, opt);
    });
    if (!listening) {
      // capture on the document: before the page's own submit handlers,
      // and for forms added later too
      document.addEventListener("submit", onSubmit, true);
      listening = true;
    }
  }

  window.MailVerify = { init: init, syntax: function (v) { return syntax(String(v).trim()); } };

  var me = document.currentScript;
  if (me && me.hasAttribute("data-endpoint")) {
    var o = {
      endpoint: me.getAttribute("data-endpoint"),
      selector: me.getAttribute("data-selector") || undefined,
      delay: me.getAttribute("data-delay") || undefined,
      timeout: me.getAttribute("data-timeout") || undefined,
      text: attrTexts(me, "data-text-")
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(o); });
    else init(o);
  }
})();
