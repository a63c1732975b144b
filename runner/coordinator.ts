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

  /**
   * @param hosts the play's hosts
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
