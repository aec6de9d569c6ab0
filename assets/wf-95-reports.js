/* Watchfloor /reports: the officer's form marks the field a "Not filed" message names (aria-invalid,
 * outlined) and brings it into view, so the officer fixes it where it is. One of the assets/wf-*.js
 * files; its own clientside namespace, "wfreports" (dashboard/reports/officer_form.py). */
(function () {
  "use strict";

  function markField(domId) {
    document.querySelectorAll(".wf-sar-invalid").forEach(function (el) {
      el.classList.remove("wf-sar-invalid");
      el.removeAttribute("aria-invalid");
    });
    var el = domId ? document.getElementById(domId) : null;
    if (el) {
      el.classList.add("wf-sar-invalid");
      el.setAttribute("aria-invalid", "true");
      el.scrollIntoView({block: "center"});
      if (typeof el.focus === "function") { el.focus({preventScroll: true}); }
    }
    return window.dash_clientside.no_update;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {wfreports: {markField: markField}});
})();
