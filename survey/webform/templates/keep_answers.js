document.addEventListener("DOMContentLoaded", function () {
  // Keeps the answers in this page's local storage as they are chosen (never sent elsewhere),
  // sends the form in the background, and when sending fails says so and retries with the
  // same key (the server stores a key once). Without JavaScript the form posts as usual.
  var form = document.querySelector("form[method=post]"), store = window.localStorage;
  var box = document.getElementById("mat-ket-noi");
  if (!form || !form.elements.k || !box || !window.fetch || !store) return;
  var id = "phieu:" + location.pathname.replace(/\/gui$/, ""), busy = false, tries = 0, timer;
  function radios() {
    var picked = {};
    for (var i = 0; i < form.elements.length; i++) {
      var e = form.elements[i];
      if (e.type === "radio" && e.checked) picked[e.name] = e.value;
    }
    return picked;
  }
  function save() {
    try {
      store.setItem(id, JSON.stringify({k: form.elements.k.value, a: radios(), t: Date.now()}));
    } catch (e) { /* storage full or off: the form still works */ }
  }
  var kept = null;
  try { kept = JSON.parse(store.getItem(id)); } catch (e) { kept = null; }
  if (kept && kept.a && Date.now() - kept.t < 864e5) {
    var restored = false;
    for (var name in kept.a) {
      var group = form.elements[name];
      if (group && !group.value && kept.a[name]) { group.value = kept.a[name]; restored = true; }
    }
    if (restored && kept.k) form.elements.k.value = kept.k;
  }
  form.addEventListener("change", save);
  function failed() {
    box.hidden = false;
    tries += 1;
    timer = setTimeout(send, Math.min(30, 2 * tries) * 1000);
  }
  function send() {
    if (busy) return;
    busy = true;
    clearTimeout(timer);
    save();
    fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                        credentials: "same-origin"}).then(function (answer) {
      busy = false;
      if (answer.ok && /\/cam-on(\?|$)/.test(answer.url)) {
        store.removeItem(id);
        location.assign(answer.url);
      } else if (answer.status >= 500) {
        failed();
      } else {
        form.submit();  // the server's own page: missing answers, an ended link…
      }
    }, function () { busy = false; failed(); });
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
});
