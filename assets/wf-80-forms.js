/* Watchfloor clientside callbacks: operator forms.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  // Selection lives in wf-90-select.js, loaded after this file: looked up when a form acts.
  function screenOf(el) { return WF.screenOf(el); }
  function setSelected(screen, value) { return WF.setSelected(screen, value); }

  /* Operator forms post JSON to the API: the server checks the role, the marking and the version,
   * and audits; this only shows what it answered, as text. */
  function say(form, text, ok) {
    var out = form && form.querySelector(".wf-form-result");
    if (out) { out.textContent = text; out.className = "wf-form-result " + (ok ? "wf-ok" : "wf-bad"); }
  }

  function send(method, url, body) {
    return window.fetch(url, {method: method, credentials: "same-origin",
                              headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (resp) { return resp.json().catch(function () { return {}; }).then(function (data) { return {status: resp.status, data: data}; }); });
  }

  function reason(result) {
    var d = result.data || {};
    return d.message || d.reason || d.detail || d.error || ("refused (HTTP " + result.status + ")");
  }

  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-action]");
    if (!el) { return; }
    var action = el.getAttribute("data-action");
    var form = el.closest(".wf-form");
    if (action === "save-annotation") {
      var id = el.getAttribute("data-incident");
      var body = {version: Number(el.getAttribute("data-version") || 0),
                  status: form.querySelector("#wf-ann-status").value, tlp: form.querySelector("#wf-ann-tlp").value,
                  note: form.querySelector("#wf-ann-note").value,
                  assignee: (form.querySelector("#wf-ann-assignee") || {}).value || "",
                  tags: ((form.querySelector("#wf-ann-tags") || {}).value || "").split(",")
                    .map(function (t) { return t.trim(); }).filter(function (t) { return t; })};
      say(form, "Saving…", true);
      send("PUT", "/api/incidents/" + encodeURIComponent(id) + "/annotation", body).then(function (r) {
        if (r.status === 200 || r.status === 201) {
          el.setAttribute("data-version", String((r.data && r.data.version) || body.version + 1));
          say(form, "Saved (version " + el.getAttribute("data-version") + ").", true);
        } else { say(form, reason(r), false); }
      }).catch(function () { say(form, "Not saved: no contact with the server.", false); });
    } else if (action === "split-report" || action === "merge-incident") {
      var incident = el.getAttribute("data-incident");
      var merging = action === "merge-incident";
      // A candidate's button names the other incident; the typed-id form reads its field.
      var payload = merging ? {other: el.getAttribute("data-other") || (form.querySelector("#wf-merge-other") || {}).value || ""}
                            : {event: el.getAttribute("data-event")};
      say(form, merging ? "Merging…" : "Splitting…", true);
      el.disabled = true;
      send("POST", "/api/incidents/" + encodeURIComponent(incident) + (merging ? "/merge" : "/split"), payload)
        .then(function (r) {
          el.disabled = false;
          if (r.status !== 200) { say(form, reason(r), false); return; }
          var scr = screenOf(el);
          say(form, merging ? "Merged into " + r.data.incident + "." : "Split out as " + r.data["new"] + ".", true);
          setSelected(scr, null);  // reopen the (surviving) incident so the drawer shows the new reports
          setTimeout(function () { setSelected(scr, r.data.incident); }, 50);
        }).catch(function () { el.disabled = false; say(form, "Not done: no contact with the server.", false); });
    } else if (action === "compose-alert" || action === "update-alert") {
      openComposer(action === "update-alert" ? el : null);
    } else if (action === "compose-close") {
      if (form) { form.hidden = true; }
    } else if (action === "push-alert") {
      pushOrUpdate(form);
    } else if (action === "withdraw-alert") {
      withdraw(el, form);
    } else if (action === "ack-for") {
      var wall = el.getAttribute("data-for");
      el.disabled = true;
      say(form, "Acknowledging for " + wall + "…", true);
      send("POST", "/api/alerts/" + encodeURIComponent(el.getAttribute("data-alert-id")) + "/ack",
           {"for": wall, version: Number(el.getAttribute("data-alert-version"))}).then(function (r) {
        if (r.status === 200) { say(form, "Acknowledged for " + wall + ": its banner clears.", true); }
        else { el.disabled = false; say(form, reason(r), false); }
      }).catch(function () { el.disabled = false; say(form, "Not acknowledged: no contact with the server.", false); });
    }
  });

  /* The composer pushes a new alert, or (opened from an open alert's "Update") sends a new
   * version of that one: PUT with the version it was based on, so a change made meanwhile is a
   * conflict, never overwritten. */
  function openComposer(from) {
    var composer = document.querySelector(".wf-composer");
    if (!composer) { return; }
    var field = function (id) { return composer.querySelector(id); };
    composer.hidden = false;
    say(composer, "", true);
    if (from) {
      composer.setAttribute("data-alert-id", from.getAttribute("data-alert-id"));
      composer.setAttribute("data-alert-version", from.getAttribute("data-alert-version"));
      field("#wf-al-headline").value = from.getAttribute("data-headline");
      field("#wf-al-text").value = from.getAttribute("data-text");
      field("#wf-al-severity").value = from.getAttribute("data-severity");
      field("#wf-al-scope").value = from.getAttribute("data-scope");
      field("#wf-al-tlp").value = from.getAttribute("data-tlp");
      var left = Math.round((Date.parse(from.getAttribute("data-expires")) - Date.now()) / 60000);
      field("#wf-al-minutes").value = String(Math.max(5, left || 120));
    } else {
      composer.removeAttribute("data-alert-id");
      composer.removeAttribute("data-alert-version");
    }
    field(".wf-composer-title").textContent = from ? "Update the alert" : "Push an alert";
    field(".wf-al-submit").textContent = from ? "Send the update to screens and partners" : "Push to screens and partners";
    field("#wf-al-headline").focus();
  }

  function pushOrUpdate(form) {
    var minutes = Number(form.querySelector("#wf-al-minutes").value || 120);
    var alert = {headline: form.querySelector("#wf-al-headline").value, text: form.querySelector("#wf-al-text").value,
                 severity: form.querySelector("#wf-al-severity").value, scope: form.querySelector("#wf-al-scope").value,
                 tlp: form.querySelector("#wf-al-tlp").value,
                 expires: new Date(Date.now() + minutes * 60000).toISOString().replace(/\.\d+Z$/, "Z")};
    var id = form.getAttribute("data-alert-id");
    if (id) { alert.version = Number(form.getAttribute("data-alert-version")); }
    say(form, id ? "Sending the update…" : "Pushing…", true);
    send(id ? "PUT" : "POST", "/api/alerts" + (id ? "/" + encodeURIComponent(id) : ""), alert).then(function (r) {
      if (r.status === 201 || r.status === 200) {
        if (id) { form.setAttribute("data-alert-version", String(r.data.version)); }
        say(form, (id ? "Updated (version " + r.data.version + "): " : "Pushed: ") + (r.data.headline || "") +
            " (" + (r.data.id || "") + ")", true);
      } else { say(form, reason(r), false); }
    }).catch(function () { say(form, "Not sent: no contact with the server.", false); });
  }

  /* Withdraw takes two clicks (the first arms it for five seconds): the screens drop the banner
   * within a second of the second click, and partners get a CAP Cancel. */
  var armed = {};
  function withdraw(el, form) {
    var id = el.getAttribute("data-alert-id");
    if (!armed[id] || Date.now() - armed[id] > 5000) {
      armed[id] = Date.now();
      el.textContent = "Withdraw: click again";
      say(form, "Click Withdraw again within 5 s to take this alert off every screen.", true);
      return;
    }
    delete armed[id];
    el.disabled = true;
    say(form, "Withdrawing…", true);
    var url = "/api/alerts/" + encodeURIComponent(id) + "?version=" + encodeURIComponent(el.getAttribute("data-alert-version"));
    window.fetch(url, {method: "DELETE", credentials: "same-origin"}).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.status === 200) { say(form, "Withdrawn: " + (data.headline || id) + ". Screens drop it now.", true); }
        else { el.disabled = false; el.textContent = "Withdraw"; say(form, reason({status: resp.status, data: data}), false); }
      });
    }).catch(function () { el.disabled = false; say(form, "Not withdrawn: no contact with the server.", false); });
  }
  /* The desk's open alerts are drawn again on the panels tick only while it lists some: what
   * expires has to leave it, and an empty list has nothing to expire. A new alert, a receipt or an
   * acknowledgement redraws it at once anyway (it comes with the screen's alert store). */
  function sentTick(n) {
    var list = document.getElementById("wf-sent-alerts");
    return list && list.querySelector(".wf-sent-alert") ? n : window.dash_clientside.no_update;
  }
  WF.sentTick = sentTick;
})();
