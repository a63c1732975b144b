/** Small process helpers for the lab: argv only, never a shell string. */
import { spawn } from "node:child_process";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  input?: string;
}

/** Runs argv, collecting output; rejects with the command's stderr on failure. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on("error", reject);
    child.on("close", (code) => {
      const result = { stdout, stderr, code: code ?? 1 };
      if (result.code !== 0 && !opts.allowFail) {
        reject(new Error(`${cmd} ${args.join(" ")} exited ${result.code}: ${stderr.trim() || stdout.trim()}`));
      } else resolve(result);
    });
  });
}
