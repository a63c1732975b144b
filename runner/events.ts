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
  /** Milliseconds the host spent in the run. */
  time: number;
}

export type RunEvent =
  | {
      type: "run.start";
      runId: string;
      playbook: string;
      user: string;
      limit?: string;
      check: boolean;
      diff: boolean;
      time: string;
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
  | { type: "handler.notified"; host: string; play: string; handler: string; by: string }
  | { type: "handler.pending"; host: string; play: string; handler: string; fromRun: string }
  | { type: "host.failed"; host: string; play: string; message: string }
  | { type: "host.unreachable"; host: string; play: string; message: string }
  | { type: "message"; level: "info" | "warn"; host?: string; text: string }
  | { type: "play.end"; play: string }
  | { type: "run.end"; runId: string; recap: Record<string, HostCounts>; exitCode: number; ms: number };

export type EventSink = (event: RunEvent) => void;

/** Fans events out to sinks after redacting them once. */
export class EventBus {
  readonly #sinks: EventSink[] = [];
  constructor(readonly redactor: Redactor) {}

  subscribe(sink: EventSink): void {
    this.#sinks.push(sink);
  }

  emit(event: RunEvent): void {
    const clean = this.redactor.deep(event);
    for (const sink of this.#sinks) sink(clean);
  }
}
