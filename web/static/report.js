// The report page, improved when JavaScript runs: photos downscaled before upload (keeping their capture
// time and GPS, which staff check), the location from the phone, item search, every problem shown beside
// its field in the page's language, an upload progress bar, and reports kept on the phone while there is
// no signal (sent later, once). The form's Idempotency-Key is made by the server once per form and kept
// across reloads and back/forward, so a double tap or a resubmit sends one report. Without JavaScript
// the form posts as it is.
(function () {
  "use strict";
  var form = document.getElementById("report");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.JifenPhotos) return;
  document.documentElement.className += " js";
  var QUEUE = "jifen-report-queue", KEY = "jifen-report-key", SENT = "jifen-report-sent";
  var words = JSON.parse(form.getAttribute("data-words"));
  var csrf = form.querySelector("input[name=_csrf_token]").value;
  var keyInput = form.querySelector("input[name=idempotency_key]");
  var select = document.getElementById("item"), search = document.getElementById("item-search");
  var more = document.getElementById("more"), button = document.getElementById("send");
  var progress = document.getElementById("progress"), sending = false;

  function $(id) { return document.getElementById(id); }

  // --- the form's key: the server's, unless this is the same form again (reload, back or forward)
  var nav = window.performance && performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
  if (nav && (nav.type === "reload" || nav.type === "back_forward") && sessionStorage.getItem(KEY)) {
    keyInput.value = sessionStorage.getItem(KEY);
  }
  sessionStorage.setItem(KEY, keyInput.value);

  function showSent() {
    form.hidden = true;
    $("sent").hidden = false;
  }
  function alreadySent() { return sessionStorage.getItem(SENT) === keyInput.value; }
  if (alreadySent()) showSent();
  window.addEventListener("pageshow", function () { if (alreadySent()) showSent(); });

  // --- errors, in the page's language, from the API's codes
  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  var SLOTS = {lat: "location", lng: "location", grid: "location", location: "location", units: "item"};
  function showErrors(problems) {
    Array.prototype.forEach.call(form.querySelectorAll(".err"), function (p) { p.textContent = ""; p.hidden = true; });
    problems.forEach(function (one) {
      var field = one.field || "form", text = fill(words[one.code] || words.unknown, one);
      var photo = /^photos\[(\d+)\]$/.exec(field);
      if (photo) { text = fill(words.nth_photo, {n: +photo[1] + 1}) + text; field = "photos"; }
      var slot = $("err-" + (SLOTS[field] || field)) || $("err-form");
      slot.textContent = (slot.textContent ? slot.textContent + " " : "") + text;
      slot.hidden = false;
    });
    var first = form.querySelector(".err:not([hidden])");
    if (first) first.scrollIntoView({block: "center"});
  }

  // --- the item: a chip of the member's most used, or any item from the list (with a search)
  function chosen() {
    var radio = form.querySelector("input[name=item]:checked");
    if (radio && radio.value) return radio;
    return select.value ? select.options[select.selectedIndex] : null;
  }
  function itemRule() {
    var c = chosen(), needed = !!c && c.getAttribute("data-desc") === "1";
    form.description.required = needed;
    $("desc-optional").hidden = needed;
  }
  function unfold(open) { if (more) more.className = open ? "" : "folded"; }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=item]"), function (r) {
    r.addEventListener("change", function () { unfold(!r.value); if (!r.value) search.focus(); itemRule(); });
  });
  search.hidden = false;
  var all = Array.prototype.slice.call(select.options).filter(function (o) { return o.value; });
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    all.forEach(function (o) { o.hidden = !!q && o.text.toLowerCase().indexOf(q) < 0; });
    var first = all.filter(function (o) { return !o.hidden; })[0];
    $("item-none").hidden = !!first;
    if (first) { select.value = first.value; pickOther(); }
    else { select.value = ""; itemRule(); }  // nothing found: nothing chosen behind the member's back
  });
  function pickOther() {
    var other = $("item-more");
    if (other) other.checked = true;
    itemRule();
  }
  select.addEventListener("change", pickOther);
  itemRule();

  // --- the place, from the phone
  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      form.lat.value = p.coords.latitude.toFixed(6);
      form.lng.value = p.coords.longitude.toFixed(6);
      $("located").hidden = false;
      $("unlocated").hidden = true;
    }, function () {}, {enableHighAccuracy: true, timeout: 8000, maximumAge: 60000});
  }

  // --- photos: previews, and a downscaled copy that keeps the original's EXIF (time and GPS)
  form.photos.addEventListener("change", function () {
    var box = $("previews");
    box.textContent = "";
    Array.prototype.forEach.call(form.photos.files || [], function (f) {
      var img = document.createElement("img");
      img.src = URL.createObjectURL(f);
      img.alt = "";
      box.appendChild(img);
    });
    var again = $("photos-again");
    if (again) again.hidden = true;
  });

  var shrink = window.JifenPhotos.shrink;  // photos.js: downscaled, EXIF time and GPS kept

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

  // --- sending: one request per form, with its progress; kept on the phone when there is no network
  function send(entry, onProgress) {
    return new Promise(function (resolve, reject) {
      var body = new FormData(), xhr = new XMLHttpRequest();
      Object.keys(entry.fields).forEach(function (k) { body.append(k, entry.fields[k]); });
      entry.photos.forEach(function (p, i) { body.append("photos", fromDataUrl(p), "photo" + i + ".jpg"); });
      xhr.open("POST", "/api/v1/submissions");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Idempotency-Key", entry.key);
      if (onProgress) xhr.upload.onprogress = function (ev) { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = xhr.ontimeout = function () { reject(xhr); };
      xhr.send(body);
    });
  }

  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); }
  function delivered(key) {
    save(queue().filter(function (e) { return e.key !== key; }));
    sessionStorage.setItem(SENT, key);
    if (key === keyInput.value) { $("queued").hidden = true; showSent(); }
  }

  function flush() {
    var q = queue();
    if (!q.length || navigator.onLine === false) return;
    send(q[0]).then(function (xhr) {
      // Sent, or refused for good: either way it leaves the phone; a server error stays for later.
      if (xhr.status < 500) { delivered(q[0].key); flush(); }
    }, function () {});
  }

  function localProblems() {
    var c = chosen(), found = [], photos = (form.photos.files || []).length;
    if (!c) return [{code: "unknown_item", field: "item"}];
    if (photos < +c.getAttribute("data-photos")) found.push({code: "photos_required", field: "photos"});
    if (c.getAttribute("data-loc") === "1" && !form.lat.value && !form.grid.value) {
      found.push({code: "location_required", field: "location"});
    }
    if (c.getAttribute("data-desc") === "1" && !form.description.value.trim()) {
      found.push({code: "description_required", field: "description"});
    }
    return found;
  }

  function busy(on) {
    sending = on;
    button.disabled = on;
    progress.hidden = !on;
    if (!on) progress.value = 0;
  }

  form.setAttribute("novalidate", "");  // the page says what is missing itself, in its own words
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (sending) return;  // a second tap sends nothing more
    var problems = localProblems();
    showErrors(problems);
    if (problems.length) return;
    busy(true);
    var fields = {item: chosen().value};
    ["lat", "lng", "grid", "address", "description"].forEach(function (n) {
      if (form[n] && form[n].value) fields[n] = form[n].value;
    });
    var files = Array.prototype.slice.call(form.photos.files || []);
    Promise.all(files.map(shrink)).then(function (blobs) {
      // What the photos weigh as sent, for anyone checking the page keeps uploads small.
      sessionStorage.setItem("jifen-photo-bytes", blobs.reduce(function (n, b) { return n + b.size; }, 0));
      return Promise.all(blobs.map(toDataUrl));
    }).then(function (photos) {
      var entry = {key: keyInput.value, fields: fields, photos: photos};
      send(entry, function (part) { progress.value = Math.round(part * 100); }).then(function (xhr) {
        if (xhr.status < 300) { busy(false); delivered(entry.key); return; }
        var error = null;
        try { error = JSON.parse(xhr.responseText).error; } catch (e) { error = null; }
        showErrors(error && error.code ? (error.problems || [error]) : [{code: "http_" + xhr.status}]);
        busy(false);
      }, function () {
        save(queue().filter(function (e) { return e.key !== entry.key; }).concat([entry]));
        $("queued").hidden = false;
        button.disabled = true;
        progress.hidden = true;
      });
    });
  });

  window.addEventListener("online", flush);
  flush();
})();
