// The dashboard's only script.
// - Live parts: an element with data-live follows that event stream; on each
//   "changed" event htmx fetches the part again (hx-trigger="polos:changed").
//   One stream per live part, kept across swaps while the part stays live.
// - A value a person opened stays open when htmx replaces the live part of a
//   page with a newer one (opened blocks have ids), and a row of the trace a
//   person folded (data-keep-closed) stays folded.
(function () {
  "use strict";
  var streams = {};
  function follow() {
    var wanted = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-live][id]"), function (el) {
      var key = el.id + " " + el.getAttribute("data-live");
      wanted[key] = true;
      if (streams[key]) { return; }
      var source = new EventSource(el.getAttribute("data-live"));
      source.addEventListener("changed", function () { refresh(el.id); });
      streams[key] = source;
    });
    Object.keys(streams).forEach(function (key) {
      if (!wanted[key]) { streams[key].close(); delete streams[key]; }
    });
  }
  // News arriving while the part cannot take a trigger is asked for again a
  // little later: while its last fetch is still out (it carries htmx-request),
  // and while a part just swapped in is not yet processed by htmx (it carries
  // htmx-added until htmx attaches its trigger, about 20 ms after the swap; a
  // trigger then was lost, and the page stayed on the older version).
  function refresh(id) {
    var target = document.getElementById(id);
    if (!target || !target.hasAttribute("data-live")) { return; }
    if (target.classList.contains("htmx-request") || target.classList.contains("htmx-added")) {
      setTimeout(function () { refresh(id); }, 100);
      return;
    }
    htmx.trigger(target, "polos:changed");
  }
  var opened = [], closed = [];
  function ids(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (d) { return d.id; });
  }
  document.addEventListener("DOMContentLoaded", follow);
  document.addEventListener("htmx:beforeSwap", function () {
    opened = ids("details[id][open]");
    closed = ids("details[id][data-keep-closed]:not([open])");
  });
  document.addEventListener("htmx:afterSwap", function () {
    opened.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
    closed.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = false; }
    });
    follow();
  });
})();
