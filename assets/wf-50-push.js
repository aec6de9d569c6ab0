/* Watchfloor clientside callbacks: the push stream.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)

  /* Push: the server's event stream says "something changed" and the screen polls at once; the
   * regular poll still runs, so a screen without the stream is only slower, never wrong. */
  var pushStarted = false;
  var source = null;
  function startPush() {
    if (pushStarted || !window.EventSource) { return; }
    var root = document.querySelector("[data-screen]");
    if (!root || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    pushStarted = true;
    source = new window.EventSource("/api/push");
    var pending = null;
    source.onmessage = function () {
      if (pending) { return; }  // coalesce a burst into one poll
      pending = setTimeout(function () {
        pending = null;
        var screen = (document.querySelector("[data-screen]") || root).getAttribute("data-screen");
        window.dash_clientside.set_props({wf: "wake", screen: screen}, {data: Date.now()});
      }, 30);
    };
    source.onerror = function () { /* EventSource reconnects by itself; polling carries on meanwhile */ };
  }

  /* Whether the stream is open now (the poll's gate polls less while it is: wf-60-wall.js). */
  function pushOpen() {
    return !!(source && source.readyState === 1);
  }

  WF.startPush = startPush;
  WF.pushOpen = pushOpen;
})();
