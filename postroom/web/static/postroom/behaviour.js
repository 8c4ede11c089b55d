/* Postroom's few page behaviours, attached by data attributes instead of inline handlers,
 * so the Content-Security-Policy can forbid every inline script.
 *
 *   <form data-confirm="Delete this sender?">     asks before submitting
 *   <input type="checkbox" data-check-all="SEL">  ticks every checkbox matching SEL
 *   <select data-autosubmit>                      submits its form when changed
 *   <button data-open-dialog="ID">                opens the <dialog id=ID> as a modal
 *   <button data-close-dialog>                    closes the dialog it is in
 *   <form data-inert>                             never submits (the UI kit's samples)
 */
(function () {
  "use strict";

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

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    }
  });
})();
