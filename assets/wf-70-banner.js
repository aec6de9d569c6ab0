/* Watchfloor clientside callbacks: operator alerts' banner, receipts and acknowledgement.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var SEV_RANK = WF.SEV_RANK;

  /* Operator alerts take over the screen under its header (the status and clock stay in view): a
   * banner (and a tone, where the browser allows sound) until this person, or on a wall this
   * screen, acknowledges the alert's current version (kept on the server, so a reload keeps it;
   * a desk user may acknowledge for a wall), or it is withdrawn or expires. An update shows again.
   * Each screen reports to the server which versions it received; the sender sees the list. */
  var acked = {};     // id -> version acknowledged here, until the server says so too
  var reported = {};  // id -> version whose receipt the server has (or is being told)
  var lastKey = "";
  function tone() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = new Ctx(), osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.6);
      setTimeout(function () { ctx.close(); }, 1000);
    } catch (e) { /* no sound: the banner still shows */ }
  }

  function post(id, what, body) {
    return window.fetch("/api/alerts/" + encodeURIComponent(id) + "/" + what, {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
  }

  function reportReceipts(all, screen) {
    all.forEach(function (a) {
      if (reported[a.id] === a.version || !window.fetch) { return; }
      reported[a.id] = a.version;
      post(a.id, "receipt", {screen: screen, version: a.version}).then(function (resp) {
        if (!resp.ok && reported[a.id] === a.version) { delete reported[a.id]; }  // told again next second
      }).catch(function () { if (reported[a.id] === a.version) { delete reported[a.id]; } });
    });
  }

  function banner(store, _n, settings) {
    var now = Date.now();
    var screen = (settings && settings.screen) || "desk";
    var all = (store && store.alerts) ? Object.keys(store.alerts).map(function (k) { return store.alerts[k]; }) : [];
    reportReceipts(all, screen);
    var open = all.filter(function (a) {
      return (!a.expires || Date.parse(a.expires) > now) && !a.acked && acked[a.id] !== a.version;
    });
    if (!open.length) { lastKey = ""; return [[], true]; }
    open.sort(function (a, b) { return (SEV_RANK[b.severity] || 0) - (SEV_RANK[a.severity] || 0) || (a.issued_at < b.issued_at ? 1 : -1); });
    var key = open.map(function (a) { return a.id + ":" + a.version; }).join(",");
    if (key !== lastKey) { lastKey = key; tone(); }
    var H = function (type, props) { return {namespace: "dash_html_components", type: type, props: props}; };
    var items = open.slice(0, 3).map(function (a) {
      var revised = a.version > 1 ? " · UPDATED " + (a.updated_at || "").slice(11, 16) + "Z" : "";
      return H("Div", {className: "wf-alert wf-alert-" + (a.severity || "unknown"), "data-alert-id": a.id, children: [
        H("Div", {className: "wf-alert-head", children: [
          H("Span", {className: "wf-alert-tag", children: "ALERT · " + (a.severity || "").toUpperCase() + " · " + (a.tlp || "") + revised}),
          H("Span", {className: "wf-muted", children: " issued " + (a.issued_at || "").slice(11, 16) + "Z by " + (a.issued_by || "?") +
            (a.expires ? " · expires " + a.expires.slice(11, 16) + "Z" : "")})]}),
        H("Div", {className: "wf-alert-headline", children: a.headline}),
        H("Div", {className: "wf-alert-text", children: a.text || ""}),
        H("Button", {className: "wf-ack", "data-action": "ack-alert", "data-alert-id": a.id, "data-alert-version": String(a.version),
                     children: screen === "wall" ? "Acknowledge for this screen" : "Acknowledge"})]});
    });
    if (open.length > 3) { items.push(H("Div", {className: "wf-muted", children: "+" + (open.length - 3) + " more alerts"})); }
    return [items, false];
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-action='ack-alert']");
    if (!btn) { return; }
    var id = btn.getAttribute("data-alert-id");
    var version = Number(btn.getAttribute("data-alert-version"));
    var root = btn.closest("[data-screen]");
    acked[id] = version;
    btn.disabled = true;
    btn.textContent = "Acknowledged";
    post(id, "ack", {screen: root ? root.getAttribute("data-screen") : "desk", version: version}).then(function (resp) {
      if (!resp.ok) { delete acked[id]; }  // refused: the banner comes back, as the server has no acknowledgement
    }).catch(function () { delete acked[id]; });
  });

  WF.banner = banner;
})();
