/**
 * Applying a plan: the only place that changes a host. Tasks never call
 * this; the host context does, and only outside check mode.
 */
import type { Become, Connection, RunResult } from "./connection/types.ts";
import { randomBytes } from "node:crypto";
import { shq } from "./quote.ts";
import type { Change } from "./task.ts";
import { waitForReboot, type Reconnectable } from "./connection/reconnect.ts";

function isReconnectable(conn: Connection): conn is Connection & Reconnectable {
  return typeof (conn as Partial<Reconnectable>).reconnect === "function";
}

export interface ApplyOptions {
  become?: Become;
  timeoutMs?: number;
  /** A command's output as it arrives (run changes only). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/** One line for output and history: the command, or what a file write does. */
export function describeChange(change: Change): string {
  if (change.kind === "run") return change.label ?? change.command;
  if (change.kind === "local") return change.describe;
  if (change.kind === "reconnect") return `wait up to ${Math.round(change.maxWaitMs / 1000)} s for the host to come back`;
  const attrs = [change.mode && `mode ${change.mode}`, change.owner && `owner ${change.owner}`, change.group && `group ${change.group}`]
    .filter(Boolean)
    .join(", ");
  return `write ${change.path}${attrs ? ` (${attrs})` : ""}${change.validate ? `, validated by: ${change.validate}` : ""}`;
}

/** Applies one change. A non-zero `code` in the result means it failed. */
export async function applyChange(conn: Connection, change: Change, opts: ApplyOptions): Promise<RunResult> {
  if (change.kind === "run") {
    return conn.run(change.command, { stdin: change.stdin, become: opts.become, timeoutMs: opts.timeoutMs, onStdout: opts.onStdout, onStderr: opts.onStderr });
  }
  if (change.kind === "reconnect") {
    if (!isReconnectable(conn)) return { code: 1, stdout: "", stderr: `${conn.host}: this connection cannot reconnect (a local host cannot reboot under the runner)` };
    try {
      const back = await waitForReboot(conn, { bootId: change.differsFrom, probe: change.probe, maxWaitMs: change.maxWaitMs, intervalMs: change.intervalMs });
      return { code: 0, stdout: `back after ${(back.ms / 1000).toFixed(1)} s (${back.attempts} attempt(s))\n`, stderr: "" };
    } catch (err) {
      return { code: 1, stdout: "", stderr: (err as Error).message };
    }
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
  // A name of its own per write: two runs writing one file never share it.
  const tmp = `${change.path}.runbook-${randomBytes(6).toString("hex")}`;
  await conn.put(tmp, change.content, putOpts);
  const steps: string[] = [];
  if (change.validate) {
    const validator = change.validate.includes("%s") ? change.validate.split("%s").join(shq(tmp)) : `${change.validate} ${shq(tmp)}`;
    steps.push(`{ ${validator}; } || { rc=$?; rm -f -- ${shq(tmp)}; exit $rc; }`);
  }
  // The temp file is new, so it has default attributes: give it the old
  // file's unless the change sets them.
  const keep = [
    !change.mode && `chmod --reference=${shq(change.path)} -- ${shq(tmp)}`,
    !change.owner && !change.group && `chown --reference=${shq(change.path)} -- ${shq(tmp)}`,
  ].filter(Boolean);
  if (keep.length) steps.unshift(`if [ -e ${shq(change.path)} ]; then ${keep.join(" && ")}; fi`);
  if (change.backup) {
    steps.push(`if [ -e ${shq(change.path)} ]; then cp -p -- ${shq(change.path)} ${shq(change.path)}."$(date +%Y%m%d%H%M%S)"~; fi`);
  }
  steps.push(`mv -f -- ${shq(tmp)} ${shq(change.path)}`);
  return conn.run(steps.join("\n"), { become: opts.become, timeoutMs: opts.timeoutMs });
}
