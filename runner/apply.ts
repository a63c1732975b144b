/**
 * Applying a plan: the only place that changes a host. Tasks never call
 * this; the host context does, and only outside check mode.
 */
import type { Become, Connection, RunResult } from "./connection/types.ts";
import { shq } from "./quote.ts";
import type { Change } from "./task.ts";

export interface ApplyOptions {
  become?: Become;
  timeoutMs?: number;
}

/** One line for output and history: the command, or what a file write does. */
export function describeChange(change: Change): string {
  if (change.kind === "run") return change.label ?? change.command;
  if (change.kind === "local") return change.describe;
  const attrs = [change.mode && `mode ${change.mode}`, change.owner && `owner ${change.owner}`, change.group && `group ${change.group}`]
    .filter(Boolean)
    .join(", ");
  return `write ${change.path}${attrs ? ` (${attrs})` : ""}${change.validate ? `, validated by: ${change.validate}` : ""}`;
}

/** Applies one change. A non-zero `code` in the result means it failed. */
export async function applyChange(conn: Connection, change: Change, opts: ApplyOptions): Promise<RunResult> {
  if (change.kind === "run") {
    return conn.run(change.command, { stdin: change.stdin, become: opts.become, timeoutMs: opts.timeoutMs });
  }
  if (change.kind === "local") {
    try {
      await change.apply();
      return { code: 0, stdout: "", stderr: "" };
    } catch (err) {
      return { code: 1, stdout: "", stderr: (err as Error).message };
    }
  }
  const putOpts = { mode: change.mode, owner: change.owner, group: change.group, become: opts.become };
  if (!change.validate && !change.backup) {
    await conn.put(change.path, change.content, putOpts);
    return { code: 0, stdout: "", stderr: "" };
  }
  // Validate (and back up) on a temp file beside the target, then rename:
  // a file that fails validation never replaces the old one.
  const tmp = `${change.path}.runbook-new`;
  await conn.put(tmp, change.content, putOpts);
  const steps: string[] = [];
  if (change.validate) {
    const validator = change.validate.includes("%s") ? change.validate.split("%s").join(shq(tmp)) : `${change.validate} ${shq(tmp)}`;
    steps.push(`{ ${validator}; } || { rc=$?; rm -f -- ${shq(tmp)}; exit $rc; }`);
  }
  if (change.backup) {
    steps.push(`if [ -e ${shq(change.path)} ]; then cp -p -- ${shq(change.path)} ${shq(change.path)}."$(date +%Y%m%d%H%M%S)"~; fi`);
  }
  steps.push(`mv -f -- ${shq(tmp)} ${shq(change.path)}`);
  return conn.run(steps.join("\n"), { become: opts.become, timeoutMs: opts.timeoutMs });
}
