// Passkeys (WebAuthn): the browser's side of the forms marked data-passkey.
// Each form posts, as an ordinary form, the passkey's answer in its hidden
// "credential" field; this script gets that answer. On submit it asks the
// form's data-begin address for the options (JSON, with the page's CSRF
// token), lets the browser make a passkey (data-passkey="register") or use
// one ("signin", "assert"), writes the answer in and submits the form.
// Without this script, or in a browser without passkeys, the form posts no
// answer and the server says the browser cannot use passkeys; the notes
// marked data-passkey-unsupported stay shown until this script hides them.
(function () {
  "use strict";
  var supported = !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
  document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) {
    note.hidden = supported;
  });

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "====".slice(base64.length % 4 || 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's options (base64url text) as the browser takes them (bytes).
  function creationOptions(options) {
    var o = options.publicKey;
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }

  function requestOptions(options) {
    var o = options.publicKey;
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: o };
  }

  // The browser's answer as the server reads it (JSON, base64url).
  function answerOf(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = toBase64url(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    });
  }

  function begin(form) {
    return fetch(form.dataset.begin, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": form.querySelector("input[name=_csrf]").value }
    }).then(function (res) {
      return res.json().then(function (body) {
        if (body.redirect) {
          window.location.assign(body.redirect);
          throw null;
        }
        if (!res.ok) throw new Error(body.error || "Something went wrong. Reload the page and try again.");
        return body;
      });
    });
  }

  function say(form, message) {
    var status = form.querySelector("[data-passkey-status]");
    if (!status) return;
    status.textContent = message || "";
    status.hidden = !message;
  }

  function busy(form, on) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      if (on) b.setAttribute("aria-disabled", "true"); else b.removeAttribute("aria-disabled");
      b.classList.toggle("is-busy", on);
    });
  }

  // What went wrong in the browser, in words; null when the person simply
  // changed their mind or another request took over.
  function problem(err) {
    if (err === null) return null;
    if (err && err.name === "AbortError") return null;
    if (err && err.name === "NotAllowedError") return "The passkey was not used: it was cancelled, or took too long. Try again.";
    if (err && err.name === "InvalidStateError") return "This device already holds a passkey of yours. Use another device, or remove the old passkey first.";
    return (err && err.message) || "The passkey did not work. Try again.";
  }

  function finish(form, credential) {
    form.querySelector("input[name=credential]").value = answerOf(credential);
    form.submit();
  }

  var conditional = null; // the sign-in page's waiting autofill request

  function run(form) {
    var kind = form.dataset.passkey;
    say(form, "");
    if (!supported) {
      say(form, "This browser cannot use passkeys. Use another browser, or sign in another way.");
      return;
    }
    if (conditional) conditional.abort();
    busy(form, true);
    begin(form).then(function (options) {
      if (kind === "register") return navigator.credentials.create(creationOptions(options));
      return navigator.credentials.get(requestOptions(options));
    }).then(function (credential) {
      finish(form, credential);
    }).catch(function (err) {
      busy(form, false);
      say(form, problem(err));
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    // On the form itself, before app.js's guard against double submission
    // sees the event: this one is held back until the passkey answers.
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      event.stopPropagation();
      if (form.querySelector("[aria-disabled=true]")) return;
      run(form);
    });
  });

  // Passkeys among the email field's suggestions (autocomplete="username
  // webauthn"), where the browser offers them: choosing one signs in.
  var signIn = document.querySelector("form[data-passkey=signin][data-conditional]");
  if (!signIn || !supported || !PublicKeyCredential.isConditionalMediationAvailable) return;
  PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
    if (!available) return;
    var controller = new AbortController();
    conditional = controller;
    return begin(signIn).then(function (options) {
      var request = requestOptions(options);
      request.mediation = "conditional";
      request.signal = controller.signal;
      return navigator.credentials.get(request);
    }).then(function (credential) {
      if (credential) finish(signIn, credential);
    });
  }).catch(function (err) {
    say(signIn, problem(err));
  });
})();
