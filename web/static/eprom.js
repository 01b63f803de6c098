// ePROM patient pages: optional help. Shows and hides follow-up questions at
// once (the server decides again on every post), keeps "none of these"
// exclusive, saves the page while the patient works, and moves focus to an
// error summary. Everything works without it.
(function () {
  "use strict";
  var form = document.querySelector("form.questions");
  var summary = document.getElementById("errors");
  var jumped = false;
  if (summary) {
    summary.focus();
    // A link in the summary puts the cursor in the field, with its
    // question in view (a jump to the fragment alone would not).
    summary.addEventListener("click", function (e) {
      var a = e.target.closest ? e.target.closest("a[href^='#']") : null;
      if (!a) return;
      var el = document.getElementById(a.getAttribute("href").slice(1));
      if (!el) return;
      e.preventDefault();
      var box = el.closest ? el.closest(".item, .review-row") : null;
      (box || el).scrollIntoView({ block: "start" });
      if (el.focus) el.focus({ preventScroll: true });
      // The Enter that followed the link now lands in the field, where it
      // would send the form: it is swallowed.
      jumped = true;
      setTimeout(function () { jumped = false; }, 500);
    });
    document.addEventListener("keypress", function (e) {
      if (jumped && e.key === "Enter") e.preventDefault();
      jumped = false;
    }, true);
  }
  if (!form) return;
  // Arriving from "Change" or a summary link on the review page: the
  // cursor goes to the field named in the address.
  if (location.hash.length > 1 && !summary) {
    var field = document.getElementById(location.hash.slice(1));
    if (field && field.focus && /^(INPUT|TEXTAREA|SELECT)$/.test(field.tagName)) field.focus();
  }
  // The address to post to. Not form.action: a control named "action" (the
  // buttons) shadows that property, and the post would go to
  // "/[object RadioNodeList]".
  var target = form.getAttribute("action") || location.pathname;
  // Tells the server that follow-ups were shown at once, as they were seen.
  var js = document.createElement("input");
  js.type = "hidden"; js.name = "js"; js.value = "1";
  form.appendChild(js);

  function values(name) {
    var out = [];
    var els = form.elements[name];
    if (!els) return out;
    if (els.length === undefined || els.tagName === "SELECT") els = [els];
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
      var v = (el.value || "").trim();
      if (v !== "") out.push(v);
    }
    return out;
  }

  // A question not on the page at all was hidden by the server: its
  // conditions are false, as they are there.
  function shown(link) {
    var el = form.querySelector('[data-link="' + link + '"]');
    if (!el) return false;
    for (; el && el !== form; el = el.parentElement) if (el.hidden) return false;
    return true;
  }

  function num(s) { return parseFloat(String(s).replace(",", ".")); }

  function compare(op, got, want) {
    var a = got, b = want;
    if (typeof want === "number") { a = num(got); b = want; if (isNaN(a)) return false; }
    else if (typeof want === "boolean") { a = got === "true"; }
    switch (op) {
      case "=": return a === b;
      case ">": return a > b;
      case "<": return a < b;
      case ">=": return a >= b;
      case "<=": return a <= b;
    }
    return false;
  }

  function holds(c) {
    if (c.k !== undefined) return c.k;
    if (!shown(c.q)) return false;
    var vals = values(c.q);
    if (c.op === "exists") return (vals.length > 0) === c.v;
    if (vals.length === 0) return false;
    if (c.op === "!=") return !vals.some(function (v) { return compare("=", v, c.v); });
    return vals.some(function (v) { return compare(c.op, v, c.v); });
  }

  var items = form.querySelectorAll("[data-when]");
  function update() {
    for (var i = 0; i < items.length; i++) {
      var w = JSON.parse(items[i].getAttribute("data-when"));
      var r = w.any ? w.c.some(holds) : w.c.every(holds);
      items[i].hidden = !r;
    }
  }

  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t.type === "checkbox" && t.checked) {
      var group = form.querySelectorAll('input[type=checkbox][name="' + t.name + '"]');
      for (var i = 0; i < group.length; i++) {
        if (group[i] === t) continue;
        if (t.hasAttribute("data-exclusive") || group[i].hasAttribute("data-exclusive")) group[i].checked = false;
      }
    }
    update();
    schedule();
  });
  // Writing one's own answer to a single choice takes back the option
  // ticked: one answer is taken, and the server would ask which.
  form.addEventListener("input", function (e) {
    var t = e.target;
    if (t.classList && t.classList.contains("other") && t.value.trim() !== "") {
      var radios = form.querySelectorAll('input[type=radio][name="' + t.name.replace(/:other$/, "") + '"]');
      for (var i = 0; i < radios.length; i++) radios[i].checked = false;
      update();
    }
    schedule();
  });
  update();

  // An error answered: its red marks and its line in the summary go, so
  // what is left on the page is what is still wrong. The server checks
  // again on the next post.
  function settle(e) {
    var item = e.target.closest ? e.target.closest(".item.has-error") : null;
    if (!item) return;
    item.classList.remove("has-error");
    var msg = item.querySelector(".error");
    if (msg) msg.hidden = true;
    var bad = item.querySelectorAll("[aria-invalid]");
    for (var i = 0; i < bad.length; i++) bad[i].removeAttribute("aria-invalid");
    // Screen readers no longer read the message that was hidden.
    var described = item.querySelectorAll("[aria-describedby]");
    for (var k = 0; k < described.length; k++) {
      var ids = described[k].getAttribute("aria-describedby").split(" ").filter(function (id) { return !msg || id !== msg.id; });
      if (ids.length) described[k].setAttribute("aria-describedby", ids.join(" "));
      else described[k].removeAttribute("aria-describedby");
    }
    if (!summary) return;
    var links = summary.querySelectorAll("a[href^='#']");
    for (var j = 0; j < links.length; j++) {
      var target = document.getElementById(links[j].getAttribute("href").slice(1));
      if (target && item.contains(target)) links[j].parentNode.parentNode.removeChild(links[j].parentNode);
    }
    if (!summary.querySelector("li")) {
      summary.hidden = true;
      if (summary.getAttribute("data-title")) document.title = summary.getAttribute("data-title");
    }
  }
  form.addEventListener("change", settle);
  form.addEventListener("input", settle);

  var timer = null, dirty = false;
  var warning = document.querySelector(".save-error");
  var lost = document.querySelector(".session-lost");
  function schedule() {
    if (!form.hasAttribute("data-autosave") || !window.fetch || !window.FormData || !window.URLSearchParams) return;
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  }
  // Every post carries the moment it was made, so that an autosave still
  // on its way when the patient presses Next cannot undo what Next saved.
  var stamp = document.createElement("input");
  stamp.type = "hidden"; stamp.name = "at";
  form.appendChild(stamp);
  function body() {
    stamp.value = String(Date.now());
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "autosave");
    return data;
  }
  function warn(failed) { if (warning) warning.hidden = !failed; }
  function save() {
    dirty = false;
    fetch(target, { method: "POST", body: body(), credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        // The session has ended (idle too long), the page is too old, or the
        // form was closed: trying again cannot help, and the patient must know.
        if (r.status === 401 || r.status === 403 || r.status === 410) {
          warn(false);
          if (lost) lost.hidden = false;
          return;
        }
        warn(r.status !== 204);
        if (r.status !== 204) retry();
      })
      .catch(function () { warn(true); retry(); });
  }
  // Not saved (offline, the server away): try again in a while, until it
  // works or the patient moves on.
  function retry() {
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(save, 5000);
  }
  // Leaving the page (another app, a closed tab): save what is not saved.
  function flush() {
    if (!dirty || !navigator.sendBeacon) return;
    dirty = false;
    clearTimeout(timer);
    navigator.sendBeacon(target, new Blob([body().toString()], { type: "application/x-www-form-urlencoded" }));
  }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  form.addEventListener("submit", function () { dirty = false; clearTimeout(timer); stamp.value = String(Date.now()); });
})();
