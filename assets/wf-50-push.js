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

  /* Stream ids ("ms-seq") in order. */
  function idAfter(a, b) {
    var x = String(a).split("-"), y = String(b).split("-");
    var ms = Number(x[0]) - Number(y[0]);
    return ms !== 0 ? ms > 0 : Number(x[1] || 0) > Number(y[1] || 0);
  }

  /* What to do with a pushed delta: "apply" it when it starts at the screen's cursor; "hold" it
   * while a poll is on its way (that answer, landing after, could only be older: the delta is
   * looked at again once it lands, see afterPoll); else "poll". */
  function takesDelta(msg, st, now) {
    if (!msg || typeof msg.from !== "string" || typeof msg.cursor !== "string") { return "poll"; }
    if (st.pollPending || (st.pollSent && now - st.pollSent < (st.gateMs || 3000))) { return "hold"; }
    return st.cursor === msg.from ? "apply" : "poll";
  }

  /* A poll answered (the screen's cursor moved to its end): the delta held meanwhile is applied
   * when it follows on, dropped when the answer already reached its end, else a poll is asked. */
  function afterPoll(st) {
    var held = st.held;
    st.held = null;
    if (!held) { return null; }
    if (held.from === st.cursor) { return "apply"; }
    return idAfter(held.cursor, st.cursor) ? "poll" : null;
  }

  function startPush() {
    if (pushStarted || !window.EventSource) { return; }
    var root = document.querySelector("[data-screen]");
    if (!root || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    var first = WF.stateFor(root.getAttribute("data-screen"));
    if (!first.loaded) { return; }  // once render() holds the page's rows and cursor (the next heartbeat)
    pushStarted = true;
    // An aggregated picture's cursor is "b:<id>" (hexagon bins): the stream sends its deltas in kind.
    var binned = typeof first.cursor === "string" && first.cursor.indexOf("b:") === 0;
    source = new window.EventSource("/api/push" + (binned ? "?binned=1" : ""));
    function screenName() {
      return (document.querySelector("[data-screen]") || root).getAttribute("data-screen");
    }
    source.onmessage = function () { wake(screenName()); };
    source.addEventListener("delta", function (e) {
      var screen = screenName(), st = WF.stateFor(screen), msg = null;
      try { msg = JSON.parse(e.data); } catch (err) { msg = null; }
      var take = takesDelta(msg, st, Date.now());
      if (take === "apply") { applyDelta(screen, st, msg); }
      else if (take === "hold") { st.held = msg; }
      else { wake(screen); }
    });
    source.addEventListener("signed-out", function () {
      source.close();  // the polls then meet the sign-in check, and the screen goes back to sign-in
    });
    source.onerror = function () { /* EventSource reconnects by itself; polling carries on meanwhile */ };
  }

  /* Ask the screen's gate for a poll; a burst of asks makes one poll. */
  var pending = null;
  function wake(screen) {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      window.dash_clientside.set_props({wf: "wake", screen: screen}, {data: Date.now()});
    }, 30);
  }

  /* The delta joins the screen's queue, which render() empties in order; the store only says
   * "look" (a second delta landing before render() runs would replace the first in the store,
   * and the cursor has moved past both). */
  function applyDelta(screen, st, msg) {
    st.cursor = msg.cursor;  // the next poll (and delta) starts here
    st.pushed = (st.pushed || 0) + 1;
    (st.pushQueue = st.pushQueue || []).push(msg);
    window.dash_clientside.set_props({wf: "cursor", screen: screen}, {data: msg.cursor});
    window.dash_clientside.set_props({wf: "delta", screen: screen}, {data: {pushed: true, n: st.pushed}});
  }

  /* Called by render() once a poll's answer is applied. */
  function pollLanded(screen, st) {
    var held = st.held, next = afterPoll(st);
    if (next === "apply") { setTimeout(function () { applyDelta(screen, st, held); }, 0); }
    else if (next === "poll") { wake(screen); }
  }

  /* Whether the stream is open now (the poll's gate polls less while it is: wf-60-wall.js). */
  function pushOpen() {
    return !!(source && source.readyState === 1);
  }

  WF.startPush = startPush;
  WF.takesDelta = takesDelta;
  WF.pollLanded = pollLanded;
  WF.applyDelta = applyDelta;
  WF.pushOpen = pushOpen;
})();
