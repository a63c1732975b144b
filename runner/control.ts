/**
 * Stopping a run on request (Ctrl-C, SIGTERM, later the web UI's "stop"):
 * the first request stops hosts from starting new tasks and lets the
 * commands already running finish, so no host is left half-way through a
 * step; handlers notified before the stop are recorded for the next run.
 * After a grace period the connections are closed (what still runs is cut
 * off); a second request aborts at once (the CLI does that part).
 */

/** Why a run was asked to stop: `SIGINT`, `SIGTERM`, or another short reason. */
export type StopReason = string;

export class RunControl {
  #stopping: StopReason | null = null;
  readonly #onStop: ((reason: StopReason) => void)[] = [];

  /** The reason a stop was asked for, or null while the run goes on. */
  get stopping(): StopReason | null {
    return this.#stopping;
  }

  /** Asks the run to stop; the first reason wins. Returns false when a stop was already asked for. */
  requestStop(reason: StopReason): boolean {
    if (this.#stopping) return false;
    this.#stopping = reason;
    for (const fn of this.#onStop) fn(reason);
    return true;
  }

  /** Calls `fn` when a stop is asked for. */
  onStop(fn: (reason: StopReason) => void): void {
    this.#onStop.push(fn);
  }
}

/** A host stopped because the run was asked to stop: not a failure of the host. */
export class InterruptedError extends Error {
  constructor(
    readonly host: string,
    readonly reason: StopReason,
  ) {
    super(`${host}: stopped (${reason}) before its next task`);
    this.name = "InterruptedError";
  }
}
