// A print button (no inline handlers: the Content-Security-Policy forbids them).
(function () {
  "use strict";
  var print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
})();
