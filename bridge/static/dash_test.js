// Shared by the dashboard's scripts (loaded before them): a DOM builder, money as the pages
// show it, and the Test panel (POST /api/rules/test): a message and a lead state in, for every
// rule whether it fires and the condition trace that decided it. The editor tests its draft;
// the Rules screen tests every stored rule.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "checked" || key === "disabled" || key === "selected") { node[key] = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function rupiah(value) {
    // As the pages show money (bridge/http/money.py): "Rp 1.500.000", decimals after a comma.
    var amount = Number(value);
    if (!isFinite(amount)) { return String(value); }
    var cents = Math.round(Math.abs(amount) * 100);
    var text = String(Math.floor(cents / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    if (cents % 100) { text += "," + String(cents % 100 + 100).slice(1); }
    return (amount < 0 && cents ? "-" : "") + "Rp " + text;
  }

  function traceList(node) {
    var list = el("ul", {"class": "trace"});
    (node.children || []).forEach(function (child) {
      var item;
      if (child.kind === "leaf") {
        item = el("li", {"class": child.passed ? "pass" : "fail"}, [
          el("span", {"class": "mark", text: child.passed ? "✓ " : "✗ "}),
          el("span", {text: child.label + " " + (child.op_label || child.op) + " " + JSON.stringify(child.expected) +
            " — " + window.wabridge.format(_("saw {value}"), {value: JSON.stringify(child.seen)}) +
            (child.error ? " (" + window.wabridge.format(_("error: {error}"), {error: child.error}) + ")" : "")})
        ]);
      } else {
        var group = {all: _("All of these"), any: _("Any of these"), not: _("Not this")}[child.kind] || child.kind;
        item = el("li", {"class": child.passed ? "pass" : "fail"}, [
          el("span", {text: (child.passed ? "✓ " : "✗ ") + group}), traceList(child)]);
      }
      list.appendChild(item);
    });
    return list;
  }

  function showVerdicts(out, data, named) {
    data.rules.forEach(function (item) {
      var verdict = el("div", {"class": "verdict " + (item.fired ? "fires" : "no")}, [
        named ? el("span", {"class": "verdict-rule", text: item.rule + ": "}) : null,
        el("strong", {text: item.fired ? _("Fires") : _("Does not fire")}),
        el("span", {text: " — " + (item.reason_text || item.reason)})
      ]);
      out.appendChild(verdict);
      if (item.conditions) { out.appendChild(traceList(item.conditions)); }
      (item.notes_text || item.notes || []).forEach(function (note) {  // notes_text: in the page's language
        out.appendChild(el("p", {"class": "muted small", text: "→ " + note}));
      });
    });
    var before = data.lead_before, after = data.lead_after;
    out.appendChild(el("p", {"class": "lead-after", text: window.wabridge.format(_("Lead after: status {before} → {after}"),
      {before: before.status, after: after.status}) + (after.value_actual !== null
      ? ", " + window.wabridge.format(_("value {amount}"), {amount: rupiah(after.value_actual)}) : "")}));
  }

  // Wire the panel (templates/_test_panel.html). `options.draft()` returns the rule to test, or
  // null for every stored rule; `options.onRuleError(path, message)` shows an error in the draft.
  function testPanel(options) {
    var button = document.getElementById("run-test");
    if (!button) { return; }
    button.addEventListener("click", function () {
      if (options.before) { options.before(); }
      var out = document.getElementById("test-result");
      out.textContent = _("Testing…");
      var draft = options.draft ? options.draft() : null;
      var body = {
        text: document.getElementById("test-text").value,
        status: document.getElementById("test-status").value,
        sender_type: document.getElementById("test-sender").value,
        chat_count: Number(document.getElementById("test-count").value || 0)
      };
      if (draft) { body.rule = draft; }
      fetch("/api/rules/test", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json"}, body: JSON.stringify(body)})
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            out.textContent = "";
            if (response.ok) { showVerdicts(out, data, !draft); return; }
            var error = data.error || {message: window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status})};
            var said = error.message_text || error.message;  // message_text: in the page's language
            out.appendChild(el("p", {"class": "alert", text: said}));
            if (options.onRuleError && error.field && error.field.indexOf("rule.") === 0) {
              options.onRuleError(error.field.slice(5), said.slice(error.field.length + 2));
            }
          });
        }, function () { out.textContent = _("The server did not answer. Is wabridge running?"); });
    });
  }

  window.wabridgeDash = {el: el, rupiah: rupiah, testPanel: testPanel};
}());
