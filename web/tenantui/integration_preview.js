// The mapping rules' live preview: as the rules form changes, it is posted
// to the preview endpoint, which answers what the rules give for common
// presences, shown in place. Without JavaScript the form's Preview button
// posts it and the page comes back with the same preview.
(function () {
  "use strict";
  var form = document.getElementById("rules-form");
  var preview = document.getElementById("preview");
  if (!form || !preview || !window.fetch) {
    return;
  }
  var timer = null;
  var asked = 0;
  function update() {
    var n = ++asked;
    fetch(form.getAttribute("data-preview") + "?fragment=1", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (resp) {
      return resp.text().then(function (html) {
        if (n === asked) {
          preview.innerHTML = html;
          preview.setAttribute("data-preview-status", String(resp.status));
        }
      });
    }).catch(function () {});
  }
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
})();
