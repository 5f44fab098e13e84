// The lead page's reply box: POST /api/messages (one Idempotency-Key per message typed, so a
// double click cannot send twice), then follow the message until it is sent or failed.
(function () {
  "use strict";
  var form = document.getElementById("reply-form");
  if (!form) { return; }
  var box = document.getElementById("reply");
  var text = document.getElementById("reply-text");
  var number = document.getElementById("reply-number");
  var button = document.getElementById("reply-send");
  var state = document.getElementById("reply-state");
  var key = null;
  function said(value) {
    return {queued: _("queued"), sent: _("sent"), failed: _("failed")}[value] || value;
  }
  function newKey() {
    return "lead-page-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }
  text.addEventListener("input", function () { key = null; });
  function follow(id, tries) {
    fetch("/api/messages/" + id, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (message) {
        state.textContent = message.state === "failed" ?
          window.wabridge.format(_("Failed: {reason}"), {reason: message.reason}) : said(message.state);
        if (message.state !== "queued" || tries <= 0) { window.location.reload(); return; }
        window.setTimeout(function () { follow(id, tries - 1); }, 500);
      }, function () { window.location.reload(); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!text.value.trim()) { state.textContent = _("Type a message first."); return; }
    key = key || newKey();
    button.disabled = true;
    state.textContent = _("Sending…");
    fetch("/api/messages", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "Idempotency-Key": key, "X-Wabridge-Origin": "dashboard"},
      body: JSON.stringify({to: box.getAttribute("data-phone"), text: text.value, number: number.value})
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          state.textContent = (body && body.error && body.error.message) ||
            window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status});
          button.disabled = false;
          return;
        }
        state.textContent = said(body.state);
        follow(body.id, 40);
      });
    }, function () {
      state.textContent = _("The server did not answer. Is wabridge running?");
      button.disabled = false;
    });
  });
}());
