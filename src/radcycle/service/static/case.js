// Case view: scroll the slices of each time point, window presets, the same lesion
// side by side, and a sentence's evidence on click. All images come from the API.
"use strict";
(function () {
  const viewer = document.getElementById("viewer");
  if (!viewer) { return; }
  const caseId = viewer.dataset.case;
  const facts = JSON.parse(document.getElementById("facts-data").textContent);
  const evidence = JSON.parse(document.getElementById("evidence-data").textContent);
  const panels = Array.from(viewer.querySelectorAll(".panel"));
  let windowName = "lung";
  let layout = null;

  function show(panel) {
    const t = panel.dataset.t;
    const k = panel.querySelector("input.scroll").value;
    panel.querySelector("img.slice").src =
      "/api/cases/" + caseId + "/slices/" + t + "/" + k + ".png?window=" + windowName;
    const total = Number(panel.querySelector("input.scroll").max) + 1;
    panel.querySelector(".slice-label").textContent = "slice " + (Number(k) + 1) + " of " + total;
  }

  function goTo(t, k) {
    const panel = panels.find(function (p) { return p.dataset.t === String(t); });
    if (!panel) { return; }
    panel.querySelector("input.scroll").value = k;
    show(panel);
  }

  function sideBySide(uid) {
    const where = layout && layout.lesions[uid];
    if (!where) { return; }
    for (const t of Object.keys(where)) { goTo(t, where[t]); }
  }

  fetch("/api/cases/" + caseId + "/layout", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      layout = data;
      for (const panel of panels) {
        const tp = data.timepoints[Number(panel.dataset.t)];
        const input = panel.querySelector("input.scroll");
        input.max = tp.slices - 1;
        input.value = Math.floor(tp.slices / 2);
        input.addEventListener("input", function () { show(panel); });
        panel.querySelector("img.slice").addEventListener("wheel", function (ev) {
          ev.preventDefault();
          const next = Number(input.value) + (ev.deltaY > 0 ? 1 : -1);
          input.value = Math.min(Number(input.max), Math.max(0, next));
          show(panel);
        });
        show(panel);
      }
      const first = Object.keys(data.lesions)[0];
      if (first) { sideBySide(first); }
      viewer.dataset.ready = "1";
    });

  for (const button of viewer.querySelectorAll("button.window")) {
    button.addEventListener("click", function () {
      windowName = button.dataset.window;
      for (const b of viewer.querySelectorAll("button.window")) {
        b.classList.toggle("active", b === button);
      }
      panels.forEach(show);
    });
  }
  document.getElementById("lesion-select").addEventListener("change", function (ev) {
    sideBySide(ev.target.value);
  });

  const aside = document.getElementById("evidence");
  function openEvidence(span) {
    for (const s of document.querySelectorAll(".sentence.selected")) { s.classList.remove("selected"); }
    span.classList.add("selected");
    const list = aside.querySelector("ul.facts");
    const images = aside.querySelector(".images");
    list.replaceChildren();
    images.replaceChildren();
    const seen = new Set();
    for (const id of span.dataset.facts.split(" ").filter(Boolean)) {
      const f = facts[id];
      if (!f) { continue; }
      const li = document.createElement("li");
      const value = f.value === null ? "" : " = " + f.value + (f.unit ? " " + f.unit : "");
      li.textContent = id + ": " + f.name + value + (f.time_point ? " (" + f.time_point + ")" : "");
      list.appendChild(li);
      const where = evidence[id];
      if (where && !seen.has(where.join("/"))) {
        seen.add(where.join("/"));
        const img = document.createElement("img");
        img.className = "evidence-image";
        img.alt = "evidence: " + f.name + " " + (f.time_point || "");
        img.src = "/api/cases/" + caseId + "/evidence/" + where[0] + "/" + where[1] + ".png";
        images.appendChild(img);
        if (layout && layout.lesions[where[0]] && layout.lesions[where[0]][where[1]] !== undefined) {
          goTo(where[1], layout.lesions[where[0]][where[1]]);
        }
      }
    }
    aside.hidden = false;
  }
  for (const span of document.querySelectorAll(".sentence")) {
    span.addEventListener("click", function () { openEvidence(span); });
    span.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { openEvidence(span); } });
  }
})();
