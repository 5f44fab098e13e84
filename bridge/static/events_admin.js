// Events: create one (Events screen) or rename it / move its window (door page). The form's times are
// in the workspace zone (the server reads them so); a window whose end is already past is saved but
// warned about, and the page stays so the owner can fix it.
(function () {
  "use strict";
  var form = document.getElementById("event-form");
  if (!form) { return; }
  var errorBox = form.querySelector("[data-error]");
  var warningBox = form.querySelector("[data-warning]");

  function show(box, text) { box.textContent = text; box.hidden = !text; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    show(errorBox, ""); show(warningBox, "");
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (input.name && input.value !== "") { body[input.name] = input.value; }
    });
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.getAttribute("data-url"), {
      method: form.getAttribute("data-method"), credentials: "same-origin", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-Requested-With": "fetch"}
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        button.disabled = false;
        if (!response.ok) {
          var error = data.error || {};
          var input = error.field ? form.querySelector('[name="' + error.field + '"]') : null;
          if (input) { input.focus(); }
          show(errorBox, error.message || window.wabridge.format(_("Failed: HTTP {status}"), {status: response.status}));
          return;
        }
        var door = "/events/" + encodeURIComponent(data.slug);
        if (data.end_past) {
          show(warningBox, window.wabridge.format(_("Saved, but the end ({end}) is already past: every check-in will be refused."),
            {end: window.wabridge.when(data.end)}));
          return;
        }
        window.location.assign(door);
      });
    }, function () {
      button.disabled = false;
      show(errorBox, _("The server did not answer. Is wabridge running?"));
    });
  });
}());
