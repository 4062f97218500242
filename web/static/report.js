// The report page, improved when JavaScript runs: photos downscaled before upload, the location from
// the phone, item search, and reports kept on the phone while there is no signal (sent later, once:
// each carries its Idempotency-Key). Without JavaScript the form posts as it is.
(function () {
  "use strict";
  var form = document.getElementById("report");
  if (!form || !window.fetch || !window.FormData) return;
  var QUEUE = "jifen-report-queue", MAX_SIDE = 1600, QUALITY = 0.8;
  var csrf = form.querySelector("input[name=_csrf_token]").value;

  function key() {
    return "r-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      form.lat.value = p.coords.latitude.toFixed(6);
      form.lng.value = p.coords.longitude.toFixed(6);
      document.getElementById("located").hidden = false;
    }, function () {}, {enableHighAccuracy: true, timeout: 8000, maximumAge: 60000});
  }

  var search = document.getElementById("item-search"), select = document.getElementById("item");
  search.hidden = false;
  var all = Array.prototype.slice.call(select.options);
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    all.forEach(function (o) { o.hidden = q && o.text.toLowerCase().indexOf(q) < 0; });
    var first = all.filter(function (o) { return !o.hidden; })[0];
    if (first) select.value = first.value;
  });

  function descriptionRule() {
    var o = select.options[select.selectedIndex];
    var needed = o && o.getAttribute("data-desc") === "1";
    form.description.required = needed;
    document.getElementById("desc-optional").hidden = needed;
  }
  select.addEventListener("change", descriptionRule);
  descriptionRule();

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!window.createImageBitmap) return resolve(file);
      createImageBitmap(file).then(function (img) {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale);
        canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", QUALITY);
      }, function () { resolve(file); });
    });
  }

  function toDataUrl(blob) {
    return new Promise(function (resolve) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.readAsDataURL(blob);
    });
  }

  function fromDataUrl(url) {
    var parts = url.split(","), bytes = atob(parts[1]), arr = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
    return new Blob([arr], {type: "image/jpeg"});
  }

  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); }

  function send(entry) {
    var body = new FormData();
    Object.keys(entry.fields).forEach(function (k) { body.append(k, entry.fields[k]); });
    entry.photos.forEach(function (p, i) { body.append("photos", fromDataUrl(p), "photo" + i + ".jpg"); });
    return fetch("/api/v1/submissions", {method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Idempotency-Key": entry.key}});
  }

  function flush() {
    var q = queue();
    if (!q.length || !navigator.onLine) return;
    send(q[0]).then(function (res) {
      if (res.status < 500) { save(queue().slice(1)); flush(); }  // sent, or refused for good: either way done
    }, function () {});
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var fields = {};
    ["item", "lat", "lng", "grid", "address", "description"].forEach(function (n) {
      if (form[n] && form[n].value) fields[n] = form[n].value;
    });
    var files = Array.prototype.slice.call(form.photos.files || []);
    Promise.all(files.map(shrink)).then(function (blobs) {
      // What the photos weigh as sent, for anyone checking the page keeps uploads small.
      sessionStorage.setItem("jifen-photo-bytes", blobs.reduce(function (n, b) { return n + b.size; }, 0));
      return Promise.all(blobs.map(toDataUrl));
    }).then(function (photos) {
      var entry = {key: key(), fields: fields, photos: photos};
      send(entry).then(function (res) {
        if (res.ok) { window.location = "/submissions?done=reported"; return; }
        return res.json().then(function (b) { alert(b.error ? b.error.message : res.status); });
      }, function () {
        save(queue().concat([entry]));
        document.getElementById("queued").hidden = false;
      });
    });
  });

  window.addEventListener("online", flush);
  flush();
})();
