/**
 * The engine's side of a host in a play: it runs tasks (skip rules, plan,
 * check or apply, retries, overrides, events, secrets) and keeps the host's
 * handlers. The user-facing context (`h`, runner/host.ts) is a thin layer
 * over it; the task library (tasks/) plugs its methods into that context,
 * so nothing here knows a task by name.
 */
import type { Connection, Become, RunResult } from "./connection/types.ts";
import type { EventBus, RunEvent } from "./events.ts";
import type { Facts } from "./facts/index.ts";
import { shq } from "./quote.ts";
import { concealDiff } from "./secret.ts";
import { applyChange, describeChange } from "./apply.ts";
import { LocalInputError, result, TaskFailedError, type Plan, type PlanContext, type TaskDef, type TaskResult } from "./task.ts";
import { InterruptedError, type RunControl } from "./control.ts";
import { liveOutput } from "./liveoutput.ts";
import { errorStack } from "./modules.ts";
import { unknownsIn } from "./unknown.ts";

/** A handler: queued by `notify`, run once per host at the end of the play (or at `flushHandlers`). */
export interface Handler {
  readonly name: string;
  /** Brand: handlers are values made by `h.handler()`, never strings. */
  readonly __handler: true;
}

/**
 * Options every task accepts (DESIGN §2), given apart from the task's own
 * parameters: `h.copy({ dest, content }, { notify: restart })`. A task
 * parameter can never be taken for an option, whatever its name.
 */
export interface TaskOptions {
  /**
   * What output calls the task; default: the resource and its target, e.g.
   * `copy /etc/ntp.conf`. (Not `name`: many resources have a `name` of their
   * own — a user, a package, a service.)
   */
  title?: string;
  /** Handlers to queue when the task reports changed. */
  notify?: Handler | Handler[];
  /** Skip the task when false (plain `if` works too; `when` shows as skipped in output). */
  when?: boolean;
  tags?: string[];
  /** Run through sudo (default: the play's `become`). */
  become?: boolean;
  becomeUser?: string;
  /** Override the changed status: a value, or decided from the result. */
  changed?: boolean | ((r: TaskResult) => boolean);
  /** Override the failed status: a value, or decided from the result. */
  failed?: boolean | ((r: TaskResult) => boolean);
  /** Retry up to this many times while `until` is false or the task fails. */
  retries?: number;
  /** Seconds between retries (default 1). */
  delay?: number;
  until?: (r: TaskResult) => boolean;
  /** Seconds before each command of the task is killed. */
  timeout?: number;
  /** Hide commands, output and diffs of this task everywhere. */
  noLog?: boolean;
  /**
   * The task handles a secret: its diffs show only sizes, and its stdout (a
   * key a command printed) is masked here and everywhere after. A task
   * with a Secret among its parameters is treated so without asking.
   */
  secret?: boolean;
  /** Return a failed result instead of stopping the host's play. */
  ignoreErrors?: boolean;
}

/** Run-wide settings a host obeys. */
export interface HostRunSettings {
  check: boolean;
  diff: boolean;
  tags: string[];
  skipTags: string[];
  /** Skip tasks until one whose name matches (then run normally), per host. */
  startAtTask?: string;
  verbose: number;
  baseDir: string;
  /** Stop requests (Ctrl-C): no task starts once a stop is asked for. */
  control?: RunControl;
}

interface HandlerEntry {
  handler: Handler;
  fn: () => Promise<unknown>;
  notified: boolean;
  by: string[];
}

/** What a TaskRunner needs from the scheduler. */
export interface TaskRunnerDeps {
  conn: Connection;
  bus: EventBus;
  settings: HostRunSettings;
  become?: { enabled: boolean; user?: string; password?: string };
  startAt: { found: boolean };
  /** Changes check mode predicted on this host so far in the run; shared by the host's plays. */
  predicted?: { count: number };
}

/** Runs one host's tasks in one play. */
export class TaskRunner {
  readonly conn: Connection;
  readonly bus: EventBus;
  readonly settings: HostRunSettings;
  readonly #handlers: HandlerEntry[] = [];
  readonly #becomeDefault: Become | undefined;
  readonly #becomePassword: string | undefined;
  readonly #started: { found: boolean };
  #role: string | undefined;
  readonly predicted: { count: number };
  #roleTags: string[] = [];
  /** Handlers still notified when the host failed in an earlier run (run now). */
  pendingFromRun = new Map<string, string>();
  /** Tasks started and not finished; and those nobody awaited (see run()). */
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #unawaited: { task: string; at: string }[] = [];
  /** While set, this host's events go here instead of the bus (waitUntil keeps only its last try). */
  #capture: RunEvent[] | undefined;

  constructor(
    readonly host: string,
    readonly play: string,
    readonly facts: () => Facts,
    readonly vars: Record<string, unknown>,
    deps: TaskRunnerDeps,
  ) {
    this.conn = deps.conn;
    this.bus = deps.bus;
    this.settings = deps.settings;
    this.#becomePassword = deps.become?.password;
    this.#becomeDefault = deps.become?.enabled ? { user: deps.become.user, password: deps.become.password } : undefined;
    this.#started = deps.startAt;
    this.predicted = deps.predicted ?? { count: 0 };
  }

  get role(): string | undefined {
    return this.#role;
  }

  /** Sets the role whose tasks follow (output and tags). */
  enterRole(name: string | undefined, tags: string[] = []): void {
    this.#role = name;
    this.#roleTags = tags;
  }

  emit(event: RunEvent): void {
    if (this.#capture) this.#capture.push(event);
    else this.bus.emit(event);
  }

  /** Records a change check mode predicts without a task behind it (a shared value to be made). */
  predict(task: string, kind: string, reason: string): void {
    this.emit({ type: "task.result", host: this.host, play: this.play, role: this.#role, task, kind, status: "changed", predicted: true, reason, ms: 0 });
    this.predicted.count++;
  }

  /**
   * Runs `fn` with this host's events held back; returns them with its
   * result (or error) so the caller emits only the ones it wants.
   */
  async captured<T>(fn: () => Promise<T>): Promise<{ events: RunEvent[]; value?: T; error?: unknown }> {
    const prev = this.#capture;
    const events: RunEvent[] = [];
    this.#capture = events;
    try {
      return { events, value: await fn() };
    } catch (error) {
      return { events, error };
    } finally {
      this.#capture = prev;
    }
  }

  /**
   * Runs a task: plan, then (unless check mode) apply, with the common
   * options. Resolves with the result; rejects with TaskFailedError when the
   * task fails (unless `ignoreErrors`), which stops this host's play.
   *
   * A task must be awaited: one that nobody awaits is found when it ends
   * (or when the role returns while it still runs) and fails the host with
   * the playbook line that started it, instead of crashing the process.
   */
  run<P>(def: TaskDef<P>, params: P, opts: TaskOptions = {}): Promise<TaskResult> {
    const site = new Error();
    const inner = this.#task(def, params, opts);
    const tracked = new TrackedPromise<TaskResult>((res, rej) => inner.then(res, rej));
    // Handled here so an unawaited failure is reported by settleTasks, not
    // as an unhandled rejection (an awaiting caller still gets the error).
    Promise.prototype.then.call(tracked, undefined, () => undefined);
    // `await` calls `then` a microtask later; look one macrotask after the end.
    const settled = inner
      .then(noop, noop)
      .then(() => new Promise((res) => setImmediate(res)))
      .then(() => {
        this.#inflight.delete(settled);
        if (!tracked.awaited) this.#unawaited.push({ task: opts.title ?? def.describe(params), at: callSite(site) });
      });
    this.#inflight.add(settled);
    return tracked;
  }

  /**
   * Called when the role or play function returned: waits for tasks still
   * running (started without `await`) and fails the host naming them.
   */
  async settle(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
    if (this.#unawaited.length === 0) return;
    const list = this.#unawaited.splice(0);
    const message = list.map((u) => `task "${u.task}" was started but not awaited${u.at ? ` (${u.at})` : ""}`).join("; ") + ": add `await` before it";
    this.emit({ type: "task.result", host: this.host, play: this.play, role: this.#role, task: list[0]!.task, kind: "await", status: "failed", reason: message, ms: 0 });
    throw new TaskFailedError(this.host, list[0]!.task, result("failed", message));
  }

  async #task<P>(def: TaskDef<P>, params: P, opts: TaskOptions): Promise<TaskResult> {
    // Learn the task's secrets before any event can carry them; redact the
    // name whole before it is cut.
    const secretTask = this.bus.redactor.collect(params) || !!opts.secret;
    // Check mode: cross-host values not made yet (see unknown.ts).
    const unknowns = this.settings.check ? unknownsIn(params) : [];
    const name = opts.title ?? this.bus.redactor.redact(def.describe(params)).slice(0, def.nameLimit);
    const started = Date.now();
    const emitResult = (r: TaskResult, commands: string[] = []) => {
      const hide = opts.noLog;
      this.emit({
        type: "task.result",
        host: this.host,
        play: this.play,
        role: this.#role,
        task: name,
        kind: def.kind,
        status: r.status,
        reason: hide && r.status !== "skipped" ? "(output hidden: noLog)" : r.reason,
        predicted: r.predicted,
        diffs: hide ? undefined : r.diffs,
        commands: hide ? undefined : commands,
        stdout: hide ? undefined : r.stdout,
        stderr: hide ? undefined : r.stderr,
        rc: r.rc,
        ms: Date.now() - started,
      });
    };

    const stop = this.settings.control?.stopping;
    if (stop) throw new InterruptedError(this.host, stop);
    const skip = this.#skipReason(name, opts);
    if (skip) {
      const r = result("skipped", skip);
      emitResult(r);
      return r;
    }
    this.emit({ type: "task.start", host: this.host, play: this.play, role: this.#role, task: name });

    const become = this.#become(opts);
    const attempts = Math.max(1, (opts.retries ?? 0) + 1);
    let r: TaskResult = result("failed", "not run");
    let commands: string[] = [];
    let hostState = false;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      ({ r, commands, hostState } = await this.#planAndApply(def, params, become, opts, name));
      r = applyOverrides(r, opts);
      const done = opts.until ? !r.failed && opts.until(r) : !r.failed;
      if (done || attempt === attempts) break;
      await new Promise((res) => setTimeout(res, (opts.delay ?? 1) * 1000));
    }
    if (opts.until && !r.failed && !opts.until(r)) {
      r = result("failed", `condition not met after ${attempts} attempt(s)`, { stdout: r.stdout, stderr: r.stderr, rc: r.rc });
    }
    if (r.failed && hostState && this.settings.check && this.predicted.count > 0) {
      // In check mode earlier changes were only predicted, so a state read
      // that depends on them (a file not yet written, a package not yet
      // installed) may fail now and not in the real run. Say exactly that,
      // with the error; errors that do not depend on the host's state (a
      // template, a local file, a bad parameter) stay failures.
      const n = this.predicted.count;
      r = result("unknown", `would fail now, but may depend on ${n} predicted change${n === 1 ? "" : "s"} on this host: ${r.reason}`, {
        stdout: r.stdout,
        stderr: r.stderr,
        rc: r.rc,
      });
    }
    if (unknowns.length && r.status !== "skipped") {
      const uses = `uses ${unknowns.join(", ")}, known after apply`;
      // A plan that fails on a placeholder says nothing about the real run.
      if (r.failed) r = result("unknown", `would fail with the placeholder, but ${uses}: ${r.reason}`, { stdout: r.stdout, stderr: r.stderr, rc: r.rc });
      else r = { ...r, reason: `${r.reason} (${uses})` };
    }
    if (r.predicted) this.predicted.count++;

    r = this.#keepSecrets(r, secretTask, !!opts.secret);
    emitResult(r, commands);
    if (r.changed && opts.notify) this.#notify(opts.notify, name);
    if (r.failed && !opts.ignoreErrors) throw new TaskFailedError(this.host, name, r);
    return r;
  }

  /** Streams a command's output as `task.output` events while it runs (runner/liveoutput.ts). */
  #liveOutput(task: string) {
    return liveOutput((stream, text) => this.emit({ type: "task.output", host: this.host, play: this.play, task, stream, text }));
  }

  async #planAndApply<P>(
    def: TaskDef<P>,
    params: P,
    become: Become | undefined,
    opts: TaskOptions,
    name: string,
  ): Promise<{ r: TaskResult; commands: string[]; hostState: boolean }> {
    const timeoutMs = opts.timeout ? opts.timeout * 1000 : undefined;
    // Whether a failure may depend on the host's state: set once the plan
    // read the host (a plan that throws before that failed on its own input).
    let hostState = false;
    const ctx: PlanContext = {
      host: this.host,
      facts: this.facts(),
      vars: this.vars,
      baseDir: this.settings.baseDir,
      probe: (command, o) => {
        hostState = true;
        return this.conn.run(command, { become, stdin: o?.stdin, timeoutMs });
      },
      read: async (path) => {
        hostState = true;
        // base64: `run` decodes output as UTF-8, which would mangle binary files.
        const res = await this.conn.run(`if [ -f ${shq(path)} ]; then base64 < ${shq(path)}; else exit 3; fi`, { become, timeoutMs });
        if (res.code === 3) return null;
        if (res.code !== 0) throw new Error(`cannot read ${path}: ${res.stderr.trim()}`);
        return Buffer.from(res.stdout, "base64");
      },
    };
    let plan: Plan;
    try {
      plan = await def.plan(ctx, params);
    } catch (err) {
      if (isConnectionError(err)) throw err;
      return { r: result("failed", (err as Error).message), commands: [], hostState: hostState && !(err instanceof LocalInputError) };
    }
    const commands = plan.changes.map(describeChange);
    if (plan.changes.length === 0) return { r: result("ok", plan.reason, { diffs: undefined }), commands, hostState };
    if (this.settings.check && !plan.readOnly) {
      return { r: result("changed", plan.reason, { diffs: plan.diffs, predicted: true }), commands, hostState };
    }
    let last: RunResult | undefined;
    // A secret task's output becomes a secret only when it ends: nothing streams before.
    const live = opts.noLog || opts.secret ? undefined : this.#liveOutput(name);
    for (const change of plan.changes) {
      try {
        last = await applyChange(this.conn, change, { become, timeoutMs, ...live?.handlers });
      } catch (err) {
        // An upload that broke off, a local write that failed: a failed
        // task with its message, not a stack trace.
        if (isConnectionError(err)) throw err;
        last = { code: 1, stdout: "", stderr: (err as Error).message };
      } finally {
        live?.flush();
      }
      if (last.code !== 0) {
        const why = last.code === 124 ? `timed out after ${opts.timeout} s` : firstLine(last.stderr) || firstLine(last.stdout) || `exit code ${last.code}`;
        return {
          r: result("failed", `${describeChange(change)}: ${why}`, { stdout: last.stdout, stderr: last.stderr, rc: last.code, diffs: plan.diffs }),
          commands,
          hostState: true,
        };
      }
    }
    const status = plan.readOnly ? "ok" : "changed";
    return { r: result(status, plan.reason, { diffs: plan.diffs, stdout: last?.stdout, stderr: last?.stderr, rc: last?.code }), commands, hostState };
  }

  /**
   * The output of a task marked `secret` becomes a known secret. A secret
   * task's diffs (marked so or with a Secret parameter), like any diff of a
   * file that holds a known secret now or before, show sizes only: the old
   * text may hold an old secret the run never learned.
   */
  #keepSecrets(r: TaskResult, secretTask: boolean, secretOutput: boolean): TaskResult {
    const redactor = this.bus.redactor;
    if (secretOutput && r.stdout?.trim()) redactor.add(r.stdout.trim());
    if (!r.diffs) return r;
    const holds = (text: string | null) => text !== null && redactor.redact(text) !== text;
    const diffs = r.diffs.map((d) => (secretTask || d.secret || holds(d.before) || holds(d.after) ? concealDiff(d) : d));
    return { ...r, diffs };
  }

  #skipReason(name: string, opts: TaskOptions): string | null {
    if (opts.when === false) return "condition false (when)";
    if (!this.#started.found) {
      if (this.settings.startAtTask && name.includes(this.settings.startAtTask)) this.#started.found = true;
      else return "before --start-at-task";
    }
    const tags = [...this.#roleTags, ...(opts.tags ?? [])];
    const { tags: only, skipTags } = this.settings;
    if (tags.includes("always") && !skipTags.includes("always")) return null;
    if (only.length && !tags.some((t) => only.includes(t))) return `tags (${only.join(",")}) not matched`;
    if (skipTags.length && tags.some((t) => skipTags.includes(t))) return `skipped by --skip-tags`;
    return null;
  }

  #become(opts: TaskOptions): Become | undefined {
    if (opts.become === false) return undefined;
    if (opts.become || opts.becomeUser) return { user: opts.becomeUser ?? "root", password: this.#becomePassword };
    return this.#becomeDefault;
  }

  /**
   * Defines a handler for this host and play. Defining the same name twice
   * returns the first handler, so a role applied twice queues one run.
   */
  handler(name: string, fn: () => Promise<unknown>): Handler {
    const existing = this.#handlers.find((e) => e.handler.name === name);
    if (existing) return existing.handler;
    const entry: HandlerEntry = { handler: { name, __handler: true }, fn, notified: false, by: [] };
    this.#handlers.push(entry);
    const fromRun = this.pendingFromRun.get(name);
    if (fromRun) {
      // A previous run changed what this handler reacts to, then the host failed
      // before handlers ran: queue it now so the change takes effect.
      entry.notified = true;
      this.emit({ type: "handler.pending", host: this.host, play: this.play, handler: name, fromRun });
    }
    return entry.handler;
  }

  #notify(targets: Handler | Handler[], by: string): void {
    for (const t of Array.isArray(targets) ? targets : [targets]) {
      const entry = this.#handlers.find((e) => e.handler === t);
      if (!entry) throw new Error(`handler "${t.name}" was defined for another host or play`);
      if (!entry.notified) this.emit({ type: "handler.notified", host: this.host, play: this.play, handler: t.name, by });
      entry.notified = true;
      entry.by.push(by);
    }
  }

  /** Names of handlers notified and not yet run (recorded if the host fails). */
  pendingHandlers(): string[] {
    return this.#handlers.filter((e) => e.notified).map((e) => e.handler.name);
  }

  /** Runs notified handlers now, once each, in definition order. */
  async flushHandlers(): Promise<void> {
    const prevRole = this.#role;
    for (const entry of this.#handlers) {
      if (!entry.notified) continue;
      this.#role = `handler: ${entry.handler.name}`;
      await entry.fn();
      entry.notified = false;
    }
    this.#role = prevRole;
  }

}

function applyOverrides(r: TaskResult, opts: TaskOptions): TaskResult {
  let out = r;
  if (opts.failed !== undefined && r.status !== "skipped") {
    const failed = typeof opts.failed === "function" ? opts.failed(r) : opts.failed;
    if (failed && !r.failed) out = { ...r, status: "failed", failed: true, changed: false, reason: "failed by the task's `failed` condition" };
    if (!failed && r.failed) out = { ...r, status: "ok", failed: false, reason: `${r.reason} (failure ignored by the task's \`failed\` condition)` };
  }
  if (opts.changed !== undefined && !out.failed && out.status !== "skipped") {
    const changed = typeof opts.changed === "function" ? opts.changed(out) : opts.changed;
    out = { ...out, changed, status: changed ? "changed" : "ok" };
  }
  return out;
}

function firstLine(s: string | undefined): string {
  return (s ?? "").trim().split("\n")[0] ?? "";
}

function isConnectionError(err: unknown): boolean {
  return (err as Error)?.name === "UnreachableError";
}

/**
 * The promise a task method returns: it notes whether anyone awaited it
 * (`await` and `.then` both call `then`), so a task started without `await`
 * is reported instead of failing unseen.
 */
class TrackedPromise<T> extends Promise<T> {
  awaited = false;
  // Promises derived with then/catch are plain ones.
  static override get [Symbol.species]() {
    return Promise;
  }
  override then<A = T, B = never>(onFulfilled?: ((v: T) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    this.awaited = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** The first frame of a stack outside runbook's engine and task library: the playbook or role line. */
function callSite(err: Error): string {
  for (const line of errorStack(err).split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^\s()]+:\d+:\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const where = m[1]!.replace(/^file:\/\//, "");
    if (/\/(runner|tasks|dist|node_modules)\//.test(where) && !/\/test\/fixtures\//.test(where)) continue;
    return relativeToCwd(where);
  }
  return "";
}

function noop(): void {}

function relativeToCwd(path: string): string {
  const cwd = process.cwd() + "/";
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}
