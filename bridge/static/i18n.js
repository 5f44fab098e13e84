// The page's words and time format, from the server (base.html's #i18n block, made by bridge.i18n):
// _("text") and ngettext("one", "many", n) translate; wabridge.format("{n} left", {n: 3}) fills in;
// wabridge.when(iso) and wabridge.clock(iso) write a time like the server does ("6 Des 2026 10:37 WIB").
// The JSON the pages read carries ISO 8601 in the workspace's offset, so the wall clock is in the text.
(function () {
  "use strict";
  var block = document.getElementById("i18n");
  var data = block ? JSON.parse(block.textContent) : {};
  var words = data.words || {};
  var wabridge = window.wabridge = window.wabridge || {};
  var noValue = data.no_value || "\u2014";

  window._ = function (text) {
    var found = words[text];
    return typeof found === "string" && found ? found : text;
  };

  window.ngettext = function (one, many, n) {
    var forms = words[one];
    if (Array.isArray(forms) && forms.length) {
      return forms[Math.min(n === 1 ? 0 : 1, forms.length - 1)];
    }
    return n === 1 ? one : many;
  };

  wabridge.language = data.language || "en";

  wabridge.format = function (text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  };

  var ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;

  function parts(iso) {
    var m = ISO.exec(String(iso || ""));
    if (!m) { return null; }
    var offset = m[6] === "Z" || !m[6] ? "+00:00" : m[6];
    var abbreviation = (data.abbreviations || {})[offset] || ("UTC" + (offset === "+00:00" ? "" : offset));
    return {year: m[1], month: parseInt(m[2], 10), day: parseInt(m[3], 10), clock: m[4] + ":" + m[5],
            zone: abbreviation};
  }

  // "10:37 WIB"
  wabridge.clock = function (iso) {
    var p = parts(iso);
    if (!p) { return iso ? String(iso) : noValue; }
    return p.clock + " " + p.zone;
  };

  // "6 Dec 2026 10:37 WIB" / "6 Des 2026 10:37 WIB"
  wabridge.when = function (iso) {
    var p = parts(iso);
    if (!p) { return iso ? String(iso) : noValue; }
    var month = (data.months || [])[p.month - 1] || String(p.month);
    return p.day + " " + month + " " + p.year + " " + p.clock + " " + p.zone;
  };
}());
