/* Postroom sign-up forms on any website (no dependencies, no third party).
 *
 * For every <form data-postroom-signup>: the submit is sent with fetch as JSON
 * to the form's action (Postroom's /api/public/subscription; a cross-origin
 * call the list must allow), and the answer is shown in [data-postroom-message].
 * With data-captcha="URL" it first fetches a challenge and finds the number
 * whose SHA-256 with the salt gives it (ALTCHA's proof of work), in the
 * browser's own WebCrypto. Without this script the form still posts as a form.
 * With data-postroom-native (Postroom's own page) only the captcha is solved
 * here, and the form is then posted as usual.
 */
(function () {
  "use strict";

  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); })
      .join("");
  }

  async function solve(url) {
    if (!(window.crypto && window.crypto.subtle)) {
      throw new Error("This form needs a secure (https) page for its captcha.");
    }
    var response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("The captcha could not be loaded; try again.");
    var c = await response.json();
    var encoder = new TextEncoder();
    for (var n = 0; n <= c.maxnumber; n++) {
      var digest = await crypto.subtle.digest("SHA-256", encoder.encode(c.salt + n));
      if (hex(digest) === c.challenge) {
        return btoa(JSON.stringify({
          algorithm: c.algorithm, challenge: c.challenge, number: n,
          salt: c.salt, signature: c.signature
        }));
      }
    }
    throw new Error("The captcha could not be solved; try again.");
  }

  function payload(form) {
    var data = { email: "", name: "", lists: [], attributes: {} };
    new FormData(form).forEach(function (value, key) {
      if (key === "lists") data.lists.push(value);
      else if (key.indexOf("attributes.") === 0) data.attributes[key.slice(11)] = value;
      else data[key] = value;
    });
    return data;
  }

  async function submit(event) {
    var form = event.target;
    event.preventDefault();
    var message = form.querySelector("[data-postroom-message]");
    var button = form.querySelector("button[type=submit], button:not([type])");
    function say(text, ok) {
      if (!message) return;
      message.textContent = text;
      message.setAttribute("data-state", ok ? "ok" : "error");
    }
    if (button) button.disabled = true;
    try {
      var data = payload(form);
      if (form.dataset.captcha) {
        say("Checking you are not a robot…", true);
        data.altcha = await solve(form.dataset.captcha);
      }
      if ("postroomNative" in form.dataset) {
        // Postroom's own page: the solution rides along with an ordinary form post.
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = "altcha";
        field.value = data.altcha || "";
        form.appendChild(field);
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      var response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(data)
      });
      var body = await response.json().catch(function () { return {}; });
      if (response.ok) {
        say(body.message || "Thank you!", true);
        form.reset();
      } else {
        say(body.detail || "The sign-up failed (" + response.status + ").", false);
      }
    } catch (error) {
      // fetch rejects with a TypeError when the network or CORS refused: its words are
      // the browser's, not for people.
      var own = error && !(error instanceof TypeError) && error.message;
      say(own || "The sign-up could not be sent; try again later.", false);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function attach() {
    document.querySelectorAll("form[data-postroom-signup]").forEach(function (form) {
      if (form.dataset.postroomReady) return;
      form.dataset.postroomReady = "1";
      form.addEventListener("submit", submit);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach);
  else attach();
})();
