// Passkeys: runs the WebAuthn ceremony for forms marked data-passkey ("register" or "authenticate").
// It asks the form's data-options-url for the options, calls the browser, puts the answer in the form's
// "credential" field and submits the form. No inline script: the CSP forbids it.
(function () {
  "use strict";
  if (!window.PublicKeyCredential) { return; }

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) { return Object.assign({}, item, {id: toBuffer(item.id)}); });
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function answer(credential) {
    var response = credential.response, json = {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: {clientDataJSON: toText(response.clientDataJSON)}
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = toText(response.userHandle);
    }
    return JSON.stringify(json);
  }

  function showError(form, message) {
    var box = form.querySelector("[data-passkey-error]") ||
      (form.closest("section") && form.closest("section").querySelector("[data-passkey-error]"));
    if (box) { box.textContent = message; box.classList.remove("d-none"); }
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.passkeyReady === "1") { return; }
      event.preventDefault();
      var body = new FormData();
      var purpose = form.querySelector("input[name=purpose]");
      if (purpose) { body.append("purpose", purpose.value); }
      var token = form.querySelector("input[name=csrf_token]").value;
      fetch(form.dataset.optionsUrl, {method: "POST", body: body, credentials: "same-origin",
                                      headers: {"X-CSRFToken": token, "Accept": "application/json"}})
        .then(function (response) {
          return response.json().then(function (data) {
            if (response.status === 401 && data.step_up) { window.location.assign(data.step_up); throw null; }
            if (!response.ok) { throw new Error(data.message || response.statusText); }
            return data;
          });
        })
        .then(function (options) {
          return form.dataset.passkey === "register"
            ? navigator.credentials.create({publicKey: creationOptions(options)})
            : navigator.credentials.get({publicKey: requestOptions(options)});
        })
        .then(function (credential) {
          form.querySelector("input[name=credential]").value = answer(credential);
          form.dataset.passkeyReady = "1";
          form.submit();
        })
        .catch(function (error) { if (error) { showError(form, error.message || String(error)); } });
    });
  });
}());
