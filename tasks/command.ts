/**
 * `command`: run a command line on the host.
 *
 * Reports changed when it runs (a command's effect is unknown), unless it is
 * `readOnly`; `creates`/`removes` make it idempotent the Ansible way.
 *
 * @example
 *   await h.command("ntpq -pn", { readOnly: true });
 *   await h.command(["tar", "xf", "/tmp/x.tar", "-C", "/opt"], { creates: "/opt/x" });
 */
import { shjoin, shq } from "../runner/quote.ts";
import { Secret } from "../runner/secret.ts";
import { defineTask, type Plan, type PlanContext } from "../runner/task.ts";

export interface CommandParams {
  /** A POSIX sh command line, or an argv that is quoted word by word. */
  cmd: string | string[];
  /** The command changes nothing: run it in check mode too, never report changed. */
  readOnly?: boolean;
  /** Skip when this path exists. */
  creates?: string;
  /** Skip unless this path exists. */
  removes?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Bytes on stdin; a Secret is revealed only there. */
  stdin?: string | Secret;
}

/** The command's own parameter names besides `cmd` (every one: the type says so). */
export const COMMAND_KEYS: Record<keyof Omit<CommandParams, "cmd">, true> = { readOnly: true, creates: true, removes: true, cwd: true, env: true, stdin: true };

function commandLine(p: CommandParams): string {
  let line = typeof p.cmd === "string" ? p.cmd : shjoin(p.cmd);
  if (p.env && Object.keys(p.env).length) {
    for (const k of Object.keys(p.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`env: invalid variable name ${JSON.stringify(k)}`);
    }
    const assigns = Object.entries(p.env).map(([k, v]) => `${k}=${shq(v)}`);
    line = `export ${assigns.join(" ")}; ${line}`;
  }
  if (p.cwd) line = `cd ${shq(p.cwd)} && { ${line}\n}`;
  return line;
}

/**
 * Ansible's `creates`/`removes`: the no-op plan when `creates` exists or
 * `removes` does not (one round trip), else null. Shared with `script`.
 */
export async function createsRemovesNoop(ctx: PlanContext, p: { creates?: string; removes?: string }): Promise<Plan | null> {
  if (!p.creates && !p.removes) return null;
  const checks = [p.creates && `test -e ${shq(p.creates)} && echo creates`, p.removes && `test -e ${shq(p.removes)} && echo removes`]
    .filter(Boolean)
    .map((c) => `{ ${c}; true; }`)
    .join("; ");
  const found = (await ctx.probe(checks)).stdout;
  if (p.creates && found.includes("creates")) return { changes: [], reason: `${p.creates} exists (creates)` };
  if (p.removes && !found.includes("removes")) return { changes: [], reason: `${p.removes} does not exist (removes)` };
  return null;
}

export const commandTask = defineTask<CommandParams>({
  kind: "command",
  // Not cut here: the runner cuts the name after redacting it (nameLimit).
  describe: (p) => `command ${typeof p.cmd === "string" ? p.cmd : shjoin(p.cmd)}`,
  nameLimit: 80,
  async plan(ctx, p) {
    const noop = await createsRemovesNoop(ctx, p);
    if (noop) return noop;
    const command = commandLine(p);
    const stdin = p.stdin instanceof Secret ? p.stdin.reveal() : p.stdin;
    return {
      changes: [{ kind: "run", command, stdin }],
      reason: p.readOnly ? "read-only command" : "command run",
      readOnly: p.readOnly,
    };
  },
});
