/**
 * `reboot`: reboot the host and wait until it is back.
 *
 * How: read the kernel's boot id (/proc/sys/kernel/random/boot_id, new on
 * every boot), start the reboot command detached and one second late (so
 * the command's channel exits 0 before the connection drops, instead of
 * looking like a failure), then reconnect with retries until the host
 * answers with a different boot id: a host that was slow to go down is not
 * mistaken for one that came back. The default command is
 * `shutdown -r now MSG`, else `reboot` (busybox, minimal systems); it is
 * checked to exist before the host is told to go down.
 *
 * Always reports changed (a reboot is an action, not a state); check mode
 * predicts it and does nothing.
 *
 * The wait is the plan's second change (`reconnect`): the runner's
 * connection (runner/connection/reopen.ts) drops and reopens its SSH
 * session in `waitForReboot` below. Facts gathered before the reboot are
 * not refreshed within the run.
 *
 * @example
 *   const r = await h.command("needs-restarting -r", { readOnly: true, failed: false });
 *   if (r.rc === 1) await h.reboot({ msg: "kernel update", maxWait: 900 });
 */
import { shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import type { RebootWait } from "../runner/connection/reconnect.ts";

export { waitForReboot, type Reconnectable, type RebootWait } from "../runner/connection/reconnect.ts";

export const BOOT_ID = "/proc/sys/kernel/random/boot_id";

export interface RebootParams {
  /** Broadcast to logged-in users (with the default command). */
  msg?: string;
  /** The reboot command line (default `shutdown -r now MSG`, else `reboot`). */
  command?: string;
  /** Seconds to wait for the host to come back (default 600). */
  maxWait?: number;
  /** Seconds between reconnect attempts (default 2). */
  interval?: number;
}

/** The reboot command, detached so its channel returns before the host goes down. */
export function rebootCommand(p: RebootParams): string {
  const msg = p.msg ?? "Reboot initiated by runbook";
  const cmd = p.command ?? `if command -v shutdown >/dev/null 2>&1; then shutdown -r now ${shq(msg)}; else reboot; fi`;
  const guard = p.command ? "" : `command -v shutdown >/dev/null 2>&1 || command -v reboot >/dev/null 2>&1 || { echo 'neither shutdown nor reboot found' >&2; exit 1; }\n`;
  return `${guard}nohup /bin/sh -c ${shq(`sleep 1; ${cmd}`)} >/dev/null 2>&1 </dev/null &\necho 'reboot started'`;
}

/** The plan and the wait that must follow it, from the current boot id. Pure: unit-tested. */
export function planReboot(bootId: string, p: RebootParams): { plan: Plan; wait: RebootWait } {
  const max = p.maxWait ?? 600;
  const interval = p.interval ?? 2;
  if (!(max > 0) || !(interval > 0)) throw new Error("reboot: maxWait and interval must be positive");
  if (!/^[0-9a-f-]{36}$/.test(bootId)) throw new Error(`reboot: cannot read the boot id (${JSON.stringify(bootId.slice(0, 40))})`);
  return {
    plan: {
      changes: [{ kind: "run", command: rebootCommand(p), label: p.command ? `reboot: ${p.command}` : "reboot (shutdown -r now)" }],
      reason: `reboot (boot id ${bootId.slice(0, 8)}…), then wait up to ${max} s for a new boot id`,
    },
    wait: { bootId, probe: `cat ${BOOT_ID}`, maxWaitMs: max * 1000, intervalMs: interval * 1000 },
  };
}

export const rebootTask = defineTask<RebootParams>({
  kind: "reboot",
  describe: (p) => `reboot${p.msg ? ` (${p.msg})` : ""}`,
  async plan(ctx, p): Promise<Plan> {
    const r = await ctx.probe(`cat ${BOOT_ID}`);
    if (r.code !== 0) throw new Error(`reboot: cannot read ${BOOT_ID}: ${r.stderr.trim()}`);
    const { plan, wait } = planReboot(r.stdout.trim(), p);
    plan.changes.push({ kind: "reconnect", probe: wait.probe, differsFrom: wait.bootId, maxWaitMs: wait.maxWaitMs, intervalMs: wait.intervalMs });
    return plan;
  },
});
