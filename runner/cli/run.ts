/**
 * `runbook run PATTERN -- CMD`: an ad-hoc command on many hosts, like clush or
 * a Rundeck command. Output is grouped by identical result (`clush -b`):
 * hosts that printed the same thing and exited the same way share a block.
 */
import { parseArgs } from "node:util";
import { EXIT, ExitError, InputError } from "../errors.ts";
import { foldNodeset } from "../nodeset.ts";
import { inquirerAsk } from "../prompts.ts";
import { groupOutputs, startAdhoc, stoppedLines } from "../adhoc.ts";
import type { Command } from "./main.ts";
import { vaultUsage } from "./vault.ts";
import { connectOptions, HOST_OPTIONS, hostsFor } from "./common.ts";

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
${vaultUsage(30)}
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
  const run = startAdhoc({ inv, hosts, pattern, cmd, become, timeoutMs, connect: connectOptions(values), secrets: vault.passwords.map((p) => p.password), graceMs: GRACE_MS });
  // Ctrl-C as in `runbook play`: hosts not yet started do not start, running
  // commands get the grace period; a second Ctrl-C ends the record and leaves.
  const onSignal = (signal: NodeJS.Signals) => {
    if (run.stop(signal)) {
      const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
      const text = `${signal}: stopping — no further host starts; running commands get ${GRACE_MS / 1000} s to finish. ${again} aborts now.`;
      run.note("warn", text);
      process.stderr.write(`${text}\n`);
      return;
    }
    process.exit(run.abort(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const { results, exitCode, interrupted, notStarted, cutOff } = await run.outcome;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (values.json) {
    for (const host of hosts) {
      const r = results.get(host);
      if (!r) process.stdout.write(JSON.stringify({ host, interrupted }) + "\n");
      else process.stdout.write(JSON.stringify(r.ok ? { host, rc: r.value.code, stdout: r.value.stdout, stderr: r.value.stderr } : { host, unreachable: r.error }) + "\n");
    }
    return exitCode;
  }
  for (const g of groupOutputs(hosts, (h) => results.get(h))) {
    const out = g.code === "unreachable" ? `UNREACHABLE: ${g.out}\n` : g.out;
    const timedOut = g.code === "124" && timeout !== undefined ? ` (timed out after ${timeout} s)` : "";
    const title = `${foldNodeset(g.hosts)} (${g.hosts.length})${g.code !== "0" ? `  exit ${g.code}${timedOut}` : ""}`;
    const rule = "-".repeat(Math.min(78, title.length));
    process.stdout.write(`${rule}\n${title}\n${rule}\n${out}${out.endsWith("\n") || out === "" ? "" : "\n"}`);
  }
  for (const line of stoppedLines(interrupted, notStarted, cutOff)) process.stderr.write(`${line}\n`);
  return exitCode;
}

/** How long commands running at the first Ctrl-C may go on before their connections are closed. */
const GRACE_MS = Number(process.env.RUNBOOK_STOP_GRACE_MS ?? 10_000);
