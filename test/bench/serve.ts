/**
 * `npm run bench -- --only serve`: `runbook serve` with a large history.
 *
 * Fills a state dir with synthetic recorded runs (real JSON-lines files in
 * the history format, as `runbook play` writes them: a few hosts, a dozen
 * tasks, output, diffs, a recap; mixed users, jobs and outcomes over 90
 * days), starts the server in its own process and measures:
 *
 * - the history page's server time (the `Server-Timing` header the server
 *   sets, and the request's wall time at the client), over the unfiltered
 *   page and each filter, with a CLI run writing into the history meanwhile;
 * - the server's RSS after the page views and the runs (and its peak);
 * - how long a line printed on a lab host takes to reach an event-stream
 *   client: the host prints its clock (`date +%s%N`; lab hosts share the
 *   machine's clock) and the client subtracts it from its own on arrival,
 *   for a run started from the UI and for one started by `runbook play` in
 *   another process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { ROOT, stats } from "./harness.ts";
import type { HostCounts } from "../../runner/events.ts";
import type { Lab } from "../lab/lab.ts";

export const SERVE_TARGETS = { historyP95Ms: 50, rssMb: 150, lineP95Ms: 300 };

export interface ServeResults {
  runs: number;
  historyBytes: number;
  /** Server start with this history and no index yet (the index is built before it listens), and again with the index. */
  /** Until the first start listens, and from then until it has read the history. */
  coldStartMs: number;
  coldReadMs: number;
  /** A login (scrypt, two pages) while the first start read its history. */
  coldLoginMs: number;
  warmStartMs: number;
  /** Per page kind: server time (Server-Timing) and client wall time, ms. */
  pages: { name: string; path: string; rows: number; server: { median: number; p95: number }; wall: { median: number; p95: number }; n: number }[];
  rssMb: number;
  peakRssMb: number;
  /** Line latency host → event-stream client, ms. */
  lines: { name: string; n: number; median: number; p95: number; max: number }[];
  /** The machine's 1-minute load average before and after the measurements. */
  load: [number, number];
}

const HOSTS = Array.from({ length: 24 }, (_, i) => `node${String(i + 1).padStart(2, "0")}`);
const USERS = ["alice", "bob", "carol", "ci", "dave"];
const JOBS = ["playbooks/site.ts", "playbooks/frr.ts", "playbooks/ceph.ts", "playbooks/ovn.ts", "playbooks/incus.ts", "playbooks/upgrade.ts", "playbooks/users.ts", "playbooks/net/bridges.ts"];
const TASKS = ["packages", "sshd_config", "sudoers", "hosts block", "directories", "cluster-node.conf", "sysctl", "limits", "motd", "service enabled", "service started", "health check"];

/** A small deterministic PRNG, so two benchmark runs index the same history. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Writes `count` finished runs into `<state>/runs/`, one JSON-lines file
 * each, spread over the 90 days before now; returns the bytes written.
 */
export function fillHistory(state: string, count: number, seed = 14): number {
  const dir = join(state, "runs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const r = rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const now = Date.now();
  const span = 90 * 86_400_000;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    // Evenly spread, newest last, with jitter: ids sort like times.
    const t0 = now - span + Math.floor((i / count) * span) + Math.floor(r() * 60_000);
    const d = new Date(t0);
    const runId = `${d.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${i.toString(16).padStart(4, "0").slice(-4)}${i >= 65536 ? "x" : ""}`;
    const adhoc = r() < 0.1;
    const hosts = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(HOSTS)))];
    const user = pick(USERS);
    const fail = r() < 0.08 ? pick(hosts) : undefined;
    const unreachable = !fail && r() < 0.03 ? pick(hosts) : undefined;
    const interrupted = !fail && !unreachable && r() < 0.02;
    let seq = 0;
    let t = t0;
    const lines: string[] = [];
    const ev = (e: Record<string, unknown>) => lines.push(JSON.stringify({ ...e, runId, seq: ++seq, time: new Date(t).toISOString() }));
    const playbook = adhoc ? `run ${hosts.join(",")} -- uptime` : pick(JOBS);
    ev({ type: "run.start", playbook, ...(adhoc ? { adhoc: true } : {}), user, ...(r() < 0.3 ? { limit: hosts[0] } : {}), check: r() < 0.15, diff: r() < 0.5, pid: 4194305, pidStart: "1" });
    const play = adhoc ? "ad hoc" : "site";
    ev({ type: "play.start", play, hosts, check: false });
    const recap: Record<string, HostCounts> = {};
    for (const h of hosts) recap[h] = { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 0 };
    if (unreachable) {
      ev({ type: "host.unreachable", host: unreachable, play, message: "ssh: connect to host: No route to host" });
      recap[unreachable]!.unreachable++;
    }
    const tasks = adhoc ? ["uptime"] : TASKS;
    for (const task of tasks) {
      for (const h of hosts) {
        if (h === unreachable || recap[h]!.failed) continue;
        t += 20 + Math.floor(r() * 400);
        const ms = 5 + Math.floor(r() * 300);
        if (!adhoc) ev({ type: "task.start", host: h, play, task });
        const failed = h === fail && task === "service started";
        const changed = !failed && r() < 0.2;
        if (task === "health check") ev({ type: "task.output", host: h, play, task, stream: "stdout", text: "checking...\nall members healthy\n" });
        const status = failed ? ("failed" as const) : changed ? ("changed" as const) : ("ok" as const);
        const diffs = changed && task.endsWith(".conf") ? [{ path: `/etc/${task}`, before: "a = 1\nb = 2\n", after: "a = 1\nb = 3\n" }] : undefined;
        ev({ type: "task.result", host: h, play, task, kind: adhoc ? "command" : "copy", status, reason: failed ? "exit 3" : changed ? "content differs" : "up to date", ...(diffs ? { diffs } : {}), ...(adhoc ? { stdout: " 12:00:01 up 3 days,  1 user,  load average: 0.10, 0.20, 0.30\n", rc: 0 } : {}), ms });
        recap[h]![status]++;
        recap[h]!.time += ms;
        if (failed) ev({ type: "host.failed", host: h, play, message: `task "${task}" failed`, task });
      }
    }
    ev({ type: "play.end", play });
    const exitCode = interrupted ? 130 : fail ? 2 : unreachable ? 4 : 0;
    ev({ type: "run.end", recap, exitCode, ms: t - t0, ...(interrupted ? { interrupted: "SIGINT" } : {}) });
    const text = lines.join("\n") + "\n";
    writeFileSync(join(dir, `${runId}.jsonl`), text, { mode: 0o600 });
    bytes += text.length;
  }
  return bytes;
}

/** A client of the UI's HTTP side: logs in, keeps the cookies, knows the CSRF token. */
export class Client {
  readonly cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly url: string) {}

  async req(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(this.url + path, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(";");
      const [k, v] = kv!.split("=");
      this.cookies.set(k!, v ?? "");
    }
    return res;
  }

  async login(user: string, password: string): Promise<void> {
    const page = await (await this.req("/login")).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await this.req("/login", { method: "POST", body: new URLSearchParams({ user, password, _csrf: token }) });
    if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
    const home = await (await this.req("/jobs")).text();
    this.csrf = /name="_csrf" value="([^"]+)"/.exec(home)![1]!;
  }
}

/** Starts `runbook serve` and resolves once it listens, with the time that took. */
export function startServer(args: string[], env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; ms: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ["bin/runbook.js", "serve", "--port", "0", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /runbook serve: (http:\/\/\S+?)\/? /.exec(out);
      if (m) resolve({ url: m[1]!, child, ms: performance.now() - t0 });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`runbook serve exited ${code}:\n${out}`)));
  });
}

/** Waits until the server has read its history (no "Reading the run history" note on a page); the milliseconds that took. */
async function historyRead(client: Client, t0: number): Promise<number> {
  for (;;) {
    if (!(await (await client.req("/tokens")).text()).includes('id="indexing"')) return performance.now() - t0;
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

const LINES = 60;
/** Prints its clock every 100 ms (the line's birth, in ns since the epoch). */
const TICKER = `import { play, playbook } from "${join(ROOT, "runner/index.ts")}";
export default playbook("ticker", [
  play({
    name: "ticker",
    hosts: "all",
    gatherFacts: false,
    async tasks(h) {
      await h.command("for i in $(seq ${LINES}); do echo \\"at $(date +%s%N)\\"; sleep 0.1; done", { title: "tick", readOnly: true });
    },
  }),
]);
`;

/** Reads a run's event stream; for each line printed with its birth time, how long it took to arrive. */
async function lineLatencies(client: Client, runId: string): Promise<number[]> {
  const res = await client.req(`/runs/${runId}/stream`, { headers: { accept: "text/event-stream" } });
  if (!res.ok || !res.body) throw new Error(`stream of ${runId}: ${res.status}`);
  const out: number[] = [];
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const now = Date.now() * 1e6;
    buf += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const msg = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = /^data: (.*)$/m.exec(msg)?.[1];
      if (!data) continue;
      const e = JSON.parse(data) as { type: string; text?: string };
      if (e.type === "task.output") for (const m of e.text!.matchAll(/at (\d+)/g)) out.push((now - Number(m[1])) / 1e6);
      if (e.type === "run.end") return out;
    }
  }
  return out;
}

const summary = (xs: number[]) => {
  const s = stats(xs);
  return { median: s.median, p95: percentile(xs, 0.95) };
};

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN;
}

/** The whole measurement; `lab` is up with at least one host. */
export async function benchServe(opts: { lab: Lab; work: string; runs: number; requests: number; log: (l: string) => void }): Promise<ServeResults> {
  const { lab, work, log } = opts;
  const state = mkdtempSync(join(work, "serve-state-"));
  const jobs = mkdtempSync(join(work, "serve-jobs-"));
  writeFileSync(join(jobs, "ticker.ts"), TICKER);
  const t0 = performance.now();
  const historyBytes = fillHistory(state, opts.runs);
  log(`serve: wrote ${opts.runs} runs (${(historyBytes / 2 ** 20).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const args = ["-i", lab.inventory, "--playbooks", jobs];
  const env = { RUNBOOK_STATE_DIR: state, RUNBOOK_ADMIN_PASSWORD: "bench-admin-pass" };
  const cold = await startServer(args, env);
  const listening = performance.now();
  const coldClient = new Client(cold.url);
  await coldClient.login("admin", "bench-admin-pass");
  const coldLogin = performance.now() - listening;
  const coldRead = await historyRead(coldClient, listening);
  log(`serve: first start: listening in ${(cold.ms / 1000).toFixed(2)} s, the history (${opts.runs} files) read ${(coldRead / 1000).toFixed(2)} s after that (a login meanwhile took ${(coldLogin / 1000).toFixed(2)} s)`);
  await stop(cold.child);
  const server = await startServer(args, env);
  const warmListening = performance.now();
  const client = new Client(server.url);
  await client.login("admin", "bench-admin-pass");
  const warmRead = await historyRead(client, warmListening);
  log(`serve: start with the index: listening in ${(server.ms / 1000).toFixed(2)} s, history read ${(warmRead / 1000).toFixed(2)} s after that`);
  const results: ServeResults = { runs: opts.runs, historyBytes, coldStartMs: cold.ms, coldReadMs: coldRead, coldLoginMs: coldLogin, warmStartMs: server.ms, pages: [], rssMb: 0, peakRssMb: 0, lines: [], load: [loadavg()[0]!, 0] };
  try {
    const host = lab.hosts[0]!.name;

    // Line latency, a run started from the UI (followed from the run's memory).
    const started = await client.req("/jobs/ticker/run", { method: "POST", body: new URLSearchParams({ _csrf: client.csrf }) });
    const uiRun = started.headers.get("location")?.split("/").pop();
    if (started.status !== 303 || !uiRun) throw new Error(`starting the ticker job: ${started.status} ${await started.text()}`);
    const ui = await lineLatencies(client, uiRun);
    results.lines.push({ name: "run started from the UI", n: ui.length, ...summary(ui), max: Math.max(...ui) });
    log(`serve: line latency, UI run: median ${summary(ui).median.toFixed(0)} ms, p95 ${summary(ui).p95.toFixed(0)} ms (${ui.length} lines)`);

    // A run of `runbook play` in another process (followed by tailing its history file),
    // with the history pages measured while it writes.
    const cli = spawn(process.execPath, ["bin/runbook.js", "play", join(jobs, "ticker.ts"), "-i", lab.inventory, "-l", host], { cwd: ROOT, env: { ...process.env, RUNBOOK_STATE_DIR: state }, stdio: "ignore" });
    const cliExit = new Promise<number | null>((r) => cli.on("exit", r));
    let cliRun: string | undefined;
    for (let i = 0; i < 600 && !cliRun; i++) {
      const rows = await (await client.req("/history/rows?status=running")).text();
      cliRun = [...rows.matchAll(/data-run="([^"]+)"/g)].map((m) => m[1]!).find((id) => id !== uiRun);
      if (!cliRun) await new Promise((r) => setTimeout(r, 50));
    }
    if (!cliRun) throw new Error("the runbook play run did not appear in the history");
    const cliLines = lineLatencies(client, cliRun);

    const kinds = [
      { name: "history, unfiltered", path: "/history" },
      { name: "history, by host", path: `/history?host=${HOSTS[3]}` },
      { name: "history, by status (failed)", path: "/history?status=failed" },
      { name: "history, by user", path: "/history?user=bob" },
      { name: "history, by job", path: `/history?job=${encodeURIComponent(JOBS[2]!)}` },
      { name: "history, host + status + user", path: `/history?host=${HOSTS[5]}&status=ok&user=alice` },
      { name: "history, the 2-second refresh", path: "/history/rows" },
      { name: "history, page 20", path: "/history?page=20" },
    ];
    for (const k of kinds) {
      const server: number[] = [];
      const wall: number[] = [];
      let rows = 0;
      for (let i = 0; i < opts.requests; i++) {
        const a = performance.now();
        const res = await client.req(k.path);
        const body = await res.text();
        wall.push(performance.now() - a);
        if (res.status !== 200) throw new Error(`${k.path}: ${res.status}`);
        const st = /total;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1];
        if (st === undefined) throw new Error(`${k.path}: no Server-Timing header`);
        server.push(Number(st));
        rows = (body.match(/<tr class="run /g) ?? []).length;
      }
      const row = { name: k.name, path: k.path, rows, server: summary(server), wall: summary(wall), n: opts.requests };
      results.pages.push(row);
      log(`serve: ${k.name} (${rows} rows): server median ${row.server.median.toFixed(1)} ms, p95 ${row.server.p95.toFixed(1)} ms; wall p95 ${row.wall.p95.toFixed(1)} ms`);
    }
    const cliLat = await cliLines;
    if ((await cliExit) !== 0) throw new Error("the runbook play run failed");
    results.lines.push({ name: "run started by `runbook play` in another process", n: cliLat.length, ...summary(cliLat), max: Math.max(...cliLat) });
    log(`serve: line latency, CLI run: median ${summary(cliLat).median.toFixed(0)} ms, p95 ${summary(cliLat).p95.toFixed(0)} ms (${cliLat.length} lines)`);

    const mem = rssMb(server.child.pid!);
    results.rssMb = mem.rss;
    results.peakRssMb = mem.peak;
    results.load[1] = loadavg()[0]!;
    log(`serve: RSS ${mem.rss.toFixed(0)} MB (peak ${mem.peak.toFixed(0)} MB)`);
  } finally {
    await stop(server.child);
    // 10,000 runs of history are over 100 MB: not left behind in /tmp.
    for (const dir of [state, jobs]) rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** Each target with what was measured. */
export function serveTargets(r: ServeResults): { target: string; measured: string; met: boolean }[] {
  const T = SERVE_TARGETS;
  const page = Math.max(...r.pages.map((p) => p.server.p95));
  const line = Math.max(...r.lines.map((l) => l.p95));
  return [
    { target: `history page server time p95 < ${T.historyP95Ms} ms`, measured: `${page.toFixed(1)} ms (worst page)`, met: page < T.historyP95Ms },
    { target: `server RSS < ${T.rssMb} MB`, measured: `${r.rssMb.toFixed(0)} MB`, met: r.rssMb < T.rssMb },
    { target: `line on a host to the event stream p95 < ${T.lineP95Ms} ms`, measured: `${line.toFixed(0)} ms (worst)`, met: line < T.lineP95Ms },
  ];
}

/** The `## runbook serve` section of docs/BENCHMARKS.md, for pasting by hand. */
export function renderServe(r: ServeResults, machine: string): string {
  const T = SERVE_TARGETS;
  const ms = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
  const ok = (met: boolean) => (met ? "met" : "**missed**");
  const worstPage = Math.max(...r.pages.map((p) => p.server.p95));
  const worstLine = Math.max(...r.lines.map((l) => l.p95));
  const out = [
    "## runbook serve",
    "",
    `\`npm run bench -- --only serve\` on ${machine}: ${r.runs.toLocaleString("en")} synthetic runs in the history (${(r.historyBytes / 2 ** 20).toFixed(0)} MB of JSON lines, 1-4 of 24 hosts each, 12 tasks), one server.`,
    "",
    "| measure | median | p95 | target | |",
    "| --- | ---: | ---: | --- | --- |",
    ...r.pages.map((p) => `| ${p.name} (${p.rows} rows), server time | ${ms(p.server.median)} | ${ms(p.server.p95)} | p95 < ${T.historyP95Ms} ms | ${ok(p.server.p95 < T.historyP95Ms)} |`),
    ...r.lines.map((l) => `| a line printed on a lab host → event-stream client, ${l.name} (${l.n} lines, max ${ms(l.max)}) | ${ms(l.median)} | ${ms(l.p95)} | < ${T.lineP95Ms} ms | ${ok(l.p95 < T.lineP95Ms)} |`),
    `| server RSS after the page views and runs (peak ${r.peakRssMb.toFixed(0)} MB) | ${r.rssMb.toFixed(0)} MB | | < ${T.rssMb} MB | ${ok(r.rssMb < T.rssMb)} |`,
    "",
    `Load average (1 min) ${r.load[0].toFixed(1)} before the measurements, ${r.load[1].toFixed(1)} after: p95s are sensitive to other work on the machine, medians much less. First start on that history: listening after ${(r.coldStartMs / 1000).toFixed(1)} s, the index built from every file ${(r.coldReadMs / 1000).toFixed(1)} s after that, in the background (pages answer meanwhile, with a note saying how far it is: a login then took ${(r.coldLoginMs / 1000).toFixed(1)} s); a start with the index: ${(r.warmStartMs / 1000).toFixed(1)} s. Pages measured ${r.pages[0]?.n ?? 0} times each; server time is the server's own \`Server-Timing\` (routing, SQLite, rendering), the client's wall time adds ${ms(Math.max(...r.pages.map((p) => p.wall.p95 - p.server.p95)))} at most at p95. Worst page p95 ${ms(worstPage)}, worst line p95 ${ms(worstLine)}.`,
    "",
    "What the first measurement showed, and what changed: each history request listed the runs directory and stat'ed every file; every SQLite statement went through the WASM build's lock directory and cache check (about 13 ms a query here, even for an empty result); filters sorted all their matches (no index ended in the start time); the filter choices were three DISTINCT scans per page view; 200 rows a page; and a first index of 10,000 runs took minutes (a transaction, so a journal sync, per row). Now the runs directory is watched (inotify) and a refresh reads only changed files and runs still going; the database is held in exclusive locking mode (one server per state dir; a lock left by a killed server is removed when its pid is gone); every filter has an index ending in the start time (the host filter reads `run_hosts (host, time)`), the choices are kept in memory, 50 rows a page; the index is built 500 files a transaction. For the line latency, a command's output goes out at once after a quiet spell (then at most every 200 ms, as before), and a run of another process is tailed on inotify instead of a 200 ms poll.",
    "",
    `RSS is the whole process's (VmRSS). The server runs in a worker thread with V8 heap limits (a 512 MB old generation, a 6 MB young one; docs/serve.md, "Memory"); without them V8 sizes the heap from the machine's RAM and collects lazily. An idle \`runbook serve\` with an empty history is about 108 MB here (Node 20, runbook's modules, the WASM SQLite heap); the rest is heap growth from page renders and runs. How the limits were chosen, and the same measurement on the main thread (\`RUNBOOK_SERVE_WORKER=0\`): docs/PERFORMANCE.md, "\`runbook serve\`'s RSS".`,
  ];
  return out.join("\n") + "\n";
}
