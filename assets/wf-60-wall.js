/* Watchfloor clientside callbacks: polls, heartbeat, wall rotation, session and idle checks.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var stateFor = WF.stateFor, hhmmss = WF.hhmmss, startPush = WF.startPush;

  function currentView(settings, st) {
    if (settings.screen !== "wall") { return null; }
    if (settings.pinned) { return settings.pinned; }
    var views = settings.views || ["map"];
    var cycle = Math.max(3, settings.cycle || 20) * 1000;
    return views[Math.floor((Date.now() - st.started) / cycle) % views.length];
  }

  /* Every second, in the browser, with no server: the connection word, the clocks, the wall's
   * rotating view. A screen that stops hearing from the server says so instead of passing for live. */
  /* One poll in flight per screen: a tick or a push wake-up while one is pending waits for it to
   * answer and is then sent at once (a change that landed after the pending poll read the stream
   * is not held back to the next tick). A poll that never answers (server gone) frees the gate
   * after three refresh periods (at least 3 s), so the screen keeps retrying. */
  /* While the push stream is open, it says when something changed: a timer tick then polls only
   * when no answer came for a while (half the stale limit, at most 10 s), a safety net that keeps
   * LIVE honest. Hundreds of screens on one web process otherwise poll for nothing. */
  function gate(_n, wake, settings) {
    settings = settings || {screen: "desk"};
    var st = stateFor(settings.screen);
    var now = Date.now();
    var woken = wake !== undefined && wake !== null && wake !== st.lastWake;
    st.lastWake = wake;
    // Each screen's own interval, drawn again after each poll (7.5 to 10 s): screens opened together
    // (a web process restarted under them) drift apart instead of all asking in the same second.
    var quiet = Math.min(10000, 500 * (settings.stale || 20)) * (st.quietScale || 1);
    var polled = st.lastPolled || null;  // the last poll's answer (a pushed delta does not count: alerts come by poll)
    if (!woken && !st.pollPending && WF.pushOpen && WF.pushOpen() && polled !== null && now - polled < quiet) {
      return window.dash_clientside.no_update;
    }
    var gateMs = Math.max(3000, 3 * (settings.refresh || 2000));  // a poll slower than this is sent again
    st.gateMs = gateMs;
    if (st.pollSent && now - st.pollSent < gateMs) {
      st.pollPending = true;  // asked while one is in flight: sent as soon as that one answers
      return window.dash_clientside.no_update;
    }
    st.pollSent = now;
    st.quietScale = 0.75 + 0.25 * Math.random();
    return now;
  }

  function heartbeat(_n, settings, rootClass) {
    settings = settings || {screen: "desk", stale: 20};
    startPush();
    var st = stateFor(settings.screen);
    var now = Date.now();
    var seen = st.lastOk === null ? st.started : st.lastOk;
    var age = (now - seen) / 1000;
    var conn, css;
    if (age > settings.stale) {
      conn = "STALE since " + hhmmss(seen) + " — no contact with the server; retrying";
      css = "wf-conn wf-conn-stale";
    } else if (st.redisOk === false) {
      conn = "DEGRADED — " + (st.storeReason || "data store unreachable") + "; last known picture (checked " +
        hhmmss(seen) + ")";
      css = "wf-conn wf-conn-degraded";
    } else if (st.problems && st.problems.length) {  // a stopped fuser, worker or scheduler, by name
      conn = "DEGRADED — " + st.problems[0] + (st.problems.length > 1 ? " (and " + (st.problems.length - 1) + " more)" : "");
      css = "wf-conn wf-conn-degraded";
    } else {
      conn = "LIVE · updated " + hhmmss(seen);
      css = "wf-conn wf-conn-live";
    }
    var d = new Date(now);
    var local = d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
    var clock = hhmmss(now) + " · local " + local;
    var view = currentView(settings, st);
    var base = (rootClass || "").split(" ").filter(function (c) { return c.indexOf("view-") !== 0 && c !== "is-stale"; });
    if (view) {
      base.push("view-" + (view.indexOf("event:") === 0 ? "event" : view));
      if (view !== st.view && window.dash_clientside && window.dash_clientside.set_props) {
        st.view = view;
        // An event view: render() moves the map to that workspace and shows its own timeline under
        // it; the other views the whole picture. (Moving the map through the figure, not a
        // Plotly.relayout, so the next update cannot put the old view back.)
        window.dash_clientside.set_props({wf: "tlscope", screen: settings.screen},
                                         {value: view.indexOf("event:") === 0 ? view.slice(6) : "all"});
      }
    }
    if (css.indexOf("stale") >= 0) { base.push("is-stale"); checkSession(); }
    return [conn, css, clock, base.join(" ")];
  }

  /* A screen that lost its session (signed out elsewhere, idle, account disabled) goes back to
   * the sign-in page instead of staying stale; a server that is down just stays STALE. */
  var lastSessionCheck = 0;
  function checkSession() {
    var now = Date.now();
    if (now - lastSessionCheck < 15000 || !window.fetch) { return; }
    lastSessionCheck = now;
    window.fetch("/api/session", {credentials: "same-origin", cache: "no-store",
                                  headers: {"X-Watchfloor-Background": "1"}}).then(function (resp) {
      if (resp.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      }
    }).catch(function () { /* server unreachable: STALE says so */ });
  }

  /* The idle timeout counts only a person's actions. Filters, the map and the keys work in the
   * browser without a server round trip, so a real (trusted) key, tap or wheel tells the server,
   * at most once a minute; timers and the push stream never do. */
  var lastActivity = 0;
  function personActed(e) {
    if (!e.isTrusted || !window.fetch) { return; }
    var now = Date.now();
    if (now - lastActivity < 60000) { return; }
    lastActivity = now;
    window.fetch("/api/activity", {method: "POST", credentials: "same-origin", cache: "no-store"})
      .catch(function () { /* server unreachable: STALE says so */ });
  }
  ["keydown", "pointerdown", "wheel"].forEach(function (name) {
    document.addEventListener(name, personActed, {capture: true, passive: true});
  });

  WF.gate = gate; WF.heartbeat = heartbeat;
})();
