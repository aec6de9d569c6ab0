/* The replay page (/replay, dashboard/replay/page.py): one frame in flight at a time, and each
 * frame's time in this browser (request to drawn), kept for bench/replay.py. Its own namespace. */
(function () {
  "use strict";
  var R = window.__wfreplay = window.__wfreplay || {sent: 0, inflight: false, times: []};

  /* A play tick asks for the next frame only when the last one has landed (or after 5 s: lost). */
  function gate(n) {
    var now = performance.now();
    if (R.inflight && now - R.sent < 5000) { return window.dash_clientside.no_update; }
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
