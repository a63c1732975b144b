// runbook serve: the little the pages need in the browser. The run page
// follows a running run over server-sent events (appending tasks and
// output under their host, updating each host's status) and reloads when
// the run ends, to show the recap, diffs and timeline the server renders;
// the history table refreshes itself so runs started elsewhere appear.
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

function output(li, text) {
  let pre = li.querySelector("pre.out");
  if (!pre) li.append((pre = el("pre", "out")));
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(text.endsWith("\n") ? text : text + "\n");
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

function apply(e) {
  switch (e.type) {
    case "play.start":
      for (const h of e.hosts) hostLog(h);
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
  const run = document.getElementById("run");
  if (run && run.dataset.state === "running") followRun(run);
  const hist = document.querySelector("tbody[data-poll]");
  if (hist) pollHistory(hist);
});
