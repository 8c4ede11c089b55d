/* Passkeys (WebAuthn) on the log-in and two-factor pages; the server side is
 * web/views/passkeys.py. A form opts in with data attributes:
 *
 *   <form data-passkey="register|sign-in" data-options="URL" action="URL" hidden>
 *     <p data-passkey-status hidden></p> ... <button type="submit">
 *
 * The form is shown only where the browser can use passkeys. On submit this asks
 * data-options for the ceremony (JSON), lets the authenticator answer, posts the
 * answer as JSON to the form's action and goes where the answer says.
 */
(function () {
  "use strict";

  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    status.textContent = text;
    status.hidden = false;
  }

  function post(url, form, body) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {})
    }).then(function (answer) {
      return answer.json().catch(function () {
        return { error: "Postroom answered " + answer.status + "." };
      }).then(function (data) {
        if (!answer.ok) throw new Error(data.error || "Refused (" + answer.status + ").");
        return data;
      });
    });
  }

  function field(form, name) {
    var input = form.querySelector("input[name=" + name + "]");
    return input ? input.value : "";
  }

  function ceremony(form) {
    var registering = form.getAttribute("data-passkey") === "register";
    return post(form.getAttribute("data-options"), form).then(function (options) {
      if (registering) {
        return navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)
        });
      }
      return navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)
      });
    }).then(function (credential) {
      return post(form.action, form, {
        credential: credential.toJSON(),
        name: field(form, "name"),
        next: field(form, "next")
      });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    if (!supported) return;
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      ceremony(form).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (error) {
        button.disabled = false;
        say(form, error && error.name === "NotAllowedError"
          ? "Cancelled, or no passkey for Postroom on this device."
          : (error && error.message) || "The passkey did not work.");
      });
    });
  });
})();
