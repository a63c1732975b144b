/**
 * The run's event stream: every printer (TTY, plain, --json) and the history
 * read the same structured events, redacted at the source. The future web UI
 * (`runbook serve`) follows the same stream.
 */
import type { FileDiff, TaskStatus } from "./task.ts";
import type { Redactor } from "./secret.ts";

export interface HostCounts {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  /** Check mode: state reads that failed after predicted changes (see TaskStatus). */
  unknown: number;
  /** Milliseconds the host spent in the run. */
  time: number;
}

/** What a run records of a host's facts: the parts a person looks for on a node's page (not every interface flag and block device). */
export interface FactsSummary {
  hostname: string;
  fqdn: string;
  os: string;
  family: string;
  kernel: string;
  arch: string;
  board: string | null;
  cpus: number;
  cpuModel: string | null;
  memoryMiB: number;
  /** Global addresses with prefix and interface: `10.0.12.1/31 eth1`. */
  addresses: string[];
  defaultRoute: string | null;
  init: string;
  container: string | null;
  packageManager: string | null;
  uptimeSeconds: number | null;
}

export type RunEvent =
  | {
      type: "run.start";
      /** The playbook as given, or for an ad-hoc command `run PATTERN -- COMMAND`. */
      playbook: string;
      /** An ad-hoc command (`runbook run`), not a playbook. */
      adhoc?: boolean;
      user: string;
      limit?: string;
      check: boolean;
      diff: boolean;
      /** The runner's process, to tell a running run from a crashed one (see history). */
      pid?: number;
      /** The process's start time, in clock ticks since boot (Linux), so a reused pid is not taken for it. */
      pidStart?: string;
    }
  | { type: "play.start"; play: string; hosts: string[]; check: boolean }
  | { type: "task.start"; host: string; play: string; role?: string; task: string }
  | {
      type: "task.result";
      host: string;
      play: string;
      role?: string;
      task: string;
      kind: string;
      status: TaskStatus;
      reason: string;
      /** Check mode predicted this change instead of making it. */
      predicted?: boolean;
      diffs?: FileDiff[];
      commands?: string[];
      stdout?: string;
      stderr?: string;
      rc?: number;
      ms: number;
    }
  /**
   * Output of a command while it runs, in whole lines, at most every
   * 200 ms per task (the full output is still in task.result).
   */
  | { type: "task.output"; host: string; play: string; task: string; stream: "stdout" | "stderr"; text: string }
  | { type: "handler.notified"; host: string; play: string; handler: string; by: string }
  | { type: "handler.pending"; host: string; play: string; handler: string; fromRun: string }
  /** `task`: the failed task, whose result line already told why. */
  | { type: "host.failed"; host: string; play: string; message: string; task?: string }
  | { type: "host.unreachable"; host: string; play: string; message: string }
  | { type: "message"; level: "info" | "warn"; host?: string; text: string }
  /** Facts were gathered on a host (the summary the web UI's Nodes page shows as its last known facts). */
  | { type: "host.facts"; host: string; facts: FactsSummary }
  | { type: "play.end"; play: string }
  | {
      type: "run.end";
      recap: Record<string, HostCounts>;
      exitCode: number;
      ms: number;
      /** Stopped on request (SIGINT, SIGTERM): the reason. */
      interrupted?: string;
      /** The run could not finish (an internal error, an abort): what happened. */
      error?: string;
    };

/**
 * What the bus adds to every event: the run it belongs to, its place in the
 * run (1, 2, 3, ... with no gaps, so a follower that reconnects knows what it
 * missed) and when it happened (ISO 8601 with milliseconds).
 */
export interface EventStamp {
  runId: string;
  seq: number;
  time: string;
}

/** An event as sinks, the history and followers of a run see it. */
export type StampedEvent = RunEvent & EventStamp;

export type EventSink = (event: StampedEvent) => void;

/** Fans events out to sinks after redacting them once and stamping them. */
export class EventBus {
  readonly #sinks = new Set<EventSink>();
  #seq = 0;
  constructor(
    readonly redactor: Redactor,
    readonly runId = "",
  ) {}

  /** Adds a sink; returns its removal. */
  subscribe(sink: EventSink): () => void {
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  emit(event: RunEvent): void {
    const clean = { ...this.redactor.deep(event), runId: this.runId, seq: ++this.#seq, time: new Date().toISOString() } as StampedEvent;
    for (const sink of this.#sinks) sink(clean);
  }
}
