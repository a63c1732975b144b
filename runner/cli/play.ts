/**
 * `runbook play FILE`: apply a playbook. Everything that can be wrong with
 * the input (playbook, inventory, patterns, variables, role parameters,
 * prompts) is checked before the first host is touched.
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXIT, ExitError, InputError } from "../errors.ts";
import { consolePrinter, loadSpinner } from "../output/console.ts";
import { jsonPrinter } from "../output/json.ts";
import { stdoutWriter } from "../output/stdout.ts";
import { inquirerAsk, type Ask } from "../prompts.ts";
import { loadRun, preparePlays, startRun } from "../run.ts";
import { inventoryGroups, parseExtraVars } from "../vars.ts";
import type { Command } from "./main.ts";
import { checkSshConfigs } from "./common.ts";
import { VAULT_OPTIONS, vaultUsage, vaultKeys } from "./vault.ts";
import { listHosts, listTasks, placeholderAnswers, syntaxCheck } from "./play-list.ts";

const USAGE = `runbook play FILE [options]

  -i, --inventory PATH     inventory file or directory (repeatable; default: inventory/)
  -F, --ssh-config FILE    OpenSSH client config to read instead of ~/.ssh/config (as ssh -F)
  -u, --user USER          log in as USER (over the inventory and the ssh config)
  -l, --limit PATTERN      only these hosts (names, groups, tnode*, tnode[1-3], a,b  a:&b  a:!b, @file)
  -C, --check              predict changes, change nothing (not even a temp file)
  -D, --diff               show unified diffs of files written or to be written
  -t, --tags LIST          only tasks with these tags
      --skip-tags LIST     skip tasks with these tags
  -e, --extra-vars VARS    key=value ..., JSON, or @file (repeatable; highest precedence)
  -f, --forks N            hosts at once (default 50)
  -K, --ask-become-pass    ask for the sudo password (or set RUNBOOK_BECOME_PASSWORD)
  -k, --ask-pass           ask for the SSH login password (or set RUNBOOK_SSH_PASSWORD)
      --force-handlers     run notified handlers even on hosts that failed
      --start-at-task NAME skip tasks until one whose name contains NAME
      --accept-new-host-keys  trust and record unknown SSH host keys
${vaultUsage(27)}
      --json               one JSON event per line instead of text
  -v, --verbose            also ok/skipped tasks with reasons (-vv: commands)
      --syntax-check       load the playbook and match its patterns; run nothing
      --list-hosts         each play's hosts (after --limit); run nothing
      --list-tasks         each play's tasks per host, found by running the roles in check
                           mode over a stand-in connection: no host is touched, facts are
                           unknown, commands return nothing (a branch on them takes that path)`;

export interface PlayCliDeps {
  /** Asks prompt questions (tests answer through a pseudo-terminal instead). */
  ask?: Ask;
  interactive?: boolean;
}

export const command: Command = {
  summary: "apply a playbook",
  usage: USAGE,
  run: (args) => play(args),
};

export async function play(args: string[], deps: PlayCliDeps = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      inventory: { type: "string", short: "i", multiple: true },
      "ssh-config": { type: "string", short: "F" },
      user: { type: "string", short: "u" },
      "syntax-check": { type: "boolean" },
      "list-hosts": { type: "boolean" },
      "list-tasks": { type: "boolean" },
      limit: { type: "string", short: "l" },
      check: { type: "boolean", short: "C" },
      diff: { type: "boolean", short: "D" },
      tags: { type: "string", short: "t", multiple: true },
      "skip-tags": { type: "string", multiple: true },
      "extra-vars": { type: "string", short: "e", multiple: true },
      forks: { type: "string", short: "f" },
      "ask-become-pass": { type: "boolean", short: "K" },
      "ask-pass": { type: "boolean", short: "k" },
      "force-handlers": { type: "boolean" },
      "start-at-task": { type: "string" },
      "accept-new-host-keys": { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean", short: "v", multiple: true },
      ...VAULT_OPTIONS,
    },
  });
  if (positionals.length !== 1) throw new ExitError(EXIT.input, `play needs exactly one playbook file\nusage: ${USAGE}`);
  const file = resolve(positionals[0]!);
  const forks = values.forks === undefined ? 50 : Number(values.forks);
  if (!Number.isInteger(forks) || forks < 1) throw new InputError(`--forks must be a positive integer, got ${values.forks}`);
  const list = (v: string[] | undefined) => (v ?? []).flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean);

  const vault = await vaultKeys(values, { interactive: deps.interactive ?? !!process.stdin.isTTY, ask: deps.ask });
  const target = { playbook: positionals[0]!, inventory: values.inventory, limit: values.limit, vault };
  const loaded = await loadRun(target);
  const extraVars = parseExtraVars(values["extra-vars"] ?? [], vault);
  const interactive = deps.interactive ?? !!process.stdin.isTTY;
  const { pb, inv, plays } = loaded;
  if (values["syntax-check"] || values["list-hosts"]) {
    process.stdout.write(values["syntax-check"] ? syntaxCheck(positionals[0]!, plays) : listHosts(positionals[0]!, plays));
    return 0;
  }
  checkSshConfigs(inv, [...new Set(plays.flatMap((p) => p.hosts))], values["ssh-config"]);
  const settings = { tags: list(values.tags), skipTags: list(values["skip-tags"]), startAtTask: values["start-at-task"] };
  if (values["list-tasks"]) {
    const placeholders = await placeholderAnswers(plays.filter((p) => p.hosts.length).flatMap((p) => p.play.prompts ?? []), extraVars);
    const prepared = preparePlays(inv, plays, { ...extraVars, ...placeholders.values });
    process.stdout.write(await listTasks(positionals[0]!, pb, prepared, { ...settings, baseDir: dirname(file) }, inventoryGroups(inv)));
    return 0;
  }

  const ask = interactive ? (deps.ask ?? inquirerAsk) : undefined;
  const password = async (flag: boolean | undefined, env: string, option: string, message: string) => {
    const given = process.env[env];
    if (!flag || given !== undefined) return given;
    if (!ask) throw new InputError(`${option} needs a terminal to ask the ${message} on; set ${env} instead`);
    return ask({ message, secret: true });
  };
  const verbose = values.verbose?.length ?? 0;
  const tty = !!process.stdout.isTTY;
  // A reader that goes away (`| head`) must not change what happens on the
  // hosts: output stops, the run and its history go on.
  const write = stdoutWriter();
  const printer = values.json ? jsonPrinter(write) : consolePrinter({ verbose, diff: !!values.diff, tty, write, ora: await loadSpinner(tty && !values.json) });
  const run = await startRun(
    {
      ...target,
      ...settings,
      check: !!values.check,
      diff: !!values.diff,
      extraVars,
      ask,
      env: process.env,
      forks,
      forceHandlers: !!values["force-handlers"],
      user: values.user,
      sshConfig: values["ssh-config"],
      acceptNewHostKeys: !!values["accept-new-host-keys"],
      becomePassword: await password(values["ask-become-pass"], "RUNBOOK_BECOME_PASSWORD", "-K", "BECOME (sudo) password"),
      sshPassword: await password(values["ask-pass"], "RUNBOOK_SSH_PASSWORD", "-k", "SSH password"),
      verbose,
      sinks: [printer],
    },
    loaded,
  );

  const onSignal = (signal: NodeJS.Signals) => {
    if (run.stop(signal)) {
      const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
      run.note("warn", `${signal}: stopping — no new task starts; running commands get ${GRACE_MS / 1000} s to finish; pending handlers run first next time. ${again} aborts now.`);
      return;
    }
    // The second signal: record what is pending, end the record, leave now.
    process.exit(run.abort(signal));
  };
  // Every host waits on another and nothing else is left to happen (say, a
  // shared value whose maker waits at a barrier): end the run with what is known
  // instead of letting Node exit with code 13 and no record.
  const onStall = () => {
    const code = run.stalled();
    if (code !== undefined) process.exit(code);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("beforeExit", onStall);
  const outcome = await run.outcome;
  process.off("beforeExit", onStall);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  // A bug in runbook: the run has its recap and end record; report it as one.
  if (outcome.exitCode === EXIT.internal && outcome.error) throw new Error(outcome.error);
  return outcome.exitCode;
}

/** How long commands running at the first Ctrl-C may go on before their connections are closed. */
const GRACE_MS = Number(process.env.RUNBOOK_STOP_GRACE_MS ?? 10_000);
