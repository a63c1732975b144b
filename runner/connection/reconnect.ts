/**
 * Waiting for a host to come back after a reboot: the engine applies a
 * plan's "reconnect" change with this (tasks/reboot.ts makes the plan).
 */
import type { RunResult } from "./types.ts";

/** What the runner waits for after the reboot command (see waitForReboot). */
export interface RebootWait {
  /** The boot id before the reboot: the host is back when it answers with another. */
  bootId: string;
  /** Command printing the boot id. */
  probe: string;
  maxWaitMs: number;
  intervalMs: number;
}

/** The engine surface waitForReboot needs: the connection verbs plus a reconnect. */
export interface Reconnectable {
  /** Drops the current SSH connection (if any) and opens a new one to the same target; rejects when the host does not answer. */
  reconnect(): Promise<void>;
  run(command: string): Promise<RunResult>;
}

/**
 * Reconnects until the host answers with a new boot id. Resolves with it
 * and how long it took; rejects after `maxWaitMs`. `clock` is for tests.
 */
export async function waitForReboot(
  conn: Reconnectable,
  wait: RebootWait,
  clock: { now(): number; sleep(ms: number): Promise<void> } = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
): Promise<{ bootId: string; ms: number; attempts: number }> {
  const start = clock.now();
  let attempts = 0;
  let last = "";
  for (;;) {
    await clock.sleep(wait.intervalMs);
    attempts++;
    try {
      await conn.reconnect();
      const r = await conn.run(wait.probe);
      const id = r.stdout.trim();
      if (r.code === 0 && id && id !== wait.bootId) return { bootId: id, ms: clock.now() - start, attempts };
      last = r.code === 0 ? "still the old boot id" : `exit ${r.code}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (clock.now() - start >= wait.maxWaitMs) {
      throw new Error(`host did not come back with a new boot id within ${Math.round(wait.maxWaitMs / 1000)} s (last: ${last})`);
    }
  }
}

