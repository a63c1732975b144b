/**
 * The web UI's store: an SQLite index of the run history, and its users.
 *
 * The history itself stays where `runbook play`, `runbook history` and
 * `runbook show` keep it: one append-only JSON-lines file of redacted events
 * per run under `<state>/runs/` (Rundeck's split: metadata in a database,
 * logs in files). The index is derived from those files (`refresh()` reads
 * a file again only when its size changed), so it can be deleted at any
 * time and is rebuilt on the next start; runs started by another process
 * appear on the next refresh.
 *
 * SQLite comes from node-sqlite3-wasm (SQLite compiled to WebAssembly, with
 * a VFS over Node's fs, so the database is a real file on disk): nothing to
 * compile at `npm ci`. better-sqlite3 12.x (13.x needs Node 22) builds from
 * source here for about two minutes on every fresh install, for speed the
 * index does not need: one writer (this server), small rows. The WASM build
 * has no shared-memory WAL, so the journal is SQLite's default rollback one.
 */
import { existsSync, mkdirSync, openSync, readSync, closeSync, readdirSync, readFileSync, statSync, chmodSync } from "node:fs";
import { join } from "node:path";
import sqlite from "node-sqlite3-wasm";
import type { HostCounts, StampedEvent } from "../events.ts";
import { runsDir, runState, type RunState, type RunSummary } from "../history.ts";

/** What the history page shows of a run. */
export interface RunRow {
  runId: string;
  time: string;
  playbook: string;
  user: string;
  adhoc: boolean;
  check: boolean;
  limit: string | null;
  state: RunState;
  exitCode: number | null;
  interrupted: string | null;
  changed: number;
  failed: number;
  unreachable: number;
  ms: number | null;
  hosts: string[];
}

/** One word for a run's outcome: ok, failed, unreachable, running, interrupted, crashed. */
export type RunStatus = "ok" | "failed" | "unreachable" | "running" | "interrupted" | "crashed";

export function runStatus(r: Pick<RunRow, "state" | "exitCode">): RunStatus {
  if (r.state !== "finished") return r.state;
  return r.exitCode === 0 ? "ok" : r.exitCode === 4 ? "unreachable" : "failed";
}

export interface RunFilter {
  host?: string;
  status?: string;
  user?: string;
  job?: string;
  limit?: number;
}

export type Role = "admin" | "operator" | "viewer";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer"];

export interface UserRow {
  name: string;
  role: Role;
  hash: string;
}

const SCHEMA = `
create table if not exists runs (
  run_id text primary key,
  time text not null,
  playbook text not null,
  user text not null,
  adhoc integer not null,
  check_mode integer not null,
  lim text,
  pid integer,
  pid_start text,
  state text not null,
  exit_code integer,
  interrupted text,
  changed integer not null default 0,
  failed integer not null default 0,
  unreachable integer not null default 0,
  ms integer,
  hosts text not null,
  size integer not null
);
create index if not exists runs_time on runs (time desc);
create index if not exists runs_state on runs (state);
create index if not exists runs_user on runs (user);
create table if not exists run_hosts (
  run_id text not null references runs (run_id) on delete cascade,
  host text not null,
  primary key (host, run_id)
);
create table if not exists users (
  name text primary key,
  role text not null,
  hash text not null,
  created text not null
);
`;

export class Store {
  readonly db: sqlite.Database;
  readonly #runs: string;

  constructor(readonly stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, "serve.db");
    this.db = new sqlite.Database(file);
    // Password hashes live here: the database is the server user's alone.
    chmodSync(file, 0o600);
    this.db.exec(SCHEMA);
    this.#runs = runsDir(stateDir);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Brings the index up to date with the runs directory: new and grown
   * files are read again; runs still `running` are checked against their
   * process (one that died is `crashed`, never left `running`).
   */
  refresh(): void {
    if (!existsSync(this.#runs)) return;
    const known = new Map<string, { size: number; state: string }>();
    for (const r of this.db.all("select run_id, size, state from runs")) known.set(r.run_id as string, { size: r.size as number, state: r.state as string });
    const onDisk = new Set<string>();
    for (const f of readdirSync(this.#runs)) {
      if (!f.endsWith(".jsonl")) continue;
      const runId = f.slice(0, -".jsonl".length);
      onDisk.add(runId);
      const size = statSync(join(this.#runs, f)).size;
      const k = known.get(runId);
      if (k && k.size === size) {
        if (k.state === "running") this.#recheck(runId);
        continue;
      }
      this.#index(runId);
    }
    for (const id of known.keys()) if (!onDisk.has(id)) this.db.run("delete from runs where run_id = ?", [id]);
  }

  #index(runId: string): void {
    const raw = readFileSync(join(this.#runs, `${runId}.jsonl`));
    // A run being written may end in half a line: only whole lines count,
    // and the size recorded is theirs, so the rest is read next time.
    const whole = raw.subarray(0, raw.lastIndexOf(10) + 1);
    const lines = whole.toString("utf8").split("\n").filter(Boolean);
    const events = lines.map((l) => JSON.parse(l) as StampedEvent);
    const start = events.find((e) => e.type === "run.start") as RunSummary["start"] | undefined;
    if (!start) return;
    const end = events.find((e) => e.type === "run.end") as RunSummary["end"];
    const hosts = [...new Set(events.flatMap((e) => ("host" in e && e.host ? [e.host] : e.type === "play.start" ? e.hosts : [])))];
    const totals = sumRecap(end?.recap ?? {});
    this.db.run(
      `insert or replace into runs (run_id, time, playbook, user, adhoc, check_mode, lim, pid, pid_start, state, exit_code, interrupted, changed, failed, unreachable, ms, hosts, size)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        runId, start.time, start.playbook, start.user, start.adhoc ? 1 : 0, start.check ? 1 : 0, start.limit ?? null, start.pid ?? null, start.pidStart ?? null,
        runState(start, end), end?.exitCode ?? null, end?.interrupted ?? null, totals.changed, totals.failed, totals.unreachable, end?.ms ?? null, hosts.join(","),
        whole.length,
      ],
    );
    this.db.run("delete from run_hosts where run_id = ?", [runId]);
    for (const h of hosts) this.db.run("insert into run_hosts (run_id, host) values (?, ?)", [runId, h]);
  }

  #recheck(runId: string): void {
    const r = this.db.get("select pid, pid_start from runs where run_id = ?", [runId]);
    const start = { pid: r?.pid ?? undefined, pidStart: r?.pid_start ?? undefined } as RunSummary["start"];
    if (runState(start, undefined) === "crashed") this.db.run("update runs set state = 'crashed' where run_id = ?", [runId]);
  }

  /** Runs newest first, filtered. */
  runs(f: RunFilter = {}): RunRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.host) {
      where.push("run_id in (select run_id from run_hosts where host = ?)");
      args.push(f.host);
    }
    if (f.user) {
      where.push("user = ?");
      args.push(f.user);
    }
    if (f.job) {
      where.push("playbook = ?");
      args.push(f.job);
    }
    const status = STATUS_SQL[f.status ?? ""];
    if (status) where.push(status);
    const sql = `select * from runs ${where.length ? `where ${where.join(" and ")}` : ""} order by time desc limit ?`;
    return this.db.all(sql, [...args, f.limit ?? 200]).map(toRow);
  }

  run(runId: string): RunRow | undefined {
    const r = this.db.get("select * from runs where run_id = ?", [runId]);
    return r ? toRow(r) : undefined;
  }

  /** Distinct values for the history filters. */
  choices(): { hosts: string[]; users: string[]; jobs: string[] } {
    const col = (sql: string) => this.db.all(sql).map((r) => Object.values(r)[0] as string);
    return {
      hosts: col("select distinct host from run_hosts order by host"),
      users: col("select distinct user from runs order by user"),
      jobs: col("select distinct playbook from runs where adhoc = 0 order by playbook"),
    };
  }

  users(): UserRow[] {
    return this.db.all("select name, role, hash from users order by name") as unknown as UserRow[];
  }

  user(name: string): UserRow | undefined {
    return (this.db.get("select name, role, hash from users where name = ?", [name]) as unknown as UserRow | null) ?? undefined;
  }

  putUser(name: string, role: Role, hash: string): void {
    this.db.run("insert or replace into users (name, role, hash, created) values (?, ?, ?, ?)", [name, role, hash, new Date().toISOString()]);
  }
}

const STATUS_SQL: Record<string, string> = {
  ok: "state = 'finished' and exit_code = 0",
  failed: "state = 'finished' and exit_code not in (0, 4)",
  unreachable: "state = 'finished' and exit_code = 4",
  running: "state = 'running'",
  interrupted: "state = 'interrupted'",
  crashed: "state = 'crashed'",
};
export const STATUSES = Object.keys(STATUS_SQL);

function toRow(r: Record<string, unknown>): RunRow {
  return {
    runId: r.run_id as string,
    time: r.time as string,
    playbook: r.playbook as string,
    user: r.user as string,
    adhoc: !!r.adhoc,
    check: !!r.check_mode,
    limit: (r.lim as string | null) ?? null,
    state: r.state as RunState,
    exitCode: (r.exit_code as number | null) ?? null,
    interrupted: (r.interrupted as string | null) ?? null,
    changed: r.changed as number,
    failed: r.failed as number,
    unreachable: r.unreachable as number,
    ms: (r.ms as number | null) ?? null,
    hosts: (r.hosts as string) ? (r.hosts as string).split(",") : [],
  };
}

function sumRecap(recap: Record<string, HostCounts>) {
  return Object.values(recap).reduce((a, c) => ({ changed: a.changed + c.changed, failed: a.failed + c.failed, unreachable: a.unreachable + c.unreachable }), {
    changed: 0,
    failed: 0,
    unreachable: 0,
  });
}

/**
 * Follows a run's JSON-lines file from byte `offset`: whole lines only, so a
 * line being appended is read on the next call. Returns the events and the
 * offset to go on from.
 */
export function readFrom(file: string, offset: number): { events: StampedEvent[]; offset: number } {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return { events: [], offset };
  }
  try {
    const size = statSync(file).size;
    if (size <= offset) return { events: [], offset };
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    const end = buf.lastIndexOf(10);
    if (end < 0) return { events: [], offset };
    const events = buf
      .subarray(0, end)
      .toString("utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StampedEvent);
    return { events, offset: offset + end + 1 };
  } finally {
    closeSync(fd);
  }
}
