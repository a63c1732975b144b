/**
 * Cross-host order inside one play: run-once steps whose value every host
 * shares, barriers, and delegation to another host's context. Hosts otherwise
 * run at their own pace (no lock-step).
 */
import type { Host } from "./host.ts";

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
  readonly #once = new Map<string, Promise<unknown>>();
  /** Barriers of the current batch, by name and pass (`name#2` is the second time hosts meet at `name`). */
  readonly #barriers = new Map<string, Barrier>();
  /** Host -> name -> how many times it reached that barrier in this batch. */
  readonly #passes = new Map<string, Map<string, number>>();
  /** Host -> what it waits for now: a barrier, or another host's runOnce value. */
  readonly #waiting = new Map<string, Barrier | { runOnce: string }>();
  #active: Set<string>;
  readonly #hosts = new Map<string, Host>();
  #slots: Slots | undefined;

  /**
   * @param hosts the hosts that meet at barriers (the play's, or its first batch)
   * @param outside opens a context for a host outside the play (a build
   *   node, a bastion) when a role delegates to it; without it, delegation
   *   is limited to the play's hosts.
   */
  constructor(
    hosts: string[],
    private readonly outside?: (host: string) => Promise<Host>,
  ) {
    this.#active = new Set(hosts);
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

  /** Registers a host's context so others can delegate to it. */
  register(host: Host): void {
    this.#hosts.set(host.name, host);
  }

  /**
   * Runs `fn` once for all hosts; the others wait for its value (giving
   * their slot back meanwhile, like a barrier).
   */
  async runOnce<T>(key: string, fn: () => Promise<T>, host?: string): Promise<T> {
    let p = this.#once.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      const settled = { done: false };
      this.#once.set(key, p);
      this.#onceSettled.set(key, settled);
      p.then(
        () => (settled.done = true),
        () => (settled.done = true),
      );
      return p;
    }
    if (!host || this.#onceSettled.get(key)?.done) return p;
    this.#waiting.set(host, { runOnce: key });
    this.#check();
    this.#slots?.release();
    try {
      return await p;
    } finally {
      this.#waiting.delete(host);
      await this.#slots?.acquire();
    }
  }

  readonly #onceSettled = new Map<string, { done: boolean }>();

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
    this.#check();
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
    this.#check();
  }

  #check(): void {
    for (const b of this.#barriers.values()) {
      if (b.state === "waiting" && [...this.#active].every((h) => b.arrived.has(h))) {
        b.state = "open";
        b.release();
      }
    }
    // Every running host waits — at a barrier none can open, or for a
    // runOnce value whose host waits at one: fail the barriers with who
    // waits where, rather than hang (the runOnce waiters then get its error).
    const stuck = [...this.#active].filter((h) => {
      const w = this.#waiting.get(h);
      return w && ("runOnce" in w || w.state === "waiting");
    });
    if (this.#active.size === 0 || stuck.length !== this.#active.size) return;
    const at = new Map<string, string[]>();
    const barriers = new Set<Barrier>();
    for (const h of stuck) {
      const w = this.#waiting.get(h)!;
      const what = "runOnce" in w ? `runOnce "${w.runOnce}"` : `barrier "${w.name}"`;
      if (!("runOnce" in w)) barriers.add(w);
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
