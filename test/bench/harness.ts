/**
 * The benchmark's machinery: the tools' command lines per mode, timed runs
 * with the runner's peak RSS, and the counts check that keeps a fast wrong
 * run from passing. `run.ts` drives it; the smoke test uses it directly.
 */
import type { HostCounts as RunnerHostCounts } from "../../runner/events.ts";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Lab } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";
import { FLOOR_CHECKS, floorFirstScript, floorScript, parseFloor, type ClusterHost } from "./floor.ts";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, "../..");

/** The tool configurations measured, plus the hand-written floor. */
export const MODES = ["runbook", "ansible", "ansible-pipelining", "ansible-mitogen", "floor"] as const;
export type Mode = (typeof MODES)[number];
export type ToolMode = Exclude<Mode, "floor">;
export type Phase = "first" | "converged";

export const MODE_LABEL: Record<Mode, string> = {
  runbook: "runbook",
  ansible: "Ansible (stock)",
  "ansible-pipelining": "Ansible + pipelining",
  "ansible-mitogen": "Ansible + Mitogen",
  floor: "floor (ssh + sh -s)",
};

export const isAnsible = (m: Mode): m is "ansible" | "ansible-pipelining" | "ansible-mitogen" => m.startsWith("ansible");

/** One host's line of a recap, in either tool's terms (runbook's counts without its timing). */
export type HostCounts = Omit<RunnerHostCounts, "time" | "unknown">;
export type Recap = Record<string, HostCounts>;

/**
 * What every host's recap must say, per tool and phase. The playbooks have
 * 23 tasks and one handler. runbook counts a changed task only as changed;
 * Ansible counts it as ok too, and counts fact gathering as a task.
 *   first run: every task changes something, and the handler runs;
 *   converged: nothing changes.
 */
export const EXPECTED: Record<"runbook" | "ansible", Record<Phase, Pick<HostCounts, "ok" | "changed">>> = {
  runbook: { first: { ok: 0, changed: 24 }, converged: { ok: 23, changed: 0 } },
  ansible: { first: { ok: 25, changed: 24 }, converged: { ok: 24, changed: 0 } },
};

export class CountsError extends Error {
  override name = "CountsError";
}

/**
 * Throws a CountsError unless every host in `hosts` (and no other) has
 * exactly the expected ok/changed counts and no failure, skip or
 * unreachable: a run that did less, more or something else cannot pass.
 */
export function checkCounts(tool: "runbook" | "ansible", phase: Phase, recap: Recap, hosts: string[]): void {
  const want = EXPECTED[tool][phase];
  const problems: string[] = [];
  const extra = Object.keys(recap).filter((h) => !hosts.includes(h));
  if (extra.length) problems.push(`unexpected hosts in the recap: ${extra.join(", ")}`);
  for (const h of hosts) {
    const c = recap[h];
    if (!c) {
      problems.push(`${h}: missing from the recap`);
      continue;
    }
    const got = `ok=${c.ok} changed=${c.changed} failed=${c.failed} skipped=${c.skipped} unreachable=${c.unreachable}`;
    if (c.ok !== want.ok || c.changed !== want.changed || c.failed || c.skipped || c.unreachable) {
      problems.push(`${h}: ${got}, want ok=${want.ok} changed=${want.changed} and nothing else`);
    }
  }
  if (problems.length) {
    const shown = problems.slice(0, 5).join("\n  ") + (problems.length > 5 ? `\n  ... and ${problems.length - 5} more` : "");
    throw new CountsError(`counts check failed: ${tool} ${phase} run on ${hosts.length} host(s):\n  ${shown}`);
  }
}

/** The `run.end` recap from runbook's `--json` output (its last JSON line). */
export function parseRunbookRecap(stdout: string): Recap {
  const lines = stdout.trim().split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as { type?: string; recap?: Recap };
    if (e.type === "run.end" && e.recap) return e.recap;
  }
  throw new CountsError("runbook printed no run.end event");
}

/** Each task's duration on each host (ms), by task, from runbook's `--json` task.result events. */
export function parseRunbookTaskTimes(stdout: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const line of stdout.split("\n")) {
    if (!line.startsWith('{"type":"task.result"')) continue;
    const e = JSON.parse(line) as { role?: string; task: string; ms: number };
    (out[e.role ? `${e.role} › ${e.task}` : e.task] ??= []).push(e.ms);
  }
  return out;
}

/** The PLAY RECAP of ansible-playbook's default output. */
export function parseAnsibleRecap(stdout: string): Recap {
  const at = stdout.lastIndexOf("PLAY RECAP");
  if (at < 0) throw new CountsError("ansible-playbook printed no PLAY RECAP");
  const recap: Recap = {};
  for (const m of stdout.slice(at).matchAll(/^(\S+)\s+:\s+(.*)$/gm)) {
    const f = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
    recap[m[1]!] = { ok: f.ok ?? 0, changed: f.changed ?? 0, failed: f.failed ?? 0, skipped: f.skipped ?? 0, unreachable: f.unreachable ?? 0 };
  }
  return recap;
}

/** One timed run. */
export interface Sample {
  wallMs: number;
  /** Peak RSS of the runner (KiB); null where it means nothing (the floor's many ssh clients). */
  rssKb: number | null;
  /** 1-minute load average just before the run. */
  load: number;
  /**
   * CPU (user + system) the controller spent, in ms: the tool's whole
   * process tree as wait4 reports it (every descendant that was waited
   * for: Ansible's forks and ssh clients, the floor's ssh clients).
   */
  cpuMs?: number;
  /** CPU the lab hosts spent during the run, in ms, summed over hosts (their cgroups' usage_usec: sshd, shells, commands). */
  hostCpuMs?: number;
}

export interface TimedResult extends Sample {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv under GNU time for the peak RSS (`%M`: the largest single
 * process of the tree, from wait4's rusage: for Ansible that is the
 * controller or one of its forks, never their sum) and measures wall time
 * here.
 */
export async function timed(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<TimedResult> {
  const tmp = mkdtempSync(join(os.tmpdir(), "runbook-bench-time-"));
  const rssFile = join(tmp, "rss");
  const load = os.loadavg()[0]!;
  const started = performance.now();
  const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", rssFile, ...argv], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
  const wallMs = performance.now() - started;
  let rssKb: number | null = null;
  let cpuMs: number | undefined;
  try {
    // On a non-zero exit GNU time writes "Command exited with non-zero status N" first.
    const last = readFileSync(rssFile, "utf8").trim().split("\n").filter((l) => /^\d+ [\d.]+ [\d.]+$/.test(l)).pop();
    if (last) {
      const [rss, user, sys] = last.split(" ").map(Number);
      rssKb = rss!;
      cpuMs = (user! + sys!) * 1000;
    }
  } catch {
    /* time could not write it */
  }
  rmSync(tmp, { recursive: true, force: true });
  return { ...res, wallMs, rssKb, load, cpuMs };
}

/** CPU (µs) the lab's hosts have used so far, summed: each host's cgroup2 subtree (every process of the host). */
export function hostCpuUs(b: BenchLab): number {
  let sum = 0;
  for (const h of b.lab.hosts) {
    const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(h.cgroup, "cpu.stat"), "utf8"));
    sum += Number(m?.[1] ?? 0);
  }
  return sum;
}

/** Runs `fn` and adds the hosts' CPU during it (ms, all hosts) to its sample. */
async function withHostCpu<T extends { sample: Sample }>(b: BenchLab, fn: () => Promise<T>): Promise<T> {
  const before = hostCpuUs(b);
  const r = await fn();
  r.sample.hostCpuMs = (hostCpuUs(b) - before) / 1000;
  return r;
}

/** Everything one lab needs for both tools: hosts var file, Ansible inventory. */
export interface BenchLab {
  lab: Lab;
  hosts: ClusterHost[];
  /** `{"cluster_hosts": [...]}`, given to both tools with `-e @file`. */
  varsFile: string;
  ansibleInventory: string;
  work: string;
}

/** Writes the per-lab files both tools read. */
export function prepareLab(lab: Lab, work: string): BenchLab {
  mkdirSync(work, { recursive: true });
  const hosts = lab.hosts.map((h) => ({ name: h.name, ip: h.address }));
  const varsFile = join(work, "hosts.json");
  writeFileSync(varsFile, JSON.stringify({ cluster_hosts: hosts }) + "\n");
  const ansibleInventory = join(work, "inventory.ini");
  writeFileSync(ansibleInventory, ["[lab]", ...hosts.map((h) => `${h.name} ansible_host=${h.ip}`), "[lab:vars]", "ansible_user=root", ""].join("\n"));
  return { lab, hosts, varsFile, ansibleInventory, work };
}

/**
 * Gives fresh hosts what Ansible's `apt` module needs besides python3:
 * `python3-apt` (untimed, before Ansible's first run). Without it stock
 * Ansible installs it itself during the run (its `respawn` path), and
 * Mitogen 0.3.3 fails there (`module '__main__' has no attribute
 * '_module_fqn'`): installing it beforehand keeps every Ansible mode on the
 * same footing and leaves that one-time cost out of Ansible's numbers.
 */
export async function prepareForAnsible(b: BenchLab): Promise<void> {
  const results = await Promise.all(
    b.hosts.map((h) =>
      run("ssh", ["-F", b.lab.sshConfig, "-o", "BatchMode=yes", h.name, "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-apt >/dev/null"], {
        allowFail: true,
      }),
    ),
  );
  const bad = results.map((r, i) => (r.code ? `${b.hosts[i]!.name}: ${r.stderr.trim().slice(-300)}` : "")).filter(Boolean);
  if (bad.length) throw new Error(`installing python3-apt for Ansible failed:\n  ${bad.slice(0, 3).join("\n  ")}`);
}

/**
 * ansible.cfg for a mode: Ansible's defaults except forks = hosts (so no
 * host waits for a fork), the lab's key and known_hosts, and the mode's one
 * setting. ssh_args repeats Ansible's default ControlMaster/ControlPersist.
 */
export function ansibleConfig(b: BenchLab, mode: "ansible" | "ansible-pipelining" | "ansible-mitogen", forks: number, controlDir: string): string {
  const file = join(b.work, `ansible-${mode}.cfg`);
  writeFileSync(
    file,
    [
      "[defaults]",
      `forks = ${forks}`,
      `private_key_file = ${b.lab.key}`,
      // The default (auto) discovery, without its warning.
      "interpreter_python = auto_silent",
      "retry_files_enabled = False",
      ...(mode === "ansible-mitogen" ? ["strategy = mitogen_linear"] : []),
      "",
      "[ssh_connection]",
      `ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${b.lab.knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
      `control_path_dir = ${controlDir}`,
      ...(mode === "ansible-pipelining" ? ["pipelining = True"] : []),
      "",
    ].join("\n"),
  );
  return file;
}

/**
 * Ends the SSH control masters Ansible left behind (ControlPersist=60s) so
 * the next run cannot reuse them: only ssh processes whose command line
 * names this run's private control dir, by pid.
 */
export function killControlMasters(controlDir: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    // The master renames itself `ssh: DIR/HASH [mux]`.
    if (cmd.startsWith("ssh") && cmd.includes(controlDir)) {
      try {
        process.kill(Number(pid), "SIGTERM");
        killed++;
      } catch {
        /* gone */
      }
    }
  }
  return killed;
}

export interface RunOutcome {
  sample: Sample;
  recap: Recap;
  /** A one-line summary of the checked counts, e.g. `ok=23 changed=0 on 20 hosts`. */
  counts: string;
  /** runbook only: each task's duration per host (ms). */
  taskMs?: Record<string, number[]>;
}

export class ToolError extends Error {
  override name = "ToolError";
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

/** Runs one tool mode once on the lab (optionally limited to `limit`) and checks its counts. */
export function runTool(
  b: BenchLab,
  mode: ToolMode,
  phase: Phase,
  /** stateDir: runbook's history and pending-handler state for this run (a fresh dir keeps runs independent). */
  opts: { hosts?: string[]; forks?: number; stateDir: string; cpuProfDir?: string },
): Promise<RunOutcome> {
  return withHostCpu(b, () => runToolOnce(b, mode, phase, opts));
}

async function runToolOnce(b: BenchLab, mode: ToolMode, phase: Phase, opts: { hosts?: string[]; forks?: number; stateDir: string; cpuProfDir?: string }): Promise<RunOutcome> {
  const hosts = opts.hosts ?? b.hosts.map((h) => h.name);
  const forks = opts.forks ?? hosts.length;
  const limit = hosts.length === b.hosts.length ? [] : ["-l", hosts.join(",")];
  let res: TimedResult;
  let recap: Recap;
  if (mode === "runbook") {
    const node = [process.execPath, ...(opts.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir] : [])];
    const argv = [...node, "bin/runbook.js", "play", join(BENCH_DIR, "bench.ts"), "-i", b.lab.inventory, "-e", `@${b.varsFile}`, "-f", String(forks), "--json", ...limit];
    res = await timed(argv, { env: { RUNBOOK_STATE_DIR: opts.stateDir } });
    try {
      recap = parseRunbookRecap(res.stdout);
    } catch (e) {
      throw new ToolError(`runbook ${phase} run printed no recap (exit ${res.code})`, tail(res.stdout + res.stderr));
    }
  } else {
    const controlDir = mkdtempSync(join(os.tmpdir(), "rbb-cp-"));
    const cfg = ansibleConfig(b, mode, forks, controlDir);
    const argv = ["ansible-playbook", "-i", b.ansibleInventory, "-e", `@${b.varsFile}`, ...limit, join(BENCH_DIR, "bench.yml")];
    try {
      res = await timed(argv, { env: { ANSIBLE_CONFIG: cfg, ANSIBLE_NOCOLOR: "1", ANSIBLE_FORCE_COLOR: "0", ANSIBLE_LOCAL_TEMP: join(controlDir, "tmp") } });
    } finally {
      killControlMasters(controlDir);
      rmSync(controlDir, { recursive: true, force: true });
    }
    try {
      recap = parseAnsibleRecap(res.stdout);
    } catch {
      throw new ToolError(`${mode} ${phase} run printed no recap (exit ${res.code})`, tail(res.stdout + res.stderr));
    }
  }
  const tool = mode === "runbook" ? "runbook" : "ansible";
  try {
    checkCounts(tool, phase, recap, hosts);
  } catch (e) {
    if (e instanceof CountsError) throw new ToolError(e.message, tail(res.stdout + res.stderr));
    throw e;
  }
  const want = EXPECTED[tool][phase];
  return {
    sample: { wallMs: res.wallMs, rssKb: res.rssKb, load: res.load, cpuMs: res.cpuMs },
    recap,
    counts: `ok=${want.ok} changed=${want.changed} on ${hosts.length} host(s)`,
    ...(mode === "runbook" ? { taskMs: parseRunbookTaskTimes(res.stdout) } : {}),
  };
}

function tail(text: string, lines = 40): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/**
 * The floor once: one `ssh HOST sh -s` per host, all at once, each running
 * the whole converged check. Throws unless every check passed on every host.
 */
export function runFloor(b: BenchLab, hosts: ClusterHost[] = b.hosts): Promise<RunOutcome> {
  return withHostCpu(b, async () => {
    const load = os.loadavg()[0]!;
    const started = performance.now();
    const results = await sshScripts(b, hosts, floorScript);
    const wallMs = performance.now() - started;
    verifyFloorResults(hosts, results);
    return { sample: { wallMs, rssKb: null, load, cpuMs: sum(results.map((r) => r.cpuMs)) }, recap: {}, counts: `${FLOOR_CHECKS} checks ok on ${hosts.length} host(s)` };
  });
}

const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);

/**
 * The first run's floor on fresh hosts: one `ssh HOST sh -s` per host, all
 * at once, each making every change of the playbook (floorFirstScript);
 * then the same state check as the tools' first runs.
 */
export async function runFloorFirst(b: BenchLab): Promise<RunOutcome> {
  const load = os.loadavg()[0]!;
  const hostCpu = hostCpuUs(b);
  const started = performance.now();
  const results = await sshScripts(b, b.hosts, floorFirstScript);
  const wallMs = performance.now() - started;
  const hostCpuMs = (hostCpuUs(b) - hostCpu) / 1000;
  const failed = results.findIndex((r) => r.code !== 0 || r.stdout.trim() !== "done");
  if (failed >= 0) throw new ToolError(`the first-run floor script failed on ${b.hosts[failed]!.name} (exit ${results[failed]!.code})`, results[failed]!.stdout + results[failed]!.stderr);
  await verifyState(b, "the floor");
  return { sample: { wallMs, rssKb: null, load, cpuMs: sum(results.map((r) => r.cpuMs)), hostCpuMs }, recap: {}, counts: `every change made on ${b.hosts.length} host(s); state verified` };
}

/** One `ssh HOST sh -s` per host, all at once, each with its own script; with each ssh client's CPU (ms, from GNU time). */
function sshScripts(b: BenchLab, hosts: ClusterHost[], script: (h: ClusterHost, all: ClusterHost[]) => string) {
  const tmp = mkdtempSync(join(os.tmpdir(), "runbook-bench-ssh-"));
  return Promise.all(
    hosts.map(async (h) => {
      const file = join(tmp, h.name);
      const r = await run("/usr/bin/time", ["-f", "%U %S", "-o", file, "ssh", "-F", b.lab.sshConfig, "-o", "BatchMode=yes", h.name, "sh -s"], { input: script(h, b.hosts), allowFail: true });
      const [user, sys] = (readFileSync(file, "utf8").trim().split("\n").pop() ?? "").split(" ").map(Number);
      return { ...r, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000 };
    }),
  ).finally(() => rmSync(tmp, { recursive: true, force: true }));
}

/**
 * The state check after a tool's first run: the floor script must pass on
 * every host (the tool did what the playbook says, not just "something").
 */
export async function verifyState(b: BenchLab, who: string): Promise<void> {
  const results = await sshScripts(b, b.hosts, floorScript);
  try {
    verifyFloorResults(b.hosts, results);
  } catch (e) {
    throw new CountsError(`state check after ${who}'s first run: ${(e as Error).message}`);
  }
}

function verifyFloorResults(hosts: ClusterHost[], results: { code: number; stdout: string; stderr: string }[]): void {
  const problems: string[] = [];
  results.forEach((r, i) => {
    const { ok, failures } = parseFloor(r.stdout);
    if (r.code !== 0 || ok !== FLOOR_CHECKS) {
      problems.push(`${hosts[i]!.name}: ${ok}/${FLOOR_CHECKS} checks ok (ssh exit ${r.code}) ${[...failures, r.stderr.trim()].filter(Boolean).slice(0, 3).join("; ")}`);
    }
  });
  if (problems.length) throw new CountsError(`floor checks failed:\n  ${problems.slice(0, 5).join("\n  ")}`);
}

/** Median, min and max of numbers. */
export function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** The PID the next process on a lab host would get (each host is its own PID namespace, so PIDs count processes started). */
export async function hostPid(b: BenchLab, host = b.hosts[0]!.name): Promise<number> {
  const r = await run("ssh", ["-F", b.lab.sshConfig, "-o", "BatchMode=yes", host, "echo $$"]);
  return Number(r.stdout.trim());
}

/**
 * Processes `fn` starts on the first host: the PID counter before and
 * after, less what one probe itself costs (measured just before).
 */
export async function processesStarted(b: BenchLab, fn: () => Promise<unknown>): Promise<number> {
  const p0 = await hostPid(b);
  const p1 = await hostPid(b);
  await fn();
  const p2 = await hostPid(b);
  return p2 - p1 - (p1 - p0);
}

/**
 * What one command costs on an open connection: `n` sequential `true`s
 * through runbook's SshConnection (each a new SSH exec channel: sshd forks
 * a session and starts a shell). Returns ms per command.
 */
/**
 * One command on an open connection (ms, mean of n sequential `true`s): in
 * the long-lived remote shell (how commands without stdin run), and on an
 * exec channel of its own (commands with stdin: an empty one forces it).
 */
export async function execRoundTripMs(b: BenchLab, n = 24): Promise<{ shellMs: number; channelMs: number }> {
  const { SshConnection } = await import("../../runner/connection/ssh.ts");
  const h = b.lab.hosts[0]!;
  const conn = await SshConnection.open({ host: h.name, address: h.address, user: "root", keyFiles: [b.lab.key], knownHostsFiles: [b.lab.knownHosts] });
  try {
    const mean = async (opts: { stdin?: string }) => {
      await conn.run("true", opts);
      const started = performance.now();
      for (let i = 0; i < n; i++) await conn.run("true", opts);
      return (performance.now() - started) / n;
    };
    return { shellMs: await mean({}), channelMs: await mean({ stdin: "" }) };
  } finally {
    await conn.close();
  }
}

/**
 * What `apt-get install PKG` costs on a fresh host, alone: wall and CPU
 * (user + sys) seconds, from bash's `time` on the host. The first run's
 * package task cannot take less than hosts × this CPU ÷ cores.
 */
export async function aptInstallCost(b: BenchLab, pkg = "tree"): Promise<{ wallMs: number; cpuMs: number }> {
  const script = `TIMEFORMAT='%R %U %S'; time apt-get install -y -qq --no-install-recommends ${pkg} >/dev/null 2>&1`;
  const r = await run("ssh", ["-F", b.lab.sshConfig, "-o", "BatchMode=yes", b.hosts[0]!.name, `bash -c ${JSON.stringify(script)} 2>&1`]);
  const [real, user, sys] = r.stdout.trim().split("\n").pop()!.split(" ").map(Number);
  if (![real, user, sys].every((x) => Number.isFinite(x))) throw new Error(`could not time apt-get install on ${b.hosts[0]!.name}: ${r.stdout}`);
  return { wallMs: real! * 1000, cpuMs: (user! + sys!) * 1000 };
}
