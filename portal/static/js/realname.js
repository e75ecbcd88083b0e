// The real-name progress page: count down the attempt's lifetime and poll its status until it is
// decided, then show the result on the tab. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var box = document.getElementById("realname-progress");
  if (!box) { return; }
  var statusUrl = box.dataset.statusUrl;
  var doneUrl = box.dataset.doneUrl;
  var secondsLeft = parseInt(box.dataset.secondsLeft, 10) || 0;
  var countdown = document.getElementById("realname-countdown");
  var pollTimer = null;
  var tickTimer = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.status !== "pending") {
          window.clearInterval(pollTimer);
          window.clearInterval(tickTimer);
          document.getElementById("realname-state").textContent = data.label;
          window.location.assign(doneUrl);
        }
      })
      .catch(function () { /* the network dropped: try again at the next tick */ });
  }

  function tick() {
    secondsLeft = Math.max(0, secondsLeft - 1);
    countdown.textContent = Math.floor(secondsLeft / 3600) + ":" + pad(Math.floor(secondsLeft % 3600 / 60)) +
      ":" + pad(secondsLeft % 60);
  }

  pollTimer = window.setInterval(poll, 2000);
  tickTimer = window.setInterval(tick, 1000);
}());
