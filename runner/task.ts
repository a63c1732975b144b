/**
 * Tasks are split in two (pyinfra's operations, changesets' assemble vs
 * apply): a task's *plan* reads state and returns data — the changes it
 * would make, a diff, or why nothing is needed — and the runner *applies*
 * that plan. Check mode is the runner not applying, so no task carries its
 * own check-mode branch and a dry run cannot drift from the real one.
 */
import type { Facts } from "./facts/index.ts";
import type { RunResult } from "./connection/types.ts";

/**
 * `unknown` is check mode's honest answer for a state read that fails after
 * earlier changes on the host were only predicted: it would fail now, and
 * may not once those changes are made. It is counted, printed and recorded,
 * never turned into `skipped`.
 */
export type TaskStatus = "ok" | "changed" | "skipped" | "failed" | "unknown";

/** Runs a command on the host; the plan's state reads and the apply step both use it. */
export interface RunChange {
  kind: "run";
  /** POSIX sh command line, every interpolation quoted (see `shq`). */
  command: string;
  /** Bytes on stdin: how secrets and file contents travel (never argv). */
  stdin?: string | Buffer;
  /** What output shows instead of the command (e.g. without a long heredoc). */
  label?: string;
}

/** Writes a file atomically (temp file, mode/owner, optional validation, rename). */
export interface PutChange {
  kind: "put";
  path: string;
  content: string | Buffer;
  mode?: string;
  owner?: string;
  group?: string;
  /** Validator run on the new file before it replaces the old one; `%s` is its path. */
  validate?: string;
  /** Keep a timestamped copy of the old file beside it. */
  backup?: boolean;
}

/**
 * Changes the runner's own machine, not the host: `fetch` writing the copy
 * it read. Applied like the others, so check mode skips it too.
 */
export interface LocalChange {
  kind: "local";
  /** One line for output and history, e.g. `write fetched/tnode1/fstab (1.2 kB from tnode1:/etc/fstab)`. */
  describe: string;
  apply(): Promise<void>;
}

/**
 * Waits for the host to come back after a reboot: reconnects until `probe`
 * prints something other than `differsFrom` (the old boot id).
 */
export interface ReconnectChange {
  kind: "reconnect";
  probe: string;
  differsFrom: string;
  maxWaitMs: number;
  intervalMs: number;
}

export type Change = RunChange | PutChange | LocalChange | ReconnectChange;

/** Content before and after, for `--diff` (null: the file does not exist). */
export interface FileDiff {
  path: string;
  before: string | null;
  after: string | null;
  /**
   * The file holds secret content: output and history show only that it
   * changed and its sizes, never old or new text (the runner conceals it).
   */
  secret?: boolean;
}

/** What a task's plan returns. */
export interface Plan {
  /** What to do; empty when the host already matches. */
  changes: Change[];
  /**
   * Why nothing is needed (`content matches`), or what the changes do
   * (`create /etc/ntp.conf`). Printed with the result; tests assert it.
   */
  reason: string;
  diffs?: FileDiff[];
  /** The changes read state only: run them in check mode too, never report changed. */
  readOnly?: boolean;
}

/** What every task returns. */
export interface TaskResult {
  status: TaskStatus;
  changed: boolean;
  failed: boolean;
  skipped: boolean;
  /** The no-op reason, the change summary, or the failure message. */
  reason: string;
  diffs?: FileDiff[];
  /** Output of the last command the task ran (applied or read-only). */
  stdout?: string;
  stderr?: string;
  rc?: number;
  /** True when check mode predicted the change instead of making it. */
  predicted?: boolean;
}

/** What a plan may use: read state, never change it. */
export interface PlanContext {
  readonly host: string;
  readonly facts: Facts;
  /** The host's merged variables (`h.vars`), e.g. for templates. */
  readonly vars: Record<string, unknown>;
  /** Runs a read-only command (also in check mode): stat, checksums, `dpkg-query`... */
  probe(command: string, opts?: { stdin?: string | Buffer }): Promise<RunResult>;
  /** A remote regular file's content, byte for byte, or null when there is none. */
  read(path: string): Promise<Buffer | null>;
  /** The runner's local project directory, to resolve `src` files and templates. */
  readonly baseDir: string;
}

/** A task type: a name and a plan. See tasks/ for the library. */
export interface TaskDef<P> {
  /** Resource name shown in output: `copy`, `file`, `package`... */
  kind: string;
  /** A default task name from its params, e.g. `copy /etc/ntp.conf`. */
  describe(params: P): string;
  /**
   * Names longer than this are cut (a long command line). The runner cuts
   * them after redacting the whole name: a secret cut in two would no longer
   * match its mask and its first half would print.
   */
  nameLimit?: number;
  plan(ctx: PlanContext, params: P): Promise<Plan>;
}

/** Declares a task type (a helper for inference). */
export function defineTask<P>(def: TaskDef<P>): TaskDef<P> {
  return def;
}

/** Builds a result. */
export function result(status: TaskStatus, reason: string, extra: Partial<TaskResult> = {}): TaskResult {
  return {
    status,
    reason,
    changed: status === "changed",
    failed: status === "failed",
    skipped: status === "skipped",
    ...extra,
  };
}

/**
 * A task's own input is wrong (a template that does not render, a missing
 * local file, a bad parameter): the failure does not depend on the host's
 * state, so check mode reports it as failed even after predicted changes.
 */
export class LocalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalInputError";
  }
}

/** A task failed and the host's play stops (caught by the scheduler). */
export class TaskFailedError extends Error {
  constructor(
    readonly host: string,
    readonly task: string,
    readonly result: TaskResult,
  ) {
    super(`${host}: task "${task}" failed: ${result.reason}`);
    this.name = "TaskFailedError";
  }
}
