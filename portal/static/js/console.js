// Every page: avatars whose image cannot be loaded show the initial instead, and an avatar link
// field previews its image before the form is saved. No inline script: the CSP forbids it.
(function () {
  "use strict";

  function broken(img) {
    return img.complete && img.naturalWidth === 0;
  }

  function fallBack(img) {
    var box = img.closest("[data-avatar]");
    img.remove();
    if (box) {
      box.classList.add("portal-avatar-fallback");
      var initial = box.querySelector(".portal-avatar-initial");
      if (initial) { initial.setAttribute("aria-hidden", "false"); }
    }
  }

  function watch(img) {
    if (broken(img) && img.getAttribute("src")) { fallBack(img); return; }
    img.addEventListener("error", function () { fallBack(img); }, { once: true });
  }

  document.querySelectorAll("img[data-avatar-img]").forEach(watch);

  // The preview below an avatar link field (partials/avatar_preview.html).
  document.querySelectorAll("[data-avatar-input]").forEach(function (input) {
    var form = input.form;
    var preview = form && form.querySelector("[data-avatar-preview]");
    if (!preview) { return; }
    var box = preview.querySelector("[data-avatar]");
    var status = preview.querySelector("[data-avatar-status]");
    var timer = null;

    function say(key) {
      status.textContent = status.dataset[key];
      status.classList.toggle("text-danger", key === "broken");
    }

    function show() {
      var old = box.querySelector("img");
      if (old) { old.remove(); }
      box.classList.remove("portal-avatar-fallback");
      var url = input.value.trim();
      if (!url) { say("empty"); return; }
      if (!/^https:\/\/[^\s]+$/i.test(url)) { box.classList.add("portal-avatar-fallback"); say("broken"); return; }
      var img = document.createElement("img");
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("load", function () { say("ok"); });
      img.addEventListener("error", function () { img.remove(); box.classList.add("portal-avatar-fallback"); say("broken"); });
      say("loading");
      img.src = url;
      box.appendChild(img);
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(show, 300);
    });
    show();
  });
}());
