/* Watchfloor: the "hospitals & responders" layer toggle. The street basemap's responder places
 * (hospitals, police, fire and ambulance stations, shelters, schools: dashboard/tiles.py) are layers
 * of the map's style, not plotly layers, so the toggle sets their visibility on the MapLibre map
 * itself, for every screen's map, whenever the checkbox changes and again after the style reloads.
 * One of the assets/wf-*.js files (Dash loads them in name order); wf-10-state.js says how they fit. */
(function () {
  "use strict";
  var RESPONDER_LAYER = /-(pois|poi-names|poi-letters)$/;

  function mapOf(root) {
    var gd = root.querySelector(".wf-map-graph .js-plotly-plot");
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
  }

  function wanted(root) {
    var box = root.querySelector(".wf-filter-layers input[value='responders']");
    return box ? box.checked : true;  // screens without the checklist (the wall) show them
  }

  function apply() {
    document.querySelectorAll(".wf-desk, .wf-tablet, .wf-wall").forEach(function (root) {
      var map = mapOf(root);
      if (!map || !map.isStyleLoaded()) { return; }
      var style = map.getStyle();  // none while a map is being removed (a page left, a figure replaced)
      if (!style) { return; }
      var visibility = wanted(root) ? "visible" : "none";
      (style.layers || []).forEach(function (layer) {
        if (RESPONDER_LAYER.test(layer.id) && map.getLayoutProperty(layer.id, "visibility") !== visibility) {
          map.setLayoutProperty(layer.id, "visibility", visibility);
        }
      });
    });
  }

  document.addEventListener("change", function (e) {
    if (e.target && e.target.closest && e.target.closest(".wf-filter-layers")) { setTimeout(apply, 0); }
  });
  setInterval(apply, 1000);  // a restyled or newly drawn map gets the checkbox's state within a second

  /* The vetted-reports layer is redrawn from the server every REFRESH_TICKS (6) panels ticks, 30 s,
   * and only while it is shown (dashboard/reports/map_layer.py): a hidden layer sends nothing. */
  var REPORTS_REFRESH_TICKS = 6;
  function reportsTick(n, layers) {
    if (!n || !layers || layers.indexOf("reports") < 0 || n % REPORTS_REFRESH_TICKS !== 0) {
      return window.dash_clientside.no_update;
    }
    return n;
  }

  /* The vetting queue's line (dashboard/reports/queue_line.py) on the page's first tick and every
   * third after (15 s): its counts and its oldest age in hours move slowly, and it was a third of
   * what a screen asked the server on each panels tick. */
  var QUEUE_REFRESH_TICKS = 3;
  function queueTick(n) {
    if (n && n % QUEUE_REFRESH_TICKS !== 1) { return window.dash_clientside.no_update; }
    return n || 0;
  }

  var WF = window.__wfjs = window.__wfjs || {};
  WF.reportsTick = reportsTick;
  WF.queueTick = queueTick;
}());
