// The dashboard's only script: a value a person opened stays open when htmx
// replaces the live part of a page with a newer one (opened blocks have ids),
// and a row of the trace a person folded (data-keep-closed) stays folded.
(function () {
  "use strict";
  var opened = [], closed = [];
  function ids(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (d) { return d.id; });
  }
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
  });
})();
