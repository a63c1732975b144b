/**
 * Run history (Rundeck's part): every run is a JSON-lines file of its
 * (already redacted) events under `<state>/runs/`, appended as the run goes,
 * so `runbook show` can follow a run live and a crash loses at most the last
 * line. Files are named by run id, which starts with the start time to
 * the second; listings order by the millisecond start time in the header.
 *
 * Why not SQLite: Node 20 has no built-in SQLite, better-sqlite3 compiles
 * from source for minutes at `npm ci` here, and history is written once and
 * read by scanning run headers; an append-only log per run does that with
 * no native dependency. Queries read the first and last line of each file.
 * (`runbook serve` indexes these files in SQLite for its history page:
 * serve/store.ts; the files stay the record.)
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { StampedEvent } from "./events.ts";
import { stateDir } from "./state.ts";

export function runsDir(dir = stateDir()): string {
  return join(dir, "runs");
}

/** A sortable run id: `20261121-183512-3fa2`. */
export function newRunId(now = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${iso}-${randomBytes(2).toString("hex")}`;
}

/**
 * Appends every event of a run to its file: the events of one tick in one
 * write (20 hosts finishing a task at once are one append, not 40), and
 * the run's last event at once.
 */
export class HistoryWriter {
  readonly #file: string;
  #lines: string[] = [];
  constructor(runId: string, dir = stateDir()) {
    // Private to the user: a run's output may hold what a command printed.
    // chmod as well, for a directory an older runbook made 0755.
    mkdirSync(runsDir(dir), { recursive: true, mode: 0o700 });
    chmodSync(runsDir(dir), 0o700);
    this.#file = join(runsDir(dir), `${runId}.jsonl`);
  }
  write = (event: StampedEvent): void => {
    if (this.#lines.push(JSON.stringify(event)) === 1) setImmediate(this.flush);
    if (event.type === "run.end") this.flush();
  };
  flush = (): void => {
    if (this.#lines.length === 0) return;
    appendFileSync(this.#file, this.#lines.join("\n") + "\n", { mode: 0o600 });
    this.#lines = [];
  };
}

/** A recorded event: as the bus stamped it (run id, sequence number, time). */
export type StoredEvent = StampedEvent;

/** Every event of a run, or null when there is no such run. */
export function readRun(runId: string, dir = stateDir()): StoredEvent[] | null {
  const file = join(runsDir(dir), `${runId}.jsonl`);
  if (!existsSync(file)) return null;
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as StoredEvent);
}

/**
 * How a run stands: `running` (its runner process is alive), `finished`
 * (ended by itself, whatever its exit code), `interrupted` (stopped by
 * SIGINT/SIGTERM), `crashed` (no end record and its process is gone).
 */
export type RunState = "running" | "finished" | "interrupted" | "crashed";

export interface RunSummary {
  runId: string;
  start: Extract<StampedEvent, { type: "run.start" }>;
  end?: Extract<StampedEvent, { type: "run.end" }>;
  hosts: string[];
  state: RunState;
}

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/PID/stat), which with the pid names one process even after the pid
 * is reused; undefined where /proc is not there.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the runner process that started a run is still alive. */
export function runnerAlive(start: RunSummary["start"]): boolean {
  if (!start.pid) return false;
  try {
    process.kill(start.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = processStartTime(start.pid);
  return start.pidStart === undefined || now === undefined || now === start.pidStart;
}

/** The state of a run from its first and last records. */
export function runState(start: RunSummary["start"], end: RunSummary["end"]): RunState {
  if (end) return end.interrupted ? "interrupted" : "finished";
  return runnerAlive(start) ? "running" : "crashed";
}

/** Runs newest first, optionally only those touching a host or started after a date. */
export function listRuns(opts: { host?: string; since?: Date; dir?: string } = {}): RunSummary[] {
  const dir = runsDir(opts.dir);
  if (!existsSync(dir)) return [];
  const out: RunSummary[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().reverse()) {
    const events = readRun(file.replace(/\.jsonl$/, ""), opts.dir);
    const start = events?.find((e) => e.type === "run.start") as RunSummary["start"] | undefined;
    if (!events || !start) continue;
    if (opts.since && new Date(start.time) < opts.since) continue;
    const end = events.find((e) => e.type === "run.end") as RunSummary["end"];
    const hosts = [...new Set(events.flatMap((e) => ("host" in e && e.host ? [e.host] : e.type === "play.start" ? e.hosts : [])))];
    if (opts.host && !hosts.includes(opts.host)) continue;
    out.push({ runId: start.runId, start, end, hosts, state: runState(start, end) });
  }
  // Two runs started within one second have ids in random order; the
  // header's ISO time has milliseconds (and ISO strings sort as times).
  return out.sort((a, b) => (a.start.time === b.start.time ? 0 : a.start.time < b.start.time ? 1 : -1));
}

/**
 * The run a user means: `last` (the newest run; with `host`, the newest
 * that touched it), a whole run id, or a prefix of exactly one run id
 * (`20261204-1852`). Throws an Error saying why when there is none or the
 * prefix is ambiguous.
 *
 * @example findRun("last") // "20261204-185205-3fa2"
 */
export function findRun(ref: string, opts: { host?: string; dir?: string } = {}): string {
  if (ref === "last") {
    const newest = listRuns({ host: opts.host, dir: opts.dir })[0];
    if (!newest) throw new Error(`no recorded runs${opts.host ? ` on ${opts.host}` : ""} yet`);
    return newest.runId;
  }
  const dir = runsDir(opts.dir);
  const ids = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".jsonl")).map((f) => f.slice(0, -".jsonl".length)) : [];
  if (ids.includes(ref)) return ref;
  const matches = ids.filter((id) => id.startsWith(ref)).sort().reverse();
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new Error(`no recorded run ${ref} (see runbook history)`);
  const shown = matches.slice(0, 5).join(", ") + (matches.length > 5 ? ", ..." : "");
  throw new Error(`${ref} is the start of ${matches.length} run ids (${shown}); give more of it`);
}
