// Links screen: "Copy" puts a rotator's public link on the clipboard (or selects it where that is not allowed).
(function () {
  "use strict";
  function copied(button) {
    var label = button.textContent;
    button.textContent = _("Copied");
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    input.focus();
    input.select();
    // The clipboard API needs a secure context (https or localhost); plain http falls back to execCommand.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { copied(button); }, function () {
        if (document.execCommand("copy")) { copied(button); }
      });
    } else if (document.execCommand("copy")) {
      copied(button);
    }
  });
}());
