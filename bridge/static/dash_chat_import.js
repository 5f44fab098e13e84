// A lead's "Import chat history": send the chosen export to POST /api/leads/{phone}/import-chat,
// first with dry_run=1 (the preview), then for real. Words come from the catalogs (i18n.js).
(function () {
  "use strict";
  var box = document.getElementById("chat-import");
  if (!box) { return; }
  var form = document.getElementById("chat-import-form");
  var errorBox = document.getElementById("chat-import-error");
  var authors = document.getElementById("chat-import-authors");
  var summary = document.getElementById("chat-import-summary");
  var done = document.getElementById("chat-import-done");
  var go = document.getElementById("chat-import-go");
  var chosenMe = "";

  var when = window.wabridge.when;  // the workspace zone with its abbreviation, as the server writes times
  var format = window.wabridge.format;

  function fill(root, data) {
    root.querySelectorAll("[data-field]").forEach(function (node) {
      var value = data[node.getAttribute("data-field")];
      node.textContent = node.hasAttribute("data-time") ? when(value) : String(value === undefined ? "" : value);
    });
  }

  function url(dryRun) {
    var params = new URLSearchParams();
    var me = form.elements.me.value.trim() || chosenMe;
    if (me) { params.append("me", me); }
    if (form.elements.date_order.value) { params.append("date_order", form.elements.date_order.value); }
    if (form.elements.run_rules.checked) { params.append("run_rules", "1"); }
    var file = form.elements.file.files[0];
    if (file) { params.append("filename", file.name); }
    if (dryRun) { params.append("dry_run", "1"); }
    return "/api/leads/" + box.getAttribute("data-phone") + "/import-chat?" + params.toString();
  }

  function send(dryRun) {
    var file = form.elements.file.files[0];
    errorBox.hidden = true;
    if (!file) { form.elements.file.reportValidity(); return; }
    go.disabled = true;
    fetch(url(dryRun), {method: "POST", body: file, credentials: "same-origin",
                        headers: {"Accept": "application/json", "X-Requested-With": "fetch"}})
      .then(function (response) { return response.json().then(function (body) { return [response, body]; }); })
      .then(function (pair) {
        var response = pair[0], body = pair[1];
        go.disabled = false;
        if (!response.ok) {
          if (body.authors) { return chooseAuthor(body.authors); }
          errorBox.textContent = (body.error && body.error.message) || format(_("Failed: HTTP {status}"), {status: response.status});
          errorBox.hidden = false;
          summary.hidden = true;
          return;
        }
        authors.hidden = true;
        if (dryRun) {
          fill(summary, body);
          var list = summary.querySelector(".not-understood");
          list.textContent = "";
          (body.not_understood || []).forEach(function (item) {
            var li = document.createElement("li");
            li.textContent = format(_("line {line}: {text}"), {line: item.line, text: item.text});
            list.appendChild(li);
          });
          summary.hidden = false;
          done.hidden = true;
        } else {
          summary.hidden = true;
          done.textContent = format(_("Imported {new} new messages ({old} were already there)."),
                                    {"new": body["new"], old: body.duplicates_skipped});
          done.hidden = false;
          window.setTimeout(function () { window.location.reload(); }, 1500);
        }
      })
      .catch(function (problem) {
        go.disabled = false;
        errorBox.textContent = _("The server did not answer. Is wabridge running?") + " (" + String(problem) + ")";
        errorBox.hidden = false;
      });
  }

  function chooseAuthor(names) {
    var list = authors.querySelector(".authors");
    list.textContent = "";
    names.forEach(function (name) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "business-author";
      input.value = name;
      input.addEventListener("change", function () { chosenMe = name; send(true); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + name));
      list.appendChild(label);
    });
    authors.hidden = false;
    summary.hidden = true;
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); chosenMe = ""; send(true); });
  go.addEventListener("click", function () { send(false); });
}());
