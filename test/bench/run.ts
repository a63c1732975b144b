/**
 * `npm run bench`: runbook against Ansible on the same lab hosts, side by
 * side, and the hand-written floor; then runbook alone at scale. Writes
 * docs/BENCHMARKS.md (or `--out`). Not part of `npm test`: a benchmark, not
 * a timed test (test/e2e/bench-smoke.test.ts runs a 2-host smoke of it).
 *
 *   npm run bench [-- --hosts 3,20 --runs 5 --scale 50,100,200]
 *
 * Every run's counts are checked and every first run's result is verified
 * on the hosts; any mismatch stops the benchmark with exit code 1.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { down, labUnavailable, up } from "../lab/lab.ts";
import { run } from "../lab/sh.ts";
import {
  BENCH_DIR,
  CountsError,
  MODES,
  MODE_LABEL,
  ROOT,
  ToolError,
  aptInstallCost,
  execRoundTripMs,
  isAnsible,
  prepareForAnsible,
  processesStarted,
  prepareLab,
  runFloor,
  runFloorFirst,
  runTool,
  stats,
  timed,
  verifyState,
  type BenchLab,
  type Mode,
  type Sample,
  type ToolMode,
} from "./harness.ts";
import { summariseProfile } from "./profile.ts";
import { startupBreakdown } from "./startup.ts";
import { benchServe, renderServe, serveTargets } from "./serve.ts";
import { evaluateTargets, renderMarkdown, type Results } from "./report.ts";

const USAGE = `npm run bench [-- options]

  --hosts LIST        host counts for the side-by-side modes (default 3,20)
  --runs N            converged runs per mode and host count; medians over them (default 5)
  --first-runs N      first runs per mode and host count, each on fresh hosts (default: --runs)
  --modes LIST        any of ${MODES.join(",")} (default: all)
  --scale LIST|none   runbook alone, converged, on these host counts (default 50,100,200)
  --lab-id N          lab instance to use (default 13; 0-12 belong to the demo and the tests)
  --out FILE          the report (default docs/BENCHMARKS.md)
  --results FILE      also write the raw results as JSON here
  --render FILE       measure nothing: write the report from raw results saved with --results
  --no-install        never apt-get install Ansible; Ansible modes are skipped when it is missing
  --no-startup        skip the start-up measurements
  --no-profile        skip the node --cpu-prof run of runbook
  --only serve        measure only \`runbook serve\` (10,000 runs of history, page times,
                      RSS, line latency); prints its section of docs/BENCHMARKS.md
                      instead of writing the file
  --serve-runs N      runs of synthetic history for the serve part (default 10000)
  --sabotage          (for the smoke test) alter a host before runbook's converged runs:
                      the counts check must then fail the benchmark`;

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const fmt = (s: Sample) =>
  `${(s.wallMs / 1000).toFixed(2)} s${s.rssKb === null ? "" : `, ${(s.rssKb / 1024).toFixed(0)} MB`}` +
  `${s.cpuMs === undefined ? "" : `, controller CPU ${(s.cpuMs / 1000).toFixed(2)} s`}${s.hostCpuMs === undefined ? "" : `, hosts' CPU ${(s.hostCpuMs / 1000).toFixed(2)} s`} (load ${s.load.toFixed(2)})`;
const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);
const posInt = (v: string, what: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  return n;
};

async function sh(cmd: string): Promise<{ code: number; out: string }> {
  const r = await run("sh", ["-c", cmd], { allowFail: true });
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

const dpkgVersion = async (pkg: string) => {
  const r = await sh(`dpkg-query -W -f='\${Status} \${Version}' ${pkg} 2>/dev/null`);
  const m = r.out.match(/^install ok installed (\S+)/);
  return m ? m[1]! : null;
};

const aptCandidate = async (pkg: string) => {
  const r = await sh(`apt-cache policy ${pkg} 2>/dev/null`);
  const c = r.out.match(/Candidate:\s*(\S+)/)?.[1];
  return c && c !== "(none)" ? c : null;
};

/**
 * Ansible (the `ansible` package: ansible-core plus the collections with
 * ansible.posix.authorized_key and sysctl) and Mitogen's Ansible strategy
 * (`ansible-mitogen`; `python3-mitogen` alone is the library without the
 * strategy plugins), installed with apt when missing. Returns why a part is
 * unavailable, or null.
 */
async function ensureAnsible(install: boolean): Promise<{ ansible: string | null; mitogen: string | null }> {
  const want = ["ansible", "ansible-mitogen"];
  const missing: string[] = [];
  for (const p of want) if (!(await dpkgVersion(p))) missing.push(p);
  if (missing.length && install) {
    if (!(await aptCandidate("ansible"))) await sh("apt-get update -qq");
    const installable = [];
    for (const p of missing) if (await aptCandidate(p)) installable.push(p);
    if (installable.length) {
      log(`installing ${installable.join(" ")} with apt`);
      const r = await sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${installable.join(" ")}`);
      if (r.code !== 0) log(`apt-get install failed: ${r.out.slice(-500)}`);
    }
  }
  const ansible = (await dpkgVersion("ansible"))
    ? null
    : install
      ? "the Debian package `ansible` could not be installed"
      : "Ansible is not installed (and --no-install was given)";
  let mitogen: string | null = null;
  if (!(await dpkgVersion("ansible-mitogen"))) {
    mitogen = (await aptCandidate("ansible-mitogen"))
      ? install
        ? "the Debian package `ansible-mitogen` could not be installed"
        : "Mitogen is not installed (and --no-install was given)"
      : "no `ansible-mitogen` package in this machine's apt sources (`python3-mitogen` alone has no Ansible strategy plugins)";
  }
  return { ansible, mitogen };
}

async function versions(): Promise<Record<string, string>> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const v: Record<string, string> = { node: process.version, runbook: pkg.version };
  const core = (await sh("ansible --version 2>/dev/null | head -1")).out;
  const ansible = await dpkgVersion("ansible");
  if (core) v.Ansible = `${core.replace(/^ansible /, "ansible-core ").replace(/[[\]]/g, "").replace("core core", "core")} (Debian package \`ansible\` ${ansible ?? "?"})`;
  const mitogen = await dpkgVersion("ansible-mitogen");
  if (mitogen) v.Mitogen = `${mitogen} (Debian packages \`ansible-mitogen\`, \`python3-mitogen\`)`;
  v["OpenSSH client (floor, Ansible)"] = (await sh("ssh -V 2>&1")).out;
  v["lab hosts"] = "Debian 12 bookworm minbase, OpenSSH server 9.2, python3 3.11 (Ansible's interpreter)";
  return v;
}

function machine(): Results["machine"] {
  const osRelease = (() => {
    try {
      return readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? "Linux";
    } catch {
      return "Linux";
    }
  })();
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? "unknown", cores: cpus.length, memGiB: os.totalmem() / 2 ** 30, kernel: os.release(), os: osRelease };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      hosts: { type: "string", default: "3,20" },
      runs: { type: "string", default: "5" },
      "first-runs": { type: "string" },
      modes: { type: "string", default: MODES.join(",") },
      scale: { type: "string", default: "50,100,200" },
      "lab-id": { type: "string", default: "13" },
      out: { type: "string", default: "docs/BENCHMARKS.md" },
      results: { type: "string" },
      render: { type: "string" },
      "no-install": { type: "boolean" },
      "no-startup": { type: "boolean" },
      "no-profile": { type: "boolean" },
      sabotage: { type: "boolean" },
      only: { type: "string" },
      "serve-runs": { type: "string", default: "10000" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.render) {
    const saved = JSON.parse(readFileSync(resolve(values.render), "utf8")) as Results;
    const measured = MODES.filter((m) => saved.rows.some((x) => x.mode === m) || saved.skipped.some((x) => x.mode === m));
    saved.notes = notes(saved, measured);
    // The profile is summarised again when its file is still there (the summary's rules may have changed).
    if (saved.profile && existsSync(saved.profile.file)) saved.profile.summary = summariseProfile(saved.profile.file);
    const file = resolve(ROOT, values.out);
    writeFileSync(file, renderMarkdown(saved));
    log(`wrote ${file} from ${values.render}`);
    return 0;
  }
  if (values.only !== undefined && values.only !== "serve") throw new Error(`--only takes serve, got ${values.only}`);
  const hostCounts = list(values.hosts).map((x) => posInt(x, "--hosts"));
  const runs = posInt(values.runs, "--runs");
  const firstRuns = values["first-runs"] === undefined ? runs : posInt(values["first-runs"], "--first-runs");
  const scale = values.scale === "none" ? [] : list(values.scale).map((x) => posInt(x, "--scale"));
  const labId = Number(values["lab-id"]);
  if (!Number.isInteger(labId) || labId < 0 || labId > 15) throw new Error(`--lab-id must be 0-15, got ${values["lab-id"]}`);
  const asked = list(values.modes);
  for (const m of asked) if (!(MODES as readonly string[]).includes(m)) throw new Error(`unknown mode ${m} (known: ${MODES.join(", ")})`);
  let modes = MODES.filter((m) => asked.includes(m));
  const out = resolve(ROOT, values.out);

  const why = await labUnavailable();
  if (why) throw new Error(`the benchmark needs the lab: ${why}`);
  const serveRuns = posInt(values["serve-runs"], "--serve-runs");
  const serveSection = async (work: string) => {
    const lab = await up({ id: labId, hosts: 1, prefix: "bnode", replace: true, log });
    const r = await benchServe({ lab, work, runs: serveRuns, requests: Math.max(100, runs * 20), log });
    for (const t of serveTargets(r)) log(`target ${t.met ? "MET" : "MISSED"}: ${t.target}: ${t.measured}`);
    return r;
  };
  if (values.only === "serve") {
    const work = mkdtempSync(join(os.tmpdir(), "runbook-bench-"));
    try {
      const r = await serveSection(work);
      const raw = values.results ? resolve(values.results) : join(work, "serve-results.json");
      writeFileSync(raw, JSON.stringify(r, null, 2) + "\n");
      log(`raw results: ${raw}; the section for docs/BENCHMARKS.md:`);
      process.stdout.write(renderServe(r, describeMachine(machine())));
    } finally {
      await down(labId);
    }
    return 0;
  }
  if (!existsSync("/usr/bin/time")) {
    // GNU time measures the runners' peak RSS.
    if (values["no-install"]) throw new Error("the benchmark needs GNU time (/usr/bin/time): apt-get install time");
    log("installing GNU time with apt");
    await sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time");
    if (!existsSync("/usr/bin/time")) throw new Error("could not install GNU time (/usr/bin/time)");
  }

  const results: Results = {
    date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
    command: `npm run bench -- ${argv.join(" ")}`.trim(),
    runs,
    firstRuns,
    machine: machine(),
    versions: {},
    loads: [],
    rows: [],
    skipped: [],
    scale: [],
    processes: {},
    notes: [],
  };

  if (modes.some(isAnsible)) {
    const got = await ensureAnsible(!values["no-install"]);
    for (const m of modes) {
      const reason = m === "ansible-mitogen" ? (got.ansible ?? got.mitogen) : isAnsible(m) ? got.ansible : null;
      if (reason) results.skipped.push({ mode: m, reason });
    }
    modes = modes.filter((m) => !results.skipped.some((s) => s.mode === m));
  }
  results.versions = await versions();
  const python = modes.some(isAnsible);
  const work = mkdtempSync(join(os.tmpdir(), "runbook-bench-"));
  log(`modes ${modes.join(", ")}; hosts ${hostCounts.join(", ")}; ${firstRuns} first + ${runs} converged run(s); scale ${scale.join(", ") || "none"}; lab ${labId}; work ${work}`);

  const record = (mode: Mode, hosts: number, phase: "first" | "converged", sample: Sample, counts: string) => {
    results.loads.push(sample.load);
    let row = results.rows.find((r) => r.mode === mode && r.hosts === hosts && r.phase === phase);
    if (!row) results.rows.push((row = { mode, hosts, phase, samples: [], counts }));
    row.samples.push(sample);
    log(`${MODE_LABEL[mode]}, ${hosts} hosts, ${phase}: ${fmt(sample)} — ${counts}`);
  };
  const stateDir = () => mkdtempSync(join(work, "state-"));
  let labSeq = 0;
  const freshLab = async (hosts: number, withPython: boolean): Promise<BenchLab> => {
    const lab = await up({ id: labId, hosts, python: withPython, prefix: "bnode", replace: true, log });
    return prepareLab(lab, join(work, `lab-${++labSeq}`));
  };

  try {
    if (modes.includes("runbook") && !values["no-profile"]) {
      // The first run's floor on this machine: one package install, alone, on a fresh host.
      const probes = [];
      for (let i = 0; i < 3; i++) probes.push(await aptInstallCost(await freshLab(1, python)));
      results.aptInstall = { wallMs: stats(probes.map((p) => p.wallMs)).median, cpuMs: stats(probes.map((p) => p.cpuMs)).median };
      log(`apt-get install tree on a fresh host: ${(results.aptInstall.wallMs / 1000).toFixed(2)} s wall, ${(results.aptInstall.cpuMs / 1000).toFixed(2)} s CPU`);
    }
    for (const hosts of hostCounts) {
      let floorDone = false;
      let last: BenchLab | null = null;
      if (modes.includes("floor")) {
        for (let i = 0; i < firstRuns; i++) {
          const r = await runFloorFirst(await freshLab(hosts, python));
          record("floor", hosts, "first", r.sample, r.counts);
        }
      }
      for (const mode of modes.filter((m): m is ToolMode => m !== "floor")) {
        let b: BenchLab | null = null;
        try {
          for (let i = 0; i < firstRuns; i++) {
            b = await freshLab(hosts, python);
            if (isAnsible(mode)) await prepareForAnsible(b);
            const r = await runTool(b, mode, "first", { stateDir: stateDir() });
            await verifyState(b, MODE_LABEL[mode]);
            record(mode, hosts, "first", r.sample, `${r.counts}; state verified`);
            if (r.taskMs && hosts === Math.max(...hostCounts)) (results.taskTimes ??= { hosts }).first = r.taskMs;
          }
        } catch (e) {
          // Mitogen's support for the installed Ansible is what this mode tests: record why, go on.
          if (mode === "ansible-mitogen" && e instanceof ToolError && !results.rows.some((r) => r.mode === mode)) {
            const reason = `its first run failed with the installed Ansible: ${e.message}\n\n\`\`\`\n${e.output.split("\n").slice(-12).join("\n")}\n\`\`\``;
            results.skipped.push({ mode, reason });
            log(`Mitogen does not work here: ${e.message}\n${e.output}`);
            continue;
          }
          throw e;
        }
        last = b!;
        if (mode === "runbook" && values.sabotage) {
          log("sabotage: removing /etc/motd on the first host; the next converged run must fail its counts check");
          await run("ssh", ["-F", b!.lab.sshConfig, b!.hosts[0]!.name, "rm -f /etc/motd"]);
        }
        for (let i = 0; i < runs; i++) {
          const r = await runTool(b!, mode, "converged", { stateDir: stateDir() });
          record(mode, hosts, "converged", r.sample, r.counts);
          if (r.taskMs && hosts === Math.max(...hostCounts)) (results.taskTimes ??= { hosts }).converged = r.taskMs;
        }
        if (results.processes[mode] === undefined) {
          results.processes[mode] = await processesStarted(b!, () => runTool(b!, mode, "converged", { stateDir: stateDir() }));
          log(`${MODE_LABEL[mode]}: a converged run starts ${results.processes[mode]} processes on a host`);
        }
        if (mode === "runbook") {
          if (modes.includes("floor")) {
            for (let i = 0; i < runs; i++) {
              const r = await runFloor(b!);
              record("floor", hosts, "converged", r.sample, r.counts);
            }
            results.processes.floor ??= await processesStarted(b!, () => runFloor(b!));
            floorDone = true;
          }
          if (!values["no-profile"] && hosts === Math.max(...hostCounts) && !results.profile) {
            const dir = mkdtempSync(join(work, "cpuprof-"));
            const r = await runTool(b!, "runbook", "converged", { stateDir: stateDir(), cpuProfDir: dir });
            const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
            if (file) {
              const keep = join(work, `runbook-converged-${hosts}.cpuprofile`);
              copyFileSync(join(dir, file), keep);
              results.profile = { hosts, wallMs: r.sample.wallMs, summary: summariseProfile(keep), file: keep };
              log(`profile: ${keep}`);
            }
          }
          if (!values["no-startup"] && !results.startup) {
            const versionMs: number[] = [];
            for (let i = 0; i < Math.max(10, runs); i++) versionMs.push((await timed([process.execPath, "bin/runbook.js", "--version"])).wallMs);
            const oneTask: Sample[] = [];
            for (let i = 0; i < runs; i++) {
              const argv = [process.execPath, "bin/runbook.js", "play", join(BENCH_DIR, "one-task.ts"), "-i", b!.lab.inventory, "-l", b!.hosts[0]!.name, "--json"];
              const r = await timed(argv, { env: { RUNBOOK_STATE_DIR: stateDir() } });
              const end = r.stdout.trim().split("\n").pop() ?? "";
              const c = (JSON.parse(end) as { recap?: Record<string, { ok: number; changed: number; failed: number }> }).recap?.[b!.hosts[0]!.name];
              if (r.code !== 0 || !c || c.ok !== 1 || c.changed !== 0 || c.failed !== 0) {
                throw new ToolError(`counts check failed: one-task play: want ok=1 changed=0, got ${JSON.stringify(c)}`, r.stdout + r.stderr);
              }
              oneTask.push({ wallMs: r.wallMs, rssKb: r.rssKb, load: r.load, cpuMs: r.cpuMs });
            }
            const breakdown = await startupBreakdown(Math.max(3, runs));
            const { shellMs: execMs, channelMs } = await execRoundTripMs(b!);
            const oneHost: Sample[] = [];
            for (let i = 0; i < runs; i++) oneHost.push((await runTool(b!, "runbook", "converged", { stateDir: stateDir(), hosts: [b!.hosts[0]!.name] })).sample);
            results.startup = { versionMs, oneTask, breakdown, execMs, channelMs, oneHost };
            log(`start-up: one command ${execMs.toFixed(1)} ms in the shell, ${channelMs.toFixed(1)} ms on its own channel; bench.ts converged on one host ${oneHost.map((s) => (s.wallMs / 1000).toFixed(2)).join(" ")} s`);
            log(`start-up: --version ${versionMs.map((x) => x.toFixed(0)).join(" ")} ms; one-task play ${oneTask.map((s) => `${(s.wallMs / 1000).toFixed(2)} s (CPU ${((s.cpuMs ?? 0) / 1000).toFixed(2)} s)`).join(" ")}`);
          }
        }
      }
      if (modes.includes("floor") && !floorDone) {
        const b = last ?? (await freshLab(hosts, python));
        if (!last) {
          // Nothing converged these hosts: the floor checks would fail. Converge with runbook (untimed).
          await runTool(b, "runbook", "first", { stateDir: stateDir() });
        }
        for (let i = 0; i < runs; i++) {
          const r = await runFloor(b);
          record("floor", hosts, "converged", r.sample, r.counts);
        }
      }
    }

    if (scale.length && modes.includes("runbook")) {
      const max = Math.max(...scale);
      const forks = Math.min(max, 50);
      // No Python on these hosts: runbook does not need it.
      const b = await freshLab(max, false);
      const first = await runTool(b, "runbook", "first", { stateDir: stateDir(), forks });
      await verifyState(b, "runbook");
      results.scaleFirst = { hosts: max, forks, sample: first.sample };
      log(`scale: converged ${max} hosts in ${fmt(first.sample)}`);
      for (const n of [...scale].sort((a, b) => a - b)) {
        const names = b.hosts.slice(0, n).map((h) => h.name);
        const row = { hosts: n, samples: [] as Sample[], counts: "" };
        for (let i = 0; i < runs; i++) {
          const r = await runTool(b, "runbook", "converged", { stateDir: stateDir(), hosts: names, forks: n });
          row.samples.push(r.sample);
          row.counts = r.counts;
          results.loads.push(r.sample.load);
          log(`scale: runbook, ${n} hosts, converged: ${fmt(r.sample)} — ${r.counts}`);
        }
        results.scale.push(row);
      }
    }
  } catch (e) {
    if (e instanceof ToolError || e instanceof CountsError) {
      log(`FAILED: ${e.message}`);
      if (e instanceof ToolError) process.stderr.write(`--- output (tail) ---\n${e.output}\n---\n`);
      return 1;
    }
    throw e;
  } finally {
    await down(labId);
  }

  results.notes.push(...notes(results, modes));
  // runbook serve last, on its own small lab; its section follows the report's.
  let serve = "";
  try {
    serve = "\n" + renderServe(await serveSection(work), describeMachine(results.machine));
  } finally {
    await down(labId);
  }
  writeFileSync(out, renderMarkdown(results) + serve);
  log(`wrote ${out}`);
  const raw = values.results ? resolve(values.results) : join(work, "results.json");
  writeFileSync(raw, JSON.stringify(results, null, 2) + "\n");
  log(`raw results: ${raw}`);
  for (const t of evaluateTargets(results)) log(`target ${t.met === null ? "not measured" : t.met ? "MET" : "MISSED"}: ${t.target}: ${t.measured}`);
  return 0;
}

const describeMachine = (m: Results["machine"]) => `${m.cpu}, ${m.cores} cores, ${m.memGiB.toFixed(0)} GiB`;

function notes(r: Results, modes: Mode[]): string[] {
  const n: string[] = [];
  if (modes.some(isAnsible)) {
    n.push(
      "Ansible's `apt` module needs `python3-apt` on the target, which the lab hosts (minbase + python3) lack. Before each Ansible first run the harness installs it on the fresh hosts, untimed, so that one-time cost is left out of every Ansible number (runbook's package task needs only `dpkg-query` and `apt-get` on the host). Without it, stock Ansible installs it itself during its first run (`apt-get update` plus the install), and Mitogen fails the `apt` task (below).",
    );
  }
  if (modes.includes("ansible-mitogen")) {
    const ran = r.rows.some((x) => x.mode === "ansible-mitogen")
      ? "With `python3-apt` present it ran this playbook correctly here (same counts, state verified)."
      : "It did not complete this playbook here (see *Results*).";
    n.push(
      "Mitogen: bookworm ships `python3-mitogen` (the library) and `ansible-mitogen` (the strategy plugins) 0.3.3-9+deb12u1, which Debian patched to accept ansible-core 2.14 (Ansible 7); upstream 0.3.3 supports up to ansible-core 2.12 (Ansible 5). " +
        ran +
        " Without `python3-apt` its `apt` task fails on every host: Ansible's apt module then re-executes itself under another interpreter (`respawn_module`), which Mitogen's in-process module runner does not support (`AttributeError: module '__main__' has no attribute '_module_fqn'`; open upstream as mitogen-hq/mitogen#849).",
    );
  }
  if (r.scale.length) {
    n.push(
      "The scaling runs limit one converged lab of the largest size, so the `/etc/hosts` block and the template list all of its hosts (a few KB more per host than in a lab of that size).",
    );
  }
  n.push(
    "The ansible-playbook runs use the default (linear) strategy except Mitogen's `mitogen_linear`; `forks` = hosts in every Ansible mode, where Ansible's own default is 5 (the issue's 310 s for a 20-host first run was with forks 5).",
  );
  return n;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
