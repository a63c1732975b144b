/**
 * Schedules: a job started by a cron expression (croner) with fixed
 * options. A job with secret options can be scheduled only when their
 * values come from a named secret store: a YAML file `NAME.yml` in the
 * server's secrets directory (default `<state>/secrets/`), a map of option
 * name to value, owned by the server's user and readable by no one else
 * (mode 0600 or stricter). The values are read when the schedule fires and
 * go into the run's memory as Secrets, as a secret typed into the form does.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Cron } from "croner";
import { parse } from "yaml";
import { InputError } from "../errors.ts";
import { Secret } from "../secret.ts";
import type { ScheduleRow } from "./store.ts";

const STORE_NAME = /^[\w.-]+$/;

/** The names of the secret stores in `dir` (for the schedule form's selector; a store is checked when used). */
export function secretStores(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".yml")).map((f) => f.slice(0, -4)).filter((n) => STORE_NAME.test(n)).sort();
  } catch {
    return [];
  }
}

/** The values of a named secret store, as Secrets; an InputError says why a store cannot be used. */
export function readSecretStore(dir: string, name: string): Record<string, Secret> {
  if (!STORE_NAME.test(name)) throw new InputError(`secret store names are letters, digits, . _ -; got ${JSON.stringify(name)}`);
  const file = join(dir, `${name}.yml`);
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new InputError(`no secret store ${name} (${file})`);
  }
  if (!st.isFile()) throw new InputError(`secret store ${name}: ${file} is not a file`);
  if (process.getuid && st.uid !== process.getuid()) throw new InputError(`secret store ${name}: ${file} belongs to uid ${st.uid}, not to the server's user`);
  if (st.mode & 0o077) throw new InputError(`secret store ${name}: ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const data = parse(readFileSync(file, "utf8")) as unknown;
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new InputError(`secret store ${name}: ${file} must be a map of option name to value`);
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, new Secret(String(v))]));
}

/** Why a cron expression is not one, or undefined. Five fields (minute first) or six (seconds first). */
export function cronProblem(expr: string): string | undefined {
  try {
    new Cron(expr, { paused: true }).stop();
    return undefined;
  } catch (err) {
    return `not a cron expression: ${(err as Error).message}`;
  }
}

/** The schedules' timers: each fires its job; a run still going when the next is due is not started twice. */
export class Scheduler {
  readonly #crons = new Map<number, Cron>();
  constructor(readonly fire: (row: ScheduleRow) => Promise<void>) {}

  add(row: ScheduleRow): void {
    this.#crons.get(row.id)?.stop();
    const cron = new Cron(row.cron, { protect: true, catch: (err) => console.error(`runbook serve: schedule ${row.id} (${row.job}): ${(err as Error).message}`) }, () => this.fire(row));
    this.#crons.set(row.id, cron);
  }

  remove(id: number): void {
    this.#crons.get(id)?.stop();
    this.#crons.delete(id);
  }

  next(id: number): Date | null {
    return this.#crons.get(id)?.nextRun() ?? null;
  }

  stop(): void {
    for (const c of this.#crons.values()) c.stop();
    this.#crons.clear();
  }
}
