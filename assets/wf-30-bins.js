/* Watchfloor clientside callbacks: hexagon bins counted under the filters.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)
  var SEV_RANK = WF.SEV_RANK;

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

  WF.binFilter = binFilter; WF.esc = esc; WF.binColumns = binColumns; WF.binNote = binNote;
})();
