// Rules screen: toggles, move up/down, delete, templates modal, TOML import (reloads after a change),
// and the Test panel over every stored rule.
(function () {
  "use strict";
  var list = document.getElementById("rules");

  function showError(text) {
    var box = document.getElementById("dash-error");
    box.textContent = text; box.hidden = false;
    box.scrollIntoView({block: "nearest"});
  }

  function send(method, url, body, contentType) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": contentType || "application/json", "Accept": "application/json"},
      body: body === undefined ? undefined : (contentType ? body : JSON.stringify(body))
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error((data.error && (data.error.message_text || data.error.message)) || window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status}));
        }
        return data;
      });
    });
  }

  function done() { window.location.reload(); }
  function failed(error) { showError(error.message || String(error)); }

  function ruleOf(item) {
    return JSON.parse(item.querySelector(".rule-json").textContent);
  }

  if (list) {
    list.addEventListener("change", function (event) {
      var box = event.target.closest("input[data-flag]");
      if (!box) { return; }
      var item = box.closest("[data-rule-id]");
      var rule = ruleOf(item);
      rule[box.getAttribute("data-flag")] = box.checked;
      delete rule.id;
      box.disabled = true;
      send("PUT", "/api/rules/" + item.getAttribute("data-rule-id"), rule).then(done, function (error) {
        box.checked = !box.checked; box.disabled = false; failed(error);
      });
    });
    list.addEventListener("click", function (event) {
      var item = event.target.closest("[data-rule-id]");
      if (!item) { return; }
      var move = event.target.closest("button[data-move]");
      if (move) {
        var ids = Array.prototype.map.call(list.querySelectorAll("[data-rule-id]"), function (li) {
          return Number(li.getAttribute("data-rule-id"));
        });
        var at = ids.indexOf(Number(item.getAttribute("data-rule-id")));
        var to = move.getAttribute("data-move") === "up" ? at - 1 : at + 1;
        if (to < 0 || to >= ids.length) { return; }
        ids[at] = ids[to]; ids[to] = Number(item.getAttribute("data-rule-id"));
        move.disabled = true;
        send("POST", "/api/rules/order", {ids: ids}).then(done, failed);
        return;
      }
      if (event.target.closest("button[data-delete]")) {
        if (!window.confirm(window.wabridge.format(_("Delete the rule \u201c{name}\u201d?"), {name: ruleOf(item).name}))) { return; }
        send("DELETE", "/api/rules/" + item.getAttribute("data-rule-id")).then(done, failed);
      }
    });
  }

  var dialog = document.getElementById("templates-dialog");
  document.getElementById("open-templates").addEventListener("click", function () { dialog.showModal(); });
  document.getElementById("close-templates").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-install]");
    if (!button) { return; }
    button.disabled = true;
    send("POST", "/api/rules/templates/install", {slugs: [button.getAttribute("data-install")]}).then(function () {
      button.textContent = _("Installed") + " \u2713";
      button.classList.add("installed");
      dialog.addEventListener("close", done, {once: true});
    }, function (error) { button.disabled = false; dialog.close(); failed(error); });
  });

  document.getElementById("import-toml").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) { return; }
    file.text().then(function (text) {
      return send("POST", "/api/rules/import", text, "application/toml");
    }).then(done, failed);
  });

  // Test all rules (static/dash_test.js): no draft, so every stored rule is tried.
  wabridgeDash.testPanel({draft: null});
}());
