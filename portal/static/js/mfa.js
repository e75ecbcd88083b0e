// Two-factor pages: print the recovery codes, confirm risky buttons. No inline script: the CSP forbids it.
(function () {
  "use strict";
  document.querySelectorAll("[data-portal-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-portal-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.portalConfirm)) { event.preventDefault(); }
    });
  });
}());
