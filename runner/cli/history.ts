/** `runbook history [--host H] [--since DATE]`: recorded runs, newest first. */
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { listRuns } from "../history.ts";
import type { Command } from "./main.ts";

const USAGE = `runbook history [options]

      --host HOST    only runs that touched HOST
      --since WHEN   only runs started at or after WHEN: a date (2026-11-17), an ISO
                     time, today, yesterday, or an age (90s, 30m, 2h, 3d, 1w)
  -n, --last N       at most N runs (default 20)
      --json         one JSON object per run`;

export const command: Command = {
  summary: "list recorded runs",
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { host: { type: "string" }, since: { type: "string" }, last: { type: "string", short: "n" }, json: { type: "boolean" } },
    });
    const since = values.since === undefined ? undefined : parseSince(values.since);
    const runs = listRuns({ host: values.host, since }).slice(0, Number(values.last ?? 20));
    if (values.json) {
      for (const r of runs) console.log(JSON.stringify(r));
      return 0;
    }
    if (runs.length === 0) {
      console.log("no recorded runs" + (values.host ? ` on ${values.host}` : "") + (since ? ` since ${values.since}` : ""));
      return 0;
    }
    for (const r of runs) {
      const totals = Object.values(r.end?.recap ?? {}).reduce(
        (a, c) => ({ changed: a.changed + c.changed, failed: a.failed + c.failed, unreachable: a.unreachable + c.unreachable }),
        { changed: 0, failed: 0, unreachable: 0 },
      );
      const result =
        r.state === "running" ? "running" : r.state === "crashed" ? "crashed (no end record; its process is gone)" : `${r.state === "interrupted" ? `interrupted (${r.end!.interrupted}), ` : ""}${r.end!.exitCode === 0 ? "ok" : `exit ${r.end!.exitCode}`}`;
      console.log(
        `${r.runId}  ${r.start.time.slice(0, 19).replace("T", " ")}  ${r.start.user.padEnd(8)}  ${r.start.playbook}${r.start.check ? " (check)" : ""}` +
          `${r.start.limit ? ` --limit ${r.start.limit}` : ""}  hosts ${r.hosts.length}, changed ${totals.changed}, failed ${totals.failed}` +
          `${totals.unreachable ? `, unreachable ${totals.unreachable}` : ""}  ${result}`,
      );
    }
    return 0;
  },
};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: `today` and `yesterday` (from local midnight), an age such as
 * `2h` or `30m` (back from `now`), or anything `Date` reads (`2026-11-17`,
 * an ISO time).
 *
 * @example parseSince("2h", new Date("2026-12-04T12:00:00Z")) // 2026-12-04T10:00:00.000Z
 */
export function parseSince(text: string, now = new Date()): Date {
  const t = text.trim().toLowerCase();
  if (t === "today" || t === "yesterday") {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    if (t === "yesterday") d.setDate(d.getDate() - 1);
    return d;
  }
  const age = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(t);
  if (age) return new Date(now.getTime() - Number(age[1]) * UNIT_MS[age[2]!]!);
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new InputError(`--since: not a date: ${text} (a date, an ISO time, today, yesterday, or an age such as 2h, 30m, 3d)`);
  return date;
}
