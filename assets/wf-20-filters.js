/* Watchfloor clientside callbacks: the desk's filters and the timeline's workspace test.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var SEV_RANK = WF.SEV_RANK;

  function makeFilter(win, minSev, kinds, text, exercise, brush) {
    var since = win ? Date.now() - win * 3600 * 1000 : null;
    var from = brush ? Date.parse(brush[0]) : null, to = brush ? Date.parse(brush[1]) : null;
    var needle = (text || "").trim().toLowerCase();
    var kindSet = kinds && kinds.length ? new Set(kinds) : null;
    var minRank = SEV_RANK[minSev] || 0;
    var showExercise = !exercise || exercise.indexOf("show") >= 0;
    return function (row) {
      if (!row || row.hidden || !row.time) { return false; }
      var t = Date.parse(row.time);
      if (since !== null && t < since) { return false; }
      if (from !== null && (t < from || t > to)) { return false; }
      if ((SEV_RANK[row.severity] || 0) < minRank) { return false; }
      if (kindSet && !kindSet.has(row.kind)) { return false; }
      if (!showExercise && row.exercise) { return false; }
      if (needle) {
        var hay = (row.title + " " + row.place + " " + row.source + " " + row.feed + " " + row.kind).toLowerCase();
        if (hay.indexOf(needle) < 0) { return false; }
      }
      return true;
    };
  }

  /* Each workspace's timeline: the incidents within its near_km of a venue (past its radius) or of
   * the course, the same test as its threat level (layers/zones.py Workspace.proximity). */
  var EARTH_KM = 6371.0088, RAD = Math.PI / 180;
  function haversineKm(lat1, lon1, lat2, lon2) {
    var dp = (lat2 - lat1) * RAD, dl = (lon2 - lon1) * RAD;
    var a = Math.pow(Math.sin(dp / 2), 2) + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.pow(Math.sin(dl / 2), 2);
    return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)));
  }
  function segmentKm(lat, lon, a, b) {
    var k = Math.cos(lat * RAD);
    var ax = (a[1] - lon) * k, ay = a[0] - lat, bx = (b[1] - lon) * k, by = b[0] - lat;
    var dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    var t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
    return Math.hypot(ax + t * dx, ay + t * dy) * RAD * EARTH_KM;
  }
  function nearSpace(space, r) {
    if (!space) { return true; }
    if (r.lat === null || r.lat === undefined) { return false; }
    var best = Infinity;
    (space.venues || []).forEach(function (v) { best = Math.min(best, Math.max(0, haversineKm(r.lat, r.lon, v[0], v[1]) - v[2])); });
    var route = space.route || [];
    for (var i = 1; i < route.length; i++) { best = Math.min(best, Math.max(0, segmentKm(r.lat, r.lon, route[i - 1], route[i]) - (space.routeKm || 0))); }
    return best < (space.nearKm || 5);
  }
  function scopeOf(settings, scope) {
    return scope && scope !== "all" && settings.workspaces ? settings.workspaces[scope] || null : null;
  }

  WF.makeFilter = makeFilter; WF.haversineKm = haversineKm; WF.segmentKm = segmentKm; WF.nearSpace = nearSpace; WF.scopeOf = scopeOf;
})();
