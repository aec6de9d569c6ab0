/* Watchfloor clientside callbacks (every screen: wall, desk, tablet).
 *
 * render() keeps, per screen, every row the server has sent (the page's snapshot, then deltas),
 * keyed by event id: a known id is updated in place, a new id is appended, a superseded one is
 * hidden. Applying the same rows twice changes nothing, so overlapping or replayed deltas never
 * duplicate. Filters run here, over data sent once; the server keeps no per-screen state.
 * Feed text only ever reaches the page as text nodes (Dash children) or escaped hover labels.
 */
(function () {
  "use strict";
  var SEV_RANK = {unknown: 0, minor: 1, moderate: 2, severe: 3, extreme: 4};
  var WINDOWS = [1, 6, 24, 168, 0];
  var screens = window.__watchfloor = window.__watchfloor || {};

  function stateFor(screen) {
    if (!screens[screen]) {
      screens[screen] = {rows: [], index: new Map(), bins: new Map(), loaded: false, lastOk: null, redisOk: true,
                         filterKey: null, lastFull: 0, view: null, started: Date.now()};
    }
    return screens[screen];
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hhmmss(ms) {
    var d = new Date(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }

  /* Merge rows into the screen's state; returns {changed: [positions], added: [positions], bins}.
   * Past map_max_points the server also sends hexagon bin rows (row.bin: key, count 0 removes it)
   * and hides markers that went into a bin (row.binned: they may come back as markers). */
  function ingest(st, rows) {
    var changed = [], added = [], bins = false;
    (rows || []).forEach(function (row) {
      if (row.bin !== undefined) {
        if (row.count > 0) { st.bins.set(row.bin, row); } else { st.bins.delete(row.bin); }
        bins = true;
        return;
      }
      var at = st.index.get(row.id);
      if (row.hide) {
        if (at !== undefined) { st.rows[at].hidden = true; st.rows[at].binned = !!row.binned; changed.push(at); }
        else { st.index.set(row.id, st.rows.length); st.rows.push({id: row.id, hidden: true, binned: !!row.binned, lat: null, lon: null}); added.push(st.rows.length - 1); }
        return;
      }
      if (at === undefined) {
        st.index.set(row.id, st.rows.length);
        st.rows.push(row);
        added.push(st.rows.length - 1);
      } else {
        row.hidden = st.rows[at].hidden === true && !st.rows[at].binned;  // superseded stays superseded
        st.rows[at] = row;
        changed.push(at);
      }
    });
    return {changed: changed, added: added, bins: bins};
  }

  /* What the desk's filters keep of the bins' counts. A bin row carries joint counts per cell:
   * [severity rank, index in row.kinds, exercise 0/1, hours after row.h0 (null: no usable time), n]
   * (dashboard/picture.py Bin.row), so minimum severity, kinds, exercise and time all apply; free
   * text cannot (bins hold counts, not titles). Time is counted in whole hours: a cell counts when
   * its hour overlaps the window or the timeline selection, so a "1 h" window's bins may include
   * incidents up to an hour older than the markers' exact window; a cell with no usable time counts
   * only while no time filter is on. ``now`` (ms) is for tests. */
  var HOUR_MS = 3600 * 1000;
  function binFilter(win, minSev, kinds, text, exercise, brush, now) {
    now = now === undefined ? Date.now() : now;
    var from = brush ? Date.parse(brush[0]) : NaN, to = brush ? Date.parse(brush[1]) : NaN;
    var hasBrush = !isNaN(from) && !isNaN(to);
    return {
      minRank: SEV_RANK[minSev] || 0,
      kindSet: kinds && kinds.length ? new Set(kinds) : null,
      showExercise: !exercise || exercise.indexOf("show") >= 0,
      sinceHour: win ? Math.floor((now - win * HOUR_MS) / HOUR_MS) : null,
      fromHour: hasBrush ? Math.floor(from / HOUR_MS) : null,
      toHour: hasBrush ? Math.floor(to / HOUR_MS) : null,
      timed: !!win || hasBrush,
      text: !!(text || "").trim()
    };
  }

  function esc(s) {  // as Python's html.escape: feed words in a hover label stay text
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
                    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
  }

  var SEV_NAMES = ["unknown", "minor", "moderate", "severe", "extreme"];
  var TEXT_NOTE = "search text not applied: bins hold counts, not titles";

  /* The bins trace: each bin drawn with the count its cells give under the filters (not drawn at
   * 0), sized by that count and coloured by the worst severity among what it counts; cols.total
   * is every binned incident the filters keep (unplaced ones too). */
  function binColumns(st, f, colours) {
    var cols = {lat: [], lon: [], ids: [], text: [], color: [], size: [], z: [], total: 0};
    colours = colours || {};
    st.bins.forEach(function (b) {
      var n = 0, worst = 0, byKind = null;
      if (b.cells) {
        var names = b.kinds || [];
        byKind = new Map();  // a Map: a feed's kind name is data, never an object key like "__proto__"
        worst = -1;
        b.cells.forEach(function (c) {
          var rank = c[0], kind = names[c[1]], dh = c[3];
          if (rank < f.minRank) { return; }
          if (f.kindSet && !f.kindSet.has(kind)) { return; }
          if (c[2] && !f.showExercise) { return; }
          if (f.timed) {
            if (dh === null || dh === undefined || b.h0 === null || b.h0 === undefined) { return; }
            var h = b.h0 + dh;
            if (f.sinceHour !== null && h < f.sinceHour) { return; }
            if (f.fromHour !== null && (h < f.fromHour || h > f.toHour)) { return; }
          }
          n += c[4];
          if (rank > worst) { worst = rank; }
          byKind.set(kind, (byKind.get(kind) || 0) + c[4]);
        });
      } else {  // a row without cells (an older server): minimum severity only
        for (var r = f.minRank; r < 5; r++) { n += (b.sev || [])[r] || 0; }
      }
      if (!n) { return; }
      cols.total += n;
      if (b.lat === null || b.lat === undefined) { return; }
      var text;
      if (n === b.count) {
        text = b.text;
      } else if (byKind) {
        var top = Array.from(byKind.keys()).sort(function (x, y) { return byKind.get(y) - byKind.get(x) || (x < y ? -1 : x > y ? 1 : 0); })
          .slice(0, 3).map(function (k) { return esc(k) + " " + byKind.get(k).toLocaleString(); });
        text = n.toLocaleString() + " of " + b.count.toLocaleString() + " incidents (hex bin) match the filters" +
          (f.timed ? " (time to the hour)" : "") + "<br>worst: " + SEV_NAMES[worst].toUpperCase() + "<br>" + top.join(" · ");
      } else {
        text = n.toLocaleString() + " at this severity or above of " + b.text;
      }
      if (f.text) { text += "<br>" + TEXT_NOTE; }
      cols.lat.push(b.lat); cols.lon.push(b.lon); cols.ids.push(b.id);
      cols.color.push(byKind && n !== b.count ? (colours[SEV_NAMES[worst]] || b.color) : b.color);
      cols.size.push(Math.round(14 + 8 * Math.log10(n))); cols.z.push(n);
      cols.text.push(text);
    });
    return cols;
  }

  /* The incident count's word on the bins: how many binned incidents the filters keep, of all. */
  function binNote(st, text) {
    var all = 0;
    st.bins.forEach(function (b) { all += b.count || 0; });
    var shown = st.binShown === undefined ? all : st.binShown;
    return "; " + shown.toLocaleString() + " more counted in map bins" +
      (shown !== all ? ", of " + all.toLocaleString() + " binned" : "") +
      ((text || "").trim() ? "; the search text does not apply to bins" : "");
  }

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

  function mapColumns(st, visible, positions, space) {
    var cols = {lat: [], lon: [], ids: [], text: [], color: [], size: [], time: [], kind: []};
    positions.forEach(function (i) {
      var r = st.rows[i], show = visible(r), onTl = show && nearSpace(space, r);
      cols.lat.push(show ? r.lat : null); cols.lon.push(show ? r.lon : null);
      cols.ids.push(r.id); cols.text.push(r.text || ""); cols.color.push(r.color || "#bbbbbb");
      cols.size.push(r.size || 9); cols.time.push(onTl ? r.time : null); cols.kind.push(onTl ? r.kind : null);
    });
    return cols;
  }

  function areaLayerIndex(fig) {
    var layers = (fig && fig.layout && fig.layout.map && fig.layout.map.layers) || [];
    for (var i = 0; i < layers.length; i++) { if (layers[i].name === "alert-areas") { return i; } }
    return -1;
  }

  function areas(st, visible) {
    var features = [];
    st.rows.forEach(function (r) {
      if (r.area && visible(r)) { features.push({type: "Feature", properties: {id: r.id}, geometry: r.area}); }
    });
    return {type: "FeatureCollection", features: features};
  }

  function listChildren(st, visible, settings) {
    var shown = st.rows.filter(visible);
    shown.sort(function (a, b) { return a.time < b.time ? 1 : a.time > b.time ? -1 : 0; });
    var items = shown.slice(0, settings.listLimit || 100).map(function (r) {
      return {namespace: "dash_html_components", type: "Li", props: {
        className: "wf-item wf-sev-" + r.severity, "data-wf-id": r.id, "data-wf-screen": settings.screen,
        tabIndex: 0, role: "button",
        children: [
          {namespace: "dash_html_components", type: "Span", props: {className: "wf-sev", children: (r.severity || "unknown").toUpperCase(), style: {borderColor: r.color}}},
          {namespace: "dash_html_components", type: "Span", props: {className: "wf-muted", children: (r.time || "").slice(11, 16) + "Z "}},
          r.exercise ? {namespace: "dash_html_components", type: "Span", props: {className: "wf-ex-tag", children: "EXERCISE "}} : null,
          {namespace: "dash_html_components", type: "Span", props: {className: "wf-item-title", children: r.title}},
          r.lat === null || r.lat === undefined ? {namespace: "dash_html_components", type: "Span", props: {className: "wf-muted", children: " (unplaced)"}} : null
        ].filter(Boolean)
      }};
    });
    if (!items.length) {
      items = [{namespace: "dash_html_components", type: "Li", props: {className: "wf-muted", children: "No incidents match."}}];
    }
    return [{namespace: "dash_html_components", type: "Ul", props: {className: "wf-incidents", children: items}}, shown.length];
  }

  /* A brushed range on the timeline narrows the time window; a double-click (autorange) clears it. */
  function brushOf(st, relayout) {
    if (!relayout) { return st.brush || null; }
    if (relayout["xaxis.autorange"]) { st.brush = null; }
    else if (relayout["xaxis.range[0]"] && relayout["xaxis.range[1]"]) {
      st.brush = [relayout["xaxis.range[0]"].replace(" ", "T") + "Z", relayout["xaxis.range[1]"].replace(" ", "T") + "Z"];
    }
    return st.brush || null;
  }

  function layerPatch(map, fig, layers, st, visible, bc) {
    var on = new Set(layers || []);
    map.assign(["data", 0, "visible"], on.has("incidents"));
    map.assign(["data", 1, "visible"], on.has("density"));
    if (st.bins.size) { map.assign(["data", 2, "visible"], on.has("incidents")); }
    var list = (fig && fig.layout && fig.layout.map && fig.layout.map.layers) || [];
    list.forEach(function (layer, i) {
      if (layer.name === "alert-areas") { map.assign(["layout", "map", "layers", i, "visible"], on.has("areas")); }
      if ((layer.name || "").indexOf("workspace-") === 0) { map.assign(["layout", "map", "layers", i, "visible"], on.has("zones")); }
    });
    if (on.has("density")) {
      var lat = [], lon = [];
      st.rows.forEach(function (r) { if (visible(r) && r.lat !== null && r.lat !== undefined) { lat.push(r.lat); lon.push(r.lon); } });
      if (bc) {  // aggregated: each bin weighs the count the filters keep
        var z = lat.map(function () { return 1; });
        map.assign(["data", 1, "z"], z.concat(bc.z));
        lat = lat.concat(bc.lat); lon = lon.concat(bc.lon);
      }
      map.assign(["data", 1, "lat"], lat).assign(["data", 1, "lon"], lon);
    }
  }

  function render(snapshot, delta, win, minSev, kinds, text, exercise, layers, relayout, _tick, scope, mapFigure, settings) {
    var nu = window.dash_clientside.no_update;
    settings = settings || {screen: "desk"};
    var st = stateFor(settings.screen);
    var ctx = window.dash_clientside.callback_context;
    var fired = (ctx && ctx.triggered ? ctx.triggered : []).map(function (t) { return t.prop_id || ""; });
    var full = false, diff = {changed: [], added: []};
    if (!st.loaded) {
      st.loaded = true;
      full = true;
      if (snapshot) {
        st.redisOk = snapshot.ok !== false;
        if (snapshot.ok !== false) { st.lastOk = Date.now(); }
        ingest(st, snapshot.rows);
      }
    }
    var deltaFired = fired.some(function (p) { return p.indexOf('"wf":"delta"') >= 0; });
    if (deltaFired && delta && delta.reload) {
      // Away longer than the change stream keeps: start again from a fresh snapshot.
      window.location.reload();
      return [nu, nu, nu, nu];
    }
    if (deltaFired) {  // the poll answered: the gate may send the next one, at once if one was asked meanwhile
      st.pollSent = 0;
      if (st.pollPending) {
        st.pollPending = false;
        st.pollSent = Date.now();
        setTimeout(function () {
          window.dash_clientside.set_props({wf: "poll-req", screen: settings.screen}, {data: Date.now()});
        }, 0);
      }
    }
    if (deltaFired && delta) {
      st.lastOk = Date.now();
      st.redisOk = delta.redis !== false;
      st.storeReason = delta.reason || "";
      st.problems = delta.problems || [];
      diff = ingest(st, delta.rows);
    }
    var brush = brushOf(st, relayout);
    var space = scopeOf(settings, scope);
    var key = JSON.stringify([win, minSev, kinds, text, exercise, layers, brush, scope]);
    if (key !== st.filterKey) { st.filterKey = key; full = true; }
    var tickFired = fired.some(function (p) { return p.indexOf('"wf":"panels-tick"') >= 0; });
    if (tickFired && win && Date.now() - st.lastFull > 60000) { full = true; }  // events age out of the window
    if (!full && !diff.changed.length && !diff.added.length && !diff.bins) { return [nu, nu, nu, nu]; }

    var visible = makeFilter(win, minSev, kinds, text, exercise, brush);
    var map = new window.dash_clientside.Patch();
    var tl = new window.dash_clientside.Patch();
    // Bins are counted again whenever their rows or the filters change (a filter change makes the
    // render full), and for the density layer, which weighs each bin by what it counts.
    var bc = null;
    if (st.bins.size && (diff.bins || full || (layers || []).indexOf("density") >= 0)) {
      bc = binColumns(st, binFilter(win, minSev, kinds, text, exercise, brush), settings.sevColours);
      st.binShown = bc.total;
    }
    layerPatch(map, mapFigure, layers, st, visible, bc);
    if (settings.screen === "wall" && scope !== st.mapScope) {
      st.mapScope = scope;
      var target = space ? {center: space.center, zoom: space.zoom} : settings.globalView;
      if (target) {
        map.assign(["layout", "map", "center"], {lat: target.center[0], lon: target.center[1]})
           .assign(["layout", "map", "zoom"], target.zoom);
      }
    }
    if (diff.bins || (full && st.bins.size)) {
      bc = bc || {lat: [], lon: [], ids: [], text: [], color: [], size: []};  // no bins left: an empty trace
      map.assign(["data", 2, "lat"], bc.lat).assign(["data", 2, "lon"], bc.lon)
         .assign(["data", 2, "customdata"], bc.ids).assign(["data", 2, "hovertext"], bc.text)
         .assign(["data", 2, "marker", "color"], bc.color).assign(["data", 2, "marker", "size"], bc.size);
    }
    if (full) {
      st.lastFull = Date.now();
      var all = st.rows.map(function (_r, i) { return i; });
      var c = mapColumns(st, visible, all, space);
      tl.assign(["layout", "title"], {text: "Timeline · " + (space ? space.name + " (within " + (space.nearKm || 5) + " km)" : "whole picture"),
                                      x: 0.01, xanchor: "left", y: 0.98, yanchor: "top", font: {size: 12}});
      tl.assign(["layout", "margin", "t"], 24);
      map.assign(["data", 0, "lat"], c.lat).assign(["data", 0, "lon"], c.lon)
         .assign(["data", 0, "customdata"], c.ids).assign(["data", 0, "hovertext"], c.text)
         .assign(["data", 0, "marker", "color"], c.color).assign(["data", 0, "marker", "size"], c.size);
      tl.assign(["data", 0, "x"], c.time).assign(["data", 0, "y"], c.kind)
        .assign(["data", 0, "customdata"], c.ids).assign(["data", 0, "hovertext"], c.text)
        .assign(["data", 0, "marker", "color"], c.color);
    } else {
      if (diff.changed.length) {
        var ch = mapColumns(st, visible, diff.changed, space);
        diff.changed.forEach(function (at, k) {
          map.assign(["data", 0, "lat", at], ch.lat[k]).assign(["data", 0, "lon", at], ch.lon[k])
             .assign(["data", 0, "hovertext", at], ch.text[k]).assign(["data", 0, "marker", "color", at], ch.color[k])
             .assign(["data", 0, "marker", "size", at], ch.size[k]);
          tl.assign(["data", 0, "x", at], ch.time[k]).assign(["data", 0, "y", at], ch.kind[k])
            .assign(["data", 0, "hovertext", at], ch.text[k]).assign(["data", 0, "marker", "color", at], ch.color[k]);
        });
      }
      if (diff.added.length) {
        var ad = mapColumns(st, visible, diff.added, space);
        map.extend(["data", 0, "lat"], ad.lat).extend(["data", 0, "lon"], ad.lon)
           .extend(["data", 0, "customdata"], ad.ids).extend(["data", 0, "hovertext"], ad.text)
           .extend(["data", 0, "marker", "color"], ad.color).extend(["data", 0, "marker", "size"], ad.size);
        tl.extend(["data", 0, "x"], ad.time).extend(["data", 0, "y"], ad.kind)
          .extend(["data", 0, "customdata"], ad.ids).extend(["data", 0, "hovertext"], ad.text)
          .extend(["data", 0, "marker", "color"], ad.color);
      }
    }
    var touchedArea = full || diff.changed.concat(diff.added).some(function (i) { return st.rows[i].area || st.rows[i].hidden; });
    var layer = areaLayerIndex(mapFigure);
    if (touchedArea && layer >= 0) { map.assign(["layout", "map", "layers", layer, "source"], areas(st, visible)); }
    var list = listChildren(st, visible, settings);
    var count = "(" + list[1] + " shown of " + st.rows.filter(function (r) { return !r.hidden; }).length +
      (st.bins.size ? binNote(st, text) : "") +
      (brush ? "; timeline selection, double-click it to clear" : "") + ")";
    return [map.build(), tl.build(), list[0], count];
  }

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
  function gate(_n, _wake, settings) {
    settings = settings || {screen: "desk"};
    var st = stateFor(settings.screen);
    var now = Date.now();
    var gateMs = Math.max(3000, 3 * (settings.refresh || 2000));  // a poll slower than this is sent again
    if (st.pollSent && now - st.pollSent < gateMs) {
      st.pollPending = true;  // asked while one is in flight: sent as soon as that one answers
      return window.dash_clientside.no_update;
    }
    st.pollSent = now;
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

  /* Operator alerts take over the screen: a banner (and a tone, where the browser allows sound)
   * until this user or screen acknowledges it, or it expires. The newest, most severe first. */
  var acked = {};
  var lastKey = "";
  function tone() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = new Ctx(), osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.6);
      setTimeout(function () { ctx.close(); }, 1000);
    } catch (e) { /* no sound: the banner still shows */ }
  }

  function banner(store, _n, settings) {
    var now = Date.now();
    var all = (store && store.alerts) ? Object.keys(store.alerts).map(function (k) { return store.alerts[k]; }) : [];
    var open = all.filter(function (a) {
      return (!a.expires || Date.parse(a.expires) > now) && acked[a.id] !== a.version;
    });
    if (!open.length) { lastKey = ""; return [[], true]; }
    open.sort(function (a, b) { return (SEV_RANK[b.severity] || 0) - (SEV_RANK[a.severity] || 0) || (a.issued_at < b.issued_at ? 1 : -1); });
    var key = open.map(function (a) { return a.id + ":" + a.version; }).join(",");
    if (key !== lastKey) { lastKey = key; tone(); }
    var H = function (type, props) { return {namespace: "dash_html_components", type: type, props: props}; };
    var items = open.slice(0, 3).map(function (a) {
      return H("Div", {className: "wf-alert wf-alert-" + (a.severity || "unknown"), children: [
        H("Div", {className: "wf-alert-head", children: [
          H("Span", {className: "wf-alert-tag", children: "ALERT · " + (a.severity || "").toUpperCase() + " · " + (a.tlp || "")}),
          H("Span", {className: "wf-muted", children: " issued " + (a.issued_at || "").slice(11, 16) + "Z by " + (a.issued_by || "?") +
            (a.expires ? " · expires " + a.expires.slice(11, 16) + "Z" : "")})]}),
        H("Div", {className: "wf-alert-headline", children: a.headline}),
        H("Div", {className: "wf-alert-text", children: a.text || ""}),
        H("Button", {className: "wf-ack", "data-action": "ack-alert", "data-alert-id": a.id, "data-alert-version": String(a.version),
                     children: "Acknowledge"})]});
    });
    if (open.length > 3) { items.push(H("Div", {className: "wf-muted", children: "+" + (open.length - 3) + " more alerts"})); }
    return [items, false];
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-action='ack-alert']");
    if (!btn) { return; }
    var id = btn.getAttribute("data-alert-id");
    acked[id] = Number(btn.getAttribute("data-alert-version"));
    btn.disabled = true;
    btn.textContent = "Acknowledged";
    window.fetch("/api/alerts/" + encodeURIComponent(id) + "/ack", {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: "{}"
    }).catch(function () { /* recorded next time; the banner is already down here */ });
  });

  /* Operator forms post JSON to the API: the server checks the role, the marking and the version,
   * and audits; this only shows what it answered, as text. */
  function say(form, text, ok) {
    var out = form && form.querySelector(".wf-form-result");
    if (out) { out.textContent = text; out.className = "wf-form-result " + (ok ? "wf-ok" : "wf-bad"); }
  }

  function send(method, url, body) {
    return window.fetch(url, {method: method, credentials: "same-origin",
                              headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (resp) { return resp.json().catch(function () { return {}; }).then(function (data) { return {status: resp.status, data: data}; }); });
  }

  function reason(result) {
    var d = result.data || {};
    return d.message || d.reason || d.detail || d.error || ("refused (HTTP " + result.status + ")");
  }

  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-action]");
    if (!el) { return; }
    var action = el.getAttribute("data-action");
    var form = el.closest(".wf-form");
    if (action === "save-annotation") {
      var id = el.getAttribute("data-incident");
      var body = {version: Number(el.getAttribute("data-version") || 0),
                  status: form.querySelector("#wf-ann-status").value, tlp: form.querySelector("#wf-ann-tlp").value,
                  note: form.querySelector("#wf-ann-note").value,
                  assignee: (form.querySelector("#wf-ann-assignee") || {}).value || "",
                  tags: ((form.querySelector("#wf-ann-tags") || {}).value || "").split(",")
                    .map(function (t) { return t.trim(); }).filter(function (t) { return t; })};
      say(form, "Saving…", true);
      send("PUT", "/api/incidents/" + encodeURIComponent(id) + "/annotation", body).then(function (r) {
        if (r.status === 200 || r.status === 201) {
          el.setAttribute("data-version", String((r.data && r.data.version) || body.version + 1));
          say(form, "Saved (version " + el.getAttribute("data-version") + ").", true);
        } else { say(form, reason(r), false); }
      }).catch(function () { say(form, "Not saved: no contact with the server.", false); });
    } else if (action === "split-report" || action === "merge-incident") {
      var incident = el.getAttribute("data-incident");
      var merging = action === "merge-incident";
      // A candidate's button names the other incident; the typed-id form reads its field.
      var payload = merging ? {other: el.getAttribute("data-other") || (form.querySelector("#wf-merge-other") || {}).value || ""}
                            : {event: el.getAttribute("data-event")};
      say(form, merging ? "Merging…" : "Splitting…", true);
      el.disabled = true;
      send("POST", "/api/incidents/" + encodeURIComponent(incident) + (merging ? "/merge" : "/split"), payload)
        .then(function (r) {
          el.disabled = false;
          if (r.status !== 200) { say(form, reason(r), false); return; }
          var scr = screenOf(el);
          say(form, merging ? "Merged into " + r.data.incident + "." : "Split out as " + r.data["new"] + ".", true);
          setSelected(scr, null);  // reopen the (surviving) incident so the drawer shows the new reports
          setTimeout(function () { setSelected(scr, r.data.incident); }, 50);
        }).catch(function () { el.disabled = false; say(form, "Not done: no contact with the server.", false); });
    } else if (action === "compose-alert") {
      var composer = document.querySelector(".wf-composer");
      if (composer) { composer.hidden = false; composer.querySelector("#wf-al-headline").focus(); }
    } else if (action === "compose-close") {
      if (form) { form.hidden = true; }
    } else if (action === "push-alert") {
      var minutes = Number(form.querySelector("#wf-al-minutes").value || 120);
      var alert = {headline: form.querySelector("#wf-al-headline").value, text: form.querySelector("#wf-al-text").value,
                   severity: form.querySelector("#wf-al-severity").value, scope: form.querySelector("#wf-al-scope").value,
                   tlp: form.querySelector("#wf-al-tlp").value,
                   expires: new Date(Date.now() + minutes * 60000).toISOString().replace(/\.\d+Z$/, "Z")};
      say(form, "Pushing…", true);
      send("POST", "/api/alerts", alert).then(function (r) {
        if (r.status === 201) { say(form, "Pushed: " + (r.data.headline || "") + " (" + (r.data.id || "") + ")", true); }
        else { say(form, reason(r), false); }
      }).catch(function () { say(form, "Not pushed: no contact with the server.", false); });
    }
  });

  /* Push: the server's event stream says "something changed" and the screen polls at once; the
   * regular poll still runs, so a screen without the stream is only slower, never wrong. */
  var pushStarted = false;
  function startPush() {
    if (pushStarted || !window.EventSource) { return; }
    var root = document.querySelector("[data-screen]");
    if (!root || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    pushStarted = true;
    var source = new window.EventSource("/api/push");
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

  /* A tapped or clicked hexagon bin says what it counts in a panel on the map: on a tablet there is
   * no hover, and nothing may be only on hover. Text nodes only (the summary is built from feed words). */
  function showBin(p) {
    var section = document.querySelector("[data-screen] .wf-map");
    if (!section) { return; }
    var box = section.querySelector(".wf-bin-info");
    if (!box) {
      box = document.createElement("div");
      box.className = "wf-bin-info";
      box.setAttribute("role", "status");
      section.appendChild(box);
    }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var text = p.hovertext || p.text || "";
    if (!text) {  // click data may leave hovertext out: read it off the figure by the bin's id
      var gd = section.querySelector(".js-plotly-plot");
      (gd && gd.data || []).forEach(function (trace) {
        var i = trace.customdata ? Array.prototype.indexOf.call(trace.customdata, p.customdata) : -1;
        if (i >= 0 && !text && trace.hovertext) { text = trace.hovertext[i]; }
      });
    }
    var lines = String(text).split(/<br\s*\/?>/i);
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line.replace(/<[^>]*>/g, "");
      box.appendChild(div);
    });
    var close = document.createElement("button");
    close.className = "wf-button wf-bin-close";
    close.textContent = "Close";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
  }

  function select(clickData) {
    var p = clickData && clickData.points && clickData.points[0];
    // A bin is not an incident: it has no detail drawer; its summary shows on the map instead.
    if (p && p.customdata && String(p.customdata).indexOf("bin:") === 0) {
      showBin(p);
      return window.dash_clientside.no_update;
    }
    return p && p.customdata ? p.customdata : window.dash_clientside.no_update;
  }

  function screenOf(el) {
    var root = el && el.closest ? el.closest("[data-screen]") : null;
    return root ? root.getAttribute("data-screen") : null;
  }

  function setSelected(screen, value) {
    if (screen && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props({wf: "selected", screen: screen}, {data: value});
    }
  }

  document.addEventListener("click", function (e) {
    var item = e.target.closest && e.target.closest("[data-wf-id]");
    if (item) { setSelected(item.getAttribute("data-wf-screen"), item.getAttribute("data-wf-id")); return; }
    var close = e.target.closest && e.target.closest("[data-action='close-detail']");
    if (close) { setSelected(screenOf(close), null); }
  });

  /* Keyboard: / search, Esc close the detail, 1-5 time window, Enter on a list item opens it. */
  document.addEventListener("keydown", function (e) {
    var root = document.querySelector("[data-screen]");
    var screen = root ? root.getAttribute("data-screen") : null;
    if (!screen) { return; }
    var typing = e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA");
    if (e.key === "Escape") { setSelected(screen, null); if (typing) { e.target.blur(); } return; }
    if (e.key === "Enter" && e.target.getAttribute && e.target.getAttribute("data-wf-id")) {
      setSelected(screen, e.target.getAttribute("data-wf-id")); return;
    }
    if (typing) { return; }
    if (e.key === "/") { var s = document.querySelector(".wf-search"); if (s) { e.preventDefault(); s.focus(); } return; }
    var k = parseInt(e.key, 10);
    if (k >= 1 && k <= 5 && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props({wf: "window", screen: screen}, {value: WINDOWS[k - 1]});
    }
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    watchfloor: {render: render, heartbeat: heartbeat, select: select, banner: banner, gate: gate}
  });
})();
