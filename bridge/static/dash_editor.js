// Rule editor: builds the form from /api/rules/vocabulary; every input carries data-path, the rule
// path the engine names in its errors (conditions[0].any[1].value), so an error lands next to it.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form) { return; }
  var ruleId = form.getAttribute("data-rule-id");
  var vocab = null;
  var rule = JSON.parse(document.getElementById("rule-data").textContent) || {
    name: "", enabled: true, priority: 100, trigger: "message.received", sender: "customer",
    stop_processing: false, conditions: [], actions: []
  };
  delete rule.id;

  var el = wabridgeDash.el;
  function select(path, options, value, onChange, label) {
    var box = el("select", {"data-path": path, "aria-label": label || path});
    options.forEach(function (o) {
      box.appendChild(el("option", {value: o.value, text: o.label, selected: String(o.value) === String(value)}));
    });
    box.addEventListener("change", function () { onChange(box.value); });
    return box;
  }
  function input(path, type, value, onInput, label, placeholder) {
    var box = el("input", {type: type, "data-path": path, "aria-label": label || path});
    if (placeholder) { box.placeholder = placeholder; }
    box.value = value === undefined || value === null ? "" : value;
    box.addEventListener("input", function () {
      onInput(type === "number" ? (box.value === "" ? "" : Number(box.value)) : box.value);
    });
    return box;
  }
  function labelled(text, control) { return el("label", {"class": "field"}, [el("span", {text: text}), control]); }
  function fieldSpec(name) { return vocab.fields.filter(function (f) { return f.name === name; })[0]; }
  function opsFor(kind) { return vocab.operators.filter(function (o) { return o.kinds.indexOf(kind) >= 0; }); }
  function statusOptions() { return vocab.statuses.map(function (s) { return {value: s, label: s}; }); }
  var STATUS_FIELDS = ["lead.status", "status.from", "status.to"];

  // -- list values as chips ---------------------------------------------------------------
  // In List / Not In List, and Contains / Not Contains on text ("any of these keywords"), take
  // several values: each is a chip. Enter or a comma adds the typed word; ✕, or Backspace in the
  // empty box, removes one. The value keeps the shape it came in (the API takes both): a list stays
  // a list, a text stays comma-separated text ("order, buy"). Nothing is rewritten until the chips
  // change, so an opened rule saves back exactly as it was stored. A word still in the box counts.
  var LIST_OPS = ["in_list", "not_in_list"];
  var KEYWORD_OPS = ["contains", "not_contains"];
  function takesList(spec, op) {
    return LIST_OPS.indexOf(op) >= 0 || (KEYWORD_OPS.indexOf(op) >= 0 && (spec.kind === "text" || spec.kind === "tags"));
  }
  function listItems(value) {
    if (Array.isArray(value)) { return value.slice(); }
    if (value === undefined || value === null || value === "") { return []; }
    return String(value).split(",").map(function (w) { return w.trim(); }).filter(function (w) { return w !== ""; });
  }
  function sameWord(a, b) {
    var fold = function (w) { return String(w).trim().replace(/\s+/g, " ").toLowerCase(); };
    return fold(a) === fold(b);
  }
  var listIds = 0;

  function chipInput(leaf, spec, path, placeholder) {
    var asList = Array.isArray(leaf.value);
    var items = listItems(leaf.value);
    var box = el("div", {"class": "chips", role: "group", "aria-label": _("Values")});
    var field = el("input", {type: "text", "data-path": path, "aria-label": _("Value"), autocomplete: "off",
      enterkeyhint: "enter"});
    var suggestions = spec.choices.length ? spec.choices : (STATUS_FIELDS.indexOf(spec.name) >= 0 ? vocab.statuses : []);
    if (suggestions.length) {
      var listId = "chip-options-" + (listIds += 1);
      box.appendChild(el("datalist", {id: listId}, suggestions.map(function (c) { return el("option", {value: c}); })));
      field.setAttribute("list", listId);
    }
    function typed(word) {
      // A list keeps numbers as numbers for number fields; what people type is text otherwise.
      return asList && spec.kind === "number" && /^-?[0-9]+(\.[0-9]+)?$/.test(word) ? Number(word) : word;
    }
    function save() {
      var words = items.slice();
      var draft = field.value.trim();
      if (draft && !words.some(function (w) { return sameWord(w, draft); })) { words.push(typed(draft)); }
      leaf.value = asList ? words : words.join(", ");
    }
    function draw() {
      field.placeholder = items.length ? _("Add more") : placeholder;  // short once chips explain it (phones)
      Array.prototype.forEach.call(box.querySelectorAll(".chip"), function (n) { n.remove(); });
      items.forEach(function (word, index) {
        var remove = el("button", {type: "button", "class": "chip-x", "aria-label": window.wabridge.format(_("Remove {word}"), {word: word}), text: "✕"});
        remove.addEventListener("click", function (event) {
          items.splice(index, 1); draw(); save();
          if (event.detail === 0) { field.focus(); }  // from the keyboard: keep typing; a tap keeps the keyboard shut
        });
        box.insertBefore(el("span", {"class": "chip", "data-path": path + "[" + index + "]"}, [
          el("span", {"class": "chip-text", text: String(word)}), remove]), field);
      });
    }
    function add(words) {
      words.forEach(function (word) {
        word = word.trim();
        if (word && !items.some(function (w) { return sameWord(w, word); })) { items.push(typed(word)); }
      });
      draw();
    }
    field.addEventListener("keydown", function (event) {
      if (event.isComposing) { return; }
      if (event.key === "Enter" || event.key === ",") {
        event.preventDefault();  // Enter would submit the form
        add([field.value]); field.value = ""; save();
      } else if (event.key === "Backspace" && field.value === "" && items.length) {
        event.preventDefault();
        items.pop(); draw(); save();
      }
    });
    field.addEventListener("input", function () {
      // Commas from a paste or a phone keyboard: every finished word becomes a chip.
      var parts = field.value.split(",");
      if (parts.length > 1) { field.value = parts.pop().replace(/^\s+/, ""); add(parts); }
      save();
    });
    box.addEventListener("click", function (event) { if (event.target === box) { field.focus(); } });
    box.appendChild(field);
    draw();
    return box;
  }

  // -- conditions ---------------------------------------------------------------------
  function defaultLeaf() { return {field: "message.text", op: "contains", value: ""}; }

  function valueInput(leaf, path) {
    var spec = fieldSpec(leaf.field);
    var set = function (v) { leaf.value = v; };
    if (spec.kind === "bool") {
      if (typeof leaf.value !== "boolean") { leaf.value = true; }
      return select(path, [{value: "true", label: _("Yes")}, {value: "false", label: _("No")}], String(leaf.value),
        function (v) { leaf.value = v === "true"; }, _("Value"));
    }
    if (spec.kind === "time") {
      var parts = String(leaf.value || "09:00-17:00").split("-");
      leaf.value = parts.join("-");
      var from = input(path, "time", parts[0], function () { leaf.value = from.value + "-" + to.value; }, _("From"));
      var to = input(path, "time", parts[1] || "", function () { leaf.value = from.value + "-" + to.value; }, _("To"));
      return el("span", {"class": "range"}, [from, el("span", {text: " " + _("to") + " "}), to]);
    }
    var many = leaf.op === "in_list" || leaf.op === "not_in_list";
    if (!many && (spec.choices.length || STATUS_FIELDS.indexOf(spec.name) >= 0) && leaf.op !== "matches") {
      var options = spec.choices.length ? spec.choices.map(function (c) { return {value: c, label: c}; })
        : statusOptions();
      if (options.map(function (o) { return o.value; }).indexOf(leaf.value) < 0) { leaf.value = options[0].value; }
      return select(path, options, leaf.value, set, _("Value"));
    }
    if (takesList(spec, leaf.op)) {
      return chipInput(leaf, spec, path, many ? _("Add a value, then Enter") : _("Add a keyword, then Enter"));
    }
    if (Array.isArray(leaf.value)) { leaf.value = leaf.value.join(", "); }
    if (spec.kind === "number" && !many) {
      return input(path, "number", leaf.value, set, _("Value"));
    }
    var op = vocab.operators.filter(function (o) { return o.name === leaf.op; })[0];
    return input(path, "text", leaf.value, set, _("Value"), op && op.hint ? op.hint : "");
  }

  function leafRow(leaf, path, remove) {
    var spec = fieldSpec(leaf.field) || fieldSpec("message.text");
    var ops = opsFor(spec.kind);
    if (!ops.some(function (o) { return o.name === leaf.op; })) { leaf.op = ops[0].name; }
    var fields = vocab.fields.filter(function (f) { return f.triggers.indexOf(rule.trigger) >= 0; })
      .map(function (f) { return {value: f.name, label: f.label}; });
    return el("div", {"class": "cond", "data-node": path}, [
      select(path + ".field", fields, leaf.field, function (v) {
        leaf.field = v; leaf.value = ""; render();
      }, _("Field")),
      select(path + ".op", ops.map(function (o) { return {value: o.name, label: o.label}; }), leaf.op,
        function (v) { leaf.op = v; render(); }, _("Operator")),
      valueInput(leaf, path + ".value"),
      el("button", {type: "button", "class": "link remove", "aria-label": _("Remove condition"), text: "✕"})
    ]);
  }

  // A group node in the rule JSON, as the editor shows it. NOT is offered as "NONE of these"
  // ({not: {any: [...]}}) and "NOT ALL of these" ({not: {all: [...]}}); a `not` around a single
  // condition or another `not` is rewritten on load as NONE of [it], which means the same.
  var GROUP_KINDS = [
    {value: "all", label: _("ALL of these (AND)")},
    {value: "any", label: _("ANY of these (OR)")},
    {value: "none", label: _("NONE of these (NOT)")},
    {value: "not_all", label: _("NOT ALL of these")}
  ];
  function groupOf(node) {
    if (Array.isArray(node.any)) { return {kind: "any", list: node.any, key: "any"}; }
    if (Array.isArray(node.all)) { return {kind: "all", list: node.all, key: "all"}; }
    if (!Object.prototype.hasOwnProperty.call(node, "not")) { return null; }
    var inner = node.not;
    if (!inner || (!Array.isArray(inner.any) && !Array.isArray(inner.all))) { node.not = inner = {any: [inner]}; }
    return Array.isArray(inner.any) ? {kind: "none", list: inner.any, key: "not.any"}
      : {kind: "not_all", list: inner.all, key: "not.all"};
  }
  function makeGroup(kind, list) {
    if (kind === "any") { return {any: list}; }
    if (kind === "all") { return {all: list}; }
    return {not: kind === "none" ? {any: list} : {all: list}};
  }

  function groupBox(list, path, group, replace) {
    // `list` holds the children; `group` is null for the root list (AND) and `replace(node)` swaps
    // this group for another kind in its parent.
    var kind = group ? group.kind : "all";
    var box = el("div", {"class": "group " + kind, "data-node": path});
    var head = el("div", {"class": "group-head"});
    if (group) {
      head.appendChild(select(path + ".kind", GROUP_KINDS, kind, function (v) {
        replace(makeGroup(v, list)); render();
      }, _("Group type")));
    } else {
      head.appendChild(el("strong", {text: _("All of these must be true (AND)")}));
    }
    box.appendChild(head);
    list.forEach(function (child, index) {
      var childPath = (group ? path + "." + group.key : path) + "[" + index + "]";
      var sub = child && typeof child === "object" && !Array.isArray(child) ? groupOf(child) : null;
      if (Array.isArray(child)) { list[index] = child = {all: child}; sub = groupOf(child); }
      var node = sub ? groupBox(sub.list, childPath, sub, function (next) { list[index] = next; })
        : leafRow(child, childPath);
      var removeButton = node.querySelector(":scope > .remove, :scope > .group-foot > .remove");
      if (removeButton) {
        removeButton.addEventListener("click", function () { list.splice(index, 1); render(); });
      }
      box.appendChild(node);
    });
    var foot = el("div", {"class": "group-foot"}, [
      el("button", {type: "button", "class": "secondary small add-condition", text: _("+ Condition")}),
      el("button", {type: "button", "class": "secondary small add-group", text: _("+ OR group")}),
      el("button", {type: "button", "class": "secondary small add-none", text: _("+ NONE group")})
    ]);
    foot.children[0].addEventListener("click", function () { list.push(defaultLeaf()); render(); });
    foot.children[1].addEventListener("click", function () { list.push({any: [defaultLeaf()]}); render(); });
    foot.children[2].addEventListener("click", function () { list.push({not: {any: [defaultLeaf()]}}); render(); });
    if (group) {
      foot.appendChild(el("button", {type: "button", "class": "link remove", text: _("Remove group")}));
    }
    box.appendChild(foot);
    return box;
  }

  // -- actions -------------------------------------------------------------------------
  function actionInputs(action, path) {
    var parts = [];
    var t = action.type;
    var set = function (key) { return function (v) { action[key] = v; }; };
    if (t === "set_status") {
      if (vocab.statuses.indexOf(action.status) < 0) { action.status = vocab.statuses[0]; }
      parts.push(labelled(_("Status"), select(path + ".status", statusOptions(), action.status, set("status"), _("Status"))));
    } else if (t === "update_value") {
      if (!action.target) { action.target = "lead.value_actual"; }
      var custom = Object.prototype.hasOwnProperty.call(action, "pattern");
      if (!custom && !action.preset) { action.preset = vocab.presets[0].name; }
      var choice = custom ? "custom" : action.preset;
      parts.push(labelled(_("Field"), select(path + ".target", vocab.numeric_targets.map(function (n) {
        return {value: n, label: (fieldSpec(n) || {label: n}).label};
      }), action.target, set("target"), _("Target"))));
      parts.push(labelled(_("Amount format"), select(path + ".preset", vocab.presets.map(function (p) {
        return {value: p.name, label: p.label};
      }), choice, function (v) {
        if (v === "custom") { delete action.preset; action.pattern = action.pattern || ""; }
        else { action.preset = v; delete action.pattern; }
        render();
      }, _("Preset"))));
      if (choice === "custom") {
        parts.push(labelled(_("Regex (first group is the amount)"),
          input(path + ".pattern", "text", action.pattern, set("pattern"), _("Pattern"), "Rp\\s*([0-9.,]+)")));
      }
    } else if (t === "set_field") {
      if (!action.field) { action.field = vocab.settable_fields[0]; }
      parts.push(labelled(_("Field"), select(path + ".field", vocab.settable_fields.map(function (n) {
        return {value: n, label: (fieldSpec(n) || {label: n}).label};
      }), action.field, set("field"), _("Field"))));
      parts.push(labelled(_("Value"), input(path + ".value", "text", action.value, set("value"), _("Value"))));
    } else if (t === "adjust_score") {
      parts.push(labelled(_("By"), input(path + ".by", "number", action.by, set("by"), _("By"))));
    } else {
      var spec = vocab.actions.filter(function (a) { return a.type === t; })[0];
      // The inputs' names in the page's language (the action keys stay as they are in the rule).
      var keyWords = {tag: _("Tag"), text: _("Text"), reply: _("Reply"), endpoint: _("Endpoint"), event: _("Event"),
        event_name: _("Event name"), cooldown_hours: _("Cooldown hours"), allow_group: _("Also in group chats"),
        url: _("URL"), secret: _("Secret"), value_from: _("Value from")};
      spec.keys.forEach(function (key) {
        if (key === "allow_group") {
          var box = el("input", {type: "checkbox", "data-path": path + "." + key, checked: !!action[key]});
          box.addEventListener("change", function () { action[key] = box.checked; });
          parts.push(el("label", {"class": "toggle"}, [box, el("span", {text: " " + (keyWords[key] || key)})]));
        } else {
          var kind = key === "cooldown_hours" ? "number" : "text";
          parts.push(labelled(keyWords[key] || key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, " "), input(path + "." + key, kind, action[key], function (v) {
            if (v === "") { delete action[key]; } else { action[key] = v; }
          }, key)));
        }
      });
    }
    return parts;
  }

  function actionRow(action, index) {
    var path = "actions[" + index + "]";
    var types = vocab.actions.map(function (a) { return {value: a.type, label: a.label}; });
    var row = el("div", {"class": "action", "data-node": path}, [
      el("div", {"class": "action-head"}, [
        select(path + ".type", types, action.type, function (v) {
          rule.actions[index] = {type: v}; render();
        }, _("Action")),
        el("button", {type: "button", "class": "link remove", "aria-label": _("Remove action"), text: "✕"})
      ])
    ].concat(actionInputs(action, path)));
    row.querySelector(".remove").addEventListener("click", function () { rule.actions.splice(index, 1); render(); });
    return row;
  }

  // -- the whole form --------------------------------------------------------------------
  function render() {
    form.textContent = "";
    var name = input("name", "text", rule.name, function (v) { rule.name = v; }, _("Rule name"),
      _("e.g. Identify Hot Lead"));
    name.id = "rule-name";
    var triggers = vocab.triggers.map(function (t) { return {value: t.name, label: t.label}; });
    var enabled = el("input", {type: "checkbox", "data-path": "enabled", checked: rule.enabled !== false});
    enabled.addEventListener("change", function () { rule.enabled = enabled.checked; });
    var stop = el("input", {type: "checkbox", "data-path": "stop_processing", checked: !!rule.stop_processing});
    stop.addEventListener("change", function () { rule.stop_processing = stop.checked; });
    form.appendChild(labelled(_("Name"), name));
    var row = el("div", {"class": "editor-row"}, [
      labelled(_("When"), select("trigger", triggers, rule.trigger, function (v) {
        rule.trigger = v; if (v !== "message.received") { delete rule.sender; } else { rule.sender = "customer"; }
        render();
      }, _("Trigger")))
    ]);
    if (rule.trigger === "message.received") {
      row.appendChild(labelled(_("Sender"), select("sender", vocab.senders.map(function (s) {
        return {value: s.name, label: s.label};
      }), rule.sender || "customer", function (v) { rule.sender = v; }, _("Sender type"))));
    }
    form.appendChild(row);
    form.appendChild(el("h2", {text: _("IF")}));
    if (!Array.isArray(rule.conditions)) { rule.conditions = [rule.conditions]; }
    form.appendChild(groupBox(rule.conditions, "conditions", null, null));
    form.appendChild(el("h2", {text: _("THEN")}));
    var actions = el("div", {"class": "actions-list", "data-node": "actions"});
    rule.actions.forEach(function (action, index) { actions.appendChild(actionRow(action, index)); });
    var add = el("button", {type: "button", "class": "secondary small", id: "add-action", text: "+ " + _("Action")});
    add.addEventListener("click", function () { rule.actions.push({type: "set_status"}); render(); });
    actions.appendChild(add);
    form.appendChild(actions);
    form.appendChild(el("div", {"class": "editor-row"}, [
      el("label", {"class": "toggle"}, [enabled, el("span", {text: " " + _("Rule is on")})]),
      el("label", {"class": "toggle"}, [stop, el("span", {text: " " + _("Stop here: no later rule runs when this one fires")})])
    ]));
    var save = el("button", {type: "submit", "class": "primary", id: "save-rule", text: _("Save rule")});
    form.appendChild(el("div", {"class": "actions"}, [save]));
  }

  // -- errors next to their input ------------------------------------------------------------
  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (n) { n.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll(".invalid"), function (n) { n.classList.remove("invalid"); });
    document.getElementById("dash-error").hidden = true;
  }
  function showFieldError(path, message) {
    // The exact input, else the closest enclosing part of the rule (a condition, the action list).
    var target = null;
    var probe = path;
    while (probe && !target) {
      target = form.querySelector('[data-path="' + probe + '"]') || form.querySelector('[data-node="' + probe + '"]');
      if (!target) {
        var cut = Math.max(probe.lastIndexOf("."), probe.lastIndexOf("["));
        probe = cut > 0 ? probe.slice(0, cut) : "";
      }
    }
    if (!target) {
      var box = document.getElementById("dash-error");
      box.textContent = message; box.hidden = false;
      return;
    }
    target.classList.add("invalid");
    var note = el("p", {"class": "field-error", role: "alert", text: message});
    var anchor = target.closest(".field, .cond, .action-head, .group-head") || target;
    anchor.insertAdjacentElement("afterend", note);
    target.focus();
  }

  function send(method, url, body) {
    return fetch(url, {method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body)}).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {ok: response.ok, status: response.status, data: data};
      });
    });
  }

  // Enter in a one-line input (Tag, a value, a keyword) never saves the rule: only the Save button does.
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "submit" && target.type !== "button") {
      event.preventDefault();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var button = document.getElementById("save-rule");
    button.disabled = true;
    send(ruleId ? "PUT" : "POST", ruleId ? "/api/rules/" + ruleId : "/api/rules", rule).then(function (r) {
      button.disabled = false;
      if (r.ok) {
        ruleId = String(r.data.rule.id);
        form.setAttribute("data-rule-id", ruleId);
        history.replaceState(null, "", "/rules/" + ruleId + "/edit");
        var heading = document.getElementById("editor-heading");
        if (heading) { heading.textContent = _("Edit rule"); }
        document.title = document.title.replace(/^[^·]*·/, _("Edit rule") + " ·");
        var saved = document.getElementById("saved");
        saved.textContent = _("Saved. The rule is live now.");
        saved.hidden = false;
        return;
      }
      var error = r.data.error || {message: window.wabridge.format(_("Failed: HTTP {status}"), {status: r.status})};
      var said = error.message_text || error.message;  // message_text: in the page's language
      var message = said.indexOf(error.field + ": ") === 0 ? said.slice(error.field.length + 2) : said;
      showFieldError(error.field || "", message);
    }, function () { button.disabled = false; showFieldError("", _("The server did not answer. Is wabridge running?")); });
  });

  // -- Test this rule (static/dash_test.js) -------------------------------------------------
  wabridgeDash.testPanel({draft: function () { return rule; }, before: clearErrors, onRuleError: showFieldError});

  // -- AI Suggest: a sentence → a draft in the editor (never saved here) --------------------------
  document.getElementById("suggest").addEventListener("click", function () {
    clearErrors();
    var sentence = document.getElementById("suggest-text").value;
    var out = document.getElementById("suggest-result");
    out.textContent = "";
    send("POST", "/api/rules/suggest", {text: sentence}).then(function (r) {
      if (!r.ok) {
        out.appendChild(el("p", {"class": "alert", text: (r.data.error || {}).message ||
          window.wabridge.format(_("Failed: HTTP {status}"), {status: r.status})}));
        return;
      }
      var shown = el("p", {"class": "suggest-sentence"});
      var at = 0;
      r.data.understood.forEach(function (span) {
        if (span.start < at) { return; }
        shown.appendChild(document.createTextNode(sentence.slice(at, span.start)));
        shown.appendChild(el("mark", {title: span.meaning_text || span.meaning, text: sentence.slice(span.start, span.end)}));
        at = span.end;
      });
      shown.appendChild(document.createTextNode(sentence.slice(at)));
      out.appendChild(shown);
      var meanings = el("ul", {"class": "suggest-meanings"});
      r.data.understood.forEach(function (span) {
        meanings.appendChild(el("li", {text: "“" + span.text + "” → " + (span.meaning_text || span.meaning)}));
      });
      out.appendChild(meanings);
      // Anything not understood is a warning, never the success colour (engine.suggest's warnings).
      var warnings = r.data.warnings || [];
      warnings.forEach(function (warning) {
        var words = warning.words.map(function (w) { return "\u201c" + w + "\u201d"; }).join(", ");
        var text = warning.code === "unread_condition"
          ? window.wabridge.format(_("Check the conditions before saving: {words} was not read as a condition, so the draft may fire more often than the sentence says."), {words: words})
          : window.wabridge.format(_("Not understood, left out of the draft: {words}."), {words: words});
        out.appendChild(el("p", {"class": "warning", role: "alert", "data-warning": warning.code, text: text}));
      });
      var message = r.data.ok ? _("Draft ready: check it before you save it. Nothing is saved yet.")
        : (r.data.message_text || r.data.message);
      out.appendChild(el("p", {"class": r.data.ok ? (warnings.length ? "warning-note" : "saved") : "alert",
        id: "suggest-message", text: message}));
      if (r.data.ok && r.data.rule) {
        rule = r.data.rule;
        render();
        document.getElementById("saved").hidden = true;
      }
    });
  });

  fetch("/api/rules/vocabulary", {credentials: "same-origin"}).then(function (r) { return r.json(); })
    .then(function (data) {
      vocab = data;
      render();
      form.setAttribute("data-ready", "true");
    });
}());
