/**
 * The local connection (`localhost`): the same verbs, become, put and get
 * semantics as SSH, because both run the same POSIX sh through
 * PosixConnection; only the primitive differs (`/bin/sh -c` in a child
 * process instead of an exec channel).
 */
import { spawn } from "node:child_process";
import { userInfo } from "node:os";
import { PosixConnection, signalStatus, type RawExecOptions, type RawResult } from "./posix.ts";

/**
 * A Connection to the machine runbook runs on.
 *
 * @example
 * const local = new LocalConnection("localhost");
 * await local.put("/tmp/motd", "hello\n", { mode: "0644" });
 * const r = await local.run("cat /tmp/motd");
 */
export class LocalConnection extends PosixConnection {
  readonly loginUser: string;
  private readonly children = new Set<number>();

  constructor(readonly host = "localhost") {
    super();
    this.loginUser = userInfo().username;
  }

  protected exec(line: string, opts: RawExecOptions): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      // Its own process group, so the deadline can kill everything it started.
      const child = spawn("/bin/sh", ["-c", line], { stdio: ["pipe", "pipe", "pipe"], detached: true });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let timedOut = false;
      let deadline: NodeJS.Timeout | undefined;
      if (child.pid !== undefined) this.children.add(child.pid);
      child.stdout.on("data", (d: Buffer) => {
        stdout.push(d);
        opts.onStdout?.(d);
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr.push(d);
        opts.onStderr?.(d);
      });
      // A command that exits without reading its stdin is not an error.
      child.stdin.on("error", () => {});
      child.on("error", (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      child.on("close", (code, signal) => {
        clearTimeout(deadline);
        if (child.pid !== undefined) this.children.delete(child.pid);
        const sig = signal ? signal.replace(/^SIG/, "") : undefined;
        const r: RawResult = {
          code: timedOut ? 124 : (code ?? (sig ? signalStatus(sig) : 255)),
          stdout: Buffer.concat(stdout),
          stderr: Buffer.concat(stderr),
        };
        if (sig && !timedOut) r.signal = sig;
        resolve(r);
      });
      if (opts.deadlineMs !== undefined) {
        deadline = setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, opts.deadlineMs);
      }
      child.stdin.end(opts.stdin ?? Buffer.alloc(0));
    });
  }

  /**
   * Kills commands still running (their process groups) and forgets them.
   *
   * @example await local.close();
   */
  async close(): Promise<void> {
    for (const pid of this.children) killGroup(pid);
    this.children.clear();
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}
