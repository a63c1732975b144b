// runbook serve: the little the pages need in the browser. The run page
// follows a running run over server-sent events (appending tasks and
// output under their host, updating each host's status) and reloads when
// the run ends, to show the recap, diffs and timeline the server renders;
// the history table refreshes itself so runs started elsewhere appear; the
// schedule form shows the chosen job's option fields.
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setStatus(host, status) {
  for (const b of document.querySelectorAll("[data-host-status]")) {
    if (b.dataset.hostStatus !== host) continue;
    b.className = "badge st-" + status;
    b.textContent = status;
  }
}

function hostLog(host) {
  let d = document.getElementById("host-" + host);
  if (d) return d;
  d = el("details", "hostlog");
  d.id = "host-" + host;
  d.dataset.host = host;
  d.open = true;
  const s = el("summary");
  s.append(el("strong", "", host), " ");
  const b = el("span", "badge st-pending", "pending");
  b.dataset.hostStatus = host;
  s.append(b);
  d.append(s, el("ol", "tasks"));
  document.getElementById("log").append(d);
  const tbody = document.querySelector("#hosts tbody");
  if (tbody && !tbody.querySelector('[data-host="' + CSS.escape(host) + '"]')) {
    const tr = el("tr");
    tr.dataset.host = host;
    const name = el("td");
    name.append(el("a", "", host));
    const st = el("td");
    const sb = el("span", "badge st-pending", "pending");
    sb.dataset.hostStatus = host;
    st.append(sb);
    const rest = el("td", "dim", "running");
    rest.colSpan = 6;
    tr.append(name, st, rest);
    tbody.append(tr);
  }
  return d;
}

function openTask(host, task) {
  const items = hostLog(host).querySelectorAll("li.task.st-running");
  for (let i = items.length - 1; i >= 0; i--) if (items[i].dataset.task === task) return items[i];
  return null;
}

function taskItem(host, task, role) {
  const li = el("li", "task st-running");
  li.dataset.task = task;
  li.append(el("span", "badge st-running", "running"));
  const name = el("span", "tname");
  if (role) name.append(el("span", "dim", role + " · "));
  name.append(task);
  li.append(name, el("span", "reason dim", ""), el("span", "ms dim", ""));
  hostLog(host).querySelector("ol.tasks").append(li);
  return li;
}

// A live log keeps the last LIVE_LINES lines of each task in the page (a
// whale log would otherwise grow the page without bound); the whole output
// is on the task's output pages once the run has ended.
const LIVE_LINES = 1000;
const lineCounts = new WeakMap();

function output(li, text) {
  let pre = li.querySelector("pre.out");
  if (!pre) li.append((pre = el("pre", "out")));
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const chunk = document.createTextNode(text);
  lineCounts.set(chunk, chunk.data.split("\n").length - 1);
  pre.append(chunk);
  let lines = (Number(pre.dataset.lines) || 0) + lineCounts.get(chunk);
  let dropped = 0;
  while (lines > LIVE_LINES && pre.firstChild && pre.firstChild !== chunk) {
    const n = lineCounts.get(pre.firstChild) || 0;
    pre.firstChild.remove();
    lines -= n;
    dropped += n;
  }
  pre.dataset.lines = String(lines);
  if (dropped) {
    let note = li.querySelector("p.earlier");
    if (!note) li.insertBefore((note = el("p", "earlier dim")), pre);
    note.dataset.dropped = String((Number(note.dataset.dropped) || 0) + dropped);
    note.textContent = "showing the last " + LIVE_LINES + " lines while the run goes (all of them when it has ended)";
  }
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

// The run page may show one host's log (?host=), or leave hosts to their
// own page (a big log): events of hosts whose log is not here only update
// their status.
function logShown(host) {
  const only = document.getElementById("run").dataset.only;
  if (only) return only === host;
  const d = document.getElementById("host-" + host);
  return !d || !d.classList.contains("collapsed");
}

function apply(e) {
  if (e.host && !logShown(e.host)) {
    if (e.type === "task.start") setStatus(e.host, "running");
    if (e.type === "host.failed" || (e.type === "task.result" && e.status === "failed")) setStatus(e.host, "failed");
    if (e.type === "host.unreachable") setStatus(e.host, "unreachable");
    return;
  }
  switch (e.type) {
    case "play.start":
      for (const h of e.hosts) if (logShown(h)) hostLog(h);
      break;
    case "task.start":
      taskItem(e.host, e.task, e.role);
      setStatus(e.host, "running");
      break;
    case "task.output": {
      const li = openTask(e.host, e.task) || taskItem(e.host, e.task);
      output(li, e.text);
      break;
    }
    case "task.result": {
      const li = openTask(e.host, e.task) || taskItem(e.host, e.task, e.role);
      li.className = "task st-" + e.status;
      const b = li.querySelector(".badge");
      b.className = "badge st-" + e.status;
      b.textContent = e.predicted ? "would change" : e.status;
      li.querySelector(".reason").textContent = e.reason;
      li.querySelector(".ms").textContent = e.ms < 1000 ? e.ms + " ms" : (e.ms / 1000).toFixed(1) + " s";
      if (!li.querySelector("pre.out") && (e.stdout || e.stderr)) output(li, (e.stdout || "") + (e.stderr || ""));
      if (e.status === "failed") setStatus(e.host, "failed");
      break;
    }
    case "host.failed":
      setStatus(e.host, "failed");
      break;
    case "host.unreachable":
      setStatus(e.host, "unreachable");
      break;
    case "message": {
      const p = el("p", "msg msg-" + e.level, e.text);
      (e.host ? hostLog(e.host) : document.getElementById("log")).append(p);
      break;
    }
  }
}

function followRun(root) {
  const es = new EventSource("/runs/" + encodeURIComponent(root.dataset.run) + "/stream?after=" + root.dataset.seq);
  es.addEventListener("run", (m) => {
    const e = JSON.parse(m.data);
    root.dataset.seq = String(e.seq);
    if (e.type === "run.end") {
      es.close();
      location.reload();
      return;
    }
    apply(e);
  });
  es.addEventListener("gone", () => {
    es.close();
    location.reload();
  });
}

function pollHistory(tbody) {
  setInterval(async () => {
    if (document.hidden) return;
    const r = await fetch(tbody.dataset.poll, { credentials: "same-origin" });
    if (r.ok) tbody.innerHTML = await r.text();
  }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  // A task's output shows its end (where a failure says why); scroll up for more.
  for (const pre of document.querySelectorAll("li.task pre.out")) pre.scrollTop = pre.scrollHeight;
  const run = document.getElementById("run");
  if (run && run.dataset.state === "running") followRun(run);
  const hist = document.querySelector("tbody[data-poll]");
  if (hist) pollHistory(hist);
  // A choice that changes the rest of the form (the schedule form's job: its option fields).
  for (const sel of document.querySelectorAll("select[data-autosubmit]")) sel.addEventListener("change", () => sel.form.submit());
});
