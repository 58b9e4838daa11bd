// Copy URL: a button beside each monitor's sign-in link copies it to the
// clipboard. Without JavaScript the link stays in a read-only field that
// can be selected and copied by hand; the button is hidden until this runs.
(function () {
  "use strict";
  function copied(button, ok) {
    var status = button.parentNode.querySelector(".copy-status");
    if (status) {
      status.textContent = ok ? "Copied." : "Select the link and copy it.";
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
