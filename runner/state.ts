/**
 * runbook's local state directory: run history and handlers left pending by
 * a failed host. `RUNBOOK_STATE_DIR`, else `.runbook/` in the current
 * directory (the project's), created on first use.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export function stateDir(): string {
  return resolve(process.env.RUNBOOK_STATE_DIR ?? ".runbook");
}

/** Writes a file atomically (temp + rename), so a crash never leaves half a file. */
export function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

type PendingRecord = Record<string, Record<string, { handlers: string[]; run: string }>>;

/**
 * Handlers notified on a host that then failed before they ran. The next run
 * of the same play on that host queues them again as soon as the role
 * defines them, and says so in its output.
 */
export class PendingHandlers {
  readonly #file: string;
  #data: PendingRecord;

  constructor(dir = stateDir()) {
    this.#file = join(dir, "pending-handlers.json");
    this.#data = existsSync(this.#file) ? (JSON.parse(readFileSync(this.#file, "utf8")) as PendingRecord) : {};
  }

  /** Handler name -> the run that left it pending, for one host and play. */
  forHost(host: string, play: string): Map<string, string> {
    const rec = this.#data[host]?.[play];
    return new Map((rec?.handlers ?? []).map((h) => [h, rec!.run]));
  }

  record(host: string, play: string, handlers: string[], run: string): void {
    const prev = this.#data[host]?.[play];
    const merged = [...new Set([...(prev?.handlers ?? []), ...handlers])];
    this.#data[host] = { ...this.#data[host], [play]: { handlers: merged, run: prev?.run ?? run } };
    this.#save();
  }

  clear(host: string, play: string): void {
    if (!this.#data[host]?.[play]) return;
    delete this.#data[host][play];
    if (Object.keys(this.#data[host]).length === 0) delete this.#data[host];
    this.#save();
  }

  #save(): void {
    mkdirSync(resolve(this.#file, ".."), { recursive: true });
    writeAtomic(this.#file, JSON.stringify(this.#data, null, 2) + "\n");
  }
}
