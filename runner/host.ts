/**
 * The per-host context a role's `run(h, params)` receives: facts, merged
 * vars, the play's topology, handlers as typed values, cross-host values
 * and ordering helpers. It is thin: tasks run in the engine's TaskRunner
 * (runner/taskrunner.ts), and the task library (tasks/index.ts) installs
 * its methods (`h.copy`, `h.command`...) on this class with `installTasks`.
 * No global mutable state (STYLE lesson 9).
 */
import type { Connection } from "./connection/types.ts";
import type { EventBus } from "./events.ts";
import { gatherFacts, type Facts } from "./facts/index.ts";
import { shq } from "./quote.ts";
import { Secret } from "./secret.ts";
import { defineTask, result, TaskFailedError, type TaskDef, type TaskResult } from "./task.ts";
import type { PlayCoordinator, SharedSpec } from "./coordinator.ts";
import type { Shared } from "./shared.ts";
import { InterruptedError } from "./control.ts";
import { TaskRunner, type Handler, type HostRunSettings, type TaskOptions } from "./taskrunner.ts";
import type { Topology, Peer } from "./topology.ts";

export type { Handler, HostRunSettings, TaskOptions } from "./taskrunner.ts";
export type { Peer } from "./topology.ts";

/** What the engine gives a host context. */
export interface HostDeps {
  conn: Connection;
  bus: EventBus;
  settings: HostRunSettings;
  coord: PlayCoordinator;
  become?: { enabled: boolean; user?: string; password?: string };
  startAt: { found: boolean };
  /** Shared by the host's contexts across plays. */
  predicted?: { count: number };
  /** Called with facts gathered again (refreshFacts), so later plays and delegations see them. */
  setFacts?: (facts: Facts) => void;
  /** The play's hosts, the inventory's groups, other hosts' vars and facts. */
  topology?: Topology;
}

/** The play a host context belongs to. */
export interface PlayInfo {
  readonly name: string;
  /** The play's hosts after --limit, in inventory order. */
  readonly hosts: readonly string[];
  /** The hosts of the current `serial` batch (Ansible's `ansible_play_batch`); all of `hosts` without serial. */
  readonly batch: readonly string[];
}

/** Options of `h.waitUntil`. */
export interface WaitOptions {
  /** Seconds before the host fails (default 300). */
  timeout?: number;
  /** Seconds between tries (default 2). */
  interval?: number;
}

const RUNNERS = new WeakMap<Host, TaskRunner>();

/** The engine's side of a context (scheduler and tests only; not part of the DSL). @internal */
export function runnerOf(h: Host): TaskRunner {
  return RUNNERS.get(h)!;
}

/** The `h` of a role: one host in one play. */
export class Host {
  readonly #runner: TaskRunner;
  readonly #coord: PlayCoordinator;
  readonly #topology: Topology;
  #facts: Facts;
  readonly #setFacts: ((facts: Facts) => void) | undefined;
  /** The play this context runs in, and its hosts. */
  readonly play: PlayInfo;

  constructor(
    readonly name: string,
    facts: Facts,
    readonly vars: Record<string, unknown>,
    play: string,
    deps: HostDeps,
  ) {
    this.#facts = facts;
    this.#setFacts = deps.setFacts;
    this.#coord = deps.coord;
    this.#topology = deps.topology ?? soloTopology(name, vars, facts);
    const coord = deps.coord;
    this.play = {
      name: play,
      hosts: this.#topology.hosts,
      get batch() {
        return coord.batch;
      },
    };
    this.#runner = new TaskRunner(name, play, () => this.#facts, vars, deps);
    RUNNERS.set(this, this.#runner);
  }

  /** What runbook knows about the host, gathered once per run (see refreshFacts). */
  get facts(): Facts {
    return this.#facts;
  }

  /** The inventory's groups and their hosts, in inventory order (Ansible's `groups`). */
  get groups(): Readonly<Record<string, readonly string[]>> {
    return this.#topology.groups;
  }

  /** Another host's inventory vars (Ansible's `hostvars[name]`). */
  hostvars(host: string): Readonly<Record<string, unknown>> {
    return this.#topology.varsOf(host);
  }

  /**
   * The hosts of an inventory group (default: the play's hosts), in
   * inventory order, with their vars and facts (gathered on demand, once
   * per run, also for hosts outside the play or --limit): how a role finds
   * its peers instead of repeating them in parameters.
   *
   * @example
   * const mons = await h.peers("mons");
   * const monHost = mons.map((m) => m.facts.network.interfaces ...);
   */
  peers(group?: string): Promise<Peer[]> {
    return this.#topology.peers(group);
  }

  /**
   * Gathers the facts again (one round trip, read-only, so check mode runs
   * it too) after a task changed what they describe — the host name,
   * addresses, an installed package's effects — like Ansible's `setup`
   * task. `h.facts` and every later play of the run see the new facts.
   */
  async refreshFacts(opts: Pick<TaskOptions, "title" | "when" | "tags"> = {}): Promise<Facts> {
    let gathered: Facts | undefined;
    const def = defineTask<Record<string, never>>({
      kind: "facts",
      describe: () => "gather facts again",
      async plan(ctx) {
        gathered = await gatherFacts((script) => ctx.probe(script));
        return { changes: [], reason: `facts of ${gathered.hostname}` };
      },
    });
    await this.task(def, {}, opts);
    if (gathered) {
      this.#facts = gathered;
      this.#setFacts?.(gathered);
      this.#topology.setFacts?.(this.name, gathered);
    }
    return this.#facts;
  }

  /**
   * Runs a task: plan, then (unless check mode) apply, with the common
   * options. Resolves with the result; rejects with TaskFailedError when the
   * task fails (unless `ignoreErrors`), which stops this host's play. A task
   * must be awaited (one that is not fails the host, naming its line).
   */
  task<P>(def: TaskDef<P>, params: P, opts: TaskOptions = {}): Promise<TaskResult> {
    return this.#runner.run(def, params, opts);
  }

  /**
   * Defines a handler for this host and play. Defining the same name twice
   * returns the first handler, so a role applied twice queues one run.
   */
  handler(name: string, fn: () => Promise<unknown>): Handler {
    return this.#runner.handler(name, fn);
  }

  /** Runs notified handlers now, once each, in definition order. */
  flushHandlers(): Promise<void> {
    return this.#runner.flushHandlers();
  }

  /**
   * A value every host of the play shares (a join token, an fsid, a
   * keyring), declared once at module level with `shared.string(name)`,
   * `shared.secret(name)` or `shared<T>(name, ...)`. Only the host `on`
   * (default: the play's first host in inventory order) reads it from an
   * existing cluster or, when there is none, makes it — when that host
   * reaches this call itself. The others wait for it without holding a
   * --forks slot. In check mode `make` never runs: a value that does not
   * exist yet is the placeholder "(known after apply: NAME)" (see
   * `isKnown`), and tasks using it are predicted with it.
   *
   * @example
   * const fsid = shared.string("ceph fsid");  // module level
   * const id = await h.shared(fsid, {
   *   read: async (m) => (await m.command("cat /etc/ceph/fsid 2>/dev/null || true", { readOnly: true })).stdout?.trim() || undefined,
   *   make: async (m) => (await m.command("uuidgen", { readOnly: true })).stdout!.trim(),
   * });
   */
  shared<T>(decl: Shared<T>, spec: SharedSpec<T>): Promise<T> {
    return this.#coord.shared(decl, spec, this);
  }

  /** Runs `fn` while no other host of the play runs its own `oneAtATime(step)` (a raft or cluster join). */
  oneAtATime<T>(step: string, fn: () => Promise<T>): Promise<T> {
    return this.#coord.oneAtATime(step, this.name, fn);
  }

  /** Waits until every host still running this batch of the play reaches the same barrier. */
  barrier(name: string): Promise<void> {
    return this.#coord.barrier(name, this.name);
  }

  /**
   * Tries `check` until it returns true, every `interval` seconds, for up
   * to `timeout`; otherwise the host fails with what `check` last said was
   * missing ("tnode3 is not in quorum (port 6789 refused)"). `check` should
   * only read state (read-only commands); only its last try is shown. In
   * check mode, after predicted changes on this host, one try that is not
   * met is `unknown` ("would wait for ...") instead of a wait.
   */
  async waitUntil(title: string, check: () => Promise<true | false | string[]>, opts: WaitOptions = {}): Promise<void> {
    const r = this.#runner;
    const timeoutMs = (opts.timeout ?? 300) * 1000;
    const intervalMs = (opts.interval ?? 2) * 1000;
    const started = Date.now();
    const name = `wait until ${title}`;
    r.emit({ type: "task.start", host: this.name, play: this.play.name, role: r.role, task: name });
    let tries = 0;
    for (;;) {
      tries++;
      const attempt = await r.captured(check);
      // Stopped (Ctrl-C) or unreachable: not a condition to wait out.
      if (attempt.error instanceof InterruptedError || (attempt.error as Error | undefined)?.name === "UnreachableError") {
        for (const e of attempt.events) r.bus.emit(e);
        throw attempt.error;
      }
      const missing = attempt.error ? [(attempt.error as Error).message] : attempt.value === true ? [] : attempt.value === false ? ["the condition is false"] : attempt.value!;
      const done = !attempt.error && attempt.value !== false && missing.length === 0;
      const checkModeGuess = !done && r.settings.check && r.predicted.count > 0;
      const timedOut = !done && Date.now() - started + intervalMs > timeoutMs;
      if (done || checkModeGuess || timedOut) {
        for (const e of attempt.events) r.bus.emit(e);
        const secs = Math.round((Date.now() - started) / 1000);
        const outcome = done
          ? result("ok", `met after ${tries} tr${tries === 1 ? "y" : "ies"} (${secs} s)`)
          : checkModeGuess
            ? result("unknown", `would wait for: ${missing.join("; ")} (may depend on ${r.predicted.count} predicted change(s) on this host)`)
            : result("failed", `${timedOut ? `timed out after ${secs} s; ` : ""}still missing: ${missing.join("; ")}`);
        r.emit({ type: "task.result", host: this.name, play: this.play.name, role: r.role, task: name, kind: "wait", status: outcome.status, reason: outcome.reason, ms: Date.now() - started });
        if (outcome.failed) throw new TaskFailedError(this.name, name, outcome);
        return;
      }
      // Waiting gives the --forks slot back: the hosts waited for may need it.
      await this.#coord.idle(() => new Promise((res) => setTimeout(res, intervalMs)));
    }
  }

  /** Runs `fn` with another host's context (its connection, facts and vars). */
  delegateTo<T>(host: string, fn: (other: Host) => Promise<T>): Promise<T> {
    return this.#coord.delegate(host, fn);
  }

  /**
   * Marks a value a role learned at run time (a keyring made on the first
   * monitor, a join token) secret: the run's redactor learns it at once,
   * before anything can print it, and the Secret it returns never goes on
   * a command line, into a diff or an event (`reveal()` it only for a
   * file's content or a command's stdin). Read such a value with a task
   * marked `secret: true`, so its output is kept out of events as well.
   *
   * @example
   * const r = await h.command("cat /etc/ceph/ceph.client.admin.keyring", { readOnly: true, secret: true });
   * const keyring = h.secret(r.stdout);
   * await h.copy({ dest: "/etc/ceph/ceph.client.admin.keyring", content: keyring, mode: "0600" });
   */
  secret(value: string | Secret): Secret {
    this.#runner.bus.redactor.add(value);
    return value instanceof Secret ? value : new Secret(value);
  }

  /** Fails this host's play with a message. */
  fail(message: string): never {
    const r = this.#runner;
    r.emit({ type: "task.result", host: this.name, play: this.play.name, role: r.role, task: "fail", kind: "fail", status: "failed", reason: message, ms: 0 });
    throw new TaskFailedError(this.name, "fail", result("failed", message));
  }

  /** Logs a message for this host (shown with -v and in history). */
  log(text: string): void {
    this.#runner.emit({ type: "message", level: "info", host: this.name, text });
  }

  /** A notice the user must see (always printed): "reboot needed", a skipped step. */
  warn(text: string): void {
    this.#runner.emit({ type: "message", level: "warn", host: this.name, text });
  }
}

/**
 * The task library's methods, filled in by tasks/index.ts through
 * declaration merging (`declare module`): the engine does not know them.
 */
export interface Host {}

/**
 * Installs task methods on every host context: `h.NAME(params, options)`
 * for a task type, or a method of its own (`h.command(cmd, opts)`).
 * Called by the task library when it is imported.
 */
export function installTasks(methods: Record<string, TaskDef<never> | ((this: Host, ...args: never[]) => unknown)>): void {
  for (const [name, m] of Object.entries(methods)) {
    const value =
      typeof m === "function"
        ? m
        : function (this: Host, params: unknown, opts?: TaskOptions) {
            return this.task(m as TaskDef<unknown>, params, opts ?? {});
          };
    Object.defineProperty(Host.prototype, name, { value, configurable: true, writable: true });
  }
  installed = true;
}

let installed = false;

/** Whether a task library was installed (the engine refuses to run without one). */
export function tasksInstalled(): boolean {
  return installed;
}

/** Builds a POSIX sh command line from a template, quoting every value. */
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    if (v instanceof Secret) throw new Error("a Secret cannot go on a command line; pass it on stdin");
    out += Array.isArray(v) ? v.map((x) => shq(String(x))).join(" ") : shq(String(v));
    out += strings[i + 1] ?? "";
  });
  return out;
}

/** The topology of a context made outside a play (tests, tools): the host alone. */
function soloTopology(name: string, vars: Record<string, unknown>, facts: Facts): Topology {
  return {
    hosts: [name],
    groups: { all: [name] },
    varsOf: (host) => {
      if (host !== name) throw new Error(`hostvars: unknown host ${host}`);
      return vars;
    },
    peers: async () => [{ name, address: name, vars, facts }],
  };
}
