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
import { existsSync, mkdirSync, openSync, readSync, closeSync, readdirSync, readFileSync, rmSync, statSync, chmodSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import { InputError } from "../errors.ts";
import sqlite from "node-sqlite3-wasm";
import type { FactsSummary, HostCounts, StampedEvent } from "../events.ts";
import { processStartTime, runnerAlive, runsDir, runState, type RunState, type RunSummary } from "../history.ts";

/**
 * The WASM build's VFS locks the database with a directory (`serve.db.lock`),
 * which a server killed outright leaves behind: the next start would find
 * the database locked forever. The server that holds it is written next
 * to it (pid and process start time); a lock whose holder is gone is stale
 * and removed, a live holder is another server on this state dir: refused.
 */
function claimLock(file: string): void {
  const lock = `${file}.lock`;
  const holder = `${file}.pid`;
  if (existsSync(lock)) {
    let owner: { pid?: number; pidStart?: string } = {};
    try {
      owner = JSON.parse(readFileSync(holder, "utf8")) as typeof owner;
    } catch {
      // no holder recorded: an older server's leftover
    }
    if (owner.pid && owner.pid !== process.pid && runnerAlive(owner as RunSummary["start"])) {
      throw new InputError(`another runbook serve (pid ${owner.pid}) uses this state dir (${dirname(file)}); stop it first`);
    }
    rmSync(lock, { recursive: true, force: true });
  }
  writeFileSync(holder, JSON.stringify({ pid: process.pid, pidStart: processStartTime(process.pid) }) + "\n", { mode: 0o600 });
}

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
  /** Rows to skip (paging). */
  offset?: number;
}

/** How long runs are kept: days, and runs per job (either, both, or neither: keep everything). */
export interface RetentionPolicy {
  keepDays?: number;
  keepRuns?: number;
}

export type Role = "admin" | "operator" | "viewer";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer"];

export interface ScheduleRow {
  id: number;
  job: string;
  cron: string;
  /** The job's fixed options (as a run's: values, limit, tags, check, diff); never a secret. */
  options: object;
  /** Where the job's secret options come from: a named secret store. */
  secretStore?: string;
  user: string;
  created: string;
}

export interface HookRow {
  /** Random, in the hook's URL (/webhooks/ID) and the derivation of its secret. */
  id: string;
  name: string;
  job: string;
  /** The job's fixed options, as a schedule's; never a secret. */
  options: object;
  secretStore?: string;
  user: string;
  created: string;
  lastDelivery: string | null;
}

function toHook(r: Record<string, unknown>): HookRow {
  return {
    id: r.id as string,
    name: r.name as string,
    job: r.job as string,
    options: JSON.parse(r.options as string) as object,
    secretStore: (r.secret_store as string | null) ?? undefined,
    user: r.user as string,
    created: r.created as string,
    lastDelivery: (r.last_delivery as string | null) ?? null,
  };
}

export interface UserRow {
  name: string;
  role: Role;
  hash: string;
}

/**
 * The index's schema. Its tables are derived from the history files: when
 * SCHEMA_VERSION changes they are dropped and rebuilt (the users stay).
 * Every filter of the history page has an index that ends in the start
 * time, so a page is an index range read in order, never a sort.
 */
const SCHEMA_VERSION = 3;
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
  status text not null,
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
create index if not exists runs_status on runs (status, time desc);
create index if not exists runs_user on runs (user, time desc);
create index if not exists runs_job on runs (playbook, time desc);
create table if not exists run_hosts (
  host text not null,
  time text not null,
  run_id text not null,
  primary key (host, time desc, run_id)
) without rowid;
create index if not exists run_hosts_run on run_hosts (run_id);
create table if not exists host_facts (
  host text primary key,
  time text not null,
  run_id text not null,
  facts text not null
);
create table if not exists run_options (
  run_id text primary key,
  kind text not null,
  options text not null
);
create table if not exists tokens (
  id text primary key,
  name text not null,
  user text not null,
  hash text not null unique,
  created text not null,
  last_used text
);
create table if not exists schedules (
  id integer primary key,
  job text not null,
  cron text not null,
  options text not null,
  secret_store text,
  user text not null,
  created text not null
);
create table if not exists hooks (
  id text primary key,
  name text not null,
  job text not null,
  options text not null,
  secret_store text,
  user text not null,
  created text not null,
  last_delivery text
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
    claimLock(file);
    this.db = new sqlite.Database(file);
    // Password hashes live here: the database is the server user's alone.
    chmodSync(file, 0o600);
    // One process uses this database (the server): holding its lock spares
    // every query the lock files and cache checks of the WASM build's VFS
    // (about 13 ms a query here), and a second server on the same state
    // dir is refused instead of sharing it.
    this.db.exec("pragma locking_mode = exclusive");
    if ((this.db.get("pragma user_version")?.user_version ?? 0) !== SCHEMA_VERSION) {
      this.db.exec(`drop table if exists run_hosts; drop table if exists runs; drop table if exists host_facts; pragma user_version = ${SCHEMA_VERSION};`);
    }
    this.db.exec(SCHEMA);
    this.#runs = runsDir(stateDir);
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.db.close();
  }
  #closed = false;

  /** How many runs the index holds. */
  runCount(): number {
    return this.db.get("select count(*) as n from runs")!.n as number;
  }

  /**
   * Brings the index up to date with the runs directory: new and grown
   * files are read again, removed ones dropped; runs still `running` are
   * checked against their process (one that died is `crashed`, never left
   * `running`). The directory is watched, so a refresh reads only the files
   * that changed since the last one; the first refresh (and any after the
   * watcher failed) lists the directory and reads the files the index does
   * not know, and those of runs it still has as running.
   */
  refresh(): void {
    // The first pass is still reading (refreshInBackground): pages show what it has so far.
    if (this.indexing) return;
    const pass = this.#pass();
    if (!pass) return;
    this.#batch(pass.toRead, pass.each);
    pass.finish();
  }

  /** While the first pass of `refreshInBackground` reads: how many of the files it has to read are done. */
  indexing: { done: number; total: number } | undefined;

  /**
   * `refresh()` in batches of 500 files that yield to the event loop between
   * them, so a server can answer while a large history is read for the first
   * time (10,000 runs take seconds). Meanwhile `refresh()` returns at once
   * and `indexing` says how far it is.
   */
  async refreshInBackground(): Promise<void> {
    if (this.indexing) return;
    const pass = this.#pass();
    if (!pass) return;
    this.indexing = { done: 0, total: pass.toRead.length };
    try {
      for (let i = 0; i < pass.toRead.length; i += 500) {
        // The server stopped while the history was read: the rest is read on its next start.
        if (this.#closed) return;
        this.#batch(pass.toRead.slice(i, i + 500), pass.each);
        this.indexing.done = Math.min(pass.toRead.length, i + 500);
        await new Promise((r) => setImmediate(r));
      }
      if (!this.#closed) pass.finish();
    } finally {
      this.indexing = undefined;
    }
  }

  /** What a refresh reads (`toRead`: the files, one `each` per file) and what it does after (`finish`). */
  #pass(): { toRead: string[]; each: (runId: string) => void; finish: () => void } | undefined {
    if (!existsSync(this.#runs)) return undefined;
    this.#watch();
    const full = this.#full || !this.#watcher || this.#dirty.size > 500;
    // Runs still going are looked at every time (their size), whatever the
    // watcher has said so far: its events arrive between requests.
    const running = this.db.all("select run_id, size from runs where status = 'running'");
    const names = full ? readdirSync(this.#runs) : [...new Set([...this.#dirty, ...running.map((r) => `${r.run_id as string}.jsonl`)])];
    this.#full = false;
    this.#dirty.clear();
    // What the index holds of these files. A run that has ended (or crashed)
    // never changes again: history files are append-only and written by the
    // run's own process. So a full pass reads only new files and those of
    // runs still going, and needs no stat of the others.
    const known = new Map<string, number | "ended">();
    if (full) for (const r of this.db.all("select run_id from runs where status != 'running'")) known.set(r.run_id as string, "ended");
    for (const r of running) known.set(r.run_id as string, r.size as number);
    const onDisk = new Set<string>();
    const toRead: string[] = [];
    for (const f of names) {
      if (!f.endsWith(".jsonl")) continue;
      const runId = f.slice(0, -".jsonl".length);
      onDisk.add(runId);
      if (known.get(runId) !== "ended") toRead.push(runId);
    }
    return {
      toRead,
      each: (runId) => {
        let size: number;
        try {
          size = statSync(join(this.#runs, `${runId}.jsonl`)).size;
        } catch {
          onDisk.delete(runId);
          this.#forget(runId);
          return;
        }
        if (known.get(runId) !== size) this.#index(runId);
      },
      finish: () => {
        if (full) for (const id of known.keys()) if (!onDisk.has(id)) this.#forget(id);
        for (const r of this.db.all("select run_id from runs where status = 'running'")) this.#recheck(r.run_id as string);
      },
    };
  }

  #watcher: FSWatcher | undefined;
  #full = true;
  readonly #dirty = new Set<string>();

  /** Watches the runs directory for new and changed files (from this process or any other). */
  #watch(): void {
    if (this.#watcher || this.#watchFailed) return;
    try {
      this.#watcher = watch(this.#runs, { persistent: false }, (_event, name) => {
        if (name) this.#dirty.add(name.toString());
        else this.#full = true;
      });
      this.#watcher.on("error", () => {
        this.#watcher?.close();
        this.#watcher = undefined;
        this.#watchFailed = true;
      });
    } catch {
      // No inotify here (or out of watches): every refresh scans the directory.
      this.#watchFailed = true;
    }
  }
  #watchFailed = false;

  #batch<T>(items: T[], each: (item: T) => void, size = 500): void {
    for (let i = 0; i < items.length; i += size) {
      this.db.exec("begin");
      try {
        for (const item of items.slice(i, i + size)) each(item);
        this.db.exec("commit");
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("rollback");
        throw err;
      }
    }
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
    const state = runState(start, end);
    this.db.run(
      `insert or replace into runs (run_id, time, playbook, user, adhoc, check_mode, lim, pid, pid_start, state, status, exit_code, interrupted, changed, failed, unreachable, ms, hosts, size)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        runId, start.time, start.playbook, start.user, start.adhoc ? 1 : 0, start.check ? 1 : 0, start.limit ?? null, start.pid ?? null, start.pidStart ?? null,
        state, runStatus({ state, exitCode: end?.exitCode ?? null }), end?.exitCode ?? null, end?.interrupted ?? null, totals.changed, totals.failed, totals.unreachable, end?.ms ?? null, hosts.join(","),
        whole.length,
      ],
    );
    this.db.run("delete from run_hosts where run_id = ?", [runId]);
    for (const h of hosts) this.db.run("insert into run_hosts (host, time, run_id) values (?, ?, ?)", [h, start.time, runId]);
    // The last known facts of each host: the newest gathering of any run (kept when the run is deleted).
    for (const e of events) {
      if (e.type !== "host.facts") continue;
      this.db.run(
        `insert into host_facts (host, time, run_id, facts) values (?, ?, ?, ?)
         on conflict (host) do update set time = excluded.time, run_id = excluded.run_id, facts = excluded.facts where excluded.time >= host_facts.time`,
        [e.host, e.time, runId, JSON.stringify(e.facts)],
      );
    }
    this.#choices?.hosts.add(hosts);
    this.#choices?.users.add([start.user]);
    if (!start.adhoc) this.#choices?.jobs.add([start.playbook]);
  }

  /** A run whose file is gone leaves the index (and maybe a filter choice). */
  #forget(runId: string): void {
    this.db.run("delete from run_hosts where run_id = ?", [runId]);
    this.db.run("delete from run_options where run_id = ?", [runId]);
    if (this.db.run("delete from runs where run_id = ?", [runId]).changes) this.#choices = undefined;
  }

  #recheck(runId: string): void {
    const r = this.db.get("select pid, pid_start from runs where run_id = ?", [runId]);
    const start = { pid: r?.pid ?? undefined, pidStart: r?.pid_start ?? undefined } as RunSummary["start"];
    if (runState(start, undefined) === "crashed") this.db.run("update runs set state = 'crashed', status = 'crashed' where run_id = ?", [runId]);
  }

  /**
   * Retention: deletes the runs older than `keepDays` days and those beyond
   * the newest `keepRuns` of each job (ad-hoc commands count as one job),
   * their history files and their rows (index, hosts, options). A run still
   * going is never deleted (nor counted out: it is among the newest), nor
   * one in `keep` (runs this server is running, even before the index has
   * seen them). The index is brought up to date first, so what is deleted
   * is what `runbook history` would list. Returns the deleted run ids.
   */
  prune(p: RetentionPolicy, keep: ReadonlySet<string> = new Set(), now = Date.now()): string[] {
    // Not while the first pass reads: the index would not hold every run yet.
    if ((!p.keepDays && !p.keepRuns) || this.indexing) return [];
    this.refresh();
    const cutoff = p.keepDays ? new Date(now - p.keepDays * 86_400_000).toISOString() : "";
    const rows = this.db.all(
      `select run_id, time, status, row_number() over (partition by case when adhoc then '' else playbook end order by time desc) as n from runs`,
    );
    const doomed = rows
      .filter((r) => r.status !== "running" && !keep.has(r.run_id as string))
      .filter((r) => (p.keepDays && (r.time as string) < cutoff) || (p.keepRuns && (r.n as number) > p.keepRuns!))
      .map((r) => r.run_id as string);
    this.#batch(doomed, (runId) => {
      rmSync(join(this.#runs, `${runId}.jsonl`), { force: true });
      this.#forget(runId);
    });
    return doomed;
  }

  /** Runs newest first, filtered. */
  runs(f: RunFilter = {}): RunRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // By host: the host's rows of run_hosts, already in time order.
    const from = f.host ? "run_hosts h join runs r on r.run_id = h.run_id" : "runs r";
    if (f.host) {
      where.push("h.host = ?");
      args.push(f.host);
    }
    for (const [col, v] of [["user", f.user], ["playbook", f.job], ["status", f.status]] as const) {
      if (!v) continue;
      where.push(`r.${col} = ?`);
      args.push(v);
    }
    const sql = `select r.* from ${from} ${where.length ? `where ${where.join(" and ")}` : ""} order by ${f.host ? "h.time" : "r.time"} desc limit ? offset ?`;
    return this.db.all(sql, [...args, f.limit ?? 200, f.offset ?? 0]).map(toRow);
  }

  /** The last known facts of hosts (from the newest run that gathered them), by host name. */
  facts(): Map<string, { time: string; runId: string; facts: FactsSummary }> {
    return new Map(this.db.all("select host, time, run_id, facts from host_facts").map((r) => [r.host as string, { time: r.time as string, runId: r.run_id as string, facts: JSON.parse(r.facts as string) as FactsSummary }]));
  }

  run(runId: string): RunRow | undefined {
    const r = this.db.get("select * from runs where run_id = ?", [runId]);
    return r ? toRow(r) : undefined;
  }

  #choices: { hosts: Sorted; users: Sorted; jobs: Sorted } | undefined;

  /** Distinct values for the history filters (read once, then kept up to date as runs are indexed). */
  choices(): { hosts: string[]; users: string[]; jobs: string[] } {
    if (!this.#choices) {
      const col = (sql: string) => new Sorted(this.db.all(sql).map((r) => Object.values(r)[0] as string));
      this.#choices = {
        hosts: col("select distinct host from run_hosts"),
        users: col("select distinct user from runs"),
        jobs: col("select distinct playbook from runs where adhoc = 0"),
      };
    }
    return { hosts: this.#choices.hosts.list(), users: this.#choices.users.list(), jobs: this.#choices.jobs.list() };
  }

  /**
   * What a run started here was asked with, to start it again: for a job
   * its name, the answers to its non-secret options, limit, tags, check and
   * diff; for a command its pattern and command. Never a secret: those are
   * typed again.
   */
  putOptions(runId: string, kind: "job" | "adhoc", options: object): void {
    this.db.run("insert or replace into run_options (run_id, kind, options) values (?, ?, ?)", [runId, kind, JSON.stringify(options)]);
  }

  options(runId: string): { kind: "job" | "adhoc"; options: unknown } | undefined {
    const r = this.db.get("select kind, options from run_options where run_id = ?", [runId]);
    return r ? { kind: r.kind as "job" | "adhoc", options: JSON.parse(r.options as string) as unknown } : undefined;
  }

  /** API tokens: only a SHA-256 of each is kept (a token is 256 random bits: no salt or slow hash needed). */
  putToken(t: { id: string; name: string; user: string; hash: string }): void {
    this.db.run("insert into tokens (id, name, user, hash, created) values (?, ?, ?, ?, ?)", [t.id, t.name, t.user, t.hash, new Date().toISOString()]);
  }

  tokenByHash(hash: string): { id: string; user: string } | undefined {
    const r = this.db.get("select id, user from tokens where hash = ?", [hash]);
    if (!r) return undefined;
    this.db.run("update tokens set last_used = ? where id = ?", [new Date().toISOString(), r.id as string]);
    return { id: r.id as string, user: r.user as string };
  }

  tokens(user: string): { id: string; name: string; created: string; lastUsed: string | null }[] {
    return this.db.all("select id, name, created, last_used from tokens where user = ? order by created", [user]).map((r) => ({ id: r.id as string, name: r.name as string, created: r.created as string, lastUsed: (r.last_used as string | null) ?? null }));
  }

  deleteToken(user: string, id: string): void {
    this.db.run("delete from tokens where user = ? and id = ?", [user, id]);
  }

  putSchedule(s: Omit<ScheduleRow, "id" | "created">): number {
    this.db.run("insert into schedules (job, cron, options, secret_store, user, created) values (?, ?, ?, ?, ?, ?)", [s.job, s.cron, JSON.stringify(s.options), s.secretStore ?? null, s.user, new Date().toISOString()]);
    return this.db.get("select last_insert_rowid() as id")!.id as number;
  }

  schedules(): ScheduleRow[] {
    return this.db.all("select * from schedules order by id").map((r) => ({ id: r.id as number, job: r.job as string, cron: r.cron as string, options: JSON.parse(r.options as string) as object, secretStore: (r.secret_store as string | null) ?? undefined, user: r.user as string, created: r.created as string }));
  }

  deleteSchedule(id: number): void {
    this.db.run("delete from schedules where id = ?", [id]);
  }

  /** Webhooks: no secret here (each is derived from the server key and the id: serve/hooks.ts). */
  putHook(h: Omit<HookRow, "created" | "lastDelivery">): void {
    this.db.run("insert into hooks (id, name, job, options, secret_store, user, created) values (?, ?, ?, ?, ?, ?, ?)", [h.id, h.name, h.job, JSON.stringify(h.options), h.secretStore ?? null, h.user, new Date().toISOString()]);
  }

  hooks(): HookRow[] {
    return this.db.all("select * from hooks order by created").map(toHook);
  }

  hook(id: string): HookRow | undefined {
    const r = this.db.get("select * from hooks where id = ?", [id]);
    return r ? toHook(r) : undefined;
  }

  hookDelivered(id: string): void {
    this.db.run("update hooks set last_delivery = ? where id = ?", [new Date().toISOString(), id]);
  }

  deleteHook(id: string): void {
    this.db.run("delete from hooks where id = ?", [id]);
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

export const STATUSES: readonly RunStatus[] = ["ok", "failed", "unreachable", "running", "interrupted", "crashed"];

/** A set of strings kept for a select list, sorted when read. */
class Sorted {
  readonly #set: Set<string>;
  #sorted: string[] | undefined;
  constructor(items: string[]) {
    this.#set = new Set(items);
  }
  add(items: string[]): void {
    for (const i of items) if (!this.#set.has(i)) (this.#set.add(i), (this.#sorted = undefined));
  }
  list(): string[] {
    return (this.#sorted ??= [...this.#set].sort());
  }
}

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
