// Worklist: show each case's age, and reload while jobs are running.
"use strict";
(function () {
  const now = Date.now();
  for (const el of document.querySelectorAll("time.age")) {
    const minutes = Math.max(0, Math.round((now - Date.parse(el.dateTime)) / 60000));
    const text = minutes < 60 ? minutes + " min" : minutes < 2880 ? Math.round(minutes / 60) + " h"
      : Math.round(minutes / 1440) + " d";
    el.textContent = text + " ago";
    el.title = el.dateTime;
  }
  if (document.querySelector("table.jobs progress")) {
    setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
