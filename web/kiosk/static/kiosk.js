// The kiosk page's behaviour (no inline script: the CSP forbids it).
// - Idle timer: after data-idle-ms without a touch or key, the page posts the
//   "start over" form (the server wipes the visit); while the person is active, a
//   throttled POST /alive keeps the server's own idle clock in step with the page's.
// - The pull button posts with fetch, so the page stays and watches each material
//   change through the event stream live.js already holds open.
// - Each material row's state changes are recorded (data-history, data-t-STATE in ms
//   since the page loaded), and the button press time (data-pressed-ms on #pull):
//   what a person saw, in order, and when.
"use strict";
(function () {
  var session = null;
  function csrf() { return session ? session.getAttribute("data-csrf") : ""; }

  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin",
                        headers: { "x-csrf-token": csrf(), "accept": "application/json" } });
  }

  function startIdleTimer() {
    var idleMs = parseInt(session.getAttribute("data-idle-ms"), 10);
    if (!(idleMs > 0)) { return; }
    var timer = null, lastPing = Date.now();
    function expire() {
      var reason = document.getElementById("reset-reason");
      if (reason) { reason.value = "idle"; }
      document.getElementById("reset-form").submit();
    }
    function activity() {
      clearTimeout(timer);
      timer = setTimeout(expire, idleMs);
      if (Date.now() - lastPing > idleMs / 4) { lastPing = Date.now(); post("/alive"); }
    }
    ["pointerdown", "keydown", "touchstart", "input"].forEach(function (name) {
      document.addEventListener(name, activity, { passive: true });
    });
    timer = setTimeout(expire, idleMs);
  }

  function recordStates() {
    var rows = document.querySelectorAll("tr[data-material][id]");
    var observer = new MutationObserver(function (records) {
      var now = Math.round(performance.now());
      records.forEach(function (r) {
        var row = r.target, state = row.getAttribute("data-state");
        var history = row.getAttribute("data-history") || r.oldValue || "";
        var last = history.split(">").pop();
        if (state !== last) { row.setAttribute("data-history", history + ">" + state); }
        row.setAttribute("data-t-" + state, String(now));
      });
    });
    rows.forEach(function (row) {
      row.setAttribute("data-history", row.getAttribute("data-state"));
      observer.observe(row, { attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
    });
  }

  function wirePull() {
    var form = document.getElementById("pull-form");
    if (!form) { return; }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = document.getElementById("pull-button");
      button.disabled = true;
      document.getElementById("pull").setAttribute("data-pressed-ms", String(Math.round(performance.now())));
      post("/pull/start").then(function (r) {
        if (r.status === 409 || r.ok) { return; }
        window.location.href = "/?ended=1";
      });
    });
    document.addEventListener("govchain:live-done", function (e) {
      var detail = e.detail || {};
      if (detail.ended) { window.location.href = "/?ended=1"; return; }
      document.getElementById("pull").setAttribute("data-done", detail.ready ? "ready" : "incomplete");
      if (detail.ready) { document.getElementById("submit-button").disabled = false; }
      else { document.getElementById("pull-hint").hidden = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    session = document.getElementById("kiosk-session");
    if (session) { startIdleTimer(); }
    recordStates();
    wirePull();
  });
})();
