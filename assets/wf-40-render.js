/* Watchfloor clientside callbacks: render(), the map, timeline, list and count.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var stateFor = WF.stateFor, ingest = WF.ingest;
  var makeFilter = WF.makeFilter, nearSpace = WF.nearSpace, scopeOf = WF.scopeOf;
  var binFilter = WF.binFilter, binColumns = WF.binColumns, binNote = WF.binNote;
  var SEV_RANK = WF.SEV_RANK;
  // Map traces (dashboard/panels/figures.py): 0 every incident, 1 density, 2 bins, 3 outlines of the
  // severe and extreme, 4 the severe and extreme again (drawn over the rest), 5 the selected incident.
  var OUTLINE = 3, TOP = 4, HALO = 5;

  /* The screen's own palette (the tablet's light theme has darker colours that hold 3:1 on white). */
  function sevColour(settings, r) {
    var palette = (settings && settings.sevColours) || {};
    return palette[r.severity] || r.color || "#bbbbbb";
  }
  /* Timeline text size: on the wall never under 1/90 of the screen height (read from across the room). */
  function tlFont(settings) {
    return settings && settings.screen === "wall" ? Math.max(12, Math.ceil(window.innerHeight / 90) + 2) : 12;
  }
  function ink(settings) { return settings && settings.theme === "light" ? "#0d1117" : "#ffffff"; }
  /* Marker sizes are pixels: on the wall they grow with the screen, so a 4K wall reads like a 1080p one. */
  function dotScale(settings) {
    return settings && settings.screen === "wall" ? Math.max(1, window.innerHeight / 1080) : 1;
  }

  function mapColumns(st, visible, positions, space, settings) {
    var cols = {lat: [], lon: [], ids: [], text: [], color: [], size: [], time: [], kind: []};
    var k = dotScale(settings);
    positions.forEach(function (i) {
      var r = st.rows[i], show = visible(r), onTl = show && nearSpace(space, r);
      cols.lat.push(show ? r.lat : null); cols.lon.push(show ? r.lon : null);
      cols.ids.push(r.id); cols.text.push(r.text || ""); cols.color.push(sevColour(settings, r));
      cols.size.push(Math.round((r.size || 9) * k)); cols.time.push(onTl ? r.time : null); cols.kind.push(onTl ? r.kind : null);
    });
    return cols;
  }

  /* Severe and extreme incidents drawn a second time, over every other marker (plotly draws later
   * traces and later points on top): extreme last. Trace 3 puts a contrasting outline under each. */
  function topColumns(st, visible, settings) {
    var top = st.rows.filter(function (r) {
      return !r.hidden && r.lat !== null && r.lat !== undefined && (SEV_RANK[r.severity] || 0) >= 3 && visible(r);
    });
    top.sort(function (a, b) {
      return (SEV_RANK[a.severity] - SEV_RANK[b.severity]) || (a.time < b.time ? -1 : a.time > b.time ? 1 : 0);
    });
    var cols = {lat: [], lon: [], ids: [], text: [], color: [], size: [], ring: [], ringColor: []};
    var k = dotScale(settings);
    top.forEach(function (r) {
      cols.lat.push(r.lat); cols.lon.push(r.lon); cols.ids.push(r.id); cols.text.push(r.text || "");
      cols.color.push(sevColour(settings, r)); cols.size.push(Math.round((r.size || 15) * k));
      cols.ring.push(Math.round(((r.size || 15) + (r.severity === "extreme" ? 8 : 6)) * k)); cols.ringColor.push(ink(settings));
    });
    return cols;
  }

  function selectedRow(st, selected) {
    var at = selected ? st.index.get(selected) : undefined;
    var r = at === undefined ? null : st.rows[at];
    return r && !r.hidden ? r : null;
  }

  /* The selected incident: a wide disc in the screen's ink under the marker drawn again on top. */
  function haloPatch(map, tl, r, settings) {
    var placed = r && r.lat !== null && r.lat !== undefined;
    var size = (r && r.size) || 12;
    map.assign(["data", HALO, "lat"], placed ? [r.lat, r.lat] : [])
       .assign(["data", HALO, "lon"], placed ? [r.lon, r.lon] : [])
       .assign(["data", HALO, "customdata"], placed ? [r.id, r.id] : [])
       .assign(["data", HALO, "hovertext"], placed ? [r.text || "", r.text || ""] : [])
       .assign(["data", HALO, "marker", "color"], placed ? [ink(settings), sevColour(settings, r)] : [])
       .assign(["data", HALO, "marker", "size"], placed ? [size + 18, size + 2] : []);
    var timed = r && r.time;
    tl.assign(["data", 1, "x"], timed ? [r.time] : []).assign(["data", 1, "y"], timed ? [r.kind] : [])
      .assign(["data", 1, "customdata"], timed ? [r.id] : []);
  }

  /* The timeline's marks: "now" (a dotted line), the brushed band, and a word when it is empty. */
  function timelineMarks(tl, brush, shown, settings) {
    var colour = ink(settings) === "#ffffff" ? "#e6edf3" : "#0d1117";
    var now = new Date(Date.now()).toISOString().slice(0, 19) + "Z";
    var shapes = [], notes = [];
    if (brush) {
      shapes.push({type: "rect", name: "brush", xref: "x", yref: "paper", x0: brush[0], x1: brush[1], y0: 0, y1: 1,
                   fillcolor: "#56b4e9", opacity: 0.18, layer: "below", line: {color: "#0072b2", width: 2}});
      notes.push({name: "brush", text: "selected " + brush[0].slice(11, 16) + "–" + brush[1].slice(11, 16) + "Z",
                  xref: "paper", yref: "paper", x: 0.99, y: 1.0, xanchor: "right", yanchor: "bottom",
                  showarrow: false, font: {size: tlFont(settings), color: colour}});
    }
    shapes.push({type: "line", name: "now", xref: "x", yref: "paper", x0: now, x1: now, y0: 0, y1: 1,
                 line: {color: colour, width: 2, dash: "dot"}});
    notes.push({name: "now", text: "now", xref: "x", yref: "paper", x: now, y: 1, xanchor: "right", yanchor: "top",
                showarrow: false, font: {size: tlFont(settings), color: colour}});
    if (!shown) {
      notes.push({name: "empty", text: "Nothing in this window", xref: "paper", yref: "paper", x: 0.5, y: 0.5,
                  showarrow: false, font: {size: tlFont(settings) + 4, color: colour}});
    }
    tl.assign(["layout", "shapes"], shapes).assign(["layout", "annotations"], notes);
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

  /* The incident list is drawn straight into the page, outside Dash's component tree: as 200 Dash
   * components (with 600 more for their parts) every store update made Dash's renderer visit each of
   * them, about a second of the browser's time per new incident on a desk. Text only (textContent:
   * every string from a feed is untrusted); the <li> nodes are reused by position, and the keyboard
   * focus follows its incident to wherever the update moved it. Clicks and Enter reach the
   * document's listeners in wf-90-select.js through data-wf-id. */
  function span(className, text, style) {
    var el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    if (style) { el.style.borderColor = style; }
    return el;
  }

  function listItem(li, r, settings, selected) {
    var chosen = r.id === selected;
    li.className = "wf-item wf-sev-" + r.severity + (chosen ? " wf-selected" : "");
    li.setAttribute("data-wf-id", r.id);
    li.setAttribute("data-wf-screen", settings.screen);
    li.setAttribute("tabindex", "0");
    li.setAttribute("role", "button");
    if (chosen) { li.setAttribute("aria-current", "true"); } else { li.removeAttribute("aria-current"); }
    var parts = [span("wf-sev", (r.severity || "unknown").toUpperCase(), sevColour(settings, r)),
                 span("wf-muted", (r.time || "").slice(11, 16) + "Z ")];
    if (r.exercise) { parts.push(span("wf-ex-tag", "EXERCISE ")); }
    parts.push(span("wf-item-title", r.title || ""));
    if (r.lat === null || r.lat === undefined) { parts.push(span("wf-muted", " (unplaced)")); }
    li.replaceChildren.apply(li, parts);
  }

  function drawList(settings, shown, selected) {
    var root = document.querySelector('[data-screen="' + settings.screen + '"]') || document;
    var host = root.querySelector(".wf-list");
    if (!host) { return false; }
    var ul = host.querySelector("ul.wf-incidents");
    if (!ul) {
      ul = document.createElement("ul");
      ul.className = "wf-incidents";
      host.appendChild(ul);
    }
    var rows = shown.slice(0, settings.listLimit || 100);
    var active = document.activeElement;
    var focusedId = active && active.parentNode === ul ? active.getAttribute("data-wf-id") : null;
    rows.forEach(function (r, i) {
      var li = ul.children[i];
      if (!li) { li = document.createElement("li"); ul.appendChild(li); }
      listItem(li, r, settings, selected);
    });
    if (!rows.length) {
      var empty = ul.children[0] || ul.appendChild(document.createElement("li"));
      ["data-wf-id", "data-wf-screen", "tabindex", "role", "aria-current"].forEach(function (a) { empty.removeAttribute(a); });
      empty.className = "wf-muted";
      empty.replaceChildren(document.createTextNode("No incidents match."));
    }
    while (ul.children.length > Math.max(1, rows.length)) { ul.removeChild(ul.lastChild); }
    if (focusedId) {
      var again = Array.prototype.find.call(ul.children, function (li) { return li.getAttribute("data-wf-id") === focusedId; });
      if (again && again !== document.activeElement) { again.focus({preventScroll: true}); }
    }
    return true;
  }

  function listChildren(st, visible, settings, selected) {
    var shown = st.rows.filter(visible);
    shown.sort(function (a, b) { return a.time < b.time ? 1 : a.time > b.time ? -1 : 0; });
    if (!drawList(settings, shown, selected)) {  // the page is not mounted yet: the next frame
      window.requestAnimationFrame(function () { drawList(settings, shown, selected); });
    }
    return shown.length;
  }

  /* A brushed range on the timeline narrows the time window; a double-click (autorange) clears it. */
  /* Plotly writes a time axis range as "2026-12-04 05:10:00.123" (UTC here, the figure has no zone). */
  function utcText(value) {
    var text = String(value).trim().replace(" ", "T");
    return /(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : text + "Z";
  }
  /* The brushed range, from either form plotly reports it in: a drag sends "xaxis.range[0]" and
   * "xaxis.range[1]", a programmatic or range-slider change "xaxis.range": [a, b]. */
  function brushOf(st, relayout) {
    if (!relayout) { return st.brush || null; }
    var range = relayout["xaxis.range"];
    if (relayout["xaxis.autorange"]) { st.brush = null; }
    else if (relayout["xaxis.range[0]"] && relayout["xaxis.range[1]"]) {
      st.brush = [utcText(relayout["xaxis.range[0]"]), utcText(relayout["xaxis.range[1]"])];
    } else if (Array.isArray(range) && range.length === 2 && range[0] && range[1]) {
      st.brush = [utcText(range[0]), utcText(range[1])];
    }
    return st.brush || null;
  }

  function layerPatch(map, fig, layers, st, visible, bc) {
    var on = new Set(layers || []);
    map.assign(["data", 0, "visible"], on.has("incidents"));
    map.assign(["data", 1, "visible"], on.has("density"));
    if (st.bins.size) { map.assign(["data", 2, "visible"], on.has("incidents")); }
    [OUTLINE, TOP, HALO].forEach(function (t) { map.assign(["data", t, "visible"], on.has("incidents")); });
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

  function render(snapshot, delta, win, minSev, kinds, text, exercise, layers, relayout, _tick, scope, selected, mapFigure, settings) {
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
        if (snapshot.ok !== false) { st.lastOk = st.lastPolled = Date.now(); }
        // The page's rows come as JSON text (dashboard/app.py snapshot: far cheaper for the server).
        ingest(st, typeof snapshot.rows === "string" ? JSON.parse(snapshot.rows) : (snapshot.rows || []));
        st.cursor = snapshot.cursor;  // where the rows held stop: a pushed delta applies only from here
      }
    }
    var deltaFired = fired.some(function (p) { return p.indexOf('"wf":"delta"') >= 0; });
    if (deltaFired && delta && delta.reload) {
      // Away longer than the change stream keeps: start again from a fresh snapshot.
      window.location.reload();
      return [nu, nu, nu];
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
      // Deltas from the push stream wait in st.pushQueue (wf-50-push.js), taken here first and in
      // order: two landing before one render would otherwise leave only the second in the store.
      var queued = st.pushQueue || [], rows = [];
      st.pushQueue = [];
      queued.forEach(function (m) { (m.rows || []).forEach(function (r) { rows.push(r); }); });
      var said = !delta.pushed ? delta : queued[queued.length - 1];  // the newest word on the store
      if (!delta.pushed) {  // a poll's answer
        if (typeof delta.cursor === "string") { st.cursor = delta.cursor; }
        st.lastPolled = st.lastOk;  // the gate's safety poll counts polls only
        if (WF.pollLanded) { WF.pollLanded(settings.screen, st); }  // a delta held meanwhile
        (typeof delta.rows === "string" ? JSON.parse(delta.rows) : (delta.rows || [])).forEach(function (r) { rows.push(r); });
      }
      if (said) {
        st.redisOk = said.redis !== false;
        st.storeReason = said.reason || "";
        st.problems = said.problems || [];
      }
      diff = ingest(st, rows);
    }
    var brush = brushOf(st, relayout);
    var space = scopeOf(settings, scope);
    var key = JSON.stringify([win, minSev, kinds, text, exercise, layers, brush, scope]);
    if (key !== st.filterKey) { st.filterKey = key; full = true; }
    var tickFired = fired.some(function (p) { return p.indexOf('"wf":"panels-tick"') >= 0; });
    if (tickFired && win && Date.now() - st.lastFull > 60000) { full = true; }  // events age out of the window
    selected = selected || null;
    var selChanged = selected !== st.selected;
    st.selected = selected;
    var nowDue = tickFired && Date.now() - (st.nowAt || 0) > 30000;  // the timeline's "now" line moves on
    var dataWork = full || diff.changed.length || diff.added.length || diff.bins;
    if (!dataWork && !selChanged && !nowDue) { return [nu, nu, nu]; }

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
        // A bigger wall shows the same ground, not more of it: one zoom step per doubling of height.
        map.assign(["layout", "map", "center"], {lat: target.center[0], lon: target.center[1]})
           .assign(["layout", "map", "zoom"], target.zoom + Math.log2(dotScale(settings)));
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
      var c = mapColumns(st, visible, all, space, settings);
      tl.assign(["layout", "title"], {text: "Timeline · " + (space ? space.name + " (within " + (space.nearKm || 5) + " km)" : "whole picture"),
                                      x: 0.01, xanchor: "left", y: 0.98, yanchor: "top", font: {size: tlFont(settings)}});
      tl.assign(["layout", "margin", "t"], Math.max(24, 2 * tlFont(settings) + 4));
      if (settings.screen === "wall") { tl.assign(["layout", "font", "size"], tlFont(settings)); }
      map.assign(["data", 0, "lat"], c.lat).assign(["data", 0, "lon"], c.lon)
         .assign(["data", 0, "customdata"], c.ids).assign(["data", 0, "hovertext"], c.text)
         .assign(["data", 0, "marker", "color"], c.color).assign(["data", 0, "marker", "size"], c.size);
      tl.assign(["data", 0, "x"], c.time).assign(["data", 0, "y"], c.kind)
        .assign(["data", 0, "customdata"], c.ids).assign(["data", 0, "hovertext"], c.text)
        .assign(["data", 0, "marker", "color"], c.color);
    } else {
      if (diff.changed.length) {
        var ch = mapColumns(st, visible, diff.changed, space, settings);
        diff.changed.forEach(function (at, k) {
          map.assign(["data", 0, "lat", at], ch.lat[k]).assign(["data", 0, "lon", at], ch.lon[k])
             .assign(["data", 0, "hovertext", at], ch.text[k]).assign(["data", 0, "marker", "color", at], ch.color[k])
             .assign(["data", 0, "marker", "size", at], ch.size[k]);
          tl.assign(["data", 0, "x", at], ch.time[k]).assign(["data", 0, "y", at], ch.kind[k])
            .assign(["data", 0, "hovertext", at], ch.text[k]).assign(["data", 0, "marker", "color", at], ch.color[k]);
        });
      }
      if (diff.added.length) {
        var ad = mapColumns(st, visible, diff.added, space, settings);
        map.extend(["data", 0, "lat"], ad.lat).extend(["data", 0, "lon"], ad.lon)
           .extend(["data", 0, "customdata"], ad.ids).extend(["data", 0, "hovertext"], ad.text)
           .extend(["data", 0, "marker", "color"], ad.color).extend(["data", 0, "marker", "size"], ad.size);
        tl.extend(["data", 0, "x"], ad.time).extend(["data", 0, "y"], ad.kind)
          .extend(["data", 0, "customdata"], ad.ids).extend(["data", 0, "hovertext"], ad.text)
          .extend(["data", 0, "marker", "color"], ad.color);
      }
    }
    if (dataWork) {
      var top = topColumns(st, visible, settings);
      map.assign(["data", OUTLINE, "lat"], top.lat).assign(["data", OUTLINE, "lon"], top.lon)
         .assign(["data", OUTLINE, "marker", "color"], top.ringColor).assign(["data", OUTLINE, "marker", "size"], top.ring);
      map.assign(["data", TOP, "lat"], top.lat).assign(["data", TOP, "lon"], top.lon)
         .assign(["data", TOP, "customdata"], top.ids).assign(["data", TOP, "hovertext"], top.text)
         .assign(["data", TOP, "marker", "color"], top.color).assign(["data", TOP, "marker", "size"], top.size);
    }
    var sel = selectedRow(st, selected);
    if (dataWork || selChanged) { haloPatch(map, tl, sel, settings); }
    if (selChanged && sel && sel.lat !== null && sel.lat !== undefined) {
      // A click or tap in the list brings its incident to the middle of the map. The tiny nudge makes
      // the same place chosen again a change, so it pans back after the operator has moved away.
      st.nudge = !st.nudge;
      map.assign(["layout", "map", "center"], {lat: sel.lat + (st.nudge ? 1e-7 : 0), lon: sel.lon});
    }
    var onTimeline = 0;
    st.rows.forEach(function (r) { if (r.time && visible(r) && nearSpace(space, r)) { onTimeline += 1; } });
    timelineMarks(tl, brush, onTimeline, settings);
    st.nowAt = Date.now();
    if (!dataWork && !selChanged) { return [map.build(), tl.build(), nu]; }
    var touchedArea = full || diff.changed.concat(diff.added).some(function (i) { return st.rows[i].area || st.rows[i].hidden; });
    var layer = areaLayerIndex(mapFigure);
    if (touchedArea && layer >= 0) { map.assign(["layout", "map", "layers", layer, "source"], areas(st, visible)); }
    var listed = listChildren(st, visible, settings, selected);
    var count = "(" + listed + " shown of " + st.rows.filter(function (r) { return !r.hidden; }).length +
      (st.bins.size ? binNote(st, text) : "") +
      (brush ? "; timeline selection, double-click it to clear" : "") + ")";
    return [map.build(), tl.build(), count];
  }

  WF.render = render;
})();
