/**
 * `runbook play FILE`: apply a playbook. Everything that can be wrong with
 * the input (playbook, inventory, patterns, variables, role parameters,
 * prompts) is checked before the first host is touched.
 */
import { resolve, dirname } from "node:path";
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { openConnection, uncheckedHostKeys } from "../connection/index.ts";
import type { Connection } from "../connection/types.ts";
import { EventBus } from "../events.ts";
import { EXIT, ExitError, InputError } from "../errors.ts";
import { HistoryWriter, newRunId } from "../history.ts";
import { loadInventory, type Inventory } from "../inventory/index.ts";
import { consolePrinter, loadSpinner } from "../output/console.ts";
import { jsonPrinter } from "../output/json.ts";
import { stdoutWriter } from "../output/stdout.ts";
import { RunControl } from "../control.ts";
import { errorStack } from "../modules.ts";
import { processStartTime } from "../history.ts";
import { importModule } from "../modules.ts";
import { limitHosts, resolvePattern } from "../patterns.ts";
import type { Playbook, Prompt } from "../playbook.ts";
import { answerPrompts, inquirerAsk, type Ask } from "../prompts.ts";
import { interruptedExit, prepareParams, runPlays, type PreparedPlay, type RunOutcome } from "../scheduler.ts";
import { Redactor, Secret } from "../secret.ts";
import { PendingHandlers } from "../state.ts";
import { hostVars, inventoryGroups, parseExtraVars, withMagicVars } from "../vars.ts";
import type { Command } from "./main.ts";
import { checkSshConfigs, uncheckedWarning } from "./common.ts";
import { VAULT_OPTIONS, VAULT_USAGE, vaultKeys } from "./vault.ts";
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
${VAULT_USAGE}
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

  const pb = await loadPlaybook(file);
  const interactive = deps.interactive ?? !!process.stdin.isTTY;
  const vault = await vaultKeys(values, { interactive, ask: deps.ask });
  const inv = await loadInventory(values.inventory?.length ? values.inventory : ["inventory"], { vault });
  const extraVars = parseExtraVars(values["extra-vars"] ?? [], vault);

  // Hosts of each play, with --limit.
  const plays = pb.plays.map((p) => {
    const matched = resolvePattern(inv, p.hosts, { file: `play "${p.name}" hosts` });
    return { play: p, hosts: limitHosts(inv, matched, values.limit, { file: "--limit" }) };
  });
  if (values.limit && plays.every((p) => p.hosts.length === 0)) {
    throw new InputError(`--limit "${values.limit}" leaves no host in any play of ${positionals[0]}`);
  }
  if (values["syntax-check"] || values["list-hosts"]) {
    process.stdout.write(values["syntax-check"] ? syntaxCheck(positionals[0]!, plays) : listHosts(positionals[0]!, plays));
    return 0;
  }
  checkSshConfigs(inv, [...new Set(plays.flatMap((p) => p.hosts))], values["ssh-config"]);
  const settings = {
    tags: list(values.tags),
    skipTags: list(values["skip-tags"]),
    startAtTask: values["start-at-task"],
    baseDir: dirname(file),
  };
  if (values["list-tasks"]) {
    const placeholders = await placeholderAnswers(plays.filter((p) => p.hosts.length).flatMap((p) => p.play.prompts ?? []), extraVars);
    process.stdout.write(await listTasks(positionals[0]!, pb, preparePlays(inv, plays, { ...placeholders.values, ...extraVars }), settings, inventoryGroups(inv)));
    return 0;
  }

  // Prompts, once, before any host is touched.
  const redactor = new Redactor();
  const prompts: Prompt[] = plays.filter((p) => p.hosts.length).flatMap((p) => p.play.prompts ?? []);
  const answers = await answerPrompts(prompts, { extraVars, env: process.env, interactive, ask: deps.ask });
  for (const s of answers.secrets) redactor.add(s);
  for (const p of vault.passwords) redactor.add(p.password);
  let becomePassword = process.env.RUNBOOK_BECOME_PASSWORD;
  if (values["ask-become-pass"] && becomePassword === undefined) {
    if (!interactive) throw new InputError("-K needs a terminal to ask the sudo password on; set RUNBOOK_BECOME_PASSWORD instead");
    becomePassword = await (deps.ask ?? inquirerAsk)({ message: "BECOME (sudo) password", secret: true });
  }
  if (becomePassword) redactor.add(becomePassword);
  let sshPassword = process.env.RUNBOOK_SSH_PASSWORD;
  if (values["ask-pass"] && sshPassword === undefined) {
    if (!interactive) throw new InputError("-k needs a terminal to ask the SSH password on; set RUNBOOK_SSH_PASSWORD instead");
    sshPassword = await (deps.ask ?? inquirerAsk)({ message: "SSH password", secret: true });
  }
  if (sshPassword) redactor.add(sshPassword);
  // A secret prompt's value stays a Secret whichever way it came (-e, -e @file, the environment).
  const secretAnswers = Object.fromEntries(Object.entries(answers.values).filter(([, v]) => v instanceof Secret));
  const prepared = preparePlays(inv, plays, { ...answers.values, ...extraVars, ...secretAnswers });
  // Every Secret that entered (`!secret` in YAML, role parameters declared
  // t.secret(), a playbook's secret()) is known before the first event.
  redactor.collect(extraVars);
  for (const [host, h] of inv.hosts) redactor.collect([hostVars(inv, host).vars, h.conn.password, h.conn.becomePassword]);
  for (const p of prepared) for (const host of p.hosts) redactor.collect([p.vars.get(host), p.params.get(host)]);

  const runId = newRunId();
  const bus = new EventBus(redactor);
  const verbose = values.verbose?.length ?? 0;
  const tty = !!process.stdout.isTTY;
  // A reader that goes away (`| head`) must not change what happens on the
  // hosts: output stops, the run and its history go on.
  const write = stdoutWriter();
  bus.subscribe(values.json ? jsonPrinter(write) : consolePrinter({ verbose, diff: !!values.diff, tty, write, ora: await loadSpinner(tty && !values.json) }));
  const history = new HistoryWriter(runId);
  bus.subscribe(history.write);

  const connections = new Map<string, Promise<Connection>>();
  const connect = (host: string) => {
    let c = connections.get(host);
    if (!c) {
      const h = inv.hosts.get(host)!;
      c = openConnection(values.user ? { ...h, conn: { ...h.conn, user: values.user } } : h, {
        acceptNewHostKeys: !!values["accept-new-host-keys"],
        vars: hostVars(inv, host).vars,
        password: sshPassword ?? h.conn.password?.reveal(),
        sshConfig: values["ssh-config"],
        onRetry: (r) => bus.emit({ type: "message", level: "warn", host, text: `${r.host === host ? "" : `jump host ${r.host}: `}${r.reason}; trying again in ${r.waitMs / 1000} s (attempt ${r.attempt} of ${r.attempts})` }),
      });
      connections.set(host, c);
    }
    return c;
  };

  const started = Date.now();
  const unchecked = uncheckedHostKeys(
    [...new Set(plays.flatMap((p) => p.hosts))].map((h) => inv.hosts.get(h)!),
    { acceptNewHostKeys: !!values["accept-new-host-keys"], sshConfig: values["ssh-config"] },
  );
  bus.emit({
    type: "run.start",
    runId,
    playbook: positionals[0]!,
    user: safeUser(),
    limit: values.limit,
    check: !!values.check,
    diff: !!values.diff,
    time: new Date().toISOString(),
    pid: process.pid,
    pidStart: processStartTime(process.pid),
  });

  if (unchecked.length) bus.emit({ type: "message", level: "warn", text: uncheckedWarning(unchecked) });

  // Every run ends with a recap and an end record, however it ends: done,
  // stopped by a signal, aborted by a second one, or by a bug.
  let ended = false;
  const end = (o: RunOutcome & { error?: string }): number => {
    if (ended) return o.exitCode;
    ended = true;
    bus.emit({ type: "run.end", runId, recap: o.recap, exitCode: o.exitCode, ms: Date.now() - started, ...(o.interrupted ? { interrupted: o.interrupted } : {}), ...(o.error ? { error: o.error } : {}) });
    history.flush();
    return o.exitCode;
  };
  const control = new RunControl();
  const aborts = new Set<() => void>();
  const live: { outcome?: () => RunOutcome } = {};
  const soFar = (): RunOutcome => live.outcome?.() ?? { recap: {}, exitCode: EXIT.failed };
  const closeAll = () => Promise.all([...connections.values()].map((c) => c.then((conn) => conn.close()).catch(() => undefined)));
  const onSignal = (signal: NodeJS.Signals) => {
    if (control.requestStop(signal)) {
      const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
      bus.emit({
        type: "message",
        level: "warn",
        text: `${signal}: stopping — no new task starts; running commands get ${GRACE_MS / 1000} s to finish; pending handlers run first next time. ${again} aborts now.`,
      });
      setTimeout(() => void closeAll(), GRACE_MS).unref();
      return;
    }
    // The second signal: record what is pending, end the record, leave now.
    for (const fn of aborts) fn();
    const code = end({ ...soFar(), exitCode: interruptedExit(signal), interrupted: signal, error: `aborted by a second ${signal}` });
    process.exit(code);
  };
  // Every host waits on another and nothing else is left to happen (say, a
  // shared value whose maker waits at a barrier): end the run with what is known
  // instead of letting Node exit with code 13 and no record.
  const onStall = () => {
    if (ended) return;
    const code = end({ ...soFar(), exitCode: EXIT.failed, error: "the run cannot continue: every remaining host waits for another (a barrier, shared value or turn that can never be reached)" });
    process.exit(code);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("beforeExit", onStall);

  let outcome: RunOutcome;
  try {
    outcome = await runPlays(pb, prepared, {
      bus,
      settings: { ...settings, check: !!values.check, diff: !!values.diff, verbose, control },
      connect,
      varsOf: (host) => (inv.hosts.has(host) ? hostVars(inv, host).vars : undefined),
      groups: inventoryGroups(inv),
      forks,
      forceHandlers: !!values["force-handlers"],
      become: { password: becomePassword, passwordOf: (host) => inv.hosts.get(host)?.conn.becomePassword?.reveal() },
      pending: new PendingHandlers(),
      runId,
      onAbort: (fn) => {
        aborts.add(fn);
        return () => aborts.delete(fn);
      },
      live,
    });
  } catch (err) {
    // A bug in runbook: still a recap and an end record, then the usual report.
    end({ ...soFar(), exitCode: EXIT.internal, error: errorStack(err) });
    throw err;
  } finally {
    process.off("beforeExit", onStall);
    await closeAll();
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return end(outcome);
}

/** How long commands running at the first Ctrl-C may go on before their connections are closed. */
const GRACE_MS = Number(process.env.RUNBOOK_STOP_GRACE_MS ?? 10_000);

/** Imports a playbook module; its default export must be a `playbook(...)`. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  if (!existsSync(file)) throw new InputError(`playbook not found`, { file });
  let mod: { default?: unknown };
  try {
    mod = await importModule(file);
  } catch (err) {
    throw new InputError(`cannot load the playbook: ${(err as Error).message}`, { file });
  }
  const pb = mod.default as Playbook | undefined;
  if (!pb || pb.kind !== "playbook") {
    throw new InputError('the default export must be a playbook: `export default playbook("name", [play({...})])`', { file });
  }
  return pb;
}

/**
 * Vars and role parameters for every host of every play, checked now: a
 * wrong type or a missing field stops the run before anything is touched,
 * naming the host, role and field.
 */
function preparePlays(inv: Inventory, plays: { play: Playbook["plays"][number]; hosts: string[] }[], high: Record<string, unknown>): PreparedPlay[] {
  return plays.map(({ play, hosts }) => {
    const vars = new Map<string, Record<string, unknown>>();
    const params = new Map<string, unknown[]>();
    const become = new Map<string, { enabled: boolean; user?: string }>();
    for (const host of hosts) {
      const conn = inv.hosts.get(host)!.conn;
      become.set(host, { enabled: play.become ?? conn.become ?? false, user: play.becomeUser ?? conn.becomeUser });
      const low = { ...hostVars(inv, host).vars, ...(play.vars ?? {}) };
      vars.set(host, { ...low, ...high });
      params.set(host, prepareParams(play, host, { low, high }));
    }
    return { play, hosts, vars: withMagicVars(inv, vars), params, become };
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}
