/* Postroom's few page behaviours, attached by data attributes instead of inline handlers,
 * so the Content-Security-Policy can forbid every inline script.
 *
 *   <form data-confirm="Delete this sender?">     asks before submitting
 *   <input type="checkbox" data-check-all="SEL">  ticks every checkbox matching SEL
 *   <select data-autosubmit>                      submits its form when changed
 *   <button data-open-dialog="ID">                opens the <dialog id=ID> as a modal
 *   <button data-close-dialog>                    closes the dialog it is in
 *   <form data-inert>                             never submits (the UI kit's samples)
 *   <button data-menu-toggle aria-controls="ID">  opens and closes the phone menu
 *   <table class="table">                         gets data-label on its cells (from its
 *                                                 column headings), so CSS can show each
 *                                                 row as a card on a phone
 *   <div class="table-wrap">                      reachable by keyboard when it scrolls
 *   <div class="preview-frames"><iframe>          each campaign preview frame grows to its
 *                                                 email's height once loaded (see fitFrame)
 *
 * It also tells the server the reader's time zone (the `tz` cookie), so times are
 * shown on their clock (postroom/web/timezones.py).
 */
(function () {
  "use strict";

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* an old browser: the installation's TIME_ZONE applies */ }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-inert")) {
      event.preventDefault();
      return;
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var all = target.closest("[data-check-all]");
    if (all) {
      document.querySelectorAll(all.getAttribute("data-check-all")).forEach(function (box) {
        box.checked = all.checked;
      });
    }
    var opener = target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && dialog.showModal) dialog.showModal();
    }
    var closer = target.closest("[data-close-dialog]");
    if (closer && closer.closest("dialog")) closer.closest("dialog").close();
  });

  document.documentElement.classList.add("js");

  document.addEventListener("click", function (event) {
    var toggle = event.target instanceof Element ? event.target.closest("[data-menu-toggle]") : null;
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (menu) menu.classList.toggle("open", open);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var toggle = document.querySelector('[data-menu-toggle][aria-expanded="true"]');
    if (!toggle) return;
    toggle.click();
    toggle.focus();
  });

  function labelTables(root) {
    root.querySelectorAll("table.table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        // A heading only screen readers get (an actions column) labels no card row.
        return th.querySelector(".visually-hidden") ? "" : th.textContent.trim();
      });
      table.classList.add("cards");
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (!cell.hasAttribute("data-label") && heads[index] && index > 0) {
            cell.setAttribute("data-label", heads[index]);
          }
        });
      });
    });
    root.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        var caption = wrap.closest("section") && wrap.closest("section").querySelector("h2, h3");
        wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      } else if (!scrolls && wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  labelTables(document);
  document.addEventListener("htmx:afterSettle", function () { labelTables(document); });
  window.addEventListener("resize", function () { labelTables(document); });

  // A sandboxed frame of another origin is painted by chromium only where the window showed
  // it, so in a full-page screenshot the rest of a preview stayed blank (and its inner
  // scrollbar hid the email's end). Sized to its content, the whole email is part of the
  // page. Reading the height needs sandbox="allow-same-origin", never with allow-scripts:
  // nothing in the email runs, only this script reads it.
  function fitFrame(frame) {
    var doc = null;
    try { doc = frame.contentDocument; } catch (e) { /* another origin after a click: leave it */ }
    if (!doc || doc.URL !== "about:srcdoc" || !doc.documentElement) return;
    var x = window.scrollX, y = window.scrollY;
    // Measured at no height: in quirks mode (many emails) html and body fill the frame.
    frame.style.height = "0px";
    var height = (doc.scrollingElement || doc.documentElement).scrollHeight;
    var border = frame.offsetHeight - frame.clientHeight;  // its CSS height includes them
    frame.style.height = Math.ceil(height + border) + "px";
    if (window.scrollX !== x || window.scrollY !== y) window.scrollTo(x, y);
  }
  function fitFrames() {
    document.querySelectorAll(".preview-frames iframe").forEach(fitFrame);
  }
  document.addEventListener("load", function (event) {  // frame loads do not bubble: capture
    if (event.target instanceof HTMLIFrameElement && event.target.closest(".preview-frames")) {
      fitFrame(event.target);
    }
  }, true);
  document.querySelectorAll(".preview-frames iframe").forEach(function (frame) {
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fitFrame(frame);
  });  // those loaded before this script; a loading frame set to no height stalled the page's load
  var fitting = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(fitting);
    fitting = requestAnimationFrame(fitFrames);
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    }
  });
})();
