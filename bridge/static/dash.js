// Dashboard buttons: <button data-post="/api/..." data-confirm="..."> posts, then reloads the page.
(function () {
  "use strict";
  function showError(text) {
    var box = document.getElementById("dash-error");
    if (box) { box.textContent = text; box.hidden = false; } else { window.alert(text); }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-post]");
    if (!button) { return; }
    var question = button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { return; }
    button.disabled = true;
    fetch(button.getAttribute("data-post"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"}, body: "{}"
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().then(function (body) {
        showError((body && body.error && body.error.message) ||
          window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status}));
      }, function () { showError(window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status})); });
    }).catch(function () {
      showError(_("The server did not answer. Is wabridge running?"));
    }).then(function () { button.disabled = false; });
  });
}());
