// Pairing page: follows the session over server-sent events and keeps the page current.
// The QR payload never travels in the event stream; the image is re-fetched by sequence.
(function () {
  "use strict";

  var root = document.getElementById("pair");
  if (!root) { return; }
  var number = root.dataset.number;
  var base = "/pair/" + encodeURIComponent(number);
  var api = "/api/sessions/" + encodeURIComponent(number);
  var view = JSON.parse(document.getElementById("initial").textContent);
  var clockOffset = 0;  // server minus browser time: a wrong laptop clock must not break the countdown
  var shownSeq = (view.qr && document.getElementById("qr").getAttribute("src")) ? view.qr.seq : null;
  var pairCode = document.getElementById("pair-code").textContent.trim() || null;

  function $(id) { return document.getElementById(id); }

  function setText(id, text) { $(id).textContent = text; }

  function sectionFor(v) {
    if (pairCode && (v.section === "qr" || v.section === "code" || v.section === "wait")) {
      return "code";  // a code was just requested; the state follows a moment later
    }
    return v.section;
  }

  function render(v) {
    view = v;
    if (v.server_time) { clockOffset = Date.parse(v.server_time) - Date.now(); }
    if (v.state !== "PAIRING_CODE" && v.state !== "SCAN_QR" && v.state !== "STARTING") {
      pairCode = null;
    }
    root.dataset.state = v.state;
    $("state-dot").dataset.state = v.state;
    setText("state-words", v.headline || v.state_words);
    var section = sectionFor(v);
    var blocks = document.querySelectorAll("section[data-section]");
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].hidden = blocks[i].dataset.section !== section;
    }
    if (v.qr && v.qr.seq !== shownSeq) {
      shownSeq = v.qr.seq;
      $("qr").src = base + "/qr.svg?seq=" + encodeURIComponent(v.qr.seq);
    }
    renderCode();
    renderConnected(v);
    renderProblem(v);
    tick();
  }

  function renderCode() {
    setText("pair-code", pairCode || "");
    $("code-missing").hidden = !!pairCode;
    $("new-code").hidden = !!pairCode;
  }

  function renderConnected(v) {
    var el = $("linked-as");
    el.textContent = "";
    if (v.push_name) {
      // "Linked to {name}": the name in bold wherever the language puts it
      var words = _("Linked to {name}").split("{name}");
      el.appendChild(document.createTextNode(words[0]));
      var strong = document.createElement("strong");
      strong.textContent = v.push_name;
      el.appendChild(strong);
      el.appendChild(document.createTextNode(words[1] || ""));
    } else {
      el.appendChild(document.createTextNode(_("Linked")));
    }
    if (v.linked_phone) { el.appendChild(document.createTextNode(" (+" + v.linked_phone + ")")); }
    el.appendChild(document.createTextNode("."));
    $("last-message").hidden = !v.last_message_at;
    if (v.last_message_at) {
      setText("last-message-at", wabridge.when(v.last_message_at));
    }
  }

  function renderProblem(v) {
    setText("problem-text", v.problem_text || "");
    $("problem-text").hidden = !v.problem_text;
    var wrong = v.reason === "wrong_number";
    $("wrong-number").hidden = !wrong;
    var who = $("attempted-who");
    who.textContent = v.attempted_phone ? _("The phone") + " " : _("Another phone");
    if (v.attempted_phone) {
      var strong = document.createElement("strong");
      strong.textContent = "+" + v.attempted_phone;
      who.appendChild(strong);
    }
  }

  function tick() {
    if (!view.qr || view.state !== "SCAN_QR") { return; }
    var now = Date.now() + clockOffset;
    var expires = Date.parse(view.qr.expires_at);
    var issued = Date.parse(view.qr.issued_at);
    var left = Math.max(0, Math.ceil((expires - now) / 1000));
    var share = expires > issued ? Math.max(0, Math.min(1, (expires - now) / (expires - issued))) : 0;
    $("timer-bar").style.width = (share * 100).toFixed(1) + "%";
    setText("countdown", left > 0
      ? wabridge.format(_("This code changes in {seconds} s."), {seconds: left})
      : _("Getting a new code…"));
  }

  function showError(message) {
    var el = $("action-error");
    el.textContent = message || "";
    el.hidden = !message;
  }

  function post(path) {
    showError("");
    return wabridge.json(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Requested-With": "wabridge-pair" }
    });
  }

  function requestCode() {
    var buttons = [$("use-code"), $("new-code")];
    buttons.forEach(function (b) { b.disabled = true; });
    post(api + "/pair-code").then(function (body) {
      pairCode = body.code;
      render(view);
    }).catch(function (err) {
      showError(err.message);
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  function restart() {
    var button = this;
    button.disabled = true;
    pairCode = null;
    post(api + "/restart").catch(function (err) {
      showError(err.message);
    }).then(function () {
      button.disabled = false;
    });
  }

  $("use-code").addEventListener("click", requestCode);
  $("new-code").addEventListener("click", requestCode);
  $("back-to-qr").addEventListener("click", restart);
  $("restart").addEventListener("click", restart);
  $("qr").addEventListener("error", function () { shownSeq = null; });
  render(view);
  window.setInterval(tick, 1000);
  wabridge.live(base + "/events", function (data) {
    $("offline").hidden = true;
    render(data);
  }, {
    onOpen: function () { $("offline").hidden = true; },
    onError: function () { $("offline").hidden = false; },
    probe: api  // a 401 here means the login ended; anything else: try again later
  });
}());
