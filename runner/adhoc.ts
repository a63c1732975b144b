/**
 * Ad-hoc commands (`runbook run PATTERN -- CMD`, and the web UI's Commands
 * page): one command on many hosts over their own connections, recorded in
 * the run history like a playbook run, and its results grouped by identical
 * output (`clush -b`): hosts that printed the same thing and exited the same
 * way share a block.
 */
import type { RunResult } from "./connection/types.ts";
import type { StopReason } from "./control.ts";
import { EventBus, type HostCounts, type StampedEvent } from "./events.ts";
import { HistoryWriter, newRunId, processStartTime } from "./history.ts";
import type { Inventory } from "./inventory/index.ts";
import { EXIT } from "./errors.ts";
import { eachHost } from "./cli/common.ts";
import { Redactor, type Secret } from "./secret.ts";
import { hostVars } from "./vars.ts";
import { EventLog, safeUser } from "./run.ts";
import { liveOutput } from "./liveoutput.ts";
import { foldNodeset } from "./nodeset.ts";
import { interruptedExit } from "./scheduler.ts";

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
  /** How long running commands may go on after a stop before their connections are closed (ms). */
  graceMs?: number;
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

/** An ad-hoc command under way: followed, stopped and aborted as a playbook run is (runner/run.ts). */
export interface AdhocRun {
  readonly runId: string;
  /** Every event from the first, then live ones (output as it is printed), until run.end. */
  events(): AsyncIterableIterator<StampedEvent>;
  /**
   * Resolves when every host has answered or the run was aborted (never
   * rejects). A host that did not start, or was cut off, has no result.
   */
  readonly outcome: Promise<{ results: Map<string, HostOutcome>; exitCode: number; interrupted?: StopReason; notStarted: string[]; cutOff: string[] }>;
  /**
   * Asks the command to stop: hosts not yet started do not start, the
   * commands running get the grace period, then their connections are
   * closed. False when a stop was already asked for.
   */
  stop(reason: StopReason): boolean;
  note(level: "info" | "warn", text: string): void;
  /** Ends the record now (the second Ctrl-C), cutting off what runs; returns the exit code. */
  abort(reason: StopReason): number;
}

/** Starts the command on every host. */
export function startAdhoc(opts: AdhocOptions): AdhocRun {
  const record = recordAdhoc(opts);
  const stop = new AbortController();
  const cutoff = new AbortController();
  const running = new Set<string>();
  const cut = new Set<string>();
  cutoff.signal.addEventListener("abort", () => running.forEach((h) => cut.add(h)), { once: true });
  let aborted: number | undefined;
  const outcome = (async () => {
    const results = await eachHost(opts.inv, opts.hosts, { ...opts.connect, stop: stop.signal, cutoff: cutoff.signal }, async (conn, host) => {
      const started = Date.now();
      // The inventory's sudo password of each host, unless one was given for all.
      const become = opts.become && { ...opts.become, password: opts.become.password ?? opts.inv.hosts.get(host)!.conn.becomePassword?.reveal() };
      record.start(host, opts.cmd);
      const live = record.output(host, opts.cmd);
      running.add(host);
      try {
        const r = await conn.run(opts.cmd, { become, timeoutMs: opts.timeoutMs, ...live.handlers });
        live.flush();
        if (!cut.has(host)) record.result(host, opts.cmd, r, Date.now() - started);
        return r;
      } finally {
        running.delete(host);
      }
    });
    // A host cut off by the stop is neither failed nor unreachable (the run says it was interrupted).
    for (const host of cut) results.delete(host);
    for (const [host, r] of results) if (!r.ok) record.unreachable(host, r.error);
    const interrupted = stop.signal.aborted ? (stop.signal.reason as StopReason) : undefined;
    let exitCode: number = EXIT.ok;
    for (const r of results.values()) {
      if (!r.ok) exitCode = exitCode === EXIT.failed ? exitCode : EXIT.unreachable;
      else if (r.value.code !== 0) exitCode = EXIT.failed;
    }
    if (interrupted) exitCode = interruptedExit(interrupted);
    const notStarted = opts.hosts.filter((h) => !results.has(h) && !cut.has(h));
    const cutOff = opts.hosts.filter((h) => cut.has(h));
    if (aborted !== undefined) return { results, exitCode: aborted, interrupted, notStarted, cutOff };
    for (const line of stoppedLines(interrupted, notStarted, cutOff)) record.note("warn", line);
    record.end(exitCode, interrupted);
    return { results, exitCode, interrupted, notStarted, cutOff };
  })();
  const graceMs = opts.graceMs ?? Number(process.env.RUNBOOK_STOP_GRACE_MS ?? 10_000);
  return {
    runId: record.runId,
    events: record.events,
    outcome,
    stop(reason) {
      if (stop.signal.aborted) return false;
      stop.abort(reason);
      setTimeout(() => cutoff.abort(), graceMs).unref();
      return true;
    },
    note: record.note,
    abort(reason) {
      if (!stop.signal.aborted) stop.abort(reason);
      for (const h of running) cut.add(h);
      cutoff.abort();
      aborted ??= interruptedExit(reason);
      record.end(aborted, reason, `aborted by a second ${reason}`);
      return aborted;
    },
  };
}

/** What a stop left undone, in words (the record's messages, the CLI's last lines). */
export function stoppedLines(reason: StopReason | undefined, notStarted: string[], cutOff: string[]): string[] {
  return [
    ...(notStarted.length ? [`${reason}: ${foldNodeset(notStarted)} (${notStarted.length}) did not start`] : []),
    ...(cutOff.length ? [`${reason}: ${foldNodeset(cutOff)} (${cutOff.length}) cut off after the grace period`] : []),
  ];
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
  const log = new EventLog();
  bus.subscribe(log.push);
  const history = new HistoryWriter(runId, opts.stateDir);
  bus.subscribe(history.write);
  const play = "ad hoc";
  const started = Date.now();
  const recap: Record<string, HostCounts> = {};
  const counts = (host: string) => (recap[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 0 });
  const what = `run ${opts.pattern} -- ${opts.cmd}`;
  let ended = false;
  bus.emit({ type: "run.start", playbook: what, adhoc: true, user: opts.startedBy ?? safeUser(), check: false, diff: false, pid: process.pid, pidStart: processStartTime(process.pid) });
  bus.emit({ type: "play.start", play, hosts, check: false });
  return {
    runId,
    events: () => log.follow(),
    start(host: string, task: string) {
      bus.emit({ type: "task.start", host, play, task });
    },
    /** The command's output as it is printed (whole lines, redacted by the bus). */
    output(host: string, task: string) {
      return liveOutput((stream, text) => !ended && bus.emit({ type: "task.output", host, play, task, stream, text }));
    },
    result(host: string, task: string, r: RunResult, ms: number) {
      if (ended) return;
      const status = r.code === 0 ? "changed" : "failed";
      counts(host)[status]++;
      counts(host).time = ms;
      bus.emit({ type: "task.result", host, play, task, kind: "command", status, reason: `exit ${r.code}`, stdout: r.stdout, stderr: r.stderr, rc: r.code, ms });
    },
    unreachable(host: string, message: string) {
      if (ended) return;
      counts(host).unreachable++;
      bus.emit({ type: "host.unreachable", host, play, message });
    },
    note: (level: "info" | "warn", text: string) => {
      if (!ended) bus.emit({ type: "message", level, text });
    },
    /** The end record, once (a second call, after an abort, does nothing). */
    end(exitCode: number, interrupted?: StopReason, error?: string) {
      if (ended) return;
      bus.emit({ type: "play.end", play });
      bus.emit({ type: "run.end", recap, exitCode, ms: Date.now() - started, ...(interrupted ? { interrupted } : {}), ...(error ? { error } : {}) });
      ended = true;
      history.flush();
    },
  };
}
