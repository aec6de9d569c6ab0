/* Watchfloor clientside callbacks: operator alerts' banner.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var SEV_RANK = WF.SEV_RANK;

  /* Operator alerts take over the screen: a banner (and a tone, where the browser allows sound)
   * until this user or screen acknowledges it, or it expires. The newest, most severe first. */
  var acked = {};
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

  function banner(store, _n, settings) {
    var now = Date.now();
    var all = (store && store.alerts) ? Object.keys(store.alerts).map(function (k) { return store.alerts[k]; }) : [];
    var open = all.filter(function (a) {
      return (!a.expires || Date.parse(a.expires) > now) && acked[a.id] !== a.version;
    });
    if (!open.length) { lastKey = ""; return [[], true]; }
    open.sort(function (a, b) { return (SEV_RANK[b.severity] || 0) - (SEV_RANK[a.severity] || 0) || (a.issued_at < b.issued_at ? 1 : -1); });
    var key = open.map(function (a) { return a.id + ":" + a.version; }).join(",");
    if (key !== lastKey) { lastKey = key; tone(); }
    var H = function (type, props) { return {namespace: "dash_html_components", type: type, props: props}; };
    var items = open.slice(0, 3).map(function (a) {
      return H("Div", {className: "wf-alert wf-alert-" + (a.severity || "unknown"), children: [
        H("Div", {className: "wf-alert-head", children: [
          H("Span", {className: "wf-alert-tag", children: "ALERT · " + (a.severity || "").toUpperCase() + " · " + (a.tlp || "")}),
          H("Span", {className: "wf-muted", children: " issued " + (a.issued_at || "").slice(11, 16) + "Z by " + (a.issued_by || "?") +
            (a.expires ? " · expires " + a.expires.slice(11, 16) + "Z" : "")})]}),
        H("Div", {className: "wf-alert-headline", children: a.headline}),
        H("Div", {className: "wf-alert-text", children: a.text || ""}),
        H("Button", {className: "wf-ack", "data-action": "ack-alert", "data-alert-id": a.id, "data-alert-version": String(a.version),
                     children: "Acknowledge"})]});
    });
    if (open.length > 3) { items.push(H("Div", {className: "wf-muted", children: "+" + (open.length - 3) + " more alerts"})); }
    return [items, false];
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-action='ack-alert']");
    if (!btn) { return; }
    var id = btn.getAttribute("data-alert-id");
    acked[id] = Number(btn.getAttribute("data-alert-version"));
    btn.disabled = true;
    btn.textContent = "Acknowledged";
    window.fetch("/api/alerts/" + encodeURIComponent(id) + "/ack", {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: "{}"
    }).catch(function () { /* recorded next time; the banner is already down here */ });
  });

  WF.banner = banner;
})();
