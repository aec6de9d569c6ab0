/* The public tip page's only script (served by dashboard/tip.py at /tip.js, same origin).
   Without it the forms still work: the time is then read as UTC and "use my location" stays hidden.
   - the browser's time zone offset for the time given ("when"), so the server stores it in UTC;
   - "Use my location": the browser's own navigator.geolocation, nothing asked of anyone else;
   - "Copy the code" on the receipt. */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function say(text) {
    var status = byId("tip-locate-status");
    if (status) { status.textContent = text; }
  }

  function localNow() {
    var now = new Date();
    now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
    return now.toISOString().slice(0, 16);
  }

  function zone(form) {
    var when = form.elements.when, tz = form.elements.tz;
    if (!when || !tz) { return; }
    var at = when.value ? new Date(when.value) : new Date();
    tz.value = String(isNaN(at.getTime()) ? new Date().getTimezoneOffset() : at.getTimezoneOffset());
  }

  function setPosition(form, lat, lon, acc) {
    form.elements.lat.value = lat;
    form.elements.lon.value = lon;
    form.elements.acc.value = acc;
    byId("tip-unlocate").hidden = lat === "";
  }

  function locate(form) {
    if (!navigator.geolocation) {
      say("This browser cannot share its location. Type the place instead.");
      return;
    }
    say("Asking your phone where you are…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;
      setPosition(form, c.latitude.toFixed(6), c.longitude.toFixed(6), String(Math.round(c.accuracy || 0)));
      say("Got your location (within about " + Math.round(c.accuracy || 0) + " m). You will see it on the next step.");
    }, function (err) {
      say(err && err.code === 1 ? "Your location was not shared. Type the place instead."
                                : "Your location could not be found. Type the place instead.");
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  function tipForm(form) {
    var when = form.elements.when;
    if (when) { when.max = localNow(); }
    form.addEventListener("submit", function () { zone(form); });
    var button = byId("tip-locate");
    if (button && form.elements.lat) {
      button.hidden = false;
      button.addEventListener("click", function () { locate(form); });
      byId("tip-unlocate").addEventListener("click", function () {
        setPosition(form, "", "", "");
        say("Your location will not be sent.");
      });
    }
  }

  function copyButton(button) {
    var source = byId(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Could not copy: write it down";
      });
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[action='/tip']");
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].elements.narrative) { tipForm(forms[i]); }
    }
    var copies = document.querySelectorAll("[data-copy]");
    for (var j = 0; j < copies.length; j++) { copyButton(copies[j]); }
    var bad = document.querySelector("[aria-invalid='true']");
    if (bad) { bad.focus(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
