/* The media picker (docs/media.md).
 *
 * A button with data-media-picker="DIALOG-ID" opens that <dialog> and fills it with the
 * library's images (GET its data-src). Choosing one fires, on the button that opened it,
 *
 *   postroom:media-picked   (bubbles, cancelable)   detail: {id, url, name, alt, width, height}
 *
 * `width` is the image's, at most 600 (an email's usual width). Unless a listener calls
 * event.preventDefault() (an editor that inserts the image itself), the image goes in at
 * the cursor of the textarea named by the button's data-media-target: as Markdown or as
 * HTML, by the value of the <select> named by data-media-format.
 *
 * Other code opens the picker with PostroomMedia.open(element, dialogId): the event is
 * then fired on `element`.
 */
(function () {
  "use strict";
  var EMAIL_WIDTH = 600;

  function open(opener, dialogId) {
    var dialog = document.getElementById(dialogId || opener.getAttribute("data-media-picker"));
    if (!dialog) return;
    var body = dialog.querySelector("[data-media-picker-body]");
    dialog._mediaOpener = opener;
    // Where the image goes, taken now: the dialog's own fields take the focus meanwhile.
    var target = document.getElementById(opener.getAttribute("data-media-target") || "");
    dialog._mediaSelection = target ? [target.selectionStart, target.selectionEnd] : null;
    fetch(dialog.getAttribute("data-src"), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        body.innerHTML = html;
        var first = body.querySelector("[data-media-alt], [data-media-choice], a");
        if (first) first.focus();
      });
    dialog.showModal();
  }

  function escapeAttr(text) {
    return String(text).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function insertInto(textarea, format, d, selection) {
    var markup;
    if (format === "html") {
      markup = '<img src="' + escapeAttr(d.url) + '" alt="' + escapeAttr(d.alt) + '" width="' +
        d.width + '" style="max-width:100%;height:auto">';
    } else {
      markup = "![" + d.alt.replace(/[\[\]]/g, "") + "](" + d.url + ")";
    }
    var start = (selection ? selection[0] : textarea.selectionStart) || 0;
    var end = (selection ? selection[1] : textarea.selectionEnd) || 0;
    var value = textarea.value;
    textarea.value = value.slice(0, start) + markup + value.slice(end);
    textarea.selectionStart = textarea.selectionEnd = start + markup.length;
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true })); // the live preview
  }

  function pick(choice) {
    var dialog = choice.closest("dialog");
    var opener = (dialog && dialog._mediaOpener) || document.body;
    var alt = dialog && dialog.querySelector("[data-media-alt]");
    var name = choice.getAttribute("data-name");
    var width = parseInt(choice.getAttribute("data-width"), 10) || EMAIL_WIDTH;
    var detail = {
      id: parseInt(choice.getAttribute("data-id"), 10),
      url: choice.getAttribute("data-url"),
      name: name,
      alt: alt && alt.value.trim() ? alt.value.trim() : name.replace(/\.[a-z0-9]+$/i, ""),
      width: Math.min(width, EMAIL_WIDTH),
      height: parseInt(choice.getAttribute("data-height"), 10) || null,
    };
    if (dialog) dialog.close();
    var event = new CustomEvent("postroom:media-picked", {
      bubbles: true, cancelable: true, detail: detail,
    });
    if (!opener.dispatchEvent(event)) return;
    var target = document.getElementById(opener.getAttribute("data-media-target") || "");
    var format = document.getElementById(opener.getAttribute("data-media-format") || "");
    var selection = dialog ? dialog._mediaSelection : null;
    if (target) insertInto(target, format ? format.value : "markdown", detail, selection);
  }

  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-media-picker]");
    if (opener) { e.preventDefault(); open(opener); return; }
    var choice = e.target.closest("[data-media-choice]");
    if (choice) { e.preventDefault(); pick(choice); return; }
    var close = e.target.closest("[data-media-close]");
    if (close) { close.closest("dialog").close(); }
  });

  window.PostroomMedia = { open: open };
})();
