/* Watchfloor clientside callbacks: selection, bin summaries and keys; registers the clientside namespace.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var WINDOWS = WF.WINDOWS;
  var render = WF.render, heartbeat = WF.heartbeat, banner = WF.banner, gate = WF.gate;  // wf-40, wf-60, wf-70

  /* A tapped or clicked hexagon bin says what it counts in a panel on the map: on a tablet there is
   * no hover, and nothing may be only on hover. Text nodes only (the summary is built from feed words). */
  function showBin(p) {
    var section = document.querySelector("[data-screen] .wf-map");
    if (!section) { return; }
    var box = section.querySelector(".wf-bin-info");
    if (!box) {
      box = document.createElement("div");
      box.className = "wf-bin-info";
      box.setAttribute("role", "status");
      section.appendChild(box);
    }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var text = p.hovertext || p.text || "";
    if (!text) {  // click data may leave hovertext out: read it off the figure by the bin's id
      var gd = section.querySelector(".js-plotly-plot");
      (gd && gd.data || []).forEach(function (trace) {
        var i = trace.customdata ? Array.prototype.indexOf.call(trace.customdata, p.customdata) : -1;
        if (i >= 0 && !text && trace.hovertext) { text = trace.hovertext[i]; }
      });
    }
    var lines = String(text).split(/<br\s*\/?>/i);
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line.replace(/<[^>]*>/g, "");
      box.appendChild(div);
    });
    var close = document.createElement("button");
    close.className = "wf-button wf-bin-close";
    close.textContent = "Close";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
  }

  function select(clickData) {
    var p = clickData && clickData.points && clickData.points[0];
    // A bin is not an incident: it has no detail drawer; its summary shows on the map instead.
    if (p && p.customdata && String(p.customdata).indexOf("bin:") === 0) {
      showBin(p);
      return window.dash_clientside.no_update;
    }
    return p && p.customdata ? p.customdata : window.dash_clientside.no_update;
  }

  function screenOf(el) {
    var root = el && el.closest ? el.closest("[data-screen]") : null;
    return root ? root.getAttribute("data-screen") : null;
  }

  function setSelected(screen, value) {
    if (screen && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props({wf: "selected", screen: screen}, {data: value});
    }
  }

  document.addEventListener("click", function (e) {
    var item = e.target.closest && e.target.closest("[data-wf-id]");
    if (item) { setSelected(item.getAttribute("data-wf-screen"), item.getAttribute("data-wf-id")); return; }
    var close = e.target.closest && e.target.closest("[data-action='close-detail']");
    if (close) { setSelected(screenOf(close), null); }
  });

  /* Keyboard: / search, Esc close the detail, 1-5 time window, Enter on a list item opens it. */
  document.addEventListener("keydown", function (e) {
    var root = document.querySelector("[data-screen]");
    var screen = root ? root.getAttribute("data-screen") : null;
    if (!screen) { return; }
    var typing = e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA");
    if (e.key === "Escape") { setSelected(screen, null); if (typing) { e.target.blur(); } return; }
    if (e.key === "Enter" && e.target.getAttribute && e.target.getAttribute("data-wf-id")) {
      setSelected(screen, e.target.getAttribute("data-wf-id")); return;
    }
    if (typing) { return; }
    if (e.key === "/") { var s = document.querySelector(".wf-search"); if (s) { e.preventDefault(); s.focus(); } return; }
    var k = parseInt(e.key, 10);
    if (k >= 1 && k <= 5 && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props({wf: "window", screen: screen}, {value: WINDOWS[k - 1]});
    }
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    watchfloor: {render: render, heartbeat: heartbeat, select: select, banner: banner, gate: gate,
                 reportsTick: WF.reportsTick, sentTick: WF.sentTick, queueTick: WF.queueTick}
  });

  WF.showBin = showBin; WF.select = select; WF.screenOf = screenOf; WF.setSelected = setSelected;
})();
