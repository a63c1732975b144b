/**
 * Connections have three verbs: run a command, put a file, get a file
 * (pyinfra's connector shape). SSH and local implement them; engine tests can
 * swap in a recording connection, task tests use real lab hosts.
 */

/** How to run a command as another user (sudo). */
export interface Become {
  /** Target user, default root. */
  user?: string;
  /**
   * The sudo password, sent on stdin (never on a command line). Absent when
   * sudo needs none (NOPASSWD, or already root).
   */
  password?: string;
}

export interface RunOptions {
  /** Bytes for the command's stdin; closed after. */
  stdin?: string | Buffer;
  /** Run through sudo. */
  become?: Become;
  /** Kill the command after this many milliseconds (exit code 124, like timeout(1)). */
  timeoutMs?: number;
  /** Called with output as it arrives (live progress); the result still has all of it. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface RunResult {
  /** Exit status; 124 for a timeout, 255 when the connection was lost. */
  code: number;
  /** Set when the command died of a signal (e.g. "KILL"). */
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface PutOptions {
  /** Octal mode string such as "0644"; default keeps the old file's mode, else 0644. */
  mode?: string;
  owner?: string;
  group?: string;
  become?: Become;
}

/** A connection to one host, opened once and reused for the whole run. */
export interface Connection {
  /** The host's inventory name (for messages). */
  readonly host: string;
  /**
   * Runs a POSIX sh command line (already quoted; see runner/quote.ts) on
   * the host and waits for it. Never rejects for a non-zero exit; rejects
   * only when the connection itself fails.
   */
  run(command: string, opts?: RunOptions): Promise<RunResult>;
  /**
   * Writes `content` to `path` atomically: a temp file in the same directory,
   * checked complete (size and sha256) before mode/owner are set and it is
   * renamed over `path`. A dropped connection leaves the old file or the new
   * one, never a truncated file.
   */
  put(path: string, content: string | Buffer, opts?: PutOptions): Promise<void>;
  /** Reads a remote file. Rejects with a clear error when it is missing or unreadable. */
  get(path: string, opts?: { become?: Become }): Promise<Buffer>;
  close(): Promise<void>;
}

/** A host could not be reached (or was lost): reported as unreachable, exit code 4. */
export class UnreachableError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`${host}: ${message}`);
    this.name = "UnreachableError";
  }
}
