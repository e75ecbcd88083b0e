// User center: "send code" buttons post their form in the background, so what the user typed
// (passwords included) stays in place, and then count down before the next send.
(function () {
  "use strict";
  var WAIT_SECONDS = 60;

  function feedback(form) {
    var box = form.querySelector(".portal-send-feedback");
    if (!box) {
      box = document.createElement("div");
      box.className = "portal-send-feedback small mt-2";
      box.setAttribute("role", "status");
      form.appendChild(box);
    }
    return box;
  }

  function countDown(button) {
    var label = button.textContent;
    var left = WAIT_SECONDS;
    button.disabled = true;
    var timer = window.setInterval(function () {
      left -= 1;
      button.textContent = label + " (" + left + ")";
      if (left <= 0) {
        window.clearInterval(timer);
        button.textContent = label;
        button.disabled = false;
      }
    }, 1000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-portal-send]");
    if (!button || !window.fetch || !window.FormData) {
      return;
    }
    event.preventDefault();
    var form = button.form;
    var data = new FormData(form);
    if (button.name) {
      data.set(button.name, button.value);
    }
    var box = feedback(form);
    button.disabled = true;
    // Not form.action: the buttons are named "action", and a named control shadows the property.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      if (answer.step_up) {
        // The change needs the owner to confirm it is them first (portal.auth.stepup).
        window.location.assign(answer.step_up);
        return;
      }
      box.textContent = answer.message;
      box.className = "portal-send-feedback small mt-2 " + (answer.ok ? "text-success" : "text-danger");
      if (answer.ok) {
        countDown(button);
      } else {
        button.disabled = false;
      }
    }).catch(function () {
      button.disabled = false;
      form.requestSubmit(button);
    });
  });
})();
