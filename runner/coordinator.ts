/**
 * Cross-host order inside one play: run-once steps whose value every host
 * shares, barriers, and delegation to another host's context. Hosts otherwise
 * run at their own pace (no lock-step).
 */
import type { Host } from "./host.ts";

export class PlayCoordinator {
  readonly #once = new Map<string, Promise<unknown>>();
  readonly #barriers = new Map<string, { arrived: Set<string>; release: () => void; done: Promise<void> }>();
  readonly #active: Set<string>;
  readonly #hosts = new Map<string, Host>();

  constructor(hosts: string[]) {
    this.#active = new Set(hosts);
  }

  /** Registers a host's context so others can delegate to it. */
  register(host: Host): void {
    this.#hosts.set(host.name, host);
  }

  runOnce<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.#once.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      this.#once.set(key, p);
    }
    return p;
  }

  barrier(name: string, host: string): Promise<void> {
    let b = this.#barriers.get(name);
    if (!b) {
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      b = { arrived: new Set(), release, done };
      this.#barriers.set(name, b);
    }
    b.arrived.add(host);
    this.#check();
    return b.done;
  }

  /** A host left the play (finished, failed or unreachable): it no longer holds barriers up. */
  leave(host: string): void {
    this.#active.delete(host);
    this.#check();
  }

  #check(): void {
    for (const b of this.#barriers.values()) {
      if ([...this.#active].every((h) => b.arrived.has(h))) b.release();
    }
  }

  async delegate<T>(host: string, fn: (other: Host) => Promise<T>): Promise<T> {
    const other = this.#hosts.get(host);
    if (!other) throw new Error(`delegateTo: host ${host} is not part of this play`);
    return fn(other);
  }
}
