/* Watchfloor: one failed map update must not freeze a graph for good.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit.
 *
 * dcc.Graph chains every update of a figure on one promise (queue = queue.then(plot)); plotly's map
 * rejects an update when MapLibre reports an error meanwhile (a basemap file or tile answered 503
 * while the data store was away: every request passes the access check, which reads the session
 * from the store). A rejected link skips every later one, so the map kept its last picture while
 * the incident list went on (found by tests/watchfloor/test_failover.py). Plotly.react is wrapped so
 * a failure is reported and the same figure drawn again a little later, and the chain goes on. */
(function () {
  "use strict";
  var RETRY_MS = [1000, 2000, 5000, 10000, 30000];  // then every 30 s while it keeps failing

  function harden(P) {
    if (!P || typeof P.react !== "function" || P.__wfHardened) { return P; }
    var react = P.react;
    P.react = function (gd) {
      var args = arguments;
      var self = this;
      var el = typeof gd === "string" ? document.getElementById(gd) : gd;
      if (el) { el.__wfReacts = (el.__wfReacts || 0) + 1; }
      var mine = el ? el.__wfReacts : 0;
      var done = react.apply(self, args);
      if (!done || typeof done.then !== "function") { return done; }
      return done.catch(function (err) {
        window.console.warn("Watchfloor: a map update failed (" + ((err && err.message) || err) + "); drawing it again");
        if (!el) { return el; }
        var attempt = 0;
        function again() {
          // A newer update since this one draws the newer figure anyway: nothing to redo.
          if (el.__wfReacts !== mine || !el.isConnected || !el.data) { return; }
          react.call(self, el, el.data, el.layout).catch(function () {
            attempt += 1;
            setTimeout(again, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
          });
        }
        setTimeout(again, RETRY_MS[0]);
        return el;
      });
    };
    P.__wfHardened = true;
    return P;
  }

  // Plotly also rejects side branches of that promise nobody handles: the same failure, reported above
  // and drawn again, is not an uncaught error.
  window.addEventListener("unhandledrejection", function (e) {
    if (e.reason && e.reason.message === "Map error.") { e.preventDefault(); }
  });

  if (window.Plotly) {
    harden(window.Plotly);
  } else {
    // Plotly is loaded after the assets (dcc loads it on demand): harden it as it is set.
    var held;
    Object.defineProperty(window, "Plotly", {
      configurable: true,
      enumerable: true,
      get: function () { return held; },
      set: function (value) { held = harden(value); }
    });
  }
})();
