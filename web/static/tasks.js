// Task pages: fill a form's place from the phone before it is sent; scan the site's QR code with the camera
// where the browser can (BarcodeDetector), else the member types the digits under it; sort tasks nearest first.
(function () {
  "use strict";
  function locate(done) {
    if (!navigator.geolocation) { done(null); return; }
    navigator.geolocation.getCurrentPosition(function (p) { done(p.coords); }, function () { done(null); },
      {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
  }
  document.querySelectorAll("button[data-locate]").forEach(function (button) {
    var form = button.form;
    form.addEventListener("submit", function (event) {
      if (form.dataset.located) return;
      event.preventDefault();
      var note = form.querySelector("[data-locating]");
      if (note) note.hidden = false;
      locate(function (c) {
        if (c) { form.elements.lat.value = c.latitude.toFixed(6); form.elements.lng.value = c.longitude.toFixed(6); }
        form.dataset.located = "1";
        form.requestSubmit ? form.requestSubmit(button) : form.submit();
      });
    });
  });
  var nearby = document.getElementById("nearby");
  if (nearby && !nearby.dataset.done) {
    nearby.addEventListener("click", function () {
      locate(function (c) { if (c) location.search = "?lat=" + c.latitude.toFixed(5) + "&lng=" + c.longitude.toFixed(5); });
    });
  }
  var scan = document.getElementById("scan"), video = document.getElementById("viewfinder");
  if (scan && "BarcodeDetector" in window && navigator.mediaDevices) {
    scan.hidden = false;
    scan.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({formats: ["qr_code"]});
      navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (stream) {
        video.srcObject = stream; video.hidden = false; video.play();
        var look = function () {
          detector.detect(video).then(function (found) {
            var text = found.length ? found[0].rawValue : "";
            var match = /[?&]code=([0-9]+)/.exec(text);
            if (match) {
              stream.getTracks().forEach(function (t) { t.stop(); });
              document.getElementById("code").value = match[1];
              document.getElementById("by-code").submit();
            } else { requestAnimationFrame(look); }
          }).catch(function () { requestAnimationFrame(look); });
        };
        look();
      });
    });
  }
})();
