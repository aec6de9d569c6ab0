/* Watchfloor clientside callbacks.
 *
 * applyDelta turns the server's delta rows into Dash Patches on the map and the timeline, keyed by
 * event id: a known id is updated in place, a new id is appended, a superseded one is blanked.
 * Applying the same rows twice changes nothing, so overlapping or replayed deltas never duplicate.
 * The id -> position index lives here in the page, never on the server (any app process can answer).
 */
(function () {
  "use strict";
  var state = window.__watchfloor = window.__watchfloor || {index: null, lastOk: null, staleSince: null};

  function buildIndex(figure) {
    var index = new Map();
    var ids = (figure && figure.data && figure.data[0] && figure.data[0].customdata) || [];
    for (var i = 0; i < ids.length; i++) { index.set(ids[i], i); }
    return index;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hhmmss(ms) {
    var d = new Date(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }

  function applyDelta(delta, mapFigure) {
    var nu = window.dash_clientside.no_update;
    if (!delta) { return [nu, nu]; }
    state.lastOk = Date.now();
    state.redisOk = delta.redis !== false;
    var rows = delta.rows || [];
    if (!rows.length) { return [nu, nu]; }
    if (state.index === null) { state.index = buildIndex(mapFigure); }
    var map = new window.dash_clientside.Patch();
    var tl = new window.dash_clientside.Patch();
    var add = {lat: [], lon: [], ids: [], text: [], color: [], size: [], time: [], kind: []};
    var next = state.index.size;
    rows.forEach(function (row) {
      var at = state.index.get(row.id);
      if (row.hide) {
        if (at === undefined) { return; }
        map.assign(["data", 0, "lat", at], null).assign(["data", 0, "lon", at], null);
        tl.assign(["data", 0, "y", at], null);
        return;
      }
      if (at === undefined) {
        state.index.set(row.id, next++);
        add.lat.push(row.lat); add.lon.push(row.lon); add.ids.push(row.id); add.text.push(row.text);
        add.color.push(row.color); add.size.push(row.size); add.time.push(row.time); add.kind.push(row.kind);
        return;
      }
      map.assign(["data", 0, "lat", at], row.lat).assign(["data", 0, "lon", at], row.lon)
         .assign(["data", 0, "hovertext", at], row.text).assign(["data", 0, "marker", "color", at], row.color)
         .assign(["data", 0, "marker", "size", at], row.size);
      tl.assign(["data", 0, "x", at], row.time).assign(["data", 0, "y", at], row.kind)
        .assign(["data", 0, "hovertext", at], row.text).assign(["data", 0, "marker", "color", at], row.color);
    });
    if (add.ids.length) {
      map.extend(["data", 0, "lat"], add.lat).extend(["data", 0, "lon"], add.lon)
         .extend(["data", 0, "customdata"], add.ids).extend(["data", 0, "hovertext"], add.text)
         .extend(["data", 0, "marker", "color"], add.color).extend(["data", 0, "marker", "size"], add.size);
      tl.extend(["data", 0, "x"], add.time).extend(["data", 0, "y"], add.kind)
        .extend(["data", 0, "customdata"], add.ids).extend(["data", 0, "hovertext"], add.text)
        .extend(["data", 0, "marker", "color"], add.color);
    }
    return [map.build(), tl.build()];
  }

  /* Runs in the browser every second, with no server: a screen that stops hearing from the
   * server says so, with the time it last did, instead of passing for live. */
  function connection(_n, staleSeconds) {
    var now = Date.now();
    if (state.lastOk === null) { state.lastOk = state.lastOk || now; }
    var age = (now - state.lastOk) / 1000;
    if (age > staleSeconds) {
      return ["STALE since " + hhmmss(state.lastOk) + " — no contact with the server; retrying", "wf-conn wf-conn-stale"];
    }
    if (state.redisOk === false) {
      return ["DEGRADED — data store unreachable; showing the last known picture (checked " + hhmmss(state.lastOk) + ")", "wf-conn wf-conn-degraded"];
    }
    return ["LIVE · updated " + hhmmss(state.lastOk), "wf-conn wf-conn-live"];
  }

  function clock(_n) {
    var d = new Date();
    var local = d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
    return hhmmss(d.getTime()) + "  ·  local " + local;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    watchfloor: {applyDelta: applyDelta, connection: connection, clock: clock}
  });
})();
