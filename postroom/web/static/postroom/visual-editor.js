/* The campaign body's modes — Markdown, Visual, HTML, plain text — on one textarea.
 *
 * The textarea (name=body) and the format select (name=body_format) stay the form's
 * fields; this file only switches what edits them. Visual is a Squire editor
 * (vendor/squire-rte-*) over a contenteditable surface; it and the HTML mode share
 * one HTML body (body_format=html), so switching between them keeps everything.
 * Markdown or plain text → visual/HTML goes through the server's rendering
 * (campaign_convert); visual/HTML → Markdown or plain text keeps only the text and
 * the links, and asks first. Whatever is saved, the server cleans again
 * (postroom.mail.sanitize): DOMPurify here only guards the editing page.
 *
 * Loaded as a static file, no inline script (the app's CSP). With others:
 *   [data-media-picker]  the toolbar's "Media library", shown when the form has the
 *                        media picker's dialog (#media-picker-dialog, media-picker.js);
 *                        in the visual mode every `postroom:media-picked` image goes
 *                        in at the editor's cursor.
 *   window.PostroomVisualEditor.insertImage(url, alt) puts an image in from anywhere.
 */
(function () {
  "use strict";
  var MEDIA_DIALOG = "media-picker-dialog";

  var root = document.querySelector("[data-body-editor]");
  if (!root || !window.Squire || !window.DOMPurify) return;

  var select = root.querySelector("select[name=body_format]");
  var textarea = root.querySelector("textarea[name=body]");
  var surface = root.querySelector("[data-visual-surface]");
  var visual = root.querySelector("[data-visual]");
  var modeSwitch = root.querySelector("[data-mode-switch]");
  var note = root.querySelector("[data-mode-note]");
  var errorBox = root.querySelector("[data-mode-error]");
  var dialog = root.querySelector("[data-ve-dialog]");
  if (!select || !textarea || !surface) return;
  var formatField = select.closest(".field");
  var bodyLabel = root.querySelector("label[for=" + textarea.id + "]");
  // The page's own words, in the admin's language (data-text-* on the editor); English without.
  function say(key, english) { return root.dataset[key] || english; }

  var BUTTON_COLOUR = "#2563eb";

  // DOMPurify tests every attribute value outside its URI-safe list against this:
  // its own default pattern, with only the schemes an email needs. Anything starting
  // with a letter run and a colon that is not one of them (javascript:) is dropped.
  var SAFE_VALUE = /^(?:(?:https?|mailto|tel):|[^a-z]|[a-z+.\-]+(?:[^a-z+.\-:]|$))/i;
  // What the link, image and button dialogs accept: an absolute address or a template
  // tag such as {{ view_url }}.
  var DIALOG_URL = /^(?:https?:\/\/\S+|mailto:\S+|tel:\S+|\{\{.*\}\})$/i;

  function sanitize(html) {
    var fragment = window.DOMPurify.sanitize(html, {
      RETURN_DOM_FRAGMENT: true,
      ALLOWED_URI_REGEXP: SAFE_VALUE,
      FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
    });
    return fragment ? document.importNode(fragment, true) : document.createDocumentFragment();
  }

  var editor = new window.Squire(surface, {
    blockTag: "P",
    sanitizeToDOMFragment: sanitize,
  });

  function formatOf(mode) { return mode === "visual" ? "html" : mode; }

  // An HTML body opens in the visual editor unless it holds template statements
  // ({% if %}, {% for %}): a browser's parser may move them, so they stay as written.
  var mode = select.value === "html" && !/\{%/.test(textarea.value) ? "visual" : select.value;

  function announce(text) {
    if (!errorBox) return;
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function syncFromEditor() {
    // The empty blocks Squire keeps after the last one (a place for the cursor) are no content.
    var html = editor.getHTML().replace(/(?:<(p|div)><br><\/\1>)+$/, "");
    if (textarea.value !== html) {
      textarea.value = html;
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  function show(next) {
    mode = next;
    var isVisual = mode === "visual";
    visual.hidden = !isVisual;
    textarea.closest(".field").hidden = isVisual;
    if (bodyLabel) bodyLabel.textContent = mode === "html" ? say("textBodyHtml", "Body (HTML):") : say("textBody", "Body:");
    modeSwitch.querySelectorAll("[data-mode]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-mode") === mode ? "true" : "false");
    });
    if (select.value !== formatOf(mode)) {
      select.value = formatOf(mode);
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function convert(body, from, to) {
    var form = new FormData();
    form.append("body", body);
    form.append("from", from);
    form.append("to", to);
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(root.getAttribute("data-convert-url"), {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || "the body could not be converted");
        return data.body;
      });
    });
  }

  // Whether a switch into the visual editor would change the text or the links. The text
  // is compared with the source's own, not with a browser parse of it: parsing already
  // moves what sits between table rows ({% for %}), which is exactly what is lost.
  function lostInVisual(html) {
    var letters = function (text) { return text.replace(/\s+/g, ""); };
    var stripped = html.replace(/<!--[\s\S]*?-->/g, "").replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, "")
      .replace(/<[^>]*>/g, "");
    var sourceText = new DOMParser().parseFromString(stripped, "text/html").body.textContent || "";
    var original = document.createElement("template");
    original.innerHTML = html;
    var targets = function (node) {
      return Array.prototype.map.call(node.querySelectorAll("[href], [src]"), function (el) {
        return el.getAttribute("href") || el.getAttribute("src");
      }).join(" ");
    };
    editor.setHTML(html);
    var after = editor.getRoot();
    return letters(sourceText) !== letters(after.textContent || "")
      || targets(original.content) !== targets(after);
  }

  function switchTo(next) {
    if (next === mode) return;
    announce("");
    var from = mode;
    if (from === "visual") syncFromEditor();
    var body = textarea.value;
    var fromFormat = formatOf(from);
    var toFormat = formatOf(next);

    if (fromFormat === "html" && toFormat !== "html") {
      var target = modeSwitch.querySelector('[data-mode="' + next + '"]');
      var question = say("textToText", "Switch to {mode}? It keeps the text and lists the links,"
        + " but the formatting, images, buttons and columns are lost.")
        .replace("{mode}", target ? target.textContent.trim() : next);
      if (body.trim() && !window.confirm(question)) return;
      convert(body, "html", toFormat).then(function (converted) {
        textarea.value = converted;
        show(next);
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
      }).catch(function (error) { announce(say("textNotSwitched", "Not switched:") + " " + error.message); });
      return;
    }
    if (toFormat === "html" && fromFormat !== "html") {
      convert(body, fromFormat, "html").then(function (html) {
        enter(next, html);
      }).catch(function (error) { announce(say("textNotSwitched", "Not switched:") + " " + error.message); });
      return;
    }
    if (next === "visual") {  // from HTML
      if (lostInVisual(body) && !window.confirm(say("textToVisual", "The visual editor cannot keep"
          + " all of this HTML as written (some text, links or markup would change). Switch anyway?"))) {
        return;
      }
      enter(next, body);
      return;
    }
    show(next);  // visual → HTML (already synced), Markdown ↔ plain text: the text stays
  }

  function enter(next, html) {
    textarea.value = html;
    if (next === "visual") {
      editor.setHTML(html);
      show(next);
      syncFromEditor();
    } else {
      show(next);
    }
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /* ---- The toolbar ---- */

  function setBlocks(tag) {
    editor.modifyBlocks(function (fragment) {
      Array.prototype.slice.call(fragment.childNodes).forEach(function (node) {
        if (node.nodeType !== 1 || !/^(P|DIV|H[1-6])$/.test(node.nodeName)) return;
        var replacement = document.createElement(tag);
        while (node.firstChild) replacement.appendChild(node.firstChild);
        fragment.replaceChild(replacement, node);
      });
      return fragment;
    });
  }

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Email-safe: a table cell with the colour as an attribute too, for Outlook's Word engine.
  function buttonBlock(url, label) {
    var link = element("a", {
      href: url,
      style: "display:inline-block;padding:12px 24px;color:#ffffff;background-color:" + BUTTON_COLOUR
        + ";border-radius:6px;font-weight:bold;text-decoration:none",
    }, [label]);
    var cell = element("td", {
      align: "center", bgcolor: BUTTON_COLOUR,
      style: "border:0;padding:0;border-radius:6px;background-color:" + BUTTON_COLOUR,
    }, [link]);
    return element("table", {
      class: "pr-button", role: "presentation", cellpadding: "0", cellspacing: "0", border: "0",
      style: "margin:8px 0 16px;border-collapse:separate",
    }, [element("tbody", {}, [element("tr", {}, [cell])])]);
  }

  function columnsBlock() {
    var column = function (side, text) {
      return element("td", {
        class: "pr-column", width: "50%", valign: "top",
        style: "width:50%;vertical-align:top;border:0;padding:" + (side === "left" ? "0 12px 0 0" : "0 0 0 12px"),
      }, [element("p", {}, [text])]);
    };
    return element("table", {
      class: "pr-columns", role: "presentation", width: "100%", cellpadding: "0", cellspacing: "0",
      border: "0", style: "width:100%;border-collapse:collapse;margin:0 0 16px",
    }, [element("tbody", {}, [element("tr", {}, [column("left", say("textLeftColumn", "Left column")), column("right", say("textRightColumn", "Right column"))])])]);
  }

  // A block (button, columns) goes after the paragraph the cursor is in, inside the
  // column cell when the cursor is in one: Squire's own insertElement splits up to the
  // top level, which would cut a column table in two.
  function insertBlock(node) {
    var range = editor.getSelection();
    var at = range.startContainer;
    if (at.nodeType !== 1) at = at.parentNode;
    if (!surface.contains(at)) at = surface;
    var block = at;
    while (block !== surface && block.parentNode !== surface && block.parentNode.nodeName !== "TD") {
      block = block.parentNode;
    }
    editor.saveUndoState();
    var parent = block === surface || block.nodeName === "TD" ? block : block.parentNode;
    if (block === surface || block.nodeName === "TD") {
      parent.appendChild(node);
    } else if (!block.textContent.trim() && !block.querySelector("img, table")) {
      parent.replaceChild(node, block);  // an empty paragraph becomes the block
    } else {
      parent.insertBefore(node, block.nextSibling);
    }
    var next = node.nextElementSibling;
    if (!next || next.nodeName === "TABLE") {
      next = element("p", {}, [element("br")]);
      parent.insertBefore(next, node.nextSibling);
    }
    var after = document.createRange();
    after.setStart(next, 0);
    after.collapse(true);
    editor.setSelection(after);
  }

  function insertImage(url, alt) {
    if (mode !== "visual") switchTo("visual");
    editor.insertImage(url, { alt: alt || "", style: "max-width:100%;height:auto" });
  }

  var pending = null;  // what the dialog's Insert does

  function ask(title, textLabel, initial, apply) {
    dialog.querySelector("[data-ve-title]").textContent = title;
    var url = dialog.querySelector("[data-ve-url]");
    var text = dialog.querySelector("[data-ve-text]");
    var textField = dialog.querySelector("[data-ve-text-field]");
    url.value = initial.url || "";
    text.value = initial.text || "";
    textField.hidden = !textLabel;
    if (textLabel) dialog.querySelector("[data-ve-text-label]").textContent = textLabel;
    dialog.querySelector("[data-ve-problem]").hidden = true;
    pending = apply;
    editor.saveUndoState();
    dialog.showModal();
    url.focus();
  }

  function applyDialog() {
    var url = dialog.querySelector("[data-ve-url]").value.trim();
    var text = dialog.querySelector("[data-ve-text]").value.trim();
    var problem = dialog.querySelector("[data-ve-problem]");
    if (!DIALOG_URL.test(url)) {
      problem.textContent = say("textBadUrl", "Give an address starting with https://, http://, mailto: or tel:.");
      problem.hidden = false;
      return;
    }
    dialog.close();
    editor.focus();
    if (pending) pending(url, text);
    pending = null;
  }

  var commands = {
    bold: function () { editor.hasFormat("B") ? editor.removeBold() : editor.bold(); },
    italic: function () { editor.hasFormat("I") ? editor.removeItalic() : editor.italic(); },
    h2: function () { setBlocks("H2"); },
    h3: function () { setBlocks("H3"); },
    p: function () { setBlocks("P"); },
    ul: function () { editor.hasFormat("UL") ? editor.removeList() : editor.makeUnorderedList(); },
    ol: function () { editor.hasFormat("OL") ? editor.removeList() : editor.makeOrderedList(); },
    quote: function () { editor.hasFormat("BLOCKQUOTE") ? editor.decreaseQuoteLevel() : editor.increaseQuoteLevel(); },
    undo: function () { editor.undo(); },
    redo: function () { editor.redo(); },
    link: function () {
      var selected = editor.getSelectedText();
      ask(say("textLink", "Link"), selected ? null : say("textLinkText", "Link text"), {}, function (url, text) {
        if (selected) {
          editor.makeLink(url);
        } else {
          editor.insertHTML(element("a", { href: url }, [text || url]).outerHTML);
        }
      });
    },
    image: function () {
      ask(say("textImage", "Image"), say("textAlt", "Description (alt text)"), { url: "https://" }, function (url, text) { insertImage(url, text); });
    },
    button: function () {
      ask(say("textButton", "Button"), say("textButtonLabel", "Button label"), { text: say("textReadMore", "Read more") }, function (url, text) {
        insertBlock(buttonBlock(url, text || say("textReadMore", "Read more")));
      });
    },
    columns: function () { insertBlock(columnsBlock()); },
  };

  root.querySelectorAll("[data-command]").forEach(function (button) {
    button.addEventListener("click", function () {
      var command = commands[button.getAttribute("data-command")];
      editor.focus();
      command();
      syncFromEditor();
    });
  });

  // The media library's picker (media-picker.js) fills its dialog when a button names
  // it; in the visual mode the image it picks goes into this editor, whichever of the
  // form's buttons opened it (the textarea it would go into is hidden then).
  var picker = root.querySelector("[data-media-picker]");
  var mediaDialog = document.getElementById(MEDIA_DIALOG);
  if (picker && mediaDialog) {
    picker.setAttribute("data-media-picker", MEDIA_DIALOG);
    picker.hidden = false;
  }
  document.addEventListener("postroom:media-picked", function (event) {
    if (mode !== "visual" && event.target !== picker) return;
    event.preventDefault();
    insertImage(event.detail.url, event.detail.alt);
    syncFromEditor();
  });
  window.PostroomVisualEditor = { insertImage: insertImage, editor: editor };

  if (dialog) {
    dialog.querySelector("[data-ve-apply]").addEventListener("click", applyDialog);
    dialog.querySelector("[data-ve-cancel]").addEventListener("click", function () { dialog.close(); });
    // The dialog's fields belong to no form field: keep them out of the live preview,
    // and Enter inserts instead of submitting the campaign form.
    dialog.addEventListener("input", function (event) { event.stopPropagation(); });
    dialog.addEventListener("change", function (event) { event.stopPropagation(); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); applyDialog(); }
    });
  }

  // Only while it is the editor shown: a hidden Squire still hears events (a field of
  // another dialog being typed in) and would write its empty body over the textarea's.
  editor.addEventListener("input", function () { if (mode === "visual") syncFromEditor(); });
  modeSwitch.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-mode]") : null;
    if (button) switchTo(button.getAttribute("data-mode"));
  });
  // Saving from the visual editor: the textarea holds its latest HTML.
  textarea.form.addEventListener("submit", function () { if (mode === "visual") syncFromEditor(); }, true);

  if (mode === "visual") editor.setHTML(textarea.value);
  formatField.hidden = true;
  modeSwitch.hidden = false;
  if (note) note.hidden = false;
  show(mode);
})();
