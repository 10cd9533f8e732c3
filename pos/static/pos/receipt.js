// The receipt: print on request, and on its own when the store asks for it (a fresh sale only).
// Once the original is printed, what prints next is marked as a copy. No inline handlers: the
// Content-Security-Policy forbids them.
(function () {
  "use strict";
  var receipt = document.getElementById("receipt");
  var print = document.getElementById("print");
  var copyMark = document.getElementById("copy-mark");
  window.addEventListener("afterprint", function () { if (copyMark) copyMark.hidden = false; });
  if (print) print.addEventListener("click", function () { window.print(); });
  if (receipt && receipt.dataset.autoPrint === "true") window.print();
})();
