/* Watchfloor clientside callbacks: the push stream.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)

  /* Push: the server's event stream brings what changed. A change of the picture alone comes with
   * its delta (event "delta"), applied as a poll's answer is when it follows on from the rows the
   * screen holds and no poll is on its way (an answer landing after it could only be older);
   * anything else, and an operator alert, only says "something changed" and the screen polls at
   * once. The regular poll still runs, so a screen without the stream is only slower, never wrong. */
  var pushStarted = false;
  var source = null;

  /* Whether a pushed delta may be applied to the screen's state as it is (else: poll). */
  function takesDelta(msg, st, now) {
    if (!msg || typeof msg.from !== "string" || typeof msg.cursor !== "string") { return false; }
    if (st.pollPending || (st.pollSent && now - st.pollSent < (st.gateMs || 3000))) { return false; }
    return st.cursor === msg.from;
  }

  function startPush() {
    if (pushStarted || !window.EventSource) { return; }
    var root = document.querySelector("[data-screen]");
    if (!root || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    pushStarted = true;
    source = new window.EventSource("/api/push");
    var pending = null;
    function screenName() {
      return (document.querySelector("[data-screen]") || root).getAttribute("data-screen");
    }
    function wake() {
      if (pending) { return; }  // coalesce a burst into one poll
      pending = setTimeout(function () {
        pending = null;
        window.dash_clientside.set_props({wf: "wake", screen: screenName()}, {data: Date.now()});
      }, 30);
    }
    source.onmessage = wake;
    source.addEventListener("delta", function (e) {
      var screen = screenName(), st = WF.stateFor(screen), msg = null;
      try { msg = JSON.parse(e.data); } catch (err) { msg = null; }
      if (!takesDelta(msg, st, Date.now())) { wake(); return; }
      st.cursor = msg.cursor;  // the next poll (and delta) starts here
      st.pushed = (st.pushed || 0) + 1;
      window.dash_clientside.set_props({wf: "cursor", screen: screen}, {data: msg.cursor});
      window.dash_clientside.set_props({wf: "delta", screen: screen}, {data: msg});
    });
    source.addEventListener("signed-out", function () {
      source.close();  // the polls then meet the sign-in check, and the screen goes back to sign-in
    });
    source.onerror = function () { /* EventSource reconnects by itself; polling carries on meanwhile */ };
  }

  /* Whether the stream is open now (the poll's gate polls less while it is: wf-60-wall.js). */
  function pushOpen() {
    return !!(source && source.readyState === 1);
  }

  WF.startPush = startPush;
  WF.takesDelta = takesDelta;
  WF.pushOpen = pushOpen;
})();
