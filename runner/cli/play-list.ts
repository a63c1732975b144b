/**
 * `runbook play --list-hosts | --list-tasks | --syntax-check`: what a play
 * would touch and do, without touching a host.
 *
 * Tasks are not a static list in runbook: they are what a role's code calls,
 * and that code may branch on facts, on variables and on earlier results.
 * So `--list-tasks` runs the plays for real, in check mode, but over a
 * stand-in connection that reaches no host: every command "succeeds" with
 * empty output, every file reads as empty, and facts are the defaults of an
 * unknown host. The task names come from the same event stream as a real
 * run, with each host's real variables and role parameters.
 *
 * The limits, said in the output too: a branch on facts (OS family, init
 * system) takes the unknown-host path; a branch on a read-only command's
 * output takes the "empty output" path; a task whose plan cannot work on
 * empty state is listed with why and the role goes on as if it had been
 * ignored (role code that then trips over the failed result stops that
 * host's list, named). Prompts are not asked (their `-e`/env values are
 * used when given, else a placeholder); handlers are listed when a task
 * would notify them.
 */
import type { Host } from "../host.ts";
import type { RoleInstance } from "../role.ts";
import type { Shape } from "../schema.ts";
import { TaskFailedError } from "../task.ts";
import { EventBus, type RunEvent } from "../events.ts";
import type { Connection, RunResult } from "../connection/types.ts";
import { MARKER } from "../facts/index.ts";
import { foldNodeset } from "../nodeset.ts";
import type { Playbook, Prompt } from "../playbook.ts";
import { answerPrompts, type Ask } from "../prompts.ts";
import { runPlays, type PreparedPlay } from "../scheduler.ts";
import { Redactor } from "../secret.ts";
import { PendingHandlers } from "../state.ts";
import type { HostRunSettings } from "../host.ts";

type PlayHosts = { play: Playbook["plays"][number]; hosts: string[] }[];

const header = (i: number, p: PlayHosts[number]["play"]) => `  play #${i + 1} (${p.hosts}): ${p.name}${p.tags?.length ? `  TAGS: [${p.tags.join(", ")}]` : ""}`;

/** `--syntax-check`: the playbook loaded (compiled, default export checked) and every pattern matched. */
export function syntaxCheck(file: string, plays: PlayHosts): string {
  const roles = plays.reduce((n, p) => n + (p.play.roles?.length ?? 0), 0);
  return `playbook: ${file}: syntax OK (${plays.length} play${plays.length === 1 ? "" : "s"}, ${roles} role${roles === 1 ? "" : "s"}; types are checked by tsc --noEmit)\n`;
}

/** `--list-hosts`: each play's hosts, after `--limit`. */
export function listHosts(file: string, plays: PlayHosts): string {
  const out = [`playbook: ${file}`, ""];
  plays.forEach((p, i) => {
    out.push(header(i, p.play), `    hosts (${p.hosts.length}):`, ...p.hosts.map((h) => `      ${h}`), "");
  });
  return out.join("\n");
}

/** Prompt values for a listing: given ones (`-e`, env) as usual, a placeholder for the rest. Nothing is asked. */
export async function placeholderAnswers(prompts: Prompt[], extraVars: Record<string, unknown>) {
  return answerPrompts(prompts, { extraVars, env: process.env, interactive: true, ask: async (p) => p.default ?? placeholder(p) });
}

/** A stand-in answer of the prompt's type (a number within its bounds). */
function placeholder(p: Parameters<Ask>[0]): string {
  if (p.type === "boolean") return "false";
  if (p.type === "number") return String(p.min ?? Math.min(0, p.max ?? 0));
  return `(${p.message}: not asked by --list-tasks)`;
}

/** `--list-tasks`: runs the plays in check mode over stand-in connections and lists the tasks each host reached. */
export async function listTasks(
  file: string,
  pb: Playbook,
  prepared: PreparedPlay[],
  settings: Omit<HostRunSettings, "check" | "diff" | "verbose">,
  groups: Record<string, string[]>,
): Promise<string> {
  const bus = new EventBus(new Redactor());
  /** play -> host -> its task lines, in order. */
  const seen = new Map<string, Map<string, string[]>>();
  const lines = (play: string, host: string) => {
    const byHost = seen.get(play) ?? seen.set(play, new Map()).get(play)!;
    return byHost.get(host) ?? byHost.set(host, []).get(host)!;
  };
  bus.subscribe((e: RunEvent) => {
    if (e.type === "task.result") {
      // A check-mode "skipped" after predicted changes is a task that would run; a tag or `when` skip is not.
      if (e.status === "skipped" && !e.reason.startsWith("check mode:")) return;
      const note = e.status === "failed" ? `  (needs the host's real state: ${e.reason})` : "";
      lines(e.play, e.host).push(`${e.role ? `${e.role} › ` : ""}${e.task}${note}`);
    }
    if (e.type === "handler.notified") lines(e.play, e.host).push(`  notifies handler "${e.handler}"`);
    if (e.type === "host.failed") lines(e.play, e.host).push(`(listing stops here: ${e.message.split("\n")[0]})`);
  });
  const forgiving = prepared.map((p) => ({
    ...p,
    play: {
      ...p.play,
      roles: p.play.roles?.map((inst) => ({ ...inst, spec: { ...inst.spec, run: (h: Host, params: never) => (inst as RoleInstance<Shape>).spec.run(goOn(h), params) } })),
      tasks: p.play.tasks && ((h: Host) => p.play.tasks!(goOn(h))),
    },
  }));
  await runPlays(pb, forgiving as PreparedPlay[], {
    bus,
    settings: { ...settings, check: true, diff: false, verbose: 0 },
    connect: async (host) => new StandInConnection(host),
    varsOf: () => undefined,
    groups,
    forks: 50,
    forceHandlers: false,
    become: {},
    pending: new NoPendingHandlers(),
    runId: "list-tasks",
  });
  const out = [`playbook: ${file}`, "", "(tasks as role code calls them in check mode on a host with unknown facts and empty state; see runbook play --help)", ""];
  prepared.forEach((p, i) => {
    out.push(header(i, p.play));
    // Hosts that reached the same tasks share one block, like `runbook run`.
    const groups = new Map<string, string[]>();
    for (const host of p.hosts) {
      const key = (seen.get(p.play.name)?.get(host) ?? []).join("\n");
      groups.set(key, [...(groups.get(key) ?? []), host]);
    }
    for (const [key, hosts] of groups) {
      out.push(`    ${foldNodeset(hosts)} (${hosts.length}):`, ...(key ? key.split("\n").map((l) => `      ${l}`) : ["      (no tasks)"]));
    }
    out.push("");
  });
  return out.join("\n");
}

/** The host context with every failed task returning its result instead of throwing (as with `ignoreErrors`). */
function goOn(h: Host): Host {
  return new Proxy(h, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? r.catch((e) => (e instanceof TaskFailedError ? e.result : Promise.reject(e))) : r;
      };
    },
  });
}

/** A connection that reaches no host: commands succeed with no output, files read empty, facts are unknown. */
class StandInConnection implements Connection {
  constructor(readonly host: string) {}
  async run(command: string): Promise<RunResult> {
    // The facts script: an empty but well-formed answer gives every fact its default.
    if (command.includes(MARKER)) return { code: 0, stdout: `${MARKER} begin\n${MARKER} end\n`, stderr: "" };
    // A multi-part state probe (tasks/probe.ts): every part empty, exit 0.
    const parts = [...command.matchAll(/printf '\\n%s %s\\n' (--runbook-[0-9a-f]+--) \$\?/g)];
    return { code: 0, stdout: parts.map((m) => `\n${m[1]} 0\n`).join(""), stderr: "" };
  }
  async put(): Promise<void> {}
  async get(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async close(): Promise<void> {}
}

/** Pending handlers neither read nor written: a listing must not change the state dir. */
class NoPendingHandlers extends PendingHandlers {
  constructor() {
    super("/nonexistent/runbook-list-tasks");
  }
  override forHost(): Map<string, string> {
    return new Map();
  }
  override record(): void {}
  override clear(): void {}
}
