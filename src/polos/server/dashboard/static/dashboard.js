// The dashboard's only script: a value a person opened stays open when htmx
// replaces the live part of a page with a newer one (opened blocks have ids).
(function () {
  "use strict";
  var opened = [];
  document.addEventListener("htmx:beforeSwap", function () {
    opened = Array.prototype.map.call(
      document.querySelectorAll("details[id][open]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:afterSwap", function () {
    opened.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
  });
})();
