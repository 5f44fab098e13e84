// Numbers screen: keeps every number's state live (polls GET /api/sessions, which carries the
// server's own state_words / reason_words) and runs Re-pair (log out, new QR round, pairing page).
(function () {
  "use strict";
  var list = document.getElementById("numbers");
  var offline = document.getElementById("numbers-offline");
  var every = list ? (parseInt(list.getAttribute("data-poll-ms"), 10) || 3000) : 3000;
  var timer = null;
  var busy = false;

  function showError(text) {
    var box = document.getElementById("dash-error");
    if (box) { box.textContent = text; box.hidden = false; } else { window.alert(text); }
  }

  // The server's form (bridge.i18n): "6 Dec 2026 10:37 WIB"; /api/sessions carries the workspace's offset.
  var when = window.wabridge.when;

  function setText(item, selector, text) {
    var node = item.querySelector(selector);
    if (node && node.textContent !== text) { node.textContent = text; }
  }

  function apply(session) {
    var item = list.querySelector('[data-number="' + session.number + '"]');
    if (!item) { return; }
    item.setAttribute("data-state", session.state);
    var dot = item.querySelector(".dot");
    if (dot) { dot.setAttribute("data-state", session.state); }
    setText(item, ".state-text", session.state_words || session.state);
    setText(item, ".reason-text", session.reason_words ? " — " + session.reason_words : "");
    setText(item, ".last-message", when(session.last_message_at));
    var history = item.querySelector(".history-line");
    if (history) {  // the phone's history sync, as the server words it
      history.hidden = !session.history;
      setText(item, ".history-text", session.history ? session.history.words : "");
    }
    var push = item.querySelector(".push-name");
    if (push) {
      push.hidden = !session.push_name;
      setText(item, ".push-name-text", session.push_name || "");
    }
    item.querySelectorAll(".actions[data-states]").forEach(function (box) {  // the groups name their states
      box.hidden = box.getAttribute("data-states").split(" ").indexOf(session.state) < 0;
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = document.hidden ? null : window.setTimeout(poll, every);
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    fetch("/api/sessions", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }  // logged out: to the login page
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (sessions) {
        if (!sessions) { return; }
        if (offline) { offline.hidden = true; }
        sessions.forEach(apply);
      })
      .catch(function () { if (offline) { offline.hidden = false; } })
      .then(function () { busy = false; schedule(); });
  }

  function post(path) {
    return fetch(path, {
      method: "POST", credentials: "same-origin", body: "{}",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-Requested-With": "fetch"}
    });
  }

  function failure(response) {
    return response.json().then(function (body) {
      return (body && body.error && body.error.message) || window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status});
    }, function () { return window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status}); });
  }

  // Re-pair: after the confirm, log the linked phone out, start a new QR round, show the pairing page.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-repair]");
    if (!button) { return; }
    if (!window.confirm(button.getAttribute("data-confirm"))) { return; }
    var number = encodeURIComponent(button.getAttribute("data-repair"));
    button.disabled = true;
    post("/api/sessions/" + number + "/logout").then(function (response) {
      if (!response.ok) {
        return failure(response).then(function (text) { showError(text); button.disabled = false; });
      }
      // If the new round does not start, the pairing page says so and offers "Restart pairing".
      return post("/api/sessions/" + number + "/restart").catch(function () { return null; }).then(function () {
        window.location.assign("/pair/" + number);
      });
    }).catch(function () {
      showError(_("The server did not answer. Is wabridge running?"));
      button.disabled = false;
    });
  });

  if (list) {
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
    schedule();
  }
}());
