// Door page: live counts and check-ins over server-sent events, search, manual check-in, undo.
(function () {
  "use strict";

  var root = document.getElementById("door");
  if (!root) { return; }
  var slug = root.dataset.event;
  var mode = root.dataset.mode;
  var api = "/api/events/" + encodeURIComponent(slug);
  var snap = JSON.parse(document.getElementById("initial").textContent);
  var searchTimer = null;
  var lastQuery = "";

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function flash(message, kind) {
    var box = $("flash");
    box.textContent = message || "";
    box.dataset.kind = kind || "ok";
    box.hidden = !message;
  }

  function request(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "X-Requested-With": "wabridge-door" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return wabridge.json(path, options);
  }

  function who(item) {
    return item.name || (item.phone ? "+" + item.phone : _("Guest"));
  }

  function renderCounts(counts) {
    $("n-expected").textContent = counts.expected === null || counts.expected === undefined ? "–" : counts.expected;
    $("n-checked").textContent = counts.checked_in;
    $("n-duplicates").textContent = counts.duplicates;
    $("n-invalid").textContent = counts.invalid;
    var share = counts.expected ? Math.min(1, counts.checked_in / counts.expected) : 0;
    $("progress").style.width = (share * 100).toFixed(1) + "%";
  }

  function undoButton(checkinId) {
    var button = el("button", "link undo", _("Undo"));
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      request("POST", api + "/checkins/" + checkinId + "/undo").then(function (checkin) {
        flash(wabridge.format(_("Undone: {who} ({code}) can check in again."), {who: who(checkin), code: checkin.code}), "ok");
        refreshSearch();
      }).catch(function (err) {
        flash(err.message, "bad");
        button.disabled = false;
      });
    });
    return button;
  }

  function renderLatest(items) {
    var list = $("latest");
    list.textContent = "";
    items.forEach(function (item) {
      var row = el("li", "row" + (item.undone_at ? " undone" : ""));
      row.dataset.checkin = item.id;
      row.appendChild(el("span", "row-time", item.time));
      var main = el("span", "row-main");
      main.appendChild(el("strong", "row-name", who(item)));
      main.appendChild(el("span", "row-detail", item.code + (item.phone && item.name ? " · +" + item.phone : "")));
      row.appendChild(main);
      var side = el("span", "row-side");
      side.appendChild(el("span", "source", item.source === "manual" ? _("manual") : "WhatsApp"));
      if (item.undone_at) {
        side.appendChild(el("span", "undone-label", _("undone")));
      } else {
        side.appendChild(undoButton(item.id));
      }
      row.appendChild(side);
      list.appendChild(row);
    });
    $("latest-empty").hidden = items.length > 0;
  }

  function render(data) {
    snap = data;
    renderCounts(data.counts);
    renderLatest(data.latest);
    var state = $("state");
    state.dataset.state = data.event.state;
    state.textContent = { open: _("Open now"), upcoming: _("Not open yet"), over: _("Over") }[data.event.state];
  }

  function checkIn(body, label) {
    return request("POST", api + "/checkins", body).then(function (result) {
      flash(wabridge.format(_("Checked in: {who} ({code})"), {who: who(result.checkin), code: result.checkin.code}), "ok");
      refreshSearch();
    }).catch(function (err) {
      flash(label + ": " + err.message, "bad");
    });
  }

  function resultRow(item) {
    var row = el("li", "row");
    var main = el("span", "row-main");
    main.appendChild(el("strong", "row-name", who(item)));
    var detail = item.code + (item.phone ? " · +" + item.phone : "") + (item.email ? " · " + item.email : "");
    main.appendChild(el("span", "row-detail", detail));
    row.appendChild(main);
    var side = el("span", "row-side");
    var limit = item.max_uses || 1;
    if (item.used > 0) {
      var when = item.last_time || "";
      side.appendChild(el("span", "done", (mode === "voucher" ? wabridge.format(_("used {used}/{limit}"), {used: item.used, limit: limit}) : _("in")) +
        (when ? " " + when : "")));
      side.appendChild(undoButton(item.last_checkin_id));
    }
    if (item.used < limit) {
      var button = el("button", "primary small", mode === "voucher" ? _("Redeem") : _("Check in"));
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        checkIn({ code: item.code }, item.code).then(function () { button.disabled = false; });
      });
      side.appendChild(button);
    }
    row.appendChild(side);
    return row;
  }

  function checkinRow(item) {
    var row = el("li", "row" + (item.undone_at ? " undone" : ""));
    row.appendChild(el("span", "row-time", item.time));
    var main = el("span", "row-main");
    main.appendChild(el("strong", "row-name", who(item)));
    main.appendChild(el("span", "row-detail", item.phone ? "+" + item.phone : item.code));
    row.appendChild(main);
    var side = el("span", "row-side");
    side.appendChild(item.undone_at ? el("span", "undone-label", _("undone")) : undoButton(item.id));
    row.appendChild(side);
    return row;
  }

  function search(query) {
    lastQuery = query;
    var list = $("results");
    if (!query) {
      list.textContent = "";
      $("results-empty").hidden = true;
      return;
    }
    var path = mode === "open" ? api + "/checkins?limit=20&q=" : api + "/codes?limit=20&q=";
    request("GET", path + encodeURIComponent(query)).then(function (items) {
      if (query !== lastQuery) { return; }
      list.textContent = "";
      items.forEach(function (item) { list.appendChild(mode === "open" ? checkinRow(item) : resultRow(item)); });
      $("results-empty").hidden = items.length > 0;
    }).catch(function (err) { flash(err.message, "bad"); });
  }

  function refreshSearch() {
    if (lastQuery) { search(lastQuery); }
  }

  $("search").addEventListener("input", function () {
    var query = this.value.trim();
    window.clearTimeout(searchTimer);
    if (!query) { search(""); return; }
    searchTimer = window.setTimeout(function () { search(query); }, 200);
  });
  var byPhone = $("by-phone");
  if (byPhone) {
    byPhone.addEventListener("submit", function (event) {
      event.preventDefault();
      var phone = $("phone").value.trim();
      checkIn({ phone: phone, name: $("name").value.trim() || null }, "+" + phone).then(function () {
        byPhone.reset();
      });
    });
  }
  render(snap);
  wabridge.live("/events/" + encodeURIComponent(slug) + "/stream", function (data) {
    $("offline").hidden = true;
    render(data);
  }, {
    onOpen: function () { $("offline").hidden = true; $("live").dataset.on = "1"; },
    onError: function () { $("offline").hidden = false; $("live").dataset.on = ""; },
    probe: api
  });
}());
