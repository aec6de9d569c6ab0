/* Watchfloor: the desk's "Brief & export" dialog (dashboard/panels/products.py).
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit.
 * The server decides what goes in (the reader's TLP) and logs each product; this only asks and saves. */
(function () {
  "use strict";
  function dialog() { return document.querySelector(".wf-products"); }
  function value(box, id) { var el = box.querySelector(id); return el ? String(el.value || "").trim() : ""; }
  function say(box, text, ok) {
    var out = box.querySelector(".wf-form-result");
    if (out) { out.textContent = text; out.className = "wf-form-result " + (ok ? "wf-ok" : "wf-bad"); }
  }
  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url; a.download = name; a.rel = "noopener"; a.hidden = true;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  function fileName(resp, fallback) {
    var m = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
    return m ? m[1] : fallback;
  }
  function refusal(resp) {
    return resp.json().then(function (d) { return d.message || d.reason || d.detail || ("refused (HTTP " + resp.status + ")"); },
                            function () { return "refused (HTTP " + resp.status + ")"; });
  }
  function fetchFile(box, method, url, body, what) {
    say(box, "Making the " + what + "…", true);
    var init = {method: method, credentials: "same-origin"};
    if (body) { init.headers = {"Content-Type": "application/json"}; init.body = JSON.stringify(body); }
    return window.fetch(url, init).then(function (resp) {
      if (!resp.ok) { return refusal(resp).then(function (why) { say(box, why, false); }); }
      var marking = resp.headers.get("X-TLP") || "";
      return resp.blob().then(function (blob) {
        var name = fileName(resp, "watchfloor-" + what);
        save(blob, name);
        say(box, "Saved " + name + (marking ? " (marked " + marking + ")" : "") + "; recorded in the dissemination log.", true);
      });
    }).catch(function () { say(box, "Not made: no contact with the server.", false); });
  }
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-action^='products-']");
    if (!el) { return; }
    var box = dialog();
    if (!box) { return; }
    var action = el.getAttribute("data-action");
    var scope = value(box, "#wf-pr-scope"), since = value(box, "#wf-pr-since"), to = value(box, "#wf-pr-to");
    if (action === "products-open") {
      box.hidden = false; say(box, "", true); box.querySelector("#wf-pr-scope").focus();
    } else if (action === "products-close") {
      box.hidden = true;
    } else if (action === "products-export") {
      var q = new URLSearchParams({format: el.getAttribute("data-format"), since: since});
      if (scope) { q.set("workspace", scope); }
      if (to) { q.set("to", to); }
      fetchFile(box, "GET", "/api/export?" + q.toString(), null, el.getAttribute("data-format") + " export");
    } else if (action === "products-brief") {
      var body = {format: el.getAttribute("data-format"), since: since, to: to, summary: value(box, "#wf-pr-summary")};
      if (scope) { body.workspace = scope; }
      fetchFile(box, "POST", "/api/brief", body, "briefing");
    } else if (action === "products-share") {
      var out = box.querySelector(".wf-products-link");
      var share = {kind: scope ? "workspace" : "briefing", target: scope, to: to,
                   hours: Number(value(box, "#wf-pr-hours") || 24), tlp: value(box, "#wf-pr-tlp")};
      say(box, "Making the link…", true);
      window.fetch("/api/shares", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
                                   body: JSON.stringify(share)}).then(function (resp) {
        if (!resp.ok) { return refusal(resp).then(function (why) { say(box, why, false); }); }
        return resp.json().then(function (d) {
          out.textContent = d.url;  // shown once: copy it now
          say(box, "Link " + d.id + " made: copy it now, it is not shown again. Valid until " +
              new Date(d.expires * 1000).toISOString().slice(0, 16).replace("T", " ") + "Z.", true);
        });
      }).catch(function () { say(box, "No link: no contact with the server.", false); });
    }
  });
})();
