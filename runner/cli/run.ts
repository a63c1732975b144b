/**
 * `runbook run PATTERN -- CMD`: an ad-hoc command on many hosts, like clush or
 * a Rundeck command. Output is grouped by identical result (`clush -b`):
 * hosts that printed the same thing and exited the same way share a block.
 */
import { parseArgs } from "node:util";
import { EXIT, ExitError, InputError } from "../errors.ts";
import { foldNodeset } from "../nodeset.ts";
import { inquirerAsk } from "../prompts.ts";
import type { RunResult } from "../connection/types.ts";
import { EventBus, type HostCounts } from "../events.ts";
import { HistoryWriter, newRunId, processStartTime } from "../history.ts";
import type { Inventory } from "../inventory/index.ts";
import { Redactor, type Secret } from "../secret.ts";
import { hostVars } from "../vars.ts";
import { safeUser } from "../run.ts";
import type { Command } from "./main.ts";
import { VAULT_USAGE } from "./vault.ts";
import { connectOptions, eachHost, HOST_OPTIONS, hostsFor } from "./common.ts";

const USAGE = `runbook run PATTERN [options] -- COMMAND...

  -i, --inventory PATH        inventory file or directory (default: inventory/)
  -F, --ssh-config FILE       OpenSSH client config to read instead of ~/.ssh/config (as ssh -F)
  -u, --user USER             log in as USER (over the inventory and the ssh config)
  -b, --become                run through sudo (as root, or --become-user)
      --become-user USER      the user sudo switches to (implies --become)
  -K, --ask-become-pass       ask for the sudo password once (or set RUNBOOK_BECOME_PASSWORD)
      --timeout SECONDS       stop the command after SECONDS on each host (exit 124, as timeout(1))
  -f, --forks N               hosts at once (default 50)
      --accept-new-host-keys  trust and record unknown SSH host keys
${VAULT_USAGE}
      --json                  one JSON object per host`;

export const command: Command = {
  summary: "run an ad-hoc command",
  usage: USAGE,
  run: (args) => adhoc(args),
};

async function adhoc(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const optArgs = dash === -1 ? args : args.slice(0, dash);
  const cmdArgs = dash === -1 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseArgs({
    args: optArgs,
    allowPositionals: true,
    options: {
      ...HOST_OPTIONS,
      become: { type: "boolean", short: "b" },
      "become-user": { type: "string" },
      "ask-become-pass": { type: "boolean", short: "K" },
      timeout: { type: "string" },
    },
  });
  const pattern = positionals[0];
  const cmd = [...positionals.slice(1), ...cmdArgs].join(" ");
  if (!pattern || !cmd) throw new ExitError(EXIT.input, `usage: ${USAGE}`);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new InputError(`--timeout must be a positive number of seconds, got ${values.timeout}`);
  const { inv, hosts, vault } = await hostsFor(pattern, values);
  let password = process.env.RUNBOOK_BECOME_PASSWORD;
  if (values["ask-become-pass"] && password === undefined) {
    if (!process.stdin.isTTY) throw new InputError("-K needs a terminal to ask the sudo password on; set RUNBOOK_BECOME_PASSWORD instead");
    password = await inquirerAsk({ message: "BECOME (sudo) password", secret: true });
  }
  const wantsBecome = values.become || values["become-user"] !== undefined || values["ask-become-pass"];
  const become = wantsBecome ? { user: values["become-user"] ?? "root", password } : undefined;
  const timeoutMs = timeout === undefined ? undefined : timeout * 1000;
  const record = recordAdhoc(inv, hosts, `run ${pattern} -- ${cmd}`, [password, ...vault.passwords.map((p) => p.password)]);
  // The inventory's sudo password of each host, unless one was given for all.
  const becomeOf = (host: string) => become && { ...become, password: become.password ?? inv.hosts.get(host)!.conn.becomePassword?.reveal() };
  const results = await eachHost(inv, hosts, connectOptions(values), async (conn, host) => {
    const started = Date.now();
    const r = await conn.run(cmd, { become: becomeOf(host), timeoutMs });
    record.result(host, cmd, r, Date.now() - started);
    return r;
  });
  for (const [host, r] of results) if (!r.ok) record.unreachable(host, r.error);

  let exit: number = EXIT.ok;
  if (values.json) {
    for (const host of hosts) {
      const r = results.get(host)!;
      process.stdout.write(JSON.stringify(r.ok ? { host, rc: r.value.code, stdout: r.value.stdout, stderr: r.value.stderr } : { host, unreachable: r.error }) + "\n");
    }
  }
  // Group hosts by identical output and status.
  const groups = new Map<string, string[]>();
  for (const host of hosts) {
    const r = results.get(host)!;
    const key = r.ok ? `${r.value.stdout}${r.value.stderr}\u0000${r.value.code}` : `\u0001${r.error}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(host);
    if (!r.ok) exit = exit === EXIT.failed ? exit : EXIT.unreachable;
    else if (r.value.code !== 0) exit = EXIT.failed;
  }
  record.end(exit);
  if (values.json) return exit;
  for (const [key, members] of groups) {
    const [out, code] = key.startsWith("\u0001") ? [`UNREACHABLE: ${key.slice(1)}\n`, "unreachable"] : key.split("\u0000");
    const timedOut = code === "124" && timeout !== undefined ? ` (timed out after ${timeout} s)` : "";
    const title = `${foldNodeset(members)} (${members.length})${code !== "0" ? `  exit ${code}${timedOut}` : ""}`;
    const rule = "-".repeat(Math.min(78, title.length));
    process.stdout.write(`${rule}\n${title}\n${rule}\n${out}${out!.endsWith("\n") || out === "" ? "" : "\n"}`);
  }
  return exit;
}

/**
 * An ad-hoc command goes into the run history like a playbook run (Rundeck
 * records its commands too): one task per host with its output and exit
 * code, redacted like any run (the inventory's secrets and passwords, the
 * sudo password, the vault passwords).
 */
function recordAdhoc(inv: Inventory, hosts: string[], what: string, passwords: (string | Secret | undefined)[]) {
  const redactor = new Redactor();
  for (const p of passwords) if (p) redactor.add(p);
  for (const host of hosts) {
    const h = inv.hosts.get(host)!;
    redactor.collect([hostVars(inv, host).vars, h.conn.password, h.conn.becomePassword]);
  }
  const runId = newRunId();
  const bus = new EventBus(redactor, runId);
  const history = new HistoryWriter(runId);
  bus.subscribe(history.write);
  const play = "ad hoc";
  const started = Date.now();
  const recap: Record<string, HostCounts> = {};
  const counts = (host: string) => (recap[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, unknown: 0, time: 0 });
  bus.emit({ type: "run.start", playbook: what, adhoc: true, user: safeUser(), check: false, diff: false, pid: process.pid, pidStart: processStartTime(process.pid) });
  bus.emit({ type: "play.start", play, hosts, check: false });
  return {
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
