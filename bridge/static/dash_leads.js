// Leads people change (issue #13): a lead's edit form with the rules-fired trace, Delete,
// New lead, Import CSV (preview, then import), bulk status. Every change goes through the
// JSON API with the login cookie (change.by = dashboard); answers come after rules ran.
(function () {
  "use strict";
  var JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "X-Requested-With": "fetch"};

  function $(id) { return document.getElementById(id); }
  function show(box, text) { if (box) { box.textContent = text; box.hidden = !text; } }
  function api(method, url, body, headers) {
    return fetch(url, {method: method, credentials: "same-origin", headers: headers || JSON_HEADERS,
                       body: body === undefined ? undefined : body}).then(function (response) {
      if (response.status === 204) { return {ok: true, status: 204, body: null}; }
      return response.json().then(function (data) { return {ok: response.ok, status: response.status, body: data}; },
        function () { return {ok: response.ok, status: response.status, body: null}; });
    });
  }
  function problem(result) {
    var error = result.body && result.body.error;
    // message_text: the problem in the page's language (message stays English for scripts)
    return error ? (error.message_text || error.message) : window.wabridge.format(_("Failed: HTTP {status}"), {status: result.status});
  }
  function keepTrace(phone, change) {
    try { window.sessionStorage.setItem("wabridge-trace-" + phone, JSON.stringify(change || {})); } catch (e) { /* private mode */ }
  }

  // ---------------------------------------------------------------- a lead's page
  var form = $("lead-form");
  if (form) {
    var phone = form.getAttribute("data-phone");
    var chips = $("tag-chips");
    var tagInput = $("tag-input");
    var tags = (chips.getAttribute("data-tags") || "").split("\n").filter(function (t) { return t; });
    function drawTags() {
      Array.prototype.slice.call(chips.querySelectorAll(".chip")).forEach(function (c) { c.remove(); });
      tags.forEach(function (tag, index) {
        var chip = document.createElement("span");
        chip.className = "chip";
        var text = document.createElement("span");
        text.className = "chip-text";
        text.textContent = tag;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-x";
        remove.setAttribute("aria-label", window.wabridge.format(_("Remove tag {tag}"), {tag: tag}));
        remove.textContent = "×";
        remove.addEventListener("click", function () { tags.splice(index, 1); drawTags(); });
        chip.appendChild(text);
        chip.appendChild(remove);
        chips.insertBefore(chip, tagInput);
      });
    }
    function addTag() {
      var tag = tagInput.value.trim();
      if (tag && tags.indexOf(tag) < 0) { tags.push(tag); }
      tagInput.value = "";
      drawTags();
    }
    tagInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") { event.preventDefault(); addTag(); }
    });
    drawTags();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (tagInput.value.trim()) { addTag(); }
      var body = {tags: tags};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name !== "tags") { body[el.name] = el.value; }
      });
      var save = $("lead-save");
      save.disabled = true;
      show($("lead-form-error"), "");
      api("PATCH", "/api/leads/" + phone, JSON.stringify(body)).then(function (result) {
        if (!result.ok) { show($("lead-form-error"), problem(result)); return; }
        keepTrace(phone, result.body.change);
        window.location.reload();
      }).catch(function () { show($("lead-form-error"), _("The server did not answer. Is wabridge running?")); })
        .then(function () { save.disabled = false; });
    });

    $("lead-delete").addEventListener("click", function () {
      if (!window.confirm(window.wabridge.format(_("Delete lead +{phone}? Its messages, rule runs and history are erased for good."),
                                                 {phone: phone}))) { return; }
      api("DELETE", "/api/leads/" + phone).then(function (result) {
        if (result.ok) { window.location.href = "/leads?deleted=" + phone; return; }
        show($("lead-form-error"), problem(result));
      });
    });

    // The trace of the change just saved (kept across the reload that shows the new history).
    var stored = null;
    try { stored = window.sessionStorage.getItem("wabridge-trace-" + phone); window.sessionStorage.removeItem("wabridge-trace-" + phone); } catch (e) { stored = null; }
    if (stored) {
      var change = JSON.parse(stored);
      var list = $("save-trace");
      var rules = (change.rules || []);
      if (!rules.length) {
        var none = document.createElement("li");
        none.textContent = _("Saved. No rule fired.");
        list.appendChild(none);
      }
      rules.forEach(function (run) {
        var item = document.createElement("li");
        var verdict = run.error ? window.wabridge.format(_("error: {error}"), {error: run.error})
          : (run.fired ? _("fired") : _("did not fire"));
        var notes = run.notes_text || run.notes || [];  // *_text: in the page's language
        item.textContent = run.rule + " (" + (run.trigger_text || run.trigger) + "): " + verdict +
          (notes.length ? " — " + notes.join("; ") : "");
        item.className = run.error ? "bad" : (run.fired ? "fired" : "muted");
        list.appendChild(item);
      });
      $("save-result").hidden = false;
    }
  }

  // ---------------------------------------------------------------- the Leads screen
  var newLead = $("new-lead-form");
  if (newLead) {
    newLead.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      Array.prototype.forEach.call(newLead.querySelectorAll("[data-field]"), function (el) {
        if (el.value.trim()) { body[el.getAttribute("data-field")] = el.value; }
      });
      show($("new-lead-error"), "");
      api("POST", "/api/leads", JSON.stringify(body)).then(function (result) {
        if (!result.ok) { show($("new-lead-error"), problem(result)); return; }
        keepTrace(result.body.lead.phone, result.body.change);
        window.location.href = "/leads/" + result.body.lead.phone;
      });
    });
  }

  var fileInput = $("import-file");
  if (fileInput) {
    var importButton = $("import-go");
    var csvBytes = null;
    var csvHeaders = {"Content-Type": "text/csv", "Accept": "application/json", "X-Requested-With": "fetch"};
    function listProblems(box, message) {
      box.textContent = "";
      var head = document.createElement("strong");
      head.textContent = _("Nothing was imported:");
      box.appendChild(head);
      var list = document.createElement("ul");
      message.split("; ").forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line;
        list.appendChild(item);
      });
      box.appendChild(list);
      box.hidden = false;
    }
    function preview(body) {
      var box = $("import-preview");
      box.textContent = "";
      var summary = document.createElement("p");
      var columns = Object.keys(body.columns).map(function (h) { return h + " → " + body.columns[h]; }).join(", ");
      summary.textContent = window.wabridge.format(_("{rows} rows. Columns: {columns}."), {rows: body.rows, columns: columns}) +
        (body.ignored_columns.length ? " " + window.wabridge.format(_("Ignored: {names}."), {names: body.ignored_columns.join(", ")}) : "") +
        " " + window.wabridge.format(_("Would create {created}, update {updated}, leave {unchanged} unchanged."),
                                     {created: body.created, updated: body.updated, unchanged: body.unchanged});
      box.appendChild(summary);
      var fields = ["phone"];
      body.preview.forEach(function (row) { Object.keys(row).forEach(function (k) { if (k !== "row" && fields.indexOf(k) < 0) { fields.push(k); } }); });
      var table = document.createElement("table");
      table.className = "dash-table preview-table";
      var head = table.createTHead().insertRow();
      ["row"].concat(fields).forEach(function (f) { var th = document.createElement("th"); th.textContent = f; head.appendChild(th); });
      var tbody = table.createTBody();
      body.preview.forEach(function (row) {
        var tr = tbody.insertRow();
        ["row"].concat(fields).forEach(function (f) {
          var td = tr.insertCell();
          td.setAttribute("data-label", f);
          td.textContent = row[f] === undefined ? "" : String(row[f]);
        });
      });
      box.appendChild(table);
      box.hidden = false;
    }
    fileInput.addEventListener("change", function () {
      show($("import-error"), "");
      show($("import-result"), "");
      $("import-preview").hidden = true;
      importButton.disabled = true;
      var file = fileInput.files && fileInput.files[0];
      if (!file) { return; }
      file.arrayBuffer().then(function (buffer) {
        csvBytes = buffer;
        return api("POST", "/api/leads/import?dry_run=true", buffer, csvHeaders);
      }).then(function (result) {
        if (!result.ok) { listProblems($("import-error"), problem(result)); return; }
        preview(result.body);
        importButton.disabled = false;
      });
    });
    importButton.addEventListener("click", function () {
      if (!csvBytes) { return; }
      importButton.disabled = true;
      var rules = $("import-rules").checked ? "true" : "false";
      api("POST", "/api/leads/import?rules=" + rules, csvBytes, csvHeaders).then(function (result) {
        if (!result.ok) { listProblems($("import-error"), problem(result)); importButton.disabled = false; return; }
        var b = result.body;
        show($("import-result"), window.wabridge.format(
          _("Imported: {created} created, {updated} updated, {unchanged} unchanged; rules fired {fired}."),
          {created: b.created, updated: b.updated, unchanged: b.unchanged, fired: b.rules_fired}));
        $("import-preview").hidden = true;
      });
    });
  }

  var bulk = $("bulk-form");
  if (bulk) {
    var all = $("select-all");
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(document.querySelectorAll(".lead-select"), function (box) { box.checked = all.checked; });
    });
    bulk.addEventListener("submit", function (event) {
      event.preventDefault();
      var phones = Array.prototype.filter.call(document.querySelectorAll(".lead-select"), function (b) { return b.checked; })
        .map(function (b) { return b.value; });
      if (!phones.length) { show($("bulk-error"), _("Select leads first (the boxes in the first column).")); return; }
      var status = $("bulk-status").value;
      var failed = [];
      $("bulk-go").disabled = true;
      // One PATCH per lead, in order: each is a change with its own rules, like a change by hand.
      phones.reduce(function (chain, phone) {
        return chain.then(function () {
          return api("PATCH", "/api/leads/" + phone, JSON.stringify({status: status})).then(function (result) {
            if (!result.ok) { failed.push("+" + phone + ": " + problem(result)); }
          });
        });
      }, Promise.resolve()).then(function () {
        if (failed.length) { show($("bulk-error"), failed.join("; ")); $("bulk-go").disabled = false; return; }
        var moved = window.wabridge.format(_("{count} leads moved to {status}."), {count: phones.length, status: status});
        try { window.sessionStorage.setItem("wabridge-bulk", moved); } catch (e) { /* ignore */ }
        window.location.reload();
      });
    });
    var done = null;
    try { done = window.sessionStorage.getItem("wabridge-bulk"); window.sessionStorage.removeItem("wabridge-bulk"); } catch (e) { done = null; }
    if (done) { $("bulk-result").textContent = done; }
  }
}());
