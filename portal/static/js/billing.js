// The order page: count down the QR code's validity and poll the order's status until it is paid,
// expired or closed. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var box = document.getElementById("billing-order");
  if (!box) { return; }
  var statusUrl = box.dataset.statusUrl;
  var secondsLeft = parseInt(box.dataset.secondsLeft, 10) || 0;
  var countdown = document.getElementById("billing-countdown");
  var pollTimer = null;
  var tickTimer = null;

  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) { el.classList.toggle("d-none", !visible); }
  }

  function finish(data) {
    window.clearInterval(pollTimer);
    window.clearInterval(tickTimer);
    show("billing-pay-box", false);
    document.getElementById("billing-state").textContent = data.label;
    if (data.state === "paid") {
      show("billing-paid", true);
      if (data.balance !== null) {
        document.querySelectorAll("#billing-balance, #billing-paid [data-balance]").forEach(function (el) {
          el.textContent = "\u00a5" + data.balance;
        });
      }
    } else {
      show("billing-ended", true);
    }
  }

  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.state !== "pending") { finish(data); } })
      .catch(function () { /* the network dropped: try again at the next tick */ });
  }

  function tick() {
    secondsLeft = Math.max(0, secondsLeft - 1);
    if (countdown) {
      var m = Math.floor(secondsLeft / 60), s = secondsLeft % 60;
      countdown.textContent = (countdown.dataset.format || "{m}:{s}").replace("{m}", m).replace("{s}", (s < 10 ? "0" : "") + s);
    }
    if (secondsLeft === 0 && countdown) {
      // The QR code expired at the channel: reload to offer a new one (the order may still be paid).
      window.clearInterval(tickTimer);
      window.setTimeout(function () { window.location.reload(); }, 3000);
    }
  }

  if (box.dataset.state === "pending" && countdown) {
    pollTimer = window.setInterval(poll, 2000);
    tickTimer = window.setInterval(tick, 1000);
  }
}());
