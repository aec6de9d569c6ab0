/* Watchfloor clientside callbacks: render(), the map, timeline, list and count.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var stateFor = WF.stateFor, ingest = WF.ingest;
  var makeFilter = WF.makeFilter, nearSpace = WF.nearSpace, scopeOf = WF.scopeOf;
  var binFilter = WF.binFilter, binColumns = WF.binColumns, binNote = WF.binNote;

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

  WF.render = render;
})();
