/* The replay page (/replay, dashboard/replay/page.py): one frame in flight at a time, and each
 * frame's time in this browser (request to drawn), kept for bench/replay.py. Its own namespace. */
(function () {
  "use strict";
  var R = window.__wfreplay = window.__wfreplay || {sent: 0, inflight: false, times: [], opened: performance.now()};

  /* The map has drawn its style: patching it before that breaks plotly's map (reading 'layers'). */
  function mapReady() {
    var gd = document.querySelector("#wf-replay-map .js-plotly-plot");
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return !!(sub && sub.map && sub.map.style && sub.map.style._loaded) || performance.now() - R.opened > 15000;
  }

  /* A tick asks for the next frame: the first once the map is ready, then only while playing, and
   * only when the last one has landed (or after 5 s: lost). */
  function gate(n, state) {
    var now = performance.now();
    var no = window.dash_clientside.no_update;
    if (!mapReady()) { return no; }
    if (state && state.shown !== null && state.shown !== undefined && !state.playing) { return no; }
    if (R.inflight && now - R.sent < 5000) { return no; }
    R.inflight = true;
    R.sent = now;
    return n;
  }

  /* A frame landed (the state store changed): measure it once the browser has drawn it. */
  function landed(state) {
    if (R.inflight) {
      var sent = R.sent;
      window.requestAnimationFrame(function () {
        R.times.push(performance.now() - sent);
        if (R.times.length > 2000) { R.times.shift(); }
      });
    }
    R.inflight = false;
    return state ? state.t : null;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {wfreplay: {gate: gate, landed: landed}});
})();
