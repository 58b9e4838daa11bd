// Copy buttons: beside a monitor's Copy URL, the redirect URI of an own
// app registration, a revealed signing secret or a new API key, a button
// copies the read-only field's text to the clipboard. Without JavaScript
// the text stays in the field to be selected and copied by hand; the
// button is hidden until this runs.
(function () {
  "use strict";
  function copied(button, ok) {
    var status = button.parentNode.querySelector(".copy-status");
    if (status) {
      status.textContent = ok ? "Copied." : "Select the text and copy it.";
    }
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { copied(button, true); },
          function () { copied(button, false); });
        return;
      }
      copied(button, document.execCommand && document.execCommand("copy"));
    });
  });
})();
