/**
 * Runs a playbook's plays over their hosts: every host at its own pace up to
 * `forks` at once (no lock-step), `serial` batches for rolling changes, a
 * failed host stops only itself unless `anyErrorsFatal` or
 * `maxFailPercentage` say otherwise, unreachable hosts are reported apart.
 * One connection per host for the whole run; facts gathered once per host.
 */
import type { Connection } from "./connection/types.ts";
import { UnreachableError } from "./connection/types.ts";
import { CoordinationError, PlayCoordinator, SharedValues, type Slots } from "./coordinator.ts";
import { InterruptedError } from "./control.ts";
import type { EventBus, HostCounts } from "./events.ts";
import { EXIT } from "./errors.ts";
import { gatherFacts, summarizeFacts, type Facts } from "./facts/index.ts";
import { Host, runnerOf, tasksInstalled, type HostRunSettings } from "./host.ts";
import { makeTopology, type Topology } from "./topology.ts";
import type { Play, Playbook } from "./playbook.ts";
import { resolveParams, type RoleInstance } from "./role.ts";
import type { Shape } from "./schema.ts";
import { TaskFailedError } from "./task.ts";
import { errorStack } from "./modules.ts";
import type { PendingHandlers } from "./state.ts";

/** A play with its resolved hosts and, per host, its vars and role params (all checked before the run). */
export interface PreparedPlay {
  play: Play;
  hosts: string[];
  vars: Map<string, Record<string, unknown>>;
  params: Map<string, unknown[]>;
  /** Per host: sudo or not, from the play, else the inventory's `become`. */
  become: Map<string, { enabled: boolean; user?: string }>;
}

export interface SchedulerDeps {
  bus: EventBus;
  settings: HostRunSettings;
  /** Opens (once) the connection to a host. */
  connect(host: string): Promise<Connection>;
  /** Inventory vars of a host (also outside the play: delegateTo, peers), or undefined if unknown. */
  varsOf(host: string): Record<string, unknown> | undefined;
  /** The inventory's groups, in inventory order (h.groups, h.peers). */
  groups?: Record<string, string[]>;
  /** A host's inventory address (h.peers). */
  addressOf?(host: string): string | undefined;
  forks: number;
  forceHandlers: boolean;
  /**
   * The sudo password: `password` (from -K or the environment) for every
   * host, else `passwordOf(host)` (the inventory's `becomePassword`).
   */
  become: { password?: string; passwordOf?: (host: string) => string | undefined };
  pending: PendingHandlers;
  runId: string;
  /**
   * Registers a step to run synchronously if the run is aborted outright
   * (a second Ctrl-C); returns its removal.
   */
  onAbort?(fn: () => void): () => void;
  /** Filled in by runPlays: the recap so far, for a run that ends abnormally. */
  live?: { outcome?: () => RunOutcome };
}

interface HostState {
  counts: HostCounts;
  failed: boolean;
  unreachable: boolean;
  facts?: Facts;
  /** Facts being gathered for a peer or a delegation (once per run). */
  gathering?: Promise<Facts>;
  started: number;
  predicted: { count: number };
  /** --start-at-task: whether this host has reached the task yet. */
  startAt: { found: boolean };
  interrupted: boolean;
}

/** Hands out at most `n` concurrent slots (a host waiting at a barrier gives its slot back). */
class Limiter implements Slots {
  #active = 0;
  readonly #queue: (() => void)[] = [];
  constructor(readonly n: number) {}
  async acquire(): Promise<void> {
    if (this.#active >= this.n) await new Promise<void>((r) => this.#queue.push(r));
    this.#active++;
  }
  release(): void {
    this.#active--;
    this.#queue.shift()?.();
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

export interface RunOutcome {
  recap: Record<string, HostCounts>;
  exitCode: number;
  /** The stop reason when the run was interrupted (SIGINT...). */
  interrupted?: string;
}

export async function runPlays(pb: Playbook, plays: PreparedPlay[], deps: SchedulerDeps): Promise<RunOutcome> {
  const state = new Map<string, HostState>();
  const hostState = (h: string) => {
    let s = state.get(h);
    if (!s) {
      s = {
        counts: { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 0 },
        failed: false,
        unreachable: false,
        started: Date.now(),
        predicted: { count: 0 },
        startAt: { found: !deps.settings.startAtTask },
        interrupted: false,
      };
      state.set(h, s);
    }
    return s;
  };
  deps.bus.subscribe((e) => {
    if (e.type === "task.result") hostState(e.host).counts[e.status]++;
  });

  if (deps.live) deps.live.outcome = () => outcome(state, deps.settings.control?.stopping ?? undefined);
  if (!tasksInstalled()) throw new Error("runbook's task library is not loaded: import \"runbook\" (or runbook/tasks) before running a playbook");
  const limiter = new Limiter(Math.max(1, deps.forks));
  const values = new SharedValues();
  // Facts of any host, gathered at most once per run (peers, delegation).
  const factsOf = (name: string): Promise<Facts> => {
    const s = hostState(name);
    if (s.facts) return Promise.resolve(s.facts);
    s.gathering ??= deps.connect(name).then(async (conn) => {
      if (!s.facts) recordFacts(name, (s.facts = await gatherFacts((script) => conn.run(script))));
      return s.facts;
    });
    return s.gathering;
  };
  // The history keeps a summary of each gathering (the web UI's last known facts of a node).
  const recordFacts = (host: string, facts: Facts) => deps.bus.emit({ type: "host.facts", host, facts: summarizeFacts(facts) });
  const control = deps.settings.control;
  let stopAll = false;
  control?.onStop(() => (stopAll = true));

  for (const prepared of plays) {
    if (stopAll) break;
    const { play } = prepared;
    const hosts = prepared.hosts.filter((h) => !hostState(h).failed && !hostState(h).unreachable);
    deps.bus.emit({ type: "play.start", play: play.name, hosts, check: deps.settings.check });
    if (hosts.length === 0) {
      deps.bus.emit({ type: "message", level: "warn", text: `play "${play.name}": no hosts left to run on` });
      deps.bus.emit({ type: "play.end", play: play.name });
      continue;
    }
    const topology = makeTopology({
      hosts,
      groups: deps.groups ?? { all: hosts },
      varsOf: (h) => prepared.vars.get(h) ?? deps.varsOf(h),
      addressOf: deps.addressOf,
      factsOf,
      setFacts: (h, f) => recordFacts(h, (hostState(h).facts = f)),
    });
    const coord: PlayCoordinator = new PlayCoordinator(hosts, (name): Promise<Host> => outsideHost(name, prepared, hostState(name), coord, topology, deps, factsOf), {
      values,
      check: deps.settings.check,
    });
    coord.useSlots(limiter);
    let failedInPlay = 0;
    for (const batch of batches(hosts, play.serial)) {
      if (stopAll) break;
      coord.startBatch(batch);
      await Promise.all(
        batch.map((name) =>
          limiter.run(async () => {
            const s = hostState(name);
            try {
              if (stopAll) return;
              await runHostPlay(name, prepared, s, coord, topology, deps, factsOf);
            } catch (err) {
              if (err instanceof InterruptedError || (control?.stopping && !(err instanceof TaskFailedError))) {
                // Stopped on request: neither failed nor unreachable (the
                // recap and run.end say the run was interrupted).
                s.interrupted = true;
              } else if (err instanceof UnreachableError) {
                s.unreachable = true;
                s.counts.unreachable++;
                deps.bus.emit({ type: "host.unreachable", host: name, play: play.name, message: err.message });
              } else {
                s.failed = true;
                const expected = err instanceof TaskFailedError || err instanceof CoordinationError;
                const message = expected ? (err as Error).message : `${name}: ${errorStack(err)}`;
                if (!(err instanceof TaskFailedError)) s.counts.failed++;
                deps.bus.emit({ type: "host.failed", host: name, play: play.name, message, ...(err instanceof TaskFailedError ? { task: err.task } : {}) });
              }
              if (!s.interrupted) failedInPlay++;
              if (play.anyErrorsFatal && !s.interrupted) stopAll = true;
            } finally {
              coord.leave(name);
              s.counts.time = Date.now() - s.started;
            }
          }),
        ),
      );
      if (play.maxFailPercentage !== undefined && (failedInPlay / hosts.length) * 100 > play.maxFailPercentage) {
        deps.bus.emit({ type: "message", level: "warn", text: `play "${play.name}": ${failedInPlay} of ${hosts.length} hosts failed, over maxFailPercentage ${play.maxFailPercentage}%: stopping` });
        stopAll = true;
      }
    }
    deps.bus.emit({ type: "play.end", play: play.name });
    if (stopAll) break;
  }

  return outcome(state, control?.stopping ?? undefined);
}

/** The recap and exit code of the hosts so far (also what an aborted run records). */
function outcome(state: Map<string, HostState>, interrupted: string | undefined): RunOutcome {
  const recap = Object.fromEntries([...state].map(([h, s]) => [h, s.counts]));
  const anyFailed = [...state.values()].some((s) => s.failed);
  const anyUnreachable = [...state.values()].some((s) => s.unreachable);
  if (interrupted) return { recap, exitCode: interruptedExit(interrupted), interrupted };
  return { recap, exitCode: anyFailed ? EXIT.failed : anyUnreachable ? EXIT.unreachable : EXIT.ok };
}

/** 128 + the signal's number, as shells report a process killed by it. */
export function interruptedExit(reason: string): number {
  return reason === "SIGTERM" ? EXIT.sigterm : EXIT.interrupted;
}

async function runHostPlay(
  name: string,
  prepared: PreparedPlay,
  s: HostState,
  coord: PlayCoordinator,
  topology: Topology,
  deps: SchedulerDeps,
  factsOf: (host: string) => Promise<Facts>,
): Promise<void> {
  const { play } = prepared;
  const conn = await deps.connect(name);
  if (!s.facts && play.gatherFacts !== false) await factsOf(name);
  const vars = prepared.vars.get(name) ?? {};
  const h = new Host(name, s.facts ?? ({} as Facts), vars, play.name, {
    conn,
    bus: deps.bus,
    settings: deps.settings,
    coord,
    become: { ...(prepared.become.get(name) ?? { enabled: false }), password: becomePassword(deps, name) },
    startAt: s.startAt,
    predicted: s.predicted,
    setFacts: (f) => (s.facts = f),
    topology,
  });
  const runner = runnerOf(h);
  runner.pendingFromRun = deps.pending.forHost(name, play.name);
  coord.register(h);
  // A second Ctrl-C ends the process at once: record what is pending first.
  const untrack = deps.onAbort?.(() => {
    const pending = runner.pendingHandlers();
    if (pending.length) deps.pending.record(name, play.name, pending, deps.runId);
  });
  const params = prepared.params.get(name) ?? [];
  try {
    for (const [i, inst] of (play.roles ?? []).entries()) {
      if (params[i] === SKIPPED) {
        deps.bus.emit({ type: "task.result", host: name, play: play.name, role: inst.spec.name, task: `role ${inst.spec.name}`, kind: "role", status: "skipped", reason: "the role's `when` is false for this host", ms: 0 });
        continue;
      }
      runner.enterRole(inst.spec.name, [...(play.tags ?? []), ...inst.tags]);
      await settled(h, (inst as RoleInstance<Shape>).spec.run(h, params[i] as never));
    }
    runner.enterRole(undefined, play.tags ?? []);
    if (play.tasks) await settled(h, play.tasks(h as never));
    await h.flushHandlers();
    deps.pending.clear(name, play.name);
  } catch (err) {
    const pending = runner.pendingHandlers();
    if (pending.length) {
      if (deps.forceHandlers && !(err instanceof UnreachableError) && !deps.settings.control?.stopping) {
        await h.flushHandlers().catch(() => undefined);
        deps.pending.clear(name, play.name);
      } else {
        // Better than Ansible: the next run on this host runs them (and says so).
        deps.pending.record(name, play.name, pending, deps.runId);
      }
    }
    throw err;
  } finally {
    untrack?.();
  }
}

/**
 * Awaits a role's (or play's) body, then the tasks it started without
 * `await`: those fail the host by name instead of crashing the run later.
 */
async function settled(h: Host, body: Promise<unknown> | unknown): Promise<void> {
  try {
    await body;
  } catch (err) {
    await runnerOf(h).settle().catch(() => undefined);
    throw err;
  }
  await runnerOf(h).settle();
}

/** A context for a host a role delegates to that is not in the play (its connection, facts and inventory vars). */
async function outsideHost(
  name: string,
  prepared: PreparedPlay,
  s: HostState,
  coord: PlayCoordinator,
  topology: Topology,
  deps: SchedulerDeps,
  factsOf: (host: string) => Promise<Facts>,
): Promise<Host> {
  const vars = deps.varsOf(name);
  if (!vars) throw new Error(`delegateTo: host ${name} is not in the inventory`);
  const conn = await deps.connect(name);
  const facts = await factsOf(name);
  return new Host(name, facts, vars, prepared.play.name, {
    conn,
    bus: deps.bus,
    settings: deps.settings,
    coord,
    become: { enabled: !!prepared.play.become, user: prepared.play.becomeUser, password: becomePassword(deps, name) },
    startAt: s.startAt,
    predicted: s.predicted,
    setFacts: (f) => (s.facts = f),
    topology,
  });
}

/** Splits hosts into `serial` batches (a count or a percentage); one batch when unset. */
export function batches(hosts: string[], serial: Play["serial"]): string[][] {
  if (serial === undefined) return [hosts];
  const size =
    typeof serial === "number" ? serial : Math.max(1, Math.floor((hosts.length * Number(String(serial).replace("%", ""))) / 100));
  if (!Number.isInteger(size) || size < 1) throw new Error(`serial must be a positive number or percentage, got ${serial}`);
  const out: string[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

/** Marks a role whose `when` is false for the host. */
export const SKIPPED = Symbol("role skipped by when");

/** Resolves role params for every host of a play, collecting all errors before anything runs. */
export function prepareParams(
  play: Play,
  host: string,
  layers: { low: Record<string, unknown>; high: Record<string, unknown> },
): unknown[] {
  const info = { name: host, vars: { ...layers.low, ...layers.high } };
  return (play.roles ?? []).map((inst) => (inst.when && !inst.when(info) ? SKIPPED : resolveParams(inst as RoleInstance<Shape>, info, layers)));
}

function becomePassword(deps: SchedulerDeps, host: string): string | undefined {
  return deps.become.password ?? deps.become.passwordOf?.(host);
}
