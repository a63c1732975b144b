/**
 * Helpers for tests that run tasks and playbooks on lab hosts: a host
 * context wired to a real SSH connection (for task tests), the `runbook` CLI
 * as a child process (for end-to-end tests), and snapshots of a host's
 * overlay upper dir (to prove check mode wrote nothing).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SshConnection } from "../../runner/connection/ssh.ts";
import { PlayCoordinator } from "../../runner/coordinator.ts";
import { EventBus, type HostCounts, type RunEvent, type StampedEvent } from "../../runner/events.ts";
import { gatherFacts } from "../../runner/facts/index.ts";
import { Host } from "../../runner/host.ts";
// The task library installs h.copy, h.command... on the host context.
import "../../tasks/index.ts";
import { Redactor } from "../../runner/secret.ts";
import type { FileDiff, TaskResult } from "../../runner/task.ts";
import * as assert from "uvu/assert";
import { poll as labPoll } from "../lab/fixture.ts";
import type { Lab, LabHost } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";

export interface HostHarness {
  h: Host;
  conn: SshConnection;
  events: RunEvent[];
  close(): Promise<void>;
}

/** A host context on a lab host, as a role's `run(h)` gets it. */
export async function hostContext(
  lab: Lab,
  host: LabHost,
  opts: { check?: boolean; diff?: boolean; secrets?: string[]; baseDir?: string; become?: boolean } = {},
): Promise<HostHarness> {
  const conn = await SshConnection.open({
    host: host.name,
    address: host.address,
    user: "root",
    keyFiles: [lab.key],
    knownHostsFiles: [lab.knownHosts],
  });
  const redactor = new Redactor();
  for (const s of opts.secrets ?? []) redactor.add(s);
  const bus = new EventBus(redactor);
  const events: RunEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const facts = await gatherFacts((script) => conn.run(script));
  const h = new Host(host.name, facts, {}, "test", {
    conn,
    bus,
    settings: { check: !!opts.check, diff: !!opts.diff, tags: [], skipTags: [], verbose: 0, baseDir: opts.baseDir ?? process.cwd() },
    coord: new PlayCoordinator([host.name]),
    become: { enabled: !!opts.become },
    startAt: { found: true },
  });
  return { h, conn, events, close: () => conn.close() };
}

/**
 * Host contexts for a suite: one real and one check-mode context per host,
 * opened on first use and closed after the suite; `sh`/`out` run commands
 * over the real context's connection (the system ssh client costs ~200 ms a call).
 */
export function suiteContexts(suite: { after(fn: () => Promise<void>): void }, opts: { diff?: boolean } = {}) {
  const contexts = new Map<string, HostHarness>();
  suite.after(async () => {
    for (const c of contexts.values()) await c.close();
    contexts.clear();
  });
  const ctx = async (lab: Lab, host: LabHost, check: boolean): Promise<HostHarness> => {
    const key = `${host.name}/${check}`;
    let c = contexts.get(key);
    if (!c) {
      c = await hostContext(lab, host, { check, diff: opts.diff });
      contexts.set(key, c);
    }
    return c;
  };
  const sh = async (lab: Lab, host: LabHost, cmd: string, o: { allowFail?: boolean } = {}): Promise<{ code: number; stdout: string }> => {
    const r = await (await ctx(lab, host, false)).conn.run(cmd);
    if (r.code !== 0 && !o.allowFail) throw new Error(`${host.name}: ${cmd}: exit ${r.code}: ${r.stderr}`);
    return r;
  };
  const out = async (lab: Lab, host: LabHost, cmd: string) => (await sh(lab, host, cmd)).stdout;

  /** Check mode (predicts, writes nothing), run (changed), run (ok + why), check mode (ok). */
  const prove = async (lab: Lab, host: LabHost, run: (h: Host) => Promise<TaskResult>, e: ProveExpect): Promise<TaskResult> => {
    const chk = await ctx(lab, host, true);
    const real = await ctx(lab, host, false);
    const before = await upperSnapshot(host);
    const liveBefore = await e.live?.();
    const predicted = await run(chk.h);
    assert.is(await upperSnapshot(host), before, `${host.name}: check mode changed no file`);
    if (e.live) assert.is(await e.live(), liveBefore, `${host.name}: check mode changed no live state`);
    assert.is(predicted.status, "changed", `check mode predicts a change: ${predicted.reason}`);
    assert.ok(predicted.predicted);
    assert.match(predicted.reason, e.change);

    const first = await run(real.h);
    assert.is(first.status, "changed", `first run changes: ${first.reason}`);
    assert.not.ok(first.predicted);
    assert.match(first.reason, e.change);
    if (e.diff) {
      assert.ok(first.diffs?.length, "a diff where content changes");
      e.diff(first.diffs!);
      assert.equal(predicted.diffs, first.diffs, "check mode shows the same diff");
    }

    const second = await run(real.h);
    assert.is(second.status, "ok", `second run is a no-op: ${second.reason}`);
    assert.match(second.reason, e.noop);
    const again = await run(chk.h);
    assert.is(again.status, "ok", `check mode agrees after: ${again.reason}`);
    return first;
  };
  return { ctx, sh, out, prove };
}

/** What `prove` expects of a task. */
export interface ProveExpect {
  /** The predicted and real change's reason. */
  change: RegExp;
  /** The second run's no-op reason. */
  noop: RegExp;
  /** Live state a file snapshot cannot see (a mount, running processes): must not move in check mode. */
  live?: () => Promise<string>;
  /** Checks the first run's diffs (and that check mode predicted the same ones). */
  diff?: (d: FileDiff[]) => void;
}

/** A byte-for-byte fingerprint of a host's overlay upper dir (names, types, modes, owners, sizes, content). */
export async function upperSnapshot(host: LabHost): Promise<string> {
  const list = await run("sh", ["-c", `cd "$1" && find . -printf '%p\\t%y\\t%m\\t%U:%G\\t%s\\t%l\\n' | LC_ALL=C sort`, "sh", host.upper]);
  const hash = createHash("sha256");
  for (const line of list.stdout.split("\n")) {
    const [path, type] = line.split("\t");
    hash.update(line + "\n");
    if (type === "f") hash.update(readFileSync(join(host.upper, path!)));
  }
  return `${list.stdout.split("\n").length} entries, ${hash.digest("hex")}`;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `runbook` CLI with a private state dir (history, pending
 * handlers) unless one is given. A run that hangs is killed after
 * `timeoutMs` (default 15 minutes) and reported with what it printed.
 */
export function runbook(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; stateDir?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "runbook-state-"));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/runbook.js", ...args], {
      env: { ...process.env, RUNBOOK_STATE_DIR: stateDir, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.stdin.end(opts.input ?? "");
    const timer = setTimeout(() => {
      stderr += `\n(test harness: killed after ${opts.timeoutMs ?? 900_000} ms without exiting)\n`;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 900_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/**
 * Runs the CLI under a pseudo-terminal (util-linux `script`), answering
 * prompts as they appear. `bin` is how the command is started (default
 * `node bin/runbook.js`; `npx runbook`, or an installed `runbook`).
 */
export function underPty(args: string[], answers: [RegExp, string][], env: NodeJS.ProcessEnv, bin = "node bin/runbook.js"): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const cmd = `stty cols 120 rows 40; exec ${bin} ${args.map((a) => `'${a}'`).join(" ")}`;
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    const pending = [...answers];
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      const next = pending[0];
      if (next && next[0].test(out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, ""))) {
        pending.shift();
        setTimeout(() => child.stdin.write(next[1]), 50);
        // Later prompts must match text printed after this answer.
        out += "\n--answered--\n";
      }
    });
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

/** The events of a `--json` run (one JSON object per line). */
export function events(stdout: string): RunEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as RunEvent);
}

/** The same events with their stamps (run id, sequence number, time). */
export const stamped = (stdout: string): StampedEvent[] => events(stdout) as StampedEvent[];

export type TaskResultEvent = Extract<RunEvent, { type: "task.result" }>;

/** The task results of a `--json` run. */
export const results = (stdout: string): TaskResultEvent[] => events(stdout).filter((e): e is TaskResultEvent => e.type === "task.result");

/** The recap of a `--json` run; fails the test when the run did not finish. */
export function recap(stdout: string): Record<string, HostCounts> {
  const end = events(stdout).find((e) => e.type === "run.end");
  if (!end || end.type !== "run.end") throw new Error(`no run.end event in:\n${stdout.slice(-3000)}`);
  return end.recap;
}

/** A fresh private state dir. */
export function stateDir(): string {
  return mkdtempSync(join(tmpdir(), "runbook-state-"));
}

/**
 * Tries `fn` every second until it returns a truthy value, for up to
 * `seconds` (test/lab/fixture.ts's `poll`, with the description first).
 */
export function poll<T>(seconds: number, what: string, fn: () => Promise<T | false | undefined>): Promise<T> {
  return labPoll(seconds, fn, what, 1000);
}
