/**
 * What the run page shows, computed from a run's events (live or stored):
 * the log grouped by host with each host's status, the recap, the diffs,
 * and a timeline picture (each task a bar from its start to its result,
 * failures marked). Everything here is already redacted: events are
 * redacted at the source, before the history file or any follower sees them.
 */
import type { HostCounts, StampedEvent } from "../events.ts";
import { unifiedDiff } from "../output/diff.ts";
import { runState, type RunState, type RunSummary } from "../history.ts";
import type { FileDiff, TaskStatus } from "../task.ts";

/** `interrupted`: the run was stopped while the host ran a task, or before it started (an ad-hoc command). */
export type HostStatus = "pending" | "running" | "ok" | "changed" | "failed" | "unreachable" | "interrupted";

export interface TaskView {
  seq: number;
  play: string;
  role?: string;
  task: string;
  /** `interrupted`: the run ended (stopped, aborted, crashed mid-way) before this task's result. */
  status: TaskStatus | "running" | "interrupted";
  reason: string;
  predicted: boolean;
  ms: number;
  /** Milliseconds from the run's start. */
  startAt: number;
  endAt?: number;
  output: string[];
  stdout?: string;
  stderr?: string;
  rc?: number;
  diffs: { path: string; text: string; secret: boolean }[];
}

export interface HostView {
  name: string;
  status: HostStatus;
  tasks: TaskView[];
  messages: string[];
  counts?: HostCounts;
}

export interface RunView {
  runId: string;
  start?: RunSummary["start"];
  end?: RunSummary["end"];
  state: RunState;
  hosts: HostView[];
  messages: { level: string; host?: string; text: string }[];
  lastSeq: number;
  timeline: Timeline;
}

/** Folds a run's events into the page's model. */
export function runView(runId: string, events: StampedEvent[]): RunView {
  const hosts = new Map<string, HostView>();
  const host = (name: string): HostView => {
    let h = hosts.get(name);
    if (!h) hosts.set(name, (h = { name, status: "pending", tasks: [], messages: [] }));
    return h;
  };
  let start: RunSummary["start"] | undefined;
  let end: RunSummary["end"] | undefined;
  const messages: RunView["messages"] = [];
  const t0 = events[0] ? Date.parse(events[0].time) : 0;
  const at = (e: StampedEvent) => Date.parse(e.time) - t0;
  const unended = new Set<TaskView>();
  const open = (h: HostView, task: string) => [...h.tasks].reverse().find((t) => t.task === task && t.status === "running");
  for (const e of events) {
    switch (e.type) {
      case "run.start":
        start = e;
        break;
      case "play.start":
        for (const n of e.hosts) host(n);
        break;
      case "task.start": {
        const h = host(e.host);
        h.status = h.status === "pending" || h.status === "ok" || h.status === "changed" ? "running" : h.status;
        h.tasks.push({ seq: e.seq, play: e.play, role: e.role, task: e.task, status: "running", reason: "", predicted: false, ms: 0, startAt: at(e), output: [], diffs: [] });
        break;
      }
      case "task.output": {
        const t = open(host(e.host), e.task);
        if (!t) break;
        const lines = e.text.replace(/\n$/, "").split("\n");
        // A piece of a runaway line (no newline yet) goes on with the next piece.
        if (unended.has(t)) t.output.push(t.output.pop()! + lines.shift()!);
        t.output.push(...lines);
        if (e.text.endsWith("\n")) unended.delete(t);
        else unended.add(t);
        break;
      }
      case "task.result": {
        const h = host(e.host);
        let t = open(h, e.task);
        if (!t) {
          // Ad-hoc runs and tasks skipped before they start have no task.start.
          t = { seq: e.seq, play: e.play, role: e.role, task: e.task, status: "running", reason: "", predicted: false, ms: 0, startAt: Math.max(0, at(e) - e.ms), output: [], diffs: [] };
          h.tasks.push(t);
        }
        Object.assign(t, {
          status: e.status,
          reason: e.reason,
          predicted: !!e.predicted,
          ms: e.ms,
          endAt: at(e),
          stdout: e.stdout,
          stderr: e.stderr,
          rc: e.rc,
          diffs: (e.diffs ?? []).map(diffView),
        });
        if (h.status !== "failed" && h.status !== "unreachable") h.status = e.status === "failed" ? "failed" : "running";
        break;
      }
      case "host.failed":
        host(e.host).status = "failed";
        host(e.host).messages.push(e.message);
        break;
      case "host.unreachable":
        host(e.host).status = "unreachable";
        host(e.host).messages.push(e.message);
        break;
      case "message":
        messages.push({ level: e.level, host: e.host, text: e.text });
        if (e.host) host(e.host).messages.push(e.text);
        break;
      case "run.end":
        end = e;
        break;
    }
  }
  for (const h of hosts.values()) {
    if (end) for (const t of h.tasks) if (t.status === "running") Object.assign(t, { status: "interrupted", endAt: at(end), ms: at(end) - t.startAt });
    const c = end?.recap[h.name];
    if (c) h.counts = c;
    if (end && h.status !== "failed" && h.status !== "unreachable") {
      const cutOff = h.tasks.some((t) => t.status === "interrupted") || (!!end.interrupted && !c);
      h.status = c && c.failed ? "failed" : c && c.unreachable ? "unreachable" : cutOff ? "interrupted" : c && c.changed ? "changed" : "ok";
    }
  }
  const state = start ? runState(start, end) : "crashed";
  const view: RunView = { runId, start, end, state, hosts: [...hosts.values()], messages, lastSeq: events.at(-1)?.seq ?? 0, timeline: { width: 0, height: 0, rows: [], bars: 0, ticks: [] } };
  view.timeline = timeline(view, events.length ? at(events.at(-1)!) : 0);
  return view;
}

function diffView(d: FileDiff) {
  return { path: d.path, secret: !!d.secret, text: d.secret ? `${d.path}: secret content changed (${d.before?.length ?? 0} -> ${d.after?.length ?? 0} bytes)` : unifiedDiff(d) };
}

export interface TimelineBar {
  x: number;
  y: number;
  w: number;
  h: number;
  cls: string;
  title: string;
  failed: boolean;
}

export interface Timeline {
  width: number;
  height: number;
  rows: { name: string; y: number; bars: TimelineBar[] }[];
  /** How many bars in all (none yet: the page leaves the picture out). */
  bars: number;
  ticks: { x: number; label: string }[];
}

const LABEL_W = 120;
const PLOT_W = 760;
const ROW_H = 26;
const TOP = 22;

/** Bars per host over the run's time, in SVG coordinates. */
export function timeline(v: RunView, lastAt: number): Timeline {
  // A note added after the end (a stop asked too late) does not stretch the picture.
  const total = Math.max(v.end ? v.end.ms : lastAt, 1);
  const x = (ms: number) => LABEL_W + (ms / total) * PLOT_W;
  const rows = v.hosts.map((h, i) => {
    const y = TOP + i * ROW_H;
    const bars = h.tasks.map((t) => {
      const end = t.endAt ?? lastAt;
      // A quick failure is still a visible mark.
      const w = Math.max(t.status === "failed" ? 5 : 2, x(end) - x(t.startAt));
      const secs = ((end - t.startAt) / 1000).toFixed(2);
      return { x: x(t.startAt), y: y + 4, w, h: ROW_H - 8, cls: `bar-${t.status}`, title: `${h.name}: ${t.task} — ${t.status}, ${secs} s`, failed: t.status === "failed" };
    });
    return { name: h.name, y, bars };
  });
  const step = niceStep(total / 6);
  const ticks = [];
  for (let ms = 0; ms <= total; ms += step) ticks.push({ x: x(ms), label: `${(ms / 1000).toFixed(step < 1000 ? 1 : 0)} s` });
  return { width: LABEL_W + PLOT_W + 20, height: TOP + rows.length * ROW_H + 8, rows, bars: rows.reduce((n, r) => n + r.bars.length, 0), ticks };
}

function niceStep(raw: number): number {
  for (const s of [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]) if (s >= raw) return s;
  return 3_600_000;
}

/**
 * How much of a log the run page holds, so a "whale" log stays usable
 * (Rundeck's viewer cuts them off): each task shows its last `tail` lines,
 * the rest a click away, paged `page` lines at a time
 * (`/runs/ID/output/SEQ`); a run with more than `big` lines in all shows
 * each host's log on its own page (`?host=NAME`), and the failures on top
 * link straight to the failing host's failed task.
 */
export const LOG = { tail: 200, page: 1000, big: 5000 };

/** A task's lines: those streamed while it ran, else its result's stdout and stderr. */
export function taskLines(t: TaskView): string[] {
  if (t.output.length) return t.output;
  const text = `${t.stdout ?? ""}${t.stderr ? (t.stdout && !t.stdout.endsWith("\n") ? "\n" : "") + t.stderr : ""}`;
  return text ? text.replace(/\n$/, "").split("\n") : [];
}

export interface LogTask extends TaskView {
  /** The last lines, as shown on the run page. */
  tail: string;
  /** Lines before the tail (reachable on the task's output pages). */
  earlier: number;
  lines: number;
}

export interface LogView {
  /** Over LOG.big lines: each host's log on its own page. */
  big: boolean;
  lines: number;
  /** The host the page shows the log of (`?host=`), if one. */
  host?: string;
  hosts: (Omit<HostView, "tasks"> & { tasks: LogTask[]; lines: number; shown: boolean })[];
  /** Failed and unreachable hosts with the task that failed (its seq for the anchor) and why. */
  failures: { host: string; status: HostStatus; task?: string; seq?: number; message: string }[];
}

/** The run page's log: tails of long outputs, and whole hosts left to their own page when the run's log is big. */
export function logView(v: RunView, host?: string): LogView {
  let total = 0;
  const hosts = v.hosts.map((h) => {
    let lines = 0;
    const tasks = h.tasks.map((t): LogTask => {
      const all = taskLines(t);
      lines += all.length;
      const tail = all.slice(-LOG.tail);
      return { ...t, tail: tail.join("\n"), earlier: all.length - tail.length, lines: all.length };
    });
    total += lines;
    return { ...h, tasks, lines, shown: true };
  });
  const big = total > LOG.big;
  const known = host && hosts.some((h) => h.name === host) ? host : undefined;
  for (const h of hosts) h.shown = known ? h.name === known : !big;
  const failures = hosts
    .filter((h) => h.status === "failed" || h.status === "unreachable")
    .map((h) => {
      const t = [...h.tasks].reverse().find((x) => x.status === "failed");
      return { host: h.name, status: h.status, task: t?.task, seq: t?.seq, message: h.messages.at(-1) ?? t?.reason ?? "" };
    });
  return { big, lines: total, host: known, hosts, failures };
}
