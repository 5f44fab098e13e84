// The Webhooks screen: add a subscription (JSON POST), remove one (DELETE); errors name the field.
(function () {
  "use strict";
  function showError(text) {
    var box = document.getElementById("dash-error");
    box.textContent = text; box.hidden = false;
  }
  function send(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return; }
      return response.json().then(function (answer) {
        showError((answer && answer.error && answer.error.message) ||
          window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status}));
      }, function () { showError(window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status})); });
    }, function () { showError(_("The server did not answer. Is wabridge running?")); });
  }
  var form = document.getElementById("add-subscription");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var body = {name: data.get("name"), url: data.get("url"), events: data.getAll("events")};
      if (data.get("secret")) { body.secret = data.get("secret"); }
      if (data.getAll("numbers").length) { body.numbers = data.getAll("numbers"); }
      send("POST", "/api/subscriptions", body);
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-delete]");
    if (!button) { return; }
    var question = button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { return; }
    send("DELETE", button.getAttribute("data-delete"));
  });
}());
