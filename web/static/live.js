// Live updates without a build step: an element with data-live="URL" subscribes to the
// server-sent events at URL. Each event is JSON {target, state, fields}: the element
// with id=target gets data-state=state, and each descendant [data-field=NAME] gets
// fields[NAME] as its text. An event {done: true} closes the stream.
"use strict";
(function () {
  function apply(msg) {
    var el = document.getElementById(msg.target);
    if (!el) { return; }
    if (msg.state) { el.setAttribute("data-state", msg.state); }
    var fields = msg.fields || {};
    Object.keys(fields).forEach(function (name) {
      el.querySelectorAll('[data-field="' + name + '"]').forEach(function (f) {
        f.textContent = fields[name];
        if (msg.state && f.classList.contains("status")) { f.setAttribute("data-state", msg.state); }
      });
    });
  }
  function subscribe(root) {
    var source = new EventSource(root.getAttribute("data-live"));
    source.onmessage = function (e) {
      var msg = JSON.parse(e.data);
      if (msg.done) {
        source.close();
        root.setAttribute("data-live-done", "1");
        document.dispatchEvent(new CustomEvent("govchain:live-done", { detail: msg }));
        return;
      }
      apply(msg);
    };
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(subscribe);
  });
})();
