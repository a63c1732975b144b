/**
 * `script`: run a local script on the host without copying it there.
 *
 * The script's bytes travel on the command's stdin and the interpreter
 * reads them from a pipe (`cat | INTERP /dev/fd/3 ARGS 3<&0 </dev/null`):
 * no temp file to leave behind, no size limit of a command line, and the
 * script's own stdin is /dev/null, so a command in it that reads stdin
 * cannot swallow the rest of the script. The interpreter is `interpreter`
 * when given, else the script's `#!` line, else `/bin/sh`.
 *
 * Like `command`, it reports changed when it runs, unless `readOnly`;
 * `creates`/`removes` make it idempotent the Ansible way.
 *
 * Parameters:
 * - `src`: the local script: relative to the playbook's directory,
 *   absolute, or a `file:` URL.
 * - `args`: arguments, each quoted as one word.
 * - `interpreter`: program (one word) or argv, e.g. `"bash"`, `["python3", "-u"]`.
 * - `creates` / `removes`: skip when this remote path exists / does not exist.
 * - `cwd`: remote working directory. `env`: environment variables (they are
 *   on the command line: never secrets).
 * - `readOnly`: the script changes nothing (runs in check mode too, never
 *   reports changed).
 *
 * @example
 *   await h.script({ src: "files/bootstrap-mon.sh", args: ["--id", h.name], creates: "/var/lib/ceph/mon/ceph-" + h.name });
 */
import { readFile } from "node:fs/promises";
import { shjoin, shq } from "../runner/quote.ts";
import { defineTask, type Plan } from "../runner/task.ts";
import { createsRemovesNoop } from "./command.ts";
import { localName, localPath, type LocalSrc } from "./local.ts";

export interface ScriptParams {
  /** The local script (relative to the playbook's directory, absolute, or a file: URL). */
  src: LocalSrc;
  /** Arguments, each quoted as one word. */
  args?: readonly string[];
  /** The program that runs the script; default: its `#!` line, else /bin/sh. */
  interpreter?: string | readonly string[];
  /** Skip when this remote path exists. */
  creates?: string;
  /** Skip unless this remote path exists. */
  removes?: string;
  /** Remote working directory. */
  cwd?: string;
  /** Environment variables (visible on the host's command line: never secrets). */
  env?: Record<string, string>;
  /** The script changes nothing: run it in check mode too, never report changed. */
  readOnly?: boolean;
}

/**
 * The interpreter argv from a `#!` line, as Linux reads it: the program,
 * then everything after it as one argument.
 *
 * @example shebang("#!/usr/bin/env bash\necho hi\n") // ["/usr/bin/env", "bash"]
 */
export function shebang(script: string): string[] | undefined {
  const m = /^#!\s*(\S+)[ \t]*([^\n]*?)[ \t]*\r?\n/.exec(script);
  if (!m) return undefined;
  return m[2] ? [m[1]!, m[2]] : [m[1]!];
}

/** The command line that runs a script arriving on stdin. */
export function scriptCommand(interpreter: readonly string[], p: Pick<ScriptParams, "args" | "cwd" | "env">): string {
  let line = `cat | ${shjoin(interpreter)} /dev/fd/3${p.args?.length ? ` ${shjoin(p.args)}` : ""} 3<&0 </dev/null`;
  if (p.env && Object.keys(p.env).length) {
    for (const k of Object.keys(p.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`env: invalid variable name ${JSON.stringify(k)}`);
    }
    line = `export ${Object.entries(p.env).map(([k, v]) => `${k}=${shq(v)}`).join(" ")}; ${line}`;
  }
  if (p.cwd) line = `cd ${shq(p.cwd)} && { ${line}\n}`;
  return line;
}

export const scriptTask = defineTask<ScriptParams>({
  kind: "script",
  describe: (p) => `script ${p.src instanceof URL ? p.src.pathname.split("/").pop() : p.src}`,
  async plan(ctx, p): Promise<Plan> {
    const file = localPath(ctx.baseDir, p.src);
    const name = localName(p.src, file);
    const body = await readFile(file).catch(() => {
      throw new Error(`script: local file ${name} not found${name === file ? "" : ` (${file})`}`);
    });
    const noop = await createsRemovesNoop(ctx, p);
    if (noop) return noop;
    const interpreter = p.interpreter === undefined ? (shebang(body.subarray(0, 512).toString("utf8")) ?? ["/bin/sh"]) : typeof p.interpreter === "string" ? [p.interpreter] : p.interpreter;
    if (interpreter.length === 0) throw new Error("interpreter: empty");
    const command = scriptCommand(interpreter, p);
    return {
      changes: [{ kind: "run", command, stdin: body, label: `script ${name}${p.args?.length ? ` ${shjoin(p.args)}` : ""}` }],
      reason: p.readOnly ? "read-only script run" : `script ${name} run`,
      readOnly: p.readOnly,
    };
  },
});
