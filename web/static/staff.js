// Staff keyboard shortcuts (the pages work without them): in the queue j/k move between reports and
// Enter opens one; on a report a approves, r goes to the rejection reason, Escape back to the queue.
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll("a[data-queue]"));
  document.addEventListener("keydown", function (ev) {
    var t = ev.target.tagName;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
    var approve = document.querySelector("form[action$='/verify'] button");
    var reason = document.getElementById("reason");
    if (ev.key === "a" && approve) { ev.preventDefault(); approve.click(); }
    else if (ev.key === "r" && reason) { ev.preventDefault(); reason.focus(); }
    else if (ev.key === "Escape" && approve) { window.location = "/staff/queue"; }
    else if ((ev.key === "j" || ev.key === "k") && links.length) {
      ev.preventDefault();
      var at = links.indexOf(document.activeElement);
      at = ev.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
      links[at].focus();
    }
  });
})();
