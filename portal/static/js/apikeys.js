// API keys: copy a new key to the clipboard and warn when "never expires" is chosen (revoking has its
// own confirmation page). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var copy = document.getElementById("apikey-copy");
  if (copy) {
    copy.addEventListener("click", function () {
      var field = document.getElementById(copy.dataset.copyTarget);
      var done = function () { copy.textContent = copy.dataset.copiedLabel; };
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (document.execCommand("copy")) { done(); }
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  }

  var warning = document.getElementById("apikey-never-warning");
  if (warning) {
    document.querySelectorAll("input[name=lifetime]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        warning.classList.toggle("d-none", radio.value !== "never" || !radio.checked);
      });
    });
  }
}());
