/**
 * The run API: one function starts a playbook run from options and gives
 * back its events as a stream and its outcome. `runbook play` is a thin
 * layer over it (argv in, a printer subscribed, signals turned into stop
 * and abort); `runbook serve` starts and follows runs through the same
 * call. Everything that can be wrong with the input (playbook, inventory,
 * patterns, variables, role parameters, prompt answers) is checked before
 * `startRun` resolves, so a bad request changes nothing on any host.
 *
 * @example
 * const run = await startRun({ playbook: "playbooks/site.ts", limit: "tnode2", check: true });
 * for await (const e of run.events()) if (e.type === "task.result") console.log(e.host, e.task, e.status);
 * const { exitCode } = await run.outcome;
 */
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { openConnection, uncheckedHostKeys, uncheckedWarning } from "./connection/index.ts";
import type { Connection } from "./connection/types.ts";
import { RunControl, type StopReason } from "./control.ts";
import { EXIT, InputError } from "./errors.ts";
import { EventBus, type EventSink, type StampedEvent } from "./events.ts";
import { HistoryWriter, newRunId, processStartTime } from "./history.ts";
import { loadInventory, type Inventory } from "./inventory/index.ts";
import type { VaultKeys } from "./inventory/vault.ts";
import { errorStack, importModule } from "./modules.ts";
import { limitHosts, resolvePattern } from "./patterns.ts";
import type { Play, Playbook, Prompt } from "./playbook.ts";
import { answerPrompts, type Ask } from "./prompts.ts";
import { interruptedExit, prepareParams, runPlays, type PreparedPlay, type RunOutcome } from "./scheduler.ts";
import { Redactor } from "./secret.ts";
import { PendingHandlers } from "./state.ts";
import { hostVars, inventoryGroups, withMagicVars } from "./vars.ts";

/** Where a run comes from: the playbook, the inventory and which hosts. */
export interface RunTarget {
  /** The playbook file. */
  playbook: string;
  /** Inventory files or directories (default: `inventory`). */
  inventory?: string[];
  /** Only these hosts (`--limit`). */
  limit?: string;
  /** Passwords for Ansible Vault values and files in the inventory. */
  vault?: VaultKeys;
}

export interface RunOptions extends RunTarget {
  check?: boolean;
  diff?: boolean;
  /** Variables over everything else (`-e`). */
  extraVars?: Record<string, unknown>;
  /** Answers to the playbook's prompts, by prompt name (a secret prompt's answer may be a Secret). */
  answers?: Record<string, unknown>;
  /** Asks a prompt that has no answer (the CLI's hidden terminal prompt); without it such a prompt takes its default or is an error. */
  ask?: Ask;
  /** Looked up for prompt answers as RUNBOOK_VAR_NAME (the CLI passes process.env). */
  env?: NodeJS.ProcessEnv;
  tags?: string[];
  skipTags?: string[];
  startAtTask?: string;
  /** Hosts at once (default 50). */
  forks?: number;
  forceHandlers?: boolean;
  /** Log in as this user (over the inventory and the ssh config). */
  user?: string;
  sshConfig?: string;
  acceptNewHostKeys?: boolean;
  /** The sudo password for every host (else each host's inventory `becomePassword`). */
  becomePassword?: string;
  /** The SSH login password for every host (else each host's inventory `password`). */
  sshPassword?: string;
  /** How much detail task events carry for printers (0: changes; 1: every task; 2: commands). */
  verbose?: number;
  /** Who started the run, for the history (default: this process's user). */
  startedBy?: string;
  /** Sinks that see every event from the first (a printer): subscribed before the run starts. */
  sinks?: EventSink[];
  /** Where the history goes (default: the state directory). */
  stateDir?: string;
  /** How long running commands may go on after a stop before their connections are closed (ms). */
  graceMs?: number;
}

/** A run under way. */
export interface Run {
  readonly runId: string;
  /** Every event of the run from the first, then live ones as they come, until run.end. */
  events(): AsyncIterableIterator<StampedEvent>;
  /** Calls `sink` for every later event; returns its removal. */
  subscribe(sink: EventSink): () => void;
  /** Resolves when the run has ended (never rejects: a bug ends the run with exit code EXIT.internal and `error`). */
  readonly outcome: Promise<RunOutcome & { error?: string }>;
  /**
   * Asks the run to stop: no new task starts, running commands get the
   * grace period, pending handlers are recorded for the next run. Returns
   * false when a stop was already asked for.
   */
  stop(reason: StopReason): boolean;
  /** Adds a message to the run's events (and history): what the one who stopped it said. */
  note(level: "info" | "warn", text: string): void;
  /** Ends the run now (the second Ctrl-C): pending handlers recorded, the end record written; returns the exit code. */
  abort(reason: StopReason): number;
  /**
   * Ends a run in which every remaining host waits for another and nothing
   * else can happen (the CLI calls it from `beforeExit`); returns the exit
   * code, or undefined when the run has already ended.
   */
  stalled(): number | undefined;
}

/** A playbook with its inventory and each play's hosts after --limit; nothing is touched. */
export interface LoadedRun {
  pb: Playbook;
  inv: Inventory;
  plays: { play: Play; hosts: string[] }[];
}

/** Loads the playbook and inventory and matches every play's hosts (with `limit`). */
export async function loadRun(target: RunTarget): Promise<LoadedRun> {
  const file = resolve(target.playbook);
  const pb = await loadPlaybook(file);
  const inv = await loadInventory(target.inventory?.length ? target.inventory : ["inventory"], { vault: target.vault });
  const plays = pb.plays.map((p) => {
    const matched = resolvePattern(inv, p.hosts, { file: `play "${p.name}" hosts` });
    return { play: p, hosts: limitHosts(inv, matched, target.limit, { file: "--limit" }) };
  });
  if (target.limit && plays.every((p) => p.hosts.length === 0)) {
    throw new InputError(`--limit "${target.limit}" leaves no host in any play of ${target.playbook}`);
  }
  return { pb, inv, plays };
}

/**
 * Checks the request, asks or takes the prompts' answers, and starts the
 * run. Resolves once the run has started (its run.start event is out);
 * rejects with an InputError, before any host is touched, for bad input.
 */
export async function startRun(opts: RunOptions, loaded?: LoadedRun): Promise<Run> {
  const { pb, inv, plays } = loaded ?? (await loadRun(opts));
  const extraVars = opts.extraVars ?? {};

  // Prompts, once, before any host is touched.
  const redactor = new Redactor();
  const prompts: Prompt[] = plays.filter((p) => p.hosts.length).flatMap((p) => p.play.prompts ?? []);
  const answers = await answerPrompts(prompts, { extraVars: { ...opts.answers, ...extraVars }, env: opts.env ?? {}, interactive: !!opts.ask, ask: opts.ask });
  for (const s of answers.secrets) redactor.add(s);
  for (const s of [opts.becomePassword, opts.sshPassword, ...(opts.vault?.passwords.map((p) => p.password) ?? [])]) if (s) redactor.add(s);
  // A prompt's answer is typed whichever way it came (-e, -e @file, the environment):
  // a secret stays a Secret, `-e replicas=3` is the number 3. Other -e values as given.
  const prepared = preparePlays(inv, plays, { ...extraVars, ...answers.values });
  // Every Secret that entered (`!secret` in YAML, role parameters declared
  // secret, a playbook's secret()) is known before the first event.
  redactor.collect(extraVars);
  for (const [host, h] of inv.hosts) redactor.collect([hostVars(inv, host).vars, h.conn.password, h.conn.becomePassword]);
  for (const p of prepared) for (const host of p.hosts) redactor.collect([p.vars.get(host), p.params.get(host)]);

  const runId = newRunId();
  const bus = new EventBus(redactor, runId);
  const log = new EventLog();
  bus.subscribe(log.push);
  for (const sink of opts.sinks ?? []) bus.subscribe(sink);
  const history = new HistoryWriter(runId, opts.stateDir);
  bus.subscribe(history.write);

  const connections = new Map<string, Promise<Connection>>();
  const connect = (host: string) => {
    let c = connections.get(host);
    if (!c) {
      const h = inv.hosts.get(host)!;
      c = openConnection(opts.user ? { ...h, conn: { ...h.conn, user: opts.user } } : h, {
        acceptNewHostKeys: !!opts.acceptNewHostKeys,
        vars: hostVars(inv, host).vars,
        password: opts.sshPassword ?? h.conn.password?.reveal(),
        sshConfig: opts.sshConfig,
        onRetry: (r) =>
          bus.emit({ type: "message", level: "warn", host, text: `${r.host === host ? "" : `jump host ${r.host}: `}${r.reason}; trying again in ${r.waitMs / 1000} s (attempt ${r.attempt} of ${r.attempts})` }),
      });
      connections.set(host, c);
    }
    return c;
  };
  const closeAll = () => Promise.all([...connections.values()].map((c) => c.then((conn) => conn.close()).catch(() => undefined)));

  const started = Date.now();
  bus.emit({
    type: "run.start",
    playbook: opts.playbook,
    user: opts.startedBy ?? safeUser(),
    limit: opts.limit,
    check: !!opts.check,
    diff: !!opts.diff,
    pid: process.pid,
    pidStart: processStartTime(process.pid),
  });
  const unchecked = uncheckedHostKeys(
    [...new Set(plays.flatMap((p) => p.hosts))].map((h) => inv.hosts.get(h)!),
    { acceptNewHostKeys: !!opts.acceptNewHostKeys, sshConfig: opts.sshConfig },
  );
  if (unchecked.length) bus.emit({ type: "message", level: "warn", text: uncheckedWarning(unchecked) });

  // Every run ends with a recap and an end record, however it ends: done,
  // stopped, aborted, or by a bug.
  let settle!: (o: RunOutcome & { error?: string }) => void;
  const outcome = new Promise<RunOutcome & { error?: string }>((r) => (settle = r));
  let ended = false;
  const end = (o: RunOutcome & { error?: string }): number => {
    if (ended) return o.exitCode;
    ended = true;
    bus.emit({ type: "run.end", recap: o.recap, exitCode: o.exitCode, ms: Date.now() - started, ...(o.interrupted ? { interrupted: o.interrupted } : {}), ...(o.error ? { error: o.error } : {}) });
    history.flush();
    settle(o);
    return o.exitCode;
  };
  const control = new RunControl();
  const aborts = new Set<() => void>();
  const live: { outcome?: () => RunOutcome } = {};
  const soFar = (): RunOutcome => live.outcome?.() ?? { recap: {}, exitCode: EXIT.failed };
  const graceMs = opts.graceMs ?? Number(process.env.RUNBOOK_STOP_GRACE_MS ?? 10_000);

  const settings = {
    tags: opts.tags ?? [],
    skipTags: opts.skipTags ?? [],
    startAtTask: opts.startAtTask,
    baseDir: dirname(resolve(opts.playbook)),
    check: !!opts.check,
    diff: !!opts.diff,
    verbose: opts.verbose ?? 0,
    control,
  };
  void (async () => {
    try {
      const o = await runPlays(pb, prepared, {
        bus,
        settings,
        connect,
        varsOf: (host) => (inv.hosts.has(host) ? hostVars(inv, host).vars : undefined),
        groups: inventoryGroups(inv),
        addressOf: (host) => inv.hosts.get(host)?.conn.address,
        forks: opts.forks ?? 50,
        forceHandlers: !!opts.forceHandlers,
        become: { password: opts.becomePassword, passwordOf: (host) => inv.hosts.get(host)?.conn.becomePassword?.reveal() },
        pending: new PendingHandlers(opts.stateDir),
        runId,
        onAbort: (fn) => {
          aborts.add(fn);
          return () => aborts.delete(fn);
        },
        live,
      });
      await closeAll();
      end(o);
    } catch (err) {
      // A bug in runbook: still a recap and an end record.
      await closeAll();
      end({ ...soFar(), exitCode: EXIT.internal, error: errorStack(err) });
    }
  })();

  return {
    runId,
    events: () => log.follow(),
    subscribe: (sink) => bus.subscribe(sink),
    outcome,
    stop(reason) {
      if (!control.requestStop(reason)) return false;
      setTimeout(() => void closeAll(), graceMs).unref();
      return true;
    },
    note: (level, text) => bus.emit({ type: "message", level, text }),
    abort(reason) {
      for (const fn of aborts) fn();
      return end({ ...soFar(), exitCode: interruptedExit(reason), interrupted: reason, error: `aborted by a second ${reason}` });
    },
    stalled() {
      if (ended) return undefined;
      return end({
        ...soFar(),
        exitCode: EXIT.failed,
        error: "the run cannot continue: every remaining host waits for another (a barrier, shared value or turn that can never be reached)",
      });
    },
  };
}

/** A run's events kept for followers that join late; each follower reads from the first. */
export class EventLog {
  readonly #events: StampedEvent[] = [];
  readonly #waiting = new Set<() => void>();
  #ended = false;

  push = (e: StampedEvent): void => {
    this.#events.push(e);
    if (e.type === "run.end") this.#ended = true;
    for (const wake of this.#waiting) wake();
    this.#waiting.clear();
  };

  async *follow(): AsyncIterableIterator<StampedEvent> {
    let i = 0;
    for (;;) {
      while (i < this.#events.length) yield this.#events[i++]!;
      if (this.#ended) return;
      await new Promise<void>((r) => this.#waiting.add(r));
    }
  }
}

/** Imports a playbook module; its default export must be a `playbook(...)`. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  if (!existsSync(file)) throw new InputError(`playbook not found`, { file });
  let mod: { default?: unknown };
  try {
    mod = await importModule(file);
  } catch (err) {
    throw new InputError(`cannot load the playbook: ${(err as Error).message}`, { file });
  }
  const pb = mod.default as Playbook | undefined;
  if (!pb || pb.kind !== "playbook") {
    throw new InputError('the default export must be a playbook: `export default playbook("name", [play({...})])`', { file });
  }
  return pb;
}

/**
 * Vars and role parameters for every host of every play, checked now: a
 * wrong type or a missing field stops the run before anything is touched,
 * naming the host, role and field.
 */
export function preparePlays(inv: Inventory, plays: LoadedRun["plays"], high: Record<string, unknown>): PreparedPlay[] {
  return plays.map(({ play, hosts }) => {
    const vars = new Map<string, Record<string, unknown>>();
    const params = new Map<string, unknown[]>();
    const become = new Map<string, { enabled: boolean; user?: string }>();
    for (const host of hosts) {
      const conn = inv.hosts.get(host)!.conn;
      become.set(host, { enabled: play.become ?? conn.become ?? false, user: play.becomeUser ?? conn.becomeUser });
      const low = { ...hostVars(inv, host).vars, ...(play.vars ?? {}) };
      vars.set(host, { ...low, ...high });
      params.set(host, prepareParams(play, host, { low, high }));
    }
    return { play, hosts, vars: withMagicVars(inv, vars), params, become };
  });
}

/** Who runs this process, for the history. */
export function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}
