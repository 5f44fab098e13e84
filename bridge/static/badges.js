// Printable QR sheet: the Print button (inline handlers are not allowed by the page's CSP).
(function () {
  "use strict";
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
}());
