// The Guarita console's one script: live values on the overview, from /console/events.
// Only text and a data-state attribute are written into the page, never HTML.
"use strict";
(function () {
  const note = document.getElementById("live-note");
  if (!note || !window.EventSource) {
    return;
  }
  const source = new EventSource(note.dataset.liveSource);
  source.addEventListener("overview", function (message) {
    const update = JSON.parse(message.data);
    for (const [id, cell] of Object.entries(update.cells)) {
      const element = document.getElementById(id);
      if (element) {
        element.textContent = cell.text;
        element.dataset.state = cell.state;
      }
    }
    const list = document.getElementById("alarms");
    if (list) {
      list.replaceChildren();
      const alarms = update.alarms.length ? update.alarms : [list.dataset.empty];
      for (const text of alarms) {
        const item = document.createElement("li");
        item.textContent = text;
        if (!update.alarms.length) {
          item.className = "none";
        }
        list.appendChild(item);
      }
    }
    note.hidden = false;
    document.body.dataset.live = "on";
  });
  source.addEventListener("error", function () {
    document.body.dataset.live = "off";
  });
})();

// The vehicle page's "sync now" progress, from its own stream, until the pass ends (reloading
// the page then shows the new coverage). Without the script, reloading shows the progress.
(function () {
  const note = document.getElementById("sync-live");
  if (!note || note.dataset.running !== "yes" || !window.EventSource) {
    return;
  }
  const source = new EventSource(note.dataset.liveSource);
  function show(message) {
    const update = JSON.parse(message.data);
    for (const [id, text] of Object.entries(update.cells)) {
      const element = document.getElementById(id);
      if (element) {
        element.textContent = text;
      }
    }
  }
  source.addEventListener("sync", show);
  source.addEventListener("done", function (message) {
    show(message);
    source.close();
  });
})();
