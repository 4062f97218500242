// Every photo a page's form sends, improved when JavaScript runs — as 随手拍's: downscaled on the phone to
// at most 1600 px (a 12 MP, 3 MB camera photo becomes ~200 KB, and never much over 250 KB) with the original's EXIF time and GPS kept and
// its orientation reset (the canvas has turned the picture already), a preview of each chosen photo in place
// of the browser's "no file chosen", a progress bar while it goes, and one send however often the button is
// tapped. report.js uses `JifenPhotos.shrink` for its own queue; any other form with a file input is sent by
// this script. Without JavaScript the forms post as they are.
(function () {
  "use strict";
  if (!window.FormData || !window.XMLHttpRequest || !window.Promise) return;
  document.documentElement.classList.add("js");
  // A photo of fine detail everywhere (foliage, gravel) still weighs ~500 KB at 0.8: it is encoded again, less
  // finely, until it fits BUDGET — under 5 s on a 400 kbit/s link, whatever the camera saw.
  var MAX_SIDE = 1600, QUALITIES = [0.8, 0.65, 0.5], BUDGET = 250000;

  function exifOf(buffer) {
    var b = new Uint8Array(buffer), i = 2;
    if (b[0] !== 0xFF || b[1] !== 0xD8) return null;
    while (i + 4 <= b.length && b[i] === 0xFF) {
      var marker = b[i + 1], len = (b[i + 2] << 8) | b[i + 3];
      if (marker === 0xDA || marker === 0xD9) break;
      if (marker === 0xE1 && b[i + 4] === 0x45 && b[i + 5] === 0x78 && b[i + 6] === 0x69 && b[i + 7] === 0x66) {
        var segment = b.slice(i, i + 2 + len);
        upright(segment);
        return segment;
      }
      i += 2 + len;
    }
    return null;
  }
  // The canvas has turned the picture already: its EXIF orientation becomes "as is", or it turns twice.
  function upright(s) {
    var t = 10, le = s[t] === 0x49;
    function u16(o) { return le ? s[o] | (s[o + 1] << 8) : (s[o] << 8) | s[o + 1]; }
    function u32(o) { return le ? (s[o] | (s[o + 1] << 8) | (s[o + 2] << 16) | (s[o + 3] << 24)) >>> 0
                                : ((s[o] << 24) | (s[o + 1] << 16) | (s[o + 2] << 8) | s[o + 3]) >>> 0; }
    var ifd = t + u32(t + 4);
    if (ifd + 2 > s.length) return;
    for (var k = 0, n = u16(ifd); k < n; k++) {
      var e = ifd + 2 + 12 * k;
      if (e + 12 > s.length) return;
      if (u16(e) === 0x0112) { s[e + 8] = le ? 1 : 0; s[e + 9] = le ? 0 : 1; }
    }
  }

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!window.createImageBitmap || !file.arrayBuffer) return resolve(file);
      file.arrayBuffer().then(function (original) {
        var exif = exifOf(original);
        createImageBitmap(file).then(function (img) {
          var scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
          var canvas = document.createElement("canvas");
          canvas.width = Math.round(img.width * scale);
          canvas.height = Math.round(img.height * scale);
          canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
          (function encode(n) {
            canvas.toBlob(function (blob) {
              if (!blob) return resolve(file);
              if (blob.size > BUDGET && n + 1 < QUALITIES.length) return encode(n + 1);
              if (!exif) return resolve(blob);
              blob.arrayBuffer().then(function (small) {
                resolve(new Blob([small.slice(0, 2), exif, small.slice(2)], {type: "image/jpeg"}));
              });
            }, "image/jpeg", QUALITIES[n]);
          })(0);
        }, function () { resolve(file); });
      }, function () { resolve(file); });
    });
  }

  window.JifenPhotos = {shrink: shrink};

  function previews(input) {
    var box = document.createElement("div");
    box.className = "previews";
    input.insertAdjacentElement("afterend", box);
    input.addEventListener("change", function () {
      box.textContent = "";
      Array.prototype.forEach.call(input.files || [], function (f) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(f);
        img.alt = "";
        box.appendChild(img);
      });
    });
  }

  function enhance(form) {
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file]"));
    if (!inputs.length) return;
    inputs.forEach(previews);
    var progress = document.createElement("progress"), sending = false;
    progress.max = 100; progress.value = 0; progress.hidden = true;
    form.appendChild(progress);
    form.addEventListener("submit", function (ev) {
      var locating = form.querySelector("[data-locate]");
      if (ev.defaultPrevented || (locating && !form.dataset.located)) return;  // tasks.js finds the place first
      ev.preventDefault();
      if (sending) return;  // a second tap sends nothing more
      sending = true;
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      progress.hidden = false;
      var body = new FormData(form);
      Promise.all(inputs.map(function (input) {
        return Promise.all(Array.prototype.map.call(input.files || [], shrink));
      })).then(function (shrunk) {
        inputs.forEach(function (input, n) {
          if (!shrunk[n].length) return;  // nothing chosen: the empty part goes as the browser sends it
          body.delete(input.name);
          shrunk[n].forEach(function (blob, i) { body.append(input.name, blob, "photo" + i + ".jpg"); });
        });
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
        xhr.onload = function () {
          // The server answered a page: where its redirect led (the page again, saying what was done or
          // why not), or the form shown again with its problems beside the fields.
          if (xhr.responseURL && xhr.responseURL !== form.action) { location.assign(xhr.responseURL); return; }
          document.open(); document.write(xhr.responseText); document.close();
        };
        xhr.onerror = xhr.ontimeout = function () { form.submit(); };  // the plain post, as without JavaScript
        xhr.send(body);
      });
    });
  }

  document.querySelectorAll("form[enctype='multipart/form-data']").forEach(function (form) {
    if (form.id !== "report") enhance(form);  // 随手拍 has its own sending (report.js)
  });
})();
