/* Watchfloor: a poll refused because the data store is unreachable means DEGRADED, not silence.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit.
 *
 * Every request passes the server's access check, which reads the session from the store. While the
 * store is down (a restart, a Sentinel failover) that check answers 503 {"error": "unavailable"}
 * before the poll callback runs, so the screen would hear nothing and keep saying LIVE with an old
 * time until it turned STALE. The server did answer: the screen says DEGRADED with the reason, frees
 * its poll gate so the next tick asks again at once, and is LIVE again on the first poll that works. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};
  if (!window.fetch || WF.storeWatch) { return; }
  WF.storeWatch = true;
  var screens = window.__watchfloor = window.__watchfloor || {};
  var original = window.fetch;

  function storeDown(reason) {
    var now = Date.now();
    Object.keys(screens).forEach(function (name) {
      var st = screens[name];
      st.lastOk = now;
      st.redisOk = false;
      st.storeReason = reason || "data store unreachable";
      st.pollSent = 0;
    });
  }

  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var reply = original.apply(this, arguments);
    if (url.indexOf("/_dash-update-component") < 0) { return reply; }
    return reply.then(function (resp) {
      if (resp.status === 503) {
        resp.clone().json().then(function (body) {
          if (body && body.error === "unavailable") { storeDown(""); }
        }).catch(function () { /* not ours: leave it */ });
      }
      return resp;
    });
  };
})();
