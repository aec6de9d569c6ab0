/* Watchfloor clientside callbacks (every screen: wall, desk, tablet).
 *
 * render() keeps, per screen, every row the server has sent (the page's snapshot, then deltas),
 * keyed by event id: a known id is updated in place, a new id is appended, a superseded one is
 * hidden. Applying the same rows twice changes nothing, so overlapping or replayed deltas never
 * duplicate. Filters run here, over data sent once; the server keeps no per-screen state.
 * Feed text only ever reaches the page as text nodes (Dash children) or escaped hover labels.
 *
 * The browser code is split by feature into assets/wf-NN-*.js, which Dash loads in name order.
 * Each file is its own IIFE and shares what the others need on one object, window.__wfjs:
 *   wf-10-state    per-screen state, the rows merged by event id, shared constants
 *   wf-20-filters  the desk's filters over rows; the timeline's "near a workspace" test
 *   wf-30-bins     hexagon bins counted under the filters
 *   wf-40-render   render(): the map, timeline, list and count patches
 *   wf-50-push     the server's event stream that wakes the poll
 *   wf-60-wall     gate() and heartbeat(): polls, connection word, clocks, wall rotation, session, idle
 *   wf-70-banner   operator alerts' banner, tone and acknowledgement
 *   wf-80-forms    operator forms posting JSON to the API
 *   wf-90-select   selection, bin summaries, keys; registers window.dash_clientside.watchfloor
 */
(function () {
  "use strict";
  var WF = window.__wfjs = window.__wfjs || {};  // what the wf-*.js files share (loaded in name order)

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
        if (at === undefined && row.binned) { return; }  // binned, never drawn here: nothing to keep
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

  WF.SEV_RANK = SEV_RANK; WF.WINDOWS = WINDOWS; WF.stateFor = stateFor; WF.pad = pad; WF.hhmmss = hhmmss; WF.ingest = ingest;
})();
