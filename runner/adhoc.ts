/**
 * Ad-hoc commands (`runbook run PATTERN -- CMD`, and the web UI's Commands
 * page): one command on many hosts over their own connections, recorded in
 * the run history like a playbook run, and its results grouped by identical
 * output (`clush -b`): hosts that printed the same thing and exited the same
 * way share a block.
 */
import type { RunResult } from "./connection/types.ts";
import { EventBus, type HostCounts } from "./events.ts";
import { HistoryWriter, newRunId, processStartTime } from "./history.ts";
import type { Inventory } from "./inventory/index.ts";
import { EXIT } from "./errors.ts";
import { eachHost } from "./cli/common.ts";
import { Redactor, type Secret } from "./secret.ts";
import { hostVars } from "./vars.ts";
import { safeUser } from "./run.ts";

export interface AdhocOptions {
  inv: Inventory;
  hosts: string[];
  /** The pattern as typed (for the history's title). */
  pattern: string;
  cmd: string;
  become?: { user: string; password?: string };
  timeoutMs?: number;
  connect: { acceptNewHostKeys: boolean; forks: number; sshConfig?: string; user?: string };
  /** More values to mask in the record (vault passwords). */
  secrets?: (string | Secret | undefined)[];
  /** Who started it, for the history (default: this process's user). */
  startedBy?: string;
  /** Where the history goes (default: the state directory). */
  stateDir?: string;
}

export type HostOutcome = { ok: true; value: RunResult } | { ok: false; error: string };

/** Hosts that ended alike: same output and exit code, or unreachable with the same error. */
export interface OutputGroup {
  hosts: string[];
  /** stdout then stderr, or for unreachable hosts the error. */
  out: string;
  /** The exit code as text, or `unreachable`. */
  code: string;
}

/** Starts the command on every host; `outcome` resolves when all have answered (never rejects). */
export function startAdhoc(opts: AdhocOptions): { runId: string; outcome: Promise<{ results: Map<string, HostOutcome>; exitCode: number }> } {
  const record = recordAdhoc(opts);
  const outcome = (async () => {
    const results = await eachHost(opts.inv, opts.hosts, opts.connect, async (conn, host) => {
      const started = Date.now();
      // The inventory's sudo password of each host, unless one was given for all.
      const become = opts.become && { ...opts.become, password: opts.become.password ?? opts.inv.hosts.get(host)!.conn.becomePassword?.reveal() };
      const r = await conn.run(opts.cmd, { become, timeoutMs: opts.timeoutMs });
      record.result(host, opts.cmd, r, Date.now() - started);
      return r;
    });
    for (const [host, r] of results) if (!r.ok) record.unreachable(host, r.error);
    let exitCode: number = EXIT.ok;
    for (const r of results.values()) {
      if (!r.ok) exitCode = exitCode === EXIT.failed ? exitCode : EXIT.unreachable;
      else if (r.value.code !== 0) exitCode = EXIT.failed;
    }
    record.end(exitCode);
    return { results, exitCode };
  })();
  return { runId: record.runId, outcome };
}

/** Groups hosts (in the order given) by identical output and status. */
export function groupOutputs(hosts: string[], result: (host: string) => HostOutcome | undefined): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const host of hosts) {
    const r = result(host);
    if (!r) continue;
    const [key, out, code] = r.ok ? [`${r.value.stdout}${r.value.stderr}\u0000${r.value.code}`, `${r.value.stdout}${r.value.stderr}`, String(r.value.code)] : [`\u0001${r.error}`, r.error, "unreachable"];
    const g = groups.get(key);
    if (g) g.hosts.push(host);
    else groups.set(key, { hosts: [host], out, code });
  }
  return [...groups.values()];
}

/**
 * An ad-hoc command goes into the run history like a playbook run (Rundeck
 * records its commands too): one task per host with its output and exit
 * code, redacted like any run (the inventory's secrets and passwords, the
 * sudo password, the vault passwords).
 */
function recordAdhoc(opts: AdhocOptions) {
  const { inv, hosts } = opts;
  const redactor = new Redactor();
  for (const p of [opts.become?.password, ...(opts.secrets ?? [])]) if (p) redactor.add(p);
  for (const host of hosts) {
    const h = inv.hosts.get(host)!;
    redactor.collect([hostVars(inv, host).vars, h.conn.password, h.conn.becomePassword]);
  }
  const runId = newRunId();
  const bus = new EventBus(redactor, runId);
  const history = new HistoryWriter(runId, opts.stateDir);
  bus.subscribe(history.write);
  const play = "ad hoc";
  const started = Date.now();
  const recap: Record<string, HostCounts> = {};
  const counts = (host: string) => (recap[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 0 });
  const what = `run ${opts.pattern} -- ${opts.cmd}`;
  bus.emit({ type: "run.start", playbook: what, adhoc: true, user: opts.startedBy ?? safeUser(), check: false, diff: false, pid: process.pid, pidStart: processStartTime(process.pid) });
  bus.emit({ type: "play.start", play, hosts, check: false });
  return {
    runId,
    result(host: string, task: string, r: RunResult, ms: number) {
      const status = r.code === 0 ? "changed" : "failed";
      counts(host)[status]++;
      counts(host).time = ms;
      bus.emit({ type: "task.result", host, play, task, kind: "command", status, reason: `exit ${r.code}`, stdout: r.stdout, stderr: r.stderr, rc: r.code, ms });
    },
    unreachable(host: string, message: string) {
      counts(host).unreachable++;
      bus.emit({ type: "host.unreachable", host, play, message });
    },
    end(exitCode: number) {
      bus.emit({ type: "play.end", play });
      bus.emit({ type: "run.end", recap, exitCode, ms: Date.now() - started });
      history.flush();
    },
  };
}
