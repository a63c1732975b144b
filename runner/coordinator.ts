/**
 * Cross-host order inside one play: values every host shares (made once on
 * a chosen host), steps taken one host at a time, barriers, and delegation
 * to another host's context. Hosts otherwise run at their own pace (no
 * lock-step).
 */
import { runnerOf, type Host } from "./host.ts";
import { Secret } from "./secret.ts";
import type { Shared } from "./shared.ts";

/** How a shared value is found or made (see Host.shared). */
export interface SharedSpec<T> {
  /** The host that reads or makes the value (default: the play's first host in inventory order). */
  on?: string;
  /**
   * Reads the value from what exists (a running cluster, a file): read-only
   * tasks on host `m`, also run in check mode. Undefined: there is none yet.
   */
  read?: (m: Host) => Promise<T | undefined>;
  /** Makes the value when `read` found none. Never run in check mode. */
  make: (m: Host) => Promise<T>;
}

/** One shared value in one run: who makes it, and its promise. */
interface SharedEntry {
  on: string;
  started: boolean;
  done: boolean;
  promise: Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Shared values of a run, across its plays. */
export class SharedValues {
  readonly entries = new Map<Shared<unknown>, SharedEntry>();
}

/** Concurrency slots (the scheduler's --forks): a host waiting at a barrier gives its slot back. */
export interface Slots {
  release(): void;
  acquire(): Promise<void>;
}

/** Hosts can never all meet at a barrier: each host waiting there fails with this. */
export class CoordinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CoordinationError";
  }
}

/** What a host waits for now. */
type Waiting = Barrier | { shared: string; on: string } | { turn: string; holder: string };

interface Barrier {
  name: string;
  arrived: Set<string>;
  /** Open: every host arrived; failed: they never can. */
  state: "waiting" | "open" | "failed";
  release: () => void;
  fail: (err: Error) => void;
  done: Promise<void>;
}

export class PlayCoordinator {
  /** Barriers of the current batch, by name and pass (`name#2` is the second time hosts meet at `name`). */
  readonly #barriers = new Map<string, Barrier>();
  /** Host -> name -> how many times it reached that barrier in this batch. */
  readonly #passes = new Map<string, Map<string, number>>();
  /** Host -> what it waits for now: a barrier, a shared value, a turn. */
  readonly #waiting = new Map<string, Waiting>();
  #active: Set<string>;
  readonly #hosts = new Map<string, Host>();
  #slots: Slots | undefined;

  /**
   * @param hosts the hosts that meet at barriers (the play's, or its first batch)
   * @param outside opens a context for a host outside the play (a build
   *   node, a bastion) when a role delegates to it; without it, delegation
   *   is limited to the play's hosts.
   */
  readonly #values: SharedValues;
  readonly #check: boolean;
  /** The play's hosts (all batches), to tell who can still reach a call. */
  readonly #playHosts: Set<string>;
  /** Hosts of the play that left it (done, failed, unreachable). */
  readonly #left = new Set<string>();
  /** oneAtATime: the step's current holder and the queue of the others. */
  readonly #turns = new Map<string, { holder?: string; queue: (() => void)[] }>();

  constructor(
    hosts: string[],
    private readonly outside?: (host: string) => Promise<Host>,
    opts: { values?: SharedValues; check?: boolean } = {},
  ) {
    this.#active = new Set(hosts);
    this.#playHosts = new Set(hosts);
    this.#values = opts.values ?? new SharedValues();
    this.#check = !!opts.check;
  }

  /** The scheduler's slots: hosts waiting at a barrier do not hold them. */
  useSlots(slots: Slots): void {
    this.#slots = slots;
  }

  /**
   * A new `serial` batch: barriers from now on wait for these hosts (a host
   * of a later batch has not started, one of an earlier batch is done).
   * Run-once values stay shared across batches.
   */
  startBatch(hosts: string[]): void {
    this.#active = new Set(hosts);
    this.#barriers.clear();
    this.#passes.clear();
    this.#waiting.clear();
  }

  /** The hosts of the current `serial` batch (all of the play's without serial), in inventory order. */
  get batch(): readonly string[] {
    return [...this.#active];
  }

  /** Runs `fn` (a pause: waitUntil's sleep) without holding a --forks slot. */
  async idle<T>(fn: () => Promise<T>): Promise<T> {
    this.#slots?.release();
    try {
      return await fn();
    } finally {
      await this.#slots?.acquire();
    }
  }

  /** Registers a host's context so others can delegate to it. */
  register(host: Host): void {
    this.#hosts.set(host.name, host);
  }

  /**
   * A shared value (see Host.shared): made or read once, on `spec.on`, when
   * that host reaches the call itself; the others wait (slot given back).
   * When `on` is not among the running hosts (outside --limit, in another
   * batch), the first host to ask runs it through delegation.
   */
  async shared<T>(decl: Shared<T>, spec: SharedSpec<T>, h: Host): Promise<T> {
    const on = spec.on ?? h.play.hosts[0] ?? h.name;
    let entry = this.#values.entries.get(decl as Shared<unknown>);
    if (!entry) {
      let resolve!: (v: unknown) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined);
      entry = { on, started: false, done: false, promise, resolve, reject };
      this.#values.entries.set(decl as Shared<unknown>, entry);
    } else if (entry.on !== on) {
      throw new CoordinationError(`shared value "${decl.name}": asked for on ${on}, but it is made on ${entry.on}`);
    }
    const e = entry;
    const start = (run: (fn: (m: Host) => Promise<T>) => Promise<T>) => {
      e.started = true;
      run((m) => this.#readOrMake(decl, spec, m)).then(
        (v) => {
          e.done = true;
          e.resolve(v);
        },
        (err: Error) => {
          e.done = true;
          e.reject(new CoordinationError(`shared value "${decl.name}" (made on ${on}): ${err.message}`));
        },
      );
    };
    if (!e.started) {
      if (h.name === on) start((fn) => fn(h));
      else if (!this.#active.has(on) || this.#left.has(on)) {
        if (this.#playHosts.has(on) && this.#left.has(on)) {
          e.done = true;
          e.reject(new CoordinationError(`shared value "${decl.name}": ${on}, which makes it, left the play before it did`));
        } else start((fn) => this.delegate(on, fn));
      }
    }
    if (e.done || h.name === on) return (await e.promise) as T;
    this.#waiting.set(h.name, { shared: decl.name, on });
    this.#settle();
    this.#slots?.release();
    try {
      return (await e.promise) as T;
    } finally {
      this.#waiting.delete(h.name);
      await this.#slots?.acquire();
    }
  }

  async #readOrMake<T>(decl: Shared<T>, spec: SharedSpec<T>, m: Host): Promise<T> {
    const existing = spec.read ? await spec.read(m) : undefined;
    let value: T;
    if (existing !== undefined) value = existing;
    else if (this.#check) {
      // Shown as the predicted change it is, with no command behind it.
      runnerOf(m).predict(`make ${decl.name}`, "shared", `none exists yet: it would be made now; until then its value is (known after apply: ${decl.name})`);
      return decl.placeholder();
    }
    else value = await spec.make(m);
    if (decl.secret) {
      if (typeof value === "string" || value instanceof Secret) m.secret(value);
      else runnerOf(m).bus.redactor.collect(value);
    }
    return value;
  }

  /** Runs `fn` while no other host holds the step (first come, first served; the waiters give their slot back). */
  async oneAtATime<T>(step: string, host: string, fn: () => Promise<T>): Promise<T> {
    let t = this.#turns.get(step);
    if (!t) {
      t = { queue: [] };
      this.#turns.set(step, t);
    }
    const turn = t;
    if (turn.holder !== undefined) {
      this.#waiting.set(host, { turn: step, holder: turn.holder });
      this.#slots?.release();
      try {
        await new Promise<void>((res) => turn.queue.push(res));
      } finally {
        this.#waiting.delete(host);
        await this.#slots?.acquire();
      }
    }
    turn.holder = host;
    try {
      return await fn();
    } finally {
      turn.holder = undefined;
      turn.queue.shift()?.();
    }
  }

  /**
   * Waits until every host of the batch still running reaches this barrier
   * (the n-th call with a name meets the other hosts' n-th call).
   */
  async barrier(name: string, host: string): Promise<void> {
    const passes = this.#passes.get(host) ?? new Map<string, number>();
    this.#passes.set(host, passes);
    const n = (passes.get(name) ?? 0) + 1;
    passes.set(name, n);
    const key = `${name}#${n}`;
    let b = this.#barriers.get(key);
    if (!b) {
      let release!: () => void;
      let fail!: (err: Error) => void;
      const done = new Promise<void>((res, rej) => {
        release = res;
        fail = rej;
      });
      // Rejections are delivered to the waiting hosts; none is unhandled.
      done.catch(() => undefined);
      b = { name, arrived: new Set(), state: "waiting", release, fail, done };
      this.#barriers.set(key, b);
    }
    b.arrived.add(host);
    this.#waiting.set(host, b);
    this.#settle();
    if (b.state === "open") {
      this.#waiting.delete(host);
      return;
    }
    this.#slots?.release();
    try {
      await b.done;
    } finally {
      this.#waiting.delete(host);
      await this.#slots?.acquire();
    }
  }

  /** A host left the play (finished, failed or unreachable): it no longer holds barriers up. */
  leave(host: string): void {
    this.#active.delete(host);
    this.#left.add(host);
    // Values this host was to make and never started: their waiters fail now.
    for (const [decl, e] of this.#values.entries) {
      if (e.on === host && !e.started && !e.done) {
        e.done = true;
        e.reject(new CoordinationError(`shared value "${decl.name}": ${host}, which makes it, left the play before it did`));
      }
    }
    this.#settle();
  }

  #settle(): void {
    for (const b of this.#barriers.values()) {
      if (b.state === "waiting" && [...this.#active].every((h) => b.arrived.has(h))) {
        b.state = "open";
        b.release();
      }
    }
    // Every running host waits — at a barrier none can open, or for a
    // shared value or turn whose host waits at one: fail the barriers with
    // who waits where, rather than hang (the others then get its error).
    const stuck = [...this.#active].filter((h) => {
      const w = this.#waiting.get(h);
      return w && (!("state" in w) || w.state === "waiting");
    });
    if (this.#active.size === 0 || stuck.length !== this.#active.size) return;
    const at = new Map<string, string[]>();
    const barriers = new Set<Barrier>();
    for (const h of stuck) {
      const w = this.#waiting.get(h)!;
      const what = "shared" in w ? `shared value "${w.shared}" (made on ${w.on})` : "turn" in w ? `oneAtATime "${w.turn}" (held by ${w.holder})` : `barrier "${w.name}"`;
      if ("state" in w) barriers.add(w);
      at.set(what, [...(at.get(what) ?? []), h]);
    }
    if (barriers.size === 0) return;
    const where = [...at].map(([what, hs]) => `${hs.join(", ")} at ${what}`).join("; ");
    for (const b of barriers) {
      b.state = "failed";
      b.fail(new CoordinationError(`the hosts can never all meet: ${where}`));
    }
  }

  readonly #opening = new Map<string, Promise<Host>>();

  async delegate<T>(host: string, fn: (other: Host) => Promise<T>): Promise<T> {
    let other = this.#hosts.get(host);
    if (!other) {
      if (!this.outside) throw new Error(`delegateTo: host ${host} is not part of this play`);
      let opening = this.#opening.get(host);
      if (!opening) {
        opening = this.outside(host);
        this.#opening.set(host, opening);
      }
      other = await opening;
    }
    return fn(other);
  }
}
